/* libkreconcile-testserver — OpenAPI schemas of the kinds the server serves:
 * custom resources' from their CRDs (v3 documents), built-in kinds' made
 * from the generated protobuf tables (ts_proto.h): property
 * types from generated.proto, the Go JSON forms of the special types, and
 * the patch strategies kubectl reads (x-kubernetes-patch-strategy and
 * -merge-key). Used by the OpenAPI v3 documents (components.schemas) and
 * the v2 document, which kubectl fetches as the gnostic protobuf encoding
 * of OpenAPIv2.proto. Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"
#include "testserver/ts_proto.h"

typedef struct oa_ctx {
    json_t *defs; /* definition name -> schema */
    bool v3;
} oa_ctx;

/* The OpenAPI definition name of a message: io.k8s.X for k8s.io.X. (On
 * the stack: a document makes thousands of them.) */
static const char *def_name(const ts_pb_message *m, char *buf, size_t size)
{
    /* the protobuf package's "kube_aggregator" is the Go module's
     * "kube-aggregator", as kube-apiserver names its definitions */
    if (strncmp(m->name, "k8s.io.kube_aggregator.", 23) == 0)
        snprintf(buf, size, "io.k8s.kube-aggregator.%s", m->name + 23);
    else if (strncmp(m->name, "k8s.io.", 7) == 0)
        snprintf(buf, size, "io.k8s.%s", m->name + 7);
    else
        snprintf(buf, size, "%s", m->name);
    return buf;
}

static void add_definition(oa_ctx *c, const ts_pb_message *m);

/* A reference to the definition of `m` (added when missing). */
static json_t *ref_to(oa_ctx *c, const ts_pb_message *m)
{
    add_definition(c, m);
    char name[512], ref[600];
    snprintf(ref, sizeof(ref), "%s%s", c->v3 ? "#/components/schemas/" : "#/definitions/",
             def_name(m, name, sizeof(name)));
    if (c->v3)
        return json_pack("{s:[{s:s}]}", "allOf", "$ref", ref);
    return json_pack("{s:s}", "$ref", ref);
}

static json_t *scalar_schema(unsigned type)
{
    switch (type) {
    case TS_PB_STRING:
        return json_pack("{s:s}", "type", "string");
    case TS_PB_BYTES:
        return json_pack("{s:s, s:s}", "type", "string", "format", "byte");
    case TS_PB_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case TS_PB_INT32:
    case TS_PB_SINT32:
    case TS_PB_SFIXED32:
    case TS_PB_UINT32:
    case TS_PB_FIXED32:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int32");
    case TS_PB_DOUBLE:
    case TS_PB_FLOAT:
        return json_pack("{s:s, s:s}", "type", "number", "format", "double");
    default:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int64");
    }
}

static json_t *value_schema(oa_ctx *c, unsigned type, const ts_pb_message *ref)
{
    return type == TS_PB_MESSAGE ? ref_to(c, ref) : scalar_schema(type);
}

static json_t *field_schema(oa_ctx *c, const ts_pb_field *f)
{
    json_t *v = value_schema(c, f->type, f->ref);
    if (v && (f->flags & TS_PBF_MAP))
        v = json_pack("{s:s, s:o}", "type", "object", "additionalProperties", v);
    else if (v && (f->flags & TS_PBF_REPEATED))
        v = json_pack("{s:s, s:o}", "type", "array", "items", v);
    if (v && f->patch_strategy)
        json_object_set_new(v, "x-kubernetes-patch-strategy", json_string(f->patch_strategy));
    if (v && f->patch_merge_key)
        json_object_set_new(v, "x-kubernetes-patch-merge-key", json_string(f->patch_merge_key));
    return v;
}

/* The properties of `m` into `props`, embedded (inline) structs flattened. */
static void add_properties(oa_ctx *c, const ts_pb_message *m, json_t *props)
{
    for (unsigned i = 0; i < m->nfields; i++) {
        const ts_pb_field *f = &m->fields[i];
        if ((f->flags & TS_PBF_INLINE) && f->ref) {
            add_properties(c, f->ref, props);
            continue;
        }
        json_t *v = field_schema(c, f);
        if (v)
            json_object_set_new(props, f->name, v);
    }
}

static json_t *special_schema(oa_ctx *c, const ts_pb_message *m)
{
    switch (m->json) {
    case TS_PBJ_TIME:
    case TS_PBJ_MICROTIME:
        return json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
    case TS_PBJ_DURATION:
        return json_pack("{s:s}", "type", "string");
    case TS_PBJ_RAWJSON:
        return json_pack("{s:s}", "type", "object");
    case TS_PBJ_INTORSTRING:
        return json_pack("{s:s, s:s}", "type", "string", "format", "int-or-string");
    case TS_PBJ_QUANTITY:
        return json_pack("{s:s}", "type", "string");
    case TS_PBJ_ALIAS_LIST:
        return json_pack("{s:s, s:o}", "type", "array", "items",
                         value_schema(c, m->fields[0].type, m->fields[0].ref));
    default:
        return NULL;
    }
}

static void add_definition(oa_ctx *c, const ts_pb_message *m)
{
    char name[512];
    if (json_object_get(c->defs, def_name(m, name, sizeof(name))))
        return;
    /* In place before the fields, so that recursion through them ends. */
    json_t *schema = json_object();
    if (!schema || json_object_set_new(c->defs, name, schema) != 0)
        return; /* out of memory: the document lacks it */
    json_t *special = m->json != TS_PBJ_PLAIN ? special_schema(c, m) : NULL;
    if (special) {
        json_object_update(schema, special);
        json_decref(special);
    } else {
        json_t *props = json_object();
        add_properties(c, m, props);
        json_object_set_new(schema, "type", json_string("object"));
        json_object_set_new(schema, "properties", props);
    }
}

/* The definition of a served kind, with apiVersion, kind and the
 * x-kubernetes-group-version-kind that kubectl looks kinds up by. */
static void add_kind(oa_ctx *c, const ts_resource *r)
{
    const ts_pb_message *m = ts_pb_find_kind(r->api_version, r->kind);
    if (!m)
        return; /* custom resources, kinds without a generated schema */
    add_definition(c, m);
    char name[512];
    json_t *schema = json_object_get(c->defs, def_name(m, name, sizeof(name)));
    json_t *props = json_object_get(schema, "properties");
    if (!props)
        return;
    json_object_set_new(props, "apiVersion", json_pack("{s:s}", "type", "string"));
    json_object_set_new(props, "kind", json_pack("{s:s}", "type", "string"));
    json_t *gvks = json_object_get(schema, "x-kubernetes-group-version-kind");
    if (!gvks) {
        gvks = json_array();
        json_object_set_new(schema, "x-kubernetes-group-version-kind", gvks);
    }
    json_array_append_new(gvks, json_pack("{s:s, s:s, s:s}", "group", r->group, "kind", r->kind,
                                          "version", r->version));
}

static const ts_pb_message *find_message(const char *name)
{
    for (size_t i = 0; i < ts_pb_nmessages; i++)
        if (strcmp(ts_pb_messages[i].name, name) == 0)
            return &ts_pb_messages[i];
    return NULL;
}

/* The properties every kind has, with kube-apiserver's descriptions. */
static const char apiversion_doc[] =
    "APIVersion defines the versioned schema of this representation of an object. Servers should "
    "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
    "More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
static const char kind_doc[] =
    "Kind is a string value representing the REST resource this object represents. Servers may "
    "infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#types-kinds";
static const char metadata_doc[] =
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/* A custom resource's definition, as kube-apiserver publishes it: its CRD
 * version's schema named by the reversed group, the version and the kind
 * (io.kreconcile.v1alpha1.Runnable), with apiVersion, kind, metadata (a
 * reference to ObjectMeta) and x-kubernetes-group-version-kind. */
static void add_custom_kind(oa_ctx *c, const ts_resource *r)
{
    kr_buf name = {0};
    const char *g = r->group;
    for (const char *end = g + strlen(g); end > g;) {
        const char *dot = end;
        while (dot > g && dot[-1] != '.')
            dot--;
        kr_buf_printf(&name, "%.*s.", (int)(end - dot), dot);
        end = dot > g ? dot - 1 : g;
    }
    kr_buf_printf(&name, "%s.%s", r->version, r->kind);
    json_t *schema = r->schema ? json_deep_copy(r->schema)
                               : json_pack("{s:s, s:b}", "type", "object",
                                           "x-kubernetes-preserve-unknown-fields", 1);
    json_t *props = json_object_get(schema, "properties");
    if (schema && !json_is_object(props)) {
        props = json_object();
        json_object_set_new(schema, "properties", props);
    }
    const ts_pb_message *meta = find_message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    json_t *md = meta ? ref_to(c, meta) : json_pack("{s:s}", "type", "object");
    if (md)
        json_object_set_new(md, "description", json_string(metadata_doc));
    if (!name.data || !schema || !props || !md) {
        json_decref(md);
        json_decref(schema);
        kr_buf_free(&name);
        return; /* out of memory: the document lacks it */
    }
    json_object_set_new(props, "apiVersion",
                        json_pack("{s:s, s:s}", "description", apiversion_doc, "type", "string"));
    json_object_set_new(props, "kind",
                        json_pack("{s:s, s:s}", "description", kind_doc, "type", "string"));
    json_object_set_new(props, "metadata", md);
    json_object_set_new(
        schema, "x-kubernetes-group-version-kind",
        json_pack("[{s:s, s:s, s:s}]", "group", r->group, "kind", r->kind, "version", r->version));
    json_object_set_new(c->defs, name.data, schema);
    kr_buf_free(&name);
}

json_t *ts_openapi_schemas(kr_testserver_t *ts, const char *group, const char *version, bool v3)
{
    oa_ctx c = {.defs = json_object(), .v3 = v3};
    for (size_t i = 0; c.defs && i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        if (group && (strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0))
            continue;
        if (!r->crd)
            add_kind(&c, r);
        else if (v3 && group) /* the v2 document's encoder knows the built-ins' forms only */
            add_custom_kind(&c, r);
    }
    return c.defs;
}

/* ---- the v2 document as gnostic protobuf ------------------------------------------- */

static int put_varint(kr_buf *b, unsigned long long v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return kr_buf_append(b, tmp, n);
}

static int put_len(kr_buf *b, unsigned field, const void *data, size_t len)
{
    if (put_varint(b, (unsigned long long)field << 3 | 2) != 0 || put_varint(b, len) != 0)
        return KR_ENOMEM;
    return kr_buf_append(b, data, len);
}

static int put_str(kr_buf *b, unsigned field, const char *s)
{
    return put_len(b, field, s, strlen(s));
}

static int put_sub(kr_buf *b, unsigned field, kr_buf *sub)
{
    int rc = put_len(b, field, sub->data ? sub->data : "", sub->len);
    kr_buf_free(sub);
    return rc;
}

static int encode_schema(kr_buf *out, const json_t *schema);

/* NamedSchema {name = 1; value = 2}, as `field` of `out`. */
static int encode_named_schema(kr_buf *out, unsigned field, const char *name, const json_t *s)
{
    kr_buf named = {0}, value = {0};
    int rc = put_str(&named, 1, name);
    if (rc == 0)
        rc = encode_schema(&value, s);
    if (rc == 0)
        rc = put_sub(&named, 2, &value);
    kr_buf_free(&value);
    if (rc == 0)
        return put_sub(out, field, &named);
    kr_buf_free(&named);
    return rc;
}

/* Schema (OpenAPIv2.proto): $ref 1, format 2, additionalProperties 21,
 * type 22, items 23, properties 25, vendor extensions 31 (as YAML text:
 * JSON is YAML). */
static int encode_schema(kr_buf *out, const json_t *schema)
{
    int rc = 0;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)schema, key, v)
    {
        kr_buf sub = {0}, inner = {0};
        if (!strcmp(key, "$ref")) {
            rc = put_str(out, 1, json_string_value(v));
        } else if (!strcmp(key, "format")) {
            rc = put_str(out, 2, json_string_value(v));
        } else if (!strcmp(key, "type")) {
            rc = put_str(&sub, 1, json_string_value(v));
            if (rc == 0)
                rc = put_sub(out, 22, &sub);
        } else if (!strcmp(key, "items") || !strcmp(key, "additionalProperties")) {
            rc = encode_schema(&inner, v);
            if (rc == 0)
                rc = put_sub(&sub, 1, &inner);
            if (rc == 0)
                rc = put_sub(out, !strcmp(key, "items") ? 23 : 21, &sub);
        } else if (!strcmp(key, "properties")) {
            const char *pname;
            const json_t *pv;
            json_object_foreach((json_t *)v, pname, pv)
            {
                if ((rc = encode_named_schema(&sub, 1, pname, pv)) != 0)
                    break;
            }
            if (rc == 0)
                rc = put_sub(out, 25, &sub);
        } else if (!strncmp(key, "x-", 2)) {
            char yaml[2048];
            size_t n = json_dumpb(v, yaml, sizeof(yaml), JSON_COMPACT | JSON_ENCODE_ANY);
            rc = n > 0 && n < sizeof(yaml) ? put_len(&inner, 2, yaml, n) : KR_ENOMEM;
            if (rc == 0)
                rc = put_str(&sub, 1, key);
            if (rc == 0)
                rc = put_sub(&sub, 2, &inner);
            if (rc == 0)
                rc = put_sub(out, 31, &sub);
        }
        kr_buf_free(&sub);
        kr_buf_free(&inner);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int ts_openapi_v2_protobuf(const json_t *defs, char **out, size_t *len)
{
    kr_buf doc = {0}, info = {0}, paths = {0}, list = {0};
    int rc = put_str(&doc, 1, "2.0");
    if (rc == 0)
        rc = put_str(&info, 1, "Kubernetes");
    if (rc == 0)
        rc = put_str(&info, 2, "v1.32.0");
    if (rc == 0)
        rc = put_sub(&doc, 2, &info);
    if (rc == 0)
        rc = put_sub(&doc, 8, &paths);
    const char *name;
    const json_t *s;
    json_object_foreach((json_t *)defs, name, s)
    {
        if (rc == 0)
            rc = encode_named_schema(&list, 1, name, s);
    }
    if (rc == 0)
        rc = put_sub(&doc, 9, &list);
    kr_buf_free(&info);
    kr_buf_free(&paths);
    kr_buf_free(&list);
    if (rc != 0) {
        kr_buf_free(&doc);
        return rc;
    }
    *out = doc.data;
    *len = doc.len;
    return 0;
}
