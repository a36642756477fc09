/* libkreconcile — internals of the rate limiters: the delay in the queue's
 * own precision (ns), where the public kr_ratelimiter_when rounds it up to
 * milliseconds. Never installed; nothing here is part of the ABI. */
#ifndef KR_LIB_RATELIMIT_INTERNAL_H
#define KR_LIB_RATELIMIT_INTERNAL_H

#include <stdint.h>

#include "kreconcile/ratelimit.h"

/* As kr_ratelimiter_when, in ns (>= 0). [any thread] */
int64_t kr_ratelimiter_when_ns(kr_ratelimiter_t *rl, const char *key, int64_t now_ns);

#endif /* KR_LIB_RATELIMIT_INTERNAL_H */
