/* kr-syncer — a workload cluster that does not answer: after such a
 * failure, its reconciles wait for a probe instead of each sending (and
 * retrying) a request, so a dead datacenter holds no worker and delays no
 * other cluster. Time comes from the caller (tests pass their own). */
#include <string.h>

#include "syncer.h"

#define PROBE_FIRST_MS 500u
#define PROBE_MAX_MS 15000u

void syncer_health_init(syncer_health *h)
{
    pthread_mutex_init(&h->lock, NULL);
    h->retry_at_ns = 0;
    h->backoff_ms = 0;
    h->failures = 0;
    h->last_error[0] = '\0';
}

void syncer_health_destroy(syncer_health *h)
{
    pthread_mutex_destroy(&h->lock);
}

bool syncer_health_may_try(syncer_health *h, int64_t now_ns, uint64_t *wait_ms)
{
    pthread_mutex_lock(&h->lock);
    bool may = h->retry_at_ns == 0 || now_ns >= h->retry_at_ns;
    if (may && h->retry_at_ns != 0) /* this caller probes; the others wait for it */
        h->retry_at_ns = now_ns + (int64_t)h->backoff_ms * 1000000;
    else if (!may && wait_ms)
        *wait_ms = (uint64_t)(h->retry_at_ns - now_ns) / 1000000 + 1;
    pthread_mutex_unlock(&h->lock);
    return may;
}

bool syncer_unreachable(int rc, const kr_error_t *err)
{
    switch (rc) {
    case KR_ECONNECT:
    case KR_ETLS:
    case KR_ETIMEDOUT:
    case KR_EUNAVAILABLE:
    case KR_ETHROTTLED:
        return true;
    default:
        return rc != 0 && err && err->http_code >= 500;
    }
}

/* `message` without the request it names ("DELETE /api/...: " ahead of
 * what went wrong): what made the cluster wait is shown in every object's
 * entry there, and another object's request would only mislead (and, as
 * probes name other objects, make the same failure look new each time). */
const char *syncer_without_request(const char *message)
{
    const char *p = message;
    while (*p >= 'A' && *p <= 'Z')
        p++;
    if (p == message || p[0] != ' ' || p[1] != '/')
        return message;
    const char *colon = strstr(p, ": ");
    return colon && colon[2] ? colon + 2 : message;
}

bool syncer_health_record(syncer_health *h, int rc, const kr_error_t *err, int64_t now_ns)
{
    bool back = false;
    pthread_mutex_lock(&h->lock);
    if (!syncer_unreachable(rc, err)) {
        back = h->retry_at_ns != 0;
        h->retry_at_ns = 0;
        h->backoff_ms = 0;
    } else {
        h->failures++;
        h->backoff_ms = h->backoff_ms ? h->backoff_ms * 2 : PROBE_FIRST_MS;
        if (h->backoff_ms > PROBE_MAX_MS)
            h->backoff_ms = PROBE_MAX_MS;
        h->retry_at_ns = now_ns + (int64_t)h->backoff_ms * 1000000;
        snprintf(h->last_error, sizeof(h->last_error), "%.255s",
                 err && err->message[0] ? syncer_without_request(err->message)
                                        : "the cluster does not answer");
    }
    pthread_mutex_unlock(&h->lock);
    return back;
}

bool syncer_health_last_error(syncer_health *h, char *buf, size_t len)
{
    pthread_mutex_lock(&h->lock);
    bool waiting = h->retry_at_ns != 0;
    if (waiting)
        snprintf(buf, len, "%s", h->last_error);
    pthread_mutex_unlock(&h->lock);
    return waiting;
}
