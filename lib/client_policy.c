/* libkreconcile — the client's retry policy: which requests are retried,
 * and exponential backoff honouring Retry-After. (Its pacing is the base
 * layer's token bucket, kr_bucket.) Pure: time and randomness are
 * arguments, so tests need no clock. */
#include <string.h>

#include "client_internal.h"

static bool idempotent(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0;
}

bool kr_retry_wanted(const kr_retry_policy *p, const char *method, int rc, long http_status,
                     int attempt)
{
    if (attempt > p->max_retries)
        return false;
    if (rc == 0) {
        /* 429: the server refused before doing anything, safe for any verb. */
        if (http_status == 429)
            return true;
        return http_status >= 500 && http_status != 501 && idempotent(method);
    }
    /* Connection failures: the request may have been done; only repeat
     * what is idempotent. */
    return (rc == KR_ECONNECT || rc == KR_ETIMEDOUT) && idempotent(method);
}

uint64_t kr_retry_delay_ms(const kr_retry_policy *p, int attempt, int retry_after_s,
                           uint64_t random)
{
    /* the server's word wins over our cap, as in client-go (the header's
     * value is bounded to a day where it is read) */
    if (retry_after_s >= 0)
        return (uint64_t)retry_after_s * 1000;
    uint64_t delay = (uint64_t)p->base_ms;
    for (int i = 1; i < attempt && delay < (uint64_t)p->max_ms; i++)
        delay *= 2;
    if (delay > (uint64_t)p->max_ms)
        delay = (uint64_t)p->max_ms;
    uint64_t jitter = delay / 4 ? random % (delay / 4 + 1) : 0;
    return delay + jitter > (uint64_t)p->max_ms ? (uint64_t)p->max_ms : delay + jitter;
}
