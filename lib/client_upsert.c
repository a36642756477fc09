/* libkreconcile — create, update or patch an object from what a caller
 * makes of it (controller-runtime's controllerutil.CreateOrUpdate and
 * CreateOrPatch), on the REST client's synchronous calls, and the retry of
 * a write that met a conflict (client-go's retry.RetryOnConflict). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "kreconcile/client.h"
#include "kreconcile/patch.h"

static const char *meta_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static bool same_string(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* An object of the resource holding only its type and key, into *obj;
 * the kind from discovery (the plural qualified by version and group, so
 * that another group's resource of that plural is never taken). */
static int empty_object(kr_client_t *client, kr_gvr gvr, const char *namespace_, const char *name,
                        json_t **obj, kr_error_t *err)
{
    kr_resource_info info;
    char qualified[400];
    *obj = NULL;
    if (gvr.group && *gvr.group)
        snprintf(qualified, sizeof(qualified), "%s.%s.%s", gvr.resource, gvr.version, gvr.group);
    else
        snprintf(qualified, sizeof(qualified), "%s", gvr.resource);
    int rc = kr_client_resolve(client, qualified, &info, err);
    if (rc != 0)
        return rc;
    if (!same_string(info.group, gvr.group))
        return kr_error_set(err, KR_ENOTFOUND, "create or update: no kind found for %s", qualified);
    char api_version[400];
    if (gvr.group && *gvr.group)
        snprintf(api_version, sizeof(api_version), "%s/%s", gvr.group, gvr.version);
    else
        snprintf(api_version, sizeof(api_version), "%s", gvr.version);
    *obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", api_version, "kind", info.kind,
                     "metadata", "name", name);
    if (*obj && namespace_ && *namespace_)
        json_object_set_new(json_object_get(*obj, "metadata"), "namespace",
                            json_string(namespace_));
    return *obj ? 0 : kr_error_set(err, KR_ENOMEM, "out of memory");
}

/* The object read (NULL when it does not exist: *obj then holds only
 * its type and key) into *live, and what mutate made of it into *obj
 * (new), checked: 0, or an error (both then NULL). */
static int read_and_mutate(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                           const char *name, kr_mutate_cb mutate, void *user, const char *what,
                           json_t **live, json_t **obj, kr_error_t *err)
{
    *live = *obj = NULL;
    if (!client || !mutate || !name || !*name)
        return kr_error_set(err, KR_EINVAL, "%s: a client, a name and a mutate function are needed",
                            what);
    kr_error_t get_err = {0};
    int rc = kr_client_get(client, gvr, namespace_, name, live, &get_err);
    if (rc != 0 && rc != KR_ENOTFOUND) {
        if (err)
            *err = get_err;
        return rc;
    }
    if (*live) {
        *obj = json_deep_copy(*live);
        rc = *obj ? 0 : kr_error_set(err, KR_ENOMEM, "out of memory");
    } else {
        rc = empty_object(client, gvr, namespace_, name, obj, err);
    }
    if (rc == 0 && (rc = mutate(*obj, user)) != 0 && err && !err->code)
        kr_error_set(err, rc, "%s %s/%s: the mutate function failed", what,
                     namespace_ ? namespace_ : "", name);
    if (rc == 0 && (!same_string(meta_string(*obj, "name"), name) ||
                    !same_string(meta_string(*obj, "namespace"),
                                 *live ? meta_string(*live, "namespace") : namespace_)))
        rc = kr_error_set(err, KR_EINVAL,
                          "%s: the mutate function cannot change the object's name or namespace",
                          what);
    if (rc != 0) {
        json_decref(*obj);
        json_decref(*live);
        *live = *obj = NULL;
    }
    return rc;
}

int kr_client_create_or_update(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                               const char *name, kr_mutate_cb mutate, void *user, json_t **out,
                               kr_operation_result *result, kr_error_t *err)
{
    if (out)
        *out = NULL;
    if (result)
        *result = KR_OPERATION_UNCHANGED;
    json_t *live = NULL, *obj = NULL;
    int rc = read_and_mutate(client, gvr, namespace_, name, mutate, user, "create or update", &live,
                             &obj, err);
    if (rc != 0)
        return rc;
    kr_operation_result done = KR_OPERATION_UNCHANGED;
    if (!live) {
        rc = kr_client_create(client, gvr, namespace_, obj, NULL, out, err);
        done = KR_OPERATION_CREATED;
    } else if (json_equal(obj, live)) {
        if (out)
            *out = json_incref(live);
    } else {
        rc = kr_client_update(client, gvr, namespace_, obj, NULL, out, err);
        done = KR_OPERATION_UPDATED;
    }
    if (rc == 0 && result)
        *result = done;
    json_decref(obj);
    json_decref(live);
    return rc;
}

/* A copy of `obj` without its status into *rest, and its status (or
 * NULL) into *status: both new or borrowed as said. */
static int split_status(const json_t *obj, json_t **rest, json_t **status)
{
    *status = json_object_get(obj, "status");
    *rest = json_copy((json_t *)obj); /* shallow: only the top-level key goes */
    if (*rest)
        json_object_del(*rest, "status");
    return *rest ? 0 : KR_ENOMEM;
}

/* A merge patch from `before` to `after` (either may be NULL: {}) sent to
 * `subresource` (NULL: the object), wrapped in {"status": ...} for the
 * status; *out (new) is the answer. */
static int send_merge_patch(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                            const char *name, const char *subresource, const json_t *before,
                            const json_t *after, json_t **out, kr_error_t *err)
{
    json_t *empty = json_object(), *patch = NULL;
    if (!empty)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    int rc = kr_patch_merge_create(before ? before : empty, after ? after : empty, &patch, err);
    json_decref(empty);
    if (rc == 0 && subresource) {
        json_t *wrapped = json_pack("{s:o}", "status", patch);
        patch = wrapped;
        if (!patch)
            rc = kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = kr_client_patch(client, gvr, namespace_, name, subresource, KR_PATCH_MERGE, patch,
                             NULL, out, err);
    json_decref(patch);
    return rc;
}

int kr_client_create_or_patch(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                              const char *name, kr_mutate_cb mutate, void *user, json_t **out,
                              kr_operation_result *result, kr_error_t *err)
{
    if (out)
        *out = NULL;
    if (result)
        *result = KR_OPERATION_UNCHANGED;
    json_t *live = NULL, *obj = NULL;
    int rc = read_and_mutate(client, gvr, namespace_, name, mutate, user, "create or patch", &live,
                             &obj, err);
    if (rc != 0)
        return rc;
    if (!live) {
        rc = kr_client_create(client, gvr, namespace_, obj, NULL, out, err);
        if (rc == 0 && result)
            *result = KR_OPERATION_CREATED;
        json_decref(obj);
        return rc;
    }
    json_t *live_rest = NULL, *obj_rest = NULL, *live_status, *obj_status;
    if (split_status(live, &live_rest, &live_status) != 0 ||
        split_status(obj, &obj_rest, &obj_status) != 0) {
        rc = kr_error_set(err, KR_ENOMEM, "out of memory");
        goto done;
    }
    bool rest_changed = !json_equal(live_rest, obj_rest);
    bool status_changed = !(live_status && obj_status ? json_equal(live_status, obj_status)
                                                      : live_status == obj_status);
    json_t *answer = json_incref(live);
    if (rest_changed) {
        json_decref(answer);
        answer = NULL;
        rc = send_merge_patch(client, gvr, namespace_, name, NULL, live_rest, obj_rest, &answer,
                              err);
    }
    if (rc == 0 && status_changed) {
        json_decref(answer);
        answer = NULL;
        rc = send_merge_patch(client, gvr, namespace_, name, "status", live_status, obj_status,
                              &answer, err);
        if (rc != 0 && rest_changed && result)
            *result = KR_OPERATION_UPDATED; /* what was sent, beside the status's error */
    }
    if (rc == 0 && result)
        *result = status_changed ? (rest_changed ? KR_OPERATION_UPDATED_STATUS
                                                 : KR_OPERATION_UPDATED_STATUS_ONLY)
                  : rest_changed ? KR_OPERATION_UPDATED
                                 : KR_OPERATION_UNCHANGED;
    if (rc == 0 && out)
        *out = json_incref(answer);
    json_decref(answer);
done:
    json_decref(live_rest);
    json_decref(obj_rest);
    json_decref(obj);
    json_decref(live);
    return rc;
}

#define CONFLICT_TRIES 5 /* retry.DefaultRetry: Steps 5, 10 ms, factor 1, jitter 0.1 */
#define CONFLICT_WAIT_NS (10LL * 1000 * 1000)

int kr_retry_on_conflict(kr_retry_cb fn, void *user, kr_error_t *err)
{
    if (!fn)
        return kr_error_set(err, KR_EINVAL, "retry on conflict: no function");
    int rc = KR_ECONFLICT;
    for (int i = 0; i < CONFLICT_TRIES && rc == KR_ECONFLICT; i++) {
        if (i > 0) {
            int64_t ns = CONFLICT_WAIT_NS + (int64_t)(kr_random_u64() % (CONFLICT_WAIT_NS / 10));
            struct timespec ts = {0, (long)ns};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
        rc = fn(err, user);
    }
    return rc;
}
