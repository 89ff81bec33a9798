/*
 * udiff.c - unified diffs through libgit2's git_diff_buffers (see udiff.h).
 *
 * libgit2 (and what it links: TLS, ssh, http) costs megabytes of memory and
 * milliseconds of start-up in every process that links it, and a run only
 * needs it when a file's content differs.  So it is loaded with dlopen on
 * the first diff; the prototypes still come from git2.h, checked by the
 * compiler through __typeof__.
 */
#include "util/udiff.h"

#include <dlfcn.h>
#include <errno.h>
#include <git2.h>
#include <string.h>

#include "util/hash.h"

static int udiff_line(const git_diff_delta *delta, const git_diff_hunk *hunk,
		      const git_diff_line *line, void *payload)
{
	struct buf *out = payload;
	int r = 0;

	(void)delta;
	switch (line->origin) {
	case GIT_DIFF_LINE_FILE_HDR:
		return 0; /* we print our own --- / +++ */
	case GIT_DIFF_LINE_HUNK_HDR:
		return 0; /* printed by udiff_hunk */
	case GIT_DIFF_LINE_CONTEXT:
	case GIT_DIFF_LINE_ADDITION:
	case GIT_DIFF_LINE_DELETION:
		r = buf_putc(out, line->origin);
		break;
	case GIT_DIFF_LINE_CONTEXT_EOFNL:
	case GIT_DIFF_LINE_ADD_EOFNL:
	case GIT_DIFF_LINE_DEL_EOFNL:
		break;
	default:
		break;
	}
	if (r == 0)
		r = buf_add(out, line->content, line->content_len);
	return r;
}

static int udiff_hunk(const git_diff_delta *delta, const git_diff_hunk *hunk, void *payload)
{
	(void)delta;
	return buf_add(payload, hunk->header, hunk->header_len);
}

static int summary(const char *old, size_t old_len, const char *new, size_t new_len,
		   const char *label, struct buf *out)
{
	char a[SHA256_HEX_LEN + 1], b[SHA256_HEX_LEN + 1];

	sha256_hex(old, old_len, a);
	sha256_hex(new, new_len, b);
	return buf_printf(out, "binary or large content of %s changed: %zu bytes sha256:%.12s -> %zu bytes sha256:%.12s\n",
			  label, old_len, a, new_len, b);
}

struct git_api {
	__typeof__(git_libgit2_init) *init;
	__typeof__(git_diff_buffers) *diff_buffers;
};

/* git_api - libgit2 loaded on first use; NULL when it cannot be loaded. */
static const struct git_api *git_api(void)
{
	static struct git_api api;
	static int state; /* 0 not tried, 1 loaded, -1 unavailable */
	void *h;

	if (state)
		return state > 0 ? &api : NULL;
	state = -1;
	h = dlopen("libgit2.so." LIBGIT2_SOVERSION, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return NULL;
	api.init = (__typeof__(api.init))dlsym(h, "git_libgit2_init");
	api.diff_buffers = (__typeof__(api.diff_buffers))dlsym(h, "git_diff_buffers");
	if (!api.init || !api.diff_buffers)
		return NULL;
	api.init();
	state = 1;
	return &api;
}

int udiff(const char *old, size_t old_len, const char *new, size_t new_len,
	  const char *a_label, const char *b_label, struct buf *out)
{
	const struct git_api *git;
	git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
	int r;

	if (old_len > UDIFF_MAX_INPUT || new_len > UDIFF_MAX_INPUT ||
	    (old_len && memchr(old, '\0', old_len)) || (new_len && memchr(new, '\0', new_len)))
		return summary(old, old_len, new, new_len, b_label, out);
	git = git_api();
	if (!git)
		return buf_printf(out, "(no diff: libgit2 could not be loaded: %s)\n", dlerror());
	opts.context_lines = 3;
	opts.flags |= GIT_DIFF_FORCE_TEXT;
	r = buf_printf(out, "--- %s\n+++ %s\n", a_label, b_label);
	if (r < 0)
		return r;
	r = git->diff_buffers(old_len ? old : NULL, old_len, a_label, new_len ? new : NULL, new_len,
			     b_label, &opts, NULL, NULL, udiff_hunk, udiff_line, out);
	if (r < 0)
		return -EIO;
	return 0;
}
