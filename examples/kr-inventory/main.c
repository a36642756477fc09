/* kr-inventory — the platform's inventory: a list+watch per resource on the hub and every
 * workload cluster (producers) feed one consumer that keeps a SQL database
 * (SQLite or PostgreSQL) of every object's current state and every
 * transaction, and the Workflow API and live page read only that database.
 * The leader writes; every replica serves the API.
 *
 *   kr-inventory --inventory URL [--resource GROUP/VERSION/RESOURCE[@NS]=Kind]...
 *                [--buffer N] [shared flags: --kubeconfig, --cluster, --leader-elect, --listen]
 *
 * Exit status 2 at start-up for bad flags, a wrong or unreachable database
 * URL, or a corrupted SQLite file (refused, never overwritten). */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kreconcile.h"
#include "resources.h"
#include "served.h"

typedef struct app {
    kr_manager_t *m;
    kr_inventory_t *inv;
    kr_log_sink_t *log; /* the manager's and the inventory's (it opens first) */
    kr_inventory_consumer_t *consumer;
    inv_resources resources;
    kr_inventory_api_opts api;
    /* One producer per (cluster, resource): the hub first. */
    kr_client_t **client_of;
    const char **cluster_of;
    const inv_resource **resource_of;
    size_t n_sources;
    /* While leading: the producers, created by the starter thread (each
     * reads its checkpoint from the database, which may be down). */
    pthread_mutex_t producers_lock; /* guards producers[] against scrapes */
    kr_inventory_producer_t **producers;
    pthread_t starter;
    bool starting;
    atomic_bool stopping; /* set by lead_stop, read by the starter */
    /* What each source's cluster serves, as its discovery says (every
     * replica asks, for /readyz). */
    inv_checks checks;
} app;

/* ---- metrics: the consumer's counters, refreshed at each scrape ------------ */

typedef struct consumer_metrics {
    app *a;
    kr_inventory_consumer_t *consumer;
    kr_metric_t *buffered, *capacity, *applied, *duplicates, *batches, *failures, *refused;
    kr_metric_t *paused, *lists, *watches;
    kr_inventory_consumer_stats last;
    uint64_t last_lists, last_watches;
} consumer_metrics;

static void collect_consumer(void *user)
{
    consumer_metrics *cm = user;
    /* The producers' counters: summed over the live ones; the totals only
     * grow (a new term's producers start from zero). */
    uint64_t lists = 0, watches = 0, paused = 0;
    pthread_mutex_lock(&cm->a->producers_lock);
    for (size_t i = 0; cm->a->producers && i < cm->a->n_sources; i++) {
        kr_inventory_producer_stats ps = {0};
        kr_inventory_producer_get_stats(cm->a->producers[i], &ps, sizeof(ps));
        lists += ps.lists;
        watches += ps.watches;
        paused += ps.paused;
    }
    pthread_mutex_unlock(&cm->a->producers_lock);
    kr_metrics_gauge_set(cm->paused, (double)paused);
    kr_metrics_counter_add(cm->lists,
                           lists > cm->last_lists ? (double)(lists - cm->last_lists) : 0);
    kr_metrics_counter_add(cm->watches,
                           watches > cm->last_watches ? (double)(watches - cm->last_watches) : 0);
    cm->last_lists = lists;
    cm->last_watches = watches;
    kr_inventory_consumer_stats st;
    kr_inventory_consumer_get_stats(cm->consumer, &st, sizeof(st));
    kr_metrics_gauge_set(cm->buffered, (double)st.buffered);
    kr_metrics_gauge_set(cm->capacity, (double)st.capacity);
    kr_metrics_counter_add(cm->applied, (double)(st.applied - cm->last.applied));
    kr_metrics_counter_add(cm->duplicates, (double)(st.duplicates - cm->last.duplicates));
    kr_metrics_counter_add(cm->batches, (double)(st.batches - cm->last.batches));
    kr_metrics_counter_add(cm->failures, (double)(st.failures - cm->last.failures));
    kr_metrics_counter_add(cm->refused, (double)(st.rejected_full - cm->last.rejected_full));
    cm->last = st;
}

static int register_metrics(kr_manager_t *m, consumer_metrics *cm, kr_error_t *err)
{
    static const struct {
        kr_metric_type type;
        const char *name, *help;
        size_t offset;
    } defs[] = {
        {KR_METRIC_GAUGE, "kr_inventory_buffered_events", "events waiting for the database",
         offsetof(consumer_metrics, buffered)},
        {KR_METRIC_GAUGE, "kr_inventory_buffer_capacity", "events the buffer holds (--buffer)",
         offsetof(consumer_metrics, capacity)},
        {KR_METRIC_COUNTER, "kr_inventory_events_applied_total",
         "events committed (duplicates and checkpoint-only events included)",
         offsetof(consumer_metrics, applied)},
        {KR_METRIC_COUNTER, "kr_inventory_events_duplicate_total", "events already held (no-ops)",
         offsetof(consumer_metrics, duplicates)},
        {KR_METRIC_COUNTER, "kr_inventory_batches_total", "committed database transactions",
         offsetof(consumer_metrics, batches)},
        {KR_METRIC_COUNTER, "kr_inventory_batch_failures_total", "failed batches (each retried)",
         offsetof(consumer_metrics, failures)},
        {KR_METRIC_COUNTER, "kr_inventory_buffer_full_total",
         "events refused because the buffer was full (backpressure)",
         offsetof(consumer_metrics, refused)},
        {KR_METRIC_GAUGE, "kr_inventory_paused_watches",
         "producers whose watch waits for room in the buffer", offsetof(consumer_metrics, paused)},
        {KR_METRIC_COUNTER, "kr_inventory_list_requests_total",
         "LIST requests of the producers (a resume from a checkpoint makes none)",
         offsetof(consumer_metrics, lists)},
        {KR_METRIC_COUNTER, "kr_inventory_watch_requests_total", "WATCH requests of the producers",
         offsetof(consumer_metrics, watches)},
    };
    kr_metrics_registry_t *reg = kr_manager_metrics(m);
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        kr_metric_family_t *fam = NULL;
        kr_metric_t **slot = (kr_metric_t **)((char *)cm + defs[i].offset);
        int rc = kr_metrics_family_register(reg, defs[i].type, defs[i].name, defs[i].help, NULL, 0,
                                            NULL, 0, &fam, err);
        if (rc == 0)
            rc = kr_metrics_series(fam, NULL, slot, err);
        if (rc != 0)
            return rc;
    }
    int id = kr_metrics_collector_add(reg, collect_consumer, cm);
    return id < 0 ? kr_error_set(err, id, "cannot add the inventory's metrics collector") : 0;
}

/* ---- the Workflow API on the manager's endpoint --------------------------- */

typedef struct collected {
    kr_inventory_api_param items[64];
    size_t n;
} collected;

static void collect(const char *name, const char *value, void *user)
{
    collected *c = user;
    if (c->n < 64) {
        c->items[c->n].name = name;
        c->items[c->n].value = value;
        c->n++;
    }
}

/* A stop's last resort for the API: a request still unanswered 5 s into
 * it may be a read stalled in the inventory (a PostgreSQL lock another
 * session holds, a server that stopped answering), and closing it waits
 * for its handler: the inventory is interrupted first, so that the read
 * fails at once (503) and the stop goes on. */
static void cut_inventory(void *user)
{
    app *a = user;
    kr_log(kr_manager_logger(a->m), KR_LOG_WARN, "inventory",
           "a request still unanswered may wait for the database: its call is cut short");
    kr_inventory_interrupt(a->inv);
}

static void serve_api(const kr_http_request_t *req, kr_http_response_t *resp, void *user)
{
    app *a = user;
    collected params = {.n = 0};
    kr_http_request_query_each(req, collect, &params);
    kr_inventory_api_response r;
    kr_inventory_api_handle(a->inv, &a->api, kr_http_request_method(req), kr_http_request_path(req),
                            params.items, params.n, &r);
    kr_http_respond(resp, r.status, r.content_type ? r.content_type : "text/plain",
                    r.body ? r.body : "", r.len);
    if (r.status == 405) /* RFC 9110: a 405 names the methods the path takes */
        kr_http_respond_header(resp, "Allow", "GET, HEAD");
    kr_inventory_api_response_free(&r);
}

static long sse_read(char *buf, size_t max, void *user)
{
    return kr_inventory_sse_read(user, buf, max, 1000);
}

static void sse_done(void *user)
{
    kr_inventory_sse_free(user);
}

static void serve_events(const kr_http_request_t *req, kr_http_response_t *resp, void *user)
{
    app *a = user;
    /* "after" once, and nothing else, as the other resources refuse what
     * they do not take */
    collected params = {.n = 0};
    kr_http_request_query_each(req, collect, &params);
    for (size_t i = 0; i < params.n; i++)
        if (strcmp(params.items[i].name, "after") != 0 || params.n > 1) {
            kr_http_respond_error(resp, 400, "/api/v1/events takes one query parameter, after");
            return;
        }
    /* A bad "after" is refused whatever Last-Event-ID says (the header,
     * sent by a reconnecting browser, wins over a good one). */
    const char *after = kr_http_request_query(req, "after");
    const char *last = kr_http_request_header(req, "Last-Event-ID");
    kr_inventory_sse_t *sse = NULL;
    kr_error_t err = {0};
    int rc = 0;
    if (after && *after && last && *last) {
        rc = kr_inventory_sse_new(a->inv, after, &sse, &err);
        kr_inventory_sse_free(sse);
        sse = NULL;
    }
    if (!last || !*last)
        last = after;
    if (rc == 0)
        rc = kr_inventory_sse_new(a->inv, last, &sse, &err);
    if (rc != 0) {
        kr_http_respond_error(resp, rc == KR_EINVAL ? 400 : 503, "%s", err.message);
        return;
    }
    /* refused (too many streams: a 503 says so): the stream is still ours */
    if (kr_http_respond_stream(resp, 200, "text/event-stream", sse_read, sse_done, sse) != 0)
        kr_inventory_sse_free(sse);
}

/* Ready while the database answers and the last batch written to it was
 * committed: a disk full, read-only or gone (a file deleted under
 * SQLite) fails the writes only, and the books are not kept meanwhile. */
static bool inventory_ready(char *why, size_t len, void *user)
{
    app *a = user;
    int64_t seq;
    kr_error_t err = {0};
    if (kr_inventory_last_seq(a->inv, &seq, &err) != 0) {
        snprintf(why, len, "%s", err.message);
        return false;
    }
    kr_inventory_consumer_stats st;
    kr_inventory_consumer_get_stats(a->consumer, &st, sizeof(st));
    if (st.last_error == 0)
        return true;
    snprintf(why, len, "the last batch was not written (%zu events wait): %s", st.buffered,
             st.last_error_message);
    return false;
}

/* ---- the leader's part: producers and the consumer ----------------------- */

/* How long a stop waits for the producers being started before it cuts
 * short a start stalled in the database. */
#define STARTER_WAIT_MS 5000

static void free_producers(app *a)
{
    for (size_t i = 0; a->producers && i < a->n_sources; i++) {
        pthread_mutex_lock(&a->producers_lock);
        kr_inventory_producer_t *p = a->producers[i];
        a->producers[i] = NULL;
        pthread_mutex_unlock(&a->producers_lock);
        kr_inventory_producer_free(p);
    }
}

/* Create a producer per (cluster, resource), each resuming from its
 * checkpoint; those that cannot start yet (the database down) are tried
 * again with backoff. A thread: the manager's start callback must return
 * at once. */
static void *start_all(void *arg)
{
    app *a = arg;
    size_t left = a->n_sources;
    unsigned wait_ms = 100;
    while (left && !atomic_load(&a->stopping)) {
        for (size_t i = 0; i < a->n_sources && !atomic_load(&a->stopping); i++) {
            if (a->producers[i])
                continue;
            /* never kept under a kind the cluster does not give its
             * objects (rows name kinds); nor started before its cluster
             * said which (the checker asks; a resource missing is waited
             * for by its producer, quietly) */
            inv_served state = inv_checks_state(&a->checks, i);
            if (state == INV_SERVED_OTHER_KIND || state == INV_SERVED_UNKNOWN)
                continue;
            kr_inventory_producer_opts po = KR_INVENTORY_PRODUCER_OPTS_INIT;
            po.consumer = a->consumer;
            po.client = a->client_of[i];
            po.gvr = a->resource_of[i]->gvr;
            po.namespace_ = a->resource_of[i]->namespace_;
            po.cluster = a->cluster_of[i];
            po.resource = a->resource_of[i]->key;
            po.api_version = a->resource_of[i]->api_version;
            po.kind = a->resource_of[i]->kind;
            po.inventory = a->inv;
            po.logger = *kr_manager_logger(a->m);
            kr_inventory_producer_t *p = NULL;
            kr_error_t err = {0};
            if (kr_inventory_producer_new(&po, &p, &err) != 0) {
                kr_log(kr_manager_logger(a->m), KR_LOG_WARN, "inventory",
                       "%s %s: cannot start, will retry: %s", a->cluster_of[i],
                       a->resource_of[i]->key, err.message);
                continue;
            }
            pthread_mutex_lock(&a->producers_lock);
            a->producers[i] = p;
            pthread_mutex_unlock(&a->producers_lock);
            left--;
        }
        for (unsigned w = 0; left && w < wait_ms / 50 && !atomic_load(&a->stopping); w++) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        wait_ms = wait_ms < 5000 ? wait_ms * 2 : 5000;
    }
    return NULL;
}

static void lead_stop(kr_manager_t *m, void *user)
{
    (void)m;
    app *a = user;
    atomic_store(&a->stopping, true);
    /* The starter sees `stopping` between producers, but a producer's
     * start reads the inventory (its checkpoint, its live rows): one
     * waiting on a stalled database (a PostgreSQL lock another session
     * holds, a server that stopped answering) is cut short 5 s into the
     * stop, as the consumer's last flush is, so that the stop goes on. */
    if (a->starting) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += STARTER_WAIT_MS / 1000;
        if (pthread_timedjoin_np(a->starter, NULL, &deadline) != 0) {
            kr_log(kr_manager_logger(a->m), KR_LOG_WARN, "inventory",
                   "a producer's start still waits for the database %d ms into the stop: its "
                   "call is cut short",
                   STARTER_WAIT_MS);
            kr_inventory_interrupt(a->inv);
            pthread_join(a->starter, NULL);
        }
    }
    a->starting = false;
    free_producers(a);
    /* What is buffered is kept for a moment; a new leader resumes from the
     * checkpoints, which never pass what was not committed. A write the
     * database still has not answered then (a PostgreSQL lock another
     * session holds, a server that stopped answering) is cut short, so
     * that the stop, which joins the writer, does not wait on it: this
     * stop is the program's last (a lost Lease ends it too). */
    kr_inventory_consumer_finish(a->consumer, 5000, NULL);
    kr_inventory_consumer_stop(a->consumer);
}

static int lead_start(kr_manager_t *m, void *user)
{
    app *a = user;
    kr_error_t err = {0};
    atomic_store(&a->stopping, false);
    int rc = kr_inventory_consumer_start(a->consumer, &err);
    if (rc == 0 && pthread_create(&a->starter, NULL, start_all, a) != 0)
        rc = kr_error_set(&err, KR_ENOMEM, "cannot start a thread");
    a->starting = rc == 0;
    if (rc != 0) {
        kr_log(kr_manager_logger(m), KR_LOG_ERROR, "inventory", "cannot start: %s", err.message);
        lead_stop(m, a);
    }
    return rc;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const char *url = "sqlite://inventory.db";
    kr_flag_strings resource_args = {0};
    long buffer = 10000;
    uint64_t wait_ms = KR_PLATFORM_INVENTORY_WAIT_MS;
    const kr_flag flags[] = {
        {.name = "inventory",
         .type = KR_FLAG_STRING,
         .value = &url,
         .metavar = "URL",
         .help = "the database: sqlite:///path/inventory.db or postgresql://user@host/db"},
        {.name = "resource",
         .type = KR_FLAG_STRINGS,
         .value = &resource_args,
         .metavar = "GROUP/VERSION/RESOURCE[@NS]=Kind",
         .help = "a resource to keep (repeatable; default: Jobs, Runnables, ConfigMaps, "
                 "Secrets); @NS: only namespace NS's (RBAC may then grant it there alone)",
         .split_commas = true},
        {.name = "buffer",
         .type = KR_FLAG_INT,
         .value = &buffer,
         .metavar = "N",
         .help = "events held while the database is slow or down; then the watches pause"},
        {.name = "inventory-wait",
         .type = KR_FLAG_DURATION,
         .value = &wait_ms,
         .metavar = "DURATION",
         .help = "how long to wait at start for a PostgreSQL inventory that is not up yet "
                 "(0: exit at once)"},
    };
    const kr_manager_program program = {
        .name = "kr-inventory",
        .version = KR_VERSION_STRING, /* released with the library */
        .summary = "keep every cluster's objects and every transaction in a SQL database, "
                   "serve the Workflow API and the live page",
        .usage = "[flags]",
        .flags = flags,
        .n_flags = sizeof(flags) / sizeof(flags[0]),
        .default_listen = "127.0.0.1:8080",
        /* who may read: none of them given, anyone who reaches the endpoint */
        .shared = KR_MANAGER_FLAGS_ALL | KR_MANAGER_FLAGS_AUTH,
        .no_args = true,
    };
    kr_manager_config cfg;
    kr_error_t err = {0};
    int rc = kr_manager_parse_args(&program, argc, argv, &cfg, &err);
    if (rc != 0) {
        int code = kr_manager_args_exit(&program, rc, &err, stdout, stderr);
        kr_manager_config_free(&cfg);
        kr_flag_strings_free(&resource_args);
        return code;
    }
    app a = {0};
    pthread_mutex_init(&a.producers_lock, NULL);
    int code = 2;
    if (buffer < 1 || buffer > 10000000) { /* each slot is an event's place: 10 M is GBs */
        fprintf(stderr, "kr-inventory: --buffer must be from 1 to 10000000\n");
        goto out;
    }
    if (inv_resources_parse(resource_args.items, resource_args.n, &a.resources, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    /* The database first (a wrong URL is said before anything else); one
     * that is not up yet is waited for (--inventory-wait), saying so in
     * the log's format: it may be restarting as we start. */
    kr_manager_opts mo = KR_MANAGER_OPTS_INIT;
    mo.program = &program;
    mo.config = &cfg;
    if (kr_manager_config_log_sink(&cfg, stderr, &a.log, &mo.logger, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    io.logger = mo.logger;
    io.connect_wait_ms = wait_ms;
    if (kr_inventory_new(&io, &a.inv, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    if (kr_manager_new(&mo, &a.m, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    kr_inventory_consumer_opts co = KR_INVENTORY_CONSUMER_OPTS_INIT;
    co.capacity = (size_t)buffer;
    co.logger = *kr_manager_logger(a.m);
    if (kr_inventory_consumer_new(a.inv, &co, &a.consumer, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    /* Informers on the hub and on every workload cluster. */
    size_t n_clusters = kr_manager_cluster_count(a.m) + (kr_manager_hub(a.m) ? 1 : 0);
    size_t n = n_clusters * a.resources.n;
    /* Arrays of pointers. */
    a.client_of = calloc(n, sizeof(void *));
    a.cluster_of = calloc(n, sizeof(void *));
    a.resource_of = calloc(n, sizeof(void *));
    a.producers = calloc(n, sizeof(void *));
    if (!a.client_of || !a.cluster_of || !a.resource_of || !a.producers) {
        fprintf(stderr, "kr-inventory: out of memory\n");
        goto out;
    }
    for (size_t c = 0; c < n_clusters; c++) {
        bool hub = kr_manager_hub(a.m) && c == 0;
        size_t wi = hub ? 0 : c - (kr_manager_hub(a.m) ? 1 : 0);
        kr_client_t *client = hub ? kr_manager_hub(a.m) : kr_manager_cluster_client(a.m, wi);
        const char *name = hub ? kr_manager_hub_name(a.m) : kr_manager_cluster_name(a.m, wi);
        for (size_t r = 0; r < a.resources.n; r++) {
            size_t i = a.n_sources++;
            a.client_of[i] = client;
            a.cluster_of[i] = name;
            a.resource_of[i] = &a.resources.items[r];
        }
    }
    a.checks.client_of = a.client_of;
    a.checks.cluster_of = a.cluster_of;
    a.checks.resource_of = a.resource_of;
    a.checks.n_sources = a.n_sources;
    a.checks.resources = &a.resources;
    a.checks.logger = kr_manager_logger(a.m);
    if (inv_checks_init(&a.checks) != 0) {
        fprintf(stderr, "kr-inventory: out of memory\n");
        goto out;
    }
    consumer_metrics cm = {.a = &a, .consumer = a.consumer};
    if (register_metrics(a.m, &cm, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    a.api.kinds = a.resources.kinds;
    a.api.n_kinds = a.resources.n;
    if (kr_manager_add_runnable(a.m, inv_checks_start, inv_checks_stop, &a.checks, false, &err) !=
            0 ||
        kr_manager_add_runnable(a.m, lead_start, lead_stop, &a, true, &err) != 0 ||
        /* With --token-auth-file or --token-review, only known callers
         * read the API (401, or 503 when the hub cannot be asked), and with
         * --authorization-review only those the hub's RBAC lets get the
         * path (403), judged before anything else; the page itself holds no data and asks
         * for a token when the API answers 401. */
        kr_manager_add_guarded_route(a.m, "GET", "/api/v1/events", kr_manager_access_guard, a.m,
                                     serve_events, &a, &err) != 0 ||
        kr_manager_add_guarded_route(a.m, NULL, "/api/v1/*", kr_manager_access_guard, a.m,
                                     serve_api, &a, &err) != 0 ||
        kr_manager_add_route(a.m, NULL, "/", serve_api, &a, &err) != 0 ||
        kr_manager_add_ready_check(a.m, "inventory", inventory_ready, &a, &err) != 0 ||
        kr_manager_on_stop_cut(a.m, cut_inventory, &a, &err) != 0 ||
        kr_manager_add_ready_check(a.m, "resources", inv_checks_ready, &a.checks, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    code = kr_manager_run(a.m);
out:
    inv_checks_stop(a.m, &a.checks); /* a no-op when the manager stopped it */
    /* Producers before the clients (the manager's) and the consumer. */
    free_producers(&a);
    kr_manager_free(a.m);
    kr_inventory_consumer_free(a.consumer);
    kr_inventory_free(a.inv);
    kr_log_sink_free(a.log);
    inv_resources_free(&a.resources);
    free(a.client_of);
    free(a.cluster_of);
    free(a.resource_of);
    free(a.producers);
    inv_checks_destroy(&a.checks);
    kr_manager_config_free(&cfg);
    kr_flag_strings_free(&resource_args);
    return code;
}
