/* libkreconcile — base layer: the token bucket behind both the client's
 * request pacing and the queue's overall rate limiter. Pure: time is an
 * argument. */
#include <stdint.h>
#include <string.h>

#include "util_internal.h"

void kr_bucket_init(kr_bucket *b, double qps, int burst)
{
    memset(b, 0, sizeof(*b));
    b->qps = qps;
    b->burst = burst > 0 ? burst : 1;
    b->tokens = b->burst;
}

/* The tokens earned since the last look, at most burst. */
static void refill(kr_bucket *b, int64_t now_ns)
{
    if (!b->started) {
        b->started = true;
        b->last_ns = now_ns;
    }
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) * b->qps / 1e9;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ns = now_ns;
    }
}

int64_t kr_bucket_reserve(kr_bucket *b, int64_t now_ns, int64_t max_delay_ns)
{
    if (!(b->qps > 0))
        return 0;
    refill(b, now_ns);
    /* The balance may go negative: the debt is the wait. */
    double after = b->tokens - 1;
    double wait_ns = after >= 0 ? 0 : -after / b->qps * 1e9 + 0.5;
    /* a tiny rate's wait saturates rather than overflowing the cast */
    int64_t delay = wait_ns >= 0x1p63 ? INT64_MAX : (int64_t)wait_ns;
    if (max_delay_ns > 0 && delay > max_delay_ns)
        return max_delay_ns; /* kubernetes/kubernetes#104554: no token taken */
    b->tokens = after;
    return delay;
}

bool kr_bucket_try(kr_bucket *b, int64_t now_ns)
{
    if (!(b->qps > 0))
        return true;
    refill(b, now_ns);
    if (b->tokens < 1)
        return false;
    b->tokens -= 1;
    return true;
}
