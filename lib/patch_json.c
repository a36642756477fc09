/* libkreconcile — JSON patch (RFC 6902) with RFC 6901 pointers. Works on a
 * deep copy of the document, so a failing operation leaves nothing behind;
 * never modifies its inputs.
 *
 * Where RFC 6902 leaves room, this follows the apiserver (evanphx/json-patch
 * v4): "test" of an absent member passes when the expected value is null.
 * Where the apiserver is laxer than the RFCs, kr_patch_json_apply is strict:
 * array indices must be "0" or digits without a leading zero (no sign, no
 * negative index from the end), "replace" needs an existing target, every
 * operation needs its members, a path is "" or starts with "/", and
 * "add"/"replace" at "" replace the whole document as RFC 6902 section 4.1
 * says. kr_patch_json_apply_as_apiserver is as lax as the apiserver (see
 * patch.h). The apiserver's size limits apply to both (KR_ETOOLARGE). */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/patch.h"
#include "patch_util.h"

/* The apiserver's limits (k8s.io/apiserver Config): at most 10000
 * operations, and "copy" may add at most 3 MiB of (serialised) JSON in all,
 * so that a short patch cannot double a document again and again. */
#define MAX_OPERATIONS 10000
#define MAX_COPY_BYTES (3 * 1024 * 1024)
/* Go's JSON decoder reads no deeper than this, so the apiserver can hold
 * nothing deeper; a patch that would nest deeper (copies of a value into
 * itself double its depth) is refused before the document is built,
 * which the recursive walks of a JSON tree could not survive. */
#define MAX_DEPTH 10000

enum op_kind { OP_ADD, OP_REMOVE, OP_REPLACE, OP_MOVE, OP_COPY, OP_TEST };

static const char *const op_names[] = {"add", "remove", "replace", "move", "copy", "test"};

/* A parsed pointer: tokens decoded in place in one buffer. */
typedef struct pointer {
    const char *text; /* as written in the operation (borrowed) */
    size_t text_len;
    char *buf;
    char **tokens;
    size_t *token_lens;
    size_t count;
} pointer;

/* Context for error messages: which operation, which member. */
typedef struct op_ctx {
    size_t index;
    const char *name;
    kr_error_t *err;
    size_t *copied; /* serialised bytes copied so far by "copy" operations */
    bool apiserver; /* evanphx/json-patch v4's leniencies (kr_patch_json_apply_as_apiserver) */
} op_ctx;

static int op_error(const op_ctx *ctx, int code, const pointer *ptr, size_t prefix_tokens,
                    const char *fmt, ...) KR_PRINTF(5, 6);

/* Length of the first `tokens` tokens of the pointer as written. */
static size_t prefix_length(const pointer *ptr, size_t tokens)
{
    size_t seen = 0;
    for (size_t i = 0; i < ptr->text_len; i++) {
        if (ptr->text[i] == '/' && seen++ == tokens)
            return i;
    }
    return ptr->text_len;
}

/* "json patch operation 3 (move): path "/a/b": <what> [at /a]" */
static int op_error(const op_ctx *ctx, int code, const pointer *ptr, size_t prefix_tokens,
                    const char *fmt, ...)
{
    if (!ctx->err)
        return code;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (!ptr)
        return kr_error_set(ctx->err, code, "json patch operation %zu (%s): %s", ctx->index,
                            ctx->name, what);
    int len = (int)(ptr->text_len > 400 ? 400 : ptr->text_len);
    if (prefix_tokens >= ptr->count)
        return kr_error_set(ctx->err, code, "json patch operation %zu (%s): path \"%.*s\": %s",
                            ctx->index, ctx->name, len, ptr->text, what);
    int plen = (int)prefix_length(ptr, prefix_tokens);
    if (plen > len)
        plen = len;
    return kr_error_set(ctx->err, code,
                        "json patch operation %zu (%s): path \"%.*s\": %s at \"%.*s\"", ctx->index,
                        ctx->name, len, ptr->text, what, plen, ptr->text);
}

static void pointer_free(pointer *ptr)
{
    kr_free(ptr->buf);
    kr_free(ptr->tokens);
    kr_free(ptr->token_lens);
    memset(ptr, 0, sizeof(*ptr));
}

/* Parse the string member `member` ("path" or "from") of `op`. */
static int pointer_parse(const json_t *op, const char *member, const op_ctx *ctx, pointer *ptr)
{
    memset(ptr, 0, sizeof(*ptr));
    const json_t *value = json_object_get(op, member);
    if (!value)
        return op_error(ctx, KR_EPARSE, NULL, 0, "missing \"%s\"", member);
    if (!json_is_string(value))
        return op_error(ctx, KR_EPARSE, NULL, 0, "\"%s\" must be a string", member);
    const char *text = json_string_value(value);
    size_t len = json_string_length(value);
    ptr->text = text;
    ptr->text_len = len;
    if (len == 0)
        return 0;
    if (text[0] != '/')
        return op_error(ctx, KR_EPARSE, ptr, SIZE_MAX,
                        "a JSON pointer must be empty or start with \"/\"");
    size_t count = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '/')
            count++;
        else if (text[i] == '~' && (i + 1 == len || (text[i + 1] != '0' && text[i + 1] != '1')) &&
                 !ctx->apiserver) /* the apiserver keeps a lone "~" as it is */
            return op_error(ctx, KR_EPARSE, ptr, SIZE_MAX,
                            "\"~\" must be followed by \"0\" or \"1\" in a JSON pointer");
    }
    ptr->buf = kr_malloc(len + 1);
    ptr->tokens = kr_calloc(count, sizeof(*ptr->tokens));
    ptr->token_lens = kr_calloc(count, sizeof(*ptr->token_lens));
    if (!ptr->buf || !ptr->tokens || !ptr->token_lens) {
        pointer_free(ptr);
        return op_error(ctx, KR_ENOMEM, NULL, 0, "out of memory parsing \"%s\"", member);
    }
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '/') {
            ptr->buf[out++] = '\0';
            ptr->tokens[ptr->count] = ptr->buf + out;
            ptr->token_lens[ptr->count] = 0;
            ptr->count++;
            continue;
        }
        char c = text[i];
        if (c == '~' && i + 1 < len && (text[i + 1] == '0' || text[i + 1] == '1'))
            c = text[++i] == '0' ? '~' : '/';
        ptr->buf[out++] = c;
        ptr->token_lens[ptr->count - 1]++;
    }
    ptr->buf[out] = '\0';
    return 0;
}

/* The array index named by token `t` of `ptr`; *end for "-" (past the
 * last element). Strict RFC 6901: "0" or a digit string without a leading
 * zero. As the apiserver (Go's strconv.Atoi): an optional sign, leading
 * zeros, and a negative index counting from the end (resolved by
 * array_index). */
static int parse_index(const pointer *ptr, size_t t, const op_ctx *ctx, long long *index, bool *end)
{
    const char *s = ptr->tokens[t];
    size_t len = ptr->token_lens[t];
    int shown = (int)(len > 64 ? 64 : len);
    *end = len == 1 && s[0] == '-';
    if (*end)
        return 0;
    bool negative = false;
    size_t i = 0;
    if (ctx->apiserver && len > 1 && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        i = 1;
    } else if (len == 0 || (len > 1 && s[0] == '0' && !ctx->apiserver)) {
        return op_error(ctx, KR_EPARSE, ptr, t + 1, "invalid array index \"%.*s\"", shown, s);
    }
    long long value = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return op_error(ctx, KR_EPARSE, ptr, t + 1, "invalid array index \"%.*s\"", shown, s);
        if (value > (LLONG_MAX - 9) / 10)
            return op_error(ctx, KR_ENOTFOUND, ptr, t + 1, "array index out of range");
        value = value * 10 + (s[i] - '0');
    }
    *index = negative ? -value : value;
    return 0;
}

/* A parsed index into an array of `size` elements (size + 1 for "add"): a
 * negative one counts from the end (the apiserver only; strict parsing
 * never yields one). Out of range stays out of range, as a negative. */
static long long array_index(long long index, size_t size)
{
    if (index >= 0)
        return index;
    return -index > (long long)size ? -1 : index + (long long)size;
}

/* Find the value holding the last token of `ptr` (count >= 1). */
static int resolve_parent(json_t *doc, const pointer *ptr, const op_ctx *ctx, json_t **parent)
{
    json_t *at = doc;
    for (size_t t = 0; t + 1 < ptr->count; t++) {
        json_t *next = NULL;
        if (json_is_object(at)) {
            next = json_object_getn(at, ptr->tokens[t], ptr->token_lens[t]);
        } else if (json_is_array(at)) {
            long long index = 0;
            bool end = false;
            int rc = parse_index(ptr, t, ctx, &index, &end);
            if (rc != 0)
                return rc;
            index = end ? -1 : array_index(index, json_array_size(at));
            if (index >= 0 && (size_t)index < json_array_size(at))
                next = json_array_get(at, (size_t)index);
        } else {
            return op_error(ctx, KR_EPATCH, ptr, t, "%s is neither an object nor an array",
                            json_is_null(at) ? "null" : "a scalar");
        }
        if (!next)
            return op_error(ctx, KR_ENOTFOUND, ptr, t + 1, "no such value");
        at = next;
    }
    if (!json_is_object(at) && !json_is_array(at))
        return op_error(ctx, KR_EPATCH, ptr, ptr->count - 1, "%s is neither an object nor an array",
                        json_is_null(at) ? "null" : "a scalar");
    *parent = at;
    return 0;
}

#define LAST(ptr) ((ptr)->count - 1)

/* The value at `ptr` (borrowed), which must exist. */
static int get_value(json_t *doc, const pointer *ptr, const op_ctx *ctx, json_t **value)
{
    if (ptr->count == 0) {
        *value = doc;
        return 0;
    }
    json_t *parent = NULL;
    int rc = resolve_parent(doc, ptr, ctx, &parent);
    if (rc != 0)
        return rc;
    json_t *found = NULL;
    if (json_is_object(parent)) {
        found = json_object_getn(parent, ptr->tokens[LAST(ptr)], ptr->token_lens[LAST(ptr)]);
    } else {
        long long index = 0;
        bool end = false;
        rc = parse_index(ptr, LAST(ptr), ctx, &index, &end);
        if (rc != 0)
            return rc;
        index = end ? -1 : array_index(index, json_array_size(parent));
        if (index >= 0 && (size_t)index < json_array_size(parent))
            found = json_array_get(parent, (size_t)index);
    }
    if (!found)
        return op_error(ctx, KR_ENOTFOUND, ptr, SIZE_MAX, "no such value");
    *value = found;
    return 0;
}

/* get_value, but an absent member of an object is null: what the
 * apiserver copies from a missing member. */
static int get_member_or_null(json_t *doc, const pointer *ptr, const op_ctx *ctx, json_t **value)
{
    op_ctx quiet = *ctx; /* a failure is get_value's to report */
    quiet.err = NULL;
    json_t *parent = NULL;
    if (ptr->count > 0 && resolve_parent(doc, ptr, &quiet, &parent) == 0 &&
        json_is_object(parent) &&
        !json_object_getn(parent, ptr->tokens[LAST(ptr)], ptr->token_lens[LAST(ptr)])) {
        *value = json_null();
        return 0;
    }
    return get_value(doc, ptr, ctx, value);
}

/* resolve_parent for the operations that bring a value (stolen): on
 * failure the value is released. */
static int resolve_parent_taking(json_t *doc, const pointer *ptr, const op_ctx *ctx,
                                 json_t **parent, json_t *value)
{
    int rc = resolve_parent(doc, ptr, ctx, parent);
    if (rc != 0)
        json_decref(value);
    return rc;
}

/* Add `value` (stolen) at `ptr`; *doc changes when the root is replaced. */
static int add_value(json_t **doc, const pointer *ptr, json_t *value, const op_ctx *ctx)
{
    if (ptr->count == 0 && ctx->apiserver) {
        json_decref(value);
        return op_error(ctx, KR_ENOTFOUND, ptr, SIZE_MAX, "the document has no such path");
    }
    if (ptr->count == 0) {
        json_decref(*doc);
        *doc = value;
        return 0;
    }
    json_t *parent = NULL;
    int rc = resolve_parent_taking(*doc, ptr, ctx, &parent, value);
    if (rc != 0)
        return rc;
    if (json_is_object(parent)) {
        if (json_object_setn_new(parent, ptr->tokens[LAST(ptr)], ptr->token_lens[LAST(ptr)],
                                 value) != 0)
            return op_error(ctx, KR_ENOMEM, ptr, SIZE_MAX, "out of memory adding a member");
        return 0;
    }
    long long index = 0;
    bool end = false;
    rc = parse_index(ptr, LAST(ptr), ctx, &index, &end);
    if (rc != 0) {
        json_decref(value);
        return rc;
    }
    size_t size = json_array_size(parent);
    if (!end)
        index = array_index(index, size + 1);
    if (!end && (index < 0 || index > (long long)size)) {
        json_decref(value);
        return op_error(ctx, KR_ENOTFOUND, ptr, SIZE_MAX,
                        "array index out of bounds (the array has %zu elements)", size);
    }
    rc = end ? json_array_append_new(parent, value)
             : json_array_insert_new(parent, (size_t)index, value);
    if (rc != 0)
        return op_error(ctx, KR_ENOMEM, ptr, SIZE_MAX, "out of memory adding an element");
    return 0;
}

/* Remove the value at `ptr` (count >= 1), which must exist. */
static int remove_value(json_t *doc, const pointer *ptr, const op_ctx *ctx)
{
    json_t *parent = NULL;
    int rc = resolve_parent(doc, ptr, ctx, &parent);
    if (rc != 0)
        return rc;
    if (json_is_object(parent)) {
        if (json_object_deln(parent, ptr->tokens[LAST(ptr)], ptr->token_lens[LAST(ptr)]) != 0)
            return op_error(ctx, KR_ENOTFOUND, ptr, SIZE_MAX, "no such member");
        return 0;
    }
    long long index = 0;
    bool end = false;
    rc = parse_index(ptr, LAST(ptr), ctx, &index, &end);
    if (rc != 0)
        return rc;
    index = end ? -1 : array_index(index, json_array_size(parent));
    if (index < 0 || (size_t)index >= json_array_size(parent))
        return op_error(ctx, KR_ENOTFOUND, ptr, SIZE_MAX, "no such array element");
    json_array_remove(parent, (size_t)index);
    return 0;
}

static int replace_value(json_t **doc, const pointer *ptr, json_t *value, const op_ctx *ctx)
{
    if (ptr->count == 0) {
        json_decref(*doc);
        *doc = value;
        return 0;
    }
    json_t *parent = NULL;
    int rc = resolve_parent_taking(*doc, ptr, ctx, &parent, value);
    if (rc != 0)
        return rc;
    if (json_is_object(parent)) {
        const char *key = ptr->tokens[LAST(ptr)];
        size_t key_len = ptr->token_lens[LAST(ptr)];
        if (!json_object_getn(parent, key, key_len) && !ctx->apiserver) {
            json_decref(value);
            return op_error(ctx, KR_ENOTFOUND, ptr, SIZE_MAX, "no such member");
        }
        if (json_object_setn_new(parent, key, key_len, value) != 0)
            return op_error(ctx, KR_ENOMEM, ptr, SIZE_MAX, "out of memory");
        return 0;
    }
    long long index = 0;
    bool end = false;
    rc = parse_index(ptr, LAST(ptr), ctx, &index, &end);
    if (rc == 0)
        index = end ? -1 : array_index(index, json_array_size(parent));
    if (rc != 0 || index < 0 || (size_t)index >= json_array_size(parent)) {
        json_decref(value);
        return rc != 0 ? rc : op_error(ctx, KR_ENOTFOUND, ptr, SIZE_MAX, "no such array element");
    }
    if (json_array_set_new(parent, (size_t)index, value) != 0)
        return op_error(ctx, KR_ENOMEM, ptr, SIZE_MAX, "out of memory");
    return 0;
}

/* "test": the apiserver lets an absent object member match null. */
static int test_value(json_t *doc, const pointer *ptr, const json_t *expected, const op_ctx *ctx)
{
    json_t *actual = NULL;
    if (ptr->count == 0) {
        actual = doc;
    } else {
        json_t *parent = NULL;
        int rc = resolve_parent(doc, ptr, ctx, &parent);
        if (rc != 0)
            return rc;
        if (json_is_object(parent)) {
            actual = json_object_getn(parent, ptr->tokens[LAST(ptr)], ptr->token_lens[LAST(ptr)]);
            if (!actual && json_is_null(expected))
                return 0;
            if (!actual)
                return op_error(ctx, KR_ETESTFAILED, ptr, SIZE_MAX, "test failed: no such member");
        } else {
            rc = get_value(doc, ptr, ctx, &actual);
            if (rc != 0)
                return rc;
        }
    }
    /* Numbers are equal when their values are (RFC 6902 4.6): 1 is 1.0.
     * The apiserver compares a scalar's text, and its documents, printed
     * by Go, never hold "1.0": a value written so never matches there. */
    if (!kr_patch_value_equal(actual, expected) ||
        (ctx->apiserver && kr_patch_has_whole_real(expected)))
        return op_error(ctx, KR_ETESTFAILED, ptr, SIZE_MAX, "test failed: the value differs");
    return 0;
}

/* True when `path` names a descendant of `from` (not `from` itself). */
static bool is_proper_prefix(const pointer *from, const pointer *path)
{
    if (from->count >= path->count)
        return false;
    for (size_t t = 0; t < from->count; t++) {
        if (from->token_lens[t] != path->token_lens[t] ||
            memcmp(from->tokens[t], path->tokens[t], from->token_lens[t]) != 0)
            return false;
    }
    return true;
}

/* The compact JSON size of `value`, or more than `budget` as soon as it
 * exceeds it (the walk stops early). */
static size_t serialised_size(const json_t *value, size_t budget)
{
    size_t size = 2;
    if (json_is_object(value)) {
        const char *key;
        size_t key_len;
        json_t *member;
        json_object_keylen_foreach((json_t *)value, key, key_len, member)
        {
            if (size > budget)
                break;
            size += key_len + 4 + serialised_size(member, budget - size);
        }
    } else if (json_is_array(value)) {
        size_t i;
        json_t *element;
        json_array_foreach(value, i, element)
        {
            if (size > budget)
                break;
            size += 1 + serialised_size(element, budget - size);
        }
    } else if (json_is_string(value)) {
        size += json_string_length(value);
    } else {
        size = json_is_number(value) ? 8 : 5;
    }
    return size;
}

/* An operation's "value"; the apiserver reads a missing one of "add" and
 * "replace" as null (`lenient`). */
static int required_value(const json_t *op, const op_ctx *ctx, bool lenient, const json_t **value)
{
    *value = json_object_get(op, "value");
    if (!*value && lenient && ctx->apiserver)
        *value = json_null();
    if (!*value)
        return op_error(ctx, KR_EPARSE, NULL, 0, "missing \"value\"");
    return 0;
}

static int copy_of(const json_t *value, const op_ctx *ctx, json_t **copy)
{
    *copy = json_deep_copy(value);
    if (!*copy)
        return op_error(ctx, KR_ENOMEM, NULL, 0, "out of memory copying a value");
    return 0;
}

/* The nesting of `v` (a scalar 0, [] 1, [[]] 2), counted no further than
 * limit + 1: enough to know it is past `limit`. */
static size_t nesting(const json_t *v, size_t limit)
{
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (limit == 0)
        return 1;
    size_t deepest = 0, i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            size_t d = nesting(x, limit - 1);
            deepest = d > deepest ? d : deepest;
            if (deepest >= limit)
                break;
        }
    } else {
        json_object_foreach((json_t *)v, k, x)
        {
            size_t d = nesting(x, limit - 1);
            deepest = d > deepest ? d : deepest;
            if (deepest >= limit)
                break;
        }
    }
    return deepest + 1;
}

/* 0 when `value` placed at `path` nests no deeper than MAX_DEPTH. */
static int depth_check(const pointer *path, const json_t *value, const op_ctx *ctx)
{
    if (path->count <= MAX_DEPTH &&
        nesting(value, MAX_DEPTH - path->count) <= MAX_DEPTH - path->count)
        return 0;
    return op_error(ctx, KR_ETOOLARGE, path, SIZE_MAX,
                    "the document would nest deeper than %d levels", MAX_DEPTH);
}

static int apply_one(json_t **doc, const json_t *op, enum op_kind kind, const op_ctx *ctx)
{
    pointer path, from = {0};
    const json_t *value = NULL;
    json_t *owned = NULL;
    int rc = pointer_parse(op, "path", ctx, &path);
    if (rc != 0)
        return rc;
    switch (kind) {
    case OP_ADD:
    case OP_REPLACE:
        rc = required_value(op, ctx, true, &value);
        if (rc == 0)
            rc = depth_check(&path, value, ctx);
        if (rc == 0)
            rc = copy_of(value, ctx, &owned);
        if (rc == 0)
            rc = kind == OP_ADD ? add_value(doc, &path, owned, ctx)
                                : replace_value(doc, &path, owned, ctx);
        break;
    case OP_REMOVE:
        if (path.count == 0)
            rc = op_error(ctx, KR_EPATCH, &path, SIZE_MAX, "cannot remove the whole document");
        else
            rc = remove_value(*doc, &path, ctx);
        break;
    case OP_TEST:
        rc = required_value(op, ctx, false, &value);
        if (rc == 0)
            rc = test_value(*doc, &path, value, ctx);
        break;
    case OP_MOVE:
    case OP_COPY: {
        rc = pointer_parse(op, "from", ctx, &from);
        json_t *source = NULL;
        if (rc == 0 && ctx->apiserver && (from.count == 0 || path.count == 0))
            rc = op_error(ctx, KR_ENOTFOUND, from.count == 0 ? &from : &path, SIZE_MAX,
                          "the document has no such path");
        if (rc == 0 && kind == OP_COPY && ctx->apiserver)
            rc = get_member_or_null(*doc, &from, ctx, &source);
        else if (rc == 0)
            rc = get_value(*doc, &from, ctx, &source);
        if (rc == 0)
            rc = depth_check(&path, source, ctx);
        if (rc != 0)
            break;
        if (kind == OP_COPY) {
            *ctx->copied += serialised_size(source, MAX_COPY_BYTES - *ctx->copied);
            if (*ctx->copied > MAX_COPY_BYTES) {
                rc = op_error(ctx, KR_ETOOLARGE, &path, SIZE_MAX,
                              "copy operations would add more than %d bytes", MAX_COPY_BYTES);
                break;
            }
            rc = copy_of(source, ctx, &owned);
            if (rc == 0)
                rc = add_value(doc, &path, owned, ctx);
            break;
        }
        if (is_proper_prefix(&from, &path)) {
            rc = op_error(ctx, KR_EPATCH, &path, SIZE_MAX,
                          "cannot move a value into one of its own children (from \"%.*s\")",
                          (int)(from.text_len > 200 ? 200 : from.text_len), from.text);
            break;
        }
        if (from.text_len == path.text_len &&
            (from.text_len == 0 || memcmp(from.text, path.text, from.text_len) == 0))
            break; /* moving a value onto itself changes nothing */
        /* from is not the root here: the root is a prefix of every other path */
        json_incref(source);
        rc = remove_value(*doc, &from, ctx);
        if (rc == 0)
            rc = add_value(doc, &path, source, ctx);
        else
            json_decref(source);
        break;
    }
    }
    pointer_free(&path);
    pointer_free(&from);
    return rc;
}

static int parse_op(const json_t *op, size_t index, kr_error_t *err, enum op_kind *kind)
{
    if (!json_is_object(op))
        return kr_error_set(err, KR_EPARSE, "json patch operation %zu: not a JSON object", index);
    const json_t *name = json_object_get(op, "op");
    if (!json_is_string(name))
        return kr_error_set(err, KR_EPARSE, "json patch operation %zu: \"op\" %s", index,
                            name ? "must be a string" : "is missing");
    for (size_t i = 0; i < KR_ARRAY_LEN(op_names); i++) {
        if (strcmp(json_string_value(name), op_names[i]) == 0 &&
            json_string_length(name) == strlen(op_names[i])) {
            *kind = (enum op_kind)i;
            return 0;
        }
    }
    return kr_error_set(err, KR_EPARSE, "json patch operation %zu: unknown op \"%.64s\"", index,
                        json_string_value(name));
}

static int apply_all(const json_t *document, const json_t *ops, bool apiserver, json_t **out,
                     kr_error_t *err)
{
    if (!document || !ops || !out)
        return kr_error_set(err, KR_EINVAL, "json patch: document, ops and out are required");
    /* The apiserver decodes a null patch as no operations at all. */
    if (!json_is_array(ops) && !(apiserver && json_is_null(ops)))
        return kr_error_set(err, KR_EPARSE, "json patch: the patch must be a JSON array");
    if (json_array_size(ops) > MAX_OPERATIONS)
        return kr_error_set(err, KR_ETOOLARGE, "json patch: %zu operations, more than %d",
                            json_array_size(ops), MAX_OPERATIONS);
    json_t *doc = json_deep_copy(document);
    if (!doc)
        return kr_error_set(err, KR_ENOMEM, "json patch: out of memory copying the document");
    size_t copied = 0;
    size_t index;
    const json_t *op;
    json_array_foreach(ops, index, op)
    {
        enum op_kind kind = OP_TEST;
        int rc = parse_op(op, index, err, &kind);
        if (rc == 0) {
            op_ctx ctx = {index, op_names[kind], err, &copied, apiserver};
            rc = apply_one(&doc, op, kind, &ctx);
        }
        if (rc != 0) {
            json_decref(doc);
            return rc;
        }
    }
    *out = doc;
    return 0;
}

KR_API int kr_patch_json_apply(const json_t *document, const json_t *ops, json_t **out,
                               kr_error_t *err)
{
    return apply_all(document, ops, false, out, err);
}

KR_API int kr_patch_json_apply_as_apiserver(const json_t *document, const json_t *ops, json_t **out,
                                            kr_error_t *err)
{
    return apply_all(document, ops, true, out, err);
}
