/* db.c - STUB: being written */
#include "db.h"
#include <errno.h>
#include <stddef.h>

int db_open(const char *path, struct db **ret, struct tend_err *err)
{ return -ENOSYS; }

void db_close(struct db *db)
{ }

int db_schema_version(struct db *db)
{ return -ENOSYS; }

int db_token_create(struct db *db, const char *name, enum db_role role, char **ret_secret, struct tend_err *err)
{ return -ENOSYS; }

int db_token_check(struct db *db, const char *secret, char **ret_name, enum db_role *ret_role)
{ return -ENOSYS; }

int db_token_list(struct db *db, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int db_token_revoke(struct db *db, const char *name, struct tend_err *err)
{ return -ENOSYS; }

const char *db_role_name(enum db_role r)
{ return NULL; }

int db_role_parse(const char *s, enum db_role *ret)
{ return -ENOSYS; }

int db_audit_add(struct db *db, const struct db_audit *a, struct tend_err *err)
{ return -ENOSYS; }

bool db_audit_has_commit(struct db *db, const char *commit)
{ return false; }

int db_audit_list(struct db *db, int64_t before, int limit, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int db_node_seen(struct db *db, const char *id, const json_t *fields, struct tend_err *err)
{ return -ENOSYS; }

int db_node_get(struct db *db, const char *id, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int db_node_list(struct db *db, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

json_t *db_node_facts(struct db *db, const char *id)
{ return NULL; }

int db_report_add(struct db *db, const char *node, const json_t *report, int64_t *ret_id, struct tend_err *err)
{ return -ENOSYS; }

int db_report_list(struct db *db, const char *node, int limit, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int db_report_get(struct db *db, int64_t id, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }
