/*
 * registry.c - the table of built-in resource types, and the lookup of
 * custom types: executables in types directories (see registry.h and
 * docs/custom-types.md).  A custom type's res_type is made once per
 * executable by external.c, which keeps it for the life of the process.
 */
#include "resources/registry.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resources/external.h"

static const struct res_type *const types[] = {
	&res_type_file,
	&res_type_directory,
	&res_type_symlink,
	&res_type_line,
	&res_type_exec,
	&res_type_package,
	&res_type_service,
	&res_type_user,
	&res_type_group,
	NULL,
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

const struct res_type *res_type_find(const char *name)
{
	for (size_t i = 0; types[i]; i++)
		if (!strcmp(types[i]->name, name))
			return types[i];
	return NULL;
}

const char *const *res_type_names(void)
{
	static const char *names[NTYPES];

	if (!names[0])
		for (size_t i = 0; types[i]; i++)
			names[i] = types[i]->name;
	return names;
}

/*
 * try_dir - look for the executable name in dir.  1 found (*ret set), 0
 * not there, -EACCES something by that name that cannot be run (why).
 */
static int try_dir(struct ext_type **owner, const char *dir, size_t dirlen, const char *name,
		   const struct res_type **ret,
		   char *why, size_t whylen)
{
	char path[PATH_MAX], *abs;
	struct stat st;
	int n = snprintf(path, sizeof(path), "%.*s/%s", (int)dirlen, dir, name);

	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) < 0)
		return 0;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "custom type '%s': %s is not a regular file", name, path);
		return -EACCES;
	}
	if (access(path, X_OK) < 0) {
		snprintf(why, whylen, "custom type '%s': %s is not executable (chmod +x it)", name, path);
		return -EACCES;
	}
	path[n - (int)strlen(name) - 1] = '\0';
	abs = realpath(path, NULL);
	if (!abs)
		return 0;
	*ret = ext_type_get(owner, name, abs);
	free(abs);
	return 1;
}

int res_type_lookup(const char *name, const char *manifest, struct ext_type **owner,
		    const struct res_type **ret, char *why, size_t whylen)
{
	const char *slash = manifest ? strrchr(manifest, '/') : NULL;
	const char *path = getenv(RES_TYPES_PATH_ENV);
	const struct res_type *t = res_type_find(name);
	char local[PATH_MAX], seen[768];
	size_t len = 0;
	int r;

	if (t) {
		*ret = t;
		return 0;
	}
	if (!ext_name_ok(name)) {
		snprintf(why, whylen, "custom type names are lowercase words: [a-z][a-z0-9_]*");
		return -ENOENT;
	}
	if (slash)
		snprintf(local, sizeof(local), "%.*s/types", (int)(slash - manifest), manifest);
	else
		snprintf(local, sizeof(local), "./types");
	r = try_dir(owner, local, strlen(local), name, ret, why, whylen);
	if (r != 0)
		return r < 0 ? r : 0;
	len = (size_t)snprintf(seen, sizeof(seen), "%s", local);
	if (!path)
		path = RES_TYPES_DIR;
	for (const char *p = path; *p;) {
		const char *end = strchrnul(p, ':');

		if (end > p) {
			r = try_dir(owner, p, (size_t)(end - p), name, ret, why, whylen);
			if (r != 0)
				return r < 0 ? r : 0;
			if (len < sizeof(seen))
				len += (size_t)snprintf(seen + len, sizeof(seen) - len, ", %.*s",
							(int)(end - p), p);
		}
		p = *end ? end + 1 : end;
	}
	snprintf(why, whylen, "no executable '%s' in the custom types directories %s", name, seen);
	return -ENOENT;
}
