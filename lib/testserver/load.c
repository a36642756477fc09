/* libkreconcile-testserver — loading objects from a test (JSON, a List,
 * or YAML documents) through the same admission as a POST, one at a time
 * or in bulk under one lock. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

static int error_from_status(const ts_response *resp, const char *what, kr_error_t *err)
{
    json_t *st = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(st, "message"));
    int code;
    switch (resp->status) {
    case 404:
        code = KR_ENOTFOUND;
        break;
    case 409:
        code = KR_EEXIST;
        break;
    case 422:
        code = KR_EINVALIDOBJ;
        break;
    case 400:
        code = KR_EPARSE;
        break;
    default:
        code = resp->status >= 500 ? KR_ENOMEM : KR_EHTTP;
    }
    kr_error_set(err, code, "loading %s: %s", what, msg ? msg : "failed");
    if (err) {
        err->http_code = resp->status;
        const char *reason = json_string_value(json_object_get(st, "reason"));
        snprintf(err->reason, sizeof(err->reason), "%s", reason ? reason : "");
    }
    json_decref(st);
    return code;
}

/* Create one object; ts->mu is held. */
static int load_one(kr_testserver_t *ts, const json_t *obj, kr_error_t *err)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    ts_resource *res = (av && kind) ? ts_resource_find_kind(ts, av, kind) : NULL;
    if (!res)
        return kr_error_set(err, KR_ENOTFOUND, "loading objects: no resource serves %s %s",
                            av ? av : "(no apiVersion)", kind ? kind : "(no kind)");
    const char *ns = ts_meta_str(obj, "namespace");
    ts_route rt = {.res = res, .ns = res->namespaced ? (ns && *ns ? ns : "default") : NULL};
    ts_request req = {.method = "POST", .path = ""};
    ts_write w = {.req = &req, .rt = &rt, .manager = "kr-testserver-load", .no_body = true};
    ts_response resp = {0};
    json_t *copy = json_deep_copy(obj);
    if (!copy)
        return kr_error_set(err, KR_ENOMEM, "out of memory loading objects");
    int rc = ts_schema_decode(&w, copy, &resp); /* as a POST's body is */
    if (rc == 0)
        rc = ts_commit_create(ts, &w, copy, &resp);
    else
        json_decref(copy);
    if (rc == 0 && resp.status == 201) {
        ts_response_clear(&resp);
        return 0;
    }
    const char *name = ts_meta_str(obj, "name");
    rc = error_from_status(&resp, name ? name : kind, err);
    ts_response_clear(&resp);
    return rc;
}

static int load_array(kr_testserver_t *ts, json_t *const *objs, size_t n, kr_error_t *err)
{
    int rc = 0;
    ts_lock(ts);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = load_one(ts, objs[i], err);
    ts_unlock(ts);
    return rc;
}

int kr_testserver_load_bulk(kr_testserver_t *ts, json_t *const *objects, size_t count,
                            kr_error_t *err)
{
    return load_array(ts, objects, count, err);
}

static int load_doc(kr_testserver_t *ts, json_t *doc, kr_error_t *err)
{
    if (json_is_array(doc)) {
        size_t n = json_array_size(doc);
        json_t **objs = kr_malloc((n ? n : 1) * sizeof(json_t *));
        if (!objs)
            return kr_error_set(err, KR_ENOMEM, "out of memory loading objects");
        for (size_t i = 0; i < n; i++)
            objs[i] = json_array_get(doc, i);
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = load_doc(ts, objs[i], err);
        kr_free(objs);
        return rc;
    }
    if (!json_is_object(doc))
        return kr_error_set(err, KR_EPARSE, "loading objects: a document is not an object");
    const json_t *items = json_object_get(doc, "items");
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (json_is_array(items) && kind && strlen(kind) >= 4 &&
        strcmp(kind + strlen(kind) - 4, "List") == 0)
        return load_doc(ts, (json_t *)items, err);
    return load_array(ts, &doc, 1, err);
}

int kr_testserver_load(kr_testserver_t *ts, const char *text, size_t len, kr_error_t *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    if (!doc) {
        kr_error_t yerr = {0};
        if (ts_yaml_parse_all(text, len, &doc, &yerr) != 0)
            return kr_error_set(err, KR_EPARSE,
                                "loading objects: not JSON (%s, line %d) and "
                                "not YAML (%s)",
                                jerr.text, jerr.line, yerr.message);
        ts_json_whole_numbers(doc);
    }
    int rc = load_doc(ts, doc, err);
    json_decref(doc);
    return rc;
}
