/* Tests of the in-memory apiserver's request counters: every request to a
 * resource counted by its audit verb and resource ("patch pods/status"),
 * in GET /_kr/stats and kr_testserver_requests(); discovery and the admin
 * endpoints not counted; reset over HTTP and from C; GET /metrics, as
 * kube-apiserver's apiserver_request_total and apiserver_storage_objects.
 * KR_TEST_THREADED */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
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
    kr_testserver_opts o = {.seed = 7};
    ts = kr_test_server_start(&o, &U);
}

/* Send a request (a PATCH as a merge patch) and check its status. */
static void send(const char *method, const char *path, const char *body, long status)
{
    tc_response r;
    if (strcmp(method, "PATCH") == 0)
        tc_request(U, method, path, "application/merge-patch+json", body, NULL, &r);
    else
        tc_json(U, method, path, body, &r);
    ck_assert_msg(r.status == status, "%s %s: %ld %s", method, path, r.status,
                  r.body ? r.body : "");
    tc_free(&r);
}

static json_int_t count(const json_t *requests, const char *key)
{
    return json_integer_value(json_object_get(requests, key));
}

#define CMS "/api/v1/namespaces/default/configmaps"
#define PODS "/api/v1/namespaces/default/pods"

START_TEST(requests_are_counted_by_verb_and_resource)
{
    send("GET", "/api", NULL, 200);
    send("GET", "/apis", NULL, 200);
    send("GET", "/version", NULL, 200);
    send("POST", CMS, "{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"v\"}}", 201);
    send("POST", CMS, "{\"metadata\":{\"name\":\"b\"}}", 201);
    send("GET", CMS "/a", NULL, 200);
    send("GET", CMS "/missing", NULL, 404);
    send("GET", CMS, NULL, 200);
    send("PUT", CMS "/a", "{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"w\"}}", 200);
    send("PATCH", CMS "/a", "{\"data\":{\"k\":\"x\"}}", 200);
    send("DELETE", CMS "/a", NULL, 200);
    send("DELETE", CMS, NULL, 200);
    send("POST", PODS,
         "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\","
         "\"image\":\"i\"}]}}",
         201);
    send("PATCH", PODS "/p/status", "{\"status\":{\"phase\":\"Running\"}}", 200);
    tc_watch *w = tc_watch_open(U, CMS "?watch=true", NULL);
    ck_assert_uint_eq(kr_testserver_wait_watch_count(ts, 1, 10000), 1);
    tc_watch_close(w);

    json_t *req = kr_testserver_requests(ts);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(count(req, "create configmaps"), 2);
    ck_assert_int_eq(count(req, "get configmaps"), 2);
    ck_assert_int_eq(count(req, "list configmaps"), 1);
    ck_assert_int_eq(count(req, "update configmaps"), 1);
    ck_assert_int_eq(count(req, "patch configmaps"), 1);
    ck_assert_int_eq(count(req, "delete configmaps"), 1);
    ck_assert_int_eq(count(req, "deletecollection configmaps"), 1);
    ck_assert_int_eq(count(req, "watch configmaps"), 1);
    ck_assert_int_eq(count(req, "create pods"), 1);
    ck_assert_int_eq(count(req, "patch pods/status"), 1);
    ck_assert_uint_eq(json_object_size(req), 10); /* no discovery, no /version */

    /* The same over HTTP; reading the stats is not a request counted. */
    tc_response r;
    tc_json(U, "GET", "/_kr/stats", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(json_object_get(r.json, "resourceVersion"));
    ck_assert(json_equal(json_object_get(r.json, "requests"), req));
    tc_free(&r);
    json_decref(req);
}
END_TEST

START_TEST(counters_reset_over_http_and_from_c)
{
    send("GET", CMS, NULL, 200);
    tc_response r;
    tc_request(U, "POST", "/_kr/stats/reset", NULL, "", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    json_t *req = kr_testserver_requests(ts);
    ck_assert_uint_eq(json_object_size(req), 0);
    json_decref(req);

    send("GET", CMS, NULL, 200);
    send("GET", CMS, NULL, 200);
    req = kr_testserver_requests(ts);
    ck_assert_int_eq(count(req, "list configmaps"), 2);
    json_decref(req);
    kr_testserver_reset_requests(ts);
    tc_json(U, "GET", "/_kr/stats", NULL, &r);
    ck_assert_uint_eq(json_object_size(json_object_get(r.json, "requests")), 0);
    tc_free(&r);
}
END_TEST

/* The value of the series `series` (its full text up to the value) in the
 * exposition `text`, or -1 when it is not there. */
static double series_value(const char *text, const char *series)
{
    size_t len = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, len) == 0 && p[len] == ' ')
            return strtod(p + len + 1, NULL);
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return -1;
}

#define REQ(code, resource, scope, sub, verb)                                                      \
    "apiserver_request_total{code=\"" code "\",component=\"apiserver\",dry_run=\"\",group=\"\","   \
    "resource=\"" resource "\",scope=\"" scope "\",subresource=\"" sub "\",verb=\"" verb           \
    "\",version=\"v1\"}"

START_TEST(metrics_count_requests_as_kube_apiserver_does)
{
    send("POST", CMS, "{\"metadata\":{\"name\":\"a\"}}", 201);
    send("POST", CMS "?dryRun=All", "{\"metadata\":{\"name\":\"b\"}}", 201);
    send("GET", CMS "/a", NULL, 200);
    send("GET", CMS "/a", NULL, 200);
    send("GET", CMS "/missing", NULL, 404);
    send("GET", CMS, NULL, 200);
    send("GET", "/api/v1/configmaps", NULL, 200);
    send("PATCH", CMS "/a", "{\"data\":{\"k\":\"x\"}}", 200);
    send("DELETE", CMS, NULL, 200);
    send("POST", PODS,
         "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
         "\"x\"}]}}",
         201);
    send("POST", PODS "/p/exec?command=ls&stdout=true", NULL, 400);
    tc_response r;
    tc_request(U, "GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(strncmp(r.content_type, "text/plain; version=0.0.4", 25), 0);
    const char *t = r.body;
    ck_assert_msg(strstr(t, "# TYPE apiserver_request_total counter\n"), "%s", t);
    ck_assert_double_eq(series_value(t, REQ("201", "configmaps", "resource", "", "POST")), 1);
    ck_assert_double_eq(series_value(t, REQ("200", "configmaps", "resource", "", "GET")), 2);
    ck_assert_double_eq(series_value(t, REQ("404", "configmaps", "resource", "", "GET")), 1);
    ck_assert_double_eq(series_value(t, REQ("200", "configmaps", "namespace", "", "LIST")), 1);
    ck_assert_double_eq(series_value(t, REQ("200", "configmaps", "cluster", "", "LIST")), 1);
    ck_assert_double_eq(series_value(t, REQ("200", "configmaps", "resource", "", "PATCH")), 1);
    ck_assert_double_eq(
        series_value(t, REQ("200", "configmaps", "namespace", "", "DELETECOLLECTION")), 1);
    ck_assert_double_eq(series_value(t, REQ("400", "pods", "resource", "exec", "CONNECT")), 1);
    ck_assert_double_eq(
        series_value(t, "apiserver_request_total{code=\"201\",component=\"apiserver\","
                        "dry_run=\"All\",group=\"\",resource=\"configmaps\",scope=\"resource\","
                        "subresource=\"\",verb=\"POST\",version=\"v1\"}"),
        1);
    /* what is stored now: the pod; the configmaps went with the collection */
    ck_assert_double_eq(series_value(t, "apiserver_storage_objects{resource=\"pods\"}"), 1);
    ck_assert_double_eq(series_value(t, "apiserver_storage_objects{resource=\"configmaps\"}"), 0);
    ck_assert_double_eq(series_value(t, "apiserver_storage_objects{resource=\"deployments.apps\"}"),
                        0);
    /* one series per stored kind, not per served version */
    const char *hpa =
        "apiserver_storage_objects{resource=\"horizontalpodautoscalers.autoscaling\"}";
    const char *first = strstr(t, hpa);
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_null(strstr(first + 1, hpa));
    tc_free(&r);
    /* counters are monotonic: a reset of /_kr/stats leaves them */
    kr_testserver_reset_requests(ts);
    tc_request(U, "GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_double_eq(series_value(r.body, REQ("200", "configmaps", "resource", "", "GET")), 2);
    tc_free(&r);
    tc_request(U, "POST", "/metrics", NULL, "", NULL, &r);
    ck_assert_int_eq(r.status, 405);
    tc_free(&r);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {requests_are_counted_by_verb_and_resource,
                            counters_reset_over_http_and_from_c,
                            metrics_count_requests_as_kube_apiserver_does, NULL};
    return kr_test_run_tests("testserver_stats", "stats", setup, kr_test_server_stop, 0, tests);
}
