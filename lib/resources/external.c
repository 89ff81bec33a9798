/*
 * external.c - custom resource types: the ops run an executable that
 * speaks the JSON protocol of docs/custom-types.md (see external.h).
 *
 * probe sends {"operation":"probe"} with the desired attributes and keeps
 * the answer (current state, the changes it would make, or why it cannot
 * tell); diff turns the answer's changes into the plan.  apply sends the
 * planned changes; refresh (a notification with nothing to change) is an
 * apply with an empty plan and "refresh": true.  The executable runs
 * without a shell, in its own directory, leading its own process group,
 * which is killed at the timeout; its output is bounded.  The answer is
 * picked out of stdout (ext_parse_answer: the whole output, or the last
 * JSON object line, so a chatty script still works); stdout's other lines
 * and all of stderr are kept as diagnostics.
 *
 * A custom type's res_type is made once per executable and kept in a list
 * the catalog owns (its resources point at it), freed with the catalog.
 */
#include "resources/external.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/schema.h"
#include "util/fsroot.h"
#include "util/proc.h"
#include "util/strutil.h"

#define EXT_DIAG_MAX ((size_t)64 << 10)   /* diagnostics kept for the report */
#define EXT_TAIL_MAX 400                  /* of them in a failure message */
#define EXT_ANSWER_TRIES 64               /* lines starting with '{' tried as the answer */
#define EXT_ENV_VALUE_MAX ((size_t)32 << 10) /* longest TEND_ATTR_* value */

struct ext_desired {
	double timeout;
	json_t *attrs;     /* derived by check(): what the executable gets */
};

struct ext_state {
	json_t *answer;    /* the probe's answer */
};

#define D(r) RES_DESIRED(r, struct ext_desired)
#define S(r) RES_STATE(r, struct ext_state)

struct ext_type {
	struct res_type t;  /* first: the res_type pointer is the ext_type pointer */
	char *name;
	char *dir;          /* absolute; the executable's cwd */
	char *exe;          /* dir/name */
	char *doc;
	struct ext_type *next;
};

static const struct res_attr ext_attrs[] = {
	{ "timeout", ATTR_DURATION, offsetof(struct ext_desired, timeout), 0, NULL, NULL,
	  "kill the type's executable (its whole process group) after this long; default 60 s" },
	{ NULL },
};

bool ext_name_ok(const char *name)
{
	size_t n = 0;

	if (!name || !(*name >= 'a' && *name <= 'z'))
		return false;
	for (const char *p = name; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return n <= EXT_NAME_MAX;
}

/* ---- the answer -------------------------------------------------------- */

static void diag_add(struct buf *diag, const char *p, size_t n)
{
	size_t room;

	if (!diag || !n)
		return;
	room = diag->max > diag->len ? diag->max - diag->len : 0;
	buf_add(diag, p, n < room ? n : room);
}

/* line_of - the 1-based line number of offset off in s. */
static int line_of(const char *s, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off; i++)
		line += s[i] == '\n';
	return line;
}

static const char *json_kind(const json_t *j)
{
	return json_is_array(j) ? "a list" : json_is_string(j) ? "a string" : json_is_null(j) ? "null"
	     : json_is_boolean(j) ? "a boolean" : json_is_object(j) ? "an object" : "a number";
}

int ext_parse_answer(const char *out, size_t len, json_t **ret, struct buf *diag, char *why,
		     size_t whylen)
{
	json_error_t e;
	json_t *j = json_loadb(out, len, JSON_DECODE_ANY, &e);
	size_t first_err = (size_t)-1, tries = 0;
	json_error_t ferr = { 0 };

	if (j && !json_is_object(j)) {
		snprintf(why, whylen, "the answer must be a JSON object, not %s", json_kind(j));
		json_decref(j);
		return -EBADMSG;
	}
	if (j) {
		*ret = j;
		return 0;
	}
	/* the last line that starts a JSON object is the answer (a bounded search) */
	for (size_t off = len; off-- > 0 && tries < EXT_ANSWER_TRIES;) {
		if (out[off] != '{' || (off > 0 && out[off - 1] != '\n'))
			continue;
		tries++;
		j = json_loadb(out + off, len - off, JSON_DISABLE_EOF_CHECK, &e);
		if (j && json_is_object(j)) {
			size_t end = off + (size_t)e.position;

			diag_add(diag, out, off);
			diag_add(diag, out + end, len - end);
			*ret = j;
			return 0;
		}
		json_decref(j);
		if (first_err == (size_t)-1) {
			first_err = off;
			ferr = e;
		}
	}
	diag_add(diag, out, len);
	if (first_err == (size_t)-1) {
		snprintf(why, whylen, "no JSON object in its output");
		return -ENOMSG;
	}
	snprintf(why, whylen, "invalid JSON in its answer: %s (line %d, column %d)", ferr.text,
		 line_of(out, first_err) + ferr.line - 1, ferr.column);
	return -EBADMSG;
}

int ext_check_probe(const json_t *a, char *why, size_t whylen)
{
	const json_t *p = json_object_get(a, "protocol"), *ch = json_object_get(a, "changes"), *c;
	const json_t *st = json_object_get(a, "state");
	size_t i;

	if (p && !(json_is_integer(p) && json_integer_value(p) == EXT_PROTOCOL)) {
		snprintf(why, whylen, "it speaks protocol %s, tend speaks %d",
			 json_is_integer(p) ? "another" : "an unknown", EXT_PROTOCOL);
		return -EBADMSG;
	}
	if (st && !json_is_object(st) && !json_is_null(st)) {
		snprintf(why, whylen, "'state' must be an object, not %s", json_kind(st));
		return -EBADMSG;
	}
	for (i = 0; i < 2; i++) {
		const char *k = i ? "message" : "unknown";
		const json_t *v = json_object_get(a, k);

		if (v && !json_is_string(v) && !json_is_null(v)) {
			snprintf(why, whylen, "'%s' must be a string, not %s", k, json_kind(v));
			return -EBADMSG;
		}
	}
	if (ch && !json_is_array(ch) && !json_is_null(ch)) {
		snprintf(why, whylen, "'changes' must be a list, not %s", json_kind(ch));
		return -EBADMSG;
	}
	json_array_foreach(ch, i, c) {
		const json_t *w = json_object_get(c, "what"), *d = json_object_get(c, "diff");

		if (!json_is_object(c) || !json_is_string(w) || !json_string_length(w)) {
			snprintf(why, whylen, "change %zu must be an object with a string 'what'", i + 1);
			return -EBADMSG;
		}
		if (d && !json_is_string(d) && !json_is_null(d)) {
			snprintf(why, whylen, "change %zu: 'diff' must be a string", i + 1);
			return -EBADMSG;
		}
	}
	return 0;
}

char *ext_scalar_text(const json_t *v)
{
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void ext_tail(const char *text, size_t len, char *out, size_t max)
{
	size_t start, end = len;

	out[0] = '\0';
	if (!max)
		return;
	while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' ' || text[end - 1] == '\r' ||
			   text[end - 1] == '\t'))
		end--;
	start = end > max - 1 ? end - (max - 1) : 0;
	/* start at a line when the tail is cut */
	if (start > 0 && text[start - 1] != '\n') {
		const char *nl = memchr(text + start, '\n', end - start);

		if (nl && nl + 1 < text + end)
			start = (size_t)(nl + 1 - text);
	}
	while (start < end && (text[start] == '\n' || text[start] == ' '))
		start++;
	/* one line for the report: newlines become "; " would need room, a blank will do */
	for (size_t i = start; i < end; i++)
		out[i - start] = text[i] == '\n' || text[i] == '\r' ? ' ' : text[i] == '\0' ? '?' : text[i];
	out[end > start ? end - start : 0] = '\0';
}

/* ---- running the executable -------------------------------------------- */

static const struct ext_type *ext_of(const struct resource *r)
{
	return (const struct ext_type *)r->type;
}

static double timeout_of(const struct resource *r)
{
	return D(r)->timeout > 0 ? D(r)->timeout : EXT_TIMEOUT_DEFAULT;
}

/* request - the common part of a request: protocol, operation, name, attributes (call adds root). */
static json_t *request(struct resource *r, const char *op)
{
	json_t *req = json_object();

	json_object_set_new(req, "protocol", json_integer(EXT_PROTOCOL));
	json_object_set_new(req, "operation", json_string(op));
	json_object_set_new(req, "name", json_string(r->name));
	json_object_set_new(req, "attributes", D(r)->attrs ? json_incref(D(r)->attrs) : json_object());
	return req;
}

/* root_abs - the managed root as an absolute host path (the executable runs elsewhere). */
static char *root_abs(const struct res_ctx *ctx)
{
	const char *p = ctx->root && ctx->root->path && ctx->root->path[0] ? ctx->root->path : "/";
	char *abs = realpath(p, NULL);

	return abs ? abs : xstrdup(p);
}

/* failure_text - why a call that ran did not work, from the answer or the diagnostics. */
static void failure_text(const struct proc_result *res, const json_t *answer,
			 const struct buf *diag, char *out, size_t max)
{
	const char *m = json_string_value(json_object_get(answer, "message"));

	if (m && *m)
		snprintf(out, max, "%s", m);
	else if (diag->len)
		ext_tail(diag->data, diag->len, out, max < EXT_TAIL_MAX ? max : EXT_TAIL_MAX);
	else
		out[0] = '\0';
	if (!out[0])
		snprintf(out, max, "exited with status %d", res->exit_code);
}

/* env_key_ok - an attribute name that fits in an environment variable's name. */
static bool env_key_ok(const char *k)
{
	size_t n = 0;

	for (const char *p = k; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_' || (p > k && *p >= '0' && *p <= '9')))
			return false;
	return n > 0 && n <= EXT_NAME_MAX;
}

static void env_add(char **env, size_t *n, const char *key, const char *prefix, const char *value)
{
	if (asprintf(&env[*n], "%s%s=%s", prefix, key, value) >= 0)
		(*n)++;
	else
		env[*n] = NULL;
}

/*
 * make_env - what a shell script can use without parsing JSON: TEND_ROOT,
 * TEND_OPERATION, TEND_NAME, TEND_REFRESH (apply), and TEND_ATTR_<key>
 * for each attribute with a plain name and a scalar value (at most
 * EXT_ENV_VALUE_MAX bytes).  NULL-terminated; free with free_env.
 */
static char **make_env(const json_t *req, const char *op)
{
	const json_t *attrs = json_object_get(req, "attributes"), *v;
	const json_t *refresh = json_object_get(req, "refresh");
	char **env = xcalloc(json_object_size(attrs) + 6, sizeof(*env));
	const char *k;
	size_t n = 0;

	env_add(env, &n, "ROOT", "TEND_", json_string_value(json_object_get(req, "root")));
	env_add(env, &n, "OPERATION", "TEND_", op);
	env_add(env, &n, "NAME", "TEND_", json_string_value(json_object_get(req, "name")));
	if (refresh)
		env_add(env, &n, "REFRESH", "TEND_", json_is_true(refresh) ? "true" : "false");
	json_object_foreach((json_t *)attrs, k, v) {
		char *text;

		if (!env_key_ok(k) || json_is_null(v) || json_is_array(v) || json_is_object(v))
			continue;
		text = ext_scalar_text(v);
		if (text && strlen(text) <= EXT_ENV_VALUE_MAX &&
		    (!json_is_string(v) || strlen(text) == json_string_length(v)))
			env_add(env, &n, k, "TEND_ATTR_", text);
		free(text);
	}
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/*
 * call - run r's executable with req on stdin.  0 with *ret_answer the answer (a
 * new reference) and the diagnostics in diag; otherwise r is failed with
 * a message (res_fail) and -EIO returned.
 */
static int call(struct resource *r, struct res_ctx *ctx, const char *op, json_t *req,
		json_t **ret_answer, struct buf *diag)
{
	const struct ext_type *x = ext_of(r);
	char *argv[] = { x->exe, NULL }, **env = NULL, *root, *text;
	char why[1024], msg[1024];
	struct proc_spec spec = { 0 };
	struct proc_result res;
	struct tend_err err = { "" };
	json_t *answer = NULL;
	int ret;

	root = root_abs(ctx);
	json_object_set_new(req, "root", json_string(root));
	free(root);
	text = json_dumps(req, JSON_COMPACT);
	if (!text || json_object_size(req) < 5) {
		ret = res_fail(r, "%s: out of memory", op);
		goto out;
	}
	env = make_env(req, op);
	spec.argv = argv;
	spec.env_extra = env;
	spec.cwd = x->dir;
	spec.timeout = timeout_of(r);
	spec.output_max = EXT_OUTPUT_MAX;
	spec.stdin_data = text;
	spec.stdin_len = strlen(text);
	spec.separate_stderr = true;
	ret = proc_run(&spec, &res, &err);
	if (ret < 0) {
		ret = res_fail(r, "%s: cannot run %s: %s", op, x->exe, strerror(-ret));
		goto out;
	}
	if (res.timed_out)
		ret = res_fail(r, "%s timed out after %g s (process group killed)", op, timeout_of(r));
	else if (res.term_signal)
		ret = res_fail(r, "%s: %s killed by signal %d", op, x->exe, res.term_signal);
	else if (res.truncated)
		ret = res_fail(r, "%s: %s printed more than %zu bytes", op, x->exe, EXT_OUTPUT_MAX);
	else if (ext_parse_answer(res.output.data ? res.output.data : "", res.output.len, &answer,
				  diag, why, sizeof(why)) < 0 && res.exit_code == 0 &&
		 (buf_add(diag, buf_str(&res.errout), res.errout.len), 1))
		ret = res_fail(r, "%s: invalid answer from %s: %s", op, x->exe, why);
	else if (res.exit_code != 0) {
		buf_add(diag, buf_str(&res.errout), res.errout.len);
		failure_text(&res, answer, diag, msg, sizeof(msg));
		ret = res_fail(r, "%s failed: %s", op, msg);
	}
	proc_result_free(&res);
	if (ret == 0)
		*ret_answer = answer;
	else
		json_decref(answer);
out:
	free(text);
	free_env(env);
	return ret;
}

/* ---- the type's ops ---------------------------------------------------- */

static void ext_free_desired(struct resource *r)
{
	json_decref(D(r)->attrs);
	D(r)->attrs = NULL;
}

/* ext_check - the attributes the executable gets: every one but tend's own, strings rendered. */
static int ext_check(struct resource *r, struct res_ctx *ctx, struct tend_err *err)
{
	struct ext_desired *d = D(r);
	json_t *v;
	int ret;

	if (d->timeout >= 0 && d->timeout < 0.001)
		return res_err_attr(r, err, "timeout", "timeout of %s must be more than 0", r->id);
	ext_free_desired(r); /* a second check starts afresh */
	d->attrs = json_object();
	for (size_t i = 0; i < r->nattrs; i++) {
		const struct raw_attr *a = &r->attrs[i];

		if (schema_is_meta(a->key) || schema_attr(r->type, a->key))
			continue;
		ret = schema_render_json(a, ctx, &v, err);
		if (ret < 0)
			return ret;
		json_object_set_new(d->attrs, a->key, v);
	}
	return 0;
}

static int ext_probe(struct resource *r, struct res_ctx *ctx)
{
	json_t *req = request(r, "probe"), *answer = NULL;
	struct buf diag;
	char why[1024];
	int ret;

	buf_init(&diag, EXT_DIAG_MAX);
	json_decref(S(r)->answer);
	S(r)->answer = NULL;
	ret = call(r, ctx, "probe", req, &answer, &diag);
	json_decref(req);
	buf_free(&diag);
	if (ret < 0)
		return ret;
	if (ext_check_probe(answer, why, sizeof(why)) < 0) {
		json_decref(answer);
		return res_fail(r, "probe: invalid answer from %s: %s", ext_of(r)->exe, why);
	}
	S(r)->answer = answer;
	return 0;
}

static int ext_diff(struct resource *r, struct res_ctx *ctx)
{
	const json_t *a = S(r)->answer, *unknown = json_object_get(a, "unknown"), *c;
	size_t i;

	(void)ctx;
	if (json_is_string(unknown)) {
		res_unknown(r, "%s", json_string_value(unknown));
		return 0;
	}
	json_array_foreach(json_object_get(a, "changes"), i, c) {
		char *from = ext_scalar_text(json_object_get(c, "from"));
		char *to = ext_scalar_text(json_object_get(c, "to"));
		const char *d = json_string_value(json_object_get(c, "diff"));

		res_change(r, json_string_value(json_object_get(c, "what")), from, to);
		if (d && *d)
			res_change_diff_take(r, xstrdup(d));
		free(from);
		free(to);
	}
	return 0;
}

/* keep_output - the answer's message and the diagnostics, for the report. */
static void keep_output(struct resource *r, const json_t *answer, const struct buf *diag)
{
	const char *m = json_string_value(json_object_get(answer, "message"));
	const json_t *changed = json_object_get(answer, "changed");
	struct buf *o = res_output(r, 0);

	buf_free(o);
	buf_init(o, EXT_DIAG_MAX + 1024);
	if (r->sensitive) {
		if (diag->len || (m && *m))
			buf_puts(o, "(output hidden: sensitive)\n");
		return;
	}
	if (m && *m)
		buf_printf(o, "%.1000s\n", m);
	if (json_is_false(changed))
		buf_puts(o, "(the type reported that nothing changed)\n");
	if (diag->len)
		buf_add(o, diag->data, diag->len);
}

/* run_apply - operation apply with the planned changes (none for a refresh). */
static int run_apply(struct resource *r, struct res_ctx *ctx, bool refresh)
{
	json_t *req = request(r, "apply"), *plan = json_array(), *answer = NULL, *st;
	struct buf diag;
	int ret;

	for (size_t i = 0; !refresh && i < r->nchanges; i++) {
		const struct change *c = &r->changes[i];

		json_array_append_new(plan, json_pack("{s:s, s:s?, s:s?}", "what", c->what, "from",
						      c->from, "to", c->to));
	}
	json_object_set_new(req, "plan", plan);
	json_object_set_new(req, "refresh", json_boolean(refresh || r->notified));
	st = json_object_get(S(r)->answer, "state");
	json_object_set_new(req, "state", st ? json_incref(st) : json_object());
	buf_init(&diag, EXT_DIAG_MAX);
	ret = call(r, ctx, "apply", req, &answer, &diag);
	json_decref(req);
	if (ret == 0) {
		const json_t *ch = json_object_get(answer, "changed");

		if (ch && !json_is_boolean(ch))
			ret = res_fail(r, "apply: invalid answer from %s: 'changed' must be true or false",
				       ext_of(r)->exe);
		else
			keep_output(r, answer, &diag);
	}
	json_decref(answer);
	buf_free(&diag);
	return ret;
}

static int ext_apply(struct resource *r, struct res_ctx *ctx)
{
	return run_apply(r, ctx, false);
}

static int ext_refresh(struct resource *r, struct res_ctx *ctx)
{
	return run_apply(r, ctx, true);
}

static void ext_free_state(struct resource *r)
{
	json_decref(S(r)->answer);
	S(r)->answer = NULL;
}

/* ---- the list of custom types (owned by the catalog) ------------------- */

void ext_types_free(struct ext_type *list)
{
	while (list) {
		struct ext_type *x = list;

		list = x->next;
		free(x->name);
		free(x->dir);
		free(x->exe);
		free(x->doc);
		free(x);
	}
}

const char *ext_type_path(const struct res_type *t)
{
	return t && t->probe == ext_probe ? ((const struct ext_type *)t)->exe : NULL;
}

const struct res_type *ext_type_get(struct ext_type **list, const char *name, const char *dir)
{
	struct ext_type *x;

	for (x = *list; x; x = x->next)
		if (!strcmp(x->name, name) && !strcmp(x->dir, dir))
			return &x->t;
	x = xcalloc(1, sizeof(*x));
	x->name = xstrdup(name);
	x->dir = xstrdup(dir);
	if (asprintf(&x->exe, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name) < 0 ||
	    asprintf(&x->doc, "custom type, run by %s", x->exe) < 0)
		abort();
	x->t = (struct res_type){
		.name = x->name,
		.doc = x->doc,
		.attrs = ext_attrs,
		.desired_size = sizeof(struct ext_desired),
		.state_size = sizeof(struct ext_state),
		.name_is_path = false,
		.verify = true,
		.check = ext_check,
		.probe = ext_probe,
		.diff = ext_diff,
		.apply = ext_apply,
		.refresh = ext_refresh,
		.free_state = ext_free_state,
		.free_desired = ext_free_desired,
		.open_schema = true,
	};
	x->next = *list;
	*list = x;
	return &x->t;
}
