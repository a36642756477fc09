/* libkreconcile — the inventory's memory of the states it wrote: for each
 * object, the stored object (a reference) of the current row it last wrote
 * and that row's transaction sequence. A change of the object is then
 * diffed against it instead of against a parse of the row's JSON text.
 * Least recently used entries leave first once their texts pass a bound. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "inventory_internal.h"
#include "util_internal.h"

typedef struct state_entry {
    kr_lru_node use; /* in the use order */
    json_t *object; /* a reference */
    int64_t seq;
    size_t text_len; /* of the row's object text */
    size_t bytes; /* what the entry counts against the bound */
    uint64_t hash; /* kr_key_hash of the key */
    size_t key_len;
    char key[]; /* the map's key */
} state_entry;

struct kr_inv_states {
    kr_keymap map;
    kr_lru use;
    size_t bytes, max_bytes;
};

kr_inv_states *kr_inv_states_new(size_t max_bytes)
{
    kr_inv_states *s = kr_calloc(1, sizeof(*s));
    if (s)
        s->max_bytes = max_bytes;
    return s;
}

static void drop_entry(kr_inv_states *s, state_entry *e)
{
    kr_keymap_remove(&s->map, e->hash, e->key, e->key_len);
    kr_lru_unlink(&s->use, &e->use);
    s->bytes -= e->bytes;
    json_decref(e->object);
    kr_free(e);
}

void kr_inv_states_clear(kr_inv_states *s)
{
    if (!s)
        return;
    for (kr_lru_node *n = s->use.oldest, *newer; n; n = newer) {
        newer = n->newer;
        state_entry *e = KR_CONTAINER_OF(n, state_entry, use);
        json_decref(e->object);
        kr_free(e);
    }
    kr_keymap_free(&s->map);
    memset(&s->map, 0, sizeof(s->map));
    s->use = (kr_lru){0};
    s->bytes = 0;
}

void kr_inv_states_free(kr_inv_states *s)
{
    kr_inv_states_clear(s);
    kr_free(s);
}

int kr_inv_states_key(kr_buf *b, const char *cluster, const char *kind, const char *ns,
                      const char *name)
{
    kr_buf_reset(b);
    /* The NULs included: no two keys run together. */
    int rc = kr_buf_append(b, cluster, strlen(cluster) + 1);
    rc |= kr_buf_append(b, kind, strlen(kind) + 1);
    rc |= kr_buf_append(b, ns, strlen(ns) + 1);
    rc |= kr_buf_append(b, name, strlen(name));
    return rc ? KR_ENOMEM : 0;
}

const json_t *kr_inv_states_get(kr_inv_states *s, const char *key, size_t len, int64_t seq,
                                size_t text_len)
{
    state_entry *e = kr_keymap_get(&s->map, kr_key_hash(key, len), key, len);
    if (!e || e->seq != seq || e->text_len != text_len)
        return NULL;
    kr_lru_touch(&s->use, &e->use);
    return e->object;
}

void kr_inv_states_remove(kr_inv_states *s, const char *key, size_t len)
{
    uint64_t hash = kr_key_hash(key, len);
    state_entry *e = kr_keymap_get(&s->map, hash, key, len);
    if (e)
        drop_entry(s, e);
}

void kr_inv_states_put(kr_inv_states *s, const char *key, size_t len, int64_t seq,
                       const json_t *object, size_t text_len)
{
    uint64_t hash = kr_key_hash(key, len);
    state_entry *e = kr_keymap_get(&s->map, hash, key, len);
    if (e)
        drop_entry(s, e);
    size_t bytes = sizeof(*e) + len + text_len;
    if (bytes > s->max_bytes || kr_keymap_reserve_one(&s->map) != 0)
        return; /* not remembered: the row is parsed when needed */
    e = kr_malloc(sizeof(*e) + len);
    if (!e)
        return;
    memcpy(e->key, key, len);
    e->key_len = len;
    e->hash = hash;
    e->object = json_incref((json_t *)object);
    e->seq = seq;
    e->text_len = text_len;
    e->bytes = bytes;
    kr_keymap_insert(&s->map, hash, e->key, len, e); /* cannot fail: reserved */
    kr_lru_push_newest(&s->use, &e->use);
    s->bytes += bytes;
    while (s->bytes > s->max_bytes && s->use.oldest != &e->use)
        drop_entry(s, KR_CONTAINER_OF(s->use.oldest, state_entry, use));
}
