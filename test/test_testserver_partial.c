/* Wire tests of the in-memory apiserver's metadata-only answers: LIST,
 * GET and WATCH with the Accept forms client-go's metadata client sends
 * (as=PartialObjectMetadataList / as=PartialObjectMetadata;
 * g=meta.k8s.io;v=v1), checked over HTTP with libcurl: the right kind,
 * the metadata, and no data or spec. KR_TEST_THREADED */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_server.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "ts_client.h"

static kr_testserver_t *ts;
static const char *U;

static void setup(void)
{
    kr_testserver_opts o = {.bookmark_interval_ms = 100, .seed = 7};
    ts = kr_test_server_start(&o, &U);
}

static const char *jstr(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(obj, field));
}

static void create_cm(const char *name)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
             "\"labels\":{\"app\":\"web\"}},\"data\":{\"k\":\"secret-ish payload\"}}",
             name);
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", body, &r);
    ck_assert_msg(r.status == 201, "create %s: %ld %s", name, r.status, r.body);
    tc_free(&r);
}

/* A PartialObjectMetadata: kind, apiVersion, the metadata (name, labels,
 * resourceVersion, uid) and nothing else. */
static void assert_partial(const json_t *obj, const char *name)
{
    ck_assert_str_eq(jstr(obj, "kind"), "PartialObjectMetadata");
    ck_assert_str_eq(jstr(obj, "apiVersion"), "meta.k8s.io/v1");
    const json_t *meta = json_object_get(obj, "metadata");
    ck_assert_str_eq(jstr(meta, "name"), name);
    ck_assert_ptr_nonnull(jstr(meta, "resourceVersion"));
    ck_assert_ptr_nonnull(jstr(meta, "uid"));
    ck_assert_str_eq(jstr(json_object_get(meta, "labels"), "app"), "web");
    ck_assert_ptr_null(json_object_get(obj, "data"));
    ck_assert_ptr_null(json_object_get(obj, "spec"));
    ck_assert_uint_eq(json_object_size(obj), 3);
}

START_TEST(list_as_partial_object_metadata_list_has_metadata_only)
{
    create_cm("a");
    create_cm("b");
    const char *accept[] = {"Accept: " KR_CLIENT_ACCEPT_PARTIAL_METADATA_LIST, NULL};
    tc_response r;
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps?limit=1", NULL, NULL, accept, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "kind"), "PartialObjectMetadataList");
    ck_assert_str_eq(jstr(r.json, "apiVersion"), "meta.k8s.io/v1");
    const json_t *md = json_object_get(r.json, "metadata");
    ck_assert_ptr_nonnull(jstr(md, "resourceVersion"));
    ck_assert_ptr_nonnull(jstr(md, "continue")); /* paging is unchanged */
    const json_t *items = json_object_get(r.json, "items");
    ck_assert_uint_eq(json_array_size(items), 1);
    assert_partial(json_array_get(items, 0), "a");
    tc_free(&r);
}
END_TEST

START_TEST(get_as_partial_object_metadata_and_negotiation)
{
    create_cm("a");
    const char *accept[] = {"Accept: application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;"
                            "g=meta.k8s.io;v=v1," KR_CLIENT_ACCEPT_PARTIAL_METADATA
                            ",application/json",
                            NULL};
    tc_response r;
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps/a", NULL, NULL, accept, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    assert_partial(r.json, "a");
    tc_free(&r);

    /* the object form on a LIST, without a fallback: 406, as kube-apiserver */
    const char *wrong[] = {"Accept: " KR_CLIENT_ACCEPT_PARTIAL_METADATA, NULL};
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL, wrong, &r);
    ck_assert_int_eq(r.status, 406);
    ck_assert_str_eq(jstr(r.json, "kind"), "Status");
    tc_free(&r);
    /* plain JSON first wins */
    const char *plain[] = {"Accept: application/json, " KR_CLIENT_ACCEPT_PARTIAL_METADATA_LIST,
                           NULL};
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL, plain, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "ConfigMapList");
    tc_free(&r);
    /* errors stay Status */
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps/none", NULL, NULL, accept, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(jstr(r.json, "kind"), "Status");
    tc_free(&r);
}
END_TEST

START_TEST(watch_as_partial_object_metadata_sends_metadata_only_events)
{
    create_cm("before");
    const char *accept[] = {"Accept: " KR_CLIENT_ACCEPT_PARTIAL_METADATA, NULL};
    tc_watch *w = tc_watch_open(
        U, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0&allowWatchBookmarks=1",
        accept);
    ck_assert_uint_eq(tc_watch_wait(w, 2, 10000), 2);
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 0)), "ADDED");
    assert_partial(json_object_get(tc_watch_event(w, 0), "object"), "before");
    /* a watch at "0" is a watch-list (1.32): the initial events end with a
     * bookmark, in the same form as the objects */
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 1)), "BOOKMARK");
    const json_t *bookmark = json_object_get(tc_watch_event(w, 1), "object");
    ck_assert_str_eq(jstr(bookmark, "kind"), "PartialObjectMetadata");
    ck_assert_str_eq(jstr(bookmark, "apiVersion"), "meta.k8s.io/v1");
    create_cm("after");
    size_t n = 2;
    const json_t *added = NULL;
    while (!added && tc_watch_wait(w, n + 1, 10000) > n) {
        const json_t *ev = tc_watch_event(w, n++);
        if (strcmp(tc_event_type(ev), "ADDED") == 0)
            added = json_object_get(ev, "object");
    }
    ck_assert_ptr_nonnull(added);
    assert_partial(added, "after");
    tc_watch_close(w);
}
END_TEST

/* Watchers of both forms see every event of a burst, in order, each in
 * its own form; the full form carries exactly the object the write
 * answered with. */
START_TEST(watch_forms_share_a_burst_of_events)
{
    const char *accept[] = {"Accept: " KR_CLIENT_ACCEPT_PARTIAL_METADATA, NULL};
    const char *path = "/api/v1/namespaces/default/configmaps?watch=1";
    tc_watch *full = tc_watch_open(U, path, NULL), *full2 = tc_watch_open(U, path, NULL);
    tc_watch *meta = tc_watch_open(U, path, accept);
    enum { N = 20 };
    json_t *answers[N];
    for (int i = 0; i < N; i++) {
        char name[32], body[512];
        snprintf(name, sizeof(name), "burst-%02d", i);
        snprintf(body, sizeof(body),
                 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"web\"}},"
                 "\"data\":{\"k\":\"v%d\"}}",
                 name, i);
        tc_response r;
        tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", body, &r);
        ck_assert_msg(r.status == 201, "create %s: %ld %s", name, r.status, r.body);
        answers[i] = json_loads(r.body, 0, NULL);
        ck_assert_ptr_nonnull(answers[i]);
        tc_free(&r);
    }
    ck_assert_uint_eq(tc_watch_wait(full, N, 10000), N);
    ck_assert_uint_eq(tc_watch_wait(full2, N, 10000), N);
    ck_assert_uint_eq(tc_watch_wait(meta, N, 10000), N);
    for (size_t i = 0; i < N; i++) {
        const json_t *ev = tc_watch_event(full, i), *ev2 = tc_watch_event(full2, i);
        ck_assert_str_eq(tc_event_type(ev), "ADDED");
        ck_assert_msg(json_equal(json_object_get(ev, "object"), answers[i]),
                      "event %zu is not the object the write answered with", i);
        ck_assert(json_equal(ev, ev2));
        const json_t *md = json_object_get(tc_watch_event(meta, i), "object");
        char name[32];
        snprintf(name, sizeof(name), "burst-%02zu", i);
        assert_partial(md, name);
        ck_assert_str_eq(jstr(json_object_get(md, "metadata"), "resourceVersion"),
                         jstr(json_object_get(answers[i], "metadata"), "resourceVersion"));
        json_decref(answers[i]);
    }
    tc_watch_close(full);
    tc_watch_close(full2);
    tc_watch_close(meta);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {list_as_partial_object_metadata_list_has_metadata_only,
                            get_as_partial_object_metadata_and_negotiation,
                            watch_as_partial_object_metadata_sends_metadata_only_events,
                            watch_forms_share_a_burst_of_events, NULL};
    return kr_test_run_tests("testserver_partial", "wire", setup, kr_test_server_stop, 60, tests);
}
