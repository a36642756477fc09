/* Benchmark of kr_client against the in-memory API server (run in a forked
 * child so that its memory and CPU stay apart): small GETs per second over
 * one connection (HTTP/1.1, and HTTP/2 through nghttpx when present) as a
 * ratio to a bare libcurl easy loop making the same requests; a paginated
 * LIST of 100,000 ~1 KiB ConfigMaps decoded into jansson against kubectl
 * on the same server; heap bytes per open watch. Environment:
 * KR_BENCH_GETS (default 5000), KR_BENCH_LIST_OBJECTS (default 100000),
 * KR_BENCH_WATCHES (default 1000). */
#include <curl/curl.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_impl.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

static const kr_gvr CM = KR_GVR("", "v1", "configmaps");
static const char NGHTTPX[] = "/usr/sbin/nghttpx";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? atol(v) : def;
}

/* ---- the server, in a child process ---- */

static json_t *bulk_configmap(long i)
{
    char name[32], ns[32], payload[901];
    snprintf(name, sizeof(name), "cm-%06ld", i);
    snprintf(ns, sizeof(ns), "bulk-%ld", i % 10);
    memset(payload, 'a' + (int)(i % 26), sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", name, "namespace", ns, "labels", "bench",
                     "list", "data", "payload", payload);
}

static pid_t spawn_server(long objects, const char *kubeconfig, unsigned short *port)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid != 0) {
        close(p[1]);
        if (read(p[0], port, sizeof(*port)) != sizeof(*port))
            pid = -1;
        close(p[0]);
        return pid;
    }
    close(p[0]);
    kr_testserver_opts o = {.seed = 1, .threads = 2, .history = 1000};
    kr_testserver_t *ts = NULL;
    kr_error_t err = {0};
    if (kr_testserver_start(&o, &ts, &err) != 0) {
        fprintf(stderr, "bench: test server: %s\n", err.message);
        _exit(1);
    }
    char doc[256];
    for (int n = 0; n < 10; n++) {
        snprintf(
            doc, sizeof(doc),
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"bulk-%d\"}}",
            n);
        kr_testserver_load(ts, doc, strlen(doc), NULL);
    }
    const char *small = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                        "\"small\",\"namespace\":\"default\"},\"data\":{\"k\":\"v\"}}";
    kr_testserver_load(ts, small, strlen(small), NULL);
    enum { BATCH = 1000 };
    json_t *batch[BATCH];
    for (long i = 0; i < objects; i += BATCH) {
        size_t n = 0;
        for (long j = i; j < objects && n < BATCH; j++)
            batch[n++] = bulk_configmap(j);
        if (kr_testserver_load_bulk(ts, batch, n, &err) != 0) {
            fprintf(stderr, "bench: load: %s\n", err.message);
            _exit(1);
        }
        for (size_t k = 0; k < n; k++)
            json_decref(batch[k]);
    }
    if (kubeconfig)
        kr_testserver_write_kubeconfig(ts, kubeconfig, NULL, NULL);
    unsigned short pt = kr_testserver_port(ts);
    if (write(p[1], &pt, sizeof(pt)) != sizeof(pt))
        _exit(1);
    close(p[1]);
    for (;;)
        pause();
}

/* ---- GETs ---- */

static size_t discard(char *ptr, size_t size, size_t nmemb, void *user)
{
    (void)ptr;
    (void)user;
    return size * nmemb;
}

static double bare_curl_gets(const char *url, long n, bool http2, const char *ca_file)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
    for (int i = 0; i < 50; i++)
        curl_easy_perform(e);
    double t0 = now_s();
    long ok = 0;
    for (long i = 0; i < n; i++) {
        long code = 0;
        if (curl_easy_perform(e) == CURLE_OK &&
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200)
            ok++;
    }
    double rate = (double)ok / (now_s() - t0);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rate;
}

static double client_gets(kr_runtime_t *rt, const char *server, long n, kr_client_http version,
                          const char *ca_file, unsigned long *http2_seen)
{
    kr_rest_config cfg = {.server = (char *)server, .qps = -1, .ca_file = (char *)ca_file};
    kr_client_opts opts = {.http_version = version, .max_connections = 1};
    kr_client_t *c = NULL;
    kr_error_t err = {0};
    if (kr_client_new(rt, &cfg, &opts, &c, &err) != 0) {
        fprintf(stderr, "bench: client: %s\n", err.message);
        return 0;
    }
    for (int i = 0; i < 50; i++)
        kr_client_get(c, CM, "default", "small", NULL, NULL);
    double t0 = now_s();
    long ok = 0;
    for (long i = 0; i < n; i++) {
        json_t *obj = NULL;
        if (kr_client_get(c, CM, "default", "small", &obj, &err) == 0)
            ok++;
        json_decref(obj);
    }
    double rate = (double)ok / (now_s() - t0);
    if (http2_seen)
        *http2_seen = kr_client_http2_responses(c);
    kr_client_free(c);
    return rate;
}

/* ---- LIST ---- */

typedef struct list_count {
    long items;
    long pages;
} list_count;

static int count_items(json_t *page, void *user)
{
    list_count *lc = user;
    lc->items += (long)json_array_size(json_object_get(page, "items"));
    lc->pages++;
    return 0;
}

static double client_list(kr_runtime_t *rt, const char *server, long *items)
{
    kr_rest_config cfg = {.server = (char *)server, .qps = -1};
    kr_client_t *c = NULL;
    kr_error_t err = {0};
    if (kr_client_new(rt, &cfg, NULL, &c, &err) != 0)
        return 0;
    list_count lc = {0};
    kr_list_opts lo = {.limit = 500};
    double t0 = now_s();
    int rc = kr_client_list_pages(c, CM, NULL, &lo, count_items, &lc, &err);
    double secs = now_s() - t0;
    if (rc != 0)
        fprintf(stderr, "bench: list: %s\n", err.message);
    *items = lc.items;
    kr_client_free(c);
    return secs;
}

/* ---- watches ---- */

static atomic_long watch_events;

static void on_watch_event(kr_watch_t *w, kr_watch_event_type type, json_t *object, void *user)
{
    (void)w;
    (void)type;
    (void)object;
    (void)user;
    atomic_fetch_add(&watch_events, 1);
}

static double bytes_per_watch(kr_runtime_t *rt, const char *server, long n, kr_client_http version,
                              const char *ca_file)
{
    kr_rest_config cfg = {.server = (char *)server, .qps = -1, .ca_file = (char *)ca_file};
    kr_client_opts opts = {.http_version = version};
    kr_client_t *c = NULL;
    if (kr_client_new(rt, &cfg, &opts, &c, NULL) != 0)
        return -1;
    /* One request first, so that the connection pool and TLS state exist. */
    kr_client_get(c, CM, "default", "small", NULL, NULL);
    kr_watch_t **w = calloc((size_t)n, sizeof(*w));
    kr_list_opts lo = {.field_selector = "metadata.name=small"};
    atomic_store(&watch_events, 0);
    struct mallinfo2 before = mallinfo2();
    for (long i = 0; i < n; i++)
        kr_client_watch(c, CM, "default", &lo, on_watch_event, NULL, NULL, &w[i], NULL);
    /* Each watch gets the one object as ADDED once it is open. */
    for (int i = 0; i < 60000 && atomic_load(&watch_events) < n; i++)
        usleep(1000);
    struct mallinfo2 after = mallinfo2();
    double per = atomic_load(&watch_events) < n
                     ? -1
                     : (double)((long)after.uordblks - (long)before.uordblks) / (double)n;
    for (long i = 0; i < n; i++)
        kr_watch_free(w[i]);
    free(w);
    kr_client_free(c);
    return per;
}

/* ---- TLS + HTTP/2 front (nghttpx) ---- */

static bool make_certs(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout srv.key -out srv.crt -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             dir);
    return system(cmd) == 0;
}

static bool port_open(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static pid_t start_nghttpx(int front, int back, const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        char frontend[64], backend[64], key[300], crt[300];
        snprintf(frontend, sizeof(frontend), "--frontend=127.0.0.1,%d", front);
        snprintf(backend, sizeof(backend), "--backend=127.0.0.1,%d", back);
        snprintf(key, sizeof(key), "%s/srv.key", dir);
        snprintf(crt, sizeof(crt), "%s/srv.crt", dir);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(NGHTTPX, NGHTTPX, frontend, backend, "--workers=1", "--no-ocsp",
              "--backend-http1-connections-per-host=4000", "--log-level=ERROR",
              "--frontend-http2-max-concurrent-streams=4000", key, crt, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 5000 && !port_open(front); i++)
        usleep(1000);
    return pid;
}

int main(void)
{
    long gets = env_long("KR_BENCH_GETS", 5000);
    long objects = env_long("KR_BENCH_LIST_OBJECTS", 100000);
    long watches = env_long("KR_BENCH_WATCHES", 1000);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char dir[] = "/tmp/kr-bench-client-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char kubeconfig[300];
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
    printf("loading %ld ConfigMaps into the test server (child process)...\n", objects);
    fflush(stdout);
    unsigned short port = 0;
    pid_t server = spawn_server(objects, kubeconfig, &port);
    if (server < 0)
        return 1;
    /* Both servers are forked before this process starts any thread. */
    unsigned short small_port = 0;
    pid_t small = spawn_server(0, NULL, &small_port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char base[64], url[160];
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
    snprintf(url, sizeof(url), "%s/api/v1/namespaces/default/configmaps/small", base);

    /* 1. small GETs over one HTTP/1.1 connection */
    kr_runtime_t *rt = NULL;
    kr_runtime_new(NULL, &rt, NULL);
    kr_runtime_start(rt, NULL);
    double bare = bare_curl_gets(url, gets, false, NULL);
    double ours = client_gets(rt, base, gets, KR_CLIENT_HTTP_1_1, NULL, NULL);
    printf("GET HTTP/1.1: kr_client %.0f req/s, bare libcurl %.0f req/s, ratio %.2f "
           "(target >= 0.8)\n",
           ours, bare, ours / bare);

    /* 2. the same over HTTP/2 (TLS, nghttpx in front) */
    pid_t proxy = -1;
    int h2port = 0;
    char h2base[64], h2url[160], ca[300];
    if (access(NGHTTPX, X_OK) == 0 && kr_http_have_http2() && make_certs(dir)) {
        h2port = free_port();
        proxy = start_nghttpx(h2port, port, dir);
        snprintf(h2base, sizeof(h2base), "https://127.0.0.1:%d", h2port);
        snprintf(h2url, sizeof(h2url), "%s/api/v1/namespaces/default/configmaps/small", h2base);
        snprintf(ca, sizeof(ca), "%s/srv.crt", dir);
        double bare2 = bare_curl_gets(h2url, gets, true, ca);
        unsigned long h2 = 0;
        double ours2 = client_gets(rt, h2base, gets, KR_CLIENT_HTTP_AUTO, ca, &h2);
        printf("GET HTTP/2 (TLS via nghttpx): kr_client %.0f req/s, bare libcurl %.0f req/s, "
               "ratio %.2f (target >= 0.8; %lu responses over HTTP/2)\n",
               ours2, bare2, ours2 / bare2, h2);
    } else {
        printf("GET HTTP/2: skipped (nghttpx, openssl or libcurl HTTP/2 missing)\n");
    }

    /* 3. paginated LIST, 500 per page, decoded into jansson */
    long items = 0;
    double list_s = client_list(rt, base, &items);
    printf("LIST %ld ConfigMaps in pages of 500: kr_client %.2f s (%.0f objects/s)\n", items,
           list_s, (double)items / list_s);
    if (system("kubectl version --client >/dev/null 2>&1") == 0) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd),
                 "kubectl --kubeconfig '%s' get configmaps -A --chunk-size=500 -o json "
                 ">/dev/null",
                 kubeconfig);
        double t0 = now_s();
        int rc = system(cmd);
        double kubectl_s = now_s() - t0;
        if (rc == 0)
            printf("LIST via kubectl get configmaps -A --chunk-size=500 -o json: %.2f s; "
                   "kr_client is %.1fx faster (target >= 2x)\n",
                   kubectl_s, kubectl_s / list_s);
        else
            printf("LIST via kubectl: failed (exit %d)\n", rc);
    } else {
        printf("LIST via kubectl: skipped (kubectl not found)\n");
    }

    /* 4. memory per open watch, on a server without the bulk objects (its
     * initial events would scan them for every watch). */
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", small_port);
    if (proxy > 0) {
        kill(proxy, SIGTERM);
        waitpid(proxy, NULL, 0);
        proxy = start_nghttpx(h2port, small_port, dir);
    }
    double per = bytes_per_watch(rt, base, watches, KR_CLIENT_HTTP_1_1, NULL);
    printf("watch memory, HTTP/1.1 (one connection each): %.0f heap bytes per open watch over "
           "%ld watches (target < 16384)\n",
           per, watches);
    if (proxy > 0) {
        double per2 = bytes_per_watch(rt, h2base, watches, KR_CLIENT_HTTP_AUTO, ca);
        printf("watch memory, HTTP/2 (multiplexed): %.0f heap bytes per open watch over %ld "
               "watches (target < 16384)\n",
               per2, watches);
    }
    kr_runtime_free(rt);
    if (proxy > 0) {
        kill(proxy, SIGTERM);
        waitpid(proxy, NULL, 0);
    }
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    if (small > 0) {
        kill(small, SIGTERM);
        waitpid(small, NULL, 0);
    }
    char rm[400];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
    curl_global_cleanup();
    return 0;
}
