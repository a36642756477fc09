/* Tests for the test server's Kubernetes protobuf decoder: bodies kubectl
 * v1.32 sent for its typed commands decode to exactly the JSON the same
 * commands print with --dry-run=client -o json (test/data/protobuf); the
 * Go JSON rules (omitempty, pointers, special types) on hand-made messages;
 * malformed and unknown input is refused with a message, never a crash;
 * and the HTTP handler answers protobuf creates with the stored object. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile/testserver.h"
#include "testserver/ts_internal.h"
#include "testserver/ts_proto.h"

/* ---- a small protobuf writer for hand-made messages ------------------------- */

typedef struct pbw {
    unsigned char b[4096];
    size_t n;
} pbw;

static void put_varint(pbw *w, unsigned long long v)
{
    do {
        ck_assert_uint_lt(w->n, sizeof(w->b));
        w->b[w->n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void put_bytes(pbw *w, unsigned field, const void *data, size_t len)
{
    put_varint(w, (unsigned long long)field << 3 | 2);
    put_varint(w, len);
    ck_assert_uint_le(w->n + len, sizeof(w->b));
    memcpy(w->b + w->n, data, len);
    w->n += len;
}

static void put_str(pbw *w, unsigned field, const char *s)
{
    put_bytes(w, field, s, strlen(s));
}

static void put_msg(pbw *w, unsigned field, const pbw *m)
{
    put_bytes(w, field, m->b, m->n);
}

static void put_int(pbw *w, unsigned field, unsigned long long v)
{
    put_varint(w, (unsigned long long)field << 3);
    put_varint(w, v);
}

/* The "k8s\0" envelope around `raw` for apiVersion/kind. */
static void envelope(pbw *out, const char *api_version, const char *kind, const pbw *raw)
{
    pbw tm = {0};
    put_str(&tm, 1, api_version);
    put_str(&tm, 2, kind);
    memcpy(out->b, "k8s", 4);
    out->n = 4;
    put_msg(out, 1, &tm);
    put_msg(out, 2, raw);
}

static json_t *J(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    ck_assert_msg(v != NULL, "bad test JSON (%s): %s", jerr.text, text);
    return v;
}

/* The decoded body (new); the test fails when it is refused. */
static json_t *decode_ok(const pbw *body)
{
    char msg[512] = "";
    json_t *got = ts_pb_decode_body(body->b, body->n, msg, sizeof(msg));
    ck_assert_msg(got != NULL, "decode failed: %s", msg);
    return got;
}

static void decodes_to(const pbw *body, const char *want_text)
{
    json_t *got = decode_ok(body);
    json_t *want = J(want_text);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(got, want), "got %s\nwant %s", g, want_text);
    free(g);
    json_decref(got);
    json_decref(want);
}

static void refused(const unsigned char *body, size_t len, const char *fragment)
{
    char msg[512] = "";
    json_t *got = ts_pb_decode_body(body, len, msg, sizeof(msg));
    ck_assert_msg(got == NULL, "accepted what it must refuse");
    ck_assert_msg(strstr(msg, fragment) != NULL, "message \"%s\" lacks \"%s\"", msg, fragment);
}

/* ---- kubectl's own bodies ---------------------------------------------------------- */

START_TEST(kubectl_bodies_decode_to_its_dry_run_json)
{
    char dir[1024];
    kr_test_src_path(dir, sizeof(dir), "test/data/protobuf");
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    size_t checked = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".pb") != 0)
            continue;
        size_t n;
        char *body = kr_test_read_bytes(dir, e->d_name, &n);
        ck_assert_ptr_nonnull(body);
        char json_name[512];
        snprintf(json_name, sizeof(json_name), "%.*s.json", (int)(len - 3), e->d_name);
        char *want_text = kr_test_read_file(dir, json_name);
        ck_assert_msg(want_text != NULL, "no %s", json_name);
        char msg[512] = "";
        json_t *got = ts_pb_decode_body((const unsigned char *)body, n, msg, sizeof(msg));
        ck_assert_msg(got != NULL, "%s: %s", e->d_name, msg);
        json_t *want = J(want_text);
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        ck_assert_msg(json_equal(got, want), "%s:\n got  %s\n want %s", e->d_name, g, want_text);
        free(g);
        json_decref(got);
        json_decref(want);

        /* Every truncation is refused with a message; every flipped byte
         * is decoded or refused, never a crash (the sanitizer runs watch). */
        for (size_t cut = 0; cut < n; cut++) {
            json_t *v = ts_pb_decode_body((const unsigned char *)body, cut, msg, sizeof(msg));
            if (v) {
                /* A cut at a field boundary of the envelope is a shorter,
                 * valid message. */
                json_decref(v);
            } else {
                ck_assert_msg(msg[0] != '\0', "%s cut at %zu: no message", e->d_name, cut);
            }
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char saved = (unsigned char)body[i];
            body[i] = (char)(saved ^ 0xff);
            json_decref(ts_pb_decode_body((const unsigned char *)body, n, msg, sizeof(msg)));
            body[i] = (char)saved;
        }
        free(body);
        free(want_text);
        checked++;
    }
    closedir(d);
    ck_assert_uint_ge(checked, 10);
}
END_TEST

/* ---- Go's JSON rules ------------------------------------------------------------------ */

START_TEST(zero_values_follow_omitempty_and_pointers)
{
    /* Deployment: replicas is a pointer (0 is kept); paused is omitempty
     * (false dropped); template is a struct (always there). */
    pbw md = {0}, spec = {0}, raw = {0}, body = {0};
    put_str(&md, 1, "d");
    put_str(&md, 2, "");
    put_int(&md, 7, 0);
    put_int(&spec, 1, 0); /* replicas */
    put_int(&spec, 7, 0); /* paused */
    put_msg(&raw, 1, &md);
    put_msg(&raw, 2, &spec);
    envelope(&body, "apps/v1", "Deployment", &raw);
    decodes_to(&body, "{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":"
                      "\"d\",\"creationTimestamp\":null},\"spec\":{\"replicas\":0,\"selector\":"
                      "null,\"template\":{\"metadata\":{\"creationTimestamp\":null},\"spec\":"
                      "{\"containers\":null}},\"strategy\":{}},\"status\":{}}");
}
END_TEST

START_TEST(special_types_marshal_as_go_does)
{
    /* Pod: a Time (seconds only), a MicroTime-free pod with a probe whose
     * port is an IntOrString, resources with a Quantity, a Duration-free
     * spec; an Event (events.k8s.io) carries the MicroTime. */
    pbw ts = {0}, md = {0}, port = {0}, http = {0}, handler = {0}, probe = {0}, q = {0},
        entry = {0}, res = {0}, c = {0}, spec = {0}, raw = {0}, body = {0};
    put_int(&ts, 1, 1700000000);
    put_str(&md, 1, "p");
    put_msg(&md, 8, &ts);
    put_int(&port, 1, 1);
    put_str(&port, 3, "http");
    put_msg(&http, 2, &port);
    put_msg(&handler, 2, &http);
    put_msg(&probe, 1, &handler);
    put_str(&q, 1, "500m");
    put_str(&entry, 1, "cpu");
    put_msg(&entry, 2, &q);
    put_msg(&res, 1, &entry);
    put_str(&c, 1, "c");
    put_msg(&c, 8, &res);
    put_msg(&c, 10, &probe);
    put_msg(&spec, 2, &c);
    put_msg(&raw, 1, &md);
    put_msg(&raw, 2, &spec);
    envelope(&body, "v1", "Pod", &raw);
    json_t *got = decode_ok(&body);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(got, "metadata"), "creationTimestamp")),
        "2023-11-14T22:13:20Z");
    json_t *c0 = json_array_get(json_object_get(json_object_get(got, "spec"), "containers"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(c0, "resources"), "limits"), "cpu")),
                     "500m");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(c0, "livenessProbe"), "httpGet"), "port")),
                     "http");
    json_decref(got);

    /* MicroTime keeps microseconds; a zero Time is null. */
    pbw mt = {0}, emd = {0}, eraw = {0}, ebody = {0};
    put_int(&mt, 1, 1700000000);
    put_int(&mt, 2, 123456789);
    put_str(&emd, 1, "e");
    put_msg(&eraw, 1, &emd);
    put_msg(&eraw, 2, &mt); /* eventTime */
    envelope(&ebody, "events.k8s.io/v1", "Event", &eraw);
    got = decode_ok(&ebody);
    ck_assert_str_eq(json_string_value(json_object_get(got, "eventTime")),
                     "2023-11-14T22:13:20.123456Z");
    ck_assert(json_is_null(json_object_get(got, "deprecatedFirstTimestamp")));
    json_decref(got);
}
END_TEST

START_TEST(bytes_are_base64_and_maps_keep_their_keys)
{
    pbw md = {0}, e1 = {0}, e2 = {0}, raw = {0}, body = {0};
    put_str(&md, 1, "s");
    put_str(&e1, 1, "bin");
    put_bytes(&e1, 2, "\x00\xff\x10", 3);
    put_str(&e2, 1, "empty");
    put_msg(&raw, 1, &md);
    put_msg(&raw, 2, &e1);
    put_msg(&raw, 2, &e2);
    put_str(&raw, 3, "Opaque");
    envelope(&body, "v1", "Secret", &raw);
    decodes_to(&body, "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"s\","
                      "\"creationTimestamp\":null},\"data\":{\"bin\":\"AP8Q\",\"empty\":\"\"},"
                      "\"type\":\"Opaque\"}");
}
END_TEST

START_TEST(packed_and_unpacked_repeated_scalars_both_decode)
{
    /* NetworkPolicy-free check on a plain repeated int: a ServiceSpec's
     * ipFamilies are strings, so use the ContainerStatus-free PodSpec
     * securityContext.supplementalGroups (repeated int64). */
    pbw sc = {0}, packed = {0}, spec = {0}, raw = {0}, body = {0};
    put_int(&sc, 4, 5);
    put_varint(&packed, 6);
    put_varint(&packed, 7);
    put_bytes(&sc, 4, packed.b, packed.n);
    put_msg(&spec, 14, &sc);
    put_msg(&raw, 2, &spec);
    envelope(&body, "v1", "Pod", &raw);
    json_t *got = decode_ok(&body);
    json_t *groups = json_object_get(
        json_object_get(json_object_get(got, "spec"), "securityContext"), "supplementalGroups");
    ck_assert_uint_eq(json_array_size(groups), 3);
    ck_assert_int_eq(json_integer_value(json_array_get(groups, 2)), 7);
    json_decref(got);
}
END_TEST

START_TEST(json_names_follow_the_go_tags)
{
    /* generated.proto calls it "Webhooks"; the Go tag says json:"webhooks". */
    pbw md = {0}, hook = {0}, raw = {0}, body = {0};
    put_str(&md, 1, "v");
    put_str(&hook, 1, "w");
    put_msg(&raw, 1, &md);
    put_msg(&raw, 2, &hook);
    envelope(&body, "admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", &raw);
    json_t *got = decode_ok(&body);
    json_t *w0 = json_array_get(json_object_get(got, "webhooks"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(w0, "name")), "w");
    ck_assert_ptr_null(json_object_get(got, "Webhooks"));
    /* A nil pointer and a nil slice without omitempty are null, as Go writes them. */
    ck_assert(json_is_null(json_object_get(w0, "sideEffects")));
    ck_assert(json_is_null(json_object_get(w0, "admissionReviewVersions")));
    json_decref(got);
}
END_TEST

/* ---- refusals --------------------------------------------------------------------------- */

START_TEST(malformed_and_unknown_input_is_refused_with_a_message)
{
    pbw md = {0}, raw = {0}, body = {0};
    put_str(&md, 1, "x");
    put_msg(&raw, 1, &md);
    envelope(&body, "v1", "ConfigMap", &raw);
    decodes_to(&body, "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"x\","
                      "\"creationTimestamp\":null}}");

    refused((const unsigned char *)"{}", 2, "not a Kubernetes protobuf message");
    refused((const unsigned char *)"k8s", 3, "not a Kubernetes protobuf message");

    pbw unknown = raw, ub = {0};
    put_int(&unknown, 99, 1);
    envelope(&ub, "v1", "ConfigMap", &unknown);
    refused(ub.b, ub.n, "unknown field 99 in k8s.io.api.core.v1.ConfigMap");

    pbw deep_md = md, db = {0}, draw = {0};
    put_int(&deep_md, 40, 1);
    put_msg(&draw, 1, &deep_md);
    envelope(&db, "v1", "ConfigMap", &draw);
    refused(db.b, db.n, "unknown field 40 in k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta");

    pbw wrong = {0}, wb = {0};
    put_int(&wrong, 1, 5); /* metadata as a varint */
    envelope(&wb, "v1", "ConfigMap", &wrong);
    refused(wb.b, wb.n, "metadata");

    pbw kb = {0};
    envelope(&kb, "example.com/v1", "Widget", &raw);
    refused(kb.b, kb.n, "no kind \"Widget\" is registered for version \"example.com/v1\"");

    pbw bad_utf8 = {0}, bmd = {0}, bb = {0};
    put_bytes(&bmd, 1, "\xff\xfe", 2);
    put_msg(&bad_utf8, 1, &bmd);
    envelope(&bb, "v1", "ConfigMap", &bad_utf8);
    refused(bb.b, bb.n, "UTF-8");

    /* A length running past the end, and a varint that never ends. */
    unsigned char past[] = {'k', '8', 's', 0, 0x12, 0x7f, 0x0a};
    refused(past, sizeof(past), "truncated");
    unsigned char endless[] = {'k', '8', 's', 0, 0x0a, 0x02, 0x0a, 0x80};
    refused(endless, sizeof(endless), "typeMeta");
}
END_TEST

/* ---- out of memory ------------------------------------------------------------------- */

typedef struct sweep_body {
    const unsigned char *data;
    size_t len;
} sweep_body;

static int decode_under_failures(void *arg)
{
    const sweep_body *b = arg;
    char msg[512] = "";
    json_t *got = ts_pb_decode_body(b->data, b->len, msg, sizeof(msg));
    /* Either the whole object or a refusal with a message. */
    int verdict = got ? !json_is_object(got) : msg[0] == '\0';
    json_decref(got);
    return verdict;
}

START_TEST(every_failed_allocation_is_a_refusal_never_a_partial_object)
{
    char dir[1024];
    kr_test_src_path(dir, sizeof(dir), "test/data/protobuf");
    static const char *const bodies[] = {"deployment.pb", "secret_tls.pb", "ingress.pb"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        size_t n;
        char *body = kr_test_read_bytes(dir, bodies[i], &n);
        ck_assert_ptr_nonnull(body);
        sweep_body b = {(const unsigned char *)body, n};
        long runs = kr_test_alloc_failure_sweep(decode_under_failures, &b);
        ck_assert_msg(runs > 1, "%s: failed at allocation %ld", bodies[i], -runs);
        free(body);
    }
}
END_TEST

/* ---- through the handler ---------------------------------------------------------------- */

static kr_testserver_t *server;

static void handle(const char *method, const char *path, const char *content_type, const void *body,
                   size_t len, ts_response *resp)
{
    ts_request req = {.method = method,
                      .path = path,
                      .content_type = content_type,
                      .accept = "application/json",
                      .body = body,
                      .body_len = len};
    ts_handle(server, &req, resp);
}

START_TEST(the_handler_stores_protobuf_creates_and_answers_400_for_garbage)
{
    kr_testserver_opts opts = {0};
    kr_error_t err = {0};
    ck_assert_int_eq(kr_testserver_start(&opts, &server, &err), 0);
    pbw md = {0}, entry = {0}, raw = {0}, body = {0};
    put_str(&md, 1, "from-pb");
    put_str(&entry, 1, "k");
    put_str(&entry, 2, "v");
    put_msg(&raw, 1, &md);
    put_msg(&raw, 2, &entry);
    envelope(&body, "v1", "ConfigMap", &raw);
    ts_response resp;
    handle("POST", "/api/v1/namespaces/default/configmaps", "application/vnd.kubernetes.protobuf",
           body.b, body.n, &resp);
    ck_assert_msg(resp.status == 201, "%d: %.*s", resp.status, (int)resp.body_len, resp.body);
    ck_assert_ptr_nonnull(strstr(resp.body, "\"k\":\"v\""));
    ts_response_clear(&resp);

    handle("POST", "/api/v1/namespaces/default/configmaps", "application/vnd.kubernetes.protobuf",
           "k8s\0\x0a\x05", 6, &resp);
    ck_assert_int_eq(resp.status, 400);
    ck_assert_ptr_nonnull(strstr(resp.body, "error decoding protobuf"));
    ts_response_clear(&resp);

    /* A body of another kind than the URL's is refused as for JSON. */
    pbw other = {0};
    envelope(&other, "v1", "Secret", &raw);
    handle("POST", "/api/v1/namespaces/default/configmaps", "application/vnd.kubernetes.protobuf",
           other.b, other.n, &resp);
    ck_assert_int_eq(resp.status, 400);
    ts_response_clear(&resp);
    kr_testserver_free(server);
    server = NULL;
}
END_TEST

int main(void)
{
    Suite *s = suite_create("testserver_protobuf");
    TCase *tc = tcase_create("protobuf");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kubectl_bodies_decode_to_its_dry_run_json);
    tcase_add_test(tc, zero_values_follow_omitempty_and_pointers);
    tcase_add_test(tc, special_types_marshal_as_go_does);
    tcase_add_test(tc, bytes_are_base64_and_maps_keep_their_keys);
    tcase_add_test(tc, packed_and_unpacked_repeated_scalars_both_decode);
    tcase_add_test(tc, json_names_follow_the_go_tags);
    tcase_add_test(tc, malformed_and_unknown_input_is_refused_with_a_message);
    tcase_add_test(tc, every_failed_allocation_is_a_refusal_never_a_partial_object);
    tcase_add_test(tc, the_handler_stores_protobuf_creates_and_answers_400_for_garbage);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
