/* libkreconcile — the store's entries and its compact representation:
 * reference counting of entries, parse-on-read of the compact JSON text,
 * and the small ring of recently read or written trees that saves a
 * worker the parse when it reads the object an event just delivered.
 * Never takes the store's rwlock: callers hold it or a reference. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_internal.h"

enum { DEFAULT_TREE_CACHE = 256 };

void kr_store_entry_ref(struct entry *e)
{
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
}

void kr_store_entry_release(struct entry *e)
{
    if (!e || __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    /* the tree cache holds a reference while it keeps e->tree */
    json_decref(e->obj);
    kr_free(e);
}

int kr_store_cache_init(kr_store_t *s, long size)
{
    s->cache.cap = size < 0 ? 0 : size == 0 ? DEFAULT_TREE_CACHE : (size_t)size;
    s->cache.hand = 0;
    s->cache.ring = NULL;
    if (s->cache.cap) {
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
        s->cache.ring = kr_calloc(s->cache.cap, sizeof(*s->cache.ring));
        if (!s->cache.ring)
            return KR_ENOMEM;
    }
    pthread_mutex_init(&s->cache.mu, NULL);
    s->cache.ready = true;
    return 0;
}

/* After the store's states are freed: the ring holds the last references. */
void kr_store_cache_free(kr_store_t *s)
{
    for (size_t i = 0; s->cache.ring && i < s->cache.cap; i++) {
        struct entry *e = s->cache.ring[i];
        if (!e)
            continue;
        json_decref(e->tree);
        e->tree = NULL;
        kr_store_entry_release(e);
    }
    kr_free(s->cache.ring);
    s->cache.ring = NULL;
    pthread_mutex_destroy(&s->cache.mu);
    s->cache.ready = false;
}

void kr_store_cache_remember(kr_store_t *s, struct entry *e, json_t *tree)
{
    if (!s->cache.cap || !tree)
        return;
    struct entry *victim = NULL;
    json_t *victim_tree = NULL;
    pthread_mutex_lock(&s->cache.mu);
    if (!e->tree) {
        victim = s->cache.ring[s->cache.hand];
        if (victim) {
            victim_tree = victim->tree;
            victim->tree = NULL;
        }
        kr_store_entry_ref(e);
        e->tree = json_incref(tree);
        e->cache_at = s->cache.hand;
        s->cache.ring[s->cache.hand] = e;
        s->cache.hand = (s->cache.hand + 1) % s->cache.cap;
    }
    pthread_mutex_unlock(&s->cache.mu);
    /* freeing a tree takes microseconds: never under the mutex */
    json_decref(victim_tree);
    kr_store_entry_release(victim);
}

json_t *kr_store_entry_object(kr_store_t *s, struct entry *e, bool remember)
{
    if (e->obj)
        return json_incref(e->obj);
    json_t *tree = NULL;
    if (s->cache.cap) {
        pthread_mutex_lock(&s->cache.mu);
        tree = json_incref(e->tree);
        pthread_mutex_unlock(&s->cache.mu);
        if (tree)
            return tree;
    }
    /* the text is what jansson printed: only memory can make this fail */
    tree = json_loadb(e->json, e->json_len, JSON_ALLOW_NUL, NULL);
    if (tree && remember)
        kr_store_cache_remember(s, e, tree);
    return tree;
}
