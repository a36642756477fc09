/* Tests for the work queue: client-go's semantics, delays on an injected
 * clock, priorities, failures and max retries, drain with a deadline,
 * snapshots, metrics, allocation failures, and a property test of random
 * concurrent schedules against a sequential model.
 * KR_TEST_THREADED: this suite runs threads (also run under ThreadSanitizer). */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"
#include "queue_internal.h"

/* Time points on the fake clock are ns (MS, SEC); delays given to the queue
 * and the rate limiters are ms (SEC_MS). */
#define MS (1000LL * 1000)
#define SEC (1000LL * MS)
#define SEC_MS 1000ULL

/* ---- helpers ------------------------------------------------------------ */

struct fake_clock {
    _Atomic int64_t now;
};

static int64_t fake_now(void *user)
{
    return atomic_load(&((struct fake_clock *)user)->now);
}

static void fake_advance(struct fake_clock *c, int64_t ns)
{
    atomic_fetch_add(&c->now, ns);
}

static kr_queue_t *new_queue(struct fake_clock *clock, const kr_queue_opts *extra)
{
    kr_queue_opts o = extra ? *extra : (kr_queue_opts){0};
    if (clock)
        o.clock = (kr_clock){.now_ns = fake_now, .user = clock};
    kr_queue_t *q = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_queue_new(&o, &q, &err) == 0, "kr_queue_new: %s", err.message);
    return q;
}

static const char *must_get(kr_queue_t *q)
{
    const char *k = NULL;
    ck_assert_int_eq(kr_queue_try_get(q, &k), 0);
    return k;
}

static void expect_get(kr_queue_t *q, const char *want)
{
    const char *k = must_get(q);
    ck_assert_str_eq(k, want);
}

/* ---- client-go semantics ---------------------------------------------------- */

START_TEST(queue_add_dedups_and_hands_out_in_fifo_order)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    ck_assert_int_eq(kr_queue_add(q, "ns/a"), 0);
    ck_assert_int_eq(kr_queue_add(q, "ns/b"), 0);
    ck_assert_int_eq(kr_queue_add(q, "ns/a"), 0);
    ck_assert_uint_eq(kr_queue_len(q), 2);
    expect_get(q, "ns/a");
    expect_get(q, "ns/b");
    const char *k;
    ck_assert_int_eq(kr_queue_try_get(q, &k), KR_ENOTFOUND);
    ck_assert_int_eq(kr_queue_done(q, "ns/a"), 0);
    ck_assert_int_eq(kr_queue_done(q, "ns/b"), 0);
    ck_assert_int_eq(kr_queue_add(q, NULL), KR_EINVAL);
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_readd_while_processing_runs_again_after_done)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    kr_queue_add(q, "ns/a");
    const char *k = must_get(q);
    ck_assert_int_eq(kr_queue_add(q, "ns/a"), 0);
    ck_assert_uint_eq(kr_queue_len(q), 0); /* never handed to a second worker */
    const char *other;
    ck_assert_int_eq(kr_queue_try_get(q, &other), KR_ENOTFOUND);
    ck_assert_int_eq(kr_queue_add(q, "ns/a"), 0); /* still one pending re-run */
    ck_assert_int_eq(kr_queue_done(q, k), 0);
    ck_assert_uint_eq(kr_queue_len(q), 1);
    k = must_get(q);
    ck_assert_str_eq(k, "ns/a");
    ck_assert_int_eq(kr_queue_done(q, k), 0);
    ck_assert_uint_eq(kr_queue_len(q), 0);
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_done_of_a_key_not_processing_is_enotfound)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    ck_assert_int_eq(kr_queue_done(q, "nope"), KR_ENOTFOUND);
    kr_queue_add(q, "ns/a");
    ck_assert_int_eq(kr_queue_done(q, "ns/a"), KR_ENOTFOUND); /* queued, not processing */
    const char *k = must_get(q);
    char copy[16];
    snprintf(copy, sizeof(copy), "%s", k); /* done by value, not by pointer */
    ck_assert_int_eq(kr_queue_done(q, copy), 0);
    ck_assert_int_eq(kr_queue_done(q, copy), KR_ENOTFOUND);
    kr_queue_free(q);
}
END_TEST

struct getter {
    kr_queue_t *q;
    pthread_t thread;
    int rc;
    char key[64];
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;
    const char *k = NULL;
    g->rc = kr_queue_get(g->q, &k);
    if (g->rc == 0) {
        snprintf(g->key, sizeof(g->key), "%s", k);
        kr_queue_done(g->q, k);
    }
    return NULL;
}

START_TEST(queue_get_blocks_until_a_key_is_added)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    struct getter g = {.q = q, .rc = 99};
    pthread_create(&g.thread, NULL, getter_main, &g);
    ck_assert_int_eq(kr_queue_add(q, "ns/late"), 0);
    pthread_join(g.thread, NULL);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_str_eq(g.key, "ns/late");
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_shutdown_hands_out_queued_keys_then_reports_shutdown)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    struct getter blocked = {.q = q, .rc = 99};
    pthread_create(&blocked.thread, NULL, getter_main, &blocked);
    kr_queue_shutdown(q);
    pthread_join(blocked.thread, NULL);
    ck_assert_int_eq(blocked.rc, KR_ESHUTDOWN);
    ck_assert(kr_queue_shutting_down(q));
    ck_assert_int_eq(kr_queue_add(q, "ns/c"), KR_ESHUTDOWN);
    ck_assert_int_eq(kr_queue_add_after(q, "ns/c", SEC_MS), KR_ESHUTDOWN);
    ck_assert_int_eq(kr_queue_add_failed(q, "ns/c"), KR_ESHUTDOWN);
    kr_queue_free(q);

    q = new_queue(NULL, NULL);
    kr_queue_add(q, "ns/a");
    kr_queue_add(q, "ns/b");
    kr_queue_add_after(q, "ns/later", SEC_MS); /* dropped by shutdown */
    kr_queue_shutdown(q);
    kr_queue_shutdown(q); /* idempotent */
    const char *k;
    ck_assert_int_eq(kr_queue_get(q, &k), 0);
    ck_assert_str_eq(k, "ns/a");
    ck_assert_int_eq(kr_queue_get(q, &k), 0);
    ck_assert_str_eq(k, "ns/b");
    ck_assert_int_eq(kr_queue_get(q, &k), KR_ESHUTDOWN);
    ck_assert_int_eq(kr_queue_try_get(q, &k), KR_ESHUTDOWN);
    kr_queue_done(q, "ns/a");
    kr_queue_done(q, "ns/b");
    kr_queue_free(q);
}
END_TEST

/* ---- delays ------------------------------------------------------------------ */

START_TEST(queue_add_after_becomes_due_on_the_injected_clock)
{
    struct fake_clock c = {1000 * SEC};
    kr_queue_t *q = new_queue(&c, NULL);
    ck_assert_int_eq(kr_queue_now_ns(q), 1000 * SEC);
    ck_assert_int_eq(kr_queue_add_after(q, "ns/a", 100), 0);
    ck_assert_int_eq(kr_queue_add_after(q, "ns/now", 0), 0); /* no delay: queued at once */
    ck_assert_uint_eq(kr_queue_len(q), 1);
    expect_get(q, "ns/now");
    fake_advance(&c, 99 * MS);
    kr_queue_poll(q);
    ck_assert_uint_eq(kr_queue_len(q), 0);
    fake_advance(&c, 1 * MS);
    kr_queue_poll(q);
    ck_assert_uint_eq(kr_queue_len(q), 1);
    expect_get(q, "ns/a");
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_add_after_twice_keeps_the_earliest_deadline)
{
    struct fake_clock c = {0};
    kr_queue_t *q = new_queue(&c, NULL);
    kr_queue_add_after(q, "ns/a", 10 * SEC_MS);
    kr_queue_add_after(q, "ns/a", 1 * SEC_MS);
    kr_queue_add_after(q, "ns/a", 5 * SEC_MS);
    kr_queue_add_after(q, "ns/b", 3 * SEC_MS);
    kr_queue_snapshot *s;
    ck_assert_int_eq(kr_queue_snapshot_take(q, &s, NULL), 0);
    ck_assert_uint_eq(s->n_waiting, 2);
    ck_assert_str_eq(s->waiting[0].key, "ns/a");
    ck_assert_int_eq(s->waiting[0].due_ns, 1 * SEC);
    ck_assert_str_eq(s->waiting[1].key, "ns/b");
    ck_assert_int_eq(s->waiting[1].due_ns, 3 * SEC);
    kr_free(s);
    fake_advance(&c, 1 * SEC);
    ck_assert_uint_eq(kr_queue_len(q), 1);
    expect_get(q, "ns/a");
    fake_advance(&c, 10 * SEC);
    expect_get(q, "ns/b");
    const char *k;
    ck_assert_int_eq(kr_queue_try_get(q, &k), KR_ENOTFOUND); /* a fired once only */
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_due_keys_come_out_in_deadline_order)
{
    struct fake_clock c = {0};
    kr_queue_t *q = new_queue(&c, NULL);
    kr_test_rng rng;
    kr_test_rng_init(&rng, kr_test_seed("queue_due_keys_come_out_in_deadline_order"));
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        char key[32];
        uint64_t delay_ms = 1 + kr_test_rng_below(&rng, 1000000);
        snprintf(key, sizeof(key), "%015llu/%d", (unsigned long long)delay_ms, i);
        ck_assert_int_eq(kr_queue_add_after(q, key, delay_ms), 0);
    }
    fake_advance(&c, 2000000 * MS);
    char prev[32] = "";
    for (int i = 0; i < N; i++) {
        const char *k = must_get(q);
        ck_assert_msg(strncmp(prev, k, 15) <= 0, "%s after %s", k, prev);
        snprintf(prev, sizeof(prev), "%s", k);
        kr_queue_done(q, k);
    }
    kr_queue_free(q);
}
END_TEST

struct clock_getter {
    kr_queue_t *q;
    int rc;
    char key[32];
};

START_TEST(queue_blocked_getter_wakes_for_a_delayed_key_on_the_real_clock)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    struct getter g = {.q = q, .rc = 99};
    pthread_create(&g.thread, NULL, getter_main, &g);
    kr_queue_add_after(q, "ns/far", 3600 * SEC_MS);
    ck_assert_int_eq(kr_queue_add_after(q, "ns/soon", 20), 0);
    pthread_join(g.thread, NULL);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_str_eq(g.key, "ns/soon");
    kr_queue_free(q);
}
END_TEST

/* ---- priorities ------------------------------------------------------------------ */

START_TEST(queue_priority_hands_out_higher_first_and_low_lane_last)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    kr_queue_add_priority(q, "relist/1", KR_QUEUE_PRIORITY_LOW);
    kr_queue_add_priority(q, "relist/2", KR_QUEUE_PRIORITY_LOW);
    kr_queue_add_priority(q, "relist/3", KR_QUEUE_PRIORITY_LOW);
    kr_queue_add(q, "change/a");
    kr_queue_add_priority(q, "urgent/b", 10);
    kr_queue_add(q, "change/c");
    /* a later higher-priority add raises a queued key ... */
    kr_queue_add_priority(q, "relist/3", 10);
    /* ... and a lower one never lowers it */
    kr_queue_add_priority(q, "urgent/b", KR_QUEUE_PRIORITY_LOW);
    static const char *const order[] = {"urgent/b", "relist/3", "change/a",
                                        "change/c", "relist/1", "relist/2"};
    kr_queue_snapshot *s;
    ck_assert_int_eq(kr_queue_snapshot_take(q, &s, NULL), 0);
    ck_assert_uint_eq(s->n_queued, 6);
    for (size_t i = 0; i < 6; i++)
        ck_assert_str_eq(s->queued[i].key, order[i]);
    ck_assert_int_eq(s->queued[0].priority, 10);
    ck_assert_int_eq(s->queued[4].priority, KR_QUEUE_PRIORITY_LOW);
    kr_free(s);
    for (size_t i = 0; i < 6; i++)
        expect_get(q, order[i]);
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_readd_while_processing_keeps_its_highest_priority)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    kr_queue_add_priority(q, "ns/a", KR_QUEUE_PRIORITY_LOW);
    const char *a = must_get(q);
    kr_queue_add_priority(q, "ns/a", KR_QUEUE_PRIORITY_LOW);
    kr_queue_add_priority(q, "ns/a", 7);
    kr_queue_add_priority(q, "ns/a", 0);
    kr_queue_add(q, "ns/b");
    kr_queue_done(q, a);
    expect_get(q, "ns/a"); /* requeued at 7, ahead of b */
    expect_get(q, "ns/b");
    kr_queue_free(q);
}
END_TEST

/* A follow-up keeps the priority the key was handed out with (as
 * controller-runtime's reconcileHandler): a key of the low lane that
 * fails, or asks to come back, goes back to the low lane, behind a key
 * added there after it and behind every normal one; one raised while it
 * was processing keeps the raise. */
START_TEST(queue_follow_ups_keep_the_priority_the_key_was_handed_out_with)
{
    struct fake_clock c = {0};
    kr_queue_t *q = new_queue(&c, NULL);
    ck_assert_int_eq(kr_queue_priority_of(q, "ns/a"), KR_QUEUE_PRIORITY_NORMAL);
    kr_queue_add_priority(q, "ns/a", KR_QUEUE_PRIORITY_LOW);
    ck_assert_int_eq(kr_queue_priority_of(q, "ns/a"), KR_QUEUE_PRIORITY_LOW);
    const char *a = must_get(q);
    ck_assert_int_eq(kr_queue_priority_of(q, a), KR_QUEUE_PRIORITY_LOW);
    kr_queue_add_priority(q, "ns/b", KR_QUEUE_PRIORITY_LOW);
    kr_queue_add(q, "ns/n");
    ck_assert_int_eq(kr_queue_done_result(q, a, KR_QUEUE_ERROR, 0), 0);
    fake_advance(&c, 1 * SEC); /* past the rate limiter's delay */
    expect_get(q, "ns/n");
    expect_get(q, "ns/b");
    a = must_get(q);
    ck_assert_str_eq(a, "ns/a");
    kr_queue_add_priority(q, "ns/c", KR_QUEUE_PRIORITY_LOW);
    ck_assert_int_eq(kr_queue_done_result(q, a, KR_QUEUE_REQUEUE_AFTER, 10), 0);
    fake_advance(&c, 1 * SEC);
    expect_get(q, "ns/c"); /* a came back low, after c */
    a = must_get(q);
    ck_assert_str_eq(a, "ns/a");
    kr_queue_add(q, "ns/a"); /* raised while processing: the raise stays */
    ck_assert_int_eq(kr_queue_priority_of(q, a), KR_QUEUE_PRIORITY_NORMAL);
    kr_queue_add_priority(q, "ns/d", KR_QUEUE_PRIORITY_LOW);
    ck_assert_int_eq(kr_queue_done(q, a), 0);
    expect_get(q, "ns/a");
    ck_assert_int_eq(kr_queue_priority_of(NULL, "x"), KR_QUEUE_PRIORITY_NORMAL);
    kr_queue_free(q);
}
END_TEST

/* A re-add of a processing key at a lower priority (a resync while a
 * real change is reconciled) does not lower the priority its follow-up
 * keeps: a failed change is retried ahead of the resync, not behind it. */
START_TEST(queue_a_lower_readd_while_processing_does_not_lower_the_follow_up)
{
    struct fake_clock c = {0};
    kr_queue_t *q = new_queue(&c, NULL);
    kr_queue_add(q, "ns/a"); /* a real change */
    const char *a = must_get(q);
    kr_queue_add_priority(q, "ns/a", KR_QUEUE_PRIORITY_LOW); /* a resync meanwhile */
    kr_queue_add_priority(q, "ns/r", KR_QUEUE_PRIORITY_LOW); /* the rest of it */
    ck_assert_int_eq(kr_queue_priority_of(q, a), KR_QUEUE_PRIORITY_NORMAL);
    ck_assert_int_eq(kr_queue_done_result(q, a, KR_QUEUE_ERROR, 0), 0);
    fake_advance(&c, 1 * SEC);
    expect_get(q, "ns/a");
    expect_get(q, "ns/r");
    kr_queue_free(q);
}
END_TEST

/* A raised key leaves its old lane entry behind, stale: once the key was
 * handed out, done and added back in that lane, the stale entry must
 * neither hand it out twice nor out of turn. */
START_TEST(queue_raised_key_leaves_no_trace_in_its_old_lane)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    kr_queue_add_priority(q, "relist/a", KR_QUEUE_PRIORITY_LOW);
    kr_queue_add_priority(q, "relist/b", KR_QUEUE_PRIORITY_LOW);
    kr_queue_add(q, "relist/a"); /* raised to the normal lane */
    const char *a = must_get(q);
    ck_assert_str_eq(a, "relist/a");
    ck_assert_int_eq(kr_queue_done(q, a), 0);
    kr_queue_add_priority(q, "relist/a", KR_QUEUE_PRIORITY_LOW); /* behind b now */
    kr_queue_add_priority(q, "relist/c", KR_QUEUE_PRIORITY_LOW);
    ck_assert_uint_eq(kr_queue_len(q), 3);
    kr_queue_snapshot *s;
    ck_assert_int_eq(kr_queue_snapshot_take(q, &s, NULL), 0);
    ck_assert_uint_eq(s->n_queued, 3);
    ck_assert_str_eq(s->queued[0].key, "relist/b");
    ck_assert_str_eq(s->queued[1].key, "relist/a");
    ck_assert_str_eq(s->queued[2].key, "relist/c");
    kr_free(s);
    expect_get(q, "relist/b");
    expect_get(q, "relist/a");
    expect_get(q, "relist/c");
    const char *k;
    ck_assert_int_eq(kr_queue_try_get(q, &k), KR_ENOTFOUND);
    kr_queue_free(q);
}
END_TEST

/* The same key raised over and over while queued, with an idle cache of
 * one so that the sweep runs all the time: every stale entry pins its key
 * until get passes it (ASan and valgrind see any use after free). */
START_TEST(queue_repeated_raises_with_a_tiny_idle_cache)
{
    kr_queue_opts o = {.idle_keys = 1};
    kr_queue_t *q = new_queue(NULL, &o);
    char key[32];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 20; i++) {
            snprintf(key, sizeof(key), "ns/k%d", i);
            kr_queue_add_priority(q, key, KR_QUEUE_PRIORITY_LOW);
            kr_queue_add_priority(q, key, 0);
            kr_queue_add_priority(q, key, 1 + i % 3);
        }
        ck_assert_uint_eq(kr_queue_len(q), 20);
        const char *k;
        int n = 0;
        while (kr_queue_try_get(q, &k) == 0) {
            ck_assert_int_eq(kr_queue_done(q, k), 0);
            n++;
        }
        ck_assert_int_eq(n, 20);
    }
    kr_queue_free(q);
}
END_TEST

/* A relist of 100,000 keys in the low lane grows its ring; the normal lane
 * still goes first, and everything comes out once, in order. */
START_TEST(queue_relist_of_100k_keys_in_the_low_lane)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    enum { N = 100000 };
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        ck_assert_int_eq(kr_queue_add_priority(q, key, KR_QUEUE_PRIORITY_LOW), 0);
    }
    kr_queue_add(q, "ns/changed");
    expect_get(q, "ns/changed");
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        const char *k = must_get(q);
        ck_assert_str_eq(k, key);
        ck_assert_int_eq(kr_queue_done(q, k), 0);
    }
    ck_assert_uint_eq(kr_queue_len(q), 0);
    /* the keys are idle now, at most the default cache of them interned:
     * adding them all again works the same */
    for (int i = 0; i < N; i += 7) {
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        ck_assert_int_eq(kr_queue_add(q, key), 0);
    }
    ck_assert_uint_eq(kr_queue_len(q), (N + 6) / 7);
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_delayed_add_keeps_its_priority)
{
    struct fake_clock c = {0};
    kr_queue_t *q = new_queue(&c, NULL);
    kr_queue_add(q, "ns/first");
    kr_queue_add_after_priority(q, "ns/vip", SEC_MS, 50);
    fake_advance(&c, SEC);
    expect_get(q, "ns/vip");
    expect_get(q, "ns/first");
    kr_queue_free(q);
}
END_TEST

/* ---- rate limiting, failures, retries --------------------------------------- */

START_TEST(queue_add_rate_limited_uses_the_limiter_and_forget_resets)
{
    struct fake_clock c = {0};
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_exponential(5, 1000 * SEC_MS, &rl, NULL), 0);
    kr_queue_opts o = {.ratelimiter = rl};
    kr_queue_t *q = new_queue(&c, &o);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(kr_queue_add_rate_limited(q, "ns/a"), 0);
    ck_assert_uint_eq(kr_queue_num_requeues(q, "ns/a"), 3);
    ck_assert_uint_eq(kr_queue_num_failures(q, "ns/a"), 0); /* requeues are not failures */
    kr_queue_snapshot *s;
    ck_assert_int_eq(kr_queue_snapshot_take(q, &s, NULL), 0);
    ck_assert_uint_eq(s->n_waiting, 1);
    ck_assert_int_eq(s->waiting[0].due_ns, 5 * MS); /* earliest of 5, 10, 20 ms */
    kr_free(s);
    kr_queue_forget(q, "ns/a");
    ck_assert_uint_eq(kr_queue_num_requeues(q, "ns/a"), 0);
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_failures_are_counted_apart_from_plain_requeues)
{
    /* kubernetes/kubernetes#132805 */
    struct fake_clock c = {0};
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_exponential(5, 1000 * SEC_MS, &rl, NULL), 0);
    kr_queue_opts o = {.ratelimiter = rl};
    kr_queue_t *q = new_queue(&c, &o);
    kr_queue_add(q, "ns/a");
    for (int i = 0; i < 5; i++) {
        const char *k = must_get(q);
        ck_assert_int_eq(kr_queue_done_result(q, k, KR_QUEUE_REQUEUE, 0), 0);
    }
    ck_assert_uint_eq(kr_queue_num_requeues(q, "ns/a"), 0);
    ck_assert_uint_eq(kr_queue_num_failures(q, "ns/a"), 0);
    const char *k = must_get(q);
    ck_assert_int_eq(kr_queue_done_result(q, k, KR_QUEUE_ERROR, 0), 0);
    ck_assert_uint_eq(kr_queue_num_failures(q, "ns/a"), 1);
    ck_assert_uint_eq(kr_queue_num_requeues(q, "ns/a"), 1);
    fake_advance(&c, 5 * MS);
    k = must_get(q);
    ck_assert_int_eq(kr_queue_done_result(q, k, KR_QUEUE_ERROR, 0), 0);
    ck_assert_uint_eq(kr_queue_num_failures(q, "ns/a"), 2);
    kr_queue_snapshot *s;
    ck_assert_int_eq(kr_queue_snapshot_take(q, &s, NULL), 0);
    ck_assert_uint_eq(s->n_waiting, 1);
    ck_assert_int_eq(s->waiting[0].due_ns, 5 * MS + 10 * MS); /* second failure: 10 ms */
    ck_assert_uint_eq(s->waiting[0].failures, 2);
    kr_free(s);
    fake_advance(&c, 10 * MS);
    k = must_get(q);
    ck_assert_int_eq(kr_queue_done_result(q, k, KR_QUEUE_SUCCESS, 0), 0);
    ck_assert_uint_eq(kr_queue_num_failures(q, "ns/a"), 0);
    ck_assert_uint_eq(kr_queue_num_requeues(q, "ns/a"), 0);
    kr_queue_add(q, "ns/a");
    k = must_get(q);
    ck_assert_int_eq(kr_queue_done_result(q, k, KR_QUEUE_REQUEUE_AFTER, 2 * SEC_MS), 0);
    ck_assert_uint_eq(kr_queue_len(q), 0);
    fake_advance(&c, 2 * SEC);
    expect_get(q, "ns/a");
    ck_assert_int_eq(kr_queue_done_result(q, "ns/zzz", KR_QUEUE_SUCCESS, 0), KR_ENOTFOUND);
    kr_queue_free(q);
}
END_TEST

struct give_up_log {
    int calls;
    unsigned failures;
    char key[32];
};

static void on_give_up(const char *key, unsigned failures, void *user)
{
    struct give_up_log *log = user;
    log->calls++;
    log->failures = failures;
    snprintf(log->key, sizeof(log->key), "%s", key);
}

START_TEST(queue_max_retries_gives_up_and_calls_back)
{
    struct fake_clock c = {0};
    struct give_up_log log = {0};
    kr_queue_opts o = {.max_retries = 3, .on_give_up = on_give_up, .give_up_user = &log};
    kr_queue_t *q = new_queue(&c, &o);
    kr_queue_add(q, "ns/flaky");
    for (unsigned i = 1; i <= 3; i++) {
        fake_advance(&c, 3600 * SEC);
        const char *k = must_get(q);
        ck_assert_int_eq(kr_queue_done_result(q, k, KR_QUEUE_ERROR, 0), 0);
        ck_assert_uint_eq(kr_queue_num_failures(q, "ns/flaky"), i);
        ck_assert_int_eq(log.calls, 0);
    }
    fake_advance(&c, 3600 * SEC);
    const char *k = must_get(q);
    ck_assert_int_eq(kr_queue_done_result(q, k, KR_QUEUE_ERROR, 0), KR_QUEUE_GAVE_UP);
    ck_assert_int_eq(log.calls, 1);
    ck_assert_uint_eq(log.failures, 4);
    ck_assert_str_eq(log.key, "ns/flaky");
    ck_assert_uint_eq(kr_queue_num_failures(q, "ns/flaky"), 0);
    ck_assert_uint_eq(kr_queue_num_requeues(q, "ns/flaky"), 0);
    fake_advance(&c, 3600 * SEC);
    ck_assert_uint_eq(kr_queue_len(q), 0); /* dropped, not requeued */
    kr_queue_snapshot *s;
    ck_assert_int_eq(kr_queue_snapshot_take(q, &s, NULL), 0);
    ck_assert_uint_eq(s->n_waiting + s->n_queued + s->n_processing, 0);
    kr_free(s);
    kr_queue_free(q);
}
END_TEST

/* ---- drain ---------------------------------------------------------------------- */

struct drainer {
    kr_queue_t *q;
    pthread_t thread;
    int64_t deadline;
    int rc;
    char **unfinished;
    size_t n;
};

static void *drain_main(void *arg)
{
    struct drainer *d = arg;
    d->rc = kr_queue_shutdown_with_drain(d->q, d->deadline, &d->unfinished, &d->n, NULL);
    return NULL;
}

START_TEST(queue_drain_waits_for_processing_keys)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    kr_queue_add(q, "ns/a");
    const char *a = must_get(q);
    struct drainer d = {.q = q, .deadline = -1, .rc = 99};
    pthread_create(&d.thread, NULL, drain_main, &d);
    ck_assert_int_eq(kr_queue_done(q, a), 0);
    pthread_join(d.thread, NULL);
    ck_assert_int_eq(d.rc, 0);
    ck_assert_ptr_null(d.unfinished);
    ck_assert_uint_eq(d.n, 0);
    ck_assert_int_eq(kr_queue_add(q, "ns/b"), KR_ESHUTDOWN);
    kr_queue_free(q);
}
END_TEST

/* client-go's ShutDown during a ShutDownWithDrain: the drain stops waiting
 * (how a second signal forces a program out), and says which keys it left. */
START_TEST(queue_shutdown_ends_a_drain_under_way)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    kr_queue_add(q, "ns/a");
    kr_queue_add(q, "ns/b");
    must_get(q);
    must_get(q);
    struct drainer d = {.q = q, .deadline = -1, .rc = 99};
    pthread_create(&d.thread, NULL, drain_main, &d);
    while (!kr_queue_shutting_down(q)) /* the drain has begun (one lock hold) */
        sched_yield();
    kr_queue_shutdown(q);
    pthread_join(d.thread, NULL);
    ck_assert_int_eq(d.rc, KR_ECANCELED);
    ck_assert_uint_eq(d.n, 2);
    kr_free(d.unfinished);
    /* a later drain waits again, and ends when the keys are done */
    d.rc = 99;
    d.unfinished = NULL;
    pthread_create(&d.thread, NULL, drain_main, &d);
    ck_assert_int_eq(kr_queue_done(q, "ns/a"), 0);
    ck_assert_int_eq(kr_queue_done(q, "ns/b"), 0);
    pthread_join(d.thread, NULL);
    ck_assert_int_eq(d.rc, 0);
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_drain_with_deadline_reports_unfinished_keys)
{
    struct fake_clock c = {0};
    kr_queue_t *q = new_queue(&c, NULL);
    kr_queue_add(q, "ns/a");
    kr_queue_add(q, "ns/stuck");
    kr_queue_add(q, "ns/stuck-too");
    const char *a = must_get(q);
    must_get(q);
    must_get(q);
    struct drainer d = {.q = q, .deadline = kr_queue_now_ns(q) + SEC, .rc = 99};
    pthread_create(&d.thread, NULL, drain_main, &d);
    ck_assert_int_eq(kr_queue_done(q, a), 0);
    fake_advance(&c, 2 * SEC);
    kr_queue_poll(q); /* wakes the drainer to see the deadline passed */
    pthread_join(d.thread, NULL);
    ck_assert_int_eq(d.rc, KR_ETIMEDOUT);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_ptr_nonnull(d.unfinished);
    ck_assert_str_eq(d.unfinished[0], "ns/stuck");
    ck_assert_str_eq(d.unfinished[1], "ns/stuck-too");
    ck_assert_ptr_null(d.unfinished[2]);
    kr_free(d.unfinished);
    kr_queue_done(q, "ns/stuck");
    kr_queue_done(q, "ns/stuck-too");
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_drain_deadline_passes_on_the_real_clock)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    kr_queue_add(q, "ns/stuck");
    const char *k = must_get(q);
    char **unfinished = NULL;
    size_t n = 0;
    kr_error_t err = {0};
    int rc = kr_queue_shutdown_with_drain(q, kr_queue_now_ns(q) + 10 * MS, &unfinished, &n, &err);
    ck_assert_int_eq(rc, KR_ETIMEDOUT);
    ck_assert_ptr_nonnull(strstr(err.message, "1 key"));
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(unfinished[0], "ns/stuck");
    kr_free(unfinished);
    kr_queue_done(q, k);
    kr_queue_free(q);
}
END_TEST

/* ---- snapshot --------------------------------------------------------------------- */

START_TEST(queue_snapshot_shows_queued_processing_and_waiting)
{
    struct fake_clock c = {100 * SEC};
    kr_queue_t *q = new_queue(&c, NULL);
    kr_queue_add(q, "ns/run");
    kr_queue_add(q, "ns/run-dirty");
    const char *run = must_get(q);
    const char *dirty = must_get(q);
    kr_queue_add_priority(q, "ns/run-dirty", 3);
    kr_queue_add_priority(q, "ns/low", KR_QUEUE_PRIORITY_LOW);
    kr_queue_add(q, "ns/normal");
    kr_queue_add_failed(q, "ns/failing");
    kr_queue_add_failed(q, "ns/failing");
    kr_queue_add_after(q, "ns/later", 30 * SEC_MS);
    fake_advance(&c, 1 * MS);

    kr_queue_snapshot *s;
    ck_assert_int_eq(kr_queue_snapshot_take(q, &s, NULL), 0);
    ck_assert_int_eq(s->now_ns, 100 * SEC + 1 * MS);
    ck_assert(!s->shutting_down);
    ck_assert_uint_eq(s->n_queued, 2);
    ck_assert_str_eq(s->queued[0].key, "ns/normal");
    ck_assert_str_eq(s->queued[1].key, "ns/low");
    ck_assert_int_eq(s->queued[1].priority, KR_QUEUE_PRIORITY_LOW);
    ck_assert_uint_eq(s->n_processing, 2);
    ck_assert_str_eq(s->processing[0].key, "ns/run");
    ck_assert(!s->processing[0].dirty);
    ck_assert_str_eq(s->processing[1].key, "ns/run-dirty");
    ck_assert(s->processing[1].dirty);
    ck_assert_int_eq(s->processing[1].priority, 3);
    ck_assert_uint_eq(s->n_waiting, 2);
    ck_assert_str_eq(s->waiting[0].key, "ns/failing");
    ck_assert_uint_eq(s->waiting[0].failures, 2);
    ck_assert_int_eq(s->waiting[0].due_ns, 100 * SEC + 5 * MS); /* earliest of 5 and 10 ms */
    ck_assert_str_eq(s->waiting[1].key, "ns/later");
    ck_assert_int_eq(s->waiting[1].due_ns, 130 * SEC);
    kr_free(s);
    /* has: queued or processing (dirty or not); waiting keys are not */
    ck_assert(kr_queue_has(q, "ns/run"));
    ck_assert(kr_queue_has(q, "ns/run-dirty"));
    ck_assert(kr_queue_has(q, "ns/normal"));
    ck_assert(kr_queue_has(q, "ns/low"));
    ck_assert(!kr_queue_has(q, "ns/later"));
    ck_assert(!kr_queue_has(q, "ns/failing"));
    ck_assert(!kr_queue_has(q, "ns/never"));
    ck_assert(!kr_queue_has(q, NULL));
    ck_assert(!kr_queue_has(NULL, "ns/run"));

    /* the failing key became due at 100 s + 5 ms < now: has moves it in,
     * and a second snapshot after moving the clock shows it queued */
    fake_advance(&c, 29 * SEC);
    ck_assert(kr_queue_has(q, "ns/failing"));
    ck_assert_int_eq(kr_queue_snapshot_take(q, &s, NULL), 0);
    ck_assert_uint_eq(s->n_queued, 3);
    ck_assert_uint_eq(s->n_waiting, 1);
    kr_free(s);
    kr_queue_done(q, run);
    ck_assert(!kr_queue_has(q, "ns/run")); /* done and not dirty: gone */
    kr_queue_done(q, dirty);
    ck_assert(kr_queue_has(q, "ns/run-dirty")); /* done while dirty: queued again */
    kr_queue_free(q);
}
END_TEST

/* ---- metrics ------------------------------------------------------------------------ */

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static double sample_value(const char *text, const char *series)
{
    const char *p = strstr(text, series);
    ck_assert_msg(p != NULL, "no %s", series);
    return strtod(p + strlen(series), NULL);
}

START_TEST(queue_reports_client_go_workqueue_metrics)
{
    struct fake_clock c = {0};
    kr_metrics_registry_t *reg;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    kr_queue_opts o = {.name = "pods", .metrics = reg};
    kr_queue_t *q = new_queue(&c, &o);
    kr_queue_opts o2 = {.name = "nodes", .metrics = reg};
    kr_queue_t *q2 = new_queue(&c, &o2);
    kr_queue_add(q, "ns/a");
    kr_queue_add(q, "ns/b");
    kr_queue_add(q, "ns/a"); /* deduplicated: not an add */
    kr_queue_add(q2, "n1");
    fake_advance(&c, 2 * MS);
    const char *a = must_get(q);
    fake_advance(&c, 3 * SEC);
    const char *b = must_get(q);
    kr_queue_done(q, a);
    kr_queue_add_rate_limited(q, "ns/c");
    fake_advance(&c, 1 * SEC);

    char *text;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    ck_assert(has_line(text, "# TYPE workqueue_depth gauge"));
    ck_assert(has_line(text, "workqueue_depth{name=\"pods\"} 0"));
    ck_assert(has_line(text, "workqueue_depth{name=\"nodes\"} 1"));
    ck_assert(has_line(text, "workqueue_adds_total{name=\"pods\"} 2"));
    ck_assert(has_line(text, "workqueue_retries_total{name=\"pods\"} 1"));
    ck_assert(has_line(text, "# TYPE workqueue_queue_duration_seconds histogram"));
    ck_assert(
        has_line(text, "workqueue_queue_duration_seconds_bucket{name=\"pods\",le=\"0.001\"} 0"));
    ck_assert(
        has_line(text, "workqueue_queue_duration_seconds_bucket{name=\"pods\",le=\"0.01\"} 1"));
    ck_assert(has_line(text, "workqueue_queue_duration_seconds_bucket{name=\"pods\",le=\"10\"} 2"));
    ck_assert(has_line(text, "workqueue_queue_duration_seconds_count{name=\"pods\"} 2"));
    ck_assert_double_eq_tol(
        sample_value(text, "workqueue_queue_duration_seconds_sum{name=\"pods\"} "), 3.004, 1e-9);
    ck_assert(has_line(text, "workqueue_work_duration_seconds_count{name=\"pods\"} 1"));
    ck_assert(has_line(text, "workqueue_work_duration_seconds_sum{name=\"pods\"} 3"));
    /* b has been processing for 1 s */
    ck_assert(has_line(text, "workqueue_unfinished_work_seconds{name=\"pods\"} 1"));
    ck_assert(has_line(text, "workqueue_longest_running_processor_seconds{name=\"pods\"} 1"));
    kr_free(text);
    kr_queue_done(q, b);
    kr_queue_free(q);
    kr_queue_free(q2);
    /* the registry outlives the queues; their series stay */
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    ck_assert(has_line(text, "workqueue_adds_total{name=\"pods\"} 2"));
    kr_free(text);
    kr_metrics_registry_free(reg);
}
END_TEST

/* ---- done_get: a worker loop's done + get under one lock ------------------------- */

START_TEST(queue_done_get_completes_the_previous_key_and_hands_out_the_next)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    ck_assert_int_eq(kr_queue_add(q, "ns/a"), 0);
    ck_assert_int_eq(kr_queue_add(q, "ns/b"), 0);
    const char *k = NULL;
    ck_assert_int_eq(kr_queue_done_get(q, NULL, &k), 0); /* first call: get only */
    ck_assert_str_eq(k, "ns/a");
    ck_assert_int_eq(kr_queue_add(q, "ns/a"), 0); /* re-added while processing */
    ck_assert_uint_eq(kr_queue_len(q), 1);
    ck_assert_int_eq(kr_queue_done_get(q, k, &k), 0);
    ck_assert_str_eq(k, "ns/b"); /* a was queued again by the done, behind b */
    ck_assert_uint_eq(kr_queue_len(q), 1);
    ck_assert_int_eq(kr_queue_done_get(q, k, &k), 0);
    ck_assert_str_eq(k, "ns/a");
    ck_assert_uint_eq(kr_queue_len(q), 0);
    /* nothing queued: the try variant does the done and hands out nothing */
    ck_assert_int_eq(kr_queue_done_try_get(q, k, &k), 0);
    ck_assert_ptr_null(k);
    ck_assert_int_eq(kr_queue_done(q, "ns/a"), KR_ENOTFOUND); /* it really was done */
    /* a key that is not processing: nothing is done and nothing taken */
    ck_assert_int_eq(kr_queue_add(q, "ns/c"), 0);
    ck_assert_int_eq(kr_queue_done_get(q, "ns/c", &k), KR_ENOTFOUND);
    ck_assert_ptr_null(k);
    ck_assert_int_eq(kr_queue_done_try_get(q, "ns/zzz", &k), KR_ENOTFOUND);
    ck_assert_uint_eq(kr_queue_len(q), 1);
    ck_assert_int_eq(kr_queue_done_try_get(q, NULL, &k), 0);
    ck_assert_str_eq(k, "ns/c");
    ck_assert_int_eq(kr_queue_done_get(q, NULL, NULL), KR_EINVAL);
    /* by value: a copy of the key completes it as well as the pointer does */
    char copy[16];
    snprintf(copy, sizeof(copy), "%s", k);
    ck_assert_int_eq(kr_queue_add(q, "ns/d"), 0);
    ck_assert_int_eq(kr_queue_done_try_get(q, copy, &k), 0);
    ck_assert_str_eq(k, "ns/d");
    /* shut down and empty: the done still happens, then KR_ESHUTDOWN */
    kr_queue_shutdown(q);
    ck_assert_int_eq(kr_queue_done_get(q, k, &k), KR_ESHUTDOWN);
    ck_assert_ptr_null(k);
    ck_assert_int_eq(kr_queue_shutdown_with_drain(q, -1, NULL, NULL, NULL), 0);
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_done_get_reports_work_and_queue_durations)
{
    struct fake_clock c = {0};
    kr_metrics_registry_t *reg = NULL;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    kr_queue_opts o = {.name = "dg", .metrics = reg};
    kr_queue_t *q = new_queue(&c, &o);
    ck_assert_int_eq(kr_queue_add(q, "ns/a"), 0);
    ck_assert_int_eq(kr_queue_add(q, "ns/b"), 0);
    const char *k = NULL;
    ck_assert_int_eq(kr_queue_done_get(q, NULL, &k), 0);
    fake_advance(&c, 2 * SEC);
    ck_assert_int_eq(kr_queue_done_get(q, k, &k), 0);
    fake_advance(&c, 3 * SEC);
    ck_assert_int_eq(kr_queue_done_try_get(q, k, &k), 0);
    ck_assert_ptr_null(k);
    char *text = NULL;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    /* a ran 2 s, b 3 s; a waited 0 s, b 2 s */
    ck_assert(has_line(text, "workqueue_work_duration_seconds_sum{name=\"dg\"} 5"));
    ck_assert(has_line(text, "workqueue_work_duration_seconds_count{name=\"dg\"} 2"));
    ck_assert(has_line(text, "workqueue_queue_duration_seconds_sum{name=\"dg\"} 2"));
    ck_assert(has_line(text, "workqueue_depth{name=\"dg\"} 0"));
    kr_free(text);
    kr_queue_free(q);
    kr_metrics_registry_free(reg);
}
END_TEST

struct loop_worker {
    kr_queue_t *q;
    pthread_t thread;
    int rc;
    _Atomic long handled;
};

/* The worker loop queue.h documents. */
static void *loop_worker_main(void *arg)
{
    struct loop_worker *w = arg;
    const char *key = NULL;
    while ((w->rc = kr_queue_done_get(w->q, key, &key)) == 0)
        atomic_fetch_add(&w->handled, 1);
    return NULL;
}

START_TEST(queue_done_get_blocks_until_a_key_is_added_and_ends_at_shutdown)
{
    kr_queue_t *q = new_queue(NULL, NULL);
    struct loop_worker w = {.q = q, .rc = 99};
    pthread_create(&w.thread, NULL, loop_worker_main, &w);
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        ck_assert_int_eq(kr_queue_add(q, key), 0);
    }
    /* queued keys are still handed out after shutdown; then the loop ends */
    kr_queue_shutdown(q);
    pthread_join(w.thread, NULL);
    ck_assert_int_eq(w.rc, KR_ESHUTDOWN);
    ck_assert_int_eq(atomic_load(&w.handled), 100);
    kr_queue_free(q);
}
END_TEST

/* ---- idle keys and allocation failures ------------------------------------------------ */

START_TEST(queue_many_distinct_keys_with_a_small_idle_cache)
{
    kr_queue_opts o = {.idle_keys = 8};
    kr_queue_t *q = new_queue(NULL, &o);
    enum { N = 20000 };
    char key[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof(key), "ns/obj-%d", i);
            ck_assert_int_eq(kr_queue_add(q, key), 0);
        }
        ck_assert_uint_eq(kr_queue_len(q), N);
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof(key), "ns/obj-%d", i);
            const char *k = must_get(q);
            ck_assert_str_eq(k, key);
            if (i % 3 == 0)
                ck_assert_int_eq(kr_queue_done(q, key), 0);
            else
                ck_assert_int_eq(kr_queue_done(q, k), 0);
        }
        ck_assert_uint_eq(kr_queue_len(q), 0);
    }
    kr_queue_free(q);
}
END_TEST

static int queue_lifecycle(void *arg)
{
    (void)arg;
    struct fake_clock c = {0};
    kr_metrics_registry_t *reg = NULL;
    if (kr_metrics_registry_new(&reg, NULL) != 0)
        return 0;
    kr_queue_opts o = {.name = "sweep", .metrics = reg, .clock = {fake_now, &c}};
    kr_queue_t *q = NULL;
    int rc = kr_queue_new(&o, &q, NULL);
    if (rc != 0) {
        kr_metrics_registry_free(reg);
        return rc == KR_ENOMEM ? 0 : 1;
    }
    int verdict = 0;
    char key[16];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        rc = i % 3 == 0   ? kr_queue_add_priority(q, key, i % 5)
             : i % 3 == 1 ? kr_queue_add_after(q, key, (uint64_t)i + 1)
                          : kr_queue_add_failed(q, key);
        if (rc != 0 && rc != KR_ENOMEM)
            verdict = 1;
    }
    kr_queue_snapshot *s = NULL;
    rc = kr_queue_snapshot_take(q, &s, NULL);
    if (rc != 0 && rc != KR_ENOMEM)
        verdict = 1;
    kr_free(s);
    char *text = NULL;
    rc = kr_metrics_render(reg, &text, NULL, NULL);
    if (rc != 0 && rc != KR_ENOMEM)
        verdict = 1;
    kr_free(text);
    const char *k;
    while (kr_queue_try_get(q, &k) == 0)
        kr_queue_done(q, k);
    kr_queue_free(q);
    kr_metrics_registry_free(reg);
    return verdict;
}

START_TEST(queue_allocation_failures_are_reported_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(queue_lifecycle, NULL);
    ck_assert_msg(runs > 0, "failed at allocation %ld", -runs);
}
END_TEST

/* ---- many producers and consumers ------------------------------------------------------- */

#define PC_KEYS 64

struct pc_shared {
    kr_queue_t *q;
    _Atomic int in_flight[PC_KEYS];
    _Atomic long added_gen[PC_KEYS]; /* bumped before each add */
    _Atomic long served_gen[PC_KEYS]; /* max added_gen seen by a worker at get */
    _Atomic int violations;
    int adds_per_producer;
};

static void *producer_main(void *arg)
{
    struct pc_shared *s = arg;
    for (int i = 0; i < s->adds_per_producer; i++) {
        int k = i % PC_KEYS;
        char key[16];
        snprintf(key, sizeof(key), "k%d", k);
        atomic_fetch_add(&s->added_gen[k], 1);
        if (kr_queue_add(s->q, key) != 0)
            atomic_fetch_add(&s->violations, 1);
    }
    return NULL;
}

static void *consumer_main(void *arg)
{
    struct pc_shared *s = arg;
    const char *key;
    while (kr_queue_get(s->q, &key) == 0) {
        int k = atoi(key + 1);
        if (atomic_fetch_add(&s->in_flight[k], 1) != 0)
            atomic_fetch_add(&s->violations, 1); /* two workers on one key */
        long gen = atomic_load(&s->added_gen[k]);
        long seen = atomic_load(&s->served_gen[k]);
        while (gen > seen && !atomic_compare_exchange_weak(&s->served_gen[k], &seen, gen)) {
        }
        atomic_fetch_sub(&s->in_flight[k], 1);
        kr_queue_done(s->q, key);
    }
    return NULL;
}

START_TEST(queue_many_producers_and_consumers_lose_no_readd)
{
    struct pc_shared s = {.adds_per_producer = 20000};
    s.q = new_queue(NULL, NULL);
    pthread_t producers[4], consumers[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&consumers[i], NULL, consumer_main, &s);
    for (int i = 0; i < 4; i++)
        pthread_create(&producers[i], NULL, producer_main, &s);
    for (int i = 0; i < 4; i++)
        pthread_join(producers[i], NULL);
    /* every add has returned: wait for the workers to catch up, then stop */
    ck_assert_int_eq(kr_queue_shutdown_with_drain(s.q, -1, NULL, NULL, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(consumers[i], NULL);
    ck_assert_int_eq(atomic_load(&s.violations), 0);
    /* the last add of every key was followed by a hand-out that saw it:
     * queued keys are still handed out after shutdown */
    for (int k = 0; k < PC_KEYS; k++) {
        long served = atomic_load(&s.served_gen[k]), added = atomic_load(&s.added_gen[k]);
        ck_assert_msg(served == added, "k%d: last add %ld never handed out (saw %ld)", k, added,
                      served);
    }
    kr_queue_free(s.q);
}
END_TEST

/* ---- property test: random concurrent schedules vs a sequential model ------------------ */

#define P_THREADS 8
#define P_KEYS 6
#define P_OPS 48
#define P_EVENTS 16384

struct pevent {
    kr_queue_trace_kind kind;
    int key; /* -1: none */
    int priority;
    int64_t when;
};

struct prop {
    kr_queue_t *q;
    struct fake_clock clock;
    struct pevent events[P_EVENTS]; /* written under the queue's lock */
    size_t nevents;
    bool overflow;
    pthread_barrier_t start;
    _Atomic int in_flight[P_KEYS];
    _Atomic int violations;
    char first_violation[160];
    pthread_mutex_t violation_mu;
    unsigned long long seed;
};

static _Thread_local long tl_last_event = -1;

static void prop_fail(struct prop *p, const char *fmt, const char *detail, int n)
{
    if (atomic_fetch_add(&p->violations, 1) == 0) {
        pthread_mutex_lock(&p->violation_mu);
        snprintf(p->first_violation, sizeof(p->first_violation), fmt, detail, n);
        pthread_mutex_unlock(&p->violation_mu);
    }
}

static void prop_trace(kr_queue_trace_kind kind, const char *key, int priority, int64_t when,
                       void *user)
{
    struct prop *p = user;
    if (p->nevents >= P_EVENTS) {
        p->overflow = true;
        return;
    }
    tl_last_event = (long)p->nevents;
    p->events[p->nevents++] = (struct pevent){
        .kind = kind, .key = key ? atoi(key + 1) : -1, .priority = priority, .when = when};
}

static const int prop_priorities[] = {KR_QUEUE_PRIORITY_LOW, 0, 0, 5};

struct prop_thread {
    struct prop *p;
    pthread_t thread;
    kr_test_rng rng;
};

static void *prop_thread_main(void *arg)
{
    struct prop_thread *t = arg;
    struct prop *p = t->p;
    char held[2][8];
    int nheld = 0;
    pthread_barrier_wait(&p->start);
    for (int op = 0; op < P_OPS; op++) {
        unsigned r = (unsigned)kr_test_rng_below(&t->rng, 100);
        char key[8];
        snprintf(key, sizeof(key), "k%lu", kr_test_rng_below(&t->rng, P_KEYS));
        int prio = prop_priorities[kr_test_rng_below(&t->rng, 4)];
        if (r < 30) {
            kr_queue_add_priority(p->q, key, prio);
        } else if (r < 38) {
            kr_queue_add_after_priority(p->q, key, kr_test_rng_below(&t->rng, 4), prio);
        } else if (r < 65) {
            if (nheld == 2)
                continue;
            const char *got;
            if (kr_queue_try_get(p->q, &got) != 0)
                continue;
            /* what this thread got must be what the queue says it handed out */
            const struct pevent *e = &p->events[tl_last_event];
            if (e->kind != KR_QTRACE_GET || e->key != atoi(got + 1))
                prop_fail(p, "get returned %s but the trace says otherwise (%d)", got, e->key);
            int k = atoi(got + 1);
            if (atomic_fetch_add(&p->in_flight[k], 1) != 0)
                prop_fail(p, "key %s handed to two workers at once (%d)", got, k);
            snprintf(held[nheld++], sizeof(held[0]), "%s", got);
        } else if (r < 80) {
            if (nheld == 0)
                continue;
            int i = (int)kr_test_rng_below(&t->rng, (unsigned long)nheld);
            atomic_fetch_sub(&p->in_flight[atoi(held[i] + 1)], 1);
            if (kr_queue_done(p->q, held[i]) != 0)
                prop_fail(p, "done(%s) failed (%d)", held[i], 0);
            if (i == 0 && nheld == 2)
                memcpy(held[0], held[1], sizeof(held[0]));
            nheld--;
        } else if (r < 90) {
            /* done of a held key (or none) and get of the next, in one call */
            int i = nheld ? (int)kr_test_rng_below(&t->rng, (unsigned long)nheld + 1) : 0;
            const char *done_key = i < nheld ? held[i] : NULL;
            if (!done_key && nheld == 2)
                continue;
            if (done_key)
                atomic_fetch_sub(&p->in_flight[atoi(done_key + 1)], 1);
            const char *got = NULL;
            int rc = kr_queue_done_try_get(p->q, done_key, &got);
            if (rc != 0)
                prop_fail(p, "done_try_get(%s) failed (%d)", done_key ? done_key : "-", rc);
            if (done_key) {
                if (i == 0 && nheld == 2)
                    memcpy(held[0], held[1], sizeof(held[0]));
                nheld--;
            }
            if (rc == 0 && got) {
                const struct pevent *e = &p->events[tl_last_event];
                if (e->kind != KR_QTRACE_GET || e->key != atoi(got + 1))
                    prop_fail(p, "done_get returned %s but the trace says otherwise (%d)", got,
                              e->key);
                int k = atoi(got + 1);
                if (atomic_fetch_add(&p->in_flight[k], 1) != 0)
                    prop_fail(p, "key %s handed to two workers at once (%d)", got, k);
                snprintf(held[nheld++], sizeof(held[0]), "%s", got);
            }
        } else if (r < 92) {
            fake_advance(&p->clock, MS);
        } else if (r < 94) {
            kr_queue_add_rate_limited(p->q, key);
        } else if (r < 96) {
            kr_queue_add_failed(p->q, key);
        } else if (r < 97) {
            kr_queue_forget(p->q, key);
        } else {
            kr_queue_poll(p->q);
        }
    }
    while (nheld > 0) {
        nheld--;
        atomic_fetch_sub(&p->in_flight[atoi(held[nheld] + 1)], 1);
        kr_queue_done(p->q, held[nheld]);
    }
    return NULL;
}

/* The sequential model: client-go's dirty/processing sets, FIFO lanes by
 * priority (a raise moves a key to the tail of its new lane), and the
 * waiting set where the earliest deadline and the highest priority win. */
struct model_key {
    bool dirty, processing, queued, waiting;
    int priority, wait_priority;
    int64_t due;
    unsigned long seq; /* position in its lane */
};

struct model {
    struct model_key k[P_KEYS];
    unsigned long seq;
};

static void model_enqueue(struct model *m, int key, int prio)
{
    m->k[key].queued = true;
    m->k[key].priority = prio;
    m->k[key].seq = ++m->seq;
}

static void model_add(struct model *m, int key, int prio)
{
    struct model_key *k = &m->k[key];
    if (k->dirty) {
        if (prio > k->priority) {
            if (k->queued)
                model_enqueue(m, key, prio);
            else
                k->priority = prio;
        }
        return;
    }
    k->dirty = true;
    if (k->processing) {
        k->priority = prio;
        return;
    }
    model_enqueue(m, key, prio);
}

static int model_next(const struct model *m)
{
    int best = -1;
    for (int i = 0; i < P_KEYS; i++) {
        const struct model_key *k = &m->k[i];
        if (!k->queued)
            continue;
        if (best < 0 || k->priority > m->k[best].priority ||
            (k->priority == m->k[best].priority && k->seq < m->k[best].seq))
            best = i;
    }
    return best;
}

/* Replays the trace; returns NULL or what went wrong. */
static const char *model_check(const struct prop *p, char *why, size_t size)
{
    struct model m = {0};
    for (size_t i = 0; i < p->nevents; i++) {
        const struct pevent *e = &p->events[i];
        struct model_key *k = e->key >= 0 ? &m.k[e->key] : NULL;
        switch (e->kind) {
        case KR_QTRACE_ADD:
            model_add(&m, e->key, e->priority);
            break;
        case KR_QTRACE_ADD_AFTER:
            if (!k->waiting) {
                k->waiting = true;
                k->due = e->when;
                k->wait_priority = e->priority;
            } else {
                if (e->when < k->due)
                    k->due = e->when;
                if (e->priority > k->wait_priority)
                    k->wait_priority = e->priority;
            }
            break;
        case KR_QTRACE_PROMOTE:
            if (!k->waiting || k->due != e->when || k->wait_priority != e->priority) {
                snprintf(why, size, "event %zu: k%d promoted but not waiting that way", i, e->key);
                return why;
            }
            k->waiting = false;
            break;
        case KR_QTRACE_PROMOTED:
            for (int j = 0; j < P_KEYS; j++)
                if (m.k[j].waiting && m.k[j].due <= e->when) {
                    snprintf(why, size, "event %zu: k%d due at %lld not promoted at %lld", i, j,
                             (long long)m.k[j].due, (long long)e->when);
                    return why;
                }
            break;
        case KR_QTRACE_GET: {
            int want = model_next(&m);
            if (want != e->key) {
                snprintf(why, size, "event %zu: handed out k%d, the model says k%d", i, e->key,
                         want);
                return why;
            }
            k->queued = false;
            k->dirty = false;
            k->processing = true;
            break;
        }
        case KR_QTRACE_GET_EMPTY:
            if (model_next(&m) >= 0) {
                snprintf(why, size, "event %zu: found nothing but k%d is queued", i,
                         model_next(&m));
                return why;
            }
            break;
        case KR_QTRACE_DONE:
            if (!k->processing) {
                snprintf(why, size, "event %zu: done k%d not processing", i, e->key);
                return why;
            }
            k->processing = false;
            if (k->dirty)
                model_enqueue(&m, e->key, k->priority);
            break;
        case KR_QTRACE_SHUTDOWN:
            break;
        }
    }
    for (int j = 0; j < P_KEYS; j++)
        if (m.k[j].queued || m.k[j].processing || m.k[j].dirty || m.k[j].waiting) {
            snprintf(why, size, "at the end k%d is still pending in the model (lost re-add)", j);
            return why;
        }
    return NULL;
}

static void prop_run_schedule(struct prop *p, unsigned long long seed)
{
    memset(p->events, 0, sizeof(p->events[0]) * p->nevents);
    p->nevents = 0;
    p->overflow = false;
    atomic_store(&p->clock.now, 0);
    /* backoff of 1 to 8 ms, ticks of the fake clock, so that rate-limited
     * and failed keys come due within the schedule */
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_exponential(1, 8, &rl, NULL), 0);
    kr_queue_opts o = {.ratelimiter = rl};
    p->q = new_queue(&p->clock, &o);
    kr_queue_set_trace(p->q, prop_trace, p);
    struct prop_thread t[P_THREADS];
    for (int i = 0; i < P_THREADS; i++) {
        t[i].p = p;
        kr_test_rng_init(&t[i].rng, seed * 1000003ULL + (unsigned long long)i + 1);
        pthread_create(&t[i].thread, NULL, prop_thread_main, &t[i]);
    }
    for (int i = 0; i < P_THREADS; i++)
        pthread_join(t[i].thread, NULL);
    /* quiesce: everything waiting becomes due, then drain */
    fake_advance(&p->clock, 1000 * MS);
    const char *k;
    while (kr_queue_try_get(p->q, &k) == 0) {
        if (atomic_load(&p->in_flight[atoi(k + 1)]) != 0)
            prop_fail(p, "drained %s while in flight (%d)", k, 0);
        kr_queue_done(p->q, k);
    }
    kr_queue_free(p->q);
    p->q = NULL;
}

/* The controller's lanes: the wake hook runs outside the lock (it may call
 * the queue) for a queued key, an earlier due time and shutdown; the next
 * due time is reported. */
struct wake_log {
    kr_queue_t *q;
    int queued, due;
    size_t len_seen;
};

static void on_wake(bool due_changed, void *user)
{
    struct wake_log *w = user;
    w->len_seen = kr_queue_len(w->q); /* would deadlock under the lock */
    if (due_changed)
        w->due++;
    else
        w->queued++;
}

START_TEST(queue_wake_hook_runs_after_the_lock_for_keys_and_due_times)
{
    struct fake_clock clock = {0};
    kr_queue_t *q = new_queue(&clock, NULL);
    struct wake_log w = {.q = q};
    kr_queue_set_wake(q, on_wake, &w);
    ck_assert(kr_queue_next_due_ns(q) == INT64_MAX);
    ck_assert_int_eq(kr_queue_add(q, "a"), 0);
    ck_assert_int_eq(w.queued, 1);
    ck_assert_uint_eq(w.len_seen, 1);
    ck_assert_int_eq(kr_queue_add(q, "a"), 0); /* a duplicate queues nothing */
    ck_assert_int_eq(w.queued, 1);
    ck_assert_int_eq(kr_queue_add_after(q, "b", 10), 0);
    ck_assert_int_eq(w.due, 1);
    ck_assert(kr_queue_next_due_ns(q) == 10 * MS);
    ck_assert_int_eq(kr_queue_add_after(q, "c", 20), 0); /* later: no wake */
    ck_assert_int_eq(w.due, 1);
    ck_assert_int_eq(kr_queue_add_after(q, "d", 5), 0); /* earlier */
    ck_assert_int_eq(w.due, 2);
    ck_assert(kr_queue_next_due_ns(q) == 5 * MS);
    fake_advance(&clock, 10 * MS);
    ck_assert_uint_eq(kr_queue_len(q), 3); /* d and b moved in */
    ck_assert_int_eq(w.queued, 2); /* one wake per call */
    ck_assert(kr_queue_next_due_ns(q) == 20 * MS);
    kr_queue_shutdown(q);
    ck_assert_int_eq(w.due, 3);
    ck_assert(kr_queue_next_due_ns(q) == INT64_MAX); /* waiting keys dropped */
    kr_queue_free(q);
}
END_TEST

START_TEST(queue_random_concurrent_schedules_match_the_sequential_model)
{
    static struct prop p;
    memset(&p, 0, sizeof(p));
    pthread_mutex_init(&p.violation_mu, NULL);
    pthread_barrier_init(&p.start, NULL, P_THREADS);
    unsigned long seed = kr_test_seed("queue_random_concurrent_schedules");
    const char *env = getenv("KR_QUEUE_SCHEDULES");
    long schedules = env && *env ? atol(env) : 1000;
    for (long s = 0; s < schedules; s++) {
        unsigned long long sseed = (unsigned long long)seed + (unsigned long long)s;
        prop_run_schedule(&p, sseed);
        char why[200];
        const char *bad = p.overflow ? "trace overflow" : model_check(&p, why, sizeof(why));
        ck_assert_msg(atomic_load(&p.violations) == 0 && !bad, "schedule %ld (seed %lu): %s%s", s,
                      seed, atomic_load(&p.violations) ? p.first_violation : "", bad ? bad : "");
    }
    pthread_barrier_destroy(&p.start);
    pthread_mutex_destroy(&p.violation_mu);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("queue");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, queue_add_dedups_and_hands_out_in_fifo_order);
    tcase_add_test(tc, queue_readd_while_processing_runs_again_after_done);
    tcase_add_test(tc, queue_done_of_a_key_not_processing_is_enotfound);
    tcase_add_test(tc, queue_get_blocks_until_a_key_is_added);
    tcase_add_test(tc, queue_shutdown_hands_out_queued_keys_then_reports_shutdown);
    tcase_add_test(tc, queue_add_after_becomes_due_on_the_injected_clock);
    tcase_add_test(tc, queue_add_after_twice_keeps_the_earliest_deadline);
    tcase_add_test(tc, queue_due_keys_come_out_in_deadline_order);
    tcase_add_test(tc, queue_blocked_getter_wakes_for_a_delayed_key_on_the_real_clock);
    tcase_add_test(tc, queue_priority_hands_out_higher_first_and_low_lane_last);
    tcase_add_test(tc, queue_readd_while_processing_keeps_its_highest_priority);
    tcase_add_test(tc, queue_follow_ups_keep_the_priority_the_key_was_handed_out_with);
    tcase_add_test(tc, queue_a_lower_readd_while_processing_does_not_lower_the_follow_up);
    tcase_add_test(tc, queue_raised_key_leaves_no_trace_in_its_old_lane);
    tcase_add_test(tc, queue_repeated_raises_with_a_tiny_idle_cache);
    tcase_add_test(tc, queue_relist_of_100k_keys_in_the_low_lane);
    tcase_add_test(tc, queue_delayed_add_keeps_its_priority);
    tcase_add_test(tc, queue_add_rate_limited_uses_the_limiter_and_forget_resets);
    tcase_add_test(tc, queue_failures_are_counted_apart_from_plain_requeues);
    tcase_add_test(tc, queue_max_retries_gives_up_and_calls_back);
    tcase_add_test(tc, queue_drain_waits_for_processing_keys);
    tcase_add_test(tc, queue_shutdown_ends_a_drain_under_way);
    tcase_add_test(tc, queue_drain_with_deadline_reports_unfinished_keys);
    tcase_add_test(tc, queue_drain_deadline_passes_on_the_real_clock);
    tcase_add_test(tc, queue_snapshot_shows_queued_processing_and_waiting);
    tcase_add_test(tc, queue_reports_client_go_workqueue_metrics);
    tcase_add_test(tc, queue_done_get_completes_the_previous_key_and_hands_out_the_next);
    tcase_add_test(tc, queue_done_get_reports_work_and_queue_durations);
    tcase_add_test(tc, queue_done_get_blocks_until_a_key_is_added_and_ends_at_shutdown);
    tcase_add_test(tc, queue_many_distinct_keys_with_a_small_idle_cache);
    tcase_add_test(tc, queue_allocation_failures_are_reported_without_leaks);
    tcase_add_test(tc, queue_many_producers_and_consumers_lose_no_readd);
    tcase_add_test(tc, queue_wake_hook_runs_after_the_lock_for_keys_and_due_times);
    tcase_add_test(tc, queue_random_concurrent_schedules_match_the_sequential_model);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
