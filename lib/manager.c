/* libkreconcile — the manager (controller-runtime's Manager): builds the
 * runtime, the clients of the hub and workload clusters, the informer
 * factory, metrics, leader election and the HTTP endpoint; runs the
 * controllers and runnables while leading; stops them in order on a
 * signal, kr_manager_stop or lost leadership, releasing the Lease last.
 * Signals are taken synchronously (signalfd) on a thread of its own, never
 * by an asynchronous handler. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "controller_internal.h"
#include "internal.h"
#include "manager_internal.h"

#define DEFAULT_SHUTDOWN_MS 30000
/* After a signal, a stop that overruns its timeout by this much ends the
 * process (status 1) rather than hang a rollout. */
#define SHUTDOWN_GRACE_MS 5000
/* How often a leader looks for a controller whose caches never synced. */
#define FAILED_POLL_MS 1000

struct cluster {
    char *name;
    kr_rest_config *config;
    kr_client_t *client;
    char *server_key; /* its apiserver, normalised (server_key) */
};

struct runnable {
    kr_manager_start_cb start;
    kr_manager_stop_cb stop;
    void *user;
    bool leader_only;
    bool started;
};

struct ready_check {
    char *name;
    kr_manager_ready_cb check;
    void *user;
};

enum run_state { STATE_NEW, STATE_RUNNING, STATE_STOPPING, STATE_DONE };

struct kr_manager {
    const kr_manager_program *program;
    const kr_manager_config *config;
    kr_logger logger;
    kr_log_sink_t *sink;
    uint64_t shutdown_timeout_ms;

    kr_runtime_t *rt;
    kr_metrics_registry_t *metrics;
    kr_informer_factory_t *factory;
    kr_informer_factory_opts factory_opts;
    double client_qps; /* kr_manager_opts version 2; 0: the kubeconfig's */
    uint64_t request_timeout_ms; /* version 3; 0: none */
    int client_burst;
    char *hub_name;
    char *hub_namespace;
    kr_rest_config *hub_config;
    bool clusters_not_hub; /* kr_manager_opts version 4 */
    kr_client_t *hub;
    kr_event_recorder_t *events; /* about hub objects, as the program */
    kr_token_file_t *token_file; /* --token-auth-file */
    kr_token_reviewer_t *reviewer; /* --token-review */
    kr_access_reviewer_t *authorizer; /* --authorization-review */
    struct cluster *clusters;
    size_t n_clusters;
    kr_leader_t *leader;
    kr_client_t *leader_client; /* its own: a busy controller's rate limit never delays a renewal */
    kr_http_server_t *http;

    sigset_t old_mask;
    pthread_t signal_thread;
    bool signal_thread_started;
    int signal_fd;
    int wake_fd; /* eventfd: wakes the signal thread (to end it, or to arm its watchdog) */
    atomic_bool signal_quit; /* the wake ends it */
    /* Set when leadership was lost: the process exits at this instant
     * (CLOCK_MONOTONIC ns) if it is still stopping; 0: not armed. */
    _Atomic int64_t watchdog_ns;
    /* Leadership lost: how long in-flight reconciles may still run before
     * the process exits, from the step-down: the lease duration less the
     * renew deadline, after which another replica may lead. */
    uint64_t lost_grace_ms;
    /* the manager stops the election itself (under lock): a step-down
     * from then on is no loss */
    bool leader_stopping;
    bool lost_in_stop; /* (under lock) the Lease was lost during a stop */

    /* Guarded by lock: */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    enum run_state state;
    bool stop_requested;
    int exit_code;
    bool lead_started_pending; /* the elector said "started leading" */
    bool lead_lost_pending; /* ... and later "stopped leading" */
    kr_controller_t **controllers;
    bool *controller_unelected; /* per controller: runs without leadership */
    size_t n_controllers;
    bool controllers_started; /* the leader-only ones */
    bool unelected_started; /* those that run without leadership */
    struct runnable *runnables;
    size_t n_runnables;
    struct ready_check *checks;
    size_t n_checks;
    kr_informer_t **informers;
    long *informer_clusters; /* per informer: its workload cluster's index, or -1 */
    size_t n_informers;

    atomic_bool leading;
};

/* ---- small helpers ------------------------------------------------------------ */

static kr_log_level level_of_verbosity(int v)
{
    if (v <= 0)
        return KR_LOG_INFO;
    return v <= 3 ? KR_LOG_DEBUG : KR_LOG_TRACE;
}

static bool listen_disabled(const char *listen)
{
    return !listen || strcmp(listen, "") == 0 || strcmp(listen, "0") == 0;
}

static int grow(void **array, size_t n, size_t size)
{
    void *grown = kr_realloc(*array, (n + 1) * size);
    if (!grown)
        return KR_ENOMEM;
    *array = grown;
    return 0;
}

/* ---- built-in routes ------------------------------------------------------------ */

/* The ?exclude= names of a request to /healthz, /livez or /readyz
 * (kube-apiserver's and controller-runtime's), sorted and each once, and
 * which of them named a check. The names are the request's own. */
struct excludes {
    const char **names;
    bool *used;
    size_t n, cap;
    bool oom;
};

static void exclude_take_one(const char *name, const char *value, void *user)
{
    struct excludes *x = user;
    if (x->oom || strcmp(name, "exclude") != 0)
        return;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 8;
        const char **names = kr_realloc(x->names, cap * sizeof(*names));
        if (!names) {
            x->oom = true;
            return;
        }
        x->names = names;
        x->cap = cap;
    }
    x->names[x->n++] = value;
}

static int exclude_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int excludes_take(const kr_http_request_t *req, struct excludes *x)
{
    *x = (struct excludes){0};
    kr_http_request_query_each(req, exclude_take_one, x);
    if (!x->oom && x->n > 0) {
        qsort(x->names, x->n, sizeof(*x->names), exclude_order);
        size_t n = 1;
        for (size_t i = 1; i < x->n; i++)
            if (strcmp(x->names[i], x->names[n - 1]) != 0)
                x->names[n++] = x->names[i];
        x->n = n;
        x->used = kr_calloc(x->n, sizeof(*x->used));
        x->oom = !x->used;
    }
    return x->oom ? KR_ENOMEM : 0;
}

static void excludes_free(struct excludes *x)
{
    kr_free(x->names);
    kr_free(x->used);
}

/* How `s` sorts against the text `prefix` + `name` (name NULL: none), as
 * strcmp would against the two joined. */
static int joined_cmp(const char *s, const char *prefix, const char *name)
{
    const char *parts[2] = {prefix, name ? name : ""};
    for (int k = 0; k < 2; k++)
        for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++, s++) {
            unsigned char c = (unsigned char)*s;
            if (c != *p)
                return c < *p ? -1 : 1;
        }
    return *s ? 1 : 0;
}

/* Is the check "prefix" + "name" excluded? Marks its name used. */
static bool excluded(struct excludes *x, const char *prefix, const char *name)
{
    size_t lo = 0, hi = x ? x->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = joined_cmp(x->names[mid], prefix, name);
        if (c == 0) {
            x->used[mid] = true;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The names excluded that are no check, as kube-apiserver says so:
 * sorted, each quoted as Go's %q would. */
static void excludes_warn(const struct excludes *x, kr_buf *b)
{
    bool any = false;
    for (size_t i = 0; i < x->n; i++) {
        if (x->used[i])
            continue;
        kr_buf_append_str(b, any ? ",\""
                                 : "warn: some health checks cannot be excluded: no "
                                   "matches for \"");
        any = true;
        for (const unsigned char *p = (const unsigned char *)x->names[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                kr_buf_printf(b, "\\%c", *p);
            else if (*p < 0x20 || *p == 0x7f)
                kr_buf_printf(b, "\\x%02x", *p);
            else
                kr_buf_append(b, p, 1);
        }
        kr_buf_append_str(b, "\"");
    }
    if (any)
        kr_buf_append_str(b, "\n");
}

/* The first segment of the path: "healthz", "livez" or "readyz". */
static void endpoint_name(const kr_http_request_t *req, char *out, size_t len)
{
    const char *path = kr_http_request_path(req) + 1;
    size_t n = strcspn(path, "/");
    snprintf(out, len, "%.*s", (int)n, path);
}

/* A health endpoint's answer to its aggregate: "ok" when every check
 * passed and ?verbose was not asked for, else every check's line, the
 * excluded names that are no check, then "<endpoint> check passed" or
 * "<endpoint> check failed" (kube-apiserver's text). 200 or 503. */
static void respond_aggregate(const kr_http_request_t *req, kr_http_response_t *resp, bool ready,
                              kr_buf *lines, const struct excludes *x)
{
    char endpoint[16];
    endpoint_name(req, endpoint, sizeof(endpoint));
    if (ready && !kr_http_request_query(req, "verbose")) {
        kr_buf_reset(lines);
        kr_buf_append_str(lines, "ok");
    } else {
        excludes_warn(x, lines);
        kr_buf_printf(lines, "%s check %s\n", endpoint, ready ? "passed" : "failed");
    }
    if (!lines->data) {
        kr_http_respond_error(resp, 500, "out of memory");
        return;
    }
    kr_http_respond_header(resp, "X-Content-Type-Options", "nosniff");
    kr_http_respond(resp, ready ? 200 : 503, "text/plain; charset=utf-8", lines->data, lines->len);
}

/* /healthz and /livez: the process answers. Their one named check is
 * "ping" (kube-apiserver's /healthz/ping, /livez/ping). */
static void healthz(const kr_http_request_t *req, kr_http_response_t *resp, void *user)
{
    (void)user;
    struct excludes x;
    kr_buf b = {0};
    if (excludes_take(req, &x) != 0) {
        kr_http_respond_error(resp, 500, "out of memory");
    } else {
        kr_buf_append_str(&b,
                          excluded(&x, "ping", NULL) ? "[+]ping excluded: ok\n" : "[+]ping ok\n");
        respond_aggregate(req, resp, true, &b, &x);
    }
    kr_buf_free(&b);
    excludes_free(&x);
}

/* The name after "/healthz/", "/livez/" or "/readyz/" ("" for the
 * aggregate); NULL for the path with a slash and no name ("/readyz/"),
 * which kube-apiserver's mux does not serve either: 404. */
static const char *check_name(const kr_http_request_t *req)
{
    const char *path = kr_http_request_path(req);
    const char *slash = strchr(path + 1, '/');
    return !slash ? "" : slash[1] ? slash + 1 : NULL;
}

static void no_such_path(kr_http_response_t *resp)
{
    kr_http_respond(resp, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
}

static void healthz_check(const kr_http_request_t *req, kr_http_response_t *resp, void *user)
{
    const char *name = check_name(req);
    if (!name)
        no_such_path(resp);
    else if (!name[0])
        healthz(req, resp, user);
    else if (strcmp(name, "ping") != 0)
        kr_http_respond_error(resp, 404, "no check named \"%s\"", name);
    else
        kr_http_respond(resp, 200, "text/plain; charset=utf-8", "ok", 2);
}

static void metrics_route(const kr_http_request_t *req, kr_http_response_t *resp, void *user)
{
    (void)req;
    kr_manager_t *m = user;
    char *text = NULL;
    size_t len = 0;
    kr_error_t err = {0};
    if (kr_metrics_render(m->metrics, &text, &len, &err) != 0) {
        kr_http_respond_error(resp, 500, "metrics: %s", err.message);
        return;
    }
    kr_http_respond(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    kr_free(text);
}

/* What /readyz looks at, copied under the lock so that checks run
 * without it (a check may call back into the manager). */
struct ready_view {
    enum run_state state;
    bool leading;
    kr_controller_t **controllers;
    bool *controller_unelected;
    size_t n_controllers;
    struct ready_check *checks;
    size_t n_checks;
    kr_informer_t **informers;
    long *informer_clusters;
    size_t n_informers;
};

static int ready_view_take(kr_manager_t *m, struct ready_view *v)
{
    *v = (struct ready_view){0};
    pthread_mutex_lock(&m->lock);
    v->state = m->state;
    v->leading = atomic_load(&m->leading);
    v->n_controllers = m->n_controllers;
    v->n_checks = m->n_checks;
    v->n_informers = m->n_informers;
    v->controllers = kr_calloc(v->n_controllers + 1, sizeof(kr_controller_t *));
    v->controller_unelected = kr_calloc(v->n_controllers + 1, sizeof(bool));
    v->checks = kr_calloc(v->n_checks + 1, sizeof(*v->checks));
    v->informers = kr_calloc(v->n_informers + 1, sizeof(kr_informer_t *));
    v->informer_clusters = kr_calloc(v->n_informers + 1, sizeof(long));
    bool ok = v->controllers && v->controller_unelected && v->checks && v->informers &&
              v->informer_clusters;
    if (ok && v->n_controllers) {
        memcpy(v->controllers, m->controllers, v->n_controllers * sizeof(kr_controller_t *));
        memcpy(v->controller_unelected, m->controller_unelected, v->n_controllers * sizeof(bool));
    }
    if (ok && v->n_checks)
        memcpy(v->checks, m->checks, v->n_checks * sizeof(*v->checks));
    if (ok && v->n_informers) {
        memcpy(v->informers, m->informers, v->n_informers * sizeof(kr_informer_t *));
        memcpy(v->informer_clusters, m->informer_clusters, v->n_informers * sizeof(long));
    }
    pthread_mutex_unlock(&m->lock);
    return ok ? 0 : KR_ENOMEM;
}

static void ready_view_free(struct ready_view *v)
{
    kr_free(v->controllers);
    kr_free(v->controller_unelected);
    kr_free(v->checks);
    kr_free(v->informers);
    kr_free(v->informer_clusters);
}

/* What /readyz writes: every check's line, or (`only` set, /readyz/<name>)
 * the line of that one alone, the other checks not run. The aggregate
 * withholds why a check failed, as kube-apiserver's and
 * controller-runtime's do (the endpoint is public): /readyz/<name> and the
 * log at debug level say it. */
struct ready_out {
    const char *only;
    struct excludes *excludes; /* the aggregate's ?exclude= */
    bool found; /* `only` is a check here */
    bool ready;
    kr_buf b;
    kr_buf why; /* the aggregate: the reasons withheld, for the log */
};

/* Is the check "prefix" + "name" (name NULL: "prefix" alone) one to run?
 * One excluded is written as such and not run. */
static bool ready_wants(struct ready_out *o, const char *prefix, const char *name)
{
    if (!o->only) {
        if (!excluded(o->excludes, prefix, name))
            return true;
        kr_buf_printf(&o->b, "[+]%s%s excluded: ok\n", prefix, name ? name : "");
        return false;
    }
    size_t len = strlen(prefix);
    if (strncmp(o->only, prefix, len) != 0 ||
        (name ? strcmp(o->only + len, name) != 0 : o->only[len] != '\0'))
        return false;
    o->found = true;
    return true;
}

/* The check "prefix" + "name" failed, for the reason `why`. */
static void ready_failed(struct ready_out *o, const char *prefix, const char *name, const char *why)
{
    o->ready = false;
    name = name ? name : "";
    if (o->only) {
        kr_buf_printf(&o->b, "[-]%s%s failed: %s\n", prefix, name, why);
        return;
    }
    kr_buf_printf(&o->b, "[-]%s%s failed: reason withheld\n", prefix, name);
    kr_buf_printf(&o->why, "%s%s%s: %s", o->why.len ? "; " : "", prefix, name, why);
}

/* An informer whose last list met a 404: its server does not serve the
 * resource (a CRD deleted, also after the cache synced, or never
 * installed), so nothing of it is seen there however synced it was. */
static bool informer_not_served(const kr_informer_t *inf)
{
    kr_error_t e;
    return kr_informer_last_error_detail(inf, &e) && (e.code == KR_ENOTFOUND || e.http_code == 404);
}

/* Appends "what" to the list in buf ("a, b"), unless it is there. */
static void name_once(char *buf, size_t len, const char *what)
{
    size_t used = strlen(buf), n = strlen(what);
    for (const char *p = buf; (p = strstr(p, what)) != NULL; p += n)
        if ((p == buf || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return;
    if (used + 2 + n < len)
        snprintf(buf + used, len - used, "%s%s", used ? ", " : "", what);
}

/* The informers line of /readyz: the hub's informers (and any of a client
 * not the manager's clusters') must have synced and must be served (a
 * resource whose lists meet a 404, its CRD gone, is seen nowhere); a
 * workload cluster's informer that has not synced, or whose cluster no
 * longer serves its resource, is named but holds nothing up, since a
 * dead datacenter delays nobody else (its controller lanes wait for it
 * alone), and a replica kept unready by one would never finish a
 * rollout. */
static void informers_line(kr_manager_t *m, const struct ready_view *v, struct ready_out *o)
{
    kr_buf *b = &o->b;
    size_t unsynced = 0, waiting = 0, unserved = 0;
    char names[256] = "", lost[512] = "", hub_lost[512] = "";
    for (size_t i = 0; i < v->n_informers; i++) {
        const kr_informer_t *inf = v->informers[i];
        long c = v->informer_clusters[i];
        bool synced = kr_informer_has_synced(inf), served = !informer_not_served(inf);
        if (c < 0) {
            unsynced += !synced;
            if (synced && !served) {
                unserved++;
                name_once(hub_lost, sizeof(hub_lost), kr_informer_describe(inf));
            }
            continue;
        }
        waiting += !synced;
        if (!served) /* described under its cluster's name: "dc2/example.com/v1/widgets ..." */
            name_once(lost, sizeof(lost), kr_informer_describe(inf));
        else if (!synced)
            name_once(names, sizeof(names), m->clusters[c].name);
    }
    if (unsynced > 0 || unserved > 0) {
        char why[640];
        if (unsynced > 0)
            snprintf(why, sizeof(why), "%zu of %zu not synced", unsynced + waiting, v->n_informers);
        else
            snprintf(why, sizeof(why), "not served (is its CRD installed?): %s", hub_lost);
        ready_failed(o, "informers", NULL, why);
        return;
    }
    if (waiting == 0 && !lost[0]) {
        kr_buf_printf(b, "[+]informers ok (%zu synced)\n", v->n_informers);
        return;
    }
    kr_buf_printf(b, "[+]informers ok (%zu of %zu synced", v->n_informers - waiting,
                  v->n_informers);
    if (names[0])
        kr_buf_printf(b, "; waiting for workload clusters: %s", names);
    if (lost[0])
        kr_buf_printf(b, "; not served (is its CRD installed there?): %s", lost);
    kr_buf_append_str(b, "; they hold up nobody else)\n");
}

static void ready_lines(kr_manager_t *m, const struct ready_view *v, struct ready_out *o)
{
    kr_buf *b = &o->b;
    if (ready_wants(o, "manager", NULL)) {
        if (v->state == STATE_RUNNING) {
            kr_buf_append_str(b, "[+]manager ok\n");
        } else {
            ready_failed(o, "manager", NULL,
                         v->state == STATE_NEW ? "not running yet" : "shutting down");
        }
    }
    if (ready_wants(o, "informers", NULL))
        informers_line(m, v, o);
    if (m->leader && ready_wants(o, "leader", NULL)) {
        char holder[256];
        kr_leader_observed_holder(m->leader, holder, sizeof(holder));
        if (v->leading)
            kr_buf_append_str(b, "[+]leader ok: leading\n");
        else
            kr_buf_printf(b, "[+]leader ok: standby, the leader is \"%s\"\n", holder);
    }
    /* the leader-only controllers while leading; those that run without
     * leadership on every replica */
    for (size_t i = 0; i < v->n_controllers; i++) {
        const char *name = kr_controller_name(v->controllers[i]);
        if ((!v->leading && !v->controller_unelected[i]) || !ready_wants(o, "controller ", name))
            continue;
        if (kr_controller_ready(v->controllers[i])) {
            kr_buf_printf(b, "[+]controller %s ok\n", name);
        } else {
            ready_failed(o, "controller ", name, "caches not synced or not started");
        }
    }
    for (size_t i = 0; i < v->n_checks; i++) {
        if (!ready_wants(o, "", v->checks[i].name))
            continue;
        char why[512] = "";
        if (v->checks[i].check(why, sizeof(why), v->checks[i].user)) {
            kr_buf_printf(b, "[+]%s ok\n", v->checks[i].name);
        } else {
            why[sizeof(why) - 1] = '\0';
            for (char *p = why; *p; p++)
                if (*p == '\n' || *p == '\r')
                    *p = ' ';
            ready_failed(o, "", v->checks[i].name, why[0] ? why : "not ready");
        }
    }
}

/* /readyz: every check's line (a failed one's reason withheld), then the
 * verdict, 200 or 503; "ok" alone when ready and not asked ?verbose.
 * ?exclude=NAME (repeated) skips a check. /readyz/<name>: that check alone
 * (controller-runtime's and kube-apiserver's), "ok" or its line with the
 * reason and a 503; 404 for a name that is no check here. */
static void readyz(const kr_http_request_t *req, kr_http_response_t *resp, void *user)
{
    kr_manager_t *m = user;
    const char *name = check_name(req);
    if (!name) {
        no_such_path(resp);
        return;
    }
    struct ready_out o = {.only = name[0] ? name : NULL, .ready = true};
    struct excludes x = {0};
    struct ready_view v;
    int rc = o.only ? 0 : excludes_take(req, &x);
    if (rc == 0)
        rc = ready_view_take(m, &v);
    else
        v = (struct ready_view){0};
    if (rc != 0) {
        ready_view_free(&v);
        excludes_free(&x);
        kr_http_respond_error(resp, 500, "out of memory");
        return;
    }
    o.excludes = &x;
    ready_lines(m, &v, &o);
    ready_view_free(&v);
    if (o.only && !o.found) {
        kr_http_respond_error(resp, 404, "no readiness check named \"%s\"", o.only);
    } else if (!o.only) {
        if (!o.ready)
            kr_log(&m->logger, KR_LOG_DEBUG, "manager", "readyz check failed: %s",
                   o.why.data ? o.why.data : "out of memory");
        respond_aggregate(req, resp, o.ready, &o.b, &x);
    } else {
        if (o.ready) {
            kr_buf_reset(&o.b);
            kr_buf_append_str(&o.b, "ok");
        }
        if (!o.b.data)
            kr_http_respond_error(resp, 500, "out of memory");
        else
            kr_http_respond(resp, o.ready ? 200 : 503, "text/plain; charset=utf-8", o.b.data,
                            o.b.len);
    }
    kr_buf_free(&o.b);
    kr_buf_free(&o.why);
    excludes_free(&x);
}

/* ---- leader election callbacks (loop thread: never block) ---------------------------- */

static void on_started_leading(const kr_leader_term *term, void *user)
{
    kr_manager_t *m = user;
    kr_log(&m->logger, KR_LOG_INFO, "manager", "started leading (term %llu)",
           (unsigned long long)term->transitions);
    pthread_mutex_lock(&m->lock);
    m->lead_started_pending = true;
    pthread_cond_broadcast(&m->changed);
    pthread_mutex_unlock(&m->lock);
}

static void set_watchdog(kr_manager_t *m, int64_t at_ns);

/* Every step-down before the leader-only parts have stopped is a loss,
 * also during a graceful stop: from now on, reconciles still
 * running get until another replica may lead, then the process exits
 * (the watchdog). [loop thread] */
static void on_stopped_leading(void *user)
{
    kr_manager_t *m = user;
    pthread_mutex_lock(&m->lock);
    atomic_store(&m->leading, false);
    bool lost = !m->leader_stopping;
    bool stopping = m->state != STATE_RUNNING || m->stop_requested;
    if (lost && !stopping)
        m->lead_lost_pending = true;
    if (lost && stopping) {
        m->exit_code = 1;
        m->lost_in_stop = true;
    }
    /* armed under the lock: once the leader-only parts have stopped
     * (leader_stopping set, the watchdog disarmed), it is not armed again */
    if (lost)
        set_watchdog(m, kr_ns_after_ms(kr_clock_monotonic_ns(), m->lost_grace_ms));
    pthread_cond_broadcast(&m->changed);
    pthread_mutex_unlock(&m->lock);
    if (!lost)
        return;
    kr_log(&m->logger, KR_LOG_ERROR, "manager", "leadership lost: stopping%s",
           stopping ? " (a stop was under way)" : "");
}

/* Nothing guarded by the Lease runs any more: a step-down from now on is
 * no loss, and the watchdog is disarmed. */
static void lease_unneeded(kr_manager_t *m)
{
    pthread_mutex_lock(&m->lock);
    m->leader_stopping = true;
    set_watchdog(m, 0);
    pthread_mutex_unlock(&m->lock);
}

static void on_new_leader(const char *identity, void *user)
{
    kr_manager_t *m = user;
    kr_log_field f[] = {{"leader", identity}};
    kr_log_fields(&m->logger, KR_LOG_INFO, "manager", f, 1, "new leader observed");
}

/* ---- building ----------------------------------------------------------------------- */

/* The client rate limit: the program's default (kr_manager_opts), then the
 * command line's (--kube-api-qps, --kube-api-burst) over the kubeconfig's,
 * else 20 and 30 (controller-runtime's up to v0.20);
 * the request timeout: --request-timeout, else the program's default. */
static void apply_rate_limit(const kr_manager_t *m, kr_rest_config *rc)
{
    /* controller-runtime's default up to v0.20 for a config without one
     * (its GetConfig): 20 qps, burst 30, where client-go's is 5 and 10;
     * v0.21 sets none (-1), relying on API Priority and Fairness: a
     * program that wants that says --kube-api-qps -1 */
    if (rc->qps == 0) {
        rc->qps = MANAGER_DEFAULT_QPS;
        if (rc->burst <= 0)
            rc->burst = MANAGER_DEFAULT_BURST;
    }
    if (m->client_qps != 0)
        rc->qps = m->client_qps;
    if (m->client_burst > 0)
        rc->burst = m->client_burst;
    if (m->config->kube_api_qps != 0)
        rc->qps = m->config->kube_api_qps;
    if (m->config->kube_api_burst > 0)
        rc->burst = (int)m->config->kube_api_burst;
    rc->timeout_ms =
        m->config->request_timeout_set ? m->config->request_timeout_ms : m->request_timeout_ms;
}

/* Every client the manager makes reports its requests into the registry
 * (rest_client_* by host), so that each program's /metrics shows them. */
static int new_client(kr_manager_t *m, const kr_rest_config *config, kr_client_t **out,
                      kr_error_t *err)
{
    kr_client_opts co = KR_CLIENT_OPTS_INIT;
    co.metrics = m->metrics;
    return kr_client_new(m->rt, config, &co, out, err);
}

static int load_hub(kr_manager_t *m, kr_error_t *err)
{
    const kr_manager_config *cfg = m->config;
    kr_config_load_opts lo = {.kubeconfig = cfg->kubeconfig, .logger = m->logger};
    lo.overrides.context = cfg->context;
    kr_error_t e = {0};
    int rc = kr_config_load(&lo, &m->hub_config, &e);
    if (rc != 0)
        return kr_error_set(err, rc == KR_ENOMEM ? KR_ENOMEM : KR_EINVAL, "hub kubeconfig: %s",
                            e.message);
    m->hub_namespace = kr_strdup(m->hub_config->namespace_ && *m->hub_config->namespace_
                                     ? m->hub_config->namespace_
                                     : "default");
    if (!m->hub_namespace)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    apply_rate_limit(m, m->hub_config);
    rc = new_client(m, m->hub_config, &m->hub, &e);
    if (rc != 0)
        return kr_error_set(err, rc == KR_ENOMEM ? KR_ENOMEM : KR_EINVAL, "hub: %s", e.message);
    kr_event_recorder_opts eo = {
        .client = m->hub, .component = m->program->name, .logger = m->logger};
    return kr_event_recorder_new(&eo, &m->events, err);
}

/* An apiserver URL as one text per apiserver, into buf (`len` bytes):
 * the scheme and host in lower case (https when the URL names none, as
 * client-go takes it), the port always (443 for https, 80 for http when
 * not given; leading zeros dropped), the path without trailing '/'
 * (another path prefix is another apiserver: a proxy's per-cluster
 * paths). "https://API.Example.com/" and "https://api.example.com:443"
 * are one. False for a URL it cannot read (no host, a port that is no
 * number): not judged. */
static bool server_key(const char *server, char *buf, size_t len)
{
    if (!server || !*server)
        return false;
    const char *sep = strstr(server, "://"), *p = server;
    char scheme[16] = "https";
    if (sep) {
        size_t n = (size_t)(sep - server);
        if (n == 0 || n >= sizeof(scheme))
            return false;
        for (size_t i = 0; i < n; i++)
            scheme[i] = (char)tolower((unsigned char)server[i]);
        scheme[n] = '\0';
        p = sep + 3;
    }
    size_t auth_len = strcspn(p, "/?#");
    const char *path = p + auth_len;
    const char *at = NULL; /* user information (up to the last '@') is no part of the server */
    for (const char *q = p; q < p + auth_len; q++)
        if (*q == '@')
            at = q;
    if (at) {
        auth_len -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *host = p, *host_end;
    if (*p == '[') { /* an IPv6 literal */
        const char *close = memchr(p, ']', auth_len);
        if (!close)
            return false;
        host_end = close + 1;
    } else {
        const char *colon = memchr(p, ':', auth_len);
        host_end = colon ? colon : p + auth_len;
    }
    if (host_end == host)
        return false;
    unsigned long port = strcmp(scheme, "http") == 0 ? 80 : 443;
    const char *auth_end = p + auth_len;
    if (host_end < auth_end) {
        if (*host_end != ':')
            return false;
        const char *digits = host_end + 1;
        if (digits < auth_end) { /* "host:" is the default port, as Go reads it */
            port = 0;
            for (const char *d = digits; d < auth_end; d++) {
                if (*d < '0' || *d > '9' || port > 65535)
                    return false;
                port = port * 10 + (unsigned long)(*d - '0');
            }
            if (port > 65535)
                return false;
        }
    }
    size_t path_len = strcspn(path, "#");
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    int n = snprintf(buf, len, "%s://", scheme);
    for (const char *h = host; h < host_end && n >= 0 && (size_t)n + 1 < len; h++)
        buf[n++] = (char)tolower((unsigned char)*h);
    if (n < 0 || (size_t)n >= len)
        return false;
    int more = snprintf(buf + n, len - (size_t)n, ":%lu%.*s", port, (int)path_len, path);
    return more >= 0 && (size_t)more < len - (size_t)n;
}

/* One apiserver under two --cluster names would have the program act on
 * the same objects twice (kr-syncer: one lane delete, as unplaced, the
 * copies the other lane makes; kr-sweeper: plan and delete them twice);
 * with opts->clusters_not_hub, the hub's too (kr-syncer's copies would be
 * the hub objects themselves; kr-submitter may run on the hub). Told by
 * server_key, so that a case, a default port or a trailing '/' hides
 * nothing. KR_EINVAL naming both. */
static int check_cluster_server(kr_manager_t *m, struct cluster *c, kr_error_t *err)
{
    char key[1024];
    if (!server_key(c->config->server, key, sizeof(key)))
        return 0;
    c->server_key = kr_strdup(key);
    if (!c->server_key)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    for (size_t i = 0; i + 1 < m->n_clusters; i++)
        if (m->clusters[i].server_key && strcmp(m->clusters[i].server_key, key) == 0)
            return kr_error_set(err, KR_EINVAL,
                                "--cluster %s: its apiserver %s is that of --cluster %s: one "
                                "cluster under two names would have its objects acted on twice",
                                c->name, c->config->server, m->clusters[i].name);
    char hub[1024];
    if (m->clusters_not_hub && m->hub_config &&
        server_key(m->hub_config->server, hub, sizeof(hub)) && strcmp(hub, key) == 0)
        return kr_error_set(err, KR_EINVAL,
                            "--cluster %s: its apiserver %s is the hub's: %s keeps the hub and "
                            "its workload clusters apart",
                            c->name, c->config->server, m->program->name);
    return 0;
}

static int load_cluster(kr_manager_t *m, const kr_manager_cluster_arg *arg, kr_error_t *err)
{
    if (strcmp(arg->name, m->hub_name) == 0)
        return kr_error_set(err, KR_EINVAL, "cluster \"%s\": the hub's name", arg->name);
    if (kr_manager_cluster_find(m, arg->name) >= 0)
        return kr_error_set(err, KR_EINVAL, "cluster \"%s\" given twice", arg->name);
    if (grow((void **)&m->clusters, m->n_clusters, sizeof(*m->clusters)) != 0)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    struct cluster *c = &m->clusters[m->n_clusters];
    *c = (struct cluster){.name = kr_strdup(arg->name)};
    m->n_clusters++;
    if (!c->name)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    kr_kubeconfig_opts ko = {.logger = m->logger};
    kr_kubeconfig_t *kc = NULL;
    kr_error_t e = {0};
    const char *path = arg->kubeconfig;
    int rc = kr_kubeconfig_load_files(&path, 1, &ko, &kc, &e);
    if (rc == 0) {
        kr_config_overrides ov = {.context = arg->context};
        rc = kr_kubeconfig_rest_config(kc, &ov, &c->config, &e);
    }
    kr_kubeconfig_free(kc);
    if (rc == 0 && (rc = check_cluster_server(m, c, err)) != 0)
        return rc;
    if (rc == 0) {
        apply_rate_limit(m, c->config);
        rc = new_client(m, c->config, &c->client, &e);
    }
    if (rc == 0)
        rc = kr_informer_factory_name_cluster(m->factory, c->client, c->name, &e);
    if (rc != 0)
        return kr_error_set(err, rc == KR_ENOMEM ? KR_ENOMEM : KR_EINVAL, "cluster %s: %s",
                            arg->name, e.message);
    return 0;
}

static int make_leader(kr_manager_t *m, const kr_manager_opts *opts, kr_error_t *err)
{
    const kr_manager_config *cfg = m->config;
    if (!m->hub)
        return kr_error_set(err, KR_EINVAL, "--leader-elect needs a hub cluster");
    int rc = new_client(m, m->hub_config, &m->leader_client, err);
    if (rc != 0)
        return rc;
    kr_leader_opts lo = KR_LEADER_OPTS_INIT;
    lo.client = m->leader_client;
    lo.lease_namespace =
        cfg->lease_namespace && *cfg->lease_namespace ? cfg->lease_namespace : m->hub_namespace;
    lo.lease_name = cfg->lease_name && *cfg->lease_name ? cfg->lease_name
                    : opts->program->default_lease_name ? opts->program->default_lease_name
                                                        : opts->program->name;
    lo.lease_duration_ms = cfg->leader_lease_duration_ms;
    lo.renew_deadline_ms = cfg->leader_renew_deadline_ms;
    uint64_t lease_ms =
                 lo.lease_duration_ms ? lo.lease_duration_ms : KR_LEADER_DEFAULT_LEASE_DURATION_MS,
             renew_ms =
                 lo.renew_deadline_ms ? lo.renew_deadline_ms : KR_LEADER_DEFAULT_RENEW_DEADLINE_MS;
    m->lost_grace_ms = lease_ms > renew_ms ? lease_ms - renew_ms : 0; /* else refused below */
    lo.retry_period_ms = cfg->leader_retry_period_ms;
    lo.on_started_leading = on_started_leading;
    lo.on_stopped_leading = on_stopped_leading;
    lo.one_term = true; /* a loss stops the program: no Lease taken back meanwhile */
    lo.on_new_leader = on_new_leader;
    lo.user = m;
    lo.metrics = m->metrics;
    lo.logger = m->logger;
    return kr_leader_new(&lo, &m->leader, err);
}

/* What --token-auth-file, --token-review and --authorization-review ask for. */
static int make_authenticators(kr_manager_t *m, kr_error_t *err)
{
    const kr_manager_config *cfg = m->config;
    if (cfg->token_review_audiences.n && !cfg->token_review)
        return kr_error_set(err, KR_EINVAL, "--token-review-audience needs --token-review");
    if (cfg->token_auth_file) {
        kr_error_t e = {0};
        int rc = kr_token_file_load(cfg->token_auth_file, &m->token_file, &e);
        if (rc != 0)
            return kr_error_set(err, rc == KR_ENOMEM ? KR_ENOMEM : KR_EINVAL,
                                "--token-auth-file: %s", e.message);
    }
    if (cfg->authorization_review && !cfg->token_auth_file && !cfg->token_review)
        return kr_error_set(err, KR_EINVAL,
                            "--authorization-review needs --token-auth-file or --token-review: "
                            "it authorizes the callers they authenticate");
    if ((cfg->token_review || cfg->authorization_review) && !m->hub)
        return kr_error_set(err, KR_EINVAL, "%s needs a hub cluster",
                            cfg->token_review ? "--token-review" : "--authorization-review");
    if (cfg->authorization_review) {
        kr_access_reviewer_opts ao = {.client = m->hub};
        int rc = kr_access_reviewer_new(&ao, &m->authorizer, err);
        if (rc != 0)
            return rc;
    }
    if (!cfg->token_review)
        return 0;
    kr_token_reviewer_opts ro = {.client = m->hub,
                                 .audiences = cfg->token_review_audiences.items,
                                 .n_audiences = cfg->token_review_audiences.n};
    return kr_token_reviewer_new(&ro, &m->reviewer, err);
}

static int make_http(kr_manager_t *m, const kr_manager_opts *opts, kr_error_t *err)
{
    const kr_manager_config *cfg = m->config;
    if (!cfg->tls_cert_file != !cfg->tls_private_key_file)
        return kr_error_set(err, KR_EINVAL, "%s needs %s",
                            cfg->tls_cert_file ? "--tls-cert-file" : "--tls-private-key-file",
                            cfg->tls_cert_file ? "--tls-private-key-file" : "--tls-cert-file");
    if (listen_disabled(cfg->listen))
        return 0;
    char *cert = NULL, *key = NULL;
    int rc = 0;
    if (cfg->tls_cert_file) {
        kr_error_t e = {0};
        rc = kr_read_file(cfg->tls_cert_file, 1u << 20, "--tls-cert-file", &cert, NULL, &e);
        if (rc == 0)
            rc = kr_read_file(cfg->tls_private_key_file, 1u << 20, "--tls-private-key-file", &key,
                              NULL, &e);
        if (rc != 0) {
            kr_free(cert);
            return kr_error_set(err, rc == KR_ENOMEM ? KR_ENOMEM : KR_EINVAL, "%s", e.message);
        }
    }
    kr_http_server_opts ho = {.listen = cfg->listen,
                              .max_body_bytes = opts->max_body_bytes,
                              .logger = m->logger,
                              .tls_cert_pem = cert,
                              .tls_key_pem = key};
    rc = kr_http_server_new(&ho, &m->http, err);
    if (key)
        OPENSSL_cleanse(key, strlen(key));
    kr_free(cert);
    kr_free(key);
    if (rc == 0)
        rc = kr_http_server_route(m->http, "GET", "/healthz", NULL, NULL, healthz, m, true, err);
    if (rc == 0)
        rc = kr_http_server_route(m->http, "GET", "/healthz/*", NULL, NULL, healthz_check, m, true,
                                  err);
    if (rc == 0)
        rc = kr_http_server_route(m->http, "GET", "/livez", NULL, NULL, healthz, m, true, err);
    if (rc == 0)
        rc = kr_http_server_route(m->http, "GET", "/livez/*", NULL, NULL, healthz_check, m, true,
                                  err);
    if (rc == 0)
        rc = kr_http_server_route(m->http, "GET", "/readyz", NULL, NULL, readyz, m, true, err);
    if (rc == 0)
        rc = kr_http_server_route(m->http, "GET", "/readyz/*", NULL, NULL, readyz, m, true, err);
    if (rc == 0)
        rc = kr_http_server_route(m->http, "GET", "/metrics", NULL, NULL, metrics_route, m, true,
                                  err);
    return rc;
}

int kr_manager_config_log_sink(const kr_manager_config *cfg, FILE *out, kr_log_sink_t **sink,
                               kr_logger *out_logger, kr_error_t *err)
{
    if (!cfg)
        return kr_error_set(err, KR_EINVAL, "kr_manager_config_log_sink: NULL config");
    return kr_log_sink_new(out, cfg->log_format, level_of_verbosity(cfg->verbosity), sink,
                           out_logger, err);
}

static int make_logger(kr_manager_t *m, const kr_manager_opts *opts, kr_error_t *err)
{
    if (opts->logger.cb || opts->logger.fields_cb) {
        m->logger = opts->logger;
        return 0;
    }
    return kr_manager_config_log_sink(m->config, stderr, &m->sink, &m->logger, err);
}

static int build(kr_manager_t *m, const kr_manager_opts *opts, kr_error_t *err)
{
    int rc = make_logger(m, opts, err);
    if (rc != 0)
        return rc;
    kr_runtime_opts ro = {.logger = m->logger};
    if ((rc = kr_runtime_new(&ro, &m->rt, err)) != 0 || (rc = kr_runtime_start(m->rt, err)) != 0)
        return rc;
    if ((rc = kr_metrics_registry_new(&m->metrics, err)) != 0)
        return rc;
    m->factory_opts = opts->informers;
    if (!m->factory_opts.metrics)
        m->factory_opts.metrics = m->metrics;
    if (!m->factory_opts.logger.cb && !m->factory_opts.logger.fields_cb)
        m->factory_opts.logger = m->logger;
    if ((rc = kr_informer_factory_new(&m->factory_opts, &m->factory, err)) != 0)
        return rc;
    if (!opts->no_hub && (rc = load_hub(m, err)) != 0)
        return rc;
    for (size_t i = 0; i < m->config->n_clusters; i++)
        if ((rc = load_cluster(m, &m->config->clusters[i], err)) != 0)
            return rc;
    if (m->config->leader_elect && (rc = make_leader(m, opts, err)) != 0)
        return rc;
    if ((rc = make_authenticators(m, err)) != 0)
        return rc;
    return make_http(m, opts, err);
}

int kr_manager_new(const kr_manager_opts *opts, kr_manager_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "kr_manager_new: NULL out");
    *out = NULL;
    if (!opts || !opts->program || !opts->program->name || !opts->config)
        return kr_error_set(err, KR_EINVAL, "kr_manager_new: a program and its parsed config");
    if (opts->version > KR_MANAGER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "kr_manager_new: options version %u unknown",
                            opts->version);
    if (opts->no_hub && opts->config->leader_elect)
        return kr_error_set(err, KR_EINVAL, "--leader-elect needs a hub cluster");
    kr_manager_t *m = kr_calloc(1, sizeof(*m));
    if (!m)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    m->program = opts->program;
    m->config = opts->config;
    m->shutdown_timeout_ms =
        opts->shutdown_timeout_ms ? opts->shutdown_timeout_ms : DEFAULT_SHUTDOWN_MS;
    if (opts->version >= 2) {
        m->client_qps = opts->client_qps;
        m->client_burst = opts->client_burst;
    }
    if (opts->version >= 3)
        m->request_timeout_ms = opts->request_timeout_ms;
    if (opts->version >= 4)
        m->clusters_not_hub = opts->clusters_not_hub;
    m->signal_fd = -1;
    m->wake_fd = -1;
    pthread_mutex_init(&m->lock, NULL);
    kr_cond_init(&m->changed); /* timed waits on the monotonic clock */
    /* Every thread made from here on inherits the blocked signals; only
     * the signal thread takes them, synchronously. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, &m->old_mask);
    const char *hub_name = opts->config->hub_name ? opts->config->hub_name : opts->hub_name;
    m->hub_name = kr_strdup(hub_name ? hub_name : "hub");
    int rc = m->hub_name ? build(m, opts, err) : kr_error_set(err, KR_ENOMEM, "out of memory");
    if (rc != 0) {
        kr_manager_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- running ------------------------------------------------------------------------- */

void kr_manager_stop(kr_manager_t *m, int exit_code)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    if (!m->stop_requested) {
        m->stop_requested = true;
        m->exit_code = exit_code;
    }
    pthread_cond_broadcast(&m->changed);
    pthread_mutex_unlock(&m->lock);
}

/* The earlier of two deadlines, 0 meaning none. */
static int64_t earlier(int64_t a, int64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

static void *signal_main(void *arg)
{
    kr_manager_t *m = arg;
    int signals = 0;
    int64_t signal_deadline_ns = 0; /* a signal's graceful stop */
    for (;;) {
        int64_t watchdog_ns = atomic_load(&m->watchdog_ns);
        int64_t deadline_ns = earlier(signal_deadline_ns, watchdog_ns);
        int timeout = -1;
        if (deadline_ns) {
            int64_t left = (deadline_ns - kr_clock_monotonic_ns()) / 1000000;
            timeout = left <= 0 ? 0 : left < INT_MAX ? (int)left : INT_MAX;
        }
        struct pollfd p[2] = {{m->signal_fd, POLLIN, 0}, {m->wake_fd, POLLIN, 0}};
        int n = poll(p, 2, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (p[1].revents) {
            /* to end, or the watchdog armed or disarmed: look again */
            uint64_t v;
            ssize_t r = read(m->wake_fd, &v, sizeof(v));
            (void)r;
            if (atomic_load(&m->signal_quit))
                return NULL;
            continue;
        }
        if (n == 0 && kr_clock_monotonic_ns() < deadline_ns)
            continue; /* a deadline further off than poll waits */
        if (n == 0 && watchdog_ns && deadline_ns == watchdog_ns &&
            atomic_load(&m->watchdog_ns) == watchdog_ns) {
            kr_log(&m->logger, KR_LOG_ERROR, "manager",
                   "leadership lost and a reconcile still runs %llu ms later, when another "
                   "replica may lead: exiting",
                   (unsigned long long)m->lost_grace_ms);
            _exit(1);
        }
        if (n == 0 && signal_deadline_ns && deadline_ns == signal_deadline_ns) {
            kr_log(&m->logger, KR_LOG_ERROR, "manager",
                   "graceful stop did not finish within %llu ms: exiting",
                   (unsigned long long)m->shutdown_timeout_ms + SHUTDOWN_GRACE_MS);
            _exit(1);
        }
        if (n <= 0)
            continue; /* the watchdog was disarmed meanwhile */
        struct signalfd_siginfo si;
        if (read(m->signal_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
            continue;
        const char *name = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
        if (++signals > 1) {
            kr_log(&m->logger, KR_LOG_WARN, "manager", "second signal (%s): exiting at once", name);
            _exit(130);
        }
        kr_log(&m->logger, KR_LOG_INFO, "manager",
               "%s received: stopping gracefully (a second signal exits at once)", name);
        signal_deadline_ns = kr_ns_after_ms(
            kr_ns_after_ms(kr_clock_monotonic_ns(), m->shutdown_timeout_ms), SHUTDOWN_GRACE_MS);
        kr_manager_stop(m, 0);
    }
}

/* Arm (at_ns) or disarm (0) the lost-leadership watchdog. */
static void set_watchdog(kr_manager_t *m, int64_t at_ns)
{
    atomic_store(&m->watchdog_ns, at_ns);
    uint64_t one = 1;
    ssize_t w = write(m->wake_fd, &one, sizeof(one));
    (void)w;
}

static int start_signal_thread(kr_manager_t *m)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    m->signal_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
    m->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (m->signal_fd < 0 || m->wake_fd < 0)
        return KR_EIO;
    if (pthread_create(&m->signal_thread, NULL, signal_main, m) != 0)
        return KR_EIO;
    m->signal_thread_started = true;
    return 0;
}

static void stop_signal_thread(kr_manager_t *m)
{
    if (m->signal_thread_started) {
        atomic_store(&m->signal_quit, true);
        uint64_t one = 1;
        ssize_t w = write(m->wake_fd, &one, sizeof(one));
        (void)w;
        pthread_join(m->signal_thread, NULL);
        m->signal_thread_started = false;
    }
    if (m->signal_fd >= 0)
        close(m->signal_fd);
    if (m->wake_fd >= 0)
        close(m->wake_fd);
    m->signal_fd = m->wake_fd = -1;
}

static int start_runnables(kr_manager_t *m, bool leader_only)
{
    for (size_t i = 0; i < m->n_runnables; i++) {
        struct runnable *r = &m->runnables[i];
        if (r->leader_only != leader_only || r->started)
            continue;
        int rc = r->start(m, r->user);
        if (rc != 0) {
            kr_log(&m->logger, KR_LOG_ERROR, "manager", "a runnable failed to start: %s",
                   kr_strerror(rc));
            return rc;
        }
        r->started = true;
    }
    return 0;
}

static void stop_runnables(kr_manager_t *m, bool leader_only)
{
    for (size_t i = m->n_runnables; i-- > 0;) {
        struct runnable *r = &m->runnables[i];
        if (r->leader_only != leader_only || !r->started)
            continue;
        if (r->stop)
            r->stop(m, r->user);
        r->started = false;
    }
}

/* The controllers of one group (the leader-only ones, or those that run
 * without leadership: `unelected`), copied under the lock (new; kr_free),
 * with *n set and the group's started flag set to `started`. NULL when
 * there are none or out of memory (then *n is 0; *oom tells). */
static kr_controller_t **controllers_take(kr_manager_t *m, bool unelected, bool started, size_t *n,
                                          bool *was_started, bool *oom)
{
    pthread_mutex_lock(&m->lock);
    bool *flag = unelected ? &m->unelected_started : &m->controllers_started;
    *was_started = *flag;
    *flag = started;
    *n = 0;
    *oom = false;
    kr_controller_t **copy =
        m->n_controllers ? kr_calloc(m->n_controllers, sizeof(kr_controller_t *)) : NULL;
    for (size_t i = 0; copy && i < m->n_controllers; i++)
        if (m->controller_unelected[i] == unelected)
            copy[(*n)++] = m->controllers[i];
    *oom = m->n_controllers && !copy;
    pthread_mutex_unlock(&m->lock);
    return copy;
}

/* Start the controllers of one group; the first failure's code.
 * [main thread] */
static int controllers_start(kr_manager_t *m, bool unelected)
{
    size_t n;
    bool was_started, oom;
    kr_controller_t **ctls = controllers_take(m, unelected, true, &n, &was_started, &oom);
    if (oom)
        return KR_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        kr_error_t err = {0};
        if (kr_controller_start(ctls[i], &err) != 0) {
            /* the controller's errors name it */
            kr_log(&m->logger, KR_LOG_ERROR, "manager", "%s", err.message);
            rc = err.code ? err.code : KR_EIO;
        }
    }
    kr_free(ctls);
    return rc;
}

/* Cut the controllers of one group off: no new reconcile in any of them
 * from now on. Returns those to wait for (new; NULL entries for those
 * stopped already), *n set. [main thread] */
static kr_controller_t **controllers_cut(kr_manager_t *m, bool unelected, size_t *n)
{
    bool was_started, oom;
    kr_controller_t **ctls = controllers_take(m, unelected, false, n, &was_started, &oom);
    for (size_t i = *n; i-- > 0;)
        if (!was_started || !kr_controller_stop_begin(ctls[i]))
            ctls[i] = NULL; /* stopped already: nothing to wait for */
    return ctls;
}

/* Wait for controllers cut off (controllers_cut), all from `since`, and
 * free the list. [main thread] */
static void controllers_wait(kr_manager_t *m, kr_controller_t **ctls, size_t n, int64_t since)
{
    for (size_t i = n; i-- > 0;) {
        kr_error_t err = {0};
        if (ctls[i] && kr_controller_stop_wait(ctls[i], since, &err) != 0)
            kr_log(&m->logger, KR_LOG_WARN, "manager", "%s", err.message);
    }
    kr_free(ctls);
}

/* Start the leader-only parts: the controllers, then the leader-only
 * runnables. [main thread] */
static int lead_start(kr_manager_t *m)
{
    /* leadership lost (or a stop asked) since the event: nothing starts,
     * and the next wait sees why */
    pthread_mutex_lock(&m->lock);
    bool gone = m->lead_lost_pending || m->stop_requested;
    if (!gone)
        atomic_store(&m->leading, true);
    pthread_mutex_unlock(&m->lock);
    if (gone)
        return 0;
    int rc = controllers_start(m, false);
    return rc != 0 ? rc : start_runnables(m, true);
}

/* Stop the leader-only parts, controllers first, and cut off those that
 * run without leadership at the same moment: every controller is cut off
 * (no new reconcile anywhere) before any is waited on, and all wait from
 * the same moment, so that one slow reconcile neither lets the other
 * controllers go on working nor adds up with another's. The leader-only
 * ones are waited on here; the others are left in *unelected (n_unelected)
 * for the caller to wait on once the Lease is no longer needed, since
 * nothing of theirs is guarded by it. [main thread] */
static void lead_stop(kr_manager_t *m, kr_controller_t ***unelected, size_t *n_unelected,
                      int64_t *since)
{
    atomic_store(&m->leading, false);
    size_t n;
    kr_controller_t **ctls = controllers_cut(m, false, &n);
    *unelected = controllers_cut(m, true, n_unelected);
    *since = kr_clock_monotonic_ns();
    controllers_wait(m, ctls, n, *since);
    stop_runnables(m, true);
}

/* The first started controller that gave up waiting for its caches, or
 * NULL (m->lock held). */
static kr_controller_t *failed_controller(kr_manager_t *m)
{
    for (size_t i = 0; i < m->n_controllers; i++) {
        bool started = m->controller_unelected[i] ? m->unelected_started : m->controllers_started;
        if (started && kr_controller_failed(m->controllers[i]))
            return m->controllers[i];
    }
    return NULL;
}

/* Wait for the next event; returns false when the manager must stop.
 * *lost: it stops because leadership was lost. */
static bool wait_event(kr_manager_t *m, bool *lead_now, bool *lost)
{
    *lead_now = *lost = false;
    pthread_mutex_lock(&m->lock);
    kr_controller_t *failed = NULL;
    while (!m->stop_requested && !m->lead_started_pending && !m->lead_lost_pending &&
           !(failed = failed_controller(m))) {
        /* a controller gives up on its caches without a word: look */
        struct timespec deadline;
        kr_deadline_after_ms(&deadline, FAILED_POLL_MS);
        kr_cond_wait(&m->changed, &m->lock,
                     m->controllers_started || m->unelected_started ? &deadline : NULL);
    }
    bool go_on = true;
    if (m->stop_requested) {
        go_on = false;
    } else if (m->lead_lost_pending) {
        m->stop_requested = true;
        m->exit_code = 1;
        *lost = true;
        go_on = false;
    } else if (failed) {
        kr_log(&m->logger, KR_LOG_ERROR, "manager",
               "controller %s: its caches did not sync in time: stopping (exit 1)",
               kr_controller_name(failed));
        m->stop_requested = true;
        m->exit_code = 1;
        go_on = false;
    } else {
        m->lead_started_pending = false;
        *lead_now = true;
    }
    if (!go_on)
        m->state = STATE_STOPPING;
    pthread_mutex_unlock(&m->lock);
    return go_on;
}

static int start_all(kr_manager_t *m, kr_error_t *err)
{
    int rc = start_signal_thread(m);
    if (rc != 0)
        return kr_error_set(err, rc, "cannot take signals: %s", strerror(errno));
    if ((rc = kr_informer_factory_start(m->factory, err)) != 0)
        return rc;
    if (m->http && (rc = kr_http_server_start(m->http, err)) != 0)
        return rc;
    if (m->http)
        kr_log(&m->logger, KR_LOG_INFO, "manager", "serving /healthz, /readyz, /metrics on %s",
               kr_http_server_address(m->http));
    /* what runs without leadership: on every replica, from now until the
     * stop, whoever leads */
    if ((rc = controllers_start(m, true)) != 0)
        return kr_error_set(err, rc, "a controller that runs without leadership failed to start");
    if ((rc = start_runnables(m, false)) != 0)
        return kr_error_set(err, rc, "a runnable failed to start");
    if (m->leader)
        return kr_leader_start(m->leader, err);
    return lead_start(m) == 0 ? 0 : kr_error_set(err, KR_EIO, "the leader-only parts failed");
}

/* Stop the informers handed out by kr_manager_informer (the factory
 * stops the others when freed). [main thread] */
static void stop_informers(kr_manager_t *m)
{
    pthread_mutex_lock(&m->lock);
    size_t n = m->n_informers;
    kr_informer_t **copy = n ? kr_calloc(n, sizeof(kr_informer_t *)) : NULL;
    if (copy)
        memcpy(copy, m->informers, n * sizeof(kr_informer_t *));
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; copy && i < n; i++)
        kr_informer_stop(copy[i]);
    kr_free(copy);
}

int kr_manager_run(kr_manager_t *m)
{
    if (!m)
        return 1;
    pthread_mutex_lock(&m->lock);
    bool first = m->state == STATE_NEW;
    if (first)
        m->state = STATE_RUNNING;
    pthread_mutex_unlock(&m->lock);
    if (!first)
        return 1;
    kr_error_t err = {0};
    if (start_all(m, &err) != 0) {
        kr_log(&m->logger, KR_LOG_ERROR, "manager", "start failed: %s", err.message);
        kr_manager_stop(m, 1);
    }
    bool lead_now, lost;
    while (wait_event(m, &lead_now, &lost))
        if (lead_now && lead_start(m) != 0)
            kr_manager_stop(m, 1);
    /* As controller-runtime, no graceful drain once another replica may
     * lead: in-flight reconciles get until then (the watchdog
     * on_stopped_leading armed), or the process exits. */
    pthread_mutex_lock(&m->lock);
    m->state = STATE_STOPPING;
    pthread_mutex_unlock(&m->lock);
    kr_log(&m->logger, KR_LOG_INFO, "manager", "stopping");
    /* The Lease goes once what it guards has stopped: nothing guarded by
     * it may run once another replica can take over, and nothing else
     * (what runs without leadership) holds it meanwhile. */
    kr_controller_t **unelected;
    size_t n_unelected;
    int64_t since;
    lead_stop(m, &unelected, &n_unelected, &since);
    lease_unneeded(m);
    pthread_mutex_lock(&m->lock);
    lost = lost || m->lost_in_stop;
    pthread_mutex_unlock(&m->lock);
    if (m->leader) {
        /* released now, not after the rest stops (a reconcile of a
         * controller without leader election may take its shutdown
         * timeout); after a loss the elector competes no more (one_term)
         * and a Lease that still names this replica is cleared */
        kr_error_t lerr = {0};
        if (kr_leader_stop(m->leader, 0, &lerr) != 0)
            kr_log(&m->logger, KR_LOG_WARN, "manager", "stopping the election: %s", lerr.message);
    }
    /* then what ran without leadership, controllers (cut off with the
     * others, waited on from the same moment) before runnables */
    controllers_wait(m, unelected, n_unelected, since);
    /* the endpoint takes no new connection, and the requests it is
     * answering finish (bounded) while what their handlers use (the
     * runnables, the informers) still runs: an answer cut off would leave
     * its caller not knowing whether what it asked for was done */
    kr_http_server_stop(m->http);
    stop_runnables(m, false);
    stop_informers(m);
    /* what the controllers said last reaches the hub (or is given up on) */
    if (m->events && kr_event_recorder_flush(m->events, 1000) != 0)
        kr_log(&m->logger, KR_LOG_WARN, "manager", "events still unsent at the stop are dropped");
    if (m->leader) {
        kr_error_t lerr = {0};
        if (kr_leader_stop(m->leader, 0, &lerr) != 0)
            kr_log(&m->logger, KR_LOG_WARN, "manager", "releasing the Lease: %s", lerr.message);
    }
    stop_signal_thread(m);
    pthread_mutex_lock(&m->lock);
    m->state = STATE_DONE;
    int code = m->exit_code; /* a Lease lost during the stop made it 1 */
    pthread_mutex_unlock(&m->lock);
    kr_log(&m->logger, KR_LOG_INFO, "manager", "stopped (exit code %d)", code);
    return code;
}

void kr_manager_free(kr_manager_t *m)
{
    if (!m)
        return;
    kr_http_server_free(m->http);
    stop_signal_thread(m);
    for (size_t i = 0; i < m->n_controllers; i++)
        kr_controller_free(m->controllers[i]);
    kr_free(m->controllers);
    kr_free(m->controller_unelected);
    kr_leader_free(m->leader);
    kr_client_free(m->leader_client);
    kr_informer_factory_free(m->factory);
    kr_event_recorder_free(m->events);
    kr_token_reviewer_free(m->reviewer);
    kr_access_reviewer_free(m->authorizer);
    kr_token_file_free(m->token_file);
    kr_client_free(m->hub);
    kr_rest_config_free(m->hub_config);
    for (size_t i = 0; i < m->n_clusters; i++) {
        kr_client_free(m->clusters[i].client);
        kr_rest_config_free(m->clusters[i].config);
        kr_free(m->clusters[i].name);
        kr_free(m->clusters[i].server_key);
    }
    kr_free(m->clusters);
    kr_runtime_free(m->rt);
    kr_metrics_registry_free(m->metrics);
    for (size_t i = 0; i < m->n_checks; i++)
        kr_free(m->checks[i].name);
    kr_free(m->checks);
    kr_free(m->runnables);
    kr_free(m->informers);
    kr_free(m->informer_clusters);
    kr_free(m->hub_name);
    kr_free(m->hub_namespace);
    kr_log_sink_free(m->sink);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->changed);
    pthread_sigmask(SIG_SETMASK, &m->old_mask, NULL);
    kr_free(m);
}

/* ---- what the manager holds ------------------------------------------------------------- */

kr_runtime_t *kr_manager_runtime(kr_manager_t *m)
{
    return m ? m->rt : NULL;
}

kr_metrics_registry_t *kr_manager_metrics(kr_manager_t *m)
{
    return m ? m->metrics : NULL;
}

const kr_logger *kr_manager_logger(kr_manager_t *m)
{
    return m ? &m->logger : NULL;
}

kr_informer_factory_t *kr_manager_informers(kr_manager_t *m)
{
    return m ? m->factory : NULL;
}

kr_leader_t *kr_manager_leader(kr_manager_t *m)
{
    return m ? m->leader : NULL;
}

const kr_manager_config *kr_manager_get_config(kr_manager_t *m)
{
    return m ? m->config : NULL;
}

kr_client_t *kr_manager_hub(kr_manager_t *m)
{
    return m ? m->hub : NULL;
}

kr_event_recorder_t *kr_manager_events(kr_manager_t *m)
{
    return m ? m->events : NULL;
}

const kr_token_file_t *kr_manager_token_file(kr_manager_t *m)
{
    return m ? m->token_file : NULL;
}

kr_token_reviewer_t *kr_manager_token_reviewer(kr_manager_t *m)
{
    return m ? m->reviewer : NULL;
}

kr_access_reviewer_t *kr_manager_access_reviewer(kr_manager_t *m)
{
    return m ? m->authorizer : NULL;
}

const char *kr_manager_hub_name(kr_manager_t *m)
{
    return m ? m->hub_name : NULL;
}

const char *kr_manager_hub_namespace(kr_manager_t *m)
{
    return m ? m->hub_namespace : NULL;
}

size_t kr_manager_cluster_count(kr_manager_t *m)
{
    return m ? m->n_clusters : 0;
}

const char *kr_manager_cluster_name(kr_manager_t *m, size_t i)
{
    return m && i < m->n_clusters ? m->clusters[i].name : NULL;
}

kr_client_t *kr_manager_cluster_client(kr_manager_t *m, size_t i)
{
    return m && i < m->n_clusters ? m->clusters[i].client : NULL;
}

long kr_manager_cluster_find(kr_manager_t *m, const char *name)
{
    for (size_t i = 0; m && name && i < m->n_clusters; i++)
        if (m->clusters[i].name && strcmp(m->clusters[i].name, name) == 0)
            return (long)i;
    return -1;
}

const char *kr_manager_listen_address(kr_manager_t *m)
{
    return m && m->http ? kr_http_server_address(m->http) : "";
}

bool kr_manager_leading(kr_manager_t *m)
{
    return m && atomic_load(&m->leading);
}

/* ---- adding parts --------------------------------------------------------------------------- */

int kr_manager_informer(kr_manager_t *m, kr_client_t *client, kr_gvr resource,
                        const char *namespace_, const char *label_selector, kr_informer_t **out,
                        kr_error_t *err)
{
    return kr_manager_informer_selected(m, client, resource, namespace_, label_selector, NULL, out,
                                        err);
}

int kr_manager_informer_selected(kr_manager_t *m, kr_client_t *client, kr_gvr resource,
                                 const char *namespace_, const char *label_selector,
                                 const char *field_selector, kr_informer_t **out, kr_error_t *err)
{
    kr_manager_informer_opts io = KR_MANAGER_INFORMER_OPTS_INIT;
    io.label_selector = label_selector;
    io.field_selector = field_selector;
    return kr_manager_informer_with(m, client, resource, namespace_, &io, out, err);
}

int kr_manager_informer_with(kr_manager_t *m, kr_client_t *client, kr_gvr resource,
                             const char *namespace_, const kr_manager_informer_opts *opts,
                             kr_informer_t **out, kr_error_t *err)
{
    if (!m || !client || !out)
        return kr_error_set(err, KR_EINVAL, "kr_manager_informer: NULL argument");
    if (opts && opts->version > KR_MANAGER_INFORMER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "kr_manager_informer: options version %u unknown",
                            opts->version);
    kr_manager_informer_opts io = KR_MANAGER_INFORMER_OPTS_INIT;
    if (opts) { /* a version-1 caller's struct ends before metadata_only */
        io.label_selector = opts->label_selector;
        io.field_selector = opts->field_selector;
        io.store = opts->store;
        io.metadata_only = opts->version >= 2 && opts->metadata_only;
    }
    int rc = io.metadata_only
                 ? kr_informer_factory_get_metadata_with(m->factory, client, resource, namespace_,
                                                         io.label_selector, io.field_selector,
                                                         io.store, out, err)
                 : kr_informer_factory_get_with(m->factory, client, resource, namespace_,
                                                io.label_selector, io.field_selector, io.store, out,
                                                err);
    if (rc != 0)
        return rc;
    long cluster = -1;
    for (size_t i = 0; i < m->n_clusters && cluster < 0; i++)
        if (m->clusters[i].client == client)
            cluster = (long)i;
    pthread_mutex_lock(&m->lock);
    bool known = false;
    for (size_t i = 0; i < m->n_informers && !known; i++)
        known = m->informers[i] == *out;
    if (!known && grow((void **)&m->informers, m->n_informers, sizeof(kr_informer_t *)) == 0 &&
        grow((void **)&m->informer_clusters, m->n_informers, sizeof(long)) == 0) {
        m->informers[m->n_informers] = *out;
        m->informer_clusters[m->n_informers++] = cluster;
    } else if (!known) {
        rc = kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* A controller of the manager is named `name` (m->lock held). */
static bool controller_named(kr_manager_t *m, const char *name)
{
    for (size_t i = 0; i < m->n_controllers; i++)
        if (strcmp(kr_controller_name(m->controllers[i]), name) == 0)
            return true;
    return false;
}

static int duplicate_name(const char *name, kr_error_t *err)
{
    return kr_error_set(err, KR_EEXIST,
                        "kr_manager_add_controller: a controller named \"%s\" exists already "
                        "(controller names must be unique)",
                        name);
}

int kr_manager_add_controller(kr_manager_t *m, const kr_controller_opts *opts,
                              kr_controller_t **out, kr_error_t *err)
{
    return kr_manager_add_controller_with(m, opts, NULL, out, err);
}

int kr_manager_add_controller_with(kr_manager_t *m, const kr_controller_opts *opts,
                                   const kr_manager_controller_opts *mopts, kr_controller_t **out,
                                   kr_error_t *err)
{
    if (!m || !opts || !out)
        return kr_error_set(err, KR_EINVAL, "kr_manager_add_controller: NULL argument");
    if (mopts && mopts->version > KR_MANAGER_CONTROLLER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL,
                            "kr_manager_add_controller: manager controller options version %u "
                            "unknown",
                            mopts->version);
    bool unelected = mopts && mopts->no_leader_election;
    /* a caller built against version 1 passed a shorter struct */
    kr_controller_opts co;
    memset(&co, 0, sizeof(co));
    memcpy(&co, opts, opts->version >= 2 ? sizeof(co) : offsetof(kr_controller_opts, lane_workers));
    if (!co.metrics)
        co.metrics = m->metrics;
    if (!co.logger.cb && !co.logger.fields_cb)
        co.logger = m->logger;
    if (!co.shutdown_timeout_ms)
        co.shutdown_timeout_ms = m->shutdown_timeout_ms;
    /* one name, one controller: its metrics, workqueue and /readyz line
     * are known by it (controller-runtime refuses a duplicate too) */
    pthread_mutex_lock(&m->lock);
    bool taken = co.name && controller_named(m, co.name);
    pthread_mutex_unlock(&m->lock);
    if (taken)
        return duplicate_name(co.name, err);
    kr_controller_t *ctl = NULL;
    int rc = kr_controller_new(&co, &ctl, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&m->lock);
    if (controller_named(m, co.name)) { /* added meanwhile by another thread */
        pthread_mutex_unlock(&m->lock);
        kr_controller_free(ctl);
        return duplicate_name(co.name, err);
    }
    bool start_now = unelected ? m->unelected_started : m->controllers_started;
    rc = grow((void **)&m->controllers, m->n_controllers, sizeof(kr_controller_t *));
    if (rc == 0)
        rc = grow((void **)&m->controller_unelected, m->n_controllers, sizeof(bool));
    if (rc == 0) {
        m->controller_unelected[m->n_controllers] = unelected;
        m->controllers[m->n_controllers++] = ctl;
    }
    pthread_mutex_unlock(&m->lock);
    if (rc != 0) {
        kr_controller_free(ctl);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    *out = ctl;
    /* Added while leading (or, without leadership, while running): it
     * starts at once, as with controller-runtime. */
    return start_now ? kr_controller_start(ctl, err) : 0;
}

int kr_manager_add_runnable(kr_manager_t *m, kr_manager_start_cb start, kr_manager_stop_cb stop,
                            void *user, bool leader_only, kr_error_t *err)
{
    if (!m || !start)
        return kr_error_set(err, KR_EINVAL, "kr_manager_add_runnable: NULL argument");
    pthread_mutex_lock(&m->lock);
    int rc = m->state != STATE_NEW ? KR_ESTATE : 0;
    if (rc == 0 && grow((void **)&m->runnables, m->n_runnables, sizeof(*m->runnables)) != 0)
        rc = KR_ENOMEM;
    if (rc == 0)
        m->runnables[m->n_runnables++] = (struct runnable){start, stop, user, leader_only, false};
    pthread_mutex_unlock(&m->lock);
    if (rc == KR_ESTATE)
        return kr_error_set(err, rc, "add runnables before kr_manager_run");
    return rc == 0 ? 0 : kr_error_set(err, rc, "out of memory");
}

int kr_manager_add_guarded_route(kr_manager_t *m, const char *method, const char *path,
                                 kr_http_guard_cb guard, void *guard_user,
                                 kr_http_handler_cb handler, void *user, kr_error_t *err)
{
    if (!m)
        return kr_error_set(err, KR_EINVAL, "kr_manager_add_route: NULL manager");
    if (!m->http)
        return 0; /* the endpoint is disabled (--listen 0): nothing to serve */
    pthread_mutex_lock(&m->lock);
    bool fresh = m->state == STATE_NEW;
    pthread_mutex_unlock(&m->lock);
    if (!fresh)
        return kr_error_set(err, KR_ESTATE, "add routes before kr_manager_run");
    return kr_http_server_route(m->http, method, path, guard, guard_user, handler, user, false,
                                err);
}

int kr_manager_add_route(kr_manager_t *m, const char *method, const char *path,
                         kr_http_handler_cb handler, void *user, kr_error_t *err)
{
    return kr_manager_add_guarded_route(m, method, path, NULL, NULL, handler, user, err);
}

/* --authorization-review for a guarded route: whether the hub's RBAC lets
 * `who` use the request's path, under "/<program>" (kube's own default
 * roles grant every user get on "/api" and below: a program's "/api/v1/objects"
 * asked as it is would be anybody's), with its method, as kube-apiserver
 * asks of a non-resource path (verb: the method in lower case); false
 * with resp answered, 403 in kube-apiserver's words or 503. */
static bool authorize_path(kr_manager_t *m, const kr_http_request_t *req, const kr_token_user *who,
                           kr_http_response_t *resp)
{
    char verb[16], path[2048];
    const char *method = kr_http_request_method(req);
    snprintf(path, sizeof(path), "/%s%s", m->program->name, kr_http_request_path(req));
    size_t i = 0;
    for (; method && method[i] && i + 1 < sizeof(verb); i++)
        verb[i] = (char)(method[i] >= 'A' && method[i] <= 'Z' ? method[i] + 32 : method[i]);
    verb[i] = '\0';
    kr_access_attrs at = {.verb = verb, .path = path};
    bool allowed = false;
    char reason[256];
    kr_error_t err = {0};
    if (kr_access_reviewer_check(m->authorizer, who, &at, &allowed, reason, sizeof(reason), &err) !=
        0) {
        kr_http_respond_error(resp, err.code == KR_ENOMEM ? 500 : 503,
                              "cannot authorize: the hub's access review: %s", err.message);
        return false;
    }
    if (!allowed)
        kr_http_respond_error(resp, 403, "forbidden: User \"%s\" cannot %s path \"%s\"%s%s",
                              who->user, verb, path, *reason ? ": " : "", reason);
    return allowed;
}

/* Who the caller is, by --token-auth-file and --token-review: true with
 * *who (new; NULL when neither flag was given), or false with resp
 * answered (401, 503). */
static bool guard_authenticate(kr_manager_t *m, const kr_http_request_t *req,
                               kr_http_response_t *resp, kr_token_user **who)
{
    *who = NULL;
    if (!m || (!m->token_file && !m->reviewer))
        return true;
    kr_error_t err = {0};
    int rc = kr_token_authenticate(m->token_file, m->reviewer,
                                   kr_http_request_header(req, "Authorization"), who, &err);
    if (rc != 0) {
        kr_http_respond_error(resp, rc == KR_ENOMEM ? 500 : 503,
                              "cannot authenticate: the hub's token review: %s", err.message);
        return false;
    }
    if (!*who) {
        char realm[160];
        snprintf(realm, sizeof(realm), "Bearer realm=\"%s\"", m->program->name);
        kr_http_respond_header(resp, "WWW-Authenticate", realm);
        const char *token;
        size_t len;
        kr_http_respond_error(
            resp, 401,
            kr_bearer_token(kr_http_request_header(req, "Authorization"), &token, &len)
                ? "unauthorized: the bearer token is not one this server knows"
                : "unauthorized: send Authorization: Bearer <token>"); /* none, or Basic */
        return false;
    }
    return true;
}

bool kr_manager_token_guard(const kr_http_request_t *req, kr_http_response_t *resp, void *manager)
{
    kr_token_user *who = NULL;
    bool ok = guard_authenticate(manager, req, resp, &who);
    kr_token_user_free(who);
    return ok;
}

bool kr_manager_access_guard(const kr_http_request_t *req, kr_http_response_t *resp, void *manager)
{
    kr_manager_t *m = manager;
    kr_token_user *who = NULL;
    /* no authenticator: make_authenticators refused --authorization-review */
    bool ok = guard_authenticate(m, req, resp, &who) &&
              (!who || !m->authorizer || authorize_path(m, req, who, resp));
    kr_token_user_free(who);
    return ok;
}

int kr_manager_on_stop_cut(kr_manager_t *m, void (*fn)(void *user), void *user, kr_error_t *err)
{
    if (!m || !fn)
        return kr_error_set(err, KR_EINVAL, "kr_manager_on_stop_cut: a manager and a function");
    kr_http_server_on_cut(m->http, fn, user);
    return 0;
}

int kr_manager_add_ready_check(kr_manager_t *m, const char *name, kr_manager_ready_cb check,
                               void *user, kr_error_t *err)
{
    if (!m || !name || !*name || !check)
        return kr_error_set(err, KR_EINVAL, "kr_manager_add_ready_check: a name and a check");
    char *copy = kr_strdup(name);
    pthread_mutex_lock(&m->lock);
    int rc = copy ? grow((void **)&m->checks, m->n_checks, sizeof(*m->checks)) : KR_ENOMEM;
    if (rc == 0)
        m->checks[m->n_checks++] = (struct ready_check){copy, check, user};
    pthread_mutex_unlock(&m->lock);
    if (rc != 0) {
        kr_free(copy);
        return kr_error_set(err, rc, "out of memory");
    }
    return 0;
}
