/* libkreconcile-testserver — DELETE and deletecollection: DeleteOptions,
 * preconditions, finalizers and deletionTimestamp, the Status-or-object
 * answer, namespace and CRD contents, ownerReference cascade (wire spec
 * §3, §9). Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

#define MAX_CASCADE_DEPTH 8

static void delete_now(kr_testserver_t *ts, const ts_resource *res, const char *ns,
                       const char *name, int depth);

static json_t *with_rv(kr_testserver_t *ts, const json_t *obj)
{
    json_t *copy = json_deep_copy(obj);
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", ++ts->rv);
    if (copy)
        json_object_set_new(ts_meta(copy), "resourceVersion", json_string(rv));
    return copy;
}

static void remove_matching(kr_testserver_t *ts, ts_store *st, const char *ns, const char *uid,
                            int depth)
{
    for (size_t r = 0; r < ts->nresources; r++) {
        ts_resource *res = ts->resources[r];
        if (res->store != st || !res->namespaced)
            continue;
        for (size_t i = st->len; i-- > 0;) {
            const json_t *o = st->items[i].obj;
            bool hit = false;
            if (ns && !uid)
                hit = strcmp(st->items[i].ns, ns) == 0;
            size_t k;
            const json_t *ref;
            for (k = 0; k < json_array_size(json_object_get(json_object_get(o, "metadata"),
                                                            "ownerReferences")) &&
                        (ref = json_array_get(
                             json_object_get(json_object_get(o, "metadata"), "ownerReferences"),
                             k)) != NULL;
                 k++) {
                const char *ru = json_string_value(json_object_get(ref, "uid"));
                hit = hit || (uid && ru && strcmp(ru, uid) == 0);
            }
            if (hit && i < st->len)
                delete_now(ts, res, st->items[i].ns, st->items[i].name, depth + 1);
        }
        break;
    }
}

/* Namespaces take their contents with them; owners take dependents. */
static void delete_dependents(kr_testserver_t *ts, const ts_resource *res, const json_t *obj,
                              int depth)
{
    if (depth > MAX_CASCADE_DEPTH)
        return;
    const char *uid = ts_meta_str(obj, "uid");
    bool is_ns = ts_resource_is(res, "", "namespaces");
    const char *name = ts_meta_str(obj, "name");
    for (size_t s = 0; s < ts->nstores; s++)
        remove_matching(ts, ts->stores[s], is_ns ? name : NULL, is_ns ? NULL : uid, depth);
}

static bool has_finalizers(const json_t *obj)
{
    return json_array_size(json_object_get(json_object_get(obj, "metadata"), "finalizers")) > 0;
}

/* Mark (finalizers) or remove one object; returns the new state (new ref). */
static json_t *delete_one(kr_testserver_t *ts, const ts_resource *res, const char *ns,
                          const char *name, bool *gone)
{
    ts_obj *o = ts_store_get(res->store, ns, name);
    json_t *cur = json_incref(o->obj);
    *gone = false;
    if (has_finalizers(cur)) {
        if (json_object_get(json_object_get(cur, "metadata"), "deletionTimestamp"))
            return cur;
        json_t *marked = with_rv(ts, cur);
        if (!marked)
            return cur;
        char now[32];
        ts_timestamp(now);
        json_t *md = ts_meta(marked);
        json_object_set_new(md, "deletionTimestamp", json_string(now));
        json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
        if (res->generation)
            json_object_set_new(
                md, "generation",
                json_integer(json_integer_value(json_object_get(md, "generation")) + 1));
        if (ts_store_put(res->store, ns, name, json_incref(marked)) == 0)
            ts_record_event(ts, res, TS_MODIFIED, marked, cur);
        json_decref(cur);
        return marked;
    }
    json_t *last = with_rv(ts, cur);
    json_decref(cur);
    if (!last)
        return NULL;
    ts_store_remove(res->store, ns, name);
    ts_record_event(ts, res, TS_DELETED, last, NULL);
    *gone = true;
    if (ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions"))
        ts_crd_removed(ts, last);
    if (ts->rbac && ts_resource_is(res, "rbac.authorization.k8s.io", "clusterroles"))
        ts_rbac_aggregate(ts);
    return last;
}

static void delete_now(kr_testserver_t *ts, const ts_resource *res, const char *ns,
                       const char *name, int depth)
{
    bool gone;
    json_t *last = delete_one(ts, res, ns, name, &gone);
    if (last && gone)
        delete_dependents(ts, res, last, depth);
    json_decref(last);
}

/* CRD objects go before their definition. */
static void delete_crd_objects(kr_testserver_t *ts, const json_t *crd)
{
    const char *name = ts_meta_str(crd, "name");
    for (size_t i = 0; name && i < ts->nresources; i++) {
        ts_resource *r = ts->resources[i];
        if (!r->crd_name || strcmp(r->crd_name, name) != 0)
            continue;
        while (r->store->len > 0) {
            ts_obj *o = &r->store->items[r->store->len - 1];
            json_t *last = with_rv(ts, o->obj);
            ts_store_remove(r->store, o->ns, o->name);
            if (last)
                ts_record_event(ts, r, TS_DELETED, last, NULL);
            json_decref(last);
        }
        return;
    }
}

/* ---- options ---------------------------------------------------------------------- */

struct delete_opts {
    const char *propagation;
    json_t *doc;
    bool dry_run, orphan_false;
};

static int read_options(const ts_request *req, struct delete_opts *o, ts_response *resp)
{
    memset(o, 0, sizeof(*o));
    if (ts_dry_run(req, resp, "DeleteOptions", &o->dry_run) != 0)
        return -1;
    o->propagation = ts_query(req, "propagationPolicy");
    if (req->body_len > 0) {
        bool pb = ts_content_is_protobuf(req), yaml = ts_content_is_yaml(req);
        if (!pb && !yaml && !ts_content_is_json(req)) {
            ts_respond_unsupported_media(resp, "application/json, application/yaml, "
                                               "application/vnd.kubernetes.protobuf");
            return -1;
        }
        if (pb || yaml) {
            o->doc = pb ? ts_parse_protobuf_body(req, resp) : ts_parse_body(req, true, resp);
            if (!o->doc)
                return -1;
        } else {
            json_error_t jerr;
            o->doc = json_loadb(req->body, req->body_len, 0, &jerr);
            if (!json_is_object(o->doc)) {
                json_decref(o->doc);
                o->doc = NULL;
                ts_respond_bad_request(resp, "couldn't get version/kind; json parse error: %s",
                                       jerr.text);
                return -1;
            }
        }
        const char *p = json_string_value(json_object_get(o->doc, "propagationPolicy"));
        if (p)
            o->propagation = p;
        o->orphan_false = json_is_false(json_object_get(o->doc, "orphanDependents"));
        if (json_array_size(json_object_get(o->doc, "dryRun")) > 0)
            o->dry_run = true;
    }
    if (o->propagation && strcmp(o->propagation, "Orphan") != 0 &&
        strcmp(o->propagation, "Background") != 0 && strcmp(o->propagation, "Foreground") != 0) {
        char *cause = kr_asprintf("Unsupported value: \"%s\": supported values: \"Foreground\", "
                                  "\"Background\", \"Orphan\"",
                                  o->propagation);
        ts_respond_invalid(resp, "DeleteOptions", "meta.k8s.io", "", "propagationPolicy",
                           "FieldValueNotSupported", cause ? cause : "Unsupported value");
        kr_free(cause);
        json_decref(o->doc);
        o->doc = NULL;
        return -1;
    }
    return 0;
}

int ts_check_preconditions(const ts_resource *res, const char *name, const json_t *obj,
                           const json_t *pre, ts_response *resp)
{
    static const char *const fields[][2] = {{"uid", "UID"}, {"resourceVersion", "ResourceVersion"}};
    for (size_t i = 0; i < KR_ARRAY_LEN(fields); i++) {
        const char *want = json_string_value(json_object_get(pre, fields[i][0]));
        const char *have = ts_meta_str(obj, fields[i][0]);
        if (!want || (have && strcmp(want, have) == 0))
            continue;
        char why[512];
        snprintf(why, sizeof(why),
                 "Precondition failed: %s in precondition: %s, %s in object "
                 "meta: %s",
                 fields[i][1], want, fields[i][1], have ? have : "");
        ts_respond_conflict(resp, res, name, why);
        return -1;
    }
    return 0;
}

static void respond_deleted(ts_response *resp, const ts_resource *res, json_t *last, bool gone,
                            bool orphan_false)
{
    if (gone && !res->delete_returns_object) {
        json_t *d = ts_details(res, ts_meta_str(last, "name"), false);
        const char *uid = ts_meta_str(last, "uid");
        if (d && uid)
            json_object_set_new(d, "uid", json_string(uid));
        json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status", "apiVersion", "v1",
                               "metadata", "status", "Success", "details", d ? d : json_object());
        json_decref(last);
        ts_respond_json(resp, 200, st);
        return;
    }
    ts_respond_json(resp, (!gone && orphan_false) ? 202 : 200, last);
}

static bool cascades(const struct delete_opts *o)
{
    return !o->propagation || strcmp(o->propagation, "Orphan") != 0;
}

void ts_handle_delete(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                      ts_response *resp)
{
    struct delete_opts o;
    if (read_options(req, &o, resp) != 0)
        return;
    const ts_resource *res = rt->res;
    const char *ns = rt->ns ? rt->ns : "";
    ts_obj *cur = ts_store_get(res->store, ns, rt->name);
    if (!cur) {
        ts_respond_not_found(resp, res, rt->name);
    } else if (ts_check_preconditions(res, rt->name, cur->obj,
                                      json_object_get(o.doc, "preconditions"), resp) == 0) {
        if (o.dry_run) {
            json_t *obj = json_incref(cur->obj);
            respond_deleted(resp, res, obj, !has_finalizers(obj), o.orphan_false);
        } else {
            bool is_crd = ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions");
            if (is_crd && !has_finalizers(cur->obj))
                delete_crd_objects(ts, cur->obj);
            bool gone;
            json_t *last = delete_one(ts, res, ns, rt->name, &gone);
            if (last && gone && (cascades(&o) || ts_resource_is(res, "", "namespaces")))
                delete_dependents(ts, res, last, 0);
            respond_deleted(resp, res, last, gone, o.orphan_false);
        }
    }
    json_decref(o.doc);
}

void ts_handle_deletecollection(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                                ts_response *resp)
{
    struct delete_opts o;
    if (read_options(req, &o, resp) != 0)
        return;
    ts_labels_t *labels;
    ts_fieldsel fields;
    if (ts_parse_selectors(req, rt->res, &labels, &fields, resp) != 0) {
        json_decref(o.doc);
        return;
    }
    char *av = ts_api_version(rt->res);
    json_t *list = json_pack("{s:s, s:s, s:{}, s:[]}", "kind", rt->res->list_kind, "apiVersion",
                             av ? av : "", "metadata", "items");
    kr_free(av);
    ts_store *st = rt->res->store;
    for (size_t i = st->len; list && i-- > 0;) {
        ts_obj *ob = &st->items[i];
        if ((rt->ns && strcmp(ob->ns, rt->ns) != 0) || !ts_object_matches(labels, &fields, ob->obj))
            continue;
        bool gone = false;
        json_t *last =
            o.dry_run ? json_incref(ob->obj) : delete_one(ts, rt->res, ob->ns, ob->name, &gone);
        if (last)
            json_array_insert_new(json_object_get(list, "items"), 0, last);
        if (i > st->len)
            i = st->len;
    }
    json_object_set_new(json_object_get(list, "metadata"), "resourceVersion",
                        json_sprintf("%llu", ts->rv));
    ts_respond_json(resp, 200, list);
    ts_labels_free(labels);
    ts_fieldsel_free(&fields);
    json_decref(o.doc);
}

/* ---- eviction --------------------------------------------------------------------- */

/* The disruption budget that covers the pod: 0 when none does, 1 with *out
 * set, 2 when more than one does. */
static int pod_budget(kr_testserver_t *ts, const char *ns, const json_t *pod, ts_obj **out)
{
    ts_resource *pdbs = ts_resource_find(ts, "policy", "v1", "poddisruptionbudgets");
    const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
    int found = 0;
    for (size_t i = pdbs ? ts_store_lower_bound(pdbs->store, ns, "") : 0;
         pdbs && i < pdbs->store->len && strcmp(pdbs->store->items[i].ns, ns) == 0; i++) {
        ts_obj *o = &pdbs->store->items[i];
        const json_t *sel = json_object_get(json_object_get(o->obj, "spec"), "selector");
        kr_buf text = {0};
        ts_selector_text(sel, &text);
        ts_labels_t *parsed = NULL;
        char msg[256];
        /* a budget without a selector, or with an empty one, selects nothing */
        bool matches = sel && text.len &&
                       ts_labels_parse(text.data, &parsed, msg, sizeof(msg)) == 0 &&
                       ts_labels_matches(parsed, labels);
        ts_labels_free(parsed);
        kr_buf_free(&text);
        if (matches && found++ == 0)
            *out = o;
    }
    return found > 1 ? 2 : found;
}

void ts_handle_eviction(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                        ts_response *resp)
{
    const ts_resource *res = rt->res;
    ts_obj *cur = ts_store_get(res->store, rt->ns, rt->name);
    if (!cur) {
        ts_respond_not_found(resp, res, rt->name);
        return;
    }
    json_t *ev = ts_read_body(req, resp);
    if (!ev)
        return;
    const char *name = json_string_value(json_object_get(json_object_get(ev, "metadata"), "name"));
    if (name && strcmp(name, rt->name) != 0) {
        ts_respond_bad_request(resp, "name in URL does not match name in Eviction object");
        json_decref(ev);
        return;
    }
    const json_t *pod = cur->obj;
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    /* a pod that is not running, or already going, is not protected */
    bool protected = phase && strcmp(phase, "Running") == 0 &&
                     !json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp");
    ts_obj *pdb = NULL;
    int budgets = protected ? pod_budget(ts, rt->ns, pod, &pdb) : 0;
    if (budgets == 2) {
        ts_respond_status(resp, 500, "InternalError",
                          "This pod has more than one PodDisruptionBudget, which the eviction "
                          "subresource does not support.",
                          NULL);
        json_decref(ev);
        return;
    }
    if (budgets == 1) {
        const json_t *st = json_object_get(pdb->obj, "status");
        json_int_t allowed = json_integer_value(json_object_get(st, "disruptionsAllowed"));
        if (allowed <= 0) {
            char cause[600];
            snprintf(cause, sizeof(cause),
                     "The disruption budget %s needs %lld healthy pods and has %lld currently",
                     pdb->name,
                     (long long)json_integer_value(json_object_get(st, "desiredHealthy")),
                     (long long)json_integer_value(json_object_get(st, "currentHealthy")));
            ts_respond_status(resp, 429, "TooManyRequests",
                              "Cannot evict pod as it would violate the pod's disruption budget.",
                              json_pack("{s:[{s:s, s:s}]}", "causes", "reason", "DisruptionBudget",
                                        "message", cause));
            json_decref(ev);
            return;
        }
    }
    bool dry = json_array_size(json_object_get(json_object_get(ev, "deleteOptions"), "dryRun")) > 0;
    if (!dry) {
        if (budgets == 1) {
            /* the budget spends one disruption, as the eviction REST does */
            ts_resource *pdbs = ts_resource_find(ts, "policy", "v1", "poddisruptionbudgets");
            json_t *next = with_rv(ts, pdb->obj);
            json_t *st = next ? json_object_get(next, "status") : NULL;
            if (st) {
                json_object_set_new(
                    st, "disruptionsAllowed",
                    json_integer(json_integer_value(json_object_get(st, "disruptionsAllowed")) -
                                 1));
                json_t *before = json_incref(pdb->obj);
                char *pdb_name = kr_strdup(pdb->name);
                if (pdb_name && ts_store_put(pdbs->store, rt->ns, pdb_name, json_incref(next)) == 0)
                    ts_record_event(ts, pdbs, TS_MODIFIED, next, before);
                kr_free(pdb_name);
                json_decref(before);
            }
            json_decref(next);
        }
        delete_now(ts, res, rt->ns, rt->name, 0);
    }
    ts_respond_json(resp, 201,
                    json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                              "metadata", "status", "Success", "code", 201));
    json_decref(ev);
}
