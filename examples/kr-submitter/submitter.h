/* kr-submitter — the program's internal contract: the Runnable's names on
 * the wire, and the small decision modules beside main.c (auth, approval,
 * submission, idempotency, failover, dispatch, api, cli). Each module is
 * testable without a server; only dispatch and api make requests, through
 * the clients and informers handed to them. Never installed. */
#ifndef KR_SUBMITTER_H
#define KR_SUBMITTER_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kreconcile.h"

/* ---- Names on the wire (docs/PLATFORM.md, kreconcile/platform.h) ---------- */

#define SUB_API_VERSION KR_PLATFORM_API_VERSION
#define SUB_RUNNABLES KR_RUNNABLE_GVR
#define SUB_FINALIZER KR_FINALIZER_SUBMITTER
#define SUB_LABEL_MANAGED_BY KR_LABEL_MANAGED_BY
#define SUB_LABEL_SOURCE_UID KR_LABEL_SOURCE_UID
#define SUB_LABEL_SOURCE_CLUSTER KR_LABEL_SOURCE_CLUSTER
#define SUB_PROGRAM KR_MANAGER_SUBMITTER
#define SUB_MANAGED_SELECTOR KR_LABEL_MANAGED_BY "=" KR_MANAGER_SUBMITTER
/* Who submitted a Runnable created on the hub directly (not through the API). */
#define SUB_UNKNOWN_SUBMITTER "unknown"
/* The longest Runnable name: the workload copy adds "-<attempt>" and Job
 * names must fit a 63-character label value. */
#define SUB_MAX_NAME 52
/* Room for a copy's name, "<runnable>-<attempt>", whatever the name (253
 * characters at most in Kubernetes) and attempt. */
#define SUB_COPY_NAME_LEN (253 + 1 + 20 + 1)
/* The largest submission body: a Runnable must fit in etcd's 1.5 MiB. */
#define SUB_MAX_BODY (1024 * 1024)
/* The most approvals a policy may ask for (the CRD's maximum too). */
#define SUB_MAX_APPROVALS 1000

/* The status phases. */
#define SUB_PHASE_PENDING "Pending"
#define SUB_PHASE_AWAITING "AwaitingApproval"
#define SUB_PHASE_REJECTED "Rejected"
#define SUB_PHASE_DISPATCHING "Dispatching"
#define SUB_PHASE_DISPATCHED "Dispatched"
#define SUB_PHASE_RUNNING "Running"
#define SUB_PHASE_SUCCEEDED "Succeeded"
#define SUB_PHASE_FAILED "Failed"
#define SUB_PHASE_CANCELLED "Cancelled"

/* Small accessors over Runnable JSON (borrowed results, "" when absent). */
const char *sub_str(const json_t *obj, const char *path); /* "status.phase" */
json_int_t sub_int(const json_t *obj, const char *path);
/* The value of label `key` of `obj` ("" when absent); label keys hold dots. */
const char *sub_label(const json_t *obj, const char *key);
/* The current UTC time as RFC 3339 ("2026-12-03T09:15:02Z") into buf[32]. */
void sub_now_rfc3339(char buf[32]);
/* Fill err (code, http_code = http_status, message) and return
 * http_status: how the decision modules refuse a request. */
int sub_fail(kr_error_t *err, int http_status, int code, const char *fmt, ...) KR_PRINTF(4, 5);
/* Set condition `type` in `status` (lastTransitionTime kept when the value
 * did not change). */
void sub_set_condition(json_t *status, const char *type, bool value, const char *reason,
                       const char *message);
/* True when `obj`'s status has condition `type` with status "True". */
bool sub_condition_true(const json_t *obj, const char *type);
/* Condition `type` of `status` says False now, with `reason` and
 * `message`, when it said True: what it said no longer holds. Absent or
 * False already: left as it is. */
void sub_condition_clear(json_t *status, const char *type, const char *reason, const char *message);
/* The conditions of `status` (about to be written) that describe a state
 * it has left say so: CreateRefused of a runnable that has ended. Every
 * status write calls it, the controller's and the API's. */
void sub_status_settle(json_t *status);
/* True for Succeeded, Failed, Cancelled and Rejected. */
bool sub_phase_terminal(const char *phase);

/* The condition that says a failover's create was refused for good and
 * the runnable follows the attempt it failed over from again: True from
 * that refusal (its reason CreateFailed or NameTaken); False once the
 * runnable ends (reason: its phase) or once the create of a later attempt
 * is accepted (reason AttemptCreated), when the refusal holds it back no
 * more. The refused attempt stays in status.attempts ("Refused"). */
#define SUB_CONDITION_CREATE_REFUSED "CreateRefused"

/* ---- approval.c: who may approve, and when the quorum is met ------------- */

/* The condition that says why the approvals counted dropped: False,
 * reason SpecChanged, when an edit of the spec voided approvals given for
 * the earlier one; True, reason QuorumMet, once the spec as it is now has
 * its quorum again. Absent while no approval was ever voided. */
#define SUB_CONDITION_APPROVED "Approved"

/* The spec hash an approval binds to: SHA-256 (hex) of the canonical JSON
 * (sorted keys, compact) of spec without idempotencyKey. */
int approval_spec_hash(const json_t *runnable, char out[65]);
/* Approvals the policy requires: spec.approval.required, never fewer than
 * status.approvalPolicy.required (the policy it was submitted under: an
 * edit of the spec can raise it, not lower it), at least 1 for a Runnable
 * submitted by SUB_UNKNOWN_SUBMITTER (created on the hub directly). */
unsigned approval_required(const json_t *runnable);
/* The group whose members approve: status.approvalPolicy.group when the
 * policy was recorded, else spec.approval.group ("" for anyone). */
const char *approval_group(const json_t *runnable);
/* Record in `status` the approval policy `runnable` is submitted under
 * (status.approvalPolicy: required, group), unless it is there already. */
void approval_policy_record(json_t *status, const json_t *runnable);
/* Distinct users whose latest decision is "Approved" for `spec_hash`. */
unsigned approval_count(const json_t *runnable, const char *spec_hash);
/* True when a decision "Rejected" was recorded for `spec_hash`. */
bool approval_rejected(const json_t *runnable, const char *spec_hash);
/* Record `who`'s decision (approve or reject) in `runnable`'s status (a
 * copy the caller owns and will write), unrecorded (see
 * approval_unrecorded). Returns the HTTP status to answer:
 * 200 (recorded, or the same decision of `who` already there for the
 * current spec, in any phase: `runnable` unchanged), 403 (self-approval,
 * not a member of the policy's group), 409 (not awaiting approval, or
 * `expected_hash` given and not the current spec's), with a message in err. */
int approval_decide(json_t *runnable, const kr_token_user *who, bool approve,
                    const char *expected_hash, kr_error_t *err);
/* The approvals a table shows (CLI), "N/M": those counted for the spec
 * the runnable waits with, or, once past approval, for the spec it was
 * dispatched with (status.specHash, the spec the controller last took);
 * a spec edited since, not applied to a copy made already, is shown
 * after it, pending: "1/1 (edited spec: 0/1)". */
void approval_summary(const json_t *runnable, char *out, size_t len);
/* What the decision at `index` of status.approvals did, as the books
 * say it: "approved: 1 of 2" or "approved: quorum met" (the approvals up
 * to it, for the spec it was given for), or "Rejected". */
void approval_outcome(const json_t *runnable, size_t index, char *out, size_t len);
/* How many approvals an edit of the spec voids: those counted for
 * status.specHash (the spec last looked at) when `spec_hash` (the spec as
 * it is now) differs; 0 when none. With a count, `message` (may be NULL)
 * says so, both hashes' first digits and the approvals now, for the
 * Approved condition and the Event. */
unsigned approval_voided(const json_t *runnable, const char *spec_hash, char *message, size_t len);
/* Set the Approved condition of `runnable`'s status (see
 * SUB_CONDITION_APPROVED) for the spec as it is now (`spec_hash`), before
 * status.specHash takes it. */
void approval_condition_update(json_t *runnable, const char *spec_hash);
/* The phase a Runnable awaiting approval moves to: Rejected, Dispatching
 * (quorum met and every decision recorded), or AwaitingApproval. */
const char *approval_next_phase(const json_t *runnable, const char *spec_hash);
/* Decisions are sealed: approval_decide adds to each entry it writes an
 * HMAC-SHA256, under a key every replica shares, of the Runnable's uid,
 * the author, the decision and the spec hash ("seal"). Only a sealed entry
 * counts (approval_count, approval_rejected, a repeated decision) or holds
 * the Runnable back unrecorded: one written to the status by anyone else
 * (whoever may write runnables/status) is no decision, and the controller
 * records it as FORGED and marks it ("forged": true). The mark is a note,
 * never trusted: with the key, whether an entry counts depends on its seal
 * alone (a sealed entry marked forged counts, and the controller clears
 * the mark). Set the key once, at start, before any thread decides or
 * counts (SHA-256 of `material` is the key); never set (a reader of the
 * API's answers: the CLI), every entry not marked forged counts as given. */
void approval_seal_key(const unsigned char *material, size_t len);
/* Whether `entry` of runnable's status.approvals is sealed (see above). */
bool approval_sealed(const json_t *runnable, const json_t *entry);
/* True when a sealed decision in status.approvals is not in the inventory yet
 * ("recorded": false): approval_decide writes it so, the API records the
 * transition, then marks it recorded; so APPROVED is always recorded
 * before anything the approval lets happen. */
bool approval_unrecorded(const json_t *runnable);
/* Mark `user`'s unrecorded `decision` ("Approved"/"Rejected") for
 * `spec_hash` recorded in `runnable` (a copy the caller writes) and move
 * the phase on if it awaited approval. True when something changed. */
bool approval_mark_recorded(json_t *runnable, const char *user, const char *decision,
                            const char *spec_hash);

/* ---- idempotency.c: one Runnable per idempotency key ---------------------- */

/* The Runnable name for `key` in `namespace_`: `base` (sanitised to a DNS
 * label, shortened) + "-" + 10 hex digits of SHA-256(namespace/key). Two
 * submissions with one key get one name, so the hub's AlreadyExists
 * decides between concurrent submissions. `out` holds SUB_MAX_NAME + 1.
 * Errors: KR_ENOMEM (no digest context). */
int idempotency_name(const char *base, const char *namespace_, const char *key, char *out);
/* A DNS-label prefix made of `name` for generated names ("job-x-"). */
void idempotency_base(const char *name, char *out, size_t len);
/* `name` as a DNS label fragment into out (max + 1 bytes): lower case,
 * [a-z0-9-], no leading, trailing or doubled '-', at most `max`
 * characters. Its length (0: nothing was left). */
size_t sub_label_fragment(const char *name, size_t max, char *out);

/* ---- submission.c: what a submission may contain ----------------------------- */

/* Whether `cluster` serves apiVersion/kind and if it is namespaced: 0,
 * KR_ENOTFOUND (not served), or another error (cluster unreachable: the
 * check is skipped for it). */
typedef int (*submission_kind_cb)(const char *cluster, const char *api_version, const char *kind,
                                  bool *namespaced, void *user);

typedef struct submission_opts {
    const char *namespace_; /* from the request; NULL: the manifest's, else "default" */
    const char *const *clusters; /* configured workload clusters, in order */
    size_t n_clusters;
    const char *clusters_arg; /* "a,b" from the request (overrides spec.clusters); NULL */
    const char *idempotency_key; /* from the request; NULL */
    submission_kind_cb kind;
    void *kind_user;
    /* Whether the caller may submit to namespace `ns` (may be NULL): 0,
     * or the HTTP status to answer with the reason in err->message; asked
     * once the namespace is known, before the manifest is checked. */
    int (*admit)(const char *ns, void *user, kr_error_t *err);
    void *admit_user;
} submission_opts;

/* Turn a body (a manifest or a Runnable, JSON or YAML) into the Runnable to
 * create (*out new). Returns 0 or the HTTP status to answer (400, 422) with
 * the reason in err->message. */
int submission_build(const char *body, size_t len, const submission_opts *opts, json_t **out,
                     kr_error_t *err);

/* Whether a comma-separated list of clusters (a query's, --clusters)
 * names an empty one: a comma first, last or twice. */
bool submission_clusters_gap(const char *list);

/* The checks submission_build makes, of a Runnable created on the hub
 * directly (kubectl): its template (a manifest with kind, apiVersion and
 * name, of the runnable's namespace, a kind every target cluster that
 * answers serves namespaced), spec.clusters (configured, none twice) and
 * its policies. 0, or 422 with the reason in err->message.
 * opts->namespace_, clusters_arg and idempotency_key are not used. */
int submission_check(const json_t *runnable, const submission_opts *opts, kr_error_t *err);

/* submission_kind_cb for submitter `user`: asks the cluster's discovery
 * (its client without retries, so that one out of reach answers at once:
 * the check is skipped for it). */
int submitter_kind_lookup(const char *cluster, const char *api_version, const char *kind,
                          bool *namespaced, void *user);

/* ---- failover.c: where the next attempt goes, and what becomes of copies --- */

/* The clusters of a Runnable in preference order: spec.clusters filtered to
 * the configured ones, or every configured cluster. Returns the count
 * written to `out` (at most `max`), pointers borrowed from either. */
size_t failover_order(const json_t *runnable, const char *const *configured, size_t n_configured,
                      const char **out, size_t max);
/* The states of an attempt in status.attempts[].state: its decision
 * committed, its copy created, deleted or stopped, or its create refused
 * for good by its cluster (the entry then holds the specHash refused and
 * the cluster's message). */
#define ATTEMPT_DECIDED "Decided"
#define ATTEMPT_CREATED "Created"
#define ATTEMPT_DELETED "Deleted"
#define ATTEMPT_STOPPED "Stopped"
#define ATTEMPT_REFUSED "Refused"
/* True for an attempt that has no copy left to look after: deleted,
 * stopped, or refused (never created). */
bool failover_attempt_over(const char *state);
/* True when `cluster` refused for good the create of an attempt of the
 * Runnable's current spec (status.specHash). */
bool failover_refused(const json_t *runnable, const char *cluster);
/* The cluster after `current` in `order` that has not refused the
 * Runnable's current spec (failover_refused), or NULL: a refusal is not
 * met again on every failover while the spec is the same. */
const char *failover_next(const json_t *runnable, const char *const *order, size_t n,
                          const char *current);
/* The entry of status.attempts (borrowed) of the latest attempt other
 * than the current one whose copy may be alive (Decided or Created, in a
 * cluster that was out of reach when a later attempt was decided), or
 * NULL: what the Runnable goes back to following when the current
 * attempt's create is refused for good. */
const json_t *failover_fallback(const json_t *runnable);
/* True when a dispatch stuck on a cluster unreachable since
 * `unreachable_since_ms` (0: reachable) should go to the next cluster:
 * `now_ms` is the time up to which it is known unreachable, the send of
 * its latest failed request (failover_health.failed_sent_ms), so that a
 * cluster is failed over only when a request sent past the delay failed,
 * never on a verdict older than the delay's end. */
bool failover_due(const json_t *runnable, bool started, uint64_t unreachable_since_ms,
                  uint64_t now_ms, uint64_t failover_after_ms);
/* Per-cluster reachability, fed by the outcome of every request the
 * reconcile makes to the cluster (no request waits on retries: see
 * sub_cluster.fast). Pure: the caller holds submitter.mu and passes the
 * times. */
typedef struct failover_health {
    /* When the first failed request since the last answer was SENT (0:
     * answering), so that a request that took long to fail does not delay
     * the verdict by its own duration. */
    uint64_t down_since_ms;
    uint64_t failed_sent_ms; /* when the latest failed request was sent */
    uint64_t probed_ms; /* when the cluster was last asked (or a probe claimed) */
    uint64_t claimed_ms; /* when a probe was last claimed */
} failover_health;
/* A request sent at `sent_ms` ended at `now_ms`: answered (any HTTP answer
 * but 5xx: a 404, a 409 and a 429 prove the cluster reachable) or not. */
void failover_health_report(failover_health *h, uint64_t sent_ms, uint64_t now_ms, bool answered);
/* True, and the probe slot taken until `interval_ms` from now, when nobody
 * asked the cluster for `interval_ms`: one reconcile probes, the others read
 * the verdict. */
bool failover_probe_claim(failover_health *h, uint64_t now_ms, uint64_t interval_ms);
/* Whether `rc` (a request's result) shows the cluster out of reach: 5xx,
 * timeouts, refused or reset connections, TLS failures. */
bool failover_unreachable_rc(int rc);
/* Whether a workload copy has started running (Job startTime or active
 * pods, a Pod past Pending, or a terminal condition). */
bool failover_started(const json_t *copy);
/* The outcome a workload copy reports: SUB_PHASE_SUCCEEDED, SUB_PHASE_FAILED
 * or NULL (still running). */
const char *failover_outcome(const json_t *copy);
/* Why a copy ended as failover_outcome says: the reason and message of
 * the Job's condition that says so (Complete, SuccessCriteriaMet,
 * Failed: "BackoffLimitExceeded", "DeadlineExceeded"...), or a Pod's
 * status.reason and status.message; "" where it gives none. Borrowed
 * from copy. */
void failover_outcome_reason(const json_t *copy, const char **reason, const char **message);

typedef enum straggler_action {
    STRAGGLER_DELETE = 0, /* not started: delete it */
    /* started while the current copy has not (or does not exist): the
     * straggler is the one that runs; delete the current copy */
    STRAGGLER_ADOPT = 1,
    STRAGGLER_STOP_IT = 2, /* both started, the straggler later: stop it, record the conflict */
    /* both started, the current one later: stop it, follow the straggler,
     * record the conflict */
    STRAGGLER_STOP_CURRENT = 3,
} straggler_action;
/* What to do with a copy of an earlier (or abandoned) attempt while
 * `current` (may be NULL) is the copy the Runnable follows. */
straggler_action failover_straggler(const json_t *straggler, const json_t *current);

/* ---- dispatch.c: the reconcile ------------------------------------------------- */

typedef struct sub_cluster {
    const char *name; /* borrowed */
    kr_client_t *client; /* borrowed: the informers' client */
    /* Borrowed; NULL: client. The reconcile's requests to the cluster go
     * through it: a client without retries (the requeue retries), each
     * request bounded by submitter.request_timeout_ms, so that no worker
     * waits on a cluster that has gone away. */
    kr_client_t *fast;
    failover_health health; /* under submitter.mu */
    /* The health state its runnables were last woken for (under
     * submitter.mu): 0 answering, 1 failing, 2 failing past
     * failover_after_ms. Each change wakes the Runnables placed on the
     * cluster; nothing else looks at them periodically. */
    int woken_state;
    /* The cluster's resourceVersion as last asked by cluster_before (under
     * submitter.mu), shared by every runnable whose create the cluster's
     * cache has not observed: one LIST per cluster per interval, not one
     * per runnable per follow. `now` is the answer (0: none), `covered`
     * the highest create's resourceVersion any runnable asked about before
     * that LIST was sent (the answer holds for those), `highest` the
     * highest asked about so far, `asked_ms` when the LIST was claimed. */
    struct {
        unsigned long long now, covered, highest;
        uint64_t asked_ms;
        bool asked;
    } before;
} sub_cluster;

/* Points in a dispatch where a test may inject a fault. */
typedef enum sub_hook_point {
    SUB_HOOK_AFTER_DECISION = 1, /* decision committed, create not sent */
    SUB_HOOK_AFTER_CREATE = 2, /* create answered, Dispatched not committed */
} sub_hook_point;

/* One transition of a Runnable (what goes to the inventory). Borrowed. */
typedef struct sub_event {
    const char *event; /* SUBMITTED, APPROVED, REJECTED, DISPATCHED, ... */
    const char *namespace_, *name, *uid;
    const char *actor; /* the user, or SUB_PROGRAM */
    const char *cluster; /* "" when none */
    const char *resource_version; /* "" when none */
    const char *outcome; /* a short text */
    /* What makes this record one of a kind (an approver's decision on one
     * spec, a submission), so that recording it again is a no-op; NULL:
     * none. A decision with a key is recorded now or refused; any other
     * transition may wait in the outbox, under its key. */
    const char *key;
} sub_event;

/* 0 when the transition is in the books, else the error (the caller
 * keeps what it must record again). */
typedef int (*sub_record_cb)(const sub_event *ev, void *user);
typedef void (*sub_hook_cb)(sub_hook_point point, const char *cluster, void *user);
/* The fencing epoch for a new decision (the leader's term transitions):
 * 0, or KR_ESTATE when this replica does not lead. */
typedef int (*sub_epoch_cb)(uint64_t *epoch, void *user);
typedef void (*sub_wake_cb)(const char *namespace_, const char *name, void *user);
/* The started, shared informer of cluster `cluster`'s objects of `gvr`
 * labelled SUB_MANAGED_SELECTOR, in every namespace (*out borrowed; main
 * takes it from the manager's factory and makes its events wake the
 * owning Runnable). */
typedef int (*sub_informer_cb)(size_t cluster, kr_gvr gvr, kr_informer_t **out, kr_error_t *err,
                               void *user);

typedef struct submitter {
    kr_client_t *hub; /* borrowed */
    const char *hub_name;
    kr_informer_t *runnables; /* the hub's Runnable informer (borrowed) */
    sub_cluster *clusters;
    size_t n_clusters;
    uint64_t failover_after_ms; /* 0 = 60000 */
    /* How long the informer is asked to wake a Runnable whose create it has
     * not observed yet (see wake); 0 = 30000. */
    uint64_t verify_wait_ms;
    uint64_t probe_interval_ms; /* health probes of a quiet cluster; 0 = failover_after / 4 */
    /* Each request to a workload cluster; 0 = failover_after / 4, within
     * [250 ms, 10 s]. */
    uint64_t request_timeout_ms;
    /* A Runnable without status younger than this is left to the API that
     * created it; older, it is taken for one created on the hub directly
     * (submitted by "unknown"); likewise a decision the API wrote
     * unrecorded is recorded by the controller once older than this;
     * 0 = 5000. */
    uint64_t admit_grace_ms;
    /* A Runnable created (or whose spec was edited) on the hub directly is
     * also checked as the API checks a submission with api.dry_run: its
     * template created with dryRun=All in its first cluster that answers;
     * what that refuses fails it before anyone is asked to approve it. */
    bool dry_run;
    kr_clock clock;
    kr_logger logger;
    sub_epoch_cb epoch;
    void *epoch_user;
    sub_record_cb record;
    void *record_user;
    /* Events on the Runnable for what a person looks at (dispatch,
     * approvals, rejection, failover, the end); NULL: none. Borrowed. */
    kr_event_recorder_t *events;
    sub_hook_cb hook;
    void *hook_user;
    sub_informer_cb informer_for; /* required */
    void *informer_for_user;
    /* Look at Runnable namespace/name again soon (main: enqueue its key);
     * NULL: rely on the requeue delays (tests calling reconcile directly). */
    sub_wake_cb wake;
    void *wake_user;
    pthread_mutex_t mu;
    /* "ns/name" -> {rv: the resourceVersion of our last write of it,
     * waited: a reconcile found the cache behind it}, until the cache has
     * it (under mu): a reconcile never acts on an older view. */
    json_t *expected;
    /* "ns/name" -> {attempt, rv}: a copy created whose cluster's cache has
     * not observed it yet (under mu; lost on restart: the create is then
     * repeated, meets AlreadyExists and reads the copy back). */
    json_t *created;
    /* "ns/name" -> {uid, rv}: the copy released and the resourceVersion
     * the release returned, until the cluster's cache has it (under mu): a reconcile
     * woken in between (by the hub's echo of our write) does not release
     * it again. */
    json_t *released;
    /* "ns/name" -> {copy name: uid}: the copies this process deleted,
     * until the cluster's cache no longer has them (under mu): a cache
     * still holding a copy we deleted is not taken for a late create. */
    json_t *deleted;
    /* "ns/name" -> true while the API of this process admits the Runnable
     * it created (under mu): see submitter_admit_begin. */
    json_t *admitting;
} submitter;

/* Fill the defaults and the lock. The caller sets the borrowed members. */
int submitter_init(submitter *s, kr_error_t *err);
void submitter_destroy(submitter *s);
/* Index of cluster `name`, or -1. */
long submitter_cluster_find(const submitter *s, const char *name);
/* Record one transition: logged and handed to s->record; its result. */
int submitter_record(submitter *s, const sub_event *ev);
/* The same for a decision recorded for its author by another (an API
 * that found it on the hub before its own decision, not in the books
 * yet): no Event on the Runnable, which its author's record makes (that
 * record, under the same key, is a no-op then, or this one is). */
int submitter_record_behalf(submitter *s, const sub_event *ev);
/* An edit of `obj`'s spec voided approvals (`message`, from
 * approval_voided): a Warning Event ApprovalsVoided on the Runnable, for
 * `kubectl describe`; nothing without s->events. Not a transition: the
 * books record decisions, and an edit is none. */
void submitter_approvals_voided(submitter *s, const json_t *obj, const char *message);
/* A decision's record key (sub_event.key): "uid/EVENT/user/specHash". */
void submitter_decision_key(const char *uid, const char *event, const char *user,
                            const char *spec_hash, char *out, size_t size);
/* A submission's record key: "uid/SUBMITTED", the API's and the
 * controller's alike, so that the books hold one SUBMITTED. */
void submitter_submission_key(const char *uid, char *out, size_t size);

/* Make the Runnable namespace_/name agree with the world: one step of the
 * state machine per status write (each write carries the resourceVersion
 * it read; a 409 means someone else decided: re-read, never create).
 * [worker] */
kr_reconcile_result submitter_reconcile(submitter *s, const char *namespace_, const char *name,
                                        uint64_t *requeue_after_ms, kr_error_t *err);

/* The predicate of the Runnable informer's events (kr_controller_predicate_cb,
 * `user` the submitter): false for the echo of our own last status write,
 * which the reconcile that wrote it went on from already (unless a
 * reconcile found the cache behind it and waits for it), and for the
 * creation of a Runnable the API is admitting. [loop thread] */
bool submitter_event_wanted(const json_t *old_obj, const json_t *new_obj, void *user);

/* The API is about to create (or has created) Runnable namespace_/name
 * and admits it: until submitter_admit_end, the informer's event of its
 * creation wakes nobody (a reconcile would find it without status and wait
 * out the admission grace; the admission's own event wakes it). [any
 * thread] */
void submitter_admit_begin(submitter *s, const char *namespace_, const char *name);
/* The API is done admitting namespace_/name; `written`: its admission is
 * on the hub, whose event wakes the controller; else the Runnable (if it
 * exists) is woken now, so that the controller looks at it. [any thread] */
void submitter_admit_end(submitter *s, const char *namespace_, const char *name, bool written);

/* Probe cluster i when nobody asked it for probe_interval_ms (a GET of a Job
 * nobody makes; any answer proves it reachable) and wake the Runnables placed on it
 * when its health changed: when it starts failing, when it has failed for
 * failover_after_ms, when it answers again. Returns how long until it is
 * worth calling again (ms). Blocks up to request_timeout_ms. [any thread
 * but the loop thread; main runs it on a thread of its own per cluster] */
uint64_t submitter_probe_cluster(submitter *s, size_t i);

/* The first placement decision (attempt 1 to the first cluster of the
 * Runnable's order, under the current epoch) added to `status`, the status
 * the API is about to write to `runnable` (borrowed) with the create's
 * resourceVersion, so that a Runnable that needs no approval is admitted
 * and decided in one write (a 409 means someone wrote first: no decision
 * was made). False, `status` unchanged, when this replica does not lead
 * (the leader's controller decides), no configured cluster applies, or a
 * decision exists. [any thread] */
bool submitter_first_decision(submitter *s, const json_t *runnable, json_t *status);
/* A server-side dry run (dryRun=All) of the workload copy of `runnable`
 * (as the API is about to create it) in the first of its clusters that
 * answers: 0 when that cluster accepts it or none gives a verdict (every
 * one failing, a missing namespace, no permission); KR_EINVALIDOBJ when it
 * refuses the object (422, 400), its message in err and its name in
 * `cluster`. [worker thread] */
int submitter_dry_run(submitter *s, const json_t *runnable, char *cluster, size_t len,
                      kr_error_t *err);

/* The key of the Runnable a workload copy belongs to ("ns/name"), from its
 * labels and name; false when it is not ours. */
bool submitter_owner_key(const json_t *copy, char *out, size_t len);

/* ---- api.c: the HTTP API as functions from a request to a response ------------ */

/* GET: who the API takes the caller for ({username, uid, groups}). */
#define SUB_API_WHOAMI "/api/v1/whoami"

typedef struct api_request {
    const char *method;
    const char *path; /* "/api/v1/runnables/..." */
    const char *authorization; /* the header, or NULL */
    const char *content_type; /* the header, or NULL */
    const char *body;
    size_t body_len;
    /* query parameters: namespace, clusters, idempotencyKey, limit,
     * continue, uid; NULL when absent */
    const char *q_namespace, *q_clusters, *q_idempotency_key, *q_limit, *q_continue, *q_uid;
    /* the name of every query parameter given, in order: one the path
     * does not take, or one given twice, is a 400 (NULL, 0: none but
     * those above) */
    const char *const *q_names;
    size_t n_q_names;
} api_request;

typedef struct api_response {
    int status;
    json_t *body; /* new */
    const char *allow; /* static: the Allow header of a 405, else NULL */
} api_response;

typedef struct api {
    submitter *s; /* borrowed */
    const kr_token_file_t *auth; /* borrowed; NULL: none */
    /* The hub's TokenReview API, for tokens the file does not hold;
     * borrowed, NULL: none */
    kr_token_reviewer_t *reviewer;
    /* The hub's SubjectAccessReview API: what each caller may do
     * (authorized, in api.c); borrowed, NULL: anyone authenticated may
     * do anything the approval rules allow. */
    kr_access_reviewer_t *authorizer;
    /* Each submission's template is first created with dryRun=All in its
     * first cluster that answers (submitter_dry_run): what it refuses is a
     * 422 and nothing is recorded. */
    bool dry_run;
    kr_inventory_t *inventory; /* borrowed; NULL: no history (501) */
} api;

/* Where transitions go (the record_user of submitter_record_to_inventory). */
typedef struct sub_books {
    kr_inventory_t *inventory; /* borrowed */
    /* Transitions: recorded in order, across an outage of the database,
     * each once (NULL: recorded at once or not at all). */
    kr_inventory_outbox_t *outbox;
    const char *hub_name; /* the cluster of a transition of none (NULL: "hub") */
    /* True once a transition's record may wait no longer for the
     * database (main: the controller's stop has begun, which waits for
     * every reconcile before the Lease goes): it waits in the outbox
     * (spooled) instead. NULL: never. */
    bool (*give_up)(void *user);
    void *give_up_user;
} sub_books;

/* A sub_record_cb writing each transition to the inventory of `user` (a
 * sub_books *) as an action: kind Runnable, actor and outcome kept,
 * through the outbox. A decision (ev->key) is 0 only once it is in the
 * books, for the caller keeps it until then: it fails while earlier
 * transitions wait in the outbox, so that the books keep their order,
 * and when it is left waiting there itself (the caller gave up, or the
 * database is away); any other is 0 once recorded or waiting there. */
int submitter_record_to_inventory(const sub_event *ev, void *user);

/* The text a caller gets for an inventory error `message`: named after the
 * inventory once ("inventory: ..."), whether or not it named itself. */
void submitter_inventory_error(const char *message, char *buf, size_t len);

/* Answer one request. resp->body is new. [HTTP thread] */
void api_handle(api *a, const api_request *req, api_response *resp);

/* ---- cli.c: the verbs that call the API ----------------------------------------- */

/* Run a CLI verb (argv[0] is the verb). Returns the exit code. */
int cli_main(int argc, char **argv);

#endif /* KR_SUBMITTER_H */
