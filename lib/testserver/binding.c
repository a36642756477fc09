/* libkreconcile-testserver — pods/binding and the core `bindings`
 * resource (wire spec §8): what a scheduler sends to place a pod on a
 * node. As kube-apiserver's BindingREST does, the pod gets spec.nodeName,
 * the Binding's annotations and a PodScheduled=True condition, written to
 * storage directly (no managedFields entry); a pod already placed, being
 * deleted or still gated is a 409, and the answer is a Status 201. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

static void respond_binding_conflict(ts_response *resp, const char *name, const char *why)
{
    char *msg = kr_asprintf("Operation cannot be fulfilled on pods/binding \"%s\": %s", name, why);
    ts_respond_status(resp, 409, "Conflict", msg,
                      json_pack("{s:s, s:s}", "name", name, "kind", "pods/binding"));
    kr_free(msg);
}

/* ValidatePodBinding's errors. BindingREST returns them as a plain error,
 * so kube-apiserver answers 500 with no reason and the aggregate as the
 * message. */
static int validate_binding(const json_t *binding, ts_response *resp)
{
    const json_t *target = json_object_get(binding, "target");
    const char *kind = json_string_value(json_object_get(target, "kind"));
    const char *node = json_string_value(json_object_get(target, "name"));
    kr_buf b = {0};
    int n = 0;
    if (kind && *kind && strcmp(kind, "Node") != 0) {
        kr_buf_append_str(&b, "target.kind: Unsupported value: ");
        ts_go_quote(&b, kind);
        kr_buf_append_str(&b, ": supported values: \"Node\", \"<empty>\"");
        n++;
    }
    if (!node || !*node) {
        kr_buf_printf(&b, "%starget.name: Required value", n ? ", " : "");
        n++;
    }
    if (n) {
        char *msg = kr_asprintf(n > 1 ? "[%s]" : "%s", b.data ? b.data : "");
        ts_respond_status(resp, 500, NULL, msg, NULL);
        kr_free(msg);
    }
    kr_buf_free(&b);
    return n ? -1 : 0;
}

/* The pod's PodScheduled condition set to True, its transition time now
 * when it changes (podutil.UpdatePodCondition). */
static int set_scheduled(json_t *pod)
{
    json_t *status = json_object_get(pod, "status");
    if (!json_is_object(status)) {
        status = json_object();
        if (!status || json_object_set_new(pod, "status", status) != 0)
            return KR_ENOMEM;
    }
    json_t *conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        if (!conds || json_object_set_new(status, "conditions", conds) != 0)
            return KR_ENOMEM;
    }
    char now[32];
    ts_timestamp(now);
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        if (!type || strcmp(type, "PodScheduled") != 0)
            continue;
        const char *was = json_string_value(json_object_get(c, "status"));
        if (!was || strcmp(was, "True") != 0) {
            json_object_set_new(c, "lastTransitionTime", json_string(now));
            json_object_del(c, "reason");
            json_object_del(c, "message");
        }
        json_object_set_new(c, "status", json_string("True"));
        return 0;
    }
    return json_array_append_new(conds,
                                 json_pack("{s:s, s:s, s:n, s:s}", "type", "PodScheduled", "status",
                                           "True", "lastProbeTime", "lastTransitionTime", now)) == 0
               ? 0
               : KR_ENOMEM;
}

/* Binds the pod `name` in `ns` as `binding` asks; fills resp. */
static void bind_pod(kr_testserver_t *ts, const ts_request *req, const char *ns, const char *name,
                     const json_t *binding, ts_response *resp)
{
    if (validate_binding(binding, resp) != 0)
        return;
    bool dry = false;
    if (ts_write_options(req, resp, TS_OPTS_CREATE, &dry) != 0)
        return;
    ts_resource *pods = ts_resource_find(ts, "", "v1", "pods");
    ts_obj *cur = pods ? ts_store_get(pods->store, ns, name) : NULL;
    if (!cur) {
        ts_respond_not_found(resp, pods, name);
        return;
    }
    /* The Binding's uid and resourceVersion, when set, are preconditions
     * on the pod. */
    json_t *pre = json_object();
    static const char *const fields[] = {"uid", "resourceVersion"};
    for (size_t i = 0; pre && i < KR_ARRAY_LEN(fields); i++) {
        const char *want = ts_meta_str(binding, fields[i]);
        if (want && *want && json_object_set_new(pre, fields[i], json_string(want)) != 0) {
            json_decref(pre);
            pre = NULL;
        }
    }
    if (!pre) {
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                          NULL);
        return;
    }
    int failed = ts_check_preconditions(pods, name, cur->obj, pre, resp);
    json_decref(pre);
    if (failed)
        return;
    const json_t *spec = json_object_get(cur->obj, "spec");
    const char *placed = json_string_value(json_object_get(spec, "nodeName"));
    char why[512];
    if (json_object_get(json_object_get(cur->obj, "metadata"), "deletionTimestamp")) {
        snprintf(why, sizeof(why), "pod %s is being deleted, cannot be assigned to a host", name);
        respond_binding_conflict(resp, name, why);
        return;
    }
    if (placed && *placed) {
        snprintf(why, sizeof(why), "pod %s is already assigned to node \"%s\"", name, placed);
        respond_binding_conflict(resp, name, why);
        return;
    }
    if (json_array_size(json_object_get(spec, "schedulingGates"))) {
        snprintf(why, sizeof(why), "pod %s has non-empty .spec.schedulingGates", name);
        respond_binding_conflict(resp, name, why);
        return;
    }
    if (!dry) {
        json_t *pod = json_deep_copy(cur->obj);
        json_t *md = pod ? ts_meta(pod) : NULL;
        json_t *ann = md ? json_object_get(md, "annotations") : NULL;
        const json_t *add = json_object_get(json_object_get(binding, "metadata"), "annotations");
        if (md && json_object_size(add) && !json_is_object(ann))
            json_object_set_new(md, "annotations", ann = json_object());
        int rc = pod && md ? 0 : KR_ENOMEM;
        if (rc == 0 && json_object_size(add))
            rc = json_object_update(ann, (json_t *)add) == 0 ? 0 : KR_ENOMEM;
        if (rc == 0)
            rc = json_object_set_new(json_object_get(pod, "spec"), "nodeName",
                                     json_string(json_string_value(json_object_get(
                                         json_object_get(binding, "target"), "name")))) == 0
                     ? 0
                     : KR_ENOMEM;
        if (rc == 0)
            rc = set_scheduled(pod);
        char rv[32];
        snprintf(rv, sizeof(rv), "%llu", ts->rv + 1);
        if (rc == 0)
            rc = json_object_set_new(md, "resourceVersion", json_string(rv)) == 0 ? 0 : KR_ENOMEM;
        char *key = rc == 0 ? kr_strdup(name) : NULL;
        json_t *before = json_incref(cur->obj);
        if (key && ts_store_put(pods->store, ns, key, json_incref(pod)) == 0) {
            ts->rv++;
            ts_record_event(ts, pods, TS_MODIFIED, pod, before);
        } else {
            rc = KR_ENOMEM;
        }
        kr_free(key);
        json_decref(before);
        json_decref(pod);
        if (rc != 0) {
            ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                              NULL);
            return;
        }
    }
    ts_respond_json(resp, 201,
                    json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                              "metadata", "status", "Success", "code", 201));
}

void ts_handle_pod_binding(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                           ts_response *resp)
{
    json_t *binding = ts_read_body(req, resp);
    if (!binding)
        return;
    const char *ns = ts_meta_str(binding, "namespace");
    const char *name = ts_meta_str(binding, "name");
    if (ns && *ns && strcmp(ns, rt->ns) != 0)
        ts_respond_bad_request(resp, "the namespace of the provided object does not match the "
                                     "namespace sent on the request");
    else if (!name || strcmp(name, rt->name) != 0)
        ts_respond_bad_request(resp, "name in URL does not match name in Binding object");
    else
        bind_pod(ts, req, rt->ns, rt->name, binding, resp);
    json_decref(binding);
}

void ts_handle_bindings_create(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                               ts_response *resp)
{
    json_t *binding = ts_read_object(req, rt, NULL, NULL, resp);
    if (!binding)
        return;
    const char *name = ts_meta_str(binding, "name");
    if (!name || !*name)
        ts_respond_bad_request(resp, "Name parameter required.");
    else
        bind_pod(ts, req, rt->ns, name, binding, resp);
    json_decref(binding);
}
