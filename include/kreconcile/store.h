/* libkreconcile — the informer's cache: a thread-safe, indexed store of
 * immutable Kubernetes objects (client-go's cache.Indexer), with listers by
 * namespace, label selector and index, and honest memory accounting.
 *
 * Threading: one writer at a time (the informer, on its loop thread;
 * concurrent writers are serialised, never corrupting), readers on any
 * thread. Cached objects are shared, immutable json_t references: every
 * read returns NEW references that the caller json_decref's and never
 * modifies (json_deep_copy to edit). A whole-store read is a consistent
 * snapshot: it never mixes two states of the store.
 *
 * Representations (kr_store_opts.representation): KR_STORE_COMPACT, the
 * default, keeps each object as its compact JSON text in one allocation
 * with its key, resourceVersion and index values (about 1.1x the wire
 * bytes against 2.9x), and parses on read, keeping a small cache of
 * recently read or written trees. KR_STORE_TREES keeps jansson trees:
 * reads only take a reference. An informer's sync costs the same in both
 * (bench_informer); a read that misses the tree cache costs a parse (about
 * 20 us against 1 us for a 1.3 KiB object) and a whole-store list parses
 * every object (2.1 s against 7 ms for 100,000). Choose KR_STORE_TREES for
 * caches read at random or listed whole on every reconcile. The API and
 * its ownership rules are the same for both; only the cost of reads
 * differs (two reads of one compact object may return different, equal
 * trees). */
#ifndef KRECONCILE_STORE_H
#define KRECONCILE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "selector.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_store kr_store_t;

/* The built-in index: metadata.namespace ("" for cluster-scoped objects),
 * as client-go's cache.NamespaceIndex. */
#define KR_STORE_NAMESPACE_INDEX "namespace"

/* Where an index function puts the values it computes for one object. */
typedef struct kr_store_index_values kr_store_index_values;

/* Add `value` (borrowed; copied) to the values of the object being
 * indexed. Duplicates are ignored. Returns 0 or KR_ENOMEM. Only valid
 * inside the index function that received `out`. */
KR_API int kr_store_index_values_add(kr_store_index_values *out, const char *value);

/* An index function: add zero or more values for `obj` (borrowed,
 * immutable) with kr_store_index_values_add(). Return 0, or a negative
 * KR_E* code to make the write fail (the store is then unchanged). Called
 * on the writing thread, outside the store's lock; must not call the
 * store. Must be a pure function of `obj`. */
typedef int (*kr_store_index_cb)(const json_t *obj, kr_store_index_values *out, void *user);

/* A transform applied to every object before it is cached, after the
 * built-in ones (managedFields, keep_fields). `obj` is stolen and owned by
 * nobody else, so it may be edited in place; set *out to a new reference
 * (often `obj` itself) and return 0, or return a negative KR_E* code to
 * reject the write. Runs on the writing thread, outside the lock. */
typedef int (*kr_store_transform_cb)(json_t *obj, json_t **out, void *user);

/* How cached objects are held (see the top of this file). */
typedef enum kr_store_representation {
    KR_STORE_DEFAULT = 0, /* KR_STORE_COMPACT */
    KR_STORE_COMPACT = 1,
    KR_STORE_TREES = 2,
} kr_store_representation;

/* Options; the zero value means the defaults. */
typedef struct kr_store_opts {
    unsigned version; /* KR_STORE_OPTS_VERSION (0 is taken as 1) */
    /* Default false: metadata.managedFields is dropped before caching, as
     * controller-runtime users ask (it is often half of an object). */
    bool keep_managed_fields;
    /* When non-empty, cache only these fields: JSON pointers such as
     * "/spec/replicas" or "/status". apiVersion, kind, and metadata's
     * name, namespace, uid, resourceVersion, generation, labels and
     * deletionTimestamp are always kept (keys, selectors and
     * read-after-write need them). Strings borrowed for kr_store_new(). */
    const char *const *keep_fields;
    size_t n_keep_fields;
    /* Optional user transform, run last. */
    kr_store_transform_cb transform;
    void *transform_user;
    /* KR_STORE_DEFAULT (compact), KR_STORE_COMPACT or KR_STORE_TREES. */
    kr_store_representation representation;
    /* KR_STORE_COMPACT: how many parsed trees of recently read or written
     * objects to keep; 0 = 256, < 0 = none. */
    long tree_cache;
} kr_store_opts;
#define KR_STORE_OPTS_VERSION 1
/* clang-format off */
#define KR_STORE_OPTS_INIT {.version = KR_STORE_OPTS_VERSION}
/* clang-format on */

/* Create an empty store with the namespace index. `opts` may be NULL
 * (defaults). *out is new: free with kr_store_free(). Errors: KR_EINVAL
 * (a keep_fields entry that is not a JSON pointer), KR_ENOMEM. [any thread] */
KR_API int kr_store_new(const kr_store_opts *opts, kr_store_t **out, kr_error_t *err);

/* Free the store and release its references. NULL is a no-op. No other
 * thread may use the store any more. Objects readers still hold stay
 * valid (they hold their own references). [any thread] */
KR_API void kr_store_free(kr_store_t *store);

/* The key of `obj` (borrowed): "namespace/name", or "name" when
 * metadata.namespace is absent or "". *key is new (kr_free it).
 * Errors: KR_EINVAL when metadata.name is missing, empty or not a string,
 * or metadata.namespace is not a string; KR_ENOMEM. [any thread] */
KR_API int kr_store_key_of(const json_t *obj, char **key, kr_error_t *err);

/* Register an index named `name` (copied) computed by fn(obj, out, user).
 * Objects already cached are indexed at once. Errors: KR_EEXIST (name
 * taken, including "namespace"), KR_EINVAL, KR_ENOMEM, or the index
 * function's error; the store is unchanged on error. [writer] */
KR_API int kr_store_add_indexer(kr_store_t *store, const char *name, kr_store_index_cb fn,
                                void *user, kr_error_t *err);

/* Insert or replace the object with obj's key. `obj` is STOLEN (also on
 * error): the store may edit it in place before caching (transforms), so
 * pass an object no one else holds. `wire_bytes` is what the object cost
 * on the wire (its share of the response; 0 if unknown), for the
 * accounting in kr_store_stats(). The store's last resource version
 * becomes obj's metadata.resourceVersion when it has one.
 * old_out (may be NULL): the object previously under that key (new
 * reference) or NULL. cached_out (may be NULL): the object as cached (new
 * reference). Errors: KR_EINVAL (no name), KR_ENOMEM, a transform's or an
 * index function's error; the store is then unchanged. [writer] */
KR_API int kr_store_add(kr_store_t *store, json_t *obj, size_t wire_bytes, json_t **old_out,
                        json_t **cached_out, kr_error_t *err);

/* Remove the object with the key of `obj` (borrowed; e.g. a DELETED
 * event's object). The last resource version becomes obj's
 * metadata.resourceVersion when it has one. old_out (may be NULL): the
 * removed cached object (new reference). Errors: KR_EINVAL (no name),
 * KR_ENOTFOUND (not cached; the resource version is still recorded),
 * KR_ENOMEM. [writer] */
KR_API int kr_store_delete(kr_store_t *store, const json_t *obj, json_t **old_out, kr_error_t *err);

/* Remove the object cached under `key`. Errors: KR_ENOTFOUND. [writer] */
KR_API int kr_store_delete_key(kr_store_t *store, const char *key, json_t **old_out,
                               kr_error_t *err);

/* Replace the whole content with `items` (a JSON array, STOLEN, also on
 * error) and set the last resource version to `resource_version` (may be
 * NULL: unchanged), atomically: readers see the old content or the new
 * one, never a mix. `wire_bytes` (may be NULL) holds one size per item.
 * Items with the same key: the last one wins. removed_out (may be NULL):
 * a new JSON array of the cached objects whose keys are not in `items`
 * (what a relist must report as deletes). Errors: KR_EINVAL (an item
 * without a name, or items not an array), KR_ENOMEM, a transform's or
 * index function's error; the store is then unchanged. [writer] */
KR_API int kr_store_replace(kr_store_t *store, json_t *items, const size_t *wire_bytes,
                            const char *resource_version, json_t **removed_out, kr_error_t *err);

/* A relist built piece by piece (a paged LIST, a streaming list): objects
 * go through the store's transforms and are put in cached form as they
 * arrive, so that only the cached form of the whole list is ever held; the
 * batch then replaces the store's content in one atomic swap, as
 * kr_store_replace() does. A batch belongs to its store's writer. */
typedef struct kr_store_batch kr_store_batch_t;

/* An empty batch for `store` (borrowed; must outlive the batch). *out is
 * new (kr_store_batch_free, or stolen by kr_store_replace_batch).
 * Errors: KR_EINVAL, KR_ENOMEM. [writer] */
KR_API int kr_store_batch_new(kr_store_t *store, kr_store_batch_t **out, kr_error_t *err);

/* Add `obj` (STOLEN, also on error; edited in place by transforms) to the
 * batch; an object with the key of one already in it replaces it.
 * `wire_bytes` as in kr_store_add(). Errors: KR_EINVAL (no name),
 * KR_ENOMEM, a transform's or index function's error; the batch is then
 * unchanged. [writer] */
KR_API int kr_store_batch_add(kr_store_batch_t *batch, json_t *obj, size_t wire_bytes,
                              kr_error_t *err);

/* Drop the object with `key` from the batch, if it has one. [writer] */
KR_API void kr_store_batch_remove(kr_store_batch_t *batch, const char *key);

/* Number of objects in the batch. [writer] */
KR_API size_t kr_store_batch_len(const kr_store_batch_t *batch);

/* The key and metadata.resourceVersion (NULL when it has none) of object
 * `i` (< kr_store_batch_len) of the batch, in no particular order; both
 * borrowed, valid until the batch changes or goes. Errors: KR_EINVAL.
 * [writer] */
KR_API int kr_store_batch_entry(const kr_store_batch_t *batch, size_t i, const char **key,
                                const char **resource_version);

/* Free a batch that was not committed. NULL is a no-op. [writer] */
KR_API void kr_store_batch_free(kr_store_batch_t *batch);

/* kr_store_replace() with the content of `batch` (STOLEN, also on error;
 * it must belong to `store`). Errors: KR_EINVAL, KR_ENOMEM, an index
 * function's error (an index added since the batch was begun); the store
 * is then unchanged. [writer] */
KR_API int kr_store_replace_batch(kr_store_t *store, kr_store_batch_t *batch,
                                  const char *resource_version, json_t **removed_out,
                                  kr_error_t *err);

/* Record `resource_version` (copied; e.g. from a BOOKMARK) as the last one
 * synced. Errors: KR_EINVAL (NULL), KR_ENOMEM. [writer] */
KR_API int kr_store_set_resource_version(kr_store_t *store, const char *resource_version,
                                         kr_error_t *err);

/* The last resource version recorded (replace, add, update, delete, set):
 * a new string (kr_free it), or NULL when none was recorded yet or memory
 * ran out. [any thread] */
KR_API char *kr_store_last_resource_version(const kr_store_t *store);

/* The object cached under `key` ("namespace/name" or "name"): a new
 * reference, or NULL when absent (or, with KR_STORE_COMPACT, when memory
 * ran out parsing it). [any thread] */
KR_API json_t *kr_store_get(const kr_store_t *store, const char *key);

/* kr_store_get() by namespace (NULL or "" for cluster-scoped) and name.
 * New reference or NULL. [any thread] */
KR_API json_t *kr_store_get_by_name(const kr_store_t *store, const char *ns, const char *name);

/* The compact JSON text of the object cached under `key`, for callers
 * that only forward it: *json is new (kr_free it), NUL-terminated, and
 * *len (may be NULL) its length. With KR_STORE_COMPACT it is a copy of
 * the cached bytes (no parse); with KR_STORE_TREES it is serialised.
 * Errors: KR_EINVAL, KR_ENOTFOUND, KR_ENOMEM. [any thread] */
KR_API int kr_store_get_raw(const kr_store_t *store, const char *key, char **json, size_t *len,
                            kr_error_t *err);

/* metadata.resourceVersion of the object cached under `key`, without
 * parsing it: a new string (kr_free it), or NULL when the key is absent,
 * the object has none, or memory ran out. [any thread] */
KR_API char *kr_store_get_resource_version(const kr_store_t *store, const char *key);

/* The number of cached objects. [any thread] */
KR_API size_t kr_store_len(const kr_store_t *store);

/* A snapshot of every cached object: *out is a new JSON array of new
 * references, in no particular order. Errors: KR_ENOMEM. [any thread] */
KR_API int kr_store_list(const kr_store_t *store, json_t **out, kr_error_t *err);

/* A snapshot of every key: *out is a new JSON array of strings. [any thread] */
KR_API int kr_store_list_keys(const kr_store_t *store, json_t **out, kr_error_t *err);

/* The objects whose index `index` has value `value`: new JSON array (empty
 * when no object has that value). Errors: KR_ENOTFOUND (no such index),
 * KR_ENOMEM. [any thread] */
KR_API int kr_store_by_index(const kr_store_t *store, const char *index, const char *value,
                             json_t **out, kr_error_t *err);

/* The values index `index` currently has (each with at least one object):
 * new JSON array of strings. Errors: KR_ENOTFOUND, KR_ENOMEM. [any thread] */
KR_API int kr_store_list_index_values(const kr_store_t *store, const char *index, json_t **out,
                                      kr_error_t *err);

/* The objects of namespace `ns` ("" for cluster-scoped ones): new JSON
 * array. Errors: KR_ENOMEM. [any thread] */
KR_API int kr_store_list_namespace(const kr_store_t *store, const char *ns, json_t **out,
                                   kr_error_t *err);

/* The objects in namespace `ns` (NULL: every namespace) whose labels
 * match `sel` (borrowed; NULL matches everything): new JSON array.
 * Errors: KR_ENOMEM. [any thread] */
KR_API int kr_store_list_selector(const kr_store_t *store, const char *ns, const kr_selector_t *sel,
                                  json_t **out, kr_error_t *err);

/* The objects with value `value` in index `index` whose labels match
 * `sel` (NULL: all): new JSON array. Errors: KR_ENOTFOUND, KR_ENOMEM.
 * [any thread] */
KR_API int kr_store_list_index_selector(const kr_store_t *store, const char *index,
                                        const char *value, const kr_selector_t *sel, json_t **out,
                                        kr_error_t *err);

/* Memory accounting, one consistent reading.
 * - wire_bytes: sum of the wire_bytes callers gave for the objects now
 *   cached (0 for those given as 0).
 * - cached_json_bytes: sum of the compact JSON serialisation of each
 *   object as cached (after transforms), measured once on insertion. It
 *   measures what was kept, not the heap: a jansson tree costs several
 *   times its JSON text in memory (see the store benchmark for measured
 *   heap bytes per object).
 * - overhead_bytes: the store's own structures (entries, hash tables,
 *   index buckets), counted exactly from their allocation sizes, excluding
 *   allocator headers.
 * - received_bytes_total: every wire_bytes ever passed, including objects
 *   since replaced or deleted.
 * - writes: add/update/delete/replace calls that changed the store. */
typedef struct kr_store_stats {
    size_t objects;
    uint64_t wire_bytes;
    uint64_t cached_json_bytes;
    uint64_t overhead_bytes;
    uint64_t received_bytes_total;
    uint64_t writes;
} kr_store_stats;

/* Fill *out; out_size is sizeof *out (common.h, Statistics). [any thread] */
KR_API void kr_store_get_stats(const kr_store_t *store, kr_store_stats *out, size_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_STORE_H */
