/* Integration tests of the informer against the in-memory apiserver over
 * real sockets: sync and read-after-write, the factory across two servers
 * and its metadata-only informers,
 * streaming list, start/stop cycles (for valgrind), and the randomised
 * convergence-under-faults test (KR_INFORMER_SCHEDULES, default 200; a
 * failure prints its seed; KR_TEST_SEED replays).
 * KR_TEST_THREADED: runtime loop thread, server threads, test as worker. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_repr.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_cluster.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

#define CM KR_GVR("", "v1", "configmaps")
#define NS KR_GVR("", "v1", "namespaces")
#define WAIT_MS 30000

typedef kr_test_cluster cluster;

static kr_runtime_t *rt;

static json_t *cm(const char *ns, const char *name, const char *value)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "namespace", ns, "data", "v", value);
}

static const char *rv_of(const json_t *o)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
}

/* create or update; returns the RV the write returned (static buffer) or NULL */
static const char *write_cm(kr_client_t *c, const char *ns, const char *name, const char *value,
                            bool update)
{
    static char rv[32];
    json_t *obj = cm(ns, name, value), *out = NULL;
    int rc = update ? kr_client_update(c, CM, ns, obj, NULL, &out, NULL)
                    : kr_client_create(c, CM, ns, obj, NULL, &out, NULL);
    json_decref(obj);
    if (rc != 0)
        return NULL;
    snprintf(rv, sizeof(rv), "%s", rv_of(out));
    json_decref(out);
    return rv;
}

/* create prefix00 .. prefix<n-1> in "default" */
static void create_cms(kr_client_t *c, const char *prefix, int n, const char *value)
{
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s%02d", prefix, i);
        ck_assert_ptr_nonnull(write_cm(c, "default", name, value, false));
    }
}

static kr_informer_t *informer_for(kr_client_t *c, const char *ns, long page, bool streaming)
{
    kr_informer_opts o = {.client = c,
                          .resource = CM,
                          .namespace_ = ns,
                          .page_size = page,
                          .streaming_list = streaming,
                          .backoff_initial_ms = 5,
                          .backoff_max_ms = 50,
                          .progress_deadline_ms = 3000};
    kr_informer_t *inf = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_informer_new(&o, &inf, &err) == 0, "%s", err.message);
    return inf;
}

static void make_namespace(kr_client_t *c, const char *name)
{
    json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", name);
    kr_error_t err = {0};
    ck_assert_msg(kr_client_create(c, NS, NULL, ns, NULL, NULL, &err) == 0, "%s", err.message);
    json_decref(ns);
}

START_TEST(informer_syncs_in_pages_and_reads_its_own_writes)
{
    rt = kr_test_runtime_up();
    cluster a;
    kr_test_cluster_up(&a, rt, 1);
    create_cms(a.c, "pre-", 40, "x");
    kr_informer_t *inf = informer_for(a.c, "default", 7, false);
    ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
    kr_error_t err = {0};
    ck_assert_msg(kr_informer_wait_for_sync(inf, WAIT_MS, &err) == 0, "%s", err.message);
    kr_store_t *st = kr_informer_store(inf);
    ck_assert_uint_eq(kr_store_len(st), 40);
    for (int i = 0; i < 20; i++) {
        char name[16], value[16];
        snprintf(name, sizeof(name), "pre-%02d", i);
        snprintf(value, sizeof(value), "v%d", i);
        const char *rv = write_cm(a.c, "default", name, value, true);
        ck_assert_ptr_nonnull(rv);
        char want[32];
        snprintf(want, sizeof(want), "%s", rv);
        ck_assert_msg(kr_informer_wait_for_resource_version(inf, want, WAIT_MS, &err) == 0, "%s",
                      err.message);
        /* read after write: the cache has this write now */
        json_t *got = kr_store_get_by_name(st, "default", name);
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(rv_of(got), want);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "v")),
                         value);
        json_decref(got);
    }
    kr_informer_stats s;
    kr_informer_get_stats(inf, &s, sizeof(s));
    ck_assert_uint_eq(s.lists, 1);
    kr_informer_free(inf);
    kr_test_cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

static void assert_metadata_only(const json_t *obj, const char *name)
{
    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(json_string_value(json_object_get(obj, "kind")), "PartialObjectMetadata");
    ck_assert_str_eq(json_string_value(json_object_get(obj, "apiVersion")), "meta.k8s.io/v1");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")),
                     name);
    ck_assert_ptr_nonnull(rv_of(obj));
    ck_assert_ptr_null(json_object_get(obj, "data"));
}

START_TEST(metadata_only_informer_caches_partial_object_metadata)
{
    rt = kr_test_runtime_up();
    cluster a;
    kr_test_cluster_up(&a, rt, 3);
    create_cms(a.c, "m", 12, "payload");
    kr_informer_opts o = {.client = a.c,
                          .resource = CM,
                          .namespace_ = "default",
                          .page_size = 5,
                          .backoff_initial_ms = 5,
                          .backoff_max_ms = 50,
                          .metadata_only = true};
    kr_informer_t *inf = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_informer_new(&o, &inf, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
    ck_assert_msg(kr_informer_wait_for_sync(inf, WAIT_MS, &err) == 0, "%s", err.message);
    kr_store_t *st = kr_informer_store(inf);
    ck_assert_uint_eq(kr_store_len(st), 12);
    json_t *got = kr_store_get_by_name(st, "default", "m03");
    assert_metadata_only(got, "m03");
    json_decref(got);
    /* a watch event arrives in the same form */
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", write_cm(a.c, "default", "m03", "changed", true));
    ck_assert_int_eq(kr_informer_wait_for_resource_version(inf, rv, WAIT_MS, NULL), 0);
    got = kr_store_get_by_name(st, "default", "m03");
    assert_metadata_only(got, "m03");
    ck_assert_str_eq(rv_of(got), rv);
    json_decref(got);
    char *raw = NULL;
    ck_assert_int_eq(kr_store_get_raw(st, "default/m03", &raw, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(raw, "\"kind\":\"PartialObjectMetadata\""));
    kr_free(raw);
    kr_informer_free(inf);
    kr_test_cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

START_TEST(streaming_list_syncs_from_the_initial_events)
{
    rt = kr_test_runtime_up();
    cluster a;
    kr_test_cluster_up(&a, rt, 2);
    create_cms(a.c, "s", 5, "x");
    kr_informer_t *inf = informer_for(a.c, "default", 0, true);
    ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
    ck_assert_int_eq(kr_informer_wait_for_sync(inf, WAIT_MS, NULL), 0);
    ck_assert_uint_eq(kr_store_len(kr_informer_store(inf)), 5);
    kr_informer_stats s;
    kr_informer_get_stats(inf, &s, sizeof(s));
    ck_assert_uint_eq(s.watches, 1); /* the stream was the list: no LIST request */
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", write_cm(a.c, "default", "s9", "y", false));
    ck_assert_int_eq(kr_informer_wait_for_resource_version(inf, rv, WAIT_MS, NULL), 0);
    ck_assert_uint_eq(kr_store_len(kr_informer_store(inf)), 6);
    kr_informer_free(inf);
    kr_test_cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

START_TEST(factory_shares_informers_and_waits_for_writes_on_two_servers)
{
    rt = kr_test_runtime_up();
    cluster a, b;
    kr_test_cluster_up(&a, rt, 3);
    kr_test_cluster_up(&b, rt, 4);
    kr_informer_factory_t *f = NULL;
    kr_metrics_registry_t *reg = NULL;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    kr_informer_factory_opts fo = {.metrics = reg};
    ck_assert_int_eq(kr_informer_factory_new(&fo, &f, NULL), 0);
    ck_assert_int_eq(kr_informer_factory_name_cluster(f, a.c, "dc1", NULL), 0);
    ck_assert_int_eq(kr_informer_factory_name_cluster(f, b.c, "dc2", NULL), 0);
    kr_informer_t *ia = NULL, *ia2 = NULL, *ib = NULL, *other = NULL;
    ck_assert_int_eq(kr_informer_factory_get(f, a.c, CM, "default", NULL, NULL, &ia, NULL), 0);
    ck_assert_int_eq(kr_informer_factory_get(f, a.c, CM, "default", NULL, NULL, &ia2, NULL), 0);
    ck_assert_int_eq(kr_informer_factory_get(f, b.c, CM, "default", NULL, NULL, &ib, NULL), 0);
    ck_assert_int_eq(kr_informer_factory_get(f, a.c, CM, "default", "app=x", NULL, &other, NULL),
                     0);
    ck_assert_ptr_eq(ia, ia2);
    ck_assert_ptr_ne(ia, ib);
    ck_assert_ptr_ne(ia, other);
    ck_assert_uint_eq(kr_informer_factory_len(f), 3);
    ck_assert_int_eq(kr_informer_factory_start(f, NULL), 0);
    /* UINT64_MAX: no deadline (the test's timeout is the bound) */
    kr_error_t err = {0};
    ck_assert_msg(kr_informer_factory_wait_for_sync(f, UINT64_MAX, &err) == 0, "%s", err.message);
    /* one write to each "datacenter"; the servers' RVs are unrelated */
    for (int i = 0; i < 5; i++) {
        char pad[16];
        snprintf(pad, sizeof(pad), "pad%d", i);
        ck_assert_ptr_nonnull(write_cm(b.c, "default", pad, "x", false));
    }
    char rva[32], rvb[32];
    snprintf(rva, sizeof(rva), "%s", write_cm(a.c, "default", "job", "1", false));
    snprintf(rvb, sizeof(rvb), "%s", write_cm(b.c, "default", "job", "1", false));
    ck_assert_str_ne(rva, rvb);
    kr_rv_target t[2] = {{ia, rva}, {ib, rvb}};
    ck_assert_msg(kr_informer_wait_for_resource_versions(t, 2, WAIT_MS, NULL, &err) == 0, "%s",
                  err.message);
    json_t *ja = kr_store_get(kr_informer_store(ia), "default/job");
    json_t *jb = kr_store_get(kr_informer_store(ib), "default/job");
    ck_assert_ptr_nonnull(ja);
    ck_assert_ptr_nonnull(jb);
    ck_assert_str_eq(rv_of(ja), rva);
    ck_assert_str_eq(rv_of(jb), rvb);
    json_decref(ja);
    json_decref(jb);
    /* one series per cluster in the shared registry */
    char *text = NULL;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    ck_assert_ptr_nonnull(
        strstr(text, "kr_informer_lists_total{informer=\"dc1/v1/configmaps ns=default\"} 1"));
    ck_assert_ptr_nonnull(
        strstr(text, "kr_informer_lists_total{informer=\"dc2/v1/configmaps ns=default\"} 1"));
    ck_assert_ptr_nonnull(strstr(text, "dc1/v1/configmaps ns=default labels=app=x"));
    kr_free(text);
    kr_informer_factory_free(f);
    kr_metrics_registry_free(reg);
    kr_test_cluster_down(&a);
    kr_test_cluster_down(&b);
    kr_runtime_free(rt);
}
END_TEST

START_TEST(factory_shares_metadata_only_informers_apart_from_full_ones)
{
    rt = kr_test_runtime_up();
    cluster a;
    kr_test_cluster_up(&a, rt, 5);
    create_cms(a.c, "f", 6, "payload");
    kr_metrics_registry_t *reg = NULL;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    kr_informer_factory_opts fo = {.metrics = reg, .page_size = 4};
    kr_informer_factory_t *f = NULL;
    ck_assert_int_eq(kr_informer_factory_new(&fo, &f, NULL), 0);
    ck_assert_int_eq(kr_informer_factory_name_cluster(f, a.c, "dc1", NULL), 0);
    kr_informer_t *m1 = NULL, *m2 = NULL, *full = NULL, *late = NULL;
    ck_assert_int_eq(kr_informer_factory_get_metadata(f, a.c, CM, "default", NULL, NULL, &m1, NULL),
                     0);
    ck_assert_int_eq(kr_informer_factory_get_metadata(f, a.c, CM, "default", NULL, NULL, &m2, NULL),
                     0);
    ck_assert_int_eq(kr_informer_factory_get(f, a.c, CM, "default", NULL, NULL, &full, NULL), 0);
    ck_assert_ptr_eq(m1, m2);
    ck_assert_ptr_ne(m1, full);
    ck_assert_uint_eq(kr_informer_factory_len(f), 2);
    ck_assert_int_eq(kr_informer_factory_start(f, NULL), 0);
    /* created after the start: started at once */
    ck_assert_int_eq(
        kr_informer_factory_get_metadata(f, a.c, CM, "default", "app=none", NULL, &late, NULL), 0);
    ck_assert_ptr_ne(late, m1);
    ck_assert_uint_eq(kr_informer_factory_len(f), 3);
    kr_error_t err = {0};
    ck_assert_msg(kr_informer_factory_wait_for_sync(f, WAIT_MS, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(kr_store_len(kr_informer_store(m1)), 6);
    ck_assert_uint_eq(kr_store_len(kr_informer_store(late)), 0);
    json_t *meta = kr_store_get(kr_informer_store(m1), "default/f02");
    assert_metadata_only(meta, "f02");
    json_decref(meta);
    json_t *obj = kr_store_get(kr_informer_store(full), "default/f02");
    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(json_string_value(json_object_get(obj, "kind")), "ConfigMap");
    ck_assert_ptr_nonnull(json_object_get(obj, "data"));
    json_decref(obj);
    /* a later write reaches the metadata-only informer as PartialObjectMetadata */
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", write_cm(a.c, "default", "f9", "x", false));
    ck_assert_int_eq(kr_informer_wait_for_resource_version(m1, rv, WAIT_MS, NULL), 0);
    meta = kr_store_get(kr_informer_store(m1), "default/f9");
    assert_metadata_only(meta, "f9");
    json_decref(meta);
    char *text = NULL;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    ck_assert_ptr_nonnull(strstr(
        text,
        "kr_informer_lists_total{informer=\"dc1/v1/configmaps ns=default metadata-only\"} 1"));
    ck_assert_ptr_nonnull(
        strstr(text, "kr_informer_lists_total{informer=\"dc1/v1/configmaps ns=default\"} 1"));
    kr_free(text);
    kr_informer_factory_free(f);
    kr_metrics_registry_free(reg);
    kr_test_cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

static json_t *labeled_cm(const char *name, const char *app)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "namespace", "default", "labels", "app", app);
}

static void r_count_delete(const json_t *o, bool unknown, void *user)
{
    (void)o;
    (void)unknown;
    (*(int *)user)++;
}

START_TEST(label_and_field_selectors_scope_the_cache)
{
    rt = kr_test_runtime_up();
    cluster a;
    kr_test_cluster_up(&a, rt, 6);
    json_t *x = labeled_cm("x1", "x"), *y = labeled_cm("y1", "y"), *out = NULL;
    ck_assert_int_eq(kr_client_create(a.c, CM, "default", x, NULL, NULL, NULL), 0);
    ck_assert_int_eq(kr_client_create(a.c, CM, "default", y, NULL, NULL, NULL), 0);
    kr_informer_opts o = {.client = a.c,
                          .resource = CM,
                          .namespace_ = "default",
                          .label_selector = "app in (x,z)",
                          .backoff_initial_ms = 5};
    kr_informer_t *inf = NULL, *byname = NULL;
    ck_assert_int_eq(kr_informer_new(&o, &inf, NULL), 0);
    o.label_selector = NULL;
    o.field_selector = "metadata.name=y1";
    ck_assert_int_eq(kr_informer_new(&o, &byname, NULL), 0);
    int deletes = 0;
    kr_informer_handler h = {.on_delete = r_count_delete, .user = &deletes};
    ck_assert_int_eq(kr_informer_add_handler(inf, &h, NULL, NULL), 0);
    ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
    ck_assert_int_eq(kr_informer_start(byname, NULL), 0);
    ck_assert_int_eq(kr_informer_wait_for_sync(inf, WAIT_MS, NULL), 0);
    ck_assert_int_eq(kr_informer_wait_for_sync(byname, WAIT_MS, NULL), 0);
    ck_assert_uint_eq(kr_store_len(kr_informer_store(inf)), 1);
    json_t *cached = kr_store_get(kr_informer_store(inf), "default/x1");
    ck_assert_ptr_nonnull(cached);
    json_decref(cached);
    ck_assert_uint_eq(kr_store_len(kr_informer_store(byname)), 1);
    /* relabel x1 out of scope: the watch says DELETED, the cache drops it */
    json_object_set_new(json_object_get(json_object_get(x, "metadata"), "labels"), "app",
                        json_string("gone"));
    ck_assert_int_eq(kr_client_update(a.c, CM, "default", x, NULL, &out, NULL), 0);
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", rv_of(out));
    ck_assert_int_eq(kr_informer_wait_for_resource_version(inf, rv, WAIT_MS, NULL), 0);
    ck_assert_uint_eq(kr_store_len(kr_informer_store(inf)), 0);
    ck_assert_int_eq(deletes, 1);
    json_decref(out);
    json_decref(x);
    json_decref(y);
    kr_informer_free(inf);
    kr_informer_free(byname);
    kr_test_cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

START_TEST(informers_start_and_stop_many_times_without_leaks)
{
    rt = kr_test_runtime_up();
    cluster a;
    kr_test_cluster_up(&a, rt, 5);
    ck_assert_ptr_nonnull(write_cm(a.c, "default", "one", "x", false));
    long cycles = env_long("KR_INFORMER_CYCLES", 1000);
    for (long i = 0; i < cycles; i++) {
        kr_informer_t *inf = informer_for(a.c, "default", 0, (i & 1) != 0);
        int id = 0;
        kr_informer_handler h = {0};
        h.resync_ms = 60000;
        ck_assert_int_eq(kr_informer_add_handler(inf, &h, &id, NULL), 0);
        ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
        ck_assert_int_eq(kr_informer_wait_for_sync(inf, WAIT_MS, NULL), 0);
        ck_assert_uint_eq(kr_store_len(kr_informer_store(inf)), 1);
        kr_informer_free(inf);
    }
    kr_test_cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

/* ---- convergence under faults ------------------------------------------------- */

typedef struct replay {
    json_t *map; /* key -> RV, from handler events only; loop thread */
    unsigned long events;
} replay;

static const char *key_of(const json_t *o, char *buf, size_t n)
{
    const json_t *md = json_object_get(o, "metadata");
    snprintf(buf, n, "%s/%s", json_string_value(json_object_get(md, "namespace")),
             json_string_value(json_object_get(md, "name")));
    return buf;
}

static void rp_set(const json_t *o, void *user)
{
    replay *r = user;
    char k[300];
    json_object_set_new(r->map, key_of(o, k, sizeof(k)), json_string(rv_of(o)));
    r->events++;
}
static void rp_update(const json_t *old, const json_t *o, void *user)
{
    (void)old;
    rp_set(o, user);
}
static void rp_delete(const json_t *o, bool unknown, void *user)
{
    (void)unknown;
    replay *r = user;
    char k[300];
    json_object_del(r->map, key_of(o, k, sizeof(k)));
    r->events++;
}

struct snap {
    replay *r;
    json_t *copy;
};
static void snapshot_on_loop(void *p)
{
    struct snap *s = p;
    s->copy = json_deep_copy(s->r->map);
}

static json_t *rv_map_of(json_t *items)
{
    json_t *m = json_object();
    size_t i;
    json_t *o;
    char k[300];
    json_array_foreach(items, i, o)
        json_object_set_new(m, key_of(o, k, sizeof(k)), json_string(rv_of(o)));
    return m;
}

static char *dump(json_t *j)
{
    return json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
}

static kr_informer_stats total;

static void run_schedule(cluster *cl, unsigned long long seed, long index)
{
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    char ns[32];
    snprintf(ns, sizeof(ns), "s%ld", index);
    make_namespace(cl->c, ns);
    replay rp = {.map = json_object()};
    kr_informer_t *inf = informer_for(cl->c, ns, 1 + (long)kr_test_rng_below(&rng, 6),
                                      kr_test_rng_below(&rng, 3) == 0);
    kr_informer_handler h = {rp_set, rp_update, rp_delete, &rp, 0};
    ck_assert_int_eq(kr_informer_add_handler(inf, &h, NULL, NULL), 0);
    bool exists[8] = {0};
    int ops = 10 + (int)kr_test_rng_below(&rng, 20);
    int start_at = (int)kr_test_rng_below(&rng, (unsigned long)ops);
    for (int op = 0; op < ops; op++) {
        if (op == start_at)
            ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
        unsigned long what = kr_test_rng_below(&rng, 100);
        int k = (int)kr_test_rng_below(&rng, 8);
        char name[8];
        snprintf(name, sizeof(name), "k%d", k);
        if (what < 60) {
            char value[16];
            snprintf(value, sizeof(value), "%d", op);
            /* outcome unknown under faults: the comparison uses server truth */
            exists[k] = write_cm(cl->c, ns, name, value, exists[k]) ? true : exists[k];
            if (!exists[k])
                exists[k] = write_cm(cl->c, ns, name, value, true) != NULL;
        } else if (what < 75) {
            if (kr_client_delete(cl->c, CM, ns, name, NULL, NULL, NULL) == 0)
                exists[k] = false;
        } else if (what < 82) {
            kr_testserver_faults f = {0};
            f.fail_500 = (double)kr_test_rng_below(&rng, 15) / 100.0;
            f.fail_503 = (double)kr_test_rng_below(&rng, 15) / 100.0;
            /* 429 answers carry Retry-After: 1 s; only some schedules */
            if (index % 50 == 7)
                f.fail_429 = 0.05;
            f.latency_ms = (unsigned)kr_test_rng_below(&rng, 3);
            f.watch_max_events = (unsigned)kr_test_rng_below(&rng, 4);
            f.watch_cut_mid_event = kr_test_rng_below(&rng, 2) == 0;
            kr_testserver_set_faults(cl->ts, &f);
        } else if (what < 88) {
            kr_testserver_compact(cl->ts);
        } else if (what < 93) {
            kr_testserver_restart(cl->ts);
        } else {
            kr_testserver_close_watches(cl->ts);
        }
    }
    if (start_at >= ops)
        ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
    /* quiesce: no more faults, then wait until the cache saw the last write */
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(cl->ts, &none);
    char server_rv[32];
    snprintf(server_rv, sizeof(server_rv), "%llu", kr_testserver_resource_version(cl->ts));
    kr_error_t err = {0};
    ck_assert_msg(kr_informer_wait_for_resource_version(inf, server_rv, WAIT_MS, &err) == 0,
                  "seed %llu: %s", seed, err.message);
    json_t *list = NULL;
    ck_assert_msg(kr_client_list_all(cl->c, CM, ns, NULL, &list, &err) == 0, "seed %llu: %s", seed,
                  err.message);
    json_t *truth = rv_map_of(json_object_get(list, "items"));
    json_t *cached_items = NULL;
    ck_assert_int_eq(kr_store_list(kr_informer_store(inf), &cached_items, NULL), 0);
    json_t *cached = rv_map_of(cached_items);
    struct snap s = {&rp, NULL};
    ck_assert_int_eq(kr_runtime_call_sync(rt, snapshot_on_loop, &s), 0);
    char *t = dump(truth), *c = dump(cached), *r = dump(s.copy);
    ck_assert_msg(json_equal(truth, cached), "seed %llu (schedule %ld): cache %s != LIST %s", seed,
                  index, c, t);
    ck_assert_msg(json_equal(truth, s.copy),
                  "seed %llu (schedule %ld): replayed events %s != LIST %s", seed, index, r, t);
    free(t);
    free(c);
    free(r);
    json_decref(truth);
    json_decref(cached);
    json_decref(cached_items);
    json_decref(list);
    json_decref(s.copy);
    kr_informer_stats st;
    kr_informer_get_stats(inf, &st, sizeof(st));
    total.lists += st.lists;
    total.relists += st.relists;
    total.watches += st.watches;
    total.deleted_final_state_unknown += st.deleted_final_state_unknown;
    total.added += st.added + st.updated + st.deleted;
    for (int i = 0; i < KR_RESTART_CAUSES; i++)
        total.restarts[i] += st.restarts[i];
    kr_informer_free(inf);
    json_decref(rp.map);
}
#define WIDGETS KR_GVR("example.com", "v1", "widgets")

/* A custom resource may hold an integer beyond int64 (a field free to hold
 * anything: Go reads it as a float64 and writes 1e20 as
 * 100000000000000000000), which jansson refuses. Such an object is read as
 * Go reads it, a real beside the integers, by a get, a list, a watch
 * event and an informer's sync: one such object does not hide the others. */
START_TEST(integers_beyond_int64_do_not_hide_a_resource)
{
    rt = kr_test_runtime_up();
    cluster a;
    kr_test_cluster_up(&a, rt, 1);
    kr_error_t err = {0};
    json_t *crd = json_pack(
        "{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:[{s:s, s:b, s:b, "
        "s:{s:{s:s, s:b}}}]}}",
        "apiVersion", "apiextensions.k8s.io/v1", "kind", "CustomResourceDefinition", "metadata",
        "name", "widgets.example.com", "spec", "group", "example.com", "scope", "Namespaced",
        "names", "plural", "widgets", "singular", "widget", "kind", "Widget", "listKind",
        "WidgetList", "versions", "name", "v1", "served", 1, "storage", 1, "schema",
        "openAPIV3Schema", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
    ck_assert_msg(
        kr_client_create(a.c, KR_GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                         NULL, crd, NULL, NULL, &err) == 0,
        "%s", err.message);
    json_decref(crd);
    static const char *const names[] = {"plain", "big"};
    json_t *created = NULL;
    for (int i = 0; i < 2; i++) {
        json_t *w =
            json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i, s:{s:o}}}", "apiVersion", "example.com/v1",
                      "kind", "Widget", "metadata", "name", names[i], "namespace", "default",
                      "spec", "replicas", 3, "extra", "n", i ? json_real(1e20) : json_integer(5));
        json_decref(created);
        created = NULL;
        ck_assert_msg(kr_client_create(a.c, WIDGETS, "default", w, NULL, &created, &err) == 0, "%s",
                      err.message);
        json_decref(w);
    }
    json_t *got = NULL;
    ck_assert_msg(kr_client_get(a.c, WIDGETS, "default", "big", &got, &err) == 0, "%s",
                  err.message);
    json_t *spec = json_object_get(got, "spec");
    ck_assert(json_is_real(json_object_get(json_object_get(spec, "extra"), "n")));
    ck_assert(json_real_value(json_object_get(json_object_get(spec, "extra"), "n")) == 1e20);
    ck_assert(json_is_integer(json_object_get(spec, "replicas")));
    ck_assert(json_integer_value(json_object_get(spec, "replicas")) == 3);
    ck_assert(json_is_real(
        json_object_get(json_object_get(json_object_get(created, "spec"), "extra"), "n")));
    json_decref(created);

    json_t *list = NULL;
    ck_assert_msg(kr_client_list(a.c, WIDGETS, "default", NULL, &list, &err) == 0, "%s",
                  err.message);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 2);
    json_decref(list);

    kr_informer_opts o = {.client = a.c,
                          .resource = WIDGETS,
                          .namespace_ = "default",
                          .backoff_initial_ms = 5,
                          .backoff_max_ms = 50};
    kr_informer_t *inf = NULL;
    ck_assert_msg(kr_informer_new(&o, &inf, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_informer_start(inf, NULL), 0);
    ck_assert_msg(kr_informer_wait_for_sync(inf, WAIT_MS, &err) == 0, "%s", err.message);
    kr_store_t *st = kr_informer_store(inf);
    ck_assert_uint_eq(kr_store_len(st), 2);

    /* a watch event carrying the number: written back as it was read */
    json_object_set_new(spec, "replicas", json_integer(4));
    json_t *out = NULL;
    ck_assert_msg(kr_client_update(a.c, WIDGETS, "default", got, NULL, &out, &err) == 0, "%s",
                  err.message);
    char want[32];
    snprintf(want, sizeof(want), "%s", rv_of(out));
    json_decref(out);
    json_decref(got);
    ck_assert_msg(kr_informer_wait_for_resource_version(inf, want, WAIT_MS, &err) == 0, "%s",
                  err.message);
    json_t *cached = kr_store_get_by_name(st, "default", "big");
    ck_assert_ptr_nonnull(cached);
    ck_assert_str_eq(rv_of(cached), want);
    spec = json_object_get(cached, "spec");
    ck_assert(json_real_value(json_object_get(json_object_get(spec, "extra"), "n")) == 1e20);
    ck_assert(json_is_integer(json_object_get(spec, "replicas")));
    ck_assert(json_integer_value(json_object_get(spec, "replicas")) == 4);
    json_decref(cached);
    cached = kr_store_get_by_name(st, "default", "plain");
    ck_assert_ptr_nonnull(cached);
    spec = json_object_get(cached, "spec");
    ck_assert(json_integer_value(json_object_get(json_object_get(spec, "extra"), "n")) == 5);
    json_decref(cached);
    kr_informer_stats s;
    kr_informer_get_stats(inf, &s, sizeof(s));
    ck_assert_uint_eq(s.lists, 1); /* the watch never broke */
    kr_informer_free(inf);
    kr_test_cluster_down(&a);
    kr_runtime_free(rt);
}
END_TEST

START_TEST(cache_converges_to_the_server_under_faults)
{
    rt = kr_test_runtime_up();
    cluster cl;
    unsigned long long seed = kr_test_seed("informer convergence");
    kr_test_cluster_up(&cl, rt, seed);
    long schedules = env_long("KR_INFORMER_SCHEDULES", 200);
    kr_test_rng master;
    kr_test_rng_init(&master, seed);
    for (long i = 0; i < schedules; i++)
        run_schedule(&cl, kr_test_rng_next(&master), i);
    printf("convergence: %ld schedules, %llu lists (%llu relists), %llu watches, %llu changes, "
           "%llu final-state-unknown deletes, restarts: timeout %llu gone %llu error %llu "
           "progress %llu\n",
           schedules, (unsigned long long)total.lists, (unsigned long long)total.relists,
           (unsigned long long)total.watches, (unsigned long long)total.added,
           (unsigned long long)total.deleted_final_state_unknown,
           (unsigned long long)total.restarts[0], (unsigned long long)total.restarts[1],
           (unsigned long long)total.restarts[2], (unsigned long long)total.restarts[3]);
    /* the schedules must have exercised the paths they claim to */
    ck_assert_uint_gt(total.relists, 0);
    ck_assert_uint_gt(total.restarts[KR_RESTART_ERROR] + total.restarts[KR_RESTART_TIMEOUT], 0);
    kr_test_cluster_down(&cl);
    kr_runtime_free(rt);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("informer_server");
    TCase *tc = tcase_create("server");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, informer_syncs_in_pages_and_reads_its_own_writes);
    tcase_add_test(tc, streaming_list_syncs_from_the_initial_events);
    tcase_add_test(tc, metadata_only_informer_caches_partial_object_metadata);
    tcase_add_test(tc, factory_shares_informers_and_waits_for_writes_on_two_servers);
    tcase_add_test(tc, factory_shares_metadata_only_informers_apart_from_full_ones);
    tcase_add_test(tc, label_and_field_selectors_scope_the_cache);
    tcase_add_test(tc, informers_start_and_stop_many_times_without_leaks);
    tcase_add_test(tc, integers_beyond_int64_do_not_hide_a_resource);
    tcase_add_test(tc, cache_converges_to_the_server_under_faults);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kr_test_run_suite_each_repr(make_suite);
}
