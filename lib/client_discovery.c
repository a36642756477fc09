/* libkreconcile — discovery and the REST mapper: what resources a server
 * serves (aggregated discovery when offered, legacy otherwise), cached per
 * client, and resolving what a user typed (plural, singular, Kind, short
 * name, optionally .group or .version.group) as kubectl does. A built-in
 * table of Kubernetes' kinds answers when discovery cannot. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_state.h"

#define DISCOVERY_ACCEPT                                                                           \
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"                        \
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"

/* Kubernetes 1.32 built-in kinds: group, version, plural, Kind, namespaced,
 * short names (space separated). */
static const struct builtin {
    const char *group, *version, *resource, *kind;
    bool namespaced;
    const char *short_names;
} BUILTIN[] = {
    {"", "v1", "namespaces", "Namespace", false, "ns"},
    {"", "v1", "configmaps", "ConfigMap", true, "cm"},
    {"", "v1", "secrets", "Secret", true, ""},
    {"", "v1", "pods", "Pod", true, "po"},
    {"", "v1", "services", "Service", true, "svc"},
    {"", "v1", "serviceaccounts", "ServiceAccount", true, "sa"},
    {"", "v1", "events", "Event", true, "ev"},
    {"", "v1", "endpoints", "Endpoints", true, "ep"},
    {"", "v1", "nodes", "Node", false, "no"},
    {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, "pvc"},
    {"", "v1", "persistentvolumes", "PersistentVolume", false, "pv"},
    {"", "v1", "replicationcontrollers", "ReplicationController", true, "rc"},
    {"", "v1", "resourcequotas", "ResourceQuota", true, "quota"},
    {"", "v1", "limitranges", "LimitRange", true, "limits"},
    {"apps", "v1", "deployments", "Deployment", true, "deploy"},
    {"apps", "v1", "replicasets", "ReplicaSet", true, "rs"},
    {"apps", "v1", "statefulsets", "StatefulSet", true, "sts"},
    {"apps", "v1", "daemonsets", "DaemonSet", true, "ds"},
    {"apps", "v1", "controllerrevisions", "ControllerRevision", true, ""},
    {"batch", "v1", "jobs", "Job", true, ""},
    {"batch", "v1", "cronjobs", "CronJob", true, "cj"},
    {"coordination.k8s.io", "v1", "leases", "Lease", true, ""},
    {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false,
     "crd crds"},
    {"rbac.authorization.k8s.io", "v1", "roles", "Role", true, ""},
    {"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, ""},
    {"rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, ""},
    {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, ""},
    {"networking.k8s.io", "v1", "ingresses", "Ingress", true, "ing"},
    {"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, "netpol"},
    {"networking.k8s.io", "v1", "ingressclasses", "IngressClass", false, ""},
    {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, "pdb"},
    {"events.k8s.io", "v1", "events", "Event", true, "ev"},
    {"autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, "hpa"},
    {"storage.k8s.io", "v1", "storageclasses", "StorageClass", false, "sc"},
    {"scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false, "pc"},
    {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
     "ValidatingWebhookConfiguration", false, ""},
    {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
     "MutatingWebhookConfiguration", false, ""},
    {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, ""},
    {"certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", false,
     "csr"},
};

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static void lower_kind(char *dst, size_t size, const char *kind)
{
    size_t i = 0;
    for (; kind[i] && i + 1 < size; i++)
        dst[i] = (char)tolower((unsigned char)kind[i]);
    dst[i] = '\0';
}

static void info_from_builtin(const struct builtin *b, kr_resource_info *out)
{
    memset(out, 0, sizeof(*out));
    copy(out->group, sizeof(out->group), b->group);
    copy(out->version, sizeof(out->version), b->version);
    copy(out->resource, sizeof(out->resource), b->resource);
    copy(out->kind, sizeof(out->kind), b->kind);
    lower_kind(out->singular, sizeof(out->singular), b->kind);
    out->namespaced = b->namespaced;
    const char *p = b->short_names;
    for (size_t n = 0; *p && n < KR_ARRAY_LEN(out->short_names) - 1;) {
        size_t len = strcspn(p, " ");
        snprintf(out->short_names[n++], sizeof(out->short_names[0]), "%.*s", (int)len, p);
        p += len;
        while (*p == ' ')
            p++;
    }
    static const char *const verbs[] = {"create", "delete", "deletecollection", "get",
                                        "list",   "patch",  "update",           "watch"};
    for (size_t i = 0; i < KR_ARRAY_LEN(verbs); i++)
        copy(out->verbs[i], sizeof(out->verbs[0]), verbs[i]);
}

/* ---- matching ---- */

/* Split "name[.version].group" the ways kubectl tries them. */
typedef struct query {
    char name[128];
    const char *group; /* NULL: any */
    const char *version; /* NULL: any */
} query;

/* Plural and singular names match in any case (kubectl's mapper lowers
 * what was typed: "Pods", "DEPLOYMENTS"); short names only as they are. */
static bool match_name(const kr_resource_info *r, const char *name, int pass)
{
    switch (pass) {
    case 0:
        return strcasecmp(r->resource, name) == 0;
    case 1:
        return r->singular[0] && strcasecmp(r->singular, name) == 0;
    case 2:
        for (size_t i = 0; i < KR_ARRAY_LEN(r->short_names) && r->short_names[i][0]; i++)
            if (strcmp(r->short_names[i], name) == 0)
                return true;
        return false;
    default:
        return strcasecmp(r->kind, name) == 0;
    }
}

static const kr_resource_info *find(const kr_resource_info *items, size_t count, const query *q)
{
    for (int pass = 0; pass < 4; pass++)
        for (size_t i = 0; i < count; i++) {
            const kr_resource_info *r = &items[i];
            if (q->group && strcmp(r->group, q->group) != 0)
                continue;
            if (q->version && strcmp(r->version, q->version) != 0)
                continue;
            if (match_name(r, q->name, pass))
                return r;
        }
    return NULL;
}

static bool looks_like_version(const char *s, size_t len)
{
    return len >= 2 && s[0] == 'v' && isdigit((unsigned char)s[1]);
}

static const kr_resource_info *resolve_in(const kr_resource_info *items, size_t count,
                                          const char *text)
{
    query q = {0};
    const char *dot = strchr(text, '.');
    if (!dot) {
        copy(q.name, sizeof(q.name), text);
        return find(items, count, &q);
    }
    char rest[300];
    snprintf(q.name, sizeof(q.name), "%.*s", (int)(dot - text), text);
    copy(rest, sizeof(rest), dot + 1);
    /* "name.version.group" first, then "name.group", then the whole text
     * (a name with dots never exists, but a Kind lookup is harmless). */
    char *dot2 = strchr(rest, '.');
    if (dot2 && looks_like_version(rest, (size_t)(dot2 - rest))) {
        *dot2 = '\0';
        q.version = rest;
        q.group = dot2 + 1;
        const kr_resource_info *r = find(items, count, &q);
        if (r)
            return r;
        *dot2 = '.';
        q.version = NULL;
    }
    q.group = rest;
    return find(items, count, &q);
}

int kr_resource_builtin_lookup(const char *name, kr_resource_info *out)
{
    /* Built on the stack each call: no shared mutable state. */
    kr_resource_info local[KR_ARRAY_LEN(BUILTIN)];
    for (size_t i = 0; i < KR_ARRAY_LEN(BUILTIN); i++)
        info_from_builtin(&BUILTIN[i], &local[i]);
    const kr_resource_info *r = resolve_in(local, KR_ARRAY_LEN(BUILTIN), name);
    if (!r)
        return KR_ENOTFOUND;
    *out = *r;
    return 0;
}

/* ---- parsing discovery documents ---- */

typedef struct collector {
    kr_resource_info *items;
    size_t count, cap;
} collector;

static kr_resource_info *add(collector *col)
{
    if (kr_array_grow(&col->items, &col->cap, col->count, sizeof(*col->items), 64) != 0)
        return NULL;
    kr_resource_info *r = &col->items[col->count++];
    memset(r, 0, sizeof(*r));
    return r;
}

static void fill_lists(kr_resource_info *r, const json_t *short_names, const json_t *verbs)
{
    size_t i;
    json_t *v;
    json_array_foreach(short_names, i, v)
    {
        if (i >= KR_ARRAY_LEN(r->short_names) - 1)
            break;
        copy(r->short_names[i], sizeof(r->short_names[0]), json_string_value(v));
    }
    json_array_foreach(verbs, i, v)
    {
        if (i >= KR_ARRAY_LEN(r->verbs) - 1)
            break;
        copy(r->verbs[i], sizeof(r->verbs[0]), json_string_value(v));
    }
}

/* Record one resource of either discovery form; shortNames and verbs are
 * read from `res` (the same fields in both). NULL when out of memory. */
static kr_resource_info *add_resource(collector *col, const char *group, const char *version,
                                      const char *plural, const char *singular, const char *kind,
                                      bool namespaced, const json_t *res)
{
    kr_resource_info *r = add(col);
    if (!r)
        return NULL;
    copy(r->group, sizeof(r->group), group);
    copy(r->version, sizeof(r->version), version);
    copy(r->resource, sizeof(r->resource), plural);
    copy(r->singular, sizeof(r->singular), singular);
    copy(r->kind, sizeof(r->kind), kind);
    r->namespaced = namespaced;
    fill_lists(r, json_object_get(res, "shortNames"), json_object_get(res, "verbs"));
    if (!r->singular[0])
        lower_kind(r->singular, sizeof(r->singular), r->kind);
    return r;
}

/* APIGroupDiscoveryList (apidiscovery.k8s.io/v2 or v2beta1). */
static int parse_aggregated(const json_t *doc, collector *col)
{
    size_t i, j, k;
    json_t *group, *version, *res;
    json_array_foreach(json_object_get(doc, "items"), i, group)
    {
        const char *gname =
            json_string_value(json_object_get(json_object_get(group, "metadata"), "name"));
        json_array_foreach(json_object_get(group, "versions"), j, version)
        {
            const char *vname = json_string_value(json_object_get(version, "version"));
            json_array_foreach(json_object_get(version, "resources"), k, res)
            {
                const char *plural = json_string_value(json_object_get(res, "resource"));
                if (!plural || !vname)
                    continue;
                const char *scope = json_string_value(json_object_get(res, "scope"));
                if (!add_resource(col, gname, vname, plural,
                                  json_string_value(json_object_get(res, "singularResource")),
                                  json_string_value(json_object_get(
                                      json_object_get(res, "responseKind"), "kind")),
                                  scope && strcmp(scope, "Namespaced") == 0, res))
                    return KR_ENOMEM;
            }
        }
    }
    return 0;
}

/* APIResourceList of one group-version (legacy discovery). */
static int parse_resource_list(const json_t *doc, const char *group, const char *version,
                               collector *col)
{
    size_t i;
    json_t *res;
    json_array_foreach(json_object_get(doc, "resources"), i, res)
    {
        const char *name = json_string_value(json_object_get(res, "name"));
        if (!name || strchr(name, '/'))
            continue; /* subresources are "<plural>/<sub>" */
        if (!add_resource(col, group, version, name,
                          json_string_value(json_object_get(res, "singularName")),
                          json_string_value(json_object_get(res, "kind")),
                          json_is_true(json_object_get(res, "namespaced")), res))
            return KR_ENOMEM;
    }
    return 0;
}

static bool is_aggregated(const char *content_type, const json_t *doc)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    return (content_type && strstr(content_type, "as=APIGroupDiscoveryList")) ||
           (kind && strcmp(kind, "APIGroupDiscoveryList") == 0);
}

static int fetch_group_version(kr_client_t *c, const char *group, const char *version,
                               collector *col, kr_error_t *err)
{
    char path[400];
    if (*group)
        snprintf(path, sizeof(path), "/apis/%s/%s", group, version);
    else
        snprintf(path, sizeof(path), "/api/%s", version);
    json_t *doc = NULL;
    char ctype[128];
    int rc = kr_client_raw_get(c, path, "application/json, */*", &doc, ctype, sizeof(ctype), err);
    if (rc == 0)
        rc = parse_resource_list(doc, group, version, col);
    json_decref(doc);
    return rc;
}

/* A named group's version under legacy discovery, which may fail on its
 * own (an aggregated API whose backend is down): its resources stay
 * unknown until the next discovery, the others are kept, as client-go
 * keeps the groups it could read (ErrGroupDiscoveryFailed). Only a
 * failure that would fail every group (out of memory, credentials, the
 * server gone) fails discovery. */
static int fetch_named_group_version(kr_client_t *c, const char *group, const char *version,
                                     collector *col, kr_error_t *err)
{
    kr_error_t gerr = {0};
    int rc = fetch_group_version(c, group, version, col, &gerr);
    if (rc == 0 || rc == KR_ENOMEM || rc == KR_EUNAUTHORIZED || rc == KR_ECONNECT ||
        rc == KR_ESHUTDOWN) {
        if (rc != 0 && err)
            *err = gerr;
        return rc;
    }
    kr_log(c->log, KR_LOG_WARN, "client",
           "discovery of %s/%s failed (%s): its resources are unknown until the next discovery",
           group, version, gerr.message);
    return 0;
}

/* One root: "/api" (core) or "/apis". */
static int discover_root(kr_client_t *c, const char *root, collector *col, kr_error_t *err)
{
    json_t *doc = NULL;
    char ctype[128] = "";
    const char *accept = c->opts.legacy_discovery ? "application/json, */*" : DISCOVERY_ACCEPT;
    int rc = kr_client_raw_get(c, root, accept, &doc, ctype, sizeof(ctype), err);
    if (rc != 0)
        return rc;
    if (is_aggregated(ctype, doc)) {
        rc = parse_aggregated(doc, col);
        json_decref(doc);
        return rc;
    }
    size_t i, j;
    json_t *v, *g;
    if (strcmp(root, "/api") == 0) {
        json_array_foreach(json_object_get(doc, "versions"), i, v)
        {
            if (json_is_string(v) &&
                (rc = fetch_group_version(c, "", json_string_value(v), col, err)) != 0)
                break;
        }
    } else {
        json_array_foreach(json_object_get(doc, "groups"), i, g)
        {
            const char *name = json_string_value(json_object_get(g, "name"));
            const char *preferred = json_string_value(
                json_object_get(json_object_get(g, "preferredVersion"), "version"));
            if (!name)
                continue;
            /* Preferred version first, so that lookups find it first. */
            if (preferred && (rc = fetch_named_group_version(c, name, preferred, col, err)) != 0)
                break;
            json_array_foreach(json_object_get(g, "versions"), j, v)
            {
                const char *ver = json_string_value(json_object_get(v, "version"));
                if (ver && (!preferred || strcmp(ver, preferred) != 0) &&
                    (rc = fetch_named_group_version(c, name, ver, col, err)) != 0)
                    break;
            }
            if (rc != 0)
                break;
        }
    }
    json_decref(doc);
    return rc;
}

int kr_client_discovery_refresh(kr_client_t *client, kr_error_t *err)
{
    collector col = {0};
    int rc = discover_root(client, "/api", &col, err);
    if (rc == 0)
        rc = discover_root(client, "/apis", &col, err);
    if (rc != 0) {
        kr_free(col.items);
        /* a failure is remembered too: misses do not ask again at once */
        pthread_mutex_lock(&client->disc_lock);
        client->disc.failed_ns = kr_clock_monotonic_ns();
        if (err)
            client->disc.failure = *err;
        else
            kr_error_set(&client->disc.failure, rc, "discovery failed: %s", kr_strerror(rc));
        client->disc.failure.code = rc;
        pthread_mutex_unlock(&client->disc_lock);
        return rc;
    }
    pthread_mutex_lock(&client->disc_lock);
    kr_free(client->disc.items);
    client->disc.items = col.items;
    client->disc.count = col.count;
    client->disc.loaded = true;
    client->disc.fetched_ns = kr_clock_monotonic_ns();
    client->disc.failed_ns = 0;
    pthread_mutex_unlock(&client->disc_lock);
    return 0;
}

/* Whether a miss may fetch discovery again: always before the first try,
 * then at most once per discovery_miss_interval_ms after the last try,
 * failed or not (a negative cache, as controller-runtime rate-limits its
 * REST mapper's reloads). When it may not, *failure is the last try's
 * error if it failed (code 0 otherwise). */
static bool miss_may_refresh(kr_client_t *c, kr_error_t *failure)
{
    int ms = c->opts.discovery_miss_interval_ms;
    memset(failure, 0, sizeof(*failure));
    if (ms < 0)
        return true;
    int64_t interval = (int64_t)(ms == 0 ? 1000 : ms) * 1000000;
    pthread_mutex_lock(&c->disc_lock);
    int64_t now = kr_clock_monotonic_ns();
    bool may = c->disc.failed_ns ? now - c->disc.failed_ns >= interval
                                 : !c->disc.loaded || now - c->disc.fetched_ns >= interval;
    if (!may && c->disc.failed_ns)
        *failure = c->disc.failure;
    pthread_mutex_unlock(&c->disc_lock);
    return may;
}

void kr_client_discovery_free(kr_client_t *c)
{
    kr_free(c->disc.items);
    c->disc.items = NULL;
    c->disc.count = 0;
    c->disc.loaded = false;
}

static bool cached_resolve(kr_client_t *c, const char *name, kr_resource_info *out)
{
    pthread_mutex_lock(&c->disc_lock);
    const kr_resource_info *r =
        c->disc.loaded ? resolve_in(c->disc.items, c->disc.count, name) : NULL;
    if (r)
        *out = *r;
    pthread_mutex_unlock(&c->disc_lock);
    return r != NULL;
}

/* kubectl's words for a name it cannot resolve: they name the resource
 * alone, what comes before the first dot ("foos" for "foos.v1.apps"). */
static int unknown_resource(const char *name, kr_error_t *err)
{
    return kr_error_set(err, KR_ENOTFOUND, "the server doesn't have a resource type \"%.*s\"",
                        (int)strcspn(name, "."), name);
}

int kr_client_resolve(kr_client_t *client, const char *name, kr_resource_info *out, kr_error_t *err)
{
    if (!name || !*name)
        return kr_error_set(err, KR_EINVAL, "resolve: empty resource name");
    if (cached_resolve(client, name, out))
        return 0;
    kr_error_t derr = {0};
    int rc;
    if (!miss_may_refresh(client, &derr)) {
        if (derr.code == 0)
            return unknown_resource(name, err);
        rc = derr.code; /* the last try failed, moments ago: its answer again */
    } else {
        rc = kr_client_discovery_refresh(client, &derr);
    }
    if (rc == 0) {
        if (cached_resolve(client, name, out))
            return 0;
        return unknown_resource(name, err);
    }
    /* Discovery failed: the built-in table still knows the built-in kinds. */
    if (rc != KR_EUNAUTHORIZED && kr_resource_builtin_lookup(name, out) == 0) {
        kr_log(client->log, KR_LOG_WARN, "client",
               "discovery failed (%s); using the built-in table for \"%s\"", derr.message, name);
        return 0;
    }
    if (err)
        *err = derr;
    return rc;
}

int kr_client_resource_for_kind(kr_client_t *client, const char *api_version, const char *kind,
                                kr_resource_info *out, kr_error_t *err)
{
    if (!api_version || !kind)
        return kr_error_set(err, KR_EINVAL, "resolve: apiVersion and kind are required");
    const char *slash = strchr(api_version, '/');
    char group[254] = "", version[64];
    if (slash) {
        snprintf(group, sizeof(group), "%.*s", (int)(slash - api_version), api_version);
        copy(version, sizeof(version), slash + 1);
    } else {
        copy(version, sizeof(version), api_version);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&client->disc_lock);
        bool found = false;
        for (size_t i = 0; client->disc.loaded && i < client->disc.count; i++) {
            const kr_resource_info *r = &client->disc.items[i];
            if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0 &&
                strcmp(r->kind, kind) == 0) {
                *out = *r;
                found = true;
                break;
            }
        }
        pthread_mutex_unlock(&client->disc_lock);
        if (found)
            return 0;
        if (attempt == 0) {
            kr_error_t derr = {0};
            int rc = miss_may_refresh(client, &derr) ? kr_client_discovery_refresh(client, &derr)
                                                     : derr.code;
            if (rc != 0) {
                for (size_t i = 0; i < KR_ARRAY_LEN(BUILTIN); i++)
                    if (strcmp(BUILTIN[i].group, group) == 0 &&
                        strcmp(BUILTIN[i].version, version) == 0 &&
                        strcmp(BUILTIN[i].kind, kind) == 0) {
                        info_from_builtin(&BUILTIN[i], out);
                        return 0;
                    }
                if (err)
                    *err = derr;
                return rc;
            }
        }
    }
    return kr_error_set(err, KR_ENOTFOUND, "no resource serves kind \"%s\" in \"%s\"", kind,
                        api_version);
}
