/* Custom resources against their CRD's structural schema, and built-in
 * kinds against the fields of their Go types, in the in-memory apiserver,
 * over HTTP: unknown fields pruned, with a Warning
 * header by default, refused under fieldValidation=Strict (400 for a
 * create or update, 422 for a patch, 500 for server-side apply, as
 * kube-apiserver answers each), kept below
 * x-kubernetes-preserve-unknown-fields; defaults applied; values checked
 * with kube-apiserver's field error messages; a CRD's new schema applies
 * to the next write. Built-in kinds also refuse values their Go types
 * cannot hold, in the words of Go's decoders.
 * KR_TEST_THREADED */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_server.h"
#include "kreconcile/testserver.h"
#include "ts_client.h"

static const char *U;

#define WIDGETS "/apis/example.com/v1/namespaces/default/widgets"

/* The schema of the tests' Widget: one field per rule checked. */
static const char SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"spec\":{\"type\":\"object\",\"required\":[\"image\"],\"properties\":{"
    "\"image\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":20,"
    "\"pattern\":\"^[a-z]+(:\\\\d+)?$\"},"
    "\"replicas\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10,\"default\":1},"
    "\"ratio\":{\"type\":\"number\",\"exclusiveMinimum\":true,\"minimum\":0,\"multipleOf\":0.5},"
    "\"big\":{\"type\":\"integer\",\"maximum\":9007199254740992},"
    "\"mode\":{\"type\":\"string\",\"enum\":[\"Fast\",\"Slow\"],\"default\":\"Slow\"},"
    "\"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"note\":{\"type\":\"string\",\"nullable\":true},"
    "\"owner\":{\"type\":\"string\"},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
    "\"x-kubernetes-list-type\":\"set\",\"minItems\":1,\"maxItems\":3},"
    "\"ports\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
    "\"x-kubernetes-list-map-keys\":[\"name\"],\"items\":{\"type\":\"object\","
    "\"required\":[\"name\"],\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"port\":{\"type\":\"integer\",\"default\":80}}}},"
    "\"limits\":{\"type\":\"object\",\"maxProperties\":2,"
    "\"additionalProperties\":{\"x-kubernetes-int-or-string\":true}},"
    "\"extra\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true,"
    "\"properties\":{\"known\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}}}"
    ","
    "\"job\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,"
    "\"properties\":{\"spec\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}"
    ","
    "\"size\":{\"x-kubernetes-int-or-string\":true,\"anyOf\":[{\"type\":\"integer\","
    "\"minimum\":1},{\"type\":\"string\",\"pattern\":\"^[0-9]+Gi$\"}]},"
    "\"shape\":{\"type\":\"string\",\"oneOf\":[{\"enum\":[\"round\",\"oval\"]},"
    "{\"pattern\":\"^o\"}],\"not\":{\"enum\":[\"square\"]}},"
    "\"policy\":{\"type\":\"object\",\"default\":{},\"properties\":{"
    "\"retries\":{\"type\":\"integer\",\"default\":3}}}}},"
    "\"status\":{\"type\":\"object\",\"properties\":{\"phase\":{\"type\":\"string\","
    "\"enum\":[\"Running\",\"Done\"]}}}}}";

static char *crd_body(const char *schema)
{
    return kr_asprintf(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
        "\"kind\":\"Widget\",\"listKind\":\"WidgetList\"},\"versions\":[{\"name\":\"v1\","
        "\"served\":true,\"storage\":true,\"subresources\":{\"status\":{}},"
        "\"schema\":{\"openAPIV3Schema\":%s}}]}}",
        schema);
}

static kr_testserver_t *TS;

static void setup(void)
{
    kr_testserver_opts o = {.seed = 11};
    TS = kr_test_server_start(&o, &U);
    char *crd = crd_body(SCHEMA);
    tc_response r;
    tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    kr_free(crd);
}

static void teardown(void)
{
    kr_test_server_stop();
}

static const char *message(const tc_response *r)
{
    return json_string_value(json_object_get(r->json, "message"));
}

/* A Widget named `name` with `spec` (a JSON object's text). */
static char *widget(const char *name, const char *spec)
{
    return kr_asprintf("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":"
                       "{\"name\":\"%s\"},\"spec\":%s}",
                       name, spec);
}

static void request(const char *method, const char *path, const char *ctype, const char *body,
                    tc_response *r)
{
    tc_request(U, method, path, ctype, body, NULL, r);
}

/* POST a widget; the response in *r. */
static void post(const char *query, const char *name, const char *spec, tc_response *r)
{
    char *body = widget(name, spec);
    char path[256];
    snprintf(path, sizeof(path), WIDGETS "%s", query);
    request("POST", path, "application/json", body, r);
    kr_free(body);
}

/* A widget refused with 422 and exactly `want` as the Status message. */
static void expect_invalid(const char *spec, const char *want)
{
    tc_response r;
    post("", "bad", spec, &r);
    ck_assert_msg(r.status == 422, "%s: %ld %s", spec, r.status, r.body);
    ck_assert_str_eq(message(&r), want);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "reason")), "Invalid");
    tc_free(&r);
}

static json_t *get_spec(const char *name, json_t **obj)
{
    char path[256];
    snprintf(path, sizeof(path), WIDGETS "/%s", name);
    tc_response r;
    request("GET", path, NULL, NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    *obj = json_incref(r.json);
    tc_free(&r);
    return json_object_get(*obj, "spec");
}

START_TEST(unknown_fields_are_pruned_and_reported_as_field_validation_asks)
{
    static const char spec[] = "{\"image\":\"web\",\"bogus\":1,\"extra\":{\"free\":{\"x\":1},"
                               "\"known\":{\"a\":\"b\",\"drop\":2}},\"limits\":{\"cpu\":1},"
                               "\"job\":{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":"
                               "{\"name\":\"j\"},\"spec\":{\"anything\":true},\"other\":0}}";
    /* the default, Warn: pruned, one Warning header per field */
    tc_response r;
    post("", "w1", spec, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "299 - \"unknown field \\\"spec.bogus\\\"\"\n"
                                 "299 - \"unknown field \\\"spec.extra.known.drop\\\"\"\n"
                                 "299 - \"unknown field \\\"spec.job.other\\\"\"\n");
    tc_free(&r);
    json_t *obj;
    json_t *got = get_spec("w1", &obj);
    json_t *want =
        json_loads("{\"image\":\"web\",\"extra\":{\"free\":{\"x\":1},\"known\":{\"a\":\"b\"}},"
                   "\"limits\":{\"cpu\":1},\"job\":{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\","
                   "\"metadata\":{\"name\":\"j\"},\"spec\":{\"anything\":true}},"
                   "\"replicas\":1,\"mode\":\"Slow\",\"policy\":{\"retries\":3}}",
                   0, NULL);
    ck_assert_msg(json_equal(got, want), "%s", json_dumps(got, JSON_SORT_KEYS));
    json_decref(want);
    json_decref(obj);

    /* Strict: the create fails to decode */
    post("?fieldValidation=Strict", "w2", spec, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(message(&r), "Widget in version \"v1\" cannot be handled as a Widget: strict "
                                  "decoding error: unknown field \"spec.bogus\", unknown field "
                                  "\"spec.extra.known.drop\", unknown field \"spec.job.other\"");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "reason")), "BadRequest");
    tc_free(&r);
    /* Ignore: pruned without a word */
    post("?fieldValidation=Ignore", "w3", spec, &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(r.warnings, "");
    tc_free(&r);
    /* unknown metadata fields too */
    request("POST", WIDGETS "?fieldValidation=Strict", "application/json",
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"m\","
            "\"colour\":\"red\"},\"spec\":{\"image\":\"web\"}}",
            &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(message(&r), "unknown field \"metadata.colour\""));
    tc_free(&r);

    /* an update (PUT) under Strict: 400 the same way */
    char *body = kr_asprintf("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":"
                             "{\"name\":\"w1\"},\"spec\":{\"image\":\"web\",\"nope\":1}}");
    request("PUT", WIDGETS "/w1?fieldValidation=Strict", "application/json", body, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(message(&r), "Widget in version \"v1\" cannot be handled as a Widget: strict "
                                  "decoding error: unknown field \"spec.nope\"");
    tc_free(&r);
    kr_free(body);

    /* a merge patch under Strict: 422 naming the patched object */
    request("PATCH", WIDGETS "/w3?fieldValidation=Strict", "application/merge-patch+json",
            "{\"spec\":{\"nope\":1}}", &r);
    ck_assert_int_eq(r.status, 422);
    const char *m = message(&r);
    ck_assert_msg(
        strncmp(m, " \"\" is invalid: patch: Invalid value: \"{\\\"apiVersion\\\":", 52) == 0, "%s",
        m);
    ck_assert_ptr_nonnull(strstr(m, "\\\"nope\\\":1"));
    size_t mlen = strlen(m);
    static const char tail[] = "\": strict decoding error: unknown field \"spec.nope\"";
    ck_assert_msg(mlen > strlen(tail) && strcmp(m + mlen - strlen(tail), tail) == 0, "%s", m);
    tc_free(&r);
    /* without Strict: a warning, and the patch is a no-op */
    request("PATCH", WIDGETS "/w3", "application/merge-patch+json", "{\"spec\":{\"nope\":1}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.warnings, "299 - \"unknown field \\\"spec.nope\\\"\"\n");
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "spec"), "nope"));
    tc_free(&r);

    /* server-side apply names no undeclared field, whatever fieldValidation says */
    request("PATCH", WIDGETS "/w3?fieldManager=test&fieldValidation=Ignore",
            "application/apply-patch+yaml",
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w3\","
            "\"namespace\":\"default\"},\"spec\":{\"image\":\"web\",\"nope\":1,\"zz\":2}}",
            &r);
    ck_assert_int_eq(r.status, 500);
    ck_assert_str_eq(message(&r),
                     "failed to create typed patch object (default/w3; example.com/v1, "
                     "Kind=Widget): errors:\n  .spec.nope: field not declared in schema\n"
                     "  .spec.zz: field not declared in schema");
    tc_free(&r);
    request("PATCH", WIDGETS "/w4?fieldManager=test", "application/apply-patch+yaml",
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w4\","
            "\"namespace\":\"default\"},\"spec\":{\"image\":\"web\",\"nope\":1}}",
            &r);
    ck_assert_int_eq(r.status, 500);
    ck_assert_str_eq(message(&r), "failed to create typed patch object (default/w4; "
                                  "example.com/v1, Kind=Widget): .spec.nope: field not declared "
                                  "in schema");
    tc_free(&r);
    request("PATCH", WIDGETS "/w4?fieldManager=test", "application/apply-patch+yaml",
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w4\","
            "\"namespace\":\"default\"},\"spec\":{\"image\":\"web\"}}",
            &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
}
END_TEST

START_TEST(defaults_fill_absent_and_non_nullable_null_fields)
{
    tc_response r;
    post("", "d1",
         "{\"image\":\"web\",\"mode\":null,\"note\":null,\"owner\":null,"
         "\"ports\":[{\"name\":\"a\"},{\"name\":\"b\",\"port\":8080}],"
         "\"policy\":{\"retries\":null}}",
         &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    /* the answer carries the defaults, as the stored object does */
    json_t *want = json_loads("{\"image\":\"web\",\"mode\":\"Slow\",\"note\":null,\"replicas\":1,"
                              "\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\","
                              "\"port\":8080}],\"policy\":{\"retries\":3}}",
                              0, NULL);
    json_t *got = json_object_get(r.json, "spec");
    ck_assert_msg(json_equal(got, want), "%s", json_dumps(got, JSON_SORT_KEYS));
    tc_free(&r);
    json_t *obj;
    got = get_spec("d1", &obj);
    ck_assert_msg(json_equal(got, want), "%s", json_dumps(got, JSON_SORT_KEYS));
    json_decref(obj);
    json_decref(want);
    /* a default is not a floor: values given stay */
    post("", "d2", "{\"image\":\"web\",\"replicas\":0,\"mode\":\"Fast\",\"policy\":{}}", &r);
    ck_assert_int_eq(r.status, 201);
    got = json_object_get(r.json, "spec");
    ck_assert_int_eq(json_integer_value(json_object_get(got, "replicas")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(got, "mode")), "Fast");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(got, "policy"), "retries")),
                     3);
    tc_free(&r);
    /* no spec, no defaults inside it: spec is required only inside */
    request(
        "POST", WIDGETS, "application/json",
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"d3\"}}",
        &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_null(json_object_get(r.json, "spec"));
    tc_free(&r);
}
END_TEST

/* A custom resource is decoded as unstructured: a body without its own
 * kind is refused (a built-in type takes the endpoint's), as the generic
 * handler words a decode error; an apiVersion-less body with a kind goes. */
START_TEST(a_custom_resource_without_kind_is_refused)
{
    tc_response r;
    request("POST", WIDGETS, "application/json", "{\"metadata\":{\"name\":\"nokind\"},\"spec\":{}}",
            &r);
    ck_assert_msg(r.status == 400, "%ld %s", r.status, r.body);
    ck_assert_str_eq(message(&r), "the object provided is unrecognized (must be of type Widget): "
                                  "Object 'Kind' is missing in '{\"metadata\":{\"name\":"
                                  "\"nokind\"},\"spec\":{}}' ({\"metadata\":{\"name\":\"nokind\""
                                  "}, ...)");
    tc_free(&r);
    request("GET", WIDGETS "/nokind", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);
    post("", "kind", "{\"image\":\"nginx\"}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    request("PUT", WIDGETS "/kind", "application/json", "{\"metadata\":{\"name\":\"kind\"}}", &r);
    ck_assert_msg(r.status == 400, "%ld %s", r.status, r.body);
    tc_free(&r);
}
END_TEST

/* A body of another kind decodes (unstructured takes any kind) and is
 * refused by the custom resource's validation, first and alone, named by
 * the body's kind (apiextensions' TestForProperValidationErrors); another
 * version is the handler's 400; an update's conflict and a missing object
 * answer before the validation. */
START_TEST(a_custom_resource_of_another_kind_is_invalid)
{
    static const char other[] =
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Gadget\",\"metadata\":{%s},"
        "\"spec\":{\"replicas\":99}}";
    tc_response r;
    char *body = kr_asprintf(other, "\"name\":\"g\"");
    request("POST", WIDGETS, "application/json", body, &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_str_eq(message(&r), "Gadget.example.com \"g\" is invalid: kind: Invalid value: "
                                  "\"Gadget\": must be Widget");
    const json_t *d = json_object_get(r.json, "details");
    ck_assert_str_eq(json_string_value(json_object_get(d, "kind")), "Gadget");
    ck_assert_str_eq(json_string_value(json_object_get(d, "group")), "example.com");
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(d, "causes"), 0), "field")),
                     "kind");
    tc_free(&r);
    kr_free(body);
    body = kr_asprintf(other, "\"generateName\":\"g-\"");
    request("POST", WIDGETS, "application/json", body, &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_msg(strncmp(message(&r), "Gadget.example.com \"g-", 22) == 0, "%s", message(&r));
    tc_free(&r);
    kr_free(body);
    request("POST", WIDGETS, "application/json",
            "{\"apiVersion\":\"example.com/v2\",\"kind\":\"Gadget\",\"metadata\":{\"name\":"
            "\"g\"}}",
            &r);
    ck_assert_msg(r.status == 400, "%ld %s", r.status, r.body);
    ck_assert_str_eq(message(&r), "the API version in the data (example.com/v2) does not match "
                                  "the expected API version (example.com/v1)");
    tc_free(&r);
    request("GET", WIDGETS "/g", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 404);
    tc_free(&r);

    post("", "w", "{\"image\":\"nginx\"}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    char put[256];
    snprintf(
        put, sizeof(put), "\"name\":\"w\",\"resourceVersion\":\"%s\"",
        json_string_value(json_object_get(json_object_get(r.json, "metadata"), "resourceVersion")));
    tc_free(&r);
    body = kr_asprintf(other, "\"name\":\"w\",\"resourceVersion\":\"1\"");
    request("PUT", WIDGETS "/w", "application/json", body, &r);
    ck_assert_msg(r.status == 409, "%ld %s", r.status, r.body);
    tc_free(&r);
    kr_free(body);
    body = kr_asprintf(other, "\"name\":\"missing\",\"resourceVersion\":\"1\"");
    request("PUT", WIDGETS "/missing", "application/json", body, &r);
    ck_assert_msg(r.status == 404, "%ld %s", r.status, r.body);
    tc_free(&r);
    kr_free(body);
    body = kr_asprintf(other, put);
    request("PUT", WIDGETS "/w", "application/json", body, &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_str_eq(message(&r), "Gadget.example.com \"w\" is invalid: kind: Invalid value: "
                                  "\"Gadget\": must be Widget");
    tc_free(&r);
    kr_free(body);
}
END_TEST

/* The custom resource validator lists ValidateObjectMetaAccessor's errors
 * and then the schema's, in one 422. */
START_TEST(metadata_problems_are_listed_with_the_schemas)
{
    tc_response r;
    post("", "Bad", "{}", &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    ck_assert_str_eq(message(&r),
                     "Widget.example.com \"Bad\" is invalid: [metadata.name: Invalid value: "
                     "\"Bad\": a lowercase RFC 1123 subdomain must consist of lower case "
                     "alphanumeric characters, '-' or '.', and must start and end with an "
                     "alphanumeric character (e.g. 'example.com', regex used for validation is "
                     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), "
                     "spec.image: Required value]");
    const json_t *causes = json_object_get(json_object_get(r.json, "details"), "causes");
    ck_assert_uint_eq(json_array_size(causes), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, 0), "field")),
                     "metadata.name");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, 1), "field")),
                     "spec.image");
    tc_free(&r);
}
END_TEST

START_TEST(values_are_checked_with_the_apiservers_messages)
{
    expect_invalid("{}", "Widget.example.com \"bad\" is invalid: spec.image: Required value");
    expect_invalid("{\"image\":7}", "Widget.example.com \"bad\" is invalid: spec.image: Invalid "
                                    "value: \"integer\": spec.image in body must be of type "
                                    "string: \"integer\"");
    expect_invalid("{\"image\":\"ab\"}",
                   "Widget.example.com \"bad\" is invalid: spec.image: Invalid value: \"ab\": "
                   "spec.image in body should be at least 3 chars long");
    expect_invalid("{\"image\":\"abcdefghijklmnopqrstu\"}",
                   "Widget.example.com \"bad\" is invalid: spec.image: Too long: may not be more "
                   "than 20 bytes");
    expect_invalid("{\"image\":\"web:x1\"}",
                   "Widget.example.com \"bad\" is invalid: spec.image: Invalid value: \"web:x1\": "
                   "spec.image in body should match '^[a-z]+(:\\d+)?$'");
    expect_invalid("{\"image\":\"web:80\",\"replicas\":11}",
                   "Widget.example.com \"bad\" is invalid: spec.replicas: Invalid value: 11: "
                   "spec.replicas in body should be less than or equal to 10");
    expect_invalid("{\"image\":\"web\",\"replicas\":-1}",
                   "Widget.example.com \"bad\" is invalid: spec.replicas: Invalid value: -1: "
                   "spec.replicas in body should be greater than or equal to 0");
    expect_invalid("{\"image\":\"web\",\"replicas\":1.5}",
                   "Widget.example.com \"bad\" is invalid: spec.replicas: Invalid value: "
                   "\"number\": spec.replicas in body must be of type integer: \"number\"");
    expect_invalid("{\"image\":\"web\",\"ratio\":0.0}",
                   "Widget.example.com \"bad\" is invalid: spec.ratio: Invalid value: 0: "
                   "spec.ratio in body should be greater than 0");
    expect_invalid("{\"image\":\"web\",\"ratio\":0.75}",
                   "Widget.example.com \"bad\" is invalid: spec.ratio: Invalid value: 0.75: "
                   "spec.ratio in body should be a multiple of 0.5");
    expect_invalid("{\"image\":\"web\",\"mode\":\"Medium\"}",
                   "Widget.example.com \"bad\" is invalid: spec.mode: Unsupported value: "
                   "\"Medium\": supported values: \"Fast\", \"Slow\"");
    expect_invalid("{\"image\":\"web\",\"when\":\"yesterday\"}",
                   "Widget.example.com \"bad\" is invalid: spec.when: Invalid value: "
                   "\"yesterday\": spec.when in body must be of type date-time: \"yesterday\"");
    expect_invalid("{\"image\":\"web\",\"tags\":[]}",
                   "Widget.example.com \"bad\" is invalid: spec.tags: Invalid value: 0: spec.tags "
                   "in body should have at least 1 items");
    expect_invalid("{\"image\":\"web\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}",
                   "Widget.example.com \"bad\" is invalid: spec.tags: Too many: 4: must have at "
                   "most 3 items");
    expect_invalid("{\"image\":\"web\",\"tags\":[\"a\",\"b\",\"a\"]}",
                   "Widget.example.com \"bad\" is invalid: spec.tags[2]: Duplicate value: \"a\"");
    expect_invalid("{\"image\":\"web\",\"ports\":[{\"name\":\"a\"},{\"name\":\"a\",\"port\":1}]}",
                   "Widget.example.com \"bad\" is invalid: spec.ports[1]: Duplicate value: "
                   "{\"name\":\"a\"}");
    expect_invalid("{\"image\":\"web\",\"ports\":[{\"port\":1}]}",
                   "Widget.example.com \"bad\" is invalid: spec.ports[0].name: Required value");
    expect_invalid("{\"image\":\"web\",\"limits\":{\"a\":1,\"b\":\"2\",\"c\":3}}",
                   "Widget.example.com \"bad\" is invalid: spec.limits: Too many: 3: must have at "
                   "most 2 items");
    expect_invalid("{\"image\":\"web\",\"limits\":{\"a\":true}}",
                   "Widget.example.com \"bad\" is invalid: spec.limits.a: Invalid value: "
                   "\"boolean\": spec.limits.a in body must be of type integer,string: "
                   "\"boolean\"");
    expect_invalid("{\"image\":\"web\",\"owner\":[1]}",
                   "Widget.example.com \"bad\" is invalid: spec.owner: Invalid value: \"array\": "
                   "spec.owner in body must be of type string: \"array\"");
    /* a mistyped value meets the other rules too, as kube-openapi checks it */
    expect_invalid("{\"image\":\"web\",\"mode\":7}",
                   "Widget.example.com \"bad\" is invalid: [spec.mode: Invalid value: "
                   "\"integer\": spec.mode in body must be of type string: \"integer\", "
                   "spec.mode: Unsupported value: 7: supported values: \"Fast\", \"Slow\"]");
    /* anyOf, oneOf, not: a composite cause without a field, and the closest
     * alternative's causes */
    expect_invalid("{\"image\":\"web\",\"size\":\"5Mi\"}",
                   "Widget.example.com \"bad\" is invalid: [: Invalid value: \"\": "
                   "\"spec.size\" must validate at least one schema (anyOf), spec.size: Invalid "
                   "value: \"5Mi\": spec.size in body should match '^[0-9]+Gi$']");
    expect_invalid("{\"image\":\"web\",\"shape\":\"oval\"}",
                   "Widget.example.com \"bad\" is invalid: : Invalid value: \"\": \"spec.shape\" "
                   "must validate one and only one schema (oneOf). Found 2 valid alternatives");
    expect_invalid("{\"image\":\"web\",\"shape\":\"square\"}",
                   "Widget.example.com \"bad\" is invalid: [: Invalid value: \"\": "
                   "\"spec.shape\" must validate one and only one schema (oneOf). Found none "
                   "valid, spec.shape: Unsupported value: \"square\": supported values: "
                   "\"round\", \"oval\", : Invalid value: \"\": \"spec.shape\" must not "
                   "validate the schema (not)]");
    /* several: listed in brackets, each a cause */
    tc_response r;
    post("", "bad", "{\"replicas\":\"x\",\"mode\":\"Medium\"}", &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(message(&r),
                     "Widget.example.com \"bad\" is invalid: [spec.image: Required value, "
                     "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of "
                     "type integer: \"string\", spec.mode: Unsupported value: \"Medium\": "
                     "supported values: \"Fast\", \"Slow\"]");
    json_t *causes = json_object_get(json_object_get(r.json, "details"), "causes");
    ck_assert_int_eq(json_array_size(causes), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, 0), "reason")),
                     "FieldValueRequired");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, 1), "reason")),
                     "FieldValueTypeInvalid");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, 2), "field")),
                     "spec.mode");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, 2), "message")),
                     "Unsupported value: \"Medium\": supported values: \"Fast\", \"Slow\"");
    tc_free(&r);
    /* valid values of every kind pass */
    post("", "good",
         "{\"image\":\"web:8080\",\"replicas\":10,\"ratio\":1.5,\"when\":\"2026-12-04T10:00:00Z\","
         "\"tags\":[\"a\",\"b\"],\"ports\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
         "\"limits\":{\"cpu\":2,\"mem\":\"1Gi\"},\"note\":null,\"size\":\"10Gi\","
         "\"shape\":\"round\"}",
         &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
}
END_TEST

START_TEST(status_writes_are_checked_and_pruned_too)
{
    tc_response r;
    post("", "s1", "{\"image\":\"web\"}", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    request("PATCH", WIDGETS "/s1/status", "application/merge-patch+json",
            "{\"status\":{\"phase\":\"Lost\"}}", &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(message(&r), "Widget.example.com \"s1\" is invalid: status.phase: "
                                  "Unsupported value: \"Lost\": supported values: \"Running\", "
                                  "\"Done\"");
    tc_free(&r);
    request("PATCH", WIDGETS "/s1/status", "application/merge-patch+json",
            "{\"status\":{\"phase\":\"Done\",\"extra\":1}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.warnings, "299 - \"unknown field \\\"status.extra\\\"\"\n");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "status"), "phase")),
                     "Done");
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "status"), "extra"));
    tc_free(&r);
}
END_TEST

START_TEST(a_changed_schema_applies_to_stored_objects_and_the_next_write)
{
    tc_response r;
    post("", "c1", "{\"image\":\"web\",\"later\":\"x\"}", &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "spec"), "later"));
    char rv1[32];
    snprintf(
        rv1, sizeof(rv1), "%s",
        json_string_value(json_object_get(json_object_get(r.json, "metadata"), "resourceVersion")));
    tc_free(&r);
    /* a new version of the schema: spec keeps everything, `later` defaults */
    tc_json(U, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
            NULL, &r);
    ck_assert_int_eq(r.status, 200);
    json_t *crd = json_incref(r.json);
    tc_free(&r);
    json_t *schema = json_object_get(
        json_object_get(
            json_array_get(json_object_get(json_object_get(crd, "spec"), "versions"), 0), "schema"),
        "openAPIV3Schema");
    json_t *spec = json_object_get(json_object_get(schema, "properties"), "spec");
    json_object_set_new(spec, "x-kubernetes-preserve-unknown-fields", json_true());
    json_object_set_new(json_object_get(spec, "properties"), "later",
                        json_pack("{s:s, s:s}", "type", "string", "default", "soon"));
    char *text = json_dumps(crd, JSON_COMPACT);
    tc_json(U, "PUT", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
            text, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    tc_free(&r);
    free(text);
    json_decref(crd);
    /* an object stored before reads as the new schema has it: defaulted,
     * at the same resourceVersion */
    json_t *before;
    json_t *c1 = get_spec("c1", &before);
    ck_assert_str_eq(json_string_value(json_object_get(c1, "later")), "soon");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(before, "metadata"), "resourceVersion")),
        rv1);
    json_decref(before);
    post("", "c2", "{\"image\":\"web\",\"free\":{\"x\":1}}", &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(r.warnings, "");
    json_t *got = json_object_get(r.json, "spec");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(got, "free"), "x")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(got, "later")), "soon");
    tc_free(&r);
}
END_TEST

/* The formats of kube-openapi's strfmt registry past dates and IPs, each
 * as strfmt checks it: a uuid's dashes are optional, uuid3/4/5 hold their
 * version (and variant), a hostname of one label takes a dash only after
 * its first character, a format's name is read without its dashes. */
START_TEST(string_formats_are_checked_as_strfmt_checks_them)
{
    static const struct {
        const char *field, *format, *good, *bad;
    } cases[] = {
        {"email", "email", "Jane Doe <jane.doe@example.com>", "not an email"},
        {"host", "hostname", "api.example.com", "my-host"},
        {"uri", "uri", "https://example.com/a?b=c", "not a uri"},
        {"mac", "mac", "0123.4567.89ab", "01:23:45:67:89"},
        {"wait", "duration", "3 days", "soon"},
        {"id", "uuid", "123E4567E89B12D3A456426614174000", "123e4567-e89b-12d3-a456"},
        {"id3", "uuid3", "a3bb189e-8bf9-3888-9912-ace4e6543002",
         "a3bb189e-8bf9-4888-9912-ace4e6543002"},
        {"id4", "uuid4", "123e4567-e89b-42d3-a456-426614174000",
         "123e4567-e89b-42d3-c456-426614174000"},
        {"id5", "uuid-5", "74738ff5-5367-5958-9aee-98fffdcd1876",
         "74738ff5-5367-3958-9aee-98fffdcd1876"},
    };
    kr_buf props = {0}, good = {0};
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        kr_buf_printf(&props, "%s\"%s\":{\"type\":\"string\",\"format\":\"%s\"}", i ? "," : "",
                      cases[i].field, cases[i].format);
        kr_buf_printf(&good, "%s\"%s\":\"%s\"", i ? "," : "", cases[i].field, cases[i].good);
    }
    char *crd = kr_asprintf(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"samples.example.org\"},\"spec\":{\"group\":\"example.org\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"samples\",\"kind\":\"Sample\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{"
        "\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
        "\"properties\":{%s}}}}}}]}}",
        props.data);
    tc_response r;
    tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    kr_free(crd);
    static const char samples[] = "/apis/example.org/v1/namespaces/default/samples";
    char *body = kr_asprintf("{\"apiVersion\":\"example.org/v1\",\"kind\":\"Sample\","
                             "\"metadata\":{\"name\":\"good\"},\"spec\":{%s}}",
                             good.data);
    request("POST", samples, "application/json", body, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    kr_free(body);
    kr_buf_free(&props);
    kr_buf_free(&good);
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        body = kr_asprintf("{\"apiVersion\":\"example.org/v1\",\"kind\":\"Sample\","
                           "\"metadata\":{\"name\":\"bad\"},\"spec\":{\"%s\":\"%s\"}}",
                           cases[i].field, cases[i].bad);
        char *want = kr_asprintf("Sample.example.org \"bad\" is invalid: spec.%s: Invalid value: "
                                 "\"%s\": spec.%s in body must be of type %s: \"%s\"",
                                 cases[i].field, cases[i].bad, cases[i].field, cases[i].format,
                                 cases[i].bad);
        request("POST", samples, "application/json", body, &r);
        ck_assert_msg(r.status == 422, "%s: %ld %s", cases[i].format, r.status, r.body);
        ck_assert_str_eq(message(&r), want);
        tc_free(&r);
        kr_free(want);
        kr_free(body);
    }
}
END_TEST

/* A deprecated CRD version: every answer about it carries
 * apiextensions-apiserver's warning, its own deprecationWarning or one
 * naming the newest served version that is not deprecated. */
START_TEST(deprecated_versions_warn_on_every_request)
{
    static const char open_schema[] = "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
                                      "\"x-kubernetes-preserve-unknown-fields\":true}}";
    char *crd = kr_asprintf(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"gadgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gadgets\",\"kind\":\"Gadget\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,%s},"
        "{\"name\":\"v1beta1\",\"served\":true,\"storage\":false,\"deprecated\":true,%s},"
        "{\"name\":\"v3alpha1\",\"served\":true,\"storage\":false,%s},"
        "{\"name\":\"v2\",\"served\":true,\"storage\":false,\"deprecated\":true,%s},"
        "{\"name\":\"v1alpha1\",\"served\":true,\"storage\":false,\"deprecated\":true,"
        "\"deprecationWarning\":\"v1alpha1 goes away in 2027\",%s}]}}",
        open_schema, open_schema, open_schema, open_schema, open_schema);
    tc_response r;
    tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    kr_free(crd);
    /* discovery lists them by priority, not in the spec's order, and
     * prefers the first (apiextensions' sortGroupDiscoveryByKubeAwareVersion) */
    request("GET", "/apis/example.com", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char order[128] = "";
    size_t k;
    const json_t *v;
    json_array_foreach(json_object_get(r.json, "versions"), k, v)
    {
        size_t used = strlen(order);
        snprintf(order + used, sizeof(order) - used, "%s%s", k ? " " : "",
                 json_string_value(json_object_get(v, "version")));
    }
    ck_assert_str_eq(order, "v2 v1 v1beta1 v3alpha1 v1alpha1");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "preferredVersion"), "version")),
        "v2");
    tc_free(&r);
    static const struct {
        const char *version, *warning;
    } cases[] = {
        {"v1", ""},
        {"v3alpha1", ""},
        /* the newest served version that is not deprecated: GA sorts
         * above beta, beta above alpha */
        {"v1beta1",
         "299 - \"example.com/v1beta1 Gadget is deprecated; use example.com/v1 Gadget\"\n"},
        {"v2", "299 - \"example.com/v2 Gadget is deprecated\"\n"},
        {"v1alpha1", "299 - \"v1alpha1 goes away in 2027\"\n"},
    };
    for (size_t i = 0; i < KR_ARRAY_LEN(cases); i++) {
        char path[256], body[256];
        snprintf(path, sizeof(path), "/apis/example.com/%s/namespaces/default/gadgets",
                 cases[i].version);
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"example.com/%s\",\"kind\":\"Gadget\",\"metadata\":{\"name\":"
                 "\"g-%s\"}}",
                 cases[i].version, cases[i].version);
        request("POST", path, "application/json", body, &r);
        ck_assert_int_eq(r.status, 201);
        ck_assert_str_eq(r.warnings, cases[i].warning);
        tc_free(&r);
        request("GET", path, NULL, NULL, &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.warnings, cases[i].warning);
        tc_free(&r);
        /* an error answer carries it too */
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "/missing");
        request("GET", path, NULL, NULL, &r);
        ck_assert_int_eq(r.status, 404);
        ck_assert_str_eq(r.warnings, cases[i].warning);
        tc_free(&r);
    }
}
END_TEST

/* The apiVersion of each item of a list answer, joined by spaces. */
static void item_versions(const json_t *list, char *out, size_t size)
{
    out[0] = '\0';
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", used ? " " : "",
                 json_string_value(json_object_get(item, "apiVersion")));
    }
}

/* Versions of one CRD share its objects; each answers in its own
 * apiVersion (the None conversion): a create, a get, a list, a watch's
 * initial events and its later ones. */
START_TEST(shared_versions_answer_in_their_own_api_version)
{
    static const char open_schema[] = "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
                                      "\"x-kubernetes-preserve-unknown-fields\":true}}";
    char *crd = kr_asprintf(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"things.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"things\",\"kind\":\"Thing\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,%s},"
        "{\"name\":\"v1beta1\",\"served\":true,\"storage\":false,%s}]}}",
        open_schema, open_schema);
    tc_response r;
    tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    kr_free(crd);
    static const char v1[] = "/apis/example.com/v1/namespaces/default/things";
    static const char beta[] = "/apis/example.com/v1beta1/namespaces/default/things";
    request("POST", beta, "application/json",
            "{\"apiVersion\":\"example.com/v1beta1\",\"kind\":\"Thing\",\"metadata\":{\"name\":"
            "\"t1\"}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "apiVersion")),
                     "example.com/v1beta1");
    long long rv = atoll(
        json_string_value(json_object_get(json_object_get(r.json, "metadata"), "resourceVersion")));
    tc_free(&r);
    request("POST", v1, "application/json",
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Thing\",\"metadata\":{\"name\":\"t2\"}}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    char path[256], versions[256];
    snprintf(path, sizeof(path), "%s/t1", v1);
    request("GET", path, NULL, NULL, &r);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "apiVersion")), "example.com/v1");
    tc_free(&r);
    request("GET", beta, NULL, NULL, &r);
    item_versions(r.json, versions, sizeof(versions));
    ck_assert_str_eq(versions, "example.com/v1beta1 example.com/v1beta1");
    tc_free(&r);
    /* a watch's initial state, then history replayed from before t1 */
    static const char *const watches[] = {"?watch=1&timeoutSeconds=1&resourceVersion=0",
                                          "?watch=1&timeoutSeconds=1&resourceVersion=%lld"};
    for (size_t i = 0; i < 2; i++) {
        char query[128];
        snprintf(query, sizeof(query), watches[i], rv - 1);
        snprintf(path, sizeof(path), "%s%s", v1, query);
        request("GET", path, NULL, NULL, &r);
        ck_assert_int_eq(r.status, 200);
        /* (a managedFields entry keeps the version its manager wrote) */
        ck_assert_ptr_null(strstr(r.body, "\"object\":{\"apiVersion\":\"example.com/v1beta1\""));
        ck_assert_ptr_nonnull(strstr(r.body, "\"object\":{\"apiVersion\":\"example.com/v1\""));
        ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"t1\""));
        ck_assert_ptr_nonnull(strstr(r.body, "\"name\":\"t2\""));
        tc_free(&r);
    }
}
END_TEST

/* The CRD's served versions as a merge patch writes them: `versions` is a
 * JSON array of {name, served, storage}. */
static void patch_versions_want(const char *versions, long want, const char *message);

static void patch_versions(const char *versions)
{
    patch_versions_want(versions, 200, NULL);
}

/* things.example.net's spec.versions merge-patched to `versions` (their
 * schemas open), answered `want` (with `message`, when not NULL). */
static void patch_versions_want(const char *versions, long want, const char *message)
{
    static const char open_schema[] = "{\"openAPIV3Schema\":{\"type\":\"object\","
                                      "\"x-kubernetes-preserve-unknown-fields\":true}}";
    json_t *list = json_loads(versions, 0, NULL);
    ck_assert_ptr_nonnull(list);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        json_object_set_new(v, "schema", json_loads(open_schema, 0, NULL));
    }
    json_t *patch = json_pack("{s:{s:o}}", "spec", "versions", list);
    char *body = json_dumps(patch, JSON_COMPACT);
    tc_response r;
    request("PATCH", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.example.net",
            "application/merge-patch+json", body, &r);
    ck_assert_msg(r.status == want, "%ld %s", r.status, r.body);
    if (message)
        ck_assert_str_eq(json_string_value(json_object_get(r.json, "message")), message);
    tc_free(&r);
    free(body);
    json_decref(patch);
}

static long get_status(const char *path)
{
    tc_response r;
    request("GET", path, NULL, NULL, &r);
    long status = r.status;
    tc_free(&r);
    return status;
}

/* The CRD's storedVersions, joined by spaces. */
static void stored_versions(char *out, size_t size)
{
    tc_response r;
    request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.example.net",
            NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    out[0] = '\0';
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(json_object_get(r.json, "status"), "storedVersions"), i, v)
    {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", used ? " " : "", json_string_value(v));
    }
    tc_free(&r);
}

/* A CRD updated to serve another version serves it at once, with its
 * APIService and the objects stored so far; storedVersions gains a new
 * storage version and keeps the old; a version no longer served is gone
 * from the paths and the APIServices, and its watches end (the
 * handler's storage is replaced), while the objects stay for the
 * versions still served. */
START_TEST(a_crd_update_serves_the_versions_it_names_then)
{
    char *crd = kr_asprintf(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"things.example.net\"},\"spec\":{\"group\":\"example.net\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"things\",\"kind\":\"Thing\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{"
        "\"openAPIV3Schema\":{\"type\":\"object\","
        "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}");
    tc_response r;
    tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    kr_free(crd);
    static const char v1[] = "/apis/example.net/v1/namespaces/default/things";
    static const char v2[] = "/apis/example.net/v2/namespaces/default/things";
    request("POST", v1, "application/json",
            "{\"apiVersion\":\"example.net/v1\",\"kind\":\"Thing\",\"metadata\":{\"name\":\"t1\"},"
            "\"size\":3}",
            &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    ck_assert_int_eq(get_status("/apis/example.net/v2/namespaces/default/things/t1"), 404);
    ck_assert_int_eq(get_status("/apis/apiregistration.k8s.io/v1/apiservices/v2.example.net"), 404);

    patch_versions("[{\"name\":\"v1\",\"served\":true,\"storage\":true},"
                   "{\"name\":\"v2\",\"served\":true,\"storage\":false}]");
    request("GET", "/apis/example.net/v2/namespaces/default/things/t1", NULL, NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "apiVersion")), "example.net/v2");
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "size")), 3);
    tc_free(&r);
    request("GET", "/apis/example.net", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"groupVersion\":\"example.net/v2\""));
    tc_free(&r);
    ck_assert_int_eq(get_status("/apis/apiregistration.k8s.io/v1/apiservices/v2.example.net"), 200);
    char versions[128];
    stored_versions(versions, sizeof(versions));
    ck_assert_str_eq(versions, "v1");

    /* v2 becomes the storage version; a watch on v1 is open meanwhile */
    tc_watch *w = tc_watch_open(U, "/apis/example.net/v1/namespaces/default/things?watch=1", NULL);
    ck_assert_uint_eq(tc_watch_wait(w, 1, 10000), 1); /* t1's ADDED */
    patch_versions("[{\"name\":\"v1\",\"served\":true,\"storage\":false},"
                   "{\"name\":\"v2\",\"served\":true,\"storage\":true}]");
    stored_versions(versions, sizeof(versions));
    ck_assert_str_eq(versions, "v1 v2");
    ck_assert(!tc_watch_wait_end(w, 300)); /* the same versions: the watch goes on */
    patch_versions("[{\"name\":\"v1\",\"served\":false,\"storage\":false},"
                   "{\"name\":\"v2\",\"served\":true,\"storage\":true}]");
    ck_assert(tc_watch_wait_end(w, 10000));
    tc_watch_close(w);
    ck_assert_int_eq(get_status("/apis/example.net/v1/namespaces/default/things/t1"), 404);
    ck_assert_int_eq(get_status("/apis/apiregistration.k8s.io/v1/apiservices/v1.example.net"), 404);
    ck_assert_int_eq(get_status("/apis/example.net/v2/namespaces/default/things/t1"), 200);
    request("GET", v2, NULL, NULL, &r);
    item_versions(r.json, versions, sizeof(versions));
    ck_assert_str_eq(versions, "example.net/v2");
    tc_free(&r);
    stored_versions(versions, sizeof(versions));
    ck_assert_str_eq(versions, "v1 v2");

    /* a version objects may still be stored in stays in spec.versions
     * until a status write takes it out of storedVersions; the storage
     * version never leaves them */
    patch_versions_want("[{\"name\":\"v2\",\"served\":true,\"storage\":true}]", 422,
                        "CustomResourceDefinition.apiextensions.k8s.io \"things.example.net\" is "
                        "invalid: status.storedVersions[0]: Invalid value: \"v1\": must appear in "
                        "spec.versions");
    static const char status[] =
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.example.net/status";
    request("PATCH", status, "application/merge-patch+json",
            "{\"status\":{\"storedVersions\":[\"v1\"]}}", &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "message")),
                     "CustomResourceDefinition.apiextensions.k8s.io \"things.example.net\" is "
                     "invalid: status.storedVersions: Invalid value: []string{\"v1\"}: must "
                     "have the storage version v2");
    tc_free(&r);
    request("PATCH", status, "application/merge-patch+json",
            "{\"status\":{\"storedVersions\":[\"v2\"]}}", &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    tc_free(&r);
    patch_versions("[{\"name\":\"v2\",\"served\":true,\"storage\":true}]");
    stored_versions(versions, sizeof(versions));
    ck_assert_str_eq(versions, "v2");
}
END_TEST

START_TEST(a_schema_that_preserves_everything_keeps_everything)
{
    tc_response r;
    tc_json(U, "DELETE",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", NULL,
            &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    char *crd = crd_body("{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}");
    for (int i = 0; i < 100; i++) { /* the old CRD's objects go first */
        tc_json(U, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, &r);
        long st = r.status;
        tc_free(&r);
        if (st == 201)
            break;
        ck_assert_msg(i < 99, "CRD not recreated: %ld", st);
    }
    kr_free(crd);
    post("?fieldValidation=Strict", "p1", "{\"anything\":[1,{\"at\":\"all\"}],\"image\":7}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r.json, "spec"), "image")),
                     7);
    tc_free(&r);
}
END_TEST

START_TEST(built_in_kinds_lose_the_fields_their_types_do_not_have)
{
    static const char deployment[] =
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
        "\"colour\":\"red\",\"labels\":{\"any\":\"label\"}},\"spec\":{\"replica\":3,"
        "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"strategy\":{\"rollingUpdate\":"
        "{\"maxSurge\":\"25%\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\",\"imagee\":\"x\","
        "\"resources\":{\"limits\":{\"cpu\":\"1\"}},\"ports\":[{\"containerPort\":80,"
        "\"protocoll\":\"TCP\"}]}],\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"c\"},"
        "\"bogus\":1}]}}}}";
    tc_response r;
    request("POST", "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict",
            "application/json", deployment, &r);
    ck_assert_int_eq(r.status, 400);
    /* as met in the body, as Go's decoder meets them */
    ck_assert_str_eq(message(&r),
                     "Deployment in version \"v1\" cannot be handled as a Deployment: strict "
                     "decoding error: unknown field \"metadata.colour\", unknown field "
                     "\"spec.replica\", unknown field \"spec.template.spec.containers[0].imagee\", "
                     "unknown field \"spec.template.spec.containers[0].ports[0].protocoll\", "
                     "unknown field \"spec.template.spec.volumes[0].bogus\"");
    tc_free(&r);
    request("POST", "/apis/apps/v1/namespaces/default/deployments", "application/json", deployment,
            &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings,
                     "299 - \"unknown field \\\"metadata.colour\\\"\"\n"
                     "299 - \"unknown field \\\"spec.replica\\\"\"\n"
                     "299 - \"unknown field \\\"spec.template.spec.containers[0].imagee\\\"\"\n"
                     "299 - \"unknown field "
                     "\\\"spec.template.spec.containers[0].ports[0].protocoll\\\"\"\n"
                     "299 - \"unknown field \\\"spec.template.spec.volumes[0].bogus\\\"\"\n");
    /* what the types have stays: labels, an inline volume source, an
     * int-or-string, a quantity */
    json_t *spec = json_object_get(r.json, "spec");
    json_t *pod = json_object_get(json_object_get(spec, "template"), "spec");
    json_t *c0 = json_array_get(json_object_get(pod, "containers"), 0);
    json_t *v0 = json_array_get(json_object_get(pod, "volumes"), 0);
    ck_assert_ptr_null(json_object_get(spec, "replica"));
    ck_assert_ptr_null(json_object_get(c0, "imagee"));
    ck_assert_ptr_null(json_object_get(v0, "bogus"));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(v0, "configMap"), "name")),
                     "c");
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(spec, "strategy"), "rollingUpdate"), "maxSurge")),
        "25%");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(c0, "resources"), "limits"), "cpu")),
                     "1");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(r.json, "metadata"), "labels"), "any")),
                     "label");
    ck_assert_ptr_null(json_object_get(json_object_get(r.json, "metadata"), "colour"));
    tc_free(&r);

    /* a strategic merge patch under Strict: the patch, as Go prints it */
    request("PATCH", "/apis/apps/v1/namespaces/default/deployments/web?fieldValidation=Strict",
            "application/strategic-merge-patch+json",
            "{\"spec\":{\"paused\":true,\"bogus\":{\"b\":[1,\"x\"],\"a\":null}}}", &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(message(&r), " \"\" is invalid: patch: Invalid value: "
                                  "\"map[spec:map[bogus:map[a:<nil> b:[1 x]] paused:true]]\": "
                                  "strict decoding error: unknown field \"spec.bogus\"");
    tc_free(&r);
    /* server-side apply */
    request("PATCH", "/api/v1/namespaces/default/configmaps/cm?fieldManager=test",
            "application/apply-patch+yaml",
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\","
            "\"namespace\":\"default\"},\"data\":{\"a\":\"b\"},\"datta\":{}}",
            &r);
    ck_assert_int_eq(r.status, 500);
    ck_assert_str_eq(message(&r), "failed to create typed patch object (default/cm; /v1, "
                                  "Kind=ConfigMap): .datta: field not declared in schema");
    tc_free(&r);
}
END_TEST

/* A body refused with `status` and exactly `want` as the Status message. */
static void expect_refused(const char *method, const char *path, const char *ctype,
                           const char *body, long status, const char *want)
{
    tc_response r;
    request(method, path, ctype, body, &r);
    ck_assert_msg(r.status == status, "%s: %ld %s", body, r.status, r.body);
    ck_assert_str_eq(message(&r), want);
    tc_free(&r);
}

#define CMS "/api/v1/namespaces/default/configmaps"
#define PODS "/api/v1/namespaces/default/pods"
#define SECRETS "/api/v1/namespaces/default/secrets"
#define CM_400 "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: "
#define POD_400 "Pod in version \"v1\" cannot be handled as a Pod: "
#define SECRET_400 "Secret in version \"v1\" cannot be handled as a Secret: "

/* POST `body` to `path`, which must create it (201): the object. */
static json_t *create_ok(const char *path, const char *ctype, const char *body)
{
    tc_response r;
    request("POST", path, ctype, body, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    json_t *obj = json_incref(r.json);
    tc_free(&r);
    return obj;
}

/* An integer beyond int64 is a float64 to encoding/json: a Go integer
 * field refuses it, naming it as kubectl sends it again (it reads a
 * manifest's 99999999999999999999 as 1e20 and writes
 * 100000000000000000000); a custom resource keeps it as a float. */
START_TEST(integers_beyond_int64_are_read_as_go_reads_them)
{
    expect_refused("POST", CMS, "application/json",
                   "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"g\","
                   "\"generation\":100000000000000000000}}",
                   400,
                   CM_400 "json: cannot unmarshal number 100000000000000000000 into Go struct "
                          "field ObjectMeta.metadata.generation of type int64");
    expect_refused("POST", "/apis/apps/v1/namespaces/default/deployments", "application/json",
                   "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                   "\"d\"},\"spec\":{\"replicas\":-100000000000000000000}}",
                   400,
                   "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot "
                   "unmarshal number -100000000000000000000 into Go struct field "
                   "DeploymentSpec.spec.replicas of type int32");
    /* in a string it is text; in a field free to hold anything, a float */
    json_t *cm = create_ok(CMS, "application/json",
                           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                           "\"big\"},\"data\":{\"k\":\"99999999999999999999 \\\" 1\"}}");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cm, "data"), "k")),
                     "99999999999999999999 \" 1");
    json_decref(cm);
    /* written back as Go writes a float64: 1e20 as 100000000000000000000 */
    tc_response r;
    request("POST", WIDGETS, "application/json",
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":"
            "{\"name\":\"big\"},\"spec\":{\"image\":\"web\",\"extra\":{\"n\":"
            "99999999999999999999,\"m\":[-99999999999999999999]}}}",
            &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_msg(strstr(r.body, "\"extra\":{\"n\":100000000000000000000,\"m\":["
                                 "-100000000000000000000]}") != NULL,
                  "%s", r.body);
    tc_free(&r);
}
END_TEST

/* kube-openapi types an integer of JSON as an int64 and a number with a
 * fraction or exponent (or beyond int64) as a float64: an int64 meets
 * the limits converted to int64, exactly above 2^53 (a fractional factor
 * truncated); a float64 is an integer when swag's test says so (within 2^53-1,
 * and whole or within a relative 1e-9). */
START_TEST(integers_are_checked_as_int64_and_floats_as_float64)
{
    tc_response r;
    post("", "i1", "{\"image\":\"web\",\"big\":9007199254740992}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    json_t *obj;
    json_t *spec = get_spec("i1", &obj);
    ck_assert(json_integer_value(json_object_get(spec, "big")) == 9007199254740992LL);
    json_decref(obj);
    expect_invalid("{\"image\":\"web\",\"big\":9007199254740993}",
                   "Widget.example.com \"bad\" is invalid: spec.big: Invalid value: "
                   "9007199254740993: spec.big in body should be less than or equal to "
                   "9007199254740992");
    /* above 2^53 an int64 is kept exactly where no limit refuses it */
    post("", "i2", "{\"image\":\"web\",\"replicas\":1,\"policy\":{\"retries\":9007199254740993}}",
         &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_msg(strstr(r.body, "\"retries\":9007199254740993") != NULL, "%s", r.body);
    tc_free(&r);
    /* a float64 against type: integer */
    expect_invalid("{\"image\":\"web\",\"replicas\":1.5}",
                   "Widget.example.com \"bad\" is invalid: spec.replicas: Invalid value: "
                   "\"number\": spec.replicas in body must be of type integer: \"number\"");
    expect_invalid("{\"image\":\"web\",\"policy\":{\"retries\":9007199254740992.0}}",
                   "Widget.example.com \"bad\" is invalid: spec.policy.retries: Invalid value: "
                   "\"number\": spec.policy.retries in body must be of type integer: \"number\"");
    post("", "i3", "{\"image\":\"web\",\"policy\":{\"retries\":1000000000.5},\"size\":2.0}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    /* an int64 against a fractional multipleOf: no positive factor */
    expect_invalid("{\"image\":\"web\",\"ratio\":1}",
                   "Widget.example.com \"bad\" is invalid: spec.ratio: Invalid value: 0: factor "
                   "MultipleOf declared for spec.ratio must be positive: 0");
}
END_TEST

START_TEST(patches_with_duplicate_keys_are_reported_as_field_validation_asks)
{
    /* a merge or strategic merge patch is unmarshalled strictly into a map
     * first: its duplicates (the last value winning) before the patched
     * object's unknown fields */
    json_t *cm = create_ok(CMS, "application/json",
                           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                           "\"pd\"}}");
    json_decref(cm);
    tc_response r;
    request("PATCH", CMS "/pd", "application/merge-patch+json",
            "{\"data\":{\"a\":\"1\",\"a\":\"2\"},\"bogus\":1}", &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "299 - \"duplicate field \\\"data.a\\\"\"\n"
                                 "299 - \"unknown field \\\"bogus\\\"\"\n");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "data"), "a")), "2");
    tc_free(&r);
    request("PATCH", CMS "/pd?fieldValidation=Strict", "application/strategic-merge-patch+json",
            "{\"data\":{\"b\":\"1\",\"b\":\"2\"},\"bogus\":1}", &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(message(&r), " \"\" is invalid: patch: Invalid value: \"map[bogus:1 "
                                  "data:map[b:2]]\": strict decoding error: duplicate field "
                                  "\"data.b\", unknown field \"bogus\"");
    tc_free(&r);
    request("PATCH", CMS "/pd?fieldValidation=Strict", "application/merge-patch+json",
            "{\"data\":{\"b\":\"1\",\"b\":\"2\"}}", &r);
    ck_assert_int_eq(r.status, 422);
    static const char tail[] = "\": strict decoding error: duplicate field \"data.b\"";
    size_t n = strlen(message(&r));
    ck_assert_msg(n > strlen(tail) && strcmp(message(&r) + n - strlen(tail), tail) == 0, "%s",
                  message(&r));
    tc_free(&r);
    request("PATCH", CMS "/pd?fieldValidation=Ignore", "application/merge-patch+json",
            "{\"data\":{\"b\":\"1\",\"b\":\"2\"}}", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.warnings, "");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "data"), "b")), "2");
    tc_free(&r);
}
END_TEST

/* A JSON patch is unmarshalled strictly into its operations first (Go's
 * struct of op, path, from and value): a key twice (inside a value too)
 * and a key an operation lacks are strict decoding errors prefixed `json
 * patch`, in the body's order, reported as fieldValidation asks; a key
 * twice inside an unknown one is skipped with it. */
START_TEST(json_patch_operations_are_decoded_strictly)
{
    json_t *cm = create_ok(CMS, "application/json",
                           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                           "\"jp\"}}");
    json_decref(cm);
    static const char ops[] = "[{\"op\":\"add\",\"op\":\"add\",\"path\":\"/data\",\"value\":"
                              "{\"x\":\"1\",\"x\":\"2\"},\"bogus\":{\"a\":1,\"a\":2},\"Path\":0}]";
    tc_response r;
    request("PATCH", CMS "/jp", "application/json-patch+json", ops, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "299 - \"json patch duplicate field \\\"[0].op\\\"\"\n"
                                 "299 - \"json patch duplicate field \\\"[0].value.x\\\"\"\n"
                                 "299 - \"json patch unknown field \\\"[0].bogus\\\"\"\n"
                                 "299 - \"json patch unknown field \\\"[0].Path\\\"\"\n");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "data"), "x")), "2");
    tc_free(&r);
    request("PATCH", CMS "/jp?fieldValidation=Strict", "application/json-patch+json", ops, &r);
    ck_assert_int_eq(r.status, 422);
    static const char tail[] = "\": strict decoding error: json patch duplicate field \"[0].op\", "
                               "json patch duplicate field \"[0].value.x\", json patch unknown "
                               "field \"[0].bogus\", json patch unknown field \"[0].Path\"";
    size_t n = strlen(message(&r));
    ck_assert_msg(n > strlen(tail) && strcmp(message(&r) + n - strlen(tail), tail) == 0, "%s",
                  message(&r));
    ck_assert_msg(strncmp(message(&r), " \"\" is invalid: patch: Invalid value: ", 38) == 0, "%s",
                  message(&r));
    tc_free(&r);
    request("PATCH", CMS "/jp?fieldValidation=Ignore", "application/json-patch+json", ops, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.warnings, "");
    tc_free(&r);
}
END_TEST

/* A YAML body (or a server-side apply's configuration) is read again with
 * go-yaml's strict reading under Warn and Strict: its keys twice are one
 * error, `yaml: unmarshal errors:` and a line per key (the line of its
 * value; a key compared as go-yaml resolves it), before the other strict
 * errors. Its lines make it a warning kube-apiserver drops (a Warning
 * header holds no line break), so Warn says nothing of it. */
START_TEST(yaml_bodies_with_duplicate_keys_are_decoded_as_go_yaml_does)
{
    static const char cm[] = "apiVersion: v1\n"
                             "kind: ConfigMap\n"
                             "metadata:\n"
                             "  name: %s\n"
                             "  labels: {a: x1, \"a\": x2, 1: p1, \"1\": q1}\n"
                             "data:\n"
                             "  k: \"1\"\n"
                             "  k: \"2\"\n"
                             "bogus: 1\n";
    char *body = kr_asprintf(cm, "yd1");
    tc_response r;
    request("POST", CMS, "application/yaml", body, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "299 - \"unknown field \\\"bogus\\\"\"\n");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "data"), "k")), "2");
    tc_free(&r);
    kr_free(body);
    body = kr_asprintf(cm, "yd2");
    request("POST", CMS "?fieldValidation=Strict", "application/yaml", body, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(message(&r),
                     "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: "
                     "strict decoding error: yaml: unmarshal errors:\n"
                     "  line 5: key \"a\" already set in map\n"
                     "  line 8: key \"k\" already set in map, unknown field \"bogus\"");
    tc_free(&r);
    request("POST", CMS "?fieldValidation=Ignore", "application/yaml", body, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "");
    tc_free(&r);
    kr_free(body);

    /* server-side apply: after the field manager, a 400 under Strict */
    static const char apply[] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ya\n"
                                "data:\n  a: \"1\"\n  a: \"2\"\n";
    request("PATCH", CMS "/ya?fieldManager=m&fieldValidation=Strict",
            "application/apply-patch+yaml", apply, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(message(&r),
                     "error strict decoding YAML: error converting YAML to JSON: yaml: "
                     "unmarshal errors:\n  line 7: key \"a\" already set in map");
    tc_free(&r);
    request("PATCH", CMS "/ya?fieldManager=m", "application/apply-patch+yaml", apply, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "data"), "a")), "2");
    tc_free(&r);
    request("PATCH", CMS "/ya?fieldManager=m&fieldValidation=Strict",
            "application/apply-patch+yaml",
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"ya\"},"
            "\"data\":{\"b\":\"1\",\"b\":\"2\"}}",
            &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(message(&r),
                     "error strict decoding YAML: error converting YAML to JSON: yaml: "
                     "unmarshal errors:\n  line 1: key \"b\" already set in map");
    tc_free(&r);
}
END_TEST

/* kube-apiserver's warnings go out as they are recorded: the decoder's
 * (unknown fields, keys twice) are in the headers of a request that then
 * fails, on an existing name (409), a missing object (404) or a stale
 * resourceVersion (409; a patch's is met after the patch is applied and
 * decoded, so under Strict its 422 comes first). */
START_TEST(strict_decoding_warnings_stay_on_requests_that_then_fail)
{
    static const char body[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
        "\"%s\"%s},\"bogus\":1}";
    static const char warned[] = "299 - \"unknown field \\\"bogus\\\"\"\n";
    char *b = kr_asprintf(body, "wf", "");
    json_decref(create_ok(CMS, "application/json", b));
    tc_response r;
    request("POST", CMS, "application/json", b, &r);
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(r.warnings, warned);
    tc_free(&r);
    kr_free(b);
    b = kr_asprintf(body, "nope", "");
    request("PUT", CMS "/nope", "application/json", b, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.warnings, warned);
    tc_free(&r);
    kr_free(b);
    b = kr_asprintf(body, "wf", ",\"resourceVersion\":\"1\"");
    request("PUT", CMS "/wf", "application/json", b, &r);
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(r.warnings, warned);
    tc_free(&r);
    kr_free(b);
    static const char patch[] = "{\"metadata\":{\"resourceVersion\":\"1\"},\"a\":1,\"a\":2}";
    request("PATCH", CMS "/wf", "application/merge-patch+json", patch, &r);
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(r.warnings, "299 - \"duplicate field \\\"a\\\"\"\n"
                                 "299 - \"unknown field \\\"a\\\"\"\n");
    tc_free(&r);
    request("PATCH", CMS "/wf?fieldValidation=Strict", "application/merge-patch+json", patch, &r);
    ck_assert_int_eq(r.status, 422);
    static const char tail[] =
        "\": strict decoding error: duplicate field \"a\", unknown field \"a\"";
    size_t n = strlen(message(&r));
    ck_assert_msg(n > strlen(tail) && strcmp(message(&r) + n - strlen(tail), tail) == 0, "%s",
                  message(&r));
    tc_free(&r);
    /* a missing object is not patched: nothing is decoded, nothing warned */
    request("PATCH", CMS "/nope", "application/merge-patch+json", patch, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(r.warnings, "");
    tc_free(&r);
}
END_TEST

/* A float64 is written as Go's encoding/json writes it: the shortest
 * digits that read back, a whole one without a fraction (so a Go client
 * reads 2.0 into an int64), an exponent from 1e21 and below 1e-6. */
START_TEST(floats_are_written_as_go_writes_them)
{
    static const char want[] = "\"extra\":{\"a\":0.1,\"b\":2,\"c\":1e+21,\"d\":1e-7,\"e\":[-1.5,"
                               "123456789012345680000],\"f\":0.000001}";
    tc_response r;
    post("", "fl",
         "{\"image\":\"web\",\"extra\":{\"a\":0.1,\"b\":2.0,\"c\":1e21,\"d\":1e-7,"
         "\"e\":[-1.5,1.2345678901234568e20],\"f\":1e-6}}",
         &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_msg(strstr(r.body, want) != NULL, "%s", r.body);
    tc_free(&r);
    request("GET", WIDGETS "/fl", NULL, NULL, &r);
    ck_assert_msg(strstr(r.body, want) != NULL, "%s", r.body);
    tc_free(&r);
    request("GET", WIDGETS, NULL, NULL, &r);
    ck_assert_msg(strstr(r.body, want) != NULL, "%s", r.body);
    tc_free(&r);
}
END_TEST

/* encoding/json's UnmarshalTypeError shows a number as the body wrote it:
 * `number 1e3`, `number 1.50`, `number 99999999999999999999`, wherever
 * it is. */
START_TEST(numbers_in_decoding_errors_are_shown_as_written)
{
    static const char *const written[] = {"1e3", "1.50", "1E+2", "8.5e1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
        char *body = kr_asprintf(
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"n\", \"labels\": "
            "{\"a\":\"}\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":"
            "[{\"containerPort\":80},{\"name\":\"p\",\"containerPort\": %s }]}]}}",
            written[i]);
        char *want = kr_asprintf("Pod in version \"v1\" cannot be handled as a Pod: json: cannot "
                                 "unmarshal number %s into Go struct field "
                                 "ContainerPort.spec.containers.ports.containerPort of type int32",
                                 written[i]);
        expect_refused("POST", "/api/v1/namespaces/default/pods", "application/json", body, 400,
                       want);
        kr_free(want);
        kr_free(body);
    }
}
END_TEST

/* Strict decoding errors are the decoder's: a 400 before anything looks
 * at the object, so before an existing name's 409 or a missing one's 404
 * (kubectl create -f and replace -f send fieldValidation=Strict). */
START_TEST(strict_decoding_errors_come_before_the_store_is_looked_at)
{
    json_t *cm = create_ok(CMS, "application/json",
                           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                           "\"st\"}}");
    json_decref(cm);
    static const char body[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
        "\"%s\"},\"data\":{\"a\":\"1\",\"a\":\"2\"},\"bogus\":1}";
    static const char want[] = CM_400 "strict decoding error: duplicate field \"data.a\", unknown "
                                      "field \"bogus\"";
    char *existing = kr_asprintf(body, "st"), *missing = kr_asprintf(body, "none");
    expect_refused("POST", CMS "?fieldValidation=Strict", "application/json", existing, 400, want);
    expect_refused("PUT", CMS "/none?fieldValidation=Strict", "application/json", missing, 400,
                   want);
    /* a custom resource the same */
    expect_refused("PUT", WIDGETS "/none?fieldValidation=Strict", "application/json",
                   "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":"
                   "\"none\"},\"spec\":{\"image\":\"web\",\"nope\":1}}",
                   400,
                   "Widget in version \"v1\" cannot be handled as a Widget: strict decoding "
                   "error: unknown field \"spec.nope\"");
    /* without Strict, the store's answers */
    expect_refused("POST", CMS, "application/json", existing, 409,
                   "configmaps \"st\" already exists");
    expect_refused("PUT", CMS "/none", "application/json", missing, 404,
                   "configmaps \"none\" not found");
    kr_free(existing);
    kr_free(missing);
}
END_TEST

/* A Pod whose one container has `ports` as its ports' JSON text. */
static void expect_pod_refused(const char *ports, const char *want)
{
    char *body = kr_asprintf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
                             "\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\","
                             "\"ports\":%s}]}}",
                             ports);
    expect_refused("POST", PODS, "application/json", body, 400, want);
    kr_free(body);
}

static void expect_secret_data(const char *data, const char *want)
{
    char *body = kr_asprintf("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":"
                             "\"s\"},\"data\":{\"k\":\"%s\"}}",
                             data);
    tc_response r;
    request("POST", SECRETS, "application/json", body, &r);
    if (want) {
        ck_assert_msg(r.status == 400, "%s: %ld %s", data, r.status, r.body);
        ck_assert_str_eq(message(&r), want);
    } else {
        ck_assert_msg(r.status == 201, "%s: %ld %s", data, r.status, r.body);
        tc_free(&r);
        request("DELETE", SECRETS "/s", NULL, NULL, &r);
    }
    tc_free(&r);
    kr_free(body);
}

/* A patch of ConfigMap c refused with 422 on the field "patch": the
 * patched object (JSON), then `why`. */
static void expect_patch_refused(const char *ctype, const char *patch, const char *why)
{
    tc_response r;
    request("PATCH", CMS "/c", ctype, patch, &r);
    ck_assert_msg(r.status == 422, "%s: %ld %s", patch, r.status, r.body);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "reason")), "Invalid");
    const char *msg = message(&r);
    static const char head[] = " \"\" is invalid: patch: Invalid value: \"{\\\"apiVersion\\\":";
    ck_assert_msg(strncmp(msg, head, strlen(head)) == 0, "%s", msg);
    char *tail = kr_asprintf("}\": %s", why);
    ck_assert_msg(strlen(msg) > strlen(tail), "%s", msg);
    ck_assert_str_eq(msg + strlen(msg) - strlen(tail), tail);
    kr_free(tail);
    const json_t *cause =
        json_array_get(json_object_get(json_object_get(r.json, "details"), "causes"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(cause, "field")), "patch");
    tc_free(&r);
}

/* A strategic merge patch of `path` refused with 422: the patch as Go
 * prints it (`shown`), then the unstructured converter's `why`. */
static void expect_smp_refused(const char *path, const char *patch, const char *shown,
                               const char *why)
{
    char *want = kr_asprintf(" \"\" is invalid: patch: Invalid value: \"%s\": %s", shown, why);
    expect_refused("PATCH", path, "application/strategic-merge-patch+json", patch, 422, want);
    kr_free(want);
}

START_TEST(built_in_kinds_refuse_values_their_go_types_cannot_hold)
{
    /* a body: 400, as Go's encoding/json says it, whatever fieldValidation says */
    expect_refused("POST", CMS "?fieldValidation=Ignore", "application/json",
                   "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
                   "\"data\":{\"a\":\"x\",\"b\":1}}",
                   400,
                   CM_400 "json: cannot unmarshal number into Go struct field ConfigMap.data "
                          "of type string");
    /* the first in document order, before any unknown field */
    expect_refused("POST", CMS "?fieldValidation=Strict", "application/json",
                   "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"bogus\":1,\"metadata\":"
                   "{\"name\":\"c\",\"labels\":{\"a\":true}},\"data\":[]}",
                   400,
                   CM_400 "json: cannot unmarshal bool into Go struct field "
                          "ObjectMeta.metadata.labels of type string");
    tc_response r;
    request("GET", CMS "/c", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 404); /* nothing stored */
    tc_free(&r);
    expect_pod_refused("[{\"containerPort\":\"80\"}]",
                       POD_400 "json: cannot unmarshal string into Go struct field "
                               "ContainerPort.spec.containers.ports.containerPort of type int32");
    expect_pod_refused("[{\"containerPort\":3000000000}]",
                       POD_400 "json: cannot unmarshal number 3000000000 into Go struct field "
                               "ContainerPort.spec.containers.ports.containerPort of type int32");
    expect_pod_refused("[{\"containerPort\":3500000.5}]",
                       POD_400 "json: cannot unmarshal number 3500000.5 into Go struct field "
                               "ContainerPort.spec.containers.ports.containerPort of type int32");
    expect_pod_refused("[{\"containerPort\":80.5}]",
                       POD_400 "json: cannot unmarshal number 80.5 into Go struct field "
                               "ContainerPort.spec.containers.ports.containerPort of type int32");
    expect_pod_refused("{\"containerPort\":80}",
                       POD_400 "json: cannot unmarshal object into Go struct field "
                               "Container.spec.containers.ports of type []v1.ContainerPort");
    expect_pod_refused("[\"80\"]", POD_400 "json: cannot unmarshal string into Go struct field "
                                           "Container.spec.containers.ports of type "
                                           "v1.ContainerPort");
    /* []byte: base64 as Go decodes it (newlines skipped, padding required) */
    expect_secret_data("abc!", SECRET_400 "illegal base64 data at input byte 3");
    expect_secret_data("abc", SECRET_400 "illegal base64 data at input byte 0");
    expect_secret_data("YQ==YQ==", SECRET_400 "illegal base64 data at input byte 4");
    expect_secret_data("Y===", SECRET_400 "illegal base64 data at input byte 1");
    expect_secret_data("YWJj\\r\\nZA==", NULL);
    expect_secret_data("", NULL);

    expect_pod_refused("[{\"containerPort\":80.0}]",
                       POD_400 "json: cannot unmarshal number 80.0 into Go struct field "
                               "ContainerPort.spec.containers.ports.containerPort of type int32");
    /* what Go decodes passes: nulls; in YAML, a whole number written 80.0
     * (the conversion to JSON makes it 80, and so it is stored) */
    json_t *obj = create_ok(
        PODS, "application/yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: null}\nspec:\n"
        "  containers: [{name: c, image: i, command: null, ports: [{containerPort: 80.0}]}]\n");
    const json_t *port = json_object_get(
        json_array_get(
            json_object_get(
                json_array_get(json_object_get(json_object_get(obj, "spec"), "containers"), 0),
                "ports"),
            0),
        "containerPort");
    ck_assert(json_is_integer(port) && json_integer_value(port) == 80);
    json_decref(obj);
    obj = create_ok(CMS, "application/json",
                    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
                    "\"data\":{\"a\":\"x\"}}");
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    char *rv0 = kr_strdup(rv ? rv : "");
    json_decref(obj);

    /* a null element is its Go type's zero value */
    obj = create_ok(CMS, "application/json",
                    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"n\","
                    "\"labels\":{\"a\":null}},\"data\":{\"a\":null}}");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "data"), "a")), "");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(obj, "metadata"), "labels"), "a")),
                     "");
    json_decref(obj);
    /* objects loaded by a test are decoded as a POST's body is */
    static const char bad[] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loaded}\n"
                              "data: {a: 1}\n";
    kr_error_t err = {0};
    ck_assert_int_eq(kr_testserver_load(TS, bad, strlen(bad), &err), KR_EPARSE);
    ck_assert_msg(strstr(err.message, CM_400 "json: cannot unmarshal number into Go struct field "
                                             "ConfigMap.data of type string"),
                  "%s", err.message);
    /* an update: 400 */
    expect_refused("PUT", CMS "/c", "application/json",
                   "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
                   "\"immutable\":\"yes\"}",
                   400,
                   CM_400 "json: cannot unmarshal string into Go struct field "
                          "ConfigMap.immutable of type bool");
    /* a JSON or merge patch: 422, its result decoded by encoding/json */
    expect_patch_refused("application/json-patch+json",
                         "[{\"op\":\"replace\",\"path\":\"/data\",\"value\":\"x\"}]",
                         "json: cannot unmarshal string into Go struct field ConfigMap.data of "
                         "type map[string]string");
    expect_patch_refused("application/merge-patch+json", "{\"data\":{\"a\":2}}",
                         "json: cannot unmarshal number into Go struct field ConfigMap.data of "
                         "type string");
    /* a strategic merge patch: 422, by the unstructured converter, with the
     * patch as Go prints it */
    expect_smp_refused(CMS "/c", "{\"data\":{\"a\":2}}", "map[data:map[a:2]]",
                       "cannot convert int64 to string");
    expect_smp_refused(CMS "/c", "{\"data\":{\"a\":false}}", "map[data:map[a:false]]",
                       "unrecognized type: string");
    /* a float as fmt's %v prints it */
    expect_smp_refused(CMS "/c", "{\"data\":{\"a\":1000000.0,\"b\":0.00001}}",
                       "map[data:map[a:1e+06 b:1e-05]]", "unrecognized type: string");
    expect_smp_refused(CMS "/c", "{\"data\":[\"a\"]}", "map[data:[a]]",
                       "cannot restore map from slice");
    expect_smp_refused(PODS "/p", "{\"spec\":{\"activeDeadlineSeconds\":1.5}}",
                       "map[spec:map[activeDeadlineSeconds:1.5]]",
                       "cannot convert float64 to int64");
    /* server-side apply: structured-merge-diff's words, every error (500) */
    expect_refused("PATCH", CMS "/applied?fieldManager=test", "application/apply-patch+yaml",
                   "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                   "\"applied\",\"namespace\":\"default\"},\"data\":{\"a\":1,\"b\":[\"x\"],"
                   "\"c\":\"ok\"},\"immutable\":\"yes\",\"bogus\":1}",
                   500,
                   "failed to create typed patch object (default/applied; /v1, Kind=ConfigMap): "
                   "errors:\n  .bogus: field not declared in schema\n  .data.a: expected string, "
                   "got &value.valueUnstructured{Value:1}\n  .data.b: expected string, got "
                   "&value.valueUnstructured{Value:[]interface {}{\"x\"}}\n  .immutable: expected "
                   "boolean, got &{yes}");
    expect_refused("PATCH", PODS "/p?fieldManager=test", "application/apply-patch+yaml",
                   "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
                   "\"spec\":{\"activeDeadlineSeconds\":\"5\"}}",
                   500,
                   "failed to create typed patch object (/p; /v1, Kind=Pod): "
                   ".spec.activeDeadlineSeconds: expected numeric (int or float), got string");
    /* the applied object is turned back into the Go type: its []byte too */
    expect_refused("PATCH", SECRETS "/applied?fieldManager=test", "application/apply-patch+yaml",
                   "apiVersion: v1\nkind: Secret\nmetadata: {name: applied, namespace: default}\n"
                   "data: {k: abc}\n",
                   500,
                   "failed to convert new object (default/applied; /v1, Kind=Secret) to proper "
                   "version: unable to convert unstructured object to /v1, Kind=Secret: error "
                   "decoding from json: illegal base64 data at input byte 0");
    /* the converter wraps an integer to its Go type's width, as reflect's
     * Convert does: 2^32 + 81 in an int32 is 81 (a pod template's: a pod's
     * ports may not change) */
    request("POST", "/api/v1/namespaces/default/podtemplates", "application/json",
            "{\"metadata\":{\"name\":\"pt\"},\"template\":{\"spec\":{\"containers\":[{"
            "\"name\":\"c\",\"image\":\"x\"}]}}}",
            &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    request("PATCH", "/api/v1/namespaces/default/podtemplates/pt",
            "application/strategic-merge-patch+json",
            "{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{"
            "\"containerPort\":80,\"hostPort\":4294967377}]}]}}}",
            &r);
    ck_assert_msg(r.status == 200 && strstr(r.body, "\"hostPort\":81"), "%ld %s", r.status, r.body);
    tc_free(&r);
    /* the converter takes a whole float for an integer: stored as one */
    request("PATCH", PODS "/p", "application/strategic-merge-patch+json",
            "{\"spec\":{\"activeDeadlineSeconds\":30.0}}", &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    const json_t *ads = json_object_get(json_object_get(r.json, "spec"), "activeDeadlineSeconds");
    ck_assert_msg(json_is_integer(ads) && json_integer_value(ads) == 30, "%s", r.body);
    tc_free(&r);
    request("GET", CMS "/c", NULL, NULL, &r);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "metadata"), "resourceVersion")),
        rv0); /* none of them wrote */
    tc_free(&r);
    kr_free(rv0);
}
END_TEST

/* A CRD named crds.example.com whose only version has `schema` (JSON). */
static void expect_crd_refused(const char *schema, const char *want)
{
    char *body = kr_asprintf(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"gadgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gadgets\",\"kind\":\"Gadget\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true%s%s%s}]}}",
        schema ? ",\"schema\":{\"openAPIV3Schema\":" : "", schema ? schema : "", schema ? "}" : "");
    tc_response r;
    request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json",
            body, &r);
    ck_assert_msg(r.status == 422, "%s: %ld %s", schema, r.status, r.body);
    ck_assert_str_eq(message(&r), want);
    tc_free(&r);
    kr_free(body);
}

START_TEST(crds_need_structural_schemas_whose_defaults_fit)
{
#define CRD_INVALID                                                                                \
    "CustomResourceDefinition.apiextensions.k8s.io \"gadgets.example.com\" is invalid: "
#define ROOT "spec.versions[0].schema.openAPIV3Schema"
    expect_crd_refused(NULL, CRD_INVALID ROOT ": Required value");
    expect_crd_refused("{\"properties\":{\"spec\":{\"type\":\"object\"}}}",
                       CRD_INVALID ROOT ".type: Required value: must not be empty at the root");
    expect_crd_refused("{\"type\":\"object\",\"properties\":{\"spec\":{\"properties\":{}}}}",
                       CRD_INVALID ROOT ".properties[spec].type: Required value: must not be empty "
                                        "for specified object fields");
    expect_crd_refused("{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\"}}}",
                       CRD_INVALID ROOT ".properties[tags].items: Required value: must be "
                                        "specified");
    expect_crd_refused("{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\","
                       "\"items\":{\"minLength\":1}}}}",
                       CRD_INVALID ROOT ".properties[tags].items.type: Required value: must not be "
                                        "empty for specified array items");
    expect_crd_refused("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}",
                       CRD_INVALID ROOT ".additionalProperties: Forbidden: must not be used at the "
                                        "root");
    expect_crd_refused("{\"type\":\"object\",\"properties\":{\"m\":{\"type\":\"object\","
                       "\"properties\":{\"a\":{\"type\":\"string\"}},\"additionalProperties\":"
                       "{\"type\":\"string\"}}}}",
                       CRD_INVALID ROOT ".properties[m].additionalProperties: Forbidden: "
                                        "additionalProperties and properties are mutual exclusive");
    expect_crd_refused("{\"type\":\"object\",\"properties\":{\"metadata\":{\"type\":\"object\","
                       "\"properties\":{\"labels\":{\"type\":\"object\"}}}}}",
                       CRD_INVALID ROOT
                       ".properties[metadata]: Forbidden: must not specify "
                       "anything other than name and generateName, but metadata is "
                       "implicitly specified");
    expect_crd_refused("{\"type\":\"object\",\"properties\":{\"ports\":{\"type\":\"array\","
                       "\"x-kubernetes-list-type\":\"map\",\"items\":{\"type\":\"object\"}}}}",
                       CRD_INVALID ROOT
                       ".properties[ports].x-kubernetes-list-map-keys: Required "
                       "value: must not be empty if x-kubernetes-list-type is map");
    /* defaults meet their schema */
    expect_crd_refused("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
                       "\"properties\":{\"mode\":{\"type\":\"string\",\"enum\":[\"A\",\"B\"],"
                       "\"default\":\"C\"},\"n\":{\"type\":\"integer\",\"default\":\"x\"}}}}}",
                       CRD_INVALID "[" ROOT ".properties[spec].properties[mode].default: "
                                   "Unsupported value: \"C\": supported values: \"A\", \"B\", " ROOT
                                   ".properties[spec].properties[n].default: Invalid value: "
                                   "\"string\":  in body must be of type integer: \"string\"]");
    /* several, sorted */
    expect_crd_refused("{\"type\":\"string\",\"nullable\":true}", CRD_INVALID
                       "[" ROOT ".nullable: Forbidden: nullable cannot be true at the "
                       "root, " ROOT ".type: Invalid value: \"string\": must be object at "
                       "the root]");
#undef ROOT
#undef CRD_INVALID
    /* the schema of the tests' Widget, and deploy/'s Runnable, pass (setup) */
}
END_TEST

/* kube-apiserver sorts only ValidateStructural's errors, by their whole
 * text ("<field>: <message>", so a.b.type before a.b: ...); it checks
 * defaults only in a structural schema, and gives the generic schema
 * checks (uniqueItems, additionalProperties beside properties, list
 * types) after them, in its walk's order. */
START_TEST(crd_schema_errors_come_in_kube_order)
{
#define CRD_INVALID                                                                                \
    "CustomResourceDefinition.apiextensions.k8s.io \"gadgets.example.com\" is invalid: "
#define ROOT "spec.versions[0].schema.openAPIV3Schema"
    expect_crd_refused(
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"uniqueItems\":true,"
        "\"items\":{\"type\":\"string\"}},\"m\":{\"type\":\"object\","
        "\"x-kubernetes-embedded-resource\":true,\"x-kubernetes-preserve-unknown-fields\":true,"
        "\"additionalProperties\":{\"minLength\":1}},\"n\":{\"type\":\"integer\","
        "\"default\":\"x\"}}}",
        CRD_INVALID "[" ROOT ".properties[m].additionalProperties.type: Required value: must not "
                    "be empty for specified object fields, " ROOT
                    ".properties[m].additionalProperties: Forbidden: must not be used if "
                    "x-kubernetes-embedded-resource is set, " ROOT
                    ".properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true "
                    "since the runtime complexity becomes quadratic]");
    /* structural: the defaults' errors, then the generic ones */
    expect_crd_refused(
        "{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\","
        "\"x-kubernetes-list-type\":\"map\",\"items\":{\"type\":\"object\"}},\"n\":{\"type\":"
        "\"integer\",\"default\":\"x\"}}}",
        CRD_INVALID "[" ROOT ".properties[n].default: Invalid value: \"string\":  in body must "
                    "be of type integer: \"string\", " ROOT
                    ".properties[l].x-kubernetes-list-map-keys: Required value: must not be "
                    "empty if x-kubernetes-list-type is map]");
#undef ROOT
#undef CRD_INVALID
}
END_TEST

/* A CRD named gadgets.example.com with `versions` (JSON), refused at
 * create with 422 and `want` as the message. */
static void expect_crd_versions_refused(const char *versions, const char *want)
{
    char *body = kr_asprintf(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"gadgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gadgets\",\"kind\":\"Gadget\"},"
        "\"versions\":%s}}",
        versions);
    tc_response r;
    request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json",
            body, &r);
    ck_assert_msg(r.status == 422, "%s: %ld %s", versions, r.status, r.body);
    ck_assert_str_eq(message(&r), want);
    tc_free(&r);
    kr_free(body);
}

/* Exactly one version is the storage version, on create and update; the
 * versions are shown as apiextensions' internal type, %#v, after its
 * conversion from v1 moved what all versions share (here the schema)
 * to the spec. */
START_TEST(a_crd_has_exactly_one_storage_version)
{
#define CRD_INVALID                                                                                \
    "CustomResourceDefinition.apiextensions.k8s.io \"gadgets.example.com\" is invalid: "
#define OPEN "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\"}}"
#define VERSION(name, served, storage, schema)                                                     \
    "apiextensions.CustomResourceDefinitionVersion{Name:\"" name "\", Served:" served              \
    ", Storage:" storage ", Deprecated:false, DeprecationWarning:(*string)(nil), "                 \
    "Schema:(*apiextensions.CustomResourceValidation)(" schema "), "                               \
    "Subresources:(*apiextensions.CustomResourceSubresources)(nil), "                              \
    "AdditionalPrinterColumns:[]apiextensions.CustomResourceColumnDefinition(nil), "               \
    "SelectableFields:[]apiextensions.SelectableField(nil)}"
#define ONE "must have exactly one version marked as storage version"
#define VERSIONS "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{"
    static const char unstored[] = CRD_INVALID "[" VERSIONS VERSION(
        "v1", "true", "false", "nil") "}: " ONE ", status.storedVersions: Invalid value: "
                                      "[]string(nil): must have at least one stored version]";
    expect_crd_versions_refused("[{\"name\":\"v1\",\"served\":true,\"storage\":false," OPEN "}]",
                                unstored);
    /* two: the first is stored, the second is not; their schemas differ */
#define TWO                                                                                        \
    VERSION("v1", "true", "true", "0xc000010000")                                                  \
    ", " VERSION("v2", "false", "true", "0xc000010000")
    static const char twice[] = CRD_INVALID
        "[" VERSIONS TWO "}: " ONE ", status.storedVersions: Invalid value: []string{\"v1\"}: must "
        "have the storage version v2]";
#undef TWO
    expect_crd_versions_refused(
        "[{\"name\":\"v1\",\"served\":true,\"storage\":true," OPEN "},"
        "{\"name\":\"v2\",\"served\":false,\"storage\":true,\"schema\":{\"openAPIV3Schema\":"
        "{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]",
        twice);
    /* an update that takes the storage flag away */
    tc_response r;
    char *crd = kr_asprintf(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"gadgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gadgets\",\"kind\":\"Gadget\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true," OPEN "}]}}");
    request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json",
            crd, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    kr_free(crd);
    request("PATCH", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com",
            "application/merge-patch+json",
            "{\"spec\":{\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":false," OPEN
            "}]}}",
            &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    static const char unflagged[] =
        CRD_INVALID VERSIONS VERSION("v1", "true", "false", "nil") "}: " ONE;
    ck_assert_str_eq(message(&r), unflagged);
    tc_free(&r);
#undef VERSIONS
#undef ONE
#undef VERSION
#undef OPEN
#undef CRD_INVALID
}
END_TEST

/* ValidateCustomResourceDefinition lists the metadata's problems (its name
 * function's rule among them: the plural and group) before the spec's, in
 * one 422; so does an update, and a status write
 * (ValidateUpdateCustomResourceDefinitionStatus). */
START_TEST(crd_metadata_problems_are_listed_with_the_definitions)
{
    static const char bad_key[] =
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
        "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
        "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    static const char crds[] = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    tc_response r;
    request("POST", crds, "application/json",
            "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
            "\"metadata\":{\"name\":\"wrong.example.com\",\"labels\":{\"bad key\":\"x\"}},"
            "\"spec\":{\"group\":\"example.com\",\"scope\":\"Namespaced\",\"names\":{"
            "\"plural\":\"gizmos\",\"kind\":\"Gizmo\"},\"versions\":[{\"name\":\"v1\","
            "\"served\":true,\"storage\":true}]}}",
            &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    char *want = kr_asprintf(
        "CustomResourceDefinition.apiextensions.k8s.io \"wrong.example.com\" is invalid: "
        "[metadata.name: Invalid value: \"wrong.example.com\": must be "
        "spec.names.plural+\".\"+spec.group, metadata.labels: Invalid value: \"bad key\": %s, "
        "spec.versions[0].schema.openAPIV3Schema: Required value]",
        bad_key);
    ck_assert_str_eq(message(&r), want);
    kr_free(want);
    tc_free(&r);

    request("POST", crds, "application/json",
            "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
            "\"metadata\":{\"name\":\"gizmos.example.com\"},\"spec\":{\"group\":\"example.com\","
            "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gizmos\",\"kind\":\"Gizmo\"},"
            "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{"
            "\"openAPIV3Schema\":{\"type\":\"object\"}}}]}}",
            &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
    static const char gizmos[] =
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.example.com";
    request("PATCH", gizmos, "application/merge-patch+json",
            "{\"metadata\":{\"labels\":{\"bad key\":\"x\"}},\"spec\":{\"versions\":[{\"name\":"
            "\"v1\",\"served\":true,\"storage\":true}]}}",
            &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    want = kr_asprintf("CustomResourceDefinition.apiextensions.k8s.io \"gizmos.example.com\" is "
                       "invalid: [metadata.labels: Invalid value: \"bad key\": %s, "
                       "spec.versions[0].schema.openAPIV3Schema: Required value]",
                       bad_key);
    ck_assert_str_eq(message(&r), want);
    kr_free(want);
    tc_free(&r);
    request("PATCH",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.example.com/status",
            "application/merge-patch+json",
            "{\"metadata\":{\"labels\":{\"bad key\":\"x\"}},\"status\":{\"storedVersions\":[]}}",
            &r);
    ck_assert_msg(r.status == 422, "%ld %s", r.status, r.body);
    want = kr_asprintf("CustomResourceDefinition.apiextensions.k8s.io \"gizmos.example.com\" is "
                       "invalid: [metadata.labels: Invalid value: \"bad key\": %s, ",
                       bad_key);
    ck_assert_msg(strncmp(message(&r), want, strlen(want)) == 0, "%s", message(&r));
    kr_free(want);
    tc_free(&r);
}
END_TEST

/* A custom resource's finalizers without a path (or without a domain)
 * each get a warning when a write adds them, as apiextensions' strategy
 * gives them (a built-in kind's get none in 1.32). */
START_TEST(new_finalizers_without_a_path_are_warned_about)
{
#define PREFER "299 - \"metadata.finalizers: \\\"%s\\\": prefer a domain-qualified finalizer name"
#define CONFLICTS " to avoid accidental conflicts with other finalizer writers\"\n"
    tc_response r;
    request("POST", WIDGETS, "application/json",
            "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"f\","
            "\"finalizers\":[\"foo\",\"example.com\",\"example.com/cleanup\",\"orphan\"]},"
            "\"spec\":{\"image\":\"web\"}}",
            &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    char want[512];
    snprintf(want, sizeof(want), PREFER " including a path (/)" CONFLICTS PREFER CONFLICTS,
             "example.com", "foo");
    ck_assert_str_eq(r.warnings, want);
    tc_free(&r);
    /* an update: only what it adds */
    request("PATCH", WIDGETS "/f", "application/merge-patch+json",
            "{\"metadata\":{\"finalizers\":[\"foo\",\"example.com\",\"example.com/cleanup\","
            "\"orphan\",\"bar\"]}}",
            &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    snprintf(want, sizeof(want), PREFER CONFLICTS, "bar");
    ck_assert_str_eq(r.warnings, want);
    tc_free(&r);
    request("POST", "/api/v1/namespaces/default/configmaps", "application/json",
            "{\"metadata\":{\"name\":\"c\",\"finalizers\":[\"foo\"]}}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "");
    tc_free(&r);
#undef CONFLICTS
#undef PREFER
}
END_TEST

/* gadgets.example.com with one version whose schema has a string, an
 * integer, a boolean, an array and metadata's name, and whose
 * selectableFields are `fields` (JSON): refused with `want`. */
static void expect_fields_refused(const char *fields, const char *want)
{
    static const char schema[] =
        "{\"type\":\"object\",\"properties\":{\"metadata\":{\"type\":\"object\",\"properties\":{"
        "\"name\":{\"type\":\"string\"}}},\"spec\":{\"type\":\"object\",\"properties\":{"
        "\"color\":{\"type\":\"string\"},\"size\":{\"type\":\"integer\"},\"on\":{\"type\":"
        "\"boolean\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}}}";
    char *versions = kr_asprintf("[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
                                 "\"selectableFields\":%s,\"schema\":{\"openAPIV3Schema\":%s}}]",
                                 fields, schema);
    expect_crd_versions_refused(versions, want);
    kr_free(versions);
}

/* A CRD's selectableFields name fields of its schema of type string,
 * integer or boolean, outside metadata, each once, eight at most; one
 * version's (or all versions' alike) are the spec's after the conversion
 * from v1. */
START_TEST(selectable_fields_name_scalar_fields_of_the_schema)
{
#define CRD_INVALID                                                                                \
    "CustomResourceDefinition.apiextensions.k8s.io \"gadgets.example.com\" is invalid: "
#define AT "spec.selectableFields[0].jsonPath: "
    expect_fields_refused("[{\"jsonPath\":\".spec.nope\"}]",
                          CRD_INVALID AT "Invalid value: \".spec.nope\": is an invalid path: does "
                                         "not refer to a valid field");
    expect_fields_refused("[{\"jsonPath\":\"spec.color\"}]",
                          CRD_INVALID AT "Invalid value: \"spec.color\": is an invalid path: "
                                         "expected [ or . but got: spec");
    expect_fields_refused("[{\"jsonPath\":\".spec['color']\"}]",
                          CRD_INVALID AT "Invalid value: \".spec['color']\": is an invalid path: "
                                         "array notation is not allowed");
    expect_fields_refused("[{\"jsonPath\":\".spec.\"}]",
                          CRD_INVALID AT "Invalid value: \".spec.\": is an invalid path: "
                                         "unexpected end of JSON path");
    expect_fields_refused("[{\"jsonPath\":\"\"}]", CRD_INVALID AT "Required value");
    expect_fields_refused("[{\"jsonPath\":\".spec.tags\"}]",
                          CRD_INVALID AT "Invalid value: \".spec.tags\": must point to a field of "
                                         "type string, boolean or integer. Enum string fields "
                                         "and strings with formats are allowed.");
    expect_fields_refused("[{\"jsonPath\":\".metadata.name\"}]",
                          CRD_INVALID AT "Invalid value: \".metadata.name\": must not point to "
                                         "fields in metadata");
    expect_fields_refused("[{\"jsonPath\":\".spec.size\"},{\"jsonPath\":\".spec.size\"}]",
                          CRD_INVALID "spec.selectableFields[1].jsonPath: Duplicate value: "
                                      "\".spec.size\"");
    /* nine: too many, however valid */
    kr_buf nine = {0};
    kr_buf_append_str(&nine, "[");
    for (int i = 0; i < 9; i++)
        kr_buf_printf(&nine, "%s{\"jsonPath\":\".spec.f%d\"}", i ? "," : "", i);
    kr_buf_append_str(&nine, "]");
    kr_buf props = {0};
    for (int i = 0; i < 9; i++)
        kr_buf_printf(&props, "%s\"f%d\":{\"type\":\"string\"}", i ? "," : "", i);
    char *versions = kr_asprintf(
        "[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"selectableFields\":%s,\"schema\":{"
        "\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
        "\"properties\":{%s}}}}}}]",
        nine.data, props.data);
    expect_crd_versions_refused(versions,
                                CRD_INVALID "spec.selectableFields: Too many: 9: must have at "
                                            "most 8 items");
    kr_free(versions);
    kr_buf_free(&props);
    kr_buf_free(&nine);
    /* versions with schemas and fields of their own: each its own */
    expect_crd_versions_refused(
        "[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":{"
        "\"type\":\"object\"}}},{\"name\":\"v2\",\"served\":true,\"storage\":false,"
        "\"selectableFields\":[{\"jsonPath\":\".spec\"}],\"schema\":{\"openAPIV3Schema\":{"
        "\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\"}}}}}]",
        CRD_INVALID "spec.versions[1].selectableFields[0].jsonPath: Invalid value: \".spec\": "
                    "must point to a field of type string, boolean or integer. Enum string "
                    "fields and strings with formats are allowed.");
#undef AT
#undef CRD_INVALID
}
END_TEST

START_TEST(duplicate_keys_are_taken_as_field_validation_asks)
{
    /* a built-in kind: Go's struct takes a second object into the first,
     * a map's key the last value; the strict errors in the body's order,
     * none for a key twice inside a field the type lacks */
    static const char cm[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
        "\"labels\":{\"a\":\"1\"},\"labels\":{\"b\":\"2\"}},\"data\":{\"x\":\"1\",\"x\":\"2\"},"
        "\"bogus\":{\"y\":1,\"y\":2},\"metadata\":{\"namespace\":\"default\"}}";
    char *body = kr_asprintf(cm, "d1");
    tc_response r;
    request("POST", "/api/v1/namespaces/default/configmaps", "application/json", body, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "299 - \"duplicate field \\\"metadata.labels\\\"\"\n"
                                 "299 - \"duplicate field \\\"data.x\\\"\"\n"
                                 "299 - \"unknown field \\\"bogus\\\"\"\n"
                                 "299 - \"duplicate field \\\"metadata\\\"\"\n");
    json_t *want = json_pack("{s:s, s:s}", "a", "1", "b", "2");
    json_t *labels = json_object_get(json_object_get(r.json, "metadata"), "labels");
    ck_assert_msg(json_equal(labels, want), "%s", r.body);
    json_decref(want);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "data"), "x")), "2");
    tc_free(&r);
    kr_free(body);
    body = kr_asprintf(cm, "d2");
    request("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
            "application/json", body, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(message(&r), "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: "
                                  "strict decoding error: duplicate field \"metadata.labels\", "
                                  "duplicate field \"data.x\", unknown field \"bogus\", "
                                  "duplicate field \"metadata\"");
    tc_free(&r);
    request("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Ignore",
            "application/json", body, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "");
    tc_free(&r);
    kr_free(body);

    /* a custom resource: a map's second object replaces the first; the
     * duplicates, then the unknown fields its schema prunes */
    static const char w[] =
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"%s\"},"
        "\"spec\":{\"zz\":1,\"image\":\"web\",\"policy\":{\"retries\":5},\"policy\":{},"
        "\"tags\":[\"a\"],\"tags\":[\"b\"],\"ports\":[{\"name\":\"p\",\"name\":\"q\"}]}}";
    body = kr_asprintf(w, "dw1");
    request("POST", WIDGETS, "application/json", body, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    ck_assert_str_eq(r.warnings, "299 - \"duplicate field \\\"spec.policy\\\"\"\n"
                                 "299 - \"duplicate field \\\"spec.tags\\\"\"\n"
                                 "299 - \"duplicate field \\\"spec.ports[0].name\\\"\"\n"
                                 "299 - \"unknown field \\\"spec.zz\\\"\"\n");
    json_t *spec = json_object_get(r.json, "spec");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(spec, "policy"), "retries")),
        3); /* {} replaced {"retries":5}, then defaulted */
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(spec, "tags"), 0)), "b");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(spec, "ports"), 0), "name")),
                     "q");
    tc_free(&r);
    request("PUT", WIDGETS "/dw1?fieldValidation=Strict", "application/json", body, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(message(&r), "Widget in version \"v1\" cannot be handled as a Widget: strict "
                                  "decoding error: duplicate field \"spec.policy\", duplicate "
                                  "field \"spec.tags\", duplicate field \"spec.ports[0].name\", "
                                  "unknown field \"spec.zz\"");
    tc_free(&r);
    kr_free(body);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {unknown_fields_are_pruned_and_reported_as_field_validation_asks,
                            defaults_fill_absent_and_non_nullable_null_fields,
                            a_custom_resource_without_kind_is_refused,
                            a_custom_resource_of_another_kind_is_invalid,
                            values_are_checked_with_the_apiservers_messages,
                            metadata_problems_are_listed_with_the_schemas,
                            status_writes_are_checked_and_pruned_too,
                            a_changed_schema_applies_to_stored_objects_and_the_next_write,
                            a_schema_that_preserves_everything_keeps_everything,
                            deprecated_versions_warn_on_every_request,
                            string_formats_are_checked_as_strfmt_checks_them,
                            shared_versions_answer_in_their_own_api_version,
                            a_crd_update_serves_the_versions_it_names_then,
                            built_in_kinds_lose_the_fields_their_types_do_not_have,
                            built_in_kinds_refuse_values_their_go_types_cannot_hold,
                            crds_need_structural_schemas_whose_defaults_fit,
                            crd_schema_errors_come_in_kube_order,
                            a_crd_has_exactly_one_storage_version,
                            crd_metadata_problems_are_listed_with_the_definitions,
                            new_finalizers_without_a_path_are_warned_about,
                            selectable_fields_name_scalar_fields_of_the_schema,
                            duplicate_keys_are_taken_as_field_validation_asks,
                            integers_beyond_int64_are_read_as_go_reads_them,
                            integers_are_checked_as_int64_and_floats_as_float64,
                            patches_with_duplicate_keys_are_reported_as_field_validation_asks,
                            json_patch_operations_are_decoded_strictly,
                            yaml_bodies_with_duplicate_keys_are_decoded_as_go_yaml_does,
                            strict_decoding_warnings_stay_on_requests_that_then_fail,
                            floats_are_written_as_go_writes_them,
                            numbers_in_decoding_errors_are_shown_as_written,
                            strict_decoding_errors_come_before_the_store_is_looked_at,
                            NULL};
    return kr_test_run_tests("testserver_schema", "schema", setup, teardown, 60, tests);
}
