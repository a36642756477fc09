/* libkreconcile — rate limiters: per-item exponential and fast-slow backoff,
 * the overall token bucket (with the optional maximum delay of
 * kubernetes/kubernetes#104554), max-of and user-defined limiters, all
 * behind one small internal vtable (ns; the public one, for user-defined
 * limiters, speaks ms). Each limiter is thread-safe on its own. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/ratelimit.h"
#include "ratelimit_internal.h"
#include "util_internal.h"

/* The built-in limiters' vtable, in ns (the public one is in ms). */
typedef struct rl_vtable {
    int64_t (*when_ns)(void *impl, const char *key, int64_t now_ns);
    void (*forget)(void *impl, const char *key);
    unsigned (*num_requeues)(void *impl, const char *key);
    void (*free)(void *impl);
} rl_vtable;

struct kr_ratelimiter {
    const rl_vtable *vt;
    void *impl;
    kr_ratelimiter_custom custom; /* custom limiters: impl points here */
};

static int make_limiter(const rl_vtable *vt, void *impl, kr_ratelimiter_t **out, kr_error_t *err)
{
    kr_ratelimiter_t *rl = kr_calloc(1, sizeof(*rl));
    if (!rl) {
        if (vt->free)
            vt->free(impl);
        return kr_error_set(err, KR_ENOMEM, "ratelimiter: out of memory");
    }
    rl->vt = vt;
    rl->impl = impl;
    *out = rl;
    return 0;
}

int64_t kr_ratelimiter_when_ns(kr_ratelimiter_t *rl, const char *key, int64_t now_ns)
{
    int64_t d = rl->vt->when_ns(rl->impl, key, now_ns);
    return d < 0 ? 0 : d;
}

uint64_t kr_ratelimiter_when(kr_ratelimiter_t *rl, const char *key, int64_t now_ns)
{
    return kr_ns_to_ms_ceil(kr_ratelimiter_when_ns(rl, key, now_ns));
}

void kr_ratelimiter_forget(kr_ratelimiter_t *rl, const char *key)
{
    if (rl->vt->forget)
        rl->vt->forget(rl->impl, key);
}

unsigned kr_ratelimiter_num_requeues(kr_ratelimiter_t *rl, const char *key)
{
    return rl->vt->num_requeues ? rl->vt->num_requeues(rl->impl, key) : 0;
}

void kr_ratelimiter_free(kr_ratelimiter_t *rl)
{
    if (!rl)
        return;
    if (rl->vt->free)
        rl->vt->free(rl->impl);
    kr_free(rl);
}

/* ---- user-defined limiters: the public vtable (ms) behind the internal one --- */

static int64_t custom_when(void *impl, const char *key, int64_t now_ns)
{
    const kr_ratelimiter_custom *c = impl;
    return kr_ms_to_ns(c->vt->when(c->impl, key, now_ns));
}

static void custom_forget(void *impl, const char *key)
{
    const kr_ratelimiter_custom *c = impl;
    if (c->vt->forget)
        c->vt->forget(c->impl, key);
}

static unsigned custom_num_requeues(void *impl, const char *key)
{
    const kr_ratelimiter_custom *c = impl;
    return c->vt->num_requeues ? c->vt->num_requeues(c->impl, key) : 0;
}

/* The wrapper lives in the kr_ratelimiter itself: only the user's impl goes. */
static void custom_free(void *impl)
{
    const kr_ratelimiter_custom *c = impl;
    if (c->vt->free)
        c->vt->free(c->impl);
}

int kr_ratelimiter_new_custom(kr_ratelimiter_custom custom, kr_ratelimiter_t **out, kr_error_t *err)
{
    *out = NULL;
    if (!custom.vt || !custom.vt->when) {
        if (custom.vt && custom.vt->free)
            custom.vt->free(custom.impl);
        return kr_error_set(err, KR_EINVAL, "ratelimiter: a custom limiter needs vt->when");
    }
    kr_ratelimiter_t *rl = kr_calloc(1, sizeof(*rl));
    if (!rl) {
        if (custom.vt->free)
            custom.vt->free(custom.impl);
        return kr_error_set(err, KR_ENOMEM, "ratelimiter: out of memory");
    }
    static const rl_vtable vt = {custom_when, custom_forget, custom_num_requeues, custom_free};
    rl->custom = custom;
    rl->vt = &vt;
    rl->impl = &rl->custom;
    *out = rl;
    return 0;
}

/* ---- per-item failure counts (exponential, fast-slow) --------------------- */

struct counted_key {
    unsigned count;
    size_t len;
    char key[];
};

struct per_item {
    pthread_mutex_t mu;
    kr_keymap failures;
    int64_t base_ns, max_ns; /* exponential */
    int64_t fast_ns, slow_ns; /* fast-slow */
    unsigned max_fast_attempts; /* fast-slow */
};

/* Returns the key's count before this call and increments it. When memory
 * runs out the key is not tracked and UINT_MAX is returned: the caller then
 * answers with its longest delay. */
static unsigned per_item_bump(struct per_item *p, const char *key)
{
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    pthread_mutex_lock(&p->mu);
    struct counted_key *c = kr_keymap_get(&p->failures, hash, key, len);
    if (!c) {
        c = kr_malloc(sizeof(*c) + len + 1);
        if (!c || len > KR_KEYMAP_KEY_MAX || kr_keymap_reserve_one(&p->failures) != 0) {
            kr_free(c);
            pthread_mutex_unlock(&p->mu);
            return UINT32_MAX;
        }
        c->count = 0;
        c->len = len;
        memcpy(c->key, key, len + 1);
        kr_keymap_insert(&p->failures, hash, c->key, len, c);
    }
    unsigned before = c->count;
    if (c->count < UINT32_MAX - 1)
        c->count++;
    pthread_mutex_unlock(&p->mu);
    return before;
}

static void per_item_forget(void *impl, const char *key)
{
    struct per_item *p = impl;
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    pthread_mutex_lock(&p->mu);
    kr_free(kr_keymap_remove(&p->failures, hash, key, len));
    pthread_mutex_unlock(&p->mu);
}

static unsigned per_item_num_requeues(void *impl, const char *key)
{
    struct per_item *p = impl;
    size_t len = strlen(key);
    uint64_t hash = kr_key_hash(key, len);
    pthread_mutex_lock(&p->mu);
    const struct counted_key *c = kr_keymap_get(&p->failures, hash, key, len);
    unsigned n = c ? c->count : 0;
    pthread_mutex_unlock(&p->mu);
    return n;
}

static void per_item_free(void *impl)
{
    struct per_item *p = impl;
    for (size_t i = 0; i <= p->failures.mask; i++)
        if (p->failures.slots[i].hash)
            kr_free(p->failures.slots[i].val);
    kr_keymap_free(&p->failures);
    pthread_mutex_destroy(&p->mu);
    kr_free(p);
}

static struct per_item *per_item_new(void)
{
    struct per_item *p = kr_calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    if (kr_keymap_init(&p->failures, 16) != 0) {
        kr_free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

/* client-go ItemExponentialFailureRateLimiter.When: base * 2^failures,
 * computed in floating point so that it cannot overflow, capped at max. */
static int64_t exponential_when(void *impl, const char *key, int64_t now_ns)
{
    (void)now_ns;
    struct per_item *p = impl;
    unsigned exp = per_item_bump(p, key);
    if (exp == UINT32_MAX)
        return p->max_ns;
    if (exp >= 63)
        return p->max_ns;
    double backoff = (double)p->base_ns * (double)(1ULL << exp);
    if (backoff >= 9.2e18 || backoff > (double)p->max_ns)
        return p->max_ns;
    return (int64_t)backoff;
}

int kr_ratelimiter_new_exponential(uint64_t base_ms, uint64_t max_ms, kr_ratelimiter_t **out,
                                   kr_error_t *err)
{
    *out = NULL;
    if (base_ms == 0 || max_ms < base_ms)
        return kr_error_set(err, KR_EINVAL,
                            "ratelimiter: exponential needs 0 < base (%llu ms) <= max (%llu ms)",
                            (unsigned long long)base_ms, (unsigned long long)max_ms);
    struct per_item *p = per_item_new();
    if (!p)
        return kr_error_set(err, KR_ENOMEM, "ratelimiter: out of memory");
    p->base_ns = kr_ms_to_ns(base_ms);
    p->max_ns = kr_ms_to_ns(max_ms);
    static const rl_vtable vt = {exponential_when, per_item_forget, per_item_num_requeues,
                                 per_item_free};
    return make_limiter(&vt, p, out, err);
}

/* client-go ItemFastSlowRateLimiter.When. */
static int64_t fast_slow_when(void *impl, const char *key, int64_t now_ns)
{
    (void)now_ns;
    struct per_item *p = impl;
    unsigned before = per_item_bump(p, key);
    if (before == UINT32_MAX)
        return p->slow_ns;
    return before + 1 <= p->max_fast_attempts ? p->fast_ns : p->slow_ns;
}

int kr_ratelimiter_new_fast_slow(uint64_t fast_ms, uint64_t slow_ms, unsigned max_fast_attempts,
                                 kr_ratelimiter_t **out, kr_error_t *err)
{
    *out = NULL;
    struct per_item *p = per_item_new();
    if (!p)
        return kr_error_set(err, KR_ENOMEM, "ratelimiter: out of memory");
    p->fast_ns = kr_ms_to_ns(fast_ms);
    p->slow_ns = kr_ms_to_ns(slow_ms);
    p->max_fast_attempts = max_fast_attempts;
    static const rl_vtable vt = {fast_slow_when, per_item_forget, per_item_num_requeues,
                                 per_item_free};
    return make_limiter(&vt, p, out, err);
}

/* ---- token bucket --------------------------------------------------------- */

struct bucket {
    pthread_mutex_t mu;
    kr_bucket b;
    int64_t max_delay_ns;
};

/* golang.org/x/time/rate Reserve() under the limiter's lock. */
static int64_t bucket_when(void *impl, const char *key, int64_t now_ns)
{
    (void)key;
    struct bucket *b = impl;
    pthread_mutex_lock(&b->mu);
    int64_t delay = kr_bucket_reserve(&b->b, now_ns, b->max_delay_ns);
    pthread_mutex_unlock(&b->mu);
    return delay;
}

static void bucket_free(void *impl)
{
    struct bucket *b = impl;
    pthread_mutex_destroy(&b->mu);
    kr_free(b);
}

int kr_ratelimiter_new_bucket(double qps, int burst, uint64_t max_delay_ms, kr_ratelimiter_t **out,
                              kr_error_t *err)
{
    *out = NULL;
    if (!(qps > 0) || burst < 1)
        return kr_error_set(err, KR_EINVAL,
                            "ratelimiter: bucket needs qps > 0 (%g), burst >= 1 (%d)", qps, burst);
    struct bucket *b = kr_calloc(1, sizeof(*b));
    if (!b)
        return kr_error_set(err, KR_ENOMEM, "ratelimiter: out of memory");
    pthread_mutex_init(&b->mu, NULL);
    kr_bucket_init(&b->b, qps, burst);
    b->max_delay_ns = kr_ms_to_ns(max_delay_ms);
    static const rl_vtable vt = {bucket_when, NULL, NULL, bucket_free};
    return make_limiter(&vt, b, out, err);
}

/* ---- max-of ------------------------------------------------------------------ */

struct max_of {
    size_t n;
    kr_ratelimiter_t *limiters[];
};

static int64_t max_of_when(void *impl, const char *key, int64_t now_ns)
{
    struct max_of *m = impl;
    int64_t worst = 0;
    for (size_t i = 0; i < m->n; i++) {
        int64_t d = kr_ratelimiter_when_ns(m->limiters[i], key, now_ns);
        if (d > worst)
            worst = d;
    }
    return worst;
}

static void max_of_forget(void *impl, const char *key)
{
    struct max_of *m = impl;
    for (size_t i = 0; i < m->n; i++)
        kr_ratelimiter_forget(m->limiters[i], key);
}

static unsigned max_of_num_requeues(void *impl, const char *key)
{
    struct max_of *m = impl;
    unsigned most = 0;
    for (size_t i = 0; i < m->n; i++) {
        unsigned r = kr_ratelimiter_num_requeues(m->limiters[i], key);
        if (r > most)
            most = r;
    }
    return most;
}

static void max_of_free(void *impl)
{
    struct max_of *m = impl;
    for (size_t i = 0; i < m->n; i++)
        kr_ratelimiter_free(m->limiters[i]);
    kr_free(m);
}

int kr_ratelimiter_new_max_of(kr_ratelimiter_t *const *limiters, size_t n, kr_ratelimiter_t **out,
                              kr_error_t *err)
{
    *out = NULL;
    if (!limiters || n == 0) {
        return kr_error_set(err, KR_EINVAL, "ratelimiter: max-of needs at least one limiter");
    }
    for (size_t i = 0; i < n; i++) {
        if (!limiters[i]) {
            for (size_t j = 0; j < n; j++)
                kr_ratelimiter_free(limiters[j]);
            return kr_error_set(err, KR_EINVAL, "ratelimiter: max-of limiter %zu is NULL", i);
        }
    }
    struct max_of *m = kr_malloc(sizeof(*m) + n * sizeof(kr_ratelimiter_t *));
    if (!m) {
        for (size_t j = 0; j < n; j++)
            kr_ratelimiter_free(limiters[j]);
        return kr_error_set(err, KR_ENOMEM, "ratelimiter: out of memory");
    }
    m->n = n;
    memcpy(m->limiters, limiters, n * sizeof(kr_ratelimiter_t *));
    static const rl_vtable vt = {max_of_when, max_of_forget, max_of_num_requeues, max_of_free};
    return make_limiter(&vt, m, out, err);
}

int kr_ratelimiter_new_default(kr_ratelimiter_t **out, kr_error_t *err)
{
    kr_ratelimiter_t *parts[2] = {NULL, NULL};
    *out = NULL;
    int rc = kr_ratelimiter_new_exponential(KR_RATELIMIT_DEFAULT_BASE_MS,
                                            KR_RATELIMIT_DEFAULT_MAX_MS, &parts[0], err);
    if (rc != 0)
        return rc;
    rc = kr_ratelimiter_new_bucket(KR_RATELIMIT_DEFAULT_QPS, KR_RATELIMIT_DEFAULT_BURST, 0,
                                   &parts[1], err);
    if (rc != 0) {
        kr_ratelimiter_free(parts[0]);
        return rc;
    }
    return kr_ratelimiter_new_max_of(parts, 2, out, err);
}
