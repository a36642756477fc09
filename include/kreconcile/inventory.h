/* libkreconcile — the inventory: a SQL database (SQLite or PostgreSQL) that
 * keeps the current state of the objects informers watch on many clusters,
 * an append-only transactions table (every observed change and every action
 * a program records, with its actor), and per cluster+resource checkpoints.
 *
 * Events are applied in batches, each batch in one database transaction
 * together with the checkpoints it advances, so that after any crash a
 * producer resumes from its checkpoint; re-applying an event already held
 * is a no-op. The Workflow API and the live page read only this.
 *
 * Threading: a kr_inventory_t holds one database connection behind a
 * mutex: every function may be called from any thread, calls are
 * serialised. The inventory starts two kinds of thread, and only when
 * asked: the consumer's writer (kr_inventory_consumer_start) and an
 * outbox's sender (kr_inventory_outbox_new). */
#ifndef KRECONCILE_INVENTORY_H
#define KRECONCILE_INVENTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "informer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_inventory kr_inventory_t;

/* The schema version this library creates and migrates to. */
#define KR_INVENTORY_SCHEMA_VERSION 2

/* ---- Opening ---------------------------------------------------------- */

#define KR_INVENTORY_OPTS_VERSION 2
#define KR_INVENTORY_OPTS_INIT                                                                     \
    {                                                                                              \
        .version = KR_INVENTORY_OPTS_VERSION                                                       \
    }

typedef struct kr_inventory_opts {
    unsigned version; /* KR_INVENTORY_OPTS_VERSION; 0 is read as 1 */
    /* Where the inventory lives (borrowed for the call):
     *   sqlite:///abs/path/inventory.db   a file (created when absent; WAL)
     *   sqlite://relative/path.db         a file relative to the working dir
     *   sqlite::memory:                   a private in-memory database
     *   postgresql://user:pw@host:port/db?... or postgres://...   (libpq URI)
     * Required. PostgreSQL connections use TCP keepalives (keepalives=1,
     * keepalives_idle=10, keepalives_interval=5, keepalives_count=3) and
     * tcp_user_timeout=30000, each unless the URL sets it. */
    const char *url;
    /* How long a PostgreSQL connection attempt may take; 0: 5000 ms. */
    uint64_t connect_timeout_ms;
    /* Where messages go (reconnections, retries). Zero: discarded. */
    kr_logger logger;
    /* Version 2 (never read when version is 0 or 1): while a PostgreSQL
     * server cannot be reached (it restarts, or starts after us), keep
     * trying to open it for up to this long, with pauses from 200 ms
     * doubling to 5 s, each failure logged as a warning; 0: one attempt.
     * A SQLite file is opened once; its statements (the open's
     * included) wait up to 5 s for another process's lock. */
    uint64_t connect_wait_ms;
} kr_inventory_opts;

/* Open the inventory at opts->url, create its tables when absent and
 * migrate them to KR_INVENTORY_SCHEMA_VERSION. *out is new: close with
 * kr_inventory_free(). Errors (err->message names the URL without its
 * password): KR_EINVAL (no URL, unknown scheme, empty path), KR_ECONNECT
 * (PostgreSQL unreachable, still after opts->connect_wait_ms, or the
 * SQLite file cannot be opened),
 * KR_EIO (a SQLite file that is not a database or is corrupted: refused,
 * the file is left untouched), KR_EUNSUPPORTED (a schema newer than this
 * library), KR_ENOMEM. [any thread] */
KR_API int kr_inventory_new(const kr_inventory_opts *opts, kr_inventory_t **out, kr_error_t *err);

/* Close the connection and free the inventory. NULL is a no-op. No other
 * thread may use it any more (stop its consumers first). [any thread] */
KR_API void kr_inventory_free(kr_inventory_t *inv);

/* End what a stalled database holds up, for a program about to exit: a
 * PostgreSQL statement under way on another thread (a server that stopped
 * answering, a lock another session holds) fails at once with
 * KR_EUNAVAILABLE, and so does every call after it (no reconnection is
 * tried; a reconnection under way ends within connect_timeout_ms). Its
 * connection's socket is shut down on this side: unlike a cancel request
 * or a statement_timeout, that needs no answer from the server. Then the
 * threads still using the inventory can be joined and it can be freed.
 * SQLite: a no-op (its statements wait for a lock at most 5 s). NULL is a
 * no-op. [any thread, while others use it] */
KR_API void kr_inventory_interrupt(kr_inventory_t *inv);

/* "sqlite" or "postgresql". Static string. [any thread] */
KR_API const char *kr_inventory_backend_name(const kr_inventory_t *inv);

/* ---- Applying informer events ----------------------------------------- */

typedef enum kr_inventory_event_type {
    KR_INVENTORY_ADDED = 0,
    KR_INVENTORY_MODIFIED = 1,
    KR_INVENTORY_DELETED = 2,
    /* A relist found the object gone: its delete was never observed. */
    KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN = 3,
    /* No object: only moves the checkpoint (a BOOKMARK, a list's end). */
    KR_INVENTORY_CHECKPOINT = 4,
    /* A sweeper found the object missing from a fresh, complete list of its
     * cluster (a delete nobody observed): marked deleted with event SWEPT
     * and the event's actor. A no-op, as DELETED_FINAL_STATE_UNKNOWN, when
     * the inventory already holds it deleted or holds another object. */
    KR_INVENTORY_SWEPT = 5,
} kr_inventory_event_type;

/* The wire name of `type` ("ADDED", ..., "CHECKPOINT", "SWEPT"),
 * NULL for an unknown value. Static string. [any thread] */
KR_API const char *kr_inventory_event_type_name(kr_inventory_event_type type);

/* One event from an informer. Every pointer is borrowed for the call that
 * takes it (the consumer copies what it keeps). */
typedef struct kr_inventory_event {
    const char *cluster; /* required: the cluster's name */
    /* The checkpoint's key: the informer's resource, e.g. "batch/v1/jobs".
     * Required when checkpoint_rv is set or type is CHECKPOINT. */
    const char *resource;
    /* Group/version and kind; NULL: the object's apiVersion and kind
     * (kr_client gives a list's items the list's; objects from another
     * source may lack them, so pass them when unsure). */
    const char *api_version;
    const char *kind;
    kr_inventory_event_type type;
    /* The object (borrowed, never modified); NULL only for CHECKPOINT.
     * Its metadata.managedFields is not stored; a Secret's data and
     * stringData values, and its annotations that copy the whole object
     * (kubectl.kubernetes.io/last-applied-configuration,
     * kreconcile.io/last-applied), are replaced by "(redacted)", and so
     * are those of a Secret a Runnable's spec.template holds (and the
     * Runnable's own copies of itself). */
    const json_t *object;
    /* When set: after this event the checkpoint of (cluster, resource) is
     * this resourceVersion (a watch event's object rv; after a relist, the
     * list's rv, on the last item or on a CHECKPOINT event). */
    const char *checkpoint_rv;
    /* Who made the change; NULL: "informer" (what informers' events are). */
    const char *actor;
} kr_inventory_event;

/* What a batch did. */
typedef struct kr_inventory_apply_result {
    size_t applied; /* transactions written (two for an event that replaces another object) */
    size_t duplicates; /* events already held: no-ops */
    int64_t last_seq; /* highest transaction sequence written; 0 if none */
} kr_inventory_apply_result;

/* Apply events[0..n) in order, in ONE database transaction together with
 * the checkpoints they carry (the last one per cluster+resource wins):
 * either all of it is committed or none. For each event with an object:
 * a transaction row (sequence, time, cluster, kind, namespace, name, uid,
 * resourceVersion, event, actor "informer", the merge patch from the
 * previous stored state of that uid, or the whole object) and the current
 * state row are written. An ADDED or MODIFIED of another object (another
 * uid) than the one held live under its name, created after it (or in the
 * same second with a larger resourceVersion), first writes the held one's
 * end: a DELETED_FINAL_STATE_UNKNOWN of its last state (deleted and made
 * again while nobody watched); the event is then recorded as ADDED.
 * Idempotent: an ADDED or MODIFIED whose (cluster,
 * uid, resourceVersion) is already held, a DELETED already held, or a
 * DELETED_FINAL_STATE_UNKNOWN for an object already gone, is a no-op
 * (counted in result->duplicates). result may be NULL. Errors: KR_EINVAL
 * (an event without cluster, object, name or uid, or a checkpoint without
 * resource; nothing applied), KR_EUNAVAILABLE (the database cannot be
 * reached or is busy: retry later; nothing applied), KR_EIO (another
 * database error), KR_ENOMEM. [any thread] */
KR_API int kr_inventory_apply(kr_inventory_t *inv, const kr_inventory_event *events, size_t n,
                              kr_inventory_apply_result *result, kr_error_t *err);

/* The checkpoint (last resourceVersion applied) of (cluster, resource):
 * *rv is new (kr_free it), or NULL when there is none. Errors:
 * KR_EINVAL, KR_EUNAVAILABLE, KR_EIO, KR_ENOMEM. [any thread] */
KR_API int kr_inventory_checkpoint(kr_inventory_t *inv, const char *cluster, const char *resource,
                                   char **rv, kr_error_t *err);

/* Every checkpoint: *out is a new JSON array of {cluster, resource,
 * resourceVersion}, in (cluster, resource) order. [any thread] */
KR_API int kr_inventory_checkpoints(kr_inventory_t *inv, json_t **out, kr_error_t *err);

/* ---- Recording actions ------------------------------------------------ */

/* An action a program took on an object (an approval, a dispatch, a
 * sweep...). Strings borrowed for the call. */
typedef struct kr_inventory_action {
    const char *cluster; /* required */
    const char *api_version; /* may be NULL */
    const char *kind; /* required */
    const char *namespace_; /* NULL or "" for cluster-scoped objects */
    const char *name; /* required */
    const char *uid; /* may be NULL */
    const char *resource_version; /* may be NULL */
    /* Required: upper case letters and '_' only, e.g. APPROVED, REJECTED,
     * DISPATCHED, VERIFIED, FAILED_OVER, SWEPT, SUBMITTED, SUCCEEDED,
     * FAILED, CANCELLED. */
    const char *event;
    const char *actor; /* required: who did it (a user, "kr-sweeper") */
    const json_t *detail; /* may be NULL: stored as the transaction's patch */
} kr_inventory_action;

/* Append one action transaction (it changes no current state). *seq (may
 * be NULL) receives its sequence number. Errors: KR_EINVAL (a required
 * field missing, an event not matching [A-Z_]+), KR_EUNAVAILABLE, KR_EIO,
 * KR_ENOMEM. [any thread] */
KR_API int kr_inventory_record(kr_inventory_t *inv, const kr_inventory_action *action, int64_t *seq,
                               kr_error_t *err);

/* The same, at most once per `key` (required, any text the caller makes
 * from what identifies the action, e.g. "uid/APPROVED/alice/<spec hash>"):
 * a caller that cannot tell whether an earlier record went through (a
 * timeout, a crash between the record and its own bookkeeping) records
 * again, and the inventory keeps one transaction. *seq receives 0 when
 * the key was recorded before. Errors as kr_inventory_record. [any
 * thread] */
KR_API int kr_inventory_record_once(kr_inventory_t *inv, const kr_inventory_action *action,
                                    const char *key, int64_t *seq, kr_error_t *err);

/* ---- The outbox: actions in order, across a database outage ------------ */

/* A program's actions (what it did, for the books) must not be lost when
 * the database restarts, nor doubled when an answer is lost, nor recorded
 * out of order. An outbox records each action at once, in the caller's
 * thread, while the inventory answers; once a record fails, that action
 * and every later one wait in memory, in order, and the outbox's own
 * thread records them, oldest first, with pauses from 100 ms doubling to
 * retry_max_ms, while the database is away (KR_EUNAVAILABLE, KR_ECONNECT,
 * KR_ETIMEDOUT); one it refuses for good (KR_EIO) is dropped, logged and
 * counted, so that it holds nothing behind it. Each is recorded as
 * kr_inventory_record_once() records, under the caller's key or one the
 * outbox makes, so a retry is never a second transaction, and with the
 * time it was made. Without a spool, what waits is lost if the process
 * dies: flush before a clean exit. With one (spool_path), each action that
 * starts to wait is also appended to that file and synced before the
 * record returns, and the next outbox on the file, in the next run of the
 * program, records what it holds first: a kill during an outage loses
 * nothing, and an action recorded before the kill is not doubled (its key
 * is in the file). */
typedef struct kr_inventory_outbox kr_inventory_outbox_t;

#define KR_INVENTORY_OUTBOX_OPTS_VERSION 2
#define KR_INVENTORY_OUTBOX_OPTS_INIT                                                              \
    {                                                                                              \
        .version = KR_INVENTORY_OUTBOX_OPTS_VERSION                                                \
    }

typedef struct kr_inventory_outbox_opts {
    unsigned version; /* KR_INVENTORY_OUTBOX_OPTS_VERSION; 0 is read as 1 */
    /* At most this many actions wait; beyond, a record is refused
     * (KR_ETOOLARGE). 0: 100,000. */
    size_t max_pending;
    /* The longest pause between two tries; 0: 5000 ms (at least 100). */
    uint64_t retry_max_ms;
    /* Where waits, catch-ups and dropped actions are told. Zero: nowhere. */
    kr_logger logger;
    /* Version 2. A file (made 0600 if absent) that keeps the waiting
     * actions across a crash, one JSON object per line, emptied whenever
     * nothing waits, and rewritten with only what still waits once it
     * holds 1 MiB and more than half of it is recorded (a locked FILE.compact
     * renamed over it). One outbox at a time uses it (an exclusive flock):
     * give each replica its own. A last line cut short by a crash is
     * skipped and cut off (it was never acknowledged), and a line that is
     * not an action is skipped (both logged). NULL: waiting actions are
     * kept in memory only. */
    const char *spool_path;
} kr_inventory_outbox_opts;

/* An outbox recording into `inv` (borrowed: it must outlive the outbox);
 * opts may be NULL (version 1, without spool_path, is still read). Starts
 * one thread. *out is new (kr_inventory_outbox_free). Errors: KR_EINVAL,
 * KR_ENOMEM; with a spool, KR_EIO (it cannot be opened or read) and
 * KR_ESTATE (another outbox holds it). [any thread] */
KR_API int kr_inventory_outbox_new(kr_inventory_t *inv, const kr_inventory_outbox_opts *opts,
                                   kr_inventory_outbox_t **out, kr_error_t *err);

/* Record `action` (copied) after every action recorded before it through
 * this outbox. `key`: as kr_inventory_record_once()'s; NULL or "" for one
 * the outbox makes. Returns 0 when it is recorded or waits to be (*queued,
 * may be NULL, says which); KR_EINVAL for an action the inventory refuses
 * (never kept), KR_ETOOLARGE when max_pending actions already wait,
 * KR_ESHUTDOWN while the outbox is being freed, KR_ENOMEM. [any thread] */
KR_API int kr_inventory_outbox_record(kr_inventory_outbox_t *ob, const kr_inventory_action *action,
                                      const char *key, bool *queued, kr_error_t *err);

/* kr_inventory_outbox_record for a caller that must not wait on the
 * database longer than it can (a reconcile, which a stop waits for before
 * it releases a Lease): its own try is made by the outbox's thread, in
 * order with the other callers' of this function (a plain
 * kr_inventory_outbox_record made meanwhile tries at once, in its own
 * thread, and may land first), while the caller waits, asking
 * `give_up(user)` (NULL: never) every 20 ms, the first time 20 ms after
 * the call (a database that answers at once is never given up on, not
 * even by a caller that is stopping). No call may overlap
 * kr_inventory_outbox_free. A caller that gives up returns at once, its action waiting
 * in the queue (spooled first, as every action that waits: its record
 * reaches the database in its turn, or, with a spool, the next outbox on
 * the file), and *queued says so; so does every other caller's try still
 * under way then. A try the database answers returns as
 * kr_inventory_outbox_record's own does. [any thread] */
KR_API int kr_inventory_outbox_record_unless(kr_inventory_outbox_t *ob,
                                             const kr_inventory_action *action, const char *key,
                                             bool (*give_up)(void *user), void *user, bool *queued,
                                             kr_error_t *err);

/* How many actions wait (callers' own tries under way are none). [any
 * thread] */
KR_API size_t kr_inventory_outbox_pending(kr_inventory_outbox_t *ob);

/* How many actions it took (record returned 0) and then dropped because
 * the inventory refused them for good. [any thread] */
KR_API size_t kr_inventory_outbox_dropped(kr_inventory_outbox_t *ob);

/* Wait up to timeout_ms until nothing waits: 0 when every action it took
 * is recorded, KR_ETIMEDOUT when some still wait, KR_EIO when none waits
 * but some were dropped. [any thread] */
KR_API int kr_inventory_outbox_flush(kr_inventory_outbox_t *ob, uint64_t timeout_ms);

/* kr_inventory_outbox_flush for a program about to exit, which frees the
 * outbox next: when actions still wait after timeout_ms (KR_ETIMEDOUT),
 * the outbox's thread may be stalled in the database (a PostgreSQL server
 * that stopped answering, a lock another session holds), and
 * kr_inventory_outbox_free, which joins it, would wait as long: its
 * inventory is interrupted (kr_inventory_interrupt: that call and every
 * later one fail at once, other threads' included), so that the free ends
 * at once, what still waits staying in the spool. Returns what the flush
 * returned. [any thread] */
KR_API int kr_inventory_outbox_finish(kr_inventory_outbox_t *ob, uint64_t timeout_ms);

/* Stop the outbox's thread and free it; each action still waiting is
 * logged as never recorded (flush first), or, with a spool, stays in it
 * for the next outbox (one whose line could not be written is logged as
 * never recorded). NULL is a no-op. No other thread may use it any more.
 * [any thread] */
KR_API void kr_inventory_outbox_free(kr_inventory_outbox_t *ob);

/* ---- Reading ---------------------------------------------------------- */

/* The phase summary of `obj` (borrowed) as the inventory stores it:
 * status.phase when it is a string (Pods, Runnables); for Jobs
 * "Succeeded" (condition Complete=True), "Failed" (Failed=True),
 * "Running" (status.active > 0) or "Pending"; "Terminating" when
 * metadata.deletionTimestamp is set and nothing else applies; "" otherwise.
 * Deleted objects are stored with phase "Deleted". Static or borrowed
 * string, valid while obj lives. [any thread] */
KR_API const char *kr_inventory_phase_of(const json_t *obj);

/* Filters of kr_inventory_query(); every field may be NULL/0 (no filter).
 * Strings borrowed for the call. */
typedef struct kr_inventory_query_opts {
    unsigned version; /* KR_INVENTORY_QUERY_OPTS_VERSION; 0 is read as 1 */
    const char *cluster;
    const char *kind;
    const char *namespace_; /* "_": the cluster-scoped objects only (namespace "") */
    const char *label_selector; /* kr_selector syntax: "app=web,tier!=db" */
    const char *phase;
    bool include_deleted; /* default: objects whose delete was seen are left out */
    size_t limit; /* 0: 100; at most 1000 */
    const char *continue_token; /* from a previous page's *next_continue */
    /* Version 2: a page ends, with a continue token, once its rows' text
     * passes this many bytes, however many limit asked for (at least one
     * row per page). 0: 4 MiB. */
    size_t max_bytes;
} kr_inventory_query_opts;

#define KR_INVENTORY_QUERY_OPTS_VERSION 2
#define KR_INVENTORY_QUERY_OPTS_INIT                                                               \
    {                                                                                              \
        .version = KR_INVENTORY_QUERY_OPTS_VERSION                                                 \
    }

/* One page of current-state rows, in (cluster, kind, namespace, name)
 * order: up to limit rows, fewer when their text passes max_bytes (the
 * page then has a continue token; the next may even be empty). Each
 * step of reading the database first asks the sizes of the rows it may
 * take, then reads only those that fill what is left of that budget (and
 * the one that passes it), so the memory a page takes is about twice the
 * budget plus its largest object, whatever the limit and the objects'
 * sizes. *items is a new JSON array of rows {cluster, apiVersion, kind,
 * namespace, name, uid, resourceVersion, phase, labels, created, deleted
 * (null or RFC 3339), seq, object}. *next_continue is new (kr_free it):
 * the token of the next page, or NULL on the last page. Errors: KR_EINVAL
 * (NULL opts/items), KR_EPARSE (a malformed selector or continue token),
 * KR_EUNAVAILABLE, KR_EIO, KR_ENOMEM. [any thread] */
KR_API int kr_inventory_query(kr_inventory_t *inv, const kr_inventory_query_opts *opts,
                              json_t **items, char **next_continue, kr_error_t *err);

/* The current-state row of one object (same shape as a query row), a new
 * reference in *row. namespace_ may be NULL or "" (cluster-scoped).
 * Deleted objects whose delete was seen are returned too (deleted set).
 * Errors: KR_ENOTFOUND, KR_EINVAL, KR_EUNAVAILABLE, KR_EIO, KR_ENOMEM.
 * [any thread] */
KR_API int kr_inventory_get(kr_inventory_t *inv, const char *cluster, const char *kind,
                            const char *namespace_, const char *name, json_t **row,
                            kr_error_t *err);

/* Every transaction on the resource (kind, namespace, name) across all
 * clusters, in sequence order: *out is a new JSON array of {seq, time
 * (RFC 3339, ms), cluster, apiVersion, kind, namespace, name, uid,
 * resourceVersion, event, actor, patch}. At most `limit` rows (0: 1000)
 * after sequence `after_seq`. Errors: KR_EINVAL, KR_EUNAVAILABLE, KR_EIO,
 * KR_ENOMEM. [any thread] */
KR_API int kr_inventory_history(kr_inventory_t *inv, const char *kind, const char *namespace_,
                                const char *name, int64_t after_seq, size_t limit, json_t **out,
                                kr_error_t *err);

/* kr_inventory_history() with its bounds and order chosen: the
 * transactions with after_seq < sequence < before_seq (before_seq 0: no
 * upper bound), oldest first, or newest first when newest_first (the
 * latest `limit` of them; the page before is then the one with before_seq
 * the last row's sequence). Errors as kr_inventory_history(). [any
 * thread] */
KR_API int kr_inventory_history_range(kr_inventory_t *inv, const char *kind, const char *namespace_,
                                      const char *name, int64_t after_seq, int64_t before_seq,
                                      bool newest_first, size_t limit, json_t **out,
                                      kr_error_t *err);

/* Transactions with sequence > after_seq, in order, at most `limit` (0:
 * 1000): *out is a new JSON array of the same rows as history (for a
 * Server-Sent Events stream resumed with Last-Event-ID). Errors as
 * kr_inventory_history(). [any thread] */
KR_API int kr_inventory_transactions_after(kr_inventory_t *inv, int64_t after_seq, size_t limit,
                                           json_t **out, kr_error_t *err);

/* The highest transaction sequence (0 when none). [any thread] */
KR_API int kr_inventory_last_seq(kr_inventory_t *inv, int64_t *seq, kr_error_t *err);

/* ---- The consumer: a bounded buffer drained in batches (group commit) -- */

typedef struct kr_inventory_consumer kr_inventory_consumer_t;

/* Called after each committed batch, with the highest sequence it wrote
 * (0 when it wrote none) and how many events it took from the buffer.
 * Runs on the thread that drained (the writer thread or the caller of
 * kr_inventory_consumer_drain), outside the consumer's lock. */
typedef void (*kr_inventory_commit_cb)(int64_t last_seq, size_t events, void *user);

#define KR_INVENTORY_CONSUMER_OPTS_VERSION 1
#define KR_INVENTORY_CONSUMER_OPTS_INIT                                                            \
    {                                                                                              \
        .version = KR_INVENTORY_CONSUMER_OPTS_VERSION                                              \
    }

typedef struct kr_inventory_consumer_opts {
    unsigned version; /* KR_INVENTORY_CONSUMER_OPTS_VERSION; 0 is read as 1 */
    size_t capacity; /* events the buffer holds; 0: 10000 */
    size_t max_batch; /* events per transaction at most; 0: 1000 */
    uint64_t retry_base_ms; /* first wait after a failed batch; 0: 50 */
    uint64_t retry_max_ms; /* longest wait between attempts; 0: 5000 */
    kr_inventory_commit_cb on_commit; /* may be NULL */
    void *on_commit_user;
    kr_logger logger; /* failed batches are logged at WARN */
} kr_inventory_consumer_opts;

/* Statistics (a snapshot). */
typedef struct kr_inventory_consumer_stats {
    size_t buffered; /* events waiting */
    size_t capacity;
    uint64_t applied; /* events committed (duplicates and checkpoints included) */
    uint64_t duplicates;
    uint64_t batches; /* committed transactions */
    uint64_t failures; /* failed attempts (each retried) */
    uint64_t rejected_full; /* enqueues refused because the buffer was full */
    int last_error; /* KR_E* of the last failed attempt, 0 after a success */
    /* Buffered events kr_inventory_apply refused as invalid (KR_EINVAL),
     * logged and dropped: only an object changed after its enqueue. */
    uint64_t dropped_invalid;
    /* The message of the last failed attempt, "" after a success. */
    char last_error_message[256];
} kr_inventory_consumer_stats;

/* A consumer writing into `inv` (borrowed: it must outlive the consumer).
 * Nothing runs until the caller drains or starts the writer thread.
 * *out is new (kr_inventory_consumer_free). Errors: KR_EINVAL, KR_ENOMEM.
 * [any thread] */
KR_API int kr_inventory_consumer_new(kr_inventory_t *inv, const kr_inventory_consumer_opts *opts,
                                     kr_inventory_consumer_t **out, kr_error_t *err);

/* Stop the writer thread if it runs (kr_inventory_consumer_stop), then
 * free the consumer and the events still buffered (they are NOT applied:
 * call kr_inventory_consumer_flush first to keep them). NULL is a no-op.
 * [any thread but the writer] */
KR_API void kr_inventory_consumer_free(kr_inventory_consumer_t *c);

/* Buffer a copy of `ev` (its strings are copied, its object json_incref'd:
 * the caller must not modify it afterwards). Never blocks. Errors:
 * KR_ETOOLARGE: the buffer is full (backpressure: stop taking events
 * from the source, e.g. pause the watch, and try again after
 * kr_inventory_consumer_wait_space); KR_EINVAL (what kr_inventory_apply
 * would reject: no cluster, no kind in the event or its object, no
 * name or uid..., err says which); KR_ENOMEM. Nothing is ever dropped
 * once enqueued, except an event whose object was changed afterwards
 * so that apply refuses it (stats.dropped_invalid). [any thread] */
KR_API int kr_inventory_consumer_enqueue(kr_inventory_consumer_t *c, const kr_inventory_event *ev,
                                         kr_error_t *err);

/* Block until the buffer has room for `n` events or timeout_ms passed.
 * Returns 0 (room), KR_ETIMEDOUT, KR_EINVAL (n > capacity) or
 * KR_ESHUTDOWN. Only useful with the writer thread or another thread
 * draining. [any thread but the writer] */
KR_API int kr_inventory_consumer_wait_space(kr_inventory_consumer_t *c, size_t n,
                                            uint64_t timeout_ms);

/* Apply up to max_batch buffered events in one transaction (group commit)
 * on the calling thread; on success they leave the buffer, on failure
 * they stay there in order (retry later: nothing is dropped). A batch
 * apply refuses as invalid (KR_EINVAL: an object changed after its
 * enqueue) is applied one event per transaction instead, the invalid
 * ones logged and dropped. *drained (may be NULL): events taken from
 * the buffer. Returns 0 (also when the buffer was empty) or
 * kr_inventory_apply()'s error. Must not be called while the writer
 * thread runs (KR_ESTATE). [any thread] */
KR_API int kr_inventory_consumer_drain(kr_inventory_consumer_t *c, size_t *drained,
                                       kr_error_t *err);

/* Start the writer thread (a consumer starts it only here). It drains whenever events are buffered,
 * in batches of up to max_batch; a failed batch is retried with exponential backoff (retry_base_ms
 * doubling up to retry_max_ms) until it commits. Errors: KR_ESTATE (already running), KR_ENOMEM
 * (thread creation failed). [any thread] */
KR_API int kr_inventory_consumer_start(kr_inventory_consumer_t *c, kr_error_t *err);

/* Stop the writer thread (after the batch in progress) and join it; the
 * events not yet committed stay buffered. No-op when not running.
 * [any thread but the writer] */
KR_API void kr_inventory_consumer_stop(kr_inventory_consumer_t *c);

/* Wait until every event buffered before the call is committed (by the
 * writer thread, or drained here when it does not run) or timeout_ms
 * passes. Returns 0, KR_ETIMEDOUT, or (without the writer thread) the
 * drain's error. [any thread but the writer] */
KR_API int kr_inventory_consumer_flush(kr_inventory_consumer_t *c, uint64_t timeout_ms,
                                       kr_error_t *err);

/* kr_inventory_consumer_flush for a program about to stop the writer
 * thread for good (kr_inventory_consumer_stop next): when events still
 * wait after timeout_ms (KR_ETIMEDOUT), the writer may be stalled in the
 * database (a PostgreSQL server that stopped answering, a lock another
 * session holds) and the stop, which joins it, would wait as long: its
 * inventory is interrupted (kr_inventory_interrupt: that call and every
 * later one fail at once, other threads' included), so that the stop ends
 * at once, the events not committed still buffered. Returns what the
 * flush returned. [any thread but the writer] */
KR_API int kr_inventory_consumer_finish(kr_inventory_consumer_t *c, uint64_t timeout_ms,
                                        kr_error_t *err);

/* A snapshot of the consumer's counters; out_size is sizeof *out (common.h,
 * Statistics). [any thread] */
KR_API void kr_inventory_consumer_get_stats(kr_inventory_consumer_t *c,
                                            kr_inventory_consumer_stats *out, size_t out_size);

/* ---- The Workflow API and the live page (pure: no server here) ------------
 * The HTTP handlers of kr-inventory as functions from a request to a
 * response, so that any HTTP server (the toolkit's) can serve them and
 * tests can call them without one:
 *   GET /                      the live page (HTML, CSS and JS in the binary)
 *   GET /api/v1/objects        ?cluster=&kind=&namespace=&labelSelector=&phase=
 *                              &includeDeleted=true&limit=N&continue=TOKEN
 *                              (namespace=_: cluster-scoped objects only)
 *                              → {"items":[rows], "continue": TOKEN or absent,
 *                              "lastSeq": N, "kinds": [the options' kinds] or
 *                              absent when any kind is taken}
 *                              (a page ends early, with a token, once its rows
 *                              pass 4 MiB: kr_inventory_query's max_bytes)
 *   GET /api/v1/objects/{cluster}/{kind}/{namespace}/{name}   (namespace "_"
 *                              for cluster-scoped objects) → a row
 *   GET /api/v1/history        ?kind=&namespace=&name=&after=SEQ&before=SEQ
 *                              &newestFirst=true&limit=N
 *                              → {"items":[transactions]} (oldest first unless
 *                              newestFirst; kr_inventory_history_range)
 *   GET /api/v1/events         Server-Sent Events: kr_inventory_sse_*
 * Errors are {"error": message, "code": status}: 400 for a bad or unknown
 * parameter or kind, 404, 405 for other methods, 503 when the database
 * cannot be reached, 500 otherwise. */

#define KR_INVENTORY_API_OPTS_VERSION 1
#define KR_INVENTORY_API_OPTS_INIT                                                                 \
    {                                                                                              \
        .version = KR_INVENTORY_API_OPTS_VERSION                                                   \
    }

typedef struct kr_inventory_api_opts {
    unsigned version; /* KR_INVENTORY_API_OPTS_VERSION; 0 is read as 1 */
    /* The kinds the inventory holds ("Job", "Runnable"...): a kind= filter
     * naming another one is a 400; for a history, only when nothing of that
     * object was recorded (programs record actions on kinds no producer
     * keeps: a deployable kr-syncer writes). NULL/0: any kind. Borrowed for
     * the call. */
    const char *const *kinds;
    size_t n_kinds;
} kr_inventory_api_opts;

/* One decoded query parameter. */
typedef struct kr_inventory_api_param {
    const char *name, *value;
} kr_inventory_api_param;

typedef struct kr_inventory_api_response {
    int status;
    const char *content_type; /* static string */
    char *body; /* new (kr_free); NUL-terminated */
    size_t len;
} kr_inventory_api_response;

/* Answer one request: `method` and `path` (decoded, without the query),
 * `params[0..n)` the decoded query parameters (borrowed). The events
 * stream is not answered here (kr_inventory_sse_*): GET /api/v1/events
 * gets a 400 naming them.
 * Fills *resp (body new); returns 0, or KR_ENOMEM when even the error
 * answer could not be built (resp then holds status 500 and no body).
 * [any thread] */
KR_API int kr_inventory_api_handle(kr_inventory_t *inv, const kr_inventory_api_opts *opts,
                                   const char *method, const char *path,
                                   const kr_inventory_api_param *params, size_t n,
                                   kr_inventory_api_response *resp);

/* Free resp->body and zero *resp. NULL is a no-op. */
KR_API void kr_inventory_api_response_free(kr_inventory_api_response *resp);

/* The live page (static, NUL-terminated; served by kr_inventory_api_handle
 * for GET /). */
KR_API const char *kr_inventory_page_html(void);

/* A Server-Sent Events stream of new transactions: "id: SEQ",
 * "event: transaction", "data: <the transaction row as JSON>". Resumes
 * after `last_event_id` (the Last-Event-ID header or ?after=; NULL or ""
 * for "from now on"). An id past the database's last transaction is from
 * another database (restored or replaced): the stream goes on from now,
 * after an "event: reset" (data {"lastSeq":N}) that tells the reader to
 * read the state again, as the live page does. */
typedef struct kr_inventory_sse kr_inventory_sse_t;

/* Errors: KR_EINVAL (a Last-Event-ID that is not a sequence number),
 * KR_EUNAVAILABLE/KR_EIO (the database), KR_ENOMEM. *out is new.
 * [any thread] */
KR_API int kr_inventory_sse_new(kr_inventory_t *inv, const char *last_event_id,
                                kr_inventory_sse_t **out, kr_error_t *err);
KR_API void kr_inventory_sse_free(kr_inventory_sse_t *sse);

/* Fill buf[0..max) with the next bytes of the stream, waiting up to
 * wait_ms for a new transaction (commits through this process wake it at
 * once; others are seen by polling). Returns the number of bytes (> 0), 0
 * when nothing came within wait_ms (a ": keep-alive" comment is sent every
 * 15 s of silence instead), or -1 when the stream must end (database
 * error). One thread at a time per stream. [any thread] */
KR_API long kr_inventory_sse_read(kr_inventory_sse_t *sse, char *buf, size_t max, uint64_t wait_ms);

/* Block until a transaction with sequence > after_seq was committed
 * through this kr_inventory_t, or wait_ms passed. Returns true when one
 * was. [any thread] */
KR_API bool kr_inventory_wait_commit(kr_inventory_t *inv, int64_t after_seq, uint64_t wait_ms);

/* ---- The producer: one collection of one cluster feeding a consumer ------ */

typedef struct kr_inventory_producer kr_inventory_producer_t;

#define KR_INVENTORY_PRODUCER_OPTS_VERSION 2
#define KR_INVENTORY_PRODUCER_OPTS_INIT                                                            \
    {                                                                                              \
        .version = KR_INVENTORY_PRODUCER_OPTS_VERSION                                              \
    }

typedef struct kr_inventory_producer_opts {
    unsigned version; /* KR_INVENTORY_PRODUCER_OPTS_VERSION; 0 is read as 1 */
    kr_inventory_consumer_t *consumer; /* required; borrowed, outlives the producer */
    /* Informer mode (version 1): the handlers of this informer (borrowed,
     * outlives the producer) feed the consumer. Leave NULL for client mode. */
    kr_informer_t *informer;
    const char *cluster; /* required: the cluster's name */
    const char *resource; /* required: the checkpoint key, e.g. "batch/v1/jobs" */
    const char *api_version; /* "batch/v1"; NULL: each object's own */
    /* "Job"; NULL: each object's own (kr_client gives a list's items the
     * list's kind; an object without one is refused). Required by client
     * mode with inventory and by kr_inventory_producer_reconcile. */
    const char *kind;
    kr_logger logger;
    /* ---- version 2: client mode (informer NULL) --------------------------
     * The producer lists and watches `gvr` through `client` itself (a
     * reflector on the client's runtime loop), so that it can resume from
     * the inventory's checkpoint and pause without blocking the loop. */
    kr_client_t *client; /* borrowed, outlives the producer */
    kr_gvr gvr; /* copied */
    /* NULL or "": every namespace. The inventory's rows of other
     * namespaces are not this collection's (informer mode: the
     * informer's namespace). */
    const char *namespace_;
    /* Where to resume from (borrowed, outlives the call to _new): the
     * current state it holds for (cluster, kind) becomes the producer's
     * starting cache and, when (cluster, resource) has a checkpoint, the
     * producer starts with a WATCH from it (no list). On 410 Gone it
     * relists, and what the inventory held live that the list lacks is
     * recorded as DELETED_FINAL_STATE_UNKNOWN. NULL: a full list, an
     * empty cache. */
    kr_inventory_t *inventory;
    long page_size; /* as kr_reflector_opts.page_size (0: client-go's paging) */
    unsigned backoff_initial_ms, backoff_max_ms; /* failed lists/watches; 0: 800, 30000 */
    long progress_deadline_ms; /* 0: 180000; < 0: never */
} kr_inventory_producer_opts;

/* Start feeding `opts->consumer`.
 *
 * Client mode: the events still buffered in the consumer (an earlier
 * producer's) are committed first (waiting up to 10 s), then the
 * starting point is read from opts->inventory on the calling thread, then
 * the reflector starts on the client's loop. Each watch event is enqueued with its resourceVersion
 * as the checkpoint; a list's end and every BOOKMARK enqueue a CHECKPOINT event. When the
 * consumer's buffer is full nothing waits on the loop: the event is held by the producer, the watch
 * is stopped (paused; a relist in progress is held to its end first), and every 20 ms the loop
 * tries to hand the held events over; once they are in, the watch restarts from the last one's
 * resourceVersion. The checkpoint thus never passes an event the consumer does not hold. A failing
 * list (a resource the cluster does not serve yet, e.g. a CRD not installed) is logged once at WARN
 * and retried quietly with backoff up to backoff_max_ms; it starts watching once the list succeeds.
 *
 * Informer mode (kept for version-1 callers): the informer's handlers
 * enqueue; when the buffer is full the handler WAITS on the informer's
 * thread (that blocks its runtime's loop: prefer client mode).
 *
 * Strings are copied. *out is new. Errors: KR_EINVAL, KR_ENOMEM, the
 * inventory's read errors (KR_EUNAVAILABLE: retry later),
 * kr_informer_add_handler's, KR_ESTATE (client mode: called on the
 * client's loop thread, or its runtime not running). [any thread but the
 * client's loop thread] */
KR_API int kr_inventory_producer_new(const kr_inventory_producer_opts *opts,
                                     kr_inventory_producer_t **out, kr_error_t *err);

/* Informer mode, after the informer synced: every object the inventory
 * holds as live for this cluster and kind (and the informer's namespace,
 * when it watches one, and its selectors: a field selector's values are
 * read from the stored object) that the informer's cache does not hold was
 * deleted while nobody watched; enqueue a DELETED_FINAL_STATE_UNKNOWN for
 * each. *gone (may be NULL) receives how many. Client mode does this by
 * itself (the inventory's rows are its starting cache): a no-op there.
 * Errors: KR_EINVAL (the producer has no kind: every other kind of the
 * cluster would look deleted), the inventory's, KR_ETIMEDOUT (no room in
 * the buffer within 60 s). [any thread but the informer's] */
KR_API int kr_inventory_producer_reconcile(kr_inventory_producer_t *p, kr_inventory_t *inv,
                                           size_t *gone, kr_error_t *err);

/* What a producer did (client mode; informer mode: zeros). */
typedef struct kr_inventory_producer_stats {
    uint64_t lists; /* LIST requests (a resume from a checkpoint makes none) */
    uint64_t watches; /* WATCH requests */
    uint64_t gone; /* 410 Gone answers (each followed by a relist) */
    uint64_t pauses; /* times the watch stopped because the buffer was full */
    uint64_t held; /* events held by the producer while paused */
    bool paused; /* stopped now, waiting for room */
    bool synced; /* a complete list has been applied (false while resumed) */
    bool resumed; /* started with a watch from the inventory's checkpoint */
} kr_inventory_producer_stats;

/* A snapshot of the counters; out_size is sizeof *out (common.h,
 * Statistics). [any thread] */
KR_API void kr_inventory_producer_get_stats(kr_inventory_producer_t *p,
                                            kr_inventory_producer_stats *out, size_t out_size);

/* The last resourceVersion observed (events, bookmarks, lists): new
 * (kr_free), or NULL before the first. Client mode only. [any thread] */
KR_API char *kr_inventory_producer_resource_version(kr_inventory_producer_t *p);

/* Stop (client mode: the reflector, on its loop; what it held and did not
 * hand over is dropped, its checkpoint was never written), remove the
 * handlers and free. NULL is a no-op. [any thread but the client's loop
 * thread] */
KR_API void kr_inventory_producer_free(kr_inventory_producer_t *p);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_INVENTORY_H */
