/*
 * catalog_int.h - catalog internals shared by catalog.c and manifest.c.
 */
#ifndef TEND_CATALOG_INT_H
#define TEND_CATALOG_INT_H

#include "model/catalog.h"

/* catalog_new_resource - append an empty resource TYPE:NAME and index it. */
struct resource *catalog_new_resource(struct catalog *c, const struct res_type *t,
				      const char *name, const struct srcpos *pos,
				      const struct srcpos *name_pos);

/* catalog_set_attr_take - set or override attribute key (takes val). */
void catalog_set_attr_take(struct catalog *c, struct resource *r, const char *key, json_t *val,
			   const struct srcpos *key_pos, const struct srcpos *val_pos);

#endif
