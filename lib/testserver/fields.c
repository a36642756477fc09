/* libkreconcile-testserver — fieldSelector (metadata.name, metadata.namespace
 * with =, == and !=) and the combined "does this object match" test used
 * by LIST and WATCH. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

static char *trim_dup(const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return kr_strndup(s, len);
}

static int parse_term(const char *term, size_t len, struct ts_fieldreq *req, char *msg,
                      size_t msgsize)
{
    const char *ops[] = {"!=", "==", "="};
    for (size_t i = 0; i < KR_ARRAY_LEN(ops); i++) {
        const char *op = memmem(term, len, ops[i], strlen(ops[i]));
        if (!op)
            continue;
        char *field = trim_dup(term, (size_t)(op - term));
        const char *val = op + strlen(ops[i]);
        req->value = trim_dup(val, len - (size_t)(val - term));
        if (!field || !req->value) {
            kr_free(field);
            return KR_ENOMEM;
        }
        req->negate = i == 0;
        int rc = 0;
        if (strcmp(field, "metadata.name") == 0) {
            req->is_namespace = false;
        } else if (strcmp(field, "metadata.namespace") == 0) {
            req->is_namespace = true;
        } else {
            snprintf(msg, msgsize,
                     "\"%s\" is not a known field selector: only \"metadata.name\", "
                     "\"metadata.namespace\"",
                     field);
            rc = KR_EPARSE;
        }
        kr_free(field);
        return rc;
    }
    snprintf(msg, msgsize, "invalid selector: '%.*s'; can't understand '%.*s'", (int)len, term,
             (int)len, term);
    return KR_EPARSE;
}

int ts_fieldsel_parse(const char *text, ts_fieldsel *out, char *msg, size_t msgsize)
{
    memset(out, 0, sizeof(*out));
    const char *p = text;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        struct ts_fieldreq *grown = kr_realloc(out->reqs, (out->len + 1) * sizeof(*grown));
        if (!grown) {
            ts_fieldsel_free(out);
            return KR_ENOMEM;
        }
        out->reqs = grown;
        memset(&out->reqs[out->len], 0, sizeof(out->reqs[0]));
        int rc = parse_term(p, len, &out->reqs[out->len], msg, msgsize);
        out->len++;
        if (rc != 0) {
            ts_fieldsel_free(out);
            return rc;
        }
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

bool ts_fieldsel_matches(const ts_fieldsel *fs, const json_t *obj)
{
    for (size_t i = 0; i < fs->len; i++) {
        const char *v = ts_meta_str(obj, fs->reqs[i].is_namespace ? "namespace" : "name");
        bool eq = strcmp(v ? v : "", fs->reqs[i].value) == 0;
        if (eq == fs->reqs[i].negate)
            return false;
    }
    return true;
}

void ts_fieldsel_free(ts_fieldsel *fs)
{
    for (size_t i = 0; i < fs->len; i++)
        kr_free(fs->reqs[i].value);
    kr_free(fs->reqs);
    fs->reqs = NULL;
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
