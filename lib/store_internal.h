/* libkreconcile — internals of the store: open-addressing hash tables
 * (string -> pointer maps and pointer sets) used for the key map and the
 * indexes. Not thread-safe by themselves: the store's lock guards them.
 * Never installed. */
#ifndef KR_LIB_STORE_INTERNAL_H
#define KR_LIB_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* A string -> pointer map. Keys are borrowed: the caller keeps each key
 * alive while it is in the map. Linear probing with backward-shift
 * deletion, so removing never allocates. The zero value is an empty map. */
typedef struct kr_strmap_slot {
    const char *key; /* NULL: empty slot */
    void *value;
    uint64_t hash;
} kr_strmap_slot;

typedef struct kr_strmap {
    kr_strmap_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t count;
} kr_strmap;

uint64_t kr_strmap_hash(const char *key);
/* Make room for `count` entries without further allocation: 0 or KR_ENOMEM. */
int kr_strmap_reserve(kr_strmap *m, size_t count);
void *kr_strmap_get(const kr_strmap *m, const char *key);
/* Insert or replace (the slot then takes the new key pointer). *old gets
 * the replaced value or NULL. 0 or KR_ENOMEM (map unchanged). */
int kr_strmap_put(kr_strmap *m, const char *key, void *value, void **old);
/* Remove `key`; returns its value or NULL. Never allocates. */
void *kr_strmap_remove(kr_strmap *m, const char *key);
void kr_strmap_free(kr_strmap *m);
size_t kr_strmap_bytes(const kr_strmap *m);

/* A set of non-NULL pointers, same design. */
typedef struct kr_ptrset {
    void **slots;
    size_t cap;
    size_t count;
} kr_ptrset;

int kr_ptrset_add(kr_ptrset *s, void *p);
void kr_ptrset_remove(kr_ptrset *s, void *p);
void kr_ptrset_free(kr_ptrset *s);
size_t kr_ptrset_bytes(const kr_ptrset *s);

#endif /* KR_LIB_STORE_INTERNAL_H */
