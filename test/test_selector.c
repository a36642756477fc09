/* Tests for label and field selectors: every syntactic form, every parse
 * error with the apiserver's exact text, canonical round trips, matching,
 * and allocation failures. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

#define QNAME_REGEX "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define NAME_PART_ERR                                                                              \
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "      \
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "      \
    "used for validation is '" QNAME_REGEX "')"
#define LABEL_VALUE_ERR                                                                            \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "       \
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "          \
    "'my_value',  or '12345', regex used for validation is '(" QNAME_REGEX ")?')"

static char *canonical(const char *text)
{
    kr_selector_t *sel = NULL;
    kr_error_t err = {0};
    int rc = kr_selector_parse(text, &sel, &err);
    ck_assert_msg(rc == 0, "parse '%s': %s", text, err.message);
    char *s = kr_selector_to_string(sel);
    ck_assert_ptr_nonnull(s);
    kr_selector_free(sel);
    return s;
}

static void assert_canonical(const char *text, const char *expected)
{
    char *s = canonical(text);
    ck_assert_msg(strcmp(s, expected) == 0, "'%s' -> '%s', want '%s'", text, s, expected);
    /* The canonical text parses back to itself. */
    char *again = canonical(s);
    ck_assert_str_eq(again, s);
    kr_free(again);
    kr_free(s);
}

static void assert_parse_error(const char *text, const char *message)
{
    kr_selector_t *sel = (kr_selector_t *)0x1;
    kr_error_t err = {0};
    int rc = kr_selector_parse(text, &sel, &err);
    ck_assert_msg(rc == KR_EPARSE, "'%s' gave %d, want KR_EPARSE", text, rc);
    ck_assert_ptr_null(sel);
    ck_assert_int_eq(err.code, KR_EPARSE);
    ck_assert_msg(strcmp(err.message, message) == 0, "'%s':\n got  %s\n want %s", text, err.message,
                  message);
}

START_TEST(label_every_form_parses_to_its_operator)
{
    static const struct {
        const char *text;
        kr_selector_op op;
        const char *key;
        size_t n_values;
        const char *first;
    } cases[] = {
        {"k=v", KR_SELECTOR_EQUALS, "k", 1, "v"},
        {"k==v", KR_SELECTOR_DOUBLE_EQUALS, "k", 1, "v"},
        {"k!=v", KR_SELECTOR_NOT_EQUALS, "k", 1, "v"},
        {"k in (b,a)", KR_SELECTOR_IN, "k", 2, "a"},
        {"k notin (a)", KR_SELECTOR_NOT_IN, "k", 1, "a"},
        {"k", KR_SELECTOR_EXISTS, "k", 0, NULL},
        {"!k", KR_SELECTOR_DOES_NOT_EXIST, "k", 0, NULL},
        {"k>5", KR_SELECTOR_GREATER_THAN, "k", 1, "5"},
        {"k<5", KR_SELECTOR_LESS_THAN, "k", 1, "5"},
        {"example.com/k = v", KR_SELECTOR_EQUALS, "example.com/k", 1, "v"},
        {"k=", KR_SELECTOR_EQUALS, "k", 1, ""},
        {"k in ()", KR_SELECTOR_IN, "k", 1, ""},
        {"in in (in)", KR_SELECTOR_IN, "in", 1, "in"},
        {"notin=notin", KR_SELECTOR_EQUALS, "notin", 1, "notin"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kr_selector_t *sel = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_selector_parse(cases[i].text, &sel, &err) == 0, "%s: %s", cases[i].text,
                      err.message);
        ck_assert_uint_eq(kr_selector_count(sel), 1);
        const char *key = NULL;
        kr_selector_op op;
        const char *const *values = NULL;
        size_t n = 99;
        ck_assert_int_eq(kr_selector_requirement(sel, 0, &key, &op, &values, &n), 0);
        ck_assert_str_eq(key, cases[i].key);
        ck_assert_msg(op == cases[i].op, "%s: op %s", cases[i].text, kr_selector_op_name(op));
        ck_assert_uint_eq(n, cases[i].n_values);
        if (n > 0)
            ck_assert_str_eq(values[0], cases[i].first);
        ck_assert_int_eq(kr_selector_requirement(sel, 1, &key, &op, &values, &n), KR_EINVAL);
        kr_selector_free(sel);
    }
}
END_TEST

START_TEST(label_empty_selector_matches_everything)
{
    const char *empties[] = {"", "   ", " \t\r\n", NULL};
    for (size_t i = 0; i < 4; i++) {
        kr_selector_t *sel = NULL;
        ck_assert_int_eq(kr_selector_parse(empties[i], &sel, NULL), 0);
        ck_assert(kr_selector_is_empty(sel));
        ck_assert(kr_selector_matches(sel, NULL));
        json_t *labels = json_pack("{s:s}", "a", "b");
        ck_assert(kr_selector_matches(sel, labels));
        json_decref(labels);
        char *s = kr_selector_to_string(sel);
        ck_assert_str_eq(s, "");
        kr_free(s);
        kr_selector_free(sel);
    }
    ck_assert(kr_selector_matches(NULL, NULL));
    kr_selector_free(NULL);
}
END_TEST

START_TEST(label_canonical_form_sorts_keys_and_values)
{
    assert_canonical("  b in (z, a,a) , a!=x,!c,d>5,e<10,f==g,h ",
                     "a!=x,b in (a,z),!c,d>5,e<10,f==g,h");
    assert_canonical("k in (,a)", "k in (,a)");
    assert_canonical("k in (a,)", "k in (,a)");
    assert_canonical("k in (a,,b)", "k in (,a,b)");
    /* any run of commas is one empty value, also before ")" */
    assert_canonical("k in (a,,)", "k in (,a)");
    assert_canonical("k in (a,,,,,,)", "k in (,a)");
    assert_canonical("k in (a,,a,,a,,a,,)", "k in (,a)");
    assert_canonical("k in (,,)", "k in ()");
    assert_canonical("k in (,,,)", "k in ()");
    assert_canonical("k notin (x,y)", "k notin (x,y)");
    assert_canonical("k in ()", "k in ()");
    assert_canonical("k=", "k=");
    assert_canonical("k==,j!=", "j!=,k==");
    assert_canonical("z,y=1,z=2", "y=1,z,z=2");
    assert_canonical("z=2,z", "z=2,z");
    assert_canonical("k>007", "k>007");
}
END_TEST

START_TEST(label_parse_errors_match_the_apiserver)
{
    assert_parse_error("k IN (a)", "unable to parse requirement: found 'IN', expected: in, "
                                   "notin, =, ==, !=, gt, lt");
    assert_parse_error("k!", "unable to parse requirement: found '!', expected: in, notin, "
                             "=, ==, !=, gt, lt");
    assert_parse_error("x=a,,y=b", "found ',', expected: identifier after ','");
    assert_parse_error("x=a,", "found '', expected: identifier after ','");
    assert_parse_error("x=a y", "found 'y', expected: ',' or 'end of string'");
    assert_parse_error("k=a=b", "found '=', expected: ',' or 'end of string'");
    assert_parse_error("!k=v", "found '=', expected: ',' or 'end of string'");
    assert_parse_error("=a", "found '=', expected: !, identifier, or 'end of string'");
    assert_parse_error(")", "found ')', expected: !, identifier, or 'end of string'");
    assert_parse_error("!", "unable to parse requirement: found '', expected: identifier");
    assert_parse_error("!!k", "unable to parse requirement: found '!', expected: identifier");
    assert_parse_error("k in a", "unable to parse requirement: found 'a' expected: '('");
    assert_parse_error("k in", "unable to parse requirement: found '' expected: '('");
    assert_parse_error("k in (a b)",
                       "unable to parse requirement: found 'b', expected: ',' or ')'");
    assert_parse_error("k in (a", "unable to parse requirement: found '', expected: ',' or ')'");
    assert_parse_error("k in (=)",
                       "unable to parse requirement: found '=', expected: ',', ')' or identifier");
    assert_parse_error("k in (a,=)",
                       "unable to parse requirement: found '=', expected: ',', or identifier");
    assert_parse_error("k=(", "unable to parse requirement: found '(', expected: identifier");
    assert_parse_error(
        "a@b=c", "unable to parse requirement: <nil>: Invalid value: \"a@b\": " NAME_PART_ERR);
    assert_parse_error(
        "/a",
        "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty");
    assert_parse_error("a/", "unable to parse requirement: <nil>: Invalid value: \"a/\": name part "
                             "must be non-empty; " NAME_PART_ERR);
    assert_parse_error(
        "a/b/c", "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name "
                 "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                 "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
                 "regex used for validation is '" QNAME_REGEX "') with an optional DNS subdomain "
                 "prefix and '/' (e.g. 'example.com/MyName')");
    assert_parse_error(
        "app.kubernetes_io/name=x",
        "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix "
        "part "
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
        "used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    assert_parse_error(
        "k\x01", "unable to parse requirement: <nil>: Invalid value: \"k\\x01\": " NAME_PART_ERR);
    assert_parse_error("k=a@b", "unable to parse requirement: values[0][k]: Invalid value: "
                                "\"a@b\": " LABEL_VALUE_ERR);
    assert_parse_error("k>abc", "unable to parse requirement: values[0]: Invalid value: \"abc\": "
                                "for 'Gt', 'Lt' operators, the value must be an integer");
    assert_parse_error("k<", "unable to parse requirement: values[0]: Invalid value: \"\": "
                             "for 'Gt', 'Lt' operators, the value must be an integer");
    assert_parse_error("k>99999999999999999999",
                       "unable to parse requirement: values[0]: Invalid value: "
                       "\"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an "
                       "integer");
    /* A negative bound is an integer but not a label value. */
    assert_parse_error(
        "k>-5",
        "unable to parse requirement: values[0][k]: Invalid value: \"-5\": " LABEL_VALUE_ERR);
    assert_parse_error("k>a@", "unable to parse requirement: [values[0]: Invalid value: \"a@\": "
                               "for 'Gt', 'Lt' operators, the value must be an integer, "
                               "values[0][k]: Invalid value: \"a@\": " LABEL_VALUE_ERR "]");
    assert_parse_error(
        "k in (b@,a@)",
        "unable to parse requirement: [values[0][k]: Invalid value: \"a@\": " LABEL_VALUE_ERR
        ", values[1][k]: Invalid value: \"b@\": " LABEL_VALUE_ERR "]");

    char long_key[80], long_value[80], text[200];
    memset(long_key, 'k', 64);
    long_key[64] = '\0';
    snprintf(text, sizeof(text), "%s=v", long_key);
    char want[2048];
    snprintf(want, sizeof(want),
             "unable to parse requirement: <nil>: Invalid value: \"%s\": name part must be no more "
             "than 63 characters",
             long_key);
    assert_parse_error(text, want);
    memset(long_value, 'v', 64);
    long_value[64] = '\0';
    snprintf(text, sizeof(text), "k=%s", long_value);
    snprintf(want, sizeof(want),
             "unable to parse requirement: values[0][k]: Invalid value: \"%s\": must be no more "
             "than 63 characters",
             long_value);
    assert_parse_error(text, want);
}
END_TEST

START_TEST(label_parse_rejects_null_out)
{
    kr_error_t err = {0};
    ck_assert_int_eq(kr_selector_parse("a", NULL, &err), KR_EINVAL);
}
END_TEST

static bool match(const char *text, const char *labels_json)
{
    kr_selector_t *sel = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_selector_parse(text, &sel, &err) == 0, "%s: %s", text, err.message);
    json_t *labels = labels_json ? json_loads(labels_json, 0, NULL) : NULL;
    json_t *obj = json_pack("{s:{s:O?}}", "metadata", "labels", labels);
    bool m = kr_selector_matches(sel, labels);
    ck_assert(m == kr_selector_matches_object(sel, obj));
    json_decref(obj);
    json_decref(labels);
    kr_selector_free(sel);
    return m;
}

START_TEST(label_matching_follows_each_operator)
{
    const char *l = "{\"app\":\"web\",\"tier\":\"front\",\"n\":\"7\",\"empty\":\"\",\"num\":3}";
    ck_assert(match("app=web", l));
    ck_assert(match("app==web", l));
    ck_assert(!match("app=db", l));
    ck_assert(!match("missing=web", l));
    ck_assert(match("app!=db", l));
    ck_assert(match("missing!=x", l));
    ck_assert(!match("app!=web", l));
    ck_assert(match("app in (db,web)", l));
    ck_assert(!match("missing in (web)", l));
    ck_assert(match("app notin (db)", l));
    ck_assert(match("missing notin (db)", l));
    ck_assert(!match("app notin (web)", l));
    ck_assert(match("app", l));
    ck_assert(!match("missing", l));
    ck_assert(match("!missing", l));
    ck_assert(!match("!app", l));
    ck_assert(match("n>5", l));
    ck_assert(!match("n>7", l));
    ck_assert(match("n<8", l));
    ck_assert(!match("n<7", l));
    ck_assert(!match("app>1", l)); /* not an integer */
    ck_assert(!match("missing<1", l));
    ck_assert(match("n>0", l));
    ck_assert(match("n>06", l));
    ck_assert(match("n<000000000000000000000000000000000000000000000000008", l));
    /* A label value past int64 is not an integer: gt/lt never match it. */
    ck_assert(!match("n>1", "{\"n\":\"99999999999999999999\"}"));
    ck_assert(match("n>9223372036854775806", "{\"n\":\"9223372036854775807\"}"));
    ck_assert(match("empty=", l));
    ck_assert(match("empty in ()", l));
    ck_assert(!match("app=", l));
    ck_assert(match("app=web,tier=front,!missing", l));
    ck_assert(!match("app=web,tier=back", l));
    /* A non-string value is present but equals nothing. */
    ck_assert(match("num", l));
    ck_assert(!match("num=3", l));
    ck_assert(match("num!=3", l));
    ck_assert(!match("num>1", l));
    /* No labels at all. */
    ck_assert(match("!app", NULL));
    ck_assert(!match("app", NULL));
    ck_assert(match("app!=x", NULL));
    ck_assert(match("!app", "[1]"));
}
END_TEST

/* ---- field selectors ---- */

static kr_field_selector_t *field_parse(const char *text)
{
    kr_field_selector_t *sel = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_field_selector_parse(text, &sel, &err) == 0, "%s: %s", text, err.message);
    return sel;
}

static void assert_field_error(const char *text, const char *message)
{
    kr_field_selector_t *sel = (kr_field_selector_t *)0x1;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_field_selector_parse(text, &sel, &err), KR_EPARSE);
    ck_assert_ptr_null(sel);
    ck_assert_msg(strcmp(err.message, message) == 0, "'%s':\n got  %s\n want %s", text, err.message,
                  message);
}

START_TEST(field_every_form_and_escape_parses)
{
    kr_field_selector_t *sel =
        field_parse("metadata.name=a,metadata.namespace!=b,spec.x==c\\,d\\=e\\\\f,,");
    ck_assert_uint_eq(kr_field_selector_count(sel), 3);
    const char *field, *value;
    kr_field_op op;
    ck_assert_int_eq(kr_field_selector_requirement(sel, 0, &field, &op, &value), 0);
    ck_assert_str_eq(field, "metadata.name");
    ck_assert_int_eq(op, KR_FIELD_EQUALS);
    ck_assert_str_eq(value, "a");
    ck_assert_int_eq(kr_field_selector_requirement(sel, 1, &field, &op, &value), 0);
    ck_assert_str_eq(field, "metadata.namespace");
    ck_assert_int_eq(op, KR_FIELD_NOT_EQUALS);
    ck_assert_int_eq(kr_field_selector_requirement(sel, 2, &field, &op, &value), 0);
    ck_assert_str_eq(field, "spec.x");
    ck_assert_int_eq(op, KR_FIELD_EQUALS);
    ck_assert_str_eq(value, "c,d=e\\f");
    ck_assert_int_eq(kr_field_selector_requirement(sel, 3, &field, &op, &value), KR_EINVAL);
    char *s = kr_field_selector_to_string(sel);
    ck_assert_str_eq(s, "metadata.name=a,metadata.namespace!=b,spec.x=c\\,d\\=e\\\\f");
    kr_field_selector_t *again = field_parse(s);
    char *s2 = kr_field_selector_to_string(again);
    ck_assert_str_eq(s2, s);
    kr_free(s);
    kr_free(s2);
    kr_field_selector_free(again);
    kr_field_selector_free(sel);

    /* No trimming: the field keeps its spaces, as on the apiserver. */
    sel = field_parse("a = b");
    ck_assert_int_eq(kr_field_selector_requirement(sel, 0, &field, &op, &value), 0);
    ck_assert_str_eq(field, "a ");
    ck_assert_str_eq(value, " b");
    kr_field_selector_free(sel);

    sel = field_parse("");
    ck_assert_uint_eq(kr_field_selector_count(sel), 0);
    s = kr_field_selector_to_string(sel);
    ck_assert_str_eq(s, "");
    kr_free(s);
    kr_field_selector_free(sel);
    kr_field_selector_free(NULL);
}
END_TEST

START_TEST(field_parse_errors_match_the_apiserver)
{
    assert_field_error("metadata.name", "invalid selector: 'metadata.name'; can't understand "
                                        "'metadata.name'");
    assert_field_error("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'");
    assert_field_error("a=b\\q", "invalid field selector: invalid escape sequence: \\q");
    assert_field_error("a=b\\", "invalid field selector: invalid escape sequence: \\");
    assert_field_error("a=b=c", "invalid field selector: unescaped character in value: 61");
    assert_field_error("a==b=c", "invalid field selector: unescaped character in value: 61");
}
END_TEST

START_TEST(field_matching_uses_the_value_callback)
{
    json_t *obj = json_pack("{s:{s:s,s:s}}", "metadata", "name", "web", "namespace", "prod");
    json_t *cluster = json_pack("{s:{s:s}}", "metadata", "name", "node1");
    kr_field_selector_t *sel = field_parse("metadata.name=web,metadata.namespace==prod");
    ck_assert(kr_field_selector_matches(sel, obj, NULL, NULL));
    ck_assert(!kr_field_selector_matches(sel, cluster, NULL, NULL));
    kr_field_selector_free(sel);
    sel = field_parse("metadata.namespace=");
    ck_assert(kr_field_selector_matches(sel, cluster, kr_field_selector_metadata_value, NULL));
    ck_assert(!kr_field_selector_matches(sel, obj, NULL, NULL));
    kr_field_selector_free(sel);
    sel = field_parse("metadata.name!=web");
    ck_assert(!kr_field_selector_matches(sel, obj, NULL, NULL));
    ck_assert(kr_field_selector_matches(sel, cluster, NULL, NULL));
    kr_field_selector_free(sel);
    ck_assert(kr_field_selector_matches(NULL, obj, NULL, NULL));
    json_decref(obj);
    json_decref(cluster);
}
END_TEST

START_TEST(field_unknown_fields_are_reported_like_the_apiserver)
{
    static const char *const allowed[] = {"metadata.name", "metadata.namespace"};
    kr_field_selector_t *sel = field_parse("metadata.name=a,spec.foo=x");
    kr_error_t err = {0};
    ck_assert_int_eq(kr_field_selector_check_fields(sel, allowed, 2, &err), KR_EINVAL);
    ck_assert_str_eq(err.message, "\"spec.foo\" is not a known field selector: only "
                                  "\"metadata.name\", \"metadata.namespace\"");
    kr_field_selector_free(sel);
    sel = field_parse("metadata.namespace!=a");
    ck_assert_int_eq(kr_field_selector_check_fields(sel, allowed, 2, &err), 0);
    kr_field_selector_free(sel);
}
END_TEST

/* ---- allocation failures ---- */

static int parse_everything(void *arg)
{
    (void)arg;
    kr_selector_t *sel = NULL;
    int rc = kr_selector_parse("b in (z,a,y), a!=x, !c, d>5, e<10, f==g, h", &sel, NULL);
    if (rc)
        return rc == KR_ENOMEM ? 0 : 1;
    char *s = kr_selector_to_string(sel);
    kr_selector_free(sel);
    if (!s)
        return 0;
    bool ok = strcmp(s, "a!=x,b in (a,y,z),!c,d>5,e<10,f==g,h") == 0;
    kr_free(s);
    if (!ok)
        return 1;
    kr_field_selector_t *fsel = NULL;
    rc = kr_field_selector_parse("metadata.name=a\\,b,metadata.namespace!=c", &fsel, NULL);
    if (rc)
        return rc == KR_ENOMEM ? 0 : 1;
    s = kr_field_selector_to_string(fsel);
    kr_field_selector_free(fsel);
    ok = !s || strcmp(s, "metadata.name=a\\,b,metadata.namespace!=c") == 0;
    kr_free(s);
    return ok ? 0 : 1;
}

/* The names the apiserver takes, as apimachinery's IsDNS1123Label and
 * IsDNS1123Subdomain decide them. */
START_TEST(names_follow_rfc_1123)
{
    char l63[64], l64[65], sub253[254], sub254[255];
    memset(l63, 'a', 63);
    l63[63] = '\0';
    memset(l64, 'a', 64);
    l64[64] = '\0';
    /* labels longer than 63 inside a subdomain: only the whole is bounded */
    memset(sub253, 'b', 253);
    sub253[100] = '.';
    sub253[253] = '\0';
    memset(sub254, 'b', 254);
    sub254[254] = '\0';
    const char *labels[] = {"a", "default", "kube-system", "0abc", "a-b-9", l63};
    const char *not_labels[] = {NULL,  "",    "-a",      "a-", "A", "a.b",
                                "a_b", "a b", "caf\xc3", "..", l64, sub253};
    const char *subdomains[] = {"a", "kr.leader", "x-1.y-2.z", l63, l64, sub253};
    const char *not_subdomains[] = {NULL, "",     ".",    "..",  "a.",  ".a",   "a..b",
                                    "-a", "a-.b", "a.-b", "Abc", "a/b", "a\nb", sub254};
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        ck_assert_msg(kr_name_is_dns1123_label(labels[i]), "label %zu", i);
        ck_assert_msg(kr_name_is_dns1123_subdomain(labels[i]), "label %zu as subdomain", i);
    }
    for (size_t i = 0; i < sizeof(not_labels) / sizeof(not_labels[0]); i++)
        ck_assert_msg(!kr_name_is_dns1123_label(not_labels[i]), "not a label %zu", i);
    for (size_t i = 0; i < sizeof(subdomains) / sizeof(subdomains[0]); i++)
        ck_assert_msg(kr_name_is_dns1123_subdomain(subdomains[i]), "subdomain %zu", i);
    for (size_t i = 0; i < sizeof(not_subdomains) / sizeof(not_subdomains[0]); i++)
        ck_assert_msg(!kr_name_is_dns1123_subdomain(not_subdomains[i]), "not a subdomain %zu", i);
}
END_TEST

START_TEST(allocation_failures_are_reported_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(parse_everything, NULL);
    ck_assert_msg(runs > 10, "sweep returned %ld", runs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("selector");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, label_every_form_parses_to_its_operator);
    tcase_add_test(tc, label_empty_selector_matches_everything);
    tcase_add_test(tc, label_canonical_form_sorts_keys_and_values);
    tcase_add_test(tc, label_parse_errors_match_the_apiserver);
    tcase_add_test(tc, label_parse_rejects_null_out);
    tcase_add_test(tc, label_matching_follows_each_operator);
    tcase_add_test(tc, field_every_form_and_escape_parses);
    tcase_add_test(tc, field_parse_errors_match_the_apiserver);
    tcase_add_test(tc, field_matching_uses_the_value_callback);
    tcase_add_test(tc, field_unknown_fields_are_reported_like_the_apiserver);
    tcase_add_test(tc, names_follow_rfc_1123);
    tcase_add_test(tc, allocation_failures_are_reported_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
