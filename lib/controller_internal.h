/* libkreconcile — internals of the controller runtime shared by its two
 * files: controller.c (lanes, workers, life, metrics) and
 * controller_source.c (keys, sources, event mapping, enqueueing).
 * Never installed; nothing here is part of the ABI. */
#ifndef KR_LIB_CONTROLLER_INTERNAL_H
#define KR_LIB_CONTROLLER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kreconcile/controller.h"
#include "kreconcile/queue.h"
#include "lock.h"

#define KR_CONTROLLER_MODULE "controller"

/* One cluster's lane: its own queue (with its own rate limiter and
 * backoff). Lanes are created on demand and live as long as the controller. */
typedef struct kr_controller_lane {
    kr_controller_t *ctl;
    char *cluster; /* "" for the unnamed lane */
    size_t cluster_len;
    bool named; /* keys carry the cluster */
    kr_queue_t *q;
    /* a lane_sync source of this lane has not synced yet: its keys wait
     * (set and cleared under the controller's mu) */
    atomic_bool held;
    /* workers on this lane's keys now (under the controller's lane_workers) */
    atomic_uint busy;
} kr_controller_lane;

/* One registered source. */
typedef struct kr_controller_src {
    kr_controller_t *ctl;
    kr_informer_t *informer;
    kr_controller_lane *lane;
    kr_controller_map map;
    char *owner_kind;
    char *owner_group; /* NULL: any group */
    kr_controller_map_cb map_cb;
    void *map_user;
    kr_controller_predicate_cb predicate;
    void *predicate_user;
    bool normal_priority_resync;
    bool lane_sync; /* holds its lane until synced, not the workers' start */
    bool unsynced_ok; /* waited on by nobody: the reconciler looks itself */
    bool owner_cluster_scoped; /* owners' keys have no namespace */
    bool owner_controller_only; /* only the owner reference with controller: true */
    /* added once the controller had started: until it synced (lane_sync
     * aside) no worker takes a key and the controller is not ready; past
     * deadline_ns (monotonic) the controller fails */
    bool late;
    int64_t deadline_ns;
    int handler_id;
} kr_controller_src;

typedef enum kr_controller_state {
    KR_CTL_NEW = 0,
    KR_CTL_STARTED = 1,
    KR_CTL_STOPPED = 2,
} kr_controller_state;

struct kr_controller_worker;

struct kr_controller {
    char *name;
    kr_reconcile_cb reconcile;
    void *user;
    unsigned nworkers;
    unsigned lane_workers; /* at most this many on one lane at once; 0: no cap */
    kr_controller_ratelimiter_cb new_ratelimiter;
    uint64_t cache_sync_timeout_ms;
    uint64_t shutdown_timeout_ms;
    unsigned max_retries;
    kr_metrics_registry_t *metrics;
    kr_logger logger;
    kr_clock clock;
    bool injected_clock;

    /* Guards state, the sources and lane creation. Never held while calling
     * a queue or an informer. */
    pthread_mutex_t mu;
    kr_controller_state state;
    kr_controller_src **sources;
    size_t nsources, sources_cap;
    /* sources being added that hold a lane or the gate: until they are in
     * `sources`, neither is let go */
    size_t adding;
    /* a source added while running has not synced (lane_sync ones aside):
     * the workers take no key (set and cleared under mu) */
    atomic_bool gated;

    /* The lanes, readable without a lock: an array only ever replaced by a
     * larger copy (old copies are kept until free), published before the
     * count that covers the new entry. */
    _Atomic(kr_controller_lane **) lanes;
    atomic_size_t nlanes;
    size_t lanes_cap;
    kr_controller_lane ***retired; /* replaced arrays, freed with the controller */
    size_t nretired;
    atomic_size_t round_robin;

    struct kr_controller_worker *workers;
    unsigned nthreads; /* threads created */

    /* Idle workers sleep on idle_cond (a leaf lock: taken by the queues'
     * wake hooks under their own locks, so nothing else is called while
     * it is held). wake_seq moves on every wake; `idle` counts sleepers so
     * that a wake with nobody asleep costs one atomic add. */
    kr_mutex idle_mu;
    kr_cond idle_cond;
    atomic_uint wake_seq;
    atomic_uint idle;
    atomic_bool stopping;
    atomic_bool ready;
    atomic_bool sync_failed;
    atomic_uint active;

    /* counters (kr_controller_stats) */
    atomic_uint_fast64_t n_reconciles, n_done, n_requeues, n_requeues_after, n_errors, n_terminal,
        n_gave_up;
    atomic_uint_fast64_t n_gated_waits; /* workers' waits behind the gate (for the tests) */

    /* metrics: NULL without a registry (updates then do nothing) */
    kr_metric_t *m_success, *m_error, *m_requeue, *m_requeue_after;
    kr_metric_t *m_errors, *m_terminal, *m_time, *m_max_concurrent, *m_active;
};

/* The lane of `cluster` (NULL or "": the unnamed one), created when
 * missing and `create` is set. 0, KR_ENOTFOUND (not created), KR_EINVAL
 * (a '/' in the name), KR_ESHUTDOWN (stopped), KR_ENOMEM. [any thread] */
int kr_controller_lane_get(kr_controller_t *ctl, const char *cluster, bool create,
                           kr_controller_lane **out, kr_error_t *err);

/* True when the controller has a named lane: a source of a named cluster
 * was watched, or a key enqueued for one. [any thread] */
bool kr_controller_has_cluster_lanes(kr_controller_t *ctl);

/* Queue ns/name on `lane` with `priority` after `delay_ms` (0: now).
 * Errors: KR_EINVAL (empty name, '/' in a part), KR_ENOMEM, KR_ESHUTDOWN. */
int kr_controller_lane_add(kr_controller_lane *lane, const char *namespace_, const char *name,
                           int priority, uint64_t delay_ms);

/* Remove every source's handler (stop). */
void kr_controller_sources_remove(kr_controller_t *ctl);
/* Free the sources (free). */
void kr_controller_sources_free(kr_controller_t *ctl);
/* True when every source's informer has synced. */
bool kr_controller_sources_synced(kr_controller_t *ctl);
/* The sources whose informers have not synced (lane_sync ones aside),
 * ", "-separated, for the sync timeout's log line. */
void kr_controller_unsynced_sources(kr_controller_t *ctl, char *out, size_t len);
/* True once no lane_sync source of `lane` is still to sync (then for
 * good, unless another such source is added). [any thread] */
bool kr_controller_lane_ready(kr_controller_t *ctl, kr_controller_lane *lane);
/* True once every source added while running has synced (lane_sync ones
 * aside). One that has not within cache_sync_timeout_ms of its addition
 * fails the controller (logged once, sync_failed set, workers woken).
 * [any thread] */
bool kr_controller_gate_open(kr_controller_t *ctl);

/* kr_controller_stop in two halves, so that a caller stopping several
 * controllers cuts them all off before it waits for any (the manager:
 * none may start a reconcile once leadership is gone). stop_begin removes
 * the handlers and shuts the queues down; it returns true when this call
 * stopped the controller, and the caller must then stop_wait: in-flight
 * reconciles get shutdown_timeout_ms from `since_ns` (the monotonic clock)
 * and the workers are joined. [any thread, not a worker or a handler] */
bool kr_controller_stop_begin(kr_controller_t *ctl);
int kr_controller_stop_wait(kr_controller_t *ctl, int64_t since_ns, kr_error_t *err);

#endif /* KR_LIB_CONTROLLER_INTERNAL_H */
