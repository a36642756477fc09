/* libkreconcile — the reflector (client-go's cache.Reflector): keeps a
 * kr_store_t equal to the server's state of one collection through paged
 * LIST + WATCH, resourceVersion tracking, 410 relists, backoff, bookmarks,
 * a watch progress deadline and the optional streaming list. It never does
 * I/O itself: it talks to the server through a kr_listwatch (a vtable, so a
 * fake one drives it in tests) and to time through a kr_timer_clock.
 * The first list into an empty store is cached page by page as it arrives
 * (each object reported once cached, as client-go's indexer fills: no
 * second read of every object); a relist is staged and swapped in at once.
 *
 * Threading: every function and callback runs on one thread (the runtime's
 * loop thread in production; the test's thread with fakes). */
#ifndef KRECONCILE_REFLECTOR_H
#define KRECONCILE_REFLECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The lister-watcher (client-go's ListerWatcher) -------------------- */

/* One LIST page request. Strings borrowed for the call; NULL = unset. */
typedef struct kr_lw_list_request {
    long limit; /* page size; 0 = unlimited */
    const char *continue_token;
    const char *resource_version;
    const char *resource_version_match;
    const char *label_selector;
    const char *field_selector;
} kr_lw_list_request;

/* The result of one page. On success `err` is NULL, `items` is a NEW
 * reference to a JSON array the reflector owns (it may edit the objects in
 * place: the implementation must not use them after the call),
 * `resource_version` the list's metadata.resourceVersion and
 * `continue_token` its metadata.continue (NULL or "" on the last page),
 * both borrowed. On failure `items` is NULL and `err` (borrowed) says why:
 * err->code KR_EGONE for HTTP 410 (expired continue token or RV),
 * err->http_code the HTTP status when the server answered. */
typedef void (*kr_lw_list_cb)(json_t *items, const char *resource_version,
                              const char *continue_token, const kr_error_t *err, void *user);

/* One WATCH request. Strings borrowed for the call; NULL = unset. */
typedef struct kr_lw_watch_request {
    const char *resource_version;
    const char *resource_version_match; /* "NotOlderThan" with send_initial_events */
    bool allow_watch_bookmarks;
    bool send_initial_events;
    int timeout_seconds; /* 0 = the server's choice */
    const char *label_selector;
    const char *field_selector;
} kr_lw_watch_request;

/* One watch event, in stream order. `object` is borrowed for the call; the
 * reflector may take a reference and edit it in place, so the
 * implementation must not use it afterwards. */
typedef void (*kr_lw_event_cb)(kr_watch_event_type type, json_t *object, void *user);
/* The end of a watch, once: rc 0 = clean end of stream (timeout, server
 * restart); KR_EGONE = 410 as an HTTP reply; any other code = failure
 * (`err`, borrowed, may give http_code). Never called after cancel. */
typedef void (*kr_lw_close_cb)(int rc, const kr_error_t *err, void *user);

/* The vtable. Each call returns 0 and a handle, or a negative KR_E* (then
 * no callback will come). Callbacks never run inside the call that
 * started them. cancel() ends a pending list or an open watch: no callback
 * runs after it, and the handle is invalid afterwards; it is never called
 * for a handle whose final callback (list result, close) has run, but may
 * be called from inside the watch's own event callback. */
typedef struct kr_listwatch_vtable {
    int (*list)(void *impl, const kr_lw_list_request *req, kr_lw_list_cb cb, void *user,
                void **handle, kr_error_t *err);
    int (*watch)(void *impl, const kr_lw_watch_request *req, kr_lw_event_cb on_event,
                 kr_lw_close_cb on_close, void *user, void **handle, kr_error_t *err);
    void (*cancel)(void *impl, void *handle);
} kr_listwatch_vtable;

typedef struct kr_listwatch {
    const kr_listwatch_vtable *vt;
    void *impl;
} kr_listwatch;

/* ---- Time ----------------------------------------------------------- */

typedef void (*kr_timer_clock_cb)(void *user);

/* A clock with one-shot timers, in milliseconds, used on one thread (the
 * loop thread): what the reflector and informers need to wait. schedule()
 * returns 0 and a handle, valid until the callback has run or cancel() was
 * called. kr_timer_clock_runtime() (informer.h) builds one over the
 * runtime's loop. Not to be confused with kr_clock (ratelimit.h): a bare,
 * thread-safe time source in nanoseconds for the work queue and the rate
 * limiters, which read time from any thread but never schedule. */
typedef struct kr_timer_clock_vtable {
    uint64_t (*now_ms)(void *impl);
    int (*schedule)(void *impl, uint64_t delay_ms, kr_timer_clock_cb fn, void *user, void **handle);
    void (*cancel)(void *impl, void *handle);
} kr_timer_clock_vtable;

typedef struct kr_timer_clock {
    const kr_timer_clock_vtable *vt;
    void *impl;
} kr_timer_clock;

/* ---- Deltas the reflector reports ----------------------------------- */

typedef enum kr_delta_type {
    KR_DELTA_ADDED = 1,
    KR_DELTA_UPDATED = 2,
    KR_DELTA_DELETED = 3,
} kr_delta_type;

/* One change applied to the store, reported after the store has it.
 * `object`: the object as cached (added, updated), or the deleted object:
 * the DELETED event's object, or, when final_state_unknown, the last
 * object the cache held (the delete happened while the reflector was not
 * watching and a relist found it gone; client-go hands out an untyped
 * DeletedFinalStateUnknown instead). `old_object`: the object cached
 * before an update, NULL otherwise. Both borrowed for the call.
 * `from_relist`: produced by comparing a relist with the store. */
typedef struct kr_delta {
    kr_delta_type type;
    const json_t *object;
    const json_t *old_object;
    bool final_state_unknown;
    bool from_relist;
} kr_delta;

/* Why a watch was (re)started, for metrics and logs. */
typedef enum kr_watch_restart_cause {
    KR_RESTART_TIMEOUT = 0, /* clean end of stream */
    KR_RESTART_GONE = 1, /* 410: relist */
    KR_RESTART_ERROR = 2, /* failure: backoff */
    KR_RESTART_PROGRESS = 3, /* progress deadline passed */
    KR_RESTART_CAUSES = 4,
} kr_watch_restart_cause;

/* Names: "timeout", "gone", "error", "progress_deadline". */
KR_API const char *kr_watch_restart_cause_name(kr_watch_restart_cause cause);

/* What on_request reports: a request sent, or (NONE) a watch restart. */
typedef enum kr_reflector_request {
    KR_REFLECTOR_REQUEST_NONE = 0, /* no request: the watch restarted for `cause` */
    KR_REFLECTOR_REQUEST_LIST = 1, /* a LIST (first page of a list or relist) */
    KR_REFLECTOR_REQUEST_WATCH = 2, /* a WATCH */
    KR_REFLECTOR_REQUEST_WATCHLIST = 3, /* a streaming list (WATCH with sendInitialEvents) */
} kr_reflector_request;

typedef struct kr_reflector_hooks {
    /* Each change, in order. May be NULL. */
    void (*on_delta)(const kr_delta *delta, void *user);
    /* The last resourceVersion observed moved to `resource_version`
     * (borrowed) after an event, a bookmark or a completed list; `synced`
     * says whether a complete list has been applied. "" when a list gave
     * none (it is synced all the same). May be NULL. */
    void (*on_progress)(const char *resource_version, bool synced, void *user);
    /* A request was sent (`cause` is -1); or the watch restarted for
     * `cause`, a kr_watch_restart_cause (request == KR_REFLECTOR_REQUEST_NONE).
     * For metrics. May be NULL. */
    void (*on_request)(kr_reflector_request request, int cause, void *user);
    void *user;
    /* Whether on_delta will read the objects of a relist's adds and
     * updates. May be NULL (= always). When it returns false those deltas
     * carry object == NULL and old_object == NULL: with a compact store
     * (store.h) this saves parsing every object of the list. */
    bool (*wants_objects)(void *user);
} kr_reflector_hooks;

/* ---- The reflector ---------------------------------------------------- */

typedef struct kr_reflector kr_reflector_t;

/* Options; zero means the default. */
typedef struct kr_reflector_opts {
    unsigned version; /* KR_REFLECTOR_OPTS_VERSION (0 is taken as 1) */
    kr_listwatch lw; /* required; borrowed, must outlive the reflector */
    kr_timer_clock clock; /* required; borrowed */
    kr_store_t *store; /* required; borrowed; the reflector is its only writer */
    kr_reflector_hooks hooks;
    const char *label_selector; /* copied */
    const char *field_selector; /* copied */
    /* LIST limit. 0: 500 for lists at "0" and "" and unpaged at a specific
     * RV (client-go's default; a watch cache serves only those), paged
     * there too once a list at "0" came in pages; > 0: every list in pages
     * of this size; < 0: no paging. */
    long page_size;
    /* A random timeoutSeconds in [min, max) (whole seconds, rounded up);
     * 0 = 300000, 600000. */
    uint64_t watch_timeout_min_ms;
    uint64_t watch_timeout_max_ms;
    /* No event nor bookmark within this time: the watch is dead, restart it
     * from the last RV. 0 = 3 x bookmark interval of a real apiserver
     * (about a minute each) = 180000 ms; UINT64_MAX (-1 converts to it) =
     * never. */
    uint64_t progress_deadline_ms;
    uint64_t backoff_initial_ms; /* 0 = 800 */
    uint64_t backoff_max_ms; /* 0 = 30000 */
    uint64_t backoff_reset_ms; /* 0 = 120000: healthy that long resets the backoff */
    bool streaming_list; /* try sendInitialEvents=true first */
    uint64_t seed; /* for jitter and timeouts; 0 = fixed default */
    kr_logger logger;
    const char *name; /* for logs, e.g. "v1/configmaps"; copied */
    /* Version 2. A list failed (`err`: what the transport or the server
     * said) and the reflector backs off before listing again; gets
     * hooks.user. As client-go's WatchErrorHandler, for lists: what a
     * cache that has not synced (or has lost its server) waits on. May be
     * NULL. [loop thread] */
    void (*on_list_error)(const kr_error_t *err, void *user);
} kr_reflector_opts;
#define KR_REFLECTOR_OPTS_VERSION 2
/* clang-format off */
#define KR_REFLECTOR_OPTS_INIT {.version = KR_REFLECTOR_OPTS_VERSION}
/* clang-format on */

/* Create a stopped reflector. *out is new (kr_reflector_free). Errors:
 * KR_EINVAL (missing lw, clock or store), KR_ENOMEM. [loop thread] */
KR_API int kr_reflector_new(const kr_reflector_opts *opts, kr_reflector_t **out, kr_error_t *err);

/* Start: the first list (or streaming watch) is requested inside this
 * call. Errors: KR_ESTATE (already started). [loop thread] */
KR_API int kr_reflector_start(kr_reflector_t *r, kr_error_t *err);

/* Start resumed: with a WATCH from `resource_version` (copied; a
 * consumer's checkpoint) instead of a list, the store being already what
 * the server held at it. Failed watches are retried from the last RV; 410
 * Gone relists (deletes of objects the store holds and the list lacks are
 * reported final-state-unknown). has_synced stays false until a list
 * completes. NULL or "": kr_reflector_start(). Errors: KR_ESTATE (already
 * started), KR_ENOMEM. [loop thread] */
KR_API int kr_reflector_start_at(kr_reflector_t *r, const char *resource_version, kr_error_t *err);

/* Cancel the pending request, watch and timers. No hook runs afterwards.
 * Idempotent. [loop thread] */
KR_API void kr_reflector_stop(kr_reflector_t *r);

/* Stop and free. NULL is a no-op. [loop thread] */
KR_API void kr_reflector_free(kr_reflector_t *r);

/* The caller learned that the server answers again (its own requests
 * there succeed): when the reflector is waiting out a backoff after
 * failures, it lists now (at its last resourceVersion; a server made anew
 * meanwhile refuses that, and the list of its latest follows at once)
 * rather than at the end of that backoff (up to backoff_max_ms away). The
 * backoff itself grows on as before, so a server that fails again is not
 * asked more often. Returns true when it was waiting. [loop thread] */
KR_API bool kr_reflector_retry_now(kr_reflector_t *r);

/* True once a complete list has been applied to the store. [loop thread] */
KR_API bool kr_reflector_has_synced(const kr_reflector_t *r);

/* The last resourceVersion observed (borrowed; NULL before the first
 * list). [loop thread] */
KR_API const char *kr_reflector_last_resource_version(const kr_reflector_t *r);

/* Compare two resourceVersions of the same resource as integers (they are
 * decimal, positive, without leading zeros). Returns <0, 0, >0; NULL or a
 * non-number sorts first. [any thread] */
KR_API int kr_resource_version_compare(const char *a, const char *b);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_REFLECTOR_H */
