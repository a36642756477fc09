/* Tests for the base layer (lib/util_*.c): the hash and the string-keyed
 * map against a plain reference, the clock and deadlines, the random
 * generator, base64 against known vectors and round trips, the token
 * bucket, the strict resourceVersion parser, whole-file reads and the
 * static token file. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_tmpdir.h"
#include "kreconcile/tokenfile.h"
#include "lock.h"
#include "util_internal.h"

#define MS (1000LL * 1000)
#define SEC (1000LL * MS)

/* ---- hash -------------------------------------------------------------------- */

START_TEST(hash_is_never_zero_and_reads_only_the_key)
{
    /* Each key sits at the end of an exact-size allocation, so that a read
     * past it shows under AddressSanitizer and valgrind. */
    for (size_t len = 0; len <= 80; len++) {
        char *k = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(k);
        memset(k, 'a' + (int)(len % 26), len);
        uint64_t h = kr_key_hash(k, len);
        ck_assert_uint_ne(h, 0);
        ck_assert_uint_eq(h, kr_key_hash(k, len));
        if (len) {
            k[len - 1] ^= 1; /* the last byte counts */
            ck_assert_uint_ne(kr_key_hash(k, len), h);
        }
        free(k);
    }
    ck_assert_uint_eq(kr_str_hash("default/web"), kr_key_hash("default/web", 11));
    ck_assert_uint_ne(kr_str_hash("default/web"), kr_str_hash("default/weB"));
}
END_TEST

/* ---- map ---------------------------------------------------------------------- */

#define NKEYS 2000

START_TEST(map_agrees_with_a_reference_under_random_operations)
{
    unsigned long seed = kr_test_seed("map_agrees_with_a_reference_under_random_operations");
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    static char keys[NKEYS][24];
    static bool present[NKEYS];
    memset(present, 0, sizeof(present));
    for (int i = 0; i < NKEYS; i++)
        snprintf(keys[i], sizeof(keys[i]), "ns-%d/obj-%d", i % 7, i);
    kr_keymap m;
    ck_assert_int_eq(kr_keymap_init(&m, 4), 0);
    size_t count = 0;
    for (int step = 0; step < 50000; step++) {
        int i = (int)(kr_test_rng_next(&rng) % NKEYS);
        const char *k = keys[i];
        size_t len = strlen(k);
        uint64_t h = kr_key_hash(k, len);
        switch (kr_test_rng_next(&rng) % 4) {
        case 0:
        case 1:
            if (!present[i]) {
                ck_assert_int_eq(kr_keymap_insert(&m, h, k, len, keys[i]), 0);
                present[i] = true;
                count++;
            }
            break;
        case 2:
            ck_assert_ptr_eq(kr_keymap_remove(&m, h, k, len), present[i] ? keys[i] : NULL);
            if (present[i])
                count--;
            present[i] = false;
            break;
        default:
            kr_keymap_shrink(&m);
            break;
        }
        ck_assert_ptr_eq(kr_keymap_get(&m, h, k, len), present[i] ? keys[i] : NULL);
        ck_assert_uint_eq(m.count, count);
    }
    for (int i = 0; i < NKEYS; i++)
        ck_assert_ptr_eq(kr_keymap_get(&m, kr_str_hash(keys[i]), keys[i], strlen(keys[i])),
                         present[i] ? keys[i] : NULL);
    /* remove_at while scanning: revisit the slot a later key moved into */
    for (size_t s = 0; s <= m.mask;) {
        if (m.slots[s].hash)
            kr_keymap_remove_at(&m, s);
        else
            s++;
    }
    ck_assert_uint_eq(m.count, 0);
    kr_keymap_shrink(&m);
    kr_keymap_free(&m);
}
END_TEST

/* The zero value is an empty map; put replaces; next visits every value
 * once; keys compare by content, including the empty key. */
START_TEST(map_zero_value_put_iterate_and_empty_key)
{
    kr_keymap m = {0};
    ck_assert_ptr_null(kr_keymap_get(&m, kr_str_hash("a"), "a", 1));
    ck_assert_ptr_null(kr_keymap_remove(&m, kr_str_hash("a"), "a", 1));
    size_t it = 0;
    ck_assert_ptr_null(kr_keymap_next(&m, &it));
    ck_assert_uint_eq(kr_keymap_bytes(&m), 0);
    kr_keymap_shrink(&m);
    ck_assert_int_eq(kr_keymap_reserve(&m, 0), 0);
    ck_assert_uint_eq(kr_keymap_bytes(&m), 0); /* nothing to make room for */

    static char keys[NKEYS][24], again[NKEYS][24];
    static bool seen[NKEYS];
    memset(seen, 0, sizeof(seen));
    ck_assert_int_eq(kr_keymap_reserve(&m, NKEYS), 0);
    size_t bytes = kr_keymap_bytes(&m);
    for (int i = 0; i < NKEYS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "ns/obj-%d", i);
        memcpy(again[i], keys[i], sizeof(keys[i]));
        size_t len = strlen(keys[i]);
        void *old = &m;
        ck_assert_int_eq(kr_keymap_put(&m, kr_key_hash(keys[i], len), keys[i], len, keys[i], &old),
                         0);
        ck_assert_ptr_null(old);
    }
    ck_assert_uint_eq(kr_keymap_bytes(&m), bytes); /* reserved: no growth */
    for (int i = 0; i < NKEYS; i += 2) {
        size_t len = strlen(again[i]);
        void *old = NULL;
        ck_assert_int_eq(
            kr_keymap_put(&m, kr_key_hash(again[i], len), again[i], len, again[i], &old), 0);
        ck_assert_ptr_eq(old, keys[i]);
    }
    ck_assert_uint_eq(m.count, NKEYS);
    char *v;
    for (it = 0; (v = kr_keymap_next(&m, &it));) {
        int i = -1;
        ck_assert_int_eq(sscanf(v, "ns/obj-%d", &i), 1);
        ck_assert(!seen[i]);
        seen[i] = true;
        ck_assert_ptr_eq(v, i % 2 ? keys[i] : again[i]);
    }
    for (int i = 0; i < NKEYS; i++)
        ck_assert(seen[i]);
    kr_keymap_free(&m);

    /* keys are compared by content: "" at two addresses is one key */
    char e1[1] = "", e2[1] = "";
    ck_assert_int_eq(kr_keymap_put(&m, kr_key_hash(e1, 0), e1, 0, e1, NULL), 0);
    void *old = NULL;
    ck_assert_int_eq(kr_keymap_put(&m, kr_key_hash(e2, 0), e2, 0, e2, &old), 0);
    ck_assert_ptr_eq(old, e1);
    ck_assert_uint_eq(m.count, 1);
    ck_assert_ptr_eq(kr_keymap_remove(&m, kr_key_hash("", 0), "", 0), e2);
    /* a key longer than KR_KEYMAP_KEY_MAX is refused, never found */
    ck_assert_int_eq(kr_keymap_insert(&m, 1, "x", KR_KEYMAP_KEY_MAX + 1, e1), KR_EINVAL);
    ck_assert_int_eq(kr_keymap_put(&m, 1, "x", KR_KEYMAP_KEY_MAX + 1, e1, NULL), KR_EINVAL);
    ck_assert_ptr_null(kr_keymap_get(&m, 1, "x", KR_KEYMAP_KEY_MAX + 1));
    ck_assert_uint_eq(m.count, 0);
    kr_keymap_free(&m);
}
END_TEST

/* The robin-hood invariant over the whole table: a key away from its home
 * follows an occupied slot and sits at most one slot farther from home
 * than the key before it (dist(i) <= dist(i-1) + 1); and the load. */
static void map_check_invariants(const kr_keymap *m)
{
    if (!m->slots)
        return;
    size_t cap = m->mask + 1, used = 0;
    ck_assert(m->count <= cap - cap / 8);
    for (size_t i = 0; i < cap; i++) {
        if (m->slots[i].hash == 0)
            continue;
        used++;
        size_t d = kr_keymap_dist(m, i), prev = (i + cap - 1) & m->mask;
        if (d > 0) {
            ck_assert_msg(m->slots[prev].hash != 0, "slot %zu: a gap before a displaced key", i);
            ck_assert_msg(d <= kr_keymap_dist(m, prev) + 1, "slot %zu: robin-hood order broken", i);
        }
    }
    ck_assert_uint_eq(used, m->count);
}

/* Hashes chosen by the test: a few home slots for many keys (long runs,
 * runs that wrap past the table's end, a hash whose 32 kept bits are 0),
 * so that displacement on insert and the backward shift on removal run
 * through every case; checked against a reference after every step. */
#define NFORCED 300

START_TEST(map_forced_collisions_keep_robin_hood_order)
{
    unsigned long seed = kr_test_seed("map_forced_collisions_keep_robin_hood_order");
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    static const uint64_t homes[] = {1, 2, 15, 31, 63, 0x100000001ULL, 0xffffffffULL, 127};
    static char keys[NFORCED][16];
    static uint64_t hashes[NFORCED];
    static bool present[NFORCED];
    memset(present, 0, sizeof(present));
    for (int i = 0; i < NFORCED; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        hashes[i] = homes[kr_test_rng_below(&rng, sizeof(homes) / sizeof(homes[0]))];
    }
    kr_keymap m = {0};
    for (int step = 0; step < 20000; step++) {
        int i = (int)kr_test_rng_below(&rng, NFORCED);
        size_t len = strlen(keys[i]);
        unsigned long op = kr_test_rng_below(&rng, 10);
        if (op < 5) {
            void *old = &m;
            ck_assert_int_eq(kr_keymap_put(&m, hashes[i], keys[i], len, keys[i], &old), 0);
            ck_assert_ptr_eq(old, present[i] ? keys[i] : NULL);
            present[i] = true;
        } else if (op < 9) {
            ck_assert_ptr_eq(kr_keymap_remove(&m, hashes[i], keys[i], len),
                             present[i] ? keys[i] : NULL);
            present[i] = false;
        } else {
            kr_keymap_shrink(&m);
        }
        if (step % 64 == 0 || op == 9) {
            map_check_invariants(&m);
            for (int k = 0; k < NFORCED; k++)
                ck_assert_ptr_eq(kr_keymap_get(&m, hashes[k], keys[k], strlen(keys[k])),
                                 present[k] ? keys[k] : NULL);
        }
    }
    /* the queue's sweep: remove some keys with remove_at while scanning
     * (revisiting a slot a later key moved into); the others all stay */
    for (size_t s = 0; s <= m.mask;) {
        const char *k = m.slots[s].hash ? m.slots[s].val : NULL;
        int i = -1;
        if (k && sscanf(k, "k%d", &i) == 1 && i % 3 == 0) {
            kr_keymap_remove_at(&m, s);
            present[i] = false;
        } else {
            s++;
        }
    }
    map_check_invariants(&m);
    for (int k = 0; k < NFORCED; k++)
        ck_assert_ptr_eq(kr_keymap_get(&m, hashes[k], keys[k], strlen(keys[k])),
                         present[k] ? keys[k] : NULL);
    kr_keymap_free(&m);
}
END_TEST

/* Growth keeps the table the smallest power of two within 7/8 load (24
 * bytes a slot); reserve makes the inserts after it allocation-free;
 * shrink gives memory back once at most an eighth is used. */
START_TEST(map_grows_to_seven_eighths_and_shrinks)
{
    enum { N = 100000 };
    static char keys[N][12];
    kr_keymap m = {0};
    ck_assert_uint_eq(sizeof(kr_keymap_slot), 24);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "g%d", i);
        size_t len = strlen(keys[i]);
        ck_assert_int_eq(kr_keymap_insert(&m, kr_key_hash(keys[i], len), keys[i], len, keys[i]), 0);
        size_t cap = m.mask + 1;
        ck_assert(m.count <= cap - cap / 8);
        ck_assert(cap == 16 || m.count > cap / 2 - cap / 16); /* not yet fit for half */
        ck_assert_uint_eq(kr_keymap_bytes(&m), cap * sizeof(kr_keymap_slot));
    }
    ck_assert_uint_eq(m.mask + 1, 131072); /* 100,000 keys: 0.76 full */
    map_check_invariants(&m);
    for (int i = 0; i < N - N / 10; i++)
        ck_assert_ptr_eq(kr_keymap_remove(&m, kr_str_hash(keys[i]), keys[i], strlen(keys[i])),
                         keys[i]);
    kr_keymap_shrink(&m);
    ck_assert_uint_eq(m.mask + 1, 65536); /* 10,000 keys: at most a quarter full */
    map_check_invariants(&m);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_eq(kr_keymap_get(&m, kr_str_hash(keys[i]), keys[i], strlen(keys[i])),
                         i >= N - N / 10 ? keys[i] : NULL);
    kr_keymap_free(&m);

    ck_assert_int_eq(kr_keymap_init(&m, 1000), 0);
    ck_assert_uint_eq(m.mask + 1, 2048); /* 1,000 > 7/8 of 1,024 */
    kr_keymap_free(&m);
    ck_assert_int_eq(kr_keymap_reserve(&m, 896), 0);
    ck_assert_uint_eq(m.mask + 1, 1024);
    for (int i = 0; i < 896; i++) {
        size_t len = strlen(keys[i]);
        ck_assert_int_eq(kr_keymap_insert(&m, kr_key_hash(keys[i], len), keys[i], len, keys[i]), 0);
    }
    ck_assert_uint_eq(m.mask + 1, 1024);
    kr_keymap_free(&m);
}
END_TEST

/* Every allocation the map makes may fail: the map is then unchanged
 * (every key still found, the count kept) and nothing leaks. */
static int map_session(void *arg)
{
    (void)arg;
    static char keys[200][12];
    int bad = 0;
    kr_keymap m = {0};
    if (kr_keymap_init(&m, 4) != 0)
        return 0;
    size_t n = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(keys[i], sizeof(keys[i]), "f%d", i);
        size_t len = strlen(keys[i]);
        uint64_t h = kr_key_hash(keys[i], len);
        int rc = i % 2 ? kr_keymap_insert(&m, h, keys[i], len, keys[i])
                       : kr_keymap_put(&m, h, keys[i], len, keys[i], NULL);
        if (rc == 0)
            n++;
        else
            bad |= rc != KR_ENOMEM || kr_keymap_get(&m, h, keys[i], len) != NULL;
        bad |= m.count != n;
    }
    bad |= kr_keymap_reserve(&m, 5000) != 0 && m.count != n;
    size_t found = 0;
    for (int i = 0; i < 200; i++)
        found += kr_keymap_get(&m, kr_str_hash(keys[i]), keys[i], strlen(keys[i])) != NULL;
    bad |= found != n;
    for (int i = 0; i < 200; i += 2)
        (void)kr_keymap_remove(&m, kr_str_hash(keys[i]), keys[i], strlen(keys[i]));
    kr_keymap_shrink(&m); /* may fail: the larger table stays */
    found = 0;
    for (int i = 0; i < 200; i++)
        found += kr_keymap_get(&m, kr_str_hash(keys[i]), keys[i], strlen(keys[i])) != NULL;
    bad |= found != m.count;
    kr_keymap_free(&m);
    return bad;
}

START_TEST(map_allocation_failures_leave_it_unchanged)
{
    long runs = kr_test_alloc_failure_sweep(map_session, NULL);
    ck_assert_msg(runs > 3, "sweep returned %ld", runs);
}
END_TEST

/* ---- clock and random numbers ------------------------------------------------------ */

static int64_t fake_now(void *user)
{
    return *(int64_t *)user;
}

START_TEST(clock_is_monotonic_and_injectable)
{
    int64_t a = kr_clock_monotonic_ns(), b = kr_clock_monotonic_ns();
    ck_assert_int_ge(b, a);
    ck_assert_int_ge(kr_clock_read(NULL), b);
    ck_assert_uint_ge(kr_clock_monotonic_ms(), (uint64_t)b / 1000000u);
    int64_t now = 42;
    kr_clock c = {fake_now, &now};
    ck_assert_int_eq(kr_clock_read(&c), 42);
    kr_clock zero = {0};
    ck_assert_int_ge(kr_clock_read(&zero), b);

    struct timespec before, d;
    clock_gettime(CLOCK_MONOTONIC, &before);
    kr_deadline_after_ms(&d, 1999);
    ck_assert_int_lt(d.tv_nsec, 1000000000L);
    int64_t gap = ((int64_t)d.tv_sec - before.tv_sec) * SEC + (d.tv_nsec - before.tv_nsec);
    ck_assert_int_ge(gap, 1999 * MS);

    kr_cond cv;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    ck_assert_int_eq(kr_cond_init(&cv), 0);
    kr_deadline_after_ms(&d, 0); /* already due: returns at once */
    pthread_mutex_lock(&mu);
    ck_assert_int_ne(pthread_cond_timedwait(&cv, &mu, &d), 0);
    pthread_mutex_unlock(&mu);
    pthread_cond_destroy(&cv);
}
END_TEST

START_TEST(rng_is_reproducible_from_its_seed)
{
    kr_rng a, b, z;
    kr_rng_seed(&a, 12345);
    kr_rng_seed(&b, 12345);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(kr_rng_next(&a), kr_rng_next(&b));
    /* xorshift64* of seed 1, first output (the published constant) */
    kr_rng_seed(&a, 1);
    ck_assert_uint_eq(kr_rng_next(&a), 0x47e4ce4b896cdd1dULL);
    kr_rng_seed(&z, 0); /* from the clock: never stuck at zero */
    ck_assert_uint_ne(z.state, 0);
    uint64_t x = kr_rng_next(&z), y = kr_rng_next(&z);
    ck_assert_uint_ne(x, y);
}
END_TEST

/* ---- base64 --------------------------------------------------------------------- */

START_TEST(base64_matches_rfc4648_vectors)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < KR_ARRAY_LEN(plain); i++) {
        char *e = kr_base64_encode(plain[i], strlen(plain[i]), false);
        ck_assert_str_eq(e, std[i]);
        kr_free(e);
        e = kr_base64_encode(plain[i], strlen(plain[i]), true);
        ck_assert_str_eq(e, url[i]);
        kr_free(e);
        char *d;
        size_t n;
        ck_assert_int_eq(kr_base64_decode(std[i], strlen(std[i]), false, &d, &n, NULL), 0);
        ck_assert_uint_eq(n, strlen(plain[i]));
        ck_assert_str_eq(d, plain[i]);
        kr_free(d);
        ck_assert_int_eq(kr_base64_decode(url[i], strlen(url[i]), true, &d, &n, NULL), 0);
        ck_assert_str_eq(d, plain[i]);
        kr_free(d);
    }
    /* the two alphabets differ in two characters */
    static const unsigned char hi[] = {0xfb, 0xff, 0xbf};
    char *e = kr_base64_encode(hi, 3, false);
    ck_assert_str_eq(e, "+/+/");
    kr_free(e);
    e = kr_base64_encode(hi, 3, true);
    ck_assert_str_eq(e, "-_-_");
    kr_free(e);
}
END_TEST

START_TEST(base64_round_trips_random_bytes)
{
    unsigned long seed = kr_test_seed("base64_round_trips_random_bytes");
    kr_test_rng rng;
    kr_test_rng_init(&rng, seed);
    unsigned char buf[300];
    for (int round = 0; round < 500; round++) {
        size_t len = kr_test_rng_next(&rng) % sizeof(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)kr_test_rng_next(&rng);
        for (int url = 0; url < 2; url++) {
            char *e = kr_base64_encode(buf, len, url);
            ck_assert_ptr_nonnull(e);
            char *d;
            size_t n;
            ck_assert_int_eq(kr_base64_decode(e, strlen(e), url, &d, &n, NULL), 0);
            ck_assert_uint_eq(n, len);
            ck_assert(memcmp(d, buf, len) == 0);
            kr_free(d);
            kr_free(e);
        }
    }
}
END_TEST

START_TEST(base64_errors_name_the_offending_byte)
{
    char *d;
    size_t n, bad;
    /* CR and LF are skipped, as Go's decoder does */
    ck_assert_int_eq(kr_base64_decode("Zm9v\r\nYmFy\n", 11, false, &d, &n, &bad), 0);
    ck_assert_str_eq(d, "foobar");
    kr_free(d);
    ck_assert_int_eq(kr_base64_decode("Zm9v*mFy", 8, false, &d, &n, &bad), KR_EPARSE);
    ck_assert_uint_eq(bad, 4);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(kr_base64_decode("Zm9vYm", 6, false, &d, &n, &bad), KR_EPARSE);
    ck_assert_uint_eq(bad, 4); /* ends early: where the short group began, as Go says */
    ck_assert_int_eq(kr_base64_decode("abc", 3, false, &d, &n, &bad), KR_EPARSE);
    ck_assert_uint_eq(bad, 0);
    ck_assert_int_eq(kr_base64_decode("Zg=", 3, false, &d, &n, &bad), KR_EPARSE);
    ck_assert_uint_eq(bad, 3); /* ends inside the padding */
    ck_assert_int_eq(kr_base64_decode("Zg=x", 4, false, &d, &n, &bad), KR_EPARSE);
    ck_assert_uint_eq(bad, 2); /* "==" was due */
    ck_assert_int_eq(kr_base64_decode("Zg==Zg==", 8, false, &d, &n, &bad), KR_EPARSE);
    ck_assert_uint_eq(bad, 4); /* nothing after the padding */
    ck_assert_int_eq(kr_base64_decode("Z===", 4, false, &d, &n, &bad), KR_EPARSE);
    ck_assert_uint_eq(bad, 1);
    ck_assert_int_eq(kr_base64_decode("Zm+v", 4, true, &d, &n, &bad), KR_EPARSE);
    ck_assert_uint_eq(bad, 2); /* '+' is not URL-safe */
    ck_assert_int_eq(kr_base64_decode("Zm9vY", 5, true, &d, &n, &bad), KR_EPARSE);
    ck_assert_uint_eq(bad, 4); /* the lone character */
}
END_TEST

/* ---- token bucket ------------------------------------------------------------------ */

START_TEST(bucket_gives_burst_then_paces_at_qps)
{
    kr_bucket b;
    kr_bucket_init(&b, 5.0, 10);
    int64_t now = 1000 * SEC;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 0);
    /* Eleventh at the same instant waits one token: 200 ms at 5 qps. */
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 200 * MS);
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 400 * MS);
    /* A second later five tokens came back, but two were owed. */
    now += SEC;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 0);
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 200 * MS);
    /* Idle for long: the bucket refills to burst, not beyond. */
    now += 60 * SEC;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 0);
    ck_assert_int_gt(kr_bucket_reserve(&b, now, 0), 0);
    /* A maximum delay caps the wait and takes no token. */
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 100 * MS), 100 * MS);
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 400 * MS);
    /* qps <= 0: unlimited; burst < 1 taken as 1. */
    kr_bucket_init(&b, -1, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 0);
    kr_bucket_init(&b, 1, 0);
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 0);
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), SEC);
    /* A rate so small its wait has no int64_t: the longest there is. */
    kr_bucket_init(&b, 1e-300, 1);
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), 0);
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 0), INT64_MAX);
    ck_assert_int_eq(kr_bucket_reserve(&b, now, 100 * MS), 100 * MS);
}
END_TEST

START_TEST(bucket_try_takes_a_token_only_when_one_is_there)
{
    kr_bucket b;
    kr_bucket_init(&b, 2.0, 3);
    int64_t now = 1000 * SEC;
    for (int i = 0; i < 3; i++)
        ck_assert(kr_bucket_try(&b, now));
    ck_assert(!kr_bucket_try(&b, now));
    ck_assert(!kr_bucket_try(&b, now + 499 * MS)); /* no debt was taken: 0.998 tokens */
    ck_assert(kr_bucket_try(&b, now + 500 * MS));
    ck_assert(!kr_bucket_try(&b, now + 500 * MS));
    kr_bucket_init(&b, 0, 1); /* unlimited */
    for (int i = 0; i < 100; i++)
        ck_assert(kr_bucket_try(&b, now));
}
END_TEST

/* ---- the use order of a cache --------------------------------------------------------- */

typedef struct lru_item {
    int id;
    kr_lru_node use;
} lru_item;

static void lru_expect(const kr_lru *l, const char *want)
{
    char got[64] = "";
    for (const kr_lru_node *n = l->oldest; n; n = n->newer) {
        size_t at = strlen(got);
        snprintf(got + at, sizeof(got) - at, "%d", KR_CONTAINER_OF(n, lru_item, use)->id);
    }
    ck_assert_str_eq(got, want);
    /* and backwards */
    char back[64] = "";
    for (const kr_lru_node *n = l->newest; n; n = n->older) {
        size_t at = strlen(back);
        snprintf(back + at, sizeof(back) - at, "%d", KR_CONTAINER_OF(n, lru_item, use)->id);
    }
    size_t len = strlen(want);
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(back[i], want[len - 1 - i]);
}

START_TEST(lru_keeps_the_use_order)
{
    kr_lru l = {0};
    lru_item it[4] = {{1, {0}}, {2, {0}}, {3, {0}}, {4, {0}}};
    for (int i = 0; i < 4; i++)
        kr_lru_push_newest(&l, &it[i].use);
    lru_expect(&l, "1234");
    kr_lru_touch(&l, &it[0].use); /* the oldest used */
    lru_expect(&l, "2341");
    kr_lru_touch(&l, &it[0].use); /* already the newest */
    lru_expect(&l, "2341");
    kr_lru_touch(&l, &it[2].use); /* one in the middle */
    lru_expect(&l, "2413");
    kr_lru_unlink(&l, &it[1].use); /* the oldest leaves */
    lru_expect(&l, "413");
    kr_lru_unlink(&l, &it[2].use); /* the newest leaves */
    lru_expect(&l, "41");
    kr_lru_unlink(&l, &it[3].use);
    kr_lru_unlink(&l, &it[0].use);
    lru_expect(&l, "");
    ck_assert_ptr_null(l.oldest);
    ck_assert_ptr_null(l.newest);
}
END_TEST

/* ---- resourceVersion ---------------------------------------------------------------- */

START_TEST(rv_parse_is_kube_apiservers)
{
    uint64_t v = 7;
    ck_assert_int_eq(kr_rv_parse("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(kr_rv_parse("123456", &v), 0);
    ck_assert_uint_eq(v, 123456);
    ck_assert_int_eq(kr_rv_parse("18446744073709551615", &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(kr_rv_parse("007", &v), 0); /* as strconv.ParseUint */
    ck_assert_uint_eq(v, 7);
    static const char *const bad[] = {"",   "18446744073709551616", "-1", "+1", " 1", "1 ", "1a",
                                      "0x1"};
    for (size_t i = 0; i < KR_ARRAY_LEN(bad); i++) {
        v = 7;
        ck_assert_msg(kr_rv_parse(bad[i], &v) == KR_EINVAL, "accepted \"%s\"", bad[i]);
        ck_assert_uint_eq(v, 7);
    }
    ck_assert_int_eq(kr_rv_parse(NULL, &v), KR_EINVAL);
}
END_TEST

/* ---- files -------------------------------------------------------------------------- */

/* A token file holding `text` in a fresh directory (`dir`): its path. */
static void token_file_of(const char *text, char dir[static 256], char path[static 320])
{
    ck_assert(kr_test_tmpdir_make(dir, 256, "tokens"));
    kr_test_write_file(dir, "tokens.csv", text);
    snprintf(path, 320, "%s/tokens.csv", dir);
}

/* ---- static token file ---------------------------------------------------------- */

static const char TOKENS[] = "tok-alice,alice,1,\"dev\"\n"
                             "tok-bob,bob,2,\"dev,approvers\"\n"
                             "tok-carol,carol,3,approvers\n"
                             "\"tok-dave\",dave,4,\"approvers\"\n"
                             "tok-erin,erin,5\n";

START_TEST(token_file_parses_quotes_and_groups)
{
    kr_token_file_t *t = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_token_file_parse(TOKENS, strlen(TOKENS), &t, &err) == 0, "%s", err.message);
    const kr_token_user *u = kr_token_file_authenticate(t, "Bearer tok-bob");
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(u->user, "bob");
    ck_assert_str_eq(u->uid, "2");
    ck_assert_uint_eq(u->n_groups, 2);
    ck_assert(kr_token_user_in_group(u, "approvers"));
    ck_assert(!kr_token_user_in_group(u, "admins"));
    ck_assert_str_eq(kr_token_file_authenticate(t, "Bearer tok-dave")->user, "dave");
    ck_assert_uint_eq(kr_token_file_authenticate(t, "bearer tok-erin")->n_groups, 0);
    ck_assert_ptr_null(kr_token_file_authenticate(t, NULL));
    ck_assert_ptr_null(kr_token_file_authenticate(t, "Bearer "));
    ck_assert_ptr_null(kr_token_file_authenticate(t, "Bearer tok-bo"));
    ck_assert_ptr_null(kr_token_file_authenticate(t, "Bearer tok-bobb"));
    ck_assert_ptr_null(kr_token_file_authenticate(t, "Basic dG9rLWJvYg=="));
    /* the header read as kube-apiserver reads it: trimmed, the token up to
     * the next blank */
    ck_assert_str_eq(kr_token_file_authenticate(t, " Bearer tok-bob \t")->user, "bob");
    ck_assert_str_eq(kr_token_file_authenticate(t, "BEARER\ttok-bob extra")->user, "bob");
    ck_assert_ptr_null(kr_token_file_authenticate(t, "Bearertok-bob"));
    ck_assert_ptr_null(kr_token_file_authenticate(t, "Bearer \t "));
    const char *tok = NULL;
    size_t len = 9;
    ck_assert(kr_bearer_token("Bearer  abc  ", &tok, &len));
    ck_assert_uint_eq(len, 3);
    ck_assert(strncmp(tok, "abc", 3) == 0);
    ck_assert(!kr_bearer_token("Token abc", &tok, &len));
    ck_assert_ptr_null(tok);
    ck_assert_uint_eq(len, 0);
    ck_assert(!kr_bearer_token(NULL, &tok, &len));
    ck_assert_uint_eq(kr_token_file_count(t), 5);
    ck_assert_str_eq(kr_token_file_user(t, 4)->user, "erin");
    ck_assert_ptr_null(kr_token_file_user(t, 5));
    ck_assert_str_eq(kr_token_file_find(t, "tok-carol")->groups[0], "approvers");
    ck_assert_ptr_null(kr_token_file_find(t, ""));
    kr_token_file_free(t);
    char dir[256], path[320];
    token_file_of(TOKENS, dir, path);
    ck_assert_int_eq(kr_token_file_load(path, &t, &err), 0);
    ck_assert_str_eq(kr_token_file_authenticate(t, "Bearer tok-alice")->user, "alice");
    kr_token_file_free(t);
    snprintf(path, sizeof(path), "%s/absent.csv", dir);
    ck_assert_int_eq(kr_token_file_load(path, &t, &err), KR_ENOTFOUND);
    ck_assert_ptr_null(t);
    kr_test_tmpdir_remove(dir);
    ck_assert_int_eq(kr_token_file_parse("", 0, &t, &err), 0);
    ck_assert_uint_eq(kr_token_file_count(t), 0);
    ck_assert_ptr_null(kr_token_file_authenticate(t, "Bearer x"));
    kr_token_file_free(t);
    ck_assert_int_eq(kr_token_file_parse("tok,user\n", 10, &t, &err), KR_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "line 1"));
    ck_assert_int_eq(kr_token_file_parse("a,b,c\n\"x,y,z\n", 13, &t, &err), KR_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "line 2"));
    /* as kube-apiserver reads it: spaces kept, an empty token's record
     * skipped (twice too), an empty user name taken */
    static const char go[] = "tok-a, alice ,1\r\n"
                             ",nobody,2\n"
                             "tok-b,,3\n"
                             ",nobody,4\n"
                             "tok-c,carol,5\n";
    ck_assert_msg(kr_token_file_parse(go, strlen(go), &t, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(kr_token_file_count(t), 3);
    ck_assert_str_eq(kr_token_file_find(t, "tok-a")->user, " alice ");
    ck_assert_str_eq(kr_token_file_find(t, "tok-a")->uid, "1");
    ck_assert_str_eq(kr_token_file_find(t, "tok-b")->user, "");
    ck_assert_str_eq(kr_token_file_find(t, "tok-c")->user, "carol");
    kr_token_file_free(t);
    ck_assert_int_eq(kr_token_file_parse("tok, \"alice\",1\n", 16, &t, &err), KR_EPARSE);
}
END_TEST

/* A token given twice would name two users (kube-apiserver warns and keeps
 * the last record: whoever holds it acts as the last user named, alice as
 * bob): refused, naming both lines and never the token. */
START_TEST(token_file_refuses_a_token_given_twice)
{
    kr_token_file_t *t = (kr_token_file_t *)1;
    kr_error_t err = {0};
    static const char twice[] = "s3cr3t,alice,1\n"
                                "s3cr3t,bob,2,\"approvers\"\n";
    ck_assert_int_eq(kr_token_file_parse(twice, strlen(twice), &t, &err), KR_EPARSE);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(err.message,
                     "token file lines 1 and 2: the same token twice (each token must name one "
                     "user)");
    ck_assert_ptr_null(strstr(err.message, "s3cr3t"));
    /* quoted or not, CRLF or not, blank lines counted; the first repeat
     * in the file is named, with the line it repeats */
    static const char spread[] = "tok-a,alice,1\r\n"
                                 "\n"
                                 "tok-b,bob,2\r\n"
                                 "tok-c,carol,3\n"
                                 "tok-c,carol,3\n"
                                 "\"tok-b\",mallory,4\n";
    ck_assert_int_eq(kr_token_file_parse(spread, strlen(spread), &t, &err), KR_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "lines 4 and 5:"));
    static const char thrice[] = "x,u1,1\ny,u2,2\nz,u3,3\ny,u4,4\ny,u5,5\n";
    ck_assert_int_eq(kr_token_file_parse(thrice, strlen(thrice), &t, &err), KR_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "lines 2 and 4:"));
    /* tokens that differ only in case or spaces are different tokens */
    static const char distinct[] = "tok,a,1\nTOK,b,2\ntok ,c,3\n tok,d,4\n";
    ck_assert_msg(kr_token_file_parse(distinct, strlen(distinct), &t, &err) == 0, "%s",
                  err.message);
    ck_assert_uint_eq(kr_token_file_count(t), 4);
    kr_token_file_free(t);
    /* the same from a file */
    char dir[256], path[320];
    token_file_of(thrice, dir, path);
    ck_assert_int_eq(kr_token_file_load(path, &t, &err), KR_EPARSE);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(err.message, "lines 2 and 4:"));
    kr_test_tmpdir_remove(dir);
}
END_TEST

START_TEST(read_file_reads_whole_files_within_a_limit)
{
    char dir[256], path[320];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "util"));
    snprintf(path, sizeof(path), "%s/f", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("  token-text \n", f);
    fclose(f);
    char *text;
    size_t len;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_read_file(path, 100, "reading", &text, &len, &err), 0);
    ck_assert_uint_eq(len, 14);
    ck_assert_uint_eq(kr_trim(text), 10);
    ck_assert_str_eq(text, "token-text");
    kr_free(text);
    ck_assert_int_eq(kr_read_file(path, 4, "reading", &text, NULL, &err), KR_ETOOLARGE);
    ck_assert_ptr_null(text);
    snprintf(path, sizeof(path), "%s/absent", dir);
    ck_assert_int_eq(kr_read_file(path, 100, "reading", &text, NULL, &err), KR_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "reading"));
    kr_test_tmpdir_remove(dir);
}
END_TEST

START_TEST(array_grow_doubles_only_when_full_and_keeps_elements)
{
    int *items = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 100; n++) {
        ck_assert_int_eq(kr_array_grow(&items, &cap, n, sizeof(*items), 4), 0);
        ck_assert_uint_gt(cap, n);
        items[n] = (int)n;
    }
    ck_assert_uint_eq(cap, 128);
    for (size_t n = 0; n < 100; n++)
        ck_assert_int_eq(items[n], (int)n);
    ck_assert_int_eq(kr_array_grow(&items, &cap, 100, sizeof(*items), 4), 0);
    ck_assert_uint_eq(cap, 128);
    size_t huge = SIZE_MAX / 2 + 1;
    ck_assert_int_eq(kr_array_grow(&items, &huge, huge, sizeof(*items), 4), KR_ENOMEM);
    ck_assert_uint_eq(huge, SIZE_MAX / 2 + 1);
    kr_free(items);
}
END_TEST

START_TEST(array_push_appends_one_zeroed_element)
{
    struct pair {
        int a, b;
    } *items = NULL;
    size_t n = 0;
    for (int i = 0; i < 5; i++) {
        struct pair *p = kr_array_push(&items, &n, sizeof(*p));
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(p->a + p->b, 0);
        p->a = i;
    }
    ck_assert_uint_eq(n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(items[i].a, i);
    size_t huge = SIZE_MAX / sizeof(*items);
    ck_assert_ptr_null(kr_array_push(&items, &huge, sizeof(*items)));
    ck_assert_uint_eq(huge, SIZE_MAX / sizeof(*items));
    kr_free(items);
}
END_TEST

START_TEST(buf_truncate_cuts_back_to_a_mark_only)
{
    kr_buf b = {0};
    kr_buf_truncate(&b, 0); /* nothing yet */
    ck_assert_int_eq(kr_buf_append_str(&b, "spec"), 0);
    size_t mark = b.len;
    ck_assert_int_eq(kr_buf_append_str(&b, ".containers"), 0);
    kr_buf_truncate(&b, mark);
    ck_assert_str_eq(b.data, "spec");
    ck_assert_uint_eq(b.len, 4);
    kr_buf_truncate(&b, 10); /* past the end: unchanged */
    ck_assert_str_eq(b.data, "spec");
    kr_buf_reset(&b);
    ck_assert_str_eq(b.data, "");
    kr_buf_free(&b);
}
END_TEST

START_TEST(buf_append_capped_keeps_a_body_up_to_the_limit_only)
{
    kr_buf b = {0};
    bool over = false;
    ck_assert_int_eq(kr_buf_append_capped(&b, "abc", 3, 5, &over), 0);
    ck_assert_int_eq(kr_buf_append_capped(&b, "de", 2, 5, &over), 0);
    ck_assert(!over);
    ck_assert_str_eq(b.data, "abcde");
    ck_assert_int_eq(kr_buf_append_capped(&b, "f", 1, 5, &over), 0);
    ck_assert(over);
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(kr_buf_append_capped(&b, "", 0, 5, &over), 0);
    ck_assert(over);
    ck_assert_ptr_null(b.data);
}
END_TEST

/* kr_json_cut_member against jansson: where it cuts, the text left parses
 * to the tree the whole text parses to less the member; where jansson
 * refuses the text, the cut text is refused too. */
static void assert_cut_agrees(const char *text, bool want_cut)
{
    static const char *const path[] = {"object", "metadata", "managedFields"};
    size_t len = strlen(text), from = 0, to = 0;
    bool cut = kr_json_cut_member(text, len, path, 3, &from, &to);
    ck_assert_msg(cut == want_cut, "%s: cut %d", text, cut);
    json_t *whole = json_loadb(text, len, 0, NULL);
    if (!cut) {
        json_decref(whole);
        return;
    }
    ck_assert(from <= to && to <= len);
    char *left = malloc(len);
    memcpy(left, text, from);
    memcpy(left + from, text + to, len - to);
    json_t *parsed = json_loadb(left, len - (to - from), 0, NULL);
    ck_assert_msg((whole != NULL) == (parsed != NULL), "%s: parsed %d, cut %.*s", text,
                  parsed != NULL, (int)(len - (to - from)), left);
    json_t *meta = json_object_get(json_object_get(whole, "object"), "metadata");
    json_object_del(meta, "managedFields");
    ck_assert_msg(!whole || json_equal(whole, parsed), "%s: became %.*s", text,
                  (int)(len - (to - from)), left);
    json_decref(whole);
    json_decref(parsed);
    free(left);
}

START_TEST(json_cut_member_leaves_what_jansson_would_parse_less_the_member)
{
#define MF "\"managedFields\":[{\"manager\":\"m\",\"fieldsV1\":{\"f:data\":{\".\":{}}}}]"
    /* first, middle, last, only; blanks around every token */
    assert_cut_agrees("{\"type\":\"ADDED\",\"object\":{\"metadata\":{" MF ",\"name\":\"a\"}}}",
                      true);
    assert_cut_agrees("{\"object\":{\"kind\":\"X\",\"metadata\":{\"name\":\"a\"," MF
                      ",\"resourceVersion\":\"1\"},\"data\":{}},\"type\":\"ADDED\"}",
                      true);
    assert_cut_agrees("{\"object\":{\"metadata\":{\"name\":\"a\"," MF "}}}", true);
    assert_cut_agrees("{\"object\":{\"metadata\":{" MF "}}}", true);
    assert_cut_agrees(" { \"object\" : { \"metadata\" : { \"a\" : 1 ,\n \"managedFields\" :\t[ "
                      "{ \"t\" : true , \"f\" : false , \"n\" : null , \"x\" : -0.5 } ] , \"b\" "
                      ": [ ] } } } ",
                      true);
    assert_cut_agrees("{\"object\":{\"metadata\":{\"managedFields\":[],\"a\":1}}}", true);
    /* strings that look like structure, escapes, UTF-8 */
    assert_cut_agrees("{\"object\":{\"data\":{\"k\":\"}]\\\"managedFields\\\":\"},\"metadata\":{"
                      "\"managedFields\":[{\"s\":\"\\\"}\\\\\\u00e9\\ud83d\\ude00\\n/\"}],"
                      "\"u\":\"\xc3\xa9\xf0\x9f\x98\x80\"}}}",
                      true);
    /* not there, or not where the path says */
    assert_cut_agrees("{\"object\":{\"metadata\":{\"name\":\"a\"}}}", false);
    assert_cut_agrees("{\"object\":{\"spec\":{" MF "},\"metadata\":{}}}", false);
    assert_cut_agrees("{\"metadata\":{" MF "}}", false);
    assert_cut_agrees("{\"object\":{\"metadata\":[" MF "]}}", false);
    assert_cut_agrees("{\"object\":{\"metadata\":{\"managed\\u0046ields\":[]}}}", false);
    assert_cut_agrees("[{\"object\":{\"metadata\":{" MF "}}}]", false);
    assert_cut_agrees("", false);
    /* what jansson refuses inside the member is never cut away */
    static const char *const refused[] = {"[1,]",
                                          "[1 2]",
                                          "{\"a\":}",
                                          "{\"a\" 1}",
                                          "{a:1}",
                                          "[tru]",
                                          "[truex]",
                                          "[01]",
                                          "[1.]",
                                          "[-]",
                                          "[\"\\x\"]",
                                          "[\"\\u00g0\"]",
                                          "[\"\\u0000\"]",
                                          "[\"\\ud800\"]",
                                          "[\"\\udc00\"]",
                                          "[\"\\ud800\\u0041\"]",
                                          "[\"\t\"]",
                                          "[\"\xc3\"]",
                                          "[\"\xed\xa0\x80\"]",
                                          "[\"\xc0\xaf\"]",
                                          "[1e999]",
                                          "[123456789012345678901234567890]",
                                          "[",
                                          "[\"abc",
                                          "[{\"a\":1}",
                                          "]"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "{\"object\":{\"metadata\":{\"managedFields\":%s,\"a\":1}}}",
                 refused[i]);
        assert_cut_agrees(text, false);
    }
    /* deeper than the scanner goes: left to jansson */
    char deep[2100];
    size_t n =
        (size_t)snprintf(deep, sizeof(deep), "{\"object\":{\"metadata\":{\"managedFields\":");
    for (int i = 0; i < 600; i++)
        deep[n++] = '[';
    for (int i = 0; i < 600; i++)
        deep[n++] = ']';
    snprintf(deep + n, sizeof(deep) - n, "}}}");
    assert_cut_agrees(deep, false);
    assert_cut_agrees("{\"object\":{\"metadata\":{\"managedFields\":[],}}}", false);
    assert_cut_agrees("{\"object\":{\"metadata\":{\"managedFields\":[], }}}", false);
    assert_cut_agrees("{\"object\":{\"metadata\":{\"a\":1,\"managedFields\":[],}}}", true);
    /* an error elsewhere is jansson's to find, in the cut text too */
    assert_cut_agrees("{\"object\":{\"metadata\":{" MF "},\"x\":[1,]}}", true);
#undef MF
}
END_TEST

/* kr_json_cut_members over a list's items against jansson: the text left
 * parses to the list jansson parses less the items' managedFields it cut
 * (want_cut_bytes of text). */
static void assert_items_cut(const char *text, size_t want_cut_bytes)
{
    static const char *const path[] = {"items", "[]", "metadata", "managedFields"};
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    memcpy(copy, text, len + 1);
    size_t left = kr_json_cut_members(copy, len, path, 4);
    ck_assert_msg(len - left == want_cut_bytes, "%s: cut %zu bytes", text, len - left);
    json_t *whole = json_loadb(text, len, 0, NULL);
    json_t *parsed = json_loadb(copy, left, 0, NULL);
    ck_assert_msg((whole != NULL) == (parsed != NULL), "%s: became %.*s", text, (int)left, copy);
    /* those left (where the scanner stopped) go as the store drops them */
    json_t *trees[] = {whole, parsed};
    for (int t = 0; t < 2; t++) {
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(trees[t], "items"), i, item)
            json_object_del(json_object_get(item, "metadata"), "managedFields");
    }
    ck_assert_msg(!whole || json_equal(whole, parsed), "%s: became %.*s", text, (int)left, copy);
    json_decref(whole);
    json_decref(parsed);
    free(copy);
}

START_TEST(json_cut_members_cuts_every_items_managed_fields)
{
#define MF "\"managedFields\":[{\"m\":\"x\"}]"
    size_t mf = strlen(MF);
    assert_items_cut("{\"kind\":\"List\",\"items\":[{\"metadata\":{\"name\":\"a\"," MF
                     "}},{\"metadata\":{" MF ",\"name\":\"b\"}},{\"metadata\":{" MF
                     "}},{\"metadata\":{\"name\":\"c\"}},{\"data\":{" MF "}},[],1,\"s\"],"
                     "\"metadata\":{" MF "}}",
                     3 * (mf + 1) - 1);
    assert_items_cut("{\"items\":[]}", 0);
    assert_items_cut("{\"items\":{}}", 0);
    assert_items_cut("{ \"items\" : [ { \"metadata\" : { \"a\" : 1 , " MF " , \"b\" : 2 } } , "
                     "{ \"metadata\" : { " MF " } } ] , \"x\" : 1 }",
                     (mf + 3) + (mf + 1));
    /* an item the scanner stops at: those before it are cut, the rest parsed as they are */
    assert_items_cut("{\"items\":[{\"metadata\":{" MF "}},{\"metadata\":{\"n\":1e5," MF
                     "}},{\"metadata\":{" MF "}}]}",
                     mf);
    assert_items_cut(
        "{\"items\":[{\"metadata\":{" MF "}},{\"metadata\":{\"managedFields\":[1,]}}]}", mf);
#undef MF
}
END_TEST

/* ---- server bodies: integers beyond int64 --------------------------------- */

/* A member's value of a parsed body, by key. */
static json_t *member(json_t *doc, const char *key)
{
    json_t *v = json_object_get(doc, key);
    ck_assert_msg(v != NULL, "no %s", key);
    return v;
}

/* An integer beyond int64 is a real (as Go's unstructured decoding reads
 * it), anywhere in the tree; every other number is what jansson makes of
 * it, the int64 limits included; digits in strings and keys stay text. */
START_TEST(json_loadb_server_reads_integers_beyond_int64_as_reals)
{
    static const char text[] =
        "{\"big\":100000000000000000000,\"neg\":-100000000000000000000,"
        "\"max\":9223372036854775807,\"min\":-9223372036854775808,"
        "\"over\":9223372036854775808,\"under\":-9223372036854775809,"
        "\"replicas\":3,\"zero\":0,\"f\":1.5,\"e\":1e3,\"fe\":-2.5E+2,"
        "\"s\":\"99999999999999999999 \\\" 99999999999999999999\","
        "\"99999999999999999999\":[99999999999999999999,{\"n\":12345678901234567890}],"
        "\"esc\":\"\\\\\",\"after\":7}";
    json_error_t jerr;
    json_t *plain = json_loadb(text, strlen(text), 0, &jerr);
    ck_assert_ptr_null(plain); /* what the helper is for */
    json_t *doc = kr_json_loadb_server(text, strlen(text), 0, &jerr);
    ck_assert_msg(doc != NULL, "%s", jerr.text);
    ck_assert(json_is_real(member(doc, "big")));
    ck_assert(json_real_value(member(doc, "big")) == 1e20);
    ck_assert(json_real_value(member(doc, "neg")) == -1e20);
    ck_assert(json_is_integer(member(doc, "max")));
    ck_assert(json_integer_value(member(doc, "max")) == INT64_MAX);
    ck_assert(json_is_integer(member(doc, "min")));
    ck_assert(json_integer_value(member(doc, "min")) == INT64_MIN);
    ck_assert(json_is_real(member(doc, "over")));
    ck_assert(json_real_value(member(doc, "over")) == 9223372036854775808.0);
    ck_assert(json_is_real(member(doc, "under")));
    ck_assert(json_is_integer(member(doc, "replicas")));
    ck_assert(json_integer_value(member(doc, "replicas")) == 3);
    ck_assert(json_is_integer(member(doc, "zero")));
    ck_assert(json_real_value(member(doc, "f")) == 1.5);
    ck_assert(json_real_value(member(doc, "e")) == 1e3);
    ck_assert(json_real_value(member(doc, "fe")) == -250.0);
    ck_assert_str_eq(json_string_value(member(doc, "s")),
                     "99999999999999999999 \" 99999999999999999999");
    json_t *arr = member(doc, "99999999999999999999");
    ck_assert(json_real_value(json_array_get(arr, 0)) == 1e20);
    ck_assert(json_is_real(json_object_get(json_array_get(arr, 1), "n")));
    ck_assert_str_eq(json_string_value(member(doc, "esc")), "\\");
    ck_assert(json_integer_value(member(doc, "after")) == 7);
    json_decref(doc);

    /* a bare literal (JSON_DECODE_ANY), at the end of an unterminated buffer */
    char bare[19];
    memcpy(bare, "9223372036854775808", 19);
    doc = kr_json_loadb_server(bare, sizeof(bare), JSON_DECODE_ANY, &jerr);
    ck_assert_msg(json_is_real(doc), "%s", jerr.text);
    json_decref(doc);

    /* a text refused for something else is refused still, as jansson says */
    static const char bad[] = "{\"n\":100000000000000000000,\"x\":tru}";
    ck_assert_ptr_null(kr_json_loadb_server(bad, strlen(bad), 0, &jerr));
    ck_assert_msg(strstr(jerr.text, "too big") == NULL, "%s", jerr.text);
    ck_assert_ptr_null(kr_json_loadb_server("{\"n\":1e999}", 11, 0, &jerr));
    ck_assert_ptr_null(kr_json_loadb_server("{\"n\":3", 6, 0, NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    tcase_add_test(tc, hash_is_never_zero_and_reads_only_the_key);
    tcase_add_test(tc, map_agrees_with_a_reference_under_random_operations);
    tcase_add_test(tc, map_zero_value_put_iterate_and_empty_key);
    tcase_add_test(tc, map_forced_collisions_keep_robin_hood_order);
    tcase_add_test(tc, map_grows_to_seven_eighths_and_shrinks);
    tcase_add_test(tc, map_allocation_failures_leave_it_unchanged);
    tcase_add_test(tc, clock_is_monotonic_and_injectable);
    tcase_add_test(tc, rng_is_reproducible_from_its_seed);
    tcase_add_test(tc, base64_matches_rfc4648_vectors);
    tcase_add_test(tc, base64_round_trips_random_bytes);
    tcase_add_test(tc, base64_errors_name_the_offending_byte);
    tcase_add_test(tc, bucket_gives_burst_then_paces_at_qps);
    tcase_add_test(tc, bucket_try_takes_a_token_only_when_one_is_there);
    tcase_add_test(tc, lru_keeps_the_use_order);
    tcase_add_test(tc, rv_parse_is_kube_apiservers);
    tcase_add_test(tc, read_file_reads_whole_files_within_a_limit);
    tcase_add_test(tc, token_file_parses_quotes_and_groups);
    tcase_add_test(tc, token_file_refuses_a_token_given_twice);
    tcase_add_test(tc, array_grow_doubles_only_when_full_and_keeps_elements);
    tcase_add_test(tc, buf_append_capped_keeps_a_body_up_to_the_limit_only);
    tcase_add_test(tc, buf_truncate_cuts_back_to_a_mark_only);
    tcase_add_test(tc, array_push_appends_one_zeroed_element);
    tcase_add_test(tc, json_cut_member_leaves_what_jansson_would_parse_less_the_member);
    tcase_add_test(tc, json_cut_members_cuts_every_items_managed_fields);
    tcase_add_test(tc, json_loadb_server_reads_integers_beyond_int64_as_reals);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
