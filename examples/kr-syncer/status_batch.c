/* kr-syncer — status entries waiting to be written together: each cluster's
 * lane parks its new sync-status entry here and queues the object's key on
 * the hub's lane (at once when every cluster expected has parked one, else
 * a moment later); that one reconcile writes every entry parked by then in
 * one hub write (instead of one per cluster, each
 * waking every lane again). An entry lost with the process is rebuilt from
 * the caches by the next reconcile of its lane. */
#include <stdio.h>

#include "syncer.h"

static char *object_key(size_t resource, const char *ns, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%zu/%s/%s", resource, ns ? ns : "", name);
    return buf;
}

int syncer_pending_put(syncer_t *s, size_t resource, const char *ns, const char *name,
                       const char *cluster, const json_t *entry, size_t *parked)
{
    char key[600];
    object_key(resource, ns, name, key, sizeof(key));
    int rc = 0;
    pthread_mutex_lock(&s->pending_lock);
    json_t *entries = json_object_get(s->pending, key);
    if (!entries) {
        entries = json_object();
        rc = !entries || json_object_set_new(s->pending, key, entries) != 0;
    }
    if (rc == 0)
        rc = json_object_set(entries, cluster, (json_t *)entry) != 0;
    if (parked)
        *parked = json_object_size(entries);
    pthread_mutex_unlock(&s->pending_lock);
    return rc ? KR_ENOMEM : 0;
}

size_t syncer_pending_count(syncer_t *s, size_t resource, const char *ns, const char *name)
{
    char key[600];
    object_key(resource, ns, name, key, sizeof(key));
    pthread_mutex_lock(&s->pending_lock);
    size_t n = json_object_size(json_object_get(s->pending, key));
    pthread_mutex_unlock(&s->pending_lock);
    return n;
}

json_t *syncer_pending_take(syncer_t *s, size_t resource, const char *ns, const char *name)
{
    char key[600];
    object_key(resource, ns, name, key, sizeof(key));
    pthread_mutex_lock(&s->pending_lock);
    json_t *entries = json_incref(json_object_get(s->pending, key));
    json_object_del(s->pending, key);
    pthread_mutex_unlock(&s->pending_lock);
    return entries;
}

void syncer_pending_restore(syncer_t *s, size_t resource, const char *ns, const char *name,
                            json_t *entries)
{
    char key[600];
    object_key(resource, ns, name, key, sizeof(key));
    pthread_mutex_lock(&s->pending_lock);
    json_t *now = json_object_get(s->pending, key);
    if (!now) {
        json_object_set(s->pending, key, entries);
    } else {
        const char *cluster;
        json_t *entry;
        json_object_foreach(entries, cluster, entry)
        {
            if (!json_object_get(now, cluster)) /* a newer one wins */
                json_object_set(now, cluster, entry);
        }
    }
    pthread_mutex_unlock(&s->pending_lock);
}
