/* libkreconcile — internals of the queue and rate-limiter modules: the
 * open-addressing string-keyed hash map both use, the clock helper, the
 * trace hook through which the property test sees the queue's linearisation
 * order, and the wake hook and next-due query the controller's lanes use.
 * Never installed; nothing here is part of the ABI. */
#ifndef KR_LIB_QUEUE_INTERNAL_H
#define KR_LIB_QUEUE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kreconcile/queue.h"

/* ---- string hashing and the key map ------------------------------------ */

/* A 64-bit hash of `len` bytes (never 0: 0 marks an empty slot). Inline: it
 * runs on every add, outside the queue's lock. */
static inline uint64_t kr_load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t kr_load32(const unsigned char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The folded 64x64->128 multiply: both halves of the product xored, so every
 * input bit reaches most output bits in one multiply (the mixing step of the
 * wyhash family). */
static inline uint64_t kr_fold_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t ha = a >> 32, la = (uint32_t)a, hb = b >> 32, lb = (uint32_t)b;
    uint64_t hh = ha * hb, hl = ha * lb, lh = la * hb, ll = la * lb;
    uint64_t mid = (ll >> 32) + (uint32_t)hl + (uint32_t)lh;
    uint64_t lo = (mid << 32) | (uint32_t)ll;
    uint64_t hi = hh + (hl >> 32) + (lh >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

#define KR_HASH_K0 0xa0761d6478bd642fULL
#define KR_HASH_K1 0xe7037ed1a0b428dbULL
#define KR_HASH_K2 0x8ebc6af09c88c6e3ULL
#define KR_HASH_K3 0x589965cc75374cc3ULL

static inline uint64_t kr_key_hash(const char *key, size_t len)
{
    /* 16 bytes per folded multiply; the first and the last 16 bytes (which
     * may overlap) are mixed independently, so a typical "namespace/name"
     * key costs three multiplies, two of them in parallel. Never a byte
     * beyond the key is read. */
    const unsigned char *p = (const unsigned char *)key;
    uint64_t a, b, c, d;
    if (len >= 16) {
        uint64_t seed = KR_HASH_K0 ^ len;
        size_t n = len;
        const unsigned char *q = p;
        while (n > 32) {
            seed = kr_fold_mul(kr_load64(q) ^ KR_HASH_K1, kr_load64(q + 8) ^ seed);
            q += 16;
            n -= 16;
        }
        a = kr_load64(q) ^ seed;
        b = kr_load64(q + 8);
        c = kr_load64(p + len - 16);
        d = kr_load64(p + len - 8);
    } else if (len >= 8) {
        a = kr_load64(p) ^ KR_HASH_K0 ^ len;
        b = 0;
        c = kr_load64(p + len - 8);
        d = 0;
    } else if (len >= 4) {
        a = kr_load32(p) ^ KR_HASH_K0 ^ len;
        b = 0;
        c = kr_load32(p + len - 4);
        d = 0;
    } else {
        a = (len ? ((uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1]) : 0) ^
            KR_HASH_K0 ^ len;
        b = c = d = 0;
    }
    uint64_t h = kr_fold_mul(kr_fold_mul(a ^ KR_HASH_K1, b ^ KR_HASH_K2) ^ KR_HASH_K3,
                             kr_fold_mul(c ^ KR_HASH_K2, d ^ KR_HASH_K1) ^ len);
    return h ? h : 1;
}

/* One slot: the cached hash, the key (borrowed from `val`, which owns it and
 * must keep it at a stable address) and the value. */
typedef struct kr_keymap_slot {
    uint64_t hash; /* 0: empty */
    const char *key;
    size_t len;
    void *val;
} kr_keymap_slot;

/* Linear probing with backward-shift deletion (no tombstones), load <= 1/2. */
typedef struct kr_keymap {
    kr_keymap_slot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t count;
} kr_keymap;

int kr_keymap_init(kr_keymap *m, size_t capacity_hint);
void kr_keymap_free(kr_keymap *m);
/* The value stored under key, or NULL. Inline: it runs under the lock. */
/* Equal keys of equal length `len`: 8 bytes at a time, no library call. */
static inline bool kr_same_key(const char *a, const char *b, size_t len)
{
    if (a == b)
        return true;
    if (len < 8)
        return memcmp(a, b, len) == 0;
    uint64_t x, y;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    /* the last 8 bytes, overlapping what was compared */
    memcpy(&x, a + len - 8, 8);
    memcpy(&y, b + len - 8, 8);
    return x == y;
}

static inline void *kr_keymap_get(const kr_keymap *m, uint64_t hash, const char *key, size_t len)
{
    for (size_t i = hash & m->mask;; i = (i + 1) & m->mask) {
        const kr_keymap_slot *s = &m->slots[i];
        if (s->hash == 0)
            return NULL;
        if (s->hash == hash && s->len == len && kr_same_key(s->key, key, len))
            return s->val;
    }
}

/* Insert a key that is not present (the caller checked). 0 or KR_ENOMEM; on
 * failure the map is unchanged. */
int kr_keymap_insert(kr_keymap *m, uint64_t hash, const char *key, size_t len, void *val);
/* Make room for one more insert so that kr_keymap_insert cannot fail. */
int kr_keymap_reserve_one(kr_keymap *m);
/* Remove key; returns its value or NULL when absent. */
void *kr_keymap_remove(kr_keymap *m, uint64_t hash, const char *key, size_t len);
/* Remove the occupied slot `i`. A later member of its probe run may move
 * into slot i (visit it again when scanning); none moves before it. */
void kr_keymap_remove_at(kr_keymap *m, size_t i);
/* Give memory back when at most an eighth of the slots are used. */
void kr_keymap_shrink(kr_keymap *m);

/* ---- clock --------------------------------------------------------------- */

/* now_ns of `clock`, or CLOCK_MONOTONIC when clock or its now_ns is NULL. */
int64_t kr_clock_read(const kr_clock *clock);

/* ---- trace hook (tests) ---------------------------------------------------- */

/* Every state change of a queue, reported under the queue's lock, so that the
 * order of the calls is the order in which the operations took effect. */
typedef enum kr_queue_trace_kind {
    KR_QTRACE_ADD, /* key, priority (also for ignored duplicate adds) */
    KR_QTRACE_ADD_AFTER, /* key, priority, when_ns = due time */
    KR_QTRACE_PROMOTE, /* key became due, priority; when_ns = its due time */
    KR_QTRACE_PROMOTED, /* end of a promotion pass at when_ns = now */
    KR_QTRACE_GET, /* key handed out */
    KR_QTRACE_GET_EMPTY, /* try_get found nothing queued */
    KR_QTRACE_DONE, /* key done */
    KR_QTRACE_SHUTDOWN, /* shutdown began */
} kr_queue_trace_kind;

typedef void (*kr_queue_trace_fn)(kr_queue_trace_kind kind, const char *key, int priority,
                                  int64_t when_ns, void *user);

/* Install a trace hook before the queue is shared between threads. */
void kr_queue_set_trace(kr_queue_t *q, kr_queue_trace_fn fn, void *user);

/* ---- wake hook (the controller's lanes) ------------------------------------ */

/* Lets workers that serve several queues sleep on one condition of their
 * own: called right after the queue's lock is released by a call in which a
 * key was queued (it can be handed out), with due_changed false; with
 * due_changed true when the earliest due time of the waiting keys moved
 * earlier or the queue shut down. Runs on the thread of that call; it must
 * be short. */
typedef void (*kr_queue_wake_fn)(bool due_changed, void *user);

/* Install a wake hook before the queue is shared between threads. */
void kr_queue_set_wake(kr_queue_t *q, kr_queue_wake_fn fn, void *user);

/* The due time (queue clock) of the earliest waiting key, or INT64_MAX when
 * none waits. [any thread] */
int64_t kr_queue_next_due_ns(kr_queue_t *q);

#endif /* KR_LIB_QUEUE_INTERNAL_H */
