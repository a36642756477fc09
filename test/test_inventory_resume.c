/* The inventory's producer in client mode against an in-process apiserver:
 * after a restart it resumes with a WATCH from the stored checkpoint (no
 * LIST) and records exactly the transitions it missed; when the checkpoint
 * expired (410) it relists and records what the inventory held live that
 * the list lacks as DELETED_FINAL_STATE_UNKNOWN (also one made again
 * under its name, the new one ADDED); a full buffer pauses its
 * watch without blocking the loop and loses nothing; a resource the
 * cluster does not serve yet (a missing CRD) is logged once, then watched
 * when it appears; and the informer mode's reconciliation. SQLite.
 * KR_TEST_THREADED. */
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

#define CM KR_GVR("", "v1", "configmaps")
#define WAIT_MS 60000

static char tmpdir[256];
static int db_counter;

typedef struct fixture {
    kr_runtime_t *rt;
    kr_test_cluster tc;
    kr_inventory_t *inv;
    kr_inventory_consumer_t *cons;
    kr_inventory_producer_t *prod;
} fixture;

static void nap(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void up(fixture *f, size_t capacity, bool writer)
{
    memset(f, 0, sizeof(*f));
    f->rt = kr_test_runtime_up();
    kr_test_cluster_up(&f->tc, f->rt, 7);
    char url[512];
    snprintf(url, sizeof(url), "sqlite://%s/resume-%d-%d.db", tmpdir, (int)getpid(), ++db_counter);
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&io, &f->inv, &err) == 0, "%s", err.message);
    kr_inventory_consumer_opts co = KR_INVENTORY_CONSUMER_OPTS_INIT;
    co.capacity = capacity;
    co.max_batch = capacity < 8 ? 1 : 8;
    co.retry_base_ms = 5;
    co.retry_max_ms = 50;
    ck_assert_int_eq(kr_inventory_consumer_new(f->inv, &co, &f->cons, NULL), 0);
    if (writer)
        ck_assert_int_eq(kr_inventory_consumer_start(f->cons, NULL), 0);
}

static void down(fixture *f)
{
    kr_inventory_producer_free(f->prod);
    kr_inventory_consumer_free(f->cons);
    kr_test_cluster_down(&f->tc);
    kr_inventory_free(f->inv);
    kr_runtime_free(f->rt);
}

static kr_inventory_producer_t *producer(fixture *f, kr_gvr gvr, const char *resource,
                                         const char *api_version, const char *kind,
                                         kr_logger logger)
{
    kr_inventory_producer_opts po = KR_INVENTORY_PRODUCER_OPTS_INIT;
    po.consumer = f->cons;
    po.client = f->tc.c;
    po.gvr = gvr;
    po.cluster = "c1";
    po.resource = resource;
    po.api_version = api_version;
    po.kind = kind;
    po.inventory = f->inv;
    po.backoff_initial_ms = 5;
    po.backoff_max_ms = 50;
    po.logger = logger;
    kr_inventory_producer_t *p = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_producer_new(&po, &p, &err) == 0, "%s", err.message);
    return p;
}

static kr_inventory_producer_t *cm_producer(fixture *f)
{
    return producer(f, CM, "v1/configmaps", "v1", "ConfigMap", (kr_logger){0});
}

static json_t *write_cm(fixture *f, const char *name, const char *value, bool update)
{
    json_t *obj =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                  "metadata", "name", name, "namespace", "default", "data", "v", value);
    json_t *out = NULL;
    kr_error_t err = {0};
    int rc = update ? kr_client_update(f->tc.c, CM, "default", obj, NULL, &out, &err)
                    : kr_client_create(f->tc.c, CM, "default", obj, NULL, &out, &err);
    ck_assert_msg(rc == 0, "%s", err.message);
    json_decref(obj);
    return out;
}

static void delete_cm(fixture *f, const char *name)
{
    kr_error_t err = {0};
    ck_assert_msg(kr_client_delete(f->tc.c, CM, "default", name, NULL, NULL, &err) == 0, "%s",
                  err.message);
}

/* Until the producer observed the server's current resourceVersion and
 * the consumer committed everything (drained here when `drain`). */
static void caught_up(fixture *f, kr_inventory_producer_t *p, bool drain)
{
    char want[32];
    snprintf(want, sizeof(want), "%llu", kr_testserver_resource_version(f->tc.ts));
    kr_error_t err = {0};
    for (int i = 0; i < WAIT_MS / 5; i++) {
        if (drain)
            ck_assert_int_eq(kr_inventory_consumer_drain(f->cons, NULL, &err), 0);
        char *rv = kr_inventory_producer_resource_version(p);
        bool seen = rv && kr_resource_version_compare(rv, want) >= 0;
        kr_free(rv);
        kr_inventory_consumer_stats st;
        kr_inventory_consumer_get_stats(f->cons, &st, sizeof(st));
        kr_inventory_producer_stats ps;
        kr_inventory_producer_get_stats(p, &ps, sizeof(ps));
        if (seen && st.buffered == 0 && !ps.paused)
            break;
        nap();
    }
    if (!drain)
        ck_assert_int_eq(kr_inventory_consumer_flush(f->cons, WAIT_MS, &err), 0);
    char *rv = kr_inventory_producer_resource_version(p);
    ck_assert_msg(rv && kr_resource_version_compare(rv, want) >= 0, "observed %s, server %s",
                  rv ? rv : "nothing", want);
    kr_free(rv);
}

/* "EVENT name" of every informer transaction after `after`, in order. */
static char *transitions_after(fixture *f, int64_t after)
{
    json_t *all = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_transactions_after(f->inv, after, 10000, &all, &err), 0);
    char text[8192] = "";
    size_t len = 0, i;
    json_t *t;
    json_array_foreach(all, i, t)
    {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s %s", i ? ", " : "",
                                json_string_value(json_object_get(t, "event")),
                                json_string_value(json_object_get(t, "name")));
        ck_assert_uint_lt(len, sizeof(text));
    }
    json_decref(all);
    return strdup(text);
}

static int64_t last_seq(fixture *f)
{
    int64_t seq = 0;
    ck_assert_int_eq(kr_inventory_last_seq(f->inv, &seq, NULL), 0);
    return seq;
}

/* The live rows "name=rv,..." against the server's list. */
static void inventory_equals_server(fixture *f)
{
    json_t *list = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_client_list_all(f->tc.c, CM, NULL, NULL, &list, &err), 0);
    json_t *truth = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(list, "items"), i, o)
    {
        json_t *meta = json_object_get(o, "metadata");
        json_object_set(truth, json_string_value(json_object_get(meta, "name")),
                        json_object_get(meta, "resourceVersion"));
    }
    json_decref(list);
    kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
    q.cluster = "c1";
    q.kind = "ConfigMap";
    q.limit = 1000;
    json_t *items = NULL;
    ck_assert_int_eq(kr_inventory_query(f->inv, &q, &items, NULL, &err), 0);
    json_t *held = json_object();
    json_array_foreach(items, i, o)
    {
        json_object_set(held, json_string_value(json_object_get(o, "name")),
                        json_object_get(o, "resourceVersion"));
    }
    json_decref(items);
    char *t = json_dumps(truth, JSON_SORT_KEYS | JSON_COMPACT);
    char *h = json_dumps(held, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(truth, held), "inventory %s != server %s", h, t);
    free(t);
    free(h);
    json_decref(truth);
    json_decref(held);
    char *doubled = kr_test_inventory_doubled(f->inv);
    ck_assert_msg(!doubled, "transaction %s twice", doubled);
}

/* Objects a, b and c recorded by a first producer (it listed), which then
 * stops (a restart). Returns the last sequence it wrote. */
static int64_t first_run(fixture *f)
{
    json_decref(write_cm(f, "a", "1", false));
    json_decref(write_cm(f, "b", "1", false));
    json_decref(write_cm(f, "c", "1", false));
    f->prod = cm_producer(f);
    caught_up(f, f->prod, false);
    kr_inventory_producer_stats st;
    kr_inventory_producer_get_stats(f->prod, &st, sizeof(st));
    ck_assert(!st.resumed);
    ck_assert_uint_eq(st.lists, 1);
    kr_inventory_producer_free(f->prod);
    f->prod = NULL;
    return last_seq(f);
}

START_TEST(producer_resumes_from_its_checkpoint_with_a_watch)
{
    fixture f;
    up(&f, 100, true);
    int64_t before = first_run(&f);
    kr_inventory_producer_stats st;
    /* Meanwhile the cluster changes. */
    json_decref(write_cm(&f, "a", "2", true));
    delete_cm(&f, "b");
    json_decref(write_cm(&f, "d", "1", false));
    f.prod = cm_producer(&f);
    caught_up(&f, f.prod, false);
    kr_inventory_producer_get_stats(f.prod, &st, sizeof(st));
    ck_assert(st.resumed);
    ck_assert_uint_eq(st.lists, 0);
    ck_assert_uint_ge(st.watches, 1);
    char *got = transitions_after(&f, before);
    ck_assert_str_eq(got, "MODIFIED a, DELETED b, ADDED d");
    free(got);
    inventory_equals_server(&f);
    down(&f);
}
END_TEST

START_TEST(producer_relists_after_410_and_records_unseen_deletes)
{
    fixture f;
    up(&f, 100, true);
    int64_t before = first_run(&f);
    json_decref(write_cm(&f, "a", "2", true));
    delete_cm(&f, "b");
    kr_testserver_compact(f.tc.ts); /* the checkpoint's resourceVersion expires */
    f.prod = cm_producer(&f);
    caught_up(&f, f.prod, false);
    kr_inventory_producer_stats st;
    kr_inventory_producer_get_stats(f.prod, &st, sizeof(st));
    ck_assert(st.resumed);
    ck_assert_uint_ge(st.gone, 1);
    ck_assert_uint_eq(st.lists, 1);
    ck_assert(st.synced);
    char *got = transitions_after(&f, before);
    ck_assert_str_eq(got, "MODIFIED a, DELETED_FINAL_STATE_UNKNOWN b");
    free(got);
    inventory_equals_server(&f);
    down(&f);
}
END_TEST

/* Deleted and made again under the same name while nobody watched, behind
 * an expired checkpoint: the relist finds another object (another uid)
 * under a name the inventory holds live. The one held is gone (the list
 * lacks it) and the one listed is new, as a watch would have said: not a
 * change of the first. */
START_TEST(producer_relist_records_an_object_made_again_as_deleted_and_added)
{
    fixture f;
    up(&f, 100, true);
    int64_t before = first_run(&f);
    json_t *old = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_get(f.inv, "c1", "ConfigMap", "default", "c", &old, &err), 0);
    char *old_uid = strdup(json_string_value(json_object_get(old, "uid")));
    json_decref(old);
    delete_cm(&f, "c");
    json_t *made = write_cm(&f, "c", "2", false);
    const char *new_uid =
        json_string_value(json_object_get(json_object_get(made, "metadata"), "uid"));
    ck_assert_str_ne(new_uid, old_uid);
    kr_testserver_compact(f.tc.ts); /* the checkpoint's resourceVersion expires */
    f.prod = cm_producer(&f);
    caught_up(&f, f.prod, false);
    kr_inventory_producer_stats st;
    kr_inventory_producer_get_stats(f.prod, &st, sizeof(st));
    ck_assert_uint_ge(st.gone, 1);
    ck_assert_uint_eq(st.lists, 1);
    char *got = transitions_after(&f, before);
    ck_assert_str_eq(got, "DELETED_FINAL_STATE_UNKNOWN c, ADDED c");
    free(got);
    json_t *all = NULL;
    ck_assert_int_eq(kr_inventory_transactions_after(f.inv, before, 10, &all, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "uid")), old_uid);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 1), "uid")), new_uid);
    json_decref(all);
    inventory_equals_server(&f);
    /* Read again after a restart: nothing doubled. */
    kr_inventory_producer_free(f.prod);
    kr_testserver_compact(f.tc.ts);
    f.prod = cm_producer(&f);
    caught_up(&f, f.prod, false);
    got = transitions_after(&f, before);
    ck_assert_str_eq(got, "DELETED_FINAL_STATE_UNKNOWN c, ADDED c");
    free(got);
    free(old_uid);
    json_decref(made);
    down(&f);
}
END_TEST

static void noop(void *user)
{
    (void)user;
}

START_TEST(producer_pauses_on_a_full_buffer_without_blocking_the_loop)
{
    /* Two events of room and nothing committing them (a stalled
     * database): the producer holds what does not fit and stops its
     * watch; the loop keeps running. */
    fixture f;
    up(&f, 2, false);
    f.prod = cm_producer(&f);
    for (int i = 0; i < 12; i++) {
        char name[8];
        snprintf(name, sizeof(name), "k%d", i);
        json_decref(write_cm(&f, name, "1", false));
    }
    kr_inventory_producer_stats st = {0};
    for (int i = 0; i < WAIT_MS / 5 && !st.paused; i++) {
        kr_inventory_producer_get_stats(f.prod, &st, sizeof(st));
        nap();
    }
    ck_assert(st.paused);
    /* The loop is not blocked: a call on it returns. */
    ck_assert_int_eq(kr_runtime_call_sync(f.rt, noop, NULL), 0);
    /* Nothing was committed, so no checkpoint passed anything. */
    char *rv = NULL;
    ck_assert_int_eq(kr_inventory_checkpoint(f.inv, "c1", "v1/configmaps", &rv, NULL), 0);
    ck_assert_ptr_null(rv);
    for (int i = 0; i < 12; i += 3) {
        char name[8];
        snprintf(name, sizeof(name), "k%d", i);
        json_decref(write_cm(&f, name, "2", true));
    }
    delete_cm(&f, "k1");
    /* The database comes back: draining makes room, the producer hands
     * over what it held and watches again from its last event. */
    caught_up(&f, f.prod, true);
    kr_inventory_producer_get_stats(f.prod, &st, sizeof(st));
    ck_assert_uint_ge(st.pauses, 1);
    ck_assert_uint_eq(st.lists, 1);
    inventory_equals_server(&f);
    /* Every transition once: 12 adds, 4 updates, 1 delete. */
    char *got = transitions_after(&f, 0);
    size_t adds = 0, mods = 0, dels = 0;
    for (char *p = got; (p = strstr(p, "ADDED ")); p++)
        adds++;
    for (char *p = got; (p = strstr(p, "MODIFIED ")); p++)
        mods++;
    for (char *p = got; (p = strstr(p, "DELETED ")); p++)
        dels++;
    ck_assert_msg(adds == 12 && mods == 4 && dels == 1, "%s", got);
    free(got);
    down(&f);
}
END_TEST

typedef struct log_count {
    int warn_list;
} log_count;

static void count_log(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)module;
    log_count *c = user;
    if (level <= KR_LOG_WARN && strstr(message, "list"))
        __atomic_add_fetch(&c->warn_list, 1, __ATOMIC_SEQ_CST);
}

START_TEST(producer_waits_quietly_for_a_missing_crd)
{
    fixture f;
    up(&f, 100, true);
    log_count lc = {0};
    kr_logger logger = {.cb = count_log, .max_level = KR_LOG_INFO, .user = &lc};
    kr_gvr runnables = KR_GVR("kreconcile.io", "v1alpha1", "runnables");
    f.prod = producer(&f, runnables, "kreconcile.io/v1alpha1/runnables", "kreconcile.io/v1alpha1",
                      "Runnable", logger);
    kr_inventory_producer_stats st = {0};
    for (int i = 0; i < WAIT_MS / 5 && st.lists < 4; i++) {
        kr_inventory_producer_get_stats(f.prod, &st, sizeof(st));
        nap();
    }
    ck_assert_uint_ge(st.lists, 4);
    ck_assert_int_eq(__atomic_load_n(&lc.warn_list, __ATOMIC_SEQ_CST), 1);
    const char crd[] =
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"runnables.kreconcile.io\"},\"spec\":{\"group\":"
        "\"kreconcile.io\",\"scope\":\"Namespaced\",\"names\":{\"plural\":\"runnables\","
        "\"singular\":\"runnable\",\"kind\":\"Runnable\",\"listKind\":\"RunnableList\"},"
        "\"versions\":[{\"name\":\"v1alpha1\",\"served\":true,\"storage\":true,\"schema\":{"
        "\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":"
        "true}}}]}}";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(f.tc.ts, crd, strlen(crd), &err) == 0, "%s", err.message);
    const char run[] = "{\"apiVersion\":\"kreconcile.io/v1alpha1\",\"kind\":\"Runnable\","
                       "\"metadata\":{\"name\":\"r1\",\"namespace\":\"default\"},\"spec\":{}}";
    ck_assert_msg(kr_testserver_load(f.tc.ts, run, strlen(run), &err) == 0, "%s", err.message);
    json_t *row = NULL;
    for (int i = 0; i < WAIT_MS / 5 && !row; i++) {
        if (kr_inventory_get(f.inv, "c1", "Runnable", "default", "r1", &row, NULL) != 0)
            nap();
    }
    ck_assert_ptr_nonnull(row);
    json_decref(row);
    /* The list's objects go to the consumer before the reflector reports
     * the list's end: the row may be committed first. */
    kr_inventory_producer_get_stats(f.prod, &st, sizeof(st));
    for (int i = 0; i < WAIT_MS / 5 && !st.synced; i++) {
        nap();
        kr_inventory_producer_get_stats(f.prod, &st, sizeof(st));
    }
    ck_assert(st.synced);
    ck_assert_int_eq(__atomic_load_n(&lc.warn_list, __ATOMIC_SEQ_CST), 1);
    down(&f);
}
END_TEST

/* Informer mode (version-1 callers): the informer's handlers feed the
 * consumer, and reconcile records what the inventory holds that the
 * informer's fresh cache lacks. */
/* An informer of ConfigMaps in c1 made with `o` (its client and resource
 * filled in) feeding the consumer through an informer-mode producer of
 * `kind`, started, synced and its initial events committed. */
static kr_informer_t *synced_producer(fixture *f, kr_informer_opts o, const char *kind,
                                      kr_inventory_producer_t **p)
{
    o.client = f->tc.c;
    o.resource = CM;
    kr_informer_t *inf = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_informer_new(&o, &inf, &err) == 0, "%s", err.message);
    kr_inventory_producer_opts po = {.version = 1,
                                     .consumer = f->cons,
                                     .informer = inf,
                                     .cluster = "c1",
                                     .resource = "v1/configmaps",
                                     .api_version = "v1",
                                     .kind = kind};
    ck_assert_msg(kr_inventory_producer_new(&po, p, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
    ck_assert_msg(kr_informer_wait_for_sync(inf, WAIT_MS, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_inventory_consumer_flush(f->cons, WAIT_MS, &err), 0);
    return inf;
}

static kr_informer_t *informer_producer(fixture *f, kr_inventory_producer_t **p)
{
    kr_informer_t *inf = synced_producer(f, (kr_informer_opts){0}, "ConfigMap", p);
    kr_error_t err = {0};
    size_t gone = 0;
    ck_assert_msg(kr_inventory_producer_reconcile(*p, f->inv, &gone, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_inventory_consumer_flush(f->cons, WAIT_MS, &err), 0);
    return inf;
}

START_TEST(informer_mode_reconciles_deletes_nobody_watched)
{
    fixture f;
    up(&f, 100, true);
    json_decref(write_cm(&f, "a", "1", false));
    json_decref(write_cm(&f, "b", "1", false));
    kr_inventory_producer_t *p = NULL;
    kr_informer_t *inf = informer_producer(&f, &p);
    int64_t before = last_seq(&f);
    ck_assert_int_eq(before, 2);
    kr_inventory_producer_free(p);
    kr_informer_free(inf);
    delete_cm(&f, "b");
    inf = informer_producer(&f, &p);
    char *got = transitions_after(&f, before);
    ck_assert_str_eq(got, "DELETED_FINAL_STATE_UNKNOWN b");
    free(got);
    kr_inventory_producer_free(p);
    kr_informer_free(inf);
    down(&f);
}
END_TEST

/* Deleted and made again under the same name while no producer ran: the
 * informer's list reports the new one as ADDED, committed before the
 * reconciliation looks; the old one's end is recorded all the same, before
 * the new one's start. */
START_TEST(informer_mode_records_an_object_made_again_as_deleted_and_added)
{
    fixture f;
    up(&f, 100, true);
    json_decref(write_cm(&f, "a", "1", false));
    json_decref(write_cm(&f, "b", "1", false));
    kr_inventory_producer_t *p = NULL;
    kr_informer_t *inf = informer_producer(&f, &p);
    int64_t before = last_seq(&f);
    json_t *old = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_get(f.inv, "c1", "ConfigMap", "default", "b", &old, &err), 0);
    char *old_uid = strdup(json_string_value(json_object_get(old, "uid")));
    json_decref(old);
    kr_inventory_producer_free(p);
    kr_informer_free(inf);
    delete_cm(&f, "b");
    json_t *made = write_cm(&f, "b", "2", false);
    const char *new_uid =
        json_string_value(json_object_get(json_object_get(made, "metadata"), "uid"));
    ck_assert_str_ne(new_uid, old_uid);
    inf = informer_producer(&f, &p);
    char *got = transitions_after(&f, before);
    ck_assert_str_eq(got, "DELETED_FINAL_STATE_UNKNOWN b, ADDED b");
    free(got);
    json_t *all = NULL;
    ck_assert_int_eq(kr_inventory_transactions_after(f.inv, before, 10, &all, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "uid")), old_uid);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 1), "uid")), new_uid);
    json_decref(all);
    inventory_equals_server(&f);
    kr_inventory_producer_free(p);
    kr_informer_free(inf);
    /* Read again by another informer: nothing doubled. */
    inf = informer_producer(&f, &p);
    got = transitions_after(&f, before);
    ck_assert_str_eq(got, "DELETED_FINAL_STATE_UNKNOWN b, ADDED b");
    free(got);
    kr_inventory_producer_free(p);
    kr_informer_free(inf);
    free(old_uid);
    json_decref(made);
    down(&f);
}
END_TEST

/* A real apiserver's list items carry no kind: the informer's store here
 * drops it as they arrive. */
static int drop_kind(json_t *obj, json_t **out, void *user)
{
    (void)user;
    json_object_del(obj, "kind");
    *out = obj;
    return 0;
}

typedef struct refusals {
    int n;
} refusals;

static void count_refusal(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)module;
    if (level <= KR_LOG_ERROR && strstr(message, "no kind"))
        __atomic_add_fetch(&((refusals *)user)->n, 1, __ATOMIC_SEQ_CST);
}

/* Informer mode with objects without kind: the producer's kind fills it
 * in; without one the events are refused (logged) and the consumer goes
 * on with the others. */
START_TEST(informer_mode_objects_without_kind_never_stall_the_consumer)
{
    fixture f;
    up(&f, 100, true);
    json_decref(write_cm(&f, "a", "1", false));
    kr_error_t err = {0};
    for (int known = 0; known < 2; known++) {
        kr_informer_opts o = {.client = f.tc.c, .resource = CM};
        o.store.version = KR_STORE_OPTS_VERSION;
        o.store.transform = drop_kind;
        kr_informer_t *inf = NULL;
        ck_assert_msg(kr_informer_new(&o, &inf, &err) == 0, "%s", err.message);
        refusals r = {0};
        kr_inventory_producer_opts po = {
            .version = 1,
            .consumer = f.cons,
            .informer = inf,
            .cluster = known ? "c2" : "c1",
            .resource = "v1/configmaps",
            .kind = known ? "ConfigMap" : NULL,
            .logger = {.cb = count_refusal, .max_level = KR_LOG_ERROR, .user = &r}};
        kr_inventory_producer_t *p = NULL;
        ck_assert_msg(kr_inventory_producer_new(&po, &p, &err) == 0, "%s", err.message);
        ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
        ck_assert_msg(kr_informer_wait_for_sync(inf, WAIT_MS, &err) == 0, "%s", err.message);
        ck_assert_msg(kr_inventory_consumer_flush(f.cons, 10000, &err) == 0, "%s", err.message);
        json_t *row = NULL;
        int rc = kr_inventory_get(f.inv, po.cluster, "ConfigMap", "default", "a", &row, NULL);
        json_decref(row);
        if (known) {
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq(__atomic_load_n(&r.n, __ATOMIC_SEQ_CST), 0);
        } else {
            ck_assert_int_eq(rc, KR_ENOTFOUND);
            ck_assert_int_eq(__atomic_load_n(&r.n, __ATOMIC_SEQ_CST), 1);
        }
        kr_inventory_consumer_stats st;
        kr_inventory_consumer_get_stats(f.cons, &st, sizeof(st));
        ck_assert_uint_eq(st.buffered, 0);
        kr_inventory_producer_free(p);
        kr_informer_free(inf);
    }
    down(&f);
}
END_TEST

/* A live row the inventory holds in cluster c1 (no server has it). */
static void held_row(fixture *f, const char *kind, const char *ns, const char *name)
{
    char uid[64];
    snprintf(uid, sizeof(uid), "held-%s-%s", ns, name);
    json_t *o =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "apiVersion", "v1", "kind", kind,
                  "metadata", "namespace", ns, "name", name, "uid", uid, "resourceVersion", "1");
    kr_inventory_event e = {.cluster = "c1", .type = KR_INVENTORY_ADDED, .object = o};
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_apply(f->inv, &e, 1, NULL, &err) == 0, "%s", err.message);
    json_decref(o);
}

/* A live row with labels, held in cluster c1. */
static void held_labelled(fixture *f, const char *name, const char *team)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:{s:s}}}", "apiVersion", "v1", "kind",
                          "ConfigMap", "metadata", "namespace", "default", "name", name, "uid",
                          name, "resourceVersion", "1", "labels", "team", team);
    kr_inventory_event e = {.cluster = "c1", .type = KR_INVENTORY_ADDED, .object = o};
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_apply(f->inv, &e, 1, NULL, &err) == 0, "%s", err.message);
    json_decref(o);
}

/* An informer with selectors never holds what they leave out: reconcile
 * judges only the rows they select. */
START_TEST(informer_mode_reconciles_only_what_its_selectors_select)
{
    fixture f;
    up(&f, 100, true);
    held_labelled(&f, "ghost", "a");
    held_labelled(&f, "other-team", "b");
    held_labelled(&f, "skip", "a");
    kr_error_t err = {0};
    kr_inventory_producer_t *p = NULL;
    kr_informer_t *inf = synced_producer(
        &f, (kr_informer_opts){.label_selector = "team=a", .field_selector = "metadata.name!=skip"},
        "ConfigMap", &p);
    int64_t before = last_seq(&f);
    size_t gone = 99;
    ck_assert_msg(kr_inventory_producer_reconcile(p, f.inv, &gone, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_inventory_consumer_flush(f.cons, WAIT_MS, NULL), 0);
    ck_assert_uint_eq(gone, 1);
    char *got = transitions_after(&f, before);
    ck_assert_str_eq(got, "DELETED_FINAL_STATE_UNKNOWN ghost");
    free(got);
    kr_inventory_producer_free(p);
    kr_informer_free(inf);
    static const char *const kept[] = {"other-team", "skip"};
    for (size_t i = 0; i < 2; i++) {
        json_t *row = NULL;
        ck_assert_int_eq(kr_inventory_get(f.inv, "c1", "ConfigMap", "default", kept[i], &row, NULL),
                         0);
        ck_assert_msg(json_is_null(json_object_get(row, "deleted")), "%s", kept[i]);
        json_decref(row);
    }
    down(&f);
}
END_TEST

/* Reconcile compares the inventory with one collection only: refused
 * without a kind (every other kind would look deleted), and limited to
 * the informer's namespace. */
START_TEST(informer_mode_reconciles_only_its_own_collection)
{
    fixture f;
    up(&f, 100, true);
    json_decref(write_cm(&f, "a", "1", false));
    held_row(&f, "Secret", "default", "s");
    held_row(&f, "ConfigMap", "other", "x");
    held_row(&f, "ConfigMap", "default", "ghost");
    int64_t before = last_seq(&f);
    kr_error_t err = {0};
    for (int with_kind = 0; with_kind < 2; with_kind++) {
        kr_inventory_producer_t *p = NULL;
        kr_informer_t *inf = synced_producer(&f, (kr_informer_opts){.namespace_ = "default"},
                                             with_kind ? "ConfigMap" : NULL, &p);
        before = last_seq(&f);
        size_t gone = 99;
        int rc = kr_inventory_producer_reconcile(p, f.inv, &gone, &err);
        ck_assert_int_eq(kr_inventory_consumer_flush(f.cons, WAIT_MS, NULL), 0);
        char *got = transitions_after(&f, before);
        if (with_kind) {
            ck_assert_msg(rc == 0, "%s", err.message);
            ck_assert_uint_eq(gone, 1);
            ck_assert_str_eq(got, "DELETED_FINAL_STATE_UNKNOWN ghost");
        } else {
            ck_assert_int_eq(rc, KR_EINVAL);
            ck_assert_ptr_nonnull(strstr(err.message, "kind"));
            ck_assert_uint_eq(gone, 0);
            ck_assert_str_eq(got, "");
        }
        free(got);
        kr_inventory_producer_free(p);
        kr_informer_free(inf);
    }
    /* The other namespace's row and the other kind's are still live. */
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(f.inv, "c1", "ConfigMap", "other", "x", &row, NULL), 0);
    ck_assert(json_is_null(json_object_get(row, "deleted")));
    json_decref(row);
    ck_assert_int_eq(kr_inventory_get(f.inv, "c1", "Secret", "default", "s", &row, NULL), 0);
    ck_assert(json_is_null(json_object_get(row, "deleted")));
    json_decref(row);
    down(&f);
}
END_TEST

int main(void)
{
    if (!kr_test_tmpdir_make(tmpdir, sizeof(tmpdir), "kr-inv-resume"))
        return EXIT_FAILURE;
    Suite *s = suite_create("inventory_resume");
    TCase *tc = tcase_create("sqlite");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, producer_resumes_from_its_checkpoint_with_a_watch);
    tcase_add_test(tc, producer_relists_after_410_and_records_unseen_deletes);
    tcase_add_test(tc, producer_relist_records_an_object_made_again_as_deleted_and_added);
    tcase_add_test(tc, producer_pauses_on_a_full_buffer_without_blocking_the_loop);
    tcase_add_test(tc, producer_waits_quietly_for_a_missing_crd);
    tcase_add_test(tc, informer_mode_reconciles_deletes_nobody_watched);
    tcase_add_test(tc, informer_mode_records_an_object_made_again_as_deleted_and_added);
    tcase_add_test(tc, informer_mode_objects_without_kind_never_stall_the_consumer);
    tcase_add_test(tc, informer_mode_reconciles_only_its_own_collection);
    tcase_add_test(tc, informer_mode_reconciles_only_what_its_selectors_select);
    suite_add_tcase(s, tc);
    int rc = kr_test_run_suite(s);
    kr_test_tmpdir_remove(tmpdir);
    return rc;
}
