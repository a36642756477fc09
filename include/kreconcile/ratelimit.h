/* libkreconcile — rate limiters for the work queue: how long a key waits
 * before it is retried. The same family as client-go's util/workqueue
 * (per-item exponential, token bucket, max-of, fast-slow, user-defined) and
 * the injectable clock shared by the queue and the limiters. */
#ifndef KRECONCILE_RATELIMIT_H
#define KRECONCILE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "kreconcile/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Clock ---------------------------------------------------------------- */

/* A monotonic clock in nanoseconds. A zero kr_clock (now_ns == NULL) means
 * CLOCK_MONOTONIC. Tests inject a fake one to move time without sleeping;
 * now_ns must be thread-safe and never go backwards. A time source only:
 * the loop-thread components that also need timers (reflector, informer)
 * take a kr_timer_clock (reflector.h) instead. */
typedef struct kr_clock {
    int64_t (*now_ns)(void *user);
    void *user;
} kr_clock;

/* ---- Rate limiters ------------------------------------------------------- */

/* Units: durations (delays, backoffs, caps) are uint64_t milliseconds named
 * *_ms; time points (`now_ns`) are the kr_clock's nanoseconds. Internally
 * the limiters keep nanoseconds; a delay is rounded up to whole
 * milliseconds when it is handed out, so it is never shorter than asked. */

typedef struct kr_ratelimiter kr_ratelimiter_t;

/* A user-defined limiter, as client-go's RateLimiter interface, in the
 * library's one idiom for polymorphic implementations: a static vtable and
 * an `impl` pointer passed first to every method (see kr_listwatch).
 * when:          the delay in ms before `key` may be retried; records the
 *                attempt (delays past INT64_MAX ns, 292 years, saturate).
 *                `now_ns` is a time point on the caller's clock (the
 *                queue's kr_clock). Required.
 * forget:        stop tracking `key` (it succeeded). Optional.
 * num_requeues:  how many times `key` has been limited. Optional (0).
 * free:          release `impl` when the limiter is freed. Optional.
 * `key` is borrowed for the call. All of them may be called from any thread
 * concurrently: the implementation must be thread-safe. */
typedef struct kr_ratelimiter_vtable {
    uint64_t (*when)(void *impl, const char *key, int64_t now_ns);
    void (*forget)(void *impl, const char *key);
    unsigned (*num_requeues)(void *impl, const char *key);
    void (*free)(void *impl);
} kr_ratelimiter_vtable;

/* The pair kr_ratelimiter_new_custom takes, by value. `vt` is borrowed and
 * must outlive the limiter (a static constant, shared by every instance). */
typedef struct kr_ratelimiter_custom {
    const kr_ratelimiter_vtable *vt;
    void *impl;
} kr_ratelimiter_custom;

/* client-go's defaults (DefaultControllerRateLimiter). */
#define KR_RATELIMIT_DEFAULT_BASE_MS 5ULL /* 5 ms */
#define KR_RATELIMIT_DEFAULT_MAX_MS (1000ULL * 1000) /* 1000 s */
#define KR_RATELIMIT_DEFAULT_QPS 10.0
#define KR_RATELIMIT_DEFAULT_BURST 100

/* Per-item exponential backoff (client-go ItemExponentialFailureRateLimiter):
 * the n-th call of `when` for a key (n from 0) returns base_ms * 2^n, capped
 * at max_ms; forget resets the key. base_ms > 0, max_ms >= base_ms.
 * *out is new (kr_ratelimiter_free). Errors: KR_EINVAL, KR_ENOMEM. [any thread] */
KR_API int kr_ratelimiter_new_exponential(uint64_t base_ms, uint64_t max_ms, kr_ratelimiter_t **out,
                                          kr_error_t *err);

/* An overall token bucket (client-go BucketRateLimiter over x/time/rate):
 * holds `burst` tokens, refilled at `qps` per second; each call of `when`
 * takes one token and returns how long until it is covered (0 while tokens
 * last). Keys are ignored.
 * max_delay_ms > 0 caps the delay (kubernetes/kubernetes#104554: with 10 qps,
 * 10,000 keys added at once would otherwise wait up to 16 minutes): a call
 * whose delay would exceed the cap returns max_delay_ms and takes no token,
 * so the bucket's debt never exceeds max_delay_ms worth of tokens.
 * 0 means no cap (client-go's behaviour). The bucket reads time from the
 * `now_ns` the caller passes to `when` (the queue's clock).
 * qps > 0, burst >= 1. New. Errors: KR_EINVAL, KR_ENOMEM. [any thread] */
KR_API int kr_ratelimiter_new_bucket(double qps, int burst, uint64_t max_delay_ms,
                                     kr_ratelimiter_t **out, kr_error_t *err);

/* The worst case of several limiters (client-go MaxOfRateLimiter): `when`
 * asks every limiter (each records the attempt) and returns the longest
 * delay; forget forgets in all; num_requeues is the largest. Steals the n
 * limiters in `limiters` on success AND on failure (they are freed then).
 * n >= 1. New. Errors: KR_EINVAL, KR_ENOMEM. [any thread] */
KR_API int kr_ratelimiter_new_max_of(kr_ratelimiter_t *const *limiters, size_t n,
                                     kr_ratelimiter_t **out, kr_error_t *err);

/* Fast then slow (client-go ItemFastSlowRateLimiter): the first
 * `max_fast_attempts` calls for a key return fast_ms, later ones slow_ms.
 * New. Errors: KR_EINVAL, KR_ENOMEM. [any thread] */
KR_API int kr_ratelimiter_new_fast_slow(uint64_t fast_ms, uint64_t slow_ms,
                                        unsigned max_fast_attempts, kr_ratelimiter_t **out,
                                        kr_error_t *err);

/* A limiter calling user code through `custom` (copied). `custom.impl` is
 * stolen when custom.vt->free is set (freed with the limiter, also when
 * this call fails); `custom.vt` is borrowed (see kr_ratelimiter_custom).
 * New. Errors: KR_EINVAL (no vt or no vt->when), KR_ENOMEM. [any thread] */
KR_API int kr_ratelimiter_new_custom(kr_ratelimiter_custom custom, kr_ratelimiter_t **out,
                                     kr_error_t *err);

/* client-go's DefaultControllerRateLimiter, so that code ported from Go
 * behaves the same: max-of(exponential 5 ms .. 1000 s, bucket 10 qps burst
 * 100 without a cap). New. Errors: KR_ENOMEM. [any thread] */
KR_API int kr_ratelimiter_new_default(kr_ratelimiter_t **out, kr_error_t *err);

/* The delay in ms before `key` (borrowed) may be retried, given the current
 * time `now_ns` on the caller's clock (a time point, ns); records the
 * attempt. [any thread] */
KR_API uint64_t kr_ratelimiter_when(kr_ratelimiter_t *rl, const char *key, int64_t now_ns);
/* Stop tracking `key`: its backoff starts over. [any thread] */
KR_API void kr_ratelimiter_forget(kr_ratelimiter_t *rl, const char *key);
/* How many times `key` was limited since it was last forgotten. [any thread] */
KR_API unsigned kr_ratelimiter_num_requeues(kr_ratelimiter_t *rl, const char *key);
/* Free the limiter (and those it owns). NULL is a no-op. No call on it may
 * be in progress. */
KR_API void kr_ratelimiter_free(kr_ratelimiter_t *rl);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_RATELIMIT_H */
