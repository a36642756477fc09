/* libkreconcile — the controller runtime: per-cluster lanes (one kr_queue
 * and rate limiter each) served round-robin by N worker threads, the
 * reconcile result handling, metrics with controller-runtime's names, and
 * the controller's life (start after the caches sync, graceful stop).
 * Workers never wait on one lane's queue: they sleep on the controller's
 * own condition, woken by every lane's wake hook (queue_internal.h), so
 * that a key in any lane, or a delayed key coming due, wakes one of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller_internal.h"
#include "internal.h"
#include "queue_internal.h"

#define DEFAULT_CACHE_SYNC_TIMEOUT_MS 120000
#define DEFAULT_SHUTDOWN_TIMEOUT_MS 30000
#define MAX_WORKERS 10000u /* a thread each */
/* With an injected clock nothing says when time moves: idle workers with
 * delayed keys pending look at the clock again this often. */
#define INJECTED_CLOCK_POLL_NS (2LL * 1000 * 1000)
/* How often the first worker looks at the informers while waiting for sync. */
#define SYNC_POLL_NS (10LL * 1000 * 1000)
/* How often workers look again at a lane held for its source's sync. */
#define LANE_SYNC_POLL_NS (100LL * 1000 * 1000)

typedef struct kr_controller_worker {
    kr_controller_t *ctl;
    pthread_t thread;
    unsigned index;
    char *buf; /* the parsed request's parts */
    size_t buf_len;
    kr_error_t err;
} kr_controller_worker;

/* ---- waking workers ------------------------------------------------------------------ */

/* The lanes' wake hook, under the lane queue's lock. */
static void lane_wake(bool due_changed, void *user)
{
    kr_controller_lane *lane = user;
    kr_controller_t *ctl = lane->ctl;
    atomic_fetch_add(&ctl->wake_seq, 1);
    if (atomic_load(&ctl->idle) == 0)
        return;
    kr_mutex_lock(&ctl->idle_mu);
    if (due_changed)
        kr_cond_broadcast(&ctl->idle_cond);
    else
        kr_cond_signal(&ctl->idle_cond);
    kr_mutex_unlock(&ctl->idle_mu);
}

static void wake_all(kr_controller_t *ctl)
{
    kr_mutex_lock(&ctl->idle_mu);
    atomic_fetch_add(&ctl->wake_seq, 1);
    kr_cond_broadcast(&ctl->idle_cond);
    kr_mutex_unlock(&ctl->idle_mu);
}

static void timespec_from_ns(struct timespec *ts, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

/* ---- lanes --------------------------------------------------------------------------- */

static void lanes_snapshot(kr_controller_t *ctl, kr_controller_lane ***lanes, size_t *n)
{
    *n = atomic_load_explicit(&ctl->nlanes, memory_order_acquire);
    *lanes = atomic_load_explicit(&ctl->lanes, memory_order_acquire);
}

static kr_controller_lane *lane_find(kr_controller_t *ctl, const char *cluster)
{
    kr_controller_lane **lanes;
    size_t n;
    lanes_snapshot(ctl, &lanes, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(lanes[i]->cluster, cluster) == 0)
            return lanes[i];
    return NULL;
}

bool kr_controller_has_cluster_lanes(kr_controller_t *ctl)
{
    kr_controller_lane **lanes;
    size_t n;
    lanes_snapshot(ctl, &lanes, &n);
    for (size_t i = 0; i < n; i++)
        if (lanes[i]->named)
            return true;
    return false;
}

static void lane_free(kr_controller_lane *lane)
{
    if (!lane)
        return;
    kr_queue_free(lane->q);
    kr_free(lane->cluster);
    kr_free(lane);
}

/* On give-up (max_retries): the key is dropped and counted as terminal. */
static void lane_give_up(const char *key, unsigned failures, void *user)
{
    kr_controller_lane *lane = user;
    kr_controller_t *ctl = lane->ctl;
    atomic_fetch_add(&ctl->n_gave_up, 1);
    kr_metrics_counter_add(ctl->m_terminal, 1);
    kr_log_field fields[] = {
        {"controller", ctl->name}, {"cluster", lane->named ? lane->cluster : NULL}, {"key", key}};
    kr_log_fields(&ctl->logger, KR_LOG_ERROR, KR_CONTROLLER_MODULE, fields, KR_ARRAY_LEN(fields),
                  "dropping the key after %u failures (max_retries %u)", failures,
                  ctl->max_retries);
}

static int lane_new(kr_controller_t *ctl, const char *cluster, kr_controller_lane **out,
                    kr_error_t *err)
{
    kr_controller_lane *lane = kr_calloc(1, sizeof(*lane));
    char *qname = cluster[0] ? kr_asprintf("%s/%s", ctl->name, cluster) : kr_strdup(ctl->name);
    if (!lane || !qname || !(lane->cluster = kr_strdup(cluster))) {
        kr_free(qname);
        lane_free(lane);
        return kr_error_set(err, KR_ENOMEM, "controller %s: out of memory", ctl->name);
    }
    lane->ctl = ctl;
    lane->cluster_len = strlen(cluster);
    lane->named = cluster[0] != '\0';
    kr_queue_opts qo = {.name = qname,
                        .metrics = ctl->metrics,
                        .clock = ctl->clock,
                        .max_retries = ctl->max_retries,
                        .on_give_up = lane_give_up,
                        .give_up_user = lane};
    if (ctl->new_ratelimiter && !(qo.ratelimiter = ctl->new_ratelimiter(cluster, ctl->user))) {
        kr_free(qname);
        lane_free(lane);
        return kr_error_set(err, KR_ENOMEM, "controller %s: no rate limiter for cluster '%s'",
                            ctl->name, cluster);
    }
    int rc = kr_queue_new(&qo, &lane->q, err);
    kr_free(qname);
    if (rc != 0) {
        lane_free(lane);
        return rc;
    }
    kr_queue_set_wake(lane->q, lane_wake, lane);
    *out = lane;
    return 0;
}

/* Append `lane` (mu held): a larger copy of the array is published first,
 * then the count. */
static int lane_publish(kr_controller_t *ctl, kr_controller_lane *lane)
{
    size_t n = atomic_load(&ctl->nlanes);
    kr_controller_lane **cur = atomic_load(&ctl->lanes);
    if (n == ctl->lanes_cap) {
        size_t cap = ctl->lanes_cap ? ctl->lanes_cap * 2 : 4;
        kr_controller_lane **grown = kr_calloc(cap, sizeof(kr_controller_lane *));
        kr_controller_lane ***retired =
            cur ? kr_realloc(ctl->retired, (ctl->nretired + 1) * sizeof(*retired)) : ctl->retired;
        if (!grown || (cur && !retired)) {
            kr_free(grown);
            return KR_ENOMEM;
        }
        if (cur) {
            memcpy(grown, cur, n * sizeof(kr_controller_lane *));
            ctl->retired = retired;
            ctl->retired[ctl->nretired++] = cur;
        }
        grown[n] = lane;
        ctl->lanes_cap = cap;
        atomic_store_explicit(&ctl->lanes, grown, memory_order_release);
    } else {
        cur[n] = lane;
    }
    atomic_store_explicit(&ctl->nlanes, n + 1, memory_order_release);
    return 0;
}

int kr_controller_lane_get(kr_controller_t *ctl, const char *cluster, bool create,
                           kr_controller_lane **out, kr_error_t *err)
{
    if (!cluster)
        cluster = "";
    if (strchr(cluster, '/'))
        return kr_error_set(err, KR_EINVAL, "controller %s: cluster name '%s' contains '/'",
                            ctl->name, cluster);
    kr_controller_lane *lane = lane_find(ctl, cluster);
    if (lane || !create) {
        *out = lane;
        return lane ? 0 : KR_ENOTFOUND;
    }
    pthread_mutex_lock(&ctl->mu);
    int rc = 0;
    if (ctl->state == KR_CTL_STOPPED) {
        rc = kr_error_set(err, KR_ESHUTDOWN, "controller %s: stopped", ctl->name);
    } else if (!(lane = lane_find(ctl, cluster))) {
        rc = lane_new(ctl, cluster, &lane, err);
        if (rc == 0 && (rc = lane_publish(ctl, lane)) != 0) {
            lane_free(lane);
            lane = NULL;
            kr_error_set(err, rc, "controller %s: out of memory", ctl->name);
        }
    }
    pthread_mutex_unlock(&ctl->mu);
    *out = lane;
    return rc;
}

/* ---- reconciling --------------------------------------------------------------------- */

static void log_failure(kr_controller_t *ctl, const kr_controller_lane *lane, const char *key,
                        const kr_error_t *err, bool terminal)
{
    const char *msg = err->message[0] ? err->message
                      : err->code     ? kr_strerror(err->code)
                                      : "reconcile failed";
    kr_log_field fields[] = {{"controller", ctl->name},
                             {"cluster", lane->named ? lane->cluster : NULL},
                             {"key", key},
                             {"error", msg}};
    kr_log_fields(&ctl->logger, KR_LOG_ERROR, KR_CONTROLLER_MODULE, fields, KR_ARRAY_LEN(fields),
                  terminal ? "Reconciler error (terminal: not requeued)" : "Reconciler error");
}

/* The follow-up of one reconcile, while the key is still processing (done
 * comes with the worker's next get). */
static void follow_up(kr_controller_t *ctl, kr_controller_lane *lane, const char *key,
                      kr_reconcile_result result, uint64_t after_ms, const kr_error_t *err)
{
    atomic_fetch_add(&ctl->n_reconciles, 1);
    if (result == KR_RECONCILE_REQUEUE_AFTER && after_ms == 0)
        result = KR_RECONCILE_DONE; /* controller-runtime's RequeueAfter: 0 */
    /* a requeue keeps the priority the key was handed out with (as
     * controller-runtime's): a key of the initial list that fails is
     * retried behind the rest of it, not ahead of real changes */
    int priority = result == KR_RECONCILE_DONE || result == KR_RECONCILE_TERMINAL
                       ? KR_QUEUE_PRIORITY_NORMAL
                       : kr_queue_priority_of(lane->q, key);
    switch (result) {
    case KR_RECONCILE_DONE:
        atomic_fetch_add(&ctl->n_done, 1);
        kr_metrics_counter_add(ctl->m_success, 1);
        kr_queue_forget(lane->q, key);
        break;
    case KR_RECONCILE_REQUEUE:
        atomic_fetch_add(&ctl->n_requeues, 1);
        kr_metrics_counter_add(ctl->m_requeue, 1);
        (void)kr_queue_add_rate_limited_priority(lane->q, key, priority); /* ESHUTDOWN: stop */
        break;
    case KR_RECONCILE_REQUEUE_AFTER:
        atomic_fetch_add(&ctl->n_requeues_after, 1);
        kr_metrics_counter_add(ctl->m_requeue_after, 1);
        kr_queue_forget(lane->q, key);
        (void)kr_queue_add_after_priority(lane->q, key, after_ms, priority);
        break;
    case KR_RECONCILE_TERMINAL:
        atomic_fetch_add(&ctl->n_terminal, 1);
        kr_metrics_counter_add(ctl->m_error, 1);
        kr_metrics_counter_add(ctl->m_errors, 1);
        kr_metrics_counter_add(ctl->m_terminal, 1);
        log_failure(ctl, lane, key, err, true);
        /* neither requeued nor forgotten, as in controller-runtime: the
         * backoff the key built up goes on with its next failure */
        break;
    case KR_RECONCILE_ERROR:
    default:
        atomic_fetch_add(&ctl->n_errors, 1);
        kr_metrics_counter_add(ctl->m_error, 1);
        kr_metrics_counter_add(ctl->m_errors, 1);
        log_failure(ctl, lane, key, err, false);
        /* KR_QUEUE_GAVE_UP: lane_give_up logged and counted it */
        (void)kr_queue_add_failed_priority(lane->q, key, priority);
        break;
    }
}

/* Reconcile one key handed out by `lane`. False when the controller is
 * stopping and the key was not reconciled. */
static bool reconcile_one(kr_controller_worker *w, kr_controller_lane *lane, const char *key)
{
    kr_controller_t *ctl = w->ctl;
    /* seq_cst against kr_controller_stop: either it sees this worker
     * active and waits for it, or this worker sees it stopping */
    atomic_fetch_add(&ctl->active, 1);
    if (atomic_load(&ctl->stopping)) {
        atomic_fetch_sub(&ctl->active, 1);
        return false;
    }
    size_t need = strlen(key) + 3;
    if (need > w->buf_len) {
        char *grown = kr_realloc(w->buf, need * 2);
        if (grown) {
            w->buf = grown;
            w->buf_len = need * 2;
        }
    }
    kr_reconcile_request req;
    int rc = kr_controller_key_parse(key, lane->named, w->buf, w->buf_len, &req);
    if (rc != 0) {
        /* out of memory for the parts (a malformed key never gets queued):
         * look again later */
        w->err.code = rc;
        snprintf(w->err.message, sizeof(w->err.message), "cannot parse key: %s", kr_strerror(rc));
        follow_up(ctl, lane, key, KR_RECONCILE_ERROR, 0, &w->err);
    } else {
        kr_metrics_gauge_add(ctl->m_active, 1);
        uint64_t after_ms = 0;
        w->err.code = 0;
        w->err.message[0] = '\0';
        int64_t t0 = ctl->m_time ? kr_clock_read(&ctl->clock) : 0;
        kr_reconcile_result result = ctl->reconcile(ctl, &req, &after_ms, &w->err, ctl->user);
        if (ctl->m_time)
            kr_metrics_histogram_observe(ctl->m_time,
                                         (double)(kr_clock_read(&ctl->clock) - t0) / 1e9);
        kr_metrics_gauge_add(ctl->m_active, -1);
        follow_up(ctl, lane, key, result, after_ms, &w->err);
    }
    atomic_fetch_sub(&ctl->active, 1);
    if (atomic_load(&ctl->stopping))
        wake_all(ctl); /* kr_controller_stop waits for active == 0 */
    return true;
}

/* The earliest due time over every lane not held for its sync nor at its
 * lane_workers (a worker would not take its key: the poll of a held lane
 * looks again), on the controller's clock, or INT64_MAX. */
static int64_t next_due(kr_controller_t *ctl)
{
    kr_controller_lane **lanes;
    size_t n;
    lanes_snapshot(ctl, &lanes, &n);
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        if (atomic_load(&lanes[i]->held) ||
            (ctl->lane_workers && atomic_load(&lanes[i]->busy) >= ctl->lane_workers))
            continue;
        int64_t d = kr_queue_next_due_ns(lanes[i]->q);
        if (d < due)
            due = d;
    }
    return due;
}

/* Sleep until a wake after `seq`, a due time, or stop; with a
 * lane held for its sync, at most LANE_SYNC_POLL_NS (nothing wakes a
 * worker when an informer syncs). `gated`: every lane waits for a source
 * added while running, so no key is taken however due (a due one would
 * otherwise end every wait at once): the poll alone. */
static void idle_wait(kr_controller_t *ctl, unsigned seq, bool held, bool gated)
{
    /* before the leaf lock: it takes the queues' */
    int64_t due = gated ? INT64_MAX : next_due(ctl);
    struct timespec ts, *deadline = NULL;
    if (due != INT64_MAX) {
        int64_t now = kr_clock_read(&ctl->clock);
        if (due <= now)
            return; /* the next try_get moves it in */
        timespec_from_ns(&ts, ctl->injected_clock ? kr_clock_monotonic_ns() + INJECTED_CLOCK_POLL_NS
                                                  : due);
        deadline = &ts;
    }
    if (held) {
        int64_t poll = kr_clock_monotonic_ns() + LANE_SYNC_POLL_NS;
        if (!deadline || (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec > poll) {
            timespec_from_ns(&ts, poll);
            deadline = &ts;
        }
    }
    kr_mutex_lock(&ctl->idle_mu);
    atomic_fetch_add(&ctl->idle, 1);
    if (atomic_load(&ctl->wake_seq) == seq && !atomic_load(&ctl->stopping))
        kr_cond_wait(&ctl->idle_cond, &ctl->idle_mu, deadline);
    atomic_fetch_sub(&ctl->idle, 1);
    kr_mutex_unlock(&ctl->idle_mu);
}

/* A worker's place on `lane`, unless lane_workers are on it already. */
static bool lane_reserve(kr_controller_t *ctl, kr_controller_lane *lane)
{
    unsigned busy = atomic_load(&lane->busy);
    do {
        if (ctl->lane_workers && busy >= ctl->lane_workers)
            return false;
    } while (!atomic_compare_exchange_weak(&lane->busy, &busy, busy + 1));
    return true;
}

static void lane_release(kr_controller_lane *lane)
{
    atomic_fetch_sub(&lane->busy, 1);
}

/* Finish `done_key` (if any) on `done_lane` and take the next key, serving
 * the lanes round-robin and passing over those held for their sync and
 * those at their lane_workers. False once the controller is stopping. */
static bool next_key(kr_controller_t *ctl, kr_controller_lane *done_lane, const char *done_key,
                     kr_controller_lane **lane_out, const char **key_out)
{
    if (done_lane)
        lane_release(done_lane);
    for (;;) {
        unsigned seq = atomic_load(&ctl->wake_seq);
        if (atomic_load(&ctl->stopping) || atomic_load(&ctl->sync_failed))
            break;
        if (!kr_controller_gate_open(ctl)) {
            /* a source added while running has not synced: no key is
             * taken until it has (or its sync times out) */
            if (done_lane)
                kr_queue_done(done_lane->q, done_key);
            done_lane = NULL;
            atomic_fetch_add_explicit(&ctl->n_gated_waits, 1, memory_order_relaxed);
            idle_wait(ctl, seq, true, true);
            continue;
        }
        kr_controller_lane **lanes;
        size_t n;
        lanes_snapshot(ctl, &lanes, &n);
        size_t start =
            n > 1 ? atomic_fetch_add_explicit(&ctl->round_robin, 1, memory_order_relaxed) % n : 0;
        bool held = false;
        for (size_t i = 0; i < n; i++) {
            kr_controller_lane *lane = lanes[(start + i) % n];
            const char *key = NULL;
            bool ready = kr_controller_lane_ready(ctl, lane);
            bool slot = ready && lane_reserve(ctl, lane);
            held |= !slot; /* held for its sync, or at its cap: look again soon */
            if (done_lane && lane == done_lane) {
                if (slot)
                    (void)kr_queue_done_try_get(lane->q, done_key, &key);
                else
                    kr_queue_done(lane->q, done_key);
                done_lane = NULL;
            } else if (!slot || kr_queue_try_get(lane->q, &key) != 0) {
                key = NULL;
            }
            if (slot && !key)
                lane_release(lane);
            if (key) {
                if (done_lane)
                    kr_queue_done(done_lane->q, done_key);
                *lane_out = lane;
                *key_out = key;
                return true;
            }
        }
        idle_wait(ctl, seq, held, false);
    }
    if (done_lane)
        kr_queue_done(done_lane->q, done_key);
    return false;
}

/* ---- workers and cache sync ---------------------------------------------------------- */

/* The first worker waits for the sources to sync, the others for it. True
 * when the workers may run. */
static bool wait_for_sync(kr_controller_worker *w)
{
    kr_controller_t *ctl = w->ctl;
    if (w->index != 0) {
        kr_mutex_lock(&ctl->idle_mu);
        while (!atomic_load(&ctl->ready) && !atomic_load(&ctl->sync_failed) &&
               !atomic_load(&ctl->stopping))
            kr_cond_wait(&ctl->idle_cond, &ctl->idle_mu, NULL);
        kr_mutex_unlock(&ctl->idle_mu);
        return atomic_load(&ctl->ready) && !atomic_load(&ctl->stopping);
    }
    int64_t deadline = kr_ns_after_ms(kr_clock_monotonic_ns(), ctl->cache_sync_timeout_ms);
    for (;;) {
        if (atomic_load(&ctl->stopping) || atomic_load(&ctl->sync_failed))
            return false; /* failed: a source added meanwhile timed out */
        if (kr_controller_sources_synced(ctl)) {
            kr_log_field fields[] = {{"controller", ctl->name}};
            kr_log_fields(&ctl->logger, KR_LOG_INFO, KR_CONTROLLER_MODULE, fields, 1,
                          "Starting workers (%u)", ctl->nworkers);
            /* a stop since the check above keeps it not ready */
            kr_mutex_lock(&ctl->idle_mu);
            bool go = !atomic_load(&ctl->stopping);
            if (go)
                atomic_store(&ctl->ready, true);
            kr_cond_broadcast(&ctl->idle_cond);
            kr_mutex_unlock(&ctl->idle_mu);
            return go;
        }
        int64_t now = kr_clock_monotonic_ns();
        if (now >= deadline) {
            /* which caches, as controller-runtime names the kind */
            char unsynced[512];
            kr_controller_unsynced_sources(ctl, unsynced, sizeof(unsynced));
            kr_log_field fields[] = {{"controller", ctl->name}};
            kr_log_fields(&ctl->logger, KR_LOG_ERROR, KR_CONTROLLER_MODULE, fields, 1,
                          "timed out waiting for the caches to sync after %llu ms: %s",
                          (unsigned long long)ctl->cache_sync_timeout_ms,
                          *unsynced ? unsynced : "none left (synced just now)");
            kr_mutex_lock(&ctl->idle_mu);
            atomic_store(&ctl->sync_failed, true);
            kr_cond_broadcast(&ctl->idle_cond);
            kr_mutex_unlock(&ctl->idle_mu);
            return false;
        }
        struct timespec ts;
        timespec_from_ns(&ts, now + SYNC_POLL_NS < deadline ? now + SYNC_POLL_NS : deadline);
        kr_mutex_lock(&ctl->idle_mu);
        if (!atomic_load(&ctl->stopping))
            kr_cond_wait(&ctl->idle_cond, &ctl->idle_mu, &ts);
        kr_mutex_unlock(&ctl->idle_mu);
    }
}

static void *worker_main(void *arg)
{
    kr_controller_worker *w = arg;
    kr_controller_t *ctl = w->ctl;
    if (!wait_for_sync(w))
        return NULL;
    kr_controller_lane *lane = NULL;
    const char *key = NULL;
    while (next_key(ctl, lane, key, &lane, &key)) {
        if (!reconcile_one(w, lane, key)) {
            kr_queue_done(lane->q, key);
            lane_release(lane);
            break;
        }
    }
    return NULL;
}

/* ---- metrics ------------------------------------------------------------------------- */

/* controller-runtime's reconcile_time_seconds buckets */
static const double reconcile_time_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
    0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
    6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};

static int series_of(kr_controller_t *ctl, kr_metric_type type, const char *name, const char *help,
                     const char *result, kr_metric_t **out, kr_error_t *err)
{
    static const char *const labels[] = {"controller", "result"};
    const char *values[] = {ctl->name, result};
    bool hist = type == KR_METRIC_HISTOGRAM;
    kr_metric_family_t *fam = NULL;
    int rc = kr_metrics_family_register(ctl->metrics, type, name, help, labels, result ? 2 : 1,
                                        hist ? reconcile_time_buckets : NULL,
                                        hist ? KR_ARRAY_LEN(reconcile_time_buckets) : 0, &fam, err);
    if (rc == KR_EEXIST)
        return kr_error_set(err, KR_EINVAL, "controller %s: metric %s exists with another shape",
                            ctl->name, name);
    if (rc == 0)
        rc = kr_metrics_series(fam, values, out, err);
    return rc;
}

static int metrics_init(kr_controller_t *ctl, kr_error_t *err)
{
    static const char total[] = "controller_runtime_reconcile_total";
    static const char total_help[] = "Total number of reconciliations per controller";
    int rc = 0;
#define S(type, name, help, result, slot)                                                          \
    if (rc == 0)                                                                                   \
    rc = series_of(ctl, type, name, help, result, &ctl->slot, err)
    S(KR_METRIC_COUNTER, total, total_help, "success", m_success);
    S(KR_METRIC_COUNTER, total, total_help, "error", m_error);
    S(KR_METRIC_COUNTER, total, total_help, "requeue", m_requeue);
    S(KR_METRIC_COUNTER, total, total_help, "requeue_after", m_requeue_after);
    S(KR_METRIC_COUNTER, "controller_runtime_reconcile_errors_total",
      "Total number of reconciliation errors per controller", NULL, m_errors);
    S(KR_METRIC_COUNTER, "controller_runtime_terminal_reconcile_errors_total",
      "Total number of terminal reconciliation errors per controller", NULL, m_terminal);
    S(KR_METRIC_HISTOGRAM, "controller_runtime_reconcile_time_seconds",
      "Length of time per reconciliation per controller", NULL, m_time);
    S(KR_METRIC_GAUGE, "controller_runtime_max_concurrent_reconciles",
      "Maximum number of concurrent reconciles per controller", NULL, m_max_concurrent);
    S(KR_METRIC_GAUGE, "controller_runtime_active_workers",
      "Number of currently used workers per controller", NULL, m_active);
#undef S
    if (rc == 0)
        kr_metrics_gauge_set(ctl->m_max_concurrent, ctl->nworkers);
    return rc;
}

/* ---- life ---------------------------------------------------------------------------- */

int kr_controller_new(const kr_controller_opts *opts, kr_controller_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "controller: out is NULL");
    *out = NULL;
    if (!opts || !opts->name || !opts->name[0] || !opts->reconcile)
        return kr_error_set(err, KR_EINVAL,
                            "controller: a name and a reconcile function are "
                            "required");
    /* it shows in logs, metrics labels and /readyz lines as it is */
    for (const unsigned char *p = (const unsigned char *)opts->name; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\'')
            return kr_error_set(err, KR_EINVAL,
                                "controller: invalid name: byte %zu is %s 0x%02x (a name "
                                "has no control characters or quotes)",
                                (size_t)(p - (const unsigned char *)opts->name),
                                *p == '"' || *p == '\'' ? "a quote," : "a control character,",
                                (unsigned)*p);
    if (opts->version > KR_CONTROLLER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "controller %s: options version %u is newer than %u",
                            opts->name, opts->version, KR_CONTROLLER_OPTS_VERSION);
    if (opts->workers > MAX_WORKERS) /* a thread each: a negative count cast, most likely */
        return kr_error_set(err, KR_EINVAL, "controller %s: %u workers (at most %u)", opts->name,
                            opts->workers, MAX_WORKERS);
    kr_controller_t *ctl = kr_calloc(1, sizeof(*ctl));
    if (!ctl)
        return kr_error_set(err, KR_ENOMEM, "controller %s: out of memory", opts->name);
    if (!(ctl->name = kr_strdup(opts->name))) {
        kr_free(ctl);
        return kr_error_set(err, KR_ENOMEM, "controller %s: out of memory", opts->name);
    }
    ctl->reconcile = opts->reconcile;
    ctl->user = opts->user;
    ctl->nworkers = opts->workers ? opts->workers : 1;
    ctl->lane_workers = opts->version >= 2 ? opts->lane_workers : 0;
    ctl->new_ratelimiter = opts->new_ratelimiter;
    ctl->cache_sync_timeout_ms =
        opts->cache_sync_timeout_ms ? opts->cache_sync_timeout_ms : DEFAULT_CACHE_SYNC_TIMEOUT_MS;
    ctl->shutdown_timeout_ms =
        opts->shutdown_timeout_ms ? opts->shutdown_timeout_ms : DEFAULT_SHUTDOWN_TIMEOUT_MS;
    ctl->max_retries = opts->max_retries;
    ctl->metrics = opts->metrics;
    ctl->logger = opts->logger;
    ctl->clock = opts->clock;
    ctl->injected_clock = opts->clock.now_ns != NULL;
    pthread_mutex_init(&ctl->mu, NULL);
    kr_mutex_init(&ctl->idle_mu);
    kr_cond_init(&ctl->idle_cond);
    int rc = ctl->metrics ? metrics_init(ctl, err) : 0;
    if (rc != 0) {
        kr_controller_free(ctl);
        return rc;
    }
    *out = ctl;
    return 0;
}

int kr_controller_start(kr_controller_t *ctl, kr_error_t *err)
{
    if (!ctl)
        return kr_error_set(err, KR_EINVAL, "controller: NULL");
    /* The threads are made under the lock, so that a concurrent stop
     * finds either none or all of them to join. */
    pthread_mutex_lock(&ctl->mu);
    kr_controller_state state = ctl->state;
    if (state != KR_CTL_NEW) {
        pthread_mutex_unlock(&ctl->mu);
        return kr_error_set(err, KR_ESTATE, "controller %s: %s", ctl->name,
                            state == KR_CTL_STARTED ? "already started" : "stopped");
    }
    ctl->workers = kr_calloc(ctl->nworkers, sizeof(*ctl->workers));
    if (!ctl->workers) {
        pthread_mutex_unlock(&ctl->mu);
        return kr_error_set(err, KR_ENOMEM, "controller %s: out of memory", ctl->name);
    }
    ctl->state = KR_CTL_STARTED;
    kr_log_field fields[] = {{"controller", ctl->name}};
    kr_log_fields(&ctl->logger, KR_LOG_INFO, KR_CONTROLLER_MODULE, fields, 1,
                  "Starting Controller");
    unsigned failed = ctl->nworkers;
    for (unsigned i = 0; i < ctl->nworkers && failed == ctl->nworkers; i++) {
        kr_controller_worker *w = &ctl->workers[i];
        w->ctl = ctl;
        w->index = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            failed = i;
        else
            ctl->nthreads++;
    }
    pthread_mutex_unlock(&ctl->mu);
    if (failed == ctl->nworkers)
        return 0;
    atomic_store(&ctl->stopping, true);
    wake_all(ctl);
    return kr_error_set(err, KR_EIO, "controller %s: cannot create worker thread %u", ctl->name,
                        failed);
}

/* Wait (real time) until no reconcile is in flight or the deadline passes. */
static bool wait_in_flight(kr_controller_t *ctl, int64_t deadline)
{
    kr_mutex_lock(&ctl->idle_mu);
    while (atomic_load(&ctl->active) > 0 && kr_clock_monotonic_ns() < deadline) {
        struct timespec ts;
        timespec_from_ns(&ts, deadline);
        kr_cond_wait(&ctl->idle_cond, &ctl->idle_mu, &ts);
    }
    bool finished = atomic_load(&ctl->active) == 0;
    kr_mutex_unlock(&ctl->idle_mu);
    return finished;
}

bool kr_controller_stop_begin(kr_controller_t *ctl)
{
    pthread_mutex_lock(&ctl->mu);
    kr_controller_state state = ctl->state;
    ctl->state = KR_CTL_STOPPED;
    pthread_mutex_unlock(&ctl->mu);
    if (state == KR_CTL_STOPPED)
        return false;
    /* no new keys, then no new reconciles */
    kr_controller_sources_remove(ctl);
    kr_mutex_lock(&ctl->idle_mu);
    atomic_store(&ctl->stopping, true);
    atomic_store(&ctl->ready, false);
    kr_cond_broadcast(&ctl->idle_cond);
    kr_mutex_unlock(&ctl->idle_mu);
    kr_controller_lane **lanes;
    size_t n;
    lanes_snapshot(ctl, &lanes, &n);
    for (size_t i = 0; i < n; i++)
        kr_queue_shutdown(lanes[i]->q);
    return true;
}

int kr_controller_stop_wait(kr_controller_t *ctl, int64_t since_ns, kr_error_t *err)
{
    bool finished = wait_in_flight(ctl, kr_ns_after_ms(since_ns, ctl->shutdown_timeout_ms));
    unsigned unfinished = atomic_load(&ctl->active);
    kr_log_field fields[] = {{"controller", ctl->name}};
    if (!finished)
        kr_log_fields(&ctl->logger, KR_LOG_WARN, KR_CONTROLLER_MODULE, fields, 1,
                      "%u reconcile(s) still running after %llu ms; waiting for them", unfinished,
                      (unsigned long long)ctl->shutdown_timeout_ms);
    /* a reconcile is never killed: the join waits for late ones (the
     * threads were all made under mu by start, which came before) */
    for (unsigned i = 0; i < ctl->nthreads; i++)
        pthread_join(ctl->workers[i].thread, NULL);
    if (!finished)
        return kr_error_set(err, KR_ETIMEDOUT,
                            "controller %s: %u reconcile(s) still running after %llu ms", ctl->name,
                            unfinished, (unsigned long long)ctl->shutdown_timeout_ms);
    if (ctl->nthreads) /* a controller that never started had none */
        kr_log_fields(&ctl->logger, KR_LOG_INFO, KR_CONTROLLER_MODULE, fields, 1,
                      "All workers finished");
    return 0;
}

int kr_controller_stop(kr_controller_t *ctl, kr_error_t *err)
{
    if (!ctl || !kr_controller_stop_begin(ctl))
        return 0;
    return kr_controller_stop_wait(ctl, kr_clock_monotonic_ns(), err);
}

void kr_controller_free(kr_controller_t *ctl)
{
    if (!ctl)
        return;
    kr_controller_stop(ctl, NULL);
    kr_controller_sources_free(ctl);
    for (unsigned i = 0; i < ctl->nthreads; i++)
        kr_free(ctl->workers[i].buf);
    kr_free(ctl->workers);
    kr_controller_lane **lanes;
    size_t n;
    lanes_snapshot(ctl, &lanes, &n);
    for (size_t i = 0; i < n; i++)
        lane_free(lanes[i]);
    kr_free(lanes);
    for (size_t i = 0; i < ctl->nretired; i++)
        kr_free(ctl->retired[i]);
    kr_free(ctl->retired);
    kr_cond_destroy(&ctl->idle_cond);
    kr_mutex_destroy(&ctl->idle_mu);
    pthread_mutex_destroy(&ctl->mu);
    kr_free(ctl->name);
    kr_free(ctl);
}

bool kr_controller_stopping(const kr_controller_t *ctl)
{
    return ctl && atomic_load(&((kr_controller_t *)ctl)->stopping);
}

bool kr_controller_failed(const kr_controller_t *cctl)
{
    kr_controller_t *ctl = (kr_controller_t *)cctl;
    if (!ctl)
        return false;
    (void)kr_controller_gate_open(ctl); /* a late source's timeout, when no worker looked */
    return atomic_load(&ctl->sync_failed);
}

bool kr_controller_ready(const kr_controller_t *cctl)
{
    kr_controller_t *ctl = (kr_controller_t *)cctl;
    return ctl && atomic_load(&ctl->ready) && kr_controller_gate_open(ctl) &&
           !atomic_load(&ctl->sync_failed) && !atomic_load(&ctl->stopping);
}

const char *kr_controller_name(const kr_controller_t *ctl)
{
    return ctl ? ctl->name : NULL;
}

/* ---- introspection ------------------------------------------------------------------- */

static void controller_stats_fill(const kr_controller_t *cctl, kr_controller_stats *out)
{
    memset(out, 0, sizeof(*out));
    kr_controller_t *ctl = (kr_controller_t *)cctl;
    if (!ctl)
        return;
    out->reconciles = atomic_load(&ctl->n_reconciles);
    out->done = atomic_load(&ctl->n_done);
    out->requeues = atomic_load(&ctl->n_requeues);
    out->requeues_after = atomic_load(&ctl->n_requeues_after);
    out->errors = atomic_load(&ctl->n_errors);
    out->terminal_errors = atomic_load(&ctl->n_terminal);
    out->gave_up = atomic_load(&ctl->n_gave_up);
    out->active_workers = atomic_load(&ctl->active);
    kr_controller_lane **lanes;
    size_t n;
    lanes_snapshot(ctl, &lanes, &n);
    out->lanes = n;
    for (size_t i = 0; i < n; i++)
        out->queued += kr_queue_len(lanes[i]->q);
}

void kr_controller_get_stats(const kr_controller_t *cctl, kr_controller_stats *out, size_t out_size)
{
    kr_controller_stats all;
    memset(&all, 0, sizeof(all));
    controller_stats_fill(cctl, &all);
    kr_copy_sized(out, out_size, &all, sizeof(all));
}

size_t kr_controller_queue_len(kr_controller_t *ctl, const char *cluster)
{
    kr_controller_lane *lane = NULL;
    if (!ctl || kr_controller_lane_get(ctl, cluster, false, &lane, NULL) != 0 || !lane)
        return 0;
    return kr_queue_len(lane->q);
}
