/* libkreconcile-testserver — Kubernetes protobuf request bodies (the
 * "k8s\0" envelope around runtime.Unknown, wire spec §3.3) decoded into the
 * JSON the apiserver's Go types would marshal to, driven by the generated
 * schema tables (ts_proto.h): field numbers and types from generated.proto,
 * omitempty and pointer-ness from the Go struct tags. Anything the schema
 * does not describe is refused with a message, never guessed. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testserver/ts_internal.h"
#include "testserver/ts_proto.h"

#define PB_MAX_DEPTH 64

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct pb_ctx {
    char *msg;
    size_t msgsize;
    bool failed;
} pb_ctx;

static KR_PRINTF(2, 3) void fail(pb_ctx *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, c->msgsize, fmt, ap);
    va_end(ap);
}

/* ---- the wire ------------------------------------------------------------------ */

typedef struct pb_reader {
    const unsigned char *p, *end;
} pb_reader;

static bool read_varint(pb_reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return false;
        unsigned char b = *r->p++;
        if (shift == 63 && (b & 0x7e))
            return false; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static bool read_fixed(pb_reader *r, unsigned size, uint64_t *out)
{
    if ((size_t)(r->end - r->p) < size)
        return false;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += size;
    *out = v;
    return true;
}

static bool read_len(pb_reader *r, pb_reader *sub)
{
    uint64_t n;
    if (!read_varint(r, &n) || n > (uint64_t)(r->end - r->p))
        return false;
    sub->p = r->p;
    sub->end = r->p + n;
    r->p += n;
    return true;
}

/* ---- scalars ------------------------------------------------------------------- */

static unsigned wire_type_of(unsigned type)
{
    switch (type) {
    case TS_PB_MESSAGE:
    case TS_PB_STRING:
    case TS_PB_BYTES:
        return WT_LEN;
    case TS_PB_FIXED64:
    case TS_PB_SFIXED64:
    case TS_PB_DOUBLE:
        return WT_I64;
    case TS_PB_FIXED32:
    case TS_PB_SFIXED32:
    case TS_PB_FLOAT:
        return WT_I32;
    default:
        return WT_VARINT;
    }
}

static json_t *base64_of(pb_ctx *c, const unsigned char *data, size_t len)
{
    char *text = kr_base64_encode(data, len, false);
    json_t *s = text ? json_string(text) : NULL;
    kr_free(text);
    if (!s)
        fail(c, "out of memory");
    return s;
}

/* A scalar of `type` whose wire value is `raw` (varint or fixed) or `bytes`. */
static json_t *scalar_json(pb_ctx *c, unsigned type, uint64_t raw, const pb_reader *bytes)
{
    json_t *v = NULL;
    switch (type) {
    case TS_PB_STRING:
        v = json_stringn((const char *)bytes->p, (size_t)(bytes->end - bytes->p));
        if (!v)
            fail(c, "a string field is not valid UTF-8");
        return v;
    case TS_PB_BYTES:
        return base64_of(c, bytes->p, (size_t)(bytes->end - bytes->p));
    case TS_PB_BOOL:
        return json_boolean(raw != 0);
    case TS_PB_INT32:
    case TS_PB_SFIXED32:
        return json_integer((int32_t)(uint32_t)raw);
    case TS_PB_UINT32:
    case TS_PB_FIXED32:
        return json_integer((uint32_t)raw);
    case TS_PB_INT64:
    case TS_PB_SFIXED64:
        return json_integer((json_int_t)(int64_t)raw);
    case TS_PB_UINT64:
    case TS_PB_FIXED64:
        if (raw > INT64_MAX) {
            fail(c, "an unsigned 64-bit value out of range");
            return NULL;
        }
        return json_integer((json_int_t)raw);
    case TS_PB_SINT32:
        return json_integer((int32_t)((uint32_t)(raw >> 1) ^ -(uint32_t)(raw & 1)));
    case TS_PB_SINT64:
        return json_integer((json_int_t)(int64_t)((raw >> 1) ^ -(raw & 1)));
    case TS_PB_DOUBLE: {
        double d;
        memcpy(&d, &raw, sizeof(d));
        return json_real(d);
    }
    case TS_PB_FLOAT: {
        uint32_t u = (uint32_t)raw;
        float f;
        memcpy(&f, &u, sizeof(f));
        return json_real(f);
    }
    default:
        fail(c, "unsupported scalar type");
        return NULL;
    }
}

/* Reads one scalar (not packed) of `type` with wire type `wt`. */
static json_t *read_scalar(pb_ctx *c, pb_reader *r, unsigned type, unsigned wt)
{
    uint64_t raw = 0;
    pb_reader bytes = {NULL, NULL};
    bool ok = wt == WT_VARINT ? read_varint(r, &raw)
              : wt == WT_I64  ? read_fixed(r, 8, &raw)
              : wt == WT_I32  ? read_fixed(r, 4, &raw)
                              : read_len(r, &bytes);
    if (!ok) {
        fail(c, "truncated or malformed value");
        return NULL;
    }
    return scalar_json(c, type, raw, &bytes);
}

static bool is_zero(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) == 0;
    case JSON_INTEGER:
        return json_integer_value(v) == 0;
    case JSON_REAL:
        return json_real_value(v) == 0;
    case JSON_FALSE:
    case JSON_NULL:
        return true;
    default:
        return false;
    }
}

/* The JSON of a Go zero value of a scalar type. */
static json_t *zero_scalar(unsigned type)
{
    switch (type) {
    case TS_PB_STRING:
    case TS_PB_BYTES:
        return json_string("");
    case TS_PB_BOOL:
        return json_false();
    case TS_PB_DOUBLE:
    case TS_PB_FLOAT:
        return json_real(0);
    default:
        return json_integer(0);
    }
}

/* ---- messages ---------------------------------------------------------------------- */

static const ts_pb_field *find_field(const ts_pb_message *m, unsigned number)
{
    size_t lo = 0, hi = m->nfields;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->fields[mid].number == number)
            return &m->fields[mid];
        if (m->fields[mid].number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static json_t *decode_message(pb_ctx *c, const ts_pb_message *m, pb_reader r, unsigned depth);

/* Go's time.Duration.String(). */
static json_t *duration_text(int64_t d)
{
    uint64_t u = d < 0 ? -(uint64_t)d : (uint64_t)d;
    if (u < 1000000000ULL) {
        /* Smaller than a second: ns, µs or ms with a fraction. */
        const char *unit;
        unsigned prec;
        if (u == 0)
            return json_string("0s");
        if (u < 1000) {
            unit = "ns";
            prec = 0;
        } else if (u < 1000000) {
            unit = "\xc2\xb5s";
            prec = 3;
        } else {
            unit = "ms";
            prec = 6;
        }
        char out[64];
        uint64_t div = 1;
        for (unsigned i = 0; i < prec; i++)
            div *= 10;
        uint64_t whole = u / div, frac = u % div;
        char fbuf[16] = "";
        if (frac) {
            snprintf(fbuf, sizeof(fbuf), ".%0*" PRIu64, (int)prec, frac);
            size_t n = strlen(fbuf);
            while (n > 1 && fbuf[n - 1] == '0')
                fbuf[--n] = '\0';
        }
        snprintf(out, sizeof(out), "%s%" PRIu64 "%s%s", d < 0 ? "-" : "", whole, fbuf, unit);
        return json_string(out);
    }
    uint64_t secs = u / 1000000000ULL, frac = u % 1000000000ULL;
    char sbuf[40];
    char fbuf[16] = "";
    if (frac) {
        snprintf(fbuf, sizeof(fbuf), ".%09" PRIu64, frac);
        size_t n = strlen(fbuf);
        while (fbuf[n - 1] == '0')
            fbuf[--n] = '\0';
    }
    uint64_t h = secs / 3600, mnt = (secs / 60) % 60, s = secs % 60;
    if (h)
        snprintf(sbuf, sizeof(sbuf), "%" PRIu64 "h%" PRIu64 "m%" PRIu64, h, mnt, s);
    else if (secs >= 60)
        snprintf(sbuf, sizeof(sbuf), "%" PRIu64 "m%" PRIu64, mnt, s);
    else
        snprintf(sbuf, sizeof(sbuf), "%" PRIu64, s);
    char out[80];
    snprintf(out, sizeof(out), "%s%s%ss", d < 0 ? "-" : "", sbuf, fbuf);
    return json_string(out);
}

static json_t *time_text(pb_ctx *c, int64_t seconds, int64_t nanos, bool micro)
{
    if (seconds == 0 && nanos == 0)
        return json_null(); /* the zero time marshals as null */
    time_t t = (time_t)seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999 || nanos < 0 ||
        nanos > 999999999) {
        fail(c, "a timestamp out of range");
        return NULL;
    }
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    if (micro)
        snprintf(buf + n, sizeof(buf) - n, ".%06dZ", (int)(nanos / 1000));
    else
        snprintf(buf + n, sizeof(buf) - n, "Z");
    return json_string(buf);
}

/* The messages whose Go types marshal to JSON in their own way; `plain`
 * is the message decoded as an object of its fields. */
static json_t *special_json(pb_ctx *c, const ts_pb_message *m, json_t *plain)
{
    json_t *out = NULL;
    switch (m->json) {
    case TS_PBJ_TIME:
    case TS_PBJ_MICROTIME:
        out = time_text(c, json_integer_value(json_object_get(plain, "seconds")),
                        json_integer_value(json_object_get(plain, "nanos")),
                        m->json == TS_PBJ_MICROTIME);
        break;
    case TS_PBJ_DURATION:
        out = duration_text(json_integer_value(json_object_get(plain, "duration")));
        break;
    case TS_PBJ_INTORSTRING: {
        json_int_t type = json_integer_value(json_object_get(plain, "type"));
        if (type == 0)
            out = json_integer(json_integer_value(json_object_get(plain, "intVal")));
        else if (type == 1 && json_is_string(json_object_get(plain, "strVal")))
            out = json_copy(json_object_get(plain, "strVal"));
        else if (type == 1)
            out = json_string("");
        else
            fail(c, "an IntOrString of unknown type %lld", (long long)type);
        break;
    }
    case TS_PBJ_QUANTITY: {
        const char *s = json_string_value(json_object_get(plain, "string"));
        out = json_string(s && *s ? s : "0");
        break;
    }
    case TS_PBJ_ALIAS_LIST: {
        json_t *items = json_object_get(plain, m->fields[0].name);
        out = items && !json_is_null(items) ? json_incref(items) : json_null();
        break;
    }
    default:
        out = json_incref(plain);
        break;
    }
    json_decref(plain);
    if (!out && !c->failed)
        fail(c, "out of memory");
    return out;
}

/* Raw JSON bytes (RawExtension, FieldsV1): field 1. */
static json_t *raw_json(pb_ctx *c, const ts_pb_message *m, pb_reader r)
{
    json_t *out = NULL;
    while (r.p < r.end && !c->failed) {
        uint64_t key;
        if (!read_varint(&r, &key)) {
            fail(c, "malformed field key in %s", m->name);
            break;
        }
        pb_reader bytes;
        if ((key >> 3) != 1 || (key & 7) != WT_LEN) {
            fail(c, "unknown field %" PRIu64 " in %s", key >> 3, m->name);
            break;
        }
        if (!read_len(&r, &bytes)) {
            fail(c, "truncated %s", m->name);
            break;
        }
        json_decref(out);
        out = NULL;
        if (bytes.p == bytes.end)
            continue;
        json_error_t jerr;
        out = json_loadb((const char *)bytes.p, (size_t)(bytes.end - bytes.p), JSON_DECODE_ANY,
                         &jerr);
        if (!out)
            fail(c, "%s does not hold JSON: %s", m->name, jerr.text);
    }
    if (c->failed) {
        json_decref(out);
        return NULL;
    }
    return out ? out : json_null();
}

/* Appends the values of a repeated scalar field, packed or not. */
static int read_repeated_scalar(pb_ctx *c, pb_reader *r, const ts_pb_field *f, unsigned wt,
                                json_t *arr)
{
    unsigned want = wire_type_of(f->type);
    if (wt == WT_LEN && want != WT_LEN) {
        pb_reader packed;
        if (!read_len(r, &packed)) {
            fail(c, "truncated packed field %s", f->name);
            return -1;
        }
        while (packed.p < packed.end) {
            json_t *v = read_scalar(c, &packed, f->type, want);
            if (!v || json_array_append_new(arr, v) != 0)
                return -1;
        }
        return 0;
    }
    if (wt != want) {
        fail(c, "field %s has wire type %u, not %u", f->name, wt, want);
        return -1;
    }
    json_t *v = read_scalar(c, r, f->type, wt);
    return v && json_array_append_new(arr, v) == 0 ? 0 : -1;
}

/* The zero value of a non-pointer message field (Go always has one). */
static json_t *zero_message(pb_ctx *c, const ts_pb_message *m, unsigned depth)
{
    pb_reader empty = {(const unsigned char *)"", (const unsigned char *)""};
    return decode_message(c, m, empty, depth + 1);
}

static int read_map_entry(pb_ctx *c, pb_reader *r, const ts_pb_field *f, json_t *obj,
                          unsigned depth)
{
    pb_reader entry;
    if (!read_len(r, &entry)) {
        fail(c, "truncated map entry of %s", f->name);
        return -1;
    }
    json_t *key = NULL, *value = NULL;
    while (entry.p < entry.end && !c->failed) {
        uint64_t k;
        if (!read_varint(&entry, &k)) {
            fail(c, "malformed map entry of %s", f->name);
            break;
        }
        unsigned num = (unsigned)(k >> 3), wt = (unsigned)(k & 7);
        unsigned type = num == 1 ? f->key_type : f->type;
        if ((num != 1 && num != 2) || wt != wire_type_of(type)) {
            fail(c, "unknown field %u in a map entry of %s", num, f->name);
            break;
        }
        json_t *v;
        if (num == 2 && type == TS_PB_MESSAGE) {
            pb_reader sub;
            if (!read_len(&entry, &sub)) {
                fail(c, "truncated map value of %s", f->name);
                break;
            }
            v = decode_message(c, f->ref, sub, depth + 1);
        } else {
            v = read_scalar(c, &entry, type, wt);
        }
        if (!v)
            break;
        json_t **slot = num == 1 ? &key : &value;
        json_decref(*slot);
        *slot = v;
    }
    int rc = -1;
    if (!c->failed) {
        if (key && !json_is_string(key))
            fail(c, "map %s has a key that is not a string", f->name);
        else if (!value)
            value =
                f->type == TS_PB_MESSAGE ? zero_message(c, f->ref, depth) : zero_scalar(f->type);
        if (!c->failed && value &&
            json_object_set(obj, key ? json_string_value(key) : "", value) == 0)
            rc = 0;
    }
    json_decref(key);
    json_decref(value);
    return rc;
}

static json_t *decode_message(pb_ctx *c, const ts_pb_message *m, pb_reader r, unsigned depth)
{
    if (depth > PB_MAX_DEPTH) {
        fail(c, "objects nested deeper than %d levels", PB_MAX_DEPTH);
        return NULL;
    }
    if (m->json == TS_PBJ_RAWJSON)
        return raw_json(c, m, r);
    json_t *obj = json_object();
    json_t **seen = kr_calloc(m->nfields ? m->nfields : 1, sizeof(json_t *));
    if (!obj || !seen) {
        fail(c, "out of memory");
        goto fail;
    }
    while (r.p < r.end && !c->failed) {
        uint64_t key;
        if (!read_varint(&r, &key)) {
            fail(c, "malformed field key in %s", m->name);
            goto stop;
        }
        unsigned num = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
        const ts_pb_field *f = key >> 3 <= UINT32_MAX ? find_field(m, num) : NULL;
        if (!f) {
            fail(c, "unknown field %u in %s", num, m->name);
            goto stop;
        }
        size_t idx = (size_t)(f - m->fields);
        if (f->flags & TS_PBF_MAP) {
            if (wt != WT_LEN) {
                fail(c, "field %s of %s has wire type %u", f->name, m->name, wt);
                goto stop;
            }
            if (!seen[idx] && !(seen[idx] = json_object())) {
                fail(c, "out of memory");
                goto stop;
            }
            if (read_map_entry(c, &r, f, seen[idx], depth) != 0)
                goto stop;
            continue;
        }
        if ((f->flags & TS_PBF_REPEATED) && !seen[idx] && !(seen[idx] = json_array())) {
            fail(c, "out of memory");
            goto stop;
        }
        if (f->type == TS_PB_MESSAGE) {
            pb_reader sub;
            if (wt != WT_LEN || !read_len(&r, &sub)) {
                fail(c, "field %s of %s is malformed", f->name, m->name);
                goto stop;
            }
            json_t *v = decode_message(c, f->ref, sub, depth + 1);
            if (!v)
                goto stop;
            if (f->flags & TS_PBF_REPEATED) {
                if (json_array_append_new(seen[idx], v) != 0)
                    goto stop;
            } else {
                /* A repeated occurrence of a message merges in protobuf;
                 * encoders write one, so the last one stands. */
                json_decref(seen[idx]);
                seen[idx] = v;
            }
            continue;
        }
        if (f->flags & TS_PBF_REPEATED) {
            if (read_repeated_scalar(c, &r, f, wt, seen[idx]) != 0)
                goto stop;
            continue;
        }
        if (wt != wire_type_of(f->type)) {
            fail(c, "field %s of %s has wire type %u, not %u", f->name, m->name, wt,
                 wire_type_of(f->type));
            goto stop;
        }
        json_t *v = read_scalar(c, &r, f->type, wt);
        if (!v)
            goto stop;
        json_decref(seen[idx]);
        seen[idx] = v;
    }
    if (c->failed) {
    stop:
        /* Every early stop is an error: one without a message ran out of memory. */
        fail(c, "out of memory");
        goto fail;
    }
    /* The object as encoding/json writes the Go struct, in field order. */
    for (unsigned i = 0; i < m->nfields && !c->failed; i++) {
        const ts_pb_field *f = &m->fields[i];
        json_t *v = seen[i];
        seen[i] = NULL;
        bool list = (f->flags & (TS_PBF_REPEATED | TS_PBF_MAP)) != 0;
        if (!v) {
            if (f->flags & TS_PBF_POINTER) {
                if (f->flags & TS_PBF_OMITEMPTY)
                    continue;
                v = json_null(); /* a nil pointer */
            } else if (list) {
                if (f->flags & TS_PBF_OMITEMPTY)
                    continue;
                v = json_null(); /* a nil slice or map */
            } else if (f->type == TS_PB_MESSAGE) {
                v = zero_message(c, f->ref, depth);
            } else if (f->flags & TS_PBF_OMITEMPTY) {
                continue;
            } else {
                v = zero_scalar(f->type);
            }
        } else if ((f->flags & TS_PBF_OMITEMPTY) && !(f->flags & TS_PBF_POINTER)) {
            bool empty =
                list ? (json_is_array(v) ? json_array_size(v) == 0 : json_object_size(v) == 0)
                     : f->type != TS_PB_MESSAGE && is_zero(v);
            if (empty) {
                json_decref(v);
                continue;
            }
        }
        if (!v) {
            if (!c->failed)
                fail(c, "out of memory");
            break;
        }
        if ((f->flags & TS_PBF_INLINE) && json_is_object(v)) {
            json_object_update(obj, v);
            json_decref(v);
        } else if (json_object_set_new(obj, f->name, v) != 0) {
            fail(c, "out of memory");
        }
    }
    if (c->failed)
        goto fail;
    for (unsigned i = 0; i < m->nfields; i++)
        json_decref(seen[i]);
    kr_free(seen);
    return m->json == TS_PBJ_PLAIN ? obj : special_json(c, m, obj);
fail:
    if (seen)
        for (unsigned i = 0; i < m->nfields; i++)
            json_decref(seen[i]);
    kr_free(seen);
    json_decref(obj);
    return NULL;
}

/* ---- the envelope ------------------------------------------------------------------ */

static int cmp_kind(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const ts_pb_kind *)elem)->key);
}

const ts_pb_message *ts_pb_find_kind(const char *api_version, const char *kind)
{
    char key[512];
    int n = snprintf(key, sizeof(key), "%s/%s", api_version, kind);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    const ts_pb_kind *k = bsearch(key, ts_pb_kinds, ts_pb_nkinds, sizeof(*k), cmp_kind);
    if (k)
        return k->message;
    /* DeleteOptions is registered in every group version, as the body of a
     * DELETE (kubectl drain sends it so) */
    if (strcmp(kind, "DeleteOptions") == 0)
        for (size_t i = 0; i < ts_pb_nmessages; i++)
            if (strcmp(ts_pb_messages[i].name,
                       "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions") == 0)
                return &ts_pb_messages[i];
    return NULL;
}

/* A string field of the envelope, copied into `out` (truncated ones refused). */
static bool envelope_string(pb_reader *r, char *out, size_t size)
{
    pb_reader s;
    if (!read_len(r, &s) || (size_t)(s.end - s.p) >= size)
        return false;
    memcpy(out, s.p, (size_t)(s.end - s.p));
    out[s.end - s.p] = '\0';
    return strlen(out) == (size_t)(s.end - s.p);
}

json_t *ts_pb_decode_body(const unsigned char *body, size_t len, char *msg, size_t msgsize)
{
    pb_ctx c = {.msg = msg, .msgsize = msgsize};
    if (len < 4 || memcmp(body, "k8s\0", 4) != 0) {
        fail(&c, "provided object is not a Kubernetes protobuf message (missing the k8s prefix)");
        return NULL;
    }
    pb_reader r = {body + 4, body + len}, raw = {NULL, NULL};
    char api_version[256] = "", kind[256] = "", encoding[64] = "", content_type[128] = "";
    bool have_raw = false;
    while (r.p < r.end && !c.failed) {
        uint64_t key;
        if (!read_varint(&r, &key) || (key & 7) != WT_LEN) {
            fail(&c, "malformed runtime.Unknown envelope");
            break;
        }
        switch (key >> 3) {
        case 1: { /* typeMeta */
            pb_reader tm;
            if (!read_len(&r, &tm)) {
                fail(&c, "truncated typeMeta");
                break;
            }
            while (tm.p < tm.end && !c.failed) {
                uint64_t k;
                if (!read_varint(&tm, &k) || (k & 7) != WT_LEN ||
                    ((k >> 3) != 1 && (k >> 3) != 2) ||
                    !envelope_string(&tm, (k >> 3) == 1 ? api_version : kind,
                                     (k >> 3) == 1 ? sizeof(api_version) : sizeof(kind)))
                    fail(&c, "malformed typeMeta in the runtime.Unknown envelope");
            }
            break;
        }
        case 2:
            if (!read_len(&r, &raw))
                fail(&c, "truncated raw object");
            have_raw = true;
            break;
        case 3:
            if (!envelope_string(&r, encoding, sizeof(encoding)))
                fail(&c, "malformed contentEncoding");
            break;
        case 4:
            if (!envelope_string(&r, content_type, sizeof(content_type)))
                fail(&c, "malformed contentType");
            break;
        default:
            fail(&c, "unknown field %" PRIu64 " in the runtime.Unknown envelope", key >> 3);
            break;
        }
    }
    if (c.failed)
        return NULL;
    if (encoding[0]) {
        fail(&c, "unsupported contentEncoding \"%s\"", encoding);
        return NULL;
    }
    if (!api_version[0] || !kind[0]) {
        fail(&c, "Object 'Kind' is missing in the protobuf envelope");
        return NULL;
    }
    const ts_pb_message *m = ts_pb_find_kind(api_version, kind);
    if (!m) {
        fail(&c, "no kind \"%s\" is registered for version \"%s\" in protobuf", kind, api_version);
        return NULL;
    }
    if (!have_raw)
        raw.p = raw.end = body + len;
    json_t *obj = decode_message(&c, m, raw, 0);
    if (!obj)
        return NULL;
    json_t *out = json_pack("{s:s, s:s}", "kind", kind, "apiVersion", api_version);
    if (!out || !json_is_object(obj) || json_object_update(out, obj) != 0) {
        fail(&c, json_is_object(obj) ? "out of memory" : "%s is not an object", kind);
        json_decref(out);
        out = NULL;
    }
    json_decref(obj);
    return out;
}

json_t *ts_pb_zero_field(const ts_pb_field *f)
{
    if (f->flags & (TS_PBF_POINTER | TS_PBF_REPEATED | TS_PBF_MAP))
        return f->flags & TS_PBF_OMITEMPTY ? NULL : json_null(); /* nil */
    if (f->type != TS_PB_MESSAGE)
        return f->flags & TS_PBF_OMITEMPTY ? NULL : zero_scalar(f->type);
    if (!f->ref)
        return NULL;
    char msg[128];
    pb_ctx c = {.msg = msg, .msgsize = sizeof(msg)};
    json_t *v = zero_message(&c, f->ref, 0); /* a struct: never omitted */
    if (c.failed) {
        json_decref(v);
        return NULL;
    }
    return v;
}
