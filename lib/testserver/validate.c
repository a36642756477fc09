/* libkreconcile-testserver — validation the apiserver does on writes
 * (wire spec §2): on every write, label and annotation keys are qualified
 * names, label values are label values, annotations stay under 256 KiB,
 * finalizers are qualified names; on updates, the fields that may not
 * change (§2.2). Answers 422 Invalid like the apiserver. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"

#define MAX_ANNOTATIONS (256u * 1024u)

/* [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 characters. */
static bool valid_name_part(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !isalnum((unsigned char)s[0]) ||
        !isalnum((unsigned char)s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return true;
}

static bool valid_qualified_name(const char *key)
{
    const char *slash = strchr(key, '/');
    if (!slash)
        return valid_name_part(key, strlen(key));
    char prefix[254];
    size_t plen = (size_t)(slash - key);
    if (plen == 0 || plen >= sizeof(prefix))
        return false;
    memcpy(prefix, key, plen);
    prefix[plen] = '\0';
    return ts_valid_subdomain(prefix) && valid_name_part(slash + 1, strlen(slash + 1));
}

static bool valid_label_value(const char *v)
{
    return *v == '\0' || valid_name_part(v, strlen(v));
}

static void respond_field(ts_response *resp, const ts_resource *res, const char *name,
                          const char *field, const char *value, const char *why)
{
    char msg[1024];
    snprintf(msg, sizeof(msg), "Invalid value: \"%s\": %s", value, why);
    ts_respond_invalid(resp, res->kind, res->group, name, field, "FieldValueInvalid", msg);
}

static const char *const name_why =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

static int check_map(const ts_resource *res, const char *name, const json_t *map, const char *field,
                     bool labels, ts_response *resp)
{
    if (!map || json_is_null(map))
        return 0; /* Go decodes null as no map */
    if (!json_is_object(map)) {
        ts_respond_bad_request(resp, "%s must be a map of strings", field);
        return KR_EINVALIDOBJ;
    }
    size_t total = 0;
    for (void *it = json_object_iter((json_t *)map); it;
         it = json_object_iter_next((json_t *)map, it)) {
        const char *key = json_object_iter_key(it);
        const json_t *v = json_object_iter_value(it);
        if (!json_is_string(v)) {
            ts_respond_bad_request(resp, "%s must be a map of strings", field);
            return KR_EINVALIDOBJ;
        }
        if (!valid_qualified_name(key)) {
            respond_field(resp, res, name, field, key, name_why);
            return KR_EINVALIDOBJ;
        }
        if (labels && !valid_label_value(json_string_value(v))) {
            respond_field(resp, res, name, field, json_string_value(v),
                          "a valid label must be an empty string or consist of alphanumeric "
                          "characters, '-', '_' or '.', and must start and end with an "
                          "alphanumeric character");
            return KR_EINVALIDOBJ;
        }
        total += strlen(key) + json_string_length(v);
    }
    if (!labels && total > MAX_ANNOTATIONS) {
        ts_respond_invalid(resp, res->kind, res->group, name, field, "FieldValueTooLong",
                           "Too long: may not be more than 262144 bytes");
        return KR_EINVALIDOBJ;
    }
    return 0;
}

static int check_finalizers(const ts_resource *res, const char *name, const json_t *list,
                            ts_response *resp)
{
    if (!list || json_is_null(list))
        return 0;
    if (!json_is_array(list)) {
        ts_respond_bad_request(resp, "metadata.finalizers must be a list of strings");
        return KR_EINVALIDOBJ;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *f = json_string_value(json_array_get(list, i));
        if (!f) {
            ts_respond_bad_request(resp, "metadata.finalizers must be a list of strings");
            return KR_EINVALIDOBJ;
        }
        if (!valid_qualified_name(f)) {
            respond_field(resp, res, name, "metadata.finalizers", f, name_why);
            return KR_EINVALIDOBJ;
        }
    }
    return 0;
}

int ts_validate_metadata(const ts_resource *res, const json_t *md, ts_response *resp)
{
    const char *name = json_string_value(json_object_get(md, "name"));
    int rc = check_map(res, name, json_object_get(md, "labels"), "metadata.labels", true, resp);
    if (rc == 0)
        rc = check_map(res, name, json_object_get(md, "annotations"), "metadata.annotations", false,
                       resp);
    if (rc == 0)
        rc = check_finalizers(res, name, json_object_get(md, "finalizers"), resp);
    return rc;
}

/* ---- fields an update may not change (wire spec §2.2) ------------------------------ */

static bool same_at(const json_t *a, const json_t *b, const char *key)
{
    const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
    if (json_is_null(x))
        x = NULL;
    if (json_is_null(y))
        y = NULL;
    return x == y || (x && y && json_equal(x, y));
}

/* "<field>: Invalid value: <new value as JSON>: field is immutable". */
static int respond_immutable(ts_response *resp, const ts_resource *res, const char *name,
                             const char *field, const json_t *value, const char *why)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *msg = kr_asprintf("Invalid value: %s: %s", text ? text : "null", why);
    ts_respond_invalid(resp, res->kind, res->group, name, field, "FieldValueInvalid",
                       msg ? msg : why);
    kr_free(msg);
    kr_json_text_free(text);
    return KR_EINVALIDOBJ;
}

static int respond_forbidden(ts_response *resp, const ts_resource *res, const char *name,
                             const char *field)
{
    ts_respond_invalid(resp, res->kind, res->group, name, field, "FieldValueForbidden",
                       "Forbidden: field is immutable when `immutable` is set");
    return KR_EINVALIDOBJ;
}

/* A ConfigMap or Secret marked immutable keeps its data and the mark; a
 * Secret keeps its type. */
static int check_immutable_data(const ts_resource *res, const char *name, const json_t *old,
                                const json_t *obj, ts_response *resp)
{
    bool secret = ts_resource_is(res, "", "secrets");
    if (secret && !same_at(old, obj, "type"))
        return respond_immutable(resp, res, name, "type", json_object_get(obj, "type"),
                                 "field is immutable");
    if (!json_is_true(json_object_get(old, "immutable")))
        return 0;
    if (!json_is_true(json_object_get(obj, "immutable")))
        return respond_forbidden(resp, res, name, "immutable");
    if (!same_at(old, obj, "data"))
        return respond_forbidden(resp, res, name, "data");
    if (!secret && !same_at(old, obj, "binaryData"))
        return respond_forbidden(resp, res, name, "binaryData");
    return 0;
}

/* A StorageClass keeps its parameters, provisioner and reclaim policy
 * (each refused as Forbidden, all reported together) and its binding mode. */
static int check_storageclass(const ts_resource *res, const char *name, const json_t *old,
                              const json_t *obj, ts_response *resp)
{
    static const char *const forbidden[] = {"parameters", "provisioner", "reclaimPolicy"};
    json_t *causes = json_array();
    for (size_t i = 0; causes && i < KR_ARRAY_LEN(forbidden); i++) {
        if (same_at(old, obj, forbidden[i]))
            continue;
        char *msg = kr_asprintf("Forbidden: updates to %s are forbidden.", forbidden[i]);
        json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueForbidden",
                                                "message", msg ? msg : "", "field", forbidden[i]));
        kr_free(msg);
    }
    if (causes && !same_at(old, obj, "volumeBindingMode")) {
        const json_t *mode = json_object_get(obj, "volumeBindingMode");
        char *text = mode ? json_dumps(mode, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        char *msg = kr_asprintf("Invalid value: %s: field is immutable", text ? text : "null");
        json_array_append_new(causes,
                              json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid", "message",
                                        msg ? msg : "", "field", "volumeBindingMode"));
        kr_free(msg);
        kr_json_text_free(text);
    }
    int rc = 0;
    if (!causes || json_array_size(causes)) {
        ts_respond_invalid_causes(resp, res->kind, res->group, name, causes);
        rc = KR_EINVALIDOBJ;
    }
    json_decref(causes);
    return rc;
}

/* The fields ValidateImmutableField guards on kinds without other update
 * rules here: a top-level key or one under spec. */
static const struct {
    const char *group, *plural, *key;
    bool in_spec;
} IMMUTABLE[] = {
    {"networking.k8s.io", "ingressclasses", "controller", true},
    {"node.k8s.io", "runtimeclasses", "handler", false},
    {"apps", "controllerrevisions", "data", false},
};

static int check_immutable_field(const ts_resource *res, const char *name, const json_t *old,
                                 const json_t *obj, ts_response *resp)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(IMMUTABLE); i++) {
        if (!ts_resource_is(res, IMMUTABLE[i].group, IMMUTABLE[i].plural))
            continue;
        const json_t *a = IMMUTABLE[i].in_spec ? json_object_get(old, "spec") : old;
        const json_t *b = IMMUTABLE[i].in_spec ? json_object_get(obj, "spec") : obj;
        if (same_at(a, b, IMMUTABLE[i].key))
            return 0;
        char field[64];
        snprintf(field, sizeof(field), "%s%s", IMMUTABLE[i].in_spec ? "spec." : "",
                 IMMUTABLE[i].key);
        return respond_immutable(resp, res, name, field, json_object_get(b, IMMUTABLE[i].key),
                                 "field is immutable");
    }
    return 0;
}

int ts_validate_update(const ts_resource *res, const json_t *existing, const json_t *obj,
                       const char *name, ts_response *resp)
{
    if (ts_resource_is(res, "", "configmaps") || ts_resource_is(res, "", "secrets"))
        return check_immutable_data(res, name, existing, obj, resp);
    if (ts_resource_is(res, "storage.k8s.io", "storageclasses"))
        return check_storageclass(res, name, existing, obj, resp);
    if (check_immutable_field(res, name, existing, obj, resp) != 0)
        return KR_EINVALIDOBJ;
    const json_t *old_spec = json_object_get(existing, "spec");
    const json_t *spec = json_object_get(obj, "spec");
    bool workload =
        ts_resource_is(res, "apps", "deployments") || ts_resource_is(res, "apps", "replicasets") ||
        ts_resource_is(res, "apps", "statefulsets") || ts_resource_is(res, "apps", "daemonsets");
    bool job = ts_resource_is(res, "batch", "jobs");
    if ((workload || job) && !same_at(old_spec, spec, "selector"))
        return respond_immutable(resp, res, name, "spec.selector",
                                 json_object_get(spec, "selector"), "field is immutable");
    if (job && !same_at(old_spec, spec, "template"))
        return respond_immutable(resp, res, name, "spec.template",
                                 json_object_get(spec, "template"), "field is immutable");
    if (ts_resource_is(res, "", "services")) {
        const char *old_type = json_string_value(json_object_get(old_spec, "type"));
        const char *type = json_string_value(json_object_get(spec, "type"));
        bool external = (old_type && strcmp(old_type, "ExternalName") == 0) ||
                        (type && strcmp(type, "ExternalName") == 0);
        if (!external && json_object_get(old_spec, "clusterIP") &&
            !same_at(old_spec, spec, "clusterIP"))
            return respond_immutable(resp, res, name, "spec.clusterIPs[0]",
                                     json_object_get(spec, "clusterIPs"),
                                     "may not change once set");
    }
    return 0;
}
