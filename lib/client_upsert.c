/* libkreconcile — create or update an object from what a caller makes of
 * it (controller-runtime's controllerutil.CreateOrUpdate), on the REST
 * client's synchronous calls, and the retry of a write that met a
 * conflict (client-go's retry.RetryOnConflict). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "kreconcile/client.h"

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

int kr_client_create_or_update(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                               const char *name, kr_mutate_cb mutate, void *user, json_t **out,
                               kr_operation_result *result, kr_error_t *err)
{
    if (out)
        *out = NULL;
    if (result)
        *result = KR_OPERATION_UNCHANGED;
    if (!client || !mutate || !name || !*name)
        return kr_error_set(err, KR_EINVAL,
                            "create or update: a client, a name and a mutate "
                            "function are needed");
    json_t *live = NULL;
    kr_error_t get_err = {0};
    int rc = kr_client_get(client, gvr, namespace_, name, &live, &get_err);
    if (rc != 0 && rc != KR_ENOTFOUND) {
        if (err)
            *err = get_err;
        return rc;
    }
    bool exists = rc == 0;
    json_t *obj = NULL;
    if (exists) {
        obj = json_deep_copy(live);
        rc = obj ? 0 : kr_error_set(err, KR_ENOMEM, "out of memory");
    } else {
        rc = empty_object(client, gvr, namespace_, name, &obj, err);
    }
    if (rc != 0) {
        json_decref(live);
        return rc;
    }
    rc = mutate(obj, user);
    if (rc != 0) {
        json_decref(obj);
        json_decref(live);
        if (err && !err->code)
            kr_error_set(err, rc, "create or update %s/%s: the mutate function failed",
                         namespace_ ? namespace_ : "", name);
        return rc;
    }
    if (!same_string(meta_string(obj, "name"), name) ||
        !same_string(meta_string(obj, "namespace"),
                     exists ? meta_string(live, "namespace") : namespace_)) {
        json_decref(obj);
        json_decref(live);
        return kr_error_set(err, KR_EINVAL,
                            "create or update: the mutate function cannot change the object's "
                            "name or namespace");
    }
    kr_operation_result done = KR_OPERATION_UNCHANGED;
    if (!exists) {
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
