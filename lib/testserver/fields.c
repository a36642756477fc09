/* libkreconcile-testserver — fieldSelector (metadata.name, metadata.namespace;
 * the library's parser) and the combined "does this object match" test used
 * by LIST and WATCH. */
#include <stdio.h>
#include <string.h>

#include "kreconcile/selector.h"
#include "testserver/ts_internal.h"

int ts_fieldsel_parse(const char *text, ts_fieldsel *out, char *msg, size_t msgsize)
{
    static const char *const allowed[] = {"metadata.name", "metadata.namespace"};
    kr_error_t err = {0};
    memset(out, 0, sizeof(*out));
    int rc = kr_field_selector_parse(text, &out->sel, &err);
    if (rc == 0)
        rc = kr_field_selector_check_fields(out->sel, allowed, KR_ARRAY_LEN(allowed), &err);
    if (rc != 0) {
        snprintf(msg, msgsize, "%s", err.message);
        ts_fieldsel_free(out);
        return rc == KR_ENOMEM ? rc : KR_EPARSE;
    }
    out->len = kr_field_selector_count(out->sel);
    return 0;
}

bool ts_fieldsel_matches(const ts_fieldsel *fs, const json_t *obj)
{
    return !fs->sel || kr_field_selector_matches(fs->sel, obj, NULL, NULL);
}

void ts_fieldsel_free(ts_fieldsel *fs)
{
    kr_field_selector_free(fs->sel);
    fs->sel = NULL;
    fs->len = 0;
}

bool ts_object_matches(const ts_labels_t *labels, const ts_fieldsel *fields, const json_t *obj)
{
    if (fields && !ts_fieldsel_matches(fields, obj))
        return false;
    if (!labels)
        return true;
    const json_t *md = json_object_get(obj, "metadata");
    return ts_labels_matches(labels, json_object_get(md, "labels"));
}

int ts_parse_selectors(const ts_request *req, ts_labels_t **labels, ts_fieldsel *fields,
                       ts_response *resp)
{
    char msg[512] = "";
    *labels = NULL;
    memset(fields, 0, sizeof(*fields));
    const char *ls = ts_query(req, "labelSelector");
    const char *fsel = ts_query(req, "fieldSelector");
    int rc = ls ? ts_labels_parse(ls, labels, msg, sizeof(msg)) : 0;
    if (rc == 0 && fsel)
        rc = ts_fieldsel_parse(fsel, fields, msg, sizeof(msg));
    if (rc == 0)
        return 0;
    ts_labels_free(*labels);
    *labels = NULL;
    if (rc == KR_ENOMEM)
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                          NULL);
    else
        ts_respond_bad_request(resp, "%s", msg);
    return rc;
}

int ts_query_bool(const ts_request *req, const char *key)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    const char *v = ts_query(req, key);
    if (!v)
        return 0;
    for (size_t i = 0; i < KR_ARRAY_LEN(yes); i++) {
        if (strcmp(v, yes[i]) == 0)
            return 1;
        if (strcmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}
