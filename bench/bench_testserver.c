/* Benchmark of the in-memory apiserver over loopback HTTP: bulk load of
 * 100,000 ~1 KiB ConfigMaps, LIST of all of them in pages of 500, and watch
 * fan-out (1 writer, 100 watchers) in events/s. Ratios: the LIST against
 * jansson serialising the same objects in this run; the fan-out against
 * one watcher. `bench_testserver write URL N NS` is the writer that
 * bench_testserver_kubectl.sh uses. KR_BENCH_OBJECTS overrides 100,000. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kreconcile/testserver.h"

#include "bench_util.h"

static json_t *configmap(int i, const char *ns)
{
    char name[32], pad[900];
    snprintf(name, sizeof(name), "cm-%06d", i);
    memset(pad, 'a' + i % 26, sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s,s:s}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", name, "namespace", ns, "labels", "bench",
                     "yes", "data", "payload", pad, "index", name);
}

struct sink {
    char *data;
    size_t len, cap;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct sink *s = user;
    size_t n = size * nmemb;
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

/* ---- LIST -------------------------------------------------------------------------- */

static size_t list_all(CURL *c, const char *base, size_t *pages)
{
    char url[1024], token[1024] = "";
    size_t items = 0;
    struct sink s = {0};
    *pages = 0;
    do {
        snprintf(url, sizeof(url), "%s/api/v1/configmaps?limit=500%s%s", base,
                 token[0] ? "&continue=" : "", token);
        s.len = 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        if (curl_easy_perform(c) != CURLE_OK)
            break;
        json_t *doc = json_loadb(s.data, s.len, 0, NULL);
        items += json_array_size(json_object_get(doc, "items"));
        const char *cont =
            json_string_value(json_object_get(json_object_get(doc, "metadata"), "continue"));
        snprintf(token, sizeof(token), "%s", cont ? cont : "");
        json_decref(doc);
        (*pages)++;
    } while (token[0]);
    free(s.data);
    return items;
}

static double serialise_baseline(json_t *const *objs, size_t n)
{
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i += 500) {
        json_t *page = json_array();
        for (size_t j = i; j < n && j < i + 500; j++)
            json_array_append(page, objs[j]);
        char *text = json_dumps(page, JSON_COMPACT);
        json_t *back = json_loads(text, 0, NULL);
        json_decref(back);
        free(text);
        json_decref(page);
    }
    return bench_now_s() - t0;
}

/* ---- watch fan-out ------------------------------------------------------------------- */

struct counter {
    size_t lines;
};

static size_t count_lines(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct counter *c = user;
    for (size_t i = 0; i < size * nmemb; i++)
        c->lines += ptr[i] == '\n';
    return size * nmemb;
}

static int post_objects(const char *base, int n, const char *ns, int offset)
{
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/configmaps", base, ns);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct sink s = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        json_t *obj = configmap(offset + i, ns);
        char *body = json_dumps(obj, JSON_COMPACT);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        s.len = 0;
        long code = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        failed += code != 201;
        free(body);
        json_decref(obj);
    }
    free(s.data);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return failed;
}

struct writer {
    const char *base, *ns;
    int n, offset, failed;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    w->failed = post_objects(w->base, w->n, w->ns, w->offset);
    return NULL;
}

/* Events/s delivered to `watchers` streams while one writer creates n objects. */
static double fan_out(kr_testserver_t *ts, const char *ns, int watchers, int n, int offset)
{
    const char *base = kr_testserver_url(ts);
    size_t open_before = kr_testserver_watch_count(ts);
    CURLM *m = curl_multi_init();
    CURL **e = calloc((size_t)watchers, sizeof(CURL *));
    struct counter *cnt = calloc((size_t)watchers, sizeof(*cnt));
    char url[512];
    snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/configmaps?watch=true&resourceVersion=%llu",
             base, ns, kr_testserver_resource_version(ts));
    for (int i = 0; i < watchers; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, count_lines);
        curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &cnt[i]);
        curl_multi_add_handle(m, e[i]);
    }
    int running = 1;
    double open_t0 = bench_now_s();
    while (kr_testserver_watch_count(ts) < open_before + (size_t)watchers &&
           bench_now_s() - open_t0 < 60) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    struct writer w = {base, ns, n, offset, 0};
    double t0 = bench_now_s();
    pthread_t t;
    pthread_create(&t, NULL, writer_main, &w);
    size_t want = (size_t)watchers * (size_t)n, got = 0;
    while (got < want && running && bench_now_s() - t0 < 120) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 10, NULL);
        got = 0;
        for (int i = 0; i < watchers; i++)
            got += cnt[i].lines;
    }
    double dt = bench_now_s() - t0;
    pthread_join(t, NULL);
    for (int i = 0; i < watchers; i++) {
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    curl_multi_cleanup(m);
    free(e);
    free(cnt);
    if (got < want || w.failed)
        fprintf(stderr, "fan-out: %zu of %zu events, %d failed writes\n", got, want, w.failed);
    return (double)got / dt;
}

static int bench(void)
{
    const char *env = getenv("KR_BENCH_OBJECTS");
    size_t n = env ? strtoul(env, NULL, 10) : 100000;
    kr_testserver_opts o = {.threads = 2, .history = 200000};
    kr_testserver_t *ts;
    kr_error_t err = {0};
    if (kr_testserver_start(&o, &ts, &err) != 0) {
        fprintf(stderr, "bench_testserver: %s\n", err.message);
        return 1;
    }
    const char *base = kr_testserver_url(ts);
    const char *nss = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
                      "\"bench\"}}";
    kr_testserver_load(ts, nss, strlen(nss), &err);
    json_t **objs = malloc(n * sizeof(json_t *));
    for (size_t i = 0; i < n; i++)
        objs[i] = configmap((int)i, "bench");
    double t0 = bench_now_s();
    if (kr_testserver_load_bulk(ts, objs, n, &err) != 0) {
        fprintf(stderr, "bench_testserver: %s\n", err.message);
        return 1;
    }
    double load = bench_now_s() - t0;
    printf("bulk load: %zu ConfigMaps (~1 KiB) in %.3f s: %.0f objects/s\n", n, load,
           (double)n / load);

    CURL *c = curl_easy_init();
    size_t pages;
    t0 = bench_now_s();
    size_t items = list_all(c, base, &pages);
    double list = bench_now_s() - t0;
    curl_easy_cleanup(c);
    double base_s = serialise_baseline(objs, n);
    printf("LIST over HTTP, pages of 500: %zu items in %zu pages, %.3f s: %.0f items/s, "
           "%.1f pages/s; ratio to jansson serialise+parse of the same pages (%.3f s): %.2f\n",
           items, pages, list, (double)items / list, (double)pages / list, base_s, list / base_s);
    for (size_t i = 0; i < n; i++)
        json_decref(objs[i]);
    free(objs);

    const char *ns2 = "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
                      "\"fan\"}}";
    kr_testserver_load(ts, ns2, strlen(ns2), &err);
    double one = fan_out(ts, "fan", 1, 1000, 0);
    double many = fan_out(ts, "fan", 100, 1000, 1000);
    printf("watch fan-out, 1 writer (HTTP POST) -> 1 watcher: %.0f events/s\n", one);
    printf("watch fan-out, 1 writer (HTTP POST) -> 100 watchers: %.0f events/s delivered; "
           "ratio to 1 watcher: %.1f\n",
           many, many / one);
    kr_testserver_free(ts);
    return 0;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int rc;
    if (argc == 5 && strcmp(argv[1], "write") == 0)
        rc = post_objects(argv[2], atoi(argv[3]), argv[4], 0) ? 1 : 0;
    else
        rc = bench();
    curl_global_cleanup();
    return rc;
}
