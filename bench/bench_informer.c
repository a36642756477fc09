/* Benchmark of the informer: initial sync of KR_BENCH_INFORMER_OBJECTS
 * (default 100,000) ~1 KiB ConfigMaps in pages of 500 from the in-memory
 * server (in a forked child), beside a bare libcurl + jansson page loop
 * and kubectl on the same server, each in its own child for peak RSS;
 * medians of five interleaved rounds of (baseline, compact store, jansson-
 * tree store, both again with an on_add handler as a controller has), in
 * wall and CPU time; resident bytes per cached object against wire bytes
 * for both representations and a metadata-only informer; steady watch
 * throughput to a handler
 * (KR_BENCH_INFORMER_EVENTS, default 200,000 small objects), over the
 * network and through the reflector alone (fake lister-watcher).
 * With KR_BENCH_INFORMER_URL, only one sync against that server, printed as
 * JSON (bench_informer_node.sh compares it with client-node's informer);
 * KR_BENCH_INFORMER_STORE=trees|metadata|bare picks what that sync uses
 * (bare: the libcurl + jansson baseline; for profiling one side) and
 * KR_BENCH_INFORMER_HANDLER=1 adds an on_add handler. */
#include <curl/curl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kreconcile.h"
#include "kreconcile/testserver.h"

#include "bench_util.h"

#define CM KR_GVR("", "v1", "configmaps")

static json_t *configmap(const char *ns, long i, size_t payload_bytes)
{
    char name[32], payload[1024];
    snprintf(name, sizeof(name), "cm-%07ld", i);
    if (payload_bytes >= sizeof(payload))
        payload_bytes = sizeof(payload) - 1;
    memset(payload, 'a' + (int)(i % 26), payload_bytes);
    payload[payload_bytes] = '\0';
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", name, "namespace", ns, "labels", "bench",
                     "informer", "data", "payload", payload);
}

static int load(kr_testserver_t *ts, const char *ns, long from, long n, size_t payload)
{
    enum { BATCH = 1000 };
    json_t *batch[BATCH];
    kr_error_t err = {0};
    for (long i = from; i < from + n; i += BATCH) {
        size_t k = 0;
        for (long j = i; j < from + n && k < BATCH; j++)
            batch[k++] = configmap(ns, j, payload);
        int rc = kr_testserver_load_bulk(ts, batch, k, &err);
        for (size_t m = 0; m < k; m++)
            json_decref(batch[m]);
        if (rc != 0) {
            fprintf(stderr, "bench: load: %s\n", err.message);
            return rc;
        }
    }
    return 0;
}

/* ---- a server with the bulk objects, in a child -------------------------------- */

static int load_default(kr_testserver_t *ts, void *user)
{
    return load(ts, "default", 0, *(const long *)user, 900);
}

static pid_t spawn_server(long objects, const char *kubeconfig, unsigned short *port)
{
    return bench_spawn_server(load_default, &objects, kubeconfig, port);
}

/* Runs fn in a child; returns its wall seconds (written back through a
 * pipe with extra figures) and its peak RSS in KiB. */
typedef struct child_result {
    double seconds;
    double cpu_seconds; /* user + system of the whole child during the sync */
    double wire_bytes;
    double cached_json_bytes;
    double store_overhead;
    long objects;
    double rss_growth; /* resident bytes added by the sync, after malloc_trim */
    long max_rss_kib;
    int ok;
} child_result;

static child_result in_child(void (*fn)(const char *base, child_result *out), const char *base)
{
    child_result r = {0};
    int p[2];
    if (pipe(p) != 0)
        return r;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_result c = {0};
        fn(base, &c);
        if (write(p[1], &c, sizeof(c)) != sizeof(c))
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    if (read(p[0], &r, sizeof(r)) != sizeof(r))
        r.ok = 0;
    close(p[0]);
    struct rusage ru;
    int status = 0;
    wait4(pid, &status, 0, &ru);
    r.max_rss_kib = ru.ru_maxrss;
    return r;
}

/* The median of n (<= 8) numbers. */
static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_value(const double *v, int n)
{
    double sorted[8];
    memcpy(sorted, v, (size_t)n * sizeof(*v));
    qsort(sorted, (size_t)n, sizeof(*sorted), by_value);
    return sorted[n / 2];
}

/* The median CPU time of n runs (loaded machines stretch wall time far
 * more than CPU time). */
static double median_cpu(const child_result *runs, int n)
{
    double v[8];
    for (int i = 0; i < n; i++)
        v[i] = runs[i].cpu_seconds;
    return median_value(v, n);
}

/* The run with the median sync time (its other figures with it). */
static child_result median_of(const child_result *runs, int n)
{
    double v[8];
    for (int i = 0; i < n; i++)
        v[i] = runs[i].seconds;
    double m = median_value(v, n);
    for (int i = 0; i < n; i++)
        if (runs[i].seconds == m)
            return runs[i];
    return runs[0];
}

/* ---- the informer's initial sync ------------------------------------------------------ */

static double rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

/* What informer_sync() runs (set before the fork): the store's
 * representation, a metadata-only informer, a handler like a controller's. */
typedef enum sync_mode { SYNC_COMPACT, SYNC_TREES, SYNC_METADATA } sync_mode;
static sync_mode sync_as = SYNC_COMPACT;
static bool sync_with_handler;

static const char *sync_mode_name(sync_mode m)
{
    return m == SYNC_TREES ? "trees" : m == SYNC_METADATA ? "metadata-only" : "compact";
}

static void count_key(const json_t *obj, void *user)
{
    (void)obj;
    ++*(long *)user;
}

static void informer_sync(const char *base, child_result *out)
{
    kr_runtime_t *rt = NULL;
    kr_client_t *c = NULL;
    kr_informer_t *inf = NULL;
    kr_rest_config cfg = {.server = (char *)base, .qps = -1};
    kr_runtime_new(NULL, &rt, NULL);
    kr_runtime_start(rt, NULL);
    kr_client_new(rt, &cfg, NULL, &c, NULL);
    kr_informer_opts o = {
        .client = c,
        .resource = CM,
        .page_size = 500,
        .metadata_only = sync_as == SYNC_METADATA,
        .store = {.representation = sync_as == SYNC_TREES ? KR_STORE_TREES : KR_STORE_COMPACT}};
    if (kr_informer_new(&o, &inf, NULL) != 0)
        return;
    long added = 0;
    kr_informer_handler h = {.on_add = count_key, .user = &added};
    if (sync_with_handler && kr_informer_add_handler(inf, &h, NULL, NULL) != 0)
        return;
    double rss0 = rss_bytes();
    double t0 = bench_now_s(), c0 = bench_cpu_s();
    kr_informer_start(inf, NULL);
    kr_error_t err = {0};
    if (kr_informer_wait_for_sync(inf, 600000, &err) != 0) {
        fprintf(stderr, "bench: sync: %s\n", err.message);
        return;
    }
    out->seconds = bench_now_s() - t0;
    out->cpu_seconds = bench_cpu_s() - c0;
    kr_store_stats st;
    kr_store_get_stats(kr_informer_store(inf), &st, sizeof(st));
    out->objects = (long)st.objects;
    out->cached_json_bytes = (double)st.cached_json_bytes;
    out->store_overhead = (double)st.overhead_bytes;
    malloc_trim(0);
    out->rss_growth = rss_bytes() - rss0;
    out->ok = 1;
    /* exit without freeing: the figures are taken */
}

/* ---- the limit baseline: bare libcurl pages parsed by jansson ------------------------------ */

static void bare_pages(const char *base, child_result *out)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *e = curl_easy_init();
    bench_body b = {0};
    char cont[1024] = "";
    char url[2048];
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, bench_body_collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    double t0 = bench_now_s(), c0 = bench_cpu_s();
    long items = 0;
    double bytes = 0;
    do {
        snprintf(url, sizeof(url), "%s/api/v1/configmaps?limit=500%s%s", base,
                 cont[0] ? "&continue=" : "", cont);
        curl_easy_setopt(e, CURLOPT_URL, url);
        b.len = 0;
        if (curl_easy_perform(e) != CURLE_OK)
            return;
        bytes += (double)b.len;
        json_t *page = json_loadb(b.data, b.len, 0, NULL);
        items += (long)json_array_size(json_object_get(page, "items"));
        const char *c =
            json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
        snprintf(cont, sizeof(cont), "%s", c ? c : "");
        json_decref(page);
    } while (cont[0]);
    out->seconds = bench_now_s() - t0;
    out->cpu_seconds = bench_cpu_s() - c0;
    out->objects = items;
    out->wire_bytes = bytes;
    out->ok = 1;
}

/* ---- watch throughput --------------------------------------------------------------------- */

typedef struct counter {
    long target;
    long seen;
    double first, last;
    pthread_mutex_t mu;
    pthread_cond_t cond;
} counter;

static void count_add(const json_t *o, void *user)
{
    (void)o;
    counter *c = user;
    if (c->seen == 0)
        c->first = bench_now_s();
    if (++c->seen == c->target) {
        c->last = bench_now_s();
        pthread_mutex_lock(&c->mu);
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->mu);
    }
}

/* Create c->target small ConfigMaps on the server and wait (60 s at most)
 * until the watcher counted them all: events per second between the first
 * and the last, or 0 when some never came. */
static double load_and_count(kr_testserver_t *ts, counter *c)
{
    load(ts, "default", 0, c->target, 8);
    pthread_mutex_lock(&c->mu);
    while (c->seen < c->target) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 60;
        if (pthread_cond_timedwait(&c->cond, &c->mu, &dl) != 0)
            break;
    }
    pthread_mutex_unlock(&c->mu);
    return c->seen == c->target ? (double)c->target / (c->last - c->first) : 0;
}

static double watch_throughput_network(long events)
{
    kr_testserver_opts so = {.seed = 1, .history = (size_t)events + 10};
    kr_testserver_t *ts = NULL;
    if (kr_testserver_start(&so, &ts, NULL) != 0)
        return 0;
    kr_runtime_t *rt = NULL;
    kr_client_t *c = NULL;
    kr_informer_t *inf = NULL;
    kr_rest_config cfg = {.server = (char *)kr_testserver_url(ts), .qps = -1};
    kr_runtime_new(NULL, &rt, NULL);
    kr_runtime_start(rt, NULL);
    kr_client_new(rt, &cfg, NULL, &c, NULL);
    kr_informer_opts o = {.client = c, .resource = CM, .namespace_ = "default"};
    kr_informer_new(&o, &inf, NULL);
    counter cnt = {.target = events};
    pthread_mutex_init(&cnt.mu, NULL);
    pthread_cond_init(&cnt.cond, NULL);
    kr_informer_handler h = {.on_add = count_add, .user = &cnt};
    kr_informer_add_handler(inf, &h, NULL, NULL);
    kr_informer_start(inf, NULL);
    kr_informer_wait_for_sync(inf, 60000, NULL);
    double rate = load_and_count(ts, &cnt);
    kr_informer_free(inf);
    kr_client_free(c);
    kr_runtime_free(rt);
    kr_testserver_free(ts);
    return rate;
}

static void raw_event(kr_watch_t *w, kr_watch_event_type type, json_t *obj, void *user)
{
    (void)w;
    if (type == KR_WATCH_ADDED)
        count_add(obj, user);
}

/* Baseline: the same stream consumed by a bare kr_client watch (no store,
 * no reflector), to separate the server's and the client's share. */
static double watch_throughput_raw(long events)
{
    kr_testserver_opts so = {.seed = 1, .history = (size_t)events + 10};
    kr_testserver_t *ts = NULL;
    if (kr_testserver_start(&so, &ts, NULL) != 0)
        return 0;
    kr_runtime_t *rt = NULL;
    kr_client_t *c = NULL;
    kr_rest_config cfg = {.server = (char *)kr_testserver_url(ts), .qps = -1};
    kr_runtime_new(NULL, &rt, NULL);
    kr_runtime_start(rt, NULL);
    kr_client_new(rt, &cfg, NULL, &c, NULL);
    counter cnt = {.target = events};
    pthread_mutex_init(&cnt.mu, NULL);
    pthread_cond_init(&cnt.cond, NULL);
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", kr_testserver_resource_version(ts));
    kr_list_opts lo = {.resource_version = rv};
    kr_watch_t *w = NULL;
    kr_client_watch(c, CM, "default", &lo, raw_event, NULL, &cnt, &w, NULL);
    while (kr_testserver_watch_count(ts) == 0)
        usleep(1000);
    double rate = load_and_count(ts, &cnt);
    kr_watch_free(w);
    kr_client_free(c);
    kr_runtime_free(rt);
    kr_testserver_free(ts);
    return rate;
}

/* The reflector and dispatch alone: a lister-watcher that delivers
 * pre-parsed events as fast as the loop takes them. */
typedef struct direct_lw {
    kr_lw_event_cb on_event;
    void *user;
    kr_lw_list_cb list_cb;
    void *list_user;
} direct_lw;

static int d_list(void *impl, const kr_lw_list_request *req, kr_lw_list_cb cb, void *user,
                  void **handle, kr_error_t *err)
{
    (void)req;
    (void)err;
    direct_lw *d = impl;
    d->list_cb = cb;
    d->list_user = user;
    *handle = d;
    return 0;
}
static int d_watch(void *impl, const kr_lw_watch_request *req, kr_lw_event_cb on_event,
                   kr_lw_close_cb on_close, void *user, void **handle, kr_error_t *err)
{
    (void)req;
    (void)on_close;
    (void)err;
    direct_lw *d = impl;
    d->on_event = on_event;
    d->user = user;
    *handle = d;
    return 0;
}
static void d_cancel(void *impl, void *handle)
{
    (void)impl;
    (void)handle;
}
static uint64_t c_now(void *impl)
{
    (void)impl;
    return (uint64_t)(bench_now_s() * 1000);
}
static int c_schedule(void *impl, uint64_t delay, kr_timer_clock_cb fn, void *user, void **handle)
{
    (void)impl;
    (void)delay;
    (void)fn;
    (void)user;
    *handle = impl;
    return 0;
}
static void c_cancel(void *impl, void *handle)
{
    (void)impl;
    (void)handle;
}

static double dispatch_throughput(long events, kr_store_representation repr)
{
    static const kr_listwatch_vtable vt = {d_list, d_watch, d_cancel};
    static const kr_timer_clock_vtable cvt = {c_now, c_schedule, c_cancel};
    direct_lw d = {0};
    kr_informer_opts o = {.lw = {&vt, &d},
                          .clock = {&cvt, &d},
                          .progress_deadline_ms = -1,
                          .store = {.representation = repr}};
    kr_informer_t *inf = NULL;
    if (kr_informer_new(&o, &inf, NULL) != 0)
        return 0;
    counter cnt = {.target = events};
    pthread_mutex_init(&cnt.mu, NULL);
    pthread_cond_init(&cnt.cond, NULL);
    kr_informer_handler h = {.on_add = count_add, .user = &cnt};
    kr_informer_add_handler(inf, &h, NULL, NULL);
    kr_informer_start(inf, NULL);
    d.list_cb(json_array(), "1", NULL, NULL, d.list_user);
    json_t **objs = malloc(sizeof(json_t *) * (size_t)events);
    for (long i = 0; i < events; i++) {
        objs[i] = configmap("default", i, 8);
        char rv[24];
        snprintf(rv, sizeof(rv), "%ld", i + 2);
        json_object_set_new(json_object_get(objs[i], "metadata"), "resourceVersion",
                            json_string(rv));
    }
    double t0 = bench_now_s();
    for (long i = 0; i < events; i++)
        d.on_event(KR_WATCH_ADDED, objs[i], d.user);
    double dt = bench_now_s() - t0;
    for (long i = 0; i < events; i++)
        json_decref(objs[i]);
    free(objs);
    kr_informer_free(inf);
    return cnt.seen == events ? (double)events / dt : 0;
}

int main(void)
{
    /* one sync against a given server, for bench_informer_node.sh */
    const char *url = getenv("KR_BENCH_INFORMER_URL");
    if (url && *url) {
        const char *as = getenv("KR_BENCH_INFORMER_STORE");
        if (as && strcmp(as, "trees") == 0)
            sync_as = SYNC_TREES;
        else if (as && strcmp(as, "metadata") == 0)
            sync_as = SYNC_METADATA;
        bool bare = as && strcmp(as, "bare") == 0;
        sync_with_handler = bench_env_long("KR_BENCH_INFORMER_HANDLER", 0) != 0;
        child_result r = in_child(bare ? bare_pages : informer_sync, url);
        printf("{\"seconds\":%.3f,\"cpu_seconds\":%.3f,\"objects\":%ld,\"max_rss_kib\":%ld}\n",
               r.seconds, r.cpu_seconds, r.objects, r.max_rss_kib);
        return r.ok ? 0 : 1;
    }
    long objects = bench_env_long("KR_BENCH_INFORMER_OBJECTS", 100000);
    long events = bench_env_long("KR_BENCH_INFORMER_EVENTS", 200000);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char dir[] = "/tmp/kr-bench-informer-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char kubeconfig[300];
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
    unsigned short port = 0;
    pid_t server = spawn_server(objects, kubeconfig, &port);
    if (server < 0)
        return 1;
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);

    /* Single runs swing a lot on a shared machine: five rounds, each
     * running the limit baseline and the informer in both representations
     * back to back, and the medians of each. */
    enum { ROUNDS = 5, MODES = 5 };
    /* the bare baseline, then each store with no handler and with an
     * on_add handler (a controller's informer: the relist's objects are
     * then read back from the store for the handler) */
    static const struct {
        const char *name;
        sync_mode as;
        bool handler;
    } modes[MODES] = {
        {"bare libcurl+jansson pages (limit)", SYNC_COMPACT, false},
        {"informer, compact store (default)", SYNC_COMPACT, false},
        {"informer, jansson-tree store", SYNC_TREES, false},
        {"compact store, on_add handler", SYNC_COMPACT, true},
        {"jansson-tree store, on_add handler", SYNC_TREES, true},
    };
    child_result runs[MODES][ROUNDS], med[MODES];
    double cpu[MODES];
    for (int i = 0; i < ROUNDS; i++)
        for (int m = 0; m < MODES; m++) {
            sync_as = modes[m].as;
            sync_with_handler = modes[m].handler;
            runs[m][i] = in_child(m == 0 ? bare_pages : informer_sync, base);
        }
    for (int m = 0; m < MODES; m++) {
        med[m] = median_of(runs[m], ROUNDS);
        cpu[m] = median_cpu(runs[m], ROUNDS);
    }
    child_result b = med[0], ours = med[1], old = med[2];
    printf("initial sync of %ld ConfigMaps (~1 KiB, pages of 500), medians of %d interleaved "
           "runs (wall seconds; CPU seconds of the syncing process, steadier on a loaded "
           "machine); speed ratio = limit time / informer time (target >= 0.7):\n",
           ours.objects, ROUNDS);
    for (int m = 0; m < MODES; m++)
        printf("  %-36s %6.2f s wall, %5.2f s CPU, peak RSS %4.0f MiB; speed ratio %.2f wall, "
               "%.2f CPU\n",
               modes[m].name, med[m].seconds, cpu[m], (double)med[m].max_rss_kib / 1024,
               b.seconds / med[m].seconds, cpu[0] / cpu[m]);
    printf("  compact / trees sync time (target <= 1.10): %.2f wall, %.2f CPU; with a handler "
           "%.2f wall, %.2f CPU\n",
           ours.seconds / old.seconds, cpu[1] / cpu[2], med[3].seconds / med[4].seconds,
           cpu[3] / cpu[4]);
    sync_as = SYNC_METADATA;
    sync_with_handler = false;
    child_result meta = in_child(informer_sync, base);
    printf("  metadata-only informer: %.2f s wall, %.2f s CPU, peak RSS %.0f MiB (single run)\n",
           meta.seconds, meta.cpu_seconds, (double)meta.max_rss_kib / 1024);
    if (system("kubectl version --client >/dev/null 2>&1") == 0) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd),
                 "kubectl --kubeconfig '%s' get configmaps -A --chunk-size=500 -o json "
                 ">/dev/null",
                 kubeconfig);
        double t0 = bench_now_s();
        int rc = system(cmd);
        double kubectl_s = bench_now_s() - t0;
        if (rc == 0)
            printf("  kubectl get configmaps -A --chunk-size=500 -o json: %.2f s; informer is "
                   "%.1fx faster (target >= 3x)\n",
                   kubectl_s, kubectl_s / ours.seconds);
    } else {
        printf("  kubectl: skipped (not found)\n");
    }
    if (b.ok && b.wire_bytes > 0) {
        double wire = b.wire_bytes / (double)b.objects;
        printf("memory: %.0f wire bytes/object; resident bytes per cached object after sync "
               "(malloc_trim) / wire bytes (target <= 2 at 100,000):\n",
               wire);
        const child_result *mem[] = {&ours, &old, &meta};
        const sync_mode mem_modes[] = {SYNC_COMPACT, SYNC_TREES, SYNC_METADATA};
        for (int i = 0; i < 3; i++) {
            const child_result *r = mem[i];
            if (!r->ok || r->objects == 0)
                continue;
            printf("  %-13s %5.0f B/object = %.2f x wire; peak RSS %5.0f B/object = %.2f x "
                   "wire; cached JSON %.2f x wire, store structures %.0f B/object\n",
                   sync_mode_name(mem_modes[i]), r->rss_growth / (double)r->objects,
                   r->rss_growth / (double)r->objects / wire,
                   (double)r->max_rss_kib * 1024 / (double)r->objects,
                   (double)r->max_rss_kib * 1024 / (double)r->objects / wire,
                   r->cached_json_bytes / (double)r->objects / wire,
                   r->store_overhead / (double)r->objects);
        }
    }
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    unlink(kubeconfig);
    rmdir(dir);

    double net = watch_throughput_network(events);
    double raw = watch_throughput_raw(events);
    double direct = dispatch_throughput(events, KR_STORE_COMPACT);
    double direct_trees = dispatch_throughput(events, KR_STORE_TREES);
    printf("watch throughput, %ld small objects: informer %.0f events/s end to end over HTTP "
           "(server, decode, store, handler); bare kr_client watch on the same server %.0f "
           "events/s (informer/bare %.2f); reflector+store+handler alone %.0f events/s with the "
           "compact store, %.0f with the jansson-tree store (target >= 100000 on one core)\n",
           events, net, raw, raw > 0 ? net / raw : 0, direct, direct_trees);
    return 0;
}
