/* libkreconcile — leader election through a coordination.k8s.io/v1 Lease
 * (client-go's tools/leaderelection with the LeaseLock). Several replicas
 * of a program compete; at most one leads at any moment, provided the
 * replicas' clocks run at roughly the same rate.
 *
 * Expiry is judged on the local monotonic clock from when this process last
 * saw the Lease change (client-go's observedTime), never by comparing the
 * Lease's timestamps with the local wall clock, so clock skew between
 * replicas does no harm. A leader that cannot renew within renew_deadline_ms
 * steps down before its lease can expire for the others.
 *
 * Threading: the elector runs on its client's runtime loop (timers and
 * asynchronous requests). Callbacks run on the loop thread and must not
 * block. Every function may be called from any thread unless it says
 * otherwise. */
#ifndef KRECONCILE_LEADER_H
#define KRECONCILE_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "common.h"
#include "metrics.h"
#include "ratelimit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_leader kr_leader_t;

/* The fencing term of a leadership: which holder, in which of the Lease's
 * transitions. Terms grow: a later leader has a larger `transitions`
 * (leaseTransitions), also when the Lease is deleted and made again (a
 * leader keeps its term in the new one, anyone else takes a term past
 * the last it saw); only a Lease made again by replicas that never saw
 * the old one starts again at 0. A leader stamps its writes with the term (for
 * example a status `epoch`) so that a write of a deposed leader can be
 * recognised and refused (PLATFORM.md, invariant 2). */
typedef struct kr_leader_term {
    char holder[254]; /* holderIdentity */
    uint64_t transitions; /* leaseTransitions when this leadership began */
} kr_leader_term;

/* This process became the leader. `term` is borrowed for the call. [loop thread] */
typedef void (*kr_leader_started_cb)(const kr_leader_term *term, void *user);
/* This process stopped leading (lost the Lease, could not renew within the
 * renew deadline, or was stopped). Called once per leadership, after
 * started. [loop thread] */
typedef void (*kr_leader_stopped_cb)(void *user);
/* Another (or a first) holder was observed; `identity` is borrowed for the
 * call ("" when the Lease has no holder). [loop thread] */
typedef void (*kr_leader_new_leader_cb)(const char *identity, void *user);

#define KR_LEADER_OPTS_VERSION 2
/* clang-format off */
#define KR_LEADER_OPTS_INIT {.version = KR_LEADER_OPTS_VERSION}
/* clang-format on */

/* The defaults of the timing options (client-go's). */
#define KR_LEADER_DEFAULT_LEASE_DURATION_MS 15000
#define KR_LEADER_DEFAULT_RENEW_DEADLINE_MS 10000
#define KR_LEADER_DEFAULT_RETRY_PERIOD_MS 2000

/* Options; zero means the default. Strings are copied. */
typedef struct kr_leader_opts {
    unsigned version; /* KR_LEADER_OPTS_VERSION (0 is taken as 1) */
    kr_client_t *client; /* required; borrowed, must outlive the elector */
    const char *lease_namespace; /* required */
    const char *lease_name; /* required */
    /* This replica's identity; NULL: "<hostname>_<random suffix>" ("" is
     * refused, as client-go refuses it). */
    const char *identity;
    uint64_t lease_duration_ms; /* 0 = 15000 */
    uint64_t renew_deadline_ms; /* 0 = 10000; must be < lease_duration_ms */
    uint64_t retry_period_ms; /* 0 = 2000; 1.2 times it must be < renew_deadline_ms */
    kr_leader_started_cb on_started_leading;
    kr_leader_stopped_cb on_stopped_leading;
    kr_leader_new_leader_cb on_new_leader;
    void *user;
    /* On kr_leader_stop while leading, give the Lease up (clear the holder)
     * so that another replica takes over within one retry period.
     * Default true; set `keep_lease_on_stop` to leave it to expire. */
    bool keep_lease_on_stop;
    kr_metrics_registry_t *metrics; /* borrowed; leader_election_master_status{name} */
    kr_logger logger;
    kr_clock clock; /* zero: CLOCK_MONOTONIC (tests inject one) */
    /* Version 2. One leadership at most, as client-go's RunOrDie returns
     * once it stopped leading: after losing the Lease (a renewal missed
     * its deadline, or another replica holds it) the elector competes no
     * more, so that a program stopping after the loss does not take the
     * Lease back and sit on it; kr_leader_stop still releases a Lease that
     * names it. The program toolkit sets it. */
    bool one_term;
} kr_leader_opts;

/* Create a stopped elector. *out is new (kr_leader_free). Errors: KR_EINVAL
 * (missing client or lease, durations out of order), KR_ENOMEM. */
KR_API int kr_leader_new(const kr_leader_opts *opts, kr_leader_t **out, kr_error_t *err);

/* Start competing: try to acquire every retry period, renew while leading.
 * Errors: KR_ESTATE (started twice), KR_ESHUTDOWN. [any thread] */
KR_API int kr_leader_start(kr_leader_t *le, kr_error_t *err);

/* Stop competing. When leading, the Lease is released (unless
 * keep_lease_on_stop), then on_stopped_leading runs, both before this
 * returns; it waits at most `timeout_ms` for the release (0 =
 * retry_period_ms), and then runs the callback without it. A replica that
 * does not lead returns at once when it has nothing to release: the Lease
 * as last seen names another (or none was seen) and no write of its own
 * is in flight (a read in flight, which an unreachable apiserver may
 * never answer, is not waited for); a write in flight, which may yet
 * make it the holder, is waited for as a release is. Call it only
 * after the work guarded by the leadership has stopped. Idempotent.
 * [any thread but the loop thread] */
KR_API int kr_leader_stop(kr_leader_t *le, uint64_t timeout_ms, kr_error_t *err);

/* Stop and free. NULL is a no-op. [any thread but the loop thread] */
KR_API void kr_leader_free(kr_leader_t *le);

/* True while this process holds the Lease and its last successful renewal
 * is younger than renew_deadline_ms on the local clock. [any thread] */
KR_API bool kr_leader_is_leader(const kr_leader_t *le);

/* The current term when leading: fills *out and returns 0; KR_ESTATE when
 * not leading (or the renew deadline has passed). Check it right before a
 * write that only the leader may make. [any thread] */
KR_API int kr_leader_term_get(const kr_leader_t *le, kr_leader_term *out);

/* kr_leader_term_get (out may be NULL), and the resourceVersion the Lease
 * write that began the term returned, into `buf` (`len` bytes; 32 hold
 * any). Every write a previous leader made while it led is older: an
 * informer of the same cluster that has observed this RV (its last RV,
 * compared as integers, or kr_informer_wait_for_resource_version) reflects
 * them. A new leader's caches ran as a standby's and may be behind: until
 * they reach this RV, a decision they cannot undo (a create in another
 * cluster, on an object its predecessor may have seen deleted) is checked
 * against a live read. Errors: KR_ESTATE (not leading), KR_EINVAL (NULL,
 * or `buf` too short). [any thread] */
KR_API int kr_leader_term_resource_version(const kr_leader_t *le, kr_leader_term *out, char *buf,
                                           size_t len);

/* This replica's identity (borrowed, lives as long as the elector). */
KR_API const char *kr_leader_identity(const kr_leader_t *le);

/* The holder last observed ("" when none); copies at most `len` bytes into
 * `buf` (NUL-terminated). [any thread] */
KR_API void kr_leader_observed_holder(const kr_leader_t *le, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_LEADER_H */
