/* kr-syncer — when a hub delete may complete: the finalizer
 * kreconcile.io/syncer goes only once every workload cluster that may hold
 * a copy confirmed the delete there (delete answered, or the copy found
 * gone by the cluster itself, never by a cache of an unreachable one).
 * Pure. */
#include <string.h>

#include "syncer.h"

bool syncer_delete_needed(const json_t *hub, const json_t *entries, const char *cluster)
{
    const json_t *entry = json_object_get(entries, cluster);
    if (json_is_true(json_object_get(entry, "deleted")))
        return false;
    /* A malformed placement places nothing: a cluster it names by chance
     * ("dc2 dc1;x") holds a copy only where an entry says so (kept by
     * the hold), or where a cache or an unseen write shows one, which
     * reconcile_delete asks about itself. */
    if (kr_managed_placement_check(hub, NULL, 0, NULL, 0) == KR_PLACEMENT_MALFORMED)
        return entry != NULL;
    return entry != NULL || syncer_placed(hub, cluster);
}

bool syncer_delete_complete(const json_t *hub, const json_t *entries, const char *const *clusters,
                            size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (syncer_delete_needed(hub, entries, clusters[i]))
            return false;
    return true;
}
