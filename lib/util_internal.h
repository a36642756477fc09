/* libkreconcile — the base layer: generic helpers every module shares (one
 * hash function and string-keyed map, the monotonic clock and deadlines, a
 * seedable random generator, base64, a token bucket, resourceVersion parsing,
 * the cached token-file reader and the compact JSON printer). It depends on
 * libc, OpenSSL, jansson and the public headers only. Never installed; nothing here is part of the
 * ABI. */
#ifndef KR_LIB_UTIL_INTERNAL_H
#define KR_LIB_UTIL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "kreconcile/ratelimit.h"

/* ---- hashing (lib/util_map.c) ---------------------------------------------- */

static inline uint64_t kr_load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t kr_load32(const unsigned char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The folded 64x64->128 multiply: both halves of the product xored, so every
 * input bit reaches most output bits in one multiply (the mixing step of the
 * wyhash family). */
static inline uint64_t kr_fold_mul(uint64_t a, uint64_t b)
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

#define KR_HASH_K0 0xa0761d6478bd642fULL
#define KR_HASH_K1 0xe7037ed1a0b428dbULL
#define KR_HASH_K2 0x8ebc6af09c88c6e3ULL
#define KR_HASH_K3 0x589965cc75374cc3ULL

/* The library's one hash function: 64 bits of `len` bytes, never 0 (0 marks
 * an empty map slot). Inline: it runs on every queue add, outside the lock.
 * Not keyed: not for hostile inputs that could force collisions. */
static inline uint64_t kr_key_hash(const char *key, size_t len)
{
    /* 16 bytes per folded multiply; the first and the last 16 bytes (which
     * may overlap) are mixed independently, so a typical "namespace/name"
     * key costs three multiplies, two of them in parallel. Never a byte
     * beyond the key is read. */
    const unsigned char *p = (const unsigned char *)key;
    uint64_t a, b, c, d;
    if (len >= 16) {
        uint64_t seed = KR_HASH_K0 ^ len;
        size_t n = len;
        const unsigned char *q = p;
        while (n > 32) {
            seed = kr_fold_mul(kr_load64(q) ^ KR_HASH_K1, kr_load64(q + 8) ^ seed);
            q += 16;
            n -= 16;
        }
        a = kr_load64(q) ^ seed;
        b = kr_load64(q + 8);
        c = kr_load64(p + len - 16);
        d = kr_load64(p + len - 8);
    } else if (len >= 8) {
        a = kr_load64(p) ^ KR_HASH_K0 ^ len;
        b = 0;
        c = kr_load64(p + len - 8);
        d = 0;
    } else if (len >= 4) {
        a = kr_load32(p) ^ KR_HASH_K0 ^ len;
        b = 0;
        c = kr_load32(p + len - 4);
        d = 0;
    } else {
        a = (len ? ((uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1]) : 0) ^
            KR_HASH_K0 ^ len;
        b = c = d = 0;
    }
    uint64_t h = kr_fold_mul(kr_fold_mul(a ^ KR_HASH_K1, b ^ KR_HASH_K2) ^ KR_HASH_K3,
                             kr_fold_mul(c ^ KR_HASH_K2, d ^ KR_HASH_K1) ^ len);
    return h ? h : 1;
}

/* kr_key_hash of a NUL-terminated string. */
static inline uint64_t kr_str_hash(const char *s)
{
    return kr_key_hash(s, strlen(s));
}

/* ---- the string-keyed map (lib/util_map.c) ---------------------------------- */

/* Equal keys of equal length `len`: 8 bytes at a time, no library call. */
static inline bool kr_same_key(const char *a, const char *b, size_t len)
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

/* One slot, 24 bytes: the key (borrowed: the caller keeps it alive at a
 * stable address while it is in the map, typically inside `val`), the
 * value, 32 bits of the key's hash and the key's length. */
typedef struct kr_keymap_slot {
    const char *key;
    void *val;
    uint32_t hash; /* kr_keymap_hash32 of the key's hash; 0: empty */
    uint32_t len;
} kr_keymap_slot;
_Static_assert(sizeof(kr_keymap_slot) == 24 &&
                   offsetof(kr_keymap_slot, len) == offsetof(kr_keymap_slot, hash) + 4,
               "kr_keymap_tag reads hash and len as one word");

/* Robin-hood linear probing (a key never sits farther from its home slot
 * than the key it passed), load <= 7/8, backward-shift deletion (no
 * tombstones). Never owns keys or values. Not thread-safe: the owner's
 * lock guards it. Hashes are kr_key_hash(key, len), computed by the caller
 * (often outside its lock); the map keeps 32 bits of them. Keys are at
 * most KR_KEYMAP_KEY_MAX bytes (4 GiB - 1). The zero value is an empty map
 * (kr_keymap_init only pre-sizes it); the first insert or reserve
 * allocates. */
typedef struct kr_keymap {
    kr_keymap_slot *slots;
    size_t mask; /* capacity - 1; capacity is a power of two, at most 2^32 */
    size_t count;
} kr_keymap;

#define KR_KEYMAP_KEY_MAX ((size_t)UINT32_MAX)

/* The 32 bits of a 64-bit key hash the map keeps: never 0. */
static inline uint32_t kr_keymap_hash32(uint64_t hash)
{
    uint32_t h = (uint32_t)hash ^ (uint32_t)(hash >> 32);
    return h ? h : 1;
}

/* How far slot i's key sits from its home slot. */
static inline size_t kr_keymap_dist(const kr_keymap *m, size_t i)
{
    return (i - m->slots[i].hash) & m->mask;
}

/* A slot's 32-bit hash and length read as one 64-bit word, and the word a
 * key of hash32 h and length len would have there: one compare rejects a
 * slot of another key (or an empty one) before its key is touched. */
static inline uint64_t kr_keymap_tag(const kr_keymap_slot *s)
{
    uint64_t t;
    memcpy(&t, &s->hash, sizeof(t)); /* hash and len are adjacent: no padding */
    return t;
}

/* Built in registers (going through memory would stall the 64-bit load
 * on two 32-bit stores). */
static inline uint64_t kr_keymap_tag_of(uint32_t h, uint32_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (uint64_t)h << 32 | len;
#else
    return (uint64_t)len << 32 | h;
#endif
}

/* The slot holding key, or NULL. Starts at the key's home slot and stops at
 * the first empty slot or the first slot whose key is nearer its home than
 * the key sought would be (the robin-hood order); the probe distance comes
 * from the mask, never a division. Inline: it runs under locks. */
static inline kr_keymap_slot *kr_keymap_lookup(const kr_keymap *m, uint64_t hash, const char *key,
                                               size_t len)
{
    if (m->count == 0 || len > KR_KEYMAP_KEY_MAX)
        return NULL; /* also the zero value's NULL table */
    kr_keymap_slot *slots = m->slots;
    size_t mask = m->mask;
    uint32_t h = kr_keymap_hash32(hash);
    uint64_t want = kr_keymap_tag_of(h, (uint32_t)len);
    for (size_t i = h & mask, d = 0;; i = (i + 1) & mask, d++) {
        kr_keymap_slot *s = &slots[i];
        if (kr_keymap_tag(s) == want && kr_same_key(s->key, key, len))
            return s;
        if (s->hash == 0 || ((i - s->hash) & mask) < d)
            return NULL;
    }
}

/* The slot index of key, or SIZE_MAX when absent. */
static inline size_t kr_keymap_find(const kr_keymap *m, uint64_t hash, const char *key, size_t len)
{
    const kr_keymap_slot *s = kr_keymap_lookup(m, hash, key, len);
    return s ? (size_t)(s - m->slots) : SIZE_MAX;
}

/* 0 or KR_ENOMEM. */
int kr_keymap_init(kr_keymap *m, size_t capacity_hint);
void kr_keymap_free(kr_keymap *m);

/* The value stored under key, or NULL. Inline: it runs under locks. */
static inline void *kr_keymap_get(const kr_keymap *m, uint64_t hash, const char *key, size_t len)
{
    const kr_keymap_slot *s = kr_keymap_lookup(m, hash, key, len);
    return s ? s->val : NULL;
}

/* Insert a key that is not present (the caller checked). 0, KR_ENOMEM or
 * KR_EINVAL (a key longer than KR_KEYMAP_KEY_MAX); on failure the map is
 * unchanged. */
int kr_keymap_insert(kr_keymap *m, uint64_t hash, const char *key, size_t len, void *val);
/* Make room for one more insert so that kr_keymap_insert cannot fail for a
 * key of at most KR_KEYMAP_KEY_MAX bytes. */
int kr_keymap_reserve_one(kr_keymap *m);
/* Make room for `count` keys in all: 0 or KR_ENOMEM (map unchanged). */
int kr_keymap_reserve(kr_keymap *m, size_t count);
/* Insert or replace (the slot then takes the new key pointer); *old gets the
 * replaced value or NULL. 0, KR_ENOMEM or KR_EINVAL (key too long); on
 * failure the map is unchanged. */
int kr_keymap_put(kr_keymap *m, uint64_t hash, const char *key, size_t len, void *val, void **old);
/* Remove key; returns its value or NULL when absent. */
void *kr_keymap_remove(kr_keymap *m, uint64_t hash, const char *key, size_t len);
/* Remove the occupied slot `i`. A later member of its probe run may move
 * into slot i (visit it again when scanning); none moves before it. */
void kr_keymap_remove_at(kr_keymap *m, size_t i);
/* Give memory back when at most an eighth of the slots are used. */
void kr_keymap_shrink(kr_keymap *m);
/* The table's bytes (for memory statistics). */
size_t kr_keymap_bytes(const kr_keymap *m);

/* Iteration: `for (size_t i = 0; (v = kr_keymap_next(m, &i));)` visits every
 * value once (values must be non-NULL); no insert or removal meanwhile. */
static inline void *kr_keymap_next(const kr_keymap *m, size_t *i)
{
    for (; m->slots && *i <= m->mask; (*i)++)
        if (m->slots[*i].hash != 0)
            return m->slots[(*i)++].val;
    return NULL;
}

/* ---- the use order of a cache (LRU) ---------------------------------------- */

/* A node embedded in each entry of a cache that forgets its least
 * recently used entries first; the entry finds itself from its node with
 * KR_CONTAINER_OF. */
typedef struct kr_lru_node {
    struct kr_lru_node *older, *newer;
} kr_lru_node;

typedef struct kr_lru {
    kr_lru_node *oldest, *newest; /* NULL when empty */
} kr_lru;

#define KR_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void kr_lru_unlink(kr_lru *l, kr_lru_node *n)
{
    if (n->older)
        n->older->newer = n->newer;
    else
        l->oldest = n->newer;
    if (n->newer)
        n->newer->older = n->older;
    else
        l->newest = n->older;
    n->older = n->newer = NULL;
}

/* Make n (not in the list) the most recently used. */
static inline void kr_lru_push_newest(kr_lru *l, kr_lru_node *n)
{
    n->older = l->newest;
    n->newer = NULL;
    if (l->newest)
        l->newest->newer = n;
    else
        l->oldest = n;
    l->newest = n;
}

/* Move n (in the list) to the most recently used end. */
static inline void kr_lru_touch(kr_lru *l, kr_lru_node *n)
{
    if (l->newest == n)
        return;
    kr_lru_unlink(l, n);
    kr_lru_push_newest(l, n);
}

/* ---- compact JSON (lib/util_json.c) ------------------------------------------ */

struct kr_buf; /* internal.h */
/* json_dumpb(v, NULL, 0, JSON_COMPACT) computed without printing. */
size_t kr_json_size(const json_t *v);
/* Append the bytes json_dumpb(v, JSON_COMPACT) prints to `out` (no NUL).
 * 0 or KR_ENOMEM. */
int kr_json_print(const json_t *v, struct kr_buf *out);
/* The same for a tree from anywhere (request bodies): 0; KR_ENOMEM; or
 * KR_EINVAL where json_dumps() might fail or print otherwise (invalid
 * UTF-8, a key holding a NUL, nesting deeper than 2048: a loop), for the
 * caller to leave that tree to jansson. `out` then holds a partial text. */
int kr_json_print_strict(const json_t *v, struct kr_buf *out);
/* Free text jansson allocated (json_dumps), with jansson's allocator,
 * which a program may have replaced (json_set_alloc_funcs). NULL is a
 * no-op. (lib/alloc.c: the test server's archive carries it.) */
void kr_json_text_free(char *text);
/* Where the member at `path` (n keys: {"a": {"b": ...}} holds "b" at
 * {"a", "b"}) sits in the JSON object `text`, with the comma that goes
 * with it: removing bytes [*from, *to) leaves the text jansson would parse
 * into the same tree less that member. The member's value is checked as
 * jansson would check it; false (nothing to cut) when the member is not
 * there, or where the scanner is unsure (an escaped key, an exponent, a
 * text jansson would refuse): then parse the text as it is. Only the
 * first object on each key's way is looked at. */
bool kr_json_cut_member(const char *text, size_t len, const char *const *path, size_t n,
                        size_t *from, size_t *to);
/* The same for every such member, cut out of `text` in place: a path step
 * "[]" goes into each element of the array there ({"items", "[]",
 * "metadata", "managedFields"}: a list's items). Returns the new length
 * (len when nothing was cut; out of memory, or where the scanner stops,
 * what was found before is cut all the same). */
size_t kr_json_cut_members(char *text, size_t len, const char *const *path, size_t n);
/* A body the apiserver sent (an object, a list, a watch event, a Status)
 * as JSON: json_loadb(text, len, flags, err), except that an integer
 * beyond int64, which jansson refuses ("too big integer") and Go's
 * unstructured decoding reads as a float64 (a custom resource may hold
 * one), is a real; every other integer stays an integer. Only a text
 * jansson refused for such an integer is looked at again (a copy with
 * ".0" after each such literal outside strings), so other texts cost one
 * parse as before. An error in that copy is reported at its position in
 * the copy (2 bytes on for each such literal before it). For whole texts
 * only: with JSON_DISABLE_EOF_CHECK, err->position would be the copy's. */
json_t *kr_json_loadb_server(const char *text, size_t len, size_t flags, json_error_t *err);

/* ---- sized copies (the public stats getters) ------------------------------ */

/* Copy `in` (in_size bytes) into the caller's `out` of out_size bytes: what
 * both know, then zeros for fields the library does not have. */
/* Whether s can go into JSON (jansson refuses text that is not UTF-8). */
static inline bool kr_utf8_valid(const char *s)
{
    json_t *t = s ? json_string(s) : NULL;
    json_decref(t);
    return t != NULL;
}

static inline void kr_copy_sized(void *out, size_t out_size, const void *in, size_t in_size)
{
    if (!out)
        return;
    size_t n = out_size < in_size ? out_size : in_size;
    memcpy(out, in, n);
    if (out_size > n)
        memset((char *)out + n, 0, out_size - n);
}

/* ---- time (lib/util_clock.c) -------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds / milliseconds. [any thread] */
int64_t kr_clock_monotonic_ns(void);
uint64_t kr_clock_monotonic_ms(void);
/* The wall clock in ms since the epoch (what the inventory stores). */
int64_t kr_clock_wall_ms(void);
/* now_ns of `clock`, or CLOCK_MONOTONIC when clock or its now_ns is NULL. */
int64_t kr_clock_read(const kr_clock *clock);
/* *ts = CLOCK_MONOTONIC now + ms, normalised: a deadline for
 * pthread_cond_timedwait on a condition made with kr_cond_init (lock.h). */
void kr_deadline_after_ms(struct timespec *ts, uint64_t ms);
/* The public API's durations are ms, the clocks' time points ns: `ms` in ns,
 * saturating at INT64_MAX; and `ns` (<= 0: 0) in ms rounded up, so that a
 * delay handed out is never shorter than the one computed. */
static inline int64_t kr_ms_to_ns(uint64_t ms)
{
    return ms > (uint64_t)INT64_MAX / 1000000 ? INT64_MAX : (int64_t)ms * 1000000;
}
/* now_ns (>= 0) + ms as a time point in ns, saturating at INT64_MAX: a
 * deadline that never comes rather than one in the past. */
static inline int64_t kr_ns_after_ms(int64_t now_ns, uint64_t ms)
{
    int64_t d = kr_ms_to_ns(ms);
    return now_ns > INT64_MAX - d ? INT64_MAX : now_ns + d;
}
static inline uint64_t kr_ns_to_ms_ceil(int64_t ns)
{
    return ns <= 0 ? 0 : (uint64_t)(ns / 1000000) + (ns % 1000000 != 0);
}

/* ---- random numbers (lib/util_clock.c) ----------------------------------------- */

/* xorshift64*: fast, reproducible from its seed; never for security. Not
 * thread-safe: one generator per owner (or under its lock). */
typedef struct kr_rng {
    uint64_t state;
} kr_rng;

/* 64 bits from the kernel's generator (the clock, the pid and a counter
 * when it cannot answer at once): identities, keys, jitter. [any thread] */
uint64_t kr_random_u64(void);

/* Seed 0 picks a seed from the clock and the generator's address. */
void kr_rng_seed(kr_rng *r, uint64_t seed);
uint64_t kr_rng_next(kr_rng *r);

/* ---- base64 (lib/util_base64.c, OpenSSL's codec) -------------------------------- */

/* Standard base64 with padding of `len` bytes; url: the URL-safe alphabet
 * ('-', '_') without padding. New string (kr_free) or NULL when out of memory. */
char *kr_base64_encode(const void *data, size_t len, bool url);
/* Decode `len` characters of standard base64 (padding required; CR and LF
 * ignored, as Go's decoder) or, with url, the unpadded URL-safe form. *out
 * gets a new NUL-terminated buffer (kr_free) of *out_len bytes. 0,
 * KR_ENOMEM, or KR_EPARSE with *bad_at (when not NULL) at the byte Go's
 * decoder names (its CorruptInputError): the offending byte; where a
 * text ending early began its last group; the end when it ends inside
 * the padding. */
int kr_base64_decode(const char *in, size_t len, bool url, char **out, size_t *out_len,
                     size_t *bad_at);

/* ---- token bucket (lib/util_bucket.c) -------------------------------------------- */

/* golang.org/x/time/rate's Reserve(): `qps` tokens a second, at most `burst`
 * kept. Not thread-safe: the owner's lock or thread guards it. */
typedef struct kr_bucket {
    double qps, burst, tokens;
    int64_t last_ns;
    bool started;
} kr_bucket;

/* burst < 1 is taken as 1; qps <= 0: never waits. */
void kr_bucket_init(kr_bucket *b, double qps, int burst);
/* Refill for the time elapsed, take one token and return the wait in ns
 * until the debt is repaid (0: go now). When max_delay_ns > 0 and the wait
 * would exceed it, no token is taken and max_delay_ns is returned
 * (kubernetes/kubernetes#104554). */
int64_t kr_bucket_reserve(kr_bucket *b, int64_t now_ns, int64_t max_delay_ns);
/* client-go's TryAccept: take a token if one is there now (true), else
 * take nothing (false). */
bool kr_bucket_try(kr_bucket *b, int64_t now_ns);

/* ---- files (lib/util_file.c) ------------------------------------------------------ */

#define KR_READ_FILE_MAX (16u * 1024u * 1024u)

/* Read a whole file into a new NUL-terminated buffer (kr_free). Errors:
 * KR_ENOTFOUND (ENOENT), KR_EIO, KR_ETOOLARGE past `max` bytes, KR_ENOMEM;
 * the message starts with `what` and names the path. */
int kr_read_file(const char *path, size_t max, const char *what, char **out, size_t *len,
                 kr_error_t *err);
/* Trim ASCII whitespace at both ends, in place; returns the new length. */
size_t kr_trim(char *s);
/* The cached token-file provider is public: kr_credential_provider_token_file_new
 * (kreconcile/config.h). */

/* ---- resourceVersion (lib/util_rv.c) ------------------------------------------------ */

/* A resourceVersion as kube-apiserver's storage parses it: decimal digits
 * only (leading zeros allowed, as strconv.ParseUint), no sign or blanks, no
 * overflow. 0 or KR_EINVAL. */
int kr_rv_parse(const char *rv, uint64_t *out);

#endif /* KR_LIB_UTIL_INTERNAL_H */
