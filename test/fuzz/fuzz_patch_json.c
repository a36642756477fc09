/* Fuzz target: JSON patch (RFC 6902). The input is a document and an
 * operation array, split at the first newline. Checks: only documented
 * error codes, nothing produced on failure, inputs never modified, a
 * result passes a "test" of itself, and merge create/apply round-trips
 * from the document to the result; as the apiserver applies it, the same
 * error codes, and whatever applies strictly applies alike (unless it adds,
 * moves or copies at the root, which the apiserver refuses, or tests a
 * value holding a whole number written as a real, 1.0, which the apiserver
 * never matches). abort() on a violation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile/patch.h"
#include "patch_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int has_null_member(const json_t *v)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            if (json_is_null(child) || has_null_member(child))
                return 1;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            if (has_null_member(child))
                return 1;
        }
    }
    return 0;
}

/* Each "copy" may double the document: past a few, an input only spends
 * the fuzzer's time on megabytes (the 3 MiB limit has its own unit test). */
static int too_many_copies(const json_t *ops)
{
    size_t i, copies = 0;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *name = json_string_value(json_object_get(op, "op"));
        copies += name && strcmp(name, "copy") == 0;
    }
    return copies > 6;
}

/* An "add", "move" or "copy" naming the root "" as path or source. */
static int root_add(const json_t *ops)
{
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *from = json_string_value(json_object_get(op, "from"));
        if (name && strcmp(name, "add") != 0 && strcmp(name, "move") != 0 &&
            strcmp(name, "copy") != 0)
            continue;
        if ((path && !*path) || (from && !*from))
            return 1;
    }
    return 0;
}

/* A "test" of a value holding 1.0 somewhere. */
static int whole_real_test(const json_t *ops)
{
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *name = json_string_value(json_object_get(op, "op"));
        if (name && strcmp(name, "test") == 0 &&
            kr_patch_has_whole_real(json_object_get(op, "value")))
            return 1;
    }
    return 0;
}

static int documented(int rc)
{
    return rc == KR_EPARSE || rc == KR_ENOTFOUND || rc == KR_ETESTFAILED || rc == KR_EPATCH ||
           rc == KR_ETOOLARGE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = memchr(data, '\n', size);
    if (!split)
        return 0;
    size_t doc_len = (size_t)(split - data);
    json_t *doc = json_loadb((const char *)data, doc_len, JSON_DECODE_ANY, NULL);
    json_t *ops = json_loadb((const char *)split + 1, size - doc_len - 1, JSON_DECODE_ANY, NULL);
    if (!doc || !ops || too_many_copies(ops))
        goto out;
    char *doc_text = json_dumps(doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    char *ops_text = json_dumps(ops, JSON_ENCODE_ANY | JSON_SORT_KEYS);

    json_t *result = NULL, *lax = NULL;
    kr_error_t err;
    int lax_rc = kr_patch_json_apply_as_apiserver(doc, ops, &lax, &err);
    if (lax_rc != 0 && (lax != NULL || err.code != lax_rc || !documented(lax_rc)))
        abort();
    int rc = kr_patch_json_apply(doc, ops, &result, &err);
    if (rc == 0 && !root_add(ops) && !whole_real_test(ops) &&
        (lax_rc != 0 || !json_equal(lax, result)))
        abort();
    json_decref(lax);
    if (rc != 0) {
        if (result != NULL || err.code != rc || err.message[0] == '\0')
            abort();
        if (!documented(rc))
            abort();
    } else {
        json_t *test = json_pack("[{s:s,s:s,s:O}]", "op", "test", "path", "", "value", result);
        json_t *same = NULL, *created = NULL, *round = NULL;
        if (test && kr_patch_json_apply(result, test, &same, &err) != 0)
            abort();
        if (kr_patch_merge_create(doc, result, &created, &err) != 0 ||
            kr_patch_merge_apply(doc, created, &round, &err) != 0)
            abort();
        if (!has_null_member(result) && !kr_patch_value_equal(round, result))
            abort();
        json_decref(test);
        json_decref(same);
        json_decref(created);
        json_decref(round);
        json_decref(result);
    }

    char *doc_after = json_dumps(doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    char *ops_after = json_dumps(ops, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (doc_text && doc_after && strcmp(doc_text, doc_after) != 0)
        abort();
    if (ops_text && ops_after && strcmp(ops_text, ops_after) != 0)
        abort();
    free(doc_text);
    free(ops_text);
    free(doc_after);
    free(ops_after);
out:
    json_decref(doc);
    json_decref(ops);
    return 0;
}
