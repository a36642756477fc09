/* libkreconcile — patch engines: JSON merge patch (RFC 7386), Kubernetes
 * strategic merge patch, JSON patch (RFC 6902), and patch creation (two-way
 * and three-way, as kubectl apply computes it).
 *
 * Every function here is pure: no I/O, no logging, no global state. Input
 * documents are borrowed and never modified; results are new references
 * that the caller owns (json_decref). All functions are safe to call from
 * any thread concurrently. On failure they return a negative KR_E* code,
 * leave *out untouched (NULL), and fill `err` (may be NULL) with a message
 * that names the JSON path where the problem is. */
#ifndef KRECONCILE_PATCH_H
#define KRECONCILE_PATCH_H

#include <jansson.h>
#include <stdbool.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The wire formats the apiserver accepts for PATCH. */
typedef enum kr_patch_format {
    KR_PATCH_JSON = 1, /* application/json-patch+json (RFC 6902) */
    KR_PATCH_MERGE = 2, /* application/merge-patch+json (RFC 7386) */
    KR_PATCH_STRATEGIC = 3, /* application/strategic-merge-patch+json */
    KR_PATCH_APPLY = 4, /* application/apply-patch+yaml (server-side apply) */
} kr_patch_format;

/* The Content-Type of `format`, a static string; NULL for an unknown value. */
KR_API const char *kr_patch_content_type(kr_patch_format format);
/* The format named by a Content-Type header value (parameters such as
 * "; charset=utf-8" are ignored); 0 when it names none. */
KR_API kr_patch_format kr_patch_format_from_content_type(const char *content_type);

/* ---- Patch metadata (schemas) ----------------------------------------- */

/* A table of patch metadata in the format of k8s-patch-metadata.json:
 * "kinds" (apiVersion/kind -> definition) and "definitions" (definition ->
 * field -> {list, map, ref, patchStrategy, patchMergeKey, ...}). */
typedef struct kr_patch_schema kr_patch_schema_t;
/* The metadata of one definition (a kind, or a nested type). Borrowed from
 * its schema; valid as long as the schema is. */
typedef struct kr_patch_meta kr_patch_meta_t;

/* The built-in schema of the Kubernetes 1.32 built-in kinds, compiled into
 * the library. Borrowed and immutable; never free it. [any thread] */
KR_API const kr_patch_schema_t *kr_patch_schema_builtin(void);

/* Build a schema from a user table (borrowed). Kinds and definitions it does
 * not define are looked up in `fallback` (borrowed; may be NULL; it must
 * outlive the new schema), so a user table can add custom resources to the
 * built-in one. *out is new: free it with kr_patch_schema_free().
 * Errors: KR_EPARSE for a table not in the documented format, KR_ENOMEM. */
KR_API int kr_patch_schema_new(const json_t *table, const kr_patch_schema_t *fallback,
                               kr_patch_schema_t **out, kr_error_t *err);
/* The same, reading the table from a JSON file. Adds KR_EIO. */
KR_API int kr_patch_schema_load_file(const char *path, const kr_patch_schema_t *fallback,
                                     kr_patch_schema_t **out, kr_error_t *err);
/* Free a schema from kr_patch_schema_new/_load_file. NULL is a no-op. */
KR_API void kr_patch_schema_free(kr_patch_schema_t *schema);

/* The metadata for apiVersion + kind ("apps/v1", "Deployment"), or NULL when
 * the kind is unknown (a custom resource without a user table). Borrowed. */
KR_API const kr_patch_meta_t *kr_patch_schema_find(const kr_patch_schema_t *schema,
                                                   const char *api_version, const char *kind);
/* The metadata for a key of the table's "kinds" ("apps/v1/Deployment"), or NULL. */
KR_API const kr_patch_meta_t *kr_patch_schema_find_key(const kr_patch_schema_t *schema,
                                                       const char *kinds_key);
/* The metadata for a document's own apiVersion and kind, or NULL. */
KR_API const kr_patch_meta_t *kr_patch_schema_find_for(const kr_patch_schema_t *schema,
                                                       const json_t *document);

/* ---- JSON merge patch (RFC 7386) --------------------------------------- */

/* Apply `patch` to `document`: objects merge recursively, null deletes,
 * everything else (arrays included) replaces; a NULL document is JSON null.
 * As the apiserver applies a merge patch (evanphx/json-patch v4), an array
 * set in place of anything but an object also loses the null members of
 * the objects inside it ({"a":[{"x":null,"y":1}]} sets a to [{"y":1}]),
 * where RFC 7386 would keep them. *out is new and shares nothing with the
 * inputs. Errors: KR_EINVAL (NULL patch or out), KR_ENOMEM. */
KR_API int kr_patch_merge_apply(const json_t *document, const json_t *patch, json_t **out,
                                kr_error_t *err);
/* The minimal merge patch turning `original` into `modified` (null for
 * removed keys; {} when they are equal objects). When either is not an
 * object the patch is a copy of `modified`. Numbers compare as Kubernetes'
 * Go code does (1 equals 1.0). A merge patch cannot set a member to null,
 * so modified documents holding null members do not round-trip. *out is
 * new. Errors: KR_EINVAL, KR_ENOMEM. */
KR_API int kr_patch_merge_create(const json_t *original, const json_t *modified, json_t **out,
                                 kr_error_t *err);
/* Three-way merge patch as kubectl apply computes it for kinds without
 * strategic metadata: changes from `current` to `modified`, plus deletions
 * of fields that were in `last_applied` and are gone from `modified`;
 * fields set by others (in `current`, never in `last_applied`) are kept.
 * `last_applied` may be NULL (nothing deleted). This is apimachinery's
 * CreateThreeWayJSONMergePatch. *out is new. Errors: KR_EINVAL (NULL
 * modified, current or out), KR_EPATCH (a document is not an object),
 * KR_ENOMEM. */
KR_API int kr_patch_merge_three_way(const json_t *last_applied, const json_t *modified,
                                    const json_t *current, json_t **out, kr_error_t *err);

/* ---- Strategic merge patch --------------------------------------------- */

/* Apply a strategic merge patch with the metadata `meta` (borrowed; NULL
 * means no metadata: every list is replaced, as the apiserver does for
 * custom resources). Supports merge keys, primitive set merge, $patch
 * (replace, merge, delete), $retainKeys, $deleteFromPrimitiveList/<f>,
 * $setElementOrder/<f>, and null deletion. A patch of null is an empty
 * patch (as apimachinery decodes it). *out is new. */
KR_API int kr_patch_strategic_apply(const kr_patch_meta_t *meta, const json_t *document,
                                    const json_t *patch, json_t **out, kr_error_t *err);
/* The two-way strategic merge patch from `original` (NULL: an empty
 * object) to `modified`, as Kubernetes' CreateTwoWayMergePatch computes it
 * (with $setElementOrder directives where it emits them). *out is new. */
KR_API int kr_patch_strategic_create(const kr_patch_meta_t *meta, const json_t *original,
                                     const json_t *modified, json_t **out, kr_error_t *err);
/* The three-way patch kubectl apply sends: `last_applied` (may be NULL),
 * `modified` (the new intent) and `current` (the live object). With
 * `overwrite` false, a field changed by someone else since last-applied
 * makes the call fail with KR_ECONFLICT (kubectl always passes true).
 * *out is new. */
KR_API int kr_patch_strategic_three_way(const kr_patch_meta_t *meta, const json_t *last_applied,
                                        const json_t *modified, const json_t *current,
                                        bool overwrite, json_t **out, kr_error_t *err);

/* ---- JSON patch (RFC 6902) ---------------------------------------------- */

/* Apply the operation array `ops` (add, remove, replace, move, copy, test)
 * to `document`. Atomic: on any failure nothing is produced. Paths are RFC
 * 6901 pointers (~0, ~1, "-" for the end of an array). Errors: KR_EPARSE
 * (malformed operation), KR_ENOTFOUND (missing path), KR_ETESTFAILED,
 * KR_EPATCH (wrong type at a path), KR_ETOOLARGE (the apiserver's limits:
 * over 10000 operations, or "copy" adding over 3 MiB). *out is new. */
KR_API int kr_patch_json_apply(const json_t *document, const json_t *ops, json_t **out,
                               kr_error_t *err);
/* kr_patch_json_apply as kube-apiserver and kubectl apply a JSON patch
 * (evanphx/json-patch v4), where they are laxer than RFC 6902: an index
 * may carry a sign or leading zeros, and a negative one counts from the
 * end ("/items/-1" is the last element; "add" at -1 inserts before the
 * end: it appends); "replace" of an absent object member sets it; "copy"
 * from an absent object member copies null; "add" and "replace" without
 * "value" set null. Where the apiserver is stricter, so is this: "add" at
 * the root "" and a "move" or "copy" from or to it fail (KR_ENOTFOUND);
 * "replace" and "test" at "" act on the whole document. A null patch is
 * no operation (the document comes back as it was). kr-apiserver applies
 * JSON patches with it. */
KR_API int kr_patch_json_apply_as_apiserver(const json_t *document, const json_t *ops, json_t **out,
                                            kr_error_t *err);

/* ---- Dispatch ------------------------------------------------------------ */

/* Apply `patch` in `format` (JSON, MERGE or STRATEGIC) to `document`; `meta`
 * is used by STRATEGIC only. *out is new. */
KR_API int kr_patch_apply(kr_patch_format format, const kr_patch_meta_t *meta,
                          const json_t *document, const json_t *patch, json_t **out,
                          kr_error_t *err);

/* ---- Apply against a last-applied annotation ------------------------------ */

/* What an apply of `desired` over the live object `current` sends, as
 * kubectl apply computes it, but with the three-way base kept in the
 * annotation `annotation` of the live object (a controller's own, so that
 * kubectl's last-applied-configuration never interferes).
 * - *modified_out (may be NULL): new; `desired` with `annotation` set to
 *   desired's own compact JSON (sorted keys): what to create when
 *   `current` is NULL.
 * - *patch_out: new; the three-way patch from the annotation's value in
 *   `current` (absent or unparsable: no deletions), the modified object and
 *   `current`: a strategic merge patch when `schema` (NULL: the built-in
 *   one) knows desired's apiVersion and kind, a JSON merge patch otherwise
 *   (custom resources, as the apiserver requires); *format_out says which.
 *   Fields others set in `current` are kept. NULL when applying it would
 *   change nothing, and always NULL when `current` is NULL.
 * `desired` and `current` are borrowed; an `annotation` already in
 * `desired` is ignored. Errors: KR_EINVAL (NULL desired, annotation or
 * patch_out; desired not an object), KR_EPATCH, KR_ENOMEM. [any thread] */
KR_API int kr_patch_last_applied(const kr_patch_schema_t *schema, const char *annotation,
                                 const json_t *desired, const json_t *current,
                                 json_t **modified_out, json_t **patch_out,
                                 kr_patch_format *format_out, kr_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_PATCH_H */
