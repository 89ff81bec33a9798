/* compile.c - STUB: being written */
#include "compile.h"
#include <errno.h>
#include <stddef.h>

struct compiler *compiler_new(const char *const *default_tags)
{ return NULL; }

void compiler_free(struct compiler *c)
{ }

json_t *compiler_stats(const struct compiler *c)
{ return NULL; }

int compile_node(struct compiler *c, struct repo_snap *s, const char *node, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int compile_node_tags(struct compiler *c, struct repo_snap *s, const char *node, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int compile_explain(struct compiler *c, struct repo_snap *s, const char *node, const char *id, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int compile_validate(struct compiler *c, struct repo_snap *s, json_t **ret_errors)
{ return -ENOSYS; }

int compile_nodes(struct repo_snap *s, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int compile_tags(struct compiler *c, struct repo_snap *s, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }
