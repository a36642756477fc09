/* Tests for JSON patch (RFC 6902): every example of the RFC's Appendix A,
 * edge and error cases (vectors under test/data/patch), atomicity, inputs left
 * untouched, and allocation failures. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

/* Runs every case of a vector file: {doc, patch|patch_text, expected|error},
 * strictly or as the apiserver applies them. */
static void run_vectors(const char *rel, bool apiserver)
{
    json_t *file = kr_test_load_json(rel);
    const json_t *cases = json_object_get(file, "cases");
    ck_assert(json_array_size(cases) > 0);
    size_t i;
    const json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *doc = json_object_get(c, "doc");
        const json_t *expected = json_object_get(c, "expected");
        const json_t *error = json_object_get(c, "error");
        const json_t *text = json_object_get(c, "patch_text");
        ck_assert_msg(doc && (expected || error), "%s: malformed case", name);
        if (text) {
            /* RFC 6902 A.13: duplicate members make the patch invalid; a
             * parsed json_t cannot carry them, so the parser must refuse. */
            json_error_t jerr;
            json_t *parsed = json_loads(json_string_value(text), JSON_REJECT_DUPLICATES, &jerr);
            ck_assert_msg(parsed == NULL, "%s: duplicate members were accepted", name);
            continue;
        }
        const json_t *patch = json_object_get(c, "patch");
        char *doc_before = json_dumps(doc, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *patch_before = json_dumps(patch, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        json_t *out = NULL;
        kr_error_t err = {0};
        int rc = apiserver ? kr_patch_json_apply_as_apiserver(doc, patch, &out, &err)
                           : kr_patch_json_apply(doc, patch, &out, &err);
        if (expected) {
            ck_assert_msg(rc == 0, "%s: failed: %s", name, err.message);
            ck_assert_msg(json_equal(out, expected), "%s: got %s", name,
                          json_dumps(out, JSON_ENCODE_ANY));
        } else {
            ck_assert_msg(rc != 0, "%s: succeeded", name);
            ck_assert_msg(out == NULL, "%s: produced a result on failure", name);
            ck_assert_msg(strcmp(kr_err_name(rc), json_string_value(error)) == 0,
                          "%s: got %s (%s), want %s", name, kr_err_name(rc), err.message,
                          json_string_value(error));
            ck_assert_int_eq(err.code, rc);
            size_t j;
            const json_t *needle;
            json_array_foreach(json_object_get(c, "message"), j, needle)
            {
                ck_assert_msg(strstr(err.message, json_string_value(needle)) != NULL,
                              "%s: message \"%s\" lacks \"%s\"", name, err.message,
                              json_string_value(needle));
            }
        }
        /* Inputs are borrowed and never modified. */
        char *doc_after = json_dumps(doc, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        char *patch_after = json_dumps(patch, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        ck_assert_msg(strcmp(doc_before, doc_after) == 0, "%s: document modified", name);
        ck_assert_msg(strcmp(patch_before, patch_after) == 0, "%s: patch modified", name);
        free(doc_before);
        free(doc_after);
        free(patch_before);
        free(patch_after);
        json_decref(out);
    }
    json_decref(file);
}

START_TEST(rfc6902_appendix_a_examples_all_hold)
{
    run_vectors("test/data/patch/rfc6902.json", false);
}
END_TEST

START_TEST(edge_and_error_cases_match_the_table)
{
    run_vectors("test/data/patch/json_patch_cases.json", false);
}
END_TEST

START_TEST(the_apiservers_leniencies_match_the_table)
{
    run_vectors("test/data/patch/json_patch_apiserver_cases.json", true);
    /* The RFC's own examples hold as the apiserver applies them too. */
    run_vectors("test/data/patch/rfc6902.json", true);
}
END_TEST

START_TEST(result_shares_nothing_with_inputs)
{
    json_t *doc = json_pack("{s:{s:[i]}}", "a", "b", 1);
    json_t *ops = json_pack("[{s:s,s:s,s:{s:i}}]", "op", "add", "path", "/c", "value", "d", 2);
    json_t *out = NULL;
    ck_assert_int_eq(kr_patch_json_apply(doc, ops, &out, NULL), 0);
    ck_assert_ptr_ne(json_object_get(out, "a"), json_object_get(doc, "a"));
    ck_assert_ptr_ne(json_object_get(out, "c"), json_object_get(json_array_get(ops, 0), "value"));
    json_array_append_new(json_object_get(json_object_get(out, "a"), "b"), json_integer(5));
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(doc, "a"), "b")), 1);
    json_decref(out);
    json_decref(doc);
    json_decref(ops);
}
END_TEST

START_TEST(invalid_arguments_are_rejected)
{
    json_t *doc = json_object();
    json_t *ops = json_array();
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_json_apply(NULL, ops, &out, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_json_apply(doc, NULL, &out, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_json_apply(doc, ops, NULL, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_json_apply(doc, ops, &out, NULL), 0);
    ck_assert(json_equal(out, doc));
    json_decref(out);
    json_decref(doc);
    json_decref(ops);
}
END_TEST

START_TEST(scalar_documents_can_be_patched_at_the_root)
{
    json_t *doc = json_integer(3);
    json_t *ops = json_loads("[{\"op\":\"test\",\"path\":\"\",\"value\":3},"
                             "{\"op\":\"replace\",\"path\":\"\",\"value\":\"x\"}]",
                             0, NULL);
    json_t *out = NULL;
    ck_assert_int_eq(kr_patch_json_apply(doc, ops, &out, NULL), 0);
    ck_assert_str_eq(json_string_value(out), "x");
    json_decref(out);
    json_decref(ops);
    ops = json_loads("[{\"op\":\"add\",\"path\":\"/a\",\"value\":1}]", 0, NULL);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_json_apply(doc, ops, &out, &err), KR_EPATCH);
    ck_assert_ptr_nonnull(strstr(err.message, "operation 0"));
    json_decref(ops);
    json_decref(doc);
}
END_TEST

/* "test" compares numbers by value (RFC 6902 4.6). The apiserver compares
 * a scalar's text, its document printed by Go (1.0 is "1"): a whole
 * number written 1.0 in the patch never matches there, one written 1 does.
 * (kubectl patch --local reads its patch through YAML, which prints 1.0 as
 * 1: only kube-apiserver, given the bytes, shows the first.) */
START_TEST(test_compares_numbers_by_value)
{
    json_t *doc = json_loads("{\"i\":1,\"r\":1.0,\"m\":[2.0]}", 0, NULL);
    static const char *const as_rfc[] = {
        "[{\"op\":\"test\",\"path\":\"/i\",\"value\":1.0}]",
        "[{\"op\":\"test\",\"path\":\"/r\",\"value\":1}]",
        "[{\"op\":\"test\",\"path\":\"/m\",\"value\":[2]}]",
    };
    for (size_t i = 0; i < 3; i++) {
        json_t *ops = json_loads(as_rfc[i], 0, NULL), *out = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_patch_json_apply(doc, ops, &out, &err) == 0, "%s: %s", as_rfc[i],
                      err.message);
        json_decref(out);
        out = NULL;
        int rc = kr_patch_json_apply_as_apiserver(doc, ops, &out, &err);
        ck_assert_msg(rc == (i == 0 ? KR_ETESTFAILED : 0), "%s as the apiserver: %d", as_rfc[i],
                      rc);
        json_decref(out);
        json_decref(ops);
    }
    json_decref(doc);
}
END_TEST

/* Copies of a value into its own innermost member double its depth: the
 * patch is refused once the document would nest deeper than Go's JSON
 * decoder reads (10000), before anything that deep is built. */
START_TEST(a_document_cannot_be_nested_past_10000_levels)
{
    enum { D = 2000 };
    json_t *value = json_object();
    for (int i = 1; i < D; i++)
        value = json_pack("{s:o}", "k", value);
    json_t *doc = json_object(), *ops = json_array();
    json_array_append_new(ops,
                          json_pack("{s:s, s:s, s:o}", "op", "add", "path", "/v", "value", value));
    /* the path to the innermost object, which grows with each copy */
    size_t cap = 64 * 1024;
    char *inner = malloc(cap);
    strcpy(inner, "/v");
    for (int i = 1; i < D; i++)
        strcat(inner, "/k");
    for (int round = 0; round < 3; round++) {
        char *to = malloc(cap);
        snprintf(to, cap, "%s/c", inner);
        json_array_append_new(ops,
                              json_pack("{s:s, s:s, s:s}", "op", "copy", "from", "/v", "path", to));
        /* the copy's innermost object: below /c, as deep as /v was */
        size_t keep = strlen(inner);
        strcat(inner, "/c");
        for (size_t k = 0; k < keep / 2 - 1 - 0; k++)
            if (strlen(inner) + 3 < cap)
                strcat(inner, "/k");
        free(to);
    }
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_json_apply(doc, ops, &out, &err), KR_ETOOLARGE);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err.message, "deeper than 10000 levels"), "%s", err.message);
    ck_assert_int_eq(kr_patch_json_apply_as_apiserver(doc, ops, &out, &err), KR_ETOOLARGE);
    /* two copies (about 8000 levels) are fine */
    json_array_remove(ops, 3);
    ck_assert_msg(kr_patch_json_apply(doc, ops, &out, &err) == 0, "%s", err.message);
    json_decref(out);
    free(inner);
    json_decref(ops);
    json_decref(doc);
}
END_TEST

START_TEST(apiserver_size_limits_are_enforced)
{
    /* Each copy of the root into itself doubles the document. */
    json_t *doc = json_pack("{s:s}", "seed", "0123456789abcdef0123456789abcdef");
    json_t *ops = json_array();
    for (int i = 0; i < 40; i++)
        json_array_append_new(
            ops, json_pack("{s:s,s:s,s:s}", "op", "copy", "from", "", "path", i % 2 ? "/a" : "/b"));
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_json_apply(doc, ops, &out, &err), KR_ETOOLARGE);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(err.message, "copy"));
    json_decref(ops);

    ops = json_array();
    for (int i = 0; i <= 10000; i++)
        json_array_append_new(ops, json_pack("{s:s,s:s,s:n}", "op", "test", "path", "/x", "value"));
    ck_assert_int_eq(kr_patch_json_apply(doc, ops, &out, &err), KR_ETOOLARGE);
    json_array_remove(ops, 0);
    ck_assert_int_eq(kr_patch_json_apply(doc, ops, &out, &err), 0);
    ck_assert(json_equal(out, doc));
    json_decref(out);
    json_decref(ops);
    json_decref(doc);
}
END_TEST

struct sweep_case {
    json_t *doc;
    json_t *ops;
    json_t *expected;
    int expected_rc;
};

static int sweep_apply(void *arg)
{
    struct sweep_case *c = arg;
    json_t *out = NULL;
    kr_error_t err = {0};
    int rc = kr_patch_json_apply(c->doc, c->ops, &out, &err);
    int verdict = 0;
    if (rc == KR_ENOMEM)
        verdict = out != NULL;
    else if (rc != c->expected_rc)
        verdict = 1;
    else if (rc == 0)
        verdict = !json_equal(out, c->expected);
    json_decref(out);
    return verdict;
}

START_TEST(allocation_failures_are_reported_without_leaks)
{
    struct sweep_case c;
    c.doc = json_loads("{\"metadata\":{\"name\":\"a\",\"labels\":{\"x\":\"1\"}},"
                       "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\","
                       "\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}",
                       0, NULL);
    c.ops = json_loads(
        "[{\"op\":\"add\",\"path\":\"/metadata/labels/y\",\"value\":{\"deep\":[1,2,{\"z\":3}]}},"
        "{\"op\":\"copy\",\"from\":\"/spec/containers/0\",\"path\":\"/spec/containers/-\"},"
        "{\"op\":\"move\",\"from\":\"/metadata/labels/x\",\"path\":\"/metadata/labels/~1w\"},"
        "{\"op\":\"replace\",\"path\":\"/spec/containers/1/name\",\"value\":\"d\"},"
        "{\"op\":\"remove\",\"path\":\"/spec/containers/0/env/0\"},"
        "{\"op\":\"test\",\"path\":\"/metadata/name\",\"value\":\"a\"}]",
        0, NULL);
    ck_assert_ptr_nonnull(c.doc);
    ck_assert_ptr_nonnull(c.ops);
    c.expected_rc = 0;
    json_t *out = NULL;
    ck_assert_int_eq(kr_patch_json_apply(c.doc, c.ops, &out, NULL), 0);
    c.expected = out;
    long runs = kr_test_alloc_failure_sweep(sweep_apply, &c);
    ck_assert_msg(runs > 10, "sweep returned %ld", runs);

    /* A failing patch must also clean up whatever it built first. */
    json_array_append_new(c.ops, json_pack("{s:s,s:s}", "op", "remove", "path", "/nothing"));
    c.expected_rc = KR_ENOTFOUND;
    runs = kr_test_alloc_failure_sweep(sweep_apply, &c);
    ck_assert_msg(runs > 10, "sweep returned %ld", runs);
    json_decref(out);
    json_decref(c.doc);
    json_decref(c.ops);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("patch_json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, rfc6902_appendix_a_examples_all_hold);
    tcase_add_test(tc, edge_and_error_cases_match_the_table);
    tcase_add_test(tc, the_apiservers_leniencies_match_the_table);
    tcase_add_test(tc, result_shares_nothing_with_inputs);
    tcase_add_test(tc, invalid_arguments_are_rejected);
    tcase_add_test(tc, scalar_documents_can_be_patched_at_the_root);
    tcase_add_test(tc, test_compares_numbers_by_value);
    tcase_add_test(tc, a_document_cannot_be_nested_past_10000_levels);
    tcase_add_test(tc, apiserver_size_limits_are_enforced);
    tcase_add_test(tc, allocation_failures_are_reported_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
