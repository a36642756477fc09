/* libkreconcile-testserver — the warnings kube-apiserver's strategies give
 * a create or an update that succeeds (WarningsOnCreate,
 * WarningsOnUpdate), as Warning headers, in their order and words: a
 * custom resource's new finalizers without a path; the deprecated node
 * labels and pod annotations of a pod or a workload's pod template, null
 * label selectors, duplicate host aliases and pull secrets, a negative
 * grace period (GetWarningsForPod: the common ones, not its volume, port,
 * env and quantity checks). Callers hold ts->mu. */
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
        }
    }
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

void ts_warn_write(const ts_resource *res, const json_t *old, const json_t *obj, ts_response *resp)
{
    if (res->crd) {
        warn_finalizers(old, obj, resp);
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
