/* libkreconcile — the allocator hooks every allocation the library makes
 * goes through (kr_set_allocator); one copy, in the library only. */
#include <stdlib.h>

#include "internal.h"

static kr_malloc_cb alloc_malloc = malloc;
static kr_realloc_cb alloc_realloc = realloc;
static kr_free_cb alloc_free = free;

void kr_set_allocator(kr_malloc_cb malloc_fn, kr_realloc_cb realloc_fn, kr_free_cb free_fn)
{
    alloc_malloc = malloc_fn ? malloc_fn : malloc;
    alloc_realloc = realloc_fn ? realloc_fn : realloc;
    alloc_free = free_fn ? free_fn : free;
}

void *kr_malloc(size_t size)
{
    return alloc_malloc(size ? size : 1);
}

void *kr_realloc(void *ptr, size_t size)
{
    return alloc_realloc(ptr, size ? size : 1);
}

void kr_free(void *ptr)
{
    if (ptr)
        alloc_free(ptr);
}
