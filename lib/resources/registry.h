/*
 * registry.h - resource types found by name: the built-in ones, then
 * custom types (executables speaking docs/custom-types.md's protocol).
 */
#ifndef TEND_REGISTRY_H
#define TEND_REGISTRY_H

#include "model/resource.h"

extern const struct res_type res_type_file;
extern const struct res_type res_type_directory;
extern const struct res_type res_type_symlink;
extern const struct res_type res_type_line;
extern const struct res_type res_type_exec;
extern const struct res_type res_type_package;
extern const struct res_type res_type_service;
extern const struct res_type res_type_user;
extern const struct res_type res_type_group;

/* res_type_find - the type named name, or NULL. */
const struct res_type *res_type_find(const char *name);

/* res_type_names - NULL-terminated list of all type names. */
const char *const *res_type_names(void);

/* where custom types are looked up after types/ beside the manifest */
#define RES_TYPES_DIR "/etc/tend/types"
#define RES_TYPES_PATH_ENV "TEND_TYPES_PATH"

/*
 * res_type_lookup - the type named name for a resource declared in the
 * manifest at path manifest: a built-in type, else a custom type, the
 * executable NAME in the directory types/ beside the manifest, then in
 * each directory of $TEND_TYPES_PATH (dir1:dir2), or /etc/tend/types when
 * it is unset.  These are host paths, never beneath --root.  Built-in
 * names win.  Returns 0 (*ret set), -ENOENT when no type has that name
 * (why says where custom types were looked for, to end a message), or
 * -EACCES when a file of that name is there but is not an executable
 * (why is the whole message).  Custom types are kept in *owner (see
 * ext_type_get).
 */
struct ext_type;
int res_type_lookup(const char *name, const char *manifest, struct ext_type **owner,
		    const struct res_type **ret, char *why, size_t whylen);

#endif
