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
 * convertor does; built-in kinds get kube-apiserver's printers, or its
 * default Name and Created At (printers.c). Review resources, which are
 * never read, decline the Table.
 * Nothing here changes what is stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"

typedef enum { INCLUDE_METADATA, INCLUDE_OBJECT, INCLUDE_NONE } include_mode;

struct ts_table {
    ts_printer kind;
    const char *api_version; /* "meta.k8s.io/v1" or "meta.k8s.io/v1beta1" */
    include_mode include;
    json_t *columns; /* the columnDefinitions */
    json_t *custom; /* TS_PRINT_CUSTOM: the printer columns after Name */
    bool headers_sent; /* a watch sends the columns with its first event only */
    /* the objects' own type, for includeObject=Object rows (a built-in
     * list's items come without it) */
    json_t *obj_kind, *obj_api_version;
};

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
                     ts_creation_timestamp_desc, "jsonPath", ".metadata.creationTimestamp");
}

static json_t *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return json_string(s ? s : dflt);
}

static int make_columns(kr_testserver_t *ts, const ts_resource *res, ts_table *t)
{
    json_t *c = ts_printer_columns(t->kind);
    if (t->kind == TS_PRINT_CUSTOM && c) {
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
    }
    t->columns = c;
    size_t want = t->kind == TS_PRINT_CUSTOM ? 1 + json_array_size(t->custom) : 0;
    return c && (t->kind != TS_PRINT_CUSTOM || (t->custom && json_array_size(c) == want))
               ? 0
               : KR_ENOMEM;
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
    /* a status subresource reads as its object does (StatusREST's
     * ConvertToTable is the object store's), a built-in's scale as a
     * Scale (kube's scale printer); other subresources: JSON */
    bool scale = rt->sub && strcmp(rt->sub, "scale") == 0 && !rt->res->crd;
    if (strcmp(req->method, "GET") != 0 || (rt->sub && strcmp(rt->sub, "status") != 0 && !scale))
        return 0;
    ts_printer kind = scale ? TS_PRINT_SCALE : ts_printer_of(rt->res);
    const char *version = NULL;
    for (const char *p = req->accept; p && *p && !version;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        version = kind != TS_PRINT_NONE ? table_version(p, len) : NULL;
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
    char *av = scale ? kr_strdup("autoscaling/v1") : ts_api_version(rt->res);
    t->obj_kind = json_string(scale ? "Scale" : rt->res->kind);
    t->obj_api_version = av ? json_string(av) : NULL;
    kr_free(av);
    if (!t->obj_kind || !t->obj_api_version || make_columns(ts, rt->res, t) != 0) {
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
    json_decref(t->obj_kind);
    json_decref(t->obj_api_version);
    kr_free(t);
}

/* ---- cells ------------------------------------------------------------------------ */

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
        kr_json_text_free(text);
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
        return ts_age_cell(json_string_value(v));
    return json_null();
}

static json_t *cells_of(const ts_table *t, const json_t *obj)
{
    if (t->kind != TS_PRINT_CUSTOM)
        return ts_printer_cells(t->kind, obj);
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    json_t *cells = json_pack("[s]", name ? name : "");
    size_t i;
    json_t *col;
    json_array_foreach(t->custom, i, col) json_array_append_new(cells, custom_cell(col, obj));
    return cells;
}

static json_t *row_of(const ts_table *t, const json_t *obj)
{
    json_t *object;
    if (t->include == INCLUDE_OBJECT && json_object_get(obj, "kind")) {
        object = json_incref((json_t *)obj);
    } else if (t->include == INCLUDE_OBJECT) {
        /* each row's object is encoded with its type, as kube-apiserver's */
        object = json_copy((json_t *)obj);
        if (object) {
            json_object_set(object, "apiVersion", t->obj_api_version);
            json_object_set(object, "kind", t->obj_kind);
        }
    } else if (t->include == INCLUDE_NONE) {
        object = json_null();
    } else {
        json_t *md = json_object_get(obj, "metadata");
        object = json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                           t->api_version, "metadata", md ? md : json_object());
    }
    json_t *row = json_pack("{s:o, s:o}", "cells", cells_of(t, obj), "object", object);
    json_t *conditions = row ? ts_printer_row_conditions(t->kind, obj) : NULL;
    if (conditions)
        json_object_set_new(row, "conditions", conditions);
    return row;
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
    } else if (json_array_size(items) == 1) {
        json_t *rv = json_object_get(json_object_get(json_array_get(items, 0), "metadata"),
                                     "resourceVersion");
        if (json_is_string(rv))
            json_object_set(md, "resourceVersion", rv);
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
    kr_json_text_free(text);
    if (line)
        *len = strlen(line);
    return line;
}
