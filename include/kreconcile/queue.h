/* libkreconcile — the work queue every controller funnels its keys through:
 * client-go's util/workqueue semantics (dedup, never two workers on one key,
 * re-add while processing runs again), delayed and rate-limited adds,
 * controller-runtime's priorities, failure accounting, max retries, drain
 * with a deadline, snapshots and the client-go workqueue metrics.
 *
 * Threading: every function may be called from any thread, concurrently
 * ([any thread]); kr_queue_get blocks the calling worker. No thread is
 * created: delayed keys are moved into the queue by the queue's own calls
 * (a getter blocked in kr_queue_get waits until the earliest due time with
 * the default clock). With an injected clock the queue never waits on real
 * time: after moving the clock, call kr_queue_poll (tests do), or any other
 * queue call, to hand out keys that became due.
 *
 * Units: durations (delays) are uint64_t milliseconds named *_ms; time
 * points (kr_queue_now_ns, deadlines, snapshot times) are the queue's
 * kr_clock's nanoseconds. */
#ifndef KRECONCILE_QUEUE_H
#define KRECONCILE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kreconcile/common.h"
#include "kreconcile/metrics.h"
#include "kreconcile/ratelimit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_queue kr_queue_t;

/* Priorities (controller-runtime's priority queue): higher is handed out
 * first; FIFO among equal priorities. Informers put their initial list and
 * resync adds in the low lane so that a relist of 100,000 objects never
 * delays a real change (controller-runtime's handler.LowPriority). */
#define KR_QUEUE_PRIORITY_NORMAL 0
#define KR_QUEUE_PRIORITY_LOW (-100)

/* Returned (positive) by kr_queue_add_failed when the key exhausted its
 * retries and was dropped. */
#define KR_QUEUE_GAVE_UP 1

/* Called when a key fails more than max_retries times. `key` is borrowed for
 * the call; the queue's lock is not held (the callback may use the queue).
 * Runs on the thread that called kr_queue_add_failed / kr_queue_done_result. */
typedef void (*kr_queue_give_up_cb)(const char *key, unsigned failures, void *user);

/* Options; the zero value is a queue with client-go's defaults. */
typedef struct kr_queue_opts {
    unsigned version; /* KR_QUEUE_OPTS_VERSION (0 is taken as 1) */
    /* The `name` label of the workqueue_* metrics; copied. Metrics are
     * reported only when both name and metrics are set (as in client-go,
     * unnamed queues have none). */
    const char *name;
    kr_metrics_registry_t *metrics; /* borrowed; must outlive the queue */
    /* Stolen (freed with the queue, also when kr_queue_new fails). NULL:
     * kr_ratelimiter_new_default(), client-go's DefaultControllerRateLimiter. */
    kr_ratelimiter_t *ratelimiter;
    kr_clock clock; /* zero: CLOCK_MONOTONIC */
    /* 0: unlimited. Otherwise a key whose failure count (kr_queue_add_failed)
     * would exceed max_retries is dropped, forgotten and given to on_give_up. */
    unsigned max_retries;
    kr_queue_give_up_cb on_give_up;
    void *give_up_user;
    /* Idle keys (neither queued, processing, waiting nor failing) stay
     * interned so that adding them again allocates nothing: at most
     * idle_keys of them, or a quarter of all interned keys when that is
     * more (about 150 bytes each); 0: 16384. */
    size_t idle_keys;
} kr_queue_opts;
#define KR_QUEUE_OPTS_VERSION 1
/* clang-format off */
#define KR_QUEUE_OPTS_INIT {.version = KR_QUEUE_OPTS_VERSION}
/* clang-format on */

/* A new queue. `opts` may be NULL. *out is new (kr_queue_free).
 * Errors: KR_EEXIST (a metrics family exists with another shape), KR_ENOMEM.
 * [any thread] */
KR_API int kr_queue_new(const kr_queue_opts *opts, kr_queue_t **out, kr_error_t *err);
/* Free the queue. No call on it may be in progress or follow; shut it down
 * and join the workers first. NULL is a no-op. */
KR_API void kr_queue_free(kr_queue_t *q);

/* Queue `key` (copied) with priority KR_QUEUE_PRIORITY_NORMAL. A key already
 * queued is not queued twice (a higher priority raises it to the tail of the
 * higher lane); a key being processed is queued again when its worker calls
 * done. 0, KR_ESHUTDOWN (ignored: the queue is shutting down), KR_EINVAL
 * (NULL key), KR_ENOMEM. [any thread] */
KR_API int kr_queue_add(kr_queue_t *q, const char *key);
KR_API int kr_queue_add_priority(kr_queue_t *q, const char *key, int priority);

/* Queue `key` (copied) after `delay_ms` milliseconds (0: now). When the key
 * is already waiting, the earliest due time wins (and the higher priority).
 * Errors as kr_queue_add. [any thread] */
KR_API int kr_queue_add_after(kr_queue_t *q, const char *key, uint64_t delay_ms);
KR_API int kr_queue_add_after_priority(kr_queue_t *q, const char *key, uint64_t delay_ms,
                                       int priority);

/* client-go's AddRateLimited: queue `key` after the rate limiter's delay
 * (which grows the limiter's per-key backoff) and count a retry. It does not
 * count a failure. Errors as kr_queue_add. [any thread] */
KR_API int kr_queue_add_rate_limited(kr_queue_t *q, const char *key);
KR_API int kr_queue_add_rate_limited_priority(kr_queue_t *q, const char *key, int priority);

/* A real failure (kubernetes/kubernetes#132805: failures are counted apart
 * from plain re-adds, so that backoff grows only on real failures): count a
 * failure for `key`; when max_retries is set and exceeded, drop the key,
 * forget it, call on_give_up and return KR_QUEUE_GAVE_UP; otherwise queue it
 * after the rate limiter's delay and return 0. Errors as kr_queue_add.
 * [any thread] */
KR_API int kr_queue_add_failed(kr_queue_t *q, const char *key);
KR_API int kr_queue_add_failed_priority(kr_queue_t *q, const char *key, int priority);

/* The priority of `key`'s lane: the one a processing key was handed out
 * from (raised when it was re-added meanwhile with a higher one), or a
 * queued key's; KR_QUEUE_PRIORITY_NORMAL for any other. A worker requeues
 * with it, as controller-runtime's reconcileHandler does, so that a key of
 * the initial list that fails is retried behind the rest of that list,
 * not ahead of real changes. [any thread] */
KR_API int kr_queue_priority_of(kr_queue_t *q, const char *key);

/* Take the next key, blocking while the queue is empty. *key is borrowed:
 * valid until kr_queue_done (or kr_queue_done_get) for it. The key is then "processing": it is
 * never handed to another worker before done. Returns 0, or KR_ESHUTDOWN
 * once the queue is shut down and empty (queued keys are still handed out
 * after shutdown). [worker] */
KR_API int kr_queue_get(kr_queue_t *q, const char **key);
/* As kr_queue_get without blocking: KR_ENOTFOUND when nothing is queued. */
KR_API int kr_queue_try_get(kr_queue_t *q, const char **key);

/* The worker finished `key`: if it was re-added meanwhile it is queued
 * again. 0 or KR_ENOTFOUND (the key is not being processed). [worker] */
KR_API int kr_queue_done(kr_queue_t *q, const char *key);

/* A worker loop's step in one lock acquisition: kr_queue_done(done_key),
 * then kr_queue_get(next_key), with the same effects in the same order (a
 * key re-added while processing is queued again before the get, so it may
 * come straight back to this worker). done_key may be NULL (the loop's first
 * call: only get); it is borrowed and not used after the call returns, so it
 * may be the pointer a previous get handed out. *next_key is borrowed as with
 * kr_queue_get, NULL on error. Blocks while the queue is empty. Returns 0,
 * KR_ENOTFOUND (done_key is not processing: nothing was done or taken),
 * KR_ESHUTDOWN (done_key, if any, was done; the queue is shut down and
 * empty), KR_EINVAL (next_key NULL). [worker]
 *
 *     const char *key = NULL;
 *     while (kr_queue_done_get(q, key, &key) == 0)
 *         reconcile(key);
 */
KR_API int kr_queue_done_get(kr_queue_t *q, const char *done_key, const char **next_key);
/* As kr_queue_done_get without blocking: when nothing is queued it returns 0
 * with *next_key NULL (done_key, if any, was done). [worker] */
KR_API int kr_queue_done_try_get(kr_queue_t *q, const char *done_key, const char **next_key);

/* What a reconcile returned. */
typedef enum kr_queue_result {
    KR_QUEUE_SUCCESS = 0, /* done + forget */
    KR_QUEUE_REQUEUE = 1, /* done + plain re-add: no backoff growth (#132805) */
    KR_QUEUE_REQUEUE_AFTER = 2, /* done + forget + add_after(after_ms) */
    KR_QUEUE_ERROR = 3, /* done + add_failed: backoff grows, max retries apply */
} kr_queue_result;

/* What `result` says, then done for `key` (in client-go's order: the
 * follow-up is recorded while the key is still processing, so a re-add is
 * queued by done), with the priority the key was handed out with
 * (kr_queue_priority_of). after_ms is used by KR_QUEUE_REQUEUE_AFTER only. Returns
 * KR_ENOTFOUND when the key was not processing (the follow-up was still
 * recorded), else the follow-up's result (0, KR_QUEUE_GAVE_UP, KR_ESHUTDOWN,
 * KR_ENOMEM). [worker] */
KR_API int kr_queue_done_result(kr_queue_t *q, const char *key, kr_queue_result result,
                                uint64_t after_ms);

/* Reset `key`'s backoff and failure count (its work succeeded). [any thread] */
KR_API void kr_queue_forget(kr_queue_t *q, const char *key);
/* The rate limiter's requeue count for `key` (client-go NumRequeues). */
KR_API unsigned kr_queue_num_requeues(kr_queue_t *q, const char *key);
/* Failures counted by kr_queue_add_failed since the key was last forgotten. */
KR_API unsigned kr_queue_num_failures(kr_queue_t *q, const char *key);
/* Keys queued and not yet handed out (waiting and processing keys are not
 * counted, as in client-go). Moves due keys in first. [any thread] */
KR_API size_t kr_queue_len(kr_queue_t *q);
/* True when `key` is queued or handed out and not yet done: it will be
 * processed, or is being processed. A key waiting out a delayed add is
 * neither until due (due keys are moved in first). [any thread] */
KR_API bool kr_queue_has(kr_queue_t *q, const char *key);
/* The queue's clock: a time point in ns (for deadlines). [any thread] */
KR_API int64_t kr_queue_now_ns(kr_queue_t *q);
/* Move every key whose due time has passed into the queue and wake waiting
 * getters and drainers. Needed only with an injected clock. [any thread] */
KR_API void kr_queue_poll(kr_queue_t *q);

/* Stop accepting keys: later adds return KR_ESHUTDOWN, waiting (delayed)
 * keys are dropped, getters get the queued keys and then KR_ESHUTDOWN.
 * A kr_queue_shutdown_with_drain under way stops waiting (client-go's
 * ShutDown: how a second signal forces a program out). Idempotent.
 * [any thread] */
KR_API void kr_queue_shutdown(kr_queue_t *q);
KR_API bool kr_queue_shutting_down(kr_queue_t *q);

/* kr_queue_shutdown, then wait until every key being processed is done
 * (client-go ShutDownWithDrain), or until `deadline_ns`, a time point on the
 * queue's clock (kr_queue_now_ns(q) + timeout_ms * 1000000; < 0: no
 * deadline; one deadline can bound the drain of several queues). With an injected clock
 * the deadline is checked when kr_queue_poll or done runs. On KR_ETIMEDOUT,
 * when `unfinished` is not NULL, *unfinished is a new NULL-terminated array
 * of the keys still processing (one allocation: kr_free(*unfinished)) and
 * *n_unfinished (optional) their number; the same on KR_ECANCELED, when
 * kr_queue_shutdown ended the wait. Returns 0, KR_ETIMEDOUT or
 * KR_ECANCELED, or KR_ENOMEM when the list could not be made (the wait
 * still ended).
 * Must not be called by a worker holding a key. [any thread] */
KR_API int kr_queue_shutdown_with_drain(kr_queue_t *q, int64_t deadline_ns, char ***unfinished,
                                        size_t *n_unfinished, kr_error_t *err);

/* One key in a snapshot. */
typedef struct kr_queue_entry {
    const char *key; /* points into the snapshot */
    int priority; /* queued: its lane; processing: the lane it will requeue in */
    unsigned failures; /* kr_queue_num_failures */
    int64_t since_ns; /* when handed out / added; 0 when the queue has no metrics */
    int64_t due_ns; /* waiting: when it becomes due */
    bool dirty; /* processing: re-added, will run again after done */
} kr_queue_entry;

/* A consistent view of the queue, taken under its lock. */
typedef struct kr_queue_snapshot {
    int64_t now_ns;
    bool shutting_down;
    kr_queue_entry *queued; /* in hand-out order */
    size_t n_queued;
    kr_queue_entry *processing;
    size_t n_processing;
    kr_queue_entry *waiting; /* by due time */
    size_t n_waiting;
} kr_queue_snapshot;

/* Take a snapshot (due keys are moved in first). *out is new, one
 * allocation: kr_free(*out). Errors: KR_ENOMEM. [any thread] */
KR_API int kr_queue_snapshot_take(kr_queue_t *q, kr_queue_snapshot **out, kr_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_QUEUE_H */
