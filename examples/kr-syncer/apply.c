/* kr-syncer — the copy a workload cluster should hold: the hub object's
 * content and the user's labels and annotations, never the hub's server-set
 * metadata or our own bookkeeping annotations. Pure. */
#include <string.h>

#include "syncer.h"

/* Metadata that describes the hub object itself, not the content. */
static const char *const kept_metadata[] = {"name", "namespace", "labels", "annotations"};

/* Annotations that must not travel: ours, and kubectl's record of what was
 * applied to the hub object. */
static const char *const dropped_annotations[] = {
    KR_ANNOTATION_CLUSTERS, KR_ANNOTATION_SYNC_STATUS, KR_ANNOTATION_IGNORE,
    KR_ANNOTATION_LAST_APPLIED, "kubectl.kubernetes.io/last-applied-configuration"};

static bool kept(const char *key)
{
    for (size_t i = 0; i < sizeof(kept_metadata) / sizeof(kept_metadata[0]); i++)
        if (strcmp(key, kept_metadata[i]) == 0)
            return true;
    return false;
}

/* The labels a Job's registry generates from the Job's own uid and name. */
static const char *const job_labels[] = {"batch.kubernetes.io/controller-uid", "controller-uid",
                                         "batch.kubernetes.io/job-name", "job-name"};

static bool is_kind(const json_t *obj, const char *api_version, const char *kind)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *k = json_string_value(json_object_get(obj, "kind"));
    return av && k && strcmp(av, api_version) == 0 && strcmp(k, kind) == 0;
}

static void drop_labels(json_t *labels)
{
    for (size_t i = 0; i < sizeof(job_labels) / sizeof(job_labels[0]); i++)
        json_object_del(labels, job_labels[i]);
}

/* What the hub's apiserver allocated for the hub object and each cluster
 * allocates for its copy: a Service's cluster IPs (unless headless) and
 * health-check node port; a Job's generated selector and labels (unless
 * its selector is manual). Sending the hub's would be refused (an address
 * in use or out of the cluster's range; a selector that names another
 * uid). `copy` shares its content with the hub object: what is edited is
 * copied first. 0 or -1 (ENOMEM). */
static int drop_allocated(json_t *copy)
{
    bool service = is_kind(copy, "v1", "Service");
    bool job = is_kind(copy, "batch/v1", "Job");
    json_t *spec = json_object_get(copy, "spec");
    if ((!service && !job) || !json_is_object(spec) ||
        (job && json_is_true(json_object_get(spec, "manualSelector"))))
        return 0;
    spec = json_deep_copy(spec);
    if (!spec || json_object_set_new(copy, "spec", spec) != 0)
        return -1;
    if (service) {
        const char *ip = json_string_value(json_object_get(spec, "clusterIP"));
        if (!ip || strcmp(ip, "None") != 0) {
            json_object_del(spec, "clusterIP");
            json_object_del(spec, "clusterIPs");
        }
        json_object_del(spec, "healthCheckNodePort");
        return 0;
    }
    json_object_del(spec, "selector");
    drop_labels(
        json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"), "labels"));
    /* the copy's own labels (a shallow copy made above) */
    drop_labels(json_object_get(json_object_get(copy, "metadata"), "labels"));
    return 0;
}

json_t *syncer_desired_copy(const json_t *hub, const char *hub_name, kr_error_t *err)
{
    const json_t *hub_meta = json_object_get(hub, "metadata");
    const char *uid = json_string_value(json_object_get(hub_meta, "uid"));
    if (!uid || !*uid) {
        kr_error_set(err, KR_EINVAL, "the hub object has no metadata.uid");
        return NULL;
    }
    /* Shallow copies of what is edited here (the object, its metadata,
     * labels and annotations); the content is shared with the cached hub
     * object, which nobody modifies. */
    json_t *copy = json_copy((json_t *)hub);
    json_t *meta = json_is_object(hub_meta) ? json_object() : NULL;
    int rc = copy && (!hub_meta || meta) ? 0 : -1;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)hub_meta, key, value)
    {
        if (rc != 0 || !kept(key))
            continue;
        json_t *v = json_is_object(value) ? json_copy(value) : json_incref(value);
        rc = json_object_set_new(meta, key, v);
    }
    if (rc == 0 && meta)
        rc = json_object_set_new(copy, "metadata", meta);
    else
        json_decref(meta);
    if (rc == 0)
        rc = drop_allocated(copy);
    if (rc != 0) {
        json_decref(copy);
        kr_error_set(err, KR_ENOMEM, "out of memory copying the hub object");
        return NULL;
    }
    json_object_del(copy, "status");
    json_t *annotations = json_object_get(meta, "annotations");
    for (size_t i = 0; i < sizeof(dropped_annotations) / sizeof(dropped_annotations[0]); i++)
        json_object_del(annotations, dropped_annotations[i]);
    if (json_is_object(annotations) && json_object_size(annotations) == 0)
        json_object_del(meta, "annotations");
    kr_managed_source src = {
        .manager = KR_MANAGER_SYNCER, .source_cluster = hub_name, .source_uid = uid};
    if (kr_managed_set_labels(copy, &src, err) != 0) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}
