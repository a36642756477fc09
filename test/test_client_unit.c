/* Tests for the client's socket-free parts: URL building, Status parsing
 * (JSON and text/plain 429 forms), the token-bucket rate limiter and the
 * retry policy with an injected clock, and the built-in REST mapper. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "kr_suite.h"
#include "kr_test.h"

static char *url_of(const kr_request *req, bool watch, int *rc)
{
    kr_buf b = {0};
    kr_error_t err = {0};
    *rc = kr_client_build_url(&b, req, watch, &err);
    return b.data;
}

START_TEST(gvr_parse_takes_core_and_grouped_forms_and_names_bad_text)
{
    char buf[64];
    kr_gvr g;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_gvr_parse("v1/configmaps", buf, sizeof(buf), &g, &err), 0);
    ck_assert_str_eq(g.group, "");
    ck_assert_str_eq(g.version, "v1");
    ck_assert_str_eq(g.resource, "configmaps");
    ck_assert_int_eq(kr_gvr_parse("kreconcile.io/v1alpha1/runnables", buf, sizeof(buf), &g, &err),
                     0);
    ck_assert_str_eq(g.group, "kreconcile.io");
    ck_assert_str_eq(g.version, "v1alpha1");
    ck_assert_str_eq(g.resource, "runnables");
    const char *bad[] = {"configmaps", "a/b/c/d", "/v1/x", "v1/", "apps//x", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(kr_gvr_parse(bad[i], buf, sizeof(buf), &g, &err), KR_EPARSE);
        ck_assert_ptr_nonnull(strstr(err.message, "GROUP/VERSION/RESOURCE"));
    }
    ck_assert_int_eq(kr_gvr_parse("apps/v1/deployments", buf, 8, &g, &err), KR_ETOOLARGE);
}
END_TEST

START_TEST(urls_follow_the_api_layout)
{
    int rc;
    kr_request req = {.verb = KR_VERB_GET,
                      .ref = {KR_GVR("", "v1", "configmaps"), "default", "x", NULL}};
    char *u = url_of(&req, false, &rc);
    ck_assert_str_eq(u, "/api/v1/namespaces/default/configmaps/x");
    kr_free(u);

    req.ref = (kr_resource_ref){KR_GVR("apps", "v1", "deployments"), "team-a", "web", "status"};
    req.verb = KR_VERB_UPDATE;
    kr_write_opts wo = {.dry_run = true, .field_manager = "me", .field_validation = "Strict"};
    req.write = &wo;
    u = url_of(&req, false, &rc);
    ck_assert_str_eq(u, "/apis/apps/v1/namespaces/team-a/deployments/web/status"
                        "?dryRun=All&fieldManager=me&fieldValidation=Strict");
    kr_free(u);

    /* A create on an object's subresource posts to the object's path. */
    req = (kr_request){.verb = KR_VERB_CREATE,
                       .ref = {KR_GVR("", "v1", "serviceaccounts"), "ns", "bot", "token"}};
    u = url_of(&req, false, &rc);
    ck_assert_str_eq(u, "/api/v1/namespaces/ns/serviceaccounts/bot/token");
    kr_free(u);

    /* Cluster-scoped, and all namespaces. */
    req = (kr_request){.verb = KR_VERB_LIST, .ref = {KR_GVR("", "v1", "namespaces"), NULL, NULL}};
    u = url_of(&req, false, &rc);
    ck_assert_str_eq(u, "/api/v1/namespaces");
    kr_free(u);
}
END_TEST

START_TEST(list_and_watch_queries_are_sorted_and_escaped)
{
    int rc;
    kr_list_opts lo = {.label_selector = "app in (a,b),!skip",
                       .field_selector = "metadata.name=x",
                       .limit = 500,
                       .continue_token = "eyJ2Ijo=",
                       .resource_version = "42",
                       .timeout_seconds = 300,
                       .allow_watch_bookmarks = true};
    kr_request req = {.verb = KR_VERB_LIST,
                      .ref = {KR_GVR("", "v1", "configmaps"), "default", NULL, NULL},
                      .list = &lo};
    char *u = url_of(&req, false, &rc);
    ck_assert_str_eq(
        u, "/api/v1/namespaces/default/configmaps?continue=eyJ2Ijo%3D"
           "&fieldSelector=metadata.name%3Dx&labelSelector=app%20in%20%28a%2Cb%29%2C%21skip"
           "&limit=500&resourceVersion=42&timeoutSeconds=300");
    kr_free(u);
    lo.continue_token = NULL;
    lo.limit = 0;
    lo.label_selector = NULL;
    u = url_of(&req, true, &rc);
    ck_assert_str_eq(u, "/api/v1/namespaces/default/configmaps?allowWatchBookmarks=true"
                        "&fieldSelector=metadata.name%3Dx&resourceVersion=42&timeoutSeconds=300"
                        "&watch=true");
    kr_free(u);
}
END_TEST

START_TEST(apply_patch_always_says_force)
{
    int rc;
    kr_write_opts wo = {.field_manager = "ctl"};
    kr_request req = {.verb = KR_VERB_PATCH,
                      .ref = {KR_GVR("", "v1", "configmaps"), "ns", "x", NULL},
                      .patch_format = KR_PATCH_APPLY,
                      .write = &wo};
    char *u = url_of(&req, false, &rc);
    ck_assert_str_eq(u, "/api/v1/namespaces/ns/configmaps/x?fieldManager=ctl&force=false");
    kr_free(u);
    wo.force = true;
    u = url_of(&req, false, &rc);
    ck_assert_str_eq(u, "/api/v1/namespaces/ns/configmaps/x?fieldManager=ctl&force=true");
    kr_free(u);
}
END_TEST

START_TEST(bad_references_are_refused)
{
    int rc;
    kr_request req = {.verb = KR_VERB_GET, .ref = {KR_GVR("", "v1", "configmaps"), "ns", NULL}};
    char *u = url_of(&req, false, &rc);
    ck_assert_int_eq(rc, KR_EINVAL);
    kr_free(u);
    req = (kr_request){.verb = KR_VERB_LIST, .ref = {KR_GVR("", "v1", "configmaps"), "ns", "x"}};
    u = url_of(&req, false, &rc);
    ck_assert_int_eq(rc, KR_EINVAL);
    kr_free(u);
    /* a create names an object only for a subresource of it */
    req = (kr_request){.verb = KR_VERB_CREATE, .ref = {KR_GVR("", "v1", "configmaps"), "ns", "x"}};
    u = url_of(&req, false, &rc);
    ck_assert_int_eq(rc, KR_EINVAL);
    kr_free(u);
    req = (kr_request){.verb = KR_VERB_GET, .ref = {KR_GVR("", NULL, "configmaps"), "ns", "x"}};
    u = url_of(&req, false, &rc);
    ck_assert_int_eq(rc, KR_EINVAL);
    kr_free(u);
    /* Names are escaped, never spliced raw into the path. */
    req = (kr_request){.verb = KR_VERB_GET, .ref = {KR_GVR("", "v1", "configmaps"), "ns", "a b:c"}};
    u = url_of(&req, false, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(u, "/api/v1/namespaces/ns/configmaps/a%20b%3Ac");
    kr_free(u);
    /* As client-go: no segment is "." or "..", which would name another
     * path once dot segments are removed (a DELETE of configmaps/..
     * would delete the namespace), nor holds '/' or '%'. */
    struct {
        const char *ns, *resource, *name, *sub, *says;
    } refused[] = {
        {"ns", "configmaps", "..", NULL, "invalid resource name \"..\": [may not be '..']"},
        {"ns", "configmaps", ".", NULL, "invalid resource name \".\": [may not be '.']"},
        {"..", "configmaps", "x", NULL, "invalid namespace \"..\": [may not be '..']"},
        {"ns", "configmaps", "../secrets/y", NULL,
         "invalid resource name \"../secrets/y\": [may not contain '/']"},
        {"ns", "configmaps", "a%2F", NULL, "invalid resource name \"a%2F\": [may not contain '%']"},
        {"ns", "configmaps", "/%", NULL,
         "invalid resource name \"/%\": [may not contain '/' may not contain '%']"},
        {"ns", "..", "x", NULL, "invalid resource \"..\": [may not be '..']"},
        {"ns", "pods", "x", "..", "invalid subresource \"..\": [may not be '..']"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        req = (kr_request){.verb = KR_VERB_DELETE,
                           .ref = {KR_GVR("", "v1", refused[i].resource), refused[i].ns,
                                   refused[i].name, refused[i].sub}};
        kr_buf b = {0};
        kr_error_t err = {0};
        ck_assert_int_eq(kr_client_build_url(&b, &req, false, &err), KR_EINVAL);
        ck_assert_str_eq(err.message, refused[i].says);
        kr_buf_free(&b);
    }
    /* a collection in namespace "..": the namespace is checked too */
    req = (kr_request){.verb = KR_VERB_LIST, .ref = {KR_GVR("", "v1", "configmaps"), "..", NULL}};
    u = url_of(&req, false, &rc);
    ck_assert_int_eq(rc, KR_EINVAL);
    kr_free(u);
    /* "..." and ".a" are names like any other */
    req = (kr_request){.verb = KR_VERB_GET, .ref = {KR_GVR("", "v1", "configmaps"), "ns", "..."}};
    u = url_of(&req, false, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(u, "/api/v1/namespaces/ns/configmaps/...");
    kr_free(u);
}
END_TEST

START_TEST(status_json_fills_the_error)
{
    const char *body =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"configmaps \\\"x\\\" not found\",\"reason\":\"NotFound\","
        "\"details\":{\"name\":\"x\",\"kind\":\"configmaps\"},\"code\":404}";
    kr_error_t err = {0};
    int rc = kr_status_error(404, "application/json", body, strlen(body), -1, "GET", &err);
    ck_assert_int_eq(rc, KR_ENOTFOUND);
    ck_assert_int_eq(err.code, KR_ENOTFOUND);
    ck_assert_int_eq(err.http_code, 404);
    ck_assert_str_eq(err.reason, "NotFound");
    ck_assert_str_eq(err.message, "configmaps \"x\" not found");
    ck_assert_str_eq(err.details_name, "x");
    ck_assert_str_eq(err.details_kind, "configmaps");

    const char *exists = "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"AlreadyExists\","
                         "\"message\":\"configmaps \\\"x\\\" already exists\",\"code\":409}";
    ck_assert_int_eq(
        kr_status_error(409, "application/json", exists, strlen(exists), -1, "POST", &err),
        KR_EEXIST);
    const char *conflict = "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"code\":409}";
    ck_assert_int_eq(
        kr_status_error(409, "application/json", conflict, strlen(conflict), -1, "PUT", &err),
        KR_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "409"));
    const char *expired = "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410,"
                          "\"message\":\"too old resource version: 1 (5)\"}";
    ck_assert_int_eq(
        kr_status_error(200, "application/json", expired, strlen(expired), -1, "w", &err),
        KR_EGONE);
    ck_assert_int_eq(err.http_code, 410);
}
END_TEST

START_TEST(throttled_status_and_text_plain_429_both_carry_retry_after)
{
    const char *body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                       "\"Failure\",\"message\":\"Too many requests, please try again later.\","
                       "\"reason\":\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":3},"
                       "\"code\":429}";
    kr_error_t err = {0};
    ck_assert_int_eq(kr_status_error(429, "application/json", body, strlen(body), 1, "GET", &err),
                     KR_ETHROTTLED);
    ck_assert_int_eq(err.retry_after_seconds, 3);
    ck_assert_str_eq(err.reason, "TooManyRequests");

    /* Flow control answers text/plain: never parsed as a Status, even if
     * it happens to look like JSON. */
    const char *text = "Too many requests, please try again later.\n";
    ck_assert_int_eq(
        kr_status_error(429, "text/plain; charset=utf-8", text, strlen(text), 2, "GET", &err),
        KR_ETHROTTLED);
    ck_assert_str_eq(err.message, "Too many requests, please try again later.");
    ck_assert_int_eq(err.retry_after_seconds, 2);
    ck_assert_str_eq(err.reason, "TooManyRequests");
    const char *lookalike = "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}";
    ck_assert_int_eq(
        kr_status_error(503, "text/plain", lookalike, strlen(lookalike), -1, "GET", &err),
        KR_EUNAVAILABLE);
    ck_assert_int_eq(err.http_code, 503);
    ck_assert_str_eq(err.reason, "ServiceUnavailable");
    /* Not JSON at all with a JSON content type: still no crash, generic. */
    ck_assert_int_eq(kr_status_error(500, "application/json", "oops", 4, -1, "GET", &err),
                     KR_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err.message, "500"));
}
END_TEST

START_TEST(retry_policy_matches_verbs_and_statuses)
{
    kr_retry_policy p = {.max_retries = 3, .base_ms = 100, .max_ms = 1000};
    ck_assert(kr_retry_wanted(&p, "POST", 0, 429, 1));
    ck_assert(kr_retry_wanted(&p, "GET", 0, 503, 1));
    ck_assert(kr_retry_wanted(&p, "PUT", 0, 500, 2));
    ck_assert(!kr_retry_wanted(&p, "POST", 0, 500, 1));
    ck_assert(!kr_retry_wanted(&p, "PATCH", 0, 503, 1));
    ck_assert(!kr_retry_wanted(&p, "GET", 0, 404, 1));
    ck_assert(!kr_retry_wanted(&p, "GET", 0, 501, 1));
    ck_assert(kr_retry_wanted(&p, "GET", KR_ECONNECT, 0, 1));
    ck_assert(kr_retry_wanted(&p, "DELETE", KR_ETIMEDOUT, 0, 3));
    ck_assert(!kr_retry_wanted(&p, "POST", KR_ECONNECT, 0, 1));
    ck_assert(!kr_retry_wanted(&p, "GET", KR_ETLS, 0, 1));
    ck_assert(!kr_retry_wanted(&p, "GET", 0, 429, 4));
}
END_TEST

START_TEST(retry_delay_doubles_with_jitter_and_honours_retry_after)
{
    kr_retry_policy p = {.max_retries = 10, .base_ms = 100, .max_ms = 1000};
    ck_assert_uint_eq(kr_retry_delay_ms(&p, 1, -1, 0), 100);
    ck_assert_uint_eq(kr_retry_delay_ms(&p, 2, -1, 0), 200);
    ck_assert_uint_eq(kr_retry_delay_ms(&p, 3, -1, 0), 400);
    ck_assert_uint_eq(kr_retry_delay_ms(&p, 9, -1, 0), 1000);
    for (uint64_t r = 0; r < 100; r++) {
        uint64_t d = kr_retry_delay_ms(&p, 2, -1, r * 7919);
        ck_assert_uint_ge(d, 200);
        ck_assert_uint_le(d, 250);
    }
    ck_assert_uint_eq(kr_retry_delay_ms(&p, 1, 0, 5), 0);
    ck_assert_uint_eq(kr_retry_delay_ms(&p, 1, 1, 5), 1000);
    ck_assert_uint_eq(kr_retry_delay_ms(&p, 1, 30, 5), 30000); /* the server's word */
}
END_TEST

START_TEST(builtin_mapper_resolves_like_kubectl)
{
    kr_resource_info info;
    static const char *const names[] = {
        "deployments",         "deployment",       "deploy",
        "Deployment",          "deployments.apps", "deploy.apps",
        "deployments.v1.apps", "Deployments",      "DEPLOYMENTS.apps",
        "DEPLOYMENT.v1.apps"};
    for (size_t i = 0; i < KR_ARRAY_LEN(names); i++) {
        ck_assert_msg(kr_resource_builtin_lookup(names[i], &info) == 0, "%s", names[i]);
        ck_assert_str_eq(info.group, "apps");
        ck_assert_str_eq(info.resource, "deployments");
        ck_assert_str_eq(info.kind, "Deployment");
        ck_assert(info.namespaced);
    }
    ck_assert_int_eq(kr_resource_builtin_lookup("cm", &info), 0);
    ck_assert_str_eq(info.resource, "configmaps");
    ck_assert_str_eq(info.group, "");
    ck_assert_int_eq(kr_resource_builtin_lookup("ns", &info), 0);
    ck_assert(!info.namespaced);
    ck_assert_int_eq(kr_resource_builtin_lookup("crds", &info), 0);
    ck_assert_str_eq(info.group, "apiextensions.k8s.io");
    /* Core "events" wins over events.k8s.io unless the group is given. */
    ck_assert_int_eq(kr_resource_builtin_lookup("ev", &info), 0);
    ck_assert_str_eq(info.group, "");
    ck_assert_int_eq(kr_resource_builtin_lookup("events.events.k8s.io", &info), 0);
    ck_assert_str_eq(info.group, "events.k8s.io");
    ck_assert_int_eq(kr_resource_builtin_lookup("ConfigMaps", &info), 0);
    ck_assert_str_eq(info.resource, "configmaps");
    ck_assert_int_eq(kr_resource_builtin_lookup("widgets", &info), KR_ENOTFOUND);
    ck_assert_int_eq(kr_resource_builtin_lookup("deployments.batch", &info), KR_ENOTFOUND);
    /* As kubectl: short names and groups only as they are. */
    ck_assert_int_eq(kr_resource_builtin_lookup("CM", &info), KR_ENOTFOUND);
    ck_assert_int_eq(kr_resource_builtin_lookup("Deploy", &info), KR_ENOTFOUND);
    ck_assert_int_eq(kr_resource_builtin_lookup("deployments.APPS", &info), KR_ENOTFOUND);
}
END_TEST

static int build_and_parse(void *arg)
{
    (void)arg;
    kr_list_opts lo = {.label_selector = "a=b", .limit = 5, .resource_version = "9"};
    kr_request req = {.verb = KR_VERB_LIST,
                      .ref = {KR_GVR("apps", "v1", "deployments"), "ns", NULL, NULL},
                      .list = &lo};
    kr_buf b = {0};
    int rc = kr_client_build_url(&b, &req, true, NULL);
    bool ok = rc == KR_ENOMEM ||
              (rc == 0 && strcmp(b.data, "/apis/apps/v1/namespaces/ns/deployments?labelSelector="
                                         "a%3Db&resourceVersion=9&watch=true") == 0);
    kr_buf_free(&b);
    const char *body = "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404,"
                       "\"message\":\"gone\"}";
    kr_error_t err = {0};
    rc = kr_status_error(404, "application/json", body, strlen(body), -1, "GET", &err);
    /* Without memory the Status cannot be decoded: still a 404 error. */
    ok = ok && rc == KR_ENOTFOUND && err.http_code == 404;
    kr_resource_info info;
    ok = ok && kr_resource_builtin_lookup("deploy", &info) == 0;
    return ok ? 0 : 1;
}

static void append_warning(int code, const char *text, void *user)
{
    size_t used = strlen(user);
    snprintf((char *)user + used, 512 - used, "%d:%s|", code, text);
}

START_TEST(warning_headers_parse_as_client_go_parses_them)
{
    char got[512] = "";
    ck_assert_uint_eq(
        kr_parse_warnings("299 - \"unknown field \\\"spec.x\\\"\"", append_warning, got), 1);
    ck_assert_str_eq(got, "299:unknown field \"spec.x\"|");
    got[0] = '\0';
    /* several in one value, an agent with a port, a date, a backslash */
    ck_assert_uint_eq(kr_parse_warnings("299 - \"a\", 199 api:6443 \"b\\\\c\" "
                                        "\"Wed, 21 Oct 2015 07:28:00 GMT\",299 - \"\"",
                                        append_warning, got),
                      3);
    ck_assert_str_eq(got, "299:a|199:b\\c|299:|");
    /* malformed: what came before is kept */
    got[0] = '\0';
    ck_assert_uint_eq(kr_parse_warnings("299 - \"ok\", 29 - \"short code\"", append_warning, got),
                      1);
    ck_assert_str_eq(got, "299:ok|");
    got[0] = '\0';
    ck_assert_uint_eq(kr_parse_warnings("299 - unquoted", append_warning, got), 0);
    ck_assert_uint_eq(kr_parse_warnings("299 - \"unterminated", append_warning, got), 0);
    ck_assert_uint_eq(kr_parse_warnings("299 \"no agent\"", append_warning, got), 0);
    ck_assert_uint_eq(kr_parse_warnings("299 - \"a\" trailing", append_warning, got), 1);
    ck_assert_uint_eq(kr_parse_warnings("", append_warning, got), 0);
}
END_TEST

START_TEST(allocation_failures_are_errors_without_leaks)
{
    ck_assert_int_gt(kr_test_alloc_failure_sweep(build_and_parse, NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_unit");
    TCase *tc = tcase_create("unit");
    tcase_add_test(tc, gvr_parse_takes_core_and_grouped_forms_and_names_bad_text);
    tcase_add_test(tc, urls_follow_the_api_layout);
    tcase_add_test(tc, list_and_watch_queries_are_sorted_and_escaped);
    tcase_add_test(tc, apply_patch_always_says_force);
    tcase_add_test(tc, bad_references_are_refused);
    tcase_add_test(tc, status_json_fills_the_error);
    tcase_add_test(tc, throttled_status_and_text_plain_429_both_carry_retry_after);
    tcase_add_test(tc, retry_policy_matches_verbs_and_statuses);
    tcase_add_test(tc, retry_delay_doubles_with_jitter_and_honours_retry_after);
    tcase_add_test(tc, builtin_mapper_resolves_like_kubectl);
    tcase_add_test(tc, warning_headers_parse_as_client_go_parses_them);
    tcase_add_test(tc, allocation_failures_are_errors_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
