/* kr-syncer — the inventory's record of what the syncer did in a workload
 * cluster (CREATED, PATCHED, VERIFIED, DELETED; actor kr-syncer), when it
 * was given one (--inventory), through an outbox that keeps them in order
 * while the database restarts. A record that fails all the same is
 * logged, never fatal: the write happened, and the inventory's own
 * informers see the object.
 * And the Warning Events on hub objects that `kubectl describe` shows. */
#include <string.h>

#include "syncer.h"

static const char *string_at(const json_t *obj, const char *section, const char *key)
{
    const json_t *where = section ? json_object_get(obj, section) : obj;
    return json_string_value(json_object_get(where, key));
}

/* obj's apiVersion and kind into *api_version and *kind; list items may
 * lack them: then what an answer about the resource said (into the
 * buffers), or NULLs. */
static void kind_of(syncer_t *s, syncer_resource *res, const json_t *obj, const char **api_version,
                    const char **kind, char *api_buf, char *kind_buf)
{
    *kind = string_at(obj, NULL, "kind");
    *api_version = string_at(obj, NULL, "apiVersion");
    pthread_mutex_lock(&s->stats_lock);
    if (*kind && *api_version && strcmp(*kind, "Status") != 0 && !res->kind[0]) {
        snprintf(res->kind, sizeof(res->kind), "%s", *kind);
        snprintf(res->api_version, sizeof(res->api_version), "%s", *api_version);
    }
    memcpy(kind_buf, res->kind, sizeof(res->kind));
    memcpy(api_buf, res->api_version, sizeof(res->api_version));
    pthread_mutex_unlock(&s->stats_lock);
    if (!*kind || strcmp(*kind, "Status") == 0) {
        *kind = kind_buf[0] ? kind_buf : NULL;
        *api_version = api_buf[0] ? api_buf : NULL;
    }
}

/* A record stops waiting for the database once the resource's controller
 * stops (the manager's stop, or leadership lost, which stops it): the stop
 * waits for every reconcile before it releases the Lease, and the outbox
 * keeps (spools) what the database has not taken yet, in order. Without a
 * controller, never. */
static bool stopping(void *user)
{
    return kr_controller_stopping(((const syncer_resource *)user)->ctl);
}

void syncer_record(syncer_t *s, syncer_resource *res, const char *cluster, const json_t *obj,
                   const char *event)
{
    if (!s->inventory || !obj)
        return;
    const char *kind, *api_version;
    char kind_buf[sizeof(res->kind)], api_buf[sizeof(res->api_version)];
    kind_of(s, res, obj, &api_version, &kind, api_buf, kind_buf);
    kr_inventory_action action = {
        .cluster = cluster,
        .api_version = api_version,
        .kind = kind,
        .namespace_ = string_at(obj, "metadata", "namespace"),
        .name = string_at(obj, "metadata", "name"),
        .uid = string_at(obj, "metadata", "uid"),
        .resource_version = string_at(obj, "metadata", "resourceVersion"),
        .event = event,
        .actor = KR_MANAGER_SYNCER,
    };
    kr_error_t err = {0};
    /* Each is recorded once. A copy held by someone's finalizer may be
     * deleted again by a look whose cache has not yet seen the first
     * delete: the API accepts it, and the books keep one DELETED per copy.
     * A write or a verification is one per resourceVersion of the copy,
     * however many looks see it (the write's own event and a resync may
     * both find the copy verified). */
    char key[256];
    bool once = action.uid != NULL;
    if (once && strcmp(event, "DELETED") == 0)
        snprintf(key, sizeof(key), "%s/%s/DELETED", cluster, action.uid);
    else if (once && action.resource_version)
        snprintf(key, sizeof(key), "%s/%s/%s/%s", cluster, action.uid, event,
                 action.resource_version);
    else
        once = false;
    int rc = !kind       ? KR_EINVAL
             : s->outbox ? kr_inventory_outbox_record_unless(s->outbox, &action, once ? key : NULL,
                                                             stopping, res, NULL, &err)
             : once      ? kr_inventory_record_once(s->inventory, &action, key, NULL, &err)
                         : kr_inventory_record(s->inventory, &action, NULL, &err);
    if (rc != 0)
        kr_log(&s->logger, KR_LOG_WARN, "syncer", "inventory: cannot record %s of %s in %s: %s",
               event, action.name ? action.name : "?", cluster,
               kind ? err.message : "its kind is unknown");
}

/* True when `message` names `cluster` where it says what it is about,
 * before its first ": " (names have none): " in <cluster>" then a space or
 * that colon, as an entry's failure does ("create configmaps apps/web in
 * dc2: ...") and a copy that is not ours ("configmaps/web exists in dc2
 * without the label ..."). */
static bool names_cluster(const char *message, const char *cluster)
{
    const char *end = strstr(message, ": ");
    size_t n = strlen(cluster);
    for (const char *in = strstr(message, " in "); end && in && in < end;
         in = strstr(in + 1, " in "))
        if (strncmp(in + 4, cluster, n) == 0 && (in[4 + n] == ' ' || in[4 + n] == ':'))
            return true;
    return false;
}

void syncer_warn_event(syncer_t *s, syncer_resource *res, const json_t *hub_obj,
                       const char *cluster, const char *message)
{
    uint64_t term;
    char rv[64];
    if (!s->events || !hub_obj || (s->term && s->term(&term, rv, sizeof(rv), s->term_user) != 0))
        return; /* Events are the leader's writes too */
    const char *kind, *api_version;
    char kind_buf[sizeof(res->kind)], api_buf[sizeof(res->api_version)];
    kind_of(s, res, hub_obj, &api_version, &kind, api_buf, kind_buf);
    kr_event ev = {.object = hub_obj,
                   .api_version = api_version,
                   .kind = kind,
                   .type = KR_EVENT_WARNING,
                   .reason = "SyncFailed"};
    /* the cluster named once: first, unless the message names it */
    bool named = names_cluster(message, cluster);
    int rc = kind ? kr_event_record(s->events, &ev, "%s%s%s", named ? "" : cluster,
                                    named ? "" : ": ", message)
                  : KR_EINVAL;
    if (rc != 0)
        kr_log(&s->logger, KR_LOG_DEBUG, "syncer", "no event about %s: %s",
               string_at(hub_obj, "metadata", "name"),
               kind ? kr_strerror(rc) : "its kind is unknown yet");
}
