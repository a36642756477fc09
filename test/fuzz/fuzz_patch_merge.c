/* Fuzz target: JSON merge patch. The input is a document and a patch, split
 * at the first newline. Checks: apply never fails on valid JSON, is
 * idempotent, create/apply round-trips, three-way deletes only what
 * last-applied held, and inputs are never modified. abort() on a violation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile/patch.h"
#include "patch_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A merge patch cannot set a member to null, so round trips skip those. */
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

static void check_deletions(const json_t *patch, const json_t *last)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)patch, key, value)
    {
        const json_t *before = json_object_get(last, key);
        if (json_is_null(value) && !before)
            abort();
        if (json_is_object(value))
            check_deletions(value, json_is_object(before) ? before : NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *split = memchr(data, '\n', size);
    size_t doc_len = split ? (size_t)(split - data) : size;
    json_t *doc = json_loadb((const char *)data, doc_len, JSON_DECODE_ANY, NULL);
    json_t *patch =
        split ? json_loadb((const char *)split + 1, size - doc_len - 1, JSON_DECODE_ANY, NULL)
              : json_incref(doc);
    if (!doc || !patch)
        goto out;
    char *doc_text = json_dumps(doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    char *patch_text = json_dumps(patch, JSON_ENCODE_ANY | JSON_SORT_KEYS);

    json_t *result = NULL, *again = NULL, *created = NULL, *round = NULL, *three = NULL;
    kr_error_t err;
    if (kr_patch_merge_apply(doc, patch, &result, &err) != 0)
        abort();
    /* Merge patches are idempotent, but for an array of objects with null
     * members that first replaced an object (set as it is, then pruned the
     * second time, as the apiserver's merge patch does). */
    if (kr_patch_merge_apply(result, patch, &again, &err) != 0 ||
        (!has_null_member(result) && !json_equal(again, result)))
        abort();
    if (kr_patch_merge_create(doc, result, &created, &err) != 0)
        abort();
    if (kr_patch_merge_apply(doc, created, &round, &err) != 0)
        abort();
    if (!has_null_member(result) && !kr_patch_value_equal(round, result))
        abort();
    if (json_is_object(doc) && json_is_object(result) && json_is_object(patch)) {
        if (kr_patch_merge_three_way(doc, result, patch, &three, &err) != 0)
            abort();
        check_deletions(three, doc);
    }

    char *doc_after = json_dumps(doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    char *patch_after = json_dumps(patch, JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (doc_text && doc_after && strcmp(doc_text, doc_after) != 0)
        abort();
    if (patch_text && patch_after && strcmp(patch_text, patch_after) != 0)
        abort();
    free(doc_text);
    free(patch_text);
    free(doc_after);
    free(patch_after);
    json_decref(result);
    json_decref(again);
    json_decref(created);
    json_decref(round);
    json_decref(three);
out:
    json_decref(doc);
    json_decref(patch);
    return 0;
}
