/* kr-syncer — its own series on the program's /metrics, beside the
 * toolkit's (queues, clients, informers): per workload cluster, the writes
 * sent there by operation and outcome, the drift repaired there, and the
 * hub objects not in sync there as their status entries say (computed at
 * each scrape from the hub caches, so it is right after a restart and
 * under any replica, leader or not). */
#include <stdlib.h>
#include <string.h>

#include "syncer.h"

static const char *const op_names[SYNCER_N_OPS] = {"create", "patch", "delete"};
static const char *const outcome_names[SYNCER_N_OUTCOMES] = {
    "success", "conflict", "refused", "unreachable", "unavailable", "throttled"};

bool syncer_out_of_sync(const json_t *hub, const json_t *entries, const char *cluster)
{
    if (kr_managed_unsynced_reason(hub))
        return false;
    const json_t *entry = json_object_get(entries, cluster);
    const json_t *meta = json_object_get(hub, "metadata");
    if (json_object_get(meta, "deletionTimestamp"))
        return kr_managed_has_finalizer(hub, KR_FINALIZER_SYNCER) &&
               syncer_delete_needed(hub, entries, cluster) &&
               !json_is_true(json_object_get(entry, "deleted"));
    if (!syncer_placed(hub, cluster))
        return entry != NULL; /* its lane removes the copy, then the entry */
    return !entry || !json_is_true(json_object_get(entry, "verified")) ||
           json_object_get(entry, "lastError") || json_object_get(entry, "deleted");
}

/* The collector: count every hub object of every resource. [scrape] */
static void collect_out_of_sync(void *user)
{
    syncer_t *s = user;
    size_t *counts = calloc(s->n_clusters, sizeof(*counts));
    if (!counts)
        return; /* out of memory: the gauges keep their last values */
    for (size_t r = 0; r < s->n_resources; r++) {
        json_t *items = NULL;
        if (kr_store_list(kr_informer_store(s->resources[r].hub), &items, NULL) != 0) {
            free(counts);
            return;
        }
        size_t i;
        json_t *obj;
        json_array_foreach(items, i, obj)
        {
            json_t *entries = syncer_status_parse(obj);
            for (size_t c = 0; entries && c < s->n_clusters; c++)
                counts[c] += syncer_out_of_sync(obj, entries, s->clusters[c].name);
            json_decref(entries);
        }
        json_decref(items);
    }
    for (size_t c = 0; c < s->n_clusters; c++)
        kr_metrics_gauge_set(s->clusters[c].out_of_sync, (double)counts[c]);
    free(counts);
}

static int family(syncer_t *s, kr_metric_type type, const char *name, const char *help,
                  const char *const *labels, size_t n, kr_metric_family_t **out, kr_error_t *err)
{
    return kr_metrics_family_register(s->metrics, type, name, help, labels, n, NULL, 0, out, err);
}

int syncer_metrics_init(syncer_t *s, kr_error_t *err)
{
    s->collector = -1;
    if (!s->metrics)
        return 0;
    static const char *const by_cluster[] = {"cluster"};
    static const char *const by_write[] = {"cluster", "operation", "outcome"};
    kr_metric_family_t *writes = NULL, *drift = NULL, *out_of_sync = NULL;
    int rc = family(s, KR_METRIC_COUNTER, "kr_syncer_writes_total",
                    "writes sent to a workload cluster, by operation (create, patch, delete) and "
                    "outcome (success; conflict: 409 or 404; unreachable: no answer; "
                    "unavailable: a 5xx; throttled: a 429, after the client's retries; "
                    "refused: any other answer)",
                    by_write, 3, &writes, err);
    if (rc == 0)
        rc = family(s, KR_METRIC_COUNTER, "kr_syncer_drift_repairs_total",
                    "copies put back as the hub has them after a change in the workload cluster "
                    "(edited, deleted, the managed-by label taken away)",
                    by_cluster, 1, &drift, err);
    if (rc == 0)
        rc = family(s, KR_METRIC_GAUGE, "kr_syncer_out_of_sync",
                    "hub objects not in sync with the workload cluster, as their sync-status "
                    "entries say (no verified entry free of errors; a copy still to remove)",
                    by_cluster, 1, &out_of_sync, err);
    for (size_t c = 0; c < s->n_clusters && rc == 0; c++) {
        syncer_cluster *cl = &s->clusters[c];
        const char *name[] = {cl->name};
        rc = kr_metrics_series(drift, name, &cl->drift_repairs, err);
        if (rc == 0)
            rc = kr_metrics_series(out_of_sync, name, &cl->out_of_sync, err);
        for (size_t o = 0; o < SYNCER_N_OPS && rc == 0; o++)
            for (size_t x = 0; x < SYNCER_N_OUTCOMES && rc == 0; x++) {
                const char *values[] = {cl->name, op_names[o], outcome_names[x]};
                rc = kr_metrics_series(writes, values, &cl->writes[o][x], err);
            }
    }
    if (rc != 0)
        return rc;
    s->collector = kr_metrics_collector_add(s->metrics, collect_out_of_sync, s);
    if (s->collector < 0)
        return kr_error_set(err, s->collector, "cannot add the syncer's metrics collector");
    return 0;
}

void syncer_metrics_fini(syncer_t *s)
{
    if (s->metrics && s->collector >= 0)
        kr_metrics_collector_remove(s->metrics, s->collector);
    s->collector = -1;
}

syncer_outcome syncer_write_outcome(int rc, const kr_error_t *err)
{
    if (rc == 0)
        return SYNCER_OUTCOME_SUCCESS;
    if (rc == KR_ECONFLICT || rc == KR_EEXIST || rc == KR_ENOTFOUND)
        return SYNCER_OUTCOME_CONFLICT;
    if (!syncer_unreachable(rc, err))
        return SYNCER_OUTCOME_REFUSED;
    /* an answer says so (a gateway's 504 is KR_ETIMEDOUT with its code) */
    int code = err ? err->http_code : 0;
    if (code == 429 || (code == 0 && rc == KR_ETHROTTLED))
        return SYNCER_OUTCOME_THROTTLED;
    if (code >= 500 || rc == KR_EUNAVAILABLE)
        return SYNCER_OUTCOME_UNAVAILABLE;
    return SYNCER_OUTCOME_UNREACHABLE;
}

void syncer_count_write(syncer_cluster *cl, syncer_op op, int rc, const kr_error_t *err)
{
    kr_metrics_counter_add(cl->writes[op][syncer_write_outcome(rc, err)], 1);
}
