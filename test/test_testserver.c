/* Wire tests of the in-memory apiserver (libkreconcile-testserver): each
 * behaviour of the wire spec checked over HTTP with libcurl against a
 * server started in-process on 127.0.0.1, port 0. KR_TEST_THREADED */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_certs.h"
#include "kr_test_server.h"
#include "kr_test_tmpdir.h"
#include "kreconcile/testserver.h"
#include "testserver/ts_internal.h"
#include "ts_client.h"

static kr_testserver_t *ts;
static const char *U;

static void start_with(const kr_testserver_opts *opts)
{
    ts = kr_test_server_start(opts, &U);
}

static void setup(void)
{
    kr_testserver_opts o = {.bookmark_interval_ms = 200, .seed = 42};
    start_with(&o);
}

static const char *meta(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static const char *jstr(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(obj, field));
}

static void create_cm(const char *ns, const char *name, const char *labels)
{
    char path[256], body[1024];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
             "\"labels\":%s},\"data\":{\"k\":\"v\"}}",
             name, labels ? labels : "{}");
    tc_response r;
    tc_json(U, "POST", path, body, &r);
    ck_assert_msg(r.status == 201, "create %s/%s: %ld %s", ns, name, r.status, r.body);
    tc_free(&r);
}

static void create_ns(const char *name)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
             "\"metadata\":{\"name\":\"%s\"}}",
             name);
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces", body, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
}

static void assert_status(const tc_response *r, long code, const char *reason, const char *msg)
{
    ck_assert_msg(r->status == code, "want %ld got %ld: %s", code, r->status, r->body);
    ck_assert_str_eq(jstr(r->json, "kind"), "Status");
    ck_assert_str_eq(jstr(r->json, "apiVersion"), "v1");
    ck_assert_str_eq(jstr(r->json, "status"), code < 300 ? "Success" : "Failure");
    if (code >= 300)
        ck_assert_int_eq(json_integer_value(json_object_get(r->json, "code")), code);
    if (reason)
        ck_assert_str_eq(jstr(r->json, "reason"), reason);
    if (msg)
        ck_assert_str_eq(jstr(r->json, "message"), msg);
}

/* ---- discovery -------------------------------------------------------------------- */

START_TEST(discovery_serves_aggregated_and_legacy_forms)
{
    const char *agg[] = {"Accept: application/json;g=apidiscovery.k8s.io;v=v2;"
                         "as=APIGroupDiscoveryList,application/json",
                         NULL};
    tc_response r;
    tc_request(U, "GET", "/api", NULL, NULL, agg, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.content_type, "as=APIGroupDiscoveryList"));
    ck_assert_str_eq(jstr(r.json, "kind"), "APIGroupDiscoveryList");
    json_t *v1 = json_array_get(
        json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "versions"), 0);
    ck_assert_str_eq(jstr(v1, "version"), "v1");
    ck_assert_ptr_nonnull(strstr(r.body, "\"resource\":\"configmaps\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"shortNames\":[\"cm\"]"));
    tc_free(&r);

    tc_request(U, "GET", "/apis", NULL, NULL, agg, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"apps\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"categories\":[\"all\"]"));
    tc_free(&r);
    /* groups in kube-apiserver's priority order; resources by path, as
     * the apiserver installs them */
    tc_json(U, "GET", "/apis", NULL, &r);
    static const char *const first_groups[] = {"apiregistration.k8s.io", "apps", "events.k8s.io",
                                               "authentication.k8s.io"};
    for (size_t i = 0; i < KR_ARRAY_LEN(first_groups); i++)
        ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "groups"), i), "name"),
                         first_groups[i]);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1", NULL, &r);
    json_t *all = json_object_get(r.json, "resources");
    ck_assert_str_eq(jstr(json_array_get(all, 0), "name"), "bindings");
    bool ephemeral = false, finalize = false;
    for (size_t i = 1; i < json_array_size(all); i++) {
        const char *name = jstr(json_array_get(all, i), "name");
        ck_assert_msg(strcmp(jstr(json_array_get(all, i - 1), "name"), name) < 0, "%s out of order",
                      name);
        ephemeral = ephemeral || strcmp(name, "pods/ephemeralcontainers") == 0;
        finalize = finalize || strcmp(name, "namespaces/finalize") == 0;
    }
    ck_assert(ephemeral && finalize);
    tc_free(&r);
    /* the kinds added after the first ones, as kube-apiserver 1.32 lists them */
    static const struct {
        const char *gv, *plural, *singular, *kind, *shorts, *categories;
        bool namespaced, status;
    } more[] = {
        {"api/v1", "podtemplates", "podtemplate", "PodTemplate", NULL, NULL, true, false},
        {"apis/apps/v1", "controllerrevisions", "controllerrevision", "ControllerRevision", NULL,
         NULL, true, false},
        {"apis/autoscaling/v2", "horizontalpodautoscalers", "horizontalpodautoscaler",
         "HorizontalPodAutoscaler", "[\"hpa\"]", "[\"all\"]", true, true},
        {"apis/discovery.k8s.io/v1", "endpointslices", "endpointslice", "EndpointSlice", NULL, NULL,
         true, false},
        {"apis/networking.k8s.io/v1", "ingressclasses", "ingressclass", "IngressClass", NULL, NULL,
         false, false},
        {"apis/storage.k8s.io/v1", "storageclasses", "storageclass", "StorageClass", "[\"sc\"]",
         NULL, false, false},
        {"apis/node.k8s.io/v1", "runtimeclasses", "runtimeclass", "RuntimeClass", NULL, NULL, false,
         false},
        {"apis/admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations",
         "mutatingwebhookconfiguration", "MutatingWebhookConfiguration", NULL,
         "[\"api-extensions\"]", false, false},
        {"apis/admissionregistration.k8s.io/v1", "validatingwebhookconfigurations",
         "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", NULL,
         "[\"api-extensions\"]", false, false},
        {"apis/apiextensions.k8s.io/v1", "customresourcedefinitions", "customresourcedefinition",
         "CustomResourceDefinition", "[\"crd\",\"crds\"]", "[\"api-extensions\"]", false, true},
    };
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/%s", more[i].gv);
        tc_json(U, "GET", path, NULL, &r);
        ck_assert_msg(r.status == 200, "%s: %ld", path, r.status);
        const json_t *found = NULL, *status = NULL;
        size_t k;
        json_t *res;
        json_array_foreach(json_object_get(r.json, "resources"), k, res)
        {
            const char *name = jstr(res, "name");
            if (strcmp(name, more[i].plural) == 0)
                found = res;
            if (strncmp(name, more[i].plural, strlen(more[i].plural)) == 0 &&
                strcmp(name + strlen(more[i].plural), "/status") == 0)
                status = res;
        }
        ck_assert_msg(found != NULL, "%s lists no %s", path, more[i].plural);
        ck_assert_str_eq(jstr(found, "singularName"), more[i].singular);
        ck_assert_str_eq(jstr(found, "kind"), more[i].kind);
        ck_assert(json_is_true(json_object_get(found, "namespaced")) == more[i].namespaced);
        ck_assert_int_eq(json_array_size(json_object_get(found, "verbs")), 8);
        char *shorts = json_dumps(json_object_get(found, "shortNames"), JSON_COMPACT);
        char *cats = json_dumps(json_object_get(found, "categories"), JSON_COMPACT);
        ck_assert_msg((!shorts && !more[i].shorts) ||
                          (shorts && more[i].shorts && strcmp(shorts, more[i].shorts) == 0),
                      "%s shortNames %s", more[i].plural, shorts ? shorts : "none");
        ck_assert_msg((!cats && !more[i].categories) ||
                          (cats && more[i].categories && strcmp(cats, more[i].categories) == 0),
                      "%s categories %s", more[i].plural, cats ? cats : "none");
        free(shorts);
        free(cats);
        ck_assert((status != NULL) == more[i].status);
        tc_free(&r);
    }

    tc_json(U, "GET", "/api", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "kind"), "APIVersions");
    tc_free(&r);
    tc_json(U, "GET", "/apis", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "kind"), "APIGroupList");
    tc_free(&r);
    tc_json(U, "GET", "/apis/apps/v1", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "kind"), "APIResourceList");
    ck_assert_str_eq(jstr(r.json, "groupVersion"), "apps/v1");
    ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"deployments/status\""));
    tc_free(&r);
    /* a group no web service serves, and a path outside the API, end at
     * the delegation chain's http.NotFound: plain text */
    static const char *const plain[] = {"/apis/nope/v1", "/apis/nope.example.com/v1/things", "/foo",
                                        "/healthz/"};
    for (size_t i = 0; i < KR_ARRAY_LEN(plain); i++) {
        tc_json(U, "GET", plain[i], NULL, &r);
        ck_assert_int_eq(r.status, 404);
        ck_assert_str_eq(r.body, "404 page not found\n");
        ck_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
        /* http.Error's headers, and the filters' Cache-Control */
        ck_assert_msg(strstr(r.headers, "X-Content-Type-Options: nosniff\n"), "%s", r.headers);
        ck_assert_msg(strstr(r.headers, "Cache-Control: no-cache, private\n"), "%s", r.headers);
        tc_free(&r);
    }
    /* under a built-in group's or the core API's root, go-restful answers
     * a Status (details empty) */
    static const char *const restful[] = {"/apis/apps/v9/deployments", "/api/v2",
                                          "/apis/apps/v1/nothings"};
    for (size_t i = 0; i < KR_ARRAY_LEN(restful); i++) {
        tc_json(U, "GET", restful[i], NULL, &r);
        assert_status(&r, 404, "NotFound", "the server could not find the requested resource");
        ck_assert_ptr_null(strstr(r.headers, "X-Content-Type-Options"));
        ck_assert_int_eq(json_object_size(json_object_get(r.json, "details")), 0);
        ck_assert_ptr_nonnull(json_object_get(r.json, "details"));
        tc_free(&r);
    }
    /* go-restful routes answer with a trailing slash too (the Python
     * client asks for /version/). */
    tc_json(U, "GET", "/api/v1/", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "groupVersion"), "v1");
    tc_free(&r);
    tc_json(U, "GET", "/apis/apps/v1/", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "groupVersion"), "apps/v1");
    tc_free(&r);
    tc_json(U, "GET", "/apis/apps/", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "kind"), "APIGroup");
    tc_free(&r);
    tc_json(U, "GET", "/apis/nope/", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
}
END_TEST

START_TEST(version_health_and_openapi)
{
    tc_response r;
    tc_json(U, "GET", "/version?timeout=5s", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "gitVersion"), "v1.32.0");
    tc_free(&r);
    tc_json(U, "GET", "/version/", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "gitVersion"), "v1.32.0");
    tc_free(&r);
    tc_json(U, "GET", "/healthz", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok");
    /* the root handler sets the type and nosniff; a single check sets
     * neither (Go sniffs the type) */
    ck_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
    ck_assert_msg(strstr(r.headers, "X-Content-Type-Options: nosniff\n"), "%s", r.headers);
    tc_free(&r);
    /* The checks one by one, and listed as kube-apiserver lists them. */
    tc_json(U, "GET", "/readyz/etcd", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "ok");
    ck_assert_ptr_null(strstr(r.headers, "X-Content-Type-Options"));
    tc_free(&r);
    tc_json(U, "GET", "/livez/nope", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    tc_json(U, "GET", "/healthz/", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    tc_json(U, "GET", "/readyz?verbose", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.headers, "X-Content-Type-Options: nosniff\n"));
    ck_assert_int_eq(strncmp(r.body, "[+]ping ok\n[+]log ok\n[+]etcd ok\n", 30), 0);
    ck_assert_ptr_nonnull(strstr(r.body, "[+]shutdown ok\nreadyz check passed\n"));
    tc_free(&r);
    tc_json(U, "GET", "/livez?verbose&exclude=zz&exclude=etcd&exclude=a", NULL, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "[+]etcd excluded: ok\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "warn: some health checks cannot be excluded: no "
                                         "matches for \"a\",\"zz\"\nlivez check passed\n"));
    tc_free(&r);
    tc_json(U, "GET", "/openapi/v3", NULL, &r);
    json_t *gv = json_object_get(json_object_get(r.json, "paths"), "api/v1");
    ck_assert_ptr_nonnull(gv);
    char url[256];
    snprintf(url, sizeof(url), "%s", jstr(gv, "serverRelativeURL"));
    ck_assert_ptr_nonnull(strstr(url, "?hash="));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(r.json, "paths"), "apis/apps/v1"));
    tc_free(&r);
    tc_json(U, "GET", url, NULL, &r);
    json_t *p = json_object_get(
        json_object_get(json_object_get(r.json, "paths"), "/api/v1/namespaces/{name}"), "patch");
    ck_assert_str_eq(jstr(json_object_get(p, "x-kubernetes-group-version-kind"), "kind"),
                     "Namespace");
    ck_assert_ptr_nonnull(strstr(r.body, "fieldValidation"));
    /* The schemas of the group's kinds, with the patch strategies. */
    json_t *schemas = json_object_get(json_object_get(r.json, "components"), "schemas");
    json_t *pod = json_object_get(schemas, "io.k8s.api.core.v1.Pod");
    ck_assert_ptr_nonnull(json_object_get(pod, "x-kubernetes-group-version-kind"));
    json_t *containers = json_object_get(
        json_object_get(json_object_get(schemas, "io.k8s.api.core.v1.PodSpec"), "properties"),
        "containers");
    ck_assert_str_eq(jstr(containers, "x-kubernetes-patch-strategy"), "merge");
    ck_assert_str_eq(jstr(containers, "x-kubernetes-patch-merge-key"), "name");
    tc_free(&r);
    /* v2: JSON on request, the gnostic protobuf kubectl asks for. */
    tc_json(U, "GET", "/openapi/v2", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "swagger"), "2.0");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(r.json, "definitions"),
                                          "io.k8s.api.scheduling.v1.PriorityClass"));
    tc_free(&r);
    const char *pb[] = {"Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf", NULL};
    tc_request(U, "GET", "/openapi/v2", NULL, NULL, pb, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
    ck_assert_int_eq(r.body[0], 0x0a); /* swagger = 1 */
    tc_free(&r);
}
END_TEST

/* ---- create, get, list ------------------------------------------------------------- */

START_TEST(create_sets_server_metadata_and_get_returns_it)
{
    tc_response r, g;
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\","
            "\"uid\":\"client\",\"creationTimestamp\":\"1999-01-01T00:00:00Z\"}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_ne(meta(r.json, "uid"), "client");
    ck_assert_uint_eq(strlen(meta(r.json, "uid")), 36);
    ck_assert_str_ne(meta(r.json, "creationTimestamp"), "1999-01-01T00:00:00Z");
    ck_assert_str_eq(meta(r.json, "namespace"), "default");
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "metadata"), "generation"));
    unsigned long long rv = strtoull(meta(r.json, "resourceVersion"), NULL, 10);
    ck_assert_uint_eq(rv, kr_testserver_resource_version(ts));
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/a", NULL, &g);
    ck_assert_int_eq(g.status, 200);
    ck_assert(json_equal(r.json, g.json));
    tc_free(&g);
    tc_free(&r);

    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/deployments",
            "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
            "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
            "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
            "\"name\":\"c\",\"image\":\"x\"}]}}},\"status\":{\"replicas\":9}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(r.json, "metadata"), "generation")), 1);
    /* the status sent is dropped: the Go zero value's, {} */
    ck_assert(json_is_object(json_object_get(r.json, "status")));
    ck_assert_uint_eq(json_object_size(json_object_get(r.json, "status")), 0);
    ck_assert_uint_gt(strtoull(meta(r.json, "resourceVersion"), NULL, 10), rv);
    tc_free(&r);
}
END_TEST

static const char *dig_str(const json_t *obj, const char *path);

/* A CronJob's schedule is parsed as cron.ParseStandard parses it, with its
 * errors, and may not carry a time zone (the timeZone field does). */
START_TEST(cronjob_schedules_are_parsed_as_cron_does)
{
    static const struct {
        const char *schedule, *why; /* why NULL: accepted */
    } cases[] = {
        {"*/5 * * * *", NULL},
        {"0 0 * JAN,feb MON-FRI", NULL},
        {"@weekly", NULL},
        {"bogus", "expected exactly 5 fields, found 1: [bogus]"},
        {"61 * * * *", "end of range (61) above maximum (59): 61"},
        {"0 0 0 * *", "beginning of range (0) below minimum (1): 0"},
        {"*/0 * * * *", "step of range should be a positive number: */0"},
        {"x * * * *", "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"},
        {"@often", "unrecognized descriptor: @often"},
        {"TZ=UTC 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        char body[512], want[512];
        snprintf(
            body, sizeof(body),
            "{\"metadata\":{\"name\":\"cron%zu\"},\"spec\":{\"schedule\":\"%s\",\"jobTemplate\":"
            "{\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{"
            "\"name\":\"c\",\"image\":\"x\"}]}}}}}}",
            i, cases[i].schedule);
        tc_response r;
        tc_json(U, "POST", "/apis/batch/v1/namespaces/default/cronjobs", body, &r);
        if (!cases[i].why) {
            ck_assert_msg(r.status == 201, "%s: %ld %s", cases[i].schedule, r.status, r.body);
        } else {
            ck_assert_msg(r.status == 422, "%s: %ld %s", cases[i].schedule, r.status, r.body);
            snprintf(
                want, sizeof(want),
                "CronJob.batch \"cron%zu\" is invalid: spec.schedule: Invalid value: \"%s\": %s", i,
                cases[i].schedule, cases[i].why);
            ck_assert_str_eq(dig_str(r.json, "message"), want);
        }
        tc_free(&r);
    }
}
END_TEST

/* ValidateLeaseSpec: a duration above 0 and transitions not below 0, on
 * create and update alike (an elector that writes 0 fails here as on a
 * cluster). */
START_TEST(leases_are_validated)
{
    static const char leases[] = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    tc_response r;
    tc_json(U, "POST", leases,
            "{\"metadata\":{\"name\":\"l\"},\"spec\":{\"leaseDurationSeconds\":0,"
            "\"leaseTransitions\":-1}}",
            &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_str_eq(dig_str(r.json, "message"),
                     "Lease.coordination.k8s.io \"l\" is invalid: [spec.leaseDurationSeconds: "
                     "Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid "
                     "value: -1: must be greater than or equal to 0]");
    tc_free(&r);
    tc_json(U, "POST", leases,
            "{\"metadata\":{\"name\":\"l\"},\"spec\":{\"holderIdentity\":\"a\","
            "\"leaseDurationSeconds\":15,\"leaseTransitions\":0}}",
            &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    tc_request(U, "PATCH", "/apis/coordination.k8s.io/v1/namespaces/default/leases/l",
               "application/merge-patch+json", "{\"spec\":{\"leaseDurationSeconds\":-5}}", NULL,
               &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_ptr_nonnull(strstr(r.body, "spec.leaseDurationSeconds: Invalid value: -5"));
    tc_free(&r);
}
END_TEST

/* ValidateVolumeMounts: a mount names one of the pod's volumes and has a
 * mount path, unique in its container. */
START_TEST(pod_volume_mounts_are_validated)
{
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/pods",
            "{\"metadata\":{\"name\":\"mounts\"},\"spec\":{\"volumes\":[{\"name\":\"data\","
            "\"emptyDir\":{}}],\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":["
            "{\"name\":\"nope\",\"mountPath\":\"/a\"},{\"name\":\"data\",\"mountPath\":\"/a\"},"
            "{\"name\":\"data\"}]}]}}",
            &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_str_eq(dig_str(r.json, "message"),
                     "Pod \"mounts\" is invalid: [spec.containers[0].volumeMounts[0].name: Not "
                     "found: \"nope\", spec.containers[0].volumeMounts[1].mountPath: Invalid "
                     "value: \"/a\": must be unique, spec.containers[0].volumeMounts[2].mountPath: "
                     "Required value]");
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/pods",
            "{\"metadata\":{\"name\":\"mounts\"},\"spec\":{\"volumes\":[{\"name\":\"data\","
            "\"emptyDir\":{}}],\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"volumeMounts\":["
            "{\"name\":\"data\",\"mountPath\":\"/a\"}]}]}}",
            &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
}
END_TEST

/* A built-in object is written as encoding/json writes its Go struct: a
 * top-level struct it lacks is there with its zero value (a Deployment's
 * "status": {}, a StatefulSet's {"availableReplicas":0,"replicas":0}), as
 * are the fields that are not omitempty (a core Event's "eventTime": null
 * and "reportingComponent": ""); clients that read status.replicas
 * without a check (typed clients) find an object, not nothing. In the
 * answer, a GET and the watch event alike. */
START_TEST(built_in_objects_carry_their_zero_top_level_fields)
{
    tc_response r;
    tc_json(U, "GET", "/apis/apps/v1/namespaces/default/statefulsets", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char *watch = kr_asprintf("/apis/apps/v1/namespaces/default/statefulsets?watch=1&"
                              "resourceVersion=%s&timeoutSeconds=2",
                              dig_str(r.json, "metadata.resourceVersion"));
    tc_free(&r);
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/deployments",
            "{\"metadata\":{\"name\":\"zero\"},\"spec\":{\"selector\":{\"matchLabels\":{"
            "\"app\":\"z\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"z\"}},"
            "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_msg(json_is_object(tc_dig(r.json, "status")) &&
                      json_object_size(tc_dig(r.json, "status")) == 0,
                  "status: %s", r.body);
    tc_free(&r);
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/statefulsets",
            "{\"metadata\":{\"name\":\"zero\"},\"spec\":{\"serviceName\":\"z\",\"selector\":{"
            "\"matchLabels\":{\"app\":\"z\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":"
            "\"z\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "GET", "/apis/apps/v1/namespaces/default/statefulsets/zero", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(json_object_size(tc_dig(r.json, "status")), 2);
    ck_assert(json_integer_value(tc_dig(r.json, "status.replicas")) == 0 &&
              json_is_integer(tc_dig(r.json, "status.replicas")));
    ck_assert(json_is_integer(tc_dig(r.json, "status.availableReplicas")));
    tc_free(&r);
    tc_json(U, "GET", watch, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "\"status\":{\"availableReplicas\":0,\"replicas\":0}") ||
                      strstr(r.body, "\"status\":{\"replicas\":0,\"availableReplicas\":0}"),
                  "the ADDED event lacks the zero status: %s", r.body);
    tc_free(&r);
    kr_free(watch);
    tc_json(U, "POST", "/api/v1/namespaces/default/events",
            "{\"metadata\":{\"name\":\"zero\"},\"involvedObject\":{\"kind\":\"Pod\","
            "\"name\":\"p\",\"namespace\":\"default\"},\"reason\":\"R\",\"message\":\"m\"}",
            &r);
    ck_assert_msg(r.status == 201, "%s", r.body);
    ck_assert(json_is_null(tc_dig(r.json, "eventTime")));
    ck_assert_str_eq(dig_str(r.json, "reportingComponent"), "");
    ck_assert_str_eq(dig_str(r.json, "reportingInstance"), "");
    tc_free(&r);
    /* a kind without such fields is as it was sent */
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"metadata\":{\"name\":\"zero\"},\"data\":{\"a\":\"b\"}}", &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_null(tc_dig(r.json, "status"));
    ck_assert_ptr_null(tc_dig(r.json, "binaryData"));
    ck_assert_ptr_null(tc_dig(r.json, "immutable"));
    tc_free(&r);
}
END_TEST

START_TEST(create_rejects_bad_input_with_apiserver_status)
{
    tc_response r;
    const char *p = "/api/v1/namespaces/default/configmaps";
    create_cm("default", "dup", NULL);
    tc_json(U, "POST", p,
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"dup\"}}", &r);
    assert_status(&r, 409, "AlreadyExists", "configmaps \"dup\" already exists");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "kind"), "configmaps");
    tc_free(&r);

    tc_json(U, "POST", "/api/v1/namespaces/nope/configmaps",
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}", &r);
    assert_status(&r, 404, "NotFound", "namespaces \"nope\" not found");
    tc_free(&r);

    /* a resourceVersion on a create: etcd3's plain error, a 500 without a
     * reason; not on a dry run, and not when it is no number */
    tc_json(U, "POST", p, "{\"metadata\":{\"name\":\"rv\",\"resourceVersion\":\"5\"}}", &r);
    ck_assert_int_eq(r.status, 500);
    ck_assert_str_eq(jstr(r.json, "status"), "Failure");
    ck_assert_ptr_null(json_object_get(r.json, "reason"));
    ck_assert_str_eq(jstr(r.json, "message"),
                     "resourceVersion should not be set on objects to be created");
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All",
            "{\"metadata\":{\"name\":\"rv\",\"resourceVersion\":\"5\"}}", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    /* validation comes first: storage never sees an invalid object */
    tc_json(U, "POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            "{\"metadata\":{\"name\":\"rv\",\"resourceVersion\":\"5\"},\"spec\":{"
            "\"leaseDurationSeconds\":0}}",
            &r);
    ck_assert_int_eq(r.status, 422);
    tc_free(&r);
    tc_json(U, "POST", p, "{\"metadata\":{\"name\":\"rv\",\"resourceVersion\":\"abc\"}}", &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_ne(meta(r.json, "resourceVersion"), "abc");
    tc_free(&r);

    tc_json(U, "POST", p,
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"Bad_Name\"}}",
            &r);
    assert_status(&r, 422, "Invalid", NULL);
    ck_assert_ptr_nonnull(
        strstr(jstr(r.json, "message"),
               "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value"));
    ck_assert_str_eq(
        jstr(json_array_get(json_object_get(json_object_get(r.json, "details"), "causes"), 0),
             "field"),
        "metadata.name");
    tc_free(&r);

    tc_json(U, "POST", p, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}}", &r);
    assert_status(&r, 422, "Invalid",
                  "ConfigMap \"\" is invalid: metadata.name: Required value: name or "
                  "generateName is required");
    tc_free(&r);

    tc_json(U, "POST", p,
            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}", &r);
    assert_status(&r, 400, "BadRequest", NULL);
    tc_free(&r);
    tc_json(U, "POST", p,
            "{\"apiVersion\":\"apps/v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"s\"}}",
            &r);
    assert_status(&r, 400, "BadRequest", NULL);
    tc_free(&r);
    tc_json(U, "POST", p, "{\"metadata\":{\"name\":\"s\",\"namespace\":\"other\"}}", &r);
    assert_status(&r, 400, "BadRequest",
                  "the namespace of the provided object does not match the namespace sent on "
                  "the request");
    tc_free(&r);
    tc_json(U, "POST", p, "{\"metadata\":{\"name\":", &r);
    assert_status(&r, 400, "BadRequest", NULL);
    tc_free(&r);
    tc_json(U, "POST", p, "[1,2]", &r);
    assert_status(&r, 400, "BadRequest", NULL);
    tc_free(&r);

    tc_json(U, "POST", p, "{\"metadata\":{\"name\":\"l\",\"labels\":{\"app\":\"bad value\"}}}", &r);
    assert_status(&r, 422, "Invalid", NULL);
    ck_assert_ptr_nonnull(
        strstr(jstr(r.json, "message"), "metadata.labels: Invalid value: \"bad value\""));
    tc_free(&r);
    tc_json(U, "POST", p, "{\"metadata\":{\"name\":\"l\",\"annotations\":{\"-x\":\"v\"}}}", &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);
    tc_json(U, "POST", p, "{\"metadata\":{\"name\":\"l\",\"labels\":{\"a\":1}}}", &r);
    assert_status(&r, 400, "BadRequest", NULL);
    tc_free(&r);

    tc_request(U, "POST", p, "application/vnd.kubernetes.protobuf", "k8s\0", NULL, &r);
    assert_status(&r, 400, "BadRequest", NULL);
    tc_free(&r);
    tc_request(U, "POST", p, "application/cbor", "{}", NULL, &r);
    assert_status(&r, 415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types "
                  "include: application/json, application/yaml, "
                  "application/vnd.kubernetes.protobuf");
    tc_free(&r);

    tc_json(U, "GET", "/api/v1/namespaces/default/widgets", NULL, &r);
    assert_status(&r, 404, "NotFound", "the server could not find the requested resource");
    ck_assert_int_eq(json_object_size(json_object_get(r.json, "details")), 0);
    ck_assert_ptr_nonnull(json_object_get(r.json, "details"));
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/missing", NULL, &r);
    assert_status(&r, 404, "NotFound", "configmaps \"missing\" not found");
    tc_free(&r);
    tc_json(U, "GET", "/apis/apps/v1/namespaces/default/deployments/missing", NULL, &r);
    assert_status(&r, 404, "NotFound", "deployments.apps \"missing\" not found");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "group"), "apps");
    tc_free(&r);
}
END_TEST

START_TEST(oversized_bodies_get_413)
{
    size_t n = 3u * 1024u * 1024u + 10;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    const char *prefix = "{\"metadata\":{\"name\":\"big\"},\"data\":{\"a\":\"";
    memcpy(big, prefix, strlen(prefix));
    big[n - 3] = '"';
    big[n - 2] = '}';
    big[n - 1] = '}';
    big[n] = '\0';
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", big, &r);
    assert_status(&r, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728");
    tc_free(&r);
    free(big);
}
END_TEST

START_TEST(generate_name_and_accept_negotiation)
{
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"metadata\":{\"generateName\":\"gen-\"}}", &r);
    ck_assert_int_eq(r.status, 201);
    const char *name = meta(r.json, "name");
    ck_assert_uint_eq(strlen(name), 9);
    ck_assert_int_eq(strncmp(name, "gen-", 4), 0);
    ck_assert_uint_eq(strspn(name + 4, "bcdfghjklmnpqrstvwxz2456789"), 5);
    tc_free(&r);

    tc_request(U, "POST", "/api/v1/namespaces/default/configmaps", "application/yaml",
               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n",
               NULL, &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(meta(r.json, "name"), "from-yaml");
    tc_free(&r);

    const char *table[] = {"Accept: application/json;as=Table;v=v1;g=meta.k8s.io,"
                           "application/json",
                           NULL};
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps?limit=500", NULL, NULL, table, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "Table"); /* test_testserver_table has the rest */
    tc_free(&r);
    /* the bootstrap roles exist in every authorization mode, as
     * kube-apiserver's RBAC post-start hook makes them */
    tc_json(U, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_gt(json_array_size(json_object_get(r.json, "rules")), 0); /* aggregated */
    tc_free(&r);
    /* a kind without a printer of its own gets the default convertor's */
    tc_request(U, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles?limit=500", NULL, NULL,
               table, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "Table");
    tc_free(&r);
    const char *proto[] = {"Accept: application/vnd.kubernetes.protobuf", NULL};
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL, proto, &r);
    assert_status(&r, 406, "NotAcceptable",
                  "only the following media types are accepted: application/json, "
                  "application/yaml");
    tc_free(&r);
    /* YAML, as kube-apiserver serves it: objects, lists and errors, but
     * no watch (YAML has no stream form) */
    create_cm("default", "yml", NULL);
    const char *yaml[] = {"Accept: application/yaml, application/json", NULL};
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps/yml", NULL, NULL, yaml, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "application/yaml");
    ck_assert_msg(strncmp(r.body, "apiVersion: v1\ndata:\n  k: v\nkind: ConfigMap\n", 43) == 0,
                  "%s", r.body);
    json_t *doc = NULL;
    ck_assert_int_eq(ts_yaml_parse(r.body, r.len, &doc, NULL), 0);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/yml", NULL, &r);
    ck_assert(json_equal(doc, r.json));
    json_decref(doc);
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps", NULL, NULL, yaml, &r);
    ck_assert_int_eq(r.status, 200);
    /* a built-in list's items untyped, as kube-apiserver sends them */
    ck_assert_msg(strstr(r.body, "\nitems:\n- ") && !strstr(r.body, "kind: ConfigMap\n"), "%s",
                  r.body);
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps/none", NULL, NULL, yaml, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.content_type, "application/yaml");
    ck_assert_ptr_nonnull(strstr(r.body, "reason: NotFound\n"));
    tc_free(&r);
    const char *json_first[] = {"Accept: application/json, application/yaml", NULL};
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps/yml", NULL, NULL, json_first, &r);
    ck_assert_str_eq(r.content_type, "application/json");
    tc_free(&r);
    const char *yaml_only[] = {"Accept: application/yaml", NULL};
    tc_request(U, "GET", "/api/v1/namespaces/default/configmaps?watch=1", NULL, NULL, yaml_only,
               &r);
    assert_status(&r, 406, "NotAcceptable",
                  "only the following media types are accepted: application/json");
    tc_free(&r);
}
END_TEST

START_TEST(list_is_sorted_and_reports_the_current_rv)
{
    create_ns("b-ns");
    create_ns("a-ns");
    create_cm("b-ns", "z", NULL);
    create_cm("a-ns", "y", NULL);
    create_cm("a-ns", "x", NULL);
    tc_response r;
    tc_json(U, "GET", "/api/v1/configmaps", NULL, &r);
    json_t *items = json_object_get(r.json, "items");
    ck_assert_uint_eq(json_array_size(items), 3);
    ck_assert_str_eq(meta(json_array_get(items, 0), "name"), "x");
    ck_assert_str_eq(meta(json_array_get(items, 1), "name"), "y");
    ck_assert_str_eq(meta(json_array_get(items, 2), "name"), "z");
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", kr_testserver_resource_version(ts));
    ck_assert_str_eq(meta(r.json, "resourceVersion"), rv);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/a-ns/configmaps", NULL, &r);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 2);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/empty/configmaps", NULL, &r);
    ck_assert(json_is_array(json_object_get(r.json, "items")));
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 0);
    tc_free(&r);
}
END_TEST

START_TEST(list_pages_with_continue_and_expires_tokens)
{
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "cm-%02d", i);
        create_cm("default", name, NULL);
    }
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps?limit=3", NULL, &r);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 3);
    json_t *md = json_object_get(r.json, "metadata");
    ck_assert_int_eq(json_integer_value(json_object_get(md, "remainingItemCount")), 7);
    char rv[32], tok[512];
    snprintf(rv, sizeof(rv), "%s", jstr(md, "resourceVersion"));
    snprintf(tok, sizeof(tok), "%s", jstr(md, "continue"));
    tc_free(&r);
    create_cm("default", "cm-05x", NULL); /* not in the snapshot */
    int seen = 3;
    while (tok[0]) {
        char path[700];
        snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps?limit=3&continue=%s",
                 tok);
        tc_json(U, "GET", path, NULL, &r);
        ck_assert_int_eq(r.status, 200);
        md = json_object_get(r.json, "metadata");
        ck_assert_str_eq(jstr(md, "resourceVersion"), rv);
        seen += (int)json_array_size(json_object_get(r.json, "items"));
        snprintf(tok, sizeof(tok), "%s", jstr(md, "continue") ? jstr(md, "continue") : "");
        tc_free(&r);
    }
    ck_assert_int_eq(seen, 10);

    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps?limit=3", NULL, &r);
    snprintf(tok, sizeof(tok), "%s", jstr(json_object_get(r.json, "metadata"), "continue"));
    tc_free(&r);
    char path[700];
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/default/configmaps?limit=3&continue=%s&resourceVersion=5", tok);
    tc_json(U, "GET", path, NULL, &r);
    assert_status(&r, 400, "BadRequest",
                  "specifying resource version is not allowed when using continue");
    tc_free(&r);
    kr_testserver_compact(ts);
    snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps?limit=3&continue=%s", tok);
    tc_json(U, "GET", path, NULL, &r);
    assert_status(&r, 410, "Expired",
                  "The provided continue parameter is too old to display a consistent list "
                  "result. You can start a new list without the continue parameter, or use the "
                  "continue token in this response to retrieve the remainder of the results. "
                  "Continuing with the provided token results in an inconsistent list - objects "
                  "that were created, modified, or deleted between the time the first chunk was "
                  "returned and now may show up in the list.");
    /* its token goes on after the same key, at the latest resourceVersion:
     * cm-05x, made after the first page's list, shows up */
    snprintf(tok, sizeof(tok), "%s", jstr(json_object_get(r.json, "metadata"), "continue"));
    tc_free(&r);
    create_cm("default", "cm-09x", NULL);
    unsigned long long latest = kr_testserver_resource_version(ts);
    int rest = 0;
    bool new_seen = false;
    for (int page = 0; tok[0]; page++) {
        snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps?limit=3&continue=%s",
                 tok);
        tc_json(U, "GET", path, NULL, &r);
        ck_assert_msg(r.status == 200, "%s", r.body);
        md = json_object_get(r.json, "metadata");
        ck_assert_uint_eq(strtoull(jstr(md, "resourceVersion"), NULL, 10), latest);
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(r.json, "items"), i, item)
        {
            ck_assert_str_gt(meta(item, "name"), "cm-02"); /* after the first page's last */
            new_seen = new_seen || strcmp(meta(item, "name"), "cm-09x") == 0;
            rest++;
        }
        snprintf(tok, sizeof(tok), "%s", jstr(md, "continue") ? jstr(md, "continue") : "");
        tc_free(&r);
        ck_assert_int_lt(page, 10);
    }
    ck_assert_int_eq(rest, 9); /* cm-03..cm-09, cm-05x, cm-09x */
    ck_assert(new_seen);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps?limit=3&continue=%%%", NULL, &r);
    assert_status(&r, 400, "BadRequest", NULL);
    tc_free(&r);
}
END_TEST

/* GET path?limit=1&continue=token: the page's item names, one per page. */
static void follow_pages(const char *path, const char *token, char *got, size_t size)
{
    char tok[512], url[800];
    snprintf(tok, sizeof(tok), "%s", token);
    got[0] = '\0';
    while (tok[0]) {
        snprintf(url, sizeof(url), "%s?limit=1&continue=%s", path, tok);
        tc_response r;
        tc_json(U, "GET", url, NULL, &r);
        ck_assert_msg(r.status == 200, "%s", r.body);
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(r.json, "items"), i, item)
        {
            size_t used = strlen(got);
            snprintf(got + used, size - used, "%s%s/%s", used ? " " : "", meta(item, "namespace"),
                     meta(item, "name"));
        }
        const char *next = jstr(json_object_get(r.json, "metadata"), "continue");
        snprintf(tok, sizeof(tok), "%s", next ? next : "");
        tc_free(&r);
    }
}

/* A copy of the continue token `from` with another start key. */
static char *with_start(const char *from, const char *start)
{
    char *raw = NULL;
    size_t len = 0;
    ck_assert_int_eq(kr_base64_decode(from, strlen(from), true, &raw, &len, NULL), 0);
    json_t *doc = json_loadb(raw, len, 0, NULL);
    kr_free(raw);
    ck_assert_ptr_nonnull(doc);
    json_object_set_new(doc, "start", json_string(start));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char *out = kr_base64_encode(text, strlen(text), true);
    kr_json_text_free(text);
    return out;
}

/* As kube-apiserver's storage: a continue token holds the last key relative
 * to the listed path and a request reads it under its own, so a cluster-wide
 * token sent to one namespace's list stays in that namespace (its key
 * "default/a1" sorting before "k1" and after "b1" there). Keys that would
 * climb out of the path are refused. */
START_TEST(continue_tokens_stay_under_the_requested_path)
{
    create_cm("default", "a1", NULL);
    create_cm("default", "a2", NULL);
    create_cm("kube-system", "b1", NULL);
    create_cm("kube-system", "k1", NULL);
    create_cm("kube-system", "k2", NULL);
    tc_response r;
    tc_json(U, "GET", "/api/v1/configmaps?limit=1", NULL, &r);
    ck_assert_str_eq(meta(json_array_get(json_object_get(r.json, "items"), 0), "name"), "a1");
    char tok[512];
    snprintf(tok, sizeof(tok), "%s", jstr(json_object_get(r.json, "metadata"), "continue"));
    tc_free(&r);
    char got[512];
    follow_pages("/api/v1/namespaces/kube-system/configmaps", tok, got, sizeof(got));
    ck_assert_str_eq(got, "kube-system/k1 kube-system/k2");
    follow_pages("/api/v1/configmaps", tok, got, sizeof(got));
    ck_assert_str_eq(got, "default/a2 kube-system/b1 kube-system/k1 kube-system/k2");

    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps?limit=1", NULL, &r);
    snprintf(tok, sizeof(tok), "%s", jstr(json_object_get(r.json, "metadata"), "continue"));
    tc_free(&r);
    follow_pages("/api/v1/namespaces/kube-system/configmaps", tok, got, sizeof(got));
    ck_assert_str_eq(got, "kube-system/b1 kube-system/k1 kube-system/k2");

    /* the same snapshot under keys that climb or are empty */
    static const struct {
        const char *start, *message;
    } bad[] = {
        {"../default/a1", "continue key is not valid: ../default/a1"},
        {"/a1/", "continue key is not valid: /a1/"},
        {"", "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(bad); i++) {
        char *t = with_start(tok, bad[i].start);
        char path[700];
        snprintf(path, sizeof(path), "/api/v1/namespaces/kube-system/configmaps?continue=%s", t);
        kr_free(t);
        tc_json(U, "GET", path, NULL, &r);
        assert_status(&r, 400, "BadRequest", bad[i].message);
        tc_free(&r);
    }
}
END_TEST

/* The names of a list's items, space-separated; the list's resourceVersion. */
static void list_names(const char *path, long want_status, char *names, size_t len, char *rv,
                       size_t rv_len)
{
    tc_response r;
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_msg(r.status == want_status, "%s: %ld %s", path, r.status, r.body);
    names[0] = '\0';
    size_t i;
    json_t *item;
    const char *list_rv = jstr(json_object_get(r.json, "metadata"), "resourceVersion");
    unsigned long long at = list_rv ? strtoull(list_rv, NULL, 10) : 0;
    json_array_foreach(json_object_get(r.json, "items"), i, item)
    {
        /* every item as it was stored at or before the list's version */
        ck_assert_uint_le(strtoull(meta(item, "resourceVersion"), NULL, 10), at);
        size_t used = strlen(names);
        snprintf(names + used, len - used, "%s%s=%s", used ? " " : "", meta(item, "name"),
                 jstr(json_object_get(item, "data"), "k"));
    }
    if (rv)
        snprintf(rv, rv_len, "%s", jstr(json_object_get(r.json, "metadata"), "resourceVersion"));
    tc_free(&r);
}

/* resourceVersionMatch=Exact, and a resourceVersion with a limit (the
 * legacy form), list the store as it was at that resourceVersion while
 * the history reaches back, as etcd serves a revision until compaction;
 * pages follow that past state. */
START_TEST(list_at_an_exact_resource_version_shows_the_past)
{
    const char *base = "/api/v1/namespaces/past/configmaps";
    create_ns("past");
    create_cm("past", "a", NULL);
    create_cm("past", "b", NULL);
    create_cm("past", "c", NULL);
    char then[32], names[512], rv[32], path[700];
    list_names(base, 200, names, sizeof(names), then, sizeof(then));
    ck_assert_str_eq(names, "a=v b=v c=v");
    tc_response r;
    tc_request(U, "PATCH", "/api/v1/namespaces/past/configmaps/a", "application/merge-patch+json",
               "{\"data\":{\"k\":\"changed\"}}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/past/configmaps/b", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    create_cm("past", "aa", NULL);
    create_cm("past", "b", NULL); /* again, after its delete */
    tc_json(U, "DELETE", "/api/v1/namespaces/past/configmaps/c", NULL, &r);
    tc_free(&r);
    create_ns("elsewhere");
    create_cm("elsewhere", "x", NULL);
    list_names(base, 200, names, sizeof(names), NULL, 0);
    ck_assert_str_eq(names, "a=changed aa=v b=v");

    snprintf(path, sizeof(path), "%s?resourceVersion=%s&resourceVersionMatch=Exact", base, then);
    list_names(path, 200, names, sizeof(names), rv, sizeof(rv));
    ck_assert_str_eq(names, "a=v b=v c=v");
    ck_assert_str_eq(rv, then);
    /* NotOlderThan is served at the latest */
    snprintf(path, sizeof(path), "%s?resourceVersion=%s&resourceVersionMatch=NotOlderThan", base,
             then);
    list_names(path, 200, names, sizeof(names), rv, sizeof(rv));
    ck_assert_str_eq(names, "a=changed aa=v b=v");
    /* the legacy form, paged: every page at that resourceVersion */
    snprintf(path, sizeof(path), "%s?resourceVersion=%s&limit=2", base, then);
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 2);
    ck_assert_str_eq(jstr(json_object_get(r.json, "metadata"), "resourceVersion"), then);
    char tok[512];
    snprintf(tok, sizeof(tok), "%s", jstr(json_object_get(r.json, "metadata"), "continue"));
    tc_free(&r);
    snprintf(path, sizeof(path), "%s?limit=2&continue=%s", base, tok);
    list_names(path, 200, names, sizeof(names), rv, sizeof(rv));
    ck_assert_str_eq(names, "c=v");
    ck_assert_str_eq(rv, then);
    /* without a limit, as before: the latest */
    snprintf(path, sizeof(path), "%s?resourceVersion=%s", base, then);
    list_names(path, 200, names, sizeof(names), NULL, 0);
    ck_assert_str_eq(names, "a=changed aa=v b=v");
    /* once compacted, the past is gone */
    kr_testserver_compact(ts);
    snprintf(path, sizeof(path), "%s?resourceVersion=%s&resourceVersionMatch=Exact", base, then);
    list_names(path, 410, names, sizeof(names), NULL, 0);
    snprintf(path, sizeof(path), "%s?resourceVersion=%s&limit=2", base, then);
    list_names(path, 410, names, sizeof(names), NULL, 0);
}
END_TEST

START_TEST(list_validates_resource_version_options)
{
    tc_response r;
    const char *base = "/api/v1/namespaces/default/configmaps";
    char path[256];
    snprintf(path, sizeof(path), "%s?resourceVersionMatch=NotOlderThan", base);
    tc_json(U, "GET", path, NULL, &r);
    assert_status(&r, 422, "Invalid", NULL);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"), "resourceVersionMatch is forbidden "
                                                          "unless resourceVersion is provided"));
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "kind"), "ListOptions");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "group"), "meta.k8s.io");
    tc_free(&r);
    snprintf(path, sizeof(path), "%s?resourceVersion=0&resourceVersionMatch=Exact", base);
    tc_json(U, "GET", path, NULL, &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);
    snprintf(path, sizeof(path), "%s?sendInitialEvents=true", base);
    tc_json(U, "GET", path, NULL, &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);
    snprintf(path, sizeof(path), "%s?resourceVersion=999999", base);
    tc_json(U, "GET", path, NULL, &r);
    assert_status(&r, 504, "Timeout", NULL);
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(r.json, "details"), "retryAfterSeconds")),
                     1);
    tc_free(&r);
    /* a GET of one object too: not older than a version the server lacks */
    create_cm("kube-system", "one", NULL); /* out of the way of the lists below */
    snprintf(path, sizeof(path), "/api/v1/namespaces/kube-system/configmaps/one?resourceVersion=%s",
             "999999");
    tc_json(U, "GET", path, NULL, &r);
    assert_status(&r, 504, "Timeout", NULL);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"), "Too large resource version: 999999"));
    tc_free(&r);
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/kube-system/configmaps/one?resourceVersion=%llu",
             kr_testserver_resource_version(ts));
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    kr_testserver_compact(ts); /* the history no longer reaches back to 1 */
    snprintf(path, sizeof(path), "%s?resourceVersion=1&resourceVersionMatch=Exact", base);
    tc_json(U, "GET", path, NULL, &r);
    assert_status(&r, 410, "Expired", "The resourceVersion for the provided list is too old.");
    tc_free(&r);
    snprintf(path, sizeof(path), "%s?resourceVersion=1&resourceVersionMatch=NotOlderThan", base);
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    /* field.NotSupported names the value */
    snprintf(path, sizeof(path), "%s?resourceVersion=5&resourceVersionMatch=Foo", base);
    tc_json(U, "GET", path, NULL, &r);
    assert_status(
        &r, 422, "Invalid",
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: "
        "\"Foo\": supported values: \"Exact\", \"NotOlderThan\", \"\"");
    tc_free(&r);
    /* a limit of 0 or less is no limit */
    create_cm("default", "l1", NULL);
    create_cm("default", "l2", NULL);
    snprintf(path, sizeof(path), "%s?limit=-1", base);
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 2);
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "metadata"), "continue"));
    tc_free(&r);
    /* a watch with continue takes no resourceVersionMatch either */
    snprintf(path, sizeof(path),
             "%s?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&continue=x",
             base);
    tc_json(U, "GET", path, NULL, &r);
    assert_status(&r, 422, "Invalid", NULL);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"), "forbidden when continue is provided"));
    tc_free(&r);
}
END_TEST

START_TEST(label_and_field_selectors_filter)
{
    create_cm("default", "a", "{\"app\":\"web\",\"tier\":\"fe\"}");
    create_cm("default", "b", "{\"app\":\"db\"}");
    create_cm("default", "c", "{\"skip\":\"1\"}");
    struct {
        const char *q;
        const char *names;
    } cases[] = {
        {"labelSelector=app%3Dweb", "a"},
        {"labelSelector=app%3D%3Dweb", "a"},
        {"labelSelector=app!%3Dweb", "b,c"},
        {"labelSelector=app%20in%20(web,db)", "a,b"},
        {"labelSelector=app%20notin%20(web)", "b,c"},
        {"labelSelector=app", "a,b"},
        {"labelSelector=!app", "c"},
        {"labelSelector=app,!tier", "b"},
        {"fieldSelector=metadata.name%3Db", "b"},
        {"fieldSelector=metadata.name!%3Db", "a,c"},
        {"fieldSelector=metadata.namespace%3Ddefault,metadata.name%3D%3Dc", "c"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[256], got[64] = "";
        snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps?%s", cases[i].q);
        tc_response r;
        tc_json(U, "GET", path, NULL, &r);
        ck_assert_int_eq(r.status, 200);
        size_t k;
        json_t *it;
        json_array_foreach(json_object_get(r.json, "items"), k, it)
        {
            if (got[0])
                strcat(got, ",");
            strcat(got, meta(it, "name"));
        }
        ck_assert_msg(strcmp(got, cases[i].names) == 0, "%s: got %s want %s", cases[i].q, got,
                      cases[i].names);
        tc_free(&r);
    }
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps?fieldSelector=spec.foo%3Dx", NULL, &r);
    assert_status(&r, 400, "BadRequest",
                  "\"spec.foo\" is not a known field selector: only \"metadata.name\", "
                  "\"metadata.namespace\"");
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps?labelSelector=app%20IN%20(a)", NULL,
            &r);
    assert_status(&r, 400, "BadRequest", NULL);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"), "unable to parse requirement"));
    tc_free(&r);
}
END_TEST

/* The names a LIST at `path` answers, joined with ','. */
static void listed_names(const char *path, char *got, size_t size)
{
    tc_response r;
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
    got[0] = '\0';
    size_t k;
    json_t *it;
    json_array_foreach(json_object_get(r.json, "items"), k, it)
    {
        size_t len = strlen(got);
        snprintf(got + len, size - len, "%s%s", len ? "," : "", meta(it, "name"));
    }
    tc_free(&r);
}

/* Kinds that select by more than metadata: events by involvedObject.*
 * (kubectl describe), pods by spec.nodeName and status.phase; a field the
 * object lacks compares as "" (a bool as false). */
/* ValidateEventCreate: an old-style Event's namespace agrees with its
 * object's; one with an eventTime names its reporter, instance, action and
 * reason; events.k8s.io/v1 creates are strict (an eventTime, a known type,
 * no deprecated fields). Paths are the internal Event's names. */
START_TEST(events_are_validated_as_the_apiserver_does)
{
    static const char *const cases[][3] = {
        {"/api/v1/namespaces/default/events",
         "{\"metadata\":{\"name\":\"b1\"},\"involvedObject\":{\"namespace\":\"other\"}}",
         "Event \"b1\" is invalid: involvedObject.namespace: Invalid value: \"other\": does not "
         "match event.namespace"},
        {"/api/v1/namespaces/default/events",
         "{\"metadata\":{\"name\":\"b2\"},\"eventTime\":\"2026-12-06T10:00:00.000000Z\","
         "\"reportingComponent\":\"kr-syncer\",\"reportingInstance\":\"i\",\"reason\":\"R\"}",
         "Event \"b2\" is invalid: action: Required value"},
        {"/apis/events.k8s.io/v1/namespaces/default/events",
         "{\"metadata\":{\"name\":\"b3\"},\"regarding\":{\"namespace\":\"default\"},"
         "\"reason\":\"R\",\"type\":\"Normal\",\"deprecatedCount\":3}",
         "Event.events.k8s.io \"b3\" is invalid: [eventTime: Required value, count: Invalid "
         "value: \"\": needs to be unset]"},
        {"/apis/events.k8s.io/v1/namespaces/default/events",
         "{\"metadata\":{\"name\":\"b4\"},\"eventTime\":\"2026-12-06T10:00:00.000000Z\","
         "\"reportingController\":\"x\",\"reportingInstance\":\"i\",\"action\":\"A\","
         "\"reason\":\"R\",\"type\":\"Info\"}",
         "Event.events.k8s.io \"b4\" is invalid: type: Invalid value: \"\": has invalid value: "
         "Info"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        tc_response r;
        tc_json(U, "POST", cases[i][0], cases[i][1], &r);
        ck_assert_msg(r.status == 422, "%zu: %ld %s", i, r.status, r.body);
        ck_assert_str_eq(jstr(r.json, "message"), cases[i][2]);
        tc_free(&r);
    }
    /* a new-style Event without its reporter: every rule's words */
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/events",
            "{\"metadata\":{\"name\":\"b5\"},\"involvedObject\":{\"namespace\":\"default\"},"
            "\"eventTime\":\"2026-12-06T10:00:00.000000Z\"}",
            &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "Event \"b5\" is invalid: [reportingController: Required value, "
                     "reportingController: Invalid value: \"\": name part must be non-empty, "
                     "reportingController: Invalid value: \"\": name part must consist of "
                     "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                     "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                     "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), "
                     "reportingInstance: Required value, action: Required value, reason: Required "
                     "value]");
    tc_free(&r);
    /* the old style in its namespace passes, as the library's recorder
     * writes it */
    tc_json(U, "POST", "/api/v1/namespaces/default/events",
            "{\"metadata\":{\"name\":\"ok1\"},\"involvedObject\":{\"namespace\":\"default\"},"
            "\"reason\":\"R\",\"count\":2,\"source\":{\"component\":\"c\"}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
}
END_TEST

START_TEST(kinds_select_by_their_own_fields)
{
    static const char *const events[] = {
        "{\"metadata\":{\"name\":\"e1\"},\"involvedObject\":{\"kind\":\"ConfigMap\","
        "\"namespace\":\"default\",\"name\":\"app\",\"uid\":\"u-1\"},\"reason\":\"Synced\","
        "\"type\":\"Normal\",\"source\":{\"component\":\"kr-syncer\"}}",
        "{\"metadata\":{\"name\":\"e2\"},\"involvedObject\":{\"kind\":\"Pod\","
        "\"namespace\":\"default\",\"name\":\"app\"},\"reason\":\"Failed\","
        "\"type\":\"Warning\",\"reportingComponent\":\"kubelet\"}",
        "{\"metadata\":{\"name\":\"e3\"},\"involvedObject\":{\"kind\":\"ConfigMap\","
        "\"namespace\":\"default\",\"name\":\"other\"},\"reason\":\"Synced\"}"};
    for (size_t i = 0; i < 3; i++) {
        tc_response r;
        tc_json(U, "POST", "/api/v1/namespaces/default/events", events[i], &r);
        ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
        tc_free(&r);
    }
    static const char *const pods[] = {
        "{\"metadata\":{\"name\":\"p1\"},\"spec\":{\"nodeName\":\"n1\",\"hostNetwork\":true,"
        "\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}",
        "{\"metadata\":{\"name\":\"p2\"},\"spec\":{\"containers\":[{\"name\":\"c\","
        "\"image\":\"i\"}]}}"};
    for (size_t i = 0; i < 2; i++) {
        tc_response r;
        tc_json(U, "POST", "/api/v1/namespaces/default/pods", pods[i], &r);
        ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
        tc_free(&r);
    }
    tc_response st;
    tc_request(U, "PATCH", "/api/v1/namespaces/default/pods/p1/status",
               "application/merge-patch+json", "{\"status\":{\"phase\":\"Running\"}}", NULL, &st);
    ck_assert_int_eq(st.status, 200);
    tc_free(&st);
    static const char *const cases[][2] = {
        {"events?fieldSelector=involvedObject.kind%3DConfigMap,involvedObject.name%3Dapp,"
         "involvedObject.namespace%3Ddefault,involvedObject.uid%3Du-1",
         "e1"},
        {"events?fieldSelector=involvedObject.name%3Dapp", "e1,e2"},
        {"events?fieldSelector=type%3DWarning", "e2"},
        {"events?fieldSelector=type%3D", "e3"},
        {"events?fieldSelector=type!%3DNormal", "e2,e3"},
        {"events?fieldSelector=source%3Dkr-syncer", "e1"},
        {"events?fieldSelector=source%3Dkubelet", "e2"},
        {"events?fieldSelector=reason%3DSynced,metadata.name!%3De1", "e3"},
        {"pods?fieldSelector=spec.nodeName%3Dn1", "p1"},
        {"pods?fieldSelector=spec.nodeName%3D", "p2"},
        {"pods?fieldSelector=status.phase!%3DRunning", "p2"},
        {"pods?fieldSelector=spec.hostNetwork%3Dfalse", "p2"},
        {"pods?fieldSelector=spec.host%3Dn1", "p1"}, /* old clients' spec.nodeName */
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        char path[512], got[128];
        snprintf(path, sizeof(path), "/api/v1/namespaces/default/%s", cases[i][0]);
        listed_names(path, got, sizeof(got));
        ck_assert_msg(strcmp(got, cases[i][1]) == 0, "%s: got %s want %s", cases[i][0], got,
                      cases[i][1]);
    }
    /* events.k8s.io/v1 by its own names for the same fields */
    static const char *const v1_events[] = {
        "{\"metadata\":{\"name\":\"n1\"},\"regarding\":{\"kind\":\"ConfigMap\","
        "\"namespace\":\"default\",\"name\":\"app\"},\"reason\":\"Synced\",\"type\":"
        "\"Normal\",\"action\":\"Sync\",\"reportingController\":\"kr-syncer\","
        "\"reportingInstance\":\"kr-syncer-1\",\"eventTime\":\"2026-12-06T10:00:00.000000Z\"}",
        "{\"metadata\":{\"name\":\"n2\"},\"regarding\":{\"kind\":\"Pod\","
        "\"namespace\":\"default\",\"name\":\"other\"},\"reason\":\"Failed\",\"type\":"
        "\"Warning\",\"action\":\"Run\",\"reportingController\":\"kubelet\","
        "\"reportingInstance\":\"node-1\",\"eventTime\":\"2026-12-06T10:00:00.000000Z\"}"};
    for (size_t i = 0; i < 2; i++) {
        tc_response r;
        tc_json(U, "POST", "/apis/events.k8s.io/v1/namespaces/default/events", v1_events[i], &r);
        ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
        tc_free(&r);
    }
    static const char *const v1_cases[][2] = {
        {"regarding.kind%3DConfigMap,regarding.name%3Dapp,regarding.namespace%3Ddefault", "n1"},
        {"reportingController%3Dkubelet", "n2"},
        {"source%3Dkr-syncer", "n1"},
        {"type%3DWarning,reason%3DFailed", "n2"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(v1_cases); i++) {
        char path[512], got[128];
        snprintf(path, sizeof(path),
                 "/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=%s",
                 v1_cases[i][0]);
        listed_names(path, got, sizeof(got));
        ck_assert_msg(strcmp(got, v1_cases[i][1]) == 0, "%s: got %s want %s", v1_cases[i][0], got,
                      v1_cases[i][1]);
    }
    {
        tc_response r;
        tc_json(U, "GET",
                "/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=involvedObject.name"
                "%3Dapp",
                NULL, &r);
        assert_status(&r, 400, "BadRequest", NULL);
        ck_assert_ptr_nonnull(
            strstr(jstr(r.json, "message"), "field label not supported: involvedObject.name"));
        tc_free(&r);
    }
    /* a watch selects the same way */
    tc_watch *w = tc_watch_open(
        U, "/api/v1/namespaces/default/events?watch=1&fieldSelector=involvedObject.name%3Dlater",
        NULL);
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/events",
            "{\"metadata\":{\"name\":\"e4\"},\"involvedObject\":{\"name\":\"now\"}}", &r);
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/events",
            "{\"metadata\":{\"name\":\"e5\"},\"involvedObject\":{\"name\":\"later\"}}", &r);
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(w, 1, 10000), 1);
    ck_assert_str_eq(tc_event_name(tc_watch_event(w, 0)), "e5");
    tc_watch_close(w);
    /* other kinds keep to the metadata */
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps?fieldSelector=type%3Dx", NULL, &r);
    assert_status(&r, 400, "BadRequest", NULL);
    tc_free(&r);
    /* services by type and cluster IP (1.30, 1.31) */
    tc_json(U, "POST", "/api/v1/namespaces/default/services",
            "{\"metadata\":{\"name\":\"np\"},\"spec\":{\"type\":\"NodePort\",\"ports\":[{"
            "\"port\":80}]}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    char want_ip[128];
    snprintf(want_ip, sizeof(want_ip),
             "/api/v1/namespaces/default/services?fieldSelector=spec.clusterIP%%3D%s",
             jstr(json_object_get(r.json, "spec"), "clusterIP"));
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/services",
            "{\"metadata\":{\"name\":\"cip\"},\"spec\":{\"ports\":[{\"port\":80}]}}", &r);
    tc_free(&r);
    char got[128];
    listed_names("/api/v1/namespaces/default/services?fieldSelector=spec.type%3DNodePort", got,
                 sizeof(got));
    ck_assert_str_eq(got, "np");
    listed_names(want_ip, got, sizeof(got));
    ck_assert_str_eq(got, "np");
    /* kinds with conversion functions of their own answer in their words;
     * nodes and namespaces take no metadata.namespace */
    static const char *const refused[][2] = {
        {"/api/v1/namespaces/default/services?fieldSelector=spec.ports%3Dx",
         "field label not supported: spec.ports"},
        {"/api/v1/nodes?fieldSelector=metadata.namespace%3Dx",
         "field label not supported: metadata.namespace"},
        {"/api/v1/namespaces?fieldSelector=metadata.namespace%3Dx",
         "field label not supported: metadata.namespace"},
        {"/apis/batch/v1/namespaces/default/jobs?fieldSelector=status.succeeded%3D1",
         "field label \"status.succeeded\" not supported for batchv1.Job"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(refused); i++) {
        tc_json(U, "GET", refused[i][0], NULL, &r);
        assert_status(&r, 400, "BadRequest", refused[i][1]);
        tc_free(&r);
    }
}
END_TEST

/* ---- update, status, generation ---------------------------------------------------- */

static const char *deploy_path = "/apis/apps/v1/namespaces/default/deployments/web";

static json_t *create_deploy(void)
{
    tc_response r;
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/deployments",
            "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
            "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
            "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
            "\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    json_t *obj = json_incref(r.json);
    tc_free(&r);
    return obj;
}

static json_t *put(const char *path, json_t *obj, long want)
{
    char *body = json_dumps(obj, JSON_COMPACT);
    tc_response r;
    tc_json(U, "PUT", path, body, &r);
    free(body);
    ck_assert_msg(r.status == want, "PUT %s: want %ld got %ld %s", path, want, r.status, r.body);
    json_t *out = json_incref(r.json);
    tc_free(&r);
    return out;
}

static json_int_t generation(const json_t *obj)
{
    return json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
}

START_TEST(update_bumps_generation_only_for_spec_and_conflicts_on_stale_rv)
{
    json_t *d = create_deploy();
    json_t *v1 = json_deep_copy(d);
    json_object_set_new(json_object_get(d, "metadata"), "labels", json_pack("{s:s}", "a", "b"));
    json_t *d2 = put(deploy_path, d, 200);
    ck_assert_int_eq(generation(d2), 1);
    ck_assert_str_ne(meta(d2, "resourceVersion"), meta(v1, "resourceVersion"));
    json_object_set_new(json_object_get(d2, "spec"), "replicas", json_integer(3));
    json_object_set_new(d2, "status", json_pack("{s:i}", "replicas", 7));
    json_t *d3 = put(deploy_path, d2, 200);
    ck_assert_int_eq(generation(d3), 2);
    ck_assert_uint_eq(json_object_size(json_object_get(d3, "status")), 0); /* kept: {} */

    json_t *stale = put(deploy_path, v1, 409);
    ck_assert_str_eq(jstr(stale, "reason"), "Conflict");
    ck_assert_str_eq(jstr(stale, "message"),
                     "Operation cannot be fulfilled on deployments.apps \"web\": the object has "
                     "been modified; please apply your changes to the latest version and try "
                     "again");

    json_t *st = json_deep_copy(d3);
    json_object_set_new(st, "status", json_pack("{s:i}", "readyReplicas", 3));
    json_object_set_new(json_object_get(st, "spec"), "replicas", json_integer(9));
    json_t *d4 = put("/apis/apps/v1/namespaces/default/deployments/web/status", st, 200);
    ck_assert_int_eq(generation(d4), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d4, "spec"), "replicas")),
                     3);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(d4, "status"), "readyReplicas")), 3);
    json_t *same = put(deploy_path, d4, 200);
    ck_assert_str_eq(meta(same, "resourceVersion"), meta(d4, "resourceVersion"));

    json_object_set_new(json_object_get(d4, "metadata"), "name", json_string("other"));
    json_t *bad = put(deploy_path, d4, 400);
    ck_assert_str_eq(jstr(bad, "message"),
                     "the name of the object (other) does not match the name on the URL (web)");
    json_t *missing = put("/apis/apps/v1/namespaces/default/deployments/other", d4, 404);
    json_decref(missing);
    /* A PUT's uid is its precondition; a patch may not change it. */
    json_t *other_uid = json_deep_copy(same);
    json_object_set_new(json_object_get(other_uid, "metadata"), "uid", json_string("other"));
    json_t *refused = put(deploy_path, other_uid, 409);
    char want[256];
    snprintf(want, sizeof(want),
             "Operation cannot be fulfilled on deployments.apps \"web\": Precondition failed: "
             "UID in precondition: other, UID in object meta: %s",
             meta(same, "uid"));
    ck_assert_str_eq(jstr(refused, "message"), want);
    json_decref(refused);
    json_decref(other_uid);
    tc_response r;
    tc_request(U, "PATCH", deploy_path, "application/merge-patch+json",
               "{\"metadata\":{\"uid\":\"x\"}}", NULL, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(jstr(r.json, "message"), "Deployment.apps \"web\" is invalid: metadata.uid: "
                                              "Invalid value: \"x\": field is immutable");
    tc_free(&r);
    json_decref(bad);
    json_decref(same);
    json_decref(d4);
    json_decref(st);
    json_decref(stale);
    json_decref(d3);
    json_decref(d2);
    json_decref(v1);
    json_decref(d);
}
END_TEST

/* ---- patch ---------------------------------------------------------------------------- */

static void patch(const char *path, const char *type, const char *body, tc_response *r)
{
    tc_request(U, "PATCH", path, type, body, NULL, r);
}

/* A JSON merge patch that is no object: kube-apiserver unmarshals it into
 * a map first under Warn (the default) and Strict, then json-patch's
 * MergePatch takes no null, and under Ignore no scalar either. */
START_TEST(merge_patches_that_are_no_object_are_refused_as_the_apiserver_does)
{
    static const char cm[] = "/api/v1/namespaces/default/configmaps/mp";
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":\"mp\"}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    static const struct {
        const char *body, *type;
    } cases[] = {{"5", "number"}, {"\"x\"", "string"}, {"true", "bool"}, {"[1]", "array"}};
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        char want[160];
        snprintf(want, sizeof(want),
                 "error decoding patch: json: cannot unmarshal %s into Go value of type "
                 "map[string]interface {}",
                 cases[i].type);
        patch(cm, "application/merge-patch+json", cases[i].body, &r);
        assert_status(&r, 400, "BadRequest", want);
        tc_free(&r);
        char path[128];
        snprintf(path, sizeof(path), "%s?fieldValidation=Strict", cm);
        patch(path, "application/merge-patch+json", cases[i].body, &r);
        assert_status(&r, 400, "BadRequest", want);
        tc_free(&r);
    }
    static const char *const bad[] = {"null", "null?fieldValidation=Strict",
                                      "null?fieldValidation=Ignore", "7?fieldValidation=Ignore",
                                      "\"x\"?fieldValidation=Ignore"};
    for (size_t i = 0; i < KR_ARRAY_LEN(bad); i++) {
        const char *q = strchr(bad[i], '?');
        size_t n = q ? (size_t)(q - bad[i]) : strlen(bad[i]);
        char body[16], path[128];
        snprintf(body, sizeof(body), "%.*s", (int)n, bad[i]);
        snprintf(path, sizeof(path), "%s%s", cm, q ? q : "");
        patch(path, "application/merge-patch+json", body, &r);
        assert_status(&r, 400, "BadRequest", "Invalid JSON Patch");
        tc_free(&r);
    }
}
END_TEST

/* A JSON patch is applied as kube-apiserver applies it (evanphx/json-patch
 * v4, checked with kubectl 1.32): a replace of an absent member sets it, a
 * negative index counts from the end; an operation that is no object is a
 * 400, one that fails a 422, too many of them a 413. */
START_TEST(json_patches_are_applied_as_the_apiserver_does)
{
    static const char cm[] = "/api/v1/namespaces/default/configmaps/jp";
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"metadata\":{\"name\":\"jp\",\"labels\":{\"a\":\"1\"},\"finalizers\":"
            "[\"x/a\",\"x/b\"]}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    patch(cm, "application/json-patch+json",
          "[{\"op\":\"replace\",\"path\":\"/metadata/labels/b\",\"value\":\"2\"},"
          "{\"op\":\"remove\",\"path\":\"/metadata/finalizers/-1\"},"
          "{\"op\":\"add\",\"path\":\"/metadata/finalizers/-1\",\"value\":\"x/c\"}]",
          &r);
    ck_assert_int_eq(r.status, 200);
    json_t *m = json_object_get(r.json, "metadata");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "labels"), "b")), "2");
    json_t *fin = json_object_get(m, "finalizers");
    ck_assert_uint_eq(json_array_size(fin), 2);
    ck_assert_str_eq(json_string_value(json_array_get(fin, 1)), "x/c");
    tc_free(&r);
    patch(cm, "application/json-patch+json", "[1]", &r);
    assert_status(&r, 400, "BadRequest",
                  "json: cannot unmarshal number into Go value of type jsonpatch.Operation");
    tc_free(&r);
    patch(cm, "application/json-patch+json", "[{\"op\":\"bogus\",\"path\":\"/a\"}]", &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);
    /* a failing operation: NewGenericServerResponse(422), its fixed
     * message and empty details, as kube-apiserver answers */
    patch(cm, "application/json-patch+json",
          "[{\"op\":\"remove\",\"path\":\"/metadata/finalizers/x\"}]", &r);
    assert_status(&r, 422, "Invalid",
                  "the server rejected our request due to an error in our request");
    ck_assert(json_is_object(json_object_get(r.json, "details")));
    ck_assert_uint_eq(json_object_size(json_object_get(r.json, "details")), 0);
    tc_free(&r);
    patch(cm, "application/json-patch+json", "{\"op\":\"add\"}", &r);
    assert_status(&r, 400, "BadRequest",
                  "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
    tc_free(&r);
    patch(cm, "application/json-patch+json", "\"x\"", &r);
    assert_status(&r, 400, "BadRequest",
                  "json: cannot unmarshal string into Go value of type jsonpatch.Patch");
    tc_free(&r);
    patch(cm, "application/strategic-merge-patch+json", "[1]", &r);
    assert_status(&r, 400, "BadRequest",
                  "json: cannot unmarshal array into Go value of type map[string]interface {}");
    tc_free(&r);
    /* null decodes as no operations, no changes: the object as it is */
    tc_json(U, "GET", cm, NULL, &r);
    char *rv = kr_strdup(
        json_string_value(json_object_get(json_object_get(r.json, "metadata"), "resourceVersion")));
    tc_free(&r);
    static const char *const null_types[] = {"application/json-patch+json",
                                             "application/strategic-merge-patch+json"};
    for (size_t i = 0; i < 2; i++) {
        patch(cm, null_types[i], "null", &r);
        ck_assert_msg(r.status == 200, "%s null: %ld %s", null_types[i], r.status, r.body);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "metadata"),
                                                           "resourceVersion")),
                         rv);
        tc_free(&r);
    }
    kr_free(rv);
    size_t n = 10001, len = 0;
    char *many = malloc(n * 40 + 3);
    many[len++] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(many + len, "%s{\"op\":\"test\",\"path\":\"\",\"value\":1}",
                               i ? "," : "");
    many[len++] = ']';
    many[len] = '\0';
    patch(cm, "application/json-patch+json", many, &r);
    assert_status(&r, 413, "RequestEntityTooLarge",
                  "Request entity too large: The allowed maximum operations in a JSON patch is "
                  "10000, got 10001");
    tc_free(&r);
    free(many);
}
END_TEST

START_TEST(patch_types_go_through_the_patch_engine)
{
    tc_response r;
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/deployments",
            "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1,\"selector\":{"
            "\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{"
            "\"app\":\"web\"}},\"spec\":"
            "{\"containers\":[{\"name\":\"a\",\"image\":\"x:1\"},{\"name\":\"b\","
            "\"image\":\"y:1\"}]}}}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    patch(deploy_path, "application/strategic-merge-patch+json",
          "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\","
          "\"image\":\"y:2\"}]}}}}",
          &r);
    ck_assert_int_eq(r.status, 200);
    json_t *cs = json_object_get(
        json_object_get(json_object_get(json_object_get(r.json, "spec"), "template"), "spec"),
        "containers");
    ck_assert_uint_eq(json_array_size(cs), 2);
    ck_assert_str_eq(jstr(json_array_get(cs, 1), "image"), "y:2");
    ck_assert_int_eq(generation(r.json), 2);
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", meta(r.json, "resourceVersion"));
    tc_free(&r);

    patch(deploy_path, "application/merge-patch+json", "{\"metadata\":{\"labels\":{\"k\":\"v\"}}}",
          &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(generation(r.json), 2);
    tc_free(&r);
    patch(deploy_path, "application/json-patch+json",
          "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":5}]", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(r.json, "spec"), "replicas")), 5);
    tc_free(&r);
    patch(deploy_path, "application/json-patch+json",
          "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":6}]", &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);

    char body[128];
    snprintf(body, sizeof(body), "{\"metadata\":{\"resourceVersion\":\"%s\"}}", rv);
    patch(deploy_path, "application/merge-patch+json", body, &r);
    assert_status(&r, 409, "Conflict", NULL);
    tc_free(&r);
    patch(deploy_path, "application/merge-patch+json", "{\"spec\":", &r);
    assert_status(&r, 400, "BadRequest", NULL);
    tc_free(&r);
    patch(deploy_path, "text/plain", "{}", &r);
    assert_status(&r, 415, "UnsupportedMediaType", NULL);
    tc_free(&r);
    patch("/apis/apps/v1/namespaces/default/deployments/none", "application/merge-patch+json", "{}",
          &r);
    assert_status(&r, 404, "NotFound", "deployments.apps \"none\" not found");
    tc_free(&r);
    patch("/apis/apps/v1/namespaces/default/deployments/web/status", "application/merge-patch+json",
          "{\"spec\":{\"replicas\":1},\"status\":{\"replicas\":5}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(r.json, "spec"), "replicas")), 5);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(r.json, "status"), "replicas")), 5);
    tc_free(&r);
}
END_TEST

static json_t *created(const char *path, const char *body);
static json_int_t dig_int(const json_t *obj, const char *path);

/* The options of a write are checked before its body, as kube-apiserver's
 * handlers run ValidateCreateOptions, ValidateUpdateOptions and
 * ValidatePatchOptions: every problem in one 422 on the options' kind. */
START_TEST(write_options_are_validated_before_the_body)
{
    static const char cms[] = "/api/v1/namespaces/default/configmaps";
    static const char cm[] = "{\"metadata\":{\"name\":\"opts\"}}";
    char m128[129], m129[130];
    memset(m128, 'm', 128);
    m128[128] = '\0';
    memset(m129, 'm', 129);
    m129[129] = '\0';
    tc_response r;
    /* a body that does not decode is not read */
    tc_request(U, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Bogus",
               "application/json", "{not json", NULL, &r);
    assert_status(&r, 422, "Invalid",
                  "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: "
                  "\"Bogus\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
    json_t *details = json_object_get(r.json, "details");
    ck_assert_str_eq(jstr(details, "kind"), "CreateOptions");
    ck_assert_str_eq(jstr(details, "group"), "meta.k8s.io");
    ck_assert_ptr_null(json_object_get(details, "name"));
    ck_assert_str_eq(jstr(json_array_get(json_object_get(details, "causes"), 0), "reason"),
                     "FieldValueNotSupported");
    tc_free(&r);
    char *url = kr_asprintf("%s?fieldManager=%s&dryRun=Bogus", cms, m129);
    tc_request(U, "POST", url, "application/json", cm, NULL, &r);
    kr_free(url);
    assert_status(&r, 422, "Invalid",
                  "CreateOptions.meta.k8s.io \"\" is invalid: [fieldManager: Too long: may not be "
                  "more than 128 bytes, dryRun: Unsupported value: []string{\"Bogus\"}: supported "
                  "values: \"All\"]");
    tc_free(&r);
    /* 128 bytes are fine */
    url = kr_asprintf("%s?fieldManager=%s", cms, m128);
    tc_request(U, "POST", url, "application/json", cm, NULL, &r);
    kr_free(url);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "PUT", "/api/v1/namespaces/default/configmaps/opts?fieldValidation=strict",
               "application/json", cm, NULL, &r);
    assert_status(&r, 422, "Invalid",
                  "UpdateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: "
                  "\"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
    tc_free(&r);
    /* force belongs to apply */
    patch("/api/v1/namespaces/default/configmaps/opts?force=true", "application/merge-patch+json",
          "{\"data\":{\"a\":\"1\"}}", &r);
    assert_status(&r, 422, "Invalid",
                  "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be "
                  "specified for non-apply patch");
    tc_free(&r);
    url =
        kr_asprintf("/api/v1/namespaces/default/configmaps/opts?fieldManager=%s&force=true", m129);
    patch(url, "application/apply-patch+yaml",
          "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"opts\"}}", &r);
    kr_free(url);
    assert_status(&r, 422, "Invalid",
                  "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be "
                  "more than 128 bytes");
    tc_free(&r);
    /* the scale subresource's writes too */
    json_decref(created("/apis/apps/v1/namespaces/default/deployments",
                        "{\"metadata\":{\"name\":\"opts\"},\"spec\":{\"selector\":{\"matchLabels\":"
                        "{\"app\":\"o\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"o\"}},"
                        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}"));
    patch("/apis/apps/v1/namespaces/default/deployments/opts/scale?force=false",
          "application/merge-patch+json", "{\"spec\":{\"replicas\":2}}", &r);
    assert_status(&r, 422, "Invalid",
                  "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be "
                  "specified for non-apply patch");
    tc_free(&r);
}
END_TEST

START_TEST(server_side_apply_creates_then_patches)
{
    const char *path = "/api/v1/namespaces/default/configmaps/ssa";
    const char *cfg =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"1\"\n";
    tc_response r;
    patch(path, "application/apply-patch+yaml", cfg, &r);
    assert_status(&r, 422, "Invalid", NULL);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"), "fieldManager"));
    tc_free(&r);
    patch("/api/v1/namespaces/default/configmaps/ssa?fieldManager=me&force=false",
          "application/apply-patch+yaml", cfg, &r);
    ck_assert_int_eq(r.status, 201);
    json_t *mf =
        json_array_get(json_object_get(json_object_get(r.json, "metadata"), "managedFields"), 0);
    ck_assert_str_eq(jstr(mf, "manager"), "me");
    ck_assert_str_eq(jstr(mf, "operation"), "Apply");
    ck_assert_ptr_nonnull(
        json_object_get(json_object_get(json_object_get(mf, "fieldsV1"), "f:data"), "f:a"));
    tc_free(&r);
    patch("/api/v1/namespaces/default/configmaps/ssa?fieldManager=me&force=true",
          "application/apply-patch+yaml",
          "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"ssa\"},"
          "\"data\":{\"b\":\"2\"}}",
          &r);
    ck_assert_int_eq(r.status, 200);
    /* a, applied before by the same manager and by nobody else, goes */
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "data"), "a"));
    ck_assert_str_eq(jstr(json_object_get(r.json, "data"), "b"), "2");
    tc_free(&r);
    tc_request(U, "POST", "/api/v1/namespaces/default/configmaps", "application/json",
               "{\"metadata\":{\"name\":\"ua\"},\"data\":{\"k\":\"v\"}}",
               (const char *[]){"User-Agent: kubectl/v1.32.4 (linux/amd64)", NULL}, &r);
    mf = json_array_get(json_object_get(json_object_get(r.json, "metadata"), "managedFields"), 0);
    ck_assert_str_eq(jstr(mf, "manager"), "kubectl");
    ck_assert_str_eq(jstr(mf, "operation"), "Update");
    tc_free(&r);
}
END_TEST

START_TEST(scale_subresource_reads_and_writes_replicas)
{
    tc_response r;
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/deployments",
            "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1,\"selector\":"
            "{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{"
            "\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    const char *path = "/apis/apps/v1/namespaces/default/deployments/web/scale";
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "Scale");
    ck_assert_str_eq(jstr(r.json, "apiVersion"), "autoscaling/v1");
    ck_assert_str_eq(jstr(json_object_get(r.json, "status"), "selector"), "app=web");
    tc_free(&r);
    patch(path, "application/merge-patch+json", "{\"spec\":{\"replicas\":4}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(r.json, "spec"), "replicas")), 4);
    tc_free(&r);
    tc_json(U, "GET", deploy_path, NULL, &r);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(r.json, "spec"), "replicas")), 4);
    ck_assert_int_eq(generation(r.json), 2);
    tc_free(&r);
    tc_json(U, "PUT", path,
            "{\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"1\"},\"spec\":"
            "{\"replicas\":2}}",
            &r);
    assert_status(&r, 409, "Conflict", NULL);
    tc_free(&r);
    /* the Scale is validated first, as ScaleREST does: its kind in the answer */
    patch(path, "application/merge-patch+json", "{\"spec\":{\"replicas\":-4}}", &r);
    assert_status(&r, 422, "Invalid",
                  "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -4: must be "
                  "greater than or equal to 0");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "kind"), "Scale");
    tc_free(&r);
    tc_json(U, "GET", "/apis/apps/v1", NULL, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"deployments/scale\""));
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/x/scale", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
}
END_TEST

/* A Scale's status.selector is metav1.LabelSelectorAsSelector's String():
 * matchLabels and matchExpressions sorted by key, values sorted; absent
 * when there is none (a custom resource without labelSelectorPath), as
 * autoscaling/v1 omits it, and spec.replicas too when 0. */
START_TEST(scale_selector_says_the_whole_label_selector)
{
    json_decref(created("/apis/apps/v1/namespaces/default/deployments",
                        "{\"metadata\":{\"name\":\"mx\"},\"spec\":{\"replicas\":1,\"selector\":{"
                        "\"matchLabels\":{\"app\":\"mx\"},\"matchExpressions\":[{\"key\":\"tier\","
                        "\"operator\":\"In\",\"values\":[\"b\",\"a\"]},{\"key\":\"zone\","
                        "\"operator\":\"DoesNotExist\"},{\"key\":\"env\",\"operator\":\"Exists\"},"
                        "{\"key\":\"stage\",\"operator\":\"NotIn\",\"values\":[\"prod\"]}]},"
                        "\"template\":{\"metadata\":{\"labels\":{\"app\":\"mx\",\"tier\":\"a\","
                        "\"env\":\"e\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
                        "\"x\"}]}}}}"));
    const char *path = "/apis/apps/v1/namespaces/default/deployments/mx/scale";
    tc_response r;
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(json_object_get(r.json, "status"), "selector"),
                     "app=mx,env,stage notin (prod),tier in (a,b),!zone");
    tc_free(&r);
    patch(path, "application/merge-patch+json", "{\"spec\":{\"replicas\":0}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_object_size(json_object_get(r.json, "spec")), 0);
    tc_free(&r);

    json_decref(created(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"gizmos.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gizmos\",\"singular\":\"gizmo\","
        "\"kind\":\"Gizmo\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
        "\"subresources\":{\"scale\":{\"specReplicasPath\":\".spec.replicas\","
        "\"statusReplicasPath\":\".status.replicas\"}},\"schema\":{\"openAPIV3Schema\":{"
        "\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}"));
    json_decref(created("/apis/example.com/v1/namespaces/default/gizmos",
                        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Gizmo\",\"metadata\":{"
                        "\"name\":\"g\"},\"spec\":{\"replicas\":3}}"));
    tc_json(U, "GET", "/apis/example.com/v1/namespaces/default/gizmos/g/scale", NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_int_eq(dig_int(r.json, "spec.replicas"), 3);
    ck_assert_ptr_nonnull(json_object_get(r.json, "status"));
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "status"), "selector"));
    tc_free(&r);
    /* a custom resource's replicas are checked on every write as
     * apiextensions checks them (ValidateScaleSpec), /scale included */
    patch("/apis/example.com/v1/namespaces/default/gizmos/g/scale", "application/merge-patch+json",
          "{\"spec\":{\"replicas\":-4}}", &r);
    assert_status(&r, 422, "Invalid",
                  "Gizmo.example.com \"g\" is invalid: .spec.replicas: Invalid value: -4: should "
                  "be a non-negative integer");
    tc_free(&r);
    patch("/apis/example.com/v1/namespaces/default/gizmos/g", "application/merge-patch+json",
          "{\"spec\":{\"replicas\":4294967296}}", &r);
    assert_status(&r, 422, "Invalid",
                  "Gizmo.example.com \"g\" is invalid: .spec.replicas: Invalid value: 4294967296: "
                  "should be less than or equal to 2147483647");
    tc_free(&r);
}
END_TEST

/* ---- delete ------------------------------------------------------------------------ */

START_TEST(delete_answers_status_or_object_and_honours_finalizers)
{
    create_cm("default", "plain", NULL);
    tc_response r;
    tc_request(U, "DELETE", "/api/v1/namespaces/default/configmaps/plain", "application/json",
               "{\"propagationPolicy\":\"Background\"}", NULL, &r);
    assert_status(&r, 200, NULL, NULL);
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "name"), "plain");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "kind"), "configmaps");
    ck_assert_ptr_nonnull(jstr(json_object_get(r.json, "details"), "uid"));
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/plain", NULL, &r);
    assert_status(&r, 404, "NotFound", "configmaps \"plain\" not found");
    tc_free(&r);

    tc_json(U, "POST", "/api/v1/namespaces/default/pods",
            "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\","
            "\"image\":\"x\"}]}}",
            &r);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/pods/p", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "Pod");
    tc_free(&r);

    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"metadata\":{\"name\":\"held\",\"finalizers\":[\"example.com/hold\"]}}", &r);
    tc_free(&r);
    tc_request(U, "DELETE", "/api/v1/namespaces/default/configmaps/held", "application/json",
               "{\"preconditions\":{\"uid\":\"wrong\"}}", NULL, &r);
    assert_status(&r, 409, "Conflict", NULL);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"), "Precondition failed: UID in "
                                                          "precondition: wrong"));
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/held", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    json_t *held = json_incref(r.json);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/held", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(meta(r.json, "resourceVersion"), meta(held, "resourceVersion"));
    tc_free(&r);

    json_t *more = json_deep_copy(held);
    json_array_append_new(json_object_get(json_object_get(more, "metadata"), "finalizers"),
                          json_string("example.com/more"));
    json_t *inv = put("/api/v1/namespaces/default/configmaps/held", more, 422);
    json_decref(inv);
    json_object_set_new(json_object_get(held, "metadata"), "finalizers", json_array());
    json_t *last = put("/api/v1/namespaces/default/configmaps/held", held, 200);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/held", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    json_decref(last);
    json_decref(more);
    json_decref(held);
}
END_TEST

START_TEST(deletecollection_and_legacy_watch_path)
{
    create_cm("default", "a", "{\"app\":\"x\"}");
    create_cm("default", "b", "{\"app\":\"x\"}");
    create_cm("default", "c", "{\"app\":\"y\"}");
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/watch/namespaces/default/configmaps?resourceVersion=%llu",
             kr_testserver_resource_version(ts));
    tc_watch *w = tc_watch_open(U, path, NULL);
    /* the deprecated watch of one object: that object's events alone */
    snprintf(path, sizeof(path),
             "/api/v1/watch/namespaces/default/configmaps/b?resourceVersion=%llu",
             kr_testserver_resource_version(ts));
    tc_watch *one = tc_watch_open(U, path, NULL);
    tc_response r;
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "ConfigMapList");
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 2);
    for (size_t i = 0; i < 2; i++) { /* untyped, as a LIST's built-in items */
        json_t *item = json_array_get(json_object_get(r.json, "items"), i);
        ck_assert_ptr_null(json_object_get(item, "kind"));
        ck_assert_ptr_null(json_object_get(item, "apiVersion"));
        ck_assert_ptr_nonnull(json_object_get(json_object_get(item, "metadata"), "name"));
    }
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(w, 2, 10000), 2);
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 0)), "DELETED");
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 1)), "DELETED");
    tc_watch_close(w);
    ck_assert_uint_eq(tc_watch_wait(one, 1, 10000), 1);
    ck_assert_str_eq(tc_event_name(tc_watch_event(one, 0)), "b");
    ck_assert_uint_eq(tc_watch_wait(one, 2, 300), 1);
    tc_watch_close(one);
    /* no subresource is watched */
    tc_json(U, "GET", "/api/v1/watch/namespaces/default/configmaps/c/status", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps", NULL, &r);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 1);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces", NULL, &r);
    assert_status(&r, 405, "MethodNotAllowed", NULL);
    tc_free(&r);
}
END_TEST

/* A ConfigMap in ns owned by the ConfigMap owner there, and by a Widget of
 * a kind this server does not serve (a reference the collector cannot
 * resolve, so it stays); the owner's uid is copied into uid. */
static void create_dependent(const char *ns, const char *name, const char *owner, char *uid,
                             size_t len)
{
    char path[256], body[1024];
    tc_response r;
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, owner);
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    snprintf(uid, len, "%s", meta(r.json, "uid"));
    tc_free(&r);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"%s\",\"ownerReferences\":[{\"apiVersion\":\"v1\","
             "\"kind\":\"ConfigMap\",\"name\":\"%s\",\"uid\":\"%s\"},{\"apiVersion\":"
             "\"example.com/v1\",\"kind\":\"Widget\",\"name\":\"other\",\"uid\":\"u-other\"}]}}",
             name, owner, uid);
    tc_json(U, "POST", path, body, &r);
    ck_assert_msg(r.status == 201, "create %s: %ld %s", name, r.status, r.body);
    tc_free(&r);
}

static long cm_status(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/namespaces/gc/configmaps/%s", name);
    tc_response r;
    tc_json(U, "GET", path, NULL, &r);
    long status = r.status;
    tc_free(&r);
    return status;
}

/* deletecollection deletes each item as DELETE of it would, with the
 * collection's options: dependents go with their owners in the background,
 * or stay without the reference to them when orphaned. */
START_TEST(deletecollection_cascades_to_dependents_as_delete_does)
{
    char uid[128];
    create_ns("gc");
    create_cm("gc", "owner-a", "{\"role\":\"owner\"}");
    create_cm("gc", "owner-b", "{\"role\":\"owner\"}");
    create_cm("gc", "bystander", NULL);
    create_dependent("gc", "dep-a", "owner-a", uid, sizeof(uid));
    create_dependent("gc", "dep-b", "owner-b", uid, sizeof(uid));
    create_dependent("gc", "dep-x", "bystander", uid, sizeof(uid));
    tc_response r;
    tc_json(U, "DELETE", "/api/v1/namespaces/gc/configmaps?labelSelector=role%3Downer", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "ConfigMapList");
    const json_t *items = json_object_get(r.json, "items");
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_str_eq(meta(json_array_get(items, 0), "name"), "owner-a");
    ck_assert_str_eq(meta(json_array_get(items, 1), "name"), "owner-b");
    tc_free(&r);
    ck_assert_int_eq(cm_status("owner-a"), 404);
    ck_assert_int_eq(cm_status("owner-b"), 404);
    ck_assert_int_eq(cm_status("dep-a"), 404);
    ck_assert_int_eq(cm_status("dep-b"), 404);
    ck_assert_int_eq(cm_status("bystander"), 200);
    ck_assert_int_eq(cm_status("dep-x"), 200);

    create_cm("gc", "owner-c", "{\"role\":\"parent\"}");
    create_cm("gc", "owner-d", "{\"role\":\"parent\"}");
    create_dependent("gc", "dep-c", "owner-c", uid, sizeof(uid));
    create_dependent("gc", "dep-d", "owner-d", uid, sizeof(uid));
    tc_request(U, "DELETE", "/api/v1/namespaces/gc/configmaps?labelSelector=role%3Dparent",
               "application/json", "{\"propagationPolicy\":\"Orphan\"}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 2);
    tc_free(&r);
    ck_assert_int_eq(cm_status("owner-c"), 404);
    ck_assert_int_eq(cm_status("owner-d"), 404);
    static const char *const orphans[] = {"dep-c", "dep-d"};
    for (size_t i = 0; i < sizeof(orphans) / sizeof(orphans[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "/api/v1/namespaces/gc/configmaps/%s", orphans[i]);
        tc_json(U, "GET", path, NULL, &r);
        ck_assert_int_eq(r.status, 200);
        /* only the deleted owner's reference goes */
        const json_t *refs =
            json_object_get(json_object_get(r.json, "metadata"), "ownerReferences");
        ck_assert_uint_eq(json_array_size(refs), 1);
        ck_assert_str_eq(jstr(json_array_get(refs, 0), "uid"), "u-other");
        tc_free(&r);
    }
}
END_TEST

START_TEST(dry_run_stores_nothing)
{
    tc_response r;
    unsigned long long rv = kr_testserver_resource_version(ts);
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All",
            "{\"metadata\":{\"name\":\"dry\"}}", &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_nonnull(meta(r.json, "uid"));
    ck_assert_ptr_null(meta(r.json, "resourceVersion"));
    tc_free(&r);
    ck_assert_uint_eq(kr_testserver_resource_version(ts), rv);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/dry", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps?dryRun=Some",
            "{\"metadata\":{\"name\":\"dry\"}}", &r);
    assert_status(&r, 422, "Invalid", NULL);
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "kind"), "CreateOptions");
    tc_free(&r);
    /* An update or patch answers the object as it would be, at the
     * resourceVersion it has now (kube-apiserver's dry-run storage fills
     * an unconditional update's with the live one). */
    create_cm("default", "live", NULL);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/live", NULL, &r);
    char live_rv[32];
    snprintf(live_rv, sizeof(live_rv), "%s", meta(r.json, "resourceVersion"));
    tc_free(&r);
    rv = kr_testserver_resource_version(ts);
    tc_request(U, "PATCH", "/api/v1/namespaces/default/configmaps/live?dryRun=All",
               "application/merge-patch+json", "{\"data\":{\"k\":\"patched\"}}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(meta(r.json, "resourceVersion"), live_rv);
    ck_assert_str_eq(jstr(json_object_get(r.json, "data"), "k"), "patched");
    tc_free(&r);
    tc_json(U, "PUT", "/api/v1/namespaces/default/configmaps/live?dryRun=All",
            "{\"metadata\":{\"name\":\"live\"},\"data\":{\"k\":\"put\"}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(meta(r.json, "resourceVersion"), live_rv);
    ck_assert_str_eq(jstr(json_object_get(r.json, "data"), "k"), "put");
    tc_free(&r);
    ck_assert_uint_eq(kr_testserver_resource_version(ts), rv);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/live", NULL, &r);
    ck_assert_str_eq(meta(r.json, "resourceVersion"), live_rv);
    ck_assert_str_eq(jstr(json_object_get(r.json, "data"), "k"), "v");
    tc_free(&r);
    /* A DELETE that finalizers would hold answers the object as it would be
     * marked, stored nowhere; Foreground adds its finalizer; a plain one
     * answers the Status of a deletion. */
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"metadata\":{\"name\":\"held\",\"finalizers\":[\"example.com/hold\"]}}", &r);
    ck_assert_int_eq(r.status, 201);
    char held_rv[32];
    snprintf(held_rv, sizeof(held_rv), "%s", meta(r.json, "resourceVersion"));
    tc_free(&r);
    rv = kr_testserver_resource_version(ts);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/held?dryRun=All", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "ConfigMap");
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    ck_assert_str_eq(meta(r.json, "resourceVersion"), held_rv);
    ck_assert_uint_eq(
        json_array_size(json_object_get(json_object_get(r.json, "metadata"), "finalizers")), 1);
    tc_free(&r);
    tc_json(U, "DELETE",
            "/api/v1/namespaces/default/configmaps/live?dryRun=All&propagationPolicy=Foreground",
            NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    json_t *fins = json_object_get(json_object_get(r.json, "metadata"), "finalizers");
    ck_assert_uint_eq(json_array_size(fins), 1);
    ck_assert_str_eq(json_string_value(json_array_get(fins, 0)), "foregroundDeletion");
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/live?dryRun=All", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "Status");
    tc_free(&r);
    ck_assert_uint_eq(kr_testserver_resource_version(ts), rv);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/held", NULL, &r);
    ck_assert_ptr_null(meta(r.json, "deletionTimestamp"));
    tc_free(&r);
    /* a namespace is held by its spec.finalizers: answered Terminating */
    create_ns("dry-ns");
    tc_json(U, "DELETE", "/api/v1/namespaces/dry-ns?dryRun=All", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "Namespace");
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    ck_assert_str_eq(jstr(json_object_get(r.json, "status"), "phase"), "Terminating");
    tc_free(&r);
    ck_assert_uint_eq(kr_testserver_resource_version(ts), rv + 1); /* the namespace's create */

    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/live", NULL, &r);
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "metadata"), "finalizers"));
    tc_free(&r);
}
END_TEST

START_TEST(deleting_a_namespace_deletes_its_contents)
{
    create_ns("team");
    create_cm("team", "a", NULL);
    tc_response r;
    tc_json(U, "DELETE", "/api/v1/namespaces/team", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/team/configmaps/a", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
}
END_TEST

static const json_t *ns_condition(const json_t *ns, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(ns, "status"), "conditions"), i, c)
    {
        if (strcmp(jstr(c, "type"), type) == 0)
            return c;
    }
    return NULL;
}

START_TEST(a_namespace_terminates_until_its_contents_are_gone)
{
    tc_response r;
    create_ns("doomed");
    tc_json(U, "GET", "/api/v1/namespaces/doomed", NULL, &r);
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_object_get(r.json, "spec"), "finalizers"), 0)),
                     "kubernetes");
    tc_free(&r);
    create_cm("doomed", "free", NULL);
    tc_json(U, "POST", "/api/v1/namespaces/doomed/configmaps",
            "{\"metadata\":{\"name\":\"held\",\"finalizers\":[\"example.com/hold\"]}}", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);

    /* the answer is the namespace, Terminating */
    tc_json(U, "DELETE", "/api/v1/namespaces/doomed", NULL, &r);
    ck_assert_msg(r.status == 200 && strcmp(jstr(r.json, "kind"), "Namespace") == 0, "%s", r.body);
    ck_assert_str_eq(jstr(json_object_get(r.json, "status"), "phase"), "Terminating");
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/doomed/configmaps/free", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/doomed/configmaps/held", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    tc_free(&r);

    /* what holds it, in the namespace controller's words */
    tc_json(U, "GET", "/api/v1/namespaces/doomed", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    const json_t *c = ns_condition(r.json, "NamespaceContentRemaining");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(jstr(c, "status"), "True");
    ck_assert_str_eq(jstr(c, "reason"), "SomeResourcesRemain");
    ck_assert_str_eq(jstr(c, "message"),
                     "Some resources are remaining: configmaps. has 1 resource instances");
    c = ns_condition(r.json, "NamespaceFinalizersRemaining");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(jstr(c, "message"), "Some content in the namespace has finalizers "
                                         "remaining: example.com/hold in 1 resource instances");
    c = ns_condition(r.json, "NamespaceDeletionContentFailure");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(jstr(c, "status"), "False");
    ck_assert_str_eq(jstr(c, "reason"), "ContentDeleted");
    ck_assert_uint_eq(
        json_array_size(json_object_get(json_object_get(r.json, "status"), "conditions")), 5);
    tc_free(&r);

    /* no new content, in the lifecycle admission's words */
    tc_json(U, "POST", "/api/v1/namespaces/doomed/configmaps", "{\"metadata\":{\"name\":\"late\"}}",
            &r);
    assert_status(&r, 403, "Forbidden",
                  "configmaps \"late\" is forbidden: unable to create new content in namespace "
                  "doomed because it is being terminated");
    const json_t *cause =
        json_array_get(json_object_get(json_object_get(r.json, "details"), "causes"), 0);
    ck_assert_str_eq(jstr(cause, "reason"), "NamespaceTerminating");
    ck_assert_str_eq(jstr(cause, "message"), "namespace doomed is being terminated");
    ck_assert_str_eq(jstr(cause, "field"), "metadata.namespace");
    tc_free(&r);

    /* an update cannot drop spec.finalizers: only finalize can */
    tc_json(U, "PUT", "/api/v1/namespaces/doomed",
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"doomed\"},"
            "\"spec\":{\"finalizers\":[]}}",
            &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(
        json_array_size(json_object_get(json_object_get(r.json, "spec"), "finalizers")), 1);
    tc_free(&r);

    /* the last finalizer of the last object goes: so does the namespace */
    patch("/api/v1/namespaces/doomed/configmaps/held", "application/merge-patch+json",
          "{\"metadata\":{\"finalizers\":null}}", &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/doomed", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);

    /* finalize lets a namespace go with content still in it */
    create_ns("forced");
    tc_json(U, "POST", "/api/v1/namespaces/forced/configmaps",
            "{\"metadata\":{\"name\":\"held\",\"finalizers\":[\"example.com/hold\"]}}", &r);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/forced", NULL, &r);
    tc_free(&r);
    tc_json(U, "PUT", "/api/v1/namespaces/forced/finalize",
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"forced\"},"
            "\"spec\":{\"finalizers\":[]}}",
            &r);
    ck_assert_msg(r.status == 200, "finalize: %ld %s", r.status, r.body);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/forced", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);

    /* the lifecycle admission keeps the system's namespaces */
    tc_json(U, "DELETE", "/api/v1/namespaces/kube-system", NULL, &r);
    assert_status(&r, 403, "Forbidden",
                  "namespaces \"kube-system\" is forbidden: this namespace may not be deleted");
    tc_free(&r);

    /* a namespace's own finalizer holds it once its content is gone */
    tc_json(U, "POST", "/api/v1/namespaces",
            "{\"metadata\":{\"name\":\"owned\",\"finalizers\":[\"example.com/ns\"]}}", &r);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/owned", NULL, &r);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/owned", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "spec"), "finalizers"));
    tc_free(&r);
    patch("/api/v1/namespaces/owned", "application/merge-patch+json",
          "{\"metadata\":{\"finalizers\":null}}", &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/owned", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
}
END_TEST

START_TEST(autoscalers_are_served_as_v1_and_v2)
{
    const char *v1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
    const char *v2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
    tc_watch *w =
        tc_watch_open(U,
                      "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers?watch=1&"
                      "resourceVersion=0",
                      NULL);
    tc_response r;
    tc_json(U, "POST", v1,
            "{\"apiVersion\":\"autoscaling/v1\",\"kind\":\"HorizontalPodAutoscaler\","
            "\"metadata\":{\"name\":\"web\"},\"spec\":{\"scaleTargetRef\":{\"apiVersion\":"
            "\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"web\"},\"maxReplicas\":5,"
            "\"targetCPUUtilizationPercentage\":60}}",
            &r);
    ck_assert_msg(r.status == 201, "%s", r.body);
    ck_assert_str_eq(jstr(r.json, "apiVersion"), "autoscaling/v1");
    ck_assert_int_eq(dig_int(r.json, "spec.targetCPUUtilizationPercentage"), 60);
    ck_assert_int_eq(dig_int(r.json, "spec.minReplicas"), 1);
    tc_free(&r);

    /* the same object through v2: one CPU utilization metric */
    char path[256];
    snprintf(path, sizeof(path), "%s/web", v2);
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_str_eq(jstr(r.json, "apiVersion"), "autoscaling/v2");
    const json_t *m = json_array_get(tc_dig(r.json, "spec.metrics"), 0);
    ck_assert_str_eq(dig_str(m, "resource.name"), "cpu");
    ck_assert_int_eq(dig_int(m, "resource.target.averageUtilization"), 60);
    ck_assert_ptr_null(tc_dig(r.json, "spec.targetCPUUtilizationPercentage"));
    tc_free(&r);

    /* what v1 cannot hold rides in annotations, and comes back */
    patch(path, "application/merge-patch+json",
          "{\"spec\":{\"behavior\":{\"scaleDown\":{\"stabilizationWindowSeconds\":60}},"
          "\"metrics\":[{\"type\":\"Resource\",\"resource\":{\"name\":\"memory\",\"target\":"
          "{\"type\":\"AverageValue\",\"averageValue\":\"100Mi\"}}},{\"type\":\"Resource\","
          "\"resource\":{\"name\":\"cpu\",\"target\":{\"type\":\"Utilization\","
          "\"averageUtilization\":50}}}]}}",
          &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    tc_free(&r);
    snprintf(path, sizeof(path), "%s/web", v1);
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(dig_int(r.json, "spec.targetCPUUtilizationPercentage"), 50);
    ck_assert_ptr_null(tc_dig(r.json, "spec.metrics"));
    const json_t *ann = tc_dig(r.json, "metadata.annotations");
    ck_assert_ptr_nonnull(strstr(jstr(ann, "autoscaling.alpha.kubernetes.io/metrics"), "memory"));
    ck_assert_ptr_nonnull(
        strstr(jstr(ann, "autoscaling.alpha.kubernetes.io/behavior"), "\"scaleDown\""));
    /* an update through v1 of what it read keeps them */
    json_t *obj = json_deep_copy(r.json);
    tc_free(&r);
    json_object_set_new(json_object_get(obj, "spec"), "maxReplicas", json_integer(7));
    char *body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    tc_json(U, "PUT", path, body, &r);
    free(body);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_str_eq(jstr(r.json, "apiVersion"), "autoscaling/v1");
    tc_free(&r);
    snprintf(path, sizeof(path), "%s/web", v2);
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(dig_int(r.json, "spec.maxReplicas"), 7);
    ck_assert_uint_eq(json_array_size(tc_dig(r.json, "spec.metrics")), 2);
    ck_assert_int_eq(dig_int(r.json, "spec.behavior.scaleDown.stabilizationWindowSeconds"), 60);
    ck_assert_ptr_null(tc_dig(r.json, "metadata.annotations"));
    tc_free(&r);

    /* lists and watches through v1 are v1 */
    tc_json(U, "GET", v1, NULL, &r);
    const json_t *item = json_array_get(json_object_get(r.json, "items"), 0);
    ck_assert_str_eq(jstr(item, "apiVersion"), "autoscaling/v1");
    ck_assert_int_eq(dig_int(item, "spec.targetCPUUtilizationPercentage"), 50);
    tc_free(&r);
    ck_assert_uint_ge(tc_watch_wait(w, 3, 10000), 3);
    for (size_t i = 0; i < 3; i++) {
        const json_t *o = json_object_get(tc_watch_event(w, i), "object");
        ck_assert_str_eq(jstr(o, "apiVersion"), "autoscaling/v1");
        ck_assert_ptr_nonnull(tc_dig(o, "spec.targetCPUUtilizationPercentage"));
    }
    tc_watch_close(w);
}
END_TEST

/* ---- watch ------------------------------------------------------------------------- */

START_TEST(watch_streams_changes_from_a_resource_version)
{
    create_cm("default", "before", NULL);
    char path[256];
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/default/configmaps?watch=true&"
             "resourceVersion=%llu",
             kr_testserver_resource_version(ts));
    tc_watch *w = tc_watch_open(U, path, NULL);
    create_cm("default", "a", "{\"x\":\"1\"}");
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/a", NULL, &r);
    json_object_set_new(json_object_get(r.json, "data"), "k", json_string("v2"));
    json_t *upd = put("/api/v1/namespaces/default/configmaps/a", r.json, 200);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/a", NULL, &r);
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(w, 3, 10000), 3);
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 0)), "ADDED");
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 1)), "MODIFIED");
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 2)), "DELETED");
    ck_assert_str_eq(tc_event_name(tc_watch_event(w, 2)), "a");
    ck_assert_uint_lt(tc_event_rv(tc_watch_event(w, 0)), tc_event_rv(tc_watch_event(w, 1)));
    ck_assert_uint_lt(tc_event_rv(tc_watch_event(w, 1)), tc_event_rv(tc_watch_event(w, 2)));
    json_t *obj = json_object_get(tc_watch_event(w, 0), "object");
    ck_assert_str_eq(jstr(obj, "kind"), "ConfigMap");
    ck_assert_str_eq(jstr(obj, "apiVersion"), "v1");
    tc_watch_close(w);
    json_decref(upd);

    /* From RV 0: synthetic ADDED for what exists, then changes. */
    w = tc_watch_open(U, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0", NULL);
    ck_assert_uint_eq(tc_watch_wait(w, 1, 10000), 1);
    ck_assert_str_eq(tc_event_name(tc_watch_event(w, 0)), "before");
    tc_watch_close(w);
}
END_TEST

START_TEST(watch_from_compacted_history_gets_410_error_event)
{
    create_cm("default", "a", NULL);
    unsigned long long old = kr_testserver_resource_version(ts);
    create_cm("default", "b", NULL);
    kr_testserver_compact(ts);
    char path[256];
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/default/configmaps?watch=true&"
             "resourceVersion=%llu",
             old - 1);
    tc_watch *w = tc_watch_open(U, path, NULL);
    ck_assert(tc_watch_wait_end(w, 10000));
    ck_assert_uint_eq(tc_watch_lines(w), 1);
    json_t *ev = tc_watch_event(w, 0);
    ck_assert_str_eq(tc_event_type(ev), "ERROR");
    json_t *st = json_object_get(ev, "object");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 410);
    ck_assert_str_eq(jstr(st, "reason"), "Expired");
    char msg[128];
    snprintf(msg, sizeof(msg), "too old resource version: %llu (%llu)", old - 1, old + 1);
    ck_assert_str_eq(jstr(st, "message"), msg);
    tc_watch_close(w);
}
END_TEST

START_TEST(watch_sends_bookmarks_and_one_before_timeout)
{
    tc_watch *w = tc_watch_open(U,
                                "/api/v1/namespaces/default/configmaps?watch=true&"
                                "allowWatchBookmarks=true&timeoutSeconds=1",
                                NULL);
    ck_assert(tc_watch_wait_end(w, 10000));
    size_t n = tc_watch_lines(w);
    ck_assert_uint_ge(n, 2);
    for (size_t i = 0; i < n; i++) {
        json_t *ev = tc_watch_event(w, i);
        ck_assert_str_eq(tc_event_type(ev), "BOOKMARK");
        ck_assert_uint_eq(tc_event_rv(ev), kr_testserver_resource_version(ts));
        ck_assert_str_eq(jstr(json_object_get(ev, "object"), "kind"), "ConfigMap");
    }
    tc_watch_close(w);
    w = tc_watch_open(U, "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1", NULL);
    ck_assert(tc_watch_wait_end(w, 10000));
    ck_assert_uint_eq(tc_watch_lines(w), 0);
    tc_watch_close(w);
}
END_TEST

START_TEST(watch_list_ends_initial_events_with_annotated_bookmark)
{
    create_cm("default", "a", NULL);
    create_cm("default", "b", NULL);
    tc_watch *w = tc_watch_open(U,
                                "/api/v1/namespaces/default/configmaps?"
                                "allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&"
                                "sendInitialEvents=true&watch=true",
                                NULL);
    ck_assert_uint_ge(tc_watch_wait(w, 3, 10000), 3);
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 0)), "ADDED");
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 1)), "ADDED");
    json_t *bm = tc_watch_event(w, 2);
    ck_assert_str_eq(tc_event_type(bm), "BOOKMARK");
    json_t *ann =
        json_object_get(json_object_get(json_object_get(bm, "object"), "metadata"), "annotations");
    ck_assert_str_eq(jstr(ann, "k8s.io/initial-events-end"), "true");
    ck_assert_uint_eq(tc_event_rv(bm), kr_testserver_resource_version(ts));
    /* a typed object: Go's zero creationTimestamp encodes as null */
    ck_assert(json_is_null(tc_dig(bm, "object.metadata.creationTimestamp")));
    tc_watch_close(w);

    /* kube-apiserver 1.32 (WatchList on) makes a watch without an RV, or
     * at "0", a watch-list: the same bookmark ends its initial events; a
     * watch from an RV has none */
    static const char *const legacy[] = {"", "&resourceVersion=0"};
    for (int i = 0; i < 2; i++) {
        char path[256];
        snprintf(path, sizeof(path),
                 "/api/v1/namespaces/default/configmaps?allowWatchBookmarks=true&watch=true%s",
                 legacy[i]);
        w = tc_watch_open(U, path, NULL);
        ck_assert_uint_ge(tc_watch_wait(w, 3, 10000), 3);
        ck_assert_str_eq(tc_event_type(tc_watch_event(w, 1)), "ADDED");
        bm = tc_watch_event(w, 2);
        ck_assert_str_eq(tc_event_type(bm), "BOOKMARK");
        ann = json_object_get(json_object_get(json_object_get(bm, "object"), "metadata"),
                              "annotations");
        ck_assert_str_eq(jstr(ann, "k8s.io/initial-events-end"), "true");
        tc_watch_close(w);
    }
    char from[256];
    snprintf(from, sizeof(from),
             "/api/v1/namespaces/default/configmaps?allowWatchBookmarks=true&watch=true&"
             "resourceVersion=%llu&timeoutSeconds=1",
             kr_testserver_resource_version(ts));
    w = tc_watch_open(U, from, NULL);
    ck_assert(tc_watch_wait_end(w, 10000));
    for (size_t i = 0; i < tc_watch_lines(w); i++) {
        json_t *meta = json_object_get(json_object_get(tc_watch_event(w, i), "object"), "metadata");
        ck_assert_ptr_null(json_object_get(meta, "annotations"));
    }
    tc_watch_close(w);

    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true",
            NULL, &r);
    assert_status(&r, 422, "Invalid", NULL);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"), "sendInitialEvents requires setting "
                                                          "resourceVersionMatch to "
                                                          "NotOlderThan"));
    tc_free(&r);
    tc_json(U, "GET",
            "/api/v1/namespaces/default/configmaps?watch=true&"
            "resourceVersionMatch=NotOlderThan",
            NULL, &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);
}
END_TEST

START_TEST(watch_selector_transitions_become_added_and_deleted)
{
    create_cm("default", "a", "{\"app\":\"x\"}");
    char path[256];
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/default/configmaps?watch=true&"
             "labelSelector=app%%3Dy&resourceVersion=%llu",
             kr_testserver_resource_version(ts));
    tc_watch *w = tc_watch_open(U, path, NULL);
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/a", NULL, &r);
    json_object_set_new(json_object_get(json_object_get(r.json, "metadata"), "labels"), "app",
                        json_string("y"));
    json_t *u1 = put("/api/v1/namespaces/default/configmaps/a", r.json, 200);
    tc_free(&r);
    json_object_set_new(json_object_get(json_object_get(u1, "metadata"), "labels"), "app",
                        json_string("z"));
    json_t *u2 = put("/api/v1/namespaces/default/configmaps/a", u1, 200);
    ck_assert_uint_eq(tc_watch_wait(w, 2, 10000), 2);
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 0)), "ADDED");
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 1)), "DELETED");
    /* as kube-apiserver's cacheWatcher: the state that matched (the
     * previous one), at the event's resourceVersion */
    json_t *gone = json_object_get(tc_watch_event(w, 1), "object");
    ck_assert_str_eq(jstr(json_object_get(json_object_get(gone, "metadata"), "labels"), "app"),
                     "y");
    ck_assert_str_eq(jstr(json_object_get(gone, "metadata"), "resourceVersion"),
                     jstr(json_object_get(u2, "metadata"), "resourceVersion"));
    tc_watch_close(w);
    json_decref(u1);
    json_decref(u2);
}
END_TEST

/* An update that drops the last finalizer of an object being deleted
 * deletes it as it was stored (kube-apiserver's deleteWithoutFinalizers):
 * the DELETED event carries the previous labels and finalizers at the
 * deletion's resourceVersion, so a label-selector watch still sees it go
 * when the same patch drops the label. The garbage collector's removal of
 * foregroundDeletion does the same. */
START_TEST(removing_the_last_finalizer_deletes_the_object_as_stored)
{
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"metadata\":{\"name\":\"gx\",\"labels\":{\"app\":\"x\"},"
            "\"finalizers\":[\"x/y\"]}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    char path[256];
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/default/configmaps?watch=1&labelSelector=app%%3Dx&"
             "resourceVersion=%llu",
             kr_testserver_resource_version(ts));
    tc_watch *w = tc_watch_open(U, path, NULL);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/gx", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    patch("/api/v1/namespaces/default/configmaps/gx", "application/merge-patch+json",
          "{\"metadata\":{\"finalizers\":null,\"labels\":{\"app\":null}}}", &r);
    ck_assert_int_eq(r.status, 200);
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", meta(r.json, "resourceVersion"));
    /* the answer is the object as the update left it */
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "metadata"), "finalizers"));
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(w, 2, 10000), 2);
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 0)), "MODIFIED");
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 1)), "DELETED");
    json_t *gone = json_object_get(tc_watch_event(w, 1), "object");
    const json_t *md = json_object_get(gone, "metadata");
    ck_assert_str_eq(jstr(json_object_get(md, "labels"), "app"), "x");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(md, "finalizers"), 0)),
                     "x/y");
    ck_assert_ptr_nonnull(jstr(md, "deletionTimestamp"));
    ck_assert_str_eq(jstr(md, "resourceVersion"), rv);
    tc_watch_close(w);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/gx", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);

    create_cm("default", "fg", "{\"app\":\"x\"}");
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/default/configmaps?watch=1&labelSelector=app%%3Dx&"
             "resourceVersion=%llu",
             kr_testserver_resource_version(ts));
    w = tc_watch_open(U, path, NULL);
    tc_request(U, "DELETE", "/api/v1/namespaces/default/configmaps/fg", "application/json",
               "{\"propagationPolicy\":\"Foreground\"}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(w, 2, 10000), 2);
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 1)), "DELETED");
    md = json_object_get(json_object_get(tc_watch_event(w, 1), "object"), "metadata");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(md, "finalizers"), 0)),
                     "foregroundDeletion");
    ck_assert_uint_lt(tc_event_rv(tc_watch_event(w, 0)), tc_event_rv(tc_watch_event(w, 1)));
    tc_watch_close(w);

    /* the namespace controller's finalize: spec.finalizers as stored */
    create_ns("fz");
    snprintf(path, sizeof(path),
             "/api/v1/namespaces?watch=1&fieldSelector=metadata.name%%3Dfz&resourceVersion=%llu",
             kr_testserver_resource_version(ts));
    w = tc_watch_open(U, path, NULL);
    tc_json(U, "DELETE", "/api/v1/namespaces/fz", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    size_t n = tc_watch_wait(w, 2, 10000);
    ck_assert_uint_ge(n, 2);
    json_t *last = tc_watch_event(w, n - 1);
    ck_assert_str_eq(tc_event_type(last), "DELETED");
    const json_t *spec = json_object_get(json_object_get(last, "object"), "spec");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(spec, "finalizers"), 0)),
                     "kubernetes");
    tc_watch_close(w);
}
END_TEST

START_TEST(watch_faults_close_streams)
{
    kr_testserver_faults f = {.watch_max_events = 2};
    kr_testserver_set_faults(ts, &f);
    tc_watch *w = tc_watch_open(U, "/api/v1/namespaces/default/configmaps?watch=true", NULL);
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof(name), "c%d", i);
        create_cm("default", name, NULL);
    }
    ck_assert(tc_watch_wait_end(w, 10000));
    ck_assert_uint_eq(tc_watch_lines(w), 2);
    ck_assert_uint_eq(tc_watch_partial(w), 0);
    tc_watch_close(w);

    f.watch_cut_mid_event = true;
    kr_testserver_set_faults(ts, &f);
    w = tc_watch_open(U, "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1",
                      NULL);
    ck_assert(tc_watch_wait_end(w, 10000));
    ck_assert_uint_eq(tc_watch_lines(w), 2);
    ck_assert_uint_gt(tc_watch_partial(w), 0);
    tc_watch_close(w);

    memset(&f, 0, sizeof(f));
    kr_testserver_set_faults(ts, &f);
    w = tc_watch_open(U, "/api/v1/namespaces/default/configmaps?watch=true", NULL);
    tc_response r;
    tc_request(U, "POST", "/_kr/close-watches", NULL, "", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    ck_assert(tc_watch_wait_end(w, 10000));
    tc_watch_close(w);
}
END_TEST

START_TEST(watches_of_clients_that_went_away_are_dropped)
{
    tc_watch *w = tc_watch_open(U, "/api/v1/namespaces/default/configmaps?watch=true", NULL);
    ck_assert_uint_eq(kr_testserver_watch_count(ts), 1);
    tc_watch_close(w);
    /* No events and no bookmarks: the server notices on its own. */
    for (int i = 0; i < 1000 && kr_testserver_watch_count(ts) > 0; i++)
        usleep(10 * 1000); /* polls the condition; gives up after 10 s */
    ck_assert_uint_eq(kr_testserver_watch_count(ts), 0);
}
END_TEST

START_TEST(restart_ends_watches_and_forgets_history)
{
    create_cm("default", "a", NULL);
    unsigned long long rv = kr_testserver_resource_version(ts);
    tc_watch *w = tc_watch_open(U, "/api/v1/namespaces/default/configmaps?watch=true", NULL);
    kr_testserver_restart(ts);
    ck_assert(tc_watch_wait_end(w, 10000));
    tc_watch_close(w);
    ck_assert_uint_eq(kr_testserver_resource_version(ts), rv);
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/a", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    w = tc_watch_open(U, "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2",
                      NULL);
    ck_assert(tc_watch_wait_end(w, 10000));
    ck_assert_str_eq(tc_event_type(tc_watch_event(w, 0)), "ERROR");
    tc_watch_close(w);
}
END_TEST

START_TEST(slow_watcher_is_closed_without_stalling_others)
{
    kr_test_server_stop();
    kr_testserver_opts o = {.watch_buffer_bytes = 4096, .seed = 1};
    start_with(&o);
    /* A watcher that never reads: curl's multi handle is opened but not pumped. */
    tc_watch *slow = tc_watch_open_small(U, "/api/v1/namespaces/default/configmaps?watch=true");
    tc_watch *fast = tc_watch_open(U, "/api/v1/namespaces/default/configmaps?watch=true", NULL);
    /* Enough data to fill the kernel's socket buffers for the slow one. */
    size_t size = 256u << 10;
    char *big = malloc(size);
    memset(big, 'x', size - 1);
    big[size - 1] = '\0';
    char *body = malloc(size + 100);
    enum { N = 24 };
    for (int i = 0; i < N; i++) {
        snprintf(body, size + 100, "{\"metadata\":{\"name\":\"c%d\"},\"data\":{\"a\":\"%s\"}}", i,
                 big);
        tc_response r;
        tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", body, &r);
        ck_assert_int_eq(r.status, 201);
        tc_free(&r);
        tc_watch_wait(fast, (size_t)i + 1, 10000);
    }
    free(body);
    free(big);
    ck_assert_uint_eq(tc_watch_lines(fast), N);
    ck_assert(tc_watch_wait_end(slow, 20000));
    ck_assert_uint_lt(tc_watch_lines(slow), N);
    tc_watch_close(slow);
    tc_watch_close(fast);
}
END_TEST

struct line_count {
    size_t lines;
};

static size_t count_lines(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct line_count *c = user;
    for (size_t i = 0; i < size * nmemb; i++)
        c->lines += ptr[i] == '\n';
    return size * nmemb;
}

/* Thousands of open watches cost no threads: every one gets every event. */
START_TEST(thousands_of_watches_all_receive_each_event)
{
    enum { WATCHERS = 2000, EVENTS = 3 };
    CURLM *m = curl_multi_init();
    CURL **e = calloc(WATCHERS, sizeof(CURL *));
    struct line_count *counts = calloc(WATCHERS, sizeof(*counts));
    char url[256];
    snprintf(url, sizeof(url),
             "%s/api/v1/namespaces/default/configmaps?watch=true&"
             "resourceVersion=%llu",
             U, kr_testserver_resource_version(ts));
    for (int i = 0; i < WATCHERS; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, count_lines);
        curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &counts[i]);
        curl_multi_add_handle(m, e[i]);
    }
    int running = 1;
    for (int i = 0; i < 6000 && kr_testserver_watch_count(ts) < WATCHERS; i++) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    ck_assert_uint_eq(kr_testserver_watch_count(ts), WATCHERS);
    for (int i = 0; i < EVENTS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "fan%d", i);
        create_cm("default", name, NULL);
    }
    size_t total = 0;
    for (int i = 0; i < 6000 && total < (size_t)WATCHERS * EVENTS; i++) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 10, NULL);
        total = 0;
        for (int k = 0; k < WATCHERS; k++)
            total += counts[k].lines;
    }
    ck_assert_uint_eq(total, (size_t)WATCHERS * EVENTS);
    for (int i = 0; i < WATCHERS; i++) {
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    curl_multi_cleanup(m);
    free(e);
    free(counts);
}
END_TEST

/* ---- faults, auth, CRDs ------------------------------------------------------------ */

START_TEST(faults_answer_429_500_503)
{
    tc_response r;
    tc_request(U, "POST", "/_kr/faults", "application/json", "{\"fail429\":1}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces", NULL, &r);
    assert_status(&r, 429, "TooManyRequests", "Too many requests, please try again later.");
    ck_assert_str_eq(r.retry_after, "1");
    tc_free(&r);
    kr_testserver_faults f = {.fail_500 = 1};
    kr_testserver_set_faults(ts, &f);
    tc_json(U, "GET", "/api/v1/namespaces", NULL, &r);
    assert_status(&r, 500, "InternalError", NULL);
    tc_free(&r);
    f = (kr_testserver_faults){.fail_503 = 1};
    kr_testserver_set_faults(ts, &f);
    tc_json(U, "GET", "/api/v1/namespaces", NULL, &r);
    assert_status(&r, 503, "ServiceUnavailable", NULL);
    tc_free(&r);
    tc_request(U, "POST", "/_kr/faults", "application/json", "{\"fail503\":2}", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    tc_free(&r);
}
END_TEST

/* fail500AfterWrite: a write is done and its answer is a 500 (the answer
 * lost, not the write); reads and refused writes answer as they would. */
START_TEST(a_write_can_be_done_and_answered_500)
{
    tc_response r;
    tc_request(U, "POST", "/_kr/faults", "application/json", "{\"fail500AfterWrite\":1}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(json_number_value(json_object_get(r.json, "fail500AfterWrite")) == 1.0);
    tc_free(&r);
    const char *cm = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                     "\"lost\"},\"data\":{\"k\":\"v\"}}";
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", cm, &r);
    assert_status(&r, 500, "InternalError", NULL);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/lost", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", cm, &r);
    ck_assert_int_eq(r.status, 409); /* refused: nothing done, nothing lost */
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/lost", NULL, &r);
    assert_status(&r, 500, "InternalError", NULL);
    tc_free(&r);
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(ts, &none);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/lost", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
}
END_TEST

/* The latency fault holds no HTTP thread: with one thread, two requests
 * wait it out together, /_kr/ answers meanwhile, and a shorter latency
 * applies to the requests already waiting. */
static void *slow_list(void *arg)
{
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps", NULL, arg);
    return NULL;
}

static size_t requests_waiting(void)
{
    size_t n = 0;
    ts_lock(ts);
    for (ts_delayed *d = ts->delayed; d; d = d->next)
        n++;
    ts_unlock(ts);
    return n;
}

START_TEST(latency_waits_without_holding_a_thread)
{
    kr_test_server_stop();
    kr_testserver_opts o = {.threads = 1, .seed = 1, .faults = {.latency_ms = 3600000}};
    start_with(&o);
    tc_response slow[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, slow_list, &slow[i]), 0);
    for (int i = 0; i < 6000 && requests_waiting() < 2; i++)
        usleep(10000);
    ck_assert_uint_eq(requests_waiting(), 2);
    tc_response r;
    tc_json(U, "GET", "/_kr/stats", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    ck_assert_uint_eq(requests_waiting(), 2);
    tc_request(U, "POST", "/_kr/faults", "application/json", "{\"latencyMs\":0}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(slow[i].status, 200);
        tc_free(&slow[i]);
    }
    ck_assert_uint_eq(requests_waiting(), 0);
    /* a request waiting when the server stops is not left hanging (resumed,
     * it may be answered or find its connection closed by the stop) */
    kr_testserver_set_faults(ts, &(kr_testserver_faults){.latency_ms = 3600000});
    ck_assert_int_eq(pthread_create(&th[0], NULL, slow_list, &slow[0]), 0);
    for (int i = 0; i < 6000 && requests_waiting() < 1; i++)
        usleep(10000);
    ck_assert_uint_eq(requests_waiting(), 1);
    kr_test_server_stop();
    pthread_join(th[0], NULL);
    tc_free(&slow[0]);
}
END_TEST

/* A pod in "default" created with these headers, running as service
 * account `sa` (NULL: none named). */
static void create_pod_as(const char *const *headers, const char *name, const char *sa)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"%s\"},\"spec\":{%s%s%s\"containers\":[{\"name\":"
             "\"c\",\"image\":\"x\"}]}}",
             name, sa ? "\"serviceAccountName\":\"" : "", sa ? sa : "", sa ? "\"," : "");
    tc_response r;
    tc_request(U, "POST", "/api/v1/namespaces/default/pods", "application/json", body, headers, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
}

START_TEST(tokens_give_401_and_verb_table_gives_403)
{
    kr_test_server_stop();
    const char *tokens[] = {"good:alice", "ro:bob:get,list,watch", NULL};
    kr_testserver_opts o = {.tokens = tokens};
    start_with(&o);
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces", NULL, &r);
    assert_status(&r, 401, "Unauthorized", "Unauthorized");
    tc_free(&r);
    const char *bad[] = {"Authorization: Bearer nope", NULL};
    tc_request(U, "GET", "/api/v1/namespaces", NULL, NULL, bad, &r);
    ck_assert_int_eq(r.status, 401);
    tc_free(&r);
    const char *good[] = {"Authorization: Bearer good", NULL};
    tc_request(U, "GET", "/api/v1/namespaces", NULL, NULL, good, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    const char *ro[] = {"Authorization: Bearer ro", NULL};
    tc_request(U, "DELETE", "/api/v1/namespaces/default/configmaps/x", NULL, NULL, ro, &r);
    assert_status(&r, 403, "Forbidden",
                  "configmaps \"x\" is forbidden: User \"bob\" cannot delete resource "
                  "\"configmaps\" in API group \"\" in the namespace \"default\"");
    tc_free(&r);
    tc_json(U, "GET", "/version", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);

    /* kubectl auth can-i: a SelfSubjectAccessReview answers from the
     * token's verbs, whatever verbs the token has (basic-user's rule) */
    static const char ssar[] = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    static const char *const verbs[][3] = {
        {"ro", "list", "true"}, {"ro", "delete", "false"}, {"good", "delete", "true"}};
    for (size_t i = 0; i < 3; i++) {
        char auth[64], body[512];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", verbs[i][0]);
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":"
                 "\"SelfSubjectAccessReview\",\"spec\":{\"resourceAttributes\":{\"namespace\":"
                 "\"default\",\"verb\":\"%s\",\"resource\":\"configmaps\"}}}",
                 verbs[i][1]);
        const char *hdr[] = {auth, NULL};
        tc_request(U, "POST", ssar, "application/json", body, hdr, &r);
        ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
        ck_assert_str_eq(jstr(r.json, "kind"), "SelfSubjectAccessReview");
        ck_assert_msg(json_is_true(json_object_get(json_object_get(r.json, "status"), "allowed")) ==
                          (strcmp(verbs[i][2], "true") == 0),
                      "%s may %s: %s", verbs[i][0], verbs[i][1], r.body);
        tc_free(&r);
    }
    tc_request(U, "POST", ssar, "application/json",
               "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
               "\"spec\":{}}",
               good, &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);
    tc_request(U, "GET", ssar, NULL, NULL, good, &r);
    ck_assert_int_eq(r.status, 405);
    tc_free(&r);
    /* kubectl auth whoami */
    tc_request(U, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json",
               "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}", ro,
               &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    const json_t *user = json_object_get(json_object_get(r.json, "status"), "userInfo");
    ck_assert_str_eq(jstr(user, "username"), "bob");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(user, "groups"), 0)),
                     "system:authenticated");
    tc_free(&r);
    /* kubectl auth can-i --list: the token's verbs on every resource, and
     * for a limited token what every authenticated user may do */
    static const char ssrr[] = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";
    static const char rules_body[] = "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":"
                                     "\"SelfSubjectRulesReview\",\"spec\":{\"namespace\":"
                                     "\"default\"}}";
    tc_request(U, "POST", ssrr, "application/json", rules_body, ro, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    const json_t *st = json_object_get(r.json, "status");
    const json_t *first = json_array_get(json_object_get(st, "resourceRules"), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(first, "verbs")), 3);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(first, "verbs"), 2)),
                     "watch");
    ck_assert_uint_eq(json_array_size(json_object_get(st, "resourceRules")), 3);
    ck_assert_str_eq(
        json_string_value(json_array_get(
            json_object_get(json_array_get(json_object_get(st, "nonResourceRules"), 0), "verbs"),
            0)),
        "get");
    ck_assert(json_is_false(json_object_get(st, "incomplete")));
    tc_free(&r);
    tc_request(U, "POST", ssrr, "application/json", rules_body, good, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    st = json_object_get(r.json, "status");
    first = json_array_get(json_object_get(st, "resourceRules"), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(st, "resourceRules")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(first, "verbs"), 0)), "*");
    tc_free(&r);
    tc_request(U, "POST", ssrr, "application/json",
               "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectRulesReview\","
               "\"spec\":{}}",
               good, &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);

    /* kubectl create token: a TokenRequest issues a token that then
     * authenticates as the service account */
    static const char token_path[] = "/api/v1/namespaces/default/serviceaccounts/bot/token";
    static const char token_body[] = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":"
                                     "\"TokenRequest\",\"spec\":{\"expirationSeconds\":%d}}";
    char body[256];
    snprintf(body, sizeof(body), token_body, 3600);
    tc_request(U, "POST", token_path, "application/json", body, good, &r);
    assert_status(&r, 404, "NotFound", "serviceaccounts \"bot\" not found");
    tc_free(&r);
    tc_request(U, "POST", "/api/v1/namespaces/default/serviceaccounts", "application/json",
               "{\"metadata\":{\"name\":\"bot\"}}", good, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "POST", token_path, "application/json", body, good, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "kind"), "TokenRequest");
    char bearer[2048];
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s",
             jstr(json_object_get(r.json, "status"), "token"));
    ck_assert_ptr_nonnull(jstr(json_object_get(r.json, "status"), "expirationTimestamp"));
    tc_free(&r);
    const char *sa_auth[] = {bearer, NULL};
    tc_request(U, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json",
               "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}",
               sa_auth, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(
        jstr(json_object_get(json_object_get(r.json, "status"), "userInfo"), "username"),
        "system:serviceaccount:default:bot");
    tc_free(&r);
    snprintf(body, sizeof(body), token_body, 599);
    tc_request(U, "POST", token_path, "application/json", body, good, &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);
    tc_request(U, "GET", token_path, NULL, NULL, good, &r);
    ck_assert_int_eq(r.status, 405);
    tc_free(&r);
    /* a token bound to an object: a pod running as this service account, a
     * node or a secret that exists, with its uid if one is given */
    static const char bound_body[] =
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{"
        "\"boundObjectRef\":{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"name\":\"%s\"%s}}}";
    snprintf(body, sizeof(body), bound_body, "Pod", "v1", "nope", "");
    tc_request(U, "POST", token_path, "application/json", body, good, &r);
    assert_status(&r, 404, "NotFound", "pods \"nope\" not found");
    tc_free(&r);
    create_pod_as(good, "other", NULL);
    snprintf(body, sizeof(body), bound_body, "Pod", "v1", "other", "");
    tc_request(U, "POST", token_path, "application/json", body, good, &r);
    assert_status(&r, 400, "BadRequest",
                  "cannot bind token for serviceaccount \"bot\" to pod running with different "
                  "serviceaccount name.");
    tc_free(&r);
    create_pod_as(good, "mine", "bot");
    snprintf(body, sizeof(body), bound_body, "Pod", "v1", "mine", "");
    tc_request(U, "POST", token_path, "application/json", body, good, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(
        jstr(json_object_get(json_object_get(r.json, "spec"), "boundObjectRef"), "name"), "mine");
    tc_free(&r);
    snprintf(body, sizeof(body), bound_body, "Pod", "v1", "mine", ",\"uid\":\"not-its-uid\"");
    tc_request(U, "POST", token_path, "application/json", body, good, &r);
    assert_status(&r, 409, "Conflict", NULL);
    tc_free(&r);
    snprintf(body, sizeof(body), bound_body, "Deployment", "apps/v1", "d", "");
    tc_request(U, "POST", token_path, "application/json", body, good, &r);
    assert_status(&r, 400, "BadRequest",
                  "cannot bind token to object of type apps/v1, Kind=Deployment");
    tc_free(&r);
}
END_TEST

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Certificates made with the openssl program: a self-signed server
 * certificate, a client CA, a client signed by it and a stranger. */
static bool make_certs(const char *dir)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout srv.key -out srv.pem -days 2 "
             "-subj /CN=kr -addext subjectAltName=IP:127.0.0.1 && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
             "-subj /CN=test-ca && "
             "openssl req -newkey rsa:2048 -nodes -keyout alice.key -out alice.csr "
             "-subj /CN=alice/O=devs && "
             "openssl x509 -req -in alice.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out alice.pem -days 2 && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout eve.key -out eve.pem -days 2 "
             "-subj /CN=eve",
             dir);
    char full[2200];
    snprintf(full, sizeof(full), "(%s) >/dev/null 2>&1", cmd);
    return system(full) == 0;
}

START_TEST(tls_with_client_certificates_and_tokens)
{
    if (!kr_test_have_program("openssl")) {
        kr_test_skip("tls_with_client_certificates_and_tokens",
                     "no openssl program to make test certificates");
        return;
    }
    char dir[256], path[512];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-tls"));
    ck_assert(make_certs(dir));
    kr_test_server_stop();
    snprintf(path, sizeof(path), "%s/srv.pem", dir);
    char *cert = read_text(path);
    snprintf(path, sizeof(path), "%s/srv.key", dir);
    char *key = read_text(path);
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    char *ca = read_text(path);
    /* a file that is not what it should be is named as such, before any
     * port is taken: a certificate, a key, a key of that certificate */
    static const struct {
        int which; /* 0: garbage certificate, 1: garbage key, 2: the CA's cert as the key's */
        const char *says;
    } broken[] = {{0, "the TLS certificate is not a PEM certificate"},
                  {1, "the TLS key is not a PEM private key"},
                  {2, "the TLS key does not belong to the certificate"}};
    for (size_t i = 0; i < KR_ARRAY_LEN(broken); i++) {
        kr_testserver_opts bad = {.tls_cert_pem = broken[i].which == 0   ? "garbage\n"
                                                  : broken[i].which == 2 ? ca
                                                                         : cert,
                                  .tls_key_pem = broken[i].which == 1 ? "garbage\n" : key};
        kr_testserver_t *none = NULL;
        kr_error_t err = {0};
        ck_assert_int_eq(kr_testserver_start(&bad, &none, &err), KR_EINVAL);
        ck_assert_ptr_null(none);
        ck_assert_msg(strstr(err.message, broken[i].says), "%zu: %s", i, err.message);
    }
    const char *tokens[] = {"tok:bob:get,list", NULL};
    kr_testserver_opts o = {
        .tls_cert_pem = cert, .tls_key_pem = key, .client_ca_pem = ca, .tokens = tokens};
    start_with(&o);
    ck_assert_int_eq(strncmp(U, "https://127.0.0.1:", 18), 0);
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces", NULL, &r);
    assert_status(&r, 401, "Unauthorized", "Unauthorized");
    tc_free(&r);
    const char *tok[] = {"Authorization: Bearer tok", NULL};
    tc_request(U, "GET", "/api/v1/namespaces", NULL, NULL, tok, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_request(U, "DELETE", "/api/v1/namespaces/default", NULL, NULL, tok, &r);
    assert_status(&r, 403, "Forbidden", NULL);
    tc_free(&r);

    char ccert[512], ckey[512];
    snprintf(ccert, sizeof(ccert), "%s/alice.pem", dir);
    snprintf(ckey, sizeof(ckey), "%s/alice.key", dir);
    tc_set_client_cert(ccert, ckey);
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":\"c\"}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    snprintf(ccert, sizeof(ccert), "%s/eve.pem", dir);
    snprintf(ckey, sizeof(ckey), "%s/eve.key", dir);
    tc_set_client_cert(ccert, ckey);
    tc_json(U, "GET", "/api/v1/namespaces", NULL, &r);
    ck_assert_int_eq(r.status, 401);
    tc_free(&r);
    tc_set_client_cert(NULL, NULL);
    free(cert);
    free(key);
    free(ca);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(background_deletion_cascades_to_owned_objects)
{
    tc_response r;
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/replicasets",
            "{\"metadata\":{\"name\":\"rs\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":"
            "\"rs\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"rs\"}},\"spec\":{"
            "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    char body[512];
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"pod\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
             "\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"%s\"}]},\"spec\":{\"containers\":[{"
             "\"name\":\"c\",\"image\":\"x\"}]}}",
             meta(r.json, "uid"));
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/pods", body, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "DELETE", "/apis/apps/v1/namespaces/default/replicasets/rs", "application/json",
               "{\"propagationPolicy\":\"Orphan\"}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    /* orphaned: kept, and no longer naming its owner */
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/pod", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "metadata"), "ownerReferences"));
    tc_free(&r);
    /* the deprecated orphanDependents: true orphans too, and only the
     * deleted owner's reference goes */
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/replicasets",
            "{\"metadata\":{\"name\":\"rs0\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":"
            "\"rs0\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"rs0\"}},\"spec\":{"
            "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"pod0\",\"ownerReferences\":[{\"apiVersion\":"
             "\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs0\",\"uid\":\"%s\"},"
             "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"name\":\"other\","
             "\"uid\":\"u-other\"}]},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
             meta(r.json, "uid"));
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/pods", body, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "DELETE", "/apis/apps/v1/namespaces/default/replicasets/rs0", "application/json",
               "{\"orphanDependents\":true}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/pod0", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    const json_t *refs = json_object_get(json_object_get(r.json, "metadata"), "ownerReferences");
    ck_assert_uint_eq(json_array_size(refs), 1);
    ck_assert_str_eq(jstr(json_array_get(refs, 0), "uid"), "u-other");
    tc_free(&r);
    /* without a body the options are the query's: orphanDependents=True
     * (as the Python client sends it) orphans too */
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/replicasets",
            "{\"metadata\":{\"name\":\"rs1\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":"
            "\"rs1\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"rs1\"}},\"spec\":{"
            "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"pod1\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
             "\"kind\":\"ReplicaSet\",\"name\":\"rs1\",\"uid\":\"%s\"}]},\"spec\":{\"containers\":["
             "{\"name\":\"c\",\"image\":\"x\"}]}}",
             meta(r.json, "uid"));
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/pods", body, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "DELETE", "/apis/apps/v1/namespaces/default/replicasets/rs1?orphanDependents=True",
            NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/pod1", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "metadata"), "ownerReferences"));
    tc_free(&r);

    /* ValidateDeleteOptions: never both forms, and only known policies */
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"metadata\":{\"name\":\"opts\"}}", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/opts",
            "{\"orphanDependents\":true,\"propagationPolicy\":\"Background\"}", &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: "
                     "\"Background\": orphanDependents and deletionPropagation cannot be both set");
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/opts?propagationPolicy=Sideways",
            NULL, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported "
                     "value: \"Sideways\": supported values: \"Foreground\", \"Background\", "
                     "\"Orphan\", \"nil\"");
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/opts",
            "{\"orphanDependents\":false,\"propagationPolicy\":\"Sideways\"}", &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_int_eq(json_array_size(json_object_get(json_object_get(r.json, "details"), "causes")),
                     2);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/opts", NULL, &r);
    ck_assert_int_eq(r.status, 200); /* refused requests deleted nothing */
    tc_free(&r);

    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/replicasets",
            "{\"metadata\":{\"name\":\"rs2\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":"
            "\"rs2\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"rs2\"}},\"spec\":{"
            "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"pod2\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
             "\"kind\":\"ReplicaSet\",\"name\":\"rs2\",\"uid\":\"%s\"}]},\"spec\":{\"containers\":["
             "{\"name\":\"c\",\"image\":\"x\"}]}}",
             meta(r.json, "uid"));
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/pods", body, &r);
    tc_free(&r);
    tc_json(U, "DELETE", "/apis/apps/v1/namespaces/default/replicasets/rs2", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/pod2", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    /* a core v1 ReplicationController orphans by default (its registry's
     * DefaultGarbageCollectionPolicy, kept for backward compatibility) */
    tc_json(U, "POST", "/api/v1/namespaces/default/replicationcontrollers",
            "{\"metadata\":{\"name\":\"rc\"},\"spec\":{\"selector\":{\"app\":\"rc\"},"
            "\"template\":{\"metadata\":{\"labels\":{\"app\":\"rc\"}},\"spec\":{"
            "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"pod3\",\"ownerReferences\":[{\"apiVersion\":\"v1\","
             "\"kind\":\"ReplicationController\",\"name\":\"rc\",\"uid\":\"%s\"}]},\"spec\":{"
             "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
             meta(r.json, "uid"));
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/pods", body, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/replicationcontrollers/rc", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/pod3", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "metadata"), "ownerReferences"));
    tc_free(&r);
}
END_TEST

/* A ConfigMap "name" in default owned by the ConfigMaps whose uids are
 * given (NULL-terminated); returns the create's status. */
/* Create ConfigMap `name` in default owned by the ConfigMaps `owners`
 * names, in pairs: name, uid, ..., NULL; the HTTP status. */
static long owned_cm(const char *name, const char *const *owners)
{
    json_t *refs = json_array();
    for (size_t i = 0; owners[i] && owners[i + 1]; i += 2)
        json_array_append_new(refs,
                              json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", "v1", "kind",
                                        "ConfigMap", "name", owners[i], "uid", owners[i + 1]));
    json_t *cm = json_pack("{s:{s:s, s:o}}", "metadata", "name", name, "ownerReferences", refs);
    char *body = json_dumps(cm, JSON_COMPACT);
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", body, &r);
    long status = r.status;
    tc_free(&r);
    free(body);
    json_decref(cm);
    return status;
}

/* The uid of a new ConfigMap `name` in default (into uid[64]). */
static void owner_cm(const char *name, char uid[64])
{
    char body[128];
    snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\"}}", name);
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", body, &r);
    ck_assert_int_eq(r.status, 201);
    snprintf(uid, 64, "%s", meta(r.json, "uid"));
    tc_free(&r);
}

/* The garbage collector keeps a dependent that still has a live owner:
 * deleting one owner, in the background or the foreground, only removes
 * the reference to it; the last owner's delete takes the dependent. */
START_TEST(a_dependent_with_another_live_owner_is_kept)
{
    char a[64], b[64], c[64];
    owner_cm("gc-a", a);
    owner_cm("gc-b", b);
    owner_cm("gc-c", c);
    const char *ab[] = {"gc-a", a, "gc-b", b, NULL},
               *bc[] = {"gc-b", b, "gc-c", c, "gc-never", "uid-of-nothing", NULL};
    ck_assert_int_eq(owned_cm("gc-shared", ab), 201);
    ck_assert_int_eq(owned_cm("gc-shared2", bc), 201);
    tc_response r;
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/gc-a", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/gc-shared", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    const json_t *refs = json_object_get(json_object_get(r.json, "metadata"), "ownerReferences");
    ck_assert_uint_eq(json_array_size(refs), 1);
    ck_assert_str_eq(jstr(json_array_get(refs, 0), "uid"), b);
    tc_free(&r);
    /* foreground: b waits for its dependents; c still owns gc-shared2,
     * which loses its references to b and to the owner that never was */
    tc_request(U, "DELETE", "/api/v1/namespaces/default/configmaps/gc-b", "application/json",
               "{\"propagationPolicy\":\"Foreground\"}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/gc-shared", NULL, &r);
    ck_assert_int_eq(r.status, 404); /* b was its last owner */
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/gc-shared2", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    refs = json_object_get(json_object_get(r.json, "metadata"), "ownerReferences");
    ck_assert_uint_eq(json_array_size(refs), 1);
    ck_assert_str_eq(jstr(json_array_get(refs, 0), "uid"), c);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/gc-b", NULL, &r);
    ck_assert_int_eq(r.status, 404); /* nothing blocked it */
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/gc-c", NULL, &r);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/gc-shared2", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
}
END_TEST

/* The ownerReferences of a ConfigMap in default, as "name,name" ("" when
 * none); 404 gives NULL. */
static char *owner_names(const char *name, char *out, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s", name);
    tc_response r;
    tc_json(U, "GET", path, NULL, &r);
    char *ret = NULL;
    if (r.status == 200) {
        out[0] = 0;
        size_t i;
        const json_t *ref;
        json_array_foreach(json_object_get(json_object_get(r.json, "metadata"), "ownerReferences"),
                           i, ref)
        {
            size_t used = strlen(out);
            snprintf(out + used, len - used, "%s%s", i ? "," : "", jstr(ref, "name"));
        }
        ret = out;
    } else {
        ck_assert_int_eq(r.status, 404);
    }
    tc_free(&r);
    return ret;
}

/* Poll until owner_names(name) is `want` (NULL: gone); 10 s at most. */
static void await_owner_names(const char *name, const char *want)
{
    char got[256] = "";
    const char *now = NULL;
    for (int i = 0; i < 1000; i++) {
        now = owner_names(name, got, sizeof(got));
        if (want ? now && strcmp(now, want) == 0 : !now)
            return;
        usleep(10000);
    }
    ck_abort_msg("%s: owners %s, want %s", name, now ? now : "(gone)", want ? want : "(gone)");
}

/* The collector looks up the owners a written object names (by kind, name
 * and uid): a dependent whose owners are all absent is deleted, one that
 * keeps an owner loses its references to the absent ones, and one naming
 * a kind this server does not serve is left alone. */
START_TEST(a_dependent_whose_owners_are_absent_is_collected)
{
    char gone[64], live[64];
    owner_cm("gc-gone", gone);
    owner_cm("gc-live", live);
    tc_response r;
    tc_json(U, "DELETE", "/api/v1/namespaces/default/configmaps/gc-gone", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    const char *dangling[] = {"gc-gone", gone, NULL};
    const char *mixed[] = {"gc-gone", gone, "gc-live", live, NULL};
    const char *wrong_uid[] = {"gc-live", "not-its-uid", NULL};
    ck_assert_int_eq(owned_cm("gc-dangling", dangling), 201);
    ck_assert_int_eq(owned_cm("gc-mixed", mixed), 201);
    ck_assert_int_eq(owned_cm("gc-wrong-uid", wrong_uid), 201);
    char got[256];
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"metadata\":{\"name\":\"gc-foreign\",\"ownerReferences\":[{\"apiVersion\":"
            "\"example.com/v1\",\"kind\":\"Widget\",\"name\":\"w\",\"uid\":\"w-1\"}]}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    await_owner_names("gc-dangling", NULL);
    await_owner_names("gc-wrong-uid", NULL);
    await_owner_names("gc-mixed", "gc-live");
    /* an update that names an absent owner is looked at too */
    char body[512];
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":"
             "\"ConfigMap\",\"name\":\"gc-live\",\"uid\":\"%s\"},{\"apiVersion\":\"v1\","
             "\"kind\":\"ConfigMap\",\"name\":\"gc-gone\",\"uid\":\"%s\"}]}}",
             live, gone);
    tc_request(U, "PATCH", "/api/v1/namespaces/default/configmaps/gc-mixed",
               "application/merge-patch+json", body, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    await_owner_names("gc-mixed", "gc-live");
    ck_assert_str_eq(owner_names("gc-foreign", got, sizeof(got)), "w");
    /* a cluster-scoped object naming a namespaced owner, and a namespace
     * naming an absent owner: the collector leaves them be */
    char body2[512];
    snprintf(body2, sizeof(body2),
             "{\"metadata\":{\"name\":\"gc-role\",\"ownerReferences\":[{\"apiVersion\":"
             "\"v1\",\"kind\":\"ConfigMap\",\"name\":\"gc-live\",\"uid\":\"%s\"}]}}",
             live);
    tc_json(U, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", body2, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    snprintf(body2, sizeof(body2),
             "{\"metadata\":{\"name\":\"gc-ns\",\"ownerReferences\":[{\"apiVersion\":"
             "\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"name\":\"gone\","
             "\"uid\":\"%s\"}]}}",
             gone);
    tc_json(U, "POST", "/api/v1/namespaces", body2, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    /* a dependent that stops blocking a foreground deletion lets it end:
     * gc-fg waits for gc-held (held by a finalizer); gc-late names gc-fg
     * (blocking) and gc-live, and is stripped of gc-fg; gc-held goes */
    char fg[64];
    owner_cm("gc-fg", fg);
    snprintf(body2, sizeof(body2),
             "{\"metadata\":{\"name\":\"gc-held\",\"finalizers\":[\"example.com/hold\"],"
             "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":"
             "\"gc-fg\",\"uid\":\"%s\",\"blockOwnerDeletion\":true}]}}",
             fg);
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", body2, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "DELETE", "/api/v1/namespaces/default/configmaps/gc-fg", "application/json",
               "{\"propagationPolicy\":\"Foreground\"}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    snprintf(body2, sizeof(body2),
             "{\"metadata\":{\"name\":\"gc-late\",\"ownerReferences\":[{\"apiVersion\":"
             "\"v1\",\"kind\":\"ConfigMap\",\"name\":\"gc-fg\",\"uid\":\"%s\","
             "\"blockOwnerDeletion\":true},{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
             "\"name\":\"gc-live\",\"uid\":\"%s\"}]}}",
             fg, live);
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps", body2, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "PATCH", "/api/v1/namespaces/default/configmaps/gc-held",
               "application/merge-patch+json", "{\"metadata\":{\"finalizers\":null}}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    await_owner_names("gc-late", "gc-live");
    await_owner_names("gc-fg", NULL);
    tc_json(U, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/gc-role", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(
        jstr(json_array_get(json_object_get(json_object_get(r.json, "metadata"), "ownerReferences"),
                            0),
             "name"),
        "gc-live");
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/gc-ns", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/gc-role", NULL, &r);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/gc-ns", NULL, &r);
    tc_free(&r);
    const char *names[] = {"gc-live", "gc-mixed", "gc-foreign", "gc-late"};
    for (size_t i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s", names[i]);
        tc_json(U, "DELETE", path, NULL, &r);
        tc_free(&r);
    }
}
END_TEST

/* Foreground: the owner carries foregroundDeletion until no dependent
 * with blockOwnerDeletion is left. */
START_TEST(foreground_deletion_waits_for_blocking_dependents)
{
    tc_response r;
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/replicasets",
            "{\"metadata\":{\"name\":\"fg\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":"
            "\"fg\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"fg\"}},\"spec\":{"
            "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    char uid[128];
    snprintf(uid, sizeof(uid), "%s", meta(r.json, "uid"));
    tc_free(&r);
    char body[512];
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"held\",\"finalizers\":[\"example.com/hold\"],"
             "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
             "\"name\":\"fg\",\"uid\":\"%s\",\"blockOwnerDeletion\":true}]},\"spec\":{"
             "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
             uid);
    tc_json(U, "POST", "/api/v1/namespaces/default/pods", body, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"free\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
             "\"kind\":\"ReplicaSet\",\"name\":\"fg\",\"uid\":\"%s\"}]},\"spec\":{\"containers\":[{"
             "\"name\":\"c\",\"image\":\"x\"}]}}",
             uid);
    tc_json(U, "POST", "/api/v1/namespaces/default/pods", body, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);

    tc_request(U, "DELETE", "/apis/apps/v1/namespaces/default/replicasets/fg", "application/json",
               "{\"propagationPolicy\":\"Foreground\"}", NULL, &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_str_eq(jstr(r.json, "kind"), "ReplicaSet");
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_object_get(r.json, "metadata"), "finalizers"), 0)),
                     "foregroundDeletion");
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/free", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/held", NULL, &r);
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    tc_free(&r);
    tc_json(U, "GET", "/apis/apps/v1/namespaces/default/replicasets/fg", NULL, &r);
    ck_assert_int_eq(r.status, 200); /* blocked by held */
    tc_free(&r);

    patch("/api/v1/namespaces/default/pods/held", "application/merge-patch+json",
          "{\"metadata\":{\"finalizers\":null}}", &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/apis/apps/v1/namespaces/default/replicasets/fg", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);

    /* nothing to wait for: gone at once, the answer still the marked object */
    tc_json(U, "POST", "/api/v1/namespaces/default/configmaps",
            "{\"metadata\":{\"name\":\"lone\"}}", &r);
    tc_free(&r);
    tc_request(U, "DELETE", "/api/v1/namespaces/default/configmaps/lone", "application/json",
               "{\"propagationPolicy\":\"Foreground\"}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/configmaps/lone", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
}
END_TEST

static const char *crd_body =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
    "\"kind\":\"Widget\",\"shortNames\":[\"wd\"]},\"versions\":[{\"name\":\"v1\",\"served\":true,"
    "\"storage\":true,\"subresources\":{\"status\":{}},"
    "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":"
    "true}}}]}}";

START_TEST(crd_makes_its_resource_servable_and_takes_it_along)
{
    tc_response r;
    tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body, &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_nonnull(strstr(r.body, "\"type\":\"Established\",\"status\":\"True\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"storedVersions\":[\"v1\"]"));
    /* SetDefaults_CustomResourceDefinitionSpec, also in the accepted names */
    const json_t *spec = json_object_get(r.json, "spec");
    ck_assert_str_eq(jstr(json_object_get(spec, "names"), "listKind"), "WidgetList");
    ck_assert_str_eq(jstr(json_object_get(spec, "conversion"), "strategy"), "None");
    ck_assert_str_eq(
        jstr(json_object_get(json_object_get(r.json, "status"), "acceptedNames"), "listKind"),
        "WidgetList");
    tc_free(&r);
    /* nor does the CRD take an unconditional update */
    tc_json(U, "PUT", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
            crd_body, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "customresourcedefinitions.apiextensions.k8s.io \"widgets.example.com\" is "
                     "invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified "
                     "for an update");
    tc_free(&r);
    tc_json(U, "POST", "/apis/example.com/v1/namespaces/default/widgets",
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"},"
            "\"spec\":{\"size\":1}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_int_eq(generation(r.json), 1);
    tc_free(&r);
    tc_json(U, "GET", "/apis/example.com/v1", NULL, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"widgets\""));
    tc_free(&r);
    tc_json(U, "GET", "/openapi/v3", NULL, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "apis/example.com/v1"));
    tc_free(&r);
    tc_json(U, "GET", "/apis/example.com/v1/widgets", NULL, &r);
    ck_assert_str_eq(jstr(r.json, "kind"), "WidgetList");
    tc_free(&r);
    /* a custom resource's bookmark is an unstructured object: only what was
     * set, no Go zero creationTimestamp */
    tc_watch *bw =
        tc_watch_open(U, "/apis/example.com/v1/widgets?allowWatchBookmarks=true&watch=true", NULL);
    ck_assert_uint_ge(tc_watch_wait(bw, 2, 10000), 2);
    const json_t *bmd =
        json_object_get(json_object_get(tc_watch_event(bw, 1), "object"), "metadata");
    ck_assert_str_eq(tc_event_type(tc_watch_event(bw, 1)), "BOOKMARK");
    ck_assert_ptr_null(json_object_get(bmd, "creationTimestamp"));
    ck_assert_ptr_nonnull(json_object_get(bmd, "resourceVersion"));
    tc_watch_close(bw);
    /* custom resources take no unconditional update */
    tc_json(U, "PUT", "/apis/example.com/v1/namespaces/default/widgets/w",
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"},"
            "\"spec\":{\"size\":5}}",
            &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "widgets.example.com \"w\" is invalid: metadata.resourceVersion: Invalid "
                     "value: 0x0: must be specified for an update");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "kind"), "widgets");
    tc_free(&r);
    tc_request(U, "PATCH", "/apis/example.com/v1/namespaces/default/widgets/w",
               "application/strategic-merge-patch+json", "{\"spec\":{\"size\":2}}", NULL, &r);
    assert_status(&r, 415, "UnsupportedMediaType", NULL);
    ck_assert_ptr_null(strstr(jstr(r.json, "message"), "strategic"));
    tc_free(&r);
    /* the custom resource store answers a delete that removed the object
     * with a Success Status naming it (no ReturnDeletedObject) */
    tc_json(U, "DELETE", "/apis/example.com/v1/namespaces/default/widgets/w", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "Status");
    ck_assert_str_eq(jstr(r.json, "status"), "Success");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "name"), "w");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "group"), "example.com");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "kind"), "widgets");
    tc_free(&r);
    /* a ServiceAccount's and a StorageClass's stores return the object */
    tc_json(U, "POST", "/api/v1/namespaces/default/serviceaccounts",
            "{\"metadata\":{\"name\":\"sa-gone\"}}", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "DELETE", "/api/v1/namespaces/default/serviceaccounts/sa-gone", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "ServiceAccount");
    tc_free(&r);
    tc_json(U, "POST", "/apis/storage.k8s.io/v1/storageclasses",
            "{\"metadata\":{\"name\":\"sc-gone\"},\"provisioner\":\"example.com/p\"}", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "DELETE", "/apis/storage.k8s.io/v1/storageclasses/sc-gone", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "StorageClass");
    tc_free(&r);
    tc_json(U, "DELETE",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
            "widgets.example.com",
            NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/apis/example.com/v1/widgets", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
}
END_TEST

/* A CRD version's selectableFields (GA in 1.32): a LIST or WATCH selects
 * custom resources by them, values printed as Go prints them (absent: ""),
 * as apiextensions' strategy does; any other field, and metadata.namespace
 * of a cluster-scoped kind, is refused as its field label conversion
 * refuses it. */
START_TEST(custom_resources_are_selected_by_their_selectable_fields)
{
    tc_response r;
    tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
            "\"metadata\":{\"name\":\"gadgets.example.com\"},\"spec\":{\"group\":\"example.com\","
            "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gadgets\",\"kind\":\"Gadget\"},"
            "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
            "\"selectableFields\":[{\"jsonPath\":\".spec.color\"},{\"jsonPath\":\".spec.size\"},"
            "{\"jsonPath\":\".spec.on\"}],"
            "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{"
            "\"type\":\"object\",\"properties\":{\"color\":{\"type\":\"string\"},\"size\":{"
            "\"type\":\"integer\"},\"on\":{\"type\":\"boolean\"},\"other\":{\"type\":\"string\""
            "}}}}}}}]}}",
            &r);
    ck_assert_msg(r.status == 201, "%s", r.body);
    tc_free(&r);
    static const char *const gadgets[] = {
        "{\"metadata\":{\"name\":\"g1\"},\"spec\":{\"color\":\"red\",\"size\":2,\"on\":true}}",
        "{\"metadata\":{\"name\":\"g2\"},\"spec\":{\"color\":\"blue\",\"size\":3}}",
        "{\"metadata\":{\"name\":\"g3\"},\"spec\":{\"other\":\"x\"}}"};
    for (size_t i = 0; i < 3; i++) {
        char *body = kr_asprintf("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Gadget\",%s",
                                 gadgets[i] + 1);
        tc_json(U, "POST", "/apis/example.com/v1/namespaces/default/gadgets", body, &r);
        ck_assert_msg(r.status == 201, "%s", r.body);
        tc_free(&r);
        kr_free(body);
    }
    static const struct {
        const char *q, *names;
    } cases[] = {
        {"spec.color%3Dred", "g1"},
        {"spec.color!%3Dred", "g2,g3"},
        {"spec.color%3D", "g3"}, /* absent is "" */
        {"spec.size%3D3", "g2"},
        {"spec.on%3Dtrue", "g1"},
        {"spec.size%3D2,metadata.namespace%3Ddefault", "g1"},
        {"metadata.name%3Dg3", "g3"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        char path[256], names[64];
        snprintf(path, sizeof(path),
                 "/apis/example.com/v1/namespaces/default/gadgets?fieldSelector=%s", cases[i].q);
        listed_names(path, names, sizeof(names));
        ck_assert_msg(strcmp(names, cases[i].names) == 0, "%s: got %s", cases[i].q, names);
    }
    /* a watch selects by them too */
    char path[256];
    snprintf(path, sizeof(path),
             "/apis/example.com/v1/namespaces/default/"
             "gadgets?watch=true&fieldSelector=spec.color%%3Dblue"
             "&resourceVersion=%llu",
             kr_testserver_resource_version(ts));
    tc_watch *w = tc_watch_open(U, path, NULL);
    tc_request(U, "PATCH", "/apis/example.com/v1/namespaces/default/gadgets/g3",
               "application/merge-patch+json", "{\"spec\":{\"color\":\"blue\"}}", NULL, &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(w, 1, 10000), 1);
    ck_assert_str_eq(tc_event_name(tc_watch_event(w, 0)), "g3");
    tc_watch_close(w);
    tc_json(U, "GET",
            "/apis/example.com/v1/namespaces/default/gadgets?fieldSelector=spec.other%3Dx", NULL,
            &r);
    assert_status(&r, 400, "BadRequest", "field label not supported: spec.other");
    tc_free(&r);
}
END_TEST

static const char crd_path[] =
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com";
static const char widgets_path[] = "/apis/example.com/v1/namespaces/default/widgets";

/* The condition of type `type` in obj's status, or NULL. */
static const json_t *condition(const json_t *obj, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(tc_dig(obj, "status.conditions"), i, c)
    {
        if (strcmp(jstr(c, "type"), type) == 0)
            return c;
    }
    return NULL;
}

/* Deleting a CRD is apiextensions-apiserver's: the CRD is marked, with
 * the customresourcecleanup finalizer and the Terminating condition; its
 * finalizing controller deletes each custom resource as DELETE does (one
 * with a finalizer stays, marked), no new one may be created meanwhile,
 * and the CRD goes once none is left. */
START_TEST(crd_deletion_waits_for_its_custom_resources_finalizers)
{
    tc_response r;
    json_decref(created("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body));
    json_t *w = created(widgets_path, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\","
                                      "\"metadata\":{\"name\":\"held\",\"finalizers\":"
                                      "[\"example.com/cleanup\"]}}");
    char path[256];
    snprintf(path, sizeof(path), "%s?watch=1&resourceVersion=%s", widgets_path,
             meta(w, "resourceVersion"));
    json_decref(w);
    tc_watch *ww = tc_watch_open(U, path, NULL);
    tc_json(U, "DELETE", crd_path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "CustomResourceDefinition");
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    ck_assert_str_eq(dig_str(r.json, "metadata.finalizers.0"),
                     "customresourcecleanup.apiextensions.k8s.io");
    ck_assert_str_eq(jstr(condition(r.json, "Terminating"), "reason"), "InstanceDeletionPending");
    tc_free(&r);

    /* the Widget is marked, not gone */
    ck_assert_uint_eq(tc_watch_wait(ww, 1, 10000), 1);
    json_t *ev = tc_watch_event(ww, 0);
    ck_assert_str_eq(tc_event_type(ev), "MODIFIED");
    ck_assert_ptr_nonnull(meta(json_object_get(ev, "object"), "deletionTimestamp"));
    tc_json(U, "GET", crd_path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    ck_assert_str_eq(jstr(condition(r.json, "Terminating"), "status"), "True");
    ck_assert_str_eq(jstr(condition(r.json, "Terminating"), "reason"),
                     "InstanceDeletionInProgress");
    tc_free(&r);

    /* no new instance while it terminates */
    tc_json(U, "POST", widgets_path,
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":"
            "\"late\"}}",
            &r);
    assert_status(&r, 405, "MethodNotAllowed",
                  "create not allowed while custom resource definition is terminating");
    ck_assert_str_eq(dig_str(r.json, "details.group"), "example.com");
    ck_assert_str_eq(dig_str(r.json, "details.kind"), "widgets");
    tc_free(&r);
    /* a CRD write keeps the condition */
    patch(crd_path, "application/merge-patch+json", "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}",
          &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_str_eq(jstr(condition(r.json, "Terminating"), "status"), "True");
    tc_free(&r);

    /* the finalizer's owner lets go: the Widget goes, then the CRD */
    tc_watch *cw = tc_watch_open(U,
                                 "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?watch=1&"
                                 "fieldSelector=metadata.name%3Dwidgets.example.com",
                                 NULL);
    ck_assert_uint_eq(tc_watch_wait(cw, 1, 10000), 1); /* its ADDED */
    char held[256];
    snprintf(held, sizeof(held), "%s/held", widgets_path);
    patch(held, "application/merge-patch+json", "{\"metadata\":{\"finalizers\":null}}", &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(ww, 2, 10000), 2);
    ck_assert_str_eq(tc_event_type(tc_watch_event(ww, 1)), "DELETED");
    ck_assert_uint_eq(tc_watch_wait(cw, 2, 10000), 2);
    ev = tc_watch_event(cw, 1);
    ck_assert_str_eq(tc_event_type(ev), "DELETED");
    ck_assert_str_eq(dig_str(json_object_get(ev, "object"), "metadata.finalizers.0"),
                     "customresourcecleanup.apiextensions.k8s.io");
    tc_watch_close(cw);
    tc_watch_close(ww);
    tc_json(U, "GET", crd_path, NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    tc_json(U, "GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.example.com", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    tc_json(U, "GET", "/apis/example.com/v1/widgets", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
}
END_TEST

/* Custom resources without finalizers go at once, each with its DELETED
 * event, and the CRD with them; the DELETE still answers the CRD as
 * marked, as the registry answers before its controller runs. */
START_TEST(crd_deletion_without_finalizers_is_immediate)
{
    tc_response r;
    json_decref(created("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body));
    json_decref(created(widgets_path, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\","
                                      "\"metadata\":{\"name\":\"a\"}}"));
    json_t *w = created(widgets_path, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\","
                                      "\"metadata\":{\"name\":\"b\"}}");
    char path[256];
    snprintf(path, sizeof(path), "%s?watch=1&resourceVersion=%s", widgets_path,
             meta(w, "resourceVersion"));
    json_decref(w);
    tc_watch *ww = tc_watch_open(U, path, NULL);
    tc_json(U, "DELETE", crd_path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(meta(r.json, "deletionTimestamp"));
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(ww, 2, 10000), 2);
    ck_assert_str_eq(tc_event_type(tc_watch_event(ww, 0)), "DELETED");
    ck_assert_str_eq(tc_event_type(tc_watch_event(ww, 1)), "DELETED");
    tc_watch_close(ww);
    tc_json(U, "GET", crd_path, NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    tc_json(U, "GET", "/apis/example.com/v1/widgets", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    /* a CRD of that name may be created again at once, empty */
    json_decref(created("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body));
    tc_json(U, "GET", "/apis/example.com/v1/widgets", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 0);
    tc_free(&r);
}
END_TEST

/* A CRD update that serves another version registers its APIService in
 * the same write: the CRD is stamped after that, so its resourceVersion is
 * its MODIFIED event's and a watch from it does not replay the change. */
START_TEST(crd_served_version_change_is_not_replayed_from_its_resource_version)
{
    tc_response r;
    tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    patch("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
          "application/json-patch+json",
          "[{\"op\":\"add\",\"path\":\"/spec/versions/-\",\"value\":{\"name\":\"v2\","
          "\"served\":true,\"storage\":false,\"schema\":{\"openAPIV3Schema\":{\"type\":"
          "\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}}]",
          &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", meta(r.json, "resourceVersion"));
    tc_free(&r);
    tc_json(U, "GET", "/apis/apiregistration.k8s.io/v1/apiservices/v2.example.com", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    char path[256];
    snprintf(path, sizeof(path),
             "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?watch=1&"
             "resourceVersion=%s",
             rv);
    tc_watch *w = tc_watch_open(U, path, NULL);
    patch("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
          "application/merge-patch+json", "{\"metadata\":{\"labels\":{\"next\":\"yes\"}}}", &r);
    ck_assert_int_eq(r.status, 200);
    char next_rv[32];
    snprintf(next_rv, sizeof(next_rv), "%s", meta(r.json, "resourceVersion"));
    tc_free(&r);
    ck_assert_uint_eq(tc_watch_wait(w, 1, 10000), 1);
    json_t *ev = tc_watch_event(w, 0);
    ck_assert_str_eq(tc_event_type(ev), "MODIFIED");
    ck_assert_str_eq(meta(json_object_get(ev, "object"), "resourceVersion"), next_rv);
    tc_watch_close(w);
}
END_TEST

/* The aggregator's APIServices: one per group version served, Local and
 * Available; a CRD's version gets one while it is served; one naming a
 * Service is stored but never Available; names are version.group. */
START_TEST(apiservices_register_what_is_served)
{
    static const char path[] = "/apis/apiregistration.k8s.io/v1/apiservices";
    tc_response r;
    tc_json(U, "GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "spec"), "group"));
    ck_assert_int_eq(dig_int(r.json, "spec.groupPriorityMinimum"), 18000);
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.type"), "Available");
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.status"), "True");
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.reason"), "Local");
    /* a nil pointer without omitempty in the Go type */
    ck_assert(json_is_null(json_object_get(json_object_get(r.json, "spec"), "service")));
    tc_free(&r);
    /* kube-aggregator's schema, under its Go module's name */
    tc_json(U, "GET", "/openapi/v3/apis/apiregistration.k8s.io/v1", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(
        strstr(r.body, "\"io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceSpec\""));
    tc_free(&r);
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"v2.autoscaling\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"v1.apiregistration.k8s.io\""));
    ck_assert_ptr_null(strstr(r.body, "\"name\":\"v1.example.com\""));
    tc_free(&r);
    /* a CRD's version, while it is served */
    tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body, &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.example.com", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(dig_str(r.json, "spec.group"), "example.com");
    ck_assert_int_eq(dig_int(r.json, "spec.groupPriorityMinimum"), 1000);
    ck_assert_int_eq(dig_int(r.json, "spec.versionPriority"), 100);
    ck_assert_str_eq(
        json_string_value(json_object_get(tc_dig(r.json, "metadata.labels"),
                                          "kube-aggregator.kubernetes.io/automanaged")),
        "true");
    tc_free(&r);
    tc_json(U, "DELETE",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", NULL,
            &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", "/apis/apiregistration.k8s.io/v1/apiservices/v1.example.com", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    /* one naming a Service: stored, not Available */
    static const char remote[] =
        "{\"metadata\":{\"name\":\"v1beta1.metrics.k8s.io\"},\"spec\":{\"group\":"
        "\"metrics.k8s.io\",\"version\":\"v1beta1\",\"groupPriorityMinimum\":100,"
        "\"versionPriority\":100,\"bogus\":1,\"service\":{\"namespace\":\"kube-system\","
        "\"name\":\"metrics-server\"}}}";
    json_t *m = created(path, remote);
    ck_assert_ptr_null(json_object_get(json_object_get(m, "spec"), "bogus")); /* pruned */
    ck_assert_str_eq(dig_str(m, "status.conditions.0.status"), "False");
    ck_assert_str_eq(dig_str(m, "status.conditions.0.reason"), "ServiceNotFound");
    json_decref(m);
    /* its Service comes and goes: the availability controller's status
     * follows, each change a write of the APIService */
    static const char remote_path[] = "/apis/apiregistration.k8s.io/v1/apiservices/"
                                      "v1beta1.metrics.k8s.io";
    static const char svc_path[] = "/api/v1/namespaces/kube-system/services/metrics-server";
    tc_json(U, "GET", remote_path, NULL, &r);
    char since[64];
    snprintf(since, sizeof(since), "%s", dig_str(r.json, "status.conditions.0.lastTransitionTime"));
    long long rv0 = atoll(dig_str(r.json, "metadata.resourceVersion"));
    tc_free(&r);
    json_decref(created("/api/v1/namespaces/kube-system/services",
                        "{\"metadata\":{\"name\":\"metrics-server\"},\"spec\":{\"ports\":"
                        "[{\"port\":443}]}}"));
    tc_json(U, "GET", remote_path, NULL, &r);
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.status"), "False");
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.reason"), "FailedDiscoveryCheck");
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.lastTransitionTime"), since);
    long long rv1 = atoll(dig_str(r.json, "metadata.resourceVersion"));
    ck_assert(rv1 > rv0);
    tc_free(&r);
    tc_request(U, "PATCH", svc_path, "application/merge-patch+json",
               "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", remote_path, NULL, &r); /* nothing changed for it: no write */
    ck_assert_int_eq(atoll(dig_str(r.json, "metadata.resourceVersion")), rv1);
    tc_free(&r);
    tc_json(U, "DELETE", svc_path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_json(U, "GET", remote_path, NULL, &r);
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.reason"), "ServiceNotFound");
    tc_free(&r);
    /* what the name must be */
    tc_json(U, "POST", path,
            "{\"metadata\":{\"name\":\"wrong\"},\"spec\":{\"group\":\"a.io\",\"version\":"
            "\"v1\",\"groupPriorityMinimum\":1,\"versionPriority\":1}}",
            &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_ptr_nonnull(
        strstr(jstr(r.json, "message"), "must be `spec.version+\".\"+spec.group`"));
    tc_free(&r);
    tc_json(U, "POST", path,
            "{\"metadata\":{\"name\":\"v2.\"},\"spec\":{\"version\":\"v2\","
            "\"groupPriorityMinimum\":1,\"versionPriority\":1}}",
            &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"), "only v1 may have an empty group"));
    tc_free(&r);
    /* ValidateAPIService: the metadata's problems (the name function's
     * among them) and the spec's in one list */
    tc_json(U, "POST", path,
            "{\"metadata\":{\"name\":\"wrong\",\"labels\":{\"a\":\"b c\"}},\"spec\":{"
            "\"version\":\"v2\",\"groupPriorityMinimum\":1,\"versionPriority\":1}}",
            &r);
    assert_status(&r, 422, "Invalid",
                  "APIService.apiregistration.k8s.io \"wrong\" is invalid: [metadata.name: "
                  "Invalid value: \"wrong\": must be `spec.version+\".\"+spec.group`: \"v2.\", "
                  "metadata.labels: Invalid value: \"b c\": a valid label must be an empty "
                  "string or consist of alphanumeric characters, '-', '_' or '.', and must start "
                  "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                  "'12345', regex used for validation is "
                  "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'), spec.group: Required value: "
                  "only v1 may have an empty group and it better be legacy kube]");
    tc_free(&r);
}
END_TEST

/* A custom resource may share its plural with a built-in one in another
 * group: it gets none of the built-in's behaviour (a CRD's establishing,
 * a namespace's phase and label). */
START_TEST(custom_resources_named_like_builtins_stay_plain)
{
    static const char *const plurals[][2] = {{"customresourcedefinitions", "Definition"},
                                             {"namespaces", "Space"}};
    for (size_t i = 0; i < 2; i++) {
        char body[1024], path[256], obj[256];
        snprintf(
            body, sizeof(body),
            "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
            "\"metadata\":{\"name\":\"%s.example.com\"},\"spec\":{\"group\":\"example.com\","
            "\"scope\":\"Cluster\",\"names\":{\"plural\":\"%s\",\"kind\":\"%s\"},"
            "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
            "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-"
            "fields\":true}}}]}}",
            plurals[i][0], plurals[i][0], plurals[i][1]);
        tc_response r;
        tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body, &r);
        ck_assert_int_eq(r.status, 201);
        tc_free(&r);
        snprintf(path, sizeof(path), "/apis/example.com/v1/%s", plurals[i][0]);
        snprintf(obj, sizeof(obj),
                 "{\"apiVersion\":\"example.com/v1\",\"kind\":\"%s\",\"metadata\":"
                 "{\"name\":\"plain\"},\"spec\":{\"x\":1}}",
                 plurals[i][1]);
        tc_json(U, "POST", path, obj, &r);
        ck_assert_int_eq(r.status, 201);
        ck_assert_ptr_null(json_object_get(r.json, "status"));
        ck_assert_ptr_null(json_object_get(json_object_get(r.json, "metadata"), "labels"));
        tc_free(&r);
        tc_json(U, "GET", "/apis/plain/v1", NULL, &r);
        ck_assert_int_eq(r.status, 404);
        tc_free(&r);
        snprintf(path, sizeof(path), "/apis/example.com/v1/%s/plain", plurals[i][0]);
        tc_json(U, "DELETE", path, NULL, &r);
        ck_assert_int_eq(r.status, 200);
        tc_free(&r);
    }
}
END_TEST

START_TEST(load_api_accepts_json_lists_and_yaml)
{
    const char *yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: loaded\n---\n"
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yy\n  namespace: "
                       "loaded\ndata:\n  a: \"1\"\n";
    kr_error_t err = {0};
    ck_assert_int_eq(kr_testserver_load(ts, yaml, strlen(yaml), &err), 0);
    const char *list = "{\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":"
                       "\"ConfigMap\",\"metadata\":{\"name\":\"j\",\"namespace\":\"loaded\"}}]}";
    ck_assert_int_eq(kr_testserver_load(ts, list, strlen(list), &err), 0);
    ck_assert_int_eq(kr_testserver_load(ts, list, strlen(list), &err), KR_EEXIST);
    ck_assert_ptr_nonnull(strstr(err.message, "already exists"));
    const char *bad = "{\"apiVersion\":\"v9\",\"kind\":\"Nope\"}";
    ck_assert_int_eq(kr_testserver_load(ts, bad, strlen(bad), &err), KR_ENOTFOUND);
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/loaded/configmaps", NULL, &r);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 2);
    tc_free(&r);

    char path[4096];
    int fd = kr_test_tmpfile_make(path, sizeof(path), "build-kubeconfig");
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(ts, path, "loaded", &err), 0);
    FILE *f = fopen(path, "r");
    char text[2048] = "";
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, U));
    ck_assert_ptr_nonnull(strstr(text, "namespace: loaded"));
    unlink(path);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------- */

struct sweep_case {
    const char *method, *path, *content_type, *body, *accept;
    int want;
};

static int sweep_request(void *arg)
{
    const struct sweep_case *c = arg;
    char path[512];
    snprintf(path, sizeof(path), "%s", c->path);
    char *q = strchr(path, '?');
    ts_kv query[8];
    size_t nq = 0;
    if (q) {
        *q++ = '\0';
        for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv && nq < 8;
             kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            *eq = '\0';
            query[nq++] = (ts_kv){kv, eq + 1};
        }
    }
    ts_request req = {.method = c->method,
                      .path = path,
                      .query = query,
                      .nquery = nq,
                      .content_type = c->content_type,
                      .accept = c->accept,
                      .body = c->body,
                      .body_len = c->body ? strlen(c->body) : 0};
    ts_response resp;
    ts_handle(ts, &req, &resp);
    int status = resp.status;
    ts_response_clear(&resp);
    /* Either the intended answer or a 500 for the failed allocation. */
    return (status == c->want || status == 500) ? 0 : 1;
}

START_TEST(handler_survives_allocation_failures)
{
    /* In-process only: an HTTP connection's teardown on a server thread
     * would race with the swap of allocators. */
    const char *cm = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                     "\"exists\",\"namespace\":\"default\",\"labels\":{\"a\":\"x\"}},"
                     "\"data\":{\"k\":\"v\"}}";
    kr_error_t err = {0};
    ck_assert_int_eq(kr_testserver_load(ts, cm, strlen(cm), &err), 0);
    static const struct sweep_case cases[] = {
        {"GET", "/apis", NULL, NULL,
         "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", 200},
        {"GET", "/apis/apps/v1", NULL, NULL, NULL, 200},
        /* A small group: every allocation of a document with schemas fails in turn. */
        {"GET", "/openapi/v3/apis/coordination.k8s.io/v1", NULL, NULL, NULL, 200},
        {"GET", "/api/v1/configmaps?labelSelector=a in (x,y)&fieldSelector=metadata.name!=z", NULL,
         NULL, NULL, 200},
        {"GET", "/api/v1/namespaces/default/configmaps/nope", NULL, NULL, NULL, 404},
        {"POST", "/api/v1/namespaces/default/configmaps", "application/json",
         "{\"metadata\":{\"name\":\"Bad_Name\"}}", NULL, 422},
        {"POST", "/api/v1/namespaces/default/configmaps", "application/json",
         "{\"metadata\":{\"name\":\"exists\",\"labels\":{\"k\":\"v\"}}}", NULL, 409},
        {"PATCH", "/api/v1/namespaces/default/configmaps/exists", "application/json-patch+json",
         "[{\"op\":\"test\",\"path\":\"/data/k\",\"value\":\"no\"}]", NULL, 422},
        {"PATCH", "/api/v1/namespaces/default/configmaps/exists",
         "application/strategic-merge-patch+json", "{\"metadata\":{\"resourceVersion\":\"1\"}}",
         NULL, 409},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long runs = kr_test_alloc_failure_sweep(sweep_request, (void *)&cases[i]);
        ck_assert_msg(runs > 1, "%s %s: failed at allocation %ld", cases[i].method, cases[i].path,
                      -runs);
    }
}
END_TEST

/* kubectl logs: the pod and container are checked; the log is empty. */
START_TEST(pod_log_checks_the_pod_and_container)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    tc_response r;
    tc_json(U, "POST", pods,
            "{\"metadata\":{\"name\":\"one\"},\"spec\":{\"containers\":[{\"name\":\"a\","
            "\"image\":\"x\"}]}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "POST", pods,
            "{\"metadata\":{\"name\":\"two\"},\"spec\":{\"containers\":[{\"name\":\"a\","
            "\"image\":\"x\"},{\"name\":\"b\",\"image\":\"x\"}]}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/default/pods/one/log", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_int_eq(strncmp(r.content_type, "text/plain", 10), 0);
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/default/pods/two/log?container=b", NULL, NULL, NULL,
               &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/default/pods/two/log", NULL, NULL, NULL, &r);
    assert_status(&r, 400, "BadRequest",
                  "a container name must be specified for pod two, choose one of: [a b]");
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/default/pods/one/log?container=c", NULL, NULL, NULL,
               &r);
    assert_status(&r, 400, "BadRequest", "container c is not valid for pod one");
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/default/pods/gone/log", NULL, NULL, NULL, &r);
    assert_status(&r, 404, "NotFound", "pods \"gone\" not found");
    tc_free(&r);
    tc_request(U, "POST", "/api/v1/namespaces/default/pods/one/log", "application/json", "{}", NULL,
               &r);
    ck_assert_int_eq(r.status, 405);
    tc_free(&r);
}
END_TEST

/* `method` on pods/NAME/SUB?QUERY: the answer must be `status` with `message`. */
static void expect_stream(const char *method, const char *path, long status, const char *reason,
                          const char *message)
{
    tc_response r;
    tc_request(U, method, path, NULL, NULL, NULL, &r);
    assert_status(&r, status, reason, message);
    tc_free(&r);
}

/* kubectl exec, attach and port-forward: the options and the pod are
 * checked as the apiserver checks them before it dials a kubelet; a pod on
 * a node meets the kubelet that is not there. */
START_TEST(pod_streams_are_checked_and_meet_no_kubelet)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    tc_response r;
    tc_json(U, "POST", pods,
            "{\"metadata\":{\"name\":\"idle\"},\"spec\":{\"containers\":[{\"name\":\"a\","
            "\"image\":\"x\"},{\"name\":\"b\",\"image\":\"x\"}]}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "POST", pods,
            "{\"metadata\":{\"name\":\"placed\"},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{"
            "\"name\":\"a\",\"image\":\"x\"}]}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
#define P "/api/v1/namespaces/default/pods/"
    expect_stream("POST", P "idle/exec?stdout=true", 400, "BadRequest",
                  "you must specify at least 1 command");
    expect_stream("POST", P "idle/exec?command=ls", 400, "BadRequest",
                  "you must specify at least 1 of stdin, stdout, stderr");
    expect_stream("POST", P "gone/exec?command=ls&stdout=true", 404, "NotFound",
                  "pods \"gone\" not found");
    expect_stream("POST", P "idle/exec?command=ls&stdout=true", 400, "BadRequest",
                  "a container name must be specified for pod idle, choose one of: [a b]");
    expect_stream("GET", P "idle/exec?command=ls&stdout=1&container=c", 400, "BadRequest",
                  "container c is not valid for pod idle");
    expect_stream("POST", P "idle/exec?command=ls&stdout=true&container=b", 400, "BadRequest",
                  "pod idle does not have a host assigned");
    expect_stream("POST", P "idle/attach?stdin=true&container=a", 400, "BadRequest",
                  "pod idle does not have a host assigned");
    expect_stream("POST", P "idle/portforward?ports=80", 400, "BadRequest",
                  "pod idle does not have a host assigned");
    expect_stream("POST", P "placed/exec?command=ls&stderr=true", 500, "InternalError",
                  "error dialing backend: node n1 has no kubelet (kr-apiserver runs no nodes)");
    tc_request(U, "PUT", P "placed/exec?command=ls&stderr=true", "application/json", "{}", NULL,
               &r);
    ck_assert_int_eq(r.status, 405);
    tc_free(&r);
#undef P
    /* discovery names them, with the options kinds */
    tc_request(U, "GET", "/api/v1", NULL, NULL, NULL, &r);
    const char *want[] = {"pods/exec",        "PodExecOptions",   "pods/attach",
                          "PodAttachOptions", "pods/portforward", "PodPortForwardOptions"};
    for (size_t k = 0; k < 6; k += 2) {
        bool found = false;
        size_t i;
        json_t *res;
        json_array_foreach(json_object_get(r.json, "resources"), i, res)
        {
            const char *name = json_string_value(json_object_get(res, "name"));
            const char *kind = json_string_value(json_object_get(res, "kind"));
            if (name && kind && strcmp(name, want[k]) == 0 && strcmp(kind, want[k + 1]) == 0)
                found = json_array_size(json_object_get(res, "verbs")) == 2;
        }
        ck_assert_msg(found, "%s", want[k]);
    }
    tc_free(&r);
}
END_TEST

static void evict(const char *pod, const char *body_name, tc_response *r)
{
    char path[256], body[512];
    snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/%s/eviction", pod);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"default\"}}",
             body_name);
    tc_request(U, "POST", path, "application/json", body, NULL, r);
}

/* kubectl drain: an eviction deletes a pod unless the one disruption
 * budget that covers it allows no disruption; it then spends one. */
START_TEST(eviction_respects_the_disruption_budget)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    tc_response r;
    for (int i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"metadata\":{\"name\":\"p%d\",\"labels\":{\"app\":\"%s\"}},\"spec\":{"
                 "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
                 i, i < 2 ? "web" : "db");
        tc_json(U, "POST", pods, body, &r);
        ck_assert_int_eq(r.status, 201);
        tc_free(&r);
        char path[128];
        snprintf(path, sizeof(path), "%s/p%d/status", pods, i);
        tc_request(U, "PATCH", path, "application/merge-patch+json",
                   "{\"status\":{\"phase\":\"Running\"}}", NULL, &r);
        ck_assert_int_eq(r.status, 200);
        tc_free(&r);
    }
    tc_json(U, "POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"minAvailable\":1,\"selector\":{"
            "\"matchLabels\":{\"app\":\"web\"}}}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "PATCH", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/web/status",
               "application/merge-patch+json",
               "{\"status\":{\"disruptionsAllowed\":1,\"currentHealthy\":2,\"desiredHealthy\":1}}",
               NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);

    evict("p0", "other", &r);
    assert_status(&r, 400, "BadRequest", "name in URL does not match name in Eviction object");
    tc_free(&r);
    evict("gone", "gone", &r);
    assert_status(&r, 404, "NotFound", "pods \"gone\" not found");
    tc_free(&r);
    evict("p0", "p0", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "status"), "Success");
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/p0", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    /* the budget is spent: the other web pod stays */
    evict("p1", "p1", &r);
    assert_status(&r, 429, "TooManyRequests",
                  "Cannot evict pod as it would violate the pod's disruption budget.");
    const json_t *cause =
        json_array_get(json_object_get(json_object_get(r.json, "details"), "causes"), 0);
    ck_assert_str_eq(jstr(cause, "reason"), "DisruptionBudget");
    ck_assert_str_eq(jstr(cause, "message"),
                     "The disruption budget web needs 1 healthy pods and has 2 currently");
    tc_free(&r);
    /* a pod no budget covers goes; so does one that is not running */
    evict("p2", "p2", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "PATCH", "/api/v1/namespaces/default/pods/p1/status",
               "application/merge-patch+json", "{\"status\":{\"phase\":\"Failed\"}}", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    evict("p1", "p1", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/default/pods/p1/eviction", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 405);
    tc_free(&r);
    /* discovery lists the subresource as kubectl drain looks for it */
    tc_json(U, "GET", "/api/v1", NULL, &r);
    bool listed = false;
    size_t i;
    json_t *res;
    json_array_foreach(json_object_get(r.json, "resources"), i, res)
    {
        if (strcmp(jstr(res, "name"), "pods/eviction") == 0)
            listed = strcmp(jstr(res, "group"), "policy") == 0 &&
                     strcmp(jstr(res, "version"), "v1") == 0 &&
                     strcmp(jstr(res, "kind"), "Eviction") == 0;
    }
    ck_assert(listed);
    tc_free(&r);
}
END_TEST

static void post_binding(const char *path, const char *name, const char *target, tc_response *r)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"%s\","
             "\"annotations\":{\"placed-by\":\"test\"}},\"target\":{%s}}",
             name, target);
    tc_request(U, "POST", path, "application/json", body, NULL, r);
}

/* A scheduler's write: pods/NAME/binding (client-go's Bind) and the core
 * `bindings` collection place a pod once, as kube-apiserver's BindingREST
 * does: nodeName, the Binding's annotations and PodScheduled=True,
 * without a managedFields entry; a second placement is a conflict. */
START_TEST(binding_places_a_pod_on_a_node_once)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    static const char sub[] = "/api/v1/namespaces/default/pods/b1/binding";
    tc_response r;
    for (int i = 1; i <= 3; i++) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"metadata\":{\"name\":\"b%d\"},\"spec\":{%s\"containers\":[{\"name\":\"c\","
                 "\"image\":\"x\"}]}}",
                 i, i == 3 ? "\"schedulingGates\":[{\"name\":\"wait\"}]," : "");
        tc_json(U, "POST", pods, body, &r);
        ck_assert_int_eq(r.status, 201);
        tc_free(&r);
    }
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/b1", NULL, &r);
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", jstr(json_object_get(r.json, "metadata"), "resourceVersion"));
    size_t managed =
        json_array_size(json_object_get(json_object_get(r.json, "metadata"), "managedFields"));
    tc_free(&r);

    post_binding(sub, "other", "\"name\":\"n1\"", &r);
    assert_status(&r, 400, "BadRequest", "name in URL does not match name in Binding object");
    tc_free(&r);
    post_binding(sub, "b1", "\"kind\":\"Pod\"", &r);
    ck_assert_int_eq(r.status, 500);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "[target.kind: Unsupported value: \"Pod\": supported values: \"Node\", "
                     "\"<empty>\", target.name: Required value]");
    ck_assert_ptr_null(json_object_get(r.json, "reason"));
    tc_free(&r);
    post_binding("/api/v1/namespaces/default/pods/b1/binding?dryRun=All", "b1", "\"name\":\"n1\"",
                 &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    post_binding(sub, "b1", "\"kind\":\"Node\",\"name\":\"n1\"", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "kind"), "Status");
    ck_assert_str_eq(jstr(r.json, "status"), "Success");
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "code")), 201);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/b1", NULL, &r);
    const json_t *md = json_object_get(r.json, "metadata");
    ck_assert_str_eq(jstr(json_object_get(r.json, "spec"), "nodeName"), "n1");
    ck_assert_str_eq(jstr(json_object_get(md, "annotations"), "placed-by"), "test");
    ck_assert_str_ne(jstr(md, "resourceVersion"), rv);
    ck_assert_uint_eq(json_array_size(json_object_get(md, "managedFields")), managed);
    const json_t *cond =
        json_array_get(json_object_get(json_object_get(r.json, "status"), "conditions"), 0);
    ck_assert_str_eq(jstr(cond, "type"), "PodScheduled");
    ck_assert_str_eq(jstr(cond, "status"), "True");
    ck_assert(json_is_null(json_object_get(cond, "lastProbeTime")));
    ck_assert_ptr_nonnull(jstr(cond, "lastTransitionTime"));
    tc_free(&r);
    post_binding(sub, "b1", "\"name\":\"n2\"", &r);
    assert_status(&r, 409, "Conflict",
                  "Operation cannot be fulfilled on pods/binding \"b1\": pod b1 is already "
                  "assigned to node \"n1\"");
    ck_assert_str_eq(jstr(json_object_get(r.json, "details"), "kind"), "pods/binding");
    tc_free(&r);

    /* The collection takes the pod's name from the Binding; its uid is a
     * precondition. */
    static const char coll[] = "/api/v1/namespaces/default/bindings";
    tc_json(U, "POST", coll,
            "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"b2\",\"uid\":"
            "\"nope\"},\"target\":{\"name\":\"n2\"}}",
            &r);
    ck_assert_int_eq(r.status, 409);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"),
                                 "Operation cannot be fulfilled on pods \"b2\": Precondition "
                                 "failed: UID in precondition: nope, UID in object meta: "));
    tc_free(&r);
    post_binding(coll, "b2", "\"name\":\"n2\"", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/b2", NULL, &r);
    ck_assert_str_eq(jstr(json_object_get(r.json, "spec"), "nodeName"), "n2");
    tc_free(&r);
    post_binding(coll, "b3", "\"name\":\"n2\"", &r);
    assert_status(&r, 409, "Conflict",
                  "Operation cannot be fulfilled on pods/binding \"b3\": pod b3 has non-empty "
                  ".spec.schedulingGates");
    tc_free(&r);
    post_binding(coll, "gone", "\"name\":\"n2\"", &r);
    assert_status(&r, 404, "NotFound", "pods \"gone\" not found");
    tc_free(&r);
    tc_json(U, "GET", coll, NULL, &r);
    ck_assert_int_eq(r.status, 405);
    tc_free(&r);
    /* discovery: the collection and the subresource, create only */
    tc_json(U, "GET", "/api/v1", NULL, &r);
    int listed = 0;
    size_t i;
    json_t *res;
    json_array_foreach(json_object_get(r.json, "resources"), i, res)
    {
        const char *name = jstr(res, "name");
        if (strcmp(name, "bindings") == 0 || strcmp(name, "pods/binding") == 0) {
            ck_assert_str_eq(jstr(res, "kind"), "Binding");
            ck_assert_uint_eq(json_array_size(json_object_get(res, "verbs")), 1);
            listed++;
        }
    }
    ck_assert_int_eq(listed, 2);
    tc_free(&r);
}
END_TEST

/* ---- defaults ------------------------------------------------------------------------- */

static json_t *created(const char *path, const char *body)
{
    tc_response r;
    tc_json(U, "POST", path, body, &r);
    ck_assert_msg(r.status == 201, "POST %s: %ld %s", path, r.status, r.body);
    json_t *obj = json_incref(r.json);
    tc_free(&r);
    return obj;
}

static const char *dig_str(const json_t *obj, const char *path)
{
    return json_string_value(tc_dig(obj, path));
}

static json_int_t dig_int(const json_t *obj, const char *path)
{
    ck_assert_msg(json_is_integer(tc_dig(obj, path)), "%s is not an integer", path);
    return json_integer_value(tc_dig(obj, path));
}

/* A Secret's stringData goes into data (over what data held), as the v1
 * conversion reads it, on create and on every later write; it is never
 * stored. */
START_TEST(secret_string_data_is_merged_into_data)
{
    static const char path[] = "/api/v1/namespaces/default/secrets/sd";
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/secrets",
            "{\"metadata\":{\"name\":\"sd\"},\"data\":{\"a\":\"b2xk\",\"b\":\"Yg==\"},"
            "\"stringData\":{\"a\":\"hi\",\"c\":\"\"}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    json_t *data = json_object_get(r.json, "data");
    ck_assert_str_eq(jstr(data, "a"), "aGk=");
    ck_assert_str_eq(jstr(data, "b"), "Yg==");
    ck_assert_str_eq(jstr(data, "c"), "");
    ck_assert_ptr_null(json_object_get(r.json, "stringData"));
    ck_assert_str_eq(jstr(r.json, "type"), "Opaque");
    tc_free(&r);
    patch(path, "application/merge-patch+json", "{\"stringData\":{\"d\":\"x\"}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(json_object_get(r.json, "data"), "d"), "eA==");
    ck_assert_ptr_null(json_object_get(r.json, "stringData"));
    tc_free(&r);
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_uint_eq(json_object_size(json_object_get(r.json, "data")), 4);
    ck_assert_ptr_null(json_object_get(r.json, "stringData"));
    tc_free(&r);
}
END_TEST

/* A pod's container limits fill the requests it lacks (SetDefaults_Pod);
 * pods/NAME/ephemeralcontainers changes spec.ephemeralContainers alone,
 * defaulted as containers are (kubectl debug). */
START_TEST(pods_get_requests_from_limits_and_ephemeral_containers)
{
    json_t *pod = created(
        "/api/v1/namespaces/default/pods",
        "{\"metadata\":{\"name\":\"eph\"},\"spec\":{\"containers\":[{\"name\":\"a\","
        "\"image\":\"nginx:1\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
        "\"requests\":{\"cpu\":\"500m\"}}}]}}");
    ck_assert_str_eq(dig_str(pod, "spec.containers.0.resources.requests.cpu"), "500m");
    ck_assert_str_eq(dig_str(pod, "spec.containers.0.resources.requests.memory"), "1Gi");
    json_decref(pod);
    static const char eph[] = "/api/v1/namespaces/default/pods/eph/ephemeralcontainers";
    tc_response r;
    tc_json(U, "GET", eph, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(jstr(r.json, "kind"), "Pod");
    tc_free(&r);
    patch(eph, "application/strategic-merge-patch+json",
          "{\"metadata\":{\"labels\":{\"ignored\":\"yes\"}},\"spec\":{\"ephemeralContainers\":"
          "[{\"name\":\"debugger\",\"image\":\"busybox\",\"stdin\":true}]}}",
          &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(dig_str(r.json, "spec.ephemeralContainers.0.name"), "debugger");
    ck_assert_str_eq(dig_str(r.json, "spec.ephemeralContainers.0.imagePullPolicy"), "Always");
    ck_assert_str_eq(dig_str(r.json, "spec.ephemeralContainers.0.terminationMessagePath"),
                     "/dev/termination-log");
    ck_assert_ptr_null(tc_dig(r.json, "metadata.labels.ignored"));
    tc_free(&r);
    tc_json(U, "DELETE", eph, NULL, &r);
    ck_assert_int_eq(r.status, 405);
    tc_free(&r);
    /* once added, an ephemeral container stays as it is */
    patch(eph, "application/json-patch+json",
          "[{\"op\":\"remove\",\"path\":\"/spec/ephemeralContainers/0\"}]", &r);
    assert_status(&r, 422, "Invalid",
                  "Pod \"eph\" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral "
                  "containers \"debugger\" may not be removed");
    tc_free(&r);
    patch(eph, "application/json-patch+json",
          "[{\"op\":\"replace\",\"path\":\"/spec/ephemeralContainers/0/image\",\"value\":"
          "\"other\"}]",
          &r);
    assert_status(&r, 422, "Invalid", NULL);
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/pods/eph", NULL, &r);
    ck_assert_str_eq(dig_str(r.json, "spec.ephemeralContainers.0.image"), "busybox");
    tc_free(&r);
}
END_TEST

/* The DefaultStorageClass and DefaultIngressClass admission plugins: a
 * claim or an Ingress that names no class gets the one marked default
 * (of several, the newest, then the first by name); one that names a
 * class, even "", or carries the old annotation keeps what it has. */
START_TEST(claims_and_ingresses_get_the_default_class)
{
    static const char pvcs[] = "/api/v1/namespaces/default/persistentvolumeclaims";
    static const char ingresses[] = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";
    static const char claim[] = "{\"metadata\":{\"name\":\"%s\"%s},\"spec\":{%s"
                                "\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{"
                                "\"requests\":{\"storage\":\"1Gi\"}}}}";
    static const char ingress[] = "{\"metadata\":{\"name\":\"%s\"%s},\"spec\":{%s"
                                  "\"defaultBackend\":{\"service\":{\"name\":\"web\","
                                  "\"port\":{\"number\":80}}}}}";
    char body[512];
    snprintf(body, sizeof(body), claim, "before", "", "");
    json_t *o = created(pvcs, body);
    ck_assert_ptr_null(tc_dig(o, "spec.storageClassName")); /* no default yet */
    json_decref(o);
    json_decref(created("/apis/storage.k8s.io/v1/storageclasses",
                        "{\"metadata\":{\"name\":\"fast\"},\"provisioner\":\"x\"}"));
    json_decref(created("/apis/storage.k8s.io/v1/storageclasses",
                        "{\"metadata\":{\"name\":\"zz-beta\",\"annotations\":{"
                        "\"storageclass.beta.kubernetes.io/is-default-class\":\"true\"}},"
                        "\"provisioner\":\"x\"}"));
    json_decref(created("/apis/storage.k8s.io/v1/storageclasses",
                        "{\"metadata\":{\"name\":\"standard\",\"annotations\":{"
                        "\"storageclass.kubernetes.io/is-default-class\":\"true\"}},"
                        "\"provisioner\":\"x\"}"));
    snprintf(body, sizeof(body), claim, "plain", "", "");
    o = created(pvcs, body);
    /* two defaults: the newer, or of one second the first by name */
    ck_assert_str_eq(dig_str(o, "spec.storageClassName"), "standard");
    json_decref(o);
    snprintf(body, sizeof(body), claim, "none", "", "\"storageClassName\":\"\",");
    o = created(pvcs, body);
    ck_assert_str_eq(dig_str(o, "spec.storageClassName"), "");
    json_decref(o);
    snprintf(body, sizeof(body), claim, "beta",
             ",\"annotations\":{\"volume.beta.kubernetes.io/storage-class\":\"fast\"}", "");
    o = created(pvcs, body);
    ck_assert_ptr_null(tc_dig(o, "spec.storageClassName"));
    json_decref(o);

    json_decref(created("/apis/networking.k8s.io/v1/ingressclasses",
                        "{\"metadata\":{\"name\":\"nginx\",\"annotations\":{"
                        "\"ingressclass.kubernetes.io/is-default-class\":\"true\"}},"
                        "\"spec\":{\"controller\":\"example.com/ingress\"}}"));
    snprintf(body, sizeof(body), ingress, "plain", "", "");
    o = created(ingresses, body);
    ck_assert_str_eq(dig_str(o, "spec.ingressClassName"), "nginx");
    json_decref(o);
    snprintf(body, sizeof(body), ingress, "annotated",
             ",\"annotations\":{\"kubernetes.io/ingress.class\":\"other\"}", "");
    o = created(ingresses, body);
    ck_assert_ptr_null(tc_dig(o, "spec.ingressClassName"));
    json_decref(o);
}
END_TEST

/* More of the scheme's defaulting and conversion: volume sources, the
 * deprecated serviceAccount name, network policies, limit ranges, nodes. */
START_TEST(volumes_policies_limits_and_nodes_get_their_defaults)
{
    json_t *pod =
        created("/api/v1/namespaces/default/pods",
                "{\"metadata\":{\"name\":\"vols\"},\"spec\":{\"serviceAccount\":\"old\","
                "\"containers\":[{\"name\":\"a\",\"image\":\"x:1\"}],\"volumes\":["
                "{\"name\":\"h\",\"hostPath\":{\"path\":\"/tmp\"}},"
                "{\"name\":\"d\",\"downwardAPI\":{\"items\":[{\"path\":\"n\",\"fieldRef\":{"
                "\"fieldPath\":\"metadata.name\"}}]}},"
                "{\"name\":\"p\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"path\":"
                "\"t\"}}]}}]}}");
    ck_assert_str_eq(dig_str(pod, "spec.serviceAccountName"), "old");
    ck_assert_str_eq(dig_str(pod, "spec.serviceAccount"), "old");
    ck_assert_str_eq(dig_str(pod, "spec.volumes.0.hostPath.type"), "");
    ck_assert_str_eq(dig_str(pod, "spec.volumes.1.downwardAPI.items.0.fieldRef.apiVersion"), "v1");
    ck_assert_int_eq(
        dig_int(pod, "spec.volumes.2.projected.sources.0.serviceAccountToken.expirationSeconds"),
        3600);
    json_decref(pod);
    json_t *np = created("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
                         "{\"metadata\":{\"name\":\"np\"},\"spec\":{\"podSelector\":{},"
                         "\"egress\":[{\"ports\":[{\"port\":53}]}]}}");
    ck_assert_str_eq(dig_str(np, "spec.policyTypes.0"), "Ingress");
    ck_assert_str_eq(dig_str(np, "spec.policyTypes.1"), "Egress");
    ck_assert_str_eq(dig_str(np, "spec.egress.0.ports.0.protocol"), "TCP");
    json_decref(np);
    json_t *lr = created("/api/v1/namespaces/default/limitranges",
                         "{\"metadata\":{\"name\":\"lr\"},\"spec\":{\"limits\":[{\"type\":"
                         "\"Container\",\"max\":{\"cpu\":\"2\"},\"min\":{\"memory\":\"1Mi\"}}]}}");
    ck_assert_str_eq(dig_str(lr, "spec.limits.0.default.cpu"), "2");
    ck_assert_str_eq(dig_str(lr, "spec.limits.0.defaultRequest.cpu"), "2");
    ck_assert_str_eq(dig_str(lr, "spec.limits.0.defaultRequest.memory"), "1Mi");
    json_decref(lr);
    json_t *node = created("/api/v1/nodes", "{\"metadata\":{\"name\":\"cidr\"},\"spec\":{"
                                            "\"podCIDR\":\"10.0.1.0/24\"}}");
    ck_assert_str_eq(dig_str(node, "spec.podCIDRs.0"), "10.0.1.0/24");
    /* TaintNodesByCondition: not ready until a node controller says so */
    ck_assert_str_eq(dig_str(node, "spec.taints.0.key"), "node.kubernetes.io/not-ready");
    ck_assert_str_eq(dig_str(node, "spec.taints.0.effect"), "NoSchedule");
    ck_assert_ptr_null(tc_dig(node, "spec.taints.1"));
    json_decref(node);
    node = created("/api/v1/nodes", "{\"metadata\":{\"name\":\"cidrs\"},\"spec\":{"
                                    "\"podCIDRs\":[\"10.0.2.0/24\",\"fd00::/64\"]}}");
    ck_assert_str_eq(dig_str(node, "spec.podCIDR"), "10.0.2.0/24");
    json_decref(node);
    /* a node keeps the status it is created with, as the kubelet
     * registers it; allocatable defaults to capacity */
    node = created("/api/v1/nodes",
                   "{\"metadata\":{\"name\":\"registered\"},\"status\":{\"capacity\":{"
                   "\"cpu\":\"4\"},\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
                   "\"10.1.2.3\"}],\"nodeInfo\":{\"kubeletVersion\":\"v1.32.0\"}}}");
    ck_assert_str_eq(dig_str(node, "status.addresses.0.address"), "10.1.2.3");
    ck_assert_str_eq(dig_str(node, "status.nodeInfo.kubeletVersion"), "v1.32.0");
    ck_assert_str_eq(dig_str(node, "status.capacity.cpu"), "4");
    ck_assert_str_eq(dig_str(node, "status.allocatable.cpu"), "4");
    json_decref(node);
}
END_TEST

/* Quantities written as JSON numbers (`cpu: 0.5` in a manifest) are
 * stored as the canonical strings resource.Quantity writes: rounded up to
 * nano units, the exponent a multiple of three as an SI suffix. (Strings:
 * the next test.) */
START_TEST(numeric_quantities_are_stored_as_canonical_strings)
{
    static const struct {
        const char *number, *want;
    } cases[] = {
        {"0.25", "250m"},       {"64", "64"},       {"1.5", "1500m"},
        {"1000", "1k"},         {"120000", "120k"}, {"0", "0"},
        {"0.1", "100m"},        {"1e-10", "1e-9"},  {"2000000", "2M"},
        {"0.0000015", "1500n"}, {"1e-7", "100e-9"}, {"1.5e21", "1500e18"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        char body[512], path[128];
        snprintf(body, sizeof(body),
                 "{\"metadata\":{\"name\":\"q%zu\"},\"spec\":{\"containers\":[{\"name\":"
                 "\"a\",\"image\":\"x:1\",\"resources\":{\"requests\":{\"cpu\":%s,"
                 "\"memory\":\"0.5Gi\"}}}]}}",
                 i, cases[i].number);
        snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods");
        json_t *pod = created(path, body);
        ck_assert_msg(
            strcmp(dig_str(pod, "spec.containers.0.resources.requests.cpu"), cases[i].want) == 0,
            "%s: got %s want %s", cases[i].number,
            dig_str(pod, "spec.containers.0.resources.requests.cpu"), cases[i].want);
        ck_assert_str_eq(dig_str(pod, "spec.containers.0.resources.requests.memory"), "512Mi");
        json_decref(pod);
    }
}
END_TEST

/* Quantity strings are read as resource.Quantity's UnmarshalJSON reads
 * them: a text ParseQuantity keeps (canonical already) stays as written,
 * spaces around it trimmed; any other is written in canonical form in its
 * format (a controller comparing "1000m" with what it reads back sees "1",
 * as on a cluster); one ParseQuantity refuses fails the create with its
 * error. */
START_TEST(string_quantities_are_stored_as_go_writes_them)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"1000m", "1"},         {"0.5", "500m"},    {"1e3", "1e3"},
        {"1.5e3", "1500"},      {"+1", "+1"},       {"01", "01"},
        {"1024Mi", "1Gi"},      {"0.5Gi", "512Mi"}, {"1.5Ki", "1536"},
        {"100Mi", "100Mi"},     {"8Ki", "8Ki"},     {"1536Mi", "1536Mi"},
        {"1.1", "1100m"},       {"100000", "100k"}, {"-0", "0"},
        {" 1Gi ", "1Gi"},       {"1.G", "1.G"},     {"1024", "1024"},
        {"0.0000000001", "1n"}, {"2048Ki", "2Mi"},  {"1000000000000", "1T"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"metadata\":{\"name\":\"s%zu\"},\"spec\":{\"containers\":[{\"name\":"
                 "\"a\",\"image\":\"x:1\",\"resources\":{\"limits\":{\"memory\":\"%s\"}}}]}}",
                 i, cases[i].text);
        json_t *pod = created("/api/v1/namespaces/default/pods", body);
        const char *got = dig_str(pod, "spec.containers.0.resources.limits.memory");
        ck_assert_msg(got && strcmp(got, cases[i].want) == 0, "\"%s\": got %s want %s",
                      cases[i].text, got ? got : "(none)", cases[i].want);
        json_decref(pod);
    }
    static const struct {
        const char *text, *error;
    } bad[] = {
        {"lots", "quantities must match the regular expression "
                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"},
        {"1Gib", "quantities must match the regular expression "
                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"},
        {"", "quantities must match the regular expression "
             "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"},
        {"1K", "unable to parse quantity's suffix"},
        {"1e", "unable to parse quantity's suffix"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(bad); i++) {
        char body[512], want[256];
        snprintf(body, sizeof(body),
                 "{\"metadata\":{\"name\":\"bad%zu\"},\"spec\":{\"containers\":[{\"name\":"
                 "\"a\",\"image\":\"x:1\",\"resources\":{\"requests\":{\"cpu\":\"%s\"}}}]}}",
                 i, bad[i].text);
        tc_response r;
        tc_json(U, "POST", "/api/v1/namespaces/default/pods", body, &r);
        ck_assert_msg(r.status == 400, "\"%s\": %ld %s", bad[i].text, r.status, r.body);
        snprintf(want, sizeof(want), "Pod in version \"v1\" cannot be handled as a Pod: %s",
                 bad[i].error);
        ck_assert_str_eq(dig_str(r.json, "message"), want);
        tc_free(&r);
    }
}
END_TEST

/* metav1.Time and MicroTime values are read as their UnmarshalJSON reads
 * them (time.RFC3339; RFC3339Micro with exactly six digits) and stored as
 * MarshalJSON writes them: UTC, to the second or the microsecond, the zero
 * time as null; a text time.Parse refuses fails the write with its error. */
START_TEST(times_are_stored_as_go_writes_them)
{
    static const char leases[] = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    json_t *lease = created(leases, "{\"metadata\":{\"name\":\"t1\"},\"spec\":{\"renewTime\":"
                                    "\"2026-12-06T23:48:25.302450+02:30\",\"acquireTime\":"
                                    "\"2026-12-06T17:48:25,000001Z\"}}");
    ck_assert_str_eq(dig_str(lease, "spec.renewTime"), "2026-12-06T21:18:25.302450Z");
    ck_assert_str_eq(dig_str(lease, "spec.acquireTime"), "2026-12-06T17:48:25.000001Z");
    json_decref(lease);
    static const struct {
        const char *path, *body, *want;
    } bad[] = {
        {leases,
         "{\"metadata\":{\"name\":\"t2\"},\"spec\":{\"renewTime\":\"2026-12-06T17:48:25Z\"}}",
         "Lease in version \"v1\" cannot be handled as a Lease: parsing time "
         "\"2026-12-06T17:48:25Z\" as \"2006-01-02T15:04:05.000000Z07:00\": cannot parse \"Z\" as "
         "\".000000\""},
        {"/api/v1/namespaces/default/pods",
         "{\"metadata\":{\"name\":\"t3\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":"
         "\"x\"}]},\"status\":{\"startTime\":\"yesterday\"}}",
         "Pod in version \"v1\" cannot be handled as a Pod: parsing time \"yesterday\" as "
         "\"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\""},
        {"/api/v1/namespaces/default/pods",
         "{\"metadata\":{\"name\":\"t4\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":"
         "\"x\"}]},\"status\":{\"startTime\":\"2026-02-30T00:00:00Z\"}}",
         "Pod in version \"v1\" cannot be handled as a Pod: parsing time \"2026-02-30T00:00:00Z\": "
         "day out of range"},
        {"/api/v1/namespaces/default/pods",
         "{\"metadata\":{\"name\":\"t5\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":"
         "\"x\"}]},\"status\":{\"startTime\":\"2026-12-06T17:48:25Z later\"}}",
         "Pod in version \"v1\" cannot be handled as a Pod: parsing time \"2026-12-06T17:48:25Z "
         "later\": extra text: \" later\""},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(bad); i++) {
        tc_response r;
        tc_json(U, "POST", bad[i].path, bad[i].body, &r);
        ck_assert_msg(r.status == 400, "%zu: %ld %s", i, r.status, r.body);
        ck_assert_str_eq(dig_str(r.json, "message"), bad[i].want);
        tc_free(&r);
    }
    /* a status write: a condition's time in UTC to the second; the zero
     * time is null */
    json_t *pod = created("/api/v1/namespaces/default/pods",
                          "{\"metadata\":{\"name\":\"t6\"},\"spec\":{\"containers\":[{\"name\":"
                          "\"a\",\"image\":\"x\"}]}}");
    json_decref(pod);
    tc_response r;
    tc_request(
        U, "PATCH", "/api/v1/namespaces/default/pods/t6/status", "application/merge-patch+json",
        "{\"status\":{\"startTime\":\"0001-01-01T00:00:00Z\",\"conditions\":[{\"type\":"
        "\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2026-12-06T17:48:25.9-01:00\"}]}}",
        NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.lastTransitionTime"),
                     "2026-12-06T18:48:25Z");
    ck_assert(json_is_null(tc_dig(r.json, "status.startTime")));
    tc_free(&r);
}
END_TEST

START_TEST(builtin_kinds_get_the_apiserver_defaults)
{
    /* pods: SetDefaults_PodSpec, _Container, _Probe, _Volume; admission's
     * priority and tolerations */
    json_t *pod = created(
        "/api/v1/namespaces/default/pods",
        "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":"
        "\"nginx\",\"ports\":[{\"containerPort\":80}],\"readinessProbe\":{\"httpGet\":{\"port\":"
        "80}},\"env\":[{\"name\":\"N\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata."
        "name\"}}}],\"volumeMounts\":[{\"name\":\"cfg\",\"mountPath\":\"/c\"}]},{\"name\":\"b\","
        "\"image\":\"registry:5000/busybox:1.36\"},{\"name\":\"c\",\"image\":\"x@sha256:"
        "0123\"}],\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":\"cfg\"}},{\"name\":"
        "\"scratch\"}]}}");
    const json_t *ps = tc_dig(pod, "spec");
    ck_assert_str_eq(dig_str(ps, "restartPolicy"), "Always");
    ck_assert_str_eq(dig_str(ps, "dnsPolicy"), "ClusterFirst");
    ck_assert_str_eq(dig_str(ps, "schedulerName"), "default-scheduler");
    ck_assert_int_eq(dig_int(ps, "terminationGracePeriodSeconds"), 30);
    ck_assert(json_is_true(tc_dig(ps, "enableServiceLinks")));
    ck_assert(json_is_object(tc_dig(ps, "securityContext")));
    ck_assert_int_eq(dig_int(ps, "priority"), 0);
    ck_assert_str_eq(dig_str(ps, "preemptionPolicy"), "PreemptLowerPriority");
    ck_assert_str_eq(dig_str(ps, "tolerations.0.key"), "node.kubernetes.io/not-ready");
    ck_assert_str_eq(dig_str(ps, "tolerations.1.key"), "node.kubernetes.io/unreachable");
    ck_assert_int_eq(dig_int(ps, "tolerations.1.tolerationSeconds"), 300);
    ck_assert_str_eq(dig_str(ps, "containers.0.imagePullPolicy"), "Always");
    ck_assert_str_eq(dig_str(ps, "containers.1.imagePullPolicy"), "IfNotPresent");
    ck_assert_str_eq(dig_str(ps, "containers.2.imagePullPolicy"), "IfNotPresent");
    ck_assert_str_eq(dig_str(ps, "containers.0.terminationMessagePath"), "/dev/termination-log");
    ck_assert_str_eq(dig_str(ps, "containers.0.terminationMessagePolicy"), "File");
    ck_assert_str_eq(dig_str(ps, "containers.0.ports.0.protocol"), "TCP");
    ck_assert_str_eq(dig_str(ps, "containers.0.env.0.valueFrom.fieldRef.apiVersion"), "v1");
    ck_assert_str_eq(dig_str(ps, "containers.0.readinessProbe.httpGet.scheme"), "HTTP");
    ck_assert_str_eq(dig_str(ps, "containers.0.readinessProbe.httpGet.path"), "/");
    ck_assert_int_eq(dig_int(ps, "containers.0.readinessProbe.periodSeconds"), 10);
    ck_assert_int_eq(dig_int(ps, "containers.0.readinessProbe.failureThreshold"), 3);
    ck_assert_int_eq(dig_int(ps, "volumes.0.configMap.defaultMode"), 0644);
    ck_assert(json_is_object(tc_dig(ps, "volumes.1.emptyDir")));
    json_decref(pod);

    /* workloads: their own defaults and their templates' */
    static const char deploy[] = "/apis/apps/v1/namespaces/default/deployments";
    json_t *d = created(deploy, "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{"
                                "\"matchLabels\":{\"app\":\"d\"}},\"template\":{\"metadata\":{"
                                "\"labels\":{\"app\":\"d\"}},\"spec\":{\"containers\":[{\"name\":"
                                "\"c\",\"image\":\"nginx:1\"}]}}}}");
    ck_assert_int_eq(dig_int(d, "spec.replicas"), 1);
    ck_assert_str_eq(dig_str(d, "spec.strategy.type"), "RollingUpdate");
    ck_assert_str_eq(dig_str(d, "spec.strategy.rollingUpdate.maxSurge"), "25%");
    ck_assert_int_eq(dig_int(d, "spec.revisionHistoryLimit"), 10);
    ck_assert_int_eq(dig_int(d, "spec.progressDeadlineSeconds"), 600);
    ck_assert_str_eq(dig_str(d, "spec.template.spec.restartPolicy"), "Always");
    /* SetDefaults_Pod's fields are a pod's, not a template's */
    ck_assert_ptr_null(tc_dig(d, "spec.template.spec.enableServiceLinks"));
    /* an update that leaves the defaults out gets them again: no change */
    json_object_del(json_object_get(d, "spec"), "strategy");
    json_object_del(json_object_get(d, "spec"), "replicas");
    json_t *same = put("/apis/apps/v1/namespaces/default/deployments/d", d, 200);
    ck_assert_str_eq(meta(same, "resourceVersion"), meta(d, "resourceVersion"));
    ck_assert_int_eq(generation(same), 1);
    json_decref(same);
    json_decref(d);
    json_t *sts = created("/apis/apps/v1/namespaces/default/statefulsets",
                          "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"serviceName\":\"s\","
                          "\"selector\":{\"matchLabels\":{\"app\":\"s\"}},\"template\":{"
                          "\"metadata\":{\"labels\":{\"app\":\"s\"}},\"spec\":{\"containers\":"
                          "[{\"name\":\"c\",\"image\":\"x\"}]}},"
                          "\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"}}]}}");
    ck_assert_str_eq(dig_str(sts, "spec.podManagementPolicy"), "OrderedReady");
    /* claim templates are defaulted as claims, the phase included */
    ck_assert_str_eq(dig_str(sts, "spec.volumeClaimTemplates.0.spec.volumeMode"), "Filesystem");
    ck_assert_str_eq(dig_str(sts, "spec.volumeClaimTemplates.0.status.phase"), "Pending");
    ck_assert_int_eq(dig_int(sts, "spec.updateStrategy.rollingUpdate.partition"), 0);
    ck_assert_str_eq(dig_str(sts, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"),
                     "Retain");
    json_decref(sts);
    /* volumes and claims: Filesystem, Retain, and Pending although a
     * create drops the status sent */
    json_t *pvc = created("/api/v1/namespaces/default/persistentvolumeclaims",
                          "{\"metadata\":{\"name\":\"c\"},\"spec\":{\"accessModes\":["
                          "\"ReadWriteOnce\"]},\"status\":{\"phase\":\"Bound\"}}");
    ck_assert_str_eq(dig_str(pvc, "spec.volumeMode"), "Filesystem");
    ck_assert_str_eq(dig_str(pvc, "status.phase"), "Pending");
    json_decref(pvc);
    json_t *pv = created("/api/v1/persistentvolumes",
                         "{\"metadata\":{\"name\":\"v\"},\"spec\":{\"capacity\":{"
                         "\"storage\":\"1Gi\"},\"hostPath\":{\"path\":\"/tmp\"}}}");
    ck_assert_str_eq(dig_str(pv, "spec.volumeMode"), "Filesystem");
    ck_assert_str_eq(dig_str(pv, "spec.persistentVolumeReclaimPolicy"), "Retain");
    ck_assert_str_eq(dig_str(pv, "status.phase"), "Pending");
    json_decref(pv);
    json_t *ds = created("/apis/apps/v1/namespaces/default/daemonsets",
                         "{\"metadata\":{\"name\":\"ds\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                         "\"app\":\"ds\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"ds\"}}"
                         ",\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}");
    ck_assert_int_eq(dig_int(ds, "spec.updateStrategy.rollingUpdate.maxUnavailable"), 1);
    json_decref(ds);

    /* jobs: defaults, and the selector and labels the registry generates */
    json_t *job = created("/apis/batch/v1/namespaces/default/jobs",
                          "{\"metadata\":{\"name\":\"j\"},\"spec\":{\"template\":{\"spec\":{"
                          "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\","
                          "\"image\":\"busybox\"}]}}}}");
    const char *uid = meta(job, "uid");
    ck_assert_int_eq(dig_int(job, "spec.completions"), 1);
    ck_assert_int_eq(dig_int(job, "spec.parallelism"), 1);
    ck_assert_int_eq(dig_int(job, "spec.backoffLimit"), 6);
    ck_assert_str_eq(dig_str(job, "spec.completionMode"), "NonIndexed");
    ck_assert(json_is_false(tc_dig(job, "spec.suspend")));
    ck_assert_str_eq(dig_str(job, "spec.podReplacementPolicy"), "TerminatingOrFailed");
    ck_assert_str_eq(dig_str(job, "spec.template.spec.restartPolicy"), "Never");
    const json_t *match = tc_dig(job, "spec.selector.matchLabels");
    ck_assert_str_eq(jstr(match, "batch.kubernetes.io/controller-uid"), uid);
    const json_t *tl = tc_dig(job, "spec.template.metadata.labels");
    ck_assert_str_eq(jstr(tl, "batch.kubernetes.io/job-name"), "j");
    ck_assert_str_eq(jstr(tl, "controller-uid"), uid);
    ck_assert_str_eq(jstr(json_object_get(json_object_get(job, "metadata"), "labels"), "job-name"),
                     "j");
    json_decref(job);
    json_t *cj = created("/apis/batch/v1/namespaces/default/cronjobs",
                         "{\"metadata\":{\"name\":\"cj\"},\"spec\":{\"schedule\":\"* * * * *\","
                         "\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":"
                         "\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}}}");
    ck_assert_str_eq(dig_str(cj, "spec.concurrencyPolicy"), "Allow");
    ck_assert_int_eq(dig_int(cj, "spec.successfulJobsHistoryLimit"), 3);
    ck_assert_int_eq(dig_int(cj, "spec.failedJobsHistoryLimit"), 1);
    ck_assert_str_eq(dig_str(cj, "spec.jobTemplate.spec.template.spec.dnsPolicy"), "ClusterFirst");
    ck_assert_ptr_null(tc_dig(cj, "spec.jobTemplate.spec.backoffLimit"));
    json_decref(cj);

    /* namespaces carry their name as a label, also when generated */
    json_t *ns = created("/api/v1/namespaces", "{\"metadata\":{\"generateName\":\"gen-\"}}");
    const char *ns_name = meta(ns, "name");
    ck_assert_int_eq(strncmp(ns_name, "gen-", 4), 0);
    ck_assert_str_eq(jstr(json_object_get(json_object_get(ns, "metadata"), "labels"),
                          "kubernetes.io/metadata.name"),
                     ns_name);
    json_decref(ns);

    json_t *secret = created("/api/v1/namespaces/default/secrets", "{\"metadata\":{\"name\":"
                                                                   "\"s\"},\"data\":{}}");
    ck_assert_str_eq(jstr(secret, "type"), "Opaque");
    json_decref(secret);
}
END_TEST

START_TEST(newer_builtin_kinds_get_their_scheme_defaults)
{
    /* a PodTemplate's template is defaulted as a pod */
    json_t *pt = created("/api/v1/namespaces/default/podtemplates",
                         "{\"metadata\":{\"name\":\"t\"},\"template\":{\"spec\":{"
                         "\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}}");
    ck_assert_str_eq(dig_str(pt, "template.spec.restartPolicy"), "Always");
    ck_assert_str_eq(dig_str(pt, "template.spec.containers.0.imagePullPolicy"), "IfNotPresent");
    ck_assert_int_eq(generation(pt), 1);
    json_decref(pt);

    /* EndpointSlice ports: an unnamed port is named "", TCP */
    json_t *eps = created("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                          "{\"metadata\":{\"name\":\"e\"},\"addressType\":\"IPv4\","
                          "\"ports\":[{\"port\":80},{\"name\":\"dns\",\"port\":53,"
                          "\"protocol\":\"UDP\"}],\"endpoints\":[]}");
    ck_assert_str_eq(dig_str(eps, "ports.0.name"), "");
    ck_assert_str_eq(dig_str(eps, "ports.0.protocol"), "TCP");
    ck_assert_str_eq(dig_str(eps, "ports.1.protocol"), "UDP");
    /* its generation moves with its labels too */
    json_object_set_new(json_object_get(eps, "metadata"), "labels",
                        json_pack("{s:s}", "kubernetes.io/service-name", "web"));
    json_t *eps2 = put("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/e", eps, 200);
    ck_assert_int_eq(generation(eps2), 2);
    json_decref(eps2);
    json_decref(eps);

    json_t *sc = created("/apis/storage.k8s.io/v1/storageclasses",
                         "{\"metadata\":{\"name\":\"fast\"},\"provisioner\":\"example.com/"
                         "disk\"}");
    ck_assert_str_eq(jstr(sc, "reclaimPolicy"), "Delete");
    ck_assert_str_eq(jstr(sc, "volumeBindingMode"), "Immediate");
    json_decref(sc);

    json_t *ic = created("/apis/networking.k8s.io/v1/ingressclasses",
                         "{\"metadata\":{\"name\":\"nginx\"},\"spec\":{\"controller\":"
                         "\"example.com/ingress\",\"parameters\":{\"kind\":\"P\",\"name\":"
                         "\"p\"}}}");
    ck_assert_str_eq(dig_str(ic, "spec.parameters.scope"), "Cluster");
    ck_assert_int_eq(generation(ic), 1);
    json_decref(ic);

    /* HPA (autoscaling/v2): one replica, 80% CPU without metrics; a set
     * behavior gets both directions' rules */
    static const char hpas[] = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
    json_t *hpa = created(hpas, "{\"metadata\":{\"name\":\"h\"},\"spec\":{\"scaleTargetRef\":{"
                                "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":"
                                "\"web\"},\"maxReplicas\":5}}");
    ck_assert_int_eq(dig_int(hpa, "spec.minReplicas"), 1);
    ck_assert_str_eq(dig_str(hpa, "spec.metrics.0.type"), "Resource");
    ck_assert_str_eq(dig_str(hpa, "spec.metrics.0.resource.name"), "cpu");
    ck_assert_str_eq(dig_str(hpa, "spec.metrics.0.resource.target.type"), "Utilization");
    ck_assert_int_eq(dig_int(hpa, "spec.metrics.0.resource.target.averageUtilization"), 80);
    ck_assert_ptr_null(tc_dig(hpa, "spec.behavior"));
    ck_assert_str_eq(jstr(hpa, "apiVersion"), "autoscaling/v2");
    json_decref(hpa);
    hpa = created(hpas, "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"scaleTargetRef\":{"
                        "\"kind\":\"Deployment\",\"name\":\"web\"},\"maxReplicas\":5,"
                        "\"behavior\":{\"scaleDown\":{\"stabilizationWindowSeconds\":60}}}}");
    ck_assert_int_eq(dig_int(hpa, "spec.behavior.scaleDown.stabilizationWindowSeconds"), 60);
    ck_assert_str_eq(dig_str(hpa, "spec.behavior.scaleDown.selectPolicy"), "Max");
    ck_assert_str_eq(dig_str(hpa, "spec.behavior.scaleDown.policies.0.type"), "Percent");
    ck_assert_int_eq(dig_int(hpa, "spec.behavior.scaleDown.policies.0.value"), 100);
    ck_assert_int_eq(dig_int(hpa, "spec.behavior.scaleUp.stabilizationWindowSeconds"), 0);
    ck_assert_str_eq(dig_str(hpa, "spec.behavior.scaleUp.policies.0.type"), "Pods");
    ck_assert_int_eq(dig_int(hpa, "spec.behavior.scaleUp.policies.0.value"), 4);
    ck_assert_int_eq(dig_int(hpa, "spec.behavior.scaleUp.policies.1.periodSeconds"), 15);
    ck_assert_ptr_null(tc_dig(hpa, "metadata.generation"));
    json_decref(hpa);
    tc_response r;
    tc_json(U, "GET", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers", NULL, &r);
    ck_assert_int_eq(r.status, 200); /* served as v1 too (autoscalers_are_served_as_v1_and_v2) */
    tc_free(&r);

    /* webhook configurations: stored with their defaults; never called */
    json_t *vw = created("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                         "{\"metadata\":{\"name\":\"v\"},\"webhooks\":[{\"name\":"
                         "\"v.example.com\",\"sideEffects\":\"None\",\"admissionReviewVersions\":"
                         "[\"v1\"],\"clientConfig\":{\"service\":{\"namespace\":\"default\","
                         "\"name\":\"hook\"}},\"rules\":[{\"apiGroups\":[\"\"],"
                         "\"apiVersions\":[\"v1\"],\"operations\":[\"CREATE\"],\"resources\":"
                         "[\"pods\"]}]}]}");
    const json_t *w = tc_dig(vw, "webhooks.0");
    ck_assert_str_eq(dig_str(w, "failurePolicy"), "Fail");
    ck_assert_str_eq(dig_str(w, "matchPolicy"), "Equivalent");
    ck_assert(json_is_object(tc_dig(w, "namespaceSelector")));
    ck_assert(json_is_object(tc_dig(w, "objectSelector")));
    ck_assert_int_eq(dig_int(w, "timeoutSeconds"), 10);
    ck_assert_str_eq(dig_str(w, "rules.0.scope"), "*");
    ck_assert_int_eq(dig_int(w, "clientConfig.service.port"), 443);
    ck_assert_ptr_null(tc_dig(w, "reinvocationPolicy"));
    ck_assert_int_eq(generation(vw), 1);
    json_decref(vw);
    json_t *mw = created("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
                         "{\"metadata\":{\"name\":\"m\"},\"webhooks\":[{\"name\":"
                         "\"m.example.com\",\"sideEffects\":\"None\",\"admissionReviewVersions\":"
                         "[\"v1\"],\"clientConfig\":{\"url\":\"https://example.com/m\"}}]}");
    ck_assert_str_eq(dig_str(mw, "webhooks.0.reinvocationPolicy"), "Never");
    ck_assert_int_eq(dig_int(mw, "webhooks.0.timeoutSeconds"), 10);
    json_decref(mw);
    /* a pod is admitted although a webhook would have been asked */
    json_decref(created("/api/v1/namespaces/default/pods",
                        "{\"metadata\":{\"name\":\"unhooked\"},\"spec\":{\"containers\":[{"
                        "\"name\":\"c\",\"image\":\"x\"}]}}"));
}
END_TEST

static void csr_body(char *out, size_t size, const char *name, const char *request,
                     const char *extra_spec)
{
    snprintf(out, size,
             "{\"apiVersion\":\"certificates.k8s.io/v1\",\"kind\":\"CertificateSigningRequest\","
             "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"request\":\"%s\"%s},\"status\":{"
             "\"conditions\":[{\"type\":\"Approved\",\"status\":\"True\"}]}}",
             name, request, extra_spec);
}

static bool has_string(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

START_TEST(certificate_requests_record_the_requester_and_keep_approval_apart)
{
    kr_test_server_stop();
    const char *tokens[] = {"good:alice", NULL};
    kr_testserver_opts o = {.tokens = tokens};
    start_with(&o);
    const char *auth[] = {"Authorization: Bearer good", NULL};
    static const char csrs[] = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
    static const char one[] = "/apis/certificates.k8s.io/v1/certificatesigningrequests/alice";
    static const char spec_ok[] = ",\"signerName\":\"kubernetes.io/kube-apiserver-client\","
                                  "\"usages\":[\"client auth\"],\"username\":\"mallory\","
                                  "\"groups\":[\"system:masters\"]";
    char body[4096];
    tc_response r;

    /* who asked is recorded, whatever the body claims; status starts empty */
    csr_body(body, sizeof(body), "alice", CSR_GOOD, spec_ok);
    tc_request(U, "POST", csrs, "application/json", body, auth, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(dig_str(r.json, "spec.username"), "alice");
    ck_assert(has_string(tc_dig(r.json, "spec.groups"), "system:authenticated"));
    ck_assert(!has_string(tc_dig(r.json, "spec.groups"), "system:masters"));
    ck_assert(json_is_object(tc_dig(r.json, "status")));
    ck_assert_uint_eq(json_object_size(tc_dig(r.json, "status")), 0);
    tc_free(&r);

    /* a request whose signature does not verify, and a spec lacking the
     * signer and usages, are refused with the fields named */
    csr_body(body, sizeof(body), "forged", CSR_TAMPERED, spec_ok);
    tc_request(U, "POST", csrs, "application/json", body, auth, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_msg(strstr(r.body, "spec.request: Invalid value: []byte{0x2d, 0x2d") &&
                      strstr(r.body, ": x509: signature verification failure"),
                  "%s", r.body);
    tc_free(&r);
    csr_body(body, sizeof(body), "bare", "aGVsbG8K", ",\"expirationSeconds\":60");
    tc_request(U, "POST", csrs, "application/json", body, auth, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "CertificateSigningRequest.certificates.k8s.io \"bare\" is invalid: ["
                     "spec.request: Invalid value: []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xa}: PEM "
                     "block type must be CERTIFICATE REQUEST, spec.usages: Required value: usages "
                     "must be provided, spec.signerName: Required value: signerName must be "
                     "provided, spec.expirationSeconds: Invalid value: 60: may not specify a "
                     "duration less than 600 seconds (10 minutes)]");
    tc_free(&r);

    /* the object itself changes in its metadata only */
    tc_request(U, "PATCH", one, "application/merge-patch+json",
               "{\"metadata\":{\"labels\":{\"team\":\"a\"}},\"spec\":{\"signerName\":\"x.io/y\"},"
               "\"status\":{\"conditions\":[{\"type\":\"Approved\",\"status\":\"True\"}]}}",
               auth, &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_str_eq(dig_str(r.json, "metadata.labels.team"), "a");
    ck_assert_str_eq(dig_str(r.json, "spec.signerName"), "kubernetes.io/kube-apiserver-client");
    ck_assert_uint_eq(json_object_size(tc_dig(r.json, "status")), 0);
    tc_free(&r);

    /* /approval: the Approved condition, stamped; nothing else of the body */
    static const char approval[] =
        "/apis/certificates.k8s.io/v1/certificatesigningrequests/alice/approval";
    tc_request(U, "PATCH", approval, "application/merge-patch+json",
               "{\"metadata\":{\"labels\":{\"team\":\"b\"}},\"status\":{\"certificate\":\"eA==\","
               "\"conditions\":[{\"type\":\"Approved\",\"status\":\"True\",\"reason\":\"Ok\"}]}}",
               auth, &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.type"), "Approved");
    ck_assert_ptr_nonnull(dig_str(r.json, "status.conditions.0.lastUpdateTime"));
    ck_assert_ptr_nonnull(dig_str(r.json, "status.conditions.0.lastTransitionTime"));
    ck_assert_ptr_null(tc_dig(r.json, "status.certificate"));
    ck_assert_str_eq(dig_str(r.json, "metadata.labels.team"), "a");
    tc_free(&r);

    /* /status: the certificate; the approval stays, whatever the body says */
    static const char status[] =
        "/apis/certificates.k8s.io/v1/certificatesigningrequests/alice/status";
    tc_request(U, "PATCH", status, "application/merge-patch+json",
               "{\"status\":{\"certificate\":\"eA==\"}}", auth, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_msg(strstr(r.body, "status.certificate: Invalid value: \\\"<certificate data>\\\": "
                                 "must contain at least one CERTIFICATE PEM block"),
                  "%s", r.body);
    tc_free(&r);
    snprintf(body, sizeof(body), "{\"status\":{\"certificate\":\"%s\",\"conditions\":[]}}",
             CERT_ALICE);
    tc_request(U, "PATCH", status, "application/merge-patch+json", body, auth, &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_str_eq(dig_str(r.json, "status.certificate"), CERT_ALICE);
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.type"), "Approved");
    tc_free(&r);
    /* issued once: never replaced */
    tc_request(U, "PATCH", status, "application/merge-patch+json",
               "{\"status\":{\"certificate\":null}}", auth, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_msg(strstr(r.body, "updates may not modify existing certificate content"), "%s",
                  r.body);
    tc_free(&r);

    /* Approved and Denied exclude each other; an approval is never taken back */
    tc_request(U, "PATCH", approval, "application/json-patch+json",
               "[{\"op\":\"add\",\"path\":\"/status/conditions/-\",\"value\":{\"type\":\"Denied\","
               "\"status\":\"True\"}}]",
               auth, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_msg(strstr(r.body, "Approved and Denied conditions are mutually exclusive"), "%s",
                  r.body);
    tc_free(&r);
    tc_request(U, "PATCH", approval, "application/merge-patch+json",
               "{\"status\":{\"conditions\":null}}", auth, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_msg(strstr(r.body,
                         "status.conditions: Forbidden: updates may not remove a condition of type "
                         "\\\"Approved\\\""),
                  "%s", r.body);
    tc_free(&r);

    /* kubectl get csr: who asked, and the approval and issue */
    const char *table[] = {"Authorization: Bearer good",
                           "Accept: application/json;as=Table;v=v1;g=meta.k8s.io", NULL};
    tc_request(U, "GET", csrs, NULL, NULL, table, &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    const json_t *row = tc_dig(r.json, "rows.0.cells");
    ck_assert_str_eq(json_string_value(json_array_get(row, 0)), "alice");
    ck_assert_str_eq(json_string_value(json_array_get(row, 2)),
                     "kubernetes.io/kube-apiserver-client");
    ck_assert_str_eq(json_string_value(json_array_get(row, 3)), "alice");
    ck_assert_str_eq(json_string_value(json_array_get(row, 4)), "<none>");
    ck_assert_str_eq(json_string_value(json_array_get(row, 5)), "Approved,Issued");
    tc_free(&r);

    /* discovery names the subresource kubectl certificate approve writes */
    tc_request(U, "GET", "/apis/certificates.k8s.io/v1", NULL, NULL, auth, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "\"certificatesigningrequests/approval\""));
    tc_free(&r);
}
END_TEST

START_TEST(remaining_builtin_kinds_get_their_defaults)
{
    /* a ReplicationController: selector and labels from its template;
     * scaled through /scale with its map selector */
    json_t *rc = created("/api/v1/namespaces/default/replicationcontrollers",
                         "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":{\"metadata\":"
                         "{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
                         "\"image\":\"nginx\"}]}}}}");
    ck_assert_int_eq(dig_int(rc, "spec.replicas"), 1);
    ck_assert_str_eq(dig_str(rc, "spec.selector.app"), "web");
    ck_assert_str_eq(dig_str(rc, "metadata.labels.app"), "web");
    ck_assert_str_eq(dig_str(rc, "spec.template.spec.restartPolicy"), "Always");
    json_decref(rc);
    tc_response r;
    static const char scale[] = "/api/v1/namespaces/default/replicationcontrollers/web/scale";
    patch(scale, "application/merge-patch+json", "{\"spec\":{\"replicas\":4}}", &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_int_eq(dig_int(r.json, "spec.replicas"), 4);
    ck_assert_str_eq(dig_str(r.json, "status.selector"), "app=web");
    tc_free(&r);

    json_t *drv = created("/apis/storage.k8s.io/v1/csidrivers",
                          "{\"metadata\":{\"name\":\"hostpath.csi.k8s.io\"},\"spec\":{}}");
    ck_assert(json_is_true(tc_dig(drv, "spec.attachRequired")));
    ck_assert(json_is_false(tc_dig(drv, "spec.podInfoOnMount")));
    ck_assert_str_eq(dig_str(drv, "spec.fsGroupPolicy"), "ReadWriteOnceWithFSType");
    ck_assert_str_eq(dig_str(drv, "spec.volumeLifecycleModes.0"), "Persistent");
    json_decref(drv);

    json_t *pl = created("/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations",
                         "{\"metadata\":{\"name\":\"pl\"},\"spec\":{\"type\":\"Limited\","
                         "\"limited\":{\"limitResponse\":{\"type\":\"Queue\",\"queuing\":{}}}}}");
    ck_assert_int_eq(dig_int(pl, "spec.limited.nominalConcurrencyShares"), 30);
    ck_assert_int_eq(dig_int(pl, "spec.limited.limitResponse.queuing.queues"), 64);
    ck_assert_int_eq(dig_int(pl, "spec.limited.limitResponse.queuing.handSize"), 8);
    ck_assert_int_eq(dig_int(pl, "spec.limited.limitResponse.queuing.queueLengthLimit"), 50);
    json_decref(pl);
    json_t *fs = created("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
                         "{\"metadata\":{\"name\":\"fs\"},\"spec\":{\"priorityLevelConfiguration\":"
                         "{\"name\":\"pl\"}}}");
    ck_assert_int_eq(dig_int(fs, "spec.matchingPrecedence"), 1000);
    ck_assert_int_eq(generation(fs), 1);
    json_decref(fs);

    json_t *vap = created(
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
        "{\"metadata\":{\"name\":\"max\"},\"spec\":{\"matchConstraints\":{\"resourceRules\":[{"
        "\"apiGroups\":[\"apps\"],\"apiVersions\":[\"v1\"],\"operations\":[\"CREATE\"],"
        "\"resources\":[\"deployments\"]}]},\"validations\":[{\"expression\":"
        "\"object.spec.replicas <= 5\"}]}}");
    ck_assert_str_eq(dig_str(vap, "spec.failurePolicy"), "Fail");
    ck_assert_str_eq(dig_str(vap, "spec.matchConstraints.matchPolicy"), "Equivalent");
    ck_assert_str_eq(dig_str(vap, "spec.matchConstraints.resourceRules.0.scope"), "*");
    json_decref(vap);
    json_t *vapb =
        created("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
                "{\"metadata\":{\"name\":\"max\"},\"spec\":{\"policyName\":\"max\","
                "\"validationActions\":[\"Deny\"],\"paramRef\":{\"name\":\"limits\"}}}");
    ck_assert_str_eq(dig_str(vapb, "spec.paramRef.parameterNotFoundAction"), "Deny");
    json_decref(vapb);
    /* the policy is stored, never evaluated */
    json_decref(created("/apis/apps/v1/namespaces/default/deployments",
                        "{\"metadata\":{\"name\":\"big\"},\"spec\":{\"replicas\":9,\"selector\":"
                        "{\"matchLabels\":{\"a\":\"b\"}},\"template\":{\"metadata\":{\"labels\":"
                        "{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
                        "\"x\"}]}}}}"));
}
END_TEST

/* `body` POSTed to `path` is refused with `status` and `message`. */
static void expect_refused(const char *path, const char *body, long status, const char *message)
{
    tc_response r;
    tc_json(U, "POST", path, body, &r);
    ck_assert_msg(r.status == status, "POST %s: %ld %s", path, r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "message"), message);
    tc_free(&r);
}

/* A 422's message, for `body` POSTed to `path`. */
static void expect_invalid(const char *path, const char *body, const char *message)
{
    expect_refused(path, body, 422, message);
}

START_TEST(builtin_kinds_are_validated_as_the_apiserver_does)
{
    static const char deploys[] = "/apis/apps/v1/namespaces/default/deployments";
    expect_invalid(deploys,
                   "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"replicas\":-1,\"template\":{"
                   "\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"restartPolicy\":"
                   "\"Never\",\"containers\":[{\"name\":\"Web\",\"image\":\"x\",\"ports\":[{"
                   "\"containerPort\":70000}]},{\"name\":\"side\"}]}}}}",
                   "Deployment.apps \"d\" is invalid: [spec.replicas: Invalid value: -1: must be "
                   "greater than or equal to 0, spec.selector: Required value, "
                   "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":"
                   "\"web\"}: `selector` does not match template `labels`, "
                   "spec.template.spec.containers[0].name: Invalid value: \"Web\": a lowercase "
                   "RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                   "and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                   "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'), "
                   "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: "
                   "70000: must be between 1 and 65535, inclusive, "
                   "spec.template.spec.containers[1].image: Required value, "
                   "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported "
                   "values: \"Always\"]");
    expect_invalid("/apis/batch/v1/namespaces/default/jobs",
                   "{\"metadata\":{\"name\":\"j\"},\"spec\":{\"template\":{\"spec\":{"
                   "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
                   "Job.batch \"j\" is invalid: spec.template.spec.restartPolicy: Required value: "
                   "valid values: \"OnFailure\", \"Never\"");
    expect_invalid("/api/v1/namespaces/default/pods",
                   "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                   "\"image\":\"x\"}],\"initContainers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
                   "Pod \"p\" is invalid: spec.initContainers[0].name: Duplicate value: \"c\"");
    expect_invalid("/api/v1/namespaces/default/pods", "{\"metadata\":{\"name\":\"p\"},\"spec\":{}}",
                   "Pod \"p\" is invalid: spec.containers: Required value");
    /* volumes first, then each container's pull policy and resources: a
     * request above its limit, an extended resource's not at its limit
     * or without one */
    expect_invalid(
        "/api/v1/namespaces/default/pods",
        "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"volumes\":[{\"name\":\"data\","
        "\"emptyDir\":{}},{\"name\":\"data\",\"emptyDir\":{}}],\"containers\":[{\"name\":"
        "\"c\",\"image\":\"x\",\"imagePullPolicy\":\"Sometimes\",\"resources\":{"
        "\"requests\":{\"cpu\":\"2\",\"memory\":\"1Gi\",\"example.com/gpu\":\"1\"},"
        "\"limits\":{\"cpu\":\"1\",\"memory\":\"1024Mi\"}}},{\"name\":\"d\",\"image\":"
        "\"x\",\"resources\":{\"requests\":{\"memory\":\"500m\",\"example.com/gpu\":"
        "\"1\"},\"limits\":{\"memory\":\"0.5\",\"example.com/gpu\":\"2\"}}}]}}",
        "Pod \"p\" is invalid: [spec.volumes[1].name: Duplicate value: \"data\", "
        "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": "
        "supported values: \"Always\", \"IfNotPresent\", \"Never\", "
        "spec.containers[0].resources.requests: Invalid value: \"2\": must be less "
        "than or equal to cpu limit of 1, spec.containers[0].resources.limits: "
        "Required value: Limit must be set for non overcommitable resources, "
        "spec.containers[1].resources.requests: Invalid value: \"1\": must be equal "
        "to example.com/gpu limit of 2]");
    /* in a template too */
    expect_invalid(deploys,
                   "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                   "\"app\":\"w\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\"}},"
                   "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{"
                   "\"requests\":{\"memory\":\"2Gi\"},\"limits\":{\"memory\":\"1Gi\"}}}]}}}}",
                   "Deployment.apps \"d\" is invalid: "
                   "spec.template.spec.containers[0].resources.requests: Invalid value: \"2Gi\": "
                   "must be less than or equal to memory limit of 1Gi");
    expect_invalid("/api/v1/namespaces/default/services",
                   "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"ExternalName\"}}",
                   "Service \"s\" is invalid: spec.externalName: Required value");
    expect_invalid("/api/v1/namespaces/default/services",
                   "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"ExternalName\","
                   "\"externalName\":\"Db_Host.\"}}",
                   "Service \"s\" is invalid: spec.externalName: Invalid value: \"Db_Host\": a "
                   "lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                   "characters, '-' or '.', and must start and end with an alphanumeric "
                   "character (e.g. 'example.com', regex used for validation is "
                   "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    /* an ExternalName service has no address and no families: the
     * registry copies clusterIP to clusterIPs first ("None" too) */
    expect_invalid("/api/v1/namespaces/default/services",
                   "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"ExternalName\","
                   "\"externalName\":\"db.example.com\",\"clusterIP\":\"10.96.0.10\"}}",
                   "Service \"s\" is invalid: spec.clusterIPs: Forbidden: may not be set for "
                   "ExternalName services");
    expect_invalid("/api/v1/namespaces/default/services",
                   "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"ExternalName\","
                   "\"externalName\":\"db.example.com\",\"clusterIP\":\"None\"}}",
                   "Service \"s\" is invalid: spec.clusterIPs: Forbidden: may not be set for "
                   "ExternalName services");
    expect_invalid("/api/v1/namespaces/default/services",
                   "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"ExternalName\","
                   "\"externalName\":\"db.example.com\",\"ipFamilies\":[\"IPv4\"],"
                   "\"ipFamilyPolicy\":\"SingleStack\"}}",
                   "Service \"s\" is invalid: [spec.ipFamilies: Forbidden: may not be set for "
                   "ExternalName services, spec.ipFamilyPolicy: Forbidden: may not be set for "
                   "ExternalName services]");
    expect_invalid("/api/v1/namespaces/default/services",
                   "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"sessionAffinity\":\"Sticky\","
                   "\"ports\":[{\"port\":80}]}}",
                   "Service \"s\" is invalid: spec.sessionAffinity: Unsupported value: "
                   "\"Sticky\": supported values: \"ClientIP\", \"None\"");
    /* a port 0 is refused, and the targetPort defaulted from it as well */
    expect_invalid("/api/v1/namespaces/default/services",
                   "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":[{\"port\":80},"
                   "{\"port\":0}]}}",
                   "Service \"s\" is invalid: [spec.ports[0].name: Required value, "
                   "spec.ports[1].name: Required value, spec.ports[1].port: Invalid value: 0: "
                   "must be between 1 and 65535, inclusive, spec.ports[1].targetPort: Invalid "
                   "value: 0: must be between 1 and 65535, inclusive]");
    expect_invalid("/api/v1/namespaces/default/services",
                   "{\"metadata\":{\"name\":\"s\"},\"spec\":{}}",
                   "Service \"s\" is invalid: spec.ports: Required value");
    expect_invalid("/api/v1/namespaces/default/configmaps",
                   "{\"metadata\":{\"name\":\"c\"},\"data\":{\"a b\":\"x\",\"ok.key\":\"y\"}}",
                   "ConfigMap \"c\" is invalid: data[a b]: Invalid value: \"a b\": a valid config "
                   "key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
                   "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
                   "'[-._a-zA-Z0-9]+')");
    expect_invalid("/api/v1/namespaces/default/configmaps",
                   "{\"metadata\":{\"name\":\"c\"},\"data\":{\"k\":\"x\"},\"binaryData\":{"
                   "\"k\":\"eA==\",\"b\":\"eA==\"}}",
                   "ConfigMap \"c\" is invalid: [data[k]: Invalid value: \"k\": duplicate of key "
                   "present in binaryData, binaryData[k]: Invalid value: \"k\": duplicate of key "
                   "present in data]");
    expect_invalid("/api/v1/namespaces/default/secrets",
                   "{\"metadata\":{\"name\":\"t\"},\"type\":\"kubernetes.io/tls\",\"data\":{"
                   "\"tls.crt\":\"eA==\"}}",
                   "Secret \"t\" is invalid: data[tls.key]: Required value");
    expect_invalid("/api/v1/namespaces/default/secrets",
                   "{\"metadata\":{\"name\":\"t\"},\"type\":\"kubernetes.io/basic-auth\","
                   "\"data\":{\"a\":\"eA==\"}}",
                   "Secret \"t\" is invalid: [data[username]: Required value, data[password]: "
                   "Required value]");
    expect_invalid("/api/v1/namespaces/default/secrets",
                   "{\"metadata\":{\"name\":\"t\"},\"type\":\"kubernetes.io/ssh-auth\","
                   "\"data\":{\"ssh-privatekey\":\"\"}}",
                   "Secret \"t\" is invalid: data[ssh-privatekey]: Required value");
    expect_invalid("/api/v1/namespaces/default/secrets",
                   "{\"metadata\":{\"name\":\"t\"},"
                   "\"type\":\"kubernetes.io/service-account-token\"}",
                   "Secret \"t\" is invalid: "
                   "metadata.annotations[kubernetes.io/service-account.name]: Required value");
    expect_invalid("/api/v1/namespaces/default/replicationcontrollers",
                   "{\"metadata\":{\"name\":\"r\"},\"spec\":{\"selector\":{\"app\":\"a\"},"
                   "\"template\":{\"metadata\":{\"labels\":{\"app\":\"b\"}},\"spec\":{"
                   "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
                   "ReplicationController \"r\" is invalid: spec.template.metadata.labels: "
                   "Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match "
                   "template `labels`");

    /* an update is validated too: a template that leaves its selector */
    json_t *d = created(deploys, "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"selector\":{"
                                 "\"matchLabels\":{\"app\":\"ok\"}},\"template\":{\"metadata\":{"
                                 "\"labels\":{\"app\":\"ok\"}},\"spec\":{\"containers\":[{"
                                 "\"name\":\"c\",\"image\":\"x\"}]}}}}");
    json_decref(d);
    tc_response r;
    patch("/apis/apps/v1/namespaces/default/deployments/ok", "application/merge-patch+json",
          "{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"app\":\"other\"}}}}}", &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "Deployment.apps \"ok\" is invalid: spec.template.metadata.labels: Invalid "
                     "value: map[string]string{\"app\":\"other\"}: `selector` does not match "
                     "template `labels`");
    tc_free(&r);
    /* a Job's generated selector matches its generated labels */
    json_decref(created("/apis/batch/v1/namespaces/default/jobs",
                        "{\"metadata\":{\"name\":\"fine\"},\"spec\":{\"template\":{\"spec\":{"
                        "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\","
                        "\"image\":\"x\"}]}}}}"));
}

/* A 422 for `body` POSTed to `path`: its message and how many causes. */
static void expect_causes(const char *path, const char *body, const char *message, size_t n)
{
    tc_response r;
    tc_json(U, "POST", path, body, &r);
    ck_assert_msg(r.status == 422, "POST %s: %ld %s", path, r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "message"), message);
    ck_assert_uint_eq(json_array_size(tc_dig(r.json, "details.causes")), n);
    tc_free(&r);
}

/* ValidatePodTemplateSpec checks every template's labels and annotations
 * as ValidateObjectMeta checks an object's, at <template>.labels and
 * <template>.annotations. A Job's template gets its name as a label
 * before validation: over 63 characters, the name is refused there, and
 * on metadata.labels too when the Job, without labels of its own, shares
 * its template's labels (SetDefaults_Job; a template without labels gets
 * a map of its own). */
START_TEST(pod_template_labels_are_checked_as_object_labels)
{
    static const char jobs[] = "/apis/batch/v1/namespaces/default/jobs";
    static const char long_name[] =
        "a-job-name-that-is-longer-than-sixty-three-characters-0123456789";
    ck_assert_uint_eq(strlen(long_name), 64);
    char body[1024], message[1024];
    static const char too_long[] = "Invalid value: \"%s\": must be no more than 63 characters";
    char why[256];
    snprintf(why, sizeof(why), too_long, long_name);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"template\":{\"metadata\":{"
             "\"labels\":{\"app\":\"x\"}},\"spec\":{\"restartPolicy\":\"Never\","
             "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
             long_name);
    snprintf(message, sizeof(message),
             "Job.batch \"%s\" is invalid: [metadata.labels: %s, spec.template.labels: %s]",
             long_name, why, why);
    expect_causes(jobs, body, message, 4);
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"template\":{\"spec\":{"
             "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":"
             "\"x\"}]}}}}",
             long_name);
    snprintf(message, sizeof(message), "Job.batch \"%s\" is invalid: spec.template.labels: %s",
             long_name, why);
    expect_causes(jobs, body, message, 2);
    /* a name of 63 characters is a label value: created, its labels and
     * its template's carrying it */
    json_t *job = created(jobs, "{\"metadata\":{\"name\":\"a-job-name-of-sixty-three-characters-"
                                "exactly-012345678901234567\"},\"spec\":{\"template\":{"
                                "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{"
                                "\"name\":\"c\",\"image\":\"x\"}]}}}}");
    ck_assert_uint_eq(strlen(meta(job, "name")), 63);
    ck_assert_str_eq(jstr(json_object_get(json_object_get(job, "metadata"), "labels"), "job-name"),
                     meta(job, "name"));
    json_decref(job);

    /* the other templates: after the selector, before the pod spec */
    expect_invalid("/apis/apps/v1/namespaces/default/deployments",
                   "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                   "\"app\":\"w\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\","
                   "\"tier\":\"-back\"},\"annotations\":{\"a b\":\"x\"}},\"spec\":{"
                   "\"containers\":[{\"name\":\"c\"}]}}}}",
                   "Deployment.apps \"d\" is invalid: [spec.template.labels: Invalid value: "
                   "\"-back\": a valid label must be an empty string or consist of alphanumeric "
                   "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                   "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                   "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'), "
                   "spec.template.annotations: Invalid value: \"a b\": name part must consist "
                   "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                   "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                   "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), "
                   "spec.template.spec.containers[0].image: Required value]");
    expect_invalid("/apis/apps/v1/namespaces/default/daemonsets",
                   "{\"metadata\":{\"name\":\"ds\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                   "\"app\":\"w\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\","
                   "\"x/y/z\":\"v\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
                   "\"x\"}]}}}}",
                   "DaemonSet.apps \"ds\" is invalid: spec.template.labels: Invalid value: "
                   "\"x/y/z\": a qualified name must consist of alphanumeric characters, '-', '_' "
                   "or '.', and must start and end with an alphanumeric character (e.g. "
                   "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                   "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                   "prefix and '/' (e.g. 'example.com/MyName')");
    expect_invalid("/api/v1/namespaces/default/podtemplates",
                   "{\"metadata\":{\"name\":\"pt\"},\"template\":{\"metadata\":{\"labels\":{"
                   "\"app\":\"w!\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
                   "\"x\"}]}}}",
                   "PodTemplate \"pt\" is invalid: template.labels: Invalid value: \"w!\": a "
                   "valid label must be an empty string or consist of alphanumeric characters, "
                   "'-', '_' or '.', and must start and end with an alphanumeric character "
                   "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    expect_invalid("/apis/batch/v1/namespaces/default/cronjobs",
                   "{\"metadata\":{\"name\":\"cj\"},\"spec\":{\"schedule\":\"* * * * *\","
                   "\"jobTemplate\":{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
                   "\"-a\":\"x\"}},\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{"
                   "\"name\":\"c\",\"image\":\"x\"}]}}}}}}",
                   "CronJob.batch \"cj\" is invalid: spec.jobTemplate.spec.template.annotations: "
                   "Invalid value: \"-a\": name part must consist of alphanumeric characters, "
                   "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                   "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                   "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    expect_invalid("/api/v1/namespaces/default/replicationcontrollers",
                   "{\"metadata\":{\"name\":\"r\",\"labels\":{\"app\":\"a\"}},\"spec\":{"
                   "\"selector\":{\"app\":\"a\"},\"template\":{\"metadata\":{\"labels\":{"
                   "\"app\":\"a\",\"v\":"
                   "\"0123456789012345678901234567890123456789012345678901234567890123\"}},"
                   "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
                   "ReplicationController \"r\" is invalid: spec.template.labels: Invalid value: "
                   "\"0123456789012345678901234567890123456789012345678901234567890123\": must "
                   "be no more than 63 characters");
}
END_TEST

/* Owner references on every kind, on create and update, as
 * ValidateOwnerReferences (1.32) checks them: every problem together,
 * each distinct message once. */
/* Port names as validateContainerPorts and validateServicePort check them:
 * a container port's name is a valid port name (IsValidPortName, each
 * problem a cause) and named once in its container; a Service port's
 * targetPort a port number or a valid port name (ValidatePortNumOrName);
 * a Service port's name a label, named once (an invalid one too). */
START_TEST(port_names_are_checked_as_the_apiserver_checks_them)
{
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/pods",
            "{\"metadata\":{\"name\":\"ports\"},\"spec\":{\"containers\":[{\"name\":\"c\","
            "\"image\":\"x\",\"ports\":[{\"name\":\"toolongportname1\",\"containerPort\":80},"
            "{\"name\":\"HTTP\",\"containerPort\":81},{\"name\":\"http\",\"containerPort\":82},"
            "{\"name\":\"http\",\"containerPort\":83},{\"name\":\"a--b-\",\"containerPort\":"
            "84}]},{\"name\":\"d\",\"image\":\"x\",\"ports\":[{\"name\":\"http\","
            "\"containerPort\":85}]}]}}",
            &r);
    assert_status(&r, 422, "Invalid",
                  "Pod \"ports\" is invalid: [spec.containers[0].ports[0].name: Invalid value: "
                  "\"toolongportname1\": must be no more than 15 characters, "
                  "spec.containers[0].ports[1].name: Invalid value: \"HTTP\": must contain only "
                  "alpha-numeric characters (a-z, 0-9), and hyphens (-), "
                  "spec.containers[0].ports[1].name: Invalid value: \"HTTP\": must contain at "
                  "least one letter (a-z), spec.containers[0].ports[3].name: Duplicate value: "
                  "\"http\", spec.containers[0].ports[4].name: Invalid value: \"a--b-\": must not "
                  "contain consecutive hyphens, spec.containers[0].ports[4].name: Invalid value: "
                  "\"a--b-\": must not begin or end with a hyphen]");
    tc_free(&r);
    /* a Deployment's template is checked the same way */
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/deployments",
            "{\"metadata\":{\"name\":\"ports\"},\"spec\":{\"selector\":{\"matchLabels\":{\"a\":"
            "\"b\"}},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{"
            "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"name\":\"8080\","
            "\"containerPort\":8080}]}]}}}}",
            &r);
    assert_status(&r, 422, "Invalid",
                  "Deployment.apps \"ports\" is invalid: "
                  "spec.template.spec.containers[0].ports[0].name: Invalid value: \"8080\": must "
                  "contain at least one letter (a-z)");
    tc_free(&r);
    tc_json(U, "POST", "/api/v1/namespaces/default/services",
            "{\"metadata\":{\"name\":\"ports\"},\"spec\":{\"ports\":[{\"name\":\"Bad\",\"port\":"
            "80,\"targetPort\":\"Web_Port\"},{\"name\":\"Bad\",\"port\":81,\"targetPort\":"
            "70000},{\"name\":\"c\",\"port\":82,\"targetPort\":\"web\"}]}}",
            &r);
    static const char label[] =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    char *want = kr_asprintf(
        "Service \"ports\" is invalid: [spec.ports[0].name: Invalid value: \"Bad\": %s, "
        "spec.ports[0].targetPort: Invalid value: \"Web_Port\": must contain only alpha-numeric "
        "characters (a-z, 0-9), and hyphens (-), spec.ports[1].name: Invalid value: \"Bad\": %s, "
        "spec.ports[1].name: Duplicate value: \"Bad\", spec.ports[1].targetPort: Invalid value: "
        "70000: must be between 1 and 65535, inclusive]",
        label, label);
    assert_status(&r, 422, "Invalid", want);
    kr_free(want);
    tc_free(&r);
    json_decref(created("/api/v1/namespaces/default/services",
                        "{\"metadata\":{\"name\":\"named\"},\"spec\":{\"ports\":[{\"port\":80,"
                        "\"targetPort\":\"web-1\"}]}}"));
}
END_TEST

/* A regular container's probes, as validateLivenessProbe,
 * validateReadinessProbe and validateStartupProbe check them after the
 * container's common checks: one handler (a second one forbidden at its
 * path, none required), its port (an absent one is the number 0), the
 * counts not negative once defaulted (an explicit 0 is defaulted as
 * Go's int32 defaults are), a liveness or startup successThreshold of 1,
 * no grace period of its own on a readiness probe. */
START_TEST(container_probes_are_validated_as_the_apiserver_does)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    expect_invalid(pods,
                   "{\"metadata\":{\"name\":\"pr\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                   "\"image\":\"x\",\"livenessProbe\":{\"exec\":{\"command\":[\"true\"]},"
                   "\"httpGet\":{\"port\":80},\"successThreshold\":2,\"initialDelaySeconds\":-1},"
                   "\"readinessProbe\":{\"terminationGracePeriodSeconds\":5,\"tcpSocket\":{}},"
                   "\"startupProbe\":{\"periodSeconds\":5}}]}}",
                   "Pod \"pr\" is invalid: [spec.containers[0].livenessProbe.httpGet: Forbidden: "
                   "may not specify more than 1 handler type, "
                   "spec.containers[0].livenessProbe.initialDelaySeconds: Invalid value: -1: must "
                   "be greater than or equal to 0, spec.containers[0].livenessProbe."
                   "successThreshold: Invalid value: 2: must be 1, spec.containers[0]."
                   "readinessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, "
                   "inclusive, spec.containers[0].readinessProbe.terminationGracePeriodSeconds: "
                   "Invalid value: 5: must not be set for readinessProbes, "
                   "spec.containers[0].startupProbe: Required value: must specify a handler "
                   "type]");
    expect_invalid(pods,
                   "{\"metadata\":{\"name\":\"pr\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                   "\"image\":\"x\",\"livenessProbe\":{\"httpGet\":{\"port\":\"Web_Port\","
                   "\"scheme\":\"FTP\",\"httpHeaders\":[{\"name\":\"X Bad\",\"value\":\"1\"}]}},"
                   "\"readinessProbe\":{\"grpc\":{\"port\":0}},\"startupProbe\":{\"exec\":{}}}]}}",
                   "Pod \"pr\" is invalid: [spec.containers[0].livenessProbe.httpGet.port: Invalid "
                   "value: \"Web_Port\": must contain only alpha-numeric characters (a-z, 0-9), "
                   "and hyphens (-), spec.containers[0].livenessProbe.httpGet.scheme: "
                   "Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\", "
                   "spec.containers[0].livenessProbe.httpGet.httpHeaders: Invalid value: \"X "
                   "Bad\": a valid HTTP header must consist of alphanumeric characters or '-' "
                   "(e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+'), "
                   "spec.containers[0].readinessProbe.grpc.port: Invalid value: 0: must be "
                   "between 1 and 65535, inclusive, spec.containers[0].startupProbe.exec.command: "
                   "Required value]");
    /* in a Deployment's template too */
    expect_invalid("/apis/apps/v1/namespaces/default/deployments",
                   "{\"metadata\":{\"name\":\"pr\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                   "\"a\":\"b\"}},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{"
                   "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"livenessProbe\":{}}]}}}}",
                   "Deployment.apps \"pr\" is invalid: spec.template.spec.containers[0]."
                   "livenessProbe: Required value: must specify a handler type");
    /* an explicit 0 is defaulted: successThreshold 1, periodSeconds 10 */
    json_t *pod = created(pods, "{\"metadata\":{\"name\":\"pr\"},\"spec\":{\"containers\":[{"
                                "\"name\":\"c\",\"image\":\"x\",\"livenessProbe\":{\"httpGet\":{"
                                "\"port\":\"http\"},\"successThreshold\":0,\"periodSeconds\":0},"
                                "\"readinessProbe\":{\"exec\":{\"command\":[\"x\"]}},"
                                "\"startupProbe\":{\"tcpSocket\":{\"port\":80}}}]}}");
    ck_assert_int_eq(dig_int(pod, "spec.containers.0.livenessProbe.successThreshold"), 1);
    ck_assert_int_eq(dig_int(pod, "spec.containers.0.livenessProbe.periodSeconds"), 10);
    json_decref(pod);
}
END_TEST

/* A variable's valueFrom as validateEnvVarValueFrom checks it: one
 * source, none with a value, a key selector's name (a subdomain, an absent
 * one too) and key (required, a config key). */
START_TEST(env_value_sources_are_validated_as_the_apiserver_does)
{
    static const char subdomain[] =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
        "regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    char *want = kr_asprintf(
        "Pod \"env\" is invalid: [spec.containers[0].env[0].valueFrom: Invalid value: \"\": may "
        "not be specified when `value` is not empty, spec.containers[0].env[1].valueFrom: "
        "Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, "
        "`configMapKeyRef` or `secretKeyRef`, "
        "spec.containers[0].env[2].valueFrom.configMapKeyRef.name: Invalid value: \"\": %s, "
        "spec.containers[0].env[2].valueFrom.configMapKeyRef.key: Required value, "
        "spec.containers[0].env[3].valueFrom.secretKeyRef.key: Invalid value: \"a b\": a valid "
        "config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
        "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+'), "
        "spec.containers[0].env[3].valueFrom: Invalid value: \"\": may not have more than one "
        "field specified at a time]",
        subdomain);
    expect_invalid("/api/v1/namespaces/default/pods",
                   "{\"metadata\":{\"name\":\"env\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                   "\"image\":\"x\",\"env\":[{\"name\":\"X\",\"value\":\"1\",\"valueFrom\":{"
                   "\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},{\"name\":\"Y\","
                   "\"valueFrom\":{}},{\"name\":\"Z\",\"valueFrom\":{\"configMapKeyRef\":{"
                   "\"key\":\"\"}}},{\"name\":\"W\",\"valueFrom\":{\"secretKeyRef\":{\"name\":"
                   "\"s\",\"key\":\"a b\"},\"configMapKeyRef\":{\"name\":\"c\",\"key\":"
                   "\"k\"}}}]}]}}",
                   want);
    kr_free(want);
    json_decref(created("/api/v1/namespaces/default/pods",
                        "{\"metadata\":{\"name\":\"env\"},\"spec\":{\"containers\":[{\"name\":"
                        "\"c\",\"image\":\"x\",\"env\":[{\"name\":\"X\",\"valueFrom\":{"
                        "\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},{\"name\":\"Y\","
                        "\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}]}]}}"));
}
END_TEST

/* A regular container's lifecycle hooks, as validateLifecycle checks them
 * before its probes: each hook one handler of exec, httpGet, tcpSocket,
 * sleep (a second one forbidden at its path, none required), checked as a
 * probe's handler is. */
START_TEST(container_lifecycle_hooks_are_validated_as_the_apiserver_does)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    expect_invalid(pods,
                   "{\"metadata\":{\"name\":\"hooks\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                   "\"image\":\"x\",\"lifecycle\":{\"postStart\":{},\"preStop\":{\"sleep\":{"
                   "\"seconds\":1},\"exec\":{\"command\":[]},\"tcpSocket\":{\"port\":\"Bad_1\"}}},"
                   "\"livenessProbe\":{}}]}}",
                   "Pod \"hooks\" is invalid: [spec.containers[0].lifecycle.postStart: Required "
                   "value: must specify a handler type, spec.containers[0].lifecycle.preStop.exec."
                   "command: Required value, spec.containers[0].lifecycle.preStop.tcpSocket: "
                   "Forbidden: may not specify more than 1 handler type, "
                   "spec.containers[0].lifecycle.preStop.sleep: Forbidden: may not specify more "
                   "than 1 handler type, spec.containers[0].livenessProbe: Required value: must "
                   "specify a handler type]");
    json_decref(created(pods, "{\"metadata\":{\"name\":\"hooks\"},\"spec\":{\"containers\":[{"
                              "\"name\":\"c\",\"image\":\"x\",\"lifecycle\":{\"preStop\":{"
                              "\"sleep\":{\"seconds\":1}},\"postStart\":{\"httpGet\":{\"port\":"
                              "80}}}}]}}"));
}
END_TEST

/* Only a sidecar (an init container with restartPolicy Always) may have
 * lifecycle hooks and probes, validated as a regular container's; a plain
 * init container has them forbidden, each at its path; a regular
 * container may have no restartPolicy, an init container only Always
 * (validateContainers, then validateInitContainers). */
START_TEST(init_containers_have_probes_and_hooks_only_as_sidecars)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    expect_invalid(pods,
                   "{\"metadata\":{\"name\":\"init\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                   "\"image\":\"x\",\"restartPolicy\":\"Always\"}],\"initContainers\":[{"
                   "\"name\":\"i\",\"image\":\"x\",\"restartPolicy\":\"OnFailure\","
                   "\"lifecycle\":{\"preStop\":{\"sleep\":{\"seconds\":1}}},\"livenessProbe\":{"
                   "\"exec\":{\"command\":[\"a\"]}},\"startupProbe\":null},{\"name\":\"j\","
                   "\"image\":\"x\",\"readinessProbe\":{}}]}}",
                   "Pod \"init\" is invalid: [spec.containers[0].restartPolicy: Forbidden: may not "
                   "be set for non-init containers, spec.initContainers[0].restartPolicy: "
                   "Unsupported value: \"OnFailure\": supported values: \"Always\", "
                   "spec.initContainers[0].lifecycle: Forbidden: may not be set for init "
                   "containers without restartPolicy=Always, spec.initContainers[0].livenessProbe: "
                   "Forbidden: may not be set for init containers without restartPolicy=Always, "
                   "spec.initContainers[1].readinessProbe: Forbidden: may not be set for init "
                   "containers without restartPolicy=Always]");
    /* a sidecar's probes are checked as a regular container's */
    expect_invalid(pods,
                   "{\"metadata\":{\"name\":\"side\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                   "\"image\":\"x\"}],\"initContainers\":[{\"name\":\"i\",\"image\":\"x\","
                   "\"restartPolicy\":\"Always\",\"livenessProbe\":{\"exec\":{\"command\":["
                   "\"a\"]},\"successThreshold\":2},\"readinessProbe\":{}}]}}",
                   "Pod \"side\" is invalid: [spec.initContainers[0].livenessProbe."
                   "successThreshold: Invalid value: 2: must be 1, spec.initContainers[0]."
                   "readinessProbe: Required value: must specify a handler type]");
    json_t *pod = created(pods, "{\"metadata\":{\"name\":\"side\"},\"spec\":{\"containers\":[{"
                                "\"name\":\"c\",\"image\":\"x\"}],\"initContainers\":[{\"name\":"
                                "\"i\",\"image\":\"x\",\"restartPolicy\":\"Always\",\"lifecycle\":{"
                                "\"preStop\":{\"sleep\":{\"seconds\":1}}},\"startupProbe\":{"
                                "\"exec\":{\"command\":[\"a\"]}}}]}}");
    const json_t *init =
        json_array_get(json_object_get(json_object_get(pod, "spec"), "initContainers"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(init, "restartPolicy")), "Always");
    ck_assert_ptr_nonnull(json_object_get(init, "startupProbe"));
    json_decref(pod);
}
END_TEST

/* A 400's message, for `body` POSTed to `path`. */
static void expect_bad_request(const char *path, const char *body, const char *message)
{
    expect_refused(path, body, 400, message);
}

/* A built-in endpoint decodes the body as the kind and version it names
 * (the endpoint's where it names none): one the scheme does not register
 * (a manifest's `kind: pod`, which kubectl sends as it is) or one that
 * does not convert to the endpoint's type is the decoder's 400; another
 * version of the same type the handler's. */
START_TEST(bodies_of_another_kind_are_refused_as_the_decoder_refuses_them)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    static const char deploys[] = "/apis/apps/v1/namespaces/default/deployments";
    static const char cms[] = "/api/v1/namespaces/default/configmaps";
    static const char scheme[] = "in scheme \"pkg/api/legacyscheme/scheme.go:30\"";
    char want[512];
    snprintf(want, sizeof(want),
             "pod in version \"v1\" cannot be handled as a Pod: no kind \"pod\" is registered "
             "for version \"v1\" %s",
             scheme);
    expect_bad_request(
        pods, "{\"apiVersion\":\"v1\",\"kind\":\"pod\",\"metadata\":{\"name\":\"p\"}}", want);
    snprintf(want, sizeof(want),
             "deployment in version \"v1\" cannot be handled as a Deployment: no kind "
             "\"deployment\" is registered for version \"apps/v1\" %s",
             scheme);
    expect_bad_request(
        deploys,
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"deployment\",\"metadata\":{\"name\":\"d\"}}", want);
    snprintf(want, sizeof(want),
             "ConfigMap in version \"v2\" cannot be handled as a ConfigMap: no kind \"ConfigMap\" "
             "is registered for version \"v2\" %s",
             scheme);
    expect_bad_request(
        cms, "{\"apiVersion\":\"v2\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}", want);
    /* no kind: the endpoint's, in the body's version */
    snprintf(want, sizeof(want),
             "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: no kind \"ConfigMap\" "
             "is registered for version \"apps/v1\" %s",
             scheme);
    expect_bad_request(cms, "{\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"c\"}}", want);
    expect_bad_request(
        pods, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"p\"}}",
        "ConfigMap in version \"v1\" cannot be handled as a Pod: converting "
        "(v1.ConfigMap) to (core.Pod): unknown conversion");
    expect_bad_request(deploys,
                       "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{"
                       "\"name\":\"d\"}}",
                       "StatefulSet in version \"v1\" cannot be handled as a Deployment: "
                       "converting (v1.StatefulSet) to (apps.Deployment): unknown conversion");
    /* another version of the same type converts: the handler refuses it */
    expect_bad_request(deploys,
                       "{\"apiVersion\":\"extensions/v1beta1\",\"kind\":\"Deployment\","
                       "\"metadata\":{\"name\":\"d\"}}",
                       "the API version in the data (extensions/v1beta1) does not match the "
                       "expected API version (apps/v1)");
    expect_bad_request("/api/v1/namespaces/default/events",
                       "{\"apiVersion\":\"events.k8s.io/v1\",\"kind\":\"Event\",\"metadata\":{"
                       "\"name\":\"e\"}}",
                       "the API version in the data (events.k8s.io/v1) does not match the "
                       "expected API version (v1)");
    /* what the body leaves out is the endpoint's */
    json_decref(created(cms, "{\"metadata\":{\"name\":\"bare\"}}"));
    json_decref(created(cms, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"kind\"}}"));
    json_decref(created(cms, "{\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"version\"}}"));
}
END_TEST

START_TEST(owner_references_are_validated)
{
    static const char cms[] = "/api/v1/namespaces/default/configmaps";
    expect_invalid(cms,
                   "{\"metadata\":{\"name\":\"o\",\"ownerReferences\":[{\"apiVersion\":\"v1\","
                   "\"kind\":\"ConfigMap\",\"name\":\"a\",\"uid\":\"1\",\"controller\":true},{"
                   "\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"b\",\"uid\":\"2\","
                   "\"controller\":true}]}}",
                   "ConfigMap \"o\" is invalid: metadata.ownerReferences: Invalid value: "
                   "[]v1.OwnerReference{v1.OwnerReference{APIVersion:\"v1\", Kind:\"ConfigMap\", "
                   "Name:\"a\", UID:\"1\", Controller:(*bool)(0xc000010000), "
                   "BlockOwnerDeletion:(*bool)(nil)}, v1.OwnerReference{APIVersion:\"v1\", "
                   "Kind:\"ConfigMap\", Name:\"b\", UID:\"2\", Controller:(*bool)(0xc000010000), "
                   "BlockOwnerDeletion:(*bool)(nil)}}: Only one reference can have Controller set "
                   "to true. Found \"true\" in references for ConfigMap/a and ConfigMap/b");
    expect_invalid(cms,
                   "{\"metadata\":{\"name\":\"o\",\"ownerReferences\":[{\"apiVersion\":\"\","
                   "\"kind\":\"\",\"name\":\"\"},{\"apiVersion\":\"a/b/c\",\"kind\":\"K\","
                   "\"name\":\"n\"}]}}",
                   "ConfigMap \"o\" is invalid: [metadata.ownerReferences.apiVersion: Invalid "
                   "value: \"\": version must not be empty, metadata.ownerReferences.kind: Invalid "
                   "value: \"\": kind must not be empty, metadata.ownerReferences.name: Invalid "
                   "value: \"\": name must not be empty, metadata.ownerReferences.uid: Invalid "
                   "value: \"\": uid must not be empty, metadata.ownerReferences.apiVersion: "
                   "Invalid value: \"a/b/c\": version must not be empty]");
    expect_invalid("/api/v1/namespaces",
                   "{\"metadata\":{\"name\":\"o\",\"ownerReferences\":[{\"apiVersion\":\"v1\","
                   "\"kind\":\"Event\",\"name\":\"e\",\"uid\":\"1\",\"blockOwnerDeletion\":"
                   "false}]}}",
                   "Namespace \"o\" is invalid: metadata.ownerReferences: Invalid value: "
                   "v1.OwnerReference{APIVersion:\"v1\", Kind:\"Event\", Name:\"e\", UID:\"1\", "
                   "Controller:(*bool)(nil), BlockOwnerDeletion:(*bool)(0xc000010000)}: /v1, "
                   "Kind=Event is disallowed from being an owner");
    /* one controller among others is fine; an update is checked too */
    json_decref(created(cms,
                        "{\"metadata\":{\"name\":\"o\",\"ownerReferences\":[{"
                        "\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"d\","
                        "\"uid\":\"1\",\"controller\":true},{\"apiVersion\":\"v1\",\"kind\":"
                        "\"ConfigMap\",\"name\":\"c\",\"uid\":\"2\",\"controller\":false}]}}"));
    tc_response r;
    patch("/api/v1/namespaces/default/configmaps/o", "application/merge-patch+json",
          "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
          "\"name\":\"c\"}]}}",
          &r);
    assert_status(&r, 422, "Invalid",
                  "ConfigMap \"o\" is invalid: metadata.ownerReferences.uid: Invalid value: \"\": "
                  "uid must not be empty");
    tc_free(&r);
}
END_TEST

/* PATCH `path` with a merge patch and expect 422 with `message`. */
static void expect_update_invalid(const char *path, const char *merge, const char *message)
{
    tc_response r;
    patch(path, "application/merge-patch+json", merge, &r);
    ck_assert_msg(r.status == 422, "%s: %ld %s", path, r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "message"), message);
    tc_free(&r);
}

static void expect_update_ok(const char *path, const char *merge)
{
    tc_response r;
    patch(path, "application/merge-patch+json", merge, &r);
    ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
    tc_free(&r);
}

/* The update rules of kube-apiserver's validation for pods, role
 * bindings, StatefulSets, Jobs, PriorityClasses and EndpointSlices. */
START_TEST(updates_keep_what_kube_apiserver_keeps)
{
    json_decref(created("/api/v1/namespaces/default/pods",
                        "{\"metadata\":{\"name\":\"up\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                        "\"image\":\"x\"}],\"tolerations\":[{\"key\":\"a\",\"operator\":"
                        "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":30}]}}"));
    static const char pod[] = "/api/v1/namespaces/default/pods/up";
    expect_update_ok(pod, "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"y\"}]}}");
    expect_update_ok(pod, "{\"spec\":{\"activeDeadlineSeconds\":30},\"metadata\":{\"labels\":{"
                          "\"x\":\"1\"}}}");
    tc_response r;
    patch(pod, "application/json-patch+json",
          "[{\"op\":\"add\",\"path\":\"/spec/tolerations/-\",\"value\":{\"key\":\"b\","
          "\"operator\":\"Exists\"}}]",
          &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body); /* an addition */
    tc_free(&r);
    const char *pod_forbidden =
        "Pod \"up\" is invalid: spec: Forbidden: pod updates may not change fields other than "
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)";
    expect_update_invalid(pod, "{\"spec\":{\"restartPolicy\":\"Never\"}}", pod_forbidden);
    expect_update_invalid(pod, "{\"spec\":{\"nodeName\":\"n1\"}}", pod_forbidden);
    expect_update_invalid(pod, "{\"spec\":{\"terminationGracePeriodSeconds\":5}}", pod_forbidden);
    expect_update_invalid(pod, "{\"spec\":{\"tolerations\":[]}}",
                          "Pod \"up\" is invalid: spec.tolerations: Forbidden: existing toleration "
                          "can not be modified except its tolerationSeconds");
    expect_update_invalid(pod, "{\"spec\":{\"activeDeadlineSeconds\":60}}",
                          "Pod \"up\" is invalid: spec.activeDeadlineSeconds: Invalid value: 60: "
                          "must be less than or equal to previous value");
    expect_update_invalid(pod, "{\"spec\":{\"activeDeadlineSeconds\":null}}",
                          "Pod \"up\" is invalid: spec.activeDeadlineSeconds: Invalid value: null: "
                          "must not update from a positive integer to nil value");
    /* a PUT that leaves out what admission set keeps it (Priority) */
    tc_json(U, "GET", pod, NULL, &r);
    json_t *whole = json_incref(r.json);
    tc_free(&r);
    json_t *wspec = json_object_get(whole, "spec");
    json_object_del(wspec, "priority");
    json_object_del(wspec, "preemptionPolicy");
    /* and a toleration's tolerationSeconds may change */
    json_object_set_new(json_array_get(json_object_get(wspec, "tolerations"), 0),
                        "tolerationSeconds", json_integer(60));
    char *text = json_dumps(whole, JSON_COMPACT);
    tc_json(U, "PUT", pod, text, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_int_eq(dig_int(r.json, "spec.priority"), 0);
    tc_free(&r);
    free(text);
    json_decref(whole);
    /* a gated pod may gain node selector entries and lose gates */
    json_decref(created("/api/v1/namespaces/default/pods",
                        "{\"metadata\":{\"name\":\"gated\"},\"spec\":{\"schedulingGates\":[{"
                        "\"name\":\"g\"}],\"nodeSelector\":{\"a\":\"1\"},\"containers\":[{"
                        "\"name\":\"c\",\"image\":\"x\"}]}}"));
    static const char gated[] = "/api/v1/namespaces/default/pods/gated";
    expect_update_ok(gated, "{\"spec\":{\"nodeSelector\":{\"b\":\"2\"}}}");
    expect_update_invalid(gated, "{\"spec\":{\"nodeSelector\":{\"a\":null}}}",
                          "Pod \"gated\" is invalid: spec.nodeSelector: Forbidden: only additions "
                          "to spec.nodeSelector are allowed (no mutations or deletions)");
    expect_update_invalid(gated, "{\"spec\":{\"schedulingGates\":[{\"name\":\"h\"}]}}",
                          "Pod \"gated\" is invalid: spec.schedulingGates: Forbidden: only "
                          "deletion is allowed, but found new scheduling gate 'h'");
    expect_update_ok(gated, "{\"spec\":{\"schedulingGates\":null}}");
    /* no longer gated: the node selector is fixed */
    tc_request(U, "PATCH", gated, "application/merge-patch+json",
               "{\"spec\":{\"nodeSelector\":{\"c\":\"3\"}}}", NULL, &r);
    ck_assert_int_eq(r.status, 422);
    const char *why = pod_forbidden + strlen("Pod \"up\" is invalid: ");
    ck_assert_msg(strncmp(jstr(r.json, "message"), "Pod \"gated\" is invalid: ", 24) == 0 &&
                      strcmp(jstr(r.json, "message") + 24, why) == 0,
                  "%s", r.body);
    tc_free(&r);

    json_decref(created("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
                        "{\"metadata\":{\"name\":\"rb\"},\"roleRef\":{\"apiGroup\":"
                        "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":"
                        "\"view\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"u\"}]}"));
    expect_update_invalid(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/rb",
        "{\"roleRef\":{\"name\":\"edit\"}}",
        "RoleBinding.rbac.authorization.k8s.io \"rb\" is invalid: roleRef: Invalid value: "
        "rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", "
        "Name:\"edit\"}: cannot change roleRef");

    json_decref(created("/apis/apps/v1/namespaces/default/statefulsets",
                        "{\"metadata\":{\"name\":\"ss\"},\"spec\":{\"serviceName\":\"s\","
                        "\"selector\":{\"matchLabels\":{\"app\":\"ss\"}},\"template\":{"
                        "\"metadata\":{\"labels\":{\"app\":\"ss\"}},\"spec\":{\"containers\":[{"
                        "\"name\":\"c\",\"image\":\"x\"}]}}}}"));
    static const char ss[] = "/apis/apps/v1/namespaces/default/statefulsets/ss";
    expect_update_ok(ss, "{\"spec\":{\"replicas\":3,\"minReadySeconds\":5}}");
    expect_update_invalid(
        ss, "{\"spec\":{\"serviceName\":\"other\"}}",
        "StatefulSet.apps \"ss\" is invalid: spec: Forbidden: updates to statefulset spec for "
        "fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden");

    json_decref(created("/apis/batch/v1/namespaces/default/jobs",
                        "{\"metadata\":{\"name\":\"jc\"},\"spec\":{\"completions\":2,"
                        "\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{"
                        "\"name\":\"c\",\"image\":\"x\"}]}}}}"));
    expect_update_invalid("/apis/batch/v1/namespaces/default/jobs/jc",
                          "{\"spec\":{\"completions\":3}}",
                          "Job.batch \"jc\" is invalid: spec.completions: Invalid value: 3: field "
                          "is immutable");
    json_decref(created("/apis/batch/v1/namespaces/default/jobs",
                        "{\"metadata\":{\"name\":\"ji\"},\"spec\":{\"completions\":2,"
                        "\"parallelism\":2,\"completionMode\":\"Indexed\",\"template\":{\"spec\":{"
                        "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\","
                        "\"image\":\"x\"}]}}}}"));
    expect_update_invalid("/apis/batch/v1/namespaces/default/jobs/ji",
                          "{\"spec\":{\"completions\":3}}",
                          "Job.batch \"ji\" is invalid: spec.completions: Invalid value: 3: can "
                          "only be modified in tandem with spec.parallelism");
    expect_update_ok("/apis/batch/v1/namespaces/default/jobs/ji",
                     "{\"spec\":{\"completions\":3,\"parallelism\":3}}");

    json_decref(created("/apis/scheduling.k8s.io/v1/priorityclasses",
                        "{\"metadata\":{\"name\":\"pc\"},\"value\":100}"));
    expect_update_invalid("/apis/scheduling.k8s.io/v1/priorityclasses/pc", "{\"value\":200}",
                          "PriorityClass.scheduling.k8s.io \"pc\" is invalid: value: Forbidden: "
                          "may not be changed in an update.");
    expect_update_ok("/apis/scheduling.k8s.io/v1/priorityclasses/pc", "{\"description\":\"d\"}");
    expect_update_invalid("/apis/scheduling.k8s.io/v1/priorityclasses/pc",
                          "{\"value\":300,\"preemptionPolicy\":\"Never\"}",
                          "PriorityClass.scheduling.k8s.io \"pc\" is invalid: [value: Forbidden: "
                          "may not be changed in an update., preemptionPolicy: Invalid value: "
                          "\"Never\": field is immutable]");

    json_decref(created("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                        "{\"metadata\":{\"name\":\"es\"},\"addressType\":\"IPv4\","
                        "\"endpoints\":[]}"));
    expect_update_invalid("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/es",
                          "{\"addressType\":\"IPv6\"}",
                          "EndpointSlice.discovery.k8s.io \"es\" is invalid: addressType: Invalid "
                          "value: \"IPv6\": field is immutable");
}
END_TEST

/* Built-in kinds are stored as their Go types write them: an empty map or
 * slice of an omitempty field is left out, so a patch that only empties
 * one changes nothing. */
START_TEST(empty_omitempty_maps_are_left_out)
{
    json_t *cm = created("/api/v1/namespaces/default/configmaps",
                         "{\"metadata\":{\"name\":\"omit\",\"labels\":{\"a\":\"b\"},"
                         "\"finalizers\":[]},\"data\":{}}");
    ck_assert_ptr_null(json_object_get(cm, "data"));
    ck_assert_ptr_null(tc_dig(cm, "metadata.finalizers"));
    json_decref(cm);
    tc_response r;
    patch("/api/v1/namespaces/default/configmaps/omit", "application/merge-patch+json",
          "{\"metadata\":{\"labels\":{\"a\":null}}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(tc_dig(r.json, "metadata.labels"));
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", dig_str(r.json, "metadata.resourceVersion"));
    tc_free(&r);
    patch("/api/v1/namespaces/default/configmaps/omit", "application/merge-patch+json",
          "{\"data\":{}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(dig_str(r.json, "metadata.resourceVersion"), rv); /* no change */
    tc_free(&r);
}
END_TEST

/* A JSON string of n bytes of c; base64 text when b64 (n a multiple of 3). */
static char *filler(size_t n, char c, bool b64)
{
    size_t len = b64 ? n / 3 * 4 : n;
    char *s = malloc(len + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, b64 ? 'A' : c, len);
    s[len] = '\0';
    return s;
}

/* ConfigMaps and Secrets hold at most 1 MiB of values (kube-apiserver's
 * ValidateConfigMap and ValidateSecret: the values' bytes, keys not
 * counted; a ConfigMap's error is the whole object's, at field "[]"). */
START_TEST(configmaps_and_secrets_hold_at_most_a_mebibyte)
{
    static const char cms[] = "/api/v1/namespaces/default/configmaps";
    static const char secrets[] = "/api/v1/namespaces/default/secrets";
    char *mib = filler(1048576, 'x', false), *half = filler(600000, 'y', false),
         *half64 = filler(600000, 0, true), *mib64 = filler(1048575, 0, true);
    /* exactly 1 MiB of values is fine, however long the key */
    char *body = kr_asprintf("{\"metadata\":{\"name\":\"full\"},\"data\":{\"a-long-key-name\":"
                             "\"%s\"}}",
                             mib);
    json_decref(created(cms, body));
    kr_free(body);
    /* data and binaryData (decoded) together */
    body = kr_asprintf("{\"metadata\":{\"name\":\"big\"},\"data\":{\"a\":\"%s\"},"
                       "\"binaryData\":{\"b\":\"%s\"}}",
                       half, half64);
    tc_response r;
    tc_json(U, "POST", cms, body, &r);
    kr_free(body);
    ck_assert_msg(r.status == 422, "%ld %.300s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "ConfigMap \"big\" is invalid: []: Too long: may not be more than 1048576 "
                     "bytes");
    json_t *cause =
        json_array_get(json_object_get(json_object_get(r.json, "details"), "causes"), 0);
    ck_assert_str_eq(jstr(cause, "reason"), "FieldValueTooLong");
    ck_assert_str_eq(jstr(cause, "field"), "[]");
    tc_free(&r);
    /* an update too */
    patch("/api/v1/namespaces/default/configmaps/full", "application/merge-patch+json",
          "{\"binaryData\":{\"b\":\"AAAA\"}}", &r);
    ck_assert_msg(r.status == 422, "%ld %.300s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "ConfigMap \"full\" is invalid: []: Too long: may not be more than 1048576 "
                     "bytes");
    tc_free(&r);
    /* a Secret's data counts decoded: 1048575 bytes fit, 1048578 do not */
    body = kr_asprintf("{\"metadata\":{\"name\":\"s\"},\"data\":{\"k\":\"%s\"}}", mib64);
    json_decref(created(secrets, body));
    kr_free(body);
    patch("/api/v1/namespaces/default/secrets/s", "application/merge-patch+json",
          "{\"data\":{\"more\":\"AAAA\"}}", &r);
    ck_assert_msg(r.status == 422, "%ld %.300s", r.status, r.body);
    ck_assert_str_eq(jstr(r.json, "message"),
                     "Secret \"s\" is invalid: data: Too long: may not be more than 1048576 "
                     "bytes");
    tc_free(&r);
    /* stringData counts once merged into data */
    body = kr_asprintf("{\"metadata\":{\"name\":\"t\"},\"data\":{\"k\":\"%s\"},"
                       "\"stringData\":{\"x\":\"xy\"}}",
                       mib64);
    tc_json(U, "POST", secrets, body, &r);
    kr_free(body);
    ck_assert_msg(r.status == 422, "%ld %.300s", r.status, r.body);
    cause = json_array_get(json_object_get(json_object_get(r.json, "details"), "causes"), 0);
    ck_assert_str_eq(jstr(cause, "field"), "data");
    ck_assert_str_eq(jstr(cause, "reason"), "FieldValueTooLong");
    tc_free(&r);
    free(mib);
    free(half);
    free(half64);
    free(mib64);
}
END_TEST

/* Names, label keys and values are checked with apimachinery's
 * IsDNS1123Label, IsDNS1123Subdomain, IsDNS1035Label, IsQualifiedName and
 * IsValidLabelValue: a length over the limit is said as such, each
 * problem its own cause. */
/* ValidateObjectMeta's errors head each kind's list: kube-apiserver
 * reports the metadata's problems with the spec's in one 422, on a create
 * and an update, and before storage finds the name taken. */
START_TEST(metadata_problems_are_listed_with_the_specs)
{
    static const char bad_key[] =
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
        "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
        "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    static const char qualified[] =
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
    static const char deploys[] = "/apis/apps/v1/namespaces/default/deployments";
    char *want = kr_asprintf("Deployment.apps \"d\" is invalid: [metadata.labels: Invalid value: "
                             "\"bad key\": %s, spec.replicas: Invalid value: -1: must be greater "
                             "than or equal to 0]",
                             bad_key);
    expect_causes(deploys,
                  "{\"metadata\":{\"name\":\"d\",\"labels\":{\"bad key\":\"x\"}},\"spec\":{"
                  "\"replicas\":-1,\"selector\":{\"matchLabels\":{\"app\":\"w\"}},\"template\":{"
                  "\"metadata\":{\"labels\":{\"app\":\"w\"}},\"spec\":{\"containers\":[{\"name\":"
                  "\"c\",\"image\":\"x\"}]}}}}",
                  want, 2);
    kr_free(want);
    /* an RC without labels gets its template's: refused on both */
    want = kr_asprintf("ReplicationController \"r\" is invalid: [metadata.labels: Invalid value: "
                       "\"x/y/z\": %s, spec.template.labels: Invalid value: \"x/y/z\": %s]",
                       qualified, qualified);
    expect_causes("/api/v1/namespaces/default/replicationcontrollers",
                  "{\"metadata\":{\"name\":\"r\"},\"spec\":{\"template\":{\"metadata\":{"
                  "\"labels\":{\"app\":\"a\",\"x/y/z\":\"b\"}},\"spec\":{\"containers\":[{"
                  "\"name\":\"c\",\"image\":\"x\"}]}}}}",
                  want, 2);
    kr_free(want);
    /* the name's problems first, then the labels', then the pod's */
    expect_causes("/api/v1/namespaces/default/pods",
                  "{\"metadata\":{\"name\":\"P\",\"labels\":{\"a\":\"-\"}},\"spec\":{"
                  "\"containers\":[{\"name\":\"c\"}]}}",
                  "Pod \"P\" is invalid: [metadata.name: Invalid value: \"P\": a lowercase RFC "
                  "1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', "
                  "regex used for validation is "
                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), "
                  "metadata.labels: Invalid value: \"-\": a valid label must be an empty string or "
                  "consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                  "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                  "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'), "
                  "spec.containers[0].image: Required value]",
                  3);
    /* validation comes before storage: a taken name does not hide them */
    json_decref(created("/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":"
                                                                 "\"cm\"}}"));
    want = kr_asprintf("ConfigMap \"cm\" is invalid: [metadata.finalizers: Invalid value: "
                       "\"a/b/c\": %s, data[a b]: Invalid value: \"a b\": a valid config key "
                       "must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
                       "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
                       "'[-._a-zA-Z0-9]+')]",
                       qualified);
    expect_causes("/api/v1/namespaces/default/configmaps",
                  "{\"metadata\":{\"name\":\"cm\",\"finalizers\":[\"a/b/c\"]},\"data\":{\"a b\":"
                  "\"x\"}}",
                  want, 2);
    kr_free(want);
    /* an update: ValidateObjectMetaUpdate's, then the spec's */
    json_decref(created(deploys, "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"selector\":{"
                                 "\"matchLabels\":{\"app\":\"w\"}},\"template\":{\"metadata\":{"
                                 "\"labels\":{\"app\":\"w\"}},\"spec\":{\"containers\":[{"
                                 "\"name\":\"c\",\"image\":\"x\"}]}}}}"));
    tc_response r;
    tc_json(U, "PUT", "/apis/apps/v1/namespaces/default/deployments/ok",
            "{\"metadata\":{\"name\":\"ok\",\"annotations\":{\"-a\":\"x\"}},\"spec\":{"
            "\"replicas\":-2,\"selector\":{\"matchLabels\":{\"app\":\"w\"}},\"template\":{"
            "\"metadata\":{\"labels\":{\"app\":\"w\"}},\"spec\":{\"containers\":[{\"name\":"
            "\"c\",\"image\":\"x\"}]}}}}",
            &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    want = kr_asprintf("Deployment.apps \"ok\" is invalid: [metadata.annotations: Invalid value: "
                       "\"-a\": %s, spec.replicas: Invalid value: -2: must be greater than or "
                       "equal to 0]",
                       bad_key);
    ck_assert_str_eq(jstr(r.json, "message"), want);
    kr_free(want);
    tc_free(&r);
}
END_TEST

START_TEST(names_and_labels_are_checked_in_the_apiserver_words)
{
    static const char subdomain_re[] =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
        "regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    char *n64 = filler(64, 'a', false), *n254 = filler(254, 'a', false);
    /* a namespace is a DNS-1123 label; its name, copied to its
     * kubernetes.io/metadata.name label by defaulting, is refused there
     * too, in the same list */
    char *body = kr_asprintf("{\"metadata\":{\"name\":\"%s\"}}", n64);
    char *want = kr_asprintf("Namespace \"%s\" is invalid: [metadata.name: Invalid value: \"%s\": "
                             "must be no more than 63 characters, metadata.labels: Invalid value: "
                             "\"%s\": must be no more than 63 characters]",
                             n64, n64, n64);
    expect_invalid("/api/v1/namespaces", body, want);
    kr_free(body);
    kr_free(want);
    expect_invalid("/api/v1/namespaces", "{\"metadata\":{\"name\":\"a.b\"}}",
                   "Namespace \"a.b\" is invalid: metadata.name: Invalid value: \"a.b\": must not "
                   "contain dots");
    /* a ConfigMap a DNS-1123 subdomain: 64 characters without a dot are fine */
    body = kr_asprintf("{\"metadata\":{\"name\":\"%s\"}}", n64);
    json_decref(created("/api/v1/namespaces/default/configmaps", body));
    kr_free(body);
    body = kr_asprintf("{\"metadata\":{\"name\":\"%s\"}}", n254);
    want = kr_asprintf("ConfigMap \"%s\" is invalid: metadata.name: Invalid value: \"%s\": must "
                       "be no more than 253 characters",
                       n254, n254);
    expect_invalid("/api/v1/namespaces/default/configmaps", body, want);
    kr_free(body);
    kr_free(want);
    n254[0] = 'A';
    body = kr_asprintf("{\"metadata\":{\"name\":\"%s\"}}", n254);
    want = kr_asprintf("ConfigMap \"%s\" is invalid: [metadata.name: Invalid value: \"%s\": must "
                       "be no more than 253 characters, metadata.name: Invalid value: \"%s\": %s]",
                       n254, n254, n254, subdomain_re);
    expect_invalid("/api/v1/namespaces/default/configmaps", body, want);
    kr_free(body);
    kr_free(want);
    /* a Service a DNS-1035 label */
    expect_invalid("/api/v1/namespaces/default/services",
                   "{\"metadata\":{\"name\":\"1web\"},\"spec\":{\"ports\":[{\"port\":80}]}}",
                   "Service \"1web\" is invalid: metadata.name: Invalid value: \"1web\": a "
                   "DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                   "start with an alphabetic character, and end with an alphanumeric character "
                   "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
                   "'[a-z]([-a-z0-9]*[a-z0-9])?')");
    /* label keys' name parts and label values */
    body = kr_asprintf("{\"metadata\":{\"name\":\"l\",\"labels\":{\"x.io/%s\":\"v\"}}}", n64);
    want = kr_asprintf("ConfigMap \"l\" is invalid: metadata.labels: Invalid value: \"x.io/%s\": "
                       "name part must be no more than 63 characters",
                       n64);
    expect_invalid("/api/v1/namespaces/default/configmaps", body, want);
    kr_free(body);
    kr_free(want);
    expect_invalid("/api/v1/namespaces/default/configmaps",
                   "{\"metadata\":{\"name\":\"l\",\"labels\":{\"Bad/k\":\"-v\"}}}",
                   "ConfigMap \"l\" is invalid: [metadata.labels: Invalid value: \"Bad/k\": "
                   "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                   "alphanumeric characters, '-' or '.', and must start and end with an "
                   "alphanumeric character (e.g. 'example.com', regex used for validation is "
                   "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), "
                   "metadata.labels: Invalid value: \"-v\": a valid label must be an empty string "
                   "or consist of alphanumeric characters, '-', '_' or '.', and must start and "
                   "end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                   "'12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]");
    /* annotation keys are checked lowercased */
    json_decref(
        created("/api/v1/namespaces/default/configmaps",
                "{\"metadata\":{\"name\":\"a\",\"annotations\":{\"Example.COM/K\":\"v\"}}}"));
    free(n64);
    free(n254);
}
END_TEST

START_TEST(services_get_cluster_ips_and_node_ports)
{
    static const char svcs[] = "/api/v1/namespaces/default/services";
    /* the apiserver's own service: the first address, its port behind it */
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/default/services/kubernetes", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(dig_str(r.json, "spec.clusterIP"), "10.96.0.1");
    ck_assert_int_eq(dig_int(r.json, "spec.ports.0.port"), 443);
    json_int_t served = dig_int(r.json, "spec.ports.0.targetPort");
    tc_free(&r);
    tc_json(U, "GET", "/api/v1/namespaces/default/endpoints/kubernetes", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(dig_str(r.json, "subsets.0.addresses.0.ip"), "127.0.0.1");
    ck_assert_int_eq(dig_int(r.json, "subsets.0.ports.0.port"), served);
    ck_assert_ptr_nonnull(strstr(U, ":"));
    ck_assert_int_eq(strtol(strrchr(U, ':') + 1, NULL, 10), served);
    tc_free(&r);
    tc_json(U, "GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes",
            NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(tc_dig(r.json, "metadata.labels"),
                                                       "kubernetes.io/service-name")),
                     "kubernetes");
    ck_assert_str_eq(dig_str(r.json, "addressType"), "IPv4");
    ck_assert_str_eq(dig_str(r.json, "endpoints.0.addresses.0"), "127.0.0.1");
    ck_assert_int_eq(dig_int(r.json, "ports.0.port"), served);
    tc_free(&r);
    /* and what the rest of its bootstrap writes: the system priority
     * classes and the mandatory flow-control configuration */
    tc_json(U, "GET", "/apis/scheduling.k8s.io/v1/priorityclasses/system-node-critical", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(dig_int(r.json, "value"), 2000001000);
    tc_free(&r);
    tc_json(U, "GET", "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/exempt", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(dig_str(r.json, "spec.rules.0.subjects.0.group.name"), "system:masters");
    /* its level exists: not dangling */
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.type"), "Dangling");
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.status"), "False");
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.reason"), "Found");
    tc_free(&r);
    tc_json(U, "GET", "/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations/catch-all",
            NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(dig_str(r.json, "spec.limited.limitResponse.type"), "Reject");
    tc_free(&r);
    /* a FlowSchema's level comes later: Dangling follows it */
    json_t *fs = created("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
                         "{\"metadata\":{\"name\":\"fs-x\"},\"spec\":{"
                         "\"priorityLevelConfiguration\":{\"name\":\"level-x\"},"
                         "\"matchingPrecedence\":500}}");
    ck_assert_str_eq(dig_str(fs, "status.conditions.0.status"), "True");
    json_decref(fs);
    json_decref(created("/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations",
                        "{\"metadata\":{\"name\":\"level-x\"},\"spec\":{\"type\":"
                        "\"Limited\",\"limited\":{\"nominalConcurrencyShares\":5,"
                        "\"limitResponse\":{\"type\":\"Reject\"}}}}"));
    tc_json(U, "GET", "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/fs-x", NULL, &r);
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.status"), "False");
    ck_assert_str_eq(dig_str(r.json, "status.conditions.0.reason"), "Found");
    tc_free(&r);
    json_t *a = created(svcs, "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"selector\":{\"app\":"
                              "\"a\"},\"ports\":[{\"port\":80}]}}");
    ck_assert_str_eq(dig_str(a, "spec.type"), "ClusterIP");
    ck_assert_str_eq(dig_str(a, "spec.sessionAffinity"), "None");
    ck_assert_str_eq(dig_str(a, "spec.internalTrafficPolicy"), "Cluster");
    ck_assert_str_eq(dig_str(a, "spec.ipFamilyPolicy"), "SingleStack");
    ck_assert_str_eq(dig_str(a, "spec.ipFamilies.0"), "IPv4");
    ck_assert_str_eq(dig_str(a, "spec.ports.0.protocol"), "TCP");
    ck_assert_int_eq(dig_int(a, "spec.ports.0.targetPort"), 80);
    const char *ip = dig_str(a, "spec.clusterIP");
    ck_assert_ptr_nonnull(ip);
    ck_assert_int_eq(strncmp(ip, "10.96.", 6), 0);
    ck_assert_str_eq(dig_str(a, "spec.clusterIPs.0"), ip);
    /* an update that leaves the cluster IP out keeps it */
    json_t *again = json_deep_copy(a);
    json_object_del(json_object_get(again, "spec"), "clusterIP");
    json_object_del(json_object_get(again, "spec"), "clusterIPs");
    json_object_set_new(json_object_get(again, "spec"), "selector", json_pack("{s:s}", "app", "b"));
    json_t *updated = put("/api/v1/namespaces/default/services/a", again, 200);
    ck_assert_str_eq(dig_str(updated, "spec.clusterIP"), ip);
    json_decref(updated);
    json_decref(again);

    /* node ports: allocated in 30000-32767, unique; asked ones checked */
    json_t *np =
        created(svcs, "{\"metadata\":{\"name\":\"np\"},\"spec\":{\"type\":\"NodePort\","
                      "\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":81,"
                      "\"nodePort\":30001}]}}");
    ck_assert_str_ne(dig_str(np, "spec.clusterIP"), ip);
    json_int_t port = dig_int(np, "spec.ports.0.nodePort");
    ck_assert(port >= 30000 && port <= 32767 && port != 30001);
    ck_assert_int_eq(dig_int(np, "spec.ports.1.nodePort"), 30001);
    ck_assert_str_eq(dig_str(np, "spec.externalTrafficPolicy"), "Cluster");
    json_decref(np);
    /* a type change: back to ClusterIP drops the node ports and the
     * traffic policy (dropTypeDependentFields), NodePort again gets new */
    tc_request(U, "PATCH", "/api/v1/namespaces/default/services/np", "application/json-patch+json",
               "[{\"op\":\"replace\",\"path\":\"/spec/type\",\"value\":\"ClusterIP\"}]", NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_ptr_null(tc_dig(r.json, "spec.ports.0.nodePort"));
    ck_assert_ptr_null(tc_dig(r.json, "spec.ports.1.nodePort"));
    ck_assert_ptr_null(tc_dig(r.json, "spec.externalTrafficPolicy"));
    tc_free(&r);
    tc_request(U, "PATCH", "/api/v1/namespaces/default/services/np", "application/merge-patch+json",
               "{\"spec\":{\"type\":\"NodePort\"}}", NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    port = dig_int(r.json, "spec.ports.0.nodePort");
    ck_assert(port >= 30000 && port <= 32767);
    port = dig_int(r.json, "spec.ports.1.nodePort");
    ck_assert(port >= 30000 && port <= 32767);
    ck_assert_str_eq(dig_str(r.json, "spec.externalTrafficPolicy"), "Cluster");
    tc_free(&r);
    /* to ExternalName: its address and node ports go, and are free again */
    tc_request(U, "PATCH", "/api/v1/namespaces/default/services/np", "application/merge-patch+json",
               "{\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"db.example.com\"}}", NULL,
               &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_ptr_null(tc_dig(r.json, "spec.clusterIP"));
    ck_assert_ptr_null(tc_dig(r.json, "spec.ports.1.nodePort"));
    ck_assert_ptr_null(tc_dig(r.json, "spec.externalTrafficPolicy"));
    ck_assert_ptr_null(tc_dig(r.json, "spec.internalTrafficPolicy"));
    tc_free(&r);
    char freed[256];
    snprintf(freed, sizeof(freed),
             "{\"metadata\":{\"name\":\"np2\"},\"spec\":{\"type\":\"NodePort\",\"ports\":[{"
             "\"name\":\"a\",\"port\":80,\"nodePort\":%lld}%s]}}",
             (long long)port,
             port == 30001 ? "" : ",{\"name\":\"b\",\"port\":81,\"nodePort\":30001}");
    json_decref(created(svcs, freed)); /* 30001 is taken again, for the next check */
    tc_json(U, "POST", svcs,
            "{\"metadata\":{\"name\":\"dup\"},\"spec\":{\"type\":\"NodePort\",\"ports\":[{"
            "\"port\":80,\"nodePort\":30001}]}}",
            &r);
    assert_status(&r, 422, "Invalid",
                  "Service \"dup\" is invalid: spec.ports[0].nodePort: Invalid value: 30001: "
                  "provided port is already allocated");
    tc_free(&r);
    tc_json(U, "POST", svcs,
            "{\"metadata\":{\"name\":\"far\"},\"spec\":{\"type\":\"NodePort\",\"ports\":[{"
            "\"port\":80,\"nodePort\":80}]}}",
            &r);
    ck_assert_int_eq(r.status, 422);
    tc_free(&r);
    char body[256];
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"same\"},\"spec\":{\"clusterIP\":\"%s\",\"ports\":[{"
             "\"port\":80}]}}",
             ip);
    tc_json(U, "POST", svcs, body, &r);
    char want_taken[256];
    snprintf(want_taken, sizeof(want_taken),
             "Service \"same\" is invalid: spec.clusterIPs: Invalid value: []string{\"%s\"}: "
             "failed to allocate IP %s: provided IP is already allocated",
             ip, ip);
    assert_status(&r, 422, "Invalid", want_taken);
    tc_free(&r);
    tc_json(U, "POST", svcs,
            "{\"metadata\":{\"name\":\"out\"},\"spec\":{\"clusterIP\":\"192.168.0.1\",\"ports\":"
            "[{\"port\":80}]}}",
            &r);
    assert_status(&r, 422, "Invalid",
                  "Service \"out\" is invalid: spec.clusterIPs: Invalid value: "
                  "[]string{\"192.168.0.1\"}: failed to allocate IP 192.168.0.1: the provided IP "
                  "(192.168.0.1) is not in the valid range. The range of valid IPs is "
                  "10.96.0.0/12");
    tc_free(&r);
    /* what is not an IP address is refused before any allocation (kubectl
     * create service clusterip c3 --tcp=80:80 --clusterip=10.96.0.300) */
    static const char *const not_ips[] = {"10.96.0.300", "abc"};
    for (size_t i = 0; i < KR_ARRAY_LEN(not_ips); i++) {
        snprintf(body, sizeof(body),
                 "{\"metadata\":{\"name\":\"c3\"},\"spec\":{\"type\":\"ClusterIP\","
                 "\"clusterIP\":\"%s\",\"ports\":[{\"name\":\"80-80\",\"port\":80,"
                 "\"targetPort\":80}]}}",
                 not_ips[i]);
        tc_json(U, "POST", svcs, body, &r);
        char want[256];
        snprintf(want, sizeof(want),
                 "Service \"c3\" is invalid: spec.clusterIPs[0]: Invalid value: \"%s\": must be "
                 "a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                 not_ips[i]);
        assert_status(&r, 422, "Invalid", want);
        tc_free(&r);
    }

    /* headless and external-name services get no address */
    json_t *h = created(svcs, "{\"metadata\":{\"name\":\"h\"},\"spec\":{\"clusterIP\":\"None\","
                              "\"ports\":[{\"port\":80}]}}");
    ck_assert_str_eq(dig_str(h, "spec.clusterIPs.0"), "None");
    json_decref(h);
    json_t *x = created(svcs, "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"type\":\"ExternalName\","
                              "\"externalName\":\"db.example.com\"}}");
    ck_assert_ptr_null(tc_dig(x, "spec.clusterIP"));
    ck_assert_ptr_null(tc_dig(x, "spec.internalTrafficPolicy"));
    json_decref(x);
    json_decref(a);
}
END_TEST

/* The last octet of a service's cluster IP (10.96.0.x for the first
 * hundreds allocated). */
static int last_octet(const json_t *svc)
{
    const char *ip = dig_str(svc, "spec.clusterIP");
    ck_assert_ptr_nonnull(ip);
    const char *dot = strrchr(ip, '.');
    ck_assert_ptr_nonnull(dot);
    return atoi(dot + 1);
}

/* The service registry allocates before the strategy validates, and a
 * refused write gives back what it got (its allocation transaction is
 * reverted): a create or an update refused for its metadata takes no
 * address or node port from the next service. */
START_TEST(refused_service_writes_allocate_nothing)
{
    static const char svcs[] = "/api/v1/namespaces/default/services";
    json_t *first = created(svcs, "{\"metadata\":{\"name\":\"first\"},\"spec\":{\"type\":"
                                  "\"NodePort\",\"ports\":[{\"port\":80}]}}");
    int ip = last_octet(first);
    json_int_t port = dig_int(first, "spec.ports.0.nodePort");
    tc_response r;
    tc_json(U, "POST", svcs,
            "{\"metadata\":{\"name\":\"bad\",\"labels\":{\"bad key\":\"x\"}},\"spec\":{"
            "\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}}",
            &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    tc_free(&r);
    json_t *second = created(svcs, "{\"metadata\":{\"name\":\"second\"},\"spec\":{\"ports\":"
                                   "[{\"port\":80}]}}");
    ck_assert_int_eq(last_octet(second), ip + 1);
    /* a type change that needs node ports, refused for its labels */
    tc_request(U, "PATCH", "/api/v1/namespaces/default/services/second",
               "application/merge-patch+json",
               "{\"metadata\":{\"labels\":{\"bad key\":\"x\"}},\"spec\":{\"type\":"
               "\"NodePort\"}}",
               NULL, &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    tc_free(&r);
    json_t *third = created(svcs, "{\"metadata\":{\"name\":\"third\"},\"spec\":{\"type\":"
                                  "\"NodePort\",\"ports\":[{\"port\":80}]}}");
    ck_assert_int_eq(last_octet(third), ip + 2);
    ck_assert_int_eq(dig_int(third, "spec.ports.0.nodePort"), port + 1);
    json_decref(third);
    json_decref(second);
    json_decref(first);
}
END_TEST

static void patch_want(const char *path, const char *body, long want, const char *message)
{
    tc_response r;
    patch(path, "application/merge-patch+json", body, &r);
    ck_assert_msg(r.status == want, "PATCH %s %s: want %ld got %ld %s", path, body, want, r.status,
                  r.body);
    if (message)
        ck_assert_str_eq(jstr(r.json, "message"), message);
    tc_free(&r);
}

START_TEST(updates_may_not_change_immutable_fields)
{
    json_decref(created("/api/v1/namespaces/default/configmaps",
                        "{\"metadata\":{\"name\":\"frozen\"},\"immutable\":true,\"data\":{\"a\":"
                        "\"1\"}}"));
    static const char cm[] = "/api/v1/namespaces/default/configmaps/frozen";
    patch_want(cm, "{\"data\":{\"a\":\"2\"}}", 422,
               "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when "
               "`immutable` is set");
    patch_want(cm, "{\"immutable\":false}", 422,
               "ConfigMap \"frozen\" is invalid: immutable: Forbidden: field is immutable when "
               "`immutable` is set");
    patch_want(cm, "{\"metadata\":{\"labels\":{\"l\":\"v\"}}}", 200, NULL);

    json_decref(created("/api/v1/namespaces/default/secrets",
                        "{\"metadata\":{\"name\":\"s\"},\"type\":\"example.com/x\"}"));
    patch_want("/api/v1/namespaces/default/secrets/s", "{\"type\":\"Opaque\"}", 422,
               "Secret \"s\" is invalid: type: Invalid value: \"Opaque\": field is immutable");

    json_decref(created("/apis/apps/v1/namespaces/default/deployments",
                        "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                        "\"app\":\"d\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"d\"}},"
                        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}"));
    static const char deploy[] = "/apis/apps/v1/namespaces/default/deployments/d";
    /* the template's labels no longer match the new selector: the
     * Deployment's validation says so before the strategy's selector rule */
    patch_want(deploy, "{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"e\"}}}}", 422,
               "Deployment.apps \"d\" is invalid: [spec.template.metadata.labels: Invalid value: "
               "map[string]string{\"app\":\"d\"}: `selector` does not match template `labels`, "
               "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"
               "\"app\":\"e\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is "
               "immutable]");
    /* the value is %#v of the selector: maps sorted, expressions listed,
     * and "null" when it is gone */
    patch_want(deploy,
               "{\"spec\":{\"selector\":{\"matchLabels\":{\"b\":\"2\",\"a\":\"1\"},"
               "\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Exists\"},{\"key\":"
               "\"t\",\"operator\":\"In\",\"values\":[\"x\",\"y\"]}]},\"template\":{"
               "\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\",\"k\":\"v\",\"t\":\"x\"}}}}}",
               422,
               "Deployment.apps \"d\" is invalid: spec.selector: Invalid value: "
               "v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"1\", \"app\":\"d\", "
               "\"b\":\"2\"}, "
               "MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{"
               "Key:\"k\", Operator:\"Exists\", Values:[]string(nil)}, "
               "v1.LabelSelectorRequirement{Key:\"t\", Operator:\"In\", Values:[]string{\"x\", "
               "\"y\"}}}}: field is immutable");
    patch_want(deploy, "{\"spec\":{\"replicas\":3}}", 200, NULL);

    json_decref(created("/apis/storage.k8s.io/v1/storageclasses",
                        "{\"metadata\":{\"name\":\"sc\"},\"provisioner\":\"example.com/a\","
                        "\"parameters\":{\"type\":\"ssd\"}}"));
    static const char sc[] = "/apis/storage.k8s.io/v1/storageclasses/sc";
    patch_want(sc,
               "{\"provisioner\":\"example.com/b\",\"parameters\":null,\"reclaimPolicy\":"
               "\"Retain\",\"volumeBindingMode\":\"WaitForFirstConsumer\"}",
               422,
               "StorageClass.storage.k8s.io \"sc\" is invalid: [parameters: Forbidden: updates to "
               "parameters are forbidden., provisioner: Forbidden: updates to provisioner are "
               "forbidden., reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden., "
               "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable]");
    patch_want(sc, "{\"allowVolumeExpansion\":true}", 200, NULL);
    json_decref(created("/apis/networking.k8s.io/v1/ingressclasses",
                        "{\"metadata\":{\"name\":\"ic\"},\"spec\":{\"controller\":"
                        "\"example.com/a\"}}"));
    patch_want("/apis/networking.k8s.io/v1/ingressclasses/ic",
               "{\"spec\":{\"controller\":\"example.com/b\"}}", 422,
               "IngressClass.networking.k8s.io \"ic\" is invalid: spec.controller: Invalid value: "
               "\"example.com/b\": field is immutable");
    json_decref(created("/apis/node.k8s.io/v1/runtimeclasses",
                        "{\"metadata\":{\"name\":\"rc\"},\"handler\":\"runc\"}"));
    patch_want("/apis/node.k8s.io/v1/runtimeclasses/rc", "{\"handler\":\"kata\"}", 422,
               "RuntimeClass.node.k8s.io \"rc\" is invalid: handler: Invalid value: \"kata\": "
               "field is immutable");
    json_decref(created("/apis/apps/v1/namespaces/default/controllerrevisions",
                        "{\"metadata\":{\"name\":\"cr\"},\"data\":{\"a\":1},"
                        "\"revision\":1}"));
    static const char cr[] = "/apis/apps/v1/namespaces/default/controllerrevisions/cr";
    patch_want(cr, "{\"data\":{\"a\":2}}", 422, NULL);
    patch_want(cr, "{\"revision\":2}", 200, NULL);

    json_decref(created("/apis/batch/v1/namespaces/default/jobs",
                        "{\"metadata\":{\"name\":\"j\"},\"spec\":{\"template\":{\"spec\":{"
                        "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":"
                        "\"x\"}]}}}}"));
    static const char job[] = "/apis/batch/v1/namespaces/default/jobs/j";
    tc_response r;
    patch(job, "application/json-patch+json",
          "[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\",\"value\":"
          "\"y\"}]",
          &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"), "spec.template: Invalid value: "));
    tc_free(&r);
    patch_want(job, "{\"spec\":{\"suspend\":true}}", 200, NULL);
    patch_want("/apis/batch/v1/namespaces/default/jobs/j/status", "{\"status\":{\"succeeded\":1}}",
               200, NULL);

    json_decref(created("/api/v1/namespaces/default/services",
                        "{\"metadata\":{\"name\":\"svc\"},\"spec\":{\"ports\":[{\"port\":80}]}}"));
    static const char svc[] = "/api/v1/namespaces/default/services/svc";
    patch_want(svc, "{\"spec\":{\"clusterIP\":\"10.96.0.99\",\"clusterIPs\":[\"10.96.0.99\"]}}",
               422,
               "Service \"svc\" is invalid: spec.clusterIPs[0]: Invalid value: "
               "[]string{\"10.96.0.99\"}: may not change once set");
    patch_want(svc, "{\"spec\":{\"ports\":[{\"port\":81}]}}", 200, NULL);
}
END_TEST

/* An update's fields that may not change are listed with the rest of the
 * object's problems, in the order of the kind's ValidateXUpdate: a
 * Deployment's selector rule after its validation (the strategy's), a
 * Job's after its spec's (ValidateJobSpecUpdate), a Service's cluster IP
 * and a ConfigMap's frozen data before the object's validation
 * (ValidateServiceUpdate, ValidateConfigMapUpdate). */
START_TEST(update_rules_are_listed_with_the_objects_problems)
{
    static const char bad_key[] =
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
        "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
        "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    json_decref(created("/apis/apps/v1/namespaces/default/deployments",
                        "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                        "\"app\":\"d\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"d\"}},"
                        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}"));
    char *want = kr_asprintf(
        "Deployment.apps \"d\" is invalid: [metadata.labels: Invalid value: \"bad key\": %s, "
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: "
        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"e\"}, "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable]",
        bad_key);
    patch_want("/apis/apps/v1/namespaces/default/deployments/d",
               "{\"metadata\":{\"labels\":{\"bad key\":\"x\"}},\"spec\":{\"replicas\":-1,"
               "\"selector\":{\"matchLabels\":{\"app\":\"e\"}},\"template\":{\"metadata\":{"
               "\"labels\":{\"app\":\"e\"}}}}}",
               422, want);
    kr_free(want);

    /* a StatefulSet's selector falls under its spec rule alone
     * (ValidateStatefulSetUpdate; no selector rule in its strategy) */
    json_decref(created("/apis/apps/v1/namespaces/default/statefulsets",
                        "{\"metadata\":{\"name\":\"ss\"},\"spec\":{\"selector\":{"
                        "\"matchLabels\":{\"app\":\"s\"}},\"template\":{\"metadata\":{"
                        "\"labels\":{\"app\":\"s\"}},\"spec\":{\"containers\":[{\"name\":"
                        "\"c\",\"image\":\"x\"}]}}}}"));
    patch_want("/apis/apps/v1/namespaces/default/statefulsets/ss",
               "{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"t\"}},\"template\":{"
               "\"metadata\":{\"labels\":{\"app\":\"t\"}}}}}",
               422,
               "StatefulSet.apps \"ss\" is invalid: spec: Forbidden: updates to statefulset spec "
               "for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
               "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden");

    json_decref(created("/apis/batch/v1/namespaces/default/jobs",
                        "{\"metadata\":{\"name\":\"j\"},\"spec\":{\"template\":{\"spec\":{"
                        "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":"
                        "\"x\"}]}}}}"));
    tc_response r;
    patch("/apis/batch/v1/namespaces/default/jobs/j", "application/json-patch+json",
          "[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\",\"value\":"
          "\"y\"},{\"op\":\"add\",\"path\":\"/spec/parallelism\",\"value\":-1}]",
          &r);
    ck_assert_int_eq(r.status, 422);
    const char *msg = jstr(r.json, "message");
    ck_assert_msg(strncmp(msg,
                          "Job.batch \"j\" is invalid: [spec.parallelism: Invalid value: -1: must "
                          "be greater than or equal to 0, spec.template: Invalid value: ",
                          strlen("Job.batch \"j\" is invalid: [spec.parallelism: Invalid value: "
                                 "-1: must be greater than or equal to 0, spec.template: Invalid "
                                 "value: ")) == 0,
                  "%s", msg);
    ck_assert_int_eq(json_array_size(tc_dig(r.json, "details.causes")), 2);
    tc_free(&r);

    json_decref(created("/api/v1/namespaces/default/services",
                        "{\"metadata\":{\"name\":\"svc\"},\"spec\":{\"ports\":[{\"port\":80}]}}"));
    want =
        kr_asprintf("Service \"svc\" is invalid: [metadata.labels: Invalid value: \"bad key\": "
                    "%s, spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.99\"}: may not "
                    "change once set, spec.ports[0].port: Invalid value: 0: must be between 1 and "
                    "65535, inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between "
                    "1 and 65535, inclusive]",
                    bad_key);
    patch_want("/api/v1/namespaces/default/services/svc",
               "{\"metadata\":{\"labels\":{\"bad key\":\"x\"}},\"spec\":{\"clusterIP\":"
               "\"10.96.0.99\",\"clusterIPs\":[\"10.96.0.99\"],\"ports\":[{\"port\":0}]}}",
               422, want);
    kr_free(want);

    json_decref(created("/api/v1/namespaces/default/configmaps",
                        "{\"metadata\":{\"name\":\"frozen\"},\"immutable\":true,\"data\":{\"a\":"
                        "\"1\"}}"));
    patch_want("/api/v1/namespaces/default/configmaps/frozen", "{\"data\":{\"b c\":\"2\"}}", 422,
               "ConfigMap \"frozen\" is invalid: [data: Forbidden: field is immutable when "
               "`immutable` is set, data[b c]: Invalid value: \"b c\": a valid config key must "
               "consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
               "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')]");
}
END_TEST

/* A /status write's metadata is validated as its status strategy left it
 * (ValidateXStatusUpdate's ValidateObjectMetaUpdate after PrepareForUpdate):
 * a Deployment's labels are the stored ones whatever the write says, a
 * Service's are the write's. */
/* A status patch of the pod at `path`; the response's status object. */
static json_t *pod_status_patched(const char *path, const char *body)
{
    tc_response r;
    patch(path, "application/merge-patch+json", body, &r);
    ck_assert_msg(r.status == 200, "PATCH %s: %ld %s", body, r.status, r.body);
    ck_assert_msg(r.warnings[0] == '\0', "%s", r.warnings); /* 1.32 warns of none */
    json_t *status = json_incref(json_object_get(r.json, "status"));
    tc_free(&r);
    return status;
}

/* A pod's addresses in its status, as 1.32 decodes and validates a status
 * write: podIP (hostIP) is authoritative over a list that does not start
 * with it, podIP is read back from podIPs, and each address is one
 * ParseIPSloppy reads (IPv4 octets with leading zeros taken, kept as
 * written, without a warning), one per family, no duplicates. */
START_TEST(pod_status_addresses_are_decoded_and_validated_as_1_32_does)
{
    json_decref(created("/api/v1/namespaces/default/pods",
                        "{\"metadata\":{\"name\":\"ips\"},\"spec\":{\"containers\":[{\"name\":"
                        "\"c\",\"image\":\"x\"}]}}"));
    static const char st[] = "/api/v1/namespaces/default/pods/ips/status";
    json_t *status = pod_status_patched(st, "{\"status\":{\"podIP\":\"010.000.000.001\","
                                            "\"hostIP\":\"192.168.001.002\"}}");
    ck_assert_str_eq(dig_str(status, "podIP"), "010.000.000.001");
    ck_assert_str_eq(dig_str(status, "podIPs.0.ip"), "010.000.000.001");
    ck_assert_int_eq(json_array_size(json_object_get(status, "podIPs")), 1);
    ck_assert_str_eq(dig_str(status, "hostIPs.0.ip"), "192.168.001.002");
    json_decref(status);
    /* the stored podIP wins over a list that does not start with it */
    status = pod_status_patched(st, "{\"status\":{\"podIPs\":[{\"ip\":\"10.0.0.3\"}]}}");
    ck_assert_str_eq(dig_str(status, "podIPs.0.ip"), "010.000.000.001");
    json_decref(status);
    /* without podIP, the list decides, and podIP is its first */
    status = pod_status_patched(st, "{\"status\":{\"podIP\":null,\"podIPs\":[{\"ip\":"
                                    "\"10.0.0.3\"},{\"ip\":\"fd00::3\"}]}}");
    ck_assert_str_eq(dig_str(status, "podIP"), "10.0.0.3");
    ck_assert_str_eq(dig_str(status, "podIPs.1.ip"), "fd00::3");
    json_decref(status);
    patch_want(st, "{\"status\":{\"podIP\":\"abc\"}}", 422,
               "Pod \"ips\" is invalid: status.podIPs[0]: Invalid value: \"abc\": must be a valid "
               "IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
    patch_want(st,
               "{\"status\":{\"podIP\":null,\"podIPs\":[{\"ip\":\"10.0.0.3\"},{\"ip\":"
               "\"10.0.0.3\"}]}}",
               422,
               "Pod \"ips\" is invalid: [status.podIPs: Invalid value: "
               "[]core.PodIP{core.PodIP{IP:\"10.0.0.3\"}, core.PodIP{IP:\"10.0.0.3\"}}: may "
               "specify no more than one IP for each IP family, status.podIPs[1]: Duplicate "
               "value: core.PodIP{IP:\"10.0.0.3\"}]");
    patch_want(st, "{\"status\":{\"hostIP\":null,\"hostIPs\":[{\"ip\":\"1.2.3.4\"}]}}", 422,
               "Pod \"ips\" is invalid: status.hostIPs[0].ip: Invalid value: \"1.2.3.4\": must be "
               "equal to `hostIP`");
    patch_want(st,
               "{\"status\":{\"hostIP\":\"1.2.3.4\",\"hostIPs\":[{\"ip\":\"1.2.3.4\"},{\"ip\":"
               "\"1.2.3.5\"}]}}",
               422,
               "Pod \"ips\" is invalid: status.hostIPs: Invalid value: "
               "[]core.HostIP{core.HostIP{IP:\"1.2.3.4\"}, core.HostIP{IP:\"1.2.3.5\"}}: may "
               "specify no more than one IP for each IP family");
}
END_TEST

START_TEST(status_writes_validate_the_metadata_the_strategy_keeps)
{
    json_decref(
        created("/apis/apps/v1/namespaces/default/deployments",
                "{\"metadata\":{\"name\":\"d\",\"labels\":{\"a\":\"1\"}},\"spec\":{"
                "\"selector\":{\"matchLabels\":{\"app\":\"d\"}},\"template\":{\"metadata\":{"
                "\"labels\":{\"app\":\"d\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
                "\"image\":\"x\"}]}}}}"));
    tc_response r;
    patch("/apis/apps/v1/namespaces/default/deployments/d/status", "application/merge-patch+json",
          "{\"metadata\":{\"labels\":{\"bad key\":\"x\"}},\"status\":{\"replicas\":1}}", &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_ptr_null(tc_dig(r.json, "metadata.labels.bad key"));
    ck_assert_str_eq(dig_str(r.json, "metadata.labels.a"), "1");
    tc_free(&r);

    json_decref(created("/api/v1/namespaces/default/services",
                        "{\"metadata\":{\"name\":\"svc\"},\"spec\":{\"ports\":[{\"port\":80}]}}"));
    patch_want("/api/v1/namespaces/default/services/svc/status",
               "{\"metadata\":{\"labels\":{\"bad key\":\"x\"}}}", 422,
               "Service \"svc\" is invalid: metadata.labels: Invalid value: \"bad key\": name "
               "part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
               "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
               "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
}
END_TEST

/* ValidatePodSpecificAnnotationUpdates: an update neither changes, removes
 * nor adds a pod's AppArmor annotations (after the pod's own problems);
 * a pod template's AppArmor annotations are checked as a pod's
 * (ValidatePodTemplateSpec's ValidatePodSpecificAnnotations), at
 * spec.template.annotations. */
START_TEST(pod_apparmor_annotations_are_kept_by_updates_and_checked_in_templates)
{
    json_decref(created("/api/v1/namespaces/default/pods",
                        "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
                        "\"container.apparmor.security.beta.kubernetes.io/a\":\"runtime/default\","
                        "\"container.apparmor.security.beta.kubernetes.io/c\":\"unconfined\"}},"
                        "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"},{\"name\":"
                        "\"b\",\"image\":\"x\"},{\"name\":\"c\",\"image\":\"x\"}]}}"));
    static const char pod[] = "/api/v1/namespaces/default/pods/p";
    patch_want(pod,
               "{\"metadata\":{\"annotations\":{"
               "\"container.apparmor.security.beta.kubernetes.io/a\":\"unconfined\","
               "\"container.apparmor.security.beta.kubernetes.io/b\":\"runtime/default\","
               "\"container.apparmor.security.beta.kubernetes.io/c\":null}}}",
               422,
               "Pod \"p\" is invalid: [metadata.annotations[container.apparmor.security.beta."
               "kubernetes.io/a]: Forbidden: may not remove or update AppArmor annotations, "
               "metadata.annotations[container.apparmor.security.beta.kubernetes.io/c]: "
               "Forbidden: may not remove or update AppArmor annotations, "
               "metadata.annotations[container.apparmor.security.beta.kubernetes.io/b]: "
               "Forbidden: may not add AppArmor annotations]");
    /* the pod's own problems come first */
    patch_want(pod,
               "{\"metadata\":{\"annotations\":{"
               "\"container.apparmor.security.beta.kubernetes.io/a\":\"bogus\"}}}",
               422,
               "Pod \"p\" is invalid: [metadata.annotations[container.apparmor.security.beta."
               "kubernetes.io/a]: Invalid value: \"bogus\": invalid AppArmor profile name: "
               "\"bogus\", metadata.annotations[container.apparmor.security.beta.kubernetes.io/"
               "a]: Forbidden: may not remove or update AppArmor annotations]");
    patch_want(pod, "{\"metadata\":{\"annotations\":{\"other\":\"x\"}}}", 200, NULL);

    tc_response r;
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/deployments",
            "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{"
            "\"app\":\"d\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"d\"},"
            "\"annotations\":{\"container.apparmor.security.beta.kubernetes.io/nope\":"
            "\"bogus\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
            &r);
    assert_status(&r, 422, "Invalid",
                  "Deployment.apps \"d\" is invalid: [spec.template.annotations[container."
                  "apparmor.security.beta.kubernetes.io/nope]: Invalid value: \"nope\": container "
                  "not found, spec.template.annotations[container.apparmor.security.beta."
                  "kubernetes.io/nope]: Invalid value: \"bogus\": invalid AppArmor profile name: "
                  "\"bogus\"]");
    tc_free(&r);
}
END_TEST

/* ValidateVolumes: each volume's source (validateVolumeSource: one at most,
 * kube's own spelling of some paths, none defaulted to emptyDir; the common sources' required
 * fields, modes, a host path's ".." and type, a negative emptyDir size limit) before its name. */
START_TEST(pod_volume_sources_are_validated)
{
    tc_response r;
    tc_json(U, "POST", "/api/v1/namespaces/default/pods",
            "{\"metadata\":{\"name\":\"v\"},\"spec\":{\"containers\":[{\"name\":\"c\","
            "\"image\":\"x\"}],\"volumes\":[{\"name\":\"a\"},{\"name\":\"b\",\"configMap\":{},"
            "\"secret\":{\"secretName\":\"s\"},\"downwardAPI\":{}},{\"name\":\"c\",\"secret\":{"
            "\"defaultMode\":1000,\"items\":[{\"key\":\"k\"}]}},{\"name\":\"d\","
            "\"persistentVolumeClaim\":{}},{\"name\":\"e\",\"hostPath\":{\"path\":\"/a/../b\","
            "\"type\":\"Dir\"}},{\"name\":\"f\",\"emptyDir\":{\"sizeLimit\":\"-1Gi\"}},{"
            "\"name\":\"g\",\"emptyDir\":{}},{\"name\":\"g\",\"hostPath\":{}}]}}",
            &r);
    assert_status(
        &r, 422, "Invalid",
        "Pod \"v\" is invalid: [spec.volumes[1].downwarAPI: Forbidden: may not specify more than 1 "
        "volume type, "
        "spec.volumes[1].configMap: Forbidden: may not specify more than 1 volume type, "
        "spec.volumes[2].secret.secretName: Required value, spec.volumes[2].secret.defaultMode: "
        "Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive, "
        "spec.volumes[2].secret.items[0].path: Required value, "
        "spec.volumes[3].persistentVolumeClaim.claimName: Required value, "
        "spec.volumes[4].hostPath.path: Invalid value: \"/a/../b\": must not contain '..', "
        "spec.volumes[4].hostPath.type: Unsupported value: \"Dir\": supported values: \"\", "
        "\"BlockDevice\", \"CharDevice\", \"Directory\", \"DirectoryOrCreate\", \"File\", "
        "\"FileOrCreate\", \"Socket\", spec.volumes[5].emptyDir.sizeLimit: Forbidden: SizeLimit "
        "field must be a valid resource quantity, spec.volumes[7].hostPath.path: Required value, "
        "spec.volumes[7].name: Duplicate value: \"g\"]");
    ck_assert_int_eq(json_array_size(tc_dig(r.json, "details.causes")), 11);
    tc_free(&r);
}
END_TEST

/* validateContainerResourceName and ValidateNonnegativeQuantity on each
 * limit, then each request (names sorted): a name without a prefix must be
 * a standard resource and one for containers, a prefixed one a
 * kubernetes.io or extended resource. */
START_TEST(container_resource_names_are_validated)
{
    tc_response r;
    tc_json(U, "POST", "/apis/apps/v1/namespaces/default/deployments",
            "{\"metadata\":{\"name\":\"rn\"},\"spec\":{\"selector\":{\"matchLabels\":{"
            "\"app\":\"rn\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"rn\"}},"
            "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{"
            "\"limits\":{\"cpus\":\"1\",\"example.com/gpu\":\"1\"},\"requests\":{"
            "\"a/b/c\":\"1\",\"memory\":\"-1Mi\",\"requests.example.com/x\":\"1\"}}}]}}}}",
            &r);
    static const char c[] = "spec.template.spec.containers[0].resources";
    char *want = kr_asprintf(
        "Deployment.apps \"rn\" is invalid: [%s.limits[cpus]: Invalid value: \"cpus\": must be a "
        "standard resource type or fully qualified, %s.limits[cpus]: Invalid value: \"cpus\": "
        "must be a standard resource for containers, %s.requests[a/b/c]: Invalid value: "
        "\"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
        "and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
        "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName'), %s.limits: "
        "Required value: Limit must be set for non overcommitable resources, "
        "%s.requests[memory]: Invalid value: \"-1Mi\": must be greater than or equal to 0, "
        "%s.requests[requests.example.com/x]: Invalid value: \"requests.example.com/x\": "
        "doesn't follow extended resource name standard]",
        c, c, c, c, c, c);
    assert_status(&r, 422, "Invalid", want);
    kr_free(want);
    ck_assert_int_eq(json_array_size(tc_dig(r.json, "details.causes")), 7);
    tc_free(&r);
}
END_TEST

/* The Warning headers of one write of `body` (`method` on `path`, JSON
 * or a merge patch), which must answer `status`. */
static void expect_warnings(const char *method, const char *path, const char *body, long status,
                            const char *want)
{
    tc_response r;
    tc_request(U, method, path,
               strcmp(method, "PATCH") == 0 ? "application/merge-patch+json" : "application/json",
               body, NULL, &r);
    ck_assert_msg(r.status == status, "%s %s: %ld %s", method, path, r.status, r.body);
    ck_assert_str_eq(r.warnings, want);
    tc_free(&r);
}

/* A cluster IP is read as kube-apiserver's allocator reads it
 * (ParseIPSloppy): an IPv4 octet with a leading zero is taken, as decimal,
 * kept as written and warned about (GetWarningsForService); an IPv6
 * address, on this IPv4 cluster, is refused by initIPFamilyFields. */
START_TEST(service_cluster_ips_are_read_as_the_allocator_reads_them)
{
    static const char svcs[] = "/api/v1/namespaces/default/services";
    expect_warnings("POST", svcs,
                    "{\"metadata\":{\"name\":\"z\"},\"spec\":{\"clusterIP\":\"010.096.000.050\","
                    "\"ports\":[{\"port\":80}]}}",
                    201,
                    "299 - \"spec.clusterIPs[0]: IP address was accepted, but will be invalid in "
                    "a future Kubernetes release: ParseAddr(\\\"010.096.000.050\\\"): IPv4 field "
                    "has octet with leading zero\"\n");
    tc_response r;
    tc_json(U, "GET", "/api/v1/namespaces/default/services/z", NULL, &r);
    ck_assert_str_eq(dig_str(r.json, "spec.clusterIP"), "010.096.000.050");
    ck_assert_str_eq(dig_str(r.json, "spec.clusterIPs.0"), "010.096.000.050");
    tc_free(&r);
    /* the same address, written plainly, is taken */
    tc_json(U, "POST", svcs,
            "{\"metadata\":{\"name\":\"z2\"},\"spec\":{\"clusterIP\":\"10.96.0.50\",\"ports\":[{"
            "\"port\":80}]}}",
            &r);
    assert_status(&r, 422, "Invalid",
                  "Service \"z2\" is invalid: spec.clusterIPs: Invalid value: "
                  "[]string{\"10.96.0.50\"}: failed to allocate IP 10.96.0.50: provided IP is "
                  "already allocated");
    tc_free(&r);
    tc_json(U, "POST", svcs,
            "{\"metadata\":{\"name\":\"v6\"},\"spec\":{\"clusterIP\":\"fd00::1\",\"ports\":[{"
            "\"port\":80}]}}",
            &r);
    assert_status(&r, 422, "Invalid",
                  "Service \"v6\" is invalid: spec.clusterIPs[0]: Invalid value: "
                  "[]string{\"fd00::1\"}: IPv6 is not configured on this cluster");
    tc_free(&r);
    /* an update that keeps it warns again */
    expect_warnings("PATCH", "/api/v1/namespaces/default/services/z",
                    "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}", 200,
                    "299 - \"spec.clusterIPs[0]: IP address was accepted, but will be invalid in "
                    "a future Kubernetes release: ParseAddr(\\\"010.096.000.050\\\"): IPv4 field "
                    "has octet with leading zero\"\n");
}
END_TEST

/* Deprecated node labels in a pod's node selector and deprecated pod
 * annotations get kube-apiserver's warnings (GetWarningsForPod), on a
 * pod's create and on a template's create and any update that moves its
 * owner's generation. */
START_TEST(deprecated_pod_labels_and_annotations_are_warned_about)
{
#define USE(label) "deprecated since v1.14; use \\\"" label "\\\" instead\"\n"
#define CRITICAL                                                                                   \
    "metadata.annotations[scheduler.alpha.kubernetes.io/critical-pod]: non-functional in "         \
    "v1.16+; use the \\\"priorityClassName\\\" field instead\"\n"
#define SECCOMP "non-functional in v1.27+; use the \\\"seccompProfile\\\" field instead\"\n"
    static const char pods[] = "/api/v1/namespaces/default/pods";
#define OS "299 - \"spec.nodeSelector[beta.kubernetes.io/os]: " USE("kubernetes.io/os")
#define POD "299 - \"metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: " SECCOMP
#define C "299 - \"metadata.annotations[container.seccomp.security.alpha.kubernetes.io/c]: " SECCOMP
    static const char old_pod[] = OS "299 - \"" CRITICAL POD C;
#undef C
#undef POD
#undef OS
    expect_warnings("POST", pods,
                    "{\"metadata\":{\"name\":\"old\",\"annotations\":{"
                    "\"scheduler.alpha.kubernetes.io/critical-pod\":\"\","
                    "\"seccomp.security.alpha.kubernetes.io/pod\":\"runtime/default\","
                    "\"container.seccomp.security.alpha.kubernetes.io/c\":\"runtime/default\"}},"
                    "\"spec\":{\"nodeSelector\":{\"beta.kubernetes.io/os\":\"linux\"},"
                    "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
                    201, old_pod);
    /* the fields set: the annotations are no longer alone */
    expect_warnings("POST", pods,
                    "{\"metadata\":{\"name\":\"new\",\"annotations\":{"
                    "\"seccomp.security.alpha.kubernetes.io/pod\":\"runtime/default\"}},"
                    "\"spec\":{\"securityContext\":{\"seccompProfile\":{\"type\":"
                    "\"RuntimeDefault\"}},\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
                    201, "");
    /* a pod's update: none */
    expect_warnings("PATCH", "/api/v1/namespaces/default/pods/old",
                    "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}", 200, "");
    static const char deploys[] = "/apis/apps/v1/namespaces/default/deployments";
#define ARCH "299 - \"spec.template.spec.nodeSelector[beta.kubernetes.io/arch]: "
    static const char arch[] = ARCH USE("kubernetes.io/arch");
#undef ARCH
    expect_warnings("POST", deploys,
                    "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                    "\"app\":\"d\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"d\"}},"
                    "\"spec\":{\"nodeSelector\":{\"beta.kubernetes.io/arch\":\"amd64\"},"
                    "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
                    201, arch);
    /* the generation stays: none; it moves: again */
    expect_warnings("PATCH", "/apis/apps/v1/namespaces/default/deployments/d",
                    "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}", 200, "");
    expect_warnings("PATCH", "/apis/apps/v1/namespaces/default/deployments/d",
                    "{\"spec\":{\"replicas\":3}}", 200, arch);
    /* a CronJob's template is deeper */
    expect_warnings(
        "POST", "/apis/batch/v1/namespaces/default/cronjobs",
        "{\"metadata\":{\"name\":\"cj\"},\"spec\":{\"schedule\":\"* * * * *\",\"jobTemplate\":"
        "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
        "\"scheduler.alpha.kubernetes.io/critical-pod\":\"\"}},\"spec\":{\"restartPolicy\":"
        "\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}}}",
        201, "299 - \"spec.jobTemplate.spec.template." CRITICAL);
#undef SECCOMP
#undef CRITICAL
#undef USE
}
END_TEST

/* GetWarningsForPod's other common warnings, in its order: a null
 * labelSelector in a topology spread constraint, duplicate host alias
 * addresses and pull secret names, a pull secret without a name, a
 * template's AppArmor annotation for a container without a profile field,
 * a negative grace period, null labelSelectors in pod (anti-)affinity
 * terms. */
START_TEST(pod_warnings_name_null_selectors_duplicates_and_negative_grace)
{
#define NULL_SELECTOR ": a null labelSelector results in matching no pod\"\n"
#define W "299 - \""
    static const char pod_warnings[] =
        W "spec.topologySpreadConstraints[0].labelSelector" NULL_SELECTOR W
          "spec.hostAliases[2].ip: duplicate ip \\\"10.0.0.1\\\"\"\n" W
          "spec.imagePullSecrets[1].name: duplicate name \\\"reg\\\"\"\n" W
          "spec.imagePullSecrets[3].name: duplicate name \\\"\\\"\"\n" W
          "spec.imagePullSecrets[2].name: invalid empty name \\\"\\\"\"\n" W
          "spec.imagePullSecrets[3].name: invalid empty name \\\"\\\"\"\n" W
          "spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and "
          "will be treated as 1\"\n" W
          "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[1]."
          "labelSelector" NULL_SELECTOR W
          "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]."
          "podAffinityTerm.labelSelector" NULL_SELECTOR W
          "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]."
          "labelSelector" NULL_SELECTOR;
    expect_warnings(
        "POST", "/api/v1/namespaces/default/pods",
        "{\"metadata\":{\"name\":\"warned\"},\"spec\":{\"terminationGracePeriodSeconds\":-5,"
        "\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"zone\","
        "\"whenUnsatisfiable\":\"DoNotSchedule\"},{\"maxSkew\":1,\"topologyKey\":\"zone\","
        "\"whenUnsatisfiable\":\"DoNotSchedule\",\"labelSelector\":{}}],"
        "\"hostAliases\":[{\"ip\":\"10.0.0.1\",\"hostnames\":[\"a\"]},{\"ip\":\"10.0.0.2\","
        "\"hostnames\":[\"b\"]},{\"ip\":\"10.0.0.1\",\"hostnames\":[\"c\"]}],"
        "\"imagePullSecrets\":[{\"name\":\"reg\"},{\"name\":\"reg\"},{},{\"name\":\"\"}],"
        "\"affinity\":{\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":[{"
        "\"labelSelector\":{\"matchLabels\":{\"a\":\"b\"}},\"topologyKey\":\"zone\"},{"
        "\"topologyKey\":\"zone\"}],\"preferredDuringSchedulingIgnoredDuringExecution\":[{"
        "\"weight\":1,\"podAffinityTerm\":{\"topologyKey\":\"zone\"}}]},\"podAntiAffinity\":{"
        "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"topologyKey\":\"zone\"}]}},"
        "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
        201, pod_warnings);
    /* a template's AppArmor annotation, unless the container or the pod
     * has the field; its paths and the grace period's under the template */
#define APPARMOR(c)                                                                                \
    W "spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/" c       \
      "]: deprecated since v1.30; use the \\\"appArmorProfile\\\" field instead\"\n"
    static const char deploy_warnings[] =
        APPARMOR("init") APPARMOR("c") W "spec.template.spec.terminationGracePeriodSeconds: must "
                                         "be >= 0; negative values are invalid and will be "
                                         "treated as 1\"\n";
    expect_warnings(
        "POST", "/apis/apps/v1/namespaces/default/deployments",
        "{\"metadata\":{\"name\":\"aa\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":"
        "\"aa\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"aa\"},\"annotations\":{"
        "\"container.apparmor.security.beta.kubernetes.io/c\":\"runtime/default\","
        "\"container.apparmor.security.beta.kubernetes.io/init\":\"runtime/default\","
        "\"container.apparmor.security.beta.kubernetes.io/d\":\"runtime/default\"}},"
        "\"spec\":{\"terminationGracePeriodSeconds\":-1,\"initContainers\":[{\"name\":"
        "\"init\",\"image\":\"x\"}],\"containers\":[{\"name\":\"c\",\"image\":\"x\"},{"
        "\"name\":\"d\",\"image\":\"x\",\"securityContext\":{\"appArmorProfile\":{\"type\":"
        "\"RuntimeDefault\"}}}]}}}}",
        201, deploy_warnings);
    expect_warnings(
        "POST", "/api/v1/namespaces/default/podtemplates",
        "{\"metadata\":{\"name\":\"aa\"},\"template\":{\"metadata\":{\"annotations\":{"
        "\"container.apparmor.security.beta.kubernetes.io/c\":\"runtime/default\"}},"
        "\"spec\":{\"securityContext\":{\"appArmorProfile\":{\"type\":\"RuntimeDefault\"}},"
        "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}",
        201, "");
#undef APPARMOR
#undef W
#undef NULL_SELECTOR
}
END_TEST

/* A Pod's create makes its AppArmor annotations and fields agree, as
 * kube-apiserver 1.30 to 1.33 does (applyAppArmorVersionSkew): a
 * container's annotation without a field becomes the container's field
 * (not when the pod's field says the same) and is warned about, before
 * the other pod warnings; a field without an annotation, the container's
 * or the pod's, becomes the annotation. */
START_TEST(pod_apparmor_annotations_and_fields_are_synced_on_create)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    tc_response r;
    tc_request(U, "POST", pods, "application/json",
               "{\"metadata\":{\"name\":\"aa\",\"annotations\":{"
               "\"container.apparmor.security.beta.kubernetes.io/c\":\"localhost/prof\","
               "\"container.apparmor.security.beta.kubernetes.io/d\":\"runtime/default\"}},"
               "\"spec\":{\"terminationGracePeriodSeconds\":-1,\"securityContext\":{"
               "\"appArmorProfile\":{\"type\":\"RuntimeDefault\"}},\"containers\":[{\"name\":"
               "\"c\",\"image\":\"x\"},{\"name\":\"d\",\"image\":\"x\"},{\"name\":\"e\","
               "\"image\":\"x\",\"securityContext\":{\"appArmorProfile\":{\"type\":"
               "\"Unconfined\"}}}]}}",
               NULL, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings,
                     "299 - \"metadata.annotations[container.apparmor.security.beta.kubernetes."
                     "io/c]: deprecated since v1.30; use the \\\"appArmorProfile\\\" field "
                     "instead\"\n"
                     "299 - \"spec.terminationGracePeriodSeconds: must be >= 0; negative values "
                     "are invalid and will be treated as 1\"\n");
    ck_assert_str_eq(dig_str(r.json, "spec.containers.0.securityContext.appArmorProfile.type"),
                     "Localhost");
    ck_assert_str_eq(
        dig_str(r.json, "spec.containers.0.securityContext.appArmorProfile.localhostProfile"),
        "prof");
    ck_assert_ptr_null(tc_dig(r.json, "spec.containers.1.securityContext"));
    const json_t *notes = tc_dig(r.json, "metadata.annotations");
    ck_assert_str_eq(jstr(notes, "container.apparmor.security.beta.kubernetes.io/e"), "unconfined");
    ck_assert_uint_eq(json_object_size(notes), 3);
    tc_free(&r);
    /* the pod's field stands for every container without one */
    json_t *pod = created(pods, "{\"metadata\":{\"name\":\"bb\"},\"spec\":{\"securityContext\":{"
                                "\"appArmorProfile\":{\"type\":\"Localhost\",\"localhostProfile\":"
                                "\"p\"}},\"initContainers\":[{\"name\":\"i\",\"image\":\"x\"}],"
                                "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
    notes = tc_dig(pod, "metadata.annotations");
    ck_assert_str_eq(jstr(notes, "container.apparmor.security.beta.kubernetes.io/i"),
                     "localhost/p");
    ck_assert_str_eq(jstr(notes, "container.apparmor.security.beta.kubernetes.io/c"),
                     "localhost/p");
    json_decref(pod);
    /* an annotation that stands for no profile: kept, warned about */
    expect_warnings("POST", pods,
                    "{\"metadata\":{\"name\":\"cc\",\"annotations\":{"
                    "\"container.apparmor.security.beta.kubernetes.io/c\":\"localhost/\"}},"
                    "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
                    201,
                    "299 - \"metadata.annotations[container.apparmor.security.beta.kubernetes."
                    "io/c]: deprecated since v1.30; use the \\\"appArmorProfile\\\" field "
                    "instead\"\n");
}
END_TEST

/* GetWarningsForPod's (1.32) volume, quantity, env and port warnings, in
 * its order: deprecated volume plugins, projected items sharing a
 * projected service account token's path, a fractional overhead, then per
 * container (init first) its fractional memory and ephemeral storage and
 * the env vars hiding an earlier one, then the ports of all containers. */
START_TEST(pod_warnings_for_volumes_quantities_env_and_ports)
{
    expect_warnings(
        "POST", "/api/v1/namespaces/default/pods",
        "{\"metadata\":{\"name\":\"w\"},\"spec\":{\"volumes\":[{\"name\":\"g\",\"gitRepo\":{"
        "\"repository\":\"x\"}},{\"name\":\"r\",\"rbd\":{\"monitors\":[\"a\"],\"image\":\"i\"}},"
        "{\"name\":\"t\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"path\":"
        "\"token\"}}]}},{\"name\":\"p\",\"projected\":{\"sources\":[{\"configMap\":{\"name\":"
        "\"c\",\"items\":[{\"key\":\"a\",\"path\":\"a\"},{\"key\":\"b\",\"path\":\"token\"}]}},"
        "{\"downwardAPI\":{\"items\":[{\"path\":\"token\",\"fieldRef\":{\"fieldPath\":"
        "\"metadata.name\"}}]}}]}},{\"name\":\"s\",\"projected\":{\"sources\":[{\"secret\":{"
        "\"name\":\"s\",\"items\":[{\"key\":\"b\",\"path\":\"token\"}]}}]}}],"
        "\"initContainers\":[{\"name\":\"i\",\"image\":\"x\",\"resources\":{\"limits\":{"
        "\"memory\":\"0.5\"}},\"ports\":[{\"containerPort\":80}]}],\"containers\":[{\"name\":"
        "\"c\",\"image\":\"x\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"A\","
        "\"value\":\"$(A)2\"},{\"name\":\"A\",\"value\":\"3\"},{\"name\":\"B\"},{\"name\":\"B\","
        "\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}},{\"name\":\"C\","
        "\"value\":\"$(C)\"},{\"name\":\"C\",\"value\":\"$(C)\"}],\"resources\":{\"requests\":{"
        "\"memory\":\"1.5\"},\"limits\":{\"memory\":\"0.5Ki\",\"ephemeral-storage\":\"100m\"}},"
        "\"ports\":[{\"containerPort\":80},{\"containerPort\":80,\"hostIP\":\"1.2.3.4\"},{"
        "\"containerPort\":81,\"hostPort\":81},{\"containerPort\":81,\"hostPort\":81,\"hostIP\":"
        "\"1.2.3.4\"},{\"containerPort\":81,\"protocol\":\"UDP\"}]}]}}",
        201,
        "299 - \"spec.volumes[0].gitRepo: deprecated in v1.11\"\n"
        "299 - \"spec.volumes[1].rbd: deprecated in v1.28, non-functional in v1.31+\"\n"
        "299 - \"spec.volumes[3].projected.sources.configMap[1]: has duplicated path with "
        "ServiceAccountToken \\\"token\\\"\"\n"
        "299 - \"spec.volumes[3].projected.sources.downwardAPI[0]: has duplicated path with "
        "ServiceAccountToken \\\"token\\\"\"\n"
        "299 - \"spec.volumes[4].projected.sources.secrets[0]: has duplicated path with "
        "ServiceAccountToken \\\"token\\\"\"\n"
        "299 - \"spec.initContainers[0].resources.limits[memory]: fractional byte value "
        "\\\"500m\\\" is invalid, must be an integer\"\n"
        "299 - \"spec.initContainers[0].resources.requests[memory]: fractional byte value "
        "\\\"500m\\\" is invalid, must be an integer\"\n"
        "299 - \"spec.containers[0].resources.requests[memory]: fractional byte value "
        "\\\"1500m\\\" is invalid, must be an integer\"\n"
        "299 - \"spec.containers[0].resources.limits[ephemeral-storage]: fractional byte value "
        "\\\"100m\\\" is invalid, must be an integer\"\n"
        "299 - \"spec.containers[0].resources.requests[ephemeral-storage]: fractional byte "
        "value \\\"100m\\\" is invalid, must be an integer\"\n"
        "299 - \"spec.containers[0].env[2]: hides previous definition of \\\"A\\\", which may be "
        "dropped when using apply\"\n"
        "299 - \"spec.containers[0].env[4]: hides previous definition of \\\"B\\\", which may be "
        "dropped when using apply\"\n"
        "299 - \"spec.containers[0].env[6]: hides previous definition of \\\"C\\\", which may be "
        "dropped when using apply\"\n"
        "299 - \"spec.containers[0].ports[0]: duplicate port definition with "
        "spec.initContainers[0].ports[0]\"\n"
        "299 - \"spec.containers[0].ports[1]: hostIP set without hostPort: {Name: HostPort:0 "
        "ContainerPort:80 Protocol:TCP HostIP:1.2.3.4}\"\n"
        "299 - \"spec.containers[0].ports[1]: overlapping port definition with "
        "spec.initContainers[0].ports[0]\"\n"
        "299 - \"spec.containers[0].ports[1]: overlapping port definition with "
        "spec.containers[0].ports[0]\"\n"
        "299 - \"spec.containers[0].ports[3]: dangerously ambiguous port definition with "
        "spec.containers[0].ports[2]\"\n");
    /* a template's, under its path: a fractional overhead after the
     * volumes (a Pod's needs a RuntimeClass) */
    expect_warnings("POST", "/apis/apps/v1/namespaces/default/deployments",
                    "{\"metadata\":{\"name\":\"w\"},\"spec\":{\"selector\":{\"matchLabels\":{"
                    "\"a\":\"b\"}},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},"
                    "\"spec\":{\"overhead\":{\"memory\":\"1.5\",\"ephemeral-storage\":\"2.5\"},"
                    "\"volumes\":[{\"name\":\"q\",\"quobyte\":{\"registry\":\"r\",\"volume\":"
                    "\"v\"}}],\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
                    201,
                    "299 - \"spec.template.spec.volumes[0].quobyte: deprecated in v1.22, "
                    "non-functional in v1.25+\"\n"
                    "299 - \"spec.template.spec.overhead[memory]: fractional byte value "
                    "\\\"1500m\\\" is invalid, must be an integer\"\n"
                    "299 - \"spec.template.spec.overhead[ephemeral-storage]: fractional byte "
                    "value \\\"2500m\\\" is invalid, must be an integer\"\n");
}
END_TEST

/* ValidateAppArmorPodAnnotations: an AppArmor annotation names a container
 * of the pod and a profile kube knows ("", runtime/default, unconfined,
 * localhost/...); validateAppArmorAnnotationsAndFieldsMatchOnCreate: an
 * annotation and the container's profile (its own, else the pod's) agree,
 * after the create's version skew copied what it could. */
START_TEST(pod_apparmor_annotations_are_validated)
{
    static const char pods[] = "/api/v1/namespaces/default/pods";
    expect_causes(pods,
                  "{\"metadata\":{\"name\":\"aa\",\"annotations\":{"
                  "\"container.apparmor.security.beta.kubernetes.io/c\":\"bogus\","
                  "\"container.apparmor.security.beta.kubernetes.io/nope\":\"runtime/default\"}},"
                  "\"spec\":{\"containers\":[{\"name\":\"c\"}]}}",
                  "Pod \"aa\" is invalid: [metadata.annotations[container.apparmor.security.beta."
                  "kubernetes.io/c]: Invalid value: \"bogus\": invalid AppArmor profile name: "
                  "\"bogus\", metadata.annotations[container.apparmor.security.beta.kubernetes.io/"
                  "nope]: Invalid value: \"nope\": container not found, "
                  "spec.containers[0].image: Required value]",
                  3);
    /* a bogus annotation is copied to no field: the pod's profile, the
     * init container's own, disagree with it (after the spec's problems) */
    expect_causes(pods,
                  "{\"metadata\":{\"name\":\"bb\",\"annotations\":{"
                  "\"container.apparmor.security.beta.kubernetes.io/c\":\"bogus\","
                  "\"container.apparmor.security.beta.kubernetes.io/i\":\"unconfined\","
                  "\"container.apparmor.security.beta.kubernetes.io/d\":\"localhost/a\"}},"
                  "\"spec\":{\"securityContext\":{\"appArmorProfile\":{\"type\":\"Unconfined\"}},"
                  "\"initContainers\":[{\"name\":\"i\",\"image\":\"x\",\"securityContext\":{"
                  "\"appArmorProfile\":{\"type\":\"RuntimeDefault\"}}}],\"containers\":[{"
                  "\"name\":\"c\",\"image\":\"x\"},{\"name\":\"d\",\"image\":\"x\","
                  "\"securityContext\":{\"appArmorProfile\":{\"type\":\"Localhost\","
                  "\"localhostProfile\":\"b\"}}}]}}",
                  "Pod \"bb\" is invalid: [metadata.annotations[container.apparmor.security.beta."
                  "kubernetes.io/c]: Invalid value: \"bogus\": invalid AppArmor profile name: "
                  "\"bogus\", spec.initContainers[0].securityContext.appArmorProfile.type: "
                  "Forbidden: apparmor type in annotation and field must match, "
                  "spec.containers[0].securityContext.appArmorProfile.type: Forbidden: apparmor "
                  "type in annotation and field must match, "
                  "spec.containers[1].securityContext.appArmorProfile.localhostProfile: "
                  "Forbidden: apparmor profile in annotation and field must match]",
                  4);
    /* the profiles kube knows, and an empty one, pass */
    json_decref(created(pods, "{\"metadata\":{\"name\":\"cc\",\"annotations\":{"
                              "\"container.apparmor.security.beta.kubernetes.io/a\":\"\","
                              "\"container.apparmor.security.beta.kubernetes.io/b\":"
                              "\"localhost/p\",\"container.apparmor.security.beta.kubernetes.io/"
                              "c\":\"unconfined\"}},\"spec\":{\"containers\":[{\"name\":\"a\","
                              "\"image\":\"x\"},{\"name\":\"b\",\"image\":\"x\"},{\"name\":\"c\","
                              "\"image\":\"x\"}]}}"));
}
END_TEST

/* The status of `path` (GET), as compact JSON with sorted keys. */
static char *status_text(const char *path)
{
    tc_response r;
    tc_json(U, "GET", path, NULL, &r);
    ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body);
    char *text = json_dumps(json_object_get(r.json, "status"), JSON_COMPACT | JSON_SORT_KEYS);
    tc_free(&r);
    return text;
}

/* An autoscaler created without a status, through either version, has the
 * Go zero status of each version it is read through: v1's counts are not
 * omitempty, v2's currentReplicas is and its currentMetrics is not. */
START_TEST(autoscalers_have_the_zero_status_of_the_version_read)
{
    static const char *const versions[] = {"v1", "v2"};
    for (size_t i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof(path),
                 "/apis/autoscaling/%s/namespaces/default/horizontalpodautoscalers", versions[i]);
        char *body = kr_asprintf(
            "{\"metadata\":{\"name\":\"h%s\"},\"spec\":{\"scaleTargetRef\":{\"apiVersion\":"
            "\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"web\"},\"maxReplicas\":5}}",
            versions[i]);
        json_decref(created(path, body));
        kr_free(body);
        for (size_t j = 0; j < 2; j++) {
            snprintf(path, sizeof(path),
                     "/apis/autoscaling/%s/namespaces/default/horizontalpodautoscalers/h%s",
                     versions[j], versions[i]);
            char *got = status_text(path);
            ck_assert_msg(got, "%s", path);
            ck_assert_str_eq(got, j == 0 ? "{\"currentReplicas\":0,\"desiredReplicas\":0}"
                                         : "{\"currentMetrics\":null,\"desiredReplicas\":0}");
            free(got);
        }
    }
}
END_TEST

int main(void)
{
    const TTest *tests[] = {discovery_serves_aggregated_and_legacy_forms,
                            version_health_and_openapi,
                            create_sets_server_metadata_and_get_returns_it,
                            built_in_objects_carry_their_zero_top_level_fields,
                            leases_are_validated,
                            cronjob_schedules_are_parsed_as_cron_does,
                            pod_volume_mounts_are_validated,
                            pod_volume_sources_are_validated,
                            container_resource_names_are_validated,
                            create_rejects_bad_input_with_apiserver_status,
                            oversized_bodies_get_413,
                            generate_name_and_accept_negotiation,
                            list_is_sorted_and_reports_the_current_rv,
                            list_pages_with_continue_and_expires_tokens,
                            continue_tokens_stay_under_the_requested_path,
                            list_validates_resource_version_options,
                            list_at_an_exact_resource_version_shows_the_past,
                            label_and_field_selectors_filter,
                            kinds_select_by_their_own_fields,
                            events_are_validated_as_the_apiserver_does,
                            pod_log_checks_the_pod_and_container,
                            pod_streams_are_checked_and_meet_no_kubelet,
                            eviction_respects_the_disruption_budget,
                            binding_places_a_pod_on_a_node_once,
                            builtin_kinds_get_the_apiserver_defaults,
                            newer_builtin_kinds_get_their_scheme_defaults,
                            remaining_builtin_kinds_get_their_defaults,
                            builtin_kinds_are_validated_as_the_apiserver_does,
                            pod_template_labels_are_checked_as_object_labels,
                            deprecated_pod_labels_and_annotations_are_warned_about,
                            pod_warnings_name_null_selectors_duplicates_and_negative_grace,
                            pod_apparmor_annotations_and_fields_are_synced_on_create,
                            pod_apparmor_annotations_are_validated,
                            pod_apparmor_annotations_are_kept_by_updates_and_checked_in_templates,
                            pod_warnings_for_volumes_quantities_env_and_ports,
                            port_names_are_checked_as_the_apiserver_checks_them,
                            container_probes_are_validated_as_the_apiserver_does,
                            env_value_sources_are_validated_as_the_apiserver_does,
                            container_lifecycle_hooks_are_validated_as_the_apiserver_does,
                            init_containers_have_probes_and_hooks_only_as_sidecars,
                            bodies_of_another_kind_are_refused_as_the_decoder_refuses_them,
                            owner_references_are_validated,
                            configmaps_and_secrets_hold_at_most_a_mebibyte,
                            updates_keep_what_kube_apiserver_keeps,
                            empty_omitempty_maps_are_left_out,
                            names_and_labels_are_checked_in_the_apiserver_words,
                            metadata_problems_are_listed_with_the_specs,
                            certificate_requests_record_the_requester_and_keep_approval_apart,
                            services_get_cluster_ips_and_node_ports,
                            refused_service_writes_allocate_nothing,
                            service_cluster_ips_are_read_as_the_allocator_reads_them,
                            apiservices_register_what_is_served,
                            updates_may_not_change_immutable_fields,
                            update_rules_are_listed_with_the_objects_problems,
                            status_writes_validate_the_metadata_the_strategy_keeps,
                            pod_status_addresses_are_decoded_and_validated_as_1_32_does,
                            update_bumps_generation_only_for_spec_and_conflicts_on_stale_rv,
                            patch_types_go_through_the_patch_engine,
                            json_patches_are_applied_as_the_apiserver_does,
                            merge_patches_that_are_no_object_are_refused_as_the_apiserver_does,
                            secret_string_data_is_merged_into_data,
                            pods_get_requests_from_limits_and_ephemeral_containers,
                            volumes_policies_limits_and_nodes_get_their_defaults,
                            claims_and_ingresses_get_the_default_class,
                            numeric_quantities_are_stored_as_canonical_strings,
                            string_quantities_are_stored_as_go_writes_them,
                            times_are_stored_as_go_writes_them,
                            server_side_apply_creates_then_patches,
                            write_options_are_validated_before_the_body,
                            scale_subresource_reads_and_writes_replicas,
                            scale_selector_says_the_whole_label_selector,
                            delete_answers_status_or_object_and_honours_finalizers,
                            deletecollection_and_legacy_watch_path,
                            deletecollection_cascades_to_dependents_as_delete_does,
                            dry_run_stores_nothing,
                            deleting_a_namespace_deletes_its_contents,
                            foreground_deletion_waits_for_blocking_dependents,
                            a_namespace_terminates_until_its_contents_are_gone,
                            autoscalers_are_served_as_v1_and_v2,
                            autoscalers_have_the_zero_status_of_the_version_read,
                            watch_streams_changes_from_a_resource_version,
                            watch_from_compacted_history_gets_410_error_event,
                            watch_sends_bookmarks_and_one_before_timeout,
                            watch_list_ends_initial_events_with_annotated_bookmark,
                            watch_selector_transitions_become_added_and_deleted,
                            removing_the_last_finalizer_deletes_the_object_as_stored,
                            watch_faults_close_streams,
                            restart_ends_watches_and_forgets_history,
                            watches_of_clients_that_went_away_are_dropped,
                            slow_watcher_is_closed_without_stalling_others,
                            thousands_of_watches_all_receive_each_event,
                            faults_answer_429_500_503,
                            a_write_can_be_done_and_answered_500,
                            latency_waits_without_holding_a_thread,
                            tokens_give_401_and_verb_table_gives_403,
                            tls_with_client_certificates_and_tokens,
                            background_deletion_cascades_to_owned_objects,
                            a_dependent_with_another_live_owner_is_kept,
                            a_dependent_whose_owners_are_absent_is_collected,
                            crd_makes_its_resource_servable_and_takes_it_along,
                            custom_resources_are_selected_by_their_selectable_fields,
                            crd_deletion_waits_for_its_custom_resources_finalizers,
                            crd_deletion_without_finalizers_is_immediate,
                            crd_served_version_change_is_not_replayed_from_its_resource_version,
                            custom_resources_named_like_builtins_stay_plain,
                            load_api_accepts_json_lists_and_yaml,
                            handler_survives_allocation_failures,
                            NULL};
    return kr_test_run_tests("testserver", "wire", setup, kr_test_server_stop, 60, tests);
}
