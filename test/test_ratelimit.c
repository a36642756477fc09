/* Tests for the rate limiters, on explicit times (the `now_ns` a queue
 * passes from its clock): no test sleeps. Exact delays for client-go's
 * limiters and the token bucket's maximum delay (kubernetes/kubernetes#104554). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

#define MS (1000LL * 1000)
#define SEC (1000LL * MS)

START_TEST(exponential_gives_exact_delays_for_the_first_20_failures)
{
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_exponential(KR_RATELIMIT_DEFAULT_BASE_NS,
                                                    KR_RATELIMIT_DEFAULT_MAX_NS, &rl, NULL),
                     0);
    /* 5 ms * 2^n: 5, 10, 20 ... 655.36 s, then capped at 1000 s */
    static const long long want_ms[20] = {5,     10,     20,     40,     80,      160,    320,
                                          640,   1280,   2560,   5120,   10240,   20480,  40960,
                                          81920, 163840, 327680, 655360, 1000000, 1000000};
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(kr_ratelimiter_when(rl, "ns/a", 0), want_ms[i] * MS);
        ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/a"), (unsigned)i + 1);
    }
    for (int i = 0; i < 100; i++) /* far past 2^63: still the cap */
        ck_assert_int_eq(kr_ratelimiter_when(rl, "ns/a", 0), 1000 * SEC);
    ck_assert_int_eq(kr_ratelimiter_when(rl, "ns/b", 0), 5 * MS); /* per key */
    kr_ratelimiter_forget(rl, "ns/a");
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/a"), 0);
    ck_assert_int_eq(kr_ratelimiter_when(rl, "ns/a", 0), 5 * MS);
    kr_ratelimiter_forget(rl, "never/seen");
    kr_ratelimiter_free(rl);
}
END_TEST

START_TEST(bucket_allows_the_burst_then_paces_at_qps)
{
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_bucket(10, 100, 0, &rl, NULL), 0);
    int64_t t = 50 * SEC;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(kr_ratelimiter_when(rl, "k", t), 0);
    for (int i = 1; i <= 50; i++)
        ck_assert_int_eq(kr_ratelimiter_when(rl, "k", t), i * 100 * MS);
    /* one second later 10 tokens came back: the debt of 50 is now 40 */
    t += SEC;
    ck_assert_int_eq(kr_ratelimiter_when(rl, "k", t), 41 * 100 * MS);
    /* after a long pause the bucket is full again, never fuller */
    t += 3600 * SEC;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(kr_ratelimiter_when(rl, "k", t), 0);
    ck_assert_int_eq(kr_ratelimiter_when(rl, "k", t), 100 * MS);
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
    int64_t worst_capped = 0, worst_plain = 0;
    for (int i = 0; i < 10000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "ns/obj-%d", i);
        int64_t c = kr_ratelimiter_when(capped, key, 0);
        int64_t p = kr_ratelimiter_when(plain, key, 0);
        if (i < 150)
            ck_assert_int_eq(c, p); /* identical below the cap */
        worst_capped = c > worst_capped ? c : worst_capped;
        worst_plain = p > worst_plain ? p : worst_plain;
    }
    ck_assert_int_eq(worst_capped, 5 * SEC);
    ck_assert_int_eq(worst_plain, 9900 * 100 * MS);
    /* capped calls took no token: 100 ms later exactly one more fits under the cap */
    ck_assert_int_eq(kr_ratelimiter_when(capped, "x", 100 * MS), 5 * SEC);
    ck_assert_int_eq(kr_ratelimiter_when(capped, "x", 100 * MS), 5 * SEC);
    kr_ratelimiter_free(capped);
    kr_ratelimiter_free(plain);

    ck_assert_int_eq(kr_ratelimiter_new_bucket(10, 100, 2 * SEC, &capped, NULL), 0);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(kr_ratelimiter_when(capped, "k", 0), 0);
    for (int i = 1; i <= 20; i++)
        ck_assert_int_eq(kr_ratelimiter_when(capped, "k", 0), i * 100 * MS);
    ck_assert_int_eq(kr_ratelimiter_when(capped, "k", 0), 2 * SEC);
    ck_assert_int_eq(kr_ratelimiter_when(capped, "k", 100 * MS), 2 * SEC);
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
        ck_assert_int_eq(kr_ratelimiter_when(rl, key, 0), 5 * MS);
    }
    /* then the bucket's 100 ms is worse than a first failure */
    ck_assert_int_eq(kr_ratelimiter_when(rl, "ns/new", 0), 100 * MS);
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/new"), 1);
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/obj-1"), 1);
    /* much later, a key that failed 10 times: the exponential's 2.56 s wins */
    int64_t t = 3600 * SEC;
    for (int i = 0; i < 9; i++)
        kr_ratelimiter_when(rl, "ns/bad", t);
    ck_assert_int_eq(kr_ratelimiter_when(rl, "ns/bad", t + 3600 * SEC), 2560 * MS);
    kr_ratelimiter_forget(rl, "ns/bad");
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "ns/bad"), 0);
    kr_ratelimiter_free(rl);
}
END_TEST

START_TEST(fast_slow_switches_after_the_fast_attempts)
{
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_fast_slow(5 * MS, 10 * SEC, 3, &rl, NULL), 0);
    static const long long want[] = {5 * MS, 5 * MS, 5 * MS, 10 * SEC, 10 * SEC};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(kr_ratelimiter_when(rl, "k", 0), want[i]);
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "k"), 5);
    kr_ratelimiter_forget(rl, "k");
    ck_assert_int_eq(kr_ratelimiter_when(rl, "k", 0), 5 * MS);
    kr_ratelimiter_free(rl);
}
END_TEST

struct custom {
    int when_calls, forget_calls, freed;
};

static int64_t custom_when(void *self, const char *key, int64_t now)
{
    struct custom *c = self;
    c->when_calls++;
    return key[0] == 'n' ? -5 : now / 2;
}

static void custom_forget(void *self, const char *key)
{
    (void)key;
    ((struct custom *)self)->forget_calls++;
}

static void custom_free(void *self)
{
    ((struct custom *)self)->freed++;
}

START_TEST(custom_limiter_goes_through_the_vtable)
{
    struct custom c = {0};
    kr_ratelimiter_ops ops = {.when = custom_when, .forget = custom_forget, .free = custom_free};
    kr_ratelimiter_t *rl;
    ck_assert_int_eq(kr_ratelimiter_new_custom(&ops, &c, &rl, NULL), 0);
    ck_assert_int_eq(kr_ratelimiter_when(rl, "k", 8 * SEC), 4 * SEC);
    ck_assert_int_eq(kr_ratelimiter_when(rl, "neg", 8 * SEC), 0); /* negative: clamped */
    kr_ratelimiter_forget(rl, "k");
    ck_assert_uint_eq(kr_ratelimiter_num_requeues(rl, "k"), 0); /* optional op */
    ck_assert_int_eq(c.when_calls, 2);
    ck_assert_int_eq(c.forget_calls, 1);
    kr_ratelimiter_free(rl);
    ck_assert_int_eq(c.freed, 1);

    /* the queue uses it with its own clock */
    kr_ratelimiter_t *rl2;
    ck_assert_int_eq(kr_ratelimiter_new_custom(&ops, &c, &rl2, NULL), 0);
    kr_queue_opts o = {.ratelimiter = rl2};
    kr_queue_t *q;
    ck_assert_int_eq(kr_queue_new(&o, &q, NULL), 0);
    ck_assert_int_eq(kr_queue_add_rate_limited(q, "k"), 0);
    ck_assert_int_eq(c.when_calls, 3);
    kr_queue_free(q);
    ck_assert_int_eq(c.freed, 2);
}
END_TEST

START_TEST(invalid_limiter_arguments_are_einval)
{
    kr_ratelimiter_t *rl = (kr_ratelimiter_t *)1;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_ratelimiter_new_exponential(0, SEC, &rl, &err), KR_EINVAL);
    ck_assert_ptr_null(rl);
    ck_assert_int_eq(kr_ratelimiter_new_exponential(SEC, MS, &rl, &err), KR_EINVAL);
    ck_assert_int_eq(kr_ratelimiter_new_bucket(0, 10, 0, &rl, &err), KR_EINVAL);
    ck_assert_int_eq(kr_ratelimiter_new_bucket(10, 0, 0, &rl, &err), KR_EINVAL);
    ck_assert_int_eq(kr_ratelimiter_new_fast_slow(-1, 0, 1, &rl, &err), KR_EINVAL);
    ck_assert_int_eq(kr_ratelimiter_new_max_of(NULL, 0, &rl, &err), KR_EINVAL);
    kr_ratelimiter_ops none = {0};
    ck_assert_int_eq(kr_ratelimiter_new_custom(&none, NULL, &rl, &err), KR_EINVAL);
    ck_assert_int_eq(err.code, KR_EINVAL);
    /* max-of steals its limiters even when it fails */
    kr_ratelimiter_t *parts[2];
    ck_assert_int_eq(kr_ratelimiter_new_exponential(MS, SEC, &parts[0], NULL), 0);
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
    rc = kr_ratelimiter_new_fast_slow(MS, SEC, 2, &fs, NULL);
    if (rc != 0) {
        kr_ratelimiter_free(rl);
        return rc == KR_ENOMEM ? 0 : 1;
    }
    char key[16];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        /* out of memory: the key is not tracked and gets the longest delay */
        int64_t d = kr_ratelimiter_when(rl, key, 0);
        if (d != 5 * MS && d != 1000 * SEC)
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
    tcase_add_test(tc, invalid_limiter_arguments_are_einval);
    tcase_add_test(tc, limiter_allocation_failures_are_handled_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
