/* libkreconcile — the string-keyed open-addressing hash map shared by the
 * work queue and the per-item rate limiters, and the clock helpers. The map
 * never owns keys or values; it only indexes them. */
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "queue_internal.h"

#define KEYMAP_MIN_CAPACITY 16

static uint64_t load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static uint64_t load32(const unsigned char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The folded 64x64->128 multiply: both halves of the product xored, so every
 * input bit reaches most output bits in one multiply (the mixing step of the
 * wyhash family). */
static uint64_t fold_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t ha = a >> 32, la = (uint32_t)a, hb = b >> 32, lb = (uint32_t)b;
    uint64_t hh = ha * hb, hl = ha * lb, lh = la * hb, ll = la * lb;
    uint64_t mid = (ll >> 32) + (uint32_t)hl + (uint32_t)lh;
    uint64_t lo = (mid << 32) | (uint32_t)ll;
    uint64_t hi = hh + (hl >> 32) + (lh >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

#define K0 0xa0761d6478bd642fULL
#define K1 0xe7037ed1a0b428dbULL
#define K2 0x8ebc6af09c88c6e3ULL
#define K3 0x589965cc75374cc3ULL

uint64_t kr_key_hash(const char *key, size_t len)
{
    /* 16 bytes per folded multiply; the first and the last 16 bytes (which
     * may overlap) are mixed independently, so a typical "namespace/name"
     * key costs three multiplies, two of them in parallel. Never a byte
     * beyond the key is read. */
    const unsigned char *p = (const unsigned char *)key;
    uint64_t a, b, c, d;
    if (len >= 16) {
        uint64_t seed = K0 ^ len;
        size_t n = len;
        const unsigned char *q = p;
        while (n > 32) {
            seed = fold_mul(load64(q) ^ K1, load64(q + 8) ^ seed);
            q += 16;
            n -= 16;
        }
        a = load64(q) ^ seed;
        b = load64(q + 8);
        c = load64(p + len - 16);
        d = load64(p + len - 8);
    } else if (len >= 8) {
        a = load64(p) ^ K0 ^ len;
        b = 0;
        c = load64(p + len - 8);
        d = 0;
    } else if (len >= 4) {
        a = load32(p) ^ K0 ^ len;
        b = 0;
        c = load32(p + len - 4);
        d = 0;
    } else {
        a = (len ? ((uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1]) : 0) ^ K0 ^ len;
        b = c = d = 0;
    }
    uint64_t h = fold_mul(fold_mul(a ^ K1, b ^ K2) ^ K3, fold_mul(c ^ K2, d ^ K1) ^ len);
    return h ? h : 1;
}

int kr_keymap_init(kr_keymap *m, size_t capacity_hint)
{
    size_t cap = KEYMAP_MIN_CAPACITY;
    while (cap < capacity_hint * 2)
        cap <<= 1;
    m->slots = kr_calloc(cap, sizeof(*m->slots));
    if (!m->slots)
        return KR_ENOMEM;
    m->mask = cap - 1;
    m->count = 0;
    return 0;
}

void kr_keymap_free(kr_keymap *m)
{
    kr_free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

/* Equal keys of equal length `len`: 8 bytes at a time, no library call. */
static bool same_key(const char *a, const char *b, size_t len)
{
    if (a == b)
        return true;
    if (len < 8)
        return memcmp(a, b, len) == 0;
    uint64_t x, y;
    for (size_t i = 0; i + 8 <= len; i += 8) {
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return false;
    }
    /* the last 8 bytes, overlapping what was compared */
    memcpy(&x, a + len - 8, 8);
    memcpy(&y, b + len - 8, 8);
    return x == y;
}

void *kr_keymap_get(const kr_keymap *m, uint64_t hash, const char *key, size_t len)
{
    for (size_t i = hash & m->mask;; i = (i + 1) & m->mask) {
        const kr_keymap_slot *s = &m->slots[i];
        if (s->hash == 0)
            return NULL;
        if (s->hash == hash && s->len == len && same_key(s->key, key, len))
            return s->val;
    }
}

static void place(kr_keymap_slot *slots, size_t mask, const kr_keymap_slot *from)
{
    size_t i = from->hash & mask;
    while (slots[i].hash != 0)
        i = (i + 1) & mask;
    slots[i] = *from;
}

int kr_keymap_reserve_one(kr_keymap *m)
{
    size_t cap = m->mask + 1;
    if ((m->count + 1) * 2 <= cap)
        return 0;
    size_t ncap = cap * 2;
    kr_keymap_slot *ns = kr_calloc(ncap, sizeof(*ns));
    if (!ns)
        return KR_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        if (m->slots[i].hash != 0)
            place(ns, ncap - 1, &m->slots[i]);
    kr_free(m->slots);
    m->slots = ns;
    m->mask = ncap - 1;
    return 0;
}

int kr_keymap_insert(kr_keymap *m, uint64_t hash, const char *key, size_t len, void *val)
{
    if (kr_keymap_reserve_one(m) != 0)
        return KR_ENOMEM;
    kr_keymap_slot s = {.hash = hash, .key = key, .len = len, .val = val};
    place(m->slots, m->mask, &s);
    m->count++;
    return 0;
}

void *kr_keymap_remove(kr_keymap *m, uint64_t hash, const char *key, size_t len)
{
    size_t i = hash & m->mask;
    for (;; i = (i + 1) & m->mask) {
        kr_keymap_slot *s = &m->slots[i];
        if (s->hash == 0)
            return NULL;
        if (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0)
            break;
    }
    void *val = m->slots[i].val;
    /* Backward-shift deletion: pull later members of the probe run into the
     * hole when their home slot does not lie cyclically in (hole, j]. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->slots[j].hash != 0; j = (j + 1) & m->mask) {
        size_t home = m->slots[j].hash & m->mask;
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    memset(&m->slots[hole], 0, sizeof(m->slots[hole]));
    m->count--;
    return val;
}

int64_t kr_clock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t kr_clock_read(const kr_clock *clock)
{
    if (clock && clock->now_ns)
        return clock->now_ns(clock->user);
    return kr_clock_monotonic_ns();
}
