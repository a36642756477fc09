/* libkreconcile — internals shared by every module of the library: the
 * allocator wrappers, small string helpers and (util_internal.h) the base
 * layer. Never installed; nothing
 * here is part of the ABI. */
#ifndef KR_LIB_INTERNAL_H
#define KR_LIB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kreconcile/common.h"

#define KR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The library's allocator (kr_set_allocator; kr_malloc, kr_realloc and
 * kr_free are public). Every allocation the library makes goes through
 * these so that tests can inject failures. */
void *kr_calloc(size_t count, size_t size);
/* Returns NULL when `s` is NULL or on allocation failure. */
char *kr_strdup(const char *s);
char *kr_strndup(const char *s, size_t n);
/* printf into a new string (kr_free it); NULL on allocation failure. */
char *kr_asprintf(const char *fmt, ...) KR_PRINTF(1, 2);

/* A growable byte buffer, always NUL-terminated when `data` is set. */
typedef struct kr_buf {
    char *data;
    size_t len;
    size_t cap;
} kr_buf;

/* Each returns 0 or KR_ENOMEM; on failure the buffer is unchanged. */
int kr_buf_reserve(kr_buf *buf, size_t extra);
int kr_buf_append(kr_buf *buf, const void *data, size_t len);
int kr_buf_append_str(kr_buf *buf, const char *s);
int kr_buf_printf(kr_buf *buf, const char *fmt, ...) KR_PRINTF(2, 3);
void kr_buf_reset(kr_buf *buf);
/* Cut the buffer back to its first `len` bytes (a mark taken from len);
 * a longer `len` leaves it as it is. */
void kr_buf_truncate(kr_buf *buf, size_t len);
void kr_buf_free(kr_buf *buf);
/* Append one chunk of a request body that is kept only up to `max` bytes:
 * a chunk that would pass it, or any chunk once *over is set, is dropped,
 * *over set and the buffer released (the rest of the body is read and
 * discarded). 0, or KR_ENOMEM with the buffer unchanged. */
int kr_buf_append_capped(kr_buf *buf, const void *data, size_t len, size_t max, bool *over);

/* Make room for one more element in a growable array: when `count` has
 * reached *cap, the array that `items` points at (a `T **`, passed as void *)
 * is reallocated to twice *cap elements of `elem_size` bytes, `first_cap` when
 * empty. 0, or KR_ENOMEM with the array and *cap unchanged. */
int kr_array_grow(void *items, size_t *cap, size_t count, size_t elem_size, size_t first_cap);
/* Append one zeroed element to the array that `items` points at (a `T **`)
 * of *count elements, growing it by exactly one (for short lists built
 * once; kr_array_grow for lists that grow often): the new element, *count
 * incremented; NULL with the array unchanged when out of memory. */
void *kr_array_push(void *items, size_t *count, size_t elem_size);

/* The base layer: hash map, clock, random numbers, base64, token bucket... */
#include "util_internal.h"

#endif /* KR_LIB_INTERNAL_H */
