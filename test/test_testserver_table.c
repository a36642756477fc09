/* Wire tests of the in-memory apiserver's server-side printing: LIST, GET
 * and WATCH with the Accept header kubectl get sends
 * (application/json;as=Table;v=v1;g=meta.k8s.io, then v1beta1, then plain
 * JSON), checked over HTTP with libcurl: the columns of the built-in
 * printers and of a CRD's additionalPrinterColumns, typed cells, ages as
 * Go's HumanDuration prints them, includeObject, the column definitions
 * only in a watch's first event, and the default convertor's Name and
 * Created At for kinds without a printer. KR_TEST_THREADED */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_server.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "ts_client.h"

static kr_testserver_t *ts;
static const char *U;

#define TABLE_V1 "application/json;as=Table;v=v1;g=meta.k8s.io"
#define TABLE_V1BETA1 "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
static const char *const KUBECTL_GET[] = {"Accept: " TABLE_V1 "," TABLE_V1BETA1 ",application/json",
                                          NULL};

static void setup(void)
{
    kr_testserver_opts o = {.seed = 11};
    ts = kr_test_server_start(&o, &U);
}

static const char *jstr(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(obj, field));
}

static void post(const char *path, const char *body)
{
    tc_response r;
    tc_json(U, "POST", path, body, &r);
    ck_assert_msg(r.status == 201, "POST %s: %ld %s", path, r.status, r.body);
    tc_free(&r);
}

static void get_table(const char *path, const char *const *accept, tc_response *r)
{
    tc_request(U, "GET", path, NULL, NULL, accept ? accept : KUBECTL_GET, r);
    ck_assert_msg(r->status == 200, "GET %s: %ld %s", path, r->status, r->body);
    ck_assert_msg(r->json && strcmp(jstr(r->json, "kind"), "Table") == 0, "GET %s: %s", path,
                  r->body);
}

/* The column names, joined with '|'. */
static void column_names(const json_t *table, char *out, size_t size)
{
    out[0] = '\0';
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(table, "columnDefinitions"), i, c)
    {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i ? "|" : "", jstr(c, "name"));
    }
}

static const json_t *cells(const json_t *table, size_t row)
{
    return json_object_get(json_array_get(json_object_get(table, "rows"), row), "cells");
}

static const char *cell_str(const json_t *table, size_t row, size_t col)
{
    return json_string_value(json_array_get(cells(table, row), col));
}

static json_int_t cell_int(const json_t *table, size_t row, size_t col)
{
    const json_t *v = json_array_get(cells(table, row), col);
    ck_assert_msg(json_is_integer(v), "cell %zu of row %zu is not an integer", col, row);
    return json_integer_value(v);
}

/* A fresh object's age: a few seconds at most. */
static void assert_fresh_age(const char *age)
{
    ck_assert_ptr_nonnull(age);
    int secs = -1;
    char unit = 0;
    ck_assert_msg(sscanf(age, "%d%c", &secs, &unit) == 2 && unit == 's' && secs >= 0 && secs < 60,
                  "age %s", age);
}

START_TEST(lists_and_gets_answer_tables_with_the_printer_columns)
{
    post("/api/v1/namespaces/default/configmaps",
         "{\"metadata\":{\"name\":\"a\",\"labels\":{\"app\":\"web\"}},"
         "\"data\":{\"k\":\"v\",\"l\":\"w\"},\"binaryData\":{\"b\":\"AAE=\"}}");
    post("/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":\"b\"}}");
    tc_response r;
    get_table("/api/v1/namespaces/default/configmaps?limit=1", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "apiVersion"), "meta.k8s.io/v1");
    char names[256];
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Data|Age");
    const json_t *name_col = json_array_get(json_object_get(r.json, "columnDefinitions"), 0);
    ck_assert_str_eq(jstr(name_col, "type"), "string");
    ck_assert_str_eq(jstr(name_col, "format"), "name");
    ck_assert_int_eq(json_integer_value(json_object_get(name_col, "priority")), 0);
    /* kube-apiserver declares the count a string column and sends an integer */
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "columnDefinitions"), 1), "type"),
                     "string");
    ck_assert_ptr_nonnull(jstr(json_object_get(r.json, "metadata"), "resourceVersion"));
    ck_assert_ptr_nonnull(jstr(json_object_get(r.json, "metadata"), "continue"));
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "rows")), 1);
    ck_assert_str_eq(cell_str(r.json, 0, 0), "a");
    ck_assert_int_eq(cell_int(r.json, 0, 1), 3); /* data and binaryData */
    assert_fresh_age(cell_str(r.json, 0, 2));
    /* the row's object: PartialObjectMetadata by default */
    const json_t *obj =
        json_object_get(json_array_get(json_object_get(r.json, "rows"), 0), "object");
    ck_assert_str_eq(jstr(obj, "kind"), "PartialObjectMetadata");
    ck_assert_str_eq(jstr(obj, "apiVersion"), "meta.k8s.io/v1");
    ck_assert_str_eq(jstr(json_object_get(json_object_get(obj, "metadata"), "labels"), "app"),
                     "web");
    ck_assert_ptr_null(json_object_get(obj, "data"));
    tc_free(&r);

    /* one object; v1beta1 when asked first */
    const char *beta[] = {"Accept: " TABLE_V1BETA1 ",application/json", NULL};
    get_table("/api/v1/namespaces/default/configmaps/b", beta, &r);
    ck_assert_str_eq(jstr(r.json, "apiVersion"), "meta.k8s.io/v1beta1");
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "rows")), 1);
    ck_assert_str_eq(cell_str(r.json, 0, 0), "b");
    ck_assert_int_eq(cell_int(r.json, 0, 1), 0);
    ck_assert_ptr_nonnull(jstr(json_object_get(r.json, "metadata"), "resourceVersion"));
    tc_free(&r);

    /* errors stay Status; plain JSON first stays plain */
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps/none", NULL, NULL, KUBECTL_GET, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(jstr(r.json, "kind"), "Status");
    tc_free(&r);
    const char *plain[] = {"Accept: application/json," TABLE_V1, NULL};
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL, plain, &r);
    ck_assert_str_eq(jstr(r.json, "kind"), "ConfigMapList");
    tc_free(&r);
}
END_TEST

START_TEST(include_object_chooses_what_each_row_carries)
{
    post("/api/v1/namespaces/default/configmaps",
         "{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"v\"}}");
    tc_response r;
    get_table("/api/v1/namespaces/default/configmaps?includeObject=Object", NULL, &r);
    const json_t *obj =
        json_object_get(json_array_get(json_object_get(r.json, "rows"), 0), "object");
    ck_assert_str_eq(jstr(obj, "kind"), "ConfigMap");
    ck_assert_str_eq(jstr(json_object_get(obj, "data"), "k"), "v");
    tc_free(&r);
    get_table("/api/v1/namespaces/default/configmaps?includeObject=None", NULL, &r);
    ck_assert(json_is_null(
        json_object_get(json_array_get(json_object_get(r.json, "rows"), 0), "object")));
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps?includeObject=All", NULL, NULL,
               KUBECTL_GET, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(jstr(r.json, "reason"), "BadRequest");
    ck_assert_msg(strstr(jstr(r.json, "message"), "includeObject: Unsupported value: \"All\""),
                  "%s", r.body);
    tc_free(&r);
}
END_TEST

static void iso_ago(long long secs, char *out, size_t size)
{
    time_t t = time(NULL) - (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

START_TEST(built_in_printers_fill_their_columns)
{
    post("/api/v1/namespaces/default/secrets",
         "{\"metadata\":{\"name\":\"s\"},\"type\":\"kubernetes.io/basic-auth\","
         "\"data\":{\"username\":\"YQ==\",\"password\":\"Yg==\"}}");
    post("/api/v1/namespaces", "{\"metadata\":{\"name\":\"team\"}}");
    post("/apis/coordination.k8s.io/v1/namespaces/default/leases",
         "{\"metadata\":{\"name\":\"l\"},\"spec\":{\"holderIdentity\":\"pod-1\"}}");
    post("/apis/apps/v1/namespaces/default/deployments",
         "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3,\"selector\":{"
         "\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\","
         "\"operator\":\"In\",\"values\":[\"front\",\"edge\"]},{\"key\":\"canary\","
         "\"operator\":\"DoesNotExist\"}]},\"template\":{\"metadata\":{\"labels\":{\"app\":"
         "\"web\",\"tier\":\"front\"}},\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":"
         "\"nginx:1.27\"},{\"name\":\"sidecar\",\"image\":\"envoy\"}]}}}}");
    tc_response r;
    char names[256];
    get_table("/api/v1/namespaces/default/secrets/s", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Type|Data|Age");
    ck_assert_str_eq(cell_str(r.json, 0, 1), "kubernetes.io/basic-auth");
    ck_assert_int_eq(cell_int(r.json, 0, 2), 2);
    tc_free(&r);
    get_table("/api/v1/namespaces/team", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Status|Age");
    ck_assert_str_eq(cell_str(r.json, 0, 1), "Active");
    tc_free(&r);
    get_table("/apis/coordination.k8s.io/v1/namespaces/default/leases", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Holder|Age");
    ck_assert_str_eq(cell_str(r.json, 0, 1), "pod-1");
    tc_free(&r);
    tc_request(U, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web/status",
               "application/merge-patch+json",
               "{\"status\":{\"readyReplicas\":2,\"updatedReplicas\":3,\"availableReplicas\":1}}",
               NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    get_table("/apis/apps/v1/namespaces/default/deployments", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Ready|Up-to-date|Available|Age|Containers|Images|Selector");
    const json_t *cols = json_object_get(r.json, "columnDefinitions");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(cols, 5), "priority")), 1);
    ck_assert_str_eq(cell_str(r.json, 0, 1), "2/3");
    ck_assert_int_eq(cell_int(r.json, 0, 2), 3);
    ck_assert_int_eq(cell_int(r.json, 0, 3), 1);
    ck_assert_str_eq(cell_str(r.json, 0, 5), "nginx,sidecar");
    ck_assert_str_eq(cell_str(r.json, 0, 6), "nginx:1.27,envoy");
    ck_assert_str_eq(cell_str(r.json, 0, 7), "app=web,!canary,tier in (edge,front)");
    tc_free(&r);

    /* Jobs: status from the conditions, completions, duration */
    post("/apis/batch/v1/namespaces/default/jobs",
         "{\"metadata\":{\"name\":\"done\"},\"spec\":{\"completions\":3,\"template\":{"
         "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}],"
         "\"restartPolicy\":\"Never\"}}}}");
    post("/apis/batch/v1/namespaces/default/jobs",
         "{\"metadata\":{\"name\":\"fresh\"},\"spec\":{\"parallelism\":4,\"template\":{"
         "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}],"
         "\"restartPolicy\":\"Never\"}}}}");
    post("/apis/batch/v1/namespaces/default/jobs",
         "{\"metadata\":{\"name\":\"held\"},\"spec\":{\"suspend\":true,\"template\":{"
         "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}],"
         "\"restartPolicy\":\"Never\"}}}}");
    char start[40], end[40], patch[512];
    iso_ago(3600, start, sizeof(start));
    iso_ago(3000, end, sizeof(end));
    snprintf(patch, sizeof(patch),
             "{\"status\":{\"succeeded\":2,\"startTime\":\"%s\",\"completionTime\":\"%s\","
             "\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}",
             start, end);
    tc_request(U, "PATCH", "/apis/batch/v1/namespaces/default/jobs/done/status",
               "application/merge-patch+json", patch, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_request(U, "PATCH", "/apis/batch/v1/namespaces/default/jobs/held/status",
               "application/merge-patch+json",
               "{\"status\":{\"conditions\":[{\"type\":\"Suspended\",\"status\":\"True\"}]}}", NULL,
               &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    get_table("/apis/batch/v1/namespaces/default/jobs", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Status|Completions|Duration|Age|Containers|Images|Selector");
    static const char *const jobs[][4] = {{"done", "Complete", "2/3", "10m"},
                                          {"fresh", "Running", "0/1 of 4", ""},
                                          {"held", "Suspended", "0/1", ""}};
    for (size_t i = 0; i < 3; i++)
        for (size_t c = 0; c < 4; c++)
            ck_assert_str_eq(cell_str(r.json, i, c), jobs[i][c]);
    ck_assert_str_eq(cell_str(r.json, 0, 6), "busybox");
    /* the selector the server generated from the job's uid */
    static const char uid_label[] = "batch.kubernetes.io/controller-uid=";
    ck_assert_int_eq(strncmp(cell_str(r.json, 0, 7), uid_label, strlen(uid_label)), 0);
    ck_assert_uint_gt(strlen(cell_str(r.json, 0, 7)), strlen(uid_label));
    tc_free(&r);

    /* a kind without a printer of its own gets the apiserver's default
     * convertor: its name and creation time */
    post("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
         "{\"metadata\":{\"name\":\"reader\"},\"rules\":[]}");
    get_table("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Created At");
    cols = json_object_get(r.json, "columnDefinitions");
    ck_assert_str_eq(jstr(json_array_get(cols, 1), "type"), "date");
    const char *created =
        jstr(json_object_get(
                 json_object_get(json_array_get(json_object_get(r.json, "rows"), 0), "object"),
                 "metadata"),
             "creationTimestamp");
    ck_assert_ptr_nonnull(created);
    ck_assert_str_eq(cell_str(r.json, 0, 1), created);
    tc_free(&r);
}
END_TEST

static void patch_status(const char *path, const char *status)
{
    tc_response r;
    tc_request(U, "PATCH", path, "application/merge-patch+json", status, NULL, &r);
    ck_assert_msg(r.status == 200, "PATCH %s: %ld %s", path, r.status, r.body);
    tc_free(&r);
}

/* A pod's row: READY, STATUS, RESTARTS (then AGE), IP, NODE, NOMINATED
 * NODE, READINESS GATES. */
static void check_pod(const json_t *table, size_t row, const char *const want[8])
{
    for (size_t c = 0; c < 8; c++) {
        size_t col = c < 4 ? c : c + 1; /* skip the age */
        const char *got = cell_str(table, row, col);
        ck_assert_msg(got && strcmp(got, want[c]) == 0, "pod %s column %zu: \"%s\", want \"%s\"",
                      want[0], col, got ? got : "(null)", want[c]);
    }
}

START_TEST(pods_print_readiness_status_and_restarts)
{
    static const char PODS[] = "/api/v1/namespaces/default/pods";
    /* a new pod is Pending with its QoS class, as the apiserver creates it */
    post(PODS, "{\"metadata\":{\"name\":\"a-fresh\"},\"spec\":{\"containers\":[{\"name\":\"c\","
               "\"image\":\"nginx\"}]},\"status\":{\"phase\":\"Running\"}}");
    post(PODS,
         "{\"metadata\":{\"name\":\"b-sized\"},\"spec\":{\"containers\":[{\"name\":\"c\","
         "\"image\":\"nginx\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}}");
    post(PODS, "{\"metadata\":{\"name\":\"c-web\"},\"spec\":{\"nodeName\":\"node-1\","
               "\"readinessGates\":[{\"conditionType\":\"example.com/lb\"},{\"conditionType\":"
               "\"example.com/dns\"}],\"initContainers\":[{\"name\":\"init\",\"image\":\"x\"},"
               "{\"name\":\"side\",\"image\":\"envoy\",\"restartPolicy\":\"Always\"}],"
               "\"containers\":[{\"name\":\"app\",\"image\":\"nginx\",\"resources\":{"
               "\"requests\":{\"cpu\":\"100m\"}}},{\"name\":\"log\",\"image\":\"fluent\"}]}}");
    post(PODS, "{\"metadata\":{\"name\":\"d-done\"},\"spec\":{\"containers\":[{\"name\":\"c\","
               "\"image\":\"x\"}]}}");
    post(PODS, "{\"metadata\":{\"name\":\"e-init\"},\"spec\":{\"initContainers\":[{\"name\":"
               "\"a\",\"image\":\"x\"},{\"name\":\"b\",\"image\":\"x\"}],\"containers\":[{"
               "\"name\":\"c\",\"image\":\"x\"}]}}");
    post(PODS, "{\"metadata\":{\"name\":\"f-crashed\"},\"spec\":{\"containers\":[{\"name\":\"c\","
               "\"image\":\"x\"}]}}");
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/a-fresh", NULL, &r);
    ck_assert_str_eq(jstr(json_object_get(r.json, "status"), "phase"), "Pending");
    ck_assert_str_eq(jstr(json_object_get(r.json, "status"), "qosClass"), "BestEffort");
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/b-sized", NULL, &r);
    ck_assert_str_eq(jstr(json_object_get(r.json, "status"), "qosClass"), "Guaranteed");
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/c-web", NULL, &r);
    ck_assert_str_eq(jstr(json_object_get(r.json, "status"), "qosClass"), "Burstable");
    tc_free(&r);

    char ago[40], patch[2048];
    iso_ago(5400, ago, sizeof(ago));
    snprintf(
        patch, sizeof(patch),
        "{\"status\":{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"10.0.0.7\"}],"
        "\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\"},{\"type\":"
        "\"example.com/lb\",\"status\":\"True\"},{\"type\":\"example.com/dns\",\"status\":"
        "\"False\"}],\"initContainerStatuses\":[{\"name\":\"init\",\"restartCount\":4,"
        "\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},{\"name\":"
        "\"side\",\"ready\":true,\"started\":true,\"restartCount\":1,\"state\":{\"running\":{}},"
        "\"lastState\":{\"terminated\":{\"exitCode\":1,\"finishedAt\":\"%s\"}}}],"
        "\"containerStatuses\":[{\"name\":\"app\",\"ready\":true,\"restartCount\":2,"
        "\"state\":{\"running\":{}}},{\"name\":\"log\",\"restartCount\":0,\"state\":{"
        "\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}}",
        ago);
    patch_status("/api/v1/namespaces/default/pods/c-web/status", patch);
    patch_status("/api/v1/namespaces/default/pods/d-done/status",
                 "{\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":\"c\","
                 "\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}}");
    patch_status(
        "/api/v1/namespaces/default/pods/e-init/status",
        "{\"status\":{\"initContainerStatuses\":[{\"name\":\"a\",\"state\":{"
        "\"terminated\":{\"exitCode\":0}}},{\"name\":\"b\",\"state\":{\"running\":{}}}]}}");
    patch_status(
        "/api/v1/namespaces/default/pods/f-crashed/status",
        "{\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"c\","
        "\"restartCount\":1,\"state\":{\"terminated\":{\"exitCode\":137,\"signal\":9}}}]}}");

    char names[256];
    get_table(PODS, NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names,
                     "Name|Ready|Status|Restarts|Age|IP|Node|Nominated Node|Readiness Gates");
    const json_t *cols = json_object_get(r.json, "columnDefinitions");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(cols, 4), "priority")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(cols, 5), "priority")), 1);
    static const char *const want[][8] = {
        {"a-fresh", "0/1", "Pending", "0", "<none>", "<none>", "<none>", "<none>"},
        {"b-sized", "0/1", "Pending", "0", "<none>", "<none>", "<none>", "<none>"},
        /* the sidecar counts as a container and its restarts count; the
         * finished init container's do not */
        {"c-web", "2/3", "CrashLoopBackOff", "3 (90m ago)", "10.0.0.7", "node-1", "<none>", "1/2"},
        {"d-done", "0/1", "Completed", "0", "<none>", "<none>", "<none>", "<none>"},
        {"e-init", "0/1", "Init:1/2", "0", "<none>", "<none>", "<none>", "<none>"},
        {"f-crashed", "0/1", "Signal:9", "1", "<none>", "<none>", "<none>", "<none>"}};
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "rows")), 6);
    for (size_t i = 0; i < 6; i++)
        check_pod(r.json, i, want[i]);
    /* finished pods carry the Completed row condition */
    const json_t *rows = json_object_get(r.json, "rows");
    ck_assert_ptr_null(json_object_get(json_array_get(rows, 2), "conditions"));
    const json_t *done = json_array_get(json_object_get(json_array_get(rows, 3), "conditions"), 0);
    ck_assert_str_eq(jstr(done, "type"), "Completed");
    ck_assert_str_eq(jstr(done, "reason"), "Succeeded");
    const json_t *failed =
        json_array_get(json_object_get(json_array_get(rows, 5), "conditions"), 0);
    ck_assert_str_eq(jstr(failed, "reason"), "Failed");
    tc_free(&r);

    /* a pod being deleted is Terminating */
    post(PODS, "{\"metadata\":{\"name\":\"g-going\",\"finalizers\":[\"example.com/hold\"]},"
               "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
    tc_request(U, "DELETE", "/api/v1/namespaces/default/pods/g-going", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    get_table("/api/v1/namespaces/default/pods/g-going", NULL, &r);
    ck_assert_str_eq(cell_str(r.json, 0, 2), "Terminating");
    tc_free(&r);
}
END_TEST

START_TEST(services_and_workloads_print_their_columns)
{
    post("/api/v1/namespaces/default/services",
         "{\"metadata\":{\"name\":\"a-web\"},\"spec\":{\"type\":\"NodePort\",\"clusterIPs\":["
         "\"10.96.0.10\"],\"selector\":{\"tier\":\"front\",\"app\":\"web\"},\"ports\":[{\"name\":"
         "\"http\",\"port\":80,\"protocol\":\"TCP\"},{\"name\":\"https\",\"port\":443,"
         "\"protocol\":\"TCP\",\"nodePort\":30443}]}}");
    post("/api/v1/namespaces/default/services",
         "{\"metadata\":{\"name\":\"b-lb\"},\"spec\":{\"type\":\"LoadBalancer\",\"externalIPs\":["
         "\"1.2.3.4\"],\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}]}}");
    post("/api/v1/namespaces/default/services",
         "{\"metadata\":{\"name\":\"c-pending\"},\"spec\":{\"type\":\"LoadBalancer\","
         "\"ports\":[{\"port\":8080}]}}");
    post("/api/v1/namespaces/default/services",
         "{\"metadata\":{\"name\":\"d-ext\"},\"spec\":{\"type\":\"ExternalName\","
         "\"externalName\":\"db.example.com\"}}");
    patch_status("/api/v1/namespaces/default/services/b-lb/status",
                 "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"5.6.7.8\"},{\"hostname\":"
                 "\"b.example.com\"},{\"ip\":\"5.6.7.8\"}]}}}");
    tc_response r;
    char names[256];
    get_table("/api/v1/namespaces/default/services", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Type|Cluster-IP|External-IP|Port(s)|Age|Selector");
    static const char *const svc[][6] = {
        {"a-web", "NodePort", "10.96.0.10", "<none>", "80:30000/TCP,443:30443/TCP",
         "app=web,tier=front"},
        {"b-lb", "LoadBalancer", "10.96.0.11", "5.6.7.8,b.example.com,1.2.3.4", "53:30001/UDP",
         "<none>"},
        {"c-pending", "LoadBalancer", "10.96.0.12", "<pending>", "8080:30002/TCP", "<none>"},
        {"d-ext", "ExternalName", "<none>", "db.example.com", "<none>", "<none>"}};
    for (size_t i = 0; i < 4; i++)
        for (size_t c = 0; c < 6; c++)
            ck_assert_str_eq(cell_str(r.json, i, c < 5 ? c : 6), svc[i][c]);
    tc_free(&r);

    static const char TEMPLATE[] =
        "\"selector\":{\"matchLabels\":{\"app\":\"a\"}},\"template\":{\"metadata\":{\"labels\":"
        "{\"app\":\"a\"}},\"spec\":{\"nodeSelector\":{\"os\":\"linux\",\"arch\":\"arm64\"},"
        "\"containers\":[{\"name\":\"c\",\"image\":\"img:1\"}]}}";
    char body[1024];
    snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"rs\"},\"spec\":{\"replicas\":3,%s}}",
             TEMPLATE);
    post("/apis/apps/v1/namespaces/default/replicasets", body);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"db\"},\"spec\":{\"replicas\":2,\"serviceName\":\"db\",%s}}",
             TEMPLATE);
    post("/apis/apps/v1/namespaces/default/statefulsets", body);
    snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"agent\"},\"spec\":{%s}}", TEMPLATE);
    post("/apis/apps/v1/namespaces/default/daemonsets", body);
    patch_status("/apis/apps/v1/namespaces/default/replicasets/rs/status",
                 "{\"status\":{\"replicas\":3,\"readyReplicas\":2}}");
    patch_status("/apis/apps/v1/namespaces/default/statefulsets/db/status",
                 "{\"status\":{\"replicas\":2,\"readyReplicas\":1}}");
    patch_status("/apis/apps/v1/namespaces/default/daemonsets/agent/status",
                 "{\"status\":{\"desiredNumberScheduled\":5,\"currentNumberScheduled\":4,"
                 "\"numberReady\":3,\"updatedNumberScheduled\":2,\"numberAvailable\":1,"
                 "\"numberMisscheduled\":0}}");
    get_table("/apis/apps/v1/namespaces/default/replicasets", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Desired|Current|Ready|Age|Containers|Images|Selector");
    ck_assert_int_eq(cell_int(r.json, 0, 1), 3);
    ck_assert_int_eq(cell_int(r.json, 0, 2), 3);
    ck_assert_int_eq(cell_int(r.json, 0, 3), 2);
    ck_assert_str_eq(cell_str(r.json, 0, 6), "img:1");
    ck_assert_str_eq(cell_str(r.json, 0, 7), "app=a");
    tc_free(&r);
    get_table("/apis/apps/v1/namespaces/default/statefulsets", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Ready|Age|Containers|Images");
    ck_assert_str_eq(cell_str(r.json, 0, 1), "1/2");
    ck_assert_str_eq(cell_str(r.json, 0, 3), "c");
    tc_free(&r);
    get_table("/apis/apps/v1/namespaces/default/daemonsets", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Desired|Current|Ready|Up-to-date|Available|Node "
                            "Selector|Age|Containers|Images|Selector");
    for (size_t c = 1; c <= 5; c++)
        ck_assert_int_eq(cell_int(r.json, 0, c), 6 - (json_int_t)c);
    ck_assert_str_eq(cell_str(r.json, 0, 6), "arch=arm64,os=linux");
    ck_assert_str_eq(cell_str(r.json, 0, 10), "app=a");
    tc_free(&r);
}
END_TEST

START_TEST(events_and_nodes_print_their_columns)
{
    char first[40], last[40], body[2048];
    iso_ago(7200, first, sizeof(first));
    iso_ago(600, last, sizeof(last));
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"a.1\"},\"involvedObject\":{\"kind\":\"Pod\",\"name\":"
             "\"web\",\"fieldPath\":\"spec.containers{app}\"},\"reason\":\"BackOff\",\"type\":"
             "\"Warning\",\"message\":\"  Back-off restarting  \",\"source\":{\"component\":"
             "\"kubelet\",\"host\":\"node-1\"},\"firstTimestamp\":\"%s\",\"lastTimestamp\":\"%s\","
             "\"count\":7}",
             first, last);
    post("/api/v1/namespaces/default/events", body);
    /* the events.k8s.io shape: an eventTime, reporting fields, no count */
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"b.1\"},\"involvedObject\":{\"kind\":\"Deployment\","
             "\"name\":\"web\"},\"reason\":\"ScalingReplicaSet\",\"type\":\"Normal\",\"message\":"
             "\"Scaled up\",\"eventTime\":\"%.19s.123456Z\",\"reportingComponent\":\"deployment-"
             "controller\",\"reportingInstance\":\"cm-1\",\"action\":\"Scale\"}",
             last);
    post("/api/v1/namespaces/default/events", body);
    tc_response r;
    char names[256];
    get_table("/api/v1/namespaces/default/events", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Last Seen|Type|Reason|Object|Subobject|Source|Message|First "
                            "Seen|Count|Name");
    const json_t *cols = json_object_get(r.json, "columnDefinitions");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(cols, 3), "priority")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(cols, 4), "priority")), 1);
    static const char *const ev[][8] = {{"10m", "Warning", "BackOff", "pod/web",
                                         "spec.containers{app}", "kubelet, node-1",
                                         "Back-off restarting", "120m"},
                                        {"10m", "Normal", "ScalingReplicaSet", "deployment/web", "",
                                         "deployment-controller, cm-1", "Scaled up", "10m"}};
    for (size_t i = 0; i < 2; i++)
        for (size_t c = 0; c < 8; c++)
            ck_assert_msg(strcmp(cell_str(r.json, i, c), ev[i][c]) == 0,
                          "event %zu column %zu: \"%s\", want \"%s\"", i, c, cell_str(r.json, i, c),
                          ev[i][c]);
    ck_assert_int_eq(cell_int(r.json, 0, 8), 7);
    ck_assert_int_eq(cell_int(r.json, 1, 8), 1);
    ck_assert_str_eq(cell_str(r.json, 1, 9), "b.1");
    tc_free(&r);

    post("/api/v1/nodes", "{\"metadata\":{\"name\":\"n1\",\"labels\":{"
                          "\"node-role.kubernetes.io/control-plane\":\"\",\"kubernetes.io/role\":"
                          "\"worker\",\"node-role.kubernetes.io/worker\":\"\"}},\"spec\":{"
                          "\"unschedulable\":true}}");
    post("/api/v1/nodes", "{\"metadata\":{\"name\":\"n2\"}}");
    patch_status("/api/v1/nodes/n1/status",
                 "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}],"
                 "\"addresses\":[{\"type\":\"Hostname\",\"address\":\"n1\"},{\"type\":"
                 "\"InternalIP\",\"address\":\"10.0.0.1\"}],\"nodeInfo\":{\"kubeletVersion\":"
                 "\"v1.32.0\",\"osImage\":\"Debian\",\"kernelVersion\":\"6.1\"}}}");
    get_table("/api/v1/nodes", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Status|Roles|Age|Version|Internal-IP|External-IP|OS-Image|"
                            "Kernel-Version|Container-Runtime");
    static const char *const nodes[][9] = {
        {"n1", "NotReady,SchedulingDisabled", "control-plane,worker", "v1.32.0", "10.0.0.1",
         "<none>", "Debian", "6.1", "<unknown>"},
        {"n2", "Unknown", "<none>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}};
    for (size_t i = 0; i < 2; i++)
        for (size_t c = 0; c < 9; c++)
            ck_assert_str_eq(cell_str(r.json, i, c < 3 ? c : c + 1), nodes[i][c]);
    tc_free(&r);
}
END_TEST

/* Row `row` of the Table at `path`: its cells from column `from` on,
 * strings, or an integer or boolean shown as text, joined with '|'. */
static void row_text(const char *path, size_t row, size_t from, char *out, size_t size)
{
    tc_response r;
    get_table(path, NULL, &r);
    out[0] = '\0';
    const json_t *c = cells(r.json, row);
    for (size_t i = from; i < json_array_size(c); i++) {
        const json_t *v = json_array_get(c, i);
        char one[256];
        if (json_is_string(v))
            snprintf(one, sizeof(one), "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(one, sizeof(one), "%lld", (long long)json_integer_value(v));
        else
            snprintf(one, sizeof(one), "%s", json_is_true(v) ? "true" : "false");
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i > from ? "|" : "", one);
    }
    tc_free(&r);
}

/* The cells after the name must be `want`, the age given as "AGE". */
static void expect_row(const char *path, size_t row, const char *want)
{
    char got[2048];
    row_text(path, row, 1, got, sizeof(got));
    /* the age changes while the test runs: compare it as AGE */
    tc_response r;
    get_table(path, NULL, &r);
    const json_t *cols = json_object_get(r.json, "columnDefinitions");
    size_t age = 0;
    for (size_t i = 0; i < json_array_size(cols); i++)
        if (strcmp(jstr(json_array_get(cols, i), "name"), "Age") == 0)
            age = i;
    tc_free(&r);
    char fixed[2048] = "";
    size_t col = 1;
    for (const char *p = got; p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        size_t at = strlen(fixed);
        snprintf(fixed + at, sizeof(fixed) - at, "%s%.*s", col > 1 ? "|" : "",
                 col == age ? 3 : (int)len, col == age ? "AGE" : p);
        p = bar ? bar + 1 : NULL;
        col++;
    }
    ck_assert_msg(strcmp(fixed, want) == 0, "%s row %zu:\n got %s\nwant %s", path, row, fixed,
                  want);
}

START_TEST(more_kinds_print_their_columns)
{
    post("/api/v1/namespaces/default/serviceaccounts",
         "{\"metadata\":{\"name\":\"bot\"},\"secrets\":[{\"name\":\"a\"},{\"name\":\"b\"}]}");
    expect_row("/api/v1/namespaces/default/serviceaccounts", 0, "2|AGE");
    post("/api/v1/namespaces/default/endpoints",
         "{\"metadata\":{\"name\":\"web\"},\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"},"
         "{\"ip\":\"10.0.0.2\"}],\"ports\":[{\"port\":80},{\"port\":443}]}]}");
    post("/api/v1/namespaces/default/endpoints", "{\"metadata\":{\"name\":\"zz-empty\"}}");
    /* row 0: the apiserver's own, "kubernetes" */
    expect_row("/api/v1/namespaces/default/endpoints", 1,
               "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...|AGE");
    expect_row("/api/v1/namespaces/default/endpoints", 2, "<none>|AGE");
    post("/apis/batch/v1/namespaces/default/cronjobs",
         "{\"metadata\":{\"name\":\"nightly\"},\"spec\":{\"schedule\":\"0 3 * * *\",\"timeZone\":"
         "\"Etc/UTC\",\"suspend\":false,\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{"
         "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}],\"restartPolicy\":"
         "\"Never\"}}}}}}");
    expect_row("/apis/batch/v1/namespaces/default/cronjobs", 0,
               "0 3 * * *|Etc/UTC|False|0|<none>|AGE|c|busybox|<none>");
    post("/apis/policy/v1/namespaces/default/poddisruptionbudgets",
         "{\"metadata\":{\"name\":\"pdb\"},\"spec\":{\"minAvailable\":\"50%\",\"selector\":{"
         "\"matchLabels\":{\"app\":\"web\"}}}}");
    expect_row("/apis/policy/v1/namespaces/default/poddisruptionbudgets", 0, "50%|N/A|0|AGE");
    post("/apis/networking.k8s.io/v1/namespaces/default/ingresses",
         "{\"metadata\":{\"name\":\"ing\"},\"spec\":{\"ingressClassName\":\"nginx\",\"tls\":[{"
         "\"hosts\":[\"a.example.com\"]}],\"rules\":[{\"host\":\"a.example.com\"},{\"host\":"
         "\"b.example.com\"},{},{\"host\":\"c.example.com\"},{\"host\":\"d.example.com\"}]}}");
    expect_row("/apis/networking.k8s.io/v1/namespaces/default/ingresses", 0,
               "nginx|a.example.com,b.example.com,c.example.com + 2 more...||80, 443|AGE");
    post("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
         "{\"metadata\":{\"name\":\"deny\"},\"spec\":{\"podSelector\":{}}}");
    expect_row("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", 0, "<none>|AGE");
    post("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
         "{\"metadata\":{\"name\":\"rb\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
         "\"kind\":\"Role\",\"name\":\"reader\"},\"subjects\":[{\"kind\":\"User\",\"name\":"
         "\"alice\"},{\"kind\":\"User\",\"name\":\"bob\"},{\"kind\":\"Group\",\"name\":\"devs\"},"
         "{\"kind\":\"ServiceAccount\",\"name\":\"bot\",\"namespace\":\"default\"}]}");
    expect_row("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", 0,
               "Role/reader|AGE|alice, bob|devs|default/bot");
    post("/apis/scheduling.k8s.io/v1/priorityclasses",
         "{\"metadata\":{\"name\":\"high\"},\"value\":1000,\"globalDefault\":true,"
         "\"preemptionPolicy\":\"Never\"}");
    expect_row("/apis/scheduling.k8s.io/v1/priorityclasses", 0, "1000|true|AGE|Never");
    post("/api/v1/namespaces/default/resourcequotas",
         "{\"metadata\":{\"name\":\"q\"},\"spec\":{\"hard\":{\"pods\":\"10\"}}}");
    patch_status("/api/v1/namespaces/default/resourcequotas/q/status",
                 "{\"status\":{\"hard\":{\"pods\":\"10\",\"requests.cpu\":\"2\","
                 "\"limits.memory\":\"4Gi\"},\"used\":{\"pods\":\"3\",\"requests.cpu\":\"500m\","
                 "\"limits.memory\":\"1Gi\"}}}");
    expect_row("/api/v1/namespaces/default/resourcequotas", 0,
               "AGE|pods: 3/10, requests.cpu: 500m/2|limits.memory: 1Gi/4Gi");
    post("/api/v1/persistentvolumes",
         "{\"metadata\":{\"name\":\"pv1\"},\"spec\":{\"capacity\":{\"storage\":\"10Gi\"},"
         "\"accessModes\":[\"ReadWriteMany\",\"ReadWriteOnce\"],\"persistentVolumeReclaimPolicy\":"
         "\"Retain\",\"storageClassName\":\"fast\",\"claimRef\":{\"namespace\":\"default\","
         "\"name\":\"data\"},\"volumeMode\":\"Filesystem\"}}");
    patch_status("/api/v1/persistentvolumes/pv1/status", "{\"status\":{\"phase\":\"Bound\"}}");
    expect_row("/api/v1/persistentvolumes", 0,
               "10Gi|RWO,RWX|Retain|Bound|default/data|fast|<unset>||AGE|Filesystem");
    post("/api/v1/namespaces/default/persistentvolumeclaims",
         "{\"metadata\":{\"name\":\"data\"},\"spec\":{\"volumeName\":\"pv1\",\"accessModes\":["
         "\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"10Gi\"}}}}");
    patch_status("/api/v1/namespaces/default/persistentvolumeclaims/data/status",
                 "{\"status\":{\"phase\":\"Bound\",\"capacity\":{\"storage\":\"10Gi\"},"
                 "\"accessModes\":[\"ReadWriteOnce\"]}}");
    expect_row("/api/v1/namespaces/default/persistentvolumeclaims", 0,
               "Bound|pv1|10Gi|RWO||<unset>|AGE|Filesystem");
    /* events.k8s.io Events print as the core ones, from their own fields */
    char body[1024], t[40];
    iso_ago(300, t, sizeof(t));
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"e1\"},\"eventTime\":\"%.19s.000000Z\",\"regarding\":{"
             "\"kind\":\"Pod\",\"name\":\"web\"},\"reason\":\"Pulled\",\"type\":\"Normal\","
             "\"note\":\"Pulled the image\",\"reportingController\":\"kubelet\","
             "\"reportingInstance\":\"node-1\",\"action\":\"Pull\"}",
             t);
    post("/apis/events.k8s.io/v1/namespaces/default/events", body);
    char got[1024];
    row_text("/apis/events.k8s.io/v1/namespaces/default/events", 0, 0, got, sizeof(got));
    ck_assert_str_eq(got, "5m|Normal|Pulled|pod/web||kubelet, node-1|Pulled the image|5m|1|e1");
}
END_TEST

/* The column names of the Table at `path`, joined with '|'. */
static void columns_of(const char *path, char *out, size_t size)
{
    tc_response r;
    get_table(path, NULL, &r);
    column_names(r.json, out, size);
    tc_free(&r);
}

START_TEST(newer_kinds_print_their_columns)
{
    char names[512], got[1024];
    static const char pts[] = "/api/v1/namespaces/default/podtemplates";
    post(pts, "{\"metadata\":{\"name\":\"t\"},\"template\":{\"metadata\":{\"labels\":{\"tier\":"
              "\"web\",\"app\":\"a\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
              "\"nginx:1\"},{\"name\":\"s\",\"image\":\"envoy\"}]}}}");
    columns_of(pts, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Containers|Images|Pod Labels");
    expect_row(pts, 0, "c,s|nginx:1,envoy|app=a,tier=web");

    static const char crs[] = "/apis/apps/v1/namespaces/default/controllerrevisions";
    /* an owner of a kind not served here: the collector leaves it be */
    post(crs, "{\"metadata\":{\"name\":\"web-1\",\"ownerReferences\":[{\"apiVersion\":"
              "\"apps.example.com/v1\",\"kind\":\"StatefulSet\",\"name\":\"web\",\"uid\":"
              "\"u1\",\"controller\":true}]},"
              "\"data\":{},\"revision\":3}");
    post(crs, "{\"metadata\":{\"name\":\"zz-orphan\"},\"data\":{},\"revision\":1}");
    columns_of(crs, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Controller|Revision|Age");
    expect_row(crs, 0, "statefulset.apps.example.com/web|3|AGE");
    expect_row(crs, 1, "<none>|1|AGE");

    static const char hpas[] = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
    post(hpas, "{\"metadata\":{\"name\":\"cpu\"},\"spec\":{\"scaleTargetRef\":{\"apiVersion\":"
               "\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"web\"},\"maxReplicas\":10}}");
    post(hpas, "{\"metadata\":{\"name\":\"many\"},\"spec\":{\"scaleTargetRef\":{\"kind\":"
               "\"StatefulSet\",\"name\":\"db\"},\"minReplicas\":2,\"maxReplicas\":4,\"metrics\":["
               "{\"type\":\"Pods\",\"pods\":{\"metric\":{\"name\":\"qps\"},\"target\":{\"type\":"
               "\"AverageValue\",\"averageValue\":\"1k\"}}},"
               "{\"type\":\"Resource\",\"resource\":{\"name\":\"memory\",\"target\":{\"type\":"
               "\"AverageValue\",\"averageValue\":\"500Mi\"}}},"
               "{\"type\":\"External\",\"external\":{\"metric\":{\"name\":\"q\"},\"target\":{"
               "\"type\":\"Value\",\"value\":\"30\"}}}]}}");
    patch_status("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/cpu/status",
                 "{\"status\":{\"currentReplicas\":3,\"desiredReplicas\":3,\"currentMetrics\":[{"
                 "\"type\":\"Resource\",\"resource\":{\"name\":\"cpu\",\"current\":{"
                 "\"averageUtilization\":42,\"averageValue\":\"120m\"}}}]}}");
    columns_of(hpas, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Reference|Targets|MinPods|MaxPods|Replicas|Age");
    expect_row(hpas, 0, "Deployment/web|cpu: 42%/80%|1|10|3|AGE");
    expect_row(hpas, 1,
               "StatefulSet/db|<unknown>/1k, memory: <unknown>/500Mi + 1 more...|2|4|0|AGE");

    static const char slices[] = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
    post(slices, "{\"metadata\":{\"name\":\"a\"},\"addressType\":\"IPv4\",\"ports\":[{\"port\":80},"
                 "{\"name\":\"all\"},{},{\"port\":9090}],\"endpoints\":[{\"addresses\":["
                 "\"10.0.0.1\",\"10.0.0.2\"]},{\"addresses\":[\"10.0.0.3\",\"10.0.0.4\"]}]}");
    post(slices, "{\"metadata\":{\"name\":\"b\"},\"addressType\":\"FQDN\",\"ports\":[{}],"
                 "\"endpoints\":[]}");
    columns_of(slices, names, sizeof(names));
    ck_assert_str_eq(names, "Name|AddressType|Ports|Endpoints|Age");
    /* a port without a number is named ("" by default), never "*"; a
     * lone empty name prints as no ports */
    expect_row(slices, 0, "IPv4|80,all, + 1 more...|10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...|AGE");
    expect_row(slices, 1, "FQDN|<unset>|<unset>|AGE");

    static const char ics[] = "/apis/networking.k8s.io/v1/ingressclasses";
    post(ics,
         "{\"metadata\":{\"name\":\"nginx\"},\"spec\":{\"controller\":\"k8s.io/ingress-nginx\","
         "\"parameters\":{\"apiGroup\":\"k8s.example.com\",\"kind\":\"IngressParameters\","
         "\"name\":\"lb\"}}}");
    post(ics, "{\"metadata\":{\"name\":\"plain\"},\"spec\":{\"controller\":\"example.com/x\"}}");
    columns_of(ics, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Controller|Parameters|Age");
    expect_row(ics, 0, "k8s.io/ingress-nginx|IngressParameters.k8s.example.com/lb|AGE");
    expect_row(ics, 1, "example.com/x|<none>|AGE");

    static const char scs[] = "/apis/storage.k8s.io/v1/storageclasses";
    post(scs, "{\"metadata\":{\"name\":\"fast\",\"annotations\":{"
              "\"storageclass.kubernetes.io/is-default-class\":\"true\"}},\"provisioner\":"
              "\"example.com/ssd\",\"allowVolumeExpansion\":true,\"volumeBindingMode\":"
              "\"WaitForFirstConsumer\"}");
    post(scs, "{\"metadata\":{\"name\":\"slow\"},\"provisioner\":\"example.com/hdd\","
              "\"reclaimPolicy\":\"Retain\"}");
    columns_of(scs, names, sizeof(names));
    ck_assert_str_eq(names,
                     "Name|Provisioner|ReclaimPolicy|VolumeBindingMode|AllowVolumeExpansion|Age");
    row_text(scs, 0, 0, got, sizeof(got));
    ck_assert_int_eq(
        strncmp(got, "fast (default)|example.com/ssd|Delete|WaitForFirstConsumer|true|", 63), 0);
    expect_row(scs, 1, "example.com/hdd|Retain|Immediate|false|AGE");

    static const char rcs[] = "/apis/node.k8s.io/v1/runtimeclasses";
    post(rcs, "{\"metadata\":{\"name\":\"gvisor\"},\"handler\":\"runsc\"}");
    columns_of(rcs, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Handler|Age");
    expect_row(rcs, 0, "runsc|AGE");

    static const char *const hooks[] = {
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"};
    for (size_t i = 0; i < 2; i++) {
        post(hooks[i], "{\"metadata\":{\"name\":\"h\"},\"webhooks\":[{\"name\":\"a.example.com\","
                       "\"sideEffects\":\"None\",\"admissionReviewVersions\":[\"v1\"],"
                       "\"clientConfig\":{\"url\":\"https://example.com/a\"}},{\"name\":"
                       "\"b.example.com\",\"sideEffects\":\"None\",\"admissionReviewVersions\":["
                       "\"v1\"],\"clientConfig\":{\"url\":\"https://example.com/b\"}}]}");
        columns_of(hooks[i], names, sizeof(names));
        ck_assert_str_eq(names, "Name|Webhooks|Age");
        expect_row(hooks[i], 0, "2|AGE");
    }
}
END_TEST

static const char WIDGET_CRD[] =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
    "\"kind\":\"Widget\",\"listKind\":\"WidgetList\"},\"versions\":["
    "{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":{"
    "\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}},"
    "\"additionalPrinterColumns\":["
    "{\"name\":\"Size\",\"type\":\"integer\",\"jsonPath\":\".spec.size\"},"
    "{\"name\":\"Ratio\",\"type\":\"number\",\"jsonPath\":\".spec.ratio\"},"
    "{\"name\":\"Ready\",\"type\":\"boolean\",\"jsonPath\":\".status.ready\"},"
    "{\"name\":\"Image\",\"type\":\"string\",\"jsonPath\":\".spec.containers[1].image\"},"
    "{\"name\":\"Team\",\"type\":\"string\",\"jsonPath\":\".metadata.labels.example\\\\.com/"
    "team\"},"
    "{\"name\":\"Ports\",\"type\":\"string\",\"jsonPath\":\".spec.ports\"},"
    "{\"name\":\"Missing\",\"type\":\"string\",\"jsonPath\":\".status.nothing\"},"
    "{\"name\":\"Mistyped\",\"type\":\"integer\",\"jsonPath\":\".spec.name\"},"
    "{\"name\":\"Since\",\"type\":\"date\",\"jsonPath\":\".spec.since\",\"priority\":1,"
    "\"description\":\"when it began\"}]},"
    "{\"name\":\"v2\",\"served\":true,\"storage\":false,\"schema\":{\"openAPIV3Schema\":{"
    "\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";

static void widget_since(const char *name, const char *since)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":"
             "\"%s\",\"labels\":{\"example.com/team\":\"blue\"}},\"spec\":{\"size\":3,"
             "\"ratio\":0.5,\"name\":\"x\",\"containers\":[{\"image\":\"a\"},{\"image\":\"b\"}],"
             "\"ports\":[80,443],\"since\":\"%s\"},\"status\":{\"ready\":true}}",
             name, since);
    post("/apis/example.com/v1/namespaces/default/widgets", body);
}

START_TEST(remaining_kinds_print_their_columns)
{
    char names[512];
    static const char rcs[] = "/api/v1/namespaces/default/replicationcontrollers";
    post(rcs, "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3,\"template\":{"
              "\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}},\"spec\":{"
              "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}}}");
    patch_status("/api/v1/namespaces/default/replicationcontrollers/web/status",
                 "{\"status\":{\"replicas\":3,\"readyReplicas\":2}}");
    columns_of(rcs, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Desired|Current|Ready|Age|Containers|Images|Selector");
    expect_row(rcs, 0, "3|3|2|AGE|c|nginx:1|app=web,tier=fe");

    static const char drivers[] = "/apis/storage.k8s.io/v1/csidrivers";
    post(drivers, "{\"metadata\":{\"name\":\"a.csi\"},\"spec\":{\"attachRequired\":false,"
                  "\"tokenRequests\":[{\"audience\":\"x\"},{\"audience\":\"y\"}],"
                  "\"volumeLifecycleModes\":[\"Persistent\",\"Ephemeral\"]}}");
    post(drivers, "{\"metadata\":{\"name\":\"b.csi\"},\"spec\":{}}");
    columns_of(drivers, names, sizeof(names));
    ck_assert_str_eq(names, "Name|AttachRequired|PodInfoOnMount|StorageCapacity|TokenRequests|"
                            "RequiresRepublish|Modes|Age");
    expect_row(drivers, 0, "false|false|false|x,y|false|Persistent,Ephemeral|AGE");
    expect_row(drivers, 1, "true|false|false|<unset>|false|Persistent|AGE");

    static const char nodes[] = "/apis/storage.k8s.io/v1/csinodes";
    post(nodes, "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"drivers\":[{\"name\":\"a.csi\","
                "\"nodeID\":\"n1\"},{\"name\":\"b.csi\",\"nodeID\":\"n1\"}]}}");
    columns_of(nodes, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Drivers|Age");
    expect_row(nodes, 0, "2|AGE");

    static const char caps[] = "/apis/storage.k8s.io/v1/namespaces/default/csistoragecapacities";
    post(caps, "{\"metadata\":{\"name\":\"c1\"},\"storageClassName\":\"fast\","
               "\"capacity\":\"10Gi\"}");
    post(caps, "{\"metadata\":{\"name\":\"c2\"},\"storageClassName\":\"slow\"}");
    columns_of(caps, names, sizeof(names));
    ck_assert_str_eq(names, "Name|StorageClassName|Capacity");
    expect_row(caps, 0, "fast|10Gi");
    expect_row(caps, 1, "slow|<unset>");

    static const char vas[] = "/apis/storage.k8s.io/v1/volumeattachments";
    post(vas, "{\"metadata\":{\"name\":\"va\"},\"spec\":{\"attacher\":\"a.csi\",\"nodeName\":"
              "\"n1\",\"source\":{\"persistentVolumeName\":\"pv1\"}}}");
    patch_status("/apis/storage.k8s.io/v1/volumeattachments/va/status",
                 "{\"status\":{\"attached\":true}}");
    columns_of(vas, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Attacher|PV|Node|Attached|Age");
    expect_row(vas, 0, "a.csi|pv1|n1|true|AGE");

    static const char pls[] = "/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations";
    /* the server's own (bootstrap) catch-all and exempt come first */
    post(pls, "{\"metadata\":{\"name\":\"q\"},\"spec\":{\"type\":\"Limited\",\"limited\":{"
              "\"nominalConcurrencyShares\":10,\"limitResponse\":{\"type\":\"Queue\",\"queuing\":"
              "{\"queues\":16}}}}}");
    columns_of(pls, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Type|AssuredConcurrencyShares|Queues|HandSize|"
                            "QueueLengthLimit|Age");
    expect_row(pls, 0, "Limited|5|<none>|<none>|<none>|AGE");
    expect_row(pls, 1, "Exempt|<none>|<none>|<none>|<none>|AGE");
    expect_row(pls, 2, "Limited|10|16|8|50|AGE");

    static const char fss[] = "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas";
    post(fss, "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"priorityLevelConfiguration\":{\"name\":"
              "\"q\"},\"matchingPrecedence\":500,\"distinguisherMethod\":{\"type\":\"ByUser\"}}}");
    post(fss, "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"priorityLevelConfiguration\":{\"name\":"
              "\"gone\"}}}");
    patch_status("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/b/status",
                 "{\"status\":{\"conditions\":[{\"type\":\"Dangling\",\"status\":\"True\"}]}}");
    columns_of(fss, names, sizeof(names));
    ck_assert_str_eq(names,
                     "Name|PriorityLevel|MatchingPrecedence|DistinguisherMethod|Age|MissingPL");
    expect_row(fss, 0, "q|500|ByUser|AGE|False");
    expect_row(fss, 1, "gone|1000|<none>|AGE|True");

    static const char vaps[] = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies";
    post(vaps, "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"paramKind\":{\"apiVersion\":\"v1\","
               "\"kind\":\"ConfigMap\"},\"validations\":[{\"expression\":\"true\"},"
               "{\"expression\":\"false\"}]}}");
    post(vaps, "{\"metadata\":{\"name\":\"q\"},\"spec\":{\"validations\":[]}}");
    columns_of(vaps, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Validations|ParamKind|Age");
    expect_row(vaps, 0, "2|v1/ConfigMap|AGE");
    expect_row(vaps, 1, "0|<unset>|AGE");

    static const char bindings[] =
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings";
    post(bindings, "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"policyName\":\"p\","
                   "\"paramRef\":{\"name\":\"limits\",\"namespace\":\"default\"}}}");
    post(bindings, "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"policyName\":\"p\","
                   "\"paramRef\":{\"name\":\"limits\"}}}");
    post(bindings, "{\"metadata\":{\"name\":\"c\"},\"spec\":{\"policyName\":\"q\"}}");
    columns_of(bindings, names, sizeof(names));
    ck_assert_str_eq(names, "Name|PolicyName|ParamRef|Age");
    expect_row(bindings, 0, "p|default/limits|AGE");
    expect_row(bindings, 1, "p|*/limits|AGE");
    expect_row(bindings, 2, "q|<unset>|AGE");
}
END_TEST

START_TEST(custom_resources_print_their_crd_columns)
{
    post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD);
    /* ages as Go's HumanDuration prints them, each well inside its unit */
    static const struct {
        long long ago;
        const char *want;
    } ages[] = {{630, "10m"},
                {5 * 3600 + 20 * 60 + 30, "5h20m"},
                {3 * 86400 + 4 * 3600 + 1800, "3d4h"},
                {400 * 86400 + 43200, "400d"},
                {(3 * 365 + 10) * 86400LL + 43200, "3y10d"},
                {-3600, "<invalid>"}};
    size_t n = sizeof(ages) / sizeof(ages[0]);
    for (size_t i = 0; i < n; i++) {
        char name[32], since[40];
        snprintf(name, sizeof(name), "w%zu", i);
        iso_ago(ages[i].ago, since, sizeof(since));
        widget_since(name, since);
    }
    widget_since("wbad", "yesterday");
    tc_response r;
    get_table("/apis/example.com/v1/namespaces/default/widgets", NULL, &r);
    char names[512];
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Size|Ratio|Ready|Image|Team|Ports|Missing|Mistyped|Since");
    const json_t *since_col = json_array_get(json_object_get(r.json, "columnDefinitions"), 9);
    ck_assert_str_eq(jstr(since_col, "type"), "date");
    ck_assert_str_eq(jstr(since_col, "description"), "when it began");
    ck_assert_int_eq(json_integer_value(json_object_get(since_col, "priority")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "rows")), n + 1);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(cell_int(r.json, i, 1), 3);
        ck_assert(json_real_value(json_array_get(cells(r.json, i), 2)) == 0.5);
        ck_assert(json_is_true(json_array_get(cells(r.json, i), 3)));
        ck_assert_str_eq(cell_str(r.json, i, 4), "b");
        ck_assert_str_eq(cell_str(r.json, i, 5), "blue");
        ck_assert_str_eq(cell_str(r.json, i, 6), "[80,443]");
        ck_assert(json_is_null(json_array_get(cells(r.json, i), 7)));
        ck_assert(json_is_null(json_array_get(cells(r.json, i), 8)));
        ck_assert_str_eq(cell_str(r.json, i, 9), ages[i].want);
    }
    ck_assert_str_eq(cell_str(r.json, n, 9), "<invalid>");
    tc_free(&r);

    /* a version without printer columns: Name and Age (a date) */
    get_table("/apis/example.com/v2/namespaces/default/widgets/w0", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Age");
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "columnDefinitions"), 1), "type"),
                     "date");
    assert_fresh_age(cell_str(r.json, 0, 1));
    tc_free(&r);
}
END_TEST

START_TEST(a_watch_sends_the_columns_with_its_first_event_only)
{
    post("/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":\"before\"}}");
    tc_watch *w = tc_watch_open(
        U, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0", KUBECTL_GET);
    ck_assert_uint_eq(tc_watch_wait(w, 1, 10000), 1);
    post("/api/v1/namespaces/default/configmaps",
         "{\"metadata\":{\"name\":\"after\"},\"data\":{\"k\":\"v\"}}");
    tc_response r;
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/before", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(w, 3, 10000), 3);
    static const char *const types[] = {"ADDED", "ADDED", "DELETED"};
    static const char *const names[] = {"before", "after", "before"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *ev = tc_watch_event(w, i);
        ck_assert_str_eq(tc_event_type(ev), types[i]);
        const json_t *t = json_object_get(ev, "object");
        ck_assert_str_eq(jstr(t, "kind"), "Table");
        const json_t *cols = json_object_get(t, "columnDefinitions");
        if (i == 0)
            ck_assert_uint_eq(json_array_size(cols), 3);
        else
            ck_assert_msg(json_is_null(cols), "event %zu repeats the columns", i);
        ck_assert_uint_eq(json_array_size(json_object_get(t, "rows")), 1);
        ck_assert_str_eq(cell_str(t, 0, 0), names[i]);
        ck_assert_ptr_nonnull(jstr(json_object_get(t, "metadata"), "resourceVersion"));
    }
    ck_assert_int_eq(cell_int(json_object_get(tc_watch_event(w, 1), "object"), 0, 1), 1);
    tc_watch_close(w);
}
END_TEST

/* kubectl get --subresource: a status reads as its object does (the
 * object's columns), a built-in's scale as a Scale (Name, Desired,
 * Available, Age), as kube-apiserver's StatusREST and ScaleREST convert
 * them; a subresource without a printer answers plain JSON. */
START_TEST(status_and_scale_subresources_answer_tables)
{
    post("/apis/apps/v1/namespaces/default/deployments",
         "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3,\"selector\":{"
         "\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":"
         "\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]}}}}");
    tc_response r;
    char names[256];
    get_table("/apis/apps/v1/namespaces/default/deployments/web/status", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Ready|Up-to-date|Available|Age|Containers|Images|Selector");
    ck_assert_str_eq(cell_str(r.json, 0, 0), "web");
    ck_assert_str_eq(cell_str(r.json, 0, 1), "0/3");
    tc_free(&r);
    get_table("/apis/apps/v1/namespaces/default/deployments/web/scale", NULL, &r);
    column_names(r.json, names, sizeof(names));
    ck_assert_str_eq(names, "Name|Desired|Available|Age");
    ck_assert_str_eq(cell_str(r.json, 0, 0), "web");
    ck_assert_int_eq(cell_int(r.json, 0, 1), 3);
    ck_assert_int_eq(cell_int(r.json, 0, 2), 0);
    assert_fresh_age(cell_str(r.json, 0, 3));
    tc_free(&r);
    post("/api/v1/namespaces/default/serviceaccounts", "{\"metadata\":{\"name\":\"sa\"}}");
    tc_request(U, "GET", "/api/v1/namespaces/default/serviceaccounts/sa/token", NULL, NULL,
               KUBECTL_GET, &r);
    ck_assert_ptr_null(strstr(r.body ? r.body : "", "\"kind\":\"Table\""));
    tc_free(&r);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {lists_and_gets_answer_tables_with_the_printer_columns,
                            include_object_chooses_what_each_row_carries,
                            built_in_printers_fill_their_columns,
                            pods_print_readiness_status_and_restarts,
                            services_and_workloads_print_their_columns,
                            events_and_nodes_print_their_columns,
                            more_kinds_print_their_columns,
                            newer_kinds_print_their_columns,
                            remaining_kinds_print_their_columns,
                            custom_resources_print_their_crd_columns,
                            a_watch_sends_the_columns_with_its_first_event_only,
                            status_and_scale_subresources_answer_tables,
                            NULL};
    return kr_test_run_tests("testserver_table", "wire", setup, kr_test_server_stop, 60, tests);
}
