/* Benchmark of the patch engines: apply and create on a ~5 KiB Pod, a
 * ~50 KiB Deployment and a ~1 MiB ConfigMap, generated deterministically.
 * Each figure is ops/s and its ratio to jansson parsing and serialising the
 * same document in the same run (target: apply <= 1.0 parse+serialise). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kreconcile.h"

/* ---- documents ------------------------------------------------------------ */

static json_t *container(int i, int env_count)
{
    json_t *env = json_array();
    for (int e = 0; e < env_count; e++) {
        char name[32], value[64];
        snprintf(name, sizeof(name), "VAR_%d_%d", i, e);
        snprintf(value, sizeof(value), "value-%d-%d-abcdefghijklmnop", i, e);
        json_array_append_new(env, json_pack("{s:s,s:s}", "name", name, "value", value));
    }
    char name[32], image[64];
    snprintf(name, sizeof(name), "container-%d", i);
    snprintf(image, sizeof(image), "registry.example.com/team/app-%d:1.0.%d", i, i);
    return json_pack("{s:s,s:s,s:o,s:[{s:s,s:i,s:s}],s:{s:{s:s,s:s},s:{s:s,s:s}},"
                     "s:[{s:s,s:s}],s:{s:{s:s,s:i},s:i}}",
                     "name", name, "image", image, "env", env, "ports", "name", "http",
                     "containerPort", 8080 + i, "protocol", "TCP", "resources", "limits", "cpu",
                     "500m", "memory", "256Mi", "requests", "cpu", "100m", "memory", "64Mi",
                     "volumeMounts", "name", "config", "mountPath", "/etc/config", "readinessProbe",
                     "httpGet", "path", "/healthz", "port", 8080 + i, "periodSeconds", 10);
}

static json_t *pod_spec(int containers, int env_count)
{
    json_t *list = json_array();
    for (int i = 0; i < containers; i++)
        json_array_append_new(list, container(i, env_count));
    return json_pack("{s:o,s:[{s:s,s:{s:s}}],s:[{s:s,s:s,s:s}],s:s}", "containers", list, "volumes",
                     "name", "config", "configMap", "name", "app-config", "tolerations", "key",
                     "node.kubernetes.io/not-ready", "operator", "Exists", "effect", "NoExecute",
                     "restartPolicy", "Always");
}

static json_t *metadata(const char *name, int labels)
{
    json_t *l = json_object(), *a = json_object();
    for (int i = 0; i < labels; i++) {
        char k[48], v[48];
        snprintf(k, sizeof(k), "example.com/label-%d", i);
        snprintf(v, sizeof(v), "value-%d", i);
        json_object_set_new(l, k, json_string(v));
        snprintf(k, sizeof(k), "example.com/annotation-%d", i);
        json_object_set_new(a, k, json_string(v));
    }
    return json_pack("{s:s,s:s,s:o,s:o,s:s}", "name", name, "namespace", "default", "labels", l,
                     "annotations", a, "resourceVersion", "12345");
}

static json_t *make_pod(void)
{
    return json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
                     metadata("web-0", 10), "spec", pod_spec(3, 16));
}

static json_t *make_deployment(void)
{
    return json_pack("{s:s,s:s,s:o,s:{s:i,s:{s:{s:s}},s:{s:o,s:o}}}", "apiVersion", "apps/v1",
                     "kind", "Deployment", "metadata", metadata("web", 20), "spec", "replicas", 3,
                     "selector", "matchLabels", "app", "web", "template", "metadata",
                     metadata("web", 24), "spec", pod_spec(14, 48));
}

static json_t *make_configmap(void)
{
    json_t *data = json_object();
    char value[1001];
    for (int i = 0; i < 1000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "config-key-%04d.properties", i);
        for (int c = 0; c < 1000; c++)
            value[c] = (char)('a' + (i * 7 + c) % 26);
        value[1000] = '\0';
        json_object_set_new(data, key, json_string(value));
    }
    return json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
                     metadata("big", 4), "data", data);
}

/* The user's edit, the same for every kind: a label added, an annotation
 * removed, and one nested value changed (an image, or one data key). */
static json_t *edit(const json_t *doc)
{
    json_t *m = json_deep_copy(doc);
    json_t *meta = json_object_get(m, "metadata");
    json_object_set_new(json_object_get(meta, "labels"), "release", json_string("canary"));
    json_object_del(json_object_get(meta, "annotations"), "example.com/annotation-1");
    json_t *spec = json_object_get(m, "spec");
    if (json_object_get(spec, "template"))
        spec = json_object_get(json_object_get(spec, "template"), "spec");
    json_t *c0 = json_array_get(json_object_get(spec, "containers"), 0);
    if (c0)
        json_object_set_new(c0, "image", json_string("registry.example.com/team/app-0:2.0.0"));
    json_t *data = json_object_get(m, "data");
    if (data)
        json_object_set_new(data, "config-key-0500.properties", json_string("changed"));
    return m;
}

static json_t *json_patch_for(const json_t *doc)
{
    const char *image_path = json_object_get(json_object_get(doc, "spec"), "template")
                                 ? "/spec/template/spec/containers/0/image"
                                 : "/spec/containers/0/image";
    json_t *ops = json_pack(
        "[{s:s,s:s,s:s},{s:s,s:s},{s:s,s:s,s:s}]", "op", "add", "path", "/metadata/labels/release",
        "value", "canary", "op", "remove", "path",
        "/metadata/annotations/example.com~1annotation-1", "op", "test", "path", "/metadata/name",
        "value", json_string_value(json_object_get(json_object_get(doc, "metadata"), "name")));
    if (json_object_get(doc, "data"))
        json_array_append_new(ops,
                              json_pack("{s:s,s:s,s:s}", "op", "replace", "path",
                                        "/data/config-key-0500.properties", "value", "changed"));
    else
        json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "replace", "path", image_path,
                                             "value", "registry.example.com/team/app-0:2.0.0"));
    return ops;
}

/* ---- engines: one row per patch format ------------------------------------- */

typedef struct engine {
    const char *name;
    /* Apply `patch` to `doc`. */
    int (*apply)(const json_t *doc, const json_t *patch, json_t **out);
    /* Create the patch from doc to modified; NULL when the format has none
     * (the patch then comes from make_patch). */
    int (*create)(const json_t *doc, const json_t *modified, json_t **out);
    json_t *(*make_patch)(const json_t *doc);
} engine;

static int merge_apply(const json_t *doc, const json_t *patch, json_t **out)
{
    return kr_patch_merge_apply(doc, patch, out, NULL);
}

static int merge_create(const json_t *doc, const json_t *modified, json_t **out)
{
    return kr_patch_merge_create(doc, modified, out, NULL);
}

static int json_apply(const json_t *doc, const json_t *patch, json_t **out)
{
    return kr_patch_json_apply(doc, patch, out, NULL);
}

/* Strategic merge patch with the built-in metadata of the document's kind. */
static int strategic_apply(const json_t *doc, const json_t *patch, json_t **out)
{
    const kr_patch_meta_t *meta = kr_patch_schema_find_for(kr_patch_schema_builtin(), doc);
    return kr_patch_strategic_apply(meta, doc, patch, out, NULL);
}

static int strategic_create(const json_t *doc, const json_t *modified, json_t **out)
{
    const kr_patch_meta_t *meta = kr_patch_schema_find_for(kr_patch_schema_builtin(), doc);
    return kr_patch_strategic_create(meta, doc, modified, out, NULL);
}

static const engine engines[] = {
    {"merge", merge_apply, merge_create, NULL},
    {"json", json_apply, NULL, json_patch_for},
    {"strategic", strategic_apply, strategic_create, NULL},
};

/* ---- timing -------------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs op until at least `min_seconds` and 5 runs have passed; ops/s. */
#define MEASURE(ops_per_sec, body)                                                                 \
    do {                                                                                           \
        long runs_ = 0;                                                                            \
        double start_ = now(), elapsed_;                                                           \
        do {                                                                                       \
            body;                                                                                  \
            runs_++;                                                                               \
            elapsed_ = now() - start_;                                                             \
        } while (elapsed_ < min_seconds || runs_ < 5);                                             \
        (ops_per_sec) = (double)runs_ / elapsed_;                                                  \
    } while (0)

int main(void)
{
    const double min_seconds = getenv("KR_BENCH_SECONDS") ? atof(getenv("KR_BENCH_SECONDS")) : 0.5;
    struct {
        const char *name;
        json_t *(*make)(void);
    } docs[] = {{"Pod", make_pod}, {"Deployment", make_deployment}, {"ConfigMap", make_configmap}};
    int status = 0;
    printf("%-10s %8s  %-9s %-6s %12s %10s\n", "document", "size", "format", "op", "ops/s",
           "ratio");
    for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
        json_t *doc = docs[d].make();
        json_t *modified = edit(doc);
        char *text = json_dumps(doc, JSON_COMPACT);
        size_t size = strlen(text);
        double baseline;
        for (int warm = 0; warm < 2; warm++) /* the first run warms caches and clocks */
            MEASURE(baseline, {
                json_t *parsed = json_loads(text, 0, NULL);
                char *again = json_dumps(parsed, JSON_COMPACT);
                free(again);
                json_decref(parsed);
            });
        printf("%-10s %7zuB  %-9s %-6s %12.0f %10s\n", docs[d].name, size, "jansson", "parse+dump",
               baseline, "1.00");
        for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
            const engine *eng = &engines[e];
            json_t *patch = NULL;
            if (eng->create) {
                double create_rate;
                MEASURE(create_rate, {
                    json_decref(patch);
                    patch = NULL;
                    if (eng->create(doc, modified, &patch) != 0)
                        return 1;
                });
                printf("%-10s %7zuB  %-9s %-6s %12.0f %10.2f\n", docs[d].name, size, eng->name,
                       "create", create_rate, baseline / create_rate);
            } else {
                patch = eng->make_patch(doc);
            }
            double apply_rate;
            json_t *out = NULL;
            MEASURE(apply_rate, {
                json_decref(out);
                out = NULL;
                if (eng->apply(doc, patch, &out) != 0)
                    return 1;
            });
            if (!json_equal(out, modified)) {
                fprintf(stderr, "%s %s: apply did not give the edited document\n", docs[d].name,
                        eng->name);
                status = 1;
            }
            double ratio = baseline / apply_rate;
            printf("%-10s %7zuB  %-9s %-6s %12.0f %10.2f%s\n", docs[d].name, size, eng->name,
                   "apply", apply_rate, ratio, ratio > 1.0 ? "  (over target)" : "");
            json_decref(out);
            json_decref(patch);
        }
        free(text);
        json_decref(doc);
        json_decref(modified);
    }
    printf("ratio = time of one op / time of one jansson parse+serialise of the document\n");
    return status;
}
