/* Tests for the YAML to JSON converter (Kubernetes' scalar resolution,
 * structure, multi-document streams, limits and errors) and for the JSON
 * to YAML printer (read back whole; kubectl's text, with kubectl as the
 * oracle where it is installed). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"

static json_t *parse_ok(const char *text)
{
    json_t *out = NULL;
    kr_error_t err = {0};
    int rc = kr_yaml_parse(text, strlen(text), &out, &err);
    ck_assert_msg(rc == 0, "parse failed: %s", err.message);
    return out;
}

static void assert_yaml_json(const char *yaml, const char *expected_json)
{
    json_t *got = parse_ok(yaml);
    json_t *want = json_loads(expected_json, JSON_DECODE_ANY, NULL);
    ck_assert_ptr_nonnull(want);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_ENCODE_ANY);
    ck_assert_msg(json_equal(got, want), "yaml %s\n gave %s\n want %s", yaml, g, expected_json);
    free(g);
    json_decref(got);
    json_decref(want);
}

START_TEST(scalars_resolve_like_kubernetes)
{
    assert_yaml_json("a: 1\nb: -7\nc: 0x1F\nd: 0o17\ne: 010\nf: 1_000\n",
                     "{\"a\":1,\"b\":-7,\"c\":31,\"d\":15,\"e\":8,\"f\":1000}");
    /* a whole float is an integer, as Go's encoding/json writes 3.0 */
    assert_yaml_json("a: 1.5\nb: 2e3\nc: -0.25\nd: 3.0\ne: 08\n",
                     "{\"a\":1.5,\"b\":2000,\"c\":-0.25,\"d\":3,\"e\":8}");
    assert_yaml_json("a: true\nb: no\nc: On\nd: FALSE\ne: y\n",
                     "{\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":true}");
    assert_yaml_json("a: ~\nb: null\nc:\n", "{\"a\":null,\"b\":null,\"c\":null}");
    assert_yaml_json("a: \"1\"\nb: 'true'\nc: '42'\nd: 1.2.3\ne: '.inf'\n",
                     "{\"a\":\"1\",\"b\":\"true\",\"c\":\"42\",\"d\":\"1.2.3\",\"e\":\".inf\"}");
    assert_yaml_json("a: 99999999999999999999\n", "{\"a\":1e20}"); /* a float, as in Go */
}
END_TEST

/* Keys and tags as kubectl 1.32 reads them (sigs.k8s.io/yaml, checked with
 * kubectl create --dry-run=client -o json): a plain key is resolved as a
 * value and printed as Go prints it (y and yes are both "true": the last
 * wins; floats at float32 precision); an explicit tag decides the type. */
START_TEST(keys_and_tags_resolve_as_kubectl_reads_them)
{
    assert_yaml_json(
        "{x: '1', y: '2', n: '3', yes: '4', 99999999999999999999: '5', 08: '6', 1e10: '7',"
        " 0.0001: '8', 0.00001: '9', 1234567: '10', -1.5: '11', 123456.7: '12', 0x1F: '13',"
        " 1.50: '14', 'on': '15', 3.0: '16'}",
        "{\"-1.5\":\"11\",\"0.0001\":\"8\",\"123456.7\":\"12\",\"1234567\":\"10\","
        "\"1e+10\":\"7\",\"1e+20\":\"5\",\"1e-05\":\"9\",\"8\":\"6\",\"false\":\"3\","
        "\"true\":\"4\",\"x\":\"1\",\"31\":\"13\",\"1.5\":\"14\",\"on\":\"15\",\"3\":\"16\"}");
    assert_yaml_json("{a: !!binary aGk=, b: !foo 1, c: !!int \"3\", d: &x !!str 7, e: !!str 1.10,"
                     " f: !!float 2, g: !!bool yes, h: !!null ~}",
                     "{\"a\":\"hi\",\"b\":\"1\",\"c\":3,\"d\":\"7\",\"e\":\"1.10\",\"f\":2,"
                     "\"g\":true,\"h\":null}");
    /* marks count characters: a tag after non-ASCII text, a BOM, CRLF */
    assert_yaml_json("d: \"Gr\xc3\xb6\xc3\x9f\xe2\x82\xac\"\r\np: !!str 8080\r\nk: 5\r\n"
                     "m: \"\xf0\x9f\x9a\x80!\" \nq: 6\n",
                     "{\"d\":\"Gr\xc3\xb6\xc3\x9f\xe2\x82\xac\",\"p\":\"8080\",\"k\":5,"
                     "\"m\":\"\xf0\x9f\x9a\x80!\",\"q\":6}");
    assert_yaml_json("\xef\xbb\xbfp: !!str 8080\n", "{\"p\":\"8080\"}");
    assert_yaml_json("{1e39: a, -1e39: b}", "{\".inf\":\"a\",\"-.inf\":\"b\"}");
    static const char *const refused[] = {"{~: a}", "a: !!int x", "a: !!binary '*'", "a: !!null x"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        json_t *out = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_yaml_parse(refused[i], strlen(refused[i]), &out, &err) == KR_EPARSE, "%s",
                      refused[i]);
        ck_assert_ptr_null(out);
    }
}
END_TEST

/* Infinities and NaN have no JSON form: kubectl refuses them as values
 * ("json: unsupported value: +Inf") and writes them as keys the way Go
 * prints them. Every expectation is kubectl 1.32's. */
START_TEST(infinities_and_nan_as_kubectl_reads_them)
{
    assert_yaml_json("{a: \"-.inf\", b: !!str .inf, c: .infx, d: ! .inf, \"+.inf\": 1}",
                     "{\"a\":\"-.inf\",\"b\":\".inf\",\"c\":\".infx\",\"d\":\".inf\","
                     "\"+.inf\":1}");
    assert_yaml_json("{.inf: 1, +.Inf: 2, -.INF: 3, .NaN: 4}",
                     "{\".inf\":2,\"-.inf\":3,\".nan\":4}");
    static const struct {
        const char *yaml, *says;
    } refused[] = {
        {"a: .inf", "line 1: json: unsupported value: +Inf"},
        {"a: +.INF", "+Inf"},
        {"a: -.Inf", "-Inf"},
        {"b: 1\na: [.NaN]", "line 2: json: unsupported value: NaN"},
        {"a: !!float .inf", "+Inf"},
        {"a: !!float \"-.INF\"", "-Inf"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        json_t *out = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_yaml_parse(refused[i].yaml, strlen(refused[i].yaml), &out, &err) ==
                          KR_EPARSE,
                      "%s", refused[i].yaml);
        ck_assert_ptr_null(out);
        ck_assert_msg(strstr(err.message, refused[i].says), "%s: %s", refused[i].yaml, err.message);
    }
}
END_TEST

START_TEST(structures_and_block_scalars)
{
    assert_yaml_json(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {app: web}\n"
        "data:\n  script: |\n    echo hi\n    exit 0\n",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\","
        "\"labels\":{\"app\":\"web\"}},\"data\":{\"script\":\"echo hi\\nexit 0\\n\"}}");
    assert_yaml_json("- a\n- [1, 2]\n- {k: v}\n", "[\"a\",[1,2],{\"k\":\"v\"}]");
    assert_yaml_json("{\"json\": [1, true, null]}", "{\"json\":[1,true,null]}");
    assert_yaml_json("", "null");
}
END_TEST

START_TEST(anchors_aliases_and_merge_keys)
{
    assert_yaml_json("base: &b {x: 1, w: 2}\nother: *b\n",
                     "{\"base\":{\"x\":1,\"w\":2},\"other\":{\"x\":1,\"w\":2}}");
    assert_yaml_json("base: &b {x: 1, w: 2}\nmerged:\n  <<: *b\n  w: 3\n",
                     "{\"base\":{\"x\":1,\"w\":2},\"merged\":{\"x\":1,\"w\":3}}");
    /* as kubectl reads it (go-yaml v2): a merge overwrites the keys before
     * it, the keys after it win, and of merged mappings the first wins */
    assert_yaml_json("a: &a {x: '1', v: '1'}\nb: &b {x: '2', z: '2'}\n"
                     "data: {x: '0', <<: [*a, *b], w: '3'}\nd2: {<<: *a, x: '2'}\n",
                     "{\"a\":{\"x\":\"1\",\"v\":\"1\"},\"b\":{\"x\":\"2\",\"z\":\"2\"},"
                     "\"data\":{\"x\":\"1\",\"v\":\"1\",\"z\":\"2\",\"w\":\"3\"},"
                     "\"d2\":{\"x\":\"2\",\"v\":\"1\"}}");
}
END_TEST

START_TEST(multi_document_streams)
{
    const char *text = "a: 1\n---\n---\nb: 2\n...\n";
    json_t *all = NULL;
    ck_assert_int_eq(kr_yaml_parse_all(text, strlen(text), &all, NULL), 0);
    ck_assert_uint_eq(json_array_size(all), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(all, 1), "b")), 2);
    json_decref(all);
    json_t *first = parse_ok(text);
    ck_assert_int_eq(json_integer_value(json_object_get(first, "a")), 1);
    json_decref(first);
    /* Only the first is read: a broken second one is never parsed, as
     * client-go loads such a kubeconfig (checked with kubectl 1.32). */
    first = parse_ok("a: 1\n---\nb: [1, 2\n");
    ck_assert_int_eq(json_integer_value(json_object_get(first, "a")), 1);
    json_decref(first);
    ck_assert_int_eq(kr_yaml_parse_all("a: 1\n---\nb: [1, 2\n", 18, &all, NULL), KR_EPARSE);
    /* what follows a flow document's end is not read either (kubectl
     * loads a JSON kubeconfig with a stray "]" after it) */
    first = parse_ok("[1, 2]]");
    ck_assert_uint_eq(json_array_size(first), 2);
    json_decref(first);
}
END_TEST

START_TEST(syntax_errors_name_line_and_column)
{
    const char *bad[] = {"a: [1, 2\n", "a: b: c\n",       "\tx: 1\n",     "a:\n  - b\n c: d\n",
                         "a: b\n]\n",  "? [a, b]\n: c\n", "a: *missing\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *out = (json_t *)0x1;
        kr_error_t err = {0};
        int rc = kr_yaml_parse(bad[i], strlen(bad[i]), &out, &err);
        ck_assert_msg(rc == KR_EPARSE, "case %zu: rc %d", i, rc);
        ck_assert_ptr_eq(out, (json_t *)0x1);
        ck_assert_msg(strstr(err.message, "yaml: ") == err.message, "case %zu: %s", i, err.message);
    }
}
END_TEST

START_TEST(deep_nesting_and_alias_bombs_are_refused)
{
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_yaml_parse(deep, n, &out, &err), KR_ETOOLARGE);

    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    ck_assert_int_eq(kr_yaml_parse(bomb, strlen(bomb), &out, &err), KR_ETOOLARGE);
    /* the same code without an error to fill */
    ck_assert_int_eq(kr_yaml_parse(bomb, strlen(bomb), &out, NULL), KR_ETOOLARGE);
    ck_assert_int_eq(kr_yaml_parse(deep, n, &out, NULL), KR_ETOOLARGE);

    /* bombs of bytes: a long string repeated by aliases (100 kB made
     * 10,000 times, a gigabyte), a short one a million times, and a
     * stream of small documents each repeating one a little: refused
     * once the values outgrow the input many times over */
    size_t leaf = 100000;
    char *big_leaf = malloc(leaf + 512);
    ck_assert_ptr_nonnull(big_leaf);
    n = (size_t)sprintf(big_leaf, "a0: &a0 \"");
    memset(big_leaf + n, 'y', leaf);
    n += leaf;
    n += (size_t)sprintf(big_leaf + n, "\"\n");
    for (int level = 1; level <= 4; level++) {
        n += (size_t)sprintf(big_leaf + n, "a%d: &a%d [", level, level);
        for (int i = 0; i < 10; i++)
            n += (size_t)sprintf(big_leaf + n, "%s*a%d", i ? ", " : "", level - 1);
        n += (size_t)sprintf(big_leaf + n, "]\n");
    }
    ck_assert_int_eq(kr_yaml_parse(big_leaf, n, &out, &err), KR_ETOOLARGE);
    ck_assert_msg(strstr(err.message, "bytes of values"), "%s", err.message);
    free(big_leaf);
    const char *small = "a: &a \"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"\n"
                        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    ck_assert_int_eq(kr_yaml_parse(small, strlen(small), &out, &err), KR_ETOOLARGE);
    static const char doc[] = "---\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
                              "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                              "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
    size_t docs = 2000, one = sizeof(doc) - 1;
    char *stream = malloc(docs * one + 1);
    ck_assert_ptr_nonnull(stream);
    for (size_t i = 0; i < docs; i++)
        memcpy(stream + i * one, doc, one);
    stream[docs * one] = '\0';
    ck_assert_int_eq(kr_yaml_parse_all(stream, docs * one, &out, &err), KR_ETOOLARGE);
    /* one such document alone (1,111 values of 178 bytes) converts */
    ck_assert_int_eq(kr_yaml_parse_all(stream, one, &out, &err), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(out, 0), "c")), 10);
    json_decref(out);
    free(stream);

    /* 65 nested collections convert, a 66th is refused, and so is a
     * scalar at depth 65 */
    char edge[200];
    n = 0;
    for (int i = 0; i < 65; i++)
        edge[n++] = '[';
    for (int i = 0; i < 65; i++)
        edge[n++] = ']';
    ck_assert_int_eq(kr_yaml_parse(edge, n, &out, &err), 0);
    json_decref(out);
    memmove(edge + 66, edge + 65, 65);
    edge[65] = '1';
    ck_assert_int_eq(kr_yaml_parse(edge, 131, &out, &err), KR_ETOOLARGE);
    ck_assert_str_eq(err.message, "yaml: line 1: nesting deeper than 64 levels");

    /* 100,000 brackets (200 KB, also as a later document) are refused
     * from their first 66: libyaml's loader would spend tens of seconds
     * on them first */
    size_t big = 100000;
    static const char first[] = "a: 1\n---\n";
    size_t pre = sizeof(first) - 1;
    char *huge = malloc(2 * big + pre + 1);
    ck_assert_ptr_nonnull(huge);
    memcpy(huge, first, pre);
    memset(huge + pre, '[', big);
    memset(huge + pre + big, ']', big);
    huge[pre + 2 * big] = '\0';
    ck_assert_int_eq(kr_yaml_parse(huge + pre, 2 * big, &out, &err), KR_ETOOLARGE);
    ck_assert_str_eq(err.message, "yaml: line 1: nesting deeper than 64 levels");
    ck_assert_int_eq(kr_yaml_parse_all(huge, pre + 2 * big, &out, &err), KR_ETOOLARGE);
    ck_assert_str_eq(err.message, "yaml: line 3: nesting deeper than 64 levels");
    /* the first document alone is read: what follows is not looked at */
    ck_assert_int_eq(kr_yaml_parse(huge, pre + 2 * big, &out, &err), 0);
    json_decref(out);
    free(huge);
}
END_TEST

/* A byte that is no UTF-8 is named where it is, not at the start
 * (libyaml's reader, decoding ahead, gives its offset alone). */
START_TEST(a_byte_that_is_no_utf8_is_named_where_it_is)
{
    json_t *out = NULL;
    kr_error_t err = {0};
    static const char bad[] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \"\xff\xfe\"}\n";
    ck_assert_int_eq(kr_yaml_parse(bad, sizeof(bad) - 1, &out, &err), KR_EPARSE);
    ck_assert_str_eq(err.message, "yaml: line 3, column 19: invalid leading UTF-8 octet");
}
END_TEST

START_TEST(load_file_reports_missing_files_and_paths)
{
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_yaml_load_file("/nonexistent/kr/file.yaml", &out, &err), KR_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/kr/file.yaml"));

    char path[256];
    int fd = kr_test_tmpfile_make(path, sizeof(path), "kr-yaml");
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("kind: Pod\nspec: {containers: [{name: a}]}\n", f);
    fclose(f);
    ck_assert_int_eq(kr_yaml_load_file(path, &out, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(out, "kind")), "Pod");
    json_decref(out);
    unlink(path);
}
END_TEST

static int parse_manifest(void *arg)
{
    (void)arg;
    const char *text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: "
                       "{app: web}}\nspec:\n  replicas: 3\n  template:\n    spec:\n"
                       "      containers:\n      - name: a\n        image: nginx\n"
                       "        ports: [{containerPort: 80}]\n";
    json_t *out = NULL;
    kr_error_t err = {0};
    int rc = kr_yaml_parse(text, strlen(text), &out, &err);
    if (rc == 0) {
        int ok = json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas")) == 3;
        json_decref(out);
        return ok ? 0 : 1;
    }
    return rc == KR_ENOMEM ? 0 : 1;
}

START_TEST(allocation_failures_return_enomem_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(parse_manifest, NULL);
    ck_assert_msg(runs > 10, "sweep returned %ld", runs);
}
END_TEST

/* ---- JSON to YAML ---------------------------------------------------------- */

static char *dump_ok(const json_t *v)
{
    char *out = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_yaml_dump(v, &out, &err) == 0, "%s", err.message);
    ck_assert_ptr_nonnull(out);
    return out;
}

/* Every string comes back a string, every number a number: quoted where
 * plain text would read as something else, in blocks where it has lines. */
START_TEST(dump_reads_back_as_the_same_value)
{
    static const char *const texts[] = {"",
                                        "~",
                                        "null",
                                        "Null",
                                        "true",
                                        "True",
                                        "yes",
                                        "no",
                                        "NO",
                                        "on",
                                        "off",
                                        "y",
                                        "n",
                                        "1",
                                        "-1",
                                        "+1",
                                        "0x1F",
                                        "0o17",
                                        "017",
                                        "1_000",
                                        "1.5",
                                        "1e3",
                                        ".5",
                                        "-.inf",
                                        ".nan",
                                        "<<",
                                        "a: b",
                                        "#c",
                                        "- a",
                                        "? x",
                                        "' q",
                                        "\" q",
                                        " lead",
                                        "trail ",
                                        "a\tb",
                                        "a\r\nb",
                                        "multi\nline\n",
                                        "multi\nline",
                                        "trailing\n  ",
                                        "\n",
                                        "\n\nx",
                                        "h\xc3\xa9llo \xe2\x9c\x93",
                                        "{a}",
                                        "[a]",
                                        "*x",
                                        "&x",
                                        "!t",
                                        "%p",
                                        "@x",
                                        "`x",
                                        "|x",
                                        ">x",
                                        "a #b",
                                        "a:b",
                                        "2026-12-06",
                                        "12:30:00",
                                        "=",
                                        "x\xc2\x85y",
                                        "\xe2\x80\xa8"};
    json_t *v = json_object();
    json_t *list = json_array();
    for (size_t i = 0; i < (sizeof(texts) / sizeof(texts[0])); i++) {
        json_object_set_new(v, texts[i], json_string(texts[i]));
        json_array_append_new(list, json_string(texts[i]));
    }
    json_object_set_new(v, "list", list);
    json_object_set_new(v, "nul", json_stringn("a\0b", 3));
    json_object_set_new(v, "numbers", json_pack("[i,i,f,f,f,f]", 0, -42, 1.5, 0.1, 1e300, -2.5e-7));
    json_object_set_new(v, "others", json_pack("[b,b,n,{},[],{s:[[],{}]}]", 1, 0, "e"));
    json_object_set_new(v, "deep", json_pack("{s:[{s:[1,{s:s}]}]}", "a", "b", "c", "d"));
    char *out = dump_ok(v);
    json_t *back = parse_ok(out);
    char *b = json_dumps(back, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(v, back), "dumped:\n%s\nread back as %s", out, b);
    free(b);
    json_decref(back);
    kr_free(out);
    json_decref(v);
    /* scalars and empty collections at the top */
    static const char *const tops[] = {"\"x\"", "\"1\"", "7", "1.25", "true", "null", "{}", "[]"};
    for (size_t i = 0; i < (sizeof(tops) / sizeof(tops[0])); i++) {
        json_t *t = json_loads(tops[i], JSON_DECODE_ANY, NULL);
        out = dump_ok(t);
        back = parse_ok(out);
        ck_assert_msg(json_equal(t, back), "%s gave %s", tops[i], out);
        json_decref(back);
        json_decref(t);
        kr_free(out);
    }
}
END_TEST

/* The text kubectl -o yaml prints for the same object. */
START_TEST(dump_prints_as_kubectl_does)
{
    json_t *v = json_loads(
        "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"x\","
        "\"creationTimestamp\":null,\"labels\":{\"a10\":\"1\",\"a2\":\"2\",\"a02\":\"3\"}},"
        "\"data\":{\"NO\":\"off\",\"colon\":\"a: b\",\"empty\":\"\",\"f\":\"1.5\",\"q\":\"it's\","
        "\"ml\":\"line one\\nline two\\n\",\"y\":\"y\"},\"spec\":{\"ports\":[{\"port\":80},"
        "{\"port\":443,\"name\":\"tls\"}],\"none\":[],\"empty\":{},\"ratio\":0.25}}",
        0, NULL);
    ck_assert_ptr_nonnull(v);
    char *out = dump_ok(v);
    ck_assert_str_eq(out, "apiVersion: v1\n"
                          "data:\n"
                          "  \"NO\": \"off\"\n"
                          "  colon: 'a: b'\n"
                          "  empty: \"\"\n"
                          "  f: \"1.5\"\n"
                          "  ml: |\n"
                          "    line one\n"
                          "    line two\n"
                          "  q: it's\n"
                          "  \"y\": \"y\"\n"
                          "kind: ConfigMap\n"
                          "metadata:\n"
                          "  creationTimestamp: null\n"
                          "  labels:\n"
                          "    a2: \"2\"\n"
                          "    a02: \"3\"\n"
                          "    a10: \"1\"\n"
                          "  name: x\n"
                          "spec:\n"
                          "  empty: {}\n"
                          "  none: []\n"
                          "  ports:\n"
                          "  - port: 80\n"
                          "  - name: tls\n"
                          "    port: 443\n"
                          "  ratio: 0.25\n");
    kr_free(out);
    json_decref(v);
    /* Floats as Go's FormatFloat(v, 'g', -1, 64): the fewest digits, in
     * exponent form below 1e-4 and from 1e6 on. */
    v = json_pack("[f,f,f,f,f,f,f,f,f]", 123456789.123, 1234567.5, 123456.5, 0.1, 0.0001,
                  0.00001234, -1.5e300, 0.30000000000000004, 1e21);
    out = dump_ok(v);
    ck_assert_str_eq(out, "- 1.23456789123e+08\n"
                          "- 1.2345675e+06\n"
                          "- 123456.5\n"
                          "- 0.1\n"
                          "- 0.0001\n"
                          "- 1.234e-05\n"
                          "- -1.5e+300\n"
                          "- 0.30000000000000004\n"
                          "- 1e+21\n");
    kr_free(out);
    json_decref(v);
    /* A value that keeps its trailing empty lines ("|+") ends no document
     * with "...": go-yaml writes none. */
    v = json_pack("{s:{s:s,s:s}}", "data", "script", "echo hi\n\n", "z", "1");
    out = dump_ok(v);
    ck_assert_str_eq(out, "data:\n"
                          "  script: |+\n"
                          "    echo hi\n"
                          "\n"
                          "  z: \"1\"\n");
    kr_free(out);
    json_decref(v);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_yaml_dump(NULL, &out, &err), KR_EINVAL);
    ck_assert_ptr_null(out);
    json_t *deep = json_array(), *at = deep;
    for (int i = 0; i < 1200; i++) {
        json_t *next = json_array();
        json_array_append_new(at, next);
        at = next;
    }
    ck_assert_int_eq(kr_yaml_dump(deep, &out, &err), KR_ETOOLARGE);
    ck_assert_ptr_null(out);
    json_decref(deep);
}
END_TEST

/* kubectl's own text for what its dry runs make, object by object: the
 * JSON it prints, dumped, must be the YAML it prints. Needs no server. */
START_TEST(dump_agrees_with_kubectl)
{
    if (!kr_test_have_program("kubectl")) {
        kr_test_skip("dump_agrees_with_kubectl", "kubectl is not installed");
        return;
    }
    static const char *const cmds[] = {
        "create configmap x --from-literal=NO=off --from-literal=num=0x1F --from-literal=empty= "
        "--from-literal='colon=a: b' --from-literal='hash=#c' --from-literal=y=y "
        "--from-literal=t=true --from-literal=f=1.5 --from-literal='q=it'\"'\"'s' "
        "--from-literal='lead= x' --from-literal=a10=1 --from-literal=a2=2 "
        "--from-literal=long="
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\ b\\ c "
        "--from-literal=\"ml=$(printf 'one\\ntwo\\n')x\"",
        "create deployment web --image=nginx:1.27 --replicas=3 --port=8080",
        "create job j --image=busybox FLAGS -- sh -c 'echo hi; sleep 1'",
        "create cronjob c --image=busybox '--schedule=*/5 * * * *' FLAGS -- date",
        "create secret generic s --from-literal=p=Zm9v --from-literal=k=8080",
        "create service clusterip svc --tcp=80:8080 --tcp=443:8443",
        "create ingress ing '--rule=foo.com/bar*=svc1:8080,tls=my-cert'",
        "create clusterrolebinding b --clusterrole=view --user=alice --group=devs",
        "create priorityclass high --value=1000 --description='very important'",
        "create poddisruptionbudget pdb --selector=app=web --min-available=50%",
        "create quota q --hard=cpu=1,memory=1G,pods=2",
    };
    char dir[256];
    kr_test_tmpdir_make(dir, sizeof(dir), "yaml-kubectl");
    for (size_t i = 0; i < (sizeof(cmds) / sizeof(cmds[0])); i++) {
        /* the flags go before a "--" that starts a container's command */
        const char *flags = strstr(cmds[i], "FLAGS");
        int head = flags ? (int)(flags - cmds[i]) : (int)strlen(cmds[i]);
        const char *tail = flags ? flags + 5 : "";
        char sh[2048];
        snprintf(sh, sizeof(sh),
                 "cd %s && KUBECONFIG=/dev/null kubectl %.*s --dry-run=client -o json %s > o.json "
                 "&& KUBECONFIG=/dev/null kubectl %.*s --dry-run=client -o yaml %s > o.yaml",
                 dir, head, cmds[i], tail, head, cmds[i], tail);
        ck_assert_msg(system(sh) == 0, "kubectl failed: %s", cmds[i]);
        char *json_text = kr_test_read_file(dir, "o.json");
        char *want = kr_test_read_file(dir, "o.yaml");
        ck_assert_ptr_nonnull(json_text);
        ck_assert_ptr_nonnull(want);
        ck_assert_msg(strncmp(want, "apiVersion: ", 12) == 0, "%s: %s", cmds[i], want);
        json_t *v = json_loads(json_text, 0, NULL);
        ck_assert_ptr_nonnull(v);
        char *got = dump_ok(v);
        ck_assert_msg(strcmp(got, want) == 0, "%s\nkubectl:\n%s\nours:\n%s", cmds[i], want, got);
        kr_free(got);
        json_decref(v);
        free(json_text);
        free(want);
    }
}
END_TEST

static int dump_manifest(void *user)
{
    (void)user;
    json_t *v = json_pack("{s:s,s:{s:s,s:{s:s}},s:[i,{s:s}]}", "kind", "ConfigMap", "metadata",
                          "name", "x", "labels", "a", "1", "items", 1, "b", "line\nline\n");
    if (!v)
        return 0;
    char *out = NULL;
    int rc = kr_yaml_dump(v, &out, NULL);
    json_decref(v);
    kr_free(out);
    return rc == 0 || rc == KR_ENOMEM ? 0 : 1;
}

START_TEST(dump_allocation_failures_return_enomem_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(dump_manifest, NULL);
    ck_assert_msg(runs > 2, "sweep returned %ld", runs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("yaml");
    TCase *tc = tcase_create("yaml");
    tcase_add_test(tc, scalars_resolve_like_kubernetes);
    tcase_add_test(tc, keys_and_tags_resolve_as_kubectl_reads_them);
    tcase_add_test(tc, infinities_and_nan_as_kubectl_reads_them);
    tcase_add_test(tc, structures_and_block_scalars);
    tcase_add_test(tc, anchors_aliases_and_merge_keys);
    tcase_add_test(tc, multi_document_streams);
    tcase_add_test(tc, syntax_errors_name_line_and_column);
    tcase_add_test(tc, deep_nesting_and_alias_bombs_are_refused);
    tcase_add_test(tc, a_byte_that_is_no_utf8_is_named_where_it_is);
    tcase_add_test(tc, load_file_reports_missing_files_and_paths);
    tcase_add_test(tc, allocation_failures_return_enomem_without_leaks);
    tcase_add_test(tc, dump_reads_back_as_the_same_value);
    tcase_add_test(tc, dump_prints_as_kubectl_does);
    tcase_add_test(tc, dump_agrees_with_kubectl);
    tcase_add_test(tc, dump_allocation_failures_return_enomem_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
