/* libkreconcile — the managed-object labels, the placement annotation and
 * finalizer patches (see kreconcile/managed.h). Pure functions on jansson
 * values: no I/O, no logging; inputs are borrowed and only
 * kr_managed_set_labels edits one. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/managed.h"

static const char *label_of(const json_t *obj, const char *name)
{
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    return json_string_value(json_object_get(labels, name));
}

static bool empty(const char *s)
{
    return !s || !*s;
}

KR_API int kr_managed_set_labels(json_t *obj, const kr_managed_source *src, kr_error_t *err)
{
    if (!json_is_object(obj) || !src || empty(src->manager) || empty(src->source_cluster) ||
        empty(src->source_uid))
        return kr_error_set(err, KR_EINVAL,
                            "managed labels need an object, a manager, a source cluster and uid");
    json_t *meta = json_object_get(obj, "metadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        if (!meta || json_object_set_new(obj, "metadata", meta) != 0)
            return kr_error_set(err, KR_ENOMEM, "out of memory setting managed labels");
    }
    json_t *labels = json_object_get(meta, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        if (!labels || json_object_set_new(meta, "labels", labels) != 0)
            return kr_error_set(err, KR_ENOMEM, "out of memory setting managed labels");
    }
    if (json_object_set_new(labels, KR_LABEL_MANAGED_BY, json_string(src->manager)) ||
        json_object_set_new(labels, KR_LABEL_SOURCE_UID, json_string(src->source_uid)) ||
        json_object_set_new(labels, KR_LABEL_SOURCE_CLUSTER, json_string(src->source_cluster)))
        return kr_error_set(err, KR_ENOMEM, "out of memory setting managed labels");
    return 0;
}

KR_API kr_managed_owner kr_managed_owner_of(const json_t *obj, const kr_managed_source *src)
{
    if (!obj || !src || empty(src->manager) || empty(src->source_cluster))
        return KR_MANAGED_FOREIGN;
    const char *manager = label_of(obj, KR_LABEL_MANAGED_BY);
    const char *cluster = label_of(obj, KR_LABEL_SOURCE_CLUSTER);
    if (!manager || strcmp(manager, src->manager) != 0 || !cluster ||
        strcmp(cluster, src->source_cluster) != 0)
        return KR_MANAGED_FOREIGN;
    /* every copy we write carries all three labels: one without a source
     * uid was not written by us, whoever labelled it */
    const char *uid = label_of(obj, KR_LABEL_SOURCE_UID);
    if (empty(uid))
        return KR_MANAGED_FOREIGN;
    if (empty(src->source_uid) || strcmp(uid, src->source_uid) == 0)
        return KR_MANAGED_OURS;
    return KR_MANAGED_OURS_OTHER_SOURCE;
}

KR_API char *kr_managed_selector(const char *manager, char *buf, size_t len)
{
    if (empty(manager) || !buf)
        return NULL;
    int n = snprintf(buf, len, "%s=%s", KR_LABEL_MANAGED_BY, manager);
    return n < 0 || (size_t)n >= len ? NULL : buf;
}

/* The whitespace of the "C" locale, spelled out: isspace() follows the
 * program's locale, and two programs must read the same annotation the
 * same way whatever locale each runs in. */
static bool placement_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

KR_API const char *kr_managed_placement_next(const char **list, size_t *len)
{
    const char *p = *list;
    if (!p)
        return NULL;
    while (*p == ',' || placement_space(*p))
        p++;
    const char *start = p;
    while (*p && *p != ',' && !placement_space(*p))
        p++;
    *list = p;
    *len = (size_t)(p - start);
    return *len ? start : NULL;
}

KR_API bool kr_managed_placed(const json_t *obj, const char *cluster)
{
    const json_t *annotations = json_object_get(json_object_get(obj, "metadata"), "annotations");
    const char *list = json_string_value(json_object_get(annotations, KR_ANNOTATION_CLUSTERS));
    if (!list)
        return true;
    size_t want = cluster ? strlen(cluster) : 0, len;
    for (const char *name; want && (name = kr_managed_placement_next(&list, &len));)
        if (len == want && memcmp(name, cluster, want) == 0)
            return true;
    return false;
}

/* A cluster name's grammar (kr_manager_cluster_arg): 1-63 letters,
 * digits, '-', '_' or '.'. */
static bool placement_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > 63)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* `s` (`n` bytes) into out[*used..len), printable ASCII as it is and any
 * other byte as \xNN: the text is a log line's, an Event's and a status
 * entry's, and a non-breaking space must show. Whole escapes only. */
static void placement_quote(char *out, size_t len, size_t *used, const char *s, size_t n)
{
    if (*used + 4 > len)
        return; /* no room left, not even for "..." */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        int w = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
                    ? snprintf(tmp, sizeof(tmp), "%c", c)
                    : snprintf(tmp, sizeof(tmp), "\\x%02x", c);
        if (*used + (size_t)w + 4 >= len) { /* room for "..." and the NUL */
            memcpy(out + *used, "...", 4);
            *used += 3;
            return;
        }
        memcpy(out + *used, tmp, (size_t)w + 1);
        *used += (size_t)w;
    }
}

KR_API kr_placement_check kr_managed_placement_check(const json_t *obj, const char *const *clusters,
                                                     size_t n, char *why, size_t len)
{
    if (why && len)
        why[0] = '\0';
    const json_t *annotations = json_object_get(json_object_get(obj, "metadata"), "annotations");
    const char *list = json_string_value(json_object_get(annotations, KR_ANNOTATION_CLUSTERS));
    if (!list)
        return KR_PLACEMENT_OK;
    const char *p = list, *name;
    size_t nlen;
    bool any = false, known = false;
    while ((name = kr_managed_placement_next(&p, &nlen))) {
        if (!placement_name_valid(name, nlen)) {
            if (why && len > 8) {
                int w = snprintf(why, len, "placement %s: \"", KR_ANNOTATION_CLUSTERS);
                if (w < 0 || (size_t)w >= len)
                    return KR_PLACEMENT_MALFORMED; /* cut: what fits is said */
                size_t used = (size_t)w;
                placement_quote(why, len, &used, name, nlen);
                snprintf(why + used, len - used,
                         "\" is not a cluster name (1-63 letters, digits, '-', '_' or '.'; "
                         "names are separated by commas or whitespace)");
            }
            return KR_PLACEMENT_MALFORMED;
        }
        any = true;
        for (size_t i = 0; clusters && i < n && !known; i++)
            known =
                clusters[i] && strlen(clusters[i]) == nlen && memcmp(clusters[i], name, nlen) == 0;
    }
    if (!any || known || !clusters)
        return KR_PLACEMENT_OK;
    if (why && len)
        snprintf(why, len, "placement %s names no configured workload cluster",
                 KR_ANNOTATION_CLUSTERS);
    return KR_PLACEMENT_ALL_UNKNOWN;
}

KR_API const char *kr_managed_unsynced_reason(const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    if (json_array_size(json_object_get(md, "ownerReferences")) > 0)
        return "owned by another object (ownerReferences)";
    const char *ignore = json_string_value(
        json_object_get(json_object_get(md, "annotations"), KR_ANNOTATION_IGNORE));
    if (ignore && strcmp(ignore, "true") == 0)
        return KR_ANNOTATION_IGNORE " is \"true\"";
    /* Every cluster publishes its own: copies would collide with theirs. */
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *name = json_string_value(json_object_get(md, "name"));
    bool core = av && strcmp(av, "v1") == 0 && kind;
    if (core && strcmp(kind, "ConfigMap") == 0 && name && strcmp(name, "kube-root-ca.crt") == 0)
        return "the cluster's own CA bundle (kube-root-ca.crt; every cluster publishes its own)";
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (core && strcmp(kind, "Secret") == 0 && type &&
        strcmp(type, "kubernetes.io/service-account-token") == 0)
        return "a service account token of the hub (type kubernetes.io/service-account-token)";
    return NULL;
}

KR_API bool kr_managed_has_finalizer(const json_t *obj, const char *finalizer)
{
    const json_t *list = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        const char *s = json_string_value(item);
        if (s && finalizer && strcmp(s, finalizer) == 0)
            return true;
    }
    return false;
}

KR_API int kr_managed_finalizer_patch(const json_t *obj, const char *finalizer, bool present,
                                      json_t **patch_out, kr_error_t *err)
{
    if (patch_out)
        *patch_out = NULL;
    const json_t *meta = json_object_get(obj, "metadata");
    const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
    if (empty(finalizer) || empty(rv) || !patch_out)
        return kr_error_set(err, KR_EINVAL,
                            "a finalizer patch needs a finalizer and the object's resourceVersion");
    if (kr_managed_has_finalizer(obj, finalizer) == present)
        return 0;
    json_t *list = json_array();
    json_t *patch =
        list ? json_pack("{s:{s:s, s:o}}", "metadata", "resourceVersion", rv, "finalizers", list)
             : NULL;
    if (!patch)
        return kr_error_set(err, KR_ENOMEM, "out of memory building a finalizer patch");
    size_t i;
    const json_t *item;
    int rc = 0;
    json_array_foreach(json_object_get(meta, "finalizers"), i, item)
    {
        const char *s = json_string_value(item);
        if (s && strcmp(s, finalizer) == 0)
            continue;
        rc |= json_array_append(list, (json_t *)item);
    }
    if (present)
        rc |= json_array_append_new(list, json_string(finalizer));
    if (rc != 0) {
        json_decref(patch);
        return kr_error_set(err, KR_ENOMEM, "out of memory building a finalizer patch");
    }
    *patch_out = patch;
    return 0;
}

/* ---- owner references and Secret data --------------------------------------------- */

/* The group of an apiVersion ("apps/v1" -> "apps", "v1" -> ""), its length. */
static size_t group_len(const char *api_version)
{
    const char *slash = strchr(api_version, '/');
    return slash ? (size_t)(slash - api_version) : 0;
}

/* Whether two owner references name one object (controller-runtime's
 * referSameObject: group, kind and name; the version may differ). */
static bool same_owner(const json_t *a, const json_t *b)
{
    const char *av = json_string_value(json_object_get(a, "apiVersion"));
    const char *bv = json_string_value(json_object_get(b, "apiVersion"));
    const char *ak = json_string_value(json_object_get(a, "kind"));
    const char *bk = json_string_value(json_object_get(b, "kind"));
    const char *an = json_string_value(json_object_get(a, "name"));
    const char *bn = json_string_value(json_object_get(b, "name"));
    if (!av || !bv || !ak || !bk || !an || !bn)
        return false;
    size_t ag = group_len(av), bg = group_len(bv);
    return ag == bg && strncmp(av, bv, ag) == 0 && strcmp(ak, bk) == 0 && strcmp(an, bn) == 0;
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

int kr_managed_set_owner(json_t *obj, const json_t *owner, bool controller, kr_error_t *err)
{
    const char *api_version = json_string_value(json_object_get(owner, "apiVersion"));
    const char *kind = json_string_value(json_object_get(owner, "kind"));
    const char *name = meta_str(owner, "name"), *uid = meta_str(owner, "uid");
    if (!json_is_object(obj))
        return kr_error_set(err, KR_EINVAL, "set owner: the object is not a JSON object");
    if (empty(api_version) || empty(kind) || empty(name) || empty(uid))
        return kr_error_set(err, KR_EINVAL,
                            "set owner: the owner needs apiVersion, kind, metadata.name and "
                            "metadata.uid");
    const char *owner_ns = meta_str(owner, "namespace"), *ns = meta_str(obj, "namespace");
    if (!empty(owner_ns) && empty(ns))
        return kr_error_set(err, KR_EINVAL,
                            "cluster-scoped resource must not have a namespace-scoped owner, "
                            "owner's namespace %s",
                            owner_ns);
    if (!empty(owner_ns) && strcmp(owner_ns, ns) != 0)
        return kr_error_set(err, KR_EINVAL,
                            "cross-namespace owner references are disallowed, owner's namespace "
                            "%s, obj's namespace %s",
                            owner_ns, ns);
    json_t *ref = json_pack("{s:s, s:s, s:s, s:s}", "apiVersion", api_version, "kind", kind, "name",
                            name, "uid", uid);
    if (!ref)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    if (controller) {
        json_object_set_new(ref, "controller", json_true());
        json_object_set_new(ref, "blockOwnerDeletion", json_true());
    }
    json_t *md = json_object_get(obj, "metadata");
    json_t *refs = json_object_get(md, "ownerReferences");
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r)
    {
        if (!controller || !json_is_true(json_object_get(r, "controller")) || same_owner(r, ref))
            continue;
        const char *other = json_string_value(json_object_get(r, "name"));
        const char *other_kind = json_string_value(json_object_get(r, "kind"));
        kr_error_set(err, KR_ECONFLICT,
                     "Object %s%s%s is already owned by another %s controller %s",
                     empty(ns) ? "" : ns, empty(ns) ? "" : "/",
                     meta_str(obj, "name") ? meta_str(obj, "name") : "",
                     other_kind ? other_kind : "", other ? other : "");
        json_decref(ref);
        return KR_ECONFLICT;
    }
    if (!json_is_object(md)) {
        md = json_object();
        if (!md || json_object_set_new(obj, "metadata", md) != 0)
            goto nomem;
    }
    if (!json_is_array(refs)) {
        refs = json_array();
        if (!refs || json_object_set_new(md, "ownerReferences", refs) != 0)
            goto nomem;
    }
    json_array_foreach(refs, i, r)
    {
        if (same_owner(r, ref))
            return json_array_set_new(refs, i, ref) == 0
                       ? 0
                       : kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    if (json_array_append_new(refs, ref) != 0)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    return 0;
nomem:
    json_decref(ref);
    return kr_error_set(err, KR_ENOMEM, "out of memory");
}

int kr_secret_data_set(json_t *secret, const char *key, const void *value, size_t len,
                       kr_error_t *err)
{
    if (!json_is_object(secret) || empty(key) || (!value && len))
        return kr_error_set(err, KR_EINVAL, "secret data: a JSON object and a key are needed");
    char *text = kr_base64_encode(value ? value : "", len, false);
    json_t *data = json_object_get(secret, "data");
    if (text && !json_is_object(data)) {
        data = json_object();
        if (data && json_object_set_new(secret, "data", data) != 0)
            data = NULL;
    }
    int rc = text && data && json_object_set_new(data, key, json_string(text)) == 0
                 ? 0
                 : kr_error_set(err, KR_ENOMEM, "out of memory");
    kr_free(text);
    return rc;
}

int kr_secret_data_get(const json_t *secret, const char *key, char **value, size_t *len,
                       kr_error_t *err)
{
    *value = NULL;
    if (len)
        *len = 0;
    const char *text =
        key ? json_string_value(json_object_get(json_object_get(secret, "data"), key)) : NULL;
    if (!text)
        return kr_error_set(err, KR_ENOTFOUND, "secret data: no key %s", key ? key : "(null)");
    size_t n = 0, bad = 0;
    int rc = kr_base64_decode(text, strlen(text), false, value, &n, &bad);
    if (rc == KR_EPARSE)
        return kr_error_set(err, KR_EPARSE, "secret data %s: illegal base64 data at input byte %zu",
                            key, bad);
    if (rc != 0)
        return kr_error_set(err, rc, "out of memory");
    if (len)
        *len = n;
    return 0;
}
