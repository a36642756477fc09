/* Helpers the benchmarks share: a monotonic clock, sizes from the
 * environment, a libcurl body collector and a forked test server. */
#ifndef KR_BENCH_UTIL_H
#define KR_BENCH_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "kreconcile/testserver.h"

/* CLOCK_MONOTONIC in seconds. */
double bench_now_s(void);

/* CPU seconds (user + system, every thread) this process used so far. */
double bench_cpu_s(void);

/* The environment variable `name` as a number (atol), or `def` when unset. */
long bench_env_long(const char *name, long def);

/* A response body grown by bench_body_collect (a CURLOPT_WRITEFUNCTION with
 * the body as CURLOPT_WRITEDATA); always NUL-terminated once data is set.
 * Reset len to reuse it; free(data) when done. */
typedef struct bench_body {
    char *data;
    size_t len, cap;
} bench_body;

size_t bench_body_collect(char *ptr, size_t size, size_t nmemb, void *user);

/* Fork a child that runs an in-memory test server (seed 1, two threads, a
 * history of 1,000 events), calls load(ts, user) there (0 or an error), and
 * writes a kubeconfig for it to `kubeconfig` when that is not NULL. *port is
 * the server's port. Returns the child's pid (stop it with SIGTERM and
 * waitpid), or -1 when the server did not come up. */
pid_t bench_spawn_server(int (*load)(kr_testserver_t *ts, void *user), void *user,
                         const char *kubeconfig, unsigned short *port);

#endif /* KR_BENCH_UTIL_H */
