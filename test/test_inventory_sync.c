/* Convergence of the inventory with its clusters: producers (client mode,
 * resuming from their checkpoints) on three in-process apiservers feed one
 * consumer (writer thread, a small buffer: watches pause) while seeded
 * schedules write, delete and inject faults (5xx bursts, watches cut,
 * history compacted, a producer stopped and restarted while objects are
 * deleted, the PostgreSQL server restarted). Once quiet, the inventory's live rows
 * equal a fresh list of every cluster, each object's last transaction has its current
 * resourceVersion, and replaying never doubled a transaction. On SQLite and PostgreSQL.
 * KR_INVENTORY_SCHEDULES (default 20 per backend) and KR_TEST_SEED replay. KR_TEST_THREADED. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_cluster.h"
#include "kr_test_inventory.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "pgserver.h"

#define CM KR_GVR("", "v1", "configmaps")
#define N_CLUSTERS 3
#define WAIT_MS 60000

static kr_pgserver *pg; /* the postgresql case's own server (it restarts it) */
static bool use_pg;
static int db_restarts;
static char tmpdir[256];

typedef struct cluster {
    char name[16];
    kr_test_cluster tc;
    kr_inventory_producer_t *prod;
} cluster;

static kr_runtime_t *rt;

static void cluster_up(cluster *cl, int i, unsigned long long seed)
{
    memset(cl, 0, sizeof(*cl));
    snprintf(cl->name, sizeof(cl->name), "c%d", i);
    kr_test_cluster_up(&cl->tc, rt, seed + (unsigned long long)i);
}

/* A producer resuming from the inventory's checkpoint (a WATCH from it;
 * a relist when it expired). */
static void producer_up(cluster *cl, kr_inventory_t *inv, kr_inventory_consumer_t *cons)
{
    kr_inventory_producer_opts po = KR_INVENTORY_PRODUCER_OPTS_INIT;
    po.consumer = cons;
    po.client = cl->tc.c;
    po.gvr = CM;
    po.cluster = cl->name;
    po.resource = "v1/configmaps";
    po.api_version = "v1";
    po.kind = "ConfigMap";
    po.inventory = inv;
    po.page_size = 7;
    po.backoff_initial_ms = 5;
    po.backoff_max_ms = 50;
    po.progress_deadline_ms = 3000;
    kr_error_t err = {0};
    int rc = KR_EUNAVAILABLE;
    for (int attempt = 0; attempt < 20 && rc == KR_EUNAVAILABLE; attempt++)
        rc = kr_inventory_producer_new(&po, &cl->prod, &err);
    ck_assert_msg(rc == 0, "%s", err.message);
}

static void producer_down(cluster *cl)
{
    kr_inventory_producer_free(cl->prod);
    cl->prod = NULL;
}

/* Until the producer observed `rv` (it may be paused meanwhile: the
 * writer thread makes room). */
static void wait_observed(cluster *cl, const char *rv, unsigned long long seed)
{
    char *seen = NULL;
    for (int i = 0; i < WAIT_MS / 5; i++) {
        kr_free(seen);
        seen = kr_inventory_producer_resource_version(cl->prod);
        if (seen && kr_resource_version_compare(seen, rv) >= 0)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ck_assert_msg(seen && kr_resource_version_compare(seen, rv) >= 0,
                  "seed %llu: %s observed %s, the server is at %s", seed, cl->name,
                  seen ? seen : "nothing", rv);
    kr_free(seen);
}

static bool write_cm(cluster *cl, const char *name, int value, bool update)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", value);
    json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1",
                            "kind", "ConfigMap", "metadata", "name", name, "namespace", "default",
                            "labels", "app", value % 2 ? "odd" : "even", "data", "v", v);
    int rc = update ? kr_client_update(cl->tc.c, CM, "default", obj, NULL, NULL, NULL)
                    : kr_client_create(cl->tc.c, CM, "default", obj, NULL, NULL, NULL);
    json_decref(obj);
    return rc == 0;
}

/* key "namespace/name" → resourceVersion */
static json_t *truth_of(cluster *cl)
{
    json_t *list = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_client_list_all(cl->tc.c, CM, NULL, NULL, &list, &err) == 0, "%s",
                  err.message);
    json_t *m = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(list, "items"), i, o)
    {
        json_t *meta = json_object_get(o, "metadata");
        char key[300];
        snprintf(key, sizeof(key), "%s/%s", json_string_value(json_object_get(meta, "namespace")),
                 json_string_value(json_object_get(meta, "name")));
        json_object_set(m, key, json_object_get(meta, "resourceVersion"));
    }
    json_decref(list);
    return m;
}

static json_t *inventory_of(kr_inventory_t *inv, const char *cluster_name)
{
    json_t *m = json_object();
    char *token = NULL;
    do {
        kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
        q.cluster = cluster_name;
        q.kind = "ConfigMap";
        q.limit = 1000;
        q.continue_token = token;
        json_t *items = NULL;
        char *next = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_inventory_query(inv, &q, &items, &next, &err) == 0, "%s", err.message);
        kr_free(token);
        token = next;
        size_t i;
        json_t *row;
        json_array_foreach(items, i, row)
        {
            char key[300];
            snprintf(key, sizeof(key), "%s/%s",
                     json_string_value(json_object_get(row, "namespace")),
                     json_string_value(json_object_get(row, "name")));
            json_object_set(m, key, json_object_get(row, "resourceVersion"));
        }
        json_decref(items);
    } while (token);
    return m;
}

static void run_schedule(unsigned long long seed, long index)
{
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    char url[512];
    if (use_pg && !pg) {
        char why[512];
        if (kr_pgserver_start(&pg, why, sizeof(why)) != 0)
            ck_abort_msg("cannot start PostgreSQL: %s", why);
    }
    if (use_pg)
        ck_assert_int_eq(kr_pgserver_create_db(pg, url, sizeof(url)), 0);
    else
        snprintf(url, sizeof(url), "sqlite://%s/sync-%d-%ld.db", tmpdir, (int)getpid(), index);
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&io, &inv, &err) == 0, "%s", err.message);
    kr_inventory_consumer_opts co = KR_INVENTORY_CONSUMER_OPTS_INIT;
    co.capacity = 16 + kr_test_rng_below(&rng, 64); /* small: backpressure happens */
    co.max_batch = 1 + kr_test_rng_below(&rng, 100);
    co.retry_base_ms = 5;
    co.retry_max_ms = 50;
    kr_inventory_consumer_t *cons = NULL;
    ck_assert_int_eq(kr_inventory_consumer_new(inv, &co, &cons, NULL), 0);
    ck_assert_int_eq(kr_inventory_consumer_start(cons, NULL), 0);
    cluster cl[N_CLUSTERS];
    for (int i = 0; i < N_CLUSTERS; i++)
        cluster_up(&cl[i], i, seed * 7 + 1);
    /* Some objects before anyone watches. */
    bool exists[N_CLUSTERS][10] = {{0}};
    for (int i = 0; i < N_CLUSTERS; i++)
        for (int k = 0; k < 3; k++) {
            char name[8];
            snprintf(name, sizeof(name), "k%d", k);
            exists[i][k] = write_cm(&cl[i], name, k, false);
        }
    for (int i = 0; i < N_CLUSTERS; i++)
        producer_up(&cl[i], inv, cons);
    int ops = 60 + (int)kr_test_rng_below(&rng, 60);
    for (int op = 0; op < ops; op++) {
        cluster *c = &cl[kr_test_rng_below(&rng, N_CLUSTERS)];
        int ci = (int)(c - cl);
        unsigned long what = kr_test_rng_below(&rng, 100);
        int k = (int)kr_test_rng_below(&rng, 10);
        char name[8];
        snprintf(name, sizeof(name), "k%d", k);
        if (what < 55) {
            bool ok = write_cm(c, name, op, exists[ci][k]);
            if (!ok)
                ok = write_cm(c, name, op, !exists[ci][k]);
            exists[ci][k] = exists[ci][k] || ok;
        } else if (what < 75) {
            if (kr_client_delete(c->tc.c, CM, "default", name, NULL, NULL, NULL) == 0)
                exists[ci][k] = false;
        } else if (what < 83) {
            kr_testserver_faults f = {0};
            f.fail_500 = (double)kr_test_rng_below(&rng, 15) / 100.0;
            f.fail_503 = (double)kr_test_rng_below(&rng, 15) / 100.0;
            f.watch_max_events = (unsigned)kr_test_rng_below(&rng, 4);
            f.watch_cut_mid_event = kr_test_rng_below(&rng, 2) == 0;
            kr_testserver_set_faults(c->tc.ts, &f);
        } else if (what < 88) {
            kr_testserver_compact(c->tc.ts);
        } else if (what < 91) {
            kr_testserver_close_watches(c->tc.ts);
        } else if (what < 93 && use_pg) {
            /* The database restarts: batches fail and wait in the buffer
             * (the informers pause when it fills), then go through. */
            kr_inventory_consumer_stats st;
            kr_inventory_consumer_get_stats(cons, &st, sizeof(st));
            uint64_t failures = st.failures;
            ck_assert_int_eq(kr_pgserver_stop(pg), 0);
            for (int w = 0; w < 6000 && st.failures == failures && st.buffered; w++) {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
                kr_inventory_consumer_get_stats(cons, &st, sizeof(st));
            }
            ck_assert_int_eq(kr_pgserver_restart(pg), 0);
            db_restarts++;
        } else if (c->prod) {
            /* The producer of this cluster goes away (a kill) for a few
             * operations on its cluster, deletes included. */
            producer_down(c);
            kr_testserver_faults none = {0};
            kr_testserver_set_faults(c->tc.ts, &none);
            for (int d = 0; d < 3; d++) {
                char victim[8];
                int v = (int)kr_test_rng_below(&rng, 10);
                snprintf(victim, sizeof(victim), "k%d", v);
                if (kr_client_delete(c->tc.c, CM, "default", victim, NULL, NULL, NULL) == 0)
                    exists[ci][v] = false;
            }
            exists[ci][k] = write_cm(c, name, op, exists[ci][k]) || exists[ci][k];
            producer_up(c, inv, cons);
        }
    }
    kr_testserver_faults none = {0};
    for (int i = 0; i < N_CLUSTERS; i++) {
        kr_testserver_set_faults(cl[i].tc.ts, &none);
        char server_rv[32];
        snprintf(server_rv, sizeof(server_rv), "%llu", kr_testserver_resource_version(cl[i].tc.ts));
        wait_observed(&cl[i], server_rv, seed);
    }
    ck_assert_msg(kr_inventory_consumer_flush(cons, WAIT_MS, &err) == 0, "seed %llu: %s", seed,
                  err.message);
    for (int i = 0; i < N_CLUSTERS; i++) {
        json_t *truth = truth_of(&cl[i]);
        json_t *held = inventory_of(inv, cl[i].name);
        char *t = json_dumps(truth, JSON_SORT_KEYS | JSON_COMPACT);
        char *h = json_dumps(held, JSON_SORT_KEYS | JSON_COMPACT);
        ck_assert_msg(json_equal(truth, held),
                      "seed %llu (schedule %ld) cluster %s: inventory %s != LIST %s", seed, index,
                      cl[i].name, h, t);
        free(t);
        free(h);
        json_decref(truth);
        json_decref(held);
    }
    /* Every transaction once: replaying the same events added none. */
    char *doubled = kr_test_inventory_doubled(inv);
    ck_assert_msg(!doubled, "seed %llu: transaction %s twice", seed, doubled);
    for (int c = 0; c < N_CLUSTERS; c++)
        producer_down(&cl[c]);
    kr_inventory_consumer_free(cons);
    for (int c = 0; c < N_CLUSTERS; c++)
        kr_test_cluster_down(&cl[c].tc);
    kr_inventory_free(inv);
}

START_TEST(inventory_converges_with_its_clusters_under_faults)
{
    rt = kr_test_runtime_up();
    unsigned long long base = kr_test_seed("inventory_converges_with_its_clusters_under_faults");
    const char *env = getenv("KR_INVENTORY_SCHEDULES");
    long n = env && *env ? atol(env) : 20;
    for (long s = 0; s < n; s++)
        run_schedule(base + (unsigned long long)s, s);
    if (use_pg)
        printf("inventory_sync: the database restarted %d times\n", db_restarts);
    kr_pgserver_free(pg);
    pg = NULL;
    kr_runtime_free(rt);
    rt = NULL;
}
END_TEST

static void sqlite_case(void)
{
    use_pg = false;
}

static void pg_case(void)
{
    use_pg = true;
}

int main(void)
{
    if (!kr_test_tmpdir_make(tmpdir, sizeof(tmpdir), "kr-inv-sync"))
        return EXIT_FAILURE;
    Suite *s = suite_create("inventory_sync");
    TCase *lite = tcase_create("sqlite");
    tcase_set_timeout(lite, 600);
    tcase_add_unchecked_fixture(lite, sqlite_case, NULL);
    tcase_add_test(lite, inventory_converges_with_its_clusters_under_faults);
    suite_add_tcase(s, lite);
    char why[512];
    kr_pgserver *probe = NULL;
    if (kr_pgserver_start(&probe, why, sizeof(why)) == 0) {
        kr_pgserver_free(probe);
        TCase *pgc = tcase_create("postgresql");
        tcase_set_timeout(pgc, 600);
        tcase_add_unchecked_fixture(pgc, pg_case, NULL);
        tcase_add_test(pgc, inventory_converges_with_its_clusters_under_faults);
        suite_add_tcase(s, pgc);
    } else if (kr_pgserver_required()) {
        fprintf(stderr, "test_inventory_sync: PostgreSQL cannot start (%s); CI=true\n", why);
        return EXIT_FAILURE;
    } else {
        kr_test_skip("test_inventory_sync postgresql case", "PostgreSQL cannot start (%s)", why);
    }
    int rc = kr_test_run_suite(s);
    kr_test_tmpdir_remove(tmpdir);
    return rc;
}
