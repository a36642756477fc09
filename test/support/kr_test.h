/* libkreconcile tests — shared helpers: allocation-failure injection through
 * the library's and jansson's allocator hooks, seeds for randomised tests,
 * and paths into the source tree. Test-only; never part of the library. */
#ifndef KR_TEST_SUPPORT_H
#define KR_TEST_SUPPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Route kr_ and jansson allocations through a counting allocator. */
void kr_test_failalloc_install(void);
/* Restore the default allocators. */
void kr_test_failalloc_uninstall(void);
/* Fail the n-th allocation from now (1-based) and every later one until
 * the next call; 0 disables failures. Resets the counters. */
void kr_test_failalloc_fail_at(long n);
/* Allocations made since the last fail_at() and whether one was failed. */
long kr_test_failalloc_count(void);
bool kr_test_failalloc_triggered(void);
/* Live allocations (made minus freed) through the hooks since install. */
long kr_test_failalloc_outstanding(void);

/* Runs fn(arg) with the n-th allocation failing, for n = 1, 2, ... until a
 * run makes no failing allocation. After each run, every allocation must
 * have been freed, and fn must have returned its own verdict (0 = behaved:
 * reported the failure or succeeded). Returns the number of runs, or -n
 * for the first n that leaked or misbehaved. Not thread-safe. */
long kr_test_alloc_failure_sweep(int (*fn)(void *arg), void *arg);

/* The seed for a randomised test: $KR_TEST_SEED when set, else derived
 * from the clock. Prints "name: seed N (replay with KR_TEST_SEED=N)". */
unsigned long kr_test_seed(const char *name);

/* How much slower than plain this run may be: CK_TIMEOUT_MULTIPLIER (the
 * sanitizer runs set it, as Check stretches a test's timeout by it), at
 * least 1. A test's own bounded waits on wall time take it too, so that
 * a wait is not cut shorter than the test around it. */
double kr_test_time_scale(void);
/* Small deterministic PRNG (xorshift64*) for reproducible schedules. */
typedef struct kr_test_rng {
    unsigned long long state;
} kr_test_rng;
void kr_test_rng_init(kr_test_rng *rng, unsigned long long seed);
unsigned long long kr_test_rng_next(kr_test_rng *rng);
/* Uniform in [0, bound). bound > 0. */
unsigned long kr_test_rng_below(kr_test_rng *rng, unsigned long bound);

/* Absolute path of `rel` inside the source tree (static buffer per call
 * site is not used: the result is written into `buf`). */
const char *kr_test_src_path(char *buf, size_t size, const char *rel);
/* Absolute path of the program `name` in the build's bin directory. */
const char *kr_test_bin_path(char *buf, size_t size, const char *name);
/* Parse a JSON file of the source tree; aborts the test on failure. New ref. */
json_t *kr_test_load_json(const char *rel);
/* The whole file dir/name, NUL-terminated; new (free()), NULL if unreadable. */
char *kr_test_read_file(const char *dir, const char *name);
/* The same for binary files: *len is the size (the buffer is NUL-terminated too). */
char *kr_test_read_bytes(const char *dir, const char *name, size_t *len);
/* Write `text` to the file dir/name (created or truncated); aborts the
 * test when it cannot. */
void kr_test_write_file(const char *dir, const char *name, const char *text);
/* Make a fresh directory /tmp/<prefix>-XXXXXX (written into `dir`) holding a
 * self-signed EC server certificate srv.crt + srv.key for 127.0.0.1, made
 * with the openssl command. False, after printing why the caller's TLS tests
 * are skipped, when openssl is missing or fails; `dir` is then still set if
 * the directory was made. */
bool kr_test_make_server_cert(char *dir, size_t size, const char *prefix);
/* Say that a check did not run and why: one line "KR-SKIP: what: reason"
 * on stdout, which the test runner counts as a skip, not a pass. Call it
 * once per check that returns early. */
void kr_test_skip(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when `program` is found on PATH. */
bool kr_test_have_program(const char *program);

#endif /* KR_TEST_SUPPORT_H */
