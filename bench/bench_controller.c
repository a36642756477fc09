/* Benchmark of the controller runtime: a no-op reconcile of
 * KR_BENCH_CONTROLLER_KEYS (default 100,000) keys with 1, 2 and 8 workers
 * against the bare queue's add + get + done loop doing the same hand-off in
 * the same run (the controller's overhead as a ratio, of wall-clock rates and
 * of CPU time per key, the steadier figure on a shared machine); and the
 * event-to-reconcile latency (p50, p99) of single updates through the
 * in-memory server (in a forked child) beside the bare watch's event latency
 * for the same updates (KR_BENCH_CONTROLLER_UPDATES, default 300). Prints
 * figures and ratios; never asserts on speed. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "kreconcile.h"

#include "bench_util.h"

#define CM KR_GVR("", "v1", "configmaps")
#define RUNS 5 /* best of */

static long nkeys;
static char **keys; /* "bench/key-N" */
static char **names; /* "key-N" */

/* ---- completion ---------------------------------------------------------------------- */

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static atomic_long reconciled;

static void count_one(void)
{
    if (atomic_fetch_add(&reconciled, 1) + 1 == nkeys) {
        pthread_mutex_lock(&done_mu);
        pthread_cond_broadcast(&done_cond);
        pthread_mutex_unlock(&done_mu);
    }
}

static void wait_all(void)
{
    pthread_mutex_lock(&done_mu);
    while (atomic_load(&reconciled) < nkeys)
        pthread_cond_wait(&done_cond, &done_mu);
    pthread_mutex_unlock(&done_mu);
}

/* CPU time of the whole process, in seconds: less sensitive than the wall
 * clock to other work on a shared machine. */
static double cpu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One measurement: keys per wall second and CPU ns per key. */
typedef struct result {
    double rate, cpu_ns;
} result;

static result measured(double t0, double c0)
{
    result r = {(double)nkeys / (bench_now_s() - t0), (cpu_now_s() - c0) * 1e9 / (double)nkeys};
    return r;
}

/* ---- the bare queue ------------------------------------------------------------------ */

static void *queue_worker(void *arg)
{
    kr_queue_t *q = arg;
    const char *key = NULL;
    while (kr_queue_done_get(q, key, &key) == 0)
        count_one();
    return NULL;
}

static result run_queue(unsigned workers)
{
    kr_queue_t *q = NULL;
    if (kr_queue_new(NULL, &q, NULL) != 0)
        return (result){0, 0};
    atomic_store(&reconciled, 0);
    pthread_t th[8];
    for (unsigned i = 0; i < workers; i++)
        pthread_create(&th[i], NULL, queue_worker, q);
    double t0 = bench_now_s(), c0 = cpu_now_s();
    for (long i = 0; i < nkeys; i++)
        kr_queue_add(q, keys[i]);
    wait_all();
    result r = measured(t0, c0);
    kr_queue_shutdown(q);
    for (unsigned i = 0; i < workers; i++)
        pthread_join(th[i], NULL);
    kr_queue_free(q);
    return r;
}

/* ---- the controller ------------------------------------------------------------------ */

static kr_reconcile_result noop(kr_controller_t *ctl, const kr_reconcile_request *req,
                                uint64_t *after_ms, kr_error_t *err, void *user)
{
    (void)ctl;
    (void)req;
    (void)after_ms;
    (void)err;
    (void)user;
    count_one();
    return KR_RECONCILE_DONE;
}

static result run_controller(unsigned workers, bool metrics)
{
    kr_metrics_registry_t *reg = NULL;
    if (metrics && kr_metrics_registry_new(&reg, NULL) != 0)
        return (result){0, 0};
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = "bench";
    o.reconcile = noop;
    o.workers = workers;
    o.metrics = reg;
    kr_controller_t *ctl = NULL;
    if (kr_controller_new(&o, &ctl, NULL) != 0 || kr_controller_start(ctl, NULL) != 0) {
        kr_controller_free(ctl);
        kr_metrics_registry_free(reg);
        return (result){0, 0};
    }
    /* no sources: ready at once */
    while (!kr_controller_ready(ctl))
        sched_yield();
    atomic_store(&reconciled, 0);
    double t0 = bench_now_s(), c0 = cpu_now_s();
    for (long i = 0; i < nkeys; i++)
        kr_controller_enqueue(ctl, NULL, "bench", names[i]);
    wait_all();
    result r = measured(t0, c0);
    kr_controller_free(ctl);
    kr_metrics_registry_free(reg);
    return r;
}

static void throughput(void)
{
    keys = calloc((size_t)nkeys, sizeof(*keys));
    names = calloc((size_t)nkeys, sizeof(*names));
    for (long i = 0; i < nkeys; i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "bench/key-%ld", i);
        keys[i] = strdup(buf);
        names[i] = keys[i] + strlen("bench/");
    }
    printf("no-op reconcile of %ld keys (best of %d): keys/s (wall) | CPU ns per key\n", nkeys,
           RUNS);
    printf("  %-8s %11s %11s %7s %11s %7s | %9s %9s %7s %9s %7s\n", "workers", "bare queue",
           "controller", "ratio", "+ metrics", "ratio", "queue", "ctl", "ratio", "+ metrics",
           "ratio");
    static const unsigned ws[] = {1, 2, 8};
    for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]); i++) {
        /* interleaved, so that a noisy moment hurts all three alike; the
         * best rate and the least CPU of the runs */
        result best[3] = {{0, 1e18}, {0, 1e18}, {0, 1e18}};
        for (int r = 0; r < RUNS; r++) {
            result v[3] = {run_queue(ws[i]), run_controller(ws[i], false),
                           run_controller(ws[i], true)};
            for (int k = 0; k < 3; k++) {
                best[k].rate = v[k].rate > best[k].rate ? v[k].rate : best[k].rate;
                best[k].cpu_ns = v[k].cpu_ns < best[k].cpu_ns ? v[k].cpu_ns : best[k].cpu_ns;
            }
        }
        printf("  %-8u %11.0f %11.0f %6.2fx %11.0f %6.2fx | %9.0f %9.0f %6.2fx %9.0f %6.2fx\n",
               ws[i], best[0].rate, best[1].rate, best[0].rate / best[1].rate, best[2].rate,
               best[0].rate / best[2].rate, best[0].cpu_ns, best[1].cpu_ns,
               best[1].cpu_ns / best[0].cpu_ns, best[2].cpu_ns, best[2].cpu_ns / best[0].cpu_ns);
    }
    printf("  (ratios: the controller's cost per key against the bare queue's; CPU time counts\n"
           "   every thread of the process, the producer's adds and idle workers' wake-ups too)\n");
    for (long i = 0; i < nkeys; i++)
        free(keys[i]);
    free(keys);
    free(names);
}

/* ---- latency ------------------------------------------------------------------------- */

static long nupdates;
static double *t_sent, *t_watch, *t_reconcile;
static atomic_long expected = -1; /* the update being measured */
static pthread_mutex_t lat_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lat_cond = PTHREAD_COND_INITIALIZER;

static long value_of(const json_t *obj)
{
    const char *v = json_string_value(json_object_get(json_object_get(obj, "data"), "v"));
    return v ? atol(v) : -1;
}

static void mark(double *slot)
{
    pthread_mutex_lock(&lat_mu);
    if (*slot == 0)
        *slot = bench_now_s();
    pthread_cond_broadcast(&lat_cond);
    pthread_mutex_unlock(&lat_mu);
}

static void on_watch_event(kr_watch_t *w, kr_watch_event_type type, json_t *obj, void *user)
{
    (void)w;
    (void)user;
    long v = value_of(obj);
    if (type == KR_WATCH_MODIFIED && v >= 0 && v == atomic_load(&expected))
        mark(&t_watch[v]);
}

static void on_watch_end(kr_watch_t *w, int rc, const kr_error_t *err, void *user)
{
    (void)w;
    (void)rc;
    (void)err;
    (void)user;
}

static kr_informer_t *lat_informer;

static kr_reconcile_result observe(kr_controller_t *ctl, const kr_reconcile_request *req,
                                   uint64_t *after_ms, kr_error_t *err, void *user)
{
    (void)ctl;
    (void)after_ms;
    (void)err;
    (void)user;
    json_t *o = kr_store_get_by_name(kr_informer_store(lat_informer), req->namespace_, req->name);
    long v = o ? value_of(o) : -1;
    json_decref(o);
    if (v >= 0 && v == atomic_load(&expected))
        mark(&t_reconcile[v]);
    return KR_RECONCILE_DONE;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void percentiles(const char *what, double *t_end, long n)
{
    double *d = calloc((size_t)n, sizeof(*d));
    for (long i = 0; i < n; i++)
        d[i] = (t_end[i] - t_sent[i]) * 1e6;
    qsort(d, (size_t)n, sizeof(*d), cmp_double);
    printf("  %-34s p50 %8.0f us   p99 %8.0f us\n", what, d[n / 2], d[(n * 99) / 100]);
    free(d);
}

static void latency(void)
{
    unsigned short port = 0;
    pid_t pid = bench_spawn_server(NULL, NULL, NULL, &port);
    if (pid < 0) {
        printf("latency: the test server did not start\n");
        return;
    }
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    kr_runtime_t *rt = NULL;
    kr_client_t *c = NULL;
    kr_rest_config cfg = {.server = url, .qps = -1};
    kr_controller_t *ctl = NULL;
    kr_watch_t *w = NULL;
    t_sent = calloc((size_t)nupdates, sizeof(double));
    t_watch = calloc((size_t)nupdates, sizeof(double));
    t_reconcile = calloc((size_t)nupdates, sizeof(double));
    kr_error_t err = {0};
    if (kr_runtime_new(NULL, &rt, &err) != 0 || kr_runtime_start(rt, &err) != 0 ||
        kr_client_new(rt, &cfg, NULL, &c, &err) != 0)
        goto out;
    json_t *obj =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                  "metadata", "name", "lat", "namespace", "default", "data", "v", "start");
    int rc = kr_client_create(c, CM, "default", obj, NULL, NULL, &err);
    json_decref(obj);
    if (rc != 0)
        goto out;
    kr_informer_opts io = {.client = c, .resource = CM, .namespace_ = "default"};
    if (kr_informer_new(&io, &lat_informer, &err) != 0 ||
        kr_informer_start(lat_informer, &err) != 0 ||
        kr_informer_wait_for_sync(lat_informer, 30000, &err) != 0)
        goto out;
    kr_controller_opts co = KR_CONTROLLER_OPTS_INIT;
    co.name = "latency";
    co.reconcile = observe;
    kr_controller_source src = KR_CONTROLLER_SOURCE_INIT;
    src.informer = lat_informer;
    if (kr_controller_new(&co, &ctl, &err) != 0 || kr_controller_watch(ctl, &src, &err) != 0 ||
        kr_controller_start(ctl, &err) != 0)
        goto out;
    if (kr_client_watch(c, CM, "default", NULL, on_watch_event, on_watch_end, NULL, &w, &err) != 0)
        goto out;
    while (!kr_controller_ready(ctl))
        sched_yield();
    long n = 0;
    for (; n < nupdates; n++) {
        char v[32];
        snprintf(v, sizeof(v), "%ld", n);
        json_t *patch = json_pack("{s:{s:s}}", "data", "v", v);
        atomic_store(&expected, n);
        t_sent[n] = bench_now_s();
        rc =
            kr_client_patch(c, CM, "default", "lat", NULL, KR_PATCH_MERGE, patch, NULL, NULL, &err);
        json_decref(patch);
        if (rc != 0)
            break;
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 10;
        pthread_mutex_lock(&lat_mu);
        int wrc = 0;
        while ((t_watch[n] == 0 || t_reconcile[n] == 0) && wrc == 0)
            wrc = pthread_cond_timedwait(&lat_cond, &lat_mu, &dl);
        pthread_mutex_unlock(&lat_mu);
        if (wrc != 0) {
            snprintf(err.message, sizeof(err.message), "update %ld was not seen in 10 s", n);
            break;
        }
    }
    if (n > 0) {
        printf("event latency of %ld single updates (from the PATCH being sent):\n", n);
        percentiles("bare watch event", t_watch, n);
        percentiles("controller reconcile start", t_reconcile, n);
    }
out:
    if (err.message[0])
        printf("latency: %s\n", err.message);
    kr_watch_free(w);
    kr_controller_free(ctl);
    kr_informer_free(lat_informer);
    kr_client_free(c);
    kr_runtime_free(rt);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(t_sent);
    free(t_watch);
    free(t_reconcile);
}

/* ---- a realistic reconcile ------------------------------------------------------------ */

/* Each reconcile reads its object from the test server (a request through
 * the client, marshalled to the loop thread) and serialises it: what a
 * controller that does work pays per key, against which the queue's lock
 * is noise. KR_BENCH_CONTROLLER_REAL_KEYS keys (default 3,000), 8 workers. */
static kr_client_t *real_client;

static kr_reconcile_result get_and_render(kr_controller_t *ctl, const kr_reconcile_request *req,
                                          uint64_t *after_ms, kr_error_t *err, void *user)
{
    (void)ctl;
    (void)after_ms;
    (void)user;
    json_t *obj = NULL;
    int rc = kr_client_get(real_client, CM, "default", req->name, &obj, err);
    char *text = rc == 0 ? json_dumps(obj, JSON_COMPACT) : NULL;
    free(text);
    json_decref(obj);
    count_one();
    return rc == 0 ? KR_RECONCILE_DONE : KR_RECONCILE_TERMINAL;
}

static int load_real(kr_testserver_t *ts, void *user)
{
    long n = *(long *)user;
    for (long i = 0; i < n; i++) {
        char doc[256];
        int len = snprintf(doc, sizeof(doc),
                           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
                           "{\"name\":\"key-%ld\",\"namespace\":\"default\"},"
                           "\"data\":{\"v\":\"%ld\"}}",
                           i, i);
        if (kr_testserver_load(ts, doc, (size_t)len, NULL) != 0)
            return -1;
    }
    return 0;
}

static void realistic(void)
{
    long n = bench_env_long("KR_BENCH_CONTROLLER_REAL_KEYS", 3000);
    unsigned short port = 0;
    pid_t pid = bench_spawn_server(load_real, &n, NULL, &port);
    if (pid < 0) {
        printf("realistic: the test server did not start\n");
        return;
    }
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    kr_rest_config cfg = {.server = url, .qps = -1};
    kr_runtime_t *rt = NULL;
    kr_controller_t *ctl = NULL;
    kr_error_t err = {0};
    if (kr_runtime_new(NULL, &rt, &err) != 0 || kr_runtime_start(rt, &err) != 0 ||
        kr_client_new(rt, &cfg, NULL, &real_client, &err) != 0)
        goto out;
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = "realistic";
    o.reconcile = get_and_render;
    o.workers = 8;
    if (kr_controller_new(&o, &ctl, &err) != 0 || kr_controller_start(ctl, &err) != 0)
        goto out;
    while (!kr_controller_ready(ctl))
        sched_yield();
    atomic_store(&reconciled, 0);
    long saved = nkeys;
    nkeys = n;
    double t0 = bench_now_s(), c0 = cpu_now_s();
    for (long i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "key-%ld", i);
        kr_controller_enqueue(ctl, NULL, "default", name);
    }
    wait_all();
    result r = measured(t0, c0);
    nkeys = saved;
    printf("realistic reconcile (GET + serialise, 8 workers, %ld keys): %.0f keys/s, %.0f CPU ns "
           "per key\n",
           n, r.rate, r.cpu_ns);
out:
    if (err.message[0])
        printf("realistic: %s\n", err.message);
    kr_controller_free(ctl);
    kr_client_free(real_client);
    kr_runtime_free(rt);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    nkeys = bench_env_long("KR_BENCH_CONTROLLER_KEYS", 100000);
    nupdates = bench_env_long("KR_BENCH_CONTROLLER_UPDATES", 300);
    const char *only = getenv("KR_BENCH_ONLY");
    if (only && strcmp(only, "realistic") == 0) {
        realistic();
        return 0;
    }
    throughput();
    latency();
    realistic();
    return 0;
}
