/* kr-syncer — placement: which hub objects are synced at all, and to which
 * workload clusters (the kreconcile.io/clusters annotation). Pure. */
#include <string.h>

#include "syncer.h"

static const char *annotation(const json_t *obj, const char *name)
{
    const json_t *annotations = json_object_get(json_object_get(obj, "metadata"), "annotations");
    return json_string_value(json_object_get(annotations, name));
}

const char *syncer_skip_reason(const json_t *hub)
{
    const json_t *owners = json_object_get(json_object_get(hub, "metadata"), "ownerReferences");
    if (json_array_size(owners) > 0)
        return "owned by another object (ownerReferences)";
    const char *ignore = annotation(hub, KR_ANNOTATION_IGNORE);
    if (ignore && strcmp(ignore, "true") == 0)
        return KR_ANNOTATION_IGNORE " is \"true\"";
    /* Every cluster publishes its own: copies would collide with theirs. */
    const char *kind = json_string_value(json_object_get(hub, "kind"));
    const char *av = json_string_value(json_object_get(hub, "apiVersion"));
    const char *name = json_string_value(json_object_get(json_object_get(hub, "metadata"), "name"));
    bool core = av && strcmp(av, "v1") == 0 && kind;
    if (core && strcmp(kind, "ConfigMap") == 0 && name && strcmp(name, "kube-root-ca.crt") == 0)
        return "the cluster's own CA bundle (kube-root-ca.crt; every cluster publishes its own)";
    const char *type = json_string_value(json_object_get(hub, "type"));
    if (core && strcmp(kind, "Secret") == 0 && type &&
        strcmp(type, "kubernetes.io/service-account-token") == 0)
        return "a service account token of the hub (type kubernetes.io/service-account-token)";
    return NULL;
}

bool syncer_unknown_placement(const json_t *hub, const char *const *clusters, size_t n, char *out,
                              size_t len)
{
    const char *p = annotation(hub, KR_ANNOTATION_CLUSTERS);
    size_t used = 0;
    if (len)
        out[0] = '\0';
    size_t want;
    for (const char *start; (start = kr_managed_placement_next(&p, &want));) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strlen(clusters[i]) == want && memcmp(clusters[i], start, want) == 0;
        if (!known && used < len) {
            int w = snprintf(out + used, len - used, "%s%.*s", used ? "," : "", (int)want, start);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    return used > 0;
}

/* The library's reading, shared with kr-sweeper: the sweeper deletes a
 * copy that this says is not placed, so the two must never differ. */
bool syncer_placed(const json_t *hub, const char *cluster)
{
    return kr_managed_placed(hub, cluster);
}
