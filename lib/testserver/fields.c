/* libkreconcile-testserver — fieldSelector (the library's parser): every
 * kind selects by metadata.name and metadata.namespace, some built-in kinds
 * by more fields, as kube-apiserver's registry offers them (events by
 * involvedObject.*, which kubectl describe asks for; pods by spec.nodeName
 * and status.phase; ...), custom resources by their CRD version's
 * selectableFields. A selectable field the object lacks compares as ""
 * (a bool as "false"), as the apiserver's field sets do. Also the
 * combined "does this object match" test of LIST, WATCH and
 * deletecollection. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kreconcile/selector.h"
#include "testserver/ts_internal.h"

/* A selectable field: its JSONPath in the v1 object, one tried when that
 * is empty, and how its value prints. */
struct ts_field {
    const char *name, *path, *fallback;
    char type; /* 's' string, 'b' bool (absent: false), 'i' integer (absent: 0) */
};

struct ts_field_table {
    const char *group, *plural;
    const struct ts_field *fields;
    size_t n;
    /* A kind with a field label conversion function of its own: what it
     * answers for another field (the field as %s), and whether it also
     * takes metadata.namespace; NULL: the scheme's default conversion
     * (metadata.name and metadata.namespace, the library's message). */
    const char *unsupported;
    bool namespace_ok;
};

static const struct ts_field EVENT_FIELDS[] = {
    {"involvedObject.kind", ".involvedObject.kind", NULL, 's'},
    {"involvedObject.namespace", ".involvedObject.namespace", NULL, 's'},
    {"involvedObject.name", ".involvedObject.name", NULL, 's'},
    {"involvedObject.uid", ".involvedObject.uid", NULL, 's'},
    {"involvedObject.apiVersion", ".involvedObject.apiVersion", NULL, 's'},
    {"involvedObject.resourceVersion", ".involvedObject.resourceVersion", NULL, 's'},
    {"involvedObject.fieldPath", ".involvedObject.fieldPath", NULL, 's'},
    {"reason", ".reason", NULL, 's'},
    {"reportingComponent", ".reportingComponent", NULL, 's'},
    {"source", ".source.component", ".reportingComponent", 's'},
    {"type", ".type", NULL, 's'},
};
/* events.k8s.io/v1: its conversion maps these names onto the core
 * Event's selectable fields (regarding is involvedObject, reportingController
 * reportingComponent); here they are read from the v1 object itself. */
static const struct ts_field EVENTS_V1_FIELDS[] = {
    {"regarding.kind", ".regarding.kind", NULL, 's'},
    {"regarding.namespace", ".regarding.namespace", NULL, 's'},
    {"regarding.name", ".regarding.name", NULL, 's'},
    {"regarding.uid", ".regarding.uid", NULL, 's'},
    {"regarding.apiVersion", ".regarding.apiVersion", NULL, 's'},
    {"regarding.resourceVersion", ".regarding.resourceVersion", NULL, 's'},
    {"regarding.fieldPath", ".regarding.fieldPath", NULL, 's'},
    {"reason", ".reason", NULL, 's'},
    {"reportingController", ".reportingController", NULL, 's'},
    {"source", ".deprecatedSource.component", ".reportingController", 's'},
    {"type", ".type", NULL, 's'},
};
static const struct ts_field POD_FIELDS[] = {
    {"spec.nodeName", ".spec.nodeName", NULL, 's'},
    {"spec.host", ".spec.nodeName", NULL, 's'}, /* old v1 clients' name for it */
    {"spec.restartPolicy", ".spec.restartPolicy", NULL, 's'},
    {"spec.schedulerName", ".spec.schedulerName", NULL, 's'},
    {"spec.serviceAccountName", ".spec.serviceAccountName", NULL, 's'},
    {"spec.hostNetwork", ".spec.hostNetwork", NULL, 'b'},
    {"status.phase", ".status.phase", NULL, 's'},
    {"status.podIP", ".status.podIPs[0].ip", ".status.podIP", 's'},
    {"status.nominatedNodeName", ".status.nominatedNodeName", NULL, 's'},
};
static const struct ts_field SECRET_FIELDS[] = {{"type", ".type", NULL, 's'}};
static const struct ts_field NAMESPACE_FIELDS[] = {{"status.phase", ".status.phase", NULL, 's'}};
static const struct ts_field NODE_FIELDS[] = {
    {"spec.unschedulable", ".spec.unschedulable", NULL, 'b'}};
static const struct ts_field JOB_FIELDS[] = {{"status.successful", ".status.succeeded", NULL, 'i'}};
static const struct ts_field REPLICASET_FIELDS[] = {
    {"status.replicas", ".status.replicas", NULL, 'i'}};
static const struct ts_field SERVICE_FIELDS[] = {
    {"spec.clusterIP", ".spec.clusterIP", NULL, 's'},
    {"spec.type", ".spec.type", NULL, 's'},
};
static const struct ts_field CSR_FIELDS[] = {{"spec.signerName", ".spec.signerName", NULL, 's'}};

#define CORE_UNSUPPORTED "field label not supported: %s"
#define TABLE(g, p, f, unsupported, namespace_ok)                                                  \
    {                                                                                              \
        g, p, f, KR_ARRAY_LEN(f), unsupported, namespace_ok                                        \
    }
/* The conversion functions of pkg/apis/core/v1, events/v1, batch/v1 and
 * certificates/v1 (1.32); ReplicaSets by the scheme's default message. */
static const struct ts_field_table KIND_FIELDS[] = {
    TABLE("", "events", EVENT_FIELDS, CORE_UNSUPPORTED, true),
    TABLE("events.k8s.io", "events", EVENTS_V1_FIELDS, CORE_UNSUPPORTED, true),
    TABLE("", "pods", POD_FIELDS, CORE_UNSUPPORTED, true),
    TABLE("", "secrets", SECRET_FIELDS, CORE_UNSUPPORTED, true),
    TABLE("", "namespaces", NAMESPACE_FIELDS, CORE_UNSUPPORTED, false),
    TABLE("", "nodes", NODE_FIELDS, CORE_UNSUPPORTED, false),
    TABLE("", "services", SERVICE_FIELDS, CORE_UNSUPPORTED, true),
    TABLE("", "replicationcontrollers", REPLICASET_FIELDS, CORE_UNSUPPORTED, true),
    TABLE("certificates.k8s.io", "certificatesigningrequests", CSR_FIELDS, CORE_UNSUPPORTED, false),
    TABLE("batch", "jobs", JOB_FIELDS, "field label \"%s\" not supported for batchv1.Job", true),
    TABLE("apps", "replicasets", REPLICASET_FIELDS, NULL, true),
};
#undef TABLE
#undef CORE_UNSUPPORTED

/* The first field of `sel` a conversion function would refuse, or NULL. */
static const char *unsupported_field(const struct ts_field_table *t, const kr_field_selector_t *sel)
{
    for (size_t i = 0; i < kr_field_selector_count(sel); i++) {
        const char *field = NULL, *value = NULL;
        kr_field_op op;
        if (kr_field_selector_requirement(sel, i, &field, &op, &value) != 0)
            continue;
        bool known = strcmp(field, "metadata.name") == 0 ||
                     (t->namespace_ok && strcmp(field, "metadata.namespace") == 0);
        for (size_t k = 0; !known && k < t->n; k++)
            known = strcmp(field, t->fields[k].name) == 0;
        if (!known)
            return field;
    }
    return NULL;
}

static const struct ts_field_table *kind_fields(const ts_resource *res)
{
    for (size_t i = 0; res && !res->crd && i < KR_ARRAY_LEN(KIND_FIELDS); i++)
        if (ts_resource_is(res, KIND_FIELDS[i].group, KIND_FIELDS[i].plural))
            return &KIND_FIELDS[i];
    return NULL;
}

struct field_scratch {
    const struct ts_field_table *table;
    const json_t *cr_fields;
    char buf[64];
};

/* A custom resource's selectable field, as the CRD's jsonPath names it
 * without its leading dot ("spec.size"), or NULL. */
static const char *cr_field(const json_t *paths, const char *field)
{
    const json_t *p;
    size_t i;
    json_array_foreach(paths, i, p)
    {
        const char *path = json_string_value(p);
        if (strcmp(path[0] == '.' ? path + 1 : path, field) == 0)
            return path;
    }
    return NULL;
}

/* The value of a custom resource's selectable field as kube-apiserver
 * prints it (fmt.Sprint): "" when absent or null. */
static const char *cr_value(const json_t *obj, const char *path, char *buf, size_t len)
{
    const json_t *v = ts_json_path(obj, path);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, len, "%g", json_real_value(v));
        return buf;
    }
    return "";
}

/* The first field of `sel` a custom resource's conversion refuses
 * (metadata.namespace of a cluster-scoped one, a field its CRD version
 * does not select by), or NULL. */
static const char *cr_unsupported(const ts_resource *res, const kr_field_selector_t *sel)
{
    for (size_t i = 0; i < kr_field_selector_count(sel); i++) {
        const char *field = NULL, *value = NULL;
        kr_field_op op;
        if (kr_field_selector_requirement(sel, i, &field, &op, &value) != 0)
            continue;
        if (strcmp(field, "metadata.name") != 0 &&
            !(res->namespaced && strcmp(field, "metadata.namespace") == 0) &&
            !cr_field(res->selectable_fields, field))
            return field;
    }
    return NULL;
}

static const char *field_value(const json_t *obj, const char *field, void *user)
{
    struct field_scratch *s = user;
    const char *path = s->cr_fields ? cr_field(s->cr_fields, field) : NULL;
    if (path)
        return cr_value(obj, path, s->buf, sizeof(s->buf));
    const struct ts_field *f = NULL;
    for (size_t i = 0; s->table && i < s->table->n && !f; i++)
        if (strcmp(s->table->fields[i].name, field) == 0)
            f = &s->table->fields[i];
    if (!f)
        return kr_field_selector_metadata_value(obj, field, NULL);
    const json_t *v = ts_json_path(obj, f->path);
    if (f->fallback && (!json_is_string(v) || !*json_string_value(v)))
        v = ts_json_path(obj, f->fallback);
    if (f->type == 'b')
        return json_is_true(v) ? "true" : "false";
    if (f->type == 'i') {
        snprintf(s->buf, sizeof(s->buf), "%lld",
                 json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
        return s->buf;
    }
    return json_is_string(v) ? json_string_value(v) : "";
}

int ts_fieldsel_parse(const ts_resource *res, const char *text, ts_fieldsel *out, char *msg,
                      size_t msgsize)
{
    const struct ts_field_table *table = kind_fields(res);
    const char *allowed[2 + 16] = {"metadata.name", "metadata.namespace"};
    size_t n = 2;
    for (size_t i = 0; table && i < table->n && n < KR_ARRAY_LEN(allowed); i++)
        allowed[n++] = table->fields[i].name;
    kr_error_t err = {0};
    memset(out, 0, sizeof(*out));
    out->kind_fields = table;
    int rc = kr_field_selector_parse(text, &out->sel, &err);
    if (rc == 0 && res && res->crd) {
        /* apiextensions' crConverter.ConvertFieldLabel */
        const char *refused = cr_unsupported(res, out->sel);
        if (refused) {
            snprintf(msg, msgsize, "field label not supported: %s", refused);
            ts_fieldsel_free(out);
            return KR_EPARSE;
        }
        out->cr_fields = json_incref(res->selectable_fields);
        out->len = kr_field_selector_count(out->sel);
        return 0;
    }
    const char *refused =
        rc == 0 && table && table->unsupported ? unsupported_field(table, out->sel) : NULL;
    if (refused) {
        snprintf(msg, msgsize, table->unsupported, refused);
        ts_fieldsel_free(out);
        return KR_EPARSE;
    }
    if (rc == 0 && !(table && table->unsupported))
        rc = kr_field_selector_check_fields(out->sel, allowed, n, &err);
    if (rc != 0) {
        snprintf(msg, msgsize, "%s", err.message);
        ts_fieldsel_free(out);
        return rc == KR_ENOMEM ? rc : KR_EPARSE;
    }
    out->len = kr_field_selector_count(out->sel);
    return 0;
}

bool ts_fieldsel_matches(const ts_fieldsel *fs, const json_t *obj)
{
    if (!fs->sel)
        return true;
    if (!fs->kind_fields && !fs->cr_fields)
        return kr_field_selector_matches(fs->sel, obj, NULL, NULL);
    struct field_scratch scratch = {.table = fs->kind_fields, .cr_fields = fs->cr_fields};
    return kr_field_selector_matches(fs->sel, obj, field_value, &scratch);
}

void ts_fieldsel_free(ts_fieldsel *fs)
{
    kr_field_selector_free(fs->sel);
    fs->sel = NULL;
    fs->len = 0;
    json_decref(fs->cr_fields);
    fs->cr_fields = NULL;
}

bool ts_object_matches(const ts_labels_t *labels, const ts_fieldsel *fields, const json_t *obj)
{
    if (fields && !ts_fieldsel_matches(fields, obj))
        return false;
    if (!labels)
        return true;
    const json_t *md = json_object_get(obj, "metadata");
    return ts_labels_matches(labels, json_object_get(md, "labels"));
}

int ts_parse_selectors(const ts_request *req, const ts_resource *res, ts_labels_t **labels,
                       ts_fieldsel *fields, ts_response *resp)
{
    char msg[512] = "";
    *labels = NULL;
    memset(fields, 0, sizeof(*fields));
    const char *ls = ts_query(req, "labelSelector");
    const char *fsel = ts_query(req, "fieldSelector");
    int rc = ls ? ts_labels_parse(ls, labels, msg, sizeof(msg)) : 0;
    if (rc == 0 && fsel)
        rc = ts_fieldsel_parse(res, fsel, fields, msg, sizeof(msg));
    if (rc == 0)
        return 0;
    ts_labels_free(*labels);
    *labels = NULL;
    if (rc == KR_ENOMEM)
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                          NULL);
    else
        ts_respond_bad_request(resp, "%s", msg);
    return rc;
}

int ts_query_bool(const ts_request *req, const char *key)
{
    const char *v = ts_query(req, key);
    return v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
}
