/* Tests of the REST client's request metrics against the in-memory API
 * server, read back from the rendered registry: requests by code, method
 * and host (each attempt of a retry, "<error>" without an answer, a watch
 * once at its headers), the request and rate limiter histograms with
 * client-go's buckets, one host per server, no metrics without a registry,
 * and options of version 1 never read past their fields.
 * Threaded: KR_TEST_THREADED */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "client_state.h"
#include "kr_promtext.h"
#include "kr_suite.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

static const kr_gvr CM = KR_GVR("", "v1", "configmaps");

static void discard_log(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)level, (void)module, (void)message, (void)user;
}

typedef struct fixture {
    kr_testserver_t *ts;
    kr_runtime_t *rt;
    kr_metrics_registry_t *reg;
    kr_rest_config cfg;
    kr_client_t *c;
    char host[64]; /* the server's host:port, as the series name it */
} fixture;

static void start_server(kr_testserver_t **ts, char *host, size_t size)
{
    kr_testserver_opts o = {.seed = 1};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, ts, &err) == 0, "%s", err.message);
    snprintf(host, size, "127.0.0.1:%u", (unsigned)kr_testserver_port(*ts));
}

/* A server, a runtime, a registry and a client reporting into it, with a
 * rate limiter that never makes anyone wait (unless opts say otherwise). */
static void setup(fixture *f, kr_client_opts *opts)
{
    memset(f, 0, sizeof(*f));
    start_server(&f->ts, f->host, sizeof(f->host));
    kr_error_t err = {0};
    kr_runtime_opts ro = {.logger = {.cb = discard_log}};
    ck_assert_int_eq(kr_runtime_new(&ro, &f->rt, &err), 0);
    ck_assert_int_eq(kr_runtime_start(f->rt, &err), 0);
    ck_assert_int_eq(kr_metrics_registry_new(&f->reg, &err), 0);
    f->cfg.server = (char *)kr_testserver_url(f->ts);
    f->cfg.qps = 100000;
    f->cfg.burst = 100000;
    kr_client_opts dflt = KR_CLIENT_OPTS_INIT;
    if (!opts)
        opts = &dflt;
    if (opts->version >= 2 && !opts->metrics)
        opts->metrics = f->reg;
    ck_assert_msg(kr_client_new(f->rt, &f->cfg, opts, &f->c, &err) == 0, "%s", err.message);
}

static void teardown(fixture *f)
{
    kr_client_free(f->c);
    kr_runtime_free(f->rt);
    kr_metrics_registry_free(f->reg);
    kr_testserver_free(f->ts);
}

static json_t *configmap(const char *name)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "namespace", "default", "data", "k", "v");
}

/* The registry rendered and parsed back (strictly). New: free(). */
static struct kr_prom_parsed *scrape(kr_metrics_registry_t *reg)
{
    char *text = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, &err), 0);
    struct kr_prom_parsed *ps = malloc(sizeof(*ps));
    ck_assert_ptr_nonnull(ps);
    const char *bad = kr_prom_parse(text, ps);
    ck_assert_msg(bad == NULL, "%s in\n%s", bad, text);
    kr_free(text);
    return ps;
}

/* The value of the sample `name` whose labels include the NULL-terminated
 * (name, value) pairs that follow, or -1 when there is none. */
static double sample(const struct kr_prom_parsed *ps, const char *name, ...)
{
    for (int i = 0; i < ps->nsamples; i++) {
        const struct kr_prom_sample *s = &ps->samples[i];
        if (strcmp(s->name, name) != 0)
            continue;
        va_list ap;
        va_start(ap, name);
        bool all = true;
        for (const char *l = va_arg(ap, const char *); l && all; l = va_arg(ap, const char *)) {
            const char *v = va_arg(ap, const char *);
            bool found = false;
            for (int k = 0; k < s->nlabels; k++)
                found |= strcmp(s->label_name[k], l) == 0 && strcmp(s->label_value[k], v) == 0;
            all = found;
        }
        va_end(ap);
        if (all)
            return s->value;
    }
    return -1;
}

static double requests(const struct kr_prom_parsed *ps, const char *code, const char *method,
                       const char *host)
{
    return sample(ps, "rest_client_requests_total", "code", code, "method", method, "host", host,
                  NULL);
}

static double histogram_count(const struct kr_prom_parsed *ps, const char *family, const char *verb,
                              const char *host)
{
    char name[96];
    snprintf(name, sizeof(name), "%s_count", family);
    return sample(ps, name, "verb", verb, "host", host, NULL);
}

static int count_family(const struct kr_prom_parsed *ps, const char *prefix)
{
    int n = 0;
    for (int i = 0; i < ps->nsamples; i++)
        n += strncmp(ps->samples[i].name, prefix, strlen(prefix)) == 0;
    return n;
}

/* ---- requests ------------------------------------------------------------ */

START_TEST(requests_are_counted_by_code_method_and_host)
{
    fixture f;
    kr_client_opts opts = KR_CLIENT_OPTS_INIT;
    opts.max_retries = 2;
    opts.backoff_base_ms = 1;
    opts.backoff_max_ms = 2;
    setup(&f, &opts);
    kr_error_t err = {0};
    json_t *cm = configmap("a");
    ck_assert_msg(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err) == 0, "%s",
                  err.message);
    ck_assert_int_eq(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err), KR_EEXIST);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "a", NULL, &err), 0);
    ck_assert_int_eq(kr_client_list(f.c, CM, "default", NULL, NULL, &err), 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "missing", NULL, &err), KR_ENOTFOUND);
    ck_assert_int_eq(kr_client_delete(f.c, CM, "default", "a", NULL, NULL, &err), 0);
    /* Always 503: a GET is tried three times, each attempt a request. */
    kr_testserver_faults always503 = {.fail_503 = 1.0};
    kr_testserver_set_faults(f.ts, &always503);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "a", NULL, &err), KR_EUNAVAILABLE);
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(f.ts, &none);
    json_decref(cm);

    struct kr_prom_parsed *ps = scrape(f.reg);
    ck_assert(requests(ps, "201", "POST", f.host) == 1);
    ck_assert(requests(ps, "409", "POST", f.host) == 1);
    ck_assert(requests(ps, "200", "GET", f.host) == 2);
    ck_assert(requests(ps, "404", "GET", f.host) == 1);
    ck_assert(requests(ps, "200", "DELETE", f.host) == 1);
    ck_assert(requests(ps, "503", "GET", f.host) == 3);
    ck_assert_int_eq(count_family(ps, "rest_client_requests_total"), 6);

    /* One duration per request, retries included in it. */
    const char *duration = "rest_client_request_duration_seconds";
    ck_assert(histogram_count(ps, duration, "GET", f.host) == 4);
    ck_assert(histogram_count(ps, duration, "POST", f.host) == 2);
    ck_assert(histogram_count(ps, duration, "DELETE", f.host) == 1);
    /* client-go's buckets, cumulative up to +Inf = the count */
    ck_assert(sample(ps, "rest_client_request_duration_seconds_bucket", "verb", "GET", "le",
                     "0.005", NULL) >= 0);
    ck_assert(sample(ps, "rest_client_request_duration_seconds_bucket", "verb", "GET", "le", "60",
                     NULL) == 4);
    ck_assert(sample(ps, "rest_client_request_duration_seconds_bucket", "verb", "GET", "le", "+Inf",
                     NULL) == 4);
    ck_assert(sample(ps, "rest_client_request_duration_seconds_sum", "verb", "GET", NULL) > 0);

    /* One pass through the rate limiter per attempt. */
    const char *limiter = "rest_client_rate_limiter_duration_seconds";
    ck_assert(histogram_count(ps, limiter, "GET", f.host) == 6);
    ck_assert(histogram_count(ps, limiter, "POST", f.host) == 2);
    ck_assert(histogram_count(ps, limiter, "DELETE", f.host) == 1);
    free(ps);
    teardown(&f);
}
END_TEST

START_TEST(no_answer_counts_as_error)
{
    /* A port nobody listens on any more: a server's, once it has stopped. */
    kr_testserver_t *gone = NULL;
    char url[80], host[64];
    start_server(&gone, host, sizeof(host));
    snprintf(url, sizeof(url), "http://%s", host);
    kr_testserver_free(gone);
    kr_error_t err = {0};
    kr_runtime_t *rt = NULL;
    kr_runtime_opts ro = {.logger = {.cb = discard_log}};
    ck_assert_int_eq(kr_runtime_new(&ro, &rt, &err), 0);
    ck_assert_int_eq(kr_runtime_start(rt, &err), 0);
    kr_metrics_registry_t *reg = NULL;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, &err), 0);
    kr_rest_config cfg = {.server = url, .qps = -1};
    kr_client_opts opts = KR_CLIENT_OPTS_INIT;
    opts.max_retries = 1;
    opts.backoff_base_ms = 1;
    opts.backoff_max_ms = 2;
    opts.metrics = reg;
    kr_client_t *c = NULL;
    ck_assert_int_eq(kr_client_new(rt, &cfg, &opts, &c, &err), 0);
    ck_assert_int_eq(kr_client_get(c, CM, "default", "x", NULL, &err), KR_ECONNECT);
    json_t *cm = configmap("x");
    ck_assert_int_eq(kr_client_create(c, CM, "default", cm, NULL, NULL, &err), KR_ECONNECT);
    json_decref(cm);

    struct kr_prom_parsed *ps = scrape(reg);
    ck_assert(requests(ps, "<error>", "GET", host) == 2); /* the first try and one retry */
    ck_assert(requests(ps, "<error>", "POST", host) == 1); /* never retried */
    ck_assert(histogram_count(ps, "rest_client_request_duration_seconds", "GET", host) == 1);
    /* qps < 0: no rate limiter, no series of it */
    ck_assert_int_eq(count_family(ps, "rest_client_rate_limiter"), 0);
    free(ps);
    kr_client_free(c);
    kr_runtime_free(rt);
    kr_metrics_registry_free(reg);
}
END_TEST

/* ---- watches ------------------------------------------------------------- */

typedef struct watch_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int events;
    int ended;
} watch_state;

static void on_watch_event(kr_watch_t *w, kr_watch_event_type type, json_t *obj, void *user)
{
    (void)w, (void)type, (void)obj;
    watch_state *s = user;
    pthread_mutex_lock(&s->lock);
    s->events++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void on_watch_end(kr_watch_t *w, int rc, const kr_error_t *err, void *user)
{
    (void)w, (void)rc, (void)err;
    watch_state *s = user;
    pthread_mutex_lock(&s->lock);
    s->ended++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Wait (10 s at most) until the watch saw `events` events or ended. */
static bool wait_watch(watch_state *s, int events, int ended)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    while ((s->events < events || s->ended < ended) && rc == 0)
        rc = pthread_cond_timedwait(&s->cond, &s->lock, &deadline);
    bool ok = s->events >= events && s->ended >= ended;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* The value of requests{code, GET, host} once it reaches `want` (polled
 * with a 10 s deadline: the count happens on the loop thread). */
static double wait_requests(fixture *f, const char *code, double want)
{
    struct timespec deadline, pause = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 10;
    for (;;) {
        struct kr_prom_parsed *ps = scrape(f->reg);
        double v = requests(ps, code, "GET", f->host);
        free(ps);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (v >= want || now.tv_sec > deadline.tv_sec)
            return v;
        nanosleep(&pause, NULL);
    }
}

START_TEST(a_watch_counts_once_when_its_headers_come)
{
    fixture f;
    setup(&f, NULL);
    kr_error_t err = {0};
    watch_state ws = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    kr_watch_t *w = NULL;
    ck_assert_int_eq(
        kr_client_watch(f.c, CM, "default", NULL, on_watch_event, on_watch_end, &ws, &w, &err), 0);
    /* No event has come: the headers alone count it. */
    ck_assert(wait_requests(&f, "200", 1) == 1);
    json_t *cm = configmap("w");
    ck_assert_int_eq(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err), 0);
    json_decref(cm);
    ck_assert(wait_watch(&ws, 1, 0));
    kr_watch_free(w);

    /* A watch the server refuses counts with its code. */
    kr_testserver_faults always503 = {.fail_503 = 1.0};
    kr_testserver_set_faults(f.ts, &always503);
    ck_assert_int_eq(
        kr_client_watch(f.c, CM, "default", NULL, on_watch_event, on_watch_end, &ws, &w, &err), 0);
    ck_assert(wait_watch(&ws, 1, 1));
    kr_watch_free(w);
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(f.ts, &none);

    struct kr_prom_parsed *ps = scrape(f.reg);
    ck_assert(requests(ps, "200", "GET", f.host) == 1); /* the stream did not count again */
    ck_assert(requests(ps, "503", "GET", f.host) == 1); /* watches are never retried */
    ck_assert(requests(ps, "201", "POST", f.host) == 1);
    /* A watch lasts as long as it lasts: no duration, as in client-go. */
    ck_assert(histogram_count(ps, "rest_client_request_duration_seconds", "GET", f.host) == -1);
    ck_assert(histogram_count(ps, "rest_client_rate_limiter_duration_seconds", "GET", f.host) == 2);
    free(ps);
    teardown(&f);
}
END_TEST

/* ---- rate limiter, hosts ----------------------------------------------- */

typedef struct pending {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} pending;

static void on_done(json_t *result, const kr_error_t *err, void *user)
{
    (void)result, (void)err;
    pending *p = user;
    pthread_mutex_lock(&p->lock);
    p->done++;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

START_TEST(rate_limiter_waits_are_observed_per_verb)
{
    fixture f;
    memset(&f, 0, sizeof(f));
    start_server(&f.ts, f.host, sizeof(f.host));
    kr_error_t err = {0};
    kr_runtime_opts ro = {.logger = {.cb = discard_log}};
    ck_assert_int_eq(kr_runtime_new(&ro, &f.rt, &err), 0);
    ck_assert_int_eq(kr_runtime_start(f.rt, &err), 0);
    ck_assert_int_eq(kr_metrics_registry_new(&f.reg, &err), 0);
    f.cfg.server = (char *)kr_testserver_url(f.ts);
    f.cfg.qps = 4; /* burst 1: of three requests asked at once, two wait */
    f.cfg.burst = 1;
    kr_client_opts opts = KR_CLIENT_OPTS_INIT;
    opts.metrics = f.reg;
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, &opts, &f.c, &err), 0);
    pending p = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    kr_request req = {.verb = KR_VERB_GET, .ref = {CM, "default", "none", NULL}};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(kr_client_do(f.c, &req, on_done, &p, &err), 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&p.lock);
    while (p.done < 3 && pthread_cond_timedwait(&p.cond, &p.lock, &deadline) == 0)
        ;
    pthread_mutex_unlock(&p.lock);
    ck_assert_int_eq(p.done, 3);

    struct kr_prom_parsed *ps = scrape(f.reg);
    ck_assert(histogram_count(ps, "rest_client_rate_limiter_duration_seconds", "GET", f.host) == 3);
    ck_assert(sample(ps, "rest_client_rate_limiter_duration_seconds_sum", "verb", "GET", NULL) > 0);
    ck_assert(requests(ps, "404", "GET", f.host) == 3);
    free(ps);
    teardown(&f);
}
END_TEST

START_TEST(two_servers_show_two_hosts_in_one_registry)
{
    fixture f;
    setup(&f, NULL);
    kr_testserver_t *ts2 = NULL;
    char host2[64];
    start_server(&ts2, host2, sizeof(host2));
    kr_rest_config cfg2 = {.server = (char *)kr_testserver_url(ts2), .qps = -1};
    kr_client_opts opts = KR_CLIENT_OPTS_INIT;
    opts.metrics = f.reg;
    kr_error_t err = {0};
    kr_client_t *c2 = NULL;
    ck_assert_int_eq(kr_client_new(f.rt, &cfg2, &opts, &c2, &err), 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ENOTFOUND);
    ck_assert_int_eq(kr_client_get(c2, CM, "default", "x", NULL, &err), KR_ENOTFOUND);
    ck_assert_int_eq(kr_client_get(c2, CM, "default", "y", NULL, &err), KR_ENOTFOUND);
    struct kr_prom_parsed *ps = scrape(f.reg);
    ck_assert(requests(ps, "404", "GET", f.host) == 1);
    ck_assert(requests(ps, "404", "GET", host2) == 2);
    free(ps);
    kr_client_free(c2);
    teardown(&f);
    kr_testserver_free(ts2);
}
END_TEST

/* ---- without metrics, and older callers -------------------------------- */

START_TEST(a_client_without_a_registry_works_and_reports_nothing)
{
    fixture f;
    kr_client_opts opts = KR_CLIENT_OPTS_INIT;
    opts.metrics = NULL;
    setup(&f, NULL);
    kr_client_free(f.c);
    f.c = NULL;
    kr_error_t err = {0};
    for (int k = 0; k < 2; k++) {
        /* the current version without a registry, then no options at all */
        ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, k == 0 ? &opts : NULL, &f.c, &err), 0);
        ck_assert_ptr_null(f.c->metrics.requests);
        ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err),
                         k == 0 ? KR_ENOTFOUND : 0);
        json_t *cm = configmap("x");
        ck_assert_int_eq(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err),
                         k == 0 ? 0 : KR_EEXIST);
        json_decref(cm);
        kr_client_free(f.c);
        f.c = NULL;
    }
    struct kr_prom_parsed *ps = scrape(f.reg);
    ck_assert_int_eq(count_family(ps, "rest_client_"), 0);
    free(ps);
    teardown(&f);
}
END_TEST

START_TEST(version_1_options_never_read_the_registry)
{
    fixture f;
    setup(&f, NULL);
    kr_client_free(f.c);
    f.c = NULL;
    kr_error_t err = {0};
    /* A registry in the field, but a caller of version 1 (or 0) never set it. */
    for (unsigned v = 0; v <= 1; v++) {
        kr_client_opts old = KR_CLIENT_OPTS_INIT;
        old.version = v;
        old.metrics = f.reg;
        ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, &old, &f.c, &err), 0);
        ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ENOTFOUND);
        kr_client_free(f.c);
        f.c = NULL;
    }
    struct kr_prom_parsed *ps = scrape(f.reg);
    ck_assert_int_eq(count_family(ps, "rest_client_"), 0);
    free(ps);

    /* A version 1 struct ends where its fields end, at the end of a page
     * whose next page is unmapped: reading past it would fault. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(map, MAP_FAILED);
    ck_assert_int_eq(mprotect(map + page, page, PROT_NONE), 0);
    ck_assert_uint_eq(KR_CLIENT_OPTS_V1_END % sizeof(void *), 0);
    kr_client_opts *v1 = (kr_client_opts *)(map + page - KR_CLIENT_OPTS_V1_END);
    memset(v1, 0, KR_CLIENT_OPTS_V1_END);
    v1->version = 1;
    v1->max_retries = -1;
    v1->discovery_miss_interval_ms = 0; /* the last field of version 1 */
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, v1, &f.c, &err), 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ENOTFOUND);
    kr_client_free(f.c);
    f.c = NULL;
    munmap(map, 2 * page);

    /* a version newer than the library's is refused */
    kr_client_opts newer = KR_CLIENT_OPTS_INIT;
    newer.version = KR_CLIENT_OPTS_VERSION + 1;
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, &newer, &f.c, &err), KR_EINVAL);
    ck_assert_ptr_null(f.c);
    teardown(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client_metrics");
    TCase *tc = tcase_create("client_metrics");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, requests_are_counted_by_code_method_and_host);
    tcase_add_test(tc, no_answer_counts_as_error);
    tcase_add_test(tc, a_watch_counts_once_when_its_headers_come);
    tcase_add_test(tc, rate_limiter_waits_are_observed_per_verb);
    tcase_add_test(tc, two_servers_show_two_hosts_in_one_registry);
    tcase_add_test(tc, a_client_without_a_registry_works_and_reports_nothing);
    tcase_add_test(tc, version_1_options_never_read_the_registry);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
