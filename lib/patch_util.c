/* libkreconcile — helpers shared by the patch engines: JSON pointers for
 * error messages and Go-compatible value equality. Pure functions; they
 * never allocate, so they also work while reporting KR_ENOMEM. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "patch_util.h"

/* Appends one pointer segment, escaping '~' and '/' (RFC 6901, section 3). */
static size_t append_segment(char *buf, size_t size, size_t at, const kr_patch_path *seg)
{
    char number[24];
    const char *s = seg->key;
    size_t len = seg->key_len;
    if (!s) {
        len = (size_t)snprintf(number, sizeof(number), "%zu", seg->index);
        s = number;
    }
    if (at + 1 < size)
        buf[at++] = '/';
    for (size_t i = 0; i < len && at + 1 < size; i++) {
        if (s[i] == '~' || s[i] == '/') {
            if (at + 2 >= size)
                break;
            buf[at++] = '~';
            buf[at++] = s[i] == '~' ? '0' : '1';
        } else {
            buf[at++] = s[i] ? s[i] : '?';
        }
    }
    return at;
}

static size_t format_from_root(const kr_patch_path *path, char *buf, size_t size)
{
    if (!path)
        return 0;
    size_t at = format_from_root(path->parent, buf, size);
    return append_segment(buf, size, at, path);
}

char *kr_patch_path_format(const kr_patch_path *path, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    size_t at = format_from_root(path, buf, size);
    buf[at < size ? at : size - 1] = '\0';
    return buf;
}

int kr_patch_path_error(kr_error_t *err, int code, const kr_patch_path *path, const char *fmt, ...)
{
    if (!err)
        return code;
    char message[512];
    char where[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (path)
        kr_patch_path_format(path, where, sizeof(where));
    return kr_error_set(err, code, "%s at %s", message, path ? where : "the document root");
}

static bool objects_equal(const json_t *a, const json_t *b)
{
    if (json_object_size(a) != json_object_size(b))
        return false;
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach((json_t *)a, key, key_len, value)
    {
        const json_t *other = json_object_getn(b, key, key_len);
        if (!other || !kr_patch_value_equal(value, other))
            return false;
    }
    return true;
}

bool kr_patch_value_equal(const json_t *a, const json_t *b)
{
    if (a == b)
        return true;
    if (!a || !b)
        return false;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_OBJECT:
        return objects_equal(a, b);
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++) {
            if (!kr_patch_value_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        }
        return true;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    default:
        return true; /* true, false, null: same type is same value */
    }
}

bool kr_patch_has_whole_real(const json_t *v)
{
    if (json_is_real(v)) { /* past 2^63 every double is whole (and no cast holds it) */
        double d = json_real_value(v);
        return d > -9.2e18 && d < 9.2e18 ? d == (double)(long long)d : !isnan(d);
    }
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (kr_patch_has_whole_real(x))
                return true;
        }
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            if (kr_patch_has_whole_real(x))
                return true;
        }
    }
    return false;
}
