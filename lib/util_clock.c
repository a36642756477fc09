/* libkreconcile — base layer: the monotonic clock, condition-variable
 * deadlines on it (conditions made with lock.h's kr_cond_init), and the
 * seedable xorshift64* generator. */
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util_internal.h"

int64_t kr_clock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

uint64_t kr_clock_monotonic_ms(void)
{
    return (uint64_t)kr_clock_monotonic_ns() / 1000000u;
}

int64_t kr_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t kr_clock_read(const kr_clock *clock)
{
    if (clock && clock->now_ns)
        return clock->now_ns(clock->user);
    return kr_clock_monotonic_ns();
}

void kr_deadline_after_ms(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

uint64_t kr_random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
        static _Atomic uint64_t counter;
        v = (uint64_t)kr_clock_monotonic_ns() ^ ((uint64_t)getpid() << 32) ^
            (++counter * 0x9E3779B97F4A7C15ULL);
    }
    return v;
}

void kr_rng_seed(kr_rng *r, uint64_t seed)
{
    if (!seed)
        seed = (uint64_t)kr_clock_monotonic_ns() ^ (uint64_t)(uintptr_t)r ^ 0x9E3779B97F4A7C15ULL;
    r->state = seed ? seed : 0x9E3779B97F4A7C15ULL; /* 0 would stay 0 */
}

uint64_t kr_rng_next(kr_rng *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 2685821657736338717ULL;
}
