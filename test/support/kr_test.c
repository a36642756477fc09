/* libkreconcile tests — implementation of the shared helpers. */
#include "kr_test.h"
#include "kr_test_tmpdir.h"

#include <check.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kreconcile/common.h"

/* Each block carries a header so that frees can be counted. */
#define HDR 16

static atomic_long fail_at;
static atomic_long alloc_count;
static atomic_long outstanding;
static atomic_bool triggered;

static void *count_malloc(size_t size)
{
    long n = atomic_fetch_add(&alloc_count, 1) + 1;
    long at = atomic_load(&fail_at);
    if (at > 0 && n >= at) {
        atomic_store(&triggered, true);
        return NULL;
    }
    unsigned char *p = malloc(size + HDR);
    if (!p)
        return NULL;
    atomic_fetch_add(&outstanding, 1);
    return p + HDR;
}

static void count_free(void *ptr)
{
    if (!ptr)
        return;
    atomic_fetch_sub(&outstanding, 1);
    free((unsigned char *)ptr - HDR);
}

static void *count_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return count_malloc(size);
    long n = atomic_fetch_add(&alloc_count, 1) + 1;
    long at = atomic_load(&fail_at);
    if (at > 0 && n >= at) {
        atomic_store(&triggered, true);
        return NULL;
    }
    unsigned char *p = realloc((unsigned char *)ptr - HDR, size + HDR);
    return p ? p + HDR : NULL;
}

void kr_test_failalloc_install(void)
{
    atomic_store(&fail_at, 0);
    atomic_store(&alloc_count, 0);
    atomic_store(&outstanding, 0);
    atomic_store(&triggered, false);
    kr_set_allocator(count_malloc, count_realloc, count_free);
    json_set_alloc_funcs(count_malloc, count_free);
}

void kr_test_failalloc_uninstall(void)
{
    kr_set_allocator(NULL, NULL, NULL);
    json_set_alloc_funcs(malloc, free);
}

void kr_test_failalloc_fail_at(long n)
{
    atomic_store(&alloc_count, 0);
    atomic_store(&triggered, false);
    atomic_store(&fail_at, n);
}

long kr_test_failalloc_count(void)
{
    return atomic_load(&alloc_count);
}

bool kr_test_failalloc_triggered(void)
{
    return atomic_load(&triggered);
}

long kr_test_failalloc_outstanding(void)
{
    return atomic_load(&outstanding);
}

long kr_test_alloc_failure_sweep(int (*fn)(void *arg), void *arg)
{
    kr_test_failalloc_install();
    long n;
    for (n = 1;; n++) {
        long before = kr_test_failalloc_outstanding();
        kr_test_failalloc_fail_at(n);
        int verdict = fn(arg);
        bool hit = kr_test_failalloc_triggered();
        kr_test_failalloc_fail_at(0);
        long leaked = kr_test_failalloc_outstanding() - before;
        if (verdict != 0 || leaked != 0) {
            fprintf(stderr, "alloc failure sweep: allocation %ld: verdict %d, %ld blocks leaked\n",
                    n, verdict, leaked);
            kr_test_failalloc_uninstall();
            return -n;
        }
        if (!hit)
            break;
    }
    kr_test_failalloc_uninstall();
    return n;
}

double kr_test_time_scale(void)
{
    const char *env = getenv("CK_TIMEOUT_MULTIPLIER");
    double scale = env && *env ? strtod(env, NULL) : 1.0;
    return scale >= 1.0 ? scale : 1.0;
}

unsigned long kr_test_seed(const char *name)
{
    const char *env = getenv("KR_TEST_SEED");
    unsigned long seed;
    if (env && *env) {
        seed = strtoul(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (unsigned long)ts.tv_sec * 1000003UL ^ (unsigned long)ts.tv_nsec ^
               ((unsigned long)getpid() << 16);
    }
    fprintf(stderr, "%s: seed %lu (replay with KR_TEST_SEED=%lu)\n", name, seed, seed);
    return seed;
}

void kr_test_rng_init(kr_test_rng *rng, unsigned long long seed)
{
    rng->state = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

unsigned long long kr_test_rng_next(kr_test_rng *rng)
{
    unsigned long long x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

unsigned long kr_test_rng_below(kr_test_rng *rng, unsigned long bound)
{
    return (unsigned long)(kr_test_rng_next(rng) % bound);
}

const char *kr_test_src_path(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", KR_SOURCE_DIR, rel);
    return buf;
}

const char *kr_test_bin_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", KR_TEST_BIN_DIR, name);
    return buf;
}

json_t *kr_test_load_json(const char *rel)
{
    char path[4096];
    json_error_t jerr;
    json_t *doc = json_load_file(kr_test_src_path(path, sizeof(path), rel), 0, &jerr);
    ck_assert_msg(doc != NULL, "%s:%d: %s", path, jerr.line, jerr.text);
    return doc;
}

char *kr_test_read_file(const char *dir, const char *name)
{
    size_t len;
    return kr_test_read_bytes(dir, name, &len);
}

char *kr_test_read_bytes(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = calloc(1, (size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

void kr_test_write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    ck_assert_msg(fclose(f) == 0, "cannot write %s", path);
}

bool kr_test_make_server_cert(char *dir, size_t size, const char *prefix)
{
    if (!kr_test_tmpdir_make(dir, size, prefix)) {
        kr_test_skip(prefix, "TLS: cannot make a temporary directory");
        return false;
    }
    if (!kr_test_have_program("openssl")) {
        kr_test_skip(prefix, "TLS: openssl not found");
        return false;
    }
    char cmd[4096 + 256];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout srv.key -out srv.crt -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             dir);
    if (system(cmd) != 0) {
        kr_test_skip(prefix, "TLS: certificate generation failed");
        return false;
    }
    return true;
}

bool kr_test_have_program(const char *program)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path);
    if (!copy)
        return false;
    bool found = false;
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", dir, program);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

void kr_test_skip(const char *what, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    printf("KR-SKIP: %s: %s\n", what, why);
    fflush(stdout);
}
