/* kr-syncer — the program's parts: the syncer (hub client and informers,
 * per-cluster clients and informers of the managed copies) and the
 * decisions each file makes. Everything here is testable without the
 * manager: a test builds a syncer over test servers and calls
 * syncer_reconcile() directly. */
#ifndef KR_SYNCER_H
#define KR_SYNCER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kreconcile.h"

/* Names on the wire: KR_LABEL_*, KR_ANNOTATION_*, KR_FINALIZER_SYNCER and
 * KR_MANAGER_SYNCER of kreconcile/platform.h. */

/* ---- placement.c: which hub objects go where ------------------------------ */

/* Why a hub object is not synced at all: kr_managed_unsynced_reason. */

/* True when `hub`'s placement names `cluster`: the kreconcile.io/clusters
 * annotation (comma-separated, whitespace around names ignored: kr_managed_placed) or, absent,
 * every cluster. */
bool syncer_placed(const json_t *hub, const char *cluster);

/* The names `hub`'s placement gives that are none of the `n` configured
 * clusters (a typo such as "DC2" for "dc2": when every name is unknown,
 * copies are held, kr_managed_placement_check),
 * comma-separated into out[0..len); false when there is none. */
bool syncer_unknown_placement(const json_t *hub, const char *const *clusters, size_t n, char *out,
                              size_t len);

/* ---- apply.c: the copy a workload cluster should hold ------------------- */

/* The desired copy of `hub` for source cluster `hub_name`: the object
 * without status and without server-set metadata, our annotations dropped
 * (and kubectl's last-applied-configuration, which describes the hub
 * object), without what the hub's apiserver allocated (a Service's cluster
 * IPs, a Job's generated selector and labels: each cluster allocates its
 * own), the managed labels added. New reference, or NULL (ENOMEM or a hub
 * object without uid; err says). */
json_t *syncer_desired_copy(const json_t *hub, const char *hub_name, kr_error_t *err);

/* ---- status.c: the kreconcile.io/sync-status annotation ------------------ */

/* One cluster's entry. Strings borrowed; NULL/"" are left out. */
typedef struct syncer_status {
    const char *source_resource_version; /* hub RV whose content was applied */
    const char *target_resource_version; /* RV the write returned in the cluster */
    bool verified; /* that cluster's informer observed target RV */
    bool deleted; /* hub delete: the copy is confirmed gone there */
    const char *last_error;
} syncer_status;

/* The entries of `hub`'s annotation: a new object (cluster -> entry), {}
 * when absent or unparsable. NULL on ENOMEM. */
json_t *syncer_status_parse(const json_t *hub);

/* A new entry for `st`, stamped with the current UTC time. NULL: ENOMEM. */
json_t *syncer_status_entry(const syncer_status *st);

/* True when two entries (either may be NULL) say the same apart from the
 * time: a status write is needed only when this is false. */
bool syncer_status_same(const json_t *a, const json_t *b);

/* What a status write does with our finalizer (false/true: keep/release). */
typedef enum syncer_finalizer {
    SYNCER_FINALIZER_KEEP = 0,
    SYNCER_FINALIZER_RELEASE = 1,
    SYNCER_FINALIZER_ADD = 2, /* in the same write: one hub write per object */
} syncer_finalizer;

/* The merge patch that sets `cluster`'s entry of `hub` to `entry` (NULL:
 * removes it) and adds or removes our finalizer as `finalizer` says, with
 * the hub object's resourceVersion as precondition. *out is new, or NULL
 * when nothing would change. Errors: KR_ENOMEM, KR_EINVAL. */
int syncer_status_patch(const json_t *hub, const char *cluster, const json_t *entry,
                        syncer_finalizer finalizer, json_t **out, kr_error_t *err);

/* The same for several clusters at once: `updates` maps cluster -> entry
 * (JSON null: remove it). */
int syncer_status_patch_entries(const json_t *hub, const json_t *updates,
                                syncer_finalizer finalizer, json_t **out, kr_error_t *err);

/* ---- finalize.c: when a hub delete may complete ---------------------------- */

/* Whether `cluster` must confirm a delete of `hub` before the finalizer
 * goes: it is placed there (by a placement that is not malformed: a held
 * one places nothing), or the status says we may have a copy there (an
 * entry not marked deleted). `entries` from syncer_status_parse. */
bool syncer_delete_needed(const json_t *hub, const json_t *entries, const char *cluster);

/* True when every cluster of `clusters` (n names) either needs no
 * confirmation or has confirmed (entries[c].deleted). Clusters no longer
 * configured are not asked: their leftovers are the sweeper's. */
bool syncer_delete_complete(const json_t *hub, const json_t *entries, const char *const *clusters,
                            size_t n);

/* ---- health.c: a cluster that does not answer ---------------------------- */

/* Per cluster: after a failure that says "unreachable", reconciles for that
 * cluster wait (without a request) until a probe is due; one reconcile
 * probes, the others wait. So a dead datacenter costs one request per
 * probe interval, not one per key, and workers stay free for the others. */
typedef struct syncer_health {
    pthread_mutex_t lock;
    int64_t retry_at_ns; /* no request before this; 0 = healthy */
    uint64_t backoff_ms; /* current probe interval */
    uint64_t failures;
    char last_error[256]; /* the failure that made it wait, without its request */
} syncer_health;

void syncer_health_init(syncer_health *h);
void syncer_health_destroy(syncer_health *h);
/* True when a request may be sent now; else *wait_ms is how long to wait.
 * A due probe reserves the next interval so that only one caller probes. */
bool syncer_health_may_try(syncer_health *h, int64_t now_ns, uint64_t *wait_ms);
/* Record the outcome of a request (rc 0 or negative with err). */
/* Record a request's result; true when it is the first answer after the
 * cluster was failing (it is back). */
bool syncer_health_record(syncer_health *h, int rc, const kr_error_t *err, int64_t now_ns);
/* While the cluster waits for a probe, the failure that made it wait
 * (into buf) and true; false when it is healthy. */
bool syncer_health_last_error(syncer_health *h, char *buf, size_t len);
/* `message` without the request it names ("DELETE /api/...: "): how a
 * cluster failed, the same for every object placed there. Borrowed. */
const char *syncer_without_request(const char *message);
/* True for failures that mean the cluster cannot take requests now: no
 * answer (connection, TLS, timeouts), a 5xx or throttling after every
 * retry. Its keys then wait for a probe (kr_syncer_writes_total tells
 * the three apart: syncer_write_outcome). */
bool syncer_unreachable(int rc, const kr_error_t *err);

/* ---- resources.c: the --resource arguments ---------------------------------- */

/* Parse "GROUP/VERSION/RESOURCE" or "VERSION/RESOURCE" (the core group)
 * into *out, whose strings point into `buf` (`len` bytes). Errors:
 * KR_EINVAL with a message naming the argument. */
int syncer_parse_resource(const char *text, char *buf, size_t len, kr_gvr *out, kr_error_t *err);

/* ---- reconcile.c: the syncer -------------------------------------------- */

/* How the syncer gets an informer: (client, resource, namespace, label
 * selector) -> a started or to-be-started informer it borrows (the
 * manager's kr_manager_informer, or a test's factory). */
typedef int (*syncer_informer_cb)(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                                  const char *label_selector, kr_informer_t **out, kr_error_t *err,
                                  void *user);

/* The operations and outcomes of kr_syncer_writes_total. */
typedef enum syncer_op {
    SYNCER_OP_CREATE,
    SYNCER_OP_PATCH,
    SYNCER_OP_DELETE,
    SYNCER_N_OPS
} syncer_op;
typedef enum syncer_outcome {
    SYNCER_OUTCOME_SUCCESS, /* the cluster accepted it */
    SYNCER_OUTCOME_CONFLICT, /* 409 or 404: the object was not as read; looked at again */
    SYNCER_OUTCOME_REFUSED, /* any other answer (422, 403, ...) */
    SYNCER_OUTCOME_UNREACHABLE, /* no answer: connection, TLS, a timeout without one */
    SYNCER_OUTCOME_UNAVAILABLE, /* a 5xx answer (504 too), after the client's retries */
    SYNCER_OUTCOME_THROTTLED, /* 429, after the client's retries */
    SYNCER_N_OUTCOMES
} syncer_outcome;

typedef struct syncer_cluster {
    char *name;
    kr_client_t *client; /* borrowed */
    kr_informer_t **copies; /* per resource: our copies (managed-by label) */
    /* per resource: what the lists of a cache that has not synced met
     * when every object was last queued for the hub lane to say so in its
     * entry (NULL: never; touched by the hub lane's SYNCER_UNSYNCED_NAME
     * key alone) */
    char **unsynced_told;
    syncer_health health;
    /* metrics.c: this cluster's series (NULL without a registry) */
    kr_metric_t *writes[SYNCER_N_OPS][SYNCER_N_OUTCOMES];
    kr_metric_t *drift_repairs, *out_of_sync;
} syncer_cluster;

typedef struct syncer syncer_t;

typedef struct syncer_resource {
    syncer_t *syncer; /* the syncer it belongs to (a controller's user) */
    size_t index;
    char *group, *version, *resource;
    char kind[64], api_version[128]; /* learned from answers (record.c) */
    kr_gvr gvr;
    kr_informer_t *hub; /* the hub objects of this resource in the namespace */
    /* 1 + the leader's term in which `hub` was seen to have observed the
     * term's first resourceVersion (0: not yet in any term) */
    _Atomic uint64_t fresh_term;
    /* the controller syncer_watch was given (set before it starts), whose
     * lanes a cluster's return wakes; NULL without one */
    kr_controller_t *ctl;
    /* the hub lane's key SYNCER_UNSYNCED_NAME was queued (at the first
     * hub event) */
    atomic_bool unsynced_watch;
} syncer_resource;

typedef struct syncer_config {
    const char *hub_name; /* "hub" when NULL */
    kr_client_t *hub; /* borrowed */
    const char *namespace_; /* the source namespace (copies go to the same) */
    const kr_gvr *resources;
    size_t n_resources;
    const char *const *cluster_names;
    kr_client_t *const *cluster_clients; /* borrowed */
    size_t n_clusters;
    uint64_t resync_ms; /* every key looked at again this often; 0 = never */
    uint64_t verify_timeout_ms; /* read-after-write wait; 0 = 10000 */
    syncer_informer_cb informer;
    void *informer_user;
    kr_inventory_t *inventory; /* borrowed; NULL: nothing recorded */
    /* Borrowed, recording into `inventory`: records then keep their order
     * and are not lost while the database restarts. NULL: each recorded
     * at once, or logged as lost. */
    kr_inventory_outbox_t *outbox;
    kr_event_recorder_t *events; /* borrowed; NULL: no Events on hub objects */
    /* Borrowed (it must outlive the syncer); NULL: no metrics (metrics.c) */
    kr_metrics_registry_t *metrics;
    /* The leader's term under leader election: 0 with its count in *out
     * and the resourceVersion of the Lease write that began it in `rv`
     * (`rv_len` bytes; "" when unknown) while this replica leads, nonzero
     * when it does not. Every write is sent only in the term its reconcile
     * began in, so that a replica paused past its Lease sends nothing when
     * it resumes; until the hub cache has observed `rv`, a copy is created
     * only after a live read of its hub object. NULL: no leader election,
     * always sent. */
    int (*term)(uint64_t *out, char *rv, size_t rv_len, void *user);
    void *term_user;
    kr_logger logger;
    kr_clock clock; /* zero: CLOCK_MONOTONIC */
} syncer_config;

struct syncer {
    char *hub_name;
    char *namespace_;
    kr_client_t *hub;
    syncer_resource *resources;
    size_t n_resources;
    syncer_cluster *clusters;
    size_t n_clusters;
    const char **cluster_names; /* n_clusters, borrowed from clusters[] */
    uint64_t resync_ms, verify_timeout_ms;
    kr_inventory_t *inventory;
    kr_inventory_outbox_t *outbox;
    kr_event_recorder_t *events;
    int (*term)(uint64_t *out, char *rv, size_t rv_len, void *user);
    void *term_user;
    kr_logger logger;
    kr_clock clock;
    /* Counters for tests and logs: writes that succeeded, and every
     * request sent to a workload cluster. */
    uint64_t hub_writes, cluster_writes, cluster_requests;
    pthread_mutex_t stats_lock;
    /* metrics.c: the registry, and the id of the collector of the
     * out-of-sync gauges in it (-1: none) */
    kr_metrics_registry_t *metrics;
    int collector;
    /* status_batch.c: "resource/ns/name" -> {cluster: entry} */
    pthread_mutex_t pending_lock;
    json_t *pending;
    /* "resource/ns/name" -> {due, resource, ns, name}: when the entries
     * parked for an object are written at the latest */
    json_t *pending_due;
    /* reconcile.c, under pending_lock: "resource/ns/name/cluster" -> the
     * resourceVersion of our last write to that copy, until its cache
     * holds it (0 from before the write is sent until its answer: kept
     * when the answer is lost, the write's outcome unknown; createLost:
     * a create's answer was lost, until its copy is found and recorded;
     * patchLost: the last-applied content of a patch whose answer was
     * lost, until a copy carrying it is found and recorded) */
    json_t *written;
    /* reconcile.c, under pending_lock: "resource/ns/name/cluster" -> the
     * copy (as read) whose delete we sent with its outcome unknown (the
     * answer lost: a 5xx, a timeout), until a look at the cluster finds it
     * gone (recorded DELETED then) or there and not being deleted */
    json_t *lost_deletes;
    /* reconcile.c, under pending_lock: "resource/ns/name/cluster" -> the
     * uid of the copy whose delete this lane logged and recorded, until a
     * look finds the cache without it: a cache behind still holds the
     * copy, and a look meeting it then is answered "not found", which is
     * not told again */
    json_t *deletes_told;
    /* reconcile.c, under pending_lock: "resource/ns/name/cluster" -> {uid,
     * at} of a copy this process created, until the hub object carries
     * our finalizer: the one kind of orphan the syncer deletes itself (a
     * hub delete that came before the finalizer); others are the
     * sweeper's, after its grace period. Pruned of entries past
     * SYNCER_ORPHAN_WINDOW_MS when it reaches created_prune_at entries. */
    json_t *created;
    size_t created_prune_at;
    /* reconcile.c, under pending_lock: "resource/ns/name" -> the unknown
     * placement names this leader warned of (once per set of names, not
     * per version of the object: our own status writes make versions;
     * dropped when the placement is right or the object goes) */
    json_t *placement_warned;
    /* reconcile.c, under pending_lock: "resource/cluster/ns/name" -> the
     * uid of a copy of ours whose hub object is gone, left to kr-sweeper:
     * said at info level once, at debug at each look after (a resync);
     * dropped when a look finds the copy gone */
    json_t *orphans_told;
    /* status_batch.c, under pending_lock: "resource/ns/name" -> the hub
     * resourceVersion of our last write to that hub object, until a
     * reconcile found the hub cache holding it; pruned of what the hub
     * informer observed when it reaches hub_written_prune_at entries */
    json_t *hub_written;
    size_t hub_written_prune_at;
    /* status_batch.c, under pending_lock: "resource/ns/name" -> hashes of
     * the sync-status texts our hub writes to that object set (0: one
     * removed the annotation), oldest first: each recorded before its
     * write is sent, so that its watch event is known for ours
     * (syncer_hub_wakes) even when it comes after the next write was
     * sent; those before the one an event shows are dropped then, at
     * most 8 kept; made at the first write, pruned of objects the hub
     * cache no longer holds when it reaches status_sent_prune_at
     * entries */
    json_t *status_sent;
    size_t status_sent_prune_at;
};

/* Build the syncer and ask for its informers (hub objects of every
 * resource; our copies of every resource in every cluster). *out is new
 * (syncer_free). Errors: KR_EINVAL, KR_ENOMEM, the informer callback's. */
int syncer_new(const syncer_config *cfg, syncer_t **out, kr_error_t *err);
void syncer_free(syncer_t *s);

/* Reconcile one key of resource `resource` for one workload cluster
 * (req->cluster): make that cluster agree with the hub object, then record
 * it in the hub object's sync-status. [worker] */
kr_reconcile_result syncer_reconcile(syncer_t *s, size_t resource, const kr_reconcile_request *req,
                                     uint64_t *requeue_after_ms, kr_error_t *err);

/* The same under controller `ctl`: a lane parks its status entry and
 * queues the key on the hub's lane (req->cluster == the hub's name), whose
 * reconcile writes every parked entry at once. [worker] */
kr_reconcile_result syncer_reconcile_in(syncer_t *s, kr_controller_t *ctl, size_t resource,
                                        const kr_reconcile_request *req, uint64_t *requeue_after_ms,
                                        kr_error_t *err);

/* ---- status_batch.c: entries parked for one hub write ------------------------ */

/* Park `cluster`'s entry (borrowed) for the object; a newer one replaces
 * it. *parked (may be NULL): how many clusters' entries are parked for the
 * object now. Errors: KR_ENOMEM. [any thread] */
int syncer_pending_put(syncer_t *s, size_t resource, const char *ns, const char *name,
                       const char *cluster, const json_t *entry, size_t *parked);
/* How many clusters' entries are parked for the object. [any thread] */
size_t syncer_pending_count(syncer_t *s, size_t resource, const char *ns, const char *name);
/* Take every entry parked for the object: new object cluster -> entry, or
 * NULL. [any thread] */
json_t *syncer_pending_take(syncer_t *s, size_t resource, const char *ns, const char *name);
/* Put back entries a failed write took (borrowed), unless newer ones were
 * parked meanwhile. [any thread] */
void syncer_pending_restore(syncer_t *s, size_t resource, const char *ns, const char *name,
                            json_t *entries);
/* The entries parked for the object are to be written by `due_ns` (on
 * the syncer's clock) at the latest; the earliest due time wins, and
 * syncer_pending_take forgets it. Errors: KR_ENOMEM. [any thread] */
int syncer_pending_due(syncer_t *s, size_t resource, const char *ns, const char *name,
                       int64_t due_ns);
/* Called by syncer_pending_sweep for an object whose entries are due. */
typedef void (*syncer_due_cb)(const char *ns, const char *name, void *user);
/* Call fn (under no lock) for every object of `resource` whose entries are
 * due at `now_ns`, forgetting their due times. Returns the earliest due
 * time of the others of `resource`, or 0 when there are none: so one timer
 * (the hub lane's key SYNCER_SWEEP_NAME) watches every parked object,
 * instead of one timer per object that fires even when the object's
 * entries went out long before. [any thread] */
int64_t syncer_pending_sweep(syncer_t *s, size_t resource, int64_t now_ns, syncer_due_cb fn,
                             void *user);

/* The name of the hub lane's key whose reconcile sweeps the due entries
 * (never an object's name: Kubernetes names have no '~'). */
#define SYNCER_SWEEP_NAME "~parked-status"

/* The hub lane's key that looks, every few seconds until every cluster's
 * cache has synced, for a cluster whose lists fail (down when the syncer
 * started, or not serving the resource): its lane holds its keys, so
 * the hub lane writes, in each object's entry for it, what holds it. */
#define SYNCER_UNSYNCED_NAME "~unsynced-clusters"

/* How long after creating a copy the syncer deletes it itself when its
 * hub object is found gone (a hub delete that beat the finalizer); any
 * other copy whose hub object is gone is left to kr-sweeper. */
#define SYNCER_ORPHAN_WINDOW_MS (10 * 60 * 1000)

/* Remember that our write to the hub object returned resourceVersion `rv`
 * (borrowed), so that a reconcile reading the hub cache before it holds
 * that write waits for it (syncer_hub_get) instead of the writer waiting
 * after every write. [any thread] */
void syncer_hub_written(syncer_t *s, size_t resource, const char *ns, const char *name,
                        const char *rv);
/* The hub object from the hub cache (new reference, or NULL): when our
 * last write to it is newer than what the cache holds, after waiting (up
 * to verify_timeout_ms) for the hub informer to observe that write, so
 * that no decision is made on a state older than our own write (whose
 * resourceVersion precondition would then fail for nothing). [worker] */
json_t *syncer_hub_get(syncer_t *s, size_t resource, const char *ns, const char *name);

/* About to send `patch` (borrowed), a merge patch of the hub object: when
 * it sets the sync-status annotation (or removes it), remember what it
 * sets for syncer_status_ours, besides what our earlier writes whose
 * events have not come yet set. Out of memory: nothing is remembered, and
 * the write's event wakes the lanes once. [any thread] */
void syncer_status_sending(syncer_t *s, size_t resource, const char *ns, const char *name,
                           const json_t *patch);
/* True when the sync-status text of `hub` (a hub object of `resource`;
 * absent counts too) is what one of our hub writes to it set whose event
 * had not come before (the last one, or one sent before it); false when
 * we never wrote it (in this process) or it was written since by someone
 * else. Called with each hub event in order: the texts of our writes sent
 * before the one it shows are forgotten. [loop thread] */
bool syncer_status_ours(syncer_t *s, size_t resource, const json_t *hub);
/* True when we wrote the sync-status of `hub` in this process and its
 * text is none of what our writes set (syncer_status_ours would say
 * false): someone else wrote it since (an old backup's entries written
 * back, a tool). Forgets nothing. [any thread] */
bool syncer_status_foreign(syncer_t *s, size_t resource, const json_t *hub);

/* ---- metrics.c: kr_syncer_* on the program's /metrics -------------------------- */

/* Register the syncer's families in s->metrics and every cluster's series
 * (all at zero), and the collector of the out-of-sync gauges. Nothing
 * without a registry. Errors: as kr_metrics_family_register. */
int syncer_metrics_init(syncer_t *s, kr_error_t *err);
/* Remove the collector (before the syncer goes). */
void syncer_metrics_fini(syncer_t *s);

/* Whether `hub` (a hub object; `entries` its syncer_status_parse) is not
 * in sync with `cluster`, as its status entry says: placed there (or
 * being deleted while that cluster must confirm it) without a verified
 * entry free of errors, or not placed there while an entry says a copy
 * may be left. Objects the syncer does not sync, and those being deleted
 * without our finalizer, never count. */
bool syncer_out_of_sync(const json_t *hub, const json_t *entries, const char *cluster);

/* The outcome of a write that answered `rc` (0, or negative with err):
 * the last three are the failures of syncer_unreachable, told apart by
 * whether an answer came and which. */
syncer_outcome syncer_write_outcome(int rc, const kr_error_t *err);

/* Count a write to `cl` that answered `rc` (0, or negative with err). */
void syncer_count_write(syncer_cluster *cl, syncer_op op, int rc, const kr_error_t *err);

/* ---- record.c: the inventory ------------------------------------------------ */

/* Record `event` (CREATED, PATCHED, VERIFIED, DELETED) on `obj` (borrowed:
 * the write's answer, or the copy) in `cluster`, when the syncer has an
 * inventory; a failure is logged. [worker] */
void syncer_record(syncer_t *s, syncer_resource *res, const char *cluster, const json_t *obj,
                   const char *event);

/* A Warning Event (reason SyncFailed) on the hub object `hub_obj`: what
 * `cluster` refused, as the status says it, after "<cluster>: " unless
 * the message names the cluster already (an entry's failure does: "create
 * configmaps apps/web in dc2: ...", and a copy not ours: "configmaps/web
 * exists in dc2 without the label ..."). Sent when the syncer has an
 * event recorder; a failure is logged at debug level. [worker] */
void syncer_warn_event(syncer_t *s, syncer_resource *res, const json_t *hub_obj,
                       const char *cluster, const char *message);

/* ---- controllers.c: the controller of one resource ------------------------- */

/* A kr_reconcile_cb: `user` is &syncer->resources[i]. [worker] */
kr_reconcile_result syncer_controller_reconcile(kr_controller_t *ctl,
                                                const kr_reconcile_request *req,
                                                uint64_t *requeue_after_ms, kr_error_t *err,
                                                void *user);

/* Fill `opts` for resource `resource`'s controller (named
 * "kr-syncer-<resource>[.<group>]" in `name`, `len` bytes): reconcile,
 * user, workers (0: twice the number of clusters). */
void syncer_controller_opts(syncer_t *s, size_t resource, unsigned workers, char *name, size_t len,
                            kr_controller_opts *opts);

/* Register the sources of resource `resource` on `ctl`: the hub objects
 * (each event queues the key on every cluster's lane) and our copies in
 * every cluster (a copy's key is its hub object's, on its cluster's lane).
 * Errors: as kr_controller_watch. */
int syncer_watch(syncer_t *s, size_t resource, kr_controller_t *ctl, kr_error_t *err);

/* The hub source's predicate: false for an update that changed only what
 * the syncer itself writes there (the sync-status annotation, our
 * finalizer, and so the resourceVersion), which would otherwise make every
 * cluster's lane look again after each status write. [loop thread] */
bool syncer_hub_changed(const json_t *old_obj, const json_t *new_obj, void *user);

/* The hub informer's predicate (`user`: the syncer_resource, or NULL):
 * syncer_hub_changed, or someone else changed what the syncer keeps on
 * the object (took our finalizer away, while it is neither being deleted
 * nor skipped; set the sync-status annotation to anything but what our
 * last write to it set, syncer_status_ours: removed it, emptied it, wrote
 * back an old backup's entries or values of the wrong shape), which the
 * woken lanes put right at once rather than at the next resync: a hub
 * delete meanwhile would not wait for the copies, and the out-of-sync
 * gauge would follow the wrong text. Our own status writes wake no lane.
 * Without `user` every change of the status text wakes them. */
bool syncer_hub_wakes(const json_t *old_obj, const json_t *new_obj, void *user);

#endif /* KR_SYNCER_H */
