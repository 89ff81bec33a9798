/*
 * exec_args.c - command-string helpers of the exec type (see exec_args.h).
 *
 * A command written as one string without shell: true is split on blanks
 * and run directly.  That is only safe when a shell would have split it
 * the same way and changed nothing, so anything a shell would interpret
 * is refused up front instead of being passed on literally: an admin who
 * writes `cmd > /tmp/log` means a redirection, never an argument ">".
 */
#include "resources/exec_args.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/strutil.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* is_assignment - whether the word at s starts NAME= (a shell variable assignment). */
static bool is_assignment(const char *s)
{
	const char *p = s;

	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
		return false;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
	       *p == '_')
		p++;
	return *p == '=';
}

const char *exec_shell_syntax(const char *s)
{
	static const char special[] = "'\"$`|&;<>*?(){}\\\n\r";
	bool word_start = true, first_word = true;

	for (const char *p = s; *p; p++) {
		if (is_blank(*p)) {
			if (!word_start)
				first_word = false;
			word_start = true;
			continue;
		}
		if (strchr(special, *p))
			return p;
		if (word_start && (*p == '~' || *p == '#'))
			return p;
		if (word_start && first_word && is_assignment(p))
			return p;
		word_start = false;
	}
	return NULL;
}

void exec_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

int exec_split(const char *s, char ***ret_argv)
{
	char **v = NULL;
	size_t n = 0;

	for (const char *p = s; *p;) {
		const char *w;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && !is_blank(*p))
			p++;
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n] = xcalloc(1, (size_t)(p - w) + 1);
		memcpy(v[n], w, (size_t)(p - w));
		v[++n] = NULL;
	}
	if (!n)
		return -EINVAL;
	*ret_argv = v;
	return 0;
}

char **exec_argv_dup(char *const *v, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

int exec_parse_status(const char *s, int *ret)
{
	long long v;

	if (str_to_ll(s, 10, 0, 255, &v) < 0)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

static bool plain_word(const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789_@%+=:,./-";

	return *s && strspn(s, ok) == strlen(s);
}

int exec_argv_text(char *const *argv, struct buf *out)
{
	for (size_t i = 0; argv[i]; i++) {
		int r = i ? buf_putc(out, ' ') : 0;

		if (r == 0 && plain_word(argv[i])) {
			r = buf_puts(out, argv[i]);
		} else if (r == 0) {
			r = buf_putc(out, '\'');
			for (const char *p = argv[i]; r == 0 && *p; p++)
				r = *p == '\'' ? buf_puts(out, "'\\''") : buf_putc(out, *p);
			if (r == 0)
				r = buf_putc(out, '\'');
		}
		if (r < 0)
			return r;
	}
	return 0;
}
