/* libkreconcile — the inventory: its schema, idempotent batches of informer
 * events with their checkpoints, action transactions and the reads of the
 * Workflow API, in SQL both backends run (lib/inventory_internal.h). It
 * never reads an apiserver; every write of a batch is one transaction, so
 * an object's row, its transaction and its checkpoint move together. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config_internal.h"
#include "internal.h"
#include "inventory_internal.h"
#include "kreconcile/inventory.h"
#include "kreconcile/patch.h"
#include "kreconcile/platform.h"
#include "kreconcile/selector.h"

struct kr_inventory {
    pthread_mutex_t lock;
    /* The highest sequence committed through this handle, and its waiters
     * (kr_inventory_wait_commit): guarded by commit_lock. */
    pthread_mutex_t commit_lock;
    pthread_cond_t committed;
    int64_t committed_seq;
    const kr_inv_backend_ops *ops;
    void *be;
    kr_logger logger;
    kr_inv_states *states; /* guarded by lock */
};

/* What the states remembered (kr_inv_states) may hold: about 15,000 objects
 * of 1 KiB of JSON. Their trees are shared with whoever else keeps the
 * objects (a store of trees); alone, a tree takes about three times its
 * text, so up to about 50 MiB. */
#define STATES_MAX_BYTES ((size_t)16 << 20)

/* ---- small helpers ----------------------------------------------------- */

void kr_inv_rows_free(kr_inv_rows *rows)
{
    if (!rows)
        return;
    for (size_t i = 0; i < rows->n_rows * rows->n_cols; i++)
        kr_free(rows->cells[i]);
    kr_free(rows->cells);
    memset(rows, 0, sizeof(*rows));
}

int kr_inv_rows_add(kr_inv_rows *rows, size_t n_cols, kr_inv_cell_cb cell, void *row,
                    kr_error_t *err)
{
    if (n_cols > 32 || (rows->n_rows && rows->n_cols != n_cols))
        return kr_error_set(err, KR_EINVAL, "inventory: unexpected columns");
    char **grown = kr_realloc(rows->cells, (rows->n_rows + 1) * n_cols * sizeof(char *));
    if (!grown && n_cols)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    rows->cells = grown;
    rows->n_cols = n_cols;
    char **out = rows->cells + rows->n_rows * n_cols;
    for (size_t c = 0; c < n_cols; c++) {
        size_t len = 0;
        const char *text = cell(row, c, &len);
        out[c] = NULL;
        if (text && !(out[c] = kr_strndup(text, len))) {
            for (size_t k = 0; k < c; k++)
                kr_free(out[k]);
            return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
        }
    }
    rows->n_rows++;
    return 0;
}

void kr_inv_stats_copy(pthread_mutex_t *lock, const void *stats, size_t size, void *out,
                       size_t out_size)
{
    if (!lock) {
        if (out)
            memset(out, 0, out_size);
        return;
    }
    pthread_mutex_lock(lock);
    kr_copy_sized(out, out_size, stats, size);
    pthread_mutex_unlock(lock);
}

const char *kr_inv_redact_url(const char *url, char *buf, size_t size)
{
    /* scheme://user:password@host → scheme://user:***@host */
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon)
        snprintf(buf, size, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(buf, size, "%s", url);
    /* Also a password=... parameter in the query. */
    char *pw = strstr(buf, "password=");
    if (pw) {
        char *end = strchr(pw, '&');
        char tail[256];
        snprintf(tail, sizeof(tail), "%s", end ? end : "");
        snprintf(pw, size - (size_t)(pw - buf), "password=***%s", tail);
    }
    return buf;
}

/* RFC 3339 with milliseconds, UTC. */
static json_t *time_json(const char *ms_text)
{
    if (!ms_text)
        return json_null();
    long long ms = strtoll(ms_text, NULL, 10);
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char day[32], buf[48];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, sizeof(buf), "%s.%03dZ", day, (int)(ms % 1000));
    return json_string(buf);
}

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
    const json_t *v = json_object_get(obj, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

/* The actor of every transaction an informer's event made. */
static const char informer_actor[] = "informer";

static const char *const event_names[] = {
    "ADDED", "MODIFIED", "DELETED", "DELETED_FINAL_STATE_UNKNOWN", "CHECKPOINT", "SWEPT"};

const char *kr_inventory_event_type_name(kr_inventory_event_type type)
{
    if ((unsigned)type >= KR_ARRAY_LEN(event_names))
        return NULL;
    return event_names[type];
}

const char *kr_inventory_backend_name(const kr_inventory_t *inv)
{
    return inv ? inv->ops->name : NULL;
}

static bool condition_true(const json_t *conditions, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(conditions, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && strcmp(t, type) == 0 && strcmp(s, "True") == 0)
            return true;
    }
    return false;
}

const char *kr_inventory_phase_of(const json_t *obj)
{
    const json_t *status = json_object_get(obj, "status");
    const char *phase = json_string_value(json_object_get(status, "phase"));
    if (phase)
        return phase;
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, "Job") == 0) {
        const json_t *conditions = json_object_get(status, "conditions");
        if (condition_true(conditions, "Complete"))
            return "Succeeded";
        if (condition_true(conditions, "Failed"))
            return "Failed";
        if (json_integer_value(json_object_get(status, "active")) > 0)
            return "Running";
        if (!str_at(obj, "metadata", "deletionTimestamp"))
            return "Pending";
    }
    if (str_at(obj, "metadata", "deletionTimestamp"))
        return "Terminating";
    return "";
}

/* Annotations that hold a whole copy of the object: a Secret's values too. */
static const char *const secret_copies[] = {"kubectl.kubernetes.io/last-applied-configuration",
                                            "kreconcile.io/last-applied"};

/* In `copy` (a shallow copy of a Secret, or of a Runnable wrapping one,
 * whose metadata is `meta_copy`, a shallow copy too): the values hidden
 * when `values`, and the annotations that copy the whole object. False:
 * out of memory. */
static bool hide_secret(json_t *copy, json_t *meta_copy, bool values)
{
    static const char *const fields[] = {"data", "stringData"};
    for (size_t f = 0; values && f < KR_ARRAY_LEN(fields); f++) {
        json_t *data = json_object_get(copy, fields[f]);
        if (!json_is_object(data))
            continue;
        json_t *hidden = json_object();
        if (!hidden)
            return false;
        const char *k;
        json_t *v;
        json_object_foreach(data, k, v)
        {
            (void)v;
            json_object_set_new(hidden, k, json_string("(redacted)"));
        }
        json_object_set_new(copy, fields[f], hidden);
    }
    /* The annotations are still the caller's (meta_copy is shallow). */
    json_t *notes = json_object_get(meta_copy, "annotations");
    bool held = false;
    for (size_t a = 0; a < KR_ARRAY_LEN(secret_copies); a++)
        held = held || json_object_get(notes, secret_copies[a]);
    json_t *notes_copy = held ? json_copy(notes) : NULL;
    if (held && !notes_copy)
        return false;
    for (size_t a = 0; notes_copy && a < KR_ARRAY_LEN(secret_copies); a++)
        if (json_object_get(notes_copy, secret_copies[a]))
            json_object_set_new(notes_copy, secret_copies[a], json_string("(redacted)"));
    if (notes_copy)
        json_object_set_new(meta_copy, "annotations", notes_copy);
    return true;
}

/* A Runnable whose template is a Secret (its values would be there). */
static bool wraps_secret(const json_t *obj, const char *kind)
{
    const json_t *t = json_object_get(json_object_get(obj, "spec"), "template");
    const char *tkind = json_string_value(json_object_get(t, "kind"));
    return kind && strcmp(kind, KR_RUNNABLE_KIND) == 0 && tkind && strcmp(tkind, "Secret") == 0;
}

/* The object as stored: without managedFields, a Secret's values hidden,
 * also in a Runnable's template (kind: the event's, as list items may
 * lack their own). New reference (a copy when something was removed; the
 * caller's object is never changed). */
static json_t *sanitize(const json_t *obj, const char *kind)
{
    json_t *meta = json_object_get(obj, "metadata");
    bool secret = kind && strcmp(kind, "Secret") == 0, wraps = wraps_secret(obj, kind);
    if (!json_object_get(meta, "managedFields") && !secret && !wraps)
        return json_incref((json_t *)obj);
    json_t *copy = json_copy((json_t *)obj);
    json_t *meta_copy = json_copy(meta);
    bool ok = copy && meta_copy;
    if (ok) {
        json_object_del(meta_copy, "managedFields");
        json_object_set_new(copy, "metadata", meta_copy);
        meta_copy = NULL;
        ok = !(secret || wraps) || hide_secret(copy, json_object_get(copy, "metadata"), secret);
    }
    if (ok && wraps) {
        json_t *spec = json_copy(json_object_get(copy, "spec"));
        json_t *t = spec ? json_copy(json_object_get(spec, "template")) : NULL;
        json_t *tmeta = t ? json_copy(json_object_get(t, "metadata")) : NULL;
        ok = spec && t && (!json_object_get(t, "metadata") || tmeta);
        if (ok && tmeta)
            json_object_set_new(t, "metadata", json_incref(tmeta));
        if (ok)
            ok = hide_secret(t, tmeta, true);
        if (ok) {
            json_object_set_new(spec, "template", json_incref(t));
            json_object_set_new(copy, "spec", json_incref(spec));
        }
        json_decref(tmeta);
        json_decref(t);
        json_decref(spec);
    }
    json_decref(meta_copy);
    if (!ok) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

/* ---- opening and the schema ------------------------------------------ */

/* Version 1 of the schema, both dialects: %1$s follows TEXT in key columns,
 * %2$s is the transactions' sequence column (kr_inv_backend_ops). */
static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS kr_objects ("
    " cluster TEXT%1$s NOT NULL, kind TEXT%1$s NOT NULL,"
    " namespace TEXT%1$s NOT NULL, name TEXT%1$s NOT NULL,"
    " api_version TEXT NOT NULL, uid TEXT NOT NULL, resource_version TEXT NOT NULL,"
    " phase TEXT NOT NULL, labels TEXT NOT NULL, created TEXT, deleted_ms BIGINT,"
    " seq BIGINT NOT NULL, object TEXT NOT NULL,"
    " PRIMARY KEY (cluster, kind, namespace, name));"
    "CREATE INDEX IF NOT EXISTS kr_objects_phase"
    " ON kr_objects (cluster, kind, phase, namespace, name);"
    "CREATE TABLE IF NOT EXISTS kr_transactions ("
    " seq %2$s, time_ms BIGINT NOT NULL,"
    " cluster TEXT NOT NULL, api_version TEXT NOT NULL, kind TEXT NOT NULL,"
    " namespace TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL,"
    " resource_version TEXT NOT NULL, event TEXT NOT NULL, actor TEXT NOT NULL, patch TEXT,"
    " dedup_key TEXT UNIQUE);"
    "CREATE INDEX IF NOT EXISTS kr_transactions_resource"
    " ON kr_transactions (kind, namespace, name, seq);"
    "CREATE TABLE IF NOT EXISTS kr_checkpoints ("
    " cluster TEXT%1$s NOT NULL, resource TEXT%1$s NOT NULL,"
    " resource_version TEXT NOT NULL, updated_ms BIGINT NOT NULL,"
    " PRIMARY KEY (cluster, resource));";

/* Version 2: the phase index leads with the phase and then follows the
 * objects' order (the key), so that a phase filter, alone or with a
 * cluster, kind and namespace, pages as a seek in it (kr_inventory_query);
 * the key itself serves the lists without a phase. */
static const char schema_v2[] = "CREATE INDEX IF NOT EXISTS kr_objects_phase_key"
                                " ON kr_objects (phase, cluster, kind, namespace, name);"
                                "DROP INDEX IF EXISTS kr_objects_phase;";

static int create_schema_v1(kr_inventory_t *inv, kr_error_t *err)
{
    char *sql = kr_asprintf(schema_v1, inv->ops->key_collation, inv->ops->seq_column);
    if (!sql)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    int ret = inv->ops->exec_script(inv->be, sql, err);
    kr_free(sql);
    return ret;
}

static int run_schema(kr_inventory_t *inv, kr_error_t *err)
{
    const kr_inv_backend_ops *ops = inv->ops;
    int ret = ops->begin(inv->be, KR_INV_BEGIN_SCHEMA, err);
    if (ret != 0)
        return ret;
    kr_inv_rows rows = {0};
    ret = ops->exec_script(inv->be,
                           "CREATE TABLE IF NOT EXISTS kr_schema_version ("
                           " id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
                           err);
    if (ret == 0)
        ret = ops->exec(inv->be, -1, "SELECT version FROM kr_schema_version WHERE id = 1", NULL, 0,
                        &rows, NULL, err);
    long version = ret == 0 && rows.n_rows ? strtol(kr_inv_cell(&rows, 0, 0), NULL, 10) : 0;
    if (ret == 0 && version > KR_INVENTORY_SCHEMA_VERSION)
        ret = kr_error_set(err, KR_EUNSUPPORTED,
                           "inventory: the database has schema version %ld, newer than this "
                           "library's %d: upgrade the program",
                           version, KR_INVENTORY_SCHEMA_VERSION);
    /* One step per version, each in this transaction. */
    if (ret == 0 && version < 1)
        ret = create_schema_v1(inv, err);
    if (ret == 0 && version < 2)
        ret = ops->exec_script(inv->be, schema_v2, err);
    if (ret == 0 && version != KR_INVENTORY_SCHEMA_VERSION) {
        kr_inv_param p[] = {KR_INV_INT(KR_INVENTORY_SCHEMA_VERSION)};
        ret =
            ops->exec(inv->be, -1,
                      "INSERT INTO kr_schema_version (id, version) VALUES (1, ?) ON CONFLICT (id) "
                      "DO UPDATE SET version = excluded.version",
                      p, 1, NULL, NULL, err);
    }
    kr_inv_rows_free(&rows);
    if (ret == 0)
        ret = ops->commit(inv->be, err);
    if (ret != 0)
        ops->rollback(inv->be);
    return ret;
}

/* PostgreSQL opened and its schema made current, tried again while
 * unreachable (KR_ECONNECT) or lost on the way (KR_EUNAVAILABLE: a server
 * restarting between the connect and the schema) for up to wait_ms:
 * pauses from 200 ms doubling to 5 s, each failure logged. */
static int pg_open_waiting(const kr_inv_open_opts *o, kr_inventory_t *inv, uint64_t wait_ms,
                           kr_error_t *err)
{
    int64_t deadline =
        kr_clock_monotonic_ns() + (int64_t)(wait_ms > 86400000 ? 86400000 : wait_ms) * 1000000;
    uint64_t pause_ms = 200;
    for (;;) {
        kr_error_t e = {0};
        int rc = kr_inv_pg_open(o, &inv->ops, &inv->be, &e);
        if (rc == 0 && (rc = run_schema(inv, &e)) != 0) {
            inv->ops->close(inv->be);
            inv->ops = NULL;
            inv->be = NULL;
        }
        int64_t now = kr_clock_monotonic_ns();
        if ((rc != KR_ECONNECT && rc != KR_EUNAVAILABLE) || now >= deadline) {
            if (rc != 0 && err)
                *err = e;
            return rc;
        }
        uint64_t left_ms = (uint64_t)(deadline - now) / 1000000 + 1;
        uint64_t ms = pause_ms < left_ms ? pause_ms : left_ms;
        kr_log(&inv->logger, KR_LOG_WARN, "inventory", "%s; trying again in %llu ms", e.message,
               (unsigned long long)ms);
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
        pause_ms = pause_ms * 2 > 5000 ? 5000 : pause_ms * 2;
    }
}

int kr_inventory_new(const kr_inventory_opts *opts, kr_inventory_t **out, kr_error_t *err)
{
    if (!opts || !out)
        return kr_error_set(err, KR_EINVAL, "inventory: opts and out are required");
    *out = NULL;
    if (opts->version > KR_INVENTORY_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "inventory: options version %u is newer than %u",
                            opts->version, (unsigned)KR_INVENTORY_OPTS_VERSION);
    if (!opts->url || !*opts->url)
        return kr_error_set(err, KR_EINVAL,
                            "inventory: no URL (sqlite:///path/inventory.db or "
                            "postgresql://...)");
    kr_inventory_t *inv = kr_calloc(1, sizeof(*inv));
    if (!inv)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    inv->logger = opts->logger;
    inv->states = kr_inv_states_new(STATES_MAX_BYTES);
    if (!inv->states) {
        kr_free(inv);
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    }
    pthread_mutex_init(&inv->lock, NULL);
    pthread_mutex_init(&inv->commit_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&inv->committed, &attr);
    pthread_condattr_destroy(&attr);
    kr_inv_open_opts o = {opts->url, opts->connect_timeout_ms, &inv->logger};
    int ret;
    if (strncmp(opts->url, "sqlite:", 7) == 0) {
        ret = kr_inv_sqlite_open(&o, &inv->ops, &inv->be, err);
        if (ret == 0)
            ret = run_schema(inv, err);
    } else if (strncmp(opts->url, "postgresql://", 13) == 0 ||
               strncmp(opts->url, "postgres://", 11) == 0) {
        ret = pg_open_waiting(&o, inv, opts->version >= 2 ? opts->connect_wait_ms : 0, err);
    } else {
        char shown[512];
        ret = kr_error_set(err, KR_EINVAL,
                           "inventory: unsupported URL %s (expected sqlite:///path/file.db, "
                           "sqlite::memory: or postgresql://user@host:port/db)",
                           kr_inv_redact_url(opts->url, shown, sizeof(shown)));
    }
    if (ret != 0) {
        kr_inventory_free(inv);
        return ret;
    }
    *out = inv;
    return 0;
}

void kr_inventory_interrupt(kr_inventory_t *inv)
{
    /* not under inv->lock: the thread stalled in the database holds it;
     * ops and be are set once, before the handle is returned */
    if (inv && inv->ops && inv->ops->interrupt)
        inv->ops->interrupt(inv->be);
}

void kr_inventory_free(kr_inventory_t *inv)
{
    if (!inv)
        return;
    if (inv->ops)
        inv->ops->close(inv->be);
    pthread_mutex_destroy(&inv->lock);
    pthread_cond_destroy(&inv->committed);
    pthread_mutex_destroy(&inv->commit_lock);
    kr_inv_states_free(inv->states);
    kr_free(inv);
}

static void note_commit(kr_inventory_t *inv, int64_t seq)
{
    if (seq <= 0)
        return;
    pthread_mutex_lock(&inv->commit_lock);
    if (seq > inv->committed_seq)
        inv->committed_seq = seq;
    pthread_cond_broadcast(&inv->committed);
    pthread_mutex_unlock(&inv->commit_lock);
}

bool kr_inventory_wait_commit(kr_inventory_t *inv, int64_t after_seq, uint64_t wait_ms)
{
    if (!inv)
        return false;
    struct timespec deadline;
    kr_deadline_after_ms(&deadline, wait_ms);
    pthread_mutex_lock(&inv->commit_lock);
    while (inv->committed_seq <= after_seq &&
           pthread_cond_timedwait(&inv->committed, &inv->commit_lock, &deadline) == 0)
        ;
    bool seen = inv->committed_seq > after_seq;
    pthread_mutex_unlock(&inv->commit_lock);
    return seen;
}

/* ---- applying events ------------------------------------------------- */

static const char sql_insert_txn[] =
    "INSERT INTO kr_transactions (time_ms, cluster, api_version, kind, namespace, name, uid,"
    " resource_version, event, actor, patch, dedup_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (dedup_key) DO NOTHING RETURNING seq";
/* The upsert of current-state rows. Never back in time: a replica that lost
 * its lease (paused, then resumed) may still write what it buffered.
 * resourceVersions of one object are kube-apiserver's decimal counters,
 * compared as numbers (a longer one is larger); another object of the
 * same name (another uid: a cluster rebuilt, its counters small again)
 * replaces it when created after it (RFC 3339 in UTC, whole seconds:
 * compared as text), in the same second when its resourceVersion is
 * larger (deleted and made again at once: a late write of the old one
 * must not win), or when either creation time is unknown. */
#define SQL_UPSERT_OBJECT_TAIL                                                                     \
    " ON CONFLICT (cluster, kind, namespace, name) DO UPDATE SET"                                  \
    " api_version = excluded.api_version, uid = excluded.uid,"                                     \
    " resource_version = excluded.resource_version, phase = excluded.phase,"                       \
    " labels = excluded.labels, created = excluded.created, deleted_ms = excluded.deleted_ms,"     \
    " seq = excluded.seq, object = excluded.object"                                                \
    " WHERE excluded.resource_version = ''"                                                        \
    " OR (excluded.uid = kr_objects.uid"                                                           \
    " AND (length(excluded.resource_version) > length(kr_objects.resource_version)"                \
    " OR (length(excluded.resource_version) = length(kr_objects.resource_version)"                 \
    " AND excluded.resource_version >= kr_objects.resource_version)))"                             \
    " OR (excluded.uid <> kr_objects.uid"                                                          \
    " AND (excluded.created IS NULL OR kr_objects.created IS NULL"                                 \
    " OR excluded.created > kr_objects.created"                                                    \
    " OR (excluded.created = kr_objects.created"                                                   \
    " AND (length(excluded.resource_version) > length(kr_objects.resource_version)"                \
    " OR (length(excluded.resource_version) = length(kr_objects.resource_version)"                 \
    " AND excluded.resource_version > kr_objects.resource_version)))))"
/* The single-row forms of a chunk's statements, for backends without
 * arrays (SQLite: in-process, no round trip to save; one prepared
 * statement stepped per row, as a bare loop of INSERTs would be). */
#define OBJECT_INSERT_COLUMNS                                                                      \
    "INSERT INTO kr_objects (cluster, kind, namespace, name, api_version, uid, resource_version, " \
    "phase, labels, created, deleted_ms, seq, object) VALUES "
static const char sql_upsert_object[] =
    OBJECT_INSERT_COLUMNS "(?,?,?,?,?,?,?,?,?,?,?,?,?)" SQL_UPSERT_OBJECT_TAIL;
static const char sql_current_row[] = "SELECT cluster, kind, namespace, name, uid, deleted_ms, "
                                      "object, seq FROM kr_objects WHERE cluster = ? AND kind = ? "
                                      "AND namespace = ? AND name = ?";
static const char sql_held_row[] = "SELECT dedup_key FROM kr_transactions WHERE dedup_key = ?";
static const char sql_upsert_checkpoint[] =
    "INSERT INTO kr_checkpoints (cluster, resource, resource_version, updated_ms)"
    " VALUES (?,?,?,?) ON CONFLICT (cluster, resource) DO UPDATE SET"
    " resource_version = excluded.resource_version, updated_ms = excluded.updated_ms";

/* The fields of one event, checked before the transaction starts. */
typedef struct event_fields {
    const char *api_version, *kind, *ns, *name, *uid, *rv;
} event_fields;

/* `what` names the event in messages ("inventory: event 3"). */
static int check_event(const kr_inventory_event *ev, const char *what, event_fields *f,
                       kr_error_t *err)
{
    memset(f, 0, sizeof(*f));
    if (!ev->cluster || !*ev->cluster)
        return kr_error_set(err, KR_EINVAL, "%s has no cluster", what);
    if (!kr_inventory_event_type_name(ev->type))
        return kr_error_set(err, KR_EINVAL, "%s has an unknown type %d", what, (int)ev->type);
    if ((ev->checkpoint_rv || ev->type == KR_INVENTORY_CHECKPOINT) &&
        (!ev->resource || !*ev->resource))
        return kr_error_set(err, KR_EINVAL, "%s: a checkpoint needs a resource", what);
    if (ev->type == KR_INVENTORY_CHECKPOINT) {
        if (!ev->checkpoint_rv)
            return kr_error_set(err, KR_EINVAL, "%s: CHECKPOINT without checkpoint_rv", what);
        return 0;
    }
    if (!json_is_object(ev->object))
        return kr_error_set(err, KR_EINVAL, "%s has no object", what);
    f->api_version = ev->api_version ? ev->api_version : str_at(ev->object, "apiVersion", NULL);
    f->kind = ev->kind ? ev->kind : str_at(ev->object, "kind", NULL);
    f->ns = str_at(ev->object, "metadata", "namespace");
    f->name = str_at(ev->object, "metadata", "name");
    f->uid = str_at(ev->object, "metadata", "uid");
    f->rv = str_at(ev->object, "metadata", "resourceVersion");
    if (!f->ns)
        f->ns = "";
    if (!f->api_version)
        f->api_version = "";
    if (!f->kind || !*f->kind)
        return kr_error_set(err, KR_EINVAL,
                            "%s: no kind (an object without its type: name it in the event)", what);
    if (!f->name || !*f->name || !f->uid || !*f->uid)
        return kr_error_set(err, KR_EINVAL, "%s: the object needs metadata.name and uid", what);
    if (!f->rv)
        f->rv = "";
    return 0;
}

int kr_inv_check_event(const kr_inventory_event *ev, const char *what, kr_error_t *err)
{
    event_fields f;
    if (!ev)
        return kr_error_set(err, KR_EINVAL, "%s: NULL", what);
    return check_event(ev, what, &f, err);
}

/* Compact JSON text, byte for byte what json_dumps(v, JSON_COMPACT) gives,
 * by the library's printer (lib/store_transform.c): jansson's decodes UTF-8
 * one code point at a time and hashes every object and array it visits
 * (loop detection), about half of what applying an event cost. Release
 * with dump_free(). */
static char *dump(const json_t *v)
{
    if (!v)
        return NULL;
    kr_buf text = {0};
    /* Most objects fit: one allocation. */
    if (kr_buf_reserve(&text, 2048) != 0 || kr_json_print(v, &text) != 0) {
        kr_buf_free(&text);
        return NULL;
    }
    return text.data;
}

static void dump_free(char *text)
{
    kr_free(text);
}

/* ---- applying a chunk of events -------------------------------------------
 * A batch is applied in chunks of up to CHUNK events, in four steps: read
 * the current rows of the chunk's objects, read which of its dedup keys are
 * already held, insert the new transactions, upsert the final state of each
 * object. The decisions between them (duplicate or not, the patch from the
 * previous state) are made here, walking the events in order. A backend
 * with arrays (PostgreSQL) runs each step as one statement whatever the
 * chunk's size (a round trip each); SQLite, in-process, steps one prepared
 * single-row statement per row (a statement of hundreds of rows costs more
 * to compile and run than it saves). */

#define CHUNK KR_INV_CHUNK

/* One object of a chunk: its row as read, then as the chunk leaves it. */
typedef struct chunk_key {
    const char *cluster, *kind, *ns, *name; /* borrowed from the events */
    uint64_t hash; /* of the four, compared before them */
    bool exists, deleted, dirty, gone;
    char *uid; /* new */
    json_t *object; /* current state (new reference); NULL until needed */
    char *object_text; /* as read, parsed lazily */
    int64_t row_seq; /* the row's transaction sequence, as read */
    size_t last_txn; /* the chunk's transaction that set the state */
    const event_fields *f; /* the event that set it */
} chunk_key;

typedef struct chunk_txn {
    const kr_inventory_event *ev;
    kr_inventory_event_type type; /* as recorded (an ADDED of a held object is a MODIFIED) */
    const event_fields *f;
    char *patch_text; /* new (dump()) */
    bool whole; /* the patch is the whole object (nothing before it) */
    const char *dedup; /* borrowed */
    int64_t seq;
} chunk_txn;

/* The end of an object another one replaced under its name (a
 * DELETED_FINAL_STATE_UNKNOWN no event carried): its fields point into
 * `object`, held here until the chunk is written. */
typedef struct chunk_gone {
    json_t *object; /* new reference */
    char *uid; /* new */
    event_fields f;
} chunk_gone;

typedef struct chunk {
    kr_inventory_t *inv;
    bool retain; /* the events' objects never change: their states are remembered */
    kr_buf state_key; /* kr_inv_states_key */
    chunk_key keys[CHUNK];
    size_t n_keys;
    /* An event may queue two: the end of the object it replaces, then its own. */
    chunk_txn txns[2 * CHUNK];
    size_t n_txns;
    chunk_gone gone[CHUNK];
    size_t n_gone;
    char *held[2 * CHUNK]; /* dedup keys already in the database or this chunk */
    uint64_t held_hash[2 * CHUNK];
    size_t n_held;
    kr_inv_param params[2 * CHUNK * 12]; /* the most: 12 per transaction */
    kr_buf sql;
    kr_buf arrays[4]; /* array literals of the lookups (backends with arrays) */
} chunk;

/* The hash of an object's key (cluster, kind, namespace, name): a chunk
 * compares it before the strings, so finding each event's object among up
 * to CHUNK others costs little. */
static uint64_t key_hash(const char *cluster, const event_fields *f)
{
    uint64_t h = kr_fold_mul(kr_str_hash(cluster) ^ KR_HASH_K1, kr_str_hash(f->kind));
    h = kr_fold_mul(h ^ KR_HASH_K2, kr_str_hash(f->ns));
    return kr_fold_mul(h ^ KR_HASH_K3, kr_str_hash(f->name));
}

static bool key_is(const chunk_key *k, uint64_t hash, const char *cluster, const event_fields *f)
{
    return k->hash == hash && strcmp(k->cluster, cluster) == 0 && strcmp(k->kind, f->kind) == 0 &&
           strcmp(k->ns, f->ns) == 0 && strcmp(k->name, f->name) == 0;
}

/* "(?,?),(?,?)": `rows` groups of `per` placeholders. */
static int append_values(kr_buf *b, size_t rows, size_t per)
{
    int rc = 0;
    for (size_t r = 0; r < rows; r++) {
        rc |= kr_buf_append_str(b, r ? ",(" : "(");
        for (size_t i = 0; i < per; i++)
            rc |= kr_buf_append_str(b, i ? ",?" : "?");
        rc |= kr_buf_append_str(b, ")");
    }
    return rc ? KR_ENOMEM : 0;
}

/* `texts[0..n)` as an array literal {"a","b"} into b. */
static int array_literal(kr_buf *b, const char *const *texts, size_t n)
{
    kr_buf_reset(b);
    int rc = kr_buf_append_str(b, "{");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc |= kr_buf_append_str(b, i ? ",\"" : "\"");
        for (const char *p = texts[i] ? texts[i] : ""; *p && rc == 0; p++) {
            if (*p == '"' || *p == '\\')
                rc |= kr_buf_append(b, "\\", 1);
            rc |= kr_buf_append(b, p, 1);
        }
        rc |= kr_buf_append_str(b, "\"");
    }
    rc |= kr_buf_append_str(b, "}");
    return rc ? KR_ENOMEM : 0;
}

static void chunk_reset(chunk *c)
{
    for (size_t i = 0; i < c->n_keys; i++) {
        kr_free(c->keys[i].uid);
        kr_free(c->keys[i].object_text);
        json_decref(c->keys[i].object);
    }
    for (size_t i = 0; i < c->n_txns; i++)
        dump_free(c->txns[i].patch_text);
    for (size_t i = 0; i < c->n_gone; i++) {
        json_decref(c->gone[i].object);
        kr_free(c->gone[i].uid);
    }
    c->n_gone = 0;
    for (size_t i = 0; i < c->n_held; i++)
        kr_free(c->held[i]);
    c->n_keys = c->n_txns = c->n_held = 0;
}

/* A chunk statement's SQL depends only on its kind and row count: each
 * (kind, rows) pair is kept prepared under its own id, up to CHUNK rows
 * (more transactions than events, replaced objects' ends among them: -1,
 * not kept). */
static int chunk_stmt(int id, size_t rows)
{
    if (rows > KR_INV_CHUNK)
        return -1;
    return KR_INV_STMT_CHUNK_BASE + (id - KR_INV_STMT_CHUNK_TXNS) * KR_INV_CHUNK + (int)rows - 1;
}

/* The keys' columns as four array literals, in c->params[0..4). */
static int key_arrays(chunk *c)
{
    const char *cols[4][CHUNK] = {{0}};
    for (size_t k = 0; k < c->n_keys && k < CHUNK; k++) {
        cols[0][k] = c->keys[k].cluster;
        cols[1][k] = c->keys[k].kind;
        cols[2][k] = c->keys[k].ns;
        cols[3][k] = c->keys[k].name;
    }
    for (size_t i = 0; i < 4; i++) {
        if (array_literal(&c->arrays[i], cols[i], c->n_keys) != 0)
            return KR_ENOMEM;
        c->params[i] = KR_INV_TEXT(c->arrays[i].data);
    }
    return 0;
}

/* Row r of a current-row result (cluster, kind, namespace, name, uid,
 * deleted_ms, object, seq) is key's: its cells are taken over. */
static void take_current(chunk_key *key, kr_inv_rows *rows, size_t r)
{
    key->exists = true;
    key->deleted = kr_inv_cell(rows, r, 5) != NULL;
    key->row_seq = strtoll(kr_inv_cell(rows, r, 7), NULL, 10);
    key->uid = rows->cells[r * rows->n_cols + 4];
    key->object_text = rows->cells[r * rows->n_cols + 6];
    rows->cells[r * rows->n_cols + 4] = NULL;
    rows->cells[r * rows->n_cols + 6] = NULL;
}

/* Without arrays: one prepared lookup by primary key per object. */
static int read_current_rows(chunk *c, kr_error_t *err)
{
    int ret = 0;
    for (size_t k = 0; k < c->n_keys && ret == 0; k++) {
        chunk_key *key = &c->keys[k];
        kr_inv_param p[] = {KR_INV_TEXT(key->cluster), KR_INV_TEXT(key->kind), KR_INV_TEXT(key->ns),
                            KR_INV_TEXT(key->name)};
        kr_inv_rows rows = {0};
        ret = c->inv->ops->exec(c->inv->be, KR_INV_STMT_CURRENT_ROW, sql_current_row, p, 4, &rows,
                                NULL, err);
        if (ret == 0 && rows.n_rows)
            take_current(key, &rows, 0);
        kr_inv_rows_free(&rows);
    }
    return ret;
}

static int read_current(chunk *c, kr_error_t *err)
{
    if (!c->inv->ops->arrays)
        return read_current_rows(c, err);
    kr_buf_reset(&c->sql);
    /* One statement whatever the number of keys: an index lookup per
     * unnested key, planned at each execution (a generic plan chosen while
     * the table was small could keep scanning it whole). */
    int rc = key_arrays(c);
    rc |= kr_buf_append_str(&c->sql,
                            "SELECT o.cluster, o.kind, o.namespace, o.name, o.uid, "
                            "o.deleted_ms, o.object, o.seq FROM unnest(?::text[], ?::text[], "
                            "?::text[], ?::text[]) AS k(c, kd, ns, nm) JOIN kr_objects o "
                            "ON o.cluster = k.c AND o.kind = k.kd AND o.namespace = k.ns "
                            "AND o.name = k.nm");
    if (rc != 0)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    kr_inv_rows rows = {0};
    int ret = c->inv->ops->exec(c->inv->be, -1, c->sql.data, c->params, 4, &rows, NULL, err);
    for (size_t r = 0; ret == 0 && r < rows.n_rows; r++)
        for (size_t k = 0; k < c->n_keys; k++) {
            chunk_key *key = &c->keys[k];
            if (strcmp(key->cluster, kr_inv_cell(&rows, r, 0)) != 0 ||
                strcmp(key->kind, kr_inv_cell(&rows, r, 1)) != 0 ||
                strcmp(key->ns, kr_inv_cell(&rows, r, 2)) != 0 ||
                strcmp(key->name, kr_inv_cell(&rows, r, 3)) != 0)
                continue;
            take_current(key, &rows, r);
            break;
        }
    kr_inv_rows_free(&rows);
    return ret;
}

/* Remember a dedup key as held (taken over: freed with the chunk). */
static void add_held(chunk *c, char *dedup)
{
    c->held_hash[c->n_held] = kr_str_hash(dedup);
    c->held[c->n_held++] = dedup;
}

static int read_held(chunk *c, char *const *dedup, size_t n_events, kr_error_t *err)
{
    kr_buf_reset(&c->sql);
    size_t n = 0;
    const char *keys[CHUNK];
    for (size_t i = 0; i < n_events; i++)
        if (dedup[i])
            keys[n++] = dedup[i];
    if (n == 0)
        return 0;
    kr_inv_rows rows = {0};
    int ret = 0;
    if (c->inv->ops->arrays) {
        /* Planned at each execution, as in read_current(). */
        if (array_literal(&c->arrays[0], keys, n) != 0 ||
            kr_buf_append_str(&c->sql, "SELECT dedup_key FROM kr_transactions WHERE dedup_key = "
                                       "ANY (?::text[])") != 0)
            return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
        c->params[0] = KR_INV_TEXT(c->arrays[0].data);
        ret = c->inv->ops->exec(c->inv->be, -1, c->sql.data, c->params, 1, &rows, NULL, err);
    } else {
        /* One prepared lookup in the unique index per key. */
        for (size_t i = 0; i < n && ret == 0; i++) {
            kr_inv_param p = KR_INV_TEXT(keys[i]);
            ret = c->inv->ops->exec(c->inv->be, KR_INV_STMT_HELD_ROW, sql_held_row, &p, 1, &rows,
                                    NULL, err);
        }
    }
    for (size_t r = 0; ret == 0 && r < rows.n_rows && c->n_held < KR_ARRAY_LEN(c->held); r++) {
        add_held(c, rows.cells[r]);
        rows.cells[r] = NULL;
    }
    kr_inv_rows_free(&rows);
    return ret;
}

static bool is_held(const chunk *c, const char *dedup)
{
    uint64_t hash = kr_str_hash(dedup);
    for (size_t i = 0; i < c->n_held; i++)
        if (c->held_hash[i] == hash && strcmp(c->held[i], dedup) == 0)
            return true;
    return false;
}

/* resourceVersion a after b, as the upsert compares them: decimal
 * counters, a longer one larger. */
static bool rv_after(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la > lb || (la == lb && strcmp(a, b) > 0);
}

/* Whether `next` (resourceVersion next_rv) takes the current state from
 * `cur` (cur_rv) set earlier in the same chunk: the upsert's rule, which
 * only compares the chunk's last state with the stored row, applied
 * between the chunk's own events. */
static bool takes_over(const json_t *cur, const char *cur_rv, bool same_uid, const json_t *next,
                       const char *next_rv)
{
    if (!*next_rv)
        return true;
    if (same_uid)
        return !rv_after(cur_rv, next_rv); /* never back in time */
    const char *cc = str_at(cur, "metadata", "creationTimestamp");
    const char *nc = str_at(next, "metadata", "creationTimestamp");
    if (!cc || !nc)
        return true;
    int cmp = strcmp(nc, cc);
    return cmp != 0 ? cmp > 0 : rv_after(next_rv, cur_rv);
}

/* Queue the end of the object `key` holds live, replaced by the one of
 * `ev` under its name: a DELETED_FINAL_STATE_UNKNOWN of its last state
 * known, keyed as a relist's would be (one recorded already is not
 * recorded again). */
static int record_replaced(chunk *c, chunk_key *key, const kr_inventory_event *ev,
                           const event_fields *f, kr_error_t *err)
{
    const char *rv = str_at(key->object, "metadata", "resourceVersion");
    char *dedup = kr_asprintf("%s/%s/%s/gone", ev->cluster, key->uid, rv ? rv : "");
    if (!dedup)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    if (is_held(c, dedup)) {
        kr_free(dedup);
        return 0;
    }
    chunk_gone *g = &c->gone[c->n_gone];
    g->uid = kr_strdup(key->uid);
    json_t *patch = NULL;
    int ret = g->uid ? kr_patch_merge_create(key->object, key->object, &patch, err)
                     : kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    chunk_txn *t = &c->txns[c->n_txns];
    t->patch_text = ret == 0 ? dump(patch) : NULL;
    json_decref(patch);
    if (ret == 0 && !t->patch_text)
        ret = kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    if (ret != 0) {
        kr_free(g->uid);
        kr_free(dedup);
        return ret;
    }
    g->object = json_incref(key->object);
    g->f = *f;
    g->f.uid = g->uid;
    g->f.rv = rv ? rv : "";
    c->n_gone++;
    t->ev = ev;
    t->type = KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN;
    t->f = &g->f;
    t->whole = false;
    t->dedup = dedup;
    t->seq = 0;
    c->n_txns++;
    add_held(c, dedup); /* freed with the chunk */
    return 0;
}

/* Decide one event against the chunk's state: a duplicate, or a queued
 * transaction (and maybe a new current state). */
static int decide(chunk *c, chunk_key *key, const kr_inventory_event *ev, const event_fields *f,
                  json_t *stored, const char *dedup, kr_error_t *err)
{
    bool gone = ev->type == KR_INVENTORY_DELETED ||
                ev->type == KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN ||
                ev->type == KR_INVENTORY_SWEPT;
    bool same_uid = key->exists && key->uid && strcmp(key->uid, f->uid) == 0;
    if (is_held(c, dedup))
        return 0;
    /* A relist reports what it no longer finds: nothing to do when the
     * inventory already knows it is gone (or holds another object). */
    if ((ev->type == KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN || ev->type == KR_INVENTORY_SWEPT) &&
        (!same_uid || key->deleted))
        return 0;
    /* The row holds another object live under this name: its state is
     * compared with this one's (which of the two is the newer). */
    bool other_live = !gone && key->exists && !same_uid && !key->deleted;
    if ((same_uid || other_live) && !key->object) {
        /* The state this handle wrote in that row, or the row's text. */
        if (kr_inv_states_key(&c->state_key, key->cluster, key->kind, key->ns, key->name) != 0)
            return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
        const json_t *known = kr_inv_states_get(c->inv->states, c->state_key.data, c->state_key.len,
                                                key->row_seq, strlen(key->object_text));
        key->object = known ? json_incref((json_t *)known) : json_loads(key->object_text, 0, NULL);
        if (!key->object)
            return kr_error_set(err, KR_EIO, "inventory: stored object %s/%s is not JSON", f->ns,
                                f->name);
    }
    /* Deleted and made again while nobody watched (an informer's list, a
     * restart): the one held is gone, recorded as a watch would have, and
     * this one is new. A late event of an older one is history only. */
    const char *held_rv = other_live ? str_at(key->object, "metadata", "resourceVersion") : NULL;
    bool replaces =
        other_live && takes_over(key->object, held_rv ? held_rv : "", false, stored, f->rv);
    if (replaces) {
        int ret = record_replaced(c, key, ev, f, err);
        if (ret != 0)
            return ret;
    }
    json_t *patch = NULL;
    if (same_uid) {
        int ret = kr_patch_merge_create(key->object, stored, &patch, err);
        if (ret != 0)
            return ret;
    }
    char *held = kr_strdup(dedup);
    chunk_txn *t = &c->txns[c->n_txns];
    t->patch_text = dump(patch ? patch : stored);
    t->whole = !patch;
    json_decref(patch);
    if (!t->patch_text || !held) {
        dump_free(t->patch_text);
        kr_free(held);
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    }
    t->ev = ev;
    /* An ADDED of an object already held live (a relist after a restart
     * or a resumed watch) is a change of it. */
    t->type = ev->type == KR_INVENTORY_ADDED && same_uid && !key->deleted ? KR_INVENTORY_MODIFIED
              : replaces                                                  ? KR_INVENTORY_ADDED
                                                                          : ev->type;
    t->f = f;
    t->dedup = dedup;
    t->seq = 0;
    c->n_txns++;
    /* The same event again later in this chunk is a duplicate. */
    add_held(c, held);
    /* A late delete of an object replaced by another one with the same
     * name is history, not current state. */
    if (gone && key->exists && !same_uid && !key->deleted)
        return 0;
    /* A stale event after a newer one in the same chunk is history too. */
    if (!gone && key->dirty && key->object &&
        !takes_over(key->object, key->f->rv, same_uid, stored, f->rv))
        return 0;
    char *uid = kr_strdup(f->uid);
    if (!uid)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    kr_free(key->uid);
    key->uid = uid;
    json_decref(key->object);
    key->object = json_incref(stored);
    key->exists = key->dirty = true;
    key->deleted = key->gone = gone;
    key->last_txn = c->n_txns - 1;
    key->f = f;
    return 0;
}

/* Another writer inserted some of a chunk's transactions since we looked:
 * retrying the batch will find them held. */
static int concurrent_writer(kr_error_t *err)
{
    return kr_error_set(err, KR_EUNAVAILABLE,
                        "inventory: a concurrent writer applied the same events; retry");
}

/* Without arrays: one prepared INSERT per transaction (the 12 parameters
 * of each in c->params), its RETURNING row its seq. */
static int insert_txn_rows(chunk *c, kr_error_t *err)
{
    int ret = 0;
    for (size_t i = 0; i < c->n_txns && ret == 0; i++) {
        kr_inv_rows rows = {0};
        ret = c->inv->ops->exec(c->inv->be, KR_INV_STMT_INSERT_TXN, sql_insert_txn,
                                c->params + 12 * i, 12, &rows, NULL, err);
        if (ret == 0 && rows.n_rows != 1)
            ret = concurrent_writer(err);
        if (ret == 0)
            c->txns[i].seq = strtoll(kr_inv_cell(&rows, 0, 0), NULL, 10);
        kr_inv_rows_free(&rows);
    }
    return ret;
}

static int insert_txns(chunk *c, int64_t now, kr_error_t *err)
{
    kr_buf_reset(&c->sql);
    size_t n = 0;
    for (size_t i = 0; i < c->n_txns; i++) {
        const chunk_txn *t = &c->txns[i];
        c->params[n++] = KR_INV_INT(now);
        c->params[n++] = KR_INV_TEXT(t->ev->cluster);
        c->params[n++] = KR_INV_TEXT(t->f->api_version);
        c->params[n++] = KR_INV_TEXT(t->f->kind);
        c->params[n++] = KR_INV_TEXT(t->f->ns);
        c->params[n++] = KR_INV_TEXT(t->f->name);
        c->params[n++] = KR_INV_TEXT(t->f->uid);
        c->params[n++] = KR_INV_TEXT(t->f->rv);
        c->params[n++] = KR_INV_TEXT(event_names[t->type]);
        c->params[n++] = KR_INV_TEXT(t->ev->actor ? t->ev->actor : informer_actor);
        c->params[n++] = KR_INV_TEXT(t->patch_text);
        c->params[n++] = KR_INV_TEXT(t->dedup);
    }
    if (!c->inv->ops->arrays)
        return insert_txn_rows(c, err);
    if (kr_buf_append_str(&c->sql, "INSERT INTO kr_transactions (time_ms, cluster, api_version, "
                                   "kind, namespace, name, uid, resource_version, event, actor, "
                                   "patch, dedup_key) VALUES ") != 0 ||
        append_values(&c->sql, c->n_txns, 12) != 0 ||
        kr_buf_append_str(&c->sql, " ON CONFLICT (dedup_key) DO NOTHING RETURNING seq, "
                                   "dedup_key") != 0)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    kr_inv_rows rows = {0};
    int ret = c->inv->ops->exec(c->inv->be, chunk_stmt(KR_INV_STMT_CHUNK_TXNS, c->n_txns),
                                c->sql.data, c->params, n, &rows, NULL, err);
    if (ret == 0 && rows.n_rows != c->n_txns)
        ret = concurrent_writer(err);
    /* The rows usually come in the order of the VALUES: look there first. */
    for (size_t r = 0; ret == 0 && r < rows.n_rows; r++)
        for (size_t k = 0; k < c->n_txns; k++) {
            size_t i = (r + k) % c->n_txns;
            if (strcmp(c->txns[i].dedup, kr_inv_cell(&rows, r, 1)) == 0) {
                c->txns[i].seq = strtoll(kr_inv_cell(&rows, r, 0), NULL, 10);
                break;
            }
        }
    kr_inv_rows_free(&rows);
    return ret;
}

/* After the upserts: remember each written state (or forget the key's,
 * when the events' objects are only borrowed). text_len[r] is the length of
 * the r-th written row's object text. */
static int note_states(chunk *c, const size_t *text_len, kr_error_t *err)
{
    size_t r = 0;
    for (size_t k = 0; k < c->n_keys; k++) {
        const chunk_key *key = &c->keys[k];
        if (!key->dirty)
            continue;
        if (kr_inv_states_key(&c->state_key, key->cluster, key->kind, key->ns, key->name) != 0)
            return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
        if (c->retain)
            kr_inv_states_put(c->inv->states, c->state_key.data, c->state_key.len,
                              c->txns[key->last_txn].seq, key->object, text_len[r]);
        else
            kr_inv_states_remove(c->inv->states, c->state_key.data, c->state_key.len);
        r++;
    }
    return 0;
}

static int upsert_objects(chunk *c, int64_t now, kr_error_t *err)
{
    kr_buf_reset(&c->sql);
    size_t n = 0, rows_n = 0;
    char *texts[CHUNK * 2] = {0};
    size_t text_len[CHUNK];
    int ret = 0;
    for (size_t k = 0; k < c->n_keys && ret == 0; k++) {
        chunk_key *key = &c->keys[k];
        if (!key->dirty)
            continue;
        const event_fields *f = key->f;
        const json_t *labels = json_object_get(json_object_get(key->object, "metadata"), "labels");
        json_t *no_labels = labels ? NULL : json_object();
        char *labels_text = dump(labels ? labels : no_labels);
        json_decref(no_labels);
        /* A new object's transaction already holds its text. */
        const chunk_txn *t = &c->txns[key->last_txn];
        char *object_text = t->whole ? NULL : dump(key->object);
        texts[2 * rows_n] = labels_text;
        texts[2 * rows_n + 1] = object_text;
        if (t->whole)
            object_text = t->patch_text;
        rows_n++;
        if (!labels_text || !object_text) {
            ret = kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
            break;
        }
        text_len[rows_n - 1] = strlen(object_text);
        c->params[n++] = KR_INV_TEXT(key->cluster);
        c->params[n++] = KR_INV_TEXT(key->kind);
        c->params[n++] = KR_INV_TEXT(key->ns);
        c->params[n++] = KR_INV_TEXT(key->name);
        c->params[n++] = KR_INV_TEXT(f->api_version);
        c->params[n++] = KR_INV_TEXT(f->uid);
        c->params[n++] = KR_INV_TEXT(f->rv);
        c->params[n++] = KR_INV_TEXT(key->gone ? "Deleted" : kr_inventory_phase_of(key->object));
        c->params[n++] = KR_INV_TEXT(labels_text);
        c->params[n++] = KR_INV_TEXT(str_at(key->object, "metadata", "creationTimestamp"));
        c->params[n++] = key->gone ? KR_INV_INT(now) : KR_INV_TEXT(NULL);
        c->params[n++] = KR_INV_INT(c->txns[key->last_txn].seq);
        c->params[n++] = KR_INV_TEXT(object_text);
    }
    if (ret == 0 && rows_n && !c->inv->ops->arrays) {
        /* One prepared upsert per object. */
        for (size_t r = 0; r < rows_n && ret == 0; r++)
            ret = c->inv->ops->exec(c->inv->be, KR_INV_STMT_UPSERT_OBJECT, sql_upsert_object,
                                    c->params + 13 * r, 13, NULL, NULL, err);
    } else if (ret == 0 && rows_n) {
        if (kr_buf_append_str(&c->sql, OBJECT_INSERT_COLUMNS) != 0 ||
            append_values(&c->sql, rows_n, 13) != 0 ||
            kr_buf_append_str(&c->sql, SQL_UPSERT_OBJECT_TAIL) != 0)
            ret = kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
        else
            ret = c->inv->ops->exec(c->inv->be, chunk_stmt(KR_INV_STMT_CHUNK_OBJECTS, rows_n),
                                    c->sql.data, c->params, n, NULL, NULL, err);
    }
    for (size_t i = 0; i < 2 * rows_n; i++)
        dump_free(texts[i]);
    if (ret == 0)
        ret = note_states(c, text_len, err);
    return ret;
}

/* Apply events[0..n) (n <= CHUNK) inside the open transaction. */
static int apply_chunk(chunk *c, const kr_inventory_event *events, const event_fields *fields,
                       size_t n, int64_t now, kr_inventory_apply_result *res, kr_error_t *err)
{
    char *dedup[CHUNK] = {0};
    json_t *stored[CHUNK] = {0};
    size_t key_of[CHUNK] = {0}; /* each event's object among c->keys */
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        const kr_inventory_event *ev = &events[i];
        if (ev->type == KR_INVENTORY_CHECKPOINT)
            continue;
        const event_fields *f = &fields[i];
        bool gone = ev->type == KR_INVENTORY_DELETED ||
                    ev->type == KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN ||
                    ev->type == KR_INVENTORY_SWEPT;
        dedup[i] = kr_asprintf("%s/%s/%s/%s", ev->cluster, f->uid, f->rv, gone ? "gone" : "live");
        stored[i] = sanitize(ev->object, f->kind);
        if (!dedup[i] || !stored[i]) {
            ret = kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
            break;
        }
        uint64_t hash = key_hash(ev->cluster, f);
        size_t k = 0;
        while (k < c->n_keys && !key_is(&c->keys[k], hash, ev->cluster, f))
            k++;
        key_of[i] = k;
        if (k == c->n_keys) {
            chunk_key *key = &c->keys[c->n_keys++];
            memset(key, 0, sizeof(*key));
            key->hash = hash;
            key->cluster = ev->cluster;
            key->kind = f->kind;
            key->ns = f->ns;
            key->name = f->name;
        }
    }
    if (ret == 0 && c->n_keys)
        ret = read_current(c, err);
    if (ret == 0 && c->n_keys)
        ret = read_held(c, dedup, n, err);
    for (size_t i = 0; i < n && ret == 0; i++) {
        if (!dedup[i])
            continue;
        size_t before = c->n_txns;
        ret = decide(c, &c->keys[key_of[i]], &events[i], &fields[i], stored[i], dedup[i], err);
        if (ret == 0 && c->n_txns == before)
            res->duplicates++;
    }
    if (ret == 0 && c->n_txns)
        ret = insert_txns(c, now, err);
    if (ret == 0 && c->n_txns)
        ret = upsert_objects(c, now, err);
    if (ret == 0) {
        res->applied += c->n_txns;
        for (size_t i = 0; i < c->n_txns; i++)
            if (c->txns[i].seq > res->last_seq)
                res->last_seq = c->txns[i].seq;
    }
    chunk_reset(c);
    for (size_t i = 0; i < n; i++) {
        kr_free(dedup[i]);
        json_decref(stored[i]);
    }
    return ret;
}

int kr_inventory_apply(kr_inventory_t *inv, const kr_inventory_event *events, size_t n,
                       kr_inventory_apply_result *result, kr_error_t *err)
{
    return kr_inv_apply(inv, events, n, false, result, err);
}

int kr_inv_apply(kr_inventory_t *inv, const kr_inventory_event *events, size_t n, bool retain,
                 kr_inventory_apply_result *result, kr_error_t *err)
{
    if (result)
        memset(result, 0, sizeof(*result));
    if (!inv || (n && !events))
        return kr_error_set(err, KR_EINVAL, "inventory: inv and events are required");
    if (n == 0)
        return 0;
    event_fields *fields = kr_calloc(n, sizeof(*fields));
    if (!fields)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        char what[48];
        snprintf(what, sizeof(what), "inventory: event %zu", i);
        ret = check_event(&events[i], what, &fields[i], err);
    }
    if (ret != 0) {
        kr_free(fields);
        return ret;
    }
    kr_inventory_apply_result res = {0};
    int64_t now = kr_clock_wall_ms();
    pthread_mutex_lock(&inv->lock);
    ret = inv->ops->begin(inv->be, KR_INV_BEGIN_WRITE, err);
    chunk *c = NULL;
    if (ret == 0 && !(c = kr_calloc(1, sizeof(*c))))
        ret = kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    for (size_t i = 0; i < n && ret == 0 && c; i += CHUNK) {
        c->inv = inv;
        c->retain = retain;
        ret = apply_chunk(c, events + i, fields + i, n - i < CHUNK ? n - i : CHUNK, now, &res, err);
    }
    if (c) {
        kr_buf_free(&c->sql);
        kr_buf_free(&c->state_key);
        for (size_t i = 0; i < KR_ARRAY_LEN(c->arrays); i++)
            kr_buf_free(&c->arrays[i]);
    }
    kr_free(c);
    /* The last checkpoint of each (cluster, resource), written once. */
    for (size_t i = 0; i < n && ret == 0; i++) {
        const kr_inventory_event *ev = &events[i];
        if (!ev->checkpoint_rv)
            continue;
        bool later = false;
        for (size_t k = i + 1; k < n && !later; k++)
            later = events[k].checkpoint_rv && strcmp(events[k].cluster, ev->cluster) == 0 &&
                    strcmp(events[k].resource, ev->resource) == 0;
        if (later)
            continue;
        kr_inv_param p[] = {KR_INV_TEXT(ev->cluster), KR_INV_TEXT(ev->resource),
                            KR_INV_TEXT(ev->checkpoint_rv), KR_INV_INT(now)};
        ret = inv->ops->exec(inv->be, KR_INV_STMT_UPSERT_CHECKPOINT, sql_upsert_checkpoint, p, 4,
                             NULL, NULL, err);
    }
    if (ret == 0)
        ret = inv->ops->commit(inv->be, err);
    if (ret != 0) {
        inv->ops->rollback(inv->be);
        /* The sequences of what is undone may be given out again. */
        kr_inv_states_clear(inv->states);
    }
    pthread_mutex_unlock(&inv->lock);
    kr_free(fields);
    if (ret == 0)
        note_commit(inv, res.last_seq);
    if (ret == 0 && result)
        *result = res;
    return ret;
}

/* ---- actions and checkpoints ----------------------------------------- */

static bool valid_event_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || *s == '_'))
            return false;
    return true;
}

int kr_inv_action_check(const kr_inventory_action *a, kr_error_t *err)
{
    if (!a || !a->cluster || !*a->cluster || !a->kind || !*a->kind || !a->name || !*a->name ||
        !a->actor || !*a->actor)
        return kr_error_set(err, KR_EINVAL,
                            "inventory: an action needs cluster, kind, name and actor");
    if (!valid_event_name(a->event))
        return kr_error_set(err, KR_EINVAL,
                            "inventory: action event \"%s\" must be upper case letters and _",
                            a->event ? a->event : "");
    return 0;
}

/* An action's dedup key: its own namespace, apart from the events'. */
#define ACTION_KEY_PREFIX "action:"

static int record_action(kr_inventory_t *inv, const kr_inventory_action *a, const char *key,
                         int64_t time_ms, int64_t *seq, kr_error_t *err)
{
    if (!inv)
        return kr_error_set(err, KR_EINVAL, "inventory: no inventory");
    int rc = kr_inv_action_check(a, err);
    if (rc != 0)
        return rc;
    char *detail = a->detail ? dump(a->detail) : NULL;
    char *dedup = key ? kr_asprintf(ACTION_KEY_PREFIX "%s", key) : NULL;
    if ((a->detail && !detail) || (key && !dedup)) {
        dump_free(detail);
        kr_free(dedup);
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    }
    kr_inv_param p[] = {KR_INV_INT(time_ms > 0 ? time_ms : kr_clock_wall_ms()),
                        KR_INV_TEXT(a->cluster),
                        KR_INV_TEXT(a->api_version ? a->api_version : ""),
                        KR_INV_TEXT(a->kind),
                        KR_INV_TEXT(a->namespace_ ? a->namespace_ : ""),
                        KR_INV_TEXT(a->name),
                        KR_INV_TEXT(a->uid ? a->uid : ""),
                        KR_INV_TEXT(a->resource_version ? a->resource_version : ""),
                        KR_INV_TEXT(a->event),
                        KR_INV_TEXT(a->actor),
                        KR_INV_TEXT(detail),
                        KR_INV_TEXT(dedup)};
    kr_inv_rows rows = {0};
    pthread_mutex_lock(&inv->lock);
    int ret = inv->ops->begin(inv->be, KR_INV_BEGIN_WRITE, err);
    if (ret == 0)
        ret = inv->ops->exec(inv->be, KR_INV_STMT_INSERT_TXN, sql_insert_txn, p, KR_ARRAY_LEN(p),
                             &rows, NULL, err);
    if (ret == 0)
        ret = inv->ops->commit(inv->be, err);
    if (ret != 0)
        inv->ops->rollback(inv->be);
    pthread_mutex_unlock(&inv->lock);
    int64_t recorded = ret == 0 && rows.n_rows ? strtoll(kr_inv_cell(&rows, 0, 0), NULL, 10) : 0;
    note_commit(inv, recorded);
    if (ret == 0 && seq)
        *seq = recorded;
    kr_inv_rows_free(&rows);
    dump_free(detail);
    kr_free(dedup);
    return ret;
}

int kr_inventory_record(kr_inventory_t *inv, const kr_inventory_action *a, int64_t *seq,
                        kr_error_t *err)
{
    return record_action(inv, a, NULL, 0, seq, err);
}

int kr_inventory_record_once(kr_inventory_t *inv, const kr_inventory_action *a, const char *key,
                             int64_t *seq, kr_error_t *err)
{
    if (!key || !*key)
        return kr_error_set(err, KR_EINVAL, "inventory: a record once needs a key");
    return record_action(inv, a, key, 0, seq, err);
}

int kr_inv_record_at(kr_inventory_t *inv, const kr_inventory_action *a, const char *key,
                     int64_t time_ms, kr_error_t *err)
{
    if (!key || !*key)
        return kr_error_set(err, KR_EINVAL, "inventory: a record once needs a key");
    return record_action(inv, a, key, time_ms, NULL, err);
}

/* The end of a read transaction begun under inv->lock: committed, or
 * rolled back with its rows freed; the lock released. ret: the reads'. */
static int end_read(kr_inventory_t *inv, int ret, kr_inv_rows *rows, kr_error_t *err)
{
    if (ret == 0)
        ret = inv->ops->commit(inv->be, err);
    if (ret != 0) {
        inv->ops->rollback(inv->be);
        kr_inv_rows_free(rows);
    }
    pthread_mutex_unlock(&inv->lock);
    return ret;
}

/* Run one read statement under the lock (read_rows_after: `setup`, if
 * not NULL, first, in the same transaction). A lost PostgreSQL connection is
 * re-established by begin(), so reads go through a (read) transaction. */
static int read_rows_after(kr_inventory_t *inv, const char *setup, int stmt_id, const char *sql,
                           const kr_inv_param *p, size_t n, kr_inv_rows *rows, kr_error_t *err)
{
    pthread_mutex_lock(&inv->lock);
    int ret = inv->ops->begin(inv->be, KR_INV_BEGIN_READ, err);
    if (ret == 0 && setup)
        ret = inv->ops->exec_script(inv->be, setup, err);
    if (ret == 0)
        ret = inv->ops->exec(inv->be, stmt_id, sql, p, n, rows, NULL, err);
    return end_read(inv, ret, rows, err);
}

static int read_rows(kr_inventory_t *inv, int stmt_id, const char *sql, const kr_inv_param *p,
                     size_t n, kr_inv_rows *rows, kr_error_t *err)
{
    return read_rows_after(inv, NULL, stmt_id, sql, p, n, rows, err);
}

int kr_inventory_checkpoint(kr_inventory_t *inv, const char *cluster, const char *resource,
                            char **rv, kr_error_t *err)
{
    if (!inv || !cluster || !resource || !rv)
        return kr_error_set(err, KR_EINVAL, "inventory: cluster, resource and rv are required");
    *rv = NULL;
    kr_inv_param p[] = {KR_INV_TEXT(cluster), KR_INV_TEXT(resource)};
    kr_inv_rows rows = {0};
    int ret = read_rows(inv, KR_INV_STMT_GET_CHECKPOINT,
                        "SELECT resource_version FROM kr_checkpoints"
                        " WHERE cluster = ? AND resource = ?",
                        p, 2, &rows, err);
    if (ret == 0 && rows.n_rows && !(*rv = kr_strdup(kr_inv_cell(&rows, 0, 0))))
        ret = kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    kr_inv_rows_free(&rows);
    return ret;
}

int kr_inventory_checkpoints(kr_inventory_t *inv, json_t **out, kr_error_t *err)
{
    if (!inv || !out)
        return kr_error_set(err, KR_EINVAL, "inventory: inv and out are required");
    *out = NULL;
    kr_inv_rows rows = {0};
    int ret = read_rows(inv, KR_INV_STMT_CHECKPOINTS,
                        "SELECT cluster, resource, resource_version FROM kr_checkpoints"
                        " ORDER BY cluster, resource",
                        NULL, 0, &rows, err);
    if (ret != 0)
        return ret;
    json_t *arr = json_array();
    for (size_t r = 0; arr && r < rows.n_rows; r++)
        if (json_array_append_new(arr,
                                  json_pack("{s:s, s:s, s:s}", "cluster", kr_inv_cell(&rows, r, 0),
                                            "resource", kr_inv_cell(&rows, r, 1), "resourceVersion",
                                            kr_inv_cell(&rows, r, 2))) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    kr_inv_rows_free(&rows);
    if (!arr)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    *out = arr;
    return 0;
}

/* ---- reading objects --------------------------------------------------- */

#define OBJECT_COLUMNS                                                                             \
    "cluster, api_version, kind, namespace, name, uid, resource_version, phase, labels, "          \
    "created, deleted_ms, seq, object"

static json_t *text_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *object_row_json(const kr_inv_rows *rows, size_t r)
{
    json_t *labels = json_loads(kr_inv_cell(rows, r, 8), 0, NULL);
    json_t *object = json_loads(kr_inv_cell(rows, r, 12), 0, NULL);
    json_t *row =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:I, s:o}", "cluster",
                  kr_inv_cell(rows, r, 0), "apiVersion", kr_inv_cell(rows, r, 1), "kind",
                  kr_inv_cell(rows, r, 2), "namespace", kr_inv_cell(rows, r, 3), "name",
                  kr_inv_cell(rows, r, 4), "uid", kr_inv_cell(rows, r, 5), "resourceVersion",
                  kr_inv_cell(rows, r, 6), "phase", kr_inv_cell(rows, r, 7), "labels",
                  labels ? labels : json_object(), "created", text_or_null(kr_inv_cell(rows, r, 9)),
                  "deleted", time_json(kr_inv_cell(rows, r, 10)), "seq",
                  (json_int_t)strtoll(kr_inv_cell(rows, r, 11), NULL, 10), "object",
                  object ? object : json_null());
    return row;
}

/* The bytes of text a row of OBJECT_COLUMNS holds (its answer's size,
 * near enough: the object dominates). */
static size_t row_bytes(const kr_inv_rows *rows, size_t r)
{
    size_t n = 0;
    for (size_t c = 0; c < rows->n_cols; c++) {
        const char *cell = kr_inv_cell(rows, r, c);
        n += cell ? strlen(cell) + 1 : 1;
    }
    return n;
}

/* A page of objects ends once its rows pass this many bytes (unless the
 * caller gives its own: kr_inventory_query_opts.max_bytes). */
#define QUERY_MAX_BYTES ((size_t)4 << 20)
/* The sizes a page's first step asks at most (SQLite reads a row's object
 * to tell its size): a page of up to 127 small rows is still one step. */
#define QUERY_FIRST_SIZES 128

/* The SQL of the size a row of OBJECT_COLUMNS has in row_bytes(), near
 * enough (the numbers and the terminators: 64). */
static int append_row_bytes(kr_buf *sql, const kr_inv_backend_ops *ops)
{
    static const char *const text_cols[] = {
        "cluster", "api_version", "kind",   "namespace",        "name",   "uid",
        "phase",   "labels",      "object", "resource_version", "created"};
    int ret = kr_buf_append_str(sql, "64");
    for (size_t c = 0; c < sizeof(text_cols) / sizeof(text_cols[0]); c++) {
        ret |= kr_buf_append_str(sql, " + COALESCE(");
        ret |= kr_buf_printf(sql, ops->byte_length, text_cols[c]);
        ret |= kr_buf_append_str(sql, ", 0)");
    }
    return ret;
}

/* Read the rows of one step of a page in one read transaction: first the
 * sizes of the next `want` rows (sizes_sql), then (rows_sql) only as many
 * rows as it takes to pass `room` bytes, so that a step holds about the
 * page's budget whatever the rows' sizes. p[n - 1] is the LIMIT of both.
 * *n_sizes: the rows the first statement found; rows: what the second read
 * (nothing when room is 0). */
static int read_page_step(kr_inventory_t *inv, const char *sizes_sql, const char *rows_sql,
                          kr_inv_param *p, size_t n, size_t want, size_t room, kr_inv_rows *rows,
                          size_t *n_sizes, kr_error_t *err)
{
    kr_inv_rows sizes = {0};
    *n_sizes = 0;
    pthread_mutex_lock(&inv->lock);
    int ret = inv->ops->begin(inv->be, KR_INV_BEGIN_READ, err);
    if (ret == 0 && inv->ops->ordered_read)
        ret = inv->ops->exec_script(inv->be, inv->ops->ordered_read, err);
    p[n - 1] = KR_INV_INT((int64_t)want);
    if (ret == 0)
        ret = inv->ops->exec(inv->be, -1, sizes_sql, p, n, &sizes, NULL, err);
    size_t take = 0, sum = 0;
    if (ret == 0) {
        *n_sizes = sizes.n_rows;
        while (take < sizes.n_rows && sum < room) {
            const char *cell = kr_inv_cell(&sizes, take, 0);
            sum += cell ? (size_t)strtoull(cell, NULL, 10) : 0;
            take++;
        }
    }
    kr_inv_rows_free(&sizes);
    p[n - 1] = KR_INV_INT((int64_t)take);
    if (ret == 0 && take > 0)
        ret = inv->ops->exec(inv->be, -1, rows_sql, p, n, rows, NULL, err);
    return end_read(inv, ret, rows, err);
}

/* The continue token: base64 of the JSON array of the last row's key. */
static char *encode_continue(const json_t *row)
{
    json_t *key = json_pack("[s,s,s,s]", str_at(row, "cluster", NULL), str_at(row, "kind", NULL),
                            str_at(row, "namespace", NULL), str_at(row, "name", NULL));
    char *text = dump(key);
    json_decref(key);
    if (!text)
        return NULL;
    char *token = kr_config_base64_encode((const unsigned char *)text, strlen(text));
    dump_free(text);
    return token;
}

static int decode_continue(const char *token, json_t **key, kr_error_t *err)
{
    char *text = NULL;
    size_t len = 0, bad = 0;
    int rc = kr_config_base64_decode(token, strlen(token), &text, &len, &bad);
    if (rc == KR_ENOMEM)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    json_t *k = rc == 0 ? json_loadb(text, len, 0, NULL) : NULL;
    kr_free(text);
    if (!json_is_array(k) || json_array_size(k) != 4 || !json_is_string(json_array_get(k, 0)) ||
        !json_is_string(json_array_get(k, 1)) || !json_is_string(json_array_get(k, 2)) ||
        !json_is_string(json_array_get(k, 3))) {
        json_decref(k);
        return kr_error_set(err, KR_EPARSE, "inventory: malformed continue token");
    }
    *key = k;
    return 0;
}

/* The objects' order (their key), and the equality filters on its
 * columns (name has none). */
static const char *const key_cols[] = {"cluster", "kind", "namespace", "name"};

/* How many leading key columns the filters fix by equality: cluster, then
 * kind, then namespace, as far as each is given. */
static size_t fixed_key_cols(const char *const filter[3])
{
    size_t n = 0;
    while (n < 3 && filter[n])
        n++;
    return n;
}

/* How a continue token's key stands to the n_fixed leading key columns
 * the filters fix: < 0 before every row they select, > 0 after every one,
 * 0 inside (bytewise, as the key columns sort). */
static int key_prefix_cmp(const char *const filter[3], size_t n_fixed, const json_t *after)
{
    for (size_t k = 0; k < n_fixed; k++) {
        int c = strcmp(json_string_value(json_array_get(after, k)), filter[k]);
        if (c != 0)
            return c;
    }
    return 0;
}

/* The WHERE clause of a page after `after` (NULL: the first page), its
 * parameters appended to p[*n]. Every page is one seek in an index that
 * serves its order: the key (primary key) without a phase, (phase, key)
 * with one. The equalities on the leading key columns (n_fixed) are
 * part of the seek; the keyset compares only the key columns after them
 * (a comparison of the whole key would make the index scan from the start
 * of the range the equalities select); a filter on a later key column is
 * checked on the rows the seek reads, marked so that SQLite neither seeks
 * on it nor sorts for it. */
static int append_where(kr_buf *sql, const kr_inv_backend_ops *ops,
                        const kr_inventory_query_opts *opts, const char *const filter[3],
                        size_t n_fixed, const json_t *after, kr_inv_param *p, size_t *n)
{
    int ret = kr_buf_append_str(sql, " WHERE 1 = 1");
    if (!opts->include_deleted)
        ret |= kr_buf_append_str(sql, " AND deleted_ms IS NULL");
    for (size_t k = 0; k < 3; k++)
        if (filter[k]) {
            ret |= kr_buf_printf(sql, " AND %s%s = ?", k < n_fixed ? "" : ops->check_only,
                                 key_cols[k]);
            p[(*n)++] = KR_INV_TEXT(filter[k]);
        }
    if (opts->phase && *opts->phase) {
        ret |= kr_buf_append_str(sql, " AND phase = ?");
        p[(*n)++] = KR_INV_TEXT(opts->phase);
    }
    if (after) {
        ret |= kr_buf_append_str(sql, " AND (");
        for (size_t k = n_fixed; k < 4; k++)
            ret |= kr_buf_printf(sql, "%s%s", k > n_fixed ? ", " : "", key_cols[k]);
        ret |= kr_buf_append_str(sql, ") > (");
        for (size_t k = n_fixed; k < 4; k++) {
            ret |= kr_buf_append_str(sql, k > n_fixed ? ", ?" : "?");
            p[(*n)++] = KR_INV_TEXT(json_string_value(json_array_get(after, k)));
        }
        ret |= kr_buf_append_str(sql, ")");
    }
    return ret;
}

int kr_inventory_query(kr_inventory_t *inv, const kr_inventory_query_opts *opts, json_t **items,
                       char **next_continue, kr_error_t *err)
{
    if (!inv || !opts || !items)
        return kr_error_set(err, KR_EINVAL, "inventory: inv, opts and items are required");
    *items = NULL;
    if (next_continue)
        *next_continue = NULL;
    if (opts->version > KR_INVENTORY_QUERY_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "inventory: query options version %u is newer than %u",
                            opts->version, (unsigned)KR_INVENTORY_QUERY_OPTS_VERSION);
    size_t limit = opts->limit ? opts->limit : 100;
    if (limit > 1000)
        limit = 1000;
    kr_selector_t *sel = NULL;
    json_t *after = NULL;
    int ret = 0;
    if (opts->label_selector && *opts->label_selector &&
        (ret = kr_selector_parse(opts->label_selector, &sel, err)) != 0)
        return ret;
    if (opts->continue_token && *opts->continue_token &&
        (ret = decode_continue(opts->continue_token, &after, err)) != 0) {
        kr_selector_free(sel);
        return ret;
    }
    json_t *out = json_array();
    kr_buf sql = {0};
    if (!out)
        ret = KR_ENOMEM;
    size_t budget = opts->version >= 2 && opts->max_bytes ? opts->max_bytes : QUERY_MAX_BYTES;
    /* Rows come in key order; a label selector is matched here, so scan
     * steps of the key range until limit + 1 rows matched (the +1 tells
     * whether a next page exists). A step holds whole objects, so it
     * first reads the sizes of its next rows (QUERY_FIRST_SIZES, then
     * twice as many as the rows read so far say fit, up to `want`), then
     * only the rows that fill what the budget has left (and the one that
     * passes it). The page itself ends once its rows pass the budget, with
     * a continue token, whatever limit asked (as kube-apiserver may answer
     * fewer than limit). */
    size_t want = sel ? (limit + 1) * 4 : limit + 1;
    size_t out_bytes = 0, read_bytes = 0, read_n = 0;
    size_t ask = want < QUERY_FIRST_SIZES ? want : QUERY_FIRST_SIZES;
    kr_buf sizes_sql = {0};
    bool more = true, has_next = false;
    /* the equality filters (NULL: none); namespace "_" (never a
     * namespace's name) selects the cluster-scoped objects, whose
     * namespace is "" */
    const char *ns = opts->namespace_;
    const char *const filter[3] = {opts->cluster && *opts->cluster ? opts->cluster : NULL,
                                   opts->kind && *opts->kind ? opts->kind : NULL,
                                   ns && strcmp(ns, "_") == 0 ? ""
                                   : ns && *ns                ? ns
                                                              : NULL};
    size_t n_fixed = fixed_key_cols(filter);
    while (ret == 0 && more && !has_next) {
        kr_inv_param p[12];
        size_t n = 0;
        /* A token before every row the filters select reads from the
         * first; one after every row finds none. */
        int prefix = after ? key_prefix_cmp(filter, n_fixed, after) : 0;
        if (prefix > 0)
            break;
        kr_buf_reset(&sql);
        kr_buf_reset(&sizes_sql);
        ret = kr_buf_append_str(&sql, "SELECT " OBJECT_COLUMNS " FROM kr_objects");
        ret |= kr_buf_append_str(&sizes_sql, "SELECT ");
        ret |= append_row_bytes(&sizes_sql, inv->ops);
        ret |= kr_buf_append_str(&sizes_sql, " FROM kr_objects");
        size_t n_where = 0;
        ret |= append_where(&sizes_sql, inv->ops, opts, filter, n_fixed, prefix == 0 ? after : NULL,
                            p, &n_where);
        ret |=
            append_where(&sql, inv->ops, opts, filter, n_fixed, prefix == 0 ? after : NULL, p, &n);
        ret |= kr_buf_append_str(&sizes_sql, " ORDER BY cluster, kind, namespace, name LIMIT ?");
        ret |= kr_buf_append_str(&sql, " ORDER BY cluster, kind, namespace, name LIMIT ?");
        n++; /* the LIMIT, set by read_page_step */
        if (ret != 0) {
            ret = KR_ENOMEM;
            break;
        }
        kr_inv_rows rows = {0};
        size_t room = out_bytes < budget ? budget - out_bytes : 0, n_sizes = 0;
        ret = read_page_step(inv, sizes_sql.data, sql.data, p, n, ask, room, &rows, &n_sizes, err);
        if (ret != 0)
            break;
        if (room == 0) {
            /* full: a next row opens the next page */
            has_next = n_sizes > 0;
            break;
        }
        more = rows.n_rows < n_sizes || n_sizes == ask;
        for (size_t r = 0; r < rows.n_rows && ret == 0 && !has_next; r++) {
            size_t bytes = row_bytes(&rows, r);
            read_bytes += bytes;
            read_n++;
            if (out_bytes >= budget) {
                /* full: this row opens the next page */
                has_next = true;
                break;
            }
            json_t *row = object_row_json(&rows, r);
            if (!row) {
                ret = KR_ENOMEM;
                break;
            }
            json_t *key = json_pack("[s,s,s,s]", kr_inv_cell(&rows, r, 0), kr_inv_cell(&rows, r, 2),
                                    kr_inv_cell(&rows, r, 3), kr_inv_cell(&rows, r, 4));
            json_decref(after);
            after = key;
            if (sel && !kr_selector_matches(sel, json_object_get(row, "labels"))) {
                json_decref(row);
                continue;
            }
            if (json_array_size(out) == limit) {
                has_next = true;
                json_decref(row);
                break;
            }
            json_array_append_new(out, row);
            out_bytes += bytes;
        }
        if (rows.n_rows && !after && ret == 0)
            ret = KR_ENOMEM;
        kr_inv_rows_free(&rows);
        size_t avg = read_n ? read_bytes / read_n + 1 : 1;
        ask = budget / avg * 2;
        ask = ask < QUERY_FIRST_SIZES / 16 ? QUERY_FIRST_SIZES / 16 : ask > want ? want : ask;
    }
    if (ret == 0 && has_next && next_continue && json_array_size(out) &&
        !(*next_continue = encode_continue(json_array_get(out, json_array_size(out) - 1))))
        ret = KR_ENOMEM;
    if (ret == KR_ENOMEM)
        kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    kr_buf_free(&sql);
    kr_buf_free(&sizes_sql);
    kr_selector_free(sel);
    json_decref(after);
    if (ret != 0) {
        json_decref(out);
        return ret;
    }
    *items = out;
    return 0;
}

int kr_inventory_get(kr_inventory_t *inv, const char *cluster, const char *kind,
                     const char *namespace_, const char *name, json_t **row, kr_error_t *err)
{
    if (!inv || !cluster || !kind || !name || !row)
        return kr_error_set(err, KR_EINVAL, "inventory: cluster, kind and name are required");
    *row = NULL;
    kr_inv_param p[] = {KR_INV_TEXT(cluster), KR_INV_TEXT(kind),
                        KR_INV_TEXT(namespace_ ? namespace_ : ""), KR_INV_TEXT(name)};
    kr_inv_rows rows = {0};
    int ret = read_rows(inv, KR_INV_STMT_GET_OBJECT,
                        "SELECT " OBJECT_COLUMNS " FROM kr_objects"
                        " WHERE cluster = ? AND kind = ? AND namespace = ? AND name = ?",
                        p, 4, &rows, err);
    if (ret != 0)
        return ret;
    if (rows.n_rows == 0)
        ret = kr_error_set(err, KR_ENOTFOUND, "inventory: no %s %s%s%s in cluster %s", kind,
                           namespace_ && *namespace_ ? namespace_ : "",
                           namespace_ && *namespace_ ? "/" : "", name, cluster);
    else if (!(*row = object_row_json(&rows, 0)))
        ret = kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    kr_inv_rows_free(&rows);
    return ret;
}

/* ---- reading transactions --------------------------------------------- */

#define TXN_COLUMNS                                                                                \
    "seq, time_ms, cluster, api_version, kind, namespace, name, uid, resource_version, event, "    \
    "actor, patch"

static int txn_rows_json(const kr_inv_rows *rows, json_t **out, kr_error_t *err)
{
    json_t *arr = json_array();
    for (size_t r = 0; arr && r < rows->n_rows; r++) {
        const char *patch_text = kr_inv_cell(rows, r, 11);
        json_t *patch = patch_text ? json_loads(patch_text, 0, NULL) : NULL;
        json_t *row =
            json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "seq",
                      (json_int_t)strtoll(kr_inv_cell(rows, r, 0), NULL, 10), "time",
                      time_json(kr_inv_cell(rows, r, 1)), "cluster", kr_inv_cell(rows, r, 2),
                      "apiVersion", kr_inv_cell(rows, r, 3), "kind", kr_inv_cell(rows, r, 4),
                      "namespace", kr_inv_cell(rows, r, 5), "name", kr_inv_cell(rows, r, 6), "uid",
                      kr_inv_cell(rows, r, 7), "resourceVersion", kr_inv_cell(rows, r, 8), "event",
                      kr_inv_cell(rows, r, 9), "actor", kr_inv_cell(rows, r, 10), "patch",
                      patch ? patch : json_null());
        if (json_array_append_new(arr, row) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (!arr)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    *out = arr;
    return 0;
}

int kr_inventory_history(kr_inventory_t *inv, const char *kind, const char *namespace_,
                         const char *name, int64_t after_seq, size_t limit, json_t **out,
                         kr_error_t *err)
{
    return kr_inventory_history_range(inv, kind, namespace_, name, after_seq, 0, false, limit, out,
                                      err);
}

int kr_inventory_history_range(kr_inventory_t *inv, const char *kind, const char *namespace_,
                               const char *name, int64_t after_seq, int64_t before_seq,
                               bool newest_first, size_t limit, json_t **out, kr_error_t *err)
{
    if (!inv || !kind || !*kind || !name || !*name || !out)
        return kr_error_set(err, KR_EINVAL, "inventory: history needs kind and name");
    *out = NULL;
    /* both orders are one seek in the (kind, namespace, name, seq) index,
     * forward or backward */
    kr_inv_param p[] = {KR_INV_TEXT(kind),
                        KR_INV_TEXT(namespace_ ? namespace_ : ""),
                        KR_INV_TEXT(name),
                        KR_INV_INT(after_seq),
                        KR_INV_INT(before_seq > 0 ? before_seq : INT64_MAX),
                        KR_INV_INT((int64_t)(limit ? limit : 1000))};
    kr_inv_rows rows = {0};
    int ret =
        read_rows(inv, newest_first ? KR_INV_STMT_HISTORY_NEWEST : KR_INV_STMT_HISTORY,
                  newest_first ? "SELECT " TXN_COLUMNS " FROM kr_transactions WHERE kind = ? AND"
                                 " namespace = ? AND name = ? AND seq > ? AND seq < ?"
                                 " ORDER BY seq DESC LIMIT ?"
                               : "SELECT " TXN_COLUMNS " FROM kr_transactions WHERE kind = ? AND"
                                 " namespace = ? AND name = ? AND seq > ? AND seq < ?"
                                 " ORDER BY seq LIMIT ?",
                  p, 6, &rows, err);
    if (ret == 0)
        ret = txn_rows_json(&rows, out, err);
    kr_inv_rows_free(&rows);
    return ret;
}

int kr_inventory_transactions_after(kr_inventory_t *inv, int64_t after_seq, size_t limit,
                                    json_t **out, kr_error_t *err)
{
    if (!inv || !out)
        return kr_error_set(err, KR_EINVAL, "inventory: inv and out are required");
    *out = NULL;
    kr_inv_param p[] = {KR_INV_INT(after_seq), KR_INV_INT((int64_t)(limit ? limit : 1000))};
    kr_inv_rows rows = {0};
    int ret = read_rows(inv, KR_INV_STMT_AFTER,
                        "SELECT " TXN_COLUMNS " FROM kr_transactions WHERE seq > ?"
                        " ORDER BY seq LIMIT ?",
                        p, 2, &rows, err);
    if (ret == 0)
        ret = txn_rows_json(&rows, out, err);
    kr_inv_rows_free(&rows);
    return ret;
}

int kr_inventory_last_seq(kr_inventory_t *inv, int64_t *seq, kr_error_t *err)
{
    if (!inv || !seq)
        return kr_error_set(err, KR_EINVAL, "inventory: inv and seq are required");
    *seq = 0;
    kr_inv_rows rows = {0};
    int ret = read_rows(inv, KR_INV_STMT_LAST_SEQ, "SELECT max(seq) FROM kr_transactions", NULL, 0,
                        &rows, err);
    if (ret == 0 && rows.n_rows && kr_inv_cell(&rows, 0, 0))
        *seq = strtoll(kr_inv_cell(&rows, 0, 0), NULL, 10);
    kr_inv_rows_free(&rows);
    return ret;
}
