/*
 * server.c - opening and closing the server's state: the state directory,
 * the configuration repository, the database and the catalog compiler.
 *
 * On start, the audit log is reconciled with history: every write through
 * the API is a commit carrying a Tend-Caller trailer and is audited right
 * after it is made, so a commit with a caller and no audit record is one
 * the server made just before it was killed.  Such commits get a record
 * built from the commit itself.  Only the newest commits can be in that
 * state, so the scan stops after RECONCILE_AUDITED_RUN commits in a row
 * that are already audited.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ca.h"
#include "compile.h"
#include "db.h"
#include "repo.h"
#include "server.h"
#include "util/log.h"

#define RECONCILE_PAGE 100
#define RECONCILE_AUDITED_RUN 50

int server_state_dir(const struct srv_config *c, struct tend_err *err)
{
	struct stat st;

	if (mkdir(c->state_dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return err_set(err, -errno, "state directory %s: %s", c->state_dir,
			       strerror(errno));
	if (stat(c->state_dir, &st) < 0)
		return err_set(err, -errno, "state directory %s: %s", c->state_dir,
			       strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(err, -ENOTDIR, "state directory %s: not a directory", c->state_dir);
	return 0;
}

/* iso_time - "2026-11-22T06:09:23Z" to Unix seconds; 0 when unreadable. */
static int64_t iso_time(const char *s)
{
	struct tm tm = { 0 };
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;

	return end && !*end ? (int64_t)timegm(&tm) : 0;
}

static const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* reconcile_one - add the missing record of commit c; 1 if it was there. */
static int reconcile_one(struct server *s, const json_t *c)
{
	const char *id = jstr(c, "id"), *caller = jstr(c, "caller");
	const json_t *files = json_object_get(c, "files");
	struct tend_err err = { "" };
	struct db_audit a = { 0 };
	int r;

	if (!id || !caller || !*caller)
		return 0;
	if (db_audit_has_commit(s->db, id))
		return 1;
	a.who = caller;
	a.address = jstr(c, "address");
	a.action = "commit";
	a.target = json_array_size(files) ? jstr(json_array_get(files, 0), "path") : NULL;
	a.status = 200;
	a.commit = id;
	a.detail = "recorded at start from the commit";
	a.time = iso_time(jstr(c, "time"));
	r = db_audit_add(s->db, &a, &err);
	if (r < 0)
		log_warnx("audit: cannot record commit %s: %s", id, err.msg);
	else
		log_warnx("audit: commit %s by %s had no audit record: recorded", id, caller);
	return 0;
}

static int reconcile_audit(struct server *s, struct tend_err *err)
{
	size_t skip = 0, run = 0;

	for (;;) {
		json_t *log = NULL, *c;
		size_t i;
		int r = repo_log(s->repo, NULL, NULL, skip, RECONCILE_PAGE, &log, err);

		if (r < 0)
			return r;
		json_array_foreach(log, i, c) {
			if (reconcile_one(s, c) == 1)
				run++;
			else if (jstr(c, "caller"))
				run = 0;
			if (run >= RECONCILE_AUDITED_RUN)
				break;
		}
		i = json_array_size(log);
		json_decref(log);
		if (i < RECONCILE_PAGE || run >= RECONCILE_AUDITED_RUN)
			return 0;
		skip += i;
	}
}

int server_open(struct server *s, struct tend_err *err)
{
	int r;

	s->repo = NULL;
	s->db = NULL;
	s->compiler = NULL;
	s->ca = NULL;
	pthread_mutex_init(&s->lock, NULL);
	r = server_state_dir(&s->cfg, err);
	if (r < 0)
		return r;
	r = repo_open(s->cfg.repo_path, s->cfg.repo_create, &s->repo, err);
	if (r < 0)
		goto fail;
	repo_pack_check(s->repo); /* what writes and pushes left loose since the last pack */
	r = db_open(s->cfg.db_path, &s->db, err);
	if (r < 0)
		goto fail;
	s->compiler = compiler_new((const char *const *)s->cfg.default_tags);
	if (!s->compiler) {
		r = err_set(err, -ENOMEM, "cannot create the catalog compiler");
		goto fail;
	}
	r = reconcile_audit(s, err);
	if (r < 0) {
		err_prefix(err, "reconciling the audit log with history");
		goto fail;
	}
	r = ca_open(s, err);
	if (r < 0)
		goto fail;
	return 0;
fail:
	server_close(s);
	return r;
}

void server_close(struct server *s)
{
	ca_close(s);
	compiler_free(s->compiler);
	db_close(s->db);
	repo_free(s->repo);
	s->compiler = NULL;
	s->db = NULL;
	s->repo = NULL;
}
