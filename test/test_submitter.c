/* kr-submitter: its decision modules alone (tokens, approvals, names,
 * failover rules, submissions), then the reconcile and the API handlers
 * against a hub and two workload test servers: submit, approve, dispatch,
 * verify, succeed; approval rules; idempotency under 100 concurrent
 * submissions; failover with dc1 down right after the decision, before
 * and after the create; both copies started after a partition (the later
 * one stopped); APPROVED recorded before DISPATCHED; cancel; bad input.
 * KR_TEST_THREADED: runtime loop thread, server threads, test threads.
 * KR_TEST_PROGRAM=kr-submitter: links the program's files but main.c. */
#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../examples/kr-submitter/submitter.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "pgserver.h"
#include "ts_client.h"

#define JOBS KR_GVR("batch", "v1", "jobs")
/* Bounded waits, stretched as the sanitizer runs stretch Check's timeout. */
#define WAIT_MS ((uint64_t)(30000 * kr_test_time_scale()))
#define WAIT_S(s) ((time_t)((s)*kr_test_time_scale()))
#define FAILOVER_MS 60000

static unsigned short free_port(void);
static void wait_pace(void);
static void copies_restart(int dc);
static long recorded_event(const char *prefix, char *rv, size_t rv_len, char *outcome,
                           size_t outcome_len);
static double elapsed_s(const struct timespec *since);

static const char tokens[] = "tok-alice,alice,1,\"dev\"\n"
                             "tok-bob,bob,2,\"dev,approvers\"\n"
                             "tok-carol,carol,3,approvers\n"
                             "\"tok-dave\",dave,4,\"approvers\"\n"
                             "tok-erin,erin,5\n"
                             "tok-unknown,unknown,6\n"
                             "tok-ks,kr-submitter,7,approvers\n"
                             "tok-informer,informer,8,approvers\n";

/* ---- decision modules without a server ------------------------------------------ */

/* Condition `type` of obj's status ("status reason: message"), or "". */
static const char *condition_of(const json_t *obj, const char *type, char *buf, size_t len)
{
    size_t i;
    json_t *c;
    buf[0] = '\0';
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
    {
        if (strcmp(sub_str(c, "type"), type) == 0)
            snprintf(buf, len, "%s %s: %s", sub_str(c, "status"), sub_str(c, "reason"),
                     sub_str(c, "message"));
    }
    return buf;
}

static json_t *runnable(const char *submitter_name, int required, const char *group)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:{s:s, s:s, s:{s:s}}, s:{s:i, s:s}}, "
                     "s:{s:s, s:s}}",
                     "apiVersion", SUB_API_VERSION, "kind", "Runnable", "metadata", "name", "r",
                     "namespace", "default", "uid", "u-1", "spec", "template", "apiVersion",
                     "batch/v1", "kind", "Job", "metadata", "name", "job", "approval", "required",
                     required, "group", group, "status", "submittedBy", submitter_name, "phase",
                     SUB_PHASE_AWAITING);
}

START_TEST(spec_hash_is_canonical_and_ignores_the_idempotency_key)
{
    json_t *a = json_loads("{\"spec\":{\"template\":{\"kind\":\"Job\",\"apiVersion\":\"batch/v1\"},"
                           "\"clusters\":[\"dc1\"]}}",
                           0, NULL);
    json_t *b = json_loads("{\"spec\":{\"clusters\":[\"dc1\"],\"idempotencyKey\":\"k\","
                           "\"template\":{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\"}}}",
                           0, NULL);
    char ha[65], hb[65];
    ck_assert_int_eq(approval_spec_hash(a, ha), 0);
    ck_assert_int_eq(approval_spec_hash(b, hb), 0);
    ck_assert_uint_eq(strlen(ha), 64);
    ck_assert_str_eq(ha, hb);
    json_object_set_new(json_object_get(b, "spec"), "clusters", json_pack("[s]", "dc2"));
    ck_assert_int_eq(approval_spec_hash(b, hb), 0);
    ck_assert_str_ne(ha, hb);
    json_decref(a);
    json_decref(b);
}
END_TEST

START_TEST(approvals_count_distinct_members_of_the_current_spec)
{
    kr_token_file_t *t = NULL;
    ck_assert_int_eq(kr_token_file_parse(tokens, strlen(tokens), &t, NULL), 0);
    json_t *r = runnable("alice", 2, "approvers");
    kr_error_t err = {0};
    const kr_token_user *alice = kr_token_file_authenticate(t, "Bearer tok-alice");
    const kr_token_user *bob = kr_token_file_authenticate(t, "Bearer tok-bob");
    const kr_token_user *carol = kr_token_file_authenticate(t, "Bearer tok-carol");
    const kr_token_user *erin = kr_token_file_authenticate(t, "Bearer tok-erin");
    ck_assert_int_eq(approval_decide(r, alice, true, NULL, &err), 403);
    ck_assert_int_eq(approval_decide(r, erin, true, NULL, &err), 403);
    ck_assert_ptr_nonnull(strstr(err.message, "approvers"));
    ck_assert_int_eq(approval_decide(r, bob, true, NULL, &err), 200);
    ck_assert_int_eq(approval_decide(r, bob, true, NULL, &err), 200); /* once */
    char hash[65];
    approval_spec_hash(r, hash);
    ck_assert_uint_eq(approval_count(r, hash), 1);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_AWAITING);
    ck_assert_int_eq(approval_decide(r, carol, true, "0123", &err), 409); /* saw another spec */
    ck_assert_int_eq(approval_decide(r, carol, true, hash, &err), 200);
    ck_assert_uint_eq(approval_count(r, hash), 2);
    /* quorum, but nothing moves until both decisions are recorded */
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_AWAITING);
    ck_assert(approval_unrecorded(r));
    ck_assert(approval_mark_recorded(r, "bob", "Approved", hash));
    ck_assert(!approval_mark_recorded(r, "bob", "Approved", hash));
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_AWAITING);
    ck_assert(!approval_mark_recorded(r, "carol", "Rejected", hash));
    ck_assert(approval_mark_recorded(r, "carol", "Approved", hash));
    ck_assert(!approval_unrecorded(r));
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_DISPATCHING);
    /* a retried decision is answered as the first was, the runnable left
     * as it is; another decision once the quorum moved it on is a 409 */
    json_t *before = json_deep_copy(r);
    ck_assert_int_eq(approval_decide(r, bob, true, NULL, &err), 200);
    ck_assert_int_eq(approval_decide(r, carol, true, hash, &err), 200);
    ck_assert(json_equal(before, r));
    ck_assert_int_eq(approval_decide(r, bob, false, NULL, &err), 409);
    ck_assert_int_eq(approval_decide(r, carol, true, "0123", &err), 409);
    json_decref(before);
    /* a changed spec voids both, and the Approved condition says so */
    char cond[400], msg[300];
    ck_assert_str_eq(condition_of(r, SUB_CONDITION_APPROVED, cond, sizeof(cond)), "");
    char old_hash[65];
    memcpy(old_hash, hash, sizeof(hash));
    json_object_set_new(json_object_get(r, "spec"), "clusters", json_pack("[s]", "dc2"));
    approval_spec_hash(r, hash);
    ck_assert_uint_eq(approval_count(r, hash), 0);
    ck_assert_str_eq(approval_next_phase(r, hash), SUB_PHASE_AWAITING);
    ck_assert_uint_eq(approval_voided(r, old_hash, msg, sizeof(msg)), 0); /* not edited */
    ck_assert_uint_eq(approval_voided(r, hash, msg, sizeof(msg)), 2);
    ck_assert_msg(strstr(msg, "2 approvals given for the earlier spec no longer count; 0 of 2"),
                  "%s", msg);
    json_t *edited = json_deep_copy(r);
    approval_condition_update(edited, hash);
    condition_of(edited, SUB_CONDITION_APPROVED, cond, sizeof(cond));
    ck_assert_msg(strncmp(cond, "False SpecChanged: the spec changed", 35) == 0, "%s", cond);
    /* approved again, for the spec as it is now: the condition says so */
    json_object_set_new(json_object_get(edited, "status"), "phase",
                        json_string(SUB_PHASE_AWAITING));
    ck_assert_int_eq(approval_decide(edited, bob, true, NULL, &err), 200);
    ck_assert_int_eq(approval_decide(edited, carol, true, NULL, &err), 200);
    ck_assert(approval_mark_recorded(edited, "bob", "Approved", hash));
    condition_of(edited, SUB_CONDITION_APPROVED, cond, sizeof(cond));
    ck_assert_msg(strncmp(cond, "False SpecChanged", 17) == 0, "%s", cond);
    ck_assert(approval_mark_recorded(edited, "carol", "Approved", hash));
    ck_assert_str_eq(sub_str(edited, "status.phase"), SUB_PHASE_DISPATCHING);
    ck_assert_str_eq(condition_of(edited, SUB_CONDITION_APPROVED, cond, sizeof(cond)),
                     "True QuorumMet: 2 of 2 approvals for the spec as it is now");
    json_decref(edited);
    /* a decision that is the first to see the edit says it too */
    edited = json_deep_copy(r);
    json_object_set_new(json_object_get(edited, "status"), "phase",
                        json_string(SUB_PHASE_AWAITING));
    ck_assert_int_eq(approval_decide(edited, bob, true, NULL, &err), 200);
    condition_of(edited, SUB_CONDITION_APPROVED, cond, sizeof(cond));
    ck_assert_msg(strncmp(cond, "False SpecChanged", 17) == 0, "%s", cond);
    json_decref(edited);
    /* an entry of the submitter's own, however it got into the status
     * (written on the hub directly), never counts */
    json_array_append_new(json_object_get(json_object_get(r, "status"), "approvals"),
                          json_pack("{s:s, s:s, s:s, s:s}", "user", "alice", "decision", "Approved",
                                    "specHash", hash, "time", "2026-12-06T00:00:00Z"));
    ck_assert_uint_eq(approval_count(r, hash), 0);
    json_decref(r);
    /* hub-created: approval always required */
    r = runnable(SUB_UNKNOWN_SUBMITTER, 0, "");
    ck_assert_uint_eq(approval_required(r), 1);
    approval_spec_hash(r, hash);
    ck_assert_str_eq(approval_next_phase(r, hash), SUB_PHASE_AWAITING);
    ck_assert_int_eq(approval_decide(r, erin, false, NULL, &err), 200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_REJECTED);
    ck_assert_int_eq(approval_decide(r, bob, true, NULL, &err), 409); /* rejection ends it */
    /* the rejection retried is a 200 as an approval retried is, and
     * changes nothing; erin changing her mind, or bob rejecting too, is
     * not a retry: 409 */
    before = json_deep_copy(r);
    ck_assert_int_eq(approval_decide(r, erin, false, NULL, &err), 200);
    ck_assert(json_equal(before, r));
    ck_assert_int_eq(approval_decide(r, erin, true, NULL, &err), 409);
    ck_assert_int_eq(approval_decide(r, bob, false, NULL, &err), 409);
    ck_assert_ptr_nonnull(strstr(err.message, "Rejected"));
    json_decref(before);
    json_decref(r);
    kr_token_file_free(t);
}
END_TEST

/* Review finding: a runnable edited on the hub after its dispatch (the
 * edit is not applied to the running copy) showed the approvals of the
 * edited spec (0/1) in the CLI's table, while its copy ran on the spec
 * approved (1/1). The table shows the approvals of the spec the copy was
 * dispatched with, and the edited spec's after it, pending; while the
 * runnable waits, those of the spec as it is. */
START_TEST(the_approvals_shown_are_those_of_the_spec_that_runs)
{
    json_t *r = runnable("alice", 1, "approvers");
    json_t *st = json_object_get(r, "status");
    char hash[65], shown[64];
    ck_assert_int_eq(approval_spec_hash(r, hash), 0);
    json_object_set_new(st, "specHash", json_string(hash));
    approval_summary(r, shown, sizeof(shown));
    ck_assert_str_eq(shown, "0/1");
    json_object_set_new(
        st, "approvals",
        json_pack("[{s:s, s:s, s:s}]", "user", "bob", "decision", "Approved", "specHash", hash));
    approval_summary(r, shown, sizeof(shown));
    ck_assert_str_eq(shown, "1/1");
    json_object_set_new(st, "phase", json_string(SUB_PHASE_RUNNING));
    approval_summary(r, shown, sizeof(shown));
    ck_assert_str_eq(shown, "1/1");
    /* edited while it runs: the copy runs on the spec bob approved */
    json_object_set_new(json_object_get(r, "spec"), "failoverPolicy", json_string("Never"));
    approval_summary(r, shown, sizeof(shown));
    ck_assert_str_eq(shown, "1/1 (edited spec: 0/1)");
    /* back to waiting (an edit before any copy ran): the spec as it is */
    json_object_set_new(st, "phase", json_string(SUB_PHASE_AWAITING));
    approval_summary(r, shown, sizeof(shown));
    ck_assert_str_eq(shown, "0/1");
    json_decref(r);
}
END_TEST

/* Review finding: a runnable whose policy requires no approval showed
 * "0/0 (edited spec: 0/0)" in the CLI's table once its spec was edited
 * after the dispatch. None required is shown as "-", edited or not. */
START_TEST(a_runnable_that_needs_no_approval_shows_none)
{
    json_t *r = runnable("alice", 0, "approvers");
    json_t *st = json_object_get(r, "status");
    char hash[65], shown[64];
    ck_assert_int_eq(approval_spec_hash(r, hash), 0);
    approval_summary(r, shown, sizeof(shown));
    ck_assert_str_eq(shown, "-");
    json_object_set_new(st, "specHash", json_string(hash));
    json_object_set_new(st, "phase", json_string(SUB_PHASE_RUNNING));
    approval_summary(r, shown, sizeof(shown));
    ck_assert_str_eq(shown, "-");
    /* edited while it runs: still none required */
    json_object_set_new(json_object_get(r, "spec"), "failoverPolicy", json_string("Never"));
    approval_summary(r, shown, sizeof(shown));
    ck_assert_str_eq(shown, "-");
    json_decref(r);
}
END_TEST

START_TEST(idempotency_names_are_deterministic_dns_labels)
{
    char a[SUB_MAX_NAME + 1], b[SUB_MAX_NAME + 1], c[SUB_MAX_NAME + 1];
    ck_assert_int_eq(idempotency_name("My_Job.v2", "default", "key-1", a), 0);
    ck_assert_int_eq(idempotency_name("My_Job.v2", "default", "key-1", b), 0);
    ck_assert_int_eq(idempotency_name("My_Job.v2", "default", "key-2", c), 0);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_int_eq(strncmp(a, "my-job-v2-", 10), 0);
    char long_name[200];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    ck_assert_int_eq(idempotency_name(long_name, "ns", "k", a), 0);
    ck_assert_uint_le(strlen(a), SUB_MAX_NAME);
    ck_assert_int_eq(idempotency_name("---", "ns", "k", a), 0);
    ck_assert_int_eq(strncmp(a, "run-", 4), 0);
}
END_TEST

/* Why a copy ended, in its own words: a Job's condition of its outcome
 * (a Failed one that is False says nothing), a Pod's reason. */
START_TEST(an_outcome_has_the_reason_of_its_copy)
{
    const char *why, *text;
    json_t *job =
        json_pack("{s:{s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]}}", "status", "conditions", "type",
                  "Failed", "status", "False", "reason", "Nope", "type", "Complete", "status",
                  "True", "reason", "Done", "message", "all good");
    failover_outcome_reason(job, &why, &text);
    ck_assert_str_eq(why, "Done");
    ck_assert_str_eq(text, "all good");
    json_decref(job);
    json_t *pod = json_pack("{s:{s:s, s:s, s:s}}", "status", "phase", "Failed", "reason", "Evicted",
                            "message", "The node was low on memory.");
    failover_outcome_reason(pod, &why, &text);
    ck_assert_str_eq(why, "Evicted");
    ck_assert_str_eq(text, "The node was low on memory.");
    json_decref(pod);
    json_t *running = json_pack("{s:{s:i}}", "status", "active", 1);
    failover_outcome_reason(running, &why, &text);
    ck_assert_str_eq(why, "");
    ck_assert_str_eq(text, "");
    json_decref(running);
}
END_TEST

START_TEST(failover_rules)
{
    json_t *r = runnable("alice", 0, "");
    const char *configured[] = {"dc1", "dc2", "dc3"}, *order[3];
    ck_assert_uint_eq(failover_order(r, configured, 3, order, 3), 3);
    json_object_set_new(json_object_get(r, "spec"), "clusters",
                        json_pack("[s,s,s]", "dc3", "x", "dc1"));
    ck_assert_uint_eq(failover_order(r, configured, 3, order, 3), 2);
    ck_assert_str_eq(order[0], "dc3");
    ck_assert_str_eq(failover_next(r, order, 2, "dc3"), "dc1");
    ck_assert_ptr_null(failover_next(r, order, 2, "dc1"));
    ck_assert_ptr_null(failover_fallback(r)); /* no attempt: nothing to go back to */
    /* attempt 2 in dc2 refused for this spec: dc2 is skipped, attempt 1
     * (created in dc1, out of reach) is what the runnable goes back to */
    const char *three[] = {"dc1", "dc2", "dc3"};
    json_t *st = json_object_get(r, "status");
    json_object_set_new(st, "specHash", json_string("h1"));
    json_object_set_new(st, "attempt", json_integer(2));
    json_object_set_new(st, "attempts",
                        json_pack("[{s:i, s:s, s:s}, {s:i, s:s, s:s, s:s}]", "attempt", 1,
                                  "cluster", "dc1", "state", "Created", "attempt", 2, "cluster",
                                  "dc2", "state", "Refused", "specHash", "h1"));
    ck_assert(failover_refused(r, "dc2"));
    ck_assert(!failover_refused(r, "dc1"));
    ck_assert_str_eq(failover_next(r, three, 3, "dc1"), "dc3");
    ck_assert_ptr_null(failover_next(r, three, 2, "dc1"));
    ck_assert_int_eq(sub_int(failover_fallback(r), "attempt"), 1);
    ck_assert(failover_attempt_over("Refused") && failover_attempt_over("Deleted") &&
              failover_attempt_over("Stopped") && !failover_attempt_over("Created"));
    /* another spec: dc2 may take it */
    json_object_set_new(st, "specHash", json_string("h2"));
    ck_assert(!failover_refused(r, "dc2"));
    ck_assert_str_eq(failover_next(r, three, 3, "dc1"), "dc2");
    /* the current attempt is never its own fallback; an attempt over is none */
    json_object_set_new(st, "attempt", json_integer(1));
    ck_assert_ptr_null(failover_fallback(r));
    json_object_del(st, "attempts");
    json_object_del(st, "attempt");
    ck_assert(!failover_due(r, false, 0, 100000, 60000));
    ck_assert(!failover_due(r, false, 50000, 100000, 60000));
    ck_assert(failover_due(r, false, 40000, 100000, 60000));
    ck_assert(!failover_due(r, true, 40000, 100000, 60000)); /* started: never */
    json_object_set_new(json_object_get(r, "spec"), "failoverPolicy", json_string("Never"));
    ck_assert(!failover_due(r, false, 40000, 100000, 60000));
    json_decref(r);

    json_t *idle = json_pack("{s:{s:s}}", "metadata", "creationTimestamp", "2026-01-01T00:00:00Z");
    json_t *early = json_pack("{s:{s:s}}", "status", "startTime", "2026-01-01T00:00:01Z");
    json_t *late = json_pack("{s:{s:s}}", "status", "startTime", "2026-01-01T00:00:09Z");
    json_t *done = json_pack("{s:{s:[{s:s, s:s}]}}", "status", "conditions", "type", "Complete",
                             "status", "True");
    ck_assert(!failover_started(idle));
    ck_assert(failover_started(early));
    ck_assert(failover_started(done));
    ck_assert_str_eq(failover_outcome(done), SUB_PHASE_SUCCEEDED);
    ck_assert_ptr_null(failover_outcome(early));
    ck_assert_int_eq(failover_straggler(idle, early), STRAGGLER_DELETE);
    ck_assert_int_eq(failover_straggler(early, idle), STRAGGLER_ADOPT);
    ck_assert_int_eq(failover_straggler(early, NULL), STRAGGLER_ADOPT);
    ck_assert_int_eq(failover_straggler(late, early), STRAGGLER_STOP_IT);
    ck_assert_int_eq(failover_straggler(early, late), STRAGGLER_STOP_CURRENT);
    json_decref(idle);
    json_decref(early);
    json_decref(late);
    json_decref(done);

    /* a refusal says False once the runnable has ended, however it ended
     * (a cancel and a rejection are the API's writes), never before */
    json_t *status = json_pack("{s:s}", "phase", SUB_PHASE_DISPATCHED);
    sub_set_condition(status, SUB_CONDITION_CREATE_REFUSED, true, "CreateFailed", "refused");
    sub_status_settle(status);
    json_t *shell = json_pack("{s:O}", "status", status);
    ck_assert(sub_condition_true(shell, SUB_CONDITION_CREATE_REFUSED));
    json_object_set_new(status, "phase", json_string(SUB_PHASE_CANCELLED));
    sub_status_settle(status);
    char cond[300];
    condition_of(shell, SUB_CONDITION_CREATE_REFUSED, cond, sizeof(cond));
    ck_assert_msg(strncmp(cond, "False Cancelled: the runnable is Cancelled", 42) == 0, "%s", cond);
    json_decref(shell);
    json_decref(status);
}
END_TEST

/* The verdict on a cluster runs from the first failed request's send, not
 * from when it gave up: a GET retried for 7 s against a dead cluster still
 * fails the cluster over at 2 s (injected times). */
static int woken;

static void count_wake(const char *namespace_, const char *name, void *user)
{
    (void)namespace_;
    (void)name;
    (void)user;
    woken++;
}

static json_t *event_obj(const char *rv, const char *phase)
{
    json_t *o = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "namespace", "default", "name", "x",
                          "resourceVersion", rv);
    if (phase)
        json_object_set_new(o, "status", json_pack("{s:s}", "phase", phase));
    return o;
}

/* The events that would wake a reconcile with nothing to do are dropped:
 * the echo of our own last write (unless a reconcile waits for it) and the
 * creation of a Runnable the API is admitting; everything else passes. */
START_TEST(own_echoes_and_admitted_creations_wake_nobody)
{
    submitter s = {.wake = count_wake};
    ck_assert_int_eq(submitter_init(&s, NULL), 0);
    json_t *v4 = event_obj("4", "Dispatching"), *v5 = event_obj("5", "Dispatched");
    json_t *bare = event_obj("3", NULL);
    ck_assert(submitter_event_wanted(v4, v5, &s)); /* nothing written by us */
    json_object_set_new(s.expected, "default/x", json_pack("{s:s, s:b}", "rv", "5", "waited", 0));
    ck_assert(!submitter_event_wanted(v4, v5, &s)); /* our write's echo */
    ck_assert_ptr_null(json_object_get(s.expected, "default/x")); /* and forgotten */
    json_object_set_new(s.expected, "default/x", json_pack("{s:s, s:b}", "rv", "5", "waited", 1));
    ck_assert(submitter_event_wanted(v4, v5, &s)); /* a reconcile waits for it */
    json_object_set_new(s.expected, "default/x", json_pack("{s:s, s:b}", "rv", "6", "waited", 0));
    ck_assert(submitter_event_wanted(v4, v5, &s)); /* not our last write */
    ck_assert(submitter_event_wanted(NULL, bare, &s)); /* created, nobody admits it */
    submitter_admit_begin(&s, "default", "x");
    ck_assert(!submitter_event_wanted(NULL, bare, &s));
    ck_assert(submitter_event_wanted(NULL, v5, &s)); /* has a status: looked at */
    submitter_admit_end(&s, "default", "x", true);
    ck_assert_int_eq(woken, 0); /* the admission's event wakes it */
    ck_assert(submitter_event_wanted(NULL, bare, &s));
    submitter_admit_begin(&s, "default", "x");
    submitter_admit_end(&s, "default", "x", false);
    ck_assert_int_eq(woken, 1); /* not admitted: woken now */
    json_decref(v4);
    json_decref(v5);
    json_decref(bare);
    submitter_destroy(&s);
}
END_TEST

/* An inventory error reaches a caller named after the inventory once (a
 * history call read "inventory: inventory: postgresql ..."). */
START_TEST(an_inventory_error_is_named_once)
{
    char buf[256];
    submitter_inventory_error("inventory: postgresql reconnect (db): gone (retry later)", buf,
                              sizeof(buf));
    ck_assert_str_eq(buf, "inventory: postgresql reconnect (db): gone (retry later)");
    submitter_inventory_error("out of memory", buf, sizeof(buf));
    ck_assert_str_eq(buf, "inventory: out of memory");
}
END_TEST

START_TEST(health_runs_from_the_first_failed_send)
{
    json_t *r = runnable("alice", 0, "");
    failover_health h = {0};
    const uint64_t after = 2000;
    ck_assert(failover_probe_claim(&h, 1000, 500)); /* nobody asked yet */
    ck_assert(!failover_probe_claim(&h, 1200, 500)); /* one prober per interval */
    failover_health_report(&h, 1000, 1005, true);
    ck_assert_uint_eq(h.down_since_ms, 0);
    /* dc goes down at 1100: a slow request sent at 1100 fails at 8100 */
    failover_health_report(&h, 1100, 8100, false);
    ck_assert_uint_eq(h.down_since_ms, 1100);
    ck_assert(failover_due(r, false, h.down_since_ms, 3100, after));
    ck_assert(!failover_due(r, false, h.down_since_ms, 3099, after));
    /* a later failure keeps the first send */
    failover_health_report(&h, 2000, 2001, false);
    ck_assert_uint_eq(h.down_since_ms, 1100);
    /* known down until the latest failed send only: a verdict from before
     * the delay ended (1100 + 2000) fails nothing over */
    ck_assert_uint_eq(h.failed_sent_ms, 2000);
    ck_assert(!failover_due(r, false, h.down_since_ms, h.failed_sent_ms, after));
    failover_health_report(&h, 3100, 3102, false);
    ck_assert_uint_eq(h.failed_sent_ms, 3100);
    ck_assert(failover_due(r, false, h.down_since_ms, h.failed_sent_ms, after));
    ck_assert_uint_eq(h.probed_ms, 8100);
    ck_assert(!failover_probe_claim(&h, 8200, 500));
    ck_assert(failover_probe_claim(&h, 8600, 500));
    /* any answer clears it: a 404 or a 429 come from a reachable server */
    failover_health_report(&h, 8600, 8601, true);
    ck_assert_uint_eq(h.down_since_ms, 0);
    ck_assert(!failover_due(r, false, h.down_since_ms, 20000, after));
    ck_assert(failover_unreachable_rc(KR_EUNAVAILABLE) && failover_unreachable_rc(KR_ECONNECT) &&
              failover_unreachable_rc(KR_ETIMEDOUT));
    ck_assert(!failover_unreachable_rc(KR_ENOTFOUND) && !failover_unreachable_rc(KR_ETHROTTLED) &&
              !failover_unreachable_rc(0));
    json_decref(r);
}
END_TEST

/* ---- a hub and two workload clusters ----------------------------------------------- */

typedef struct env {
    kr_runtime_t *rt;
    kr_testserver_t *hub_ts, *dc_ts[3];
    kr_rest_config hub_cfg, dc_cfg[3];
    kr_client_t *hub, *dc[3];
    kr_informer_t *runnables;
    kr_informer_t *copies[3]; /* Jobs with our label, per workload cluster */
    /* copies of other kinds, made on first use as the program's factory
     * makes them: {cluster, resource, informer} */
    struct {
        size_t cluster;
        char resource[128];
        kr_informer_t *informer;
    } others[8];
    size_t n_others;
    sub_cluster clusters[3];
    submitter s;
    kr_token_file_t *auth;
    kr_event_recorder_t *recorder; /* Events about Runnables, on the hub */
    api api;
    atomic_llong now_ns;
    pthread_mutex_t mu;
    char events[64][160];
    char outcomes[64][200]; /* each event's outcome */
    size_t n_events;
    int soak_succeeded[1000]; /* SUCCEEDED events per soak-NNN */
    int failovers;
    /* fault injection at a hook point */
    sub_hook_point down_at;
    bool down_done;
    /* the controller runs between an approval's write and its record */
    bool reconcile_in_record;
    /* ...and during the API's record of a submission, past the grace */
    bool reconcile_in_submitted;
    bool not_leading; /* the epoch callback says KR_ESTATE */
    atomic_int term; /* added to the epoch callback's term */
    bool new_term_at_decision; /* the hook after a decision starts a term */
    /* the hook after a decision in dc2 reads the runnable: a Verified
     * condition said True for an attempt not verified */
    bool check_verified_at_decision;
    _Atomic int verified_too_early;
    /* dc2's informer stops when a VERIFIED is recorded: its cache keeps
     * the held copy, never the release */
    bool freeze_dc2_on_verified;
    /* the hook after a create edits Runnable kc's template to a ConfigMap
     * (once): the create's Dispatched write meets the edit's 409 */
    bool edit_kind_after_create;
    atomic_bool records_down; /* decisions cannot be recorded */
    /* another replica's API (carol approving) while the record of bob's
     * approval is on its way (one shot) */
    api *carol_in_record;
    json_t *keys; /* the record keys seen */
} env;

static env E;
/* Seeds the servers' fault injection (0: fixed seeds). */
static unsigned long env_seed;

static int64_t fake_now(void *user)
{
    return atomic_load(&((env *)user)->now_ns);
}

static void advance_ms(uint64_t ms)
{
    atomic_fetch_add(&E.now_ns, (long long)ms * 1000000);
}

static int on_record(const sub_event *ev, void *user)
{
    env *e = user;
    /* the inventory down: decisions are refused (and not in the list) */
    if (atomic_load(&e->records_down) && ev->key)
        return KR_EUNAVAILABLE;
    if (e->reconcile_in_record && strcmp(ev->event, "APPROVED") == 0) {
        /* the approval is written and in the cache; its record is not in yet */
        ck_assert_int_eq(kr_informer_wait_for_resource_version(e->runnables, ev->resource_version,
                                                               WAIT_MS, NULL),
                         0);
        for (int i = 0; i < 20; i++) {
            uint64_t after = 0;
            submitter_reconcile(&e->s, ev->namespace_, ev->name, &after, NULL);
        }
    }
    if (e->carol_in_record && strcmp(ev->event, "APPROVED") == 0 && strcmp(ev->actor, "bob") == 0) {
        /* bob's approval is on the hub, its record not in yet: carol
         * approves through the other replica, whose API finds the cache
         * behind (409), reads the hub and writes after bob */
        api *other = e->carol_in_record;
        e->carol_in_record = NULL;
        char path[300];
        snprintf(path, sizeof(path), "/api/v1/runnables/%s/%s/approve", ev->namespace_, ev->name);
        api_request req = {.method = "POST", .path = path, .authorization = "Bearer tok-carol"};
        api_response resp = {0};
        api_handle(other, &req, &resp);
        ck_assert_msg(resp.status == 200, "%d %s", resp.status, sub_str(resp.body, "error"));
        json_decref(resp.body);
    }
    if (e->reconcile_in_submitted && strcmp(ev->event, "SUBMITTED") == 0 &&
        strcmp(ev->actor, SUB_PROGRAM) != 0) {
        /* the Runnable is in the cache without a status, and the record
         * (the inventory slow) outlasts the admission grace */
        ck_assert_int_eq(kr_informer_wait_for_resource_version(e->runnables, ev->resource_version,
                                                               WAIT_MS, NULL),
                         0);
        for (int i = 0; i < 30; i++) {
            uint64_t after = 0;
            submitter_reconcile(&e->s, ev->namespace_, ev->name, &after, NULL);
            struct timespec pace = {0, 50000000};
            nanosleep(&pace, NULL);
        }
    }
    /* a decision is about the hub's Runnable: a resourceVersion it names
     * is the hub's, never paired with a workload cluster */
    if ((strcmp(ev->event, "APPROVED") == 0 || strcmp(ev->event, "REJECTED") == 0 ||
         strcmp(ev->event, "CANCELLED") == 0) &&
        ev->resource_version && *ev->resource_version)
        ck_assert_msg(!ev->cluster || !*ev->cluster, "%s of %s: the hub's resourceVersion %s in %s",
                      ev->event, ev->name, ev->resource_version, ev->cluster);
    /* a record of the hub's Runnable (no workload cluster) names the
     * resourceVersion of the Runnable it talks about, as every record of
     * a workload copy names the copy's */
    ck_assert_msg((ev->cluster && *ev->cluster) || (ev->resource_version && *ev->resource_version),
                  "%s of %s by %s names the hub without a resourceVersion (%s)", ev->event,
                  ev->name, ev->actor, ev->outcome);
    /* the books say which state of the copy it was judged on */
    if (strcmp(ev->event, "SUCCEEDED") == 0)
        ck_assert_msg(ev->resource_version && *ev->resource_version,
                      "SUCCEEDED of %s without the copy's resourceVersion", ev->name);
    if (e->freeze_dc2_on_verified && strcmp(ev->event, "VERIFIED") == 0)
        kr_informer_stop(e->copies[1]);
    pthread_mutex_lock(&e->mu);
    if (strncmp(ev->name, "soak-", 5) == 0) {
        int i = atoi(ev->name + 5);
        if (strcmp(ev->event, "SUCCEEDED") == 0 && i >= 0 && i < 1000)
            e->soak_succeeded[i]++;
        e->failovers += strcmp(ev->event, "FAILED_OVER") == 0;
    }
    /* a key recorded before is a no-op, as in the inventory */
    if (ev->key && json_object_get(e->keys, ev->key)) {
        pthread_mutex_unlock(&e->mu);
        return 0;
    }
    if (ev->key)
        json_object_set_new(e->keys, ev->key, json_true());
    if (e->n_events < 64) {
        snprintf(e->outcomes[e->n_events], sizeof(e->outcomes[0]), "%s", ev->outcome);
        snprintf(e->events[e->n_events++], sizeof(e->events[0]), "%s %s %s %s%s%s", ev->event,
                 ev->name, ev->actor, ev->cluster, *ev->resource_version ? " rv=" : "",
                 ev->resource_version);
    }
    pthread_mutex_unlock(&e->mu);
    return 0;
}

static void dc_down(int i, bool down)
{
    kr_testserver_faults f = {.fail_503 = down ? 1.0 : 0.0};
    kr_testserver_set_faults(E.dc_ts[i], &f);
    if (down)
        kr_testserver_close_watches(E.dc_ts[i]);
}

static void edit_template(const char *name, json_t *patch);

static void on_hook(sub_hook_point point, const char *cluster, void *user)
{
    env *e = user;
    if (point == SUB_HOOK_AFTER_CREATE && e->edit_kind_after_create) {
        e->edit_kind_after_create = false;
        edit_template("kc",
                      json_pack("{s:{s:{s:s, s:s, s:n, s:{s:s}}}}", "spec", "template",
                                "apiVersion", "v1", "kind", "ConfigMap", "spec", "data", "a", "b"));
    }
    if (point == SUB_HOOK_AFTER_DECISION && e->new_term_at_decision)
        atomic_fetch_add(&e->term, 1); /* lost and won back meanwhile */
    if (point == SUB_HOOK_AFTER_DECISION && e->check_verified_at_decision &&
        strcmp(cluster, "dc2") == 0) {
        json_t *o = NULL;
        ck_assert_int_eq(kr_client_get(e->hub, SUB_RUNNABLES, "default", "vc", &o, NULL), 0);
        if (!json_is_true(json_object_get(json_object_get(o, "status"), "verified")) &&
            sub_condition_true(o, "Verified"))
            atomic_fetch_add(&e->verified_too_early, 1);
        json_decref(o);
    }
    if (point == SUB_HOOK_AFTER_DECISION && e->down_at && strcmp(cluster, "dc1") == 0) {
        /* the decision is on the hub before anything is created */
        json_t *o = NULL;
        ck_assert_int_eq(kr_client_get(e->hub, SUB_RUNNABLES, "default", "fo", &o, NULL), 0);
        ck_assert_str_eq(sub_str(o, "status.cluster"), "dc1");
        ck_assert_int_eq(sub_int(o, "status.attempt"), 1);
        json_decref(o);
        if (!e->down_done)
            ck_assert_int_eq(kr_client_get(e->dc[0], JOBS, "default", "fo-1", NULL, NULL),
                             KR_ENOTFOUND);
    }
    if (point == e->down_at && !e->down_done && strcmp(cluster, "dc1") == 0) {
        e->down_done = true;
        dc_down(0, true);
    }
}

/* Start the cache of our copies (Jobs with our labels) in cluster dc. */
static void copies_start(int dc)
{
    kr_informer_opts co = {.client = E.dc[dc],
                           .resource = JOBS,
                           .label_selector = SUB_MANAGED_SELECTOR,
                           .backoff_initial_ms = 5,
                           .backoff_max_ms = 100};
    ck_assert_int_eq(kr_informer_new(&co, &E.copies[dc], NULL), 0);
    ck_assert_int_eq(kr_informer_start(E.copies[dc], NULL), 0);
}

/* Jobs come from the caches the tests start (and stop); a copy of any
 * other kind from one made on first use, as the program's factory does. */
static int informer_for(size_t cluster, kr_gvr gvr, kr_informer_t **out, kr_error_t *err,
                        void *user)
{
    env *e = user;
    if (strcmp(gvr.group, "batch") == 0 && strcmp(gvr.resource, "jobs") == 0) {
        *out = e->copies[cluster];
        return 0;
    }
    char resource[128];
    snprintf(resource, sizeof(resource), "%s/%s/%s", gvr.group, gvr.version, gvr.resource);
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->n_others; i++) {
        if (e->others[i].cluster == cluster && strcmp(e->others[i].resource, resource) == 0) {
            *out = e->others[i].informer;
            pthread_mutex_unlock(&e->mu);
            return 0;
        }
    }
    int rc = KR_ENOMEM;
    if (e->n_others < sizeof(e->others) / sizeof(e->others[0])) {
        kr_informer_opts co = {.client = e->dc[cluster],
                               .resource = gvr,
                               .label_selector = SUB_MANAGED_SELECTOR,
                               .backoff_initial_ms = 5,
                               .backoff_max_ms = 100};
        rc = kr_informer_new(&co, out, err);
        if (rc == 0 && (rc = kr_informer_start(*out, err)) != 0)
            kr_informer_free(*out);
        if (rc == 0) {
            e->others[e->n_others].cluster = cluster;
            snprintf(e->others[e->n_others].resource, sizeof(e->others[0].resource), "%s",
                     resource);
            e->others[e->n_others++].informer = *out;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

static void server_up(kr_testserver_t **ts, kr_rest_config *cfg, kr_client_t **c,
                      unsigned long seed)
{
    kr_testserver_opts o = {.seed = seed, .bookmark_interval_ms = 100};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, ts, &err) == 0, "%s", err.message);
    memset(cfg, 0, sizeof(*cfg));
    cfg->server = (char *)kr_testserver_url(*ts);
    cfg->qps = -1;
    cfg->timeout_ms = 5000;
    kr_client_opts co = {.backoff_base_ms = 5, .backoff_max_ms = 20, .max_retries = 1};
    ck_assert_msg(kr_client_new(E.rt, cfg, &co, c, &err) == 0, "%s", err.message);
}

/* Workload clusters env_up makes: dc1, dc2 (and dc3 when a test sets 3
 * before env_up; env_down sets it back). */
static int env_clusters = 2;

static void env_up(void)
{
    memset(&E, 0, sizeof(E));
    /* every replica of the test, as every replica given one key file */
    static const char key[] = "the key every replica of the test seals decisions with";
    approval_seal_key((const unsigned char *)key, sizeof(key) - 1);
    pthread_mutex_init(&E.mu, NULL);
    E.keys = json_object();
    atomic_store(&E.now_ns, 1000000000LL);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_runtime_new(NULL, &E.rt, NULL), 0);
    ck_assert_int_eq(kr_runtime_start(E.rt, NULL), 0);
    server_up(&E.hub_ts, &E.hub_cfg, &E.hub, env_seed + 1);
    server_up(&E.dc_ts[0], &E.dc_cfg[0], &E.dc[0], env_seed + 2);
    server_up(&E.dc_ts[1], &E.dc_cfg[1], &E.dc[1], env_seed + 3);
    if (env_clusters > 2)
        server_up(&E.dc_ts[2], &E.dc_cfg[2], &E.dc[2], env_seed + 4);
    char path[4096];
    char *crd = kr_test_read_file(kr_test_src_path(path, sizeof(path), "deploy/crds"),
                                  "runnables.kreconcile.io.yaml");
    ck_assert_ptr_nonnull(crd);
    ck_assert_msg(kr_testserver_load(E.hub_ts, crd, strlen(crd), &err) == 0, "%s", err.message);
    free(crd);
    kr_informer_opts io = {
        .client = E.hub, .resource = SUB_RUNNABLES, .backoff_initial_ms = 5, .backoff_max_ms = 50};
    ck_assert_msg(kr_informer_new(&io, &E.runnables, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_informer_start(E.runnables, NULL), 0);
    ck_assert_msg(kr_informer_wait_for_sync(E.runnables, WAIT_MS, &err) == 0, "%s", err.message);
    const char *names[] = {"dc1", "dc2", "dc3"};
    for (int i = 0; i < env_clusters; i++) {
        E.clusters[i].name = names[i];
        E.clusters[i].client = E.dc[i];
        copies_start(i);
    }
    E.s.hub = E.hub;
    E.s.hub_name = "hub";
    E.s.runnables = E.runnables;
    E.s.clusters = E.clusters;
    E.s.n_clusters = (size_t)env_clusters;
    E.s.informer_for = informer_for;
    E.s.informer_for_user = &E;
    E.s.failover_after_ms = FAILOVER_MS;
    E.s.admit_grace_ms = 1;
    E.s.clock = (kr_clock){fake_now, &E};
    E.s.record = on_record;
    E.s.record_user = &E;
    E.s.hook = on_hook;
    E.s.hook_user = &E;
    kr_event_recorder_opts eo = {.client = E.hub, .component = "kr-submitter"};
    ck_assert_int_eq(kr_event_recorder_new(&eo, &E.recorder, NULL), 0);
    E.s.events = E.recorder;
    ck_assert_int_eq(submitter_init(&E.s, NULL), 0);
    ck_assert_int_eq(kr_token_file_parse(tokens, strlen(tokens), &E.auth, NULL), 0);
    E.api.s = &E.s;
    E.api.auth = E.auth;
    E.api.dry_run = true; /* as the program's default */
    E.s.dry_run = true;
}

static void env_down(void)
{
    for (int i = 0; i < env_clusters; i++)
        kr_informer_free(E.copies[i]);
    for (size_t i = 0; i < E.n_others; i++)
        kr_informer_free(E.others[i].informer);
    kr_informer_free(E.runnables);
    kr_event_recorder_free(E.recorder);
    for (int i = 0; i < env_clusters; i++)
        kr_client_free(E.dc[i]);
    kr_client_free(E.hub);
    kr_runtime_free(E.rt);
    for (int i = 0; i < env_clusters; i++)
        kr_testserver_free(E.dc_ts[i]);
    env_clusters = 2;
    kr_testserver_free(E.hub_ts);
    kr_token_file_free(E.auth);
    submitter_destroy(&E.s);
    pthread_mutex_destroy(&E.mu);
    json_decref(E.keys);
}

/* One API call; the response body is kept in *out (new) when out is set. */
static int call(const char *method, const char *path, const char *token, const char *body,
                const char *query_key, json_t **out)
{
    char auth[128];
    snprintf(auth, sizeof(auth), "Bearer %s", token ? token : "");
    api_request req = {.method = method,
                       .path = path,
                       .authorization = token ? auth : NULL,
                       .body = body,
                       .body_len = body ? strlen(body) : 0,
                       .q_idempotency_key = query_key};
    api_response resp = {0};
    api_handle(&E.api, &req, &resp);
    if (out)
        *out = resp.body;
    else
        json_decref(resp.body);
    return resp.status;
}

static char *job_runnable(const char *name, int required, const char *clusters)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata:\n  name: %s\n"
             "spec:\n  clusters: [%s]\n  approval: {required: %d, group: approvers}\n"
             "  template:\n    apiVersion: batch/v1\n    kind: Job\n    metadata: {name: work}\n"
             "    spec:\n      template:\n        spec:\n          restartPolicy: Never\n"
             "          containers: [{name: c, image: busybox}]\n",
             name, clusters, required);
    return buf;
}

static json_t *cached_in(const char *namespace_, const char *name)
{
    return kr_store_get_by_name(kr_informer_store(E.runnables), namespace_, name);
}

static json_t *cached(const char *name)
{
    return cached_in("default", name);
}

/* Reconcile until `phase` (and, when set, the verified flag) in `cluster`
 * (NULL: any), like the controller would on every event; false at the
 * deadline. */
static bool reconcile_until_at(const char *namespace_, const char *name, const char *cluster,
                               const char *phase, bool verified)
{
    struct timespec start, now, pace = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        uint64_t after = 0;
        kr_error_t err = {0};
        submitter_reconcile(&E.s, namespace_, name, &after, &err);
        json_t *o = cached_in(namespace_, name);
        bool ok =
            o && strcmp(sub_str(o, "status.phase"), phase) == 0 &&
            (!cluster || strcmp(sub_str(o, "status.cluster"), cluster) == 0) &&
            (!verified || json_is_true(json_object_get(json_object_get(o, "status"), "verified")));
        json_decref(o);
        if (ok)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((uint64_t)(now.tv_sec - start.tv_sec) * 1000 > WAIT_MS)
            return false;
        nanosleep(&pace, NULL);
    }
}

static bool reconcile_until_in(const char *name, const char *cluster, const char *phase,
                               bool verified)
{
    return reconcile_until_at("default", name, cluster, phase, verified);
}

static bool reconcile_until(const char *name, const char *phase, bool verified)
{
    return reconcile_until_in(name, NULL, phase, verified);
}

/* Set the status (stolen) of Job namespace_/name in cluster dc, as the
 * cluster's job controller would. */
static void set_job_status_in(int dc, const char *namespace_, const char *name, json_t *status)
{
    json_t *job = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_client_get(E.dc[dc], JOBS, namespace_, name, &job, &err) == 0, "%s",
                  err.message);
    json_object_set_new(job, "status", status);
    ck_assert_msg(kr_client_update_status(E.dc[dc], JOBS, namespace_, job, NULL, NULL, &err) == 0,
                  "%s", err.message);
    json_decref(job);
}

static void set_job_status(int dc, const char *name, json_t *status)
{
    set_job_status_in(dc, "default", name, status);
}

static void mark_job_in(int dc, const char *namespace_, const char *name, const char *type)
{
    set_job_status_in(dc, namespace_, name,
                      json_pack("{s:s, s:[{s:s, s:s}]}", "startTime", "2026-01-01T00:00:00Z",
                                "conditions", "type", type, "status", "True"));
}

static void mark_job(int dc, const char *name, const char *type)
{
    mark_job_in(dc, "default", name, type);
}

static bool job_exists(int dc, const char *name)
{
    int rc = kr_client_get(E.dc[dc], JOBS, "default", name, NULL, NULL);
    ck_assert(rc == 0 || rc == KR_ENOTFOUND);
    return rc == 0;
}

/* The recorded events are `want`, in order; an event starting with `optional`
 * (may be NULL) may appear in addition. */
static void assert_events_but(const char *const *want, size_t n, const char *optional)
{
    pthread_mutex_lock(&E.mu);
    char all[64 * 164] = "";
    size_t got = 0;
    for (size_t i = 0; i < E.n_events; i++) {
        strcat(all, E.events[i]);
        strcat(all, "; ");
    }
    for (size_t i = 0; i < E.n_events; i++) {
        if (optional && strncmp(E.events[i], optional, strlen(optional)) == 0)
            continue;
        ck_assert_msg(got < n && strncmp(E.events[i], want[got], strlen(want[got])) == 0,
                      "event %zu: %s", i, all);
        got++;
    }
    ck_assert_msg(got == n, "events: %s", all);
    pthread_mutex_unlock(&E.mu);
}

static void assert_events(const char *const *want, size_t n)
{
    assert_events_but(want, n, NULL);
}

/* Set the Runnable's status.dispatchedResourceVersion, as another replica's
 * write would, and wait until the cache has it. */
/* Write `fields` (stolen) into Runnable `name`'s status on the hub, as
 * someone who may write it would, and wait for the cache to hold it. */
static void set_status(const char *name, json_t *fields)
{
    json_t *o = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", name, &o, NULL), 0);
    json_object_update(json_object_get(o, "status"), fields);
    kr_error_t err = {0};
    ck_assert_msg(kr_client_update_status(E.hub, SUB_RUNNABLES, "default", o, NULL, NULL, &err) ==
                      0,
                  "%s", err.message);
    json_decref(o);
    for (int i = 0; i < 1000; i++) {
        json_t *c = cached(name);
        const char *key;
        json_t *v;
        bool seen = true;
        json_object_foreach(fields, key, v)
        {
            seen = seen && json_equal(v, json_object_get(json_object_get(c, "status"), key));
        }
        json_decref(c);
        if (seen) {
            json_decref(fields);
            return;
        }
        wait_pace();
    }
    ck_abort_msg("the cache never held the status written for %s", name);
}

static void set_dispatched_rv(const char *name, const char *rv)
{
    set_status(name, json_pack("{s:s}", "dispatchedResourceVersion", rv));
}

/* A copy absent from this replica's cache is deleted only once that cache
 * has observed the create: a replica paused past its Lease, resumed while
 * another dispatched and verified, must not fail the runnable. Here the
 * cache is stopped before the create (it stays synced, behind it) and the
 * verification is written as the other replica would; the cluster, past
 * the create, says the cache is merely behind. */
START_TEST(a_copy_absent_from_a_cache_behind_its_create_is_not_deleted)
{
    env_up();
    kr_informer_stop(E.copies[0]);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("lag", 0, "dc1"), NULL, NULL),
        201);
    ck_assert(reconcile_until("lag", SUB_PHASE_DISPATCHED, false));
    ck_assert(job_exists(0, "lag-1"));
    set_status("lag", json_pack("{s:b}", "verified", 1));
    /* the copy goes; this cache never saw it come */
    ck_assert_int_eq(kr_client_delete(E.dc[0], JOBS, "default", "lag-1", NULL, NULL, NULL), 0);
    for (int i = 0; i < 5; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "lag", &after, NULL);
    }
    json_t *o = cached("lag");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_DISPATCHED);
    json_decref(o);
    /* once the cache has seen past the create, absence is a delete */
    copies_restart(0);
    ck_assert(reconcile_until("lag", SUB_PHASE_FAILED, false));
    env_down();
}
END_TEST

/* Review finding: while a cluster's cache had not observed the creates,
 * every follow of every runnable placed there sent a LIST to the cluster
 * (is it before the create?): N LISTs a second during a lagging watch,
 * in the very 429/5xx bursts that make it lag. One answer per cluster
 * and interval is shared by all of them. The lagging cache here is one of
 * an empty server of its own (synced, it never sees the creates), while
 * the submitter's requests go to dc1. */
START_TEST(a_lagging_cache_costs_one_list_per_cluster_and_interval)
{
    enum { N = 6, ROUNDS = 4 };
    env_up();
    char names[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "lagging-%d", i);
        ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                              job_runnable(names[i], 0, "dc1"), NULL, NULL),
                         201);
        ck_assert(reconcile_until(names[i], SUB_PHASE_DISPATCHED, true));
    }
    kr_testserver_t *lag_ts;
    kr_rest_config lag_cfg;
    kr_client_t *lag, *real = E.dc[0];
    server_up(&lag_ts, &lag_cfg, &lag, env_seed + 9);
    E.clusters[0].fast = real;
    E.dc[0] = lag;
    copies_restart(0);
    kr_testserver_reset_requests(E.dc_ts[0]);
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < N; i++) {
            uint64_t after = 0;
            submitter_reconcile(&E.s, "default", names[i], &after, NULL);
        }
    json_t *req = kr_testserver_requests(E.dc_ts[0]);
    json_int_t lists = json_integer_value(json_object_get(req, "list jobs"));
    json_decref(req);
    ck_assert_msg(lists == 1, "%lld LISTs for %d follows of %d runnables", (long long)lists,
                  N * ROUNDS, N);
    /* the next interval: one more */
    advance_ms(5000);
    for (int i = 0; i < N; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", names[i], &after, NULL);
    }
    req = kr_testserver_requests(E.dc_ts[0]);
    lists = json_integer_value(json_object_get(req, "list jobs"));
    json_decref(req);
    ck_assert_msg(lists == 2, "%lld LISTs in two intervals", (long long)lists);
    for (int i = 0; i < N; i++) {
        json_t *o = cached(names[i]);
        ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_DISPATCHED);
        json_decref(o);
    }
    E.dc[0] = real;
    E.clusters[0].fast = NULL;
    copies_restart(0);
    kr_client_free(lag);
    kr_testserver_free(lag_ts);
    env_down();
}
END_TEST

/* Verified means observed: a create whose resourceVersion the cluster's
 * cache has not reached is not verified, however often it is looked at;
 * once the cache is past it, it is. */
START_TEST(a_create_the_cache_has_not_observed_is_not_verified)
{
    env_up();
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("unseen", 0, "dc1"), NULL, NULL),
                     201);
    ck_assert(reconcile_until("unseen", SUB_PHASE_DISPATCHED, false));
    json_t *o = cached("unseen");
    char dispatched[32];
    snprintf(dispatched, sizeof(dispatched), "%s", sub_str(o, "status.dispatchedResourceVersion"));
    json_decref(o);
    /* as if the create had returned a resourceVersion the cache is behind */
    set_status("unseen",
               json_pack("{s:b, s:s}", "verified", 0, "dispatchedResourceVersion", "999999999"));
    for (int i = 0; i < 5; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "unseen", &after, NULL);
    }
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "unseen", &o, NULL), 0);
    ck_assert_msg(!json_is_true(json_object_get(json_object_get(o, "status"), "verified")),
                  "verified before the cluster's cache observed the create");
    json_decref(o);
    set_dispatched_rv("unseen", dispatched);
    ck_assert(reconcile_until("unseen", SUB_PHASE_DISPATCHED, true));
    env_down();
}
END_TEST

/* A cluster made anew (or restored from a backup) answers with
 * resourceVersions below those its old incarnation gave, which a cache
 * still holds until it lists again: a create there is verified only once
 * the cache holds the copy, never because the cache's last resourceVersion
 * is past the create's. Here dc1's cache is stopped before its server is
 * made anew, so it lists the new one only once it is started again. */
/* dc1 made anew at the same address: its old incarnation's
 * resourceVersions pushed well past the new one's, its copies' cache
 * stopped (a cache of the old one), E.dc[0] a client of the new one (the
 * old client in *old_client, to free once nothing uses it); *old_rv: the
 * old incarnation's last resourceVersion. */
static void dc1_made_anew(unsigned long long *old_rv_out, kr_client_t **old_client_out)
{
    /* the old incarnation's resourceVersions well past the new one's */
    for (int i = 0; i < 40; i++) {
        char ns[128];
        snprintf(
            ns, sizeof(ns),
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"old-%d\"}}", i);
        ck_assert_int_eq(kr_testserver_load(E.dc_ts[0], ns, strlen(ns), NULL), 0);
    }
    unsigned long long old_rv = kr_testserver_resource_version(E.dc_ts[0]);
    char want[32];
    snprintf(want, sizeof(want), "%llu", old_rv);
    ck_assert_int_eq(kr_informer_wait_for_resource_version(E.copies[0], want, WAIT_MS, NULL), 0);
    kr_informer_stop(E.copies[0]);
    unsigned short port = kr_testserver_port(E.dc_ts[0]);
    kr_testserver_free(E.dc_ts[0]);
    kr_testserver_opts so = {.seed = env_seed + 2, .bookmark_interval_ms = 100, .port = port};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&so, &E.dc_ts[0], &err) == 0, "%s", err.message);
    ck_assert_uint_lt(kr_testserver_resource_version(E.dc_ts[0]), old_rv);
    /* a client of the new server (the old one's config named the old) */
    *old_client_out = E.dc[0];
    E.dc_cfg[0].server = (char *)kr_testserver_url(E.dc_ts[0]);
    kr_client_opts co = {.backoff_base_ms = 5, .backoff_max_ms = 20, .max_retries = 1};
    ck_assert_msg(kr_client_new(E.rt, &E.dc_cfg[0], &co, &E.dc[0], &err) == 0, "%s", err.message);
    E.clusters[0].client = E.dc[0];
    *old_rv_out = old_rv;
}

START_TEST(a_create_in_a_cluster_made_anew_is_not_verified_by_its_old_cache)
{
    env_up();
    unsigned long long old_rv;
    kr_client_t *old_client;
    dc1_made_anew(&old_rv, &old_client);

    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("anew", 0, "dc1"), NULL, NULL),
        201);
    ck_assert(reconcile_until("anew", SUB_PHASE_DISPATCHED, false));
    for (int i = 0; i < 5; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "anew", &after, NULL);
    }
    json_t *o = NULL, *job = NULL;
    ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "default", "anew-1", &job, NULL), 0);
    ck_assert_uint_lt(strtoull(sub_str(job, "metadata.resourceVersion"), NULL, 10), old_rv);
    json_decref(job);
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "anew", &o, NULL), 0);
    ck_assert_msg(!json_is_true(json_object_get(json_object_get(o, "status"), "verified")),
                  "verified by a cache that never held the copy");
    json_decref(o);
    pthread_mutex_lock(&E.mu);
    for (size_t i = 0; i < E.n_events; i++)
        ck_assert_msg(strncmp(E.events[i], "VERIFIED", 8) != 0, "%s", E.events[i]);
    pthread_mutex_unlock(&E.mu);
    /* a cache of the new cluster holds it: verified */
    copies_restart(0);
    kr_client_free(old_client);
    ck_assert(reconcile_until("anew", SUB_PHASE_DISPATCHED, true));
    env_down();
}
END_TEST

/* The other direction: a copy verified in a cluster that is then made
 * anew at the same address is gone, but the new cluster's
 * resourceVersions restart below the create's, and a quiet one may not
 * pass it for a long time: a cache of it (synced, without the copy) that
 * waited for the create's resourceVersion left the runnable Dispatched
 * as long. The cluster, asked once, is before the create: the copy's
 * absence is judged (CopyDeleted, recorded with the resourceVersion at
 * which the new cache observed it gone). */
START_TEST(a_copy_gone_with_its_cluster_made_anew_fails_the_runnable)
{
    env_up();
    /* the create's resourceVersion well past the new incarnation's */
    for (int i = 0; i < 40; i++) {
        char ns[128];
        snprintf(
            ns, sizeof(ns),
            "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"pre-%d\"}}", i);
        ck_assert_int_eq(kr_testserver_load(E.dc_ts[0], ns, strlen(ns), NULL), 0);
    }
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("rebuilt", 0, "dc1"), NULL, NULL),
                     201);
    ck_assert(reconcile_until("rebuilt", SUB_PHASE_DISPATCHED, true));
    unsigned long long old_rv;
    kr_client_t *old_client;
    dc1_made_anew(&old_rv, &old_client);
    copies_restart(0); /* a cache of the new cluster, as a new leader has */
    kr_client_free(old_client);
    ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "default", "rebuilt-1", NULL, NULL),
                     KR_ENOTFOUND);
    json_t *o = cached("rebuilt");
    unsigned long long dispatched =
        strtoull(sub_str(o, "status.dispatchedResourceVersion"), NULL, 10);
    ck_assert_uint_lt(kr_testserver_resource_version(E.dc_ts[0]), dispatched);
    json_decref(o);
    ck_assert(reconcile_until("rebuilt", SUB_PHASE_FAILED, false));
    char cond[512];
    o = cached("rebuilt");
    ck_assert_msg(strstr(condition_of(o, "Failed", cond, sizeof(cond)), "CopyDeleted"), "%s", cond);
    json_decref(o);
    char rv[32], outcome[256];
    ck_assert_int_ge(recorded_event("FAILED rebuilt", rv, sizeof(rv), outcome, sizeof(outcome)), 0);
    /* the new cluster's resourceVersion, at which its cache had it gone */
    ck_assert_msg(*rv && strtoull(rv, NULL, 10) < dispatched, "FAILED at \"%s\"", rv);
    env_down();
}
END_TEST

/* A copy's name taken by an object that is not ours (no source uid of
 * this Runnable) is never adopted: the Runnable fails with NameTaken and
 * the object stays as it was. */
START_TEST(a_name_taken_by_an_object_not_ours_fails_and_adopts_nothing)
{
    env_up();
    json_t *job = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:{s:{s:[{s:s, s:s}], s:s}}}}",
                            "apiVersion", "batch/v1", "kind", "Job", "metadata", "name", "taken-1",
                            "namespace", "default", "labels", "team", "theirs", "spec", "template",
                            "spec", "containers", "name", "c", "image", "busybox", "restartPolicy",
                            "Never"),
           *made = NULL;
    ck_assert_int_eq(kr_client_create(E.dc[0], JOBS, "default", job, NULL, &made, NULL), 0);
    json_decref(job);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("taken", 0, "dc1"), NULL, NULL),
        201);
    ck_assert(reconcile_until("taken", SUB_PHASE_FAILED, false));
    json_t *o = NULL, *now = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "taken", &o, NULL), 0);
    char *status = json_dumps(json_object_get(o, "status"), 0);
    ck_assert_msg(status && strstr(status, "NameTaken"), "status: %s", status ? status : "");
    free(status);
    json_decref(o);
    ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "default", "taken-1", &now, NULL), 0);
    ck_assert_str_eq(sub_str(now, "metadata.resourceVersion"),
                     sub_str(made, "metadata.resourceVersion"));
    ck_assert_str_eq(sub_label(now, SUB_LABEL_SOURCE_UID), ""); /* not adopted */
    json_decref(now);
    json_decref(made);
    env_down();
}
END_TEST

/* A status that says Dispatching without the approvals (written on the
 * hub by someone who may write it) sends nothing: every create checks the
 * quorum of the current spec itself. */
START_TEST(a_status_claiming_dispatch_without_a_quorum_creates_nothing)
{
    env_up();
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("forged", 2, "dc1"), NULL, NULL),
                     201);
    ck_assert(reconcile_until("forged", SUB_PHASE_AWAITING, false));
    set_status("forged", json_pack("{s:s}", "phase", SUB_PHASE_DISPATCHING));
    for (int i = 0; i < 5; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "forged", &after, NULL);
        wait_pace();
    }
    ck_assert(!job_exists(0, "forged-1"));
    ck_assert(!job_exists(1, "forged-1"));
    ck_assert(reconcile_until("forged", SUB_PHASE_AWAITING, false));
    env_down();
}
END_TEST

START_TEST(submit_approve_dispatch_verify_succeed)
{
    env_up();
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("train", 1, ""), NULL, &r),
        201);
    ck_assert_str_eq(sub_str(r, "status.submittedBy"), "alice");
    json_decref(r);
    ck_assert(reconcile_until("train", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/train/approve", "tok-bob", NULL, NULL, &r), 200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_DISPATCHING);
    json_decref(r);
    ck_assert(reconcile_until("train", SUB_PHASE_DISPATCHED, true));
    json_t *job = NULL;
    ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "default", "train-1", &job, NULL), 0);
    /* created held (suspended), released once verified */
    ck_assert(json_is_false(json_object_get(json_object_get(job, "spec"), "suspend")));
    ck_assert_str_eq(sub_label(job, SUB_LABEL_MANAGED_BY), "kr-submitter");
    ck_assert_str_eq(sub_label(job, SUB_LABEL_SOURCE_CLUSTER), "hub");
    json_t *o = cached("train");
    ck_assert_str_eq(sub_label(job, SUB_LABEL_SOURCE_UID), sub_str(o, "metadata.uid"));
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc1");
    /* the create's RV; the release patch came after it */
    ck_assert_int_lt(atoll(sub_str(o, "status.dispatchedResourceVersion")),
                     atoll(sub_str(job, "metadata.resourceVersion")));
    json_decref(o);
    json_decref(job);
    ck_assert(!job_exists(1, "train-1"));
    mark_job(0, "train-1", "Complete");
    ck_assert(reconcile_until("train", SUB_PHASE_SUCCEEDED, true));
    ck_assert_int_eq(call("GET", "/api/v1/runnables/default/train", "tok-erin", NULL, NULL, &r),
                     200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_SUCCEEDED);
    ck_assert(sub_condition_true(r, "Succeeded"));
    json_decref(r);
    const char *want[] = {"SUBMITTED train alice", "APPROVED train bob", "DISPATCHED train",
                          "VERIFIED train", "SUCCEEDED train"};
    assert_events(want, 5);
    /* kubectl describe shows the approval, the dispatch and the end */
    ck_assert_int_eq(kr_event_recorder_flush(E.recorder, WAIT_MS), 0);
    kr_list_opts lo = {.field_selector = "involvedObject.name=train"};
    json_t *list = NULL;
    ck_assert_int_eq(kr_client_list(E.hub, KR_GVR("", "v1", "events"), "default", &lo, &list, NULL),
                     0);
    json_t *items = json_object_get(list, "items");
    ck_assert_uint_eq(json_array_size(items), 3);
    const char *reasons[] = {"Approved", "Dispatched", "Succeeded"};
    for (size_t i = 0; i < 3; i++) {
        bool found = false;
        size_t k;
        json_t *ev;
        json_array_foreach(items, k, ev)
        {
            if (strcmp(sub_str(ev, "reason"), reasons[i]) != 0)
                continue;
            found = true;
            ck_assert_str_eq(sub_str(ev, "involvedObject.kind"), "Runnable");
            ck_assert_str_eq(sub_str(ev, "involvedObject.apiVersion"), SUB_API_VERSION);
            ck_assert_str_eq(sub_str(ev, "type"), "Normal");
        }
        ck_assert_msg(found, "no %s event", reasons[i]);
    }
    json_decref(list);
    env_down();
}
END_TEST

/* A Job that fails says why on its Runnable: the Failed condition carries
 * the Job's reason and message, and the cluster. */
START_TEST(a_failed_job_says_why_on_its_runnable)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("flaky", 0, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("flaky", SUB_PHASE_DISPATCHED, true));
    set_job_status(0, "flaky-1",
                   json_pack("{s:s, s:i, s:[{s:s, s:s, s:s, s:s}]}", "startTime",
                             "2026-01-01T00:00:00Z", "failed", 7, "conditions", "type", "Failed",
                             "status", "True", "reason", "BackoffLimitExceeded", "message",
                             "Job has reached the specified backoff limit"));
    ck_assert(reconcile_until("flaky", SUB_PHASE_FAILED, true));
    json_t *o = cached("flaky");
    const json_t *conds = json_object_get(json_object_get(o, "status"), "conditions");
    const json_t *failed = NULL;
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        if (strcmp(sub_str(c, "type"), "Failed") == 0)
            failed = c;
    }
    ck_assert_ptr_nonnull(failed);
    ck_assert_str_eq(sub_str(failed, "status"), "True");
    ck_assert_str_eq(sub_str(failed, "reason"), "BackoffLimitExceeded");
    ck_assert_str_eq(sub_str(failed, "message"),
                     "Job flaky-1 in dc1: Job has reached the specified backoff limit");
    json_decref(o);
    env_down();
}
END_TEST

/* The controller acting between an approval's write and its record (here:
 * inside the record) finds the decision unrecorded and does not dispatch:
 * the history says APPROVED before DISPATCHED. */
START_TEST(approved_is_recorded_before_the_dispatch)
{
    env_up();
    E.s.admit_grace_ms = 600000; /* the API records its own decisions */
    E.reconcile_in_record = true;
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("ord", 1, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("ord", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/ord/approve", "tok-bob", NULL, NULL, &r), 200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_DISPATCHING);
    ck_assert(!approval_unrecorded(r));
    json_decref(r);
    ck_assert(reconcile_until("ord", SUB_PHASE_DISPATCHED, true));
    const char *want[] = {"SUBMITTED ord alice", "APPROVED ord bob", "DISPATCHED ord",
                          "VERIFIED ord"};
    assert_events(want, 4);

    /* an API that wrote a decision and stopped before recording it: the
     * controller records it for its author once the grace has passed */
    E.reconcile_in_record = false;
    E.s.admit_grace_ms = 1;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("late", 1, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("late", SUB_PHASE_AWAITING, false));
    json_t *o = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "late", &o, NULL), 0);
    const kr_token_user *carol = kr_token_file_authenticate(E.auth, "Bearer tok-carol");
    ck_assert_int_eq(approval_decide(o, carol, true, NULL, NULL), 200);
    ck_assert(approval_unrecorded(o));
    ck_assert_int_eq(kr_client_update_status(E.hub, SUB_RUNNABLES, "default", o, NULL, NULL, NULL),
                     0);
    json_decref(o);
    ck_assert(reconcile_until("late", SUB_PHASE_DISPATCHED, true));
    const char *want2[] = {"SUBMITTED ord alice", "APPROVED ord bob",     "DISPATCHED ord",
                           "VERIFIED ord",        "SUBMITTED late alice", "APPROVED late carol",
                           "DISPATCHED late",     "VERIFIED late"};
    assert_events(want2, 8);
    env_down();
}
END_TEST

/* The leader's term, as main's epoch callback reads it from the Lease. */
static int test_epoch(uint64_t *epoch, void *user)
{
    *epoch = 7 + (uint64_t)atomic_load(&((env *)user)->term);
    return ((env *)user)->not_leading ? KR_ESTATE : 0;
}

static json_int_t attempts_of(const json_t *o)
{
    return (json_int_t)json_array_size(json_object_get(json_object_get(o, "status"), "attempts"));
}

/* A Runnable that needs no approval, submitted to the leading replica: the
 * API records the submitter and the first decision in one status write
 * (preconditioned on the create's resourceVersion), before anything is
 * created; the controller creates the copy without deciding again, and one
 * more hub write says Dispatched and verified. On a replica that does not
 * lead, the API records the submitter only and the leader decides. */
START_TEST(api_admits_and_decides_in_one_write)
{
    env_up();
    E.s.events = NULL; /* the hub's writes counted here are the Runnable's */
    E.s.epoch = test_epoch;
    E.s.epoch_user = &E;
    unsigned long long before = kr_testserver_resource_version(E.hub_ts);
    json_t *r = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("one", 0, "dc2, dc1"), NULL, &r),
                     201);
    /* the create, then the submitter and the decision together */
    ck_assert_uint_eq(kr_testserver_resource_version(E.hub_ts) - before, 2);
    ck_assert_str_eq(sub_str(r, "status.submittedBy"), "alice");
    char hash[65];
    ck_assert_int_eq(approval_spec_hash(r, hash), 0);
    ck_assert_str_eq(sub_str(r, "status.specHash"), hash);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_DISPATCHING);
    ck_assert_str_eq(sub_str(r, "status.cluster"), "dc2");
    ck_assert_int_eq(sub_int(r, "status.attempt"), 1);
    ck_assert_int_eq(sub_int(r, "status.epoch"), 7);
    ck_assert(json_is_false(json_object_get(json_object_get(r, "status"), "verified")));
    ck_assert_int_eq(attempts_of(r), 1);
    json_t *a = json_array_get(json_object_get(json_object_get(r, "status"), "attempts"), 0);
    ck_assert_str_eq(sub_str(a, "cluster"), "dc2");
    ck_assert_str_eq(sub_str(a, "state"), "Decided");
    ck_assert_int_eq(sub_int(a, "epoch"), 7);
    json_decref(r);
    ck_assert(!job_exists(0, "one-1"));
    ck_assert(!job_exists(1, "one-1"));
    before = kr_testserver_resource_version(E.hub_ts);
    ck_assert(reconcile_until("one", SUB_PHASE_DISPATCHED, true));
    /* Dispatched and verified: one write when dc2's cache had the create
     * by then, else Dispatched and then verified (the tests set no wake);
     * never a decision again (one attempt) */
    ck_assert_uint_le(kr_testserver_resource_version(E.hub_ts) - before, 2);
    json_t *o = cached("one");
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc2");
    ck_assert_int_eq(sub_int(o, "status.attempt"), 1);
    ck_assert_int_eq(attempts_of(o), 1);
    json_decref(o);
    ck_assert(job_exists(1, "one-1"));
    ck_assert(!job_exists(0, "one-1"));

    /* a replica that does not lead: the submitter only */
    E.not_leading = true;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("two", 0, ""), NULL, &r), 201);
    ck_assert_str_eq(sub_str(r, "status.submittedBy"), "alice");
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_DISPATCHING);
    ck_assert_int_eq(sub_int(r, "status.attempt"), 0);
    ck_assert_int_eq(attempts_of(r), 0);
    json_decref(r);
    /* a Runnable that waits for approval: no decision either */
    E.not_leading = false;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("three", 1, ""), NULL, &r),
        201);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_AWAITING);
    ck_assert_int_eq(attempts_of(r), 0);
    json_decref(r);
    ck_assert(reconcile_until("two", SUB_PHASE_DISPATCHED, true)); /* the leader decides */
    o = cached("two");
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc1");
    ck_assert_int_eq(sub_int(o, "status.epoch"), 7);
    json_decref(o);
    ck_assert(job_exists(0, "two-1"));
    const char *want[] = {"SUBMITTED one alice",   "DISPATCHED one kr-submitter dc2",
                          "VERIFIED one",          "SUBMITTED two alice",
                          "SUBMITTED three alice", "DISPATCHED two kr-submitter dc1",
                          "VERIFIED two"};
    assert_events(want, 7);
    env_down();
}
END_TEST

static bool job_released(int dc, const char *name);

/* A held copy is released once: reconciles woken before the cluster's
 * cache has the release (here it never gets it) do not send it again, and
 * still look after the cluster (the copy counts as not started). */
START_TEST(a_held_copy_is_released_once)
{
    env_up();
    E.freeze_dc2_on_verified = true;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("rel", 0, "dc2"), NULL, NULL),
        201);
    ck_assert(reconcile_until("rel", SUB_PHASE_DISPATCHED, true));
    ck_assert(job_released(1, "rel-1"));
    /* dc2's cache: the held copy */
    json_t *job = kr_store_get_by_name(kr_informer_store(E.copies[1]), "default", "rel-1");
    ck_assert_ptr_nonnull(job);
    ck_assert(json_is_true(json_object_get(json_object_get(job, "spec"), "suspend")));
    json_decref(job);
    json_t *requests = kr_testserver_requests(E.dc_ts[1]);
    ck_assert_int_eq(json_integer_value(json_object_get(requests, "patch jobs")), 1);
    json_decref(requests);
    for (int i = 0; i < 10; i++) {
        uint64_t after = 0;
        ck_assert_int_eq(submitter_reconcile(&E.s, "default", "rel", &after, NULL),
                         KR_RECONCILE_REQUEUE_AFTER);
        ck_assert_uint_le(after, 1000);
    }
    requests = kr_testserver_requests(E.dc_ts[1]);
    ck_assert_int_eq(json_integer_value(json_object_get(requests, "patch jobs")), 1);
    json_decref(requests);
    json_t *o = cached("rel");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_DISPATCHED);
    json_decref(o);
    env_down();
}
END_TEST

/* A Runnable created on the hub directly had none of the API's checks:
 * one whose template is cluster-scoped, names a cluster nobody
 * configured, whose name leaves no room for its copies', or that the
 * cluster's dry run refuses, fails at once, before anyone is asked to
 * approve it, and says why; nothing is created anywhere. */
START_TEST(a_hub_created_runnable_the_api_would_refuse_fails_at_once)
{
    env_up();
    static const struct {
        const char *name, *yaml, *says;
    } cases[] = {
        {"scoped",
         "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata: {name: scoped, "
         "namespace: default}\nspec:\n  template: {apiVersion: v1, kind: Namespace, metadata: "
         "{name: x}}\n",
         "cluster-scoped"},
        {"faraway",
         "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata: {name: faraway, "
         "namespace: default}\nspec:\n  clusters: [dc9]\n  template: {apiVersion: batch/v1, "
         "kind: Job, metadata: {name: w}, spec: {template: {spec: {restartPolicy: Never, "
         "containers: [{name: c, image: busybox}]}}}}\n",
         "unknown cluster dc9"},
        /* 53 characters: its copy "<name>-1" would not fit a Job's label */
        {"a2345678901234567890123456789012345678901234567890123",
         "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata: {name: "
         "a2345678901234567890123456789012345678901234567890123, namespace: default}\nspec:\n  "
         "template: {apiVersion: batch/v1, kind: Job, metadata: {name: w}, spec: {template: "
         "{spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}\n",
         "longer than 52 characters"},
        /* one the cluster's dry run refuses, as the API's would */
        {"always",
         "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata: {name: always, "
         "namespace: default}\nspec:\n  template: {apiVersion: batch/v1, kind: Job, metadata: "
         "{name: w}, spec: {template: {spec: {restartPolicy: Always, containers: [{name: c, "
         "image: busybox}]}}}}\n",
         "cluster dc1 refuses the template: Job.batch \"always-1\" is invalid: "
         "spec.template.spec.restartPolicy: Required value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *body = NULL;
        ck_assert_int_eq(kr_yaml_parse(cases[i].yaml, strlen(cases[i].yaml), &body, NULL), 0);
        ck_assert_int_eq(kr_client_create(E.hub, SUB_RUNNABLES, "default", body, NULL, NULL, NULL),
                         0);
        json_decref(body);
        ck_assert(reconcile_until(cases[i].name, SUB_PHASE_FAILED, false));
        json_t *o = cached(cases[i].name);
        ck_assert_str_eq(sub_str(o, "status.submittedBy"), SUB_UNKNOWN_SUBMITTER);
        ck_assert_int_eq(attempts_of(o), 0);
        size_t k;
        json_t *c;
        bool said = false;
        json_array_foreach(json_object_get(json_object_get(o, "status"), "conditions"), k, c)
        {
            if (strcmp(sub_str(c, "type"), "Failed") == 0) {
                ck_assert_str_eq(sub_str(c, "reason"), "InvalidSpec");
                ck_assert_msg(strstr(sub_str(c, "message"), cases[i].says), "%s",
                              sub_str(c, "message"));
                said = true;
            }
        }
        ck_assert(said);
        json_decref(o);
    }
    /* one the API admitted, edited on the hub before anything ran: the
     * edit is checked as a submission would be */
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("edited", 1, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("edited", SUB_PHASE_AWAITING, false));
    json_t *edit = json_pack("{s:{s:{s:s, s:s, s:{s:s}, s:n}}}", "spec", "template", "apiVersion",
                             "v1", "kind", "Namespace", "metadata", "name", "evil", "spec");
    ck_assert_int_eq(kr_client_patch(E.hub, SUB_RUNNABLES, "default", "edited", NULL,
                                     KR_PATCH_MERGE, edit, NULL, NULL, NULL),
                     0);
    json_decref(edit);
    ck_assert(reconcile_until("edited", SUB_PHASE_FAILED, false));
    json_t *o = cached("edited");
    ck_assert_int_eq(attempts_of(o), 0);
    json_decref(o);
    /* a caller named as runnables created on the hub are would be their
     * submitter and approver: it reads, and does nothing else */
    json_t *refused = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-unknown", job_runnable("mine", 0, ""),
                          NULL, &refused),
                     403);
    ck_assert_msg(strstr(sub_str(refused, "error"), "may read, not submit"), "%s",
                  sub_str(refused, "error"));
    json_decref(refused);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/scoped/cancel", "tok-unknown", NULL, NULL, NULL),
        403);
    ck_assert_int_eq(
        call("GET", "/api/v1/runnables/default/scoped", "tok-unknown", NULL, NULL, NULL), 200);
    /* nor may callers named as the books' actors, whose decisions would
     * pass for the controller's or the inventory's */
    const char *actors[] = {"tok-ks", "tok-informer"};
    for (int i = 0; i < 2; i++) {
        refused = NULL;
        ck_assert_int_eq(call("POST", "/api/v1/runnables", actors[i], job_runnable("act", 0, ""),
                              NULL, &refused),
                         403);
        ck_assert_msg(strstr(sub_str(refused, "error"), "is an actor of the books"), "%s",
                      sub_str(refused, "error"));
        json_decref(refused);
        ck_assert_int_eq(
            call("POST", "/api/v1/runnables/default/scoped/approve", actors[i], NULL, NULL, NULL),
            403);
        ck_assert_int_eq(
            call("GET", "/api/v1/runnables/default/scoped", actors[i], NULL, NULL, NULL), 200);
    }
    const char *want[] = {"SUBMITTED scoped kr-submitter",
                          "FAILED scoped",
                          "SUBMITTED faraway kr-submitter",
                          "FAILED faraway",
                          "SUBMITTED a2345678901234567890123456789012345678901234567890123 "
                          "kr-submitter",
                          "FAILED a2345678901234567890123456789012345678901234567890123",
                          "SUBMITTED always kr-submitter",
                          "FAILED always",
                          "SUBMITTED edited alice",
                          "FAILED edited"};
    assert_events(want, 10);
    env_down();
}
END_TEST

/* The API stopped between its create and its status write: the Runnable
 * has no status; past the grace the controller takes it for one created on
 * the hub directly (submitted by "unknown", approval required, whatever
 * its spec says), so nothing is created until someone approves it. */
START_TEST(api_stopped_between_its_two_writes)
{
    env_up();
    const char *names[] = {"dc1", "dc2"};
    submission_opts so = {.clusters = names, .n_clusters = 2};
    const char *text = job_runnable("cut", 0, "");
    json_t *body = NULL;
    ck_assert_int_eq(submission_build(text, strlen(text), &so, &body, NULL), 0);
    ck_assert_int_eq(kr_client_create(E.hub, SUB_RUNNABLES, "default", body, NULL, NULL, NULL), 0);
    json_decref(body);
    ck_assert(reconcile_until("cut", SUB_PHASE_AWAITING, false));
    for (int i = 0; i < 5; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "cut", &after, NULL);
    }
    json_t *o = cached("cut");
    ck_assert_str_eq(sub_str(o, "status.submittedBy"), SUB_UNKNOWN_SUBMITTER);
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_AWAITING);
    ck_assert_int_eq(attempts_of(o), 0);
    json_decref(o);
    ck_assert(!job_exists(0, "cut-1"));
    ck_assert(!job_exists(1, "cut-1"));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/cut/approve", "tok-bob", NULL, NULL, NULL), 200);
    ck_assert(reconcile_until("cut", SUB_PHASE_DISPATCHED, true));
    ck_assert(job_exists(0, "cut-1"));
    const char *want[] = {"SUBMITTED cut kr-submitter", "APPROVED cut bob", "DISPATCHED cut",
                          "VERIFIED cut"};
    assert_events(want, 4);
    env_down();
}
END_TEST

/* An approval the inventory cannot take (the database down) is written
 * on the hub but not marked recorded: the Runnable waits. The controller
 * records it once the inventory is back, and then it is dispatched; the
 * books hold the decision once. */
START_TEST(a_decision_waits_for_its_record)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("books", 1, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("books", SUB_PHASE_AWAITING, false));
    atomic_store(&E.records_down, true);
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/books/approve", "tok-bob", NULL, NULL, &r), 200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_AWAITING);
    json_decref(r);
    advance_ms(10000); /* past the grace: the controller tries to record it */
    for (int i = 0; i < 20; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "books", &after, NULL);
        wait_pace();
    }
    json_t *o = cached("books");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_AWAITING);
    json_decref(o);
    ck_assert(!job_exists(0, "books-1") && !job_exists(1, "books-1"));
    atomic_store(&E.records_down, false);
    ck_assert(reconcile_until("books", SUB_PHASE_DISPATCHED, true));
    const char *want[] = {"SUBMITTED books alice", "APPROVED books bob", "DISPATCHED books",
                          "VERIFIED books"};
    assert_events(want, 4);
    env_down();
}
END_TEST

/* Two approvals at once through two replicas' APIs (one hub, one
 * inventory): bob's is on the hub and its record on its way when carol's
 * is written through the other replica and recorded. The books hold the
 * decisions in the order the hub took them, bob's before carol's, each
 * once, and the runnable dispatches once both are in. */
START_TEST(concurrent_approvals_through_two_replicas_keep_their_order)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("two", 2, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("two", SUB_PHASE_AWAITING, false));
    /* the other replica: the same hub and books, a submitter of its own */
    submitter other_s = E.s;
    ck_assert_int_eq(submitter_init(&other_s, NULL), 0);
    api other = E.api;
    other.s = &other_s;
    E.carol_in_record = &other;
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/two/approve", "tok-bob", NULL, NULL, &r), 200);
    json_decref(r);
    ck_assert_ptr_null(E.carol_in_record); /* carol went in between */
    ck_assert(reconcile_until("two", SUB_PHASE_DISPATCHED, true));
    const char *want[] = {"SUBMITTED two alice", "APPROVED two bob", "APPROVED two carol",
                          "DISPATCHED two", "VERIFIED two"};
    assert_events(want, 5);
    submitter_destroy(&other_s);
    env_down();
}
END_TEST

/* Decisions the API wrote but could not record are recorded by the
 * controller in the order the hub took them, though their times say
 * otherwise (each is its API's clock: two replicas' may differ): bob's,
 * stamped 3 s ahead, is still within its grace when carol's, after it,
 * is past hers; carol's waits for bob's. */
START_TEST(late_decisions_are_recorded_in_the_hubs_order)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("skew", 2, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("skew", SUB_PHASE_AWAITING, false));
    atomic_store(&E.records_down, true);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/skew/approve", "tok-bob", NULL, NULL, NULL), 200);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/skew/approve", "tok-carol", NULL, NULL, NULL), 200);
    json_t *o = cached("skew");
    json_t *approvals = json_deep_copy(json_object_get(json_object_get(o, "status"), "approvals"));
    json_decref(o);
    ck_assert_uint_eq(json_array_size(approvals), 2);
    ck_assert_str_eq(sub_str(json_array_get(approvals, 0), "user"), "bob");
    char ahead[32];
    time_t t = time(NULL) + 3;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ahead, sizeof(ahead), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(json_array_get(approvals, 0), "time", json_string(ahead));
    json_object_set_new(json_array_get(approvals, 1), "time", json_string("2026-01-01T00:00:00Z"));
    set_status("skew", json_pack("{s:o}", "approvals", approvals));
    atomic_store(&E.records_down, false);
    ck_assert(reconcile_until("skew", SUB_PHASE_DISPATCHED, true));
    const char *want[] = {"SUBMITTED skew alice", "APPROVED skew bob", "APPROVED skew carol",
                          "DISPATCHED skew", "VERIFIED skew"};
    assert_events(want, 5);
    env_down();
}
END_TEST

/* Review finding: whoever may write runnables/status could add a decision
 * (recorded: false, as one the API took while the inventory was down) that
 * the controller then recorded as the named user's and counted, and a
 * time in the future held every later decision back until then. Only a
 * decision the API sealed counts or holds anything back; one written by
 * another is recorded as FORGED, marked so and never counted; a sealed
 * decision's time far ahead holds back no longer than the grace. */
START_TEST(a_decision_no_api_took_never_counts)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("forge", 2, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("forge", SUB_PHASE_AWAITING, false));
    atomic_store(&E.records_down, true);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/forge/approve", "tok-bob", NULL, NULL, NULL), 200);
    json_t *o = cached("forge");
    char hash[65];
    snprintf(hash, sizeof(hash), "%s", sub_str(o, "status.specHash"));
    json_t *approvals = json_deep_copy(json_object_get(json_object_get(o, "status"), "approvals"));
    json_decref(o);
    ck_assert_uint_eq(json_array_size(approvals), 1);
    /* bob's, sealed, unrecorded, its time far ahead (a clock wrong, or
     * written so): it waits no longer than the grace */
    json_object_set_new(json_array_get(approvals, 0), "time", json_string("2099-01-01T00:00:00Z"));
    /* a forged approval, as one the inventory could not take, and a
     * forged rejection, as one recorded */
    json_array_append_new(approvals, json_pack("{s:s, s:s, s:s, s:s, s:b}", "user", "carol",
                                               "decision", "Approved", "specHash", hash, "time",
                                               "2099-01-01T00:00:00Z", "recorded", 0));
    json_array_append_new(approvals,
                          json_pack("{s:s, s:s, s:s, s:s}", "user", "erin", "decision", "Rejected",
                                    "specHash", hash, "time", "2026-01-01T00:00:00Z"));
    set_status("forge", json_pack("{s:o}", "approvals", approvals));
    atomic_store(&E.records_down, false);
    /* one approval of the two: it waits, neither rejected nor dispatched */
    for (int i = 0; i < 20; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "forge", &after, NULL);
    }
    for (int i = 0;; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "forge", &after, NULL);
        o = cached("forge");
        const json_t *all = json_object_get(json_object_get(o, "status"), "approvals");
        bool marked = json_is_true(json_object_get(json_array_get(all, 1), "forged")) &&
                      json_is_true(json_object_get(json_array_get(all, 2), "forged"));
        if (marked)
            break;
        json_decref(o);
        ck_assert_msg(i < 1000, "the forged decisions were never marked");
        wait_pace();
    }
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_AWAITING);
    ck_assert_uint_eq(approval_count(o, hash), 1);
    ck_assert(!approval_rejected(o, hash));
    json_decref(o);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/forge/approve", "tok-carol", NULL, NULL, NULL),
        200);
    ck_assert(reconcile_until("forge", SUB_PHASE_DISPATCHED, true));
    const char *want[] = {
        "SUBMITTED forge alice", "FORGED forge kr-submitter", "FORGED forge kr-submitter",
        "APPROVED forge bob",    "APPROVED forge carol",      "DISPATCHED forge",
        "VERIFIED forge"};
    assert_events(want, 7);
    env_down();
}
END_TEST

/* Review finding: the "forged" mark was trusted, so whoever may write
 * runnables/status could set it on a sealed rejection (and the phase back
 * to AwaitingApproval): the rejection no longer counted, and was never
 * recorded. Only the seal decides; the mark on a sealed entry is
 * removed. */
START_TEST(a_forged_mark_on_a_sealed_rejection_is_not_trusted)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("mark", 1, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("mark", SUB_PHASE_AWAITING, false));
    atomic_store(&E.records_down, true);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/mark/reject", "tok-dave", NULL, NULL, NULL), 200);
    json_t *o = cached("mark");
    json_t *approvals = json_deep_copy(json_object_get(json_object_get(o, "status"), "approvals"));
    json_decref(o);
    ck_assert_uint_eq(json_array_size(approvals), 1);
    ck_assert(json_is_false(json_object_get(json_array_get(approvals, 0), "recorded")));
    json_object_set_new(json_array_get(approvals, 0), "forged", json_true());
    set_status("mark",
               json_pack("{s:o, s:s}", "approvals", approvals, "phase", SUB_PHASE_AWAITING));
    atomic_store(&E.records_down, false);
    ck_assert(reconcile_until("mark", SUB_PHASE_REJECTED, false));
    for (int i = 0;; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "mark", &after, NULL);
        o = cached("mark");
        const json_t *a =
            json_array_get(json_object_get(json_object_get(o, "status"), "approvals"), 0);
        bool done = !json_object_get(a, "forged") && !json_object_get(a, "recorded");
        json_decref(o);
        if (done)
            break;
        ck_assert_msg(i < 1000, "the sealed rejection was never recorded, or kept its mark");
        wait_pace();
    }
    const char *want[] = {"SUBMITTED mark alice", "REJECTED mark dave"};
    assert_events(want, 2);
    env_down();
}
END_TEST

/* Review finding: a leader with another key (a Secret made anew, a move
 * to --decision-key-file, replicas given different files) marked genuine
 * decisions forged, and they never counted again once the key was put
 * right. They count again under the right key, and lose the mark. */
START_TEST(a_decision_marked_forged_under_a_wrong_key_counts_again)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("rekey", 2, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("rekey", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/rekey/approve", "tok-bob", NULL, NULL, NULL), 200);
    /* a leader with another key: bob's decision is taken for a forged one */
    static const char other[] = "a key some other replica was given";
    approval_seal_key((const unsigned char *)other, sizeof(other) - 1);
    for (int i = 0;; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "rekey", &after, NULL);
        json_t *o = cached("rekey");
        bool marked = json_is_true(json_object_get(
            json_array_get(json_object_get(json_object_get(o, "status"), "approvals"), 0),
            "forged"));
        json_decref(o);
        if (marked)
            break;
        ck_assert_msg(i < 1000, "the decision was never marked forged under the wrong key");
        wait_pace();
    }
    /* the key put right: it counts again, and the mark goes */
    static const char key[] = "the key every replica of the test seals decisions with";
    approval_seal_key((const unsigned char *)key, sizeof(key) - 1);
    for (int i = 0;; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "rekey", &after, NULL);
        json_t *o = cached("rekey");
        bool cleared = !json_object_get(
            json_array_get(json_object_get(json_object_get(o, "status"), "approvals"), 0),
            "forged");
        json_decref(o);
        if (cleared)
            break;
        ck_assert_msg(i < 1000, "the mark of a sealed decision was never removed");
        wait_pace();
    }
    json_t *o = cached("rekey");
    char hash[65];
    snprintf(hash, sizeof(hash), "%s", sub_str(o, "status.specHash"));
    ck_assert_uint_eq(approval_count(o, hash), 1);
    json_decref(o);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/rekey/approve", "tok-carol", NULL, NULL, NULL),
        200);
    ck_assert(reconcile_until("rekey", SUB_PHASE_DISPATCHED, true));
    env_down();
}
END_TEST

/* The API's record of a submission that outlasts the admission grace
 * (the inventory slow): the controller of its process does not take the
 * Runnable for one created on the hub meanwhile, so the books hold one
 * SUBMITTED, the caller's, as its status says. */
START_TEST(a_slow_submission_record_is_not_taken_for_a_hub_created_one)
{
    env_up();
    E.reconcile_in_submitted = true;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("slow", 1, ""), NULL, NULL),
        201);
    E.reconcile_in_submitted = false;
    ck_assert(reconcile_until("slow", SUB_PHASE_AWAITING, false));
    json_t *o = cached("slow");
    ck_assert_str_eq(sub_str(o, "status.submittedBy"), "alice");
    char key[300];
    submitter_submission_key(sub_str(o, "metadata.uid"), key, sizeof(key));
    json_decref(o);
    const char *want[] = {"SUBMITTED slow alice"};
    assert_events(want, 1);
    pthread_mutex_lock(&E.mu);
    ck_assert_msg(json_object_get(E.keys, key), "SUBMITTED recorded without the key %s", key);
    pthread_mutex_unlock(&E.mu);
    env_down();
}
END_TEST

/* A Runnable sent with metadata.generateName (no name, no key) is named
 * from it, as the hub names one, not from its manifest's name; the prefix
 * is cut so that the name leaves room for the attempt. */
START_TEST(a_runnables_generate_name_names_it)
{
    env_up();
    char body[1200];
    snprintf(body, sizeof(body), "%s", job_runnable("unused", 0, ""));
    char *at = strstr(body, "  name: unused\n");
    ck_assert_ptr_nonnull(at);
    memmove(at + 31, at + 15, strlen(at + 15) + 1);
    memcpy(at, "  generateName: Nightly_Train-\n", 31);
    json_t *r = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", body, NULL, &r), 201);
    const char *name = sub_str(r, "metadata.name");
    ck_assert_msg(strncmp(name, "nightly-train-", 14) == 0 && strlen(name) == 19, "%s", name);
    json_decref(r);
    env_down();
}
END_TEST

/* Review finding: a Runnable body's template had to have a
 * metadata.name of its own (422), though the Runnable's name, or its
 * generateName, names the copies (<runnable>-<attempt>), and the
 * controller failed a Runnable created on the hub with such a template
 * (InvalidSpec). A template without a name, or without metadata, is
 * taken by the API and the controller and its copy named as every
 * copy is; a bare manifest without a name is taken when its idempotency
 * key names the runnable. Only a body that nothing names is refused. */
START_TEST(a_template_needs_no_name_of_its_own)
{
    env_up();
#define NAMELESS_JOB                                                                               \
    "  template:\n    apiVersion: batch/v1\n    kind: Job\n%s    spec:\n      template:\n"         \
    "        spec:\n          restartPolicy: Never\n          containers: [{name: c, image: "      \
    "busybox}]\n"
    static const struct {
        const char *metadata, *template_metadata;
    } cases[] = {
        {"{name: anon}", ""}, /* no metadata at all */
        {"{generateName: gen-}", "    metadata: {labels: {team: a}}\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[1024], tmpl[512], copy[80];
        snprintf(tmpl, sizeof(tmpl), NAMELESS_JOB, cases[i].template_metadata);
        snprintf(body, sizeof(body),
                 "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata: %s\nspec:\n  "
                 "clusters: [dc1]\n%s",
                 cases[i].metadata, tmpl);
        json_t *r = NULL;
        ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", body, NULL, &r), 201);
        char name[64];
        snprintf(name, sizeof(name), "%s", sub_str(r, "metadata.name"));
        json_decref(r);
        ck_assert_msg(i == 0 ? strcmp(name, "anon") == 0 : strncmp(name, "gen-", 4) == 0, "%s",
                      name);
        ck_assert(reconcile_until_in(name, "dc1", SUB_PHASE_DISPATCHED, true));
        snprintf(copy, sizeof(copy), "%s-1", name);
        json_t *job = NULL;
        ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "default", copy, &job, NULL), 0);
        if (i == 1)
            ck_assert_str_eq(sub_label(job, "team"), "a");
        json_decref(job);
    }
    /* a bare manifest without a name: its idempotency key names it */
    static const char bare[] =
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"spec\":{\"template\":{\"spec\":{"
        "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}";
    json_t *r = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", bare, "nameless", &r), 201);
    ck_assert_msg(strncmp(sub_str(r, "metadata.name"), "nameless-", 9) == 0, "%s",
                  sub_str(r, "metadata.name"));
    json_decref(r);
    /* nothing names it: refused, and saying so */
    char body[1024], tmpl[512];
    snprintf(tmpl, sizeof(tmpl), NAMELESS_JOB, "");
    snprintf(body, sizeof(body),
             "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata: {labels: {a: "
             "b}}\nspec:\n%s",
             tmpl);
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", body, NULL, &r), 422);
    ck_assert_msg(strstr(sub_str(r, "error"), "no metadata.name or generateName"), "%s",
                  sub_str(r, "error"));
    json_decref(r);
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", bare, NULL, &r), 422);
    ck_assert_msg(strstr(sub_str(r, "error"), "has no metadata.name"), "%s", sub_str(r, "error"));
    json_decref(r);
    /* created on the hub directly: the controller takes it too */
    snprintf(body, sizeof(body),
             "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata: {name: hubanon, "
             "namespace: default}\nspec:\n  clusters: [dc1]\n%s",
             tmpl);
    json_t *obj = NULL;
    ck_assert_int_eq(kr_yaml_parse(body, strlen(body), &obj, NULL), 0);
    ck_assert_int_eq(kr_client_create(E.hub, SUB_RUNNABLES, "default", obj, NULL, NULL, NULL), 0);
    json_decref(obj);
    ck_assert(reconcile_until("hubanon", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/hubanon/approve", "tok-bob", NULL, NULL, NULL),
        200);
    ck_assert(reconcile_until_in("hubanon", "dc1", SUB_PHASE_DISPATCHED, true));
    ck_assert(job_exists(0, "hubanon-1"));
#undef NAMELESS_JOB
    env_down();
}
END_TEST

START_TEST(approval_rules_hold)
{
    env_up();
    json_t *r = NULL;
    ck_assert_int_eq(call("GET", "/api/v1/runnables", NULL, NULL, NULL, NULL), 401);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-mallory", job_runnable("q", 2, ""), NULL, NULL),
        401);
    /* a header with no bearer token in it is answered as none */
    const char *no_bearer[] = {"Bearer ", "Basic YWxpY2U6eA==", "Bearertok-alice"};
    for (size_t i = 0; i < 3; i++) {
        api_request req = {
            .method = "GET", .path = "/api/v1/runnables", .authorization = no_bearer[i]};
        api_response resp = {0};
        api_handle(&E.api, &req, &resp);
        ck_assert_int_eq(resp.status, 401);
        ck_assert_str_eq(sub_str(resp.body, "error"),
                         "unauthorized: send Authorization: Bearer <token>");
        json_decref(resp.body);
    }
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("q", 2, ""), NULL, NULL), 201);
    ck_assert(reconcile_until("q", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/q/approve", "tok-alice", NULL, NULL, NULL), 403);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/q/approve", "tok-erin", NULL, NULL, NULL), 403);
    ck_assert_int_eq(call("POST", "/api/v1/runnables/default/q/approve", "tok-bob", NULL, NULL, &r),
                     200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_AWAITING);
    json_decref(r);
    /* the spec changes on the hub (kubectl edit): bob's approval is void */
    json_t *o = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "q", &o, NULL), 0);
    json_object_set_new(json_object_get(o, "spec"), "clusters", json_pack("[s]", "dc2"));
    ck_assert_int_eq(kr_client_update(E.hub, SUB_RUNNABLES, "default", o, NULL, NULL, NULL), 0);
    json_decref(o);
    char old_hash[65];
    o = cached("q");
    snprintf(old_hash, sizeof(old_hash), "%s", sub_str(o, "status.specHash"));
    json_decref(o);
    for (int i = 0; i < 1000; i++) {
        reconcile_until("q", SUB_PHASE_AWAITING, false);
        o = cached("q");
        bool changed = strcmp(sub_str(o, "status.specHash"), old_hash) != 0;
        json_decref(o);
        if (changed)
            break;
    }
    /* a specHash that is no spec's hash (cut short, upper case) is a 400
     * saying what one is; the one seen before the edit a 409 naming both */
    char new_hash[65], upper[65], given[200];
    time_t deadline = time(NULL) + WAIT_S(30);
    for (;;) { /* the API reads the cache: once it has the edit */
        o = cached("q");
        ck_assert_int_eq(approval_spec_hash(o, new_hash), 0);
        json_decref(o);
        if (strcmp(new_hash, old_hash) != 0 || time(NULL) >= deadline)
            break;
        wait_pace();
    }
    ck_assert_str_ne(new_hash, old_hash);
    for (size_t i = 0; i < sizeof(upper); i++)
        upper[i] = (char)toupper((unsigned char)new_hash[i]);
    const char *not_hashes[] = {new_hash, upper};
    for (int i = 0; i < 2; i++) {
        snprintf(given, sizeof(given), "{\"specHash\":\"%.*s\"}", i ? 64 : 12, not_hashes[i]);
        ck_assert_int_eq(
            call("POST", "/api/v1/runnables/default/q/approve", "tok-carol", given, NULL, &r), 400);
        ck_assert_msg(strstr(sub_str(r, "error"), "is not a spec hash: one is 64 lower-case hex"),
                      "%s", sub_str(r, "error"));
        json_decref(r);
    }
    snprintf(given, sizeof(given), "{\"specHash\":\"%s\"}", old_hash);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/q/approve", "tok-carol", given, NULL, &r), 409);
    char want[300];
    snprintf(want, sizeof(want),
             "the spec changed since you looked: its hash is now %s, not %s: look again", new_hash,
             old_hash);
    ck_assert_str_eq(sub_str(r, "error"), want);
    json_decref(r);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/q/approve", "tok-carol", NULL, NULL, &r), 200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_AWAITING); /* 1 of 2: bob's voided */
    json_decref(r);
    ck_assert_int_eq(call("POST", "/api/v1/runnables/default/q/approve", "tok-bob", NULL, NULL, &r),
                     200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_DISPATCHING);
    json_decref(r);
    ck_assert(reconcile_until("q", SUB_PHASE_DISPATCHED, true));
    ck_assert(job_exists(1, "q-1")); /* the new spec's cluster */

    /* a rejection ends it */
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("nope", 1, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("nope", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/nope/reject", "tok-dave", NULL, NULL, NULL), 200);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/nope/approve", "tok-bob", NULL, NULL, NULL), 409);
    /* a body that does not say which spec is approved is refused, never
     * taken for no body */
    ck_assert_int_eq(call("POST", "/api/v1/runnables/default/nope/approve", "tok-bob",
                          "{\"specHash\":\"abc\"", NULL, NULL),
                     400);
    ck_assert_int_eq(call("POST", "/api/v1/runnables/default/nope/approve", "tok-bob",
                          "{\"specHash\":7}", NULL, NULL),
                     400);
    ck_assert(reconcile_until("nope", SUB_PHASE_REJECTED, false));

    /* created on the hub directly: submitted by unknown, approval required */
    json_t *direct =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s, s:s, s:{s:s}, s:{s:{s:{s:s, s:[{s:s, s:s}]}}}}}}",
                  "apiVersion", SUB_API_VERSION, "kind", "Runnable", "metadata", "name", "direct",
                  "spec", "template", "apiVersion", "batch/v1", "kind", "Job", "metadata", "name",
                  "d", "spec", "template", "spec", "restartPolicy", "Never", "containers", "name",
                  "c", "image", "busybox");
    ck_assert_int_eq(kr_client_create(E.hub, SUB_RUNNABLES, "default", direct, NULL, NULL, NULL),
                     0);
    json_decref(direct);
    ck_assert(reconcile_until("direct", SUB_PHASE_AWAITING, false));
    o = cached("direct");
    ck_assert_str_eq(sub_str(o, "status.submittedBy"), SUB_UNKNOWN_SUBMITTER);
    json_decref(o);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/direct/approve", "tok-erin", NULL, NULL, NULL),
        200);
    ck_assert(reconcile_until("direct", SUB_PHASE_DISPATCHED, true));
    env_down();
}
END_TEST

/* A spec changed after its approvals (kubectl edit between the approval
 * and the dispatch) is not dispatched on them: it waits for approvals of
 * the new spec, and only the new approved spec is created. */
START_TEST(a_spec_changed_after_its_approval_waits_for_a_new_one)
{
    env_up();
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("chg", 1, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("chg", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/chg/approve", "tok-bob", NULL, NULL, &r), 200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_DISPATCHING);
    json_decref(r);
    json_t *o = NULL, *updated = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "chg", &o, NULL), 0);
    json_object_set_new(json_object_get(o, "spec"), "clusters", json_pack("[s]", "dc2"));
    ck_assert_int_eq(kr_client_update(E.hub, SUB_RUNNABLES, "default", o, NULL, &updated, NULL), 0);
    json_decref(o);
    ck_assert_int_eq(kr_informer_wait_for_resource_version(
                         E.runnables, sub_str(updated, "metadata.resourceVersion"), WAIT_MS, NULL),
                     0);
    json_decref(updated);
    ck_assert(reconcile_until("chg", SUB_PHASE_AWAITING, false));
    for (int i = 0; i < 20; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "chg", &after, NULL);
    }
    o = cached("chg");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_AWAITING);
    /* the approver sees why the approvals dropped: the Approved condition
     * and a Warning Event on the Runnable say the edit voided bob's */
    char cond[400];
    condition_of(o, SUB_CONDITION_APPROVED, cond, sizeof(cond));
    ck_assert_msg(strstr(cond, "False SpecChanged: the spec changed") &&
                      strstr(cond, "1 approval given for the earlier spec no longer counts; 0 of "
                                   "1 approvals for the spec as it is now"),
                  "%s", cond);
    json_decref(o);
    ck_assert_int_eq(kr_event_recorder_flush(E.recorder, WAIT_MS), 0);
    kr_list_opts lo = {.field_selector = "involvedObject.name=chg,reason=ApprovalsVoided"};
    json_t *list = NULL;
    ck_assert_int_eq(kr_client_list(E.hub, KR_GVR("", "v1", "events"), "default", &lo, &list, NULL),
                     0);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 1);
    json_t *ev = json_array_get(json_object_get(list, "items"), 0);
    ck_assert_str_eq(sub_str(ev, "type"), "Warning");
    ck_assert_str_eq(sub_str(ev, "involvedObject.kind"), "Runnable");
    ck_assert_msg(strstr(sub_str(ev, "message"), "1 approval given for the earlier spec"), "%s",
                  sub_str(ev, "message"));
    json_decref(list);
    ck_assert(!job_exists(0, "chg-1") && !job_exists(1, "chg-1"));
    /* approved again, for the new spec: dispatched to its cluster */
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/chg/approve", "tok-carol", NULL, NULL, &r), 200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_DISPATCHING);
    ck_assert_str_eq(condition_of(r, SUB_CONDITION_APPROVED, cond, sizeof(cond)),
                     "True QuorumMet: 1 of 1 approvals for the spec as it is now");
    json_decref(r);
    ck_assert(reconcile_until("chg", SUB_PHASE_DISPATCHED, true));
    ck_assert(job_exists(1, "chg-1"));
    ck_assert(!job_exists(0, "chg-1"));
    env_down();
}
END_TEST

/* The approval policy is the one it was submitted under: an edit of the
 * spec on the hub (by anyone who may update Runnables) can raise what it
 * needs, never lower it or hand approving to another group. */
START_TEST(an_edit_of_the_spec_cannot_lower_the_approvals_it_needs)
{
    env_up();
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("gate", 2, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("gate", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/gate/approve", "tok-bob", NULL, NULL, NULL), 200);
    json_t *edit =
               json_pack("{s:{s:{s:i, s:s}}}", "spec", "approval", "required", 0, "group", "dev"),
           *updated = NULL;
    ck_assert_int_eq(kr_client_patch(E.hub, SUB_RUNNABLES, "default", "gate", NULL, KR_PATCH_MERGE,
                                     edit, NULL, &updated, NULL),
                     0);
    json_decref(edit);
    ck_assert_int_eq(kr_informer_wait_for_resource_version(
                         E.runnables, sub_str(updated, "metadata.resourceVersion"), WAIT_MS, NULL),
                     0);
    json_decref(updated);
    for (int i = 0; i < 20; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "gate", &after, NULL);
    }
    json_t *o = cached("gate");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_AWAITING);
    ck_assert_int_eq(sub_int(o, "status.approvalPolicy.required"), 2);
    ck_assert_str_eq(sub_str(o, "status.approvalPolicy.group"), "approvers");
    json_decref(o);
    ck_assert(!job_exists(0, "gate-1") && !job_exists(1, "gate-1"));
    /* erin is in no group; the edit named "dev", but approvers approve */
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/gate/approve", "tok-erin", NULL, NULL, NULL), 403);
    /* two approvers for the spec as it is now: dispatched */
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/gate/approve", "tok-carol", NULL, NULL, &r), 200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_AWAITING);
    json_decref(r);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/gate/approve", "tok-dave", NULL, NULL, &r), 200);
    ck_assert_str_eq(sub_str(r, "status.phase"), SUB_PHASE_DISPATCHING);
    json_decref(r);
    env_down();
}
END_TEST

/* How long the API's reviews may take in these tests. */
#define REVIEW_TIMEOUT_MS 2000

/* A TLS server in RBAC mode whose token file knows the reviewer (the
 * file's first user, in system:masters) and `users`; its client. */
typedef struct idp {
    char dir[256];
    kr_testserver_t *ts;
    kr_rest_config *cfg;
    kr_client_t *client;
} idp;

static bool idp_up(idp *p, const char *users)
{
    if (!kr_test_make_server_cert(p->dir, sizeof(p->dir), "submitter-idp"))
        return false;
    char tokfile[400], kubeconfig[400], text[1024];
    snprintf(text, sizeof(text), "idp-reviewer,reviewer,100,\"system:masters\"\n%s", users);
    kr_test_write_file(p->dir, "tokens.csv", text);
    snprintf(tokfile, sizeof(tokfile), "%s/tokens.csv", p->dir);
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", p->dir);
    char *crt = kr_test_read_file(p->dir, "srv.crt"), *key = kr_test_read_file(p->dir, "srv.key");
    ck_assert(crt && key);
    kr_testserver_opts o = {.seed = 9,
                            .tls_cert_pem = crt,
                            .tls_key_pem = key,
                            .token_auth_file = tokfile,
                            .rbac = true};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &p->ts, &err) == 0, "%s", err.message);
    free(crt);
    free(key);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(p->ts, kubeconfig, NULL, &err), 0);
    const char *paths[] = {kubeconfig};
    kr_kubeconfig_t *kc = NULL;
    ck_assert_msg(kr_kubeconfig_load_files(paths, 1, NULL, &kc, &err) == 0, "%s", err.message);
    ck_assert_msg(kr_kubeconfig_rest_config(kc, NULL, &p->cfg, &err) == 0, "%s", err.message);
    kr_kubeconfig_free(kc);
    /* longer than a review may take (REVIEW_TIMEOUT_MS), as a hub
     * client's request timeout may be */
    p->cfg->timeout_ms = 30000;
    kr_client_opts co = {.backoff_base_ms = 5, .backoff_max_ms = 20, .max_retries = 1};
    ck_assert_msg(kr_client_new(E.rt, p->cfg, &co, &p->client, &err) == 0, "%s", err.message);
    return true;
}

static void idp_down(idp *p)
{
    kr_client_free(p->client);
    kr_rest_config_free(p->cfg);
    kr_testserver_free(p->ts);
    kr_test_tmpdir_remove(p->dir);
}

/* The idp hangs (every answer held 20 s) and `path` is asked with `token`
 * (never asked before): 503 once the review's timeout (2 s) has passed,
 * not after the hold (nor the hub client's 30 s); `what` is in the
 * message. The bound sits halfway, far from both: a loaded machine may
 * answer seconds late. */
static void hub_hangs_503(idp *p, const char *path, const char *ns, const char *token,
                          const char *what)
{
    kr_testserver_faults hang = {.latency_ms = 20000};
    kr_testserver_set_faults(p->ts, &hang);
    char auth[128];
    snprintf(auth, sizeof(auth), "Bearer %s", token);
    api_request req = {.method = "GET", .path = path, .authorization = auth, .q_namespace = ns};
    api_response resp = {0};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    api_handle(&E.api, &req, &resp);
    double took = elapsed_s(&t0);
    const char *msg = json_string_value(json_object_get(resp.body, "error"));
    ck_assert_msg(resp.status == 503, "%d: %s", resp.status, msg ? msg : "");
    ck_assert_msg(msg && strstr(msg, what), "%s", msg ? msg : "(no message)");
    ck_assert_msg(took < 11.0, "answered after %.1f s", took);
    json_decref(resp.body);
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(p->ts, &none);
}

START_TEST(api_authenticates_by_the_hubs_token_review)
{
    env_up();
    idp p = {0};
    if (!idp_up(&p, "zoe-token,zoe,101,\"approvers\"\nyan-token,yan,102\n")) {
        kr_test_tmpdir_remove(p.dir);
        env_down();
        return;
    }
    kr_token_reviewer_opts ro = KR_TOKEN_REVIEWER_OPTS_INIT;
    ro.client = p.client;
    ro.timeout_ms = REVIEW_TIMEOUT_MS;
    ck_assert_int_eq(kr_token_reviewer_new(&ro, &E.api.reviewer, NULL), 0);
    /* a token only the cluster knows: its user is the submitter */
    json_t *o = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "zoe-token", job_runnable("tr", 1, ""), NULL, &o), 201);
    ck_assert_str_eq(sub_str(o, "status.submittedBy"), "zoe");
    json_decref(o);
    /* the file's tokens are its own: not asked of the cluster */
    kr_token_reviewer_stats st;
    kr_token_reviewer_get_stats(E.api.reviewer, &st, sizeof(st));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("tr2", 1, ""), NULL, NULL),
        201);
    kr_token_reviewer_stats st2;
    kr_token_reviewer_get_stats(E.api.reviewer, &st2, sizeof(st2));
    ck_assert_uint_eq(st2.reviews + st2.cache_hits, st.reviews + st.cache_hits);
    /* the cluster's groups count for approval; its users are not the author */
    ck_assert(reconcile_until("tr2", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/tr2/approve", "yan-token", NULL, NULL, NULL), 403);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/tr2/approve", "zoe-token", NULL, NULL, NULL), 200);
    ck_assert(reconcile_until("tr2", SUB_PHASE_DISPATCHED, true));
    ck_assert(reconcile_until("tr", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/tr/approve", "zoe-token", NULL, NULL, NULL), 403);
    /* whoami: the identity the API records, from either source */
    json_t *me = NULL;
    ck_assert_int_eq(call("GET", SUB_API_WHOAMI, "zoe-token", NULL, NULL, &me), 200);
    ck_assert_str_eq(sub_str(me, "username"), "zoe");
    ck_assert_str_eq(sub_str(me, "uid"), "101");
    json_t *want = json_pack("[s, s]", "approvers", "system:authenticated");
    ck_assert(json_equal(json_object_get(me, "groups"), want));
    json_decref(want);
    json_decref(me);
    ck_assert_int_eq(call("GET", SUB_API_WHOAMI, "tok-bob", NULL, NULL, &me), 200);
    ck_assert_str_eq(sub_str(me, "username"), "bob");
    ck_assert_str_eq(sub_str(me, "uid"), "2");
    json_decref(me);
    ck_assert_int_eq(call("POST", SUB_API_WHOAMI, "tok-bob", "{}", NULL, NULL), 405);
    ck_assert_int_eq(call("GET", SUB_API_WHOAMI, "nobody-token", NULL, NULL, NULL), 401);
    /* unknown everywhere */
    ck_assert_int_eq(call("GET", "/api/v1/runnables", "nobody-token", NULL, NULL, NULL), 401);
    ck_assert_int_eq(call("GET", "/api/v1/runnables", NULL, NULL, NULL, NULL), 401);
    /* the cluster hangs: a 503 once the review's timeout has passed */
    hub_hangs_503(&p, "/api/v1/runnables", NULL, "hang-token", "token review");
    ck_assert_int_eq(call("GET", "/api/v1/runnables", "zoe-token", NULL, NULL, NULL), 200);
    /* the cluster gone: a token it never answered for is a 503 that says
     * why, one it answered for stays good for the cache's ttl */
    kr_testserver_free(p.ts);
    p.ts = NULL;
    json_t *body = NULL;
    ck_assert_int_eq(call("GET", "/api/v1/runnables", "new-token", NULL, NULL, &body), 503);
    ck_assert_msg(strstr(json_string_value(json_object_get(body, "error")), "token review"), "%s",
                  json_string_value(json_object_get(body, "error")));
    json_decref(body);
    ck_assert_int_eq(call("GET", "/api/v1/runnables", "zoe-token", NULL, NULL, NULL), 200);
    ck_assert_int_eq(call("GET", "/api/v1/runnables", "tok-erin", NULL, NULL, NULL), 200);
    kr_token_reviewer_free(E.api.reviewer);
    E.api.reviewer = NULL;
    idp_down(&p);
    env_down();
}
END_TEST

static void idp_create(idp *p, const char *resource, const char *text)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    ck_assert_msg(obj != NULL, "%s", jerr.text);
    kr_error_t err = {0};
    ck_assert_msg(kr_client_create(p->client, KR_GVR("rbac.authorization.k8s.io", "v1", resource),
                                   "default", obj, NULL, NULL, &err) == 0,
                  "%s", err.message);
    json_decref(obj);
}

/* One API call with ?namespace=ns; the error message kept in msg. */
static int call_in(const char *method, const char *path, const char *ns, const char *token,
                   const char *body, char *msg, size_t msg_len)
{
    char auth[128];
    snprintf(auth, sizeof(auth), "Bearer %s", token);
    api_request req = {.method = method,
                       .path = path,
                       .authorization = auth,
                       .body = body,
                       .body_len = body ? strlen(body) : 0,
                       .q_namespace = ns};
    api_response resp = {0};
    api_handle(&E.api, &req, &resp);
    snprintf(msg, msg_len, "%s", sub_str(resp.body, "error"));
    json_decref(resp.body);
    return resp.status;
}

/* With --authorization-review, each call needs the hub's RBAC rights:
 * submit, get (a runnable, its history), list, approve (approve,
 * reject) and cancel on runnables.kreconcile.io, in the namespace; a
 * denial is a 403 in kube-apiserver's words and submits nothing. */
START_TEST(api_authorizes_by_the_hubs_rbac)
{
    env_up();
    idp p = {0};
    if (!idp_up(&p, "")) {
        kr_test_tmpdir_remove(p.dir);
        env_down();
        return;
    }
    idp_create(&p, "roles",
               "{\"metadata\":{\"name\":\"submit\"},\"rules\":[{\"apiGroups\":[\"kreconcile.io\"],"
               "\"resources\":[\"runnables\"],\"verbs\":[\"submit\",\"get\"]}]}");
    idp_create(&p, "rolebindings",
               "{\"metadata\":{\"name\":\"dev-submits\"},\"roleRef\":{\"apiGroup\":"
               "\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"submit\"},"
               "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\","
               "\"name\":\"dev\"}]}");
    idp_create(&p, "roles",
               "{\"metadata\":{\"name\":\"approve\"},\"rules\":[{\"apiGroups\":[\"kreconcile.io\"],"
               "\"resources\":[\"runnables\"],\"verbs\":[\"approve\",\"list\"]}]}");
    idp_create(&p, "rolebindings",
               "{\"metadata\":{\"name\":\"carol-approves\"},\"roleRef\":{\"apiGroup\":"
               "\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"approve\"},"
               "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"User\","
               "\"name\":\"carol\"}]}");
    idp_create(&p, "roles",
               "{\"metadata\":{\"name\":\"submit-only\"},\"rules\":[{\"apiGroups\":"
               "[\"kreconcile.io\"],\"resources\":[\"runnables\"],\"verbs\":[\"submit\"]}]}");
    idp_create(&p, "rolebindings",
               "{\"metadata\":{\"name\":\"erin-creates\"},\"roleRef\":{\"apiGroup\":"
               "\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"submit-only\"},"
               "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"User\","
               "\"name\":\"erin\"}]}");
    kr_access_reviewer_opts ao = KR_ACCESS_REVIEWER_OPTS_INIT;
    ao.client = p.client;
    ao.timeout_ms = REVIEW_TIMEOUT_MS;
    ck_assert_int_eq(kr_access_reviewer_new(&ao, &E.api.authorizer, NULL), 0);
    char msg[1200];
    /* dave may not submit: refused before his manifest is looked at, so
     * he learns nothing of the clusters or the kinds they serve */
    api_request probe = {.method = "POST",
                         .path = "/api/v1/runnables",
                         .authorization = "Bearer tok-dave",
                         .q_clusters = "dc9",
                         .body = "{\"apiVersion\":\"foo.io/v1\",\"kind\":\"Widget\","
                                 "\"metadata\":{\"name\":\"w\"}}"};
    probe.body_len = strlen(probe.body);
    api_response pr = {0};
    api_handle(&E.api, &probe, &pr);
    ck_assert_int_eq(pr.status, 403);
    json_decref(pr.body);
    /* erin may submit but not get: another's runnable of the same
     * idempotency key is not shown to her */
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", job_runnable("keyed", 1, ""),
                          "shared-key", NULL),
                     201);
    json_t *shown = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-erin", job_runnable("keyed2", 1, ""),
                          "shared-key", &shown),
                     403);
    ck_assert_msg(strstr(sub_str(shown, "error"), "cannot get resource"), "%s",
                  sub_str(shown, "error"));
    ck_assert_ptr_null(json_object_get(shown, "spec"));
    json_decref(shown);
    /* dave may not submit: nothing submitted, in kube-apiserver's words */
    ck_assert_int_eq(call_in("POST", "/api/v1/runnables", NULL, "tok-dave",
                             job_runnable("rb", 1, ""), msg, sizeof(msg)),
                     403);
    ck_assert_str_eq(msg, "runnables.kreconcile.io is forbidden: User \"dave\" cannot submit "
                          "resource \"runnables\" in API group \"kreconcile.io\" in the namespace "
                          "\"default\"");
    json_t *obj = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "rb", &obj, NULL),
                     KR_ENOTFOUND);
    ck_assert_int_eq(call_in("POST", "/api/v1/runnables", NULL, "tok-alice",
                             job_runnable("rb", 1, ""), msg, sizeof(msg)),
                     201);
    /* reading: get in the namespace, list where asked */
    ck_assert_int_eq(
        call_in("GET", "/api/v1/runnables/default/rb", NULL, "tok-alice", NULL, msg, sizeof(msg)),
        200);
    ck_assert_int_eq(
        call_in("GET", "/api/v1/runnables/default/rb", NULL, "tok-erin", NULL, msg, sizeof(msg)),
        403);
    ck_assert_str_eq(msg, "runnables.kreconcile.io \"rb\" is forbidden: User \"erin\" cannot get "
                          "resource \"runnables\" in API group \"kreconcile.io\" in the namespace "
                          "\"default\"");
    ck_assert_int_eq(call_in("GET", "/api/v1/runnables/default/rb/history", NULL, "tok-erin", NULL,
                             msg, sizeof(msg)),
                     403);
    ck_assert_int_eq(call_in("GET", "/api/v1/runnables", NULL, "tok-carol", NULL, msg, sizeof(msg)),
                     403);
    ck_assert_msg(strstr(msg, "cannot list resource \"runnables\" in API group \"kreconcile.io\" "
                              "at the cluster scope"),
                  "%s", msg);
    ck_assert_int_eq(
        call_in("GET", "/api/v1/runnables", "default", "tok-carol", NULL, msg, sizeof(msg)), 200);
    ck_assert_int_eq(
        call_in("GET", "/api/v1/runnables", "default", "tok-alice", NULL, msg, sizeof(msg)), 403);
    /* deciding: dave is of the approving group, but RBAC does not let him */
    ck_assert(reconcile_until("rb", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(call_in("POST", "/api/v1/runnables/default/rb/approve", NULL, "tok-dave", NULL,
                             msg, sizeof(msg)),
                     403);
    ck_assert_msg(strstr(msg, "User \"dave\" cannot approve resource"), "%s", msg);
    ck_assert_int_eq(call_in("POST", "/api/v1/runnables/default/rb/reject", NULL, "tok-dave", NULL,
                             msg, sizeof(msg)),
                     403);
    ck_assert_int_eq(call_in("POST", "/api/v1/runnables/default/rb/cancel", NULL, "tok-alice", NULL,
                             msg, sizeof(msg)),
                     403);
    ck_assert_msg(strstr(msg, "cannot cancel resource"), "%s", msg);
    ck_assert_int_eq(call_in("POST", "/api/v1/runnables/default/rb/approve", NULL, "tok-carol",
                             NULL, msg, sizeof(msg)),
                     200);
    ck_assert(reconcile_until("rb", SUB_PHASE_DISPATCHED, true));
    /* a wrong method or path is answered as before: nothing to authorize */
    ck_assert_int_eq(
        call_in("PUT", "/api/v1/runnables/default/rb", NULL, "tok-erin", NULL, msg, sizeof(msg)),
        405);
    /* the hub hangs: a 503 once the review's timeout has passed */
    hub_hangs_503(&p, "/api/v1/runnables", "team-hang", "tok-bob", "access review");
    /* the hub gone: a question it never answered is a 503 that says why */
    kr_testserver_free(p.ts);
    p.ts = NULL;
    ck_assert_int_eq(
        call_in("GET", "/api/v1/runnables", "default", "tok-bob", NULL, msg, sizeof(msg)), 503);
    ck_assert_msg(strstr(msg, "access review"), "%s", msg);
    kr_access_reviewer_free(E.api.authorizer);
    E.api.authorizer = NULL;
    /* without the review, anyone authenticated reads */
    ck_assert_int_eq(call_in("GET", "/api/v1/runnables", NULL, "tok-erin", NULL, msg, sizeof(msg)),
                     200);
    idp_down(&p);
    env_down();
}
END_TEST

/* The spec of a Job a cluster accepts, as a JSON member. */
#define JOB_SPEC_JSON                                                                              \
    "\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":"     \
    "\"c\",\"image\":\"busybox\"}]}}}"

typedef struct submit_arg {
    int i;
    int status;
} submit_arg;

static void *submit_one(void *p)
{
    submit_arg *a = p;
    char key[16];
    snprintf(key, sizeof(key), "key-%d", a->i % 20);
    const char *job = "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":"
                      "\"batch\"}," JOB_SPEC_JSON "}";
    a->status = call("POST", "/api/v1/runnables", "tok-alice", job, key, NULL);
    return NULL;
}

/* One key under a different manifest name per submission. */
static void *submit_renamed(void *p)
{
    submit_arg *a = p;
    char job[512];
    snprintf(job, sizeof(job),
             "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":"
             "\"renamed-%d\"}," JOB_SPEC_JSON "}",
             a->i);
    a->status = call("POST", "/api/v1/runnables", "tok-alice", job, "one-key", NULL);
    return NULL;
}

START_TEST(idempotency_key_gives_one_runnable)
{
    env_up();
    json_t *a = NULL, *b = NULL;
    const char *job = "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":"
                      "\"once\"}," JOB_SPEC_JSON "}";
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", job, "same", &a), 201);
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", job, "same", &b), 200);
    ck_assert_str_eq(sub_str(a, "metadata.uid"), sub_str(b, "metadata.uid"));
    json_decref(b);
    /* the same key under another manifest name: still the first */
    ck_assert_int_eq(kr_informer_wait_for_resource_version(
                         E.runnables, sub_str(a, "metadata.resourceVersion"), WAIT_MS, NULL),
                     0);
    const char *renamed = "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":"
                          "\"other\"}," JOB_SPEC_JSON "}";
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", renamed, "same", &b), 200);
    ck_assert_str_eq(sub_str(a, "metadata.uid"), sub_str(b, "metadata.uid"));
    json_decref(a);
    json_decref(b);
    /* the same key for another workload is a mistake, told: 409 */
    const char *other = "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":"
                        "\"once\"},\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
                        "\"containers\":[{\"name\":\"c\",\"image\":\"other\"}]}}}}";
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-bob", other, "same", &b), 409);
    ck_assert_msg(strstr(sub_str(b, "error"), "idempotency key same was used for another template"),
                  "%s", sub_str(b, "error"));
    json_decref(b);

    pthread_t th[100];
    submit_arg args[100];
    for (int i = 0; i < 100; i++) {
        args[i].i = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, submit_one, &args[i]), 0);
    }
    int created = 0;
    for (int i = 0; i < 100; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(args[i].status == 201 || args[i].status == 200, "status %d", args[i].status);
        created += args[i].status == 201;
    }
    ck_assert_int_eq(created, 20);
    /* 20 at once with one key, each under its own manifest name: one */
    for (int i = 0; i < 20; i++) {
        args[i].i = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, submit_renamed, &args[i]), 0);
    }
    created = 0;
    for (int i = 0; i < 20; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(args[i].status == 201 || args[i].status == 200, "status %d", args[i].status);
        created += args[i].status == 201;
    }
    ck_assert_int_eq(created, 1);
    json_t *list = NULL;
    ck_assert_int_eq(kr_client_list(E.hub, SUB_RUNNABLES, "default", NULL, &list, NULL), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 22);
    json_decref(list);
    env_down();
}
END_TEST

/* dc1 goes down at `point`; the runnable must end Succeeded in dc2 only,
 * and dc1's copy (if the create reached it) must go once dc1 returns. */
static void failover_case(sub_hook_point point, const char *const *want, size_t n_want,
                          const char *optional)
{
    env_up();
    E.down_at = point;
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("fo", 0, "dc1, dc2"), NULL, &r),
        201);
    json_decref(r);
    uint64_t after = 0;
    /* paced: a reconcile finding the cache behind its last write waits */
    for (int i = 0; i < 1000 && !E.down_done; i++) {
        submitter_reconcile(&E.s, "default", "fo", &after, NULL);
        if (!E.down_done)
            wait_pace();
    }
    ck_assert(E.down_done);
    json_t *o = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "fo", &o, NULL), 0);
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc1");
    ck_assert_int_eq(sub_int(o, "status.attempt"), 1);
    json_decref(o);
    /* nothing moves before --failover-after */
    for (int i = 0; i < 3; i++)
        submitter_reconcile(&E.s, "default", "fo", &after, NULL);
    o = cached("fo");
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc1");
    json_decref(o);
    advance_ms(FAILOVER_MS + 1);
    /* dispatched and verified again, in dc2: when the create reached dc1,
     * the runnable was dispatched and verified there already */
    ck_assert(reconcile_until_in("fo", "dc2", SUB_PHASE_DISPATCHED, true));
    o = cached("fo");
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc2");
    ck_assert_int_eq(sub_int(o, "status.attempt"), 2);
    json_decref(o);
    mark_job(1, "fo-2", "Complete");
    ck_assert(reconcile_until("fo", SUB_PHASE_SUCCEEDED, true));
    /* dc1 returns: a copy there has not started and goes */
    dc_down(0, false);
    advance_ms(FAILOVER_MS);
    for (int i = 0; i < 1000; i++) {
        uint64_t a2 = 0;
        submitter_reconcile(&E.s, "default", "fo", &a2, NULL);
        o = cached("fo");
        const char *state = sub_str(
            json_array_get(json_object_get(json_object_get(o, "status"), "attempts"), 0), "state");
        bool gone = strcmp(state, "Deleted") == 0;
        json_decref(o);
        if (gone)
            break;
        wait_pace();
    }
    ck_assert(!job_exists(0, "fo-1"));
    o = cached("fo");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_SUCCEEDED);
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc2");
    json_decref(o);
    assert_events_but(want, n_want, optional);
    env_down();
}

/* Verified means observed for the current attempt: once a runnable
 * verified in dc1 fails over, its Verified condition says False until
 * dc2's cache observed the new create (`kubectl wait
 * --for=condition=Verified` said "condition met" for the new attempt). */
START_TEST(the_verified_condition_follows_the_current_attempt)
{
    env_up();
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("vc", 0, "dc1, dc2"), NULL, &r),
        201);
    json_decref(r);
    ck_assert(reconcile_until_in("vc", "dc1", SUB_PHASE_DISPATCHED, true));
    json_t *o = cached("vc");
    ck_assert(sub_condition_true(o, "Verified"));
    json_decref(o);
    E.check_verified_at_decision = true;
    dc_down(0, true);
    uint64_t wait = 0;
    advance_ms(E.s.probe_interval_ms);
    submitter_probe_cluster(&E.s, 0); /* dc1 is found gone */
    submitter_reconcile(&E.s, "default", "vc", &wait, NULL);
    advance_ms(FAILOVER_MS + 1);
    submitter_probe_cluster(&E.s, 0);
    bool moved = false;
    for (int i = 0; i < 1000 && !moved; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "vc", &after, NULL);
        o = cached("vc");
        moved = strcmp(sub_str(o, "status.cluster"), "dc2") == 0;
        if (moved && !json_is_true(json_object_get(json_object_get(o, "status"), "verified")))
            ck_assert_msg(!sub_condition_true(o, "Verified"),
                          "attempt %lld in dc2 is not verified, yet its condition says so",
                          (long long)sub_int(o, "status.attempt"));
        json_decref(o);
        if (!moved)
            wait_pace();
    }
    ck_assert(moved);
    ck_assert_int_eq(atomic_load(&E.verified_too_early), 0);
    ck_assert(reconcile_until_in("vc", "dc2", SUB_PHASE_DISPATCHED, true));
    o = cached("vc");
    ck_assert(sub_condition_true(o, "Verified"));
    json_decref(o);
    dc_down(0, false);
    env_down();
}
END_TEST

/* An outage that ends before --failover-after fails nothing over, also
 * when the delay ends before the next probe would come: the verdict at
 * the deadline must come from a request sent after it, never from one of
 * before (a 4.3 s outage with a 5 s delay and probes every 1.25 s failed
 * over). */
START_TEST(an_outage_shorter_than_the_delay_fails_nothing_over)
{
    env_up();
    json_t *r = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("blip", 0, "dc1, dc2"), NULL, &r),
                     201);
    json_decref(r);
    ck_assert(reconcile_until_in("blip", "dc1", SUB_PHASE_DISPATCHED, true));
    /* the probe thread's rounds: dc1 fails at each, the last one a
     * quarter of the delay before its end and a little late */
    dc_down(0, true);
    uint64_t after = 0;
    advance_ms(E.s.probe_interval_ms); /* the dispatch asked dc1 last */
    for (int i = 0; i < 4; i++) {
        submitter_probe_cluster(&E.s, 0);
        submitter_reconcile(&E.s, "default", "blip", &after, NULL);
        advance_ms(i < 2 ? E.s.probe_interval_ms : i == 2 ? E.s.probe_interval_ms + 30 : 0);
    }
    /* dc1 answers again; the deadline passes 20 ms before the next
     * probe's turn */
    dc_down(0, false);
    advance_ms(E.s.probe_interval_ms - 20);
    for (int i = 0; i < 20; i++) {
        submitter_reconcile(&E.s, "default", "blip", &after, NULL);
        submitter_probe_cluster(&E.s, 0);
        wait_pace();
    }
    json_t *o = cached("blip");
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc1");
    ck_assert_int_eq(sub_int(o, "status.attempt"), 1);
    json_decref(o);
    pthread_mutex_lock(&E.mu);
    ck_assert_int_eq(E.failovers, 0);
    pthread_mutex_unlock(&E.mu);
    env_down();
}
END_TEST

START_TEST(failover_when_dc1_dies_before_the_create)
{
    const char *want[] = {"SUBMITTED fo alice", "FAILED_OVER fo kr-submitter dc2",
                          "DISPATCHED fo kr-submitter dc2", "VERIFIED fo kr-submitter dc2",
                          "SUCCEEDED fo kr-submitter dc2"};
    failover_case(SUB_HOOK_AFTER_DECISION, want, 5, NULL);
}
END_TEST

/* A spec changed after its dispatch voids the approvals; when a failover
 * then waits for approval again, the copy in dc1, released but not
 * started, goes once dc1 answers: nobody has approved what it would run.
 * A rejection then ends it with no copy anywhere. */
START_TEST(a_copy_of_an_approval_voided_since_goes_while_the_runnable_waits)
{
    env_up();
    json_t *r = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("respec", 1, "dc1, dc2"), NULL, &r),
                     201);
    json_decref(r);
    ck_assert(reconcile_until("respec", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/respec/approve", "tok-bob", NULL, NULL, NULL), 200);
    ck_assert(reconcile_until_in("respec", "dc1", SUB_PHASE_DISPATCHED, true));
    ck_assert(job_exists(0, "respec-1"));
    json_t *edit = json_loads("{\"spec\":{\"template\":{\"spec\":{\"template\":{\"spec\":{"
                              "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\","
                              "\"command\":[\"changed\"]}]}}}}}}",
                              0, NULL);
    ck_assert_int_eq(kr_client_patch(E.hub, SUB_RUNNABLES, "default", "respec", NULL,
                                     KR_PATCH_MERGE, edit, NULL, NULL, NULL),
                     0);
    json_decref(edit);
    dc_down(0, true);
    uint64_t wait = 0;
    advance_ms(E.s.probe_interval_ms);
    submitter_probe_cluster(&E.s, 0); /* dc1 is found gone */
    submitter_reconcile(&E.s, "default", "respec", &wait, NULL);
    advance_ms(FAILOVER_MS + 1);
    submitter_probe_cluster(&E.s, 0);
    bool waits = reconcile_until("respec", SUB_PHASE_AWAITING, false);
    json_t *o = cached("respec");
    char *st = json_dumps(json_object_get(o, "status"), JSON_COMPACT);
    ck_assert_msg(waits, "%s", st);
    free(st);
    ck_assert_int_eq(sub_int(o, "status.attempt"), 2);
    json_decref(o);
    dc_down(0, false);
    ck_assert(job_exists(0, "respec-1")); /* nothing was taken for gone meanwhile */
    advance_ms(FAILOVER_MS);
    for (int i = 0; i < 1000 && job_exists(0, "respec-1"); i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "respec", &after, NULL);
        wait_pace();
    }
    ck_assert(!job_exists(0, "respec-1"));
    o = cached("respec");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_AWAITING);
    json_decref(o);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/respec/reject", "tok-bob", NULL, NULL, NULL), 200);
    ck_assert(reconcile_until("respec", SUB_PHASE_REJECTED, false));
    for (int i = 0; i < 20; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "respec", &after, NULL);
    }
    ck_assert(!job_exists(0, "respec-1"));
    ck_assert(!job_exists(0, "respec-2"));
    ck_assert(!job_exists(1, "respec-2"));
    env_down();
}
END_TEST

/* A copy whose labels someone took away leaves the cache (it holds only
 * ours) but still runs: the cluster is asked, the labels go back, and the
 * runnable follows it to its end. A copy that is really gone fails it. */
START_TEST(a_copy_that_lost_its_labels_is_followed_a_deleted_one_fails)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("bare", 0, "dc1"), NULL, NULL),
        201);
    ck_assert(reconcile_until_in("bare", "dc1", SUB_PHASE_DISPATCHED, true));
    json_t *strip = json_pack("{s:{s:{s:n, s:n}}}", "metadata", "labels", SUB_LABEL_SOURCE_UID,
                              SUB_LABEL_MANAGED_BY),
           *out = NULL;
    ck_assert_int_eq(kr_client_patch(E.dc[0], JOBS, "default", "bare-1", NULL, KR_PATCH_MERGE,
                                     strip, NULL, &out, NULL),
                     0);
    json_decref(strip);
    ck_assert_int_eq(kr_informer_wait_for_resource_version(
                         E.copies[0], sub_str(out, "metadata.resourceVersion"), WAIT_MS, NULL),
                     0);
    json_decref(out);
    for (int i = 0; i < 20; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "bare", &after, NULL);
    }
    json_t *o = cached("bare");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_DISPATCHED);
    json_decref(o);
    json_t *job = NULL;
    ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "default", "bare-1", &job, NULL), 0);
    ck_assert_str_eq(sub_label(job, SUB_LABEL_MANAGED_BY), "kr-submitter");
    json_decref(job);
    mark_job(0, "bare-1", "Complete");
    ck_assert(reconcile_until("bare", SUB_PHASE_SUCCEEDED, true));

    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("gone", 0, "dc1"), NULL, NULL),
        201);
    ck_assert(reconcile_until_in("gone", "dc1", SUB_PHASE_DISPATCHED, true));
    ck_assert_int_eq(kr_client_delete(E.dc[0], JOBS, "default", "gone-1", NULL, NULL, NULL), 0);
    ck_assert(reconcile_until("gone", SUB_PHASE_FAILED, false));

    /* deleted on the hub while its copy has no labels: the copy the books
     * say we created goes all the same, before the finalizer */
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("hid", 0, "dc1"), NULL, NULL),
        201);
    ck_assert(reconcile_until_in("hid", "dc1", SUB_PHASE_DISPATCHED, true));
    strip = json_pack("{s:{s:{s:n, s:n}}}", "metadata", "labels", SUB_LABEL_SOURCE_UID,
                      SUB_LABEL_MANAGED_BY);
    ck_assert_int_eq(kr_client_patch(E.dc[0], JOBS, "default", "hid-1", NULL, KR_PATCH_MERGE, strip,
                                     NULL, NULL, NULL),
                     0);
    json_decref(strip);
    ck_assert_int_eq(kr_client_delete(E.hub, SUB_RUNNABLES, "default", "hid", NULL, NULL, NULL), 0);
    /* the delete seen first: the labels are not put back by a follow */
    for (int i = 0;; i++) {
        json_t *c = cached("hid");
        bool seen = c && *sub_str(c, "metadata.deletionTimestamp");
        json_decref(c);
        if (seen)
            break;
        ck_assert_msg(i < 1000, "the hub cache never saw the delete");
        wait_pace();
    }
    bool deleted = false;
    for (int i = 0; i < 1000 && !deleted; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "hid", &after, NULL);
        deleted = kr_client_get(E.hub, SUB_RUNNABLES, "default", "hid", NULL, NULL) == KR_ENOTFOUND;
        if (!deleted)
            wait_pace();
    }
    ck_assert(deleted);
    ck_assert(!job_exists(0, "hid-1"));
    env_down();
}
END_TEST

/* A copy relabelled to another runnable's uid is not this runnable's any
 * more: the cache holds it under our name, but it is not followed (its
 * outcome would be taken for ours); the runnable fails, CopyTaken. */
START_TEST(a_copy_relabelled_to_another_runnable_fails_it)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("mine", 0, "dc1"), NULL, NULL),
        201);
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("theirs", 0, "dc1"), NULL, NULL),
                     201);
    ck_assert(reconcile_until_in("mine", "dc1", SUB_PHASE_DISPATCHED, true));
    json_t *other = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "theirs", &other, NULL), 0);
    json_t *relabel = json_pack("{s:{s:{s:s}}}", "metadata", "labels", SUB_LABEL_SOURCE_UID,
                                sub_str(other, "metadata.uid")),
           *out = NULL;
    json_decref(other);
    ck_assert_int_eq(kr_client_patch(E.dc[0], JOBS, "default", "mine-1", NULL, KR_PATCH_MERGE,
                                     relabel, NULL, &out, NULL),
                     0);
    json_decref(relabel);
    ck_assert_int_eq(kr_informer_wait_for_resource_version(
                         E.copies[0], sub_str(out, "metadata.resourceVersion"), WAIT_MS, NULL),
                     0);
    char rv[64];
    snprintf(rv, sizeof(rv), "%s", sub_str(out, "metadata.resourceVersion"));
    json_decref(out);
    /* its end is not ours either */
    mark_job(0, "mine-1", "Complete");
    ck_assert(reconcile_until("mine", SUB_PHASE_FAILED, false));
    json_t *o = cached("mine");
    const json_t *c = NULL;
    size_t i;
    json_t *each;
    json_array_foreach(json_object_get(json_object_get(o, "status"), "conditions"), i, each)
    {
        if (strcmp(sub_str(each, "type"), "Failed") == 0)
            c = each;
    }
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(sub_str(c, "reason"), "CopyTaken");
    json_decref(o);
    /* nothing of it deleted: the object is another's now */
    ck_assert(job_exists(0, "mine-1"));
    env_down();
}
END_TEST

/* The recorded event that starts with `prefix` (its index), its
 * resourceVersion and its outcome copied out; -1 when none. */
static long recorded_event(const char *prefix, char *rv, size_t rv_len, char *outcome,
                           size_t outcome_len)
{
    long found = -1;
    pthread_mutex_lock(&E.mu);
    for (size_t i = 0; i < E.n_events && found < 0; i++) {
        if (strncmp(E.events[i], prefix, strlen(prefix)) != 0)
            continue;
        found = (long)i;
        const char *at = strstr(E.events[i], " rv=");
        snprintf(rv, rv_len, "%s", at ? at + 4 : "");
        snprintf(outcome, outcome_len, "%s", E.outcomes[i]);
    }
    pthread_mutex_unlock(&E.mu);
    return found;
}

/* Review finding: some records named no resourceVersion: an approval the
 * controller recorded late (its API could not) named the hub without
 * one, and its outcome was the late record's words, not what the
 * decision did; the CANCELLED of a Runnable deleted on the hub, and the
 * FAILED of a copy deleted in its cluster, named the cluster without
 * one. Each names the resourceVersion of the object it talks about: the
 * late decision the Runnable's (a state of it that holds the decision),
 * the hub's delete the Runnable's as its last write left it, the copy's
 * delete the cluster's that its cache had observed without the copy (a
 * GET of a deleted copy answers with none). */
START_TEST(every_record_names_the_resourceversion_of_its_object)
{
    env_up();
    char rv[64], outcome[200];
    /* an approval recorded late, by the controller */
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("late", 1, "dc1"), NULL, NULL),
        201);
    ck_assert(reconcile_until("late", SUB_PHASE_AWAITING, false));
    atomic_store(&E.records_down, true);
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/late/approve", "tok-bob", NULL, NULL, &r), 200);
    long long decided_rv = atoll(sub_str(r, "metadata.resourceVersion"));
    json_decref(r);
    ck_assert_int_lt(recorded_event("APPROVED late", rv, sizeof(rv), outcome, sizeof(outcome)), 0);
    atomic_store(&E.records_down, false);
    ck_assert(reconcile_until("late", SUB_PHASE_DISPATCHED, true));
    ck_assert_int_ge(
        recorded_event("APPROVED late bob  rv=", rv, sizeof(rv), outcome, sizeof(outcome)), 0);
    /* a state of the Runnable that holds the decision: its write or later */
    ck_assert_msg(atoll(rv) >= decided_rv, "rv %s, the decision's write %lld", rv, decided_rv);
    ck_assert_msg(strncmp(outcome, "approved: quorum met (recorded late", 35) == 0, "%s", outcome);

    /* the copy deleted in its cluster */
    ck_assert_int_eq(kr_client_delete(E.dc[0], JOBS, "default", "late-1", NULL, NULL, NULL), 0);
    ck_assert(reconcile_until("late", SUB_PHASE_FAILED, false));
    json_t *o = cached("late");
    long long created_rv = atoll(sub_str(o, "status.dispatchedResourceVersion"));
    json_decref(o);
    ck_assert_int_ge(recorded_event("FAILED late kr-submitter dc1 rv=", rv, sizeof(rv), outcome,
                                    sizeof(outcome)),
                     0);
    ck_assert_msg(atoll(rv) > created_rv, "FAILED rv %s, the copy was created at %lld", rv,
                  created_rv);

    /* deleted on the hub while it runs */
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("hubdel", 0, "dc1"), NULL, NULL),
                     201);
    ck_assert(reconcile_until("hubdel", SUB_PHASE_DISPATCHED, true));
    o = cached("hubdel");
    long long before_rv = atoll(sub_str(o, "metadata.resourceVersion"));
    json_decref(o);
    ck_assert_int_eq(kr_client_delete(E.hub, SUB_RUNNABLES, "default", "hubdel", NULL, NULL, NULL),
                     0);
    bool deleted = false;
    for (int i = 0; i < 1000 && !deleted; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "hubdel", &after, NULL);
        deleted =
            kr_client_get(E.hub, SUB_RUNNABLES, "default", "hubdel", NULL, NULL) == KR_ENOTFOUND;
        if (!deleted)
            wait_pace();
    }
    ck_assert(deleted);
    ck_assert_int_ge(recorded_event("CANCELLED hubdel kr-submitter  rv=", rv, sizeof(rv), outcome,
                                    sizeof(outcome)),
                     0);
    ck_assert_msg(atoll(rv) > before_rv, "CANCELLED rv %s, before the delete %lld", rv, before_rv);
    ck_assert_str_eq(outcome, "deleted on the hub: its copies are deleted (placed in dc1)");
    env_down();
}
END_TEST

START_TEST(failover_when_dc1_dies_after_the_create)
{
    const char *want[] = {"SUBMITTED fo alice",
                          "DISPATCHED fo kr-submitter dc1",
                          "FAILED_OVER fo kr-submitter dc2",
                          "DISPATCHED fo kr-submitter dc2",
                          "VERIFIED fo kr-submitter dc2",
                          "SUCCEEDED fo kr-submitter dc2"};
    /* dc1's informer may have seen the create before dc1 went away: then
     * the copy was verified, but held (suspended), so it never started */
    failover_case(SUB_HOOK_AFTER_CREATE, want, 6, "VERIFIED fo kr-submitter dc1");
}
END_TEST

/* Namespace team-x on the hub and dc1, none in dc2: dc2 refuses every
 * create there for good (404, as a 403 or a 422 would). */
static void team_x_up(void)
{
    static const char ns[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-x\"}}";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(E.hub_ts, ns, strlen(ns), &err) == 0, "%s", err.message);
    ck_assert_msg(kr_testserver_load(E.dc_ts[0], ns, strlen(ns), &err) == 0, "%s", err.message);
}

/* alice submits team-x/name to `clusters` (`required` approvals). */
static void submit_to_team_x_in(const char *name, int required, const char *clusters)
{
    const char *body = job_runnable(name, required, clusters);
    api_request req = {.method = "POST",
                       .path = "/api/v1/runnables",
                       .authorization = "Bearer tok-alice",
                       .body = body,
                       .body_len = strlen(body),
                       .q_namespace = "team-x"};
    api_response resp = {0};
    api_handle(&E.api, &req, &resp);
    ck_assert_msg(resp.status == 201, "%d %s", resp.status, sub_str(resp.body, "error"));
    json_decref(resp.body);
}

/* alice submits team-x/name to dc1, dc2 (`required` approvals). */
static void submit_to_team_x(const char *name, int required)
{
    submit_to_team_x_in(name, required, "dc1, dc2");
}

/* dc1 down past --failover-after: team-x/name fails over to dc2, which
 * refuses the create, and goes back to attempt 1 in dc1 (`phase`), the
 * refusal on its status; dc1 stays away past two more delays and nothing
 * goes to dc2 again. */
static void refused_failover_goes_back(const char *name, const char *phase)
{
    dc_down(0, true);
    uint64_t after = 0;
    advance_ms(E.s.probe_interval_ms);
    submitter_probe_cluster(&E.s, 0); /* dc1 is found gone */
    submitter_reconcile(&E.s, "team-x", name, &after, NULL);
    advance_ms(FAILOVER_MS + 1);
    submitter_probe_cluster(&E.s, 0);
    bool decided = false;
    for (int i = 0; i < 1000 && !decided; i++) {
        submitter_reconcile(&E.s, "team-x", name, &after, NULL);
        json_t *o = cached_in("team-x", name);
        decided = sub_condition_true(o, "CreateRefused") ||
                  sub_phase_terminal(sub_str(o, "status.phase"));
        json_decref(o);
        if (!decided)
            wait_pace();
    }
    json_t *o = cached_in("team-x", name);
    char *st = json_dumps(json_object_get(o, "status"), JSON_COMPACT);
    ck_assert_msg(decided && strcmp(sub_str(o, "status.phase"), phase) == 0 &&
                      sub_condition_true(o, "CreateRefused"),
                  "%s", st);
    ck_assert_msg(strstr(st, "create in dc2 refused: namespaces \\\"team-x\\\" not found"), "%s",
                  st);
    free(st);
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc1");
    ck_assert_int_eq(sub_int(o, "status.attempt"), 1);
    const json_t *attempts = json_object_get(json_object_get(o, "status"), "attempts");
    ck_assert_uint_eq(json_array_size(attempts), 2);
    ck_assert_str_eq(sub_str(json_array_get(attempts, 1), "cluster"), "dc2");
    ck_assert_str_eq(sub_str(json_array_get(attempts, 1), "state"), "Refused");
    json_decref(o);
    for (int round = 0; round < 2; round++) {
        advance_ms(FAILOVER_MS + 1);
        submitter_probe_cluster(&E.s, 0);
        for (int i = 0; i < 20; i++) {
            submitter_reconcile(&E.s, "team-x", name, &after, NULL);
            submitter_probe_cluster(&E.s, 0);
            wait_pace();
        }
    }
    o = cached_in("team-x", name);
    st = json_dumps(json_object_get(o, "status"), JSON_COMPACT);
    ck_assert_msg(sub_int(o, "status.attempt") == 1 &&
                      json_array_size(json_object_get(json_object_get(o, "status"), "attempts")) ==
                          2 &&
                      !sub_phase_terminal(sub_str(o, "status.phase")),
                  "%s", st);
    free(st);
    json_decref(o);
}

/* dc1 is back: team-x/name's copy in dc1 (name-1) is released, completes,
 * and the runnable ends Succeeded from it, the only copy made. */
static void earlier_copy_completes(const char *name)
{
    dc_down(0, false);
    advance_ms(FAILOVER_MS);
    char copy[64];
    snprintf(copy, sizeof(copy), "%s-1", name);
    uint64_t after = 0;
    bool released = false;
    for (int i = 0; i < 1000 && !released; i++) {
        submitter_reconcile(&E.s, "team-x", name, &after, NULL);
        json_t *job = NULL;
        if (kr_client_get(E.dc[0], JOBS, "team-x", copy, &job, NULL) == 0)
            released = !json_is_true(json_object_get(json_object_get(job, "spec"), "suspend"));
        json_decref(job);
        if (!released)
            wait_pace();
    }
    ck_assert(released);
    mark_job_in(0, "team-x", copy, "Complete");
    ck_assert(reconcile_until_at("team-x", name, "dc1", SUB_PHASE_SUCCEEDED, true));
    for (int i = 0; i < 20; i++) {
        submitter_reconcile(&E.s, "team-x", name, &after, NULL);
        wait_pace();
    }
    json_t *o = cached_in("team-x", name);
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_SUCCEEDED);
    ck_assert_int_eq(sub_int(o, "status.attempt"), 1);
    /* the refusal held the runnable back no more once it ended: said so */
    char cond[1600];
    condition_of(o, SUB_CONDITION_CREATE_REFUSED, cond, sizeof(cond));
    ck_assert_msg(strncmp(cond, "False Succeeded: ", 17) == 0, "%s", cond);
    json_decref(o);
    json_t *job = NULL;
    ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "team-x", copy, &job, NULL), 0);
    ck_assert_str_eq(failover_outcome(job), SUB_PHASE_SUCCEEDED);
    json_decref(job);
    /* the only copy: none was made in dc2 */
    snprintf(copy, sizeof(copy), "%s-2", name);
    ck_assert_int_eq(kr_client_get(E.dc[1], JOBS, "team-x", copy, NULL, NULL), KR_ENOTFOUND);
    ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "team-x", copy, NULL, NULL), KR_ENOTFOUND);
}

/* dc1 goes away after attempt 1's create and the runnable fails over to
 * dc2, which refuses the create for good (no namespace team-x there). dc1
 * was only out of reach, so its copy may be running: the runnable does not
 * end for a cluster that cannot take the work (it ended Failed,
 * CreateFailed, and dc1's copy was deleted as a straggler of a finished
 * runnable on its return). It goes back to following attempt 1, the
 * refusal a condition and a FAILED_OVER back to dc1 in the books; dc2 is
 * not tried again for this spec (no failover to it and back every
 * --failover-after). dc1 returns: its copy is followed to its end, the
 * only copy made, completed once. */
START_TEST(a_failover_refused_for_good_goes_back_to_the_earlier_copy)
{
    env_up();
    team_x_up();
    submit_to_team_x("back", 0);
    ck_assert(reconcile_until_at("team-x", "back", "dc1", SUB_PHASE_DISPATCHED, true));
    refused_failover_goes_back("back", SUB_PHASE_DISPATCHED);
    earlier_copy_completes("back");
    const char *want[] = {"SUBMITTED back alice",
                          "DISPATCHED back kr-submitter dc1",
                          "VERIFIED back kr-submitter dc1",
                          "FAILED_OVER back kr-submitter dc2",
                          "FAILED_OVER back kr-submitter dc1",
                          "SUCCEEDED back kr-submitter dc1"};
    /* dc1's copy, verified before dc1 went away, is observed again on its
     * return (status.verified) but VERIFIED once in the books */
    assert_events(want, 6);
    env_down();
}
END_TEST

/* The same refusal when dc1 went away before attempt 1's create was known
 * to land (only its decision is on the hub): the runnable goes back to
 * dispatching attempt 1 in dc1, whose create is sent once dc1 answers, and
 * completes there. And when the copy followed again turns out to be gone
 * on dc1's return, the runnable fails (CopyDeleted), with no third attempt
 * and nothing in dc2. */
START_TEST(a_refused_failover_waits_for_a_decided_attempt_and_fails_on_a_gone_copy)
{
    env_up();
    team_x_up();
    submit_to_team_x("dec", 1);
    ck_assert(reconcile_until_at("team-x", "dec", NULL, SUB_PHASE_AWAITING, false));
    dc_down(0, true); /* before the decision: its create fails */
    api_request req = {.method = "POST",
                       .path = "/api/v1/runnables/team-x/dec/approve",
                       .authorization = "Bearer tok-bob"};
    api_response resp = {0};
    api_handle(&E.api, &req, &resp);
    ck_assert_msg(resp.status == 200, "%d %s", resp.status, sub_str(resp.body, "error"));
    json_decref(resp.body);
    uint64_t after = 0;
    for (int i = 0; i < 20; i++) {
        submitter_reconcile(&E.s, "team-x", "dec", &after, NULL);
        wait_pace();
    }
    json_t *o = cached_in("team-x", "dec");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_DISPATCHING);
    ck_assert_int_eq(sub_int(o, "status.attempt"), 1);
    json_decref(o);
    refused_failover_goes_back("dec", SUB_PHASE_DISPATCHING);
    earlier_copy_completes("dec");
    const char *want[] = {"SUBMITTED dec alice",
                          "APPROVED dec bob",
                          "FAILED_OVER dec kr-submitter dc2",
                          "FAILED_OVER dec kr-submitter dc1",
                          "DISPATCHED dec kr-submitter dc1",
                          "VERIFIED dec kr-submitter dc1",
                          "SUCCEEDED dec kr-submitter dc1"};
    assert_events(want, 7);

    submit_to_team_x("gone", 0);
    ck_assert(reconcile_until_at("team-x", "gone", "dc1", SUB_PHASE_DISPATCHED, true));
    /* deleted in dc1 just before dc1 goes away, no reconcile in between */
    ck_assert_int_eq(kr_client_delete(E.dc[0], JOBS, "team-x", "gone-1", NULL, NULL, NULL), 0);
    refused_failover_goes_back("gone", SUB_PHASE_DISPATCHED);
    dc_down(0, false);
    advance_ms(FAILOVER_MS);
    ck_assert(reconcile_until_at("team-x", "gone", "dc1", SUB_PHASE_FAILED, false));
    o = cached_in("team-x", "gone");
    char *st = json_dumps(json_object_get(o, "status"), JSON_COMPACT);
    ck_assert_msg(strstr(st, "CopyDeleted") && sub_int(o, "status.attempt") == 1 &&
                      json_array_size(json_object_get(json_object_get(o, "status"), "attempts")) ==
                          2,
                  "%s", st);
    char cond[1600];
    condition_of(o, SUB_CONDITION_CREATE_REFUSED, cond, sizeof(cond));
    ck_assert_msg(strncmp(cond, "False Failed: ", 14) == 0, "%s", st);
    free(st);
    json_decref(o);
    ck_assert_int_eq(kr_client_get(E.dc[1], JOBS, "team-x", "gone-2", NULL, NULL), KR_ENOTFOUND);
    env_down();
}
END_TEST

/* Three clusters, team-x in dc1 only: dc1 goes away after attempt 1's
 * create; the failover to dc2 is refused (the runnable goes back to
 * attempt 1), the next one goes to dc3 as attempt 3, not as a second
 * attempt 2 (status.attempt named attempt 1 again), and is refused too;
 * then no cluster is left to try: three attempts, each of its own number,
 * and no more over further delays. */
START_TEST(refused_failovers_keep_their_attempt_numbers_apart)
{
    env_clusters = 3;
    env_up();
    team_x_up();
    submit_to_team_x_in("tri", 0, "dc1, dc2, dc3");
    ck_assert(reconcile_until_at("team-x", "tri", "dc1", SUB_PHASE_DISPATCHED, true));
    dc_down(0, true);
    uint64_t after = 0;
    for (int round = 0; round < 5; round++) {
        advance_ms(FAILOVER_MS + 1);
        submitter_probe_cluster(&E.s, 0);
        for (int i = 0; i < 30; i++) {
            submitter_reconcile(&E.s, "team-x", "tri", &after, NULL);
            submitter_probe_cluster(&E.s, 0);
            wait_pace();
        }
    }
    json_t *o = cached_in("team-x", "tri");
    char *st = json_dumps(json_object_get(o, "status"), JSON_COMPACT);
    const json_t *attempts = json_object_get(json_object_get(o, "status"), "attempts");
    bool unique = true;
    for (size_t i = 0; i < json_array_size(attempts); i++)
        for (size_t j = i + 1; j < json_array_size(attempts); j++)
            unique = unique && sub_int(json_array_get(attempts, i), "attempt") !=
                                   sub_int(json_array_get(attempts, j), "attempt");
    ck_assert_msg(unique, "two attempts share a number: %s", st);
    ck_assert_msg(json_array_size(attempts) == 3, "not three attempts: %s", st);
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc1");
    ck_assert_int_eq(sub_int(o, "status.attempt"), 1);
    free(st);
    json_decref(o);
    env_down();
}
END_TEST

/* Three clusters, team-x in dc1 and dc3: dc1 goes away after attempt 1's
 * create, the failover to dc2 is refused (CreateRefused, the runnable
 * back on attempt 1), and the next one, to dc3, is created there: the
 * refusal holds the runnable back no more, and the condition says so
 * (False, AttemptCreated), as it says when the runnable ends. */
START_TEST(a_later_attempt_created_ends_the_create_refused_condition)
{
    env_clusters = 3;
    env_up();
    team_x_up();
    static const char ns[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-x\"}}";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(E.dc_ts[2], ns, strlen(ns), &err) == 0, "%s", err.message);
    submit_to_team_x_in("later", 0, "dc1, dc2, dc3");
    ck_assert(reconcile_until_at("team-x", "later", "dc1", SUB_PHASE_DISPATCHED, true));
    dc_down(0, true);
    uint64_t after = 0;
    bool created = false;
    char cond[1600];
    for (int round = 0; round < 5 && !created; round++) {
        advance_ms(FAILOVER_MS + 1);
        submitter_probe_cluster(&E.s, 0);
        for (int i = 0; i < 50 && !created; i++) {
            submitter_reconcile(&E.s, "team-x", "later", &after, NULL);
            submitter_probe_cluster(&E.s, 0);
            json_t *o = cached_in("team-x", "later");
            created = strcmp(sub_str(o, "status.cluster"), "dc3") == 0 &&
                      strcmp(sub_str(o, "status.phase"), SUB_PHASE_DISPATCHED) == 0;
            if (created)
                condition_of(o, SUB_CONDITION_CREATE_REFUSED, cond, sizeof(cond));
            json_decref(o);
            wait_pace();
        }
    }
    json_t *o = cached_in("team-x", "later");
    char *st = json_dumps(json_object_get(o, "status"), JSON_COMPACT);
    ck_assert_msg(created, "%s", st);
    ck_assert_int_eq(sub_int(o, "status.attempt"), 3);
    /* attempt 2 was refused: the condition said True (only a True one turns False) */
    const json_t *attempts = json_object_get(json_object_get(o, "status"), "attempts");
    ck_assert_msg(json_array_size(attempts) == 3 &&
                      strcmp(sub_str(json_array_get(attempts, 1), "state"), "Refused") == 0,
                  "%s", st);
    ck_assert_msg(strncmp(cond, "False AttemptCreated: attempt 3 created in dc3", 46) == 0, "%s",
                  st);
    free(st);
    json_decref(o);
    env_down();
}
END_TEST

/* Mark a Job of cluster dc started at `start_time` (as the cluster's job
 * controller would), still running. */
static void start_job(int dc, const char *name, const char *start_time)
{
    set_job_status(dc, name, json_pack("{s:s, s:i}", "startTime", start_time, "active", 1));
}

static bool job_released(int dc, const char *name)
{
    json_t *job = NULL;
    if (kr_client_get(E.dc[dc], JOBS, "default", name, &job, NULL) != 0)
        return false;
    bool released = !json_is_true(json_object_get(json_object_get(job, "spec"), "suspend"));
    json_decref(job);
    return released;
}

/* dc1 is cut off from the submitter (not from its own job controller)
 * after releasing attempt 1 of `name`, which starts there unseen at
 * `dc1_start`; the runnable fails over to dc2, whose copy starts at
 * 00:00:20. When dc1 returns, both have started: the later one is stopped,
 * the conflict recorded (naming the cluster and resourceVersion of the
 * copy that came back), and the runnable follows the earlier one to
 * completion; nothing else completes, and no copy is VERIFIED twice (a
 * review found dc1's, taken back, recorded VERIFIED again). */
static void both_started_case(const char *name, const char *dc1_start)
{
    bool dc1_first = strcmp(dc1_start, "2026-01-01T00:00:20Z") < 0;
    int keep = dc1_first ? 0 : 1; /* the copy followed to its end */
    char copy1[64], copy2[64], ev[8][96];
    snprintf(copy1, sizeof(copy1), "%s-1", name);
    snprintf(copy2, sizeof(copy2), "%s-2", name);
    env_up();
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable(name, 0, "dc1, dc2"), NULL, &r),
        201);
    json_decref(r);
    ck_assert(reconcile_until(name, SUB_PHASE_DISPATCHED, true));
    for (int i = 0; i < 1000 && !job_released(0, copy1); i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", name, &after, NULL);
        wait_pace();
    }
    ck_assert(job_released(0, copy1));

    /* the partition: the submitter's requests to dc1 are refused and its
     * dc1 cache hears nothing more; dc1 itself runs the released Job */
    static kr_rest_config dead_cfg;
    char dead_url[64];
    snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%u", free_port());
    dead_cfg = (kr_rest_config){.server = dead_url, .qps = -1, .timeout_ms = 5000};
    kr_client_opts no_retry = {.max_retries = -1};
    kr_client_t *dead = NULL;
    ck_assert_int_eq(kr_client_new(E.rt, &dead_cfg, &no_retry, &dead, NULL), 0);
    kr_informer_stop(E.copies[0]);
    E.clusters[0].fast = dead;
    start_job(0, copy1, dc1_start);
    advance_ms(E.s.probe_interval_ms); /* the next probe finds dc1 gone */
    for (int i = 0; i < 3; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", name, &after, NULL);
    }
    json_t *o = cached(name);
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc1"); /* not before --failover-after */
    json_decref(o);
    advance_ms(FAILOVER_MS + 1);
    bool moved = false;
    for (int i = 0; i < 1000 && !moved; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", name, &after, NULL);
        o = cached(name);
        moved = sub_int(o, "status.attempt") == 2 && sub_condition_true(o, "Verified") &&
                json_is_true(json_object_get(json_object_get(o, "status"), "verified"));
        json_decref(o);
        if (!moved)
            wait_pace();
    }
    ck_assert(moved);
    o = cached(name);
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc2");
    json_decref(o);
    for (int i = 0; i < 1000 && !job_released(1, copy2); i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", name, &after, NULL);
        wait_pace();
    }
    ck_assert(job_released(1, copy2));
    start_job(1, copy2, "2026-01-01T00:00:20Z");
    ck_assert(reconcile_until(name, SUB_PHASE_RUNNING, true));

    /* dc1 returns: a fresh cache, requests answered again */
    E.clusters[0].fast = NULL;
    copies_restart(0);
    advance_ms(FAILOVER_MS);
    bool followed = false;
    for (int i = 0; i < 1000 && !followed; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", name, &after, NULL);
        o = cached(name);
        followed = sub_int(o, "status.attempt") == keep + 1 && sub_condition_true(o, "Conflict");
        json_decref(o);
        if (!followed)
            wait_pace();
    }
    ck_assert(followed);
    /* the later copy: stopped */
    ck_assert(!job_exists(keep ? 0 : 1, keep ? copy1 : copy2));
    ck_assert(job_exists(keep, keep ? copy2 : copy1));
    mark_job(keep, keep ? copy2 : copy1, "Complete");
    ck_assert(reconcile_until(name, SUB_PHASE_SUCCEEDED, true));
    o = cached(name);
    ck_assert_str_eq(sub_str(o, "status.cluster"), keep ? "dc2" : "dc1");
    const json_t *attempts = json_object_get(json_object_get(o, "status"), "attempts");
    ck_assert_str_eq(sub_str(json_array_get(attempts, keep ? 0 : 1), "state"), "Stopped");
    json_decref(o);
    const char *fmt[] = {"SUBMITTED %s alice",
                         "DISPATCHED %s kr-submitter dc1",
                         "VERIFIED %s kr-submitter dc1",
                         "FAILED_OVER %s kr-submitter dc2",
                         "DISPATCHED %s kr-submitter dc2",
                         "VERIFIED %s kr-submitter dc2",
                         "CONFLICT %s kr-submitter dc1 rv=",
                         keep ? "SUCCEEDED %s kr-submitter dc2" : "SUCCEEDED %s kr-submitter dc1"};
    const char *want[8];
    for (size_t i = 0; i < 8; i++) {
        snprintf(ev[i], sizeof(ev[i]), fmt[i], name);
        want[i] = ev[i];
    }
    /* dc1's copy taken back was verified before the partition: its cache
     * observes it again, and the books hold its VERIFIED once */
    assert_events(want, 8);
    kr_client_free(dead);
    env_down();
}

START_TEST(both_started_after_a_partition_the_later_copy_is_stopped)
{
    both_started_case("both", "2026-01-01T00:00:10Z");
}
END_TEST

/* The same with dc1's copy started last: it is the one stopped, and the
 * CONFLICT names dc1 and that copy's resourceVersion (it named no cluster
 * and no resourceVersion, found by a black-box review). */
START_TEST(both_started_after_a_partition_the_returning_copy_is_stopped_when_later)
{
    both_started_case("later", "2026-01-01T00:00:30Z");
}
END_TEST

START_TEST(cancel_deletes_the_copy)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("c", 0, ""), NULL, NULL), 201);
    ck_assert(reconcile_until("c", SUB_PHASE_DISPATCHED, true));
    ck_assert(job_exists(0, "c-1"));
    /* only its submitter or whoever may approve it cancels it */
    json_t *refused = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/c/cancel", "tok-erin", NULL, NULL, &refused), 403);
    ck_assert_str_eq(sub_str(refused, "error"), "erin neither submitted this runnable nor is a "
                                                "member of group approvers, which approves it");
    json_decref(refused);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/c/cancel", "tok-alice", NULL, NULL, NULL), 200);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("c3", 0, ""), NULL, NULL), 201);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/c3/cancel", "tok-carol", NULL, NULL, NULL), 200);
    ck_assert(reconcile_until("c", SUB_PHASE_CANCELLED, false));
    for (int i = 0; i < 1000 && job_exists(0, "c-1"); i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "c", &after, NULL);
        wait_pace();
    }
    ck_assert(!job_exists(0, "c-1"));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/c/approve", "tok-bob", NULL, NULL, NULL), 409);
    /* deleted on the hub while it runs: its copy goes and the books say so */
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("del", 0, ""), NULL, NULL),
        201);
    ck_assert(reconcile_until("del", SUB_PHASE_DISPATCHED, true));
    ck_assert(job_exists(0, "del-1"));
    ck_assert_int_eq(kr_client_delete(E.hub, SUB_RUNNABLES, "default", "del", NULL, NULL, NULL), 0);
    json_t *gone = NULL;
    for (int i = 0; i < 1000; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "del", &after, NULL);
        if (kr_client_get(E.hub, SUB_RUNNABLES, "default", "del", &gone, NULL) == KR_ENOTFOUND)
            break;
        json_decref(gone);
        gone = NULL;
        wait_pace();
    }
    ck_assert_ptr_null(gone);
    ck_assert(!job_exists(0, "del-1"));
    bool recorded = false;
    pthread_mutex_lock(&E.mu);
    for (size_t i = 0; i < E.n_events; i++)
        recorded |= strncmp(E.events[i], "CANCELLED del kr-submitter  rv=", 31) == 0;
    pthread_mutex_unlock(&E.mu);
    ck_assert(recorded);
    env_down();
}
END_TEST

/* A replica started without one of the clusters (a --cluster left out)
 * does not know where a runnable placed there runs: it neither fails it
 * (its copy would run on, the runnable ended) nor, once it is deleted on
 * the hub, lets it go without deleting the copy. A replica that knows the
 * cluster follows it as before. */
START_TEST(a_runnable_in_a_cluster_not_configured_waits_for_one_that_is)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("far", 0, "dc2"), NULL, NULL),
        201);
    ck_assert(reconcile_until_in("far", "dc2", SUB_PHASE_DISPATCHED, true));
    E.s.n_clusters = 1; /* dc1 only */
    for (int i = 0; i < 5; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "far", &after, NULL);
    }
    json_t *o = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "far", &o, NULL), 0);
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_DISPATCHED);
    json_decref(o);
    ck_assert(job_exists(1, "far-1"));
    ck_assert_int_eq(kr_client_delete(E.hub, SUB_RUNNABLES, "default", "far", NULL, NULL, NULL), 0);
    for (int i = 0; i < 5; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "far", &after, NULL);
        wait_pace();
    }
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "far", NULL, NULL), 0);
    ck_assert(job_exists(1, "far-1"));
    pthread_mutex_lock(&E.mu);
    for (size_t i = 0; i < E.n_events; i++)
        ck_assert_msg(strncmp(E.events[i], "FAILED", 6) != 0 &&
                          strncmp(E.events[i], "CANCELLED", 9) != 0,
                      "%s", E.events[i]);
    pthread_mutex_unlock(&E.mu);
    /* a replica with dc2: the copy goes, then the Runnable */
    E.s.n_clusters = 2;
    json_t *gone = NULL;
    for (int i = 0; i < 1000; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "far", &after, NULL);
        if (kr_client_get(E.hub, SUB_RUNNABLES, "default", "far", &gone, NULL) == KR_ENOTFOUND)
            break;
        json_decref(gone);
        gone = NULL;
        wait_pace();
    }
    ck_assert_ptr_null(gone);
    ck_assert(!job_exists(1, "far-1"));
    env_down();
}
END_TEST

/* Field `field` of entry `i` of `o`'s status.attempts ("" when none). */
static const char *attempt_str(const json_t *o, size_t i, const char *field)
{
    return sub_str(json_array_get(json_object_get(json_object_get(o, "status"), "attempts"), i),
                   field);
}

/* Edit Runnable `name`'s template on the hub (a merge patch, `patch`
 * stolen) and wait until the cache has the edit. */
static void edit_template(const char *name, json_t *patch)
{
    json_t *updated = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_client_patch(E.hub, SUB_RUNNABLES, "default", name, NULL, KR_PATCH_MERGE,
                                  patch, NULL, &updated, &err) == 0,
                  "%s", err.message);
    json_decref(patch);
    ck_assert_int_eq(kr_informer_wait_for_resource_version(
                         E.runnables, sub_str(updated, "metadata.resourceVersion"), WAIT_MS, NULL),
                     0);
    json_decref(updated);
}

/* The template of `name`, dispatched and released as Job <name>-1 in dc1,
 * edited to `patch` (another kind): its Job is still the copy followed,
 * and a delete of the Runnable deletes it before the finalizer goes. */
static void kind_edited_after_dispatch(const char *name, json_t *patch)
{
    char body[1100], job[80];
    snprintf(body, sizeof(body), "%s", job_runnable(name, 0, "dc1"));
    snprintf(job, sizeof(job), "%s-1", name);
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", body, NULL, NULL), 201);
    ck_assert(reconcile_until(name, SUB_PHASE_DISPATCHED, true));
    ck_assert(job_exists(0, job));
    for (int i = 0; i < 1000; i++) { /* released */
        json_t *j = NULL;
        ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "default", job, &j, NULL), 0);
        bool held = json_is_true(json_object_get(json_object_get(j, "spec"), "suspend"));
        json_decref(j);
        if (!held)
            break;
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", name, &after, NULL);
        wait_pace();
    }
    edit_template(name, patch);
    for (int i = 0; i < 50; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", name, &after, NULL);
        wait_pace();
    }
    json_t *o = cached(name);
    char cond[400] = "";
    condition_of(o, "Failed", cond, sizeof(cond));
    bool still_there = job_exists(0, job);
    ck_assert_msg(still_there && !sub_phase_terminal(sub_str(o, "status.phase")),
                  "phase %s, %s, Job %s %s in dc1", sub_str(o, "status.phase"), cond, job,
                  still_there ? "still" : "not");
    ck_assert_str_eq(attempt_str(o, 0, "kind"), "Job");
    json_decref(o);
    /* deleted on the hub: the finalizer goes only once the copy is gone */
    ck_assert_int_eq(kr_client_delete(E.hub, SUB_RUNNABLES, "default", name, NULL, NULL, NULL), 0);
    json_t *gone = NULL;
    for (int i = 0; i < 1000; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", name, &after, NULL);
        if (kr_client_get(E.hub, SUB_RUNNABLES, "default", name, &gone, NULL) == KR_ENOTFOUND)
            break;
        json_decref(gone);
        gone = NULL;
        wait_pace();
    }
    ck_assert_msg(gone == NULL, "the Runnable is still on the hub");
    ck_assert_msg(!job_exists(0, job), "the Runnable is gone from the hub while its Job %s is left",
                  job);
}

/* Review finding: the template's kind edited on the hub after its copy was
 * created (anyone who may update Runnables can) lost the running copy: the
 * copy was looked up as an object of the template's kind as it is now, so
 * the runnable failed as CopyDeleted while its Job still ran, and a delete
 * of the Runnable dropped the finalizer with that Job left behind
 * (PLATFORM.md: the finalizer "removed only after its workload copies are
 * gone"). Each attempt records the apiVersion and kind of its copy when it
 * is decided, and its copy is looked up as that: a namespaced kind and a
 * cluster-scoped one alike. */
START_TEST(a_kind_edited_after_dispatch_loses_no_copy)
{
    env_up();
    kind_edited_after_dispatch("kd", json_pack("{s:{s:{s:s, s:s, s:n, s:{s:s}}}}", "spec",
                                               "template", "apiVersion", "v1", "kind", "ConfigMap",
                                               "spec", "data", "a", "b"));
    kind_edited_after_dispatch("kr", json_pack("{s:{s:{s:s, s:s, s:n, s:[]}}}", "spec", "template",
                                               "apiVersion", "rbac.authorization.k8s.io/v1", "kind",
                                               "ClusterRole", "spec", "rules"));
    env_down();
}
END_TEST

/* A Job template that asks for suspend itself is created as it asks and
 * never released. Once the template's kind was edited on the hub, the
 * template could no longer say what the copy's asked and the copy was
 * taken for one the submitter held: the Job its author had suspended was
 * released, and started (found by a reread). Each attempt now records
 * whether it held its copy. */
START_TEST(a_kind_edit_never_releases_a_job_its_template_suspended)
{
    env_up();
    char body[1100];
    snprintf(body, sizeof(body),
             "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata:\n  name: us\n"
             "spec:\n  clusters: [dc1]\n  approval: {required: 0, group: approvers}\n"
             "  template:\n    apiVersion: batch/v1\n    kind: Job\n    metadata: {name: work}\n"
             "    spec:\n      suspend: true\n      template:\n        spec:\n"
             "          restartPolicy: Never\n"
             "          containers: [{name: c, image: busybox}]\n");
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", body, NULL, NULL), 201);
    ck_assert(reconcile_until("us", SUB_PHASE_DISPATCHED, true));
    for (int i = 0; i < 20; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "us", &after, NULL);
        wait_pace();
    }
    json_t *j = NULL;
    ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "default", "us-1", &j, NULL), 0);
    ck_assert_msg(json_is_true(json_object_get(json_object_get(j, "spec"), "suspend")),
                  "control: the Job its template suspended is left suspended");
    json_decref(j);
    edit_template("us",
                  json_pack("{s:{s:{s:s, s:s, s:n, s:{s:s}}}}", "spec", "template", "apiVersion",
                            "v1", "kind", "ConfigMap", "spec", "data", "a", "b"));
    for (int i = 0; i < 50; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "us", &after, NULL);
        wait_pace();
    }
    j = NULL;
    ck_assert_int_eq(kr_client_get(E.dc[0], JOBS, "default", "us-1", &j, NULL), 0);
    bool suspended = json_is_true(json_object_get(json_object_get(j, "spec"), "suspend"));
    json_decref(j);
    ck_assert_msg(suspended, "the Job its template suspended was released after a kind edit");
    env_down();
}
END_TEST

/* The kind edited after a create landed but before its Dispatched was
 * written (the write meets the edit's 409): the spec goes through
 * approval again (none needed here) and the next create is of the new
 * kind, as a new attempt; the copy of the kind before is then an earlier
 * attempt's, not started (held), and deleted. A create of the attempt
 * again would have made a ConfigMap beside the Job and left the Job. */
START_TEST(a_kind_edited_before_the_dispatch_is_written_leaves_no_copy)
{
    env_up();
    E.edit_kind_after_create = true;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("kc", 0, "dc1"), NULL, NULL),
        201);
    ck_assert(reconcile_until("kc", SUB_PHASE_DISPATCHED, true));
    ck_assert(!E.edit_kind_after_create); /* the hook edited it */
    json_t *o = cached("kc");
    char *st = json_dumps(json_object_get(o, "status"), JSON_COMPACT);
    ck_assert_msg(sub_int(o, "status.attempt") == 2, "%s", st);
    ck_assert_msg(strcmp(attempt_str(o, 1, "kind"), "ConfigMap") == 0, "%s", st);
    free(st);
    json_decref(o);
    ck_assert_int_eq(
        kr_client_get(E.dc[0], KR_GVR("", "v1", "configmaps"), "default", "kc-2", NULL, NULL), 0);
    ck_assert_int_eq(
        kr_client_get(E.dc[0], KR_GVR("", "v1", "configmaps"), "default", "kc-1", NULL, NULL),
        KR_ENOTFOUND);
    bool deleted = false;
    for (int i = 0; i < 1000 && !deleted; i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "kc", &after, NULL);
        o = cached("kc");
        deleted = strcmp(attempt_str(o, 0, "state"), ATTEMPT_DELETED) == 0;
        json_decref(o);
        wait_pace();
    }
    ck_assert_msg(deleted, "attempt 1 is never marked deleted");
    ck_assert_msg(!job_exists(0, "kc-1"), "the Job of attempt 1 is left in dc1");
    env_down();
}
END_TEST

/* An approval-required runnable whose kind is edited after its Job was
 * dispatched, then failed over (dc1 down): the new spec waits for a new
 * approval, and the Job in dc1, not started, is deleted once dc1 answers,
 * looked up as the Job it is (it was marked deleted and left when looked
 * up as a ConfigMap). Approved again, the ConfigMap goes to dc2. */
START_TEST(a_kind_edited_then_failed_over_waits_and_its_job_goes)
{
    env_up();
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("ka", 1, "dc1, dc2"), NULL, NULL),
                     201);
    ck_assert(reconcile_until("ka", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/ka/approve", "tok-bob", NULL, NULL, NULL), 200);
    ck_assert(reconcile_until_in("ka", "dc1", SUB_PHASE_DISPATCHED, true));
    ck_assert(job_exists(0, "ka-1"));
    edit_template("ka",
                  json_pack("{s:{s:{s:s, s:s, s:n, s:{s:s}}}}", "spec", "template", "apiVersion",
                            "v1", "kind", "ConfigMap", "spec", "data", "a", "b"));
    dc_down(0, true);
    uint64_t wait = 0;
    advance_ms(E.s.probe_interval_ms);
    submitter_probe_cluster(&E.s, 0); /* dc1 is found gone */
    submitter_reconcile(&E.s, "default", "ka", &wait, NULL);
    advance_ms(FAILOVER_MS + 1);
    submitter_probe_cluster(&E.s, 0);
    bool waits = reconcile_until("ka", SUB_PHASE_AWAITING, false);
    json_t *o = cached("ka");
    char *st = json_dumps(json_object_get(o, "status"), JSON_COMPACT);
    ck_assert_msg(waits && sub_int(o, "status.attempt") == 2, "%s", st);
    free(st);
    json_decref(o);
    dc_down(0, false);
    ck_assert(job_exists(0, "ka-1"));
    advance_ms(FAILOVER_MS);
    for (int i = 0; i < 1000 && job_exists(0, "ka-1"); i++) {
        uint64_t after = 0;
        submitter_reconcile(&E.s, "default", "ka", &after, NULL);
        wait_pace();
    }
    ck_assert_msg(!job_exists(0, "ka-1"), "Job ka-1, not started, is left in dc1");
    o = cached("ka");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_AWAITING);
    json_decref(o);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables/default/ka/approve", "tok-carol", NULL, NULL, NULL), 200);
    ck_assert(reconcile_until_in("ka", "dc2", SUB_PHASE_DISPATCHED, true));
    ck_assert_int_eq(
        kr_client_get(E.dc[1], KR_GVR("", "v1", "configmaps"), "default", "ka-2", NULL, NULL), 0);
    env_down();
}
END_TEST

/* A status written before attempts recorded their copy's kind: the copy
 * is the template's kind, followed to its end as before. */
START_TEST(an_attempt_recorded_without_its_kind_is_of_the_templates)
{
    env_up();
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("ok", 0, "dc1"), NULL, NULL),
        201);
    ck_assert(reconcile_until("ok", SUB_PHASE_DISPATCHED, true));
    json_t *o = cached("ok");
    json_t *attempts = json_deep_copy(json_object_get(json_object_get(o, "status"), "attempts"));
    json_decref(o);
    json_object_del(json_array_get(attempts, 0), "apiVersion");
    json_object_del(json_array_get(attempts, 0), "kind");
    set_status("ok", json_pack("{s:o}", "attempts", attempts));
    mark_job(0, "ok-1", "Complete");
    ck_assert(reconcile_until("ok", SUB_PHASE_SUCCEEDED, false));
    o = cached("ok");
    char cond[400];
    ck_assert_msg(strstr(condition_of(o, "Succeeded", cond, sizeof(cond)), "Job ok-1 in dc1"), "%s",
                  cond);
    json_decref(o);
    env_down();
}
END_TEST

/* A replica whose cache is stale (a deposed leader) decides on an old
 * resourceVersion: its decision write fails with 409 and it creates
 * nothing. */
START_TEST(stale_replica_gets_409_and_creates_nothing)
{
    env_up();
    kr_informer_opts io = {.client = E.hub, .resource = SUB_RUNNABLES};
    kr_informer_t *stale = NULL;
    ck_assert_int_eq(kr_informer_new(&io, &stale, NULL), 0);
    ck_assert_int_eq(kr_informer_start(stale, NULL), 0);
    json_t *r = NULL;
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("f", 1, ""), NULL, NULL), 201);
    ck_assert(reconcile_until("f", SUB_PHASE_AWAITING, false));
    ck_assert_int_eq(call("POST", "/api/v1/runnables/default/f/approve", "tok-bob", NULL, NULL, &r),
                     200);
    ck_assert_int_eq(kr_informer_wait_for_resource_version(
                         stale, sub_str(r, "metadata.resourceVersion"), WAIT_MS, NULL),
                     0);
    json_decref(r);
    kr_informer_stop(stale); /* its view: Dispatching, no decision yet */
    submitter old = E.s;
    old.runnables = stale;
    old.clusters = (sub_cluster[2]){E.clusters[0], E.clusters[1]};
    ck_assert_int_eq(submitter_init(&old, NULL), 0); /* its own lock */
    ck_assert(reconcile_until("f", SUB_PHASE_DISPATCHED, true)); /* the leader decided: dc1 */
    uint64_t after = 0;
    ck_assert_int_eq(submitter_reconcile(&old, "default", "f", &after, NULL), KR_RECONCILE_REQUEUE);
    ck_assert(job_exists(0, "f-1"));
    ck_assert(!job_exists(1, "f-1"));
    json_t *list = NULL;
    ck_assert_int_eq(kr_client_list(E.dc[0], JOBS, "default", NULL, &list, NULL), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);
    json_t *o = cached("f");
    ck_assert_int_eq(sub_int(o, "status.attempt"), 1);
    json_decref(o);
    submitter_destroy(&old);
    kr_informer_free(stale);
    env_down();
}
END_TEST

/* Wait until cluster dc's cache of our copies holds `name`. */
static void wait_cached_copy(int dc, const char *name)
{
    for (int i = 0; i < 1000; i++) {
        json_t *c = kr_store_get_by_name(kr_informer_store(E.copies[dc]), "default", name);
        json_decref(c);
        if (c)
            return;
        wait_pace();
    }
    ck_abort_msg("dc%d's cache never had %s", dc + 1, name);
}

/* A fresh cache of our copies in cluster dc, synced. */
static void copies_restart(int dc)
{
    kr_informer_free(E.copies[dc]);
    copies_start(dc);
    ck_assert_int_eq(kr_informer_wait_for_sync(E.copies[dc], WAIT_MS, NULL), 0);
}

/* A leader paused past its Lease between its decision and the create:
 * resumed, it does not send the create, because it asks the elector right
 * before it. A create that slipped in between the question and the wire
 * (made here by hand, after the new leader failed over and found no copy
 * of the first attempt) is seen in the cluster's cache and deleted, once,
 * also when it is met while its cluster fails: only the copy that
 * completed remains. */
START_TEST(a_deposed_leader_sends_nothing_and_a_late_copy_goes)
{
    env_up();
    E.s.epoch = test_epoch;
    E.s.epoch_user = &E;
    json_t *r = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("late", 0, "dc1, dc2"), NULL, &r),
                     201);
    ck_assert_str_eq(sub_str(r, "status.cluster"), "dc1"); /* decided by the API */
    ck_assert_int_eq(kr_informer_wait_for_resource_version(
                         E.runnables, sub_str(r, "metadata.resourceVersion"), WAIT_MS, NULL),
                     0);
    json_decref(r);
    /* deposed: no create, no status write, the runnable left as it is */
    E.not_leading = true;
    unsigned long long hub_rv = kr_testserver_resource_version(E.hub_ts);
    for (int i = 0; i < 3; i++) {
        uint64_t after = 0;
        kr_error_t err = {0};
        ck_assert_int_eq(submitter_reconcile(&E.s, "default", "late", &after, &err),
                         KR_RECONCILE_ERROR);
        ck_assert_int_eq(err.code, KR_ESTATE);
    }
    ck_assert(!job_exists(0, "late-1"));
    ck_assert_uint_eq(kr_testserver_resource_version(E.hub_ts), hub_rv);
    /* leading, but in a term begun after this reconcile began: the same */
    E.not_leading = false;
    E.new_term_at_decision = true;
    uint64_t after = 0;
    kr_error_t err = {0};
    ck_assert_int_eq(submitter_reconcile(&E.s, "default", "late", &after, &err),
                     KR_RECONCILE_ERROR);
    ck_assert_int_eq(err.code, KR_ESTATE);
    E.new_term_at_decision = false;
    ck_assert(!job_exists(0, "late-1"));
    ck_assert_uint_eq(kr_testserver_resource_version(E.hub_ts), hub_rv);
    json_t *o = cached("late");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_DISPATCHING);
    json_decref(o);

    /* leading again, dc1 gone: the runnable fails over to dc2 and
     * completes there; dc1 returns without the first attempt's copy */
    dc_down(0, true);
    submitter_reconcile(&E.s, "default", "late", &after, NULL); /* the failure starts the clock */
    advance_ms(FAILOVER_MS + 1);
    ck_assert(reconcile_until_in("late", "dc2", SUB_PHASE_DISPATCHED, true));
    mark_job(1, "late-2", "Complete");
    ck_assert(reconcile_until("late", SUB_PHASE_SUCCEEDED, true));
    dc_down(0, false);
    advance_ms(FAILOVER_MS);
    bool deleted = false;
    for (int i = 0; i < 1000 && !deleted; i++) {
        submitter_reconcile(&E.s, "default", "late", &after, NULL);
        o = cached("late");
        const json_t *a0 =
            json_array_get(json_object_get(json_object_get(o, "status"), "attempts"), 0);
        deleted = strcmp(sub_str(a0, "state"), "Deleted") == 0;
        json_decref(o);
        if (!deleted)
            wait_pace();
    }
    ck_assert(deleted);
    ck_assert(!job_exists(0, "late-1"));

    /* the deposed leader's create of attempt 1 lands now, as it sent it */
    json_t *job = NULL;
    ck_assert_int_eq(kr_client_get(E.dc[1], JOBS, "default", "late-2", &job, NULL), 0);
    json_t *md = json_object_get(job, "metadata");
    json_object_set_new(md, "name", json_string("late-1"));
    json_object_del(md, "uid");
    json_object_del(md, "resourceVersion");
    json_object_del(md, "creationTimestamp");
    json_object_del(job, "status");
    err = (kr_error_t){0};
    ck_assert_msg(kr_client_create(E.dc[0], JOBS, "default", job, NULL, NULL, &err) == 0, "%s",
                  err.message);
    wait_cached_copy(0, "late-1");
    /* a replica paused past its Lease deletes nothing: the copy it saw
     * may be one a new leader adopted since */
    E.not_leading = true;
    kr_testserver_reset_requests(E.dc_ts[0]);
    for (int i = 0; i < 3; i++)
        submitter_reconcile(&E.s, "default", "late", &after, NULL);
    ck_assert(job_exists(0, "late-1"));
    json_t *none = kr_testserver_requests(E.dc_ts[0]);
    ck_assert_int_eq(json_integer_value(json_object_get(none, "delete jobs")), 0);
    json_decref(none);
    E.not_leading = false;
    /* dc1's cache keeps the copy from now on: after our delete, it is not
     * sent another */
    kr_informer_stop(E.copies[0]);
    kr_testserver_reset_requests(E.dc_ts[0]);
    for (int i = 0; i < 5; i++)
        submitter_reconcile(&E.s, "default", "late", &after, NULL);
    ck_assert_msg(!job_exists(0, "late-1"), "the late copy stayed");
    json_t *requests = kr_testserver_requests(E.dc_ts[0]);
    ck_assert_int_eq(json_integer_value(json_object_get(requests, "delete jobs")), 1);
    json_decref(requests);
    ck_assert(job_exists(1, "late-2"));
    copies_restart(0);

    /* another one, in dc1's cache when dc1 starts failing: the runnable
     * comes back for it rather than being done, and it goes once dc1
     * answers again */
    ck_assert_msg(kr_client_create(E.dc[0], JOBS, "default", job, NULL, NULL, &err) == 0, "%s",
                  err.message);
    json_decref(job);
    wait_cached_copy(0, "late-1");
    dc_down(0, true);
    for (int i = 0; i < 2; i++) {
        after = 0;
        ck_assert_int_eq(submitter_reconcile(&E.s, "default", "late", &after, NULL),
                         KR_RECONCILE_REQUEUE_AFTER);
        ck_assert_uint_gt(after, 0);
    }
    dc_down(0, false);
    ck_assert(job_exists(0, "late-1"));
    advance_ms(E.s.probe_interval_ms); /* this reconcile's turn to ask dc1 */
    for (int i = 0; i < 1000 && job_exists(0, "late-1"); i++) {
        submitter_reconcile(&E.s, "default", "late", &after, NULL);
        wait_pace();
    }
    ck_assert_msg(!job_exists(0, "late-1"), "the late copy met during the outage stayed");
    o = cached("late");
    ck_assert_str_eq(sub_str(o, "status.phase"), SUB_PHASE_SUCCEEDED);
    ck_assert_str_eq(sub_str(o, "status.cluster"), "dc2");
    json_decref(o);
    env_down();
}
END_TEST

/* A submission refused (422) by dc1's dry run, which says `why`. */
static void expect_template_refused(const char *manifest, const char *why)
{
    json_t *r = NULL;
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", manifest, NULL, &r), 422);
    char want[512];
    snprintf(want, sizeof(want), "cluster dc1 refuses the template: %s", why);
    ck_assert_str_eq(sub_str(r, "error"), want);
    json_decref(r);
}

/* One page of GET /api/v1/runnables: its status; *out the body (new). */
static int list_page(const char *ns, const char *limit, const char *cont, json_t **out)
{
    api_request req = {.method = "GET",
                       .path = "/api/v1/runnables",
                       .authorization = "Bearer tok-erin",
                       .q_namespace = ns,
                       .q_limit = limit,
                       .q_continue = cont};
    api_response resp = {0};
    api_handle(&E.api, &req, &resp);
    *out = resp.body;
    return resp.status;
}

/* ?limit and ?continue page the list as kube-apiserver pages one: in
 * order, each item once, the last page without a token; a bad limit or
 * token is a 400. */
START_TEST(the_list_comes_in_pages)
{
    env_up();
    const char *names[] = {"pa", "pb", "pc", "pd", "pe"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                              job_runnable(names[i], 1, ""), NULL, NULL),
                         201);
    for (int i = 0; i < 5; i++)
        ck_assert(reconcile_until(names[i], SUB_PHASE_AWAITING, false));
    char cont[1024] = "";
    size_t seen = 0;
    for (int page = 0;; page++) {
        json_t *doc = NULL;
        ck_assert_int_eq(list_page("default", "2", *cont ? cont : NULL, &doc), 200);
        const json_t *items = json_object_get(doc, "items");
        ck_assert_uint_eq(json_array_size(items), page < 2 ? 2 : 1);
        for (size_t i = 0; i < json_array_size(items); i++)
            ck_assert_str_eq(sub_str(json_array_get(items, i), "metadata.name"), names[seen++]);
        snprintf(cont, sizeof(cont), "%s", sub_str(doc, "metadata.continue"));
        if (page < 2)
            ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "metadata"),
                                                                "remainingItemCount")),
                             3 - 2 * page);
        json_decref(doc);
        if (!*cont)
            break;
        ck_assert_int_lt(page, 2);
    }
    ck_assert_uint_eq(seen, 5);
    json_t *doc = NULL;
    ck_assert_int_eq(list_page("default", "0", NULL, &doc), 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), 5);
    ck_assert_ptr_null(json_object_get(json_object_get(doc, "metadata"), "continue"));
    json_decref(doc);
    /* any int64 is a limit, as kube-apiserver takes one (kubectl
     * --chunk-size is one): one that large is every item */
    ck_assert_int_eq(list_page(NULL, "99999999999", NULL, &doc), 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), 5);
    ck_assert_ptr_null(json_object_get(json_object_get(doc, "metadata"), "continue"));
    json_decref(doc);
    static const char *const bad_limits[] = {"-1", "two", "1e3", "99999999999999999999",
                                             "9223372036854775808"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(list_page(NULL, bad_limits[i], NULL, &doc), 400);
        json_decref(doc);
    }
    static const char *const bad_tokens[] = {"zz", "616", "2f61", "6100", "6162"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(list_page(NULL, "2", bad_tokens[i], &doc), 400);
        ck_assert_str_eq(sub_str(doc, "error"), "the continue token is not one this API gave");
        json_decref(doc);
    }
    env_down();
}
END_TEST

/* A body in a media type the API does not read (a form, as curl -d sends
 * by default): 415, as kube-apiserver answers, and nothing submitted;
 * JSON and YAML, with parameters or none said, are read. */
START_TEST(a_body_in_another_media_type_is_refused)
{
    env_up();
    static const struct {
        const char *type;
        int status;
    } types[] = {{"application/x-www-form-urlencoded", 415},
                 {"multipart/form-data; boundary=x", 415},
                 {"text/plain", 415},
                 {";", 415},
                 {" ; charset=utf-8", 415},
                 {"application/json; charset=utf-8", 201},
                 {" ", 201},
                 {"Application/YAML", 201},
                 {"", 201}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "typed-%zu", i);
        const char *body = job_runnable(name, 1, "");
        api_request req = {.method = "POST",
                           .path = "/api/v1/runnables",
                           .authorization = "Bearer tok-alice",
                           .content_type = types[i].type,
                           .body = body,
                           .body_len = strlen(body)};
        api_response resp = {0};
        api_handle(&E.api, &req, &resp);
        ck_assert_msg(resp.status == types[i].status, "%s: %d %s", types[i].type, resp.status,
                      sub_str(resp.body, "error"));
        if (resp.status == 415)
            ck_assert_msg(strstr(sub_str(resp.body, "error"), "unsupported media type"), "%s",
                          sub_str(resp.body, "error"));
        json_decref(resp.body);
    }
    json_t *untyped = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "typed-0", &untyped, NULL),
                     KR_ENOTFOUND);
    json_decref(untyped);
    env_down();
}
END_TEST

START_TEST(bad_input_is_refused_and_nothing_recorded)
{
    env_up();
    json_t *r = NULL;
    struct {
        const char *body;
        int status;
        const char *says;
    } cases[] = {
        {"{\"apiVersion\":\"batch/v1\",\"metadata\":{\"name\":\"x\"}}", 422, "no kind"},
        {"{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{}}", 422, "metadata.name"},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}", 422,
         "cluster-scoped"},
        {"{\"apiVersion\":\"example.com/v1\",\"kind\":\"Frob\",\"metadata\":{\"name\":\"x\"}}", 422,
         "does not serve"},
        {"kind: Job\nmetadata: {name: [unclosed\n", 400, "YAML"},
        /* a body that looks like JSON hears what JSON found as well */
        {"{\"kind\": \"Job\", \"metadata\": {\"name\": ", 400, "neither JSON ("},
        {"", 400, "empty"},
        /* a key given twice: JSON refuses it, and the YAML parser (last
         * one wins) never sees it */
        {"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"kind\":\"Secret\",\"metadata\":{"
         "\"name\":\"x\"}}",
         400, "duplicate object key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", cases[i].body, NULL, &r),
                         cases[i].status);
        const char *msg = sub_str(r, "error");
        ck_assert_msg(strstr(msg, cases[i].says), "case %zu: %s", i, msg);
        json_decref(r);
    }
    /* a cluster named twice would send a failover back where it left;
     * an approval count past the bound would never be met */
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice",
                          job_runnable("twice", 0, "dc1, dc1"), NULL, &r),
                     422);
    ck_assert_ptr_nonnull(strstr(sub_str(r, "error"), "named twice"));
    json_decref(r);
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("many", 1001, ""), NULL, &r),
        422);
    ck_assert_ptr_nonnull(strstr(sub_str(r, "error"), "from 0 to 1000"));
    json_decref(r);
    /* two idempotency keys, the query's and the body's: which is meant? */
    static const char keyed[] =
        "{\"apiVersion\":\"kreconcile.io/v1alpha1\",\"kind\":\"Runnable\",\"metadata\":"
        "{\"name\":\"two-keys\"},\"spec\":{\"idempotencyKey\":\"body-key\",\"template\":"
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"w\"}}}}";
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", keyed, "query-key", &r), 422);
    ck_assert_ptr_nonnull(strstr(sub_str(r, "error"), "is not the body's spec.idempotencyKey"));
    json_decref(r);
    /* so are a namespace and clusters the query and the body both give,
     * and differently (the query's silently won) */
    static const char placed[] =
        "{\"apiVersion\":\"kreconcile.io/v1alpha1\",\"kind\":\"Runnable\",\"metadata\":"
        "{\"name\":\"placed\",\"namespace\":\"default\"},\"spec\":{\"clusters\":[\"dc2\","
        "\"dc1\"],\"template\":{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":"
        "{\"name\":\"w\"}}}}";
    char said[512];
    ck_assert_int_eq(
        call_in("POST", "/api/v1/runnables", "team-b", "tok-alice", placed, said, sizeof(said)),
        422);
    ck_assert_msg(strstr(said, "namespace default is not the one asked for (team-b)"), "%s", said);
    api_request other = {.method = "POST",
                         .path = "/api/v1/runnables",
                         .authorization = "Bearer tok-alice",
                         .body = placed,
                         .body_len = strlen(placed),
                         .q_clusters = "dc1"};
    api_response answer = {0};
    api_handle(&E.api, &other, &answer);
    ck_assert_int_eq(answer.status, 422);
    ck_assert_msg(strstr(sub_str(answer.body, "error"), "are not the body's spec.clusters"), "%s",
                  sub_str(answer.body, "error"));
    json_decref(answer.body);
    /* a key or a list of clusters given empty (a variable left unset) is
     * refused, not read as none: no key would make a retry a second
     * runnable, no list every cluster */
    ck_assert_int_eq(
        call("POST", "/api/v1/runnables", "tok-alice", job_runnable("nokey", 0, ""), "", &r), 400);
    ck_assert_msg(strstr(sub_str(r, "error"), "idempotencyKey is empty"), "%s",
                  sub_str(r, "error"));
    json_decref(r);
    api_request no_list = {.method = "POST",
                           .path = "/api/v1/runnables",
                           .authorization = "Bearer tok-alice",
                           .body = job_runnable("nokey", 0, ""),
                           .body_len = strlen(job_runnable("nokey", 0, "")),
                           .q_clusters = ""};
    answer = (api_response){0};
    api_handle(&E.api, &no_list, &answer);
    ck_assert_msg(answer.status == 400 &&
                      strstr(sub_str(answer.body, "error"), "clusters is empty"),
                  "%d %s", answer.status, sub_str(answer.body, "error"));
    json_decref(answer.body);
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "nokey", NULL, NULL),
                     KR_ENOTFOUND);
    /* a list with an empty name in it is no list of clusters: not "every
     * cluster", nor the names around the gap */
    const char *gaps[] = {",", "dc1,", ",dc2", "dc2,,dc1"};
    for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
        api_request gap = {.method = "POST",
                           .path = "/api/v1/runnables",
                           .authorization = "Bearer tok-alice",
                           .body = job_runnable("gap", 0, ""),
                           .body_len = strlen(job_runnable("gap", 0, "")),
                           .q_clusters = gaps[i]};
        answer = (api_response){0};
        api_handle(&E.api, &gap, &answer);
        ck_assert_msg(answer.status == 422 &&
                          strstr(sub_str(answer.body, "error"), "names an empty cluster"),
                      "%s: %d %s", gaps[i], answer.status, sub_str(answer.body, "error"));
        json_decref(answer.body);
        json_t *none = cached("gap");
        ck_assert_ptr_null(none);
        ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", "gap", NULL, NULL),
                         KR_ENOTFOUND);
    }
    /* the same, in the same order: taken (and the template, no Job a
     * cluster would run, is what is refused then) */
    other.q_clusters = "dc2,dc1";
    other.q_namespace = "default";
    answer = (api_response){0};
    api_handle(&E.api, &other, &answer);
    ck_assert_msg(strstr(sub_str(answer.body, "error"), "cluster dc2 refuses the template"),
                  "%d %s", answer.status, sub_str(answer.body, "error"));
    json_decref(answer.body);
    size_t big_len = 10 * 1024 * 1024;
    char *big = malloc(big_len + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', big_len);
    big[big_len] = '\0';
    memcpy(big, "{\"kind\":\"Job\"}", 14);
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", big, NULL, &r), 400);
    ck_assert_ptr_nonnull(strstr(sub_str(r, "error"), "at most"));
    json_decref(r);
    free(big);
    /* a template the cluster refuses (a Job's pods may not restart
     * Always): the server-side dry run says so in the cluster's words */
    static const char always[] =
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"bad\"},"
        "\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Always\",\"containers\":[{"
        "\"name\":\"c\",\"image\":\"busybox\"}]}}}}";
    expect_template_refused(always, "Job.batch \"bad-dryrun-1\" is invalid: "
                                    "spec.template.spec.restartPolicy: Required value: valid "
                                    "values: \"OnFailure\", \"Never\"");
    /* a value the Job's Go type cannot hold: the cluster's 400, as a verdict */
    expect_template_refused(
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"typed\"},"
        "\"spec\":{\"parallelism\":\"2\",\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
        "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}",
        "Job in version \"v1\" cannot be handled as a Job: json: cannot unmarshal string into Go "
        "struct field JobSpec.spec.parallelism of type int32");
    /* what the create would fail the runnable for is a verdict too: no
     * such namespace there (404), as no right to write it (403) */
    expect_template_refused(
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"lost\","
        "\"namespace\":\"nowhere\"},\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":"
        "\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}",
        "namespaces \"nowhere\" not found");
    /* dc1 failing: the next cluster gives the verdict */
    kr_testserver_faults down = {.fail_503 = 1.0}, up = {0};
    kr_testserver_set_faults(E.dc_ts[0], &down);
    ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", always, NULL, &r), 422);
    ck_assert_msg(strncmp(sub_str(r, "error"), "cluster dc2 refuses the template: ", 34) == 0, "%s",
                  sub_str(r, "error"));
    json_decref(r);
    kr_testserver_set_faults(E.dc_ts[0], &up);
    /* the caller's mistakes in the query are 4xx, never a 503 to retry: a
     * namespace the client refuses, values that are no UTF-8 (dropped on
     * their way into JSON, a key would stop keying) */
    static const struct {
        const char *ns, *key;
        int status;
        const char *says;
    } queries[] = {
        {"..", NULL, 400, "invalid namespace"},
        {"\xff", NULL, 400, "a query parameter is not valid UTF-8"},
        {NULL, "k\xffz", 400, "a query parameter is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        const char *body = job_runnable("queried", 0, "");
        api_request req = {.method = "POST",
                           .path = "/api/v1/runnables",
                           .authorization = "Bearer tok-alice",
                           .body = body,
                           .body_len = strlen(body),
                           .q_namespace = queries[i].ns,
                           .q_idempotency_key = queries[i].key};
        api_response resp = {0};
        api_handle(&E.api, &req, &resp);
        ck_assert_msg(resp.status == queries[i].status, "query %zu: %d %s", i, resp.status,
                      sub_str(resp.body, "error"));
        ck_assert_msg(strstr(sub_str(resp.body, "error"), queries[i].says), "query %zu: %s", i,
                      sub_str(resp.body, "error"));
        json_decref(resp.body);
    }
    /* so is a history's uid that is no UTF-8: a 400 as for the others,
     * before the history is looked for (it was a 404, no runnable having
     * had that uid) */
    {
        static const char *const uid_name[] = {"uid"};
        api_request req = {.method = "GET",
                           .path = "/api/v1/runnables/default/x/history",
                           .authorization = "Bearer tok-alice",
                           .q_uid = "\xff",
                           .q_names = uid_name,
                           .n_q_names = 1};
        api_response resp = {0};
        api_handle(&E.api, &req, &resp);
        ck_assert_msg(resp.status == 400, "history uid: %d %s", resp.status,
                      sub_str(resp.body, "error"));
        ck_assert_str_eq(sub_str(resp.body, "error"), "a query parameter is not valid UTF-8");
        json_decref(resp.body);
    }
    /* each path takes its parameters, each once: any other is a 400, as
     * kr-inventory's API answers, never ignored; so is a namespace that
     * is no namespace's name, never an empty list */
    static const struct {
        const char *method, *path, *names[3], *ns;
        int status;
        const char *says;
    } params[] = {
        {"GET", "/api/v1/runnables", {"foo"}, NULL, 400, "unknown query parameter \"foo\""},
        {"GET", "/api/v1/runnables", {"namespce"}, NULL, 400, "unknown query parameter"},
        {"GET", "/api/v1/runnables", {"uid"}, NULL, 400, "unknown query parameter \"uid\""},
        {"GET", "/api/v1/runnables", {"namespace"}, "Bad_NS", 400, "invalid namespace \"Bad_NS\""},
        {"GET", "/api/v1/runnables", {"limit", "limit"}, NULL, 400, "\"limit\" given twice"},
        {"GET", "/api/v1/runnables", {"namespace", "limit", "continue"}, "default", 200, ""},
        {"POST", "/api/v1/runnables", {"idempotencykey"}, NULL, 400, "unknown query parameter"},
        {"POST", "/api/v1/runnables", {"limit"}, NULL, 400, "unknown query parameter"},
        {"POST", "/api/v1/runnables", {"namespace"}, "Bad_NS", 400, "invalid namespace"},
        {"GET", "/api/v1/runnables/default/x", {"uid"}, NULL, 400, "unknown query parameter"},
        {"GET", "/api/v1/runnables/default/x/history", {"limit"}, NULL, 400, "unknown query"},
        {"POST", "/api/v1/runnables/default/x/approve", {"specHash"}, NULL, 400, "unknown query"},
        {"POST", "/api/v1/runnables/default/x/cancel", {"force"}, NULL, 400, "unknown query"},
        {"GET", "/api/v1/whoami", {"v"}, NULL, 400, "unknown query parameter \"v\""},
    };
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        const char *body =
            strcmp(params[i].method, "POST") == 0 ? job_runnable("param", 0, "") : "";
        size_t n = 0;
        while (n < 3 && params[i].names[n])
            n++;
        api_request req = {.method = params[i].method,
                           .path = params[i].path,
                           .authorization = "Bearer tok-erin",
                           .body = *body ? body : NULL,
                           .body_len = strlen(body),
                           .q_namespace = params[i].ns,
                           .q_names = params[i].names,
                           .n_q_names = n};
        api_response resp = {0};
        api_handle(&E.api, &req, &resp);
        ck_assert_msg(resp.status == params[i].status, "params %zu: %d %s", i, resp.status,
                      sub_str(resp.body, "error"));
        ck_assert_msg(strstr(sub_str(resp.body, "error"), params[i].says), "params %zu: %s", i,
                      sub_str(resp.body, "error"));
        json_decref(resp.body);
    }
    /* a path the API serves, with a method it does not take: 405 and the
     * methods it does; HEAD is a GET */
    static const struct {
        const char *method, *path, *allow;
        int status;
    } methods[] = {
        {"DELETE", "/api/v1/runnables/default/x", "GET, HEAD", 405},
        {"GET", "/api/v1/runnables/default/x/approve", "POST", 405},
        {"PUT", "/api/v1/runnables", "GET, HEAD, POST", 405},
        {"POST", "/api/v1/whoami", "GET, HEAD", 405},
        {"HEAD", "/api/v1/runnables", NULL, 200},
        {"DELETE", "/api/v1/runnables/default/x/frob", NULL, 404},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        api_request req = {.method = methods[i].method,
                           .path = methods[i].path,
                           .authorization = "Bearer tok-alice"};
        api_response resp = {0};
        api_handle(&E.api, &req, &resp);
        ck_assert_msg(resp.status == methods[i].status, "%s %s: %d", methods[i].method,
                      methods[i].path, resp.status);
        if (methods[i].allow)
            ck_assert_str_eq(resp.allow, methods[i].allow);
        else
            ck_assert_ptr_null(resp.allow);
        json_decref(resp.body);
    }
    json_t *list = NULL;
    ck_assert_int_eq(kr_client_list(E.hub, SUB_RUNNABLES, NULL, NULL, &list, NULL), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
    assert_events(NULL, 0);
    /* nothing was written in either cluster */
    for (int dc = 0; dc < 2; dc++) {
        ck_assert_int_eq(kr_client_list(E.dc[dc], JOBS, NULL, NULL, &list, NULL), 0);
        ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 0);
        json_decref(list);
    }
    env_down();
}
END_TEST

/* ---- many runnables under faults ---------------------------------------------------- */

typedef struct soak {
    int n;
    atomic_int terminal;
    atomic_bool stop;
} soak;

static soak S;

static bool runnable_terminal(int i)
{
    char name[32];
    snprintf(name, sizeof(name), "soak-%03d", i);
    json_t *o = cached(name);
    bool done = o && sub_phase_terminal(sub_str(o, "status.phase"));
    json_decref(o);
    return done;
}

/* A controller worker: reconciles its share of the keys until all ended. */
static void *soak_worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    while (!atomic_load(&S.stop)) {
        int left = 0;
        for (int i = w; i < S.n; i += 4) {
            char name[32];
            snprintf(name, sizeof(name), "soak-%03d", i);
            uint64_t after = 0;
            submitter_reconcile(&E.s, "default", name, &after, NULL);
            left += !runnable_terminal(i);
        }
        if (left == 0)
            break;
        struct timespec pace = {0, 5000000}; /* a round; the loop is the requeue */
        nanosleep(&pace, NULL);
    }
    return NULL;
}

/* The workload clusters' job controller: every released Job it can reach
 * runs to completion (the test marks it Complete). */
static void *soak_cluster(void *arg)
{
    (void)arg;
    while (!atomic_load(&S.stop)) {
        for (int dc = 0; dc < 2; dc++) {
            json_t *list = NULL;
            if (kr_client_list(E.dc[dc], JOBS, "default", NULL, &list, NULL) != 0)
                continue;
            size_t i;
            json_t *job;
            json_array_foreach(json_object_get(list, "items"), i, job)
            {
                if (json_is_true(json_object_get(json_object_get(job, "spec"), "suspend")) ||
                    failover_outcome(job))
                    continue;
                json_t *copy = json_deep_copy(job);
                json_object_set_new(copy, "status",
                                    json_pack("{s:s, s:[{s:s, s:s}]}", "startTime",
                                              "2026-01-01T00:00:00Z", "conditions", "type",
                                              "Complete", "status", "True"));
                kr_client_update_status(E.dc[dc], JOBS, "default", copy, NULL, NULL, NULL);
                json_decref(copy);
            }
            json_decref(list);
        }
        struct timespec pace = {0, 10000000};
        nanosleep(&pace, NULL);
    }
    return NULL;
}

static int count_terminal(void)
{
    int n = 0;
    for (int i = 0; i < S.n; i++)
        n += runnable_terminal(i);
    return n;
}

START_TEST(many_runnables_under_faults_each_complete_once)
{
    unsigned long seed = kr_test_seed("many_runnables_under_faults");
    env_seed = seed;
    env_up();
    const char *env_n = getenv("KR_SUBMITTER_RUNNABLES");
    S.n = env_n ? atoi(env_n) : 200;
    if (S.n <= 0 || S.n > 999)
        S.n = 200;
    atomic_store(&S.stop, false);
    for (int i = 0; i < S.n; i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"kreconcile.io/v1alpha1\",\"kind\":\"Runnable\","
                 "\"metadata\":{\"name\":\"soak-%03d\"},\"spec\":{\"template\":{"
                 "\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":"
                 "\"j\"},\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
                 "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}}}",
                 i);
        ck_assert_int_eq(call("POST", "/api/v1/runnables", "tok-alice", body, NULL, NULL), 201);
    }
    /* bursts of 429 and 5xx and watches cut mid-stream everywhere */
    kr_testserver_faults f = {.fail_429 = 0.03,
                              .fail_500 = 0.03,
                              .fail_503 = 0.02,
                              .watch_max_events = 40,
                              .watch_cut_mid_event = true};
    for (int dc = 0; dc < 2; dc++)
        kr_testserver_set_faults(E.dc_ts[dc], &f);
    kr_testserver_faults hub_f = {.fail_500 = 0.02, .watch_max_events = 60};
    kr_testserver_set_faults(E.hub_ts, &hub_f);
    pthread_t workers[4], cluster;
    for (int w = 0; w < 4; w++)
        ck_assert_int_eq(pthread_create(&workers[w], NULL, soak_worker, (void *)(intptr_t)w), 0);
    ck_assert_int_eq(pthread_create(&cluster, NULL, soak_cluster, NULL), 0);
    /* dc1 goes away for a while once a quarter is done, and comes back */
    time_t deadline = time(NULL) + WAIT_S(240);
    bool down = false, back = false;
    int done = 0;
    while ((done = count_terminal()) < S.n && time(NULL) < deadline) {
        if (!down && done >= S.n / 4) {
            kr_testserver_faults off = {.fail_503 = 1.0};
            kr_testserver_set_faults(E.dc_ts[0], &off);
            kr_testserver_close_watches(E.dc_ts[0]);
            down = true;
        } else if (down && !back) {
            advance_ms(FAILOVER_MS / 20);
            pthread_mutex_lock(&E.mu);
            int moved = E.failovers;
            pthread_mutex_unlock(&E.mu);
            if (done >= S.n * 3 / 4 && moved > 0) {
                kr_testserver_set_faults(E.dc_ts[0], &f);
                back = true;
            }
        }
        struct timespec pace = {0, 20000000};
        nanosleep(&pace, NULL);
    }
    if (down && !back)
        kr_testserver_set_faults(E.dc_ts[0], &f);
    for (int w = 0; w < 4; w++)
        pthread_join(workers[w], NULL);
    ck_assert_msg(done == S.n, "%d of %d runnables ended (seed %lu)", done, S.n, seed);
    /* quiet: stragglers are removed, then no runnable completed twice */
    kr_testserver_faults none = {0};
    for (int dc = 0; dc < 2; dc++)
        kr_testserver_set_faults(E.dc_ts[dc], &none);
    kr_testserver_set_faults(E.hub_ts, &none);
    advance_ms(FAILOVER_MS);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < S.n; i++) {
            char name[32];
            snprintf(name, sizeof(name), "soak-%03d", i);
            uint64_t after = 0;
            for (int k = 0; k < 8; k++) {
                submitter_reconcile(&E.s, "default", name, &after, NULL);
                struct timespec pace = {0, 1000000}; /* the cache catches up */
                nanosleep(&pace, NULL);
            }
        }
    }
    atomic_store(&S.stop, true);
    pthread_join(cluster, NULL);
    int completed[1000] = {0}, succeeded = 0;
    for (int dc = 0; dc < 2; dc++) {
        json_t *list = NULL;
        ck_assert_int_eq(kr_client_list(E.dc[dc], JOBS, "default", NULL, &list, NULL), 0);
        size_t i;
        json_t *job;
        json_array_foreach(json_object_get(list, "items"), i, job)
        {
            int idx = atoi(sub_str(job, "metadata.name") + strlen("soak-"));
            if (failover_outcome(job))
                completed[idx]++;
        }
        json_decref(list);
    }
    for (int i = 0; i < S.n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "soak-%03d", i);
        json_t *o = cached(name);
        succeeded += strcmp(sub_str(o, "status.phase"), SUB_PHASE_SUCCEEDED) == 0;
        ck_assert_msg(completed[i] == 1, "%s completed %d times (seed %lu)", name, completed[i],
                      seed);
        json_decref(o);
    }
    ck_assert_int_eq(succeeded, S.n);
    ck_assert(down && back);
    pthread_mutex_lock(&E.mu);
    for (int i = 0; i < S.n; i++)
        ck_assert_msg(E.soak_succeeded[i] == 1, "soak-%03d: %d SUCCEEDED events", i,
                      E.soak_succeeded[i]);
    int failovers = E.failovers;
    pthread_mutex_unlock(&E.mu);
    /* how many moved depends on the schedule (none, if dc1 had finished
     * its share when it went away): reported, not asserted */
    fprintf(stderr, "many_runnables_under_faults: %d runnables, %d failovers\n", S.n, failovers);
    env_down();
    env_seed = 0;
}
END_TEST

/* ---- the program: serve + the CLI verbs over HTTP --------------------------------- */

/* --failover-after under a second (0s read as the default 60s; a few
 * milliseconds failed a cluster over on one slow answer) is a usage
 * error naming the minimum, which --help states. */
START_TEST(serve_refuses_a_failover_after_below_its_minimum)
{
    char bin[4096], out[8192];
    kr_test_bin_path(bin, sizeof(bin), "kr-submitter");
    if (access(bin, X_OK) != 0) {
        kr_test_skip("kr-submitter", "%s is not built", bin);
        return;
    }
    const char *values[] = {"0s", "999ms", "10ns", "--failover-after=0"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        bool joined = strncmp(values[i], "--", 2) == 0;
        const char *argv[] = {bin,
                              "serve",
                              "--kubeconfig",
                              "/nonexistent",
                              "--cluster",
                              "dc1=/nonexistent",
                              "--token-auth-file",
                              "/nonexistent",
                              joined ? values[i] : "--failover-after",
                              joined ? NULL : values[i],
                              NULL};
        ck_assert_int_eq(kr_test_proc_run(argv, out, sizeof(out), 60000), 2);
        char want[200];
        snprintf(want, sizeof(want),
                 "invalid argument \"%s\" for \"--failover-after\" flag: want at least 1s",
                 joined ? "0" : values[i]);
        ck_assert_msg(strstr(out, want), "%s: %s", values[i], out);
    }
    /* a second is taken: what stops it is the missing kubeconfig */
    const char *one[] = {bin,
                         "serve",
                         "--kubeconfig",
                         "/nonexistent",
                         "--cluster",
                         "dc1=/nonexistent",
                         "--token-auth-file",
                         "/nonexistent",
                         "--failover-after",
                         "1s",
                         NULL};
    ck_assert_int_eq(kr_test_proc_run(one, out, sizeof(out), 60000), 2);
    ck_assert_ptr_null(strstr(out, "failover-after"));
    ck_assert_ptr_nonnull(strstr(out, "kubeconfig"));
    /* a decision key too short to seal with stops it, before anything
     * else is looked at */
    char key[4096];
    int fd = kr_test_tmpfile_make(key, sizeof(key), "kr-submitter-key");
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "short", 5), 5);
    close(fd);
    const char *weak[] = {bin,
                          "serve",
                          "--kubeconfig",
                          "/nonexistent",
                          "--cluster",
                          "dc1=/nonexistent",
                          "--token-auth-file",
                          "/nonexistent",
                          "--decision-key-file",
                          key,
                          NULL};
    ck_assert_int_eq(kr_test_proc_run(weak, out, sizeof(out), 60000), 2);
    ck_assert_msg(strstr(out, "a key of 32 to 4096 bytes is wanted, not 5"), "%s", out);
    unlink(key);
    const char *help[] = {bin, "serve", "--help", NULL};
    ck_assert_int_eq(kr_test_proc_run(help, out, sizeof(out), 60000), 0);
    ck_assert_ptr_nonnull(strstr(out, "(at least 1s)"));
}
END_TEST

static unsigned short free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* kr-submitter CLI verb; output in out. */
/* The CA an https --server's certificate is checked against (the CLI's
 * --certificate-authority), when a test serves HTTPS. */
static char cli_ca[400];

static int cli(const char *bin, const char *server, const char *token, const char *const *args,
               char *out, size_t size)
{
    const char *argv[18];
    size_t n = 0;
    argv[n++] = bin;
    for (; *args && n < 10; args++)
        argv[n++] = *args;
    argv[n++] = "--server";
    argv[n++] = server;
    argv[n++] = "--token";
    argv[n++] = token;
    if (strncmp(server, "https://", 8) == 0) {
        argv[n++] = "--certificate-authority";
        argv[n++] = cli_ca;
    }
    argv[n] = NULL;
    return kr_test_proc_run(argv, out, size, 60000);
}

/* A directory with kubeconfigs for the three servers, the token file and a
 * Job manifest, for running the program. */
typedef struct program_env {
    char bin[4096];
    char dir[256];
    char hub[600], dc1[600], dc2[600], tokfile[600], job[600];
} program_env;

static bool program_env_up(program_env *p)
{
    kr_test_bin_path(p->bin, sizeof(p->bin), "kr-submitter");
    if (access(p->bin, X_OK) != 0) {
        kr_test_skip("kr-submitter", "%s is not built", p->bin);
        return false;
    }
    env_up();
    ck_assert(kr_test_tmpdir_make(p->dir, sizeof(p->dir), "kr-submitter"));
    snprintf(p->hub, sizeof(p->hub), "%s/hub", p->dir);
    snprintf(p->dc1, sizeof(p->dc1), "dc1=%s/dc1", p->dir);
    snprintf(p->dc2, sizeof(p->dc2), "dc2=%s/dc2", p->dir);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(E.hub_ts, p->hub, "default", NULL), 0);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(E.dc_ts[0], p->dc1 + 4, "default", NULL), 0);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(E.dc_ts[1], p->dc2 + 4, "default", NULL), 0);
    kr_test_write_file(p->dir, "tokens.csv", tokens);
    kr_test_write_file(p->dir, "job.yaml",
                       "apiVersion: batch/v1\nkind: Job\nmetadata: {name: report}\n"
                       "spec: {template: {spec: {restartPolicy: Never, containers: "
                       "[{name: c, image: busybox}]}}}\n");
    snprintf(p->tokfile, sizeof(p->tokfile), "%s/tokens.csv", p->dir);
    snprintf(p->job, sizeof(p->job), "%s/job.yaml", p->dir);
    return true;
}

static void program_env_down(program_env *p)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", p->dir);
    ck_assert_int_eq(system(cmd), 0);
    env_down();
}

/* The --inventory-spool the next serve_start_on gives (NULL: none). */
static const char *serve_spool;
/* The --inventory it gives (NULL: a SQLite file in the environment's
 * directory). */
static const char *serve_inventory;

/* Start `kr-submitter serve` on `port` (its URL in `server`), with
 * leader election when `elect`, as `proc`; returns once its API answers.
 * `failover_after`: its --failover-after (NULL: 60s). */
static void serve_start_on(program_env *p, kr_test_proc *proc, bool elect,
                           const char *failover_after, unsigned short port, char *server,
                           size_t len)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    snprintf(server, len, "http://127.0.0.1:%u", port);
    char inventory[700];
    snprintf(inventory, sizeof(inventory), "sqlite://%s/inventory.db", p->dir);
    const char *argv[32] = {p->bin,
                            "serve",
                            "--kubeconfig",
                            p->hub,
                            "--cluster",
                            p->dc1,
                            "--cluster",
                            p->dc2,
                            "--listen",
                            listen,
                            "--token-auth-file",
                            p->tokfile,
                            "--failover-after",
                            failover_after ? failover_after : "60s",
                            "--log-format",
                            "text",
                            "--inventory",
                            serve_inventory ? serve_inventory : inventory};
    size_t n = 18;
    if (elect) {
        argv[n++] = "--leader-elect";
        argv[n++] = "--lease-namespace";
        argv[n++] = "default";
    }
    if (serve_spool) {
        argv[n++] = "--inventory-spool";
        argv[n++] = serve_spool;
    }
    char log[700];
    snprintf(log, sizeof(log), "%s/serve-%u.log", p->dir, port);
    kr_test_proc_start(proc, log, argv);
    char out[4096];
    const char *list_args[] = {"list", NULL};
    time_t deadline = time(NULL) + WAIT_S(30);
    while (cli(p->bin, server, "tok-erin", list_args, out, sizeof(out)) != 0 &&
           time(NULL) < deadline) {
        struct timespec pace = {0, 50000000};
        nanosleep(&pace, NULL);
    }
    ck_assert_msg(strstr(out, "No resources found") || strstr(out, "PHASE"), "%s", out);
}

/* serve_start_on a free port. */
static void serve_start(program_env *p, kr_test_proc *proc, bool elect, const char *failover_after,
                        char *server, size_t len)
{
    serve_start_on(p, proc, elect, failover_after, free_port(), server, len);
}

static void wait_pace(void)
{
    struct timespec pace = {0, 20000000};
    nanosleep(&pace, NULL);
}

/* Review finding: `serve --listen 0` ran the controller with no API and
 * no health endpoints, and said nothing of it. It says so at start. */
START_TEST(serve_without_an_endpoint_says_so)
{
    program_env p;
    if (!program_env_up(&p))
        return;
    const char *argv[] = {
        p.bin,      "serve", "--kubeconfig",      p.hub,     "--cluster",    p.dc1,
        "--listen", "0",     "--token-auth-file", p.tokfile, "--log-format", "text",
        NULL};
    char log[700];
    snprintf(log, sizeof(log), "%s/serve-no-listen.log", p.dir);
    kr_test_proc serve;
    kr_test_proc_start(&serve, log, argv);
    /* the warning logged right after it at start */
    bool started =
        kr_test_proc_log_wait(&serve, "give --authorization-review", 0, (int)WAIT_S(30) * 1000);
    char *text = kr_test_proc_log_text(&serve);
    kr_test_proc_stop(&serve, 10000);
    kr_test_proc_free(&serve);
    ck_assert_msg(started, "%s", text);
    ck_assert_msg(strstr(text, "--listen 0: no HTTP endpoint: the API (/api/v1/runnables) and the "
                               "health endpoints"),
                  "%s", text);
    free(text);
    program_env_down(&p);
}
END_TEST

START_TEST(program_serves_the_api_and_the_cli_drives_it)
{
    program_env p;
    if (!program_env_up(&p))
        return;
    char server[80], out[65536];
    kr_test_proc serve;
    serve_start(&p, &serve, false, NULL, server, sizeof(server));
    const char *bad_token[] = {"list", NULL};
    ck_assert_int_eq(cli(p.bin, server, "nope", bad_token, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "401"), "%s", out);
    /* no token: no header sent, and both ends say what is missing (the
     * CLI sent "Bearer " with nothing, answered "not one this server
     * knows") */
    ck_assert_int_eq(cli(p.bin, server, "", bad_token, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "send Authorization: Bearer <token> (HTTP 401): no token was given"),
                  "%s", out);
    /* the toolkit's flag parser: --help, errors, --flag=value */
    const char *help[] = {"submit", "--help", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", help, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "--idempotency-key K") && strstr(out, "-f, --filename FILE"), "%s",
                  out);
    /* the help says what --server takes: a path is refused below */
    ck_assert_msg(strstr(out, "http(s)://HOST[:PORT] with no path"), "%s", out);
    const char *no_file[] = {"submit", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", no_file, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "Run 'kr-submitter submit --help'"), "%s", out);
    const char *unknown[] = {"get", "--frob", "x", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", unknown, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "unknown flag: --frob"), "%s", out);
    const char *two[] = {"get", "a", "b", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", two, out, sizeof(out)), 2);
    /* a manifest that cannot be read says why; a server URL with a query
     * would swallow the paths appended to it */
    const char *a_dir[] = {"submit", "-f", p.dir, NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", a_dir, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "Is a directory"), "%s", out);
    char queried[128];
    snprintf(queried, sizeof(queried), "%s/?x=", server);
    const char *list_only[] = {"list", NULL};
    ck_assert_int_eq(cli(p.bin, queried, "tok-alice", list_only, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--server: want http://HOST[:PORT]") &&
                      strstr(out, "\nRun 'kr-submitter list --help' for usage.\n"),
                  "%s", out);
    /* nor a path: the API's are appended to it (http://h:p/api asked for
     * /api/api/v1/runnables); a trailing slash is taken */
    char pathed[128];
    snprintf(pathed, sizeof(pathed), "%s/api", server);
    ck_assert_int_eq(cli(p.bin, pathed, "tok-alice", list_only, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--server: want http://HOST[:PORT]") && strstr(out, "with no path") &&
                      strstr(out, "\nRun 'kr-submitter list --help' for usage.\n"),
                  "%s", out);
    snprintf(pathed, sizeof(pathed), "%s//", server);
    ck_assert_int_eq(cli(p.bin, pathed, "tok-alice", list_only, out, sizeof(out)), 0);
    /* the API refuses a query parameter it does not take, and a namespace
     * that is no namespace's name, with a 400 */
    static const struct {
        const char *path, *says;
    } queries[] = {
        {"/api/v1/runnables?foo=bar", "unknown query parameter \"foo\""},
        {"/api/v1/runnables?namespce=x", "unknown query parameter \"namespce\""},
        {"/api/v1/runnables?namespace=Bad_NS", "invalid namespace \"Bad_NS\""},
        {"/api/v1/runnables?limit=1&limit=2", "query parameter \"limit\" given twice"},
        {"/api/v1/whoami?x", "unknown query parameter \"x\""},
    };
    const char *auth_erin[] = {"Authorization: Bearer tok-erin", NULL};
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        tc_response tr;
        tc_request(server, "GET", queries[i].path, NULL, NULL, auth_erin, &tr);
        ck_assert_msg(tr.status == 400 && strstr(sub_str(tr.json, "error"), queries[i].says),
                      "%s: %ld %s", queries[i].path, tr.status, tr.body ? tr.body : "");
        tc_free(&tr);
    }
    tc_response listed;
    tc_request(server, "GET", "/api/v1/runnables?namespace=default&limit=1", NULL, NULL, auth_erin,
               &listed);
    ck_assert_int_eq(listed.status, 200);
    tc_free(&listed);
    /* a trailing slash is taken, as kubectl takes one */
    snprintf(queried, sizeof(queried), "%s/", server);
    ck_assert_int_eq(cli(p.bin, queried, "tok-alice", list_only, out, sizeof(out)), 0);
    snprintf(queried, sizeof(queried), "%s//", server);
    const char *whoami[] = {"whoami", NULL};
    ck_assert_int_eq(cli(p.bin, queried, "tok-alice", whoami, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "Username    alice"), "%s", out);
    /* a token too long for the header is refused whole, never cut */
    char long_token[4200];
    memset(long_token, 't', sizeof(long_token) - 1);
    long_token[sizeof(long_token) - 1] = '\0';
    ck_assert_int_eq(cli(p.bin, server, long_token, list_only, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "the token is longer than 4000 bytes"), "%s", out);
    /* names a URL would read as path steps are refused before any request */
    const char *dots[] = {"cancel", "default/..", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", dots, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "invalid runnable \"default/..\"") &&
                      strstr(out, "\nRun 'kr-submitter cancel --help' for usage.\n"),
                  "%s", out);
    /* as is a name or namespace the apiserver would refuse */
    const char *upper[] = {"get", "Default/job", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", upper, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "invalid runnable \"Default/job\""), "%s", out);
    const char *dashed[] = {"approve", "job-", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", dashed, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "invalid runnable \"job-\""), "%s", out);
    /* a token is one line: a line break would add a header of its own */
    ck_assert_int_eq(cli(p.bin, server, "tok-alice\r\nX-Injected: 1", bad_token, out, sizeof(out)),
                     1);
    ck_assert_msg(strstr(out, "control character"), "%s", out);
    /* a token file's surrounding whitespace is trimmed, as kubectl does */
    char tokpath[700];
    snprintf(tokpath, sizeof(tokpath), "%s/erin.token", p.dir);
    FILE *tf = fopen(tokpath, "w");
    ck_assert_ptr_nonnull(tf);
    fputs("  tok-erin \n\n", tf);
    fclose(tf);
    const char *by_file[] = {p.bin, "list", "--server", server, "--token-file", tokpath, NULL};
    ck_assert_int_eq(kr_test_proc_run(by_file, out, sizeof(out), 60000), 0);
    /* however much whitespace: the file is read whole, never cut */
    tf = fopen(tokpath, "w");
    ck_assert_ptr_nonnull(tf);
    for (int i = 0; i < 5000; i++)
        fputc(' ', tf);
    fputs("tok-erin\n", tf);
    fclose(tf);
    ck_assert_int_eq(kr_test_proc_run(by_file, out, sizeof(out), 60000), 0);
    const char *both[] = {p.bin,   "list",    "--server",  server, "--token-file",
                          tokpath, "--token", "tok-alice", NULL};
    ck_assert_int_eq(kr_test_proc_run(both, out, sizeof(out), 60000), 2);
    ck_assert_msg(strstr(out, "not both") && strstr(out, "\nRun 'kr-submitter list --help'"), "%s",
                  out);
    unlink(tokpath);
    const char *submit[] = {"submit", "-f", p.job, "--idempotency-key=r1", "-o=json", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", submit, out, sizeof(out)), 0);
    json_t *r = json_loads(out, 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    char name[64], copy[80];
    snprintf(name, sizeof(name), "%s", sub_str(r, "metadata.name"));
    snprintf(copy, sizeof(copy), "%s-1", name);
    json_decref(r);
    /* the controller places it; the test plays the cluster and completes it
     * once released (as a cluster runs it; completing it before would race
     * with the release) */
    time_t deadline = time(NULL) + WAIT_S(30);
    while (!job_released(0, copy) && time(NULL) < deadline)
        wait_pace();
    ck_assert(job_released(0, copy));
    mark_job(0, copy, "Complete");
    const char *get[] = {"get", name, NULL};
    deadline = time(NULL) + WAIT_S(30);
    while (
        (cli(p.bin, server, "tok-erin", get, out, sizeof(out)) != 0 || !strstr(out, "Succeeded")) &&
        time(NULL) < deadline)
        wait_pace();
    ck_assert_msg(strstr(out, "Succeeded") && strstr(out, "dc1"), "%s", out);
    /* list is of one namespace, "default" unless -n names another, as
     * kubectl get is; -A lists every one, with a NAMESPACE column */
    const char *list_default[] = {"list", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", list_default, out, sizeof(out)), 0);
    ck_assert_msg(strncmp(out, "NAME ", 5) == 0 && strstr(out, name), "%s", out);
    const char *list_other[] = {"list", "-n", "kube-system", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", list_other, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "No resources found in kube-system namespace.\n");
    const char *list_all[] = {"list", "-A", "-n", "kube-system", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", list_all, out, sizeof(out)), 0);
    ck_assert_msg(strncmp(out, "NAMESPACE ", 10) == 0 && strstr(out, "\ndefault ") &&
                      strstr(out, name),
                  "%s", out);
    /* Every transition is in the inventory, in order, with its actor. */
    const char *history[] = {"history", name, NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", history, out, sizeof(out)), 0);
    char shown[65536];
    snprintf(shown, sizeof(shown), "%s", out);
    const char *nosuch[] = {"history", "nosuch", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", nosuch, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "404"), "%s", out);
    snprintf(out, sizeof(out), "%s", shown);
    /* a table as kubectl prints one: each column starts where its header
     * does, whatever the width of the times in it */
    const char *event_col = strstr(out, "EVENT"), *row = strchr(out, '\n');
    ck_assert_msg(event_col && row, "%s", out);
    row++;
    size_t at = (size_t)(event_col - out);
    ck_assert_msg(strlen(row) > at && row[at - 1] == ' ' && row[at] != ' ', "%s", out);
    const char *submitted = strstr(out, "SUBMITTED"), *dispatched = strstr(out, "DISPATCHED"),
               *verified = strstr(out, "VERIFIED"), *succeeded = strstr(out, "SUCCEEDED");
    ck_assert_msg(submitted && dispatched && verified && succeeded, "%s", out);
    ck_assert_msg(submitted < dispatched && dispatched < verified && verified < succeeded, "%s",
                  out);
    ck_assert_msg(strstr(out, "alice"), "%s", out);
    const char *approve[] = {"approve", name, NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", approve, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "HTTP 403") || strstr(out, "HTTP 409"), "%s", out);
    /* One runnable is one uid: deleted and submitted again under its name,
     * the name's history is the new one's, and --uid reads the first's */
    json_t *first = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", name, &first, NULL), 0);
    char first_uid[64];
    snprintf(first_uid, sizeof(first_uid), "%s", sub_str(first, "metadata.uid"));
    json_decref(first);
    ck_assert_int_eq(kr_client_delete(E.hub, SUB_RUNNABLES, "default", name, NULL, NULL, NULL), 0);
    deadline = time(NULL) + WAIT_S(30);
    while (kr_client_get(E.hub, SUB_RUNNABLES, "default", name, NULL, NULL) == 0 &&
           time(NULL) < deadline)
        wait_pace();
    ck_assert_int_eq(kr_client_get(E.hub, SUB_RUNNABLES, "default", name, NULL, NULL),
                     KR_ENOTFOUND);
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", history, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "SUCCEEDED") && !strstr(out, "UID"), "%s", out);
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", submit, out, sizeof(out)), 0);
    r = json_loads(out, 0, NULL);
    ck_assert_str_eq(sub_str(r, "metadata.name"), name);
    ck_assert_str_ne(sub_str(r, "metadata.uid"), first_uid);
    json_decref(r);
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", history, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "SUBMITTED") && !strstr(out, "SUCCEEDED"), "%s", out);
    const char *earlier[] = {"history", name, "--uid", first_uid, NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", earlier, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "SUCCEEDED"), "%s", out);
    /* a uid that never had the name: a 404 saying so, not an empty table
     * and exit 0; an empty flag is a usage error, not "no flag" */
    const char *never[] = {"history", name, "--uid", "no-such-uid", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", never, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "of uid \"no-such-uid\", and no history of one (HTTP 404)"), "%s",
                  out);
    const char *empty_uid[] = {"history", name, "--uid", "", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-erin", empty_uid, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--uid is empty"), "%s", out);
    const char *empty_key[] = {"submit", "-f", p.job, "--idempotency-key", "", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", empty_key, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--idempotency-key is empty"), "%s", out);
    const char *empty_clusters[] = {"submit", "-f", p.job, "--clusters=", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", empty_clusters, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--clusters is empty"), "%s", out);
    const char *gap_clusters[] = {"submit", "-f", p.job, "--clusters", "dc1,", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", gap_clusters, out, sizeof(out)), 2);
    ck_assert_msg(strstr(out, "--clusters \"dc1,\" names an empty cluster"), "%s", out);
    /* a query is never cut: two long keys that differ only at their end
     * give two runnables, the same one again gives the first */
    static char key_a[3100], key_b[3100];
    memset(key_a, 'k', sizeof(key_a) - 1);
    memcpy(key_a, "--idempotency-key=", 18);
    memcpy(key_b, key_a, sizeof(key_b));
    key_a[sizeof(key_a) - 2] = 'a';
    key_b[sizeof(key_b) - 2] = 'b';
    char long_names[3][64];
    const char *keys[] = {key_a, key_b, key_a};
    for (int i = 0; i < 3; i++) {
        const char *keyed[] = {"submit", "-f", p.job, keys[i], "-o", "json", NULL};
        ck_assert_int_eq(cli(p.bin, server, "tok-alice", keyed, out, sizeof(out)), 0);
        r = json_loads(out, 0, NULL);
        ck_assert_msg(r && strcmp(sub_str(r, "spec.idempotencyKey"), keys[i] + 18) == 0, "%.300s",
                      out);
        snprintf(long_names[i], sizeof(long_names[i]), "%s", sub_str(r, "metadata.name"));
        json_decref(r);
    }
    ck_assert_str_ne(long_names[0], long_names[1]);
    ck_assert_str_eq(long_names[0], long_names[2]);
    ck_assert_int_eq(kr_test_proc_kill(&serve, SIGTERM), 0);
    kr_test_proc_free(&serve);
    program_env_down(&p);
}
END_TEST

/* A proxy in front of kr-submitter's API that loses the answers to the
 * first `lose` requests: it forwards each one, waits until the API starts
 * to answer (it has done the request by then) and closes the caller's
 * connection without a byte of it, as a replica killed after the hub
 * create, a cut connection or a proxy timing out would. Every later
 * connection is relayed both ways. One connection at a time (the CLI
 * makes one at a time). */
typedef struct lossy_proxy {
    int fd;
    unsigned short port, upstream;
    atomic_int lose, lost, stop;
    pthread_t thread;
} lossy_proxy;

static void lossy_serve(lossy_proxy *px, int client)
{
    int up = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(px->upstream),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (up < 0 || connect(up, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (up >= 0)
            close(up);
        close(client);
        return;
    }
    char buf[65536];
    while (!atomic_load(&px->stop)) {
        struct pollfd fds[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
        if (poll(fds, 2, 100) <= 0)
            continue;
        if (fds[0].revents) {
            ssize_t n = read(client, buf, sizeof(buf));
            if (n <= 0 || write(up, buf, (size_t)n) != n)
                break;
        }
        if (fds[1].revents) {
            ssize_t n = read(up, buf, sizeof(buf));
            if (n <= 0)
                break;
            if (atomic_load(&px->lose) > 0) {
                /* the request was done: its answer goes nowhere */
                atomic_fetch_sub(&px->lose, 1);
                atomic_fetch_add(&px->lost, 1);
                break;
            }
            if (write(client, buf, (size_t)n) != n)
                break;
        }
    }
    close(up);
    close(client);
}

static void *lossy_run(void *arg)
{
    lossy_proxy *px = arg;
    while (!atomic_load(&px->stop)) {
        struct pollfd pfd = {px->fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int client = accept(px->fd, NULL, NULL);
        if (client >= 0)
            lossy_serve(px, client);
    }
    return NULL;
}

/* Start the proxy on a free loopback port (its URL in `url`) in front of
 * the API at `server` (http://127.0.0.1:PORT). */
static void lossy_start(lossy_proxy *px, const char *server, char *url, size_t len)
{
    memset(px, 0, sizeof(*px));
    px->upstream = (unsigned short)atoi(strrchr(server, ':') + 1);
    px->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    ck_assert_int_eq(bind(px->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(px->fd, 8), 0);
    ck_assert_int_eq(getsockname(px->fd, (struct sockaddr *)&a, &alen), 0);
    px->port = ntohs(a.sin_port);
    snprintf(url, len, "http://127.0.0.1:%u", px->port);
    ck_assert_int_eq(pthread_create(&px->thread, NULL, lossy_run, px), 0);
}

static void lossy_stop(lossy_proxy *px)
{
    atomic_store(&px->stop, 1);
    pthread_join(px->thread, NULL);
    close(px->fd);
}

/* The runnables of `prefix` in namespace default, counted through the API
 * itself (no proxy). */
static size_t runnables_named(const program_env *p, const char *server, const char *prefix)
{
    char out[65536];
    const char *list[] = {"list", "-o", "json", NULL};
    ck_assert_int_eq(cli(p->bin, server, "tok-erin", list, out, sizeof(out)), 0);
    json_t *doc = json_loads(out, 0, NULL);
    ck_assert_msg(doc != NULL, "%s", out);
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "items"), i, r)
    {
        if (strncmp(sub_str(r, "metadata.name"), prefix, strlen(prefix)) == 0)
            n++;
    }
    json_decref(doc);
    return n;
}

/* Review finding: `submit` without --idempotency-key sent its POST once
 * and with no key: an answer lost after the hub's create (a replica
 * killed, a connection cut, a proxy timing out) was an error, and the
 * retry a user or a script then made was a second runnable. The CLI now
 * sends a fresh key of its own, tries again under it, and one invocation
 * makes one runnable; a decision or cancel whose answer was lost is sent
 * again too (the API takes it repeated as once). */
START_TEST(program_cli_retries_a_lost_answer_under_one_key)
{
    program_env p;
    if (!program_env_up(&p))
        return;
    kr_test_write_file(p.dir, "lost.yaml",
                       "apiVersion: batch/v1\nkind: Job\nmetadata: {name: lost-answer}\n"
                       "spec: {template: {spec: {restartPolicy: Never, containers: "
                       "[{name: c, image: busybox}]}}}\n");
    char file[700];
    snprintf(file, sizeof(file), "%s/lost.yaml", p.dir);
    char server[80], proxy[80], out[65536];
    kr_test_proc serve;
    serve_start(&p, &serve, false, NULL, server, sizeof(server));
    lossy_proxy px;
    lossy_start(&px, server, proxy, sizeof(proxy));
    /* the first answer lost: tried again under the same key, 200 with
     * the runnable the first try made */
    atomic_store(&px.lose, 1);
    const char *submit[] = {"submit", "-f", file, "-o", "json", NULL};
    int rc = cli(p.bin, proxy, "tok-alice", submit, out, sizeof(out));
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_int_eq(atomic_load(&px.lost), 1);
    ck_assert_msg(strstr(out, "trying again in 0.5 s with idempotency key lost-answer-"), "%s",
                  out);
    json_t *r = json_loads(strchr(out, '{'), 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    char name[64];
    snprintf(name, sizeof(name), "%s", sub_str(r, "metadata.name"));
    /* the key: the manifest's name and 16 hex digits, said with each
     * new try */
    const char *key = sub_str(r, "spec.idempotencyKey");
    ck_assert_msg(strncmp(key, "lost-answer-", 12) == 0 && strlen(key) == 12 + 16, "%s", key);
    char said[200];
    snprintf(said, sizeof(said), "with idempotency key %s\n", key);
    ck_assert_msg(strstr(out, said), "%s", out);
    ck_assert_msg(strncmp(name, "lost-answer-", 12) == 0, "%s", name);
    json_decref(r);
    ck_assert_uint_eq(runnables_named(&p, server, "lost-answer-"), 1);
    /* --retry-for 0: no second try; what is said names the key, and a
     * submission by hand under it finds the runnable the lost one made */
    atomic_store(&px.lose, 1);
    const char *once[] = {"submit", "-f", file, "--retry-for", "0", NULL};
    ck_assert_int_eq(cli(p.bin, proxy, "tok-alice", once, out, sizeof(out)), 1);
    ck_assert_int_eq(atomic_load(&px.lost), 2);
    const char *hint = strstr(out, "--idempotency-key ");
    ck_assert_msg(hint, "%s", out);
    char again_key[128];
    ck_assert_int_eq(sscanf(hint + 18, "%127[a-z0-9-]", again_key), 1);
    ck_assert_uint_eq(runnables_named(&p, server, "lost-answer-"), 2);
    const char *by_hand[] = {"submit",  "-f", file,   "--idempotency-key",
                             again_key, "-o", "json", NULL};
    ck_assert_int_eq(cli(p.bin, proxy, "tok-alice", by_hand, out, sizeof(out)), 0);
    ck_assert_uint_eq(runnables_named(&p, server, "lost-answer-"), 2);
    /* a Runnable with a key of its own is sent under that key, never
     * another in the query (the API would refuse the pair: 422) */
    kr_test_write_file(p.dir, "keyed.yaml",
                       "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\n"
                       "metadata: {name: lost-keyed}\nspec:\n  idempotencyKey: own-key\n"
                       "  template: {apiVersion: batch/v1, kind: Job, metadata: {name: j}, spec: "
                       "{template: {spec: {restartPolicy: Never, containers: [{name: c, image: "
                       "busybox}]}}}}\n");
    snprintf(file, sizeof(file), "%s/keyed.yaml", p.dir);
    atomic_store(&px.lose, 1);
    const char *keyed[] = {"submit", "-f", file, "-v", NULL};
    rc = cli(p.bin, proxy, "tok-alice", keyed, out, sizeof(out));
    ck_assert_msg(rc == 0 && strstr(out, "idempotency key own-key (the Runnable's"), "%s", out);
    ck_assert_uint_eq(runnables_named(&p, server, "lost-keyed"), 1);
    /* an approval whose answer was lost is sent again: the API answers
     * one its author repeats 200, and it counts once */
    kr_test_write_file(p.dir, "approve.yaml",
                       "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\n"
                       "metadata: {name: lost-approve}\n"
                       "spec:\n  approval: {required: 2, group: approvers}\n"
                       "  template: {apiVersion: batch/v1, kind: Job, metadata: {name: j}, spec: "
                       "{template: {spec: {restartPolicy: Never, containers: [{name: c, image: "
                       "busybox}]}}}}\n");
    snprintf(file, sizeof(file), "%s/approve.yaml", p.dir);
    const char *to_approve[] = {"submit", "-f", file, NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", to_approve, out, sizeof(out)), 0);
    const char *get[] = {"get", "lost-approve", "-o", "json", NULL};
    time_t deadline = time(NULL) + WAIT_S(30);
    while ((cli(p.bin, server, "tok-alice", get, out, sizeof(out)) != 0 ||
            !strstr(out, "\"AwaitingApproval\"")) &&
           time(NULL) < deadline)
        wait_pace();
    ck_assert_msg(strstr(out, "\"AwaitingApproval\""), "%s", out);
    atomic_store(&px.lose, 1);
    const char *approve[] = {"approve", "lost-approve", "-o", "json", NULL};
    rc = cli(p.bin, proxy, "tok-bob", approve, out, sizeof(out));
    ck_assert_int_eq(atomic_load(&px.lost), 4);
    ck_assert_msg(rc == 0, "%s", out);
    r = json_loads(strchr(out, '{'), 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(r, "status"), "approvals")),
                      1);
    ck_assert_str_eq(sub_str(r, "status.phase"), "AwaitingApproval");
    json_decref(r);
    /* a cancel whose answer was lost is sent again: the API answers a
     * repeated one 200 */
    atomic_store(&px.lose, 1);
    const char *cancel[] = {"cancel", name, "-o", "json", NULL};
    rc = cli(p.bin, proxy, "tok-alice", cancel, out, sizeof(out));
    ck_assert_int_eq(atomic_load(&px.lost), 5);
    ck_assert_msg(rc == 0 && strstr(out, "\"Cancelled\""), "%s", out);
    lossy_stop(&px);
    ck_assert_int_eq(kr_test_proc_kill(&serve, SIGTERM), 0);
    kr_test_proc_free(&serve);
    program_env_down(&p);
}
END_TEST

/* submit --wait: stdout is the runnable as it ended (exit 0 when it
 * succeeded), stderr says each time what it waits for: its approvals,
 * then its cluster. */
START_TEST(program_submit_wait_follows_the_runnable_to_its_end)
{
    program_env p;
    if (!program_env_up(&p))
        return;
    char server[80], out[65536];
    kr_test_proc serve;
    serve_start(&p, &serve, false, NULL, server, sizeof(server));
    kr_test_write_file(p.dir, "approved.yaml",
                       "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\n"
                       "metadata: {name: nightly, namespace: default}\n"
                       "spec:\n  approval: {required: 1, group: approvers}\n"
                       "  template:\n    apiVersion: batch/v1\n    kind: Job\n"
                       "    metadata: {name: nightly}\n"
                       "    spec: {template: {spec: {restartPolicy: Never, containers: "
                       "[{name: c, image: busybox}]}}}\n");
    char file[700], log[700], err_log[700];
    snprintf(file, sizeof(file), "%s/approved.yaml", p.dir);
    snprintf(log, sizeof(log), "%s/wait.out", p.dir);
    snprintf(err_log, sizeof(err_log), "%s/wait.err", p.dir);
    const char *argv[] = {p.bin,  "submit",   "-f",   file,      "--wait",    "-o",
                          "json", "--server", server, "--token", "tok-alice", NULL};
    kr_test_proc waiter;
    kr_test_proc_start_split(&waiter, log, err_log, argv);
    /* it waits for an approval and says so */
    char *said = NULL;
    time_t deadline = time(NULL) + WAIT_S(30);
    for (;;) {
        free(said);
        said = kr_test_proc_err_text(&waiter);
        if (strstr(said, "AwaitingApproval: 0 of 1 approvals") || time(NULL) >= deadline)
            break;
        wait_pace();
    }
    ck_assert_msg(strstr(said, "AwaitingApproval: 0 of 1 approvals"), "%s", said);
    free(said);
    ck_assert(kr_test_proc_running(&waiter));
    /* the API goes away for a while: the waiter tries again after a
     * pause, as it does after a 5xx or a 429, and follows the runnable
     * once the API is back */
    unsigned short port = (unsigned short)atoi(strrchr(server, ':') + 1);
    ck_assert_int_eq(kr_test_proc_kill(&serve, SIGTERM), 0);
    kr_test_proc_free(&serve);
    deadline = time(NULL) + WAIT_S(15);
    for (;;) {
        said = kr_test_proc_err_text(&waiter);
        if (strstr(said, "the API did not answer: trying again in 0.5 s") || time(NULL) >= deadline)
            break;
        free(said);
        wait_pace();
    }
    ck_assert_msg(strstr(said, "nightly: the API did not answer: trying again in 0.5 s"), "%s",
                  said);
    free(said);
    ck_assert(kr_test_proc_running(&waiter));
    serve_start_on(&p, &serve, false, NULL, port, server, sizeof(server));
    const char *list[] = {"list", "-o", "json", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-carol", list, out, sizeof(out)), 0);
    json_t *items = json_loads(out, 0, NULL);
    ck_assert_msg(json_array_size(json_object_get(items, "items")) == 1, "%s", out);
    char name[128], copy[140];
    snprintf(name, sizeof(name), "%s",
             sub_str(json_array_get(json_object_get(items, "items"), 0), "metadata.name"));
    /* the same answer as YAML, as kubectl -o yaml prints it */
    const char *list_yaml[] = {"list", "-o", "yaml", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-carol", list_yaml, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "\nitems:\n- apiVersion: kreconcile.io/v1alpha1\n  kind: Runnable\n"),
                  "%s", out);
    json_t *as_yaml = NULL;
    ck_assert_int_eq(kr_yaml_parse(out, strlen(out), &as_yaml, NULL), 0);
    ck_assert_str_eq(sub_str(json_array_get(json_object_get(as_yaml, "items"), 0), "metadata.name"),
                     name);
    json_decref(as_yaml);
    /* --spec-hash is sent whole: the hash with one more digit is not it */
    char longer[80];
    snprintf(longer, sizeof(longer), "%s0",
             sub_str(json_array_get(json_object_get(items, "items"), 0), "status.specHash"));
    ck_assert_uint_eq(strlen(longer), 65);
    json_decref(items);
    const char *approve_longer[] = {"approve", name, "--spec-hash", longer, NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-carol", approve_longer, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "is not a spec hash") && strstr(out, "(HTTP 400)"), "%s", out);
    const char *approve[] = {"approve", name, NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-carol", approve, out, sizeof(out)), 0);
    snprintf(copy, sizeof(copy), "%s-1", name);
    deadline = time(NULL) + WAIT_S(30);
    while (!job_released(0, copy) && time(NULL) < deadline)
        wait_pace();
    ck_assert(job_released(0, copy));
    mark_job(0, copy, "Complete");
    ck_assert_int_eq(kr_test_proc_wait(&waiter, 30000), 0);
    char *printed = kr_test_proc_log_text(&waiter);
    json_t *ended = json_loads(printed, 0, NULL);
    ck_assert_msg(ended && strcmp(sub_str(ended, "status.phase"), "Succeeded") == 0, "%s", printed);
    json_decref(ended);
    free(printed);
    said = kr_test_proc_err_text(&waiter);
    const char *awaiting = strstr(said, "AwaitingApproval"), *placed = strstr(said, "in dc1"),
               *done = strstr(said, "Succeeded in dc1 (attempt 1)");
    ck_assert_msg(awaiting && placed && done && awaiting < placed, "%s", said);
    /* a line only when something changed: the approvals line once */
    ck_assert_msg(strstr(awaiting + 1, "AwaitingApproval: 0 of 1") == NULL, "%s", said);
    free(said);
    kr_test_proc_free(&waiter);
    ck_assert_int_eq(kr_test_proc_kill(&serve, SIGTERM), 0);
    kr_test_proc_free(&serve);
    program_env_down(&p);
}
END_TEST

/* A runnable `name` on dc1 that wants `required` approvals, submitted
 * through the CLI by alice and approved by carol as soon as the
 * controller has looked at it; the approval's last answer in `out`. */
static void submit_and_approve_once(program_env *p, const char *server, const char *name,
                                    int required, char *out, size_t size)
{
    char yaml[1024], base[128], file[700];
    snprintf(yaml, sizeof(yaml),
             "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\n"
             "metadata: {name: %s, namespace: default}\n"
             "spec:\n  clusters: [dc1]\n  approval: {required: %d, group: approvers}\n"
             "  template:\n    apiVersion: batch/v1\n    kind: Job\n"
             "    spec: {template: {spec: {restartPolicy: Never, containers: "
             "[{name: c, image: busybox}]}}}\n",
             name, required);
    snprintf(base, sizeof(base), "%s.yaml", name);
    kr_test_write_file(p->dir, base, yaml);
    snprintf(file, sizeof(file), "%s/%s", p->dir, base);
    const char *submit[] = {"submit", "-f", file, NULL};
    ck_assert_int_eq(cli(p->bin, server, "tok-alice", submit, out, size), 0);
    const char *approve[] = {"approve", name, NULL};
    time_t deadline = time(NULL) + WAIT_S(30);
    while (cli(p->bin, server, "tok-carol", approve, out, size) != 0 && time(NULL) < deadline)
        wait_pace(); /* until the controller has looked at it */
}

/* The CLI's table of a runnable edited on the hub while its copy runs
 * (the edit is not applied to it): the approvals it was dispatched with,
 * and the edited spec's, pending (it showed the edited spec's 0/1). */
START_TEST(program_shows_the_approvals_of_the_spec_that_runs)
{
    program_env p;
    if (!program_env_up(&p))
        return;
    char server[80], out[65536];
    kr_test_proc serve;
    serve_start(&p, &serve, false, NULL, server, sizeof(server));
    submit_and_approve_once(&p, server, "edited", 1, out, sizeof(out));
    time_t deadline = time(NULL) + WAIT_S(30);
    while (!job_released(0, "edited-1") && time(NULL) < deadline)
        wait_pace();
    ck_assert(job_released(0, "edited-1"));
    start_job(0, "edited-1", "2026-01-01T00:00:10Z");
    const char *get_json[] = {"get", "edited", "-o", "json", NULL};
    bool running = false;
    deadline = time(NULL) + WAIT_S(30);
    while (!running && time(NULL) < deadline) {
        running = cli(p.bin, server, "tok-alice", get_json, out, sizeof(out)) == 0 &&
                  strstr(out, "\"phase\": \"Running\"");
        if (!running)
            wait_pace();
    }
    ck_assert_msg(running, "%s", out);
    const char *get[] = {"get", "edited", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", get, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "APPROVALS") && strstr(out, "   1/1\n"), "%s", out);
    /* edited on the hub while it runs */
    json_t *patch = json_pack("{s:{s:s}}", "spec", "failoverPolicy", "Never");
    ck_assert_int_eq(kr_client_patch(E.hub, SUB_RUNNABLES, "default", "edited", NULL,
                                     KR_PATCH_MERGE, patch, NULL, NULL, NULL),
                     0);
    json_decref(patch);
    bool shown = false;
    deadline = time(NULL) + WAIT_S(30);
    while (!shown && time(NULL) < deadline) {
        shown = cli(p.bin, server, "tok-alice", get_json, out, sizeof(out)) == 0 &&
                strstr(out, "\"failoverPolicy\": \"Never\"");
        if (!shown)
            wait_pace();
    }
    ck_assert_msg(shown, "%s", out);
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", get, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "   1/1 (edited spec: 0/1)\n") && strstr(out, "Running"), "%s", out);
    ck_assert_int_eq(kr_test_proc_kill(&serve, SIGTERM), 0);
    kr_test_proc_free(&serve);
    program_env_down(&p);
}
END_TEST

/* Without --decision-key-file the replicas seal decisions with the key of
 * one Secret on the hub, made by the first: a decision taken before a
 * restart still counts after it (with a key of each process's own it was
 * recorded FORGED, and the runnable waited for an approval more). */
START_TEST(program_decisions_count_across_a_restart_without_a_key_file)
{
    program_env p;
    if (!program_env_up(&p))
        return;
    char server[80], out[65536];
    kr_test_proc serve;
    serve_start(&p, &serve, false, NULL, server, sizeof(server));
    submit_and_approve_once(&p, server, "twice", 2, out, sizeof(out));
    ck_assert_msg(strstr(out, "1/2"), "%s", out);
    ck_assert_int_eq(kr_test_proc_kill(&serve, SIGTERM), 0);
    kr_test_proc_free(&serve);
    json_t *secret = NULL;
    ck_assert_int_eq(kr_client_get(E.hub, KR_GVR("", "v1", "secrets"), "default",
                                   "kr-submitter-decision-key", &secret, NULL),
                     0);
    const char *key = json_string_value(json_object_get(json_object_get(secret, "data"), "key"));
    ck_assert_int_ge(key ? strlen(key) : 0, 44);
    json_decref(secret);
    serve_start(&p, &serve, false, NULL, server, sizeof(server));
    const char *approve[] = {"approve", "twice", NULL};
    time_t deadline = time(NULL) + WAIT_S(30);
    while (cli(p.bin, server, "tok-dave", approve, out, sizeof(out)) != 0 && time(NULL) < deadline)
        wait_pace();
    deadline = time(NULL) + WAIT_S(30);
    while (!job_released(0, "twice-1") && time(NULL) < deadline)
        wait_pace();
    ck_assert(job_released(0, "twice-1"));
    const char *get_json[] = {"get", "twice", "-o", "json", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", get_json, out, sizeof(out)), 0);
    ck_assert_msg(!strstr(out, "\"forged\": true"), "%s", out);
    ck_assert_int_eq(kr_test_proc_kill(&serve, SIGTERM), 0);
    kr_test_proc_free(&serve);
    program_env_down(&p);
}
END_TEST

/* serve --token-review --authorization-review against a hub over TLS that
 * knows the callers: no token file at all; the submitter is who the hub
 * says, and may what the hub's RBAC says. */
START_TEST(program_asks_the_hub_who_its_callers_are)
{
    program_env p;
    if (!program_env_up(&p))
        return;
    char out[65536];
    /* neither way to authenticate: refused at once */
    const char *none[] = {p.bin, "serve", "--kubeconfig", p.hub, "--cluster", p.dc1, NULL};
    ck_assert_int_eq(kr_test_proc_run(none, out, sizeof(out), 60000), 2);
    ck_assert_msg(strstr(out, "--token-auth-file, --token-review or both"), "%s", out);
    const char *lone[] = {p.bin,
                          "serve",
                          "--kubeconfig",
                          p.hub,
                          "--cluster",
                          p.dc1,
                          "--token-auth-file",
                          p.tokfile,
                          "--token-review-audience",
                          "a",
                          NULL};
    ck_assert_int_eq(kr_test_proc_run(lone, out, sizeof(out), 60000), 2);
    ck_assert_msg(strstr(out, "--token-review-audience needs --token-review"), "%s", out);
    /* serve takes flags only: a stray argument is refused */
    const char *stray[] = {p.bin,       "serve", "--kubeconfig",      p.hub,
                           "--cluster", p.dc1,   "--token-auth-file", p.tokfile,
                           "stray",     NULL};
    ck_assert_int_eq(kr_test_proc_run(stray, out, sizeof(out), 60000), 2);
    ck_assert_msg(strstr(out, "does not take any arguments, got [\"stray\"]"), "%s", out);
    idp hub = {0};
    if (!idp_up(&hub, "zoe-token,zoe,101,\"approvers\"\n")) {
        kr_test_tmpdir_remove(hub.dir);
        program_env_down(&p);
        return;
    }
    char path[4096];
    char *crd = kr_test_read_file(kr_test_src_path(path, sizeof(path), "deploy/crds"),
                                  "runnables.kreconcile.io.yaml");
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(hub.ts, crd, strlen(crd), &err) == 0, "%s", err.message);
    free(crd);
    char kubeconfig[400], listen[64], server[80], log[700];
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", hub.dir);
    unsigned short port = free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    /* served over HTTPS, with the hub's certificate (made for 127.0.0.1) */
    snprintf(server, sizeof(server), "https://127.0.0.1:%u", port);
    snprintf(log, sizeof(log), "%s/serve-review.log", p.dir);
    char crt[400], key[400];
    snprintf(crt, sizeof(crt), "%s/srv.crt", hub.dir);
    snprintf(key, sizeof(key), "%s/srv.key", hub.dir);
    snprintf(cli_ca, sizeof(cli_ca), "%s", crt);
    const char *argv[] = {p.bin, "serve", "--kubeconfig", kubeconfig, "--cluster", p.dc1,
                          "--cluster", p.dc2, "--listen", listen, "--tls-cert-file", crt,
                          "--tls-private-key-file", key, "--token-review",
                          "--token-review-audience", "kr-submitter",
                          /* and the hub's own: its token file's users (zoe)
                           * hold for that alone, as kube-apiserver's do */
                          "--token-review-audience", "https://kubernetes.default.svc.cluster.local",
                          "--log-format", "text", "--authorization-review", NULL};
    /* zoe may submit, read and list runnables everywhere; nobody else */
    static const char rbac[] =
        "[{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
        "\"metadata\":{\"name\":\"submitter\"},\"rules\":[{\"apiGroups\":[\"kreconcile.io\"],"
        "\"resources\":[\"runnables\"],\"verbs\":[\"submit\",\"get\",\"list\"]}]},"
        "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRoleBinding\","
        "\"metadata\":{\"name\":\"zoe-submits\"},\"roleRef\":{\"apiGroup\":"
        "\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"submitter\"},"
        "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"User\","
        "\"name\":\"zoe\"}]}]";
    ck_assert_msg(kr_testserver_load(hub.ts, rbac, strlen(rbac), &err) == 0, "%s", err.message);
    kr_test_proc serve;
    kr_test_proc_start(&serve, log, argv);
    const char *list[] = {"list", NULL};
    time_t deadline = time(NULL) + WAIT_S(30);
    while (cli(p.bin, server, "zoe-token", list, out, sizeof(out)) != 0 && time(NULL) < deadline)
        wait_pace();
    ck_assert_msg(strstr(out, "No resources found") || strstr(out, "PHASE"), "%s", out);
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", list, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "401"), "%s", out);
    const char *whoami[] = {"whoami", NULL};
    ck_assert_int_eq(cli(p.bin, server, "zoe-token", whoami, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "ATTRIBUTE   VALUE\nUsername    zoe\nUID         101\n"
                          "Groups      [approvers system:authenticated]\n");
    /* a service account's token counts only when issued for the submitter
     * (or the hub), not for another audience */
    static const char sa[] = "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":"
                             "{\"name\":\"ci\",\"namespace\":\"default\"}}";
    ck_assert_msg(kr_testserver_load(hub.ts, sa, strlen(sa), &err) == 0, "%s", err.message);
    for (int aud = 0; aud < 2; aud++) {
        json_t *tr =
            aud ? json_pack("{s:s, s:s, s:{s:[s]}}", "apiVersion", "authentication.k8s.io/v1",
                            "kind", "TokenRequest", "spec", "audiences", "kr-submitter")
                : json_pack("{s:s, s:s, s:{s:[s]}}", "apiVersion", "authentication.k8s.io/v1",
                            "kind", "TokenRequest", "spec", "audiences", "someone-else");
        kr_request rq = {.verb = KR_VERB_CREATE,
                         .ref = {KR_GVR("", "v1", "serviceaccounts"), "default", "ci", "token"},
                         .body = tr};
        json_t *issued = NULL;
        ck_assert_msg(kr_client_do_sync(hub.client, &rq, &issued, &err) == 0, "%s", err.message);
        json_decref(tr);
        char token[4096];
        snprintf(token, sizeof(token), "%s", sub_str(issued, "status.token"));
        json_decref(issued);
        int rc = cli(p.bin, server, token, whoami, out, sizeof(out));
        if (aud) {
            ck_assert_int_eq(rc, 0);
            ck_assert_msg(strstr(out, "Username    system:serviceaccount:default:ci\n"), "%s", out);
            /* known, but without rights on runnables */
            const char *try_submit[] = {"submit", "-f", p.job, NULL};
            ck_assert_int_eq(cli(p.bin, server, token, try_submit, out, sizeof(out)), 1);
            ck_assert_msg(strstr(out, "User \"system:serviceaccount:default:ci\" cannot submit "
                                      "resource \"runnables\""),
                          "%s", out);
        } else {
            ck_assert_int_eq(rc, 1);
            ck_assert_msg(strstr(out, "401"), "%s", out);
        }
    }
    const char *submit[] = {"submit", "-f", p.job, "-o=json", NULL};
    ck_assert_int_eq(cli(p.bin, server, "zoe-token", submit, out, sizeof(out)), 0);
    json_t *r = json_loads(out, 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    ck_assert_str_eq(sub_str(r, "status.submittedBy"), "zoe");
    json_decref(r);
    ck_assert_int_eq(kr_test_proc_kill(&serve, SIGTERM), 0);
    kr_test_proc_free(&serve);
    idp_down(&hub);
    program_env_down(&p);
}
END_TEST

/* Reconciles the program has done: controller_runtime_reconcile_total
 * summed over its results, from its /metrics. */
static double reconciles_total(const char *server)
{
    tc_response r;
    tc_request(server, "GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    double n = 0;
    const char *needle = "\ncontroller_runtime_reconcile_total{";
    for (const char *at = strstr(r.body, needle); at; at = strstr(at + 1, needle)) {
        const char *close = strchr(at, '}');
        ck_assert_ptr_nonnull(close);
        n += strtod(close + 1, NULL);
    }
    tc_free(&r);
    return n;
}

static double elapsed_s(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

#define IDLE_N 20

/* Submit `n` runnables (idempotency keys `prefix`-i, their names into
 * names) and wait until each copy is released in dc1 (the test's cluster
 * never starts them). */
static void submit_released(program_env *p, const char *server, const char *prefix,
                            char (*names)[64], int n, time_t deadline)
{
    char out[65536];
    for (int i = 0; i < n; i++) {
        char key[48];
        snprintf(key, sizeof(key), "--idempotency-key=%s-%d", prefix, i);
        const char *submit[] = {"submit", "-f", p->job, key, "-o=json", NULL};
        ck_assert_int_eq(cli(p->bin, server, "tok-alice", submit, out, sizeof(out)), 0);
        json_t *r = json_loads(out, 0, NULL);
        ck_assert_msg(r != NULL, "%s", out);
        snprintf(names[i], 64, "%s", sub_str(r, "metadata.name"));
        json_decref(r);
    }
    for (int i = 0; i < n; i++) {
        char copy[80];
        snprintf(copy, sizeof(copy), "%.63s-1", names[i]);
        while (!job_released(0, copy) && time(NULL) < deadline)
            wait_pace();
        ck_assert_msg(job_released(0, copy), "%s not released", copy);
    }
}

/* The program's reconciles once their count has stayed put for a second
 * (the echoes of what came before have settled). */
static double reconciles_settled(const char *server, time_t deadline)
{
    double before = reconciles_total(server);
    struct timespec quiet;
    clock_gettime(CLOCK_MONOTONIC, &quiet);
    while (elapsed_s(&quiet) < 1.0 && time(NULL) < deadline) {
        wait_pace();
        double now = reconciles_total(server);
        if (now != before) {
            before = now;
            clock_gettime(CLOCK_MONOTONIC, &quiet);
        }
    }
    ck_assert_msg(elapsed_s(&quiet) >= 1.0, "reconciles never stopped: %.0f so far", before);
    return before;
}

/* Wait until the runnable `name`'s attempt 2 is released in dc2. */
static void wait_failed_over(const char *name, time_t deadline)
{
    char copy[80];
    snprintf(copy, sizeof(copy), "%.63s-2", name);
    while (!job_released(1, copy) && time(NULL) < deadline)
        wait_pace();
    ck_assert_msg(job_released(1, copy), "%s did not fail over to dc2", name);
}

/* The program (started by released_runnables) and its runnables. */
typedef struct program_run {
    program_env p;
    kr_test_proc serve;
    char server[80];
    time_t deadline; /* of the whole test */
    double settled; /* the program's reconciles once its runnables settled */
} program_run;

/* Start the program (--failover-after `failover_after`) with `n`
 * runnables submitted and released in dc1 (names into `names`), and wait
 * for its reconciles to settle. False (nothing started) when the servers
 * cannot run here. */
static bool released_runnables(program_run *r, const char *failover_after, const char *prefix,
                               char (*names)[64], int n)
{
    r->deadline = time(NULL) + WAIT_S(60);
    if (!program_env_up(&r->p))
        return false;
    serve_start(&r->p, &r->serve, false, failover_after, r->server, sizeof(r->server));
    submit_released(&r->p, r->server, prefix, names, n, r->deadline);
    r->settled = reconciles_settled(r->server, r->deadline);
    return true;
}

/* Stop the program and the servers. */
static void program_run_end(program_run *r)
{
    ck_assert_int_eq(kr_test_proc_kill(&r->serve, SIGTERM), 0);
    kr_test_proc_free(&r->serve);
    program_env_down(&r->p);
}

/* Runnables followed on a healthy cluster are not looked at periodically
 * (with --failover-after 2s the old program reconciled each one every
 * 0.5 s to notice an outage): their count of reconciles stays flat while
 * nothing happens. The cluster's going down still wakes them: each fails
 * over to dc2 once, and when dc1 returns its copies (never started) are
 * deleted, so each runnable keeps exactly one copy. */
START_TEST(idle_runnables_are_not_polled_and_an_outage_still_fails_over)
{
    program_run r;
    char names[IDLE_N][64];
    /* The releases' echoes settle: the count stays put over two probe
     * intervals (the old program never got there: every runnable came
     * back each interval). */
    if (!released_runnables(&r, "2s", "idle", names, IDLE_N))
        return;
    const char *server = r.server;
    double before = r.settled;
    time_t deadline = r.deadline;
    struct timespec quiet;
    /* Six probe intervals of a healthy dc1 (a window of observation, not
     * a wait for something): the old program made six reconciles of each
     * runnable in it; a stray event may wake one, a periodic look wakes
     * them all. */
    clock_gettime(CLOCK_MONOTONIC, &quiet);
    while (elapsed_s(&quiet) < 3.0)
        wait_pace();
    double after = reconciles_total(server);
    fprintf(stderr, "idle_runnables: %d runnables, %.0f reconciles in 3 s at rest\n", IDLE_N,
            after - before);
    ck_assert_msg(after - before < IDLE_N, "%.0f reconciles of %d idle runnables in 3 s",
                  after - before, IDLE_N);
    /* the CLI's list, asked for in pages of 3: every runnable once, in order */
    static char listed[1 << 20];
    const char *paged[] = {"list", "--chunk-size", "3", "-o", "json", NULL};
    ck_assert_int_eq(cli(r.p.bin, server, "tok-alice", paged, listed, sizeof(listed)), 0);
    json_t *all = json_loads(listed, 0, NULL);
    const json_t *items = json_object_get(all, "items");
    ck_assert_msg(json_array_size(items) == IDLE_N, "%.300s", listed);
    ck_assert_ptr_null(json_object_get(all, "metadata"));
    for (size_t i = 1; i < IDLE_N; i++)
        ck_assert_str_lt(sub_str(json_array_get(items, i - 1), "metadata.name"),
                         sub_str(json_array_get(items, i), "metadata.name"));
    json_decref(all);
    /* dc1 goes away: its probe notices, its runnables are woken and fail
     * over past --failover-after */
    dc_down(0, true);
    deadline = time(NULL) + WAIT_S(60);
    for (int i = 0; i < IDLE_N; i++) {
        wait_failed_over(names[i], deadline);
        /* the test's own cache of the Runnable follows (it may lag) */
        json_t *o = NULL;
        for (;;) {
            json_decref(o);
            o = cached(names[i]);
            if ((o && strcmp(sub_str(o, "status.cluster"), "dc2") == 0) || time(NULL) >= deadline)
                break;
            wait_pace();
        }
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(sub_str(o, "status.cluster"), "dc2");
        ck_assert_int_eq(sub_int(o, "status.attempt"), 2);
        json_decref(o);
    }
    /* dc1 returns: its health transition wakes the runnables, which
     * delete their copies there (never started) */
    dc_down(0, false);
    for (int i = 0; i < IDLE_N; i++) {
        char copy[80];
        snprintf(copy, sizeof(copy), "%.63s-1", names[i]);
        while (job_exists(0, copy) && time(NULL) < deadline)
            wait_pace();
        ck_assert_msg(!job_exists(0, copy), "%s left in dc1", copy);
        snprintf(copy, sizeof(copy), "%.63s-3", names[i]);
        ck_assert(!job_exists(0, copy) && !job_exists(1, copy));
    }
    program_run_end(&r);
}
END_TEST

#define OUTAGE_N 10

/* During an outage the runnables placed on the failing cluster are not
 * polled until their failover is due: the probe wakes them when the cluster
 * starts failing and again when it has failed for --failover-after (5 s
 * here). In the 4 s after dc1 goes down (before any failover can be due)
 * each is looked at about once; the old program looked at each every
 * second. Then each still fails over to dc2, once. */
START_TEST(an_outage_wakes_its_runnables_instead_of_polling_them)
{
    program_run r;
    char names[OUTAGE_N][64];
    if (!released_runnables(&r, "5s", "outage", names, OUTAGE_N))
        return;
    dc_down(0, true);
    struct timespec down;
    clock_gettime(CLOCK_MONOTONIC, &down);
    /* a window of observation that ends before the deadline (the first
     * failed request is sent after dc1 went down) */
    while (elapsed_s(&down) < 4.0)
        wait_pace();
    double during = reconciles_total(r.server) - r.settled;
    fprintf(stderr, "outage: %d runnables, %.0f reconciles in the 4 s before the failover\n",
            OUTAGE_N, during);
    ck_assert_msg(during < 2 * OUTAGE_N, "%.0f reconciles of %d runnables on a failing cluster",
                  during, OUTAGE_N);
    for (int i = 0; i < OUTAGE_N; i++) {
        wait_failed_over(names[i], r.deadline);
        char copy[80];
        if (i == 0)
            fprintf(stderr,
                    "outage: first failover %.2f s after dc1 went down (--failover-after "
                    "5s)\n",
                    elapsed_s(&down));
        snprintf(copy, sizeof(copy), "%.63s-3", names[i]);
        ck_assert(!job_exists(1, copy)); /* one failover (dc1 answers 503) */
    }
    program_run_end(&r);
}
END_TEST

/* Runnables cancelled while their cluster fails: the first failed delete
 * marks the cluster failing, and from then on only its probe asks it; the
 * runnables wait for its return (the old program asked again every second
 * for each of them). When dc1 answers again, every copy is deleted. */
START_TEST(a_cancel_on_a_failing_cluster_waits_for_its_return)
{
    program_run r;
    char names[OUTAGE_N][64], out[65536];
    if (!released_runnables(&r, "60s", "cancel-outage", names, OUTAGE_N))
        return;
    dc_down(0, true);
    for (int i = 0; i < OUTAGE_N; i++) {
        const char *cancel[] = {"cancel", names[i], NULL};
        ck_assert_int_eq(cli(r.p.bin, r.server, "tok-alice", cancel, out, sizeof(out)), 0);
    }
    double before = reconciles_total(r.server);
    struct timespec down;
    clock_gettime(CLOCK_MONOTONIC, &down);
    while (elapsed_s(&down) < 4.0) /* a window of observation */
        wait_pace();
    double during = reconciles_total(r.server) - before;
    fprintf(stderr, "cancel_outage: %d runnables, %.0f reconciles in 4 s of outage\n", OUTAGE_N,
            during);
    ck_assert_msg(during < 2 * OUTAGE_N, "%.0f reconciles of %d cancelled runnables", during,
                  OUTAGE_N);
    dc_down(0, false);
    for (int i = 0; i < OUTAGE_N; i++) {
        char copy[80];
        snprintf(copy, sizeof(copy), "%.63s-1", names[i]);
        while (job_exists(0, copy) && time(NULL) < r.deadline)
            wait_pace();
        ck_assert_msg(!job_exists(0, copy), "%s still in dc1 after its return", copy);
        bool removed = false;
        while (!removed && time(NULL) < r.deadline) {
            json_t *o = NULL;
            kr_client_get(E.hub, SUB_RUNNABLES, "default", names[i], &o, NULL);
            removed = sub_condition_true(o, "CopiesRemoved");
            json_decref(o);
            if (!removed)
                wait_pace();
        }
        ck_assert_msg(removed, "%s: no CopiesRemoved condition", names[i]);
    }
    program_run_end(&r);
}
END_TEST

/* Two replicas elect a leader; the leader is killed (SIGKILL) while it
 * dispatches; the other takes over: every runnable ends with exactly one
 * copy, completed once. */
START_TEST(leader_killed_mid_dispatch_leaves_one_copy_each)
{
    program_env p;
    if (!program_env_up(&p))
        return;
    char server_a[80], server_b[80], out[65536];
    kr_test_proc a;
    serve_start(&p, &a, true, NULL, server_a, sizeof(server_a));
    /* a holds the Lease before b starts */
    time_t deadline = time(NULL) + WAIT_S(30);
    for (;;) {
        json_t *lease = NULL;
        kr_client_get(E.hub, KR_GVR("coordination.k8s.io", "v1", "leases"), "default",
                      "kr-submitter", &lease, NULL);
        bool held = *sub_str(lease, "spec.holderIdentity");
        json_decref(lease);
        if (held || time(NULL) > deadline)
            break;
        wait_pace();
    }
    kr_test_proc b;
    serve_start(&p, &b, true, NULL, server_b, sizeof(server_b));
    enum { N = 20 };
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof(key), "lk-%d", i);
        const char *submit[] = {"submit", "-f", p.job, "--idempotency-key", key, NULL};
        ck_assert_int_eq(
            cli(p.bin, i % 2 ? server_b : server_a, "tok-alice", submit, out, sizeof(out)), 0);
    }
    /* kill the leader as soon as it has placed something */
    deadline = time(NULL) + WAIT_S(30);
    json_t *jobs = NULL;
    while (time(NULL) < deadline) {
        json_decref(jobs);
        jobs = NULL;
        kr_client_list(E.dc[0], JOBS, "default", NULL, &jobs, NULL);
        if (json_array_size(json_object_get(jobs, "items")) > 0)
            break;
        wait_pace();
    }
    json_decref(jobs);
    ck_assert_int_eq(kr_test_proc_kill(&a, SIGKILL), 128 + SIGKILL);
    /* b takes over (after the Lease expires); the clusters run what is released */
    deadline = time(NULL) + WAIT_S(120);
    int succeeded = 0;
    while (succeeded < N && time(NULL) < deadline) {
        for (int dc = 0; dc < 2; dc++) {
            json_t *list = NULL;
            kr_client_list(E.dc[dc], JOBS, "default", NULL, &list, NULL);
            size_t i;
            json_t *job;
            json_array_foreach(json_object_get(list, "items"), i, job)
            {
                if (!json_is_true(json_object_get(json_object_get(job, "spec"), "suspend")) &&
                    !failover_outcome(job))
                    mark_job(dc, sub_str(job, "metadata.name"), "Complete");
            }
            json_decref(list);
        }
        json_t *runnables = NULL;
        kr_client_list(E.hub, SUB_RUNNABLES, "default", NULL, &runnables, NULL);
        succeeded = 0;
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(runnables, "items"), i, o) succeeded +=
            strcmp(sub_str(o, "status.phase"), SUB_PHASE_SUCCEEDED) == 0;
        json_decref(runnables);
        wait_pace();
    }
    if (succeeded != N) {
        json_t *runnables = NULL;
        kr_client_list(E.hub, SUB_RUNNABLES, "default", NULL, &runnables, NULL);
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(runnables, "items"), i, o)
        {
            if (strcmp(sub_str(o, "status.phase"), SUB_PHASE_SUCCEEDED) != 0) {
                char *text = json_dumps(json_object_get(o, "status"), JSON_COMPACT);
                fprintf(stderr, "%s: %s\n", sub_str(o, "metadata.name"), text);
                free(text);
            }
        }
        json_decref(runnables);
        fprintf(stderr, "logs in %s\n", p.dir);
    }
    ck_assert_int_eq(succeeded, N);
    size_t copies = 0;
    for (int dc = 0; dc < 2; dc++) {
        json_t *list = NULL;
        ck_assert_int_eq(kr_client_list(E.dc[dc], JOBS, "default", NULL, &list, NULL), 0);
        copies += json_array_size(json_object_get(list, "items"));
        json_decref(list);
    }
    ck_assert_uint_eq(copies, N);
    ck_assert_int_eq(kr_test_proc_kill(&b, SIGTERM), 0);
    kr_test_proc_free(&a);
    kr_test_proc_free(&b);
    program_env_down(&p);
}
END_TEST

/* Whether the Lease of kr-submitter is released: its holder cleared, or
 * its duration 1 s (how the library gives it up). */
static bool lease_released(void)
{
    json_t *lease = NULL;
    kr_client_get(E.hub, KR_GVR("coordination.k8s.io", "v1", "leases"), "default", "kr-submitter",
                  &lease, NULL);
    bool released = lease && (!*sub_str(lease, "spec.holderIdentity") ||
                              sub_int(lease, "spec.leaseDurationSeconds") == 1);
    json_decref(lease);
    return released;
}

/* A graceful stop (SIGTERM) of the leader while the inventory stalls
 * (another writer holds its SQLite file: each statement waits up to its
 * busy timeout): a reconcile is recording SUCCEEDED when the stop begins.
 * The stop waits for every reconcile before it releases the Lease, and
 * that one waited on the database until its try timed out; now the Lease
 * goes while the try is still under way, and the record is not lost: it
 * waits in the spool, and the next start records it. */
START_TEST(a_stop_during_an_inventory_stall_releases_the_lease_first)
{
    program_env p;
    if (!program_env_up(&p))
        return;
    char server[80], spool[700], db[700], out[65536];
    snprintf(spool, sizeof(spool), "%s/spool", p.dir);
    snprintf(db, sizeof(db), "%s/inventory.db", p.dir);
    serve_spool = spool;
    kr_test_proc a;
    serve_start(&p, &a, true, NULL, server, sizeof(server));
    time_t deadline = time(NULL) + 30;
    while (lease_released() && time(NULL) < deadline)
        wait_pace();
    ck_assert(!lease_released());
    const char *submit[] = {"submit", "-f", p.job, "-o=json", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", submit, out, sizeof(out)), 0);
    json_t *r = json_loads(out, 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    char name[256], copy[300];
    snprintf(name, sizeof(name), "%s", sub_str(r, "metadata.name"));
    snprintf(copy, sizeof(copy), "%s-1", name);
    json_decref(r);
    while (!job_released(0, copy) && time(NULL) < deadline)
        wait_pace();
    ck_assert(job_released(0, copy));
    ck_assert(kr_test_proc_log_wait(&a, "runnable VERIFIED", 0, WAIT_MS));
    /* the stall: a writer holds the database */
    sqlite3 *holder = NULL;
    ck_assert_int_eq(sqlite3_open(db, &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    size_t from = kr_test_proc_log_size(&a);
    mark_job(0, copy, "Complete");
    /* logged as the record begins: the reconcile waits on the database */
    ck_assert(kr_test_proc_log_wait(&a, "runnable SUCCEEDED", from, WAIT_MS));
    ck_assert_int_eq(kr_test_proc_signal(&a, SIGTERM), 0);
    bool released = false;
    while (!released && kr_test_proc_running(&a)) {
        released = lease_released();
        if (!released)
            wait_pace();
    }
    char *log = kr_test_proc_log_text(&a);
    /* the record's try had not timed out when the Lease went */
    ck_assert_msg(released && !strstr(log + from, "database is locked"), "%s", log + from);
    free(log);
    /* the try times out, the stop's flush finds the database still held:
     * the record stays in the spool */
    ck_assert_int_eq(kr_test_proc_wait(&a, 60000), 0);
    ck_assert_int_eq(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(holder);
    /* the next start records it */
    kr_test_proc_free(&a);
    kr_test_proc b;
    serve_start(&p, &b, true, NULL, server, sizeof(server));
    serve_spool = NULL;
    char url[800];
    snprintf(url, sizeof(url), "sqlite://%s", db);
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    bool recorded = false;
    deadline = time(NULL) + 30;
    while (!recorded && time(NULL) < deadline) {
        json_t *h = NULL;
        if (kr_inventory_history(inv, KR_RUNNABLE_KIND, "default", name, 0, 0, &h, NULL) == 0) {
            size_t i;
            json_t *row;
            json_array_foreach(h, i, row)
            {
                recorded = recorded || strcmp(sub_str(row, "event"), "SUCCEEDED") == 0;
            }
        }
        json_decref(h);
        if (!recorded)
            wait_pace();
    }
    ck_assert_msg(recorded, "SUCCEEDED of %s never reached the inventory", name);
    kr_inventory_free(inv);
    ck_assert_int_eq(kr_test_proc_kill(&b, SIGTERM), 0);
    kr_test_proc_free(&b);
    program_env_down(&p);
}
END_TEST

/* A stop (SIGTERM) while the inventory, on PostgreSQL, stalls: another
 * session holds its tables locked, and keeps them so, while a reconcile
 * records SUCCEEDED. The reconcile gave its record up at the stop and
 * left it to the outbox, whose thread waited for the database; the
 * program flushed for 5 s, then joined that thread, which waited without
 * end: SIGTERM did not end kr-submitter while the database stalled. Now
 * the write still under way after the flush is cut short: the program
 * exits 0 while the lock is still held, and what it could not write stays
 * in its spool. */
START_TEST(a_stop_while_postgresql_stalls_exits)
{
    char why[512], url[512];
    kr_pgserver *pg = NULL;
    if (kr_pgserver_start(&pg, why, sizeof(why)) != 0) {
        ck_assert_msg(!kr_pgserver_required(), "cannot start PostgreSQL: %s", why);
        kr_test_skip("a_stop_while_postgresql_stalls_exits", "PostgreSQL cannot start (%s)", why);
        return;
    }
    ck_assert_int_eq(kr_pgserver_create_db(pg, url, sizeof(url)), 0);
    program_env p;
    if (!program_env_up(&p)) {
        kr_pgserver_free(pg);
        return;
    }
    char server[80], spool[700], out[65536];
    snprintf(spool, sizeof(spool), "%s/spool", p.dir);
    serve_spool = spool;
    serve_inventory = url;
    kr_test_proc a;
    serve_start(&p, &a, false, NULL, server, sizeof(server));
    serve_spool = NULL;
    serve_inventory = NULL;
    const char *submit[] = {"submit", "-f", p.job, "-o=json", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", submit, out, sizeof(out)), 0);
    json_t *r = json_loads(out, 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    char name[256], copy[300];
    snprintf(name, sizeof(name), "%s", sub_str(r, "metadata.name"));
    snprintf(copy, sizeof(copy), "%s-1", name);
    json_decref(r);
    time_t deadline = time(NULL) + 30;
    while (!job_released(0, copy) && time(NULL) < deadline)
        wait_pace();
    ck_assert(job_released(0, copy));
    ck_assert(kr_test_proc_log_wait(&a, "runnable VERIFIED", 0, WAIT_MS));
    struct pg_conn *holder = kr_pgserver_lock(url, "kr_objects, kr_transactions");
    ck_assert_ptr_nonnull(holder);
    size_t from = kr_test_proc_log_size(&a);
    mark_job(0, copy, "Complete");
    ck_assert(kr_test_proc_log_wait(&a, "runnable SUCCEEDED", from, WAIT_MS));
    /* its record waits for the lock */
    ck_assert(kr_pgserver_wait_for_a_waiter(holder));
    ck_assert_int_eq(kr_test_proc_signal(&a, SIGTERM), 0);
    /* the lock stays held until the program has exited */
    int code = kr_test_proc_wait(&a, 60000);
    char *log = kr_test_proc_log_text(&a);
    ck_assert_msg(code == 0, "exit %d:\n%s", code, log ? log + from : "");
    ck_assert_msg(strstr(log + from, "call under way is cut short"), "%s", log + from);
    free(log);
    kr_test_proc_free(&a);
    struct stat st;
    ck_assert_int_eq(stat(spool, &st), 0);
    ck_assert_int_gt(st.st_size, 0); /* what was not written waits there */
    kr_pgserver_unlock(holder);
    program_env_down(&p);
    kr_pgserver_free(pg);
}
END_TEST

/* A stop (SIGTERM) while the API answers a history read that waits on a
 * stalled PostgreSQL (another session holds the transactions' table
 * locked, and keeps it so). The stop waited 5 s for the request, then
 * closed it, which joins its handler, still waiting for the database: the
 * program exited 1 only when its graceful stop overran (35 s). Now the
 * inventory is interrupted before the request is closed, and the program
 * exits 0 while the lock is still held. */
START_TEST(a_stop_during_a_stalled_history_read_exits)
{
    char why[512], url[512];
    kr_pgserver *pg = NULL;
    if (kr_pgserver_start(&pg, why, sizeof(why)) != 0) {
        ck_assert_msg(!kr_pgserver_required(), "cannot start PostgreSQL: %s", why);
        kr_test_skip("a_stop_during_a_stalled_history_read_exits", "PostgreSQL cannot start (%s)",
                     why);
        return;
    }
    ck_assert_int_eq(kr_pgserver_create_db(pg, url, sizeof(url)), 0);
    program_env p;
    if (!program_env_up(&p)) {
        kr_pgserver_free(pg);
        return;
    }
    char server[80], out[65536];
    serve_inventory = url;
    kr_test_proc a;
    serve_start(&p, &a, false, NULL, server, sizeof(server));
    serve_inventory = NULL;
    const char *submit[] = {"submit", "-f", p.job, "-o=json", NULL};
    ck_assert_int_eq(cli(p.bin, server, "tok-alice", submit, out, sizeof(out)), 0);
    json_t *r = json_loads(out, 0, NULL);
    ck_assert_msg(r != NULL, "%s", out);
    char name[256];
    snprintf(name, sizeof(name), "%s", sub_str(r, "metadata.name"));
    json_decref(r);
    struct pg_conn *holder = kr_pgserver_lock(url, "kr_transactions");
    ck_assert_ptr_nonnull(holder);
    const char *argv[] = {p.bin, "history", name, "--server", server, "--token", "tok-alice", NULL};
    char log[700];
    snprintf(log, sizeof(log), "%s/history.log", p.dir);
    kr_test_proc reader;
    kr_test_proc_start(&reader, log, argv);
    /* the read waits for the lock (or for the inventory's connection,
     * which a record waiting for the lock holds) */
    ck_assert(kr_pgserver_wait_for_a_waiter(holder));
    size_t from = kr_test_proc_log_size(&a);
    ck_assert_int_eq(kr_test_proc_signal(&a, SIGTERM), 0);
    /* the lock stays held until the program has exited */
    int code = kr_test_proc_wait(&a, 60000);
    char *text = kr_test_proc_log_text(&a);
    ck_assert_msg(code == 0, "exit %d:\n%s", code, text ? text + from : "");
    ck_assert_msg(strstr(text + from, "its call is cut short"), "%s", text + from);
    free(text);
    kr_test_proc_free(&a);
    kr_test_proc_wait(&reader, 60000);
    kr_test_proc_free(&reader);
    kr_pgserver_unlock(holder);
    program_env_down(&p);
    kr_pgserver_free(pg);
}
END_TEST

/* The books across a database restart: transitions made while it is down
 * wait in the outbox and reach it in order, each once; a decision is not
 * taken as recorded while earlier transitions wait (the controller keeps
 * it and records it late, after them). */
START_TEST(transitions_wait_for_a_restarting_database_in_order)
{
    char why[512];
    kr_pgserver *pg = NULL;
    if (kr_pgserver_start(&pg, why, sizeof(why)) != 0) {
        if (kr_pgserver_required())
            ck_abort_msg("cannot start PostgreSQL: %s", why);
        kr_test_skip("books across a database restart", "PostgreSQL cannot start: %s", why);
        return;
    }
    char url[512];
    ck_assert_int_eq(kr_pgserver_create_db(pg, url, sizeof(url)), 0);
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    sub_books books = {0};
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&io, &books.inventory, &err) == 0, "%s", err.message);
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .retry_max_ms = 200};
    ck_assert_int_eq(kr_inventory_outbox_new(books.inventory, &oo, &books.outbox, &err), 0);
    sub_event ev = {"SUBMITTED", "default", "r", "u1", "alice", "", "", "submitted", NULL};
    ck_assert_int_eq(submitter_record_to_inventory(&ev, &books), 0);
    ck_assert_int_eq(kr_pgserver_stop(pg), 0);
    ev = (sub_event){"DISPATCHED", "default", "r", "u1", SUB_PROGRAM, "dc1", "7", "created", NULL};
    ck_assert_int_eq(submitter_record_to_inventory(&ev, &books), 0); /* waits */
    ev = (sub_event){"VERIFIED", "default", "r", "u1", SUB_PROGRAM, "dc1", "7", "observed", NULL};
    ck_assert_int_eq(submitter_record_to_inventory(&ev, &books), 0);
    ck_assert_uint_eq(kr_inventory_outbox_pending(books.outbox), 2);
    char key[256];
    submitter_decision_key("u1", "APPROVED", "bob", "h1", key, sizeof(key));
    ev = (sub_event){"APPROVED", "default", "r", "u1", "bob", "", "", "approved", key};
    ck_assert_int_ne(submitter_record_to_inventory(&ev, &books), 0);
    ck_assert_int_eq(kr_pgserver_restart(pg), 0);
    /* back, but earlier transitions still wait: the decision waits too */
    ck_assert_int_eq(kr_inventory_outbox_flush(books.outbox, 60000), 0);
    ck_assert_int_eq(submitter_record_to_inventory(&ev, &books), 0);
    ck_assert_int_eq(submitter_record_to_inventory(&ev, &books), 0); /* its key: once */
    json_t *h = NULL;
    ck_assert_int_eq(
        kr_inventory_history(books.inventory, KR_RUNNABLE_KIND, "default", "r", 0, 0, &h, &err), 0);
    ck_assert_uint_eq(json_array_size(h), 4);
    const char *want[] = {"SUBMITTED", "DISPATCHED", "VERIFIED", "APPROVED"};
    for (size_t i = 0; i < 4; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(h, i), "event")),
                         want[i]);
    json_decref(h);
    kr_inventory_outbox_free(books.outbox);
    kr_inventory_free(books.inventory);
    kr_pgserver_free(pg);
}
END_TEST

/* A decision recorded late by the controller (a reconcile) while the
 * inventory stalls (another writer holds its SQLite file: each statement
 * waits out its busy timeout): it was recorded in the reconcile's thread,
 * which waited until the try timed out, and a stop, which waits for every
 * reconcile before the Lease goes, waited with it. Now it goes through
 * the outbox too: once the stop has begun the call returns while the try
 * is still under way, the decision is not taken as recorded, and it waits
 * in the outbox, spooled; once the database answers it is in the books,
 * and recording it again (the next look) keeps it once. */
static atomic_bool books_stopping;

static bool books_give_up(void *user)
{
    (void)user;
    return atomic_load(&books_stopping);
}

START_TEST(a_late_decision_waits_on_a_stalled_database_only_until_the_stop)
{
    char dir[256], db[300], url[320], spool[300];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-submitter-books"));
    snprintf(db, sizeof(db), "%s/inventory.db", dir);
    snprintf(url, sizeof(url), "sqlite://%s", db);
    snprintf(spool, sizeof(spool), "%s/spool", dir);
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    sub_books books = {.give_up = books_give_up};
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_new(&io, &books.inventory, &err) == 0, "%s", err.message);
    kr_inventory_outbox_opts oo = {
        .version = KR_INVENTORY_OUTBOX_OPTS_VERSION, .retry_max_ms = 200, .spool_path = spool};
    ck_assert_int_eq(kr_inventory_outbox_new(books.inventory, &oo, &books.outbox, &err), 0);
    atomic_store(&books_stopping, false);
    sub_event ev = {"SUBMITTED", "default", "r", "u1", "alice", "", "", "submitted", NULL};
    ck_assert_int_eq(submitter_record_to_inventory(&ev, &books), 0);
    /* the stall: a writer holds the database */
    sqlite3 *holder = NULL;
    ck_assert_int_eq(sqlite3_open(db, &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    atomic_store(&books_stopping, true); /* the controller's stop has begun */
    char key[256];
    submitter_decision_key("u1", "APPROVED", "bob", "h1", key, sizeof(key));
    ev = (sub_event){"APPROVED", "default", "r", "u1", "bob", "", "", "recorded late", key};
    ck_assert_int_ne(submitter_record_to_inventory(&ev, &books), 0); /* not in the books yet */
    /* it waits in the outbox, spooled: the try had not timed out */
    ck_assert_uint_eq(kr_inventory_outbox_pending(books.outbox), 1);
    struct stat st;
    ck_assert_int_eq(stat(spool, &st), 0);
    ck_assert_int_gt(st.st_size, 0);
    ck_assert_int_eq(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(holder);
    ck_assert_int_eq(kr_inventory_outbox_flush(books.outbox, 60000), 0);
    /* the next look records it again: once in the books */
    atomic_store(&books_stopping, false);
    ck_assert_int_eq(submitter_record_to_inventory(&ev, &books), 0);
    json_t *h = NULL;
    ck_assert_int_eq(
        kr_inventory_history(books.inventory, KR_RUNNABLE_KIND, "default", "r", 0, 0, &h, &err), 0);
    ck_assert_uint_eq(json_array_size(h), 2);
    const char *want[] = {"SUBMITTED", "APPROVED"};
    for (size_t i = 0; i < 2; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(h, i), "event")),
                         want[i]);
    json_decref(h);
    kr_inventory_outbox_free(books.outbox);
    kr_inventory_free(books.inventory);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char f[320];
        snprintf(f, sizeof(f), "%s%s", db, suffixes[i]);
        unlink(f);
    }
    unlink(spool);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("submitter");
    TCase *unit = tcase_create("decisions");
    tcase_add_test(unit, spec_hash_is_canonical_and_ignores_the_idempotency_key);
    tcase_add_test(unit, approvals_count_distinct_members_of_the_current_spec);
    tcase_add_test(unit, idempotency_names_are_deterministic_dns_labels);
    tcase_add_test(unit, failover_rules);
    tcase_add_test(unit, the_approvals_shown_are_those_of_the_spec_that_runs);
    tcase_add_test(unit, a_runnable_that_needs_no_approval_shows_none);
    tcase_add_test(unit, an_outcome_has_the_reason_of_its_copy);
    tcase_add_test(unit, health_runs_from_the_first_failed_send);
    tcase_add_test(unit, an_inventory_error_is_named_once);
    tcase_add_test(unit, own_echoes_and_admitted_creations_wake_nobody);
    suite_add_tcase(s, unit);
    TCase *books = tcase_create("books");
    tcase_set_timeout(books, 300);
    tcase_add_test(books, transitions_wait_for_a_restarting_database_in_order);
    tcase_add_test(books, a_late_decision_waits_on_a_stalled_database_only_until_the_stop);
    suite_add_tcase(s, books);
    TCase *tc = tcase_create("servers");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, submit_approve_dispatch_verify_succeed);
    tcase_add_test(tc, a_copy_absent_from_a_cache_behind_its_create_is_not_deleted);
    tcase_add_test(tc, a_create_the_cache_has_not_observed_is_not_verified);
    tcase_add_test(tc, a_create_in_a_cluster_made_anew_is_not_verified_by_its_old_cache);
    tcase_add_test(tc, a_copy_gone_with_its_cluster_made_anew_fails_the_runnable);
    tcase_add_test(tc, a_lagging_cache_costs_one_list_per_cluster_and_interval);
    tcase_add_test(tc, a_name_taken_by_an_object_not_ours_fails_and_adopts_nothing);
    tcase_add_test(tc, a_status_claiming_dispatch_without_a_quorum_creates_nothing);
    tcase_add_test(tc, a_runnables_generate_name_names_it);
    tcase_add_test(tc, a_template_needs_no_name_of_its_own);
    tcase_add_test(tc, approval_rules_hold);
    tcase_add_test(tc, a_decision_waits_for_its_record);
    tcase_add_test(tc, concurrent_approvals_through_two_replicas_keep_their_order);
    tcase_add_test(tc, late_decisions_are_recorded_in_the_hubs_order);
    tcase_add_test(tc, a_decision_no_api_took_never_counts);
    tcase_add_test(tc, a_forged_mark_on_a_sealed_rejection_is_not_trusted);
    tcase_add_test(tc, a_decision_marked_forged_under_a_wrong_key_counts_again);
    tcase_add_test(tc, a_spec_changed_after_its_approval_waits_for_a_new_one);
    tcase_add_test(tc, an_edit_of_the_spec_cannot_lower_the_approvals_it_needs);
    tcase_add_test(tc, api_authenticates_by_the_hubs_token_review);
    tcase_add_test(tc, api_authorizes_by_the_hubs_rbac);
    tcase_add_test(tc, a_failed_job_says_why_on_its_runnable);
    tcase_add_test(tc, approved_is_recorded_before_the_dispatch);
    tcase_add_test(tc, api_admits_and_decides_in_one_write);
    tcase_add_test(tc, api_stopped_between_its_two_writes);
    tcase_add_test(tc, a_hub_created_runnable_the_api_would_refuse_fails_at_once);
    tcase_add_test(tc, a_slow_submission_record_is_not_taken_for_a_hub_created_one);
    tcase_add_test(tc, a_held_copy_is_released_once);
    tcase_add_test(tc, idempotency_key_gives_one_runnable);
    tcase_add_test(tc, an_outage_shorter_than_the_delay_fails_nothing_over);
    tcase_add_test(tc, failover_when_dc1_dies_before_the_create);
    tcase_add_test(tc, failover_when_dc1_dies_after_the_create);
    tcase_add_test(tc, a_failover_refused_for_good_goes_back_to_the_earlier_copy);
    tcase_add_test(tc, a_refused_failover_waits_for_a_decided_attempt_and_fails_on_a_gone_copy);
    tcase_add_test(tc, refused_failovers_keep_their_attempt_numbers_apart);
    tcase_add_test(tc, a_later_attempt_created_ends_the_create_refused_condition);
    tcase_add_test(tc, the_verified_condition_follows_the_current_attempt);
    tcase_add_test(tc, a_copy_that_lost_its_labels_is_followed_a_deleted_one_fails);
    tcase_add_test(tc, a_copy_relabelled_to_another_runnable_fails_it);
    tcase_add_test(tc, every_record_names_the_resourceversion_of_its_object);
    tcase_add_test(tc, a_copy_of_an_approval_voided_since_goes_while_the_runnable_waits);
    tcase_add_test(tc, cancel_deletes_the_copy);
    tcase_add_test(tc, a_runnable_in_a_cluster_not_configured_waits_for_one_that_is);
    tcase_add_test(tc, a_kind_edited_after_dispatch_loses_no_copy);
    tcase_add_test(tc, a_kind_edited_before_the_dispatch_is_written_leaves_no_copy);
    tcase_add_test(tc, an_attempt_recorded_without_its_kind_is_of_the_templates);
    tcase_add_test(tc, a_kind_edited_then_failed_over_waits_and_its_job_goes);
    tcase_add_test(tc, a_kind_edit_never_releases_a_job_its_template_suspended);
    tcase_add_test(tc, both_started_after_a_partition_the_later_copy_is_stopped);
    tcase_add_test(tc, both_started_after_a_partition_the_returning_copy_is_stopped_when_later);
    tcase_add_test(tc, stale_replica_gets_409_and_creates_nothing);
    tcase_add_test(tc, a_deposed_leader_sends_nothing_and_a_late_copy_goes);
    tcase_add_test(tc, bad_input_is_refused_and_nothing_recorded);
    tcase_add_test(tc, a_body_in_another_media_type_is_refused);
    tcase_add_test(tc, the_list_comes_in_pages);
    tcase_add_test(tc, many_runnables_under_faults_each_complete_once);
    suite_add_tcase(s, tc);
    TCase *prog = tcase_create("program");
    tcase_set_timeout(prog, 300);
    tcase_add_test(prog, serve_refuses_a_failover_after_below_its_minimum);
    tcase_add_test(prog, serve_without_an_endpoint_says_so);
    tcase_add_test(prog, program_serves_the_api_and_the_cli_drives_it);
    tcase_add_test(prog, program_cli_retries_a_lost_answer_under_one_key);
    tcase_add_test(prog, program_submit_wait_follows_the_runnable_to_its_end);
    tcase_add_test(prog, program_shows_the_approvals_of_the_spec_that_runs);
    tcase_add_test(prog, program_decisions_count_across_a_restart_without_a_key_file);
    tcase_add_test(prog, program_asks_the_hub_who_its_callers_are);
    tcase_add_test(prog, idle_runnables_are_not_polled_and_an_outage_still_fails_over);
    tcase_add_test(prog, an_outage_wakes_its_runnables_instead_of_polling_them);
    tcase_add_test(prog, a_cancel_on_a_failing_cluster_waits_for_its_return);
    tcase_add_test(prog, leader_killed_mid_dispatch_leaves_one_copy_each);
    tcase_add_test(prog, a_stop_during_an_inventory_stall_releases_the_lease_first);
    suite_add_tcase(s, prog);
    TCase *stall = tcase_create("inventory_stall");
    tcase_set_timeout(stall, 300);
    tcase_add_test(stall, a_stop_while_postgresql_stalls_exits);
    tcase_add_test(stall, a_stop_during_a_stalled_history_read_exits);
    suite_add_tcase(s, stall);
    return kr_test_run_suite(s);
}
