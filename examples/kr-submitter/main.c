/* kr-submitter — runnables submitted once, approved, placed in exactly one
 * workload cluster, verified and followed to completion. `serve` runs the
 * controller (leader only) and the HTTP API (every replica); every other
 * verb is a CLI call to that API (cli.c). Callers are authenticated by the
 * library's static token file (kreconcile/tokenfile.h), by the hub's
 * TokenReview API (kreconcile/tokenreview.h), or both; the decisions live
 * beside this file: approval.c, submission.c, idempotency.c, failover.c,
 * dispatch.c, api.c. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "submitter.h"

static bool server_dry_run = true;
static const char *inventory_url, *inventory_spool, *decision_key_file;
static uint64_t inventory_wait_ms = KR_PLATFORM_INVENTORY_WAIT_MS;
static uint64_t failover_after_ms = 60000;
/* The shortest --failover-after: a failing cluster is asked every quarter
 * of it, each request bounded by at least 250 ms, so a shorter one would
 * fail a cluster over on one slow answer (and 0 would read as the default). */
#define MIN_FAILOVER_AFTER_MS 1000
/* A Runnable takes three hub writes and two to its cluster:
 * the manager's 20 qps would be the bottleneck. --kube-api-qps and --kube-api-burst (shared
 * flags) override. */
#define DEFAULT_QPS 50.0
#define DEFAULT_BURST 100
/* How long a stopping program waits for the database to take what its
 * outbox holds. */
#define OUTBOX_FLUSH_MS 5000

static const kr_flag flags[] = {
    {.name = "server-dry-run",
     .type = KR_FLAG_BOOL,
     .value = &server_dry_run,
     .help = "create each submitted template with dryRun=All in its first cluster that "
             "answers: what the cluster refuses is a 422 and nothing is recorded (a "
             "Runnable created on the hub directly fails for it; --server-dry-run=false "
             "skips it)"},
    {.name = "failover-after",
     .type = KR_FLAG_DURATION,
     .value = &failover_after_ms,
     .metavar = "DURATION",
     .help = "a cluster unreachable this long loses its not-yet-started runnables to the next "
             "(at least 1s)"},
    {.name = "inventory",
     .type = KR_FLAG_STRING,
     .value = &inventory_url,
     .metavar = "URL",
     .help = "the inventory database (history and transactions)"},
    {.name = "inventory-wait",
     .type = KR_FLAG_DURATION,
     .value = &inventory_wait_ms,
     .metavar = "DURATION",
     .help = "how long to wait at start for a PostgreSQL inventory that is not up yet "
             "(0: exit at once)"},
    {.name = "decision-key-file",
     .type = KR_FLAG_STRING,
     .value = &decision_key_file,
     .metavar = "FILE",
     .help = "the key every replica seals decisions with (at least 32 bytes, the same file "
             "for every replica, readable by kr-submitter alone): a decision in a Runnable's "
             "status without a valid seal never counts (default: the key of the Secret "
             "<lease name>-decision-key in the lease's namespace on the hub, made with a "
             "random key by the first replica that finds none)"},
    {.name = "inventory-spool",
     .type = KR_FLAG_STRING,
     .value = &inventory_spool,
     .metavar = "FILE",
     .help = "keep the records that wait for the inventory in this file, so that a "
             "crash loses none: the next start records them (one file per replica)"},
};

static const kr_manager_program program = {
    .name = "kr-submitter",
    .version = KR_VERSION_STRING, /* released with the library */
    .summary = "Submit runnables with approval, retry, failover and verification.",
    .usage = "serve [flags]  (kr-submitter --help for the CLI verbs)",
    .flags = flags,
    .n_flags = sizeof(flags) / sizeof(flags[0]),
    /* the API's callers: --token-auth-file, --token-review */
    .shared = KR_MANAGER_FLAGS_ALL | KR_MANAGER_FLAGS_AUTH,
    .no_args = true, /* serve takes flags only */
    .default_qps = DEFAULT_QPS,
    .default_burst = DEFAULT_BURST,
};

typedef struct app {
    kr_log_sink_t *log; /* the manager's and the inventory's */
    kr_manager_t *m;
    kr_controller_t *ctl;
    submitter s;
    bool submitter_ready; /* submitter_init succeeded */
    pthread_mutex_t informers_mu; /* one source registration per informer */
    api api;
    kr_inventory_t *inventory; /* --inventory: transitions and history */
    sub_books books; /* the inventory and its outbox */
    /* Per workload cluster: the config and client of the reconcile's
     * requests (no retries; see sub_cluster.fast). */
    kr_rest_config **fast_config;
    kr_client_t **fast;
    /* The health probes (leader only): one thread per workload cluster,
     * so a cluster that hangs does not delay the verdict on another. */
    pthread_t *probers;
    size_t n_probers;
    pthread_mutex_t probe_mu;
    pthread_cond_t probe_cv;
    bool probe_stop;
} app;

typedef struct prober {
    app *a;
    size_t cluster;
} prober;

/* Probe one cluster once per probe interval; its health transitions wake
 * the Runnables placed on it (submitter_probe_cluster). */
static void *probe_loop(void *arg)
{
    prober p = *(prober *)arg;
    free(arg);
    app *a = p.a;
    pthread_mutex_lock(&a->probe_mu);
    while (!a->probe_stop) {
        pthread_mutex_unlock(&a->probe_mu);
        uint64_t next = submitter_probe_cluster(&a->s, p.cluster);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + next % 1000 * 1000000;
        until.tv_sec += (time_t)(next / 1000 + ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_mutex_lock(&a->probe_mu);
        while (!a->probe_stop && pthread_cond_timedwait(&a->probe_cv, &a->probe_mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&a->probe_mu);
    return NULL;
}

static void probers_stop(kr_manager_t *m, void *user)
{
    (void)m;
    app *a = user;
    pthread_mutex_lock(&a->probe_mu);
    a->probe_stop = true;
    pthread_cond_broadcast(&a->probe_cv);
    pthread_mutex_unlock(&a->probe_mu);
    for (size_t i = 0; i < a->n_probers; i++)
        pthread_join(a->probers[i], NULL);
    a->n_probers = 0;
}

static int probers_start(kr_manager_t *m, void *user)
{
    app *a = user;
    a->probe_stop = false;
    for (size_t i = 0; i < a->s.n_clusters; i++) {
        prober *p = malloc(sizeof(*p));
        if (p) {
            p->a = a;
            p->cluster = i;
        }
        if (!p || pthread_create(&a->probers[a->n_probers], NULL, probe_loop, p) != 0) {
            free(p);
            probers_stop(m, a);
            return KR_ENOMEM;
        }
        a->n_probers++;
    }
    return 0;
}

static kr_reconcile_result reconcile(kr_controller_t *ctl, const kr_reconcile_request *req,
                                     uint64_t *requeue_after_ms, kr_error_t *err, void *user)
{
    (void)ctl;
    return submitter_reconcile(&((app *)user)->s, req->namespace_, req->name, requeue_after_ms,
                               err);
}

/* A workload copy changed: look at the Runnable it belongs to. */
static void map_copy(kr_controller_t *ctl, const char *cluster, const json_t *obj, void *user)
{
    (void)cluster;
    (void)user;
    char key[512];
    if (submitter_owner_key(obj, key, sizeof(key)))
        kr_controller_enqueue_key(ctl, key);
}

/* Workload informers come from the manager's factory; the first time one
 * is handed out, its events start waking the Runnables they belong to. */
static int informer_for(size_t cluster, kr_gvr gvr, kr_informer_t **out, kr_error_t *err,
                        void *user)
{
    app *a = user;
    pthread_mutex_lock(&a->informers_mu);
    kr_informer_factory_t *f = kr_manager_informers(a->m);
    size_t before = kr_informer_factory_len(f);
    int rc = kr_manager_informer(a->m, a->s.clusters[cluster].client, gvr, NULL,
                                 SUB_MANAGED_SELECTOR, out, err);
    bool created = rc == 0 && kr_informer_factory_len(f) > before;
    pthread_mutex_unlock(&a->informers_mu);
    if (!created)
        return rc;
    kr_controller_source src = {.version = KR_CONTROLLER_SOURCE_VERSION};
    src.informer = *out;
    src.map = KR_CONTROLLER_MAP_FUNC;
    src.map_cb = map_copy;
    /* the reconcile asks has_synced itself: a cluster unreachable now must
     * hold up nobody else (its Runnables fail over) */
    src.unsynced_ok = true;
    return kr_controller_watch(a->ctl, &src, err);
}

/* A record stops waiting for the database once the controller stops: the
 * stop waits for every reconcile before it releases the Lease, and the
 * outbox keeps (spools) what the database has not taken yet. */
static bool stopping(void *user)
{
    return kr_controller_stopping(((app *)user)->ctl);
}

static void wake(const char *namespace_, const char *name, void *user)
{
    kr_controller_enqueue(((app *)user)->ctl, NULL, namespace_, name);
}

static int epoch(uint64_t *out, void *user)
{
    kr_leader_t *le = kr_manager_leader(((app *)user)->m);
    kr_leader_term term;
    if (!le) {
        *out = 0;
        return 0;
    }
    int rc = kr_leader_term_get(le, &term);
    *out = term.transitions;
    return rc;
}

/* The names of a request's query parameters (names new, each borrowed
 * for the handler call); failed when out of memory. */
typedef struct query_names {
    const char **names;
    size_t n;
    bool failed;
} query_names;

static void add_name(const char *name, const char *value, void *user)
{
    (void)value;
    query_names *q = user;
    const char **grown = q->failed ? NULL : realloc(q->names, (q->n + 1) * sizeof(*grown));
    if (!grown) {
        q->failed = true;
        return;
    }
    q->names = grown;
    q->names[q->n++] = name;
}

static void serve_api(const kr_http_request_t *hreq, kr_http_response_t *hresp, void *user)
{
    query_names q = {0};
    kr_http_request_query_each(hreq, add_name, &q);
    if (q.failed) {
        free(q.names);
        json_t *body = json_pack("{s:s, s:i}", "error", "out of memory", "code", 500);
        kr_http_respond_json(hresp, 500, body);
        json_decref(body);
        return;
    }
    size_t len = 0;
    const char *body = kr_http_request_body(hreq, &len);
    api_request req = {.method = kr_http_request_method(hreq),
                       .path = kr_http_request_path(hreq),
                       .authorization = kr_http_request_header(hreq, "Authorization"),
                       .content_type = kr_http_request_header(hreq, "Content-Type"),
                       .body = body,
                       .body_len = len,
                       .q_namespace = kr_http_request_query(hreq, "namespace"),
                       .q_limit = kr_http_request_query(hreq, "limit"),
                       .q_continue = kr_http_request_query(hreq, "continue"),
                       .q_uid = kr_http_request_query(hreq, "uid"),
                       .q_clusters = kr_http_request_query(hreq, "clusters"),
                       .q_idempotency_key = kr_http_request_query(hreq, "idempotencyKey"),
                       .q_names = q.names,
                       .n_q_names = q.n};
    api_response resp = {0};
    api_handle(&((app *)user)->api, &req, &resp);
    free(q.names);
    if (resp.allow)
        kr_http_respond_header(hresp, "Allow", resp.allow);
    kr_http_respond_json(hresp, resp.status, resp.body);
    json_decref(resp.body);
}

/* The reconcile's own client of cluster i: the cluster's kubeconfig again,
 * the manager's rate limit, no retries, its requests in /metrics. */
static int fast_client(app *a, const kr_manager_config *cfg, size_t i, kr_error_t *err)
{
    const kr_manager_cluster_arg *arg = &cfg->clusters[i];
    kr_kubeconfig_opts ko = {.logger = *kr_manager_logger(a->m)};
    kr_kubeconfig_t *kc = NULL;
    const char *path = arg->kubeconfig;
    int rc = kr_kubeconfig_load_files(&path, 1, &ko, &kc, err);
    if (rc == 0) {
        kr_config_overrides ov = {.context = arg->context};
        rc = kr_kubeconfig_rest_config(kc, &ov, &a->fast_config[i], err);
    }
    kr_kubeconfig_free(kc);
    if (rc != 0)
        return rc;
    kr_rest_config *rc_cfg = a->fast_config[i];
    rc_cfg->qps = cfg->kube_api_qps != 0 ? cfg->kube_api_qps : DEFAULT_QPS;
    rc_cfg->burst = cfg->kube_api_burst > 0 ? (int)cfg->kube_api_burst : DEFAULT_BURST;
    kr_client_opts co = {
        .version = KR_CLIENT_OPTS_VERSION, .max_retries = -1, .metrics = kr_manager_metrics(a->m)};
    return kr_client_new(kr_manager_runtime(a->m), rc_cfg, &co, &a->fast[i], err);
}

/* A stop's last resort for the API: a request still unanswered 5 s into
 * it may be a history read stalled in the inventory (a PostgreSQL lock
 * another session holds, a server that stopped answering), and closing
 * it waits for its handler: the inventory is interrupted first, so that
 * the read fails at once (503) and the stop goes on. What the outbox
 * holds then stays in its spool. */
static void cut_inventory(void *user)
{
    app *a = user;
    kr_log(kr_manager_logger(a->m), KR_LOG_WARN, SUB_PROGRAM,
           "inventory: a request still unanswered may wait for the database: its call is cut "
           "short");
    kr_inventory_interrupt(a->inventory);
}

static int setup(app *a, const kr_manager_config *cfg, kr_error_t *err)
{
    kr_manager_t *m = a->m;
    size_t n = kr_manager_cluster_count(m);
    if (n == 0)
        return kr_error_set(err, KR_EINVAL, "give at least one --cluster NAME=KUBECONFIG");
    a->s.clusters = calloc(n, sizeof(sub_cluster));
    a->s.n_clusters = n;
    a->fast = calloc(n, sizeof(kr_client_t *));
    a->fast_config = calloc(n, sizeof(kr_rest_config *));
    a->probers = calloc(n, sizeof(pthread_t));
    if (!a->s.clusters || !a->fast || !a->fast_config || !a->probers)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        a->s.clusters[i].name = kr_manager_cluster_name(m, i);
        a->s.clusters[i].client = kr_manager_cluster_client(m, i);
        int rc = fast_client(a, cfg, i, err);
        if (rc != 0)
            return rc;
        a->s.clusters[i].fast = a->fast[i];
    }
    a->s.hub = kr_manager_hub(m);
    a->s.hub_name = kr_manager_hub_name(m);
    a->s.failover_after_ms = failover_after_ms;
    a->s.logger = *kr_manager_logger(m);
    a->s.events = kr_manager_events(m);
    a->s.epoch = epoch;
    a->s.epoch_user = a;
    a->s.informer_for = informer_for;
    a->s.informer_for_user = a;
    a->s.wake = wake;
    a->s.wake_user = a;
    int rc = submitter_init(&a->s, err);
    a->submitter_ready = rc == 0;
    if (rc == 0)
        rc = kr_manager_informer(m, a->s.hub, SUB_RUNNABLES, NULL, NULL, &a->s.runnables, err);
    kr_controller_opts co = {.version = KR_CONTROLLER_OPTS_VERSION};
    co.name = SUB_PROGRAM;
    co.reconcile = reconcile;
    co.user = a;
    /* a worker spends its time waiting on the hub and the clusters (one
     * request at a time, never on a cache): more of them than cores */
    co.workers = 16;
    if (rc == 0)
        rc = kr_manager_add_controller(m, &co, &a->ctl, err);
    kr_controller_source src = {.version = KR_CONTROLLER_SOURCE_VERSION};
    src.informer = a->s.runnables;
    /* the echo of our own write brings nothing the reconcile did not see */
    src.predicate = submitter_event_wanted;
    src.predicate_user = &a->s;
    if (rc == 0)
        rc = kr_controller_watch(a->ctl, &src, err);
    if (rc == 0)
        rc = kr_manager_add_runnable(m, probers_start, probers_stop, a, true, err);
    a->api.s = &a->s;
    a->api.auth = kr_manager_token_file(m);
    a->api.reviewer = kr_manager_token_reviewer(m);
    a->api.authorizer = kr_manager_access_reviewer(m);
    a->api.dry_run = server_dry_run;
    a->s.dry_run = server_dry_run;
    /* Unknown callers are refused on their headers, before a body (up to
     * 16 MiB) is read; the API then asks again who the caller is (a
     * reviewed token is cached). */
    if (rc == 0)
        rc = kr_manager_add_guarded_route(m, NULL, "/api/v1/runnables", kr_manager_token_guard, m,
                                          serve_api, a, err);
    if (rc == 0)
        rc = kr_manager_add_guarded_route(m, NULL, "/api/v1/runnables/*", kr_manager_token_guard, m,
                                          serve_api, a, err);
    if (rc == 0)
        rc = kr_manager_add_guarded_route(m, NULL, SUB_API_WHOAMI, kr_manager_token_guard, m,
                                          serve_api, a, err);
    if (rc == 0 && a->inventory) {
        kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                       .logger = *kr_manager_logger(m),
                                       .spool_path = inventory_spool};
        rc = kr_inventory_outbox_new(a->inventory, &oo, &a->books.outbox, err);
        a->books.inventory = a->inventory;
        a->books.hub_name = kr_manager_hub_name(m);
        a->books.give_up = stopping;
        a->books.give_up_user = a;
        a->api.inventory = a->inventory;
        a->s.record = submitter_record_to_inventory;
        a->s.record_user = &a->books;
    }
    if (rc == 0 && a->inventory)
        rc = kr_manager_on_stop_cut(m, cut_inventory, a, err);
    return rc;
}

/* The key decisions are sealed with (approval_seal_key), from
 * --decision-key-file. Without it, from the hub (seal_key_from_hub). */
static int seal_key_from_file(kr_error_t *err)
{
    unsigned char material[4096];
    FILE *f = fopen(decision_key_file, "rb");
    if (!f)
        return kr_error_set(err, KR_EIO, "--decision-key-file %s: cannot be read",
                            decision_key_file);
    size_t n = fread(material, 1, sizeof(material), f);
    bool more = n == sizeof(material) && fgetc(f) != EOF;
    fclose(f);
    int rc = 0;
    if (n < 32 || more)
        rc = kr_error_set(err, KR_EINVAL,
                          "--decision-key-file %s: a key of 32 to %zu bytes is wanted, not %s%zu",
                          decision_key_file, sizeof(material), more ? "over " : "", n);
    else
        approval_seal_key(material, n);
    OPENSSL_cleanse(material, sizeof(material));
    return rc;
}

/* The key of the Secret `secret` (data.key, 32 bytes and more) into
 * approval_seal_key. */
static int seal_key_of_secret(const json_t *secret, const char *where, kr_error_t *err)
{
    const char *b64 = json_string_value(json_object_get(json_object_get(secret, "data"), "key"));
    size_t len = b64 ? strlen(b64) : 0;
    unsigned char material[4096];
    int n = len && len % 4 == 0 && len / 4 * 3 <= sizeof(material)
                ? EVP_DecodeBlock(material, (const unsigned char *)b64, (int)len)
                : -1;
    if (n > 0) /* EVP_DecodeBlock counts the padding's bytes too */
        n -= (len >= 1 && b64[len - 1] == '=') + (len >= 2 && b64[len - 2] == '=');
    int rc = 0;
    if (n < 32)
        rc = kr_error_set(err, KR_EINVAL,
                          "the Secret %s holds no key of 32 bytes or more in data.key", where);
    else
        approval_seal_key(material, (size_t)n);
    OPENSSL_cleanse(material, sizeof(material));
    return rc;
}

/* Without --decision-key-file every replica takes the key from one Secret
 * on the hub, <lease name>-decision-key in the lease's namespace, made
 * with a random key by the first replica that finds none (as Argo CD
 * keeps its server key in a Secret it makes): decisions taken through
 * any replica, or before a restart, keep counting. Whoever may read that
 * Secret could seal a decision: --decision-key-file keeps the key off the
 * hub. */
static int seal_key_from_hub(app *a, const kr_manager_config *cfg, kr_error_t *err)
{
    const kr_gvr secrets = KR_GVR("", "v1", "secrets");
    const char *ns = cfg->lease_namespace ? cfg->lease_namespace : kr_manager_hub_namespace(a->m);
    char name[300], where[600];
    snprintf(name, sizeof(name), "%s-decision-key",
             cfg->lease_name
                 ? cfg->lease_name
                 : (program.default_lease_name ? program.default_lease_name : program.name));
    snprintf(where, sizeof(where), "%s/%s", ns ? ns : "", name);
    kr_client_t *hub = kr_manager_hub(a->m);
    json_t *secret = NULL;
    for (int tries = 0; tries < 2; tries++) {
        int rc = kr_client_get(hub, secrets, ns, name, &secret, err);
        if (rc == 0)
            break;
        if (rc != KR_ENOTFOUND)
            return kr_error_set(err, rc, "the decisions' key, Secret %s on the hub: %s", where,
                                err->message);
        unsigned char key[32];
        char b64[64];
        if (RAND_bytes(key, sizeof(key)) != 1)
            return kr_error_set(err, KR_EIO, "no random key for the decisions' seal");
        EVP_EncodeBlock((unsigned char *)b64, key, sizeof(key));
        OPENSSL_cleanse(key, sizeof(key));
        json_t *made = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:{s:s}}", "apiVersion",
                                 "v1", "kind", "Secret", "metadata", "name", name, "namespace",
                                 ns ? ns : "", "labels", "app.kubernetes.io/managed-by",
                                 program.name, "type", "Opaque", "data", "key", b64);
        OPENSSL_cleanse(b64, sizeof(b64));
        rc = made ? kr_client_create(hub, secrets, ns, made, NULL, &secret, err) : KR_ENOMEM;
        json_decref(made);
        if (rc == 0) {
            kr_log(kr_manager_logger(a->m), KR_LOG_INFO, SUB_PROGRAM,
                   "made the decisions' key, Secret %s on the hub", where);
            break;
        }
        if (rc != KR_EEXIST) /* another replica made it first: read it */
            return kr_error_set(err, rc, "the decisions' key, Secret %s on the hub: %s", where,
                                err->message);
    }
    int rc = secret ? seal_key_of_secret(secret, where, err)
                    : kr_error_set(err, KR_EIO, "the decisions' key, Secret %s: not found", where);
    json_decref(secret);
    return rc;
}

/* The inventory of --inventory, or none. It opens before the manager, so
 * a SIGTERM while a restarting database is waited for ends us at once. */
static int open_inventory(app *a, const kr_logger *logger, kr_error_t *err)
{
    if (!inventory_url)
        return 0;
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = inventory_url;
    io.logger = *logger;
    io.connect_wait_ms = inventory_wait_ms;
    return kr_inventory_new(&io, &a->inventory, err);
}

/* The text given to flag `name` (the last one given wins, as in the
 * parser), for a message that names the value as the user wrote it. */
static const char *flag_text(int argc, char **argv, const char *name)
{
    const char *found = NULL;
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0)
            break;
        if (arg[0] != '-')
            continue;
        arg += arg[1] == '-' ? 2 : 1;
        if (strncmp(arg, name, n) != 0)
            continue;
        if (arg[n] == '=')
            found = arg + n + 1;
        else if (!arg[n] && i + 1 < argc)
            found = argv[++i];
    }
    return found;
}

static int serve(int argc, char **argv)
{
    kr_manager_config cfg;
    kr_error_t err = {0};
    int rc = kr_manager_parse_args(&program, argc, argv, &cfg, &err);
    if (rc == 0 && !cfg.token_auth_file && !cfg.token_review)
        rc = kr_error_set(&err, KR_EINVAL,
                          "give --token-auth-file, --token-review or both: the API "
                          "authenticates every caller");
    if (rc == 0 && failover_after_ms < MIN_FAILOVER_AFTER_MS) {
        char given[32], least[32];
        const char *text = flag_text(argc, argv, "failover-after");
        rc = kr_error_set(
            &err, KR_EINVAL,
            "invalid argument \"%.64s\" for \"--failover-after\" flag: want at least %s",
            text ? text : kr_duration_format(failover_after_ms, given, sizeof(given)),
            kr_duration_format(MIN_FAILOVER_AFTER_MS, least, sizeof(least)));
    }
    if (rc == 0 && inventory_spool && !inventory_url)
        rc = kr_error_set(&err, KR_EINVAL, "--inventory-spool needs --inventory");
    if (rc != 0) {
        int code = kr_manager_args_exit(&program, rc, &err, stdout, stderr);
        kr_manager_config_free(&cfg);
        return code;
    }
    kr_manager_opts mo = {.version = KR_MANAGER_OPTS_VERSION};
    mo.program = &program;
    mo.config = &cfg;
    /* bodies up to 16 MiB reach the handler, which refuses what is over
     * SUB_MAX_BODY with a 400 that says so */
    mo.max_body_bytes = 16 * 1024 * 1024;
    mo.client_qps = DEFAULT_QPS;
    mo.client_burst = DEFAULT_BURST;
    /* The API lists and reads Runnables from the hub's cache on every
     * request and each reconcile reads its Runnable and copies: trees are
     * read without a parse (the compact default parses on read). */
    mo.informers.store.representation = KR_STORE_TREES;
    app a = {.informers_mu = PTHREAD_MUTEX_INITIALIZER, .probe_mu = PTHREAD_MUTEX_INITIALIZER};
    /* the probes' waits run on the monotonic clock (a wall-clock step
     * neither delays nor hurries a probe) */
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&a.probe_cv, &ca) != 0) {
        fprintf(stderr, "kr-submitter: cannot make a condition variable\n");
        kr_manager_config_free(&cfg);
        return 2;
    }
    pthread_condattr_destroy(&ca);
    int code = 2;
    if (kr_manager_config_log_sink(&cfg, stderr, &a.log, &mo.logger, &err) != 0 ||
        (decision_key_file && seal_key_from_file(&err) != 0) ||
        open_inventory(&a, &mo.logger, &err) != 0 || kr_manager_new(&mo, &a.m, &err) != 0 ||
        (!decision_key_file && seal_key_from_hub(&a, &cfg, &err) != 0) ||
        setup(&a, &cfg, &err) != 0)
        fprintf(stderr, "kr-submitter: %s\n", err.message);
    else {
        /* the API is the program's reason to be: without it the
         * controller runs alone, which is allowed, never unseen */
        if (!cfg.listen || !*cfg.listen || strcmp(cfg.listen, "0") == 0)
            kr_log(kr_manager_logger(a.m), KR_LOG_WARN, SUB_PROGRAM,
                   "--listen 0: no HTTP endpoint: the API (/api/v1/runnables) and the health "
                   "endpoints (/healthz, /livez, /readyz, /metrics) are off, the controller "
                   "runs alone");
        if (!cfg.authorization_review)
            kr_log(kr_manager_logger(a.m), KR_LOG_WARN, SUB_PROGRAM,
                   "every authenticated caller may submit to and read any namespace: "
                   "give --authorization-review to ask the hub's RBAC");
        code = kr_manager_run(a.m);
    }
    /* Controllers and handlers have stopped: what waits for the books
     * gets a last chance (told in the log if the database stays away); a
     * write the database still has not answered then is cut short, so
     * that a stalled database does not hold the exit (it stays in the
     * spool). */
    if (a.books.outbox && kr_inventory_outbox_finish(a.books.outbox, OUTBOX_FLUSH_MS) != 0)
        kr_log(kr_manager_logger(a.m), KR_LOG_ERROR, SUB_PROGRAM,
               "transitions not in the inventory: %zu still waiting, %zu refused",
               kr_inventory_outbox_pending(a.books.outbox),
               kr_inventory_outbox_dropped(a.books.outbox));
    kr_inventory_outbox_free(a.books.outbox);
    kr_inventory_free(a.inventory);
    for (size_t i = 0; a.fast && i < a.s.n_clusters; i++)
        kr_client_free(a.fast[i]);
    kr_manager_free(a.m);
    for (size_t i = 0; a.fast_config && i < a.s.n_clusters; i++)
        kr_rest_config_free(a.fast_config[i]);
    free(a.fast);
    free(a.fast_config);
    free(a.probers);
    pthread_cond_destroy(&a.probe_cv);
    if (a.submitter_ready)
        submitter_destroy(&a.s);
    kr_log_sink_free(a.log); /* after all that logs through it */
    free(a.s.clusters);
    kr_manager_config_free(&cfg);
    return code;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    return cli_main(argc - 1, argv + 1);
}
