/* Benchmark of kr_client against the in-memory API server (run in a forked
 * child so that its memory and CPU stay apart): small GETs per second over
 * one connection (HTTP/1.1, and HTTP/2 through nghttpx when present) as a
 * ratio to a bare libcurl easy loop making the same requests; a paginated
 * LIST of 100,000 ~1 KiB ConfigMaps decoded into jansson against kubectl
 * on the same server; heap bytes per open watch. Environment:
 * KR_BENCH_GETS (default 5000), KR_BENCH_LIST_OBJECTS (default 100000),
 * KR_BENCH_WATCHES (default 1000), KR_BENCH_ONLY=get (only the GET part),
 * KR_BENCH_METRICS=1 (the GET clients report rest_client_* metrics).
 * The baseline does the client's work for each answer too: it collects the
 * body and decodes it with jansson, as kr_client does. */
#include <curl/curl.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
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

#include "client_state.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

#include "bench_util.h"

static const kr_gvr CM = KR_GVR("", "v1", "configmaps");
static const char NGHTTPX[] = "/usr/sbin/nghttpx";

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

/* The benchmark's server content: ten namespaces, one small ConfigMap and
 * `*(long *)user` bulk ConfigMaps in "default". */
static int load_objects(kr_testserver_t *ts, void *user)
{
    long objects = *(const long *)user;
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
    kr_error_t err = {0};
    for (long i = 0; i < objects; i += BATCH) {
        size_t n = 0;
        for (long j = i; j < objects && n < BATCH; j++)
            batch[n++] = bulk_configmap(j);
        int rc = kr_testserver_load_bulk(ts, batch, n, &err);
        for (size_t k = 0; k < n; k++)
            json_decref(batch[k]);
        if (rc != 0) {
            fprintf(stderr, "bench: load: %s\n", err.message);
            return rc;
        }
    }
    return 0;
}

static pid_t spawn_server(long objects, const char *kubeconfig, unsigned short *port)
{
    return bench_spawn_server(load_objects, &objects, kubeconfig, port);
}

/* ---- GETs ---- */

typedef struct bare {
    CURL *easy;
    struct curl_slist *headers;
    bench_body body;
} bare;

static void bare_open(bare *b, const char *url, bool http2, const char *ca_file)
{
    *b = (bare){.easy = curl_easy_init()};
    CURL *e = b->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, bench_body_collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b->body);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    b->headers = curl_slist_append(NULL, "Accept: application/json");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, b->headers);
    if (ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
    for (int i = 0; i < 50; i++)
        curl_easy_perform(e);
}

static double bare_round(bare *b, long n)
{
    double t0 = bench_now_s();
    long ok = 0;
    for (long i = 0; i < n; i++) {
        long code = 0;
        b->body.len = 0;
        if (curl_easy_perform(b->easy) == CURLE_OK &&
            curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200) {
            json_t *obj = json_loadb(b->body.data, b->body.len, 0, NULL);
            ok += obj != NULL;
            json_decref(obj);
        }
    }
    return (double)ok / (bench_now_s() - t0);
}

static void bare_close(bare *b)
{
    curl_slist_free_all(b->headers);
    curl_easy_cleanup(b->easy);
    free(b->body.data);
}

static kr_client_t *open_client(kr_runtime_t *rt, const char *server, kr_client_http version,
                                const char *ca_file)
{
    kr_rest_config *cfg = calloc(1, sizeof(*cfg)); /* lives as long as the process */
    cfg->server = strdup(server);
    cfg->qps = -1;
    cfg->ca_file = ca_file ? strdup(ca_file) : NULL;
    kr_client_opts opts = {.http_version = version, .max_connections = 1};
    static kr_metrics_registry_t *reg; /* lives as long as the process */
    if (getenv("KR_BENCH_METRICS") && (reg || kr_metrics_registry_new(&reg, NULL) == 0)) {
        opts.version = KR_CLIENT_OPTS_VERSION;
        opts.metrics = reg;
    }
    kr_client_t *c = NULL;
    kr_error_t err = {0};
    if (kr_client_new(rt, cfg, &opts, &c, &err) != 0) {
        fprintf(stderr, "bench: client: %s\n", err.message);
        free(cfg->server);
        free(cfg->ca_file);
        free(cfg);
        return NULL;
    }
    for (int i = 0; i < 50; i++)
        kr_client_get(c, CM, "default", "small", NULL, NULL);
    return c;
}

/* Blocking calls from this (worker) thread: two thread hand-offs each. */
static double blocking_round(kr_client_t *c, long n)
{
    double t0 = bench_now_s();
    long ok = 0;
    for (long i = 0; i < n; i++) {
        json_t *obj = NULL;
        if (kr_client_get(c, CM, "default", "small", &obj, NULL) == 0)
            ok++;
        json_decref(obj);
    }
    return (double)ok / (bench_now_s() - t0);
}

/* Asynchronous calls chained on the loop thread: each callback starts the
 * next request, as controllers do on the loop. */
typedef struct chain {
    kr_client_t *c;
    long left, ok;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
} chain;

static void chain_next(json_t *result, const kr_error_t *err, void *user);

static void chain_start(chain *ch)
{
    kr_request req = {.verb = KR_VERB_GET, .ref = {CM, "default", "small", NULL}};
    if (kr_client_do(ch->c, &req, chain_next, ch, NULL) != 0)
        ch->left = 0;
}

static void chain_next(json_t *result, const kr_error_t *err, void *user)
{
    (void)result;
    chain *ch = user;
    if (!err)
        ch->ok++;
    if (--ch->left > 0) {
        chain_start(ch);
        return;
    }
    pthread_mutex_lock(&ch->lock);
    ch->done = true;
    pthread_cond_signal(&ch->cond);
    pthread_mutex_unlock(&ch->lock);
}

static double async_round(kr_client_t *c, long n)
{
    chain ch = {.c = c, .left = n};
    pthread_mutex_init(&ch.lock, NULL);
    pthread_cond_init(&ch.cond, NULL);
    double t0 = bench_now_s();
    chain_start(&ch);
    pthread_mutex_lock(&ch.lock);
    while (!ch.done)
        pthread_cond_wait(&ch.cond, &ch.lock);
    pthread_mutex_unlock(&ch.lock);
    return (double)ch.ok / (bench_now_s() - t0);
}

/* Rounds interleaved, best of each: the machine is shared, so the best
 * round is the fairest estimate of what each can do. */
static void compare_gets(kr_runtime_t *rt, const char *label, const char *base, const char *url,
                         long n, kr_client_http version, const char *ca_file)
{
    enum { ROUNDS = 5 };
    bare b;
    bare_open(&b, url, version != KR_CLIENT_HTTP_1_1, ca_file);
    kr_client_t *c = open_client(rt, base, version, ca_file);
    if (!c)
        return;
    double best_bare = 0, best_block = 0, best_async = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double x = bare_round(&b, n / ROUNDS);
        double y = blocking_round(c, n / ROUNDS);
        double z = async_round(c, n / ROUNDS);
        best_bare = x > best_bare ? x : best_bare;
        best_block = y > best_block ? y : best_block;
        best_async = z > best_async ? z : best_async;
    }
    printf("GET %s: bare libcurl %.0f req/s; kr_client async %.0f req/s (ratio %.2f), blocking "
           "from a worker %.0f req/s (ratio %.2f) (target >= 0.8; %lu answers over HTTP/2)\n",
           label, best_bare, best_async, best_async / best_bare, best_block, best_block / best_bare,
           kr_client_http2_responses(c));
    kr_client_free(c);
    bare_close(&b);
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
    double t0 = bench_now_s();
    int rc = kr_client_list_pages(c, CM, NULL, &lo, count_items, &lc, &err);
    double secs = bench_now_s() - t0;
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
    kr_watch_t **w = calloc((size_t)n, sizeof(kr_watch_t *));
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
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s);
        return -1;
    }
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
    long gets = bench_env_long("KR_BENCH_GETS", 5000);
    long objects = bench_env_long("KR_BENCH_LIST_OBJECTS", 100000);
    long watches = bench_env_long("KR_BENCH_WATCHES", 1000);
    const char *only = getenv("KR_BENCH_ONLY");
    bool only_get = only && strcmp(only, "get") == 0;
    if (only_get)
        objects = 0;
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
    compare_gets(rt, "HTTP/1.1", base, url, gets, KR_CLIENT_HTTP_1_1, NULL);

    /* 2. the same over HTTP/2 (TLS, nghttpx in front) */
    pid_t proxy = -1;
    int h2port = 0;
    char h2base[64], h2url[160], ca[300];
    if (access(NGHTTPX, X_OK) == 0 && kr_http_have_http2() && make_certs(dir) &&
        (h2port = free_port()) > 0) {
        proxy = start_nghttpx(h2port, port, dir);
        snprintf(h2base, sizeof(h2base), "https://127.0.0.1:%d", h2port);
        snprintf(h2url, sizeof(h2url), "%s/api/v1/namespaces/default/configmaps/small", h2base);
        snprintf(ca, sizeof(ca), "%s/srv.crt", dir);
        compare_gets(rt, "HTTP/2 (TLS via nghttpx)", h2base, h2url, gets, KR_CLIENT_HTTP_AUTO, ca);
    } else {
        printf("GET HTTP/2: skipped (nghttpx, openssl or libcurl HTTP/2 missing)\n");
    }

    /* 3. paginated LIST, 500 per page, decoded into jansson */
    if (!only_get) {
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
            double t0 = bench_now_s();
            int rc = system(cmd);
            double kubectl_s = bench_now_s() - t0;
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
