/* libkreconcile — the store's reads: get, list, the listers by namespace,
 * label selector and index, and the accounting. Every read holds the
 * store's lock shared only while it looks up and takes new references;
 * nothing here writes to the store. [any thread] */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_internal.h"

/* ---- reads ----------------------------------------------------------------------- */

char *kr_store_last_resource_version(const kr_store_t *store)
{
    kr_store_t *s = (kr_store_t *)store;
    pthread_rwlock_rdlock(&s->lock);
    char *rv = kr_strdup(s->rv);
    pthread_rwlock_unlock(&s->lock);
    return rv;
}

/* The entry under `key` with a reference the caller releases (it is then
 * read outside the lock), or NULL. */
static struct entry *find_ref(kr_store_t *s, const char *key)
{
    pthread_rwlock_rdlock(&s->lock);
    struct entry *e = kr_store_map_get(&s->state->entries, key);
    if (e)
        kr_store_entry_ref(e);
    pthread_rwlock_unlock(&s->lock);
    return e;
}

json_t *kr_store_get(const kr_store_t *store, const char *key)
{
    if (!store || !key)
        return NULL;
    kr_store_t *s = (kr_store_t *)store;
    struct entry *e = find_ref(s, key);
    if (!e)
        return NULL;
    json_t *obj = kr_store_entry_object(s, e, true);
    kr_store_entry_release(e);
    return obj;
}

int kr_store_get_raw(const kr_store_t *store, const char *key, char **json, size_t *len,
                     kr_error_t *err)
{
    if (!store || !key || !json)
        return kr_error_set(err, KR_EINVAL, "kr_store_get_raw: store, key and json are required");
    *json = NULL;
    if (len)
        *len = 0;
    struct entry *e = find_ref((kr_store_t *)store, key);
    if (!e)
        return kr_error_set(err, KR_ENOTFOUND, "%s is not in the store", key);
    char *text = NULL;
    size_t n = 0;
    if (e->obj) {
        n = json_dumpb(e->obj, NULL, 0, JSON_COMPACT);
        text = n ? kr_malloc(n + 1) : NULL;
        if (text && json_dumpb(e->obj, text, n, JSON_COMPACT) != n) {
            kr_free(text);
            text = NULL;
        }
    } else {
        n = e->json_len;
        text = kr_malloc(n + 1);
        if (text)
            memcpy(text, e->json, n);
    }
    kr_store_entry_release(e);
    if (!text)
        return kr_error_set(err, KR_ENOMEM, "out of memory reading %s", key);
    text[n] = '\0';
    *json = text;
    if (len)
        *len = n;
    return 0;
}

char *kr_store_get_resource_version(const kr_store_t *store, const char *key)
{
    if (!store || !key)
        return NULL;
    kr_store_t *s = (kr_store_t *)store;
    pthread_rwlock_rdlock(&s->lock);
    struct entry *e = kr_store_map_get(&s->state->entries, key);
    char *rv = e && e->rv ? kr_strdup(e->rv) : NULL;
    pthread_rwlock_unlock(&s->lock);
    return rv;
}

json_t *kr_store_get_by_name(const kr_store_t *store, const char *ns, const char *name)
{
    if (!name)
        return NULL;
    if (!ns || !*ns)
        return kr_store_get(store, name);
    char *key = kr_asprintf("%s/%s", ns, name);
    if (!key)
        return NULL;
    json_t *obj = kr_store_get(store, key);
    kr_free(key);
    return obj;
}

size_t kr_store_len(const kr_store_t *store)
{
    kr_store_t *s = (kr_store_t *)store;
    pthread_rwlock_rdlock(&s->lock);
    size_t n = s->state->entries.count;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

/* Appends new references to a JSON array under the shared lock: one pass,
 * no temporary copy; the lock is also held for the array's amortised
 * growth (one realloc per doubling). */
struct gather {
    json_t *arr;
    const kr_selector_t *sel;
    int rc;
    /* compact: entries to parse once the lock is released (selectors are
     * then matched on the parsed trees), or trees found in the cache */
    bool compact;
    struct pending_read *pending;
    size_t n_pending, cap_pending;
};

struct pending_read {
    struct entry *e; /* a reference, or NULL */
    json_t *tree; /* a reference, or NULL */
};

static void gather_later(struct gather *g, struct entry *e)
{
    if (g->n_pending == g->cap_pending) {
        size_t cap = g->cap_pending ? g->cap_pending * 2 : 64;
        struct pending_read *grown = kr_realloc(g->pending, cap * sizeof(*grown));
        if (!grown) {
            g->rc = KR_ENOMEM;
            return;
        }
        g->pending = grown;
        g->cap_pending = cap;
    }
    /* the caller holds the cache mutex: a cached tree saves the parse */
    struct pending_read *r = &g->pending[g->n_pending++];
    r->tree = json_incref(e->tree);
    r->e = r->tree ? NULL : e;
    if (r->e)
        kr_store_entry_ref(e);
}

static void gather_entry(struct gather *g, struct entry *e)
{
    if (g->rc)
        return;
    if (g->compact) {
        gather_later(g, e);
        return;
    }
    if (g->sel && !kr_selector_matches_object(g->sel, e->obj))
        return;
    if (json_array_append(g->arr, e->obj) != 0)
        g->rc = KR_ENOMEM;
}

/* Compact: parse what gather_later() collected, outside every lock, and
 * drop the references it took (also after a failure). */
static void gather_finish(kr_store_t *s, struct gather *g)
{
    for (size_t i = 0; i < g->n_pending; i++) {
        struct pending_read *r = &g->pending[i];
        json_t *obj = r->tree;
        if (!g->rc && !obj && !(obj = kr_store_entry_object(s, r->e, false)))
            g->rc = KR_ENOMEM;
        kr_store_entry_release(r->e);
        if (!g->rc && (!g->sel || kr_selector_matches_object(g->sel, obj)) &&
            json_array_append(g->arr, obj) != 0)
            g->rc = KR_ENOMEM;
        json_decref(obj);
    }
    kr_free(g->pending);
    g->pending = NULL;
    g->n_pending = 0;
}

static void gather_state(struct gather *g, const struct state *st)
{
    for (size_t k = 0; k < st->n_dense && !g->rc; k++)
        gather_entry(g, st->dense[k]);
}

static void gather_bucket(struct gather *g, const struct bucket *b)
{
    for (size_t k = 0; b && k < b->n_members && !g->rc; k++)
        gather_entry(g, b->members[k]);
}

static int index_number(const kr_store_t *s, const char *index, size_t *out)
{
    for (size_t i = 0; i < s->n_defs; i++) {
        if (strcmp(s->defs[i].name, index) == 0) {
            *out = i;
            return 0;
        }
    }
    return KR_ENOTFOUND;
}

/* The lister behind every read of several objects: from the whole store
 * (index NULL) or one index bucket, filtered by `sel`. */
static int list_filtered(const kr_store_t *store, const char *index, const char *value,
                         const kr_selector_t *sel, json_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "the store's listers need an out pointer");
    *out = NULL;
    if (!store || (index && !value))
        return kr_error_set(err, KR_EINVAL, "the store's listers need a store and a value");
    kr_store_t *s = (kr_store_t *)store;
    struct gather g = {.arr = json_array(), .sel = sel, .rc = 0, .compact = s->compact};
    if (!g.arr)
        return kr_error_set(err, KR_ENOMEM, "out of memory listing the store");
    pthread_rwlock_rdlock(&s->lock);
    if (g.compact && s->cache.cap)
        pthread_mutex_lock(&s->cache.mu);
    const struct state *st = s->state;
    size_t number = 0;
    if (index && index_number(s, index, &number) != 0)
        g.rc = KR_ENOTFOUND;
    else if (index)
        gather_bucket(&g, kr_store_map_get(&st->indexes[number], value));
    else
        gather_state(&g, st);
    if (g.compact && s->cache.cap)
        pthread_mutex_unlock(&s->cache.mu);
    pthread_rwlock_unlock(&s->lock);
    gather_finish(s, &g);
    if (g.rc) {
        json_decref(g.arr);
        if (g.rc == KR_ENOTFOUND)
            return kr_error_set(err, g.rc, "the store has no index named \"%s\"", index);
        return kr_error_set(err, g.rc, "out of memory listing the store");
    }
    *out = g.arr;
    return 0;
}

int kr_store_snapshot_take(const kr_store_t *store, struct kr_store_snapshot *out)
{
    kr_store_t *s = (kr_store_t *)store;
    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&s->lock);
    const struct state *st = s->state;
    size_t n = st->n_dense;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    struct entry **entries = n ? kr_malloc(n * sizeof(*entries)) : NULL;
    if (entries)
        for (size_t k = 0; k < n; k++) {
            entries[k] = st->dense[k];
            kr_store_entry_ref(entries[k]);
        }
    pthread_rwlock_unlock(&s->lock);
    if (n && !entries)
        return KR_ENOMEM;
    out->entries = entries;
    out->n = n;
    return 0;
}

json_t *kr_store_snapshot_object(const kr_store_t *store, const struct kr_store_snapshot *snap,
                                 size_t i)
{
    return i < snap->n ? kr_store_entry_object((kr_store_t *)store, snap->entries[i], false) : NULL;
}

void kr_store_snapshot_release(struct kr_store_snapshot *snap)
{
    for (size_t k = 0; k < snap->n; k++)
        kr_store_entry_release(snap->entries[k]);
    kr_free(snap->entries);
    memset(snap, 0, sizeof(*snap));
}

int kr_store_list(const kr_store_t *store, json_t **out, kr_error_t *err)
{
    return list_filtered(store, NULL, NULL, NULL, out, err);
}

int kr_store_by_index(const kr_store_t *store, const char *index, const char *value, json_t **out,
                      kr_error_t *err)
{
    if (!index)
        return kr_error_set(err, KR_EINVAL, "kr_store_by_index: index is NULL");
    return list_filtered(store, index, value, NULL, out, err);
}

int kr_store_list_namespace(const kr_store_t *store, const char *ns, json_t **out, kr_error_t *err)
{
    return list_filtered(store, KR_STORE_NAMESPACE_INDEX, ns ? ns : "", NULL, out, err);
}

int kr_store_list_selector(const kr_store_t *store, const char *ns, const kr_selector_t *sel,
                           json_t **out, kr_error_t *err)
{
    return list_filtered(store, ns ? KR_STORE_NAMESPACE_INDEX : NULL, ns, sel, out, err);
}

int kr_store_list_index_selector(const kr_store_t *store, const char *index, const char *value,
                                 const kr_selector_t *sel, json_t **out, kr_error_t *err)
{
    if (!index)
        return kr_error_set(err, KR_EINVAL, "kr_store_list_index_selector: index is NULL");
    return list_filtered(store, index, value, sel, out, err);
}

/* Key and index-value strings are copied under the shared lock (they die
 * with their entry or bucket), into one JSON array. */
static int list_strings(const kr_store_t *store, const char *index, json_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "the store's listers need an out pointer");
    *out = NULL;
    kr_store_t *s = (kr_store_t *)store;
    json_t *arr = json_array();
    if (!arr)
        return kr_error_set(err, KR_ENOMEM, "out of memory listing the store");
    int rc = 0;
    pthread_rwlock_rdlock(&s->lock);
    size_t number = 0;
    const kr_keymap *m = &s->state->entries;
    if (index) {
        if (index_number(s, index, &number) != 0)
            rc = KR_ENOTFOUND;
        else
            m = &s->state->indexes[number];
    }
    void *v;
    for (size_t k = 0; !rc && (v = kr_keymap_next(m, &k));) {
        const char *key =
            index ? ((const struct bucket *)v)->value : ((const struct entry *)v)->key;
        if (json_array_append_new(arr, json_string(key)) != 0)
            rc = KR_ENOMEM;
    }
    pthread_rwlock_unlock(&s->lock);
    if (rc) {
        json_decref(arr);
        if (rc == KR_ENOTFOUND)
            return kr_error_set(err, rc, "the store has no index named \"%s\"", index);
        return kr_error_set(err, rc, "out of memory listing the store");
    }
    *out = arr;
    return 0;
}

int kr_store_list_keys(const kr_store_t *store, json_t **out, kr_error_t *err)
{
    return list_strings(store, NULL, out, err);
}

int kr_store_list_index_values(const kr_store_t *store, const char *index, json_t **out,
                               kr_error_t *err)
{
    if (!index)
        return kr_error_set(err, KR_EINVAL, "kr_store_list_index_values: index is NULL");
    return list_strings(store, index, out, err);
}

static void store_stats_fill(const kr_store_t *store, kr_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    kr_store_t *s = (kr_store_t *)store;
    pthread_rwlock_rdlock(&s->lock);
    const struct state *st = s->state;
    out->objects = st->entries.count;
    out->wire_bytes = st->wire_bytes;
    out->cached_json_bytes = st->cached_bytes;
    uint64_t overhead = sizeof(*st) + st->n_indexes * sizeof(*st->indexes) + st->entry_bytes +
                        kr_keymap_bytes(&st->entries) +
                        /* NOLINTNEXTLINE(bugprone-sizeof-expression): pointers */
                        st->cap_dense * sizeof(*st->dense);
    for (size_t i = 0; i < st->n_indexes; i++) {
        const kr_keymap *m = &st->indexes[i];
        overhead += kr_keymap_bytes(m);
        const struct bucket *b;
        for (size_t k = 0; (b = kr_keymap_next(m, &k));)
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): pointers */
            overhead += sizeof(*b) + strlen(b->value) + 1 + b->cap_members * sizeof(*b->members);
    }
    out->overhead_bytes = overhead;
    out->received_bytes_total = s->received_total;
    out->writes = s->writes;
    pthread_rwlock_unlock(&s->lock);
}

void kr_store_get_stats(const kr_store_t *store, kr_store_stats *out, size_t out_size)
{
    kr_store_stats all;
    memset(&all, 0, sizeof(all));
    store_stats_fill(store, &all);
    kr_copy_sized(out, out_size, &all, sizeof(all));
}
