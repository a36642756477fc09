/* Tests for the inventory's Workflow API handlers and its Server-Sent
 * Events stream, without a server: requests as (method, path, decoded
 * parameters), answers as (status, type, JSON body). On SQLite (the
 * storage suite covers both backends). KR_TEST_THREADED: a stream waits
 * on one thread while another commits. */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"

static char tmpdir[256];
static int db_counter;

static kr_inventory_t *fresh(void)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite://%s/api-%d-%d.db", tmpdir, (int)getpid(), ++db_counter);
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&o, &inv, &err) == 0, "%s", err.message);
    return inv;
}

static json_t *job(const char *ns, const char *name, const char *uid, const char *rv,
                   const char *app, bool running)
{
    json_t *o =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:{s:s}}, s:{s:i}}", "apiVersion", "batch/v1",
                  "kind", "Job", "metadata", "namespace", ns, "name", name, "uid", uid,
                  "resourceVersion", rv, "labels", "app", app, "status", "active", running ? 1 : 0);
    ck_assert_ptr_nonnull(o);
    return o;
}

static void put(kr_inventory_t *inv, const char *cluster, kr_inventory_event_type type, json_t *obj)
{
    kr_inventory_event e = {.cluster = cluster, .type = type, .object = obj};
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_apply(inv, &e, 1, NULL, &err) == 0, "%s", err.message);
    json_decref(obj);
}

/* Six Jobs: east/ns-a/{j0,j1,j2}, west/ns-a/j0, west/ns-b/{j1,j2}. */
static void load(kr_inventory_t *inv)
{
    put(inv, "east", KR_INVENTORY_ADDED, job("ns-a", "j0", "e0", "1", "web", true));
    put(inv, "east", KR_INVENTORY_ADDED, job("ns-a", "j1", "e1", "2", "db", false));
    put(inv, "east", KR_INVENTORY_ADDED, job("ns-a", "j2", "e2", "3", "web", false));
    put(inv, "west", KR_INVENTORY_ADDED, job("ns-a", "j0", "w0", "7", "web", true));
    put(inv, "west", KR_INVENTORY_ADDED, job("ns-b", "j1", "w1", "8", "db", true));
    put(inv, "west", KR_INVENTORY_ADDED, job("ns-b", "j2", "w2", "9", "web", false));
}

static const char *const kinds[] = {"Job", "Runnable", "ConfigMap", "Secret"};

/* GET path?params (name=value pairs, NULL-terminated): the answer's JSON
 * body (new), its status in *status. */
static json_t *get(kr_inventory_t *inv, const char *path, int *status, ...)
{
    kr_inventory_api_param params[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, status);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL && n < 16) {
        params[n].name = name;
        params[n].value = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    kr_inventory_api_opts opts = KR_INVENTORY_API_OPTS_INIT;
    opts.kinds = kinds;
    opts.n_kinds = 4;
    kr_inventory_api_response resp;
    ck_assert_int_eq(kr_inventory_api_handle(inv, &opts, "GET", path, params, n, &resp), 0);
    *status = resp.status;
    json_t *doc = NULL;
    if (strcmp(resp.content_type, "application/json") == 0) {
        doc = json_loadb(resp.body, resp.len, 0, NULL);
        ck_assert_ptr_nonnull(doc);
        if (resp.status >= 400) {
            ck_assert(json_is_string(json_object_get(doc, "error")));
            ck_assert_int_eq(json_integer_value(json_object_get(doc, "code")), resp.status);
        }
    }
    kr_inventory_api_response_free(&resp);
    return doc;
}

static size_t items(json_t *doc)
{
    return json_array_size(json_object_get(doc, "items"));
}

START_TEST(api_objects_filters_and_pages)
{
    kr_inventory_t *inv = fresh();
    load(inv);
    int status;
    json_t *doc = get(inv, "/api/v1/objects", &status, NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(items(doc), 6);
    ck_assert_ptr_null(json_object_get(doc, "continue"));
    /* where a reader of this page resumes the stream: the last transaction */
    int64_t last = 0;
    ck_assert_int_eq(kr_inventory_last_seq(inv, &last, NULL), 0);
    ck_assert_int_gt(last, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "lastSeq")), last);
    /* the kinds kept, for a reader of the stream */
    json_t *kept = json_object_get(doc, "kinds");
    ck_assert_uint_eq(json_array_size(kept), 4);
    ck_assert_str_eq(json_string_value(json_array_get(kept, 0)), "Job");
    ck_assert_str_eq(json_string_value(json_array_get(kept, 3)), "Secret");
    json_decref(doc);
    doc = get(inv, "/api/v1/objects", &status, "cluster", "west", "labelSelector", "app=web", NULL);
    ck_assert_uint_eq(items(doc), 2);
    json_decref(doc);
    doc = get(inv, "/api/v1/objects", &status, "phase", "Running", "kind", "Job", "namespace",
              "ns-a", NULL);
    ck_assert_uint_eq(items(doc), 2);
    json_decref(doc);
    /* Pages of 4 then 2. */
    doc = get(inv, "/api/v1/objects", &status, "limit", "4", NULL);
    ck_assert_uint_eq(items(doc), 4);
    const char *token = json_string_value(json_object_get(doc, "continue"));
    ck_assert_ptr_nonnull(token);
    json_t *next = get(inv, "/api/v1/objects", &status, "limit", "4", "continue", token, NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(items(next), 2);
    ck_assert_ptr_null(json_object_get(next, "continue"));
    json_decref(next);
    json_decref(doc);
    kr_inventory_free(inv);
}
END_TEST

START_TEST(api_bad_parameters_are_400_with_a_json_message)
{
    kr_inventory_t *inv = fresh();
    load(inv);
    const char *bad[][2] = {{"limit", "0"},
                            {"limit", "abc"},
                            {"limit", "1001"},
                            {"limit", "-5"},
                            {"limit", "07"},
                            {"limit", "+5"},
                            {"limit", " 5"},
                            {"labelSelector", "app in ("},
                            {"continue", "garbage"},
                            {"kind", "Pod"},
                            {"includeDeleted", "yes"},
                            {"colour", "blue"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int status;
        json_t *doc = get(inv, "/api/v1/objects", &status, bad[i][0], bad[i][1], NULL);
        ck_assert_msg(status == 400, "%s=%s: %d", bad[i][0], bad[i][1], status);
        json_decref(doc);
    }
    int status;
    json_t *doc = get(inv, "/api/v1/objects", &status, "cluster", "a", "cluster", "b", NULL);
    ck_assert_int_eq(status, 400);
    json_decref(doc);
    doc = get(inv, "/api/v1/history", &status, "kind", "Job", NULL);
    ck_assert_int_eq(status, 400);
    json_decref(doc);
    /* digits only, and no number clamped to fit */
    static const char *const afters[] = {"x", "-0", "+1", "99999999999999999999999999"};
    for (size_t i = 0; i < sizeof(afters) / sizeof(afters[0]); i++) {
        doc = get(inv, "/api/v1/history", &status, "kind", "Job", "name", "j0", "after", afters[i],
                  NULL);
        ck_assert_msg(status == 400, "after=%s: %d", afters[i], status);
        json_decref(doc);
    }
    kr_inventory_sse_t *sse = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_sse_new(inv, "-0", &sse, &err), KR_EINVAL);
    ck_assert_int_eq(kr_inventory_sse_new(inv, "+3", &sse, &err), KR_EINVAL);
    /* the stream reads "after" as history does: a leading zero is refused
     * by both, never taken by one alone */
    ck_assert_int_eq(kr_inventory_sse_new(inv, "01", &sse, &err), KR_EINVAL);
    ck_assert_msg(strstr(err.message, "not \"01\""), "%s", err.message);
    doc = get(inv, "/api/v1/history", &status, "kind", "Widget", "name", "j0", NULL);
    ck_assert_int_eq(status, 400);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(doc, "error")), "Widget"));
    json_decref(doc);
    doc = get(inv, "/api/v1/objects/east/Job/ns-a", &status, NULL);
    ck_assert_int_eq(status, 400);
    json_decref(doc);
    /* an empty segment is no name: never read as the path without it */
    static const char *const empties[] = {"/api/v1/objects//east/Job/ns-a/j0",
                                          "/api/v1/objects/east/Job/ns-a/j0/",
                                          "/api/v1/objects/east//ns-a/j0"};
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        doc = get(inv, empties[i], &status, NULL);
        ck_assert_msg(status == 400, "%s: %d", empties[i], status);
        json_decref(doc);
    }
    doc = get(inv, "/api/v1/nothing", &status, NULL);
    ck_assert_int_eq(status, 404);
    json_decref(doc);
    /* not UTF-8: a 400 with a message, never a 500 without one */
    doc = get(inv, "/api/v1/objects", &status, "cluster", "\xc3", NULL);
    ck_assert_int_eq(status, 400);
    json_decref(doc);
    doc = get(inv, "/api/v1/objects", &status, "\xff", "x", NULL);
    ck_assert_int_eq(status, 400);
    json_decref(doc);
    doc = get(inv, "/api/v1/objects/east/Job/ns-a/\xc3", &status, NULL);
    ck_assert_int_eq(status, 400);
    json_decref(doc);
    char longer[1100];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    for (size_t i = 990; i + 2 < sizeof(longer); i += 2)
        memcpy(longer + i, "\xc3\xa9", 2); /* the message is cut inside an "e-acute" */
    doc = get(inv, "/api/v1/objects", &status, "kind", longer, NULL);
    ck_assert_int_eq(status, 400);
    json_decref(doc);
    doc = get(inv, "/api/v1/events", &status, NULL);
    ck_assert_int_eq(status, 400);
    json_decref(doc);
    kr_inventory_api_response resp;
    ck_assert_int_eq(kr_inventory_api_handle(inv, NULL, "POST", "/api/v1/objects", NULL, 0, &resp),
                     0);
    ck_assert_int_eq(resp.status, 405);
    kr_inventory_api_response_free(&resp);
    /* HEAD is a GET (the server leaves the body out) */
    ck_assert_int_eq(kr_inventory_api_handle(inv, NULL, "HEAD", "/api/v1/objects", NULL, 0, &resp),
                     0);
    ck_assert_int_eq(resp.status, 200);
    kr_inventory_api_response_free(&resp);
    kr_inventory_free(inv);
}
END_TEST

START_TEST(api_one_object_and_its_history)
{
    kr_inventory_t *inv = fresh();
    load(inv);
    put(inv, "east", KR_INVENTORY_MODIFIED, job("ns-a", "j1", "e1", "20", "db", true));
    put(inv, "east", KR_INVENTORY_DELETED, job("ns-a", "j1", "e1", "21", "db", true));
    put(inv, "west", KR_INVENTORY_ADDED, job("ns-a", "j1", "w9", "30", "db", true));
    int status;
    json_t *row = get(inv, "/api/v1/objects/east/Job/ns-a/j1", &status, NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(row, "phase")), "Deleted");
    json_decref(row);
    row = get(inv, "/api/v1/objects/west/Job/ns-a/j1", &status, NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(row, "phase")), "Running");
    json_decref(row);
    row = get(inv, "/api/v1/objects/north/Job/ns-a/j1", &status, NULL);
    ck_assert_int_eq(status, 404);
    json_decref(row);
    /* Cluster-scoped objects are addressed with namespace "_". */
    json_t *ns = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Namespace",
                           "metadata", "name", "ns-a", "uid", "n1", "resourceVersion", "5");
    put(inv, "east", KR_INVENTORY_ADDED, ns);
    kr_inventory_api_response resp;
    ck_assert_int_eq(kr_inventory_api_handle(
                         inv, NULL, "GET", "/api/v1/objects/east/Namespace/_/ns-a", NULL, 0, &resp),
                     0);
    ck_assert_int_eq(resp.status, 200);
    kr_inventory_api_response_free(&resp);
    /* and listed alone with namespace=_ */
    json_t *cs = get(inv, "/api/v1/objects", &status, "namespace", "_", NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(items(cs), 1);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(cs, "items"), 0), "kind")),
        "Namespace");
    json_decref(cs);
    cs = get(inv, "/api/v1/objects", &status, "namespace", "_", "kind", "Job", NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(items(cs), 0);
    json_decref(cs);
    json_t *h = get(inv, "/api/v1/history", &status, "kind", "Job", "namespace", "ns-a", "name",
                    "j1", NULL);
    ck_assert_int_eq(status, 200);
    const char *want[][2] = {
        {"east", "ADDED"}, {"east", "MODIFIED"}, {"east", "DELETED"}, {"west", "ADDED"}};
    ck_assert_uint_eq(items(h), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *t = json_array_get(json_object_get(h, "items"), i);
        ck_assert_str_eq(json_string_value(json_object_get(t, "cluster")), want[i][0]);
        ck_assert_str_eq(json_string_value(json_object_get(t, "event")), want[i][1]);
    }
    json_decref(h);
    kr_inventory_free(inv);
}
END_TEST

/* The books hold what every program records, also on kinds no producer
 * of this inventory keeps (a deployable kr-syncer writes): their history
 * is served; a kind with nothing recorded is still a 400 naming it. */
START_TEST(api_history_of_a_kind_only_programs_recorded)
{
    kr_inventory_t *inv = fresh();
    load(inv);
    kr_inventory_action a = {.cluster = "east",
                             .api_version = "example.com/v1",
                             .kind = "Widget",
                             .namespace_ = "apps",
                             .name = "w1",
                             .uid = "u-w1",
                             .event = "CREATED",
                             .actor = "kr-syncer"};
    int64_t seq = 0;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_record(inv, &a, &seq, &err) == 0, "%s", err.message);
    a.event = "PATCHED";
    ck_assert_msg(kr_inventory_record(inv, &a, NULL, &err) == 0, "%s", err.message);
    int status;
    json_t *doc = get(inv, "/api/v1/history", &status, "kind", "Widget", "namespace", "apps",
                      "name", "w1", NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(items(doc), 2);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(doc, "items"), 0), "event")),
                     "CREATED");
    json_decref(doc);
    /* read after the first: the second alone, and none after the last */
    char after[32];
    snprintf(after, sizeof(after), "%lld", (long long)seq);
    doc = get(inv, "/api/v1/history", &status, "kind", "Widget", "namespace", "apps", "name", "w1",
              "after", after, NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(items(doc), 1);
    json_decref(doc);
    snprintf(after, sizeof(after), "%lld", (long long)seq + 1);
    doc = get(inv, "/api/v1/history", &status, "kind", "Widget", "namespace", "apps", "name", "w1",
              "after", after, NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(items(doc), 0);
    json_decref(doc);
    /* nothing recorded of this one: a misspelt kind, said so */
    doc = get(inv, "/api/v1/history", &status, "kind", "Widget", "namespace", "apps", "name", "w2",
              NULL);
    ck_assert_int_eq(status, 400);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(doc, "error")), "Widget"));
    json_decref(doc);
    kr_inventory_free(inv);
}
END_TEST

/* A busy object's history newest first: the latest page at once, then
 * the pages before it with before=, and bad values refused. */
START_TEST(api_history_newest_first_pages_backwards)
{
    kr_inventory_t *inv = fresh();
    load(inv);
    char rv[16];
    for (int i = 0; i < 5; i++) {
        snprintf(rv, sizeof(rv), "%d", 20 + i);
        put(inv, "east", KR_INVENTORY_MODIFIED, job("ns-a", "j1", "e1", rv, "db", i % 2 == 0));
    }
    int status;
    json_t *doc = get(inv, "/api/v1/history", &status, "kind", "Job", "namespace", "ns-a", "name",
                      "j1", "newestFirst", "true", "limit", "4", NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(items(doc), 4);
    json_int_t prev = INT64_MAX;
    for (size_t i = 0; i < 4; i++) {
        json_t *t = json_array_get(json_object_get(doc, "items"), i);
        json_int_t seq = json_integer_value(json_object_get(t, "seq"));
        ck_assert_int_lt(seq, prev);
        prev = seq;
    }
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(doc, "items"), 0), "resourceVersion")),
                     "24");
    json_decref(doc);
    char before[32];
    snprintf(before, sizeof(before), "%lld", (long long)prev);
    doc = get(inv, "/api/v1/history", &status, "kind", "Job", "namespace", "ns-a", "name", "j1",
              "newestFirst", "true", "limit", "4", "before", before, NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(items(doc), 2); /* the first MODIFIED, then ADDED */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(doc, "items"), 1), "event")),
                     "ADDED");
    json_decref(doc);
    /* oldest first stays the default */
    doc = get(inv, "/api/v1/history", &status, "kind", "Job", "namespace", "ns-a", "name", "j1",
              "newestFirst", "false", "limit", "1", NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(doc, "items"), 0), "event")),
                     "ADDED");
    json_decref(doc);
    const char *bad[][2] = {{"newestFirst", "yes"}, {"before", "0"}, {"before", "-1"}};
    for (size_t i = 0; i < 3; i++) {
        doc = get(inv, "/api/v1/history", &status, "kind", "Job", "name", "j1", bad[i][0],
                  bad[i][1], NULL);
        ck_assert_int_eq(status, 400);
        json_decref(doc);
    }
    kr_inventory_free(inv);
}
END_TEST

START_TEST(api_serves_the_page)
{
    kr_inventory_t *inv = fresh();
    kr_inventory_api_response resp;
    ck_assert_int_eq(kr_inventory_api_handle(inv, NULL, "GET", "/", NULL, 0, &resp), 0);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_ptr_nonnull(strstr(resp.content_type, "text/html"));
    ck_assert_ptr_nonnull(strstr(resp.body, "EventSource"));
    ck_assert_ptr_nonnull(strstr(resp.body, "/api/v1/objects"));
    /* Works offline: nothing loaded from elsewhere. */
    ck_assert_ptr_null(strstr(resp.body, "http://"));
    ck_assert_ptr_null(strstr(resp.body, "https://"));
    kr_inventory_api_response_free(&resp);
    kr_inventory_free(inv);
}
END_TEST

/* Read the stream until `want` events were seen (or 10 s). */
static char *read_events(kr_inventory_sse_t *sse, int want)
{
    char *all = calloc(1, 1 << 16);
    size_t len = 0;
    for (int tries = 0; tries < 100; tries++) {
        int seen = 0;
        for (const char *p = all; (p = strstr(p, "\nevent: transaction")); p++)
            seen++;
        if (seen >= want)
            break;
        long n = kr_inventory_sse_read(sse, all + len, (1 << 16) - 1 - len, 100);
        ck_assert_int_ge(n, 0);
        len += (size_t)n;
    }
    return all;
}

START_TEST(api_events_stream_resumes_after_last_event_id)
{
    kr_inventory_t *inv = fresh();
    load(inv); /* seq 1..6 */
    kr_inventory_sse_t *sse = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_sse_new(inv, "4", &sse, &err), 0);
    char *text = read_events(sse, 2);
    ck_assert_ptr_nonnull(strstr(text, "retry: 2000\n\n"));
    ck_assert_ptr_nonnull(strstr(text, "id: 5\nevent: transaction\ndata: {"));
    ck_assert_ptr_nonnull(strstr(text, "id: 6\n"));
    ck_assert_ptr_null(strstr(text, "id: 4\n"));
    free(text);
    /* Nothing new: an empty read within the wait. */
    char buf[256];
    ck_assert_int_eq(kr_inventory_sse_read(sse, buf, sizeof(buf), 10), 0);
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "ns-a",
                             .name = "r1",
                             .event = "APPROVED",
                             .actor = "alice"};
    ck_assert_int_eq(kr_inventory_record(inv, &a, NULL, NULL), 0);
    text = read_events(sse, 1);
    ck_assert_ptr_nonnull(strstr(text, "id: 7\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"actor\":\"alice\""));
    free(text);
    kr_inventory_sse_free(sse);
    /* Without an id: from now on. */
    ck_assert_int_eq(kr_inventory_sse_new(inv, NULL, &sse, &err), 0);
    ck_assert_int_gt(kr_inventory_sse_read(sse, buf, sizeof(buf), 10), 0); /* retry: */
    ck_assert_int_eq(kr_inventory_sse_read(sse, buf, sizeof(buf), 10), 0);
    kr_inventory_sse_free(sse);
    ck_assert_int_eq(kr_inventory_sse_new(inv, "seven", &sse, &err), KR_EINVAL);
    ck_assert_int_eq(kr_inventory_sse_new(inv, "99999999999999999999", &sse, &err), KR_EINVAL);
    kr_inventory_free(inv);
}
END_TEST

/* An id this database never gave (the reader saw a database since replaced
 * by a fresh one): a reset, then the new transactions, not silence until
 * the new database reaches the old id. */
START_TEST(api_events_stream_resets_after_an_id_from_another_database)
{
    kr_inventory_t *inv = fresh();
    load(inv); /* seq 1..6 */
    kr_inventory_sse_t *sse = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_sse_new(inv, "5000", &sse, &err), 0);
    char buf[512];
    long n = kr_inventory_sse_read(sse, buf, sizeof(buf) - 1, 10);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "id: 6\nevent: reset\ndata: {\"lastSeq\":6}\n\n"));
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "ns-a",
                             .name = "r1",
                             .event = "APPROVED",
                             .actor = "alice"};
    ck_assert_int_eq(kr_inventory_record(inv, &a, NULL, NULL), 0);
    char *text = read_events(sse, 1);
    ck_assert_ptr_nonnull(strstr(text, "id: 7\nevent: transaction\n"));
    ck_assert_ptr_null(strstr(text, "id: 6\nevent: transaction"));
    free(text);
    kr_inventory_sse_free(sse);
    /* the last id itself is no reset */
    ck_assert_int_eq(kr_inventory_sse_new(inv, "7", &sse, &err), 0);
    n = kr_inventory_sse_read(sse, buf, sizeof(buf) - 1, 10);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_ptr_null(strstr(buf, "reset"));
    kr_inventory_sse_free(sse);
    kr_inventory_free(inv);
}
END_TEST

static void *commit_later(void *arg)
{
    kr_inventory_t *inv = arg;
    put(inv, "east", KR_INVENTORY_ADDED, job("ns-z", "late", "z1", "99", "web", true));
    return NULL;
}

START_TEST(api_events_stream_wakes_on_a_commit)
{
    kr_inventory_t *inv = fresh();
    kr_inventory_sse_t *sse = NULL;
    ck_assert_int_eq(kr_inventory_sse_new(inv, "0", &sse, NULL), 0);
    char buf[4096];
    ck_assert_int_gt(kr_inventory_sse_read(sse, buf, sizeof(buf), 10), 0); /* retry: */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, commit_later, inv), 0);
    long n = 0;
    for (int i = 0; i < 100 && n == 0; i++)
        n = kr_inventory_sse_read(sse, buf, sizeof(buf) - 1, 30000);
    pthread_join(t, NULL);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "\"name\":\"late\""));
    kr_inventory_sse_free(sse);
    kr_inventory_free(inv);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("inventory_api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, api_objects_filters_and_pages);
    tcase_add_test(tc, api_bad_parameters_are_400_with_a_json_message);
    tcase_add_test(tc, api_one_object_and_its_history);
    tcase_add_test(tc, api_history_of_a_kind_only_programs_recorded);
    tcase_add_test(tc, api_history_newest_first_pages_backwards);
    tcase_add_test(tc, api_serves_the_page);
    tcase_add_test(tc, api_events_stream_resumes_after_last_event_id);
    tcase_add_test(tc, api_events_stream_resets_after_an_id_from_another_database);
    tcase_add_test(tc, api_events_stream_wakes_on_a_commit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!kr_test_tmpdir_make(tmpdir, sizeof(tmpdir), "kr-inv-api"))
        return EXIT_FAILURE;
    int rc = kr_test_run_suite(api_suite());
    kr_test_tmpdir_remove(tmpdir);
    return rc;
}
