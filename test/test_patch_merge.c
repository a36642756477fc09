/* Tests for JSON merge patch (RFC 7386): the RFC's examples, two-way
 * creation, kubectl's three-way creation, round-trip and three-way
 * properties over random documents, and allocation failures. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_COMPACT);
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, jerr.text);
    return v;
}

START_TEST(rfc7386_examples_all_hold)
{
    json_t *file = kr_test_load_json("test/data/patch/rfc7386.json");
    const json_t *cases = json_object_get(file, "cases");
    ck_assert_uint_ge(json_array_size(cases), 16);
    size_t i;
    const json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *doc = json_object_get(c, "doc");
        const json_t *patch = json_object_get(c, "patch");
        const json_t *expected = json_object_get(c, "expected");
        ck_assert_msg(doc && patch && expected, "%s: malformed case", name);
        char *doc_before = dump(doc);
        char *patch_before = dump(patch);
        json_t *out = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_patch_merge_apply(doc, patch, &out, &err) == 0, "%s: %s", name,
                      err.message);
        char *got = dump(out);
        ck_assert_msg(json_equal(out, expected), "%s: got %s", name, got);
        char *doc_after = dump(doc);
        char *patch_after = dump(patch);
        ck_assert_msg(strcmp(doc_before, doc_after) == 0, "%s: document modified", name);
        ck_assert_msg(strcmp(patch_before, patch_after) == 0, "%s: patch modified", name);
        free(got);
        free(doc_before);
        free(doc_after);
        free(patch_before);
        free(patch_after);
        json_decref(out);
    }
    json_decref(file);
}
END_TEST

START_TEST(apply_result_shares_nothing_with_inputs)
{
    json_t *doc = parse("{\"a\":{\"b\":[1]},\"keep\":{\"x\":1}}");
    json_t *patch = parse("{\"a\":{\"c\":{\"d\":1}}}");
    json_t *out = NULL;
    ck_assert_int_eq(kr_patch_merge_apply(doc, patch, &out, NULL), 0);
    ck_assert_ptr_ne(json_object_get(out, "keep"), json_object_get(doc, "keep"));
    json_object_set_new(json_object_get(out, "keep"), "y", json_true());
    json_object_set_new(json_object_get(json_object_get(out, "a"), "c"), "e", json_true());
    ck_assert_uint_eq(json_object_size(json_object_get(doc, "keep")), 1);
    ck_assert_uint_eq(json_object_size(json_object_get(json_object_get(patch, "a"), "c")), 1);
    json_decref(out);
    json_decref(doc);
    json_decref(patch);
}
END_TEST

static void apply_is(const char *doc_text, const char *patch_text, const char *want_text)
{
    json_t *doc = parse(doc_text), *patch = parse(patch_text), *want = parse(want_text);
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_patch_merge_apply(doc, patch, &out, &err) == 0, "%s", err.message);
    char *got = dump(out);
    ck_assert_msg(json_equal(out, want), "%s onto %s: got %s, want %s", patch_text, doc_text, got,
                  want_text);
    free(got);
    json_decref(out);
    json_decref(doc);
    json_decref(patch);
    json_decref(want);
}

/* As the apiserver's merge patch (evanphx/json-patch v4) applies it: an
 * array set in place of anything but an object loses the null members of
 * its objects, at every depth (null elements stay); one replacing an
 * object is set as it is. RFC 7386 alone would keep those nulls. */
START_TEST(arrays_lose_the_nulls_of_their_objects_as_the_apiserver_applies_them)
{
    apply_is("{}", "{\"a\":[{\"x\":null,\"y\":1}]}", "{\"a\":[{\"y\":1}]}");
    apply_is("{\"a\":5}", "{\"a\":[{\"x\":null}]}", "{\"a\":[{}]}");
    apply_is("{\"a\":[1]}", "{\"a\":[null,{\"b\":{\"c\":null,\"d\":[{\"e\":null}]}}]}",
             "{\"a\":[null,{\"b\":{\"d\":[{}]}}]}");
    apply_is("{\"a\":{\"k\":1}}", "{\"a\":[{\"x\":null}]}", "{\"a\":[{\"x\":null}]}");
    apply_is("{\"k\":1}", "[{\"x\":null},null]", "[{},null]");
    apply_is("{}", "{\"a\":{\"b\":[{\"x\":null}]}}", "{\"a\":{\"b\":[{}]}}");
    /* and so does the three-way patch, which merges its two halves so */
    json_t *empty = json_object(), *modified = parse("{\"a\":[{\"x\":null,\"y\":1}]}");
    json_t *patch = NULL, *want = parse("{\"a\":[{\"y\":1}]}");
    ck_assert_int_eq(kr_patch_merge_three_way(empty, modified, empty, &patch, NULL), 0);
    ck_assert(json_equal(patch, want));
    json_decref(patch);
    json_decref(want);
    json_decref(modified);
    json_decref(empty);
}
END_TEST

struct create_case {
    const char *original, *modified, *patch;
};

START_TEST(create_makes_the_minimal_patch)
{
    static const struct create_case cases[] = {
        {"{\"a\":1}", "{\"a\":1}", "{}"},
        {"{}", "{}", "{}"},
        {"{\"a\":1}", "{\"a\":2}", "{\"a\":2}"},
        {"{\"a\":1,\"b\":2}", "{\"a\":1}", "{\"b\":null}"},
        {"{\"a\":1}", "{\"a\":1,\"b\":{\"c\":[1]}}", "{\"b\":{\"c\":[1]}}"},
        {"{\"m\":{\"x\":1,\"y\":2}}", "{\"m\":{\"x\":1,\"y\":3,\"z\":4}}",
         "{\"m\":{\"y\":3,\"z\":4}}"},
        {"{\"m\":{\"x\":1}}", "{\"m\":{}}", "{\"m\":{\"x\":null}}"},
        {"{\"m\":{\"x\":1}}", "{\"m\":{\"x\":1}}", "{}"},
        {"{\"l\":[1,2]}", "{\"l\":[1,2,3]}", "{\"l\":[1,2,3]}"},
        {"{\"l\":[{\"a\":1}]}", "{\"l\":[{\"a\":1}]}", "{}"},
        {"{\"a\":\"s\"}", "{\"a\":{\"b\":1}}", "{\"a\":{\"b\":1}}"},
        {"{\"a\":{\"b\":1}}", "{\"a\":\"s\"}", "{\"a\":\"s\"}"},
        /* Go decodes every number to float64: 1 and 1.0 are the same. */
        {"{\"n\":1}", "{\"n\":1.0}", "{}"},
        {"{\"n\":1}", "{\"n\":1.5}", "{\"n\":1.5}"},
        {"{\"a~/b\":1}", "{}", "{\"a~/b\":null}"},
        /* Non-object documents: the patch is the whole new document. */
        {"[1]", "[1]", "[1]"},
        {"{\"a\":1}", "[2]", "[2]"},
        {"\"x\"", "{\"a\":1}", "{\"a\":1}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *original = parse(cases[i].original);
        json_t *modified = parse(cases[i].modified);
        json_t *want = parse(cases[i].patch);
        json_t *patch = NULL, *applied = NULL;
        kr_error_t err = {0};
        ck_assert_int_eq(kr_patch_merge_create(original, modified, &patch, &err), 0);
        char *got = dump(patch);
        ck_assert_msg(json_equal(patch, want), "case %zu: got %s want %s", i, got, cases[i].patch);
        ck_assert_int_eq(kr_patch_merge_apply(original, patch, &applied, &err), 0);
        if (i != 12) /* 1 and 1.0 are equal for Kubernetes, not for json_equal */
            ck_assert_msg(json_equal(applied, modified), "case %zu: round trip failed", i);
        free(got);
        json_decref(original);
        json_decref(modified);
        json_decref(want);
        json_decref(patch);
        json_decref(applied);
    }
}
END_TEST

struct three_way_case {
    const char *what;
    const char *last, *modified, *current, *patch;
};

START_TEST(three_way_applies_intent_and_keeps_others_fields)
{
    static const struct three_way_case cases[] = {
        {"added by the user", "{\"a\":1}", "{\"a\":1,\"b\":2}", "{\"a\":1}", "{\"b\":2}"},
        {"changed by the user", "{\"a\":1}", "{\"a\":2}", "{\"a\":1}", "{\"a\":2}"},
        {"removed by the user", "{\"a\":1,\"b\":2}", "{\"a\":1}", "{\"a\":1,\"b\":2}",
         "{\"b\":null}"},
        {"removed by the user, already gone", "{\"a\":1,\"b\":2}", "{\"a\":1}", "{\"a\":1}",
         "{\"b\":null}"},
        {"removed by the user, changed by others", "{\"b\":1}", "{}", "{\"b\":7}", "{\"b\":null}"},
        {"set by others is kept", "{\"a\":1}", "{\"a\":1}", "{\"a\":1,\"c\":3}", "{}"},
        {"user field changed by others is restored", "{\"a\":1}", "{\"a\":1}", "{\"a\":5}",
         "{\"a\":1}"},
        {"nested removal keeps others' siblings", "{\"m\":{\"l\":{\"x\":1,\"y\":2}}}",
         "{\"m\":{\"l\":{\"x\":1}}}", "{\"m\":{\"l\":{\"x\":1,\"y\":2,\"z\":3}}}",
         "{\"m\":{\"l\":{\"y\":null}}}"},
        {"nested removal and addition together", "{\"m\":{\"x\":1,\"y\":2}}",
         "{\"m\":{\"x\":1,\"w\":4}}", "{\"m\":{\"x\":1,\"y\":2,\"z\":3}}",
         "{\"m\":{\"y\":null,\"w\":4}}"},
        {"explicit empty map is a value", "{}", "{\"a\":{}}", "{}", "{\"a\":{}}"},
        {"empty map does not clear others' members", "{}", "{\"a\":{}}", "{\"a\":{\"x\":1}}", "{}"},
        {"emptied map removes only the user's members", "{\"a\":{\"x\":1}}", "{\"a\":{}}",
         "{\"a\":{\"x\":1,\"y\":2}}", "{\"a\":{\"x\":null}}"},
        {"lists are replaced whole", "{\"l\":[1]}", "{\"l\":[1,2]}", "{\"l\":[1,9]}",
         "{\"l\":[1,2]}"},
        {"type change", "{\"a\":{\"b\":1}}", "{\"a\":\"s\"}", "{\"a\":{\"b\":1,\"c\":2}}",
         "{\"a\":\"s\"}"},
        {"nothing to do", "{\"a\":1}", "{\"a\":1}", "{\"a\":1}", "{}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *last = parse(cases[i].last);
        json_t *modified = parse(cases[i].modified);
        json_t *current = parse(cases[i].current);
        json_t *want = parse(cases[i].patch);
        json_t *patch = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_patch_merge_three_way(last, modified, current, &patch, &err) == 0,
                      "%s: %s", cases[i].what, err.message);
        char *got = dump(patch);
        ck_assert_msg(json_equal(patch, want), "%s: got %s want %s", cases[i].what, got,
                      cases[i].patch);
        free(got);
        json_decref(last);
        json_decref(modified);
        json_decref(current);
        json_decref(want);
        json_decref(patch);
    }
}
END_TEST

START_TEST(three_way_without_last_applied_deletes_nothing)
{
    json_t *modified = parse("{\"a\":1,\"m\":{\"x\":2}}");
    json_t *current = parse("{\"a\":0,\"b\":1,\"m\":{\"y\":3}}");
    json_t *patch = NULL;
    ck_assert_int_eq(kr_patch_merge_three_way(NULL, modified, current, &patch, NULL), 0);
    json_t *want = parse("{\"a\":1,\"m\":{\"x\":2}}");
    ck_assert(json_equal(patch, want));
    json_decref(want);
    json_decref(patch);
    json_decref(modified);
    json_decref(current);
}
END_TEST

START_TEST(invalid_arguments_are_rejected_with_a_path)
{
    json_t *obj = parse("{}");
    json_t *arr = parse("[]");
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_merge_apply(obj, NULL, &out, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_merge_apply(obj, obj, NULL, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_merge_create(NULL, obj, &out, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_merge_create(obj, NULL, &out, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_merge_three_way(obj, NULL, obj, &out, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_merge_three_way(obj, obj, NULL, &out, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_merge_three_way(obj, obj, obj, NULL, &err), KR_EINVAL);
    ck_assert_int_eq(kr_patch_merge_three_way(arr, obj, obj, &out, &err), KR_EPATCH);
    ck_assert_ptr_nonnull(strstr(err.message, "last-applied"));
    ck_assert_ptr_nonnull(strstr(err.message, "document root"));
    ck_assert_int_eq(kr_patch_merge_three_way(obj, arr, obj, &out, &err), KR_EPATCH);
    ck_assert_int_eq(kr_patch_merge_three_way(obj, obj, arr, &out, &err), KR_EPATCH);
    ck_assert_ptr_null(out);
    /* A missing document is JSON null for apply: the patch decides. */
    ck_assert_int_eq(kr_patch_merge_apply(NULL, obj, &out, &err), 0);
    ck_assert(json_equal(out, obj));
    json_decref(out);
    json_decref(obj);
    json_decref(arr);
}
END_TEST

/* ---- random documents ---------------------------------------------------- */

static const char *const field_names[] = {
    "metadata",   "name",  "labels", "annotations", "spec",  "replicas", "template",
    "containers", "image", "env",    "value",       "ports", "status",   "a",
    "b",          "c",     "x~y",    "p/q",         "",      "data",
};

static json_t *random_value(kr_test_rng *rng, int depth, int in_array);

static json_t *random_object(kr_test_rng *rng, int depth)
{
    json_t *obj = json_object();
    unsigned long n = kr_test_rng_below(rng, depth > 3 ? 3 : 6);
    for (unsigned long i = 0; i < n; i++) {
        const char *key =
            field_names[kr_test_rng_below(rng, sizeof(field_names) / sizeof(field_names[0]))];
        json_object_set_new(obj, key, random_value(rng, depth + 1, 0));
    }
    return obj;
}

/* Documents without null members in objects: a merge patch cannot express
 * "set this member to null" (RFC 7386 section 1). Nulls in arrays are fine. */
static json_t *random_value(kr_test_rng *rng, int depth, int in_array)
{
    unsigned long kind = kr_test_rng_below(rng, depth > 4 ? 6 : 9);
    char text[32];
    switch (kind) {
    case 0:
        snprintf(text, sizeof(text), "v%lu", (unsigned long)kr_test_rng_below(rng, 5));
        return json_string(text);
    case 1:
        return json_integer((json_int_t)kr_test_rng_below(rng, 5));
    case 2:
        return json_real((double)kr_test_rng_below(rng, 7) / 4.0 + 0.125);
    case 3:
        return json_boolean(kr_test_rng_below(rng, 2));
    case 4:
        return in_array ? json_null() : json_string("");
    case 5:
        return json_string("s");
    case 6:
    case 7:
        return random_object(rng, depth);
    default: {
        json_t *arr = json_array();
        unsigned long n = kr_test_rng_below(rng, 4);
        for (unsigned long i = 0; i < n; i++)
            json_array_append_new(arr, random_value(rng, depth + 1, 1));
        return arr;
    }
    }
}

/* A copy of `doc` with random members removed, changed and added. */
static json_t *mutate(kr_test_rng *rng, const json_t *doc, int depth)
{
    if (!json_is_object(doc) || kr_test_rng_below(rng, 10) == 0)
        return kr_test_rng_below(rng, 3) == 0 ? random_value(rng, depth, 0) : json_deep_copy(doc);
    json_t *out = json_object();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)doc, key, value)
    {
        unsigned long action = kr_test_rng_below(rng, 8);
        if (action == 0)
            continue;
        json_object_set_new(
            out, key,
            action == 1 ? random_value(rng, depth + 1, 0)
                        : (action < 4 ? mutate(rng, value, depth + 1) : json_deep_copy(value)));
    }
    if (kr_test_rng_below(rng, 3) == 0) {
        const char *name =
            field_names[kr_test_rng_below(rng, sizeof(field_names) / sizeof(field_names[0]))];
        json_object_set_new(out, name, random_value(rng, depth + 1, 0));
    }
    return out;
}

START_TEST(apply_of_create_gives_back_the_modified_document)
{
    kr_test_rng rng;
    kr_test_rng_init(&rng, kr_test_seed("merge_round_trip"));
    for (int i = 0; i < 10000; i++) {
        json_t *a = random_object(&rng, 0);
        json_t *b = kr_test_rng_below(&rng, 8) == 0 ? random_object(&rng, 0) : mutate(&rng, a, 0);
        if (!json_is_object(b)) {
            json_decref(b);
            b = random_object(&rng, 0);
        }
        json_t *patch = NULL, *applied = NULL, *self = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_patch_merge_create(a, b, &patch, &err) == 0, "case %d: %s", i,
                      err.message);
        ck_assert_msg(kr_patch_merge_apply(a, patch, &applied, &err) == 0, "case %d: %s", i,
                      err.message);
        if (!json_equal(applied, b)) {
            char *sa = dump(a), *sb = dump(b), *sp = dump(patch), *sr = dump(applied);
            ck_abort_msg("case %d: A=%s B=%s patch=%s got=%s", i, sa, sb, sp, sr);
        }
        ck_assert_int_eq(kr_patch_merge_create(a, a, &self, &err), 0);
        ck_assert_msg(json_object_size(self) == 0, "case %d: create(A, A) is not {}", i);
        json_decref(a);
        json_decref(b);
        json_decref(patch);
        json_decref(applied);
        json_decref(self);
    }
}
END_TEST

/* Every deletion (null) in `patch` names a member of `last`. */
static void check_deletions_from_last(const json_t *patch, const json_t *last, int i)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)patch, key, value)
    {
        const json_t *before = json_object_get(last, key);
        if (json_is_null(value))
            ck_assert_msg(before != NULL, "case %d: deletes \"%s\", absent from last-applied", i,
                          key);
        else if (json_is_object(value) && json_is_object(before))
            check_deletions_from_last(value, before, i);
        else if (json_is_object(value))
            check_deletions_from_last(value, NULL, i);
    }
}

/* The result carries the intent (modified), drops what the user removed
 * since last-applied, and keeps every other member of current untouched. */
static void check_three_way_result(const json_t *result, const json_t *last, const json_t *modified,
                                   const json_t *current, int i)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)modified, key, value)
    {
        const json_t *got = json_object_get(result, key);
        ck_assert_msg(got != NULL, "case %d: intended member \"%s\" missing", i, key);
        if (json_is_object(value)) {
            ck_assert_msg(json_is_object(got), "case %d: \"%s\" is not an object", i, key);
            const json_t *cur = json_object_get(current, key);
            const json_t *prev = json_object_get(last, key);
            check_three_way_result(got, json_is_object(prev) ? prev : NULL, value,
                                   json_is_object(cur) ? cur : NULL, i);
        } else {
            ck_assert_msg(json_equal(got, value), "case %d: \"%s\" differs from intent", i, key);
        }
    }
    json_object_foreach((json_t *)current, key, value)
    {
        if (json_object_get(modified, key))
            continue;
        const json_t *got = json_object_get(result, key);
        if (last && json_object_get(last, key))
            ck_assert_msg(got == NULL, "case %d: removed member \"%s\" kept", i, key);
        else
            ck_assert_msg(got && json_equal(got, value),
                          "case %d: member \"%s\" set by others was changed", i, key);
    }
}

START_TEST(three_way_never_removes_fields_absent_from_last_applied)
{
    kr_test_rng rng;
    kr_test_rng_init(&rng, kr_test_seed("merge_three_way"));
    for (int i = 0; i < 10000; i++) {
        json_t *last = random_object(&rng, 0);
        json_t *modified = mutate(&rng, last, 0);
        json_t *current = mutate(&rng, last, 0);
        if (!json_is_object(modified)) {
            json_decref(modified);
            modified = random_object(&rng, 0);
        }
        if (!json_is_object(current)) {
            json_decref(current);
            current = random_object(&rng, 0);
        }
        bool no_last = kr_test_rng_below(&rng, 10) == 0;
        json_t *patch = NULL, *result = NULL;
        kr_error_t err = {0};
        ck_assert_msg(
            kr_patch_merge_three_way(no_last ? NULL : last, modified, current, &patch, &err) == 0,
            "case %d: %s", i, err.message);
        check_deletions_from_last(patch, no_last ? NULL : last, i);
        ck_assert_int_eq(kr_patch_merge_apply(current, patch, &result, &err), 0);
        check_three_way_result(result, no_last ? NULL : last, modified, current, i);
        json_decref(last);
        json_decref(modified);
        json_decref(current);
        json_decref(patch);
        json_decref(result);
    }
}
END_TEST

/* ---- allocation failures --------------------------------------------------- */

struct sweep_docs {
    json_t *a, *b, *c;
    json_t *want;
    int which; /* 0 apply, 1 create, 2 three-way */
};

static int sweep_merge(void *arg)
{
    struct sweep_docs *d = arg;
    json_t *out = NULL;
    kr_error_t err = {0};
    int rc;
    if (d->which == 0)
        rc = kr_patch_merge_apply(d->a, d->b, &out, &err);
    else if (d->which == 1)
        rc = kr_patch_merge_create(d->a, d->b, &out, &err);
    else
        rc = kr_patch_merge_three_way(d->a, d->b, d->c, &out, &err);
    int verdict;
    if (rc == KR_ENOMEM)
        verdict = out != NULL || err.code != KR_ENOMEM;
    else
        verdict = rc != 0 || !json_equal(out, d->want);
    json_decref(out);
    return verdict;
}

START_TEST(allocation_failures_are_reported_without_leaks)
{
    struct sweep_docs d;
    d.a = parse("{\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":\"1\",\"b\":\"2\"}},"
                "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":"
                "[{\"name\":\"c\",\"image\":\"i\"}]}}},\"status\":{\"ready\":1}}");
    d.b = parse("{\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":\"9\",\"c\":\"3\"}},"
                "\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":"
                "[{\"name\":\"c\",\"image\":\"j\"}]},\"new\":{\"deep\":{\"x\":[1,{\"y\":2}]}}}}}");
    d.c = parse("{\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":\"1\",\"b\":\"2\",\"o\":\"x\"}},"
                "\"spec\":{\"replicas\":5},\"status\":{\"ready\":0}}");
    for (d.which = 0; d.which < 3; d.which++) {
        json_t *patch = NULL;
        ck_assert_int_eq(kr_patch_merge_create(d.a, d.b, &patch, NULL), 0);
        json_t *apply_patch = d.b;
        if (d.which == 0)
            d.b = patch;
        if (d.which == 0)
            ck_assert_int_eq(kr_patch_merge_apply(d.a, d.b, &d.want, NULL), 0);
        else if (d.which == 1)
            d.want = json_incref(patch);
        else
            ck_assert_int_eq(kr_patch_merge_three_way(d.a, d.b, d.c, &d.want, NULL), 0);
        long runs = kr_test_alloc_failure_sweep(sweep_merge, &d);
        ck_assert_msg(runs > 10, "sweep %d returned %ld", d.which, runs);
        d.b = apply_patch;
        json_decref(patch);
        json_decref(d.want);
    }
    json_decref(d.a);
    json_decref(d.b);
    json_decref(d.c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("patch_merge");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, rfc7386_examples_all_hold);
    tcase_add_test(tc, apply_result_shares_nothing_with_inputs);
    tcase_add_test(tc, arrays_lose_the_nulls_of_their_objects_as_the_apiserver_applies_them);
    tcase_add_test(tc, create_makes_the_minimal_patch);
    tcase_add_test(tc, three_way_applies_intent_and_keeps_others_fields);
    tcase_add_test(tc, three_way_without_last_applied_deletes_nothing);
    tcase_add_test(tc, invalid_arguments_are_rejected_with_a_path);
    tcase_add_test(tc, apply_of_create_gives_back_the_modified_document);
    tcase_add_test(tc, three_way_never_removes_fields_absent_from_last_applied);
    tcase_add_test(tc, allocation_failures_are_reported_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
