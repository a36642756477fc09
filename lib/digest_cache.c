/* libkreconcile — a direct-mapped cache of answers by digest
 * (digest_cache.h). */
#include "digest_cache.h"

#include <openssl/crypto.h>
#include <stdbool.h>
#include <string.h>

#include "internal.h"
#include "lock.h"
#include "util_internal.h"

typedef struct slot {
    unsigned char digest[KR_DIGEST_LEN];
    bool used;
    uint64_t expires_ms; /* monotonic */
    void *value;
} slot;

struct kr_digest_cache {
    kr_digest_cache_ops ops;
    kr_mutex mu; /* guards slots and hits */
    slot *slots;
    size_t n_slots;
    uint64_t hits;
};

kr_digest_cache *kr_digest_cache_new(size_t n_slots, const kr_digest_cache_ops *ops)
{
    kr_digest_cache *c = kr_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->ops = *ops;
    c->n_slots = n_slots ? n_slots : 1;
    c->slots = kr_calloc(c->n_slots, sizeof(*c->slots));
    if (!c->slots || kr_mutex_init(&c->mu) != 0) {
        kr_free(c->slots);
        kr_free(c);
        return NULL;
    }
    return c;
}

void kr_digest_cache_free(kr_digest_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_slots; i++)
        c->ops.free(c->slots[i].value);
    kr_free(c->slots);
    kr_mutex_destroy(&c->mu);
    kr_free(c);
}

static slot *slot_of(kr_digest_cache *c, const unsigned char *digest)
{
    uint64_t h;
    memcpy(&h, digest, sizeof(h));
    return &c->slots[h % c->n_slots];
}

int kr_digest_cache_get(kr_digest_cache *c, const unsigned char *digest, void **value)
{
    int found = 0;
    *value = NULL;
    kr_mutex_lock(&c->mu);
    const slot *s = slot_of(c, digest);
    if (s->used && CRYPTO_memcmp(s->digest, digest, KR_DIGEST_LEN) == 0 &&
        kr_clock_monotonic_ms() < s->expires_ms) {
        c->hits++;
        found = 1;
        if (s->value && !(*value = c->ops.copy(s->value)))
            found = KR_ENOMEM;
    }
    kr_mutex_unlock(&c->mu);
    return found;
}

void kr_digest_cache_put(kr_digest_cache *c, const unsigned char *digest, const void *value,
                         uint64_t ttl_ms)
{
    void *copy = value ? c->ops.copy(value) : NULL;
    if (value && !copy)
        return;
    kr_mutex_lock(&c->mu);
    slot *s = slot_of(c, digest);
    void *old = s->value;
    memcpy(s->digest, digest, KR_DIGEST_LEN);
    s->used = true;
    s->value = copy;
    s->expires_ms = kr_clock_monotonic_ms() + ttl_ms;
    kr_mutex_unlock(&c->mu);
    c->ops.free(old);
}

uint64_t kr_digest_cache_hits(kr_digest_cache *c)
{
    kr_mutex_lock(&c->mu);
    uint64_t hits = c->hits;
    kr_mutex_unlock(&c->mu);
    return hits;
}
