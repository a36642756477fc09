/* libkreconcile tests — a private PostgreSQL server for a test: initdb in a
 * fresh temporary directory, a free loopback port, its unix socket in that
 * directory, run as `nobody` when the tests run as root. The server dies
 * with the process that started it (parent-death signal) and a reaper
 * then removes its directory, so a failed or crashed test leaves neither
 * behind. Test-only. */
#ifndef KR_TEST_PGSERVER_H
#define KR_TEST_PGSERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct kr_pgserver kr_pgserver;

/* initdb and start a server; *out is new (kr_pgserver_free). Returns 0, or
 * -1 with the reason in why[0..size) (no server binaries, initdb failed,
 * the server did not come up within 60 s). */
int kr_pgserver_start(kr_pgserver **out, char *why, size_t why_size);

/* postgresql://postgres@127.0.0.1:PORT/postgres (borrowed). */
const char *kr_pgserver_url(const kr_pgserver *srv);

/* A fresh database on the server: its URL into url[0..size). 0 or -1. */
int kr_pgserver_create_db(kr_pgserver *srv, char *url, size_t size);

/* Stop the server (fast shutdown; SIGKILL after 30 s), keeping its data
 * and port. 0 or -1. */
int kr_pgserver_stop(kr_pgserver *srv);
/* Start a stopped server again on the same data and port; waits until it
 * accepts connections. 0 or -1. */
int kr_pgserver_restart(kr_pgserver *srv);

/* Stop the server and remove its directory. NULL is a no-op. */
void kr_pgserver_free(kr_pgserver *srv);

/* A database stalled for a test: a session on `url` that holds `tables`
 * ("a" or "a, b") locked in ACCESS EXCLUSIVE MODE, in an open transaction,
 * so that every other statement on them waits until it is released
 * (kr_pgserver_unlock). NULL on failure. The type is libpq's PGconn. */
struct pg_conn *kr_pgserver_lock(const char *url, const char *tables);

/* Waits (up to 30 s) until a statement of another session waits for a
 * lock: true when one does. */
bool kr_pgserver_wait_for_a_waiter(struct pg_conn *holder);

/* The lock released (the transaction rolled back), the session closed.
 * NULL is a no-op. */
void kr_pgserver_unlock(struct pg_conn *holder);

/* What a suite does when no server can start: true when CI=true (the
 * suite must fail), false elsewhere (it skips, after printing why). */
bool kr_pgserver_required(void);

#endif /* KR_TEST_PGSERVER_H */
