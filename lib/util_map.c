/* libkreconcile — base layer: the string-keyed open-addressing hash map
 * (kr_keymap, util_internal.h): robin-hood linear probing in 24-byte slots
 * up to 7/8 full. The map never owns keys or values; it only indexes them. */
#include <stdbool.h>
#include <string.h>

#include "internal.h"
#include "util_internal.h"

#define KEYMAP_MIN_CAPACITY 16
/* The stored hash is 32 bits: it names a home slot in at most 2^32 slots. */
#if SIZE_MAX > UINT32_MAX
#define KEYMAP_MAX_CAPACITY ((size_t)1 << 32)
#else
#define KEYMAP_MAX_CAPACITY ((size_t)1 << 31)
#endif

/* Whether `cap` slots hold `count` keys within the 7/8 load. */
static bool fits(size_t count, size_t cap)
{
    return count <= cap - cap / 8;
}

/* The smallest capacity from `cap` up (a power of two) that holds count
 * keys, or 0 when none may be allocated. */
static size_t capacity_for(size_t count, size_t cap)
{
    while (!fits(count, cap)) {
        if (cap >= KEYMAP_MAX_CAPACITY)
            return 0;
        cap <<= 1;
    }
    return cap;
}

int kr_keymap_init(kr_keymap *m, size_t capacity_hint)
{
    size_t cap = capacity_for(capacity_hint, KEYMAP_MIN_CAPACITY);
    m->slots = cap ? kr_calloc(cap, sizeof(*m->slots)) : NULL;
    m->mask = 0;
    m->count = 0;
    if (!m->slots)
        return KR_ENOMEM;
    m->mask = cap - 1;
    return 0;
}

void kr_keymap_free(kr_keymap *m)
{
    kr_free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

/* Robin-hood placement of a key known to be absent, in a table with a free
 * slot: walking from its home, the key being carried takes the slot of the
 * first key nearer its own home, which is carried on from there. */
static void place(kr_keymap_slot *slots, size_t mask, kr_keymap_slot carry)
{
    size_t i = carry.hash & mask, d = 0;
    for (;; i = (i + 1) & mask, d++) {
        kr_keymap_slot *s = &slots[i];
        if (s->hash == 0) {
            *s = carry;
            return;
        }
        size_t sd = (i - s->hash) & mask;
        if (sd < d) {
            kr_keymap_slot t = *s;
            *s = carry;
            carry = t;
            d = sd;
        }
    }
}

/* Move every key into a table of `ncap` (a power of two) slots. */
static int rehash(kr_keymap *m, size_t ncap)
{
    kr_keymap_slot *ns = kr_calloc(ncap, sizeof(*ns));
    if (!ns)
        return KR_ENOMEM;
    if (m->slots)
        for (size_t i = 0; i <= m->mask; i++)
            if (m->slots[i].hash != 0)
                place(ns, ncap - 1, m->slots[i]);
    kr_free(m->slots);
    m->slots = ns;
    m->mask = ncap - 1;
    return 0;
}

int kr_keymap_reserve(kr_keymap *m, size_t count)
{
    size_t cap = m->slots ? m->mask + 1 : 0;
    if (fits(count, cap))
        return 0; /* also reserving 0 keys in the zero value */
    size_t ncap = capacity_for(count, cap ? cap * 2 : KEYMAP_MIN_CAPACITY);
    if (!ncap)
        return KR_ENOMEM;
    return rehash(m, ncap);
}

int kr_keymap_reserve_one(kr_keymap *m)
{
    if (m->slots && fits(m->count + 1, m->mask + 1))
        return 0;
    return kr_keymap_reserve(m, m->count + 1);
}

int kr_keymap_put(kr_keymap *m, uint64_t hash, const char *key, size_t len, void *val, void **old)
{
    if (old)
        *old = NULL;
    size_t i = kr_keymap_find(m, hash, key, len);
    if (i != SIZE_MAX) {
        if (old)
            *old = m->slots[i].val;
        m->slots[i].key = key;
        m->slots[i].val = val;
        return 0;
    }
    return kr_keymap_insert(m, hash, key, len, val);
}

size_t kr_keymap_bytes(const kr_keymap *m)
{
    return m->slots ? (m->mask + 1) * sizeof(*m->slots) : 0;
}

int kr_keymap_insert(kr_keymap *m, uint64_t hash, const char *key, size_t len, void *val)
{
    if (len > KR_KEYMAP_KEY_MAX)
        return KR_EINVAL;
    if (kr_keymap_reserve_one(m) != 0)
        return KR_ENOMEM;
    kr_keymap_slot s = {
        .key = key, .val = val, .hash = kr_keymap_hash32(hash), .len = (uint32_t)len};
    place(m->slots, m->mask, s);
    m->count++;
    return 0;
}

void *kr_keymap_remove(kr_keymap *m, uint64_t hash, const char *key, size_t len)
{
    size_t i = kr_keymap_find(m, hash, key, len);
    if (i == SIZE_MAX)
        return NULL;
    void *val = m->slots[i].val;
    kr_keymap_remove_at(m, i);
    return val;
}

void kr_keymap_remove_at(kr_keymap *m, size_t i)
{
    /* Backward shift: every following key of the run that is not at its
     * home moves one slot back; the run keeps the robin-hood order. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->slots[j].hash != 0 && kr_keymap_dist(m, j) != 0;
         j = (j + 1) & m->mask) {
        m->slots[hole] = m->slots[j];
        hole = j;
    }
    memset(&m->slots[hole], 0, sizeof(m->slots[hole]));
    m->count--;
}

void kr_keymap_shrink(kr_keymap *m)
{
    size_t cap = m->mask + 1;
    if (!m->slots || cap <= KEYMAP_MIN_CAPACITY || m->count * 8 > cap)
        return;
    size_t ncap = KEYMAP_MIN_CAPACITY;
    while (ncap < m->count * 4)
        ncap <<= 1;
    (void)rehash(m, ncap); /* on failure the larger table stays */
}
