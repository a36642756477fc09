/* libkreconcile-testserver — POST and PUT: admission (names, namespaces,
 * resourceVersion preconditions, finalizer rules), server-set metadata
 * (uid, creationTimestamp, resourceVersion, generation), status
 * subresource rules and dryRun (wire spec §2, §3, §8, §9). Callers hold ts->mu. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"
#include "testserver/ts_proto.h"

bool ts_namespace_exists(kr_testserver_t *ts, const char *ns)
{
    ts_resource *nsr = ts_resource_find(ts, "", "v1", "namespaces");
    return nsr && ts_store_get(nsr->store, "", ns) != NULL;
}

/* The rule a kind's names follow (its strategy's ValidateNameFunc):
 * namespaces are DNS-1123 labels, services DNS-1035 labels, the rest
 * here DNS-1123 subdomains. */
static ts_name_rule name_rule(const ts_resource *res)
{
    if (ts_resource_is(res, "", "namespaces"))
        return TS_DNS1123_LABEL;
    if (ts_resource_is(res, "", "services"))
        return TS_DNS1035_LABEL;
    return TS_DNS1123_SUBDOMAIN;
}

/* RBAC's names are path segments (ValidatePathSegmentName): anything but
 * "." and "..", without '/' or '%'; the reasons into why, counted. */
static size_t path_segment_problems(const char *name, const char *why[TS_NAME_PROBLEMS_MAX])
{
    size_t n = 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        why[0] = name[1] ? "may not be '..'" : "may not be '.'";
        return 1;
    }
    if (strchr(name, '/'))
        why[n++] = "may not contain '/'";
    if (strchr(name, '%'))
        why[n++] = "may not contain '%'";
    return n;
}

static bool path_segment_named(const ts_resource *res)
{
    return ts_resource_is(res, "apiregistration.k8s.io", "apiservices") ||
           ts_resource_is(res, "rbac.authorization.k8s.io", "roles") ||
           ts_resource_is(res, "rbac.authorization.k8s.io", "rolebindings") ||
           ts_resource_is(res, "rbac.authorization.k8s.io", "clusterroles") ||
           ts_resource_is(res, "rbac.authorization.k8s.io", "clusterrolebindings");
}

/* Each problem with the name its own cause, as ValidateObjectMeta lists
 * them, appended to `causes`. */
static void name_problems(const ts_resource *res, const char *name, json_t *causes)
{
    const char *why[TS_NAME_PROBLEMS_MAX];
    size_t n = path_segment_named(res) ? path_segment_problems(name, why)
                                       : ts_name_problems(name_rule(res), name, why);
    ts_add_problems(causes, "metadata.name", name, why, n);
}

/* Kinds whose own validation (here, at admission) lists the metadata's
 * problems, name rules of their own among them, with theirs: a
 * CustomResourceDefinition and an APIService. */
static bool meta_alone(const ts_resource *res)
{
    return ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions") ||
           ts_resource_is(res, "apiregistration.k8s.io", "apiservices");
}

static void crd_name_rule(const json_t *obj, const char *name, json_t *causes);
static void apiservice_name_rule(const json_t *obj, const char *name, json_t *causes);

/* ValidateObjectMeta's problems with `obj` (its name's on a create, then
 * its labels', annotations', owner references' and finalizers'), for the
 * kind's validation to list ahead of its own; NULL when out of memory or
 * when the metadata's shape is refused (resp filled, *rc set). */
static json_t *meta_problems(const ts_resource *res, const json_t *obj, bool create, int *rc,
                             ts_response *resp)
{
    json_t *causes = json_array();
    if (!causes) {
        *rc = KR_ENOMEM;
        return NULL;
    }
    const json_t *md = json_object_get(obj, "metadata");
    if (create) {
        const char *name = json_string_value(json_object_get(md, "name"));
        size_t before = json_array_size(causes);
        name_problems(res, name, causes);
        if (ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions"))
            crd_name_rule(obj, name, causes);
        else if (ts_resource_is(res, "apiregistration.k8s.io", "apiservices") &&
                 json_array_size(causes) == before)
            apiservice_name_rule(obj, name, causes);
    }
    *rc = ts_validate_metadata(md, causes, resp);
    if (*rc != 0) {
        json_decref(causes);
        return NULL;
    }
    return causes;
}

/* A 422 listing `causes` when there are any (then freed). */
static int respond_causes(const ts_resource *res, const char *name, json_t *causes,
                          ts_response *resp)
{
    int rc = 0;
    if (json_array_size(causes) > 0) {
        ts_respond_invalid_causes(resp, res->kind, res->group, name, causes);
        rc = KR_EINVALIDOBJ;
    }
    json_decref(causes);
    return rc;
}

/* The name a CRD's nameValidationFn adds to NameIsDNSSubdomain's: its
 * plural and group. */
static void crd_name_rule(const json_t *obj, const char *name, json_t *causes)
{
    const json_t *spec = json_object_get(obj, "spec");
    const char *group = json_string_value(json_object_get(spec, "group"));
    const char *plural =
        json_string_value(json_object_get(json_object_get(spec, "names"), "plural"));
    char *want = kr_asprintf("%s.%s", plural ? plural : "", group ? group : "");
    static const char *const why[] = {"must be spec.names.plural+\".\"+spec.group"};
    if (!want || !name || strcmp(want, name) != 0)
        ts_add_problems(causes, "metadata.name", name ? name : "", why, 1);
    kr_free(want);
}

/* An APIService is named spec.version + "." + spec.group ("v1." for the
 * core group), as kube-aggregator's name function checks once the name
 * is a path segment. */
static void apiservice_name_rule(const json_t *obj, const char *name, json_t *causes)
{
    const json_t *spec = json_object_get(obj, "spec");
    const char *group = json_string_value(json_object_get(spec, "group"));
    const char *version = json_string_value(json_object_get(spec, "version"));
    char *want = kr_asprintf("%s.%s", version ? version : "", group ? group : "");
    if (want && name && strcmp(want, name) != 0) {
        kr_buf b = {0};
        kr_buf_append_str(&b, "must be `spec.version+\".\"+spec.group`: ");
        ts_go_quote(&b, want);
        const char *why[] = {b.data ? b.data : "must be `spec.version+\".\"+spec.group`"};
        ts_add_problems(causes, "metadata.name", name, why, 1);
        kr_buf_free(&b);
    }
    kr_free(want);
}

/* The spec's group, names.plural and names.kind a definition needs
 * (ValidateCustomResourceDefinitionSpec's Required values). */
static void crd_names_required(const json_t *obj, json_t *causes)
{
    static const char *const paths[][3] = {{"spec.group", "group", NULL},
                                           {"spec.names.plural", "names", "plural"},
                                           {"spec.names.kind", "names", "kind"}};
    const json_t *spec = json_object_get(obj, "spec");
    for (size_t i = 0; i < KR_ARRAY_LEN(paths); i++) {
        const json_t *v = json_object_get(spec, paths[i][1]);
        if (paths[i][2])
            v = json_object_get(v, paths[i][2]);
        const char *text = json_string_value(v);
        if (!text || !*text)
            json_array_append_new(causes,
                                  json_pack("{s:s, s:s, s:s}", "reason", "FieldValueRequired",
                                            "message", "Required value", "field", paths[i][0]));
    }
}

/* ValidateAPIService after the metadata: only v1 has an empty group. */
static void apiservice_spec(const json_t *obj, json_t *causes)
{
    const json_t *spec = json_object_get(obj, "spec");
    const char *group = json_string_value(json_object_get(spec, "group"));
    const char *version = json_string_value(json_object_get(spec, "version"));
    if ((!group || !*group) && (!version || strcmp(version, "v1") != 0))
        json_array_append_new(
            causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueRequired", "message",
                              "Required value: only v1 may have an empty group and it better be "
                              "legacy kube",
                              "field", "spec.group"));
}

static char *generate_name(kr_testserver_t *ts, const char *prefix)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char suffix[6];
    for (int i = 0; i < 5; i++)
        suffix[i] = alphabet[ts_rand(ts) % (sizeof(alphabet) - 1)];
    suffix[5] = '\0';
    return kr_asprintf("%.58s%s", prefix, suffix);
}

/* The name to create: metadata.name, or one made from generateName. */
static int resolve_name(kr_testserver_t *ts, const ts_resource *res, json_t *md, ts_response *resp)
{
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *gen = json_string_value(json_object_get(md, "generateName"));
    if ((!name || !*name) && gen && *gen) {
        char *made = generate_name(ts, gen);
        if (!made)
            return KR_ENOMEM;
        json_object_set_new(md, "name", json_string(made));
        kr_free(made);
        return 0;
    }
    if (!name || !*name) {
        ts_respond_invalid(resp, res->kind, res->group, "", "metadata.name", "FieldValueRequired",
                           "Required value: name or generateName is required");
        return KR_EINVALIDOBJ;
    }
    return 0;
}

static void respond_already_exists(ts_response *resp, const ts_resource *res, const char *name,
                                   bool generated)
{
    char *q = ts_qualified(res);
    char *msg = kr_asprintf("%s \"%s\" already exists%s", q ? q : "", name,
                            generated ? ", the server was not able to generate a unique name "
                                        "for the object"
                                      : "");
    ts_respond_status(resp, 409, "AlreadyExists", msg, ts_details(res, name, false));
    kr_free(msg);
    kr_free(q);
}

static void respond_ns_not_found(ts_response *resp, const char *ns)
{
    char *msg = kr_asprintf("namespaces \"%s\" not found", ns);
    ts_respond_status(resp, 404, "NotFound", msg,
                      json_pack("{s:s, s:s}", "name", ns, "kind", "namespaces"));
    kr_free(msg);
}

/* fieldManager, else the User-Agent up to its first "/", as the apiserver. */
/* The lifecycle admission's answer to new content in a namespace being
 * deleted. */
static void respond_ns_terminating(ts_response *resp, const ts_resource *res, const char *name,
                                   const char *ns)
{
    char *q = ts_qualified(res);
    char *msg = kr_asprintf("%s \"%s\" is forbidden: unable to create new content in namespace %s "
                            "because it is being terminated",
                            q ? q : "", name ? name : "", ns);
    char *cause = kr_asprintf("namespace %s is being terminated", ns);
    json_t *details = ts_details(res, name ? name : "", false);
    if (details)
        json_object_set_new(details, "causes",
                            json_pack("[{s:s, s:s, s:s}]", "reason", "NamespaceTerminating",
                                      "message", cause ? cause : "", "field",
                                      "metadata.namespace"));
    ts_respond_status(resp, 403, "Forbidden", msg ? msg : "forbidden", details);
    kr_free(cause);
    kr_free(msg);
    kr_free(q);
}

static json_t *manager_of(const ts_write *w)
{
    if (w->manager)
        return json_string(w->manager);
    const char *fm = ts_query(w->req, "fieldManager");
    if (fm && *fm)
        return json_string(fm);
    const char *ua = w->req->user_agent;
    if (ua && *ua && *ua != '/')
        return json_stringn(ua, strcspn(ua, "/"));
    return json_string("unknown");
}

/* The managedFields after this write: server-side apply's, computed
 * with the merge (ts_patch.c), or those of an apply that creates, or an
 * update's (ssa.c). On failure the object keeps those it had. */
static void set_managed(const ts_write *w, const json_t *live, json_t *obj, const char *api_version)
{
    json_t *name = manager_of(w);
    const char *manager = json_string_value(name);
    const char *sub = w->rt->sub;
    const ts_resource *res = w->rt->res;
    json_t *mf;
    if (w->managed)
        mf = json_deep_copy(w->managed);
    else if (w->operation && strcmp(w->operation, "Apply") == 0 && w->applied)
        mf = ts_ssa_applied_set(res, w->applied, manager ? manager : "", sub, api_version);
    else
        mf = ts_ssa_update(res, live, obj, manager ? manager : "", sub, api_version);
    json_decref(name);
    if (!mf)
        return;
    json_t *md = ts_meta(obj);
    if (json_array_size(mf) > 0)
        json_object_set_new(md, "managedFields", mf);
    else {
        json_decref(mf);
        json_object_del(md, "managedFields");
    }
}

/* Whether managedFields differ in more than their times. */
static bool managed_changed(const json_t *a, const json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return true;
    for (size_t i = 0; i < json_array_size(a); i++) {
        static const char *const except[] = {"time"};
        if (!ts_equal_except(json_array_get(a, i), json_array_get(b, i), except, 1))
            return true;
    }
    return false;
}

static void stamp_rv(kr_testserver_t *ts, json_t *md, bool dry_run)
{
    if (dry_run) {
        json_object_del(md, "resourceVersion");
        return;
    }
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", ++ts->rv);
    json_object_set_new(md, "resourceVersion", json_string(rv));
}

/* etcd3's Create, after admission and validation, refuses a
 * resourceVersion that parses as a number above 0 with a plain error,
 * which reaches the client as a 500 without a reason; a dry run never
 * gets there (DryRunnableStorage), and text that is no number is not
 * looked at. */
/* The storage's create, after the strategy validated the object and
 * warned: a resourceVersion set is a 500, a name taken a 409 (so an
 * invalid object with a taken name is a 422, and a taken name still gets
 * the strategy's warnings, as kube-apiserver's do). */
static bool name_taken(const ts_write *w, const json_t *md)
{
    const ts_resource *res = w->rt->res;
    const char *name = json_string_value(json_object_get(md, "name"));
    return name && ts_store_get(res->store, res->namespaced ? w->rt->ns : "", name);
}

static int storage_admits(const ts_write *w, const json_t *md, ts_response *resp)
{
    const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
    char *end = NULL;
    errno = 0;
    unsigned long long rv_n = rv && *rv >= '0' && *rv <= '9' ? strtoull(rv, &end, 10) : 0;
    if (rv_n && !errno && end && !*end && !w->dry_run) {
        ts_respond_status(resp, 500, NULL,
                          "resourceVersion should not be set on objects to be created", NULL);
        return KR_EINVALIDOBJ;
    }
    return 0;
}

static int admit_create(kr_testserver_t *ts, const ts_write *w, json_t *obj, json_t *md,
                        ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    int rc = resolve_name(ts, res, md, resp);
    if (rc != 0)
        return rc;
    const char *name = json_string_value(json_object_get(md, "name"));
    /* the metadata's problems are the head of the kind's validation,
     * listed with its spec's (after admission's namespace checks); only
     * its shape is refused here (a name taken is the storage's, after
     * validation: name_taken) */
    json_t *meta = meta_problems(res, obj, true, &rc, resp);
    if (!meta)
        return rc ? rc : KR_ENOMEM;
    /* the kinds validated here list the metadata's problems with their
     * own (ValidateCustomResourceDefinition, ValidateAPIService) */
    if (ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions")) {
        crd_names_required(obj, meta);
        rc = ts_crd_validate(obj, name, false, meta, resp);
    } else if (ts_resource_is(res, "apiregistration.k8s.io", "apiservices")) {
        apiservice_spec(obj, meta);
        rc = respond_causes(res, name, meta, resp);
        meta = NULL;
    }
    json_decref(meta);
    if (rc != 0)
        return rc;
    if (res->namespaced && !ts_namespace_exists(ts, w->rt->ns)) {
        respond_ns_not_found(resp, w->rt->ns);
        return KR_ENOTFOUND;
    }
    if (res->namespaced && ts_namespace_terminating(ts, w->rt->ns)) {
        respond_ns_terminating(resp, res, name, w->rt->ns);
        return KR_EFORBIDDEN;
    }
    return 0;
}

/* A container's cpu or memory quantity in requests or limits, or NULL. */
static const char *quantity(const json_t *c, const char *which, const char *name)
{
    const char *q = json_string_value(
        json_object_get(json_object_get(json_object_get(c, "resources"), which), name));
    return q && strcmp(q, "0") != 0 ? q : NULL;
}

/* The QoS class kube-apiserver gives a new pod: BestEffort without any cpu
 * or memory request or limit; Guaranteed when every container limits both
 * and requests (when given) equal the limits; else Burstable. Quantities
 * are compared as written ("1" and "1000m" differ here). */
static const char *pod_qos_class(const json_t *spec)
{
    static const char *const kinds[] = {"containers", "initContainers"};
    static const char *const names[] = {"cpu", "memory"};
    bool any = false, guaranteed = true;
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, kinds[k]), i, c)
        {
            for (size_t n = 0; n < 2; n++) {
                const char *req = quantity(c, "requests", names[n]);
                const char *lim = quantity(c, "limits", names[n]);
                any |= req || lim;
                if (!lim || (req && strcmp(req, lim) != 0))
                    guaranteed = false;
            }
        }
    }
    return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

/* A namespace is created with the namespace controller's finalizer. */
static void require_kubernetes_finalizer(json_t *ns)
{
    json_t *spec = json_object_get(ns, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(ns, "spec", spec);
    }
    json_t *fins = json_object_get(spec, "finalizers");
    if (!json_is_array(fins)) {
        fins = json_array();
        json_object_set_new(spec, "finalizers", fins);
    }
    size_t i;
    json_t *f;
    json_array_foreach(fins, i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), "kubernetes") == 0)
            return;
    }
    json_array_append_new(fins, json_string("kubernetes"));
}

static void init_metadata(kr_testserver_t *ts, const ts_write *w, json_t *obj, json_t *md)
{
    const ts_resource *res = w->rt->res;
    char now[32];
    ts_timestamp(now);
    char *uid = ts_uid_new(ts);
    json_object_set_new(md, "uid", json_string(uid ? uid : ""));
    kr_free(uid);
    json_object_set_new(md, "creationTimestamp", json_string(now));
    json_object_del(md, "deletionTimestamp");
    json_object_del(md, "deletionGracePeriodSeconds");
    if (res->generation)
        json_object_set_new(md, "generation", json_integer(1));
    else
        json_object_del(md, "generation");
    /* a Node is created with its status (the kubelet registers so), all
     * but the dynamic kubelet config (its strategy's dropDisabledFields);
     * every other kind's status is dropped */
    if (ts_resource_is(res, "", "nodes")) {
        json_object_del(json_object_get(obj, "spec"), "configSource");
        json_object_del(json_object_get(obj, "status"), "config");
    } else if (res->has_status) {
        json_object_del(obj, "status");
    }
    if (ts_resource_is(res, "", "namespaces")) {
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
        require_kubernetes_finalizer(obj);
    }
    /* the status the create wiped, as defaulting fills it when read back;
     * a volume's with the time its phase was set (its strategy's
     * PrepareForCreate, GA in 1.31) */
    if (ts_resource_is(res, "", "persistentvolumeclaims"))
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Pending"));
    if (ts_resource_is(res, "", "persistentvolumes"))
        json_object_set_new(
            obj, "status",
            json_pack("{s:s, s:s}", "phase", "Pending", "lastPhaseTransitionTime", now));
    if (ts_resource_is(res, "", "pods"))
        json_object_set_new(obj, "status",
                            json_pack("{s:s, s:s}", "phase", "Pending", "qosClass",
                                      pod_qos_class(json_object_get(obj, "spec"))));
    char *av = ts_api_version(res);
    set_managed(w, NULL, obj, av ? av : "");
    kr_free(av);
}

/* A FlowSchema's Dangling condition, as API priority and fairness's
 * configuration controller sets it: whether the priority level it names
 * exists (at this write; a level made or removed later does not change it). */
static int flowschema_status(kr_testserver_t *ts, json_t *obj)
{
    const char *level = json_string_value(json_object_get(
        json_object_get(json_object_get(obj, "spec"), "priorityLevelConfiguration"), "name"));
    ts_resource *levels =
        ts_resource_find(ts, "flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations");
    bool found = level && levels && ts_store_get(levels->store, "", level);
    char now[32], message[400];
    ts_timestamp(now);
    snprintf(message, sizeof(message),
             found ? "This FlowSchema references the PriorityLevelConfiguration object named "
                     "\"%s\" and it exists"
                   : "This FlowSchema references the PriorityLevelConfiguration object named "
                     "\"%s\" but there is no such object",
             level ? level : "");
    const char *state = found ? "False" : "True";
    json_t *st =
        json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}]}", "conditions", "type", "Dangling", "status",
                  state, "lastTransitionTime",
                  ts_condition_since(json_object_get(obj, "status"), "Dangling", state, now),
                  "reason", found ? "Found" : "NotFound", "message", message);
    if (!st || json_object_set_new(obj, "status", st) != 0)
        return KR_ENOMEM;
    return 0;
}

/* The status the registries' controllers give a stored CRD (served once
 * its names are accepted), APIService (available when local) or FlowSchema
 * (its level found), in the same write; not for a write of the status
 * itself. */
static int crd_hook(kr_testserver_t *ts, const ts_write *w, json_t **obj)
{
    if (ts_resource_is(w->rt->res, "apiregistration.k8s.io", "apiservices") && !w->dry_run &&
        !w->rt->sub)
        return ts_apiservice_status(ts, *obj);
    if (ts_resource_is(w->rt->res, "flowcontrol.apiserver.k8s.io", "flowschemas") && !w->dry_run &&
        !w->rt->sub)
        return flowschema_status(ts, *obj);
    if (!ts_resource_is(w->rt->res, "apiextensions.k8s.io", "customresourcedefinitions") ||
        w->dry_run)
        return 0;
    json_t *updated = NULL;
    int rc = ts_crd_established(ts, *obj, &updated);
    if (rc != 0)
        return rc;
    json_decref(*obj);
    *obj = updated;
    return 0;
}

static void respond_oom(ts_response *resp)
{
    ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory", NULL);
}

/* Each object of `res` whose status `fn` now computes otherwise gets it,
 * as its controller's status write: a new resourceVersion and a MODIFIED
 * event. */
static void restatus(kr_testserver_t *ts, ts_resource *res,
                     int (*fn)(kr_testserver_t *ts, json_t *obj))
{
    for (size_t i = 0; res && i < res->store->len; i++) {
        ts_obj *o = &res->store->items[i];
        json_t *updated = json_deep_copy(o->obj);
        if (!updated || fn(ts, updated) != 0 ||
            json_equal(json_object_get(updated, "status"), json_object_get(o->obj, "status"))) {
            json_decref(updated);
            continue;
        }
        stamp_rv(ts, ts_meta(updated), false);
        json_t *old = json_incref(o->obj);
        /* the item's own name and namespace strings stay until the put */
        if (ts_store_put(res->store, o->ns, o->name, json_incref(updated)) == 0)
            ts_record_event(ts, res, TS_MODIFIED, updated, old);
        json_decref(old);
        json_decref(updated);
    }
}

void ts_dependents_sync(kr_testserver_t *ts, const ts_resource *res)
{
    if (ts_resource_is(res, "", "services"))
        restatus(ts, ts_resource_find(ts, "apiregistration.k8s.io", "v1", "apiservices"),
                 ts_apiservice_status);
    else if (ts_resource_is(res, "flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"))
        restatus(ts, ts_resource_find(ts, "flowcontrol.apiserver.k8s.io", "v1", "flowschemas"),
                 flowschema_status);
    else if (ts_resource_is(res, "rbac.authorization.k8s.io", "clusterroles"))
        ts_rbac_aggregate(ts); /* the aggregation controller runs in every mode */
}

/* What a committed write sets off, after the answer took its event. */
static void after_commit(kr_testserver_t *ts, const ts_write *w)
{
    if (!w->dry_run)
        ts_dependents_sync(ts, w->rt->res);
}

/* A built-in object `obj`, in the version `res` stores (converted already
 * when that is another): its missing top-level structs as the Go type of
 * that version writes their zero values. */
static void fill_stored_top(const ts_resource *res, json_t *obj)
{
    if (res->schema)
        return;
    const char *av = res->to_stored ? res->stored_api_version : res->api_version;
    ts_go_fill_top(obj, av ? ts_pb_find_kind(av, res->kind) : NULL);
}

int ts_commit_create(kr_testserver_t *ts, const ts_write *w, json_t *obj, ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    ts_alloc_mark mark = ts_alloc_begin(ts);
    if (res->to_stored) {
        /* a version stored as another: converted before anything else */
        json_t *stored = res->to_stored(obj);
        json_decref(obj);
        if (!stored) {
            respond_oom(resp);
            return KR_ENOMEM;
        }
        obj = stored;
    }
    json_t *md = ts_meta(obj);
    (void)ts_go_values(res, obj, NULL);
    ts_set_defaults(res, obj);
    int rc = md ? admit_create(ts, w, obj, md, resp) : KR_ENOMEM;
    if (rc == 0)
        rc = ts_check_wrong_kind(w, obj, resp);
    json_t *meta = NULL;
    if (rc == 0 && !meta_alone(res))
        meta = meta_problems(res, obj, true, &rc, resp);
    if (rc == 0)
        rc = ts_schema_admit(w, obj, meta, resp);
    json_decref(meta);
    meta = NULL;
    if (rc == 0)
        rc = ts_rbac_admit(ts, w->rt, obj, resp);
    if (rc == 0) {
        init_metadata(ts, w, obj, md);
        rc = ts_registry_create(ts, w, obj, resp);
    }
    /* the metadata as the strategy validates it: a Job's labels carry
     * the generated ones by now (SetDefaults_Job), the job's name among
     * them */
    if (rc == 0 && !meta_alone(res))
        meta = meta_problems(res, obj, true, &rc, resp);
    if (rc == 0)
        rc = ts_validate_spec(res, obj, json_string_value(json_object_get(md, "name")), true, meta,
                              NULL, resp);
    json_decref(meta);
    if (rc == 0 && name_taken(w, md)) {
        ts_warn_write(res, NULL, obj, resp);
        rc = storage_admits(w, md, resp);
        if (rc == 0) {
            respond_already_exists(resp, res, json_string_value(json_object_get(md, "name")),
                                   json_object_get(md, "generateName") != NULL);
            rc = KR_EEXIST;
        }
    }
    if (rc == 0) {
        ts_default_stored(res, obj);
        rc = crd_hook(ts, w, &obj);
        md = ts_meta(obj);
    }
    if (rc == 0)
        rc = storage_admits(w, md, resp);
    if (rc != 0) {
        /* what the registry allocated is given back (its transaction's
         * revert), so that the next create gets what this one would have */
        ts_alloc_revert(ts, mark);
        if (rc == KR_ENOMEM)
            respond_oom(resp);
        json_decref(obj);
        return rc;
    }
    ts_warn_write(res, NULL, obj, resp);
    /* as the Go object is written: its missing top-level structs (a
     * status) as their zero values, in the version it is stored as */
    fill_stored_top(res, obj);
    stamp_rv(ts, md, w->dry_run);
    const ts_event *ev = NULL;
    if (!w->dry_run) {
        const char *name = json_string_value(json_object_get(md, "name"));
        rc = ts_store_put(res->store, res->namespaced ? w->rt->ns : "", name, json_incref(obj));
        if (rc != 0) {
            ts_alloc_revert(ts, mark);
            json_decref(obj);
            respond_oom(resp);
            return rc;
        }
        ev = ts_record_event(ts, res, TS_ADDED, obj, NULL);
        ts_owners_written(ts, res, obj, NULL);
    }
    if (w->no_body) {
        json_decref(obj);
        ts_response_clear(resp);
        resp->status = 201;
    } else {
        ts_respond_written(resp, 201, obj, ev);
    }
    after_commit(ts, w);
    return 0;
}

/* ---- update ------------------------------------------------------------------------ */

static void keep_field(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set(dst, key, v);
    else
        json_object_del(dst, key);
}

static bool finalizers_added(const json_t *old_md, const json_t *new_md)
{
    const json_t *oldf = json_object_get(old_md, "finalizers");
    size_t i, j;
    const json_t *f, *g;
    for (i = 0; i < json_array_size(json_object_get(new_md, "finalizers")) &&
                (f = json_array_get(json_object_get(new_md, "finalizers"), i)) != NULL;
         i++) {
        bool found = false;
        for (j = 0; j < json_array_size(oldf) && (g = json_array_get(oldf, j)) != NULL; j++)
            found = found || json_equal(f, g);
        if (!found)
            return true;
    }
    return false;
}

/* An ephemeral container, once added, stays as it is
 * (ValidatePodEphemeralContainersUpdate). */
static int check_ephemeral_update(const ts_write *w, const json_t *existing, const json_t *obj,
                                  ts_response *resp)
{
    const json_t *old = json_object_get(json_object_get(existing, "spec"), "ephemeralContainers");
    const json_t *now = json_object_get(json_object_get(obj, "spec"), "ephemeralContainers");
    size_t i, j;
    const json_t *c, *d;
    json_array_foreach(old, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *found = NULL;
        json_array_foreach(now, j, d)
        {
            const char *other = json_string_value(json_object_get(d, "name"));
            if (name && other && strcmp(name, other) == 0)
                found = d;
        }
        if (!found || !json_equal(c, found)) {
            char msg[320];
            snprintf(msg, sizeof(msg),
                     "Forbidden: existing ephemeral containers \"%.200s\" may not be %s",
                     name ? name : "", found ? "changed" : "removed");
            ts_respond_invalid(resp, "Pod", "", w->rt->name, "spec.ephemeralContainers",
                               "FieldValueForbidden", msg);
            return KR_EINVALIDOBJ;
        }
    }
    return 0;
}

/* The metadata every update takes from the stored object (BeforeUpdate and
 * ValidateObjectMetaUpdate). */
static const char *const update_keeps[] = {"uid", "creationTimestamp", "deletionTimestamp",
                                           "deletionGracePeriodSeconds", "generation"};

/* A built-in kind's status strategy (its PrepareForUpdate) copies spec
 * back from the stored object, and keeps the rest of what the request
 * sent: labels and annotations a controller writes together with status
 * persist. These kinds reset some metadata as well; every other built-in
 * with a status subresource resets spec only. SR_UNOWNED where the
 * strategy's GetResetFields lists all of metadata though PrepareForUpdate
 * resets only part of it: the CRD status strategy calls
 * ResetObjectMetaForStatus with the new object on both sides, which
 * resets nothing (a CRD's finalizers are removed through its status). */
static const struct {
    const char *group, *plural;
    unsigned reset;
} status_resets[] = {
    {"", "pods", SR_OWNERS}, /* old kubelets corrupted them */
    {"apps", "deployments", SR_LABELS},
    {"apiregistration.k8s.io", "apiservices", SR_OBJECT_META | SR_UNOWNED},
    {"storage.k8s.io", "volumeattachments", SR_OBJECT_META | SR_UNOWNED},
    {"admissionregistration.k8s.io", "validatingadmissionpolicies", SR_OBJECT_META | SR_UNOWNED},
    {"flowcontrol.apiserver.k8s.io", "flowschemas", SR_ALL},
    {"flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", SR_ALL},
    {"apiextensions.k8s.io", "customresourcedefinitions", SR_UNOWNED},
};

const char *ts_status_meta_field(unsigned bit)
{
    switch (bit) {
    case SR_LABELS:
        return "labels";
    case SR_ANNOTATIONS:
        return "annotations";
    case SR_FINALIZERS:
        return "finalizers";
    default:
        return "ownerReferences";
    }
}

unsigned ts_status_resets(const ts_resource *res)
{
    if (res->crd || ts_csr_is(res)) /* a CSR's /status: csr.c */
        return SR_ALL;
    for (size_t i = 0; i < KR_ARRAY_LEN(status_resets); i++)
        if (ts_resource_is(res, status_resets[i].group, status_resets[i].plural))
            return status_resets[i].reset;
    return 0;
}

/* A /status write: the stored object with the request's status and, for a
 * built-in kind, the request's metadata less what its status strategy
 * resets. A custom resource's status strategy copies the whole stored
 * object and sets only status. */
static json_t *merge_status(const ts_resource *res, const json_t *existing, json_t *obj)
{
    json_t *out = json_deep_copy(existing);
    if (!out) {
        json_decref(obj);
        return NULL;
    }
    keep_field(out, obj, "status");
    unsigned reset = ts_status_resets(res);
    json_t *md = json_object_get(obj, "metadata");
    if (!(reset & SR_ALL) && json_is_object(md)) {
        const json_t *old_md = json_object_get(existing, "metadata");
        for (size_t i = 0; i < KR_ARRAY_LEN(update_keeps); i++)
            keep_field(md, old_md, update_keeps[i]);
        /* the status manager's entry is computed from the stored ones */
        keep_field(md, old_md, "managedFields");
        for (unsigned bit = SR_LABELS; bit <= SR_OWNERS; bit <<= 1)
            if (reset & bit)
                keep_field(md, old_md, ts_status_meta_field(bit));
        json_object_set(out, "metadata", md);
    }
    if (ts_resource_is(res, "", "persistentvolumes")) {
        /* a new phase gets its time, unless the writer set a time of its
         * own (persistentVolumeStatusStrategy.PrepareForUpdate) */
        json_t *status = json_object_get(out, "status");
        const json_t *was = json_object_get(existing, "status");
        const char *phase = json_string_value(json_object_get(status, "phase"));
        const char *old_phase = json_string_value(json_object_get(was, "phase"));
        const json_t *at = json_object_get(status, "lastPhaseTransitionTime");
        if (json_is_object(status) && phase && (!old_phase || strcmp(phase, old_phase) != 0) &&
            (!json_is_string(at) ||
             json_equal(at, json_object_get(was, "lastPhaseTransitionTime")))) {
            char now[32];
            ts_timestamp(now);
            json_object_set_new(status, "lastPhaseTransitionTime", json_string(now));
        }
    }
    if (ts_resource_is(res, "", "pods")) {
        /* podStatusStrategy backfills the QoS class a status without one
         * drops (it is set once, at creation; a missing status is Go's
         * zero value, backfilled as well) */
        json_t *status = json_object_get(out, "status");
        const json_t *qos = json_object_get(json_object_get(existing, "status"), "qosClass");
        const char *sent = json_string_value(json_object_get(status, "qosClass"));
        if (qos && !json_is_object(status)) {
            status = json_object();
            json_object_set_new(out, "status", status);
        }
        if (qos && status && (!sent || !*sent))
            json_object_set_new(status, "qosClass", json_deep_copy(qos));
        ts_pod_status_ips(status);
    }
    json_decref(obj);
    return out;
}

/* The new state: server-owned fields from `existing`, the status rules. */
static json_t *merge_for_update(const ts_write *w, const json_t *existing, json_t *obj)
{
    if (ts_csr_is(w->rt->res))
        return ts_csr_merge(w->rt->sub, existing, obj);
    bool is_ns = ts_resource_is(w->rt->res, "", "namespaces");
    if (is_ns && w->rt->sub && strcmp(w->rt->sub, "finalize") == 0) {
        /* namespaces/NAME/finalize: spec.finalizers, and nothing else */
        json_t *out = json_deep_copy(existing);
        json_t *spec = out ? json_object_get(out, "spec") : NULL;
        if (out && !json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(out, "spec", spec);
        }
        if (spec)
            keep_field(spec, json_object_get(obj, "spec"), "finalizers");
        json_decref(obj);
        return out;
    }
    if (ts_resource_is(w->rt->res, "", "pods") && w->rt->sub &&
        strcmp(w->rt->sub, "ephemeralcontainers") == 0) {
        /* pods/NAME/ephemeralcontainers: spec.ephemeralContainers, and
         * nothing else (kubectl debug) */
        json_t *out = json_deep_copy(existing);
        json_t *spec = out ? json_object_get(out, "spec") : NULL;
        if (spec)
            keep_field(spec, json_object_get(obj, "spec"), "ephemeralContainers");
        if (out)
            ts_set_defaults(w->rt->res, out); /* the new containers' defaults */
        json_decref(obj);
        return out;
    }
    if (is_ns && !w->status_only) {
        /* spec.finalizers change through finalize only */
        json_t *spec = json_object_get(obj, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(obj, "spec", spec);
        }
        keep_field(spec, json_object_get(existing, "spec"), "finalizers");
        if (json_object_size(spec) == 0)
            json_object_del(obj, "spec");
    }
    if (w->status_only)
        return merge_status(w->rt->res, existing, obj);
    json_t *md = ts_meta(obj);
    const json_t *old_md = json_object_get(existing, "metadata");
    for (size_t i = 0; md && i < KR_ARRAY_LEN(update_keeps); i++)
        keep_field(md, old_md, update_keeps[i]);
    if (w->rt->res->has_status)
        keep_field(obj, existing, "status");
    return obj;
}

static bool same_object(const json_t *a, const json_t *b)
{
    static const char *const top[] = {"metadata"};
    static const char *const meta[] = {"resourceVersion", "managedFields"};
    return ts_equal_except(a, b, top, 1) &&
           ts_equal_except(json_object_get(a, "metadata"), json_object_get(b, "metadata"), meta, 2);
}

static void bump_generation(const ts_resource *res, const json_t *existing, json_t *obj)
{
    if (!res->generation || ts_spec_equal(res, existing, obj))
        return;
    json_t *md = ts_meta(obj);
    json_int_t gen = json_integer_value(json_object_get(md, "generation"));
    json_object_set_new(md, "generation", json_integer(gen + 1));
}

/* Custom resources and CRDs allow no unconditional update (a PUT of the
 * object or its status without a resourceVersion); the registry names the
 * resource where the kind would go. Judged after the request's decoding
 * (strict field validation answers first). */
static int admit_unconditional(const ts_write *w, const json_t *obj, ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    bool put = w->req && w->req->method && strcmp(w->req->method, "PUT") == 0;
    bool strict =
        res->crd || ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions");
    if (!put || !strict || (rv && *rv) || (w->rt->sub && strcmp(w->rt->sub, "status") != 0))
        return 0;
    ts_respond_invalid(resp, res->plural, res->group, w->rt->name, "metadata.resourceVersion",
                       "FieldValueInvalid", "Invalid value: 0x0: must be specified for an update");
    return KR_EINVALIDOBJ;
}

static int admit_update(const ts_write *w, const json_t *existing, json_t *obj, ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    const json_t *old_md = json_object_get(existing, "metadata");
    json_t *md = ts_meta(obj);
    const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
    const char *cur = json_string_value(json_object_get(old_md, "resourceVersion"));
    const char *uid = json_string_value(json_object_get(md, "uid"));
    const char *cur_uid = json_string_value(json_object_get(old_md, "uid"));
    bool put = w->req && w->req->method && strcmp(w->req->method, "PUT") == 0;
    bool changes_uid = uid && *uid && cur_uid && strcmp(uid, cur_uid) != 0;
    if (put && changes_uid) {
        /* a PUT's uid is its precondition (the registry's
         * defaultUpdatedObjectInfo): an object deleted and made again under
         * the same name is never overwritten by a stale copy */
        char *why = kr_asprintf("Precondition failed: UID in precondition: %s, UID in object "
                                "meta: %s",
                                uid, cur_uid);
        ts_respond_conflict(resp, res, w->rt->name, why ? why : "Precondition failed");
        kr_free(why);
        return KR_ECONFLICT;
    }
    if (changes_uid) { /* a patch's: ValidateObjectMetaUpdate */
        char *why = kr_asprintf("Invalid value: \"%s\": field is immutable", uid);
        ts_respond_invalid(resp, res->kind, res->group, w->rt->name, "metadata.uid",
                           "FieldValueInvalid", why ? why : "field is immutable");
        kr_free(why);
        return KR_EINVALIDOBJ;
    }
    if (rv && *rv && (!cur || strcmp(rv, cur) != 0)) {
        ts_respond_conflict(resp, res, w->rt->name,
                            "the object has been modified; please apply your changes to the "
                            "latest version and try again");
        return KR_ECONFLICT;
    }
    if (ts_check_wrong_kind(w, obj, resp) != 0)
        return KR_EINVALIDOBJ;
    /* the metadata's problems are listed with the spec's (or a status
     * write's with the status's) by the kind's validation; the kinds with
     * name rules of their own answered here */
    bool alone = ts_resource_is(res, "apiregistration.k8s.io", "apiservices");
    json_t *meta = alone ? json_array() : NULL;
    int rc = ts_validate_metadata(md, meta, resp);
    if (rc == 0 && alone)
        rc = respond_causes(res, w->rt->name, meta, resp);
    else
        json_decref(meta);
    if (rc != 0)
        return rc;
    if (json_object_get(old_md, "deletionTimestamp") && finalizers_added(old_md, md)) {
        ts_respond_invalid(resp, res->kind, res->group, w->rt->name, "metadata.finalizers",
                           "FieldValueForbidden",
                           "Forbidden: no new finalizers can be added if the object is being "
                           "deleted");
        return KR_EINVALIDOBJ;
    }
    return 0;
}

static bool finalized(const ts_resource *res, const json_t *obj)
{
    if (ts_resource_is(res, "", "namespaces"))
        return ts_namespace_finalized(obj);
    const json_t *md = json_object_get(obj, "metadata");
    return json_object_get(md, "deletionTimestamp") &&
           json_array_size(json_object_get(md, "finalizers")) == 0;
}

static int store_update(kr_testserver_t *ts, const ts_write *w, const json_t *existing, json_t *obj,
                        ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    const char *ns = res->namespaced ? w->rt->ns : "";
    if (finalized(res, obj)) {
        /* The last finalizer of a marked object is gone: the object goes.
         * As kube-apiserver's deleteWithoutFinalizers, the update itself is
         * never stored: the object is deleted as it was stored, so the
         * DELETED event (and the selectors watches filter it by) carries
         * the previous state at the deletion's resourceVersion. */
        json_t *gone = json_deep_copy(existing);
        if (!gone) {
            json_decref(obj);
            respond_oom(resp);
            return KR_ENOMEM;
        }
        json_object_set(ts_meta(gone), "resourceVersion",
                        json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
        ts_store_remove(res->store, ns, w->rt->name);
        const ts_event *ev = ts_record_event(ts, res, TS_DELETED, gone, (json_t *)existing);
        ts_respond_written(resp, 200, json_incref(obj), ev);
        if (ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions"))
            ts_crd_removed(ts, gone);
        if (res->namespaced)
            ts_namespace_sync(ts, ns);
        ts_owners_sync(ts, gone);
        ts_dependents_sync(ts, res);
        json_decref(gone);
        json_decref(obj);
        return 0;
    }
    fill_stored_top(res, obj);
    json_t *old = json_incref((json_t *)existing);
    const ts_event *ev = NULL;
    int rc = ts_store_put(res->store, ns, w->rt->name, json_incref(obj));
    if (rc == 0) {
        ev = ts_record_event(ts, res, TS_MODIFIED, obj, old);
        ts_owners_written(ts, res, obj, old);
    }
    json_decref(old);
    if (rc != 0) {
        json_decref(obj);
        respond_oom(resp);
        return rc;
    }
    ts_respond_written(resp, 200, obj, ev);
    return 0;
}

static int commit_update(kr_testserver_t *ts, const ts_write *w, const json_t *existing,
                         json_t *obj, ts_response *resp);

int ts_commit_update(kr_testserver_t *ts, const ts_write *w, const json_t *existing, json_t *obj,
                     ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    if (!res->to_stored)
        return commit_update(ts, w, existing, obj, resp);
    /* a version stored as another: both sides converted */
    json_t *stored = res->to_stored(obj), *live = res->to_stored(existing);
    json_decref(obj);
    if (!stored || !live) {
        json_decref(stored);
        json_decref(live);
        respond_oom(resp);
        return KR_ENOMEM;
    }
    int rc = commit_update(ts, w, live, stored, resp);
    json_decref(live);
    return rc;
}

static int commit_update(kr_testserver_t *ts, const ts_write *w, const json_t *existing,
                         json_t *obj, ts_response *resp)
{
    int rc = admit_update(w, existing, obj, resp);
    if (rc != 0) {
        json_decref(obj);
        return rc;
    }
    obj = merge_for_update(w, existing, obj);
    if (!obj) {
        respond_oom(resp);
        return KR_ENOMEM;
    }
    /* a status write's metadata as its strategy left it (a Deployment's
     * labels are the stored ones) */
    bool with_meta = !meta_alone(w->rt->res);
    json_t *meta = with_meta ? meta_problems(w->rt->res, obj, false, &rc, resp) : NULL;
    if (rc == 0)
        rc = ts_schema_admit(w, obj, meta, resp);
    json_decref(meta);
    meta = NULL;
    if (rc == 0)
        rc = admit_unconditional(w, obj, resp);
    if (rc == 0 && ts_csr_is(w->rt->res))
        rc = ts_csr_update(w->rt->sub, existing, obj, resp);
    if (rc == 0 && ts_resource_is(w->rt->res, "", "pods") && w->rt->sub &&
        strcmp(w->rt->sub, "ephemeralcontainers") == 0)
        rc = check_ephemeral_update(w, existing, obj, resp);
    if (rc != 0) {
        json_decref(obj);
        return rc;
    }
    (void)ts_go_values(w->rt->res, obj, NULL);
    ts_alloc_mark mark = ts_alloc_begin(ts);
    if (!w->status_only) {
        ts_set_defaults(w->rt->res, obj);
        rc = ts_registry_update(ts, w, existing, obj, resp);
        /* one list, as the kind's ValidateXUpdate makes it: the metadata's
         * problems, then the update's rules and the object's validation
         * in the kind's order */
        if (rc == 0)
            meta = with_meta ? meta_problems(w->rt->res, obj, false, &rc, resp) : json_array();
        json_t *rules = rc == 0 ? json_array() : NULL;
        if (rc == 0 && (!meta || !rules))
            rc = KR_ENOMEM;
        if (rc == 0) {
            ts_validate_update(w->rt->res, existing, obj, rules);
            if (ts_resource_is(w->rt->res, "", "pods"))
                ts_validate_pod_update(existing, obj, rules);
            bool last = ts_update_rules_last(w->rt->res);
            if (!last)
                json_array_extend(meta, rules);
            rc = ts_validate_spec(w->rt->res, obj, w->rt->name, false, meta, last ? rules : NULL,
                                  resp);
        }
        json_decref(rules);
        json_decref(meta);
        if (rc == 0 &&
            ts_resource_is(w->rt->res, "apiextensions.k8s.io", "customresourcedefinitions")) {
            /* ValidateCustomResourceDefinitionUpdate: the metadata's
             * problems, then the definition's */
            meta = meta_problems(w->rt->res, obj, false, &rc, resp);
            if (rc == 0)
                rc = ts_crd_validate(obj, w->rt->name, true, meta, resp);
            json_decref(meta);
        }
        if (rc == 0)
            rc = ts_rbac_admit(ts, w->rt, obj, resp);
        if (rc != 0) {
            ts_alloc_revert(ts, mark); /* the node ports a new type got */
            json_decref(obj);
            return rc;
        }
    } else if (ts_resource_is(w->rt->res, "apiextensions.k8s.io", "customresourcedefinitions")) {
        meta = meta_problems(w->rt->res, obj, false, &rc, resp);
        if (rc == 0)
            rc = ts_crd_validate_status(obj, w->rt->name, meta, resp);
        json_decref(meta);
        if (rc != 0) {
            json_decref(obj);
            return rc;
        }
    } else if (with_meta) {
        /* ValidateXStatusUpdate's ValidateObjectMetaUpdate (a custom
         * resource's were listed with its schema's problems above), then
         * a pod's addresses (ValidatePodStatusUpdate) */
        meta = meta_problems(w->rt->res, obj, false, &rc, resp);
        if (rc == 0 && ts_resource_is(w->rt->res, "", "pods") && strcmp(w->rt->sub, "status") == 0)
            ts_validate_pod_status_ips(obj, meta);
        if (rc == 0)
            rc = respond_causes(w->rt->res, w->rt->name, meta, resp);
        if (rc != 0) {
            json_decref(obj);
            return rc;
        }
    }
    const json_t *live_managed =
        json_object_get(json_object_get(existing, "metadata"), "managedFields");
    /* managedFields the request sets are a change of their own (kubectl's
     * move from client-side to server-side apply rewrites only them) */
    const json_t *sent_managed = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    if (same_object(existing, obj) && (!w->managed || !managed_changed(live_managed, w->managed)) &&
        (w->managed || w->rt->sub || !json_is_array(sent_managed) ||
         !managed_changed(live_managed, sent_managed))) {
        /* A no-op write changes nothing, not even the resourceVersion. */
        json_decref(obj);
        ts_respond_json(resp, 200, json_incref((json_t *)existing));
        return 0;
    }
    bump_generation(w->rt->res, existing, obj);
    if (!w->rt->sub) /* the subresources' strategies give none */
        ts_warn_write(w->rt->res, existing, obj, resp);
    char *av = ts_api_version(w->rt->res);
    set_managed(w, existing, obj, av ? av : "");
    kr_free(av);
    json_t *md = ts_meta(obj);
    if (w->dry_run) {
        /* As the apiserver's dry-run storage answers: the object as it
         * would be written, at the resourceVersion it has now (kubectl
         * diff then shows no resourceVersion change). */
        json_t *live = json_object_get(json_object_get(existing, "metadata"), "resourceVersion");
        if (json_is_string(live))
            json_object_set_new(md, "resourceVersion", json_string(json_string_value(live)));
        else
            json_object_del(md, "resourceVersion");
        ts_respond_json(resp, 200, obj);
        return 0;
    }
    /* The hook's own writes (a CRD's APIServices) come first: stamped
     * after them, the object's resourceVersion is its event's, and a watch
     * from it does not replay the change. */
    rc = crd_hook(ts, w, &obj);
    if (rc != 0) {
        ts_alloc_revert(ts, mark);
        json_decref(obj);
        respond_oom(resp);
        return rc;
    }
    stamp_rv(ts, ts_meta(obj), false);
    rc = store_update(ts, w, existing, obj, resp);
    if (rc != 0)
        ts_alloc_revert(ts, mark);
    after_commit(ts, w);
    return rc;
}

/* ---- POST and PUT ---------------------------------------------------------------------- */

json_t *ts_read_body(const ts_request *req, ts_response *resp)
{
    bool yaml = ts_content_is_yaml(req), pb = ts_content_is_protobuf(req);
    if (!yaml && !pb && !ts_content_is_json(req)) {
        ts_respond_unsupported_media(resp, "application/json, application/yaml, "
                                           "application/vnd.kubernetes.protobuf");
        return NULL;
    }
    return pb ? ts_parse_protobuf_body(req, resp) : ts_parse_body(req, yaml, resp);
}

/* A custom resource is decoded as unstructured, which needs the body's own
 * kind (a built-in type takes the endpoint's when the body has none): the
 * generic handler's 400 for a decode error, with its 30-byte summary. */
static int check_unstructured_kind(const ts_request *req, const ts_route *rt, const json_t *obj,
                                   ts_response *resp)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!rt->res->crd || (kind && *kind))
        return 0;
    char *text = ts_content_is_json(req) ? NULL : json_dumps(obj, JSON_COMPACT);
    const char *data = text ? text : req->body;
    int len = text ? (int)strlen(text) : (int)req->body_len;
    int shown = len > 30 ? 30 : len;
    ts_respond_bad_request(resp,
                           "the object provided is unrecognized (must be of type %s): Object "
                           "'Kind' is missing in '%.*s' (%.*s%s)",
                           rt->res->kind, len, data, shown, data, len > 30 ? " ..." : "");
    kr_json_text_free(text);
    return -1;
}

/* A custom resource's kind other than its definition's is no decoding
 * error (unstructured decodes any kind) but its validation's: a 422 after
 * the handler's checks, admission and an update's lookup. */
json_t *ts_read_object(const ts_request *req, const ts_route *rt, char **wrong_kind, json_t **dups,
                       ts_response *resp)
{
    json_t *obj = ts_read_body(req, resp);
    if (!obj)
        return NULL;
    /* a custom resource decodes as a map, where a key's second object
     * replaces the first; a built-in type's struct takes it into the first */
    if (dups && ts_body_duplicates(req, !rt->res->crd, &obj, dups) != 0) {
        json_decref(obj);
        respond_oom(resp);
        return NULL;
    }
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (wrong_kind && rt->res->crd && kind && *kind && strcmp(kind, rt->res->kind) != 0) {
        *wrong_kind = kr_strdup(kind);
        if (!*wrong_kind || json_object_set_new(obj, "kind", json_string(rt->res->kind)) != 0) {
            json_decref(obj);
            respond_oom(resp);
            return NULL;
        }
    }
    if (check_unstructured_kind(req, rt, obj, resp) != 0 ||
        ts_check_builtin_decode(rt->res, obj, resp) != 0 ||
        ts_check_kind(rt->res, obj, resp) != 0 || ts_check_namespace(rt, obj, resp) != 0) {
        json_decref(obj);
        if (wrong_kind) {
            kr_free(*wrong_kind);
            *wrong_kind = NULL;
        }
        if (dups) {
            json_decref(*dups);
            *dups = NULL;
        }
        return NULL;
    }
    return obj;
}

/* customResourceValidator's ValidateTypeMeta, the first of a custom
 * resource's validation: `SomethingElse.<group> "<name>" is invalid: kind:
 * Invalid value: "SomethingElse": must be <Kind>`, named by the body's
 * kind. */
int ts_check_wrong_kind(const ts_write *w, const json_t *obj, ts_response *resp)
{
    if (!w->wrong_kind)
        return 0;
    kr_buf msg = {0};
    kr_buf_append_str(&msg, "Invalid value: ");
    ts_go_quote(&msg, w->wrong_kind);
    kr_buf_printf(&msg, ": must be %s", w->rt->res->kind);
    json_t *causes = json_pack("[{s:s, s:s, s:s}]", "reason", "FieldValueInvalid", "message",
                               msg.data ? msg.data : "", "field", "kind");
    int rc = KR_EINVALIDOBJ;
    if (!causes || !msg.data) {
        respond_oom(resp);
        rc = KR_ENOMEM;
    } else {
        const char *name = ts_meta_str(obj, "name");
        ts_respond_invalid_causes(resp, w->wrong_kind, w->rt->res->group, name ? name : "", causes);
    }
    json_decref(causes);
    kr_buf_free(&msg);
    return rc;
}

void ts_handle_create(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                      ts_response *resp)
{
    if (rt->sub || (rt->res->namespaced && !rt->ns)) {
        ts_respond_not_found_path(resp);
        return;
    }
    if (rt->res->crd_name && ts_crd_terminating(ts, rt->res)) {
        /* the custom resource handler refuses before it reads the body */
        ts_respond_status(resp, 405, "MethodNotAllowed",
                          "create not allowed while custom resource definition is terminating",
                          ts_details(rt->res, NULL, false));
        return;
    }
    ts_write w = {.req = req, .rt = rt};
    if (ts_write_options(req, resp, TS_OPTS_CREATE, &w.dry_run) != 0)
        return;
    char *wrong_kind = NULL;
    json_t *dups = NULL;
    json_t *obj = ts_read_object(req, rt, &wrong_kind, &dups, resp);
    w.wrong_kind = wrong_kind;
    w.dups = dups;
    if (obj &&
        (ts_schema_decode(&w, obj, resp) != 0 || ts_schema_strict(&w, obj, NULL, resp) != 0)) {
        json_decref(obj);
        obj = NULL;
    }
    w.strict_done = true;
    if (obj)
        ts_commit_create(ts, &w, obj, resp);
    kr_free(wrong_kind);
    json_decref(dups);
}

void ts_handle_update(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                      ts_response *resp)
{
    ts_write w = {.req = req, .rt = rt, .status_only = rt->sub != NULL};
    if (ts_write_options(req, resp, TS_OPTS_UPDATE, &w.dry_run) != 0)
        return;
    char *wrong_kind = NULL;
    json_t *dups = NULL;
    json_t *obj = ts_read_object(req, rt, &wrong_kind, &dups, resp);
    w.wrong_kind = wrong_kind;
    w.dups = dups;
    ts_obj *cur = NULL;
    json_t *existing = NULL;
    bool answered =
        !obj || ts_schema_decode(&w, obj, resp) != 0 || ts_schema_strict(&w, obj, NULL, resp) != 0;
    w.strict_done = true;
    if (answered || ts_check_name(rt, obj, resp) != 0) {
        /* answered */
    } else if (!(cur = ts_store_get(rt->res->store, rt->ns ? rt->ns : "", rt->name))) {
        ts_respond_not_found(resp, rt->res, rt->name);
    } else if (!(existing = ts_as_served(rt->res, cur->obj))) {
        respond_oom(resp);
    } else {
        ts_commit_update(ts, &w, existing, obj, resp);
        obj = NULL; /* taken */
    }
    json_decref(obj);
    json_decref(existing);
    kr_free(wrong_kind);
    json_decref(dups);
}
