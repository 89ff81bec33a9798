/*
 * exec_args.h - pure helpers of the exec resource type: spotting shell
 * syntax in a command given as one string, splitting such a string into
 * argv, parsing exit statuses and showing an argv as text.  No I/O, so
 * they are unit-tested on their own (tests/unit/test-exec-args.c).
 */
#ifndef TEND_EXEC_ARGS_H
#define TEND_EXEC_ARGS_H

#include <stddef.h>

#include "util/buf.h"

/*
 * exec_shell_syntax - the first place in s that a shell would treat
 * specially (quotes, $, `, |, &, ;, <, >, *, ?, (, ), {, }, \, a newline,
 * ~ or # starting a word, a leading NAME=value assignment), or NULL when
 * s means the same with and without a shell once split on blanks.
 */
const char *exec_shell_syntax(const char *s);

/*
 * exec_split - split s on spaces and tabs into a malloc'd NULL-terminated
 * argv (each word malloc'd).  -EINVAL when s has no word.  Does not check
 * for shell syntax: call exec_shell_syntax first.
 */
int exec_split(const char *s, char ***ret_argv);

/* exec_argv_free - free an argv from exec_split or exec_argv_dup; NULL is fine. */
void exec_argv_free(char **argv);

/* exec_argv_dup - a malloc'd copy of the n strings of v, NULL-terminated. */
char **exec_argv_dup(char *const *v, size_t n);

/*
 * exec_parse_status - s as an exit status 0..255.  -EINVAL otherwise;
 * *ret set only on success.
 */
int exec_parse_status(const char *s, int *ret);

/*
 * exec_argv_text - append argv to out as a shell would need it typed
 * (words joined by spaces, single-quoted when they hold anything but
 * [A-Za-z0-9_@%+=:,./-]), for plans and messages.  0 or -E2BIG.
 */
int exec_argv_text(char *const *argv, struct buf *out);

#endif
