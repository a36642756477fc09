/* libkreconcile — internals shared by the patch engines: JSON paths for
 * error messages (built on the C stack while recursing, formatted only when
 * an error is reported) and value equality. Never installed; no I/O. */
#ifndef KR_LIB_PATCH_UTIL_H
#define KR_LIB_PATCH_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kreconcile/common.h"

/* One step of the path from the document root to the value being worked
 * on. Recursive code keeps one on its own stack frame, linked to the
 * caller's, so that building a path never allocates. The root is NULL. */
typedef struct kr_patch_path {
    const struct kr_patch_path *parent;
    const char *key; /* an object member (key_len bytes), or NULL for an array element */
    size_t key_len;
    size_t index; /* the array index when key is NULL */
} kr_patch_path;

/* Write `path` as an RFC 6901 pointer ("/spec/containers/0", "" for the
 * root) into buf (always NUL-terminated, truncated to fit). Returns buf. */
char *kr_patch_path_format(const kr_patch_path *path, char *buf, size_t size);

/* kr_error_set with " at <pointer>" ("at the document root" for NULL)
 * appended to the formatted message. Returns `code`. */
int kr_patch_path_error(kr_error_t *err, int code, const kr_patch_path *path, const char *fmt, ...)
    KR_PRINTF(4, 5);

/* Deep equality as Kubernetes' Go code sees decoded JSON: like json_equal,
 * except that an integer and a real with the same value are equal (Go
 * decodes every number to float64). */
bool kr_patch_value_equal(const json_t *a, const json_t *b);

/* True when `v` holds, anywhere, a real with a whole value (1.0): text Go
 * never prints for a number it decoded. */
bool kr_patch_has_whole_real(const json_t *v);

#endif /* KR_LIB_PATCH_UTIL_H */
