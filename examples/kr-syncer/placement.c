/* kr-syncer — placement: the workload clusters a hub object names that
 * are not configured (the kreconcile.io/clusters annotation; which objects
 * are synced at all, and where, is the library's reading, shared with
 * kr-sweeper: kr_managed_unsynced_reason, kr_managed_placed). Pure. */
#include <string.h>

#include "syncer.h"

static const char *annotation(const json_t *obj, const char *name)
{
    const json_t *annotations = json_object_get(json_object_get(obj, "metadata"), "annotations");
    return json_string_value(json_object_get(annotations, name));
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
