/* Benchmark of kr-syncer's logic with the controller runtime, against three
 * in-memory servers (hub, dc1, dc2) in this process: the seconds to sync
 * KR_BENCH_SYNCER_OBJECTS ConfigMaps (default 10,000) from the hub to both
 * clusters (created, observed, status written), beside bare kr_client
 * creates of as many objects in both clusters by as many threads as the
 * syncer has workers, in the same run (the ratio; the target is
 * 0.7), with the requests per object by verb as the servers count them;
 * the latency of one hub edit until both clusters' copies are verified in
 * its status (p50, p99 over KR_BENCH_SYNCER_EDITS, default 100); a burst
 * of KR_BENCH_SYNCER_BURST edits (default 1,000) until dc1 holds them,
 * with both clusters up and with dc2 down (target: within 1.5x); and the
 * requests per minute while nothing changes (KR_BENCH_SYNCER_STEADY_S,
 * default 10 s; target 0 besides watches). KR_BENCH_SYNCER_LATENCY_MS
 * makes every server answer each request that many ms late.
 * Clients have no rate limit here (the programs' default is 20 qps). Prints
 * figures; never asserts on speed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../examples/kr-syncer/syncer.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

#include "bench_util.h"

#define CM KR_GVR("", "v1", "configmaps")
#define NSNAME "apps"
#define N_DC 2

typedef struct server {
    kr_testserver_t *ts;
    kr_rest_config cfg;
    kr_client_t *c;
} server;

static kr_runtime_t *rt;
static server hub, dc[N_DC];
static long nobjects;

static void die(const char *what, const kr_error_t *err)
{
    fprintf(stderr, "bench_syncer: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

static void server_up(server *s)
{
    /* KR_BENCH_SYNCER_LATENCY_MS: each server answers that much later, as
     * a cluster a network away would (the wait holds no server thread) */
    unsigned latency = (unsigned)bench_env_long("KR_BENCH_SYNCER_LATENCY_MS", 0);
    kr_testserver_opts o = {
        .seed = 1, .threads = 2, .history = 200000, .faults = {.latency_ms = latency}};
    kr_error_t err = {0};
    if (kr_testserver_start(&o, &s->ts, &err) != 0)
        die("server", &err);
    for (int i = 0; i < 2; i++) {
        char ns[128];
        snprintf(ns, sizeof(ns),
                 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
                 i ? "base" : NSNAME);
        if (kr_testserver_load(s->ts, ns, strlen(ns), &err) != 0)
            die("namespace", &err);
    }
    s->cfg.server = (char *)kr_testserver_url(s->ts);
    s->cfg.qps = -1;
    if (kr_client_new(rt, &s->cfg, NULL, &s->c, &err) != 0)
        die("client", &err);
}

static json_t *cm(const char *ns, long i, const char *value)
{
    char name[32];
    snprintf(name, sizeof(name), "cm-%ld", i);
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "namespace", ns, "data", "value", value);
}

/* ---- the baseline: bare creates, as many threads as workers ------------------------ */

typedef struct creator {
    long from, step;
} creator;

static void *create_some(void *arg)
{
    const creator *c = arg;
    for (long i = c->from; i < nobjects * N_DC; i += c->step) {
        json_t *obj = cm("base", i / N_DC, "v");
        kr_error_t err = {0};
        if (kr_client_create(dc[i % N_DC].c, CM, "base", obj, NULL, NULL, &err) != 0)
            die("create", &err);
        json_decref(obj);
    }
    return NULL;
}

static double bare_creates(unsigned threads)
{
    pthread_t tid[64];
    creator cr[64];
    double t0 = bench_now_s();
    for (unsigned i = 0; i < threads; i++) {
        cr[i] = (creator){i, threads};
        pthread_create(&tid[i], NULL, create_some, &cr[i]);
    }
    for (unsigned i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    return bench_now_s() - t0;
}

/* ---- the syncer ------------------------------------------------------------------- */

static kr_informer_t *informers[16];
static size_t n_informers;

static int make_informer(kr_client_t *client, kr_gvr gvr, const char *ns, const char *selector,
                         kr_informer_t **out, kr_error_t *err, void *user)
{
    (void)user;
    kr_informer_opts o = {
        .client = client, .resource = gvr, .namespace_ = ns, .label_selector = selector};
    /* as the program: trees (KR_BENCH_SYNCER_STORE=compact to compare) */
    const char *repr = getenv("KR_BENCH_SYNCER_STORE");
    o.store.representation =
        repr && strcmp(repr, "compact") == 0 ? KR_STORE_COMPACT : KR_STORE_TREES;
    int rc = kr_informer_new(&o, out, err);
    if (rc == 0)
        informers[n_informers++] = *out;
    return rc;
}

/* True when hub object `obj` says both clusters are verified at a source
 * resourceVersion of at least `rv` (the hub's own RVs compare). */
static bool both_verified(const json_t *obj, unsigned long long rv)
{
    static const char *const clusters[N_DC] = {"dc1", "dc2"};
    json_t *entries = syncer_status_parse(obj);
    bool ok = obj != NULL;
    for (int d = 0; ok && d < N_DC; d++) {
        json_t *e = json_object_get(entries, clusters[d]);
        const char *src = json_string_value(json_object_get(e, "sourceResourceVersion"));
        ok = json_is_true(json_object_get(e, "verified")) && src && strtoull(src, NULL, 10) >= rv;
    }
    json_decref(entries);
    return ok;
}

static bool verified_since(syncer_t *s, const char *name, unsigned long long rv)
{
    json_t *obj = kr_store_get_by_name(kr_informer_store(s->resources[0].hub), NSNAME, name);
    bool ok = both_verified(obj, rv);
    json_decref(obj);
    return ok;
}

/* ---- the hub as the bench sees it: events, not polling --------------------------- */

/* A handler on the syncer's hub informer counts the objects whose status
 * says both clusters are verified. The main thread sleeps until the count
 * is complete, or (one edit at a time) until an event of the object it
 * waits for, instead of polling the cache: the measured phases hold no CPU
 * of the bench's own but one status parse per hub event, and no wakeups
 * but the one it waits for. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned char *synced; /* per object: both clusters verified once */
    long n_synced;
    long watched; /* the object wait_verified looks at, or -1 */
    unsigned long long events; /* events of the watched object */
} hub_events = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, -1, 0};

static void hub_event(const json_t *obj)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    long i = -1;
    if (name && strncmp(name, "cm-", 3) == 0)
        i = strtol(name + 3, NULL, 10);
    bool counted = i >= 0 && i < nobjects;
    pthread_mutex_lock(&hub_events.lock);
    counted = counted && !hub_events.synced[i];
    pthread_mutex_unlock(&hub_events.lock);
    /* Parsed outside the lock; only this (the informer's) thread sets. */
    bool newly = counted && both_verified(obj, 0);
    pthread_mutex_lock(&hub_events.lock);
    if (newly) {
        hub_events.synced[i] = 1;
        hub_events.n_synced++;
    }
    bool wake = (newly && hub_events.n_synced == nobjects) || (i >= 0 && i == hub_events.watched);
    if (wake) {
        hub_events.events++;
        pthread_cond_broadcast(&hub_events.cond);
    }
    pthread_mutex_unlock(&hub_events.lock);
}

static void on_hub_add(const json_t *obj, void *user)
{
    (void)user;
    hub_event(obj);
}

static void on_hub_update(const json_t *old_obj, const json_t *new_obj, void *user)
{
    (void)old_obj;
    (void)user;
    hub_event(new_obj);
}

/* Until every object has been seen with both clusters verified. */
static void wait_all_synced(void)
{
    pthread_mutex_lock(&hub_events.lock);
    while (hub_events.n_synced < nobjects)
        pthread_cond_wait(&hub_events.cond, &hub_events.lock);
    pthread_mutex_unlock(&hub_events.lock);
}

/* Until hub object cm-`index` is verified in both clusters at `rv` or
 * later: looked at once, then again after each of its hub events. */
static void wait_verified(syncer_t *s, long index, unsigned long long rv)
{
    char name[32];
    snprintf(name, sizeof(name), "cm-%ld", index);
    for (;;) {
        pthread_mutex_lock(&hub_events.lock);
        hub_events.watched = index;
        unsigned long long seen = hub_events.events;
        pthread_mutex_unlock(&hub_events.lock);
        if (verified_since(s, name, rv))
            return;
        pthread_mutex_lock(&hub_events.lock);
        while (hub_events.events == seen)
            pthread_cond_wait(&hub_events.cond, &hub_events.lock);
        pthread_mutex_unlock(&hub_events.lock);
    }
}

/* Each server's requests by verb and resource, per object synced. */
static void print_requests(const char *what, long per)
{
    const char *names[] = {"hub", "dc1", "dc2"};
    kr_testserver_t *servers[] = {hub.ts, dc[0].ts, dc[1].ts};
    printf("  %s:", what);
    for (int i = 0; i < 3; i++) {
        json_t *counts = kr_testserver_requests(servers[i]);
        const char *key;
        json_t *value;
        printf(" %s {", names[i]);
        bool first = true;
        json_object_foreach(counts, key, value)
        {
            double n = (double)json_integer_value(value);
            if (per > 1)
                printf("%s%s: %.2f", first ? "" : ", ", key, n / (double)per);
            else
                printf("%s%s: %.0f", first ? "" : ", ", key, n);
            first = false;
        }
        printf("}");
        json_decref(counts);
        kr_testserver_reset_requests(servers[i]);
    }
    printf("\n");
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Every copy of cm-0 .. cm-(n-1) in cluster `d`'s cache holds `prefix`N. */
static void wait_copies(syncer_t *s, int d, long n, const char *prefix)
{
    kr_store_t *store = kr_informer_store(s->clusters[d].copies[0]);
    for (long next = 0; next < n;) {
        char name[32], want[32];
        snprintf(name, sizeof(name), "cm-%ld", next);
        snprintf(want, sizeof(want), "%s%ld", prefix, next);
        json_t *copy = kr_store_get_by_name(store, NSNAME, name);
        const char *value =
            json_string_value(json_object_get(json_object_get(copy, "data"), "value"));
        bool ok = value && strcmp(value, want) == 0;
        json_decref(copy);
        if (ok)
            next++;
        else
            sleep_ms(2);
    }
}

/* Edit cm-0 .. cm-(n-1) in the hub (value `prefix`N), one request after the
 * other; returns the seconds until dc1's copies all hold the edit. */
static double burst(syncer_t *s, long n, const char *prefix)
{
    double t0 = bench_now_s();
    for (long i = 0; i < n; i++) {
        char name[32], value[32];
        snprintf(name, sizeof(name), "cm-%ld", i);
        snprintf(value, sizeof(value), "%s%ld", prefix, i);
        json_t *patch = json_pack("{s:{s:s}}", "data", "value", value);
        kr_error_t err = {0};
        if (kr_client_patch(hub.c, CM, NSNAME, name, NULL, KR_PATCH_MERGE, patch, NULL, NULL,
                            &err) != 0)
            die("burst", &err);
        json_decref(patch);
    }
    wait_copies(s, 0, n, prefix);
    return bench_now_s() - t0;
}

/* The servers' requests but watches, summed; watches apart. */
static void count_requests(long *others, long *watches)
{
    kr_testserver_t *servers[] = {hub.ts, dc[0].ts, dc[1].ts};
    *others = *watches = 0;
    for (int i = 0; i < 3; i++) {
        json_t *counts = kr_testserver_requests(servers[i]);
        const char *key;
        json_t *value;
        json_object_foreach(counts, key, value)
        {
            if (strncmp(key, "watch ", 6) == 0)
                *watches += (long)json_integer_value(value);
            else
                *others += (long)json_integer_value(value);
        }
        json_decref(counts);
    }
}

/* Context switches (voluntary and not) of every thread of the process. */
static double context_switches(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    nobjects = bench_env_long("KR_BENCH_SYNCER_OBJECTS", 10000);
    long edits = bench_env_long("KR_BENCH_SYNCER_EDITS", 100);
    kr_error_t err = {0};
    if (kr_runtime_new(NULL, &rt, &err) != 0 || kr_runtime_start(rt, &err) != 0)
        die("runtime", &err);
    server_up(&hub);
    for (int d = 0; d < N_DC; d++)
        server_up(&dc[d]);
    unsigned workers = (unsigned)bench_env_long("KR_BENCH_SYNCER_WORKERS", 2 * N_DC);

    double c0 = bench_cpu_s(), cs0 = context_switches();
    double bare = bare_creates(workers);
    double bare_cpu = bench_cpu_s() - c0, bare_cs = context_switches() - cs0;
    printf("bare creates: %ld ConfigMaps in each of 2 clusters by %u threads: %.2f s "
           "(%.0f creates/s), %.2f CPU s (servers included)\n",
           nobjects, workers, bare, (double)(nobjects * N_DC) / bare, bare_cpu);

    json_t **objs = calloc((size_t)nobjects, sizeof(json_t *));
    for (long i = 0; i < nobjects; i++)
        objs[i] = cm(NSNAME, i, "v0");
    if (kr_testserver_load_bulk(hub.ts, objs, (size_t)nobjects, &err) != 0)
        die("load", &err);
    for (long i = 0; i < nobjects; i++)
        json_decref(objs[i]);
    free(objs);

    const char *names[N_DC] = {"dc1", "dc2"};
    kr_client_t *clients[N_DC] = {dc[0].c, dc[1].c};
    kr_gvr res[1] = {CM};
    syncer_config cfg = {.hub_name = "hub",
                         .hub = hub.c,
                         .namespace_ = NSNAME,
                         .resources = res,
                         .n_resources = 1,
                         .cluster_names = names,
                         .cluster_clients = clients,
                         .n_clusters = N_DC,
                         .informer = make_informer};
    syncer_t *s = NULL;
    if (syncer_new(&cfg, &s, &err) != 0)
        die("syncer", &err);
    char name[64];
    kr_controller_opts co;
    syncer_controller_opts(s, 0, workers, name, sizeof(name), &co);
    kr_controller_t *ctl = NULL;
    if (kr_controller_new(&co, &ctl, &err) != 0 || syncer_watch(s, 0, ctl, &err) != 0)
        die("controller", &err);
    hub_events.synced = calloc((size_t)nobjects, 1);
    kr_informer_handler watcher = {.on_add = on_hub_add, .on_update = on_hub_update};
    if (!hub_events.synced ||
        kr_informer_add_handler(s->resources[0].hub, &watcher, NULL, &err) != 0)
        die("hub handler", &err);
    for (int d = 0; d < N_DC; d++)
        kr_testserver_reset_requests(dc[d].ts);
    double t0 = bench_now_s();
    c0 = bench_cpu_s();
    cs0 = context_switches();
    for (size_t i = 0; i < n_informers; i++)
        kr_informer_start(informers[i], NULL);
    kr_controller_start(ctl, NULL);
    wait_all_synced();
    double synced = bench_now_s() - t0;
    double synced_cpu = bench_cpu_s() - c0, synced_cs = context_switches() - cs0;
    printf("kr-syncer: %ld ConfigMaps synced to 2 clusters (created, observed, status "
           "written) by %u workers: %.2f s (%.0f copies/s); bare/syncer %.2f (target >= 0.7)\n",
           nobjects, workers, synced, (double)(nobjects * N_DC) / synced, bare / synced);
    /* On a shared machine the wall clock follows the CPU share the process
     * gets; the CPU seconds of both phases compare the work itself. */
    printf("  CPU: %.2f s (servers and the bench's hub handler included); bare/syncer %.2f\n",
           synced_cpu, bare_cpu / synced_cpu);
    printf("  context switches: %.1f per object synced, %.1f per bare create\n",
           synced_cs / (double)nobjects, bare_cs / (double)(nobjects * N_DC));
    printf("  requests: %llu hub writes, %llu cluster writes, %llu cluster requests\n",
           (unsigned long long)s->hub_writes, (unsigned long long)s->cluster_writes,
           (unsigned long long)s->cluster_requests);
    kr_controller_stats cs;
    kr_controller_get_stats(ctl, &cs, sizeof(cs));
    printf("  reconciles per object: %.2f (%.2f requeued after a delay, %.2f errors)\n",
           (double)cs.reconciles / (double)nobjects, (double)cs.requeues_after / (double)nobjects,
           (double)cs.errors / (double)nobjects);
    print_requests("requests per object, as the servers counted them", nobjects);

    /* One edit at a time: until both copies are verified in the status. */
    double *lat = calloc((size_t)edits, sizeof(double));
    for (long e = 0; e < edits; e++) {
        char value[32];
        snprintf(value, sizeof(value), "e%ld", e);
        json_t *patch = json_pack("{s:{s:s}}", "data", "value", value);
        char obj_name[32];
        snprintf(obj_name, sizeof(obj_name), "cm-%ld", (e * 7919) % nobjects);
        double e0 = bench_now_s();
        json_t *out = NULL;
        if (kr_client_patch(hub.c, CM, NSNAME, obj_name, NULL, KR_PATCH_MERGE, patch, NULL, &out,
                            &err) != 0)
            die("edit", &err);
        json_decref(patch);
        unsigned long long rv = strtoull(
            json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion")),
            NULL, 10);
        json_decref(out);
        wait_verified(s, (e * 7919) % nobjects, rv);
        lat[e] = bench_now_s() - e0;
    }
    qsort(lat, (size_t)edits, sizeof(double), cmp_double);
    if (edits > 0)
        printf("one hub edit to both clusters verified: p50 %.1f ms, p99 %.1f ms (%ld edits, one "
               "at a time, seen in the hub cache at each hub event)\n",
               lat[edits / 2] * 1e3, lat[(edits * 99) / 100] * 1e3, edits);
    free(lat);

    /* A burst of edits with both clusters up, then with dc2 down (it
     * answers 503 and its watches are cut): dc1's pace must not suffer. */
    long nburst = bench_env_long("KR_BENCH_SYNCER_BURST", 1000);
    if (nburst > nobjects)
        nburst = nobjects;
    double both_up = burst(s, nburst, "up");
    kr_testserver_faults down = {.fail_503 = 1.0};
    kr_testserver_set_faults(dc[1].ts, &down);
    kr_testserver_close_watches(dc[1].ts);
    double dc2_down = burst(s, nburst, "down");
    double t_back = bench_now_s();
    kr_testserver_faults up = {0};
    kr_testserver_set_faults(dc[1].ts, &up);
    wait_copies(s, 1, nburst, "down");
    double caught_up = bench_now_s() - t_back;
    printf("burst of %ld hub edits until dc1 holds them: %.2f s with both clusters up, %.2f s "
           "with dc2 down (503, watches cut); down/up %.2f (target <= 1.5); dc2 caught up "
           "%.2f s after it returned\n",
           nburst, both_up, dc2_down, dc2_down / both_up, caught_up);
    print_requests("requests in the bursts", 1);

    /* Steady state: every request the servers see but watches. */
    long steady_s = bench_env_long("KR_BENCH_SYNCER_STEADY_S", 10);
    sleep_ms(1000); /* the last status writes of the catch-up */
    for (int i = 0; i < 3; i++)
        kr_testserver_reset_requests(i ? dc[i - 1].ts : hub.ts);
    sleep_ms(steady_s * 1000);
    long others = 0, watches = 0;
    count_requests(&others, &watches);
    print_requests("requests in steady state", 1);
    printf("steady state: %.1f requests/min besides watches (target 0), %.1f watch "
           "requests/min (renewals), over %ld s, counted by the three servers\n",
           (double)others * 60.0 / (double)steady_s, (double)watches * 60.0 / (double)steady_s,
           steady_s);

    kr_controller_free(ctl);
    for (size_t i = 0; i < n_informers; i++)
        kr_informer_free(informers[i]);
    syncer_free(s);
    free(hub_events.synced);
    kr_client_free(hub.c);
    kr_testserver_free(hub.ts);
    for (int d = 0; d < N_DC; d++) {
        kr_client_free(dc[d].c);
        kr_testserver_free(dc[d].ts);
    }
    kr_runtime_free(rt);
    return 0;
}
