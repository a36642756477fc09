/* libkreconcile-testserver — a built-in object decoded into its Go type, as
 * kube-apiserver decodes every body and every patch's result before it
 * looks at anything else: a value of the wrong JSON type (a number where
 * the Go field is a string, an object where it is a slice, ...), an integer
 * out of its Go type's range, or bad base64 in a []byte field fails the
 * request with the error Go's decoder gives. Two decoders, as the server has
 * them: encoding/json (bodies, JSON and merge patches' results: the first
 * error in document order, with the field's path) and apimachinery's
 * unstructured converter (the result of a strategic merge patch or a
 * server-side apply: the first error in the type's field order, without a
 * path; here the tables' order, by field number). Both store what Go
 * stores where it differs from what was sent (a null element's zero value,
 * a converted integer). Server-side apply configurations are also typed as
 * structured-merge-diff types them (every error, with a path).
 *
 * The Go types come from the protobuf tables, which know a field's kind but
 * not its Go name: a named type (v1.RestartPolicy, v1.ResourceList) is
 * reported as its underlying type (string, map[string]resource.Quantity).
 * Values of types with their own JSON decoding (times, durations,
 * quantities, int-or-string, raw JSON) are not checked here. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "testserver/ts_internal.h"
#include "testserver/ts_proto.h"

const ts_pb_field *ts_pb_json_field(const ts_pb_message *m, const char *key)
{
    for (unsigned i = 0; i < m->nfields; i++) {
        const ts_pb_field *f = &m->fields[i];
        if ((f->flags & TS_PBF_INLINE) && f->ref) {
            const ts_pb_field *in = ts_pb_json_field(f->ref, key);
            if (in)
                return in;
        } else if (strcmp(f->name, key) == 0) {
            return f;
        }
    }
    return NULL;
}

typedef struct gt_walk {
    kr_buf fields; /* encoding/json's field stack: "spec.containers.ports" */
    kr_buf err; /* the first error; empty while there is none */
    bool oom;
    /* the JSON text the object was parsed from, or NULL */
    const char *text;
    size_t text_len;
    const json_t *root;
} gt_walk;

static bool failed(const gt_walk *w)
{
    return w->err.len > 0 || w->oom;
}

static void check(gt_walk *w, int rc)
{
    if (rc != 0)
        w->oom = true;
}

/* ---- Go's names ------------------------------------------------------------------------ */

/* A message's Go type as reflect prints it: "v1.PodSpec" for
 * k8s.io.api.core.v1.PodSpec; `bare`: the name alone ("PodSpec"). */
static void go_struct(kr_buf *b, const ts_pb_message *m, bool bare)
{
    const char *name = strrchr(m->name, '.');
    name = name ? name + 1 : m->name;
    if (!bare && name > m->name + 1) {
        const char *pkg = name - 1;
        while (pkg > m->name && pkg[-1] != '.')
            pkg--;
        kr_buf_append(b, pkg, (size_t)(name - pkg));
    }
    kr_buf_append_str(b, name);
}

static const char *go_scalar(unsigned type)
{
    switch (type) {
    case TS_PB_STRING:
        return "string";
    case TS_PB_BYTES:
        return "[]uint8";
    case TS_PB_BOOL:
        return "bool";
    case TS_PB_INT32:
    case TS_PB_SINT32:
    case TS_PB_SFIXED32:
        return "int32";
    case TS_PB_INT64:
    case TS_PB_SINT64:
    case TS_PB_SFIXED64:
        return "int64";
    case TS_PB_UINT32:
    case TS_PB_FIXED32:
        return "uint32";
    case TS_PB_UINT64:
    case TS_PB_FIXED64:
        return "uint64";
    case TS_PB_FLOAT:
        return "float32";
    default:
        return "float64";
    }
}

static void go_type(kr_buf *b, unsigned type, const ts_pb_message *ref)
{
    if (type == TS_PB_MESSAGE && ref)
        go_struct(b, ref, false);
    else
        kr_buf_append_str(b, go_scalar(type));
}

static void go_field_type(kr_buf *b, const ts_pb_field *f)
{
    if (f->flags & TS_PBF_MAP)
        kr_buf_printf(b, "map[%s]", go_scalar(f->key_type));
    else if (f->flags & TS_PBF_REPEATED)
        kr_buf_append_str(b, "[]");
    go_type(b, f->type, f->ref);
}

/* ---- Go's base64 ------------------------------------------------------------------------ */

/* A []byte field's string through base64.StdEncoding.Decode: -1 when it
 * decodes, else the offset its CorruptInputError names. */
static long base64_error(gt_walk *w, const json_t *v)
{
    char *bytes = NULL;
    size_t len, bad = 0;
    int rc =
        kr_base64_decode(json_string_value(v), json_string_length(v), false, &bytes, &len, &bad);
    kr_free(bytes);
    check(w, rc == KR_ENOMEM ? -1 : 0);
    return rc == KR_EPARSE ? (long)bad : -1;
}

/* ---- integers and nulls ------------------------------------------------------------------ */

/* An integer of Go type `type` within its range, as strconv.ParseInt and
 * ParseUint read it for encoding/json; a float never is one ("number
 * 80.0"). */
static bool fits(const json_t *v, unsigned type)
{
    if (!json_is_integer(v))
        return false;
    json_int_t i = json_integer_value(v);
    switch (type) {
    case TS_PB_INT32:
    case TS_PB_SINT32:
    case TS_PB_SFIXED32:
        return i >= INT32_MIN && i <= INT32_MAX;
    case TS_PB_UINT32:
    case TS_PB_FIXED32:
        return i >= 0 && i <= (json_int_t)UINT32_MAX;
    case TS_PB_UINT64:
    case TS_PB_FIXED64:
        return i >= 0;
    default:
        return true;
    }
}

/* What the unstructured converter stores for an integer or a whole float
 * in an integer field: reflect's Convert, which wraps to the Go type's
 * width (3000000000 in an int32 is -1294967296). A new integer, or NULL
 * when the value stays as it is. */
static json_t *converted(gt_walk *w, const json_t *v, unsigned type)
{
    json_int_t i;
    if (json_is_integer(v)) {
        i = json_integer_value(v);
    } else {
        double d = json_real_value(v);
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return NULL; /* Go's result is the platform's; kept */
        i = (json_int_t)d;
    }
    json_int_t to = i;
    switch (type) {
    case TS_PB_INT32:
    case TS_PB_SINT32:
    case TS_PB_SFIXED32: {
        uint32_t u = (uint32_t)(uint64_t)i;
        to = u <= INT32_MAX ? (json_int_t)u : (json_int_t)u - 4294967296LL;
        break;
    }
    case TS_PB_UINT32:
    case TS_PB_FIXED32:
        to = (json_int_t)(uint32_t)(uint64_t)i;
        break;
    default:
        break; /* int64; a negative uint64 has no JSON integer here */
    }
    if (json_is_integer(v) && to == i)
        return NULL;
    json_t *out = json_integer(to);
    check(w, out ? 0 : -1);
    return out;
}

/* A null element of a slice or map is its Go type's zero value, as both
 * decoders store it ("" in a map[string]string); NULL to keep null (a
 * []byte is nil, a struct would be all zero fields). */
static json_t *zero_element(gt_walk *w, unsigned type)
{
    json_t *zero = NULL;
    switch (type) {
    case TS_PB_MESSAGE:
    case TS_PB_BYTES:
        return NULL;
    case TS_PB_STRING:
        zero = json_string("");
        break;
    case TS_PB_BOOL:
        zero = json_false();
        break;
    default:
        zero = json_integer(0);
        break;
    }
    check(w, zero ? 0 : -1);
    return zero;
}

/* ---- encoding/json ------------------------------------------------------------------------ */

/* A value's entry in a table of names by json_type. */
static const char *kind_of(const char *const *names, const json_t *v)
{
    return v ? names[json_typeof(v)] : "nil";
}

/* encoding/json's word for a JSON value's kind, by json_type. */
static const char *const json_kinds[] = {
    [JSON_OBJECT] = "object",  [JSON_ARRAY] = "array", [JSON_STRING] = "string",
    [JSON_INTEGER] = "number", [JSON_REAL] = "number", [JSON_TRUE] = "bool",
    [JSON_FALSE] = "bool",     [JSON_NULL] = "null",
};

/* The text at s[*i] of the JSON value `node` (parsed from it, keys in
 * structure): whether it holds `v`, *at and *len then its number's text.
 * False when the two part ways. */
static bool literal_of(const char *s, size_t n, size_t *i, const json_t *node, const json_t *v,
                       int depth, const char **at, size_t *len)
{
    while (*i < n && s[*i] && strchr(" \t\r\n", s[*i]))
        (*i)++;
    if (*i >= n || !node || depth > 512)
        return false;
    char c = s[*i];
    if (c == '"') {
        for ((*i)++; *i < n && s[*i] != '"'; (*i)++)
            if (s[*i] == '\\')
                (*i)++;
        (*i)++;
        return false;
    }
    if (c != '{' && c != '[') {
        size_t start = *i;
        while (*i < n && s[*i] && !strchr(",]} \t\r\n", s[*i]))
            (*i)++;
        if (node != v)
            return false;
        *at = s + start;
        *len = *i - start;
        return true;
    }
    if ((c == '{') != json_is_object(node) || (c == '[') != json_is_array(node))
        return false;
    (*i)++;
    for (size_t idx = 0;; idx++) {
        while (*i < n && s[*i] && strchr(" \t\r\n,", s[*i]))
            (*i)++;
        if (*i >= n)
            return false;
        if (s[*i] == '}' || s[*i] == ']') {
            (*i)++; /* past its end, for the value after it */
            return false;
        }
        const json_t *child;
        if (c == '{') {
            if (s[*i] != '"')
                return false;
            size_t key = ++*i; /* a key with an escape is given up on */
            while (*i < n && s[*i] != '"' && s[*i] != '\\')
                (*i)++;
            if (*i >= n || s[*i] != '"')
                return false;
            child = json_object_getn(node, s + key, *i - key);
            while (*i < n && s[*i] != ':')
                (*i)++;
            (*i)++;
        } else {
            child = json_array_get(node, idx);
        }
        if (!child)
            return false;
        if (literal_of(s, n, i, child, v, depth + 1, at, len))
            return true;
    }
}

/* A number as its JSON text read: the text itself when the walk has it,
 * else its most likely form: 80.0 for a whole float within int64, else as
 * encoding/json writes it (an integer beyond int64, read as a float, as
 * kubectl sends it again: 100000000000000000000). */
static void number_literal(const gt_walk *w, kr_buf *b, const json_t *v)
{
    const char *at = NULL;
    size_t len = 0, i = 0;
    if (w->text && literal_of(w->text, w->text_len, &i, w->root, v, 0, &at, &len)) {
        kr_buf_append(b, at, len);
        return;
    }
    double d = json_number_value(v);
    if (json_is_real(v) && d == floor(d) && fabs(d) < 9223372036854775808.0)
        kr_buf_printf(b, "%.1f", d);
    else
        ts_json_number(b, v);
}

/* An UnmarshalTypeError: "json: cannot unmarshal <value> into Go struct
 * field <Struct>.<field stack> of type <type>"; `in` is the struct the
 * field was met in, `f` the field, or NULL when the type is the scalar
 * `type` of an element. */
static void type_error(gt_walk *w, const json_t *v, bool with_literal, const ts_pb_message *in,
                       const ts_pb_field *f, unsigned type, const ts_pb_message *ref)
{
    if (failed(w))
        return; /* encoding/json keeps the first */
    kr_buf_printf(&w->err, "json: cannot unmarshal %s", kind_of(json_kinds, v));
    if (with_literal) {
        kr_buf_append_str(&w->err, " ");
        number_literal(w, &w->err, v);
    }
    kr_buf_append_str(&w->err, " into Go struct field ");
    go_struct(&w->err, in, true);
    kr_buf_printf(&w->err, ".%s of type ", w->fields.data ? w->fields.data : "");
    if (f)
        go_field_type(&w->err, f);
    else
        go_type(&w->err, type, ref);
    check(w, w->err.data ? 0 : -1);
}

static void json_message(gt_walk *w, json_t *x, const ts_pb_message *m);

/* One value of Go type `type`: a field's, or an `element` of a slice or
 * map. Returns what Go stores in its place (a null element's zero value;
 * for the converter, an integer converted), or NULL to keep it. */
static json_t *json_elem(gt_walk *w, json_t *v, const ts_pb_message *in, unsigned type,
                         const ts_pb_message *ref, bool element);

static void json_items(gt_walk *w, json_t *list, const ts_pb_message *in, unsigned type,
                       const ts_pb_message *ref)
{
    for (size_t i = 0; i < json_array_size(list) && !failed(w); i++) {
        json_t *stored = json_elem(w, json_array_get(list, i), in, type, ref, true);
        if (stored)
            check(w, json_array_set_new(list, i, stored));
    }
}

static json_t *json_elem(gt_walk *w, json_t *v, const ts_pb_message *in, unsigned type,
                         const ts_pb_message *ref, bool element)
{
    if (failed(w))
        return NULL;
    if (json_is_null(v)) /* null leaves any Go value at its zero value */
        return element ? zero_element(w, type) : NULL;
    switch (type) {
    case TS_PB_MESSAGE:
        if (!ref)
            return NULL;
        if (ref->json == TS_PBJ_PLAIN) {
            if (!json_is_object(v))
                type_error(w, v, false, in, NULL, type, ref);
            else
                json_message(w, v, ref);
        } else if (ref->json == TS_PBJ_ALIAS_LIST && ref->nfields > 0) {
            if (!json_is_array(v))
                type_error(w, v, false, in, NULL, type, ref);
            else
                json_items(w, v, in, ref->fields[0].type, ref->fields[0].ref);
        }
        return NULL; /* the others decode themselves */
    case TS_PB_STRING:
        if (!json_is_string(v))
            type_error(w, v, false, in, NULL, type, ref);
        return NULL;
    case TS_PB_BYTES:
        if (json_is_string(v)) {
            long at = base64_error(w, v);
            if (at >= 0)
                check(w, kr_buf_printf(&w->err, "illegal base64 data at input byte %ld", at));
        } else if (!json_is_array(v)) { /* an array decodes byte by byte */
            type_error(w, v, false, in, NULL, type, ref);
        }
        return NULL;
    case TS_PB_BOOL:
        if (!json_is_boolean(v))
            type_error(w, v, false, in, NULL, type, ref);
        return NULL;
    case TS_PB_DOUBLE:
    case TS_PB_FLOAT:
        if (!json_is_number(v))
            type_error(w, v, false, in, NULL, type, ref);
        return NULL;
    default:
        if (!json_is_number(v))
            type_error(w, v, false, in, NULL, type, ref);
        else if (!fits(v, type))
            type_error(w, v, true, in, NULL, type, ref);
        return NULL;
    }
}

static json_t *json_field(gt_walk *w, json_t *v, const ts_pb_message *in, const ts_pb_field *f)
{
    if (json_is_null(v) || failed(w))
        return NULL;
    if (f->flags & TS_PBF_MAP) {
        if (!json_is_object(v)) {
            type_error(w, v, false, in, f, 0, NULL);
            return NULL;
        }
        const char *k;
        json_t *item;
        json_object_foreach(v, k, item)
        {
            json_t *stored = json_elem(w, item, in, f->type, f->ref, true);
            if (stored)
                check(w, json_object_set_new(v, k, stored));
        }
    } else if (f->flags & TS_PBF_REPEATED) {
        if (!json_is_array(v))
            type_error(w, v, false, in, f, 0, NULL);
        else
            json_items(w, v, in, f->type, f->ref);
    } else {
        return json_elem(w, v, in, f->type, f->ref, false);
    }
    return NULL;
}

static void json_message(gt_walk *w, json_t *x, const ts_pb_message *m)
{
    const char *k;
    json_t *v;
    json_object_foreach(x, k, v)
    {
        const ts_pb_field *f = ts_pb_json_field(m, k);
        if (!f)
            continue; /* unknown: pruned, or a strict decoding error */
        size_t mark = w->fields.len;
        check(w, kr_buf_printf(&w->fields, "%s%s", mark ? "." : "", k));
        json_t *stored = json_field(w, v, m, f);
        if (stored)
            check(w, json_object_set_new(x, k, stored));
        kr_buf_truncate(&w->fields, mark);
        if (failed(w))
            return;
    }
}

/* ---- the unstructured converter --------------------------------------------------------- */

/* reflect's Kind of a value decoded into map[string]interface{}, by
 * json_type. */
static const char *const uns_kinds[] = {
    [JSON_OBJECT] = "map",    [JSON_ARRAY] = "slice",  [JSON_STRING] = "string",
    [JSON_INTEGER] = "int64", [JSON_REAL] = "float64", [JSON_TRUE] = "bool",
    [JSON_FALSE] = "bool",    [JSON_NULL] = "invalid",
};

/* The converter's errors: `what` then a type or kind. */
static void uns_error(gt_walk *w, const char *what, const char *type)
{
    if (!failed(w))
        check(w, kr_buf_printf(&w->err, "%s%s", what, type));
}

static void uns_message(gt_walk *w, json_t *x, const ts_pb_message *m);

static json_t *uns_elem(gt_walk *w, json_t *v, unsigned type, const ts_pb_message *ref,
                        bool element);

static void uns_items(gt_walk *w, json_t *list, unsigned type, const ts_pb_message *ref)
{
    for (size_t i = 0; i < json_array_size(list) && !failed(w); i++) {
        json_t *stored = uns_elem(w, json_array_get(list, i), type, ref, true);
        if (stored)
            check(w, json_array_set_new(list, i, stored));
    }
}

static json_t *uns_elem(gt_walk *w, json_t *v, unsigned type, const ts_pb_message *ref,
                        bool element)
{
    if (failed(w))
        return NULL;
    if (json_is_null(v))
        return element ? zero_element(w, type) : NULL;
    switch (type) {
    case TS_PB_MESSAGE:
        if (ref && ref->json == TS_PBJ_PLAIN) {
            if (!json_is_object(v))
                uns_error(w, "cannot restore struct from: ", kind_of(uns_kinds, v));
            else
                uns_message(w, v, ref);
        } else if (ref && ref->json == TS_PBJ_ALIAS_LIST && ref->nfields > 0) {
            if (!json_is_array(v))
                uns_error(w, "cannot restore slice from ", kind_of(uns_kinds, v));
            else
                uns_items(w, v, ref->fields[0].type, ref->fields[0].ref);
        }
        return NULL;
    case TS_PB_BYTES:
        if (json_is_string(v)) {
            long at = base64_error(w, v);
            if (at >= 0 && !failed(w))
                check(w, kr_buf_printf(&w->err,
                                       "error decoding from json: illegal base64 data at "
                                       "input byte %ld",
                                       at));
        } else if (!json_is_array(v)) {
            uns_error(w, "cannot restore slice from ", kind_of(uns_kinds, v));
        }
        return NULL;
    case TS_PB_STRING:
        if (json_is_integer(v))
            uns_error(w, "cannot convert int64 to ", "string");
        else if (!json_is_string(v))
            uns_error(w, "unrecognized type: ", "string");
        return NULL;
    case TS_PB_BOOL:
        if (!json_is_boolean(v))
            uns_error(w, "unrecognized type: ", "bool");
        return NULL;
    case TS_PB_DOUBLE:
    case TS_PB_FLOAT:
        if (!json_is_number(v))
            uns_error(w, "unrecognized type: ", go_scalar(type));
        return NULL;
    default: /* integers: converted without a range check */
        if (!json_is_number(v))
            uns_error(w, "unrecognized type: ", go_scalar(type));
        else if (json_is_real(v) && json_real_value(v) != floor(json_real_value(v)))
            uns_error(w, "cannot convert float64 to ", go_scalar(type));
        else
            return converted(w, v, type);
        return NULL;
    }
}

static json_t *uns_field(gt_walk *w, json_t *v, const ts_pb_field *f)
{
    if (json_is_null(v) || failed(w))
        return NULL;
    if (f->flags & TS_PBF_MAP) {
        if (!json_is_object(v)) {
            uns_error(w, "cannot restore map from ", kind_of(uns_kinds, v));
            return NULL;
        }
        const char *k;
        json_t *item;
        json_object_foreach(v, k, item)
        {
            json_t *stored = uns_elem(w, item, f->type, f->ref, true);
            if (stored)
                check(w, json_object_set_new(v, k, stored));
        }
    } else if (f->flags & TS_PBF_REPEATED) {
        if (!json_is_array(v))
            uns_error(w, "cannot restore slice from ", kind_of(uns_kinds, v));
        else
            uns_items(w, v, f->type, f->ref);
    } else {
        return uns_elem(w, v, f->type, f->ref, false);
    }
    return NULL;
}

/* The Go struct's fields in turn; an embedded struct reads the same map. */
static void uns_message(gt_walk *w, json_t *x, const ts_pb_message *m)
{
    for (unsigned i = 0; i < m->nfields && !failed(w); i++) {
        const ts_pb_field *f = &m->fields[i];
        if ((f->flags & TS_PBF_INLINE) && f->ref) {
            uns_message(w, x, f->ref);
            continue;
        }
        json_t *v = json_object_get(x, f->name);
        json_t *stored = v ? uns_field(w, v, f) : NULL;
        if (stored)
            check(w, json_object_set_new(x, f->name, stored));
    }
}

/* ---- structured-merge-diff (server-side apply) ------------------------------------------ */

/* reflect's name of a decoded value's type (%T). */
static const char *const smd_types[] = {
    [JSON_OBJECT] = "map[string]interface {}",
    [JSON_ARRAY] = "[]interface {}",
    [JSON_STRING] = "string",
    [JSON_INTEGER] = "int64",
    [JSON_REAL] = "float64",
    [JSON_TRUE] = "bool",
    [JSON_FALSE] = "bool",
    [JSON_NULL] = "<nil>",
};

typedef struct smd_walk {
    kr_buf path; /* ".spec.containers[0].name" */
    json_t *errors;
    bool oom;
} smd_walk;

/* One ValidationError: "<path>: <what><value as `how` prints it>", the
 * value being a *value.valueUnstructured: %v "&{1}", %#v
 * "&value.valueUnstructured{Value:1}", or %T of the value inside. */
static void smd_error(smd_walk *w, const char *what, char how, const json_t *v)
{
    kr_buf b = {0};
    kr_buf_printf(&b, "%s: %s", w->path.data ? w->path.data : "", what);
    if (how == 'v') {
        kr_buf_append_str(&b, "&{");
        ts_go_print(&b, v);
        kr_buf_append_str(&b, "}");
    } else if (how == '#') {
        kr_buf_append_str(&b, "&value.valueUnstructured{Value:");
        ts_go_format(&b, v, true);
        kr_buf_append_str(&b, "}");
    } else {
        kr_buf_append_str(&b, kind_of(smd_types, v));
    }
    if (!b.data || json_array_append_new(w->errors, json_string(b.data)) != 0)
        w->oom = true;
    kr_buf_free(&b);
}

static size_t smd_push(smd_walk *w, const char *key, size_t index)
{
    size_t mark = w->path.len;
    int rc = key ? kr_buf_printf(&w->path, ".%s", key) : kr_buf_printf(&w->path, "[%zu]", index);
    if (rc != 0)
        w->oom = true;
    return mark;
}

static void smd_struct(smd_walk *w, const json_t *x, const ts_pb_message *m);
static void smd_field(smd_walk *w, const json_t *v, unsigned flags, unsigned type,
                      const ts_pb_message *ref);

static void smd_value(smd_walk *w, const json_t *v, unsigned type, const ts_pb_message *ref)
{
    if (json_is_null(v))
        return;
    switch (type) {
    case TS_PB_MESSAGE:
        if (ref && ref->json == TS_PBJ_PLAIN) {
            if (!json_is_object(v))
                smd_error(w, "expected map, got ", 'v', v);
            else
                smd_struct(w, v, ref);
        } else if (ref && ref->json == TS_PBJ_ALIAS_LIST && ref->nfields > 0) {
            smd_field(w, v, TS_PBF_REPEATED, ref->fields[0].type, ref->fields[0].ref);
        }
        return; /* the others are untyped scalars or strings of their own */
    case TS_PB_STRING:
    case TS_PB_BYTES:
        if (!json_is_string(v))
            smd_error(w, "expected string, got ", '#', v);
        return;
    case TS_PB_BOOL:
        if (!json_is_boolean(v))
            smd_error(w, "expected boolean, got ", 'v', v);
        return;
    default:
        if (!json_is_number(v))
            smd_error(w, "expected numeric (int or float), got ", 'T', v);
        return;
    }
}

static void smd_field(smd_walk *w, const json_t *v, unsigned flags, unsigned type,
                      const ts_pb_message *ref)
{
    if (json_is_null(v))
        return;
    if (flags & TS_PBF_MAP) {
        if (!json_is_object(v)) {
            smd_error(w, "expected map, got ", 'v', v);
            return;
        }
        const char *k;
        json_t *item;
        json_object_foreach((json_t *)v, k, item)
        {
            size_t mark = smd_push(w, k, 0);
            smd_value(w, item, type, ref);
            kr_buf_truncate(&w->path, mark);
        }
    } else if (flags & TS_PBF_REPEATED) {
        if (!json_is_array(v)) {
            smd_error(w, "expected list, got ", 'v', v);
            return;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t mark = smd_push(w, NULL, i);
            smd_value(w, json_array_get(v, i), type, ref);
            kr_buf_truncate(&w->path, mark);
        }
    } else {
        smd_value(w, v, type, ref);
    }
}

static void smd_struct(smd_walk *w, const json_t *x, const ts_pb_message *m)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)x, k, v)
    {
        const ts_pb_field *f = ts_pb_json_field(m, k);
        if (!f)
            continue; /* "field not declared in schema": the caller's */
        size_t mark = smd_push(w, k, 0);
        smd_field(w, v, f->flags, f->type, f->ref);
        kr_buf_truncate(&w->path, mark);
    }
}

int ts_go_apply_errors(const json_t *config, const ts_pb_message *m, json_t *errors)
{
    smd_walk w = {.errors = errors};
    smd_struct(&w, config, m);
    kr_buf_free(&w.path);
    return w.oom ? KR_ENOMEM : 0;
}

/* ---- entry ------------------------------------------------------------------------------- */

/* Whether `v` is an empty JSON object or array. */
static bool empty_container(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

/* What encoding/json writes back of the decoded Go value: an omitempty
 * map or slice (named slice types included) that is empty is left out
 * (`labels: {}`, `data: {}`, `finalizers: []`), in every nested struct. */
static void omit_empty(json_t *x, const ts_pb_message *m)
{
    if (!json_is_object(x) || !m || m->json != TS_PBJ_PLAIN)
        return;
    for (unsigned i = 0; i < m->nfields; i++) {
        const ts_pb_field *f = &m->fields[i];
        if ((f->flags & TS_PBF_INLINE) && f->ref) {
            omit_empty(x, f->ref);
            continue;
        }
        json_t *v = json_object_get(x, f->name);
        if (!v)
            continue;
        bool slice = (f->flags & (TS_PBF_MAP | TS_PBF_REPEATED)) ||
                     (f->type == TS_PB_MESSAGE && f->ref && f->ref->json == TS_PBJ_ALIAS_LIST);
        if (slice && (f->flags & TS_PBF_OMITEMPTY) && empty_container(v)) {
            json_object_del(x, f->name);
            continue;
        }
        if (f->type != TS_PB_MESSAGE || !f->ref)
            continue;
        if (f->flags & TS_PBF_MAP) {
            const char *k;
            json_t *item;
            json_object_foreach(v, k, item) omit_empty(item, f->ref);
        } else if (f->flags & TS_PBF_REPEATED) {
            size_t j;
            json_t *item;
            json_array_foreach(v, j, item) omit_empty(item, f->ref);
        } else {
            omit_empty(v, f->ref);
        }
    }
}

static int go_decode(gt_walk *wp, json_t *obj, const ts_pb_message *m, ts_go_decoder how,
                     char **err);

int ts_go_decode(json_t *obj, const ts_pb_message *m, ts_go_decoder how, char **err)
{
    gt_walk w = {0};
    return go_decode(&w, obj, m, how, err);
}

int ts_go_decode_text(json_t *obj, const ts_pb_message *m, const char *text, size_t len, char **err)
{
    gt_walk w = {.text = text, .text_len = len, .root = obj};
    return go_decode(&w, obj, m, TS_GO_JSON, err);
}

static int go_decode(gt_walk *wp, json_t *obj, const ts_pb_message *m, ts_go_decoder how,
                     char **err)
{
    gt_walk w = *wp;
    *err = NULL;
    if (how == TS_GO_JSON)
        json_message(&w, obj, m);
    else
        uns_message(&w, obj, m);
    kr_buf_free(&w.fields);
    if (w.oom) {
        kr_buf_free(&w.err);
        return KR_ENOMEM;
    }
    *err = w.err.data; /* NULL: it decodes */
    if (!*err)
        omit_empty(obj, m);
    return 0;
}

void ts_go_fill_top(json_t *obj, const ts_pb_message *m)
{
    if (!json_is_object(obj) || !m || m->json != TS_PBJ_PLAIN)
        return;
    for (unsigned i = 0; i < m->nfields; i++) {
        const ts_pb_field *f = &m->fields[i];
        if (f->flags & TS_PBF_INLINE) {
            if (f->ref)
                ts_go_fill_top(obj, f->ref); /* embedded: its fields are ours */
            continue;
        }
        if (json_object_get(obj, f->name))
            continue;
        json_t *zero = ts_pb_zero_field(f);
        if (zero)
            json_object_set_new(obj, f->name, zero);
    }
}
