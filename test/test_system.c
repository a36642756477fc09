/* The system test: the platform of docs/PLATFORM.md as processes — a hub and
 * two workload kr-apiservers (TLS, one token per program), kr-syncer,
 * kr-submitter and kr-inventory (two replicas each, electing leaders) and
 * kr-sweeper — under a seeded schedule of faults while a workload of
 * deployable changes and runnable submissions runs; once quiet, every
 * invariant is checked. The inventory is SQLite in one test and PostgreSQL
 * in the other.
 *
 * KR_SYSTEM_SCHEDULES=N runs N schedules (default 10, split over the two
 * backends; 4 under sanitizers); KR_TEST_SEED=S replays the schedule of seed
 * S (one schedule per backend unless KR_SYSTEM_SCHEDULES says more: S, S+1,
 * ...);
 * KR_SYSTEM_BACKEND=sqlite|postgresql runs only that backend. A failing
 * schedule prints its seed, its faults and the directory of its logs. After
 * each schedule, every request a program made (the kr-apiservers' audit
 * logs) must be allowed by the RBAC rules of deploy/; the first schedule
 * prints the rules never used. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_cluster.h"
#include "kr_test_inventory.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "pgserver.h"
#include "ts_client.h"

#define NS "apps"
#define LEASE_NS "kreconcile-system" /* as deploy/ has it */
#define CM KR_GVR("", "v1", "configmaps")
#define SECRET KR_GVR("", "v1", "secrets")
#define JOBS KR_GVR("batch", "v1", "jobs")
#define RUNNABLES KR_GVR("kreconcile.io", "v1alpha1", "runnables")
#define LEASES KR_GVR("coordination.k8s.io", "v1", "leases")
#define MAX_RUNNABLES 32
#define QUIET_S 150 /* how long convergence may take once quiet */
#define PAUSE_MS 16500 /* a paused leader stays stopped past its 15 s lease */

enum { HUB, DC1, DC2, N_CLUSTERS };
enum { SYNCER, SUBMITTER, INVENTORY, N_PROGRAMS };
static const char *const cluster_name[N_CLUSTERS] = {"hub", "dc1", "dc2"};
static const char *const program_name[N_PROGRAMS] = {"kr-syncer", "kr-submitter", "kr-inventory"};
/* every kr-apiserver knows these tokens; "<user>-token" names <user> */
static const char *const users[] = {"admin", "kr-syncer", "kr-submitter", "kr-inventory",
                                    "kr-sweeper"};
#define N_USERS (sizeof(users) / sizeof(users[0]))

typedef struct cluster {
    kr_test_proc proc;
    char url[128];
    kr_rest_config *cfg;
    kr_client_t *c;
    bool down, burst, slow; /* the faults it answers with now */
} cluster;

typedef enum fault_kind {
    F_DC_DOWN, /* a workload cluster answers only 503, its watches cut */
    F_CUT_WATCHES, /* every open watch of a cluster ends */
    F_BURST, /* 429 and 5xx on a share of requests */
    F_LATENCY, /* every request waits */
    F_KILL, /* kill -9 of a program replica, restarted a little later */
    F_DB_RESTART, /* PostgreSQL stopped and started; SQLite: kr-inventory restarted */
    F_PAUSE_LEADER, /* a leader SIGSTOPped past its lease, then SIGCONT */
    F_KINDS
} fault_kind;
static const char *const fault_label[F_KINDS] = {
    "datacenter down", "watches cut",      "429/5xx burst", "latency",
    "kill -9",         "database restart", "leader paused"};

typedef struct fault {
    fault_kind kind;
    long at_ms, length_ms;
    int target; /* cluster or program */
    int replica; /* F_KILL: which one; F_PAUSE_LEADER: the one paused (-1: none led) */
    bool begun, ended;
} fault;

typedef struct runnable {
    char name[32];
    bool approval; /* needs bob's approval */
    int state; /* 0 not yet accepted, 1 submitted, 2 approved */
} runnable;

typedef struct world {
    char dir[128];
    bool pg;
    kr_pgserver *pgs;
    char db[600];
    unsigned long long seed;
    kr_test_rng rng;
    long t0;
    kr_runtime_t *rt;
    cluster cl[N_CLUSTERS];
    kr_test_proc prog[N_PROGRAMS][2];
    bool held[N_PROGRAMS][2]; /* killed by the schedule: not restarted until it says */
    int restarts; /* replicas that ended by themselves (a lost Lease) and were started again */
    fault faults[8];
    int n_faults;
    runnable runs[MAX_RUNNABLES];
    int n_runs;
    int counter;
    char why[2048]; /* what convergence still waits for */
} world;

/* ---- time ------------------------------------------------------------------- */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static long elapsed(const world *w)
{
    return now_ms() - w->t0;
}

static void pace(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* o[a][b] (or o[a] when b is NULL) when a string, else "". */
static const char *str_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    const char *s = json_string_value(b ? json_object_get(v, b) : v);
    return s ? s : "";
}

/* ---- the clusters -------------------------------------------------------------- */

static void write_kubeconfig(world *w, int c, const char *user)
{
    char name[64], text[2048];
    snprintf(name, sizeof(name), "%s-%s.kubeconfig", user, cluster_name[c]);
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\nclusters:\n- name: %s\n  cluster:\n    server: %s\n"
             "    certificate-authority: %s/srv.crt\nusers:\n- name: %s\n  user:\n"
             "    token: %s-token\ncontexts:\n- name: %s\n  context:\n    cluster: %s\n"
             "    user: %s\n    namespace: " NS "\ncurrent-context: %s\n",
             cluster_name[c], w->cl[c].url, w->dir, user, user, cluster_name[c], cluster_name[c],
             user, cluster_name[c]);
    kr_test_write_file(w->dir, name, text);
}

static void kubeconfig_path(const world *w, int c, const char *user, char *out, size_t size)
{
    snprintf(out, size, "%s/%s-%s.kubeconfig", w->dir, user, cluster_name[c]);
}

static void cluster_start(world *w, int c)
{
    cluster *cl = &w->cl[c];
    char cert[256], key[256], ns[256], crd[1024], leases[1024], log[256], audit[256];
    snprintf(cert, sizeof(cert), "%s/srv.crt", w->dir);
    snprintf(key, sizeof(key), "%s/srv.key", w->dir);
    snprintf(ns, sizeof(ns), "%s/ns.yaml", w->dir);
    kr_test_src_path(crd, sizeof(crd), "deploy/crds/runnables.kreconcile.io.yaml");
    /* the Leases deploy/ makes: no program may create one */
    kr_test_src_path(leases, sizeof(leases), "deploy/hub/15-leases.yaml");
    snprintf(log, sizeof(log), "%s/apiserver-%s.log", w->dir, cluster_name[c]);
    snprintf(audit, sizeof(audit), "%s/audit-%s.log", w->dir, cluster_name[c]);
    char tokens[N_USERS][64];
    const char *flags[40] = {
        "--tls-cert", cert,   "--tls-key",           key, "--load",      ns,   "--load", crd,
        "--load",     leases, "--bookmark-interval", "1", "--audit-log", audit};
    size_t n = 14;
    for (size_t u = 0; u < N_USERS; u++) {
        snprintf(tokens[u], sizeof(tokens[u]), "%s-token:%s", users[u], users[u]);
        flags[n++] = "--token";
        flags[n++] = tokens[u];
    }
    flags[n] = NULL;
    kr_test_proc_start_apiserver(&cl->proc, log, flags, cl->url, sizeof(cl->url), 20000);
    ck_assert_msg(strncmp(cl->url, "https://", 8) == 0, "kr-apiserver %s: %s (see %s)",
                  cluster_name[c], cl->url, log);
    for (size_t u = 0; u < N_USERS; u++)
        write_kubeconfig(w, c, users[u]);
    char path[300];
    kubeconfig_path(w, c, "admin", path, sizeof(path));
    const char *paths[] = {path};
    kr_kubeconfig_t *kc = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_kubeconfig_load_files(paths, 1, NULL, &kc, &err) == 0, "%s", err.message);
    ck_assert_msg(kr_kubeconfig_rest_config(kc, NULL, &cl->cfg, &err) == 0, "%s", err.message);
    kr_kubeconfig_free(kc);
    cl->cfg->qps = -1;
    cl->cfg->timeout_ms = 10000;
    kr_client_opts co = {.backoff_base_ms = 10, .backoff_max_ms = 100, .max_retries = 2};
    ck_assert_msg(kr_client_new(w->rt, cl->cfg, &co, &cl->c, &err) == 0, "%s", err.message);
}

/* POST to a kr-apiserver's admin endpoint. */
static void admin_post(world *w, int c, const char *path, const char *body)
{
    const char *headers[] = {"Authorization: Bearer admin-token", NULL};
    tc_response r = {0};
    tc_request(w->cl[c].url, "POST", path, "application/json", body, headers, &r);
    tc_free(&r);
}

/* Send the faults a cluster's state says. */
static void apply_faults(world *w, int c)
{
    const cluster *cl = &w->cl[c];
    char body[256];
    snprintf(body, sizeof(body), "{\"fail429\":%s,\"fail500\":%s,\"fail503\":%s,\"latencyMs\":%d}",
             cl->burst && !cl->down ? "0.15" : "0", cl->burst && !cl->down ? "0.05" : "0",
             cl->down    ? "1"
             : cl->burst ? "0.05"
                         : "0",
             cl->slow ? 150 : 0);
    admin_post(w, c, "/_kr/faults", body);
}

/* ---- the programs ---------------------------------------------------------------- */

/* The flags every program of `user` takes: its kubeconfigs (--kubeconfig
 * HUB --cluster dc1=... --cluster dc2=...), text logs, the inventory. */
typedef struct cluster_args {
    char hub[300], dc1[320], dc2[320];
} cluster_args;

/* Append them to argv[n...]; the new n. `a` holds the strings. */
static size_t cluster_args_add(const world *w, const char *user, cluster_args *a, const char **argv,
                               size_t n)
{
    char path[300];
    kubeconfig_path(w, HUB, user, a->hub, sizeof(a->hub));
    kubeconfig_path(w, DC1, user, path, sizeof(path));
    snprintf(a->dc1, sizeof(a->dc1), "dc1=%s", path);
    kubeconfig_path(w, DC2, user, path, sizeof(path));
    snprintf(a->dc2, sizeof(a->dc2), "dc2=%s", path);
    const char *flags[] = {"--kubeconfig", a->hub,         "--cluster", a->dc1,        "--cluster",
                           a->dc2,         "--log-format", "text",      "--inventory", w->db};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        argv[n++] = flags[i];
    return n;
}

static void program_start(world *w, int p, int r)
{
    cluster_args ca;
    char log[256], tokfile[256], spool[256], keyfile[256];
    snprintf(log, sizeof(log), "%s/%s-%d.log", w->dir, program_name[p], r + 1);
    /* a replica killed while the database is away records the rest when
     * it starts again */
    snprintf(spool, sizeof(spool), "%s/%s-%d.spool", w->dir, program_name[p], r + 1);
    snprintf(tokfile, sizeof(tokfile), "%s/tokens.csv", w->dir);
    snprintf(keyfile, sizeof(keyfile), "%s/decision.key", w->dir);
    const char *argv[40];
    size_t n = 0;
    argv[n++] = program_name[p];
    if (p == SUBMITTER)
        argv[n++] = "serve";
    n = cluster_args_add(w, program_name[p], &ca, argv, n);
    const char *common[] = {
        "--listen", "127.0.0.1:0",    "--kube-api-qps",    "200",   "--kube-api-burst",
        "400",      "--leader-elect", "--lease-namespace", LEASE_NS};
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        argv[n++] = common[i];
    if (p != INVENTORY) {
        argv[n++] = "--inventory-spool";
        argv[n++] = spool;
    }
    if (p == SYNCER) {
        argv[n++] = "--namespace";
        argv[n++] = NS;
    } else if (p == INVENTORY) {
        /* as deploy/ runs it: ConfigMaps and Secrets of the source
         * namespace alone (RBAC grants them there only) */
        static const char *const kept[] = {
            "--resource", "batch/v1/jobs=Job",
            "--resource", "kreconcile.io/v1alpha1/runnables=Runnable",
            "--resource", "v1/configmaps@" NS "=ConfigMap",
            "--resource", "v1/secrets@" NS "=Secret"};
        for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
            argv[n++] = kept[i];
    } else if (p == SUBMITTER) {
        argv[n++] = "--token-auth-file";
        argv[n++] = tokfile;
        argv[n++] = "--failover-after";
        argv[n++] = "3s";
        /* decisions taken through either replica count in the leader's */
        argv[n++] = "--decision-key-file";
        argv[n++] = keyfile;
    }
    argv[n] = NULL;
    kr_test_proc_start(&w->prog[p][r], log, argv);
}

/* The address a replica's HTTP endpoint serves on (its latest start), or "". */
static void program_address(const kr_test_proc *p, char *out, size_t size)
{
    out[0] = '\0';
    char *text = kr_test_proc_log_text(p);
    const char *mark = "/metrics on ";
    for (char *at = strstr(text, mark); at; at = strstr(at + 1, mark)) {
        at += strlen(mark);
        snprintf(out, size, "%.*s", (int)strcspn(at, " \r\n\""), at);
    }
    free(text);
}

/* The replica of program p that holds its Lease now, or -1. */
static int leader_of(world *w, int p)
{
    json_t *lease = NULL;
    if (kr_client_get(w->cl[HUB].c, LEASES, LEASE_NS, program_name[p], &lease, NULL) != 0)
        return -1;
    char holder[300];
    snprintf(holder, sizeof(holder), "\"%s\" started leading",
             str_at(lease, "spec", "holderIdentity"));
    json_decref(lease);
    int found = -1;
    for (int r = 0; r < 2 && found < 0; r++) {
        char *text = kr_test_proc_log_text(&w->prog[p][r]);
        if (strlen(holder) > 20 && strstr(text, holder))
            found = r;
        free(text);
    }
    return found;
}

/* What a Deployment's kubelet does: a replica that ended by itself is
 * started again. Only a leader that lost its Lease may end (status 1, as
 * client-go's programs exit); any other end fails the schedule. */
static void supervise(world *w)
{
    for (int p = 0; p < N_PROGRAMS; p++)
        for (int r = 0; r < 2; r++) {
            kr_test_proc *pr = &w->prog[p][r];
            if (w->held[p][r] || !pr->argv[0] || kr_test_proc_running(pr))
                continue;
            char *log = kr_test_proc_log_text(pr);
            bool lost = strstr(log, "leadership lost") != NULL;
            free(log);
            ck_assert_msg(pr->status == 1 && lost,
                          "system: seed %llu: %s-%d ended with status %d (logs in %s)", w->seed,
                          program_name[p], r + 1, pr->status, w->dir);
            kr_test_proc_restart(pr);
            w->restarts++;
        }
}

/* ---- the world --------------------------------------------------------------------- */

static void world_up(world *w, bool pg, unsigned long long seed)
{
    memset(w, 0, sizeof(*w));
    w->pg = pg;
    w->seed = seed;
    kr_test_rng_init(&w->rng, seed);
    ck_assert(kr_test_make_server_cert(w->dir, sizeof(w->dir), "kr-system"));
    kr_test_write_file(w->dir, "ns.yaml",
                       "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " NS
                       "\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " LEASE_NS "\n");
    kr_test_write_file(w->dir, "tokens.csv",
                       "alice-token,alice,1001,\"ml-team\"\nbob-token,bob,1002,\"approvers\"\n");
    kr_test_write_file(w->dir, "decision.key",
                       "the key both kr-submitter replicas of the system test seal with\n");
    if (pg) {
        char why[512];
        ck_assert_msg(kr_pgserver_start(&w->pgs, why, sizeof(why)) == 0, "%s", why);
        ck_assert_int_eq(kr_pgserver_create_db(w->pgs, w->db, sizeof(w->db)), 0);
    } else {
        snprintf(w->db, sizeof(w->db), "sqlite://%s/inventory.db", w->dir);
    }
    w->rt = kr_test_runtime_up();
    for (int c = 0; c < N_CLUSTERS; c++)
        cluster_start(w, c);
    /* the first inventory replica creates the schema before the others write */
    program_start(w, INVENTORY, 0);
    ck_assert_msg(kr_test_proc_log_wait(&w->prog[INVENTORY][0], "/metrics on ", 0, 30000),
                  "kr-inventory did not start (logs in %s)", w->dir);
    for (int p = 0; p < N_PROGRAMS; p++)
        for (int r = 0; r < 2; r++)
            if (p != INVENTORY || r != 0)
                program_start(w, p, r);
    for (int p = 0; p < N_PROGRAMS; p++)
        for (int r = 0; r < 2; r++)
            ck_assert_msg(kr_test_proc_log_wait(&w->prog[p][r], "/metrics on ", 0, 30000),
                          "%s-%d did not start (logs in %s)", program_name[p], r + 1, w->dir);
    w->t0 = now_ms();
}

/* Every replica still running must stop cleanly on SIGTERM: exit 0
 * within the grace period, as a Deployment's pods must. A crash or a hang
 * at shutdown fails the schedule. */
static void world_down(world *w)
{
    for (int p = 0; p < N_PROGRAMS; p++)
        for (int r = 0; r < 2; r++) {
            kr_test_proc *pr = &w->prog[p][r];
            bool running = kr_test_proc_running(pr);
            int status = kr_test_proc_stop(pr, 10000);
            ck_assert_msg(!running || status == 0,
                          "system: seed %llu: %s-%d ended with status %d on SIGTERM (logs in %s)",
                          w->seed, program_name[p], r + 1, status, w->dir);
            kr_test_proc_free(pr);
        }
    for (int c = 0; c < N_CLUSTERS; c++) {
        kr_client_free(w->cl[c].c);
        kr_rest_config_free(w->cl[c].cfg);
    }
    kr_runtime_free(w->rt);
    for (int c = 0; c < N_CLUSTERS; c++) {
        kr_test_proc_stop(&w->cl[c].proc, 5000);
        kr_test_proc_free(&w->cl[c].proc);
    }
    kr_pgserver_free(w->pgs);
    kr_test_tmpdir_remove(w->dir);
}

/* ---- the workload -------------------------------------------------------------------- */

static const char *const placements[] = {NULL, "dc1", "dc2", "dc1,dc2"};

/* One change of a deployable on the hub: create, edit, place or delete. A
 * refused request (the hub's own faults) is simply not a change. */
static void deployable_change(world *w)
{
    kr_test_rng *rng = &w->rng;
    bool secret = kr_test_rng_below(rng, 3) == 0;
    char name[32], value[32];
    snprintf(name, sizeof(name), "%s-%lu", secret ? "sec" : "cm", kr_test_rng_below(rng, 4));
    /* a Secret's data is base64: digits "0".."9" encode as "MA==".."OQ==" */
    static const char *const b64[] = {
        "MA==", "MQ==", "Mg==", "Mw==", "NA==", "NQ==", "Ng==", "Nw==", "OA==", "OQ=="};
    int v = ++w->counter;
    snprintf(value, sizeof(value), "%s", secret ? b64[v % 10] : "");
    if (!secret)
        snprintf(value, sizeof(value), "v%d", v);
    kr_gvr gvr = secret ? SECRET : CM;
    kr_client_t *hub = w->cl[HUB].c;
    const char *place = placements[kr_test_rng_below(rng, 4)];
    switch (kr_test_rng_below(rng, 6)) {
    case 0:
    case 1: { /* create, or edit when it exists */
        json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:{}}, s:{s:s}}", "apiVersion", "v1", "kind",
                                secret ? "Secret" : "ConfigMap", "metadata", "name", name,
                                "annotations", "data", "value", value);
        if (place)
            json_object_set_new(json_object_get(json_object_get(obj, "metadata"), "annotations"),
                                "kreconcile.io/clusters", json_string(place));
        if (kr_client_create(hub, gvr, NS, obj, NULL, NULL, NULL) == KR_EEXIST) {
            json_t *patch = json_pack("{s:{s:s}}", "data", "value", value);
            kr_client_patch(hub, gvr, NS, name, NULL, KR_PATCH_MERGE, patch, NULL, NULL, NULL);
            json_decref(patch);
        }
        json_decref(obj);
        break;
    }
    case 2:
    case 3: { /* edit */
        json_t *patch = json_pack("{s:{s:s}}", "data", "value", value);
        kr_client_patch(hub, gvr, NS, name, NULL, KR_PATCH_MERGE, patch, NULL, NULL, NULL);
        json_decref(patch);
        break;
    }
    case 4: { /* placement */
        json_t *patch =
            json_pack("{s:{s:{s:o}}}", "metadata", "annotations", "kreconcile.io/clusters",
                      place ? json_string(place) : json_null());
        kr_client_patch(hub, gvr, NS, name, NULL, KR_PATCH_MERGE, patch, NULL, NULL, NULL);
        json_decref(patch);
        break;
    }
    default:
        kr_client_delete(hub, gvr, NS, name, NULL, NULL, NULL);
    }
}

/* A submitter replica's API address that answers now (not paused, not killed). */
static bool submitter_url(world *w, int r, char *out, size_t size)
{
    kr_test_proc *p = &w->prog[SUBMITTER][r];
    if (p->pid <= 0 || p->paused)
        return false;
    char addr[64];
    program_address(p, addr, sizeof(addr));
    snprintf(out, size, "http://%s", addr);
    return addr[0] != '\0';
}

/* Submit (or approve) the runnables not yet accepted, through either replica. */
static void runnables_push(world *w)
{
    for (int i = 0; i < w->n_runs; i++) {
        runnable *run = &w->runs[i];
        if (run->state == 2 || (run->state == 1 && !run->approval))
            continue;
        char base[96];
        int r = (int)kr_test_rng_below(&w->rng, 2);
        if (!submitter_url(w, r, base, sizeof(base)) &&
            !submitter_url(w, 1 - r, base, sizeof(base)))
            return;
        tc_response resp = {0};
        if (run->state == 0) {
            char path[128], body[1024];
            snprintf(path, sizeof(path), "/api/v1/runnables?namespace=" NS "&idempotencyKey=%s",
                     run->name);
            snprintf(body, sizeof(body),
                     "{\"apiVersion\":\"kreconcile.io/v1alpha1\",\"kind\":\"Runnable\","
                     "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"clusters\":[%s],%s"
                     "\"template\":{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{"
                     "\"name\":\"work\"},\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":"
                     "\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}}}",
                     run->name, i % 2 ? "\"dc2\",\"dc1\"" : "\"dc1\",\"dc2\"",
                     run->approval ? "\"approval\":{\"required\":1,\"group\":\"approvers\"}," : "");
            const char *headers[] = {"Authorization: Bearer alice-token", NULL};
            tc_request(base, "POST", path, "application/json", body, headers, &resp);
            if (resp.status == 200 || resp.status == 201)
                run->state = 1;
        } else {
            char path[128];
            snprintf(path, sizeof(path), "/api/v1/runnables/" NS "/%s/approve", run->name);
            const char *headers[] = {"Authorization: Bearer bob-token", NULL};
            tc_request(base, "POST", path, "application/json", "{}", headers, &resp);
            if (resp.status == 200 || resp.status == 201)
                run->state = 2;
        }
        tc_free(&resp);
    }
}

/* The workload clusters' job controller: every released Job it can reach
 * runs to completion at once (nothing runs pods here). */
static void jobs_complete(world *w)
{
    for (int c = DC1; c <= DC2; c++) {
        if (w->cl[c].down)
            continue;
        json_t *list = NULL;
        if (kr_client_list(w->cl[c].c, JOBS, NS, NULL, &list, NULL) != 0)
            continue;
        size_t i;
        json_t *job;
        json_array_foreach(json_object_get(list, "items"), i, job)
        {
            json_t *spec = json_object_get(job, "spec");
            if (json_is_true(json_object_get(spec, "suspend")) ||
                json_array_size(json_object_get(json_object_get(job, "status"), "conditions")))
                continue;
            json_t *copy = json_deep_copy(job);
            json_object_set_new(copy, "status",
                                json_pack("{s:s, s:s, s:i, s:[{s:s, s:s}]}", "startTime",
                                          "2026-01-01T00:00:00Z", "completionTime",
                                          "2026-01-01T00:00:01Z", "succeeded", 1, "conditions",
                                          "type", "Complete", "status", "True"));
            kr_client_update_status(w->cl[c].c, JOBS, NS, copy, NULL, NULL, NULL);
            json_decref(copy);
        }
        json_decref(list);
    }
}

/* ---- the schedule ------------------------------------------------------------------- */

static void schedule_make(world *w, long window_ms)
{
    kr_test_rng *rng = &w->rng;
    w->n_faults = 3 + (int)kr_test_rng_below(rng, 3);
    bool paused = false;
    for (int i = 0; i < w->n_faults; i++) {
        fault *f = &w->faults[i];
        f->kind = (fault_kind)kr_test_rng_below(rng, F_KINDS);
        if (f->kind == F_PAUSE_LEADER && paused)
            f->kind = F_CUT_WATCHES;
        paused |= f->kind == F_PAUSE_LEADER;
        f->at_ms = 500 + (long)kr_test_rng_below(rng, (unsigned long)window_ms - 2000);
        f->length_ms = 1000 + (long)kr_test_rng_below(rng, 4000);
        f->target = (int)kr_test_rng_below(rng, N_CLUSTERS);
        f->replica = (int)kr_test_rng_below(rng, 2);
        if (f->kind == F_DC_DOWN)
            f->target = DC1 + (int)kr_test_rng_below(rng, 2);
        if (f->kind == F_KILL || f->kind == F_PAUSE_LEADER)
            f->target = (int)kr_test_rng_below(rng, N_PROGRAMS);
        if (f->kind == F_PAUSE_LEADER)
            f->length_ms = PAUSE_MS;
        if (f->kind == F_KILL || f->kind == F_DB_RESTART)
            f->length_ms = 300 + (long)kr_test_rng_below(rng, 1500);
    }
    w->n_runs = 6 + (int)kr_test_rng_below(rng, 4);
    for (int i = 0; i < w->n_runs; i++) {
        snprintf(w->runs[i].name, sizeof(w->runs[i].name), "run-%d", i);
        w->runs[i].approval = i % 4 == 3;
    }
}

static void schedule_print(const world *w, FILE *out)
{
    for (int i = 0; i < w->n_faults; i++) {
        const fault *f = &w->faults[i];
        const char *on = f->kind == F_KILL || f->kind == F_PAUSE_LEADER ? program_name[f->target]
                         : f->kind == F_DB_RESTART ? (w->pg ? "postgresql" : "kr-inventory")
                                                   : cluster_name[f->target];
        fprintf(out, "  at %5ld ms for %5ld ms: %s (%s)\n", f->at_ms, f->length_ms,
                fault_label[f->kind], on);
    }
}

/* kill -9 a replica and keep it down (hold), or start it again. */
static void replica_hold(world *w, int p, int r, bool hold)
{
    w->held[p][r] = hold;
    if (hold)
        kr_test_proc_kill(&w->prog[p][r], SIGKILL);
    else if (w->prog[p][r].pid == 0)
        kr_test_proc_restart(&w->prog[p][r]);
}

/* Begin (on) or end a fault. */
static void fault_set(world *w, fault *f, bool on)
{
    cluster *cl = &w->cl[f->target];
    bool *flag = f->kind == F_DC_DOWN   ? &cl->down
                 : f->kind == F_BURST   ? &cl->burst
                 : f->kind == F_LATENCY ? &cl->slow
                                        : NULL;
    if (flag) {
        *flag = on;
        apply_faults(w, f->target);
    }
    if (on && (f->kind == F_DC_DOWN || f->kind == F_CUT_WATCHES))
        admin_post(w, f->target, "/_kr/close-watches", "{}");
    if (f->kind == F_KILL)
        replica_hold(w, f->target, f->replica, on);
    if (f->kind == F_DB_RESTART && w->pg && on)
        kr_pgserver_stop(w->pgs);
    else if (f->kind == F_DB_RESTART && w->pg)
        ck_assert_int_eq(kr_pgserver_restart(w->pgs), 0);
    else if (f->kind == F_DB_RESTART)
        for (int r = 0; r < 2; r++)
            replica_hold(w, INVENTORY, r, on);
    if (f->kind == F_PAUSE_LEADER && on)
        f->replica = leader_of(w, f->target);
    if (f->kind == F_PAUSE_LEADER && f->replica >= 0) {
        if (on)
            kr_test_proc_pause(&w->prog[f->target][f->replica]);
        else
            kr_test_proc_resume(&w->prog[f->target][f->replica]);
    }
    f->begun = true;
    f->ended = !on || f->kind == F_CUT_WATCHES;
}

/* Run the faults and the workload until every fault has ended. */
static void schedule_run(world *w, long window_ms)
{
    long next_change = 0, next_jobs = 0, next_push = 0;
    int submitted = 0;
    for (;;) {
        long t = elapsed(w);
        bool left = false;
        for (int i = 0; i < w->n_faults; i++) {
            fault *f = &w->faults[i];
            if (!f->begun && t >= f->at_ms)
                fault_set(w, f, true);
            if (f->begun && !f->ended && t >= f->at_ms + f->length_ms)
                fault_set(w, f, false);
            left |= !f->ended;
        }
        if (!left && t >= window_ms)
            break;
        if (t >= next_change && t < window_ms) {
            deployable_change(w);
            next_change = t + 150 + (long)kr_test_rng_below(&w->rng, 300);
        }
        if (t >= next_push) {
            if (submitted < w->n_runs && t < window_ms && t * w->n_runs / window_ms >= submitted)
                submitted++;
            int n = w->n_runs;
            w->n_runs = submitted;
            runnables_push(w);
            w->n_runs = n;
            next_push = t + 300;
        }
        if (t >= next_jobs) {
            supervise(w);
            jobs_complete(w);
            next_jobs = t + 200;
        }
        pace(50);
    }
}

/* ---- the invariants ---------------------------------------------------------------------- */

#define WHY(...)                                                                                   \
    do {                                                                                           \
        snprintf(w->why, sizeof(w->why), __VA_ARGS__);                                             \
        return false;                                                                              \
    } while (0)

static json_t *list_of(world *w, int c, kr_gvr gvr, const char *selector)
{
    json_t *list = NULL;
    kr_list_opts lo = {.label_selector = selector};
    if (kr_client_list_all(w->cl[c].c, gvr, NS, &lo, &list, NULL) != 0)
        return NULL;
    return list;
}

/* The clusters a hub deployable is placed in. */
static bool placed_in(const json_t *obj, int c)
{
    const char *place =
        str_at(json_object_get(obj, "metadata"), "annotations", "kreconcile.io/clusters");
    if (!*place)
        return true;
    return strstr(place, cluster_name[c]) != NULL;
}

/* Invariant 1: every workload cluster holds exactly the hub's placement. */
static bool deployables_converged(world *w)
{
    kr_gvr kinds[] = {CM, SECRET};
    for (int k = 0; k < 2; k++) {
        json_t *hub = list_of(w, HUB, kinds[k], NULL);
        if (!hub)
            WHY("the hub's %s cannot be listed", kinds[k].resource);
        json_t *want[2] = {json_object(), json_object()}; /* name -> data */
        size_t i;
        json_t *o;
        bool ok = true;
        json_array_foreach(json_object_get(hub, "items"), i, o)
        {
            const char *name = str_at(o, "metadata", "name");
            if (strncmp(name, "cm-", 3) != 0 && strncmp(name, "sec-", 4) != 0)
                continue;
            if (json_object_get(json_object_get(o, "metadata"), "deletionTimestamp")) {
                snprintf(w->why, sizeof(w->why), "hub %s/%s is still being deleted",
                         kinds[k].resource, name);
                ok = false;
            }
            for (int c = DC1; c <= DC2; c++)
                if (placed_in(o, c))
                    json_object_set(want[c - DC1], name, json_object_get(o, "data"));
        }
        for (int c = DC1; c <= DC2 && ok; c++) {
            json_t *copies = list_of(w, c, kinds[k], "kreconcile.io/managed-by=kr-syncer");
            if (!copies) {
                snprintf(w->why, sizeof(w->why), "%s cannot be listed", cluster_name[c]);
                ok = false;
                break;
            }
            size_t held = 0;
            json_array_foreach(json_object_get(copies, "items"), i, o)
            {
                const char *name = str_at(o, "metadata", "name");
                if (strncmp(name, "zombie-", 7) == 0)
                    continue; /* planted for the sweeper */
                json_t *data = json_object_get(want[c - DC1], name);
                if (!data || !json_equal(data, json_object_get(o, "data"))) {
                    snprintf(w->why, sizeof(w->why), "%s's copy of %s/%s %s", cluster_name[c],
                             kinds[k].resource, name,
                             data ? "differs from the hub" : "is not placed there");
                    ok = false;
                    break;
                }
                held++;
            }
            if (ok && held != json_object_size(want[c - DC1])) {
                snprintf(w->why, sizeof(w->why), "%s holds %zu of the hub's %zu %s",
                         cluster_name[c], held, json_object_size(want[c - DC1]), kinds[k].resource);
                ok = false;
            }
            json_decref(copies);
        }
        json_decref(want[0]);
        json_decref(want[1]);
        json_decref(hub);
        if (!ok)
            return false;
    }
    return true;
}

/* The value of a label of `o`, or "". */
static const char *label_of(const json_t *o, const char *key)
{
    return str_at(json_object_get(o, "metadata"), "labels", key);
}

/* The Job's Complete condition is True. */
static bool job_complete(const json_t *job)
{
    size_t i;
    json_t *cond;
    json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), i, cond)
    {
        if (strcmp(json_string_value(json_object_get(cond, "type")) ?: "", "Complete") == 0 &&
            strcmp(json_string_value(json_object_get(cond, "status")) ?: "", "True") == 0)
            return true;
    }
    return false;
}

/* Invariant 2 (and no 409-losing write applied): every runnable Succeeded,
 * with exactly one Job copy in all clusters — the one its status records
 * (cluster, attempt), Complete. A deposed leader's create that went through
 * would leave a second copy or one under another attempt. */
static bool runnables_converged(world *w)
{
    json_t *hub = list_of(w, HUB, RUNNABLES, NULL);
    json_t *jobs[2] = {list_of(w, DC1, JOBS, NULL), list_of(w, DC2, JOBS, NULL)};
    bool ok = hub && jobs[0] && jobs[1];
    if (!ok)
        snprintf(w->why, sizeof(w->why), "runnables or jobs cannot be listed");
    for (int i = 0; i < w->n_runs && ok; i++) {
        const runnable *run = &w->runs[i];
        if (run->state != 2 && !(run->state == 1 && !run->approval)) {
            snprintf(w->why, sizeof(w->why), "%s was not accepted yet", run->name);
            ok = false;
            break;
        }
        json_t *found = NULL, *o;
        size_t k;
        json_array_foreach(json_object_get(hub, "items"), k, o)
        {
            if (strcmp(str_at(o, "metadata", "name"), run->name) == 0)
                found = o;
        }
        const char *phase = str_at(found, "status", "phase");
        if (strcmp(phase, "Succeeded") != 0) {
            snprintf(w->why, sizeof(w->why), "runnable %s is %s", run->name,
                     found ? phase : "missing");
            ok = false;
            break;
        }
        const char *uid = str_at(found, "metadata", "uid");
        const char *where = str_at(found, "status", "cluster");
        json_int_t attempt =
            json_integer_value(json_object_get(json_object_get(found, "status"), "attempt"));
        char want_name[64];
        snprintf(want_name, sizeof(want_name), "%s-%lld", run->name, (long long)attempt);
        int copies = 0;
        for (int c = 0; c < 2 && ok; c++) {
            json_array_foreach(json_object_get(jobs[c], "items"), k, o)
            {
                if (strcmp(label_of(o, "kreconcile.io/source-uid"), uid) != 0)
                    continue;
                copies++;
                bool complete = job_complete(o);
                if (strcmp(cluster_name[DC1 + c], where) != 0 ||
                    strcmp(str_at(o, "metadata", "name"), want_name) != 0 || !complete) {
                    snprintf(w->why, sizeof(w->why),
                             "runnable %s (status: %s attempt %lld) has a copy %s in %s%s",
                             run->name, where, (long long)attempt, str_at(o, "metadata", "name"),
                             cluster_name[DC1 + c], complete ? "" : " not complete");
                    ok = false;
                }
            }
        }
        if (ok && copies != 1) {
            snprintf(w->why, sizeof(w->why), "runnable %s has %d copies", run->name, copies);
            ok = false;
        }
    }
    json_decref(hub);
    json_decref(jobs[0]);
    json_decref(jobs[1]);
    return ok;
}

/* The last transactions of the first object whose row differs from the
 * list (who wrote what, when), into out[0..size). */
static void recent_history(kr_inventory_t *inv, json_t *want, json_t *have, const char *kind,
                           char *out, size_t size)
{
    out[0] = '\0';
    const char *name;
    json_t *v;
    json_object_foreach(want, name, v)
    {
        if (json_equal(v, json_object_get(have, name)))
            continue;
        json_t *rows = NULL;
        if (kr_inventory_history(inv, kind, NS, name, 0, 1000, &rows, NULL) != 0)
            return;
        size_t n = json_array_size(rows), len = 0;
        len += (size_t)snprintf(out, size, "  last transactions of %s:", name);
        for (size_t i = n > 4 ? n - 4 : 0; i < n && len < size; i++) {
            json_t *t = json_array_get(rows, i);
            len += (size_t)snprintf(out + len, size - len, "\n    %s %s rv %s %s by %s",
                                    str_at(t, "time", NULL), str_at(t, "cluster", NULL),
                                    str_at(t, "resourceVersion", NULL), str_at(t, "event", NULL),
                                    str_at(t, "actor", NULL));
        }
        json_decref(rows);
        return;
    }
}

/* Invariant 5: the inventory's live rows equal a fresh list of every
 * cluster (uid and resourceVersion of every object in the namespace). */
static bool inventory_converged(world *w)
{
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = w->db;
    kr_inventory_t *inv = NULL;
    if (kr_inventory_new(&io, &inv, NULL) != 0)
        WHY("the inventory cannot be opened");
    static const struct {
        kr_gvr gvr;
        const char *kind;
    } kinds[] = {{CM, "ConfigMap"}, {SECRET, "Secret"}, {JOBS, "Job"}, {RUNNABLES, "Runnable"}};
    bool ok = true;
    for (int c = 0; c < N_CLUSTERS && ok; c++) {
        for (size_t k = 0; k < 4 && ok; k++) {
            json_t *list = list_of(w, c, kinds[k].gvr, NULL);
            json_t *want = json_object();
            size_t i;
            json_t *o;
            json_array_foreach(json_object_get(list, "items"), i, o)
            {
                json_object_set_new(want, str_at(o, "metadata", "name"),
                                    json_sprintf("%s/%s", str_at(o, "metadata", "uid"),
                                                 str_at(o, "metadata", "resourceVersion")));
            }
            json_t *have = json_object();
            char *cont = NULL;
            bool read = list != NULL;
            do {
                kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
                q.cluster = cluster_name[c];
                q.kind = kinds[k].kind;
                q.namespace_ = NS;
                q.limit = 1000;
                q.continue_token = cont;
                json_t *rows = NULL;
                char *next = NULL;
                if (read && kr_inventory_query(inv, &q, &rows, &next, NULL) != 0)
                    read = false;
                json_array_foreach(rows, i, o)
                {
                    json_object_set_new(
                        have, json_string_value(json_object_get(o, "name")),
                        json_sprintf("%s/%s", json_string_value(json_object_get(o, "uid")),
                                     json_string_value(json_object_get(o, "resourceVersion"))));
                }
                json_decref(rows);
                kr_free(cont);
                cont = next;
            } while (read && cont);
            kr_free(cont);
            if (!read) {
                snprintf(w->why, sizeof(w->why), "%s %s: cannot list or query", cluster_name[c],
                         kinds[k].kind);
                ok = false;
            } else if (!json_equal(want, have)) {
                char *a = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
                char *b = json_dumps(have, JSON_SORT_KEYS | JSON_COMPACT);
                char last[700];
                recent_history(inv, want, have, kinds[k].kind, last, sizeof(last));
                snprintf(w->why, sizeof(w->why),
                         "the inventory's %s %s differ from a fresh list:\n  list %.600s\n  "
                         "inventory %.600s\n%s",
                         cluster_name[c], kinds[k].kind, a, b, last);
                free(a);
                free(b);
                ok = false;
            }
            json_decref(want);
            json_decref(have);
            json_decref(list);
        }
    }
    kr_inventory_free(inv);
    return ok;
}

static bool converged(world *w)
{
    return runnables_converged(w) && deployables_converged(w) && inventory_converged(w);
}

/* Wait, completing Jobs and pushing submissions, until everything holds. */
static void wait_converged(world *w, const char *when)
{
    long end = now_ms() + QUIET_S * 1000L;
    for (;;) {
        supervise(w);
        runnables_push(w);
        jobs_complete(w);
        if (converged(w))
            return;
        if (now_ms() > end)
            break;
        pace(250);
    }
    ck_abort_msg("system: seed %llu (%s): not converged %s after %d s: %s\n(logs in %s)", w->seed,
                 w->pg ? "postgresql" : "sqlite", when, QUIET_S, w->why, w->dir);
}

/* A zombie as a lost delete leaves it: our labels, a source that is gone.
 * A Job labelled as kr-syncer's: kr-syncer keeps ConfigMaps and Secrets
 * only, so the sweeper, not the syncer's own repair, must find it. */
static void plant_zombie(world *w, int c)
{
    json_t *obj =
        json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}}, s:{s:b, s:{s:{s:s, s:[{s:s, s:s}]}}}}",
                  "apiVersion", "batch/v1", "kind", "Job", "metadata", "name", "zombie-1", "labels",
                  "kreconcile.io/managed-by", "kr-syncer", "kreconcile.io/source-uid",
                  "00000000-0000-0000-0000-000000000000", "kreconcile.io/source-cluster", "hub",
                  "spec", "suspend", 1, "template", "spec", "restartPolicy", "Never", "containers",
                  "name", "c", "image", "busybox");
    kr_error_t err = {0};
    ck_assert_msg(kr_client_create(w->cl[c].c, JOBS, NS, obj, NULL, NULL, &err) == 0, "%s",
                  err.message);
    json_decref(obj);
}

static int sweep(world *w, bool dry_run, char *out, size_t size)
{
    cluster_args ca;
    const char *argv[32] = {"kr-sweeper"};
    size_t n = cluster_args_add(w, "kr-sweeper", &ca, argv, 1);
    /* as deploy/ runs it: ConfigMaps and Secrets in the source namespace */
    const char *flags[] = {"--listen",
                           "0",
                           "--once",
                           "--grace",
                           "0s",
                           "--resource",
                           "batch/v1/jobs",
                           "--resource",
                           "v1/configmaps@" NS,
                           "--resource",
                           "v1/secrets@" NS};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        argv[n++] = flags[i];
    argv[n++] = dry_run ? "--dry-run" : NULL;
    argv[n] = NULL;
    return kr_test_proc_run(argv, out, size, 60000);
}

static void schedule_check(world *w)
{
    wait_converged(w, "after the faults");
    /* the sweeper: one sweep removes the zombie, a dry run after it finds none */
    plant_zombie(w, DC2);
    char out[16384];
    int rc = sweep(w, false, out, sizeof(out));
    ck_assert_msg(rc == 0, "seed %llu: kr-sweeper exited %d:\n%s", w->seed, rc, out);
    ck_assert_msg(kr_client_get(w->cl[DC2].c, JOBS, NS, "zombie-1", NULL, NULL) == KR_ENOTFOUND,
                  "seed %llu: the zombie survived the sweep:\n%s", w->seed, out);
    rc = sweep(w, true, out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "No zombies found."),
                  "seed %llu: zombies after one sweep:\n%s", w->seed, out);
    /* the sweep deleted nothing live; the inventory saw it */
    wait_converged(w, "after the sweep");
    /* one transaction per transition */
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = w->db;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    char *doubled = kr_test_inventory_doubled(inv);
    kr_inventory_free(inv);
    ck_assert_msg(doubled == NULL, "seed %llu: the inventory holds a transition twice: %s", w->seed,
                  doubled);
    /* no replica crashed on its own */
    supervise(w);
}

/* ---- RBAC: every request a program made is allowed by deploy/ ---------------------- */

/* Every (namespace scope, apiGroup, resource, verb) the bindings of the
 * YAML file `rel` grant to ServiceAccount LEASE_NS/`user`: a new array of
 * {ns (null: every namespace), group, resource, verb, names (null: any),
 * role, used}. */
static json_t *grants_of(const char *rel, const char *user)
{
    char path[1024];
    kr_test_src_path(path, sizeof(path), rel);
    char *text = kr_test_read_file("/", path);
    ck_assert_msg(text != NULL, "cannot read %s", rel);
    json_t *docs = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_yaml_parse_all(text, strlen(text), &docs, &err) == 0, "%s: %s", rel,
                  err.message);
    free(text);
    json_t *out = json_array();
    size_t i, j;
    json_t *b, *subject;
    json_array_foreach(docs, i, b)
    {
        const char *kind = str_at(b, "kind", NULL);
        bool cluster_wide = strcmp(kind, "ClusterRoleBinding") == 0;
        if (!cluster_wide && strcmp(kind, "RoleBinding") != 0)
            continue;
        bool ours = false;
        json_array_foreach(json_object_get(b, "subjects"), j, subject)
        {
            ours |= strcmp(str_at(subject, "kind", NULL), "ServiceAccount") == 0 &&
                    strcmp(str_at(subject, "name", NULL), user) == 0 &&
                    strcmp(str_at(subject, "namespace", NULL), LEASE_NS) == 0;
        }
        if (!ours)
            continue;
        const char *ns = str_at(b, "metadata", "namespace");
        const char *role_kind = str_at(b, "roleRef", "kind");
        const char *role_name = str_at(b, "roleRef", "name");
        json_t *role = NULL, *d;
        json_array_foreach(docs, j, d)
        {
            if (strcmp(str_at(d, "kind", NULL), role_kind) == 0 &&
                strcmp(str_at(d, "metadata", "name"), role_name) == 0 &&
                (strcmp(role_kind, "ClusterRole") == 0 ||
                 strcmp(str_at(d, "metadata", "namespace"), ns) == 0))
                role = d;
        }
        /* the bootstrap role every cluster has, as kube-apiserver makes it */
        json_t *bootstrap = NULL;
        if (!role && strcmp(role_kind, "ClusterRole") == 0 &&
            strcmp(role_name, "system:auth-delegator") == 0)
            role = bootstrap =
                json_pack("{s:[{s:[s], s:[s], s:[s]}, {s:[s], s:[s], s:[s]}]}", "rules",
                          "apiGroups", "authentication.k8s.io", "resources", "tokenreviews",
                          "verbs", "create", "apiGroups", "authorization.k8s.io", "resources",
                          "subjectaccessreviews", "verbs", "create");
        ck_assert_msg(role != NULL, "%s: %s %s/%s binds a missing %s %s", rel, kind, ns,
                      str_at(b, "metadata", "name"), role_kind, role_name);
        size_t r, g, res, v;
        json_t *rule, *group, *resource, *verb;
        json_array_foreach(json_object_get(role, "rules"), r, rule)
        {
            json_array_foreach(json_object_get(rule, "apiGroups"), g, group)
            {
                json_array_foreach(json_object_get(rule, "resources"), res, resource)
                {
                    json_array_foreach(json_object_get(rule, "verbs"), v, verb)
                    {
                        json_t *names = json_object_get(rule, "resourceNames");
                        json_array_append_new(
                            out, json_pack("{s:o, s:O, s:O, s:O, s:O, s:s+++, s:b}", "ns",
                                           cluster_wide ? json_null() : json_string(ns), "group",
                                           group, "resource", resource, "verb", verb, "names",
                                           names ? names : json_null(), "role", role_kind, " ",
                                           role_name, "", "used", 0));
                    }
                }
            }
        }
        json_decref(bootstrap);
    }
    json_decref(docs);
    return out;
}

static bool matches(const char *granted, const char *want)
{
    return strcmp(granted, "*") == 0 || strcmp(granted, want) == 0;
}

/* The request of an audit event is allowed by one of `grants` (marked used). */
static bool allowed(json_t *grants, const json_t *ev)
{
    const json_t *ref = json_object_get(ev, "objectRef");
    const char *verb = str_at(ev, "verb", NULL);
    if (!ref) /* discovery: every authenticated user (system:discovery) */
        return strcmp(verb, "get") == 0;
    char resource[256];
    const char *sub = str_at(ref, "subresource", NULL);
    snprintf(resource, sizeof(resource), "%s%s%s", str_at(ref, "resource", NULL), *sub ? "/" : "",
             sub);
    const char *ns = str_at(ref, "namespace", NULL);
    const char *name = str_at(ref, "name", NULL);
    bool ok = false;
    size_t i, k;
    json_t *g, *n;
    json_array_foreach(grants, i, g)
    {
        const json_t *scope = json_object_get(g, "ns"), *names = json_object_get(g, "names");
        bool named = json_is_null(names);
        json_array_foreach(names, k, n)
        {
            named |= *name && strcmp(json_string_value(n), name) == 0;
        }
        if (matches(str_at(g, "group", NULL), str_at(ref, "apiGroup", NULL)) &&
            matches(str_at(g, "resource", NULL), resource) &&
            matches(str_at(g, "verb", NULL), verb) && named &&
            (json_is_null(scope) || (*ns && strcmp(json_string_value(scope), ns) == 0))) {
            json_object_set_new(g, "used", json_true());
            ok = true;
        }
    }
    return ok;
}

/* Check every program request in the audit logs against deploy/'s RBAC;
 * with `notes`, print the rules never used. */
static void rbac_check(world *w, bool notes)
{
    static const char *const programs[] = {"kr-syncer", "kr-submitter", "kr-inventory",
                                           "kr-sweeper"};
    json_t *denied = json_object();
    size_t checked = 0;
    for (int c = 0; c < N_CLUSTERS; c++) {
        const char *rel = c == HUB ? "deploy/hub/10-rbac.yaml" : "deploy/workload/10-rbac.yaml";
        json_t *grants[4];
        for (int u = 0; u < 4; u++)
            grants[u] = grants_of(rel, programs[u]);
        char name[64];
        snprintf(name, sizeof(name), "audit-%s.log", cluster_name[c]);
        char *text = kr_test_read_file(w->dir, name);
        ck_assert_msg(text != NULL, "no audit log %s in %s", name, w->dir);
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            json_t *ev = json_loads(line, 0, NULL);
            ck_assert_msg(ev != NULL, "%s: not JSON: %s", name, line);
            const char *user = str_at(ev, "user", "username");
            for (int u = 0; u < 4; u++) {
                if (strcmp(user, programs[u]) != 0)
                    continue;
                checked++;
                if (!allowed(grants[u], ev)) {
                    const json_t *ref = json_object_get(ev, "objectRef");
                    char key[512];
                    snprintf(key, sizeof(key), "%s: %s %s %s/%s%s%s in namespace \"%s\"",
                             cluster_name[c], user, str_at(ev, "verb", NULL),
                             str_at(ref, "apiGroup", NULL), str_at(ref, "resource", NULL),
                             *str_at(ref, "subresource", NULL) ? "/" : "",
                             str_at(ref, "subresource", NULL), str_at(ref, "namespace", NULL));
                    json_object_set_new(denied, key, json_true());
                }
            }
            json_decref(ev);
        }
        free(text);
        /* what the rules grant that nobody used: a note, not a failure
         * (some paths — a cancel, a failover delete — need not happen) */
        for (int u = 0; u < 4; u++) {
            size_t i;
            json_t *g;
            json_array_foreach(grants[u], i, g)
            {
                if (notes && !json_is_true(json_object_get(g, "used")))
                    fprintf(stderr, "rbac note: %s: %s never used %s %s/%s (%s%s%s)\n",
                            cluster_name[c], programs[u], str_at(g, "verb", NULL),
                            str_at(g, "group", NULL), str_at(g, "resource", NULL),
                            str_at(g, "role", NULL),
                            json_is_null(json_object_get(g, "ns")) ? "" : " in ",
                            json_is_null(json_object_get(g, "ns")) ? "" : str_at(g, "ns", NULL));
            }
            json_decref(grants[u]);
        }
    }
    char *list = json_dumps(denied, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (notes)
        fprintf(stderr, "rbac: %zu program requests checked against deploy/*/10-rbac.yaml\n",
                checked);
    ck_assert_msg(json_object_size(denied) == 0,
                  "requests deploy/'s RBAC does not allow (seed %llu, logs in %s):\n%s", w->seed,
                  w->dir, list);
    ck_assert_uint_gt(checked, 0);
    free(list);
    json_decref(denied);
}

/* ---- the runs ------------------------------------------------------------------------------ */

static int schedules_for(bool pg)
{
    const char *backend = getenv("KR_SYSTEM_BACKEND");
    if (backend && *backend && strcmp(backend, pg ? "postgresql" : "sqlite") != 0)
        return 0;
    const char *env = getenv("KR_SYSTEM_SCHEDULES");
    const char *seed = getenv("KR_TEST_SEED");
    bool one_backend = backend && *backend;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    int total = 4;
#else
    int total = 10;
#endif
    if (env && *env)
        total = atoi(env);
    else if (seed && *seed)
        total = one_backend ? 1 : 2;
    if (one_backend)
        return total;
    return pg ? total / 2 : total - total / 2;
}

static void run_schedules(bool pg)
{
    int n = schedules_for(pg);
    if (n <= 0) {
        kr_test_skip(pg ? "postgresql schedules" : "sqlite schedules",
                     "none asked for (KR_SYSTEM_SCHEDULES, KR_SYSTEM_BACKEND)");
        return;
    }
    if (pg) {
        char why[512];
        kr_pgserver *probe = NULL;
        if (kr_pgserver_start(&probe, why, sizeof(why)) != 0) {
            ck_assert_msg(!kr_pgserver_required(), "%s", why);
            kr_test_skip("postgresql schedules", "%s", why);
            return;
        }
        kr_pgserver_free(probe);
    }
    const char *backend = pg ? "postgresql" : "sqlite";
    unsigned long long base = kr_test_seed(pg ? "system postgresql" : "system sqlite");
    for (int i = 0; i < n; i++) {
        unsigned long long seed = base + (unsigned long long)i;
        world w;
        long started = now_ms();
        world_up(&w, pg, seed);
        long window = 8000;
        schedule_make(&w, window);
        fprintf(stderr,
                "system: schedule %d/%d on %s, seed %llu (replay: KR_TEST_SEED=%llu "
                "KR_SYSTEM_BACKEND=%s make test-run TEST_FILTER=test_system), %d runnables:\n",
                i + 1, n, backend, seed, seed, backend, w.n_runs);
        schedule_print(&w, stderr);
        schedule_run(&w, window);
        schedule_check(&w);
        rbac_check(&w, i == 0);
        world_down(&w);
        fprintf(stderr,
                "system: schedule %d/%d on %s held every invariant (%.1f s; %d replicas "
                "restarted after losing their Lease)\n",
                i + 1, n, backend, (now_ms() - started) / 1000.0, w.restarts);
    }
}

START_TEST(sqlite_schedules_hold_every_invariant)
{
    run_schedules(false);
}
END_TEST

START_TEST(postgresql_schedules_hold_every_invariant)
{
    run_schedules(true);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("system");
    TCase *tc = tcase_create("schedules");
    tcase_set_timeout(tc, 3600);
    tcase_add_test(tc, sqlite_schedules_hold_every_invariant);
    tcase_add_test(tc, postgresql_schedules_hold_every_invariant);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
