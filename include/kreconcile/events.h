/* libkreconcile — Events about the objects a controller handles: what
 * `kubectl describe` shows under "Events", written as client-go's record
 * package writes them (core/v1 Event, source and reporting component,
 * firstTimestamp, lastTimestamp and count).
 *
 * Recording never blocks on the network and never fails the caller's
 * work: an event is correlated under a lock and queued, and one request
 * at a time sends the queue in order. The correlation is client-go's:
 *
 *   - the same event again (same object, type, reason and message) is
 *     not a new object: the one written is patched with count + 1 and a
 *     new lastTimestamp (created again if it has expired meanwhile);
 *   - 10 events of the same object, type and reason with different
 *     messages within 10 minutes become one, "(combined from similar
 *     events): <the latest message>", counted from then on;
 *   - each object gets a burst of 25 events, then one more every 5
 *     minutes; the rest are dropped (and counted).
 *
 * The keys of all three are kept in caches of `cache_size` entries, the
 * least recently used forgotten first. The client needs `create` and
 * `patch` on `events` in the objects' namespaces (cluster-scoped objects'
 * events go to "default"). [any thread] */
#ifndef KRECONCILE_EVENTS_H
#define KRECONCILE_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "common.h"
#include "ratelimit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_event_recorder kr_event_recorder_t;

typedef enum kr_event_type { KR_EVENT_NORMAL = 0, KR_EVENT_WARNING = 1 } kr_event_type;

typedef struct kr_event_recorder_opts {
    unsigned version; /* KR_EVENT_RECORDER_OPTS_VERSION (0 is taken as 1) */
    kr_client_t *client; /* borrowed; required; must outlive the recorder */
    const char *component; /* source.component and reportingComponent; required ("kr-syncer") */
    const char *host; /* source.host and reportingInstance; NULL: the host's name */
    unsigned burst; /* events per object before the refill paces them; 0 = 25 */
    uint64_t refill_ms; /* one more event per object this often; 0 = 300000 (5 min) */
    size_t cache_size; /* entries of each correlation cache; 0 = 4096 */
    size_t max_queued; /* events waiting to be sent; beyond, dropped; 0 = 1000 */
    /* Each request's (a hung apiserver holds the queue, and the free, no
     * longer); 0 = 10000 */
    uint64_t request_timeout_ms;
    kr_clock clock; /* for the burst and the 10-minute window; zero: CLOCK_MONOTONIC */
    kr_logger logger; /* a request that failed: a warning (module "events") */
} kr_event_recorder_opts;
#define KR_EVENT_RECORDER_OPTS_VERSION 1
/* clang-format off */
#define KR_EVENT_RECORDER_OPTS_INIT {.version = KR_EVENT_RECORDER_OPTS_VERSION}
/* clang-format on */

/* Errors: KR_EINVAL (no client or component, a newer options version),
 * KR_ENOMEM. */
KR_API int kr_event_recorder_new(const kr_event_recorder_opts *opts, kr_event_recorder_t **out,
                                 kr_error_t *err);

/* Waits for the request in flight (at most request_timeout_ms), drops
 * what is still queued, frees. NULL is a no-op. The client is not freed.
 * No other call on `r` may run or start meanwhile (one that raced the
 * free's start would touch freed memory once it returns).
 * [any thread but the client's loop thread] */
KR_API void kr_event_recorder_free(kr_event_recorder_t *r);

/* What an event is about, and what it says. */
typedef struct kr_event {
    /* The object (involvedObject): its metadata's name, namespace, uid and
     * resourceVersion, and its apiVersion and kind unless given below
     * (objects of a list or an informer of built-in kinds carry none). */
    const json_t *object;
    const char *api_version; /* NULL: the object's */
    const char *kind; /* NULL: the object's */
    const char *field_path; /* optional: the part of the object ("spec.containers{app}") */
    kr_event_type type;
    const char *reason; /* required: short, UpperCamelCase ("SyncFailed") */
} kr_event;

/* Correlate and queue an event; the message is printf-formatted and cut
 * to 1024 bytes. 0 also when the event is dropped by the per-object
 * burst or because the queue is full (both counted in the stats).
 * Errors: KR_EINVAL (no object name, apiVersion, kind or reason),
 * KR_ENOMEM, KR_ESHUTDOWN (kr_event_recorder_free has begun). */
KR_API int kr_event_record(kr_event_recorder_t *r, const kr_event *ev, const char *fmt, ...)
    KR_PRINTF(3, 4);

/* Block until nothing is queued or in flight, or `timeout_ms` passed.
 * 0, or KR_ETIMEDOUT. [not the client's loop thread] */
KR_API int kr_event_recorder_flush(kr_event_recorder_t *r, uint64_t timeout_ms);

typedef struct kr_event_recorder_stats {
    uint64_t recorded; /* kr_event_record calls that were correlated */
    uint64_t created; /* Events created (an existing one met on create counts too) */
    uint64_t patched; /* Events patched with a new count */
    uint64_t combined; /* events folded into a "(combined from similar events)" one */
    uint64_t dropped_burst; /* dropped by the per-object burst */
    uint64_t dropped_queue; /* dropped because max_queued were waiting */
    uint64_t failed; /* requests that failed (after the client's retries) */
    kr_error_t last_error; /* the last failure's error */
} kr_event_recorder_stats;

/* Writes at most out_size bytes (common.h, Statistics). [any thread] */
KR_API void kr_event_recorder_get_stats(kr_event_recorder_t *r, kr_event_recorder_stats *out,
                                        size_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_EVENTS_H */
