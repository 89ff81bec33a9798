/*
 * report.c - text and JSON presentation of a run (see report.h).
 *
 * Sensitive resources never show values or diffs: only what changed.
 */
#include "engine/report.h"

#include <string.h>

#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_CYAN "\033[36m"
#define C_OFF "\033[0m"

static const char *col(const struct report_opts *o, const char *c)
{
	return o->color ? c : "";
}

/* plan_sign - '+' create, '-' remove, '~' modify */
static char plan_sign(const struct resource *r)
{
	for (size_t i = 0; i < r->nchanges; i++) {
		const struct change *c = &r->changes[i];

		if (!strcmp(c->what, "ensure") && c->to && !strcmp(c->to, "absent"))
			return '-';
		if (!strcmp(c->what, "ensure") && c->from && !strcmp(c->from, "absent"))
			return '+';
	}
	return '~';
}

static void print_changes(FILE *f, const struct resource *r)
{
	for (size_t i = 0; i < r->nchanges; i++) {
		const struct change *c = &r->changes[i];

		fputs(i ? ", " : "", f);
		if (!strcmp(c->what, "ensure") && c->to) {
			if (!strcmp(c->to, "absent"))
				fputs("remove", f);
			else if (c->from && !strcmp(c->from, "absent"))
				fputs("create", f);
			else
				fprintf(f, "replace %s with %s", c->from ? c->from : "?", c->to);
		} else if (!strcmp(c->what, "run") || !strcmp(c->what, "refresh") ||
			   !strcmp(c->what, "content") || !strcmp(c->what, "line")) {
			fputs(!strcmp(c->what, "refresh") ? "refresh (notified)" : c->what, f);
		} else if (r->sensitive) {
			fputs(c->what, f);
		} else {
			fprintf(f, "%s %s -> %s", c->what, c->from ? c->from : "(none)", c->to ? c->to : "(none)");
		}
	}
}

static void print_diffs(FILE *f, const struct resource *r, const struct report_opts *o)
{
	if (r->sensitive)
		return;
	for (size_t i = 0; i < r->nchanges; i++) {
		const char *d = r->changes[i].diff;

		while (d && *d) {
			const char *nl = strchr(d, '\n');
			int n = nl ? (int)(nl - d) : (int)strlen(d);
			const char *c = "";

			if (o->color && n > 0)
				c = d[0] == '+' ? C_GREEN : d[0] == '-' ? C_RED : d[0] == '@' ? C_CYAN : "";
			fprintf(f, "    %s%.*s%s\n", c, n, d, *c ? C_OFF : "");
			d = nl ? nl + 1 : d + n;
		}
	}
}

/* print_output - the command output r captured, if any. */
static void print_output(FILE *f, const struct resource *r)
{
	const struct buf *b = r->output;

	if (b && b->len)
		fprintf(f, "    output: %.*s%s", (int)b->len, b->data, b->data[b->len - 1] == '\n' ? "" : "\n");
}

void report_resource_text(FILE *f, const struct run *run, const struct resource *r,
			  const struct report_opts *o)
{
	switch (r->status) {
	case RES_CHANGE:
		if (o->quiet)
			return;
		fprintf(f, "%s%c %s%s: ", col(o, C_YELLOW), plan_sign(r), r->id, col(o, C_OFF));
		print_changes(f, r);
		fputc('\n', f);
		print_diffs(f, r, o);
		break;
	case RES_UNKNOWN:
		fprintf(f, "%s? %s%s: unknown: %s\n", col(o, C_YELLOW), r->id, col(o, C_OFF),
			r->message ? r->message : "");
		break;
	case RES_CHANGED:
		if (o->quiet)
			return;
		fprintf(f, "%schanged%s %s: ", col(o, C_GREEN), col(o, C_OFF), r->id);
		print_changes(f, r);
		fputc('\n', f);
		if (o->verbose)
			print_diffs(f, r, o);
		if (o->verbose)
			print_output(f, r);
		break;
	case RES_FAILED:
		fprintf(f, "%sfailed%s %s: %s\n", col(o, C_RED), col(o, C_OFF), r->id,
			r->message ? r->message : "failed");
		if (!o->quiet)
			print_output(f, r);
		break;
	case RES_SKIPPED:
		if (o->quiet)
			return;
		fprintf(f, "%sskipped%s %s: %s\n", col(o, C_YELLOW), col(o, C_OFF), r->id,
			r->message ? r->message : "");
		break;
	case RES_OK:
		/* a note on a resource that is right ("state not managed: ...") */
		if (o->verbose && r->message)
			fprintf(f, "  %s: ok (%s)\n", r->id, r->message);
		else if (o->verbose && run->plan)
			fprintf(f, "  %s: ok\n", r->id);
		break;
	default:
		break;
	}
}

void report_summary_text(FILE *f, const struct run *run, const struct report_opts *o)
{
	const struct run_summary *s = &run->sum;

	if (run->plan) {
		fprintf(f, "tend: %zu resources: %s%zu to change%s, %zu ok, %zu unknown", s->total,
			s->changed ? col(o, C_YELLOW) : "", s->changed, s->changed ? col(o, C_OFF) : "",
			s->ok, s->unknown);
		if (s->failed)
			fprintf(f, ", %s%zu failed%s", col(o, C_RED), s->failed, col(o, C_OFF));
	} else {
		fprintf(f, "tend: %zu resources: %zu changed, %zu ok, %s%zu failed%s, %zu skipped", s->total,
			s->changed, s->ok, s->failed ? col(o, C_RED) : "", s->failed,
			s->failed ? col(o, C_OFF) : "", s->skipped);
	}
	fprintf(f, s->ms < 10 ? " in %.1f ms\n" : " in %.0f ms\n", s->ms);
	if (s->not_converged)
		fprintf(f, "tend: %zu resources did not converge\n", s->not_converged);
}

static json_t *change_json(const struct resource *r, const struct change *c)
{
	json_t *j = json_object();

	json_object_set_new(j, "what", json_string(c->what));
	if (r->sensitive && strcmp(c->what, "ensure")) {
		json_object_set_new(j, "from", json_string("(sensitive)"));
		json_object_set_new(j, "to", json_string("(sensitive)"));
		return j;
	}
	json_object_set_new(j, "from", c->from ? json_string(c->from) : json_null());
	json_object_set_new(j, "to", c->to ? json_string(c->to) : json_null());
	if (c->diff)
		json_object_set_new(j, "diff", json_string(c->diff));
	return j;
}

static json_t *resource_json(const struct resource *r)
{
	json_t *j = json_object(), *ch = json_array();

	json_object_set_new(j, "id", json_string(r->id));
	json_object_set_new(j, "type", json_string(r->type->name));
	json_object_set_new(j, "name", json_string(r->name));
	json_object_set_new(j, "file", json_string(r->pos.file));
	json_object_set_new(j, "line", json_integer(r->pos.line));
	json_object_set_new(j, "status", json_string(res_status_name(r->status)));
	for (size_t i = 0; i < r->nchanges; i++)
		json_array_append_new(ch, change_json(r, &r->changes[i]));
	json_object_set_new(j, "changes", ch);
	if (r->message)
		json_object_set_new(j, "message", json_string(r->message));
	if (r->output && r->output->len) {
		json_t *o = json_stringn(r->output->data, r->output->len);

		json_object_set_new(j, "output", o && json_string_value(o) ? o : json_string("(binary output)"));
	}
	json_object_set_new(j, "duration_ms", json_real(r->elapsed_ms));
	return j;
}

json_t *report_json(const struct run *run, const char *command, const char *root)
{
	const struct run_summary *s = &run->sum;
	json_t *j = json_object(), *sum = json_object(), *res = json_array();

	json_object_set_new(j, "version", json_integer(1));
	json_object_set_new(j, "command", json_string(command));
	json_object_set_new(j, "root", json_string(root));
	json_object_set_new(j, "duration_ms", json_real(s->ms));
	json_object_set_new(sum, "total", json_integer((json_int_t)s->total));
	json_object_set_new(sum, "ok", json_integer((json_int_t)s->ok));
	json_object_set_new(sum, "changed", json_integer((json_int_t)s->changed));
	json_object_set_new(sum, "failed", json_integer((json_int_t)s->failed));
	json_object_set_new(sum, "skipped", json_integer((json_int_t)s->skipped));
	json_object_set_new(sum, "unknown", json_integer((json_int_t)s->unknown));
	json_object_set_new(sum, "not_converged", json_integer((json_int_t)s->not_converged));
	json_object_set_new(j, "summary", sum);
	for (size_t i = 0; i < run->cat->n; i++)
		json_array_append_new(res, resource_json(run->order[i]));
	json_object_set_new(j, "resources", res);
	return j;
}
