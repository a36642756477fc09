/* libkreconcile — the inventory's SQLite backend: one connection in WAL mode
 * (synchronous=NORMAL: a commit survives a crash of the process; a power
 * loss may undo the last commits together with their checkpoints, so the
 * producers replay them), prepared statements kept per statement id.
 * A file that is not a database is refused, never rewritten. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "inventory_internal.h"

/* How long a statement waits for another connection's lock. */
#define SQLITE_BUSY_TIMEOUT_MS 5000

typedef struct sqlite_be {
    sqlite3 *db;
    sqlite3_stmt *stmts[KR_INV_N_STMTS];
    char path[1024];
} sqlite_be;

int kr_inv_sqlite_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return KR_EIO;
    /* What the file's surroundings do, not the row: another writer, a
     * full disk, a failing or remounted read-only disk. A writer that
     * waits (an outbox) tries again rather than drop what it records. */
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
        return KR_EUNAVAILABLE;
    case SQLITE_NOMEM:
        return KR_ENOMEM;
    default:
        return KR_EIO;
    }
}

static int sqlite_error(sqlite_be *be, int rc, const char *what, kr_error_t *err)
{
    int primary = rc & 0xff, code = kr_inv_sqlite_code(rc);
    const char *msg = be->db ? sqlite3_errmsg(be->db) : sqlite3_errstr(rc);
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
        return kr_error_set(err, KR_EIO,
                            "inventory: %s is not a valid SQLite database (%s: %s); refusing to "
                            "use it, the file is left untouched",
                            be->path, what, msg);
    if (code == KR_EUNAVAILABLE)
        return kr_error_set(err, KR_EUNAVAILABLE, "inventory: sqlite %s on %s: %s (retry later)",
                            what, be->path, msg);
    if (code == KR_ENOMEM)
        return kr_error_set(err, KR_ENOMEM, "inventory: sqlite %s: out of memory", what);
    return kr_error_set(err, KR_EIO, "inventory: sqlite %s on %s: %s", what, be->path, msg);
}

static int bind_params(sqlite_be *be, sqlite3_stmt *st, const kr_inv_param *params, size_t n,
                       kr_error_t *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        switch (params[i].type) {
        case KR_INV_P_TEXT:
            rc = sqlite3_bind_text(st, (int)i + 1, params[i].text, -1, SQLITE_STATIC);
            break;
        case KR_INV_P_INT:
            rc = sqlite3_bind_int64(st, (int)i + 1, params[i].i);
            break;
        default:
            rc = sqlite3_bind_null(st, (int)i + 1);
            break;
        }
        if (rc != SQLITE_OK)
            return sqlite_error(be, rc, "bind", err);
    }
    return 0;
}

static const char *sqlite_cell(void *row, size_t col, size_t *len)
{
    sqlite3_stmt *st = row;
    const char *text = (const char *)sqlite3_column_text(st, (int)col);
    *len = (size_t)sqlite3_column_bytes(st, (int)col);
    return text;
}

static int sqlite_exec(void *self, int stmt_id, const char *sql, const kr_inv_param *params,
                       size_t n, kr_inv_rows *rows, int64_t *changes, kr_error_t *err)
{
    sqlite_be *be = self;
    sqlite3_stmt *st = stmt_id >= 0 ? be->stmts[stmt_id] : NULL;
    int rc;
    if (!st) {
        rc = sqlite3_prepare_v2(be->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
            return sqlite_error(be, rc, "prepare", err);
        if (stmt_id >= 0)
            be->stmts[stmt_id] = st;
    }
    int ret = bind_params(be, st, params, n, err);
    while (ret == 0) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            ret = sqlite_error(be, rc, "step", err);
            break;
        }
        if (rows)
            ret = kr_inv_rows_add(rows, (size_t)sqlite3_column_count(st), sqlite_cell, st, err);
    }
    if (ret == 0 && changes)
        *changes = sqlite3_changes64(be->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (stmt_id < 0)
        sqlite3_finalize(st);
    return ret;
}

static int sqlite_exec_script(void *self, const char *sql, kr_error_t *err)
{
    sqlite_be *be = self;
    int rc = sqlite3_exec(be->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sqlite_error(be, rc, "exec", err);
}

/* The busy handler is not called where waiting could deadlock: a
 * connection that holds a read lock and needs the write lock gets
 * SQLITE_BUSY at once. PRAGMA journal_mode=WAL is such a statement, and
 * several processes opening one new file at once meet it (the first to
 * convert the file wins). The statement is tried again, with pauses from
 * 5 ms doubling to 200 ms, until the busy timeout has passed. */
static int sqlite_exec_busy_retry(sqlite_be *be, const char *sql, kr_error_t *err)
{
    int64_t deadline = kr_clock_monotonic_ns() + (int64_t)SQLITE_BUSY_TIMEOUT_MS * 1000000;
    int pause = 5;
    for (;;) {
        int rc = sqlite3_exec(be->db, sql, NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || kr_clock_monotonic_ns() >= deadline)
            return rc == SQLITE_OK ? 0 : sqlite_error(be, rc, sql, err);
        sqlite3_sleep(pause);
        pause = pause * 2 > 200 ? 200 : pause * 2;
    }
}

static int sqlite_begin(void *self, int mode, kr_error_t *err)
{
    sqlite_be *be = self;
    /* A file renamed or deleted under us takes every write to a file
     * nobody will open again: refused (a writer waits, never drops),
     * until a restart opens the path anew. One stat(2) per transaction. */
    int moved = 0;
    if (mode != KR_INV_BEGIN_READ && strcmp(be->path, ":memory:") != 0 &&
        sqlite3_file_control(be->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
        return kr_error_set(err, KR_EUNAVAILABLE,
                            "inventory: %s was moved or deleted since it was opened: writes are "
                            "refused (restart to open the path again)",
                            be->path);
    /* BEGIN IMMEDIATE takes the write lock at once (and serialises schema
     * changes): a busy database fails here, not halfway through a batch. */
    return sqlite_exec_script(self, mode == KR_INV_BEGIN_READ ? "BEGIN" : "BEGIN IMMEDIATE", err);
}

static int sqlite_commit(void *self, kr_error_t *err)
{
    return sqlite_exec_script(self, "COMMIT", err);
}

static void sqlite_rollback(void *self)
{
    sqlite_be *be = self;
    if (!sqlite3_get_autocommit(be->db))
        sqlite3_exec(be->db, "ROLLBACK", NULL, NULL, NULL);
}

static void sqlite_close(void *self)
{
    sqlite_be *be = self;
    if (!be)
        return;
    for (size_t i = 0; i < KR_INV_N_STMTS; i++)
        sqlite3_finalize(be->stmts[i]);
    sqlite3_close(be->db);
    kr_free(be);
}

static const kr_inv_backend_ops sqlite_ops = {
    .name = "sqlite",
    .key_collation = "",
    .seq_column = "INTEGER PRIMARY KEY AUTOINCREMENT",
    .check_only = "+",
    .byte_length = "length(CAST(%s AS BLOB))",
    .exec = sqlite_exec,
    .exec_script = sqlite_exec_script,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .close = sqlite_close,
};

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A URL's path percent-decoded into out (a URL's %20 is a space in the
 * file's name): -1 when a % is not followed by two hex digits, encodes a
 * NUL byte (it would cut the name short) or the path does not fit. */
static int decode_path(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (const char *s = in; *s; s++) {
        char c = *s;
        if (c == '%') {
            int hi = hex_digit(s[1]), lo = hi < 0 ? -1 : hex_digit(s[2]);
            if (lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            s += 2;
        }
        if (n + 1 >= size)
            return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

int kr_inv_sqlite_open(const kr_inv_open_opts *opts, const kr_inv_backend_ops **ops, void **out,
                       kr_error_t *err)
{
    const char *url = opts->url;
    const char *path;
    if (strcmp(url, "sqlite::memory:") == 0)
        path = ":memory:";
    else if (strncmp(url, "sqlite://", 9) == 0)
        path = url + 9; /* sqlite:///abs → /abs; sqlite://rel → rel */
    else
        return kr_error_set(err, KR_EINVAL, "inventory: not a sqlite URL: %s", url);
    if (!*path || strchr(path, '?'))
        return kr_error_set(err, KR_EINVAL,
                            "inventory: %s: expected sqlite:///path/to/file.db (a file path, no "
                            "query)",
                            url);
    sqlite_be *be = kr_calloc(1, sizeof(*be));
    if (!be)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    if (decode_path(path, be->path, sizeof(be->path)) != 0) {
        kr_free(be);
        return kr_error_set(err, KR_EINVAL,
                            "inventory: %s: the path is too long or has a %% that is not two hex "
                            "digits or encodes a NUL byte",
                            url);
    }
    path = be->path;
    int rc = sqlite3_open_v2(path, &be->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        kr_error_set(err, KR_ECONNECT, "inventory: cannot open %s: %s", path,
                     be->db ? sqlite3_errmsg(be->db) : sqlite3_errstr(rc));
        sqlite_close(be);
        return err ? err->code : KR_ECONNECT;
    }
    sqlite3_extended_result_codes(be->db, 1);
    sqlite3_busy_timeout(be->db, SQLITE_BUSY_TIMEOUT_MS);
    /* The first read of the header: a file that is not a database fails
     * here with SQLITE_NOTADB, before anything could write to it. */
    int ret = sqlite_exec_busy_retry(be, "SELECT count(*) FROM sqlite_master", err);
    if (ret == 0 && strcmp(path, ":memory:") != 0)
        ret = sqlite_exec_busy_retry(be, "PRAGMA journal_mode=WAL", err);
    if (ret == 0)
        ret = sqlite_exec_script(be, "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768", err);
    if (ret == 0) {
        /* A damaged page behind a valid header is found by quick_check. */
        kr_inv_rows rows = {0};
        ret = sqlite_exec(be, -1, "PRAGMA quick_check(1)", NULL, 0, &rows, NULL, err);
        if (ret == 0 && (rows.n_rows != 1 || !kr_inv_cell(&rows, 0, 0) ||
                         strcmp(kr_inv_cell(&rows, 0, 0), "ok") != 0))
            ret = kr_error_set(err, KR_EIO,
                               "inventory: %s is corrupted (quick_check: %s); refusing to use it, "
                               "the file is left untouched",
                               path,
                               rows.n_rows && kr_inv_cell(&rows, 0, 0) ? kr_inv_cell(&rows, 0, 0)
                                                                       : "no answer");
        kr_inv_rows_free(&rows);
    }
    if (ret != 0) {
        sqlite_close(be);
        return ret;
    }
    *ops = &sqlite_ops;
    *out = be;
    return 0;
}
