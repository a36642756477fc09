/* libkreconcile — a mutex and a condition variable for locks held for tens
 * of nanoseconds (the work queue's). Uncontended, lock and unlock are one
 * atomic instruction each, inlined; a contended taker spins for a while
 * that adapts to how long spinning has recently paid off, then sleeps. On
 * Linux they are built on futexes (the mutex is Drepper's "Futexes Are
 * Tricky" mutex 3; the condition variable a sequence counter); elsewhere, or
 * with -DKR_LOCK_PTHREAD, they are pthread's. Never installed.
 *
 * The condition variable must be signalled with the mutex held (the queue
 * always does): a waiter reads the sequence under the mutex, so a signal
 * between its unlock and its sleep moves the sequence and the sleep returns
 * at once. Waits may wake spuriously; callers loop. */
#ifndef KR_LIB_LOCK_H
#define KR_LIB_LOCK_H

#include <stdbool.h>
#include <time.h>

#if defined(__linux__) && !defined(KR_LOCK_PTHREAD)
#define KR_LOCK_FUTEX 1

typedef struct kr_mutex {
    int state; /* 0 free, 1 held, 2 held and someone may sleep on it */
    int spins; /* running average of what takers spent spinning */
} kr_mutex;

typedef struct kr_cond {
    unsigned seq; /* moves on every signal */
    unsigned sleepers; /* waiters inside the futex call: signals skip it without */
} kr_cond;

void kr_mutex_lock_slow(kr_mutex *m);
void kr_mutex_unlock_slow(kr_mutex *m);

static inline int kr_mutex_init(kr_mutex *m)
{
    m->state = 0;
    m->spins = 0;
    return 0;
}

static inline void kr_mutex_destroy(kr_mutex *m)
{
    (void)m;
}

static inline void kr_mutex_lock(kr_mutex *m)
{
    int expected = 0;
    if (__builtin_expect(__atomic_compare_exchange_n(&m->state, &expected, 1, false,
                                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED),
                         1))
        return;
    kr_mutex_lock_slow(m);
}

static inline void kr_mutex_unlock(kr_mutex *m)
{
    if (__builtin_expect(__atomic_fetch_sub(&m->state, 1, __ATOMIC_RELEASE) != 1, 0))
        kr_mutex_unlock_slow(m);
}

static inline int kr_cond_init(kr_cond *c)
{
    c->seq = 0;
    c->sleepers = 0;
    return 0;
}

static inline void kr_cond_destroy(kr_cond *c)
{
    (void)c;
}

#else /* pthread */

#include <pthread.h>

typedef pthread_mutex_t kr_mutex;
typedef pthread_cond_t kr_cond;

int kr_mutex_init(kr_mutex *m); /* adaptive where the C library has it */

static inline void kr_mutex_destroy(kr_mutex *m)
{
    pthread_mutex_destroy(m);
}

static inline void kr_mutex_lock(kr_mutex *m)
{
    pthread_mutex_lock(m);
}

static inline void kr_mutex_unlock(kr_mutex *m)
{
    pthread_mutex_unlock(m);
}

int kr_cond_init(kr_cond *c); /* waits measure CLOCK_MONOTONIC */

static inline void kr_cond_destroy(kr_cond *c)
{
    pthread_cond_destroy(c);
}

#endif

/* Release m, sleep until signalled or until `deadline` (absolute,
 * CLOCK_MONOTONIC; NULL: no deadline), take m again. */
void kr_cond_wait(kr_cond *c, kr_mutex *m, const struct timespec *deadline);
void kr_cond_signal(kr_cond *c);
void kr_cond_broadcast(kr_cond *c);

#endif /* KR_LIB_LOCK_H */
