/*
 * rpc_args.c - the arguments of `tend rpc ACTION KEY=VALUE...` as the
 * request's args object.
 *
 * KEY=VALUE is a string, unless VALUE is a JSON number, true or false
 * (count=3, force=true): what an admin means nearly always, and "0644"
 * stays a string because JSON numbers have no leading zero.  For
 * anything else KEY:=JSON takes JSON text as it is, as httpie does:
 * argv:='["uptime", "-p"]', name:='"true"'.
 */
#include <errno.h>
#include <string.h>

#include "rpc.h"

/* key_ok - 1..RPC_ARG_KEY_MAX letters, digits, '_', '-', '.'. */
static bool key_ok(const char *k, size_t n)
{
	if (n == 0 || n > RPC_ARG_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
		      (k[i] >= '0' && k[i] <= '9') || strchr("_-.", k[i])))
			return false;
	return true;
}

/* typed - VALUE as a JSON number, true or false when it is one, else a string. */
static json_t *typed(const char *v)
{
	json_t *j;

	if (!*v || !strchr("-0123456789tf", *v))
		return json_string(v);
	j = json_loads(v, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (j && (json_is_number(j) || json_is_boolean(j)))
		return j;
	json_decref(j);
	return json_string(v);
}

/* one_arg - one KEY=VALUE or KEY:=JSON into args. */
static int one_arg(json_t *args, const char *kv, struct tend_err *err)
{
	const char *eq = strchr(kv, '=');
	bool raw = eq && eq > kv && eq[-1] == ':';
	size_t klen = eq ? (size_t)(eq - kv) - raw : 0;
	char key[RPC_ARG_KEY_MAX + 1];
	json_error_t je;
	json_t *v;

	if (!eq)
		return err_set(err, -EINVAL, "argument '%.80s' is not KEY=VALUE or KEY:=JSON", kv);
	if (!key_ok(kv, klen))
		return err_set(err, -EINVAL,
			       "argument '%.80s': the key must be 1 to %d letters, digits, '_', "
			       "'-' or '.'",
			       kv, RPC_ARG_KEY_MAX);
	memcpy(key, kv, klen);
	key[klen] = '\0';
	if (json_object_get(args, key))
		return err_set(err, -EINVAL, "argument '%s' is given twice", key);
	if (raw) {
		v = json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
		if (!v)
			return err_set(err, -EINVAL, "argument '%s:=': not JSON: %s (column %d)",
				       key, je.text, je.column);
	} else {
		v = typed(eq + 1);
		if (!v)
			return err_set(err, -EINVAL, "argument '%s': the value is not UTF-8", key);
	}
	json_object_set_new(args, key, v);
	return 0;
}

int rpc_args_parse(char *const *kv, int n, json_t **ret, struct tend_err *err)
{
	json_t *args;
	int r;

	if (n > RPC_ARGS_MAX)
		return err_set(err, -EINVAL, "more than %d arguments", RPC_ARGS_MAX);
	args = json_object();
	for (int i = 0; i < n; i++) {
		r = one_arg(args, kv[i], err);
		if (r < 0) {
			json_decref(args);
			return r;
		}
	}
	*ret = args;
	return 0;
}
