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
    const char *method; /* the HTTP method, for the rate limiter's metric */
    int64_t queued_ns; /* when it began to wait (only with metrics) */
    struct kr_throttled *next;
    bool queued;
} kr_throttled;

/* The methods the client sends, whose series are looked up once. */
#define KR_CLIENT_METRIC_METHODS 5 /* GET, POST, PUT, PATCH, DELETE */
#define KR_CLIENT_METRIC_CODES 32 /* (method, status) pairs looked up once */

/* The client's request metrics (kr_client_opts.metrics; client_metrics.c).
 * The families are set at creation and never change (read on any thread);
 * the series caches are the loop thread's: every observation happens
 * there, so they need no lock, and a request costs a short scan and an
 * atomic add rather than a registry lookup. */
typedef struct kr_client_metrics {
    kr_metric_family_t *requests; /* NULL: no metrics at all */
    kr_metric_family_t *duration;
    kr_metric_family_t *rate_limiter; /* NULL also when the limiter is off */
    const char *host; /* the transport's host:port */
    kr_metric_t *duration_by_method[KR_CLIENT_METRIC_METHODS];
    kr_metric_t *limiter_by_method[KR_CLIENT_METRIC_METHODS];
    struct kr_client_code_series {
        long status;
        int method;
        kr_metric_t *series;
    } codes[KR_CLIENT_METRIC_CODES];
    size_t n_codes;
} kr_client_metrics;

/* Register the families in `reg` (borrowed); `rate_limited`: whether the
 * client has a rate limiter. [any thread] Errors: KR_EEXIST (a family of
 * the same name and another shape), KR_ENOMEM. */
int kr_client_metrics_init(kr_client_metrics *m, kr_metrics_registry_t *reg, bool rate_limited,
                           kr_error_t *err);
/* The transport's observer (kr_http_opts.on_response; user: the
 * kr_client_metrics): count one request. [loop thread] */
void kr_client_metrics_response(const char *method, long status, void *user);
/* A request's whole duration, from the call to its result. [loop thread] */
void kr_client_metrics_request_done(kr_client_metrics *m, const char *method, int64_t start_ns);
/* One wait in the rate limiter. [loop thread] */
void kr_client_metrics_throttled(kr_client_metrics *m, const char *method, int64_t waited_ns);

typedef struct kr_discovery_cache {
    kr_resource_info *items;
    size_t count;
    bool loaded;
    bool from_builtin;
    int64_t fetched_ns; /* CLOCK_MONOTONIC of the last successful fetch */
    int64_t failed_ns; /* of the last failed one since (0: none) */
    kr_error_t failure; /* its error, answered to misses until the next try */
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
    kr_client_metrics metrics;
    /* Server warnings already logged (the default handler logs each text
     * once; at most KR_CLIENT_WARNED texts are remembered); loop thread. */
    char **warned;
    size_t nwarned;
};
#define KR_CLIENT_WARNED 256

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
