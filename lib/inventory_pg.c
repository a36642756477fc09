/* libkreconcile — the inventory's PostgreSQL backend (libpq): one
 * connection, prepared statements per id (prepared again after a
 * reconnection), ? placeholders rewritten as $n. A lost connection is
 * reported as KR_EUNAVAILABLE and re-established at the next transaction,
 * so callers retry whole transactions. libpq's notices are swallowed: the
 * library never prints. */
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "inventory_internal.h"

typedef struct pg_be {
    PGconn *conn;
    bool prepared[KR_INV_N_STMTS];
    char where[512]; /* the URL without password, for messages */
    const kr_logger *logger;
    /* What kr_inventory_interrupt acts on, from another thread: a
     * duplicate of the connection's socket (-1: none), its own so that
     * libpq closing its descriptor (a lost connection) never lets the
     * number name another file here, and whether the backend was
     * interrupted (it then reconnects no more). Guarded by sock_mu. */
    pthread_mutex_t sock_mu;
    int sock;
    bool interrupted;
} pg_be;

/* The connection's socket watched again (after a connect): interrupted
 * meanwhile, it is shut down at once. */
static void watch_socket(pg_be *be)
{
    pthread_mutex_lock(&be->sock_mu);
    int fd = PQsocket(be->conn);
    be->sock = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (be->interrupted && be->sock >= 0)
        shutdown(be->sock, SHUT_RDWR);
    pthread_mutex_unlock(&be->sock_mu);
}

/* The socket no longer watched (before a reconnection, at close): whether
 * the backend was interrupted. */
static bool unwatch_socket(pg_be *be)
{
    pthread_mutex_lock(&be->sock_mu);
    if (be->sock >= 0)
        close(be->sock);
    be->sock = -1;
    bool interrupted = be->interrupted;
    pthread_mutex_unlock(&be->sock_mu);
    return interrupted;
}

static bool was_interrupted(pg_be *be)
{
    pthread_mutex_lock(&be->sock_mu);
    bool interrupted = be->interrupted;
    pthread_mutex_unlock(&be->sock_mu);
    return interrupted;
}

static int interrupted_error(pg_be *be, kr_error_t *err)
{
    return kr_error_set(err, KR_EUNAVAILABLE,
                        "inventory: postgresql (%s): interrupted: the program stops", be->where);
}

/* kr_inventory_interrupt: the statement under way (if any) sees its
 * connection end now. A cancel request (PQcancel) or a statement_timeout
 * would need the server to answer, and the server may be the one that
 * stalls (stopped, or its host unreachable); shutting the socket down
 * here needs nothing from it. A connection being made is not touched:
 * connect_timeout bounds it, and watch_socket shuts it once made. */
static void pg_interrupt(void *self)
{
    pg_be *be = self;
    pthread_mutex_lock(&be->sock_mu);
    be->interrupted = true;
    if (be->sock >= 0)
        shutdown(be->sock, SHUT_RDWR);
    pthread_mutex_unlock(&be->sock_mu);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* libpq's message as one line: its continuation lines ("\n\tIs the server
 * running...") joined by a space, the trailing newline gone. */
static void one_line(char *msg)
{
    char *w = msg;
    for (const char *r = msg; *r; r++) {
        if (*r == '\n' || *r == '\r' || *r == '\t') {
            if (w > msg && w[-1] != ' ')
                *w++ = ' ';
        } else {
            *w++ = *r;
        }
    }
    while (w > msg && w[-1] == ' ')
        w--;
    *w = '\0';
}

/* KR_EUNAVAILABLE when the failure is worth retrying later: the connection
 * is gone (class 08, admin shutdown 57P01..57P03) or the transaction lost a
 * race (40001, 40P01); KR_EIO otherwise. */
static int pg_error(pg_be *be, const PGresult *res, const char *what, kr_error_t *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg)
        msg = PQerrorMessage(be->conn);
    char clean[512];
    snprintf(clean, sizeof(clean), "%s", msg ? msg : "");
    one_line(clean);
    bool lost = PQstatus(be->conn) != CONNECTION_OK;
    bool retry = lost || (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
                                    strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0));
    if (retry)
        return kr_error_set(err, KR_EUNAVAILABLE, "inventory: postgresql %s (%s): %s (retry later)",
                            what, be->where, clean);
    return kr_error_set(err, KR_EIO, "inventory: postgresql %s (%s): %s%s%s", what, be->where,
                        clean, state ? " SQLSTATE " : "", state ? state : "");
}

/* "? ... ?" → "$1 ... $n" (no ? appears inside our literals). */
static char *rewrite_placeholders(const char *sql)
{
    kr_buf b = {0};
    int n = 0;
    for (const char *p = sql; *p; p++) {
        int rc = *p == '?' ? kr_buf_printf(&b, "$%d", ++n) : kr_buf_append(&b, p, 1);
        if (rc != 0) {
            kr_buf_free(&b);
            return NULL;
        }
    }
    if (!b.data)
        return kr_strdup("");
    return b.data;
}

typedef struct pg_row {
    const PGresult *res;
    int row;
} pg_row;

static const char *pg_cell(void *row, size_t col, size_t *len)
{
    pg_row *at = row;
    if (PQgetisnull(at->res, at->row, (int)col))
        return NULL;
    *len = (size_t)PQgetlength(at->res, at->row, (int)col);
    return PQgetvalue(at->res, at->row, (int)col);
}

static int pg_collect(pg_be *be, PGresult *res, kr_inv_rows *rows, int64_t *changes,
                      kr_error_t *err)
{
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return pg_error(be, res, "statement", err);
    if (changes) {
        const char *t = PQcmdTuples(res);
        *changes = t && *t ? strtoll(t, NULL, 10) : 0;
    }
    if (!rows || st != PGRES_TUPLES_OK)
        return 0;
    pg_row at = {res, 0};
    for (; at.row < PQntuples(res); at.row++) {
        int ret = kr_inv_rows_add(rows, (size_t)PQnfields(res), pg_cell, &at, err);
        if (ret != 0)
            return ret;
    }
    return 0;
}

static int pg_exec(void *self, int stmt_id, const char *sql, const kr_inv_param *params, size_t n,
                   kr_inv_rows *rows, int64_t *changes, kr_error_t *err)
{
    pg_be *be = self;
    /* Parameters as text; integers formatted into `ints`. */
    const char **values = kr_calloc(n ? n : 1, sizeof(*values));
    char(*ints)[24] = kr_calloc(n ? n : 1, sizeof(*ints));
    char *text = values && ints ? rewrite_placeholders(sql) : NULL;
    if (!text) {
        kr_free(values);
        kr_free(ints);
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (params[i].type == KR_INV_P_INT) {
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)params[i].i);
            values[i] = ints[i];
        } else {
            values[i] = params[i].type == KR_INV_P_TEXT ? params[i].text : NULL;
        }
    }
    PGresult *res;
    if (stmt_id < 0) {
        res = PQexecParams(be->conn, text, (int)n, NULL, values, NULL, NULL, 0);
    } else {
        char name[24];
        snprintf(name, sizeof(name), "kr_s%d", stmt_id);
        if (!be->prepared[stmt_id]) {
            PGresult *prep = PQprepare(be->conn, name, text, (int)n, NULL);
            int ret = 0;
            if (PQresultStatus(prep) != PGRES_COMMAND_OK)
                ret = pg_error(be, prep, "prepare", err);
            PQclear(prep);
            if (ret != 0) {
                kr_free(text);
                kr_free(values);
                kr_free(ints);
                return ret;
            }
            be->prepared[stmt_id] = true;
        }
        res = PQexecPrepared(be->conn, name, (int)n, values, NULL, NULL, 0);
    }
    kr_free(text);
    kr_free(values);
    kr_free(ints);
    if (!res)
        return pg_error(be, NULL, "statement", err);
    int ret = pg_collect(be, res, rows, changes, err);
    PQclear(res);
    return ret;
}

static int pg_exec_script(void *self, const char *sql, kr_error_t *err)
{
    pg_be *be = self;
    PGresult *res = PQexec(be->conn, sql);
    int ret = 0;
    if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK))
        ret = pg_error(be, res, "exec", err);
    PQclear(res);
    return ret;
}

/* Re-establish a lost connection (its prepared statements are gone). */
static int pg_ensure_connected(pg_be *be, kr_error_t *err)
{
    if (PQstatus(be->conn) == CONNECTION_OK)
        return 0;
    if (unwatch_socket(be))
        return interrupted_error(be, err);
    PQreset(be->conn);
    watch_socket(be);
    memset(be->prepared, 0, sizeof(be->prepared));
    if (PQstatus(be->conn) != CONNECTION_OK)
        return pg_error(be, NULL, "reconnect", err);
    PQsetNoticeProcessor(be->conn, ignore_notice, NULL);
    kr_log(be->logger, KR_LOG_INFO, "inventory", "reconnected to %s", be->where);
    return 0;
}

static int pg_begin(void *self, int mode, kr_error_t *err)
{
    pg_be *be = self;
    if (was_interrupted(be))
        return interrupted_error(be, err);
    int ret = pg_ensure_connected(be, err);
    if (ret == 0)
        ret = pg_exec_script(be, "BEGIN", err);
    /* A server restart is noticed by the first statement on the old
     * connection: reconnect and begin again, once, so that callers see no
     * error for it (nothing of the transaction ran yet). */
    if (ret == KR_EUNAVAILABLE && PQstatus(be->conn) == CONNECTION_BAD) {
        ret = pg_ensure_connected(be, err);
        if (ret == 0)
            ret = pg_exec_script(be, "BEGIN", err);
    }
    /* Replicas starting together must not create the tables twice. */
    if (ret == 0 && mode == KR_INV_BEGIN_SCHEMA)
        ret = pg_exec_script(be, "SELECT pg_advisory_xact_lock(7234051)", err);
    /* One writer at a time, as SQLite's BEGIN IMMEDIATE: a sequence hands
     * out numbers in call order, not commit order, so with two writers a
     * reader following seq (the SSE stream, transactions_after) could see
     * seq 8 committed before 7 and never read 7. Held until the commit. */
    if (ret == 0 && mode == KR_INV_BEGIN_WRITE)
        ret = pg_exec_script(be, "SELECT pg_advisory_xact_lock(" KR_INV_PG_WRITE_LOCK ")", err);
    return ret;
}

static int pg_commit(void *self, kr_error_t *err)
{
    return pg_exec_script(self, "COMMIT", err);
}

static void pg_rollback(void *self)
{
    pg_be *be = self;
    if (PQstatus(be->conn) == CONNECTION_OK && PQtransactionStatus(be->conn) != PQTRANS_IDLE) {
        PGresult *res = PQexec(be->conn, "ROLLBACK");
        PQclear(res);
    }
}

static void pg_close(void *self)
{
    pg_be *be = self;
    if (!be)
        return;
    PQfinish(be->conn);
    unwatch_socket(be);
    pthread_mutex_destroy(&be->sock_mu);
    kr_free(be);
}

static const kr_inv_backend_ops pg_ops = {
    .name = "postgresql",
    .arrays = true,
    /* Keys sort bytewise, as in SQLite (continue tokens compare them). */
    .key_collation = " COLLATE \"C\"",
    .seq_column = "BIGSERIAL PRIMARY KEY",
    .check_only = "",
    .ordered_read = "SET LOCAL enable_sort = off",
    .byte_length = "octet_length(%s)",
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .interrupt = pg_interrupt,
    .close = pg_close,
};

/* A dead peer (a server host gone, a network partition) is noticed in
 * about 25 s by keepalives (10 s idle, then 3 probes 5 s apart), and data
 * unacknowledged for 30 s ends the connection (Linux), instead of a
 * statement hanging for the kernel's two hours. */
static const char *const keepalive_params[][2] = {
    {"keepalives", "1"},       {"keepalives_idle", "10"},     {"keepalives_interval", "5"},
    {"keepalives_count", "3"}, {"tcp_user_timeout", "30000"},
};

/* Whether this libpq knows `keyword` (tcp_user_timeout came in 12): an
 * unknown keyword would fail every connection. */
static bool libpq_knows(const PQconninfoOption *defaults, const char *keyword)
{
    for (const PQconninfoOption *o = defaults; o && o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return true;
    return false;
}

size_t kr_inv_pg_conn_params(const char *url, const char *connect_timeout,
                             const char *keys[KR_INV_PG_PARAMS],
                             const char *values[KR_INV_PG_PARAMS])
{
    size_t n = 0;
    PQconninfoOption *defaults = PQconndefaults();
    /* Keywords are read in order, a later one overriding an earlier one:
     * our defaults first, so that the URL's own settings win. */
    for (size_t i = 0; i < KR_ARRAY_LEN(keepalive_params); i++)
        if (!defaults || libpq_knows(defaults, keepalive_params[i][0])) {
            keys[n] = keepalive_params[i][0];
            values[n++] = keepalive_params[i][1];
        }
    PQconninfoFree(defaults);
    /* A session that stops between the statements of its transaction (its
     * process paused, SIGSTOPped or frozen, a half-open connection the
     * server's keepalives take hours to see) would hold its row locks, and
     * every other writer of the inventory (the next leader's consumer, the
     * programs' records) would wait for it for good: the server ends it
     * after 15 s, a lease's length, far beyond our transactions' pauses
     * between statements. A URL's own options replace it. */
    keys[n] = "options";
    values[n++] = "-c idle_in_transaction_session_timeout=15000";
    /* The URL is expanded as dbname; the keywords after it add to it. */
    keys[n] = "dbname";
    values[n++] = url;
    keys[n] = "connect_timeout";
    values[n++] = connect_timeout;
    keys[n] = "application_name";
    values[n++] = "kreconcile-inventory";
    keys[n] = values[n] = NULL;
    return n;
}

int kr_inv_pg_open(const kr_inv_open_opts *opts, const kr_inv_backend_ops **ops, void **out,
                   kr_error_t *err)
{
    pg_be *be = kr_calloc(1, sizeof(*be));
    if (!be)
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    be->logger = opts->logger;
    be->sock = -1;
    pthread_mutex_init(&be->sock_mu, NULL);
    kr_inv_redact_url(opts->url, be->where, sizeof(be->where));
    char timeout[24];
    uint64_t ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 5000;
    snprintf(timeout, sizeof(timeout), "%llu", (unsigned long long)((ms + 999) / 1000));
    const char *keys[KR_INV_PG_PARAMS], *values[KR_INV_PG_PARAMS];
    kr_inv_pg_conn_params(opts->url, timeout, keys, values);
    be->conn = PQconnectdbParams(keys, values, 1);
    if (!be->conn) {
        pthread_mutex_destroy(&be->sock_mu);
        kr_free(be);
        return kr_error_set(err, KR_ENOMEM, "inventory: out of memory");
    }
    PQsetNoticeProcessor(be->conn, ignore_notice, NULL);
    if (PQstatus(be->conn) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(be->conn));
        one_line(msg);
        /* A URL libpq cannot parse is the caller's mistake, not an outage;
         * a host name that does not resolve (yet: a restarting database's
         * DNS name) is one, whatever the name holds. */
        bool unresolved = strncmp(msg, "could not translate host name", 29) == 0;
        int code =
            !unresolved && (strstr(msg, "invalid") || strstr(msg, "URI")) ? KR_EINVAL : KR_ECONNECT;
        kr_error_set(err, code, "inventory: cannot connect to %s: %s", be->where, msg);
        pg_close(be);
        return code;
    }
    watch_socket(be);
    *ops = &pg_ops;
    *out = be;
    return 0;
}
