/* libkreconcile-testserver — the /scale subresource (autoscaling/v1 Scale)
 * of Deployments, ReplicaSets, StatefulSets, ReplicationControllers and custom resources that
 * declare one: GET reads replicas and selector from the object; PUT and
 * PATCH write spec replicas back through the ordinary update path. */
#include <stdio.h>
#include <string.h>

#include "kreconcile/patch.h"
#include "testserver/ts_internal.h"

/* Set the value at a dotted path, creating objects on the way; steals v. */
static int path_set(json_t *obj, const char *path, json_t *v)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path[0] == '.' ? path + 1 : path);
    char *save = NULL, *k = strtok_r(buf, ".", &save);
    json_t *cur = obj;
    for (char *next = k ? strtok_r(NULL, ".", &save) : NULL; k && next;
         k = next, next = strtok_r(NULL, ".", &save)) {
        json_t *child = json_object_get(cur, k);
        if (!json_is_object(child)) {
            child = json_object();
            if (json_object_set_new(cur, k, child) != 0) {
                json_decref(v);
                return KR_ENOMEM;
            }
        }
        cur = child;
    }
    if (!k || json_object_set_new(cur, k, v) != 0)
        return KR_ENOMEM;
    return 0;
}

/* matchLabels of a LabelSelector as "k=v,k2=v2" (matchExpressions are
 * beyond what a test server needs). */
static char *selector_text(const ts_resource *res, const json_t *obj)
{
    if (res->scale_selector_path) {
        const char *s = json_string_value(ts_json_path(obj, res->scale_selector_path));
        return kr_strdup(s ? s : "");
    }
    /* a ReplicationController's selector is a plain map */
    const json_t *ml = ts_json_path(obj, ts_resource_is(res, "", "replicationcontrollers")
                                             ? ".spec.selector"
                                             : ".spec.selector.matchLabels");
    kr_buf b = {0};
    if (kr_buf_append(&b, "", 0) != 0)
        return NULL;
    for (void *it = json_object_iter((json_t *)ml); it;
         it = json_object_iter_next((json_t *)ml, it)) {
        const char *v = json_string_value(json_object_iter_value(it));
        if (kr_buf_printf(&b, "%s%s=%s", b.len ? "," : "", json_object_iter_key(it), v ? v : "") !=
            0) {
            kr_buf_free(&b);
            return NULL;
        }
    }
    return b.data;
}

static json_t *scale_of(const ts_resource *res, const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    json_t *smd = json_object();
    static const char *const keep[] = {"name", "namespace", "uid", "resourceVersion",
                                       "creationTimestamp"};
    for (size_t i = 0; smd && i < KR_ARRAY_LEN(keep); i++)
        if (json_object_get(md, keep[i]))
            json_object_set(smd, keep[i], json_object_get(md, keep[i]));
    json_int_t want = json_integer_value(ts_json_path(obj, res->scale_spec_path));
    json_int_t have = json_integer_value(ts_json_path(obj, res->scale_status_path));
    char *sel = selector_text(res, obj);
    json_t *scale = json_pack("{s:s, s:s, s:o, s:{s:I}, s:{s:I, s:s}}", "kind", "Scale",
                              "apiVersion", "autoscaling/v1", "metadata", smd, "spec", "replicas",
                              want, "status", "replicas", have, "selector", sel ? sel : "");
    kr_free(sel);
    return scale;
}

static void respond_scale(ts_response *resp, const ts_resource *res)
{
    if (resp->status != 200 || !resp->body)
        return;
    json_t *obj = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (obj)
        ts_respond_json(resp, 200, scale_of(res, obj));
    json_decref(obj);
}

/* The desired Scale (from PUT or PATCH), new, or NULL after filling resp. */
static json_t *desired_scale(const ts_request *req, const ts_route *rt, const json_t *current,
                             ts_response *resp)
{
    if (strcmp(req->method, "PATCH") == 0)
        return ts_patch_document(req, rt->res, rt->name, current, true, resp);
    if (!ts_content_is_json(req) && !ts_content_is_yaml(req)) {
        ts_respond_unsupported_media(resp, "application/json, application/yaml");
        return NULL;
    }
    return ts_parse_body(req, ts_content_is_yaml(req), resp);
}

void ts_handle_scale(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                     ts_response *resp)
{
    const ts_resource *res = rt->res;
    ts_obj *cur = ts_store_get(res->store, rt->ns ? rt->ns : "", rt->name);
    if (!cur) {
        ts_respond_not_found(resp, res, rt->name);
        return;
    }
    json_t *existing = json_incref(cur->obj);
    json_t *current = scale_of(res, existing);
    if (strcmp(req->method, "GET") == 0) {
        ts_respond_json(resp, 200, current);
        json_decref(existing);
        return;
    }
    ts_write w = {.req = req, .rt = rt};
    json_t *want = NULL;
    ts_options_kind kind = strcmp(req->method, "PUT") == 0 ? TS_OPTS_UPDATE
                           : kr_patch_format_from_content_type(req->content_type) == KR_PATCH_APPLY
                               ? TS_OPTS_APPLY
                               : TS_OPTS_PATCH;
    if (ts_write_options(req, resp, kind, &w.dry_run) == 0)
        want = desired_scale(req, rt, current, resp);
    const json_t *replicas = json_object_get(json_object_get(want, "spec"), "replicas");
    if (want && !json_is_integer(replicas)) {
        ts_respond_invalid(resp, "Scale", "autoscaling", rt->name, "spec.replicas",
                           "FieldValueRequired", "Required value");
    } else if (want) {
        json_t *obj = json_deep_copy(existing);
        const char *rv = json_string_value(
            json_object_get(json_object_get(want, "metadata"), "resourceVersion"));
        if (obj && rv)
            json_object_set_new(ts_meta(obj), "resourceVersion", json_string(rv));
        if (obj && path_set(obj, res->scale_spec_path, json_incref((json_t *)replicas)) == 0 &&
            ts_commit_update(ts, &w, existing, obj, resp) == 0)
            respond_scale(resp, res);
        else if (!obj)
            ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                              NULL);
    }
    json_decref(want);
    json_decref(current);
    json_decref(existing);
}
