/* libkreconcile-testserver — the warnings kube-apiserver's strategies give
 * a create or an update that succeeds (WarningsOnCreate,
 * WarningsOnUpdate), as Warning headers, in their order and words: a
 * custom resource's new finalizers without a path; the deprecated node
 * labels and pod annotations of a pod or a workload's pod template, null
 * label selectors, duplicate host aliases and pull secrets, a negative
 * grace period, deprecated volume plugins, projected items sharing a
 * service account token's path, fractional byte quantities, env vars
 * hiding an earlier one, and overlapping container ports
 * (GetWarningsForPod, 1.32; not its ephemeral volume claim checks).
 * Callers hold ts->mu. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether `list` (an array of strings) holds `s`. */
static bool has_string(const json_t *list, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* apiextensions' generateWarningsFromObj: each finalizer the write adds
 * (in sorted order, once) that has no path and is none of the standard
 * ones. The qualified-name problems it would also list are refused by
 * validation before. */
static void warn_finalizers(const json_t *old, const json_t *obj, ts_response *resp)
{
    static const char *const standard[] = {"orphan", "foregroundDeletion", "kubernetes"};
    const json_t *list = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    const json_t *before = json_object_get(json_object_get(old, "metadata"), "finalizers");
    size_t n = json_array_size(list), count = 0;
    const char **added = n ? kr_calloc(n, sizeof(const char *)) : NULL;
    for (size_t i = 0; added && i < n; i++) {
        const char *f = json_string_value(json_array_get(list, i));
        if (f && !has_string(before, f))
            added[count++] = f;
    }
    if (count)
        qsort((void *)added, count, sizeof(const char *), cmp_str);
    for (size_t i = 0; i < count; i++) {
        const char *f = added[i];
        bool known = false;
        for (size_t k = 0; k < KR_ARRAY_LEN(standard); k++)
            known = known || strcmp(f, standard[k]) == 0;
        if ((i > 0 && strcmp(f, added[i - 1]) == 0) || strchr(f, '/') || known)
            continue;
        kr_buf b = {0};
        kr_buf_append_str(&b, "metadata.finalizers: ");
        ts_go_quote(&b, f);
        kr_buf_printf(&b,
                      ": prefer a domain-qualified finalizer name%s to avoid accidental "
                      "conflicts with other finalizer writers",
                      strchr(f, '.') ? " including a path (/)" : "");
        if (b.data)
            ts_response_warn(resp, b.data);
        kr_buf_free(&b);
    }
    kr_free((void *)added);
}

/* ---- pods and pod templates ------------------------------------------------------ */

/* pkg/api/node's deprecated node labels: why each is. */
static const char *label_deprecation(const char *key)
{
    static const char *const labels[][2] = {
        {"beta.kubernetes.io/arch", "deprecated since v1.14; use \"kubernetes.io/arch\" instead"},
        {"beta.kubernetes.io/os", "deprecated since v1.14; use \"kubernetes.io/os\" instead"},
        {"failure-domain.beta.kubernetes.io/region",
         "deprecated since v1.17; use \"topology.kubernetes.io/region\" instead"},
        {"failure-domain.beta.kubernetes.io/zone",
         "deprecated since v1.17; use \"topology.kubernetes.io/zone\" instead"},
        {"beta.kubernetes.io/instance-type",
         "deprecated since v1.17; use \"node.kubernetes.io/instance-type\" instead"},
        {"node-role.kubernetes.io/master", "use \"node-role.kubernetes.io/control-plane\" instead"},
    };
    for (size_t i = 0; key && i < KR_ARRAY_LEN(labels); i++)
        if (strcmp(key, labels[i][0]) == 0)
            return labels[i][1];
    return NULL;
}

static void warnf(ts_response *resp, const char *fmt, ...) KR_PRINTF(2, 3);

static void warnf(ts_response *resp, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *text = n >= 0 ? kr_malloc((size_t)n + 1) : NULL;
    if (text) {
        vsnprintf(text, (size_t)n + 1, fmt, again);
        ts_response_warn(resp, text);
    }
    va_end(again);
    va_end(ap);
    kr_free(text);
}

/* The deprecated keys of a node selector term's matchExpressions, `at`
 * naming the term. */
static void warn_term(const json_t *term, const char *at, ts_response *resp)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(term, "matchExpressions"), i, e)
    {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *why = label_deprecation(key);
        if (why)
            warnf(resp, "%smatchExpressions[%zu].key: %s is %s", at, i, key, why);
    }
}

static bool has_seccomp_profile(const json_t *o)
{
    return json_is_object(json_object_get(json_object_get(o, "securityContext"), "seccompProfile"));
}

static bool has_apparmor_profile(const json_t *o)
{
    return json_is_object(
        json_object_get(json_object_get(o, "securityContext"), "appArmorProfile"));
}

/* "<at><list>[i].<key>: <what> <value as %q>" for each item of `list`
 * whose `key` an earlier one has already (sets.Has), as the duplicate
 * hostAliases and imagePullSecrets warnings say. */
static void warn_duplicates(const json_t *spec, const char *at, const char *list, const char *key,
                            const char *what, ts_response *resp)
{
    const json_t *items = json_object_get(spec, list);
    if (json_array_size(items) < 2)
        return;
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *v = json_string_value(json_object_get(item, key));
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            const char *w = json_string_value(json_object_get(json_array_get(items, j), key));
            seen = strcmp(v ? v : "", w ? w : "") == 0;
        }
        if (!seen)
            continue;
        kr_buf b = {0};
        kr_buf_printf(&b, "%sspec.%s[%zu].%s: %s ", at, list, i, key, what);
        ts_go_quote(&b, v ? v : "");
        if (b.data)
            ts_response_warn(resp, b.data);
        kr_buf_free(&b);
    }
}

/* warningsForPodAffinityTerms and warningsForWeightedPodAffinityTerms:
 * each term without a labelSelector (null) matches no pod. */
static void warn_affinity_terms(const json_t *affinity, const char *at, const char *kind,
                                ts_response *resp)
{
    const json_t *a = json_object_get(affinity, kind);
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(a, "requiredDuringSchedulingIgnoredDuringExecution"), i, t)
    {
        if (!json_is_object(json_object_get(t, "labelSelector")))
            warnf(resp,
                  "%sspec.affinity.%s.requiredDuringSchedulingIgnoredDuringExecution[%zu]."
                  "labelSelector: a null labelSelector results in matching no pod",
                  at, kind, i);
    }
    json_array_foreach(json_object_get(a, "preferredDuringSchedulingIgnoredDuringExecution"), i, t)
    {
        if (!json_is_object(
                json_object_get(json_object_get(t, "podAffinityTerm"), "labelSelector")))
            warnf(resp,
                  "%sspec.affinity.%s.preferredDuringSchedulingIgnoredDuringExecution[%zu]."
                  "podAffinityTerm.labelSelector: a null labelSelector results in matching no "
                  "pod",
                  at, kind, i);
    }
}

/* The deprecated and removed volume plugins of each volume, in
 * warningsForPodSpecAndMeta's order. */
static void warn_volumes(const json_t *spec, const char *at, ts_response *resp)
{
    static const char *const plugins[][2] = {
        {"photonPersistentDisk", "deprecated in v1.11, non-functional in v1.16+"},
        {"gitRepo", "deprecated in v1.11"},
        {"scaleIO", "deprecated in v1.16, non-functional in v1.22+"},
        {"flocker", "deprecated in v1.22, non-functional in v1.25+"},
        {"storageOS", "deprecated in v1.22, non-functional in v1.25+"},
        {"quobyte", "deprecated in v1.22, non-functional in v1.25+"},
        {"glusterfs", "deprecated in v1.25, non-functional in v1.26+"},
        {"cephfs", "deprecated in v1.28, non-functional in v1.31+"},
        {"rbd", "deprecated in v1.28, non-functional in v1.31+"},
    };
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(spec, "volumes"), i, v)
    {
        for (size_t p = 0; p < KR_ARRAY_LEN(plugins); p++)
            if (json_is_object(json_object_get(v, plugins[p][0])))
                warnf(resp, "%sspec.volumes[%zu].%s: %s", at, i, plugins[p][0], plugins[p][1]);
    }
}

/* "<path>: has duplicated path with ServiceAccountToken <path as %q>". */
static void warn_token_path(ts_response *resp, const char *field, const char *path)
{
    kr_buf b = {0};
    kr_buf_printf(&b, "%s: has duplicated path with ServiceAccountToken ", field);
    ts_go_quote(&b, path);
    if (b.data)
        ts_response_warn(resp, b.data);
    kr_buf_free(&b);
}

/* A projected volume's configMap, secret and downward API items and its
 * cluster trust bundle whose path one of the pod's projected service
 * account tokens also has (any volume's), with the paths kube prints
 * (the item's index after the source's kind; "secrets"). */
static void warn_token_paths(const json_t *spec, const char *at, ts_response *resp)
{
    json_t *tokens = json_array();
    size_t i, j, k;
    const json_t *v, *src, *item;
    json_array_foreach(json_object_get(spec, "volumes"), i, v)
    {
        json_array_foreach(json_object_get(json_object_get(v, "projected"), "sources"), j, src)
        {
            const json_t *token = json_object_get(src, "serviceAccountToken");
            if (tokens && json_is_object(token)) {
                const char *path = json_string_value(json_object_get(token, "path"));
                json_array_append_new(tokens, json_string(path ? path : ""));
            }
        }
    }
    static const char *const kinds[][2] = {
        {"configMap", "configMap"}, {"secret", "secrets"}, {"downwardAPI", "downwardAPI"}};
    char field[512];
    json_array_foreach(json_array_size(tokens) ? json_object_get(spec, "volumes") : NULL, i, v)
    {
        json_array_foreach(json_object_get(json_object_get(v, "projected"), "sources"), j, src)
        {
            for (size_t n = 0; n < KR_ARRAY_LEN(kinds); n++) {
                json_array_foreach(json_object_get(json_object_get(src, kinds[n][0]), "items"), k,
                                   item)
                {
                    const char *path = json_string_value(json_object_get(item, "path"));
                    if (!has_string(tokens, path ? path : ""))
                        continue;
                    snprintf(field, sizeof(field), "%sspec.volumes[%zu].projected.sources.%s[%zu]",
                             at, i, kinds[n][1], k);
                    warn_token_path(resp, field, path ? path : "");
                }
            }
            const json_t *bundle = json_object_get(src, "clusterTrustBundle");
            const char *path = json_string_value(json_object_get(bundle, "path"));
            if (json_is_object(bundle) && has_string(tokens, path ? path : "")) {
                snprintf(field, sizeof(field),
                         "%sspec.volumes[%zu].projected.sources.ClusterTrustBundle", at, i);
                warn_token_path(resp, field, path ? path : "");
            }
        }
    }
    json_decref(tokens);
}

/* "<field>[<name>]: fractional byte value <q> is invalid, must be an
 * integer" when the quantity `list`[name] (stored as Quantity.String()
 * writes it) is not a whole number of bytes (MilliValue() % 1000). */
static void warn_fraction(const json_t *list, const char *name, const char *field,
                          ts_response *resp)
{
    const char *q = json_string_value(json_object_get(list, name));
    long double value;
    if (!q || !ts_quantity_value(q, &value))
        return;
    long double milli = ceill(value * 1000.0L);
    if (fmodl(milli, 1000.0L) == 0.0L)
        return;
    kr_buf b = {0};
    kr_buf_printf(&b, "%s[%s]: fractional byte value ", field, name);
    ts_go_quote(&b, q);
    kr_buf_append_str(&b, " is invalid, must be an integer");
    if (b.data)
        ts_response_warn(resp, b.data);
    kr_buf_free(&b);
}

/* A container's fractional memory and ephemeral storage, limits before
 * requests, then its env vars that hide an earlier one of their name
 * (replacing it by a valueFrom, by "$(X)" itself, or by a value not
 * referring to it). `c_at` names the container. */
static void warn_container(const json_t *c, const char *c_at, ts_response *resp)
{
    const json_t *res = json_object_get(c, "resources");
    static const char *const quantities[][2] = {{"limits", "memory"},
                                                {"requests", "memory"},
                                                {"limits", "ephemeral-storage"},
                                                {"requests", "ephemeral-storage"}};
    char field[640];
    for (size_t q = 0; q < KR_ARRAY_LEN(quantities); q++) {
        snprintf(field, sizeof(field), "%s.resources.%s", c_at, quantities[q][0]);
        warn_fraction(json_object_get(res, quantities[q][0]), quantities[q][1], field, resp);
    }
    const json_t *env = json_object_get(c, "env");
    size_t i;
    const json_t *e;
    json_array_foreach(json_array_size(env) > 1 ? env : NULL, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        name = name ? name : "";
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            const char *other = json_string_value(json_object_get(json_array_get(env, j), "name"));
            seen = strcmp(name, other ? other : "") == 0;
        }
        if (!seen)
            continue;
        const char *value = json_string_value(json_object_get(e, "value"));
        value = value ? value : "";
        char *ref = kr_asprintf("$(%s)", name);
        if (!ref)
            continue;
        bool bad = json_is_object(json_object_get(e, "valueFrom")) || strcmp(value, ref) == 0 ||
                   !strstr(value, ref);
        kr_free(ref);
        if (!bad)
            continue;
        kr_buf b = {0};
        kr_buf_printf(&b, "%s.env[%zu]: hides previous definition of ", c_at, i);
        ts_go_quote(&b, name);
        kr_buf_append_str(&b, ", which may be dropped when using apply");
        if (b.data)
            ts_response_warn(resp, b.data);
        kr_buf_free(&b);
    }
}

/* A container port as Go's %+v prints the internal core.ContainerPort. */
static void go_port(kr_buf *b, const json_t *port)
{
    const char *name = json_string_value(json_object_get(port, "name"));
    const char *protocol = json_string_value(json_object_get(port, "protocol"));
    const char *host_ip = json_string_value(json_object_get(port, "hostIP"));
    kr_buf_printf(b, "{Name:%s HostPort:%lld ContainerPort:%lld Protocol:%s HostIP:%s}",
                  name ? name : "",
                  (long long)json_integer_value(json_object_get(port, "hostPort")),
                  (long long)json_integer_value(json_object_get(port, "containerPort")),
                  protocol ? protocol : "", host_ip ? host_ip : "");
}

/* One container port seen, where. */
typedef struct {
    char field[128];
    json_int_t container_port, host_port;
    const char *protocol, *host_ip;
} port_seen;

/* The ports of every container (init, regular, ephemeral): a hostIP
 * without a hostPort, and a port whose containerPort and protocol an
 * earlier one has: the same hostIP and hostPort (duplicate), one of the
 * two without a hostPort (overlapping), or the same hostPort with one
 * hostIP unset (dangerously ambiguous). */
static void warn_ports(const json_t *spec, const char *at, ts_response *resp)
{
    static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
    size_t total = 0, n = 0;
    for (size_t l = 0; l < KR_ARRAY_LEN(lists); l++) {
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c) total +=
            json_array_size(json_object_get(c, "ports"));
    }
    port_seen *seen = total ? kr_calloc(total, sizeof(*seen)) : NULL;
    if (!seen)
        return;
    for (size_t l = 0; l < KR_ARRAY_LEN(lists); l++) {
        size_t i, j;
        const json_t *c, *port;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            json_array_foreach(json_object_get(c, "ports"), j, port)
            {
                port_seen *p = &seen[n];
                snprintf(p->field, sizeof(p->field), "%sspec.%s[%zu].ports[%zu]", at, lists[l], i,
                         j);
                p->container_port = json_integer_value(json_object_get(port, "containerPort"));
                p->host_port = json_integer_value(json_object_get(port, "hostPort"));
                p->protocol = json_string_value(json_object_get(port, "protocol"));
                p->protocol = p->protocol ? p->protocol : "";
                p->host_ip = json_string_value(json_object_get(port, "hostIP"));
                p->host_ip = p->host_ip ? p->host_ip : "";
                if (*p->host_ip && p->host_port == 0) {
                    kr_buf b = {0};
                    kr_buf_printf(&b, "%s: hostIP set without hostPort: ", p->field);
                    go_port(&b, port);
                    if (b.data)
                        ts_response_warn(resp, b.data);
                    kr_buf_free(&b);
                }
                for (size_t o = 0; o < n; o++) {
                    const port_seen *q = &seen[o];
                    if (q->container_port != p->container_port ||
                        strcmp(q->protocol, p->protocol) != 0)
                        continue;
                    bool a = !*p->host_ip, b = !*q->host_ip;
                    if (strcmp(p->host_ip, q->host_ip) == 0 && p->host_port == q->host_port)
                        warnf(resp, "%s: duplicate port definition with %s", p->field, q->field);
                    else if (p->host_port == 0 || q->host_port == 0)
                        warnf(resp, "%s: overlapping port definition with %s", p->field, q->field);
                    else if (p->host_port == q->host_port && (a || b) && !(a && b))
                        warnf(resp, "%s: dangerously ambiguous port definition with %s", p->field,
                              q->field);
                }
                n++;
            }
        }
    }
    kr_free(seen);
}

/* warningsForPodSpecAndMeta on the pod metadata `md` and spec `spec`,
 * their paths prefixed with `at` ("" for a pod, "spec.template." for a
 * workload's template). */
static void warn_pod(const json_t *md, const json_t *spec, const char *at, ts_response *resp)
{
    /* deprecated node labels: the node selector (keys sorted; Go's map
     * order is random), node affinity, topology spread */
    const json_t *selector = json_object_get(spec, "nodeSelector");
    size_t n = json_object_size(selector), count = 0;
    const char **keys = n ? kr_calloc(n, sizeof(const char *)) : NULL;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)selector, k, v)
    {
        if (keys && label_deprecation(k))
            keys[count++] = k;
    }
    if (count)
        qsort((void *)keys, count, sizeof(const char *), cmp_str);
    for (size_t i = 0; i < count; i++)
        warnf(resp, "%sspec.nodeSelector[%s]: %s", at, keys[i], label_deprecation(keys[i]));
    kr_free((void *)keys);
    const json_t *node = json_object_get(json_object_get(spec, "affinity"), "nodeAffinity");
    size_t i;
    const json_t *t;
    json_array_foreach(
        json_object_get(json_object_get(node, "requiredDuringSchedulingIgnoredDuringExecution"),
                        "nodeSelectorTerms"),
        i, t)
    {
        char *term = kr_asprintf("%sspec.affinity.nodeAffinity.requiredDuringSchedulingIgnored"
                                 "DuringExecution.nodeSelectorTerms[%zu].",
                                 at, i);
        if (term)
            warn_term(t, term, resp);
        kr_free(term);
    }
    json_array_foreach(json_object_get(node, "preferredDuringSchedulingIgnoredDuringExecution"), i,
                       t)
    {
        char *term = kr_asprintf("%sspec.affinity.nodeAffinity.preferredDuringSchedulingIgnored"
                                 "DuringExecution[%zu].preference.",
                                 at, i);
        if (term)
            warn_term(json_object_get(t, "preference"), term, resp);
        kr_free(term);
    }
    json_array_foreach(json_object_get(spec, "topologySpreadConstraints"), i, t)
    {
        const char *key = json_string_value(json_object_get(t, "topologyKey"));
        const char *why = label_deprecation(key);
        if (why)
            warnf(resp, "%sspec.topologySpreadConstraints[%zu].topologyKey: %s is %s", at, i, key,
                  why);
        if (!json_is_object(json_object_get(t, "labelSelector")))
            warnf(resp,
                  "%sspec.topologySpreadConstraints[%zu].labelSelector: a null labelSelector "
                  "results in matching no pod",
                  at, i);
    }
    /* deprecated annotations, in their list's order */
    static const char *const annotations[][2] = {
        {"scheduler.alpha.kubernetes.io/critical-pod",
         "non-functional in v1.16+; use the \"priorityClassName\" field instead"},
        {"security.alpha.kubernetes.io/sysctls",
         "non-functional in v1.11+; use the \"sysctls\" field instead"},
        {"security.alpha.kubernetes.io/unsafe-sysctls",
         "non-functional in v1.11+; use the \"sysctls\" field instead"},
    };
    const json_t *notes = json_object_get(md, "annotations");
    for (size_t a = 0; a < KR_ARRAY_LEN(annotations); a++)
        if (json_object_get(notes, annotations[a][0]))
            warnf(resp, "%smetadata.annotations[%s]: %s", at, annotations[a][0], annotations[a][1]);
    /* deprecated volume plugins; projected items sharing a service
     * account token's path */
    warn_volumes(spec, at, resp);
    warn_token_paths(spec, at, resp);
    /* duplicate host alias addresses and pull secrets, and pull secrets
     * without a name */
    warn_duplicates(spec, at, "hostAliases", "ip", "duplicate ip", resp);
    warn_duplicates(spec, at, "imagePullSecrets", "name", "duplicate name", resp);
    json_array_foreach(json_object_get(spec, "imagePullSecrets"), i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!name || !*name)
            warnf(resp, "%sspec.imagePullSecrets[%zu].name: invalid empty name \"\"", at, i);
    }
    /* a fractional overhead */
    char field[512];
    snprintf(field, sizeof(field), "%sspec.overhead", at);
    warn_fraction(json_object_get(spec, "overhead"), "memory", field, resp);
    warn_fraction(json_object_get(spec, "overhead"), "ephemeral-storage", field, resp);
    /* seccomp annotations without the field, the pod's then each
     * container's (init, regular, ephemeral); a template's AppArmor
     * annotation of a container without a profile field, its own or the
     * pod's (a Pod's is warned about as its create syncs them) */
    static const char seccomp[] = "non-functional in v1.27+; use the \"seccompProfile\" field "
                                  "instead";
    static const char pod_key[] = "seccomp.security.alpha.kubernetes.io/pod";
    if (!has_seccomp_profile(spec) && json_object_get(notes, pod_key))
        warnf(resp, "%smetadata.annotations[%s]: %s", at, pod_key, seccomp);
    static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
    for (size_t l = 0; l < KR_ARRAY_LEN(lists); l++) {
        const json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            const char *name = json_string_value(json_object_get(c, "name"));
            char *key =
                kr_asprintf("container.seccomp.security.alpha.kubernetes.io/%s", name ? name : "");
            if (key && !has_seccomp_profile(c) && json_object_get(notes, key))
                warnf(resp, "%smetadata.annotations[%s]: %s", at, key, seccomp);
            kr_free(key);
            key =
                kr_asprintf("container.apparmor.security.beta.kubernetes.io/%s", name ? name : "");
            if (key && *at && !has_apparmor_profile(spec) && !has_apparmor_profile(c) &&
                json_object_get(notes, key))
                warnf(resp,
                      "%smetadata.annotations[%s]: deprecated since v1.30; use the "
                      "\"appArmorProfile\" field instead",
                      at, key);
            kr_free(key);
            snprintf(field, sizeof(field), "%sspec.%s[%zu]", at, lists[l], i);
            warn_container(c, field, resp);
        }
    }
    warn_ports(spec, at, resp);
    const json_t *grace = json_object_get(spec, "terminationGracePeriodSeconds");
    if (json_is_integer(grace) && json_integer_value(grace) < 0)
        warnf(resp,
              "%sspec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid "
              "and will be treated as 1",
              at);
    const json_t *affinity = json_object_get(spec, "affinity");
    warn_affinity_terms(affinity, at, "podAffinity", resp);
    warn_affinity_terms(affinity, at, "podAntiAffinity", resp);
}

/* Where a kind holds its pod template ("spec.template." and the like),
 * or NULL for a kind without one. */
static const char *template_path(const ts_resource *res)
{
    static const char *const kinds[][3] = {
        {"", "podtemplates", "template."},
        {"", "replicationcontrollers", "spec.template."},
        {"apps", "deployments", "spec.template."},
        {"apps", "replicasets", "spec.template."},
        {"apps", "statefulsets", "spec.template."},
        {"apps", "daemonsets", "spec.template."},
        {"batch", "jobs", "spec.template."},
        {"batch", "cronjobs", "spec.jobTemplate.spec.template."},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(kinds); i++)
        if (ts_resource_is(res, kinds[i][0], kinds[i][1]))
            return kinds[i][2];
    return NULL;
}

/* getWarningsForIP on an address ParseIPSloppy takes but netip.ParseAddr
 * does not: an IPv4 octet with a leading zero. */
static void warn_ip(const char *field, const char *address, ts_response *resp)
{
    uint32_t ip;
    bool zero = false;
    if (!address || !ts_parse_ipv4_sloppy(address, &ip, &zero) || !zero)
        return;
    kr_buf b = {0};
    kr_buf_printf(&b,
                  "%s: IP address was accepted, but will be invalid in a future Kubernetes "
                  "release: ParseAddr(",
                  field);
    ts_go_quote(&b, address);
    kr_buf_append_str(&b, "): IPv4 field has octet with leading zero");
    if (b.data)
        ts_response_warn(resp, b.data);
    kr_buf_free(&b);
}

/* GetWarningsForService (create and every update): the cluster IPs (when
 * set), the external IPs and the load balancer IP. */
static void warn_service(const json_t *spec, ts_response *resp)
{
    char field[64];
    size_t i;
    const json_t *v;
    const char *first = json_string_value(json_array_get(json_object_get(spec, "clusterIPs"), 0));
    if (first && *first && strcmp(first, "None") != 0) {
        json_array_foreach(json_object_get(spec, "clusterIPs"), i, v)
        {
            snprintf(field, sizeof(field), "spec.clusterIPs[%zu]", i);
            warn_ip(field, json_string_value(v), resp);
        }
    }
    json_array_foreach(json_object_get(spec, "externalIPs"), i, v)
    {
        snprintf(field, sizeof(field), "spec.externalIPs[%zu]", i);
        warn_ip(field, json_string_value(v), resp);
    }
    warn_ip("spec.loadBalancerIP", json_string_value(json_object_get(spec, "loadBalancerIP")),
            resp);
}

void ts_warn_write(const ts_resource *res, const json_t *old, const json_t *obj, ts_response *resp)
{
    if (res->crd) {
        warn_finalizers(old, obj, resp);
        return;
    }
    if (ts_resource_is(res, "", "services")) {
        warn_service(json_object_get(obj, "spec"), resp);
        return;
    }
    if (!old && ts_resource_is(res, "", "pods")) {
        warn_pod(json_object_get(obj, "metadata"), json_object_get(obj, "spec"), "", resp);
        return;
    }
    const char *at = template_path(res);
    /* an update warns when it moves the generation (a change of the spec) */
    if (!at || (old && json_equal(json_object_get(json_object_get(old, "metadata"), "generation"),
                                  json_object_get(json_object_get(obj, "metadata"), "generation"))))
        return;
    /* the template's JSON path: its dotted field names, the last dot off */
    const json_t *tmpl = obj;
    char name[32];
    for (const char *p = at, *dot; (dot = strchr(p, '.')) != NULL; p = dot + 1) {
        snprintf(name, sizeof(name), "%.*s", (int)(dot - p), p);
        tmpl = json_object_get(tmpl, name);
    }
    warn_pod(json_object_get(tmpl, "metadata"), json_object_get(tmpl, "spec"), at, resp);
}
