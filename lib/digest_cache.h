/* libkreconcile — a cache of answers by the SHA-256 digest of their
 * question, for the token and access reviewers. Direct-mapped: a digest
 * names its one slot, so a lookup is one constant-time compare and no
 * scan; a newer answer for another question in the same slot replaces
 * the older one. Answers expire after the time they were stored for
 * (monotonic clock). The values are the caller's: the cache keeps a copy
 * made by ops->copy and hands out copies, so no value is shared between
 * threads. Thread-safe. Never installed. */
#ifndef KR_LIB_DIGEST_CACHE_H
#define KR_LIB_DIGEST_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define KR_DIGEST_LEN 32 /* SHA-256 */

typedef struct kr_digest_cache kr_digest_cache;

typedef struct kr_digest_cache_ops {
    void *(*copy)(const void *value); /* new, or NULL when out of memory */
    void (*free)(void *value); /* takes NULL */
} kr_digest_cache_ops;

/* NULL when out of memory; n_slots 0 is 1. */
kr_digest_cache *kr_digest_cache_new(size_t n_slots, const kr_digest_cache_ops *ops);
void kr_digest_cache_free(kr_digest_cache *c);

/* 1: a fresh answer for `digest`, *value its copy (NULL when NULL was
 * stored, which callers use for "no"); 0: none; KR_ENOMEM: one, but its
 * copy could not be made. */
int kr_digest_cache_get(kr_digest_cache *c, const unsigned char *digest, void **value);

/* Keep a copy of value (NULL allowed) for ttl_ms. Out of memory: nothing
 * is kept, as if the answer had not been asked for. */
void kr_digest_cache_put(kr_digest_cache *c, const unsigned char *digest, const void *value,
                         uint64_t ttl_ms);

/* The answers found fresh so far. */
uint64_t kr_digest_cache_hits(kr_digest_cache *c);

#endif
