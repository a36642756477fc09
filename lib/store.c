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

struct kr_store_index_values {
    char **v;
    size_t n, cap;
};

struct index_def {
    char *name;
    kr_store_index_fn fn; /* NULL: the built-in namespace index */
    void *user;
};

/* One value of one index: the set of entries that have it. A bucket
 * exists only while it has members. */
struct bucket {
    char *value;
    size_t index;
    kr_ptrset members; /* struct entry * */
};

/* One cached object. Allocated once with its bucket list and key. */
struct entry {
    json_t *obj;
    size_t wire_bytes;
    size_t cached_bytes;
    size_t alloc_bytes;
    size_t dense_at; /* position in state.dense */
    char *key;
    size_t n_buckets;
    struct bucket *buckets[];
};

/* Everything a reader can see; replaced whole by replace/add_indexer. */
struct state {
    kr_strmap entries; /* key -> struct entry * */
    /* Every entry once, packed: whole-store reads walk this array in
     * insertion order instead of the sparse hash table. */
    struct entry **dense;
    size_t n_dense, cap_dense;
    size_t n_indexes;
    kr_strmap *indexes; /* per index: value -> struct bucket * */
    uint64_t wire_bytes;
    uint64_t cached_bytes;
    uint64_t entry_bytes;
};

/* A keep_fields path, split into unescaped tokens. */
struct field_path {
    size_t n;
    char **tokens;
};

struct kr_store {
    pthread_rwlock_t lock; /* guards state, defs, rv, counters */
    pthread_mutex_t write_mutex; /* one writer at a time */
    struct state *state;
    size_t n_defs;
    struct index_def *defs;
    char *rv;
    uint64_t received_total;
    uint64_t writes;
    bool keep_managed_fields;
    size_t n_keep;
    struct field_path *keep;
    kr_store_transform_fn transform;
    void *transform_user;
};

/* What a writer computes before taking the lock. */
struct prepared {
    struct entry *entry;
    kr_store_index_values *values; /* one per index definition */
    size_t n_values;
};

static const char *const always_kept[] = {
    "/apiVersion",
    "/kind",
    "/metadata/name",
    "/metadata/namespace",
    "/metadata/uid",
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/labels",
    "/metadata/deletionTimestamp",
};

/* ---- index values ---------------------------------------------------------- */

int kr_store_index_values_add(kr_store_index_values *out, const char *value)
{
    if (!out || !value)
        return KR_EINVAL;
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->v[i], value) == 0)
            return 0;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 2;
        char **grown = kr_realloc(out->v, cap * sizeof(*grown));
        if (!grown)
            return KR_ENOMEM;
        out->v = grown;
        out->cap = cap;
    }
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
    kr_ptrset_free(&b->members);
    kr_free(b);
}

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    json_decref(e->obj);
    kr_free(e);
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
        kr_strmap *m = &st->indexes[i];
        for (size_t k = 0; k < m->cap; k++)
            if (m->slots[k].key)
                bucket_free(m->slots[k].value);
        kr_strmap_free(m);
    }
    for (size_t k = 0; k < st->n_dense; k++)
        entry_free(st->dense[k]);
    kr_free(st->dense);
    kr_strmap_free(&st->entries);
    kr_free(st->indexes);
    kr_free(st);
}

/* Take `e` out of bucket `b`, dropping the bucket when it empties. Never
 * allocates, so it is also the rollback path. */
static void bucket_leave(struct state *st, struct bucket *b, struct entry *e)
{
    kr_ptrset_remove(&b->members, e);
    if (b->members.count > 0)
        return;
    kr_strmap_remove(&st->indexes[b->index], b->value);
    bucket_free(b);
}

static void entry_unlink_buckets(struct state *st, struct entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bucket_leave(st, e->buckets[i], e);
}

/* Put e into the bucket of (index, value), creating the bucket; *value is
 * moved into a new bucket. 0 or KR_ENOMEM with nothing changed. */
static int bucket_join(struct state *st, size_t index, char **value, struct entry *e,
                       struct bucket **out)
{
    kr_strmap *m = &st->indexes[index];
    struct bucket *b = kr_strmap_get(m, *value);
    if (!b) {
        b = kr_calloc(1, sizeof(*b));
        if (!b)
            return KR_ENOMEM;
        b->value = *value;
        b->index = index;
        if (kr_strmap_put(m, b->value, b, NULL) != 0) {
            kr_free(b);
            return KR_ENOMEM;
        }
        *value = NULL;
    }
    if (kr_ptrset_add(&b->members, e) != 0) {
        if (b->members.count == 0)
            bucket_leave(st, b, e);
        return KR_ENOMEM;
    }
    *out = b;
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
    if (kr_strmap_reserve(&st->entries, st->entries.count + 1) != 0 ||
        dense_reserve(st, st->n_dense + 1) != 0)
        return KR_ENOMEM;
    size_t linked = 0;
    for (size_t i = 0; i < p->n_values; i++) {
        for (size_t k = 0; k < p->values[i].n; k++) {
            if (bucket_join(st, i, &p->values[i].v[k], e, &e->buckets[linked]) != 0) {
                entry_unlink_buckets(st, e, linked);
                return KR_ENOMEM;
            }
            linked++;
        }
    }
    void *replaced = NULL;
    kr_strmap_put(&st->entries, e->key, e, &replaced); /* reserved: cannot fail */
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
    struct entry *e = kr_strmap_remove(&st->entries, key);
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

/* ---- transforms --------------------------------------------------------------- */

static void path_clear(struct field_path *p)
{
    for (size_t i = 0; i < p->n; i++)
        kr_free(p->tokens[i]);
    kr_free(p->tokens);
    memset(p, 0, sizeof(*p));
}

/* "/a/b~1c" (JSON pointer) or "a.b" (dotted path) into tokens. */
static int path_parse(const char *text, struct field_path *out, kr_error_t *err)
{
    memset(out, 0, sizeof(*out));
    bool pointer = text[0] == '/';
    const char *s = pointer ? text + 1 : text;
    char sep = pointer ? '/' : '.';
    if (*s == '\0')
        return kr_error_set(err, KR_EINVAL, "keep_fields entry \"%s\" names no field", text);
    size_t n = 1;
    for (const char *c = s; *c; c++)
        n += *c == sep;
    out->tokens = kr_calloc(n, sizeof(*out->tokens));
    if (!out->tokens)
        return kr_error_set(err, KR_ENOMEM, "out of memory parsing keep_fields");
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(s, sep);
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char *tok = kr_malloc(len + 1);
        if (!tok) {
            path_clear(out);
            return kr_error_set(err, KR_ENOMEM, "out of memory parsing keep_fields");
        }
        out->tokens[out->n++] = tok;
        size_t w = 0;
        for (size_t r = 0; r < len; r++) {
            if (pointer && s[r] == '~') {
                if (r + 1 < len && (s[r + 1] == '0' || s[r + 1] == '1')) {
                    tok[w++] = s[r + 1] == '0' ? '~' : '/';
                    r++;
                    continue;
                }
                path_clear(out);
                return kr_error_set(err, KR_EINVAL,
                                    "keep_fields entry \"%s\": '~' must be followed by 0 or 1",
                                    text);
            }
            tok[w++] = s[r];
        }
        tok[w] = '\0';
        if (w == 0) {
            path_clear(out);
            return kr_error_set(err, KR_EINVAL, "keep_fields entry \"%s\" has an empty step", text);
        }
        s = end ? end + 1 : s + len;
    }
    return 0;
}

/* Copy the value at `path` in src into dst, sharing the subtree. A path
 * that meets an array keeps the whole array. */
static int keep_path(const json_t *src, json_t *dst, const struct field_path *path)
{
    const json_t *at = src;
    size_t depth = 0;
    while (depth < path->n && json_is_object(at)) {
        at = json_object_get(at, path->tokens[depth]);
        depth++;
        if (!at)
            return 0;
    }
    json_t *cur = dst;
    for (size_t i = 0; i + 1 < depth; i++) {
        json_t *child = json_object_get(cur, path->tokens[i]);
        if (child && !json_is_object(child))
            return 0;
        if (!child) {
            child = json_object();
            if (!child || json_object_set_new(cur, path->tokens[i], child) != 0)
                return KR_ENOMEM;
        }
        cur = child;
    }
    if (json_object_get(cur, path->tokens[depth - 1]))
        return 0;
    return json_object_set(cur, path->tokens[depth - 1], (json_t *)at) == 0 ? 0 : KR_ENOMEM;
}

static int keep_only(const kr_store_t *store, json_t *obj, json_t **out)
{
    json_t *kept = json_object();
    if (!kept)
        return KR_ENOMEM;
    for (size_t i = 0; i < store->n_keep; i++) {
        if (keep_path(obj, kept, &store->keep[i]) != 0) {
            json_decref(kept);
            return KR_ENOMEM;
        }
    }
    *out = kept;
    return 0;
}

/* The transform pipeline: drop managedFields, keep selected fields, user
 * transform. `obj` is stolen; *out is new. */
static int transform(const kr_store_t *store, json_t *obj, json_t **out, kr_error_t *err)
{
    if (!json_is_object(obj)) {
        json_decref(obj);
        return kr_error_set(err, KR_EINVAL, "the store caches JSON objects only");
    }
    json_t *meta = json_object_get(obj, "metadata");
    if (!store->keep_managed_fields && json_is_object(meta))
        json_object_del(meta, "managedFields");
    if (store->n_keep > 0) {
        json_t *kept = NULL;
        int rc = keep_only(store, obj, &kept);
        json_decref(obj);
        if (rc)
            return kr_error_set(err, rc, "out of memory selecting the fields to keep");
        obj = kept;
    }
    if (store->transform) {
        json_t *t = NULL;
        int rc = store->transform(obj, &t, store->transform_user);
        if (rc) {
            json_decref(t);
            return kr_error_set(err, rc, "the store's transform rejected an object: %s",
                                kr_strerror(rc));
        }
        if (!json_is_object(t)) {
            json_decref(t);
            return kr_error_set(err, KR_EINVAL, "the store's transform returned no object");
        }
        obj = t;
    }
    *out = obj;
    return 0;
}

/* ---- measuring ----------------------------------------------------------------- */

static size_t string_size(const char *s, size_t len)
{
    size_t n = 2;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            n += 2;
        else if (c < 0x20)
            n += 6; /* \u00XX */
        else
            n += 1;
    }
    return n;
}

/* A real as jansson prints it: "%.17g", ".0" added to integral values,
 * exponent without '+' or leading zeros. */
static size_t real_size(double value)
{
    char buf[64];
    int len = snprintf(buf, sizeof(buf), "%.17g", value);
    if (len < 0 || (size_t)len >= sizeof(buf))
        return 0;
    size_t n = (size_t)len;
    const char *e = strchr(buf, 'e');
    if (!strchr(buf, '.') && !e)
        n += 2;
    if (e) {
        const char *p = e + 1;
        if (*p == '+') {
            n--;
            p++;
        } else if (*p == '-') {
            p++;
        }
        while (*p == '0' && p[1] != '\0') {
            n--;
            p++;
        }
    }
    return n;
}

/* The length of json_dumpb(v, JSON_COMPACT), computed by walking the tree
 * instead of printing it: the same bytes, about five times faster (the
 * store measures every object it caches). Depth is bounded by the parser
 * that built the tree. */
static size_t compact_size(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = 2, i = 0;
        const char *key;
        const json_t *member;
        json_object_foreach((json_t *)v, key, member)
        {
            n += (i++ ? 1 : 0) + string_size(key, strlen(key)) + 1 + compact_size(member);
        }
        return n;
    }
    case JSON_ARRAY: {
        size_t n = 2, size = json_array_size(v);
        for (size_t i = 0; i < size; i++)
            n += (i ? 1 : 0) + compact_size(json_array_get(v, i));
        return n;
    }
    case JSON_STRING:
        return string_size(json_string_value(v), json_string_length(v));
    case JSON_INTEGER: {
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return len > 0 ? (size_t)len : 0;
    }
    case JSON_REAL:
        return real_size(json_real_value(v));
    case JSON_TRUE:
    case JSON_NULL:
        return 4;
    case JSON_FALSE:
        return 5;
    }
    return 0;
}

/* ---- preparing writes ---------------------------------------------------------- */

static void prepared_clear(struct prepared *p)
{
    entry_free(p->entry);
    for (size_t i = 0; p->values && i < p->n_values; i++)
        index_values_clear(&p->values[i]);
    kr_free(p->values);
    memset(p, 0, sizeof(*p));
}

/* Build an entry for `obj` (stolen) with its index values, for the index
 * definitions `defs`. `cached_bytes` is measured unless given (non-zero,
 * when re-indexing objects already measured). Runs without the lock. */
static int prepare(const struct index_def *defs, size_t n_defs, json_t *obj, size_t wire_bytes,
                   size_t cached_bytes, struct prepared *p, kr_error_t *err)
{
    memset(p, 0, sizeof(*p));
    char *key = NULL;
    int rc = kr_store_key_of(obj, &key, err);
    if (rc) {
        json_decref(obj);
        return rc;
    }
    if (cached_bytes == 0)
        cached_bytes = compact_size(obj);
    p->values = kr_calloc(n_defs, sizeof(*p->values));
    if (!p->values) {
        rc = kr_error_set(err, KR_ENOMEM, "out of memory indexing %s", key);
        goto fail;
    }
    p->n_values = n_defs;
    size_t total = 0;
    for (size_t i = 0; i < n_defs; i++) {
        if (defs[i].fn) {
            rc = defs[i].fn(obj, &p->values[i], defs[i].user);
            if (rc) {
                rc = kr_error_set(err, rc, "index \"%s\" failed on %s: %s", defs[i].name, key,
                                  kr_strerror(rc));
                goto fail;
            }
        } else {
            const char *ns =
                json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
            rc = kr_store_index_values_add(&p->values[i], ns ? ns : "");
            if (rc) {
                rc = kr_error_set(err, rc, "out of memory indexing %s", key);
                goto fail;
            }
        }
        total += p->values[i].n;
    }
    size_t key_len = strlen(key);
    size_t bytes = sizeof(struct entry) + total * sizeof(struct bucket *) + key_len + 1;
    struct entry *e = kr_malloc(bytes);
    if (!e) {
        rc = kr_error_set(err, KR_ENOMEM, "out of memory caching %s", key);
        goto fail;
    }
    e->obj = obj;
    obj = NULL;
    e->wire_bytes = wire_bytes;
    e->cached_bytes = cached_bytes;
    e->alloc_bytes = bytes;
    e->n_buckets = total;
    e->key = (char *)&e->buckets[total];
    memcpy(e->key, key, key_len + 1);
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

static int parse_keep_fields(kr_store_t *s, const kr_store_opts *opts, kr_error_t *err)
{
    if (opts->n_keep_fields == 0)
        return 0;
    if (!opts->keep_fields)
        return kr_error_set(err, KR_EINVAL, "n_keep_fields is set but keep_fields is NULL");
    size_t n_always = KR_ARRAY_LEN(always_kept);
    size_t n = opts->n_keep_fields + n_always;
    struct field_path *keep = kr_calloc(n, sizeof(*keep));
    if (!keep)
        return kr_error_set(err, KR_ENOMEM, "out of memory creating a store");
    s->keep = keep;
    for (size_t i = 0; i < n; i++) {
        const char *text = i < n_always ? always_kept[i] : opts->keep_fields[i - n_always];
        if (!text)
            return kr_error_set(err, KR_EINVAL, "keep_fields[%zu] is NULL", i - n_always);
        int rc = path_parse(text, &keep[i], err);
        if (rc)
            return rc;
        s->n_keep++;
    }
    return 0;
}

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
    if (!opts)
        opts = &defaults;
    kr_store_t *s = kr_calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ENOMEM, "out of memory creating a store");
    s->keep_managed_fields = opts->keep_managed_fields;
    s->transform = opts->transform;
    s->transform_user = opts->transform_user;
    int rc = parse_keep_fields(s, opts, err);
    if (!rc)
        rc = init_index_defs(s, err);
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
    for (size_t i = 0; i < store->n_defs; i++)
        kr_free(store->defs[i].name);
    kr_free(store->defs);
    for (size_t i = 0; i < store->n_keep; i++)
        path_clear(&store->keep[i]);
    kr_free(store->keep);
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
                  json_t **cached_out, kr_error_t *err)
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
    int rc = transform(store, obj, &cached, err);
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
    rc = prepare(store->defs, store->n_defs, cached, wire_bytes, 0, &p, err);
    if (rc) {
        kr_free(rv);
        pthread_mutex_unlock(&store->write_mutex);
        return rc;
    }
    struct entry *old = NULL;
    pthread_rwlock_wrlock(&store->lock);
    rc = state_link(store->state, &p, &old);
    if (rc == 0) {
        set_rv_locked(store, &rv);
        store->received_total += wire_bytes;
        store->writes++;
    }
    pthread_rwlock_unlock(&store->lock);
    if (rc) {
        rc = kr_error_set(err, rc, "out of memory caching %s", p.entry->key);
    } else {
        if (cached_out)
            *cached_out = json_incref(p.entry->obj);
        if (old_out && old)
            *old_out = json_incref(old->obj);
        p.entry = NULL; /* now owned by the state */
    }
    entry_free(old);
    prepared_clear(&p);
    kr_free(rv);
    pthread_mutex_unlock(&store->write_mutex);
    return rc;
}

int kr_store_add(kr_store_t *store, json_t *obj, size_t wire_bytes, json_t **old_out,
                 json_t **cached_out, kr_error_t *err)
{
    return upsert(store, obj, wire_bytes, old_out, cached_out, err);
}

int kr_store_update(kr_store_t *store, json_t *obj, size_t wire_bytes, json_t **old_out,
                    json_t **cached_out, kr_error_t *err)
{
    return upsert(store, obj, wire_bytes, old_out, cached_out, err);
}

static int delete_locked_key(kr_store_t *store, const char *key, char **rv, json_t **old_out,
                             kr_error_t *err)
{
    pthread_rwlock_wrlock(&store->lock);
    struct entry *e = state_unlink_key(store->state, key);
    set_rv_locked(store, rv);
    if (e)
        store->writes++;
    pthread_rwlock_unlock(&store->lock);
    if (!e)
        return kr_error_set(err, KR_ENOTFOUND, "%s is not in the store", key);
    if (old_out)
        *old_out = json_incref(e->obj);
    entry_free(e);
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
static int removed_between(const struct state *old, const struct state *fresh, json_t **out)
{
    json_t *removed = json_array();
    if (!removed)
        return KR_ENOMEM;
    for (size_t k = 0; k < old->n_dense; k++) {
        const struct entry *e = old->dense[k];
        if (kr_strmap_get(&fresh->entries, e->key))
            continue;
        if (json_array_append(removed, e->obj) != 0) {
            json_decref(removed);
            return KR_ENOMEM;
        }
    }
    *out = removed;
    return 0;
}

/* Where build_state() takes its objects from: a relist's items, which go
 * through the transform pipeline, or the current state's entries, already
 * transformed and measured (re-indexing for a new index). */
struct source {
    json_t *items; /* replace: a JSON array */
    const size_t *wire_bytes; /* replace: optional sizes */
    const struct state *reindex; /* add_indexer: the current state */
};

static int build_state(const kr_store_t *store, const struct index_def *defs, size_t n_defs,
                       const struct source *src, struct state **out, kr_error_t *err)
{
    struct state *st = state_new(n_defs);
    if (!st)
        return kr_error_set(err, KR_ENOMEM, "out of memory rebuilding the store");
    size_t n = src->items ? json_array_size(src->items) : src->reindex->n_dense;
    int rc = kr_strmap_reserve(&st->entries, n);
    if (!rc)
        rc = dense_reserve(st, n);
    if (rc)
        rc = kr_error_set(err, rc, "out of memory rebuilding the store");
    for (size_t i = 0; !rc && i < n; i++) {
        struct prepared p;
        if (src->items) {
            json_t *obj = NULL;
            rc = transform(store, json_incref(json_array_get(src->items, i)), &obj, err);
            if (!rc)
                rc = prepare(defs, n_defs, obj, src->wire_bytes ? src->wire_bytes[i] : 0, 0, &p,
                             err);
        } else {
            const struct entry *e = src->reindex->dense[i];
            rc =
                prepare(defs, n_defs, json_incref(e->obj), e->wire_bytes, e->cached_bytes, &p, err);
        }
        if (rc)
            break;
        struct entry *dup = NULL;
        rc = state_link(st, &p, &dup);
        if (rc)
            rc = kr_error_set(err, rc, "out of memory rebuilding the store");
        else
            p.entry = NULL;
        entry_free(dup); /* a duplicate key in the list: the last one wins */
        prepared_clear(&p);
    }
    if (rc) {
        state_free(st);
        return rc;
    }
    *out = st;
    return 0;
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
    char *rv = resource_version ? kr_strdup(resource_version) : NULL;
    if (resource_version && !rv) {
        json_decref(items);
        return kr_error_set(err, KR_ENOMEM, "out of memory replacing the store");
    }
    pthread_mutex_lock(&store->write_mutex);
    struct state *fresh = NULL;
    json_t *removed = NULL;
    struct source src = {.items = items, .wire_bytes = wire_bytes, .reindex = NULL};
    int rc = build_state(store, store->defs, store->n_defs, &src, &fresh, err);
    if (!rc && removed_out) {
        rc = removed_between(store->state, fresh, &removed);
        if (rc)
            rc = kr_error_set(err, rc, "out of memory replacing the store");
    }
    struct state *old = NULL;
    if (!rc) {
        uint64_t received = 0;
        for (size_t i = 0; wire_bytes && i < json_array_size(items); i++)
            received += wire_bytes[i];
        pthread_rwlock_wrlock(&store->lock);
        old = store->state;
        store->state = fresh;
        set_rv_locked(store, &rv);
        store->received_total += received;
        store->writes++;
        pthread_rwlock_unlock(&store->lock);
    } else {
        state_free(fresh);
    }
    state_free(old);
    pthread_mutex_unlock(&store->write_mutex);
    kr_free(rv);
    json_decref(items);
    if (removed_out)
        *removed_out = removed;
    return rc;
}

int kr_store_add_indexer(kr_store_t *store, const char *name, kr_store_index_fn fn, void *user,
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
    if (!rc) {
        struct source src = {.items = NULL, .wire_bytes = NULL, .reindex = store->state};
        rc = build_state(store, defs, store->n_defs + 1, &src, &fresh, err);
    }
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

/* ---- reads ----------------------------------------------------------------------- */

char *kr_store_last_resource_version(const kr_store_t *store)
{
    kr_store_t *s = (kr_store_t *)store;
    pthread_rwlock_rdlock(&s->lock);
    char *rv = kr_strdup(s->rv);
    pthread_rwlock_unlock(&s->lock);
    return rv;
}

json_t *kr_store_get(const kr_store_t *store, const char *key)
{
    if (!store || !key)
        return NULL;
    kr_store_t *s = (kr_store_t *)store;
    pthread_rwlock_rdlock(&s->lock);
    struct entry *e = kr_strmap_get(&s->state->entries, key);
    json_t *obj = e ? json_incref(e->obj) : NULL;
    pthread_rwlock_unlock(&s->lock);
    return obj;
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
};

static void gather_entry(struct gather *g, const struct entry *e)
{
    if (g->rc || (g->sel && !kr_selector_matches_object(g->sel, e->obj)))
        return;
    if (json_array_append(g->arr, e->obj) != 0)
        g->rc = KR_ENOMEM;
}

static void gather_state(struct gather *g, const struct state *st)
{
    for (size_t k = 0; k < st->n_dense && !g->rc; k++)
        gather_entry(g, st->dense[k]);
}

static void gather_bucket(struct gather *g, const struct bucket *b)
{
    for (size_t k = 0; b && k < b->members.cap && !g->rc; k++)
        if (b->members.slots[k])
            gather_entry(g, b->members.slots[k]);
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
    struct gather g = {.arr = json_array(), .sel = sel, .rc = 0};
    if (!g.arr)
        return kr_error_set(err, KR_ENOMEM, "out of memory listing the store");
    pthread_rwlock_rdlock(&s->lock);
    const struct state *st = s->state;
    size_t number = 0;
    if (index && index_number(s, index, &number) != 0)
        g.rc = KR_ENOTFOUND;
    else if (index)
        gather_bucket(&g, kr_strmap_get(&st->indexes[number], value));
    else
        gather_state(&g, st);
    pthread_rwlock_unlock(&s->lock);
    if (g.rc) {
        json_decref(g.arr);
        if (g.rc == KR_ENOTFOUND)
            return kr_error_set(err, g.rc, "the store has no index named \"%s\"", index);
        return kr_error_set(err, g.rc, "out of memory listing the store");
    }
    *out = g.arr;
    return 0;
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
    const kr_strmap *m = &s->state->entries;
    if (index) {
        if (index_number(s, index, &number) != 0)
            rc = KR_ENOTFOUND;
        else
            m = &s->state->indexes[number];
    }
    for (size_t k = 0; !rc && k < m->cap; k++)
        if (m->slots[k].key && json_array_append_new(arr, json_string(m->slots[k].key)) != 0)
            rc = KR_ENOMEM;
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

void kr_store_get_stats(const kr_store_t *store, kr_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    kr_store_t *s = (kr_store_t *)store;
    pthread_rwlock_rdlock(&s->lock);
    const struct state *st = s->state;
    out->objects = st->entries.count;
    out->wire_bytes = st->wire_bytes;
    out->cached_json_bytes = st->cached_bytes;
    uint64_t overhead = sizeof(*st) + st->n_indexes * sizeof(*st->indexes) + st->entry_bytes +
                        kr_strmap_bytes(&st->entries) +
                        /* NOLINTNEXTLINE(bugprone-sizeof-expression): pointers */
                        st->cap_dense * sizeof(*st->dense);
    for (size_t i = 0; i < st->n_indexes; i++) {
        const kr_strmap *m = &st->indexes[i];
        overhead += kr_strmap_bytes(m);
        for (size_t k = 0; k < m->cap; k++) {
            const struct bucket *b = m->slots[k].value;
            if (m->slots[k].key)
                overhead += sizeof(*b) + strlen(b->value) + 1 + kr_ptrset_bytes(&b->members);
        }
    }
    out->overhead_bytes = overhead;
    out->received_bytes_total = s->received_total;
    out->writes = s->writes;
    pthread_rwlock_unlock(&s->lock);
}
