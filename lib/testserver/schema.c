/* libkreconcile-testserver — custom resources against the structural
 * schema of their CRD version, as kube-apiserver's apiextensions handler
 * treats them (wire spec §8.2): unknown fields pruned and reported as the
 * request's fieldValidation asks, unknown metadata fields dropped,
 * non-nullable nulls removed, `default`s applied, then the OpenAPI v3 value
 * validations checked, answered with kube-apiserver's messages. Not done:
 * x-kubernetes-validations (CEL) rules and validation ratcheting. */
#include <arpa/inet.h>
#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"
#include "testserver/ts_proto.h"

/* ---- schema accessors ------------------------------------------------------ */

static bool flag(const json_t *s, const char *key)
{
    return json_is_true(json_object_get(s, key));
}

static const char *str_of(const json_t *s, const char *key)
{
    return json_string_value(json_object_get(s, key));
}

static const json_t *prop_of(const json_t *s, const char *key)
{
    const json_t *p = json_object_get(json_object_get(s, "properties"), key);
    return json_is_object(p) ? p : NULL;
}

/* additionalProperties: its schema; `present` when set at all (true or a
 * schema), as kube's Structural.AdditionalProperties != nil. */
static const json_t *addl_of(const json_t *s, bool *present)
{
    const json_t *a = json_object_get(s, "additionalProperties");
    *present = json_is_object(a) || json_is_true(a);
    return json_is_object(a) ? a : NULL;
}

static const json_t *items_of(const json_t *s)
{
    const json_t *i = json_object_get(s, "items");
    return json_is_object(i) ? i : NULL;
}

/* The schema of an object's field `key`: its property, else the
 * additionalProperties schema, else NULL. */
static const json_t *field_schema(const json_t *s, const char *key)
{
    const json_t *p = prop_of(s, key);
    bool present;
    return p ? p : addl_of(s, &present);
}

static bool is_meta_field(const char *k)
{
    return strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 || strcmp(k, "metadata") == 0;
}

/* ---- the walk's path ---------------------------------------------------------- */

typedef struct sc_walk {
    kr_buf path; /* "spec.items[0].name"; "" at the root */
    json_t *unknown; /* pruned paths (array of strings), or NULL: not tracked */
    json_t *causes; /* validation causes */
    bool oom;
} sc_walk;

static size_t push_key(sc_walk *w, const char *key)
{
    size_t mark = w->path.len;
    if ((mark > 0 && kr_buf_append_str(&w->path, ".") != 0) ||
        kr_buf_append_str(&w->path, key) != 0)
        w->oom = true;
    return mark;
}

static size_t push_index(sc_walk *w, size_t i)
{
    size_t mark = w->path.len;
    if (kr_buf_printf(&w->path, "[%zu]", i) != 0)
        w->oom = true;
    return mark;
}

static void pop(sc_walk *w, size_t mark)
{
    kr_buf_truncate(&w->path, mark);
}

static const char *path_of(const sc_walk *w)
{
    return w->path.data ? w->path.data : "";
}

static void record_unknown(sc_walk *w, const char *key)
{
    if (!w->unknown)
        return;
    size_t mark = push_key(w, key);
    if (json_array_append_new(w->unknown, json_string(path_of(w))) != 0)
        w->oom = true;
    pop(w, mark);
}

/* ---- pruning ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void prune(json_t *x, const json_t *s, bool root, sc_walk *w);

/* Below x-kubernetes-preserve-unknown-fields: unknown fields stay, the
 * specified ones are pruned. */
static void skip_prune(json_t *x, const json_t *s, sc_walk *w)
{
    if (!s)
        return;
    if (json_is_object(x)) {
        const char *k;
        json_t *v;
        bool embedded = flag(s, "x-kubernetes-embedded-resource");
        json_object_foreach(x, k, v)
        {
            if (embedded && is_meta_field(k))
                continue;
            const json_t *p = prop_of(s, k);
            bool addl;
            const json_t *a = addl_of(s, &addl);
            if (p || addl) {
                size_t mark = push_key(w, k);
                prune(v, p ? p : a, false, w);
                pop(w, mark);
            }
        }
    } else if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++) {
            size_t mark = push_index(w, i);
            skip_prune(json_array_get(x, i), items_of(s), w);
            pop(w, mark);
        }
    }
}

static void prune(json_t *x, const json_t *s, bool root, sc_walk *w)
{
    if (s && flag(s, "x-kubernetes-preserve-unknown-fields")) {
        skip_prune(x, s, w);
        return;
    }
    if (json_is_object(x)) {
        bool embedded = root || flag(s, "x-kubernetes-embedded-resource");
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(x, tmp, k, v)
        {
            if (s && embedded && is_meta_field(k))
                continue;
            const json_t *p = s ? prop_of(s, k) : NULL;
            bool addl = false;
            const json_t *a = s ? addl_of(s, &addl) : NULL;
            if (p || addl) {
                size_t mark = push_key(w, k);
                prune(v, p ? p : a, false, w);
                pop(w, mark);
            } else {
                record_unknown(w, k);
                json_object_del(x, k);
            }
        }
    } else if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++) {
            size_t mark = push_index(w, i);
            prune(json_array_get(x, i), s ? items_of(s) : NULL, false, w);
            pop(w, mark);
        }
    }
}

/* ObjectMeta's fields: others are dropped from a custom resource's
 * metadata (and reported), as decoding into ObjectMeta does. */
static const char *const object_meta_fields[] = {
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "labels",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
};

static void prune_metadata(json_t *obj, sc_walk *w)
{
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md))
        return;
    size_t mark = push_key(w, "metadata");
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(md, tmp, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof(object_meta_fields) / sizeof(*object_meta_fields); i++)
            known = known || strcmp(k, object_meta_fields[i]) == 0;
        if (!known) {
            record_unknown(w, k);
            json_object_del(md, k);
        }
    }
    pop(w, mark);
}

/* ---- built-in kinds: the fields of their Go types ------------------------------ */

static void prune_pb(json_t *x, const ts_pb_message *m, bool root, sc_walk *w);

static void prune_pb_value(json_t *v, unsigned type, const ts_pb_message *ref, sc_walk *w)
{
    if (type == TS_PB_MESSAGE && ref)
        prune_pb(v, ref, false, w);
}

static void prune_pb_field(json_t *v, const ts_pb_field *f, sc_walk *w)
{
    if (f->type != TS_PB_MESSAGE || !f->ref)
        return;
    if ((f->flags & TS_PBF_MAP) && json_is_object(v)) {
        const char *k;
        json_t *item;
        json_object_foreach(v, k, item)
        {
            size_t mark = push_key(w, k);
            prune_pb(item, f->ref, false, w);
            pop(w, mark);
        }
    } else if ((f->flags & TS_PBF_REPEATED) && json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t mark = push_index(w, i);
            prune_pb(json_array_get(v, i), f->ref, false, w);
            pop(w, mark);
        }
    } else {
        prune_pb(v, f->ref, false, w);
    }
}

/* Unknown fields of a built-in object dropped (and recorded), as decoding
 * JSON into the Go type does. Values of special types (times, quantities,
 * int-or-string, raw JSON) are left alone. */
static void prune_pb(json_t *x, const ts_pb_message *m, bool root, sc_walk *w)
{
    if (m->json == TS_PBJ_ALIAS_LIST && json_is_array(x) && m->nfields > 0) {
        for (size_t i = 0; i < json_array_size(x); i++) {
            size_t mark = push_index(w, i);
            prune_pb_value(json_array_get(x, i), m->fields[0].type, m->fields[0].ref, w);
            pop(w, mark);
        }
        return;
    }
    if (m->json != TS_PBJ_PLAIN || !json_is_object(x))
        return;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(x, tmp, k, v)
    {
        if (root && (strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0))
            continue;
        const ts_pb_field *f = ts_pb_json_field(m, k);
        if (!f) {
            record_unknown(w, k);
            json_object_del(x, k);
            continue;
        }
        size_t mark = push_key(w, k);
        prune_pb_field(v, f, w);
        pop(w, mark);
    }
}

/* The unknown fields of `obj` (pruned) into w: by the custom resource's
 * schema, or the built-in kind's fields, in the order kube-apiserver
 * reports them (sorted for custom resources, as met for built-ins).
 * false when the kind has neither. */
static bool prune_unknown(const ts_resource *res, json_t *obj, bool stored, sc_walk *w)
{
    if (res->schema) {
        prune(obj, res->schema, true, w);
        prune_metadata(obj, w);
        size_t n = json_array_size(w->unknown);
        if (n > 1) {
            const char **v = kr_calloc(n, sizeof(const char *));
            json_t *sorted = v ? json_array() : NULL;
            for (size_t i = 0; v && i < n; i++)
                v[i] = json_string_value(json_array_get(w->unknown, i));
            if (v)
                qsort((void *)v, n, sizeof(const char *), cmp_str);
            for (size_t i = 0; sorted && i < n; i++)
                if (json_array_append_new(sorted, json_string(v[i])) != 0)
                    w->oom = true;
            if (sorted && !w->oom)
                json_array_clear(w->unknown), json_array_extend(w->unknown, sorted);
            else
                w->oom = true;
            json_decref(sorted);
            kr_free((void *)v);
        }
        return true;
    }
    const ts_pb_message *m = ts_pb_find_kind(
        stored && res->stored_api_version ? res->stored_api_version : res->api_version, res->kind);
    if (!m)
        return false;
    prune_pb(obj, m, true, w);
    return true;
}

/* ---- nulls and defaults ---------------------------------------------------------- */

static bool non_nullable_null(const json_t *v, const json_t *s)
{
    return json_is_null(v) && s && !flag(s, "nullable");
}

static void prune_nulls(json_t *x, const json_t *s)
{
    if (json_is_object(x)) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(x, tmp, k, v)
        {
            const json_t *fs = s ? field_schema(s, k) : NULL;
            if (non_nullable_null(v, fs) && !json_object_get(fs, "default"))
                json_object_del(x, k);
            else
                prune_nulls(v, fs);
        }
    } else if (json_is_array(x)) {
        const json_t *is = s ? items_of(s) : NULL;
        for (size_t i = 0; i < json_array_size(x); i++)
            prune_nulls(json_array_get(x, i), is);
    }
}

static int apply_defaults(json_t *x, const json_t *s)
{
    if (!s)
        return 0;
    if (json_is_object(x)) {
        const char *k;
        json_t *p;
        json_object_foreach(json_object_get(s, "properties"), k, p)
        {
            const json_t *dflt = json_object_get(p, "default");
            json_t *v = json_object_get(x, k);
            if (dflt && (!v || non_nullable_null(v, p)) &&
                json_object_set_new(x, k, json_deep_copy(dflt)) != 0)
                return KR_ENOMEM;
        }
        json_t *v;
        json_object_foreach(x, k, v)
        {
            const json_t *fs = field_schema(s, k);
            const json_t *dflt = json_object_get(fs, "default");
            if (!prop_of(s, k) && dflt && non_nullable_null(v, fs)) {
                if (json_object_set_new(x, k, json_deep_copy(dflt)) != 0)
                    return KR_ENOMEM;
                v = json_object_get(x, k);
            }
            if (apply_defaults(v, fs) != 0)
                return KR_ENOMEM;
        }
    } else if (json_is_array(x)) {
        const json_t *is = items_of(s);
        const json_t *dflt = json_object_get(is, "default");
        for (size_t i = 0; i < json_array_size(x); i++) {
            if (dflt && non_nullable_null(json_array_get(x, i), is) &&
                json_array_set_new(x, i, json_deep_copy(dflt)) != 0)
                return KR_ENOMEM;
            if (apply_defaults(json_array_get(x, i), is) != 0)
                return KR_ENOMEM;
        }
    }
    return 0;
}

/* ---- values as Go prints them ------------------------------------------------------ */

/* A finite float64 in the shortest digits that read back, in %e form (at
 * least two exponent digits, as Go and C write them) when its decimal
 * exponent is below `lo` or at least `hi`. */
static void shortest_float(char *out, size_t size, double d, int lo, int hi)
{
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(out, size, "%.*e", prec - 1, d);
        if (strtod(out, NULL) == d)
            break;
    }
    snprintf(out, size, "%.*e", prec - 1, d);
    int exp = atoi(strchr(out, 'e') + 1);
    if (exp < lo || exp >= hi)
        return;
    int decimals = prec - 1 - exp;
    if (decimals >= 0) {
        snprintf(out, size, "%.*f", decimals, d);
        return;
    }
    /* the shortest digits, then zeros (1.2345678901234568e20 is
     * 123456789012345680000, not the float's exact 123456789012345683968) */
    char digits[32];
    size_t n = 0;
    for (const char *p = out; *p && *p != 'e' && n + 1 < sizeof(digits); p++)
        if (*p != '.')
            digits[n++] = *p;
    digits[n] = '\0';
    snprintf(out, size, "%s%0*d", digits, -decimals, 0);
}

/* A float64 as fmt's %v writes it: strconv's shortest %g, whose %e form
 * starts below 1e-4 and at 1e6 (1e+06). */
static void go_float(kr_buf *b, double d)
{
    char tmp[64];
    if (!isfinite(d)) {
        kr_buf_append_str(b, isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
        return;
    }
    shortest_float(tmp, sizeof(tmp), d, -4, 6);
    kr_buf_append_str(b, tmp);
}

void ts_go_number(kr_buf *b, const json_t *v)
{
    if (json_is_integer(v))
        kr_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        go_float(b, json_number_value(v));
}

void ts_json_number(kr_buf *b, const json_t *v)
{
    if (json_is_integer(v) || !isfinite(json_number_value(v))) {
        ts_go_number(b, v);
        return;
    }
    char tmp[64];
    shortest_float(tmp, sizeof(tmp), json_number_value(v), -6, 21);
    size_t n = strlen(tmp);
    if (n >= 4 && tmp[n - 4] == 'e' && tmp[n - 3] == '-' && tmp[n - 2] == '0') {
        tmp[n - 2] = tmp[n - 1]; /* e-07 is e-7 */
        tmp[n - 1] = '\0';
    }
    kr_buf_append_str(b, tmp);
}

/* A field error's bad value: strings quoted, numbers and booleans plain,
 * null as "null", objects and arrays as JSON. */
static void go_value(kr_buf *b, const json_t *v)
{
    if (json_is_string(v))
        ts_go_quote(b, json_string_value(v));
    else if (json_is_number(v))
        ts_go_number(b, v);
    else if (json_is_boolean(v))
        kr_buf_append_str(b, json_is_true(v) ? "true" : "false");
    else if (json_is_null(v) || !v)
        kr_buf_append_str(b, "null");
    else {
        char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        kr_buf_append_str(b, text ? text : "");
        kr_json_text_free(text);
    }
}

/* fmt's %+v of a decoded JSON value: map[k:v k2:v2] (keys sorted), [a b],
 * strings bare, <nil>; `sharp`: its %#v, map[string]interface {}{"k":v,
 * "k2":v2}, []interface {}{a, b}, strings quoted, interface {}(nil). */
void ts_go_format(kr_buf *b, const json_t *v, bool sharp)
{
    const char *sep = sharp ? ", " : " ";
    if (json_is_object(v)) {
        size_t n = json_object_size(v), i = 0;
        const char **keys = kr_calloc(n ? n : 1, sizeof(const char *));
        const char *k;
        const json_t *item;
        json_object_foreach((json_t *)v, k, item)
        {
            if (keys)
                keys[i++] = k;
        }
        if (keys)
            qsort((void *)keys, n, sizeof(const char *), cmp_str);
        kr_buf_append_str(b, sharp ? "map[string]interface {}{" : "map[");
        for (i = 0; keys && i < n; i++) {
            kr_buf_append_str(b, i ? sep : "");
            if (sharp)
                ts_go_quote(b, keys[i]);
            else
                kr_buf_append_str(b, keys[i]);
            kr_buf_append_str(b, ":");
            ts_go_format(b, json_object_get(v, keys[i]), sharp);
        }
        kr_buf_append_str(b, sharp ? "}" : "]");
        kr_free((void *)keys);
    } else if (json_is_array(v)) {
        kr_buf_append_str(b, sharp ? "[]interface {}{" : "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            kr_buf_append_str(b, i ? sep : "");
            ts_go_format(b, json_array_get(v, i), sharp);
        }
        kr_buf_append_str(b, sharp ? "}" : "]");
    } else if (json_is_string(v) && !sharp) {
        kr_buf_append_str(b, json_string_value(v));
    } else if (json_is_null(v) || !v) {
        kr_buf_append_str(b, sharp ? "interface {}(nil)" : "<nil>");
    } else {
        go_value(b, v);
    }
}

void ts_go_print(kr_buf *b, const json_t *v)
{
    ts_go_format(b, v, false);
}

/* ---- validation causes ------------------------------------------------------------ */

/* One field error: `body` is what follows "<field>: " (ErrorBody). */
static void add_cause(sc_walk *w, const char *reason, const char *field, const char *body)
{
    json_t *c = json_pack("{s:s, s:s, s:s}", "reason", reason, "message", body, "field", field);
    if (!c || json_array_append_new(w->causes, c) != 0)
        w->oom = true;
}

/* field.Invalid / TypeInvalid / NotSupported with kube-openapi's detail
 * "<path> in body ...". `detail` may hold one %s for the path. */
static void invalid(sc_walk *w, const char *reason, const char *type, const json_t *value,
                    const char *detail)
{
    kr_buf b = {0};
    kr_buf_printf(&b, "%s: ", type);
    go_value(&b, value);
    kr_buf_printf(&b, ": %s", detail);
    if (b.data)
        add_cause(w, reason, path_of(w), b.data);
    else
        w->oom = true;
    kr_buf_free(&b);
}

/* kube-openapi's "<path> in body <what>". */
static char *in_body(const sc_walk *w, const char *what)
{
    return kr_asprintf("%s in body %s", path_of(w), what);
}

static void fail_value(sc_walk *w, const json_t *value, const char *what)
{
    char *detail = in_body(w, what);
    if (detail)
        invalid(w, "FieldValueInvalid", "Invalid value", value, detail);
    else
        w->oom = true;
    kr_free(detail);
}

static void fail_type(sc_walk *w, const char *type, const char *found)
{
    kr_buf what = {0};
    kr_buf_printf(&what, "must be of type %s: ", type);
    ts_go_quote(&what, found);
    char *detail = what.data ? in_body(w, what.data) : NULL;
    json_t *shown = json_string(found);
    if (detail && shown)
        invalid(w, "FieldValueTypeInvalid", "Invalid value", shown, detail);
    else
        w->oom = true;
    json_decref(shown);
    kr_free(detail);
    kr_buf_free(&what);
}

/* A limit of the schema (a float64 to kube-openapi) after `what`. */
static void fail_limit(sc_walk *w, const json_t *value, const char *what, const json_t *limit)
{
    kr_buf b = {0};
    kr_buf_printf(&b, "%s ", what);
    go_float(&b, json_number_value(limit));
    if (b.data)
        fail_value(w, value, b.data);
    else
        w->oom = true;
    kr_buf_free(&b);
}

static void fail_count(sc_walk *w, const char *what, json_int_t limit, size_t actual)
{
    char what_text[128];
    snprintf(what_text, sizeof(what_text), what, (long long)limit);
    json_t *n = json_integer((json_int_t)actual);
    fail_value(w, n, what_text);
    json_decref(n);
}

static void fail_too_many(sc_walk *w, size_t actual, json_int_t max)
{
    char body[160];
    snprintf(body, sizeof(body), "Too many: %zu: must have at most %lld item%s", actual,
             (long long)max, max == 1 ? "" : "s");
    add_cause(w, "FieldValueTooMany", path_of(w), body);
}

/* ---- formats and patterns ------------------------------------------------------------ */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool valid_date(const char *s)
{
    return strlen(s) >= 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
           digits(s + 8, 2) && atoi(s + 5) >= 1 && atoi(s + 5) <= 12 && atoi(s + 8) >= 1 &&
           atoi(s + 8) <= 31;
}

/* RFC 3339 date-time as strfmt parses it: fractional seconds optional, a
 * zone of Z or ±hh:mm (or ±hhmm). */
static bool valid_date_time(const char *s)
{
    if (!valid_date(s) || (s[10] != 'T' && s[10] != 't'))
        return false;
    const char *t = s + 11;
    if (!(digits(t, 2) && t[2] == ':' && digits(t + 3, 2) && t[5] == ':' && digits(t + 6, 2)))
        return false;
    if (atoi(t) > 23 || atoi(t + 3) > 59 || atoi(t + 6) > 60)
        return false;
    t += 8;
    if (*t == '.') {
        size_t n = strspn(t + 1, "0123456789");
        if (n == 0)
            return false;
        t += 1 + n;
    }
    if ((*t == 'Z' || *t == 'z') && t[1] == '\0')
        return true;
    if (*t != '+' && *t != '-')
        return false;
    t++;
    if (digits(t, 2) && t[2] == ':' && digits(t + 3, 2) && t[5] == '\0')
        return true;
    return digits(t, 4) && t[4] == '\0';
}

static bool valid_cidr(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1] || strlen(slash + 1) > 3 ||
        !digits(slash + 1, strlen(slash + 1)))
        return false;
    char addr[64];
    size_t n = (size_t)(slash - s);
    if (n >= sizeof(addr))
        return false;
    memcpy(addr, s, n);
    addr[n] = '\0';
    unsigned char buf[16];
    int bits = atoi(slash + 1);
    if (inet_pton(AF_INET, addr, buf) == 1)
        return bits <= 32;
    return inet_pton(AF_INET6, addr, buf) == 1 && bits <= 128;
}

static bool valid_base64(const char *s)
{
    size_t n = strlen(s), pad = 0;
    if (n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') {
            pad++;
            continue;
        }
        if (pad || !(isalnum(c) || c == '+' || c == '/'))
            return false;
    }
    return pad <= 2;
}

/* The formats checked, with what kube-openapi's registry accepts; others
 * (and an unknown format) pass unchecked. The registry knows a format by
 * its name without dashes (date-time is datetime). 1: valid, 0: invalid,
 * -1: not checked. */
static int check_format(const char *name, const char *s)
{
    unsigned char buf[16];
    char format[32];
    size_t n = 0;
    for (const char *p = name; *p; p++)
        if (*p != '-' && n + 1 < sizeof(format))
            format[n++] = *p;
    format[n] = '\0';
    if (strcmp(format, "datetime") == 0)
        return valid_date_time(s);
    if (strcmp(format, "date") == 0)
        return valid_date(s) && s[10] == '\0';
    if (strcmp(format, "ipv4") == 0)
        return inet_pton(AF_INET, s, buf) == 1;
    if (strcmp(format, "ipv6") == 0)
        return inet_pton(AF_INET6, s, buf) == 1;
    if (strcmp(format, "cidr") == 0)
        return valid_cidr(s);
    if (strcmp(format, "byte") == 0)
        return valid_base64(s);
    return ts_strfmt_check(format, s);
}

/* An RE2 pattern as POSIX extended: \d \w \s and their negations, (?:
 * groups, escapes inside brackets. NULL when it cannot be translated. */
static char *posix_pattern(const char *re)
{
    kr_buf b = {0};
    bool in_class = false, class_dash = false;
    size_t class_start = 0;
    for (const char *p = re; *p; p++) {
        if (!in_class && p[0] == '(' && p[1] == '?' && p[2] == ':') {
            kr_buf_append_str(&b, "(");
            p += 2;
        } else if (!in_class && *p == '[') {
            in_class = true;
            class_dash = false;
            kr_buf_append_str(&b, "[");
            if (p[1] == '^')
                kr_buf_append_str(&b, "^"), p++;
            class_start = b.len;
        } else if (in_class && *p == ']' && b.len > class_start) {
            if (class_dash)
                kr_buf_append_str(&b, "-");
            kr_buf_append_str(&b, "]");
            in_class = false;
        } else if (*p == '\\' && p[1]) {
            char c = *++p;
            const char *cls = c == 'd'   ? "0-9"
                              : c == 'w' ? "A-Za-z0-9_"
                              : c == 's' ? "[:space:]"
                                         : NULL;
            const char *neg = c == 'D'   ? "[^0-9]"
                              : c == 'W' ? "[^A-Za-z0-9_]"
                              : c == 'S' ? "[^[:space:]]"
                                         : NULL;
            if (cls && in_class)
                kr_buf_append_str(&b, cls);
            else if (cls)
                kr_buf_printf(&b, "[%s]", cls);
            else if (neg && !in_class)
                kr_buf_append_str(&b, neg);
            else if (neg || isalnum((unsigned char)c)) {
                kr_buf_free(&b); /* \b, \z, \pL, classes negated in a class... */
                return NULL;
            } else if (in_class && c == '-')
                class_dash = true; /* a literal '-' goes last */
            else if (in_class)
                kr_buf_append(&b, &c, 1); /* a bracket takes it literally */
            else
                kr_buf_printf(&b, "\\%c", c);
        } else {
            kr_buf_append(&b, p, 1);
        }
    }
    if (in_class || kr_buf_append(&b, "", 0) != 0) {
        kr_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* 1: matches, 0: does not, -1: the pattern is not one this server can
 * evaluate (not checked). */
static int match_pattern(const char *pattern, const char *s)
{
    char *posix = posix_pattern(pattern);
    regex_t re;
    if (!posix || regcomp(&re, posix, REG_EXTENDED | REG_NOSUB) != 0) {
        kr_free(posix);
        return -1;
    }
    int rc = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    kr_free(posix);
    return rc;
}

/* ---- validation --------------------------------------------------------------------- */

static const char *type_of(const json_t *v)
{
    if (!v)
        return "null";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

/* Go's int64(f) as amd64 computes it: truncated toward zero, and the
 * smallest int64 for a value out of range (or NaN). */
static json_int_t go_int64(double f)
{
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
        return INT64_MIN;
    return (json_int_t)f;
}

/* go-openapi/swag v0.23.0's IsFloat64AJSONInteger, which kube-openapi asks
 * of a float64 (a JSON number with a fraction or exponent, or beyond
 * int64) against `type: integer`: within +-(2^53-1), and either whole or
 * within a relative 1e-9 of its truncation (so 1000000000.5 passes, 1.5
 * does not). Go's uint64(f) of a negative f is the wrapped int64. */
static bool go_json_integer(double f)
{
    const double max = 9007199254740991.0;
    if (isnan(f) || isinf(f) || f < -max || f > max)
        return false;
    double t = trunc(f);
    double g = f < 0 ? (double)(unsigned long long)(long long)t : t;
    double diff = fabs(f - g);
    if (f == g || f == t)
        return true;
    if (f == 0 || g == 0)
        return false; /* swag: diff < 1e-9 * the smallest float, never */
    return diff / fmin(fabs(f) + fabs(g), DBL_MAX) < 1e-9;
}

/* A JSON value as kube-openapi types it: an integer of JSON (int64 to the
 * decoder) is an integer and a number; a float64 is an integer when
 * go_json_integer says so. */
static bool type_matches(const char *want, const json_t *v)
{
    const char *t = type_of(v);
    if (strcmp(want, t) == 0)
        return true;
    if (strcmp(want, "number") == 0 && json_is_integer(v))
        return true;
    return strcmp(want, "integer") == 0 && json_is_real(v) && go_json_integer(json_real_value(v));
}

static void validate(const json_t *v, const json_t *s, sc_walk *w);

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void validate_string(const json_t *v, const json_t *s, sc_walk *w)
{
    const char *text = json_string_value(v);
    const json_t *maxl = json_object_get(s, "maxLength");
    const json_t *minl = json_object_get(s, "minLength");
    size_t len = utf8_chars(text);
    if (json_is_integer(maxl) && (json_int_t)len > json_integer_value(maxl)) {
        char body[128];
        json_int_t m = json_integer_value(maxl);
        snprintf(body, sizeof(body), "Too long: may not be more than %lld byte%s", (long long)m,
                 m == 1 ? "" : "s");
        add_cause(w, "FieldValueTooLong", path_of(w), body);
    }
    if (json_is_integer(minl) && (json_int_t)len < json_integer_value(minl)) {
        char what[96];
        snprintf(what, sizeof(what), "should be at least %lld chars long",
                 (long long)json_integer_value(minl));
        fail_value(w, v, what);
    }
    const char *pattern = str_of(s, "pattern");
    if (pattern && match_pattern(pattern, text) == 0) {
        char *what = kr_asprintf("should match '%s'", pattern);
        if (what)
            fail_value(w, v, what);
        kr_free(what);
    }
    const char *format = str_of(s, "format");
    if (format && check_format(format, text) == 0) {
        kr_buf what = {0};
        kr_buf_printf(&what, "must be of type %s: ", format);
        ts_go_quote(&what, text);
        char *detail = what.data ? in_body(w, what.data) : NULL;
        if (detail)
            invalid(w, "FieldValueTypeInvalid", "Invalid value", v, detail);
        kr_free(detail);
        kr_buf_free(&what);
    }
}

/* A limit an integer of JSON failed: kube-openapi compares an int64 with
 * the limit converted to int64 and prints that. */
static void fail_int_limit(sc_walk *w, const json_t *value, const char *what, json_int_t limit)
{
    char b[128];
    snprintf(b, sizeof(b), "%s %lld", what, (long long)limit);
    fail_value(w, value, b);
}

/* As kube-openapi's number validator: multipleOf, then minimum, then
 * maximum. An integer of JSON (an int64 to the decoder) is compared as an
 * int64 with each limit converted to int64 (so an integer above 2^53 is
 * compared exactly, and a fractional limit is truncated: a multipleOf
 * below 1 is no positive factor); a float64 as float64, a multipleOf
 * by swag's integer test of the quotient. */
static void validate_number(const json_t *v, const json_t *s, sc_walk *w)
{
    const json_t *mult = json_object_get(s, "multipleOf");
    const json_t *min = json_object_get(s, "minimum");
    const json_t *max = json_object_get(s, "maximum");
    bool min_excl = flag(s, "exclusiveMinimum");
    bool max_excl = flag(s, "exclusiveMaximum");
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (json_is_number(mult)) {
            json_int_t f = go_int64(json_number_value(mult));
            if (f <= 0) {
                kr_buf b = {0};
                kr_buf_printf(&b, "factor MultipleOf declared for %s must be positive: %lld",
                              path_of(w), (long long)f);
                json_t *shown = json_integer(f);
                if (b.data && shown)
                    invalid(w, "FieldValueInvalid", "Invalid value", shown, b.data);
                else
                    w->oom = true;
                json_decref(shown);
                kr_buf_free(&b);
            } else if (n % f != 0) {
                fail_int_limit(w, v, "should be a multiple of", f);
            }
        }
        if (json_is_number(min)) {
            json_int_t m = go_int64(json_number_value(min));
            if (min_excl ? n <= m : n < m)
                fail_int_limit(
                    w, v,
                    min_excl ? "should be greater than" : "should be greater than or equal to", m);
        }
        if (json_is_number(max)) {
            json_int_t m = go_int64(json_number_value(max));
            if (max_excl ? n >= m : n > m)
                fail_int_limit(
                    w, v, max_excl ? "should be less than" : "should be less than or equal to", m);
        }
        return;
    }
    double d = json_number_value(v);
    if (json_is_number(mult)) {
        double f = json_number_value(mult);
        if (f <= 0) {
            kr_buf b = {0};
            kr_buf_printf(&b, "factor MultipleOf declared for %s must be positive: ", path_of(w));
            go_float(&b, f);
            if (b.data)
                invalid(w, "FieldValueInvalid", "Invalid value", mult, b.data);
            else
                w->oom = true;
            kr_buf_free(&b);
        } else if (!go_json_integer(f < 1 ? 1 / f * d : d / f)) {
            fail_limit(w, v, "should be a multiple of", mult);
        }
    }
    if (json_is_number(min) &&
        (min_excl ? d <= json_number_value(min) : d < json_number_value(min)))
        fail_limit(w, v, min_excl ? "should be greater than" : "should be greater than or equal to",
                   min);
    if (json_is_number(max) &&
        (max_excl ? d >= json_number_value(max) : d > json_number_value(max)))
        fail_limit(w, v, max_excl ? "should be less than" : "should be less than or equal to", max);
}

static bool same_key(const json_t *a, const json_t *b, const json_t *keys)
{
    size_t i;
    const json_t *k;
    json_array_foreach(keys, i, k)
    {
        const json_t *x = json_object_get(a, json_string_value(k));
        const json_t *y = json_object_get(b, json_string_value(k));
        if ((x || y) && !json_equal(x, y))
            return false;
    }
    return true;
}

/* x-kubernetes-list-type set and map: no two items alike (for a map,
 * alike in their x-kubernetes-list-map-keys). */
static void validate_list_type(const json_t *v, const json_t *s, sc_walk *w)
{
    const char *lt = str_of(s, "x-kubernetes-list-type");
    if (!lt || (strcmp(lt, "set") != 0 && strcmp(lt, "map") != 0))
        return;
    bool is_map = strcmp(lt, "map") == 0;
    const json_t *keys = json_object_get(s, "x-kubernetes-list-map-keys");
    if (is_map && json_array_size(keys) == 0)
        return;
    for (size_t i = 1; i < json_array_size(v); i++) {
        const json_t *a = json_array_get(v, i);
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            const json_t *b = json_array_get(v, j);
            dup = is_map ? same_key(a, b, keys) : json_equal(a, b);
        }
        if (!dup)
            continue;
        /* the bad value: the item, or for a map its key fields */
        json_t *key = is_map ? json_object() : NULL;
        size_t ki;
        const json_t *kname;
        json_array_foreach(is_map ? keys : NULL, ki, kname)
        {
            json_t *kv = json_object_get(a, json_string_value(kname));
            if (kv)
                json_object_set(key, json_string_value(kname), kv);
        }
        size_t mark = push_index(w, i);
        kr_buf body = {0};
        kr_buf_append_str(&body, "Duplicate value: ");
        go_value(&body, is_map ? key : a);
        if (body.data)
            add_cause(w, "FieldValueDuplicate", path_of(w), body.data);
        else
            w->oom = true;
        kr_buf_free(&body);
        pop(w, mark);
        json_decref(key);
    }
}

static void validate_array(const json_t *v, const json_t *s, sc_walk *w)
{
    size_t n = json_array_size(v);
    const json_t *mini = json_object_get(s, "minItems");
    const json_t *maxi = json_object_get(s, "maxItems");
    if (json_is_integer(mini) && (json_int_t)n < json_integer_value(mini))
        fail_count(w, "should have at least %lld items", json_integer_value(mini), n);
    if (json_is_integer(maxi) && (json_int_t)n > json_integer_value(maxi))
        fail_too_many(w, n, json_integer_value(maxi));
    const json_t *is = items_of(s);
    for (size_t i = 0; is && i < n; i++) {
        size_t mark = push_index(w, i);
        validate(json_array_get(v, i), is, w);
        pop(w, mark);
    }
    validate_list_type(v, s, w);
}

static void validate_object(const json_t *v, const json_t *s, sc_walk *w)
{
    size_t n = json_object_size(v);
    const json_t *minp = json_object_get(s, "minProperties");
    const json_t *maxp = json_object_get(s, "maxProperties");
    if (json_is_integer(minp) && (json_int_t)n < json_integer_value(minp))
        fail_count(w, "should have at least %lld properties", json_integer_value(minp), n);
    if (json_is_integer(maxp) && (json_int_t)n > json_integer_value(maxp))
        fail_too_many(w, n, json_integer_value(maxp));
    size_t i;
    const json_t *req;
    json_array_foreach(json_object_get(s, "required"), i, req)
    {
        const char *k = json_string_value(req);
        if (k && !json_object_get(v, k)) {
            size_t mark = push_key(w, k);
            add_cause(w, "FieldValueRequired", path_of(w), "Required value");
            pop(w, mark);
        }
    }
    const char *k;
    const json_t *fv;
    json_object_foreach((json_t *)v, k, fv)
    {
        const json_t *fs = field_schema(s, k);
        if (!fs)
            continue;
        size_t mark = push_key(w, k);
        validate(fv, fs, w);
        pop(w, mark);
    }
}

/* How many of the schemas of `list` the value passes (anyOf, oneOf,
 * not); *failed (when not NULL) receives the causes of the closest that it
 * fails, as kube-openapi reports them: the first whose type the value has
 * (or that names none), else the first. */
static size_t passing(const json_t *v, const json_t *list, sc_walk *w, json_t **failed)
{
    size_t ok = 0, i;
    const json_t *sub;
    bool failed_typed = false;
    json_array_foreach(list, i, sub)
    {
        sc_walk probe = {.causes = json_array()};
        if (!probe.causes || kr_buf_append_str(&probe.path, path_of(w)) != 0) {
            w->oom = true;
        } else {
            validate(v, sub, &probe);
            w->oom = w->oom || probe.oom;
            if (json_array_size(probe.causes) == 0)
                ok++;
            else if (failed && (!*failed || !failed_typed)) {
                const char *t = str_of(sub, "type");
                bool typed = !t || type_matches(t, v);
                if (!*failed || typed) {
                    json_decref(*failed);
                    *failed = json_incref(probe.causes);
                    failed_typed = typed;
                }
            }
        }
        json_decref(probe.causes);
        kr_buf_free(&probe.path);
    }
    return ok;
}

/* A composite failure: kube-apiserver reports it without a field, the
 * path quoted in the message. */
static void fail_composite(sc_walk *w, const char *what)
{
    kr_buf b = {0};
    kr_buf_append_str(&b, "Invalid value: \"\": ");
    ts_go_quote(&b, path_of(w));
    kr_buf_printf(&b, " %s", what);
    if (b.data)
        add_cause(w, "FieldValueInvalid", "", b.data);
    else
        w->oom = true;
    kr_buf_free(&b);
}

static void add_causes(sc_walk *w, json_t *causes)
{
    if (causes && json_array_extend(w->causes, causes) != 0)
        w->oom = true;
    json_decref(causes);
}

static void validate_combinators(const json_t *v, const json_t *s, sc_walk *w)
{
    const json_t *all = json_object_get(s, "allOf");
    if (json_array_size(all) > 0) {
        size_t i, failed = 0;
        const json_t *sub;
        json_array_foreach(all, i, sub)
        {
            size_t before = json_array_size(w->causes);
            validate(v, sub, w);
            failed += json_array_size(w->causes) > before;
        }
        if (failed > 0)
            fail_composite(w, failed == json_array_size(all)
                                  ? "must validate all the schemas (allOf). None validated"
                                  : "must validate all the schemas (allOf)");
    }
    const json_t *any = json_object_get(s, "anyOf");
    if (json_array_size(any) > 0) {
        json_t *failed = NULL;
        if (passing(v, any, w, &failed) == 0) {
            fail_composite(w, "must validate at least one schema (anyOf)");
            add_causes(w, json_incref(failed));
        }
        json_decref(failed);
    }
    const json_t *one = json_object_get(s, "oneOf");
    if (json_array_size(one) > 0) {
        json_t *failed = NULL;
        size_t ok = passing(v, one, w, &failed);
        if (ok == 0) {
            fail_composite(w, "must validate one and only one schema (oneOf). Found none valid");
            add_causes(w, json_incref(failed));
        } else if (ok > 1) {
            char what[128];
            snprintf(what, sizeof(what),
                     "must validate one and only one schema (oneOf). Found %zu valid "
                     "alternatives",
                     ok);
            fail_composite(w, what);
        }
        json_decref(failed);
    }
    const json_t *not_schema = json_object_get(s, "not");
    if (json_is_object(not_schema)) {
        json_t *list = json_pack("[O]", not_schema);
        if (!list)
            w->oom = true;
        else if (passing(v, list, w, NULL) == 1)
            fail_composite(w, "must not validate the schema (not)");
        json_decref(list);
    }
}

static void check_enum(const json_t *v, const json_t *s, sc_walk *w)
{
    const json_t *en = json_object_get(s, "enum");
    if (json_array_size(en) == 0)
        return;
    size_t i;
    const json_t *e;
    json_array_foreach(en, i, e)
    {
        if (json_equal(e, v))
            return;
    }
    kr_buf body = {0};
    kr_buf_append_str(&body, "Unsupported value: ");
    go_value(&body, v);
    kr_buf_append_str(&body, ": supported values: ");
    json_array_foreach(en, i, e)
    {
        if (i > 0)
            kr_buf_append_str(&body, ", ");
        if (json_is_string(e)) {
            ts_go_quote(&body, json_string_value(e));
        } else {
            char *text = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
            ts_go_quote(&body, text ? text : "");
            kr_json_text_free(text);
        }
    }
    if (body.data)
        add_cause(w, "FieldValueNotSupported", path_of(w), body.data);
    else
        w->oom = true;
    kr_buf_free(&body);
}

/* As kube-openapi's schema validator: the type, then every validator that
 * applies to the value's kind (a mistyped value still meets enum and the
 * combinators); null meets only the type and enum. */
static void validate(const json_t *v, const json_t *s, sc_walk *w)
{
    if (!s)
        return;
    const char *type = str_of(s, "type");
    if (json_is_null(v)) {
        if (flag(s, "nullable"))
            return;
        if (flag(s, "x-kubernetes-int-or-string"))
            fail_type(w, "integer,string", "null");
        else if (type)
            fail_type(w, type, "null");
        check_enum(v, s, w);
        return;
    }
    if (flag(s, "x-kubernetes-int-or-string")) {
        if (!type_matches("integer", v) && !json_is_string(v))
            fail_type(w, "integer,string", type_of(v));
    } else if (type && !type_matches(type, v)) {
        fail_type(w, type, type_of(v));
    }
    check_enum(v, s, w);
    if (json_is_string(v))
        validate_string(v, s, w);
    else if (json_is_number(v))
        validate_number(v, s, w);
    else if (json_is_array(v))
        validate_array(v, s, w);
    else if (json_is_object(v))
        validate_object(v, s, w);
    validate_combinators(v, s, w);
}

void ts_schema_reread(kr_testserver_t *ts, ts_store *st)
{
    for (size_t i = 0; i < st->len; i++) {
        json_t *obj = st->items[i].obj;
        const char *av = json_string_value(json_object_get(obj, "apiVersion"));
        const char *kind = json_string_value(json_object_get(obj, "kind"));
        const ts_resource *res = av && kind ? ts_resource_find_kind(ts, av, kind) : NULL;
        if (!res || !res->schema || res->store != st)
            continue;
        json_t *copy = json_deep_copy(obj);
        sc_walk w = {0}; /* nothing reported: a read warns of nothing */
        if (copy) {
            prune(copy, res->schema, true, &w);
            prune_metadata(copy, &w);
            prune_nulls(copy, res->schema);
        }
        if (copy && !w.oom && apply_defaults(copy, res->schema) == 0 && !json_equal(copy, obj)) {
            st->items[i].obj = copy; /* the old one may live on in snapshots and events */
            json_decref(obj);
        } else {
            json_decref(copy);
        }
        kr_buf_free(&w.path);
    }
}

static void respond_oom(ts_response *resp)
{
    ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory", NULL);
}

/* ---- CRDs: their schemas must be structural ----------------------------------------- */

typedef enum { LVL_ROOT, LVL_ITEM, LVL_FIELD } sc_level;

/* One CRD error: `path` then the body (Required value: ..., ...). */
static void crd_error(sc_walk *w, const char *reason, const char *path, const char *body)
{
    add_cause(w, reason, path, body);
}

static void crd_errorf(sc_walk *w, const char *reason, const char *path, const char *suffix,
                       const char *body)
{
    char *field = kr_asprintf("%s%s", path, suffix);
    if (field)
        crd_error(w, reason, field, body);
    else
        w->oom = true;
    kr_free(field);
}

/* metadata at the root may only restrict name and generateName. */
static bool metadata_ok(const json_t *md)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)md, k, v)
    {
        if (strcmp(k, "type") == 0 || strcmp(k, "default") == 0)
            continue;
        if (strcmp(k, "properties") != 0)
            return false;
        const char *pk;
        const json_t *pv;
        json_object_foreach((json_t *)v, pk, pv)
        {
            if (strcmp(pk, "name") != 0 && strcmp(pk, "generateName") != 0)
                return false;
        }
    }
    return true;
}

/* A default must meet its own schema: kube-apiserver validates each. */
static void check_default(const json_t *s, const char *path, sc_walk *w)
{
    const json_t *dflt = json_object_get(s, "default");
    if (!dflt)
        return;
    sc_walk probe = {.causes = json_array()};
    if (!probe.causes) {
        w->oom = true;
        return;
    }
    validate(dflt, s, &probe);
    size_t i;
    const json_t *c;
    json_array_foreach(probe.causes, i, c)
    {
        const char *f = json_string_value(json_object_get(c, "field"));
        char *field = kr_asprintf("%s.default%s%s", path, f && *f ? "." : "", f ? f : "");
        if (field)
            crd_error(w, json_string_value(json_object_get(c, "reason")), field,
                      json_string_value(json_object_get(c, "message")));
        kr_free(field);
    }
    w->oom = w->oom || probe.oom;
    json_decref(probe.causes);
    kr_buf_free(&probe.path);
}

/* ValidateStructural's invariants of `s` at `path` (its errors in `w`,
 * sorted later) and, in `dflt`, ValidateDefaults' errors (kube-apiserver
 * looks at defaults only in a structural schema). */
static void check_structural(const json_t *s, sc_level lvl, const char *path, sc_walk *w,
                             sc_walk *dflt)
{
    if (!json_is_object(s))
        return;
    const char *type = str_of(s, "type");
    bool embedded = flag(s, "x-kubernetes-embedded-resource");
    bool preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
    bool int_or_string = flag(s, "x-kubernetes-int-or-string");
    const json_t *props = json_object_get(s, "properties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    if (type && strcmp(type, "array") == 0 && !json_object_get(s, "items"))
        crd_errorf(w, "FieldValueRequired", path, ".items", "Required value: must be specified");
    if (json_is_object(json_object_get(s, "items"))) {
        char *sub = kr_asprintf("%s.items", path);
        if (sub)
            check_structural(json_object_get(s, "items"), LVL_ITEM, sub, w, dflt);
        kr_free(sub);
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)props, k, v)
    {
        char *sub = kr_asprintf("%s.properties[%s]", path, k);
        if (sub)
            check_structural(v, LVL_FIELD, sub, w, dflt);
        kr_free(sub);
    }
    if (addl) {
        if (lvl == LVL_ROOT)
            crd_errorf(w, "FieldValueForbidden", path, ".additionalProperties",
                       "Forbidden: must not be used at the root");
        if (embedded)
            crd_errorf(w, "FieldValueForbidden", path, ".additionalProperties",
                       "Forbidden: must not be used if x-kubernetes-embedded-resource is set");
        if (json_is_object(addl)) {
            char *sub = kr_asprintf("%s.additionalProperties", path);
            if (sub)
                check_structural(addl, LVL_FIELD, sub, w, dflt);
            kr_free(sub);
        }
    }
    if (embedded && (!type || strcmp(type, "object") != 0)) {
        if (!type) {
            crd_errorf(w, "FieldValueRequired", path, ".type",
                       "Required value: must be object if x-kubernetes-embedded-resource is true");
        } else {
            char *body = kr_asprintf("Invalid value: \"%s\": must be object if "
                                     "x-kubernetes-embedded-resource is true",
                                     type);
            if (body)
                crd_errorf(w, "FieldValueInvalid", path, ".type", body);
            kr_free(body);
        }
    } else if (!type && !int_or_string && !preserve) {
        crd_errorf(w, "FieldValueRequired", path, ".type",
                   lvl == LVL_ROOT   ? "Required value: must not be empty at the root"
                   : lvl == LVL_ITEM ? "Required value: must not be empty for specified array items"
                                     : "Required value: must not be empty for specified object "
                                       "fields");
    }
    if (lvl == LVL_ROOT && type && strcmp(type, "object") != 0) {
        char *body = kr_asprintf("Invalid value: \"%s\": must be object at the root", type);
        if (body)
            crd_errorf(w, "FieldValueInvalid", path, ".type", body);
        kr_free(body);
    }
    const json_t *md = json_object_get(props, "metadata");
    if (md && lvl == LVL_ROOT && !metadata_ok(md))
        crd_errorf(w, "FieldValueForbidden", path, ".properties[metadata]",
                   "Forbidden: must not specify anything other than name and generateName, but "
                   "metadata is implicitly specified");
    check_default(s, path, dflt);
}

/* ValidateCustomResourceDefinitionOpenAPISchema's checks of `s` at `path`,
 * in its order: uniqueItems and additionalProperties beside properties,
 * then the nested schemas, then the list type and its keys. */
static void check_generic(const json_t *s, const char *path, sc_walk *w)
{
    if (!json_is_object(s))
        return;
    const json_t *props = json_object_get(s, "properties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    if (flag(s, "uniqueItems"))
        crd_errorf(w, "FieldValueForbidden", path, ".uniqueItems",
                   "Forbidden: uniqueItems cannot be set to true since the runtime complexity "
                   "becomes quadratic");
    if (addl && json_object_size(props) > 0 && !json_is_true(addl))
        crd_errorf(w, "FieldValueForbidden", path, ".additionalProperties",
                   "Forbidden: additionalProperties and properties are mutual exclusive");
    if (json_is_object(addl)) {
        char *sub = kr_asprintf("%s.additionalProperties", path);
        if (sub)
            check_generic(addl, sub, w);
        kr_free(sub);
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)props, k, v)
    {
        char *sub = kr_asprintf("%s.properties[%s]", path, k);
        if (sub)
            check_generic(v, sub, w);
        kr_free(sub);
    }
    if (json_is_object(json_object_get(s, "items"))) {
        char *sub = kr_asprintf("%s.items", path);
        if (sub)
            check_generic(json_object_get(s, "items"), sub, w);
        kr_free(sub);
    }
    const char *lt = str_of(s, "x-kubernetes-list-type");
    size_t nkeys = json_array_size(json_object_get(s, "x-kubernetes-list-map-keys"));
    if (nkeys > 0 && (!lt || strcmp(lt, "map") != 0)) {
        char *body = lt ? kr_asprintf("Invalid value: \"%s\": must be map if "
                                      "x-kubernetes-list-map-keys is non-empty",
                                      lt)
                        : kr_strdup("Required value: must be map if x-kubernetes-list-map-keys "
                                    "is non-empty");
        if (body)
            crd_errorf(w, lt ? "FieldValueInvalid" : "FieldValueRequired", path,
                       ".x-kubernetes-list-type", body);
        kr_free(body);
    }
    if (lt && strcmp(lt, "map") == 0 && nkeys == 0)
        crd_errorf(w, "FieldValueRequired", path, ".x-kubernetes-list-map-keys",
                   "Required value: must not be empty if x-kubernetes-list-type is map");
}

/* Go's field.Error.Error() of a cause: "<field>: <message>". */
static char *cause_text(const json_t *c)
{
    return kr_asprintf("%s: %s", json_string_value(json_object_get(c, "field")),
                       json_string_value(json_object_get(c, "message")));
}

/* ValidateStructural sorts its errors by their text. */
static int cmp_causes(const void *a, const void *b)
{
    char *x = cause_text(*(json_t *const *)a), *y = cause_text(*(json_t *const *)b);
    int c = x && y ? strcmp(x, y) : (x != NULL) - (y != NULL);
    kr_free(x);
    kr_free(y);
    return c;
}

/* `from`'s causes appended to `to`, sorted when `sort`; frees `from`. */
static void move_causes(sc_walk *from, sc_walk *to, bool sort)
{
    size_t n = json_array_size(from->causes);
    json_t **v = n ? kr_calloc(n, sizeof(json_t *)) : NULL;
    for (size_t j = 0; v && j < n; j++)
        v[j] = json_array_get(from->causes, j);
    if (v && sort)
        qsort((void *)v, n, sizeof(json_t *), cmp_causes);
    for (size_t j = 0; v && j < n; j++)
        if (json_array_append(to->causes, v[j]) != 0)
            to->oom = true;
    to->oom = to->oom || from->oom || (n && !v);
    kr_free((void *)v);
    json_decref(from->causes);
    kr_buf_free(&from->path);
}

/* Every cause of `walk`, in the order found, as one 422 (or the
 * out-of-memory 500); frees the walk. */
static int respond_crd_causes(sc_walk *walk, const char *name, ts_response *resp)
{
    int rc = 0;
    if (walk->oom) {
        rc = KR_ENOMEM;
        respond_oom(resp);
    } else if (json_array_size(walk->causes) > 0) {
        ts_respond_invalid_causes(resp, "CustomResourceDefinition", "apiextensions.k8s.io", name,
                                  walk->causes);
        rc = KR_EINVALIDOBJ;
    }
    json_decref(walk->causes);
    kr_buf_free(&walk->path);
    return rc;
}

/* Whether spec.versions (`versions`) or status.storedVersions (`list`,
 * of strings) names `name`; in `list` only from index `from` on. */
static bool names_version(const json_t *versions, const json_t *list, size_t from, const char *name)
{
    size_t i;
    const json_t *v;
    json_array_foreach(versions, i, v)
    {
        if (strcmp(str_of(v, "name") ? str_of(v, "name") : "", name) == 0)
            return true;
    }
    for (i = from; i < json_array_size(list); i++)
        if (json_is_string(json_array_get(list, i)) &&
            strcmp(json_string_value(json_array_get(list, i)), name) == 0)
            return true;
    return false;
}

/* ValidateCustomResourceDefinitionStoredVersions: status.storedVersions
 * holds the storage version and only versions spec.versions still has.
 * `stored` is the list as written; with `add_storage`, the first
 * storage version is added to it first, as the strategy's
 * PrepareForCreate (on a cleared status) and PrepareForUpdate do; a
 * status write's list stays as sent. */
static void check_stored_versions(const json_t *stored, const json_t *versions, bool add_storage,
                                  sc_walk *w)
{
    const char *storage = NULL;
    size_t i;
    const json_t *v;
    json_array_foreach(versions, i, v)
    {
        if (!storage && flag(v, "storage"))
            storage = str_of(v, "name") ? str_of(v, "name") : "";
    }
    bool added = add_storage && storage && !names_version(NULL, stored, 0, storage);
    if (json_array_size(stored) == 0 && !added) {
        crd_error(w, "FieldValueInvalid", "status.storedVersions",
                  json_is_array(stored) ? "Invalid value: []string{}: must have at least one "
                                          "stored version"
                                        : "Invalid value: []string(nil): must have at least one "
                                          "stored version");
        return;
    }
    /* the list as validated, the storage version added */
    json_t *list = json_is_array(stored) ? json_copy((json_t *)stored) : json_array();
    if (!list || (added && json_array_append_new(list, json_string(storage)) != 0)) {
        w->oom = true;
        json_decref(list);
        return;
    }
    json_array_foreach(versions, i, v)
    {
        const char *vn = str_of(v, "name") ? str_of(v, "name") : "";
        if (!flag(v, "storage") || names_version(NULL, list, 0, vn))
            continue;
        kr_buf body = {0};
        kr_buf_append_str(&body, "Invalid value: ");
        ts_go_strings(&body, list);
        kr_buf_printf(&body, ": must have the storage version %s", vn);
        if (body.data)
            crd_error(w, "FieldValueInvalid", "status.storedVersions", body.data);
        w->oom = w->oom || !body.data;
        kr_buf_free(&body);
    }
    json_decref(list);
    /* each stale version once, at its last index */
    json_array_foreach(stored, i, v)
    {
        const char *sv = json_string_value(v) ? json_string_value(v) : "";
        if (names_version(versions, NULL, 0, sv) || names_version(NULL, stored, i + 1, sv))
            continue;
        char field[48];
        snprintf(field, sizeof(field), "status.storedVersions[%zu]", i);
        kr_buf body = {0};
        kr_buf_append_str(&body, "Invalid value: ");
        ts_go_quote(&body, sv);
        kr_buf_append_str(&body, ": must appear in spec.versions");
        if (body.data)
            crd_error(w, "FieldValueInvalid", field, body.data);
        w->oom = w->oom || !body.data;
        kr_buf_free(&body);
    }
}

/* A pointer field of Go's %#v: nil, or a heap address, which differs
 * from run to run (a fixed one stands for it). */
static void go_pointer(kr_buf *b, const char *field, const char *type, bool set)
{
    kr_buf_printf(b, ", %s:(*%s)(%s)", field, type, set ? "0xc000010000" : "nil");
}

/* `v`'s string field `key` as Go's %#v of a struct's field. */
static void go_string_field(kr_buf *b, const char *sep, const char *field, const json_t *v,
                            const char *key)
{
    kr_buf_printf(b, "%s%s:", sep, field);
    ts_go_quote(b, str_of(v, key) ? str_of(v, key) : "");
}

/* An apiextensions.CustomResourceColumnDefinition or SelectableField
 * list, as %#v. */
static void go_columns(kr_buf *b, const json_t *list, bool columns)
{
    const char *type =
        columns ? "apiextensions.CustomResourceColumnDefinition" : "apiextensions.SelectableField";
    if (!json_is_array(list)) {
        kr_buf_printf(b, "[]%s(nil)", type);
        return;
    }
    kr_buf_printf(b, "[]%s{", type);
    size_t i;
    const json_t *c;
    json_array_foreach(list, i, c)
    {
        kr_buf_printf(b, "%s%s{", i ? ", " : "", type);
        if (columns) {
            go_string_field(b, "", "Name", c, "name");
            go_string_field(b, ", ", "Type", c, "type");
            go_string_field(b, ", ", "Format", c, "format");
            go_string_field(b, ", ", "Description", c, "description");
            kr_buf_printf(b, ", Priority:%lld",
                          (long long)json_integer_value(json_object_get(c, "priority")));
            go_string_field(b, ", ", "JSONPath", c, "jsonPath");
        } else {
            go_string_field(b, "", "JSONPath", c, "jsonPath");
        }
        kr_buf_append_str(b, "}");
    }
    kr_buf_append_str(b, "}");
}

/* Whether a Go pointer or list `x` is nil (JSON absent or null) or, for
 * a `list`, empty: Semantic.DeepEqual finds these equal. */
static bool go_empty(const json_t *x, bool list)
{
    return !x || json_is_null(x) || (list && json_is_array(x) && json_array_size(x) == 0);
}

/* Whether every version has the same `key`, as Semantic.DeepEqual finds
 * them. */
static bool versions_share(const json_t *versions, const char *key, bool list)
{
    const json_t *first = json_object_get(json_array_get(versions, 0), key);
    size_t i;
    const json_t *v;
    json_array_foreach(versions, i, v)
    {
        const json_t *x = json_object_get(v, key);
        if (go_empty(x, list) && go_empty(first, list))
            continue;
        if (go_empty(x, list) || go_empty(first, list) || !json_equal(x, first))
            return false;
    }
    return true;
}

/* spec.versions as the internal []apiextensions.CustomResourceDefinitionVersion
 * prints with %#v: the conversion from v1 moves a schema, subresources,
 * printer columns or selectable fields that every version shares to the
 * spec, leaving them nil in each. */
static void go_crd_versions(kr_buf *b, const json_t *versions)
{
    static const char type[] = "apiextensions.CustomResourceDefinitionVersion";
    if (!json_is_array(versions)) {
        kr_buf_printf(b, "[]%s(nil)", type);
        return;
    }
    bool schema = !versions_share(versions, "schema", false);
    bool subresources = !versions_share(versions, "subresources", false);
    bool columns = !versions_share(versions, "additionalPrinterColumns", true);
    bool fields = !versions_share(versions, "selectableFields", true);
    kr_buf_printf(b, "[]%s{", type);
    size_t i;
    const json_t *v;
    json_array_foreach(versions, i, v)
    {
        kr_buf_printf(b, "%s%s{", i ? ", " : "", type);
        go_string_field(b, "", "Name", v, "name");
        kr_buf_printf(b, ", Served:%s, Storage:%s, Deprecated:%s",
                      flag(v, "served") ? "true" : "false", flag(v, "storage") ? "true" : "false",
                      flag(v, "deprecated") ? "true" : "false");
        go_pointer(b, "DeprecationWarning", "string",
                   json_is_string(json_object_get(v, "deprecationWarning")));
        go_pointer(b, "Schema", "apiextensions.CustomResourceValidation",
                   schema && json_is_object(json_object_get(v, "schema")));
        go_pointer(b, "Subresources", "apiextensions.CustomResourceSubresources",
                   subresources && json_is_object(json_object_get(v, "subresources")));
        kr_buf_append_str(b, ", AdditionalPrinterColumns:");
        go_columns(b, columns ? json_object_get(v, "additionalPrinterColumns") : NULL, true);
        kr_buf_append_str(b, ", SelectableFields:");
        go_columns(b, fields ? json_object_get(v, "selectableFields") : NULL, false);
        kr_buf_append_str(b, "}");
    }
    kr_buf_append_str(b, "}");
}

/* validateCustomResourceDefinitionSpec: exactly one version is the
 * storage version. */
static void check_storage_version(const json_t *versions, sc_walk *w)
{
    size_t i, n = 0;
    const json_t *v;
    json_array_foreach(versions, i, v) n += flag(v, "storage");
    if (n == 1)
        return;
    kr_buf body = {0};
    kr_buf_append_str(&body, "Invalid value: ");
    go_crd_versions(&body, versions);
    kr_buf_append_str(&body, ": must have exactly one version marked as storage version");
    if (body.data)
        crd_error(w, "FieldValueInvalid", "spec.versions", body.data);
    w->oom = w->oom || !body.data;
    kr_buf_free(&body);
}

/* ---- selectable fields ------------------------------------------------------------ */

/* The length of the JSON path token at `p` (not at its end), as
 * ValidFieldPath's scanner splits them: a delimiter ('.', '[' or ']'), a
 * single-quoted string whole, or the text up to the next delimiter. */
static size_t token_len(const char *p)
{
    size_t n = *p == '\'' ? strcspn(p + 1, "'") + 2 : strchr(".[]", *p) ? 1 : strcspn(p, ".[]");
    return n > strlen(p) ? strlen(p) : n;
}

/* cel.ValidFieldPath without array notation: `json_path` (".spec.a.b")
 * walked down `s`, a property at a time (a map's additionalProperties
 * take any key). Sets *found to the schema reached (NULL past a map of
 * anything) and `path` to the field path ("spec.a", "spec.m[k]"); or
 * returns why the path is invalid (in *owned when allocated). */
static const char *field_path_problem(const char *json_path, const json_t *s, kr_buf *path,
                                      const json_t **found, char **owned)
{
    const char *p = json_path;
    while (*p) {
        if (*p == '[')
            return "array notation is not allowed";
        if (*p != '.') {
            *owned = kr_asprintf("expected [ or . but got: %.*s", (int)token_len(p), p);
            return *owned ? *owned : "expected [ or .";
        }
        p++;
        if (!*p)
            return "unexpected end of JSON path";
        size_t n = token_len(p);
        bool present;
        const json_t *addl = addl_of(s, &present);
        if (json_is_object(json_object_get(s, "properties"))) {
            char *name = kr_strndup(p, n);
            s = name ? prop_of(s, name) : NULL;
            kr_buf_printf(path, "%s%s", path->len ? "." : "", name ? name : "");
            kr_free(name);
            if (!s)
                return "does not refer to a valid field";
        } else if (present) {
            kr_buf_printf(path, "[%.*s]", (int)n, p);
            s = addl;
            if (!s && p[n])
                return "does not refer to a valid field";
        } else {
            return "does not refer to a valid field";
        }
        p += n;
    }
    *found = s;
    return NULL;
}

/* ValidateCustomResourceSelectableFields: `fields` (at `at`) against the
 * openAPIV3Schema `schema`. */
static void check_selectable_list(const json_t *fields, const json_t *schema, const char *at,
                                  sc_walk *w)
{
    static const char *const scalars[] = {"string", "boolean", "integer"};
    json_t *seen = json_object();
    if (!seen) {
        w->oom = true;
        return;
    }
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f)
    {
        const char *json_path = str_of(f, "jsonPath");
        char field[96];
        snprintf(field, sizeof(field), "%s[%zu].jsonPath", at, i);
        if (!json_path || !*json_path) {
            crd_error(w, "FieldValueRequired", field, "Required value");
            continue;
        }
        kr_buf path = {0}, body = {0};
        const json_t *found = NULL;
        char *owned = NULL;
        const char *why = field_path_problem(json_path, schema, &path, &found, &owned);
        kr_buf_append_str(&body, "Invalid value: ");
        ts_go_quote(&body, json_path);
        size_t mark = body.len;
        const char *type = str_of(found, "type");
        bool scalar = false;
        for (size_t k = 0; type && k < KR_ARRAY_LEN(scalars); k++)
            scalar = scalar || strcmp(type, scalars[k]) == 0;
        const char *p = path.data ? path.data : "";
        if (why) {
            kr_buf_printf(&body, ": is an invalid path: %s", why);
            crd_error(w, "FieldValueInvalid", field, body.data ? body.data : "Invalid value");
        } else {
            if (strncmp(p, "metadata", 8) == 0 && (!p[8] || p[8] == '.' || p[8] == '[')) {
                kr_buf_append_str(&body, ": must not point to fields in metadata");
                crd_error(w, "FieldValueInvalid", field, body.data ? body.data : "Invalid value");
            }
            if (!scalar) {
                body.len = mark;
                kr_buf_append_str(&body, ": must point to a field of type string, boolean or "
                                         "integer. Enum string fields and strings with formats "
                                         "are allowed.");
                crd_error(w, "FieldValueInvalid", field, body.data ? body.data : "Invalid value");
            }
            if (json_object_get(seen, p)) {
                kr_buf dup = {0};
                kr_buf_append_str(&dup, "Duplicate value: ");
                ts_go_quote(&dup, json_path);
                crd_error(w, "FieldValueDuplicate", field, dup.data ? dup.data : "Duplicate value");
                kr_buf_free(&dup);
            } else if (json_object_set_new(seen, p, json_true()) != 0) {
                w->oom = true;
            }
        }
        w->oom = w->oom || !body.data;
        kr_free(owned);
        kr_buf_free(&path);
        kr_buf_free(&body);
    }
    if (json_object_size(seen) > 8) {
        char body[64];
        snprintf(body, sizeof(body), "Too many: %zu: must have at most 8 items",
                 json_object_size(seen));
        crd_error(w, "FieldValueTooMany", at, body);
    }
    json_decref(seen);
}

/* The selectable fields of a CRD's versions, where the conversion from v1
 * puts them: the spec's when every version has the same ones, checked
 * against the spec's schema (every version's alike, else none), after the
 * versions; else each version's, against its own schema (none when they
 * are alike), with that version (check_version_selectable). */
static void check_spec_selectable(const json_t *versions, sc_walk *w)
{
    bool one_schema = versions_share(versions, "schema", false);
    const json_t *first = json_array_get(versions, 0);
    if (!versions_share(versions, "selectableFields", true))
        return;
    const json_t *fields = json_object_get(first, "selectableFields");
    const json_t *schema = json_object_get(json_object_get(first, "schema"), "openAPIV3Schema");
    if (json_array_size(fields) == 0)
        return;
    if (one_schema && json_is_object(schema))
        check_selectable_list(fields, schema, "spec.selectableFields", w);
    else
        crd_error(w, "FieldValueInvalid", "spec.selectableFields",
                  "Invalid value: \"\": selectableFields may only be set when "
                  "validations.schema is included");
}

static void check_version_selectable(const json_t *versions, size_t i, sc_walk *w)
{
    if (versions_share(versions, "selectableFields", true))
        return;
    const json_t *v = json_array_get(versions, i);
    const json_t *fields = json_object_get(v, "selectableFields");
    const json_t *schema = json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
    if (json_array_size(fields) == 0)
        return;
    char at[64];
    snprintf(at, sizeof(at), "spec.versions[%zu].selectableFields", i);
    if (!versions_share(versions, "schema", false) && json_is_object(schema))
        check_selectable_list(fields, schema, at, w);
    else
        crd_error(w, "FieldValueInvalid", at,
                  "Invalid value: \"\": selectableFields may only be set when "
                  "version.schema.openAPIV3Schema is not included");
}

int ts_crd_validate_status(const json_t *crd, const char *name, const json_t *meta,
                           ts_response *resp)
{
    sc_walk walk = {.causes = meta ? json_copy((json_t *)meta) : json_array()};
    if (!walk.causes) {
        respond_oom(resp);
        return KR_ENOMEM;
    }
    check_stored_versions(json_object_get(json_object_get(crd, "status"), "storedVersions"),
                          json_object_get(json_object_get(crd, "spec"), "versions"), false, &walk);
    return respond_crd_causes(&walk, name, resp);
}

/* validateCustomResourceDefinitionValidation on one schema at `path`: a
 * nullable root; ValidateStructural's errors, sorted by their text, or,
 * with none, the defaults' errors; then the generic schema walk's. */
static void check_schema(const json_t *schema, const char *path, sc_walk *w)
{
    if (flag(schema, "nullable"))
        crd_errorf(w, "FieldValueForbidden", path, ".nullable",
                   "Forbidden: nullable cannot be true at the root");
    sc_walk structural = {.causes = json_array()}, dflt = {.causes = json_array()},
            generic = {.causes = json_array()};
    w->oom = w->oom || !structural.causes || !dflt.causes || !generic.causes;
    if (!w->oom) {
        check_structural(schema, LVL_ROOT, path, &structural, &dflt);
        check_generic(schema, path, &generic);
    }
    bool structural_ok = json_array_size(structural.causes) == 0;
    move_causes(&structural, w, true);
    if (structural_ok)
        move_causes(&dflt, w, false);
    else
        json_decref(dflt.causes), kr_buf_free(&dflt.path);
    move_causes(&generic, w, false);
}

/* The errors in kube-apiserver's order: each version's (its schema, then
 * its selectable fields), the storage version, the spec's selectable
 * fields, the stored versions. */
int ts_crd_validate(const json_t *crd, const char *name, bool update, const json_t *meta,
                    ts_response *resp)
{
    sc_walk walk = {.causes = meta ? json_copy((json_t *)meta) : json_array()};
    if (!walk.causes) {
        respond_oom(resp);
        return KR_ENOMEM;
    }
    const json_t *versions = json_object_get(json_object_get(crd, "spec"), "versions");
    size_t i;
    const json_t *v;
    json_array_foreach(versions, i, v)
    {
        const json_t *schema = json_object_get(json_object_get(v, "schema"), "openAPIV3Schema");
        char path[96];
        snprintf(path, sizeof(path), "spec.versions[%zu].schema.openAPIV3Schema", i);
        if (!json_is_object(schema))
            crd_error(&walk, "FieldValueRequired", path, "Required value");
        else
            check_schema(schema, path, &walk);
        check_version_selectable(versions, i, &walk);
    }
    check_storage_version(versions, &walk);
    check_spec_selectable(versions, &walk);
    /* a create's status starts empty */
    const json_t *stored = json_object_get(json_object_get(crd, "status"), "storedVersions");
    check_stored_versions(update ? stored : NULL, versions, true, &walk);
    return respond_crd_causes(&walk, name, resp);
}

/* ---- the write path ------------------------------------------------------------------ */

ts_field_validation ts_field_validation_of(const ts_request *req)
{
    const char *fv = ts_query(req, "fieldValidation");
    if (fv && strcmp(fv, "Strict") == 0)
        return TS_FV_STRICT;
    if (fv && strcmp(fv, "Ignore") == 0)
        return TS_FV_IGNORE;
    return TS_FV_WARN;
}

/* A strict decoding error's place in the body: its key's offset. */
typedef struct strict_err {
    json_int_t at;
    char *text;
} strict_err;

static int cmp_strict_err(const void *a, const void *b)
{
    const strict_err *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* The strict decoding errors of a write, as a new array of texts: the
 * body's duplicate keys (`duplicate field "data.a"`) and the unknown
 * fields (`unknown field "spec.x"`). A built-in type's decoder meets them
 * in the body's order, and skips a field the type lacks, so the keys twice
 * inside it; a custom resource's decoder reports the duplicates, its
 * pruning then the unknown fields. */
static json_t *strict_errors(const ts_write *w, const json_t *unknown)
{
    /* a patch's duplicates are met unmarshalling it into a map, first */
    bool builtin = !w->rt->res->crd && strcmp(w->req->method, "PATCH") != 0;
    const json_t *dups = json_object_get(w->dups, "dups");
    const json_t *keys = json_object_get(w->dups, "keys");
    size_t n = json_array_size(dups) + json_array_size(unknown), k = 0;
    strict_err *e = n ? kr_calloc(n, sizeof(*e)) : NULL;
    json_t *out = json_array();
    bool oom = !out || (n && !e);
    size_t i, j;
    const json_t *p, *u;
    json_array_foreach(json_object_get(w->dups, "first"), i, p) oom =
        oom || json_array_append_new(out, json_string(json_string_value(p))) != 0;
    json_array_foreach(w->strict_first, i, p) oom =
        oom || json_array_append_new(out, json_string(json_string_value(p))) != 0;
    json_array_foreach(dups, i, p)
    {
        const char *d = json_string_value(json_array_get(p, 0));
        bool skipped = false;
        json_array_foreach(unknown, j, u)
        {
            size_t len = strlen(json_string_value(u));
            skipped = skipped || (builtin && strncmp(d, json_string_value(u), len) == 0 &&
                                  (d[len] == '\0' || d[len] == '.' || d[len] == '['));
        }
        if (skipped || oom)
            continue;
        e[k].at = builtin ? json_integer_value(json_array_get(p, 1)) : -1;
        e[k].text = kr_asprintf("duplicate field \"%s\"", d);
        oom = !e[k++].text;
    }
    json_array_foreach(unknown, i, p)
    {
        if (oom)
            break;
        const json_t *at = builtin ? json_object_get(keys, json_string_value(p)) : NULL;
        e[k].at = at ? json_integer_value(at) : LLONG_MAX;
        e[k].text = kr_asprintf("unknown field \"%s\"", json_string_value(p));
        oom = !e[k++].text;
    }
    /* by offset; an insertion sort keeps the unknown fields' order among equals */
    for (i = 1; i < k; i++)
        for (j = i; j > 0 && cmp_strict_err(&e[j - 1], &e[j]) > 0; j--) {
            strict_err t = e[j];
            e[j] = e[j - 1];
            e[j - 1] = t;
        }
    for (i = 0; i < k; i++) {
        if (!oom && json_array_append_new(out, json_string(e[i].text)) != 0)
            oom = true;
        kr_free(e[i].text);
    }
    kr_free(e);
    if (oom) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The errors joined as a strict decoding error lists them. */
static char *strict_list(const json_t *errs)
{
    size_t i;
    const json_t *p;
    kr_buf b = {0};
    json_array_foreach(errs, i, p) kr_buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(p));
    if (!b.data)
        kr_buf_append(&b, "", 0);
    return b.data;
}

/* The body, or a patch's result (`patched`, as the patch left it: the
 * message shows it), does not decode: `err` is why. */
static int respond_undecodable(const ts_write *w, const json_t *patched, const char *err,
                               ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    if (strcmp(w->req->method, "PATCH") != 0) {
        /* create and update: the body fails to decode (400) */
        char *msg = kr_asprintf("%s in version \"%s\" cannot be handled as a %s: %s", res->kind,
                                res->version, res->kind, err);
        ts_respond_status(resp, 400, "BadRequest", msg, NULL);
        int rc = msg ? KR_EINVALIDOBJ : KR_ENOMEM;
        kr_free(msg);
        return rc;
    }
    /* a patch: the patched object fails to decode (422, no kind); a
     * strategic merge patch shows the patch as Go prints a map */
    kr_buf shown = {0};
    if (w->patch) {
        ts_go_print(&shown, w->patch);
    } else {
        char *text = json_dumps(patched, JSON_COMPACT | JSON_SORT_KEYS);
        kr_buf_append_str(&shown, text ? text : "");
        kr_json_text_free(text);
    }
    kr_buf body = {0};
    kr_buf_append_str(&body, "Invalid value: ");
    ts_go_quote(&body, shown.data ? shown.data : "");
    kr_buf_free(&shown);
    kr_buf_printf(&body, ": %s", err);
    char *msg = body.data ? kr_asprintf(" \"\" is invalid: patch: %s", body.data) : NULL;
    json_t *d = json_pack("{s:[{s:s, s:s, s:s}]}", "causes", "reason", "FieldValueInvalid",
                          "message", body.data ? body.data : "", "field", "patch");
    ts_respond_status(resp, 422, "Invalid", msg, d);
    int rc = msg && d ? KR_EINVALIDOBJ : KR_ENOMEM;
    kr_free(msg);
    kr_buf_free(&body);
    return rc;
}

static int respond_strict(const ts_write *w, const json_t *patched, const json_t *errs,
                          ts_response *resp)
{
    char *list = strict_list(errs);
    char *err = list ? kr_asprintf("strict decoding error: %s", list) : NULL;
    int rc = err ? respond_undecodable(w, patched, err, resp) : KR_ENOMEM;
    kr_free(err);
    kr_free(list);
    return rc;
}

int ts_schema_decode(const ts_write *w, json_t *obj, ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    const ts_pb_message *m = res->schema ? NULL : ts_pb_find_kind(res->api_version, res->kind);
    if (!m)
        return 0;
    bool patch = strcmp(w->req->method, "PATCH") == 0;
    bool converted = w->applied || (patch && w->patch);
    char *err = NULL;
    /* a create's or update's JSON body, as parsed (no key twice): its
     * numbers' text for the decoder's errors */
    bool text = !patch && !w->dups && w->req->body && ts_content_is_json(w->req);
    int rc = text ? ts_go_decode_text(obj, m, w->req->body, w->req->body_len, &err)
                  : ts_go_decode(obj, m, converted ? TS_GO_UNSTRUCTURED : TS_GO_JSON, &err);
    if (rc == 0 && err && w->applied) {
        /* the applied object, turned back into the Go type by the field
         * manager: an error without a status (500) */
        const char *ns = ts_meta_str(obj, "namespace"), *name = ts_meta_str(obj, "name");
        char *msg = kr_asprintf("failed to convert new object (%s/%s; %s/%s, Kind=%s) to proper "
                                "version: unable to convert unstructured object to %s/%s, "
                                "Kind=%s: %s",
                                ns ? ns : "", name ? name : "", res->group, res->version, res->kind,
                                res->group, res->version, res->kind, err);
        ts_respond_status(resp, 500, NULL, msg, NULL);
        rc = msg ? KR_EINVALIDOBJ : KR_ENOMEM;
        kr_free(msg);
    } else if (rc == 0 && err) {
        rc = respond_undecodable(w, obj, err, resp);
    } else if (rc == 0) {
        /* a quantity's or a time's UnmarshalJSON: its error */
        kr_buf bad = {0};
        if (ts_go_values(res, obj, &bad) != 0)
            rc = respond_undecodable(w, obj, bad.data ? bad.data : "out of memory", resp);
        kr_buf_free(&bad);
    }
    kr_free(err);
    if (rc == KR_ENOMEM)
        respond_oom(resp);
    return rc;
}

static void warn_strict(const json_t *errs, ts_response *resp)
{
    size_t i;
    const json_t *p;
    json_array_foreach(errs, i, p) ts_response_warn(resp, json_string_value(p));
}

int ts_schema_strict(const ts_write *w, const json_t *obj, const json_t *patched, ts_response *resp)
{
    ts_field_validation fv = ts_field_validation_of(w->req);
    if (fv == TS_FV_IGNORE)
        return 0;
    json_t *copy = json_deep_copy(obj);
    sc_walk walk = {.unknown = json_array()};
    json_t *errs = NULL;
    int rc = 0;
    if (!copy || !walk.unknown) {
        rc = KR_ENOMEM;
    } else {
        prune_unknown(w->rt->res, copy, false, &walk); /* as the endpoint's version */
        errs = walk.oom ? NULL : strict_errors(w, walk.unknown);
        if (!errs)
            rc = KR_ENOMEM;
        else if (json_array_size(errs) > 0 && fv == TS_FV_STRICT)
            rc = respond_strict(w, patched, errs, resp);
        else
            warn_strict(errs, resp);
    }
    json_decref(errs);
    json_decref(copy);
    json_decref(walk.unknown);
    kr_buf_free(&walk.path);
    if (rc == KR_ENOMEM)
        respond_oom(resp);
    return rc;
}

int ts_schema_check_apply(const ts_write *w, const json_t *config, ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    json_t *copy = json_deep_copy(config);
    sc_walk walk = {.unknown = json_array()};
    json_t *errors = json_array();
    bool typed = copy && walk.unknown && prune_unknown(res, copy, false, &walk);
    int rc = 0;
    /* a built-in kind's values of the wrong kind, in the same list */
    const ts_pb_message *m =
        typed && !res->schema ? ts_pb_find_kind(res->api_version, res->kind) : NULL;
    size_t i;
    const json_t *p;
    json_array_foreach(walk.unknown, i, p)
    {
        char *e = kr_asprintf(".%s: field not declared in schema", json_string_value(p));
        if (!e || json_array_append_new(errors, json_string(e)) != 0)
            walk.oom = true;
        kr_free(e);
    }
    if (!copy || !walk.unknown || !errors || walk.oom ||
        (m && ts_go_apply_errors(config, m, errors) != 0)) {
        rc = KR_ENOMEM;
    } else if (typed && json_array_size(errors) > 0) {
        size_t n = json_array_size(errors);
        kr_buf list = {0};
        json_array_foreach(errors, i, p)
            kr_buf_printf(&list, "%s%s", n > 1 ? "\n  " : "", json_string_value(p));
        const char *ns = ts_meta_str(config, "namespace");
        const char *name = ts_meta_str(config, "name");
        char *msg = kr_asprintf("failed to create typed patch object (%s/%s; %s/%s, Kind=%s): %s%s",
                                ns ? ns : "", name ? name : "", res->group, res->version, res->kind,
                                n > 1 ? "errors:" : "", list.data ? list.data : "");
        /* kube-apiserver answers it as an error without a status: 500 */
        ts_respond_status(resp, 500, NULL, msg, NULL);
        kr_free(msg);
        kr_buf_free(&list);
        rc = KR_EINVALIDOBJ;
    }
    json_decref(copy);
    json_decref(walk.unknown);
    json_decref(errors);
    kr_buf_free(&walk.path);
    if (rc == KR_ENOMEM)
        respond_oom(resp);
    return rc;
}

/* apiextensions' ValidateScaleSpec, on every write of a custom resource
 * with a scale subresource: the replicas at its specReplicasPath, when an
 * integer, are 0 to 2^31-1 (the field named by the path as written). */
static void validate_scale_spec(const json_t *obj, const ts_resource *res, sc_walk *w)
{
    if (!res->crd || !res->scale_spec_path)
        return;
    const char *path = res->scale_spec_path;
    const json_t *v = ts_json_path(obj, path);
    if (!json_is_integer(v))
        return;
    json_int_t n = json_integer_value(v);
    const char *why = n < 0            ? "should be a non-negative integer"
                      : n > 2147483647 ? "should be less than or equal to 2147483647"
                                       : NULL;
    if (!why)
        return;
    char body[160];
    snprintf(body, sizeof(body), "Invalid value: %lld: %s", (long long)n, why);
    add_cause(w, "FieldValueInvalid", path, body);
}

int ts_schema_admit(const ts_write *w, json_t *obj, const json_t *meta, ts_response *resp)
{
    const ts_resource *res = w->rt->res;
    ts_field_validation fv = ts_field_validation_of(w->req);
    sc_walk walk = {.unknown = fv == TS_FV_IGNORE ? NULL : json_array(), .causes = json_array()};
    int rc = 0;
    if ((fv != TS_FV_IGNORE && !walk.unknown) || !walk.causes) {
        rc = KR_ENOMEM;
        goto out;
    }
    bool is_patch = strcmp(w->req->method, "PATCH") == 0;
    json_t *before = fv == TS_FV_STRICT && is_patch ? json_deep_copy(obj) : NULL;
    bool typed = prune_unknown(res, obj, true, &walk);
    if (walk.oom || (fv == TS_FV_STRICT && is_patch && !before)) {
        json_decref(before);
        rc = KR_ENOMEM;
        goto out;
    }
    /* the decoder's errors, unless ts_schema_strict met them already */
    json_t *errs = fv == TS_FV_IGNORE || w->strict_done ? NULL : strict_errors(w, walk.unknown);
    if (fv != TS_FV_IGNORE && !w->strict_done && !errs)
        rc = KR_ENOMEM;
    else if (json_array_size(errs) > 0 && fv == TS_FV_STRICT)
        rc = respond_strict(w, before, errs, resp);
    else
        warn_strict(errs, resp);
    json_decref(before);
    json_decref(errs);
    if (rc != 0)
        goto out;
    if (!typed || !res->schema)
        goto out; /* built-in kinds: their defaults and validation are elsewhere */
    prune_nulls(obj, res->schema);
    if (apply_defaults(obj, res->schema) != 0) {
        rc = KR_ENOMEM;
        goto out;
    }
    pop(&walk, 0);
    validate(obj, res->schema, &walk);
    validate_scale_spec(obj, res, &walk);
    if (walk.oom) {
        rc = KR_ENOMEM;
    } else if (json_array_size(walk.causes) > 0) {
        /* the custom resource validator's list: ValidateObjectMetaAccessor's
         * errors, then the schema's */
        json_t *all = meta ? json_copy((json_t *)meta) : json_incref(walk.causes);
        if (all && meta)
            json_array_extend(all, walk.causes);
        ts_respond_invalid_causes(resp, res->kind, res->group, ts_meta_str(obj, "name"),
                                  all ? all : walk.causes);
        json_decref(all);
        rc = KR_EINVALIDOBJ;
    }
out:
    json_decref(walk.unknown);
    json_decref(walk.causes);
    kr_buf_free(&walk.path);
    if (rc == KR_ENOMEM)
        respond_oom(resp);
    return rc;
}
