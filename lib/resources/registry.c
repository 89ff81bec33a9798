/*
 * registry.c - the table of built-in resource types.
 */
#include "resources/registry.h"

#include <string.h>

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
