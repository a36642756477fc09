/* libkreconcile-testserver — the resource table (wire spec §8): built-in
 * kinds with group, version, kind, plural, scope, short names, categories
 * and subresources, plus the resources that CustomResourceDefinitions add
 * (§8.1). Each resource points at the store holding its objects. */
#include <ctype.h>
#include <string.h>

#include "testserver/ts_internal.h"

enum {
    F_NS = 1, /* namespaced */
    F_STATUS = 2, /* has a /status subresource */
    F_GEN = 4, /* tracks metadata.generation */
    F_OBJ_DEL = 8, /* DELETE answers with the object (the store's ReturnDeletedObject) */
    F_NO_DELCOL = 16, /* no deletecollection verb */
    F_REVIEW = 32, /* a virtual review resource: create only, nothing stored */
    F_V2 = 64, /* served as version v2 (every other built-in is v1) */
    F_V1_OF_V2 = 128 /* v1 of the entry before it, stored as its v2 (convert.c) */
};

struct builtin {
    const char *group, *kind, *plural, *shorts, *subs;
    unsigned flags;
    bool all;
};

/* shorts and subs are space-separated lists. */
static const struct builtin builtins[] = {
    {"", "Namespace", "namespaces", "ns", "finalize", F_STATUS | F_NO_DELCOL, false},
    {"", "ConfigMap", "configmaps", "cm", "", F_NS, false},
    /* create only, nothing stored: binds the pod it names (binding.c) */
    {"", "Binding", "bindings", "", "", F_NS | F_REVIEW | F_NO_DELCOL, false},
    {"", "Secret", "secrets", "", "", F_NS, false},
    {"", "Pod", "pods", "po", "log exec eviction binding ephemeralcontainers",
     F_NS | F_STATUS | F_OBJ_DEL, true},
    {"", "Service", "services", "svc", "proxy", F_NS | F_STATUS | F_OBJ_DEL, true},
    {"", "ServiceAccount", "serviceaccounts", "sa", "token", F_NS | F_OBJ_DEL, false},
    {"", "Event", "events", "ev", "", F_NS, false},
    {"", "Endpoints", "endpoints", "ep", "", F_NS, false},
    {"", "Node", "nodes", "no", "proxy", F_STATUS, false},
    {"", "PersistentVolumeClaim", "persistentvolumeclaims", "pvc", "", F_NS | F_STATUS | F_OBJ_DEL,
     false},
    {"", "PersistentVolume", "persistentvolumes", "pv", "", F_STATUS | F_OBJ_DEL, false},
    {"", "ResourceQuota", "resourcequotas", "quota", "", F_NS | F_STATUS, false},
    {"", "LimitRange", "limitranges", "limits", "", F_NS, false},
    {"apps", "Deployment", "deployments", "deploy", "scale", F_NS | F_STATUS | F_GEN, true},
    {"apps", "ReplicaSet", "replicasets", "rs", "scale", F_NS | F_STATUS | F_GEN, true},
    {"apps", "StatefulSet", "statefulsets", "sts", "scale", F_NS | F_STATUS | F_GEN, true},
    {"apps", "DaemonSet", "daemonsets", "ds", "", F_NS | F_STATUS | F_GEN, true},
    {"batch", "Job", "jobs", "", "", F_NS | F_STATUS | F_GEN, true},
    {"batch", "CronJob", "cronjobs", "cj", "", F_NS | F_STATUS | F_GEN, true},
    {"coordination.k8s.io", "Lease", "leases", "", "", F_NS, false},
    {"apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions", "crd crds",
     "", F_STATUS | F_GEN, false},
    {"rbac.authorization.k8s.io", "Role", "roles", "", "", F_NS, false},
    {"rbac.authorization.k8s.io", "RoleBinding", "rolebindings", "", "", F_NS, false},
    {"rbac.authorization.k8s.io", "ClusterRole", "clusterroles", "", "", 0, false},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", "", "", 0, false},
    {"networking.k8s.io", "Ingress", "ingresses", "ing", "", F_NS | F_STATUS | F_GEN, false},
    {"networking.k8s.io", "NetworkPolicy", "networkpolicies", "netpol", "", F_NS | F_GEN, false},
    {"policy", "PodDisruptionBudget", "poddisruptionbudgets", "pdb", "", F_NS | F_STATUS | F_GEN,
     false},
    {"events.k8s.io", "Event", "events", "ev", "", F_NS, false},
    {"scheduling.k8s.io", "PriorityClass", "priorityclasses", "pc", "", 0, false},
    {"authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "", "",
     F_REVIEW | F_NO_DELCOL, false},
    {"authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", "", "",
     F_REVIEW | F_NO_DELCOL, false},
    {"authentication.k8s.io", "TokenReview", "tokenreviews", "", "", F_REVIEW | F_NO_DELCOL, false},
    {"authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "", "",
     F_REVIEW | F_NO_DELCOL, false},
    {"authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", "", "",
     F_REVIEW | F_NO_DELCOL, false},
    {"authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews", "", "",
     F_NS | F_REVIEW | F_NO_DELCOL, false},
    /* generation moves with the template */
    {"", "PodTemplate", "podtemplates", "", "", F_NS | F_GEN, false},
    {"apps", "ControllerRevision", "controllerrevisions", "", "", F_NS, false},
    /* stored as autoscaling/v2 (preferred), served as v1 too */
    {"autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "hpa", "",
     F_NS | F_STATUS | F_V2, true},
    {"autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "hpa", "",
     F_NS | F_STATUS | F_V1_OF_V2, true},
    /* generation moves with anything outside metadata, and with the labels */
    {"discovery.k8s.io", "EndpointSlice", "endpointslices", "", "", F_NS | F_GEN, false},
    {"networking.k8s.io", "IngressClass", "ingressclasses", "", "", F_GEN, false},
    {"storage.k8s.io", "StorageClass", "storageclasses", "sc", "", F_OBJ_DEL, false},
    {"node.k8s.io", "RuntimeClass", "runtimeclasses", "", "", 0, false},
    /* stored only: no webhook is ever called */
    {"admissionregistration.k8s.io", "MutatingWebhookConfiguration",
     "mutatingwebhookconfigurations", "", "", F_GEN, false},
    {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration",
     "validatingwebhookconfigurations", "", "", F_GEN, false},
    /* stored only: no policy is ever evaluated */
    {"admissionregistration.k8s.io", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", "",
     "", F_STATUS | F_GEN, false},
    {"admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding",
     "validatingadmissionpolicybindings", "", "", F_GEN, false},
    {"", "ReplicationController", "replicationcontrollers", "rc", "scale", F_NS | F_STATUS | F_GEN,
     true},
    /* approval and status as the certificates registry keeps them (csr.c) */
    {"certificates.k8s.io", "CertificateSigningRequest", "certificatesigningrequests", "csr",
     "approval", F_STATUS, false},
    /* stored only: requests are never queued by them */
    {"flowcontrol.apiserver.k8s.io", "FlowSchema", "flowschemas", "", "", F_STATUS | F_GEN, false},
    {"flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", "prioritylevelconfigurations",
     "", "", F_STATUS | F_GEN, false},
    {"storage.k8s.io", "CSIDriver", "csidrivers", "", "", F_OBJ_DEL, false},
    {"storage.k8s.io", "CSINode", "csinodes", "", "", F_OBJ_DEL, false},
    {"storage.k8s.io", "CSIStorageCapacity", "csistoragecapacities", "", "", F_NS, false},
    {"storage.k8s.io", "VolumeAttachment", "volumeattachments", "", "", F_STATUS | F_OBJ_DEL,
     false},
    /* the aggregator's registrations (apiservice.c); nothing is proxied */
    {"apiregistration.k8s.io", "APIService", "apiservices", "", "", F_STATUS, false},
};

static json_t *words(const char *list)
{
    json_t *arr = json_array();
    const char *p = list;
    while (arr && *p) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        json_array_append_new(arr, json_stringn(p, len));
        p += len;
        while (*p == ' ')
            p++;
    }
    return arr;
}

static char *lower(const char *s)
{
    char *out = kr_strdup(s);
    for (char *p = out; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

static void resource_free(ts_resource *r)
{
    if (!r)
        return;
    kr_free(r->group);
    kr_free(r->version);
    kr_free(r->kind);
    kr_free(r->plural);
    kr_free(r->singular);
    kr_free(r->list_kind);
    kr_free(r->api_version);
    kr_free(r->crd_name);
    kr_free(r->scale_spec_path);
    kr_free(r->scale_status_path);
    kr_free(r->scale_selector_path);
    json_decref(r->short_names);
    json_decref(r->categories);
    json_decref(r->subresources);
    json_decref(r->schema);
    json_decref(r->selectable_fields);
    kr_free(r->deprecation);
    kr_free(r);
}

static ts_store *store_new(kr_testserver_t *ts)
{
    ts_store **grown = kr_realloc(ts->stores, (ts->nstores + 1) * sizeof(ts_store *));
    if (!grown)
        return NULL;
    ts->stores = grown;
    ts_store *st = kr_calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->id = ++ts->next_store_id;
    ts->stores[ts->nstores++] = st;
    return st;
}

static void store_drop(kr_testserver_t *ts, ts_store *st)
{
    for (size_t i = 0; i < ts->nstores; i++) {
        if (ts->stores[i] == st) {
            ts->stores[i] = ts->stores[--ts->nstores];
            break;
        }
    }
    ts_store_free(st);
}

static int add_resource(kr_testserver_t *ts, ts_resource *r)
{
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    ts_resource **slot = kr_array_push(&ts->resources, &ts->nresources, sizeof(*slot));
    if (!slot)
        return KR_ENOMEM;
    *slot = r;
    return 0;
}

/* The kinds that extend the API: their registries' Categories() is
 * "api-extensions" (`kubectl get api-extensions`). */
static bool api_extension(const struct builtin *b)
{
    static const char *const kinds[][2] = {
        {"apiextensions.k8s.io", "customresourcedefinitions"},
        {"apiregistration.k8s.io", "apiservices"},
        {"admissionregistration.k8s.io", "mutatingwebhookconfigurations"},
        {"admissionregistration.k8s.io", "validatingwebhookconfigurations"},
        {"admissionregistration.k8s.io", "validatingadmissionpolicies"},
        {"admissionregistration.k8s.io", "validatingadmissionpolicybindings"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(kinds); i++)
        if (strcmp(b->group, kinds[i][0]) == 0 && strcmp(b->plural, kinds[i][1]) == 0)
            return true;
    return false;
}

static ts_resource *builtin_resource(const struct builtin *b)
{
    ts_resource *r = kr_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    const char *version = b->flags & F_V2 ? "v2" : "v1";
    r->group = kr_strdup(b->group);
    r->version = kr_strdup(version);
    r->kind = kr_strdup(b->kind);
    r->plural = kr_strdup(b->plural);
    r->singular = lower(b->kind);
    r->list_kind = kr_asprintf("%sList", b->kind);
    r->api_version = b->group[0] ? kr_asprintf("%s/%s", b->group, version) : kr_strdup(version);
    r->short_names = words(b->shorts);
    r->categories = b->all             ? json_pack("[s]", "all")
                    : api_extension(b) ? json_pack("[s]", "api-extensions")
                                       : json_array();
    r->subresources = words(b->subs);
    r->namespaced = b->flags & F_NS;
    r->has_status = b->flags & F_STATUS;
    r->generation = b->flags & F_GEN;
    r->delete_returns_object = b->flags & F_OBJ_DEL;
    r->no_deletecollection = b->flags & F_NO_DELCOL;
    r->review = b->flags & F_REVIEW;
    if (strstr(b->subs, "scale")) {
        r->scale_spec_path = kr_strdup(".spec.replicas");
        r->scale_status_path = kr_strdup(".status.replicas");
    }
    if (!r->group || !r->version || !r->kind || !r->plural || !r->singular || !r->list_kind ||
        !r->api_version || !r->short_names || !r->categories || !r->subresources ||
        (strstr(b->subs, "scale") && (!r->scale_spec_path || !r->scale_status_path))) {
        resource_free(r);
        return NULL;
    }
    return r;
}

int ts_resources_init(kr_testserver_t *ts)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(builtins); i++) {
        ts_resource *r = builtin_resource(&builtins[i]);
        bool converted = builtins[i].flags & F_V1_OF_V2;
        ts_store *st = !r          ? NULL
                       : converted ? ts->resources[ts->nresources - 1]->store
                                   : store_new(ts);
        if (!st || add_resource(ts, r) != 0) {
            resource_free(r);
            return KR_ENOMEM;
        }
        r->store = st;
        if (converted) {
            r->shared_versions = true;
            r->to_served = ts_hpa_to_v1;
            r->to_stored = ts_hpa_to_v2;
            r->stored_api_version = ts->resources[ts->nresources - 2]->api_version;
        }
    }
    return 0;
}

void ts_resources_free(kr_testserver_t *ts)
{
    for (size_t i = 0; i < ts->nresources; i++)
        resource_free(ts->resources[i]);
    kr_free(ts->resources);
    for (size_t i = 0; i < ts->nstores; i++)
        ts_store_free(ts->stores[i]);
    kr_free(ts->stores);
    ts->resources = NULL;
    ts->stores = NULL;
    ts->nresources = ts->nstores = 0;
}

bool ts_resource_is(const ts_resource *res, const char *group, const char *plural)
{
    return !res->crd && strcmp(res->group, group) == 0 && strcmp(res->plural, plural) == 0;
}

ts_resource *ts_resource_find(kr_testserver_t *ts, const char *group, const char *version,
                              const char *plural)
{
    for (size_t i = 0; i < ts->nresources; i++) {
        ts_resource *r = ts->resources[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0 &&
            strcmp(r->plural, plural) == 0)
            return r;
    }
    return NULL;
}

ts_resource *ts_resource_find_kind(kr_testserver_t *ts, const char *api_version, const char *kind)
{
    for (size_t i = 0; i < ts->nresources; i++) {
        ts_resource *r = ts->resources[i];
        if (strcmp(r->api_version, api_version) == 0 && strcmp(r->kind, kind) == 0)
            return r;
    }
    return NULL;
}

/* ---- CustomResourceDefinitions ------------------------------------------------ */

static const char *jstr(const json_t *o, const char *key, const char *dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static ts_resource *crd_resource(const json_t *crd, const char *version, ts_store *st)
{
    const json_t *spec = json_object_get(crd, "spec");
    const json_t *names = json_object_get(spec, "names");
    const char *kind = jstr(names, "kind", NULL);
    ts_resource *r = kr_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->group = kr_strdup(jstr(spec, "group", ""));
    r->version = kr_strdup(version);
    r->kind = kr_strdup(kind);
    r->plural = kr_strdup(jstr(names, "plural", ""));
    r->singular =
        jstr(names, "singular", NULL) ? kr_strdup(jstr(names, "singular", "")) : lower(kind);
    r->list_kind = jstr(names, "listKind", NULL) ? kr_strdup(jstr(names, "listKind", ""))
                                                 : kr_asprintf("%sList", kind);
    r->crd_name = kr_strdup(ts_meta_str(crd, "name"));
    r->api_version = kr_asprintf("%s/%s", jstr(spec, "group", ""), version);
    const json_t *sn = json_object_get(names, "shortNames");
    const json_t *cat = json_object_get(names, "categories");
    r->short_names = json_is_array(sn) ? json_deep_copy(sn) : json_array();
    r->categories = json_is_array(cat) ? json_deep_copy(cat) : json_array();
    r->subresources = json_array();
    r->namespaced = strcmp(jstr(spec, "scope", "Namespaced"), "Cluster") != 0;
    r->generation = true;
    r->crd = true;
    /* the custom resource store leaves ReturnDeletedObject unset: a
     * delete that removes the object answers with a Success Status */
    r->delete_returns_object = false;
    r->store = st;
    if (!r->group || !r->version || !r->kind || !r->plural || !r->singular || !r->list_kind ||
        !r->crd_name || !r->api_version || !r->short_names || !r->categories || !r->subresources) {
        resource_free(r);
        return NULL;
    }
    return r;
}

/* apimachinery's CompareKubeAwareVersionStrings: v2 > v1 > v1beta2 >
 * v1beta1 > v1alpha1 > other names (which sort in reverse order). */
static bool parse_kube_version(const char *v, int *major, int *type, int *minor)
{
    char word[8] = "";
    int n = 0;
    if (sscanf(v, "v%d%n", major, &n) != 1 || v[1] < '0' || v[1] > '9')
        return false;
    const char *rest = v + n;
    *type = 2;
    *minor = 0;
    if (!*rest)
        return true;
    int m = 0;
    if (sscanf(rest, "%5[a-z]%d%n", word, minor, &m) != 2 || rest[m] ||
        (strcmp(word, "alpha") != 0 && strcmp(word, "beta") != 0))
        return false;
    *type = strcmp(word, "alpha") == 0 ? 0 : 1;
    return true;
}

int ts_kube_version_cmp(const char *a, const char *b)
{
    int amaj, atype, amin, bmaj, btype, bmin;
    bool oka = parse_kube_version(a, &amaj, &atype, &amin);
    bool okb = parse_kube_version(b, &bmaj, &btype, &bmin);
    if (!oka || !okb)
        return oka == okb ? strcmp(b, a) : oka ? 1 : -1;
    return atype != btype ? atype - btype : amaj != bmaj ? amaj - bmaj : amin - bmin;
}

/* A deprecated version's warning: its deprecationWarning, or
 * apiextensions-apiserver's default naming the newest served version that
 * is not deprecated and sorts after it. NULL when not deprecated. */
static char *deprecation_of(const json_t *spec, const json_t *v)
{
    if (!json_is_true(json_object_get(v, "deprecated")))
        return NULL;
    const char *custom = jstr(v, "deprecationWarning", NULL);
    if (custom)
        return kr_strdup(custom);
    const char *group = jstr(spec, "group", "");
    const char *kind = jstr(json_object_get(spec, "names"), "kind", "");
    const char *name = jstr(v, "name", "");
    const char *best = NULL;
    size_t i;
    const json_t *o;
    json_array_foreach(json_object_get(spec, "versions"), i, o)
    {
        const char *other = jstr(o, "name", "");
        if (!json_is_false(json_object_get(o, "served")) &&
            !json_is_true(json_object_get(o, "deprecated")) &&
            ts_kube_version_cmp(name, other) < 0 && (!best || ts_kube_version_cmp(other, best) > 0))
            best = other;
    }
    if (!best)
        return kr_asprintf("%s/%s %s is deprecated", group, name, kind);
    return kr_asprintf("%s/%s %s is deprecated; use %s/%s %s", group, name, kind, group, best,
                       kind);
}

/* A copy of the version's openAPIV3Schema, or NULL when it has none. */
static json_t *version_schema(const json_t *v)
{
    const json_t *s = json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
    return json_is_object(s) ? json_deep_copy(s) : NULL;
}

static bool version_has_status(const json_t *v)
{
    const json_t *subs = json_object_get(v, "subresources");
    return json_object_get(subs, "status") != NULL;
}

static int set_crd_scale(ts_resource *r, const json_t *version)
{
    const json_t *scale = json_object_get(json_object_get(version, "subresources"), "scale");
    if (!json_is_object(scale))
        return 0;
    const char *spec = jstr(scale, "specReplicasPath", ".spec.replicas");
    const char *status = jstr(scale, "statusReplicasPath", ".status.replicas");
    const char *sel = jstr(scale, "labelSelectorPath", NULL);
    r->scale_spec_path = kr_strdup(spec);
    r->scale_status_path = kr_strdup(status);
    r->scale_selector_path = sel ? kr_strdup(sel) : NULL;
    return (!r->scale_spec_path || !r->scale_status_path || (sel && !r->scale_selector_path))
               ? KR_ENOMEM
               : 0;
}

static bool names_clash(kr_testserver_t *ts, const json_t *crd)
{
    const json_t *spec = json_object_get(crd, "spec");
    const char *group = jstr(spec, "group", "");
    const char *plural = jstr(json_object_get(spec, "names"), "plural", "");
    const char *name = ts_meta_str(crd, "name");
    for (size_t i = 0; i < ts->nresources; i++) {
        ts_resource *r = ts->resources[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->plural, plural) == 0 &&
            (!r->crd_name || strcmp(r->crd_name, name ? name : "") != 0))
            return true;
    }
    return false;
}

const char *ts_condition_since(const json_t *status, const char *type, const char *state,
                               const char *now)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        if (strcmp(jstr(c, "type", ""), type) == 0 && strcmp(jstr(c, "status", ""), state) == 0)
            return jstr(c, "lastTransitionTime", now);
    }
    return now;
}

/* The status the handler's controllers give a CRD. storedVersions keeps
 * every version objects were ever stored in (until someone writes them
 * out of the status) and gains the storage version. */
static json_t *crd_status(const json_t *crd, bool accepted)
{
    const json_t *spec = json_object_get(crd, "spec");
    const json_t *old = json_object_get(crd, "status");
    char now[32];
    ts_timestamp(now);
    json_t *stored = json_array();
    const json_t *v;
    size_t i;
    json_array_foreach(json_object_get(old, "storedVersions"), i, v)
    {
        if (json_is_string(v))
            json_array_append_new(stored, json_string(json_string_value(v)));
    }
    json_array_foreach(json_object_get(spec, "versions"), i, v)
    {
        if (!json_is_true(json_object_get(v, "storage")))
            continue;
        bool known = false;
        size_t k;
        const json_t *s;
        json_array_foreach(stored, k, s)
        {
            known = known || strcmp(json_string_value(s), jstr(v, "name", "")) == 0;
        }
        if (!known)
            json_array_append_new(stored, json_string(jstr(v, "name", "")));
    }
    const char *ok = accepted ? "True" : "False";
    json_t *status =
        json_pack("{s:[{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s}], s:O, s:o}", "conditions",
                  "type", "NamesAccepted", "status", ok, "lastTransitionTime",
                  ts_condition_since(old, "NamesAccepted", ok, now), "reason",
                  accepted ? "NoConflicts" : "NameConflict", "message",
                  accepted ? "no conflicts found" : "a resource with these names exists", "type",
                  "Established", "status", ok, "lastTransitionTime",
                  ts_condition_since(old, "Established", ok, now), "reason",
                  accepted ? "InitialNamesAccepted" : "NotAccepted", "message",
                  accepted ? "the initial names have been accepted" : "not all names are accepted",
                  "acceptedNames", json_object_get(spec, "names"), "storedVersions", stored);
    /* The Terminating condition is the finalizing controller's (delete.c):
     * a write of a CRD being deleted keeps it. */
    json_array_foreach(json_object_get(old, "conditions"), i, v)
    {
        if (status && strcmp(jstr(v, "type", ""), "Terminating") == 0)
            json_array_append_new(json_object_get(status, "conditions"), json_deep_copy(v));
    }
    return status;
}

json_t *ts_with_api_version(const json_t *obj, const char *api_version)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    if (av && strcmp(av, api_version) == 0)
        return json_incref((json_t *)obj);
    json_t *copy = json_copy((json_t *)obj);
    if (copy && json_object_set_new(copy, "apiVersion", json_string(api_version)) != 0) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

json_t *ts_as_served(const ts_resource *res, const json_t *obj)
{
    if (res->to_served)
        return res->to_served(obj);
    return res->shared_versions ? ts_with_api_version(obj, res->api_version)
                                : json_incref((json_t *)obj);
}

static json_t *served_answer(const json_t *body, void *user)
{
    const ts_resource *res = user;
    const char *kind = json_string_value(json_object_get(body, "kind"));
    if (!kind || strcmp(kind, res->list_kind) != 0)
        return kind && strcmp(kind, res->kind) == 0 ? ts_as_served(res, body)
                                                    : json_incref((json_t *)body);
    json_t *list = json_copy((json_t *)body);
    json_t *items = json_array();
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(body, "items"), i, item)
    {
        if (items && json_array_append_new(items, ts_as_served(res, item)) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    if (!list || !items || json_object_set_new(list, "items", items) != 0) {
        json_decref(list);
        return NULL;
    }
    return list;
}

void ts_answer_as_served(const ts_resource *res, ts_response *resp)
{
    if (res->shared_versions)
        ts_rewrite_answer(resp, served_answer, (void *)res);
}

static const json_t *crd_version(const json_t *crd, const char *name)
{
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(json_object_get(crd, "spec"), "versions"), i, v)
    {
        if (strcmp(jstr(v, "name", ""), name) == 0)
            return v;
    }
    return NULL;
}

/* The jsonPaths of a CRD version's selectableFields (new), or NULL. */
static json_t *selectable_paths(const json_t *v)
{
    const json_t *fields = json_object_get(v, "selectableFields"), *f;
    json_t *paths = json_array_size(fields) ? json_array() : NULL;
    size_t i;
    json_array_foreach(fields, i, f)
    {
        const char *path = json_string_value(json_object_get(f, "jsonPath"));
        if (path && paths)
            json_array_append_new(paths, json_string(path));
    }
    return paths;
}

/* What a version's resource takes from the CRD as it is now: the schema,
 * the selectable fields, the deprecation warning, the status and scale
 * subresources. */
static int version_settings(ts_resource *r, const json_t *crd, const json_t *v)
{
    json_decref(r->schema);
    r->schema = version_schema(v);
    json_decref(r->selectable_fields);
    r->selectable_fields = selectable_paths(v);
    kr_free(r->deprecation);
    r->deprecation = deprecation_of(json_object_get(crd, "spec"), v);
    r->has_status = version_has_status(v);
    kr_free(r->scale_spec_path);
    kr_free(r->scale_status_path);
    kr_free(r->scale_selector_path);
    r->scale_spec_path = r->scale_status_path = r->scale_selector_path = NULL;
    return set_crd_scale(r, v);
}

/* Serves the CRD's served versions, as kube-apiserver's handler does on
 * each CRD change: a version newly served gets its resource on the store
 * the others share (`st`, NULL the first time), one no longer served
 * loses it (its objects stay, as they stay in etcd), and each takes the
 * schema and subresources it has now; the stored objects then read as
 * they would under them. *changed tells whether the set of versions
 * changed. */
static int serve_versions(kr_testserver_t *ts, const json_t *crd, ts_store *st, bool *changed)
{
    const json_t *versions = json_object_get(json_object_get(crd, "spec"), "versions");
    bool first = st == NULL;
    *changed = first;
    if (first && !(st = store_new(ts)))
        return KR_ENOMEM;
    size_t out = 0;
    for (size_t i = 0; i < ts->nresources; i++) {
        ts_resource *r = ts->resources[i];
        if (r->store == st) {
            const json_t *v = crd_version(crd, r->version);
            if (!v || json_is_false(json_object_get(v, "served"))) {
                resource_free(r); /* no longer served */
                *changed = true;
                continue;
            }
        }
        ts->resources[out++] = r;
    }
    ts->nresources = out;
    size_t i;
    const json_t *v;
    json_array_foreach(versions, i, v)
    {
        if (json_is_false(json_object_get(v, "served")))
            continue;
        ts_resource *r = NULL;
        for (size_t k = 0; k < ts->nresources && !r; k++)
            if (ts->resources[k]->store == st &&
                strcmp(ts->resources[k]->version, jstr(v, "name", "v1")) == 0)
                r = ts->resources[k];
        if (!r) {
            r = crd_resource(crd, jstr(v, "name", "v1"), st);
            if (!r || add_resource(ts, r) != 0) {
                resource_free(r);
                return KR_ENOMEM;
            }
            *changed = true;
        }
        if (version_settings(r, crd, v) != 0)
            return KR_ENOMEM;
    }
    /* Objects written in one version are answered in another when the
     * CRD has several (the None conversion); the stored ones are all in
     * spec.versions, as storedVersions must be. */
    for (size_t k = 0; k < ts->nresources; k++)
        if (ts->resources[k]->store == st)
            ts->resources[k]->shared_versions = json_array_size(versions) > 1;
    if (!first)
        ts_schema_reread(ts, st);
    return 0;
}

/* Called on every write of a CRD: serves it the first time its names are
 * accepted, and its versions as they are now on each later write (the
 * watches of a changed set of versions end, as the handler's storage is
 * replaced); *updated receives the object with its status filled in. */
int ts_crd_established(kr_testserver_t *ts, const json_t *crd, json_t **updated)
{
    const char *name = ts_meta_str(crd, "name");
    ts_store *st = NULL;
    for (size_t i = 0; i < ts->nresources && !st; i++)
        if (ts->resources[i]->crd_name && name && strcmp(ts->resources[i]->crd_name, name) == 0)
            st = ts->resources[i]->store;
    bool accepted = st || !names_clash(ts, crd);
    if (accepted) {
        bool changed = false;
        int rc = serve_versions(ts, crd, st, &changed);
        if (rc == 0 && changed)
            rc = ts_apiservices_crd_served(ts, crd);
        if (rc != 0)
            return rc;
        if (changed && st) {
            ts_watch_close_store(ts, st->id);
            bool any = false;
            for (size_t i = 0; i < ts->nresources && !any; i++)
                any = ts->resources[i]->store == st;
            if (!any) /* nothing serves them: the next version served starts afresh */
                store_drop(ts, st);
            ts_apiservices_sync(ts);
        }
    }
    json_t *copy = json_deep_copy(crd);
    json_t *status = crd_status(crd, accepted);
    if (!copy || !status || json_object_set_new(copy, "status", status) != 0) {
        json_decref(copy);
        return KR_ENOMEM;
    }
    *updated = copy;
    return 0;
}

/* The CRD is gone: stop serving its resources and drop their objects. */
void ts_crd_removed(kr_testserver_t *ts, const json_t *crd)
{
    const char *name = ts_meta_str(crd, "name");
    ts_store *st = NULL;
    size_t out = 0;
    for (size_t i = 0; i < ts->nresources; i++) {
        ts_resource *r = ts->resources[i];
        if (r->crd_name && name && strcmp(r->crd_name, name) == 0) {
            st = r->store;
            resource_free(r);
            continue;
        }
        ts->resources[out++] = r;
    }
    ts->nresources = out;
    if (st) {
        ts_watch_close_store(ts, st->id);
        store_drop(ts, st);
    }
    ts_apiservices_sync(ts);
}
