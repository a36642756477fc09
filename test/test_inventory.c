/* Tests for the inventory, run on both backends (the same tests in a
 * "sqlite" and a "postgresql" case): idempotent re-apply, checkpoints
 * committed with their events, history order across clusters, pagination
 * and filters, bad URLs, a corrupted SQLite file, the consumer's
 * backpressure and group commit, and a PostgreSQL restart under a running
 * writer. PostgreSQL is a private server (test/support/pgserver.c); where
 * it cannot start the postgresql case fails when CI=true, skips otherwise.
 * KR_TEST_THREADED: the consumer's writer thread also runs under TSan. */
#include <check.h>
#include <libpq-fe.h>
#include <malloc.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inventory_internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "pgserver.h"

/* ---- the backend under test -------------------------------------------- */

static kr_pgserver *pg; /* started by main() for the postgresql case */
static bool use_pg;
static char tmpdir[256];
static int db_counter;

static void sqlite_case_setup(void)
{
    use_pg = false;
}

static void pg_case_setup(void)
{
    use_pg = true;
}

/* A fresh, empty inventory URL for one test. */
static void fresh_url(char *url, size_t size)
{
    if (use_pg) {
        ck_assert_ptr_nonnull(pg);
        ck_assert_int_eq(kr_pgserver_create_db(pg, url, size), 0);
        return;
    }
    snprintf(url, size, "sqlite://%s/inv-%d-%d.db", tmpdir, (int)getpid(), ++db_counter);
}

static kr_inventory_t *open_url(const char *url)
{
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&o, &inv, &err) == 0, "%s", err.message);
    return inv;
}

static kr_inventory_t *fresh(char *url, size_t size)
{
    fresh_url(url, size);
    return open_url(url);
}

/* Run SQL straight on the database, behind the library's back. */
static void raw_sql(const char *url, const char *sql)
{
    if (strncmp(url, "sqlite://", 9) == 0) {
        sqlite3 *db = NULL;
        ck_assert_int_eq(sqlite3_open(url + 9, &db), SQLITE_OK);
        char *msg = NULL;
        ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s", msg);
        sqlite3_close(db);
        return;
    }
    PGconn *c = PQconnectdb(url);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* ---- objects ---------------------------------------------------------- */

static json_t *job(const char *ns, const char *name, const char *uid, const char *rv,
                   const char *app, const char *state)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:[{s:s}]}, "
                          "s:{s:i}, s:{}}",
                          "apiVersion", "batch/v1", "kind", "Job", "metadata", "namespace", ns,
                          "name", name, "uid", uid, "resourceVersion", rv, "creationTimestamp",
                          "2026-01-01T00:00:00Z", "labels", "app", app, "managedFields", "manager",
                          "kubectl", "spec", "parallelism", 1, "status");
    ck_assert_ptr_nonnull(o);
    json_t *status = json_object_get(o, "status");
    if (strcmp(state, "running") == 0)
        json_object_set_new(status, "active", json_integer(1));
    else if (strcmp(state, "done") == 0)
        json_object_set_new(status, "conditions",
                            json_pack("[{s:s, s:s}]", "type", "Complete", "status", "True"));
    else if (strcmp(state, "failed") == 0)
        json_object_set_new(status, "conditions",
                            json_pack("[{s:s, s:s}]", "type", "Failed", "status", "True"));
    return o;
}

static kr_inventory_event ev(const char *cluster, kr_inventory_event_type type, json_t *obj)
{
    kr_inventory_event e = {.cluster = cluster,
                            .resource = "batch/v1/jobs",
                            .type = type,
                            .object = obj,
                            .checkpoint_rv = json_string_value(json_object_get(
                                json_object_get(obj, "metadata"), "resourceVersion"))};
    return e;
}

static void apply(kr_inventory_t *inv, const kr_inventory_event *e, size_t n, size_t applied,
                  size_t dups)
{
    kr_inventory_apply_result r;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_apply(inv, e, n, &r, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(r.applied, applied);
    ck_assert_uint_eq(r.duplicates, dups);
}

static size_t count_txns(kr_inventory_t *inv)
{
    json_t *all = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_transactions_after(inv, 0, 100000, &all, &err) == 0, "%s",
                  err.message);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

static char *checkpoint(kr_inventory_t *inv, const char *cluster)
{
    char *rv = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_checkpoint(inv, cluster, "batch/v1/jobs", &rv, &err) == 0, "%s",
                  err.message);
    return rv;
}

static const char *row_str(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(inventory_stores_objects_without_managed_fields_and_with_phase)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    json_t *a = job("ns1", "a", "u-a", "10", "web", "running");
    kr_inventory_event e[] = {ev("c1", KR_INVENTORY_ADDED, a)};
    apply(inv, e, 1, 1, 0);
    json_t *row = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns1", "a", &row, &err), 0);
    ck_assert_str_eq(row_str(row, "phase"), "Running");
    ck_assert_str_eq(row_str(row, "uid"), "u-a");
    ck_assert_str_eq(row_str(row, "apiVersion"), "batch/v1");
    ck_assert_str_eq(row_str(json_object_get(row, "labels"), "app"), "web");
    ck_assert_ptr_null(json_object_get(json_object_get(json_object_get(row, "object"), "metadata"),
                                       "managedFields"));
    ck_assert(json_is_null(json_object_get(row, "deleted")));
    json_decref(row);
    ck_assert_int_eq(kr_inventory_get(inv, "c2", "Job", "ns1", "a", &row, &err), KR_ENOTFOUND);
    json_decref(a);
    kr_inventory_free(inv);
}
END_TEST

START_TEST(inventory_reapplying_held_events_is_a_noop)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    json_t *a1 = job("ns", "a", "u-a", "1", "web", "pending");
    json_t *a2 = job("ns", "a", "u-a", "2", "web", "running");
    json_t *b1 = job("ns", "b", "u-b", "3", "web", "pending");
    json_t *b4 = job("ns", "b", "u-b", "4", "web", "pending");
    kr_inventory_event batch[] = {
        ev("c1", KR_INVENTORY_ADDED, a1), ev("c1", KR_INVENTORY_MODIFIED, a2),
        ev("c1", KR_INVENTORY_ADDED, b1), ev("c1", KR_INVENTORY_DELETED, b4)};
    apply(inv, batch, 4, 4, 0);
    size_t txns = count_txns(inv);
    ck_assert_uint_eq(txns, 4);
    /* The same batch again (a crash before the producer saw the commit). */
    apply(inv, batch, 4, 0, 4);
    /* A relist reporting the current object as ADDED, and an older one. */
    kr_inventory_event relist[] = {ev("c1", KR_INVENTORY_ADDED, a2),
                                   ev("c1", KR_INVENTORY_MODIFIED, a1)};
    apply(inv, relist, 2, 0, 2);
    /* A relist that no longer finds b: its delete is already held. */
    kr_inventory_event gone[] = {ev("c1", KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN, b1)};
    apply(inv, gone, 1, 0, 1);
    ck_assert_uint_eq(count_txns(inv), txns);
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "a", &row, NULL), 0);
    ck_assert_str_eq(row_str(row, "resourceVersion"), "2");
    json_decref(row);
    /* The same uid and rv in another cluster is another event. */
    kr_inventory_event other[] = {ev("c2", KR_INVENTORY_ADDED, a1)};
    apply(inv, other, 1, 1, 0);
    /* A relist finds a gone that was never seen deleted: recorded once. */
    kr_inventory_event unknown[] = {ev("c2", KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN, a1)};
    apply(inv, unknown, 1, 1, 0);
    apply(inv, unknown, 1, 0, 1);
    ck_assert_int_eq(kr_inventory_get(inv, "c2", "Job", "ns", "a", &row, NULL), 0);
    ck_assert_str_eq(row_str(row, "phase"), "Deleted");
    ck_assert(json_is_string(json_object_get(row, "deleted")));
    json_decref(row);
    json_decref(a1);
    json_decref(a2);
    json_decref(b1);
    json_decref(b4);
    kr_inventory_free(inv);
}
END_TEST

/* A replica that lost its lease while paused writes what it had buffered
 * after the new leader wrote newer states: the history keeps the late
 * transaction, the current state does not go back in time. */
START_TEST(inventory_a_late_older_state_does_not_replace_a_newer_one)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    json_t *a8 = job("ns", "a", "u-a", "8", "web", "pending");
    json_t *a9 = job("ns", "a", "u-a", "9", "web", "running");
    json_t *a10 = job("ns", "a", "u-a", "10", "web", "done");
    kr_inventory_event newer[] = {ev("c1", KR_INVENTORY_ADDED, a8),
                                  ev("c1", KR_INVENTORY_MODIFIED, a10)};
    apply(inv, newer, 2, 2, 0);
    kr_inventory_event late[] = {ev("c1", KR_INVENTORY_MODIFIED, a9)};
    apply(inv, late, 1, 1, 0);
    json_t *row = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "a", &row, &err), 0);
    ck_assert_str_eq(row_str(row, "resourceVersion"), "10");
    ck_assert_str_ne(row_str(row, "phase"), "Running");
    json_decref(row);
    ck_assert_uint_eq(count_txns(inv), 3);
    json_decref(a8);
    json_decref(a9);
    json_decref(a10);
    kr_inventory_free(inv);
}
END_TEST

static json_t *job_created(const char *uid, const char *rv, const char *created)
{
    json_t *o = job("ns", "a", uid, rv, "web", "running");
    json_object_set_new(json_object_get(o, "metadata"), "creationTimestamp", json_string(created));
    return o;
}

/* A cluster rebuilt: the same names, new uids, resourceVersions counting
 * from a small number again. The new objects are the current state (the
 * old ones' ends recorded before them: no event said they went); a late
 * write of an old one (created before) is history only. */
START_TEST(inventory_a_rebuilt_cluster_replaces_the_objects_it_recreated)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    json_t *old = job_created("u-old", "98765", "2026-01-01T00:00:00Z");
    json_t *fresh_obj = job_created("u-new", "12", "2026-03-01T00:00:00Z");
    json_t *fresh_later = job_created("u-new", "13", "2026-03-01T00:00:00Z");
    json_t *late_old = job_created("u-old", "98770", "2026-01-01T00:00:00Z");
    kr_inventory_event first[] = {ev("c1", KR_INVENTORY_ADDED, old)};
    apply(inv, first, 1, 1, 0);
    kr_inventory_event rebuilt[] = {ev("c1", KR_INVENTORY_ADDED, fresh_obj)};
    apply(inv, rebuilt, 1, 2, 0);
    json_t *ends = NULL;
    ck_assert_int_eq(kr_inventory_transactions_after(inv, 1, 10, &ends, NULL), 0);
    ck_assert_uint_eq(json_array_size(ends), 2);
    ck_assert_str_eq(row_str(json_array_get(ends, 0), "event"), "DELETED_FINAL_STATE_UNKNOWN");
    ck_assert_str_eq(row_str(json_array_get(ends, 0), "uid"), "u-old");
    ck_assert_str_eq(row_str(json_array_get(ends, 0), "resourceVersion"), "98765");
    ck_assert_str_eq(row_str(json_array_get(ends, 1), "event"), "ADDED");
    ck_assert_str_eq(row_str(json_array_get(ends, 1), "uid"), "u-new");
    json_decref(ends);
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "a", &row, NULL), 0);
    ck_assert_str_eq(row_str(row, "uid"), "u-new");
    ck_assert_str_eq(row_str(row, "resourceVersion"), "12");
    json_decref(row);
    /* The new object moves forward by its own resourceVersions; a late
     * batch of the old one does not take its place. */
    kr_inventory_event next[] = {ev("c1", KR_INVENTORY_MODIFIED, fresh_later)};
    apply(inv, next, 1, 1, 0);
    kr_inventory_event late[] = {ev("c1", KR_INVENTORY_MODIFIED, late_old)};
    apply(inv, late, 1, 1, 0);
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "a", &row, NULL), 0);
    ck_assert_str_eq(row_str(row, "uid"), "u-new");
    ck_assert_str_eq(row_str(row, "resourceVersion"), "13");
    json_decref(row);
    ck_assert_uint_eq(count_txns(inv), 5);
    json_decref(old);
    json_decref(fresh_obj);
    json_decref(fresh_later);
    json_decref(late_old);
    kr_inventory_free(inv);
}
END_TEST

/* A whole batch of objects made again under their names: every one's end
 * and start, twice as many transactions as events, in one write. */
START_TEST(inventory_a_batch_of_objects_made_again_records_every_end)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    enum { N = KR_INV_CHUNK };
    static json_t *objs[2][N];
    static kr_inventory_event batch[2][N];
    for (int g = 0; g < 2; g++)
        for (int i = 0; i < N; i++) {
            char name[32], uid[32], rv[32];
            snprintf(name, sizeof(name), "j%03d", i);
            snprintf(uid, sizeof(uid), "u%d-%d", g, i);
            snprintf(rv, sizeof(rv), "%d", (g + 1) * 1000 + i);
            objs[g][i] = job("ns", name, uid, rv, "web", "running");
            batch[g][i] = ev("c1", KR_INVENTORY_ADDED, objs[g][i]);
        }
    apply(inv, batch[0], N, N, 0);
    apply(inv, batch[1], N, 2 * N, 0);
    apply(inv, batch[1], N, 0, N); /* again: nothing doubled */
    json_t *all = NULL;
    ck_assert_int_eq(kr_inventory_transactions_after(inv, N, 10 * N, &all, NULL), 0);
    ck_assert_uint_eq(json_array_size(all), 2 * N);
    for (size_t i = 0; i < 2 * N; i += 2) {
        char uid[32];
        snprintf(uid, sizeof(uid), "u0-%zu", i / 2);
        ck_assert_str_eq(row_str(json_array_get(all, i), "event"), "DELETED_FINAL_STATE_UNKNOWN");
        ck_assert_str_eq(row_str(json_array_get(all, i), "uid"), uid);
        uid[1] = '1';
        ck_assert_str_eq(row_str(json_array_get(all, i + 1), "event"), "ADDED");
        ck_assert_str_eq(row_str(json_array_get(all, i + 1), "uid"), uid);
    }
    json_decref(all);
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "j007", &row, NULL), 0);
    ck_assert_str_eq(row_str(row, "uid"), "u1-7");
    json_decref(row);
    for (int g = 0; g < 2; g++)
        for (int i = 0; i < N; i++)
            json_decref(objs[g][i]);
    kr_inventory_free(inv);
}
END_TEST

/* The same rules between the events of one batch: a stale event after a
 * newer one (an older object of the same name, or an older
 * resourceVersion of the same one) is history, not the current state. */
START_TEST(inventory_a_stale_event_in_the_same_batch_is_history_only)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    json_t *fresh_obj = job_created("u-new", "12", "2026-03-01T00:00:00Z");
    json_t *fresh_later = job_created("u-new", "13", "2026-03-01T00:00:00Z");
    json_t *late_old = job_created("u-old", "98770", "2026-01-01T00:00:00Z");
    kr_inventory_event batch[] = {ev("c1", KR_INVENTORY_ADDED, fresh_obj),
                                  ev("c1", KR_INVENTORY_MODIFIED, fresh_later),
                                  ev("c1", KR_INVENTORY_MODIFIED, late_old)};
    apply(inv, batch, 3, 3, 0);
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "a", &row, NULL), 0);
    ck_assert_str_eq(row_str(row, "uid"), "u-new");
    ck_assert_str_eq(row_str(row, "resourceVersion"), "13");
    json_decref(row);
    /* the same object's older resourceVersion after its newer one */
    json_t *newest = job_created("u-new", "15", "2026-03-01T00:00:00Z");
    json_t *older = job_created("u-new", "14", "2026-03-01T00:00:00Z");
    kr_inventory_event again[] = {ev("c1", KR_INVENTORY_MODIFIED, newest),
                                  ev("c1", KR_INVENTORY_MODIFIED, older)};
    apply(inv, again, 2, 2, 0);
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "a", &row, NULL), 0);
    ck_assert_str_eq(row_str(row, "resourceVersion"), "15");
    json_decref(row);
    json_decref(fresh_obj);
    json_decref(fresh_later);
    json_decref(late_old);
    json_decref(newest);
    json_decref(older);
    kr_inventory_free(inv);
}
END_TEST

START_TEST(inventory_checkpoint_commits_with_its_events_or_not_at_all)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    char *rv = checkpoint(inv, "c1");
    ck_assert_ptr_null(rv);
    json_t *a = job("ns", "a", "u-a", "5", "web", "pending");
    json_t *b = job("ns", "b", "u-b", "6", "web", "pending");
    kr_inventory_event e[] = {ev("c1", KR_INVENTORY_ADDED, a), ev("c1", KR_INVENTORY_ADDED, b)};
    apply(inv, e, 2, 2, 0);
    rv = checkpoint(inv, "c1");
    ck_assert_str_eq(rv, "6");
    kr_free(rv);
    /* A pure checkpoint (a bookmark) moves it without a transaction. */
    kr_inventory_event bm = {.cluster = "c1",
                             .resource = "batch/v1/jobs",
                             .type = KR_INVENTORY_CHECKPOINT,
                             .checkpoint_rv = "7"};
    apply(inv, &bm, 1, 0, 0);
    rv = checkpoint(inv, "c1");
    ck_assert_str_eq(rv, "7");
    kr_free(rv);
    ck_assert_uint_eq(count_txns(inv), 2);
    /* Break b's stored row behind the library's back: a batch touching a
     * then b fails on b, and neither a's change nor the checkpoint stays. */
    raw_sql(url, "UPDATE kr_objects SET object = '{' WHERE name = 'b'");
    json_t *a2 = job("ns", "a", "u-a", "8", "web", "running");
    json_t *b2 = job("ns", "b", "u-b", "9", "web", "running");
    kr_inventory_event e2[] = {ev("c1", KR_INVENTORY_MODIFIED, a2),
                               ev("c1", KR_INVENTORY_MODIFIED, b2)};
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_apply(inv, e2, 2, NULL, &err), KR_EIO);
    rv = checkpoint(inv, "c1");
    ck_assert_str_eq(rv, "7");
    kr_free(rv);
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "a", &row, NULL), 0);
    ck_assert_str_eq(row_str(row, "resourceVersion"), "5");
    json_decref(row);
    ck_assert_uint_eq(count_txns(inv), 2);
    json_t *all = NULL;
    ck_assert_int_eq(kr_inventory_checkpoints(inv, &all, NULL), 0);
    ck_assert_uint_eq(json_array_size(all), 1);
    json_decref(all);
    /* A checkpoint the database refuses (a trigger, behind the library's
     * back) takes the events of its batch with it: they are one
     * transaction, not events first and their checkpoint after. */
    if (strncmp(url, "sqlite://", 9) == 0)
        raw_sql(url, "CREATE TRIGGER kr_test_refuse_insert BEFORE INSERT ON kr_checkpoints "
                     "BEGIN SELECT RAISE(ABORT, 'injected'); END; "
                     "CREATE TRIGGER kr_test_refuse_update BEFORE UPDATE ON kr_checkpoints "
                     "BEGIN SELECT RAISE(ABORT, 'injected'); END;");
    else
        raw_sql(url, "CREATE FUNCTION kr_test_refuse() RETURNS trigger AS $$ BEGIN RAISE "
                     "EXCEPTION 'injected'; END $$ LANGUAGE plpgsql; CREATE TRIGGER "
                     "kr_test_refuse BEFORE INSERT OR UPDATE ON kr_checkpoints FOR EACH ROW "
                     "EXECUTE FUNCTION kr_test_refuse();");
    json_t *a3 = job("ns", "a", "u-a", "10", "web", "done");
    kr_inventory_event e3[] = {ev("c1", KR_INVENTORY_MODIFIED, a3)};
    ck_assert_int_ne(kr_inventory_apply(inv, e3, 1, NULL, &err), 0);
    ck_assert_uint_eq(count_txns(inv), 2);
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "a", &row, NULL), 0);
    ck_assert_str_eq(row_str(row, "resourceVersion"), "5");
    json_decref(row);
    rv = checkpoint(inv, "c1");
    ck_assert_str_eq(rv, "7");
    kr_free(rv);
    json_decref(a);
    json_decref(b);
    json_decref(a2);
    json_decref(b2);
    json_decref(a3);
    kr_inventory_free(inv);
}
END_TEST

START_TEST(inventory_history_follows_a_resource_across_clusters_in_order)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    json_t *v1 = job("ns", "train", "u-1", "10", "ml", "pending");
    json_t *v2 = job("ns", "train", "u-1", "11", "ml", "running");
    json_t *v3 = job("ns", "train", "u-1", "12", "ml", "running");
    json_t *w1 = job("ns", "train", "u-2", "500", "ml", "running");
    json_t *w2 = job("ns", "train", "u-2", "501", "ml", "done");
    json_t *other = job("ns", "unrelated", "u-9", "13", "ml", "pending");
    kr_inventory_event e1[] = {ev("east", KR_INVENTORY_ADDED, v1),
                               ev("east", KR_INVENTORY_ADDED, other),
                               ev("east", KR_INVENTORY_MODIFIED, v2)};
    apply(inv, e1, 3, 3, 0);
    kr_inventory_action approve = {.cluster = "hub",
                                   .kind = "Job",
                                   .namespace_ = "ns",
                                   .name = "train",
                                   .event = "FAILED_OVER",
                                   .actor = "kr-submitter"};
    int64_t seq = 0;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_record(inv, &approve, &seq, &err) == 0, "%s", err.message);
    ck_assert_int_gt(seq, 0);
    kr_inventory_event e2[] = {ev("east", KR_INVENTORY_DELETED, v3),
                               ev("west", KR_INVENTORY_ADDED, w1),
                               ev("west", KR_INVENTORY_MODIFIED, w2)};
    apply(inv, e2, 3, 3, 0);
    json_t *h = NULL;
    ck_assert_msg(kr_inventory_history(inv, "Job", "ns", "train", 0, 0, &h, &err) == 0, "%s",
                  err.message);
    const char *want[][3] = {
        {"east", "ADDED", "informer"},          {"east", "MODIFIED", "informer"},
        {"hub", "FAILED_OVER", "kr-submitter"}, {"east", "DELETED", "informer"},
        {"west", "ADDED", "informer"},          {"west", "MODIFIED", "informer"}};
    ck_assert_uint_eq(json_array_size(h), 6);
    json_int_t last = 0;
    for (size_t i = 0; i < 6; i++) {
        json_t *t = json_array_get(h, i);
        ck_assert_str_eq(row_str(t, "cluster"), want[i][0]);
        ck_assert_str_eq(row_str(t, "event"), want[i][1]);
        ck_assert_str_eq(row_str(t, "actor"), want[i][2]);
        ck_assert_int_gt(json_integer_value(json_object_get(t, "seq")), last);
        last = json_integer_value(json_object_get(t, "seq"));
        ck_assert(json_is_string(json_object_get(t, "time")));
    }
    /* ADDED carries the whole object; MODIFIED only what changed. */
    json_t *added = json_object_get(json_array_get(h, 0), "patch");
    ck_assert_str_eq(row_str(json_object_get(added, "metadata"), "name"), "train");
    json_t *mod = json_object_get(json_array_get(h, 1), "patch");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(mod, "status"), "active")),
                     1);
    ck_assert_ptr_null(json_object_get(mod, "spec"));
    ck_assert_str_eq(row_str(json_object_get(mod, "metadata"), "resourceVersion"), "11");
    json_t *done = json_object_get(json_array_get(h, 5), "patch");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(done, "status"), "conditions"));
    json_decref(h);
    /* After a sequence: the tail only. */
    ck_assert_int_eq(kr_inventory_history(inv, "Job", "ns", "train", seq, 0, &h, NULL), 0);
    ck_assert_uint_eq(json_array_size(h), 3);
    json_decref(h);
    /* Newest first: the latest two, then the two before the older of
     * them, then the rest; bounded on both sides. */
    json_t *page = NULL;
    ck_assert_msg(
        kr_inventory_history_range(inv, "Job", "ns", "train", 0, 0, true, 2, &page, &err) == 0,
        "%s", err.message);
    ck_assert_uint_eq(json_array_size(page), 2);
    ck_assert_str_eq(row_str(json_array_get(page, 0), "event"), "MODIFIED");
    ck_assert_str_eq(row_str(json_array_get(page, 0), "cluster"), "west");
    ck_assert_str_eq(row_str(json_array_get(page, 1), "event"), "ADDED");
    ck_assert_str_eq(row_str(json_array_get(page, 1), "cluster"), "west");
    json_int_t before = json_integer_value(json_object_get(json_array_get(page, 1), "seq"));
    json_decref(page);
    ck_assert_int_eq(
        kr_inventory_history_range(inv, "Job", "ns", "train", 0, before, true, 2, &page, NULL), 0);
    ck_assert_uint_eq(json_array_size(page), 2);
    ck_assert_str_eq(row_str(json_array_get(page, 0), "event"), "DELETED");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(page, 1), "seq")), seq);
    json_decref(page);
    ck_assert_int_eq(
        kr_inventory_history_range(inv, "Job", "ns", "train", 0, seq, true, 10, &page, NULL), 0);
    ck_assert_uint_eq(json_array_size(page), 2);
    ck_assert_str_eq(row_str(json_array_get(page, 0), "event"), "MODIFIED");
    ck_assert_str_eq(row_str(json_array_get(page, 1), "event"), "ADDED");
    json_decref(page);
    /* oldest first between two sequences */
    ck_assert_int_eq(
        kr_inventory_history_range(inv, "Job", "ns", "train", seq, before, false, 0, &page, NULL),
        0);
    ck_assert_uint_eq(json_array_size(page), 1);
    ck_assert_str_eq(row_str(json_array_get(page, 0), "event"), "DELETED");
    json_decref(page);
    json_t *after = NULL;
    ck_assert_int_eq(kr_inventory_transactions_after(inv, seq, 2, &after, NULL), 0);
    ck_assert_uint_eq(json_array_size(after), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(after, 0), "seq")), seq + 1);
    json_decref(after);
    int64_t last_seq = 0;
    ck_assert_int_eq(kr_inventory_last_seq(inv, &last_seq, NULL), 0);
    ck_assert_int_eq(last_seq, (int64_t)last);
    json_t *vs[] = {v1, v2, v3, w1, w2, other};
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++)
        json_decref(vs[i]);
    kr_inventory_free(inv);
}
END_TEST

/* A batch longer than a chunk, modifying the same objects again and again
 * and repeating events inside the batch: one transaction per distinct
 * event, patches from the previous state even across chunk boundaries. */
START_TEST(inventory_long_batches_chain_states_across_chunks)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    enum { N = 300 };
    kr_inventory_event e[N];
    json_t *objs[N];
    for (int i = 0; i < N; i++) {
        char name[16], uid[16], rv[16];
        int obj = i % 3, version = i / 3;
        snprintf(name, sizeof(name), "j%d", obj);
        snprintf(uid, sizeof(uid), "u%d", obj);
        /* Every tenth event repeats the one before it. */
        snprintf(rv, sizeof(rv), "%d", 10 + (i % 10 == 9 ? i - 3 : i));
        objs[i] = job("ns", name, uid, rv, version % 2 ? "a" : "b", "pending");
        e[i] = ev("c1", version ? KR_INVENTORY_MODIFIED : KR_INVENTORY_ADDED, objs[i]);
    }
    kr_inventory_apply_result r;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_apply(inv, e, N, &r, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(r.applied + r.duplicates, N);
    ck_assert_uint_eq(r.duplicates, N / 10);
    apply(inv, e, N, 0, N);
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Job", "ns", "j1", 0, 0, &h, NULL), 0);
    ck_assert_uint_gt(json_array_size(h), 80);
    json_t *labels = json_object_get(json_object_get(json_array_get(h, 0), "patch"), "metadata");
    ck_assert_ptr_nonnull(json_object_get(labels, "name")); /* ADDED: whole object */
    for (size_t i = 1; i < json_array_size(h); i++) {
        json_t *patch = json_object_get(json_array_get(h, i), "patch");
        ck_assert_ptr_null(json_object_get(patch, "spec")); /* only what changed */
        ck_assert_ptr_nonnull(
            json_object_get(json_object_get(patch, "metadata"), "resourceVersion"));
    }
    json_decref(h);
    for (int i = 0; i < N; i++)
        json_decref(objs[i]);
    kr_inventory_free(inv);
}
END_TEST

START_TEST(inventory_record_rejects_bad_actions)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_action a = {
        .cluster = "hub", .kind = "Runnable", .name = "r", .event = "approved", .actor = "bob"};
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_record(inv, &a, NULL, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "upper case"));
    a.event = "APPROVED";
    a.actor = NULL;
    ck_assert_int_eq(kr_inventory_record(inv, &a, NULL, &err), KR_EINVAL);
    a.actor = "bob";
    json_t *detail = json_pack("{s:s}", "specHash", "abc");
    a.detail = detail;
    ck_assert_int_eq(kr_inventory_record(inv, &a, NULL, &err), 0);
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "", "r", 0, 0, &h, NULL), 0);
    ck_assert_uint_eq(json_array_size(h), 1);
    ck_assert_str_eq(row_str(json_object_get(json_array_get(h, 0), "patch"), "specHash"), "abc");
    json_decref(h);
    json_decref(detail);
    a.detail = NULL;
    /* once per key: a second record of the same decision is a no-op, and
     * a key is never taken for an informer event's */
    int64_t seq = 0;
    ck_assert_int_eq(kr_inventory_record_once(inv, &a, "u1/APPROVED/bob/abc", &seq, &err), 0);
    ck_assert_int_gt(seq, 0);
    ck_assert_int_eq(kr_inventory_record_once(inv, &a, "u1/APPROVED/bob/abc", &seq, &err), 0);
    ck_assert_int_eq(seq, 0);
    ck_assert_int_eq(kr_inventory_record_once(inv, &a, "u1/APPROVED/bob/def", &seq, &err), 0);
    ck_assert_int_gt(seq, 0);
    ck_assert_int_eq(kr_inventory_record_once(inv, &a, "", &seq, &err), KR_EINVAL);
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "", "r", 0, 0, &h, NULL), 0);
    ck_assert_uint_eq(json_array_size(h), 3);
    json_decref(h);
    kr_inventory_free(inv);
}
END_TEST

/* 3 clusters x 9 jobs in ns-0/ns-1/ns-2; every third running, labels
 * app=web for even numbers, app=db for odd ones. */
static void load_grid(kr_inventory_t *inv)
{
    const char *clusters[] = {"c1", "c2", "c3"};
    kr_inventory_event e[27];
    json_t *objs[27];
    size_t n = 0;
    for (size_t c = 0; c < 3; c++)
        for (int i = 0; i < 9; i++) {
            char ns[16], name[16], uid[32], rv[16];
            snprintf(ns, sizeof(ns), "ns-%d", i % 3);
            snprintf(name, sizeof(name), "job-%d", i);
            snprintf(uid, sizeof(uid), "%s-%d", clusters[c], i);
            snprintf(rv, sizeof(rv), "%d", 100 + i);
            objs[n] = job(ns, name, uid, rv, i % 2 ? "db" : "web", i % 3 ? "pending" : "running");
            e[n] = ev(clusters[c], KR_INVENTORY_ADDED, objs[n]);
            n++;
        }
    apply(inv, e, n, n, 0);
    for (size_t i = 0; i < n; i++)
        json_decref(objs[i]);
}

static json_t *query(kr_inventory_t *inv, kr_inventory_query_opts *q, char **next)
{
    json_t *items = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_query(inv, q, &items, next, &err) == 0, "%s", err.message);
    return items;
}

/* The page after *token (NULL: the first); *token becomes the next
 * page's (NULL after the last). */
static json_t *next_page(kr_inventory_t *inv, kr_inventory_query_opts *q, char **token)
{
    q->continue_token = *token;
    char *next = NULL;
    json_t *items = query(inv, q, &next);
    kr_free(*token);
    *token = next;
    q->continue_token = NULL;
    return items;
}

START_TEST(inventory_query_pages_with_continue_tokens)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    load_grid(inv);
    for (int with_selector = 0; with_selector < 2; with_selector++) {
        kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
        q.limit = 4;
        q.label_selector = with_selector ? "app=web" : NULL;
        size_t total = 0, pages = 0;
        char prev[256] = "";
        char *token = NULL;
        do {
            json_t *items = next_page(inv, &q, &token);
            pages++;
            ck_assert_uint_le(json_array_size(items), 4);
            size_t i;
            json_t *row;
            json_array_foreach(items, i, row)
            {
                char key[256];
                snprintf(key, sizeof(key), "%s/%s/%s/%s", row_str(row, "cluster"),
                         row_str(row, "kind"), row_str(row, "namespace"), row_str(row, "name"));
                ck_assert_msg(strcmp(prev, key) < 0, "%s after %s", key, prev);
                snprintf(prev, sizeof(prev), "%s", key);
                if (with_selector)
                    ck_assert_str_eq(row_str(json_object_get(row, "labels"), "app"), "web");
                total++;
            }
            if (token)
                ck_assert_uint_eq(json_array_size(items), 4);
            json_decref(items);
        } while (token && pages < 100);
        ck_assert_uint_eq(total, with_selector ? 15 : 27);
        ck_assert_uint_eq(pages, with_selector ? 4 : 7);
    }
    kr_inventory_query_opts bad = KR_INVENTORY_QUERY_OPTS_INIT;
    bad.continue_token = "not a token!";
    json_t *items = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_query(inv, &bad, &items, NULL, &err), KR_EPARSE);
    bad.continue_token = NULL;
    bad.label_selector = "app in (";
    ck_assert_int_eq(kr_inventory_query(inv, &bad, &items, NULL, &err), KR_EPARSE);
    kr_inventory_free(inv);
}
END_TEST

START_TEST(inventory_query_filters)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    load_grid(inv);
    struct {
        const char *cluster, *kind, *ns, *sel, *phase;
        size_t want;
    } cases[] = {
        {NULL, NULL, NULL, NULL, NULL, 27},
        {"c2", NULL, NULL, NULL, NULL, 9},
        {NULL, "Job", NULL, NULL, NULL, 27},
        {NULL, "ConfigMap", NULL, NULL, NULL, 0},
        {NULL, NULL, "ns-1", NULL, NULL, 9},
        {NULL, NULL, NULL, "app=db", NULL, 12},
        {NULL, NULL, NULL, NULL, "Running", 9},
        {"c3", "Job", "ns-0", "app in (web,db)", "Running", 3},
        {"c3", NULL, NULL, "app!=web", "Pending", 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
        q.cluster = cases[i].cluster;
        q.kind = cases[i].kind;
        q.namespace_ = cases[i].ns;
        q.label_selector = cases[i].sel;
        q.phase = cases[i].phase;
        q.limit = 1000;
        json_t *items = query(inv, &q, NULL);
        ck_assert_msg(json_array_size(items) == cases[i].want, "case %zu: %zu rows, want %zu", i,
                      json_array_size(items), cases[i].want);
        json_decref(items);
    }
    /* Deleted objects are left out unless asked for. */
    json_t *gone = job("ns-0", "job-0", "c1-0", "200", "web", "running");
    kr_inventory_event d[] = {ev("c1", KR_INVENTORY_DELETED, gone)};
    apply(inv, d, 1, 1, 0);
    kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
    q.cluster = "c1";
    json_t *items = query(inv, &q, NULL);
    ck_assert_uint_eq(json_array_size(items), 8);
    json_decref(items);
    q.include_deleted = true;
    items = query(inv, &q, NULL);
    ck_assert_uint_eq(json_array_size(items), 9);
    json_decref(items);
    q.include_deleted = false;
    q.phase = "Deleted";
    items = query(inv, &q, NULL);
    ck_assert_uint_eq(json_array_size(items), 0);
    json_decref(items);
    json_decref(gone);
    kr_inventory_free(inv);
}
END_TEST

/* The key of an objects row, "cluster/kind/namespace/name". */
static void row_key(const json_t *row, char *key, size_t size)
{
    snprintf(key, size, "%s/%s/%s/%s", row_str(row, "cluster"), row_str(row, "kind"),
             row_str(row, "namespace"), row_str(row, "name"));
}

typedef struct page_filter {
    const char *cluster, *kind, *ns, *phase;
} page_filter;

static bool row_matches(const json_t *row, const page_filter *f)
{
    const char *want[] = {f->cluster, f->kind, f->ns, f->phase};
    const char *col[] = {"cluster", "kind", "namespace", "phase"};
    for (size_t k = 0; k < 4; k++)
        if (want[k] && strcmp(row_str(row, col[k]), want[k]) != 0)
            return false;
    return true;
}

static kr_inventory_query_opts filtered(const page_filter *pf, size_t limit)
{
    kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
    q.cluster = pf->cluster;
    q.kind = pf->kind;
    q.namespace_ = pf->ns;
    q.phase = pf->phase;
    q.limit = limit;
    return q;
}

static const page_filter page_filters[] = {
    {NULL, NULL, NULL, "Pending"},   {"c2", NULL, NULL, "Running"},
    {"c2", "Job", NULL, "Pending"},  {NULL, "Job", NULL, "Pending"},
    {NULL, NULL, "ns-1", "Pending"}, {"c3", "Job", "ns-2", "Pending"},
    {"c1", NULL, "ns-0", NULL},      {NULL, "Job", NULL, NULL},
    {NULL, NULL, NULL, NULL},
};

/* Paging a filtered list to its end while objects are added before and
 * after the reader's position: keys strictly increase (no duplicates), and
 * every object that matched before the first page and still does is read
 * once (no gaps); every row read matches the filter. Then a token taken
 * from one list continues another: the rows after its key that the other
 * filter selects. */
START_TEST(inventory_query_pages_a_filtered_list_completely_under_inserts)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    load_grid(inv);
    int added = 0;
    for (size_t f = 0; f < sizeof(page_filters) / sizeof(page_filters[0]); f++) {
        const page_filter *pf = &page_filters[f];
        kr_inventory_query_opts all = KR_INVENTORY_QUERY_OPTS_INIT;
        all.limit = 1000;
        json_t *before = query(inv, &all, NULL);
        kr_inventory_query_opts q = filtered(pf, 2);
        char prev[256] = "", *token = NULL;
        json_t *seen = json_object();
        int pages = 0;
        do {
            json_t *items = next_page(inv, &q, &token);
            pages++;
            size_t i;
            json_t *row;
            json_array_foreach(items, i, row)
            {
                char key[256];
                row_key(row, key, sizeof(key));
                ck_assert_msg(strcmp(prev, key) < 0, "filter %zu: %s after %s", f, key, prev);
                ck_assert_msg(row_matches(row, pf), "filter %zu: %s does not match", f, key);
                snprintf(prev, sizeof(prev), "%s", key);
                json_object_set_new(seen, key, json_true());
            }
            json_decref(items);
            /* During the first pages, a writer adds an object sorting
             * first in its cluster and namespace, and one sorting last. */
            const char *cl[] = {"c1", "c2", "c3"};
            for (int k = 0; k < 2 && pages <= 4; k++) {
                char ns[16], name[32], uid[32], rv[16];
                snprintf(ns, sizeof(ns), "ns-%d", added % 3);
                snprintf(name, sizeof(name), "%s-%04d", k ? "zz" : "aa", added);
                snprintf(uid, sizeof(uid), "new-%d", added);
                snprintf(rv, sizeof(rv), "%d", 5000 + added);
                json_t *o = job(ns, name, uid, rv, "web", added % 2 ? "running" : "pending");
                kr_inventory_event e[] = {ev(cl[added % 3], KR_INVENTORY_ADDED, o)};
                apply(inv, e, 1, 1, 0);
                json_decref(o);
                added++;
            }
        } while (token && pages < 1000);
        ck_assert_ptr_null(token);
        size_t i;
        json_t *row;
        size_t expected = 0;
        json_array_foreach(before, i, row)
        {
            if (!row_matches(row, pf))
                continue;
            char key[256];
            row_key(row, key, sizeof(key));
            ck_assert_msg(json_object_get(seen, key), "filter %zu: %s was never read", f, key);
            expected++;
        }
        ck_assert_uint_gt(expected, 0);
        json_decref(seen);
        json_decref(before);
    }
    /* Tokens of the unfiltered list, used with every filter. */
    kr_inventory_query_opts all = KR_INVENTORY_QUERY_OPTS_INIT;
    all.limit = 1000;
    json_t *every = query(inv, &all, NULL);
    all.limit = 7;
    char *token = NULL;
    int pages = 0;
    do {
        all.continue_token = token;
        char *next = NULL;
        json_t *page = query(inv, &all, &next);
        json_decref(page);
        kr_free(token);
        token = next;
        if (!token)
            break;
        char after[256];
        ck_assert_ptr_nonnull(next);
        kr_inventory_query_opts probe = all;
        probe.continue_token = token;
        probe.limit = 1;
        json_t *first = query(inv, &probe, NULL);
        ck_assert_uint_eq(json_array_size(first), 1);
        row_key(json_array_get(first, 0), after, sizeof(after));
        json_decref(first);
        for (size_t f = 0; f < sizeof(page_filters) / sizeof(page_filters[0]); f++) {
            const page_filter *pf = &page_filters[f];
            kr_inventory_query_opts q = filtered(pf, 3);
            q.continue_token = token;
            json_t *got = query(inv, &q, NULL);
            size_t want = 0, i;
            json_t *row;
            json_array_foreach(every, i, row)
            {
                char key[256];
                row_key(row, key, sizeof(key));
                if (strcmp(key, after) < 0 || !row_matches(row, pf))
                    continue;
                if (want < 3) {
                    char got_key[256] = "";
                    if (want < json_array_size(got))
                        row_key(json_array_get(got, want), got_key, sizeof(got_key));
                    ck_assert_msg(strcmp(key, got_key) == 0, "filter %zu after %s: %s, want %s", f,
                                  after, got_key, key);
                }
                want++;
            }
            ck_assert_uint_eq(json_array_size(got), (want < 3 ? want : 3));
            json_decref(got);
        }
        pages++;
    } while (pages < 1000);
    kr_free(token);
    json_decref(every);
    kr_inventory_free(inv);
}
END_TEST

/* Namespace "_" selects the cluster-scoped objects (namespace ""), alone
 * or with the other filters, in pages. */
START_TEST(inventory_query_cluster_scoped_objects)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    const char *names[][2] = {{"east", "a"}, {"east", "b"}, {"west", "c"}};
    for (size_t i = 0; i < 3; i++) {
        char uid[32];
        snprintf(uid, sizeof(uid), "ns-uid-%zu", i);
        json_t *o =
            json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Namespace",
                      "metadata", "name", names[i][1], "uid", uid, "resourceVersion", "5");
        kr_inventory_event e = {.cluster = names[i][0], .type = KR_INVENTORY_ADDED, .object = o};
        apply(inv, &e, 1, 1, 0);
        json_decref(o);
    }
    json_t *j1 = job("a", "train", "u-1", "10", "ml", "running");
    json_t *j2 = job("b", "eval", "u-2", "11", "ml", "running");
    kr_inventory_event e[] = {ev("east", KR_INVENTORY_ADDED, j1),
                              ev("west", KR_INVENTORY_ADDED, j2)};
    apply(inv, e, 2, 2, 0);
    json_decref(j1);
    json_decref(j2);
    struct {
        const char *cluster, *kind;
        size_t limit, want;
    } cases[] = {{NULL, NULL, 0, 3},   {NULL, NULL, 1, 3},          {"east", NULL, 1, 2},
                 {"west", NULL, 0, 1}, {"east", "Namespace", 1, 2}, {NULL, "Job", 0, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
        q.cluster = cases[i].cluster;
        q.kind = cases[i].kind;
        q.namespace_ = "_";
        q.limit = cases[i].limit;
        char *token = NULL;
        size_t total = 0, pages = 0;
        do {
            json_t *items = next_page(inv, &q, &token);
            size_t k;
            json_t *row;
            json_array_foreach(items, k, row)
            {
                ck_assert_str_eq(row_str(row, "namespace"), "");
                ck_assert_str_eq(row_str(row, "kind"), "Namespace");
                total++;
            }
            json_decref(items);
        } while (token && ++pages < 10);
        ck_assert_msg(total == cases[i].want, "case %zu: %zu rows, not %zu", i, total,
                      cases[i].want);
    }
    /* no namespace filter: every object */
    kr_inventory_query_opts all = KR_INVENTORY_QUERY_OPTS_INIT;
    all.namespace_ = "";
    json_t *items = query(inv, &all, NULL);
    ck_assert_uint_eq(json_array_size(items), 5);
    json_decref(items);
    kr_inventory_free(inv);
}
END_TEST

/* The bytes the library's and jansson's allocations hold, and their peak
 * since peak_install() (by malloc_usable_size, so that a block made
 * before is freed right). */
static atomic_llong mem_now, mem_peak;

static void mem_add(long long d)
{
    long long v = atomic_fetch_add(&mem_now, d) + d;
    long long pk = atomic_load(&mem_peak);
    while (v > pk && !atomic_compare_exchange_weak(&mem_peak, &pk, v))
        ;
}

static void *peak_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        mem_add((long long)malloc_usable_size(p));
    return p;
}

static void peak_free(void *p)
{
    if (!p)
        return;
    mem_add(-(long long)malloc_usable_size(p));
    free(p);
}

static void *peak_realloc(void *p, size_t n)
{
    long long old = p ? (long long)malloc_usable_size(p) : 0;
    void *q = realloc(p, n);
    if (q)
        mem_add((long long)malloc_usable_size(q) - old);
    return q;
}

static void peak_install(void)
{
    atomic_store(&mem_now, 0);
    atomic_store(&mem_peak, 0);
    kr_set_allocator(peak_malloc, peak_realloc, peak_free);
    json_set_alloc_funcs(peak_malloc, peak_free);
}

static void peak_uninstall(void)
{
    kr_set_allocator(NULL, NULL, NULL);
    json_set_alloc_funcs(malloc, free);
}

/* GET /api/v1/objects with these parameters: the answer's document. */
static json_t *objects_page(kr_inventory_t *inv, const kr_inventory_api_param *p, size_t n,
                            size_t *len)
{
    kr_inventory_api_response resp;
    ck_assert_int_eq(kr_inventory_api_handle(inv, NULL, "GET", "/api/v1/objects", p, n, &resp), 0);
    ck_assert_msg(resp.status == 200, "%d %s", resp.status, resp.body ? resp.body : "");
    json_t *doc = json_loadb(resp.body, resp.len, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    *len = resp.len;
    kr_inventory_api_response_free(&resp);
    return doc;
}

/* 40 objects of 1 MiB each: a page of limit=1000 stops after a few MiB
 * with a continue token, the database is read a few rows at a time, and
 * the pages together hold every object once. */
START_TEST(inventory_objects_page_of_large_objects_is_bounded)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    enum { N = 40, BIG = 1 << 20 };
    char *big = malloc(BIG + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', BIG);
    big[BIG] = '\0';
    for (int i = 0; i < N; i++) {
        char name[32], uid[32], rv[32];
        snprintf(name, sizeof(name), "big-%02d", i);
        snprintf(uid, sizeof(uid), "uid-big-%02d", i);
        snprintf(rv, sizeof(rv), "%d", 100 + i);
        json_t *o = job("ml", name, uid, rv, "web", "running");
        json_object_set_new(json_object_get(o, "metadata"), "annotations",
                            json_pack("{s:s}", "big", big));
        kr_inventory_event e = ev("east", KR_INVENTORY_ADDED, o);
        apply(inv, &e, 1, 1, 0);
        json_decref(o);
    }
    free(big);

    kr_inventory_api_param p[2] = {{"limit", "1000"}, {"continue", NULL}};
    peak_install();
    size_t len = 0;
    json_t *doc = objects_page(inv, p, 1, &len);
    long long peak = atomic_load(&mem_peak);
    peak_uninstall();
    /* before: every row read at once (40 MiB), the page's JSON (40 MiB)
     * and its text twice */
    ck_assert_msg(peak < 32LL << 20, "a page of limit=1000 took %lld MiB", peak >> 20);
    ck_assert_uint_le(len, 6u << 20);
    size_t total = json_array_size(json_object_get(doc, "items")), pages = 1;
    ck_assert_uint_ge(total, 1);
    ck_assert_uint_lt(total, N);
    char last[64] = "";
    snprintf(last, sizeof(last), "%s",
             row_str(json_array_get(json_object_get(doc, "items"), total - 1), "name"));
    while (json_is_string(json_object_get(doc, "continue")) && pages < 100) {
        char *token = kr_strdup(json_string_value(json_object_get(doc, "continue")));
        json_decref(doc);
        p[1].value = token;
        doc = objects_page(inv, p, 2, &len);
        kr_free(token);
        ck_assert_uint_le(len, 6u << 20);
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(doc, "items"), i, row)
        {
            ck_assert_msg(strcmp(row_str(row, "name"), last) > 0, "%s after %s",
                          row_str(row, "name"), last);
            snprintf(last, sizeof(last), "%s", row_str(row, "name"));
            total++;
        }
        pages++;
    }
    json_decref(doc);
    ck_assert_uint_eq(total, N);
    ck_assert_uint_gt(pages, 1);
    kr_inventory_free(inv);
}
END_TEST

/* 8 small objects, then 300 of 200 KB: the reads that follow the small
 * rows take no more of the large ones than fit the page's budget (sizing
 * a read by the small rows read first took hundreds of them at once). */
START_TEST(inventory_objects_page_after_small_rows_is_bounded)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    enum { SMALL = 8, N = 300, BIG = 200 << 10 };
    char *big = malloc(BIG + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', BIG);
    big[BIG] = '\0';
    for (int i = 0; i < SMALL + N; i++) {
        char name[32], uid[32], rv[32];
        snprintf(name, sizeof(name), i < SMALL ? "a-small-%03d" : "b-big-%03d", i);
        snprintf(uid, sizeof(uid), "uid-%03d", i);
        snprintf(rv, sizeof(rv), "%d", 100 + i);
        json_t *o = job("ml", name, uid, rv, "web", "running");
        if (i >= SMALL)
            json_object_set_new(json_object_get(o, "metadata"), "annotations",
                                json_pack("{s:s}", "big", big));
        kr_inventory_event e = ev("east", KR_INVENTORY_ADDED, o);
        apply(inv, &e, 1, 1, 0);
        json_decref(o);
    }
    free(big);

    kr_inventory_api_param p[2] = {{"limit", "1000"}, {"continue", NULL}};
    peak_install();
    size_t len = 0;
    json_t *doc = objects_page(inv, p, 1, &len);
    long long peak = atomic_load(&mem_peak);
    peak_uninstall();
    /* before: a read of hundreds of large rows (63 MiB); now 14 MiB */
    ck_assert_msg(peak < 32LL << 20, "a page of limit=1000 took %lld MiB", peak >> 20);
    size_t total = json_array_size(json_object_get(doc, "items")), pages = 1;
    ck_assert_uint_gt(total, SMALL);
    ck_assert_uint_lt(total, SMALL + N);
    while (json_is_string(json_object_get(doc, "continue")) && pages < 100) {
        char *token = kr_strdup(json_string_value(json_object_get(doc, "continue")));
        json_decref(doc);
        p[1].value = token;
        doc = objects_page(inv, p, 2, &len);
        kr_free(token);
        total += json_array_size(json_object_get(doc, "items"));
        pages++;
    }
    json_decref(doc);
    ck_assert_uint_eq(total, SMALL + N);
    kr_inventory_free(inv);
}
END_TEST

/* A database of schema version 1 (its phase index on cluster, kind,
 * phase) opens: it is migrated to the current version, its rows kept. */
START_TEST(inventory_schema_v1_database_is_migrated)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    load_grid(inv);
    kr_inventory_free(inv);
    /* Back to what version 1 left. */
    raw_sql(url, "DROP INDEX kr_objects_phase_key");
    raw_sql(url, "CREATE INDEX kr_objects_phase ON kr_objects (cluster, kind, phase, namespace, "
                 "name)");
    raw_sql(url, "UPDATE kr_schema_version SET version = 1");
    inv = open_url(url);
    kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
    q.phase = "Running";
    json_t *items = query(inv, &q, NULL);
    ck_assert_uint_eq(json_array_size(items), 9);
    json_decref(items);
    kr_inventory_free(inv);
    /* The new index exists, the old one is gone, the version is 2. */
    raw_sql(url, "DROP INDEX kr_objects_phase_key");
    raw_sql(url, "CREATE INDEX kr_objects_phase ON kr_objects (name)");
    raw_sql(url, "DELETE FROM kr_schema_version WHERE version = 2");
    raw_sql(url, "INSERT INTO kr_schema_version (id, version) VALUES (1, 7)");
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_new(&o, &inv, &err), KR_EUNSUPPORTED);
}
END_TEST

START_TEST(inventory_phase_summary)
{
    json_t *o =
        json_pack("{s:s, s:{s:s}}", "kind", "Runnable", "status", "phase", "AwaitingApproval");
    ck_assert_str_eq(kr_inventory_phase_of(o), "AwaitingApproval");
    json_decref(o);
    const char *states[][2] = {{"pending", "Pending"},
                               {"running", "Running"},
                               {"done", "Succeeded"},
                               {"failed", "Failed"}};
    for (size_t i = 0; i < 4; i++) {
        o = job("ns", "j", "u", "1", "x", states[i][0]);
        ck_assert_str_eq(kr_inventory_phase_of(o), states[i][1]);
        json_decref(o);
    }
    o = json_pack("{s:s, s:{s:s}}", "kind", "ConfigMap", "metadata", "name", "x");
    ck_assert_str_eq(kr_inventory_phase_of(o), "");
    json_object_set_new(json_object_get(o, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:00:00Z"));
    ck_assert_str_eq(kr_inventory_phase_of(o), "Terminating");
    json_decref(o);
}
END_TEST

static void consume(kr_inventory_t *inv, const kr_inventory_event *e);

/* Nothing the inventory serves holds `secret`: the current rows, the
 * history (patches included) and the Workflow API's answers. */
static void assert_nowhere(kr_inventory_t *inv, const char *name, const char *secret)
{
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Secret", "ns", name, &row, NULL), 0);
    char *text = json_dumps(row, 0);
    ck_assert_msg(!strstr(text, secret), "stored: %s", text);
    free(text);
    json_decref(row);
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Secret", "ns", name, 0, 0, &h, NULL), 0);
    ck_assert_uint_gt(json_array_size(h), 0);
    text = json_dumps(h, 0);
    ck_assert_msg(!strstr(text, secret), "history: %s", text);
    free(text);
    json_decref(h);
    ck_assert_int_eq(kr_inventory_transactions_after(inv, 0, 0, &h, NULL), 0);
    text = json_dumps(h, 0);
    ck_assert_ptr_null(strstr(text, secret));
    free(text);
    json_decref(h);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/objects/c1/Secret/ns/%s", name);
    const char *paths[] = {path, "/api/v1/objects", "/api/v1/history"};
    kr_inventory_api_param hp[] = {{"kind", "Secret"}, {"namespace", "ns"}, {"name", name}};
    for (size_t i = 0; i < 3; i++) {
        kr_inventory_api_response resp = {0};
        ck_assert_int_eq(kr_inventory_api_handle(inv, NULL, "GET", paths[i], i == 2 ? hp : NULL,
                                                 i == 2 ? 3 : 0, &resp),
                         0);
        ck_assert_int_eq(resp.status, 200);
        ck_assert_msg(!strstr(resp.body, secret), "%s: %s", paths[i], resp.body);
        kr_inventory_api_response_free(&resp);
    }
}

static json_t *secret_object(const char *name, const char *uid, const char *rv, const char *value)
{
    char applied[256];
    snprintf(applied, sizeof(applied),
             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"stringData\":{\"password\":\"%s\"}}",
             value);
    json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}, s:{s:s}, s:{s:s}}",
                          "apiVersion", "v1", "kind", "Secret", "metadata", "namespace", "ns",
                          "name", name, "uid", uid, "resourceVersion", rv, "annotations",
                          "kubectl.kubernetes.io/last-applied-configuration", applied,
                          "kreconcile.io/last-applied", applied, "team", "ml", "data", "password",
                          "c2VjcmV0", "stringData", "password", value);
    ck_assert_ptr_nonnull(s);
    return s;
}

START_TEST(inventory_secret_values_are_not_stored)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind",
                          "Secret", "metadata", "namespace", "ns", "name", "creds", "uid", "u-s",
                          "resourceVersion", "3", "data", "password", "c2VjcmV0");
    kr_inventory_event e = {.cluster = "c1", .type = KR_INVENTORY_ADDED, .object = s};
    apply(inv, &e, 1, 1, 0);
    assert_nowhere(inv, "creds", "c2VjcmV0");
    json_decref(s);

    /* The annotations that copy the whole object (kubectl's, the
     * syncer's) hold the values too; a change of them is a patch. */
    json_t *v1 = secret_object("applied", "u-a", "4", "hunter2-first");
    json_t *v2 = secret_object("applied", "u-a", "5", "hunter2-second");
    char *caller_before = json_dumps(v1, JSON_SORT_KEYS);
    kr_inventory_event added = {.cluster = "c1", .type = KR_INVENTORY_ADDED, .object = v1};
    kr_inventory_event changed = {.cluster = "c1", .type = KR_INVENTORY_MODIFIED, .object = v2};
    apply(inv, &added, 1, 1, 0);
    consume(inv, &changed);
    assert_nowhere(inv, "applied", "hunter2");
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Secret", "ns", "applied", &row, NULL), 0);
    json_t *notes =
        json_object_get(json_object_get(json_object_get(row, "object"), "metadata"), "annotations");
    ck_assert_str_eq(row_str(notes, "kreconcile.io/last-applied"), "(redacted)");
    ck_assert_str_eq(row_str(notes, "kubectl.kubernetes.io/last-applied-configuration"),
                     "(redacted)");
    ck_assert_str_eq(row_str(notes, "team"), "ml");
    json_decref(row);
    /* The caller's object is left as it was. */
    char *caller_after = json_dumps(v1, JSON_SORT_KEYS);
    ck_assert_str_eq(caller_after, caller_before);
    free(caller_before);
    free(caller_after);
    json_decref(v1);
    json_decref(v2);

    /* A list item without its kind: the event's kind says it is a Secret. */
    json_t *item = secret_object("listed", "u-l", "6", "hunter3");
    json_object_del(item, "kind");
    json_object_del(item, "apiVersion");
    kr_inventory_event listed = {.cluster = "c1",
                                 .api_version = "v1",
                                 .kind = "Secret",
                                 .type = KR_INVENTORY_ADDED,
                                 .object = item};
    apply(inv, &listed, 1, 1, 0);
    assert_nowhere(inv, "listed", "hunter3");
    json_decref(item);

    /* A Runnable whose template is a Secret holds its values there (and
     * in kubectl's copy of the Runnable): hidden alike, in the row, its
     * changes and the API's answers. */
    for (int version = 0; version < 2; version++) {
        json_t *wrapped = secret_object("wrapped", "u-w", version ? "8" : "7",
                                        version ? "hunter4-second" : "hunter4-first");
        char applied[512];
        snprintf(applied, sizeof(applied),
                 "{\"kind\":\"Runnable\",\"spec\":{\"template\":{\"kind\":\"Secret\","
                 "\"stringData\":{\"password\":\"hunter4-%s\"}}}}",
                 version ? "second" : "first");
        json_t *r = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:{s:s}}, s:{s:o}}", "apiVersion",
                              "kreconcile.io/v1alpha1", "kind", "Runnable", "metadata", "namespace",
                              "ns", "name", "runs-a-secret", "uid", "u-r", "resourceVersion",
                              version ? "10" : "9", "annotations",
                              "kubectl.kubernetes.io/last-applied-configuration", applied, "spec",
                              "template", wrapped);
        ck_assert_ptr_nonnull(r);
        char *before = json_dumps(r, JSON_SORT_KEYS);
        kr_inventory_event ev = {.cluster = "c1",
                                 .type = version ? KR_INVENTORY_MODIFIED : KR_INVENTORY_ADDED,
                                 .object = r};
        if (version)
            consume(inv, &ev);
        else
            apply(inv, &ev, 1, 1, 0);
        char *after = json_dumps(r, JSON_SORT_KEYS);
        ck_assert_str_eq(after, before); /* the caller's object is left as it was */
        free(before);
        free(after);
        json_decref(r);
    }
    json_t *stored = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Runnable", "ns", "runs-a-secret", &stored, NULL),
                     0);
    char *text = json_dumps(stored, 0);
    ck_assert_msg(!strstr(text, "hunter4") && !strstr(text, "c2VjcmV0"), "stored: %s", text);
    ck_assert_msg(strstr(text, "(redacted)") && strstr(text, "\"team\": \"ml\""), "stored: %s",
                  text);
    free(text);
    json_decref(stored);
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "ns", "runs-a-secret", 0, 0, &h, NULL),
                     0);
    ck_assert_uint_eq(json_array_size(h), 2);
    text = json_dumps(h, 0);
    ck_assert_msg(!strstr(text, "hunter4"), "history: %s", text);
    free(text);
    json_decref(h);
    kr_inventory_free(inv);
}
END_TEST

START_TEST(inventory_bad_urls_are_refused_clearly)
{
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    o.url = "mysql://db/inventory";
    ck_assert_int_eq(kr_inventory_new(&o, &inv, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "unsupported"));
    o.url = "sqlite://";
    ck_assert_int_eq(kr_inventory_new(&o, &inv, &err), KR_EINVAL);
    o.url = "";
    ck_assert_int_eq(kr_inventory_new(&o, &inv, &err), KR_EINVAL);
    o.url = "sqlite:///nonexistent-dir/sub/inv.db";
    ck_assert_int_eq(kr_inventory_new(&o, &inv, &err), KR_ECONNECT);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent-dir/sub/inv.db"));
    /* a URL's path is percent-decoded: %20 is a space in the file's name;
     * a %00 (it would cut the name short) or a lone % is refused */
    char url[512], path[512];
    snprintf(url, sizeof(url), "sqlite://%s/url%%20name-%d.db", tmpdir, (int)getpid());
    o.url = url;
    ck_assert_msg(kr_inventory_new(&o, &inv, &err) == 0, "%s", err.message);
    kr_inventory_free(inv);
    inv = NULL;
    snprintf(path, sizeof(path), "%s/url name-%d.db", tmpdir, (int)getpid());
    ck_assert_msg(access(path, F_OK) == 0, "%s was not made", path);
    snprintf(path, sizeof(path), "%s/url%%20name-%d.db", tmpdir, (int)getpid());
    ck_assert_msg(access(path, F_OK) != 0, "%s was made", path);
    static const char *const bad[] = {"sqlite:///tmp/a%00b.db", "sqlite:///tmp/a%2.db",
                                      "sqlite:///tmp/a%zzb.db"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.url = bad[i];
        ck_assert_msg(kr_inventory_new(&o, &inv, &err) == KR_EINVAL, "%s: %s", bad[i], err.message);
        ck_assert_ptr_nonnull(strstr(err.message, "NUL byte"));
    }
    /* Nobody listens on port 1: a clear error that hides the password. */
    o.url = "postgresql://user:s3cret@127.0.0.1:1/inventory";
    o.connect_timeout_ms = 2000;
    ck_assert_int_eq(kr_inventory_new(&o, &inv, &err), KR_ECONNECT);
    ck_assert_ptr_nonnull(strstr(err.message, "127.0.0.1"));
    ck_assert_ptr_null(strstr(err.message, "s3cret"));
    ck_assert_msg(!strchr(err.message, '\n') && !strchr(err.message, '\t'), "not one line: %s",
                  err.message);
    /* a name that does not resolve is an outage (waited for), not a bad URL */
    o.url = "postgresql://kr-no-such-host.invalid/x";
    ck_assert_int_eq(kr_inventory_new(&o, &inv, &err), KR_ECONNECT);
    o.url = "postgresql://127.0.0.1:notaport/x";
    ck_assert_int_lt(kr_inventory_new(&o, &inv, &err), 0);
    ck_assert_ptr_null(inv);
}
END_TEST

START_TEST(inventory_corrupted_sqlite_file_is_refused_and_left_untouched)
{
    char url[512];
    fresh_url(url, sizeof(url));
    const char *path = url + strlen("sqlite://");
    /* Not a database at all. */
    const char garbage[] = "this is not a SQLite database, it is a file with text in it....";
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++)
        fputs(garbage, f);
    fclose(f);
    struct stat before;
    ck_assert_int_eq(stat(path, &before), 0);
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_new(&o, &inv, &err), KR_EIO);
    ck_assert_ptr_nonnull(strstr(err.message, "refusing"));
    char *text = kr_test_read_file("/", path);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(strncmp(text, garbage, strlen(garbage)), 0);
    free(text);
    struct stat after;
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_int_eq(after.st_size, before.st_size);
    /* A real inventory whose pages were damaged behind a valid header. */
    fresh_url(url, sizeof(url));
    inv = open_url(url);
    load_grid(inv);
    kr_inventory_free(inv);
    path = url + strlen("sqlite://");
    f = fopen(path, "r+");
    ck_assert_ptr_nonnull(f);
    fseek(f, 4096, SEEK_SET); /* pages 2..5, headers included */
    for (int i = 0; i < 4 * 4096; i++)
        fputc(0xA5, f);
    fclose(f);
    ck_assert_int_eq(kr_inventory_new(&o, &inv, &err), KR_EIO);
    ck_assert_ptr_null(inv);
}
END_TEST

/* Another process holds the new file's write lock (it is creating the
 * schema, or converting the file to WAL) while this one opens it. Setting
 * WAL then needs the lock this connection cannot wait for without risking
 * a deadlock, so SQLite answers SQLITE_BUSY at once, without calling the
 * busy handler: the open tries again until the holder lets go, as it
 * does for every other statement. (make demo's processes open one new
 * file together.) */
static void *commit_later(void *arg)
{
    sqlite3 *db = arg;
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    return NULL;
}

START_TEST(inventory_sqlite_open_waits_for_another_writer_of_a_new_file)
{
    char url[512];
    fresh_url(url, sizeof(url));
    sqlite3 *holder = NULL;
    ck_assert_int_eq(sqlite3_open(url + strlen("sqlite://"), &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, commit_later, holder), 0);
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    int rc = kr_inventory_new(&o, &inv, &err);
    pthread_join(t, NULL);
    sqlite3_close(holder);
    ck_assert_msg(rc == 0, "%s", err.message);
    ck_assert_str_eq(kr_inventory_backend_name(inv), "sqlite");
    load_grid(inv);
    kr_inventory_free(inv);
}
END_TEST

/* ---- the consumer ------------------------------------------------------- */

static void job_event(kr_inventory_event *e, json_t **obj, const char *cluster, int i, int rv)
{
    char name[32], uid[48], rvs[16];
    snprintf(name, sizeof(name), "job-%d", i);
    snprintf(uid, sizeof(uid), "%s-uid-%d", cluster, i);
    snprintf(rvs, sizeof(rvs), "%d", rv);
    *obj = job("ns", name, uid, rvs, "web", "pending");
    *e = ev(cluster, KR_INVENTORY_ADDED, *obj);
}

/* One event through a consumer of inv (applied before it returns). */
static void consume(kr_inventory_t *inv, const kr_inventory_event *e)
{
    kr_inventory_consumer_t *c = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_consumer_new(inv, NULL, &c, NULL), 0);
    ck_assert_msg(kr_inventory_consumer_enqueue(c, e, &err) == 0, "%s", err.message);
    ck_assert_msg(kr_inventory_consumer_flush(c, 60000, &err) == 0, "%s", err.message);
    kr_inventory_consumer_free(c);
}

/* A SQLite file deleted (or renamed) under a running inventory: writes
 * would go to a file nobody opens again, so they are refused as a passing
 * failure (KR_EUNAVAILABLE: a consumer keeps its events, an outbox waits),
 * and the consumer's stats say why, for kr-inventory's /readyz. */
START_TEST(inventory_sqlite_file_deleted_under_it_refuses_writes)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_consumer_t *c = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_consumer_new(inv, NULL, &c, NULL), 0);
    json_t *o1, *o2;
    kr_inventory_event e1, e2;
    job_event(&e1, &o1, "east", 1, 10);
    job_event(&e2, &o2, "east", 2, 11);
    ck_assert_int_eq(kr_inventory_consumer_enqueue(c, &e1, &err), 0);
    size_t drained = 0;
    ck_assert_msg(kr_inventory_consumer_drain(c, &drained, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(drained, 1);
    const char *path = url + strlen("sqlite://");
    char moved[600];
    snprintf(moved, sizeof(moved), "%s.old", path);
    ck_assert_int_eq(rename(path, moved), 0);
    ck_assert_int_eq(kr_inventory_consumer_enqueue(c, &e2, &err), 0);
    ck_assert_int_eq(kr_inventory_consumer_drain(c, &drained, &err), KR_EUNAVAILABLE);
    ck_assert_msg(strstr(err.message, "was moved or deleted since it was opened"), "%s",
                  err.message);
    kr_inventory_consumer_stats st;
    kr_inventory_consumer_get_stats(c, &st, sizeof(st));
    ck_assert_int_eq(st.last_error, KR_EUNAVAILABLE);
    ck_assert_uint_eq(st.buffered, 1);
    ck_assert_msg(strstr(st.last_error_message, "moved or deleted"), "%s", st.last_error_message);
    /* reads still answer, from the file as it was */
    int64_t seq = 0;
    ck_assert_int_eq(kr_inventory_last_seq(inv, &seq, &err), 0);
    ck_assert_int_gt(seq, 0);
    kr_inventory_consumer_free(c);
    kr_inventory_free(inv);
    json_decref(o1);
    json_decref(o2);
    unlink(moved);
}
END_TEST

/* The consumer's handle remembers the states it wrote and diffs the next
 * change against them; the database says whether they still hold: a change
 * written by another handle (or by the same one through kr_inventory_apply)
 * in between is the state the next patch starts from. Every transaction
 * and the final row are exactly those of the same events applied one by
 * one by a single handle. */
START_TEST(inventory_consumer_changes_diff_against_the_stored_state)
{
    char url[512], ref_url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_t *other = open_url(url);
    kr_inventory_t *ref = fresh(ref_url, sizeof(ref_url));
    static const char *const step[][3] = {{"10", "ml", "pending"}, {"11", "ml2", "running"},
                                          {"12", "ml2", "done"},   {"13", "ml3", "done"},
                                          {"14", "ml3", "failed"}, {"15", "ml4", "running"}};
    enum { STEPS = sizeof(step) / sizeof(step[0]) };
    json_t *v[STEPS];
    for (size_t i = 0; i < STEPS; i++) {
        v[i] = job("ns", "train", "u-1", step[i][0], step[i][1], step[i][2]);
        kr_inventory_event e = ev("c1", i ? KR_INVENTORY_MODIFIED : KR_INVENTORY_ADDED, v[i]);
        apply(ref, &e, 1, 1, 0);
        if (i == 1) /* another writer */
            apply(other, &e, 1, 1, 0);
        else if (i == 4) /* the same handle, objects only borrowed */
            apply(inv, &e, 1, 1, 0);
        else
            consume(inv, &e);
    }
    json_t *h = NULL, *want = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Job", "ns", "train", 0, 0, &h, NULL), 0);
    ck_assert_int_eq(kr_inventory_history(ref, "Job", "ns", "train", 0, 0, &want, NULL), 0);
    ck_assert_uint_eq(json_array_size(h), STEPS);
    ck_assert_uint_eq(json_array_size(want), STEPS);
    for (size_t i = 0; i < STEPS; i++) {
        const json_t *t = json_array_get(h, i), *w = json_array_get(want, i);
        ck_assert_str_eq(row_str(t, "event"), row_str(w, "event"));
        char *got_patch = json_dumps(json_object_get(t, "patch"), JSON_COMPACT);
        char *want_patch = json_dumps(json_object_get(w, "patch"), JSON_COMPACT);
        ck_assert_str_eq(got_patch, want_patch);
        free(got_patch);
        free(want_patch);
    }
    /* The step after the other writer's: its patch starts from that state
     * (the label it changed is not in it). */
    json_t *labels = json_object_get(
        json_object_get(json_object_get(json_array_get(h, 2), "patch"), "metadata"), "labels");
    ck_assert_ptr_null(labels);
    json_decref(h);
    json_decref(want);
    json_t *row = NULL, *want_row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "train", &row, NULL), 0);
    ck_assert_int_eq(kr_inventory_get(ref, "c1", "Job", "ns", "train", &want_row, NULL), 0);
    char *got_object = json_dumps(json_object_get(row, "object"), JSON_COMPACT);
    char *want_object = json_dumps(json_object_get(want_row, "object"), JSON_COMPACT);
    ck_assert_str_eq(got_object, want_object);
    ck_assert_str_eq(row_str(row, "phase"), "Running");
    free(got_object);
    free(want_object);
    json_decref(row);
    json_decref(want_row);
    for (size_t i = 0; i < STEPS; i++)
        json_decref(v[i]);
    kr_inventory_free(ref);
    kr_inventory_free(other);
    kr_inventory_free(inv);
}
END_TEST

START_TEST(inventory_consumer_full_buffer_refuses_then_drains_everything)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_consumer_opts co = KR_INVENTORY_CONSUMER_OPTS_INIT;
    co.capacity = 10;
    co.max_batch = 4;
    kr_inventory_consumer_t *c = NULL;
    ck_assert_int_eq(kr_inventory_consumer_new(inv, &co, &c, NULL), 0);
    int taken = 0;
    kr_error_t err = {0};
    for (int i = 0; i < 25; i++) {
        kr_inventory_event e;
        json_t *o;
        job_event(&e, &o, "c1", i, 1000 + i);
        int rc = kr_inventory_consumer_enqueue(c, &e, &err);
        json_decref(o);
        if (rc == KR_ETOOLARGE) {
            /* Backpressure: the source stops; drain one batch, go on. */
            size_t drained = 0;
            ck_assert_int_eq(kr_inventory_consumer_drain(c, &drained, &err), 0);
            ck_assert_uint_eq(drained, 4);
            i--;
            continue;
        }
        ck_assert_int_eq(rc, 0);
        taken++;
    }
    kr_inventory_consumer_stats st;
    kr_inventory_consumer_get_stats(c, &st, sizeof(st));
    ck_assert_uint_gt(st.rejected_full, 0);
    ck_assert_int_eq(kr_inventory_consumer_flush(c, 60000, &err), 0);
    kr_inventory_consumer_get_stats(c, &st, sizeof(st));
    ck_assert_uint_eq(st.buffered, 0);
    ck_assert_uint_eq(st.applied, 25);
    ck_assert_uint_eq(count_txns(inv), 25);
    char *rv = checkpoint(inv, "c1");
    ck_assert_str_eq(rv, "1024");
    kr_free(rv);
    kr_inventory_consumer_free(c);
    kr_inventory_free(inv);
}
END_TEST

/* What apply would refuse is refused at enqueue: buffered, it would be
 * retried forever and hold back every event behind it. */
START_TEST(inventory_consumer_refuses_invalid_events_up_front)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_consumer_t *c = NULL;
    ck_assert_int_eq(kr_inventory_consumer_new(inv, NULL, &c, NULL), 0);
    kr_error_t err = {0};
    /* A list item: no kind of its own, and none in the event. */
    json_t *item = job("ns", "a", "u-a", "5", "web", "pending");
    json_object_del(item, "kind");
    kr_inventory_event e = ev("c1", KR_INVENTORY_ADDED, item);
    ck_assert_int_eq(kr_inventory_consumer_enqueue(c, &e, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "no kind"));
    /* Named by the event, it is taken. */
    e.kind = "Job";
    ck_assert_int_eq(kr_inventory_consumer_enqueue(c, &e, &err), 0);
    json_t *nameless = job("ns", "", "u-b", "6", "web", "pending");
    e = ev("c1", KR_INVENTORY_ADDED, nameless);
    ck_assert_int_eq(kr_inventory_consumer_enqueue(c, &e, &err), KR_EINVAL);
    e = ev("", KR_INVENTORY_ADDED, item);
    e.kind = "Job";
    ck_assert_int_eq(kr_inventory_consumer_enqueue(c, &e, &err), KR_EINVAL);
    kr_inventory_event cp = {.cluster = "c1", .type = KR_INVENTORY_CHECKPOINT};
    ck_assert_int_eq(kr_inventory_consumer_enqueue(c, &cp, &err), KR_EINVAL);
    kr_inventory_consumer_stats st;
    kr_inventory_consumer_get_stats(c, &st, sizeof(st));
    ck_assert_uint_eq(st.buffered, 1);
    ck_assert_msg(kr_inventory_consumer_flush(c, 60000, &err) == 0, "%s", err.message);
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "a", &row, NULL), 0);
    json_decref(row);
    json_decref(item);
    json_decref(nameless);
    kr_inventory_consumer_free(c);
    kr_inventory_free(inv);
}
END_TEST

/* An object changed after its enqueue (against the contract) so that
 * apply refuses it: it is dropped, the events around it are committed. */
START_TEST(inventory_consumer_drops_an_event_apply_refuses)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_consumer_t *c = NULL;
    ck_assert_int_eq(kr_inventory_consumer_new(inv, NULL, &c, NULL), 0);
    kr_error_t err = {0};
    json_t *o[3];
    for (int i = 0; i < 3; i++) {
        kr_inventory_event e;
        job_event(&e, &o[i], "c1", i, 100 + i);
        ck_assert_int_eq(kr_inventory_consumer_enqueue(c, &e, &err), 0);
    }
    json_object_del(json_object_get(o[1], "metadata"), "uid");
    size_t drained = 0;
    ck_assert_msg(kr_inventory_consumer_drain(c, &drained, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(drained, 3);
    kr_inventory_consumer_stats st;
    kr_inventory_consumer_get_stats(c, &st, sizeof(st));
    ck_assert_uint_eq(st.buffered, 0);
    ck_assert_uint_eq(st.applied, 2);
    ck_assert_uint_eq(st.dropped_invalid, 1);
    ck_assert_int_eq(st.last_error, 0);
    ck_assert_uint_eq(count_txns(inv), 2);
    json_t *row = NULL;
    ck_assert_int_eq(kr_inventory_get(inv, "c1", "Job", "ns", "job-2", &row, NULL), 0);
    json_decref(row);
    char *rv = checkpoint(inv, "c1");
    ck_assert_str_eq(rv, "102");
    kr_free(rv);
    ck_assert_int_eq(kr_inventory_consumer_flush(c, 1000, &err), 0);
    for (int i = 0; i < 3; i++)
        json_decref(o[i]);
    kr_inventory_consumer_free(c);
    kr_inventory_free(inv);
}
END_TEST

static void count_commit(int64_t last_seq, size_t events, void *user)
{
    (void)last_seq;
    __atomic_fetch_add((size_t *)user, events, __ATOMIC_RELAXED);
}

START_TEST(inventory_consumer_writer_thread_group_commits)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    size_t committed = 0;
    kr_inventory_consumer_opts co = KR_INVENTORY_CONSUMER_OPTS_INIT;
    co.capacity = 256;
    co.max_batch = 64;
    co.on_commit = count_commit;
    co.on_commit_user = &committed;
    kr_inventory_consumer_t *c = NULL;
    ck_assert_int_eq(kr_inventory_consumer_new(inv, &co, &c, NULL), 0);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_consumer_start(c, &err), 0);
    ck_assert_int_eq(kr_inventory_consumer_start(c, &err), KR_ESTATE);
    ck_assert_int_eq(kr_inventory_consumer_drain(c, NULL, &err), KR_ESTATE);
    const int n = 2000;
    for (int i = 0; i < n; i++) {
        kr_inventory_event e;
        json_t *o;
        job_event(&e, &o, i % 2 ? "c1" : "c2", i, 1 + i);
        int rc;
        while ((rc = kr_inventory_consumer_enqueue(c, &e, NULL)) == KR_ETOOLARGE)
            ck_assert_int_eq(kr_inventory_consumer_wait_space(c, 1, 60000), 0);
        ck_assert_int_eq(rc, 0);
        json_decref(o);
    }
    ck_assert_int_eq(kr_inventory_consumer_flush(c, 120000, &err), 0);
    kr_inventory_consumer_stats st;
    kr_inventory_consumer_get_stats(c, &st, sizeof(st));
    ck_assert_uint_eq(st.applied, (uint64_t)n);
    ck_assert_uint_lt(st.batches, (uint64_t)n); /* grouped */
    ck_assert_uint_eq(__atomic_load_n(&committed, __ATOMIC_RELAXED), (size_t)n);
    kr_inventory_consumer_free(c);
    ck_assert_uint_eq(count_txns(inv), (size_t)n);
    kr_inventory_free(inv);
}
END_TEST

/* PostgreSQL: writers take turns, as SQLite's BEGIN IMMEDIATE makes them,
 * so that transactions commit in sequence order (a reader following seq
 * never skips one committed late). Another session holding the writers'
 * lock holds back a write until it lets go; reads go on. */
typedef struct locked_writer {
    kr_inventory_t *inv;
    atomic_int done;
    int rc;
} locked_writer;

static void *write_one(void *arg)
{
    locked_writer *w = arg;
    json_t *o = job("ns", "late", "u-late", "77", "web", "pending");
    kr_inventory_event e = ev("c1", KR_INVENTORY_ADDED, o);
    w->rc = kr_inventory_apply(w->inv, &e, 1, NULL, NULL);
    json_decref(o);
    atomic_store(&w->done, 1);
    return NULL;
}

START_TEST(inventory_postgresql_writers_take_turns)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_t *reader = open_url(url);
    PGconn *holder = PQconnectdb(url);
    ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
    PGresult *r = PQexec(holder, "SELECT pg_advisory_lock(" KR_INV_PG_WRITE_LOCK ")");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    locked_writer w = {.inv = inv};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, write_one, &w), 0);
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(atomic_load(&w.done), 0);
    int64_t seq = -1;
    ck_assert_int_eq(kr_inventory_last_seq(reader, &seq, NULL), 0);
    ck_assert_int_eq(seq, 0);
    r = PQexec(holder, "SELECT pg_advisory_unlock(" KR_INV_PG_WRITE_LOCK ")");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    pthread_join(t, NULL);
    ck_assert_int_eq(w.rc, 0);
    ck_assert_uint_eq(count_txns(reader), 1);
    PQfinish(holder);
    kr_inventory_free(reader);
    kr_inventory_free(inv);
}
END_TEST

/* The value libpq's connection `c` uses for `keyword` (static copy). */
static const char *conn_option(PGconn *c, const char *keyword)
{
    static char value[64];
    value[0] = '\0';
    PQconninfoOption *opts = PQconninfo(c);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0 && o->val)
            snprintf(value, sizeof(value), "%s", o->val);
    PQconninfoFree(opts);
    return value;
}

/* PostgreSQL connections notice a dead peer (keepalives, a TCP user
 * timeout) unless the URL says otherwise: its settings win. */
START_TEST(inventory_postgresql_connections_keep_alive)
{
    char url[512], tuned[600];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_free(inv);
    snprintf(tuned, sizeof(tuned), "%s?keepalives_idle=42&tcp_user_timeout=0", url);
    const char *keys[KR_INV_PG_PARAMS], *values[KR_INV_PG_PARAMS];
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_le(kr_inv_pg_conn_params(i ? tuned : url, "5", keys, values) + 1,
                          KR_INV_PG_PARAMS);
        PGconn *c = PQconnectdbParams(keys, values, 1);
        ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
        ck_assert_str_eq(conn_option(c, "keepalives"), "1");
        ck_assert_str_eq(conn_option(c, "keepalives_idle"), i ? "42" : "10");
        ck_assert_str_eq(conn_option(c, "keepalives_interval"), "5");
        ck_assert_str_eq(conn_option(c, "keepalives_count"), "3");
        ck_assert_str_eq(conn_option(c, "tcp_user_timeout"), i ? "0" : "30000");
        ck_assert_str_eq(conn_option(c, "application_name"), "kreconcile-inventory");
        /* a session paused inside a transaction lets go of its locks */
        PGresult *r = PQexec(c, "SHOW idle_in_transaction_session_timeout");
        ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        ck_assert_str_eq(PQgetvalue(r, 0, 0), "15s");
        PQclear(r);
        PQfinish(c);
    }
    /* The inventory opens with them. */
    inv = open_url(tuned);
    load_grid(inv);
    kr_inventory_free(inv);
}
END_TEST

/* Opening while PostgreSQL is down: with connect_wait_ms the open waits,
 * logging each failed attempt, and succeeds once the server is back; with
 * no wait, or with options of version 1 (whose struct has no such field),
 * one attempt fails at once. */
typedef struct open_waiter {
    const char *url;
    int rc;
    kr_inventory_t *inv;
    kr_error_t err;
    atomic_int warnings;
} open_waiter;

static void count_warning(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)module;
    (void)message;
    if (level == KR_LOG_WARN)
        atomic_fetch_add(&((open_waiter *)user)->warnings, 1);
}

static void *open_waiting(void *arg)
{
    open_waiter *w = arg;
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = w->url;
    o.connect_wait_ms = 120000;
    o.logger = (kr_logger){.cb = count_warning, .max_level = KR_LOG_WARN, .user = w};
    w->rc = kr_inventory_new(&o, &w->inv, &w->err);
    return NULL;
}

/* A PostgreSQL server of the test's own (it stops and restarts it) and a
 * fresh database on it, its URL into url[0..size). */
static kr_pgserver *own_server(char *url, size_t size)
{
    char why[512];
    kr_pgserver *own = NULL;
    if (kr_pgserver_start(&own, why, sizeof(why)) != 0)
        ck_abort_msg("cannot start PostgreSQL: %s", why);
    ck_assert_int_eq(kr_pgserver_create_db(own, url, size), 0);
    return own;
}

START_TEST(inventory_open_waits_for_a_restarting_database)
{
    char url[512];
    kr_pgserver *own = own_server(url, sizeof(url));
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    /* no wait: one attempt */
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&o, &inv, NULL), KR_ECONNECT);
    /* version 1 never reads the field (set here to show it is ignored) */
    o.version = 1;
    o.connect_wait_ms = 120000;
    ck_assert_int_eq(kr_inventory_new(&o, &inv, NULL), KR_ECONNECT);
    ck_assert_ptr_null(inv);
    /* waiting: the open goes on until the server is back */
    open_waiter w = {.url = url};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, open_waiting, &w), 0);
    time_t deadline = time(NULL) + 60;
    while (atomic_load(&w.warnings) < 2 && time(NULL) < deadline) {
        struct timespec pace = {0, 20000000};
        nanosleep(&pace, NULL);
    }
    ck_assert_int_ge(atomic_load(&w.warnings), 2); /* two attempts failed, each logged */
    ck_assert_int_eq(kr_pgserver_restart(own), 0);
    pthread_join(t, NULL);
    ck_assert_msg(w.rc == 0, "open after the restart: %s", w.err.message);
    ck_assert_ptr_nonnull(w.inv);
    int64_t seq = -1;
    ck_assert_int_eq(kr_inventory_last_seq(w.inv, &seq, NULL), 0);
    ck_assert_int_eq(seq, 0);
    kr_inventory_free(w.inv);
    kr_pgserver_free(own);
}
END_TEST

/* PostgreSQL stopped while a writer thread runs: batches fail and are
 * retried with backoff, the buffer fills and refuses, the server comes
 * back, and every event is there exactly once. */
START_TEST(inventory_database_restart_loses_nothing)
{
    char url[512];
    kr_pgserver *own = own_server(url, sizeof(url));
    kr_inventory_t *inv = open_url(url);
    kr_inventory_consumer_opts co = KR_INVENTORY_CONSUMER_OPTS_INIT;
    co.capacity = 100;
    co.max_batch = 16;
    co.retry_base_ms = 20;
    co.retry_max_ms = 200;
    kr_inventory_consumer_t *c = NULL;
    ck_assert_int_eq(kr_inventory_consumer_new(inv, &co, &c, NULL), 0);
    ck_assert_int_eq(kr_inventory_consumer_start(c, NULL), 0);
    const int n = 400;
    int i = 0;
    kr_error_t err = {0};
    for (; i < n / 4; i++) {
        kr_inventory_event e;
        json_t *o;
        job_event(&e, &o, "c1", i, 1 + i);
        while (kr_inventory_consumer_enqueue(c, &e, NULL) == KR_ETOOLARGE)
            ck_assert_int_eq(kr_inventory_consumer_wait_space(c, 1, 60000), 0);
        json_decref(o);
    }
    ck_assert_int_eq(kr_inventory_consumer_flush(c, 60000, &err), 0);
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    /* Fill the buffer while the database is down: it refuses when full. */
    bool refused = false;
    for (; i < n / 4 + 100 + 10 && !refused; i++) {
        kr_inventory_event e;
        json_t *o;
        job_event(&e, &o, "c1", i, 1 + i);
        int rc = kr_inventory_consumer_enqueue(c, &e, NULL);
        json_decref(o);
        if (rc == KR_ETOOLARGE) {
            refused = true;
            i--; /* not taken: the source will offer it again */
        } else {
            ck_assert_int_eq(rc, 0);
        }
    }
    ck_assert(refused);
    kr_inventory_consumer_stats st;
    double deadline = (double)time(NULL) + 60;
    do
        kr_inventory_consumer_get_stats(c, &st, sizeof(st));
    while (st.failures < 2 && (double)time(NULL) < deadline);
    ck_assert_uint_ge(st.failures, 2);
    ck_assert_int_eq(st.last_error, KR_EUNAVAILABLE);
    ck_assert_uint_eq(st.buffered, 100);
    ck_assert_int_eq(kr_pgserver_restart(own), 0);
    for (; i < n; i++) {
        kr_inventory_event e;
        json_t *o;
        job_event(&e, &o, "c1", i, 1 + i);
        while (kr_inventory_consumer_enqueue(c, &e, NULL) == KR_ETOOLARGE)
            ck_assert_int_eq(kr_inventory_consumer_wait_space(c, 1, 60000), 0);
        json_decref(o);
    }
    ck_assert_int_eq(kr_inventory_consumer_flush(c, 120000, &err), 0);
    kr_inventory_consumer_free(c);
    ck_assert_uint_eq(count_txns(inv), (size_t)n);
    char *rv = checkpoint(inv, "c1");
    char want[16];
    snprintf(want, sizeof(want), "%d", n);
    ck_assert_str_eq(rv, want);
    kr_free(rv);
    kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
    q.limit = 1000;
    json_t *items = query(inv, &q, NULL);
    ck_assert_uint_eq(json_array_size(items), (size_t)n);
    json_decref(items);
    /* Reads and writes right after a restart: the dead connection is
     * replaced transparently, the first statement does not fail. */
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    ck_assert_int_eq(kr_pgserver_restart(own), 0);
    int64_t seq = 0;
    ck_assert_msg(kr_inventory_last_seq(inv, &seq, &err) == 0, "read after restart: %s",
                  err.message);
    ck_assert_int_gt(seq, 0);
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    ck_assert_int_eq(kr_pgserver_restart(own), 0);
    kr_inventory_event e;
    json_t *o;
    job_event(&e, &o, "c1", n, 1 + n);
    ck_assert_msg(kr_inventory_apply(inv, &e, 1, NULL, &err) == 0, "write after restart: %s",
                  err.message);
    json_decref(o);
    kr_inventory_free(inv);
    kr_pgserver_free(own);
}
END_TEST

/* The events of history `h` (a JSON array) joined by spaces. */
static void history_events(json_t *h, char *out, size_t size)
{
    size_t i, at = 0;
    json_t *row;
    out[0] = '\0';
    json_array_foreach(h, i, row)
    {
        at += (size_t)snprintf(out + at, size - at, "%s%s", at ? " " : "",
                               json_string_value(json_object_get(row, "event")));
        if (at >= size)
            break;
    }
}

/* While the inventory answers, an outbox records in the caller's thread;
 * an action the inventory refuses is refused at once and never kept. */
/* An SQLite failure that the file's surroundings cause (another writer, a
 * full, failing or read-only disk) is one to wait out: an outbox keeps
 * the record and tries again rather than drop it (KR_EIO is for what
 * would fail forever). */
START_TEST(sqlite_failures_of_the_disk_are_waited_out)
{
    const int wait[] = {SQLITE_BUSY,     SQLITE_LOCKED,          SQLITE_FULL,
                        SQLITE_IOERR,    SQLITE_IOERR_WRITE,     SQLITE_IOERR_FSYNC,
                        SQLITE_READONLY, SQLITE_READONLY_DBMOVED};
    for (size_t i = 0; i < sizeof(wait) / sizeof(wait[0]); i++)
        ck_assert_msg(kr_inv_sqlite_code(wait[i]) == KR_EUNAVAILABLE, "code %d", wait[i]);
    const int fail[] = {SQLITE_CONSTRAINT_UNIQUE, SQLITE_MISMATCH, SQLITE_ERROR,
                        SQLITE_CORRUPT,           SQLITE_NOTADB,   SQLITE_TOOBIG};
    for (size_t i = 0; i < sizeof(fail) / sizeof(fail[0]); i++)
        ck_assert_msg(kr_inv_sqlite_code(fail[i]) == KR_EIO, "code %d", fail[i]);
    ck_assert_int_eq(kr_inv_sqlite_code(SQLITE_NOMEM), KR_ENOMEM);
}
END_TEST

START_TEST(inventory_outbox_records_at_once_and_refuses_bad_actions)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION + 1};
    kr_inventory_outbox_t *ob = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &oo, &ob, &err), KR_EINVAL);
    ck_assert_ptr_null(ob);
    /* {0} and fields without .version are version 1, as every options struct */
    kr_inventory_outbox_opts zero = {.max_pending = 10};
    ck_assert_msg(kr_inventory_outbox_new(inv, &zero, &ob, &err) == 0, "%s", err.message);
    kr_inventory_outbox_free(ob);
    kr_inventory_outbox_opts init = KR_INVENTORY_OUTBOX_OPTS_INIT;
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &init, &ob, &err), 0);
    kr_inventory_outbox_free(ob);
    /* and a version newer than the library's is refused by each */
    kr_inventory_opts io = {.version = KR_INVENTORY_OPTS_VERSION + 1, .url = url};
    kr_inventory_t *other = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &other, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "newer"));
    kr_inventory_consumer_opts co = {.version = KR_INVENTORY_CONSUMER_OPTS_VERSION + 1};
    kr_inventory_consumer_t *consumer = NULL;
    ck_assert_int_eq(kr_inventory_consumer_new(inv, &co, &consumer, &err), KR_EINVAL);
    kr_inventory_query_opts qo = {.version = KR_INVENTORY_QUERY_OPTS_VERSION + 1};
    json_t *items = NULL;
    ck_assert_int_eq(kr_inventory_query(inv, &qo, &items, NULL, &err), KR_EINVAL);
    kr_inventory_producer_opts po = {.version = KR_INVENTORY_PRODUCER_OPTS_VERSION + 1};
    kr_inventory_producer_t *producer = NULL;
    ck_assert_int_eq(kr_inventory_producer_new(&po, &producer, &err), KR_EINVAL);
    kr_inventory_api_opts ao = {.version = KR_INVENTORY_API_OPTS_VERSION + 1};
    kr_inventory_api_response resp;
    ck_assert_int_eq(kr_inventory_api_handle(inv, &ao, "GET", "/api/v1/objects", NULL, 0, &resp),
                     0);
    ck_assert_int_eq(resp.status, 500);
    kr_inventory_api_response_free(&resp);
    ck_assert_int_eq(kr_inventory_outbox_new(inv, NULL, &ob, &err), 0);
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "default",
                             .name = "r",
                             .event = "SUBMITTED",
                             .actor = "alice"};
    bool queued = true;
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), 0);
    ck_assert(!queued);
    a.event = "dispatched";
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "upper case"));
    a.event = "APPROVED";
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, "u1/APPROVED/bob", NULL, &err), 0);
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, "u1/APPROVED/bob", NULL, &err), 0);
    ck_assert_uint_eq(kr_inventory_outbox_pending(ob), 0);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 0), 0);
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "default", "r", 0, 0, &h, NULL), 0);
    char events[256];
    history_events(h, events, sizeof(events));
    ck_assert_str_eq(events, "SUBMITTED APPROVED"); /* the key's second record: a no-op */
    json_decref(h);
    kr_inventory_outbox_free(ob);
    kr_inventory_free(inv);
}
END_TEST

static _Atomic int outbox_warnings;

static void count_warnings(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)user;
    (void)module;
    (void)message;
    if (level == KR_LOG_WARN)
        atomic_fetch_add(&outbox_warnings, 1);
}

/* PostgreSQL stopped while a program records its actions: none is lost,
 * none doubled, all in the order they were made, also those made after
 * the first that waited. */
START_TEST(inventory_outbox_keeps_actions_in_order_across_a_restart)
{
    char url[512];
    kr_pgserver *own = own_server(url, sizeof(url));
    kr_inventory_t *inv = open_url(url);
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .max_pending = 3,
                                   .retry_max_ms = 200,
                                   .logger = {.cb = count_warnings, .max_level = KR_LOG_DEBUG}};
    kr_inventory_outbox_t *ob = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &oo, &ob, &err), 0);
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "default",
                             .name = "r",
                             .event = "SUBMITTED",
                             .actor = "kr-submitter"};
    bool queued = true;
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), 0);
    ck_assert(!queued);
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    const char *during[] = {"DISPATCHED", "VERIFIED", "SUCCEEDED"};
    json_t *detail = json_pack("{s:s}", "outcome", "kept as given");
    for (size_t i = 0; i < 3; i++) {
        a.event = during[i];
        a.detail = detail;
        ck_assert_msg(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err) == 0, "%s",
                      err.message);
        ck_assert(queued);
    }
    json_decref(detail); /* the outbox keeps its own copy */
    a.detail = NULL;
    ck_assert_uint_eq(kr_inventory_outbox_pending(ob), 3);
    /* full: refused, for the caller to keep or drop */
    a.event = "CANCELLED";
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), KR_ETOOLARGE);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 50), KR_ETIMEDOUT);
    time_t deadline = time(NULL) + 60;
    while (atomic_load(&outbox_warnings) < 3 && time(NULL) < deadline) {
        struct timespec pace = {0, 20000000};
        nanosleep(&pace, NULL);
    }
    ck_assert_int_ge(atomic_load(&outbox_warnings), 3); /* it was told, and it retried */
    ck_assert_uint_eq(kr_inventory_outbox_pending(ob), 3);
    /* the moment before the restart, as the inventory writes times */
    char before[48];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t len = strftime(before, sizeof(before), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(before + len, sizeof(before) - len, ".%03dZ", (int)(now.tv_nsec / 1000000));
    ck_assert_int_eq(kr_pgserver_restart(own), 0);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 60000), 0);
    a.event = "CANCELLED";
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), 0);
    ck_assert(!queued);
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "default", "r", 0, 0, &h, &err), 0);
    char events[256];
    history_events(h, events, sizeof(events));
    ck_assert_str_eq(events, "SUBMITTED DISPATCHED VERIFIED SUCCEEDED CANCELLED");
    ck_assert_str_eq(row_str(json_object_get(json_array_get(h, 1), "patch"), "outcome"),
                     "kept as given");
    /* each keeps the time it was made, not the time it reached the books */
    const char *made = json_string_value(json_object_get(json_array_get(h, 1), "time"));
    ck_assert_msg(made && strcmp(made, before) < 0, "%s, restart at %s", made, before);
    json_decref(h);
    /* one the database refuses for good (not UTF-8) is dropped, and holds
     * nothing behind it; flush says so */
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    a.event = "SWEPT";
    a.actor = "bad\xff";
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), 0);
    ck_assert(queued);
    a.actor = "kr-submitter";
    a.event = "FAILED";
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), 0);
    ck_assert_int_eq(kr_pgserver_restart(own), 0);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 60000), KR_EIO);
    ck_assert_uint_eq(kr_inventory_outbox_dropped(ob), 1);
    ck_assert_uint_eq(kr_inventory_outbox_pending(ob), 0);
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "default", "r", 0, 0, &h, &err), 0);
    history_events(h, events, sizeof(events));
    ck_assert_str_eq(events, "SUBMITTED DISPATCHED VERIFIED SUCCEEDED CANCELLED FAILED");
    json_decref(h);
    /* freed with actions waiting: each told as never recorded */
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    a.event = "SWEPT";
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), 0);
    ck_assert(queued);
    kr_inventory_outbox_free(ob);
    kr_inventory_free(inv);
    kr_pgserver_free(own);
}
END_TEST

/* What an outbox logged, one message per line, for the spool tests. */
static char spool_log[4096]; /* guarded by spool_log_lock: the outbox's thread logs too */
static pthread_mutex_t spool_log_lock = PTHREAD_MUTEX_INITIALIZER;

static void keep_log(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)level;
    (void)module;
    (void)user;
    pthread_mutex_lock(&spool_log_lock);
    size_t n = strlen(spool_log);
    snprintf(spool_log + n, sizeof(spool_log) - n, "%s\n", message);
    pthread_mutex_unlock(&spool_log_lock);
}

/* A copy of what the outbox logged so far, into out[0..size). */
static void spool_log_copy(char *out, size_t size)
{
    pthread_mutex_lock(&spool_log_lock);
    snprintf(out, size, "%s", spool_log);
    pthread_mutex_unlock(&spool_log_lock);
}

static void spool_log_clear(void)
{
    pthread_mutex_lock(&spool_log_lock);
    spool_log[0] = '\0';
    pthread_mutex_unlock(&spool_log_lock);
}

static off_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

static void append_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* A spool left by an earlier run is recorded first, once per key, with the
 * times the actions were made; what is not an action, and a last line a
 * crash cut short, are skipped and told. One outbox at a time uses it. */
START_TEST(inventory_outbox_spool_is_recorded_once_on_the_next_start)
{
    char url[512], spool[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    snprintf(spool, sizeof(spool), "%s/spool-%d-%d", tmpdir, (int)getpid(), ++db_counter);
    kr_error_t err = {0};
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "default",
                             .name = "r",
                             .event = "SUBMITTED",
                             .actor = "alice"};
    ck_assert_int_eq(kr_inventory_record_once(inv, &a, "k1", NULL, &err), 0);
    append_text(spool,
                /* recorded before the crash: a no-op */
                "{\"key\":\"k1\",\"madeMs\":1700000000000,\"cluster\":\"hub\","
                "\"kind\":\"Runnable\",\"namespace\":\"default\",\"name\":\"r\","
                "\"event\":\"SUBMITTED\",\"actor\":\"alice\"}\n"
                "{\"key\":\"k2\",\"madeMs\":1700000000000,\"cluster\":\"dc1\","
                "\"apiVersion\":\"kreconcile.io/v1alpha1\",\"kind\":\"Runnable\","
                "\"namespace\":\"default\",\"name\":\"r\",\"uid\":\"u-1\","
                "\"resourceVersion\":\"42\",\"event\":\"DISPATCHED\","
                "\"actor\":\"kr-submitter\",\"detail\":{\"outcome\":\"from the spool\"}}\n"
                "not an action\n"
                "{\"key\":\"k3\",\"madeMs\":1700000000001,\"cluster\":\"dc1\","
                "\"kind\":\"Runnable\",\"name\":\"r\",\"event\":\"lower\",\"actor\":\"x\"}\n"
                "{\"key\":\"k4\",\"madeMs\":1700000000002,\"cluster\":\"dc1\","
                "\"kind\":\"Runnable\",\"namespace\":\"default\",\"name\":\"r\","
                "\"event\":\"VERIFIED\",\"actor\":\"kr-submitter\"}\n"
                "{\"key\":\"k5\",\"madeMs\":1700000000003,\"cluster\":\"dc1\",\"kin");
    spool_log_clear();
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .spool_path = spool,
                                   .logger = {.cb = keep_log, .max_level = KR_LOG_DEBUG}};
    kr_inventory_outbox_t *ob = NULL, *other = NULL;
    ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &ob, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &oo, &other, &err), KR_ESTATE);
    ck_assert_ptr_null(other);
    ck_assert_ptr_nonnull(strstr(err.message, "another outbox uses it"));
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 60000), 0);
    ck_assert_int_eq(file_size(spool), 0); /* emptied once nothing waits */
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "default", "r", 0, 0, &h, &err), 0);
    char events[256];
    history_events(h, events, sizeof(events));
    ck_assert_str_eq(events, "SUBMITTED DISPATCHED VERIFIED");
    const json_t *dispatched = json_array_get(h, 1);
    ck_assert_str_eq(row_str(json_object_get(dispatched, "patch"), "outcome"), "from the spool");
    ck_assert_str_eq(row_str(dispatched, "resourceVersion"), "42");
    ck_assert_str_eq(row_str(dispatched, "time"), "2023-11-14T22:13:20.000Z");
    json_decref(h);
    char logged[sizeof(spool_log)];
    spool_log_copy(logged, sizeof(logged));
    ck_assert_msg(strstr(logged, "line 3 skipped: not a JSON object") &&
                      strstr(logged, "line 4 skipped: not an action the inventory takes") &&
                      strstr(logged, "line 6 skipped: cut short by a crash") &&
                      strstr(logged, "3 action(s) from"),
                  "%s", logged);
    /* while the inventory answers, nothing goes through the file */
    a.event = "SUCCEEDED";
    bool queued = true;
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), 0);
    ck_assert(!queued);
    ck_assert_int_eq(file_size(spool), 0);
    kr_inventory_outbox_free(ob);
    /* the lock went with it; version 1 options, without a spool, still work */
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &oo, &ob, &err), 0);
    kr_inventory_outbox_free(ob);
    kr_inventory_outbox_opts v1 = {.version = 1, .spool_path = "/nonexistent/dir/spool"};
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &v1, &ob, &err), 0);
    kr_inventory_outbox_free(ob);
    oo.spool_path = "/nonexistent/dir/spool";
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &oo, &ob, &err), KR_EIO);
    ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/dir/spool"));
    oo.spool_path = "";
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &oo, &ob, &err), KR_EINVAL);
    kr_inventory_free(inv);
    unlink(spool);
}
END_TEST

/* A program stopped during a database outage (freed here: its memory is
 * gone as a kill's would be) leaves its waiting actions in the spool; the
 * next start records them, in order, once; and a spool that still holds
 * what was recorded (a kill between the record and the emptying) doubles
 * nothing. */
START_TEST(inventory_outbox_spool_keeps_actions_across_a_stop_in_an_outage)
{
    char url[512], spool[512];
    kr_pgserver *own = own_server(url, sizeof(url));
    snprintf(spool, sizeof(spool), "%s/spool-%d-%d", tmpdir, (int)getpid(), ++db_counter);
    kr_inventory_t *inv = open_url(url);
    spool_log_clear();
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .retry_max_ms = 200,
                                   .spool_path = spool,
                                   .logger = {.cb = keep_log, .max_level = KR_LOG_DEBUG}};
    kr_inventory_outbox_t *ob = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &ob, &err) == 0, "%s", err.message);
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "default",
                             .name = "r",
                             .event = "SUBMITTED",
                             .actor = "kr-submitter"};
    bool queued = true;
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), 0);
    ck_assert(!queued);
    ck_assert_int_eq(file_size(spool), 0);
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    const char *during[] = {"DISPATCHED", "VERIFIED", "SUCCEEDED"};
    for (size_t i = 0; i < 3; i++) {
        a.event = during[i];
        ck_assert_msg(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err) == 0, "%s",
                      err.message);
        ck_assert(queued);
    }
    /* on disk before each record returned */
    char *saved = kr_test_read_file(tmpdir, strrchr(spool, '/') + 1);
    ck_assert_ptr_nonnull(saved);
    size_t len = strlen(saved);
    ck_assert_int_eq((off_t)len, file_size(spool));
    ck_assert_ptr_nonnull(strstr(saved, "\"event\":\"SUCCEEDED\""));
    kr_inventory_outbox_free(ob);
    char logged[sizeof(spool_log)];
    spool_log_copy(logged, sizeof(logged));
    ck_assert_ptr_nonnull(strstr(logged, "3 action(s) not yet recorded stay in"));
    kr_inventory_free(inv);
    ck_assert_int_eq(kr_pgserver_restart(own), 0);
    for (int round = 0; round < 2; round++) {
        inv = open_url(url);
        ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &ob, &err) == 0, "%s", err.message);
        ck_assert_int_eq(kr_inventory_outbox_flush(ob, 60000), 0);
        ck_assert_int_eq(file_size(spool), 0);
        json_t *h = NULL;
        ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "default", "r", 0, 0, &h, &err), 0);
        char events[256];
        history_events(h, events, sizeof(events));
        ck_assert_str_eq(events, "SUBMITTED DISPATCHED VERIFIED SUCCEEDED");
        json_decref(h);
        kr_inventory_outbox_free(ob);
        kr_inventory_free(inv);
        append_text(spool, saved); /* as if the kill came before the emptying */
    }
    free(saved);
    /* a spool whose last line a kill cut short, opened while the database
     * is still away: the torn end is cut off, so the next action's line
     * stands alone and is there at the start after */
    ck_assert_int_eq(truncate(spool, 0), 0);
    append_text(spool, "{\"key\":\"kA\",\"madeMs\":1700000000000,\"cluster\":\"hub\","
                       "\"kind\":\"Runnable\",\"namespace\":\"default\",\"name\":\"t\","
                       "\"event\":\"DISPATCHED\",\"actor\":\"kr-submitter\"}\n"
                       "{\"key\":\"kB\",\"ma");
    inv = open_url(url);
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &ob, &err) == 0, "%s", err.message);
    a.name = "t";
    a.event = "VERIFIED";
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err), 0);
    ck_assert(queued);
    kr_inventory_outbox_free(ob);
    kr_inventory_free(inv);
    ck_assert_int_eq(kr_pgserver_restart(own), 0);
    inv = open_url(url);
    ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &ob, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 60000), 0);
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "default", "t", 0, 0, &h, &err), 0);
    char events[256];
    history_events(h, events, sizeof(events));
    ck_assert_str_eq(events, "DISPATCHED VERIFIED");
    json_decref(h);
    kr_inventory_outbox_free(ob);
    kr_inventory_free(inv);
    unlink(spool);
    kr_pgserver_free(own);
}
END_TEST

/* A caller that gives up waiting on a stalled database (another writer
 * holds the file: each statement waits out the busy timeout) returns at
 * once, its action waiting, spooled; an action recorded after it waits
 * behind it; the outbox records both, in order, once the database
 * answers. While the database answers, the caller's try is recorded. */
static atomic_int give_up_asked;

static bool give_up_soon(void *user)
{
    (void)user;
    return atomic_fetch_add(&give_up_asked, 1) >= 2;
}

START_TEST(inventory_outbox_record_unless_gives_up_on_a_stalled_database)
{
    char url[512], spool[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    snprintf(spool, sizeof(spool), "%s/spool-%d-%d", tmpdir, (int)getpid(), ++db_counter);
    kr_inventory_outbox_opts oo = {
        .version = KR_INVENTORY_OUTBOX_OPTS_VERSION, .retry_max_ms = 200, .spool_path = spool};
    kr_inventory_outbox_t *ob = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &ob, &err) == 0, "%s", err.message);
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "default",
                             .name = "r",
                             .event = "SUBMITTED",
                             .actor = "kr-submitter"};
    bool queued = true;
    ck_assert_int_eq(
        kr_inventory_outbox_record_unless(ob, &a, NULL, give_up_soon, NULL, &queued, &err), 0);
    ck_assert(!queued);
    ck_assert_uint_eq(kr_inventory_outbox_pending(ob), 0);
    sqlite3 *holder = NULL;
    ck_assert_int_eq(sqlite3_open(url + strlen("sqlite://"), &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    atomic_store(&give_up_asked, 0);
    a.event = "DISPATCHED";
    ck_assert_int_eq(
        kr_inventory_outbox_record_unless(ob, &a, NULL, give_up_soon, NULL, &queued, &err), 0);
    ck_assert(queued);
    /* given up, not failed: the try has not timed out, the action waits */
    ck_assert_uint_eq(kr_inventory_outbox_pending(ob), 1);
    ck_assert_int_gt(file_size(spool), 0);
    a.event = "VERIFIED";
    ck_assert_int_eq(kr_inventory_outbox_record_unless(ob, &a, NULL, NULL, NULL, &queued, &err), 0);
    ck_assert(queued);
    ck_assert_uint_eq(kr_inventory_outbox_pending(ob), 2);
    ck_assert_int_eq(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(holder);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 60000), 0);
    ck_assert_int_eq(file_size(spool), 0);
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "default", "r", 0, 0, &h, &err), 0);
    char events[256];
    history_events(h, events, sizeof(events));
    ck_assert_str_eq(events, "SUBMITTED DISPATCHED VERIFIED");
    json_decref(h);
    kr_inventory_outbox_free(ob);
    kr_inventory_free(inv);
    unlink(spool);
}
END_TEST

/* The first ask comes a poll (20 ms) after the call, never before: a
 * caller that is stopping (it gives up whenever asked) still has its
 * record made by a database that answers at once, rather than queued
 * and warned about. The bound is the code's own (a lower bound on the
 * monotonic clock), whatever the machine's speed. */
static uint64_t first_ask_after_ms;

static bool give_up_at_once(void *user)
{
    uint64_t *start = user;
    if (!first_ask_after_ms)
        first_ask_after_ms = kr_clock_monotonic_ms() - *start;
    return true;
}

START_TEST(outbox_record_unless_asks_a_poll_after_the_call)
{
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .retry_max_ms = 200};
    kr_inventory_outbox_t *ob = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &ob, &err) == 0, "%s", err.message);
    /* the database held: the try is under way when the caller is asked */
    sqlite3 *holder = NULL;
    ck_assert_int_eq(sqlite3_open(url + strlen("sqlite://"), &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "default",
                             .name = "r",
                             .event = "SUBMITTED",
                             .actor = "t"};
    bool queued = false;
    first_ask_after_ms = 0;
    uint64_t start = kr_clock_monotonic_ms();
    ck_assert_int_eq(
        kr_inventory_outbox_record_unless(ob, &a, NULL, give_up_at_once, &start, &queued, &err), 0);
    ck_assert(queued);
    ck_assert_msg(first_ask_after_ms >= 20, "asked %llu ms after the call",
                  (unsigned long long)first_ask_after_ms);
    ck_assert_int_eq(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(holder);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 60000), 0);
    kr_inventory_outbox_free(ob);
    kr_inventory_free(inv);
}
END_TEST

/* A record_unless caller whose try another path turns into a waiting
 * action (another caller's give-up, a plain record's failed try, or the
 * thread's own retry) still reads its pending after its give_up callback
 * or its wait: the thread freed it once recorded (found by a reread).
 * Freed blocks are poisoned (0xA5) and kept until the test ends, so such a
 * read is seen: the caller took the poisoned p->finished for true,
 * returned p->rc (garbage) and freed p's poisoned string pointers. */
#define UAF_MAGIC 0x5eedf00dULL
#define UAF_FREED 0xdeadbeefULL
typedef struct {
    unsigned long long magic;
    size_t size;
} uaf_hdr;
static uaf_hdr *uaf_kept[1 << 16]; /* the freed blocks, quarantined */
static size_t uaf_n;
static pthread_mutex_t uaf_mu = PTHREAD_MUTEX_INITIALIZER; /* the outbox's thread frees too */

static void *uaf_malloc(size_t size)
{
    uaf_hdr *h = malloc(sizeof(uaf_hdr) + 16 + size);
    if (!h)
        return NULL;
    h->magic = UAF_MAGIC;
    h->size = size;
    return (char *)h + 32;
}

static void uaf_free(void *ptr)
{
    if (!ptr)
        return;
    if ((uintptr_t)ptr == (uintptr_t)0xa5a5a5a5a5a5a5a5ULL) {
        fprintf(stderr, "kr_free of a pointer read from freed (poisoned) memory\n");
        abort();
    }
    uaf_hdr *h = (uaf_hdr *)((char *)ptr - 32);
    if (h->magic == UAF_FREED) {
        fprintf(stderr, "double free of %p\n", ptr);
        abort();
    }
    if (h->magic != UAF_MAGIC) { /* not ours */
        free(ptr);
        return;
    }
    memset(ptr, 0xa5, h->size);
    h->magic = UAF_FREED; /* quarantined: given back when the test ends */
    pthread_mutex_lock(&uaf_mu);
    if (uaf_n < sizeof(uaf_kept) / sizeof(uaf_kept[0]))
        uaf_kept[uaf_n++] = h;
    pthread_mutex_unlock(&uaf_mu);
}

/* Give the quarantined blocks back. */
static void uaf_release(void)
{
    pthread_mutex_lock(&uaf_mu);
    for (size_t i = 0; i < uaf_n; i++)
        free(uaf_kept[i]);
    uaf_n = 0;
    pthread_mutex_unlock(&uaf_mu);
}

static void *uaf_realloc(void *ptr, size_t size)
{
    void *n = uaf_malloc(size);
    if (!n || !ptr)
        return n;
    uaf_hdr *h = (uaf_hdr *)((char *)ptr - 32);
    memcpy(n, ptr, h->size < size ? h->size : size);
    uaf_free(ptr);
    return n;
}

static bool uaf_always(void *user)
{
    (void)user;
    return true;
}

typedef struct {
    kr_inventory_outbox_t *ob;
    sqlite3 *holder;
    int calls;
} uaf_ctx;

/* The first ask: a second caller gives up (both tries wait now), the
 * database answers, the outbox records both and frees them; then "no". */
static bool uaf_give_up(void *user)
{
    uaf_ctx *c = user;
    if (c->calls++ > 0)
        return true;
    kr_inventory_action b = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "default",
                             .name = "b",
                             .event = "SUBMITTED",
                             .actor = "t"};
    bool queued = false;
    kr_error_t err = {0};
    ck_assert_int_eq(
        kr_inventory_outbox_record_unless(c->ob, &b, NULL, uaf_always, NULL, &queued, &err), 0);
    ck_assert(queued);
    ck_assert_int_eq(sqlite3_exec(c->holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(kr_inventory_outbox_flush(c->ob, 60000), 0);
    return false;
}

START_TEST(outbox_record_unless_never_reads_its_pending_after_the_thread_is_done)
{
    kr_set_allocator(uaf_malloc, uaf_realloc, uaf_free);
    char url[512];
    kr_inventory_t *inv = fresh(url, sizeof(url));
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .retry_max_ms = 200};
    uaf_ctx c = {0};
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &c.ob, &err) == 0, "%s", err.message);
    ck_assert_int_eq(sqlite3_open(url + strlen("sqlite://"), &c.holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c.holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "default",
                             .name = "a",
                             .event = "SUBMITTED",
                             .actor = "t"};
    bool queued = false;
    int rc = kr_inventory_outbox_record_unless(c.ob, &a, NULL, uaf_give_up, &c, &queued, &err);
    /* recorded (queued false) or said to wait (true): either is right;
     * what is wrong is reading p once the thread may have freed it */
    ck_assert_msg(rc == 0, "record_unless returned %d (read from its freed pending)", rc);
    sqlite3_close(c.holder);
    kr_inventory_outbox_free(c.ob);
    kr_inventory_free(inv);
    kr_set_allocator(NULL, NULL, NULL);
    uaf_release();
}
END_TEST

/* ---- the suite ------------------------------------------------------------ */

/* A queue that stays busy would grow its spool without end: once the file
 * is large and mostly recorded, it is rewritten with what still waits, in
 * order, and the new file stays locked against a second outbox. */
START_TEST(inventory_outbox_spool_is_rewritten_while_actions_wait)
{
    enum { N = 600 };
    char url[512], spool[512], leftover[600];
    kr_pgserver *own = own_server(url, sizeof(url));
    snprintf(spool, sizeof(spool), "%s/spool-%d-%d", tmpdir, (int)getpid(), ++db_counter);
    snprintf(leftover, sizeof(leftover), "%s.compact", spool);
    kr_inventory_t *inv = open_url(url);
    spool_log_clear();
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .retry_max_ms = 200,
                                   .spool_path = spool,
                                   .logger = {.cb = keep_log, .max_level = KR_LOG_INFO}};
    kr_inventory_outbox_t *ob = NULL, *other = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &ob, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_pgserver_stop(own), 0);
    char pad[2001];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    json_t *detail = json_pack("{s:s}", "pad", pad);
    kr_inventory_action a = {.cluster = "hub",
                             .kind = "Runnable",
                             .namespace_ = "default",
                             .name = "busy",
                             .event = "DISPATCHED",
                             .actor = "kr-submitter",
                             .detail = detail};
    for (int i = 0; i < N; i++) {
        char rv[16];
        snprintf(rv, sizeof(rv), "%d", i);
        a.resource_version = rv;
        bool queued = false;
        ck_assert_msg(kr_inventory_outbox_record(ob, &a, NULL, &queued, &err) == 0, "%s",
                      err.message);
        ck_assert(queued);
    }
    json_decref(detail);
    off_t full = file_size(spool);
    ck_assert_int_gt(full, (off_t)N * 2000);
    ck_assert_int_eq(kr_pgserver_restart(own), 0);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 120000), 0);
    ck_assert_int_eq(file_size(spool), 0);
    char logged[sizeof(spool_log)];
    spool_log_copy(logged, sizeof(logged));
    /* rewritten once more than half was recorded, with the rest kept */
    const char *told = strstr(logged, "rewritten with the ");
    ck_assert_msg(told, "%s", logged);
    unsigned long kept = 0, bytes = 0;
    long long was = 0;
    ck_assert_int_eq(
        sscanf(told, "rewritten with the %lu action(s) still waiting: %lu of %lld bytes kept",
               &kept, &bytes, &was),
        3);
    ck_assert_msg(kept > 0 && kept < N / 2 + 2, "%lu kept", kept);
    ck_assert_int_lt(bytes * 2, (unsigned long)was);
    ck_assert_int_le(was, full);
    ck_assert_int_ne(access(leftover, F_OK), 0);
    /* the new file holds the lock: a second outbox is still refused */
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &oo, &other, &err), KR_ESTATE);
    json_t *h = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Runnable", "default", "busy", 0, 0, &h, &err), 0);
    ck_assert_uint_eq(json_array_size(h), N);
    for (size_t i = 0; i < N; i++) {
        char rv[16];
        snprintf(rv, sizeof(rv), "%zu", i);
        ck_assert_str_eq(
            json_string_value(json_object_get(json_array_get(h, i), "resourceVersion")), rv);
    }
    json_decref(h);
    kr_inventory_outbox_free(ob);
    /* a rewrite that a crash cut short is removed by the next start */
    append_text(leftover, "{\"key\":\"half\n");
    ck_assert_msg(kr_inventory_outbox_new(inv, &oo, &ob, &err) == 0, "%s", err.message);
    ck_assert_int_ne(access(leftover, F_OK), 0);
    kr_inventory_outbox_free(ob);
    kr_inventory_free(inv);
    unlink(spool);
    kr_pgserver_free(own);
}
END_TEST

static void add_common(TCase *tc)
{
    tcase_add_test(tc, inventory_stores_objects_without_managed_fields_and_with_phase);
    tcase_add_test(tc, inventory_reapplying_held_events_is_a_noop);
    tcase_add_test(tc, inventory_a_late_older_state_does_not_replace_a_newer_one);
    tcase_add_test(tc, inventory_a_rebuilt_cluster_replaces_the_objects_it_recreated);
    tcase_add_test(tc, inventory_a_batch_of_objects_made_again_records_every_end);
    tcase_add_test(tc, inventory_a_stale_event_in_the_same_batch_is_history_only);
    tcase_add_test(tc, inventory_checkpoint_commits_with_its_events_or_not_at_all);
    tcase_add_test(tc, inventory_history_follows_a_resource_across_clusters_in_order);
    tcase_add_test(tc, inventory_long_batches_chain_states_across_chunks);
    tcase_add_test(tc, inventory_record_rejects_bad_actions);
    tcase_add_test(tc, inventory_outbox_records_at_once_and_refuses_bad_actions);
    tcase_add_test(tc, sqlite_failures_of_the_disk_are_waited_out);
    tcase_add_test(tc, inventory_outbox_spool_is_recorded_once_on_the_next_start);
    tcase_add_test(tc, inventory_query_pages_with_continue_tokens);
    tcase_add_test(tc, inventory_query_filters);
    tcase_add_test(tc, inventory_query_pages_a_filtered_list_completely_under_inserts);
    tcase_add_test(tc, inventory_objects_page_of_large_objects_is_bounded);
    tcase_add_test(tc, inventory_objects_page_after_small_rows_is_bounded);
    tcase_add_test(tc, inventory_query_cluster_scoped_objects);
    tcase_add_test(tc, inventory_schema_v1_database_is_migrated);
    tcase_add_test(tc, inventory_secret_values_are_not_stored);
    tcase_add_test(tc, inventory_consumer_changes_diff_against_the_stored_state);
    tcase_add_test(tc, inventory_consumer_full_buffer_refuses_then_drains_everything);
    tcase_add_test(tc, inventory_consumer_refuses_invalid_events_up_front);
    tcase_add_test(tc, inventory_consumer_drops_an_event_apply_refuses);
    tcase_add_test(tc, inventory_consumer_writer_thread_group_commits);
}

START_TEST(inventory_postgresql_server_must_start_in_ci)
{
    ck_abort_msg("PostgreSQL cannot start and CI=true: the postgresql case cannot run");
}
END_TEST

static Suite *inventory_suite(void)
{
    Suite *s = suite_create("inventory");
    TCase *lite = tcase_create("sqlite");
    tcase_set_timeout(lite, 120);
    tcase_add_unchecked_fixture(lite, sqlite_case_setup, NULL);
    add_common(lite);
    tcase_add_test(lite, inventory_phase_summary);
    tcase_add_test(lite, inventory_bad_urls_are_refused_clearly);
    tcase_add_test(lite, inventory_corrupted_sqlite_file_is_refused_and_left_untouched);
    tcase_add_test(lite, inventory_sqlite_open_waits_for_another_writer_of_a_new_file);
    tcase_add_test(lite, inventory_sqlite_file_deleted_under_it_refuses_writes);
    tcase_add_test(lite, inventory_outbox_record_unless_gives_up_on_a_stalled_database);
    tcase_add_test(lite, outbox_record_unless_asks_a_poll_after_the_call);
    tcase_add_test(lite, outbox_record_unless_never_reads_its_pending_after_the_thread_is_done);
    suite_add_tcase(s, lite);

    char why[512];
    TCase *pgc = tcase_create("postgresql");
    tcase_set_timeout(pgc, 300);
    if (kr_pgserver_start(&pg, why, sizeof(why)) == 0) {
        tcase_add_unchecked_fixture(pgc, pg_case_setup, NULL);
        add_common(pgc);
        tcase_add_test(pgc, inventory_database_restart_loses_nothing);
        tcase_add_test(pgc, inventory_outbox_keeps_actions_in_order_across_a_restart);
        tcase_add_test(pgc, inventory_outbox_spool_keeps_actions_across_a_stop_in_an_outage);
        tcase_add_test(pgc, inventory_outbox_spool_is_rewritten_while_actions_wait);
        tcase_add_test(pgc, inventory_open_waits_for_a_restarting_database);
        tcase_add_test(pgc, inventory_postgresql_writers_take_turns);
        tcase_add_test(pgc, inventory_postgresql_connections_keep_alive);
    } else if (kr_pgserver_required()) {
        fprintf(stderr, "test_inventory: PostgreSQL cannot start (%s); CI=true: failing\n", why);
        tcase_add_test(pgc, inventory_postgresql_server_must_start_in_ci);
    } else {
        /* One skip per check of the postgresql case (33). */
        for (int i = 0; i < 33; i++)
            kr_test_skip("test_inventory postgresql case",
                         "PostgreSQL cannot start (%s); install Debian's postgresql "
                         "(scripts/install-deps.sh)",
                         why);
    }
    suite_add_tcase(s, pgc);
    return s;
}

int main(void)
{
    if (!kr_test_tmpdir_make(tmpdir, sizeof(tmpdir), "kr-inv"))
        return EXIT_FAILURE;
    int rc = kr_test_run_suite(inventory_suite());
    kr_pgserver_free(pg);
    kr_test_tmpdir_remove(tmpdir);
    return rc;
}
