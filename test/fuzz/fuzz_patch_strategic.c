/* Fuzz target: strategic merge patch. The input is a document and a patch,
 * split at the first newline; the first byte picks the metadata (the
 * document's own kind, a Pod, or none). Runs apply, two-way and three-way
 * creation on them. Checks: no crash or leak, inputs never modified,
 * results deterministic, successful applies give objects. abort() on a
 * violation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile/patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const kr_patch_meta_t *pick_meta(uint8_t selector, const json_t *doc)
{
    const kr_patch_schema_t *builtin = kr_patch_schema_builtin();
    switch (selector % 3) {
    case 0:
        return kr_patch_schema_find_for(builtin, doc);
    case 1:
        return kr_patch_schema_find(builtin, "v1", "Pod");
    default:
        return NULL;
    }
}

static char *dump(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
}

static void check_same(const char *before, const json_t *v)
{
    char *after = dump(v);
    if ((before == NULL) != (after == NULL) || (before && strcmp(before, after) != 0))
        abort();
    free(after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t selector = data[0];
    data++;
    size--;
    const uint8_t *split = memchr(data, '\n', size);
    size_t doc_len = split ? (size_t)(split - data) : size;
    json_t *doc = json_loadb((const char *)data, doc_len, JSON_DECODE_ANY, NULL);
    json_t *patch =
        split ? json_loadb((const char *)split + 1, size - doc_len - 1, JSON_DECODE_ANY, NULL)
              : json_incref(doc);
    json_t *out = NULL, *again = NULL, *created = NULL, *three = NULL;
    char *doc_text = NULL, *patch_text = NULL;
    if (!doc || !patch)
        goto out;
    doc_text = dump(doc);
    patch_text = dump(patch);
    const kr_patch_meta_t *meta = pick_meta(selector, doc);
    kr_error_t err = {0};
    int rc = kr_patch_strategic_apply(meta, doc, patch, &out, &err);
    if (rc == 0 && !json_is_object(out))
        abort();
    if (rc != 0 && (out || err.code != rc || !err.message[0]))
        abort();
    int rc2 = kr_patch_strategic_apply(meta, doc, patch, &again, NULL);
    if (rc2 != rc || (rc == 0 && !json_equal(out, again)))
        abort();
    if (rc == 0) {
        if (kr_patch_strategic_create(meta, doc, out, &created, NULL) == 0 &&
            !json_is_object(created))
            abort();
        kr_patch_strategic_three_way(meta, doc, out, doc, selector & 8, &three, NULL);
        json_decref(three);
        three = NULL;
        kr_patch_strategic_three_way(meta, NULL, patch, doc, true, &three, NULL);
    }
    check_same(doc_text, doc);
    check_same(patch_text, patch);
out:
    free(doc_text);
    free(patch_text);
    json_decref(doc);
    json_decref(patch);
    json_decref(out);
    json_decref(again);
    json_decref(created);
    json_decref(three);
    return 0;
}
