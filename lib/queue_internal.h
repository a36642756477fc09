/* libkreconcile — internals of the queue module (its map, hash and clock
 * come from the base layer, util_internal.h): the trace hook through which
 * the property test sees the queue's linearisation order, and the wake hook and next-due query the
 * controller's lanes use. Never installed; nothing here is part of the ABI. */
#ifndef KR_LIB_QUEUE_INTERNAL_H
#define KR_LIB_QUEUE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kreconcile/queue.h"
#include "util_internal.h"

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

typedef void (*kr_queue_trace_cb)(kr_queue_trace_kind kind, const char *key, int priority,
                                  int64_t when_ns, void *user);

/* Install a trace hook before the queue is shared between threads. */
void kr_queue_set_trace(kr_queue_t *q, kr_queue_trace_cb fn, void *user);

/* ---- wake hook (the controller's lanes) ------------------------------------ */

/* Lets workers that serve several queues sleep on one condition of their
 * own: called right after the queue's lock is released by a call in which a
 * key was queued (it can be handed out), with due_changed false; with
 * due_changed true when the earliest due time of the waiting keys moved
 * earlier or the queue shut down. Runs on the thread of that call; it must
 * be short. */
typedef void (*kr_queue_wake_cb)(bool due_changed, void *user);

/* Install a wake hook before the queue is shared between threads. */
void kr_queue_set_wake(kr_queue_t *q, kr_queue_wake_cb fn, void *user);

/* The due time (queue clock) of the earliest waiting key, or INT64_MAX when
 * none waits. [any thread] */
int64_t kr_queue_next_due_ns(kr_queue_t *q);

#endif /* KR_LIB_QUEUE_INTERNAL_H */
