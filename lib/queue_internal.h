/* libkreconcile — internals of the queue and rate-limiter modules: the
 * open-addressing string-keyed hash map both use, the clock helper, and the
 * trace hook through which the property test sees the queue's linearisation
 * order. Never installed; nothing here is part of the ABI. */
#ifndef KR_LIB_QUEUE_INTERNAL_H
#define KR_LIB_QUEUE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kreconcile/queue.h"

/* ---- string hashing and the key map ------------------------------------ */

/* A 64-bit hash of `len` bytes, 8 bytes per step (never 0: 0 marks an empty
 * slot). */
uint64_t kr_key_hash(const char *key, size_t len);

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
/* The value stored under key, or NULL. */
void *kr_keymap_get(const kr_keymap *m, uint64_t hash, const char *key, size_t len);
/* Insert a key that is not present (the caller checked). 0 or KR_ENOMEM; on
 * failure the map is unchanged. */
int kr_keymap_insert(kr_keymap *m, uint64_t hash, const char *key, size_t len, void *val);
/* Make room for one more insert so that kr_keymap_insert cannot fail. */
int kr_keymap_reserve_one(kr_keymap *m);
/* Remove key; returns its value or NULL when absent. */
void *kr_keymap_remove(kr_keymap *m, uint64_t hash, const char *key, size_t len);

/* ---- clock --------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t kr_clock_monotonic_ns(void);
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

#endif /* KR_LIB_QUEUE_INTERNAL_H */
