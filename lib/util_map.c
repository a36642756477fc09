/* libkreconcile — base layer: the string-keyed open-addressing hash map
 * (kr_keymap, util_internal.h). The map never owns keys or values; it only
 * indexes them. */
#include <stdbool.h>
#include <string.h>

#include "internal.h"
#include "util_internal.h"

#define KEYMAP_MIN_CAPACITY 16

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

static void place(kr_keymap_slot *slots, size_t mask, const kr_keymap_slot *from)
{
    size_t i = from->hash & mask;
    while (slots[i].hash != 0)
        i = (i + 1) & mask;
    slots[i] = *from;
}

/* Move every key into a table of `ncap` (a power of two) slots. */
static int rehash(kr_keymap *m, size_t ncap)
{
    kr_keymap_slot *ns = kr_calloc(ncap, sizeof(*ns));
    if (!ns)
        return KR_ENOMEM;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i].hash != 0)
            place(ns, ncap - 1, &m->slots[i]);
    kr_free(m->slots);
    m->slots = ns;
    m->mask = ncap - 1;
    return 0;
}

int kr_keymap_reserve(kr_keymap *m, size_t count)
{
    size_t cap = m->slots ? m->mask + 1 : 0;
    if (count * 2 <= cap)
        return 0;
    size_t ncap = cap ? cap * 2 : KEYMAP_MIN_CAPACITY;
    while (ncap < count * 2)
        ncap <<= 1;
    if (!m->slots) {
        m->slots = kr_calloc(ncap, sizeof(*m->slots));
        if (!m->slots)
            return KR_ENOMEM;
        m->mask = ncap - 1;
        return 0;
    }
    return rehash(m, ncap);
}

int kr_keymap_reserve_one(kr_keymap *m)
{
    return kr_keymap_reserve(m, m->count + 1);
}

int kr_keymap_put(kr_keymap *m, uint64_t hash, const char *key, size_t len, void *val, void **old)
{
    if (old)
        *old = NULL;
    if (kr_keymap_reserve_one(m) != 0)
        return KR_ENOMEM;
    size_t i = hash & m->mask;
    for (; m->slots[i].hash != 0; i = (i + 1) & m->mask) {
        kr_keymap_slot *s = &m->slots[i];
        if (s->hash == hash && s->len == len && kr_same_key(s->key, key, len)) {
            if (old)
                *old = s->val;
            s->key = key;
            s->val = val;
            return 0;
        }
    }
    m->slots[i] = (kr_keymap_slot){.hash = hash, .key = key, .len = len, .val = val};
    m->count++;
    return 0;
}

size_t kr_keymap_bytes(const kr_keymap *m)
{
    return m->slots ? (m->mask + 1) * sizeof(*m->slots) : 0;
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
    if (m->count == 0)
        return NULL;
    size_t i = hash & m->mask;
    for (;; i = (i + 1) & m->mask) {
        kr_keymap_slot *s = &m->slots[i];
        if (s->hash == 0)
            return NULL;
        if (s->hash == hash && s->len == len && kr_same_key(s->key, key, len))
            break;
    }
    void *val = m->slots[i].val;
    kr_keymap_remove_at(m, i);
    return val;
}

void kr_keymap_remove_at(kr_keymap *m, size_t i)
{
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
