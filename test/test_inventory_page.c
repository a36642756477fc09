/* The live page in a real browser: Debian's chromium, headless, loads the
 * page from a loopback server that serves the inventory's Workflow API
 * (kr_inventory_api_handle and the SSE stream on libmicrohttpd), sees the
 * rows per cluster, then an object changed in the inventory shows its new
 * status without a reload; the filter box and the history view work.
 * Without chromium the suite fails when CI=true and skips otherwise.
 * KR_TEST_THREADED: the server's threads read while the test writes. */
#include <arpa/inet.h>
#include <check.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chromium.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"

static char tmpdir[256];

/* ---- a loopback server for the API -------------------------------------- */

typedef struct params {
    kr_inventory_api_param items[32];
    size_t n;
} params;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    params *p = cls;
    if (p->n < 32) {
        p->items[p->n].name = key;
        p->items[p->n].value = value;
        p->n++;
    }
    return MHD_YES;
}

/* The database the server serves; the test can replace it, as a restore
 * would, which ends the streams open on the old one. */
typedef struct served {
    pthread_mutex_t mu;
    kr_inventory_t *inv;
    int generation;
    bool away; /* every request answered 503, as while the database is down */
    int history_oldest_first; /* requests for a history read oldest first */
    const char *const *kinds; /* the kinds kept (the API's options); NULL: any */
    size_t n_kinds;
} served;

static kr_inventory_t *served_inv(served *sv, int *generation)
{
    pthread_mutex_lock(&sv->mu);
    kr_inventory_t *inv = sv->inv;
    if (generation)
        *generation = sv->generation;
    pthread_mutex_unlock(&sv->mu);
    return inv;
}

typedef struct stream {
    kr_inventory_sse_t *sse;
    served *sv;
    int generation;
} stream;

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *st = cls;
    int generation = 0;
    served_inv(st->sv, &generation);
    if (generation != st->generation)
        return MHD_CONTENT_READER_END_OF_STREAM;
    long n = kr_inventory_sse_read(st->sse, buf, max, 500);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void sse_free(void *cls)
{
    stream *st = cls;
    kr_inventory_sse_free(st->sse);
    free(st);
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    if (!*state) { /* the headers: answer on the next call */
        *state = conn;
        return MHD_YES;
    }
    served *sv = cls;
    int generation = 0;
    kr_inventory_t *inv = served_inv(sv, &generation);
    struct MHD_Response *r;
    int status;
    pthread_mutex_lock(&sv->mu);
    bool away = sv->away;
    pthread_mutex_unlock(&sv->mu);
    if (away) {
        static const char body[] = "{\"error\":\"inventory: the database is away\",\"code\":503}";
        r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "application/json");
        status = 503;
    } else if (strcmp(url, "/api/v1/events") == 0 && strcmp(method, "GET") == 0) {
        const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
        if (!last)
            last = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after");
        stream *st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        st->sv = sv;
        st->generation = generation;
        if (kr_inventory_sse_new(inv, last, &st->sse, NULL) != 0) {
            free(st);
            return MHD_NO;
        }
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_reader, st, sse_free);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        status = 200;
    } else {
        params p = {.n = 0};
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect, &p);
        bool newest = false;
        for (size_t i = 0; i < p.n; i++)
            newest |= strcmp(p.items[i].name, "newestFirst") == 0 && p.items[i].value &&
                      strcmp(p.items[i].value, "true") == 0;
        if (strcmp(url, "/api/v1/history") == 0 && !newest) {
            pthread_mutex_lock(&sv->mu);
            sv->history_oldest_first++;
            pthread_mutex_unlock(&sv->mu);
        }
        kr_inventory_api_response resp;
        kr_inventory_api_opts opts = KR_INVENTORY_API_OPTS_INIT;
        opts.kinds = sv->kinds;
        opts.n_kinds = sv->n_kinds;
        kr_inventory_api_handle(inv, &opts, method, url, p.items, p.n, &resp);
        r = MHD_create_response_from_buffer(resp.len, resp.body ? resp.body : (char *)"",
                                            MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(r, "Content-Type",
                                resp.content_type ? resp.content_type : "text/plain");
        status = resp.status;
        kr_inventory_api_response_free(&resp);
    }
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static struct MHD_Daemon *start_server(served *sv, unsigned short *port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve, sv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
    ck_assert_ptr_nonnull(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(info);
    *port = info->port;
    return d;
}

/* ---- objects -------------------------------------------------------------- */

static void put(kr_inventory_t *inv, const char *cluster, kr_inventory_event_type type,
                const char *ns, const char *name, const char *uid, const char *rv,
                const char *state)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:{s:s}}, s:{}}", "apiVersion",
                          "batch/v1", "kind", "Job", "metadata", "namespace", ns, "name", name,
                          "uid", uid, "resourceVersion", rv, "labels", "team", "ml", "status");
    if (strcmp(state, "running") == 0)
        json_object_set_new(json_object_get(o, "status"), "active", json_integer(1));
    if (strcmp(state, "done") == 0)
        json_object_set_new(json_object_get(o, "status"), "conditions",
                            json_pack("[{s:s, s:s}]", "type", "Complete", "status", "True"));
    kr_inventory_event e = {.cluster = cluster, .type = type, .object = o};
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_apply(inv, &e, 1, NULL, &err) == 0, "%s", err.message);
    json_decref(o);
}

static long count(kr_chromium *c, const char *expression)
{
    json_t *v = NULL;
    char why[512];
    ck_assert_msg(kr_chromium_eval(c, expression, &v, why, sizeof(why)) == 0, "%s", why);
    long n = (long)json_integer_value(v);
    json_decref(v);
    return n;
}

/* Serves `sv` (into `*d`) and opens its page in Chromium, loaded and
 * live. When Chromium cannot run: under CI=true the test fails, else test
 * `name` is skipped; the server is stopped and NULL returned. */
static kr_chromium *open_live_page(served *sv, struct MHD_Daemon **d, const char *name)
{
    unsigned short port = 0;
    *d = start_server(sv, &port);
    char page[64];
    snprintf(page, sizeof(page), "http://127.0.0.1:%u/", port);
    kr_chromium *c = NULL;
    char why[512];
    if (kr_chromium_open(page, &c, why, sizeof(why)) != 0) {
        MHD_stop_daemon(*d);
        *d = NULL;
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0)
            ck_abort_msg("chromium cannot run and CI=true: %s", why);
        kr_test_skip(name, "%s", why);
        return NULL;
    }
    ck_assert_msg(kr_chromium_wait_true(c,
                                        "document.body.dataset.ready === 'true' && "
                                        "document.body.dataset.live === 'true'",
                                        60000),
                  "the page did not load and go live");
    return c;
}

START_TEST(page_shows_rows_and_changes_live_without_reload)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite://%s/page.db", tmpdir);
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&o, &inv, &err) == 0, "%s", err.message);
    put(inv, "east", KR_INVENTORY_ADDED, "ml", "train", "u1", "10", "running");
    put(inv, "east", KR_INVENTORY_ADDED, "ml", "eval", "u2", "11", "pending");
    put(inv, "west", KR_INVENTORY_ADDED, "ml", "train-b", "u3", "5", "running");
    served sv = {.mu = PTHREAD_MUTEX_INITIALIZER, .inv = inv};
    struct MHD_Daemon *d = NULL;
    kr_chromium *c = open_live_page(&sv, &d, "page_shows_rows_and_changes_live_without_reload");
    if (!c) {
        kr_inventory_free(inv);
        return;
    }
    char why[512];
    /* Rows per cluster. */
    ck_assert_int_eq(count(c, "document.querySelectorAll('section.cluster').length"), 2);
    ck_assert_int_eq(count(c, "document.querySelectorAll('#cluster-east tbody tr').length"), 2);
    ck_assert_int_eq(count(c, "document.querySelectorAll('#cluster-west tbody tr').length"), 1);
    ck_assert(kr_chromium_wait_true(
        c, "document.getElementById('row:east/Job/ml/train').dataset.phase === 'Running'", 10000));
    /* A change in the inventory reaches the page live: no reload (the
     * marker set on the window survives). */
    json_t *v = NULL;
    ck_assert_int_eq(kr_chromium_eval(c, "window.krMarker = 42", &v, why, sizeof(why)), 0);
    json_decref(v);
    put(inv, "east", KR_INVENTORY_MODIFIED, "ml", "train", "u1", "12", "done");
    put(inv, "north", KR_INVENTORY_ADDED, "ml", "fresh", "u9", "1", "pending");
    ck_assert_msg(kr_chromium_wait_true(c,
                                        "document.getElementById('row:east/Job/ml/train')"
                                        ".dataset.phase === 'Succeeded'",
                                        30000),
                  "the change did not reach the page");
    ck_assert(
        kr_chromium_wait_true(c, "!!document.getElementById('row:north/Job/ml/fresh')", 30000));
    ck_assert_int_eq(count(c, "window.krMarker"), 42);
    /* The filter box hides what does not match. */
    ck_assert_int_eq(kr_chromium_eval(c,
                                      "(function(){var f=document.getElementById('filter');"
                                      "f.value='train';f.dispatchEvent(new Event('input'));"
                                      "return 1;})()",
                                      &v, why, sizeof(why)),
                     0);
    json_decref(v);
    ck_assert_int_eq(count(c, "document.querySelectorAll('tbody tr.hidden').length"), 2);
    /* The history view of a row. */
    ck_assert_int_eq(kr_chromium_eval(c,
                                      "document.getElementById('row:east/Job/ml/train')"
                                      ".querySelector('button').click(), 1",
                                      &v, why, sizeof(why)),
                     0);
    json_decref(v);
    ck_assert(kr_chromium_wait_true(c, "document.querySelectorAll('#history-rows tr').length === 2",
                                    30000));
    ck_assert(kr_chromium_wait_true(
        c,
        "document.querySelectorAll('#history-rows tr')[1].children[3].textContent === "
        "'MODIFIED'",
        10000));
    /* The database away for a while: the stream is cut and every
     * reconnect answered 503, after which a browser's EventSource gives up
     * for good; the page opens a new one and is live again once the
     * database is back, with what changed meanwhile. */
    pthread_mutex_lock(&sv.mu);
    sv.away = true;
    sv.generation++;
    pthread_mutex_unlock(&sv.mu);
    ck_assert_msg(kr_chromium_wait_true(c, "document.body.dataset.live === 'false'", 30000),
                  "the page did not see the stream go");
    sleep(5); /* several reconnects refused */
    put(inv, "east", KR_INVENTORY_ADDED, "ml", "during", "u5", "13", "pending");
    pthread_mutex_lock(&sv.mu);
    sv.away = false;
    pthread_mutex_unlock(&sv.mu);
    ck_assert_msg(kr_chromium_wait_true(c,
                                        "document.body.dataset.live === 'true' && "
                                        "!!document.getElementById('row:east/Job/ml/during')",
                                        60000),
                  "the page did not come back after the database did");
    ck_assert_int_eq(count(c, "window.krMarker"), 42); /* no reload */
    /* The database replaced by a fresh one (a restore): the stream, cut,
     * comes back with an id the new database never gave; the page reads
     * the new state instead of waiting in silence for that id. */
    snprintf(url, sizeof(url), "sqlite://%s/page-restored.db", tmpdir);
    kr_inventory_t *restored = NULL;
    ck_assert_msg(kr_inventory_new(&o, &restored, &err) == 0, "%s", err.message);
    put(restored, "south", KR_INVENTORY_ADDED, "ml", "only-here", "u7", "3", "running");
    pthread_mutex_lock(&sv.mu);
    sv.inv = restored;
    sv.generation++;
    pthread_mutex_unlock(&sv.mu);
    ck_assert_msg(kr_chromium_wait_true(c,
                                        "!!document.getElementById('row:south/Job/ml/only-here') "
                                        "&& !document.getElementById('row:east/Job/ml/train')",
                                        60000),
                  "the page did not read the restored database");
    kr_chromium_close(c);
    MHD_stop_daemon(d);
    kr_inventory_free(restored);
    kr_inventory_free(inv);
}
END_TEST

/* A busy object: more changes than the history view shows. Its newest
 * ones are read first and shown, a row above them reads the earlier ones
 * when asked, and a change made while the view is open is added below
 * them. */
START_TEST(page_history_of_a_busy_object_shows_its_latest_changes)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite://%s/busy.db", tmpdir);
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&o, &inv, &err) == 0, "%s", err.message);
    enum { CHANGES = 1205 };
    char rv[32];
    for (int i = 0; i < CHANGES; i++) {
        snprintf(rv, sizeof(rv), "%d", 100 + i);
        put(inv, "east", i ? KR_INVENTORY_MODIFIED : KR_INVENTORY_ADDED, "ml", "busy", "u1", rv,
            i % 2 ? "running" : "pending");
    }
    int64_t newest = 0;
    ck_assert_int_eq(kr_inventory_last_seq(inv, &newest, &err), 0);
    ck_assert_int_eq(newest, CHANGES);
    served sv = {.mu = PTHREAD_MUTEX_INITIALIZER, .inv = inv};
    struct MHD_Daemon *d = NULL;
    kr_chromium *c =
        open_live_page(&sv, &d, "page_history_of_a_busy_object_shows_its_latest_changes");
    if (!c) {
        kr_inventory_free(inv);
        return;
    }
    char why[512];
    json_t *v = NULL;
    ck_assert_int_eq(kr_chromium_eval(c,
                                      "document.getElementById('row:east/Job/ml/busy')"
                                      ".querySelector('button').click(), 1",
                                      &v, why, sizeof(why)),
                     0);
    json_decref(v);
    ck_assert_msg(kr_chromium_wait_true(c,
                                        "document.querySelectorAll('#history-rows tr[data-seq]')"
                                        ".length === 1000 && "
                                        "!!document.querySelector('#history-rows tr.older')",
                                        30000),
                  "the history view did not show 1000 changes");
    /* read newest first: no page of the oldest changes was asked for */
    pthread_mutex_lock(&sv.mu);
    int oldest_first = sv.history_oldest_first;
    pthread_mutex_unlock(&sv.mu);
    ck_assert_int_eq(oldest_first, 0);
    /* the last 1000, in order: the newest at the end, the earlier ones
     * behind a row above them */
    ck_assert_int_eq(count(c, "+document.querySelector('#history-rows tr[data-seq]')"
                              ".dataset.seq"),
                     CHANGES - 999);
    ck_assert_int_eq(count(c, "+Array.from(document.querySelectorAll("
                              "'#history-rows tr[data-seq]')).pop().dataset.seq"),
                     CHANGES);
    ck_assert_int_eq(count(c, "document.querySelector('#history-rows tr').className === 'older'"
                              " ? 1 : 0"),
                     1);
    /* asked for, the earlier ones come above, in order, and no row says
     * more are left */
    ck_assert_int_eq(kr_chromium_eval(c,
                                      "document.querySelector('#history-rows tr.older button')"
                                      ".click(), 1",
                                      &v, why, sizeof(why)),
                     0);
    json_decref(v);
    ck_assert_msg(kr_chromium_wait_true(c,
                                        "document.querySelectorAll('#history-rows tr[data-seq]')"
                                        ".length === 1205 && "
                                        "!document.querySelector('#history-rows tr.older')",
                                        30000),
                  "the earlier changes were not shown");
    ck_assert_int_eq(count(c, "Array.from(document.querySelectorAll("
                              "'#history-rows tr[data-seq]')).every(function (tr, i) {"
                              " return +tr.dataset.seq === i + 1; }) ? 1 : 0"),
                     1);
    /* a change while the view is open comes below the newest */
    snprintf(rv, sizeof(rv), "%d", 100 + CHANGES);
    put(inv, "east", KR_INVENTORY_MODIFIED, "ml", "busy", "u1", rv, "done");
    ck_assert_msg(kr_chromium_wait_true(c,
                                        "+Array.from(document.querySelectorAll("
                                        "'#history-rows tr[data-seq]')).pop().dataset.seq === "
                                        "1206",
                                        30000),
                  "the change did not reach the history view");
    kr_chromium_close(c);
    MHD_stop_daemon(d);
    kr_inventory_free(inv);
}
END_TEST

/* Programs record actions on kinds no producer keeps (kr-syncer's
 * DELETED of a deployable in a workload cluster): the page asks for the
 * row of a streamed change only when its kind is kept. */
START_TEST(page_asks_only_for_rows_of_kinds_kept)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite://%s/kinds.db", tmpdir);
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&o, &inv, &err) == 0, "%s", err.message);
    put(inv, "east", KR_INVENTORY_ADDED, "ml", "train", "u1", "10", "running");
    static const char *const kept[] = {"Job", "Runnable"};
    served sv = {.mu = PTHREAD_MUTEX_INITIALIZER, .inv = inv, .kinds = kept, .n_kinds = 2};
    struct MHD_Daemon *d = NULL;
    kr_chromium *c = open_live_page(&sv, &d, "page_asks_only_for_rows_of_kinds_kept");
    if (!c) {
        kr_inventory_free(inv);
        return;
    }
    /* every URL the page fetches from now on */
    char why[512];
    json_t *v = NULL;
    ck_assert_int_eq(kr_chromium_eval(c,
                                      "(function(){window.krFetched=[];var f=window.fetch;"
                                      "window.fetch=function(u){window.krFetched.push(String(u));"
                                      "return f.apply(this,arguments);};return 1;})()",
                                      &v, why, sizeof(why)),
                     0);
    json_decref(v);
    kr_inventory_action a = {.cluster = "west",
                             .api_version = "example.com/v1",
                             .kind = "Widget",
                             .namespace_ = "apps",
                             .name = "w1",
                             .uid = "u-w1",
                             .event = "DELETED",
                             .actor = "kr-syncer"};
    ck_assert_msg(kr_inventory_record(inv, &a, NULL, &err) == 0, "%s", err.message);
    /* a change of a kept kind after it: once its row is read, the
     * Widget's transaction was handled before */
    put(inv, "east", KR_INVENTORY_MODIFIED, "ml", "train", "u1", "11", "done");
    ck_assert_msg(kr_chromium_wait_true(c,
                                        "document.getElementById('row:east/Job/ml/train')"
                                        ".dataset.phase === 'Succeeded'",
                                        30000),
                  "the change did not reach the page");
    ck_assert_int_eq(count(c, "window.krFetched.filter(function (u) {"
                              " return u.indexOf('/api/v1/objects/west/Widget/') >= 0; }).length"),
                     0);
    ck_assert_int_eq(count(c, "window.krFetched.filter(function (u) {"
                              " return u.indexOf('/api/v1/objects/east/Job/ml/train') >= 0; })"
                              ".length"),
                     1);
    kr_chromium_close(c);
    MHD_stop_daemon(d);
    kr_inventory_free(inv);
}
END_TEST

int main(void)
{
    if (!kr_test_tmpdir_make(tmpdir, sizeof(tmpdir), "kr-inv-page"))
        return EXIT_FAILURE;
    Suite *s = suite_create("inventory_page");
    TCase *tc = tcase_create("chromium");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, page_shows_rows_and_changes_live_without_reload);
    tcase_add_test(tc, page_history_of_a_busy_object_shows_its_latest_changes);
    tcase_add_test(tc, page_asks_only_for_rows_of_kinds_kept);
    suite_add_tcase(s, tc);
    int rc = kr_test_run_suite(s);
    kr_test_tmpdir_remove(tmpdir);
    return rc;
}
