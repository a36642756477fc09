/* libkreconcile — internals of the store shared by lib/store*.c: the
 * store's structures and its transform helpers. The key map and the
 * indexes are the base layer's kr_keymap (lib/util_map.c); a bucket's
 * members are an array in which each member knows its position. All
 * guarded by the store's lock (see lib/store.c). Never installed. */
#ifndef KR_LIB_STORE_INTERNAL_H
#define KR_LIB_STORE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/store.h"

#include "util_internal.h"

/* The store's keys and index values are NUL-terminated strings: thin
 * shorthands over kr_keymap. */
static inline void *kr_store_map_get(const kr_keymap *m, const char *key)
{
    size_t len = strlen(key);
    return kr_keymap_get(m, kr_key_hash(key, len), key, len);
}

static inline int kr_store_map_put(kr_keymap *m, const char *key, void *val, void **old)
{
    size_t len = strlen(key);
    return kr_keymap_put(m, kr_key_hash(key, len), key, len, val, old);
}

static inline void *kr_store_map_remove(kr_keymap *m, const char *key)
{
    size_t len = strlen(key);
    return kr_keymap_remove(m, kr_key_hash(key, len), key, len);
}

/* ---- the store's structures (lib/store.c explains the locking) ---- */

struct kr_store_index_values {
    char **v;
    size_t n, cap;
};

struct index_def {
    char *name;
    kr_store_index_cb fn; /* NULL: the built-in namespace index */
    void *user;
};

/* One value of one index: the set of entries that have it, packed in an
 * array (8 bytes a member where a hash set took several slots); each
 * member keeps its position there (kr_store_member_at), so that leaving is
 * O(1): the last member moves into the hole. A bucket exists only while it
 * has members. */
struct bucket {
    char *value;
    size_t index;
    struct entry **members;
    size_t n_members, cap_members;
};

/* One cached object. Allocated once with its bucket list, key,
 * resourceVersion and, with KR_STORE_COMPACT, its compact JSON text.
 * Reference counted: the state that links it holds one reference, a
 * compact reader parsing it outside the lock another, the tree cache a
 * third; the last release frees it (lib/store_compact.c). */
struct entry {
    json_t *obj; /* KR_STORE_TREES: the cached object; compact: NULL */
    const char *json; /* KR_STORE_COMPACT: compact JSON, NUL-terminated */
    size_t json_len;
    size_t wire_bytes;
    size_t cached_bytes;
    size_t alloc_bytes; /* the store's own part: without the JSON text */
    size_t dense_at; /* position in state.dense */
    char *key;
    char *rv; /* metadata.resourceVersion, or NULL */
    json_t *tree; /* compact: a parsed tree while in the tree cache */
    size_t cache_at; /* its slot there; both guarded by tree_cache.mu */
    unsigned refs; /* atomic */
    uint32_t n_buckets; /* beside refs: no padding */
    /* its buckets, then (kr_store_member_at) its position in each */
    struct bucket *buckets[];
};

/* Where `e` sits in the members of e->buckets[k]: an array of n_buckets
 * positions right after the buckets (a bucket of 2^32 objects would need
 * hundreds of GiB). */
static inline uint32_t *kr_store_member_at(struct entry *e)
{
    return (uint32_t *)(void *)&e->buckets[e->n_buckets];
}

/* Everything a reader can see; replaced whole by replace/add_indexer. */
struct state {
    kr_keymap entries; /* key -> struct entry * */
    /* Every entry once, packed: whole-store reads walk this array in
     * insertion order instead of the sparse hash table. */
    struct entry **dense;
    size_t n_dense, cap_dense;
    size_t n_indexes;
    kr_keymap *indexes; /* per index: value -> struct bucket * */
    uint64_t wire_bytes;
    uint64_t cached_bytes;
    uint64_t entry_bytes;
};

/* A keep_fields path, split into unescaped tokens. */
struct field_path {
    size_t n;
    char **tokens;
};

/* KR_STORE_COMPACT: a ring of the entries whose parsed trees are kept,
 * replaced round-robin. The ring holds a reference on each entry. */
struct tree_cache {
    pthread_mutex_t mu;
    struct entry **ring;
    size_t cap, hand;
    bool ready; /* mu initialised */
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
    kr_store_transform_cb transform;
    void *transform_user;
    bool compact;
    struct tree_cache cache;
    kr_buf scratch; /* compact writes print here; guarded by write_mutex */
};

/* Parse opts->keep_fields (plus the fields always kept) into store->keep.
 * On error store->keep holds what was parsed; kr_store_keep_fields_free()
 * releases it. */
int kr_store_keep_fields_parse(kr_store_t *store, const kr_store_opts *opts, kr_error_t *err);
void kr_store_keep_fields_free(kr_store_t *store);
/* The transform pipeline: drop managedFields, keep selected fields, user
 * transform. `obj` is stolen (also on error); *out is new. */
int kr_store_transform(const kr_store_t *store, json_t *obj, json_t **out, kr_error_t *err);

/* ---- entries and the compact representation (lib/store_compact.c) ---- */

void kr_store_entry_ref(struct entry *e);
/* Drop one reference; the last one frees the entry and its object. */
void kr_store_entry_release(struct entry *e);
/* A new reference to the object of `e`, which the caller keeps alive
 * (with the store's lock or a reference): the tree itself, or a tree
 * from the cache, or one parsed now (remembered in the cache when
 * `remember`). NULL when memory ran out. */
json_t *kr_store_entry_object(kr_store_t *s, struct entry *e, bool remember);
/* Keep `tree` (borrowed; the object of `e`) in the tree cache. */
void kr_store_cache_remember(kr_store_t *s, struct entry *e, json_t *tree);
int kr_store_cache_init(kr_store_t *s, long size);

/* kr_store_add() for the objects of a list (the reflector's first list):
 * the cached tree is not kept in the tree cache, where a list's objects
 * would only churn it (and fragment the heap: 0.7-0.9 s of CPU for
 * 100,000 ConfigMaps, measured). [writer] */
int kr_store_add_listed(kr_store_t *store, json_t *obj, json_t **old_out, json_t **cached_out,
                        kr_error_t *err);

/* A consistent snapshot of every entry, read one object at a time, so
 * that walking a compact store (an informer's resync, a late handler's
 * adds) never holds more than one parsed tree where kr_store_list()
 * would parse them all at once (lib/store_read.c). */
struct kr_store_snapshot {
    struct entry **entries; /* each with a reference */
    size_t n;
};
/* Fill *out. 0 or KR_ENOMEM (then *out is empty). [any thread] */
int kr_store_snapshot_take(const kr_store_t *store, struct kr_store_snapshot *out);
/* Object i of the snapshot: a new reference (the tree, a cached tree or
 * one parsed now and not remembered), or NULL when memory ran out. */
json_t *kr_store_snapshot_object(const kr_store_t *store, const struct kr_store_snapshot *snap,
                                 size_t i);
void kr_store_snapshot_release(struct kr_store_snapshot *snap);
void kr_store_cache_free(kr_store_t *s);

#endif /* KR_LIB_STORE_INTERNAL_H */
