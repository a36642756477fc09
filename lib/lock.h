/* libkreconcile — the mutex and condition variable of the work queue and
 * the controller: pthread's, with the two settings every user here wants
 * (an adaptive mutex where the C library has one: a taker spins briefly
 * before it sleeps, which suits locks held for tens of nanoseconds; waits
 * measured on CLOCK_MONOTONIC). Plain pthread, so that ThreadSanitizer and
 * helgrind understand it: a hand-made futex lock gave no gain a user could
 * notice in a controller whose reconciles make requests (bench_controller,
 * "realistic"). Never installed. Waits may wake spuriously; callers loop. */
#ifndef KR_LIB_LOCK_H
#define KR_LIB_LOCK_H

#include <pthread.h>
#include <time.h>

typedef pthread_mutex_t kr_mutex;
typedef pthread_cond_t kr_cond;

/* 0 or an errno value. */
int kr_mutex_init(kr_mutex *m);
/* 0 or an errno value. */
int kr_cond_init(kr_cond *c);

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

static inline void kr_cond_destroy(kr_cond *c)
{
    pthread_cond_destroy(c);
}

static inline void kr_cond_signal(kr_cond *c)
{
    pthread_cond_signal(c);
}

static inline void kr_cond_broadcast(kr_cond *c)
{
    pthread_cond_broadcast(c);
}

/* Release m, sleep until signalled or until `deadline` (absolute,
 * CLOCK_MONOTONIC; NULL: no deadline), take m again. */
static inline void kr_cond_wait(kr_cond *c, kr_mutex *m, const struct timespec *deadline)
{
    if (deadline)
        pthread_cond_timedwait(c, m, deadline);
    else
        pthread_cond_wait(c, m);
}

#endif /* KR_LIB_LOCK_H */
