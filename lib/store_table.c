/* libkreconcile — the store's hash tables: open addressing with linear
 * probing, kept at most 3/4 full, and backward-shift deletion so that a
 * removal never allocates and never leaves tombstones. */
#include <string.h>

#include "internal.h"
#include "store_internal.h"

/* The base layer's hash (util_internal.h). */
uint64_t kr_strmap_hash(const char *key)
{
    return kr_str_hash(key);
}

static size_t cap_for(size_t count)
{
    size_t cap = 8;
    while (cap - cap / 4 < count)
        cap *= 2;
    return cap;
}

int kr_strmap_reserve(kr_strmap *m, size_t count)
{
    if (m->cap && count <= m->cap - m->cap / 4)
        return 0;
    size_t cap = cap_for(count);
    kr_strmap_slot *slots = kr_calloc(cap, sizeof(*slots));
    if (!slots)
        return KR_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t k = (size_t)m->slots[i].hash & (cap - 1);
        while (slots[k].key)
            k = (k + 1) & (cap - 1);
        slots[k] = m->slots[i];
    }
    kr_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

static size_t find_slot(const kr_strmap *m, const char *key, uint64_t hash)
{
    size_t k = (size_t)hash & (m->cap - 1);
    while (m->slots[k].key && (m->slots[k].hash != hash || strcmp(m->slots[k].key, key) != 0))
        k = (k + 1) & (m->cap - 1);
    return k;
}

void *kr_strmap_get(const kr_strmap *m, const char *key)
{
    if (m->count == 0)
        return NULL;
    size_t k = find_slot(m, key, kr_strmap_hash(key));
    return m->slots[k].key ? m->slots[k].value : NULL;
}

int kr_strmap_put(kr_strmap *m, const char *key, void *value, void **old)
{
    if (old)
        *old = NULL;
    if (kr_strmap_reserve(m, m->count + 1) != 0)
        return KR_ENOMEM;
    uint64_t hash = kr_strmap_hash(key);
    size_t k = find_slot(m, key, hash);
    if (m->slots[k].key) {
        if (old)
            *old = m->slots[k].value;
    } else {
        m->count++;
    }
    m->slots[k].key = key;
    m->slots[k].value = value;
    m->slots[k].hash = hash;
    return 0;
}

void *kr_strmap_remove(kr_strmap *m, const char *key)
{
    if (m->count == 0)
        return NULL;
    size_t mask = m->cap - 1;
    size_t hole = find_slot(m, key, kr_strmap_hash(key));
    if (!m->slots[hole].key)
        return NULL;
    void *value = m->slots[hole].value;
    /* Backward shift: move later members of the cluster into the hole when
     * their home slot does not lie strictly between the hole and them. */
    for (size_t k = (hole + 1) & mask; m->slots[k].key; k = (k + 1) & mask) {
        size_t home = (size_t)m->slots[k].hash & mask;
        if (((k - home) & mask) >= ((k - hole) & mask)) {
            m->slots[hole] = m->slots[k];
            hole = k;
        }
    }
    m->slots[hole].key = NULL;
    m->slots[hole].value = NULL;
    m->count--;
    return value;
}

void kr_strmap_free(kr_strmap *m)
{
    kr_free(m->slots);
    memset(m, 0, sizeof(*m));
}

size_t kr_strmap_bytes(const kr_strmap *m)
{
    return m->cap * sizeof(*m->slots);
}

/* ---- pointer sets ---- */

static size_t ptr_home(const void *p, size_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (size_t)h & mask;
}

static int ptrset_grow(kr_ptrset *s, size_t count)
{
    if (s->cap && count <= s->cap - s->cap / 4)
        return 0;
    size_t cap = cap_for(count);
    void **slots = kr_calloc(cap, sizeof(*slots));
    if (!slots)
        return KR_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i])
            continue;
        size_t k = ptr_home(s->slots[i], cap - 1);
        while (slots[k])
            k = (k + 1) & (cap - 1);
        slots[k] = s->slots[i];
    }
    kr_free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

int kr_ptrset_add(kr_ptrset *s, void *p)
{
    if (ptrset_grow(s, s->count + 1) != 0)
        return KR_ENOMEM;
    size_t mask = s->cap - 1;
    size_t k = ptr_home(p, mask);
    while (s->slots[k] && s->slots[k] != p)
        k = (k + 1) & mask;
    if (!s->slots[k]) {
        s->slots[k] = p;
        s->count++;
    }
    return 0;
}

void kr_ptrset_remove(kr_ptrset *s, void *p)
{
    if (s->count == 0)
        return;
    size_t mask = s->cap - 1;
    size_t hole = ptr_home(p, mask);
    while (s->slots[hole] && s->slots[hole] != p)
        hole = (hole + 1) & mask;
    if (!s->slots[hole])
        return;
    for (size_t k = (hole + 1) & mask; s->slots[k]; k = (k + 1) & mask) {
        size_t home = ptr_home(s->slots[k], mask);
        if (((k - home) & mask) >= ((k - hole) & mask)) {
            s->slots[hole] = s->slots[k];
            hole = k;
        }
    }
    s->slots[hole] = NULL;
    s->count--;
}

void kr_ptrset_free(kr_ptrset *s)
{
    kr_free(s->slots);
    memset(s, 0, sizeof(*s));
}

size_t kr_ptrset_bytes(const kr_ptrset *s)
{
    return s->cap * sizeof(*s->slots);
}
