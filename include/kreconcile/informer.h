/* libkreconcile — the shared informer (client-go's SharedIndexInformer) and
 * its factory: a reflector keeping a kr_store_t in step with one
 * collection of one cluster, event handlers with their own resync periods,
 * has-synced and wait-for-sync, and read-after-write waits ("has the cache
 * seen resourceVersion R yet?"), also across several clusters.
 *
 * Threading: handlers and loop-thread callbacks run on the runtime's loop
 * thread, one at a time, in event order, and must not block (compute a
 * key, add it to a queue). The store may be read from any thread. Blocking
 * waits are for worker threads. Informers must be freed before their
 * runtime is stopped. */
#ifndef KRECONCILE_INFORMER_H
#define KRECONCILE_INFORMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "common.h"
#include "metrics.h"
#include "reflector.h"
#include "runtime.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_informer kr_informer_t;

/* Event handlers; any may be NULL. Objects are borrowed for the call
 * (json_incref to keep one) and immutable. */
typedef struct kr_informer_handler {
    void (*on_add)(const json_t *obj, void *user);
    /* A resync calls on_update with old == new (the same pointer). */
    void (*on_update)(const json_t *old_obj, const json_t *new_obj, void *user);
    /* final_state_unknown: the object was deleted while the informer was
     * not watching (found gone by a relist); `obj` is then the last state
     * the cache held, not the state at deletion. */
    void (*on_delete)(const json_t *obj, bool final_state_unknown, void *user);
    void *user;
    /* Re-deliver every cached object to this handler as on_update(o, o)
     * every resync_ms; 0 = never. A period under 1000 ms is raised to
     * 1000 (client-go's minimum), with a warning logged. */
    uint64_t resync_ms;
} kr_informer_handler;

/* Options; zero means the default. Strings are copied. */
typedef struct kr_informer_opts {
    unsigned version; /* KR_INFORMER_OPTS_VERSION (0 is taken as 1) */
    /* Where it runs: `client` (its runtime is used), or, for tests and
     * custom sources, an explicit lister-watcher and clock (then handlers
     * run on the thread that drives them and `runtime` may be NULL). */
    kr_client_t *client;
    kr_gvr resource; /* with client: required */
    /* NULL or "": all namespaces / cluster-scoped; else an RFC 1123 label */
    const char *namespace_;
    /* NULL or "": none. Checked by kr_informer_new with kr_selector_parse
     * and kr_field_selector_parse (syntax only: which fields a resource
     * can be selected by is the apiserver's to say). */
    const char *label_selector;
    const char *field_selector;
    kr_listwatch lw; /* overrides client when lw.vt is set; borrowed */
    kr_timer_clock clock; /* with lw; borrowed */
    kr_runtime_t *runtime; /* with lw: the loop its callbacks run on, or NULL */
    kr_store_opts store; /* representation, transforms, keep_fields (borrowed for _new) */
    long page_size; /* as kr_reflector_opts.page_size (0: client-go's paging) */
    uint64_t progress_deadline_ms; /* 0 = 180000; UINT64_MAX (or -1) = never */
    uint64_t watch_timeout_min_ms, watch_timeout_max_ms; /* 0 = 300000, 600000 */
    uint64_t backoff_initial_ms, backoff_max_ms; /* 0 = 800, 30000 */
    bool streaming_list; /* try sendInitialEvents first */
    kr_metrics_registry_t *metrics; /* borrowed; NULL = no metrics */
    kr_logger logger;
    uint64_t seed; /* jitter; 0 = from the clock */
    /* Names the informer in logs and as the `informer` label of its
     * metrics; default "[group/]version/resource[ ns=..][ labels=..]
     * [ fields=..]". Informers of different clusters reporting into one
     * registry need different names (the factory prefixes the cluster). */
    const char *name;
    /* With client: list and watch metadata only, as client-go's
     * metadatainformer: the cache holds meta.k8s.io/v1
     * PartialObjectMetadata objects (apiVersion, kind, metadata: names,
     * labels, annotations, owners, resourceVersions), a fraction of the
     * full objects' memory. For controllers that need nothing else (the
     * sweeper, garbage collectors, owner lookups). */
    bool metadata_only;
} kr_informer_opts;
#define KR_INFORMER_OPTS_VERSION 1
/* clang-format off */
#define KR_INFORMER_OPTS_INIT {.version = KR_INFORMER_OPTS_VERSION}
/* clang-format on */

/* Create a stopped informer. *out is new (kr_informer_free).
 * Errors: KR_EINVAL (no client and no lw, missing resource; a namespace
 * that is not an RFC 1123 label, a selector that does not parse: the
 * message names the value, rather than every list failing later),
 * KR_ENOMEM, metrics registration errors. [any thread] */
KR_API int kr_informer_new(const kr_informer_opts *opts, kr_informer_t **out, kr_error_t *err);

/* Start listing and watching. Errors: KR_ESTATE (started twice),
 * KR_ESHUTDOWN. [any thread] */
KR_API int kr_informer_start(kr_informer_t *inf, kr_error_t *err);

/* Stop: cancel requests and timers; no handler runs after it returns;
 * waiters get KR_ESHUTDOWN. The store keeps its content. Idempotent.
 * [any thread] */
KR_API void kr_informer_stop(kr_informer_t *inf);

/* The caller learned that the informer's server answers again (a
 * controller's own requests there succeed after an outage): when the
 * informer is waiting out a backoff after failed lists or watches, it
 * lists now instead of up to 30 s later (kr_reflector_retry_now; a server
 * made anew meanwhile is listed whole at once).
 * A multi-cluster controller calls it when a cluster comes back, so that
 * its cache of that cluster is current again at once. No-op when running
 * or stopped. [any thread] */
KR_API void kr_informer_retry_now(kr_informer_t *inf);

/* Stop and free. NULL is a no-op. Not from a handler. [any thread] */
KR_API void kr_informer_free(kr_informer_t *inf);

/* The informer's store, for listers (borrowed; lives as long as the
 * informer). Before has_synced it may hold part of the first list.
 * [any thread] */
KR_API kr_store_t *kr_informer_store(kr_informer_t *inf);

/* Register a handler (copied). If objects are cached already, it first
 * receives on_add for each of them, then every later event. *id (may be
 * NULL) identifies it for removal. [any thread; on the loop thread the
 * adds run inside this call] Errors: KR_ENOMEM, KR_ESHUTDOWN. */
KR_API int kr_informer_add_handler(kr_informer_t *inf, const kr_informer_handler *handler, int *id,
                                   kr_error_t *err);

/* Remove a handler: it is not called after this returns. Errors:
 * KR_ENOTFOUND. [any thread] */
KR_API int kr_informer_remove_handler(kr_informer_t *inf, int id);

/* True once the first complete list has been delivered to the handlers.
 * [any thread] */
KR_API bool kr_informer_has_synced(const kr_informer_t *inf);

/* What the informer watches, as its logs and metrics name it: opts.name,
 * or "batch/v1/jobs ns=team-a labels=app=web" (borrowed; lives as long as
 * the informer; "" for NULL). [any thread] */
KR_API const char *kr_informer_describe(const kr_informer_t *inf);

/* Block until synced. Errors: KR_ETIMEDOUT, KR_ESHUTDOWN (stopped).
 * [worker thread] */
KR_API int kr_informer_wait_for_sync(kr_informer_t *inf, uint64_t timeout_ms, kr_error_t *err);

/* What the informer's last list met, into buf (`len` bytes), and true,
 * from a failed list until its server answers again (a list or a watch
 * event); false otherwise. A multi-cluster controller shows it for a
 * cluster whose cache has not synced: what that cluster's work waits on.
 * [any thread] */
KR_API bool kr_informer_last_error(const kr_informer_t *inf, char *buf, size_t len);

/* The same in full: true and *out (may be NULL) the error the last list
 * met (its KR_E* code, and the HTTP code and reason when the server
 * answered: KR_ENOTFOUND with 404 when it does not serve the resource,
 * such as a custom resource whose CRD was deleted), while
 * kr_informer_last_error is true; false and *out cleared otherwise.
 * [any thread] */
KR_API bool kr_informer_last_error_detail(const kr_informer_t *inf, kr_error_t *out);

/* The last resourceVersion observed (events, bookmarks, lists): a new
 * string (kr_free), or NULL before the first list. [any thread] */
KR_API char *kr_informer_last_resource_version(const kr_informer_t *inf);

/* Read after write: block until the informer has observed
 * `resource_version` (an RV a write returned), i.e. its cache reflects
 * every change up to it. RVs compare as integers (KEP-5504).
 * Errors: KR_EINVAL (not a decimal RV), KR_ETIMEDOUT, KR_ESHUTDOWN.
 * [worker thread; KR_ESTATE on the informer's loop thread] */
KR_API int kr_informer_wait_for_resource_version(kr_informer_t *inf, const char *resource_version,
                                                 uint64_t timeout_ms, kr_error_t *err);

/* The same as a callback: cb(rc, user) runs once on the loop thread, with
 * 0 when observed, KR_ETIMEDOUT or KR_ESHUTDOWN; never inside this call.
 * Errors (cb then never runs): KR_EINVAL, KR_ENOMEM, KR_ESHUTDOWN.
 * [any thread] */
typedef void (*kr_informer_rv_cb)(int rc, void *user);
KR_API int kr_informer_notify_resource_version(kr_informer_t *inf, const char *resource_version,
                                               uint64_t timeout_ms, kr_informer_rv_cb cb,
                                               void *user, kr_error_t *err);

/* One write to wait for: the informer (of one cluster) and the RV the
 * write returned there. Borrowed. */
typedef struct kr_rv_target {
    kr_informer_t *informer;
    const char *resource_version;
} kr_rv_target;

/* Block until every target has been observed, all within one deadline (a
 * write made to several clusters/datacenters). On KR_ETIMEDOUT, *pending
 * (may be NULL) is the index of the first target not yet observed.
 * Errors: as kr_informer_wait_for_resource_version. [worker thread] */
KR_API int kr_informer_wait_for_resource_versions(const kr_rv_target *targets, size_t n,
                                                  uint64_t timeout_ms, size_t *pending,
                                                  kr_error_t *err);

/* Counters, for tests and status pages. [any thread] */
typedef struct kr_informer_stats {
    uint64_t lists, watches, relists;
    uint64_t restarts[KR_RESTART_CAUSES];
    uint64_t added, updated, deleted, deleted_final_state_unknown, resyncs;
} kr_informer_stats;
/* out_size is sizeof *out (common.h, Statistics). */
KR_API void kr_informer_get_stats(const kr_informer_t *inf, kr_informer_stats *out,
                                  size_t out_size);

/* ---- Factory --------------------------------------------------------------- */

/* One informer per (client, group/version/resource, namespace, label
 * selector, field selector), shared by every controller that asks. Several
 * clients (clusters) may share one runtime. */
typedef struct kr_informer_factory kr_informer_factory_t;

typedef struct kr_informer_factory_opts {
    unsigned version; /* KR_INFORMER_FACTORY_OPTS_VERSION (0 is taken as 1) */
    kr_metrics_registry_t *metrics; /* borrowed; given to every informer */
    kr_logger logger;
    long page_size;
    bool streaming_list;
    kr_store_opts store; /* for every informer; borrowed for the factory's life */
} kr_informer_factory_opts;
#define KR_INFORMER_FACTORY_OPTS_VERSION 1
/* clang-format off */
#define KR_INFORMER_FACTORY_OPTS_INIT {.version = KR_INFORMER_FACTORY_OPTS_VERSION}
/* clang-format on */

/* *out is new (kr_informer_factory_free). Errors: KR_ENOMEM. [any thread] */
KR_API int kr_informer_factory_new(const kr_informer_factory_opts *opts,
                                   kr_informer_factory_t **out, kr_error_t *err);

/* Free every informer of the factory (stopping them), then the factory.
 * NULL is a no-op. [any thread but a loop thread] */
KR_API void kr_informer_factory_free(kr_informer_factory_t *f);

/* The shared informer for this scope, created on first request (and
 * started at once when the factory has been started), its cache made with
 * the factory's store options. *out is borrowed: it lives as long as the
 * factory. Errors: as kr_informer_new; KR_EINVAL when the scope's
 * informer was made with other store options (kr_informer_factory_get_with).
 * [any thread] */
KR_API int kr_informer_factory_get(kr_informer_factory_t *f, kr_client_t *client, kr_gvr resource,
                                   const char *namespace_, const char *label_selector,
                                   const char *field_selector, kr_informer_t **out,
                                   kr_error_t *err);

/* kr_informer_factory_get with store options of its own for this scope
 * (representation, keep_fields, transform...: as kr_informer_opts.store;
 * borrowed for the call, copied; NULL: the factory's). One scope has one
 * cache: a later request for it, here or by kr_informer_factory_get, with
 * options that would make another cache (another representation or tree
 * cache, keep_managed_fields, keep_fields as a set, transform or its user)
 * is refused, KR_EINVAL with a message naming the scope and the option,
 * as controller-runtime's cache refuses conflicting per-object options;
 * the same options spelt differently (the defaults given or left zero,
 * keep_fields in another order) are not a conflict. Errors: as
 * kr_informer_factory_get. [any thread] */
KR_API int kr_informer_factory_get_with(kr_informer_factory_t *f, kr_client_t *client,
                                        kr_gvr resource, const char *namespace_,
                                        const char *label_selector, const char *field_selector,
                                        const kr_store_opts *store, kr_informer_t **out,
                                        kr_error_t *err);

/* The shared metadata-only informer (kr_informer_opts.metadata_only; as
 * client-go's metadatainformer factory) for this scope, created on first
 * request (and started at once when the factory has been started): its
 * cache holds PartialObjectMetadata objects. Distinct from the full
 * informer of the same scope; named "<scope> metadata-only". *out is
 * borrowed: it lives as long as the factory. Errors: as kr_informer_new.
 * [any thread] */
KR_API int kr_informer_factory_get_metadata(kr_informer_factory_t *f, kr_client_t *client,
                                            kr_gvr resource, const char *namespace_,
                                            const char *label_selector, const char *field_selector,
                                            kr_informer_t **out, kr_error_t *err);

/* kr_informer_factory_get_metadata with store options of its own for this
 * scope (NULL: the factory's), under kr_informer_factory_get_with's rules:
 * a later request for the same metadata-only scope with options that would
 * make another cache is refused (KR_EINVAL). The full informer of the same
 * scope is another cache, with options of its own. [any thread] */
KR_API int kr_informer_factory_get_metadata_with(kr_informer_factory_t *f, kr_client_t *client,
                                                 kr_gvr resource, const char *namespace_,
                                                 const char *label_selector,
                                                 const char *field_selector,
                                                 const kr_store_opts *store, kr_informer_t **out,
                                                 kr_error_t *err);

/* Name the cluster `client` talks to (copied), e.g. "dc1": informers the
 * factory creates for it afterwards are named "dc1/<scope>" in logs and
 * metrics. Errors: KR_ENOMEM, KR_EINVAL. [any thread] */
KR_API int kr_informer_factory_name_cluster(kr_informer_factory_t *f, kr_client_t *client,
                                            const char *cluster, kr_error_t *err);

/* Start every informer not started yet (and those created later).
 * [any thread] */
KR_API int kr_informer_factory_start(kr_informer_factory_t *f, kr_error_t *err);

/* Block until every informer created so far has synced. Errors:
 * KR_ETIMEDOUT. [worker thread] */
KR_API int kr_informer_factory_wait_for_sync(kr_informer_factory_t *f, uint64_t timeout_ms,
                                             kr_error_t *err);

/* Number of distinct informers (full and metadata-only). [any thread] */
KR_API size_t kr_informer_factory_len(kr_informer_factory_t *f);

/* ---- Adapters ----------------------------------------------------------------- */

/* A kr_listwatch over `client` for one collection: LIST pages and WATCH
 * streams through kr_client. *out is new (kr_listwatch_client_free after
 * every reflector using it is freed). Errors: KR_ENOMEM. [any thread] */
KR_API int kr_listwatch_client_new(kr_client_t *client, kr_gvr resource, const char *namespace_,
                                   kr_listwatch *out, kr_error_t *err);
KR_API void kr_listwatch_client_free(kr_listwatch *lw);

/* The same, asking for metadata only: LIST with Accept
 * KR_CLIENT_ACCEPT_PARTIAL_METADATA_LIST and WATCH with KR_CLIENT_ACCEPT_PARTIAL_METADATA
 * (client.h), so that objects arrive as PartialObjectMetadata. Free with
 * kr_listwatch_client_free. Errors: KR_ENOMEM. [any thread] */
KR_API int kr_listwatch_client_new_metadata(kr_client_t *client, kr_gvr resource,
                                            const char *namespace_, kr_listwatch *out,
                                            kr_error_t *err);

/* A kr_timer_clock over the runtime's loop clock and timers. The
 * clock's functions are [loop thread]. *out borrows `rt`. */
KR_API void kr_timer_clock_runtime(kr_runtime_t *rt, kr_timer_clock *out);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_INFORMER_H */
