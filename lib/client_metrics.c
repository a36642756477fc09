/* libkreconcile — the REST client's request metrics, named and labelled as
 * client-go's (component-base's restclient adapters): requests by status,
 * request duration and rate limiter waits, per host. Every observation is
 * on the loop thread and costs a short scan of a cached series and an
 * atomic update; the registry is asked only for a series not seen yet. */
#include <stdio.h>
#include <string.h>

#include "client_state.h"

/* client-go's buckets for both latency histograms (5 ms to 60 s). */
static const double LATENCY_BUCKETS[] = {0.005, 0.025, 0.1, 0.25, 0.5,  1.0,
                                         2.0,   4.0,   8.0, 15.0, 30.0, 60.0};

static const char *const METHODS[KR_CLIENT_METRIC_METHODS] = {"GET", "POST", "PUT", "PATCH",
                                                              "DELETE"};

int kr_client_metrics_init(kr_client_metrics *m, kr_metrics_registry_t *reg, bool rate_limited,
                           kr_error_t *err)
{
    static const char *const result_labels[] = {"code", "method", "host"};
    static const char *const latency_labels[] = {"verb", "host"};
    memset(m, 0, sizeof(*m));
    kr_metric_family_t *requests = NULL, *duration = NULL, *limiter = NULL;
    int rc = kr_metrics_family_register(
        reg, KR_METRIC_COUNTER, "rest_client_requests_total",
        "Number of HTTP requests, partitioned by status code, method, and host.", result_labels, 3,
        NULL, 0, &requests, err);
    if (rc == 0)
        rc = kr_metrics_family_register(
            reg, KR_METRIC_HISTOGRAM, "rest_client_request_duration_seconds",
            "Request latency in seconds. Broken down by verb, and host.", latency_labels, 2,
            LATENCY_BUCKETS, KR_ARRAY_LEN(LATENCY_BUCKETS), &duration, err);
    if (rc == 0 && rate_limited)
        rc = kr_metrics_family_register(
            reg, KR_METRIC_HISTOGRAM, "rest_client_rate_limiter_duration_seconds",
            "Client side rate limiter latency in seconds. Broken down by verb, and host.",
            latency_labels, 2, LATENCY_BUCKETS, KR_ARRAY_LEN(LATENCY_BUCKETS), &limiter, err);
    if (rc != 0)
        return rc;
    m->requests = requests;
    m->duration = duration;
    m->rate_limiter = limiter;
    return 0;
}

/* The index of `method` in METHODS, or -1 (then nothing is cached). */
static int method_index(const char *method)
{
    for (int i = 0; i < KR_CLIENT_METRIC_METHODS; i++)
        if (strcmp(method, METHODS[i]) == 0)
            return i;
    return -1;
}

/* A series of a {verb, host} histogram, from `cache` (by method) or the
 * registry; NULL when out of memory (the observation is dropped). */
static kr_metric_t *latency_series(const kr_client_metrics *m, kr_metric_family_t *fam,
                                   kr_metric_t **cache, const char *method)
{
    int i = method_index(method);
    if (i >= 0 && cache[i])
        return cache[i];
    const char *values[] = {method, m->host};
    kr_metric_t *series = NULL;
    if (kr_metrics_series(fam, values, &series, NULL) != 0)
        return NULL;
    if (i >= 0)
        cache[i] = series;
    return series;
}

void kr_client_metrics_response(const char *method, long status, void *user)
{
    kr_client_metrics *m = user;
    if (!m->requests)
        return;
    int i = method_index(method);
    for (size_t k = 0; i >= 0 && k < m->n_codes; k++) {
        if (m->codes[k].status == status && m->codes[k].method == i) {
            kr_metrics_counter_add(m->codes[k].series, 1);
            return;
        }
    }
    char code[24];
    if (status > 0)
        snprintf(code, sizeof(code), "%ld", status);
    else
        snprintf(code, sizeof(code), "<error>");
    const char *values[] = {code, method, m->host};
    kr_metric_t *series = NULL;
    if (kr_metrics_series(m->requests, values, &series, NULL) != 0)
        return; /* out of memory: this one goes uncounted */
    kr_metrics_counter_add(series, 1);
    /* Beyond the cache's room (an unusual spread of statuses) the registry
     * is asked each time: slower, still right. */
    if (i >= 0 && m->n_codes < KR_CLIENT_METRIC_CODES)
        m->codes[m->n_codes++] = (struct kr_client_code_series){status, i, series};
}

void kr_client_metrics_request_done(kr_client_metrics *m, const char *method, int64_t start_ns)
{
    if (!m->duration)
        return;
    int64_t ns = kr_clock_monotonic_ns() - start_ns;
    kr_metrics_histogram_observe(latency_series(m, m->duration, m->duration_by_method, method),
                                 ns > 0 ? (double)ns / 1e9 : 0.0);
}

void kr_client_metrics_throttled(kr_client_metrics *m, const char *method, int64_t waited_ns)
{
    if (!m->rate_limiter)
        return;
    kr_metrics_histogram_observe(latency_series(m, m->rate_limiter, m->limiter_by_method, method),
                                 waited_ns > 0 ? (double)waited_ns / 1e9 : 0.0);
}
