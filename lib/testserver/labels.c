/* libkreconcile-testserver — labelSelector through the library's shared
 * selector parser (kreconcile/selector.h), so that the server and the
 * informer's listers read selectors the same way. */
#include <stdio.h>

#include "kreconcile/selector.h"
#include "testserver/ts_internal.h"

int ts_labels_parse(const char *text, ts_labels_t **out, char *msg, size_t msgsize)
{
    kr_error_t err = {0};
    kr_selector_t *sel = NULL;
    *out = NULL;
    int rc = kr_selector_parse(text, &sel, &err);
    if (rc != 0) {
        snprintf(msg, msgsize, "%s", err.message);
        return rc;
    }
    if (kr_selector_is_empty(sel)) {
        kr_selector_free(sel);
        return 0;
    }
    *out = (ts_labels_t *)sel;
    return 0;
}

bool ts_labels_matches(const ts_labels_t *sel, const json_t *labels)
{
    return !sel || kr_selector_matches((const kr_selector_t *)sel, labels);
}

void ts_labels_free(ts_labels_t *sel)
{
    kr_selector_free((kr_selector_t *)sel);
}
