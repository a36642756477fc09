/* libkreconcile — the inventory's consumer: a bounded ring of events that is
 * drained in batches, each one database transaction (group commit). A
 * failed batch stays at the head of the ring and is retried; a full ring
 * refuses new events (backpressure) instead of dropping any. The writer
 * thread exists only after kr_inventory_consumer_start(). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "inventory_internal.h"
#include "kreconcile/inventory.h"

/* An event the consumer owns: its strings copied, its object referenced. */
typedef struct owned_event {
    kr_inventory_event ev;
    char *strings; /* cluster, resource, api_version, kind, checkpoint_rv, packed */
} owned_event;

struct kr_inventory_consumer {
    kr_inventory_t *inv;
    kr_inventory_consumer_opts opts;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* events added, a batch committed, stop asked */
    owned_event *ring;
    size_t head, count;
    uint64_t enqueued_total, committed_total; /* positions, for flush */
    bool running, stopping, draining;
    pthread_t thread;
    kr_inventory_consumer_stats stats;
};

static void owned_free(owned_event *o)
{
    json_decref((json_t *)o->ev.object);
    kr_free(o->strings);
    memset(o, 0, sizeof(*o));
}

static int owned_copy(owned_event *o, const kr_inventory_event *ev)
{
    const char *src[] = {ev->cluster, ev->resource,      ev->api_version,
                         ev->kind,    ev->checkpoint_rv, ev->actor};
    const char **dst[] = {&o->ev.cluster, &o->ev.resource,      &o->ev.api_version,
                          &o->ev.kind,    &o->ev.checkpoint_rv, &o->ev.actor};
    size_t total = 0;
    for (size_t i = 0; i < KR_ARRAY_LEN(src); i++)
        total += src[i] ? strlen(src[i]) + 1 : 0;
    memset(o, 0, sizeof(*o));
    if (total && !(o->strings = kr_malloc(total)))
        return KR_ENOMEM;
    char *p = o->strings;
    for (size_t i = 0; i < KR_ARRAY_LEN(src); i++) {
        if (!src[i])
            continue;
        size_t len = strlen(src[i]) + 1;
        memcpy(p, src[i], len);
        *dst[i] = p;
        p += len;
    }
    o->ev.type = ev->type;
    o->ev.object = ev->object ? json_incref((json_t *)ev->object) : NULL;
    return 0;
}

int kr_inventory_consumer_new(kr_inventory_t *inv, const kr_inventory_consumer_opts *opts,
                              kr_inventory_consumer_t **out, kr_error_t *err)
{
    if (!inv || !out)
        return kr_error_set(err, KR_EINVAL, "inventory consumer: inv and out are required");
    *out = NULL;
    if (opts && opts->version > KR_INVENTORY_CONSUMER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL,
                            "inventory consumer: options version %u is newer than %u",
                            opts->version, (unsigned)KR_INVENTORY_CONSUMER_OPTS_VERSION);
    kr_inventory_consumer_t *c = kr_calloc(1, sizeof(*c));
    if (!c)
        return kr_error_set(err, KR_ENOMEM, "inventory consumer: out of memory");
    if (opts)
        c->opts = *opts; /* version 1 is every field */
    c->inv = inv;
    if (!c->opts.capacity)
        c->opts.capacity = 10000;
    if (!c->opts.max_batch)
        c->opts.max_batch = 1000;
    if (!c->opts.retry_base_ms)
        c->opts.retry_base_ms = 50;
    if (!c->opts.retry_max_ms)
        c->opts.retry_max_ms = 5000;
    c->stats.capacity = c->opts.capacity;
    c->ring = kr_calloc(c->opts.capacity, sizeof(*c->ring));
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!c->ring || pthread_mutex_init(&c->lock, NULL) != 0 ||
        pthread_cond_init(&c->changed, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        kr_free(c->ring);
        kr_free(c);
        return kr_error_set(err, KR_ENOMEM, "inventory consumer: out of memory");
    }
    pthread_condattr_destroy(&attr);
    *out = c;
    return 0;
}

void kr_inventory_consumer_free(kr_inventory_consumer_t *c)
{
    if (!c)
        return;
    kr_inventory_consumer_stop(c);
    for (size_t i = 0; i < c->count; i++)
        owned_free(&c->ring[(c->head + i) % c->opts.capacity]);
    kr_free(c->ring);
    pthread_cond_destroy(&c->changed);
    pthread_mutex_destroy(&c->lock);
    kr_free(c);
}

int kr_inventory_consumer_enqueue(kr_inventory_consumer_t *c, const kr_inventory_event *ev,
                                  kr_error_t *err)
{
    if (!c)
        return kr_error_set(err, KR_EINVAL, "inventory consumer: NULL");
    /* What the batch would be refused for is refused here: once
     * buffered, it would hold back every event behind it. */
    int rc = kr_inv_check_event(ev, "inventory consumer: the event", err);
    if (rc != 0)
        return rc;
    owned_event o;
    if (owned_copy(&o, ev) != 0)
        return kr_error_set(err, KR_ENOMEM, "inventory consumer: out of memory");
    pthread_mutex_lock(&c->lock);
    int ret = 0;
    if (c->count == c->opts.capacity)
        ret = KR_ETOOLARGE;
    if (ret == 0) {
        c->ring[(c->head + c->count) % c->opts.capacity] = o;
        c->stats.buffered = ++c->count;
        c->enqueued_total++;
        pthread_cond_broadcast(&c->changed);
    } else if (ret == KR_ETOOLARGE) {
        c->stats.rejected_full++;
    }
    pthread_mutex_unlock(&c->lock);
    if (ret != 0) {
        owned_free(&o);
        return kr_error_set(err, ret,
                            "inventory consumer: the buffer is full (%zu events): stop taking "
                            "events until it drains",
                            c->opts.capacity);
    }
    return 0;
}

int kr_inventory_consumer_wait_space(kr_inventory_consumer_t *c, size_t n, uint64_t timeout_ms)
{
    if (!c || n > c->opts.capacity)
        return KR_EINVAL;
    struct timespec deadline;
    kr_deadline_after_ms(&deadline, timeout_ms);
    pthread_mutex_lock(&c->lock);
    int ret = 0;
    while (c->opts.capacity - c->count < n && ret == 0) {
        if (c->stopping)
            ret = KR_ESHUTDOWN;
        else if (pthread_cond_timedwait(&c->changed, &c->lock, &deadline) == ETIMEDOUT)
            ret = c->opts.capacity - c->count < n ? KR_ETIMEDOUT : 0;
    }
    pthread_mutex_unlock(&c->lock);
    return ret;
}

/* After a batch was refused as invalid (KR_EINVAL: enqueue checks what
 * apply checks, so only an object changed after its enqueue gets here):
 * its events one transaction each, those refused as invalid dropped
 * (logged, counted), or the whole ring would wait behind them forever.
 * Stops at another error: *taken events (committed or dropped) may
 * leave the ring. */
static int apply_one_by_one(kr_inventory_consumer_t *c, const kr_inventory_event *batch, size_t n,
                            kr_inventory_apply_result *res, size_t *taken, size_t *dropped,
                            kr_error_t *err)
{
    memset(res, 0, sizeof(*res));
    *taken = *dropped = 0;
    for (size_t i = 0; i < n; i++) {
        kr_inventory_apply_result one;
        kr_error_t e = {0};
        int ret = kr_inv_apply(c->inv, &batch[i], 1, true, &one, &e);
        if (ret == KR_EINVAL) {
            kr_log(&c->opts.logger, KR_LOG_ERROR, "inventory",
                   "%s %s: an invalid %s event is dropped: %s", batch[i].cluster,
                   batch[i].resource ? batch[i].resource : "",
                   kr_inventory_event_type_name(batch[i].type), e.message);
            (*dropped)++;
        } else if (ret != 0) {
            if (err)
                *err = e;
            return ret;
        } else {
            res->applied += one.applied;
            res->duplicates += one.duplicates;
            if (one.last_seq > res->last_seq)
                res->last_seq = one.last_seq;
        }
        *taken = i + 1;
    }
    return 0;
}

/* Apply the head of the ring (up to max_batch) in one transaction. The
 * events stay in the ring while applied (enqueue only appends), and are
 * removed only after the commit. Called by one drainer at a time. */
static int drain_once(kr_inventory_consumer_t *c, size_t *drained, kr_error_t *err)
{
    kr_error_t local = {0};
    if (!err)
        err = &local; /* the stats keep the message */
    pthread_mutex_lock(&c->lock);
    size_t n = c->count < c->opts.max_batch ? c->count : c->opts.max_batch;
    size_t head = c->head;
    pthread_mutex_unlock(&c->lock);
    if (drained)
        *drained = 0;
    if (n == 0)
        return 0;
    /* The batch as a contiguous array (the ring may wrap). */
    kr_inventory_event *batch = kr_malloc(n * sizeof(*batch));
    if (!batch)
        return kr_error_set(err, KR_ENOMEM, "inventory consumer: out of memory");
    for (size_t i = 0; i < n; i++)
        batch[i] = c->ring[(head + i) % c->opts.capacity].ev;
    kr_inventory_apply_result res;
    /* Enqueued objects never change (kr_inventory_consumer_enqueue): the
     * states written from them may be remembered. */
    int ret = kr_inv_apply(c->inv, batch, n, true, &res, err);
    size_t taken = ret == 0 ? n : 0, dropped = 0, txns = ret == 0;
    if (ret == KR_EINVAL) {
        ret = apply_one_by_one(c, batch, n, &res, &taken, &dropped, err);
        txns = taken - dropped;
    }
    kr_free(batch);
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < taken; i++)
        owned_free(&c->ring[(c->head + i) % c->opts.capacity]);
    c->head = (c->head + taken) % c->opts.capacity;
    c->count -= taken;
    c->stats.buffered = c->count;
    c->stats.applied += taken - dropped;
    c->stats.dropped_invalid += dropped;
    c->stats.batches += txns;
    if (taken) {
        c->stats.duplicates += res.duplicates;
        c->stats.last_error = 0;
        c->stats.last_error_message[0] = '\0';
    }
    if (ret != 0) {
        c->stats.failures++;
        c->stats.last_error = ret;
        snprintf(c->stats.last_error_message, sizeof(c->stats.last_error_message), "%.255s",
                 err->message[0] ? err->message : kr_strerror(ret));
    }
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    if (ret != 0)
        kr_log(&c->opts.logger, KR_LOG_WARN, "inventory",
               "a batch of %zu events failed, kept for a retry: %s", n - taken,
               err->message[0] ? err->message : kr_strerror(ret));
    if (taken == 0)
        return ret;
    if (drained)
        *drained = taken;
    if (c->opts.on_commit)
        c->opts.on_commit(res.last_seq, taken, c->opts.on_commit_user);
    /* Counted as committed for flush() only after on_commit ran: a
     * flushed caller sees every notification. */
    pthread_mutex_lock(&c->lock);
    c->committed_total += taken;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    return ret;
}

int kr_inventory_consumer_drain(kr_inventory_consumer_t *c, size_t *drained, kr_error_t *err)
{
    if (!c)
        return kr_error_set(err, KR_EINVAL, "inventory consumer: NULL");
    pthread_mutex_lock(&c->lock);
    bool busy = c->running || c->draining;
    if (!busy)
        c->draining = true;
    pthread_mutex_unlock(&c->lock);
    if (busy)
        return kr_error_set(err, KR_ESTATE,
                            "inventory consumer: the writer thread (or another drain) runs");
    int ret = drain_once(c, drained, err);
    pthread_mutex_lock(&c->lock);
    c->draining = false;
    pthread_mutex_unlock(&c->lock);
    return ret;
}

static void *writer_main(void *arg)
{
    kr_inventory_consumer_t *c = arg;
    uint64_t backoff = 0;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        if (c->count == 0) {
            pthread_cond_wait(&c->changed, &c->lock);
            continue;
        }
        pthread_mutex_unlock(&c->lock);
        kr_error_t err = {0};
        int ret = drain_once(c, NULL, &err);
        pthread_mutex_lock(&c->lock);
        if (ret == 0) {
            backoff = 0;
            continue;
        }
        /* Retry the same batch after a wait that doubles up to the max;
         * stop() interrupts the wait. */
        backoff = backoff ? backoff * 2 : c->opts.retry_base_ms;
        if (backoff > c->opts.retry_max_ms)
            backoff = c->opts.retry_max_ms;
        struct timespec deadline;
        kr_deadline_after_ms(&deadline, backoff);
        while (!c->stopping &&
               pthread_cond_timedwait(&c->changed, &c->lock, &deadline) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int kr_inventory_consumer_start(kr_inventory_consumer_t *c, kr_error_t *err)
{
    if (!c)
        return kr_error_set(err, KR_EINVAL, "inventory consumer: NULL");
    pthread_mutex_lock(&c->lock);
    int ret = 0;
    if (c->running || c->draining) {
        ret = kr_error_set(err, KR_ESTATE, "inventory consumer: already running");
    } else {
        c->stopping = false;
        if (pthread_create(&c->thread, NULL, writer_main, c) != 0)
            ret = kr_error_set(err, KR_ENOMEM, "inventory consumer: cannot start a thread");
        else
            c->running = true;
    }
    pthread_mutex_unlock(&c->lock);
    return ret;
}

void kr_inventory_consumer_stop(kr_inventory_consumer_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    bool running = c->running;
    c->stopping = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    if (running)
        pthread_join(c->thread, NULL);
    pthread_mutex_lock(&c->lock);
    c->running = false;
    c->stopping = false;
    pthread_mutex_unlock(&c->lock);
}

int kr_inventory_consumer_finish(kr_inventory_consumer_t *c, uint64_t timeout_ms, kr_error_t *err)
{
    int rc = kr_inventory_consumer_flush(c, timeout_ms, err);
    if (rc == KR_ETIMEDOUT) {
        /* the writer is joined next: a write the database never answers
         * must not hold it (nor the exit) */
        pthread_mutex_lock(&c->lock);
        size_t left = c->count;
        pthread_mutex_unlock(&c->lock);
        kr_log(&c->opts.logger, KR_LOG_WARN, "inventory",
               "consumer: %zu event(s) still wait for the database %llu ms into the stop: its "
               "call under way is cut short",
               left, (unsigned long long)timeout_ms);
        kr_inventory_interrupt(c->inv);
    }
    return rc;
}

int kr_inventory_consumer_flush(kr_inventory_consumer_t *c, uint64_t timeout_ms, kr_error_t *err)
{
    if (!c)
        return kr_error_set(err, KR_EINVAL, "inventory consumer: NULL");
    struct timespec deadline;
    kr_deadline_after_ms(&deadline, timeout_ms);
    pthread_mutex_lock(&c->lock);
    uint64_t target = c->enqueued_total;
    int ret = 0;
    while (c->committed_total < target && ret == 0) {
        if (c->running) {
            if (pthread_cond_timedwait(&c->changed, &c->lock, &deadline) == ETIMEDOUT &&
                c->committed_total < target)
                ret = kr_error_set(err, KR_ETIMEDOUT,
                                   "inventory consumer: %zu events still buffered", c->count);
            continue;
        }
        pthread_mutex_unlock(&c->lock);
        ret = kr_inventory_consumer_drain(c, NULL, err);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&c->lock);
        if (ret == 0 && c->committed_total < target &&
            (now.tv_sec > deadline.tv_sec ||
             (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)))
            ret = kr_error_set(err, KR_ETIMEDOUT, "inventory consumer: %zu events still buffered",
                               c->count);
    }
    pthread_mutex_unlock(&c->lock);
    return ret;
}

void kr_inventory_consumer_get_stats(kr_inventory_consumer_t *c, kr_inventory_consumer_stats *out,
                                     size_t out_size)
{
    kr_inv_stats_copy(c ? &c->lock : NULL, c ? &c->stats : NULL, sizeof(*out), out, out_size);
}
