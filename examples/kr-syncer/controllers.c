/* kr-syncer — the controller of one resource: its reconcile is the
 * syncer's, its sources the hub informer (a hub event queues the key on
 * every workload cluster's lane) and the informers of our copies (a copy's
 * event queues its own key on its cluster's lane: drift is repaired). */
#include <stdio.h>
#include <string.h>

#include "syncer.h"

kr_reconcile_result syncer_controller_reconcile(kr_controller_t *ctl,
                                                const kr_reconcile_request *req,
                                                uint64_t *requeue_after_ms, kr_error_t *err,
                                                void *user)
{
    syncer_resource *res = user;
    return syncer_reconcile_in(res->syncer, ctl, res->index, req, requeue_after_ms, err);
}

/* A hub event: the object's key on every workload cluster's lane (an
 * unknown name in its placement is told by the first lane's reconcile,
 * the leader's). */
static void map_hub(kr_controller_t *ctl, const char *cluster, const json_t *obj, void *user)
{
    (void)cluster;
    syncer_resource *res = user;
    syncer_t *s = res->syncer;
    const json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    for (size_t i = 0; name && i < s->n_clusters; i++)
        kr_controller_enqueue(ctl, s->clusters[i].name, ns, name);
    if (name && !atomic_exchange(&res->unsynced_watch, true))
        kr_controller_enqueue(ctl, s->hub_name, s->namespace_, SYNCER_UNSYNCED_NAME);
    /* while a cluster's cache has not synced and its lists fail, the hub
     * lane writes this object's entry for it (its lane cannot) */
    for (size_t i = 0; name && i < s->n_clusters; i++) {
        kr_informer_t *copies = s->clusters[i].copies[res->index];
        if (!kr_informer_has_synced(copies) && kr_informer_last_error(copies, NULL, 0)) {
            kr_controller_enqueue(ctl, s->hub_name, ns, name);
            break;
        }
    }
}

/* True when every member of `a` but those named in `skip` equals b's, and
 * b has no other member but those. An absent object counts as {} (the
 * first status write adds metadata.annotations). */
static bool equal_except(const json_t *a, const json_t *b, const char *const *skip, size_t n)
{
    if ((a && !json_is_object(a)) || (b && !json_is_object(b)))
        return json_equal(a, b);
    const char *key;
    const json_t *value;
    size_t skipped_a = 0, skipped_b = 0;
    for (size_t i = 0; i < n; i++) {
        skipped_a += json_object_get(a, skip[i]) != NULL;
        skipped_b += json_object_get(b, skip[i]) != NULL;
    }
    if (json_object_size(a) - skipped_a != json_object_size(b) - skipped_b)
        return false;
    json_object_foreach((json_t *)a, key, value)
    {
        bool ignored = false;
        for (size_t i = 0; i < n && !ignored; i++)
            ignored = strcmp(key, skip[i]) == 0;
        if (!ignored && !json_equal(value, json_object_get(b, key)))
            return false;
    }
    return true;
}

static bool is_ours(const json_t *finalizer)
{
    const char *f = json_string_value(finalizer);
    return f && strcmp(f, KR_FINALIZER_SYNCER) == 0;
}

/* True when two finalizer lists (either may be absent) are the same but
 * for ours, which the status write adds: that write wakes no lane. */
static bool same_finalizers_but_ours(const json_t *a, const json_t *b)
{
    if (!a || !b) {
        const json_t *x = a ? a : b;
        return !x || (json_array_size(x) == 1 && is_ours(json_array_get(x, 0)));
    }
    if (!json_is_array(a) || !json_is_array(b))
        return json_equal(a, b);
    size_t i = 0, j = 0, na = json_array_size(a), nb = json_array_size(b);
    for (;;) {
        while (i < na && is_ours(json_array_get(a, i)))
            i++;
        while (j < nb && is_ours(json_array_get(b, j)))
            j++;
        if (i == na || j == nb)
            return i == na && j == nb;
        if (!json_equal(json_array_get(a, i++), json_array_get(b, j++)))
            return false;
    }
}

bool syncer_hub_changed(const json_t *old_obj, const json_t *new_obj, void *user)
{
    (void)user;
    if (!old_obj || old_obj == new_obj) /* add, delete, resync */
        return true;
    static const char *const top[] = {"metadata"};
    static const char *const meta[] = {"resourceVersion", "managedFields", "annotations",
                                       "finalizers"};
    static const char *const ann[] = {KR_ANNOTATION_SYNC_STATUS};
    const json_t *om = json_object_get(old_obj, "metadata"),
                 *nm = json_object_get(new_obj, "metadata");
    return !equal_except(old_obj, new_obj, top, 1) || !equal_except(om, nm, meta, 4) ||
           !same_finalizers_but_ours(json_object_get(om, "finalizers"),
                                     json_object_get(nm, "finalizers")) ||
           !equal_except(json_object_get(om, "annotations"), json_object_get(nm, "annotations"),
                         ann, 1);
}

static const char *sync_status(const json_t *obj)
{
    const json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
    return json_string_value(json_object_get(ann, KR_ANNOTATION_SYNC_STATUS));
}

bool syncer_hub_wakes(const json_t *old_obj, const json_t *new_obj, void *user)
{
    if (syncer_hub_changed(old_obj, new_obj, user))
        return true;
    const json_t *nm = json_object_get(new_obj, "metadata");
    bool lost_finalizer = kr_managed_has_finalizer(old_obj, KR_FINALIZER_SYNCER) &&
                          !kr_managed_has_finalizer(new_obj, KR_FINALIZER_SYNCER) &&
                          !json_object_get(nm, "deletionTimestamp") &&
                          !kr_managed_unsynced_reason(new_obj);
    if (lost_finalizer)
        return true;
    const char *was = sync_status(old_obj), *now = sync_status(new_obj);
    if (was == now || (was && now && strcmp(was, now) == 0))
        return false;
    /* Our own status writes come here too, one per object: each is the
     * text our last write set, and wakes nobody. Anything else (removed,
     * emptied, an old backup's entries, values of the wrong shape) is
     * someone else's: the woken lanes compare it with what they hold and
     * write it anew (no parse here on the loop thread). */
    const syncer_resource *res = user;
    return !res || !syncer_status_ours(res->syncer, res->index, new_obj);
}

void syncer_controller_opts(syncer_t *s, size_t resource, unsigned workers, char *name, size_t len,
                            kr_controller_opts *opts)
{
    const syncer_resource *res = &s->resources[resource];
    snprintf(name, len, "kr-syncer-%s%s%s", res->resource, res->group[0] ? "." : "", res->group);
    *opts = (kr_controller_opts)KR_CONTROLLER_OPTS_INIT;
    opts->name = name;
    opts->reconcile = syncer_controller_reconcile;
    opts->user = &s->resources[resource];
    /* Two per cluster: a cluster slow to answer holds at most its own
     * (each lane, the hub's too, takes at most its share of the workers). */
    opts->workers = workers ? workers : (unsigned)(2 * s->n_clusters);
    opts->lane_workers = (opts->workers + (unsigned)s->n_clusters - 1) / (unsigned)s->n_clusters;
    opts->logger = s->logger;
}

int syncer_watch(syncer_t *s, size_t resource, kr_controller_t *ctl, kr_error_t *err)
{
    s->resources[resource].ctl = ctl;
    kr_controller_source hub = KR_CONTROLLER_SOURCE_INIT;
    hub.informer = s->resources[resource].hub;
    hub.cluster = s->hub_name;
    hub.map = KR_CONTROLLER_MAP_FUNC;
    hub.map_cb = map_hub;
    hub.map_user = &s->resources[resource];
    hub.predicate = syncer_hub_wakes;
    hub.predicate_user = &s->resources[resource];
    int rc = kr_controller_watch(ctl, &hub, err);
    for (size_t i = 0; rc == 0 && i < s->n_clusters; i++) {
        kr_controller_source copies = KR_CONTROLLER_SOURCE_INIT;
        copies.informer = s->clusters[i].copies[resource];
        copies.cluster = s->clusters[i].name;
        copies.map = KR_CONTROLLER_MAP_SELF; /* a copy's key is its hub object's */
        /* a cluster unreachable at start holds its own lane, not the others */
        copies.lane_sync = true;
        rc = kr_controller_watch(ctl, &copies, err);
    }
    return rc;
}
