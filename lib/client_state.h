/* libkreconcile — the client's private state (struct kr_client and its
 * request throttle) shared by its files (client.c: requests; client_watch.c:
 * watches; client_discovery.c: the REST mapper). The socket-free helpers are
 * in client_internal.h. Never installed. */
#ifndef KR_LIB_CLIENT_STATE_H
#define KR_LIB_CLIENT_STATE_H

#include <pthread.h>
#include <stdatomic.h>

#include "client_internal.h"
#include "http_internal.h"
#include "runtime_internal.h"

/* Something waiting for the rate limiter: started by go(arg) when ready. */
typedef struct kr_throttled {
    uint64_t ready_ms;
    void (*go)(void *arg);
    void *arg;
    struct kr_throttled *next;
    bool queued;
} kr_throttled;

typedef struct kr_discovery_cache {
    kr_resource_info *items;
    size_t count;
    bool loaded;
    bool from_builtin;
    int64_t fetched_ns; /* CLOCK_MONOTONIC of the last successful fetch */
} kr_discovery_cache;

struct kr_client {
    kr_runtime_t *rt;
    kr_rest_config cfg; /* the caller's, read at its version; strings borrowed */
    const kr_logger *log;
    kr_http_t *http;
    kr_client_opts opts;
    kr_retry_policy retry;
    kr_bucket limiter; /* client-go's qps/burst pacing; loop thread */
    kr_throttled *throttle_head, *throttle_tail; /* loop thread */
    uv_timer_t throttle_timer;
    kr_runtime_hook hook;
    struct kr_creq *reqs; /* loop thread */
    struct kr_watch *watches; /* loop thread */
    kr_rng rng;
    bool stopped; /* loop thread: runtime stop hook ran */
    bool closing; /* loop thread: kr_client_free began */
    char *default_ns;
    atomic_ulong http2_responses; /* responses that came over HTTP/2 */
    pthread_mutex_t disc_lock;
    kr_discovery_cache disc;
};

/* Queue `t` behind the rate limiter (loop thread). */
void kr_client_throttle(kr_client_t *c, kr_throttled *t);
/* Drop `t` from the queue if it is there (loop thread). */
void kr_client_unthrottle(kr_client_t *c, kr_throttled *t);

/* Blocking GET of a raw path (discovery). *out new; content_type filled. */
int kr_client_raw_get(kr_client_t *c, const char *path, const char *accept, json_t **out,
                      char *content_type, size_t content_type_size, kr_error_t *err);

/* How many responses came over HTTP/2 (tests, benchmarks). [any thread] */
unsigned long kr_client_http2_responses(kr_client_t *c);

/* Watches: stop every watch of the client without callbacks (loop thread). */
void kr_client_detach_watches(kr_client_t *c);
/* Discovery cache teardown. */
void kr_client_discovery_free(kr_client_t *c);

#endif /* KR_LIB_CLIENT_STATE_H */
