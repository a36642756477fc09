/* Tests for the common core: version, error codes, the error struct,
 * logging, allocator hooks and the internal buffer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

START_TEST(version_matches_header)
{
    ck_assert_str_eq(kr_version(), KR_VERSION_STRING);
    ck_assert_uint_eq(kr_version_number(), KR_VERSION_NUMBER);
    ck_assert_uint_eq(KR_VERSION_NUMBER, 0x000100);
}
END_TEST

START_TEST(every_error_code_has_a_name_and_text)
{
    for (int code = 0; code >= KR_ERRCODE_MIN; code--) {
        ck_assert_str_ne(kr_strerror(code), "unknown error");
        ck_assert_ptr_eq(strstr(kr_err_name(code), "KR_"), kr_err_name(code));
    }
    ck_assert_str_eq(kr_err_name(KR_ENOTFOUND), "KR_ENOTFOUND");
    ck_assert_str_eq(kr_strerror(KR_ERRCODE_MIN - 1), "unknown error");
    ck_assert_str_eq(kr_strerror(1), "unknown error");
    ck_assert_str_eq(kr_err_name(-1000), "KR_EUNKNOWN");
}
END_TEST

/* controller-runtime's client.IgnoreNotFound */
START_TEST(ignore_not_found_clears_only_not_found)
{
    ck_assert_int_eq(kr_ignore_not_found(KR_ENOTFOUND), 0);
    ck_assert_int_eq(kr_ignore_not_found(0), 0);
    for (int code = KR_ERRCODE_MIN; code < 0; code++)
        if (code != KR_ENOTFOUND)
            ck_assert_int_eq(kr_ignore_not_found(code), code);
    /* as a delete of an object gone already reports it */
    kr_error_t err = {0};
    int rc = kr_ignore_not_found(kr_error_set(&err, KR_ENOTFOUND, "configmaps \"x\" not found"));
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(err.code, KR_ENOTFOUND); /* left as the call filled it */
}
END_TEST

START_TEST(error_set_fills_and_truncates)
{
    kr_error_t err;
    memset(&err, 0x5a, sizeof(err));
    ck_assert_int_eq(kr_error_set(&err, KR_EPATCH, "at %s: %d", "/spec/containers", 3), KR_EPATCH);
    ck_assert_int_eq(err.code, KR_EPATCH);
    ck_assert_str_eq(err.message, "at /spec/containers: 3");
    ck_assert_int_eq(err.http_code, 0);
    ck_assert_str_eq(err.reason, "");

    char big[4000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    kr_error_set(&err, KR_EINVAL, "%s", big);
    ck_assert_uint_eq(strlen(err.message), sizeof(err.message) - 1);

    ck_assert_int_eq(kr_error_set(NULL, KR_EINVAL, "ignored"), KR_EINVAL);
    kr_error_clear(&err);
    ck_assert_int_eq(err.code, 0);
    kr_error_clear(NULL);
}
END_TEST

struct log_capture {
    int calls;
    kr_log_level level;
    char module[32];
    char message[128];
};

static void capture_log(kr_log_level level, const char *module, const char *message, void *user)
{
    struct log_capture *c = user;
    c->calls++;
    c->level = level;
    snprintf(c->module, sizeof(c->module), "%s", module);
    snprintf(c->message, sizeof(c->message), "%s", message);
}

START_TEST(log_respects_level_and_reaches_callback)
{
    struct log_capture cap = {0};
    kr_logger lg = {.cb = capture_log, .max_level = KR_LOG_INFO, .user = &cap};
    kr_log(&lg, KR_LOG_DEBUG, "test", "hidden %d", 1);
    ck_assert_int_eq(cap.calls, 0);
    kr_log(&lg, KR_LOG_WARN, "queue", "key %s failed", "ns/a");
    ck_assert_int_eq(cap.calls, 1);
    ck_assert_int_eq(cap.level, KR_LOG_WARN);
    ck_assert_str_eq(cap.module, "queue");
    ck_assert_str_eq(cap.message, "key ns/a failed");
    kr_log(NULL, KR_LOG_ERROR, "x", "nothing");
    kr_logger zero = {0};
    kr_log(&zero, KR_LOG_ERROR, "x", "nothing");
    ck_assert_int_eq(cap.calls, 1);
    ck_assert_str_eq(kr_log_level_name(KR_LOG_TRACE), "trace");
    ck_assert_str_eq(kr_log_level_name((kr_log_level)42), "unknown");
}
END_TEST

struct fields_capture {
    int calls;
    size_t n;
    char message[64];
    char first_key[32], first_value[32];
};

static void capture_fields(kr_log_level level, const char *module, const char *message,
                           const kr_log_field *fields, size_t n, void *user)
{
    (void)level;
    (void)module;
    struct fields_capture *c = user;
    c->calls++;
    c->n = n;
    snprintf(c->message, sizeof(c->message), "%s", message);
    if (n > 0) {
        snprintf(c->first_key, sizeof(c->first_key), "%s", fields[0].key);
        snprintf(c->first_value, sizeof(c->first_value), "%s", fields[0].value);
    }
}

START_TEST(log_fields_reach_a_fields_sink_apart_and_a_plain_sink_appended)
{
    kr_log_field f[] = {{"controller", "syncer"}, {"skipped", NULL}, {"key", "ns/a"}};
    struct fields_capture fc = {0};
    kr_logger structured = {.max_level = KR_LOG_INFO, .user = &fc, .fields_cb = capture_fields};
    kr_log_fields(&structured, KR_LOG_INFO, "controller", f, 3, "reconciled in %d ms", 7);
    ck_assert_int_eq(fc.calls, 1);
    ck_assert_uint_eq(fc.n, 3);
    ck_assert_str_eq(fc.message, "reconciled in 7 ms");
    ck_assert_str_eq(fc.first_key, "controller");
    ck_assert_str_eq(fc.first_value, "syncer");
    kr_log(&structured, KR_LOG_WARN, "queue", "plain");
    ck_assert_int_eq(fc.calls, 2);
    ck_assert_uint_eq(fc.n, 0);

    struct log_capture cap = {0};
    kr_logger plain = {.cb = capture_log, .max_level = KR_LOG_INFO, .user = &cap};
    kr_log_fields(&plain, KR_LOG_INFO, "controller", f, 3, "reconciled");
    ck_assert_str_eq(cap.message, "reconciled controller=syncer key=ns/a");
    kr_log_fields(&plain, KR_LOG_DEBUG, "controller", f, 3, "hidden");
    ck_assert_int_eq(cap.calls, 1);
}
END_TEST

START_TEST(buffer_grows_and_stays_terminated)
{
    kr_buf b = {0};
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(kr_buf_printf(&b, "%d,", i), 0);
    ck_assert_uint_eq(b.len, strlen(b.data));
    ck_assert_int_eq(strncmp(b.data, "0,1,2,", 6), 0);
    kr_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(b.data, "");
    ck_assert_int_eq(kr_buf_append_str(&b, "abc"), 0);
    ck_assert_str_eq(b.data, "abc");
    kr_buf_free(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

/* A path that allocates several times and must clean up on every failure. */
static int build_strings(void *arg)
{
    (void)arg;
    kr_buf b = {0};
    char *s = kr_asprintf("%s/%s", "default", "web");
    char *d = kr_strdup("configmaps");
    json_t *doc = json_pack("{s:s, s:[i,i]}", "name", "x", "items", 1, 2);
    int rc = 0;
    if (!s || !d || !doc) {
        rc = KR_ENOMEM;
        goto out;
    }
    for (int i = 0; i < 50 && rc == 0; i++)
        rc = kr_buf_printf(&b, "%s:%s;", s, d);
out:
    kr_buf_free(&b);
    kr_free(s);
    kr_free(d);
    json_decref(doc);
    return (rc == 0 || rc == KR_ENOMEM) ? 0 : 1;
}

START_TEST(allocation_failures_are_reported_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(build_strings, NULL);
    ck_assert_msg(runs > 5, "sweep returned %ld", runs);
}
END_TEST

static int allocs_seen;
static void *counting_malloc(size_t n)
{
    allocs_seen++;
    return malloc(n);
}

START_TEST(allocator_hook_is_used_and_restored)
{
    allocs_seen = 0;
    kr_set_allocator(counting_malloc, NULL, NULL);
    char *s = kr_strdup("abc");
    ck_assert_int_eq(allocs_seen, 1);
    kr_free(s);
    kr_set_allocator(NULL, NULL, NULL);
    s = kr_strdup("abc");
    ck_assert_int_eq(allocs_seen, 1);
    kr_free(s);
    ck_assert_ptr_null(kr_strdup(NULL));
    s = kr_strndup("abcdef", 3);
    ck_assert_str_eq(s, "abc");
    kr_free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, every_error_code_has_a_name_and_text);
    tcase_add_test(tc, error_set_fills_and_truncates);
    tcase_add_test(tc, ignore_not_found_clears_only_not_found);
    tcase_add_test(tc, log_respects_level_and_reaches_callback);
    tcase_add_test(tc, log_fields_reach_a_fields_sink_apart_and_a_plain_sink_appended);
    tcase_add_test(tc, buffer_grows_and_stays_terminated);
    tcase_add_test(tc, allocation_failures_are_reported_without_leaks);
    tcase_add_test(tc, allocator_hook_is_used_and_restored);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
