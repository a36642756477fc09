/* Differential tests of JSON merge patch and JSON patch against kubectl
 * (`kubectl patch --local -f FILE --type merge|json --patch-file P -o json`):
 * 500 generated Pods and Deployments, in batches that share one patch, must
 * come out identical; merge patches this library creates must turn the
 * original into the modified document under kubectl too; and the three-way
 * merge patch `kubectl apply` sends for a custom resource to kr-apiserver
 * (seen with -v=8) equals the library's. Skipped, with a message, when
 * kubectl is not installed. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"

#define DOCUMENTS 500
#define BATCH 25

static kr_test_rng rng;
static char dir[256];

static unsigned long pick(unsigned long n)
{
    return kr_test_rng_below(&rng, n);
}

static json_t *random_labels(int count)
{
    static const char *const keys[] = {"app", "tier",   "team", "example.com/owner",
                                       "env", "version"};
    json_t *labels = json_object();
    json_object_set_new(labels, "app", json_sprintf("app-%lu", pick(4)));
    for (int i = 0; i < count; i++)
        json_object_set_new(labels, keys[pick(6)], json_sprintf("v%lu", pick(5)));
    return labels;
}

static json_t *random_containers(void)
{
    json_t *list = json_array();
    unsigned long n = 1 + pick(3);
    for (unsigned long i = 0; i < n; i++) {
        json_t *env = json_array();
        for (unsigned long e = pick(3); e > 0; e--)
            json_array_append_new(env,
                                  json_pack("{s:o,s:o}", "name", json_sprintf("VAR_%lu", pick(6)),
                                            "value", json_sprintf("%lu", pick(100))));
        json_t *c = json_pack("{s:o,s:o,s:o,s:[{s:i}]}", "name", json_sprintf("c%lu", i), "image",
                              json_sprintf("registry/app:%lu.%lu", pick(3), pick(9)), "env", env,
                              "ports", "containerPort", (int)(8000 + pick(100)));
        if (pick(2))
            json_object_set_new(c, "resources",
                                json_pack("{s:{s:s,s:f}}", "limits", "memory", "64Mi", "cpu",
                                          0.25 + (double)pick(3)));
        json_array_append_new(list, c);
    }
    return list;
}

static json_t *random_document(int i, int deployment)
{
    json_t *meta = json_pack("{s:o,s:s,s:o}", "name", json_sprintf("obj-%d", i), "namespace",
                             "default", "labels", random_labels((int)pick(3)));
    if (pick(2))
        json_object_set_new(meta, "annotations",
                            json_pack("{s:o}", "note", json_sprintf("n%lu", pick(9))));
    json_t *pod_spec = json_pack("{s:o,s:s}", "containers", random_containers(), "restartPolicy",
                                 pick(2) ? "Always" : "OnFailure");
    if (!deployment)
        return json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Pod", "metadata", meta,
                         "spec", pod_spec);
    json_t *template_meta = json_pack("{s:O}", "labels", json_object_get(meta, "labels"));
    return json_pack("{s:s,s:s,s:o,s:{s:i,s:{s:{s:O}},s:{s:o,s:o}}}", "apiVersion", "apps/v1",
                     "kind", "Deployment", "metadata", meta, "spec", "replicas", (int)(1 + pick(5)),
                     "selector", "matchLabels", "app",
                     json_object_get(json_object_get(meta, "labels"), "app"), "template",
                     "metadata", template_meta, "spec", pod_spec);
}

/* A random merge patch: label and annotation changes and removals, a
 * replaced container list, replicas, and nulls under absent paths. */
static json_t *random_merge_patch(void)
{
    json_t *patch = json_object();
    json_t *meta = json_object();
    json_t *labels = json_object();
    json_object_set_new(labels, "tier", pick(2) ? json_null() : json_string("web"));
    if (pick(2))
        json_object_set_new(labels, "app", json_null());
    json_object_set_new(labels, "release", json_sprintf("r%lu", pick(5)));
    json_object_set_new(meta, "labels", labels);
    if (pick(2))
        json_object_set_new(meta, "annotations",
                            pick(2) ? json_null() : json_pack("{s:n,s:s}", "note", "added", "x"));
    json_object_set_new(patch, "metadata", meta);
    json_t *spec = json_object();
    if (pick(2))
        json_object_set_new(spec, "containers", random_containers());
    if (pick(2))
        json_object_set_new(spec, "replicas", json_integer((json_int_t)pick(7)));
    if (pick(3) == 0)
        json_object_set_new(
            spec, "template",
            json_pack("{s:{s:{s:n,s:s}}}", "metadata", "annotations", "gone", "kept", "yes"));
    if (pick(4) == 0)
        json_object_set_new(spec, "restartPolicy", json_null());
    json_object_set_new(patch, "spec", spec);
    return patch;
}

/* A JSON patch valid for every generated document (all have
 * /metadata/labels/app, /metadata/name and /spec/containers/0), or, when
 * `must_fail`, one that fails on all of them. */
static json_t *random_json_patch(int deployment, int must_fail)
{
    const char *containers = deployment ? "/spec/template/spec/containers" : "/spec/containers";
    char image_path[96], add_path[96];
    snprintf(image_path, sizeof(image_path), "%s/0/image", containers);
    snprintf(add_path, sizeof(add_path), "%s/%s", containers, pick(2) ? "-" : "0");
    json_t *ops = json_array();
    json_array_append_new(ops, json_pack("{s:s,s:s,s:o}", "op", "add", "path",
                                         "/metadata/labels/example.com~1patched", "value",
                                         json_sprintf("p%lu", pick(9))));
    json_array_append_new(ops,
                          json_pack("{s:s,s:s,s:s}", "op", "copy", "from", "/metadata/labels/app",
                                    "path", "/metadata/labels/copied"));
    if (pick(2))
        json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "move", "from",
                                             "/metadata/labels/copied", "path",
                                             "/metadata/labels/moved"));
    json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "replace", "path", image_path,
                                         "value", "registry/new:1"));
    json_array_append_new(ops, json_pack("{s:s,s:s,s:{s:s,s:s}}", "op", "add", "path", add_path,
                                         "value", "name", "injected", "image", "sidecar:1"));
    json_array_append_new(
        ops, json_pack("{s:s,s:s,s:n}", "op", "test", "path", "/metadata/labels/absent", "value"));
    if (pick(2))
        json_array_append_new(
            ops, json_pack("{s:s,s:s}", "op", "remove", "path", "/metadata/labels/app"));
    if (must_fail) {
        static const char *const failing[] = {
            "{\"op\":\"remove\",\"path\":\"/metadata/nothing\"}",
            "{\"op\":\"test\",\"path\":\"/metadata/name\",\"value\":\"other\"}",
            "{\"op\":\"add\",\"path\":\"/spec/containers/9\",\"value\":{}}",
            "{\"op\":\"add\",\"path\":\"/no/such/parent\",\"value\":1}",
        };
        json_array_append_new(ops, json_loads(failing[pick(4)], 0, NULL));
    }
    return ops;
}

static void write_json(const char *path, const json_t *value, int one_per_line)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    if (one_per_line && json_is_array(value)) {
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v)
        {
            ck_assert_int_eq(json_dumpf(v, f, JSON_COMPACT), 0);
            fputc('\n', f);
        }
    } else {
        ck_assert_int_eq(json_dumpf(value, f, JSON_COMPACT | JSON_ENCODE_ANY), 0);
    }
    fclose(f);
}

/* Runs kubectl on the documents file with the patch file; the printed
 * objects in a new array, or NULL when kubectl failed. */
static json_t *kubectl_patch(const char *type, const char *docs, const char *patch)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "kubectl patch --local -f %s --type %s --patch-file %s -o json 2>/dev/null", docs,
             type, patch);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    json_t *results = json_array();
    json_error_t jerr;
    json_t *v;
    while ((v = json_loadf(p, JSON_DISABLE_EOF_CHECK, &jerr)) != NULL)
        json_array_append_new(results, v);
    int status = pclose(p);
    if (status != 0) {
        json_decref(results);
        return NULL;
    }
    return results;
}

/* kubectl_patch on `docs` (an array, one per line) and `patch`, written
 * to files in the test's directory. */
static json_t *kubectl_patch_docs(const char *type, const json_t *docs, const json_t *patch)
{
    char docs_path[300], patch_path[300];
    snprintf(docs_path, sizeof(docs_path), "%s/docs.json", dir);
    snprintf(patch_path, sizeof(patch_path), "%s/patch.json", dir);
    write_json(docs_path, docs, 1);
    write_json(patch_path, patch, 0);
    return kubectl_patch(type, docs_path, patch_path);
}

static bool have_kubectl(void)
{
    if (kr_test_have_program("kubectl"))
        return true;
    kr_test_skip("test_patch_merge_json_kubectl",
                 "kubectl is not installed; differential tests against kubectl did not run");
    return false;
}

static void setup(void)
{
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-patch-kubectl"));
}

static void stop_apiserver(void);

static void teardown(void)
{
    stop_apiserver();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static size_t compare_batch(const char *type, json_t *docs, const json_t *patch, int i0)
{
    char docs_path[300], patch_path[300];
    snprintf(docs_path, sizeof(docs_path), "%s/docs.json", dir);
    snprintf(patch_path, sizeof(patch_path), "%s/patch.json", dir);
    write_json(docs_path, docs, 1);
    write_json(patch_path, patch, 0);
    json_t *theirs = kubectl_patch(type, docs_path, patch_path);
    size_t ours_failed = 0;
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        json_t *ours = NULL;
        kr_error_t err = {0};
        int rc = strcmp(type, "merge") == 0 ? kr_patch_merge_apply(doc, patch, &ours, &err)
                                            : kr_patch_json_apply(doc, patch, &ours, &err);
        ours_failed += rc != 0;
        if (strcmp(type, "json") == 0) {
            /* RFC-valid patches: the apiserver's leniencies change nothing */
            json_t *lax = NULL;
            int lax_rc = kr_patch_json_apply_as_apiserver(doc, patch, &lax, NULL);
            ck_assert_int_eq(lax_rc == 0, rc == 0);
            ck_assert(rc != 0 || json_equal(lax, ours));
            json_decref(lax);
        }
        if (!theirs) {
            if (rc == 0) {
                /* Find the document kubectl refused, for the message. */
                json_t *one = json_pack("[O]", doc);
                write_json(docs_path, one, 1);
                json_decref(one);
                json_t *alone = kubectl_patch(type, docs_path, patch_path);
                char *d = json_dumps(doc, JSON_SORT_KEYS), *p = json_dumps(patch, 0);
                ck_assert_msg(alone != NULL,
                              "%s document %zu: kubectl failed, we did not:\n"
                              "doc %s\npatch %s",
                              type, i0 + i, d, p);
                free(d);
                free(p);
                json_decref(alone);
            }
            continue;
        }
        ck_assert_msg(rc == 0, "document %zu: kubectl succeeded, we failed: %s", i0 + i,
                      err.message);
        if (!json_equal(ours, json_array_get(theirs, i))) {
            char *a = json_dumps(ours, JSON_SORT_KEYS),
                 *b = json_dumps(json_array_get(theirs, i), JSON_SORT_KEYS);
            char *p = json_dumps(patch, 0), *d = json_dumps(doc, JSON_SORT_KEYS);
            ck_abort_msg("%s document %zu differs:\ndoc %s\npatch %s\nours %s\nkubectl %s", type,
                         i0 + i, d, p, a, b);
        }
        json_decref(ours);
    }
    if (theirs)
        ck_assert_uint_eq(json_array_size(theirs), json_array_size(docs));
    else
        ck_assert_msg(ours_failed > 0,
                      "%s batch %d: kubectl failed on the batch, we on no document", type, i0);
    json_decref(theirs);
    return ours_failed;
}

START_TEST(merge_patch_results_match_kubectl)
{
    if (!have_kubectl())
        return;
    kr_test_rng_init(&rng, kr_test_seed("merge_vs_kubectl"));
    for (int i0 = 0; i0 < DOCUMENTS; i0 += BATCH) {
        json_t *docs = json_array();
        for (int i = 0; i < BATCH; i++)
            json_array_append_new(docs, random_document(i0 + i, i % 2));
        json_t *patch = random_merge_patch();
        ck_assert_uint_eq(compare_batch("merge", docs, patch, i0), 0);
        json_decref(patch);
        json_decref(docs);
    }
}
END_TEST

START_TEST(json_patch_results_and_failures_match_kubectl)
{
    if (!have_kubectl())
        return;
    kr_test_rng_init(&rng, kr_test_seed("json_patch_vs_kubectl"));
    for (int i0 = 0; i0 < DOCUMENTS; i0 += BATCH) {
        json_t *docs = json_array();
        for (int i = 0; i < BATCH; i++)
            json_array_append_new(docs, random_document(i0 + i, (i0 / BATCH) % 2));
        /* one batch in five fails, on a schedule: drawing it at random left
         * about one run in a hundred without a failing batch */
        int must_fail = (i0 / BATCH) % 5 == 2;
        json_t *ops = random_json_patch((i0 / BATCH) % 2, must_fail);
        size_t failed = compare_batch("json", docs, ops, i0);
        /* The patches are built to apply to every document, or to none. */
        ck_assert_msg(failed == (must_fail ? (size_t)BATCH : 0), "batch %d: %zu of %d failed", i0,
                      failed, BATCH);
        json_decref(ops);
        json_decref(docs);
    }
}
END_TEST

/* Whether operation list `ops` names the document's root as a path or a
 * source (kubectl's object then stops being an object of a kind). */
static bool touches_the_root(const json_t *ops)
{
    size_t i;
    const json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *from = json_string_value(json_object_get(op, "from"));
        if ((path && !*path) || (from && !*from))
            return true;
    }
    return false;
}

/* The apiserver's leniencies (evanphx/json-patch v4): every case of the
 * table test_patch_json checks, inside a ConfigMap that kubectl keeps as
 * it is, must succeed or fail under kubectl as under
 * kr_patch_json_apply_as_apiserver, with the same result. */
START_TEST(apiserver_json_patch_leniencies_match_kubectl)
{
    if (!have_kubectl())
        return;
    json_t *file = kr_test_load_json("test/data/patch/json_patch_apiserver_cases.json");
    size_t i, compared = 0;
    const json_t *c;
    json_array_foreach(json_object_get(file, "cases"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *ops = json_object_get(c, "patch");
        if (touches_the_root(ops))
            continue;
        json_t *doc = json_deep_copy(json_object_get(c, "doc"));
        json_t *skeleton = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                                     "metadata", "name", "case");
        json_object_update(doc, skeleton);
        json_decref(skeleton);
        json_t *docs = json_pack("[O]", doc);
        json_t *theirs = kubectl_patch_docs("json", docs, ops);
        json_t *ours = NULL;
        kr_error_t err = {0};
        int rc = kr_patch_json_apply_as_apiserver(doc, ops, &ours, &err);
        ck_assert_msg((rc == 0) == (theirs != NULL), "%s: kubectl %s, we %s (%s)", name,
                      theirs ? "succeeded" : "failed", rc == 0 ? "succeeded" : "failed",
                      rc == 0 ? "" : err.message);
        if (theirs) {
            char *a = json_dumps(ours, JSON_SORT_KEYS),
                 *b = json_dumps(json_array_get(theirs, 0), JSON_SORT_KEYS);
            ck_assert_msg(json_equal(ours, json_array_get(theirs, 0)), "%s:\nours %s\nkubectl %s",
                          name, a, b);
            free(a);
            free(b);
        }
        compared++;
        json_decref(theirs);
        json_decref(ours);
        json_decref(docs);
        json_decref(doc);
    }
    ck_assert_uint_ge(compared, 30);
    json_decref(file);
}
END_TEST

START_TEST(created_merge_patches_do_the_same_under_kubectl)
{
    if (!have_kubectl())
        return;
    kr_test_rng_init(&rng, kr_test_seed("merge_create_vs_kubectl"));
    for (int n = 0; n < 20; n++) {
        json_t *original = random_document(n, n % 2);
        json_t *patch_source = random_merge_patch();
        json_t *modified = NULL, *patch = NULL;
        ck_assert_int_eq(kr_patch_merge_apply(original, patch_source, &modified, NULL), 0);
        ck_assert_int_eq(kr_patch_merge_create(original, modified, &patch, NULL), 0);
        json_t *docs = json_pack("[O]", original);
        json_t *theirs = kubectl_patch_docs("merge", docs, patch);
        ck_assert_ptr_nonnull(theirs);
        ck_assert_msg(json_equal(json_array_get(theirs, 0), modified),
                      "case %d: kubectl did not reach the modified document", n);
        json_decref(theirs);
        json_decref(docs);
        json_decref(original);
        json_decref(patch_source);
        json_decref(modified);
        json_decref(patch);
    }
}
END_TEST

/* ---- kubectl apply's three-way patch, observed against kr-apiserver ---- */

static kr_test_proc apiserver;

static void start_apiserver(char *kubeconfig, size_t size)
{
    snprintf(kubeconfig, size, "%s/kubeconfig", dir);
    char log[1024], url[256];
    snprintf(log, sizeof(log), "%s/kr-apiserver.log", dir);
    const char *flags[] = {"--kubeconfig-out", kubeconfig, NULL};
    /* The URL comes out once the server is listening. */
    kr_test_proc_start_apiserver(&apiserver, log, flags, url, sizeof(url), 30000);
}

static void stop_apiserver(void)
{
    kr_test_proc_kill(&apiserver, SIGTERM);
    kr_test_proc_free(&apiserver);
}

static int kubectl(const char *args, const char *log)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "kubectl --cache-dir %s/cache %s >%s/%s 2>&1", dir, args, dir, log);
    return system(cmd);
}

static json_t *load_in_dir(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    json_error_t jerr;
    json_t *v = json_load_file(path, 0, &jerr);
    ck_assert_msg(v != NULL, "%s: %s", path, jerr.text);
    return v;
}

static void save_in_dir(const char *name, const json_t *v)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_int_eq(json_dump_file(v, path, JSON_COMPACT), 0);
}

/* The body of the PATCH request in a kubectl -v=8 log: the klog line
 * `"Request Body" body="..."` before the PATCH line, Go-quoted. */
static json_t *patch_body_from_log(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char line[1 << 16], body[1 << 16];
    json_t *found = NULL;
    body[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        const char *b = strstr(line, "\"Request Body\" body=\"");
        if (b) {
            b += strlen("\"Request Body\" body=\"");
            size_t n = 0;
            for (; *b && *b != '"' && n + 1 < sizeof(body); b++) {
                if (*b == '\\' && b[1]) {
                    b++;
                    body[n++] = *b == 'n' ? '\n' : *b;
                } else {
                    body[n++] = *b;
                }
            }
            body[n] = '\0';
        } else if (strstr(line, " PATCH http") && body[0]) {
            found = json_loads(body, 0, NULL);
            break;
        }
    }
    fclose(f);
    return found;
}

START_TEST(three_way_merge_patch_matches_kubectl_apply)
{
    if (!have_kubectl())
        return;
    char kubeconfig[512];
    start_apiserver(kubeconfig, sizeof(kubeconfig));
    setenv("KUBECONFIG", kubeconfig, 1);
    json_t *crd = json_loads(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"names\":{\"kind\":\"Widget\",\"plural\":\"widgets\",\"singular\":\"widget\","
        "\"listKind\":\"WidgetList\"},\"scope\":\"Namespaced\",\"versions\":[{\"name\":\"v1\","
        "\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
        "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}",
        0, NULL);
    json_t *first = json_loads(
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\","
        "\"namespace\":\"default\",\"labels\":{\"a\":\"1\",\"b\":\"2\"}},\"spec\":{\"size\":1,"
        "\"color\":\"red\",\"nested\":{\"x\":1,\"w\":2},\"list\":[1,2],\"gone\":{\"k\":1}}}",
        0, NULL);
    json_t *second = json_loads(
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\","
        "\"namespace\":\"default\",\"labels\":{\"a\":\"1\",\"c\":\"3\"}},\"spec\":{\"size\":2,"
        "\"nested\":{\"x\":1,\"z\":3},\"list\":[3],\"empty\":{}}}",
        0, NULL);
    save_in_dir("crd.json", crd);
    save_in_dir("first.json", first);
    save_in_dir("second.json", second);
    char args[1024];
    snprintf(args, sizeof(args), "apply -f %s/crd.json", dir);
    ck_assert_msg(kubectl(args, "crd.log") == 0, "kubectl apply of the CRD failed");
    snprintf(args, sizeof(args), "apply -f %s/first.json", dir);
    ck_assert_msg(kubectl(args, "first.log") == 0, "kubectl apply (create) failed");
    /* Someone else sets fields the user never applied (a raw PUT: kubectl
     * replace would record them in the last-applied annotation). */
    ck_assert_int_eq(kubectl("get widget w -o json", "live.json"), 0);
    json_t *live = load_in_dir("live.json");
    json_t *spec = json_object_get(live, "spec");
    json_object_set_new(spec, "others", json_string("set"));
    json_object_set_new(json_object_get(spec, "nested"), "o", json_integer(1));
    json_object_set_new(json_object_get(json_object_get(live, "metadata"), "labels"), "o",
                        json_string("x"));
    save_in_dir("live2.json", live);
    snprintf(args, sizeof(args),
             "replace --raw /apis/example.com/v1/namespaces/default/widgets/w -f %s/live2.json",
             dir);
    ck_assert_msg(kubectl(args, "replace.log") == 0, "raw PUT failed");
    ck_assert_int_eq(kubectl("get widget w -o json", "current.json"), 0);
    json_t *current = load_in_dir("current.json");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(current, "spec"), "others")),
                     "set");

    /* kubectl apply computes and sends the three-way patch (whether the
     * server then accepts it does not matter here). */
    snprintf(args, sizeof(args), "apply -v=8 -f %s/second.json", dir);
    ck_assert_int_ge(kubectl(args, "second.log"), 0);
    json_t *theirs = patch_body_from_log("second.log");
    ck_assert_msg(theirs != NULL, "no PATCH body in the kubectl log (see %s/second.log)", dir);

    const char *annotation = "kubectl.kubernetes.io/last-applied-configuration";
    const char *last_text = json_string_value(json_object_get(
        json_object_get(json_object_get(current, "metadata"), "annotations"), annotation));
    ck_assert_ptr_nonnull(last_text);
    json_t *last = json_loads(last_text, 0, NULL);
    ck_assert_ptr_nonnull(last);
    /* kubectl's modified object carries the new annotation: take its text
     * from the patch, the one value the library does not compute. */
    const json_t *new_annotation = json_object_get(
        json_object_get(json_object_get(theirs, "metadata"), "annotations"), annotation);
    ck_assert_ptr_nonnull(new_annotation);
    json_t *modified = json_deep_copy(second);
    json_object_set_new(json_object_get(modified, "metadata"), "annotations",
                        json_pack("{s:O}", annotation, new_annotation));
    json_t *ours = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_patch_merge_three_way(last, modified, current, &ours, &err), 0);
    char *a = json_dumps(ours, JSON_SORT_KEYS), *b = json_dumps(theirs, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(ours, theirs), "three-way differs:\nours    %s\nkubectl %s", a, b);
    /* And the patch removes what the user dropped, not what others set. */
    ck_assert(json_is_null(json_object_get(json_object_get(ours, "spec"), "color")));
    ck_assert_ptr_null(json_object_get(json_object_get(ours, "spec"), "others"));
    free(a);
    free(b);
    json_decref(ours);
    json_decref(modified);
    json_decref(last);
    json_decref(theirs);
    json_decref(current);
    json_decref(live);
    json_decref(crd);
    json_decref(first);
    json_decref(second);
    stop_apiserver();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("patch_merge_json_kubectl");
    TCase *tc = tcase_create("kubectl");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, merge_patch_results_match_kubectl);
    tcase_add_test(tc, json_patch_results_and_failures_match_kubectl);
    tcase_add_test(tc, apiserver_json_patch_leniencies_match_kubectl);
    tcase_add_test(tc, created_merge_patches_do_the_same_under_kubectl);
    tcase_add_test(tc, three_way_merge_patch_matches_kubectl_apply);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
