/* libkreconcile — JSON merge patch (RFC 7386): apply, two-way creation and
 * the three-way creation kubectl apply uses for kinds without strategic
 * metadata. Inputs are borrowed and never modified; results are new. */
#include <stdbool.h>

#include "internal.h"
#include "kreconcile/patch.h"
#include "patch_util.h"

/* ---- apply ------------------------------------------------------------- */

static int merge_into(json_t *target, const json_t *patch, const kr_patch_path *path,
                      kr_error_t *err);

/* Drop the null members of every object in `v` (ours), at every depth;
 * null array elements stay. */
static void prune_nulls(json_t *v)
{
    if (json_is_object(v)) {
        const char *key;
        json_t *member;
        void *tmp;
        json_object_foreach_safe(v, tmp, key, member)
        {
            if (json_is_null(member))
                json_object_del(v, key);
            else
                prune_nulls(member);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            prune_nulls(item);
        }
    }
}

/* A patch value for a member the target lacks (or holds as a non-object):
 * RFC 7386 merges it into {}, which drops its nulls at every depth. An
 * array also loses the null members of its objects, as the apiserver's
 * merge patch (evanphx/json-patch v4) prunes it, unless it replaces an
 * object (`replaces_object`), where that library sets it as it is. */
static json_t *value_for_new_member(const json_t *value, bool replaces_object,
                                    const kr_patch_path *path, kr_error_t *err)
{
    if (!json_is_object(value)) {
        json_t *copy = json_deep_copy(value);
        if (!copy)
            kr_patch_path_error(err, KR_ENOMEM, path, "out of memory copying the patch value");
        else if (json_is_array(copy) && !replaces_object)
            prune_nulls(copy);
        return copy;
    }
    json_t *object = json_object();
    if (!object) {
        kr_patch_path_error(err, KR_ENOMEM, path, "out of memory copying the patch value");
        return NULL;
    }
    if (merge_into(object, value, path, err) != 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}

/* Merge the object `patch` into the object `target`, which we own. */
static int merge_into(json_t *target, const json_t *patch, const kr_patch_path *path,
                      kr_error_t *err)
{
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach((json_t *)patch, key, key_len, value)
    {
        kr_patch_path here = {path, key, key_len, 0};
        if (json_is_null(value)) {
            json_object_deln(target, key, key_len);
            continue;
        }
        json_t *existing = json_object_getn(target, key, key_len);
        if (json_is_object(value) && json_is_object(existing)) {
            int rc = merge_into(existing, value, &here, err);
            if (rc != 0)
                return rc;
            continue;
        }
        json_t *replacement = value_for_new_member(value, json_is_object(existing), &here, err);
        if (!replacement)
            return KR_ENOMEM;
        if (json_object_setn_new(target, key, key_len, replacement) != 0)
            return kr_patch_path_error(err, KR_ENOMEM, &here, "out of memory setting a member");
    }
    return 0;
}

/* Set `member` (stolen) under a key new to `result`. A NULL member is a
 * failure whose error is set already (it names the deepest path). 0, or -1
 * with the error set. */
static int put_member(json_t *result, const char *key, size_t key_len, json_t *member,
                      const kr_patch_path *here, kr_error_t *err)
{
    if (!member)
        return -1;
    if (json_object_setn_new_nocheck(result, key, key_len, member) != 0) {
        kr_patch_path_error(err, KR_ENOMEM, here, "out of memory merging");
        return -1;
    }
    return 0;
}

/* The merge of the object `patch` into the object `target` (borrowed), as a
 * new object: members the patch replaces are never copied from the target. */
static json_t *merged_copy(const json_t *target, const json_t *patch, const kr_patch_path *path,
                           kr_error_t *err)
{
    json_t *result = json_object();
    if (!result) {
        kr_patch_path_error(err, KR_ENOMEM, path, "out of memory merging");
        return NULL;
    }
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach((json_t *)target, key, key_len, value)
    {
        kr_patch_path here = {path, key, key_len, 0};
        const json_t *change = json_object_getn(patch, key, key_len);
        json_t *member;
        if (!change)
            member = json_deep_copy(value);
        else if (json_is_null(change))
            continue;
        else if (json_is_object(change) && json_is_object(value))
            member = merged_copy(value, change, &here, err);
        else
            member = value_for_new_member(change, json_is_object(value), &here, err);
        if (!member && !change)
            kr_patch_path_error(err, KR_ENOMEM, &here, "out of memory copying a value");
        if (put_member(result, key, key_len, member, &here, err) != 0) {
            json_decref(result);
            return NULL;
        }
    }
    json_object_keylen_foreach((json_t *)patch, key, key_len, value)
    {
        if (json_is_null(value) || json_object_getn(target, key, key_len))
            continue;
        kr_patch_path here = {path, key, key_len, 0};
        json_t *member = value_for_new_member(value, false, &here, err);
        if (put_member(result, key, key_len, member, &here, err) != 0) {
            json_decref(result);
            return NULL;
        }
    }
    return result;
}

KR_API int kr_patch_merge_apply(const json_t *document, const json_t *patch, json_t **out,
                                kr_error_t *err)
{
    if (!patch || !out)
        return kr_error_set(err, KR_EINVAL, "merge patch apply: patch and out are required");
    json_t *result;
    if (!json_is_object(patch)) {
        /* A non-object patch replaces the whole document (RFC 7386 section 2). */
        result = value_for_new_member(patch, false, NULL, err);
    } else if (json_is_object(document)) {
        result = merged_copy(document, patch, NULL, err);
    } else {
        result = value_for_new_member(patch, false, NULL, err);
    }
    if (!result)
        return KR_ENOMEM;
    *out = result;
    return 0;
}

/* ---- two-way creation ---------------------------------------------------- */

/* Adds to `patch` what turns the object `original` into the object `modified`. */
static int diff_objects(const json_t *original, const json_t *modified, json_t *patch,
                        const kr_patch_path *path, kr_error_t *err)
{
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach((json_t *)original, key, key_len, value)
    {
        if (json_object_getn(modified, key, key_len))
            continue;
        kr_patch_path here = {path, key, key_len, 0};
        if (json_object_setn_new(patch, key, key_len, json_null()) != 0)
            return kr_patch_path_error(err, KR_ENOMEM, &here, "out of memory building the patch");
    }
    json_object_keylen_foreach((json_t *)modified, key, key_len, value)
    {
        kr_patch_path here = {path, key, key_len, 0};
        const json_t *before = json_object_getn(original, key, key_len);
        json_t *change = NULL;
        if (json_is_object(before) && json_is_object(value)) {
            change = json_object();
            if (!change)
                return kr_patch_path_error(err, KR_ENOMEM, &here, "out of memory");
            int rc = diff_objects(before, value, change, &here, err);
            if (rc != 0) {
                json_decref(change);
                return rc;
            }
            if (json_object_size(change) == 0) {
                json_decref(change);
                continue;
            }
        } else if (before && kr_patch_value_equal(before, value)) {
            continue;
        } else {
            change = json_deep_copy(value);
            if (!change)
                return kr_patch_path_error(err, KR_ENOMEM, &here, "out of memory copying a value");
        }
        if (json_object_setn_new(patch, key, key_len, change) != 0)
            return kr_patch_path_error(err, KR_ENOMEM, &here, "out of memory building the patch");
    }
    return 0;
}

KR_API int kr_patch_merge_create(const json_t *original, const json_t *modified, json_t **out,
                                 kr_error_t *err)
{
    if (!original || !modified || !out)
        return kr_error_set(err, KR_EINVAL,
                            "merge patch create: original, modified and out are required");
    json_t *patch;
    if (!json_is_object(original) || !json_is_object(modified)) {
        /* Only an object patch merges; anything else must be the whole
         * new document, even when it equals the original ({} would turn
         * a non-object document into {}). */
        patch = json_deep_copy(modified);
        if (!patch)
            return kr_error_set(err, KR_ENOMEM, "out of memory copying the document");
        *out = patch;
        return 0;
    }
    patch = json_object();
    if (!patch)
        return kr_error_set(err, KR_ENOMEM, "out of memory creating the patch");
    int rc = diff_objects(original, modified, patch, NULL, err);
    if (rc != 0) {
        json_decref(patch);
        return rc;
    }
    *out = patch;
    return 0;
}

/* ---- three-way creation -------------------------------------------------- */

/* Filters a merge patch in place the way apimachinery's jsonmergepatch
 * does: keep_null keeps only deletions (nulls, and objects holding some);
 * otherwise keeps only additions and changes. An explicitly empty object is
 * a value, kept among changes; a nested object left empty by the filter is
 * an empty patch and is dropped. */
static void keep_or_drop_nulls(json_t *patch, bool keep_null)
{
    const char *key;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(patch, tmp, key, value)
    {
        bool keep;
        if (json_is_null(value)) {
            keep = keep_null;
        } else if (json_is_object(value)) {
            if (json_object_size(value) == 0) {
                keep = !keep_null;
            } else {
                keep_or_drop_nulls(value, keep_null);
                keep = json_object_size(value) != 0;
            }
        } else {
            keep = !keep_null;
        }
        if (!keep)
            json_object_del(patch, key);
    }
}

static int require_object(const json_t *doc, const char *name, kr_error_t *err)
{
    if (!doc)
        return kr_error_set(err, KR_EINVAL, "three-way merge patch: %s is required", name);
    if (!json_is_object(doc))
        return kr_patch_path_error(err, KR_EPATCH, NULL,
                                   "three-way merge patch: %s must be a JSON object", name);
    return 0;
}

KR_API int kr_patch_merge_three_way(const json_t *last_applied, const json_t *modified,
                                    const json_t *current, json_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "three-way merge patch: out is required");
    int rc = require_object(modified, "modified", err);
    if (rc == 0)
        rc = require_object(current, "current", err);
    if (rc == 0 && last_applied)
        rc = require_object(last_applied, "last-applied", err);
    if (rc != 0)
        return rc;

    json_t *changes = NULL, *deletions = NULL, *patch = NULL;
    /* Additions and changes: what turns the live object into the intent. */
    rc = kr_patch_merge_create(current, modified, &changes, err);
    if (rc != 0)
        goto out;
    keep_or_drop_nulls(changes, false);
    /* Deletions: only fields the user set before (last-applied) and has
     * removed since; fields others added are never in last-applied. */
    if (last_applied) {
        rc = kr_patch_merge_create(last_applied, modified, &deletions, err);
        if (rc != 0)
            goto out;
        keep_or_drop_nulls(deletions, true);
    } else {
        deletions = json_object();
        if (!deletions) {
            rc = kr_error_set(err, KR_ENOMEM, "out of memory creating the patch");
            goto out;
        }
    }
    /* The two cannot conflict: a deletion is a member absent from
     * modified, a change a member present in it. `changes` has no nulls,
     * so merging it keeps every deletion. */
    rc = kr_patch_merge_apply(deletions, changes, &patch, err);
    if (rc == 0)
        *out = patch;
out:
    json_decref(changes);
    json_decref(deletions);
    return rc;
}
