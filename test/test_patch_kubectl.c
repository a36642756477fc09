/* Differential tests of the patch engines against the real implementation:
 * `kubectl patch --local -f FILE --type strategic|merge|json -p PATCH -o json`
 * on generated Pods and Deployments must give exactly the library's result
 * (or both must refuse the patch). kubectl runs in a few parallel shells to
 * keep the test fast. Skipped, loudly, when kubectl is not installed.
 * KR_KUBECTL_CASES sets the number of cases (default 500). The three-way
 * patch kubectl apply sends (read from its -v=8 log, against the kr-apiserver
 * program) must equal the library's three-way creation;
 * KR_KUBECTL_APPLY_CASES sets that number (default 40). */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kdocgen.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
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
    kr_test_proc workers[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        char script[1024];
        snprintf(script, sizeof(script),
                 "cd '%s' || exit 1; i=%d; while [ $i -lt %zu ]; do "
                 "kubectl patch --local -f doc_$i --type \"$(cat type_$i)\" -p \"$(cat patch_$i)\" "
                 "-o json >out_$i 2>err_$i; echo $? >rc_$i; i=$((i+%d)); done",
                 dir, w, n, WORKERS);
        char log[512];
        snprintf(log, sizeof(log), "%s/worker_%d.log", dir, w);
        const char *argv[] = {"/bin/sh", "-c", script, NULL};
        kr_test_proc_start(&workers[w], log, argv);
    }
    for (int w = 0; w < WORKERS; w++) {
        /* bounded by the test's own timeout */
        int status = kr_test_proc_wait(&workers[w], 24 * 3600 * 1000);
        kr_test_proc_free(&workers[w]);
        unlink(workers[w].log);
        ck_assert_msg(status == 0, "kubectl worker failed");
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

/* The library's result for case i, and the files kubectl reads for it. */
static void write_case(const char *dir, size_t i, kcase *c)
{
    c->rc = apply_case(c);
    write_json(dir, "doc", i, c->doc);
    write_json(dir, "patch", i, c->patch);
    write_file(dir, "type", i, c->type);
}

/* kubectl decodes the document into its Go type first, which drops a null
 * the document held for a field (a perturbed "namespace": null); the
 * library keeps it. Removes from `ours` the nulls that the document held at
 * the same place and that kubectl's result lacks. */
static void drop_decoded_nulls(json_t *ours, const json_t *doc, const json_t *theirs)
{
    if (json_is_object(ours)) {
        const char *key;
        json_t *v, *tmp;
        json_object_foreach_safe(ours, tmp, key, v)
        {
            const json_t *d = json_object_get(doc, key), *t = json_object_get(theirs, key);
            if (json_is_null(v) && json_is_null(d) && !t && json_is_object(theirs))
                json_object_del(ours, key);
            else
                drop_decoded_nulls(v, d, t);
        }
    } else if (json_is_array(ours) && json_is_array(doc) && json_is_array(theirs) &&
               json_array_size(ours) == json_array_size(doc)) {
        for (size_t i = 0; i < json_array_size(ours); i++)
            drop_decoded_nulls(json_array_get(ours, i), json_array_get(doc, i),
                               json_array_get(theirs, i));
    }
}

/* Runs kubectl on the cases written in `dir`, compares its results with the
 * library's and prints the tally under `label`; frees the cases and removes
 * their files. Returns the number of mismatches. */
static size_t judge_cases(const char *dir, kcase *cases, size_t n, const char *label,
                          size_t *skipped_out)
{
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
            drop_decoded_nulls(c->result, c->doc, kubectl);
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
    printf("%s: %zu cases, %zu refused by both (kubectl panics included), %zu kubectl could "
           "not judge, %zu mismatches\n",
           label, n, agreed_errors, skipped, mismatches);
    *skipped_out = skipped;
    remove_case_files(dir, n);
    free(cases);
    return mismatches;
}

START_TEST(patches_agree_with_kubectl)
{
    if (!kr_test_have_program("kubectl")) {
        kr_test_skip("patches_agree_with_kubectl", "kubectl is not installed");
        return;
    }
    size_t n = case_count();
    unsigned long seed = kr_test_seed("patch_kubectl");
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    char dir[256];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-kubectl"));
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
        write_case(dir, i, c);
    }
    size_t skipped;
    size_t mismatches = judge_cases(dir, cases, n, "kubectl differential", &skipped);
    ck_assert_msg(mismatches == 0, "%zu of %zu cases differ from kubectl (seed %lu)", mismatches, n,
                  seed);
}
END_TEST

/* Fields the metadata gives as a single struct while the document holds a
 * list there: PodDisruptionBudgetSpec.selector (a pointer, patchStrategy
 * replace) merges as a list, with its directives; DeploymentSpec.strategy
 * (held by value) is refused. */
START_TEST(struct_fields_holding_lists_agree_with_kubectl)
{
    if (!kr_test_have_program("kubectl")) {
        kr_test_skip("struct_fields_holding_lists_agree_with_kubectl", "kubectl is not installed");
        return;
    }
#define PDB(spec)                                                                                  \
    "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":"                 \
    "{\"name\":\"p\"},\"spec\":" spec "}"
#define DEP(spec)                                                                                  \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"                            \
    "{\"name\":\"d\"},\"spec\":" spec "}"
    static const char *const fixed[][2] = {
        {PDB("{\"selector\":[{\"matchLabels\":{\"a\":\"b\"}}]}"),
         "{\"spec\":{\"selector\":[{\"matchLabels\":{\"x\":\"y\"}}]}}"},
        {PDB("{\"selector\":[{\"matchLabels\":{\"a\":\"b\"}},{\"matchLabels\":{\"c\":\"d\"}}]}"),
         "{\"spec\":{\"selector\":[{\"$patch\":\"delete\",\"matchLabels\":{\"a\":\"b\"}}]}}"},
        {PDB("{\"selector\":[{\"matchLabels\":{\"a\":\"b\"}}]}"),
         "{\"spec\":{\"selector\":[{\"$patch\":\"replace\"},{\"matchLabels\":{\"q\":\"r\"}}]}}"},
        {PDB("{\"selector\":[{\"matchLabels\":{\"a\":\"b\"}}]}"),
         "{\"spec\":{\"$setElementOrder/selector\":[{\"matchLabels\":{\"a\":\"b\"}}],"
         "\"selector\":[{\"matchLabels\":{\"a\":\"b\"}}]}}"},
        {PDB("{\"selector\":[{\"matchLabels\":{\"a\":\"b\"}}]}"),
         "{\"spec\":{\"selector\":{\"matchLabels\":{\"x\":\"y\"}}}}"},
        {PDB("{\"selector\":[{\"matchLabels\":{\"a\":\"b\"}}]}"), "{\"spec\":{\"selector\":null}}"},
        {PDB("{\"selector\":[{\"matchLabels\":{\"a\":\"b\"}}]}"),
         "{\"spec\":{\"$patch\":\"replace\",\"selector\":[]}}"},
        {DEP("{\"strategy\":[{\"type\":\"Recreate\"}]}"),
         "{\"spec\":{\"strategy\":[{\"type\":\"RollingUpdate\"}]}}"},
        {DEP("{\"strategy\":[{\"type\":\"Recreate\"}]}"),
         "{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\"}}}"},
    };
#undef PDB
#undef DEP
    size_t n = sizeof(fixed) / sizeof(fixed[0]);
    char dir[256];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-kubectl"));
    kcase *cases = calloc(n, sizeof(*cases));
    ck_assert_ptr_nonnull(cases);
    for (size_t i = 0; i < n; i++) {
        kcase *c = &cases[i];
        c->doc = json_loads(fixed[i][0], 0, NULL);
        c->patch = json_loads(fixed[i][1], 0, NULL);
        ck_assert_msg(c->doc && c->patch, "bad case %zu", i);
        c->format = KR_PATCH_STRATEGIC;
        c->type = "strategic";
        write_case(dir, i, c);
    }
    size_t skipped;
    size_t mismatches = judge_cases(dir, cases, n, "kubectl shape cases", &skipped);
    ck_assert_msg(skipped == 0, "kubectl could not judge %zu shape cases", skipped);
    ck_assert_msg(mismatches == 0, "%zu of %zu shape cases differ from kubectl", mismatches, n);
}
END_TEST

/* ---- three-way creation against kubectl apply --------------------------------- */

static char server_dir[256];
static kr_test_proc server;

static size_t apply_case_count(void)
{
    const char *s = getenv("KR_KUBECTL_APPLY_CASES");
    long n = s ? strtol(s, NULL, 10) : 40;
    return n > 0 ? (size_t)n : 40;
}

/* Runs `cmd` in the server directory with its kubeconfig; returns the
 * combined output (new string) and the exit status. */
static char *sh(const char *cmd, int *status)
{
    char *full = NULL;
    ck_assert_int_ge(asprintf(&full,
                              "cd '%s' && KUBECONFIG='%s/kc.yaml' && export KUBECONFIG && "
                              "{ %s; } 2>&1",
                              server_dir, server_dir, cmd),
                     0);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 65536, len = 0, n;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 4096) {
            cap *= 2;
            out = realloc(out, cap);
            ck_assert_ptr_nonnull(out);
        }
    }
    out[len] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    free(full);
    return out;
}

static bool start_apiserver(void)
{
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-apiserver");
    if (access(bin, X_OK) != 0)
        return false;
    ck_assert(kr_test_tmpdir_make(server_dir, sizeof(server_dir), "kr-apply"));
    char kc[300], log[300], url[256];
    snprintf(kc, sizeof(kc), "%s/kc.yaml", server_dir);
    snprintf(log, sizeof(log), "%s/kr-apiserver.log", server_dir);
    const char *flags[] = {"--bind", "127.0.0.1", "--kubeconfig-out", kc, NULL};
    /* It never outlives the test, even one that fails. */
    kr_test_proc_start_apiserver(&server, log, flags, url, sizeof(url), 30000);
    return true;
}

static void stop_apiserver(void)
{
    kr_test_proc_kill(&server, SIGTERM);
    kr_test_proc_free(&server);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", server_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", server_dir);
}

/* The body of the PATCH request in kubectl -v=10 output (-v=8 truncates long bodies), or NULL when
 * kubectl sent none (an unchanged object). New reference. */
static json_t *patch_body(const char *log)
{
    const char *patch_line = strstr(log, "] PATCH ");
    if (!patch_line)
        return NULL;
    /* The body is logged on the line before the request line. */
    const char *best = NULL;
    for (const char *p = strstr(log, "\"Request Body\" body=\"{"); p && p < patch_line;
         p = strstr(p + 1, "\"Request Body\" body=\"{"))
        best = p;
    ck_assert_msg(best != NULL, "no request body before the PATCH in:\n%s", log);
    const char *start = best + strlen("\"Request Body\" body=");
    const char *end = strchr(start, '\n');
    ck_assert_ptr_nonnull(end);
    /* klog quotes the body as a Go string literal, JSON-compatible here. */
    char *quoted = strndup(start, (size_t)(end - start));
    json_error_t jerr;
    json_t *str = json_loads(quoted, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(json_is_string(str), "cannot unquote %s: %s", quoted, jerr.text);
    json_t *body = json_loads(json_string_value(str), 0, &jerr);
    ck_assert_msg(body != NULL, "body is not JSON (%s): %s", jerr.text, json_string_value(str));
    free(quoted);
    json_decref(str);
    return body;
}

static const char *const last_applied_key = "kubectl.kubernetes.io/last-applied-configuration";

static void kubectl_ok(const char *cmd)
{
    int st;
    char *out = sh(cmd, &st);
    ck_assert_msg(st == 0, "%s failed: %s", cmd, out);
    free(out);
}

/* A generated Pod as a PodTemplate holding its spec (a pod's spec may
 * hardly change after creation, as kube-apiserver's validation says; a
 * template's may, and its strategic merge keys are the pod's). Takes
 * `pod`; other kinds are returned as they are. */
static json_t *as_template(json_t *pod)
{
    if (strcmp(json_string_value(json_object_get(pod, "kind")), "Pod") != 0)
        return pod;
    json_t *t = json_pack("{s:s, s:s, s:O, s:{s:O}}", "apiVersion", "v1", "kind", "PodTemplate",
                          "metadata", json_object_get(pod, "metadata"), "template", "spec",
                          json_object_get(pod, "spec"));
    ck_assert_ptr_nonnull(t);
    json_decref(pod);
    return t;
}

/* An edit may set a value beside an env var's valueFrom, which the server
 * refuses ("may not be specified when `value` is not empty"): the
 * valueFrom stays, the value goes. */
static void env_one_source(json_t *container)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(container, "env"), i, e)
    {
        if (json_object_get(e, "valueFrom"))
            json_object_del(e, "value");
    }
}

/* The generator's pod specs mount volumes they may not declare, which
 * the server refuses (ValidateVolumeMounts): every mounted name gets an
 * emptyDir volume, and a mount path repeated in a container goes; an env
 * var keeps one source (env_one_source). */
static json_t *mountable(json_t *doc)
{
    json_t *spec = json_object_get(doc, "spec");
    if (strcmp(json_string_value(json_object_get(doc, "kind")), "Deployment") == 0)
        spec = json_object_get(json_object_get(spec, "template"), "spec");
    if (!json_is_object(spec))
        return doc;
    static const char *const lists[] = {"containers", "initContainers"};
    for (size_t l = 0; l < 2; l++) {
        size_t i, j, k;
        json_t *c, *m, *v;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            env_one_source(c);
            json_t *mounts = json_object_get(c, "volumeMounts"), *paths = json_object();
            for (j = 0; j < json_array_size(mounts);) {
                m = json_array_get(mounts, j);
                const char *path = json_string_value(json_object_get(m, "mountPath"));
                if (path && json_object_get(paths, path)) {
                    json_array_remove(mounts, j);
                    continue;
                }
                if (path)
                    json_object_set_new(paths, path, json_true());
                const char *name = json_string_value(json_object_get(m, "name"));
                bool have = false;
                json_array_foreach(json_object_get(spec, "volumes"), k, v)
                {
                    have =
                        have || json_equal(json_object_get(v, "name"), json_object_get(m, "name"));
                }
                if (name && !have) {
                    if (!json_is_array(json_object_get(spec, "volumes")))
                        json_object_set_new(spec, "volumes", json_array());
                    json_array_append_new(json_object_get(spec, "volumes"),
                                          json_pack("{s:s, s:{}}", "name", name, "emptyDir"));
                }
                j++;
            }
            json_decref(paths);
        }
    }
    return doc;
}

START_TEST(three_way_agrees_with_kubectl_apply)
{
    if (!kr_test_have_program("kubectl")) {
        kr_test_skip("three_way_agrees_with_kubectl_apply", "kubectl is not installed");
        return;
    }
    if (!start_apiserver()) {
        kr_test_skip("three_way_agrees_with_kubectl_apply", "kr-apiserver is not built");
        return;
    }
    size_t n = apply_case_count(), mismatches = 0, unchanged = 0;
    unsigned long seed = kr_test_seed("patch_kubectl_apply");
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        json_t *last = mountable(kdocgen_document(&rng));
        char name[32], cmd[1024];
        snprintf(name, sizeof(name), "obj-%zu", i);
        json_t *meta = json_object_get(last, "metadata");
        json_object_set_new(meta, "name", json_string(name));
        json_object_del(meta, "finalizers"); /* so that nothing lingers on the server */
        bool deploy = !strcmp(json_string_value(json_object_get(last, "kind")), "Deployment");
        const char *resource = deploy ? "deployment.apps" : "podtemplate";
        char path[512];
        snprintf(path, sizeof(path), "%s/last.json", server_dir);
        json_t *last_doc = as_template(json_incref(last));
        ck_assert_int_eq(json_dump_file(last_doc, path, JSON_COMPACT), 0);
        json_decref(last_doc);
        kubectl_ok("kubectl apply -f last.json");
        /* Someone else adds a label, a container and a node selector. */
        snprintf(cmd, sizeof(cmd),
                 "kubectl patch %s %s --type strategic -p '{\"metadata\":{\"labels\":{\"other\":"
                 "\"x\"}},%s{\"containers\":[{\"name\":\"injected\",\"image\":\"i\"}],"
                 "\"nodeSelector\":{\"pool\":\"a\"}}%s}'",
                 resource, name,
                 deploy ? "\"spec\":{\"template\":{\"spec\":" : "\"template\":{\"spec\":",
                 deploy ? "}}" : "}");
        kubectl_ok(cmd);
        snprintf(cmd, sizeof(cmd), "kubectl get %s %s -o json", resource, name);
        int st;
        char *got = sh(cmd, &st);
        ck_assert_msg(st == 0, "%s", got);
        json_t *current = json_loads(got, 0, NULL);
        ck_assert_ptr_nonnull(current);
        free(got);
        json_t *modified = as_template(mountable(kdocgen_modify(&rng, last)));
        snprintf(path, sizeof(path), "%s/modified.json", server_dir);
        ck_assert_int_eq(json_dump_file(modified, path, JSON_COMPACT), 0);
        char *log = sh("kubectl apply -f modified.json -v=10", &st);
        if (st != 0) /* Check refuses a message this long: the log goes to stdout */
            printf("kubectl apply of modified.json (case %zu) failed:\n%s\n", i, log);
        ck_assert_msg(st == 0, "kubectl apply of case %zu failed: %.600s", i,
                      strstr(log, "Error from server") ? strstr(log, "Error from server") : log);
        json_t *theirs = patch_body(log);
        free(log);

        /* The library, given what kubectl gives its own three-way: the
         * last-applied annotation, the new configuration carrying its new
         * annotation, and the live object. */
        json_t *annotations = json_object_get(json_object_get(current, "metadata"), "annotations");
        json_t *last_applied =
            json_loads(json_string_value(json_object_get(annotations, last_applied_key)), 0, NULL);
        ck_assert_ptr_nonnull(last_applied);
        json_t *new_annotation = json_object_get(
            json_object_get(json_object_get(theirs, "metadata"), "annotations"), last_applied_key);
        if (!new_annotation)
            new_annotation = json_object_get(annotations, last_applied_key);
        json_t *mmeta = json_object_get(modified, "metadata");
        if (!json_object_get(mmeta, "annotations"))
            json_object_set_new(mmeta, "annotations", json_object());
        json_object_set(json_object_get(mmeta, "annotations"), last_applied_key, new_annotation);
        json_t *ours = NULL;
        kr_error_t err = {0};
        int rc = kr_patch_strategic_three_way(
            kr_patch_schema_find_for(kr_patch_schema_builtin(), current), last_applied, modified,
            current, true, &ours, &err);
        ck_assert_msg(rc == 0, "three-way: %s", err.message);
        if (!theirs) {
            unchanged++;
            if (json_object_size(ours) != 0) {
                char *o = json_dumps(ours, JSON_COMPACT | JSON_SORT_KEYS);
                printf("MISMATCH (kubectl sent no patch) library: %s\n", o);
                free(o);
                mismatches++;
            }
        } else if (!json_equal(ours, theirs)) {
            char *o = json_dumps(ours, JSON_COMPACT | JSON_SORT_KEYS);
            char *t = json_dumps(theirs, JSON_COMPACT | JSON_SORT_KEYS);
            char *l = json_dumps(last_applied, JSON_COMPACT | JSON_SORT_KEYS);
            char *m = json_dumps(modified, JSON_COMPACT | JSON_SORT_KEYS);
            char *c = json_dumps(current, JSON_COMPACT | JSON_SORT_KEYS);
            printf("MISMATCH (three-way)\n  last:     %s\n  modified: %s\n  current:  %s\n"
                   "  library:  %s\n  kubectl:  %s\n",
                   l, m, c, o, t);
            free(o);
            free(t);
            free(l);
            free(m);
            free(c);
            mismatches++;
        }
        json_decref(ours);
        json_decref(theirs);
        json_decref(last_applied);
        json_decref(modified);
        json_decref(current);
        json_decref(last);
    }
    stop_apiserver();
    printf("kubectl apply differential: %zu cases (%zu unchanged), %zu mismatches\n", n, unchanged,
           mismatches);
    ck_assert_msg(mismatches == 0,
                  "%zu of %zu three-way patches differ from kubectl apply (seed %lu)", mismatches,
                  n, seed);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("patch_kubectl");
    TCase *tc = tcase_create("kubectl");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, patches_agree_with_kubectl);
    tcase_add_test(tc, struct_fields_holding_lists_agree_with_kubectl);
    tcase_add_test(tc, three_way_agrees_with_kubectl_apply);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
