/* Tests of the kr-syncer program (build/bin/kr-syncer) against a hub and
 * two workload test servers, each found through its kubeconfig: copies
 * made, repaired after edits and deletes in a workload cluster, removed on
 * a placement change and on a hub delete; a datacenter answering 503 holds
 * a hub delete until it returns; two replicas with leader election survive
 * the leader's kill -9; SIGTERM ends it with status 0, while its PostgreSQL
 * inventory stalls too; in steady state (with a resync) it sends no
 * request but watches.
 * KR_TEST_THREADED: server threads, the runtime's loop thread. */
#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_cluster.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "pgserver.h"
#include "ts_client.h"

#define NSNAME "apps"
#define CM KR_GVR("", "v1", "configmaps")
#define WIDGET KR_GVR("example.com", "v1", "widgets")
#define WAIT_S 60

static const char *crd =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
    "\"kind\":\"Widget\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
    "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":"
    "true}}}]}}";

typedef struct server {
    kr_test_cluster cl;
    char kubeconfig[256];
} server;

typedef struct world {
    char dir[64];
    kr_runtime_t *rt;
    server hub, dc[2];
    /* --inventory and --inventory-spool given to the replicas: NULL, a
     * SQLite file per replica in dir and no spool */
    const char *inventory, *spool;
} world;

static void server_up(world *w, server *s, const char *name)
{
    kr_test_cluster_up(&s->cl, w->rt, 5);
    const char *ns =
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" NSNAME "\"}}";
    ck_assert_int_eq(kr_testserver_load(s->cl.ts, ns, strlen(ns), NULL), 0);
    ck_assert_int_eq(kr_testserver_load(s->cl.ts, crd, strlen(crd), NULL), 0);
    snprintf(s->kubeconfig, sizeof(s->kubeconfig), "%s/%s.kubeconfig", w->dir, name);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(s->cl.ts, s->kubeconfig, NSNAME, NULL), 0);
}

static void world_up(world *w)
{
    memset(w, 0, sizeof(*w));
    ck_assert(kr_test_tmpdir_make(w->dir, sizeof(w->dir), "kr-syncer"));
    w->rt = kr_test_runtime_up();
    server_up(w, &w->hub, "hub");
    server_up(w, &w->dc[0], "dc1");
    server_up(w, &w->dc[1], "dc2");
}

static void world_down(world *w)
{
    server *all[] = {&w->hub, &w->dc[0], &w->dc[1]};
    for (int i = 0; i < 3; i++) {
        kr_test_cluster_down(&all[i]->cl);
        unlink(all[i]->kubeconfig);
    }
    kr_runtime_free(w->rt);
    char log[128];
    for (int i = 0; i < 2; i++) {
        snprintf(log, sizeof(log), "%s/syncer-%d.log", w->dir, i);
        unlink(log);
    }
    const char *db[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 6; i++) {
        snprintf(log, sizeof(log), "%s/inventory-%d.db%s", w->dir, i / 3, db[i % 3]);
        unlink(log);
    }
    rmdir(w->dir);
}

/* Start a replica; its output goes to DIR/syncer-N.log. `resync`: the
 * --resync flag's value (NULL: the default). */
/* `timeout`: --request-timeout, NULL for the program's default. */
static void start_syncer_with(world *w, kr_test_proc *p, int n, bool leader_elect,
                              const char *resync, const char *timeout)
{
    char dc1[300], dc2[300], log[128], resync_arg[32];
    snprintf(resync_arg, sizeof(resync_arg), "%s", resync ? resync : "10m");
    snprintf(dc1, sizeof(dc1), "dc1=%s", w->dc[0].kubeconfig);
    snprintf(dc2, sizeof(dc2), "dc2=%s", w->dc[1].kubeconfig);
    snprintf(log, sizeof(log), "%s/syncer-%d.log", w->dir, n);
    char inventory[128];
    /* one file per replica: SQLite is the single-writer backend */
    snprintf(inventory, sizeof(inventory), "sqlite://%s/inventory-%d.db", w->dir, n);
    const char *spool[] = {w->spool ? "--inventory-spool" : NULL, w->spool, NULL};
    const char *argv[] = {"kr-syncer",
                          "--kubeconfig",
                          w->hub.kubeconfig,
                          "--cluster",
                          dc1,
                          "--cluster",
                          dc2,
                          "--namespace",
                          NSNAME,
                          "--resource",
                          "v1/configmaps",
                          "--resource",
                          "example.com/v1/widgets",
                          "--listen",
                          "127.0.0.1:0", /* /metrics: scraped */
                          "--log-format",
                          "text",
                          "-v",
                          "1",
                          "--lease-namespace",
                          NSNAME,
                          "--inventory",
                          w->inventory ? w->inventory : inventory,
                          "--resync",
                          resync_arg,
                          "--request-timeout",
                          timeout ? timeout : "10s",
                          leader_elect ? "--leader-elect" : spool[0],
                          leader_elect ? spool[0] : spool[1],
                          leader_elect ? spool[1] : NULL,
                          NULL};
    kr_test_proc_start(p, log, argv);
}

static void start_syncer_resync(world *w, kr_test_proc *p, int n, bool leader_elect,
                                const char *resync)
{
    start_syncer_with(w, p, n, leader_elect, resync, NULL);
}

static void start_syncer(world *w, kr_test_proc *p, int n, bool leader_elect)
{
    start_syncer_resync(w, p, n, leader_elect, NULL);
}

static json_t *fetch(server *s, kr_gvr gvr, const char *name)
{
    json_t *out = NULL;
    return kr_client_get(s->cl.c, gvr, NSNAME, name, &out, NULL) == 0 ? out : NULL;
}

static const char *field(const json_t *o, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(o, a), b));
}

/* The end of each replica's log on stderr (the test's own log): what a
 * failure needs to be understood where it happened. */
static void show_logs(const world *w)
{
    for (int i = 0; i < 2; i++) {
        char path[128], tail[6144];
        snprintf(path, sizeof(path), "%s/syncer-%d.log", w->dir, i);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fseek(f, -(long)(sizeof(tail) - 1), SEEK_END) != 0)
            rewind(f);
        size_t n = fread(tail, 1, sizeof(tail) - 1, f);
        fclose(f);
        tail[n] = '\0';
        fprintf(stderr, "---- the end of syncer-%d.log ----\n%s----\n", i, tail);
    }
}

/* Stop a replica with `sig`; it must end with `want` (its log shown when
 * it does not: a sanitizer's report, say). */
static void stop_syncer(world *w, kr_test_proc *p, int sig, int want)
{
    int status = kr_test_proc_kill(p, sig);
    if (status != want)
        show_logs(w);
    ck_assert_int_eq(status, want);
}

/* A condition on the servers, looked at every 20 ms until it holds. */
typedef bool (*cond_fn)(world *w, const void *arg);

static void wait_for(world *w, cond_fn cond, const void *arg, const char *what)
{
    time_t deadline = time(NULL) + WAIT_S;
    while (!cond(w, arg)) {
        if (time(NULL) >= deadline)
            show_logs(w);
        ck_assert_msg(time(NULL) < deadline, "timed out waiting for %s", what);
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

typedef struct want {
    kr_gvr gvr;
    const char *name;
    int dc; /* 0, 1 */
    const char *value; /* NULL: absent */
    const char *section, *key;
} want;

static bool copy_is(world *w, const void *arg)
{
    const want *x = arg;
    json_t *o = fetch(&w->dc[x->dc], x->gvr, x->name);
    bool ok = x->value ? o && field(o, x->section, x->key) &&
                             strcmp(field(o, x->section, x->key), x->value) == 0
                       : o == NULL;
    json_decref(o);
    return ok;
}

static bool hub_gone(world *w, const void *arg)
{
    const want *x = arg;
    json_t *o = fetch(&w->hub, x->gvr, x->name);
    json_decref(o);
    return o == NULL;
}

/* x->dc's entry in the hub object's sync-status has a lastError (one
 * that contains x->value when given). */
static bool entry_has_error(world *w, const void *arg)
{
    const want *x = arg;
    json_t *o = fetch(&w->hub, x->gvr, x->name);
    const char *text = json_string_value(json_object_get(
        json_object_get(json_object_get(o, "metadata"), "annotations"), KR_ANNOTATION_SYNC_STATUS));
    json_t *st = text ? json_loads(text, 0, NULL) : NULL;
    const char *error =
        json_string_value(json_object_get(json_object_get(st, x->dc ? "dc2" : "dc1"), "lastError"));
    bool ok = error && (!x->value || strstr(error, x->value));
    json_decref(st);
    json_decref(o);
    return ok;
}

static bool verified(world *w, const void *arg)
{
    const want *x = arg;
    json_t *o = fetch(&w->hub, x->gvr, x->name);
    const char *text = json_string_value(json_object_get(
        json_object_get(json_object_get(o, "metadata"), "annotations"), KR_ANNOTATION_SYNC_STATUS));
    json_t *st = text ? json_loads(text, 0, NULL) : NULL;
    bool ok = json_is_true(json_object_get(json_object_get(st, x->dc ? "dc2" : "dc1"), "verified"));
    json_decref(st);
    json_decref(o);
    return ok;
}

/* The hub object carries the syncer's finalizer and a sync-status. */
static bool hub_kept(world *w, const void *arg)
{
    const want *x = arg;
    json_t *o = fetch(&w->hub, x->gvr, x->name);
    bool ok = kr_managed_has_finalizer(o, KR_FINALIZER_SYNCER) &&
              json_object_get(json_object_get(json_object_get(o, "metadata"), "annotations"),
                              KR_ANNOTATION_SYNC_STATUS);
    json_decref(o);
    return ok;
}

static void hub_create(world *w, kr_gvr gvr, json_t *obj)
{
    kr_error_t err = {0};
    ck_assert_msg(kr_client_create(w->hub.cl.c, gvr, NSNAME, obj, NULL, NULL, &err) == 0, "%s",
                  err.message);
    json_decref(obj);
}

static void hub_merge(world *w, kr_gvr gvr, const char *name, json_t *patch)
{
    kr_error_t err = {0};
    ck_assert_msg(kr_client_patch(w->hub.cl.c, gvr, NSNAME, name, NULL, KR_PATCH_MERGE, patch, NULL,
                                  NULL, &err) == 0,
                  "%s", err.message);
    json_decref(patch);
}

static json_t *cm(const char *name, const char *value)
{
    return json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "data", "value", value);
}

/* A ConfigMap `name` and the Widget "w" (a custom resource), both "v1". */
static void hub_create_pair(world *w, const char *name)
{
    hub_create(w, CM, cm(name, "v1"));
    hub_create(w, WIDGET,
               json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "example.com/v1", "kind",
                         "Widget", "metadata", "name", "w", "spec", "value", "v1"));
}

/* GET `path` from the HTTP endpoint of the replica `p` (its log says
 * where): the status (0 before it serves), the body into buf. */
static long endpoint_get(kr_test_proc *p, const char *path, char *buf, size_t len)
{
    char *text = kr_test_proc_log_text(p);
    char *on = text ? strstr(text, "/metrics on ") : NULL;
    long status = 0;
    buf[0] = '\0';
    if (on) {
        on += strlen("/metrics on ");
        char base[128];
        snprintf(base, sizeof(base), "http://%.*s", (int)strcspn(on, " \n\""), on);
        tc_response r;
        tc_request(base, "GET", path, NULL, NULL, NULL, &r);
        status = r.status;
        snprintf(buf, len, "%s", r.body ? r.body : "");
        tc_free(&r);
    }
    free(text);
    return status;
}

/* The value of `series` ("name{label=\"value\",...}") on the /metrics of
 * the replica `p` serves; -1 when it is not there (yet). */
static double scraped(kr_test_proc *p, const char *series)
{
    static char body[1 << 20];
    double v = -1;
    if (endpoint_get(p, "/metrics", body, sizeof(body)) != 200)
        return v;
    size_t n = strlen(series);
    for (const char *line = body; *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            v = strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        line = line ? line + 1 : "";
    }
    return v;
}

/* Wait until the replica's series `series` reaches `least` or more. */
static void wait_scraped(world *w, kr_test_proc *p, const char *series, double least)
{
    time_t deadline = time(NULL) + WAIT_S;
    double v;
    while ((v = scraped(p, series)) < least) {
        if (time(NULL) >= deadline)
            show_logs(w);
        ck_assert_msg(time(NULL) < deadline, "%s is %g, not %g or more", series, v, least);
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

START_TEST(program_syncs_repairs_places_and_deletes)
{
    world w;
    world_up(&w);
    kr_test_proc syncer;
    start_syncer(&w, &syncer, 0, false);
    hub_create_pair(&w, "app");
    for (int d = 0; d < 2; d++) {
        want c = {CM, "app", d, "v1", "data", "value"};
        wait_for(&w, copy_is, &c, "the ConfigMap's copies");
        wait_for(&w, verified, &c, "the ConfigMap's status");
        want wd = {WIDGET, "w", d, "v1", "spec", "value"};
        wait_for(&w, copy_is, &wd, "the Widget's copies");
    }
    /* edits in the hub arrive; edits and deletes in a cluster are undone */
    hub_merge(&w, CM, "app", json_pack("{s:{s:s}}", "data", "value", "v2"));
    want v2[2] = {{CM, "app", 0, "v2", "data", "value"}, {CM, "app", 1, "v2", "data", "value"}};
    wait_for(&w, copy_is, &v2[0], "the edit in dc1");
    wait_for(&w, copy_is, &v2[1], "the edit in dc2");
    json_t *drift = json_pack("{s:{s:s}}", "data", "value", "drifted");
    ck_assert_int_eq(kr_client_patch(w.dc[0].cl.c, CM, NSNAME, "app", NULL, KR_PATCH_MERGE, drift,
                                     NULL, NULL, NULL),
                     0);
    json_decref(drift);
    ck_assert_int_eq(kr_client_delete(w.dc[1].cl.c, CM, NSNAME, "app", NULL, NULL, NULL), 0);
    wait_for(&w, copy_is, &v2[0], "the repair in dc1");
    wait_for(&w, copy_is, &v2[1], "the copy again in dc2");
    /* and /metrics says so: the creates, the drift repaired in dc1 */
    wait_scraped(&w, &syncer,
                 "kr_syncer_writes_total{cluster=\"dc2\",operation=\"create\",outcome=\"success\"}",
                 3); /* the ConfigMap, the Widget, the ConfigMap again */
    wait_scraped(&w, &syncer, "kr_syncer_drift_repairs_total{cluster=\"dc1\"}", 1);
    ck_assert(scraped(&syncer, "kr_syncer_out_of_sync{cluster=\"dc1\"}") >= 0);
    /* placement: dc2 only */
    hub_merge(&w, CM, "app",
              json_pack("{s:{s:{s:s}}}", "metadata", "annotations", KR_ANNOTATION_CLUSTERS, "dc2"));
    want gone1 = {CM, "app", 0, NULL, NULL, NULL};
    wait_for(&w, copy_is, &gone1, "the copy leaving dc1");
    /* a replace that drops our finalizer and status (kubectl replace, a
     * GitOps tool) has them put back at once, not at the next resync */
    want kept = {CM, "app", 1, NULL, NULL, NULL};
    wait_for(&w, hub_kept, &kept, "the finalizer and status");
    kr_error_t rerr = {0};
    int urc = KR_ECONFLICT;
    for (int i = 0; i < 20 && urc == KR_ECONFLICT; i++) { /* a status write may come between */
        json_t *live = fetch(&w.hub, CM, "app");
        json_t *meta = json_object_get(live, "metadata");
        json_object_del(meta, "finalizers");
        json_object_del(json_object_get(meta, "annotations"), KR_ANNOTATION_SYNC_STATUS);
        urc = kr_client_update(w.hub.cl.c, CM, NSNAME, live, NULL, NULL, &rerr);
        json_decref(live);
    }
    ck_assert_msg(urc == 0, "%s", rerr.message);
    wait_for(&w, hub_kept, &kept, "the finalizer and status put back");
    /* hub delete */
    ck_assert_int_eq(kr_client_delete(w.hub.cl.c, CM, NSNAME, "app", NULL, NULL, NULL), 0);
    want gone2 = {CM, "app", 1, NULL, NULL, NULL};
    wait_for(&w, copy_is, &gone2, "the copy leaving dc2");
    wait_for(&w, hub_gone, &gone2, "the hub object's finalizer");
    stop_syncer(&w, &syncer, SIGTERM, 0);
    kr_test_proc_free(&syncer);
    /* --inventory: every write recorded, actor kr-syncer */
    char url[128];
    snprintf(url, sizeof(url), "sqlite://%s/inventory-0.db", w.dir);
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&io, &inv, &err) == 0, "%s", err.message);
    json_t *rows = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "ConfigMap", NSNAME, "app", 0, 0, &rows, &err), 0);
    bool created[2] = {false, false}, deleted[2] = {false, false};
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *event = json_string_value(json_object_get(row, "event"));
        int d = strcmp(json_string_value(json_object_get(row, "cluster")), "dc2") == 0;
        ck_assert_str_eq(json_string_value(json_object_get(row, "actor")), "kr-syncer");
        created[d] |= strcmp(event, "CREATED") == 0;
        deleted[d] |= strcmp(event, "DELETED") == 0;
    }
    ck_assert(created[0] && created[1] && deleted[0] && deleted[1]);
    json_decref(rows);
    kr_inventory_free(inv);
    world_down(&w);
}
END_TEST

/* SIGTERM while the inventory (PostgreSQL) stalls: another session holds
 * its tables locked, and keeps them so, while the syncer records an edit.
 * The reconcile gave its record up at the stop and left it to the outbox,
 * whose thread waited for the database; the program flushed for 5 s, then
 * joined that thread, which waited without end: SIGTERM did not end
 * kr-syncer while the database stalled. Now the write still under way
 * after the flush is cut short: the program exits 0 while the lock is
 * still held, and the record it could not write stays in its spool. */
START_TEST(program_exits_on_sigterm_while_the_inventory_stalls)
{
    char why[512], url[512];
    kr_pgserver *pg = NULL;
    if (kr_pgserver_start(&pg, why, sizeof(why)) != 0) {
        ck_assert_msg(!kr_pgserver_required(), "cannot start PostgreSQL: %s", why);
        kr_test_skip("program_exits_on_sigterm_while_the_inventory_stalls",
                     "PostgreSQL cannot start (%s)", why);
        return;
    }
    ck_assert_int_eq(kr_pgserver_create_db(pg, url, sizeof(url)), 0);
    world w;
    world_up(&w);
    char spool[128];
    snprintf(spool, sizeof(spool), "%s/outbox.spool", w.dir);
    w.inventory = url;
    w.spool = spool;
    kr_test_proc syncer;
    start_syncer(&w, &syncer, 0, false);
    hub_create_pair(&w, "app");
    want c = {CM, "app", 1, "v1", "data", "value"};
    wait_for(&w, copy_is, &c, "the ConfigMap's copy in dc2");
    struct pg_conn *holder = kr_pgserver_lock(url, "kr_objects, kr_transactions");
    ck_assert_ptr_nonnull(holder);
    /* an edit to write and record (or the copies' records still to be
     * made): one waits for the lock */
    hub_merge(&w, CM, "app", json_pack("{s:{s:s}}", "data", "value", "v2"));
    ck_assert(kr_pgserver_wait_for_a_waiter(holder));
    ck_assert_int_eq(kr_test_proc_signal(&syncer, SIGTERM), 0);
    /* the lock stays held until the program has exited */
    int code = kr_test_proc_wait(&syncer, 60000);
    if (code != 0)
        show_logs(&w);
    ck_assert_int_eq(code, 0);
    char *text = kr_test_proc_log_text(&syncer);
    ck_assert_msg(strstr(text, "call under way is cut short"), "%s", text);
    free(text);
    kr_test_proc_free(&syncer);
    struct stat st;
    ck_assert_int_eq(stat(spool, &st), 0);
    ck_assert_int_gt(st.st_size, 0); /* what was not written waits there */
    kr_pgserver_unlock(holder);
    unlink(spool);
    world_down(&w);
    kr_pgserver_free(pg);
}
END_TEST

START_TEST(program_holds_a_hub_delete_while_a_datacenter_answers_503)
{
    world w;
    world_up(&w);
    kr_test_proc syncer;
    start_syncer(&w, &syncer, 0, false);
    hub_create(&w, CM, cm("held", "v1"));
    want dc2 = {CM, "held", 1, "v1", "data", "value"};
    wait_for(&w, verified, &dc2, "the copy in dc2");
    kr_testserver_faults down = {.fail_503 = 1.0};
    kr_testserver_set_faults(w.dc[1].cl.ts, &down);
    kr_testserver_close_watches(w.dc[1].cl.ts);
    ck_assert_int_eq(kr_client_delete(w.hub.cl.c, CM, NSNAME, "held", NULL, NULL, NULL), 0);
    hub_create(&w, CM, cm("during", "v1"));
    want gone1 = {CM, "held", 0, NULL, NULL, NULL};
    wait_for(&w, copy_is, &gone1, "the delete in dc1");
    want during1 = {CM, "during", 0, "v1", "data", "value"};
    wait_for(&w, copy_is, &during1, "dc1 converging alone");
    json_t *held = fetch(&w.hub, CM, "held");
    ck_assert_msg(held != NULL, "the hub object went while dc2 was down");
    json_decref(held);
    want why = {CM, "held", 1, NULL, NULL, NULL};
    wait_for(&w, entry_has_error, &why, "what holds the delete in dc2's status entry");
    kr_testserver_faults up = {0};
    kr_testserver_set_faults(w.dc[1].cl.ts, &up);
    want gone2 = {CM, "held", 1, NULL, NULL, NULL};
    wait_for(&w, copy_is, &gone2, "the delete in dc2");
    wait_for(&w, hub_gone, &gone2, "the finalizer after dc2 returned");
    want during2 = {CM, "during", 1, "v1", "data", "value"};
    wait_for(&w, copy_is, &during2, "dc2's backlog");
    stop_syncer(&w, &syncer, SIGTERM, 0);
    kr_test_proc_free(&syncer);
    world_down(&w);
}
END_TEST

/* dc2 hangs instead of refusing (every request answered ten minutes
 * late): its requests time out, its keys then wait for a probe, and the
 * workers it held go back to dc1, which keeps converging. */
START_TEST(program_keeps_dc1_converging_while_dc2_hangs)
{
    world w;
    world_up(&w);
    kr_test_proc syncer;
    start_syncer_with(&w, &syncer, 0, false, NULL, "2s");
    hub_create(&w, CM, cm("before", "v1"));
    want both = {CM, "before", 1, "v1", "data", "value"};
    wait_for(&w, verified, &both, "both clusters before the hang");
    kr_testserver_faults hang = {.latency_ms = 600000}, well = {0};
    kr_testserver_set_faults(w.dc[1].cl.ts, &hang);
    /* more keys than workers, each of which first tries dc2 too */
    char name[32];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "hang-%02d", i);
        hub_create(&w, CM, cm(name, "v1"));
    }
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "hang-%02d", i);
        want dc1 = {CM, name, 0, "v1", "data", "value"};
        wait_for(&w, copy_is, &dc1, "dc1 converging while dc2 hangs");
    }
    kr_testserver_set_faults(w.dc[1].cl.ts, &well);
    want last = {CM, "hang-11", 1, "v1", "data", "value"};
    wait_for(&w, verified, &last, "dc2 once it answers again");
    stop_syncer(&w, &syncer, SIGTERM, 0);
    kr_test_proc_free(&syncer);
    world_down(&w);
}
END_TEST

/* A Warning Event about hub object x->name in the source namespace whose
 * message holds x->value. */
static bool warned_of(world *w, const void *arg)
{
    const want *x = arg;
    char sel[160];
    snprintf(sel, sizeof(sel), "involvedObject.name=%s", x->name);
    kr_list_opts lo = {.field_selector = sel};
    json_t *list = NULL;
    if (kr_client_list(w->hub.cl.c, KR_GVR("", "v1", "events"), NSNAME, &lo, &list, NULL) != 0)
        return false;
    bool found = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(list, "items"), i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *message = json_string_value(json_object_get(e, "message"));
        found |= type && strcmp(type, "Warning") == 0 && message && strstr(message, x->value);
    }
    json_decref(list);
    return found;
}

/* The hub object is there with dc1's entry verified. */
static bool dc1_verified(world *w, const void *arg)
{
    const want *x = arg;
    want one = *x;
    one.dc = 0;
    return verified(w, &one);
}

/* A datacenter down when the program starts (or when a new leader takes
 * over) holds its own lane only: dc1 converges meanwhile, its entries are
 * written without waiting for dc2's, dc2's entry says what its cache
 * meets, and a hub delete waits for dc2; dc2 catches up once it answers
 * and its cache has synced. */
START_TEST(program_starts_with_a_datacenter_down_and_dc1_converges)
{
    world w;
    world_up(&w);
    kr_testserver_faults down = {.fail_503 = 1.0};
    kr_testserver_set_faults(w.dc[1].cl.ts, &down);
    kr_test_proc syncer;
    start_syncer(&w, &syncer, 0, false);
    hub_create(&w, CM, cm("early", "v1"));
    hub_create(&w, CM, cm("held", "v1"));
    want dc1 = {CM, "early", 0, "v1", "data", "value"};
    wait_for(&w, copy_is, &dc1, "dc1 converging while dc2 never answered");
    /* the status batch does not wait for a lane whose cache never synced
     * (it would wait 10 s for its entry): dc1's is there long before */
    time_t t0 = time(NULL);
    wait_for(&w, dc1_verified, &dc1, "dc1's entry");
    ck_assert_msg(time(NULL) - t0 <= 5, "dc1's entry waited %lds for dc2's",
                  (long)(time(NULL) - t0));
    want why = {CM, "early", 1, "unable to handle the request", NULL, NULL};
    wait_for(&w, entry_has_error, &why, "dc2's entry naming what its cache meets");
    /* a new error in an entry is a Warning Event too */
    wait_for(&w, warned_of, &why, "a Warning Event naming what dc2's cache meets");
    /* what it meets changes: the entry follows */
    kr_testserver_faults broken = {.fail_500 = 1.0};
    kr_testserver_set_faults(w.dc[1].cl.ts, &broken);
    want why500 = {CM, "early", 1, "Internal error occurred", NULL, NULL};
    wait_for(&w, entry_has_error, &why500, "dc2's entry naming what its cache meets now");
    /* an object made since, placed on dc2 alone (no other lane has
     * anything to say of it), says so too */
    json_t *late = cm("late", "v1");
    json_object_set_new(json_object_get(late, "metadata"), "annotations",
                        json_pack("{s:s}", KR_ANNOTATION_CLUSTERS, "dc2"));
    hub_create(&w, CM, late);
    want late2 = {CM, "late", 1, "has not synced", NULL, NULL};
    wait_for(&w, entry_has_error, &late2, "dc2's entry of an object placed on dc2 alone");
    want held1 = {CM, "held", 0, "v1", "data", "value"};
    wait_for(&w, copy_is, &held1, "dc1's copy of held");
    ck_assert_int_eq(kr_client_delete(w.hub.cl.c, CM, NSNAME, "held", NULL, NULL, NULL), 0);
    want gone1 = {CM, "held", 0, NULL, NULL, NULL};
    wait_for(&w, copy_is, &gone1, "the delete in dc1");
    want held2 = {CM, "held", 1, "has not synced", NULL, NULL};
    wait_for(&w, entry_has_error, &held2, "what holds the delete in dc2's entry");
    want hub_held = {CM, "held", 0, NULL, NULL, NULL};
    ck_assert_msg(hub_kept(&w, &hub_held), "the hub delete completed while dc2 was down");
    kr_testserver_faults up = {0};
    kr_testserver_set_faults(w.dc[1].cl.ts, &up);
    want dc2 = {CM, "early", 1, "v1", "data", "value"};
    wait_for(&w, verified, &dc2, "dc2 once it answers");
    wait_for(&w, hub_gone, &hub_held, "the hub delete once dc2 answers");
    stop_syncer(&w, &syncer, SIGTERM, 0);
    kr_test_proc_free(&syncer);
    world_down(&w);
}
END_TEST

typedef struct endpoint_want {
    kr_test_proc *p;
    const char *path;
    long status;
    const char *text; /* in the body; NULL: anything */
    const char *not_text; /* not in the body; NULL: nothing */
} endpoint_want;

static bool endpoint_says(world *w, const void *arg)
{
    (void)w;
    const endpoint_want *x = arg;
    char body[8192];
    return endpoint_get(x->p, x->path, body, sizeof(body)) == x->status &&
           (!x->text || strstr(body, x->text)) && (!x->not_text || !strstr(body, x->not_text));
}

/* A CRD deleted after the caches synced: its lists meet a 404 and the
 * cache sees nothing more there. In a workload cluster /readyz names the
 * cluster and resource without failing (a replica kept unready by one
 * datacenter would never finish a rollout); on the hub, where every
 * cluster's copies come from, it fails. Served again, the names go. */
START_TEST(program_readiness_names_a_resource_a_cluster_no_longer_serves)
{
    world w;
    world_up(&w);
    kr_test_proc syncer;
    start_syncer(&w, &syncer, 0, false);
    hub_create_pair(&w, "pair");
    want w2 = {WIDGET, "w", 1, "v1", "spec", "value"};
    wait_for(&w, copy_is, &w2, "the widget's copy in dc2");
    endpoint_want ready = {&syncer, "/readyz?verbose", 200, "[+]informers ok (", "not served"};
    wait_for(&w, endpoint_says, &ready, "/readyz passing with every resource served");
    kr_error_t err = {0};
    const kr_gvr crds = KR_GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    ck_assert_msg(
        kr_client_delete(w.dc[1].cl.c, crds, NULL, "widgets.example.com", NULL, NULL, &err) == 0,
        "%s", err.message);
    endpoint_want named = {&syncer, "/readyz?verbose", 200,
                           "not served (is its CRD installed there?): dc2/example.com/v1/widgets",
                           "dc1/example.com"};
    wait_for(&w, endpoint_says, &named, "/readyz naming dc2's widgets, still passing");
    char body[8192];
    ck_assert_int_eq(endpoint_get(&syncer, "/readyz/informers", body, sizeof(body)), 200);
    ck_assert_int_eq(kr_testserver_load(w.dc[1].cl.ts, crd, strlen(crd), NULL), 0);
    wait_for(&w, endpoint_says, &ready, "dc2's widgets served again");
    ck_assert_msg(
        kr_client_delete(w.hub.cl.c, crds, NULL, "widgets.example.com", NULL, NULL, &err) == 0,
        "%s", err.message);
    endpoint_want hub = {&syncer, "/readyz/informers", 503,
                         "[-]informers failed: not served (is its CRD installed?): "
                         "example.com/v1/widgets",
                         NULL};
    wait_for(&w, endpoint_says, &hub, "/readyz failing on the hub's widgets");
    ck_assert_int_eq(kr_testserver_load(w.hub.cl.ts, crd, strlen(crd), NULL), 0);
    wait_for(&w, endpoint_says, &ready, "the hub's widgets served again");
    stop_syncer(&w, &syncer, SIGTERM, 0);
    kr_test_proc_free(&syncer);
    world_down(&w);
}
END_TEST

START_TEST(program_replicas_take_over_after_the_leader_is_killed)
{
    world w;
    world_up(&w);
    kr_test_proc a;
    start_syncer(&w, &a, 0, true);
    hub_create(&w, CM, cm("first", "v1"));
    want first = {CM, "first", 1, "v1", "data", "value"};
    wait_for(&w, copy_is, &first, "the leader's first copy");
    kr_test_proc b;
    start_syncer(&w, &b, 1, true);
    stop_syncer(&w, &a, SIGKILL, 128 + SIGKILL);
    hub_create(&w, CM, cm("second", "v1"));
    want second = {CM, "second", 1, "v1", "data", "value"};
    wait_for(&w, copy_is, &second, "the new leader's copy");
    stop_syncer(&w, &b, SIGTERM, 0);
    kr_test_proc_free(&a);
    kr_test_proc_free(&b);
    world_down(&w);
}
END_TEST

/* The requests of each server but watches, counted by the server itself
 * (the test's own requests included: read it when the test sends none). */
static json_t *requests_but_watches(world *w)
{
    server *all[] = {&w->hub, &w->dc[0], &w->dc[1]};
    const char *names[] = {"hub", "dc1", "dc2"};
    json_t *out = json_object();
    for (int i = 0; i < 3; i++) {
        json_t *counts = kr_testserver_requests(all[i]->cl.ts);
        ck_assert_ptr_nonnull(counts);
        const char *key;
        json_t *value;
        void *tmp;
        json_object_foreach_safe(counts, tmp, key, value)
        {
            if (strncmp(key, "watch ", 6) == 0)
                json_object_del(counts, key);
        }
        json_object_set_new(out, names[i], counts);
    }
    return out;
}

START_TEST(program_sends_nothing_but_watches_in_steady_state)
{
    world w;
    world_up(&w);
    /* A resync well inside the quiet time: it must find nothing to write. */
    kr_test_proc syncer;
    start_syncer_resync(&w, &syncer, 0, false, "5s");
    hub_create_pair(&w, "quiet");
    for (int d = 0; d < 2; d++) {
        want c = {CM, "quiet", d, "v1", "data", "value"};
        wait_for(&w, verified, &c, "the ConfigMap verified");
        want wd = {WIDGET, "w", d, "v1", "spec", "value"};
        wait_for(&w, verified, &wd, "the Widget verified");
    }
    json_t *before = requests_but_watches(&w);
    ck_assert_msg(json_integer_value(
                      json_object_get(json_object_get(before, "dc1"), "create configmaps")) >= 1,
                  "the servers count requests");
    /* Nothing changes for 30 s: a quiet time is what is measured here, so
     * the test sleeps (no condition could end it earlier). */
    struct timespec quiet = {30, 0};
    while (nanosleep(&quiet, &quiet) != 0)
        ;
    json_t *after = requests_but_watches(&w);
    char *b = json_dumps(before, JSON_SORT_KEYS), *a = json_dumps(after, JSON_SORT_KEYS);
    if (!json_equal(before, after))
        show_logs(&w);
    ck_assert_msg(json_equal(before, after),
                  "requests other than watches in 30 s of steady state:\nbefore %s\nafter  %s", b,
                  a);
    free(b);
    free(a);
    json_decref(before);
    json_decref(after);
    stop_syncer(&w, &syncer, SIGTERM, 0);
    kr_test_proc_free(&syncer);
    world_down(&w);
}
END_TEST

/* Run the program with `args` (NULL-terminated, after the binary) and its
 * output to `out`; returns its exit status. */
static int run_once(const char *const *args, char *out, size_t len)
{
    const char *argv[16] = {"kr-syncer"};
    for (size_t i = 0; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    return kr_test_proc_run(argv, out, len, 60000);
}

START_TEST(program_refuses_bad_flags_with_status_2)
{
    char out[8192];
    const char *no_cluster[] = {"--namespace", "apps", NULL};
    ck_assert_int_eq(run_once(no_cluster, out, sizeof(out)), 2);
    ck_assert_ptr_nonnull(strstr(out, "--cluster"));
    const char *bad_resource[] = {"--cluster", "dc1=/nonexistent", "--resource", "configmaps",
                                  NULL};
    ck_assert_int_eq(run_once(bad_resource, out, sizeof(out)), 2);
    ck_assert_ptr_nonnull(strstr(out, "GROUP/VERSION/RESOURCE"));
    const char *twice[] = {"--cluster",     "dc1=/nonexistent", "--resource",
                           "v1/configmaps", "--resource",       "v1/secrets",
                           "--resource",    "v1/configmaps",    NULL};
    ck_assert_int_eq(run_once(twice, out, sizeof(out)), 2);
    ck_assert_ptr_nonnull(strstr(out, "--resource v1/configmaps is given twice"));
    const char *two_versions[] = {
        "--cluster",  "dc1=/nonexistent",       "--resource", "example.com/v1/widgets",
        "--resource", "example.com/v2/widgets", NULL};
    ck_assert_int_eq(run_once(two_versions, out, sizeof(out)), 2);
    ck_assert_ptr_nonnull(strstr(out, "is given twice (as example.com/v1/widgets)"));
    const char *bad_workers[] = {"--cluster", "dc1=/nonexistent", "--workers", "-3", NULL};
    ck_assert_int_eq(run_once(bad_workers, out, sizeof(out)), 2);
    ck_assert_ptr_nonnull(strstr(out, "--workers: want 1 to 1000"));
    const char *bad_timeout[] = {"--cluster", "dc1=/nonexistent", "--request-timeout", "soon",
                                 NULL};
    ck_assert_int_eq(run_once(bad_timeout, out, sizeof(out)), 2);
    ck_assert_ptr_nonnull(strstr(out, "--request-timeout"));
    const char *spool_alone[] = {"--cluster", "dc1=/nonexistent", "--inventory-spool", "/tmp/s",
                                 NULL};
    ck_assert_int_eq(run_once(spool_alone, out, sizeof(out)), 2);
    ck_assert_ptr_nonnull(strstr(out, "--inventory-spool needs --inventory"));
    const char *bad_ns[] = {"--cluster", "dc1=/nonexistent", "--namespace", "BAD/NS", NULL};
    ck_assert_int_eq(run_once(bad_ns, out, sizeof(out)), 2);
    ck_assert_ptr_nonnull(strstr(out, "\"BAD/NS\" is not a namespace"));
    const char *missing_kubeconfig[] = {
        "--kubeconfig", "/nonexistent", "--cluster", "dc1=/nonexistent", "--listen", "0", NULL};
    ck_assert_int_eq(run_once(missing_kubeconfig, out, sizeof(out)), 2);
    ck_assert_ptr_nonnull(strstr(out, "kr-syncer:"));
    const char *help[] = {"--help", NULL};
    ck_assert_int_eq(run_once(help, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "--resource GROUP/VERSION/RESOURCE"));
    ck_assert_ptr_nonnull(strstr(out, "(0, the default: twice the number of clusters)"));
}
END_TEST

static bool log_says(world *w, const void *arg)
{
    kr_test_proc *p = (kr_test_proc *)((const void *const *)arg)[0];
    const char *text = ((const char *const *)arg)[1];
    (void)w;
    char *log = kr_test_proc_log_text(p);
    bool ok = log && strstr(log, text);
    free(log);
    return ok;
}

/* Each --resource is checked against the hub's discovery at start: a typo
 * or a cluster-scoped resource is a usage error (status 2) that names it,
 * where the program used to start, never be ready and exit 1 two minutes
 * later without a cause. A hub that cannot be asked at start is not
 * judged: the program runs and waits for it, as before. */
START_TEST(program_refuses_a_resource_the_hub_does_not_serve_namespaced)
{
    world w;
    world_up(&w);
    char dc1[300], out[8192];
    snprintf(dc1, sizeof(dc1), "dc1=%s", w.dc[0].kubeconfig);
    const char *typo[] = {"--kubeconfig", w.hub.kubeconfig, "--cluster", dc1, "--namespace", NSNAME,
                          "--resource",   "v1/configmap",   "--listen",  "0", NULL};
    ck_assert_int_eq(run_once(typo, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--resource v1/configmap: the hub serves no such resource (did you "
                              "mean v1/configmaps?)"),
                  "%s", out);
    const char *other_version[] = {"--kubeconfig",
                                   w.hub.kubeconfig,
                                   "--cluster",
                                   dc1,
                                   "--namespace",
                                   NSNAME,
                                   "--resource",
                                   "v1/secrets",
                                   "--resource",
                                   "example.com/v2/widgets",
                                   "--listen",
                                   "0",
                                   NULL};
    ck_assert_int_eq(run_once(other_version, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--resource example.com/v2/widgets: the hub serves no such resource"),
                  "%s", out);
    const char *cluster_scoped[] = {
        "--kubeconfig", w.hub.kubeconfig, "--cluster", dc1, "--namespace", NSNAME,
        "--resource",   "v1/nodes",       "--listen",  "0", NULL};
    ck_assert_int_eq(run_once(cluster_scoped, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--resource v1/nodes: Node is cluster-scoped"), "%s", out);

    /* a hub answering 503 at start: not judged, the program runs */
    kr_testserver_faults f = {.fail_503 = 1.0};
    kr_testserver_set_faults(w.hub.cl.ts, &f);
    char log[128];
    snprintf(log, sizeof(log), "%s/syncer-0.log", w.dir);
    kr_test_proc syncer;
    const char *argv[16] = {"kr-syncer"};
    for (size_t i = 0; typo[i]; i++)
        argv[i + 1] = typo[i];
    kr_test_proc_start(&syncer, log, argv);
    const void *arg[] = {&syncer, "--resource is not checked"};
    wait_for(&w, log_says, arg, "the program to go on without the hub's discovery");
    ck_assert(kr_test_proc_running(&syncer));
    stop_syncer(&w, &syncer, SIGTERM, 0);
    kr_test_proc_free(&syncer);
    world_down(&w);
}
END_TEST

/* Two --cluster names for one apiserver: the lane of the cluster an
 * object is not placed in deleted, as unplaced, the copy the other lane
 * had just made, and the program went on creating and deleting it (about
 * 25 writes a second each) for as long as it ran. The hub's own apiserver
 * as a --cluster would put the copies where the hub objects are. Both are
 * usage errors (status 2) naming the clusters. */
START_TEST(program_refuses_one_apiserver_under_two_names)
{
    world w;
    world_up(&w);
    char dc1[300], dc2[300], out[8192];
    snprintf(dc1, sizeof(dc1), "dc1=%s", w.dc[0].kubeconfig);
    snprintf(dc2, sizeof(dc2), "dc2=%s", w.dc[0].kubeconfig);
    const char *twice[] = {"--kubeconfig", w.hub.kubeconfig, "--cluster", dc1, "--cluster", dc2,
                           "--namespace",  NSNAME,           "--listen",  "0", NULL};
    ck_assert_int_eq(run_once(twice, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--cluster dc2: its apiserver ") &&
                      strstr(out, " is that of --cluster dc1"),
                  "%s", out);
    /* written otherwise (the scheme in capitals, a trailing '/'), the
     * same apiserver */
    char alias[128], text[16384];
    snprintf(alias, sizeof(alias), "%s/dc1-again.kubeconfig", w.dir);
    FILE *f = fopen(w.dc[0].kubeconfig, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *url = strstr(text, "server: "), *eol = url ? strchr(url, '\n') : NULL;
    ck_assert_ptr_nonnull(eol);
    for (char *c = url + strlen("server: "); *c && *c != ':'; c++)
        *c = (char)toupper((unsigned char)*c);
    f = fopen(alias, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%.*s/%s", (int)(eol - text), text, eol);
    fclose(f);
    snprintf(dc2, sizeof(dc2), "dc2=%s", alias);
    ck_assert_int_eq(run_once(twice, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--cluster dc2: its apiserver ") &&
                      strstr(out, " is that of --cluster dc1"),
                  "%s", out);
    unlink(alias);
    snprintf(dc1, sizeof(dc1), "dc1=%s", w.hub.kubeconfig);
    const char *hub[] = {"--kubeconfig", w.hub.kubeconfig, "--cluster", dc1, "--namespace",
                         NSNAME,         "--listen",       "0",         NULL};
    ck_assert_int_eq(run_once(hub, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--cluster dc1: its apiserver ") && strstr(out, " is the hub's"),
                  "%s", out);
    world_down(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kr_syncer");
    TCase *tc = tcase_create("program");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, program_refuses_bad_flags_with_status_2);
    tcase_add_test(tc, program_refuses_a_resource_the_hub_does_not_serve_namespaced);
    tcase_add_test(tc, program_syncs_repairs_places_and_deletes);
    tcase_add_test(tc, program_holds_a_hub_delete_while_a_datacenter_answers_503);
    tcase_add_test(tc, program_starts_with_a_datacenter_down_and_dc1_converges);
    tcase_add_test(tc, program_keeps_dc1_converging_while_dc2_hangs);
    tcase_add_test(tc, program_replicas_take_over_after_the_leader_is_killed);
    tcase_add_test(tc, program_sends_nothing_but_watches_in_steady_state);
    suite_add_tcase(s, tc);
    TCase *stall = tcase_create("inventory_stall");
    tcase_set_timeout(stall, 300);
    tcase_add_test(stall, program_exits_on_sigterm_while_the_inventory_stalls);
    suite_add_tcase(s, stall);
    TCase *served = tcase_create("served");
    tcase_set_timeout(served, 300);
    tcase_add_test(served, program_readiness_names_a_resource_a_cluster_no_longer_serves);
    suite_add_tcase(s, served);
    TCase *clusters = tcase_create("clusters");
    tcase_set_timeout(clusters, 300);
    tcase_add_test(clusters, program_refuses_one_apiserver_under_two_names);
    suite_add_tcase(s, clusters);
    return kr_test_run_suite(s);
}
