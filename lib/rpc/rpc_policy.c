/*
 * rpc_policy.c - who may run what where: the rules of policy/NAME.yaml in
 * the configuration repository, and the decision for one request.
 *
 * Default deny.  A request is refused when a deny rule matches it (a
 * deny wins over any allow), when no allow rule matches it, and always
 * when there is no policy or any policy file is wrong: a typo in a
 * policy must close the door, not open it.  The reason says which file
 * and line decided, so an audit record can be traced to the rule.
 *
 * A rule matches a request when one of its actions matches (globs, "*"
 * for any), the caller is one of its users or has one of its roles, the
 * node matches its nodes/tags/facts (as a request filter), and - for
 * the actions that run a program, "run" and "check" - one of its
 * commands matches the command line.  An allow rule without commands
 * never allows them; a deny rule without commands denies every one.
 *
 * The command line is args.argv joined with single spaces;
 * with args.shell true it is "sh -c " followed by that, so shell
 * commands are allowed only by rules written for them ("sh -c *").
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/yaml.h"
#include "rpc/rpc.h"
#include "rpc/rpc_int.h"
#include "util/buf.h"
#include "util/strutil.h"

#define POLICY_FILES_MAX 1000
#define POLICY_FILE_MAX ((size_t)1 << 20)
#define POLICY_RULES_MAX 10000
#define POLICY_ITEMS_MAX 1024 /* entries in one list of a rule */
#define POLICY_ITEM_MAX 1024  /* bytes in one entry */
#define CMDLINE_MAX 4096      /* longer command lines are matched by no rule */

struct rule {
	const char *file; /* a key of policy->files */
	int line;
	bool deny;
	json_t *actions, *users, *roles, *commands; /* arrays of strings, or NULL */
	json_t *filter;				    /* nodes/tags/facts, or NULL */
};

struct rpc_policy {
	json_t *files; /* the file names rules point to (keys) */
	struct rule *rules;
	size_t n, cap;
	char *broken; /* why everything is denied, or NULL */
	bool empty;   /* no policy file at all */
};

static const char *const rule_keys[] = {
	"allow", "deny", "users", "roles", "commands", "nodes", "tags", "facts", NULL,
};

/* scalar_text - whether n is a non-empty scalar string without NUL bytes. */
static bool scalar_text(const struct ynode *n)
{
	if (n->kind != YN_SCALAR || n->len == 0 || n->len > POLICY_ITEM_MAX ||
	    strlen(n->str) != n->len)
		return false;
	/* a plain null is no value */
	return n->quoted || (strcmp(n->str, "~") && strcmp(n->str, "null"));
}

/* str_list - v (a string or a list of strings) as a JSON array. */
static int str_list(const char *file, const struct ynode *k, const struct ynode *v, json_t **ret,
		    struct tend_err *err)
{
	json_t *a;

	if (v->kind == YN_MAP || (v->kind == YN_SEQ && (v->n == 0 || v->n > POLICY_ITEMS_MAX)))
		return err_at(err, -EINVAL, file, v->line, v->col,
			      "%s must be a string or a list of 1 to %d strings, not %s", k->str,
			      POLICY_ITEMS_MAX, v->kind == YN_MAP ? "a map" : "an empty list");
	a = json_array();
	for (size_t i = 0; i < (v->kind == YN_SEQ ? v->n : 1); i++) {
		const struct ynode *item = v->kind == YN_SEQ ? v->items[i] : v;
		char why[300];

		if (!scalar_text(item)) {
			json_decref(a);
			return err_at(err, -EINVAL, file, item->line, item->col,
				      "%s: expected a string of 1 to %d bytes, not %s", k->str,
				      POLICY_ITEM_MAX,
				      item->kind == YN_SCALAR ? "an empty value" :
								ynode_kind_name(item));
		}
		if (!strcmp(k->str, "facts") && !rpc_fact_expr_check(item->str, why, sizeof(why))) {
			json_decref(a);
			return err_at(err, -EINVAL, file, item->line, item->col, "facts: %s", why);
		}
		json_array_append_new(a, json_stringn(item->str, item->len));
	}
	*ret = a;
	return 0;
}

static void rule_clear(struct rule *r)
{
	json_decref(r->actions);
	json_decref(r->users);
	json_decref(r->roles);
	json_decref(r->commands);
	json_decref(r->filter);
	memset(r, 0, sizeof(*r));
}

/* rule_key - one member of a rule into r. */
static int rule_key(const char *file, const struct ynode *k, const struct ynode *v, struct rule *r,
		    struct tend_err *err)
{
	json_t *list = NULL, **slot = NULL;
	int ret;

	if (!strcmp(k->str, "allow") || !strcmp(k->str, "deny")) {
		if (r->actions)
			return err_at(err, -EINVAL, file, k->line, k->col,
				      "a rule needs exactly one of allow, deny");
		r->deny = k->str[0] == 'd';
		slot = &r->actions;
	} else if (!strcmp(k->str, "users")) {
		slot = &r->users;
	} else if (!strcmp(k->str, "roles")) {
		slot = &r->roles;
	} else if (!strcmp(k->str, "commands")) {
		slot = &r->commands;
	}
	ret = str_list(file, k, v, &list, err);
	if (ret < 0)
		return ret;
	if (slot) {
		*slot = list;
		return 0;
	}
	/* nodes, tags, facts: the rule's filter */
	if (!r->filter)
		r->filter = json_object();
	json_object_set_new(r->filter, k->str, list);
	return 0;
}

/* rule_parse - one item of rules. */
static int rule_parse(const char *file, const struct ynode *item, struct rule *r,
		      struct tend_err *err)
{
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (item->kind != YN_MAP)
		return err_at(err, -EINVAL, file, item->line, item->col,
			      "a rule must be a map (allow or deny, users or roles, ...), not %s",
			      ynode_kind_name(item));
	r->file = file;
	r->line = item->line;
	for (size_t i = 0; i < item->n; i++) {
		const struct ynode *k = item->items[2 * i], *v = item->items[2 * i + 1];
		bool known = false;

		for (size_t j = 0; k->kind == YN_SCALAR && rule_keys[j]; j++)
			known |= !strcmp(k->str, rule_keys[j]);
		if (!known) {
			rule_clear(r);
			return err_at(
				err, -EINVAL, file, k->line, k->col,
				"unknown key '%.100s' in a rule (expected allow, deny, users, "
				"roles, commands, nodes, tags, facts)",
				k->kind == YN_SCALAR ? k->str : "?");
		}
		ret = rule_key(file, k, v, r, err);
		if (ret < 0) {
			rule_clear(r);
			return ret;
		}
	}
	if (!r->actions)
		ret = err_at(err, -EINVAL, file, item->line, item->col,
			     "a rule needs exactly one of allow, deny");
	else if (!r->users && !r->roles)
		ret = err_at(err, -EINVAL, file, item->line, item->col,
			     "a rule needs users or roles (whom it is for)");
	if (ret < 0)
		rule_clear(r);
	return ret;
}

static int policy_add_rule(struct rpc_policy *p, const char *file, const struct ynode *item,
			   struct tend_err *err)
{
	struct rule r;
	int ret;

	if (p->n >= POLICY_RULES_MAX)
		return err_at(err, -E2BIG, file, item->line, item->col,
			      "more than %d rules in the policy", POLICY_RULES_MAX);
	ret = rule_parse(file, item, &r, err);
	if (ret < 0)
		return ret;
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->rules = xrealloc(p->rules, p->cap * sizeof(*p->rules));
	}
	p->rules[p->n++] = r;
	return 0;
}

/* policy_doc - the rules of one document (root may be NULL: an empty file). */
static int policy_doc(struct rpc_policy *p, const char *file, const struct ynode *root,
		      struct tend_err *err)
{
	const struct ynode *rules = NULL;

	if (!root)
		return 0;
	if (root->kind != YN_MAP)
		return err_at(err, -EINVAL, file, root->line, root->col,
			      "a policy is a map with 'rules', not %s", ynode_kind_name(root));
	for (size_t i = 0; i < root->n; i++) {
		const struct ynode *k = root->items[2 * i];

		if (k->kind != YN_SCALAR || strcmp(k->str, "rules"))
			return err_at(err, -EINVAL, file, k->line, k->col,
				      "unknown key '%.100s' in a policy (expected rules)",
				      k->kind == YN_SCALAR ? k->str : "?");
		rules = root->items[2 * i + 1];
	}
	if (!rules)
		return 0;
	if (rules->kind != YN_SEQ)
		return err_at(err, -EINVAL, file, rules->line, rules->col,
			      "rules must be a list of rules, not %s", ynode_kind_name(rules));
	for (size_t i = 0; i < rules->n; i++) {
		int r = policy_add_rule(p, file, rules->items[i], err);

		if (r < 0)
			return r;
	}
	return 0;
}

/* policy_file - parse the text of file into p's rules. */
static int policy_file(struct rpc_policy *p, const char *file, const json_t *text,
		       struct tend_err *err)
{
	struct ydoc *doc = NULL;
	int r;

	if (!json_is_string(text))
		return err_set(err, -EINVAL, "%s: the file's text is not a string", file);
	if (json_string_length(text) > POLICY_FILE_MAX)
		return err_set(err, -EFBIG, "%s: larger than %zu bytes", file, POLICY_FILE_MAX);
	r = ydoc_load(file, json_string_value(text), json_string_length(text), &doc, err);
	if (r == 0)
		r = policy_doc(p, file, ydoc_root(doc), err);
	ydoc_free(doc);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* policy_files - every file of files, in name order, into p. */
static int policy_files(struct rpc_policy *p, const json_t *files, struct tend_err *err)
{
	size_t n = json_object_size(files), i = 0;
	const char **names, *key;
	json_t *v;
	int r = 0;

	if (n > POLICY_FILES_MAX)
		return err_set(err, -E2BIG, "more than %d policy files", POLICY_FILES_MAX);
	names = xcalloc(n ? n : 1, sizeof(*names));
	json_object_foreach(p->files, key, v)
		names[i++] = key;
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && r == 0; i++)
		r = policy_file(p, names[i], json_object_get(files, names[i]), err);
	free(names);
	return r;
}

int rpc_policy_parse(const json_t *files, struct rpc_policy **ret, struct tend_err *err)
{
	struct rpc_policy *p = xcalloc(1, sizeof(*p));
	struct tend_err e = { "" };
	const char *key;
	json_t *v;
	int r = 0;

	p->files = json_object();
	if (!json_is_object(files) || json_object_size(files) == 0) {
		p->empty = true;
		*ret = p;
		return 0;
	}
	json_object_foreach((json_t *)files, key, v)
		json_object_set_new(p->files, key, json_null());
	/* policy_files walks p->files: rules point at its keys, not the caller's */
	r = policy_files(p, files, &e);
	if (r < 0) {
		for (size_t i = 0; i < p->n; i++)
			rule_clear(&p->rules[i]);
		p->n = 0;
		p->broken = xstrdup(e.msg);
		err_set(err, -EINVAL, "%s", e.msg);
		r = -EINVAL;
	}
	*ret = p;
	return r;
}

void rpc_policy_free(struct rpc_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		rule_clear(&p->rules[i]);
	free(p->rules);
	free(p->broken);
	json_decref(p->files);
	free(p);
}

/* list_match - whether s matches one of the globs in list (NULL: none). */
static bool list_match(const json_t *list, const char *s)
{
	size_t i;
	const json_t *v;

	if (!list || !s)
		return false;
	json_array_foreach(list, i, v) {
		if (fnmatch(json_string_value(v), s, 0) == 0)
			return true;
	}
	return false;
}

/* run_cmdline - the command line of run's args into b; false when args has no argv. */
static bool run_cmdline(const json_t *args, struct buf *b)
{
	const json_t *argv = json_object_get(args, "argv"), *v;
	size_t i;

	if (!json_is_array(argv) || json_array_size(argv) == 0)
		return false;
	if (json_is_true(json_object_get(args, "shell")) && buf_puts(b, "sh -c ") < 0)
		return false;
	json_array_foreach(argv, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    (i && buf_putc(b, ' ') < 0) ||
		    buf_add(b, json_string_value(v), json_string_length(v)) < 0)
			return false;
	}
	return true;
}

/* runs_program - whether action runs a program the request names (args.argv). */
static bool runs_program(const char *action)
{
	return action && (!strcmp(action, "run") || !strcmp(action, "check"));
}

static bool rule_matches(const struct rule *r, const char *user, const char *role,
			 const char *action, const char *cmdline, const struct rpc_self *self)
{
	if (!list_match(r->actions, action))
		return false;
	if (!list_match(r->users, user) && !(role && *role && list_match(r->roles, role)))
		return false;
	if (r->filter && !rpc_filter_match(r->filter, self))
		return false;
	if (!runs_program(action))
		return true;
	if (!r->commands)
		return r->deny;
	return cmdline && list_match(r->commands, cmdline);
}

/* decide - the first deny rule that matches, else the first allow rule, else NULL. */
static const struct rule *decide(const struct rpc_policy *p, const char *user, const char *role,
				 const char *action, const char *cmdline,
				 const struct rpc_self *self)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->rules[i].deny &&
		    rule_matches(&p->rules[i], user, role, action, cmdline, self))
			return &p->rules[i];
	for (size_t i = 0; i < p->n; i++)
		if (!p->rules[i].deny &&
		    rule_matches(&p->rules[i], user, role, action, cmdline, self))
			return &p->rules[i];
	return NULL;
}

bool rpc_policy_check(const struct rpc_policy *p, const char *user, const char *role,
		      const char *action, const json_t *args, const struct rpc_self *self,
		      char *why, size_t why_len)
{
	struct buf cmd;
	const struct rule *r;
	const char *who_role = role && *role ? role : "none";
	bool run = runs_program(action), have_cmd = false;

	if (!p || p->empty) {
		snprintf(why, why_len, "no policy (everything is denied)");
		return false;
	}
	if (p->broken) {
		snprintf(why, why_len, "%s (everything is denied)", p->broken);
		return false;
	}
	if (!user || !action) {
		snprintf(why, why_len, "no caller or no action");
		return false;
	}
	buf_init(&cmd, CMDLINE_MAX);
	if (run)
		have_cmd = run_cmdline(args, &cmd);
	r = decide(p, user, role, action, have_cmd ? buf_str(&cmd) : NULL, self);
	if (r)
		snprintf(why, why_len, "%s by %s:%d", r->deny ? "denied" : "allowed", r->file,
			 r->line);
	else if (run && !have_cmd)
		snprintf(why, why_len,
			 "run needs args.argv, a list of strings (of at most %d "
			 "bytes together)",
			 CMDLINE_MAX);
	else if (run)
		snprintf(why, why_len, "no rule allows run of '%.120s' for %s (role %s)",
			 buf_str(&cmd), user, who_role);
	else
		snprintf(why, why_len, "no rule allows %s for %s (role %s)", action, user,
			 who_role);
	buf_free(&cmd);
	return r && !r->deny;
}
