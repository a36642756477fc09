/* libkreconcile — objects one program manages on behalf of another object:
 * the labels that mark a copy as ours (KR_LABEL_* of platform.h), the
 * ownership test every writer must pass before it touches an object, the
 * reading of a hub object's placement annotation, and finalizer patches
 * guarded by a resourceVersion precondition. Pure functions on jansson
 * values, safe from any thread; inputs are borrowed and never modified
 * unless a function says so. */
#ifndef KRECONCILE_MANAGED_H
#define KRECONCILE_MANAGED_H

#include <jansson.h>
#include <stdbool.h>

#include "common.h"
#include "platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Who manages a copy, and for which source object. Strings borrowed. */
typedef struct kr_managed_source {
    const char *manager; /* "kr-syncer", "kr-submitter" */
    const char *source_cluster; /* the hub's name */
    const char *source_uid; /* uid of the source object; NULL: any */
} kr_managed_source;

/* Set the three labels on `obj` (modified in place: pass an object nobody
 * else holds), creating metadata.labels when absent; other labels stay.
 * Errors: KR_EINVAL (obj not an object, manager or source_cluster or
 * source_uid NULL or empty), KR_ENOMEM. [any thread] */
KR_API int kr_managed_set_labels(json_t *obj, const kr_managed_source *src, kr_error_t *err);

/* Whose an existing object is. */
typedef enum kr_managed_owner {
    KR_MANAGED_FOREIGN = 0, /* not managed by src->manager for src->source_cluster (or no
                               source uid label): never touch */
    KR_MANAGED_OURS = 1, /* ours, for this source (or src->source_uid NULL) */
    KR_MANAGED_OURS_OTHER_SOURCE = 2, /* ours, written for another uid of the same name
                                         (a source deleted and created again) */
} kr_managed_owner;

/* Classify `obj` (borrowed; NULL is foreign) by its labels. [any thread] */
KR_API kr_managed_owner kr_managed_owner_of(const json_t *obj, const kr_managed_source *src);

/* The label selector of every object `manager` manages, written into `buf`
 * ("kreconcile.io/managed-by=kr-syncer"). Returns `buf`, or NULL when it
 * does not fit. [any thread] */
KR_API char *kr_managed_selector(const char *manager, char *buf, size_t len);

/* True when `obj` (a hub object, borrowed) is placed on `cluster` by its
 * KR_ANNOTATION_CLUSTERS annotation: a list of cluster names separated by
 * commas or whitespace of any kind ("dc1,dc2", "dc1, dc2", "dc1 dc2", a
 * YAML `|` block with a name per line: the same two clusters; no cluster
 * name holds either), where empty items ("dc1,,dc2", a trailing comma)
 * name nothing. An absent
 * annotation, or one whose value is not a string, places the object on
 * every cluster; an empty or blank one on none. A NULL or empty `cluster`
 * is named by no list. Every program that decides where a hub object
 * belongs (kr-syncer creating copies, kr-sweeper deleting them) must use
 * this one reading, or one deletes what the other creates; and must ask
 * kr_managed_placement_check first: a typo is no placement. [any thread] */
KR_API bool kr_managed_placed(const json_t *obj, const char *cluster);

/* Why `obj` (a hub object, borrowed) is not copied to workload clusters
 * at all: it has ownerReferences (another controller's object),
 * KR_ANNOTATION_IGNORE is "true", or it is what every cluster publishes
 * for itself (the kube-root-ca.crt ConfigMap, service account token
 * Secrets); NULL when it is synced. Copies made before it turned so stay,
 * and no program deletes them while it exists. Static string. The one
 * reading of kr-syncer and kr-sweeper, as kr_managed_placed. [any thread] */
KR_API const char *kr_managed_unsynced_reason(const json_t *obj);

/* The next cluster name of a placement list, read as kr_managed_placed
 * reads it: its start (not NUL-terminated) and *len, *list moved past it;
 * NULL when no name is left. For a program that lists the names (one it
 * does not know is a typo to tell). [any thread] */
KR_API const char *kr_managed_placement_next(const char **list, size_t *len);

/* How `obj`'s placement (KR_ANNOTATION_CLUSTERS, read as
 * kr_managed_placed reads it) stands against the configured clusters
 * (`clusters`, `n` names; NULL: not judged against any). */
typedef enum kr_placement_check {
    KR_PLACEMENT_OK = 0, /* absent, empty, or naming a configured cluster */
    /* a name that is no cluster name (1-63 letters, digits, '-', '_' or
     * '.', the grammar of --cluster): "dc2;dc1", a non-breaking space
     * ("dc1\xc2\xa0dc2"). A typo, not a placement: the programs neither
     * create, patch nor delete copies because of it */
    KR_PLACEMENT_MALFORMED,
    /* well-formed names, but none of them configured ("DC2" for "dc2"):
     * the programs delete no existing copy because of it */
    KR_PLACEMENT_ALL_UNKNOWN,
} kr_placement_check;

/* Judge `obj`'s placement; on anything but KR_PLACEMENT_OK, why[0..len)
 * says what is wrong (ASCII: a byte that is not printable ASCII shows as
 * \xNN). The one reading of kr-syncer and kr-sweeper: the sweeper must
 * not delete copies the syncer holds. [any thread] */
KR_API kr_placement_check kr_managed_placement_check(const json_t *obj, const char *const *clusters,
                                                     size_t n, char *why, size_t len);

/* True when metadata.finalizers of `obj` holds `finalizer`. [any thread] */
KR_API bool kr_managed_has_finalizer(const json_t *obj, const char *finalizer);

/* The JSON merge patch that adds (`present` true) or removes `finalizer`
 * from `obj`'s metadata.finalizers, keeping the others in order, with
 * metadata.resourceVersion set to obj's so that the apiserver refuses it
 * (409) when the object changed since it was read: a merge patch replaces
 * the whole list, so without the precondition a concurrent writer's
 * finalizer could be lost. *patch_out is new, or NULL when nothing needs
 * to change. Errors: KR_EINVAL (no resourceVersion, empty finalizer),
 * KR_ENOMEM. [any thread] */
KR_API int kr_managed_finalizer_patch(const json_t *obj, const char *finalizer, bool present,
                                      json_t **patch_out, kr_error_t *err);

/* ---- owner references and Secret data (any controller's objects) ---------------- */

/* controller-runtime's SetControllerReference (`controller` true) and
 * SetOwnerReference (false): name `owner` (borrowed: its apiVersion,
 * kind, metadata.name and metadata.uid) in obj's metadata.ownerReferences,
 * replacing the entry for the same group, kind and name, else appending
 * one; obj is modified in place. A controller reference carries
 * `controller: true` and `blockOwnerDeletion: true`, and is refused with
 * KR_ECONFLICT when obj already has a controller that is another object
 * ("Object default/x is already owned by another Foo controller y"). An
 * owner with a namespace must be in obj's; a cluster-scoped obj (no
 * namespace) cannot have one (KR_EINVAL, controller-runtime's words).
 * Errors: KR_EINVAL (obj not an object, owner without one of the four
 * fields), KR_ECONFLICT, KR_ENOMEM. [any thread] */
KR_API int kr_managed_set_owner(json_t *obj, const json_t *owner, bool controller, kr_error_t *err);

/* Set a Secret's data[key] to `len` bytes of `value`, base64-encoded as the
 * API carries them, creating `data` when absent (obj modified in place).
 * Errors: KR_EINVAL (secret not an object, empty key), KR_ENOMEM. [any thread] */
KR_API int kr_secret_data_set(json_t *secret, const char *key, const void *value, size_t len,
                              kr_error_t *err);

/* Decode a Secret's data[key] into *value, a new NUL-terminated buffer
 * (kr_free) of *len bytes (len may be NULL). Errors: KR_ENOTFOUND (no such
 * key), KR_EPARSE (not base64: the value names the byte), KR_ENOMEM.
 * [any thread] */
KR_API int kr_secret_data_get(const json_t *secret, const char *key, char **value, size_t *len,
                              kr_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_MANAGED_H */
