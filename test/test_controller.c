/* Tests of the controller runtime against the in-memory apiserver: objects
 * created, updated and deleted under 4 workers with a per-key in-flight
 * check, backoff, requeue-after and terminal errors on an injected clock,
 * owner mapping, two clusters, per-cluster fairness, metrics, graceful
 * stop, and key parsing.
 * KR_TEST_THREADED: worker threads, the runtime's loop thread, server threads. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller_internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_cluster.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

#define CM KR_GVR("", "v1", "configmaps")
#define WAIT_MS 30000
#define MS (1000LL * 1000)

/* ---- servers ------------------------------------------------------------------------- */

typedef struct cluster {
    kr_test_cluster k; /* server and client */
    kr_informer_t *inf; /* ConfigMaps in "default" */
} cluster;

static kr_runtime_t *rt;

static void cluster_up(cluster *cl, unsigned long long seed)
{
    memset(cl, 0, sizeof(*cl));
    kr_test_cluster_up(&cl->k, rt, seed);
    kr_informer_opts io = {.client = cl->k.c,
                           .resource = CM,
                           .namespace_ = "default",
                           .backoff_initial_ms = 5,
                           .backoff_max_ms = 50};
    kr_error_t err = {0};
    ck_assert_msg(kr_informer_new(&io, &cl->inf, &err) == 0, "%s", err.message);
}

static void cluster_start(cluster *cl)
{
    ck_assert_int_eq(kr_informer_start(cl->inf, NULL), 0);
}

static void cluster_down(cluster *cl)
{
    kr_informer_free(cl->inf);
    kr_test_cluster_down(&cl->k);
}

static json_t *cm(const char *name, const char *value)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "namespace", "default", "data", "v", value);
}

static void write_cm(kr_client_t *c, const char *name, const char *value, bool update)
{
    json_t *obj = cm(name, value);
    kr_error_t err = {0};
    int rc = update ? kr_client_update(c, CM, "default", obj, NULL, NULL, &err)
                    : kr_client_create(c, CM, "default", obj, NULL, NULL, &err);
    json_decref(obj);
    ck_assert_msg(rc == 0, "%s %s: %s", update ? "update" : "create", name, err.message);
}

static void delete_cm(kr_client_t *c, const char *name)
{
    kr_error_t err = {0};
    ck_assert_msg(kr_client_delete(c, CM, "default", name, NULL, NULL, &err) == 0, "%s",
                  err.message);
}

/* Many objects at once, without HTTP. */
static void load_cms(kr_testserver_t *ts, const char *prefix, int n)
{
    json_t **objs = calloc((size_t)n, sizeof(*objs));
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s-%03d", prefix, i);
        objs[i] = cm(name, "0");
    }
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load_bulk(ts, objs, (size_t)n, &err) == 0, "%s", err.message);
    for (int i = 0; i < n; i++)
        json_decref(objs[i]);
    free(objs);
}

/* ---- a fake clock -------------------------------------------------------------------- */

static _Atomic int64_t fake_ns = 1000 * MS;

static int64_t fake_now(void *user)
{
    (void)user;
    return atomic_load(&fake_ns);
}

static void fake_advance(int64_t ns)
{
    atomic_fetch_add(&fake_ns, ns);
}

/* ---- the recording reconciler -------------------------------------------------------- */

typedef struct rec {
    char key[128];
    char cluster[32];
    int inflight;
    int count;
    uint64_t first; /* 1 + how many reconciles had finished before its first */
    char last_seen[32]; /* data.v the last reconcile read, "" when gone */
} rec;

typedef struct tctx tctx;
typedef kr_reconcile_result (*behave_fn)(tctx *t, const kr_reconcile_request *req, int count,
                                         uint64_t *after_ms, kr_error_t *err);

struct tctx {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    kr_controller_t *ctl;
    cluster *clusters[2];
    const char *cluster_names[2];
    rec recs[1024];
    size_t nrecs;
    int violations; /* a key reconciled concurrently with itself */
    int bad_names; /* requests with unexpected parts */
    behave_fn behave;
    uint64_t order; /* reconciles finished */
    /* fairness */
    int good_done, bad_seen;
    int bad_seen_when_good_done;
    size_t bad_queued_when_good_done;
    int good_total;
};

static void tctx_init(tctx *t, behave_fn behave)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->behave = behave;
    t->bad_seen_when_good_done = -1;
}

static void tctx_destroy(tctx *t)
{
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cond);
}

/* The usual fixture: a runtime, one cluster with a started informer, and a
 * fresh test context reconciling with `behave`. */
static void one_cluster_up(cluster *a, unsigned long long seed, tctx *t, behave_fn behave)
{
    rt = kr_test_runtime_up();
    cluster_up(a, seed);
    cluster_start(a);
    tctx_init(t, behave);
}

static void one_cluster_down(cluster *a, tctx *t)
{
    kr_controller_free(t->ctl);
    tctx_destroy(t);
    cluster_down(a);
    kr_runtime_free(rt);
}

/* mu held */
static rec *rec_of(tctx *t, const char *key)
{
    for (size_t i = 0; i < t->nrecs; i++)
        if (strcmp(t->recs[i].key, key) == 0)
            return &t->recs[i];
    if (t->nrecs == sizeof(t->recs) / sizeof(t->recs[0]))
        return NULL;
    rec *r = &t->recs[t->nrecs++];
    memset(r, 0, sizeof(*r));
    snprintf(r->key, sizeof(r->key), "%s", key);
    return r;
}

static int count_of(tctx *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    rec *r = rec_of(t, key);
    int n = r ? r->count : -1;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static cluster *cluster_of(tctx *t, const char *name)
{
    for (int i = 0; i < 2; i++)
        if (t->clusters[i] && strcmp(t->cluster_names[i] ? t->cluster_names[i] : "", name) == 0)
            return t->clusters[i];
    return NULL;
}

static kr_reconcile_result reconcile(kr_controller_t *ctl, const kr_reconcile_request *req,
                                     uint64_t *after_ms, kr_error_t *err, void *user)
{
    tctx *t = user;
    pthread_mutex_lock(&t->mu);
    rec *r = rec_of(t, req->key);
    if (!r || ++r->inflight > 1)
        t->violations++;
    if (!req->name[0] || !req->key[0])
        t->bad_names++;
    int count = r ? r->count : 0;
    pthread_mutex_unlock(&t->mu);
    if (ctl != t->ctl)
        t->bad_names++;

    /* read what the cache holds now (level-triggered) */
    char seen[32] = "";
    cluster *cl = cluster_of(t, req->cluster);
    if (cl) {
        json_t *o = kr_store_get_by_name(kr_informer_store(cl->inf), req->namespace_, req->name);
        if (o)
            snprintf(seen, sizeof(seen), "%s",
                     json_string_value(json_object_get(json_object_get(o, "data"), "v")));
        json_decref(o);
    }
    for (int i = 0; i < 50; i++) /* widen the window for a concurrent run */
        sched_yield();
    kr_reconcile_result res =
        t->behave ? t->behave(t, req, count, after_ms, err) : KR_RECONCILE_DONE;

    pthread_mutex_lock(&t->mu);
    if (r) {
        r->inflight--;
        if (r->count++ == 0)
            r->first = t->order + 1;
        snprintf(r->last_seen, sizeof(r->last_seen), "%s", seen);
        snprintf(r->cluster, sizeof(r->cluster), "%s", req->cluster);
    }
    t->order++;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    return res;
}

/* Wait (generous deadline) until pred(t, arg) holds, with t->mu held. */
static bool wait_for(tctx *t, bool (*pred)(tctx *t, const void *arg), const void *arg)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&t->mu);
    bool ok;
    while (!(ok = pred(t, arg)))
        if (pthread_cond_timedwait(&t->cond, &t->mu, &dl) != 0) {
            ok = pred(t, arg);
            break;
        }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

typedef struct count_goal {
    const char *key;
    int count;
} count_goal;

static bool reached_count(tctx *t, const void *arg)
{
    const count_goal *g = arg;
    rec *r = rec_of(t, g->key);
    return r && r->count >= g->count;
}

static void wait_count(tctx *t, const char *key, int count)
{
    count_goal g = {key, count};
    ck_assert_msg(wait_for(t, reached_count, &g), "%s: %d reconciles, wanted %d", key,
                  count_of(t, key), count);
}

static kr_controller_t *controller_new(tctx *t, const char *name, unsigned workers,
                                       kr_metrics_registry_t *reg, bool fake_clock,
                                       kr_controller_ratelimiter_cb rl, unsigned max_retries)
{
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = name;
    o.reconcile = reconcile;
    o.user = t;
    o.workers = workers;
    o.metrics = reg;
    o.new_ratelimiter = rl;
    o.max_retries = max_retries;
    o.cache_sync_timeout_ms = WAIT_MS;
    if (fake_clock)
        o.clock = (kr_clock){fake_now, NULL};
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_new(&o, &t->ctl, &err) == 0, "%s", err.message);
    return t->ctl;
}

static void watch(kr_controller_t *ctl, kr_informer_t *inf, const char *cluster_name)
{
    kr_controller_source s = KR_CONTROLLER_SOURCE_INIT;
    s.informer = inf;
    s.cluster = cluster_name;
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_watch(ctl, &s, &err) == 0, "%s", err.message);
}

/* One more reconcile of a sentinel key on the unnamed lane, and its
 * completion: with one worker, every key that was due when the sentinel was
 * handed out has been reconciled before the second sentinel. */
static void sentinel_round_trip(tctx *t, const char *cluster_name)
{
    char key[64];
    snprintf(key, sizeof(key), "%s%ssentinel", cluster_name ? cluster_name : "",
             cluster_name ? "/" : "");
    for (int i = 0; i < 2; i++) {
        int before = count_of(t, key);
        ck_assert_int_eq(kr_controller_enqueue(t->ctl, cluster_name, NULL, "sentinel"), 0);
        wait_count(t, key, before + 1);
    }
}

/* wait_count, then a sentinel round trip: with one worker, the key's
 * follow-up (requeue, backoff) has been recorded when it returns. */
static void wait_settled(tctx *t, const char *key, int count, const char *cluster_name)
{
    wait_count(t, key, count);
    sentinel_round_trip(t, cluster_name);
}

/* ---- key parsing --------------------------------------------------------------------- */

START_TEST(key_parse_splits_good_keys_and_refuses_bad_ones)
{
    char buf[64];
    kr_reconcile_request r;
    ck_assert_int_eq(kr_controller_key_parse("ns/name", false, buf, sizeof(buf), &r), 0);
    ck_assert_str_eq(r.key, "ns/name");
    ck_assert_str_eq(r.cluster, "");
    ck_assert_str_eq(r.namespace_, "ns");
    ck_assert_str_eq(r.name, "name");
    ck_assert_int_eq(kr_controller_key_parse("node-1", false, buf, sizeof(buf), &r), 0);
    ck_assert_str_eq(r.namespace_, "");
    ck_assert_str_eq(r.name, "node-1");
    ck_assert_int_eq(kr_controller_key_parse("dc1/ns/name", true, buf, sizeof(buf), &r), 0);
    ck_assert_str_eq(r.cluster, "dc1");
    ck_assert_str_eq(r.namespace_, "ns");
    ck_assert_str_eq(r.name, "name");
    ck_assert_int_eq(kr_controller_key_parse("dc1/node-1", true, buf, sizeof(buf), &r), 0);
    ck_assert_str_eq(r.cluster, "dc1");
    ck_assert_str_eq(r.namespace_, "");
    ck_assert_str_eq(r.name, "node-1");
    /* the smallest buffer: strlen + 3 */
    char small[sizeof("dc1/a") + 2];
    ck_assert_int_eq(kr_controller_key_parse("dc1/a", true, small, sizeof(small), &r), 0);
    ck_assert_str_eq(r.name, "a");
    ck_assert_int_eq(kr_controller_key_parse("dc1/a", true, small, sizeof(small) - 1, &r),
                     KR_ETOOLARGE);
    static const char *const bad_plain[] = {"", "/", "a/", "/a", "a//b", "a/b/c", "a/b/"};
    for (size_t i = 0; i < sizeof(bad_plain) / sizeof(bad_plain[0]); i++)
        ck_assert_msg(kr_controller_key_parse(bad_plain[i], false, buf, sizeof(buf), &r) ==
                          KR_EINVAL,
                      "'%s' accepted", bad_plain[i]);
    static const char *const bad_cluster[] = {"",       "dc1",     "dc1/",  "/a",
                                              "dc1//a", "a/b/c/d", "dc1/a/"};
    for (size_t i = 0; i < sizeof(bad_cluster) / sizeof(bad_cluster[0]); i++)
        ck_assert_msg(kr_controller_key_parse(bad_cluster[i], true, buf, sizeof(buf), &r) ==
                          KR_EINVAL,
                      "'%s' accepted with a cluster", bad_cluster[i]);
    ck_assert_int_eq(kr_controller_key_parse(NULL, false, buf, sizeof(buf), &r), KR_EINVAL);
}
END_TEST

START_TEST(predicates_of_common_use)
{
    json_t *a = json_pack("{s:{s:s, s:i, s:{s:s}, s:{s:s}}}", "metadata", "resourceVersion", "5",
                          "generation", 1, "labels", "app", "x", "annotations", "note", "n");
    json_t *status_only = json_deep_copy(a);
    json_object_set_new(json_object_get(status_only, "metadata"), "resourceVersion",
                        json_string("6"));
    json_t *spec = json_deep_copy(status_only);
    json_object_set_new(json_object_get(spec, "metadata"), "generation", json_integer(2));
    json_t *relabelled = json_deep_copy(a);
    json_object_set_new(json_object_get(json_object_get(relabelled, "metadata"), "labels"), "app",
                        json_string("y"));
    json_t *bare = json_pack("{s:{s:s, s:{}}}", "metadata", "resourceVersion", "5", "labels");
    json_t *bare2 = json_pack("{s:{s:s}}", "metadata", "resourceVersion", "5");
    /* creates and deletes pass every one */
    ck_assert(kr_predicate_generation_changed(NULL, a, NULL));
    ck_assert(kr_predicate_resource_version_changed(NULL, a, NULL));
    ck_assert(kr_predicate_labels_changed(NULL, a, NULL));
    ck_assert(kr_predicate_annotations_changed(NULL, a, NULL));
    /* generation: a spec change, not a status write or a resync */
    ck_assert(!kr_predicate_generation_changed(a, status_only, NULL));
    ck_assert(kr_predicate_generation_changed(status_only, spec, NULL));
    ck_assert(!kr_predicate_generation_changed(a, a, NULL));
    ck_assert(kr_predicate_generation_changed(a, bare, NULL)); /* one kept, one not */
    /* resourceVersion: anything but a resync */
    ck_assert(!kr_predicate_resource_version_changed(a, a, NULL));
    ck_assert(kr_predicate_resource_version_changed(a, status_only, NULL));
    /* labels and annotations, absent the same as empty */
    ck_assert(!kr_predicate_labels_changed(a, status_only, NULL));
    ck_assert(kr_predicate_labels_changed(a, relabelled, NULL));
    ck_assert(!kr_predicate_annotations_changed(a, relabelled, NULL));
    ck_assert(kr_predicate_annotations_changed(a, bare, NULL));
    ck_assert(!kr_predicate_labels_changed(bare, bare2, NULL));
    ck_assert(kr_predicate_labels_changed(bare, a, NULL));
    /* as Go reads the fields: absent and null are the zero value, and an
     * update without its new object does not pass */
    json_t *gen0 = json_pack("{s:{s:i, s:s, s:n}}", "metadata", "generation", 0, "resourceVersion",
                             "", "labels");
    json_t *empty = json_pack("{s:{s:n}}", "metadata", "generation");
    ck_assert(!kr_predicate_generation_changed(gen0, empty, NULL));
    ck_assert(!kr_predicate_resource_version_changed(gen0, empty, NULL));
    ck_assert(!kr_predicate_labels_changed(gen0, empty, NULL));
    ck_assert(!kr_predicate_labels_changed(gen0, bare, NULL)); /* null and {} */
    ck_assert(!kr_predicate_annotations_changed(gen0, empty, NULL));
    ck_assert(!kr_predicate_generation_changed(a, NULL, NULL));
    ck_assert(!kr_predicate_resource_version_changed(a, NULL, NULL));
    ck_assert(!kr_predicate_labels_changed(a, NULL, NULL));
    ck_assert(!kr_predicate_annotations_changed(a, NULL, NULL));
    json_decref(gen0);
    json_decref(empty);
    json_decref(a);
    json_decref(status_only);
    json_decref(spec);
    json_decref(relabelled);
    json_decref(bare);
    json_decref(bare2);
}
END_TEST

/* A name shows as it is in logs, metrics labels and /readyz lines: an
 * empty one, one with a control character or a quote is refused. */
START_TEST(names_empty_or_with_control_characters_or_quotes_are_refused)
{
    static const char *const bad[] = {"",          "we\"ird", "new\nline", "it's",
                                      "tab\there", "del\x7f", "cr\r"};
    kr_controller_t *ctl = NULL;
    kr_error_t err = {0};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
        o.name = bad[i];
        o.reconcile = reconcile;
        ck_assert_msg(kr_controller_new(&o, &ctl, &err) == KR_EINVAL, "name %zu taken", i);
        ck_assert_ptr_null(ctl);
        ck_assert_msg(!strchr(err.message, '\n'), "%s", err.message);
    }
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = "we\"ird";
    o.reconcile = reconcile;
    ck_assert_int_eq(kr_controller_new(&o, &ctl, &err), KR_EINVAL);
    ck_assert_str_eq(err.message, "controller: invalid name: byte 2 is a quote, 0x22 (a name has "
                                  "no control characters or quotes)");
    o.name = "runner-v2 (hub)"; /* anything printable else */
    ck_assert_msg(kr_controller_new(&o, &ctl, &err) == 0, "%s", err.message);
    ck_assert_str_eq(kr_controller_name(ctl), "runner-v2 (hub)");
    kr_controller_free(ctl);
}
END_TEST

START_TEST(new_and_enqueue_refuse_bad_arguments)
{
    kr_controller_t *ctl = NULL;
    kr_controller_opts o = {0};
    ck_assert_int_eq(kr_controller_new(&o, &ctl, NULL), KR_EINVAL);
    o.name = "x";
    ck_assert_int_eq(kr_controller_new(&o, &ctl, NULL), KR_EINVAL); /* no reconcile */
    /* a worker count no machine has threads for (-3 cast, say) is a mistake */
    kr_controller_opts many = {.name = "many", .reconcile = reconcile, .workers = (unsigned)-3};
    kr_error_t err = {0};
    ck_assert_int_eq(kr_controller_new(&many, &ctl, &err), KR_EINVAL);
    ck_assert_str_eq(err.message, "controller many: 4294967293 workers (at most 10000)");
    tctx t;
    tctx_init(&t, NULL);
    ctl = controller_new(&t, "args", 1, NULL, true, NULL, 0);
    ck_assert_str_eq(kr_controller_name(ctl), "args");
    ck_assert(!kr_controller_ready(ctl));
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "ns", NULL), KR_EINVAL);
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "ns", ""), KR_EINVAL);
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "a/b", "c"), KR_EINVAL);
    ck_assert_int_eq(kr_controller_enqueue(ctl, "dc/1", "a", "c"), KR_EINVAL);
    ck_assert_int_eq(kr_controller_enqueue_key(ctl, ""), KR_EINVAL);
    ck_assert_int_eq(kr_controller_enqueue_key(ctl, "a//b"), KR_EINVAL);
    ck_assert_int_eq(kr_controller_enqueue_key(ctl, "a/b/c/d"), KR_EINVAL);
    /* no cluster's lane yet: its keys have no cluster, and "a/b/c" is a
     * key of the wrong shape, not a lane for "a" */
    ck_assert_int_eq(kr_controller_enqueue_key(ctl, "a/b/c"), KR_EINVAL);
    ck_assert(!kr_controller_pending(ctl, "a", "b", "c"));
    kr_controller_stats none;
    kr_controller_get_stats(ctl, &none, sizeof(none));
    ck_assert_uint_eq(none.lanes, 0);
    kr_controller_source s = KR_CONTROLLER_SOURCE_INIT;
    ck_assert_int_eq(kr_controller_watch(ctl, &s, NULL), KR_EINVAL); /* no informer */
    /* keys before start wait in their lanes; a ready-made key finds its lane */
    ck_assert_int_eq(kr_controller_enqueue(ctl, "dc1", "ns", "a"), 0);
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "ns", "a"), 0);
    ck_assert_int_eq(kr_controller_enqueue_key(ctl, "dc1/node"), 0); /* dc1 has a lane */
    ck_assert_int_eq(kr_controller_enqueue_key(ctl, "other/x"), 0); /* namespace/name */
    ck_assert_int_eq(kr_controller_enqueue_key(ctl, "dc2/ns/b"), 0); /* makes dc2's lane */
    ck_assert_uint_eq(kr_controller_queue_len(ctl, "dc1"), 2);
    ck_assert_uint_eq(kr_controller_queue_len(ctl, NULL), 2);
    ck_assert_uint_eq(kr_controller_queue_len(ctl, "dc2"), 1);
    ck_assert_uint_eq(kr_controller_queue_len(ctl, "nowhere"), 0);
    /* pending: the key of (namespace, name) queued in that lane */
    ck_assert(kr_controller_pending(ctl, "dc1", "ns", "a"));
    ck_assert(kr_controller_pending(ctl, "dc1", NULL, "node"));
    ck_assert(kr_controller_pending(ctl, NULL, "ns", "a"));
    ck_assert(kr_controller_pending(ctl, "", "other", "x"));
    ck_assert(kr_controller_pending(ctl, "dc2", "ns", "b"));
    ck_assert(!kr_controller_pending(ctl, "dc2", "ns", "a"));
    ck_assert(!kr_controller_pending(ctl, "dc1", "other", "a"));
    ck_assert(!kr_controller_pending(ctl, "nowhere", "ns", "a"));
    ck_assert(!kr_controller_pending(ctl, "dc1", "a/b", "c"));
    ck_assert(!kr_controller_pending(ctl, "dc1", "ns", NULL));
    ck_assert(!kr_controller_pending(NULL, "dc1", "ns", "a"));
    ck_assert_int_eq(kr_controller_enqueue_after(ctl, "dc1", "ns", "later", 3600000), 0);
    ck_assert(!kr_controller_pending(ctl, "dc1", "ns", "later")); /* waiting, not queued */
    kr_controller_stats st;
    kr_controller_get_stats(ctl, &st, sizeof(st));
    ck_assert_uint_eq(st.lanes, 3);
    ck_assert_uint_eq(st.queued, 5);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0); /* idempotent */
    ck_assert_int_eq(kr_controller_start(ctl, NULL), KR_ESTATE);
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "ns", "a"), KR_ESHUTDOWN);
    ck_assert_int_eq(kr_controller_enqueue(ctl, "dc9", "ns", "a"), KR_ESHUTDOWN);
    kr_controller_free(ctl);
    kr_controller_free(NULL);
    tctx_destroy(&t);
}
END_TEST

static kr_reconcile_result noop_reconcile(kr_controller_t *ctl, const kr_reconcile_request *req,
                                          uint64_t *requeue_after_ms, kr_error_t *err, void *user)
{
    (void)ctl;
    (void)req;
    (void)requeue_after_ms;
    (void)err;
    (void)user;
    return KR_RECONCILE_DONE;
}

static void *start_main(void *arg)
{
    kr_controller_start(arg, NULL); /* KR_ESTATE when the stop came first */
    return NULL;
}

/* A start and a stop at once, from two threads: the stop finds none or
 * all of the workers to join (none is left running on a freed controller,
 * which the sanitizers would see), and a stopped controller is never
 * ready, however the first worker's sync check fell. */
START_TEST(start_and_stop_at_once_leave_no_worker_behind)
{
    for (int i = 0; i < 200; i++) {
        kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
        o.name = "race";
        o.reconcile = noop_reconcile;
        o.workers = 4;
        kr_controller_t *ctl = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_controller_new(&o, &ctl, &err) == 0, "%s", err.message);
        ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "ns", "a"), 0);
        pthread_t starter;
        ck_assert_int_eq(pthread_create(&starter, NULL, start_main, ctl), 0);
        if (i % 2) /* half the time the workers are running already */
            sched_yield();
        ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
        pthread_join(starter, NULL);
        ck_assert(!kr_controller_ready(ctl));
        kr_controller_free(ctl);
    }
}
END_TEST

/* lane_workers: the "slow" cluster's reconciles hang (as requests to a
 * cluster that stopped answering, until their timeout) until released;
 * the "fast" one's return at once. */
static atomic_int cap_in_flight[2], cap_max[2], cap_done[2], cap_release;

static kr_reconcile_result capped(kr_controller_t *ctl, const kr_reconcile_request *req,
                                  uint64_t *requeue_after_ms, kr_error_t *err, void *user)
{
    (void)ctl;
    (void)requeue_after_ms;
    (void)err;
    (void)user;
    int i = strcmp(req->cluster, "slow") == 0 ? 0 : 1;
    int now = atomic_fetch_add(&cap_in_flight[i], 1) + 1;
    int was = atomic_load(&cap_max[i]);
    while (now > was && !atomic_compare_exchange_weak(&cap_max[i], &was, now))
        ;
    struct timespec ms = {0, 1000000};
    while (i == 0 && !atomic_load(&cap_release))
        nanosleep(&ms, NULL);
    atomic_fetch_sub(&cap_in_flight[i], 1);
    atomic_fetch_add(&cap_done[i], 1);
    return KR_RECONCILE_DONE;
}

/* Wait up to 10 s for *v >= want. */
static bool reaches(atomic_int *v, int want)
{
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 10000 && atomic_load(v) < want; i++)
        nanosleep(&ms, NULL);
    return atomic_load(v) >= want;
}

/* With lane_workers 2 of 4 workers, a cluster whose reconciles hang holds
 * two workers at most, and the other cluster's keys are all reconciled
 * meanwhile; without the cap the hanging lane takes every worker in turn. */
START_TEST(a_lane_takes_at_most_lane_workers_and_leaves_the_rest)
{
    for (int i = 0; i < 2; i++)
        atomic_store(&cap_in_flight[i], 0), atomic_store(&cap_max[i], 0),
            atomic_store(&cap_done[i], 0);
    atomic_store(&cap_release, 0);
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = "capped";
    o.reconcile = capped;
    o.workers = 4;
    o.lane_workers = 2;
    kr_controller_t *ctl = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_new(&o, &ctl, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_controller_start(ctl, &err), 0);
    char name[16];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        ck_assert_int_eq(kr_controller_enqueue(ctl, "slow", "ns", name), 0);
    }
    ck_assert(reaches(&cap_in_flight[0], 2));
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        ck_assert_int_eq(kr_controller_enqueue(ctl, "fast", "ns", name), 0);
    }
    ck_assert_msg(reaches(&cap_done[1], 20), "the fast lane did %d of 20",
                  atomic_load(&cap_done[1]));
    struct timespec settle = {0, 200 * 1000000};
    nanosleep(&settle, NULL); /* time for more workers to get stuck, were there no cap */
    ck_assert_int_eq(atomic_load(&cap_max[0]), 2);
    atomic_store(&cap_release, 1);
    ck_assert(reaches(&cap_done[0], 6));
    ck_assert_int_le(atomic_load(&cap_max[0]), 2);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    kr_controller_free(ctl);
}
END_TEST

/* ---- create / update / delete under 4 workers ---------------------------------------- */

#define CRUD_N 40
#define CRUD_ROUNDS 5

static bool crud_converged(tctx *t, const void *arg)
{
    (void)arg;
    for (int i = 0; i < CRUD_N; i++) {
        char key[64];
        snprintf(key, sizeof(key), "default/obj-%02d", i);
        rec *r = rec_of(t, key);
        if (!r || r->inflight)
            return false;
        /* every third object is deleted at the end, the others hold the last round */
        const char *want = i % 3 == 0 ? "" : "r4";
        if (strcmp(r->last_seen, want) != 0)
            return false;
    }
    return true;
}

static void *hammer(void *arg)
{
    tctx *t = arg;
    for (int round = 0; round < 200; round++)
        for (int i = 0; i < 4; i++) {
            char name[16];
            snprintf(name, sizeof(name), "obj-%02d", i);
            kr_controller_enqueue(t->ctl, NULL, "default", name);
        }
    return NULL;
}

/* A source's resync_ms (controller-runtime's SyncPeriod) hands every
 * cached object to the controller again: a key nothing changes is
 * reconciled again, and again. */
START_TEST(a_source_with_a_resync_period_reconciles_unchanged_keys_again)
{
    cluster a;
    tctx t;
    rt = kr_test_runtime_up();
    cluster_up(&a, 13);
    write_cm(a.k.c, "steady", "x", false);
    cluster_start(&a);
    tctx_init(&t, NULL);
    t.clusters[0] = &a;
    kr_controller_t *ctl = controller_new(&t, "resync", 1, NULL, false, NULL, 0);
    kr_controller_source src = KR_CONTROLLER_SOURCE_INIT;
    src.informer = a.inf;
    src.resync_ms = 1000;
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_watch(ctl, &src, &err) == 0, "%s", err.message);
    ck_assert_msg(kr_controller_start(ctl, &err) == 0, "%s", err.message);
    wait_count(&t, "default/steady", 3); /* the first list, then two resyncs */
    one_cluster_down(&a, &t);
}
END_TEST

START_TEST(four_workers_follow_creates_updates_and_deletes_without_overlap)
{
    cluster a;
    tctx t;
    one_cluster_up(&a, 11, &t, NULL);
    t.clusters[0] = &a;
    kr_controller_t *ctl = controller_new(&t, "crud", 4, NULL, false, NULL, 0);
    watch(ctl, a.inf, NULL);
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_start(ctl, &err) == 0, "%s", err.message);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, hammer, &t), 0);
    for (int i = 0; i < CRUD_N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "obj-%02d", i);
        write_cm(a.k.c, name, "r0", false);
    }
    for (int round = 1; round < CRUD_ROUNDS; round++)
        for (int i = 0; i < CRUD_N; i++) {
            char name[16], value[8];
            snprintf(name, sizeof(name), "obj-%02d", i);
            snprintf(value, sizeof(value), "r%d", round);
            write_cm(a.k.c, name, value, true);
        }
    for (int i = 0; i < CRUD_N; i += 3) {
        char name[16];
        snprintf(name, sizeof(name), "obj-%02d", i);
        delete_cm(a.k.c, name);
    }
    pthread_join(th, NULL);
    ck_assert_msg(wait_for(&t, crud_converged, NULL), "reconciles did not see the final state");
    ck_assert(kr_controller_ready(ctl));
    ck_assert_msg(kr_controller_stop(ctl, &err) == 0, "%s", err.message);
    pthread_mutex_lock(&t.mu);
    ck_assert_int_eq(t.violations, 0);
    ck_assert_int_eq(t.bad_names, 0);
    pthread_mutex_unlock(&t.mu);
    kr_controller_stats st;
    kr_controller_get_stats(ctl, &st, sizeof(st));
    ck_assert_uint_eq(st.reconciles, st.done);
    ck_assert_uint_ge(st.reconciles, CRUD_N);
    ck_assert_uint_eq(st.active_workers, 0);
    one_cluster_down(&a, &t);
}
END_TEST

/* ---- results on an injected clock ---------------------------------------------------- */

static kr_ratelimiter_t *last_limiter;

static kr_ratelimiter_t *exponential_limiter(const char *cluster_name, void *user)
{
    (void)cluster_name;
    (void)user;
    kr_ratelimiter_t *rl = NULL;
    if (kr_ratelimiter_new_exponential(5, 1000000, &rl, NULL) != 0)
        return NULL;
    last_limiter = rl;
    return rl;
}

static kr_reconcile_result scripted(tctx *t, const kr_reconcile_request *req, int count,
                                    uint64_t *after_ms, kr_error_t *err)
{
    (void)t;
    if (strcmp(req->name, "flaky") == 0) {
        if (count < 3) {
            kr_error_set(err, KR_EUNAVAILABLE, "attempt %d failed", count + 1);
            return KR_RECONCILE_ERROR;
        }
        return KR_RECONCILE_DONE;
    }
    if (strcmp(req->name, "periodic") == 0 && count == 0) {
        *after_ms = 30000;
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    if (strcmp(req->name, "sour") == 0) { /* a failure, then a terminal one */
        kr_error_set(err, KR_EUNAVAILABLE, "attempt %d failed", count + 1);
        return count == 0 ? KR_RECONCILE_ERROR : KR_RECONCILE_TERMINAL;
    }
    if (strcmp(req->name, "zero") == 0 && count == 0) {
        *after_ms = 0; /* controller-runtime's RequeueAfter: 0 is success */
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    if (strcmp(req->name, "doomed") == 0) {
        kr_error_set(err, KR_EINVALIDOBJ, "cannot ever work");
        return KR_RECONCILE_TERMINAL;
    }
    if (strcmp(req->name, "hopeless") == 0) {
        kr_error_set(err, KR_EUNAVAILABLE, "always fails");
        return KR_RECONCILE_ERROR;
    }
    if (strcmp(req->name, "again") == 0 && count == 0)
        return KR_RECONCILE_REQUEUE;
    return KR_RECONCILE_DONE;
}

START_TEST(errors_back_off_on_the_clock_and_later_succeed)
{
    tctx t;
    tctx_init(&t, scripted);
    kr_controller_t *ctl = controller_new(&t, "backoff", 1, NULL, true, exponential_limiter, 0);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    kr_ratelimiter_t *rl = NULL;
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "default", "flaky"), 0);
    rl = last_limiter;
    wait_settled(&t, "default/flaky", 1, NULL);
    /* backoff 5 ms, 10 ms, 20 ms: not a moment earlier */
    int64_t delays[] = {5 * MS, 10 * MS, 20 * MS};
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "default/flaky"), (unsigned)i + 1);
        fake_advance(delays[i] - 1);
        sentinel_round_trip(&t, NULL);
        ck_assert_int_eq(count_of(&t, "default/flaky"), i + 1);
        fake_advance(1);
        wait_settled(&t, "default/flaky", i + 2, NULL);
    }
    /* the fourth attempt succeeded: its backoff is forgotten */
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "default/flaky"), 0);
    kr_controller_stats st;
    kr_controller_get_stats(ctl, &st, sizeof(st));
    ck_assert_uint_eq(st.errors, 3);
    ck_assert_uint_ge(st.done, 1);
    /* a requeue goes through the rate limiter without counting a failure */
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "default", "again"), 0);
    wait_settled(&t, "default/again", 1, NULL);
    fake_advance(5 * MS);
    wait_count(&t, "default/again", 2);
    kr_controller_get_stats(ctl, &st, sizeof(st));
    ck_assert_uint_eq(st.requeues, 1);
    ck_assert_uint_eq(st.errors, 3);
    /* a terminal error keeps the backoff the key built up (controller-runtime) */
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "default", "sour"), 0);
    wait_settled(&t, "default/sour", 1, NULL);
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "default/sour"), 1);
    fake_advance(5 * MS);
    wait_settled(&t, "default/sour", 2, NULL);
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "default/sour"), 1);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    kr_controller_free(ctl);
    tctx_destroy(&t);
}
END_TEST

START_TEST(requeue_after_is_honoured_on_the_injected_clock)
{
    tctx t;
    tctx_init(&t, scripted);
    kr_controller_t *ctl = controller_new(&t, "after", 1, NULL, true, NULL, 0);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    ck_assert_int_eq(kr_controller_enqueue(ctl, "dc1", "default", "periodic"), 0);
    wait_settled(&t, "dc1/default/periodic", 1, "dc1");
    fake_advance(30000 * MS - 1);
    sentinel_round_trip(&t, "dc1");
    ck_assert_int_eq(count_of(&t, "dc1/default/periodic"), 1);
    fake_advance(1);
    wait_count(&t, "dc1/default/periodic", 2);
    kr_controller_stats st;
    kr_controller_get_stats(ctl, &st, sizeof(st));
    ck_assert_uint_eq(st.requeues_after, 1);
    /* after 0 ms is done: not reconciled again */
    ck_assert_int_eq(kr_controller_enqueue(ctl, "dc1", "default", "zero"), 0);
    wait_count(&t, "dc1/default/zero", 1);
    sentinel_round_trip(&t, "dc1");
    fake_advance(1000 * MS);
    sentinel_round_trip(&t, "dc1");
    ck_assert_int_eq(count_of(&t, "dc1/default/zero"), 1);
    kr_controller_get_stats(ctl, &st, sizeof(st));
    ck_assert_uint_eq(st.requeues_after, 1);
    /* an explicit delayed enqueue waits on the same clock */
    ck_assert_int_eq(kr_controller_enqueue_after(ctl, "dc1", "default", "later", 1000), 0);
    sentinel_round_trip(&t, "dc1");
    ck_assert_int_eq(count_of(&t, "dc1/default/later"), 0);
    fake_advance(1000 * MS);
    wait_count(&t, "dc1/default/later", 1);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    kr_controller_free(ctl);
    tctx_destroy(&t);
}
END_TEST

START_TEST(terminal_errors_are_not_retried_and_max_retries_gives_up)
{
    tctx t;
    tctx_init(&t, scripted);
    kr_metrics_registry_t *reg = NULL;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    kr_controller_t *ctl = controller_new(&t, "terminal", 1, reg, true, NULL, 2);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "default", "doomed"), 0);
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "default", "hopeless"), 0);
    wait_count(&t, "default/doomed", 1);
    wait_settled(&t, "default/hopeless", 1, NULL);
    /* hopeless: failures 2 and 3; the third exceeds max_retries 2 */
    for (int i = 0; i < 4; i++) {
        fake_advance(2000 * 1000 * MS);
        sentinel_round_trip(&t, NULL);
    }
    ck_assert_int_eq(count_of(&t, "default/doomed"), 1);
    ck_assert_int_eq(count_of(&t, "default/hopeless"), 3);
    kr_controller_stats st;
    kr_controller_get_stats(ctl, &st, sizeof(st));
    ck_assert_uint_eq(st.terminal_errors, 1);
    ck_assert_uint_eq(st.gave_up, 1);
    ck_assert_uint_eq(st.errors, 3);
    ck_assert_uint_eq(kr_controller_queue_len(ctl, NULL), 0);
    /* the next event brings it back */
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "default", "doomed"), 0);
    wait_count(&t, "default/doomed", 2);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    char *text = NULL;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(
        text, "controller_runtime_terminal_reconcile_errors_total{controller=\"terminal\"} 3"));
    ck_assert_ptr_nonnull(
        strstr(text, "controller_runtime_reconcile_errors_total{controller=\"terminal\"} 5"));
    ck_assert_ptr_nonnull(strstr(
        text, "controller_runtime_reconcile_total{controller=\"terminal\",result=\"error\"} 5"));
    kr_free(text);
    kr_controller_free(ctl);
    kr_metrics_registry_free(reg);
    tctx_destroy(&t);
}
END_TEST

/* ---- owner mapping ------------------------------------------------------------------- */

static json_t *owned_cm(const char *name, const char *owner_api, const char *owner_kind,
                        const char *owner)
{
    json_t *o = cm(name, "x");
    json_t *refs = json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", owner_api, "kind",
                             owner_kind, "name", owner, "uid", "u-1", "controller", 1);
    json_object_set_new(json_object_get(o, "metadata"), "ownerReferences", refs);
    return o;
}

static void create_json(kr_client_t *c, json_t *o, bool update)
{
    kr_error_t err = {0};
    int rc = update ? kr_client_update(c, CM, "default", o, NULL, NULL, &err)
                    : kr_client_create(c, CM, "default", o, NULL, NULL, &err);
    json_decref(o);
    ck_assert_msg(rc == 0, "%s", err.message);
}

START_TEST(owner_mapping_enqueues_the_owner_of_matching_kind_and_group)
{
    cluster a;
    tctx t;
    one_cluster_up(&a, 12, &t, NULL);
    kr_controller_t *ctl = controller_new(&t, "owners", 2, NULL, false, NULL, 0);
    kr_controller_source s = KR_CONTROLLER_SOURCE_INIT;
    s.informer = a.inf;
    s.map = KR_CONTROLLER_MAP_OWNER;
    s.owner_kind = "Runnable";
    s.owner_group = "batch.example.com";
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_watch(ctl, &s, &err) == 0, "%s", err.message);
    /* a cluster-scoped owner: its key has no namespace */
    kr_controller_source cs = KR_CONTROLLER_SOURCE_INIT;
    cs.informer = a.inf;
    cs.map = KR_CONTROLLER_MAP_OWNER;
    cs.owner_kind = "ClusterWidget";
    cs.owner_cluster_scoped = true;
    ck_assert_msg(kr_controller_watch(ctl, &cs, &err) == 0, "%s", err.message);
    s.owner_kind = NULL;
    ck_assert_int_eq(kr_controller_watch(ctl, &s, NULL), KR_EINVAL);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    create_json(a.k.c, owned_cm("part-1", "example.com/v1", "ClusterWidget", "w1"), false);
    wait_count(&t, "w1", 1);
    create_json(a.k.c, owned_cm("job-1", "batch.example.com/v1", "Runnable", "run-a"), false);
    create_json(a.k.c, owned_cm("job-2", "other.example.com/v1", "Runnable", "run-wrong-group"),
                false);
    create_json(a.k.c, owned_cm("job-3", "batch.example.com/v1", "Pipeline", "run-wrong-kind"),
                false);
    write_cm(a.k.c, "unowned", "x", false);
    wait_count(&t, "default/run-a", 1);
    /* a new owner: both the old and the new one are looked at */
    int before = count_of(&t, "default/run-a");
    create_json(a.k.c, owned_cm("job-1", "batch.example.com/v1", "Runnable", "run-b"), true);
    wait_count(&t, "default/run-b", 1);
    wait_count(&t, "default/run-a", before + 1);
    /* the deletion of an owned object reaches its owner */
    before = count_of(&t, "default/run-b");
    delete_cm(a.k.c, "job-1");
    wait_count(&t, "default/run-b", before + 1);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    pthread_mutex_lock(&t.mu);
    for (size_t i = 0; i < t.nrecs; i++)
        ck_assert_msg(strcmp(t.recs[i].key, "default/run-a") == 0 ||
                          strcmp(t.recs[i].key, "default/run-b") == 0 ||
                          strcmp(t.recs[i].key, "w1") == 0,
                      "unexpected key %s", t.recs[i].key);
    ck_assert_int_eq(t.violations, 0);
    pthread_mutex_unlock(&t.mu);
    one_cluster_down(&a, &t);
}
END_TEST

/* A ConfigMap with two Runnable owners: `ctl` its controller, `other` not
 * (its reference's "controller" is false, or absent with `absent`). */
static json_t *two_owners_cm(const char *name, const char *kind, const char *ctl, const char *other,
                             bool absent)
{
    json_t *o = cm(name, "x");
    json_t *refs =
        json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]", "apiVersion",
                  "batch.example.com/v1", "kind", kind, "name", other, "uid", "u-2", "apiVersion",
                  "batch.example.com/v1", "kind", kind, "name", ctl, "uid", "u-1");
    if (!absent)
        json_object_set_new(json_array_get(refs, 0), "controller", json_false());
    if (ctl[0])
        json_object_set_new(json_array_get(refs, 1), "controller", json_true());
    else
        json_array_remove(refs, 1);
    json_object_set_new(json_object_get(o, "metadata"), "ownerReferences", refs);
    return o;
}

START_TEST(owner_mapping_with_controller_only_maps_to_the_controller)
{
    cluster a;
    tctx t;
    one_cluster_up(&a, 15, &t, NULL);
    kr_controller_t *ctl = controller_new(&t, "controller-owner", 1, NULL, false, NULL, 0);
    kr_controller_source s = KR_CONTROLLER_SOURCE_INIT;
    s.informer = a.inf;
    s.map = KR_CONTROLLER_MAP_OWNER;
    s.owner_kind = "Runnable";
    s.owner_controller_only = true;
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_watch(ctl, &s, &err) == 0, "%s", err.message);
    /* a caller of version 5 never set it: every owner of the kind, as before */
    kr_controller_source v5 = s;
    v5.version = 5;
    v5.owner_kind = "Pipeline";
    ck_assert_msg(kr_controller_watch(ctl, &v5, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    create_json(a.k.c, two_owners_cm("job-1", "Runnable", "run-ctl", "run-ref", false), false);
    create_json(a.k.c, two_owners_cm("job-2", "Runnable", "", "run-ref-only", true), false);
    create_json(a.k.c, two_owners_cm("job-3", "Pipeline", "pipe-ctl", "pipe-ref", true), false);
    wait_count(&t, "default/run-ctl", 1);
    wait_count(&t, "default/pipe-ctl", 1);
    wait_count(&t, "default/pipe-ref", 1);
    /* the last event's keys are reconciled, on one worker, after the earlier ones */
    create_json(a.k.c, two_owners_cm("job-4", "Runnable", "run-last", "run-ref-last", false),
                false);
    wait_count(&t, "default/run-last", 1);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    ck_assert_int_eq(count_of(&t, "default/run-ref"), 0);
    ck_assert_int_eq(count_of(&t, "default/run-ref-only"), 0);
    ck_assert_int_eq(count_of(&t, "default/run-ref-last"), 0);
    one_cluster_down(&a, &t);
}
END_TEST

/* ---- a user mapper and a predicate --------------------------------------------------- */

static void map_to_config(kr_controller_t *ctl, const char *cluster_name, const json_t *obj,
                          void *user)
{
    (void)obj;
    (void)user;
    kr_controller_enqueue(ctl, cluster_name, "default", "the-config");
}

static bool not_skipped(const json_t *old_obj, const json_t *new_obj, void *user)
{
    (void)old_obj;
    (void)user;
    const char *name =
        json_string_value(json_object_get(json_object_get(new_obj, "metadata"), "name"));
    return name && strncmp(name, "skip-", 5) != 0;
}

START_TEST(user_mapper_and_predicate_decide_the_keys)
{
    cluster a;
    tctx t;
    one_cluster_up(&a, 13, &t, NULL);
    kr_controller_t *ctl = controller_new(&t, "mapped", 1, NULL, false, NULL, 0);
    kr_controller_source s = KR_CONTROLLER_SOURCE_INIT;
    s.informer = a.inf;
    s.cluster = "hub";
    s.predicate = not_skipped;
    ck_assert_int_eq(kr_controller_watch(ctl, &s, NULL), 0);
    s.map = KR_CONTROLLER_MAP_FUNC;
    s.map_cb = map_to_config;
    ck_assert_int_eq(kr_controller_watch(ctl, &s, NULL), 0);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    write_cm(a.k.c, "skip-me", "x", false);
    write_cm(a.k.c, "take-me", "x", false);
    wait_count(&t, "hub/default/take-me", 1);
    wait_count(&t, "hub/default/the-config", 1);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    ck_assert_int_eq(count_of(&t, "hub/default/skip-me"), 0);
    one_cluster_down(&a, &t);
}
END_TEST

/* ---- two clusters -------------------------------------------------------------------- */

START_TEST(one_controller_over_two_clusters_keys_carry_the_cluster)
{
    rt = kr_test_runtime_up();
    cluster a, b;
    cluster_up(&a, 21);
    cluster_up(&b, 22);
    cluster_start(&a);
    cluster_start(&b);
    tctx t;
    tctx_init(&t, NULL);
    t.clusters[0] = &a;
    t.clusters[1] = &b;
    t.cluster_names[0] = "dc1";
    t.cluster_names[1] = "dc2";
    kr_metrics_registry_t *reg = NULL;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    kr_controller_t *ctl = controller_new(&t, "multi", 4, reg, false, NULL, 0);
    watch(ctl, a.inf, "dc1");
    watch(ctl, b.inf, "dc2");
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    write_cm(a.k.c, "same", "from-a", false);
    write_cm(b.k.c, "same", "from-b", false);
    write_cm(b.k.c, "only-b", "b", false);
    wait_count(&t, "dc1/default/same", 1);
    wait_count(&t, "dc2/default/same", 1);
    wait_count(&t, "dc2/default/only-b", 1);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    pthread_mutex_lock(&t.mu);
    ck_assert_str_eq(rec_of(&t, "dc1/default/same")->last_seen, "from-a");
    ck_assert_str_eq(rec_of(&t, "dc1/default/same")->cluster, "dc1");
    ck_assert_str_eq(rec_of(&t, "dc2/default/same")->last_seen, "from-b");
    ck_assert_str_eq(rec_of(&t, "dc2/default/same")->cluster, "dc2");
    ck_assert_int_eq(t.violations, 0);
    pthread_mutex_unlock(&t.mu);
    ck_assert_int_eq(count_of(&t, "dc1/default/only-b"), 0);
    kr_controller_stats st;
    kr_controller_get_stats(ctl, &st, sizeof(st));
    ck_assert_uint_eq(st.lanes, 2);
    /* the metrics, with controller-runtime's names and the lanes' workqueues */
    char *text = NULL;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    static const char *const want[] = {
        "controller_runtime_reconcile_total{controller=\"multi\",result=\"success\"}",
        "controller_runtime_reconcile_total{controller=\"multi\",result=\"error\"} 0",
        "controller_runtime_reconcile_total{controller=\"multi\",result=\"requeue\"} 0",
        "controller_runtime_reconcile_total{controller=\"multi\",result=\"requeue_after\"} 0",
        "controller_runtime_reconcile_errors_total{controller=\"multi\"} 0",
        "controller_runtime_terminal_reconcile_errors_total{controller=\"multi\"} 0",
        "controller_runtime_reconcile_time_seconds_bucket{controller=\"multi\",le=\"0.005\"}",
        "controller_runtime_reconcile_time_seconds_bucket{controller=\"multi\",le=\"60\"}",
        "controller_runtime_reconcile_time_seconds_count{controller=\"multi\"}",
        "controller_runtime_max_concurrent_reconciles{controller=\"multi\"} 4",
        "controller_runtime_active_workers{controller=\"multi\"} 0",
        "workqueue_adds_total{name=\"multi/dc1\"}",
        "workqueue_depth{name=\"multi/dc2\"} 0",
        "workqueue_work_duration_seconds_count{name=\"multi/dc2\"}",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_msg(strstr(text, want[i]), "missing %s in\n%s", want[i], text);
    kr_free(text);
    kr_controller_free(ctl);
    kr_metrics_registry_free(reg);
    tctx_destroy(&t);
    cluster_down(&a);
    cluster_down(&b);
    kr_runtime_free(rt);
}
END_TEST

/* ---- priorities ---------------------------------------------------------------------- */

static uint64_t first_of(tctx *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    rec *r = rec_of(t, key);
    uint64_t first = r ? r->first : 0;
    pthread_mutex_unlock(&t->mu);
    return first;
}

START_TEST(the_initial_list_waits_behind_a_real_change)
{
    rt = kr_test_runtime_up();
    cluster a;
    cluster_up(&a, 61);
    load_cms(a.k.ts, "pre", 20);
    cluster_start(&a);
    ck_assert_int_eq(kr_informer_wait_for_sync(a.inf, WAIT_MS, NULL), 0);
    for (int normal = 0; normal < 2; normal++) {
        tctx t;
        tctx_init(&t, NULL);
        kr_controller_t *ctl = controller_new(&t, "prio", 1, NULL, false, NULL, 0);
        kr_controller_source s = KR_CONTROLLER_SOURCE_INIT;
        s.informer = a.inf;
        s.normal_priority_resync = normal;
        ck_assert_int_eq(kr_controller_watch(ctl, &s, NULL), 0); /* the cache replayed */
        ck_assert_uint_eq(kr_controller_queue_len(ctl, NULL), 20);
        ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "default", "urgent"), 0);
        ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
        wait_count(&t, "default/urgent", 1);
        wait_count(&t, "default/pre-019", 1);
        /* low priority: the change goes first; normal: in arrival order */
        ck_assert_uint_eq(first_of(&t, "default/urgent"), normal ? 21 : 1);
        ck_assert_uint_eq(first_of(&t, "default/pre-000"), normal ? 1 : 2);
        kr_controller_free(ctl);
        tctx_destroy(&t);
    }
    cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

static uint64_t no_delay(void *impl, const char *key, int64_t now_ns)
{
    (void)impl;
    (void)key;
    (void)now_ns;
    return 0;
}

static const kr_ratelimiter_vtable no_delay_vt = {.when = no_delay};

static kr_ratelimiter_t *no_delay_limiter(const char *cluster_name, void *user)
{
    (void)cluster_name;
    (void)user;
    kr_ratelimiter_t *rl = NULL;
    kr_ratelimiter_custom c = {&no_delay_vt, NULL};
    return kr_ratelimiter_new_custom(c, &rl, NULL) == 0 ? rl : NULL;
}

static uint64_t retry_order; /* t->order when pre-000's retry began */

static kr_reconcile_result fail_initial_once(tctx *t, const kr_reconcile_request *req, int count,
                                             uint64_t *after_ms, kr_error_t *err)
{
    (void)after_ms;
    if (strncmp(req->name, "pre-", 4) != 0)
        return KR_RECONCILE_DONE;
    if (count == 0) {
        kr_error_set(err, KR_EUNAVAILABLE, "not yet");
        return KR_RECONCILE_ERROR;
    }
    if (strcmp(req->name, "pre-000") == 0 && count == 1) {
        pthread_mutex_lock(&t->mu);
        retry_order = t->order + 1;
        pthread_mutex_unlock(&t->mu);
    }
    return KR_RECONCILE_DONE;
}

/* A key of the initial list that fails is retried in the low lane, as
 * controller-runtime requeues with the priority a key was handed out
 * with: behind the rest of that list, not ahead of it (nor of real
 * changes). */
START_TEST(a_failed_initial_list_key_is_retried_in_the_low_lane)
{
    rt = kr_test_runtime_up();
    cluster a;
    cluster_up(&a, 62);
    load_cms(a.k.ts, "pre", 20);
    cluster_start(&a);
    ck_assert_int_eq(kr_informer_wait_for_sync(a.inf, WAIT_MS, NULL), 0);
    tctx t;
    tctx_init(&t, fail_initial_once);
    kr_controller_t *ctl = controller_new(&t, "prio-retry", 1, NULL, false, no_delay_limiter, 0);
    kr_controller_source s = KR_CONTROLLER_SOURCE_INIT;
    s.informer = a.inf;
    ck_assert_int_eq(kr_controller_watch(ctl, &s, NULL), 0); /* 20 keys, low priority */
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    wait_count(&t, "default/pre-000", 2);
    wait_count(&t, "default/pre-019", 2);
    pthread_mutex_lock(&t.mu);
    uint64_t retry = retry_order;
    pthread_mutex_unlock(&t.mu);
    ck_assert_msg(retry > first_of(&t, "default/pre-019"),
                  "the retry of a low-priority key (#%llu) overtook the initial list (pre-019 "
                  "first at #%llu)",
                  (unsigned long long)retry, (unsigned long long)first_of(&t, "default/pre-019"));
    kr_controller_free(ctl);
    tctx_destroy(&t);
    cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

/* ---- fairness ------------------------------------------------------------------------ */

#define GOOD_N 50
#define BAD_N 400

static kr_reconcile_result bad_cluster_fails(tctx *t, const kr_reconcile_request *req, int count,
                                             uint64_t *after_ms, kr_error_t *err)
{
    (void)count;
    (void)after_ms;
    pthread_mutex_lock(&t->mu);
    kr_reconcile_result res = KR_RECONCILE_DONE;
    if (strcmp(req->cluster, "bad") == 0) {
        t->bad_seen++;
        kr_error_set(err, KR_EUNAVAILABLE, "every write to this cluster fails");
        res = KR_RECONCILE_ERROR;
    } else if (++t->good_done == t->good_total) {
        t->bad_seen_when_good_done = t->bad_seen;
        t->bad_queued_when_good_done = kr_controller_queue_len(t->ctl, "bad");
    }
    pthread_mutex_unlock(&t->mu);
    return res;
}

static bool good_all_done(tctx *t, const void *arg)
{
    (void)arg;
    return t->bad_seen_when_good_done >= 0;
}

START_TEST(a_failing_cluster_does_not_hold_up_a_healthy_one)
{
    rt = kr_test_runtime_up();
    cluster good, bad;
    cluster_up(&good, 31);
    cluster_up(&bad, 32);
    /* both backlogs exist before the workers start */
    load_cms(good.k.ts, "g", GOOD_N);
    load_cms(bad.k.ts, "b", BAD_N);
    cluster_start(&good);
    cluster_start(&bad);
    tctx t;
    tctx_init(&t, bad_cluster_fails);
    t.good_total = GOOD_N;
    /* frozen clock: a failed key stays in backoff. One worker: the order of
     * completions is the order of hand-outs (with two, a worker preempted
     * in a healthy reconcile on a busy machine would finish it last) */
    kr_controller_t *ctl = controller_new(&t, "fair", 1, NULL, true, NULL, 0);
    watch(ctl, bad.inf, "bad");
    watch(ctl, good.inf, "good");
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    ck_assert(wait_for(&t, good_all_done, NULL));
    /* the healthy lane finished while the failing lane was still backlogged:
     * they were served in turn, not one after the other */
    pthread_mutex_lock(&t.mu);
    int bad_seen = t.bad_seen_when_good_done;
    size_t bad_queued = t.bad_queued_when_good_done;
    pthread_mutex_unlock(&t.mu);
    ck_assert_msg(bad_seen <= GOOD_N + 1, "%d failing reconciles before the %d healthy ones",
                  bad_seen, GOOD_N);
    ck_assert_uint_ge(bad_queued, BAD_N - GOOD_N - 1);
    /* and every failure is in backoff, none retried on the frozen clock */
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    pthread_mutex_lock(&t.mu);
    for (size_t i = 0; i < t.nrecs; i++)
        ck_assert_int_le(t.recs[i].count, 1);
    pthread_mutex_unlock(&t.mu);
    kr_controller_free(ctl);
    tctx_destroy(&t);
    cluster_down(&good);
    cluster_down(&bad);
    kr_runtime_free(rt);
}
END_TEST

/* A lane_sync source holds its own cluster's lane until its informer has
 * synced, not the workers' start: with one cluster failing every request
 * from the start, the other's keys are reconciled; the failing one's wait
 * in their lane and are reconciled once it answers and its cache syncs. */
START_TEST(a_cluster_unreachable_at_start_holds_only_its_own_lane)
{
    rt = kr_test_runtime_up();
    cluster a, b;
    cluster_up(&a, 41);
    cluster_up(&b, 42);
    write_cm(b.k.c, "there", "b", false);
    kr_testserver_faults down = {.fail_503 = 1.0};
    kr_testserver_set_faults(b.k.ts, &down);
    write_cm(a.k.c, "x", "a", false);
    cluster_start(&a);
    cluster_start(&b);
    tctx t;
    tctx_init(&t, NULL);
    kr_controller_t *ctl = controller_new(&t, "held", 1, NULL, false, NULL, 0);
    watch(ctl, a.inf, "dc1");
    kr_controller_source held = KR_CONTROLLER_SOURCE_INIT;
    held.informer = b.inf;
    held.cluster = "dc2";
    held.lane_sync = true;
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_watch(ctl, &held, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    wait_count(&t, "dc1/default/x", 1);
    ck_assert(kr_controller_ready(ctl));
    /* one worker serves the lanes in turn: a lane that were not held
     * would have its key reconciled between two sentinels */
    ck_assert_int_eq(kr_controller_enqueue(ctl, "dc2", "default", "queued"), 0);
    sentinel_round_trip(&t, "dc1");
    ck_assert(!kr_informer_has_synced(b.inf));
    ck_assert_int_eq(count_of(&t, "dc2/default/queued"), 0);
    ck_assert_int_eq(count_of(&t, "dc2/default/there"), 0);
    /* the cluster answers again: its cache syncs and its lane runs */
    kr_testserver_faults up = {0};
    kr_testserver_set_faults(b.k.ts, &up);
    wait_count(&t, "dc2/default/queued", 1);
    wait_count(&t, "dc2/default/there", 1);
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    pthread_mutex_lock(&t.mu);
    ck_assert_int_eq(t.violations, 0);
    pthread_mutex_unlock(&t.mu);
    kr_controller_free(ctl);
    tctx_destroy(&t);
    cluster_down(&a);
    cluster_down(&b);
    kr_runtime_free(rt);
}
END_TEST

/* ---- graceful stop ------------------------------------------------------------------- */

static atomic_int release_slow;
static atomic_int slow_started;

static kr_reconcile_result slow(tctx *t, const kr_reconcile_request *req, int count,
                                uint64_t *after_ms, kr_error_t *err)
{
    (void)t;
    (void)req;
    (void)count;
    (void)after_ms;
    (void)err;
    atomic_store(&slow_started, 1);
    while (!atomic_load(&release_slow))
        sched_yield();
    return KR_RECONCILE_DONE;
}

static void release_on_warning(kr_log_level level, const char *module, const char *message,
                               void *user)
{
    (void)module;
    (void)user;
    if (level == KR_LOG_WARN && strstr(message, "still running"))
        atomic_store(&release_slow, 1);
}

START_TEST(stop_reports_a_reconcile_past_the_deadline_and_still_joins_it)
{
    cluster a;
    tctx t;
    one_cluster_up(&a, 41, &t, slow);
    atomic_store(&release_slow, 0);
    atomic_store(&slow_started, 0);
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = "slow";
    o.reconcile = reconcile;
    o.user = &t;
    o.workers = 2;
    o.shutdown_timeout_ms = 20;
    o.logger = (kr_logger){.cb = release_on_warning, .max_level = KR_LOG_WARN};
    ck_assert_int_eq(kr_controller_new(&o, &t.ctl, NULL), 0);
    watch(t.ctl, a.inf, NULL);
    ck_assert_int_eq(kr_controller_start(t.ctl, NULL), 0);
    write_cm(a.k.c, "stuck", "x", false);
    while (!atomic_load(&slow_started))
        sched_yield();
    kr_error_t err = {0};
    ck_assert_int_eq(kr_controller_stop(t.ctl, &err), KR_ETIMEDOUT);
    ck_assert_int_eq(count_of(&t, "default/stuck"), 1); /* finished before stop returned */
    kr_controller_stats st;
    kr_controller_get_stats(t.ctl, &st, sizeof(st));
    ck_assert_uint_eq(st.active_workers, 0);
    /* stopped: the informer's events no longer reach it */
    write_cm(a.k.c, "after-stop", "x", false);
    ck_assert_int_eq(kr_controller_watch(t.ctl, &(kr_controller_source){.informer = a.inf}, NULL),
                     KR_ESHUTDOWN);
    one_cluster_down(&a, &t);
}
END_TEST

/* A long reconcile that watches kr_controller_stopping() (at most 15 s). */
static kr_reconcile_result until_stopping(tctx *t, const kr_reconcile_request *req, int count,
                                          uint64_t *after_ms, kr_error_t *err)
{
    (void)req;
    (void)count;
    (void)after_ms;
    (void)err;
    ck_assert(!kr_controller_stopping(t->ctl));
    atomic_store(&slow_started, 1);
    for (int i = 0; i < 15000 && !kr_controller_stopping(t->ctl); i++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    return KR_RECONCILE_REQUEUE;
}

/* A reconcile that checks kr_controller_stopping() between its steps ends
 * early, so the stop finishes well within its timeout. */
START_TEST(a_long_reconcile_sees_the_stop_begin_and_returns_early)
{
    cluster a;
    tctx t;
    one_cluster_up(&a, 43, &t, until_stopping);
    atomic_store(&slow_started, 0);
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = "long";
    o.reconcile = reconcile;
    o.user = &t;
    o.shutdown_timeout_ms = 10000;
    ck_assert_int_eq(kr_controller_new(&o, &t.ctl, NULL), 0);
    ck_assert(!kr_controller_stopping(t.ctl));
    watch(t.ctl, a.inf, NULL);
    ck_assert_int_eq(kr_controller_start(t.ctl, NULL), 0);
    write_cm(a.k.c, "long", "x", false);
    while (!atomic_load(&slow_started))
        sched_yield();
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_stop(t.ctl, &err) == 0, "%s", err.message);
    ck_assert(kr_controller_stopping(t.ctl));
    ck_assert_int_eq(count_of(&t, "default/long"), 1);
    ck_assert(!kr_controller_stopping(NULL));
    one_cluster_down(&a, &t);
}
END_TEST

static atomic_int sync_timeouts;

static void count_sync_timeouts(kr_log_level level, const char *module, const char *message,
                                void *user)
{
    (void)module;
    tctx *t = user;
    /* the line names the cache that did not sync, as controller-runtime's does */
    if (level == KR_LOG_ERROR && strstr(message, "caches to sync") &&
        strstr(message, ": v1/configmaps ns=default")) {
        pthread_mutex_lock(&t->mu);
        atomic_fetch_add(&sync_timeouts, 1);
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->mu);
    }
}

static bool sync_timed_out(tctx *t, const void *arg)
{
    (void)t, (void)arg;
    return atomic_load(&sync_timeouts) > 0;
}

START_TEST(workers_never_start_when_the_caches_do_not_sync_in_time)
{
    rt = kr_test_runtime_up();
    cluster a;
    cluster_up(&a, 71); /* its informer is never started */
    tctx t;
    tctx_init(&t, NULL);
    atomic_store(&sync_timeouts, 0);
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = "unsynced";
    o.reconcile = reconcile;
    o.user = &t;
    o.workers = 2;
    o.cache_sync_timeout_ms = 20;
    o.logger = (kr_logger){.cb = count_sync_timeouts, .max_level = KR_LOG_ERROR, .user = &t};
    ck_assert_int_eq(kr_controller_new(&o, &t.ctl, NULL), 0);
    watch(t.ctl, a.inf, NULL);
    ck_assert_int_eq(kr_controller_enqueue(t.ctl, NULL, "default", "waiting"), 0);
    ck_assert_int_eq(kr_controller_start(t.ctl, NULL), 0);
    ck_assert(wait_for(&t, sync_timed_out, NULL));
    ck_assert(!kr_controller_ready(t.ctl));
    ck_assert_int_eq(kr_controller_stop(t.ctl, NULL), 0);
    ck_assert_int_eq(count_of(&t, "default/waiting"), 0);
    ck_assert_uint_eq(kr_controller_queue_len(t.ctl, NULL), 1);
    kr_controller_free(t.ctl);
    tctx_destroy(&t);
    cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

/* A source added while the controller runs holds every worker until its
 * informer has synced, as the start does for the first sources: the
 * controller is not ready meanwhile, and no key (neither the new source's
 * nor one queued meanwhile) is reconciled against its partial cache. */
static cluster *late_cluster; /* under the test's mu */

static kr_reconcile_result note_late_unsynced(tctx *t, const kr_reconcile_request *req, int count,
                                              uint64_t *after_ms, kr_error_t *err)
{
    (void)req, (void)count, (void)after_ms, (void)err;
    pthread_mutex_lock(&t->mu);
    if (late_cluster && !kr_informer_has_synced(late_cluster->inf))
        t->violations++;
    pthread_mutex_unlock(&t->mu);
    return KR_RECONCILE_DONE;
}

START_TEST(a_source_added_while_running_holds_the_workers_until_it_syncs)
{
    cluster a, b;
    tctx t;
    one_cluster_up(&a, 81, &t, note_late_unsynced);
    cluster_up(&b, 82); /* its informer starts later */
    write_cm(a.k.c, "x", "a", false);
    write_cm(b.k.c, "there", "b", false);
    kr_controller_t *ctl = controller_new(&t, "late", 2, NULL, false, NULL, 0);
    watch(ctl, a.inf, NULL);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    wait_count(&t, "default/x", 1);
    ck_assert(kr_controller_ready(ctl));
    /* reconciles read b's cache from now on */
    pthread_mutex_lock(&t.mu);
    t.clusters[0] = &b;
    late_cluster = &b;
    pthread_mutex_unlock(&t.mu);
    watch(ctl, b.inf, NULL);
    ck_assert(!kr_controller_ready(ctl));
    ck_assert(!kr_controller_failed(ctl));
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "default", "queued"), 0);
    cluster_start(&b);
    wait_count(&t, "default/there", 1);
    wait_count(&t, "default/queued", 1);
    ck_assert(kr_controller_ready(ctl));
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    pthread_mutex_lock(&t.mu);
    ck_assert_str_eq(rec_of(&t, "default/there")->last_seen, "b");
    ck_assert_int_eq(t.violations, 0);
    late_cluster = NULL;
    pthread_mutex_unlock(&t.mu);
    kr_controller_free(ctl);
    tctx_destroy(&t);
    cluster_down(&b);
    cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

/* A source added while running whose informer never syncs: the
 * controller is not ready, cache_sync_timeout_ms counts from the source's
 * addition, then the controller fails (a manager then stops) and its
 * workers take no key. */
START_TEST(a_source_added_while_running_that_never_syncs_fails_the_controller)
{
    cluster a, b;
    tctx t;
    one_cluster_up(&a, 83, &t, NULL);
    cluster_up(&b, 84); /* its informer is never started */
    ck_assert_int_eq(kr_informer_wait_for_sync(a.inf, WAIT_MS, NULL), 0);
    write_cm(a.k.c, "x", "a", false);
    atomic_store(&sync_timeouts, 0);
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = "late-unsynced";
    o.reconcile = reconcile;
    o.user = &t;
    o.cache_sync_timeout_ms = 100;
    o.logger = (kr_logger){.cb = count_sync_timeouts, .max_level = KR_LOG_ERROR, .user = &t};
    ck_assert_int_eq(kr_controller_new(&o, &t.ctl, NULL), 0);
    watch(t.ctl, a.inf, NULL);
    ck_assert_int_eq(kr_controller_start(t.ctl, NULL), 0);
    wait_count(&t, "default/x", 1);
    ck_assert(kr_controller_ready(t.ctl));
    ck_assert_int_eq(atomic_load(&sync_timeouts), 0);
    watch(t.ctl, b.inf, NULL);
    ck_assert(!kr_controller_ready(t.ctl));
    ck_assert_int_eq(kr_controller_enqueue(t.ctl, NULL, "default", "waiting"), 0);
    /* the workers look at the gate while it holds them */
    ck_assert(wait_for(&t, sync_timed_out, NULL));
    ck_assert(kr_controller_failed(t.ctl));
    ck_assert(!kr_controller_ready(t.ctl));
    ck_assert_int_eq(kr_controller_stop(t.ctl, NULL), 0);
    ck_assert_int_eq(count_of(&t, "default/waiting"), 0);
    ck_assert_uint_eq(kr_controller_queue_len(t.ctl, NULL), 1);
    kr_controller_free(t.ctl);
    tctx_destroy(&t);
    cluster_down(&b);
    cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

/* unsynced_ok: a reconciler that asks has_synced itself (kr-submitter's
 * on-demand workload informers): the source, added while running and
 * never synced, holds nothing back and keeps the controller ready. */
START_TEST(an_unsynced_ok_source_added_while_running_holds_nothing)
{
    cluster a, b;
    tctx t;
    one_cluster_up(&a, 85, &t, NULL);
    cluster_up(&b, 86); /* its informer is never started */
    write_cm(a.k.c, "x", "a", false);
    kr_controller_t *ctl = controller_new(&t, "unsynced-ok", 1, NULL, false, NULL, 0);
    watch(ctl, a.inf, NULL);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    wait_count(&t, "default/x", 1);
    kr_controller_source src = KR_CONTROLLER_SOURCE_INIT;
    src.informer = b.inf;
    src.unsynced_ok = true;
    src.lane_sync = true; /* ignored */
    kr_error_t err = {0};
    ck_assert_msg(kr_controller_watch(ctl, &src, &err) == 0, "%s", err.message);
    ck_assert(kr_controller_ready(ctl));
    sentinel_round_trip(&t, NULL);
    ck_assert(!kr_informer_has_synced(b.inf));
    ck_assert(kr_controller_ready(ctl));
    ck_assert(!kr_controller_failed(ctl));
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    kr_controller_free(ctl);
    tctx_destroy(&t);
    cluster_down(&b);
    cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

static kr_reconcile_result requeue_once_after_50ms(tctx *t, const kr_reconcile_request *req,
                                                   int count, uint64_t *after_ms, kr_error_t *err)
{
    (void)t, (void)req, (void)err;
    if (count == 0) {
        *after_ms = 50;
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    return KR_RECONCILE_DONE;
}

/* Behind the gate of a source added while running, a key requeued with a
 * delay comes due; no worker may take it, and none may spin on it either
 * (each wait ended at once on the due key): the workers poll. Counted in
 * waits, not in time: a poll is 100 ms, so two workers wait about 20
 * times a second (fewer on a slow machine), a spinning one millions. */
START_TEST(workers_behind_the_gate_poll_rather_than_spin_on_a_due_key)
{
    cluster a, b;
    tctx t;
    one_cluster_up(&a, 87, &t, requeue_once_after_50ms);
    cluster_up(&b, 88);
    kr_controller_t *ctl = controller_new(&t, "gated", 2, NULL, false, NULL, 0);
    watch(ctl, a.inf, NULL);
    ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
    ck_assert_int_eq(kr_controller_enqueue(ctl, NULL, "default", "spin"), 0);
    wait_count(&t, "default/spin", 1);
    watch(ctl, b.inf, NULL); /* never synced yet: the gate closes */
    nanosleep(&(struct timespec){.tv_nsec = 200000000}, NULL); /* "spin" comes due */
    uint64_t w0 = atomic_load(&ctl->n_gated_waits);
    nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
    uint64_t waits = atomic_load(&ctl->n_gated_waits) - w0;
    ck_assert_msg(waits < 500, "%llu waits behind the gate in a second: the workers spin",
                  (unsigned long long)waits);
    cluster_start(&b);
    wait_count(&t, "default/spin", 2); /* taken once the source synced */
    ck_assert_int_eq(kr_controller_stop(ctl, NULL), 0);
    kr_controller_free(ctl);
    tctx_destroy(&t);
    cluster_down(&b);
    cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

START_TEST(start_and_stop_many_times_without_leaks)
{
    rt = kr_test_runtime_up();
    cluster a;
    cluster_up(&a, 51);
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        write_cm(a.k.c, name, "x", false);
    }
    cluster_start(&a);
    for (int round = 0; round < 10; round++) {
        tctx t;
        tctx_init(&t, NULL);
        kr_metrics_registry_t *reg = NULL;
        ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
        kr_controller_t *ctl =
            controller_new(&t, "cycle", 1 + (unsigned)round % 4, reg, false, NULL, 0);
        watch(ctl, a.inf, round % 2 ? "dc" : NULL);
        if (round % 3 != 2) /* sometimes freed without ever starting */
            ck_assert_int_eq(kr_controller_start(ctl, NULL), 0);
        if (round % 3 == 0)
            wait_count(&t, round % 2 ? "dc/default/c4" : "default/c4", 1);
        kr_controller_free(ctl);
        kr_metrics_registry_free(reg);
        tctx_destroy(&t);
    }
    cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

/* ---- allocation failures --------------------------------------------------------- */

static kr_reconcile_result never_called(kr_controller_t *ctl, const kr_reconcile_request *req,
                                        uint64_t *after_ms, kr_error_t *err, void *user)
{
    (void)ctl, (void)req, (void)after_ms, (void)err, (void)user;
    return KR_RECONCILE_DONE;
}

/* Everything but the threads (the sweep is single-threaded): new with
 * metrics, lanes made by enqueues, stop, free. 0 when every failure was
 * reported as KR_ENOMEM. */
static int controller_lifecycle(void *arg)
{
    (void)arg;
    kr_metrics_registry_t *reg = NULL;
    if (kr_metrics_registry_new(&reg, NULL) != 0)
        return 0;
    kr_controller_opts o = KR_CONTROLLER_OPTS_INIT;
    o.name = "sweep";
    o.reconcile = never_called;
    o.metrics = reg;
    kr_controller_t *ctl = NULL;
    int rc = kr_controller_new(&o, &ctl, NULL);
    if (rc != 0) {
        kr_metrics_registry_free(reg);
        return rc == KR_ENOMEM ? 0 : 1;
    }
    int verdict = 0;
    bool clustered = false; /* a cluster's key was taken: its lane is there */
    static const char *const clusters[] = {NULL, "dc1", "dc2", "dc3", "dc4", "dc5"};
    for (size_t i = 0; i < sizeof(clusters) / sizeof(clusters[0]); i++) {
        rc = kr_controller_enqueue(ctl, clusters[i], "ns", "a");
        clustered = clustered || (clusters[i] && rc == 0);
        if (rc == 0)
            rc = kr_controller_enqueue_after(ctl, clusters[i], NULL, "b", 1000);
        if (rc != 0 && rc != KR_ENOMEM)
            verdict = 1;
    }
    /* a cluster's ready-made key makes its lane, but on a controller that
     * could make no cluster's lane, where it is refused */
    rc = kr_controller_enqueue_key(ctl, "dc9/ns/c");
    if (rc != 0 && rc != KR_ENOMEM && !(rc == KR_EINVAL && !clustered))
        verdict = 1;
    char *text = NULL;
    rc = kr_metrics_render(reg, &text, NULL, NULL);
    if (rc != 0 && rc != KR_ENOMEM)
        verdict = 1;
    kr_free(text);
    kr_controller_free(ctl);
    kr_metrics_registry_free(reg);
    return verdict;
}

START_TEST(allocation_failures_are_reported_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(controller_lifecycle, NULL);
    ck_assert_msg(runs > 0, "failed at allocation %ld", -runs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("controller");
    TCase *tc = tcase_create("controller");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, key_parse_splits_good_keys_and_refuses_bad_ones);
    tcase_add_test(tc, new_and_enqueue_refuse_bad_arguments);
    tcase_add_test(tc, names_empty_or_with_control_characters_or_quotes_are_refused);
    tcase_add_test(tc, start_and_stop_at_once_leave_no_worker_behind);
    tcase_add_test(tc, predicates_of_common_use);
    tcase_add_test(tc, four_workers_follow_creates_updates_and_deletes_without_overlap);
    tcase_add_test(tc, a_source_with_a_resync_period_reconciles_unchanged_keys_again);
    tcase_add_test(tc, errors_back_off_on_the_clock_and_later_succeed);
    tcase_add_test(tc, requeue_after_is_honoured_on_the_injected_clock);
    tcase_add_test(tc, terminal_errors_are_not_retried_and_max_retries_gives_up);
    tcase_add_test(tc, owner_mapping_enqueues_the_owner_of_matching_kind_and_group);
    tcase_add_test(tc, owner_mapping_with_controller_only_maps_to_the_controller);
    tcase_add_test(tc, user_mapper_and_predicate_decide_the_keys);
    tcase_add_test(tc, one_controller_over_two_clusters_keys_carry_the_cluster);
    tcase_add_test(tc, the_initial_list_waits_behind_a_real_change);
    tcase_add_test(tc, a_failed_initial_list_key_is_retried_in_the_low_lane);
    tcase_add_test(tc, a_failing_cluster_does_not_hold_up_a_healthy_one);
    tcase_add_test(tc, a_cluster_unreachable_at_start_holds_only_its_own_lane);
    tcase_add_test(tc, stop_reports_a_reconcile_past_the_deadline_and_still_joins_it);
    tcase_add_test(tc, a_long_reconcile_sees_the_stop_begin_and_returns_early);
    tcase_add_test(tc, workers_never_start_when_the_caches_do_not_sync_in_time);
    tcase_add_test(tc, a_source_added_while_running_holds_the_workers_until_it_syncs);
    tcase_add_test(tc, a_source_added_while_running_that_never_syncs_fails_the_controller);
    tcase_add_test(tc, an_unsynced_ok_source_added_while_running_holds_nothing);
    tcase_add_test(tc, workers_behind_the_gate_poll_rather_than_spin_on_a_due_key);
    tcase_add_test(tc, start_and_stop_many_times_without_leaks);
    tcase_add_test(tc, a_lane_takes_at_most_lane_workers_and_leaves_the_rest);
    tcase_add_test(tc, allocation_failures_are_reported_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
