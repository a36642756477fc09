/* Tests for the kr-patch program: runs the built binary on the sample
 * files and on stdin, and checks outputs, exit codes (0, 1, 2) and the
 * one-line error messages. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"

typedef struct result {
    int status;
    char out[65536];
    char err[8192];
} result;

/* Runs kr-patch with `args` (NULL-terminated) and `input` on stdin. */
static void run(result *r, const char *input, const char *const *args)
{
    const char *argv[16] = {"kr-patch"};
    int argc = 1;
    for (; args[argc - 1] && argc < 15; argc++)
        argv[argc] = args[argc - 1];
    argv[argc] = NULL;
    kr_test_proc_io io = {.input = input, .err = r->err, .err_size = sizeof(r->err)};
    int status = kr_test_proc_run_io(argv, &io, r->out, sizeof(r->out), 60000);
    ck_assert_msg(status >= 0 && status < 128, "kr-patch did not exit normally");
    r->status = status;
}

static const char *sample(char *buf, size_t size, const char *name)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "examples/kr-patch/samples/%s", name);
    return kr_test_src_path(buf, size, rel);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void assert_json_output(const result *r, const char *expected_json)
{
    ck_assert_msg(r->status == 0, "exit %d: %s", r->status, r->err);
    json_error_t jerr;
    json_t *got = json_loads(r->out, JSON_DECODE_ANY, &jerr);
    json_t *want = json_loads(expected_json, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(got != NULL, "output is not JSON: %s", r->out);
    ck_assert_ptr_nonnull(want);
    ck_assert_msg(json_equal(got, want), "got %s want %s", r->out, expected_json);
    json_decref(got);
    json_decref(want);
}

static result r;

START_TEST(apply_strategic_merges_containers_by_name)
{
    char pod[1024], patch[1024];
    const char *args[] = {"apply", sample(pod, sizeof(pod), "pod.yaml"),
                          sample(patch, sizeof(patch), "pod-patch.yaml"), NULL};
    run(&r, NULL, args);
    assert_json_output(&r, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\","
                           "\"labels\":{\"app\":\"web\",\"tier\":\"frontend\"}},\"spec\":{"
                           "\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\","
                           "\"ports\":[{\"containerPort\":80}]},{\"name\":\"sidecar\",\"image\":"
                           "\"busybox:1.36\",\"args\":[\"sleep\",\"infinity\"]}]}}");
    ck_assert_uint_eq(count_lines(r.out), 1);
}
END_TEST

START_TEST(apply_merge_reads_a_yaml_patch_from_stdin)
{
    char pod[1024];
    const char *args[] = {"apply", "--type", "merge", sample(pod, sizeof(pod), "pod.yaml"),
                          "-",     NULL};
    run(&r, "metadata:\n  labels:\n    app: null\nspec:\n  containers: []\n", args);
    assert_json_output(&r, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\","
                           "\"labels\":{}},\"spec\":{\"containers\":[]}}");
}
END_TEST

START_TEST(apply_json_patch_and_document_from_stdin)
{
    char ops[1024];
    const char *args2[] = {"apply", "--type", "json", "-", sample(ops, sizeof(ops), "pod-ops.json"),
                           NULL};
    run(&r,
        "{\"metadata\":{\"labels\":{}},\"spec\":{\"containers\":[{\"name\":\"a\"},"
        "{\"name\":\"sidecar\"}]}}",
        args2);
    assert_json_output(&r, "{\"metadata\":{\"labels\":{\"version\":\"v2\"}},\"spec\":{"
                           "\"containers\":[{\"name\":\"a\"}]}}");
}
END_TEST

/* --type json applies as kubectl patch --local does (the apiserver's
 * leniencies); --strict as RFC 6902 says. */
START_TEST(json_patch_is_lenient_as_kubectl_unless_strict)
{
    static const char doc[] = "{\"metadata\":{\"labels\":{},\"finalizers\":[\"a\",\"b\"]}}";
    char dir[256], path[512];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-patch-ops"));
    snprintf(path, sizeof(path), "%s/ops.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("[{\"op\":\"replace\",\"path\":\"/metadata/labels/v\",\"value\":\"2\"},"
          "{\"op\":\"remove\",\"path\":\"/metadata/finalizers/-1\"}]",
          f);
    fclose(f);
    const char *lenient[] = {"apply", "--type", "json", "-", path, NULL};
    run(&r, doc, lenient);
    ck_assert_int_eq(r.status, 0);
    assert_json_output(&r, "{\"metadata\":{\"labels\":{\"v\":\"2\"},\"finalizers\":[\"a\"]}}");
    const char *strict[] = {"apply", "--type", "json", "--strict", "-", path, NULL};
    run(&r, doc, strict);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "no such member"));
    const char *misused[] = {"apply", "--strict", "-", path, NULL};
    run(&r, doc, misused);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--strict goes with --type json"));
    kr_test_tmpdir_remove(dir);
}
END_TEST

/* A patch of null is no change under kubectl patch --local (apimachinery
 * and evanphx/json-patch decode it as an empty patch): the original comes
 * back as it was. */
START_TEST(a_null_patch_changes_nothing_as_kubectl)
{
    char pod[1024];
    sample(pod, sizeof(pod), "pod.yaml");
    json_t *original = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_yaml_load_file(pod, &original, &err) == 0, "%s", err.message);
    char *want = json_dumps(original, JSON_COMPACT);
    static const char *const types[] = {"json", "strategic"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const char *args[] = {"apply", "--type", types[i], pod, "-", NULL};
        run(&r, "null", args);
        assert_json_output(&r, want);
    }
    free(want);
    json_decref(original);
}
END_TEST

START_TEST(pretty_output_is_indented_and_equal)
{
    char a[1024], b[1024];
    const char *args[] = {"apply", "--pretty", sample(a, sizeof(a), "widget.json"),
                          sample(b, sizeof(b), "widget-patch.json"), NULL};
    run(&r, NULL, args);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_gt(count_lines(r.out), 5);
    ck_assert_ptr_nonnull(strstr(r.out, "\n  \"spec\""));
    assert_json_output(&r,
                       "{\"spec\":{\"replicas\":1,\"ports\":[{\"name\":\"http\",\"port\":8080}]}}");
}
END_TEST

START_TEST(user_schema_and_kind_enable_strategic_merge)
{
    char a[1024], b[1024], s[1024];
    const char *args[] = {"apply",
                          "--schema",
                          sample(s, sizeof(s), "widget-schema.json"),
                          "--kind",
                          "example.com/v1/Widget",
                          sample(a, sizeof(a), "widget.json"),
                          sample(b, sizeof(b), "widget-patch.json"),
                          NULL};
    run(&r, NULL, args);
    assert_json_output(&r, "{\"spec\":{\"replicas\":1,\"ports\":[{\"name\":\"http\",\"port\":8080},"
                           "{\"name\":\"metrics\",\"port\":9090}]}}");
    const char *unknown[] = {"apply", "--kind", "example.com/v1/Nothing", a, b, NULL};
    run(&r, NULL, unknown);
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_lines(r.err), 1);
    const char *strategic[] = {"apply", "--type", "strategic", a, b, NULL};
    run(&r, NULL, strategic);
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_lines(r.err), 1);
}
END_TEST

START_TEST(diff_and_three_way_merge_create_patches)
{
    char last[1024], mod[1024], cur[1024];
    sample(last, sizeof(last), "deploy-last.yaml");
    sample(mod, sizeof(mod), "deploy-modified.yaml");
    sample(cur, sizeof(cur), "deploy-current.yaml");
    const char *diff[] = {"diff", "--type", "merge", last, mod, NULL};
    run(&r, NULL, diff);
    assert_json_output(&r, "{\"metadata\":{\"labels\":{\"team\":null}},\"spec\":{\"replicas\":3,"
                           "\"template\":{\"spec\":{\"containers\":[{\"name\":\"api\",\"image\":"
                           "\"api:1.1\",\"env\":[{\"name\":\"MODE\",\"value\":\"prod\"}]}]}}}}");
    /* Others' label "owner" and annotation survive: no null for them. */
    const char *three[] = {"three-way", "--type", "merge", last, mod, cur, NULL};
    run(&r, NULL, three);
    assert_json_output(&r, "{\"metadata\":{\"labels\":{\"team\":null}},\"spec\":{\"replicas\":3,"
                           "\"template\":{\"spec\":{\"containers\":[{\"name\":\"api\",\"image\":"
                           "\"api:1.1\",\"env\":[{\"name\":\"MODE\",\"value\":\"prod\"}]}]}}}}");
    /* An empty last-applied (stdin) deletes nothing. */
    const char *no_last[] = {"three-way", "--type", "merge", "-", mod, cur, NULL};
    run(&r, "", no_last);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_null(strstr(r.out, "null"));
    /* Strategic (Deployment is built in): a strategic patch with directives. */
    const char *strategic[] = {"three-way", last, mod, cur, NULL};
    run(&r, NULL, strategic);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "$setElementOrder/env"));
}
END_TEST

START_TEST(failures_exit_1_with_one_line)
{
    char pod[1024];
    sample(pod, sizeof(pod), "pod.yaml");
    const char *failing[] = {"apply", "--type", "json", pod, "-", NULL};
    run(&r, "[{\"op\":\"remove\",\"path\":\"/spec/nothing\"}]", failing);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "");
    ck_assert_uint_eq(count_lines(r.err), 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/spec/nothing"));
    run(&r, "{not json: [", failing);
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_lines(r.err), 1);
    ck_assert_ptr_nonnull(strstr(r.err, "PATCH"));
    /* kubectl takes only an object as a merge patch (RFC 7386 would let
     * any value replace the document). */
    static const char *const not_objects[] = {"null", "\"str\"", "[1]", "3"};
    const char *merge[] = {"apply", "--type", "merge", pod, "-", NULL};
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++) {
        run(&r, not_objects[i], merge);
        ck_assert_msg(r.status == 1, "%s: exit %d", not_objects[i], r.status);
        ck_assert_str_eq(r.out, "");
        ck_assert_uint_eq(count_lines(r.err), 1);
        ck_assert_ptr_nonnull(strstr(r.err, "the merge patch is not a JSON object"));
    }
    const char *missing[] = {"apply", "/nonexistent/file.json", pod, NULL};
    run(&r, NULL, missing);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "error: the path \"/nonexistent/file.json\" does not exist\n");
    const char *bad_schema[] = {"apply", "--schema", pod, pod, pod, NULL};
    run(&r, NULL, bad_schema);
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_lines(r.err), 1);
}
END_TEST

/* An input of 64 MiB is read (the YAML loader's limit), one byte more is
 * refused. The files are sparse (zero bytes, which then fail to parse as
 * what they are not: read, not refused for their size). */
START_TEST(inputs_up_to_64_mib_are_read)
{
    char path[256], patch[1024];
    sample(patch, sizeof(patch), "pod.yaml");
    int fd = kr_test_tmpfile_make(path, sizeof(path), "kr-patch-big");
    ck_assert_int_ge(fd, 0);
    const off_t max = 64L * 1024 * 1024;
    const char *args[] = {"apply", "--type", "merge", path, patch, NULL};
    ck_assert_int_eq(ftruncate(fd, max), 0);
    run(&r, NULL, args);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(!strstr(r.err, "larger than"), "%s", r.err);
    ck_assert_int_eq(ftruncate(fd, max + 1), 0);
    run(&r, NULL, args);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "larger than 67108864 bytes"), "%s", r.err);
    close(fd);
    unlink(path);
}
END_TEST

/* `kr-patch apply [--type TYPE] ORIGINAL PATCH` fails with exit 1 and
 * `err` on stderr; with kubectl there, `kubectl patch --local -f ORIGINAL
 * --patch-file PATCH [--type TYPE] -o json` says the same. */
static void expect_failure_as_kubectl(const char *type, const char *original, const char *patch,
                                      const char *err)
{
    const char *with_type[] = {"apply", "--type", type, original, patch, NULL};
    const char *without[] = {"apply", original, patch, NULL};
    run(&r, NULL, type ? with_type : without);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err, err);
    if (!kr_test_have_program("kubectl"))
        return;
    const char *kargv[] = {"/usr/bin/env", "kubectl",      "patch", "--local", "-o", "json", "-f",
                           original,       "--patch-file", patch,   "--type",  type, NULL};
    if (!type)
        kargv[10] = NULL;
    static char out[65536], kerr[8192];
    kr_test_proc_io io = {.err = kerr, .err_size = sizeof(kerr)};
    ck_assert_int_eq(kr_test_proc_run_io(kargv, &io, out, sizeof(out), 60000), 1);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(kerr, err);
}

/* Missing files and a patch in braces that is not JSON, in kubectl
 * patch's words. */
START_TEST(failures_are_worded_as_kubectl_patch_words_them)
{
    if (!kr_test_have_program("kubectl"))
        kr_test_skip("test_kr_patch", "failures compared with kubectl: kubectl not found");
    char dir[256], cm[300], bad[300], missing[300], msg[1024];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-patch-errors"));
    snprintf(cm, sizeof(cm), "%s/cm.json", dir);
    snprintf(bad, sizeof(bad), "%s/bad.json", dir);
    snprintf(missing, sizeof(missing), "%s/missing.json", dir);
    kr_test_write_file(dir, "cm.json",
                       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
                       "\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"v\"}}\n");
    kr_test_write_file(dir, "bad.json", "  {\"data\": bad\n");
    snprintf(msg, sizeof(msg), "error: the path \"%s\" does not exist\n", missing);
    expect_failure_as_kubectl(NULL, missing, cm, msg);
    snprintf(msg, sizeof(msg),
             "error: unable to read patch file: open %s: no such file or directory\n", missing);
    expect_failure_as_kubectl("merge", cm, missing, msg);
    /* A patch in braces is JSON to kubectl, its error worded by type. */
    expect_failure_as_kubectl("merge", cm, bad, "error: Invalid JSON Patch\n");
    expect_failure_as_kubectl("strategic", cm, bad, "error: invalid JSON document\n");
    expect_failure_as_kubectl(NULL, cm, bad, "error: invalid JSON document\n");
    unlink(cm);
    unlink(bad);
    kr_test_tmpdir_remove(dir);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    static const char *const cases[][8] = {
        {NULL},
        {"frobnicate", "a", "b", NULL},
        {"apply", "a", NULL},
        {"apply", "a", "b", "c", NULL},
        {"three-way", "a", "b", NULL},
        {"apply", "--type", "yaml", "a", "b", NULL},
        {"diff", "--type", "json", "a", "b", NULL},
        {"apply", "-", "-", NULL},
        {"apply", "--bogus", "a", "b", NULL},
        {"apply", "a", "b", "--type", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(&r, NULL, (const char *const *)cases[i]);
        ck_assert_msg(r.status == 2, "case %zu: exit %d (%s)", i, r.status, r.err);
        ck_assert_msg(count_lines(r.err) == 1, "case %zu: stderr is %s", i, r.err);
        ck_assert_str_eq(r.out, "");
    }
}
END_TEST

/* An unknown --type in kubectl patch's words (exit 2, a usage error). */
START_TEST(an_unknown_type_is_worded_as_kubectl_patch_words_it)
{
    char pod[1024];
    sample(pod, sizeof(pod), "pod.yaml");
    static const char want[] = "error: --type must be one of [json merge strategic], not "
                               "\"yaml\"\n";
    const char *args[] = {"apply", "--type", "yaml", pod, pod, NULL};
    run(&r, NULL, args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "");
    ck_assert_str_eq(r.err, want);
    if (!kr_test_have_program("kubectl")) {
        kr_test_skip("test_kr_patch", "--type compared with kubectl: kubectl not found");
        return;
    }
    const char *kargv[] = {"/usr/bin/env", "kubectl", "patch",  "--local", "-o", "json", "-f", pod,
                           "--patch-file", pod,       "--type", "yaml",    NULL};
    static char out[65536], kerr[8192];
    kr_test_proc_io io = {.err = kerr, .err_size = sizeof(kerr)};
    ck_assert_int_eq(kr_test_proc_run_io(kargv, &io, out, sizeof(out), 60000), 1);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(kerr, want);
}
END_TEST

START_TEST(help_explains_with_an_example)
{
    const char *args[] = {"--help", NULL};
    run(&r, NULL, args);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Example"));
    ck_assert_ptr_nonnull(strstr(r.out, "three-way"));
    ck_assert_ptr_nonnull(strstr(r.out, "--schema"));
    const char *args2[] = {"apply", "--help", NULL};
    run(&r, NULL, args2);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "Exit status"));
}
END_TEST

int main(void)
{
    const TTest *tests[] = {apply_strategic_merges_containers_by_name,
                            apply_merge_reads_a_yaml_patch_from_stdin,
                            apply_json_patch_and_document_from_stdin,
                            json_patch_is_lenient_as_kubectl_unless_strict,
                            a_null_patch_changes_nothing_as_kubectl,
                            pretty_output_is_indented_and_equal,
                            user_schema_and_kind_enable_strategic_merge,
                            diff_and_three_way_merge_create_patches,
                            failures_exit_1_with_one_line,
                            inputs_up_to_64_mib_are_read,
                            failures_are_worded_as_kubectl_patch_words_them,
                            usage_errors_exit_2,
                            an_unknown_type_is_worded_as_kubectl_patch_words_it,
                            help_explains_with_an_example,
                            NULL};
    return kr_test_run_tests("kr_patch", "program", NULL, NULL, 0, tests);
}
