/* Benchmark of the inventory on SQLite and on PostgreSQL (a private server,
 * started here as the tests start theirs): events applied per second
 * through the consumer's group commit, beside bare loops of prepared
 * INSERTs of the same rows in transactions of the same size, in the same
 * run, three rounds interleaved and their medians compared (the ratio is
 * the figure; target >= 0.5), for new objects (ADDED) and for changes of
 * the same objects (MODIFIED: a merge patch in the transaction row, the
 * whole object in the upsert that replaces the current row); then the
 * objects page (100 rows, filtered by cluster and phase) at 100,000
 * objects, p50/p99, the first page and a deep one (page 50, reached
 * through continue tokens, with and without the cluster filter); and the
 * resident memory the process grew by while loading them.
 * BENCH_INVENTORY_EVENTS (default 10000) and BENCH_INVENTORY_OBJECTS
 * (default 100000) override the sizes. Wall-clock times: the database
 * does its work outside this thread. */
#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "kreconcile.h"
/* The tests' private PostgreSQL server (and its temporary directories),
 * compiled in here: the benchmarks link bench/support only. */
#include "kr_test_fork.c"
#include "kr_test_tmpdir.c"
#include "pgserver.c"

#define BATCH 500

static const char *const clusters[] = {"east", "west", "north", "south"};
static const char *const phases[] = {"pending", "running", "done", "failed"};

/* A Job of about 1 KiB as an informer delivers it. */
static json_t *job(size_t i, int rv, const char *state)
{
    char name[32], uid[64], rvs[16];
    snprintf(name, sizeof(name), "job-%zu", i);
    snprintf(uid, sizeof(uid), "0f2d6c1e-%08zx-4a7b-9c3d-5e6f7a8b9c0d", i);
    snprintf(rvs, sizeof(rvs), "%d", rv);
    json_t *o = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s}},"
        " s:{s:i, s:i, s:{s:{s:{s:s}}, s:{s:[{s:s, s:s, s:[s,s,s], s:{s:{s:s, s:s}}}], s:s}}},"
        " s:{s:s, s:i}}",
        "apiVersion", "batch/v1", "kind", "Job", "metadata", "namespace",
        i % 3 ? "team-a" : "team-b", "name", name, "uid", uid, "resourceVersion", rvs,
        "creationTimestamp", "2026-12-01T10:00:00Z", "labels", "app", "trainer",
        "kreconcile.io/managed-by", "kr-submitter", "kreconcile.io/source-uid", uid, "annotations",
        "kreconcile.io/last-applied", "{\"spec\":{\"parallelism\":1}}", "spec", "parallelism", 1,
        "backoffLimit", 3, "template", "metadata", "labels", "app", "trainer", "spec", "containers",
        "name", "main", "image", "registry.example/ml/trainer:1.42.7", "args", "--epochs=10",
        "--batch=256", "--data=/mnt/datasets/imagenet", "resources", "limits", "cpu", "4", "memory",
        "16Gi", "restartPolicy", "Never", "status", "startTime", "2026-12-01T10:00:05Z",
        "succeeded", 0);
    if (strcmp(state, "running") == 0)
        json_object_set_new(json_object_get(o, "status"), "active", json_integer(1));
    else if (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0)
        json_object_set_new(json_object_get(o, "status"), "conditions",
                            json_pack("[{s:s, s:s}]", "type",
                                      state[0] == 'd' ? "Complete" : "Failed", "status", "True"));
    return o;
}

typedef struct bare_row {
    char *cluster, *ns, *name, *uid, *rv, *object, *dedup, *phase, *labels, *created;
    char *patch; /* the transaction's patch: the object (ADDED) or a merge patch */
    const char *event; /* "ADDED" or "MODIFIED" */
} bare_row;

/* The two baselines, as prepared statements of the same events, BATCH per
 * transaction (as the consumer commits them): "one row" writes each event
 * as one row of a table keyed like the objects table; "schema rows" writes
 * exactly what the inventory writes for a new object (its transaction row,
 * then the upsert of its current-state row carrying that transaction's
 * seq, both with the inventory's conflict clauses, and each transaction's
 * checkpoints), into the inventory's own tables and indexes, with none of
 * its logic: no lookups, no JSON (the texts are made before the clock
 * starts). For a change of an existing object the same two statements
 * write a MODIFIED transaction carrying the merge patch and take the
 * upsert's DO UPDATE path, as the inventory does. */
#define ONE_ROW_DDL                                                                                \
    "CREATE TABLE bare (cluster TEXT, kind TEXT, namespace TEXT, name TEXT, uid TEXT,"             \
    " resource_version TEXT, object TEXT, PRIMARY KEY (cluster, kind, namespace, name))"
#define ONE_ROW_SQL "INSERT INTO bare VALUES (?, 'Job', ?, ?, ?, ?, ?)"
#define TXN_ROW_SQL                                                                                \
    "INSERT INTO kr_transactions (time_ms, cluster, api_version, kind, namespace, name, uid,"      \
    " resource_version, event, actor, patch, dedup_key) VALUES"                                    \
    " (1, ?, 'batch/v1', 'Job', ?, ?, ?, ?, ?, 'informer', ?, ?)"                                  \
    " ON CONFLICT (dedup_key) DO NOTHING RETURNING seq"
/* The inventory's upsert (lib/inventory.c), its never-back-in-time guard
 * included. */
#define OBJ_ROW_SQL                                                                                \
    "INSERT INTO kr_objects (cluster, kind, namespace, name, api_version, uid, resource_version,"  \
    " phase, labels, created, deleted_ms, seq, object) VALUES"                                     \
    " (?, 'Job', ?, ?, 'batch/v1', ?, ?, ?, ?, ?, NULL, ?, ?)"                                     \
    " ON CONFLICT (cluster, kind, namespace, name) DO UPDATE SET api_version ="                    \
    " excluded.api_version, uid = excluded.uid, resource_version = excluded.resource_version,"     \
    " phase = excluded.phase, labels = excluded.labels, created = excluded.created, deleted_ms ="  \
    " excluded.deleted_ms, seq = excluded.seq, object = excluded.object WHERE"                     \
    " excluded.resource_version = '' OR length(excluded.resource_version) >"                       \
    " length(kr_objects.resource_version) OR (length(excluded.resource_version) ="                 \
    " length(kr_objects.resource_version) AND excluded.resource_version >="                        \
    " kr_objects.resource_version)"
#define CHECKPOINT_SQL                                                                             \
    "INSERT INTO kr_checkpoints (cluster, resource, resource_version, updated_ms) VALUES"          \
    " (?, 'batch/v1/jobs', ?, 1) ON CONFLICT (cluster, resource) DO UPDATE SET resource_version =" \
    " excluded.resource_version, updated_ms = excluded.updated_ms"

enum { ST_ONE, ST_TXN, ST_OBJ, ST_CHECKPOINT, N_ST };

/* The parameters of statement `which` for row r (seq: the transaction's,
 * as text, for the objects row). */
static int row_params(const bare_row *r, int which, const char *seq, const char **v)
{
    if (which == ST_TXN) {
        const char *t[] = {r->cluster, r->ns, r->name, r->uid, r->rv, r->event, r->patch, r->dedup};
        memcpy(v, t, sizeof(t));
        return 8;
    }
    if (which == ST_OBJ) {
        const char *o[] = {r->cluster, r->ns,     r->name,    r->uid, r->rv,
                           r->phase,   r->labels, r->created, seq,    r->object};
        memcpy(v, o, sizeof(o));
        return 10;
    }
    const char *o[] = {r->cluster, r->ns, r->name, r->uid, r->rv, r->object};
    memcpy(v, o, sizeof(o));
    return 6;
}

/* The last row of each cluster in rows[first..end): its checkpoint. */
static const bare_row *last_of_cluster(const bare_row *rows, size_t first, size_t end,
                                       const char *cluster)
{
    for (size_t i = end; i > first; i--)
        if (strcmp(rows[i - 1].cluster, cluster) == 0)
            return &rows[i - 1];
    return NULL;
}

static void create_schema(const char *url)
{
    kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
    o.url = url;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    if (kr_inventory_new(&o, &inv, &err) != 0)
        fprintf(stderr, "bench_inventory: %s\n", err.message);
    kr_inventory_free(inv);
}

/* One bare database: `run` steps statement `which` with v[0..nv) (seq,
 * if not NULL, receives its RETURNING value), `exec` runs plain SQL. */
typedef struct bare_db {
    void (*run)(void *db, int which, const char **v, int nv, char *seq, size_t seq_size);
    void (*exec)(void *db, const char *sql);
    void *db;
    const char *begin;
} bare_db;

/* The timed loop of either baseline, BATCH rows per transaction. */
static double bare_loop(const bare_db *b, const bare_row *rows, size_t n, bool schema_rows)
{
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i++) {
        if (i % BATCH == 0)
            b->exec(b->db, b->begin);
        const char *v[10];
        char seq[24] = "0";
        if (!schema_rows) {
            b->run(b->db, ST_ONE, v, row_params(&rows[i], ST_ONE, NULL, v), NULL, 0);
        } else {
            b->run(b->db, ST_TXN, v, row_params(&rows[i], ST_TXN, NULL, v), seq, sizeof(seq));
            b->run(b->db, ST_OBJ, v, row_params(&rows[i], ST_OBJ, seq, v), NULL, 0);
        }
        if (i % BATCH != BATCH - 1 && i != n - 1)
            continue;
        for (size_t c = 0; schema_rows && c < 4; c++) {
            const bare_row *last = last_of_cluster(rows, i - i % BATCH, i + 1, clusters[c]);
            const char *cv[] = {clusters[c], last ? last->rv : NULL};
            if (last)
                b->run(b->db, ST_CHECKPOINT, cv, 2, NULL, 0);
        }
        b->exec(b->db, "COMMIT");
    }
    return (double)n / (bench_now_s() - t0);
}

static const char *const bare_sql[N_ST] = {ONE_ROW_SQL, TXN_ROW_SQL, OBJ_ROW_SQL, CHECKPOINT_SQL};

typedef struct sqlite_bare {
    sqlite3 *db;
    sqlite3_stmt *st[N_ST];
} sqlite_bare;

static void sqlite_run(void *self, int which, const char **v, int nv, char *seq, size_t seq_size)
{
    sqlite_bare *b = self;
    sqlite3_stmt *st = b->st[which];
    for (int k = 0; k < nv; k++)
        sqlite3_bind_text(st, k + 1, v[k], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && seq)
        snprintf(seq, seq_size, "%lld", (long long)sqlite3_column_int64(st, 0));
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        fprintf(stderr, "bare sqlite: %s\n", sqlite3_errmsg(b->db));
    sqlite3_reset(st);
}

static void sqlite_plain(void *self, const char *sql)
{
    sqlite_bare *b = self;
    sqlite3_exec(b->db, sql, NULL, NULL, NULL);
}

/* The bare loops on a fresh database: `rows` (new objects) into *added,
 * then with schema_rows `upd` (changes of the same objects) into *changed. */
static void bare_sqlite(const char *path, const bare_row *rows, const bare_row *upd, size_t n,
                        bool schema_rows, double *added, double *changed)
{
    sqlite_bare b = {0};
    if (schema_rows) {
        char url[600];
        snprintf(url, sizeof(url), "sqlite://%s", path);
        create_schema(url);
    }
    *added = *changed = -1;
    if (sqlite3_open(path, &b.db) != SQLITE_OK)
        return;
    /* The inventory's settings (lib/inventory_sqlite.c). */
    sqlite3_exec(b.db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768",
                 NULL, NULL, NULL);
    if (!schema_rows)
        sqlite3_exec(b.db, ONE_ROW_DDL, NULL, NULL, NULL);
    for (int s = schema_rows ? ST_TXN : ST_ONE; s < (schema_rows ? N_ST : ST_TXN); s++)
        sqlite3_prepare_v2(b.db, bare_sql[s], -1, &b.st[s], NULL);
    bare_db drv = {sqlite_run, sqlite_plain, &b, "BEGIN IMMEDIATE"};
    *added = bare_loop(&drv, rows, n, schema_rows);
    if (schema_rows)
        *changed = bare_loop(&drv, upd, n, schema_rows);
    for (int s = 0; s < N_ST; s++)
        sqlite3_finalize(b.st[s]);
    sqlite3_close(b.db);
}

static void pq_do(void *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "bare postgresql: %s", PQresultErrorMessage(r));
    PQclear(r);
}

/* "?" → "$n" for libpq. */
static void dollar(const char *sql, char *out, size_t size)
{
    size_t o = 0;
    int n = 0;
    for (const char *p = sql; *p && o + 4 < size; p++) {
        if (*p == '?')
            o += (size_t)snprintf(out + o, size - o, "$%d", ++n);
        else
            out[o++] = *p;
    }
    out[o] = '\0';
}

static void pq_run(void *conn, int which, const char **v, int nv, char *seq, size_t seq_size)
{
    char name[8];
    snprintf(name, sizeof(name), "s%d", which);
    PGresult *r = PQexecPrepared(conn, name, nv, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "bare postgresql: %s", PQresultErrorMessage(r));
    else if (seq && PQntuples(r) == 1)
        snprintf(seq, seq_size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static void bare_pg(const char *url, const bare_row *rows, const bare_row *upd, size_t n,
                    bool schema_rows, double *added, double *changed)
{
    *added = *changed = -1;
    if (schema_rows)
        create_schema(url);
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return;
    }
    if (!schema_rows)
        pq_do(c, ONE_ROW_DDL);
    for (int s = schema_rows ? ST_TXN : ST_ONE; s < (schema_rows ? N_ST : ST_TXN); s++) {
        char text[2048], name[8];
        dollar(bare_sql[s], text, sizeof(text));
        snprintf(name, sizeof(name), "s%d", s);
        PQclear(PQprepare(c, name, text, 0, NULL));
    }
    bare_db drv = {pq_run, pq_do, c, "BEGIN"};
    *added = bare_loop(&drv, rows, n, schema_rows);
    if (schema_rows)
        *changed = bare_loop(&drv, upd, n, schema_rows);
    PQfinish(c);
}

/* Events through the consumer (drained on this thread, BATCH per commit). */
static double consumer_rate(kr_inventory_t *inv, json_t **objs, size_t n, size_t first,
                            kr_inventory_event_type type)
{
    kr_inventory_consumer_opts co = KR_INVENTORY_CONSUMER_OPTS_INIT;
    co.capacity = 4 * BATCH;
    co.max_batch = BATCH;
    kr_inventory_consumer_t *c = NULL;
    kr_error_t err = {0};
    if (kr_inventory_consumer_new(inv, &co, &c, &err) != 0)
        return -1;
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i++) {
        const char *rv = json_string_value(
            json_object_get(json_object_get(objs[i], "metadata"), "resourceVersion"));
        kr_inventory_event e = {.cluster = clusters[(first + i) % 4],
                                .resource = "batch/v1/jobs",
                                .type = type,
                                .object = objs[i],
                                .checkpoint_rv = rv};
        while (kr_inventory_consumer_enqueue(c, &e, &err) == KR_ETOOLARGE)
            if (kr_inventory_consumer_drain(c, NULL, &err) != 0) {
                fprintf(stderr, "bench_inventory: %s\n", err.message);
                kr_inventory_consumer_free(c);
                return -1;
            }
    }
    if (kr_inventory_consumer_flush(c, 600000, &err) != 0)
        fprintf(stderr, "bench_inventory: %s\n", err.message);
    double t = bench_now_s() - t0;
    kr_inventory_consumer_free(c);
    return (double)n / t;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A fresh database for one measurement: a file in `dir` (its path, or
 * with `as_url` its sqlite:// URL), or a new PostgreSQL database. */
static int fresh_target(kr_pgserver *pg, const char *dir, const char *name, int rep, bool as_url,
                        char *out, size_t size)
{
    if (pg)
        return kr_pgserver_create_db(pg, out, size);
    snprintf(out, size, "%s%s/%s-%d.db", as_url ? "sqlite://" : "", dir, name, rep);
    return 0;
}

static double median3(const double *v)
{
    double a = v[0], b = v[1], c = v[2];
    return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

/* The bare row of `obj` (borrowed) as event `event` with `patch` (new,
 * taken). */
static void bare_row_of(bare_row *r, const char *cluster, const json_t *obj, const char *event,
                        char *patch)
{
    json_t *m = json_object_get(obj, "metadata");
    r->cluster = strdup(cluster);
    r->ns = strdup(json_string_value(json_object_get(m, "namespace")));
    r->name = strdup(json_string_value(json_object_get(m, "name")));
    r->uid = strdup(json_string_value(json_object_get(m, "uid")));
    r->rv = strdup(json_string_value(json_object_get(m, "resourceVersion")));
    r->object = json_dumps(obj, JSON_COMPACT);
    r->phase = strdup(kr_inventory_phase_of(obj));
    r->labels = json_dumps(json_object_get(m, "labels"), JSON_COMPACT);
    r->created = strdup(json_string_value(json_object_get(m, "creationTimestamp")));
    r->patch = patch ? patch : strdup(r->object);
    r->event = event;
    size_t len = strlen(r->cluster) + strlen(r->uid) + strlen(r->rv) + 16;
    r->dedup = malloc(len);
    snprintf(r->dedup, len, "%s/%s/%s/live", r->cluster, r->uid, r->rv);
}

static void bare_row_free(bare_row *r)
{
    free(r->cluster);
    free(r->ns);
    free(r->name);
    free(r->uid);
    free(r->rv);
    free(r->object);
    free(r->dedup);
    free(r->phase);
    free(r->labels);
    free(r->created);
    free(r->patch);
}

/* One query, its wall-clock time in ms; *rows its rows. */
static double timed_query(kr_inventory_t *inv, const kr_inventory_query_opts *qo, size_t *rows)
{
    json_t *items = NULL;
    char *next = NULL;
    kr_error_t err = {0};
    double t0 = bench_now_s();
    if (kr_inventory_query(inv, qo, &items, &next, &err) != 0)
        printf("query: %s\n", err.message);
    double ms = (bench_now_s() - t0) * 1000;
    *rows = json_array_size(items);
    json_decref(items);
    kr_free(next);
    return ms;
}

/* Page `page` (1-based, `limit` rows) of the query `qo`: the continue
 * token of the page before it is found once, untimed; then the page is
 * read `reps` times, p50/p99 in ms into *p50 and *p99. The rows of one
 * read, or -1 when the list has fewer pages. */
static long deep_page(kr_inventory_t *inv, kr_inventory_query_opts qo, int page, int reps,
                      double *p50, double *p99)
{
    kr_error_t err = {0};
    char *token = NULL;
    for (int p = 1; p < page; p++) {
        json_t *items = NULL;
        char *next = NULL;
        qo.continue_token = token;
        if (kr_inventory_query(inv, &qo, &items, &next, &err) != 0)
            printf("query: %s\n", err.message);
        json_decref(items);
        kr_free(token);
        token = next;
        if (!token)
            return -1;
    }
    qo.continue_token = token;
    double *lat = calloc((size_t)reps, sizeof(*lat));
    long rows = 0;
    for (int q = 0; lat && q < reps; q++) {
        size_t n = 0;
        lat[q] = timed_query(inv, &qo, &n);
        rows = (long)n;
    }
    if (lat) {
        qsort(lat, (size_t)reps, sizeof(lat[0]), cmp_double);
        *p50 = lat[reps / 2];
        *p99 = lat[reps * 99 / 100];
    }
    free(lat);
    kr_free(token);
    return rows;
}

static void run_backend(const char *label, kr_pgserver *pg, const char *dir, size_t n_events,
                        size_t n_objects)
{
    printf("-- %s --\n", label);
    json_t **objs = calloc(n_objects, sizeof(*objs));
    json_t **mods = calloc(n_events, sizeof(*mods));
    bare_row *rows = calloc(n_events, sizeof(*rows));
    bare_row *upd = calloc(n_events, sizeof(*upd));
    for (size_t i = 0; i < n_objects; i++)
        objs[i] = job(i, 1000 + (int)i, phases[(i / 4) % 4]);
    /* The changes: each of the first n_events objects moves on to the next
     * state, at a later resourceVersion. */
    for (size_t i = 0; i < n_events; i++)
        mods[i] = job(i, 20000000 + (int)i, phases[(i / 4 + 1) % 4]);
    /* The bare rows: what the inventory writes for each event. */
    for (size_t i = 0; i < n_events; i++) {
        json_t *patch = NULL;
        kr_error_t perr = {0};
        if (kr_patch_merge_create(objs[i], mods[i], &patch, &perr) != 0)
            fprintf(stderr, "bench_inventory: %s\n", perr.message);
        bare_row_of(&rows[i], clusters[i % 4], objs[i], "ADDED", NULL);
        bare_row_of(&upd[i], clusters[i % 4], mods[i], "MODIFIED",
                    patch ? json_dumps(patch, JSON_COMPACT) : NULL);
        json_decref(patch);
    }
    /* Three rounds, the three loops interleaved in each, on fresh
     * databases: the medians are compared (a shared machine's load moves
     * between the loops otherwise). The last round's inventory stays. */
    double one[3], two[3], mine[3], two_mod[3], mine_mod[3], unused;
    kr_inventory_t *inv = NULL;
    kr_error_t err = {0};
    for (int rep = 0; rep < 3; rep++) {
        char target[600];
        fresh_target(pg, dir, "bare-one", rep, false, target, sizeof(target));
        (pg ? bare_pg : bare_sqlite)(target, rows, upd, n_events, false, &one[rep], &unused);
        fresh_target(pg, dir, "bare-schema", rep, false, target, sizeof(target));
        (pg ? bare_pg : bare_sqlite)(target, rows, upd, n_events, true, &two[rep], &two_mod[rep]);
        fresh_target(pg, dir, "inventory", rep, true, target, sizeof(target));
        kr_inventory_free(inv);
        inv = NULL;
        kr_inventory_opts o = KR_INVENTORY_OPTS_INIT;
        o.url = target;
        if (kr_inventory_new(&o, &inv, &err) != 0) {
            printf("cannot open %s: %s\n", target, err.message);
            goto out;
        }
        mine[rep] = consumer_rate(inv, objs, n_events, 0, KR_INVENTORY_ADDED);
        mine_mod[rep] = consumer_rate(inv, mods, n_events, 0, KR_INVENTORY_MODIFIED);
    }
    double ours = median3(mine), bare_one = median3(one), bare_two = median3(two);
    double ours_mod = median3(mine_mod), bare_mod = median3(two_mod);
    long rss0 = rss_kib();
    printf("events applied (group commit, %d per transaction; medians of 3 interleaved "
           "rounds): %.0f/s\n"
           "  bare prepared statements of the schema's rows (transaction + object upsert) per "
           "event: %.0f/s; ratio %.2f (target >= 0.5)\n"
           "  bare prepared INSERTs, one row per event (for reference): %.0f/s; ratio %.2f\n",
           BATCH, ours, bare_two, ours / bare_two, bare_one, ours / bare_one);
    printf("changes applied (MODIFIED of the same %zu objects, next state, later "
           "resourceVersion): %.0f/s\n"
           "  bare prepared statements of the schema's rows (MODIFIED transaction with its merge "
           "patch + object upsert's update) per event: %.0f/s; ratio %.2f (target >= 0.5)\n",
           n_events, ours_mod, bare_mod, ours_mod / bare_mod);
    /* Load the rest up to n_objects, then query pages. */
    if (n_objects > n_events)
        consumer_rate(inv, objs + n_events, n_objects - n_events, n_events, KR_INVENTORY_ADDED);
    long rss1 = rss_kib();
    if (n_objects > n_events)
        printf("resident memory grown while loading %zu more objects (up to %zu): %.1f MiB "
               "(%.1f MiB per 100,000)\n",
               n_objects - n_events, n_objects, (double)(rss1 - rss0) / 1024,
               (double)(rss1 - rss0) / 1024 * 100000.0 / (double)(n_objects - n_events));
    else
        printf("resident memory: not measured (BENCH_INVENTORY_OBJECTS is not above "
               "BENCH_INVENTORY_EVENTS)\n");
    enum { QUERIES = 200 };
    double lat[QUERIES];
    size_t got = 0;
    for (int q = 0; q < QUERIES; q++) {
        kr_inventory_query_opts qo = KR_INVENTORY_QUERY_OPTS_INIT;
        qo.cluster = clusters[q % 4];
        qo.phase = q % 2 ? "Running" : "Succeeded";
        qo.kind = "Job";
        qo.limit = 100;
        size_t n = 0;
        lat[q] = timed_query(inv, &qo, &n);
        got += n;
    }
    qsort(lat, QUERIES, sizeof(lat[0]), cmp_double);
    printf("objects page (100 rows, cluster+kind+phase filter) at %zu objects: p50 %.2f ms, p99 "
           "%.2f ms (%zu rows per page on average)\n",
           n_objects, lat[QUERIES / 2], lat[QUERIES * 99 / 100], got / QUERIES);
    /* Deep pages: page 50 of a phase filter, with cluster and kind, with
     * kind only (every cluster), and the phase alone; and page 200 of the
     * phase alone (near the end of its 25,000 rows at 100,000 objects). */
    enum { DEEP_REPS = 100 };
    static const struct {
        const char *what;
        bool cluster, kind;
        int page;
    } deep[] = {{"cluster+kind+phase", true, true, 50},
                {"kind+phase", false, true, 50},
                {"phase", false, false, 50},
                {"phase", false, false, 200}};
    for (size_t d = 0; d < sizeof(deep) / sizeof(deep[0]); d++) {
        kr_inventory_query_opts qo = KR_INVENTORY_QUERY_OPTS_INIT;
        qo.cluster = deep[d].cluster ? clusters[1] : NULL;
        qo.kind = deep[d].kind ? "Job" : NULL;
        qo.phase = "Running";
        qo.limit = 100;
        double p50 = 0, p99 = 0;
        long got_rows = deep_page(inv, qo, deep[d].page, DEEP_REPS, &p50, &p99);
        if (got_rows < 0)
            printf("objects page %d (%s filter): the list has fewer pages\n", deep[d].page,
                   deep[d].what);
        else
            printf("objects page %d (100 rows, %s filter) at %zu objects: p50 %.2f ms, p99 %.2f "
                   "ms (%ld rows)\n",
                   deep[d].page, deep[d].what, n_objects, p50, p99, got_rows);
    }
    kr_inventory_free(inv);
out:
    for (size_t i = 0; i < n_objects; i++)
        json_decref(objs[i]);
    for (size_t i = 0; i < n_events; i++) {
        bare_row_free(&rows[i]);
        bare_row_free(&upd[i]);
        json_decref(mods[i]);
    }
    free(rows);
    free(upd);
    free(mods);
    free(objs);
}

int main(void)
{
    size_t n_events = (size_t)bench_env_long("BENCH_INVENTORY_EVENTS", 10000);
    size_t n_objects = (size_t)bench_env_long("BENCH_INVENTORY_OBJECTS", 100000);
    if (n_objects < n_events)
        n_objects = n_events;
    char dir[] = "/tmp/kr-bench-inv-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    run_backend("sqlite", NULL, dir, n_events, n_objects);

    kr_pgserver *pg = NULL;
    char why[512] = "BENCH_INVENTORY_PG=0";
    if (!bench_env_long("BENCH_INVENTORY_PG", 1) || kr_pgserver_start(&pg, why, sizeof(why)) != 0)
        printf("-- postgresql -- not measured: %s\n", why);
    else
        run_backend("postgresql", pg, dir, n_events, n_objects);
    kr_pgserver_free(pg);
    kr_test_tmpdir_remove(dir);
    return 0;
}
