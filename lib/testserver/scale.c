/* libkreconcile-testserver — the /scale subresource (autoscaling/v1 Scale)
 * of Deployments, ReplicaSets, StatefulSets, ReplicationControllers and
 * custom resources that declare one: GET reads replicas and selector (as a
 * selector string) from the object; PUT and PATCH write spec replicas back
 * through the ordinary update path. */
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

/* One requirement of a selector: its key and its text. */
typedef struct {
    const char *key;
    char *text;
} requirement;

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A requirement's String(): "k=v", "k in (a,b)", "k notin (a,b)", "k",
 * "!k"; the values sorted. NULL for an operator there is none of. */
static char *requirement_text(const char *key, const char *op, const json_t *values)
{
    kr_buf b = {0};
    bool in = strcmp(op, "In") == 0, notin = strcmp(op, "NotIn") == 0;
    if (strcmp(op, "Exists") == 0)
        kr_buf_append_str(&b, key);
    else if (strcmp(op, "DoesNotExist") == 0)
        kr_buf_printf(&b, "!%s", key);
    else if (in || notin) {
        size_t n = json_array_size(values), k = 0;
        const char **v = n ? kr_calloc(n, sizeof(*v)) : NULL;
        for (size_t i = 0; v && i < n; i++)
            if (json_is_string(json_array_get(values, i)))
                v[k++] = json_string_value(json_array_get(values, i));
        if (v)
            qsort((void *)v, k, sizeof(*v), cmp_text);
        kr_buf_printf(&b, "%s %s (", key, in ? "in" : "notin");
        for (size_t i = 0; i < k; i++)
            kr_buf_printf(&b, "%s%s", i ? "," : "", v[i]);
        kr_buf_append_str(&b, ")");
        kr_free((void *)v);
    } else
        return NULL;
    return b.data;
}

/* The selector as status.selector says it: metav1.LabelSelectorAsSelector's
 * String() (a ReplicationController's map as labels.SelectorFromSet's):
 * matchLabels then matchExpressions, stably sorted by key, joined by ",".
 * A custom resource's is the string at its labelSelectorPath. "" when there
 * is none. */
static char *selector_text(const ts_resource *res, const json_t *obj)
{
    if (res->scale_selector_path) {
        const char *s = json_string_value(ts_json_path(obj, res->scale_selector_path));
        return kr_strdup(s ? s : "");
    }
    if (res->crd) /* a custom resource without labelSelectorPath */
        return kr_strdup("");
    bool rc = ts_resource_is(res, "", "replicationcontrollers");
    const json_t *sel = ts_json_path(obj, ".spec.selector");
    const json_t *ml = rc ? sel : json_object_get(sel, "matchLabels");
    const json_t *exprs = rc ? NULL : json_object_get(sel, "matchExpressions");
    size_t cap = json_object_size(ml) + json_array_size(exprs), n = 0;
    requirement *reqs = cap ? kr_calloc(cap, sizeof(*reqs)) : NULL;
    size_t nkeys = 0;
    const char **keys = ts_sorted_keys(ml, &nkeys);
    for (size_t i = 0; reqs && i < nkeys; i++) {
        const char *v = json_string_value(json_object_get(ml, keys[i]));
        reqs[n].key = keys[i];
        reqs[n++].text = kr_asprintf("%s=%s", keys[i], v ? v : "");
    }
    kr_free((void *)keys);
    size_t i;
    const json_t *e;
    json_array_foreach(exprs, i, e)
    {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *op = json_string_value(json_object_get(e, "operator"));
        char *text =
            reqs && key && op ? requirement_text(key, op, json_object_get(e, "values")) : NULL;
        if (text) {
            reqs[n].key = key;
            reqs[n++].text = text;
        }
    }
    /* insertion sort: stable, as sort.Sort is on so few */
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(reqs[b].key, reqs[b - 1].key) < 0; b--) {
            requirement t = reqs[b];
            reqs[b] = reqs[b - 1];
            reqs[b - 1] = t;
        }
    kr_buf out = {0};
    kr_buf_append(&out, "", 0);
    for (size_t k = 0; k < n; k++) {
        kr_buf_printf(&out, "%s%s", k ? "," : "", reqs[k].text ? reqs[k].text : "");
        kr_free(reqs[k].text);
    }
    kr_free(reqs);
    return out.data;
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
    /* autoscaling/v1 omits an empty spec.replicas and status.selector */
    json_t *scale =
        json_pack("{s:s, s:s, s:o, s:{}, s:{s:I}}", "kind", "Scale", "apiVersion", "autoscaling/v1",
                  "metadata", smd, "spec", "status", "replicas", have);
    if (scale && want)
        json_object_set_new(json_object_get(scale, "spec"), "replicas", json_integer(want));
    if (scale && sel && *sel)
        json_object_set_new(json_object_get(scale, "status"), "selector", json_string(sel));
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
    } else if (want && !res->crd && json_integer_value(replicas) < 0) {
        /* a built-in's ScaleREST validates the Scale (ValidateScale) before
         * the object; a custom resource's is validated as the object */
        char text[96];
        snprintf(text, sizeof(text), "Invalid value: %lld: must be greater than or equal to 0",
                 (long long)json_integer_value(replicas));
        ts_respond_invalid(resp, "Scale", "autoscaling", rt->name, "spec.replicas",
                           "FieldValueInvalid", text);
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
