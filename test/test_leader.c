/* Tests of leader election against the in-memory apiserver: options, the
 * Lease as written (MicroTime stamps, release on stop), expiry judged on the
 * local clock (an injected clock moves time), stepping down when renewals
 * fail, optimistic concurrency, and the acceptance: three processes (this
 * binary re-executed with --leader-child) compete for one Lease through one
 * server; kill -9, an unresponsive server and a clean stop, checked from the
 * Lease's watched history and the children's logs.
 * KR_TEST_THREADED: runtime loop thread, server threads, test as worker. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "ts_client.h"

#define LEASES KR_GVR("coordination.k8s.io", "v1", "leases")
#define WAIT_MS 30000
#define CHILD_FLAG "--leader-child"

/* The acceptance test's durations: short, the lease in whole seconds as it
 * goes on the wire. */
#define P_LEASE_MS 2000
#define P_RENEW_MS 1000
#define P_RETRY_MS 200

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Between two looks at something only the server shows (the Lease, a
 * child's log): the loop around it has a deadline. */
static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- what the callbacks saw ----------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

typedef struct rec {
    int started, stopped, new_leaders;
    kr_leader_term term;
    char last_new[256];
    bool was_leader_in_started; /* kr_leader_is_leader() inside on_started */
    kr_leader_t *le;
    /* Set: on_stopped reads the Lease's holder from this server, by a
     * client of its own (the callback runs on the loop thread). */
    const char *server;
    char holder_at_stop[64];
} rec;

static int held_messages; /* "not yet expired" log lines */

static void on_started(const kr_leader_term *term, void *user)
{
    rec *r = user;
    bool lead = kr_leader_is_leader(r->le);
    pthread_mutex_lock(&mu);
    r->started++;
    r->term = *term;
    r->was_leader_in_started = lead;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_stopped(void *user)
{
    rec *r = user;
    if (r->server) {
        tc_response resp;
        tc_json(r->server, "GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/lock",
                NULL, &resp);
        const char *holder = json_string_value(
            json_object_get(json_object_get(resp.json, "spec"), "holderIdentity"));
        snprintf(r->holder_at_stop, sizeof(r->holder_at_stop), "%s", holder ? holder : "(none)");
        tc_free(&resp);
    }
    pthread_mutex_lock(&mu);
    r->stopped++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_new_leader(const char *identity, void *user)
{
    rec *r = user;
    pthread_mutex_lock(&mu);
    r->new_leaders++;
    snprintf(r->last_new, sizeof(r->last_new), "%s", identity);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void count_log(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)level;
    (void)module;
    (void)user;
    if (strstr(message, "not yet expired")) {
        pthread_mutex_lock(&mu);
        held_messages++;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
}

/* Wait until pred(arg) holds (checked under mu); false after WAIT_MS. */
static bool wait_for(bool (*pred)(void *), void *arg)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&mu);
    bool ok;
    while (!(ok = pred(arg)))
        if (pthread_cond_timedwait(&cv, &mu, &dl) == ETIMEDOUT) {
            ok = pred(arg);
            break;
        }
    pthread_mutex_unlock(&mu);
    return ok;
}

typedef struct count_arg {
    int *counter;
    int at_least;
} count_arg;

static bool count_reached(void *arg)
{
    count_arg *a = arg;
    return *a->counter >= a->at_least;
}

static bool wait_count(int *counter, int at_least)
{
    count_arg a = {counter, at_least};
    return wait_for(count_reached, &a);
}

static int read_count(const int *counter)
{
    pthread_mutex_lock(&mu);
    int v = *counter;
    pthread_mutex_unlock(&mu);
    return v;
}

/* ---- an injected clock: the monotonic clock plus a skip the test adds -------------- */

static _Atomic int64_t skip_ns;

static int64_t skipping_clock(void *user)
{
    (void)user;
    return mono_ns() + atomic_load(&skip_ns);
}

/* ---- one server, one runtime, one client ------------------------------------------ */

typedef struct env {
    kr_testserver_t *ts;
    kr_rest_config cfg;
    kr_runtime_t *rt;
    kr_client_t *c;
    kr_metrics_registry_t *reg;
} env;

static void env_up(env *e)
{
    memset(e, 0, sizeof(*e));
    kr_testserver_opts o = {.seed = 1};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &e->ts, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_runtime_new(NULL, &e->rt, NULL), 0);
    ck_assert_int_eq(kr_runtime_start(e->rt, NULL), 0);
    e->cfg.server = (char *)kr_testserver_url(e->ts);
    e->cfg.qps = -1;
    kr_client_opts co = {.backoff_base_ms = 5, .backoff_max_ms = 50, .max_retries = 2};
    ck_assert_msg(kr_client_new(e->rt, &e->cfg, &co, &e->c, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_metrics_registry_new(&e->reg, NULL), 0);
    atomic_store(&skip_ns, 0);
    held_messages = 0;
}

static void env_down(env *e)
{
    kr_client_free(e->c);
    kr_runtime_free(e->rt);
    kr_metrics_registry_free(e->reg);
    kr_testserver_free(e->ts);
}

typedef struct elector_cfg {
    const char *identity;
    uint64_t lease_ms, renew_ms, retry_ms;
    bool injected_clock;
    bool keep_lease_on_stop;
    bool metrics;
} elector_cfg;

/* The next elector() leads once (kr_leader_opts.one_term). */
static bool next_one_term;

static kr_leader_t *elector(env *e, rec *r, elector_cfg c)
{
    memset(r, 0, sizeof(*r));
    kr_leader_opts o = KR_LEADER_OPTS_INIT;
    o.client = e->c;
    o.lease_namespace = "default";
    o.lease_name = "lock";
    o.identity = c.identity;
    o.lease_duration_ms = c.lease_ms;
    o.renew_deadline_ms = c.renew_ms;
    o.retry_period_ms = c.retry_ms;
    o.on_started_leading = on_started;
    o.on_stopped_leading = on_stopped;
    o.on_new_leader = on_new_leader;
    o.user = r;
    o.keep_lease_on_stop = c.keep_lease_on_stop;
    o.metrics = c.metrics ? e->reg : NULL;
    o.one_term = next_one_term;
    next_one_term = false;
    o.logger = (kr_logger){.cb = count_log, .max_level = KR_LOG_DEBUG};
    if (c.injected_clock)
        o.clock = (kr_clock){.now_ns = skipping_clock};
    kr_error_t err = {0};
    kr_leader_t *le = NULL;
    ck_assert_msg(kr_leader_new(&o, &le, &err) == 0, "%s", err.message);
    r->le = le;
    return le;
}

static json_t *get_lease(env *e)
{
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_client_get(e->c, LEASES, "default", "lock", &out, &err) == 0, "%s",
                  err.message);
    return out;
}

static const char *spec_str(const json_t *lease, const char *field)
{
    return json_string_value(json_object_get(json_object_get(lease, "spec"), field));
}

static long long spec_int(const json_t *lease, const char *field)
{
    return json_integer_value(json_object_get(json_object_get(lease, "spec"), field));
}

/* metav1.MicroTime: 2006-01-02T15:04:05.000000Z */
static bool is_micro_time(const char *s)
{
    if (!s || strlen(s) != 27 || s[4] != '-' || s[10] != 'T' || s[19] != '.' || s[26] != 'Z')
        return false;
    return strspn(s + 20, "0123456789") == 6;
}

/* ---- options ------------------------------------------------------------------------ */

START_TEST(options_are_checked_and_identity_defaults_to_host_and_suffix)
{
    env e;
    env_up(&e);
    kr_leader_t *le = NULL;
    kr_error_t err = {0};
    kr_leader_opts o = {0};
    ck_assert_int_eq(kr_leader_new(&o, &le, &err), KR_EINVAL);
    o.client = e.c;
    ck_assert_int_eq(kr_leader_new(&o, &le, &err), KR_EINVAL);
    o.lease_namespace = "default";
    o.lease_name = "lock";
    o.renew_deadline_ms = 15000;
    ck_assert_int_eq(kr_leader_new(&o, &le, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "renew deadline"));
    o.renew_deadline_ms = 0;
    o.retry_period_ms = 10000;
    ck_assert_int_eq(kr_leader_new(&o, &le, &err), KR_EINVAL);
    /* client-go's jitter factor: the renew deadline must exceed 1.2 retries */
    o.renew_deadline_ms = 1200;
    o.retry_period_ms = 1000;
    ck_assert_int_eq(kr_leader_new(&o, &le, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "1.2 times the retry period"));
    o.renew_deadline_ms = 1201;
    ck_assert_msg(kr_leader_new(&o, &le, &err) == 0, "%s", err.message);
    kr_leader_free(le);
    le = NULL;
    o.renew_deadline_ms = 0;
    o.retry_period_ms = 0;
    o.identity = "";
    ck_assert_int_eq(kr_leader_new(&o, &le, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "identity is empty"));
    o.identity = NULL;
    char longid[300];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    o.identity = longid;
    ck_assert_int_eq(kr_leader_new(&o, &le, &err), KR_EINVAL);
    o.identity = NULL;
    o.version = KR_LEADER_OPTS_VERSION + 1;
    ck_assert_int_eq(kr_leader_new(&o, &le, &err), KR_EINVAL);
    o.version = 0; /* taken as 1; defaults 15 s / 10 s / 2 s are in order */
    ck_assert_msg(kr_leader_new(&o, &le, &err) == 0, "%s", err.message);
    char host[256] = "";
    gethostname(host, sizeof(host));
    const char *id = kr_leader_identity(le);
    ck_assert_uint_eq(strncmp(id, host, strlen(host)), 0);
    ck_assert_int_eq(id[strlen(host)], '_');
    ck_assert_uint_gt(strlen(id), strlen(host) + 8);
    kr_leader_t *other = NULL;
    ck_assert_int_eq(kr_leader_new(&o, &other, &err), 0);
    ck_assert_str_ne(kr_leader_identity(other), id);
    kr_leader_term term;
    ck_assert(!kr_leader_is_leader(le));
    ck_assert_int_eq(kr_leader_term_get(le, &term), KR_ESTATE);
    char holder[8] = "x";
    kr_leader_observed_holder(le, holder, sizeof(holder));
    ck_assert_str_eq(holder, "");
    /* stop and free without a start; free(NULL) */
    ck_assert_int_eq(kr_leader_stop(le, 0, NULL), 0);
    ck_assert_int_eq(kr_leader_start(le, &err), KR_ESHUTDOWN);
    kr_leader_free(le);
    kr_leader_free(other);
    kr_leader_free(NULL);
    env_down(&e);
}
END_TEST

/* kr_leader_new and kr_leader_free with each allocation failing in turn:
 * KR_ENOMEM, nothing leaked. The runtime is not started: no other thread
 * allocates meanwhile. */
static int new_and_free(void *arg)
{
    kr_metrics_registry_t *reg = NULL;
    if (kr_metrics_registry_new(&reg, NULL) != 0)
        return 0;
    kr_leader_opts o = KR_LEADER_OPTS_INIT;
    o.client = arg;
    o.lease_namespace = "default";
    o.lease_name = "lock";
    o.metrics = reg;
    kr_leader_t *le = NULL;
    int rc = kr_leader_new(&o, &le, NULL);
    int verdict = 0;
    if (rc == 0)
        kr_leader_free(le);
    else if (rc != KR_ENOMEM || le)
        verdict = 1;
    kr_metrics_registry_free(reg);
    return verdict;
}

START_TEST(allocation_failures_in_new_are_reported_without_leaks)
{
    kr_runtime_t *rt = NULL;
    kr_client_t *c = NULL;
    kr_rest_config cfg = {.server = "http://127.0.0.1:1"};
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, NULL), 0);
    ck_assert_int_eq(kr_client_new(rt, &cfg, NULL, &c, NULL), 0);
    ck_assert_int_gt(kr_test_alloc_failure_sweep(new_and_free, c), 1);
    kr_client_free(c);
    kr_runtime_free(rt);
}
END_TEST

/* ---- one elector -------------------------------------------------------------------- */

START_TEST(single_elector_creates_renews_and_releases_the_lease)
{
    env e;
    env_up(&e);
    rec r;
    kr_leader_t *le = elector(&e, &r, (elector_cfg){"solo", 3000, 2000, 100, false, false, true});
    kr_error_t err = {0};
    ck_assert_msg(kr_leader_start(le, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_leader_start(le, &err), KR_ESTATE);
    ck_assert(wait_count(&r.started, 1));
    ck_assert(r.was_leader_in_started);
    ck_assert_str_eq(r.term.holder, "solo");
    ck_assert_uint_eq(r.term.transitions, 0);
    kr_leader_term term;
    ck_assert_int_eq(kr_leader_term_get(le, &term), 0);
    ck_assert_str_eq(term.holder, "solo");
    ck_assert(wait_count(&r.new_leaders, 1));
    ck_assert_str_eq(r.last_new, "solo");

    json_t *lease = get_lease(&e);
    ck_assert_str_eq(spec_str(lease, "holderIdentity"), "solo");
    ck_assert_int_eq(spec_int(lease, "leaseDurationSeconds"), 3);
    ck_assert_int_eq(spec_int(lease, "leaseTransitions"), 0);
    ck_assert_msg(is_micro_time(spec_str(lease, "renewTime")), "%s", spec_str(lease, "renewTime"));
    ck_assert(is_micro_time(spec_str(lease, "acquireTime")));
    char acquire[64], rv[32];
    snprintf(acquire, sizeof(acquire), "%s", spec_str(lease, "acquireTime"));
    snprintf(
        rv, sizeof(rv), "%s",
        json_string_value(json_object_get(json_object_get(lease, "metadata"), "resourceVersion")));
    json_decref(lease);
    /* the term began with the acquiring write: the Lease is that or newer */
    char term_rv[32];
    ck_assert_int_eq(kr_leader_term_resource_version(le, &term, term_rv, sizeof(term_rv)), 0);
    ck_assert_str_eq(term.holder, "solo");
    ck_assert_uint_le(strtoull(term_rv, NULL, 10), strtoull(rv, NULL, 10));
    ck_assert_uint_gt(strtoull(term_rv, NULL, 10), 0);
    ck_assert_int_eq(kr_leader_term_resource_version(le, NULL, term_rv, 1), KR_EINVAL);
    /* renewals: the resourceVersion moves, acquireTime stays */
    int64_t until = mono_ns() + (int64_t)WAIT_MS * 1000000;
    bool renewed = false;
    while (!renewed && mono_ns() < until) {
        lease = get_lease(&e);
        const char *now_rv = json_string_value(
            json_object_get(json_object_get(lease, "metadata"), "resourceVersion"));
        if (strcmp(now_rv, rv) != 0) {
            renewed = true;
            ck_assert_str_eq(spec_str(lease, "acquireTime"), acquire);
            ck_assert_str_eq(spec_str(lease, "holderIdentity"), "solo");
        }
        json_decref(lease);
        if (!renewed)
            pause_ms(20);
    }
    ck_assert(renewed);
    ck_assert_int_eq(read_count(&r.stopped), 0);
    char renewed_rv[32]; /* a renewal is no new term */
    ck_assert_int_eq(kr_leader_term_resource_version(le, NULL, renewed_rv, sizeof(renewed_rv)), 0);
    ck_assert_str_eq(renewed_rv, term_rv);

    char *text = NULL;
    ck_assert_int_eq(kr_metrics_render(e.reg, &text, NULL, NULL), 0);
    ck_assert_msg(strstr(text, "leader_election_master_status{name=\"lock\"} 1"), "%s", text);
    kr_free(text);

    r.server = kr_testserver_url(e.ts);
    ck_assert_msg(kr_leader_stop(le, 5000, &err) == 0, "%s", err.message);
    ck_assert_int_eq(read_count(&r.stopped), 1);
    /* released first, as client-go: a callback that exits gives it up */
    ck_assert_str_eq(r.holder_at_stop, "");
    ck_assert(!kr_leader_is_leader(le));
    ck_assert_int_eq(kr_leader_term_get(le, &term), KR_ESTATE);
    ck_assert_int_eq(kr_leader_term_resource_version(le, &term, term_rv, sizeof(term_rv)),
                     KR_ESTATE);
    lease = get_lease(&e);
    ck_assert_str_eq(spec_str(lease, "holderIdentity"), "");
    ck_assert_int_eq(spec_int(lease, "leaseDurationSeconds"), 1);
    ck_assert_int_eq(spec_int(lease, "leaseTransitions"), 0);
    json_decref(lease);
    ck_assert_int_eq(kr_metrics_render(e.reg, &text, NULL, NULL), 0);
    ck_assert_msg(strstr(text, "leader_election_master_status{name=\"lock\"} 0"), "%s", text);
    kr_free(text);
    ck_assert_int_eq(kr_leader_stop(le, 0, NULL), 0); /* idempotent */
    kr_leader_free(le);
    ck_assert_int_eq(read_count(&r.stopped), 1);
    env_down(&e);
}
END_TEST

START_TEST(keep_lease_on_stop_leaves_the_holder)
{
    env e;
    env_up(&e);
    rec r;
    kr_leader_t *le = elector(&e, &r, (elector_cfg){"keeper", 3000, 2000, 100, false, true, false});
    ck_assert_int_eq(kr_leader_start(le, NULL), 0);
    ck_assert(wait_count(&r.started, 1));
    ck_assert_int_eq(kr_leader_stop(le, 0, NULL), 0);
    ck_assert_int_eq(read_count(&r.stopped), 1);
    json_t *lease = get_lease(&e);
    ck_assert_str_eq(spec_str(lease, "holderIdentity"), "keeper");
    ck_assert_int_eq(spec_int(lease, "leaseDurationSeconds"), 3);
    json_decref(lease);
    kr_leader_free(le);
    env_down(&e);
}
END_TEST

/* ---- expiry on the local clock ------------------------------------------------------ */

START_TEST(held_lease_expires_on_the_local_clock_not_by_its_timestamps)
{
    env e;
    env_up(&e);
    /* Another holder whose stamps are far in the past, as a replica whose
     * wall clock runs years behind would write them: still held. */
    json_t *obj =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s, s:s, s:i}}", "apiVersion",
                  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", "lock",
                  "namespace", "default", "spec", "holderIdentity", "other", "leaseDurationSeconds",
                  10, "acquireTime", "2000-01-01T00:00:00.000000Z", "renewTime",
                  "2000-01-01T00:00:00.000000Z", "leaseTransitions", 4);
    kr_error_t err = {0};
    ck_assert_msg(kr_client_create(e.c, LEASES, "default", obj, NULL, NULL, &err) == 0, "%s",
                  err.message);
    json_decref(obj);
    rec r;
    kr_leader_t *le = elector(&e, &r, (elector_cfg){"patient", 3000, 2000, 50, true, false, false});
    ck_assert_int_eq(kr_leader_start(le, NULL), 0);
    ck_assert(wait_count(&r.new_leaders, 1));
    ck_assert_str_eq(r.last_new, "other");
    ck_assert(wait_count(&held_messages, 5)); /* five attempts saw it held */
    ck_assert_int_eq(read_count(&r.started), 0);
    char holder[64];
    kr_leader_observed_holder(le, holder, sizeof(holder));
    ck_assert_str_eq(holder, "other");
    /* The record's own duration (10 s) counts, from when it was seen. */
    atomic_store(&skip_ns, 9000000000LL);
    int seen = read_count(&held_messages);
    ck_assert(wait_count(&held_messages, seen + 3));
    ck_assert_int_eq(read_count(&r.started), 0);
    atomic_store(&skip_ns, 10500000000LL);
    ck_assert(wait_count(&r.started, 1));
    ck_assert_str_eq(r.term.holder, "patient");
    ck_assert_uint_eq(r.term.transitions, 5); /* holder change */
    json_t *lease = get_lease(&e);
    ck_assert_str_eq(spec_str(lease, "holderIdentity"), "patient");
    ck_assert_int_eq(spec_int(lease, "leaseTransitions"), 5);
    json_decref(lease);
    kr_leader_free(le);
    ck_assert_int_eq(read_count(&r.stopped), 1);
    env_down(&e);
}
END_TEST

START_TEST(leader_steps_down_at_the_renew_deadline_and_leads_again_with_a_new_term)
{
    env e;
    env_up(&e);
    rec r;
    kr_leader_t *le = elector(&e, &r, (elector_cfg){"flaky", 3000, 2000, 50, true, false, false});
    ck_assert_int_eq(kr_leader_start(le, NULL), 0);
    ck_assert(wait_count(&r.started, 1));
    ck_assert_uint_eq(r.term.transitions, 0);
    kr_testserver_faults f = {.fail_503 = 1.0};
    kr_testserver_set_faults(e.ts, &f);
    /* No renewal can succeed now; two seconds pass on the elector's clock. */
    atomic_store(&skip_ns, 2000000000LL);
    kr_leader_term term;
    ck_assert(!kr_leader_is_leader(le));
    ck_assert_int_eq(kr_leader_term_get(le, &term), KR_ESTATE);
    ck_assert(wait_count(&r.stopped, 1));
    ck_assert_int_eq(read_count(&r.started), 1);
    kr_testserver_set_faults(e.ts, &(kr_testserver_faults){0});
    /* The Lease still names it: it takes it again, in a new term. */
    ck_assert(wait_count(&r.started, 2));
    ck_assert_uint_eq(r.term.transitions, 1);
    ck_assert_int_eq(kr_leader_term_get(le, &term), 0);
    ck_assert_uint_eq(term.transitions, 1);
    kr_leader_free(le);
    ck_assert_int_eq(read_count(&r.stopped), 2);
    env_down(&e);
}
END_TEST

/* one_term (client-go's RunOrDie, which returns once it stopped leading):
 * a leader that missed its renew deadline does not take the Lease back
 * when the apiserver answers again, though the Lease still names it, and
 * its stop releases the Lease for the others. */
START_TEST(one_term_competes_no_more_after_a_loss_and_its_stop_releases)
{
    env e;
    env_up(&e);
    rec r;
    next_one_term = true;
    kr_leader_t *le = elector(&e, &r, (elector_cfg){"once", 3000, 2000, 50, true, false, false});
    ck_assert_int_eq(kr_leader_start(le, NULL), 0);
    ck_assert(wait_count(&r.started, 1));
    kr_testserver_faults f = {.fail_503 = 1.0};
    kr_testserver_set_faults(e.ts, &f);
    atomic_store(&skip_ns, 2000000000LL); /* past the renew deadline */
    ck_assert(wait_count(&r.stopped, 1));
    kr_testserver_set_faults(e.ts, &(kr_testserver_faults){0});
    pause_ms(500); /* ten retry periods: a competing elector took it back */
    ck_assert_int_eq(read_count(&r.started), 1);
    ck_assert(!kr_leader_is_leader(le));
    json_t *lease = get_lease(&e);
    ck_assert_str_eq(spec_str(lease, "holderIdentity"), "once");
    json_decref(lease);
    kr_error_t err = {0};
    ck_assert_msg(kr_leader_stop(le, 5000, &err) == 0, "%s", err.message);
    lease = get_lease(&e);
    ck_assert_str_eq(spec_str(lease, "holderIdentity"), "");
    json_decref(lease);
    ck_assert_int_eq(read_count(&r.stopped), 1);
    kr_leader_free(le);
    env_down(&e);
}
END_TEST

START_TEST(leader_steps_down_while_its_renewal_hangs_and_stop_gives_up_in_time)
{
    env e;
    env_up(&e);
    rec r;
    kr_leader_t *le = elector(&e, &r, (elector_cfg){"slow", 3000, 1500, 100, false, false, false});
    ck_assert_int_eq(kr_leader_start(le, NULL), 0);
    ck_assert(wait_count(&r.started, 1));
    /* Every answer now comes after the renew deadline: a renewal hangs. */
    kr_testserver_set_faults(e.ts, &(kr_testserver_faults){.latency_ms = 2500});
    ck_assert(wait_count(&r.stopped, 1));
    ck_assert(!kr_leader_is_leader(le));
    /* The release cannot get through: stop returns at its timeout and free
     * leaves the request in flight to the client. */
    kr_error_t err = {0};
    ck_assert_int_eq(kr_leader_stop(le, 50, &err), KR_ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(err.message, "not released"));
    kr_leader_free(le);
    ck_assert_int_eq(read_count(&r.started), 1);
    ck_assert_int_eq(read_count(&r.stopped), 1);
    kr_testserver_set_faults(e.ts, &(kr_testserver_faults){0});
    env_down(&e);
}
END_TEST

/* A standby that never held the Lease, whose apiserver takes connections
 * and never answers: its stop has nothing to release and returns at once
 * (0), instead of waiting out its timeout for the read in flight. */
START_TEST(a_standby_with_nothing_to_release_stops_at_once_when_the_apiserver_hangs)
{
    /* the "apiserver": a listening socket on loopback that never answers */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(lfd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(lfd, 8), 0);
    socklen_t sl = sizeof(sa);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));

    kr_runtime_t *rt = NULL;
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, NULL), 0);
    ck_assert_int_eq(kr_runtime_start(rt, NULL), 0);
    kr_rest_config cfg = {.server = url, .qps = -1};
    kr_client_t *c = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_client_new(rt, &cfg, NULL, &c, &err) == 0, "%s", err.message);
    rec r;
    memset(&r, 0, sizeof(r));
    kr_leader_opts o = KR_LEADER_OPTS_INIT;
    o.client = c;
    o.lease_namespace = "default";
    o.lease_name = "lock";
    o.identity = "standby";
    /* the read times out (renew deadline) long after the stop's wait */
    o.lease_duration_ms = 120000;
    o.renew_deadline_ms = 100000;
    o.retry_period_ms = 1000;
    o.on_started_leading = on_started;
    o.on_stopped_leading = on_stopped;
    o.user = &r;
    o.one_term = true;
    kr_leader_t *le = NULL;
    ck_assert_msg(kr_leader_new(&o, &le, &err) == 0, "%s", err.message);
    r.le = le;
    ck_assert_int_eq(kr_leader_start(le, NULL), 0);
    /* Its first attempt's GET has connected: a read is in flight. */
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, WAIT_MS), 1);
    int conn = accept(lfd, NULL, NULL);
    ck_assert_int_ge(conn, 0);
    /* Nothing to release: done, not "not released in 60000 ms". */
    int rc = kr_leader_stop(le, 60000, &err);
    ck_assert_msg(rc == 0, "%s", err.message);
    ck_assert(!kr_leader_is_leader(le));
    ck_assert_int_eq(read_count(&r.started), 0);
    ck_assert_int_eq(read_count(&r.stopped), 0);
    kr_leader_free(le);
    kr_client_free(c);
    kr_runtime_free(rt);
    close(conn);
    close(lfd);
}
END_TEST

/* ---- two electors in one process --------------------------------------------------- */

START_TEST(clean_stop_hands_over_to_the_other_with_the_next_term)
{
    env e;
    env_up(&e);
    rec ra, rb;
    kr_leader_t *a = elector(&e, &ra, (elector_cfg){"a", 10000, 5000, 50, false, false, false});
    kr_leader_t *b = elector(&e, &rb, (elector_cfg){"b", 10000, 5000, 50, false, false, false});
    ck_assert_int_eq(kr_leader_start(a, NULL), 0);
    ck_assert(wait_count(&ra.started, 1));
    ck_assert_int_eq(kr_leader_start(b, NULL), 0);
    ck_assert(wait_count(&rb.new_leaders, 1));
    ck_assert_str_eq(rb.last_new, "a");
    ck_assert(wait_count(&held_messages, 3));
    ck_assert(!kr_leader_is_leader(b));
    ck_assert_int_eq(kr_leader_stop(a, 0, NULL), 0);
    /* b takes over long before the 10 s lease could have expired */
    int64_t t0 = mono_ns();
    ck_assert(wait_count(&rb.started, 1));
    int64_t took_ms = (mono_ns() - t0) / 1000000;
    ck_assert_msg(took_ms < 10000, "took %lld ms", (long long)took_ms);
    ck_assert_str_eq(rb.term.holder, "b");
    ck_assert_uint_eq(rb.term.transitions, ra.term.transitions + 1);
    ck_assert(!kr_leader_is_leader(a));
    ck_assert(wait_count(&ra.new_leaders, 2)); /* "" after its own release... */
    kr_leader_free(a);
    kr_leader_free(b);
    ck_assert_int_eq(read_count(&rb.stopped), 1);
    env_down(&e);
}
END_TEST

/* The Lease deleted under its leader: made again, its count never goes
 * below a term already handed out. The leader keeps its term in the new
 * Lease; a follower that saw the old Lease makes the new one one past
 * what it saw. */
START_TEST(a_deleted_lease_is_made_again_without_going_back_in_terms)
{
    env e;
    env_up(&e);
    json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:i}}", "apiVersion",
                            "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", "lock",
                            "namespace", "default", "spec", "holderIdentity", "",
                            "leaseDurationSeconds", 10, "leaseTransitions", 5);
    kr_error_t err = {0};
    ck_assert_msg(kr_client_create(e.c, LEASES, "default", obj, NULL, NULL, &err) == 0, "%s",
                  err.message);
    json_decref(obj);
    rec ra, rb;
    kr_leader_t *a = elector(&e, &ra, (elector_cfg){"a", 10000, 5000, 50, false, true, false});
    ck_assert_int_eq(kr_leader_start(a, NULL), 0);
    ck_assert(wait_count(&ra.started, 1));
    ck_assert_uint_eq(ra.term.transitions, 6);
    ck_assert_int_eq(kr_client_delete(e.c, LEASES, "default", "lock", NULL, NULL, &err), 0);
    /* the leader's next renewal finds it gone and makes it again */
    json_t *lease = NULL;
    for (int i = 0; i < 3000 && !lease; i++) {
        if (kr_client_get(e.c, LEASES, "default", "lock", &lease, &err) != 0) {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_msg(lease != NULL, "the Lease was not made again");
    ck_assert_str_eq(spec_str(lease, "holderIdentity"), "a");
    ck_assert_int_eq(spec_int(lease, "leaseTransitions"), 6);
    json_decref(lease);
    ck_assert(kr_leader_is_leader(a));
    ck_assert_int_eq(read_count(&ra.stopped), 0);
    /* b follows (sees a in term 6); a stops keeping the Lease; the Lease
     * goes: b makes it again, one past what it saw */
    kr_leader_t *b = elector(&e, &rb, (elector_cfg){"b", 10000, 5000, 50, false, false, false});
    ck_assert_int_eq(kr_leader_start(b, NULL), 0);
    ck_assert(wait_count(&rb.new_leaders, 1));
    ck_assert_str_eq(rb.last_new, "a");
    ck_assert_int_eq(kr_leader_stop(a, 0, NULL), 0);
    ck_assert_int_eq(read_count(&rb.started), 0);
    ck_assert_int_eq(kr_client_delete(e.c, LEASES, "default", "lock", NULL, NULL, &err), 0);
    ck_assert(wait_count(&rb.started, 1));
    ck_assert_uint_eq(rb.term.transitions, 7);
    kr_leader_free(a);
    /* only a replica that never saw the Lease starts again at 0 */
    rec rc;
    ck_assert_int_eq(kr_leader_stop(b, 0, NULL), 0);
    ck_assert_int_eq(kr_client_delete(e.c, LEASES, "default", "lock", NULL, NULL, &err), 0);
    kr_leader_t *c = elector(&e, &rc, (elector_cfg){"c", 10000, 5000, 50, false, false, false});
    ck_assert_int_eq(kr_leader_start(c, NULL), 0);
    ck_assert(wait_count(&rc.started, 1));
    ck_assert_uint_eq(rc.term.transitions, 0);
    kr_leader_free(b);
    kr_leader_free(c);
    env_down(&e);
}
END_TEST

START_TEST(another_write_to_the_lease_deposes_the_leader)
{
    env e;
    env_up(&e);
    rec r;
    kr_leader_t *le =
        elector(&e, &r, (elector_cfg){"victim", 10000, 5000, 50, false, false, false});
    ck_assert_int_eq(kr_leader_start(le, NULL), 0);
    ck_assert(wait_count(&r.started, 1));
    /* Someone takes the Lease by a plain update (the leader's next
     * conditional renewal conflicts, it re-reads and sees the intruder). */
    json_t *lease = get_lease(&e);
    json_t *spec = json_object_get(lease, "spec");
    json_object_set_new(spec, "holderIdentity", json_string("intruder"));
    json_object_set_new(spec, "leaseTransitions", json_integer(1));
    kr_error_t err = {0};
    int rc;
    while ((rc = kr_client_update(e.c, LEASES, "default", lease, NULL, NULL, &err)) ==
           KR_ECONFLICT) {
        json_decref(lease);
        lease = get_lease(&e);
        spec = json_object_get(lease, "spec");
        json_object_set_new(spec, "holderIdentity", json_string("intruder"));
        json_object_set_new(spec, "leaseTransitions", json_integer(1));
    }
    ck_assert_msg(rc == 0, "%s", err.message);
    json_decref(lease);
    ck_assert(wait_count(&r.stopped, 1));
    ck_assert(!kr_leader_is_leader(le));
    pthread_mutex_lock(&mu);
    ck_assert_str_eq(r.last_new, "intruder");
    pthread_mutex_unlock(&mu);
    kr_leader_free(le);
    lease = get_lease(&e);
    ck_assert_str_eq(spec_str(lease, "holderIdentity"), "intruder"); /* not released */
    json_decref(lease);
    env_down(&e);
}
END_TEST

START_TEST(runtime_stopped_under_a_running_elector)
{
    env e;
    env_up(&e);
    rec r;
    kr_leader_t *le = elector(&e, &r, (elector_cfg){"orphan", 3000, 2000, 50, false, false, false});
    ck_assert_int_eq(kr_leader_start(le, NULL), 0);
    ck_assert(wait_count(&r.started, 1));
    kr_runtime_stop(e.rt);
    ck_assert_int_eq(read_count(&r.stopped), 1);
    ck_assert(!kr_leader_is_leader(le));
    kr_leader_free(le);
    env_down(&e);
}
END_TEST

/* ---- three processes ------------------------------------------------------------------ */

static int child_log_fd = -1;

static void child_log(const char *fmt, unsigned long long v)
{
    char line[128];
    int n = snprintf(line, sizeof(line), "%lld ", (long long)mono_ns());
    n += snprintf(line + n, sizeof(line) - (size_t)n, fmt, v);
    if (write(child_log_fd, line, (size_t)n) != n)
        _exit(3);
}

static void child_started(const kr_leader_term *term, void *user)
{
    (void)user;
    child_log("started %llu\n", (unsigned long long)term->transitions);
}

static void child_stopped(void *user)
{
    (void)user;
    child_log("stopped %llu\n", 0);
}

/* argv: CHILD_FLAG url identity logfile. Competes until SIGTERM, then
 * stops (releasing the Lease) and exits 0. */
static int child_main(char **argv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    child_log_fd = open(argv[4], O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (child_log_fd < 0)
        return 2;
    kr_runtime_t *rt = NULL;
    kr_client_t *c = NULL;
    kr_leader_t *le = NULL;
    kr_rest_config cfg = {.server = argv[2], .qps = -1};
    kr_client_opts co = {.backoff_base_ms = 20, .backoff_max_ms = 100, .max_retries = 1};
    kr_leader_opts o = KR_LEADER_OPTS_INIT;
    o.lease_namespace = "default";
    o.lease_name = "race";
    o.identity = argv[3];
    o.lease_duration_ms = P_LEASE_MS;
    o.renew_deadline_ms = P_RENEW_MS;
    o.retry_period_ms = P_RETRY_MS;
    o.on_started_leading = child_started;
    o.on_stopped_leading = child_stopped;
    if (kr_runtime_new(NULL, &rt, NULL) || kr_runtime_start(rt, NULL) ||
        kr_client_new(rt, &cfg, &co, &c, NULL))
        return 2;
    o.client = c;
    if (kr_leader_new(&o, &le, NULL) || kr_leader_start(le, NULL))
        return 2;
    int sig = 0;
    sigwait(&set, &sig);
    int rc = kr_leader_stop(le, 5000, NULL);
    child_log("released %llu\n", (unsigned long long)(rc == 0 ? 0 : 1));
    kr_leader_free(le);
    kr_client_free(c);
    kr_runtime_free(rt);
    close(child_log_fd);
    return rc == 0 ? 0 : 1;
}

/* The Lease's history as the parent's watch saw it. */
typedef struct hist_ev {
    char holder[64];
    long long transitions;
    long long duration_s;
    int64_t at_ns;
} hist_ev;

#define HIST_MAX 8192
static hist_ev hist[HIST_MAX];
static size_t nhist;

static void on_lease_event(kr_watch_t *w, kr_watch_event_type type, json_t *obj, void *user)
{
    (void)w;
    (void)user;
    if (type != KR_WATCH_ADDED && type != KR_WATCH_MODIFIED)
        return;
    pthread_mutex_lock(&mu);
    if (nhist < HIST_MAX) {
        hist_ev *h = &hist[nhist++];
        const char *holder = spec_str(obj, "holderIdentity");
        snprintf(h->holder, sizeof(h->holder), "%s", holder ? holder : "");
        h->transitions = spec_int(obj, "leaseTransitions");
        h->duration_s = spec_int(obj, "leaseDurationSeconds");
        h->at_ns = mono_ns();
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_lease_end(kr_watch_t *w, int rc, const kr_error_t *err, void *user)
{
    (void)w;
    (void)rc;
    (void)err;
    (void)user;
}

/* Wait for a history event from index `from` whose holder is non-empty and
 * differs from `not` ("" = any holder; NULL: an empty holder). Returns its
 * index or -1. */
typedef struct holder_arg {
    size_t from;
    const char *not_holder;
    bool want_empty;
    long found;
} holder_arg;

static bool holder_seen(void *arg)
{
    holder_arg *a = arg;
    for (size_t i = a->from; i < nhist; i++) {
        bool empty = !*hist[i].holder;
        if (a->want_empty ? empty
                          : !empty && (!a->not_holder || strcmp(hist[i].holder, a->not_holder))) {
            a->found = (long)i;
            return true;
        }
    }
    return false;
}

static long wait_holder(size_t from, const char *not_holder, bool want_empty)
{
    holder_arg a = {from, not_holder, want_empty, -1};
    wait_for(holder_seen, &a);
    return a.found;
}

static size_t hist_len(void)
{
    pthread_mutex_lock(&mu);
    size_t n = nhist;
    pthread_mutex_unlock(&mu);
    return n;
}

typedef struct child {
    char identity[16];
    char log[256];
    kr_test_proc proc; /* its stdout and stderr in log + ".out" */
    int64_t killed_ns; /* kill -9: when it was reaped */
} child;

static void spawn(child *ch, const char *self, const char *url)
{
    char out[300];
    snprintf(out, sizeof(out), "%s.out", ch->log);
    const char *argv[] = {self, CHILD_FLAG, url, ch->identity, ch->log, NULL};
    kr_test_proc_start(&ch->proc, out, argv);
}

static child *child_by_identity(child *kids, size_t n, const char *identity)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kids[i].identity, identity) == 0)
            return &kids[i];
    return NULL;
}

/* The children's logs: one leadership per "started" line, ended by the next
 * "stopped" or by the child's death. */
typedef struct interval {
    int64_t from, to;
    unsigned long long term;
    int who;
} interval;

static size_t read_intervals(child *kids, size_t n, interval *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        FILE *f = fopen(kids[i].log, "r");
        ck_assert_ptr_nonnull(f);
        long long at;
        char what[32];
        unsigned long long v;
        bool open_iv = false;
        while (fscanf(f, "%lld %31s %llu", &at, what, &v) == 3) {
            if (strcmp(what, "started") == 0) {
                ck_assert_msg(!open_iv, "%s started twice", kids[i].identity);
                ck_assert_uint_lt(k, max);
                out[k] = (interval){at, INT64_MAX, v, (int)i};
                open_iv = true;
            } else if (strcmp(what, "stopped") == 0 && open_iv) {
                out[k++].to = at;
                open_iv = false;
            }
        }
        if (open_iv) {
            ck_assert_msg(kids[i].killed_ns, "%s still leading at its end", kids[i].identity);
            out[k++].to = kids[i].killed_ns;
        }
        fclose(f);
    }
    return k;
}

static int cmp_interval(const void *a, const void *b)
{
    const interval *x = a, *y = b;
    return x->from < y->from ? -1 : x->from > y->from;
}

/* The logs: leaderships never overlap, each has a term of its own, larger
 * than the one before. Returns how many there were (sorted in `iv`). */
static size_t check_intervals(child *kids, size_t nkids, interval *iv, size_t max)
{
    size_t n = read_intervals(kids, nkids, iv, max);
    qsort(iv, n, sizeof(iv[0]), cmp_interval);
    for (size_t i = 1; i < n; i++) {
        ck_assert_msg(iv[i].from >= iv[i - 1].to, "%s led from %lld while %s led until %lld",
                      kids[iv[i].who].identity, (long long)iv[i].from, kids[iv[i - 1].who].identity,
                      (long long)iv[i - 1].to);
        ck_assert_uint_gt(iv[i].term, iv[i - 1].term);
    }
    return n;
}

/* The time of the first `word` line of `ch` after `after_ns`, or 0. */
static int64_t logged_after(const child *ch, const char *word, int64_t after_ns)
{
    FILE *f = fopen(ch->log, "r");
    if (!f)
        return 0;
    long long at;
    char what[32];
    unsigned long long v;
    int64_t found = 0;
    while (!found && fscanf(f, "%lld %31s %llu", &at, what, &v) == 3)
        if (strcmp(what, word) == 0 && at > after_ns)
            found = at;
    fclose(f);
    return found;
}

/* Wait until `ch` logged `word` after `after_ns`; its time. The Lease can
 * name a child a moment before the child has had the answer. */
static int64_t wait_logged(const child *ch, const char *word, int64_t after_ns)
{
    int64_t at = 0, until = mono_ns() + (int64_t)WAIT_MS * 1000000;
    while (!(at = logged_after(ch, word, after_ns)) && mono_ns() < until)
        pause_ms(10);
    ck_assert_msg(at, "%s did not log \"%s\"", ch->identity, word);
    return at;
}

/* Stop the children still running with SIGTERM; each must exit 0. */
static void stop_children(child *kids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (kids[i].proc.pid && !kids[i].killed_ns)
            kr_test_proc_signal(&kids[i].proc, SIGTERM);
    for (size_t i = 0; i < n; i++) {
        if (kids[i].proc.pid && !kids[i].killed_ns) {
            int status = kr_test_proc_wait(&kids[i].proc, 60000);
            ck_assert_msg(status == 0, "%s: status %d", kids[i].identity, status);
        }
        kr_test_proc_free(&kids[i].proc);
    }
}

/* Remove the children's logs and their directory. */
static void remove_logs(child *kids, size_t n, const char *dir)
{
    for (size_t i = 0; i < n; i++) {
        unlink(kids[i].log);
        unlink(kids[i].proc.log);
    }
    rmdir(dir);
}

/* kr-apiserver as a process of its own, on a free port, its output in
 * `log`; its URL in `url`. */
static void start_apiserver(kr_test_proc *p, const char *log, char *url, size_t len)
{
    kr_test_proc_start_apiserver(p, log, NULL, url, len, WAIT_MS);
    ck_assert_int_eq(strncmp(url, "http://127.0.0.1:", 17), 0);
}

START_TEST(three_processes_never_lead_at_once_and_take_over_in_time)
{
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ck_assert_int_gt(len, 0);
    self[len] = '\0';
    env e;
    env_up(&e);
    nhist = 0;
    kr_watch_t *w = NULL;
    kr_list_opts lo = {.timeout_seconds = 600};
    kr_error_t err = {0};
    ck_assert_msg(kr_client_watch(e.c, LEASES, "default", &lo, on_lease_event, on_lease_end, NULL,
                                  &w, &err) == 0,
                  "%s", err.message);
    int64_t until = mono_ns() + (int64_t)WAIT_MS * 1000000;
    while (kr_testserver_watch_count(e.ts) < 1 && mono_ns() < until)
        pause_ms(5);
    ck_assert_uint_ge(kr_testserver_watch_count(e.ts), 1);

    char dir[128];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "test_leader"));
    child kids[3];
    memset(kids, 0, sizeof(kids));
    for (int i = 0; i < 3; i++) {
        snprintf(kids[i].identity, sizeof(kids[i].identity), "cand-%d", i);
        snprintf(kids[i].log, sizeof(kids[i].log), "%.64s/cand-%d.log", dir, i);
        spawn(&kids[i], self, kr_testserver_url(e.ts));
    }

    /* 1. Somebody leads. kill -9 of the leader: another leads within the
     *    lease duration plus a retry period (bounds generous). */
    long i1 = wait_holder(0, NULL, false);
    ck_assert_int_ge(i1, 0);
    child *first = child_by_identity(kids, 3, hist[i1].holder);
    ck_assert_ptr_nonnull(first);
    wait_logged(first, "started", 0);
    ck_assert_int_ge(kr_test_proc_kill(&first->proc, SIGKILL), 0);
    first->killed_ns = mono_ns();
    size_t mark = hist_len();
    long i2 = wait_holder(mark, first->identity, false);
    ck_assert_int_ge(i2, 0);
    int64_t takeover_ms = (hist[i2].at_ns - first->killed_ns) / 1000000;
    printf("test_leader: kill -9 of %s: %s leads after %lld ms (lease %d ms + retry %d ms)\n",
           first->identity, hist[i2].holder, (long long)takeover_ms, P_LEASE_MS, P_RETRY_MS);
    ck_assert_msg(takeover_ms < 3 * (P_LEASE_MS + P_RETRY_MS), "took %lld ms",
                  (long long)takeover_ms);

    /* 2. The server stops answering: the leader steps down before its lease
     *    could expire for the others (before last renewal + lease). */
    child *second = child_by_identity(kids, 3, hist[i2].holder);
    ck_assert_ptr_nonnull(second);
    wait_logged(second, "started", 0);
    int64_t fault_ns = mono_ns();
    kr_testserver_set_faults(e.ts, &(kr_testserver_faults){.fail_503 = 1.0});
    int64_t stop_ns = wait_logged(second, "stopped", fault_ns);
    int64_t last_renew_ns = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nhist; i++)
        if (strcmp(hist[i].holder, second->identity) == 0)
            last_renew_ns = hist[i].at_ns;
    size_t during_fault = nhist;
    pthread_mutex_unlock(&mu);
    printf("test_leader: %s stepped down %lld ms after its last renewal was seen (lease %d ms)\n",
           second->identity, (long long)(stop_ns - last_renew_ns) / 1000000, P_LEASE_MS);
    ck_assert_int_lt(stop_ns, last_renew_ns + (int64_t)P_LEASE_MS * 1000000);
    kr_testserver_set_faults(e.ts, &(kr_testserver_faults){0});
    long i3 = wait_holder(during_fault, NULL, false);
    ck_assert_int_ge(i3, 0);
    child *third = child_by_identity(kids, 3, hist[i3].holder);
    ck_assert_ptr_nonnull(third);
    wait_logged(third, "started", stop_ns);

    /* 3. A clean stop releases the Lease; another leads about one retry
     *    period later, long before the lease would have expired. */
    mark = hist_len();
    kr_test_proc_signal(&third->proc, SIGTERM);
    long rel = wait_holder(mark, NULL, true);
    ck_assert_int_ge(rel, 0);
    ck_assert_int_eq(hist[rel].duration_s, 1);
    long i4 = wait_holder((size_t)rel, third->identity, false);
    ck_assert_int_ge(i4, 0);
    int64_t handover_ms = (hist[i4].at_ns - hist[rel].at_ns) / 1000000;
    printf("test_leader: clean stop of %s: %s leads %lld ms after the release (retry %d ms)\n",
           third->identity, hist[i4].holder, (long long)handover_ms, P_RETRY_MS);
    ck_assert_msg(handover_ms < P_LEASE_MS, "took %lld ms", (long long)handover_ms);
    int status = kr_test_proc_wait(&third->proc, 60000);
    ck_assert_msg(status == 0, "status %d", status);

    stop_children(kids, 3); /* the rest stop cleanly */
    kr_watch_free(w);

    interval iv[256];
    size_t n = check_intervals(kids, 3, iv, 256);
    ck_assert_uint_ge(n, 3);
    /* The watched history: transitions never go back; a new holder comes
     * with the next transition; a release keeps it and shortens the lease. */
    pthread_mutex_lock(&mu);
    size_t holder_changes = 0;
    for (size_t i = 1; i < nhist; i++) {
        hist_ev *a = &hist[i - 1], *b = &hist[i];
        ck_assert_int_ge(b->transitions, a->transitions);
        if (!*b->holder) {
            ck_assert_int_eq(b->transitions, a->transitions);
            ck_assert_int_eq(b->duration_s, 1);
        } else if (strcmp(a->holder, b->holder) != 0) {
            ck_assert_int_eq(b->transitions, a->transitions + 1);
            holder_changes++;
        }
        /* every leadership the logs show is in the history */
    }
    ck_assert_uint_ge(holder_changes, 2);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < nhist && !found; j++)
            found = hist[j].transitions == (long long)iv[i].term &&
                    strcmp(hist[j].holder, kids[iv[i].who].identity) == 0;
        ck_assert_msg(found, "term %llu of %s not in the history", iv[i].term,
                      kids[iv[i].who].identity);
    }
    pthread_mutex_unlock(&mu);
    remove_logs(kids, 3, dir);
    env_down(&e);
}
END_TEST

START_TEST(leader_of_a_frozen_apiserver_process_steps_down_before_its_lease_expires)
{
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ck_assert_int_gt(len, 0);
    self[len] = '\0';
    char url[256], server_log[192];
    char dir[128];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "test_leader"));
    snprintf(server_log, sizeof(server_log), "%s/kr-apiserver.log", dir);
    kr_test_proc server;
    start_apiserver(&server, server_log, url, sizeof(url));
    child kids[3];
    memset(kids, 0, sizeof(kids));
    for (int i = 0; i < 3; i++) {
        snprintf(kids[i].identity, sizeof(kids[i].identity), "cand-%d", i);
        snprintf(kids[i].log, sizeof(kids[i].log), "%.64s/cand-%d.log", dir, i);
        spawn(&kids[i], self, url);
    }
    /* Somebody leads, and has renewed at least once (its log is written
     * when the answer came: the renewal was sent before). */
    child *leader = NULL;
    int64_t started_ns = 0;
    int64_t until = mono_ns() + (int64_t)WAIT_MS * 1000000;
    while (!leader && mono_ns() < until) {
        for (int i = 0; i < 3 && !leader; i++)
            if ((started_ns = logged_after(&kids[i], "started", 0)))
                leader = &kids[i];
        if (!leader)
            pause_ms(20);
    }
    ck_assert_ptr_nonnull(leader);
    /* Freeze the server: every request hangs. The leader's last successful
     * write was sent at the latest when it was frozen. */
    kr_test_proc_pause(&server);
    ck_assert(server.paused);
    int64_t frozen_ns = mono_ns();
    int64_t stop_ns = wait_logged(leader, "stopped", started_ns);
    printf("test_leader: %s stepped down %lld ms after its server was frozen (lease %d ms)\n",
           leader->identity, (long long)(stop_ns - frozen_ns) / 1000000, P_LEASE_MS);
    ck_assert_int_lt(stop_ns, frozen_ns + (int64_t)P_LEASE_MS * 1000000);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(logged_after(&kids[i], "started", started_ns), 0);
    /* Thawed, it answers again: somebody leads, in a later term. */
    int64_t thawed_ns = mono_ns();
    kr_test_proc_resume(&server);
    ck_assert(kr_test_proc_running(&server));
    bool again = false;
    until = mono_ns() + (int64_t)WAIT_MS * 1000000;
    while (!again && mono_ns() < until) {
        for (int i = 0; i < 3 && !again; i++)
            again = logged_after(&kids[i], "started", thawed_ns) != 0;
        if (!again)
            pause_ms(20);
    }
    ck_assert(again);
    stop_children(kids, 3);
    interval iv[256];
    ck_assert_uint_ge(check_intervals(kids, 3, iv, 256), 2);
    kr_test_proc_kill(&server, SIGTERM);
    kr_test_proc_free(&server);
    unlink(server_log);
    remove_logs(kids, 3, dir);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], CHILD_FLAG) == 0)
        return child_main(argv);
    Suite *s = suite_create("leader");
    TCase *tc = tcase_create("leader");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, options_are_checked_and_identity_defaults_to_host_and_suffix);
    tcase_add_test(tc, allocation_failures_in_new_are_reported_without_leaks);
    tcase_add_test(tc, single_elector_creates_renews_and_releases_the_lease);
    tcase_add_test(tc, keep_lease_on_stop_leaves_the_holder);
    tcase_add_test(tc, held_lease_expires_on_the_local_clock_not_by_its_timestamps);
    tcase_add_test(tc, leader_steps_down_at_the_renew_deadline_and_leads_again_with_a_new_term);
    tcase_add_test(tc, one_term_competes_no_more_after_a_loss_and_its_stop_releases);
    tcase_add_test(tc, leader_steps_down_while_its_renewal_hangs_and_stop_gives_up_in_time);
    tcase_add_test(tc, a_standby_with_nothing_to_release_stops_at_once_when_the_apiserver_hangs);
    tcase_add_test(tc, clean_stop_hands_over_to_the_other_with_the_next_term);
    tcase_add_test(tc, another_write_to_the_lease_deposes_the_leader);
    tcase_add_test(tc, a_deleted_lease_is_made_again_without_going_back_in_terms);
    tcase_add_test(tc, runtime_stopped_under_a_running_elector);
    tcase_add_test(tc, three_processes_never_lead_at_once_and_take_over_in_time);
    tcase_add_test(tc, leader_of_a_frozen_apiserver_process_steps_down_before_its_lease_expires);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
