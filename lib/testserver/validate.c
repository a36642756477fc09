/* libkreconcile-testserver — validation the apiserver does on writes
 * (wire spec §2): on every write, label and annotation keys are qualified
 * names (annotations' once lowercased), label values are label values,
 * annotations stay under 256 KiB, owner references are complete and name
 * one controller at most, finalizers are qualified names; on updates, the fields that may not
 * change (§2.2). Answers 422 Invalid like the apiserver. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"

#define MAX_ANNOTATIONS (256u * 1024u)

void ts_add_problems(json_t *causes, const char *field, const char *value, const char *const *why,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kr_buf b = {0};
        kr_buf_append_str(&b, "Invalid value: ");
        ts_go_quote(&b, value);
        kr_buf_printf(&b, ": %s", why[i]);
        json_array_append_new(causes,
                              json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid", "message",
                                        b.data ? b.data : why[i], "field", field));
        kr_buf_free(&b);
    }
}

static bool strings_map(const json_t *map, const char *field, ts_response *resp)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)map, key, v)
    {
        if (!json_is_string(v)) {
            ts_respond_bad_request(resp, "%s must be a map of strings", field);
            return false;
        }
    }
    return true;
}

/* ValidateLabels: each key a qualified name, each value a label value. */
void ts_check_labels(json_t *causes, const char *field, const json_t *map)
{
    size_t k = 0;
    const char **keys = ts_sorted_keys(map, &k);
    for (size_t i = 0; i < k; i++) {
        const char *why[TS_NAME_PROBLEMS_MAX];
        const char *v = json_string_value(json_object_get(map, keys[i]));
        ts_add_problems(causes, field, keys[i], why,
                        ts_name_problems(TS_QUALIFIED_NAME, keys[i], why));
        if (v)
            ts_add_problems(causes, field, v, why, ts_name_problems(TS_LABEL_VALUE, v, why));
    }
    kr_free(keys);
}

/* ValidateAnnotations: each key a qualified name once lowercased (the
 * key as written shown), and at most 256 KiB of keys and values. */
void ts_check_annotations(json_t *causes, const char *field, const json_t *map)
{
    size_t k = 0, total = 0;
    const char **keys = ts_sorted_keys(map, &k);
    for (size_t i = 0; i < k; i++) {
        const char *why[TS_NAME_PROBLEMS_MAX];
        char *lower = kr_strdup(keys[i]);
        for (char *p = lower; p && *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (lower)
            ts_add_problems(causes, field, keys[i], why,
                            ts_name_problems(TS_QUALIFIED_NAME, lower, why));
        kr_free(lower);
        total += strlen(keys[i]) + json_string_length(json_object_get(map, keys[i]));
    }
    kr_free(keys);
    if (total > MAX_ANNOTATIONS)
        json_array_append_new(
            causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueTooLong", "message",
                              "Too long: may not be more than 262144 bytes", "field", field));
}

static int check_finalizers(json_t *causes, const json_t *list, ts_response *resp)
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
        const char *why[TS_NAME_PROBLEMS_MAX];
        ts_add_problems(causes, "metadata.finalizers", f, why,
                        ts_name_problems(TS_QUALIFIED_NAME, f, why));
    }
    return 0;
}

/* A string field of an owner reference ("" when absent). */
static const char *ref_str(const json_t *ref, const char *key)
{
    const char *s = json_string_value(json_object_get(ref, key));
    return s ? s : "";
}

/* Go's %#v of a v1.OwnerReference. A set pointer prints as its heap
 * address, which differs from run to run; a fixed one stands for it. */
static void go_owner_reference(kr_buf *b, const json_t *ref)
{
    static const char *const strings[][2] = {
        {"APIVersion", "apiVersion"}, {"Kind", "kind"}, {"Name", "name"}, {"UID", "uid"}};
    static const char *const pointers[][2] = {{"Controller", "controller"},
                                              {"BlockOwnerDeletion", "blockOwnerDeletion"}};
    kr_buf_append_str(b, "v1.OwnerReference{");
    for (size_t i = 0; i < KR_ARRAY_LEN(strings); i++) {
        kr_buf_printf(b, "%s%s:", i ? ", " : "", strings[i][0]);
        ts_go_quote(b, ref_str(ref, strings[i][1]));
    }
    for (size_t i = 0; i < KR_ARRAY_LEN(pointers); i++) {
        const json_t *v = json_object_get(ref, pointers[i][1]);
        kr_buf_printf(b, ", %s:(*bool)(%s)", pointers[i][0],
                      json_is_boolean(v) ? "0xc000010000" : "nil");
    }
    kr_buf_append_str(b, "}");
}

/* A FieldValueInvalid cause on metadata.ownerReferences whose value is
 * `refs` (an array: a []v1.OwnerReference) or one reference, as %#v. */
static void add_refs_problem(json_t *causes, const json_t *refs, const char *why)
{
    kr_buf b = {0};
    kr_buf_append_str(&b, "Invalid value: ");
    if (json_is_array(refs)) {
        kr_buf_append_str(&b, "[]v1.OwnerReference{");
        size_t i;
        const json_t *ref;
        json_array_foreach(refs, i, ref)
        {
            kr_buf_append_str(&b, i ? ", " : "");
            go_owner_reference(&b, ref);
        }
        kr_buf_append_str(&b, "}");
    } else {
        go_owner_reference(&b, refs);
    }
    kr_buf_printf(&b, ": %s", why);
    json_array_append_new(causes,
                          json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid", "message",
                                    b.data ? b.data : why, "field", "metadata.ownerReferences"));
    kr_buf_free(&b);
}

/* validateOwnerReference (1.32): the problems are reported on the
 * reference's fields without its index. An apiVersion Go cannot parse
 * (two slashes) has no version either. Events may not own anything. */
static void check_owner_reference(json_t *causes, const json_t *ref)
{
    const char *api_version = ref_str(ref, "apiVersion"), *kind = ref_str(ref, "kind");
    const char *slash = strchr(api_version, '/');
    const char *version = slash ? slash + 1 : api_version;
    bool parsed = !slash || !strchr(slash + 1, '/');
    static const char *const fields[][2] = {{"kind", "kind must not be empty"},
                                            {"name", "name must not be empty"},
                                            {"uid", "uid must not be empty"}};
    const char *why[1] = {"version must not be empty"};
    if (!parsed || !*version)
        ts_add_problems(causes, "metadata.ownerReferences.apiVersion", api_version, why, 1);
    for (size_t i = 0; i < KR_ARRAY_LEN(fields); i++) {
        char field[40];
        snprintf(field, sizeof(field), "metadata.ownerReferences.%s", fields[i][0]);
        why[0] = fields[i][1];
        if (!*ref_str(ref, fields[i][0]))
            ts_add_problems(causes, field, "", why, 1);
    }
    bool core = !slash || slash == api_version;
    if (parsed && core && strcmp(version, "v1") == 0 && strcmp(kind, "Event") == 0)
        add_refs_problem(causes, ref, "/v1, Kind=Event is disallowed from being an owner");
}

/* ValidateOwnerReferences: each reference, and at most one controller. */
static void check_owner_references(json_t *causes, const json_t *refs)
{
    kr_buf first = {0};
    size_t i;
    const json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        check_owner_reference(causes, ref);
        if (!json_is_true(json_object_get(ref, "controller")))
            continue;
        if (!first.data) {
            kr_buf_printf(&first, "%s/%s", ref_str(ref, "kind"), ref_str(ref, "name"));
            continue;
        }
        char *why = kr_asprintf("Only one reference can have Controller set to true. Found "
                                "\"true\" in references for %s and %s/%s",
                                first.data, ref_str(ref, "kind"), ref_str(ref, "name"));
        add_refs_problem(causes, refs,
                         why ? why
                             : "Only one reference can have Controller set "
                               "to true.");
        kr_free(why);
    }
    kr_buf_free(&first);
}

/* A map that is there must be a map of strings (Go decodes null as none). */
static const json_t *string_map(const json_t *md, const char *key, const char *field,
                                ts_response *resp, int *rc)
{
    const json_t *map = json_object_get(md, key);
    if (!map || json_is_null(map) || *rc != 0)
        return NULL;
    if (!json_is_object(map))
        ts_respond_bad_request(resp, "%s must be a map of strings", field);
    else if (strings_map(map, field, resp))
        return map;
    *rc = KR_EINVALIDOBJ;
    return NULL;
}

/* Labels, annotations, owner references and finalizers: what is no map or
 * list of strings is a 400 (resp filled, nonzero returned); every other
 * problem is appended to `causes` in ValidateObjectMeta's order (none
 * looked for when `causes` is NULL). */
int ts_validate_metadata(const json_t *md, json_t *causes, ts_response *resp)
{
    int rc = 0;
    const json_t *labels = string_map(md, "labels", "metadata.labels", resp, &rc);
    const json_t *annotations = string_map(md, "annotations", "metadata.annotations", resp, &rc);
    if (rc != 0)
        return rc;
    json_t *found = causes ? causes : json_array();
    if (!found)
        return KR_ENOMEM;
    ts_check_labels(found, "metadata.labels", labels);
    ts_check_annotations(found, "metadata.annotations", annotations);
    check_owner_references(found, json_object_get(md, "ownerReferences"));
    rc = check_finalizers(found, json_object_get(md, "finalizers"), resp);
    if (!causes)
        json_decref(found);
    return rc;
}

/* ---- fields an update may not change (wire spec §2.2) ------------------------------ */

bool ts_same_at(const json_t *a, const json_t *b, const char *key)
{
    const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
    if (json_is_null(x))
        x = NULL;
    if (json_is_null(y))
        y = NULL;
    return x == y || (x && y && json_equal(x, y));
}

/* One cause appended to `causes`. */
static void add_cause(json_t *causes, const char *field, const char *reason, const char *msg)
{
    json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason", reason, "message",
                                            msg ? msg : "", "field", field));
}

/* "<field>: Invalid value: <new value as JSON>: <why>" appended. */
static void add_immutable(json_t *causes, const char *field, const json_t *value, const char *why)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *msg = kr_asprintf("Invalid value: %s: %s", text ? text : "null", why);
    add_cause(causes, field, "FieldValueInvalid", msg ? msg : why);
    kr_free(msg);
    kr_json_text_free(text);
}

/* A FieldValueInvalid cause at `field`: "Invalid value: <value as
 * `print` writes it (Go's %#v)>: <why>". */
static void add_invalid_printed(json_t *causes, const char *field,
                                void (*print)(kr_buf *, const json_t *), const json_t *value,
                                const char *why)
{
    kr_buf b = {0};
    kr_buf_append_str(&b, "Invalid value: ");
    print(&b, value);
    kr_buf_printf(&b, ": %s", why);
    add_cause(causes, field, "FieldValueInvalid", b.data ? b.data : why);
    kr_buf_free(&b);
}

/* "spec.selector: Invalid value: v1.LabelSelector{...}: field is
 * immutable" (ValidateImmutableField of a *metav1.LabelSelector). */
static void add_immutable_selector(json_t *causes, const json_t *spec)
{
    add_invalid_printed(causes, "spec.selector", ts_go_label_selector,
                        json_object_get(spec, "selector"), "field is immutable");
}

static void add_forbidden(json_t *causes, const char *field)
{
    add_cause(causes, field, "FieldValueForbidden",
              "Forbidden: field is immutable when `immutable` is set");
}

/* A ConfigMap or Secret marked immutable keeps its data and the mark; a
 * Secret keeps its type. */
static void check_immutable_data(const ts_resource *res, const json_t *old, const json_t *obj,
                                 json_t *causes)
{
    bool secret = ts_resource_is(res, "", "secrets");
    if (secret && !ts_same_at(old, obj, "type"))
        add_immutable(causes, "type", json_object_get(obj, "type"), "field is immutable");
    if (!json_is_true(json_object_get(old, "immutable")))
        return;
    if (!json_is_true(json_object_get(obj, "immutable")))
        add_forbidden(causes, "immutable");
    else if (!ts_same_at(old, obj, "data"))
        add_forbidden(causes, "data");
    else if (!secret && !ts_same_at(old, obj, "binaryData"))
        add_forbidden(causes, "binaryData");
}

/* A StorageClass keeps its parameters, provisioner and reclaim policy
 * (each refused as Forbidden, all reported together) and its binding mode. */
static void check_storageclass(const json_t *old, const json_t *obj, json_t *causes)
{
    static const char *const forbidden[] = {"parameters", "provisioner", "reclaimPolicy"};
    for (size_t i = 0; i < KR_ARRAY_LEN(forbidden); i++) {
        if (ts_same_at(old, obj, forbidden[i]))
            continue;
        char *msg = kr_asprintf("Forbidden: updates to %s are forbidden.", forbidden[i]);
        add_cause(causes, forbidden[i], "FieldValueForbidden", msg);
        kr_free(msg);
    }
    if (!ts_same_at(old, obj, "volumeBindingMode"))
        add_immutable(causes, "volumeBindingMode", json_object_get(obj, "volumeBindingMode"),
                      "field is immutable");
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
    {"discovery.k8s.io", "endpointslices", "addressType", false},
    {"scheduling.k8s.io", "priorityclasses", "preemptionPolicy", false},
};

/* A "<field>: Forbidden: <why>" cause appended. */
static void add_spec_forbidden(json_t *causes, const char *field, const char *why)
{
    char *msg = kr_asprintf("Forbidden: %s", why);
    add_cause(causes, field, "FieldValueForbidden", msg ? msg : why);
    kr_free(msg);
}

/* A copy of `spec` without `keys` (NULL-terminated); NULL stays NULL. */
static json_t *spec_without(const json_t *spec, const char *const *keys)
{
    json_t *copy = spec ? json_deep_copy(spec) : json_object();
    for (size_t i = 0; copy && keys[i]; i++)
        json_object_del(copy, keys[i]);
    return copy;
}

/* ValidateStatefulSetUpdate: only these may change. */
static void check_statefulset(const json_t *old_spec, const json_t *spec, json_t *causes)
{
    static const char *const mutable_keys[] = {"replicas",
                                               "ordinals",
                                               "template",
                                               "updateStrategy",
                                               "persistentVolumeClaimRetentionPolicy",
                                               "minReadySeconds",
                                               NULL};
    json_t *a = spec_without(old_spec, mutable_keys), *b = spec_without(spec, mutable_keys);
    bool same = a && b && json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (!same)
        add_spec_forbidden(
            causes, "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
            "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
            "forbidden");
}

/* True when `x` is a member of array `arr`. */
static bool in_array(const json_t *x, const json_t *arr)
{
    size_t j;
    const json_t *y;
    json_array_foreach(arr, j, y)
    {
        if (json_equal(x, y))
            return true;
    }
    return false;
}

/* The containers of `spec`'s `key` with their images blanked (the one
 * field of a container an update may change). */
static void blank_images(json_t *spec, const char *key)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, key), i, c)
    {
        if (json_is_object(c))
            json_object_del(c, "image");
    }
}

/* validateOnlyAddedTolerations: every old toleration is still there,
 * its tolerationSeconds aside. */
static bool tolerations_kept(const json_t *old, const json_t *now)
{
    size_t i, j;
    const json_t *x, *y;
    json_array_foreach(old, i, x)
    {
        bool found = false;
        json_array_foreach(now, j, y)
        {
            json_t *a = json_deep_copy(x), *b = json_deep_copy(y);
            if (a && b) {
                json_object_del(a, "tolerationSeconds");
                json_object_del(b, "tolerationSeconds");
                found = found || json_equal(a, b);
            }
            json_decref(a);
            json_decref(b);
        }
        if (!found)
            return false;
    }
    return true;
}

/* Every key of map `a` is in map `b` with the same value. */
static bool map_within(const json_t *a, const json_t *b)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        if (!json_equal(v, json_object_get(b, k)))
            return false;
    }
    return true;
}

/* ValidatePodSpecificAnnotationUpdates: a pod's AppArmor annotations and
 * its mirror pod annotation are neither added, removed nor changed by an
 * update. The old annotations are looked at first, then the new ones; Go
 * walks each map in no order, keys sorted here. */
static void check_annotation_updates(const json_t *old_md, const json_t *md, json_t *causes)
{
    static const char apparmor[] = "container.apparmor.security.beta.kubernetes.io/";
    static const char mirror[] = "kubernetes.io/config.mirror";
    const json_t *old = json_object_get(old_md, "annotations");
    const json_t *now = json_object_get(md, "annotations");
    for (int pass = 0; pass < 2; pass++) {
        const json_t *from = pass == 0 ? old : now, *other = pass == 0 ? now : old;
        size_t n = 0;
        const char **keys = ts_sorted_keys(from, &n);
        for (size_t i = 0; i < n; i++) {
            const json_t *there = json_object_get(other, keys[i]);
            if (pass == 0 ? json_equal(there, json_object_get(from, keys[i])) : there != NULL)
                continue;
            bool is_apparmor = strncmp(keys[i], apparmor, sizeof(apparmor) - 1) == 0;
            if (!is_apparmor && strcmp(keys[i], mirror) != 0)
                continue;
            char *field = kr_asprintf("metadata.annotations[%s]", keys[i]);
            char *why =
                kr_asprintf("may not %s %s annotation%s", pass == 0 ? "remove or update" : "add",
                            is_apparmor ? "AppArmor" : "mirror pod", is_apparmor ? "s" : "");
            if (field && why)
                add_spec_forbidden(causes, field, why);
            kr_free(field);
            kr_free(why);
        }
        kr_free(keys);
    }
}

/* ValidatePodUpdate (1.32): a pod's spec keeps all but its containers'
 * images, an activeDeadlineSeconds set or lowered, tolerations added to
 * (their tolerationSeconds may change), scheduling gates removed, a
 * negative terminationGracePeriodSeconds set to 1, and, while the pod is
 * gated, node selector entries added and its node affinity. Ephemeral
 * containers change through their subresource alone. (Priority and
 * preemptionPolicy were kept from the stored pod before this, as the
 * Priority admission does.) */
void ts_validate_pod_update(const json_t *existing, const json_t *obj, json_t *causes)
{
    check_annotation_updates(json_object_get(existing, "metadata"),
                             json_object_get(obj, "metadata"), causes);
    const json_t *old_spec = json_object_get(existing, "spec");
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *old_ads = json_object_get(old_spec, "activeDeadlineSeconds");
    const json_t *ads = json_object_get(spec, "activeDeadlineSeconds");
    if (json_is_null(ads))
        ads = NULL;
    if (ads) {
        json_int_t v = json_integer_value(ads);
        if (!json_is_integer(ads) || v <= 0 || v > 2147483647)
            add_immutable(causes, "spec.activeDeadlineSeconds", ads,
                          "must be between 1 and 2147483647, inclusive");
        else if (json_is_integer(old_ads) && json_integer_value(old_ads) < v)
            add_immutable(causes, "spec.activeDeadlineSeconds", ads,
                          "must be less than or equal to previous value");
    } else if (json_is_integer(old_ads)) {
        add_immutable(causes, "spec.activeDeadlineSeconds", NULL,
                      "must not update from a positive integer to nil value");
    }
    if (!tolerations_kept(json_object_get(old_spec, "tolerations"),
                          json_object_get(spec, "tolerations")))
        add_spec_forbidden(causes, "spec.tolerations",
                           "existing toleration can not be modified except its "
                           "tolerationSeconds");
    size_t i;
    const json_t *gate;
    json_array_foreach(json_object_get(spec, "schedulingGates"), i, gate)
    {
        if (!in_array(gate, json_object_get(old_spec, "schedulingGates"))) {
            const char *g = json_string_value(json_object_get(gate, "name"));
            char *why = kr_asprintf("only deletion is allowed, but found new scheduling gate '%s'",
                                    g ? g : "");
            add_spec_forbidden(causes, "spec.schedulingGates",
                               why ? why : "only deletion is allowed");
            kr_free(why);
            break;
        }
    }
    static const char *const munged[] = {"activeDeadlineSeconds", "tolerations", "schedulingGates",
                                         NULL};
    json_t *a = spec_without(old_spec, munged), *b = spec_without(spec, munged);
    if (!a || !b) {
        json_decref(a);
        json_decref(b);
        return;
    }
    blank_images(a, "containers");
    blank_images(a, "initContainers");
    blank_images(b, "containers");
    blank_images(b, "initContainers");
    const json_t *old_grace = json_object_get(a, "terminationGracePeriodSeconds");
    if (json_integer_value(old_grace) < 0 &&
        json_integer_value(json_object_get(b, "terminationGracePeriodSeconds")) == 1)
        json_object_set(b, "terminationGracePeriodSeconds", (json_t *)old_grace);
    bool gated = json_array_size(json_object_get(old_spec, "schedulingGates")) > 0;
    bool selector_ok = true;
    if (gated) {
        /* mutable scheduling directives: node selector entries only added */
        selector_ok =
            map_within(json_object_get(a, "nodeSelector"), json_object_get(b, "nodeSelector"));
        json_object_del(a, "nodeSelector");
        json_object_del(b, "nodeSelector");
        json_object_del(json_object_get(a, "affinity"), "nodeAffinity");
        json_object_del(json_object_get(b, "affinity"), "nodeAffinity");
        if (json_object_size(json_object_get(a, "affinity")) == 0)
            json_object_del(a, "affinity");
        if (json_object_size(json_object_get(b, "affinity")) == 0)
            json_object_del(b, "affinity");
    }
    bool same = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (!selector_ok)
        add_spec_forbidden(causes, "spec.nodeSelector",
                           "only additions to spec.nodeSelector are allowed (no "
                           "mutations or deletions)");
    if (!same)
        add_spec_forbidden(
            causes, "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,"
            "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
            "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to "
            "be "
            "set to 1 if it was previously negative)");
}

/* ValidateRoleBindingUpdate: the role a binding grants never changes; the
 * value is printed as Go's %#v of rbac.RoleRef. */
static void check_role_ref(const json_t *old, const json_t *obj, json_t *causes)
{
    if (ts_same_at(old, obj, "roleRef"))
        return;
    const json_t *ref = json_object_get(obj, "roleRef");
    const char *group = json_string_value(json_object_get(ref, "apiGroup"));
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *role = json_string_value(json_object_get(ref, "name"));
    char *msg = kr_asprintf("Invalid value: rbac.RoleRef{APIGroup:\"%s\", Kind:\"%s\", "
                            "Name:\"%s\"}: cannot change roleRef",
                            group ? group : "", kind ? kind : "", role ? role : "");
    add_cause(causes, "roleRef", "FieldValueInvalid", msg ? msg : "cannot change roleRef");
    kr_free(msg);
}

static void check_immutable_field(const ts_resource *res, const json_t *old, const json_t *obj,
                                  json_t *causes)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(IMMUTABLE); i++) {
        if (!ts_resource_is(res, IMMUTABLE[i].group, IMMUTABLE[i].plural))
            continue;
        const json_t *a = IMMUTABLE[i].in_spec ? json_object_get(old, "spec") : old;
        const json_t *b = IMMUTABLE[i].in_spec ? json_object_get(obj, "spec") : obj;
        if (ts_same_at(a, b, IMMUTABLE[i].key))
            return;
        char field[64];
        snprintf(field, sizeof(field), "%s%s", IMMUTABLE[i].in_spec ? "spec." : "",
                 IMMUTABLE[i].key);
        add_immutable(causes, field, json_object_get(b, IMMUTABLE[i].key), "field is immutable");
        return;
    }
}

/* ValidateJobSpecUpdate's own rules, in its order: completions, the
 * selector, the template, the completion mode. */
static void check_job_update(const json_t *old_spec, const json_t *spec, json_t *causes)
{
    /* an Indexed Job's completions may change in tandem with its
     * parallelism (ElasticIndexedJob) */
    const char *mode = json_string_value(json_object_get(spec, "completionMode"));
    bool indexed = mode && strcmp(mode, "Indexed") == 0;
    const json_t *completions = json_object_get(spec, "completions");
    if (!indexed && !ts_same_at(old_spec, spec, "completions"))
        add_immutable(causes, "spec.completions", completions, "field is immutable");
    if (indexed && !ts_same_at(old_spec, spec, "completions") && json_is_integer(completions) &&
        !json_equal(completions, json_object_get(spec, "parallelism")))
        add_immutable(causes, "spec.completions", completions,
                      "can only be modified in tandem with spec.parallelism");
    if (!ts_same_at(old_spec, spec, "selector"))
        add_immutable_selector(causes, spec);
    if (!ts_same_at(old_spec, spec, "template"))
        add_immutable(causes, "spec.template", json_object_get(spec, "template"),
                      "field is immutable");
    if (!ts_same_at(old_spec, spec, "completionMode"))
        add_immutable(causes, "spec.completionMode", json_object_get(spec, "completionMode"),
                      "field is immutable");
}

bool ts_update_rules_last(const ts_resource *res)
{
    return ts_resource_is(res, "apps", "deployments") ||
           ts_resource_is(res, "apps", "replicasets") ||
           ts_resource_is(res, "apps", "statefulsets") ||
           ts_resource_is(res, "apps", "daemonsets") || ts_resource_is(res, "batch", "jobs") ||
           ts_resource_is(res, "", "pods");
}

void ts_validate_update(const ts_resource *res, const json_t *existing, const json_t *obj,
                        json_t *causes)
{
    const json_t *old_spec = json_object_get(existing, "spec");
    const json_t *spec = json_object_get(obj, "spec");
    if (ts_resource_is(res, "", "configmaps") || ts_resource_is(res, "", "secrets"))
        check_immutable_data(res, existing, obj, causes);
    else if (ts_resource_is(res, "storage.k8s.io", "storageclasses"))
        check_storageclass(existing, obj, causes);
    else if (ts_resource_is(res, "scheduling.k8s.io", "priorityclasses")) {
        /* ValidatePriorityClassUpdate: the value, then the preemption
         * policy */
        if (!ts_same_at(existing, obj, "value"))
            add_spec_forbidden(causes, "value", "may not be changed in an update.");
        check_immutable_field(res, existing, obj, causes);
    } else if (ts_resource_is(res, "rbac.authorization.k8s.io", "rolebindings") ||
               ts_resource_is(res, "rbac.authorization.k8s.io", "clusterrolebindings"))
        check_role_ref(existing, obj, causes);
    else if (ts_resource_is(res, "batch", "jobs"))
        check_job_update(old_spec, spec, causes);
    else if (ts_resource_is(res, "apps", "deployments") ||
             ts_resource_is(res, "apps", "replicasets") ||
             ts_resource_is(res, "apps", "statefulsets") ||
             ts_resource_is(res, "apps", "daemonsets")) {
        /* a StatefulSet's selector is one of the spec's fields its rule
         * forbids changing; the others' strategies add the selector's */
        if (ts_resource_is(res, "apps", "statefulsets"))
            check_statefulset(old_spec, spec, causes);
        else if (!ts_same_at(old_spec, spec, "selector"))
            add_immutable_selector(causes, spec);
    } else if (ts_resource_is(res, "", "services")) {
        const char *old_type = json_string_value(json_object_get(old_spec, "type"));
        const char *type = json_string_value(json_object_get(spec, "type"));
        bool external = (old_type && strcmp(old_type, "ExternalName") == 0) ||
                        (type && strcmp(type, "ExternalName") == 0);
        if (!external && json_object_get(old_spec, "clusterIP") &&
            !ts_same_at(old_spec, spec, "clusterIP")) {
            /* the new clusterIPs, as %#v of a []string */
            add_invalid_printed(causes, "spec.clusterIPs[0]", ts_go_strings,
                                json_object_get(spec, "clusterIPs"), "may not change once set");
        }
    } else
        check_immutable_field(res, existing, obj, causes);
}

/* ---- a pod's addresses (status) ------------------------------------------------------- */

/* When `one` (podIP, hostIP) is set and `many` (podIPs, hostIPs) does not
 * start with it, `many` becomes [{ip: one}] (the v1 conversion: the
 * singular field is authoritative for older kubelets). */
static void single_ip_first(json_t *status, const char *one, const char *many)
{
    const char *ip = json_string_value(json_object_get(status, one));
    const json_t *list = json_object_get(status, many);
    const char *first = json_string_value(json_object_get(json_array_get(list, 0), "ip"));
    if (ip && *ip && (!first || strcmp(first, ip) != 0))
        json_object_set_new(status, many, json_pack("[{s:s}]", "ip", ip));
}

void ts_pod_status_ips(json_t *status)
{
    if (!json_is_object(status))
        return;
    single_ip_first(status, "podIP", "podIPs");
    single_ip_first(status, "hostIP", "hostIPs");
    /* the internal status has no podIP: it is podIPs[0] read back */
    const char *first = json_string_value(
        json_object_get(json_array_get(json_object_get(status, "podIPs"), 0), "ip"));
    if (first && *first)
        json_object_set_new(status, "podIP", json_string(first));
    else
        json_object_del(status, "podIP");
}

/* An address as validation.IsValidIP reads it (netutils.ParseIPSloppy:
 * IPv4 octets with leading zeros taken); *v6 when it is an IPv6 one (an
 * IPv4-mapped address counts as IPv4, as net.IP's To4 sees it). */
static bool sloppy_ip(const char *text, bool *v6)
{
    uint32_t v4;
    unsigned char a[16];
    if (text && ts_parse_ipv4_sloppy(text, &v4, NULL)) {
        *v6 = false;
        return true;
    }
    if (!text || inet_pton(AF_INET6, text, a) != 1)
        return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    *v6 = memcmp(a, mapped, sizeof(mapped)) != 0;
    return true;
}

/* `type`{IP:"<ip>"} (%#v of a core.PodIP or core.HostIP). */
static void go_ip_struct(kr_buf *b, const char *type, const json_t *entry)
{
    const char *ip = json_string_value(json_object_get(entry, "ip"));
    kr_buf_printf(b, "core.%s{IP:", type);
    ts_go_quote(b, ip ? ip : "");
    kr_buf_append_str(b, "}");
}

/* "may specify no more than one IP for each IP family" on the whole
 * list, unless it holds one IPv4 and one IPv6 address (IsDualStackIPStrings;
 * a list with an address it cannot parse is left to the per-address
 * causes). */
static void one_per_family(const json_t *list, const char *field, const char *type, json_t *causes)
{
    bool v4 = false, v6 = false, is6;
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!sloppy_ip(json_string_value(json_object_get(e, "ip")), &is6))
            return;
        v4 = v4 || !is6;
        v6 = v6 || is6;
    }
    if (v4 && v6 && json_array_size(list) <= 2)
        return;
    kr_buf b = {0};
    kr_buf_printf(&b, "Invalid value: []core.%s{", type);
    json_array_foreach(list, i, e)
    {
        kr_buf_append_str(&b, i ? ", " : "");
        go_ip_struct(&b, type, e);
    }
    kr_buf_append_str(&b, "}: may specify no more than one IP for each IP family");
    add_cause(causes, field, "FieldValueInvalid", b.data);
    kr_buf_free(&b);
}

/* "Duplicate value: core.PodIP{IP:...}" for each address listed before. */
static void no_duplicates(const json_t *list, const char *field, const char *type, json_t *causes)
{
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *ip = json_string_value(json_object_get(e, "ip"));
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) {
            const char *other = json_string_value(json_object_get(json_array_get(list, k), "ip"));
            seen = strcmp(other ? other : "", ip ? ip : "") == 0;
        }
        if (!seen)
            continue;
        char at[48];
        snprintf(at, sizeof(at), "%s[%zu]", field, i);
        kr_buf b = {0};
        kr_buf_append_str(&b, "Duplicate value: ");
        go_ip_struct(&b, type, e);
        add_cause(causes, at, "FieldValueDuplicate", b.data);
        kr_buf_free(&b);
    }
}

/* Each address IsValidIP accepts: "<field>[i]: Invalid value: ..." for
 * the others. */
static void valid_ips(const json_t *list, const char *field, json_t *causes)
{
    static const char *const why[] = {"must be a valid IP address, (e.g. 10.9.8.7 or "
                                      "2001:db8::ffff)"};
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *ip = json_string_value(json_object_get(e, "ip"));
        bool v6;
        if (sloppy_ip(ip, &v6))
            continue;
        char at[48];
        snprintf(at, sizeof(at), "%s[%zu]", field, i);
        ts_add_problems(causes, at, ip ? ip : "", why, 1);
    }
}

void ts_validate_pod_status_ips(const json_t *obj, json_t *causes)
{
    const json_t *status = json_object_get(obj, "status");
    /* validatePodIPs: each address, then with more than one, the families
     * and duplicates */
    const json_t *pods = json_object_get(status, "podIPs");
    valid_ips(pods, "status.podIPs", causes);
    if (json_array_size(pods) > 1) {
        one_per_family(pods, "status.podIPs", "PodIP", causes);
        no_duplicates(pods, "status.podIPs", "PodIP", causes);
    }
    /* validateHostIPs: hostIPs[0] is hostIP, each address, then with more
     * than one, duplicates and the families */
    const json_t *hosts = json_object_get(status, "hostIPs");
    if (json_array_size(hosts) == 0)
        return;
    const char *host = json_string_value(json_object_get(status, "hostIP"));
    const char *first = json_string_value(json_object_get(json_array_get(hosts, 0), "ip"));
    if (strcmp(host ? host : "", first ? first : "") != 0) {
        kr_buf b = {0};
        kr_buf_append_str(&b, "Invalid value: ");
        ts_go_quote(&b, first ? first : "");
        kr_buf_append_str(&b, ": must be equal to `hostIP`");
        add_cause(causes, "status.hostIPs[0].ip", "FieldValueInvalid", b.data);
        kr_buf_free(&b);
    }
    valid_ips(hosts, "status.hostIPs", causes);
    if (json_array_size(hosts) > 1) {
        no_duplicates(hosts, "status.hostIPs", "HostIP", causes);
        one_per_family(hosts, "status.hostIPs", "HostIP", causes);
    }
}
