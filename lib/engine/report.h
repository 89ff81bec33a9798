/*
 * report.h - presenting a run: one line per resource worth mentioning,
 * the summary line, and the full JSON report.
 */
#ifndef TEND_REPORT_H
#define TEND_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "engine/run.h"

struct report_opts {
	bool color;
	bool verbose;      /* apply: diffs too; plan: unchanged resources too */
	bool quiet;        /* only failures and the summary */
};

/* report_resource_text - the line(s) for r after its outcome is known. */
void report_resource_text(FILE *f, const struct run *run, const struct resource *r,
			  const struct report_opts *o);

/* report_summary_text - "tend: N resources: ..." */
void report_summary_text(FILE *f, const struct run *run, const struct report_opts *o);

/* report_json - the full report; a new reference. */
json_t *report_json(const struct run *run, const char *command, const char *root);

#endif
