/* libkreconcile-testserver — server-side printing, as kubectl get asks for
 * it (wire spec §1.9): an Accept entry application/json;as=Table;
 * g=meta.k8s.io;v=v1 (or v1beta1) turns a GET, a LIST and every event of
 * a WATCH into a meta.k8s.io Table: the resource's columns, one row per
 * object, and in each row the object as PartialObjectMetadata (the
 * default), whole (includeObject=Object) or not at all (None). A watch
 * sends the column definitions with its first event only.
 *
 * Custom resources get their CRD version's additionalPrinterColumns (an
 * Age column when it has none), evaluated as kube-apiserver's table
 * convertor does; ConfigMaps, Secrets, Namespaces, Leases, Deployments
 * and Jobs get kube-apiserver's printer columns (with its column types: a count
 * is declared a string and sent as an integer). Other built-in kinds
 * decline the Table, and kubectl then prints its own NAME and AGE.
 * Nothing here changes what is stored. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testserver/ts_internal.h"

typedef enum {
    P_NONE,
    P_CUSTOM,
    P_CONFIGMAP,
    P_SECRET,
    P_NAMESPACE,
    P_LEASE,
    P_DEPLOYMENT,
    P_JOB
} printer;

typedef enum { INCLUDE_METADATA, INCLUDE_OBJECT, INCLUDE_NONE } include_mode;

struct ts_table {
    printer kind;
    const char *api_version; /* "meta.k8s.io/v1" or "meta.k8s.io/v1beta1" */
    include_mode include;
    json_t *columns; /* the columnDefinitions */
    json_t *custom; /* P_CUSTOM: the printer columns after Name */
    bool headers_sent; /* a watch sends the columns with its first event only */
};

static const char NAME_DESC[] =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
static const char AGE_DESC[] =
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#metadata";

static json_t *column(const char *name, const char *type, const char *format, const char *desc,
                      json_int_t priority)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", name, "type", type, "format", format,
                     "description", desc, "priority", priority);
}

static printer builtin_printer(const ts_resource *res)
{
    static const struct {
        const char *group, *plural;
        printer p;
    } known[] = {{"", "configmaps", P_CONFIGMAP},       {"", "secrets", P_SECRET},
                 {"", "namespaces", P_NAMESPACE},       {"coordination.k8s.io", "leases", P_LEASE},
                 {"apps", "deployments", P_DEPLOYMENT}, {"batch", "jobs", P_JOB}};
    if (res->crd)
        return P_CUSTOM;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(res->group, known[i].group) == 0 && strcmp(res->plural, known[i].plural) == 0)
            return known[i].p;
    return P_NONE;
}

/* The printer columns of the CRD version that serves `res` (new), or an
 * Age column when it names none. */
static json_t *custom_columns(kr_testserver_t *ts, const ts_resource *res)
{
    ts_resource *crds =
        ts_resource_find(ts, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
    ts_obj *crd = crds && res->crd_name ? ts_store_get(crds->store, "", res->crd_name) : NULL;
    const json_t *v;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(crd ? crd->obj : NULL, "spec"), "versions"),
                       i, v)
    {
        const json_t *cols = json_object_get(v, "additionalPrinterColumns");
        const char *name = json_string_value(json_object_get(v, "name"));
        if (name && strcmp(name, res->version) == 0 && json_array_size(cols) > 0)
            return json_deep_copy(cols);
    }
    return json_pack("[{s:s, s:s, s:s, s:s}]", "name", "Age", "type", "date", "description",
                     AGE_DESC, "jsonPath", ".metadata.creationTimestamp");
}

static json_t *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return json_string(s ? s : dflt);
}

static int make_columns(kr_testserver_t *ts, const ts_resource *res, ts_table *t)
{
    json_t *c = json_array();
    json_array_append_new(c, column("Name", "string", "name", NAME_DESC, 0));
    switch (t->kind) {
    case P_CUSTOM: {
        t->custom = custom_columns(ts, res);
        size_t i;
        json_t *col;
        json_array_foreach(t->custom, i, col)
        {
            json_t *def = json_object();
            json_object_set_new(def, "name", str_or(col, "name", ""));
            json_object_set_new(def, "type", str_or(col, "type", "string"));
            json_object_set_new(def, "format", str_or(col, "format", ""));
            json_object_set_new(def, "description", str_or(col, "description", ""));
            json_int_t prio = json_integer_value(json_object_get(col, "priority"));
            json_object_set_new(def, "priority", json_integer(prio));
            json_array_append_new(c, def);
        }
        break;
    }
    case P_CONFIGMAP:
        json_array_append_new(
            c, column("Data", "string", "", "Data contains the configuration data.", 0));
        break;
    case P_SECRET:
        json_array_append_new(c, column("Type", "string", "",
                                        "Used to facilitate programmatic handling of secret "
                                        "data.",
                                        0));
        json_array_append_new(c, column("Data", "string", "", "Data contains the secret data.", 0));
        break;
    case P_NAMESPACE:
        json_array_append_new(c, column("Status", "string", "", "The status of the namespace", 0));
        break;
    case P_LEASE:
        json_array_append_new(c, column("Holder", "string", "", "The holder of the lease", 0));
        break;
    case P_DEPLOYMENT:
        json_array_append_new(
            c, column("Ready", "string", "", "Number of the pod with ready state", 0));
        json_array_append_new(c, column("Up-to-date", "string", "",
                                        "Total number of non-terminated pods targeted by this "
                                        "deployment that have the desired template spec.",
                                        0));
        json_array_append_new(c, column("Available", "string", "",
                                        "Total number of available pods (ready for at least "
                                        "minReadySeconds) targeted by this deployment.",
                                        0));
        break;
    case P_JOB:
        json_array_append_new(c, column("Status", "string", "", "Status of the job.", 0));
        json_array_append_new(c, column("Completions", "string", "",
                                        "The number of pods which reached phase Succeeded.", 0));
        json_array_append_new(
            c, column("Duration", "string", "", "Time required to complete the job.", 0));
        break;
    case P_NONE:
        break;
    }
    if (t->kind != P_CUSTOM)
        json_array_append_new(c, column("Age", "string", "", AGE_DESC, 0));
    if (t->kind == P_DEPLOYMENT || t->kind == P_JOB) {
        json_array_append_new(
            c, column("Containers", "string", "", "Names of each container in the template.", 1));
        json_array_append_new(c, column("Images", "string", "",
                                        "Images referenced by each container in the template.", 1));
        json_array_append_new(c, column("Selector", "string", "",
                                        "A label query over pods that should match the pod "
                                        "count.",
                                        1));
    }
    t->columns = c;
    size_t want = t->kind == P_CUSTOM ? 1 + json_array_size(t->custom) : 0;
    return c && (t->kind != P_CUSTOM || (t->custom && json_array_size(c) == want)) ? 0 : KR_ENOMEM;
}

/* The Table version an Accept entry asks for: "v1", "v1beta1", or NULL
 * when the entry is not a Table request. */
static const char *table_version(const char *entry, size_t len)
{
    if (ts_accept_entry(entry, len, "Table") != 1)
        return NULL;
    char copy[256];
    snprintf(copy, sizeof(copy), "%.*s", (int)(len < sizeof(copy) ? len : sizeof(copy) - 1), entry);
    return strstr(copy, "v1beta1") ? "v1beta1" : "v1";
}

int ts_table_negotiate(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                       ts_table **out, ts_response *resp)
{
    *out = NULL;
    if (strcmp(req->method, "GET") != 0 || rt->sub)
        return 0;
    printer kind = builtin_printer(rt->res);
    const char *version = NULL;
    for (const char *p = req->accept; p && *p && !version;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        version = kind != P_NONE ? table_version(p, len) : NULL;
        if (!version && ts_accept_entry(p, len, NULL) == 0)
            return 0; /* plain JSON comes first */
        p = comma ? comma + 1 : NULL;
    }
    if (!version)
        return 0;
    const char *inc = ts_query(req, "includeObject");
    include_mode mode = INCLUDE_METADATA;
    if (inc && strcmp(inc, "Object") == 0)
        mode = INCLUDE_OBJECT;
    else if (inc && strcmp(inc, "None") == 0)
        mode = INCLUDE_NONE;
    else if (inc && *inc && strcmp(inc, "Metadata") != 0) {
        ts_respond_bad_request(resp,
                               "Unable to convert to Table as requested: includeObject: "
                               "Unsupported value: \"%s\": supported values: \"Metadata\", "
                               "\"None\", \"Object\"",
                               inc);
        return -1;
    }
    ts_table *t = kr_calloc(1, sizeof(*t));
    if (!t)
        return 0;
    t->kind = kind;
    t->include = mode;
    t->api_version = strcmp(version, "v1beta1") == 0 ? "meta.k8s.io/v1beta1" : "meta.k8s.io/v1";
    if (make_columns(ts, rt->res, t) != 0) {
        ts_table_free(t);
        return 0; /* out of memory: plain JSON */
    }
    *out = t;
    return 0;
}

void ts_table_free(ts_table *t)
{
    if (!t)
        return;
    json_decref(t->columns);
    json_decref(t->custom);
    kr_free(t);
}

/* ---- cells ------------------------------------------------------------------------ */

/* Go's duration.HumanDuration, as kubectl and the apiserver print ages. */
static void human_duration(long long secs, char *out, size_t size)
{
    if (secs < -1) {
        snprintf(out, size, "<invalid>");
        return;
    }
    if (secs < 0)
        secs = 0;
    long long m = secs / 60, h = secs / 3600, d = h / 24;
    if (secs < 120)
        snprintf(out, size, "%llds", secs);
    else if (m < 10)
        snprintf(out, size, secs % 60 ? "%lldm%llds" : "%lldm", m, secs % 60);
    else if (m < 180)
        snprintf(out, size, "%lldm", m);
    else if (h < 8)
        snprintf(out, size, m % 60 ? "%lldh%lldm" : "%lldh", h, m % 60);
    else if (h < 48)
        snprintf(out, size, "%lldh", h);
    else if (h < 24 * 8)
        snprintf(out, size, h % 24 ? "%lldd%lldh" : "%lldd", d, h % 24);
    else if (h < 24 * 365 * 2)
        snprintf(out, size, "%lldd", d);
    else if (h < 24 * 365 * 8)
        snprintf(out, size, (d % 365) ? "%lldy%lldd" : "%lldy", d / 365, d % 365);
    else
        snprintf(out, size, "%lldy", d / 365);
}

/* An RFC 3339 time in seconds since the epoch; false when it is not one. */
static bool parse_time(const char *s, long long *out)
{
    struct tm tm = {0};
    const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return false;
    if (*rest == '.')
        for (rest++; isdigit((unsigned char)*rest); rest++)
            ;
    long offset = 0;
    if (*rest == '+' || *rest == '-') {
        int hh, mm;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2)
            return false;
        offset = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
    } else if (*rest != 'Z' && *rest != 'z') {
        return false;
    }
    *out = (long long)timegm(&tm) - offset;
    return true;
}

/* An age cell: "<unknown>" without a time, "<invalid>" for a bad one. */
static json_t *age_of(const char *timestamp)
{
    long long t;
    char buf[32];
    if (!timestamp || !*timestamp)
        snprintf(buf, sizeof(buf), "<unknown>");
    else if (!parse_time(timestamp, &t))
        snprintf(buf, sizeof(buf), "<invalid>");
    else
        human_duration((long long)time(NULL) - t, buf, sizeof(buf));
    return json_string(buf);
}

/* A cell of a custom column, as the table convertor types it: a string
 * column prints the value (a string as it is, anything else as JSON);
 * integer, number and boolean columns take only such values; a date
 * column prints the age. null when the value is missing or mistyped. */
static json_t *custom_cell(const json_t *col, const json_t *obj)
{
    const char *path = json_string_value(json_object_get(col, "jsonPath"));
    const char *type = json_string_value(json_object_get(col, "type"));
    const json_t *v = path ? ts_json_path(obj, path) : NULL;
    if (!v || json_is_null(v) || !type)
        return json_null();
    if (strcmp(type, "string") == 0) {
        if (json_is_string(v))
            return json_string(json_string_value(v));
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *cell = text ? json_string(text) : json_null();
        free(text);
        return cell;
    }
    if (strcmp(type, "integer") == 0 && json_is_number(v))
        return json_integer(json_is_integer(v) ? json_integer_value(v)
                                               : (json_int_t)json_real_value(v));
    if (strcmp(type, "number") == 0 && json_is_number(v))
        return json_is_integer(v) ? json_integer(json_integer_value(v)) : json_deep_copy(v);
    if (strcmp(type, "boolean") == 0 && json_is_boolean(v))
        return json_boolean(json_is_true(v));
    if (strcmp(type, "date") == 0 && json_is_string(v))
        return age_of(json_string_value(v));
    return json_null();
}

static const char *md_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

/* "k=v,k2 in (a,b),!k3": what labels.Selector.String() prints for a
 * LabelSelector, requirements sorted by key. */
static void selector_text(const json_t *sel, kr_buf *b)
{
    json_t *reqs = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(sel, "matchLabels"), k, v)
    {
        char *r = kr_asprintf("%s=%s", k, json_string_value(v) ? json_string_value(v) : "");
        json_array_append_new(reqs, json_pack("{s:s, s:s}", "key", k, "text", r ? r : ""));
        kr_free(r);
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, e)
    {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *op = json_string_value(json_object_get(e, "operator"));
        if (!key || !op)
            continue;
        kr_buf t = {0};
        if (strcmp(op, "Exists") == 0) {
            kr_buf_append_str(&t, key);
        } else if (strcmp(op, "DoesNotExist") == 0) {
            kr_buf_printf(&t, "!%s", key);
        } else {
            /* values sorted, as a set prints them */
            json_t *vals = json_deep_copy(json_object_get(e, "values"));
            size_t n = json_array_size(vals);
            for (size_t a = 1; a < n; a++)
                for (size_t c = a; c > 0; c--) {
                    const char *x = json_string_value(json_array_get(vals, c - 1));
                    const char *y = json_string_value(json_array_get(vals, c));
                    if (!x || !y || strcmp(x, y) <= 0)
                        break;
                    json_t *tmp = json_incref(json_array_get(vals, c - 1));
                    json_array_set(vals, c - 1, json_array_get(vals, c));
                    json_array_set_new(vals, c, tmp);
                }
            kr_buf_printf(&t, "%s %s (", key, strcmp(op, "In") == 0 ? "in" : "notin");
            for (size_t a = 0; a < n; a++) {
                const char *s = json_string_value(json_array_get(vals, a));
                kr_buf_printf(&t, "%s%s", a ? "," : "", s ? s : "");
            }
            kr_buf_append_str(&t, ")");
            json_decref(vals);
        }
        json_array_append_new(reqs,
                              json_pack("{s:s, s:s}", "key", key, "text", t.data ? t.data : ""));
        kr_buf_free(&t);
    }
    size_t n = json_array_size(reqs);
    for (size_t a = 1; a < n; a++) /* insertion sort by key: selectors are small */
        for (size_t c = a; c > 0; c--) {
            const char *x = json_string_value(json_object_get(json_array_get(reqs, c - 1), "key"));
            const char *y = json_string_value(json_object_get(json_array_get(reqs, c), "key"));
            if (!x || !y || strcmp(x, y) <= 0)
                break;
            json_t *tmp = json_incref(json_array_get(reqs, c - 1));
            json_array_set(reqs, c - 1, json_array_get(reqs, c));
            json_array_set_new(reqs, c, tmp);
        }
    for (size_t a = 0; a < n; a++)
        kr_buf_printf(b, "%s%s", a ? "," : "",
                      json_string_value(json_object_get(json_array_get(reqs, a), "text")));
    json_decref(reqs);
}

static json_t *joined(const json_t *containers, const char *field)
{
    kr_buf b = {0};
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        const char *s = json_string_value(json_object_get(c, field));
        kr_buf_printf(&b, "%s%s", i ? "," : "", s ? s : "");
    }
    json_t *out = json_string(b.data ? b.data : "");
    kr_buf_free(&b);
    return out;
}

static json_int_t int_at(const json_t *o, const char *a, const char *b, json_int_t dflt)
{
    const json_t *v = json_object_get(json_object_get(o, a), b);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static bool condition_true(const json_t *status, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        const char *ty = json_string_value(json_object_get(c, "type"));
        const char *st = json_string_value(json_object_get(c, "status"));
        if (ty && st && strcmp(ty, type) == 0 && strcmp(st, "True") == 0)
            return true;
    }
    return false;
}

/* A Job's Status, Completions and Duration, as kube-apiserver prints them. */
static void job_cells(const json_t *obj, json_t *cells)
{
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *status = json_object_get(obj, "status");
    const char *state = "Running";
    if (condition_true(status, "Complete"))
        state = "Complete";
    else if (condition_true(status, "Failed"))
        state = "Failed";
    else if (md_str(obj, "deletionTimestamp"))
        state = "Terminating";
    else if (condition_true(status, "Suspended"))
        state = "Suspended";
    else if (condition_true(status, "FailureTarget"))
        state = "FailureTarget";
    json_array_append_new(cells, json_string(state));
    long long succeeded = (long long)int_at(obj, "status", "succeeded", 0);
    const json_t *completions = json_object_get(spec, "completions");
    long long parallelism = (long long)int_at(obj, "spec", "parallelism", 0);
    char text[96];
    if (json_is_integer(completions))
        snprintf(text, sizeof(text), "%lld/%lld", succeeded,
                 (long long)json_integer_value(completions));
    else if (parallelism > 1)
        snprintf(text, sizeof(text), "%lld/1 of %lld", succeeded, parallelism);
    else
        snprintf(text, sizeof(text), "%lld/1", succeeded);
    json_array_append_new(cells, json_string(text));
    long long start, end;
    const char *started = json_string_value(json_object_get(status, "startTime"));
    const char *completed = json_string_value(json_object_get(status, "completionTime"));
    text[0] = '\0';
    if (started && parse_time(started, &start)) {
        if (!completed || !parse_time(completed, &end))
            end = (long long)time(NULL);
        human_duration(end - start, text, sizeof(text));
    }
    json_array_append_new(cells, json_string(text));
}

static json_t *cells_of(const ts_table *t, const json_t *obj)
{
    const char *name = md_str(obj, "name");
    json_t *cells = json_pack("[s]", name ? name : "");
    if (!cells)
        return NULL;
    const json_t *status = json_object_get(obj, "status");
    switch (t->kind) {
    case P_CUSTOM: {
        size_t i;
        json_t *col;
        json_array_foreach(t->custom, i, col) json_array_append_new(cells, custom_cell(col, obj));
        return cells;
    }
    case P_CONFIGMAP: {
        size_t n = json_object_size(json_object_get(obj, "data")) +
                   json_object_size(json_object_get(obj, "binaryData"));
        json_array_append_new(cells, json_integer((json_int_t)n));
        break;
    }
    case P_SECRET: {
        const char *type = json_string_value(json_object_get(obj, "type"));
        json_array_append_new(cells, json_string(type ? type : "Opaque"));
        json_array_append_new(
            cells, json_integer((json_int_t)json_object_size(json_object_get(obj, "data"))));
        break;
    }
    case P_NAMESPACE: {
        const char *phase = json_string_value(json_object_get(status, "phase"));
        json_array_append_new(cells, json_string(phase ? phase : "Active"));
        break;
    }
    case P_LEASE: {
        const char *holder =
            json_string_value(json_object_get(json_object_get(obj, "spec"), "holderIdentity"));
        json_array_append_new(cells, json_string(holder ? holder : ""));
        break;
    }
    case P_DEPLOYMENT: {
        char ready[64];
        snprintf(ready, sizeof(ready), "%lld/%lld",
                 (long long)int_at(obj, "status", "readyReplicas", 0),
                 (long long)int_at(obj, "spec", "replicas", 1));
        json_array_append_new(cells, json_string(ready));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "updatedReplicas", 0)));
        json_array_append_new(cells, json_integer(int_at(obj, "status", "availableReplicas", 0)));
        break;
    }
    case P_JOB:
        job_cells(obj, cells);
        break;
    case P_NONE:
        break;
    }
    json_array_append_new(cells, age_of(md_str(obj, "creationTimestamp")));
    if (t->kind == P_DEPLOYMENT || t->kind == P_JOB) {
        const json_t *spec = json_object_get(obj, "spec");
        const json_t *containers = json_object_get(
            json_object_get(json_object_get(spec, "template"), "spec"), "containers");
        json_array_append_new(cells, joined(containers, "name"));
        json_array_append_new(cells, joined(containers, "image"));
        kr_buf sel = {0};
        selector_text(json_object_get(spec, "selector"), &sel);
        json_array_append_new(cells, json_string(sel.data && *sel.data ? sel.data : "<none>"));
        kr_buf_free(&sel);
    }
    return cells;
}

static json_t *row_of(const ts_table *t, const json_t *obj)
{
    json_t *object;
    if (t->include == INCLUDE_OBJECT) {
        object = json_incref((json_t *)obj);
    } else if (t->include == INCLUDE_NONE) {
        object = json_null();
    } else {
        json_t *md = json_object_get(obj, "metadata");
        object = json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                           t->api_version, "metadata", md ? md : json_object());
    }
    return json_pack("{s:o, s:o}", "cells", cells_of(t, obj), "object", object);
}

/* A Table of `items` (borrowed) with the list metadata `meta` (borrowed;
 * NULL for one object); columns unless a watch sent them already. */
static json_t *table_of(ts_table *t, const json_t *items, const json_t *meta, bool watch)
{
    json_t *rows = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) json_array_append_new(rows, row_of(t, item));
    json_t *md = json_object();
    if (meta) {
        static const char *const keep[] = {"resourceVersion", "continue", "remainingItemCount"};
        for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
            json_t *v = json_object_get(meta, keep[k]);
            if (v)
                json_object_set(md, keep[k], v);
        }
    } else if (json_array_size(items) == 1 && md_str(json_array_get(items, 0), "resourceVersion")) {
        json_object_set_new(md, "resourceVersion",
                            json_string(md_str(json_array_get(items, 0), "resourceVersion")));
    }
    json_t *cols = watch && t->headers_sent ? json_null() : json_incref(t->columns);
    t->headers_sent = true;
    json_t *out =
        json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table", "apiVersion", t->api_version,
                  "metadata", md, "columnDefinitions", cols, "rows", rows);
    if (json_array_size(rows) != json_array_size(items)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static json_t *list_table(const json_t *list, void *user)
{
    return table_of(user, json_object_get(list, "items"), json_object_get(list, "metadata"), false);
}

static json_t *object_table(const json_t *obj, void *user)
{
    json_t *one = json_pack("[O]", obj);
    json_t *table = one ? table_of(user, one, NULL, false) : NULL;
    json_decref(one);
    return table;
}

void ts_table_convert(ts_table *t, const ts_route *rt, ts_response *resp)
{
    ts_rewrite_answer(resp, rt->name ? object_table : list_table, t);
}

char *ts_table_event_line(ts_table *t, const char *type, const json_t *obj, size_t *len)
{
    json_t *one = json_pack("[O]", obj);
    json_t *table = one ? table_of(t, one, NULL, true) : NULL;
    json_decref(one);
    char *text = table ? json_dumps(table, JSON_COMPACT) : NULL;
    json_decref(table);
    char *line = text ? kr_asprintf("{\"type\":\"%s\",\"object\":%s}\n", type, text) : NULL;
    free(text);
    if (line)
        *len = strlen(line);
    return line;
}
