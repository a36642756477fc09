/* kr-inventory, the program: its --resource parsing (KR_TEST_PROGRAM=kr-inventory
 * links examples/kr-inventory's logic), exit status 2 for a wrong or
 * unreachable database and a corrupted SQLite file (left untouched), and
 * the whole program against two in-process apiservers: the live page in
 * headless chromium shows a change without a reload, after a kill -9 and
 * a restart it resumes with watches from its checkpoints (no list) and
 * records the delete it missed, a --resource of the wrong kind or served
 * by no cluster fails /readyz (and the wrong kind is never kept), and
 * behind an expired checkpoint (410) it relists and records
 * DELETED_FINAL_STATE_UNKNOWN; and seeded
 * schedules over three apiservers (5xx bursts, cut watches, a cluster
 * answering only 503 a while, kill -9 and restarts of the program, database
 * restarts) after which the inventory equals a fresh list of every cluster
 * and holds each transition once, on SQLite and PostgreSQL
 * (KR_INVENTORY_PROGRAM_SCHEDULES, default 10 each: 20 schedules; each
 * prints its seed, KR_TEST_SEED replays).
 * KR_TEST_THREADED: the test servers run threads while the test writes. */
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../examples/kr-inventory/resources.h"
#include "chromium.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_inventory.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "pgserver.h"
#include "ts_client.h"

static char tmpdir[256];

START_TEST(resources_defaults_and_arguments)
{
    inv_resources r;
    kr_error_t err = {0};
    ck_assert_int_eq(inv_resources_parse(NULL, 0, &r, &err), 0);
    ck_assert_uint_eq(r.n, 4);
    ck_assert_str_eq(r.items[0].kind, "Job");
    ck_assert_str_eq(r.items[0].key, "batch/v1/jobs");
    ck_assert_str_eq(r.items[1].gvr.group, "kreconcile.io");
    ck_assert_str_eq(r.items[1].api_version, "kreconcile.io/v1alpha1");
    ck_assert_str_eq(r.items[2].gvr.group, "");
    ck_assert_str_eq(r.items[2].api_version, "v1");
    ck_assert_str_eq(r.kinds[3], "Secret");
    inv_resources_free(&r);
    const char *ok[] = {"apps/v1/deployments=Deployment", "v1/pods=Pod", "v1/secrets@apps=Secret"};
    ck_assert_int_eq(inv_resources_parse(ok, 3, &r, &err), 0);
    ck_assert_str_eq(r.items[0].gvr.resource, "deployments");
    ck_assert_ptr_null(r.items[0].namespace_);
    ck_assert_str_eq(r.items[1].key, "v1/pods");
    ck_assert_str_eq(r.items[2].gvr.resource, "secrets");
    ck_assert_str_eq(r.items[2].key, "v1/secrets@apps"); /* its own checkpoint */
    ck_assert_str_eq(r.items[2].kind, "Secret");
    ck_assert_str_eq(r.items[2].namespace_, "apps");
    inv_resources_free(&r);
    const char *bad[][2] = {{"jobs", NULL},
                            {"batch/v1/jobs=", NULL},
                            {"a/b/c/d=X", NULL},
                            {"batch//jobs=Job", NULL},
                            {"batch/v1/jobs=Jo b", NULL},
                            {"batch/v1/jobs=Job", "batch/v2/jobs=Job"},
                            {"v1/secrets@Apps=Secret", NULL},
                            {"v1/secrets@=Secret", NULL}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = bad[i][1] ? 2 : 1;
        ck_assert_msg(inv_resources_parse(bad[i], n, &r, &err) == KR_EINVAL, "%s", bad[i][0]);
        ck_assert_ptr_nonnull(strstr(err.message, "--resource"));
    }
}
END_TEST

/* ---- running the program ---------------------------------------------------- */

typedef kr_test_proc program;

/* Start it (again: `p` zeroed or stopped) with a new log. */
static void start(program *p, const char *const *args)
{
    static int n;
    char log[512];
    snprintf(log, sizeof(log), "%s/kr-inventory-%d-%d.log", tmpdir, (int)getpid(), ++n);
    const char *argv[32] = {"kr-inventory"};
    size_t a = 1;
    for (; args[a - 1] && a < 31; a++)
        argv[a] = args[a - 1];
    argv[a] = NULL;
    kr_test_proc_free(p);
    kr_test_proc_start(p, log, argv);
}

/* The exit status, waiting at most 60 s. */
static int finish(program *p)
{
    int status = kr_test_proc_wait(p, 60000);
    if (status < 0)
        kr_test_proc_kill(p, SIGKILL);
    return status;
}

/* The "serving ... on ADDR:PORT" line of the log, within 30 s. */
static void wait_address(program *p, char *addr, size_t size)
{
    for (int i = 0; i < 3000; i++) {
        char *text = kr_test_proc_log_text(p);
        char *on = strstr(text, "/metrics on ");
        if (on) {
            on += strlen("/metrics on ");
            size_t len = strcspn(on, " \n\"");
            snprintf(addr, size, "http://%.*s", (int)len, on);
            free(text);
            return;
        }
        free(text);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    char *text = kr_test_proc_log_text(p);
    ck_abort_msg("kr-inventory did not start serving: %s", text);
}

static void expect_exit_2(const char *url, const char *says)
{
    program p = {0};
    const char *args[] = {"--inventory", url, "--listen", "0", "--inventory-wait", "0", NULL};
    start(&p, args);
    int code = finish(&p);
    char *text = kr_test_proc_log_text(&p);
    kr_test_proc_free(&p);
    ck_assert_msg(code == 2, "%s: exit %d: %s", url, code, text);
    ck_assert_msg(strstr(text, says), "%s: %s", url, text);
    free(text);
}

START_TEST(bad_databases_exit_2_at_start_up)
{
    expect_exit_2("mysql://db/inventory", "unsupported URL");
    expect_exit_2("sqlite:///nonexistent-dir/x/inv.db", "cannot open");
    expect_exit_2("postgresql://user:s3cret@127.0.0.1:1/inventory", "cannot connect");
    /* an unreachable server is tried again for --inventory-wait, then the
     * same exit (the default waits 60 s for a restarting database) */
    program w = {0};
    const char *wait_args[] = {"--inventory",
                               "postgresql://user:s3cret@127.0.0.1:1/inventory",
                               "--listen",
                               "0",
                               "--inventory-wait=1s",
                               NULL};
    start(&w, wait_args);
    int code = finish(&w);
    char *text = kr_test_proc_log_text(&w);
    kr_test_proc_free(&w);
    ck_assert_msg(code == 2, "exit %d: %s", code, text);
    ck_assert_msg(strstr(text, "trying again in") && strstr(text, "cannot connect"), "%s", text);
    ck_assert_msg(!strstr(text, "s3cret"), "the password is logged: %s", text);
    free(text);
    /* a buffer past any machine's memory is a flag error, not an abort */
    program big = {0};
    const char *big_args[] = {"--inventory", "sqlite:///nonexistent-dir/inv.db",
                              "--listen",    "0",
                              "--buffer",    "99999999999",
                              NULL};
    start(&big, big_args);
    code = finish(&big);
    text = kr_test_proc_log_text(&big);
    kr_test_proc_free(&big);
    ck_assert_msg(code == 2 && strstr(text, "--buffer must be from 1 to 10000000"), "exit %d: %s",
                  code, text);
    free(text);
    char path[512], url[600];
    snprintf(path, sizeof(path), "%s/corrupt.db", tmpdir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 300; i++)
        fputs("not a database, not at all, just some text in a file\n", f);
    fclose(f);
    char *before = kr_test_read_file("/", path);
    snprintf(url, sizeof(url), "sqlite://%s", path);
    expect_exit_2(url, "refusing");
    char *after = kr_test_read_file("/", path);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
}
END_TEST

/* ---- the whole program -------------------------------------------------------- */

static void put_cm(const char *base, const char *name, const char *value, bool update)
{
    char body[512], path[256];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"default\",\"labels\":{\"app\":\"web\"}},\"data\":{\"v\":\"%s\"}}",
             name, value);
    snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps%s%s", update ? "/" : "",
             update ? name : "");
    tc_response r;
    tc_json(base, update ? "PUT" : "POST", path, body, &r);
    ck_assert_msg(r.status == 200 || r.status == 201, "%ld %s", r.status, r.body);
    tc_free(&r);
}

static char *rv_of_cm(const char *base, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s", name);
    tc_response r;
    tc_json(base, "GET", path, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char *rv = strdup(
        json_string_value(json_object_get(json_object_get(r.json, "metadata"), "resourceVersion")));
    tc_free(&r);
    return rv;
}

static bool history_ends_with(const char *api, const char *name, const char *event)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/history?kind=ConfigMap&namespace=default&name=%s", name);
    for (int i = 0; i < 3000; i++) {
        tc_response r;
        tc_json(api, "GET", path, NULL, &r);
        json_t *items = json_object_get(r.json, "items");
        const char *last = json_string_value(
            json_object_get(json_array_get(items, json_array_size(items) - 1), "event"));
        bool ok = r.status == 200 && last && strcmp(last, event) == 0;
        tc_free(&r);
        if (ok)
            return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* GET `path` from the program every 20 ms, for 30 s at most, until it
 * answers `status` with `needle` in the body: that body (new), or NULL. */
static char *await_answer(const char *api, const char *path, long status, const char *needle)
{
    for (int i = 0; i < 1500; i++) {
        tc_response r;
        tc_request(api, "GET", path, NULL, NULL, NULL, &r);
        char *body = r.status == status && r.body && strstr(r.body, needle) ? strdup(r.body) : NULL;
        tc_free(&r);
        if (body)
            return body;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* With --token-auth-file, /api/ answers only callers with a listed
 * token (401 otherwise, WWW-Authenticate: Bearer); the health endpoints
 * and the page itself stay open, and the page asks for a token, then
 * reads the stream with it (fetch: an EventSource cannot send a header). */
START_TEST(program_asks_for_a_token_when_given_a_token_file)
{
    kr_testserver_t *hub = NULL;
    kr_testserver_opts o = {.seed = 3, .bookmark_interval_ms = 50};
    ck_assert_int_eq(kr_testserver_start(&o, &hub, NULL), 0);
    char hub_kc[512], db[600], tokens[512];
    snprintf(hub_kc, sizeof(hub_kc), "%s/auth-hub.kubeconfig", tmpdir);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(hub, hub_kc, NULL, NULL), 0);
    snprintf(db, sizeof(db), "sqlite://%s/auth.db", tmpdir);
    kr_test_write_file(tmpdir, "readers.csv", "reader-token,reader,7\n");
    snprintf(tokens, sizeof(tokens), "%s/readers.csv", tmpdir);
    const char *hub_url = kr_testserver_url(hub);
    put_cm(hub_url, "early", "1", false);

    /* an audience without --token-review is a mistake said at start */
    const char *wrong[] = {
        "--inventory",  db,  "--kubeconfig", hub_kc, "--listen", "0", "--token-review-audience",
        "kr-inventory", NULL};
    program p = {0};
    start(&p, wrong);
    ck_assert_int_eq(finish(&p), 2);
    char *text = kr_test_proc_log_text(&p);
    ck_assert_msg(strstr(text, "--token-review-audience needs --token-review"), "%s", text);
    free(text);
    /* so is authorizing callers nobody authenticates */
    const char *unauthenticated[] = {"--inventory", db,  "--kubeconfig",           hub_kc,
                                     "--listen",    "0", "--authorization-review", NULL};
    start(&p, unauthenticated);
    ck_assert_int_eq(finish(&p), 2);
    text = kr_test_proc_log_text(&p);
    ck_assert_msg(strstr(text, "--authorization-review needs --token-auth-file or --token-review"),
                  "%s", text);
    free(text);
    /* and a token file that gives one token twice (it would name two
     * users): refused, naming both lines */
    char dup[512];
    kr_test_write_file(tmpdir, "dup.csv", "tok-a,alice,1\nreader-token,reader,7\ntok-a,bob,2\n");
    snprintf(dup, sizeof(dup), "%s/dup.csv", tmpdir);
    const char *twice[] = {
        "--inventory", db, "--kubeconfig", hub_kc, "--listen", "0", "--token-auth-file", dup, NULL};
    start(&p, twice);
    ck_assert_int_eq(finish(&p), 2);
    text = kr_test_proc_log_text(&p);
    ck_assert_msg(strstr(text, "--token-auth-file: token file lines 1 and 3: the same token twice"),
                  "%s", text);
    ck_assert_msg(!strstr(text, "tok-a"), "%s", text);
    free(text);

    const char *args[] = {"--inventory",
                          db,
                          "--kubeconfig",
                          hub_kc,
                          "--resource",
                          "v1/configmaps=ConfigMap",
                          "--listen",
                          "127.0.0.1:0",
                          "--log-format",
                          "text",
                          "--token-auth-file",
                          tokens,
                          NULL};
    start(&p, args);
    char api[128];
    wait_address(&p, api, sizeof(api));
    static const char *const reader[] = {"Authorization: Bearer reader-token", NULL};
    static const char *const stranger[] = {"Authorization: Bearer guess", NULL};
    tc_response r;
    tc_request(api, "GET", "/api/v1/objects", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 401);
    ck_assert_ptr_nonnull(strstr(r.body, "Bearer"));
    tc_free(&r);
    tc_request(api, "GET", "/api/v1/objects", NULL, NULL, stranger, &r);
    ck_assert_int_eq(r.status, 401);
    tc_free(&r);
    tc_request(api, "GET", "/api/v1/events?after=0", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 401);
    tc_free(&r);
    /* the stream takes "after" once and nothing else */
    static const char *const odd[] = {"/api/v1/events?colour=blue",
                                      "/api/v1/events?after=1&after=2"};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        tc_request(api, "GET", odd[i], NULL, NULL, reader, &r);
        ck_assert_msg(r.status == 400, "%s: %ld", odd[i], r.status);
        tc_free(&r);
    }
    /* a bad "after" is refused, a Last-Event-ID beside it or not */
    static const char *const resumed[] = {"Authorization: Bearer reader-token", "Last-Event-ID: 0",
                                          NULL};
    tc_watch *bad_after = tc_watch_open(api, "/api/v1/events?after=abc", resumed);
    ck_assert_ptr_nonnull(bad_after);
    bool answered = tc_watch_wait_end(bad_after, 30000); /* a stream would not end */
    tc_watch_close(bad_after);
    ck_assert_msg(answered, "?after=abc with a Last-Event-ID opened a stream");
    tc_request(api, "GET", "/api/v1/events?after=abc", NULL, NULL, resumed, &r);
    ck_assert_msg(r.status == 400 && strstr(r.body, "abc"), "%ld %s", r.status, r.body);
    tc_free(&r);
    for (int i = 0; i < 300; i++) { /* the informer's first list reaches the database */
        tc_request(api, "GET", "/api/v1/objects", NULL, NULL, reader, &r);
        ck_assert_int_eq(r.status, 200);
        bool seen = strstr(r.body, "\"early\"") != NULL;
        tc_free(&r);
        if (seen)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* a %00 would cut a name short ("early%00x" read as "early"): 400, an
     * unauthenticated caller's too */
    tc_request(api, "GET", "/api/v1/objects/hub/ConfigMap/default/early", NULL, NULL, reader, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    tc_free(&r);
    static const char *const nul[] = {"/api/v1/objects/hub/ConfigMap/default/early%00x",
                                      "/api/v1/objects/hub/ConfigMap/default%00x/early",
                                      "/api/v1/events?after=0%00x"};
    for (size_t i = 0; i < sizeof(nul) / sizeof(nul[0]); i++) {
        tc_request(api, "GET", nul[i], NULL, NULL, reader, &r);
        ck_assert_msg(r.status == 400 && strstr(r.body, "NUL byte"), "%s: %ld %s", nul[i], r.status,
                      r.body);
        tc_free(&r);
        tc_request(api, "GET", nul[i], NULL, NULL, NULL, &r);
        ck_assert_msg(r.status == 400, "%s: %ld", nul[i], r.status);
        tc_free(&r);
    }
    tc_request(api, "GET", "/healthz", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    tc_request(api, "GET", "/", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "id=\"login\""));
    tc_free(&r);

    char page[160];
    snprintf(page, sizeof(page), "%s/", api);
    kr_chromium *c = NULL;
    char why[512];
    if (kr_chromium_open(page, &c, why, sizeof(why)) != 0) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0)
            ck_abort_msg("chromium cannot run and CI=true: %s", why);
        kr_test_skip("program_asks_for_a_token_when_given_a_token_file (page part)", "%s", why);
    } else {
        ck_assert_msg(kr_chromium_wait_true(c, "!document.getElementById('login').hidden", 60000),
                      "the page did not ask for a token");
        json_t *v = NULL;
        ck_assert_int_eq(kr_chromium_eval(c,
                                          "document.getElementById('token').value = "
                                          "'reader-token', document.getElementById('login')"
                                          ".requestSubmit(), 1",
                                          &v, why, sizeof(why)),
                         0);
        json_decref(v);
        ck_assert_msg(kr_chromium_wait_true(c,
                                            "document.body.dataset.ready === 'true' && "
                                            "document.body.dataset.live === 'true' && "
                                            "document.getElementById('login').hidden",
                                            60000),
                      "the page did not load and go live with the token");
        ck_assert(kr_chromium_wait_true(
            c, "!!document.getElementById('row:hub/ConfigMap/default/early')", 10000));
        /* a change reaches the page through the token's stream */
        put_cm(hub_url, "late", "1", false);
        ck_assert_msg(kr_chromium_wait_true(
                          c, "!!document.getElementById('row:hub/ConfigMap/default/late')", 30000),
                      "the change did not reach the page");
        kr_chromium_close(c);
    }
    /* the database file deleted under it: the next batch is refused and
     * /readyz says so, for as long as it waits */
    tc_request(api, "GET", "/readyz", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    char gone[700];
    snprintf(gone, sizeof(gone), "%s.gone", db + strlen("sqlite://"));
    ck_assert_int_eq(rename(db + strlen("sqlite://"), gone), 0);
    put_cm(hub_url, "after-gone", "1", false);
    char *said =
        await_answer(api, "/readyz/inventory", 503, "was moved or deleted since it was opened");
    ck_assert_msg(said, "/readyz did not say the database file was gone");
    free(said);
    kr_test_proc_kill(&p, SIGTERM);
    finish(&p);
    kr_test_proc_free(&p);
    unlink(gone);
    kr_testserver_free(hub);
}
END_TEST

/* --resource v1/configmaps@NS=ConfigMap keeps the objects of namespace
 * NS alone (listed and watched there: RBAC may grant it there only). */
START_TEST(program_keeps_one_namespace_of_a_resource)
{
    kr_testserver_t *hub = NULL;
    kr_testserver_opts o = {.seed = 3};
    ck_assert_int_eq(kr_testserver_start(&o, &hub, NULL), 0);
    char hub_kc[512], db[600];
    snprintf(hub_kc, sizeof(hub_kc), "%s/ns-hub.kubeconfig", tmpdir);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(hub, hub_kc, NULL, NULL), 0);
    snprintf(db, sizeof(db), "sqlite://%s/ns.db", tmpdir);
    const char *hub_url = kr_testserver_url(hub);
    put_cm(hub_url, "elsewhere", "1", false);
    tc_response r;
    tc_json(hub_url, "POST", "/api/v1/namespaces/kube-system/configmaps",
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"kept\"}}", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    const char *args[] = {"--inventory",
                          db,
                          "--kubeconfig",
                          hub_kc,
                          "--resource",
                          "v1/configmaps@kube-system=ConfigMap",
                          "--listen",
                          "127.0.0.1:0",
                          "--log-format",
                          "text",
                          NULL};
    program p = {0};
    start(&p, args);
    char api[128];
    wait_address(&p, api, sizeof(api));
    char *kept = await_answer(api, "/api/v1/objects?kind=ConfigMap", 200, "\"kept\"");
    ck_assert_msg(kept, "the inventory never held kube-system/kept");
    ck_assert_msg(!strstr(kept, "\"elsewhere\""), "%s", kept);
    free(kept);
    /* a change elsewhere is not watched either */
    put_cm(hub_url, "elsewhere", "2", true);
    tc_json(hub_url, "PUT", "/api/v1/namespaces/kube-system/configmaps/kept",
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"kept\"},"
            "\"data\":{\"v\":\"2\"}}",
            &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    char *modified = await_answer(
        api, "/api/v1/history?kind=ConfigMap&namespace=kube-system&name=kept", 200, "\"MODIFIED\"");
    ck_assert(modified);
    free(modified);
    tc_json(api, "GET", "/api/v1/history?kind=ConfigMap&namespace=default&name=elsewhere", NULL,
            &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 0);
    tc_free(&r);
    kr_test_proc_kill(&p, SIGTERM);
    finish(&p);
    /* the whole resource again, on the same books: another collection, with
     * its own checkpoint, so it lists (a resume of the namespace's watch
     * would never see what other namespaces already held) */
    const char *wide[] = {"--inventory",
                          db,
                          "--kubeconfig",
                          hub_kc,
                          "--resource",
                          "v1/configmaps=ConfigMap",
                          "--listen",
                          "127.0.0.1:0",
                          "--log-format",
                          "text",
                          NULL};
    start(&p, wide);
    wait_address(&p, api, sizeof(api));
    char *widened =
        await_answer(api, "/api/v1/objects?kind=ConfigMap&namespace=default", 200, "\"elsewhere\"");
    ck_assert_msg(widened, "the whole resource never listed default/elsewhere");
    free(widened);
    kr_test_proc_kill(&p, SIGTERM);
    finish(&p);
    kr_test_proc_free(&p);
    kr_testserver_free(hub);
}
END_TEST

/* ---- a program on a stalled PostgreSQL ------------------------------------ */

/* A PostgreSQL database, a hub and a kubeconfig for it, and the program
 * on both: what the stall tests below share. */
typedef struct {
    kr_pgserver *pg;
    char db[600];
    kr_testserver_t *hub;
    char hub_kc[512];
    program p;
    char api[128];
    struct pg_conn *holder;
} pg_stall;

/* PostgreSQL with a new database and a hub started with `seed`, its
 * kubeconfig in `kc_name`; false (the test skipped as `test`) where
 * PostgreSQL cannot start. */
static bool stall_open(pg_stall *s, const char *test, unsigned seed, const char *kc_name)
{
    char why[512];
    *s = (pg_stall){0};
    if (kr_pgserver_start(&s->pg, why, sizeof(why)) != 0) {
        ck_assert_msg(!kr_pgserver_required(), "cannot start PostgreSQL: %s", why);
        kr_test_skip(test, "PostgreSQL cannot start (%s)", why);
        return false;
    }
    ck_assert_int_eq(kr_pgserver_create_db(s->pg, s->db, sizeof(s->db)), 0);
    kr_testserver_opts o = {.seed = seed};
    ck_assert_int_eq(kr_testserver_start(&o, &s->hub, NULL), 0);
    snprintf(s->hub_kc, sizeof(s->hub_kc), "%s/%s", tmpdir, kc_name);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(s->hub, s->hub_kc, NULL, NULL), 0);
    return true;
}

/* The program on the database and the hub's ConfigMaps. */
static void stall_start(pg_stall *s)
{
    const char *args[] = {"--inventory", s->db,         "--kubeconfig",
                          s->hub_kc,     "--resource",  "v1/configmaps=ConfigMap",
                          "--listen",    "127.0.0.1:0", "--log-format",
                          "text",        NULL};
    start(&s->p, args);
}

/* Its API's address, once the inventory holds default/first. */
static void stall_await_first(pg_stall *s)
{
    wait_address(&s->p, s->api, sizeof(s->api));
    char *held = await_answer(s->api, "/api/v1/objects?kind=ConfigMap", 200, "\"first\"");
    ck_assert_msg(held, "the inventory never held default/first");
    free(held);
}

/* Another session holds `tables` locked until stall_close. */
static void stall_lock(pg_stall *s, const char *tables)
{
    s->holder = kr_pgserver_lock(s->db, tables);
    ck_assert_ptr_nonnull(s->holder);
}

/* Once a call waits for the lock, a SIGTERM: the program exits 0 while
 * the lock is still held, and its log `says` so. */
static void stall_expect_exit_0(pg_stall *s, const char *says)
{
    ck_assert(kr_pgserver_wait_for_a_waiter(s->holder));
    ck_assert_int_eq(kr_test_proc_signal(&s->p, SIGTERM), 0);
    /* the lock stays held until the program has exited */
    int code = finish(&s->p);
    char *text = kr_test_proc_log_text(&s->p);
    ck_assert_msg(code == 0, "exit %d: %s", code, text);
    ck_assert_msg(strstr(text, says), "%s", text);
    free(text);
    kr_test_proc_free(&s->p);
}

static void stall_close(pg_stall *s)
{
    kr_pgserver_unlock(s->holder);
    unlink(s->hub_kc);
    kr_testserver_free(s->hub);
    kr_pgserver_free(s->pg);
}

/* A stop (SIGTERM) while the inventory, on PostgreSQL, stalls: another
 * session holds its tables locked, and keeps them so, while the consumer
 * writes a change. The stop flushed the consumer for 5 s, then joined its
 * writer, which waited for the database: the program exited 1 only when
 * its graceful stop overran (35 s). Now the write still under way after
 * the flush is cut short and the program exits 0 while the lock is still
 * held; what it could not write is not lost (the next leader resumes from
 * the checkpoints, which never pass it). */
START_TEST(program_exits_on_sigterm_while_postgresql_stalls)
{
    pg_stall s;
    if (!stall_open(&s, "program_exits_on_sigterm_while_postgresql_stalls", 5,
                    "stall-hub.kubeconfig"))
        return;
    const char *hub_url = kr_testserver_url(s.hub);
    put_cm(hub_url, "first", "1", false);
    stall_start(&s);
    stall_await_first(&s);
    stall_lock(&s, "kr_objects, kr_transactions, kr_checkpoints");
    put_cm(hub_url, "second", "1", false);
    /* its write waits for the lock */
    stall_expect_exit_0(&s, "call under way is cut short");
    stall_close(&s);
}
END_TEST

/* A stop (SIGTERM) while the producers start, and their start (the
 * checkpoint read) waits on a stalled PostgreSQL: another session holds
 * the checkpoints' table locked, and keeps it so. The stop joins the
 * thread that starts them first: it waited until the graceful stop
 * overran (35 s) and exited 1. Now, 5 s into the stop, the call is cut
 * short, and the program exits 0 while the lock is still held. */
START_TEST(program_exits_on_sigterm_while_its_producers_start_stalled)
{
    pg_stall s;
    if (!stall_open(&s, "program_exits_on_sigterm_while_its_producers_start_stalled", 7,
                    "stall-start-hub.kubeconfig"))
        return;
    /* the schema made, so that only the producers' reads meet the lock */
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = s.db;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    kr_inventory_free(inv);
    stall_lock(&s, "kr_checkpoints");
    stall_start(&s);
    /* a producer's start waits for the lock */
    stall_expect_exit_0(&s, "its call is cut short");
    stall_close(&s);
}
END_TEST

static void *read_objects(void *api)
{
    tc_response r;
    tc_json(api, "GET", "/api/v1/objects?kind=ConfigMap", NULL, &r);
    tc_free(&r);
    return NULL;
}

/* A stop (SIGTERM) while the API answers a read that waits on a stalled
 * PostgreSQL (another session holds the objects' table locked, and keeps
 * it so). The stop waited 5 s for the request, then closed it, which
 * joins its handler, still waiting for the database: the program exited 1
 * only when its graceful stop overran (35 s). Now the inventory is
 * interrupted before the request is closed, and the program exits 0 while
 * the lock is still held. */
START_TEST(program_exits_on_sigterm_during_a_stalled_api_read)
{
    pg_stall s;
    if (!stall_open(&s, "program_exits_on_sigterm_during_a_stalled_api_read", 6,
                    "stall-read-hub.kubeconfig"))
        return;
    put_cm(kr_testserver_url(s.hub), "first", "1", false);
    stall_start(&s);
    stall_await_first(&s);
    stall_lock(&s, "kr_objects");
    pthread_t reader;
    ck_assert_int_eq(pthread_create(&reader, NULL, read_objects, s.api), 0);
    /* the read waits for the lock */
    stall_expect_exit_0(&s, "its call is cut short");
    pthread_join(reader, NULL);
    stall_close(&s);
}
END_TEST

/* A --resource whose kind is not the one the cluster gives it
 * (v1/configmaps=Foo) is never kept (its rows would name a kind that does
 * not exist) and /readyz says why; one no cluster serves (a misspelling)
 * fails /readyz too, where it only logged a warning; the others are kept
 * meanwhile, and once the arguments are right /readyz passes. */
START_TEST(program_checks_its_resources_against_discovery)
{
    kr_testserver_t *hub = NULL;
    kr_testserver_opts o = {.seed = 4};
    ck_assert_int_eq(kr_testserver_start(&o, &hub, NULL), 0);
    char hub_kc[512], db[600];
    snprintf(hub_kc, sizeof(hub_kc), "%s/kinds-hub.kubeconfig", tmpdir);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(hub, hub_kc, NULL, NULL), 0);
    snprintf(db, sizeof(db), "sqlite://%s/kinds.db", tmpdir);
    const char *hub_url = kr_testserver_url(hub);
    put_cm(hub_url, "cm1", "1", false);
    tc_response r;
    tc_json(hub_url, "POST", "/api/v1/namespaces/default/secrets",
            "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s1\"}}", &r);
    ck_assert_int_eq(r.status, 201);
    tc_free(&r);
    const char *wrong_kind[] = {"--inventory",
                                db,
                                "--kubeconfig",
                                hub_kc,
                                "--resource",
                                "v1/configmaps=Foo",
                                "--resource",
                                "v1/secrets=Secret",
                                "--listen",
                                "127.0.0.1:0",
                                "--log-format",
                                "text",
                                NULL};
    program p = {0};
    start(&p, wrong_kind);
    char api[128];
    wait_address(&p, api, sizeof(api));
    char *said = await_answer(api, "/readyz/resources", 503,
                              "[-]resources failed: --resource v1/configmaps=Foo: cluster ");
    ck_assert_msg(said, "/readyz did not refuse v1/configmaps=Foo");
    ck_assert_msg(strstr(said, "serves v1/configmaps as kind ConfigMap, not Foo"), "%s", said);
    free(said);
    char *kept = await_answer(api, "/api/v1/objects?kind=Secret", 200, "\"s1\"");
    ck_assert_msg(kept, "the Secret was not kept meanwhile");
    free(kept);
    tc_request(api, "GET", "/api/v1/objects?kind=Foo", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(!strstr(r.body, "cm1"), "ConfigMaps kept as Foo: %s", r.body);
    tc_free(&r);
    kr_test_proc_kill(&p, SIGTERM);
    finish(&p);
    char *text = kr_test_proc_log_text(&p);
    ck_assert_msg(strstr(text, "as kind ConfigMap, not Foo"), "%s", text);
    free(text);

    const char *misspelled[] = {"--inventory",
                                db,
                                "--kubeconfig",
                                hub_kc,
                                "--resource",
                                "v1/confgmaps=ConfigMap",
                                "--resource",
                                "v1/secrets=Secret",
                                "--listen",
                                "127.0.0.1:0",
                                "--log-format",
                                "text",
                                NULL};
    start(&p, misspelled);
    wait_address(&p, api, sizeof(api));
    said = await_answer(api, "/readyz/resources", 503,
                        "[-]resources failed: no cluster serves v1/confgmaps");
    ck_assert_msg(said, "/readyz did not say that no cluster serves v1/confgmaps");
    free(said);
    kr_test_proc_kill(&p, SIGTERM);
    finish(&p);
    text = kr_test_proc_log_text(&p);
    ck_assert_msg(strstr(text, "does not serve v1/confgmaps (kind ConfigMap is v1/configmaps)"),
                  "%s", text);
    free(text);

    const char *right[] = {"--inventory",
                           db,
                           "--kubeconfig",
                           hub_kc,
                           "--resource",
                           "v1/configmaps=ConfigMap",
                           "--resource",
                           "v1/secrets=Secret",
                           "--listen",
                           "127.0.0.1:0",
                           "--log-format",
                           "text",
                           NULL};
    start(&p, right);
    wait_address(&p, api, sizeof(api));
    kept = await_answer(api, "/api/v1/objects?kind=ConfigMap", 200, "\"cm1\"");
    ck_assert_msg(kept, "the ConfigMap was not kept");
    free(kept);
    said = await_answer(api, "/readyz?verbose", 200, "[+]resources ok");
    ck_assert_msg(said, "/readyz did not pass");
    free(said);
    kr_test_proc_kill(&p, SIGTERM);
    finish(&p);
    kr_test_proc_free(&p);
    kr_testserver_free(hub);
}
END_TEST

/* A cluster whose discovery hangs holds its own sources only: the other
 * clusters' objects are kept meanwhile (their discovery is asked on
 * threads of their own). */
START_TEST(program_a_hung_cluster_holds_only_its_own_sources)
{
    kr_testserver_t *hub = NULL, *west = NULL, *east = NULL;
    kr_testserver_opts o = {.seed = 5};
    ck_assert_int_eq(kr_testserver_start(&o, &hub, NULL), 0);
    o.seed = 6;
    ck_assert_int_eq(kr_testserver_start(&o, &west, NULL), 0);
    o.seed = 7;
    ck_assert_int_eq(kr_testserver_start(&o, &east, NULL), 0);
    char hub_kc[512], west_kc[512], east_kc[512], west_arg[600], east_arg[600], db[600];
    snprintf(hub_kc, sizeof(hub_kc), "%s/hung-hub.kubeconfig", tmpdir);
    snprintf(west_kc, sizeof(west_kc), "%s/hung-west.kubeconfig", tmpdir);
    snprintf(east_kc, sizeof(east_kc), "%s/hung-east.kubeconfig", tmpdir);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(hub, hub_kc, NULL, NULL), 0);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(west, west_kc, NULL, NULL), 0);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(east, east_kc, NULL, NULL), 0);
    snprintf(west_arg, sizeof(west_arg), "west=%s", west_kc);
    snprintf(east_arg, sizeof(east_arg), "east=%s", east_kc);
    snprintf(db, sizeof(db), "sqlite://%s/hung.db", tmpdir);
    put_cm(kr_testserver_url(east), "at-east", "1", false);
    /* west answers nothing for 12 s, past the requests' 6 s timeout */
    kr_testserver_faults slow = {.latency_ms = 12000};
    kr_testserver_set_faults(west, &slow);
    const char *args[] = {"--inventory",
                          db,
                          "--kubeconfig",
                          hub_kc,
                          "--cluster",
                          west_arg,
                          "--cluster",
                          east_arg,
                          "--resource",
                          "v1/configmaps=ConfigMap",
                          "--request-timeout",
                          "6s",
                          "--listen",
                          "127.0.0.1:0",
                          "--log-format",
                          "text",
                          NULL};
    program p = {0};
    start(&p, args);
    char api[128];
    wait_address(&p, api, sizeof(api));
    /* east's ConfigMap is kept long before west's discovery gives up */
    bool kept = false;
    for (int i = 0; i < 200 && !kept; i++) {
        tc_response r;
        tc_request(api, "GET", "/api/v1/objects?kind=ConfigMap", NULL, NULL, NULL, &r);
        kept = r.status == 200 && r.body && strstr(r.body, "\"at-east\"");
        tc_free(&r);
        struct timespec ts = {0, 20 * 1000 * 1000};
        if (!kept)
            nanosleep(&ts, NULL);
    }
    ck_assert_msg(kept, "east's ConfigMap waited for west's discovery");
    kr_testserver_set_faults(west, &(kr_testserver_faults){0});
    kr_test_proc_kill(&p, SIGTERM);
    ck_assert_int_eq(finish(&p), 0);
    kr_test_proc_free(&p);
    kr_testserver_free(east);
    kr_testserver_free(west);
    kr_testserver_free(hub);
}
END_TEST

START_TEST(program_page_live_and_restart_after_kill)
{
    kr_testserver_t *hub = NULL, *east = NULL;
    kr_testserver_opts o = {.seed = 1, .bookmark_interval_ms = 50};
    ck_assert_int_eq(kr_testserver_start(&o, &hub, NULL), 0);
    o.seed = 2;
    ck_assert_int_eq(kr_testserver_start(&o, &east, NULL), 0);
    char hub_kc[512], east_kc[512], cluster_arg[600], db[600];
    snprintf(hub_kc, sizeof(hub_kc), "%s/hub.kubeconfig", tmpdir);
    snprintf(east_kc, sizeof(east_kc), "%s/east.kubeconfig", tmpdir);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(hub, hub_kc, NULL, NULL), 0);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(east, east_kc, NULL, NULL), 0);
    snprintf(cluster_arg, sizeof(cluster_arg), "east=%s", east_kc);
    snprintf(db, sizeof(db), "sqlite://%s/program.db", tmpdir);
    const char *hub_url = kr_testserver_url(hub), *east_url = kr_testserver_url(east);
    put_cm(hub_url, "settings", "1", false);
    put_cm(east_url, "copy", "1", false);
    put_cm(east_url, "doomed", "1", false);
    put_cm(east_url, "expired", "1", false);
    const char *args[] = {"--inventory",
                          db,
                          "--kubeconfig",
                          hub_kc,
                          "--cluster",
                          cluster_arg,
                          "--resource",
                          "v1/configmaps=ConfigMap",
                          "--listen",
                          "127.0.0.1:0",
                          "--log-format",
                          "text",
                          NULL};
    program p = {0};
    start(&p, args);
    char api[128];
    wait_address(&p, api, sizeof(api));
    ck_assert(history_ends_with(api, "doomed", "ADDED"));

    char page[160];
    snprintf(page, sizeof(page), "%s/", api);
    kr_chromium *c = NULL;
    char why[512];
    size_t copy_changes = 1;
    if (kr_chromium_open(page, &c, why, sizeof(why)) != 0) {
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0)
            ck_abort_msg("chromium cannot run and CI=true: %s", why);
        kr_test_skip("program_page_live_and_restart_after_kill (page part)", "%s", why);
    } else {
        ck_assert_msg(kr_chromium_wait_true(c,
                                            "document.body.dataset.ready === 'true' && "
                                            "document.body.dataset.live === 'true'",
                                            60000),
                      "the page did not load and go live");
        ck_assert(kr_chromium_wait_true(
            c, "document.querySelectorAll('section.cluster').length === 2", 10000));
        json_t *v = NULL;
        ck_assert_int_eq(kr_chromium_eval(c, "window.krMarker = 7", &v, why, sizeof(why)), 0);
        json_decref(v);
        /* A change through the apiserver reaches the page, no reload. */
        put_cm(east_url, "copy", "2", true);
        copy_changes++;
        char *rv = rv_of_cm(east_url, "copy");
        char expr[256];
        snprintf(expr, sizeof(expr),
                 "document.getElementById('row:east/ConfigMap/default/copy')"
                 ".dataset.resourceVersion === '%s' && window.krMarker === 7",
                 rv);
        ck_assert_msg(kr_chromium_wait_true(c, expr, 30000), "the page never showed rv %s", rv);
        free(rv);
        kr_chromium_close(c);
    }

    /* kill -9, a delete nobody watches, a restart on the same database. */
    kr_test_proc_kill(&p, SIGKILL);
    tc_response r;
    tc_json(east_url, "DELETE", "/api/v1/namespaces/default/configmaps/doomed", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    start(&p, args);
    wait_address(&p, api, sizeof(api));
    /* Resumed with a watch from the checkpoint: the delete is seen as it
     * happened, and nothing was listed again. */
    ck_assert_msg(history_ends_with(api, "doomed", "DELETED"),
                  "the delete while down was not recorded");
    tc_request(api, "GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "\nkr_inventory_list_requests_total 0\n"), "%s", r.body);
    ck_assert_ptr_null(strstr(r.body, "\nkr_inventory_watch_requests_total 0\n"));
    tc_free(&r);
    /* Again, but the checkpoint expires meanwhile (410): a relist, and
     * the row the list lacks is recorded as deleted, final state unknown. */
    kr_test_proc_kill(&p, SIGKILL);
    tc_json(east_url, "DELETE", "/api/v1/namespaces/default/configmaps/expired", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    tc_free(&r);
    kr_testserver_compact(east);
    start(&p, args);
    wait_address(&p, api, sizeof(api));
    ck_assert_msg(history_ends_with(api, "expired", "DELETED_FINAL_STATE_UNKNOWN"),
                  "the delete behind an expired checkpoint was not recorded");
    /* Nothing doubled by the replay after the restart. */
    tc_json(api, "GET", "/api/v1/history?kind=ConfigMap&namespace=default&name=copy", NULL, &r);
    ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), copy_changes);
    tc_free(&r);
    /* The consumer's counters on /metrics. */
    tc_request(api, "GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "kr_inventory_events_applied_total "));
    ck_assert_ptr_nonnull(strstr(r.body, "kr_inventory_buffered_events "));
    tc_free(&r);
    ck_assert_int_eq(kr_test_proc_stop(&p, 60000), 0);
    kr_test_proc_free(&p);
    kr_testserver_free(hub);
    kr_testserver_free(east);
}
END_TEST

/* ---- convergence of the program under faults ------------------------------ */

/* key "cluster/namespace/name" → resourceVersion, from the apiservers. */
static void truth_add(json_t *m, const char *cluster, const char *base)
{
    tc_response r;
    for (int tries = 0; tries < 100; tries++) {
        tc_json(base, "GET", "/api/v1/configmaps", NULL, &r);
        if (r.status == 200)
            break;
        tc_free(&r);
    }
    ck_assert_int_eq(r.status, 200);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(r.json, "items"), i, o)
    {
        json_t *meta = json_object_get(o, "metadata");
        char key[512];
        snprintf(key, sizeof(key), "%s/%s/%s", cluster,
                 json_string_value(json_object_get(meta, "namespace")),
                 json_string_value(json_object_get(meta, "name")));
        json_object_set(m, key, json_object_get(meta, "resourceVersion"));
    }
    tc_free(&r);
}

/* The same from the program's API (every page). NULL when it answers no. */
static json_t *held_by(const char *api)
{
    json_t *m = json_object();
    char path[1024] = "/api/v1/objects?kind=ConfigMap&limit=1000";
    for (;;) {
        tc_response r;
        tc_json(api, "GET", path, NULL, &r);
        if (r.status != 200) {
            tc_free(&r);
            json_decref(m);
            return NULL;
        }
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(r.json, "items"), i, row)
        {
            char key[512];
            snprintf(key, sizeof(key), "%s/%s/%s",
                     json_string_value(json_object_get(row, "cluster")),
                     json_string_value(json_object_get(row, "namespace")),
                     json_string_value(json_object_get(row, "name")));
            json_object_set(m, key, json_object_get(row, "resourceVersion"));
        }
        const char *next = json_string_value(json_object_get(r.json, "continue"));
        if (!next) {
            tc_free(&r);
            return m;
        }
        char *escaped = curl_easy_escape(NULL, next, 0);
        snprintf(path, sizeof(path), "/api/v1/objects?kind=ConfigMap&limit=1000&continue=%s",
                 escaped);
        curl_free(escaped);
        tc_free(&r);
    }
}

static void converge_once(unsigned long long seed, long index, kr_pgserver *pg)
{
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    enum { N = 3 };
    const char *names[N] = {"hub", "east", "west"};
    kr_testserver_t *ts[N];
    char kc[N][512], cluster_args[N][600], db[600];
    for (int i = 0; i < N; i++) {
        kr_testserver_opts o = {.seed = seed + (unsigned long long)i, .bookmark_interval_ms = 50};
        ck_assert_int_eq(kr_testserver_start(&o, &ts[i], NULL), 0);
        snprintf(kc[i], sizeof(kc[i]), "%s/c%ld-%d.kubeconfig", tmpdir, index, i);
        ck_assert_int_eq(kr_testserver_write_kubeconfig(ts[i], kc[i], NULL, NULL), 0);
        snprintf(cluster_args[i], sizeof(cluster_args[i]), "%s=%s", names[i], kc[i]);
    }
    if (pg) {
        ck_assert_int_eq(kr_pgserver_create_db(pg, db, sizeof(db)), 0);
    } else {
        snprintf(db, sizeof(db), "sqlite://%s/converge-%ld.db", tmpdir, index);
    }
    const char *args[] = {
        "--inventory",   db,          "--kubeconfig",  kc[0],         "--cluster",
        cluster_args[1], "--cluster", cluster_args[2], "--resource",  "v1/configmaps=ConfigMap",
        "--buffer",      "20",        "--listen",      "127.0.0.1:0", "--log-format",
        "text",          NULL};
    program p = {0};
    start(&p, args);
    char api[128];
    wait_address(&p, api, sizeof(api));
    int kills = 0, db_restarts = 0;
    int ops = 80 + (int)kr_test_rng_below(&rng, 40);
    for (int op = 0; op < ops; op++) {
        int c = (int)kr_test_rng_below(&rng, N);
        const char *base = kr_testserver_url(ts[c]);
        unsigned long what = kr_test_rng_below(&rng, 100);
        char name[16], value[16];
        snprintf(name, sizeof(name), "k%lu", kr_test_rng_below(&rng, 8));
        snprintf(value, sizeof(value), "%d", op);
        if (what < 45) {
            char body[512], path[256];
            snprintf(body, sizeof(body),
                     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                     "\"%s\",\"namespace\":\"default\"},\"data\":{\"v\":\"%s\"}}",
                     name, value);
            snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s", name);
            tc_response r;
            tc_json(base, "PUT", path, body, &r);
            bool missing = r.status == 404;
            tc_free(&r);
            if (missing) {
                tc_json(base, "POST", "/api/v1/namespaces/default/configmaps", body, &r);
                tc_free(&r);
            }
        } else if (what < 65) {
            char path[256];
            snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s", name);
            tc_response r;
            tc_json(base, "DELETE", path, NULL, &r);
            tc_free(&r);
        } else if (what < 75) {
            kr_testserver_faults f = {0};
            f.fail_500 = (double)kr_test_rng_below(&rng, 20) / 100.0;
            f.fail_503 = (double)kr_test_rng_below(&rng, 20) / 100.0;
            f.watch_max_events = (unsigned)kr_test_rng_below(&rng, 4);
            f.watch_cut_mid_event = kr_test_rng_below(&rng, 2) == 0;
            kr_testserver_set_faults(ts[c], &f);
        } else if (what < 80) {
            /* The cluster down a while: every request answered 503. */
            kr_testserver_faults f = {.fail_503 = 1.0};
            kr_testserver_set_faults(ts[c], &f);
        } else if (what < 88) {
            kr_testserver_close_watches(ts[c]);
        } else if (what < 94) {
            kr_test_proc_kill(&p, SIGKILL);
            start(&p, args);
            wait_address(&p, api, sizeof(api));
            kills++;
        } else if (pg) {
            ck_assert_int_eq(kr_pgserver_stop(pg), 0);
            ck_assert_int_eq(kr_pgserver_restart(pg), 0);
            db_restarts++;
        }
    }
    kr_testserver_faults none = {0};
    for (int i = 0; i < N; i++)
        kr_testserver_set_faults(ts[i], &none);
    json_t *truth = json_object();
    for (int i = 0; i < N; i++)
        truth_add(truth, names[i], kr_testserver_url(ts[i]));
    json_t *held = NULL;
    bool equal = false;
    for (int w = 0; w < 6000 && !equal; w++) {
        json_decref(held);
        held = held_by(api);
        equal = held && json_equal(truth, held);
        if (!equal) {
            struct timespec t = {0, 20 * 1000 * 1000};
            nanosleep(&t, NULL);
        }
    }
    char *tt = json_dumps(truth, JSON_SORT_KEYS | JSON_COMPACT);
    char *ht = held ? json_dumps(held, JSON_SORT_KEYS | JSON_COMPACT) : strdup("(no answer)");
    if (!equal) {
        char *text = kr_test_proc_log_text(&p);
        size_t len = strlen(text);
        ck_abort_msg("seed %llu: the inventory %s != the clusters %s; log ends: %s", seed, ht, tt,
                     text + (len > 3000 ? len - 3000 : 0));
    }
    free(tt);
    free(ht);
    json_decref(truth);
    json_decref(held);
    /* Each observed transition once, across the kills and restarts. */
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = db;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    char *doubled = kr_test_inventory_doubled(inv);
    ck_assert_msg(!doubled, "seed %llu: transaction %s twice", seed, doubled);
    kr_inventory_free(inv);
    ck_assert_int_eq(kr_test_proc_stop(&p, 60000), 0);
    kr_test_proc_free(&p);
    printf("converge seed %llu: %d ops, %d kill -9, %d database restarts\n", seed, ops, kills,
           db_restarts);
    for (int k = 0; k < N; k++)
        kr_testserver_free(ts[k]);
}

static void converge(bool pg_case)
{
    unsigned long long base =
        kr_test_seed(pg_case ? "program_converges_postgresql" : "program_converges_sqlite");
    const char *env = getenv("KR_INVENTORY_PROGRAM_SCHEDULES");
    long n = env && *env ? atol(env) : 10;
    const char *only = getenv("KR_INVENTORY_PROGRAM_BACKEND");
    if (only && strcmp(only, pg_case ? "postgresql" : "sqlite") != 0)
        return;
    /* One PostgreSQL server for every schedule (a database each): it is
     * restarted within schedules, initdb is the slow part. */
    kr_pgserver *pg = NULL;
    char why[512];
    if (pg_case && kr_pgserver_start(&pg, why, sizeof(why)) != 0)
        ck_abort_msg("cannot start PostgreSQL: %s", why);
    for (long s = 0; s < n; s++)
        converge_once(base + (unsigned long long)s, s, pg);
    kr_pgserver_free(pg);
}

START_TEST(program_converges_under_faults_sqlite)
{
    converge(false);
}
END_TEST

START_TEST(program_converges_under_faults_postgresql)
{
    converge(true);
}
END_TEST

int main(void)
{
    if (!kr_test_tmpdir_make(tmpdir, sizeof(tmpdir), "kr-inventory-prog"))
        return EXIT_FAILURE;
    Suite *s = suite_create("kr_inventory");
    TCase *tc = tcase_create("program");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, resources_defaults_and_arguments);
    tcase_add_test(tc, bad_databases_exit_2_at_start_up);
    tcase_add_test(tc, program_keeps_one_namespace_of_a_resource);
    tcase_add_test(tc, program_checks_its_resources_against_discovery);
    tcase_add_test(tc, program_a_hung_cluster_holds_only_its_own_sources);
    tcase_add_test(tc, program_page_live_and_restart_after_kill);
    tcase_add_test(tc, program_asks_for_a_token_when_given_a_token_file);
    tcase_add_test(tc, program_converges_under_faults_sqlite);
    char why[512];
    kr_pgserver *probe = NULL;
    if (kr_pgserver_start(&probe, why, sizeof(why)) == 0) {
        kr_pgserver_free(probe);
        tcase_add_test(tc, program_converges_under_faults_postgresql);
    } else if (kr_pgserver_required()) {
        fprintf(stderr, "test_kr_inventory: PostgreSQL cannot start (%s); CI=true\n", why);
        return EXIT_FAILURE;
    } else {
        kr_test_skip("program_converges_under_faults_postgresql", "PostgreSQL cannot start (%s)",
                     why);
    }
    suite_add_tcase(s, tc);
    TCase *stall = tcase_create("inventory_stall");
    tcase_set_timeout(stall, 300);
    tcase_add_test(stall, program_exits_on_sigterm_while_postgresql_stalls);
    tcase_add_test(stall, program_exits_on_sigterm_during_a_stalled_api_read);
    tcase_add_test(stall, program_exits_on_sigterm_while_its_producers_start_stalled);
    suite_add_tcase(s, stall);
    int rc = kr_test_run_suite(s);
    kr_test_tmpdir_remove(tmpdir);
    return rc;
}
