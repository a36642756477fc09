/* kr-inventory — the platform's inventory: informers on the hub and every
 * workload cluster (producers) feed one consumer that keeps a SQL database
 * (SQLite or PostgreSQL) of every object's current state and every
 * transaction, and the Workflow API and live page read only that database.
 * The leader writes; every replica serves the API.
 *
 *   kr-inventory --inventory URL [--resource GROUP/VERSION/RESOURCE=Kind]...
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

#include "kreconcile.h"
#include "resources.h"

typedef struct app {
    kr_manager_t *m;
    kr_inventory_t *inv;
    kr_inventory_consumer_t *consumer;
    inv_resources resources;
    kr_inventory_api_opts api;
    /* One informer per (cluster, resource): the hub first. */
    kr_informer_t **informers;
    const char **cluster_of;
    const inv_resource **resource_of;
    size_t n_informers;
    /* While leading: */
    kr_inventory_producer_t **producers;
    pthread_t reconciler;
    bool reconciling;
    atomic_bool stopping; /* set by lead_stop, read by the reconciler */
} app;

/* ---- metrics: the consumer's counters, refreshed at each scrape ------------ */

typedef struct consumer_metrics {
    kr_inventory_consumer_t *consumer;
    kr_metric_t *buffered, *capacity, *applied, *duplicates, *batches, *failures, *refused;
    kr_inventory_consumer_stats last;
} consumer_metrics;

static void collect_consumer(void *user)
{
    consumer_metrics *cm = user;
    kr_inventory_consumer_stats st;
    kr_inventory_consumer_get_stats(cm->consumer, &st);
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
         "events committed (duplicates included)", offsetof(consumer_metrics, applied)},
        {KR_METRIC_COUNTER, "kr_inventory_events_duplicate_total", "events already held (no-ops)",
         offsetof(consumer_metrics, duplicates)},
        {KR_METRIC_COUNTER, "kr_inventory_batches_total", "committed database transactions",
         offsetof(consumer_metrics, batches)},
        {KR_METRIC_COUNTER, "kr_inventory_batch_failures_total", "failed batches (each retried)",
         offsetof(consumer_metrics, failures)},
        {KR_METRIC_COUNTER, "kr_inventory_buffer_full_total",
         "events refused because the buffer was full (backpressure)",
         offsetof(consumer_metrics, refused)},
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
    const char *last = kr_http_request_header(req, "Last-Event-ID");
    if (!last || !*last)
        last = kr_http_request_query(req, "after");
    kr_inventory_sse_t *sse = NULL;
    kr_error_t err = {0};
    int rc = kr_inventory_sse_new(a->inv, last, &sse, &err);
    if (rc != 0) {
        kr_http_respond_error(resp, rc == KR_EINVAL ? 400 : 503, "%s", err.message);
        return;
    }
    kr_http_respond_header(resp, "Cache-Control", "no-cache");
    kr_http_respond_stream(resp, 200, "text/event-stream", sse_read, sse_done, sse);
}

static bool inventory_ready(char *why, size_t len, void *user)
{
    app *a = user;
    int64_t seq;
    kr_error_t err = {0};
    if (kr_inventory_last_seq(a->inv, &seq, &err) == 0)
        return true;
    snprintf(why, len, "%s", err.message);
    return false;
}

/* ---- the leader's part: producers, consumer, reconciliation ------------- */

/* After each informer synced, record what was deleted while nobody
 * watched; informers that cannot sync yet (a cluster down, a resource not
 * served) are visited again. A thread: the manager's start callback must
 * return at once. */
static void *reconcile_all(void *arg)
{
    app *a = arg;
    bool *done = calloc(a->n_informers ? a->n_informers : 1, sizeof(*done));
    size_t left = a->n_informers;
    while (done && left && !atomic_load(&a->stopping)) {
        for (size_t i = 0; i < a->n_informers && !atomic_load(&a->stopping); i++) {
            if (done[i] || kr_informer_wait_for_sync(a->informers[i], 200, NULL) != 0)
                continue;
            kr_error_t err = {0};
            size_t gone = 0;
            if (kr_inventory_consumer_flush(a->consumer, 60000, &err) != 0 ||
                kr_inventory_producer_reconcile(a->producers[i], a->inv, &gone, &err) != 0) {
                kr_log(kr_manager_logger(a->m), KR_LOG_WARN, "inventory",
                       "%s %s: reconciliation failed, will retry: %s", a->cluster_of[i],
                       a->resource_of[i]->key, err.message);
                continue;
            }
            if (gone)
                kr_log(kr_manager_logger(a->m), KR_LOG_INFO, "inventory",
                       "%s %s: %zu objects were deleted while nobody watched", a->cluster_of[i],
                       a->resource_of[i]->key, gone);
            done[i] = true;
            left--;
        }
    }
    free(done);
    return NULL;
}

static void lead_stop(kr_manager_t *m, void *user)
{
    (void)m;
    app *a = user;
    atomic_store(&a->stopping, true);
    if (a->reconciling)
        pthread_join(a->reconciler, NULL);
    a->reconciling = false;
    for (size_t i = 0; a->producers && i < a->n_informers; i++) {
        kr_inventory_producer_free(a->producers[i]);
        a->producers[i] = NULL;
    }
    /* What is buffered is kept for a moment; a new leader replays the rest
     * from its own informers (re-applying is a no-op). */
    kr_inventory_consumer_flush(a->consumer, 5000, NULL);
    kr_inventory_consumer_stop(a->consumer);
}

static int lead_start(kr_manager_t *m, void *user)
{
    app *a = user;
    kr_error_t err = {0};
    atomic_store(&a->stopping, false);
    int rc = kr_inventory_consumer_start(a->consumer, &err);
    for (size_t i = 0; rc == 0 && i < a->n_informers; i++) {
        kr_inventory_producer_opts po = KR_INVENTORY_PRODUCER_OPTS_INIT;
        po.consumer = a->consumer;
        po.informer = a->informers[i];
        po.cluster = a->cluster_of[i];
        po.resource = a->resource_of[i]->key;
        po.api_version = a->resource_of[i]->api_version;
        po.kind = a->resource_of[i]->kind;
        po.logger = *kr_manager_logger(m);
        rc = kr_inventory_producer_new(&po, &a->producers[i], &err);
    }
    if (rc == 0 && pthread_create(&a->reconciler, NULL, reconcile_all, a) == 0)
        a->reconciling = true;
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
    const kr_flag flags[] = {
        {"inventory", 0, KR_FLAG_STRING, &url, "URL",
         "the database: sqlite:///path/inventory.db or postgresql://user@host/db", false},
        {"resource", 0, KR_FLAG_STRINGS, &resource_args, "GROUP/VERSION/RESOURCE=Kind",
         "a resource to keep (repeatable; default: Jobs, Runnables, ConfigMaps, Secrets)", true},
        {"buffer", 0, KR_FLAG_INT, &buffer, "N",
         "events held while the database is slow or down; then the watches pause", false},
    };
    const kr_manager_program program = {
        .name = "kr-inventory",
        .summary = "keep every cluster's objects and every transaction in a SQL database, "
                   "serve the Workflow API and the live page",
        .usage = "[flags]",
        .flags = flags,
        .n_flags = sizeof(flags) / sizeof(flags[0]),
        .default_listen = "127.0.0.1:8080",
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
    int code = 2;
    if (buffer < 1) {
        fprintf(stderr, "kr-inventory: --buffer must be at least 1\n");
        goto out;
    }
    if (inv_resources_parse(resource_args.items, resource_args.n, &a.resources, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    if (kr_inventory_new(&io, &a.inv, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    kr_manager_opts mo = KR_MANAGER_OPTS_INIT;
    mo.program = &program;
    mo.config = &cfg;
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
    a.informers = calloc(n, sizeof(void *));
    a.cluster_of = calloc(n, sizeof(void *));
    a.resource_of = calloc(n, sizeof(void *));
    a.producers = calloc(n, sizeof(void *));
    if (!a.informers || !a.cluster_of || !a.resource_of || !a.producers) {
        fprintf(stderr, "kr-inventory: out of memory\n");
        goto out;
    }
    for (size_t c = 0; c < n_clusters; c++) {
        bool hub = kr_manager_hub(a.m) && c == 0;
        size_t wi = hub ? 0 : c - (kr_manager_hub(a.m) ? 1 : 0);
        kr_client_t *client = hub ? kr_manager_hub(a.m) : kr_manager_cluster_client(a.m, wi);
        const char *name = hub ? kr_manager_hub_name(a.m) : kr_manager_cluster_name(a.m, wi);
        for (size_t r = 0; r < a.resources.n; r++) {
            size_t i = a.n_informers;
            if (kr_manager_informer(a.m, client, a.resources.items[r].gvr, NULL, NULL,
                                    &a.informers[i], &err) != 0) {
                fprintf(stderr, "kr-inventory: %s %s: %s\n", name, a.resources.items[r].key,
                        err.message);
                goto out;
            }
            a.cluster_of[i] = name;
            a.resource_of[i] = &a.resources.items[r];
            a.n_informers++;
        }
    }
    consumer_metrics cm = {.consumer = a.consumer};
    if (register_metrics(a.m, &cm, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    a.api.kinds = a.resources.kinds;
    a.api.n_kinds = a.resources.n;
    if (kr_manager_add_runnable(a.m, lead_start, lead_stop, &a, true, &err) != 0 ||
        kr_manager_add_route(a.m, "GET", "/api/v1/events", serve_events, &a, &err) != 0 ||
        kr_manager_add_route(a.m, NULL, "/api/v1/*", serve_api, &a, &err) != 0 ||
        kr_manager_add_route(a.m, NULL, "/", serve_api, &a, &err) != 0 ||
        kr_manager_add_ready_check(a.m, "inventory", inventory_ready, &a, &err) != 0) {
        fprintf(stderr, "kr-inventory: %s\n", err.message);
        goto out;
    }
    code = kr_manager_run(a.m);
out:
    /* Producers before the informers (the manager's) and the consumer. */
    for (size_t i = 0; a.producers && i < a.n_informers; i++)
        kr_inventory_producer_free(a.producers[i]);
    kr_manager_free(a.m);
    kr_inventory_consumer_free(a.consumer);
    kr_inventory_free(a.inv);
    inv_resources_free(&a.resources);
    free(a.informers);
    free(a.cluster_of);
    free(a.resource_of);
    free(a.producers);
    kr_manager_config_free(&cfg);
    kr_flag_strings_free(&resource_args);
    return code;
}
