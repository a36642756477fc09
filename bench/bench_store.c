/* Benchmark of the store: add, get and list throughput and heap bytes per
 * object for 100,000 ConfigMaps of about 1 KiB, beside a baseline measured
 * in the same run: the same parsed jansson objects kept in a bare jansson
 * object used as a hash table (no lock, no index, no transform).
 * Both store representations are measured (jansson trees; compact JSON
 * parsed on read): heap per object, ns per add and get (random keys,
 * mostly parsed; recently read keys, from the tree cache) and per list.
 * Heap is counted with malloc_usable_size() through the library's and
 * jansson's allocator hooks; times are this thread's CPU time, so that a
 * busy machine does not distort the ratios. BENCH_STORE_OBJECTS overrides
 * the count. */
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kreconcile.h"

static long long heap_live;

static void *count_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        heap_live += (long long)malloc_usable_size(p);
    return p;
}

static void *count_realloc(void *old, size_t n)
{
    long long before = old ? (long long)malloc_usable_size(old) : 0;
    void *p = realloc(old, n);
    if (p)
        heap_live += (long long)malloc_usable_size(p) - before;
    return p;
}

static void count_free(void *p)
{
    if (p)
        heap_live -= (long long)malloc_usable_size(p);
    free(p);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One ConfigMap as an apiserver sends it: about 1 KiB, a third of it
 * metadata.managedFields. */
static char *configmap_text(size_t i, size_t *len)
{
    static const char words[] = "listen: 8080\nworkers: 4\nlog_level: info\nfeature_x: on\n";
    char data[640];
    size_t w = 0;
    while (w + sizeof(words) < sizeof(data)) {
        memcpy(data + w, words, sizeof(words) - 1);
        w += sizeof(words) - 1;
    }
    data[w] = '\0';
    json_t *obj = json_pack(
        "{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s,s:s,s:s,s:s,s:{s:{s:{},s:{}},"
        "s:{s:{s:{},s:{},s:{}}}}}]},s:{s:s}}",
        "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name", "", "namespace", "", "uid",
        "6b7d2c1e-5f0a-4c1b-9a3e-0d2f4e6a8b9c", "resourceVersion", "", "creationTimestamp",
        "2025-01-02T03:04:05Z", "labels", "app", "", "tier", i % 3 ? "back" : "front",
        "managedFields", "manager", "kubectl-client-side-apply", "operation", "Update",
        "apiVersion", "v1", "time", "2025-01-02T03:04:05Z", "fieldsType", "FieldsV1", "fieldsV1",
        "f:data", ".", "f:config.yaml", "f:metadata", "f:labels", ".", "f:app", "f:tier", "data",
        "config.yaml", data);
    char buf[64];
    json_t *meta = json_object_get(obj, "metadata");
    snprintf(buf, sizeof(buf), "cm-%06zu", i);
    json_object_set_new(meta, "name", json_string(buf));
    snprintf(buf, sizeof(buf), "ns-%03zu", i % 100);
    json_object_set_new(meta, "namespace", json_string(buf));
    snprintf(buf, sizeof(buf), "%zu", 1000 + i);
    json_object_set_new(meta, "resourceVersion", json_string(buf));
    snprintf(buf, sizeof(buf), "app-%zu", i % 50);
    json_object_set_new(json_object_get(meta, "labels"), "app", json_string(buf));
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    *len = strlen(text);
    return text;
}

static json_t **parse_all(char **texts, const size_t *lens, size_t n)
{
    json_t **objs = malloc(n * sizeof(*objs));
    for (size_t i = 0; i < n; i++) {
        objs[i] = json_loadb(texts[i], lens[i], 0, NULL);
        if (!objs[i]) {
            fprintf(stderr, "bench_store: parse failed\n");
            exit(1);
        }
    }
    return objs;
}

/* The store's figures in one representation; times are CPU seconds. */
struct store_run {
    double add, get, get_hot, list, select, ns;
    long long heap;
    kr_store_stats stats;
    unsigned long long found;
};

enum { LISTS = 20 };

static struct store_run run_store(kr_store_representation repr, char **texts, const size_t *lens,
                                  char **keys, size_t n, const kr_selector_t *sel)
{
    struct store_run r = {0};
    long long heap0 = heap_live;
    json_t **objs = parse_all(texts, lens, n);
    kr_store_t *store = NULL;
    kr_store_opts opts = {.representation = repr};
    if (kr_store_new(&opts, &store, NULL) != 0)
        exit(1);
    double t = now();
    for (size_t i = 0; i < n; i++)
        if (kr_store_add(store, objs[i], lens[i], NULL, NULL, NULL) != 0)
            exit(1);
    r.add = now() - t;
    free(objs);
    r.heap = heap_live - heap0;
    t = now();
    for (size_t k = 0; k < 5; k++)
        for (size_t i = 0; i < n; i++) {
            json_t *o = kr_store_get(store, keys[(i * 7919) % n]);
            r.found += o != NULL;
            json_decref(o);
        }
    r.get = now() - t;
    t = now();
    for (size_t k = 0; k < 5; k++)
        for (size_t i = 0; i < n; i++) {
            json_t *o = kr_store_get(store, keys[i % 64]);
            r.found += o != NULL;
            json_decref(o);
        }
    r.get_hot = now() - t;
    t = now();
    for (int k = 0; k < LISTS; k++) {
        json_t *arr = NULL;
        kr_store_list(store, &arr, NULL);
        r.found += json_array_size(arr);
        json_decref(arr);
    }
    r.list = now() - t;
    t = now();
    for (int k = 0; k < LISTS; k++) {
        json_t *arr = NULL;
        kr_store_list_selector(store, NULL, sel, &arr, NULL);
        r.found += json_array_size(arr);
        json_decref(arr);
    }
    r.select = now() - t;
    t = now();
    for (int k = 0; k < LISTS * 10; k++) {
        json_t *arr = NULL;
        kr_store_list_namespace(store, "ns-042", &arr, NULL);
        r.found += json_array_size(arr);
        json_decref(arr);
    }
    r.ns = now() - t;
    kr_store_get_stats(store, &r.stats, sizeof(r.stats));
    kr_store_free(store);
    return r;
}

static void report(const char *what, double ops, double secs, double base_ops, double base_secs)
{
    double rate = ops / secs, base = base_ops / base_secs;
    printf("%-28s %12.0f ops/s   baseline %12.0f ops/s   ratio %.2f\n", what, rate, base,
           rate / base);
}

int main(void)
{
    size_t n = 100000;
    const char *env = getenv("BENCH_STORE_OBJECTS");
    if (env && atol(env) > 0)
        n = (size_t)atol(env);
    kr_set_allocator(count_malloc, count_realloc, count_free);
    json_set_alloc_funcs(count_malloc, count_free);

    char **texts = malloc(n * sizeof(*texts));
    size_t *lens = calloc(n, sizeof(*lens));
    char **keys = malloc(n * sizeof(*keys));
    unsigned long long wire = 0;
    for (size_t i = 0; i < n; i++) {
        texts[i] = configmap_text(i, &lens[i]);
        wire += lens[i];
        keys[i] = malloc(32);
        snprintf(keys[i], 32, "ns-%03zu/cm-%06zu", i % 100, i);
    }
    printf("objects: %zu, wire bytes: %llu (%.0f per object)\n", n, wire, (double)wire / n);

    /* ---- baseline: a bare jansson object as the hash ---- */
    long long heap0 = heap_live;
    json_t **objs = parse_all(texts, lens, n);
    long long parsed_heap = heap_live - heap0;
    double t = now();
    json_t *hash = json_object();
    for (size_t i = 0; i < n; i++) {
        const json_t *meta = json_object_get(objs[i], "metadata");
        char key[64];
        snprintf(key, sizeof(key), "%s/%s", json_string_value(json_object_get(meta, "namespace")),
                 json_string_value(json_object_get(meta, "name")));
        json_object_set_new(hash, key, objs[i]);
    }
    double base_add = now() - t;
    long long base_heap = heap_live - heap0;
    t = now();
    unsigned long long found = 0;
    for (size_t r = 0; r < 5; r++)
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_incref(json_object_get(hash, keys[(i * 7919) % n]));
            found += o != NULL;
            json_decref(o);
        }
    double base_get = now() - t;
    const int lists = LISTS;
    t = now();
    for (int r = 0; r < lists; r++) {
        json_t *arr = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(hash, k, v)
        {
            json_array_append(arr, v);
        }
        found += json_array_size(arr);
        json_decref(arr);
    }
    double base_list = now() - t;
    kr_selector_t *sel = NULL;
    kr_selector_parse("app=app-7,tier=front", &sel, NULL);
    t = now();
    for (int r = 0; r < lists; r++) {
        json_t *arr = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(hash, k, v)
        {
            if (kr_selector_matches_object(sel, v))
                json_array_append(arr, v);
        }
        found += json_array_size(arr);
        json_decref(arr);
    }
    double base_select = now() - t;
    json_decref(hash);
    free(objs);

    /* ---- the store, in each representation ---- */
    struct store_run trees = run_store(KR_STORE_TREES, texts, lens, keys, n, sel);
    struct store_run compact = run_store(KR_STORE_COMPACT, texts, lens, keys, n, sel);
    found += trees.found + compact.found;
    kr_store_t *store = NULL;
    kr_store_stats st = trees.stats;
    double store_add = trees.add, store_get = trees.get, store_list = trees.list;
    double store_select = trees.select, store_ns = trees.ns;
    long long store_heap = trees.heap;

    /* The same store keeping managedFields: the transform's share of the
     * add cost and of the memory. */
    heap0 = heap_live;
    objs = parse_all(texts, lens, n);
    kr_store_opts keep = {.keep_managed_fields = true, .representation = KR_STORE_TREES};
    if (kr_store_new(&keep, &store, NULL) != 0)
        return 1;
    t = now();
    for (size_t i = 0; i < n; i++)
        if (kr_store_add(store, objs[i], lens[i], NULL, NULL, NULL) != 0)
            return 1;
    double keep_add = now() - t;
    long long keep_heap = heap_live - heap0;
    free(objs);

    report("add", (double)n, store_add, (double)n, base_add);
    report("add, managedFields kept", (double)n, keep_add, (double)n, base_add);
    report("get", 5.0 * n, store_get, 5.0 * n, base_get);
    report("list (whole store)", lists, store_list, lists, base_list);
    report("list by label selector", lists, store_select, lists, base_select);
    printf("%-28s %12.0f ops/s   (%zu objects each; baseline has no index)\n",
           "list one namespace (index)", lists * 10 / store_ns, n / 100);
    printf("heap per object: store %.0f B (%.2f x wire), baseline %.0f B (%.2f x wire), "
           "parsed tree alone %.0f B\n",
           (double)store_heap / n, (double)store_heap / (double)wire, (double)base_heap / n,
           (double)base_heap / (double)wire, (double)parsed_heap / n);
    printf("heap per object with managedFields kept: %.0f B (%.2f x wire)\n", (double)keep_heap / n,
           (double)keep_heap / (double)wire);
    printf("representations (trees = jansson trees; compact = one allocation of compact JSON, "
           "parse on read, %d recent trees kept):\n",
           256);
    const struct store_run *runs[] = {&trees, &compact};
    for (int i = 0; i < 2; i++) {
        const struct store_run *r = runs[i];
        printf("  %-8s heap %5.0f B/object (%.2f x wire); add %7.0f ns; get %6.0f ns "
               "(random keys); get %5.0f ns (recently read); list %6.1f ms\n",
               i ? "compact" : "trees", (double)r->heap / n, (double)r->heap / (double)wire,
               r->add / n * 1e9, r->get / (5.0 * n) * 1e9, r->get_hot / (5.0 * n) * 1e9,
               r->list / lists * 1e3);
    }
    printf("store stats: cached JSON %.0f B/object (%.2f x wire; managedFields dropped), "
           "store overhead %.0f B/object\n",
           (double)st.cached_json_bytes / n, (double)st.cached_json_bytes / (double)wire,
           (double)st.overhead_bytes / n);
    if (found == 0)
        printf("(nothing found)\n");
    kr_selector_free(sel);
    kr_store_free(store);
    for (size_t i = 0; i < n; i++) {
        free(texts[i]);
        free(keys[i]);
    }
    free(texts);
    free(lens);
    free(keys);
    return 0;
}
