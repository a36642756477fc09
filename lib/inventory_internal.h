/* libkreconcile — the inventory's one backend interface: what the SQL of
 * lib/inventory.c needs from a database (statements with text/integer
 * parameters, transactions, rows of text), implemented by SQLite
 * (lib/inventory_sqlite.c) and PostgreSQL (lib/inventory_pg.c). Never
 * installed. A backend is used by one thread at a time (the inventory's
 * mutex). */
#ifndef KR_LIB_INVENTORY_INTERNAL_H
#define KR_LIB_INVENTORY_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "kreconcile/common.h"
#include "kreconcile/inventory.h"

/* A statement parameter: SQL NULL, text, or a 64-bit integer. */
typedef enum kr_inv_ptype { KR_INV_P_NULL, KR_INV_P_TEXT, KR_INV_P_INT } kr_inv_ptype;

typedef struct kr_inv_param {
    kr_inv_ptype type;
    const char *text; /* borrowed */
    int64_t i;
} kr_inv_param;

static inline kr_inv_param kr_inv_text(const char *s)
{
    return (kr_inv_param){s ? KR_INV_P_TEXT : KR_INV_P_NULL, s, 0};
}

/* A text parameter (NULL: SQL NULL) and an integer one. */
#define KR_INV_TEXT(s) kr_inv_text(s)
#define KR_INV_INT(v) ((kr_inv_param){KR_INV_P_INT, NULL, (v)})

/* Result rows, every cell text (NULL for SQL NULL). */
typedef struct kr_inv_rows {
    size_t n_rows, n_cols;
    char **cells; /* n_rows * n_cols, row-major; each new */
} kr_inv_rows;

static inline const char *kr_inv_cell(const kr_inv_rows *r, size_t row, size_t col)
{
    return r->cells[row * r->n_cols + col];
}

void kr_inv_rows_free(kr_inv_rows *rows);

/* Cell `col` of a backend's current result row: its text (NULL for SQL
 * NULL, borrowed) and *len its length in bytes. */
typedef const char *(*kr_inv_cell_cb)(void *row, size_t col, size_t *len);

/* Append one row of n_cols cells copied from what cell(row, col) gives.
 * 0, or KR_ENOMEM / KR_EINVAL (more columns than a row may have) with
 * err set. */
int kr_inv_rows_add(kr_inv_rows *rows, size_t n_cols, kr_inv_cell_cb cell, void *row,
                    kr_error_t *err);

enum { KR_INV_BEGIN_READ, KR_INV_BEGIN_WRITE, KR_INV_BEGIN_SCHEMA };

/* PostgreSQL: the advisory lock every write transaction takes until its
 * commit (lib/inventory_pg.c), so that sequences commit in order. */
#define KR_INV_PG_WRITE_LOCK "7234052"

/* The SQL dialect differences the shared code must know. */
typedef struct kr_inv_backend_ops {
    const char *name; /* "sqlite", "postgresql" */
    /* Text parameters may be array literals ({"a","b"}) that statements
     * unnest: a chunk's lookups are then one statement of a fixed shape
     * (PostgreSQL's planner scans a whole key prefix for an OR of keys). */
    bool arrays;
    /* The schema's dialect (lib/inventory.c): what follows TEXT in key
     * columns, and the transactions' sequence column. */
    const char *key_collation;
    const char *seq_column;
    /* What precedes a column in a condition that the rows an index seek
     * reads are only checked against: SQLite's unary + (without it SQLite
     * may seek on the column instead, or sort a fixed column's rows). */
    const char *check_only;
    /* Run before a page of objects in its read transaction (NULL: none):
     * PostgreSQL without statistics yet (a table just loaded) would rather
     * read every row after the page's start and sort them than scan the
     * index that has them in order; sorting is made its last resort. */
    const char *ordered_read;
    /* The SQL of a text column's size in bytes, %s the column (without
     * reading a large value whole where the database can). */
    const char *byte_length;
    /* Statements: `sql` uses ? placeholders (rewritten as $n for
     * PostgreSQL). `stmt_id` >= 0 names a statement the backend may keep
     * prepared (the same id always comes with the same sql); -1: run once.
     * rows (may be NULL) receives the result; *changes (may be NULL) the
     * rows an INSERT/UPDATE touched. Errors: KR_EUNAVAILABLE (connection
     * lost, busy, serialization failure: the caller may retry the whole
     * transaction), KR_EIO (corruption or another error), KR_ENOMEM. */
    int (*exec)(void *be, int stmt_id, const char *sql, const kr_inv_param *params, size_t n,
                kr_inv_rows *rows, int64_t *changes, kr_error_t *err);
    /* Run statements without parameters or results (DDL). */
    int (*exec_script)(void *be, const char *sql, kr_error_t *err);
    /* Start a transaction (reconnecting first when the connection was
     * lost): KR_INV_BEGIN_READ, _WRITE, or _SCHEMA (a write that also takes
     * the lock serialising replicas that create or migrate the schema). */
    int (*begin)(void *be, int mode, kr_error_t *err);
    int (*commit)(void *be, kr_error_t *err);
    void (*rollback)(void *be);
    /* kr_inventory_interrupt (NULL: none). [any thread, while another
     * uses the backend] */
    void (*interrupt)(void *be);
    void (*close)(void *be);
} kr_inv_backend_ops;

typedef struct kr_inv_open_opts {
    const char *url;
    uint64_t connect_timeout_ms;
    const kr_logger *logger;
} kr_inv_open_opts;

/* Open a backend. *be is new; close with ops->close. The errors of
 * kr_inventory_new(). */
/* The KR_* code of an SQLite result code: KR_EUNAVAILABLE for what may
 * pass (busy, locked, a full disk, an I/O error, a read-only file),
 * KR_ENOMEM, else KR_EIO (the statement or the file is at fault). */
int kr_inv_sqlite_code(int sqlite_rc);
int kr_inv_sqlite_open(const kr_inv_open_opts *opts, const kr_inv_backend_ops **ops, void **be,
                       kr_error_t *err);
int kr_inv_pg_open(const kr_inv_open_opts *opts, const kr_inv_backend_ops **ops, void **be,
                   kr_error_t *err);

/* The keywords and values (NULL-terminated, at most KR_INV_PG_PARAMS
 * with the NULL) PostgreSQL's backend connects with, expand_dbname set:
 * TCP keepalives and a user timeout where the URL sets none, the URL,
 * then connect_timeout and application_name. Strings borrowed. Returns
 * how many. */
#define KR_INV_PG_PARAMS 10
size_t kr_inv_pg_conn_params(const char *url, const char *connect_timeout,
                             const char *keys[KR_INV_PG_PARAMS],
                             const char *values[KR_INV_PG_PARAMS]);

/* The stats getters of the consumer and the producer: `size` bytes of
 * `stats`, read under `lock` (both NULL for a NULL handle: zeros), into the
 * caller's `out` of out_size bytes (kr_copy_sized). [any thread] */
void kr_inv_stats_copy(pthread_mutex_t *lock, const void *stats, size_t size, void *out,
                       size_t out_size);

/* The URL with its password (if any) replaced by "***", into buf. */
const char *kr_inv_redact_url(const char *url, char *buf, size_t size);

/* 0 when the inventory would take `a` as an action (cluster, kind, name
 * and actor given, an event of [A-Z_]+), else KR_EINVAL with the reason. */
int kr_inv_action_check(const kr_inventory_action *a, kr_error_t *err);

/* kr_inventory_record_once() with the transaction's time given (ms since
 * the epoch; 0: now): the outbox's actions keep the time they were made. */
int kr_inv_record_at(kr_inventory_t *inv, const kr_inventory_action *a, const char *key,
                     int64_t time_ms, kr_error_t *err);

/* Events per chunk of a batch (lib/inventory.c). */
#define KR_INV_CHUNK 256

/* Statement ids shared by both backends' prepared-statement caches. */
enum {
    KR_INV_STMT_INSERT_TXN,
    KR_INV_STMT_UPSERT_CHECKPOINT,
    KR_INV_STMT_GET_CHECKPOINT,
    KR_INV_STMT_HISTORY,
    KR_INV_STMT_AFTER,
    KR_INV_STMT_GET_OBJECT,
    KR_INV_STMT_LAST_SEQ,
    KR_INV_STMT_CHECKPOINTS,
    KR_INV_STMT_HISTORY_NEWEST,
    /* The single-row statements of a chunk (backends without arrays). */
    KR_INV_STMT_CURRENT_ROW,
    KR_INV_STMT_HELD_ROW,
    KR_INV_STMT_UPSERT_OBJECT,
    /* The two writes of a chunk of 1..KR_INV_CHUNK events as one
     * statement each (backends with arrays: one round trip each), one id
     * per (statement, row count) from KR_INV_STMT_CHUNK_BASE on. */
    KR_INV_STMT_CHUNK_TXNS,
    KR_INV_STMT_CHUNK_OBJECTS,
    KR_INV_STMT_CHUNK_BASE,
    KR_INV_N_STMTS = KR_INV_STMT_CHUNK_BASE + 2 * KR_INV_CHUNK
};

/* kr_inventory_apply(), and when `retain` the events' objects are known
 * never to change (the consumer's: kr_inventory_consumer_enqueue), so the
 * states written from them are remembered (kr_inv_states) for the next
 * change of each object. [any thread but the consumer's writer] */
int kr_inv_apply(kr_inventory_t *inv, const kr_inventory_event *events, size_t n, bool retain,
                 kr_inventory_apply_result *result, kr_error_t *err);

/* 0 when kr_inventory_apply() would take `ev`, else KR_EINVAL with err
 * saying why (`what` names the event: "inventory: event 3"). The
 * consumer refuses at enqueue what its batch would be refused for.
 * [any thread] */
int kr_inv_check_event(const kr_inventory_event *ev, const char *what, kr_error_t *err);

/* ---- the states the inventory wrote (lib/inventory_state.c) ---------------
 * For each object (its key: kr_inv_states_key), the stored object of the
 * current row last written through this handle and the row's transaction
 * sequence and text length. A row read back with the same sequence holds
 * that state: sequences are never reused by a committed transaction (the
 * whole memory is cleared when a batch rolls back). Bounded by max_bytes
 * (the objects' text lengths and the entries), least recently used entries
 * dropped first. Guarded by the inventory's mutex. */
typedef struct kr_inv_states kr_inv_states;

/* New, or NULL (out of memory). Free with kr_inv_states_free (NULL: no-op). */
kr_inv_states *kr_inv_states_new(size_t max_bytes);
void kr_inv_states_free(kr_inv_states *s);
/* Forget every state. */
void kr_inv_states_clear(kr_inv_states *s);
/* An object's key into b (replacing its content): 0 or KR_ENOMEM. */
int kr_inv_states_key(kr_buf *b, const char *cluster, const char *kind, const char *ns,
                      const char *name);
/* The state remembered under key if its row sequence and text length are
 * seq and text_len (borrowed: valid until the next call), else NULL. */
const json_t *kr_inv_states_get(kr_inv_states *s, const char *key, size_t len, int64_t seq,
                                size_t text_len);
/* Remember `object` (a reference is taken; it must never change) as the
 * state of key's row of sequence seq, text_len bytes of text. Nothing is
 * remembered when memory is short or the entry alone passes the bound. */
void kr_inv_states_put(kr_inv_states *s, const char *key, size_t len, int64_t seq,
                       const json_t *object, size_t text_len);
/* Forget key's state. */
void kr_inv_states_remove(kr_inv_states *s, const char *key, size_t len);

#endif /* KR_LIB_INVENTORY_INTERNAL_H */
