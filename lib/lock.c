/* libkreconcile — lock.h's initialisers: an adaptive mutex, a condition
 * variable on the monotonic clock. */
#include "lock.h"

int kr_mutex_init(kr_mutex *m)
{
    pthread_mutexattr_t ma;
    int rc = pthread_mutexattr_init(&ma);
    if (rc != 0)
        return rc;
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    rc = pthread_mutex_init(m, &ma);
    pthread_mutexattr_destroy(&ma);
    return rc;
}

int kr_cond_init(kr_cond *c)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc != 0)
        return rc;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}
