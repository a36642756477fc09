/* Benchmark of kr-submitter (the built program against three in-memory
 * servers: a hub and two workload clusters, in this process): runnables per
 * second from submit to verified over two clusters, no approval, with
 * KR_BENCH_SUBMITTER_CONCURRENCY (default 8) submitting threads, beside bare
 * creates of the same Jobs at the same concurrency (the ratio is the price
 * of durability: status writes with preconditions, a verified read-back),
 * as medians of KR_BENCH_SUBMITTER_ROUNDS (default 5) interleaved rounds,
 * with the writes per runnable read from the servers' resourceVersions,
 * the program's reconciles per runnable read from its /metrics,
 * and the CPU each side spent per runnable and per bare create (on a
 * machine whose cores are busy, the ratio of rates is the inverse ratio of
 * CPU per unit: a bare create is one write, a runnable three to the hub,
 * one to its cluster before it is verified and its release after, each
 * with its watch events, plus the API's request and the program's work;
 * and a test server handles one request at a time (one lock), so the hub's writes queue
 * where the bare creates spread over two servers);
 * then the time from a datacenter going down to the failover dispatch
 * against --failover-after. KR_BENCH_SUBMITTER_RUNNABLES (default 200) per
 * round. The program runs without a client-side rate limit, as the bare
 * creates do. KR_BENCH_SUBMITTER_PROGRAM names another kr-submitter binary
 * (to compare two versions in alternation with the same benchmark);
 * KR_BENCH_SUBMITTER_LATENCY_MS makes every server answer each request that
 * many ms late.
 * Prints figures and ratios; never asserts on speed. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
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

#include "kreconcile.h"
#include "kreconcile/testserver.h"

#include "bench_util.h"

#define JOBS KR_GVR("batch", "v1", "jobs")
#define FAILOVER_AFTER_S 2

static kr_runtime_t *rt;
static kr_testserver_t *ts[3]; /* hub, dc1, dc2 */
static kr_rest_config cfg[3];
static kr_client_t *cl[3];
static char server[64];
static long n_runnables, concurrency;
static atomic_long next_index;
static const char *run_prefix;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_submitter: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

static void servers_up(const char *dir)
{
    if (kr_runtime_new(NULL, &rt, NULL) != 0 || kr_runtime_start(rt, NULL) != 0)
        die("runtime", NULL);
    static const char *const names[] = {"hub", "dc1", "dc2"};
    /* KR_BENCH_SUBMITTER_LATENCY_MS: each server answers that much later, as
     * clusters a network away would (the wait holds no server thread) */
    unsigned latency = (unsigned)bench_env_long("KR_BENCH_SUBMITTER_LATENCY_MS", 0);
    for (int i = 0; i < 3; i++) {
        kr_testserver_opts o = {
            .seed = (unsigned long long)i + 1, .threads = 2, .faults = {.latency_ms = latency}};
        kr_error_t err = {0};
        if (kr_testserver_start(&o, &ts[i], &err) != 0)
            die("test server", err.message);
        cfg[i].server = (char *)kr_testserver_url(ts[i]);
        cfg[i].qps = -1;
        if (kr_client_new(rt, &cfg[i], NULL, &cl[i], &err) != 0)
            die("client", err.message);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (kr_testserver_write_kubeconfig(ts[i], path, "default", &err) != 0)
            die("kubeconfig", err.message);
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/deploy/crds/runnables.kreconcile.io.yaml", KR_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read", path);
    static char crd[65536];
    size_t len = fread(crd, 1, sizeof(crd) - 1, f);
    fclose(f);
    kr_error_t err = {0};
    if (kr_testserver_load(ts[0], crd, len, &err) != 0)
        die("CRD", err.message);
}

static unsigned short free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("free port", NULL);
    close(fd);
    return ntohs(a.sin_port);
}

/* The kr-submitter to run: KR_BENCH_SUBMITTER_PROGRAM, else the built one. */
static void program_path(char *out, size_t len)
{
    const char *given = getenv("KR_BENCH_SUBMITTER_PROGRAM");
    if (given && *given)
        snprintf(out, len, "%s", given);
    else
        snprintf(out, len, "%s/kr-submitter", KR_TEST_BIN_DIR);
}

static pid_t serve(const char *dir)
{
    char bin[4096], hub[512], dc1[512], dc2[512], tokens[512], listen[64], failover[16];
    program_path(bin, sizeof(bin));
    snprintf(hub, sizeof(hub), "%s/hub", dir);
    snprintf(dc1, sizeof(dc1), "dc1=%s/dc1", dir);
    snprintf(dc2, sizeof(dc2), "dc2=%s/dc2", dir);
    snprintf(tokens, sizeof(tokens), "%s/tokens.csv", dir);
    unsigned short port = free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    snprintf(server, sizeof(server), "http://127.0.0.1:%u", port);
    snprintf(failover, sizeof(failover), "%ds", FAILOVER_AFTER_S);
    FILE *f = fopen(tokens, "w");
    if (!f)
        die("cannot write", tokens);
    fputs("bench-token,bench,1,\"bench\"\n", f);
    fclose(f);
    char *argv[] = {bin,
                    "serve",
                    "--kubeconfig",
                    hub,
                    "--cluster",
                    dc1,
                    "--cluster",
                    dc2,
                    "--listen",
                    listen,
                    "--token-auth-file",
                    tokens,
                    "--failover-after",
                    failover,
                    "--kube-api-qps",
                    "-1",
                    getenv("KR_BENCH_SUBMITTER_LOG") ? "-v=2" : NULL,
                    NULL};
    pid_t pid = fork();
    if (pid == 0) {
        /* KR_BENCH_SUBMITTER_LOG=FILE keeps the program's log (-v 2) */
        const char *log = getenv("KR_BENCH_SUBMITTER_LOG");
        int null = open(log && *log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(null, 1);
        dup2(null, 2);
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

/* POST a body to the API; the HTTP status. */
static long post(CURL *c, const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", server, path);
    bench_body out = {0};
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer bench-token");
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_body_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    free(out.data);
    return status;
}

static void job_json(char *buf, size_t len, const char *name)
{
    snprintf(buf, len,
             "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"%s\"},"
             "\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":"
             "[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}",
             name);
}

static void *submitter_thread(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    long i;
    while ((i = atomic_fetch_add(&next_index, 1)) < n_runnables) {
        char name[64], job[512], body[1024];
        snprintf(name, sizeof(name), "%s-%ld", run_prefix, i);
        job_json(job, sizeof(job), name);
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"kreconcile.io/v1alpha1\",\"kind\":\"Runnable\","
                 "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"clusters\":[\"%s\"],"
                 "\"template\":%s}}",
                 name, i % 2 ? "dc2" : "dc1", job);
        if (post(c, "/api/v1/runnables", body) != 201)
            die("submit", body);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void *bare_thread(void *arg)
{
    (void)arg;
    long i;
    while ((i = atomic_fetch_add(&next_index, 1)) < n_runnables) {
        char name[64], job[512];
        snprintf(name, sizeof(name), "bare-%s-%ld", run_prefix, i);
        job_json(job, sizeof(job), name);
        json_t *obj = json_loads(job, 0, NULL);
        kr_error_t err = {0};
        if (kr_client_create(cl[1 + i % 2], JOBS, "default", obj, NULL, NULL, &err) != 0)
            die("bare create", err.message);
        json_decref(obj);
    }
    return NULL;
}

static double run_threads(void *(*fn)(void *))
{
    pthread_t th[64];
    long n = concurrency < 64 ? concurrency : 64;
    atomic_store(&next_index, 0);
    double t0 = bench_now_s();
    for (long i = 0; i < n; i++)
        pthread_create(&th[i], NULL, fn, NULL);
    for (long i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    return bench_now_s() - t0;
}

/* Runnables named with the current round's prefix seen turning verified,
 * counted by the informer's handler: waiting costs no list of the cache
 * (a copy of every Runnable of every round each few ms, which the
 * submitter's figure would pay for). */
static pthread_mutex_t verified_mu = PTHREAD_MUTEX_INITIALIZER;
static char verified_prefix[32]; /* under verified_mu */
static atomic_long verified_seen;

static bool verified_now(const json_t *o)
{
    const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
    if (!name || !json_is_true(json_object_get(json_object_get(o, "status"), "verified")))
        return false;
    pthread_mutex_lock(&verified_mu);
    bool match = strncmp(name, verified_prefix, strlen(verified_prefix)) == 0;
    pthread_mutex_unlock(&verified_mu);
    return match;
}

static void on_add(const json_t *obj, void *user)
{
    (void)user;
    if (verified_now(obj))
        atomic_fetch_add(&verified_seen, 1);
}

static void on_update(const json_t *old_obj, const json_t *new_obj, void *user)
{
    (void)user;
    if (old_obj != new_obj && verified_now(new_obj) && !verified_now(old_obj))
        atomic_fetch_add(&verified_seen, 1);
}

/* From now, count Runnables named `prefix`* turning verified. */
static void count_verified(const char *prefix)
{
    pthread_mutex_lock(&verified_mu);
    snprintf(verified_prefix, sizeof(verified_prefix), "%s", prefix);
    atomic_store(&verified_seen, 0);
    pthread_mutex_unlock(&verified_mu);
}

static void wait_api(void)
{
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof(url), "%s/readyz", server);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    double deadline = bench_now_s() + 30;
    long status = 0;
    while (status != 200 && bench_now_s() < deadline) {
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) {
            struct timespec pace = {0, 20000000};
            nanosleep(&pace, NULL);
        }
    }
    curl_easy_cleanup(c);
    if (status != 200)
        die("kr-submitter did not become ready", server);
}

static double wait_verified(long want, double t0)
{
    double deadline = bench_now_s() + 300;
    while (atomic_load(&verified_seen) < want && bench_now_s() < deadline) {
        struct timespec pace = {0, 1000000};
        nanosleep(&pace, NULL);
    }
    if (atomic_load(&verified_seen) < want)
        die("runnables not verified in time", NULL);
    return bench_now_s() - t0;
}

/* dc1 answers 503 from now; seconds until a Runnable decided for dc1 is
 * dispatched to dc2. */
static double failover_time(kr_informer_t *inf)
{
    CURL *c = curl_easy_init();
    char job[512], body[1024];
    job_json(job, sizeof(job), "fo");
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"kreconcile.io/v1alpha1\",\"kind\":\"Runnable\","
             "\"metadata\":{\"name\":\"failover\"},\"spec\":{\"clusters\":[\"dc1\",\"dc2\"],"
             "\"template\":%s}}",
             job);
    kr_testserver_faults down = {.fail_503 = 1.0};
    kr_testserver_set_faults(ts[1], &down);
    kr_testserver_close_watches(ts[1]);
    double t0 = bench_now_s();
    if (post(c, "/api/v1/runnables", body) != 201)
        die("submit", "failover");
    curl_easy_cleanup(c);
    double deadline = t0 + 120;
    for (;;) {
        json_t *o = kr_store_get_by_name(kr_informer_store(inf), "default", "failover");
        json_t *st = json_object_get(o, "status");
        const char *cluster = json_string_value(json_object_get(st, "cluster"));
        const char *phase = json_string_value(json_object_get(st, "phase"));
        bool moved =
            cluster && strcmp(cluster, "dc2") == 0 && phase && strcmp(phase, "Dispatching") != 0;
        json_decref(o);
        if (moved)
            break;
        if (bench_now_s() > deadline)
            die("no failover", NULL);
        struct timespec pace = {0, 5000000};
        nanosleep(&pace, NULL);
    }
    return bench_now_s() - t0;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* CPU seconds of this process so far (the servers, the bench's clients). */
static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of process `pid` so far (utime + stime of /proc/PID/stat). */
static double child_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Reconciles the program has done so far: its
 * controller_runtime_reconcile_total summed over results (0 when its
 * /metrics does not answer). */
static double reconciles(void)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", server);
    CURL *c = curl_easy_init();
    bench_body out = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_body_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    double n = 0;
    const char *needle = "\ncontroller_runtime_reconcile_total{";
    if (curl_easy_perform(c) == CURLE_OK && out.data) {
        for (const char *at = strstr(out.data, needle); at; at = strstr(at + 1, needle)) {
            const char *close = strchr(at, '}');
            if (close)
                n += strtod(close + 1, NULL);
        }
    }
    free(out.data);
    curl_easy_cleanup(c);
    return n;
}

/* Writes so far: every write bumps a server's resourceVersion by one. */
static unsigned long long writes(int i)
{
    return kr_testserver_resource_version(ts[i]);
}

int main(void)
{
    n_runnables = bench_env_long("KR_BENCH_SUBMITTER_RUNNABLES", 200);
    concurrency = bench_env_long("KR_BENCH_SUBMITTER_CONCURRENCY", 8);
    char bin[4096];
    program_path(bin, sizeof(bin));
    if (access(bin, X_OK) != 0) {
        printf("bench_submitter: %s is not built: skipped\n", bin);
        return 0;
    }
    char dir[] = "/tmp/bench-submitter-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    servers_up(dir);
    pid_t pid = serve(dir);
    wait_api();
    kr_informer_opts io = {.client = cl[0], .resource = KR_RUNNABLE_GVR};
    kr_informer_t *inf = NULL;
    if (kr_informer_new(&io, &inf, NULL) != 0 || kr_informer_start(inf, NULL) != 0)
        die("informer", NULL);
    kr_informer_handler h = {.on_add = on_add, .on_update = on_update};
    if (kr_informer_add_handler(inf, &h, NULL, NULL) != 0)
        die("informer handler", NULL);
    kr_informer_wait_for_sync(inf, 30000, NULL);

    run_prefix = "warm";
    long full = n_runnables;
    n_runnables = concurrency;
    count_verified("warm-");
    double t0 = bench_now_s();
    run_threads(submitter_thread);
    wait_verified(n_runnables, t0);
    n_runnables = full;

    /* KR_BENCH_SUBMITTER_ROUNDS (default 5) rounds, each the submitter's
     * run then the bare creates: medians of interleaved runs */
    int rounds = (int)bench_env_long("KR_BENCH_SUBMITTER_ROUNDS", 5);
    if (rounds < 1 || rounds > 50)
        rounds = 5;
    double rate[50], api[50], bare[50], hub_w = 0, dc_w = 0;
    /* CPU seconds: the program's and this process's (three servers, the
     * submitting threads, the informer) in the submitter's runs, this
     * process's (the servers, the bare clients) in the bare creates' */
    double prog_cpu = 0, self_sub_cpu = 0, self_bare_cpu = 0, recs = 0;
    long bare_total = 0;
    for (int k = 0; k < rounds; k++) {
        char prefix[16], want[20];
        snprintf(prefix, sizeof(prefix), "r%d", k);
        snprintf(want, sizeof(want), "r%d-", k);
        run_prefix = prefix;
        unsigned long long h0 = writes(0), d0 = writes(1) + writes(2);
        double r0 = reconciles();
        count_verified(want);
        double p0 = child_cpu_s(pid), c0 = self_cpu_s();
        t0 = bench_now_s();
        double submitted_s = run_threads(submitter_thread);
        double verified_s = wait_verified(n_runnables, t0);
        hub_w += (double)(writes(0) - h0);
        dc_w += (double)(writes(1) + writes(2) - d0);
        prog_cpu += child_cpu_s(pid) - p0;
        recs += reconciles() - r0;
        double c1 = self_cpu_s();
        self_sub_cpu += c1 - c0;
        /* the bare creates of one round take a few ms: batches of the
         * same size until they have run as long as the submitter's round,
         * so that both rates are measured over a comparable time */
        double bare_s = 0;
        long batches = 0;
        do {
            char bprefix[32];
            snprintf(bprefix, sizeof(bprefix), "r%d-b%ld", k, batches++);
            run_prefix = bprefix;
            bare_s += run_threads(bare_thread);
        } while (bare_s < verified_s && batches < 1000);
        self_bare_cpu += self_cpu_s() - c1;
        bare_total += n_runnables * batches;
        rate[k] = (double)n_runnables / verified_s;
        api[k] = (double)n_runnables / submitted_s;
        bare[k] = (double)(n_runnables * batches) / bare_s;
    }
    double r = median(rate, rounds), b = median(bare, rounds);
    printf("submit -> verified, %ld runnables over 2 clusters, %ld threads: %.1f /s "
           "(median of %d)\n",
           n_runnables, concurrency, r, rounds);
    printf("  of which the API answered the submissions at %.1f /s\n", median(api, rounds));
    printf("  writes per runnable until verified: %.1f to the hub, %.1f to the clusters\n",
           hub_w / (double)(n_runnables * rounds), dc_w / (double)(n_runnables * rounds));
    printf("  reconciles per runnable until verified: %.1f (with what earlier rounds' timers "
           "woke meanwhile)\n",
           recs / (double)(n_runnables * rounds));
    printf("bare Job creates, same Jobs, same threads:               %.1f /s (median of %d)\n", b,
           rounds);
    printf("ratio submitter / bare creates: %.2f (target >= 0.5)\n", r / b);
    printf("CPU per runnable: %.2f ms of the program's, %.2f ms of the servers' and the "
           "bench's; per bare create: %.2f ms (servers and client)\n",
           prog_cpu * 1e3 / (double)(n_runnables * rounds),
           self_sub_cpu * 1e3 / (double)(n_runnables * rounds),
           self_bare_cpu * 1e3 / (double)(bare_total ? bare_total : 1));
    /* what following the Runnables costs while nothing happens: a second
     * for the last round's echoes, then five (the CPU clock ticks in
     * 10 ms: a longer window for a figure near zero) */
    struct timespec settle = {1, 0}, rest = {5, 0};
    nanosleep(&settle, NULL);
    double idle0 = child_cpu_s(pid), idle_t0 = bench_now_s();
    nanosleep(&rest, NULL);
    printf("the program at rest, following %ld unfinished runnables: %.2f%% of a core\n",
           n_runnables * rounds + concurrency,
           (child_cpu_s(pid) - idle0) * 100 / (bench_now_s() - idle_t0));
    double fo = failover_time(inf);
    printf("datacenter down -> failover dispatch: %.2f s with --failover-after %ds "
           "(%.2fx)\n",
           fo, FAILOVER_AFTER_S, fo / FAILOVER_AFTER_S);

    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    kr_informer_free(inf);
    for (int i = 0; i < 3; i++)
        kr_client_free(cl[i]);
    kr_runtime_free(rt);
    for (int i = 0; i < 3; i++)
        kr_testserver_free(ts[i]);
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "bench_submitter: could not remove %s\n", dir);
    curl_global_cleanup();
    return 0;
}
