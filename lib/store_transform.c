/* libkreconcile — what the store does to an object before caching it:
 * drop metadata.managedFields, keep only selected fields, run the user's
 * transform; and the exact size of its compact JSON, for the accounting.
 * Runs on the writing thread, outside the store's lock; never touches the
 * store's tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_internal.h"

static const char *const always_kept[] = {
    "/apiVersion",
    "/kind",
    "/metadata/name",
    "/metadata/namespace",
    "/metadata/uid",
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/labels",
    "/metadata/deletionTimestamp",
};

/* ---- transforms --------------------------------------------------------------- */

static void path_clear(struct field_path *p)
{
    for (size_t i = 0; i < p->n; i++)
        kr_free(p->tokens[i]);
    kr_free(p->tokens);
    memset(p, 0, sizeof(*p));
}

/* "/a/b~1c" (JSON pointer) or "a.b" (dotted path) into tokens. */
static int path_parse(const char *text, struct field_path *out, kr_error_t *err)
{
    memset(out, 0, sizeof(*out));
    bool pointer = text[0] == '/';
    const char *s = pointer ? text + 1 : text;
    char sep = pointer ? '/' : '.';
    if (*s == '\0')
        return kr_error_set(err, KR_EINVAL, "keep_fields entry \"%s\" names no field", text);
    size_t n = 1;
    for (const char *c = s; *c; c++)
        n += *c == sep;
    out->tokens = kr_calloc(n, sizeof(*out->tokens));
    if (!out->tokens)
        return kr_error_set(err, KR_ENOMEM, "out of memory parsing keep_fields");
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(s, sep);
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char *tok = kr_malloc(len + 1);
        if (!tok) {
            path_clear(out);
            return kr_error_set(err, KR_ENOMEM, "out of memory parsing keep_fields");
        }
        out->tokens[out->n++] = tok;
        size_t w = 0;
        for (size_t r = 0; r < len; r++) {
            if (pointer && s[r] == '~') {
                if (r + 1 < len && (s[r + 1] == '0' || s[r + 1] == '1')) {
                    tok[w++] = s[r + 1] == '0' ? '~' : '/';
                    r++;
                    continue;
                }
                path_clear(out);
                return kr_error_set(err, KR_EINVAL,
                                    "keep_fields entry \"%s\": '~' must be followed by 0 or 1",
                                    text);
            }
            tok[w++] = s[r];
        }
        tok[w] = '\0';
        if (w == 0) {
            path_clear(out);
            return kr_error_set(err, KR_EINVAL, "keep_fields entry \"%s\" has an empty step", text);
        }
        s = end ? end + 1 : s + len;
    }
    return 0;
}

/* Copy the value at `path` in src into dst, sharing the subtree. A path
 * that meets an array keeps the whole array. */
static int keep_path(const json_t *src, json_t *dst, const struct field_path *path)
{
    const json_t *at = src;
    size_t depth = 0;
    while (depth < path->n && json_is_object(at)) {
        at = json_object_get(at, path->tokens[depth]);
        depth++;
        if (!at)
            return 0;
    }
    json_t *cur = dst;
    for (size_t i = 0; i + 1 < depth; i++) {
        json_t *child = json_object_get(cur, path->tokens[i]);
        if (child && !json_is_object(child))
            return 0;
        if (!child) {
            child = json_object();
            if (!child || json_object_set_new(cur, path->tokens[i], child) != 0)
                return KR_ENOMEM;
        }
        cur = child;
    }
    if (json_object_get(cur, path->tokens[depth - 1]))
        return 0;
    return json_object_set(cur, path->tokens[depth - 1], (json_t *)at) == 0 ? 0 : KR_ENOMEM;
}

static int keep_only(const kr_store_t *store, json_t *obj, json_t **out)
{
    json_t *kept = json_object();
    if (!kept)
        return KR_ENOMEM;
    for (size_t i = 0; i < store->n_keep; i++) {
        if (keep_path(obj, kept, &store->keep[i]) != 0) {
            json_decref(kept);
            return KR_ENOMEM;
        }
    }
    *out = kept;
    return 0;
}

int kr_store_transform(const kr_store_t *store, json_t *obj, json_t **out, kr_error_t *err)
{
    if (!json_is_object(obj)) {
        json_decref(obj);
        return kr_error_set(err, KR_EINVAL, "the store caches JSON objects only");
    }
    json_t *meta = json_object_get(obj, "metadata");
    if (!store->keep_managed_fields && json_is_object(meta))
        json_object_del(meta, "managedFields");
    if (store->n_keep > 0) {
        json_t *kept = NULL;
        int rc = keep_only(store, obj, &kept);
        json_decref(obj);
        if (rc)
            return kr_error_set(err, rc, "out of memory selecting the fields to keep");
        obj = kept;
    }
    if (store->transform) {
        json_t *t = NULL;
        int rc = store->transform(obj, &t, store->transform_user);
        if (rc) {
            json_decref(t);
            return kr_error_set(err, rc, "the store's transform rejected an object: %s",
                                kr_strerror(rc));
        }
        if (!json_is_object(t)) {
            json_decref(t);
            return kr_error_set(err, KR_EINVAL, "the store's transform returned no object");
        }
        obj = t;
    }
    *out = obj;
    return 0;
}

/* ---- printing and measuring ------------------------------------------------------ */

/* The compact JSON text of a jansson tree, exactly as json_dumpb(v,
 * JSON_COMPACT) prints it (test_store compares the two byte for byte), by
 * one walk that writes when `out` is non-NULL and only counts otherwise.
 * jansson's printer decodes every string one UTF-8 code point at a time
 * and keeps a hash table of the objects it visits (loop detection); the
 * store prints (compact) or measures (trees) every object it caches, so
 * it copies runs of plain bytes instead. Measured per object (O2, one
 * core): a 1.2 KB ConfigMap 4.9 us here against 24.3 us with
 * json_dump_callback(JSON_COMPACT) (measuring: 2.5 us against 12.3 us);
 * a 1.9 KB Pod 11.8 us against 32.3 us; a jansson parse of the same
 * ConfigMap costs 35 us. jansson's printer would add about 1.9 s of CPU to
 * a compact sync of 100,000 ConfigMaps (half a parse per object), hence
 * this printer. */
struct printer {
    kr_buf *buf; /* NULL: measure only */
    size_t n;
    int rc; /* KR_ENOMEM once an append failed; KR_EINVAL (strict) */
    bool strict; /* refuse what jansson's printer refuses */
    int depth;
};

/* Deeper than jansson's parser goes: only a tree built by hand (or a loop)
 * reaches it, and the strict printer then leaves it to jansson. */
#define PRINT_MAX_DEPTH 2048

/* The length of the well-formed UTF-8 sequence starting at s (its first
 * byte >= 0x80), or 0 where jansson's decoder would refuse it (a stray or
 * overlong byte, a surrogate, above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || n > len)
        return 0;
    unsigned cp = c & (0x7fu >> n);
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

static void put(struct printer *p, const char *s, size_t len)
{
    if (p->buf && !p->rc)
        p->rc = kr_buf_append(p->buf, s, len);
    p->n += len;
}

static void put_string(struct printer *p, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson */
    static const char short_escapes[0x20] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    put(p, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            if (c >= 0x80 && p->strict) {
                size_t n = utf8_len((const unsigned char *)s + i, len - i);
                if (n == 0) {
                    p->rc = KR_EINVAL;
                    return;
                }
                i += n - 1;
            }
            continue;
        }
        put(p, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t esc_len = 2;
        char letter = c == '"' || c == '\\' ? (char)c : short_escapes[c];
        if (letter) {
            esc[1] = letter;
        } else { /* \u00XX */
            esc[1] = 'u';
            esc[2] = esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc_len = 6;
        }
        put(p, esc, esc_len);
    }
    put(p, s + run, len - run);
    put(p, "\"", 1);
}

/* A real as jansson prints it: "%.17g", ".0" added to integral values,
 * exponent without '+' or leading zeros. */
static void put_real(struct printer *p, double value)
{
    char buf[64], fixed[64];
    int len = snprintf(buf, sizeof(buf), "%.17g", value);
    if (len < 0 || (size_t)len >= sizeof(buf))
        return;
    size_t n = 0;
    const char *e = strchr(buf, 'e');
    for (const char *c = buf; *c && c != e; c++)
        fixed[n++] = *c;
    if (!strchr(buf, '.') && !e) {
        fixed[n++] = '.';
        fixed[n++] = '0';
    }
    if (e) {
        const char *c = e + 1;
        fixed[n++] = 'e';
        if (*c == '+')
            c++;
        else if (*c == '-')
            fixed[n++] = *c++;
        while (*c == '0' && c[1] != '\0')
            c++;
        while (*c)
            fixed[n++] = *c++;
    }
    put(p, fixed, n);
}

static void put_value(struct printer *p, const json_t *v);

static void put_node(struct printer *p, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t i = 0;
        const char *key;
        const json_t *member;
        put(p, "{", 1);
        json_object_foreach((json_t *)v, key, member)
        {
            if (i++)
                put(p, ",", 1);
            size_t key_len = strlen(key);
            /* jansson prints a key's every byte, a NUL too */
            if (p->strict && json_object_iter_key_len(json_object_key_to_iter(key)) != key_len)
                p->rc = KR_EINVAL;
            put_string(p, key, key_len);
            put(p, ":", 1);
            put_value(p, member);
        }
        put(p, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        size_t size = json_array_size(v);
        put(p, "[", 1);
        for (size_t i = 0; i < size; i++) {
            if (i)
                put(p, ",", 1);
            put_value(p, json_array_get(v, i));
        }
        put(p, "]", 1);
        return;
    }
    case JSON_STRING:
        put_string(p, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER: {
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        if (len > 0)
            put(p, buf, (size_t)len);
        return;
    }
    case JSON_REAL:
        put_real(p, json_real_value(v));
        return;
    case JSON_TRUE:
        put(p, "true", 4);
        return;
    case JSON_NULL:
        put(p, "null", 4);
        return;
    case JSON_FALSE:
        put(p, "false", 5);
        return;
    }
}

/* Depth is bounded by the parser that built the tree, or (strict) by
 * PRINT_MAX_DEPTH. */
static void put_value(struct printer *p, const json_t *v)
{
    if (p->strict && (p->rc || p->depth >= PRINT_MAX_DEPTH)) {
        p->rc = p->rc ? p->rc : KR_EINVAL;
        return;
    }
    p->depth++;
    put_node(p, v);
    p->depth--;
}

size_t kr_store_json_size(const json_t *v)
{
    struct printer p = {.buf = NULL};
    put_value(&p, v);
    return p.n;
}

int kr_store_json_print(const json_t *v, kr_buf *out)
{
    struct printer p = {.buf = out};
    put_value(&p, v);
    return p.rc;
}

int kr_store_json_print_strict(const json_t *v, kr_buf *out)
{
    struct printer p = {.buf = out, .strict = true};
    put_value(&p, v);
    return p.rc;
}

/* ---- options ---- */

int kr_store_keep_fields_parse(kr_store_t *s, const kr_store_opts *opts, kr_error_t *err)
{
    if (opts->n_keep_fields == 0)
        return 0;
    if (!opts->keep_fields)
        return kr_error_set(err, KR_EINVAL, "n_keep_fields is set but keep_fields is NULL");
    size_t n_always = KR_ARRAY_LEN(always_kept);
    size_t n = opts->n_keep_fields + n_always;
    struct field_path *keep = kr_calloc(n, sizeof(*keep));
    if (!keep)
        return kr_error_set(err, KR_ENOMEM, "out of memory creating a store");
    s->keep = keep;
    for (size_t i = 0; i < n; i++) {
        const char *text = i < n_always ? always_kept[i] : opts->keep_fields[i - n_always];
        if (!text)
            return kr_error_set(err, KR_EINVAL, "keep_fields[%zu] is NULL", i - n_always);
        int rc = path_parse(text, &keep[i], err);
        if (rc)
            return rc;
        s->n_keep++;
    }
    return 0;
}

void kr_store_keep_fields_free(kr_store_t *store)
{
    for (size_t i = 0; i < store->n_keep; i++)
        path_clear(&store->keep[i]);
    kr_free(store->keep);
    store->keep = NULL;
    store->n_keep = 0;
}
