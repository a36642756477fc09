/* libkreconcile — leader election through a coordination.k8s.io/v1 Lease, the
 * semantics of client-go's tools/leaderelection (tryAcquireOrRenew with the
 * LeaseLock) as a state machine on the runtime's loop: one timer ticks every
 * retry period, one request is in flight at a time, a second timer steps the
 * leader down at its renew deadline. Expiry of another's Lease is judged on
 * the local monotonic clock from when this process saw the Lease change;
 * remote timestamps are written for humans and never read. */
#include "kreconcile/leader.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "lock.h"
#include "runtime_internal.h"

#define MOD "leader"
#define LEASES KR_GVR("coordination.k8s.io", "v1", "leases")
#define HOLDER_MAX 253
#define RELEASE_ATTEMPTS 3

typedef enum phase {
    PH_IDLE = 0, /* created, not started */
    PH_RUNNING, /* competing or leading */
    PH_LOST, /* one_term: stepped down without kr_leader_stop, competes no more */
    PH_STOPPING, /* kr_leader_stop: releasing the Lease */
    PH_STOPPED,
} phase;

typedef enum lease_op {
    OP_GET = 1, /* slow path: read the Lease */
    OP_CREATE, /* no Lease yet: create it holding it */
    OP_RENEW, /* fast path: update the Lease as last written */
    OP_UPDATE, /* slow path: acquire or renew after a GET */
    OP_RELEASE, /* stop: clear the holder */
    OP_RELEASE_GET, /* stop: re-read after a conflicting release */
} lease_op;

typedef struct lease_call lease_call;

struct kr_leader {
    kr_client_t *client;
    kr_runtime_t *rt;
    char *lease_namespace;
    char *lease_name;
    char *identity;
    uint64_t lease_ms, renew_ms, retry_ms;
    kr_leader_started_cb on_started;
    kr_leader_stopped_cb on_stopped;
    kr_leader_new_leader_cb on_new_leader;
    void *user;
    bool release_on_stop;
    bool one_term;
    kr_metric_t *master_status;
    kr_logger log;
    kr_clock clock;
    kr_runtime_hook hook;

    /* Loop thread only. */
    phase phase;
    kr_timer_t *tick;
    kr_timer_t *deadline;
    lease_call *inflight;
    json_t *lease; /* the Lease last read or written (its resourceVersion) */
    json_t *observed_spec; /* its spec, to notice changes */
    int64_t observed_ns; /* when observed_spec last changed (client-go's observedTime) */
    uint64_t observed_lease_ms; /* the observed spec's leaseDurationSeconds */
    bool reported_any;
    char reported[HOLDER_MAX + 1]; /* holder last given to on_new_leader */
    bool release_pending;
    /* Stopped while leading: on_stopped_leading runs once the release is
     * done (or given up), as client-go releases before OnStoppedLeading. */
    bool notify_pending;
    int release_attempts;

    /* Shared with other threads, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool started, stop_called, stop_done;
    int release_rc;
    bool leading;
    kr_leader_term term;
    char term_rv[64]; /* the resourceVersion of the write that began the term */
    int64_t renewed_ns; /* when the last successful write of this leadership was sent */
    char observed_holder[HOLDER_MAX + 1];
};

/* One request in flight. `le` is NULL once the elector was freed before the
 * answer came: the callback then only frees the call. */
struct lease_call {
    kr_leader_t *le;
    lease_op op;
    int64_t sent_ns;
    bool while_leading; /* a renewal of the current leadership */
};

static void attempt(kr_leader_t *le);
static void release(kr_leader_t *le);

/* ---- time and small helpers ------------------------------------------------ */

static int64_t now_ns(const kr_leader_t *le)
{
    return le->clock.now_ns ? le->clock.now_ns(le->clock.user) : kr_clock_monotonic_ns();
}

/* metav1.MicroTime: RFC 3339 in UTC with microseconds, as client-go writes it. */
static void micro_time(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%06uZ", (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

static const char *spec_holder(const json_t *spec)
{
    const char *h = json_string_value(json_object_get(spec, "holderIdentity"));
    return h ? h : "";
}

static uint64_t spec_transitions(const json_t *spec)
{
    json_int_t t = json_integer_value(json_object_get(spec, "leaseTransitions"));
    return t > 0 ? (uint64_t)t : 0;
}

static void set_leading(kr_leader_t *le, bool leading)
{
    kr_metrics_gauge_set(le->master_status, leading ? 1 : 0);
}

/* ---- observing the Lease --------------------------------------------------- */

static void report_holder(kr_leader_t *le)
{
    const char *holder = spec_holder(le->observed_spec);
    pthread_mutex_lock(&le->mu);
    snprintf(le->observed_holder, sizeof(le->observed_holder), "%s", holder);
    pthread_mutex_unlock(&le->mu);
    if (le->reported_any && strcmp(le->reported, holder) == 0)
        return;
    le->reported_any = true;
    snprintf(le->reported, sizeof(le->reported), "%s", holder);
    kr_log(&le->log, KR_LOG_INFO, MOD, "lease %s/%s: new leader \"%s\"", le->lease_namespace,
           le->lease_name, holder);
    if (le->on_new_leader)
        le->on_new_leader(holder, le->user);
}

/* Keep `lease` (borrowed) as the last known Lease. The clock of expiry
 * restarts only when the spec changed (or when this process wrote it). */
static void observe(kr_leader_t *le, json_t *lease, bool own_write)
{
    json_t *spec = json_object_get(lease, "spec");
    if (!json_is_object(spec))
        spec = NULL;
    json_incref(lease);
    json_decref(le->lease);
    le->lease = lease;
    if (!own_write && le->observed_spec && spec && json_equal(spec, le->observed_spec))
        return;
    json_t *copy = spec ? json_deep_copy(spec) : json_object();
    if (!copy) /* out of memory: keep the old record; it only delays an acquisition */
        return;
    json_decref(le->observed_spec);
    le->observed_spec = copy;
    le->observed_ns = now_ns(le);
    json_int_t secs = json_integer_value(json_object_get(copy, "leaseDurationSeconds"));
    le->observed_lease_ms = secs > 0 ? (uint64_t)secs * 1000 : le->lease_ms;
    report_holder(le);
}

static bool observed_valid(const kr_leader_t *le, int64_t now)
{
    return le->observed_spec &&
           now - le->observed_ns < (int64_t)(le->observed_lease_ms * 1000000ULL);
}

/* ---- leadership ------------------------------------------------------------ */

static void arm_deadline(kr_leader_t *le, int64_t now)
{
    if (!le->deadline)
        return;
    int64_t left_ns = le->renewed_ns + (int64_t)(le->renew_ms * 1000000ULL) - now;
    uint64_t left_ms = left_ns > 0 ? (uint64_t)(left_ns + 999999) / 1000000 : 0;
    kr_timer_start(le->deadline, left_ms, 0);
}

static void become_leader(kr_leader_t *le, const json_t *spec, int64_t sent_ns)
{
    pthread_mutex_lock(&le->mu);
    le->leading = true;
    le->renewed_ns = sent_ns;
    snprintf(le->term.holder, sizeof(le->term.holder), "%s", le->identity);
    le->term.transitions = spec_transitions(spec);
    const char *rv = json_string_value(
        json_object_get(json_object_get(le->lease, "metadata"), "resourceVersion"));
    snprintf(le->term_rv, sizeof(le->term_rv), "%s", rv ? rv : "");
    kr_leader_term term = le->term;
    pthread_mutex_unlock(&le->mu);
    set_leading(le, true);
    arm_deadline(le, now_ns(le));
    kr_log(&le->log, KR_LOG_INFO, MOD, "lease %s/%s: \"%s\" started leading (transitions %llu)",
           le->lease_namespace, le->lease_name, le->identity, (unsigned long long)term.transitions);
    if (le->on_started)
        le->on_started(&term, le->user);
}

/* Stop leading (no callback yet): true when it was leading. */
static bool step_down_quietly(kr_leader_t *le, const char *why)
{
    pthread_mutex_lock(&le->mu);
    bool was = le->leading;
    le->leading = false;
    pthread_mutex_unlock(&le->mu);
    if (!was)
        return false;
    if (le->deadline)
        kr_timer_stop(le->deadline);
    set_leading(le, false);
    kr_log(&le->log, KR_LOG_INFO, MOD, "lease %s/%s: \"%s\" stopped leading: %s",
           le->lease_namespace, le->lease_name, le->identity, why);
    return true;
}

static void step_down(kr_leader_t *le, const char *why)
{
    if (!step_down_quietly(le, why))
        return;
    if (le->one_term && le->phase == PH_RUNNING) {
        le->phase = PH_LOST; /* the tick stops; kr_leader_stop releases */
        kr_log(&le->log, KR_LOG_INFO, MOD, "lease %s/%s: \"%s\" competes no more",
               le->lease_namespace, le->lease_name, le->identity);
    }
    if (le->on_stopped)
        le->on_stopped(le->user);
}

/* The on_stopped_leading a stop put off until its release (loop thread). */
static void notify_stopped(kr_leader_t *le)
{
    if (!le->notify_pending)
        return;
    le->notify_pending = false;
    if (le->on_stopped)
        le->on_stopped(le->user);
}

static bool leading(kr_leader_t *le)
{
    pthread_mutex_lock(&le->mu);
    bool l = le->leading;
    pthread_mutex_unlock(&le->mu);
    return l;
}

/* The renew deadline passed without a successful write: step down, before
 * the Lease can expire for the others (renew_deadline < lease_duration). */
static bool check_deadline(kr_leader_t *le)
{
    pthread_mutex_lock(&le->mu);
    bool expired =
        le->leading && now_ns(le) - le->renewed_ns >= (int64_t)(le->renew_ms * 1000000ULL);
    pthread_mutex_unlock(&le->mu);
    if (expired)
        step_down(le, "could not renew the lease within the renew deadline");
    return expired;
}

static void on_deadline(kr_timer_t *timer, void *user)
{
    (void)timer;
    kr_leader_t *le = user;
    if (!check_deadline(le) && leading(le))
        arm_deadline(le, now_ns(le));
}

/* ---- requests ---------------------------------------------------------------- */

static void on_answer(json_t *result, const kr_error_t *err, void *user);

/* A LeaseSpec written by this process. */
static json_t *new_spec(const char *holder, uint64_t lease_s, const char *acquire,
                        const char *renew, uint64_t transitions)
{
    return json_pack("{s:s, s:I, s:s, s:s, s:I}", "holderIdentity", holder, "leaseDurationSeconds",
                     (json_int_t)lease_s, "acquireTime", acquire, "renewTime", renew,
                     "leaseTransitions", (json_int_t)transitions);
}

/* Send `op`; `spec` (stolen, may be NULL for reads) replaces the spec of
 * the last known Lease (whose resourceVersion makes the update conditional). */
static int send_op(kr_leader_t *le, lease_op op, json_t *spec, bool while_leading)
{
    lease_call *call = kr_calloc(1, sizeof(*call));
    json_t *body = NULL;
    if (!call)
        goto nomem;
    call->le = le;
    call->op = op;
    call->while_leading = while_leading;
    kr_request req = {.ref = {LEASES, le->lease_namespace, le->lease_name, NULL},
                      .timeout_ms = le->renew_ms < INT_MAX ? (int)le->renew_ms : INT_MAX};
    if (op == OP_GET || op == OP_RELEASE_GET) {
        req.verb = KR_VERB_GET;
    } else if (op == OP_CREATE) {
        req.verb = KR_VERB_CREATE;
        req.ref.name = NULL;
        body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1",
                         "kind", "Lease", "metadata", "name", le->lease_name, "namespace",
                         le->lease_namespace, "spec", spec);
        spec = NULL;
    } else {
        req.verb = KR_VERB_UPDATE;
        body = le->lease ? json_deep_copy(le->lease) : NULL;
        if (!body)
            json_decref(spec);
        else if (json_object_set_new(body, "spec", spec) != 0) { /* steals spec */
            json_decref(body);
            body = NULL;
        }
        spec = NULL;
    }
    json_decref(spec);
    if (req.verb != KR_VERB_GET && !body)
        goto nomem;
    req.body = body;
    call->sent_ns = now_ns(le);
    le->inflight = call;
    kr_error_t err = {0};
    int rc = kr_client_do(le->client, &req, on_answer, call, &err);
    json_decref(body);
    if (rc != 0) {
        le->inflight = NULL;
        kr_free(call);
        kr_log(&le->log, KR_LOG_WARN, MOD, "lease %s/%s: %s", le->lease_namespace, le->lease_name,
               err.message);
    }
    return rc;
nomem:
    json_decref(spec);
    kr_free(call);
    kr_log(&le->log, KR_LOG_WARN, MOD, "lease %s/%s: out of memory", le->lease_namespace,
           le->lease_name);
    return KR_ENOMEM;
}

static uint64_t lease_seconds(const kr_leader_t *le)
{
    /* Whole seconds on the wire, rounded up: the others then wait at least
     * as long as configured. */
    return (le->lease_ms + 999) / 1000;
}

/* client-go's tryAcquireOrRenew, first half: a leader whose lease is still
 * valid updates the Lease as it last wrote it; everyone else reads it. */
static void attempt(kr_leader_t *le)
{
    int64_t now = now_ns(le);
    if (leading(le) && le->lease && observed_valid(le, now)) {
        char renew[40];
        micro_time(renew, sizeof(renew));
        const char *acquire = json_string_value(json_object_get(le->observed_spec, "acquireTime"));
        pthread_mutex_lock(&le->mu);
        uint64_t transitions = le->term.transitions;
        pthread_mutex_unlock(&le->mu);
        json_t *spec = new_spec(le->identity, lease_seconds(le), acquire ? acquire : renew, renew,
                                transitions);
        if (spec && send_op(le, OP_RENEW, spec, true) == 0)
            return;
    }
    send_op(le, OP_GET, NULL, false);
}

/* Second half, after a GET: take the Lease when it has no holder, is ours,
 * or has not changed for its whole duration on our clock. */
static void after_get(kr_leader_t *le, json_t *lease)
{
    observe(le, lease, false);
    const char *holder = spec_holder(le->observed_spec);
    int64_t now = now_ns(le);
    if (leading(le) && strcmp(holder, le->identity) != 0)
        step_down(le, "another replica holds the lease");
    if (le->phase != PH_RUNNING)
        return;
    bool ours = strcmp(holder, le->identity) == 0;
    if (*holder && !ours && observed_valid(le, now)) {
        kr_log(&le->log, KR_LOG_DEBUG, MOD, "lease %s/%s: held by \"%s\", not yet expired",
               le->lease_namespace, le->lease_name, holder);
        return;
    }
    char stamp[40];
    micro_time(stamp, sizeof(stamp));
    uint64_t transitions = spec_transitions(le->observed_spec);
    const char *acquire = stamp;
    bool renewing = leading(le);
    if (renewing) {
        const char *a = json_string_value(json_object_get(le->observed_spec, "acquireTime"));
        if (a)
            acquire = a;
    } else {
        /* Every leadership gets a term of its own, also when this identity
         * held the Lease before (client-go keeps the count then). */
        transitions++;
    }
    json_t *spec = new_spec(le->identity, lease_seconds(le), acquire, stamp, transitions);
    if (spec)
        send_op(le, OP_UPDATE, spec, renewing);
}

static void after_write(kr_leader_t *le, lease_call *call, json_t *lease)
{
    observe(le, lease, true);
    if (le->phase != PH_RUNNING)
        return;
    int64_t now = now_ns(le);
    bool late = now - call->sent_ns >= (int64_t)(le->renew_ms * 1000000ULL);
    if (leading(le)) {
        pthread_mutex_lock(&le->mu);
        le->renewed_ns = call->sent_ns;
        pthread_mutex_unlock(&le->mu);
        arm_deadline(le, now);
        return;
    }
    /* A renewal that outlived its leadership, or an answer too late to
     * lead on: the next attempt acquires again with a new term. */
    if (call->while_leading || late)
        return;
    become_leader(le, le->observed_spec, call->sent_ns);
}

static void release_done(kr_leader_t *le, int rc)
{
    le->release_pending = false;
    notify_stopped(le);
    pthread_mutex_lock(&le->mu);
    le->stop_done = true;
    le->release_rc = rc;
    pthread_cond_broadcast(&le->cond);
    pthread_mutex_unlock(&le->mu);
}

static void on_answer(json_t *result, const kr_error_t *err, void *user)
{
    lease_call done = *(lease_call *)user, *call = &done;
    kr_free(user);
    kr_leader_t *le = call->le;
    if (!le)
        return;
    le->inflight = NULL;
    const char *what = call->op == OP_GET || call->op == OP_RELEASE_GET ? "get"
                       : call->op == OP_CREATE                          ? "create"
                                                                        : "update";
    if (err) {
        /* a conflict is a race lost, and a Lease not found the usual
         * start (it is then created): neither is worth a warning */
        bool usual = err->code == KR_ECONFLICT || (call->op == OP_GET && err->code == KR_ENOTFOUND);
        kr_log(&le->log, usual ? KR_LOG_DEBUG : KR_LOG_WARN, MOD, "lease %s/%s: %s failed: %s",
               le->lease_namespace, le->lease_name, what, err->message);
    }
    switch (call->op) {
    case OP_GET:
        if (!err && result)
            after_get(le, result);
        else if (err && err->code == KR_ENOTFOUND && le->phase == PH_RUNNING) {
            /* The Lease is gone (deleted, or never made). Its count must
             * not start again below a term already handed out: a leader
             * keeps its own term, anyone else takes one past the last it
             * saw; only a replica that never saw the Lease starts at 0. */
            uint64_t transitions = 0;
            pthread_mutex_lock(&le->mu);
            bool lead = le->leading;
            uint64_t term = le->term.transitions;
            pthread_mutex_unlock(&le->mu);
            if (lead)
                transitions = term;
            else if (le->observed_spec)
                transitions = spec_transitions(le->observed_spec) + 1;
            char stamp[40];
            micro_time(stamp, sizeof(stamp));
            json_t *spec = new_spec(le->identity, lease_seconds(le), stamp, stamp, transitions);
            if (spec)
                send_op(le, OP_CREATE, spec, false);
        }
        break;
    case OP_CREATE:
    case OP_UPDATE:
    case OP_RENEW:
        if (!err && result)
            after_write(le, call, result);
        else if (call->op == OP_RENEW && le->phase == PH_RUNNING)
            send_op(le, OP_GET, NULL, false); /* client-go's fallback to the slow path */
        break;
    case OP_RELEASE:
        if (!err && result) {
            observe(le, result, true);
            release_done(le, 0);
        } else if (err && err->code == KR_ECONFLICT && le->release_attempts < RELEASE_ATTEMPTS) {
            if (send_op(le, OP_RELEASE_GET, NULL, false) != 0)
                release_done(le, KR_ECONFLICT);
        } else {
            release_done(le, err ? err->code : KR_EHTTP);
        }
        return;
    case OP_RELEASE_GET:
        if (!err && result) {
            observe(le, result, false);
            release(le);
        } else {
            release_done(le, err ? err->code : KR_EHTTP);
        }
        return;
    }
    if (le->phase == PH_STOPPING && !le->inflight && le->release_pending)
        release(le);
}

/* The Lease as last seen names this replica. */
static bool lease_names_us(const kr_leader_t *le)
{
    return le->lease && strcmp(spec_holder(le->observed_spec), le->identity) == 0;
}

/* client-go's release(): clear the holder, keep the transitions, shorten
 * the duration, so the others take over on their next retry. Only while
 * the Lease as last seen is ours. */
static void release(kr_leader_t *le)
{
    if (!lease_names_us(le)) {
        release_done(le, 0);
        return;
    }
    le->release_attempts++;
    char stamp[40];
    micro_time(stamp, sizeof(stamp));
    json_t *spec = new_spec("", 1, stamp, stamp, spec_transitions(le->observed_spec));
    int rc = spec ? send_op(le, OP_RELEASE, spec, false) : KR_ENOMEM;
    if (rc != 0)
        release_done(le, rc);
}

/* ---- the loop ---------------------------------------------------------------- */

static uint64_t next_tick_ms(const kr_leader_t *le)
{
    /* Spread the replicas' attempts over the last fifth of the period so
     * that they do not stay in step; never longer than the period. */
    uint64_t spread = le->retry_ms / 5;
    return le->retry_ms - (spread ? kr_random_u64() % (spread + 1) : 0);
}

static void on_tick(kr_timer_t *timer, void *user)
{
    kr_leader_t *le = user;
    if (le->phase != PH_RUNNING)
        return;
    check_deadline(le);
    if (le->phase != PH_RUNNING) /* one_term: that was the loss */
        return;
    if (!le->inflight)
        attempt(le);
    kr_timer_start(timer, next_tick_ms(le), 0);
}

static void free_timers(kr_leader_t *le)
{
    kr_timer_free(le->tick);
    kr_timer_free(le->deadline);
    le->tick = NULL;
    le->deadline = NULL;
}

/* The runtime stops under a running elector: nothing more can be sent. */
static void on_runtime_stop(void *user)
{
    kr_leader_t *le = user;
    step_down(le, "the runtime stopped");
    free_timers(le);
    le->phase = PH_STOPPED;
    if (le->inflight)
        le->inflight->le = NULL;
    le->inflight = NULL;
    release_done(le, KR_ESHUTDOWN);
}

typedef struct loop_arg {
    kr_leader_t *le;
    int rc;
} loop_arg;

static void start_on_loop(void *user)
{
    loop_arg *a = user;
    kr_leader_t *le = a->le;
    /* a kr_leader_stop since kr_leader_start let go of the lock: its
     * stop_on_loop may have run already, finding nothing to stop */
    pthread_mutex_lock(&le->mu);
    bool stopped = le->stop_called;
    pthread_mutex_unlock(&le->mu);
    if (stopped) {
        a->rc = KR_ESHUTDOWN;
        return;
    }
    int rc = kr_timer_new(le->rt, on_tick, le, &le->tick, NULL);
    if (rc == 0)
        rc = kr_timer_new(le->rt, on_deadline, le, &le->deadline, NULL);
    if (rc == 0)
        rc = kr_runtime_add_stop_hook(le->rt, &le->hook);
    if (rc != 0) {
        free_timers(le);
        a->rc = rc;
        return;
    }
    le->phase = PH_RUNNING;
    kr_timer_start(le->tick, 0, 0);
}

static void stop_on_loop(void *user)
{
    loop_arg *a = user;
    kr_leader_t *le = a->le;
    /* one that lost its one term releases the Lease too: it may still
     * name this replica */
    if (le->phase != PH_RUNNING && le->phase != PH_LOST) {
        if (le->phase != PH_STOPPING)
            release_done(le, 0);
        return;
    }
    le->phase = PH_STOPPING;
    if (le->tick)
        kr_timer_stop(le->tick);
    le->notify_pending = step_down_quietly(le, "stopped");
    if (!le->release_on_stop) {
        release_done(le, 0);
        return;
    }
    le->release_pending = true;
    if (!le->inflight) {
        release(le);
        return;
    }
    /* A replica that does not lead, whose Lease as last seen names another
     * (or that never saw one), and whose request in flight is a read (an
     * attempt starts with a GET), has nothing to release whatever the
     * answer: it stops now rather than wait for a read an unreachable
     * apiserver may never answer. A write in flight (an acquisition, a
     * late renewal) may still make it the holder: that one is waited for. */
    if (!le->notify_pending && le->inflight->op == OP_GET && !lease_names_us(le))
        release_done(le, 0);
}

static void notify_on_loop(void *user)
{
    loop_arg *a = user;
    notify_stopped(a->le);
}

static void free_on_loop(void *user)
{
    loop_arg *a = user;
    kr_leader_t *le = a->le;
    kr_runtime_remove_stop_hook(le->rt, &le->hook);
    free_timers(le);
    if (le->inflight)
        le->inflight->le = NULL;
    le->inflight = NULL;
    le->phase = PH_STOPPED;
}

/* ---- public API ---------------------------------------------------------------- */

static int make_identity(kr_leader_t *le, const char *given, kr_error_t *err)
{
    if (given && *given) {
        if (strlen(given) > HOLDER_MAX)
            return kr_error_set(err, KR_EINVAL, "leader: identity longer than %d bytes",
                                HOLDER_MAX);
        le->identity = kr_strdup(given);
    } else {
        char host[HOLDER_MAX - 16] = "";
        if (gethostname(host, sizeof(host)) != 0 || !*host)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        le->identity = kr_asprintf("%s_%016llx", host, (unsigned long long)kr_random_u64());
    }
    return le->identity ? 0 : kr_error_set(err, KR_ENOMEM, "leader: out of memory");
}

static int register_metric(kr_leader_t *le, kr_metrics_registry_t *reg, kr_error_t *err)
{
    static const char *const labels[] = {"name"};
    kr_metric_family_t *fam;
    int rc = kr_metrics_family_register(
        reg, KR_METRIC_GAUGE, "leader_election_master_status",
        "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 "
        "indicates master. 'name' is the string used to identify the lease.",
        labels, 1, NULL, 0, &fam, err);
    if (rc != 0)
        return rc;
    const char *values[] = {le->lease_name};
    return kr_metrics_series(fam, values, &le->master_status, err);
}

int kr_leader_new(const kr_leader_opts *opts, kr_leader_t **out, kr_error_t *err)
{
    if (out)
        *out = NULL;
    if (!opts || !out)
        return kr_error_set(err, KR_EINVAL, "leader: NULL options");
    if (opts->version > KR_LEADER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "leader: unknown options version %u", opts->version);
    if (!opts->client)
        return kr_error_set(err, KR_EINVAL, "leader: a client is required");
    if (!opts->lease_namespace || !*opts->lease_namespace || !opts->lease_name ||
        !*opts->lease_name)
        return kr_error_set(err, KR_EINVAL, "leader: lease namespace and name are required");
    uint64_t lease_ms =
        opts->lease_duration_ms ? opts->lease_duration_ms : KR_LEADER_DEFAULT_LEASE_DURATION_MS;
    uint64_t renew_ms =
        opts->renew_deadline_ms ? opts->renew_deadline_ms : KR_LEADER_DEFAULT_RENEW_DEADLINE_MS;
    uint64_t retry_ms =
        opts->retry_period_ms ? opts->retry_period_ms : KR_LEADER_DEFAULT_RETRY_PERIOD_MS;
    if (lease_ms > 1000ULL * 86400 * 365)
        return kr_error_set(err, KR_EINVAL, "leader: lease duration too long");
    if (renew_ms >= lease_ms)
        return kr_error_set(err, KR_EINVAL,
                            "leader: lease duration (%llu ms) must be greater than the renew "
                            "deadline (%llu ms)",
                            (unsigned long long)lease_ms, (unsigned long long)renew_ms);
    /* client-go's JitterFactor: a retry may come 1.2 periods late */
    if (retry_ms >= renew_ms || renew_ms * 10 <= retry_ms * 12)
        return kr_error_set(err, KR_EINVAL,
                            "leader: renew deadline (%llu ms) must be greater than 1.2 times the "
                            "retry period (%llu ms)",
                            (unsigned long long)renew_ms, (unsigned long long)retry_ms);
    if (opts->identity && !*opts->identity)
        return kr_error_set(err, KR_EINVAL, "leader: the identity is empty (NULL makes one)");
    kr_leader_t *le = kr_calloc(1, sizeof(*le));
    if (!le)
        return kr_error_set(err, KR_ENOMEM, "leader: out of memory");
    pthread_mutex_init(&le->mu, NULL);
    if (kr_cond_init(&le->cond) != 0) {
        pthread_mutex_destroy(&le->mu);
        kr_free(le);
        return kr_error_set(err, KR_ENOMEM, "leader: out of memory");
    }
    le->client = opts->client;
    le->rt = kr_client_runtime(opts->client);
    le->lease_ms = lease_ms;
    le->renew_ms = renew_ms;
    le->retry_ms = retry_ms;
    le->on_started = opts->on_started_leading;
    le->on_stopped = opts->on_stopped_leading;
    le->on_new_leader = opts->on_new_leader;
    le->user = opts->user;
    le->release_on_stop = !opts->keep_lease_on_stop;
    le->one_term = opts->version >= 2 && opts->one_term;
    le->log = opts->logger;
    le->clock = opts->clock;
    le->hook.fn = on_runtime_stop;
    le->hook.user = le;
    le->lease_namespace = kr_strdup(opts->lease_namespace);
    le->lease_name = kr_strdup(opts->lease_name);
    int rc = 0;
    if (!le->lease_namespace || !le->lease_name)
        rc = kr_error_set(err, KR_ENOMEM, "leader: out of memory");
    if (rc == 0)
        rc = make_identity(le, opts->identity, err);
    if (rc == 0 && opts->metrics)
        rc = register_metric(le, opts->metrics, err);
    if (rc != 0) {
        kr_leader_free(le);
        return rc;
    }
    kr_metrics_gauge_set(le->master_status, 0);
    *out = le;
    return 0;
}

int kr_leader_start(kr_leader_t *le, kr_error_t *err)
{
    if (!le)
        return kr_error_set(err, KR_EINVAL, "leader: NULL");
    pthread_mutex_lock(&le->mu);
    bool again = le->started, stopped = le->stop_called;
    le->started = true;
    pthread_mutex_unlock(&le->mu);
    if (stopped)
        return kr_error_set(err, KR_ESHUTDOWN, "leader %s/%s: stopped", le->lease_namespace,
                            le->lease_name);
    if (again)
        return kr_error_set(err, KR_ESTATE, "leader %s/%s: already started", le->lease_namespace,
                            le->lease_name);
    if (!kr_runtime_accepting(le->rt))
        return kr_error_set(err, KR_ESHUTDOWN, "leader %s/%s: the runtime is stopping",
                            le->lease_namespace, le->lease_name);
    loop_arg a = {le, 0};
    int rc = kr_runtime_on_loop(le->rt, start_on_loop, &a);
    if (rc == 0)
        rc = a.rc;
    if (rc != 0)
        return kr_error_set(err, rc == KR_ESTATE ? KR_ESHUTDOWN : rc,
                            "leader %s/%s: cannot start: %s", le->lease_namespace, le->lease_name,
                            kr_strerror(rc));
    return 0;
}

int kr_leader_stop(kr_leader_t *le, uint64_t timeout_ms, kr_error_t *err)
{
    if (!le)
        return 0;
    if (kr_runtime_is_loop_thread(le->rt))
        return kr_error_set(err, KR_ESTATE, "leader: kr_leader_stop on the loop thread");
    pthread_mutex_lock(&le->mu);
    bool started = le->started, again = le->stop_called;
    le->stop_called = true;
    pthread_mutex_unlock(&le->mu);
    if (!started || again)
        return 0;
    loop_arg a = {le, 0};
    /* a runtime stopping meanwhile runs this in its last drain, or here
     * once it is done: its hook stepped down already, and this finds the
     * elector stopped */
    if (kr_runtime_on_loop(le->rt, stop_on_loop, &a) != 0)
        return 0; /* out of memory: nothing more can be done */
    struct timespec deadline;
    uint64_t wait_ms = timeout_ms ? timeout_ms : le->retry_ms;
    kr_deadline_after_ms(&deadline, wait_ms);
    pthread_mutex_lock(&le->mu);
    int rc = 0;
    while (!le->stop_done && rc == 0)
        rc = pthread_cond_timedwait(&le->cond, &le->mu, &deadline);
    bool done = le->stop_done;
    int release_rc = le->release_rc;
    pthread_mutex_unlock(&le->mu);
    if (!done) /* the release goes on; on_stopped_leading waits no more */
        kr_runtime_on_loop(le->rt, notify_on_loop, &a);
    if (!done)
        return kr_error_set(err, KR_ETIMEDOUT,
                            "leader %s/%s: the lease was not released in %llu ms",
                            le->lease_namespace, le->lease_name, (unsigned long long)wait_ms);
    if (release_rc != 0)
        return kr_error_set(err, release_rc, "leader %s/%s: releasing the lease: %s",
                            le->lease_namespace, le->lease_name, kr_strerror(release_rc));
    return 0;
}

void kr_leader_free(kr_leader_t *le)
{
    if (!le)
        return;
    kr_leader_stop(le, 0, NULL);
    if (le->rt) {
        loop_arg a = {le, 0};
        kr_runtime_on_loop(le->rt, free_on_loop, &a);
    }
    json_decref(le->lease);
    json_decref(le->observed_spec);
    kr_free(le->lease_namespace);
    kr_free(le->lease_name);
    kr_free(le->identity);
    pthread_cond_destroy(&le->cond);
    pthread_mutex_destroy(&le->mu);
    kr_free(le);
}

/* True while leading; fills *out and rv (len bytes) when given. */
static bool current_term(const kr_leader_t *le, kr_leader_term *out, char *rv, size_t len)
{
    kr_leader_t *m = (kr_leader_t *)le;
    pthread_mutex_lock(&m->mu);
    bool ok = le->leading && now_ns(le) - le->renewed_ns < (int64_t)(le->renew_ms * 1000000ULL);
    if (ok && out)
        *out = le->term;
    if (ok && rv)
        snprintf(rv, len, "%s", le->term_rv);
    pthread_mutex_unlock(&m->mu);
    return ok;
}

bool kr_leader_is_leader(const kr_leader_t *le)
{
    return le && current_term(le, NULL, NULL, 0);
}

int kr_leader_term_get(const kr_leader_t *le, kr_leader_term *out)
{
    if (!le || !out)
        return KR_EINVAL;
    return current_term(le, out, NULL, 0) ? 0 : KR_ESTATE;
}

int kr_leader_term_resource_version(const kr_leader_t *le, kr_leader_term *out, char *buf,
                                    size_t len)
{
    char rv[sizeof(le->term_rv)];
    if (!le || !buf || len == 0)
        return KR_EINVAL;
    if (!current_term(le, out, rv, sizeof(rv)))
        return KR_ESTATE;
    if (strlen(rv) >= len)
        return KR_EINVAL;
    memcpy(buf, rv, strlen(rv) + 1);
    return 0;
}

const char *kr_leader_identity(const kr_leader_t *le)
{
    return le ? le->identity : NULL;
}

void kr_leader_observed_holder(const kr_leader_t *le, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    if (!le) {
        buf[0] = '\0';
        return;
    }
    kr_leader_t *m = (kr_leader_t *)le;
    pthread_mutex_lock(&m->mu);
    snprintf(buf, len, "%s", le->observed_holder);
    pthread_mutex_unlock(&m->mu);
}
