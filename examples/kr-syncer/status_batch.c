/* kr-syncer — status entries waiting to be written together: each cluster's
 * lane parks its new sync-status entry here and queues the object's key on
 * the hub's lane (at once when every cluster expected has parked one, else
 * the hub lane's one sweep key queues it when it is due); that one
 * reconcile writes every entry parked by then in
 * one hub write (instead of one per cluster, each
 * waking every lane again). An entry lost with the process is rebuilt from
 * the caches by the next reconcile of its lane. And our hub writes that the
 * hub cache may not hold yet: their next reader waits for them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncer.h"

/* The hub_written map is pruned when it reaches this many entries, or
 * twice what the last pruning left. */
#define HUB_WRITTEN_PRUNE_MIN 256u

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
    json_object_del(s->pending_due, key);
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

int syncer_pending_due(syncer_t *s, size_t resource, const char *ns, const char *name,
                       int64_t due_ns)
{
    char key[600];
    object_key(resource, ns, name, key, sizeof(key));
    int rc = 0;
    pthread_mutex_lock(&s->pending_lock);
    json_t *was = json_object_get(s->pending_due, key);
    if (!was || json_integer_value(json_object_get(was, "due")) > due_ns) {
        json_t *due = json_pack("{s:I, s:I, s:s, s:s}", "due", (json_int_t)due_ns, "resource",
                                (json_int_t)resource, "ns", ns ? ns : "", "name", name);
        rc = json_object_set_new(s->pending_due, key, due) != 0;
    }
    pthread_mutex_unlock(&s->pending_lock);
    return rc ? KR_ENOMEM : 0;
}

int64_t syncer_pending_sweep(syncer_t *s, size_t resource, int64_t now_ns, syncer_due_cb fn,
                             void *user)
{
    json_t *due_now = json_array();
    int64_t next = 0;
    const char *key;
    json_t *due;
    void *tmp;
    pthread_mutex_lock(&s->pending_lock);
    json_object_foreach_safe(s->pending_due, tmp, key, due)
    {
        if ((size_t)json_integer_value(json_object_get(due, "resource")) != resource)
            continue;
        int64_t at = (int64_t)json_integer_value(json_object_get(due, "due"));
        if (at > now_ns) {
            next = next && next < at ? next : at;
        } else if (due_now && json_array_append(due_now, due) == 0) {
            json_object_del(s->pending_due, key);
        } else {
            next = now_ns; /* out of memory: look again */
        }
    }
    pthread_mutex_unlock(&s->pending_lock);
    size_t i;
    json_array_foreach(due_now, i, due)
    {
        fn(json_string_value(json_object_get(due, "ns")),
           json_string_value(json_object_get(due, "name")), user);
    }
    json_decref(due_now);
    return next;
}

/* ---- our hub writes the hub cache may not hold yet -------------------------- */

static unsigned long long rv_number(const char *rv)
{
    return rv ? strtoull(rv, NULL, 10) : 0;
}

/* Drop the entries the hub informer of `resource` has observed. Called
 * without pending_lock (the informer has a lock of its own). */
static void prune_hub_written(syncer_t *s, size_t resource)
{
    char *last = kr_informer_last_resource_version(s->resources[resource].hub);
    unsigned long long observed = rv_number(last);
    kr_free(last);
    char prefix[32];
    int n = snprintf(prefix, sizeof(prefix), "%zu/", resource);
    pthread_mutex_lock(&s->pending_lock);
    const char *key;
    json_t *rv;
    void *tmp;
    json_object_foreach_safe(s->hub_written, tmp, key, rv)
    {
        if (strncmp(key, prefix, (size_t)n) == 0 &&
            (unsigned long long)json_integer_value(rv) <= observed)
            json_object_del(s->hub_written, key);
    }
    size_t left = json_object_size(s->hub_written);
    s->hub_written_prune_at = left * 2 > HUB_WRITTEN_PRUNE_MIN ? left * 2 : HUB_WRITTEN_PRUNE_MIN;
    pthread_mutex_unlock(&s->pending_lock);
}

void syncer_hub_written(syncer_t *s, size_t resource, const char *ns, const char *name,
                        const char *rv)
{
    unsigned long long v = rv_number(rv);
    if (!v)
        return;
    char key[600];
    object_key(resource, ns, name, key, sizeof(key));
    pthread_mutex_lock(&s->pending_lock);
    /* Out of memory: no entry, and a later reader may meet one 409. */
    json_object_set_new(s->hub_written, key, json_integer((json_int_t)v));
    bool prune = json_object_size(s->hub_written) >=
                 (s->hub_written_prune_at ? s->hub_written_prune_at : HUB_WRITTEN_PRUNE_MIN);
    pthread_mutex_unlock(&s->pending_lock);
    if (prune)
        prune_hub_written(s, resource);
}

json_t *syncer_hub_get(syncer_t *s, size_t resource, const char *ns, const char *name)
{
    kr_informer_t *inf = s->resources[resource].hub;
    json_t *hub = kr_store_get_by_name(kr_informer_store(inf), ns, name);
    char key[600];
    object_key(resource, ns, name, key, sizeof(key));
    pthread_mutex_lock(&s->pending_lock);
    json_int_t written = json_integer_value(json_object_get(s->hub_written, key));
    pthread_mutex_unlock(&s->pending_lock);
    if (!written)
        return hub;
    const char *cached =
        json_string_value(json_object_get(json_object_get(hub, "metadata"), "resourceVersion"));
    if (rv_number(cached) < (unsigned long long)written) {
        char rv[32];
        snprintf(rv, sizeof(rv), "%lld", (long long)written);
        /* Timed out: read what there is (resourceVersions that went back
         * must not stop us; a stale read costs one 409 at worst). */
        kr_informer_wait_for_resource_version(inf, rv, s->verify_timeout_ms, NULL);
        json_decref(hub);
        hub = kr_store_get_by_name(kr_informer_store(inf), ns, name);
    }
    pthread_mutex_lock(&s->pending_lock);
    if (json_integer_value(json_object_get(s->hub_written, key)) == written)
        json_object_del(s->hub_written, key);
    pthread_mutex_unlock(&s->pending_lock);
    return hub;
}

/* ---- the sync-status text of our last hub write -------------------------------- */

/* The status_sent map is pruned when it reaches this many entries, or
 * twice what the last pruning left. */
#define STATUS_SENT_PRUNE_MIN 256u

/* FNV-1a of the text, never 0; 0 for no text (the annotation absent). */
static uint64_t status_hash(const char *text)
{
    if (!text)
        return 0;
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

static const char *status_text(const json_t *hub)
{
    const json_t *ann = json_object_get(json_object_get(hub, "metadata"), "annotations");
    return json_string_value(json_object_get(ann, KR_ANNOTATION_SYNC_STATUS));
}

/* Drop the entries of objects no hub cache holds (deleted). Called
 * without pending_lock (each store has a lock of its own). */
static void prune_status_sent(syncer_t *s)
{
    json_t *gone = json_array();
    pthread_mutex_lock(&s->pending_lock);
    json_t *keys = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(s->status_sent, key, value)
    {
        if (keys)
            json_array_append_new(keys, json_string(key));
    }
    pthread_mutex_unlock(&s->pending_lock);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *text = json_string_value(k);
        char *end = NULL;
        unsigned long long r = text ? strtoull(text, &end, 10) : 0;
        const char *ns = end && *end == '/' ? end + 1 : NULL;
        const char *slash = ns ? strchr(ns, '/') : NULL;
        if (!slash || r >= s->n_resources)
            continue;
        char nsbuf[256];
        snprintf(nsbuf, sizeof(nsbuf), "%.*s", (int)(slash - ns), ns);
        json_t *obj =
            kr_store_get_by_name(kr_informer_store(s->resources[r].hub), nsbuf, slash + 1);
        if (!obj && gone)
            json_array_append(gone, k);
        json_decref(obj);
    }
    json_decref(keys);
    pthread_mutex_lock(&s->pending_lock);
    json_array_foreach(gone, i, k) json_object_del(s->status_sent, json_string_value(k));
    size_t left = json_object_size(s->status_sent);
    s->status_sent_prune_at = left * 2 > STATUS_SENT_PRUNE_MIN ? left * 2 : STATUS_SENT_PRUNE_MIN;
    pthread_mutex_unlock(&s->pending_lock);
    json_decref(gone);
}

/* How many status texts are kept per object: our writes sent whose watch
 * events the hub informer has not brought yet (the hub lane writes an
 * object again only after the cache holds its last write, so there are
 * rarely more than two); the oldest goes first past this. */
#define STATUS_SENT_KEEP 8

void syncer_status_sending(syncer_t *s, size_t resource, const char *ns, const char *name,
                           const json_t *patch)
{
    const json_t *ann = json_object_get(json_object_get(patch, "metadata"), "annotations");
    const json_t *text = json_object_get(ann, KR_ANNOTATION_SYNC_STATUS);
    if (!text) /* the write leaves the status as it is */
        return;
    uint64_t h = status_hash(json_string_value(text));
    char key[600];
    object_key(resource, ns, name, key, sizeof(key));
    pthread_mutex_lock(&s->pending_lock);
    if (!s->status_sent)
        s->status_sent = json_object();
    json_t *sent = json_object_get(s->status_sent, key);
    if (!json_is_array(sent)) {
        sent = json_array();
        if (json_object_set_new(s->status_sent, key, sent) != 0)
            sent = NULL;
    }
    while (json_array_size(sent) >= STATUS_SENT_KEEP)
        json_array_remove(sent, 0);
    /* Out of memory: no entry, and the write's event wakes the lanes. */
    if (!sent || json_array_append_new(sent, json_integer((json_int_t)h)) != 0)
        json_object_del(s->status_sent, key);
    bool prune = json_object_size(s->status_sent) >=
                 (s->status_sent_prune_at ? s->status_sent_prune_at : STATUS_SENT_PRUNE_MIN);
    pthread_mutex_unlock(&s->pending_lock);
    if (prune)
        prune_status_sent(s);
}

/* Where the status text of `hub` is among our writes to it that were sent
 * (0 the oldest kept; the oldest of them when two set the same text, as
 * the events come in order), -1 when it is none of them, -2 when we never
 * wrote it (in this process); *sent (under pending_lock) is their
 * array. */
static int status_sent_index(syncer_t *s, size_t resource, const json_t *hub, json_t **sent)
{
    const json_t *meta = json_object_get(hub, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    *sent = NULL;
    if (!name)
        return -2;
    char key[600];
    object_key(resource, json_string_value(json_object_get(meta, "namespace")), name, key,
               sizeof(key));
    *sent = json_object_get(s->status_sent, key);
    if (!*sent)
        return -2;
    uint64_t h = status_hash(status_text(hub));
    for (size_t i = 0; i < json_array_size(*sent); i++)
        if ((uint64_t)json_integer_value(json_array_get(*sent, i)) == h)
            return (int)i;
    return -1;
}

bool syncer_status_ours(syncer_t *s, size_t resource, const json_t *hub)
{
    json_t *sent;
    pthread_mutex_lock(&s->pending_lock);
    int at = status_sent_index(s, resource, hub, &sent);
    /* The hub's events come in order: the writes sent before this one
     * were observed before it (or failed), and a text of theirs seen from
     * now on is someone else's. */
    for (int i = 0; i < at; i++)
        json_array_remove(sent, 0);
    pthread_mutex_unlock(&s->pending_lock);
    return at >= 0;
}

bool syncer_status_foreign(syncer_t *s, size_t resource, const json_t *hub)
{
    json_t *sent;
    pthread_mutex_lock(&s->pending_lock);
    int at = status_sent_index(s, resource, hub, &sent);
    pthread_mutex_unlock(&s->pending_lock);
    return at == -1;
}
