/* kr-apiserver — the defaults kube-apiserver gives built-in objects.
 *
 * Two steps, as in kube-apiserver:
 *   - ts_set_defaults: the scheme's defaulting functions (SetDefaults_* of
 *     k8s.io/kubernetes/pkg/apis/.../v1, and autoscaling/v2), run on every
 *     create and update: a field the writer left out gets its documented
 *     default. Pod templates inside workloads and PodTemplates are
 *     defaulted as pods are.
 *   - ts_registry_create / ts_registry_update: what the registries and
 *     the default admission plugins add on create: a namespace's name
 *     label (when generateName named it), a Service's cluster IP
 *     and node ports (allocated, unique in the server; kept across updates
 *     that leave them out), a Job's generated selector and labels, a Pod's
 *     priority and default tolerations, and its AppArmor annotations and
 *     fields made to agree.
 * Custom resources are left as sent (their schemas' defaults are not
 * applied). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ts_internal.h"

/* ---- helpers ----------------------------------------------------------------------- */

/* A field Go would decode as nil or zero: absent or null. */
static bool unset(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return !v || json_is_null(v);
}

/* obj[key] = value (stolen) unless the field is set. */
static void def(json_t *obj, const char *key, json_t *value)
{
    if (json_is_object(obj) && unset(obj, key))
        json_object_set_new(obj, key, value);
    else
        json_decref(value);
}

static void def_str(json_t *obj, const char *key, const char *value)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_object(obj) && (unset(obj, key) || (json_is_string(v) && !*json_string_value(v))))
        json_object_set_new(obj, key, json_string(value));
}

/* obj[key], created as {} when absent or null (NULL when obj is not an object). */
static json_t *child(json_t *obj, const char *key)
{
    if (!json_is_object(obj))
        return NULL;
    def(obj, key, json_object());
    json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

static json_t *at(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool eq(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

/* ---- pods (SetDefaults_PodSpec, _Container, _Probe, _Volume, ...) ------------------ */

/* IfNotPresent for an image with a tag other than "latest" or with a
 * digest; Always otherwise (the tag defaults to "latest"). */
static const char *pull_policy(const char *image)
{
    if (!image || strchr(image, '@'))
        return image ? "IfNotPresent" : "Always";
    const char *slash = strrchr(image, '/');
    const char *colon = strrchr(slash ? slash : image, ':');
    return !colon || strcmp(colon + 1, "latest") == 0 ? "Always" : "IfNotPresent";
}

/* obj[key] = value unless the field holds a number other than 0 (a Go
 * int32 default: `if obj.X == 0`). */
static void def_int(json_t *obj, const char *key, json_int_t value)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_object(obj) && (unset(obj, key) || (json_is_integer(v) && !json_integer_value(v))))
        json_object_set_new(obj, key, json_integer(value));
}

static void default_probe(json_t *probe)
{
    if (!json_is_object(probe))
        return;
    def_int(probe, "timeoutSeconds", 1);
    def_int(probe, "periodSeconds", 10);
    def_int(probe, "successThreshold", 1);
    def_int(probe, "failureThreshold", 3);
    json_t *http = at(probe, "httpGet");
    if (http) {
        def_str(http, "path", "/");
        def_str(http, "scheme", "HTTP");
    }
}

static void default_env(json_t *env)
{
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        json_t *field_ref = at(at(e, "valueFrom"), "fieldRef");
        if (field_ref)
            def_str(field_ref, "apiVersion", "v1");
    }
}

static void default_container(json_t *c)
{
    if (!json_is_object(c))
        return;
    def_str(c, "imagePullPolicy", pull_policy(str(c, "image")));
    def_str(c, "terminationMessagePath", "/dev/termination-log");
    def_str(c, "terminationMessagePolicy", "File");
    def(c, "resources", json_object());
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(c, "ports"), i, p)
    {
        if (json_is_object(p))
            def_str(p, "protocol", "TCP");
    }
    default_env(json_object_get(c, "env"));
    static const char *const probes[] = {"livenessProbe", "readinessProbe", "startupProbe"};
    for (size_t k = 0; k < KR_ARRAY_LEN(probes); k++)
        default_probe(at(c, probes[k]));
}

/* A volume without a source is an emptyDir; file modes default to 0644. */
static void default_volume(json_t *v)
{
    if (!json_is_object(v))
        return;
    static const char *const with_mode[] = {"secret", "configMap", "projected", "downwardAPI"};
    bool source = false;
    const char *key;
    json_t *value;
    json_object_foreach(v, key, value)
    {
        if (strcmp(key, "name") != 0 && json_is_object(value))
            source = true;
    }
    if (!source)
        json_object_set_new(v, "emptyDir", json_object());
    for (size_t k = 0; k < KR_ARRAY_LEN(with_mode); k++) {
        json_t *src = at(v, with_mode[k]);
        if (src)
            def(src, "defaultMode", json_integer(0644));
    }
    json_t *host = at(v, "hostPath");
    if (host)
        def_str(host, "type", ""); /* HostPathUnset */
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(at(v, "downwardAPI"), "items"), i, item)
    {
        json_t *ref = at(item, "fieldRef");
        if (ref)
            def_str(ref, "apiVersion", "v1");
    }
    json_t *sources = json_object_get(at(v, "projected"), "sources");
    json_t *projection;
    json_array_foreach(sources, i, projection)
    {
        json_t *token = at(projection, "serviceAccountToken");
        if (token)
            def(token, "expirationSeconds", json_integer(3600));
        size_t j;
        json_array_foreach(json_object_get(at(projection, "downwardAPI"), "items"), j, item)
        {
            json_t *ref = at(item, "fieldRef");
            if (ref)
                def_str(ref, "apiVersion", "v1");
        }
    }
}

/* spec.serviceAccount is the deprecated name of spec.serviceAccountName:
 * read when the new one is empty, written as its copy (the v1
 * conversion both ways). */
static void alias_service_account(json_t *spec)
{
    const char *name = str(spec, "serviceAccountName");
    const char *old = str(spec, "serviceAccount");
    if ((!name || !*name) && old && *old)
        json_object_set_new(spec, "serviceAccountName", json_string(old));
    name = str(spec, "serviceAccountName");
    if (name && *name)
        json_object_set_new(spec, "serviceAccount", json_string(name));
}

static void default_pod_spec(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    def_str(spec, "dnsPolicy", "ClusterFirst");
    def_str(spec, "restartPolicy", "Always");
    def(spec, "securityContext", json_object());
    def(spec, "terminationGracePeriodSeconds", json_integer(30));
    def_str(spec, "schedulerName", "default-scheduler");
    alias_service_account(spec);
    static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
    for (size_t k = 0; k < KR_ARRAY_LEN(lists); k++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[k]), i, c) default_container(c);
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "volumes"), i, v) default_volume(v);
}

/* What SetDefaults_Pod adds to a pod but not to a template's pod spec:
 * service links on, and a container's limits as the requests it lacks. */
static void default_pod(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    def(spec, "enableServiceLinks", json_true());
    static const char *const lists[] = {"initContainers", "containers"};
    for (size_t k = 0; k < KR_ARRAY_LEN(lists); k++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[k]), i, c)
        {
            json_t *res = json_object_get(c, "resources");
            json_t *limits = json_object_get(res, "limits");
            if (!json_is_object(limits) || json_object_size(limits) == 0)
                continue;
            json_t *requests = json_object_get(res, "requests");
            if (!json_is_object(requests)) {
                requests = json_object();
                json_object_set_new(res, "requests", requests);
            }
            const char *key;
            json_t *value;
            json_object_foreach(limits, key, value)
            {
                if (!json_object_get(requests, key))
                    json_object_set(requests, key, value);
            }
        }
    }
}

static void default_template(json_t *tmpl)
{
    default_pod_spec(at(tmpl, "spec"));
}

/* ---- services (SetDefaults_Service) ------------------------------------------------ */

static bool needs_node_ports(const char *type)
{
    return eq(type, "NodePort") || eq(type, "LoadBalancer");
}

static void default_service(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    def_str(spec, "sessionAffinity", "None");
    def_str(spec, "type", "ClusterIP");
    const char *type = str(spec, "type");
    const char *affinity = str(spec, "sessionAffinity");
    if (eq(affinity, "ClientIP")) {
        json_t *ip = child(child(spec, "sessionAffinityConfig"), "clientIP");
        def(ip, "timeoutSeconds", json_integer(10800));
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(spec, "ports"), i, p)
    {
        if (!json_is_object(p))
            continue;
        def_str(p, "protocol", "TCP");
        const json_t *target = json_object_get(p, "targetPort");
        if (unset(p, "targetPort") || (json_is_integer(target) && !json_integer_value(target)) ||
            (json_is_string(target) && !*json_string_value(target)))
            json_object_set(p, "targetPort", json_object_get(p, "port"));
    }
    if (needs_node_ports(type))
        def_str(spec, "externalTrafficPolicy", "Cluster");
    if (type && !eq(type, "ExternalName"))
        def_str(spec, "internalTrafficPolicy", "Cluster");
    if (eq(type, "LoadBalancer"))
        def(spec, "allocateLoadBalancerNodePorts", json_true());
}

/* ---- workloads ------------------------------------------------------------------------ */

static void default_deployment(json_t *spec)
{
    def(spec, "replicas", json_integer(1));
    json_t *strategy = child(spec, "strategy");
    def_str(strategy, "type", "RollingUpdate");
    if (eq(str(strategy, "type"), "RollingUpdate")) {
        json_t *ru = child(strategy, "rollingUpdate");
        def(ru, "maxUnavailable", json_string("25%"));
        def(ru, "maxSurge", json_string("25%"));
    }
    def(spec, "revisionHistoryLimit", json_integer(10));
    def(spec, "progressDeadlineSeconds", json_integer(600));
}

/* SetDefaults_PersistentVolumeClaim and _PersistentVolumeClaimSpec, also
 * run on a StatefulSet's claim templates: a Filesystem volume, and the
 * phase Pending (the templates show it too). */
static void default_claim(json_t *pvc)
{
    def(child(pvc, "spec"), "volumeMode", json_string("Filesystem"));
    def_str(child(pvc, "status"), "phase", "Pending");
}

/* SetDefaults_PersistentVolume. */
static void default_persistent_volume(json_t *pv)
{
    json_t *spec = child(pv, "spec");
    def_str(spec, "persistentVolumeReclaimPolicy", "Retain");
    def(spec, "volumeMode", json_string("Filesystem"));
    def_str(child(pv, "status"), "phase", "Pending");
}

static void default_statefulset(json_t *spec)
{
    def(spec, "replicas", json_integer(1));
    def_str(spec, "podManagementPolicy", "OrderedReady");
    json_t *strategy = child(spec, "updateStrategy");
    if (strategy && (unset(strategy, "type") || eq(str(strategy, "type"), ""))) {
        json_object_set_new(strategy, "type", json_string("RollingUpdate"));
        def(strategy, "rollingUpdate", json_object());
    }
    json_t *ru = at(strategy, "rollingUpdate");
    if (ru && eq(str(strategy, "type"), "RollingUpdate"))
        def(ru, "partition", json_integer(0));
    def(spec, "revisionHistoryLimit", json_integer(10));
    json_t *retention = child(spec, "persistentVolumeClaimRetentionPolicy");
    def_str(retention, "whenDeleted", "Retain");
    def_str(retention, "whenScaled", "Retain");
    size_t i;
    json_t *claim;
    json_array_foreach(json_object_get(spec, "volumeClaimTemplates"), i, claim)
    {
        if (json_is_object(claim))
            default_claim(claim);
    }
}

static void default_daemonset(json_t *spec)
{
    json_t *strategy = child(spec, "updateStrategy");
    def_str(strategy, "type", "RollingUpdate");
    if (eq(str(strategy, "type"), "RollingUpdate")) {
        json_t *ru = child(strategy, "rollingUpdate");
        def(ru, "maxUnavailable", json_integer(1));
        def(ru, "maxSurge", json_integer(0));
    }
    def(spec, "revisionHistoryLimit", json_integer(10));
}

static void default_job(json_t *spec)
{
    if (unset(spec, "completions") && unset(spec, "parallelism"))
        json_object_set_new(spec, "completions", json_integer(1));
    def(spec, "parallelism", json_integer(1));
    def(spec, "backoffLimit", json_integer(unset(spec, "backoffLimitPerIndex") ? 6 : 2147483647));
    def_str(spec, "completionMode", "NonIndexed");
    def(spec, "suspend", json_false());
    def_str(spec, "podReplacementPolicy",
            unset(spec, "podFailurePolicy") ? "TerminatingOrFailed" : "Failed");
}

static void default_cronjob(json_t *spec)
{
    def_str(spec, "concurrencyPolicy", "Allow");
    def(spec, "suspend", json_false());
    def(spec, "successfulJobsHistoryLimit", json_integer(3));
    def(spec, "failedJobsHistoryLimit", json_integer(1));
    default_template(at(at(at(spec, "jobTemplate"), "spec"), "template"));
}

/* ---- other kinds ----------------------------------------------------------------------- */

/* SetDefaults_EndpointPort (discovery/v1): an unnamed port is named "". */
static void default_endpointslice(json_t *slice)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(slice, "ports"), i, p)
    {
        def(p, "name", json_string(""));
        def(p, "protocol", json_string("TCP"));
    }
}

/* SetDefaults_StorageClass. */
static void default_storageclass(json_t *sc)
{
    def(sc, "reclaimPolicy", json_string("Delete"));
    def(sc, "volumeBindingMode", json_string("Immediate"));
}

/* SetDefaults_IngressClass: parameters are cluster-scoped unless told. */
static void default_ingressclass(json_t *spec)
{
    def(at(spec, "parameters"), "scope", json_string("Cluster"));
}

static json_t *scaling_policy(const char *type, int value)
{
    return json_pack("{s:s, s:i, s:i}", "type", type, "value", value, "periodSeconds", 15);
}

/* GenerateHPAScaleUpRules / ...ScaleDownRules: each rule field the writer
 * left out takes the default rule's; scaling down has no default
 * stabilization window (the controller's flag gives it). */
static void default_scaling_rules(json_t *behavior, const char *key, bool up)
{
    json_t *rules = child(behavior, key);
    if (up)
        def(rules, "stabilizationWindowSeconds", json_integer(0));
    def(rules, "selectPolicy", json_string("Max"));
    def(rules, "policies",
        up ? json_pack("[o, o]", scaling_policy("Pods", 4), scaling_policy("Percent", 100))
           : json_pack("[o]", scaling_policy("Percent", 100)));
}

/* SetDefaults_HorizontalPodAutoscaler (autoscaling/v2): one replica at
 * least, 80% CPU utilization without metrics, and a behavior that is set
 * filled in for both directions. */
static void default_hpa(json_t *spec)
{
    def(spec, "minReplicas", json_integer(1));
    if (json_array_size(json_object_get(spec, "metrics")) == 0)
        json_object_set_new(spec, "metrics",
                            json_pack("[{s:s, s:{s:s, s:{s:s, s:i}}}]", "type", "Resource",
                                      "resource", "name", "cpu", "target", "type", "Utilization",
                                      "averageUtilization", 80));
    json_t *behavior = at(spec, "behavior");
    if (behavior) {
        default_scaling_rules(behavior, "scaleUp", true);
        default_scaling_rules(behavior, "scaleDown", false);
    }
}

/* SetDefaults_ValidatingWebhook, _MutatingWebhook, _Rule and
 * _ServiceReference (admissionregistration/v1). sideEffects and
 * admissionReviewVersions are required in v1, so they get no default. */
static void default_webhooks(json_t *obj, bool mutating)
{
    size_t i, j;
    json_t *w, *rule;
    json_array_foreach(json_object_get(obj, "webhooks"), i, w)
    {
        if (!json_is_object(w))
            continue;
        def(w, "failurePolicy", json_string("Fail"));
        def(w, "matchPolicy", json_string("Equivalent"));
        def(w, "namespaceSelector", json_object());
        def(w, "objectSelector", json_object());
        def(w, "timeoutSeconds", json_integer(10));
        if (mutating)
            def(w, "reinvocationPolicy", json_string("Never"));
        json_array_foreach(json_object_get(w, "rules"), j, rule)
        {
            if (json_is_object(rule))
                def(rule, "scope", json_string("*"));
        }
        def(at(at(w, "clientConfig"), "service"), "port", json_integer(443));
    }
}

/* A policy's or binding's matchResources: as a webhook's selectors and rules. */
static void default_match_resources(json_t *match)
{
    if (!match)
        return;
    def(match, "matchPolicy", json_string("Equivalent"));
    def(match, "namespaceSelector", json_object());
    def(match, "objectSelector", json_object());
    static const char *const lists[] = {"resourceRules", "excludeResourceRules"};
    for (size_t k = 0; k < KR_ARRAY_LEN(lists); k++) {
        size_t i;
        json_t *rule;
        json_array_foreach(json_object_get(match, lists[k]), i, rule)
        {
            if (json_is_object(rule))
                def(rule, "scope", json_string("*"));
        }
    }
}

static void default_admission_policy(json_t *spec)
{
    def(spec, "failurePolicy", json_string("Fail"));
    default_match_resources(at(spec, "matchConstraints"));
}

static void default_policy_binding(json_t *spec)
{
    default_match_resources(at(spec, "matchResources"));
    def(at(spec, "paramRef"), "parameterNotFoundAction", json_string("Deny"));
}

/* A ReplicationController's selector and labels are its template's
 * labels when it has none of its own. */
static void default_replication_controller(json_t *obj)
{
    json_t *spec = at(obj, "spec");
    const json_t *labels = json_object_get(at(at(spec, "template"), "metadata"), "labels");
    if (!json_is_object(labels) || json_object_size(labels) == 0)
        return;
    if (json_object_size(json_object_get(spec, "selector")) == 0)
        json_object_set_new(spec, "selector", json_deep_copy(labels));
    json_t *md = ts_meta(obj);
    if (md && json_object_size(json_object_get(md, "labels")) == 0)
        json_object_set_new(md, "labels", json_deep_copy(labels));
}

static void default_csidriver(json_t *spec)
{
    def(spec, "attachRequired", json_true());
    def(spec, "podInfoOnMount", json_false());
    def(spec, "storageCapacity", json_false());
    def(spec, "fsGroupPolicy", json_string("ReadWriteOnceWithFSType"));
    def(spec, "requiresRepublish", json_false());
    def(spec, "seLinuxMount", json_false());
    if (json_is_object(spec) && json_array_size(json_object_get(spec, "volumeLifecycleModes")) == 0)
        json_object_set_new(spec, "volumeLifecycleModes", json_pack("[s]", "Persistent"));
}

static void default_flowschema(json_t *spec)
{
    const json_t *p = json_object_get(spec, "matchingPrecedence");
    if (json_is_object(spec) && (!json_is_integer(p) || json_integer_value(p) == 0))
        json_object_set_new(spec, "matchingPrecedence", json_integer(1000));
}

static void default_priority_level(json_t *spec)
{
    json_t *limited = at(spec, "limited"), *exempt = at(spec, "exempt");
    def(limited, "nominalConcurrencyShares", json_integer(30));
    def(limited, "lendablePercent", json_integer(0));
    json_t *queuing = at(at(limited, "limitResponse"), "queuing");
    def(queuing, "queues", json_integer(64));
    def(queuing, "handSize", json_integer(8));
    def(queuing, "queueLengthLimit", json_integer(50));
    def(exempt, "nominalConcurrencyShares", json_integer(0));
    def(exempt, "lendablePercent", json_integer(0));
}

/* Every namespace is labelled with its name (namespaces are selected by
 * it); one created by generateName gets it once named (on create). */
/* SetDefaults_CustomResourceDefinitionSpec: the singular name (the kind in
 * lower case), the list kind, and no conversion. */
static void default_crd(json_t *spec)
{
    json_t *names = json_object_get(spec, "names");
    const char *kind = str(names, "kind");
    if (json_is_object(names) && kind && *kind) {
        if (!str(names, "singular") || !*str(names, "singular")) {
            char lower[256];
            size_t n = 0;
            for (; n < sizeof(lower) - 1 && kind[n]; n++)
                lower[n] = (char)tolower((unsigned char)kind[n]);
            lower[n] = '\0';
            json_object_set_new(names, "singular", json_string(lower));
        }
        if (!str(names, "listKind") || !*str(names, "listKind")) {
            char *list = kr_asprintf("%sList", kind);
            if (list)
                json_object_set_new(names, "listKind", json_string(list));
            kr_free(list);
        }
    }
    if (json_is_object(spec) && unset(spec, "conversion"))
        json_object_set_new(spec, "conversion", json_pack("{s:s}", "strategy", "None"));
}

static void label_namespace(json_t *obj)
{
    const char *name = ts_meta_str(obj, "name");
    json_t *labels = name && *name ? child(ts_meta(obj), "labels") : NULL;
    if (labels)
        json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
}

static void default_replicas(json_t *spec)
{
    def(spec, "replicas", json_integer(1));
}

/* Kinds with a spec of their own defaults and a pod template at
 * spec.template (a CronJob's is deeper; its function defaults it). */
/* SetDefaults_NetworkPolicy(Port): Ingress (and Egress with egress
 * rules) when no policy type is named; ports speak TCP. */
static void default_network_policy(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    if (json_array_size(json_object_get(spec, "policyTypes")) == 0) {
        json_t *types = json_pack("[s]", "Ingress");
        if (types && json_array_size(json_object_get(spec, "egress")) > 0)
            json_array_append_new(types, json_string("Egress"));
        if (types)
            json_object_set_new(spec, "policyTypes", types);
    }
    static const char *const directions[] = {"ingress", "egress"};
    for (size_t d = 0; d < KR_ARRAY_LEN(directions); d++) {
        size_t i, j;
        json_t *rule, *port;
        json_array_foreach(json_object_get(spec, directions[d]), i, rule)
        {
            json_array_foreach(json_object_get(rule, "ports"), j, port)
            {
                if (json_is_object(port))
                    def_str(port, "protocol", "TCP");
            }
        }
    }
}

/* Every key of `from` that `to` lacks, copied (a ResourceList default). */
static void fill_missing(json_t *to, const json_t *from)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)from, key, value)
    {
        if (!json_object_get(to, key))
            json_object_set(to, key, value);
    }
}

/* SetDefaults_LimitRangeItem: a Container item's default limit from max,
 * its default request from the default limit, then from min. */
static void default_limit_range(json_t *spec)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(spec, "limits"), i, item)
    {
        if (!json_is_object(item) || !eq(str(item, "type"), "Container"))
            continue;
        json_t *limit = at(item, "default");
        json_t *request = at(item, "defaultRequest");
        json_t *new_limit = limit ? NULL : json_object();
        json_t *new_request = request ? NULL : json_object();
        if (!limit)
            limit = new_limit;
        if (!request)
            request = new_request;
        if (!limit || !request) {
            json_decref(new_limit);
            json_decref(new_request);
            continue;
        }
        fill_missing(limit, json_object_get(item, "max"));
        fill_missing(request, limit);
        fill_missing(request, json_object_get(item, "min"));
        if (new_limit && json_object_size(new_limit) > 0)
            json_object_set(item, "default", new_limit);
        if (new_request && json_object_size(new_request) > 0)
            json_object_set(item, "defaultRequest", new_request);
        json_decref(new_limit);
        json_decref(new_request);
    }
}

/* A node's spec.podCIDR is the first of spec.podCIDRs (the v1
 * conversion, both ways); its status's allocatable is its capacity
 * when not given (SetDefaults_NodeStatus). */
static void default_node(json_t *spec, json_t *status)
{
    const json_t *capacity = json_object_get(status, "capacity");
    const json_t *allocatable = json_object_get(status, "allocatable");
    if (json_is_object(capacity) && (!allocatable || json_is_null(allocatable)))
        json_object_set_new(status, "allocatable", json_deep_copy(capacity));
    const char *cidr = str(spec, "podCIDR");
    const json_t *cidrs = json_object_get(spec, "podCIDRs");
    if (cidr && *cidr && json_array_size(cidrs) == 0)
        json_object_set_new(spec, "podCIDRs", json_pack("[s]", cidr));
    else if ((!cidr || !*cidr) && json_is_string(json_array_get(cidrs, 0)))
        json_object_set_new(spec, "podCIDR", json_copy(json_array_get(cidrs, 0)));
}

/* A Secret's stringData, as its v1 conversion reads it: each value, as
 * bytes, into data (over a key data already holds); stringData is never
 * stored. */
static void merge_string_data(json_t *secret)
{
    json_t *strings = json_object_get(secret, "stringData");
    if (!strings)
        return;
    json_t *data = json_object_get(secret, "data");
    if (json_object_size(strings) > 0 && !json_is_object(data)) {
        data = json_object();
        json_object_set_new(secret, "data", data);
    }
    const char *key;
    json_t *value;
    json_object_foreach(strings, key, value)
    {
        const char *text = json_string_value(value);
        char *encoded = text ? kr_base64_encode(text, json_string_length(value), false) : NULL;
        if (encoded)
            json_object_set_new(data, key, json_string(encoded));
        kr_free(encoded);
    }
    json_object_del(secret, "stringData");
}

static const struct {
    const char *group, *plural;
    void (*spec)(json_t *spec);
} workloads[] = {
    {"apps", "deployments", default_deployment},      {"apps", "statefulsets", default_statefulset},
    {"apps", "daemonsets", default_daemonset},        {"apps", "replicasets", default_replicas},
    {"", "replicationcontrollers", default_replicas}, {"batch", "jobs", default_job},
    {"batch", "cronjobs", default_cronjob},
};

void ts_set_defaults(const ts_resource *res, json_t *obj)
{
    json_t *spec = at(obj, "spec");
    if (ts_resource_is(res, "", "namespaces"))
        label_namespace(obj);
    else if (ts_resource_is(res, "", "secrets")) {
        merge_string_data(obj);
        def_str(obj, "type", "Opaque");
    } else if (ts_resource_is(res, "", "pods")) {
        default_pod_spec(spec);
        default_pod(spec);
    } else if (ts_resource_is(res, "", "services"))
        default_service(spec);
    else if (ts_resource_is(res, "", "persistentvolumeclaims"))
        default_claim(obj);
    else if (ts_resource_is(res, "", "limitranges"))
        default_limit_range(spec);
    else if (ts_resource_is(res, "", "nodes"))
        default_node(spec, at(obj, "status"));
    else if (ts_resource_is(res, "networking.k8s.io", "networkpolicies"))
        default_network_policy(spec);
    else if (ts_resource_is(res, "", "persistentvolumes"))
        default_persistent_volume(obj);
    else if (ts_resource_is(res, "", "podtemplates"))
        default_template(at(obj, "template"));
    else if (ts_resource_is(res, "discovery.k8s.io", "endpointslices"))
        default_endpointslice(obj);
    else if (ts_resource_is(res, "storage.k8s.io", "storageclasses"))
        default_storageclass(obj);
    else if (ts_resource_is(res, "networking.k8s.io", "ingressclasses"))
        default_ingressclass(spec);
    else if (ts_resource_is(res, "autoscaling", "horizontalpodautoscalers"))
        default_hpa(spec);
    else if (ts_resource_is(res, "admissionregistration.k8s.io", "mutatingwebhookconfigurations"))
        default_webhooks(obj, true);
    else if (ts_resource_is(res, "admissionregistration.k8s.io", "validatingwebhookconfigurations"))
        default_webhooks(obj, false);
    else if (ts_resource_is(res, "admissionregistration.k8s.io", "validatingadmissionpolicies"))
        default_admission_policy(spec);
    else if (ts_resource_is(res, "admissionregistration.k8s.io",
                            "validatingadmissionpolicybindings"))
        default_policy_binding(spec);
    else if (ts_resource_is(res, "", "replicationcontrollers"))
        default_replication_controller(obj);
    else if (ts_resource_is(res, "storage.k8s.io", "csidrivers"))
        default_csidriver(spec);
    else if (ts_resource_is(res, "flowcontrol.apiserver.k8s.io", "flowschemas"))
        default_flowschema(spec);
    else if (ts_resource_is(res, "flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"))
        default_priority_level(spec);
    else if (ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions"))
        default_crd(spec);
    for (size_t i = 0; spec && i < KR_ARRAY_LEN(workloads); i++) {
        if (ts_resource_is(res, workloads[i].group, workloads[i].plural)) {
            workloads[i].spec(spec);
            default_template(at(spec, "template"));
        }
    }
}

/* ---- the registries: services ---------------------------------------------------------- */

/* The service CIDR and node port range, as kube-apiserver's defaults. */
#define SERVICE_NET 0x0a600000u /* 10.96.0.0/12 */
#define SERVICE_MASK 0xfff00000u
#define NODE_PORT_MIN 30000
#define NODE_PORT_MAX 32767

bool ts_parse_ipv4_sloppy(const char *text, uint32_t *ip, bool *leading_zero)
{
    uint32_t v = 0;
    bool zero = false;
    const char *p = text;
    for (int field = 0; p && field < 4; field++) {
        if (field > 0 && *p++ != '.')
            return false;
        if (*p < '0' || *p > '9')
            return false;
        unsigned n = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            n = n * 10 + (unsigned)(*p++ - '0');
            if (n > 255)
                return false;
        }
        zero = zero || (*start == '0' && p - start > 1);
        v = (v << 8) | n;
    }
    if (!p || *p)
        return false;
    *ip = v;
    if (leading_zero)
        *leading_zero = zero;
    return true;
}

/* An IPv4 address as kube-apiserver's allocator reads it (netutils'
 * ParseIPSloppy: leading zeros allowed, read as decimal). */
static bool parse_ip(const char *text, uint32_t *ip)
{
    return text && ts_parse_ipv4_sloppy(text, ip, NULL);
}

/* True when a service other than `self` (ns/name) holds the cluster IP or
 * the node port (ip 0 or port 0: not looked at). */
static bool in_use(const ts_resource *res, const char *ns, const char *name, uint32_t ip, long port)
{
    for (size_t i = 0; i < res->store->len; i++) {
        const ts_obj *o = &res->store->items[i];
        if (strcmp(o->ns, ns) == 0 && strcmp(o->name, name) == 0)
            continue;
        const json_t *spec = json_object_get(o->obj, "spec");
        uint32_t other;
        if (ip && parse_ip(str(spec, "clusterIP"), &other) && other == ip)
            return true;
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(spec, "ports"), k, p)
        {
            if (port && json_integer_value(json_object_get(p, "nodePort")) == port)
                return true;
        }
    }
    return false;
}

static int respond_alloc(ts_response *resp, const ts_write *w, const char *name, const char *field,
                         const char *message)
{
    ts_respond_invalid(resp, w->rt->res->kind, w->rt->res->group, name, field, "FieldValueInvalid",
                       message);
    return KR_EINVALIDOBJ;
}

/* ValidateServiceClusterIPsRelatedFields, which the allocator runs
 * before it allocates: the address asked for is an IP address. */
static int respond_not_an_ip(ts_response *resp, const ts_write *w, const char *name,
                             const char *asked)
{
    kr_buf b = {0};
    kr_buf_append_str(&b, "Invalid value: ");
    ts_go_quote(&b, asked);
    kr_buf_append_str(&b, ": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
    int rc = respond_alloc(resp, w, name, "spec.clusterIPs[0]",
                           b.data ? b.data : "Invalid value: must be a valid IP address");
    kr_buf_free(&b);
    return rc;
}

/* "Invalid value: []string{<the service's clusterIPs>}: " (%#v of a
 * []string; the address asked for when there are none). */
static void cluster_ips_value(kr_buf *b, const json_t *spec, const char *asked)
{
    kr_buf_append_str(b, "Invalid value: []string{");
    const json_t *ips = json_object_get(spec, "clusterIPs");
    if (json_array_size(ips) == 0) {
        ts_go_quote(b, asked);
    } else {
        size_t i;
        const json_t *v;
        json_array_foreach(ips, i, v)
        {
            kr_buf_append_str(b, i ? ", " : "");
            ts_go_quote(b, json_string_value(v) ? json_string_value(v) : "");
        }
    }
    kr_buf_append_str(b, "}: ");
}

/* initIPFamilyFields: the family of an address asked for must be one the
 * cluster serves (IPv4 alone here). */
static int respond_family(ts_response *resp, const ts_write *w, const char *name,
                          const json_t *spec, const char *asked)
{
    kr_buf b = {0};
    cluster_ips_value(&b, spec, asked);
    kr_buf_append_str(&b, "IPv6 is not configured on this cluster");
    int rc = respond_alloc(resp, w, name, "spec.clusterIPs[0]",
                           b.data ? b.data : "Invalid value: IPv6 is not configured");
    kr_buf_free(&b);
    return rc;
}

/* The allocator's refusal of the address asked for: the value is the
 * service's clusterIPs (%#v of a []string), then `why`. */
static int respond_not_allocated(ts_response *resp, const ts_write *w, const char *name,
                                 const json_t *spec, const char *asked, const char *why)
{
    kr_buf b = {0};
    kr_buf_append_str(&b, "Invalid value: []string{");
    const json_t *ips = json_object_get(spec, "clusterIPs");
    if (json_array_size(ips) == 0) {
        ts_go_quote(&b, asked);
    } else {
        size_t i;
        const json_t *v;
        json_array_foreach(ips, i, v)
        {
            kr_buf_append_str(&b, i ? ", " : "");
            ts_go_quote(&b, json_string_value(v) ? json_string_value(v) : "");
        }
    }
    kr_buf_printf(&b, "}: failed to allocate IP %s: %s", asked, why);
    int rc = respond_alloc(resp, w, name, "spec.clusterIPs",
                           b.data ? b.data : "Invalid value: failed to allocate IP");
    kr_buf_free(&b);
    return rc;
}

static int allocate_cluster_ip(kr_testserver_t *ts, const ts_write *w, const char *ns,
                               const char *name, json_t *spec, ts_response *resp)
{
    const char *asked = str(spec, "clusterIP");
    if (!asked || !*asked) /* clusterIPs alone asks for its first */
        asked = json_string_value(json_array_get(json_object_get(spec, "clusterIPs"), 0));
    if (eq(asked, "None")) {
        json_object_set_new(spec, "clusterIP", json_string("None"));
        json_object_set_new(spec, "clusterIPs", json_pack("[s]", "None"));
        return 0;
    }
    uint32_t ip = 0;
    if (asked && *asked) {
        unsigned char any[16];
        bool v4 = parse_ip(asked, &ip);
        if (!v4 && inet_pton(AF_INET6, asked, any) != 1)
            return respond_not_an_ip(resp, w, name, asked);
        if (!v4)
            return respond_family(resp, w, name, spec, asked);
        if ((ip & SERVICE_MASK) != SERVICE_NET) {
            char *why = kr_asprintf("the provided IP (%s) is not in the valid range. The range "
                                    "of valid IPs is 10.96.0.0/12",
                                    asked);
            int rc = respond_not_allocated(resp, w, name, spec, asked,
                                           why ? why : "not in the valid range");
            kr_free(why);
            return rc;
        }
        if (in_use(w->rt->res, ns, name, ip, 0))
            return respond_not_allocated(resp, w, name, spec, asked,
                                         "provided IP is already allocated");
    } else {
        /* The next free address after the last one given (10.96.0.1 is
         * the kubernetes service's in a real cluster). */
        uint32_t size = ~SERVICE_MASK + 1u;
        for (uint32_t n = 0; n < size && !ip; n++) {
            uint32_t off = 10 + (ts->next_service_ip + n) % (size - 11);
            if (!in_use(w->rt->res, ns, name, SERVICE_NET + off, 0)) {
                ip = SERVICE_NET + off;
                if (!w->dry_run) /* a dry run reserves nothing */
                    ts->next_service_ip = off - 9;
            }
        }
        if (!ip)
            return respond_alloc(resp, w, name, "spec.clusterIPs",
                                 "Internal error: failed to allocate a serviceIP: range is full");
    }
    char text[INET_ADDRSTRLEN];
    struct in_addr a = {htonl(ip)};
    inet_ntop(AF_INET, &a, text, sizeof(text));
    /* an address asked for is kept as written (allocIPs stores the text) */
    json_t *kept = json_string(asked && *asked ? asked : text); /* asked is spec's */
    json_object_set_new(spec, "clusterIPs", json_pack("[O]", kept));
    json_object_set_new(spec, "clusterIP", kept);
    return 0;
}

static int allocate_node_ports(kr_testserver_t *ts, const ts_write *w, const char *ns,
                               const char *name, json_t *spec, ts_response *resp)
{
    const json_t *alloc = json_object_get(spec, "allocateLoadBalancerNodePorts");
    if (eq(str(spec, "type"), "LoadBalancer") && json_is_false(alloc))
        return 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(spec, "ports"), i, p)
    {
        json_int_t asked = json_integer_value(json_object_get(p, "nodePort"));
        char msg[160];
        if (asked && (asked < NODE_PORT_MIN || asked > NODE_PORT_MAX)) {
            snprintf(msg, sizeof(msg),
                     "Invalid value: %lld: provided port is not in the valid range. The range "
                     "of valid ports is %d-%d",
                     (long long)asked, NODE_PORT_MIN, NODE_PORT_MAX);
            char field[48];
            snprintf(field, sizeof(field), "spec.ports[%zu].nodePort", i);
            return respond_alloc(resp, w, name, field, msg);
        }
        if (asked && in_use(w->rt->res, ns, name, 0, (long)asked)) {
            snprintf(msg, sizeof(msg), "Invalid value: %lld: provided port is already allocated",
                     (long long)asked);
            char field[48];
            snprintf(field, sizeof(field), "spec.ports[%zu].nodePort", i);
            return respond_alloc(resp, w, name, field, msg);
        }
        if (asked || !json_is_object(p))
            continue;
        long range = NODE_PORT_MAX - NODE_PORT_MIN + 1, port = 0;
        for (long n = 0; n < range && !port; n++) {
            long cand = NODE_PORT_MIN + (long)((ts->next_node_port + (unsigned long)n) % range);
            bool taken = in_use(w->rt->res, ns, name, 0, cand);
            /* ... or by an earlier port of this service */
            for (size_t k = 0; k < i && !taken; k++)
                taken = json_integer_value(json_object_get(
                            json_array_get(json_object_get(spec, "ports"), k), "nodePort")) == cand;
            if (!taken) {
                port = cand;
                if (!w->dry_run)
                    ts->next_node_port = (unsigned long)(cand - NODE_PORT_MIN + 1);
            }
        }
        if (!port)
            return respond_alloc(resp, w, name, "spec.ports", "Internal error: range is full");
        json_object_set_new(p, "nodePort", json_integer(port));
    }
    return 0;
}

static int service_create(kr_testserver_t *ts, const ts_write *w, json_t *obj, ts_response *resp)
{
    json_t *spec = at(obj, "spec");
    const char *type = str(spec, "type");
    if (!type || eq(type, "ExternalName"))
        return 0;
    const char *ns = w->rt->ns ? w->rt->ns : "";
    const char *name = ts_meta_str(obj, "name");
    int rc = allocate_cluster_ip(ts, w, ns, name, spec, resp);
    if (rc == 0 && needs_node_ports(type))
        rc = allocate_node_ports(ts, w, ns, name, spec, resp);
    if (rc == 0) {
        def(spec, "ipFamilies", json_pack("[s]", "IPv4"));
        def_str(spec, "ipFamilyPolicy", "SingleStack");
    }
    return rc;
}

/* The old port matching `p` (same port and protocol), or NULL. */
static const json_t *old_port(const json_t *old_spec, const json_t *p)
{
    size_t j;
    const json_t *q;
    json_array_foreach(json_object_get(old_spec, "ports"), j, q)
    {
        if (json_equal(json_object_get(p, "port"), json_object_get(q, "port")) &&
            json_equal(json_object_get(p, "protocol"), json_object_get(q, "protocol")))
            return q;
    }
    return NULL;
}

/* Whether the set of non-zero node ports of two specs is the same. */
static bool same_node_ports(const json_t *a, const json_t *b)
{
    size_t i, j;
    const json_t *p, *q;
    for (int pass = 0; pass < 2; pass++) {
        const json_t *x = pass ? b : a, *y = pass ? a : b;
        json_array_foreach(json_object_get(x, "ports"), i, p)
        {
            json_int_t port = json_integer_value(json_object_get(p, "nodePort"));
            bool found = !port;
            json_array_foreach(json_object_get(y, "ports"), j, q) found =
                found || json_integer_value(json_object_get(q, "nodePort")) == port;
            if (!found)
                return false;
        }
    }
    return true;
}

/* Reachable from outside the cluster: its traffic policy applies. */
static bool externally_accessible(const json_t *spec)
{
    const char *type = str(spec, "type");
    return needs_node_ports(type) ||
           (eq(type, "ClusterIP") && json_array_size(json_object_get(spec, "externalIPs")) > 0);
}

/* dropTypeDependentFields: on a type change, what the new type does not
 * use and the update left as it was is wiped (an address, node ports, the
 * health check port, the load balancer's settings, the traffic
 * policies), so that nothing the old type allocated stays reserved. */
static void drop_type_dependent(const json_t *old, json_t *spec)
{
    const char *old_type = str(old, "type"), *type = str(spec, "type");
    bool old_lb = eq(old_type, "LoadBalancer"), lb = eq(type, "LoadBalancer");
    if (!eq(old_type, "ExternalName") && eq(type, "ExternalName")) {
        if (ts_same_at(old, spec, "clusterIP") && ts_same_at(old, spec, "clusterIPs")) {
            json_object_del(spec, "clusterIP");
            json_object_del(spec, "clusterIPs");
        }
        if (ts_same_at(old, spec, "ipFamilies"))
            json_object_del(spec, "ipFamilies");
        if (ts_same_at(old, spec, "ipFamilyPolicy"))
            json_object_del(spec, "ipFamilyPolicy");
    }
    if (needs_node_ports(old_type) && !needs_node_ports(type) && same_node_ports(old, spec)) {
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(spec, "ports"), i, p)
        {
            if (json_is_object(p))
                json_object_del(p, "nodePort");
        }
    }
    bool old_hc = old_lb && eq(str(old, "externalTrafficPolicy"), "Local");
    bool hc = lb && eq(str(spec, "externalTrafficPolicy"), "Local");
    if (old_hc && !hc && ts_same_at(old, spec, "healthCheckNodePort"))
        json_object_del(spec, "healthCheckNodePort");
    if (!lb && json_object_get(old, "allocateLoadBalancerNodePorts") &&
        ts_same_at(old, spec, "allocateLoadBalancerNodePorts"))
        json_object_del(spec, "allocateLoadBalancerNodePorts");
    if (!lb && ts_same_at(old, spec, "loadBalancerClass"))
        json_object_del(spec, "loadBalancerClass");
    if (!externally_accessible(spec) && ts_same_at(old, spec, "externalTrafficPolicy"))
        json_object_del(spec, "externalTrafficPolicy");
    if (eq(type, "ExternalName") && ts_same_at(old, spec, "internalTrafficPolicy"))
        json_object_del(spec, "internalTrafficPolicy");
}

/* An update that leaves out what was allocated keeps it (as the service
 * registry patches allocated values into an update); a new type that
 * needs node ports gets them. */
static int service_update(kr_testserver_t *ts, const ts_write *w, const json_t *existing,
                          json_t *obj, ts_response *resp)
{
    const json_t *old = json_object_get(existing, "spec");
    json_t *spec = at(obj, "spec");
    const char *type = str(spec, "type");
    if (spec && type)
        drop_type_dependent(old, spec);
    if (!spec || !type || eq(type, "ExternalName"))
        return 0;
    static const char *const keep[] = {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"};
    for (size_t k = 0; k < KR_ARRAY_LEN(keep); k++) {
        const json_t *v = json_object_get(old, keep[k]);
        if (v && (unset(spec, keep[k]) ||
                  (json_is_string(json_object_get(spec, keep[k])) && !*str(spec, keep[k]))))
            json_object_set(spec, keep[k], (json_t *)v);
    }
    if (!needs_node_ports(type))
        return 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(spec, "ports"), i, p)
    {
        if (!json_is_object(p) || json_integer_value(json_object_get(p, "nodePort")))
            continue;
        const json_t *q = old_port(old, p);
        if (q && json_object_get(q, "nodePort"))
            json_object_set(p, "nodePort", json_object_get(q, "nodePort"));
    }
    return allocate_node_ports(ts, w, w->rt->ns ? w->rt->ns : "", w->rt->name, spec, resp);
}

/* ---- the registries: jobs and pods ------------------------------------------------------- */

/* SetDefaults_Job: a job without labels of its own gets its template's. */
static void job_labels_from_template(json_t *obj)
{
    const json_t *labels = json_object_get(
        json_object_get(json_object_get(at(obj, "spec"), "template"), "metadata"), "labels");
    json_t *md = ts_meta(obj);
    const json_t *own = json_object_get(md, "labels");
    if (md && json_is_object(labels) && (!json_is_object(own) || json_object_size(own) == 0))
        json_object_set_new(md, "labels", json_deep_copy(labels));
}

/* Unless spec.manualSelector: the template carries the job's uid and
 * name labels, the selector matches the uid. SetDefaults_Job, on the
 * request's decoding, gave a job without labels its template's labels
 * map itself when the template had one: those then carry the generated
 * labels too, before validation. A template without labels gets them
 * only from the defaulting of what storage read back (ts_default_stored). */
static void job_create(json_t *obj)
{
    json_t *spec = at(obj, "spec");
    const char *uid = ts_meta_str(obj, "uid");
    const char *name = ts_meta_str(obj, "name");
    if (!spec || json_is_true(json_object_get(spec, "manualSelector")) || !uid || !name)
        return;
    json_t *tmd = child(child(spec, "template"), "metadata");
    bool shared = json_is_object(json_object_get(tmd, "labels"));
    json_t *labels = child(tmd, "labels");
    if (!labels)
        return;
    def_str(labels, "batch.kubernetes.io/controller-uid", uid);
    def_str(labels, "batch.kubernetes.io/job-name", name);
    def_str(labels, "controller-uid", uid);
    def_str(labels, "job-name", name);
    json_t *match = child(child(spec, "selector"), "matchLabels");
    def_str(match, "batch.kubernetes.io/controller-uid", uid);
    if (shared)
        job_labels_from_template(obj);
}

void ts_default_stored(const ts_resource *res, json_t *obj)
{
    if (ts_resource_is(res, "batch", "jobs"))
        job_labels_from_template(obj);
}

/* The Priority and DefaultTolerationSeconds admission plugins: priority 0
 * without a class; tolerate not-ready and unreachable nodes for 300 s. */
static void pod_create(json_t *obj)
{
    json_t *spec = at(obj, "spec");
    if (!spec)
        return;
    if (unset(spec, "priorityClassName")) {
        def(spec, "priority", json_integer(0));
        def_str(spec, "preemptionPolicy", "PreemptLowerPriority");
    }
    static const char *const taints[] = {"node.kubernetes.io/not-ready",
                                         "node.kubernetes.io/unreachable"};
    json_t *tolerations = json_object_get(spec, "tolerations");
    if (!json_is_array(tolerations)) {
        tolerations = json_array();
        json_object_set_new(spec, "tolerations", tolerations);
    }
    for (size_t k = 0; k < KR_ARRAY_LEN(taints); k++) {
        bool covered = false;
        size_t i;
        json_t *t;
        json_array_foreach(tolerations, i, t)
        {
            const char *key = str(t, "key"), *effect = str(t, "effect");
            const char *op = str(t, "operator");
            bool any_key = (!key || !*key) && eq(op, "Exists");
            covered |=
                (any_key || eq(key, taints[k])) && (!effect || !*effect || eq(effect, "NoExecute"));
        }
        if (!covered)
            json_array_append_new(tolerations, json_pack("{s:s, s:s, s:s, s:i}", "key", taints[k],
                                                         "operator", "Exists", "effect",
                                                         "NoExecute", "tolerationSeconds", 300));
    }
}

/* ---- a pod's AppArmor annotations and fields (KEP-24 version skew) ---- */

static const char APPARMOR_KEY[] = "container.apparmor.security.beta.kubernetes.io/";

/* The annotation a profile field stands for ("" for none). */
static char *apparmor_annotation(const json_t *profile)
{
    const char *type = str(profile, "type"), *local = str(profile, "localhostProfile");
    if (eq(type, "Unconfined"))
        return kr_strdup("unconfined");
    if (eq(type, "RuntimeDefault"))
        return kr_strdup("runtime/default");
    if (eq(type, "Localhost") && local)
        return kr_asprintf("localhost/%s", local);
    return kr_strdup("");
}

/* The profile field an annotation stands for, NULL for none or for one
 * ValidateAppArmorProfileField refuses (a localhost profile padded with
 * whitespace or over 4095 bytes). */
static json_t *apparmor_field(const char *annotation)
{
    if (eq(annotation, "unconfined"))
        return json_pack("{s:s}", "type", "Unconfined");
    if (eq(annotation, "runtime/default"))
        return json_pack("{s:s}", "type", "RuntimeDefault");
    if (!annotation || strncmp(annotation, "localhost/", 10) != 0 || !annotation[10])
        return NULL;
    const char *local = annotation + 10;
    size_t n = strlen(local);
    if (n > 4095 || isspace((unsigned char)local[0]) || isspace((unsigned char)local[n - 1]))
        return NULL;
    return json_pack("{s:s, s:s}", "type", "Localhost", "localhostProfile", local);
}

static bool same_profile(const json_t *a, const json_t *b)
{
    return a && b && eq(str(a, "type"), str(b, "type")) &&
           (str(a, "localhostProfile") ? eq(str(a, "localhostProfile"), str(b, "localhostProfile"))
                                       : !str(b, "localhostProfile"));
}

/* applyAppArmorVersionSkew (pod PrepareForCreate, 1.30 to 1.33), for each
 * container of a pod not for Windows: without its annotation, the
 * container's profile field, else the pod's, becomes the annotation;
 * with it and without the container's field, the annotation becomes the
 * container's field unless the pod's field says the same, and the
 * annotation is warned about when so copied or when it stands for no
 * valid profile. The warning comes before the strategy's others. */
static void pod_apparmor(json_t *obj, ts_response *resp)
{
    json_t *spec = at(obj, "spec");
    if (!spec || eq(str(at(spec, "os"), "name"), "windows"))
        return;
    const json_t *pod_profile = at(at(spec, "securityContext"), "appArmorProfile");
    static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
    for (size_t l = 0; l < KR_ARRAY_LEN(lists); l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            if (!json_is_object(c))
                continue;
            const char *name = str(c, "name");
            char *key = kr_asprintf("%s%s", APPARMOR_KEY, name ? name : "");
            json_t *md = ts_meta(obj);
            const char *note = key ? str(at(md, "annotations"), key) : NULL;
            const json_t *profile = at(at(c, "securityContext"), "appArmorProfile");
            if (!key || !md) {
                kr_free(key);
                continue;
            }
            if (!note) {
                char *value = apparmor_annotation(profile ? profile : pod_profile);
                if (value && *value) {
                    json_t *notes = child(md, "annotations");
                    if (notes)
                        json_object_set_new(notes, key, json_string(value));
                }
                kr_free(value);
            } else if (!profile) {
                json_t *field = apparmor_field(note);
                bool warn = !field;
                if (field && !same_profile(field, pod_profile)) {
                    json_t *sc = child(c, "securityContext");
                    if (sc)
                        json_object_set(sc, "appArmorProfile", field);
                    warn = true;
                }
                json_decref(field);
                if (warn) {
                    char *text = kr_asprintf("metadata.annotations[%s]: deprecated since v1.30; "
                                             "use the \"appArmorProfile\" field instead",
                                             key);
                    if (text)
                        ts_response_warn(resp, text);
                    kr_free(text);
                }
            }
            kr_free(key);
        }
    }
}

/* The class marked default by one of `annotations` ("true"), the newest
 * (then the first by name) when several are, as the DefaultStorageClass
 * and DefaultIngressClass admission plugins choose; NULL when none. */
static const char *default_class(kr_testserver_t *ts, const char *group, const char *plural,
                                 const char *const *annotations, size_t nannotations)
{
    const ts_resource *r = ts_resource_find(ts, group, "v1", plural);
    const json_t *best = NULL;
    for (size_t i = 0; r && i < r->store->len; i++) {
        const json_t *o = r->store->items[i].obj;
        const json_t *ann = json_object_get(ts_meta((json_t *)o), "annotations");
        bool marked = false;
        for (size_t k = 0; k < nannotations; k++)
            marked = marked || eq(str(ann, annotations[k]), "true");
        if (!marked)
            continue;
        /* RFC 3339 in UTC to the second: newer sorts later; the store
         * is sorted by name, so the first of equal times is kept */
        const char *t = ts_meta_str(o, "creationTimestamp");
        const char *bt = best ? ts_meta_str(best, "creationTimestamp") : NULL;
        if (!best || strcmp(t ? t : "", bt ? bt : "") > 0)
            best = o;
    }
    return best ? ts_meta_str(best, "name") : NULL;
}

/* DefaultStorageClass: a claim that names no class (no storageClassName,
 * no beta annotation) gets the default one. */
static void claim_create(kr_testserver_t *ts, json_t *obj)
{
    json_t *spec = at(obj, "spec");
    const json_t *ann = json_object_get(ts_meta(obj), "annotations");
    if (!spec || !unset(spec, "storageClassName") ||
        json_object_get(ann, "volume.beta.kubernetes.io/storage-class"))
        return;
    static const char *const marks[] = {"storageclass.kubernetes.io/is-default-class",
                                        "storageclass.beta.kubernetes.io/is-default-class"};
    const char *name = default_class(ts, "storage.k8s.io", "storageclasses", marks, 2);
    if (name)
        json_object_set_new(spec, "storageClassName", json_string(name));
}

/* DefaultIngressClass: an Ingress that names no class (no ingressClassName,
 * no kubernetes.io/ingress.class annotation) gets the default one. */
static void ingress_create(kr_testserver_t *ts, json_t *obj)
{
    json_t *spec = at(obj, "spec");
    const json_t *ann = json_object_get(ts_meta(obj), "annotations");
    if (!spec || !unset(spec, "ingressClassName") ||
        json_object_get(ann, "kubernetes.io/ingress.class"))
        return;
    static const char *const marks[] = {"ingressclass.kubernetes.io/is-default-class"};
    const char *name = default_class(ts, "networking.k8s.io", "ingressclasses", marks, 1);
    if (name)
        json_object_set_new(spec, "ingressClassName", json_string(name));
}

/* TaintNodesByCondition: a new Node is not ready until its node controller
 * says so, and carries the taint that keeps pods off it meanwhile. */
static void node_create(json_t *obj)
{
    json_t *spec = at(obj, "spec");
    if (!spec) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    json_t *taints = json_object_get(spec, "taints");
    size_t i;
    json_t *t;
    json_array_foreach(taints, i, t)
    {
        if (eq(str(t, "key"), "node.kubernetes.io/not-ready") && eq(str(t, "effect"), "NoSchedule"))
            return;
    }
    if (!json_is_array(taints)) {
        taints = json_array();
        json_object_set_new(spec, "taints", taints);
    }
    json_array_append_new(taints, json_pack("{s:s, s:s}", "key", "node.kubernetes.io/not-ready",
                                            "effect", "NoSchedule"));
}

ts_alloc_mark ts_alloc_begin(const kr_testserver_t *ts)
{
    return (ts_alloc_mark){ts->next_service_ip, ts->next_node_port};
}

void ts_alloc_revert(kr_testserver_t *ts, ts_alloc_mark mark)
{
    ts->next_service_ip = mark.service_ip;
    ts->next_node_port = mark.node_port;
}

int ts_registry_create(kr_testserver_t *ts, const ts_write *w, json_t *obj, ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    if (ts_resource_is(res, "", "services"))
        return service_create(ts, w, obj, resp);
    if (ts_csr_is(res))
        return ts_csr_create(w, obj, resp);
    if (ts_resource_is(res, "", "namespaces"))
        label_namespace(obj);
    else if (ts_resource_is(res, "batch", "jobs"))
        job_create(obj);
    else if (ts_resource_is(res, "", "pods")) {
        pod_create(obj);
        pod_apparmor(obj, resp);
    } else if (ts_resource_is(res, "", "nodes"))
        node_create(obj);
    else if (ts_resource_is(res, "", "persistentvolumeclaims"))
        claim_create(ts, obj);
    else if (ts_resource_is(res, "networking.k8s.io", "ingresses"))
        ingress_create(ts, obj);
    return 0;
}

/* The Priority admission on an update: a pod that leaves its priority or
 * preemption policy out keeps what creation gave it. */
static void pod_update(const json_t *existing, json_t *obj)
{
    const json_t *old = json_object_get(existing, "spec");
    json_t *spec = json_object_get(obj, "spec");
    static const char *const kept[] = {"priority", "preemptionPolicy"};
    for (size_t i = 0; json_is_object(spec) && i < KR_ARRAY_LEN(kept); i++)
        if (unset(spec, kept[i]) && json_object_get(old, kept[i]))
            json_object_set(spec, kept[i], json_object_get(old, kept[i]));
}

int ts_registry_update(kr_testserver_t *ts, const ts_write *w, const json_t *existing, json_t *obj,
                       ts_response *resp)
{
    if (ts_resource_is(w->rt->res, "", "pods") && !w->rt->sub)
        pod_update(existing, obj);
    if (ts_resource_is(w->rt->res, "", "services") && !w->rt->sub)
        return service_update(ts, w, existing, obj, resp);
    return 0;
}
