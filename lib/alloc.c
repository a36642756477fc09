/* libkreconcile — string and buffer helpers over the allocator hooks
 * (allocator.c), and the release of text jansson made; they call only
 * public functions, so the test server's archive carries its own private
 * copy. Failures are returned, never aborted on. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *kr_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = kr_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

char *kr_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *p = kr_malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *kr_strdup(const char *s)
{
    return s ? kr_strndup(s, strlen(s)) : NULL;
}

char *kr_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = kr_malloc((size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int kr_buf_reserve(kr_buf *buf, size_t extra)
{
    if (buf->len + extra + 1 <= buf->cap)
        return 0;
    if (extra > SIZE_MAX / 2 - buf->len)
        return KR_ENOMEM;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < buf->len + extra + 1)
        cap *= 2;
    char *p = kr_realloc(buf->data, cap);
    if (!p)
        return KR_ENOMEM;
    buf->data = p;
    buf->cap = cap;
    return 0;
}

int kr_array_grow(void *items, size_t *cap, size_t count, size_t elem_size, size_t first_cap)
{
    if (count < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : first_cap;
    if (ncap < *cap || (elem_size && ncap > SIZE_MAX / elem_size))
        return KR_ENOMEM;
    void *old;
    memcpy(&old, items, sizeof(old)); /* the caller's T * read without punning it */
    void *grown = kr_realloc(old, ncap * elem_size);
    if (!grown)
        return KR_ENOMEM;
    memcpy(items, &grown, sizeof(grown));
    *cap = ncap;
    return 0;
}

void *kr_array_push(void *items, size_t *count, size_t elem_size)
{
    if (!elem_size || *count >= SIZE_MAX / elem_size - 1)
        return NULL;
    char *base;
    memcpy(&base, items, sizeof(base)); /* the caller's T * read without punning it */
    char *grown = kr_realloc(base, (*count + 1) * elem_size);
    if (!grown)
        return NULL;
    memcpy(items, &grown, sizeof(grown));
    void *slot = grown + *count * elem_size;
    memset(slot, 0, elem_size);
    (*count)++;
    return slot;
}

int kr_buf_append(kr_buf *buf, const void *data, size_t len)
{
    if (kr_buf_reserve(buf, len) != 0)
        return KR_ENOMEM;
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

int kr_buf_append_str(kr_buf *buf, const char *s)
{
    return kr_buf_append(buf, s, strlen(s));
}

int kr_buf_printf(kr_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return KR_EINVAL;
    if (kr_buf_reserve(buf, (size_t)n) != 0)
        return KR_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return 0;
}

void kr_buf_reset(kr_buf *buf)
{
    kr_buf_truncate(buf, 0);
}

void kr_buf_truncate(kr_buf *buf, size_t len)
{
    if (len > buf->len)
        return;
    buf->len = len;
    if (buf->data)
        buf->data[len] = '\0';
}

void kr_buf_free(kr_buf *buf)
{
    kr_free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

int kr_buf_append_capped(kr_buf *buf, const void *data, size_t len, size_t max, bool *over)
{
    if (!*over && buf->len <= max && len <= max - buf->len)
        return kr_buf_append(buf, data, len);
    *over = true;
    kr_buf_free(buf);
    return 0;
}

void kr_json_text_free(char *text)
{
    if (!text)
        return;
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(text);
}
