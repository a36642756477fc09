/* libkreconcile — the controller runtime: a named controller with N worker
 * threads that hands keys to a reconcile function (controller-runtime's
 * Controller and Reconciler). Sources are informers of one or several
 * clusters; events become keys through mappers (the object itself, its
 * owner, or a user function). Every cluster has its own queue lane, rate
 * limiter and backoff, served round-robin, so that one cluster's backlog or
 * failures never delay another's keys.
 *
 * Level-triggered: reconcile is handed a key, never an event. It reads the
 * desired and observed state from informer caches and makes them agree.
 *
 * Threading: the controller creates its worker threads in
 * kr_controller_start (the only threads it creates) and joins them in
 * kr_controller_stop. Event handlers run on the informers' loop thread and
 * only add keys. A key's reconcile never runs concurrently with itself.
 * Every function may be called from any thread unless it says otherwise. */
#ifndef KRECONCILE_CONTROLLER_H
#define KRECONCILE_CONTROLLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "informer.h"
#include "metrics.h"
#include "ratelimit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_controller kr_controller_t;

/* ---- Keys ------------------------------------------------------------------ */

/* What a reconcile is asked to look at. Every string is borrowed for the
 * call and never NULL ("" when absent).
 * key:        the queue key: "namespace/name" or "name" (cluster-scoped);
 *             with a cluster, "cluster/namespace/name" or "cluster/name".
 *             Cluster names never contain '/'. */
typedef struct kr_reconcile_request {
    const char *key;
    const char *cluster; /* "" for a source without a cluster name */
    const char *namespace_; /* "" for cluster-scoped objects */
    const char *name;
} kr_reconcile_request;

/* Split a queue key into its parts (as kr_reconcile_request has them).
 * `with_cluster` says whether the key carries a cluster name. The parts
 * are written into `buf` (`buf_len` bytes, at least strlen(key) + 3) and
 * point into it. Errors: KR_EINVAL (malformed key), KR_ETOOLARGE (buf too
 * small). [any thread] */
KR_API int kr_controller_key_parse(const char *key, bool with_cluster, char *buf, size_t buf_len,
                                   kr_reconcile_request *out);

/* ---- Reconcile ------------------------------------------------------------- */

/* What a reconcile decided. */
typedef enum kr_reconcile_result {
    KR_RECONCILE_DONE = 0, /* converged: forget the key's backoff */
    KR_RECONCILE_REQUEUE = 1, /* look again after the rate limiter's delay; no failure counted */
    KR_RECONCILE_REQUEUE_AFTER = 2, /* look again after *requeue_after_ms; backoff forgotten
                                       (0 ms: as KR_RECONCILE_DONE, controller-runtime's
                                       RequeueAfter: 0) */
    KR_RECONCILE_ERROR = 3, /* failed: logged with the key, requeued with growing backoff */
    KR_RECONCILE_TERMINAL = 4, /* failed for good (controller-runtime's TerminalError):
                                  logged and counted, never requeued until the next event;
                                  the key's backoff is kept, not forgotten */
} kr_reconcile_result;

/* The reconcile function, run on a worker thread; it may block (client
 * calls from a worker are marshalled to the loop thread and waited on).
 * `req` is borrowed for the call. With KR_RECONCILE_REQUEUE_AFTER it sets
 * *requeue_after_ms; with KR_RECONCILE_ERROR or KR_RECONCILE_TERMINAL it
 * should fill `err` (its message is the `error` field of the line logged
 * with the key). `ctl` lets it enqueue other keys. [worker] */
typedef kr_reconcile_result (*kr_reconcile_cb)(kr_controller_t *ctl,
                                               const kr_reconcile_request *req,
                                               uint64_t *requeue_after_ms, kr_error_t *err,
                                               void *user);

/* A per-cluster rate limiter factory: returns a new limiter for the lane of
 * `cluster` ("" for the unnamed one), or NULL on allocation failure. The
 * controller frees it. [any thread] */
typedef kr_ratelimiter_t *(*kr_controller_ratelimiter_cb)(const char *cluster, void *user);

#define KR_CONTROLLER_OPTS_VERSION 2
/* clang-format off */
#define KR_CONTROLLER_OPTS_INIT {.version = KR_CONTROLLER_OPTS_VERSION}
/* clang-format on */

/* Options; zero means the default. Strings are copied. */
typedef struct kr_controller_opts {
    unsigned version; /* KR_CONTROLLER_OPTS_VERSION (0 is taken as 1) */
    /* Required: names the controller in logs and as the `controller` label
     * of its metrics (also the workqueue `name`, per cluster lane
     * "name/cluster") and in /readyz: not empty, and no control characters
     * (bytes below 0x20, 0x7f) or quotes ('"', '\''). Unique in a manager. */
    const char *name;
    kr_reconcile_cb reconcile; /* required */
    void *user; /* given to reconcile, mappers and the ratelimiter factory */
    /* Worker threads (controller-runtime's MaxConcurrentReconciles); 0 = 1; at most
     * 10000 (KR_EINVAL above). */
    unsigned workers;
    /* NULL: every lane gets kr_ratelimiter_new_default() (client-go's
     * DefaultControllerRateLimiter: max of per-item exponential 5 ms..1000 s
     * and a 10 qps / burst 100 bucket). */
    kr_controller_ratelimiter_cb new_ratelimiter;
    /* Workers start only after every source's informer has synced, waiting
     * at most this long (then start fails its workers and the controller
     * reports not ready); 0 = 120000 (controller-runtime's CacheSyncTimeout).
     * A source added once started (kr_controller_watch) gets as long from
     * its addition, then the controller fails the same way. */
    uint64_t cache_sync_timeout_ms;
    /* kr_controller_stop waits this long for in-flight reconciles before it
     * logs them, then waits on (a reconcile is never killed: bound its
     * requests with the client configuration's timeout_ms); 0 = 30000. */
    uint64_t shutdown_timeout_ms;
    /* Retries after which a failing key is dropped (logged and counted as
     * terminal): it is dropped at its failure max_retries + 1, failures
     * counted since its last KR_RECONCILE_DONE or REQUEUE_AFTER (a
     * REQUEUE or TERMINAL result keeps the count, as it keeps the
     * backoff); 0 = never. */
    unsigned max_retries;
    kr_metrics_registry_t *metrics; /* borrowed; NULL = no metrics */
    kr_logger logger;
    kr_clock clock; /* zero: CLOCK_MONOTONIC (tests inject one) */
    /* Version 2. At most this many workers on one lane's keys at once
     * (0: no cap): a cluster whose requests hang until their timeout then
     * holds that many workers at most, and the other lanes keep the rest.
     * A lane at its cap waits with its keys queued; workers look at it
     * again every 100 ms, and the worker that frees a slot takes the next
     * key itself. */
    unsigned lane_workers;
} kr_controller_opts;

/* Create a stopped controller. *out is new (kr_controller_free).
 * Errors: KR_EINVAL (no name or reconcile; a name with a control
 * character or a quote; a metrics family clash),
 * KR_ENOMEM. [any thread] */
KR_API int kr_controller_new(const kr_controller_opts *opts, kr_controller_t **out,
                             kr_error_t *err);

/* ---- Sources ---------------------------------------------------------------- */

/* How an event on a source becomes keys. */
typedef enum kr_controller_map {
    KR_CONTROLLER_MAP_SELF = 0, /* the object's own key */
    /* The key of every owner in metadata.ownerReferences whose kind is
     * owner_kind (and whose apiVersion's group is owner_group, when set),
     * in the object's namespace, or with no namespace when the source says
     * owner_cluster_scoped (controller-runtime's EnqueueRequestForOwner,
     * which asks its RESTMapper for the owner's scope); only the one that
     * is the object's controller with owner_controller_only. */
    KR_CONTROLLER_MAP_OWNER = 1,
    KR_CONTROLLER_MAP_FUNC = 2, /* map_cb decides, calling kr_controller_enqueue */
} kr_controller_map;

/* A user mapper: called on the loop thread for each event's object
 * (borrowed; for updates the new object, and the old one as well when it
 * differs); it enqueues keys with kr_controller_enqueue*. Must not block.
 * [loop thread] */
typedef void (*kr_controller_map_cb)(kr_controller_t *ctl, const char *cluster, const json_t *obj,
                                     void *user);

/* An optional event filter (controller-runtime's predicates): return false
 * to ignore the event. `old_obj` is NULL except for updates; for deletes
 * `new_obj` is the deleted object. [loop thread] */
typedef bool (*kr_controller_predicate_cb)(const json_t *old_obj, const json_t *new_obj,
                                           void *user);

/* Predicates of common use, controller-runtime's of the same names: each
 * lets creates and deletes through and, of the updates, only those that
 * change what it names: metadata.generation (a spec change, for kinds that
 * keep one: not a status-only write), metadata.resourceVersion (drops
 * resyncs), the labels, the annotations (absent and empty are the same).
 * Pass one as `predicate` (its user is unused). [any thread] */
KR_API bool kr_predicate_generation_changed(const json_t *old_obj, const json_t *new_obj,
                                            void *user);
KR_API bool kr_predicate_resource_version_changed(const json_t *old_obj, const json_t *new_obj,
                                                  void *user);
KR_API bool kr_predicate_labels_changed(const json_t *old_obj, const json_t *new_obj, void *user);
KR_API bool kr_predicate_annotations_changed(const json_t *old_obj, const json_t *new_obj,
                                             void *user);

#define KR_CONTROLLER_SOURCE_VERSION 6
/* clang-format off */
#define KR_CONTROLLER_SOURCE_INIT {.version = KR_CONTROLLER_SOURCE_VERSION}
/* clang-format on */

/* One source. Strings are copied; the informer is borrowed and must outlive
 * the controller (or the controller must be stopped first). */
typedef struct kr_controller_source {
    unsigned version; /* KR_CONTROLLER_SOURCE_VERSION (0 is taken as 1) */
    kr_informer_t *informer; /* required */
    /* The cluster this informer watches: keys carry it and it selects the
     * lane. NULL or "": the controller's unnamed lane. A controller whose
     * sources name clusters hands out keys with the cluster prefix. */
    const char *cluster;
    kr_controller_map map;
    const char *owner_kind; /* KR_CONTROLLER_MAP_OWNER: required */
    const char *owner_group; /* KR_CONTROLLER_MAP_OWNER: optional ("" = core) */
    kr_controller_map_cb map_cb; /* KR_CONTROLLER_MAP_FUNC: required */
    void *map_user;
    kr_controller_predicate_cb predicate; /* NULL: every event */
    void *predicate_user;
    /* Keys from the initial list and from resyncs go to the low-priority
     * lane (controller-runtime's LowPriorityWhenUnchanged); default true.
     * Set `normal_priority_resync` to put them in the normal lane. */
    bool normal_priority_resync;
    /* Version 2 (never read when version is 0 or 1). The controller's
     * workers start once every source synced, as controller-runtime's do;
     * a source with lane_sync is left out of that wait and holds back its
     * own cluster's lane instead: that lane's keys wait in its queue until
     * this informer has synced. One cluster unreachable when the program
     * starts (or when a new leader takes over) then delays nobody else,
     * and its keys are reconciled once its cache is whole, never against
     * an empty one. Workers look at a held lane every 100 ms. */
    bool lane_sync;
    /* Version 3 (never read below): KR_CONTROLLER_MAP_OWNER's owner kind
     * is cluster-scoped (a Namespace, a ClusterRole, a cluster-scoped
     * custom resource): its keys have no namespace, whatever the
     * dependent's. */
    bool owner_cluster_scoped;
    /* Version 4 (never read below): every resync_ms the informer hands
     * each cached object to this source again (an update with the same
     * object: low priority unless normal_priority_resync), so every key is
     * reconciled at least that often even when nothing changes —
     * controller-runtime's SyncPeriod, per source. 0 = never; a period
     * under 1000 ms is raised to 1000 (client-go's minimum), with a
     * warning logged, and the source is added. */
    uint64_t resync_ms;
    /* Version 5 (never read below): the reconciler asks
     * kr_informer_has_synced itself and copes with this informer's cache
     * not being whole yet (it requeues, or reads another's absence as
     * nothing): nobody waits on this source, neither the start nor, added
     * while running, the gate; it holds no lane (lane_sync is then
     * ignored), counts for neither readiness nor cache_sync_timeout_ms.
     * For an informer of a cluster that may be unreachable, made on
     * demand by a reconcile (kr-submitter's workload informers). */
    bool unsynced_ok;
    /* Version 6 (never read below): KR_CONTROLLER_MAP_OWNER maps only to
     * the owner whose reference is the object's controller
     * ("controller": true; controller-runtime's OnlyControllerOwner),
     * rather than to every owner of the kind. */
    bool owner_controller_only;
} kr_controller_source;

/* Register a source: add a handler to its informer. Before start or while
 * running. A source added while running (but a lane_sync one, which holds
 * its own lane as ever, and an unsynced_ok one) is waited on as the start
 * waits on the first ones: until its informer has synced, no worker takes
 * a key (its own, nor any other: a reconcile may read its cache) and the
 * controller is not ready; if it has not synced within cache_sync_timeout_ms of this call,
 * the controller fails (kr_controller_failed, logged naming the informer;
 * its manager stops with exit code 1). Errors: KR_EINVAL, KR_ENOMEM,
 * KR_ESHUTDOWN, KR_EEXIST (making a new cluster's lane met a metrics
 * family of another shape). [any thread] */
KR_API int kr_controller_watch(kr_controller_t *ctl, const kr_controller_source *src,
                               kr_error_t *err);

/* ---- Life ------------------------------------------------------------------- */

/* Start: the workers wait for every source to sync (cache_sync_timeout_ms),
 * (but lane_sync ones, which hold their lane), then reconcile. Returns at once. Errors: KR_ESTATE
 * (started twice or stopped), KR_ENOMEM, KR_EIO (a thread could not be created). [any thread] */
KR_API int kr_controller_start(kr_controller_t *ctl, kr_error_t *err);

/* Graceful stop: remove the handlers from the informers (no new keys),
 * shut the queues down, let in-flight reconciles finish within
 * shutdown_timeout_ms, join the workers. Returns 0, or KR_ETIMEDOUT when
 * some reconcile did not finish in time (the workers are still joined
 * when those return: a reconcile is never killed, so the stop takes as
 * long as the slowest one; a request to a hung apiserver lasts as long as
 * the client configuration's timeout_ms allows). Idempotent. Not from a
 * worker or a handler. [any thread] */
KR_API int kr_controller_stop(kr_controller_t *ctl, kr_error_t *err);

/* Stop if needed and free. NULL is a no-op. */
KR_API void kr_controller_free(kr_controller_t *ctl);

/* True once started, every current source synced (but those of
 * `lane_sync`, whose clusters sync on their own: also one added while
 * running, and those of `unsynced_ok`) and the workers run; false again
 * while a source added since has not synced, once failed and once
 * stopping. */
KR_API bool kr_controller_ready(const kr_controller_t *ctl);

/* True when its workers gave up waiting for the caches to sync
 * (cache_sync_timeout_ms, also for a source added while running): it
 * reconciles nothing from then on and never will. As
 * controller-runtime's failed Start, a program should exit (a manager
 * stops with exit code 1), so that another replica, or a restart, can do
 * better. [any thread] */
KR_API bool kr_controller_failed(const kr_controller_t *ctl);

/* True once its stop has begun (kr_controller_stop, or its manager's
 * stop): no new reconcile starts. A reconcile that takes long checks it
 * between its steps and returns early (KR_RECONCILE_REQUEUE: the key is
 * looked at again by whoever runs next), as a controller-runtime
 * reconciler returns when its context is cancelled, so that the stop
 * finishes within shutdown_timeout_ms. [any thread] */
KR_API bool kr_controller_stopping(const kr_controller_t *ctl);

/* The controller's name (borrowed). */
KR_API const char *kr_controller_name(const kr_controller_t *ctl);

/* ---- Enqueueing --------------------------------------------------------------- */

/* Queue the key of (namespace, name) on `cluster`'s lane (NULL or "" for
 * the unnamed lane). `namespace_` NULL or "" for cluster-scoped objects.
 * Errors: KR_EINVAL, KR_ENOMEM, KR_ESHUTDOWN (ignored by handlers),
 * KR_EEXIST (as kr_controller_watch, when it makes the lane).
 * [any thread] */
KR_API int kr_controller_enqueue(kr_controller_t *ctl, const char *cluster, const char *namespace_,
                                 const char *name);
/* The same after `delay_ms`. */
KR_API int kr_controller_enqueue_after(kr_controller_t *ctl, const char *cluster,
                                       const char *namespace_, const char *name, uint64_t delay_ms);
/* Queue a ready-made key (as kr_reconcile_request.key): "cluster/ns/name"
 * goes to that cluster's lane (made when missing), "cluster/name" to the
 * cluster's when it has a lane, else "ns/name" and "name" to the unnamed
 * lane. A controller with no cluster's lane yet (none of its sources names
 * a cluster, and no key was enqueued for one) has keys without a cluster:
 * "a/b/c" is refused there (KR_EINVAL) rather than make a lane "a".
 * Errors: as kr_controller_enqueue. */
KR_API int kr_controller_enqueue_key(kr_controller_t *ctl, const char *key);

/* ---- Introspection -------------------------------------------------------------- */

typedef struct kr_controller_stats {
    uint64_t reconciles; /* every finished reconcile */
    uint64_t done, requeues, requeues_after, errors, terminal_errors, gave_up;
    unsigned active_workers; /* reconciling right now */
    size_t queued; /* keys queued in every lane */
    size_t lanes; /* clusters with a lane */
} kr_controller_stats;

/* Counters since creation; out_size is sizeof *out (common.h, Statistics).
 * [any thread] */
KR_API void kr_controller_get_stats(const kr_controller_t *ctl, kr_controller_stats *out,
                                    size_t out_size);

/* The number of keys queued in `cluster`'s lane (NULL or "" for the unnamed
 * one); 0 for an unknown cluster. [any thread] */
KR_API size_t kr_controller_queue_len(kr_controller_t *ctl, const char *cluster);
/* True when the key of (namespace_, name) is queued in `cluster`'s lane or
 * handed to a worker there and not yet done (being reconciled, or just
 * reconciled and its result not yet recorded): a reconcile of it is coming
 * or running. A key waiting out a requeue delay is not, until due.
 * [any thread] */
KR_API bool kr_controller_pending(kr_controller_t *ctl, const char *cluster, const char *namespace_,
                                  const char *name);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_CONTROLLER_H */
