/* Differential tests of the patch engines against the real implementation:
 * `kubectl patch --local -f FILE --type strategic|merge|json -p PATCH -o json`
 * on generated Pods and Deployments must give exactly the library's result
 * (or both must refuse the patch). kubectl runs in a few parallel shells to
 * keep the test fast. Skipped, loudly, when kubectl is not installed.
 * KR_KUBECTL_CASES sets the number of cases (default 500). */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kdocgen.h"
#include "kr_test.h"
#include "kreconcile.h"

#define WORKERS 4

typedef struct kcase {
    json_t *doc;
    json_t *patch;
    kr_patch_format format;
    const char *type; /* kubectl --type */
    int rc; /* the library's */
    json_t *result; /* the library's */
    char message[1024];
} kcase;

static size_t case_count(void)
{
    const char *s = getenv("KR_KUBECTL_CASES");
    long n = s ? strtol(s, NULL, 10) : 500;
    return n > 0 ? (size_t)n : 500;
}

static void write_file(const char *dir, const char *name, size_t i, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s_%zu", dir, name, i);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void write_json(const char *dir, const char *name, size_t i, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    write_file(dir, name, i, text);
    free(text);
}

/* Runs kubectl for every case, WORKERS shells at a time. */
static void run_kubectl(const char *dir, size_t n)
{
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        char script[1024];
        snprintf(script, sizeof(script),
                 "cd '%s' || exit 1; i=%d; while [ $i -lt %zu ]; do "
                 "kubectl patch --local -f doc_$i --type \"$(cat type_$i)\" -p \"$(cat patch_$i)\" "
                 "-o json >out_$i 2>err_$i; echo $? >rc_$i; i=$((i+%d)); done",
                 dir, w, n, WORKERS);
        pids[w] = fork();
        ck_assert_int_ge(pids[w], 0);
        if (pids[w] == 0) {
            execl("/bin/sh", "sh", "-c", script, (char *)NULL);
            _exit(127);
        }
    }
    for (int w = 0; w < WORKERS; w++) {
        int status;
        while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
            ;
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "kubectl worker failed");
    }
}

static int read_rc(const char *dir, size_t i)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/rc_%zu", dir, i);
    FILE *f = fopen(path, "r");
    int rc = -1;
    if (f) {
        if (fscanf(f, "%d", &rc) != 1)
            rc = -1;
        fclose(f);
    }
    return rc;
}

static void remove_case_files(const char *dir, size_t n)
{
    static const char *const names[] = {"doc", "patch", "type", "out", "err", "rc"};
    char path[512];
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
            snprintf(path, sizeof(path), "%s/%s_%zu", dir, names[k], i);
            unlink(path);
        }
    rmdir(dir);
}

static void report(const char *what, const kcase *c, const json_t *kubectl, const char *kerr)
{
    char *doc = json_dumps(c->doc, JSON_COMPACT | JSON_SORT_KEYS);
    char *patch = json_dumps(c->patch, JSON_COMPACT | JSON_SORT_KEYS);
    char *ours = c->result ? json_dumps(c->result, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *theirs = kubectl ? json_dumps(kubectl, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    printf("MISMATCH (%s, --type %s)\n  doc:     %s\n  patch:   %s\n  library: %s %s\n"
           "  kubectl: %s %s\n",
           what, c->type, doc, patch, ours ? ours : "error:", ours ? "" : c->message,
           theirs ? theirs : "error:", theirs ? "" : kerr);
    free(doc);
    free(patch);
    free(ours);
    free(theirs);
}

static int apply_case(kcase *c)
{
    kr_error_t err = {0};
    const kr_patch_meta_t *meta = kr_patch_schema_find_for(kr_patch_schema_builtin(), c->doc);
    int rc = kr_patch_apply(c->format, meta, c->doc, c->patch, &c->result, &err);
    snprintf(c->message, sizeof(c->message), "%s", err.message);
    return rc;
}

START_TEST(patches_agree_with_kubectl)
{
    if (!kr_test_have_program("kubectl")) {
        printf("SKIP patches_agree_with_kubectl: kubectl is not installed\n");
        return;
    }
    size_t n = case_count();
    unsigned long seed = kr_test_seed("patch_kubectl");
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    char dir[] = "/tmp/kr-kubectl-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    kcase *cases = calloc(n, sizeof(*cases));
    ck_assert_ptr_nonnull(cases);
    for (size_t i = 0; i < n; i++) {
        kcase *c = &cases[i];
        c->doc = kdocgen_document(&rng);
        /* Mostly strategic patches; merge and JSON patches go through the
         * same dispatch (kr_patch_apply). */
        unsigned long kind = kr_test_rng_below(&rng, 10);
        c->format = kind < 6 ? KR_PATCH_STRATEGIC : kind < 8 ? KR_PATCH_MERGE : KR_PATCH_JSON;
        c->type = kind < 6 ? "strategic" : kind < 8 ? "merge" : "json";
        c->patch = c->format == KR_PATCH_STRATEGIC ? kdocgen_strategic_patch(&rng, c->doc)
                   : c->format == KR_PATCH_MERGE   ? kdocgen_merge_patch(&rng, c->doc)
                                                   : kdocgen_json_patch(&rng, c->doc);
        /* A third of the strategic cases get adversarial edits, in the
         * patch and sometimes in the document. */
        if (c->format == KR_PATCH_STRATEGIC && kr_test_rng_below(&rng, 3) == 0) {
            size_t edits = 1 + kr_test_rng_below(&rng, 3);
            for (size_t e = 0; e < edits; e++)
                kdocgen_perturb(&rng, kr_test_rng_below(&rng, 4) ? c->patch : c->doc);
        }
        c->rc = apply_case(c);
        write_json(dir, "doc", i, c->doc);
        write_json(dir, "patch", i, c->patch);
        write_file(dir, "type", i, c->type);
    }
    run_kubectl(dir, n);
    size_t mismatches = 0, agreed_errors = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        kcase *c = &cases[i];
        char path[512];
        int krc = read_rc(dir, i);
        json_t *kubectl = NULL;
        char kerr[512] = "";
        if (krc == 0) {
            snprintf(path, sizeof(path), "%s/out_%zu", dir, i);
            json_error_t jerr;
            kubectl = json_load_file(path, 0, &jerr);
            ck_assert_msg(kubectl != NULL, "kubectl output %zu: %s", i, jerr.text);
        } else {
            snprintf(path, sizeof(path), "%s/err_%zu", dir, i);
            FILE *f = fopen(path, "r");
            if (f) {
                size_t len = fread(kerr, 1, sizeof(kerr) - 1, f);
                kerr[len] = '\0';
                fclose(f);
            }
        }
        /* Cases kubectl cannot judge: documents its decoder rejects,
         * unknown kinds (it has no local schema for them), and results the
         * patch stripped of kind/apiVersion (it cannot print them). */
        bool kindless = c->rc == 0 && (!json_is_string(json_object_get(c->result, "kind")) ||
                                       !json_is_string(json_object_get(c->result, "apiVersion")));
        if (krc != 0 &&
            (strstr(kerr, "unable to decode \"doc_") || strstr(kerr, "is not supported for") ||
             (kindless && strstr(kerr, "Object 'Kind' is missing")))) {
            skipped++;
        } else if (krc == 0 && c->rc == 0) {
            if (!json_equal(kubectl, c->result)) {
                report("different results", c, kubectl, kerr);
                mismatches++;
            }
        } else if (krc != 0 && c->rc < 0) {
            agreed_errors++;
        } else {
            report(c->rc < 0 ? "only the library refused" : "only kubectl refused", c, kubectl,
                   kerr);
            mismatches++;
        }
        json_decref(kubectl);
        json_decref(c->doc);
        json_decref(c->patch);
        json_decref(c->result);
    }
    printf("kubectl differential: %zu cases, %zu refused by both (kubectl panics included), "
           "%zu kubectl could not judge, %zu mismatches\n",
           n, agreed_errors, skipped, mismatches);
    remove_case_files(dir, n);
    free(cases);
    ck_assert_msg(mismatches == 0, "%zu of %zu cases differ from kubectl (seed %lu)", mismatches, n,
                  seed);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("patch_kubectl");
    TCase *tc = tcase_create("kubectl");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, patches_agree_with_kubectl);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
