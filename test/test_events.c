/* Tests of the event recorder (events.h) against the in-memory apiserver:
 * an Event as client-go writes it, a repeated event counted on the one
 * written (and written again when it expired), similar events combined,
 * the per-object burst on an injected clock, the queue's bound, failures
 * counted, bad arguments, and concurrent recorders' counts adding up.
 * Threaded: KR_TEST_THREADED */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

static kr_testserver_t *ts;
static kr_rest_config cfg;
static kr_runtime_t *rt;
static kr_client_t *client;
static _Atomic int64_t fake_ns;

static int64_t fake_now(void *user)
{
    (void)user;
    return atomic_load(&fake_ns);
}

static void setup(void)
{
    kr_testserver_opts o = {.seed = 3};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &ts, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, NULL), 0);
    ck_assert_int_eq(kr_runtime_start(rt, NULL), 0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.server = (char *)kr_testserver_url(ts);
    cfg.qps = -1;
    cfg.timeout_ms = 5000;
    kr_client_opts co = {.backoff_base_ms = 5, .backoff_max_ms = 20, .max_retries = 1};
    ck_assert_msg(kr_client_new(rt, &cfg, &co, &client, &err) == 0, "%s", err.message);
    atomic_store(&fake_ns, 1000000000LL);
}

static void teardown(void)
{
    kr_client_free(client);
    client = NULL;
    kr_runtime_free(rt);
    rt = NULL;
    kr_testserver_free(ts);
    ts = NULL;
}

static kr_event_recorder_t *recorder(unsigned burst, size_t max_queued)
{
    kr_event_recorder_opts o = {.client = client,
                                .component = "test-controller",
                                .host = "host-1",
                                .burst = burst,
                                .refill_ms = 1000,
                                .max_queued = max_queued,
                                .clock = {fake_now, NULL}};
    kr_event_recorder_t *r = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_event_recorder_new(&o, &r, &err) == 0, "%s", err.message);
    return r;
}

static json_t *create_cm(const char *name)
{
    json_t *cm = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                           "metadata", "name", name, "namespace", "default");
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_client_create(client, KR_GVR("", "v1", "configmaps"), "default", cm, NULL,
                                   &out, &err) == 0,
                  "%s", err.message);
    json_decref(cm);
    return out;
}

/* The Events in `ns` about the object named `name`. */
static json_t *events_about(const char *ns, const char *name)
{
    char sel[256];
    snprintf(sel, sizeof(sel), "involvedObject.name=%s", name);
    kr_list_opts lo = {.field_selector = sel};
    json_t *list = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_client_list(client, KR_GVR("", "v1", "events"), ns, &lo, &list, &err) == 0,
                  "%s", err.message);
    json_t *items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    return items;
}

/* The Event of `items` whose message is `message` (NULL: none). */
static const json_t *with_message(const json_t *items, const char *message)
{
    size_t i;
    const json_t *e;
    json_array_foreach(items, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "message")), message) == 0)
            return e;
    }
    return NULL;
}

static const char *str(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);
    return json_string_value(b ? json_object_get(v, b) : v);
}

static json_int_t count_of(const json_t *e)
{
    return json_integer_value(json_object_get(e, "count"));
}

static void flush(kr_event_recorder_t *r)
{
    ck_assert_int_eq(kr_event_recorder_flush(r, 10000), 0);
}

START_TEST(an_event_is_written_as_client_go_writes_it)
{
    kr_event_recorder_t *r = recorder(0, 0);
    json_t *cm = create_cm("app");
    kr_event ev = {.object = cm, .type = KR_EVENT_WARNING, .reason = "SyncFailed"};
    ck_assert_int_eq(kr_event_record(r, &ev, "cluster %s refused the copy", "dc1"), 0);
    flush(r);
    json_t *items = events_about("default", "app");
    ck_assert_uint_eq(json_array_size(items), 1);
    const json_t *e = json_array_get(items, 0);
    ck_assert_int_eq(strncmp(str(e, "metadata", "name"), "app.", 4), 0);
    ck_assert_str_eq(str(e, "metadata", "namespace"), "default");
    ck_assert_str_eq(str(e, "involvedObject", "kind"), "ConfigMap");
    ck_assert_str_eq(str(e, "involvedObject", "apiVersion"), "v1");
    ck_assert_str_eq(str(e, "involvedObject", "name"), "app");
    ck_assert_str_eq(str(e, "involvedObject", "namespace"), "default");
    ck_assert_str_eq(str(e, "involvedObject", "uid"), str(cm, "metadata", "uid"));
    ck_assert_str_eq(str(e, "involvedObject", "resourceVersion"),
                     str(cm, "metadata", "resourceVersion"));
    ck_assert_str_eq(str(e, "type", NULL), "Warning");
    ck_assert_str_eq(str(e, "reason", NULL), "SyncFailed");
    ck_assert_str_eq(str(e, "message", NULL), "cluster dc1 refused the copy");
    ck_assert_str_eq(str(e, "source", "component"), "test-controller");
    ck_assert_str_eq(str(e, "source", "host"), "host-1");
    ck_assert_str_eq(str(e, "reportingComponent", NULL), "test-controller");
    ck_assert_str_eq(str(e, "reportingInstance", NULL), "host-1");
    ck_assert_int_eq(count_of(e), 1);
    ck_assert_str_eq(str(e, "firstTimestamp", NULL), str(e, "lastTimestamp", NULL));
    json_decref(items);

    /* an object without apiVersion and kind (a list's item) names them;
     * a cluster-scoped object's events go to "default" */
    json_t *ns = json_pack("{s:{s:s, s:s}}", "metadata", "name", "team-a", "uid", "u-1");
    kr_event nev = {.object = ns, .api_version = "v1", .kind = "Namespace", .reason = "Seen"};
    ck_assert_int_eq(kr_event_record(r, &nev, "normal"), 0);
    flush(r);
    items = events_about("default", "team-a");
    ck_assert_uint_eq(json_array_size(items), 1);
    e = json_array_get(items, 0);
    ck_assert_str_eq(str(e, "involvedObject", "kind"), "Namespace");
    ck_assert_ptr_null(json_object_get(json_object_get(e, "involvedObject"), "namespace"));
    ck_assert_str_eq(str(e, "type", NULL), "Normal");
    json_decref(items);

    kr_event_recorder_stats st;
    kr_event_recorder_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.recorded, 2);
    ck_assert_uint_eq(st.created, 2);
    ck_assert_uint_eq(st.failed, 0);
    json_decref(ns);
    json_decref(cm);
    kr_event_recorder_free(r);
}
END_TEST

START_TEST(a_repeated_event_is_counted_on_the_one_written)
{
    kr_event_recorder_t *r = recorder(0, 0);
    json_t *cm = create_cm("app");
    kr_event ev = {.object = cm, .reason = "Synced"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(kr_event_record(r, &ev, "copied"), 0);
        flush(r);
    }
    json_t *items = events_about("default", "app");
    ck_assert_uint_eq(json_array_size(items), 1);
    const json_t *e = json_array_get(items, 0);
    ck_assert_int_eq(count_of(e), 3);
    char name[128];
    snprintf(name, sizeof(name), "%s", str(e, "metadata", "name"));
    json_decref(items);
    /* the Event expired (deleted): the next repeat writes it whole again */
    kr_error_t err = {0};
    ck_assert_int_eq(
        kr_client_delete(client, KR_GVR("", "v1", "events"), "default", name, NULL, NULL, &err), 0);
    ck_assert_int_eq(kr_event_record(r, &ev, "copied"), 0);
    flush(r);
    items = events_about("default", "app");
    ck_assert_uint_eq(json_array_size(items), 1);
    e = json_array_get(items, 0);
    ck_assert_str_eq(str(e, "metadata", "name"), name);
    ck_assert_int_eq(count_of(e), 4);
    json_decref(items);
    /* another message, field path or type is another event */
    ck_assert_int_eq(kr_event_record(r, &ev, "copied again"), 0);
    kr_event other = {.object = cm, .reason = "Synced", .field_path = "data"};
    ck_assert_int_eq(kr_event_record(r, &other, "copied"), 0);
    flush(r);
    items = events_about("default", "app");
    ck_assert_uint_eq(json_array_size(items), 3);
    json_decref(items);
    kr_event_recorder_stats st;
    kr_event_recorder_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.recorded, 6);
    ck_assert_uint_eq(st.created, 4); /* the first, again after the 404, two others */
    ck_assert_uint_eq(st.patched, 2);
    json_decref(cm);
    kr_event_recorder_free(r);
}
END_TEST

START_TEST(similar_events_are_combined)
{
    kr_event_recorder_t *r = recorder(100, 0);
    json_t *cm = create_cm("app");
    kr_event ev = {.object = cm, .type = KR_EVENT_WARNING, .reason = "ApplyFailed"};
    for (int i = 0; i < 12; i++)
        ck_assert_int_eq(kr_event_record(r, &ev, "attempt %d failed", i), 0);
    flush(r);
    json_t *items = events_about("default", "app");
    /* nine on their own, then one combined event counted three times */
    ck_assert_uint_eq(json_array_size(items), 10);
    ck_assert_ptr_nonnull(with_message(items, "attempt 8 failed"));
    ck_assert_ptr_null(with_message(items, "attempt 9 failed"));
    const json_t *c = with_message(items, "(combined from similar events): attempt 11 failed");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(count_of(c), 3);
    json_decref(items);
    kr_event_recorder_stats st;
    kr_event_recorder_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.combined, 3);
    /* ten minutes later the window starts again */
    atomic_fetch_add(&fake_ns, 601LL * 1000000000LL);
    ck_assert_int_eq(kr_event_record(r, &ev, "attempt %d failed", 12), 0);
    flush(r);
    items = events_about("default", "app");
    ck_assert_ptr_nonnull(with_message(items, "attempt 12 failed"));
    json_decref(items);
    json_decref(cm);
    kr_event_recorder_free(r);
}
END_TEST

START_TEST(each_object_gets_a_burst_then_a_pace)
{
    kr_event_recorder_t *r = recorder(3, 0);
    json_t *a = create_cm("a"), *b = create_cm("b");
    static const char *const reasons[] = {"R1", "R2", "R3", "R4", "R5"};
    for (size_t i = 0; i < 5; i++) {
        kr_event ev = {.object = a, .reason = reasons[i]};
        ck_assert_int_eq(kr_event_record(r, &ev, "m"), 0);
    }
    kr_event evb = {.object = b, .reason = "R1"};
    ck_assert_int_eq(kr_event_record(r, &evb, "m"), 0);
    flush(r);
    json_t *items = events_about("default", "a");
    ck_assert_uint_eq(json_array_size(items), 3);
    json_decref(items);
    items = events_about("default", "b");
    ck_assert_uint_eq(json_array_size(items), 1);
    json_decref(items);
    kr_event_recorder_stats st;
    kr_event_recorder_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.dropped_burst, 2);
    /* one refill period later, one more */
    atomic_fetch_add(&fake_ns, 1000LL * 1000000LL);
    kr_event ev = {.object = a, .reason = "R4"};
    ck_assert_int_eq(kr_event_record(r, &ev, "m"), 0);
    ck_assert_int_eq(kr_event_record(r, &ev, "m"), 0);
    flush(r);
    items = events_about("default", "a");
    ck_assert_uint_eq(json_array_size(items), 4);
    json_decref(items);
    kr_event_recorder_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.dropped_burst, 3);
    json_decref(a);
    json_decref(b);
    kr_event_recorder_free(r);
}
END_TEST

START_TEST(the_queue_is_bounded_and_failures_are_counted)
{
    kr_event_recorder_t *r = recorder(100, 2);
    json_t *cm = create_cm("app");
    /* one in flight behind the latency, two waiting, the rest dropped */
    kr_testserver_faults slow = {.latency_ms = 300};
    kr_testserver_set_faults(ts, &slow);
    kr_event ev = {.object = cm, .reason = "Slow"};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(kr_event_record(r, &ev, "event %d", i), 0);
    kr_event_recorder_stats st;
    kr_event_recorder_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.dropped_queue, 3);
    flush(r);
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(ts, &none);
    json_t *items = events_about("default", "app");
    ck_assert_uint_eq(json_array_size(items), 3);
    json_decref(items);
    /* a server refusing: counted, with its error; recording still 0 */
    kr_testserver_faults broken = {.fail_500 = 1.0};
    kr_testserver_set_faults(ts, &broken);
    ck_assert_int_eq(kr_event_record(r, &ev, "refused"), 0);
    flush(r);
    kr_testserver_set_faults(ts, &none);
    kr_event_recorder_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.failed, 1);
    ck_assert_int_ne(st.last_error.code, 0);
    /* bad arguments */
    kr_event no_reason = {.object = cm};
    ck_assert_int_eq(kr_event_record(r, &no_reason, "x"), KR_EINVAL);
    json_t *bare = json_pack("{s:{s:s}}", "metadata", "name", "x");
    kr_event no_kind = {.object = bare, .reason = "R"};
    ck_assert_int_eq(kr_event_record(r, &no_kind, "x"), KR_EINVAL);
    json_t *nameless = json_pack("{s:s, s:s, s:{}}", "apiVersion", "v1", "kind", "Pod", "metadata");
    kr_event no_name = {.object = nameless, .reason = "R"};
    ck_assert_int_eq(kr_event_record(r, &no_name, "x"), KR_EINVAL);
    kr_event_recorder_opts bad = {.client = client};
    kr_event_recorder_t *none_r = NULL;
    ck_assert_int_eq(kr_event_recorder_new(&bad, &none_r, NULL), KR_EINVAL);
    ck_assert_ptr_null(none_r);
    kr_event_recorder_opts newer = KR_EVENT_RECORDER_OPTS_INIT;
    newer.version = KR_EVENT_RECORDER_OPTS_VERSION + 1;
    newer.client = client;
    newer.component = "x";
    kr_error_t verr = {0};
    ck_assert_int_eq(kr_event_recorder_new(&newer, &none_r, &verr), KR_EINVAL);
    ck_assert_msg(strstr(verr.message, "options version 2 is newer than 1"), "%s", verr.message);
    /* a caller knowing fewer stats fields gets those, nothing past them */
    struct {
        uint64_t recorded;
        uint64_t fence;
    } older = {0, 0xfeedu};
    kr_event_recorder_get_stats(r, (kr_event_recorder_stats *)(void *)&older, sizeof(uint64_t));
    ck_assert_uint_gt(older.recorded, 0);
    ck_assert_uint_eq(older.fence, 0xfeedu);
    /* a long message is cut to 1024 bytes, never inside a character */
    char long_msg[1100];
    memset(long_msg, 'x', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    memcpy(long_msg + 1023, "\xc3\xa9", 2); /* é across the cut */
    kr_event lev = {.object = cm, .reason = "Long"};
    ck_assert_int_eq(kr_event_record(r, &lev, "%s", long_msg), 0);
    flush(r);
    items = events_about("default", "app");
    bool found = false;
    size_t i;
    const json_t *e;
    json_array_foreach(items, i, e)
    {
        if (strcmp(str(e, "reason", NULL), "Long") == 0) {
            ck_assert_uint_eq(strlen(str(e, "message", NULL)), 1023);
            found = true;
        }
    }
    ck_assert(found);
    json_decref(items);
    json_decref(bare);
    json_decref(nameless);
    json_decref(cm);
    kr_event_recorder_free(r);
}
END_TEST

typedef struct worker_arg {
    kr_event_recorder_t *r;
    json_t *const *objects;
    int n;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    for (int i = 0; i < w->n; i++) {
        kr_event ev = {.object = w->objects[i % 5], .reason = "Tick"};
        if (kr_event_record(w->r, &ev, "message %d", i % 2) != 0)
            return (void *)1;
    }
    return NULL;
}

START_TEST(concurrent_records_add_up)
{
    kr_event_recorder_t *r = recorder(100000, 100000);
    json_t *objs[5];
    char name[16];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "o%d", i);
        objs[i] = create_cm(name);
    }
    pthread_t th[4];
    worker_arg w = {r, objs, 200};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &w), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        ck_assert_ptr_null(ret);
    }
    flush(r);
    /* every (object, message) pair is one Event whose count is how often it was recorded */
    json_int_t total = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "o%d", i);
        json_t *items = events_about("default", name);
        ck_assert_uint_eq(json_array_size(items), 2);
        size_t k;
        const json_t *e;
        json_array_foreach(items, k, e)
        {
            ck_assert_int_eq(count_of(e), 80);
            total += count_of(e);
        }
        json_decref(items);
        json_decref(objs[i]);
    }
    ck_assert_int_eq(total, 800);
    kr_event_recorder_stats st;
    kr_event_recorder_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.recorded, 800);
    ck_assert_uint_eq(st.failed, 0);
    kr_event_recorder_free(r);
}
END_TEST

START_TEST(freeing_with_events_queued_drops_them)
{
    kr_event_recorder_t *r = recorder(100, 100);
    json_t *cm = create_cm("app");
    kr_testserver_faults slow = {.latency_ms = 200};
    kr_testserver_set_faults(ts, &slow);
    kr_event ev = {.object = cm, .reason = "R"};
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(kr_event_record(r, &ev, "m%d", i), 0);
    kr_event_recorder_free(r); /* waits for the one in flight, drops the rest */
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(ts, &none);
    json_t *items = events_about("default", "app");
    ck_assert_uint_le(json_array_size(items), 1);
    json_decref(items);
    json_decref(cm);
}
END_TEST

START_TEST(a_slow_server_holds_the_queue_only_for_the_request_timeout)
{
    kr_event_recorder_opts o = {.client = client,
                                .component = "test-controller",
                                .host = "host-1",
                                .request_timeout_ms = 200};
    kr_event_recorder_t *r = NULL;
    ck_assert_int_eq(kr_event_recorder_new(&o, &r, NULL), 0);
    json_t *cm = create_cm("app");
    kr_testserver_faults slow = {.latency_ms = 6000};
    kr_testserver_set_faults(ts, &slow);
    kr_event ev = {.object = cm, .reason = "Slow"};
    ck_assert_int_eq(kr_event_record(r, &ev, "one"), 0);
    ck_assert_int_eq(kr_event_record(r, &ev, "two"), 0);
    /* both given up within the flush's 5 s, though each answer takes 6 s */
    ck_assert_int_eq(kr_event_recorder_flush(r, 5000), 0);
    kr_event_recorder_stats st;
    kr_event_recorder_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.failed, 2);
    ck_assert_int_eq(st.last_error.code, KR_ETIMEDOUT);
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(ts, &none);
    json_decref(cm);
    kr_event_recorder_free(r);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {an_event_is_written_as_client_go_writes_it,
                            a_repeated_event_is_counted_on_the_one_written,
                            similar_events_are_combined,
                            each_object_gets_a_burst_then_a_pace,
                            the_queue_is_bounded_and_failures_are_counted,
                            concurrent_records_add_up,
                            freeing_with_events_queued_drops_them,
                            a_slow_server_holds_the_queue_only_for_the_request_timeout,
                            NULL};
    return kr_test_run_tests("events", "recorder", setup, teardown, 60, tests);
}
