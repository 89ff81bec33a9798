/* repo.c - STUB: being written */
#include "repo.h"
#include <errno.h>
#include <stddef.h>

int repo_open(const char *path, bool create, struct repo **ret, struct tend_err *err)
{ return -ENOSYS; }

void repo_free(struct repo *r)
{ }

bool repo_path_ok(const char *p)
{ return false; }

int repo_head(struct repo *r, char out[REPO_OID_HEX + 1], struct tend_err *err)
{ return -ENOSYS; }

int repo_resolve(struct repo *r, const char *rev, char out[REPO_OID_HEX + 1], struct tend_err *err)
{ return -ENOSYS; }

int repo_snap_open(struct repo *r, const char *rev, struct repo_snap **ret, struct tend_err *err)
{ return -ENOSYS; }

void repo_snap_free(struct repo_snap *s)
{ }

const char *repo_snap_tree_id(const struct repo_snap *s)
{ return NULL; }

const char *repo_snap_commit_id(const struct repo_snap *s)
{ return NULL; }

int repo_snap_read(struct repo_snap *s, const char *path, struct buf *out, struct tend_err *err)
{ return -ENOSYS; }

int repo_snap_blob_id(struct repo_snap *s, const char *path, char out[REPO_OID_HEX + 1])
{ return -ENOSYS; }

int repo_snap_list(struct repo_snap *s, const char *dir, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int repo_snap_edit(struct repo *r, struct repo_snap *base, const struct repo_edit *e, size_t n, struct repo_snap **ret, struct tend_err *err)
{ return -ENOSYS; }

int repo_snap_revert(struct repo *r, const char *rev, const char *head, struct repo_snap **ret, struct tend_err *err)
{ return -ENOSYS; }

int repo_commit_snap(struct repo *r, struct repo_snap *s, const char *expect, const struct repo_author *who, const char *message, char out[REPO_OID_HEX + 1], struct tend_err *err)
{ return -ENOSYS; }

int repo_log(struct repo *r, const char *rev, const char *path, size_t skip, size_t limit, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int repo_commit_info(struct repo *r, const char *rev, json_t **ret, struct tend_err *err)
{ return -ENOSYS; }

int repo_diff(struct repo *r, const char *from, const char *to, const char *path, json_t **ret_files, char **ret_patch, struct tend_err *err)
{ return -ENOSYS; }
