/* Tests for the rate limiters, on explicit times (the `now_ns` a queue
 * passes from its clock): no test sleeps. Exact delays for client-go's
 * limiters and the token bucket's maximum delay (kubernetes/kubernetes#104554). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

/* Delays are ms; the `now_ns` passed in is a time point in ns. */
#define SEC 1000ULL /* a delay of one second, in ms */
#define MS_NS (1000LL * 1000) /* one millisecond on the clock, in ns */
#define SEC_NS (1000LL * MS_NS)

START_TEST(exponential_gives_exact_delays_for_the_first_20_failures)
{
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_exponential(KR_RATELIMIT_DEFAULT_BASE_MS,
                                                    KR_RATELIMIT_DEFAULT_MAX_MS, &rl, NULL),
                     0);
    /* 5 ms * 2^n: 5, 10, 20 ... 655.36 s, then capped at 1000 s */
    static const unsigned long long want_ms[20] = {
        5,    10,    20,    40,    80,    160,    320,    640,    1280,    2560,
        5120, 10240, 20480, 40960, 81920, 163840, 327680, 655360, 1000000, 1000000};
    for (int i = 0; i < 20; i++) {
        ck_assert_uint_eq(kr_ratelimiter_when(rl, "ns/a", 0), want_ms[i]);
        ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/a"), (unsigned)i + 1);
    }
    for (int i = 0; i < 100; i++) /* far past 2^63: still the cap */
        ck_assert_uint_eq(kr_ratelimiter_when(rl, "ns/a", 0), 1000 * SEC);
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "ns/b", 0), 5); /* per key */
    kr_ratelimiter_forget(rl, "ns/a");
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/a"), 0);
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "ns/a", 0), 5);
    kr_ratelimiter_forget(rl, "never/seen");
    kr_ratelimiter_free(rl);
}
END_TEST

START_TEST(bucket_allows_the_burst_then_paces_at_qps)
{
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_bucket(10, 100, 0, &rl, NULL), 0);
    int64_t t = 50 * SEC_NS;
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", t), 0);
    for (int i = 1; i <= 50; i++)
        ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", t), (uint64_t)i * 100);
    /* one second later 10 tokens came back: the debt of 50 is now 40 */
    t += SEC_NS;
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", t), 41 * 100);
    /* after a long pause the bucket is full again, never fuller */
    t += 3600 * SEC_NS;
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", t), 0);
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", t), 100);
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "k"), 0);
    kr_ratelimiter_free(rl);
}
END_TEST

START_TEST(bucket_max_delay_caps_the_wait_of_10000_keys)
{
    /* kubernetes/kubernetes#104554: 10,000 keys at 10 qps would wait up to
     * 990 s; with a 5 s cap nobody waits longer than 5 s */
    kr_ratelimiter_t *capped, *plain;
    ck_assert_int_eq(kr_ratelimiter_new_bucket(10, 100, 5 * SEC, &capped, NULL), 0);
    ck_assert_int_eq(kr_ratelimiter_new_bucket(10, 100, 0, &plain, NULL), 0);
    uint64_t worst_capped = 0, worst_plain = 0;
    for (int i = 0; i < 10000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        uint64_t c = kr_ratelimiter_when(capped, key, 0);
        uint64_t p = kr_ratelimiter_when(plain, key, 0);
        if (i < 150)
            ck_assert_uint_eq(c, p); /* identical below the cap */
        worst_capped = c > worst_capped ? c : worst_capped;
        worst_plain = p > worst_plain ? p : worst_plain;
    }
    ck_assert_uint_eq(worst_capped, 5 * SEC);
    ck_assert_uint_eq(worst_plain, 9900 * 100);
    /* capped calls took no token: 100 ms later exactly one more fits under the cap */
    ck_assert_uint_eq(kr_ratelimiter_when(capped, "x", 100 * MS_NS), 5 * SEC);
    ck_assert_uint_eq(kr_ratelimiter_when(capped, "x", 100 * MS_NS), 5 * SEC);
    kr_ratelimiter_free(capped);
    kr_ratelimiter_free(plain);

    ck_assert_int_eq(kr_ratelimiter_new_bucket(10, 100, 2 * SEC, &capped, NULL), 0);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(kr_ratelimiter_when(capped, "k", 0), 0);
    for (int i = 1; i <= 20; i++)
        ck_assert_uint_eq(kr_ratelimiter_when(capped, "k", 0), (uint64_t)i * 100);
    ck_assert_uint_eq(kr_ratelimiter_when(capped, "k", 0), 2 * SEC);
    ck_assert_uint_eq(kr_ratelimiter_when(capped, "k", 100 * MS_NS), 2 * SEC);
    kr_ratelimiter_free(capped);
}
END_TEST

START_TEST(max_of_returns_the_worst_delay_like_client_go_default)
{
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_default(&rl, NULL), 0);
    /* the bucket allows 100 at once: the exponential's 5 ms wins */
    for (int i = 0; i < 100; i++) {
        char key[32];
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        ck_assert_uint_eq(kr_ratelimiter_when(rl, key, 0), 5);
    }
    /* then the bucket's 100 ms is worse than a first failure */
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "ns/new", 0), 100);
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/new"), 1);
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/obj-1"), 1);
    /* much later, a key that failed 10 times: the exponential's 2.56 s wins */
    int64_t t = 3600 * SEC_NS;
    for (int i = 0; i < 9; i++)
        kr_ratelimiter_when(rl, "ns/bad", t);
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "ns/bad", t + 3600 * SEC_NS), 2560);
    kr_ratelimiter_forget(rl, "ns/bad");
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/bad"), 0);
    kr_ratelimiter_free(rl);
}
END_TEST

START_TEST(fast_slow_switches_after_the_fast_attempts)
{
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_fast_slow(5, 10 * SEC, 3, &rl, NULL), 0);
    static const unsigned long long want[] = {5, 5, 5, 10 * SEC, 10 * SEC};
    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", 0), want[i]);
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "k"), 5);
    kr_ratelimiter_forget(rl, "k");
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", 0), 5);
    kr_ratelimiter_free(rl);
}
END_TEST

struct custom {
    int when_calls, forget_calls, freed;
};

/* Half the clock's reading, in ms; "huge" asks for the longest delay. */
static uint64_t custom_when(void *impl, const char *key, int64_t now_ns)
{
    struct custom *c = impl;
    c->when_calls++;
    return key[0] == 'h' ? UINT64_MAX : (uint64_t)(now_ns / MS_NS / 2);
}

static void custom_forget(void *impl, const char *key)
{
    (void)key;
    ((struct custom *)impl)->forget_calls++;
}

static void custom_free(void *impl)
{
    ((struct custom *)impl)->freed++;
}

static const kr_ratelimiter_vtable custom_vt = {
    .when = custom_when, .forget = custom_forget, .free = custom_free};

static int64_t fake_now;
static int64_t fake_clock(void *user)
{
    (void)user;
    return fake_now;
}

START_TEST(custom_limiter_goes_through_the_vtable)
{
    struct custom c = {0};
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_custom((kr_ratelimiter_custom){&custom_vt, &c}, &rl, NULL),
                     0);
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", 8 * SEC_NS), 4 * SEC);
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "huge", 8 * SEC_NS),
                      (uint64_t)INT64_MAX / 1000000 + 1);
    kr_ratelimiter_forget(rl, "k");
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "k"), 0); /* optional op */
    ck_assert_int_eq(c.when_calls, 2);
    ck_assert_int_eq(c.forget_calls, 1);
    kr_ratelimiter_free(rl);
    ck_assert_int_eq(c.freed, 1);

    /* the queue uses it with its own clock: the key is due `when` ms later */
    kr_ratelimiter_t *rl2;
    ck_assert_int_eq(kr_ratelimiter_new_custom((kr_ratelimiter_custom){&custom_vt, &c}, &rl2, NULL),
                     0);
    fake_now = 10 * SEC_NS;
    kr_queue_opts o = {.ratelimiter = rl2, .clock = {.now_ns = fake_clock}};
    kr_queue_t *q;
    ck_assert_int_eq(kr_queue_new(&o, &q, NULL), 0);
    ck_assert_int_eq(kr_queue_add_rate_limited(q, "k"), 0);
    ck_assert_int_eq(c.when_calls, 3);
    kr_queue_snapshot *snap;
    ck_assert_int_eq(kr_queue_snapshot_take(q, &snap, NULL), 0);
    ck_assert_uint_eq(snap->n_waiting, 1);
    ck_assert_int_eq(snap->waiting[0].due_ns, 15 * SEC_NS); /* 10 s + 5000 ms */
    kr_free(snap);
    fake_now = 15 * SEC_NS - 1;
    ck_assert_uint_eq(kr_queue_len(q), 0);
    fake_now = 15 * SEC_NS;
    ck_assert_uint_eq(kr_queue_len(q), 1);
    /* the longest delay saturates: the key never comes due */
    ck_assert_int_eq(kr_queue_add_rate_limited(q, "huge"), 0);
    ck_assert_int_eq(kr_queue_snapshot_take(q, &snap, NULL), 0);
    ck_assert_uint_eq(snap->n_waiting, 1);
    ck_assert_int_eq(snap->waiting[0].due_ns, INT64_MAX);
    kr_free(snap);
    kr_queue_free(q);
    ck_assert_int_eq(c.freed, 2);
}
END_TEST

/* The pair is passed by value; the vtable is shared by every instance. */
START_TEST(custom_limiters_share_one_vtable)
{
    struct custom a = {0}, b = {0};
    kr_ratelimiter_t *ra, *rb;
    ck_assert_int_eq(kr_ratelimiter_new_custom((kr_ratelimiter_custom){&custom_vt, &a}, &ra, NULL),
                     0);
    ck_assert_int_eq(kr_ratelimiter_new_custom((kr_ratelimiter_custom){&custom_vt, &b}, &rb, NULL),
                     0);
    ck_assert_uint_eq(kr_ratelimiter_when(ra, "k", 2 * SEC_NS), SEC);
    ck_assert_uint_eq(kr_ratelimiter_when(rb, "k", 6 * SEC_NS), 3 * SEC);
    ck_assert_int_eq(a.when_calls, 1);
    ck_assert_int_eq(b.when_calls, 1);
    kr_ratelimiter_free(ra);
    ck_assert_int_eq(a.freed, 1);
    ck_assert_int_eq(b.freed, 0);
    kr_ratelimiter_free(rb);
    ck_assert_int_eq(b.freed, 1);
}
END_TEST

/* Sub-millisecond delays are rounded up: never shorter than the limiter's. */
START_TEST(bucket_delays_round_up_to_whole_milliseconds)
{
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_bucket(3, 1, 0, &rl, NULL), 0);
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", 0), 0);
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", 0), 334); /* 333.33 ms */
    ck_assert_uint_eq(kr_ratelimiter_when(rl, "k", 0), 667); /* 666.67 ms */
    kr_ratelimiter_free(rl);
}
END_TEST

START_TEST(invalid_limiter_arguments_are_einval)
{
    kr_ratelimiter_t *rl = (kr_ratelimiter_t *)1;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_ratelimiter_new_exponential(0, SEC, &rl, &err), KR_EINVAL);
    ck_assert_ptr_null(rl);
    ck_assert_int_eq(kr_ratelimiter_new_exponential(SEC, 1, &rl, &err), KR_EINVAL);
    ck_assert_int_eq(kr_ratelimiter_new_bucket(0, 10, 0, &rl, &err), KR_EINVAL);
    ck_assert_int_eq(kr_ratelimiter_new_bucket(10, 0, 0, &rl, &err), KR_EINVAL);
    ck_assert_int_eq(kr_ratelimiter_new_max_of(NULL, 0, &rl, &err), KR_EINVAL);
    ck_assert_int_eq(kr_ratelimiter_new_custom((kr_ratelimiter_custom){NULL, NULL}, &rl, &err),
                     KR_EINVAL);
    static const kr_ratelimiter_vtable none = {0};
    ck_assert_int_eq(kr_ratelimiter_new_custom((kr_ratelimiter_custom){&none, NULL}, &rl, &err),
                     KR_EINVAL);
    /* a custom limiter that cannot be made frees its impl */
    struct custom c = {0};
    static const kr_ratelimiter_vtable no_when = {.free = custom_free};
    ck_assert_int_eq(kr_ratelimiter_new_custom((kr_ratelimiter_custom){&no_when, &c}, &rl, &err),
                     KR_EINVAL);
    ck_assert_int_eq(c.freed, 1);
    ck_assert_int_eq(err.code, KR_EINVAL);
    /* max-of steals its limiters even when it fails */
    kr_ratelimiter_t *parts[2];
    ck_assert_int_eq(kr_ratelimiter_new_exponential(1, SEC, &parts[0], NULL), 0);
    parts[1] = NULL;
    ck_assert_int_eq(kr_ratelimiter_new_max_of(parts, 2, &rl, &err), KR_EINVAL);
    kr_ratelimiter_free(NULL);
}
END_TEST

static int limiter_lifecycle(void *arg)
{
    (void)arg;
    kr_ratelimiter_t *rl = NULL;
    int rc = kr_ratelimiter_new_default(&rl, NULL);
    if (rc != 0)
        return rc == KR_ENOMEM ? 0 : 1;
    kr_ratelimiter_t *fs = NULL;
    rc = kr_ratelimiter_new_fast_slow(1, SEC, 2, &fs, NULL);
    if (rc != 0) {
        kr_ratelimiter_free(rl);
        return rc == KR_ENOMEM ? 0 : 1;
    }
    char key[16];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        /* out of memory: the key is not tracked and gets the longest delay */
        uint64_t d = kr_ratelimiter_when(rl, key, 0);
        if (d != 5 && d != 1000 * SEC)
            return 1;
        kr_ratelimiter_when(fs, key, 0);
    }
    kr_ratelimiter_free(rl);
    kr_ratelimiter_free(fs);
    return 0;
}

START_TEST(limiter_allocation_failures_are_handled_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(limiter_lifecycle, NULL);
    ck_assert_msg(runs > 0, "failed at allocation %ld", -runs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("ratelimit");
    tcase_add_test(tc, exponential_gives_exact_delays_for_the_first_20_failures);
    tcase_add_test(tc, bucket_allows_the_burst_then_paces_at_qps);
    tcase_add_test(tc, bucket_max_delay_caps_the_wait_of_10000_keys);
    tcase_add_test(tc, max_of_returns_the_worst_delay_like_client_go_default);
    tcase_add_test(tc, fast_slow_switches_after_the_fast_attempts);
    tcase_add_test(tc, custom_limiter_goes_through_the_vtable);
    tcase_add_test(tc, custom_limiters_share_one_vtable);
    tcase_add_test(tc, bucket_delays_round_up_to_whole_milliseconds);
    tcase_add_test(tc, invalid_limiter_arguments_are_einval);
    tcase_add_test(tc, limiter_allocation_failures_are_handled_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
