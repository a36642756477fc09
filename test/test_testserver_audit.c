/* Tests of the test server's audit log (kr_testserver_opts.audit_log,
 * kr-apiserver --audit-log): one audit.k8s.io/v1 Event per request, as
 * kube-apiserver's log backend writes them at level Metadata — the user the
 * token names, the verb, objectRef, the response code, requestURI and
 * timestamps. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "ts_client.h"

#define TS_ID_MAX 64

static const char *const alice[] = {"Authorization: Bearer alice-token", NULL};

static void call(const char *base, const char *method, const char *path, const char *body,
                 const char *const *headers, long want)
{
    tc_response r = {0};
    tc_request(base, method, path, body ? "application/json" : NULL, body, headers, &r);
    ck_assert_msg(r.status == want, "%s %s: %ld %s", method, path, r.status, r.body ? r.body : "");
    tc_free(&r);
}

/* The events of the log, a new JSON array. */
static json_t *events(const char *dir)
{
    char *text = kr_test_read_file(dir, "audit.log");
    ck_assert_ptr_nonnull(text);
    json_t *all = json_array();
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t e;
        json_t *ev = json_loads(line, 0, &e);
        ck_assert_msg(ev != NULL, "not JSON: %s (%s)", line, e.text);
        json_array_append_new(all, ev);
    }
    free(text);
    return all;
}

static const char *get(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v) ? json_string_value(v) : "";
}

START_TEST(every_request_is_one_event_with_user_verb_and_object)
{
    char dir[64], log[128];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-audit"));
    snprintf(log, sizeof(log), "%s/audit.log", dir);
    const char *tokens[] = {"alice-token:alice", "admin-token", NULL};
    kr_testserver_opts o = {.seed = 1, .tokens = tokens, .audit_log = log};
    kr_testserver_t *ts = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &ts, &err) == 0, "%s", err.message);
    const char *base = kr_testserver_url(ts);
    call(base, "GET", "/api/v1/namespaces/default/configmaps?limit=5&labelSelector=a%3Db", NULL,
         alice, 200);
    call(base, "POST", "/api/v1/namespaces/default/configmaps",
         "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}", alice,
         201);
    call(base, "GET", "/api/v1/namespaces/default/configmaps/c", NULL, alice, 200);
    tc_response r = {0};
    const char *patch_headers[] = {"Authorization: Bearer alice-token", NULL};
    tc_request(base, "PATCH", "/apis/batch/v1/namespaces/default/jobs/j/status",
               "application/merge-patch+json", "{}", patch_headers, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    call(base, "GET", "/api/v1/namespaces/default", NULL, alice, 200);
    call(base, "GET", "/apis/coordination.k8s.io/v1/leases?watch=1&timeoutSeconds=1", NULL, alice,
         200);
    call(base, "DELETE", "/api/v1/namespaces/default/configmaps/c", NULL, alice, 200);
    call(base, "GET", "/apis", NULL, alice, 200);
    const char *bad[] = {"Authorization: Bearer nope", NULL};
    call(base, "GET", "/api/v1/pods", NULL, bad, 401);
    const char *admin[] = {"Authorization: Bearer admin-token", NULL}; /* no user: the admin */
    call(base, "GET", "/api/v1/pods", NULL, admin, 200);
    call(base, "POST", "/_kr/close-watches", "{}", alice, 200); /* admin: not audited */
    kr_testserver_free(ts);

    json_t *all = events(dir);
    ck_assert_uint_eq(json_array_size(all), 10);
    struct {
        const char *verb, *resource, *ns, *name, *group, *version, *sub, *user, *stage;
        int code;
    } want[] = {
        {"list", "configmaps", "default", NULL, NULL, "v1", NULL, "alice", "ResponseComplete", 200},
        {"create", "configmaps", "default", NULL, NULL, "v1", NULL, "alice", "ResponseComplete",
         201},
        {"get", "configmaps", "default", "c", NULL, "v1", NULL, "alice", "ResponseComplete", 200},
        {"patch", "jobs", "default", "j", "batch", "v1", "status", "alice", "ResponseComplete",
         404},
        {"get", "namespaces", "default", "default", NULL, "v1", NULL, "alice", "ResponseComplete",
         200},
        {"watch", "leases", NULL, NULL, "coordination.k8s.io", "v1", NULL, "alice",
         "ResponseStarted", 200},
        {"delete", "configmaps", "default", "c", NULL, "v1", NULL, "alice", "ResponseComplete",
         200},
        {"get", NULL, NULL, NULL, NULL, NULL, NULL, "alice", "ResponseComplete", 200},
        {"list", "pods", NULL, NULL, NULL, "v1", NULL, "system:anonymous", "ResponseComplete", 401},
        {"list", "pods", NULL, NULL, NULL, "v1", NULL, "kubernetes-admin", "ResponseComplete", 200},
    };
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *ev = json_array_get(all, i);
        ck_assert_str_eq(get(ev, "apiVersion", NULL), "audit.k8s.io/v1");
        ck_assert_str_eq(get(ev, "kind", NULL), "Event");
        ck_assert_str_eq(get(ev, "level", NULL), "Metadata");
        ck_assert_str_eq(get(ev, "stage", NULL), want[i].stage);
        ck_assert_uint_eq(strlen(get(ev, "auditID", NULL)), 36);
        ck_assert_msg(strcmp(get(ev, "verb", NULL), want[i].verb) == 0, "event %zu: verb %s", i,
                      get(ev, "verb", NULL));
        ck_assert_str_eq(get(ev, "user", "username"), want[i].user);
        ck_assert(json_is_array(json_object_get(json_object_get(ev, "user"), "groups")));
        ck_assert_int_eq(
            json_integer_value(json_object_get(json_object_get(ev, "responseStatus"), "code")),
            want[i].code);
        ck_assert_uint_eq(strlen(get(ev, "requestReceivedTimestamp", NULL)),
                          strlen("2026-01-01T00:00:00.000000Z"));
        ck_assert(strcmp(get(ev, "stageTimestamp", NULL),
                         get(ev, "requestReceivedTimestamp", NULL)) >= 0);
        json_t *ref = json_object_get(ev, "objectRef");
        ck_assert_msg((ref != NULL) == (want[i].resource != NULL), "event %zu objectRef", i);
        if (!ref)
            continue;
        ck_assert_str_eq(get(ref, "resource", NULL), want[i].resource);
        ck_assert_str_eq(get(ref, "namespace", NULL), want[i].ns ? want[i].ns : "");
        ck_assert_str_eq(get(ref, "name", NULL), want[i].name ? want[i].name : "");
        ck_assert_str_eq(get(ref, "apiGroup", NULL), want[i].group ? want[i].group : "");
        ck_assert_str_eq(get(ref, "apiVersion", NULL), want[i].version);
        ck_assert_str_eq(get(ref, "subresource", NULL), want[i].sub ? want[i].sub : "");
    }
    ck_assert_str_eq(get(json_array_get(all, 0), "requestURI", NULL),
                     "/api/v1/namespaces/default/configmaps?limit=5&labelSelector=a%3Db");
    json_decref(all);
    kr_test_tmpdir_remove(dir);
}
END_TEST

START_TEST(an_unwritable_audit_log_fails_the_start)
{
    kr_testserver_opts o = {.seed = 1, .audit_log = "/nonexistent-dir/audit.log"};
    kr_testserver_t *ts = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_testserver_start(&o, &ts, &err), KR_EIO);
    ck_assert_ptr_null(ts);
    ck_assert_ptr_nonnull(strstr(err.message, "audit log"));
}
END_TEST

/* The value of the response header `name` ("" when absent). */
static void header(const tc_response *r, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = r->headers; *p;) {
        size_t len = strcspn(p, "\n");
        if (len > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t vlen = (size_t)(p + len - v);
            while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
                vlen--;
            snprintf(out, size, "%.*s", (int)vlen, v);
            return;
        }
        p += len + (p[len] == '\n');
    }
}

static bool is_uuid4(const char *s)
{
    if (strlen(s) != 36 || s[14] != '4' || !strchr("89ab", s[19]))
        return false;
    for (int i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-'
                                                      : !strchr("0123456789abcdef", s[i]))
            return false;
    return true;
}

START_TEST(every_answer_carries_its_audit_id)
{
    char dir[64], log[128];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-audit"));
    snprintf(log, sizeof(log), "%s/audit.log", dir);
    kr_testserver_opts o = {.seed = 1, .audit_log = log};
    kr_testserver_t *ts = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &ts, &err) == 0, "%s", err.message);
    const char *base = kr_testserver_url(ts);
    /* a new UUID each, on an answer, an error, a path no one serves and a
     * watch; the client's own Audit-ID kept */
    const char *paths[] = {"/api/v1/namespaces/default/configmaps",
                           "/api/v1/namespaces/default/configmaps/none", "/nowhere",
                           "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1",
                           "/api/v1/namespaces"};
    const char *mine[] = {"Audit-ID: my-own-id", NULL};
    char ids[5][TS_ID_MAX];
    for (int i = 0; i < 5; i++) {
        tc_response r = {0};
        tc_request(base, "GET", paths[i], NULL, NULL, i == 4 ? mine : NULL, &r);
        header(&r, "Audit-Id", ids[i], sizeof(ids[i]));
        ck_assert_msg(i == 4 || is_uuid4(ids[i]), "%s: Audit-Id %s", paths[i], ids[i]);
        tc_free(&r);
    }
    ck_assert_str_eq(ids[4], "my-own-id");
    ck_assert_str_ne(ids[0], ids[1]);
    kr_testserver_free(ts);
    /* the audit log's events name the same IDs */
    json_t *all = events(dir);
    ck_assert_uint_eq(json_array_size(all), 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(get(json_array_get(all, i), "auditID", NULL), ids[i]);
    json_decref(all);
    kr_test_tmpdir_remove(dir);
}
END_TEST

/* A client's Audit-ID is kept as it came, however long, as kube-apiserver
 * keeps it: in the answer's header and in the audit log. */
START_TEST(a_long_audit_id_is_kept_whole)
{
    char dir[64], log[128];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-audit"));
    snprintf(log, sizeof(log), "%s/audit.log", dir);
    kr_testserver_opts o = {.seed = 1, .audit_log = log};
    kr_testserver_t *ts = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &ts, &err) == 0, "%s", err.message);
    static const size_t lens[] = {127, 128, 300, 3000}; /* the client keeps 4 KiB of headers */
    char *ids[4];
    for (int i = 0; i < 4; i++) {
        ids[i] = malloc(lens[i] + 1);
        for (size_t j = 0; j < lens[i]; j++)
            ids[i][j] = "0123456789abcdef-"[(j + (size_t)i) % 17];
        ids[i][lens[i]] = '\0';
        char *line = malloc(lens[i] + 16);
        snprintf(line, lens[i] + 16, "Audit-ID: %s", ids[i]);
        const char *mine[] = {line, NULL};
        tc_response r = {0};
        tc_request(kr_testserver_url(ts), "GET", "/api/v1/namespaces", NULL, NULL, mine, &r);
        ck_assert_int_eq(r.status, 200);
        char *got = malloc(lens[i] + 2);
        header(&r, "Audit-Id", got, lens[i] + 2);
        ck_assert_msg(strcmp(got, ids[i]) == 0, "%zu bytes sent, %zu back", lens[i], strlen(got));
        free(got);
        free(line);
        tc_free(&r);
    }
    /* one whose echo would not fit beside the request in the connection's
     * memory: refused as Go refuses headers over its limit, not dropped
     * unanswered, and no event */
    char *huge = malloc(20016);
    memcpy(huge, "Audit-ID: ", 10);
    memset(huge + 10, 'x', 20000);
    huge[20010] = '\0';
    const char *too_long[] = {huge, NULL};
    tc_response r = {0};
    tc_request(kr_testserver_url(ts), "GET", "/api/v1/namespaces", NULL, NULL, too_long, &r);
    ck_assert_int_eq(r.status, 431);
    tc_free(&r);
    free(huge);
    kr_testserver_free(ts);
    json_t *all = events(dir);
    ck_assert_uint_eq(json_array_size(all), 4);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_str_eq(get(json_array_get(all, i), "auditID", NULL), ids[i]);
        free(ids[i]);
    }
    json_decref(all);
    kr_test_tmpdir_remove(dir);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {every_request_is_one_event_with_user_verb_and_object,
                            an_unwritable_audit_log_fails_the_start,
                            every_answer_carries_its_audit_id, a_long_audit_id_is_kept_whole, NULL};
    return kr_test_run_tests("testserver_audit", "audit", NULL, NULL, 0, tests);
}
