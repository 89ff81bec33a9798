/*
 * node_doc.h - editing a node's document (nodes/NODE.yaml) in place: the
 * value of its top-level `tags:` key is replaced and every other byte is
 * kept, so the comments and hand formatting of a file survive a change
 * of tags made over the API.
 */
#ifndef TEND_SERVER_NODE_DOC_H
#define TEND_SERVER_NODE_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

#define NODE_DOC_TAG_MAX 128 /* bytes of one tag name */

/* node_doc_tag_ok - whether t is a tag name: letters, digits, '.', '-',
 * '_', 1 to NODE_DOC_TAG_MAX bytes (t may be NULL: no). */
bool node_doc_tag_ok(const char *t);

/*
 * node_doc_set_tags - doc (len bytes; name is used in messages) with its
 * top-level `tags:` value set to tags, an array of tag names
 * (node_doc_tag_ok), into out, which is reset first and left empty on
 * failure.  Every byte outside that value is kept:
 *   - a flow list or a scalar value becomes a flow list `[a, b]`;
 *   - a block list stays a block list, each item indented as its first
 *     item was; emptied, it becomes `tags: []` on the key's line;
 *   - `tags:` with no value gets ` [a, b]` after the colon;
 *   - a document without the key gets a last line `tags: [a, b]`;
 *   - doc NULL (no document yet): out is that one line.
 * A name is written plain when YAML reads it back as that string, else
 * double-quoted ("1", "yes").  The result is parsed again and must hold
 * the same keys and values as doc but for tags before it is returned.
 * -EINVAL with a message: a bad tag name, doc does not parse or is not a
 * map, or its value cannot be rewritten provably right in place (an
 * anchor, an alias, a block scalar, an unusual layout); -EFBIG: out's
 * limit was reached.
 */
int node_doc_set_tags(const char *name, const char *doc, size_t len, const json_t *tags,
		      struct buf *out, struct tend_err *err);

#endif
