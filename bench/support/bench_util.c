/* Helpers the benchmarks share. */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long bench_env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : def;
}

size_t bench_body_collect(char *ptr, size_t size, size_t nmemb, void *user)
{
    bench_body *b = user;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *nb = realloc(b->data, cap);
        if (!nb)
            return 0; /* libcurl fails the transfer */
        b->data = nb;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

pid_t bench_spawn_server(int (*load)(kr_testserver_t *ts, void *user), void *user,
                         const char *kubeconfig, unsigned short *port)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid != 0) {
        close(p[1]);
        if (read(p[0], port, sizeof(*port)) != sizeof(*port))
            pid = -1; /* the child failed; it has exited */
        close(p[0]);
        return pid;
    }
    close(p[0]);
    kr_testserver_opts o = {.seed = 1, .threads = 2, .history = 1000};
    kr_testserver_t *ts = NULL;
    kr_error_t err = {0};
    if (kr_testserver_start(&o, &ts, &err) != 0) {
        fprintf(stderr, "bench: test server: %s\n", err.message);
        _exit(1);
    }
    if (load && load(ts, user) != 0) {
        fprintf(stderr, "bench: loading the test server failed\n");
        _exit(1);
    }
    if (kubeconfig && kr_testserver_write_kubeconfig(ts, kubeconfig, NULL, &err) != 0) {
        fprintf(stderr, "bench: kubeconfig: %s\n", err.message);
        _exit(1);
    }
    unsigned short pt = kr_testserver_port(ts);
    if (write(p[1], &pt, sizeof(pt)) != sizeof(pt))
        _exit(1);
    close(p[1]);
    for (;;)
        pause();
}
