/* kr-sweeper — finding and removing zombies: copies in workload clusters
 * whose hub source is gone, was replaced, or no longer places them there,
 * and copies of Runnables that lost a failover or whose Runnable is gone
 * (docs/PLATFORM.md, invariant 6). The plan is pure (plan.c); the sweep
 * (sweep.c) lists, plans and deletes with preconditions. Nothing here may
 * ever treat "unreachable" or "not listed" as "gone". */
#ifndef KR_SWEEPER_SWEEP_H
#define KR_SWEEPER_SWEEP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kreconcile.h"

/* Why a copy is a zombie. */
typedef enum sweep_reason {
    SWEEP_SOURCE_GONE = 0, /* no hub object has the copy's source uid */
    SWEEP_SOURCE_REPLACED, /* the hub object of that name has another uid */
    SWEEP_NOT_PLACED, /* the source's placement no longer names this cluster */
    SWEEP_RUNNABLE_GONE, /* the Runnable with the source uid is gone */
    SWEEP_FAILOVER_LOSER, /* the Runnable runs elsewhere (another cluster or attempt) */
    SWEEP_NOT_IN_CLUSTER, /* an inventory row a fresh list of its cluster no longer has */
} sweep_reason;

/* What happened to a candidate. */
typedef enum sweep_action {
    SWEEP_PLANNED = 0, /* dry run, or not yet acted on */
    SWEEP_DELETED, /* deleted with uid + resourceVersion preconditions */
    SWEEP_GONE, /* already gone when deleted (404) */
    SWEEP_SKIPPED_CHANGED, /* the precondition failed: replaced or changed since the list */
    SWEEP_SKIPPED_CAP, /* the run's --max-deletes was reached (a dry run: would be) */
    SWEEP_FAILED, /* the delete failed otherwise (error kept) */
    SWEEP_MARKED, /* an inventory row marked deleted (event SWEPT) */
    SWEEP_REFUSED_RATIO, /* its cluster's plan would delete too large a share (sweep_plan_guard) */
    SWEEP_SKIPPED_NOT_LEADING, /* the replica stopped leading during the run (may_act) */
    SWEEP_SKIPPED_STOPPING, /* the program stopped while the run waited to delete (stopping) */
} sweep_action;

const char *sweep_reason_name(sweep_reason r);
const char *sweep_action_name(sweep_action a);

/* One zombie. Strings are owned by the plan. */
typedef struct sweep_candidate {
    char *cluster;
    char *group, *version, *resource, *kind;
    char *namespace_, *name, *uid, *resource_version;
    int64_t age_s;
    sweep_reason reason;
    sweep_action action;
    char *error; /* SWEEP_FAILED: what the server said */
    /* SWEEP_FAILED: the delete may still have been applied (a timeout, a
     * transport error, a 5xx): it counts against max_deletes */
    bool maybe_applied;
    /* handed to the books when it was taken (sweep_opts.acted): sweep_record
     * leaves it out */
    bool recorded;
    json_t *row_object; /* SWEEP_NOT_IN_CLUSTER: the inventory's object (new ref) */
} sweep_candidate;

/* A cluster the run did not sweep, and why (a failed or partial list). */
typedef struct sweep_skip {
    char *cluster;
    char *resource;
    char *why;
    bool recorded; /* handed to the books when it was decided (sweep_record_decided) */
} sweep_skip;

/* A cluster whose deletions the run refused: `zombies` of the `managed`
 * copies of ours it holds that were judged are zombies (old or young),
 * those of `resource` alone when it is set ("secrets", "batch/jobs": that one
 * was over, the cluster as a whole was not); `planned` of the cluster's
 * would have been deleted. */
typedef struct sweep_refusal {
    char *cluster;
    char *resource;
    size_t planned, zombies, managed;
    /* refused by the hub-wide check (sweep_plan_guard_hub): zombies and
     * managed are those of every cluster */
    bool hub_wide;
    /* the inventory's rows of the cluster's `resource` were not marked
     * (sweep_inventory): `zombies` of the `managed` rows it holds live
     * there are missing from the cluster's list */
    bool inventory;
    bool recorded; /* handed to the books when it was decided (sweep_record_decided) */
} sweep_refusal;

/* What the plan saw of one (cluster, resource): the copies judged and how
 * many of them are zombies, younger than the grace period or not. */
typedef struct sweep_tally {
    char *cluster;
    char *resource; /* "secrets", "batch/jobs": group/resource, the core group none */
    size_t judged, zombies;
} sweep_tally;

/* The guard is applied only when more than this many copies of one
 * cluster would go: a few zombies of a small cluster are no mass delete. */
#define SWEEP_RATIO_MIN_DELETES 10

/* The inventory's check of a sweep (sweep_inventory), as the plan says it. */
typedef enum sweep_check {
    SWEEP_CHECK_NONE = 0, /* no inventory: none to make */
    SWEEP_CHECK_MADE,
    SWEEP_CHECK_FAILED, /* the database failed, or did not answer in time */
    SWEEP_CHECK_LEFT, /* a stop or a lost Lease left it to the next sweep */
} sweep_check;

typedef struct sweep_plan {
    sweep_candidate *items;
    size_t n, cap;
    sweep_skip *skips;
    size_t n_skips, cap_skips;
    size_t young; /* zombies left alone for being younger than the grace period */
    size_t foreign; /* objects with our label but another hub's source-cluster */
    size_t unjudged; /* kr-submitter copies left alone: the Runnables were not listed */
    size_t managed; /* copies of ours (our labels, our hub) seen in the lists planned */
    sweep_refusal *refusals; /* clusters whose deletions were refused (sweep_plan_guard) */
    size_t n_refusals, cap_refusals;
    sweep_tally *tallies; /* per (cluster, resource) planned: the guard's counts */
    size_t n_tallies, cap_tallies;
    sweep_check inventory_check; /* set by the program after sweep_inventory */
    char inventory_why[1024]; /* SWEEP_CHECK_FAILED, _LEFT: why */
} sweep_plan;

void sweep_plan_free(sweep_plan *p);
int sweep_plan_skip(sweep_plan *p, const char *cluster, const char *resource, const char *fmt, ...)
    KR_PRINTF(4, 5);

/* The hub's sources, from complete lists: the objects of every swept
 * resource and the Runnables. Borrowed references to the lists' items. */
typedef struct sweep_sources {
    const char *hub_name; /* the source-cluster our copies carry */
    json_t *by_uid; /* uid -> hub object (borrowed values) */
    json_t *by_name; /* "group/resource/ns/name" -> hub object */
    json_t *runnables_by_uid; /* uid -> Runnable */
    bool runnables_listed; /* false: kr-submitter copies cannot be judged */
    /* The configured workload clusters (set after sweep_sources_init;
     * NULL: none given). A kr-syncer copy whose hub object's placement is
     * malformed, or names only clusters none of these, is held by
     * kr-syncer and not judged (kr_managed_placement_check). */
    const char *const *cluster_names;
    size_t n_cluster_names;
} sweep_sources;

/* Build the index from complete hub lists (new references inside; free
 * with sweep_sources_free). `lists` are <Kind>List objects, one per
 * resource in `gvrs`; `runnables` the RunnableList, or NULL when it could
 * not be listed (then no kr-submitter copy is judged). */
int sweep_sources_init(sweep_sources *s, const char *hub_name, const kr_gvr *gvrs,
                       json_t *const *lists, size_t n, json_t *runnables);
void sweep_sources_free(sweep_sources *s);

/* Plan one cluster's complete list of one resource: append every object
 * that carries our labels and is a zombie older than `grace_s` (at wall
 * time `now_s`) to `plan`, named `kind` (lists may hold full objects or
 * PartialObjectMetadata). Objects without our managed-by label are never
 * candidates. Returns 0 or -1 (allocation failure). No I/O. */
int sweep_plan_cluster(const sweep_sources *s, const char *cluster, kr_gvr gvr, const char *kind,
                       const json_t *list, int64_t now_s, int64_t grace_s, sweep_plan *plan);

/* The mass-delete guard of one cluster, after its lists were planned:
 * the candidates plan->items[first..] (all of that cluster's) are the
 * deletions; every copy of it judged a zombie (plan->tallies: old or
 * young, a young one goes at a later sweep) counts against the copies
 * of ours it holds that were judged (wanted or zombies: not those left
 * unjudged or already being deleted), and so do those of each
 * resource on their own. When more than SWEEP_RATIO_MIN_DELETES are
 * zombies and more than `ratio` of those, in the cluster or in one of
 * its resources,
 * every one of them becomes SWEEP_REFUSED_RATIO and the cluster is added
 * to plan->refusals: a hub that is empty or the wrong one (a kubeconfig
 * pointing elsewhere) makes every copy look orphaned. `ratio` <= 0 or >= 1:
 * no guard. Returns 1 when refused, 0 when not, -1 (allocation failure). */
int sweep_plan_guard(sweep_plan *plan, const char *cluster, size_t first, double ratio);

/* The hub-wide guard, after every cluster was planned and guarded:
 * when the zombies of all clusters (plan->tallies) are more than
 * SWEEP_RATIO_MIN_DELETES and more than `ratio` of all the copies judged,
 * every candidate still SWEEP_PLANNED becomes SWEEP_REFUSED_RATIO and
 * each cluster with zombies not yet refused is added to plan->refusals
 * (hub_wide): an empty hub and many small clusters, none of them over
 * the floor on its own. Returns 1 when refused, 0 when not, -1
 * (allocation failure). */
int sweep_plan_guard_hub(sweep_plan *plan, double ratio);

/* The guard for the inventory's rows of (cluster, resource): when more
 * than SWEEP_RATIO_MIN_DELETES and more than `ratio` of the `held` rows
 * it holds live there are missing from the cluster's list (`missing`,
 * young ones included), the plan's rows from `first` on are refused and
 * the refusal added (inventory set): a kubeconfig now pointing at a
 * rebuilt or wrong cluster would otherwise mark every row of it deleted.
 * Returns as sweep_plan_guard. */
int sweep_plan_guard_rows(sweep_plan *plan, const char *cluster, const char *resource, size_t first,
                          size_t missing, size_t held, double ratio);

/* A dry run's view of the cap: of the candidates plan->items[first..]
 * still SWEEP_PLANNED (deletes, or inventory rows when items[first] is
 * one: each has its cap), all after the first `max` become
 * SWEEP_SKIPPED_CAP, as the real run would leave them. */
void sweep_plan_cap(sweep_plan *plan, size_t first, size_t max);

/* Whether a request that failed with `rc` (a KR_E* code; `http_code` the
 * server's status, 0 when none) may still have been applied: a timeout, a
 * connection cut, a 5xx or an answer that could not be read. A 4xx or an
 * error found before the request left was not. */
bool sweep_outcome_unknown(int rc, int http_code);

/* "2026-12-03T09:15:02Z" -> seconds since the epoch; -1 when malformed. */
int64_t sweep_parse_time(const char *rfc3339);
/* Milliseconds on the monotonic clock. */
uint64_t sweep_monotonic_ms(void);

/* ---- The sweep ---------------------------------------------------------------- */

/* The longest Kind a resource's is taken to be (kr_resource_info's). */
#define KR_SWEEP_KIND_MAX 64

/* The thread that makes a sweep's inventory calls (sweep_inventory's
 * queries and marks) while the sweep waits for their answer, asking
 * whether to give up: a stalled database (a PostgreSQL lock or a server
 * that stopped answering, a SQLite file another writer holds) then holds
 * neither a stop nor a lost Lease, nor the sweep past its bound. A call
 * given up goes on there; its answer is dropped. */
typedef struct sweep_caller sweep_caller;

/* 0, KR_ENOMEM or KR_EIO (no thread). */
int sweep_caller_new(sweep_caller **out, kr_error_t *err);

/* Whether a call is under way (one given up included: it goes on until
 * the database answers). NULL: false. */
bool sweep_caller_busy(sweep_caller *c);

/* Wait for the call under way, if any, then free. NULL is a no-op. Before
 * the inventory it calls is freed; a call the database may never answer
 * is ended first with kr_inventory_interrupt. */
void sweep_caller_free(sweep_caller *c);

typedef struct sweep_cluster {
    const char *name;
    kr_client_t *client;
} sweep_cluster;

typedef struct sweep_opts {
    kr_client_t *hub;
    const char *hub_name;
    const char *namespace_; /* NULL or "": every namespace */
    const sweep_cluster *clusters;
    size_t n_clusters;
    const kr_gvr *resources; /* what to sweep in the workload clusters */
    /* per resource: the one namespace it is swept in (NULL entries, or
     * NULL: namespace_'s) */
    const char *const *resource_namespaces;
    /* per resource: its Kind (--resource G/V/R=Kind); NULL entries, or
     * NULL: Kubernetes' built-in table, else the hub's discovery. One given
     * must be the one these say (it stands alone only when discovery
     * cannot answer): another fails the run. The plan, the inventory's
     * rows and its records name objects by it. */
    const char *const *resource_kinds;
    size_t n_resources;
    int64_t grace_s;
    size_t max_deletes; /* per run */
    /* per cluster: refuse its deletions when they would be more than this
     * share of its copies of ours (sweep_plan_guard); <= 0 or >= 1: none */
    double max_delete_ratio;
    double rate_qps; /* deletes per second; <= 0: unlimited */
    bool dry_run;
    const kr_logger *logger;
    /* Asked right before each delete and each inventory mark (NULL:
     * always): false when this replica may no longer act (it lost its
     * Lease, or a new term began since the sweep did); then nothing more
     * is sent and the rest is SWEEP_SKIPPED_NOT_LEADING. */
    bool (*may_act)(void *user);
    void *may_act_user;
    /* Told of each candidate's action the moment sweep_execute takes it
     * (NULL: no one): a delete sent (deleted, gone, changed, failed), or a
     * candidate the cap or a lost Lease held back. The program records it
     * then (sweep_record_candidate), so that a crash or a kill mid-sweep
     * loses no record of a delete made, and each is stamped with its own
     * moment, not the sweep's end. A delete whose outcome was unknown and
     * that was still there when looked at (SWEEP_FAILED, maybe_applied)
     * is told again, SWEEP_DELETED, when a second look after the other
     * deletes finds it gone. */
    void (*acted)(void *user, sweep_candidate *c);
    void *acted_user;
    /* Told the moment the plan gains a cluster not swept (plan->skips) or
     * refused (plan->refusals), before anything more is listed or sent
     * (NULL: no one), by sweep_run and sweep_inventory, dry run or not:
     * the program records the new ones (sweep_record_decided), so that a
     * kill mid-sweep loses no record of a cluster left alone. */
    void (*decided)(void *user, sweep_plan *plan);
    void *decided_user;
    /* Asked while a delete waits for its turn (rate_qps) (NULL: never):
     * true when the program stops; then nothing more is deleted and the
     * rest is SWEEP_SKIPPED_STOPPING, left to the next sweep. */
    bool (*stopping)(void *user);
    void *stopping_user;
    /* Where sweep_inventory makes its inventory calls (NULL: on the
     * sweep's thread, each waited out, however long the database takes).
     * With one, a call is given up when the program stops (stopping), when
     * this replica may no longer act (may_act), or after
     * inventory_timeout_ms (0: never): a query given up ends the check
     * (KR_ECANCELED, or KR_ETIMEDOUT), a mark given up is one that found
     * the database away. */
    sweep_caller *inventory_caller;
    uint64_t inventory_timeout_ms;
} sweep_opts;

/* One run: find each resource's Kind (one that neither the flags, the
 * built-in table nor the hub's discovery give ends the run), list the hub
 * (a failure ends the run: nothing can be judged),
 * list every cluster (a failure skips that cluster, said in the plan),
 * plan, refuse the deletions of a cluster whose plan is over
 * max_delete_ratio (logged, said in the plan; dry run or not), then unless dry_run delete each
 * candidate with uid + resourceVersion preconditions, at most max_deletes, paced at rate_qps. Fills
 * *plan (free with sweep_plan_free). Returns 0, or a KR_E* code when the hub could not be listed
 * (err says why). [worker thread] */
int sweep_run(const sweep_opts *o, sweep_plan *plan, kr_error_t *err);

/* Act on a plan (one sweep_run made with dry_run): delete each candidate
 * still SWEEP_PLANNED with uid + resourceVersion preconditions, at most
 * max_deletes (a delete whose outcome is unknown counts: a timeout, a
 * transport error or a 5xx may have been applied; a 4xx or a client-side
 * error was not, and does not),
 * paced at rate_qps (a stop during a wait ends the deletes); an object replaced or changed since it
 * was listed is skipped by the server's precondition check. Returns 0 or
 * KR_ENOMEM. [worker thread] */
int sweep_execute(const sweep_opts *o, sweep_plan *plan, kr_error_t *err);

/* Inventory zombies: for the hub and every workload cluster (when the
 * plan refused any cluster's deletions, neither the hub nor the refused
 * clusters: one skip each, said in the plan), a complete list
 * of each swept resource (a failure skips that cluster and resource, said in
 * the plan), then every row the inventory holds as live there that the list
 * does not have, is not newer than the list (its resourceVersion is not
 * above the list's) and is older than the grace period, becomes a
 * SWEEP_NOT_IN_CLUSTER candidate; unless dry_run each is marked deleted in
 * the inventory with event SWEPT and actor kr-sweeper, until a mark finds
 * the database away or stalled (KR_EUNAVAILABLE, KR_ECONNECT,
 * KR_ETIMEDOUT; one given up, with inventory_caller): the rows left are
 * then SWEEP_FAILED, not tried (the next run finds them again); a stop
 * leaves them SWEEP_SKIPPED_STOPPING. Appends to *plan.
 * Returns 0, KR_ENOMEM, or the error of a query (the database's, or a
 * wait given up: KR_ECANCELED, KR_ETIMEDOUT). [worker thread] */
int sweep_inventory(const sweep_opts *o, kr_inventory_t *inv, sweep_plan *plan, kr_error_t *err);

/* Record what a run did in the inventory through its outbox (in order,
 * across a restart of the database), actor kr-sweeper: SWEPT for each
 * object deleted (or found gone), SWEEP_SKIPPED with the reason for each
 * candidate left alone and for each cluster not swept; a refused cluster
 * is one SWEEP_SKIPPED (its counts in the detail), not one per candidate.
 * A candidate, skip or refusal already recorded (`recorded`: when it was
 * acted on or decided) is left out. Returns the number of records
 * refused (logged). A dry run records nothing. Each record waits for the
 * database until
 * `give_up(give_up_user)` says so (NULL: never; asked every 20 ms): then
 * it, and every one after it, waits in the outbox, in order
 * (kr_inventory_outbox_record_unless). */
size_t sweep_record(kr_inventory_outbox_t *ob, const sweep_plan *p, const kr_logger *logger,
                    bool (*give_up)(void *user), void *give_up_user);

/* Record the skips and refusals of `p` not yet recorded, as sweep_record
 * does, and flag them recorded (sweep_opts.decided): the number of
 * records refused (logged). */
size_t sweep_record_decided(kr_inventory_outbox_t *ob, sweep_plan *p, const kr_logger *logger,
                            bool (*give_up)(void *user), void *give_up_user);

/* Record one candidate's action as sweep_record does (the outbox stamps it
 * now): 0, or the outbox's error (logged). */
int sweep_record_candidate(kr_inventory_outbox_t *ob, const sweep_candidate *c,
                           const kr_logger *logger, bool (*give_up)(void *user),
                           void *give_up_user);

/* The plan as a table (CLUSTER KIND NAMESPACE NAME AGE REASON ACTION) or a
 * JSON document {"candidates": [...], "skippedClusters": [...],
 * "refusedClusters": [...], ...}; both say how the inventory's check went
 * (plan->inventory_check): the table when it was not made ("inventory
 * check failed: WHY"), the JSON always but without an inventory
 * ("inventoryCheck": "made", "failed: WHY" or "left to the next sweep:
 * WHY"). */
void sweep_print_table(const sweep_plan *p, FILE *out);
json_t *sweep_plan_json(const sweep_plan *p);

#endif /* KR_SWEEPER_SWEEP_H */
