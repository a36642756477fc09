/* libkreconcile-testserver — the protobuf schema of the Kubernetes built-in
 * kinds (generated at build time from data/k8s-proto-schema.json, with the
 * patch strategies of data/k8s-patch-metadata.json) and the
 * decoder of Kubernetes protobuf request bodies into the JSON objects the
 * server stores. Never installed. */
#ifndef KR_TS_PROTO_H
#define KR_TS_PROTO_H

#include <jansson.h>
#include <stddef.h>

/* Scalar types of the .proto files; TS_PB_MESSAGE refers to a message. */
enum {
    TS_PB_MESSAGE,
    TS_PB_STRING,
    TS_PB_BYTES,
    TS_PB_BOOL,
    TS_PB_INT32,
    TS_PB_INT64,
    TS_PB_UINT32,
    TS_PB_UINT64,
    TS_PB_SINT32,
    TS_PB_SINT64,
    TS_PB_FIXED32,
    TS_PB_FIXED64,
    TS_PB_SFIXED32,
    TS_PB_SFIXED64,
    TS_PB_DOUBLE,
    TS_PB_FLOAT,
};

/* Field flags: the .proto's `repeated` and `map<,>`, and the Go facts the
 * JSON encoding depends on (omitempty, a pointer, an embedded struct). */
enum {
    TS_PBF_REPEATED = 1,
    TS_PBF_MAP = 2,
    TS_PBF_OMITEMPTY = 4,
    TS_PBF_POINTER = 8,
    TS_PBF_INLINE = 16,
};

/* How a message's Go type marshals to JSON. */
enum {
    TS_PBJ_PLAIN, /* an object of its fields */
    TS_PBJ_TIME, /* metav1.Time: RFC 3339 seconds, or null */
    TS_PBJ_MICROTIME, /* metav1.MicroTime: RFC 3339 microseconds, or null */
    TS_PBJ_DURATION, /* metav1.Duration: Go's duration text */
    TS_PBJ_RAWJSON, /* RawExtension, FieldsV1: the bytes are JSON */
    TS_PBJ_INTORSTRING, /* intstr.IntOrString: a number or a string */
    TS_PBJ_QUANTITY, /* resource.Quantity: its string */
    TS_PBJ_ALIAS_LIST, /* a named slice type: the value of its one field */
};

struct ts_pb_message;

typedef struct ts_pb_field {
    unsigned number;
    const char *name;
    unsigned char type; /* of the value for maps */
    unsigned char key_type; /* maps only */
    unsigned short flags;
    const struct ts_pb_message *ref; /* TS_PB_MESSAGE */
    /* From data/k8s-patch-metadata.json, for the OpenAPI documents: the
     * x-kubernetes-patch-strategy and -merge-key, or NULL. */
    const char *patch_strategy, *patch_merge_key;
} ts_pb_field;

typedef struct ts_pb_message {
    const char *name; /* full protobuf name */
    const ts_pb_field *fields; /* sorted by number */
    unsigned nfields;
    unsigned char json;
} ts_pb_message;

typedef struct ts_pb_kind {
    const char *key; /* "apiVersion/Kind" */
    const ts_pb_message *message;
} ts_pb_kind;

/* The generated tables, kinds sorted by key, messages by name. */
extern const ts_pb_kind ts_pb_kinds[];
extern const size_t ts_pb_nkinds;
extern const ts_pb_message ts_pb_messages[];
extern const size_t ts_pb_nmessages;

/* The message for an apiVersion and kind, or NULL. */
const ts_pb_message *ts_pb_find_kind(const char *api_version, const char *kind);

/* The field of `m` named `key` in JSON, looking into inline (embedded)
 * structs as encoding/json does; NULL for an unknown field. */
const ts_pb_field *ts_pb_json_field(const ts_pb_message *m, const char *key);

/* What encoding/json writes for field `f` of a zero Go value: a struct's
 * zero value (its own fields so written: `{}`, `{"replicas":0}`, a time's
 * null), a scalar's zero unless omitempty, null for a nil pointer, slice or
 * map unless omitempty; NULL when the field is left out (or no memory). */
json_t *ts_pb_zero_field(const ts_pb_field *f);

/* Fill in the top-level fields of built-in object `obj` (m's type) that it
 * lacks as encoding/json writes them for their zero values: a Deployment
 * stored without a status is read back with "status": {}, a StatefulSet
 * with {"replicas": 0, "availableReplicas": 0}, a Service with
 * {"loadBalancer": {}}, a core Event with "eventTime": null and
 * "reportingComponent": "". Nested structs are left as they are.
 * [any thread] */
void ts_go_fill_top(json_t *obj, const ts_pb_message *m);

/* The decoders kube-apiserver runs a built-in object through (gotype.c):
 * encoding/json for bodies and the results of JSON and merge patches; the
 * unstructured converter for the results of strategic merge patches and
 * server-side applies. */
typedef enum { TS_GO_JSON, TS_GO_UNSTRUCTURED } ts_go_decoder;

/* Decode `obj` (an object) into m's Go type as `how` does: 0 with *err
 * NULL when it decodes, or with *err (kr_free it) the decoder's error for a
 * value of the wrong type, out of its type's range or not base64 where the
 * Go type is []byte; KR_ENOMEM. obj gets what Go stores where it differs
 * from what was sent: a null element of a slice or map is its zero value,
 * and the converter's integers are converted (a whole float, a value
 * wrapped to an int32). [any thread] */
int ts_go_decode(json_t *obj, const ts_pb_message *m, ts_go_decoder how, char **err);
/* ts_go_decode of obj parsed from the JSON `text` (and as parsed): a
 * number's error then shows the number as written
 * (`number 1e3`, `number 1.50`), as encoding/json shows its literal.
 * [any thread] */
int ts_go_decode_text(json_t *obj, const ts_pb_message *m, const char *text, size_t len,
                      char **err);

/* A server-side apply configuration against m's type, as
 * structured-merge-diff validates it: each value of the wrong kind appends
 * "<path>: expected string, got &value.valueUnstructured{Value:1}" (or
 * expected numeric, boolean, map, list) to `errors`, in document order;
 * unknown fields are skipped. 0 or KR_ENOMEM. [any thread] */
int ts_go_apply_errors(const json_t *config, const ts_pb_message *m, json_t *errors);

/* Decode a Kubernetes protobuf body: the 4-byte magic "k8s\0" and a
 * runtime.Unknown whose raw bytes encode the object named by its typeMeta.
 * Returns the object as the apiserver's JSON encoding would write it (new),
 * or NULL with a message in `msg` for anything malformed, unknown fields
 * included. Never reads past `len`. [any thread] */
json_t *ts_pb_decode_body(const unsigned char *body, size_t len, char *msg, size_t msgsize);

#endif /* KR_TS_PROTO_H */
