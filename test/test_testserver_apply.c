/* Server-side apply in the in-memory apiserver, over HTTP, against the
 * semantics the Kubernetes conformance tests "ServerSideApply"
 * (test/e2e/apimachinery/apply.go) check: field ownership recorded in
 * metadata.managedFields (list items by their keys, one entry per manager
 * and operation), status applied only through /status, fields a manager
 * stops applying removed unless another manager owns them, conflicts with
 * the fields of other managers (409 with one cause per field) unless
 * forced, Update entries that record only what an update changed, sets
 * and atomic lists of custom resources, applies through every served
 * version, managedFields refused in a configuration, dry runs.
 * KR_TEST_THREADED */
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_server.h"
#include "kreconcile/testserver.h"
#include "ts_client.h"

static const char *U;

#define PODS "/api/v1/namespaces/default/pods"
#define SERVICES "/api/v1/namespaces/default/services"
#define CONFIGMAPS "/api/v1/namespaces/default/configmaps"
#define DEPLOYMENTS "/apis/apps/v1/namespaces/default/deployments"
#define CRDS "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
/* The user agent of the e2e tests' client: its manager is "e2e.test". */
#define E2E_AGENT "e2e.test/v1.32.0 (linux/amd64) kubernetes/abcdef"

static void setup(void)
{
    kr_testserver_opts o = {.seed = 29};
    kr_test_server_start(&o, &U);
}

static void teardown(void)
{
    kr_test_server_stop();
}

/* ---- helpers ------------------------------------------------------------------------- */

/* `v` as compact JSON, for failure messages (a static buffer). */
static const char *text(const json_t *v)
{
    static char buf[16384];
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
    free(s);
    return buf;
}

/* The value at `path` in `v`: keys separated by '.', a number indexes an
 * array. Borrowed; NULL when absent. */
static json_t *at(const json_t *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = (json_t *)v;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
        cur = json_is_array(cur) ? json_array_get(cur, strtoul(tok, NULL, 10))
                                 : json_object_get(cur, tok);
    return cur;
}

static const char *str_at(const json_t *v, const char *path)
{
    return json_string_value(at(v, path));
}

/* The response's status is `code`; else fail naming `what` and printing
 * the server's answer (a macro: the failure names the caller's line). */
#define expect_code(r, code, what)                                                                 \
    ck_assert_msg((r)->status == (code), "%s: want %ld, got %ld: %s", (what), (long)(code),        \
                  (r)->status, (r)->body ? (r)->body : "(no body)")

/* PATCH `path` with `body` as application/apply-patch+yaml for `manager`
 * (force=true when `force`); `path` may carry a query already. The
 * status and parsed answer in *r (tc_free it). */
static void apply(const char *path, const char *manager, const char *body, bool force,
                  tc_response *r)
{
    char *url = kr_asprintf("%s%cfieldManager=%s%s", path, strchr(path, '?') ? '&' : '?', manager,
                            force ? "&force=true" : "");
    ck_assert_ptr_nonnull(url);
    tc_request(U, "PATCH", url, "application/apply-patch+yaml", body, NULL, r);
    kr_free(url);
}

/* `method` on `path` with a JSON body sent by the client `agent` (a
 * User-Agent header; NULL: none). */
static void send_as(const char *method, const char *path, const char *ctype, const char *body,
                    const char *agent, tc_response *r)
{
    char ua[256];
    const char *headers[] = {NULL, NULL};
    if (agent) {
        snprintf(ua, sizeof(ua), "User-Agent: %s", agent);
        headers[0] = ua;
    }
    tc_request(U, method, path, ctype, body, headers, r);
}

static void merge_patch(const char *path, const char *agent, const char *body, tc_response *r)
{
    send_as("PATCH", path, "application/merge-patch+json", body, agent, r);
}

/* GET `path`, which must answer 200: the object (new reference). */
static json_t *get_obj(const char *path)
{
    tc_response r;
    tc_json(U, "GET", path, NULL, &r);
    expect_code(&r, 200, path);
    ck_assert_ptr_nonnull(r.json);
    json_t *obj = json_incref(r.json);
    tc_free(&r);
    return obj;
}

/* The managedFields entry of `manager` with `operation` in `obj`
 * (borrowed), or NULL. */
static json_t *find_managed(const json_t *obj, const char *manager, const char *operation)
{
    json_t *list = at(obj, "metadata.managedFields");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *m = json_string_value(json_object_get(e, "manager"));
        const char *op = json_string_value(json_object_get(e, "operation"));
        if (m && op && strcmp(m, manager) == 0 && strcmp(op, operation) == 0)
            return e;
    }
    return NULL;
}

/* The entry of `manager` with `operation`, which must exist. */
static json_t *must_find_managed(const json_t *obj, const char *manager, const char *operation)
{
    json_t *e = find_managed(obj, manager, operation);
    ck_assert_msg(e, "no managedFields entry of %s (%s): %s", manager, operation,
                  text(at(obj, "metadata.managedFields")));
    return e;
}

/* Whether the entry's fieldsV1 holds the path of FieldsV1 keys given
 * ("f:data", "f:b", ..., NULL). */
__attribute__((sentinel)) static bool owns(const json_t *entry, ...)
{
    json_t *cur = entry ? json_object_get(entry, "fieldsV1") : NULL;
    va_list ap;
    va_start(ap, entry);
    for (const char *k = va_arg(ap, const char *); k && cur; k = va_arg(ap, const char *))
        cur = json_object_get(cur, k);
    va_end(ap);
    return cur != NULL;
}

/* The entry's fieldsV1 as the apiserver serialises it: compact, in the
 * order the answer gave the keys. New (free()). */
static char *fields_text(const json_t *entry)
{
    json_t *f = json_object_get(entry, "fieldsV1");
    return f ? json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
}

static json_int_t int_at(const json_t *obj, const char *path)
{
    json_t *v = at(obj, path);
    ck_assert_msg(json_is_integer(v), "%s is not an integer in %s", path, text(obj));
    return json_integer_value(v);
}

static bool has_condition(const json_t *pod, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(at(pod, "status.conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && strcmp(t, type) == 0)
            return true;
    }
    return false;
}

/* The answer is the apiserver's apply conflict: 409 Conflict with
 * `message` and one FieldManagerConflict cause per field of `fields`
 * (NULL-terminated, in order), each with `cause_message`. */
static void expect_conflict(const tc_response *r, const char *message, const char *cause_message,
                            const char *const *fields)
{
    expect_code(r, 409, "conflicting apply");
    ck_assert_msg(r->json, "no JSON: %s", r->body);
    ck_assert_str_eq(str_at(r->json, "kind"), "Status");
    ck_assert_str_eq(str_at(r->json, "status"), "Failure");
    ck_assert_msg(str_at(r->json, "reason") && strcmp(str_at(r->json, "reason"), "Conflict") == 0,
                  "reason: %s", r->body);
    ck_assert_int_eq(json_integer_value(json_object_get(r->json, "code")), 409);
    if (message)
        ck_assert_msg(str_at(r->json, "message") &&
                          strcmp(str_at(r->json, "message"), message) == 0,
                      "message:\n  want %s\n  got  %s", message, str_at(r->json, "message"));
    json_t *causes = at(r->json, "details.causes");
    size_t n = 0;
    while (fields[n])
        n++;
    ck_assert_msg(json_is_array(causes) && json_array_size(causes) == n, "want %zu causes, got: %s",
                  n, r->body);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(causes, i);
        /* metav1.StatusCause's Type goes on the wire as "reason" */
        ck_assert_msg(str_at(c, "reason") &&
                          strcmp(str_at(c, "reason"), "FieldManagerConflict") == 0 &&
                          !json_object_get(c, "type"),
                      "cause %zu: %s", i, text(c));
        ck_assert_msg(str_at(c, "field") && strcmp(str_at(c, "field"), fields[i]) == 0,
                      "cause %zu: want field %s: %s", i, fields[i], text(c));
        if (cause_message)
            ck_assert_msg(str_at(c, "message") && strcmp(str_at(c, "message"), cause_message) == 0,
                          "cause %zu: want message %s: %s", i, cause_message, text(c));
    }
}

/* The e2e tests' Deployment `name`: replicas when >= 0, the pod's
 * hostname when not NULL, the container's port 80/TCP when `ports`. New
 * (kr_free). */
static char *deployment(const char *name, int replicas, const char *hostname, bool ports)
{
    char rep[32] = "", host[128] = "";
    if (replicas >= 0)
        snprintf(rep, sizeof(rep), "\"replicas\":%d,", replicas);
    if (hostname)
        snprintf(host, sizeof(host), "\"hostname\":\"%s\",", hostname);
    char *body = kr_asprintf(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"%s\","
        "\"labels\":{\"app\":\"nginx\"}},\"spec\":{%s\"selector\":{\"matchLabels\":"
        "{\"app\":\"nginx\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"nginx\"}},"
        "\"spec\":{%s\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx\"%s}]}}}}",
        name, rep, host, ports ? ",\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]" : "");
    ck_assert_ptr_nonnull(body);
    return body;
}

/* ---- 1 ------------------------------------------------------------------------------- */

/* Apply `body` to `path` as apply_test (created), then as apply_test_2
 * (no conflict): both own exactly `want` (fieldsV1 as serialised). */
static void expect_shared_ownership(const char *path, const char *body, const char *want)
{
    tc_response r;
    apply(path, "apply_test", body, false, &r);
    expect_code(&r, 201, "apply as apply_test (create)");
    tc_free(&r);
    json_decref(get_obj(path));
    apply(path, "apply_test_2", body, false, &r);
    expect_code(&r, 200, "the same apply as apply_test_2");
    ck_assert_ptr_nonnull(r.json);
    static const char *const managers[] = {"apply_test", "apply_test_2"};
    for (size_t i = 0; i < 2; i++) {
        json_t *e = must_find_managed(r.json, managers[i], "Apply");
        char *got = fields_text(e);
        ck_assert_msg(got && strcmp(got, want) == 0, "%s: %s's fieldsV1:\n  want %s\n  got  %s",
                      path, managers[i], want, got ? got : "(none)");
        free(got);
    }
    tc_free(&r);
}

START_TEST(create_by_apply_and_shared_ownership)
{
    expect_shared_ownership(
        PODS "/test-pod",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"test-pod\"},"
        "\"spec\":{\"containers\":[{\"name\":\"test-container\",\"image\":\"test-image\"}]}}",
        "{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"test-container\\\"}\":"
        "{\".\":{},\"f:image\":{},\"f:name\":{}}}}}");
    expect_shared_ownership(
        SERVICES "/test-svc",
        "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"test-svc\"},"
        "\"spec\":{\"ports\":[{\"port\":8080,\"protocol\":\"UDP\"}]}}",
        "{\"f:spec\":{\"f:ports\":{\"k:{\\\"port\\\":8080,\\\"protocol\\\":\\\"UDP\\\"}\":"
        "{\".\":{},\"f:port\":{},\"f:protocol\":{}}}}}");
}
END_TEST

/* ---- 2 ------------------------------------------------------------------------------- */

START_TEST(apply_to_status_only_through_the_status_subresource)
{
    static const char pod[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"test-pod\"},"
        "\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx\"}]}}";
    static const char status[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"test-pod\"},"
        "\"status\":{\"conditions\":[{\"type\":\"MyStatus\",\"status\":\"True\"}]}}";
    tc_response r;
    apply(PODS "/test-pod", "apply_test", pod, false, &r);
    expect_code(&r, 201, "apply the pod");
    tc_free(&r);
    json_decref(get_obj(PODS "/test-pod"));

    /* the main resource ignores status */
    apply(PODS "/test-pod", "apply_test2", status, false, &r);
    expect_code(&r, 200, "apply status to the main resource");
    tc_free(&r);
    json_t *got = get_obj(PODS "/test-pod");
    ck_assert_msg(!has_condition(got, "MyStatus"),
                  "an apply to the main resource changed the status: %s", text(got));
    json_decref(got);

    /* /status takes it */
    apply(PODS "/test-pod/status", "apply_test2", status, false, &r);
    expect_code(&r, 200, "apply status to /status");
    tc_free(&r);
    got = get_obj(PODS "/test-pod");
    ck_assert_msg(has_condition(got, "MyStatus"), "the applied status is missing: %s", text(got));
    json_decref(got);
}
END_TEST

/* ---- 3 ------------------------------------------------------------------------------- */

START_TEST(a_field_dropped_from_the_configuration_is_removed)
{
    tc_response r;
    char *body = deployment("deployment", 3, NULL, true);
    apply(DEPLOYMENTS "/deployment", "apply_test", body, false, &r);
    expect_code(&r, 201, "apply with ports");
    ck_assert_msg(at(r.json, "spec.template.spec.containers.0.ports"), "no ports: %s", r.body);
    tc_free(&r);
    kr_free(body);

    body = deployment("deployment", 3, NULL, false);
    apply(DEPLOYMENTS "/deployment", "apply_test", body, false, &r);
    expect_code(&r, 200, "apply without ports");
    tc_free(&r);
    kr_free(body);
    json_t *got = get_obj(DEPLOYMENTS "/deployment");
    json_t *c0 = at(got, "spec.template.spec.containers.0");
    ck_assert_msg(c0, "no container: %s", text(got));
    ck_assert_msg(!json_object_get(c0, "ports"), "the ports no manager applies stayed: %s",
                  text(c0));
    json_decref(got);
}
END_TEST

/* ---- 4 ------------------------------------------------------------------------------- */

START_TEST(a_field_another_applier_owns_is_kept)
{
    static const char path[] = DEPLOYMENTS "/deployment-shared-unset";
    tc_response r;
    char *body = deployment("deployment-shared-unset", 3, "test-hostname", false);
    apply(path, "shared_owner_1", body, false, &r);
    expect_code(&r, 201, "apply as shared_owner_1");
    tc_free(&r);
    apply(path, "shared_owner_2", body, false, &r);
    expect_code(&r, 200, "apply as shared_owner_2");
    tc_free(&r);
    kr_free(body);

    body = deployment("deployment-shared-unset", -1, NULL, false);
    apply(path, "shared_owner_1", body, false, &r);
    expect_code(&r, 200, "apply as shared_owner_1 without replicas and hostname");
    kr_free(body);
    ck_assert_msg(json_integer_value(at(r.json, "spec.replicas")) == 3,
                  "spec.replicas (still owned by shared_owner_2) changed: %s", r.body);
    const char *host = str_at(r.json, "spec.template.spec.hostname");
    ck_assert_msg(host && strcmp(host, "test-hostname") == 0,
                  "spec.template.spec.hostname (still owned by shared_owner_2) changed: %s",
                  r.body);
    tc_free(&r);
}
END_TEST

/* ---- 5 ------------------------------------------------------------------------------- */

START_TEST(conflicts_and_force)
{
    static const char path[] = DEPLOYMENTS "/deployment";
    tc_response r;
    char *body = deployment("deployment", 3, NULL, false);
    apply(path, "apply_test", body, false, &r);
    expect_code(&r, 201, "apply");
    tc_free(&r);

    /* an update by another client takes spec.replicas */
    merge_patch(path, E2E_AGENT, "{\"spec\":{\"replicas\":5}}", &r);
    expect_code(&r, 200, "merge patch as e2e.test");
    ck_assert_int_eq(int_at(r.json, "spec.replicas"), 5);
    json_t *e = must_find_managed(r.json, "e2e.test", "Update");
    ck_assert_msg(owns(e, "f:spec", "f:replicas", NULL), "e2e.test does not own replicas: %s",
                  text(e));
    ck_assert_str_eq(str_at(e, "apiVersion"), "apps/v1");
    tc_free(&r);
    json_t *before = get_obj(path);

    /* re-applying the old value conflicts, and changes nothing */
    apply(path, "apply_test", body, false, &r);
    expect_conflict(&r,
                    "Apply failed with 1 conflict: conflict with \"e2e.test\" using apps/v1: "
                    ".spec.replicas",
                    "conflict with \"e2e.test\" using apps/v1",
                    (const char *const[]){".spec.replicas", NULL});
    tc_free(&r);
    json_t *after = get_obj(path);
    ck_assert_int_eq(int_at(after, "spec.replicas"), 5);
    ck_assert_str_eq(str_at(after, "metadata.resourceVersion"),
                     str_at(before, "metadata.resourceVersion"));
    ck_assert_msg(json_equal(before, after), "a refused apply changed the object:\n%s",
                  text(after));
    json_decref(after);
    json_decref(before);

    /* force takes it back */
    apply(path, "apply_test", body, true, &r);
    expect_code(&r, 200, "forced apply");
    ck_assert_int_eq(int_at(r.json, "spec.replicas"), 3);
    ck_assert_msg(
        owns(must_find_managed(r.json, "apply_test", "Apply"), "f:spec", "f:replicas", NULL),
        "apply_test does not own replicas after forcing: %s",
        text(at(r.json, "metadata.managedFields")));
    e = find_managed(r.json, "e2e.test", "Update");
    ck_assert_msg(!owns(e, "f:spec", "f:replicas", NULL),
                  "e2e.test still owns spec.replicas after a forced apply: %s", text(e));
    tc_free(&r);

    /* force as the apiserver reads a boolean query parameter: "false" and
     * "0" in any case are false, anything else true (the Python client
     * sends force=True) */
    static const char *const spellings[][2] = {
        {"?force=FALSE", "409"}, {"?force=0", "409"}, {"?force=True", "200"}, {"?force=1", "200"}};
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
        merge_patch(path, E2E_AGENT, "{\"spec\":{\"replicas\":6}}", &r);
        tc_free(&r);
        char *url = kr_asprintf("%s%s", path, spellings[i][0]);
        ck_assert_ptr_nonnull(url);
        apply(url, "apply_test", body, false, &r);
        ck_assert_msg(r.status == atol(spellings[i][1]), "%s: want %s, got %ld: %s",
                      spellings[i][0], spellings[i][1], r.status, r.body ? r.body : "");
        tc_free(&r);
        kr_free(url);
    }
    kr_free(body);
}
END_TEST

START_TEST(two_conflicts_are_listed_in_path_order)
{
    static const char path[] = DEPLOYMENTS "/deployment";
    tc_response r;
    char *body = deployment("deployment", 3, "test-hostname", false);
    apply(path, "apply_test", body, false, &r);
    expect_code(&r, 201, "apply");
    tc_free(&r);
    merge_patch(path, E2E_AGENT,
                "{\"spec\":{\"template\":{\"spec\":{\"hostname\":\"other-hostname\"}},"
                "\"replicas\":5}}",
                &r);
    expect_code(&r, 200, "merge patch as e2e.test");
    tc_free(&r);
    apply(path, "apply_test", body, false, &r);
    expect_conflict(&r,
                    "Apply failed with 2 conflicts: conflicts with \"e2e.test\" using apps/v1:\n"
                    "- .spec.replicas\n"
                    "- .spec.template.spec.hostname",
                    "conflict with \"e2e.test\" using apps/v1",
                    (const char *const[]){".spec.replicas", ".spec.template.spec.hostname", NULL});
    tc_free(&r);
    kr_free(body);
}
END_TEST

/* ---- 6 ------------------------------------------------------------------------------- */

#define GROUP "apply.example.com"
#define NOXUS_V1 "/apis/" GROUP "/v1/noxus"
#define NOXUS_BETA "/apis/" GROUP "/v1beta1/noxus"
#define ATOMICS "/apis/" GROUP "/v1/atomics"

/* The e2e test's schema for both versions of its CRD. */
static const char NOXU_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
    "\"x-kubernetes-preserve-unknown-fields\":true,\"properties\":{"
    "\"cronSpec\":{\"type\":\"string\","
    "\"pattern\":\"^(\\\\d+|\\\\*)(/\\\\d+)?(\\\\s+(\\\\d+|\\\\*)(/\\\\d+)?){4}$\"},"
    "\"ports\":{\"type\":\"array\",\"x-kubernetes-list-map-keys\":[\"containerPort\","
    "\"protocol\"],\"x-kubernetes-list-type\":\"map\",\"items\":{\"type\":\"object\","
    "\"required\":[\"containerPort\",\"protocol\"],\"properties\":{"
    "\"containerPort\":{\"type\":\"integer\",\"format\":\"int32\"},"
    "\"hostIP\":{\"type\":\"string\"},"
    "\"hostPort\":{\"type\":\"integer\",\"format\":\"int32\"},"
    "\"name\":{\"type\":\"string\"},"
    "\"protocol\":{\"type\":\"string\"}}}}}}}}";

static const char ATOMIC_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
    "\"x-kubernetes-preserve-unknown-fields\":true,\"properties\":{"
    "\"atomicList\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"atomic\","
    "\"items\":{\"type\":\"string\"}}}}}}";

/* Create the cluster-scoped CRD plural.GROUP (kind `kind`) serving v1
 * (storage) and, when `beta`, v1beta1, both with `schema`; wait until
 * `collection` is served. */
static void create_crd(const char *plural, const char *kind, bool beta, const char *schema,
                       const char *collection)
{
    char *version_beta =
        beta ? kr_asprintf(",{\"name\":\"v1beta1\",\"served\":true,\"storage\":false,"
                           "\"schema\":{\"openAPIV3Schema\":%s}}",
                           schema)
             : NULL;
    char *crd = kr_asprintf(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"%s." GROUP "\"},\"spec\":{\"group\":\"" GROUP "\","
        "\"scope\":\"Cluster\",\"names\":{\"plural\":\"%s\",\"kind\":\"%s\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
        "\"schema\":{\"openAPIV3Schema\":%s}}%s]}}",
        plural, plural, kind, schema, version_beta ? version_beta : "");
    ck_assert_ptr_nonnull(crd);
    tc_response r;
    tc_json(U, "POST", CRDS, crd, &r);
    expect_code(&r, 201, "create the CRD");
    tc_free(&r);
    kr_free(crd);
    kr_free(version_beta);
    long st = 0;
    for (int i = 0; i < 250 && st != 200; i++) {
        if (i)
            usleep(20 * 1000);
        tc_json(U, "GET", collection, NULL, &r);
        st = r.status;
        tc_free(&r);
    }
    ck_assert_msg(st == 200, "%s is not served after 5 s: %ld", collection, st);
}

static size_t count_at(const json_t *obj, const char *path)
{
    return json_array_size(at(obj, path));
}

static bool finalizer(const json_t *obj, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(at(obj, "metadata.finalizers"), i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), name) == 0)
            return true;
    }
    return false;
}

/* The answer `r` to `what`: 200 or 201 as `code`, then the counts of
 * finalizers (< 0: not checked), replicas and ports. */
static void expect_noxu(const tc_response *r, long code, const char *what, int finalizers,
                        int replicas, int ports)
{
    expect_code(r, code, what);
    ck_assert_msg(r->json, "%s: no JSON: %s", what, r->body);
    if (finalizers >= 0)
        ck_assert_msg(count_at(r->json, "metadata.finalizers") == (size_t)finalizers,
                      "%s: want %d finalizers: %s", what, finalizers, r->body);
    ck_assert_msg(json_integer_value(at(r->json, "spec.replicas")) == replicas,
                  "%s: want replicas %d: %s", what, replicas, r->body);
    ck_assert_msg(count_at(r->json, "spec.ports") == (size_t)ports, "%s: want %d ports: %s", what,
                  ports, r->body);
}

/* The e2e test's configuration through `version`, with the finalizer
 * when `finalizers`. New (kr_free). */
static char *noxu_yaml(const char *version, bool finalizers)
{
    char *y = kr_asprintf("\napiVersion: " GROUP "/%s\nkind: Noxu\nmetadata:\n  name: mytest\n%s"
                          "spec:\n  cronSpec: \"* * * * */5\"\n  replicas: 1\n  ports:\n"
                          "  - name: x\n    containerPort: 80\n    protocol: TCP",
                          version, finalizers ? "  finalizers:\n  - test-finalizer\n" : "");
    ck_assert_ptr_nonnull(y);
    return y;
}

START_TEST(custom_resources)
{
    create_crd("noxus", "Noxu", true, NOXU_SCHEMA, NOXUS_V1);
    static const char path[] = NOXUS_V1 "/mytest";
    char *yaml = noxu_yaml("v1", true);
    tc_response r;
    apply(path, "apply_test", yaml, false, &r);
    expect_noxu(&r, 201, "apply through v1", 1, 1, 1);
    ck_assert_msg(finalizer(r.json, "test-finalizer"), "%s", r.body);
    tc_free(&r);

    /* through the other served version */
    char *beta = noxu_yaml("v1beta1", false);
    apply(NOXUS_BETA "/mytest", "apply_test", beta, false, &r);
    expect_noxu(&r, 200, "apply through v1beta1", -1, 1, 1);
    tc_free(&r);
    kr_free(beta);

    /* finalizers are a set: another manager's member stays */
    merge_patch(path, E2E_AGENT,
                "{\"metadata\":{\"finalizers\":[\"test-finalizer\",\"another-one\"]}}", &r);
    expect_noxu(&r, 200, "merge patch adding a finalizer", 2, 1, 1);
    tc_free(&r);
    apply(path, "apply_test", yaml, false, &r);
    expect_noxu(&r, 200, "re-apply after another finalizer was added", 2, 1, 1);
    ck_assert_msg(finalizer(r.json, "test-finalizer") && finalizer(r.json, "another-one"), "%s",
                  r.body);
    tc_free(&r);

    /* a changed replicas conflicts; force takes it back */
    merge_patch(path, E2E_AGENT, "{\"spec\":{\"replicas\":5}}", &r);
    expect_noxu(&r, 200, "merge patch of replicas", 2, 5, 1);
    tc_free(&r);
    apply(path, "apply_test", yaml, false, &r);
    expect_conflict(&r,
                    "Apply failed with 1 conflict: conflict with \"e2e.test\" using " GROUP
                    "/v1: .spec.replicas",
                    "conflict with \"e2e.test\" using " GROUP "/v1",
                    (const char *const[]){".spec.replicas", NULL});
    tc_free(&r);
    apply(path, "apply_test", yaml, true, &r);
    expect_noxu(&r, 200, "forced re-apply", 2, 1, 1);
    tc_free(&r);

    /* a new applier changing another's list item conflicts; adding one does not */
    apply(path, "apply_test_2",
          "\napiVersion: " GROUP "/v1\nkind: Noxu\nmetadata:\n  name: mytest\nspec:\n  ports:\n"
          "  - name: \"y\"\n    containerPort: 80\n    protocol: TCP",
          false, &r);
    /* (an Apply manager is named without its apiVersion) */
    expect_conflict(
        &r,
        "Apply failed with 1 conflict: conflict with \"apply_test\": "
        ".spec.ports[containerPort=80,protocol=\"TCP\"].name",
        "conflict with \"apply_test\"",
        (const char *const[]){".spec.ports[containerPort=80,protocol=\"TCP\"].name", NULL});
    tc_free(&r);
    apply(path, "apply_test_2",
          "\napiVersion: " GROUP "/v1\nkind: Noxu\nmetadata:\n  name: mytest\nspec:\n  ports:\n"
          "  - name: \"y\"\n    containerPort: 8080\n    protocol: TCP",
          false, &r);
    expect_noxu(&r, 200, "apply_test_2 adds a port", 2, 1, 2);
    tc_free(&r);

    /* no create on update for custom resources */
    send_as("PUT", NOXUS_V1 "/should-not-exist?fieldManager=apply_test", "application/json",
            "{\"apiVersion\":\"" GROUP "/v1\",\"kind\":\"Noxu\",\"metadata\":{\"name\":"
            "\"should-not-exist\",\"finalizers\":[\"test-finalizer\"]},\"spec\":{\"cronSpec\":"
            "\"* * * * */5\",\"replicas\":1,\"ports\":[{\"name\":\"x\",\"containerPort\":80}]},"
            "\"protocol\":\"TCP\"}",
            NULL, &r);
    expect_code(&r, 404, "PUT of an object that does not exist");
    tc_free(&r);

    /* an atomic list is replaced whole */
    create_crd("atomics", "Atomic", false, ATOMIC_SCHEMA, ATOMICS);
    apply(ATOMICS "/mytest", "apply_test",
          "\napiVersion: " GROUP "/v1\nkind: Atomic\nmetadata:\n  name: mytest\nspec:\n"
          "  atomicList:\n  - \"item1\"",
          false, &r);
    expect_code(&r, 201, "apply atomicList [item1]");
    ck_assert_msg(strcmp(text(at(r.json, "spec.atomicList")), "[\"item1\"]") == 0,
                  "the atomic list is not exactly [item1]: %s", r.body);
    tc_free(&r);
    apply(ATOMICS "/mytest", "apply_test_2",
          "\napiVersion: " GROUP "/v1\nkind: Atomic\nmetadata:\n  name: mytest\nspec:\n"
          "  atomicList:\n  - \"item2\"",
          true, &r);
    expect_code(&r, 200, "forced apply of atomicList [item2]");
    ck_assert_msg(strcmp(text(at(r.json, "spec.atomicList")), "[\"item2\"]") == 0,
                  "the atomic list is not exactly [item2]: %s", r.body);
    tc_free(&r);

    /* let the object go */
    merge_patch(path, E2E_AGENT, "{\"metadata\":{\"finalizers\":[]}}", &r);
    expect_code(&r, 200, "merge patch clearing the finalizers");
    ck_assert_msg(count_at(r.json, "metadata.finalizers") == 0, "%s", r.body);
    tc_free(&r);
    kr_free(yaml);
}
END_TEST

/* ---- 7 ------------------------------------------------------------------------------- */

START_TEST(an_update_takes_ownership)
{
    static const char path[] = DEPLOYMENTS "/deployment-shared-map-item-removal";
    tc_response r;
    char *body = deployment("deployment-shared-map-item-removal", 3, NULL, false);
    apply(path, "test_applier", body, false, &r);
    expect_code(&r, 201, "apply");
    tc_free(&r);
    kr_free(body);

    /* a controller's read-modify-write */
    json_t *obj = get_obj(path);
    json_object_set_new(json_object_get(obj, "spec"), "replicas", json_integer(4));
    char *put = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    send_as("PUT", path, "application/json", put, "updater/1.0", &r);
    free(put);
    expect_code(&r, 200, "PUT with replicas 4");
    tc_free(&r);

    body = deployment("deployment-shared-map-item-removal", -1, NULL, false);
    apply(path, "test_applier", body, false, &r);
    expect_code(&r, 200, "apply without replicas");
    ck_assert_msg(json_integer_value(at(r.json, "spec.replicas")) == 4,
                  "replicas (owned by the updater) changed: %s", r.body);
    /* the update took spec.replicas from the applier */
    ck_assert_msg(
        owns(must_find_managed(r.json, "updater", "Update"), "f:spec", "f:replicas", NULL),
        "the update does not own replicas: %s", text(at(r.json, "metadata.managedFields")));
    ck_assert_msg(
        !owns(must_find_managed(r.json, "test_applier", "Apply"), "f:spec", "f:replicas", NULL),
        "the applier still owns replicas: %s", text(at(r.json, "metadata.managedFields")));
    tc_free(&r);
    kr_free(body);
}
END_TEST

/* ---- 8 ------------------------------------------------------------------------------- */

START_TEST(managed_fields_in_the_configuration_are_refused)
{
    static const char cfg[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\","
        "\"managedFields\":[{\"manager\":\"apply_test\",\"operation\":\"Apply\","
        "\"apiVersion\":\"v1\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":"
        "{\"f:a\":{}}}}]},\"data\":{\"a\":\"1\"}}";
    tc_response r;
    /* on create */
    apply(CONFIGMAPS "/cm", "apply_test", cfg, false, &r);
    expect_code(&r, 400, "apply with managedFields (create)");
    ck_assert_str_eq(str_at(r.json, "reason"), "BadRequest");
    ck_assert_str_eq(str_at(r.json, "message"), "metadata.managedFields must be nil");
    tc_free(&r);
    tc_json(U, "GET", CONFIGMAPS "/cm", NULL, &r);
    expect_code(&r, 404, "the refused apply created the object");
    tc_free(&r);
    /* on update */
    apply(CONFIGMAPS "/cm", "apply_test",
          "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\"},"
          "\"data\":{\"a\":\"1\"}}",
          false, &r);
    expect_code(&r, 201, "apply without managedFields");
    tc_free(&r);
    apply(CONFIGMAPS "/cm", "apply_test", cfg, true, &r);
    expect_code(&r, 400, "apply with managedFields (update)");
    ck_assert_str_eq(str_at(r.json, "reason"), "BadRequest");
    ck_assert_str_eq(str_at(r.json, "message"), "metadata.managedFields must be nil");
    tc_free(&r);
    /* the field manager's version check: a configuration without an
     * apiVersion, or of another group, is refused */
    apply(CONFIGMAPS "/cm", "apply_test", "{\"metadata\":{\"name\":\"cm\"},\"data\":{\"a\":\"2\"}}",
          true, &r);
    expect_code(&r, 400, "apply without apiVersion");
    ck_assert_str_eq(str_at(r.json, "message"), "Incorrect version specified in apply patch. "
                                                "Specified patch version: , expected: v1");
    tc_free(&r);
    apply(CONFIGMAPS "/cm2", "apply_test",
          "{\"apiVersion\":\"apps/v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
          "\"cm2\"}}",
          false, &r);
    expect_code(&r, 400, "apply of another group's version");
    ck_assert_str_eq(str_at(r.json, "message"), "Incorrect version specified in apply patch. "
                                                "Specified patch version: apps/v1, expected: v1");
    tc_free(&r);
    tc_json(U, "GET", CONFIGMAPS "/cm2", NULL, &r);
    expect_code(&r, 404, "the refused apply created the object");
    tc_free(&r);
}
END_TEST

/* ---- 9 ------------------------------------------------------------------------------- */

START_TEST(update_entries_record_changed_fields)
{
    static const char path[] = CONFIGMAPS "/cm";
    tc_response r;
    send_as("POST", CONFIGMAPS "?fieldManager=creator", "application/json",
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\"},"
            "\"data\":{\"a\":\"1\"}}",
            NULL, &r);
    expect_code(&r, 201, "POST as creator");
    tc_free(&r);
    merge_patch(CONFIGMAPS "/cm?fieldManager=patcher", NULL, "{\"data\":{\"b\":\"2\"}}", &r);
    expect_code(&r, 200, "merge patch as patcher");
    json_t *creator = must_find_managed(r.json, "creator", "Update");
    json_t *patcher = must_find_managed(r.json, "patcher", "Update");
    ck_assert_msg(owns(creator, "f:data", "f:a", NULL), "creator: %s", text(creator));
    ck_assert_msg(owns(patcher, "f:data", "f:b", NULL), "patcher: %s", text(patcher));
    ck_assert_msg(!owns(patcher, "f:data", "f:a", NULL),
                  "patcher owns data.a, which it did not change: %s", text(patcher));
    ck_assert_str_eq(str_at(patcher, "apiVersion"), "v1");
    tc_free(&r);

    /* another value of patcher's field conflicts */
    apply(path, "applier",
          "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\"},"
          "\"data\":{\"b\":\"3\"}}",
          false, &r);
    expect_conflict(&r, "Apply failed with 1 conflict: conflict with \"patcher\" using v1: .data.b",
                    "conflict with \"patcher\" using v1", (const char *const[]){".data.b", NULL});
    tc_free(&r);
    json_t *got = get_obj(path);
    ck_assert_str_eq(str_at(got, "data.b"), "2");
    json_decref(got);

    /* the same value is shared */
    apply(path, "applier",
          "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\"},"
          "\"data\":{\"b\":\"2\"}}",
          false, &r);
    expect_code(&r, 200, "apply of the same value");
    patcher = must_find_managed(r.json, "patcher", "Update");
    json_t *applier = must_find_managed(r.json, "applier", "Apply");
    ck_assert_msg(owns(patcher, "f:data", "f:b", NULL), "patcher lost data.b: %s", text(patcher));
    ck_assert_msg(owns(applier, "f:data", "f:b", NULL), "applier does not own data.b: %s",
                  text(applier));
    tc_free(&r);
}
END_TEST

/* ---- 10 ------------------------------------------------------------------------------ */

/* kube-apiserver keeps at most ten Update entries: the oldest fold into
 * one "ancient-changes" entry per apiVersion. */
START_TEST(update_managers_are_capped_at_ten)
{
    tc_response r;
    send_as("POST", "/api/v1/namespaces/default/configmaps?fieldManager=m00", "application/json",
            "{\"metadata\":{\"name\":\"many\"},\"data\":{\"k00\":\"v\"}}", NULL, &r);
    ck_assert_msg(r.status == 201, "%s", r.body);
    tc_free(&r);
    for (int i = 1; i <= 11; i++) {
        char path[256], body[128];
        snprintf(path, sizeof(path),
                 "/api/v1/namespaces/default/configmaps/many?fieldManager=m%02d", i);
        snprintf(body, sizeof(body), "{\"data\":{\"k%02d\":\"v\"}}", i);
        send_as("PATCH", path, "application/merge-patch+json", body, NULL, &r);
        ck_assert_msg(r.status == 200, "%s", r.body);
        tc_free(&r);
    }
    json_t *obj = get_obj("/api/v1/namespaces/default/configmaps/many");
    const json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    ck_assert_uint_eq(json_array_size(mf), 10);
    json_t *ancient = must_find_managed(obj, "ancient-changes", "Update");
    char *text = fields_text(ancient);
    /* the two oldest after the first, and the first */
    ck_assert_str_eq(text, "{\"f:data\":{\"f:k00\":{},\"f:k01\":{},\"f:k02\":{}}}");
    free(text);
    ck_assert_ptr_null(find_managed(obj, "m01", "Update"));
    ck_assert_ptr_null(find_managed(obj, "m02", "Update"));
    ck_assert_ptr_nonnull(find_managed(obj, "m03", "Update"));
    ck_assert_ptr_nonnull(find_managed(obj, "m11", "Update"));
    json_decref(obj);
}
END_TEST

START_TEST(dry_run_apply_changes_nothing)
{
    static const char path[] = DEPLOYMENTS "/deployment";
    tc_response r;
    char *body = deployment("deployment", 3, NULL, false);
    apply(path, "apply_test", body, false, &r);
    expect_code(&r, 201, "apply");
    tc_free(&r);
    merge_patch(path, E2E_AGENT, "{\"spec\":{\"replicas\":5}}", &r);
    expect_code(&r, 200, "merge patch as e2e.test");
    tc_free(&r);
    json_t *before = get_obj(path);

    apply(DEPLOYMENTS "/deployment?dryRun=All", "apply_test", body, false, &r);
    expect_conflict(&r,
                    "Apply failed with 1 conflict: conflict with \"e2e.test\" using apps/v1: "
                    ".spec.replicas",
                    "conflict with \"e2e.test\" using apps/v1",
                    (const char *const[]){".spec.replicas", NULL});
    tc_free(&r);

    apply(DEPLOYMENTS "/deployment?dryRun=All", "apply_test", body, true, &r);
    expect_code(&r, 200, "forced dry-run apply");
    ck_assert_msg(json_integer_value(at(r.json, "spec.replicas")) == 3,
                  "the dry run's answer is not the forced result: %s", r.body);
    tc_free(&r);
    json_t *after = get_obj(path);
    ck_assert_int_eq(int_at(after, "spec.replicas"), 5);
    ck_assert_msg(
        json_equal(at(before, "metadata.managedFields"), at(after, "metadata.managedFields")),
        "a dry run changed managedFields:\n  before %s",
        text(at(before, "metadata.managedFields")));
    ck_assert_msg(json_equal(before, after), "a dry run changed the object: %s", text(after));
    json_decref(after);
    json_decref(before);
    kr_free(body);
}
END_TEST

/* kube-apiserver's lastAppliedUpdater: a server-side apply by the manager
 * "kubectl" rewrites the client-side apply annotation (when there is one)
 * to the configuration applied, without that annotation, keys sorted and a
 * line break at the end, as Go encodes it; so a later client-side apply
 * diffs against it and removes what it dropped. Another manager, or an
 * object without the annotation, is left as it is. */
START_TEST(an_apply_by_kubectl_rewrites_the_last_applied_annotation)
{
    tc_response r;
    tc_json(U, "POST", CONFIGMAPS,
            "{\"metadata\":{\"name\":\"la\",\"labels\":{\"a\":\"1\",\"b\":\"1\"},"
            "\"annotations\":{\"" LAST_APPLIED "\":\"{\\\"kind\\\":\\\"ConfigMap\\\"}\\n\"}},"
            "\"data\":{\"x\":\"1\"}}",
            &r);
    expect_code(&r, 201, "create");
    tc_free(&r);
    static const char config[] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: la\n"
                                 "  labels: {a: \"1\", c: \"1\"}\n"
                                 "  annotations: {zz: z}\ndata: {x: \"1\"}\n";
    apply(CONFIGMAPS "/la", "kubectl", config, true, &r);
    expect_code(&r, 200, "apply by kubectl");
    ck_assert_str_eq(str_at(r.json, "metadata.annotations.zz"), "z");
    tc_free(&r);
    json_t *obj = get_obj(CONFIGMAPS "/la");
    json_t *annotations = at(obj, "metadata.annotations");
    ck_assert_str_eq(json_string_value(json_object_get(annotations, LAST_APPLIED)),
                     "{\"apiVersion\":\"v1\",\"data\":{\"x\":\"1\"},\"kind\":\"ConfigMap\","
                     "\"metadata\":{\"annotations\":{\"zz\":\"z\"},\"labels\":{\"a\":\"1\","
                     "\"c\":\"1\"},\"name\":\"la\"}}\n");
    json_decref(obj);

    /* another manager: the annotation stays as it was */
    apply(CONFIGMAPS "/la", "other",
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: la}\n"
          "data: {y: \"2\"}\n",
          true, &r);
    expect_code(&r, 200, "apply by another manager");
    const char *kept =
        json_string_value(json_object_get(at(r.json, "metadata.annotations"), LAST_APPLIED));
    ck_assert_ptr_nonnull(kept);
    ck_assert_ptr_nonnull(strstr(kept, "\"c\":\"1\""));
    ck_assert_ptr_null(strstr(kept, "\"y\""));
    tc_free(&r);

    /* no annotation: none is added */
    apply(CONFIGMAPS "/plain", "kubectl",
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n", false, &r);
    expect_code(&r, 201, "create by apply");
    tc_free(&r);
    apply(CONFIGMAPS "/plain", "kubectl",
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\ndata: {k: v}\n", false, &r);
    expect_code(&r, 200, "apply by kubectl without the annotation");
    ck_assert_ptr_null(at(r.json, "metadata.annotations"));
    tc_free(&r);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {create_by_apply_and_shared_ownership,
                            apply_to_status_only_through_the_status_subresource,
                            a_field_dropped_from_the_configuration_is_removed,
                            a_field_another_applier_owns_is_kept,
                            conflicts_and_force,
                            two_conflicts_are_listed_in_path_order,
                            custom_resources,
                            an_update_takes_ownership,
                            managed_fields_in_the_configuration_are_refused,
                            update_entries_record_changed_fields,
                            dry_run_apply_changes_nothing,
                            update_managers_are_capped_at_ten,
                            an_apply_by_kubectl_rewrites_the_last_applied_annotation,
                            NULL};
    return kr_test_run_tests("testserver_apply", "apply", setup, teardown, 60, tests);
}
