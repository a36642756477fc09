/* libkreconcile — what the store does to an object before caching it:
 * drop metadata.managedFields, keep only selected fields, run the user's
 * transform. Runs on the writing thread, outside the store's lock; never touches the
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
 * that meets an array keeps the whole array. Paths may come in any order:
 * a narrower one under a subtree already kept finds it there. */
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
    const json_t *mirror = src; /* where cur came from in src */
    for (size_t i = 0; i + 1 < depth; i++) {
        json_t *child = json_object_get(cur, path->tokens[i]);
        mirror = json_object_get(mirror, path->tokens[i]);
        if (child && child == mirror)
            return 0; /* a broader path kept this whole subtree: never write into src */
        if (child && !json_is_object(child))
            return 0;
        if (!child) {
            child = json_object();
            if (!child || json_object_set_new(cur, path->tokens[i], child) != 0)
                return KR_ENOMEM;
        }
        cur = child;
    }
    /* what is there already was copied from beneath this subtree (a
     * narrower path kept before): the whole subtree replaces it */
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
