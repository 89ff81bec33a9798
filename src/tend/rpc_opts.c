/*
 * rpc_opts.c - the options every tend-rpc command takes: the filter
 * (--node, --tag, --fact), the identity and brokers, --timeout, -v, and
 * those of the remote commands (--server, --token, --cacert, --json,
 * --help); and amounts ("10", "25%") for tend up.
 *
 * The filter is checked here, with the library's own rpc_filter_check,
 * before anything is sent: a fact expression the agents would not
 * understand must fail on the admin's terminal, not silently on 9,000
 * nodes.
 */
#include <errno.h>
#include <string.h>

#include "rpc.h"
#include "rpc/rpc.h"
#include "util/strutil.h"

#define ITEM_MAX 1024	      /* one --node, --tag or --fact */
#define RPC_NODE_NAME_MAX 253 /* a node's own subject is tend.rpc.NODE */

/* add_item - arg appended to the array *slot (made on first use). */
static int add_item(json_t **slot, const char *opt, const char *arg, struct tend_err *err)
{
	size_t n = strlen(arg);

	if (n == 0 || n > ITEM_MAX)
		return err_set(err, -EINVAL, "--%s: %s", opt,
			       n ? "longer than 1024 bytes" : "empty");
	for (const char *p = arg; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return err_set(err, -EINVAL, "--%s: holds a control character", opt);
	if (!*slot)
		*slot = json_array();
	if (json_array_size(*slot) >= RPC_FILTER_ITEMS_MAX)
		return err_set(err, -EINVAL, "more than %d --%s options", RPC_FILTER_ITEMS_MAX,
			       opt);
	json_array_append_new(*slot, json_string(arg));
	return 1;
}

static int take_timeout(struct rpc_opts *o, const char *arg, struct tend_err *err)
{
	double s;

	if (str_to_duration(arg, &s) < 0 || s <= 0 || s > 86400)
		return err_set(err, -EINVAL,
			       "--timeout: '%s' is not a duration between 0 and 24h (e.g. 30, 30s, "
			       "5m)",
			       arg);
	o->timeout = s;
	return 1;
}

int rpc_opts_take(struct rpc_opts *o, int c, const char *arg, struct tend_err *err)
{
	if (api_opts_take(&o->api, c, arg))
		return 1;
	switch (c) {
	case RPC_OPT_NODE:
		return add_item(&o->nodes, "node", arg, err);
	case RPC_OPT_TAG:
		return add_item(&o->tags, "tag", arg, err);
	case RPC_OPT_FACT:
		return add_item(&o->facts, "fact", arg, err);
	case RPC_OPT_IDENTITY:
		o->identity = arg;
		return 1;
	case RPC_OPT_NATS:
		if (o->nnats >= RPC_NATS_URLS_MAX)
			return err_set(err, -EINVAL, "more than %d --nats options",
				       RPC_NATS_URLS_MAX);
		if (!*arg || strlen(arg) > RPC_URL_MAX)
			return err_set(err, -EINVAL, "--nats: not a broker URL");
		o->nats[o->nnats++] = arg;
		return 1;
	case RPC_OPT_TIMEOUT:
		return take_timeout(o, arg, err);
	case RPC_OPT_VERBOSE:
	case 'v':
		o->verbose = true;
		return 1;
	default:
		return 0;
	}
}

void rpc_opts_free(struct rpc_opts *o)
{
	json_decref(o->nodes);
	json_decref(o->tags);
	json_decref(o->facts);
	o->nodes = o->tags = o->facts = NULL;
}

int rpc_opts_filter(const struct rpc_opts *o, json_t **ret, struct tend_err *err)
{
	json_t *f;
	int r;

	if (!o->nodes && !o->tags && !o->facts) {
		*ret = NULL;
		return 0;
	}
	f = json_object();
	if (o->nodes)
		json_object_set(f, "nodes", o->nodes);
	if (o->tags)
		json_object_set(f, "tags", o->tags);
	if (o->facts)
		json_object_set(f, "facts", o->facts);
	r = rpc_filter_check(f, err);
	if (r < 0) {
		json_decref(f);
		return r;
	}
	*ret = f;
	return 0;
}

const char *rpc_filter_one_node(const json_t *filter)
{
	json_t *nodes = json_object_get(filter, "nodes");
	const char *n;

	if (json_array_size(nodes) != 1)
		return NULL;
	n = json_string_value(json_array_get(nodes, 0));
	if (!n || !*n || strlen(n) > RPC_NODE_NAME_MAX || strpbrk(n, "*?[]\\"))
		return NULL;
	/* a subject token each: letters, digits, '.', '-', '_' (node names) */
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(".-_", *p)))
			return NULL;
	if (n[0] == '.' || n[strlen(n) - 1] == '.' || strstr(n, ".."))
		return NULL;
	return n;
}

int rpc_amount_parse(const char *s, bool zero_ok, struct rpc_amount *ret)
{
	size_t len = s ? strlen(s) : 0;
	char num[32];
	long long v;
	bool pct;

	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	pct = s[len - 1] == '%';
	memcpy(num, s, len - pct);
	num[len - pct] = '\0';
	if (str_to_ll(num, 10, zero_ok ? 0 : 1, pct ? 100 : 1000000000, &v) < 0)
		return -EINVAL;
	ret->n = (long)v;
	ret->pct = pct;
	return 0;
}

size_t rpc_amount_of(struct rpc_amount a, size_t total, bool round_up)
{
	unsigned long long x;

	if (!a.pct)
		return (size_t)a.n;
	x = (unsigned long long)total * (unsigned long long)a.n;
	return (size_t)(round_up ? (x + 99) / 100 : x / 100);
}
