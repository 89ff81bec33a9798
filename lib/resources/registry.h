/*
 * registry.h - the built-in resource types, found by name.
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

#endif
