/* Tests for the shared informer over a fake lister-watcher and clock:
 * handler fan-out in event order, late handlers, per-handler resync,
 * has-synced, read-after-write waits (blocking from worker threads and as
 * loop callbacks, also across two informers), selectors, metrics.
 * KR_TEST_THREADED: the blocking waits run on worker threads. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "informer_internal.h"
#include "kr_fake_lw.h"
#include "kr_repr.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

typedef struct rec {
    char log[512][96];
    int n;
    const json_t *last_old, *last_new;
} rec;

static const char *name_of(const json_t *o)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
}
static const char *rv_of(const json_t *o)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
}

static void r_add(const json_t *o, void *user)
{
    rec *r = user;
    ck_assert_int_lt(r->n, 512);
    snprintf(r->log[r->n++], 96, "add %s@%s", name_of(o), rv_of(o));
}
static void r_update(const json_t *old, const json_t *o, void *user)
{
    rec *r = user;
    ck_assert_int_lt(r->n, 512);
    r->last_old = old;
    r->last_new = o;
    snprintf(r->log[r->n++], 96, "update %s@%s->%s%s", name_of(o), rv_of(old), rv_of(o),
             old == o ? " (resync)" : "");
}
static void r_delete(const json_t *o, bool unknown, void *user)
{
    rec *r = user;
    ck_assert_int_lt(r->n, 512);
    snprintf(r->log[r->n++], 96, "delete %s@%s%s", name_of(o), rv_of(o),
             unknown ? " final-state-unknown" : "");
}

static kr_informer_handler handler_for(rec *r, uint64_t resync)
{
    return (kr_informer_handler){r_add, r_update, r_delete, r, resync};
}

typedef struct world {
    fake_lw lw;
    fake_clock clock;
    kr_informer_t *inf;
} world;

static void world_init(world *w, const char *labels, const char *fields, kr_metrics_registry_t *m)
{
    memset(w, 0, sizeof(*w));
    fake_lw_init(&w->lw);
    fake_clock_init(&w->clock);
    kr_informer_opts o = {
        .lw = w->lw.lw,
        .clock = w->clock.clock,
        .resource = KR_GVR("", "v1", "configmaps"),
        .label_selector = labels,
        .field_selector = fields,
        .metrics = m,
        .seed = 7,
        .progress_deadline_ms = -1,
    };
    kr_error_t err = {0};
    ck_assert_msg(kr_informer_new(&o, &w->inf, &err) == 0, "%s", err.message);
}

static void world_free(world *w)
{
    kr_informer_free(w->inf);
    ck_assert(!w->lw.list_pending && !w->lw.watch_open);
    ck_assert_int_eq(fake_clock_active(&w->clock), 0);
    fake_lw_clear(&w->lw);
}

static void push(world *w, kr_watch_event_type t, const char *name, const char *rv)
{
    char *o = fake_obj("default", name, rv);
    fake_lw_event(&w->lw, t, o);
    free(o);
}

static void bookmark(world *w, const char *rv)
{
    char buf[160];
    snprintf(buf, sizeof(buf), "{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"%s\"}}",
             rv);
    fake_lw_event(&w->lw, KR_WATCH_BOOKMARK, buf);
}

static char *list_of(int n, int rv0)
{
    static char buf[65536];
    strcpy(buf, "[");
    for (int i = 0; i < n; i++) {
        char name[16], rv[16];
        snprintf(name, sizeof(name), "o%d", i);
        snprintf(rv, sizeof(rv), "%d", rv0 + i);
        char *o = fake_obj("default", name, rv);
        if (i)
            strcat(buf, ",");
        strcat(buf, o);
        free(o);
    }
    strcat(buf, "]");
    return buf;
}

START_TEST(handlers_receive_every_change_in_event_order)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    rec a = {0}, b = {0};
    kr_informer_handler ha = handler_for(&a, 0), hb = handler_for(&b, 0);
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &ha, NULL, NULL), 0);
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &hb, NULL, NULL), 0);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    ck_assert(!kr_informer_has_synced(w.inf));
    fake_lw_list_ok(&w.lw, list_of(2, 3), "10", NULL);
    ck_assert(kr_informer_has_synced(w.inf));
    push(&w, KR_WATCH_MODIFIED, "o0", "11");
    push(&w, KR_WATCH_ADDED, "x", "12");
    push(&w, KR_WATCH_DELETED, "o1", "13");
    fake_lw_close(&w.lw, KR_EGONE, 410);
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock)); /* the backoff */
    fake_lw_list_ok(&w.lw, "[]", "20", NULL);
    const char *want[] = {"add o0@3",
                          "add o1@4",
                          "update o0@3->11",
                          "add x@12",
                          "delete o1@13",
                          "delete o0@11 final-state-unknown",
                          "delete x@12 final-state-unknown"};
    ck_assert_int_eq(a.n, 7);
    for (int i = 0; i < 7; i++) {
        /* the two relist deletes may come in either order */
        if (i >= 5)
            ck_assert(strcmp(a.log[i], want[5]) == 0 || strcmp(a.log[i], want[6]) == 0);
        else
            ck_assert_str_eq(a.log[i], want[i]);
        ck_assert_str_eq(a.log[i], b.log[i]);
    }
    char *rv = kr_informer_last_resource_version(w.inf);
    ck_assert_str_eq(rv, "20");
    kr_free(rv);
    kr_informer_stats st;
    kr_informer_get_stats(w.inf, &st, sizeof(st));
    ck_assert_uint_eq(st.lists, 2);
    ck_assert_uint_eq(st.relists, 1);
    ck_assert_uint_eq(st.deleted_final_state_unknown, 2);
    ck_assert_uint_eq(st.restarts[KR_RESTART_GONE], 1);
    /* no handler runs after stop: a late one is refused (client-go) */
    kr_informer_stop(w.inf);
    rec late = {0};
    kr_informer_handler hl = handler_for(&late, 0);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &hl, NULL, &err), KR_ESHUTDOWN);
    ck_assert_ptr_nonnull(strstr(err.message, "stopped already"));
    ck_assert_int_eq(late.n, 0);
    world_free(&w);
}
END_TEST

START_TEST(late_handler_first_gets_adds_for_every_cached_object)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    fake_lw_list_ok(&w.lw, list_of(3, 5), "9", NULL);
    rec late = {0};
    kr_informer_handler h = handler_for(&late, 0);
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &h, NULL, NULL), 0);
    ck_assert_int_eq(late.n, 3);
    push(&w, KR_WATCH_MODIFIED, "o2", "10");
    ck_assert_int_eq(late.n, 4);
    ck_assert_str_eq(late.log[3], "update o2@7->10");
    int seen = 0;
    for (int i = 0; i < 3; i++)
        seen |= 1 << (late.log[i][5] - '0');
    ck_assert_int_eq(seen, 7);
    world_free(&w);
}
END_TEST

/* Each add a handler gets: 'r' for one of its replay, 'e' for an event's. */
typedef struct replay_rec {
    kr_informer_t *inf;
    char kinds[16];
    size_t n;
} replay_rec;

static void replay_add(const json_t *o, void *user)
{
    (void)o;
    replay_rec *r = user;
    if (r->n + 1 < sizeof(r->kinds))
        r->kinds[r->n++] = kr_informer_replaying(r->inf) ? 'r' : 'e';
}

/* What the controller's sources tell their initial list by: a new
 * handler's replay of the cache, and that handler's alone; the adds of
 * events after it (on the same thread, before kr_informer_add_handler has
 * returned, when the informer runs on a loop) are not. */
START_TEST(a_handler_tells_its_replay_from_the_adds_of_events)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    replay_rec early = {.inf = w.inf}, late = {.inf = w.inf};
    kr_informer_handler he = {.on_add = replay_add, .user = &early};
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &he, NULL, NULL), 0);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    fake_lw_list_ok(&w.lw, list_of(2, 3), "9", NULL);
    kr_informer_handler hl = {.on_add = replay_add, .user = &late};
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &hl, NULL, NULL), 0);
    ck_assert(!kr_informer_replaying(w.inf));
    push(&w, KR_WATCH_ADDED, "x", "12");
    ck_assert_str_eq(early.kinds, "eee");
    ck_assert_str_eq(late.kinds, "rre");
    world_free(&w);
}
END_TEST

static kr_informer_t *stop_target;

static void stop_on_add(const json_t *o, void *user)
{
    r_add(o, user);
    kr_informer_stop(stop_target);
}

/* A late handler that stops the informer from its first add: the rest of
 * the replay is not delivered, and adding it still returns its id (the
 * handler itself is gone by then; the ASan run checks that nothing reads
 * it). */
START_TEST(late_handler_stopping_the_informer_in_its_replay)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    fake_lw_list_ok(&w.lw, list_of(3, 5), "9", NULL);
    rec late = {0};
    kr_informer_handler h = {stop_on_add, r_update, r_delete, &late, 0};
    stop_target = w.inf;
    int id = 0;
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &h, &id, NULL), 0);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(late.n, 1);
    ck_assert(!w.lw.watch_open);
    ck_assert_int_eq(kr_informer_remove_handler(w.inf, id), KR_ENOTFOUND);
    world_free(&w);
}
END_TEST

START_TEST(each_handler_resyncs_on_its_own_period)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    rec fast = {0}, slow = {0}, never = {0};
    kr_informer_handler hf = handler_for(&fast, 1000), hs = handler_for(&slow, 5000),
                        hn = handler_for(&never, 0);
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &hf, NULL, NULL), 0);
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &hs, NULL, NULL), 0);
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &hn, NULL, NULL), 0);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    fake_lw_list_ok(&w.lw, list_of(2, 1), "5", NULL);
    fake_clock_advance(&w.clock, 1000);
    ck_assert_int_eq(fast.n, 4);
    ck_assert_ptr_eq(fast.last_old, fast.last_new); /* same object, old == new */
    ck_assert_ptr_nonnull(strstr(fast.log[3], "(resync)"));
    ck_assert_int_eq(slow.n, 2);
    fake_clock_advance(&w.clock, 4000);
    ck_assert_int_eq(fast.n, 12);
    ck_assert_int_eq(slow.n, 4);
    ck_assert_int_eq(never.n, 2);
    kr_informer_stats st;
    kr_informer_get_stats(w.inf, &st, sizeof(st));
    ck_assert_uint_eq(st.resyncs, 6);
    world_free(&w);
}
END_TEST

START_TEST(removed_handler_is_not_called_again)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    rec a = {0};
    kr_informer_handler ha = handler_for(&a, 1000);
    int id = 0;
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &ha, &id, NULL), 0);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    fake_lw_list_ok(&w.lw, list_of(1, 1), "5", NULL);
    ck_assert_int_eq(kr_informer_remove_handler(w.inf, id), 0);
    ck_assert_int_eq(kr_informer_remove_handler(w.inf, id), KR_ENOTFOUND);
    push(&w, KR_WATCH_ADDED, "z", "6");
    fake_clock_advance(&w.clock, 5000);
    ck_assert_int_eq(a.n, 1);
    world_free(&w);
}
END_TEST

struct waiter_arg {
    kr_informer_t *inf;
    kr_informer_t *inf2;
    const char *rv;
    const char *rv2;
    uint64_t timeout;
    int rc;
    size_t pending;
};

static void *wait_rv_thread(void *p)
{
    struct waiter_arg *a = p;
    if (a->inf2) {
        kr_rv_target t[2] = {{a->inf, a->rv}, {a->inf2, a->rv2}};
        a->rc = kr_informer_wait_for_resource_versions(t, 2, a->timeout, &a->pending, NULL);
    } else if (a->rv) {
        a->rc = kr_informer_wait_for_resource_version(a->inf, a->rv, a->timeout, NULL);
    } else {
        a->rc = kr_informer_wait_for_sync(a->inf, a->timeout, NULL);
    }
    return NULL;
}

START_TEST(worker_waits_until_the_informer_observed_a_resource_version)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    struct waiter_arg sync = {.inf = w.inf, .timeout = 60000, .rc = 99};
    struct waiter_arg rv = {.inf = w.inf, .rv = "12", .timeout = 60000, .rc = 99};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, wait_rv_thread, &sync);
    pthread_create(&t2, NULL, wait_rv_thread, &rv);
    fake_lw_list_ok(&w.lw, list_of(1, 1), "10", NULL);
    pthread_join(t1, NULL);
    ck_assert_int_eq(sync.rc, 0);
    push(&w, KR_WATCH_ADDED, "b", "11");
    bookmark(&w, "12");
    pthread_join(t2, NULL);
    ck_assert_int_eq(rv.rc, 0);
    /* already observed: returns at once; integers, not strings: 9 < 12 */
    ck_assert_int_eq(kr_informer_wait_for_resource_version(w.inf, "9", 0, NULL), 0);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_informer_wait_for_resource_version(w.inf, "100", 20, &err), KR_ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(err.message, "100"));
    /* leading zeros read as kube-apiserver reads them: "012" is 12 */
    ck_assert_int_eq(kr_informer_wait_for_resource_version(w.inf, "012", 0, NULL), 0);
    ck_assert_int_eq(kr_informer_wait_for_resource_version(w.inf, "abc", 20, NULL), KR_EINVAL);
    world_free(&w);
}
END_TEST

START_TEST(worker_waits_for_writes_to_two_clusters_at_once)
{
    world a, b;
    world_init(&a, NULL, NULL, NULL);
    world_init(&b, NULL, NULL, NULL);
    ck_assert_int_eq(kr_informer_start(a.inf, NULL), 0);
    ck_assert_int_eq(kr_informer_start(b.inf, NULL), 0);
    fake_lw_list_ok(&a.lw, "[]", "100", NULL);
    fake_lw_list_ok(&b.lw, "[]", "7", NULL);
    struct waiter_arg arg = {
        .inf = a.inf, .inf2 = b.inf, .rv = "105", .rv2 = "9", .timeout = 60000, .rc = 99};
    pthread_t t;
    pthread_create(&t, NULL, wait_rv_thread, &arg);
    push(&b, KR_WATCH_ADDED, "x", "9");
    push(&a, KR_WATCH_ADDED, "x", "105");
    pthread_join(t, NULL);
    ck_assert_int_eq(arg.rc, 0);
    kr_rv_target targets[2] = {{a.inf, "105"}, {b.inf, "10"}};
    size_t pending = 99;
    ck_assert_int_eq(kr_informer_wait_for_resource_versions(targets, 2, 30, &pending, NULL),
                     KR_ETIMEDOUT);
    ck_assert_uint_eq(pending, 1);
    world_free(&a);
    world_free(&b);
}
END_TEST

static void rv_cb(int rc, void *user)
{
    int *out = user;
    *out = rc;
}

START_TEST(loop_callback_fires_when_the_resource_version_is_observed)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    int seen = 99, late = 99, before = 99, stopped = 99;
    ck_assert_int_eq(kr_informer_notify_resource_version(w.inf, "15", 60000, rv_cb, &seen, NULL),
                     0);
    ck_assert_int_eq(kr_informer_notify_resource_version(w.inf, "50", 5000, rv_cb, &late, NULL), 0);
    ck_assert_int_eq(
        kr_informer_notify_resource_version(w.inf, "900", 60000, rv_cb, &stopped, NULL), 0);
    fake_lw_list_ok(&w.lw, "[]", "10", NULL);
    push(&w, KR_WATCH_ADDED, "a", "14");
    ck_assert_int_eq(seen, 99);
    bookmark(&w, "15");
    ck_assert_int_eq(seen, 0);
    ck_assert_int_eq(kr_informer_notify_resource_version(w.inf, "12", 1000, rv_cb, &before, NULL),
                     0);
    ck_assert_int_eq(before, 99); /* never inside the call */
    fake_clock_advance(&w.clock, 0);
    ck_assert_int_eq(before, 0);
    fake_clock_advance(&w.clock, 5000);
    ck_assert_int_eq(late, KR_ETIMEDOUT);
    kr_informer_stop(w.inf);
    ck_assert_int_eq(stopped, KR_ESHUTDOWN);
    ck_assert_int_eq(kr_informer_wait_for_sync(w.inf, 10, NULL), 0);
    ck_assert_int_eq(kr_informer_wait_for_resource_version(w.inf, "901", 1000, NULL), KR_ESHUTDOWN);
    world_free(&w);
}
END_TEST

START_TEST(selectors_scope_requests_and_listers_filter_the_cache)
{
    world w;
    world_init(&w, "app in (o0,o2)", "metadata.namespace=default", NULL);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    ck_assert_str_eq(fake_lw_req(&w.lw, 0),
                     "list limit=500 continue= rv=0 match= "
                     "labels=app in (o0,o2) fields=metadata.namespace=default");
    fake_lw_list_ok(&w.lw, list_of(3, 1), "5", NULL);
    ck_assert_str_eq(fake_lw_req(&w.lw, 1),
                     "watch rv=5 bookmarks=1 initial=0 match= "
                     "labels=app in (o0,o2) fields=metadata.namespace=default");
    kr_selector_t *sel = NULL;
    ck_assert_int_eq(kr_selector_parse("app=o2", &sel, NULL), 0);
    json_t *out = NULL;
    ck_assert_int_eq(kr_store_list_selector(kr_informer_store(w.inf), "default", sel, &out, NULL),
                     0);
    ck_assert_uint_eq(json_array_size(out), 1);
    ck_assert_str_eq(name_of(json_array_get(out, 0)), "o2");
    json_decref(out);
    kr_selector_free(sel);
    world_free(&w);
}
END_TEST

START_TEST(metrics_count_lists_restarts_and_events)
{
    kr_metrics_registry_t *reg = NULL;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    world w;
    world_init(&w, NULL, NULL, reg);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    fake_lw_list_ok(&w.lw, list_of(2, 1), "5", NULL);
    push(&w, KR_WATCH_MODIFIED, "o1", "6");
    fake_lw_close(&w.lw, KR_EGONE, 410);
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock)); /* the backoff */
    fake_lw_list_ok(&w.lw, list_of(1, 1), "7", NULL);
    char *text = NULL;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    const char *want[] = {
        "kr_informer_lists_total{informer=\"v1/configmaps\"} 2",
        "kr_informer_relists_total{informer=\"v1/configmaps\"} 1",
        "kr_informer_watch_restarts_total{informer=\"v1/configmaps\",cause=\"gone\"} 1",
        "kr_informer_events_total{informer=\"v1/configmaps\",type=\"added\"} 2",
        "kr_informer_events_total{informer=\"v1/configmaps\",type=\"deleted\"} 1",
        "kr_informer_last_resource_version{informer=\"v1/configmaps\"} 7",
        "kr_informer_store_objects{informer=\"v1/configmaps\"} 1",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_msg(strstr(text, want[i]), "missing %s in\n%s", want[i], text);
    kr_free(text);
    world_free(&w);
    kr_metrics_registry_free(reg);
}
END_TEST

/* resourceVersions are opaque: a list whose RV is no number (an
 * aggregated API's), "0", or none at all still syncs the informer, and a
 * relist's changes still reach the handlers. */
START_TEST(opaque_or_missing_list_resource_versions_still_sync)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    rec a = {0};
    kr_informer_handler ha = handler_for(&a, 0);
    ck_assert_int_eq(kr_informer_add_handler(w.inf, &ha, NULL, NULL), 0);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    char *o0 = fake_obj("default", "o0", "a3"), *o0b = fake_obj("default", "o0", "b7");
    char items[512];
    snprintf(items, sizeof(items), "[%s]", o0);
    fake_lw_list_ok(&w.lw, items, "opaque-10", NULL);
    ck_assert(kr_informer_has_synced(w.inf));
    char *rv = kr_informer_last_resource_version(w.inf);
    ck_assert_str_eq(rv, "opaque-10");
    kr_free(rv);
    fake_lw_close(&w.lw, KR_EGONE, 410);
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock));
    snprintf(items, sizeof(items), "[%s]", o0b);
    fake_lw_list_ok(&w.lw, items, "opaque-20", NULL);
    ck_assert_int_eq(a.n, 2);
    ck_assert_str_eq(a.log[0], "add o0@a3");
    ck_assert_str_eq(a.log[1], "update o0@a3->b7");
    world_free(&w);

    const char *rvs[] = {"0", NULL};
    for (int i = 0; i < 2; i++) {
        world_init(&w, NULL, NULL, NULL);
        ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
        fake_lw_list_ok(&w.lw, "[]", rvs[i], NULL);
        ck_assert_msg(kr_informer_has_synced(w.inf), "list rv %s", rvs[i] ? rvs[i] : "(none)");
        world_free(&w);
    }
    free(o0);
    free(o0b);
}
END_TEST

/* What a cache that has not synced waits on: the last list's failure,
 * from that failure until the server answers again (a list, or later a
 * watch event); a failed relist of a synced cache says so too. */
START_TEST(last_error_tells_what_the_lists_meet_until_one_succeeds)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    char buf[128] = "unchanged";
    ck_assert(!kr_informer_last_error(w.inf, buf, sizeof(buf)));
    ck_assert_str_eq(buf, "unchanged");
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    fake_lw_list_fail_status(&w.lw, KR_EUNAVAILABLE, 503, "ServiceUnavailable",
                             "the server is currently unable to handle the request");
    ck_assert(!kr_informer_has_synced(w.inf));
    ck_assert(kr_informer_last_error(w.inf, buf, sizeof(buf)));
    ck_assert_str_eq(buf, "the server is currently unable to handle the request");
    char small[8];
    ck_assert(kr_informer_last_error(w.inf, small, sizeof(small)));
    ck_assert_str_eq(small, "the ser");
    ck_assert(kr_informer_last_error(w.inf, NULL, 0));
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock));
    fake_lw_list_fail(&w.lw, KR_ECONNECT, 0);
    ck_assert(kr_informer_last_error(w.inf, buf, sizeof(buf)));
    ck_assert_str_eq(buf, "fake list failure");
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock));
    fake_lw_list_ok(&w.lw, list_of(1, 1), "5", NULL);
    ck_assert(kr_informer_has_synced(w.inf));
    ck_assert(!kr_informer_last_error(w.inf, buf, sizeof(buf)));
    /* synced, then its server goes: the relist's failure shows */
    fake_lw_close(&w.lw, KR_EGONE, 410);
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock));
    fake_lw_list_fail(&w.lw, KR_ECONNECT, 0);
    ck_assert(kr_informer_has_synced(w.inf));
    ck_assert(kr_informer_last_error(w.inf, buf, sizeof(buf)));
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock));
    fake_lw_list_ok(&w.lw, list_of(1, 1), "6", NULL);
    ck_assert(!kr_informer_last_error(w.inf, buf, sizeof(buf)));
    ck_assert(!kr_informer_last_error(NULL, buf, sizeof(buf)));
    world_free(&w);
}
END_TEST

/* The last list's failure in full: a resource the server stopped serving
 * (its CRD deleted) is told from an outage by its 404, until a list
 * succeeds again. */
START_TEST(last_error_detail_tells_a_resource_not_served_from_an_outage)
{
    world w;
    world_init(&w, NULL, NULL, NULL);
    kr_error_t e = {.code = 1};
    ck_assert(!kr_informer_last_error_detail(w.inf, &e));
    ck_assert_int_eq(e.code, 0);
    ck_assert_int_eq(kr_informer_start(w.inf, NULL), 0);
    fake_lw_list_ok(&w.lw, list_of(1, 1), "5", NULL);
    ck_assert(kr_informer_has_synced(w.inf));
    ck_assert(!kr_informer_last_error_detail(w.inf, &e));
    /* synced; then the resource goes: the relist meets a 404 */
    fake_lw_close(&w.lw, KR_EGONE, 410);
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock));
    fake_lw_list_fail_status(&w.lw, KR_ENOTFOUND, 404, "NotFound",
                             "the server could not find the requested resource");
    ck_assert(kr_informer_has_synced(w.inf));
    ck_assert(kr_informer_last_error_detail(w.inf, &e));
    ck_assert_int_eq(e.code, KR_ENOTFOUND);
    ck_assert_int_eq(e.http_code, 404);
    ck_assert_str_eq(e.reason, "NotFound");
    ck_assert_str_eq(e.message, "the server could not find the requested resource");
    ck_assert(kr_informer_last_error_detail(w.inf, NULL));
    /* an outage instead: no HTTP code */
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock));
    fake_lw_list_fail(&w.lw, KR_ECONNECT, 0);
    ck_assert(kr_informer_last_error_detail(w.inf, &e));
    ck_assert_int_eq(e.code, KR_ECONNECT);
    ck_assert_int_eq(e.http_code, 0);
    /* served again */
    fake_clock_advance(&w.clock, fake_clock_next_due(&w.clock));
    fake_lw_list_ok(&w.lw, list_of(1, 1), "6", NULL);
    ck_assert(!kr_informer_last_error_detail(w.inf, &e));
    ck_assert_int_eq(e.code, 0);
    ck_assert_int_eq(e.http_code, 0);
    ck_assert(!kr_informer_last_error_detail(NULL, &e));
    world_free(&w);
}
END_TEST

START_TEST(new_rejects_incomplete_options)
{
    kr_informer_t *inf = NULL;
    kr_informer_opts o = {0};
    kr_error_t err = {0};
    ck_assert_int_eq(kr_informer_new(&o, &inf, &err), KR_EINVAL);
    ck_assert_ptr_null(inf);
    fake_lw lw;
    fake_lw_init(&lw);
    o.lw = lw.lw;
    ck_assert_int_eq(kr_informer_new(&o, &inf, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "clock"));
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("informer");
    TCase *tc = tcase_create("fake");
    tcase_add_test(tc, handlers_receive_every_change_in_event_order);
    tcase_add_test(tc, late_handler_first_gets_adds_for_every_cached_object);
    tcase_add_test(tc, a_handler_tells_its_replay_from_the_adds_of_events);
    tcase_add_test(tc, late_handler_stopping_the_informer_in_its_replay);
    tcase_add_test(tc, each_handler_resyncs_on_its_own_period);
    tcase_add_test(tc, removed_handler_is_not_called_again);
    tcase_add_test(tc, worker_waits_until_the_informer_observed_a_resource_version);
    tcase_add_test(tc, worker_waits_for_writes_to_two_clusters_at_once);
    tcase_add_test(tc, loop_callback_fires_when_the_resource_version_is_observed);
    tcase_add_test(tc, selectors_scope_requests_and_listers_filter_the_cache);
    tcase_add_test(tc, metrics_count_lists_restarts_and_events);
    tcase_add_test(tc, opaque_or_missing_list_resource_versions_still_sync);
    tcase_add_test(tc, last_error_tells_what_the_lists_meet_until_one_succeeds);
    tcase_add_test(tc, last_error_detail_tells_a_resource_not_served_from_an_outage);
    tcase_add_test(tc, new_rejects_incomplete_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kr_test_run_suite_each_repr(make_suite);
}
