/* libkreconcile — the work queue: client-go's dedup/processing semantics,
 * delayed adds on a min-heap, controller-runtime style priority lanes,
 * failure accounting and max retries, drain, snapshots and metrics.
 *
 * One lock (lock.h), held for a few dozen instructions, guards it all. Keys are
 * interned in an open-addressing map (hashed before the lock is taken).
 * Each priority lane is a ring of item pointers; the keys being processed
 * sit in a small set keyed by the address of the key handed out, so that a
 * worker's done finds its key without hashing it again. Nothing on the
 * add / get / done path touches another key's memory. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "lock.h"
#include "queue_internal.h"
#include "ratelimit_internal.h"

enum {
    F_DIRTY = 1u << 0, /* client-go's dirty set: must be (re)processed */
    F_PROCESSING = 1u << 1, /* handed out, done not yet called */
    F_QUEUED = 1u << 2, /* has a live entry in a lane's ring */
    F_IDLE = 1u << 3, /* interned, unused (counted in q->nidle) */
    F_RECENT = 1u << 4, /* used again after being idle, since the sweep's hand passed */
};

#define NOT_WAITING SIZE_MAX
/* The add / done / get paths are a few dozen instructions each; calls
 * between their small steps (saving and restoring registers) cost as much as
 * the steps, so they are inlined into the public functions. */
#define HOT static inline __attribute__((always_inline))
#define COLD static __attribute__((noinline, cold))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
/* An idle key costs about 150 bytes (item, key, map slots): 16,384 of them
 * stay under 2.5 MiB, a small fraction of the informer cache that holds the
 * objects they name. */
#define DEFAULT_IDLE_KEYS 16384
#define RING_MIN 64
/* An empty ring larger than this is given back (after a relist). */
#define RING_KEEP 4096
#define PSET_MIN 16

struct qitem {
    /* hot: what add, get and done read and write */
    unsigned flags;
    int priority; /* lane while queued; lane to requeue in when dirty */
    uint32_t ring_refs; /* ring entries naming this item, live or stale */
    uint32_t pad_;
    uint64_t pos; /* position of its live ring entry while F_QUEUED */
    size_t len;
    uint64_t hash;
    /* the rest: delayed adds, failures, metrics, hand-out order */
    uint64_t seq; /* hand-out order while processing */
    int64_t due_ns; /* waiting */
    int64_t added_ns; /* queued (metrics on) */
    int64_t started_ns; /* processing (metrics on) */
    size_t heap_index; /* NOT_WAITING when not in the heap */
    int wait_priority;
    int got_priority; /* the lane it was handed out from, while processing */
    unsigned failures;
    char key[];
};

/* A lane: a ring of item pointers in hand-out order. Raising a queued key's
 * priority pushes it onto a higher lane and leaves its old entry behind,
 * stale (the item's pos and priority no longer match it); get skips stale
 * entries, and ring_refs keeps an item alive while entries name it. */
struct lane {
    int priority;
    size_t pending; /* processing dirty keys that done will push here */
    struct qitem **ring;
    size_t mask; /* capacity - 1 */
    uint64_t head, tail; /* positions; entries are [head, tail) */
};

/* The keys being processed, by the address of the key string handed out:
 * open addressing, linear probing, load <= 1/2. */
struct pset {
    struct qitem **slots;
    size_t mask;
    unsigned shift; /* 64 - log2(capacity) */
    size_t count;
};

struct queue_metrics {
    kr_metric_t *depth, *adds, *queue_duration, *work_duration, *unfinished, *longest, *retries;
};

struct kr_queue {
    /* Takers spinning on the lock word must not slow the holder: the lock,
     * the condition variables (touched by waiters outside the lock) and the
     * state the holder writes live on separate cache lines. */
    kr_mutex mu;
    char pad_mu[64];
    kr_cond get_cond; /* getters */
    kr_cond drain_cond; /* shutdown_with_drain */
    char pad_cond[64];
    kr_keymap items;
    struct lane **lanes; /* by priority, highest first; never removed */
    size_t nlanes;
    struct lane *lane_normal;
    size_t queued; /* live ring entries */
    struct pset proc;
    uint64_t handouts;
    size_t nidle, idle_max;
    size_t idle_hand; /* the sweep's position in the key map */
    struct qitem **heap;
    size_t nheap, heap_cap;
    unsigned waiters, drainers;
    bool shutting_down;
    bool drain_abandoned; /* kr_queue_shutdown during a drain: drains end */
    bool injected_clock;
    kr_clock clock;
    kr_ratelimiter_t *rl;
    unsigned max_retries;
    kr_queue_give_up_cb on_give_up;
    void *give_up_user;
    bool metrics_on;
    struct queue_metrics m;
    kr_metrics_registry_t *registry;
    int collector_id;
    kr_queue_trace_cb trace;
    void *trace_user;
    kr_queue_wake_cb wake; /* the controller's lanes: see queue_internal.h */
    void *wake_user;
    unsigned wake_pending; /* WAKE_*: what the hook is told after the unlock */
};

enum { WAKE_QUEUED = 1u << 0, WAKE_DUE = 1u << 1 };

#define TRACE(q, kind, key, prio, when)                                                            \
    do {                                                                                           \
        if (UNLIKELY((q)->trace != NULL))                                                          \
            (q)->trace((kind), (key), (prio), (when), (q)->trace_user);                            \
    } while (0)

/* Release the lock, then tell the wake hook (if any) what happened under
 * it: the hook runs outside the lock, as every other callback. */
HOT void queue_unlock(kr_queue_t *q)
{
    unsigned wake = q->wake_pending;
    q->wake_pending = 0;
    kr_mutex_unlock(&q->mu);
    if (UNLIKELY(wake != 0))
        q->wake((wake & WAKE_DUE) != 0, q->wake_user);
}

/* ---- the processing set ------------------------------------------------------ */

HOT size_t pset_home(const struct pset *s, const char *key)
{
    return (size_t)(((uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ULL) >> s->shift);
}

static int pset_init(struct pset *s)
{
    s->slots = kr_calloc(PSET_MIN, sizeof(struct qitem *));
    if (!s->slots)
        return KR_ENOMEM;
    s->mask = PSET_MIN - 1;
    s->shift = 64 - 4;
    s->count = 0;
    return 0;
}

HOT void pset_place(struct pset *s, struct qitem *it)
{
    size_t i = pset_home(s, it->key);
    while (s->slots[i])
        i = (i + 1) & s->mask;
    s->slots[i] = it;
}

COLD int pset_grow(struct pset *s)
{
    size_t cap = s->mask + 1, ncap = cap * 2;
    struct qitem **old = s->slots;
    struct qitem **ns = kr_calloc(ncap, sizeof(struct qitem *));
    if (!ns)
        return KR_ENOMEM;
    s->slots = ns;
    s->mask = ncap - 1;
    s->shift--;
    for (size_t i = 0; i < cap; i++)
        if (old[i])
            pset_place(s, old[i]);
    kr_free(old);
    return 0;
}

/* Room for one more insert, so that pset_insert cannot fail. */
HOT int pset_reserve_one(struct pset *s)
{
    if (LIKELY((s->count + 1) * 2 <= s->mask + 1))
        return 0;
    return pset_grow(s);
}

HOT void pset_insert(struct pset *s, struct qitem *it)
{
    pset_place(s, it);
    s->count++;
}

/* Remove and return the processing item whose key string is at `key`, or
 * NULL. Compares addresses only: never reads memory `key` might not own. */
HOT struct qitem *pset_take(struct pset *s, const char *key)
{
    size_t i = pset_home(s, key);
    for (;; i = (i + 1) & s->mask) {
        struct qitem *it = s->slots[i];
        if (!it)
            return NULL;
        if (it->key == key)
            break;
    }
    struct qitem *found = s->slots[i];
    /* backward-shift deletion, as in the key map */
    size_t hole = i;
    for (size_t j = (i + 1) & s->mask; s->slots[j]; j = (j + 1) & s->mask) {
        size_t home = pset_home(s, s->slots[j]->key);
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole] = NULL;
    s->count--;
    return found;
}

/* ---- lanes ------------------------------------------------------------------ */

static struct lane *lane_new(int priority)
{
    struct lane *lane = kr_calloc(1, sizeof(*lane));
    if (!lane)
        return NULL;
    lane->ring = kr_malloc(RING_MIN * sizeof(struct qitem *));
    if (!lane->ring) {
        kr_free(lane);
        return NULL;
    }
    lane->priority = priority;
    lane->mask = RING_MIN - 1;
    return lane;
}

static void lane_free(struct lane *lane)
{
    if (lane) {
        kr_free(lane->ring);
        kr_free(lane);
    }
}

/* The lane for `priority`, created when missing. Lanes live as long as the
 * queue (callers use a handful of priorities). NULL on allocation failure. */
COLD struct lane *lane_find_or_make(kr_queue_t *q, int priority)
{
    size_t i = 0;
    for (; i < q->nlanes && q->lanes[i]->priority >= priority; i++)
        if (q->lanes[i]->priority == priority)
            return q->lanes[i];
    struct lane **nl = kr_realloc(q->lanes, (q->nlanes + 1) * sizeof(struct lane *));
    if (!nl)
        return NULL;
    q->lanes = nl;
    struct lane *lane = lane_new(priority);
    if (!lane)
        return NULL;
    memmove(&nl[i + 1], &nl[i], (q->nlanes - i) * sizeof(struct lane *));
    nl[i] = lane;
    q->nlanes++;
    return lane;
}

HOT struct lane *lane_for(kr_queue_t *q, int priority)
{
    if (LIKELY(priority == KR_QUEUE_PRIORITY_NORMAL))
        return q->lane_normal;
    return lane_find_or_make(q, priority);
}

/* Move the ring's entries into a ring of `ncap` (a power of two, enough)
 * slots. */
COLD int ring_resize(struct lane *lane, size_t ncap)
{
    struct qitem **nr = kr_malloc(ncap * sizeof(struct qitem *));
    if (!nr)
        return KR_ENOMEM;
    /* positions stay: items remember theirs */
    for (uint64_t p = lane->head; p != lane->tail; p++)
        nr[p & (ncap - 1)] = lane->ring[p & lane->mask];
    kr_free(lane->ring);
    lane->ring = nr;
    lane->mask = ncap - 1;
    return 0;
}

/* Room for `extra` more entries beyond those present and those promised to
 * processing keys (lane->pending), so that done can always requeue. */
HOT int lane_reserve(struct lane *lane, size_t extra)
{
    size_t need = (size_t)(lane->tail - lane->head) + lane->pending + extra;
    if (LIKELY(need <= lane->mask + 1))
        return 0;
    size_t ncap = (lane->mask + 1) * 2;
    while (ncap < need)
        ncap *= 2;
    return ring_resize(lane, ncap);
}

/* Push `it` (room reserved) as its live entry. */
HOT void enqueue(kr_queue_t *q, struct qitem *it, struct lane *lane)
{
    it->pos = lane->tail;
    lane->ring[lane->tail++ & lane->mask] = it;
    it->ring_refs++;
    it->flags |= F_QUEUED;
    it->priority = lane->priority;
    q->queued++;
    if (UNLIKELY(q->waiters != 0))
        kr_cond_signal(&q->get_cond);
    if (q->wake)
        q->wake_pending |= WAKE_QUEUED;
}
/* ---- the timer heap ----------------------------------------------------------- */

static void heap_set(kr_queue_t *q, size_t i, struct qitem *it)
{
    q->heap[i] = it;
    it->heap_index = i;
}

static void heap_up(kr_queue_t *q, size_t i)
{
    struct qitem *it = q->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (q->heap[parent]->due_ns <= it->due_ns)
            break;
        heap_set(q, i, q->heap[parent]);
        i = parent;
    }
    heap_set(q, i, it);
}

static void heap_down(kr_queue_t *q, size_t i)
{
    struct qitem *it = q->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->nheap)
            break;
        if (child + 1 < q->nheap && q->heap[child + 1]->due_ns < q->heap[child]->due_ns)
            child++;
        if (it->due_ns <= q->heap[child]->due_ns)
            break;
        heap_set(q, i, q->heap[child]);
        i = child;
    }
    heap_set(q, i, it);
}

static struct qitem *heap_pop(kr_queue_t *q)
{
    struct qitem *top = q->heap[0];
    q->nheap--;
    if (q->nheap > 0) {
        heap_set(q, 0, q->heap[q->nheap]);
        heap_down(q, 0);
    }
    top->heap_index = NOT_WAITING;
    return top;
}

static int heap_reserve_one(kr_queue_t *q)
{
    if (q->nheap < q->heap_cap)
        return 0;
    size_t ncap = q->heap_cap ? q->heap_cap * 2 : 64;
    struct qitem **nh = kr_realloc(q->heap, ncap * sizeof(struct qitem *));
    if (!nh)
        return KR_ENOMEM;
    q->heap = nh;
    q->heap_cap = ncap;
    return 0;
}

/* ---- items ----------------------------------------------------------------------- */

HOT bool item_unused(const struct qitem *it)
{
    return (it->flags & (F_DIRTY | F_PROCESSING | F_QUEUED | F_IDLE)) == 0 && it->ring_refs == 0 &&
           it->heap_index == NOT_WAITING && it->failures == 0;
}

/* Free idle keys, in CLOCK order over the key map, until half of the
 * allowance is free again: a key that was idle and used again since the
 * hand last passed it gets a second chance; a key used once (a relist's)
 * goes first. A sweep may pass over the whole map twice; freeing half the
 * allowance at a time keeps that amortised over many dones. */
COLD void idle_sweep(kr_queue_t *q, const struct qitem *keep)
{
    kr_keymap *m = &q->items;
    size_t allowed = q->idle_max > m->count / 4 ? q->idle_max : m->count / 4;
    size_t target = allowed / 2;
    size_t steps = 2 * (m->mask + 1) + 2; /* the first pass may only clear F_RECENT */
    size_t i = q->idle_hand & m->mask;
    while (q->nidle > target && steps-- > 0) {
        struct qitem *it = m->slots[i].hash ? m->slots[i].val : NULL;
        if (it && (it->flags & F_IDLE) && it != keep) {
            if (it->flags & F_RECENT) {
                it->flags &= ~(unsigned)F_RECENT;
            } else {
                kr_keymap_remove_at(m, i); /* a later key may move into slot i */
                kr_free(it);
                q->nidle--;
                continue;
            }
        }
        i = (i + 1) & m->mask;
    }
    q->idle_hand = i;
    size_t cap = m->mask + 1;
    kr_keymap_shrink(m); /* after a relist, give the large table back */
    if (m->mask + 1 != cap)
        q->idle_hand = 0;
}

/* An unused key stays interned (re-adding it allocates nothing) while at
 * most idle_max keys, or a quarter of the interned keys when that is more,
 * are idle. Marking a key idle or busy touches only the key and a counter;
 * the sweep that frees keys runs once per many adds. */
HOT void make_idle(kr_queue_t *q, struct qitem *it)
{
    it->flags |= F_IDLE;
    if (UNLIKELY(++q->nidle > q->idle_max) && q->nidle * 4 > q->items.count)
        idle_sweep(q, it);
}

HOT void maybe_idle(kr_queue_t *q, struct qitem *it)
{
    if (item_unused(it))
        make_idle(q, it);
}

HOT void unidle(kr_queue_t *q, struct qitem *it)
{
    if (it->flags & F_IDLE) {
        it->flags = (it->flags & ~(unsigned)F_IDLE) | F_RECENT; /* CLOCK's reference bit */
        q->nidle--;
    }
}

HOT struct qitem *item_find(kr_queue_t *q, uint64_t hash, const char *key, size_t len)
{
    return kr_keymap_get(&q->items, hash, key, len);
}

COLD struct qitem *item_new(kr_queue_t *q, uint64_t hash, const char *key, size_t len)
{
    if (kr_keymap_reserve_one(&q->items) != 0)
        return NULL;
    struct qitem *it = kr_malloc(sizeof(*it) + len + 1);
    if (!it)
        return NULL;
    memset(it, 0, sizeof(*it));
    it->hash = hash;
    it->heap_index = NOT_WAITING;
    it->len = len;
    memcpy(it->key, key, len);
    it->key[len] = '\0';
    if (kr_keymap_insert(&q->items, hash, it->key, len, it) != 0) { /* a key of 4 GiB */
        kr_free(it);
        return NULL;
    }
    return it;
}

/* The interned item for key, created when missing (NULL: out of memory). A
 * new item is not idle and must be used or made idle before the lock is
 * released. */
HOT struct qitem *item_get(kr_queue_t *q, uint64_t hash, const char *key, size_t len)
{
    struct qitem *it = item_find(q, hash, key, len);
    return LIKELY(it != NULL) ? it : item_new(q, hash, key, len);
}

/* ---- core operations (lock held) ---------------------------------------------------- */

/* controller-runtime: a later add with a higher priority raises a dirty key,
 * to the tail of its new lane when queued (its old entry goes stale). */
COLD int raise_locked(kr_queue_t *q, struct qitem *it, struct lane *lane, int64_t now)
{
    if (lane_reserve(lane, 1) != 0)
        return KR_ENOMEM;
    TRACE(q, KR_QTRACE_ADD, it->key, lane->priority, now);
    if (it->flags & F_QUEUED) {
        q->queued--;
        enqueue(q, it, lane);
    } else { /* processing: done requeues it in the new lane */
        lane_for(q, it->priority)->pending--; /* exists: it was added there */
        lane->pending++;
        it->priority = lane->priority;
    }
    return 0;
}

/* client-go's Add, with priorities. `now` is only used for metrics. Fails
 * (KR_ENOMEM) only before changing anything. */
HOT int add_locked(kr_queue_t *q, struct qitem *it, int priority, int64_t now)
{
    struct lane *lane = lane_for(q, priority);
    if (UNLIKELY(!lane))
        return KR_ENOMEM;
    if (it->flags & F_DIRTY) {
        if (UNLIKELY(priority > it->priority))
            return raise_locked(q, it, lane, now);
        TRACE(q, KR_QTRACE_ADD, it->key, priority, now);
        return 0;
    }
    if (UNLIKELY(lane_reserve(lane, 1) != 0))
        return KR_ENOMEM;
    TRACE(q, KR_QTRACE_ADD, it->key, priority, now);
    unidle(q, it);
    it->flags |= F_DIRTY;
    if (UNLIKELY(q->metrics_on)) {
        kr_metrics_counter_add(q->m.adds, 1);
        kr_metrics_gauge_add(q->m.depth, 1);
        it->added_ns = now;
    }
    if (UNLIKELY(it->flags & F_PROCESSING)) {
        it->priority = priority;
        lane->pending++;
        return 0;
    }
    enqueue(q, it, lane);
    return 0;
}

/* Move every key whose due time has come into its lane. A key whose lane
 * cannot grow (out of memory) stays waiting for the next pass. */
static void promote_due(kr_queue_t *q, int64_t now)
{
    while (q->nheap > 0 && q->heap[0]->due_ns <= now) {
        struct qitem *it = q->heap[0];
        struct lane *lane = lane_for(q, it->wait_priority); /* add_after made it */
        if (!lane || lane_reserve(lane, 1) != 0)
            break;
        heap_pop(q);
        TRACE(q, KR_QTRACE_PROMOTE, it->key, it->wait_priority, it->due_ns);
        add_locked(q, it, it->wait_priority, now); /* room reserved: cannot fail */
    }
    TRACE(q, KR_QTRACE_PROMOTED, NULL, 0, now);
}

/* Give an empty lane's large ring back. */
COLD void ring_shrink(struct lane *lane)
{
    size_t cap = RING_MIN;
    while (cap < lane->pending)
        cap *= 2;
    if (cap < lane->mask + 1)
        (void)ring_resize(lane, cap); /* on failure the large ring stays */
}

/* A popped entry that was not the item's live one. */
COLD void drop_stale(kr_queue_t *q, struct qitem *it)
{
    maybe_idle(q, it);
}

/* Hand out the first live entry of the highest non-empty lane (the caller
 * checked q->queued and reserved a processing-set slot). */
HOT struct qitem *pop_locked(kr_queue_t *q, int64_t now)
{
    for (size_t i = 0; i < q->nlanes; i++) {
        struct lane *lane = q->lanes[i];
        while (lane->head != lane->tail) {
            uint64_t pos = lane->head++;
            struct qitem *it = lane->ring[pos & lane->mask];
            it->ring_refs--;
            if (LIKELY((it->flags & F_QUEUED) && it->pos == pos &&
                       it->priority == lane->priority)) {
                q->queued--;
                it->flags = (it->flags & ~(unsigned)(F_QUEUED | F_DIRTY)) | F_PROCESSING;
                it->seq = ++q->handouts;
                it->got_priority = it->priority;
                pset_insert(&q->proc, it);
                if (UNLIKELY(q->metrics_on)) {
                    it->started_ns = now;
                    kr_metrics_gauge_add(q->m.depth, -1);
                    /* clocks are read before the lock: another thread's
                     * add may have read a later one */
                    int64_t waited = now > it->added_ns ? now - it->added_ns : 0;
                    kr_metrics_histogram_observe(q->m.queue_duration, (double)waited / 1e9);
                }
                TRACE(q, KR_QTRACE_GET, it->key, it->priority, now);
                return it;
            }
            drop_stale(q, it);
        }
        if (UNLIKELY(lane->mask + 1 > RING_KEEP))
            ring_shrink(lane);
    }
    return NULL; /* not reached while q->queued counts live entries */
}

static void timespec_from_ns(struct timespec *ts, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

static void shutdown_locked(kr_queue_t *q)
{
    if (q->shutting_down)
        return;
    q->shutting_down = true;
    TRACE(q, KR_QTRACE_SHUTDOWN, NULL, 0, 0);
    /* as client-go's delaying queue: keys still waiting are never added */
    while (q->nheap > 0) {
        struct qitem *it = heap_pop(q);
        maybe_idle(q, it);
    }
    kr_cond_broadcast(&q->get_cond);
    kr_cond_broadcast(&q->drain_cond);
    if (q->wake)
        q->wake_pending |= WAKE_DUE;
}
/* ---- metrics ------------------------------------------------------------------------- */

static const double workqueue_buckets[] = {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};

/* client-go refreshes these two gauges every 500 ms from a goroutine; here
 * the registry asks for them when it renders. */
static void collect_unfinished(void *user)
{
    kr_queue_t *q = user;
    kr_mutex_lock(&q->mu);
    int64_t now = kr_clock_read(&q->clock);
    double total = 0, longest = 0;
    for (size_t i = 0; i <= q->proc.mask; i++) {
        if (!q->proc.slots[i])
            continue;
        double s = (double)(now - q->proc.slots[i]->started_ns) / 1e9;
        total += s;
        if (s > longest)
            longest = s;
    }
    queue_unlock(q);
    kr_metrics_gauge_set(q->m.unfinished, total);
    kr_metrics_gauge_set(q->m.longest, longest);
}

struct family_spec {
    kr_metric_type type;
    const char *name;
    const char *help;
    size_t offset;
};

static int metrics_init(kr_queue_t *q, const char *name, kr_error_t *err)
{
    static const struct family_spec specs[] = {
        {KR_METRIC_GAUGE, "workqueue_depth", "Current depth of workqueue",
         offsetof(struct queue_metrics, depth)},
        {KR_METRIC_COUNTER, "workqueue_adds_total", "Total number of adds handled by workqueue",
         offsetof(struct queue_metrics, adds)},
        {KR_METRIC_HISTOGRAM, "workqueue_queue_duration_seconds",
         "How long in seconds an item stays in workqueue before being requested.",
         offsetof(struct queue_metrics, queue_duration)},
        {KR_METRIC_HISTOGRAM, "workqueue_work_duration_seconds",
         "How long in seconds processing an item from workqueue takes.",
         offsetof(struct queue_metrics, work_duration)},
        {KR_METRIC_GAUGE, "workqueue_unfinished_work_seconds",
         "How many seconds of work has done that is in progress and hasn't been observed by "
         "work_duration. Large values indicate stuck threads. One can deduce the number of "
         "stuck threads by observing the rate at which this increases.",
         offsetof(struct queue_metrics, unfinished)},
        {KR_METRIC_GAUGE, "workqueue_longest_running_processor_seconds",
         "How many seconds has the longest running processor for workqueue been running.",
         offsetof(struct queue_metrics, longest)},
        {KR_METRIC_COUNTER, "workqueue_retries_total",
         "Total number of retries handled by workqueue", offsetof(struct queue_metrics, retries)},
    };
    static const char *const label_names[] = {"name"};
    const char *const label_values[] = {name};
    for (size_t i = 0; i < KR_ARRAY_LEN(specs); i++) {
        const struct family_spec *s = &specs[i];
        bool hist = s->type == KR_METRIC_HISTOGRAM;
        kr_metric_family_t *fam;
        int rc = kr_metrics_family_register(q->registry, s->type, s->name, s->help, label_names, 1,
                                            hist ? workqueue_buckets : NULL,
                                            hist ? KR_ARRAY_LEN(workqueue_buckets) : 0, &fam, err);
        if (rc != 0)
            return rc;
        kr_metric_t **slot = (kr_metric_t **)(void *)((char *)&q->m + s->offset);
        rc = kr_metrics_series(fam, label_values, slot, err);
        if (rc != 0)
            return rc;
    }
    int id = kr_metrics_collector_add(q->registry, collect_unfinished, q);
    if (id < 0)
        return kr_error_set(err, id, "queue %s: registering its metrics collector", name);
    q->collector_id = id;
    q->metrics_on = true;
    return 0;
}

/* ---- life ---------------------------------------------------------------------------- */

int kr_queue_new(const kr_queue_opts *opts, kr_queue_t **out, kr_error_t *err)
{
    kr_queue_opts zero = {0};
    if (!opts)
        opts = &zero;
    *out = NULL;
    if (opts->version > KR_QUEUE_OPTS_VERSION) {
        kr_ratelimiter_free(opts->ratelimiter); /* stolen, also on failure */
        return kr_error_set(err, KR_EINVAL, "queue: options version %u is newer than %u",
                            opts->version, (unsigned)KR_QUEUE_OPTS_VERSION);
    }
    kr_queue_t *q = kr_calloc(1, sizeof(*q));
    if (!q) {
        kr_ratelimiter_free(opts->ratelimiter);
        return kr_error_set(err, KR_ENOMEM, "queue: out of memory");
    }
    q->rl = opts->ratelimiter;
    q->collector_id = -1;
    q->clock = opts->clock;
    q->injected_clock = opts->clock.now_ns != NULL;
    q->max_retries = opts->max_retries;
    q->on_give_up = opts->on_give_up;
    q->give_up_user = opts->give_up_user;
    q->idle_max = opts->idle_keys ? opts->idle_keys : DEFAULT_IDLE_KEYS;
    int rc = KR_ENOMEM;
    if (kr_mutex_init(&q->mu) != 0 || kr_cond_init(&q->get_cond) != 0 ||
        kr_cond_init(&q->drain_cond) != 0) {
        kr_ratelimiter_free(q->rl);
        kr_free(q);
        return kr_error_set(err, KR_ENOMEM, "queue: cannot create its lock");
    }
    if (!q->rl && (rc = kr_ratelimiter_new_default(&q->rl, err)) != 0)
        goto fail;
    rc = KR_ENOMEM;
    if (kr_keymap_init(&q->items, 64) != 0 || pset_init(&q->proc) != 0)
        goto fail_nomem;
    if (!lane_find_or_make(q, KR_QUEUE_PRIORITY_LOW) ||
        !(q->lane_normal = lane_find_or_make(q, KR_QUEUE_PRIORITY_NORMAL)))
        goto fail_nomem;
    if (opts->metrics && opts->name) {
        q->registry = opts->metrics;
        if ((rc = metrics_init(q, opts->name, err)) != 0)
            goto fail;
    }
    *out = q;
    return 0;
fail_nomem:
    kr_error_set(err, rc, "queue: out of memory");
fail:
    kr_queue_free(q);
    return rc;
}

void kr_queue_free(kr_queue_t *q)
{
    if (!q)
        return;
    if (q->collector_id >= 0)
        kr_metrics_collector_remove(q->registry, q->collector_id);
    if (q->items.slots) {
        for (size_t i = 0; i <= q->items.mask; i++)
            if (q->items.slots[i].hash)
                kr_free(q->items.slots[i].val);
        kr_keymap_free(&q->items);
    }
    for (size_t i = 0; i < q->nlanes; i++)
        lane_free(q->lanes[i]);
    kr_free(q->lanes);
    kr_free(q->proc.slots);
    kr_free(q->heap);
    kr_ratelimiter_free(q->rl);
    kr_cond_destroy(&q->get_cond);
    kr_cond_destroy(&q->drain_cond);
    kr_mutex_destroy(&q->mu);
    kr_free(q);
}

void kr_queue_set_trace(kr_queue_t *q, kr_queue_trace_cb fn, void *user)
{
    q->trace = fn;
    q->trace_user = user;
}

void kr_queue_set_wake(kr_queue_t *q, kr_queue_wake_cb fn, void *user)
{
    q->wake = fn;
    q->wake_user = user;
}

int64_t kr_queue_next_due_ns(kr_queue_t *q)
{
    kr_mutex_lock(&q->mu);
    int64_t due = q->nheap > 0 ? q->heap[0]->due_ns : INT64_MAX;
    queue_unlock(q);
    return due;
}

/* ---- adds ---------------------------------------------------------------------------- */

HOT int add_common(kr_queue_t *q, const char *key, int priority)
{
    if (!key)
        return KR_EINVAL;
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    int64_t now = q->metrics_on ? kr_clock_read(&q->clock) : 0;
    kr_mutex_lock(&q->mu);
    int rc = KR_ESHUTDOWN;
    if (LIKELY(!q->shutting_down)) {
        struct qitem *it = item_get(q, hash, key, len);
        rc = it ? add_locked(q, it, priority, now) : KR_ENOMEM;
        if (UNLIKELY(rc != 0) && it)
            maybe_idle(q, it); /* a new key that could not be queued */
    }
    queue_unlock(q);
    return rc;
}

int kr_queue_add_priority(kr_queue_t *q, const char *key, int priority)
{
    return add_common(q, key, priority);
}

int kr_queue_add(kr_queue_t *q, const char *key)
{
    return add_common(q, key, KR_QUEUE_PRIORITY_NORMAL);
}

/* The queue keeps ns; the public delays are ms. */
static int add_after_ns(kr_queue_t *q, const char *key, int64_t delay_ns, int priority)
{
    if (delay_ns <= 0)
        return kr_queue_add_priority(q, key, priority);
    if (!key)
        return KR_EINVAL;
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    int64_t now = kr_clock_read(&q->clock);
    int64_t due = delay_ns > INT64_MAX - now ? INT64_MAX : now + delay_ns;
    kr_mutex_lock(&q->mu);
    int rc = 0;
    struct qitem *it;
    if (q->shutting_down) {
        rc = KR_ESHUTDOWN;
    } else if (!lane_for(q, priority) || heap_reserve_one(q) != 0 ||
               !(it = item_get(q, hash, key, len))) {
        rc = KR_ENOMEM;
    } else {
        TRACE(q, KR_QTRACE_ADD_AFTER, it->key, priority, due);
        unidle(q, it);
        if (it->heap_index == NOT_WAITING) {
            it->due_ns = due;
            it->wait_priority = priority;
            heap_set(q, q->nheap++, it);
            heap_up(q, it->heap_index);
        } else {
            /* client-go: the earliest due time wins */
            if (due < it->due_ns) {
                it->due_ns = due;
                heap_up(q, it->heap_index);
            }
            if (priority > it->wait_priority)
                it->wait_priority = priority;
        }
        /* a getter sleeping until a later due time must recompute */
        if (q->waiters && it->heap_index == 0 && !q->injected_clock)
            kr_cond_broadcast(&q->get_cond);
        if (q->wake && it->heap_index == 0)
            q->wake_pending |= WAKE_DUE;
    }
    queue_unlock(q);
    return rc;
}

int kr_queue_add_after_priority(kr_queue_t *q, const char *key, uint64_t delay_ms, int priority)
{
    return add_after_ns(q, key, kr_ms_to_ns(delay_ms), priority);
}

int kr_queue_add_after(kr_queue_t *q, const char *key, uint64_t delay_ms)
{
    return add_after_ns(q, key, kr_ms_to_ns(delay_ms), KR_QUEUE_PRIORITY_NORMAL);
}

int kr_queue_add_rate_limited_priority(kr_queue_t *q, const char *key, int priority)
{
    if (!key)
        return KR_EINVAL;
    int64_t delay = kr_ratelimiter_when_ns(q->rl, key, kr_clock_read(&q->clock));
    if (q->metrics_on)
        kr_metrics_counter_add(q->m.retries, 1);
    return add_after_ns(q, key, delay, priority);
}

int kr_queue_add_rate_limited(kr_queue_t *q, const char *key)
{
    return kr_queue_add_rate_limited_priority(q, key, KR_QUEUE_PRIORITY_NORMAL);
}

int kr_queue_add_failed(kr_queue_t *q, const char *key)
{
    return kr_queue_add_failed_priority(q, key, KR_QUEUE_PRIORITY_NORMAL);
}

int kr_queue_add_failed_priority(kr_queue_t *q, const char *key, int priority)
{
    if (!key)
        return KR_EINVAL;
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    kr_mutex_lock(&q->mu);
    if (q->shutting_down) {
        queue_unlock(q);
        return KR_ESHUTDOWN;
    }
    struct qitem *it = item_get(q, hash, key, len);
    if (!it) {
        queue_unlock(q);
        return KR_ENOMEM;
    }
    unidle(q, it);
    unsigned failures = ++it->failures;
    bool give_up = q->max_retries && failures > q->max_retries;
    if (give_up) {
        it->failures = 0;
        maybe_idle(q, it);
    }
    queue_unlock(q);
    if (give_up) {
        kr_ratelimiter_forget(q->rl, key);
        if (q->on_give_up)
            q->on_give_up(key, failures, q->give_up_user);
        return KR_QUEUE_GAVE_UP;
    }
    return kr_queue_add_rate_limited_priority(q, key, priority);
}

/* ---- get / done ---------------------------------------------------------------------- */

/* Hand out the next key, waiting while the queue is empty when `block`.
 * `now` is the caller's clock reading when `have_now` (otherwise it is read
 * here when needed). Lock held; the wait releases it. */
HOT int get_locked(kr_queue_t *q, const char **key, bool block, bool have_now, int64_t now)
{
    for (;;) {
        if (q->nheap > 0 || (q->metrics_on && !have_now)) {
            now = kr_clock_read(&q->clock);
            if (q->nheap > 0)
                promote_due(q, now);
        }
        have_now = false; /* after a wait the reading is stale */
        if (LIKELY(q->queued != 0)) {
            if (UNLIKELY(pset_reserve_one(&q->proc) != 0))
                return KR_ENOMEM;
            struct qitem *it = pop_locked(q, now);
            if (LIKELY(it != NULL)) {
                *key = it->key;
                return 0;
            }
        }
        if (q->shutting_down)
            return KR_ESHUTDOWN;
        if (!block) {
            TRACE(q, KR_QTRACE_GET_EMPTY, NULL, 0, now);
            return KR_ENOTFOUND;
        }
        q->waiters++;
        if (q->nheap > 0 && !q->injected_clock) {
            struct timespec ts;
            timespec_from_ns(&ts, q->heap[0]->due_ns);
            kr_cond_wait(&q->get_cond, &q->mu, &ts);
        } else {
            kr_cond_wait(&q->get_cond, &q->mu, NULL);
        }
        q->waiters--;
    }
}

static int get_common(kr_queue_t *q, const char **key, bool block)
{
    if (!key)
        return KR_EINVAL;
    kr_mutex_lock(&q->mu);
    int rc = get_locked(q, key, block, false, 0);
    queue_unlock(q);
    return rc;
}

int kr_queue_get(kr_queue_t *q, const char **key)
{
    return get_common(q, key, true);
}

int kr_queue_try_get(kr_queue_t *q, const char **key)
{
    return get_common(q, key, false);
}

/* done for a key string that is not the one get handed out (the worker
 * made its own copy): find it by content. */
COLD struct qitem *processing_by_content(kr_queue_t *q, const char *key)
{
    size_t len = strlen(key);
    struct qitem *it = item_find(q, kr_key_hash(key, len), key, len);
    if (!it || !(it->flags & F_PROCESSING))
        return NULL;
    pset_take(&q->proc, it->key);
    return it;
}

/* client-go's Done. `now` is only used for metrics. Lock held. */
HOT int done_locked(kr_queue_t *q, const char *key, int64_t now)
{
    /* workers usually pass back the very pointer get gave them */
    struct qitem *it = pset_take(&q->proc, key);
    if (UNLIKELY(!it) && !(it = processing_by_content(q, key)))
        return KR_ENOTFOUND;
    TRACE(q, KR_QTRACE_DONE, it->key, it->priority, now);
    if (UNLIKELY(q->metrics_on))
        kr_metrics_histogram_observe(
            q->m.work_duration, (double)(now > it->started_ns ? now - it->started_ns : 0) / 1e9);
    it->flags &= ~(unsigned)F_PROCESSING;
    if (UNLIKELY(it->flags & F_DIRTY)) {
        /* add_locked made this lane and reserved room in it (pending) */
        struct lane *lane = lane_for(q, it->priority);
        lane->pending--;
        enqueue(q, it, lane);
    } else {
        maybe_idle(q, it);
    }
    if (UNLIKELY(q->drainers != 0)) /* drainers re-check their deadline too */
        kr_cond_broadcast(&q->drain_cond);
    return 0;
}

int kr_queue_done(kr_queue_t *q, const char *key)
{
    if (!key)
        return KR_EINVAL;
    int64_t now = q->metrics_on ? kr_clock_read(&q->clock) : 0;
    kr_mutex_lock(&q->mu);
    int rc = done_locked(q, key, now);
    queue_unlock(q);
    return rc;
}

/* One lock acquisition for a worker loop's done + get (the same effects, in
 * the same order, as kr_queue_done then kr_queue_get / kr_queue_try_get). */
HOT int done_get_common(kr_queue_t *q, const char *done_key, const char **next_key, bool block)
{
    if (!next_key)
        return KR_EINVAL;
    *next_key = NULL;
    bool have_now = done_key && q->metrics_on;
    int64_t now = have_now ? kr_clock_read(&q->clock) : 0;
    kr_mutex_lock(&q->mu);
    int rc = done_key ? done_locked(q, done_key, now) : 0;
    if (rc == 0) {
        rc = get_locked(q, next_key, block, have_now, now);
        if (rc == KR_ENOTFOUND) /* nothing queued: not an error here */
            rc = 0;
    }
    queue_unlock(q);
    return rc;
}

int kr_queue_done_get(kr_queue_t *q, const char *done_key, const char **next_key)
{
    return done_get_common(q, done_key, next_key, true);
}

int kr_queue_done_try_get(kr_queue_t *q, const char *done_key, const char **next_key)
{
    return done_get_common(q, done_key, next_key, false);
}

/* The follow-up runs before done, as client-go controllers call Forget /
 * AddRateLimited before their deferred Done: the key is still processing, so
 * a re-add marks it dirty (queued again by done) and `key`, which may point
 * into the queue's own copy, cannot be freed under us. */
int kr_queue_done_result(kr_queue_t *q, const char *key, kr_queue_result result, uint64_t after_ms)
{
    if (!key)
        return KR_EINVAL;
    int rc = 0;
    /* the follow-up keeps the priority the key was handed out with */
    int priority = result == KR_QUEUE_SUCCESS ? 0 : kr_queue_priority_of(q, key);
    switch (result) {
    case KR_QUEUE_SUCCESS:
        kr_queue_forget(q, key);
        break;
    case KR_QUEUE_REQUEUE:
        rc = kr_queue_add_priority(q, key, priority);
        break;
    case KR_QUEUE_REQUEUE_AFTER:
        kr_queue_forget(q, key);
        rc = kr_queue_add_after_priority(q, key, after_ms, priority);
        break;
    case KR_QUEUE_ERROR:
        rc = kr_queue_add_failed_priority(q, key, priority);
        break;
    default:
        return KR_EINVAL;
    }
    int done_rc = kr_queue_done(q, key);
    return done_rc != 0 ? done_rc : rc;
}

/* ---- bookkeeping ------------------------------------------------------------------------ */

void kr_queue_forget(kr_queue_t *q, const char *key)
{
    if (!key)
        return;
    kr_ratelimiter_forget(q->rl, key);
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    kr_mutex_lock(&q->mu);
    struct qitem *it = item_find(q, hash, key, len);
    if (it && it->failures) {
        it->failures = 0;
        maybe_idle(q, it);
    }
    queue_unlock(q);
}

unsigned kr_queue_num_requeues(kr_queue_t *q, const char *key)
{
    return key ? kr_ratelimiter_num_requeues(q->rl, key) : 0;
}

unsigned kr_queue_num_failures(kr_queue_t *q, const char *key)
{
    if (!key)
        return 0;
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    kr_mutex_lock(&q->mu);
    struct qitem *it = item_find(q, hash, key, len);
    unsigned n = it ? it->failures : 0;
    queue_unlock(q);
    return n;
}

int kr_queue_priority_of(kr_queue_t *q, const char *key)
{
    if (!q || !key)
        return KR_QUEUE_PRIORITY_NORMAL;
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    kr_mutex_lock(&q->mu);
    struct qitem *it = item_find(q, hash, key, len);
    int priority = KR_QUEUE_PRIORITY_NORMAL;
    if (it && (it->flags & F_PROCESSING)) {
        /* handed out from, raised (never lowered) by a re-add meanwhile */
        priority = it->got_priority;
        if ((it->flags & F_DIRTY) && it->priority > priority)
            priority = it->priority;
    } else if (it && (it->flags & F_QUEUED)) {
        priority = it->priority;
    }
    queue_unlock(q);
    return priority;
}

bool kr_queue_has(kr_queue_t *q, const char *key)
{
    if (!q || !key)
        return false;
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    kr_mutex_lock(&q->mu);
    if (q->nheap > 0)
        promote_due(q, kr_clock_read(&q->clock));
    struct qitem *it = item_find(q, hash, key, len);
    bool has = it && (it->flags & (F_DIRTY | F_PROCESSING)) != 0;
    queue_unlock(q);
    return has;
}

size_t kr_queue_len(kr_queue_t *q)
{
    kr_mutex_lock(&q->mu);
    if (q->nheap > 0)
        promote_due(q, kr_clock_read(&q->clock));
    size_t n = q->queued;
    queue_unlock(q);
    return n;
}

int64_t kr_queue_now_ns(kr_queue_t *q)
{
    return kr_clock_read(&q->clock);
}

void kr_queue_poll(kr_queue_t *q)
{
    kr_mutex_lock(&q->mu);
    promote_due(q, kr_clock_read(&q->clock));
    if (q->drainers)
        kr_cond_broadcast(&q->drain_cond);
    queue_unlock(q);
}

void kr_queue_shutdown(kr_queue_t *q)
{
    kr_mutex_lock(&q->mu);
    shutdown_locked(q);
    /* as client-go's ShutDown: a drain under way stops waiting (a second
     * signal forcing a program out) */
    if (q->drainers) {
        q->drain_abandoned = true;
        kr_cond_broadcast(&q->drain_cond);
    }
    queue_unlock(q);
}

bool kr_queue_shutting_down(kr_queue_t *q)
{
    kr_mutex_lock(&q->mu);
    bool s = q->shutting_down;
    queue_unlock(q);
    return s;
}

static int by_seq(const void *a, const void *b)
{
    const struct qitem *x = *(const struct qitem *const *)a, *y = *(const struct qitem *const *)b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The keys being processed, in hand-out order: a new array of
 * q->proc.count items (kr_free), or NULL when out of memory. */
static struct qitem **processing_sorted(kr_queue_t *q)
{
    struct qitem **v = kr_malloc((q->proc.count + 1) * sizeof(struct qitem *));
    if (!v)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i <= q->proc.mask; i++)
        if (q->proc.slots[i])
            v[n++] = q->proc.slots[i];
    qsort(v, n, sizeof(struct qitem *), by_seq);
    return v;
}

/* A NULL-terminated array of the processing keys, in hand-out order, in one
 * allocation. */
static char **processing_keys(kr_queue_t *q)
{
    size_t n = q->proc.count;
    struct qitem **items = processing_sorted(q);
    if (!items)
        return NULL;
    size_t bytes = (n + 1) * sizeof(char *);
    for (size_t i = 0; i < n; i++)
        bytes += items[i]->len + 1;
    char **keys = kr_malloc(bytes);
    if (keys) {
        char *p = (char *)(keys + n + 1);
        for (size_t i = 0; i < n; i++) {
            memcpy(p, items[i]->key, items[i]->len + 1);
            keys[i] = p;
            p += items[i]->len + 1;
        }
        keys[n] = NULL;
    }
    kr_free(items);
    return keys;
}

int kr_queue_shutdown_with_drain(kr_queue_t *q, int64_t deadline_ns, char ***unfinished,
                                 size_t *n_unfinished, kr_error_t *err)
{
    if (unfinished)
        *unfinished = NULL;
    if (n_unfinished)
        *n_unfinished = 0;
    kr_mutex_lock(&q->mu);
    shutdown_locked(q);
    q->drain_abandoned = false; /* as client-go's drain flag: set again */
    q->drainers++;
    while (q->proc.count > 0 && !q->drain_abandoned) {
        if (deadline_ns < 0) {
            kr_cond_wait(&q->drain_cond, &q->mu, NULL);
            continue;
        }
        if (kr_clock_read(&q->clock) >= deadline_ns)
            break;
        if (q->injected_clock) {
            kr_cond_wait(&q->drain_cond, &q->mu, NULL);
        } else {
            struct timespec ts;
            timespec_from_ns(&ts, deadline_ns);
            kr_cond_wait(&q->drain_cond, &q->mu, &ts);
        }
    }
    q->drainers--;
    int rc = 0;
    if (q->proc.count > 0) {
        size_t n = q->proc.count;
        rc = q->drain_abandoned
                 ? kr_error_set(err, KR_ECANCELED,
                                "queue: shut down with %zu key(s) still processing", n)
                 : kr_error_set(err, KR_ETIMEDOUT,
                                "queue: %zu key(s) still processing at the deadline", n);
        if (n_unfinished)
            *n_unfinished = n;
        if (unfinished && !(*unfinished = processing_keys(q)))
            rc =
                kr_error_set(err, KR_ENOMEM, "queue: out of memory listing %zu unfinished keys", n);
    }
    queue_unlock(q);
    return rc;
}

/* ---- snapshot ---------------------------------------------------------------------------- */

static int by_due(const void *a, const void *b)
{
    const kr_queue_entry *x = a, *y = b;
    return (x->due_ns > y->due_ns) - (x->due_ns < y->due_ns);
}

static void fill_entry(kr_queue_entry *e, char **strings, const struct qitem *it)
{
    memcpy(*strings, it->key, it->len + 1);
    e->key = *strings;
    *strings += it->len + 1;
    e->priority = it->priority;
    e->failures = it->failures;
    e->dirty = (it->flags & F_DIRTY) != 0;
}

int kr_queue_snapshot_take(kr_queue_t *q, kr_queue_snapshot **out, kr_error_t *err)
{
    *out = NULL;
    kr_mutex_lock(&q->mu);
    int64_t now = kr_clock_read(&q->clock);
    promote_due(q, now);
    size_t n = q->queued + q->proc.count + q->nheap;
    size_t bytes = sizeof(kr_queue_snapshot) + n * sizeof(kr_queue_entry);
    size_t strings_at = bytes;
    for (size_t i = 0; i <= q->items.mask; i++) {
        const struct qitem *it = q->items.slots[i].val;
        if (q->items.slots[i].hash == 0)
            continue;
        size_t uses = ((it->flags & F_QUEUED) != 0) + ((it->flags & F_PROCESSING) != 0) +
                      (it->heap_index != NOT_WAITING);
        bytes += uses * (it->len + 1);
    }
    kr_queue_snapshot *s = kr_calloc(1, bytes);
    struct qitem **proc = s ? processing_sorted(q) : NULL;
    if (!proc) {
        kr_free(s);
        queue_unlock(q);
        return kr_error_set(err, KR_ENOMEM, "queue: out of memory taking a snapshot of %zu keys",
                            n);
    }
    kr_queue_entry *entries = (kr_queue_entry *)(s + 1);
    char *strings = (char *)s + strings_at;
    s->now_ns = now;
    s->shutting_down = q->shutting_down;
    s->queued = entries;
    for (size_t i = 0; i < q->nlanes; i++) {
        const struct lane *lane = q->lanes[i];
        for (uint64_t pos = lane->head; pos != lane->tail; pos++) {
            const struct qitem *it = lane->ring[pos & lane->mask];
            if (!(it->flags & F_QUEUED) || it->pos != pos || it->priority != lane->priority)
                continue; /* stale */
            kr_queue_entry *e = &entries[s->n_queued++];
            fill_entry(e, &strings, it);
            e->since_ns = it->added_ns;
        }
    }
    s->processing = entries + s->n_queued;
    for (size_t i = 0; i < q->proc.count; i++) {
        const struct qitem *it = proc[i];
        kr_queue_entry *e = &s->processing[s->n_processing++];
        fill_entry(e, &strings, it);
        e->since_ns = it->started_ns;
    }
    s->waiting = s->processing + s->n_processing;
    for (size_t i = 0; i < q->nheap; i++) {
        const struct qitem *it = q->heap[i];
        kr_queue_entry *e = &s->waiting[s->n_waiting++];
        fill_entry(e, &strings, it);
        e->priority = it->wait_priority;
        e->due_ns = it->due_ns;
    }
    queue_unlock(q);
    kr_free(proc);
    qsort(s->waiting, s->n_waiting, sizeof(*s->waiting), by_due);
    *out = s;
    return 0;
}
