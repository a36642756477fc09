/* Tests for the strategic merge patch engine and its schemas: the
 * Kubernetes rules for each kind of field and each directive (expected
 * results checked against kubectl v1.32), two-way and three-way creation,
 * errors that name their path, allocation failures, and properties over
 * generated Pods and Deployments. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdocgen.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"
#include "patch_schema_internal.h"

static json_t *J(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(v != NULL, "bad test JSON (%s): %s", jerr.text, text);
    return v;
}

static const kr_patch_meta_t *meta_for(const json_t *doc)
{
    return kr_patch_schema_find_for(kr_patch_schema_builtin(), doc);
}

static char *dump(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup("(null)");
}

static void assert_json_eq(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    if (!json_equal(got, want)) {
        char *g = dump(got), *w = dump(want);
        ck_abort_msg("JSON differs\n  got:  %s\n  want: %s", g, w);
    }
    json_decref(want);
}

/* Apply `patch` to `doc` with the document's built-in metadata. */
static void apply_ok(const char *doc_text, const char *patch_text, const char *want_text)
{
    json_t *doc = J(doc_text), *patch = J(patch_text), *out = NULL;
    char *before = dump(doc);
    kr_error_t err = {0};
    int rc = kr_patch_strategic_apply(meta_for(doc), doc, patch, &out, &err);
    ck_assert_msg(rc == 0, "apply failed: %s (%s)", kr_err_name(rc), err.message);
    assert_json_eq(out, want_text);
    char *after = dump(doc);
    ck_assert_str_eq(before, after); /* inputs are borrowed, never modified */
    free(before);
    free(after);
    json_decref(doc);
    json_decref(patch);
    json_decref(out);
}

/* The call fails with `code` and a message containing `fragment`. */
static void apply_fails(const char *doc_text, const char *patch_text, int code,
                        const char *fragment)
{
    json_t *doc = J(doc_text), *patch = J(patch_text), *out = NULL;
    kr_error_t err = {0};
    int rc = kr_patch_strategic_apply(meta_for(doc), doc, patch, &out, &err);
    ck_assert_msg(rc == code, "expected %s, got %s (%s)", kr_err_name(code), kr_err_name(rc),
                  err.message);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(err.code, code);
    ck_assert_msg(strstr(err.message, fragment) != NULL, "message \"%s\" lacks \"%s\"", err.message,
                  fragment);
    json_decref(doc);
    json_decref(patch);
}

#define POD(spec)                                                                                  \
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":" spec "}"

/* ---- schemas ------------------------------------------------------------------- */

START_TEST(builtin_schema_finds_kinds_and_fields)
{
    const kr_patch_schema_t *s = kr_patch_schema_builtin();
    const kr_patch_meta_t *pod = kr_patch_schema_find(s, "v1", "Pod");
    ck_assert_ptr_nonnull(pod);
    ck_assert_ptr_eq(kr_patch_schema_find_key(s, "v1/Pod"), pod);
    ck_assert_ptr_nonnull(kr_patch_schema_find(s, "apps/v1", "Deployment"));
    ck_assert_ptr_null(kr_patch_schema_find(s, "example.com/v1", "Widget"));
    ck_assert_ptr_null(kr_patch_schema_find(s, "v1", NULL));
    json_t *doc = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}");
    ck_assert_ptr_nonnull(kr_patch_schema_find_for(s, doc));
    json_decref(doc);

    const kr_patch_field_t *spec = kr_patch_meta_field(pod, "spec");
    ck_assert_ptr_nonnull(spec);
    const kr_patch_field_t *containers = kr_patch_meta_field(spec->ref, "containers");
    ck_assert_ptr_nonnull(containers);
    ck_assert_str_eq(containers->merge_key, "name");
    ck_assert(containers->flags & KR_PF_MERGE);
    ck_assert(containers->flags & KR_PF_LIST);
    const kr_patch_field_t *tolerations = kr_patch_meta_field(spec->ref, "tolerations");
    ck_assert_ptr_nonnull(tolerations);
    ck_assert(!(tolerations->flags & (KR_PF_MERGE | KR_PF_REPLACE)));
    const kr_patch_field_t *volumes = kr_patch_meta_field(spec->ref, "volumes");
    ck_assert(volumes->flags & KR_PF_RETAIN_KEYS);
    /* Case-insensitive fallback, as Kubernetes' struct lookup does. */
    ck_assert_ptr_eq(kr_patch_meta_field(spec->ref, "Containers"), containers);
    ck_assert_ptr_null(kr_patch_meta_field(spec->ref, "noSuchField"));
}
END_TEST

static const char *crd_table =
    "{\"kinds\":{\"example.com/v1/Widget\":\"com.example.Widget\"},"
    "\"definitions\":{"
    "\"com.example.Widget\":{\"spec\":{\"ref\":\"com.example.WidgetSpec\"},"
    "\"metadata\":{\"ref\":\"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta\"}},"
    "\"com.example.WidgetSpec\":{\"parts\":{\"list\":true,\"ref\":\"com.example.Part\","
    "\"patchStrategy\":\"merge\",\"patchMergeKey\":\"id\"},"
    "\"template\":{\"ref\":\"io.k8s.api.core.v1.PodTemplateSpec\"},\"tags\":{\"list\":true}},"
    "\"com.example.Part\":{\"id\":{},\"size\":{}}}}";

START_TEST(user_schema_adds_kinds_and_falls_back_to_builtin)
{
    json_t *table = J(crd_table);
    kr_patch_schema_t *s = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_schema_new(table, kr_patch_schema_builtin(), &s, &err), 0);
    const kr_patch_meta_t *widget = kr_patch_schema_find(s, "example.com/v1", "Widget");
    ck_assert_ptr_nonnull(widget);
    ck_assert_ptr_nonnull(kr_patch_schema_find(s, "v1", "Pod")); /* from the fallback */

    json_t *doc = J("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":"
                    "{\"finalizers\":[\"a\"]},\"spec\":{\"parts\":[{\"id\":\"x\",\"size\":1},"
                    "{\"id\":\"y\",\"size\":2}],\"tags\":[\"t1\"],\"template\":{\"spec\":"
                    "{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    json_t *patch = J("{\"metadata\":{\"finalizers\":[\"b\"]},\"spec\":{\"parts\":[{\"id\":\"y\","
                      "\"size\":3}],\"tags\":[\"t2\"],\"template\":{\"spec\":{\"containers\":"
                      "[{\"name\":\"d\",\"image\":\"j\"}]}}}}");
    json_t *out = NULL;
    ck_assert_int_eq(
        kr_patch_strategic_apply(kr_patch_schema_find_for(s, doc), doc, patch, &out, &err), 0);
    assert_json_eq(out, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":"
                        "{\"finalizers\":[\"b\",\"a\"]},\"spec\":{\"parts\":[{\"id\":\"x\","
                        "\"size\":1},{\"id\":\"y\",\"size\":3}],\"tags\":[\"t2\"],\"template\":"
                        "{\"spec\":{\"containers\":[{\"name\":\"d\",\"image\":\"j\"},{\"name\":"
                        "\"c\",\"image\":\"i\"}]}}}}");
    json_decref(out);
    json_decref(doc);
    json_decref(patch);
    json_decref(table);
    kr_patch_schema_free(s);
    kr_patch_schema_free(NULL);
}
END_TEST

/* A field the metadata gives as a single struct (Kubernetes: a pointer to a
 * struct) with a list strategy and merge key, and the same field given as a
 * list: where the document holds a list, apimachinery merges both alike. */
static const char shape_table_fmt[] =
    "{\"kinds\":{\"example.com/v1/Gadget\":\"com.example.Gadget\"},\"definitions\":{"
    "\"com.example.Gadget\":{\"spec\":{\"ref\":\"com.example.GadgetSpec\"}},"
    "\"com.example.GadgetSpec\":{\"item\":{%s\"ref\":\"com.example.Item\","
    "\"patchStrategy\":\"merge\",\"patchMergeKey\":\"name\"},"
    "\"single\":{\"ref\":\"com.example.Item\",\"patchStrategy\":\"retainKeys\"}},"
    "\"com.example.Item\":{\"name\":{},\"value\":{},\"tags\":{\"list\":true,"
    "\"patchStrategy\":\"merge\"}}}}";

static kr_patch_schema_t *shape_schema(bool as_list)
{
    char text[1024];
    snprintf(text, sizeof(text), shape_table_fmt, as_list ? "\"list\":true," : "");
    json_t *table = J(text);
    kr_patch_schema_t *s = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_patch_schema_new(table, NULL, &s, &err) == 0, "%s", err.message);
    json_decref(table);
    return s;
}

#define GADGET(spec) "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Gadget\",\"spec\":" spec "}"

static char *shape_result(kr_patch_schema_t *s, int op, const char *a, const char *b,
                          const char *c_text)
{
    json_t *ja = J(a), *jb = J(b), *jc = c_text ? J(c_text) : NULL, *out = NULL;
    const kr_patch_meta_t *meta = kr_patch_schema_find_for(s, ja);
    ck_assert_ptr_nonnull(meta);
    kr_error_t err = {0};
    int rc = op == 0   ? kr_patch_strategic_apply(meta, ja, jb, &out, &err)
             : op == 1 ? kr_patch_strategic_create(meta, ja, jb, &out, &err)
                       : kr_patch_strategic_three_way(meta, ja, jb, jc, true, &out, &err);
    char *text = NULL;
    if (rc == 0)
        text = dump(out);
    else
        ck_assert_int_ge(asprintf(&text, "error %s", kr_err_name(rc)), 0);
    json_decref(ja);
    json_decref(jb);
    json_decref(jc);
    json_decref(out);
    return text;
}

START_TEST(single_struct_field_holding_a_list_merges_as_a_list)
{
    static const struct {
        int op; /* 0 apply(doc, patch), 1 create(original, modified), 2 three-way */
        const char *a, *b, *c, *want;
    } cases[] = {
        {0, GADGET("{\"item\":[{\"name\":\"a\",\"value\":1},{\"name\":\"b\",\"value\":2}]}"),
         GADGET("{\"item\":[{\"name\":\"b\",\"value\":3},{\"name\":\"c\"}]}"), NULL,
         GADGET("{\"item\":[{\"name\":\"a\",\"value\":1},{\"name\":\"b\",\"value\":3},"
                "{\"name\":\"c\"}]}")},
        {0, GADGET("{\"item\":[{\"name\":\"a\",\"tags\":[\"x\"]},{\"name\":\"b\"}]}"),
         GADGET("{\"item\":[{\"name\":\"a\",\"tags\":[\"y\"]},{\"name\":\"b\",\"$patch\":"
                "\"delete\"}]}"),
         NULL, GADGET("{\"item\":[{\"name\":\"a\",\"tags\":[\"y\",\"x\"]}]}")},
        {0, GADGET("{\"item\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"),
         GADGET("{\"$setElementOrder/item\":[{\"name\":\"c\"},{\"name\":\"b\"},{\"name\":\"a\"}],"
                "\"item\":[{\"name\":\"c\",\"value\":9}]}"),
         NULL,
         GADGET("{\"item\":[{\"name\":\"c\",\"value\":9},{\"name\":\"b\"},{\"name\":\"a\"}]}")},
        {0, GADGET("{\"item\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"),
         GADGET("{\"item\":[{\"$patch\":\"replace\"},{\"name\":\"z\"}]}"), NULL,
         GADGET("{\"item\":[{\"name\":\"z\"}]}")},
        {0, GADGET("{\"item\":[{\"name\":\"a\"}]}"), GADGET("{\"item\":{\"name\":\"q\"}}"), NULL,
         GADGET("{\"item\":{\"name\":\"q\"}}")},
        {1, GADGET("{\"item\":[{\"name\":\"a\",\"value\":1},{\"name\":\"b\"}]}"),
         GADGET("{\"item\":[{\"name\":\"c\"},{\"name\":\"a\",\"value\":2}]}"), NULL,
         "{\"spec\":{\"$setElementOrder/item\":[{\"name\":\"c\"},{\"name\":\"a\"}],\"item\":"
         "[{\"name\":\"c\"},{\"name\":\"a\",\"value\":2},{\"$patch\":\"delete\",\"name\":\"b\"}]}"
         "}"},
        {2, GADGET("{\"item\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"),
         GADGET("{\"item\":[{\"name\":\"a\",\"value\":5}]}"),
         GADGET("{\"item\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"other\"}]}"), NULL},
    };
    kr_patch_schema_t *single = shape_schema(false), *list = shape_schema(true);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = shape_result(single, cases[i].op, cases[i].a, cases[i].b, cases[i].c);
        char *twin = shape_result(list, cases[i].op, cases[i].a, cases[i].b, cases[i].c);
        ck_assert_msg(strncmp(got, "error", 5) != 0, "case %zu: %s", i, got);
        ck_assert_msg(!strcmp(got, twin), "case %zu: single struct %s, list %s", i, got, twin);
        if (cases[i].want) {
            json_t *jgot = J(got);
            assert_json_eq(jgot, cases[i].want);
            json_decref(jgot);
        }
        free(got);
        free(twin);
    }
    /* A struct with no list strategy (a struct held by value, as
     * DeploymentSpec.strategy) still refuses a list, as Kubernetes does. */
    char *got = shape_result(single, 0, GADGET("{\"single\":[{\"name\":\"a\"}]}"),
                             GADGET("{\"single\":[{\"name\":\"b\"}]}"), NULL);
    ck_assert_str_eq(got, "error KR_EPATCH");
    free(got);
    kr_patch_schema_free(single);
    kr_patch_schema_free(list);
}
END_TEST

START_TEST(builtin_pointer_struct_holding_a_list_follows_kubernetes)
{
    /* PodDisruptionBudgetSpec.selector (*LabelSelector, patchStrategy
     * replace): a list there is replaced by the patch's list (kubectl 1.32). */
    apply_ok("{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"spec\":"
             "{\"selector\":[{\"matchLabels\":{\"a\":\"b\"}}]}}",
             "{\"spec\":{\"selector\":[{\"matchLabels\":{\"x\":\"y\"}}]}}",
             "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"spec\":"
             "{\"selector\":[{\"matchLabels\":{\"x\":\"y\"}}]}}");
    /* DeploymentSpec.strategy is held by value: "expected slice or array type". */
    apply_fails("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"strategy\":"
                "[{\"type\":\"Recreate\"}]}}",
                "{\"spec\":{\"strategy\":[{\"type\":\"RollingUpdate\"}]}}", KR_EPATCH,
                "is not a list");
}
END_TEST

START_TEST(user_schema_rejects_malformed_tables)
{
    static const char *const bad[] = {
        "[]",
        "{\"kinds\":[]}",
        "{\"kinds\":{\"v1/X\":5}}",
        "{\"kinds\":{\"v1/X\":\"missing.Def\"}}",
        "{\"definitions\":{\"A\":{\"f\":{\"ref\":\"missing.Def\"}}}}",
        "{\"definitions\":{\"A\":{\"f\":{\"patchStrategy\":\"sideways\"}}}}",
        "{\"definitions\":{\"A\":{\"f\":{\"patchStrategy\":\"merge,replace\"}}}}",
        "{\"definitions\":{\"A\":{\"f\":{\"list\":\"yes\"}}}}",
        "{\"definitions\":{\"A\":{\"f\":[]}}}",
        "{\"definitions\":{\"A\":7}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *table = J(bad[i]);
        kr_patch_schema_t *s = (kr_patch_schema_t *)&s;
        kr_error_t err = {0};
        ck_assert_int_eq(kr_patch_schema_new(table, NULL, &s, &err), KR_EPARSE);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(err.message, "patch schema") != NULL, "%s", err.message);
        json_decref(table);
    }
    kr_patch_schema_t *s = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_schema_load_file("/nonexistent/table.json", NULL, &s, &err), KR_EIO);
    char path[4096];
    ck_assert_int_eq(
        kr_patch_schema_load_file(
            kr_test_src_path(path, sizeof(path), "data/k8s-patch-metadata.json"), NULL, &s, &err),
        0);
    ck_assert_ptr_nonnull(kr_patch_schema_find(s, "batch/v1", "Job"));
    kr_patch_schema_free(s);
}
END_TEST

/* ---- apply: fields ---------------------------------------------------------------- */

START_TEST(containers_merge_by_name)
{
    apply_ok(POD("{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\",\"image\":"
                 "\"2\"}]}"),
             "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"3\"},{\"name\":\"c\","
             "\"image\":\"4\"}]}}",
             POD("{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\",\"image\":"
                 "\"3\"},{\"name\":\"c\",\"image\":\"4\"}]}"));
}
END_TEST

START_TEST(env_merges_and_deletes_by_name)
{
    apply_ok(POD("{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"X\",\"value\":\"1\"},"
                 "{\"name\":\"Y\",\"value\":\"2\"}]}]}"),
             "{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"Y\",\"$patch\":"
             "\"delete\"},{\"name\":\"Z\",\"value\":\"3\"},{\"name\":\"X\",\"value\":null,"
             "\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}]}]}}",
             POD("{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"Z\",\"value\":\"3\"},"
                 "{\"name\":\"X\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}"
                 "]}]}"));
}
END_TEST

START_TEST(ports_merge_by_container_port)
{
    apply_ok(POD("{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":80},"
                 "{\"containerPort\":443,\"name\":\"https\"}]}]}"),
             "{\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":443,"
             "\"protocol\":\"TCP\"},{\"containerPort\":8080}]}]}}",
             POD("{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":80},"
                 "{\"containerPort\":443,\"name\":\"https\",\"protocol\":\"TCP\"},"
                 "{\"containerPort\":8080}]}]}"));
}
END_TEST

START_TEST(volume_mounts_merge_by_mount_path)
{
    apply_ok(POD("{\"containers\":[{\"name\":\"a\",\"volumeMounts\":[{\"name\":\"v\","
                 "\"mountPath\":\"/data\"}]}]}"),
             "{\"spec\":{\"containers\":[{\"name\":\"a\",\"volumeMounts\":[{\"name\":\"w\","
             "\"mountPath\":\"/data\",\"readOnly\":true},{\"name\":\"t\",\"mountPath\":\"/tmp\"}"
             "]}]}}",
             POD("{\"containers\":[{\"name\":\"a\",\"volumeMounts\":[{\"name\":\"w\","
                 "\"mountPath\":\"/data\",\"readOnly\":true},{\"name\":\"t\",\"mountPath\":"
                 "\"/tmp\"}]}]}"));
}
END_TEST

START_TEST(volumes_merge_and_retain_keys_clears_the_old_source)
{
    apply_ok(POD("{\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"cm\"}},{\"name\":\"w\","
                 "\"emptyDir\":{}}]}"),
             "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{},\"$retainKeys\":[\"name\","
             "\"emptyDir\"]}]}}",
             POD("{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}},{\"name\":\"w\",\"emptyDir\":{}}"
                 "]}"));
    /* Without $retainKeys the two sources would both remain. */
    apply_ok(POD("{\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"cm\"}}]}"),
             "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}]}}",
             POD("{\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"cm\"},\"emptyDir\":{}}"
                 "]}"));
}
END_TEST

START_TEST(tolerations_are_replaced_whole)
{
    apply_ok(POD("{\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"},{\"key\":\"b\"}]}"),
             "{\"spec\":{\"tolerations\":[{\"key\":\"c\"}]}}",
             POD("{\"tolerations\":[{\"key\":"
                 "\"c\"}]}"));
}
END_TEST

START_TEST(finalizers_merge_as_a_set)
{
    apply_ok("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]},\"kind\":\"Pod\",\"apiVersion\":"
             "\"v1\"}",
             "{\"metadata\":{\"finalizers\":[\"c\",\"a\"]}}",
             "{\"metadata\":{\"finalizers\":[\"c\",\"a\",\"b\"]},\"kind\":\"Pod\","
             "\"apiVersion\":\"v1\"}");
    apply_ok("{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]},\"kind\":\"Pod\",\"apiVersion\":"
             "\"v1\"}",
             "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\",\"x\"]}}",
             "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]},\"kind\":\"Pod\",\"apiVersion\":"
             "\"v1\"}");
}
END_TEST

START_TEST(args_and_command_are_replaced)
{
    apply_ok(POD("{\"containers\":[{\"name\":\"a\",\"args\":[\"1\",\"2\"]}]}"),
             "{\"spec\":{\"containers\":[{\"name\":\"a\",\"args\":[\"3\"]}]}}",
             POD("{\"containers\":[{\"name\":\"a\",\"args\":[\"3\"]}]}"));
}
END_TEST

START_TEST(null_deletes_a_field)
{
    apply_ok(POD("{\"nodeSelector\":{\"a\":\"1\",\"b\":\"2\"},\"restartPolicy\":\"Always\"}"),
             "{\"spec\":{\"nodeSelector\":{\"a\":null},\"restartPolicy\":null,\"hostname\":null}"
             "}",
             POD("{\"nodeSelector\":{\"b\":\"2\"}}"));
}
END_TEST

/* ---- apply: directives --------------------------------------------------------------- */

START_TEST(patch_replace_replaces_a_map)
{
    apply_ok(POD("{\"nodeSelector\":{\"a\":\"1\",\"b\":\"2\"}}"),
             "{\"spec\":{\"nodeSelector\":{\"$patch\":\"replace\",\"c\":\"3\"}}}",
             POD("{\"nodeSelector\":{\"c\":\"3\"}}"));
}
END_TEST

START_TEST(patch_delete_removes_a_map)
{
    apply_ok(POD("{\"nodeSelector\":{\"a\":\"1\"},\"hostname\":\"h\"}"),
             "{\"spec\":{\"nodeSelector\":{\"$patch\":\"delete\"}}}",
             POD("{\"nodeSelector\":{},\"hostname\":\"h\"}"));
}
END_TEST

START_TEST(patch_replace_in_a_list_replaces_the_list)
{
    apply_ok(POD("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"),
             "{\"spec\":{\"containers\":[{\"name\":\"c\"},{\"$patch\":\"replace\"}]}}",
             POD("{\"containers\":[{\"name\":\"c\"}]}"));
}
END_TEST

START_TEST(set_element_order_orders_the_merged_list)
{
    apply_ok(POD("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}"),
             "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"c\"},{\"name\":\"a\"},"
             "{\"name\":\"b\"}],\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}}",
             POD("{\"containers\":[{\"name\":\"c\"},{\"name\":\"a\",\"image\":\"x\"},{\"name\":"
                 "\"b\"}]}"));
    apply_ok("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]},\"kind\":\"Pod\",\"apiVersion\":"
             "\"v1\"}",
             "{\"metadata\":{\"$setElementOrder/finalizers\":[\"b\",\"c\",\"a\"],"
             "\"finalizers\":[\"c\"]}}",
             "{\"metadata\":{\"finalizers\":[\"b\",\"c\",\"a\"]},\"kind\":\"Pod\","
             "\"apiVersion\":\"v1\"}");
}
END_TEST

/* Kubernetes orders a $setElementOrder merge by the original list as its
 * own deletions and appends left it in memory (Go slices share their
 * array): here the re-added "sidecar" sorts after "log". */
START_TEST(set_element_order_after_delete_and_re_add_matches_kubernetes)
{
    apply_ok(POD("{\"containers\":[{\"name\":\"db\"},{\"name\":\"sidecar\"},{\"name\":"
                 "\"log\"}]}"),
             "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"db\"},{\"name\":"
             "\"sidecar\"}],\"containers\":[{\"name\":\"sidecar\",\"image\":\"x\"},"
             "{\"$patch\":\"delete\",\"name\":\"sidecar\"}]}}",
             POD("{\"containers\":[{\"name\":\"db\"},{\"name\":\"log\"},{\"name\":"
                 "\"sidecar\",\"image\":\"x\"}]}"));
}
END_TEST

START_TEST(retain_keys_on_deployment_strategy)
{
    apply_ok("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"strategy\":"
             "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}}}}",
             "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}",
             "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"strategy\":"
             "{\"type\":\"Recreate\"}}}");
}
END_TEST

START_TEST(unknown_kinds_merge_maps_and_replace_lists)
{
    json_t *doc = J("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"spec\":{\"a\":1,"
                    "\"items\":[{\"name\":\"x\"}]}}");
    json_t *patch = J("{\"spec\":{\"b\":2,\"items\":[{\"name\":\"y\"}]}}"), *out = NULL;
    ck_assert_ptr_null(meta_for(doc));
    ck_assert_int_eq(kr_patch_strategic_apply(NULL, doc, patch, &out, NULL), 0);
    assert_json_eq(out, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"spec\":{\"a\":"
                        "1,\"b\":2,\"items\":[{\"name\":\"y\"}]}}");
    json_decref(out);
    json_decref(doc);
    json_decref(patch);
}
END_TEST

START_TEST(unknown_fields_are_replaced_or_refused_as_kubernetes_does)
{
    /* A field the schema does not know is taken from the patch... */
    apply_ok(POD("{}"), "{\"spec\":{\"madeUp\":{\"a\":[1]}}}", POD("{\"madeUp\":{\"a\":[1]}}"));
    /* ...but cannot be merged into an existing object. */
    apply_fails(POD("{\"madeUp\":{\"a\":1}}"), "{\"spec\":{\"madeUp\":{\"b\":2}}}", KR_EPATCH,
                "/spec/madeUp");
}
END_TEST

/* ---- apply: errors ------------------------------------------------------------------------ */

START_TEST(content_types_map_to_formats)
{
    ck_assert_str_eq(kr_patch_content_type(KR_PATCH_STRATEGIC),
                     "application/strategic-merge-patch+json");
    ck_assert_str_eq(kr_patch_content_type(KR_PATCH_MERGE), "application/merge-patch+json");
    ck_assert_str_eq(kr_patch_content_type(KR_PATCH_JSON), "application/json-patch+json");
    ck_assert_str_eq(kr_patch_content_type(KR_PATCH_APPLY), "application/apply-patch+yaml");
    ck_assert_ptr_null(kr_patch_content_type((kr_patch_format)99));
    for (int f = KR_PATCH_JSON; f <= KR_PATCH_APPLY; f++)
        ck_assert_int_eq(kr_patch_format_from_content_type(kr_patch_content_type(f)), f);
    ck_assert_int_eq(
        kr_patch_format_from_content_type(" Application/Strategic-Merge-Patch+JSON; charset=utf-8"),
        KR_PATCH_STRATEGIC);
    ck_assert_int_eq(kr_patch_format_from_content_type("application/merge-patch+json ;x=y"),
                     KR_PATCH_MERGE);
    ck_assert_int_eq(kr_patch_format_from_content_type("application/json"), 0);
    ck_assert_int_eq(kr_patch_format_from_content_type("application/merge-patch+jsonx"), 0);
    ck_assert_int_eq(kr_patch_format_from_content_type("application/merge-patch+json x"), 0);
    ck_assert_int_eq(kr_patch_format_from_content_type(NULL), 0);
}
END_TEST

START_TEST(apply_dispatches_on_the_format)
{
    json_t *doc = J(POD("{\"containers\":[{\"name\":\"a\"}]}")), *out = NULL;
    json_t *smp = J("{\"spec\":{\"containers\":[{\"name\":\"b\"}]}}");
    json_t *ops = J("[{\"op\":\"add\",\"path\":\"/spec/hostname\",\"value\":\"h\"}]");
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_apply(KR_PATCH_STRATEGIC, meta_for(doc), doc, smp, &out, &err), 0);
    assert_json_eq(out, POD("{\"containers\":[{\"name\":\"b\"},{\"name\":\"a\"}]}"));
    json_decref(out);
    ck_assert_int_eq(kr_patch_apply(KR_PATCH_MERGE, NULL, doc, smp, &out, &err), 0);
    assert_json_eq(out, POD("{\"containers\":[{\"name\":\"b\"}]}"));
    json_decref(out);
    ck_assert_int_eq(kr_patch_apply(KR_PATCH_JSON, NULL, doc, ops, &out, &err), 0);
    assert_json_eq(out, POD("{\"containers\":[{\"name\":\"a\"}],\"hostname\":\"h\"}"));
    json_decref(out);
    ck_assert_int_eq(kr_patch_apply(KR_PATCH_APPLY, NULL, doc, smp, &out, &err), KR_EUNSUPPORTED);
    ck_assert_int_eq(kr_patch_apply((kr_patch_format)0, NULL, doc, smp, &out, &err), KR_EINVAL);
    ck_assert_ptr_null(out);
    json_decref(doc);
    json_decref(smp);
    json_decref(ops);
}
END_TEST

START_TEST(errors_name_their_path)
{
    const char *doc = POD("{\"containers\":[{\"name\":\"a\"}]}");
    apply_fails(doc, "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}", KR_EPATCH,
                "/spec/containers: list element 0 does not contain declared merge key: name");
    apply_fails(doc, "{\"spec\":{\"$patch\":\"merge\"}}", KR_EPATCH, "/spec: unknown patch type");
    apply_fails(doc, "{\"spec\":{\"$patch\":\"bogus\"}}", KR_EPATCH, "bogus");
    apply_fails(doc, "{\"spec\":{\"containers\":[{\"$patch\":\"merge\"}]}}", KR_EPATCH,
                "/spec/containers: merging lists cannot yet be specified");
    apply_fails(doc, "{\"spec\":{\"containers\":[{\"name\":\"a\",\"$patch\":7}]}}", KR_EPATCH,
                "unknown patch type");
    apply_fails(doc, "{\"spec\":{\"$retainKeys\":\"containers\"}}", KR_EPATCH, "$retainKeys");
    apply_fails(doc, "{\"spec\":{\"$retainKeys\":[\"hostname\"],\"restartPolicy\":\"Never\"}}",
                KR_EPATCH, "restartPolicy");
    apply_fails(doc,
                "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],\"containers\":"
                "[{\"name\":\"b\"}]}}",
                KR_EPATCH, "/spec/containers: the order in the patch list");
    apply_fails(POD("{\"containers\":[]}"), "{\"spec\":{\"containers\":[[1]]}}", KR_EPATCH,
                "lists of lists");
    apply_fails(doc, "{\"spec\":{\"containers\":[\"a\"]}}", KR_EPATCH, "not identical");
    apply_fails(doc, "{\"spec\":{\"$deleteFromPrimitiveListX\":[1]}}", KR_EPATCH,
                "$deleteFromPrimitiveList");
    apply_fails(doc, "{\"spec\":{\"containers\":[{\"name\":{\"x\":1}}]}}", KR_EPATCH,
                "compares scalars");
    apply_fails(doc, "[]", KR_EPARSE, "not a JSON object");
    apply_fails(doc, "\"s\"", KR_EPARSE, "not a JSON object");
    /* null is no error: apimachinery decodes it as an empty patch. */
    apply_ok(doc, "null", doc);
    apply_fails("[1]", "{}", KR_EPATCH, "document is not a JSON object");
    ck_assert_int_eq(kr_patch_strategic_apply(NULL, NULL, NULL, NULL, NULL), KR_EINVAL);
}
END_TEST

START_TEST(deep_documents_are_refused_not_crashed)
{
    size_t depth = 2000;
    json_t *doc = json_object(), *patch = json_object(), *d = doc, *p = patch;
    for (size_t i = 0; i < depth; i++) {
        json_t *nd = json_object(), *np = json_object();
        json_object_set_new(d, "x", nd);
        json_object_set_new(p, "x", np);
        d = nd;
        p = np;
    }
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_strategic_apply(NULL, doc, patch, &out, &err), KR_EPATCH);
    ck_assert_ptr_nonnull(strstr(err.message, "nested too deeply"));
    ck_assert_int_eq(kr_patch_strategic_create(NULL, doc, patch, &out, &err), KR_EPATCH);
    json_decref(doc);
    json_decref(patch);
}
END_TEST

/* ---- creation ----------------------------------------------------------------------------- */

static void create_ok(const char *a_text, const char *b_text, const char *want_text)
{
    json_t *a = J(a_text), *b = J(b_text), *patch = NULL, *back = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_strategic_create(meta_for(a), a, b, &patch, &err), 0);
    assert_json_eq(patch, want_text);
    /* And the patch takes a to b. */
    ck_assert_int_eq(kr_patch_strategic_apply(meta_for(a), a, patch, &back, &err), 0);
    ck_assert_msg(json_equal(back, b), "apply(create(a, b), a) != b");
    json_decref(a);
    json_decref(b);
    json_decref(patch);
    json_decref(back);
}

START_TEST(two_way_create_emits_kubernetes_directives)
{
    /* No original: everything modified has, as from {} (Go's nil). */
    json_t *b = J(POD("{\"containers\":[{\"name\":\"a\"}]}")), *patch = NULL;
    ck_assert_int_eq(kr_patch_strategic_create(meta_for(b), NULL, b, &patch, NULL), 0);
    ck_assert(json_equal(patch, b));
    json_decref(patch);
    json_decref(b);
    /* Equal documents: an empty patch. */
    create_ok(POD("{\"containers\":[{\"name\":\"a\"}]}"),
              POD("{\"containers\":[{\"name\":\"a\"}]}"), "{}");
    /* A changed container: merge key kept, order directive added. */
    create_ok(POD("{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\"}]}"),
              POD("{\"containers\":[{\"name\":\"a\",\"image\":\"2\"},{\"name\":\"b\"}]}"),
              "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
              "\"containers\":[{\"name\":\"a\",\"image\":\"2\"}]}}");
    /* A removed container: a delete directive. */
    create_ok(POD("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"),
              POD("{\"containers\":[{\"name\":\"b\"}]}"),
              "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"b\"}],\"containers\":"
              "[{\"$patch\":\"delete\",\"name\":\"a\"}]}}");
    /* Reordered only: just the order. */
    create_ok(POD("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"),
              POD("{\"containers\":[{\"name\":\"b\"},{\"name\":\"a\"}]}"),
              "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"b\"},{\"name\":\"a\"}]}}");
    /* Primitive set: additions, a deletion list and the order. */
    create_ok(
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"finalizers\":[\"c\",\"a\"]}}",
        "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"],"
        "\"$setElementOrder/finalizers\":[\"c\",\"a\"],\"finalizers\":[\"c\"]}}");
    /* Replaced lists and removed fields. */
    create_ok(POD("{\"tolerations\":[{\"key\":\"a\"}],\"hostname\":\"h\"}"),
              POD("{\"tolerations\":[{\"key\":\"b\"}]}"),
              "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}],\"hostname\":null}}");
    /* A volume changing source: $retainKeys. */
    create_ok(POD("{\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"c\"}}]}"),
              POD("{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}]}"),
              "{\"spec\":{\"$setElementOrder/volumes\":[{\"name\":\"v\"}],\"volumes\":[{\"name\":"
              "\"v\",\"emptyDir\":{},\"configMap\":null,\"$retainKeys\":[\"emptyDir\",\"name\"]}]}"
              "}");
}
END_TEST

static json_t *three_way(const char *last, const char *modified, const char *current,
                         bool overwrite, int want_rc)
{
    json_t *l = last ? J(last) : NULL, *m = J(modified), *c = J(current), *patch = NULL;
    kr_error_t err = {0};
    int rc = kr_patch_strategic_three_way(meta_for(c), l, m, c, overwrite, &patch, &err);
    ck_assert_msg(rc == want_rc, "three-way: %s (%s)", kr_err_name(rc), err.message);
    json_decref(l);
    json_decref(m);
    json_decref(c);
    return patch;
}

START_TEST(three_way_applies_user_changes_and_keeps_others)
{
    const char *last = POD("{\"containers\":[{\"name\":\"a\",\"image\":\"1\"}],\"hostname\":"
                           "\"h\",\"restartPolicy\":\"Always\"}");
    /* The user changes the image, adds a label, removes hostname. */
    const char *modified =
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":"
        "{\"x\":\"1\"}},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"2\"}],"
        "\"restartPolicy\":\"Always\"}}";
    /* Others added a container field and a node name meanwhile. */
    const char *current =
        POD("{\"containers\":[{\"name\":\"a\",\"image\":\"1\",\"imagePullPolicy\":\"Always\"}],"
            "\"hostname\":\"h\",\"restartPolicy\":\"Always\",\"nodeName\":\"n1\"}");
    json_t *patch = three_way(last, modified, current, true, 0);
    assert_json_eq(patch, "{\"metadata\":{\"labels\":{\"x\":\"1\"}},\"spec\":{"
                          "\"$setElementOrder/containers\":[{\"name\":\"a\"}],\"containers\":"
                          "[{\"name\":\"a\",\"image\":\"2\"}],\"hostname\":null}}");
    json_t *cur = J(current), *out = NULL;
    ck_assert_int_eq(kr_patch_strategic_apply(meta_for(cur), cur, patch, &out, NULL), 0);
    assert_json_eq(out, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
                        "\"labels\":{\"x\":\"1\"}},\"spec\":{\"containers\":[{\"name\":\"a\","
                        "\"image\":\"2\",\"imagePullPolicy\":\"Always\"}],\"restartPolicy\":"
                        "\"Always\",\"nodeName\":\"n1\"}}");
    json_decref(out);
    json_decref(cur);
    json_decref(patch);

    /* A container the user removed is deleted; one others added stays. */
    patch = three_way(POD("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"),
                      POD("{\"containers\":[{\"name\":\"a\"}]}"),
                      POD("{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}"),
                      true, 0);
    assert_json_eq(patch, "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],"
                          "\"containers\":[{\"$patch\":\"delete\",\"name\":\"b\"}]}}");
    json_decref(patch);

    /* No last-applied: nothing is deleted. */
    patch = three_way(NULL, POD("{\"hostname\":\"x\"}"),
                      POD("{\"hostname\":\"y\",\"nodeName\":\"n\"}"), true, 0);
    assert_json_eq(patch, "{\"spec\":{\"hostname\":\"x\"}}");
    json_decref(patch);
}
END_TEST

START_TEST(three_way_without_overwrite_reports_conflicts)
{
    const char *last = POD("{\"hostname\":\"a\"}");
    /* Someone changed hostname to b; the user wants c: a conflict. */
    json_t *patch = three_way(last, POD("{\"hostname\":\"c\"}"), POD("{\"hostname\":\"b\"}"), false,
                              KR_ECONFLICT);
    ck_assert_ptr_null(patch);
    /* With overwrite (what kubectl does), the user's value wins. */
    patch = three_way(last, POD("{\"hostname\":\"c\"}"), POD("{\"hostname\":\"b\"}"), true, 0);
    assert_json_eq(patch, "{\"spec\":{\"hostname\":\"c\"}}");
    json_decref(patch);
    /* Changes to different fields do not conflict. */
    patch = three_way(last, POD("{\"hostname\":\"a\",\"subdomain\":\"s\"}"),
                      POD("{\"hostname\":\"a\",\"nodeName\":\"n\"}"), false, 0);
    assert_json_eq(patch, "{\"spec\":{\"subdomain\":\"s\"}}");
    json_decref(patch);
}
END_TEST

/* ---- allocation failures ---------------------------------------------------------------- */

static int run_engine_once(void *arg)
{
    (void)arg;
    json_t *a =
        json_loads(POD("{\"containers\":[{\"name\":\"a\",\"image\":\"1\",\"env\":[{\"name\":"
                       "\"X\",\"value\":\"1\"}]},{\"name\":\"b\"}],\"volumes\":[{\"name\":"
                       "\"v\",\"configMap\":{\"name\":\"c\"}}],\"hostname\":\"h\"}"),
                   0, NULL);
    json_t *b =
        json_loads(POD("{\"containers\":[{\"name\":\"b\"},{\"name\":\"a\",\"image\":\"2\","
                       "\"env\":[{\"name\":\"Y\",\"value\":\"1\"}]}],\"volumes\":[{\"name\":"
                       "\"v\",\"emptyDir\":{}}],\"tolerations\":[{\"key\":\"k\"}]}"),
                   0, NULL);
    json_t *table = json_loads(crd_table, 0, NULL);
    json_t *patch = NULL, *out = NULL, *three = NULL;
    kr_patch_schema_t *schema = NULL;
    int verdict = 0;
    if (!a || !b || !table)
        goto out;
    const kr_patch_meta_t *meta = meta_for(a);
    int rc = kr_patch_strategic_create(meta, a, b, &patch, NULL);
    if (rc == 0) {
        rc = kr_patch_strategic_apply(meta, a, patch, &out, NULL);
        if (rc == 0 && !json_equal(out, b))
            verdict = 1;
    }
    if (rc != 0 && rc != KR_ENOMEM)
        verdict = 1;
    rc = kr_patch_strategic_three_way(meta, a, b, a, false, &three, NULL);
    if (rc != 0 && rc != KR_ENOMEM)
        verdict = 1;
    rc = kr_patch_schema_new(table, kr_patch_schema_builtin(), &schema, NULL);
    if (rc != 0 && rc != KR_ENOMEM)
        verdict = 1;
out:
    kr_patch_schema_free(schema);
    json_decref(a);
    json_decref(b);
    json_decref(table);
    json_decref(patch);
    json_decref(out);
    json_decref(three);
    return verdict;
}

START_TEST(allocation_failures_are_reported_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(run_engine_once, NULL);
    ck_assert_msg(runs > 50, "sweep returned %ld", runs);
}
END_TEST

/* ---- properties ---------------------------------------------------------------------------- */

#define PROPERTY_CASES 10000

static int cmp_json_string(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* A copy of `doc` with metadata.finalizers sorted. Kubernetes' two-way diff
 * sorts an original primitive merge list in place before deciding whether
 * its order changed, so moving such a list into sorted order produces no
 * $setElementOrder and the old order survives. The engine reproduces that;
 * the round-trip property therefore compares finalizers as a set. */
static json_t *with_sorted_finalizers(const json_t *doc)
{
    json_t *copy = json_deep_copy(doc);
    json_t *f = json_object_get(json_object_get(copy, "metadata"), "finalizers");
    size_t n = json_array_size(f);
    if (n > 1) {
        json_t **items = calloc(n, sizeof(*items));
        ck_assert_ptr_nonnull(items);
        for (size_t i = 0; i < n; i++)
            items[i] = json_incref(json_array_get(f, i));
        qsort(items, n, sizeof(*items), cmp_json_string);
        json_array_clear(f);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(f, items[i]);
        free(items);
    }
    return copy;
}

START_TEST(moving_finalizers_into_sorted_order_is_lost_as_in_kubernetes)
{
    const char *a = "{\"metadata\":{\"finalizers\":[\"b\",\"a\"]}}";
    const char *b = "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}";
    json_t *ja = J(a), *jb = J(b), *patch = NULL;
    const kr_patch_meta_t *pod = kr_patch_schema_find(kr_patch_schema_builtin(), "v1", "Pod");
    ck_assert_int_eq(kr_patch_strategic_create(pod, ja, jb, &patch, NULL), 0);
    assert_json_eq(patch, "{}");
    json_decref(patch);
    /* The other way round the order is kept, and an unchanged unsorted
     * list still gets an order directive. */
    ck_assert_int_eq(kr_patch_strategic_create(pod, jb, ja, &patch, NULL), 0);
    assert_json_eq(patch, "{\"metadata\":{\"$setElementOrder/finalizers\":[\"b\",\"a\"]}}");
    json_decref(patch);
    ck_assert_int_eq(kr_patch_strategic_create(pod, ja, ja, &patch, NULL), 0);
    assert_json_eq(patch, "{\"metadata\":{\"$setElementOrder/finalizers\":[\"b\",\"a\"]}}");
    json_decref(patch);
    json_decref(ja);
    json_decref(jb);
}
END_TEST

START_TEST(property_apply_of_create_gives_the_modified_document)
{
    unsigned long seed = kr_test_seed("strategic_round_trip");
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    for (int i = 0; i < PROPERTY_CASES; i++) {
        json_t *a = kdocgen_document(&rng);
        json_t *b = kdocgen_modify(&rng, a);
        json_t *patch = NULL, *back = NULL;
        kr_error_t err = {0};
        const kr_patch_meta_t *meta = meta_for(a);
        int rc = kr_patch_strategic_create(meta, a, b, &patch, &err);
        ck_assert_msg(rc == 0, "case %d (seed %lu): create: %s", i, seed, err.message);
        rc = kr_patch_strategic_apply(meta, a, patch, &back, &err);
        ck_assert_msg(rc == 0, "case %d (seed %lu): apply: %s", i, seed, err.message);
        json_t *back_sorted = with_sorted_finalizers(back), *b_sorted = with_sorted_finalizers(b);
        bool same = json_equal(back_sorted, b_sorted);
        json_decref(back_sorted);
        json_decref(b_sorted);
        if (!same) {
            char *sa = dump(a), *sb = dump(b), *sp = dump(patch), *sr = dump(back);
            ck_abort_msg("case %d (seed %lu): apply(create(A,B),A) != B\nA=%s\nB=%s\nP=%s\nR=%s", i,
                         seed, sa, sb, sp, sr);
        }
        json_decref(a);
        json_decref(b);
        json_decref(patch);
        json_decref(back);
    }
}
END_TEST

/* Removes a few object fields (outside lists) from a copy of `doc`: what
 * a user's last-applied configuration lacks of the live object. */
static void drop_fields(kr_test_rng *rng, json_t *obj, int depth)
{
    const char *key;
    json_t *v, *tmp;
    json_object_foreach_safe(obj, tmp, key, v)
    {
        if (!strcmp(key, "apiVersion") || !strcmp(key, "kind") || !strcmp(key, "name"))
            continue;
        if (depth > 0 && kr_test_rng_below(rng, 6) == 0)
            json_object_del(obj, key);
        else if (json_is_object(v))
            drop_fields(rng, v, depth + 1);
    }
}

/* Every object path of `live` (not descending into lists) missing from
 * `last` must still be in `result`, unless a $retainKeys directive of the
 * patch on the way cleared it. */
static void check_kept(const json_t *live, const json_t *last, const json_t *result,
                       const json_t *patch, char *path, size_t len, int *bad)
{
    const char *key;
    json_t *v;
    if (json_object_get(patch, "$retainKeys"))
        return;
    json_object_foreach((json_t *)live, key, v)
    {
        const json_t *l = json_object_get(last, key);
        const json_t *r = json_object_get(result, key);
        int n = snprintf(path + len, 1024 - len, "/%s", key);
        if (!l && !r) {
            printf("three-way removed %s, absent from last-applied\n", path);
            (*bad)++;
        } else if (json_is_object(v) && json_is_object(r)) {
            check_kept(v, json_is_object(l) ? l : NULL, r, json_object_get(patch, key), path,
                       len + (size_t)n, bad);
        }
        path[len] = '\0';
    }
}

START_TEST(property_three_way_never_removes_fields_absent_from_last_applied)
{
    unsigned long seed = kr_test_seed("strategic_three_way");
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    for (int i = 0; i < PROPERTY_CASES; i++) {
        json_t *live = kdocgen_document(&rng);
        json_t *last = json_deep_copy(live);
        drop_fields(&rng, last, 0);
        json_t *modified = kdocgen_modify(&rng, last);
        json_t *patch = NULL, *result = NULL;
        kr_error_t err = {0};
        const kr_patch_meta_t *meta = meta_for(live);
        int rc = kr_patch_strategic_three_way(meta, last, modified, live, true, &patch, &err);
        ck_assert_msg(rc == 0, "case %d (seed %lu): three-way: %s", i, seed, err.message);
        rc = kr_patch_strategic_apply(meta, live, patch, &result, &err);
        ck_assert_msg(rc == 0, "case %d (seed %lu): apply: %s", i, seed, err.message);
        char path[1024] = "";
        int bad = 0;
        check_kept(live, last, result, patch, path, 0, &bad);
        if (bad) {
            char *sl = dump(live), *sa = dump(last), *sm = dump(modified), *sp = dump(patch);
            ck_abort_msg("case %d (seed %lu)\nlive=%s\nlast=%s\nmodified=%s\npatch=%s", i, seed, sl,
                         sa, sm, sp);
        }
        json_decref(live);
        json_decref(last);
        json_decref(modified);
        json_decref(patch);
        json_decref(result);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("patch_strategic");
    TCase *tc = tcase_create("strategic");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, builtin_schema_finds_kinds_and_fields);
    tcase_add_test(tc, user_schema_adds_kinds_and_falls_back_to_builtin);
    tcase_add_test(tc, user_schema_rejects_malformed_tables);
    tcase_add_test(tc, single_struct_field_holding_a_list_merges_as_a_list);
    tcase_add_test(tc, builtin_pointer_struct_holding_a_list_follows_kubernetes);
    tcase_add_test(tc, containers_merge_by_name);
    tcase_add_test(tc, env_merges_and_deletes_by_name);
    tcase_add_test(tc, ports_merge_by_container_port);
    tcase_add_test(tc, volume_mounts_merge_by_mount_path);
    tcase_add_test(tc, volumes_merge_and_retain_keys_clears_the_old_source);
    tcase_add_test(tc, tolerations_are_replaced_whole);
    tcase_add_test(tc, finalizers_merge_as_a_set);
    tcase_add_test(tc, args_and_command_are_replaced);
    tcase_add_test(tc, null_deletes_a_field);
    tcase_add_test(tc, patch_replace_replaces_a_map);
    tcase_add_test(tc, patch_delete_removes_a_map);
    tcase_add_test(tc, patch_replace_in_a_list_replaces_the_list);
    tcase_add_test(tc, set_element_order_orders_the_merged_list);
    tcase_add_test(tc, set_element_order_after_delete_and_re_add_matches_kubernetes);
    tcase_add_test(tc, retain_keys_on_deployment_strategy);
    tcase_add_test(tc, unknown_kinds_merge_maps_and_replace_lists);
    tcase_add_test(tc, unknown_fields_are_replaced_or_refused_as_kubernetes_does);
    tcase_add_test(tc, content_types_map_to_formats);
    tcase_add_test(tc, apply_dispatches_on_the_format);
    tcase_add_test(tc, errors_name_their_path);
    tcase_add_test(tc, deep_documents_are_refused_not_crashed);
    tcase_add_test(tc, two_way_create_emits_kubernetes_directives);
    tcase_add_test(tc, three_way_applies_user_changes_and_keeps_others);
    tcase_add_test(tc, three_way_without_overwrite_reports_conflicts);
    tcase_add_test(tc, allocation_failures_are_reported_without_leaks);
    tcase_add_test(tc, moving_finalizers_into_sorted_order_is_lost_as_in_kubernetes);
    tcase_add_test(tc, property_apply_of_create_gives_the_modified_document);
    tcase_add_test(tc, property_three_way_never_removes_fields_absent_from_last_applied);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
