/* libkreconcile-testserver — APIServices (apiregistration.k8s.io/v1), as
 * kube-apiserver's aggregator keeps them: one per group version it serves
 * itself (written at start, labelled automanaged "onstart", with the
 * priorities of its table), and one per version a CustomResourceDefinition
 * serves (its crd-autoregister controller: priorities 1000 and 100,
 * automanaged "true"), removed when no CRD serves that version any more.
 * Each is "Local" and Available. APIServices that name a Service are stored
 * but never Available: nothing is proxied to them. Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

#define AUTOMANAGED "kube-aggregator.kubernetes.io/automanaged"

/* kube-apiserver 1.32's priorities of its own group versions (the
 * aggregator's apiVersionPriorities); versions not listed get 15. */
static const struct {
    const char *group, *version;
    int group_min, version_priority;
} priorities[] = {
    {"", "v1", 18000, 1},
    {"apiregistration.k8s.io", "v1", 18000, 15},
    {"apps", "v1", 17800, 15},
    {"events.k8s.io", "v1", 17750, 15},
    {"authentication.k8s.io", "v1", 17700, 15},
    {"authorization.k8s.io", "v1", 17600, 15},
    {"autoscaling", "v2", 17500, 30},
    {"autoscaling", "v1", 17500, 15},
    {"batch", "v1", 17400, 15},
    {"certificates.k8s.io", "v1", 17300, 15},
    {"networking.k8s.io", "v1", 17200, 15},
    {"policy", "v1", 17100, 15},
    {"rbac.authorization.k8s.io", "v1", 17000, 15},
    {"storage.k8s.io", "v1", 16800, 15},
    {"apiextensions.k8s.io", "v1", 16700, 15},
    {"admissionregistration.k8s.io", "v1", 16700, 15},
    {"scheduling.k8s.io", "v1", 16600, 15},
    {"coordination.k8s.io", "v1", 16500, 15},
    {"node.k8s.io", "v1", 16300, 15},
    {"discovery.k8s.io", "v1", 16200, 15},
    {"flowcontrol.apiserver.k8s.io", "v1", 16100, 21},
};

/* "v1." for the core group, "v1.apps" for another. */
static void name_of(const char *group, const char *version, char *out, size_t len)
{
    snprintf(out, len, "%s.%s", version, group);
}

static json_t *apiservice(const char *group, const char *version, bool crd)
{
    int group_min = crd ? 1000 : 16000, version_priority = crd ? 100 : 15;
    for (size_t i = 0; !crd && i < KR_ARRAY_LEN(priorities); i++) {
        if (strcmp(priorities[i].group, group) == 0 &&
            strcmp(priorities[i].version, version) == 0) {
            group_min = priorities[i].group_min;
            version_priority = priorities[i].version_priority;
        }
    }
    char name[320];
    name_of(group, version, name, sizeof(name));
    /* "service": null, as the Go type writes a nil pointer without omitempty */
    json_t *spec =
        json_pack("{s:n, s:s, s:i, s:i}", "service", "version", version, "groupPriorityMinimum",
                  group_min, "versionPriority", version_priority);
    if (spec && group[0])
        json_object_set_new(spec, "group", json_string(group));
    return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:o}", "apiVersion", "apiregistration.k8s.io/v1",
                     "kind", "APIService", "metadata", "name", name, "labels", AUTOMANAGED,
                     crd ? "true" : "onstart", "spec", spec);
}

static ts_resource *apiservices(kr_testserver_t *ts)
{
    return ts_resource_find(ts, "apiregistration.k8s.io", "v1", "apiservices");
}

int ts_apiservice_status(kr_testserver_t *ts, json_t *obj)
{
    const json_t *svc = json_object_get(json_object_get(obj, "spec"), "service");
    const char *ns = json_string_value(json_object_get(svc, "namespace"));
    const char *name = json_string_value(json_object_get(svc, "name"));
    char now[32], message[600];
    ts_timestamp(now);
    const char *status = "True", *reason = "Local";
    snprintf(message, sizeof(message), "Local APIServices are always available");
    if (json_is_object(svc)) {
        ts_resource *services = ts_resource_find(ts, "", "v1", "services");
        status = "False";
        if (!services || !ns || !name || !ts_store_get(services->store, ns, name)) {
            reason = "ServiceNotFound";
            snprintf(message, sizeof(message), "service/%s in \"%s\" is not present",
                     name ? name : "", ns ? ns : "");
        } else {
            reason = "FailedDiscoveryCheck";
            snprintf(message, sizeof(message),
                     "failing or missing response from service/%s in \"%s\": kr-apiserver "
                     "proxies no aggregated API",
                     name, ns);
        }
    }
    json_t *st =
        json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}]}", "conditions", "type", "Available", "status",
                  status, "lastTransitionTime",
                  ts_condition_since(json_object_get(obj, "status"), "Available", status, now),
                  "reason", reason, "message", message);
    if (!st || json_object_set_new(obj, "status", st) != 0)
        return KR_ENOMEM;
    return 0;
}

/* Create the APIService of group/version unless it exists. 0 or KR_ENOMEM. */
static int ensure(kr_testserver_t *ts, const char *group, const char *version, bool crd)
{
    ts_resource *res = apiservices(ts);
    char name[320];
    name_of(group, version, name, sizeof(name));
    if (!res || ts_store_get(res->store, "", name))
        return 0;
    json_t *obj = apiservice(group, version, crd);
    if (!obj)
        return KR_ENOMEM;
    ts_route rt = {.res = res, .name = name};
    ts_request req = {.method = "POST", .path = ""};
    ts_write w = {.req = &req,
                  .rt = &rt,
                  .manager = crd ? "kube-apiserver-crd-autoregister" : "kube-apiserver",
                  .no_body = true};
    ts_response resp = {0};
    ts_commit_create(ts, &w, obj, &resp); /* takes obj; Available in the same write */
    bool made = resp.status == 201;
    ts_response_clear(&resp);
    return made ? 0 : KR_ENOMEM;
}

int ts_apiservices_bootstrap(kr_testserver_t *ts)
{
    for (size_t i = 0; i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        int rc = r->crd_name ? 0 : ensure(ts, r->group, r->version, false);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int ts_apiservices_crd_served(kr_testserver_t *ts, const json_t *crd)
{
    const char *name = ts_meta_str(crd, "name");
    for (size_t i = 0; name && i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        int rc = r->crd_name && strcmp(r->crd_name, name) == 0
                     ? ensure(ts, r->group, r->version, true)
                     : 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

void ts_apiservices_sync(kr_testserver_t *ts)
{
    ts_resource *res = apiservices(ts);
    if (!res)
        return;
    /* automanaged "true" ones whose group version nothing serves now */
    for (size_t i = res->store->len; i-- > 0;) {
        ts_obj *o = &res->store->items[i];
        const json_t *labels = json_object_get(ts_meta(o->obj), "labels");
        const char *managed = json_string_value(json_object_get(labels, AUTOMANAGED));
        const json_t *spec = json_object_get(o->obj, "spec");
        const char *group = json_string_value(json_object_get(spec, "group"));
        const char *version = json_string_value(json_object_get(spec, "version"));
        if (!managed || strcmp(managed, "true") != 0 || !version)
            continue;
        bool served = false;
        for (size_t k = 0; k < ts->nresources && !served; k++)
            served = strcmp(ts->resources[k]->group, group ? group : "") == 0 &&
                     strcmp(ts->resources[k]->version, version) == 0;
        if (served)
            continue;
        json_t *last = json_deep_copy(o->obj);
        char rv[32];
        snprintf(rv, sizeof(rv), "%llu", ++ts->rv);
        if (last)
            json_object_set_new(ts_meta(last), "resourceVersion", json_string(rv));
        json_t *before = json_incref(o->obj);
        ts_store_remove(res->store, o->ns, o->name);
        if (last)
            ts_record_event(ts, res, TS_DELETED, last, before);
        json_decref(before);
        json_decref(last);
    }
}
