/* libkreconcile-testserver — the label selector interface the server uses.
 * A thin seam over the library's shared selector parser, so that the
 * server and the informer store read selectors the same way. */
#ifndef KR_TS_LABELS_H
#define KR_TS_LABELS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ts_labels ts_labels_t;

/* Parse a labelSelector. *out is new (NULL for an empty selector, which
 * matches everything). On a parse error returns negative and writes the
 * parser's message into msg. */
int ts_labels_parse(const char *text, ts_labels_t **out, char *msg, size_t msgsize);
/* Whether `labels` (an object of strings, or NULL) satisfies the selector. */
bool ts_labels_matches(const ts_labels_t *sel, const json_t *labels);
void ts_labels_free(ts_labels_t *sel);

#endif /* KR_TS_LABELS_H */
