/*
 * compile_policy.c - the policy files a catalog carries (compile_int.h).
 *
 * Who may run which action on which node is decided on the node, from
 * policy/NAME.yaml of the repository (lib/rpc/rpc.h has the format).  The
 * files travel in every catalog as they are, under "policy": path ->
 * text, so they are signed with it and cached with it, and a node that
 * cannot reach the server keeps enforcing the last policy it received.
 * They are read once per tree.  A file that cannot be read, or policy
 * files larger than POLICY_BYTES_MAX together, leave the catalog with no
 * policy at all, which nodes read as "refuse everything".
 */
#include <errno.h>
#include <string.h>

#include "compile_int.h"
#include "util/buf.h"

#define POLICY_DIR "policy"
#define POLICY_BYTES_MAX ((size_t)1 << 20)

/* yaml_name - whether path is policy/NAME.yaml or .yml, directly in the directory. */
static bool yaml_name(const char *path)
{
	const char *base = path + strlen(POLICY_DIR) + 1;
	size_t n = strlen(base);

	if (strchr(base, '/') || n == 0 || base[0] == '.')
		return false;
	return (n > 5 && !strcmp(base + n - 5, ".yaml")) || (n > 4 && !strcmp(base + n - 4, ".yml"));
}

int compile_policy(struct repo_snap *s, json_t **ret, struct tend_err *err)
{
	json_t *list = NULL, *files = json_object(), *f;
	struct buf b = BUF_INIT;
	size_t i, total = 0;
	int r;

	r = repo_snap_list(s, POLICY_DIR, &list, err);
	json_array_foreach(list, i, f) {
		const char *path = json_string_value(json_object_get(f, "path"));

		if (r < 0)
			break;
		if (!path || strncmp(path, POLICY_DIR "/", strlen(POLICY_DIR) + 1) || !yaml_name(path))
			continue;
		r = repo_snap_read(s, path, &b, err);
		if (r == 0 && (total += b.len) > POLICY_BYTES_MAX)
			r = err_set(err, -EFBIG, "the policy files are larger than %zu bytes together",
				    POLICY_BYTES_MAX);
		if (r == 0) {
			json_t *text = json_stringn(b.data, b.len);

			if (!text)
				r = err_set(err, -EINVAL, "%s: not UTF-8 text", path);
			else
				json_object_set_new(files, path, text);
		}
	}
	json_decref(list);
	buf_free(&b);
	if (r < 0) {
		json_decref(files);
		return r;
	}
	*ret = files;
	return 0;
}
