/* libkreconcile — the informer's store: key -> immutable object, secondary
 * indexes (namespace built in, user index functions with several values),
 * listers, transforms before caching and memory accounting. The store
 * never hands out a pointer it does not own a reference for, and never
 * lets a reader see a half-applied write.
 *
 * Concurrency, and why it is built this way:
 * - One pthread rwlock guards the tables. Readers (get, list, listers) hold
 *   it shared only while they look up and json_incref what they return;
 *   matching selectors under it is read-only work on immutable objects.
 * - Writers are serialised by a mutex and do every expensive step outside
 *   the rwlock: transforms, key computation, JSON size measurement, index
 *   functions, entry allocation. Under the exclusive lock a write only
 *   links prepared entries into hash tables (a few pointer moves, or an
 *   allocation when a table grows), so readers wait microseconds.
 * - A relist (replace) and a new index build a complete new table set
 *   without any lock (the writer mutex keeps the current one stable) and
 *   publish it by swapping one pointer under the exclusive lock: readers
 *   see all of the old content or all of the new.
 * - The lock prefers writers (glibc's PREFER_WRITER_NONRECURSIVE) so that
 *   a stream of list() calls from workers cannot starve the loop thread.
 * Copy-on-write snapshots would make list() O(1) but every write O(n) on
 * 100,000 objects; a list here costs one pointer copy and one atomic
 * increment per object, which the benchmark measures. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/store.h"
#include "store_internal.h"

/* What a writer computes before taking the lock. */
struct prepared {
    struct entry *entry;
    json_t *tree; /* compact: the object as cached, until the write ends */
    kr_store_index_values *values; /* one per index definition */
    size_t n_values;
};

/* A relist being built: a state nobody reads yet. */
struct kr_store_batch {
    kr_store_t *store;
    struct state *st;
    uint64_t received;
};

/* ---- index values ---------------------------------------------------------- */

int kr_store_index_values_add(kr_store_index_values *out, const char *value)
{
    if (!out || !value)
        return KR_EINVAL;
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->v[i], value) == 0)
            return 0;
    if (kr_array_grow(&out->v, &out->cap, out->n, sizeof(*out->v), 2) != 0)
        return KR_ENOMEM;
    char *copy = kr_strdup(value);
    if (!copy)
        return KR_ENOMEM;
    out->v[out->n++] = copy;
    return 0;
}

static void index_values_clear(kr_store_index_values *vals)
{
    for (size_t i = 0; i < vals->n; i++)
        kr_free(vals->v[i]);
    kr_free(vals->v);
    memset(vals, 0, sizeof(*vals));
}

/* ---- keys ------------------------------------------------------------------- */

int kr_store_key_of(const json_t *obj, char **key, kr_error_t *err)
{
    if (!key)
        return kr_error_set(err, KR_EINVAL, "kr_store_key_of: key is NULL");
    *key = NULL;
    const json_t *meta = json_object_get(obj, "metadata");
    const json_t *name = json_object_get(meta, "name");
    const json_t *ns = json_object_get(meta, "namespace");
    if (!json_is_string(name) || json_string_length(name) == 0)
        return kr_error_set(err, KR_EINVAL, "object has no metadata.name: cannot compute its key");
    if (ns && !json_is_string(ns))
        return kr_error_set(err, KR_EINVAL, "object %s: metadata.namespace is not a string",
                            json_string_value(name));
    if (ns && json_string_length(ns) > 0)
        *key = kr_asprintf("%s/%s", json_string_value(ns), json_string_value(name));
    else
        *key = kr_strdup(json_string_value(name));
    if (!*key)
        return kr_error_set(err, KR_ENOMEM, "out of memory computing the key of %s",
                            json_string_value(name));
    return 0;
}

/* ---- states ----------------------------------------------------------------- */

static void bucket_free(struct bucket *b)
{
    kr_free(b->value);
    kr_free(b->members);
    kr_free(b);
}

static struct state *state_new(size_t n_indexes)
{
    struct state *st = kr_calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->indexes = kr_calloc(n_indexes, sizeof(*st->indexes));
    if (!st->indexes) {
        kr_free(st);
        return NULL;
    }
    st->n_indexes = n_indexes;
    return st;
}

/* Free a state that no reader can reach any more, and its entries. */
static void state_free(struct state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_indexes; i++) {
        kr_keymap *m = &st->indexes[i];
        struct bucket *b;
        for (size_t k = 0; (b = kr_keymap_next(m, &k));)
            bucket_free(b);
        kr_keymap_free(m);
    }
    for (size_t k = 0; k < st->n_dense; k++)
        kr_store_entry_release(st->dense[k]);
    kr_free(st->dense);
    kr_keymap_free(&st->entries);
    kr_free(st->indexes);
    kr_free(st);
}

/* Remove an empty bucket from its index and free it. */
static void bucket_drop(struct state *st, struct bucket *b)
{
    kr_store_map_remove(&st->indexes[b->index], b->value);
    bucket_free(b);
}

/* Take `e` out of its k-th bucket, dropping the bucket when it empties.
 * Never fails, so it is also the rollback path. */
static void bucket_leave(struct state *st, struct entry *e, size_t k)
{
    struct bucket *b = e->buckets[k];
    uint32_t at = kr_store_member_at(e)[k];
    struct entry *last = b->members[--b->n_members];
    if (last != e) {
        /* the last member fills the hole; its own position for b changes */
        b->members[at] = last;
        for (size_t j = 0; j < last->n_buckets; j++)
            if (last->buckets[j] == b) {
                kr_store_member_at(last)[j] = at;
                break;
            }
    }
    if (b->n_members == 0) {
        bucket_drop(st, b);
        return;
    }
    if (b->cap_members >= 16 && b->n_members <= b->cap_members / 4) {
        /* a bucket that emptied gives half its array back (or keeps it) */
        size_t cap = b->cap_members / 2;
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        struct entry **smaller = kr_realloc(b->members, cap * sizeof(*smaller));
        if (smaller) {
            b->members = smaller;
            b->cap_members = cap;
        }
    }
}

static void entry_unlink_buckets(struct state *st, struct entry *e, size_t n)
{
    for (size_t k = 0; k < n; k++)
        bucket_leave(st, e, k);
}

/* Put e into the bucket of (index, value) as its k-th bucket, creating the
 * bucket; *value is moved into a new bucket. 0 or KR_ENOMEM with nothing
 * changed. */
static int bucket_join(struct state *st, size_t index, char **value, struct entry *e, size_t k)
{
    kr_keymap *m = &st->indexes[index];
    struct bucket *b = kr_store_map_get(m, *value);
    if (!b) {
        b = kr_calloc(1, sizeof(*b));
        if (!b)
            return KR_ENOMEM;
        b->value = *value;
        b->index = index;
        if (kr_store_map_put(m, b->value, b, NULL) != 0) {
            kr_free(b);
            return KR_ENOMEM;
        }
        *value = NULL;
    }
    if (b->n_members == b->cap_members) {
        /* growth by half: the array stays at least 2/3 full */
        size_t cap = b->cap_members < 2 ? 2 : b->cap_members + b->cap_members / 2;
        struct entry **grown = NULL;
        if (b->n_members < UINT32_MAX)
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
            grown = kr_realloc(b->members, cap * sizeof(*grown));
        if (!grown) {
            if (b->n_members == 0)
                bucket_drop(st, b);
            return KR_ENOMEM;
        }
        b->members = grown;
        b->cap_members = cap;
    }
    e->buckets[k] = b;
    kr_store_member_at(e)[k] = (uint32_t)b->n_members;
    b->members[b->n_members++] = e;
    return 0;
}

static int dense_reserve(struct state *st, size_t count)
{
    if (count <= st->cap_dense)
        return 0;
    size_t cap = st->cap_dense ? st->cap_dense * 2 : 16;
    while (cap < count)
        cap *= 2;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    struct entry **grown = kr_realloc(st->dense, cap * sizeof(*grown));
    if (!grown)
        return KR_ENOMEM;
    st->dense = grown;
    st->cap_dense = cap;
    return 0;
}

/* Link a prepared entry into `st`, replacing any entry with its key.
 * *old gets the replaced entry (unlinked; the caller frees it once no
 * reader can reach it) or NULL. On failure `st` is unchanged. */
static int state_link(struct state *st, struct prepared *p, struct entry **old)
{
    struct entry *e = p->entry;
    *old = NULL;
    if (!e)
        return KR_EINVAL;
    if (kr_keymap_reserve(&st->entries, st->entries.count + 1) != 0 ||
        dense_reserve(st, st->n_dense + 1) != 0)
        return KR_ENOMEM;
    size_t linked = 0;
    for (size_t i = 0; i < p->n_values; i++) {
        for (size_t k = 0; k < p->values[i].n; k++) {
            if (bucket_join(st, i, &p->values[i].v[k], e, linked) != 0) {
                entry_unlink_buckets(st, e, linked);
                return KR_ENOMEM;
            }
            linked++;
        }
    }
    void *replaced = NULL;
    kr_store_map_put(&st->entries, e->key, e, &replaced); /* reserved: cannot fail */
    if (replaced)
        e->dense_at = ((struct entry *)replaced)->dense_at;
    else
        e->dense_at = st->n_dense++;
    st->dense[e->dense_at] = e;
    st->wire_bytes += e->wire_bytes;
    st->cached_bytes += e->cached_bytes;
    st->entry_bytes += e->alloc_bytes;
    if (replaced) {
        struct entry *o = replaced;
        entry_unlink_buckets(st, o, o->n_buckets);
        st->wire_bytes -= o->wire_bytes;
        st->cached_bytes -= o->cached_bytes;
        st->entry_bytes -= o->alloc_bytes;
        *old = o;
    }
    return 0;
}

static struct entry *state_unlink_key(struct state *st, const char *key)
{
    struct entry *e = kr_store_map_remove(&st->entries, key);
    if (!e)
        return NULL;
    struct entry *last = st->dense[--st->n_dense];
    st->dense[e->dense_at] = last;
    last->dense_at = e->dense_at;
    entry_unlink_buckets(st, e, e->n_buckets);
    st->wire_bytes -= e->wire_bytes;
    st->cached_bytes -= e->cached_bytes;
    st->entry_bytes -= e->alloc_bytes;
    return e;
}

/* ---- preparing writes ---------------------------------------------------------- */

static void prepared_clear(struct prepared *p)
{
    kr_store_entry_release(p->entry);
    json_decref(p->tree);
    for (size_t i = 0; p->values && i < p->n_values; i++)
        index_values_clear(&p->values[i]);
    kr_free(p->values);
    memset(p, 0, sizeof(*p));
}

static int index_values_of(const struct index_def *defs, size_t n_defs, const json_t *obj,
                           const char *key, struct prepared *p, size_t *total, kr_error_t *err)
{
    p->values = kr_calloc(n_defs, sizeof(*p->values));
    if (!p->values)
        return kr_error_set(err, KR_ENOMEM, "out of memory indexing %s", key);
    p->n_values = n_defs;
    *total = 0;
    for (size_t i = 0; i < n_defs; i++) {
        int rc;
        if (defs[i].fn) {
            rc = defs[i].fn(obj, &p->values[i], defs[i].user);
            if (rc)
                return kr_error_set(err, rc, "index \"%s\" failed on %s: %s", defs[i].name, key,
                                    kr_strerror(rc));
        } else {
            const char *ns =
                json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
            rc = kr_store_index_values_add(&p->values[i], ns ? ns : "");
            if (rc)
                return kr_error_set(err, rc, "out of memory indexing %s", key);
        }
        *total += p->values[i].n;
    }
    return 0;
}

/* Build an entry for `obj` (stolen) with its index values, for the index
 * definitions `defs`; or, when `from` is given (re-indexing an entry
 * already cached; obj NULL), for the object of `from`, reusing its bytes.
 * Runs without the rwlock, with the writer mutex held. */
static int prepare(kr_store_t *s, const struct index_def *defs, size_t n_defs, json_t *obj,
                   const struct entry *from, size_t wire_bytes, struct prepared *p, kr_error_t *err)
{
    memset(p, 0, sizeof(*p));
    if (from) {
        obj = kr_store_entry_object(s, (struct entry *)from, false);
        if (!obj)
            return kr_error_set(err, KR_ENOMEM, "out of memory re-indexing %s", from->key);
        wire_bytes = from->wire_bytes;
    }
    char *key = NULL;
    int rc = kr_store_key_of(obj, &key, err);
    if (rc || !key) {
        json_decref(obj);
        return rc ? rc : KR_EINVAL;
    }
    size_t total = 0;
    rc = index_values_of(defs, n_defs, obj, key, p, &total, err);
    if (rc)
        goto fail;
    if (total > UINT32_MAX) {
        rc = kr_error_set(err, KR_EINVAL, "%s has more than 2^32 index values", key);
        goto fail;
    }
    size_t cached_bytes = 0, json_len = 0;
    if (from) {
        cached_bytes = from->cached_bytes;
        json_len = from->json_len;
    } else if (s->compact) {
        /* printed once, then copied into the entry's one allocation */
        kr_buf_reset(&s->scratch);
        if ((rc = kr_json_print(obj, &s->scratch)) != 0) {
            rc = kr_error_set(err, rc, "out of memory caching %s", key);
            goto fail;
        }
        json_len = cached_bytes = s->scratch.len;
    } else {
        cached_bytes = kr_json_size(obj);
    }
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    size_t key_len = strlen(key), rv_len = rv ? strlen(rv) : 0;
    size_t own = sizeof(struct entry) + total * (sizeof(struct bucket *) + sizeof(uint32_t)) +
                 key_len + 1 + (rv ? rv_len + 1 : 0);
    size_t bytes = own + (s->compact ? json_len + 1 : 0);
    struct entry *e = kr_malloc(bytes);
    if (!e) {
        rc = kr_error_set(err, KR_ENOMEM, "out of memory caching %s", key);
        goto fail;
    }
    memset(e, 0, sizeof(*e));
    e->refs = 1;
    e->wire_bytes = wire_bytes;
    e->cached_bytes = cached_bytes;
    e->alloc_bytes = own;
    e->n_buckets = (uint32_t)total;
    memset(e->buckets, 0, total * (sizeof(struct bucket *) + sizeof(uint32_t)));
    char *at = (char *)(kr_store_member_at(e) + total);
    e->key = at;
    memcpy(at, key, key_len + 1);
    at += key_len + 1;
    if (rv) {
        e->rv = at;
        memcpy(at, rv, rv_len + 1);
        at += rv_len + 1;
    }
    if (s->compact) {
        memcpy(at, from ? from->json : s->scratch.data, json_len);
        at[json_len] = '\0';
        e->json = at;
        e->json_len = json_len;
        p->tree = obj;
    } else {
        e->obj = obj;
    }
    obj = NULL;
    p->entry = e;
    kr_free(key);
    return 0;
fail:
    kr_free(key);
    json_decref(obj);
    prepared_clear(p);
    return rc;
}

/* ---- life ---------------------------------------------------------------------- */

static int init_index_defs(kr_store_t *s, kr_error_t *err)
{
    struct index_def *defs = kr_calloc(1, sizeof(*defs));
    if (!defs)
        return kr_error_set(err, KR_ENOMEM, "out of memory creating a store");
    s->defs = defs;
    defs[0].name = kr_strdup(KR_STORE_NAMESPACE_INDEX);
    if (!defs[0].name)
        return kr_error_set(err, KR_ENOMEM, "out of memory creating a store");
    s->n_defs = 1;
    return 0;
}

int kr_store_new(const kr_store_opts *opts, kr_store_t **out, kr_error_t *err)
{
    static const kr_store_opts defaults = {0};
    if (!out)
        return kr_error_set(err, KR_EINVAL, "kr_store_new: out is NULL");
    *out = NULL;
    if (opts && opts->version > KR_STORE_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "store: options version %u is newer than %u",
                            opts->version, (unsigned)KR_STORE_OPTS_VERSION);
    if (!opts)
        opts = &defaults;
    kr_store_t *s = kr_calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ENOMEM, "out of memory creating a store");
    s->keep_managed_fields = opts->keep_managed_fields;
    s->transform = opts->transform;
    s->transform_user = opts->transform_user;
    s->compact = opts->representation != KR_STORE_TREES; /* compact by default */
    if (opts->representation > KR_STORE_TREES) {
        kr_free(s);
        return kr_error_set(err, KR_EINVAL, "kr_store_new: unknown representation %d",
                            (int)opts->representation);
    }
    int rc = kr_store_keep_fields_parse(s, opts, err);
    if (!rc)
        rc = init_index_defs(s, err);
    if (!rc && kr_store_cache_init(s, s->compact ? opts->tree_cache : -1) != 0)
        rc = kr_error_set(err, KR_ENOMEM, "out of memory creating a store");
    if (!rc) {
        s->state = state_new(1);
        if (!s->state)
            rc = kr_error_set(err, KR_ENOMEM, "out of memory creating a store");
    }
    if (rc) {
        kr_store_free(s);
        return rc;
    }
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&s->write_mutex, NULL);
    *out = s;
    return 0;
}

void kr_store_free(kr_store_t *store)
{
    if (!store)
        return;
    /* kr_store_new() initialises the locks once everything else exists,
     * so a store without a state never had them. */
    bool locks = store->state != NULL;
    state_free(store->state);
    if (store->cache.ready)
        kr_store_cache_free(store);
    kr_buf_free(&store->scratch);
    for (size_t i = 0; i < store->n_defs; i++)
        kr_free(store->defs[i].name);
    kr_free(store->defs);
    kr_store_keep_fields_free(store);
    kr_free(store->rv);
    if (locks) {
        pthread_rwlock_destroy(&store->lock);
        pthread_mutex_destroy(&store->write_mutex);
    }
    kr_free(store);
}

/* ---- writes -------------------------------------------------------------------- */

/* Replace the recorded resource version with obj's, if it has one. Called
 * with the exclusive lock held; `rv` was copied before taking it. */
static void set_rv_locked(kr_store_t *store, char **rv)
{
    if (!*rv)
        return;
    kr_free(store->rv);
    store->rv = *rv;
    *rv = NULL;
}

static int upsert(kr_store_t *store, json_t *obj, size_t wire_bytes, json_t **old_out,
                  json_t **cached_out, bool remember, kr_error_t *err)
{
    if (old_out)
        *old_out = NULL;
    if (cached_out)
        *cached_out = NULL;
    if (!store || !obj) {
        json_decref(obj);
        return kr_error_set(err, KR_EINVAL, "kr_store_add: store or object is NULL");
    }
    pthread_mutex_lock(&store->write_mutex);
    json_t *cached = NULL;
    struct prepared p;
    int rc = kr_store_transform(store, obj, &cached, err);
    if (rc) {
        pthread_mutex_unlock(&store->write_mutex);
        return rc;
    }
    const char *rv_text =
        json_string_value(json_object_get(json_object_get(cached, "metadata"), "resourceVersion"));
    char *rv = rv_text ? kr_strdup(rv_text) : NULL;
    if (rv_text && !rv) {
        json_decref(cached);
        pthread_mutex_unlock(&store->write_mutex);
        return kr_error_set(err, KR_ENOMEM, "out of memory caching an object");
    }
    rc = prepare(store, store->defs, store->n_defs, cached, NULL, wire_bytes, &p, err);
    if (rc) {
        kr_free(rv);
        pthread_mutex_unlock(&store->write_mutex);
        return rc;
    }
    /* The old object is read before the write (the writer mutex keeps the
     * state stable): a compact one is parsed, which may fail. */
    json_t *old_obj = NULL;
    if (old_out) {
        struct entry *cur = kr_store_map_get(&store->state->entries, p.entry->key);
        if (cur && !(old_obj = kr_store_entry_object(store, cur, false)))
            rc = kr_error_set(err, KR_ENOMEM, "out of memory reading %s", p.entry->key);
    }
    struct entry *old = NULL;
    if (rc == 0) {
        pthread_rwlock_wrlock(&store->lock);
        rc = state_link(store->state, &p, &old);
        if (rc == 0) {
            set_rv_locked(store, &rv);
            store->received_total += wire_bytes;
            store->writes++;
        } else {
            rc = kr_error_set(err, rc, "out of memory caching %s", p.entry->key);
        }
        pthread_rwlock_unlock(&store->lock);
    }
    if (rc == 0) {
        json_t *tree = p.entry->obj ? p.entry->obj : p.tree;
        /* what an event just delivered is what a worker reads next */
        if (!p.entry->obj && remember)
            kr_store_cache_remember(store, p.entry, tree);
        if (cached_out)
            *cached_out = json_incref(tree);
        if (old_out)
            *old_out = old_obj;
        old_obj = NULL;
        p.entry = NULL; /* now owned by the state */
    }
    json_decref(old_obj);
    kr_store_entry_release(old);
    prepared_clear(&p);
    kr_free(rv);
    pthread_mutex_unlock(&store->write_mutex);
    return rc;
}

int kr_store_add(kr_store_t *store, json_t *obj, size_t wire_bytes, json_t **old_out,
                 json_t **cached_out, kr_error_t *err)
{
    return upsert(store, obj, wire_bytes, old_out, cached_out, true, err);
}

int kr_store_add_listed(kr_store_t *store, json_t *obj, json_t **old_out, json_t **cached_out,
                        kr_error_t *err)
{
    return upsert(store, obj, 0, old_out, cached_out, false, err);
}

static int delete_locked_key(kr_store_t *store, const char *key, char **rv, json_t **old_out,
                             kr_error_t *err)
{
    /* read (parse, when compact) the old object while the write can still
     * fail without changing anything */
    json_t *old_obj = NULL;
    struct entry *cur = old_out ? kr_store_map_get(&store->state->entries, key) : NULL;
    if (cur && !(old_obj = kr_store_entry_object(store, cur, false)))
        return kr_error_set(err, KR_ENOMEM, "out of memory reading %s", key);
    pthread_rwlock_wrlock(&store->lock);
    struct entry *e = state_unlink_key(store->state, key);
    set_rv_locked(store, rv);
    if (e)
        store->writes++;
    pthread_rwlock_unlock(&store->lock);
    if (!e)
        return kr_error_set(err, KR_ENOTFOUND, "%s is not in the store", key);
    if (old_out)
        *old_out = old_obj;
    kr_store_entry_release(e);
    return 0;
}

int kr_store_delete(kr_store_t *store, const json_t *obj, json_t **old_out, kr_error_t *err)
{
    if (old_out)
        *old_out = NULL;
    if (!store)
        return kr_error_set(err, KR_EINVAL, "kr_store_delete: store is NULL");
    char *key = NULL;
    int rc = kr_store_key_of(obj, &key, err);
    if (rc)
        return rc;
    const char *rv_text =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    char *rv = rv_text ? kr_strdup(rv_text) : NULL;
    if (rv_text && !rv) {
        kr_free(key);
        return kr_error_set(err, KR_ENOMEM, "out of memory deleting an object");
    }
    pthread_mutex_lock(&store->write_mutex);
    rc = delete_locked_key(store, key, &rv, old_out, err);
    pthread_mutex_unlock(&store->write_mutex);
    kr_free(rv);
    kr_free(key);
    return rc;
}

int kr_store_delete_key(kr_store_t *store, const char *key, json_t **old_out, kr_error_t *err)
{
    if (old_out)
        *old_out = NULL;
    if (!store || !key)
        return kr_error_set(err, KR_EINVAL, "kr_store_delete_key: store or key is NULL");
    char *no_rv = NULL;
    pthread_mutex_lock(&store->write_mutex);
    int rc = delete_locked_key(store, key, &no_rv, old_out, err);
    pthread_mutex_unlock(&store->write_mutex);
    return rc;
}

/* Objects of `old` whose keys `fresh` lacks: a new JSON array of new refs.
 * Both states are stable: the caller holds the writer mutex. */
static int removed_between(kr_store_t *s, const struct state *old, const struct state *fresh,
                           json_t **out)
{
    json_t *removed = json_array();
    if (!removed)
        return KR_ENOMEM;
    for (size_t k = 0; k < old->n_dense; k++) {
        struct entry *e = old->dense[k];
        if (kr_store_map_get(&fresh->entries, e->key))
            continue;
        if (json_array_append_new(removed, kr_store_entry_object(s, e, false)) != 0) {
            json_decref(removed);
            return KR_ENOMEM;
        }
    }
    *out = removed;
    return 0;
}

/* A new state with the entries of `from`, indexed for `defs` (a new index,
 * or a batch begun before one was added). Writer mutex held. */
static int reindex_state(kr_store_t *store, const struct index_def *defs, size_t n_defs,
                         const struct state *from, struct state **out, kr_error_t *err)
{
    struct state *st = state_new(n_defs);
    if (!st)
        return kr_error_set(err, KR_ENOMEM, "out of memory rebuilding the store");
    int rc = kr_keymap_reserve(&st->entries, from->n_dense);
    if (!rc)
        rc = dense_reserve(st, from->n_dense);
    if (rc)
        rc = kr_error_set(err, rc, "out of memory rebuilding the store");
    for (size_t i = 0; !rc && i < from->n_dense; i++) {
        struct prepared p;
        rc = prepare(store, defs, n_defs, NULL, from->dense[i], 0, &p, err);
        if (rc)
            break;
        struct entry *dup = NULL;
        rc = state_link(st, &p, &dup);
        if (rc)
            rc = kr_error_set(err, rc, "out of memory rebuilding the store");
        else
            p.entry = NULL;
        prepared_clear(&p);
    }
    if (rc) {
        state_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

/* ---- relists: batches ----------------------------------------------------------- */

int kr_store_batch_new(kr_store_t *store, kr_store_batch_t **out, kr_error_t *err)
{
    if (!store || !out)
        return kr_error_set(err, KR_EINVAL, "kr_store_batch_new: store or out is NULL");
    *out = NULL;
    kr_store_batch_t *b = kr_calloc(1, sizeof(*b));
    if (!b)
        return kr_error_set(err, KR_ENOMEM, "out of memory beginning a relist");
    pthread_mutex_lock(&store->write_mutex);
    b->st = state_new(store->n_defs);
    pthread_mutex_unlock(&store->write_mutex);
    if (!b->st) {
        kr_free(b);
        return kr_error_set(err, KR_ENOMEM, "out of memory beginning a relist");
    }
    b->store = store;
    *out = b;
    return 0;
}

void kr_store_batch_free(kr_store_batch_t *batch)
{
    if (!batch)
        return;
    state_free(batch->st);
    kr_free(batch);
}

/* An index added since the batch was begun: index the batch for it too.
 * Writer mutex held. */
static int batch_sync_defs(kr_store_batch_t *b, kr_error_t *err)
{
    kr_store_t *s = b->store;
    if (b->st->n_indexes == s->n_defs)
        return 0;
    struct state *st = NULL;
    int rc = reindex_state(s, s->defs, s->n_defs, b->st, &st, err);
    if (rc)
        return rc;
    state_free(b->st);
    b->st = st;
    return 0;
}

int kr_store_batch_add(kr_store_batch_t *batch, json_t *obj, size_t wire_bytes, kr_error_t *err)
{
    if (!batch || !obj) {
        json_decref(obj);
        return kr_error_set(err, KR_EINVAL, "kr_store_batch_add: batch or object is NULL");
    }
    kr_store_t *s = batch->store;
    pthread_mutex_lock(&s->write_mutex);
    json_t *cached = NULL;
    struct prepared p;
    int rc = batch_sync_defs(batch, err);
    if (rc) {
        json_decref(obj);
        goto out;
    }
    rc = kr_store_transform(s, obj, &cached, err);
    if (!rc)
        rc = prepare(s, s->defs, s->n_defs, cached, NULL, wire_bytes, &p, err);
    if (rc)
        goto out;
    struct entry *dup = NULL;
    rc = state_link(batch->st, &p, &dup);
    if (rc) {
        rc = kr_error_set(err, rc, "out of memory caching %s", p.entry->key);
    } else {
        p.entry = NULL;
        batch->received += wire_bytes;
    }
    kr_store_entry_release(dup); /* the same key twice in a list: the last one wins */
    prepared_clear(&p);
out:
    pthread_mutex_unlock(&s->write_mutex);
    return rc;
}

void kr_store_batch_remove(kr_store_batch_t *batch, const char *key)
{
    if (!batch || !key)
        return;
    kr_store_entry_release(state_unlink_key(batch->st, key));
}

size_t kr_store_batch_len(const kr_store_batch_t *batch)
{
    return batch ? batch->st->n_dense : 0;
}

int kr_store_batch_entry(const kr_store_batch_t *batch, size_t i, const char **key,
                         const char **resource_version)
{
    if (!batch || i >= batch->st->n_dense)
        return KR_EINVAL;
    const struct entry *e = batch->st->dense[i];
    if (key)
        *key = e->key;
    if (resource_version)
        *resource_version = e->rv;
    return 0;
}

int kr_store_replace_batch(kr_store_t *store, kr_store_batch_t *batch, const char *resource_version,
                           json_t **removed_out, kr_error_t *err)
{
    if (removed_out)
        *removed_out = NULL;
    if (!store || !batch || batch->store != store) {
        kr_store_batch_free(batch);
        return kr_error_set(err, KR_EINVAL, "kr_store_replace_batch: not a batch of this store");
    }
    char *rv = resource_version ? kr_strdup(resource_version) : NULL;
    if (resource_version && !rv) {
        kr_store_batch_free(batch);
        return kr_error_set(err, KR_ENOMEM, "out of memory replacing the store");
    }
    pthread_mutex_lock(&store->write_mutex);
    json_t *removed = NULL;
    int rc = batch_sync_defs(batch, err);
    if (!rc && removed_out) {
        rc = removed_between(store, store->state, batch->st, &removed);
        if (rc)
            rc = kr_error_set(err, rc, "out of memory replacing the store");
    }
    struct state *old = NULL;
    if (!rc) {
        pthread_rwlock_wrlock(&store->lock);
        old = store->state;
        store->state = batch->st;
        batch->st = NULL;
        set_rv_locked(store, &rv);
        store->received_total += batch->received;
        store->writes++;
        pthread_rwlock_unlock(&store->lock);
    }
    state_free(old);
    pthread_mutex_unlock(&store->write_mutex);
    kr_store_batch_free(batch);
    kr_free(rv);
    if (removed_out)
        *removed_out = removed;
    return rc;
}

int kr_store_replace(kr_store_t *store, json_t *items, const size_t *wire_bytes,
                     const char *resource_version, json_t **removed_out, kr_error_t *err)
{
    if (removed_out)
        *removed_out = NULL;
    if (!store || !json_is_array(items)) {
        json_decref(items);
        return kr_error_set(err, KR_EINVAL, "kr_store_replace: items must be a JSON array");
    }
    kr_store_batch_t *batch = NULL;
    int rc = kr_store_batch_new(store, &batch, err);
    for (size_t i = 0; !rc && i < json_array_size(items); i++)
        rc = kr_store_batch_add(batch, json_incref(json_array_get(items, i)),
                                wire_bytes ? wire_bytes[i] : 0, err);
    json_decref(items);
    if (rc) {
        kr_store_batch_free(batch);
        return rc;
    }
    return kr_store_replace_batch(store, batch, resource_version, removed_out, err);
}

int kr_store_add_indexer(kr_store_t *store, const char *name, kr_store_index_cb fn, void *user,
                         kr_error_t *err)
{
    if (!store || !name || !fn)
        return kr_error_set(err, KR_EINVAL,
                            "kr_store_add_indexer: store, name and fn are required");
    pthread_mutex_lock(&store->write_mutex);
    int rc = 0;
    for (size_t i = 0; i < store->n_defs && !rc; i++)
        if (strcmp(store->defs[i].name, name) == 0)
            rc = kr_error_set(err, KR_EEXIST, "the store already has an index named \"%s\"", name);
    struct index_def *defs = NULL;
    struct state *fresh = NULL;
    if (!rc) {
        defs = kr_calloc(store->n_defs + 1, sizeof(*defs));
        char *copy = kr_strdup(name);
        if (!defs || !copy) {
            kr_free(copy);
            rc = kr_error_set(err, KR_ENOMEM, "out of memory adding index \"%s\"", name);
        } else {
            memcpy(defs, store->defs, store->n_defs * sizeof(*defs));
            defs[store->n_defs].name = copy;
            defs[store->n_defs].fn = fn;
            defs[store->n_defs].user = user;
        }
    }
    if (!rc)
        rc = reindex_state(store, defs, store->n_defs + 1, store->state, &fresh, err);
    struct state *old = NULL;
    if (!rc) {
        struct index_def *old_defs = store->defs;
        pthread_rwlock_wrlock(&store->lock);
        old = store->state;
        store->state = fresh;
        store->defs = defs;
        store->n_defs++;
        pthread_rwlock_unlock(&store->lock);
        kr_free(old_defs);
    } else if (defs) {
        kr_free(defs[store->n_defs].name);
        kr_free(defs);
    }
    state_free(old);
    pthread_mutex_unlock(&store->write_mutex);
    return rc;
}

int kr_store_set_resource_version(kr_store_t *store, const char *resource_version, kr_error_t *err)
{
    if (!store || !resource_version)
        return kr_error_set(err, KR_EINVAL, "kr_store_set_resource_version: NULL argument");
    char *rv = kr_strdup(resource_version);
    if (!rv)
        return kr_error_set(err, KR_ENOMEM, "out of memory recording a resource version");
    pthread_rwlock_wrlock(&store->lock);
    set_rv_locked(store, &rv);
    pthread_rwlock_unlock(&store->lock);
    return 0;
}
