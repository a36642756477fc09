/* libkreconcile — the apply of a desired object over a live one against a
 * last-applied annotation of the caller's choosing (kubectl apply's
 * algorithm; see kr_patch_last_applied in kreconcile/patch.h). Pure: no
 * I/O, no logging; inputs borrowed, results new. */
#include <string.h>

#include "internal.h"
#include "kreconcile/patch.h"

/* `desired` without `annotation`, then with it set to that object's own
 * compact JSON with sorted keys (stable text: an unchanged intent gives an
 * unchanged annotation, so it never makes a patch by itself). */
static int build_modified(const char *annotation, const json_t *desired, json_t **out,
                          kr_error_t *err)
{
    json_t *modified = json_deep_copy(desired);
    if (!modified)
        return kr_error_set(err, KR_ENOMEM, "out of memory copying the desired object");
    json_t *meta = json_object_get(modified, "metadata");
    json_t *annotations = json_object_get(meta, "annotations");
    json_object_del(annotations, annotation);
    if (json_is_object(annotations) && json_object_size(annotations) == 0)
        json_object_del(meta, "annotations");
    char *text = json_dumps(modified, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = text ? 0 : KR_ENOMEM;
    if (rc == 0 && !json_is_object(meta)) {
        meta = json_object();
        rc = meta && json_object_set_new(modified, "metadata", meta) == 0 ? 0 : KR_ENOMEM;
    }
    annotations = json_object_get(meta, "annotations");
    if (rc == 0 && !json_is_object(annotations)) {
        annotations = json_object();
        rc = annotations && json_object_set_new(meta, "annotations", annotations) == 0 ? 0
                                                                                       : KR_ENOMEM;
    }
    if (rc == 0 && json_object_set_new(annotations, annotation, json_string(text)) != 0)
        rc = KR_ENOMEM;
    kr_json_text_free(text);
    if (rc != 0) {
        json_decref(modified);
        return kr_error_set(err, rc, "out of memory building the modified object");
    }
    *out = modified;
    return 0;
}

/* The previous intent recorded in `current`'s annotation, or NULL. */
static json_t *last_applied_of(const json_t *current, const char *annotation)
{
    const json_t *annotations =
        json_object_get(json_object_get(current, "metadata"), "annotations");
    const char *text = json_string_value(json_object_get(annotations, annotation));
    if (!text)
        return NULL;
    json_t *doc = kr_json_loadb_server(text, strlen(text), 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

KR_API int kr_patch_last_applied(const kr_patch_schema_t *schema, const char *annotation,
                                 const json_t *desired, const json_t *current,
                                 json_t **modified_out, json_t **patch_out,
                                 kr_patch_format *format_out, kr_error_t *err)
{
    if (modified_out)
        *modified_out = NULL;
    if (!json_is_object(desired) || !annotation || !*annotation || !patch_out)
        return kr_error_set(err, KR_EINVAL, "an apply needs a desired object and an annotation");
    *patch_out = NULL;
    json_t *modified = NULL;
    int rc = build_modified(annotation, desired, &modified, err);
    if (rc != 0)
        return rc;
    const kr_patch_meta_t *meta =
        kr_patch_schema_find_for(schema ? schema : kr_patch_schema_builtin(), desired);
    kr_patch_format format = meta ? KR_PATCH_STRATEGIC : KR_PATCH_MERGE;
    if (format_out)
        *format_out = format;
    json_t *patch = NULL, *patched = NULL;
    if (current) {
        json_t *last = last_applied_of(current, annotation);
        rc = meta ? kr_patch_strategic_three_way(meta, last, modified, current, true, &patch, err)
                  : kr_patch_merge_three_way(last, modified, current, &patch, err);
        json_decref(last);
        /* A patch that changes nothing is not sent: compare its result
         * rather than its text, as directives such as $setElementOrder may
         * appear in a patch that leaves the object as it is. */
        if (rc == 0 && json_object_size(patch) > 0)
            rc = kr_patch_apply(format, meta, current, patch, &patched, err);
        if (rc == 0 && (json_object_size(patch) == 0 || json_equal(patched, current))) {
            json_decref(patch);
            patch = NULL;
        }
        json_decref(patched);
    }
    if (rc != 0) {
        json_decref(modified);
        json_decref(patch);
        return rc;
    }
    *patch_out = patch;
    if (modified_out)
        *modified_out = modified;
    else
        json_decref(modified);
    return 0;
}
