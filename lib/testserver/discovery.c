/* libkreconcile-testserver — discovery (aggregated and legacy, wire spec
 * §1.3), /version, health endpoints and the OpenAPI v3 minimum kubectl
 * needs for create/apply validation (§1.5, §9), all generated from the
 * resource table. Callers hold ts->mu. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"

static const char *const aggregated_v2 =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
static const char *const aggregated_v2beta1 =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

static json_t *verbs(const ts_resource *r)
{
    if (r->review)
        return json_pack("[s]", "create");
    json_t *v = json_pack("[s,s]", "create", "delete");
    if (!r->no_deletecollection)
        json_array_append_new(v, json_string("deletecollection"));
    const char *rest[] = {"get", "list", "patch", "update", "watch"};
    for (size_t i = 0; i < KR_ARRAY_LEN(rest); i++)
        json_array_append_new(v, json_string(rest[i]));
    return v;
}

static bool in_gv(const ts_resource *r, const char *group, const char *version)
{
    return strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0;
}

/* The core subresources served besides status and scale, with the kind
 * and the verb of each (handler.c, review.c, delete.c). */
static const struct {
    const char *res_group, *plural, *sub, *group, *version, *kind, *verbs;
} EXTRA_SUBS[] = {
    {"", "pods", "log", "", "v1", "Pod", "get"},
    {"", "pods", "exec", "", "v1", "PodExecOptions", "create get"},
    {"", "pods", "attach", "", "v1", "PodAttachOptions", "create get"},
    {"", "pods", "portforward", "", "v1", "PodPortForwardOptions", "create get"},
    {"", "pods", "eviction", "policy", "v1", "Eviction", "create"},
    {"", "pods", "binding", "", "v1", "Binding", "create"},
    {"", "pods", "ephemeralcontainers", "", "v1", "Pod", "get patch update"},
    {"", "namespaces", "finalize", "", "v1", "Namespace", "update"},
    {"", "serviceaccounts", "token", "authentication.k8s.io", "v1", "TokenRequest", "create"},
    {"certificates.k8s.io", "certificatesigningrequests", "approval", "certificates.k8s.io", "v1",
     "CertificateSigningRequest", "get patch update"},
};

static bool extra_sub(const ts_resource *r, size_t i)
{
    return ts_resource_is(r, EXTRA_SUBS[i].res_group, EXTRA_SUBS[i].plural);
}

/* The verbs of EXTRA_SUBS[i] as a JSON array. */
static json_t *extra_verbs(size_t i)
{
    json_t *out = json_array();
    for (const char *p = EXTRA_SUBS[i].verbs; out && *p;) {
        size_t len = strcspn(p, " ");
        json_array_append_new(out, json_stringn(p, len));
        p += len + (p[len] == ' ');
    }
    return out;
}

/* The array's objects sorted by their string member `key`, as the
 * apiserver installs its paths (sort.Strings): "pods" < "pods/attach" <
 * "podtemplates". */
static void sort_by(json_t *array, const char *key)
{
    size_t n = json_array_size(array);
    for (size_t i = 1; i < n; i++) { /* insertion sort: a few dozen entries */
        json_t *item = json_incref(json_array_get(array, i));
        const char *name = json_string_value(json_object_get(item, key));
        size_t j = i;
        while (j > 0) {
            const char *prev =
                json_string_value(json_object_get(json_array_get(array, j - 1), key));
            if (strcmp(prev ? prev : "", name ? name : "") <= 0)
                break;
            json_array_set(array, j, json_array_get(array, j - 1));
            j--;
        }
        json_array_set(array, j, item);
        json_decref(item);
    }
}

static json_t *aggregated_resource(const ts_resource *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "resource", r->plural,
                          "singularResource", r->singular, "scope",
                          r->namespaced ? "Namespaced" : "Cluster", "responseKind", "group",
                          r->group, "version", r->version, "kind", r->kind, "verbs", verbs(r));
    if (!o)
        return NULL;
    if (json_array_size(r->short_names))
        json_object_set(o, "shortNames", r->short_names);
    if (json_array_size(r->categories))
        json_object_set(o, "categories", r->categories);
    json_t *subs = json_array();
    if (r->has_status)
        json_array_append_new(subs,
                              json_pack("{s:s, s:[s,s,s], s:{s:s, s:s, s:s}}", "subresource",
                                        "status", "verbs", "get", "patch", "update", "responseKind",
                                        "group", r->group, "version", r->version, "kind", r->kind));
    if (r->scale_spec_path)
        json_array_append_new(subs,
                              json_pack("{s:s, s:[s,s,s], s:{s:s, s:s, s:s}}", "subresource",
                                        "scale", "verbs", "get", "patch", "update", "responseKind",
                                        "group", "autoscaling", "version", "v1", "kind", "Scale"));
    for (size_t i = 0; i < sizeof(EXTRA_SUBS) / sizeof(EXTRA_SUBS[0]); i++)
        if (extra_sub(r, i))
            json_array_append_new(subs,
                                  json_pack("{s:s, s:o, s:{s:s, s:s, s:s}}", "subresource",
                                            EXTRA_SUBS[i].sub, "verbs", extra_verbs(i),
                                            "responseKind", "group", EXTRA_SUBS[i].group, "version",
                                            EXTRA_SUBS[i].version, "kind", EXTRA_SUBS[i].kind));
    sort_by(subs, "subresource");
    if (json_array_size(subs))
        json_object_set(o, "subresources", subs);
    json_decref(subs);
    return o;
}

static json_t *aggregated_version(kr_testserver_t *ts, const char *group, const char *version)
{
    json_t *res = json_array();
    for (size_t i = 0; i < ts->nresources; i++)
        if (in_gv(ts->resources[i], group, version))
            json_array_append_new(res, aggregated_resource(ts->resources[i]));
    sort_by(res, "resource");
    return json_pack("{s:s, s:s, s:o}", "version", version, "freshness", "Current", "resources",
                     res);
}

/* The built-in groups in kube-apiserver's discovery order (its
 * APIServices' priorities, 1.32); others (custom resources) follow in
 * name order. */
static const char *const GROUP_ORDER[] = {
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "resource.k8s.io",
    "storagemigration.k8s.io",
};

static size_t group_rank(const char *group)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(GROUP_ORDER); i++)
        if (strcmp(group, GROUP_ORDER[i]) == 0)
            return i;
    return KR_ARRAY_LEN(GROUP_ORDER);
}

static int group_cmp(const char *a, const char *b)
{
    size_t ra = group_rank(a), rb = group_rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    return strcmp(a, b);
}

/* Distinct groups in discovery order (or the versions of one group, in
 * table order: the preferred first). */
static json_t *distinct(kr_testserver_t *ts, const char *group)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        if (group && strcmp(r->group, group) != 0)
            continue;
        if (!group && !r->group[0])
            continue;
        const char *v = group ? r->version : r->group;
        bool seen = false;
        size_t j;
        json_t *e;
        for (j = 0; j < json_array_size(out) && (e = json_array_get(out, j)) != NULL; j++)
            seen = seen || strcmp(json_string_value(e), v) == 0;
        if (seen)
            continue;
        /* groups: inserted at their place in discovery order; a group's
         * versions by priority, the preferred first (apiextensions sorts a
         * CRD's so, whatever the order its spec lists them in; the
         * built-in groups' orders agree) */
        size_t at = json_array_size(out);
        while (!group && at > 0 && group_cmp(json_string_value(json_array_get(out, at - 1)), v) > 0)
            at--;
        while (group && at > 0 &&
               ts_kube_version_cmp(json_string_value(json_array_get(out, at - 1)), v) < 0)
            at--;
        json_array_insert_new(out, at, json_string(v));
    }
    return out;
}

static json_t *aggregated_group(kr_testserver_t *ts, const char *group)
{
    json_t *versions = json_array(), *vs = distinct(ts, group);
    size_t i;
    json_t *v;
    for (i = 0; i < json_array_size(vs) && (v = json_array_get(vs, i)) != NULL; i++)
        json_array_append_new(versions, aggregated_version(ts, group, json_string_value(v)));
    json_decref(vs);
    json_t *md =
        group[0] ? json_pack("{s:s}", "name", group) : json_pack("{s:n}", "creationTimestamp");
    return json_pack("{s:o, s:o}", "metadata", md, "versions", versions);
}

/* `content_type`: the aggregated media type the client asked for, which
 * also names the list's apiVersion. */
static void respond_aggregated(kr_testserver_t *ts, bool core, const char *content_type,
                               ts_response *resp)
{
    const char *api_version =
        content_type == aggregated_v2 ? "apidiscovery.k8s.io/v2" : "apidiscovery.k8s.io/v2beta1";
    json_t *items = json_array();
    if (core) {
        json_array_append_new(items, aggregated_group(ts, ""));
    } else {
        json_t *groups = distinct(ts, NULL);
        size_t i;
        json_t *g;
        for (i = 0; i < json_array_size(groups) && (g = json_array_get(groups, i)) != NULL; i++)
            json_array_append_new(items, aggregated_group(ts, json_string_value(g)));
        json_decref(groups);
    }
    ts_respond_json(resp, 200,
                    json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList",
                              "apiVersion", api_version, "metadata", "items", items));
    resp->content_type = content_type;
}

/* ---- legacy discovery -------------------------------------------------------------- */

static json_t *legacy_resource_list(kr_testserver_t *ts, const char *group, const char *version)
{
    json_t *res = json_array();
    for (size_t i = 0; i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        if (!in_gv(r, group, version))
            continue;
        json_t *o =
            json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", r->plural, "singularName", r->singular,
                      "namespaced", r->namespaced, "kind", r->kind, "verbs", verbs(r));
        if (o && json_array_size(r->short_names))
            json_object_set(o, "shortNames", r->short_names);
        if (o && json_array_size(r->categories))
            json_object_set(o, "categories", r->categories);
        json_array_append_new(res, o);
        if (r->has_status) {
            char *name = kr_asprintf("%s/status", r->plural);
            json_array_append_new(res, json_pack("{s:s, s:s, s:b, s:s, s:[s,s,s]}", "name",
                                                 name ? name : "", "singularName", "", "namespaced",
                                                 r->namespaced, "kind", r->kind, "verbs", "get",
                                                 "patch", "update"));
            kr_free(name);
        }
        if (r->scale_spec_path) {
            char *name = kr_asprintf("%s/scale", r->plural);
            json_array_append_new(res,
                                  json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:[s,s,s]}", "name",
                                            name ? name : "", "singularName", "", "namespaced",
                                            r->namespaced, "group", "autoscaling", "version", "v1",
                                            "kind", "Scale", "verbs", "get", "patch", "update"));
            kr_free(name);
        }
        for (size_t k = 0; k < sizeof(EXTRA_SUBS) / sizeof(EXTRA_SUBS[0]); k++) {
            if (!extra_sub(r, k))
                continue;
            char *name = kr_asprintf("%s/%s", r->plural, EXTRA_SUBS[k].sub);
            json_t *sub = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name ? name : "",
                                    "singularName", "", "namespaced", r->namespaced, "kind",
                                    EXTRA_SUBS[k].kind, "verbs", extra_verbs(k));
            if (sub && EXTRA_SUBS[k].group[0] && strcmp(EXTRA_SUBS[k].group, r->group) != 0) {
                json_object_set_new(sub, "group", json_string(EXTRA_SUBS[k].group));
                json_object_set_new(sub, "version", json_string(EXTRA_SUBS[k].version));
            }
            json_array_append_new(res, sub);
            kr_free(name);
        }
    }
    sort_by(res, "name");
    char *gv = group[0] ? kr_asprintf("%s/%s", group, version) : kr_strdup(version);
    json_t *out = json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                            "groupVersion", gv ? gv : "", "resources", res);
    kr_free(gv);
    return out;
}

static json_t *legacy_group(kr_testserver_t *ts, const char *group)
{
    json_t *versions = json_array(), *vs = distinct(ts, group);
    size_t i;
    json_t *v;
    for (i = 0; i < json_array_size(vs) && (v = json_array_get(vs, i)) != NULL; i++) {
        char *gv = kr_asprintf("%s/%s", group, json_string_value(v));
        json_array_append_new(versions, json_pack("{s:s, s:s}", "groupVersion", gv ? gv : "",
                                                  "version", json_string_value(v)));
        kr_free(gv);
    }
    json_decref(vs);
    json_t *pref = json_array_get(versions, 0);
    return json_pack("{s:s, s:o, s:O}", "name", group, "versions", versions, "preferredVersion",
                     pref ? pref : json_null());
}

static json_t *legacy_group_list(kr_testserver_t *ts)
{
    json_t *groups = json_array(), *names = distinct(ts, NULL);
    size_t i;
    json_t *g;
    for (i = 0; i < json_array_size(names) && (g = json_array_get(names, i)) != NULL; i++)
        json_array_append_new(groups, legacy_group(ts, json_string_value(g)));
    json_decref(names);
    return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                     groups);
}

static bool gv_exists(kr_testserver_t *ts, const char *group, const char *version)
{
    for (size_t i = 0; i < ts->nresources; i++)
        if (in_gv(ts->resources[i], group, version))
            return true;
    return false;
}

/* ---- OpenAPI v3 ------------------------------------------------------------------------ */

static unsigned long long mix(const char *s, unsigned long long h)
{
    return kr_fold_mul(h ^ kr_str_hash(s), KR_HASH_K1);
}

static unsigned long long gv_hash(kr_testserver_t *ts, const char *group, const char *version)
{
    unsigned long long h = KR_HASH_K0;
    for (size_t i = 0; i < ts->nresources; i++)
        if (in_gv(ts->resources[i], group, version))
            h = mix(ts->resources[i]->kind, mix(ts->resources[i]->plural, h));
    return h;
}

static void openapi_index(kr_testserver_t *ts, ts_response *resp)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        char *key = r->group[0] ? kr_asprintf("apis/%s/%s", r->group, r->version)
                                : kr_asprintf("api/%s", r->version);
        char *url =
            key ? kr_asprintf("/openapi/v3/%s?hash=%016llX", key, gv_hash(ts, r->group, r->version))
                : NULL;
        if (key && url && !json_object_get(paths, key))
            json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
        kr_free(key);
        kr_free(url);
    }
    ts_respond_json(resp, 200, json_pack("{s:o}", "paths", paths));
}

static json_t *patch_operation(const ts_resource *r)
{
    return json_pack("{s:{s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:{s:s}}]}}", "patch",
                     "x-kubernetes-group-version-kind", "group", r->group, "version", r->version,
                     "kind", r->kind, "parameters", "name", "fieldValidation", "in", "query",
                     "schema", "type", "string");
}

static void openapi_document(kr_testserver_t *ts, const char *group, const char *version,
                             ts_response *resp)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        if (!in_gv(r, group, version) || r->review) /* reviews have no {name} to patch */
            continue;
        char *prefix =
            group[0] ? kr_asprintf("/apis/%s/%s", group, version) : kr_asprintf("/api/%s", version);
        char *path = prefix ? kr_asprintf("%s%s/%s/{name}", prefix,
                                          r->namespaced ? "/namespaces/{namespace}" : "", r->plural)
                            : NULL;
        if (path)
            json_object_set_new(paths, path, patch_operation(r));
        kr_free(prefix);
        kr_free(path);
    }
    json_t *schemas = ts_openapi_schemas(ts, group, version, true);
    ts_respond_json(resp, 200,
                    json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info",
                              "title", "Kubernetes", "version", "v1.32.0", "paths", paths,
                              "components", "schemas", schemas));
}

/* OpenAPI v2: kubectl asks for the gnostic protobuf encoding; JSON otherwise. */
static void openapi_v2(kr_testserver_t *ts, const ts_request *req, ts_response *resp)
{
    json_t *defs = ts_openapi_schemas(ts, NULL, NULL, false);
    if (req->accept && strstr(req->accept, "application/com.github.proto-openapi.spec.v2")) {
        char *body = NULL;
        size_t len = 0;
        if (!defs || ts_openapi_v2_protobuf(defs, &body, &len) != 0) {
            json_decref(defs);
            ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
            return;
        }
        json_decref(defs);
        ts_response_clear(resp);
        resp->status = 200;
        resp->content_type = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
        resp->body = body;
        resp->body_len = len;
        return;
    }
    ts_respond_json(resp, 200,
                    json_pack("{s:s, s:{s:s, s:s}, s:{}, s:o}", "swagger", "2.0", "info", "title",
                              "Kubernetes", "version", "v1.32.0", "paths", "definitions", defs));
}

static bool handle_openapi(kr_testserver_t *ts, const ts_request *req, ts_response *resp)
{
    const char *path = req->path;
    char group[128], version[64];
    if (strcmp(path, "/openapi/v2") == 0) {
        openapi_v2(ts, req, resp);
        return true;
    }
    if (strcmp(path, "/openapi/v3") == 0 || strcmp(path, "/openapi/v3/") == 0) {
        openapi_index(ts, resp);
        return true;
    }
    if (sscanf(path, "/openapi/v3/api/%63[^/]", version) == 1 && gv_exists(ts, "", version)) {
        openapi_document(ts, "", version, resp);
        return true;
    }
    if (sscanf(path, "/openapi/v3/apis/%127[^/]/%63[^/]", group, version) == 2 &&
        gv_exists(ts, group, version)) {
        openapi_document(ts, group, version, resp);
        return true;
    }
    return false;
}

/* ---- entry point ---------------------------------------------------------------------------- */

static const char *wants_aggregated(const ts_request *req)
{
    const char *a = req->accept;
    if (!a || !strstr(a, "as=APIGroupDiscoveryList"))
        return NULL;
    /* The first aggregated entry the client lists decides the version. */
    const char *v2 = strstr(a, "v=v2;"), *v2b = strstr(a, "v=v2beta1");
    if (!v2 && !strstr(a, "v=v2,") && !v2b)
        return aggregated_v2;
    if (v2b && (!v2 || v2b < v2))
        return aggregated_v2beta1;
    return aggregated_v2;
}

static void respond_text(ts_response *resp, const char *text)
{
    ts_response_clear(resp);
    resp->status = 200;
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = kr_strdup(text);
    resp->body_len = resp->body ? strlen(text) : 0;
}

/* The health endpoints' checks, as kube-apiserver names them (all pass). */
static const char *const LIVE_CHECKS[] = {
    "ping",
    "log",
    "etcd",
    "poststarthook/start-apiextensions-informers",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/rbac/bootstrap-roles",
    NULL,
};
static const char *const READY_CHECKS[] = {
    "ping",
    "log",
    "etcd",
    "etcd-readiness",
    "informer-sync",
    "poststarthook/start-apiextensions-informers",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/rbac/bootstrap-roles",
    "shutdown",
    NULL,
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The root health handler's answer: its text with the type and nosniff
 * it sets (a single check's "ok" has neither set, and Go sniffs the type). */
static void respond_health_text(ts_response *resp, const char *text)
{
    respond_text(resp, text);
    resp->nosniff = true;
}

/* GET /healthz, /livez, /readyz: "ok", or with ?verbose one line per
 * check; ?exclude=CHECK (repeated) marks checks excluded and warns of
 * names that match none, as kube-apiserver's handler does. */
static void respond_health(const ts_request *req, const char *name, const char *const *checks,
                           ts_response *resp)
{
    if (!ts_query(req, "verbose") && !ts_query(req, "exclude")) {
        respond_health_text(resp, "ok");
        return;
    }
    kr_buf b = {0};
    for (size_t i = 0; checks[i]; i++) {
        bool excluded = false;
        for (size_t q = 0; q < req->nquery && !excluded; q++)
            excluded = strcmp(req->query[q].key, "exclude") == 0 &&
                       strcmp(req->query[q].value, checks[i]) == 0;
        kr_buf_printf(&b, excluded ? "[+]%s excluded: ok\n" : "[+]%s ok\n", checks[i]);
    }
    const char *unknown[TS_MAX_GROUPS];
    size_t nunknown = 0;
    for (size_t q = 0; q < req->nquery && nunknown < TS_MAX_GROUPS; q++) {
        if (strcmp(req->query[q].key, "exclude") != 0)
            continue;
        bool known = false, seen = false;
        for (size_t i = 0; checks[i] && !known; i++)
            known = strcmp(checks[i], req->query[q].value) == 0;
        for (size_t u = 0; u < nunknown && !seen; u++)
            seen = strcmp(unknown[u], req->query[q].value) == 0;
        if (!known && !seen)
            unknown[nunknown++] = req->query[q].value;
    }
    if (nunknown) {
        qsort(unknown, nunknown, sizeof(*unknown), cmp_str);
        kr_buf_append_str(&b, "warn: some health checks cannot be excluded: no matches for ");
        for (size_t u = 0; u < nunknown; u++) {
            if (u)
                kr_buf_append_str(&b, ",");
            ts_go_quote(&b, unknown[u]);
        }
        kr_buf_append_str(&b, "\n");
    }
    if (ts_query(req, "verbose")) {
        kr_buf_printf(&b, "%s check passed\n", name);
        respond_health_text(resp, b.data ? b.data : "");
    } else {
        respond_health_text(resp, "ok");
    }
    kr_buf_free(&b);
}

static bool handle_root(const ts_request *req, const char *p, ts_response *resp)
{
    if (strcmp(p, "/version") == 0) {
        ts_respond_json(resp, 200,
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1",
                                  "minor", "32", "gitVersion", "v1.32.0", "gitCommit",
                                  "0000000000000000000000000000000000000000", "gitTreeState",
                                  "clean", "buildDate", "2025-01-01T00:00:00Z", "goVersion",
                                  "go1.23.4", "compiler", "gc", "platform", "linux/amd64"));
        return true;
    }
    static const struct {
        const char *path, *name;
        const char *const *checks;
    } health[] = {
        {"/healthz", "healthz", LIVE_CHECKS},
        {"/livez", "livez", LIVE_CHECKS},
        {"/readyz", "readyz", READY_CHECKS},
    };
    p = req->path; /* the health paths are exact: no trailing slash */
    for (size_t h = 0; h < sizeof(health) / sizeof(health[0]); h++) {
        size_t n = strlen(health[h].path);
        if (strncmp(p, health[h].path, n) != 0)
            continue;
        if (p[n] == '\0') {
            respond_health(req, health[h].name, health[h].checks, resp);
            return true;
        }
        /* One check by name: /readyz/etcd, /healthz/poststarthook/... */
        for (size_t i = 0; p[n] == '/' && health[h].checks[i]; i++) {
            if (strcmp(p + n + 1, health[h].checks[i]) == 0) {
                respond_text(resp, "ok");
                return true;
            }
        }
    }
    return false;
}

bool ts_handle_discovery(kr_testserver_t *ts, const ts_request *req, ts_response *resp)
{
    char group[128], version[64], extra;
    if (strcmp(req->method, "GET") != 0)
        return false;
    /* go-restful serves its routes with a trailing slash too: /version/,
     * /api/v1/, /apis/apps/v1/. */
    char trimmed[256];
    const char *p = req->path;
    size_t plen = strlen(p);
    if (plen > 1 && plen < sizeof(trimmed) && p[plen - 1] == '/') {
        memcpy(trimmed, p, plen - 1);
        trimmed[plen - 1] = '\0';
        p = trimmed;
    }
    if (handle_root(req, p, resp) || handle_openapi(ts, req, resp))
        return true;
    const char *agg = wants_aggregated(req);
    if (strcmp(p, "/api") == 0) {
        if (agg)
            respond_aggregated(ts, true, agg, resp);
        else
            ts_respond_json(resp, 200,
                            json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions",
                                      "versions", "v1", "serverAddressByClientCIDRs", "clientCIDR",
                                      "0.0.0.0/0", "serverAddress",
                                      ts->url + (ts->url[4] == 's' ? 8 : 7)));
        return true;
    }
    if (strcmp(p, "/apis") == 0) {
        if (agg)
            respond_aggregated(ts, false, agg, resp);
        else
            ts_respond_json(resp, 200, legacy_group_list(ts));
        return true;
    }
    if (sscanf(p, "/api/%63[^/]%c", version, &extra) == 1) {
        if (!gv_exists(ts, "", version))
            return false;
        ts_respond_json(resp, 200, legacy_resource_list(ts, "", version));
        return true;
    }
    if (sscanf(p, "/apis/%127[^/]/%63[^/]%c", group, version, &extra) == 2) {
        if (!gv_exists(ts, group, version))
            return false;
        ts_respond_json(resp, 200, legacy_resource_list(ts, group, version));
        return true;
    }
    if (sscanf(p, "/apis/%127[^/]%c", group, &extra) == 1) {
        json_t *g = distinct(ts, group);
        bool known = json_array_size(g) > 0;
        json_decref(g);
        if (!known)
            return false;
        json_t *body = legacy_group(ts, group);
        json_object_set_new(body, "kind", json_string("APIGroup"));
        json_object_set_new(body, "apiVersion", json_string("v1"));
        ts_respond_json(resp, 200, body);
        return true;
    }
    return false;
}
