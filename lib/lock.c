/* libkreconcile — the slow paths of lock.h: spinning, sleeping and waking. */
#include "lock.h"

#ifdef KR_LOCK_FUTEX

#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How long a taker spins, in pause instructions: at most MAX_SPINS, and at
 * most twice the running average of what recent takers spent plus a
 * little (as glibc's adaptive mutex does), so that spinning stops when it
 * stops paying, as when more threads than cores contend. Between looks at
 * the lock word a taker waits exponentially longer, with jitter: fewer looks
 * leave the lock's cache line with the holder, which at two threads on two
 * cores is worth twice the throughput of looking after every pause. */
#define MAX_SPINS 100

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

static long futex(void *addr, int op, unsigned val, const struct timespec *ts, unsigned val3)
{
    return syscall(SYS_futex, addr, op, val, ts, NULL, val3);
}

void kr_mutex_lock_slow(kr_mutex *m)
{
    int avg = __atomic_load_n(&m->spins, __ATOMIC_RELAXED);
    int max = avg * 2 + 10 < MAX_SPINS ? avg * 2 + 10 : MAX_SPINS;
    int spent = 0, backoff = 1;
    /* a cheap per-call jitter: the stack address, mixed */
    unsigned jitter = (unsigned)((uintptr_t)&spent >> 4) * 2654435761u;
    for (;;) {
        int n = backoff + (int)(jitter & (unsigned)(backoff - 1));
        spent += n;
        if (spent >= max) {
            /* take it if free, else sleep, marking it contended so that
             * its unlock wakes a sleeper */
            int expected = 0;
            if (!__atomic_compare_exchange_n(&m->state, &expected, 1, false, __ATOMIC_ACQUIRE,
                                             __ATOMIC_RELAXED))
                while (__atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE) != 0)
                    futex(&m->state, FUTEX_WAIT_PRIVATE, 2, NULL, 0);
            break;
        }
        while (n-- > 0)
            cpu_relax();
        backoff <<= 1;
        int expected = 0;
        if (__atomic_load_n(&m->state, __ATOMIC_RELAXED) == 0 &&
            __atomic_compare_exchange_n(&m->state, &expected, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            break;
    }
    /* the average moves an eighth of the way (a race between takers only
     * blurs it) */
    __atomic_store_n(&m->spins, avg + (spent - avg) / 8, __ATOMIC_RELAXED);
}

void kr_mutex_unlock_slow(kr_mutex *m)
{
    /* the state was 2: free it and wake one sleeper */
    __atomic_store_n(&m->state, 0, __ATOMIC_RELEASE);
    futex(&m->state, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
}

void kr_cond_wait(kr_cond *c, kr_mutex *m, const struct timespec *deadline)
{
    unsigned seq = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
    /* Announce the sleep before releasing the mutex: a signaller moves the
     * sequence under the mutex, then looks for sleepers, so it either sees
     * this one or the futex call sees the new sequence and returns. */
    __atomic_fetch_add(&c->sleepers, 1, __ATOMIC_SEQ_CST);
    kr_mutex_unlock(m);
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline */
    futex(&c->seq, FUTEX_WAIT_BITSET_PRIVATE, seq, deadline, FUTEX_BITSET_MATCH_ANY);
    __atomic_fetch_sub(&c->sleepers, 1, __ATOMIC_RELAXED);
    /* woken by the condition, not by the mutex: the ordinary path is right
     * (only a thread that sleeps on the mutex must mark it contended) */
    kr_mutex_lock(m);
}

static void wake(kr_cond *c, int n)
{
    __atomic_fetch_add(&c->seq, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&c->sleepers, __ATOMIC_SEQ_CST) != 0)
        futex(&c->seq, FUTEX_WAKE_PRIVATE, (unsigned)n, NULL, 0);
}

void kr_cond_signal(kr_cond *c)
{
    wake(c, 1);
}

void kr_cond_broadcast(kr_cond *c)
{
    wake(c, INT_MAX);
}

#else /* pthread */

int kr_mutex_init(kr_mutex *m)
{
    pthread_mutexattr_t ma;
    if (pthread_mutexattr_init(&ma) != 0)
        return -1;
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    int rc = pthread_mutex_init(m, &ma);
    pthread_mutexattr_destroy(&ma);
    return rc;
}

int kr_cond_init(kr_cond *c)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}

void kr_cond_wait(kr_cond *c, kr_mutex *m, const struct timespec *deadline)
{
    if (deadline)
        pthread_cond_timedwait(c, m, deadline);
    else
        pthread_cond_wait(c, m);
}

void kr_cond_signal(kr_cond *c)
{
    pthread_cond_signal(c);
}

void kr_cond_broadcast(kr_cond *c)
{
    pthread_cond_broadcast(c);
}

#endif
