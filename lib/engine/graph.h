/*
 * graph.h - ordering resources: requires, before, notify, subscribe and
 * implicit relations (a file after its parent directory), in a stable
 * topological order.  A cycle is an input error naming the cycle.
 */
#ifndef TEND_GRAPH_H
#define TEND_GRAPH_H

#include "model/catalog.h"
#include "util/err.h"

/*
 * graph_build - resolve every relation of c's resources into r->deps and
 * r->notifies, and return the run order (a malloc'd array of c->n
 * pointers; dependencies first, otherwise declaration order).  A relation
 * to an undeclared resource or a cycle is -EINVAL with FILE:LINE:COL.
 */
int graph_build(struct catalog *c, struct resource ***ret_order, struct tend_err *err);

#endif
