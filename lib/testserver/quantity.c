/* libkreconcile-testserver — quantities written as JSON numbers
 * (`cpu: 0.5` in a manifest) are stored as the canonical string
 * resource.Quantity writes them as ("500m"), found by the built-in kinds'
 * protobuf schema (ts_proto.h). resource.Quantity parses the number's
 * text; its MarshalJSON writes the canonical form: the value rounded up to
 * nano units, its factors of ten moved into an exponent that is a multiple
 * of three, and that exponent as an SI suffix (m, k, M, ...), or as "e-9"
 * for a number Go's encoder writes with an exponent (below 1e-6, from
 * 1e21). Strings are kept as written. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"
#include "testserver/ts_proto.h"

#define MAX_DEPTH 64

/* A decimal: value = (negative ? -1 : 1) * mantissa * 10^exp. */
typedef struct decimal {
    bool negative;
    int64_t mantissa;
    int exp;
} decimal;

/* Parse "[-]digits[.digits][e[+-]digits]"; false on overflow. */
static bool parse_decimal(const char *s, decimal *d)
{
    memset(d, 0, sizeof(*d));
    if (*s == '-' || *s == '+')
        d->negative = *s++ == '-';
    bool dot = false, any = false;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.') {
            dot = true;
            continue;
        }
        if (*s < '0' || *s > '9')
            return false;
        any = true;
        if (d->mantissa > (INT64_MAX - 9) / 10) {
            if (dot)
                continue; /* a digit past int64's precision: dropped */
            return false;
        }
        d->mantissa = d->mantissa * 10 + (*s - '0');
        if (dot)
            d->exp--;
    }
    if (*s == 'e' || *s == 'E') {
        char *end;
        long e = strtol(s + 1, &end, 10);
        if (*end || e < -400 || e > 400)
            return false;
        d->exp += (int)e;
    }
    return any;
}

static bool times10(int64_t *m)
{
    if (*m > INT64_MAX / 10)
        return false;
    *m *= 10;
    return true;
}

/* The canonical DecimalSI text of a JSON number, or false when it cannot
 * be written exactly in int64 arithmetic (then it is left as it is). */
static bool canonical(const json_t *v, char *out, size_t size)
{
    char text[64];
    /* Go's encoder (kubectl's) writes these with an exponent, and
     * ParseQuantity keeps that form (DecimalExponent) */
    bool exponent_form = false;
    if (json_is_integer(v)) {
        snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
    } else {
        double x = json_real_value(v);
        if (!isfinite(x))
            return false;
        exponent_form = x != 0 && (fabs(x) < 1e-6 || fabs(x) >= 1e21);
        /* the shortest text that reads back as the same double: the
         * number as it was written, for what manifests hold */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(text, sizeof(text), "%.*g", prec, x);
            if (strtod(text, NULL) == x)
                break;
        }
    }
    decimal d;
    if (!parse_decimal(text, &d))
        return false;
    if (d.mantissa == 0) {
        snprintf(out, size, "0");
        return true;
    }
    /* more precision than nano units: rounded up (away from zero) */
    while (d.exp < -9) {
        bool rest = d.mantissa % 10 != 0;
        d.mantissa = d.mantissa / 10 + rest;
        d.exp++;
    }
    while (d.mantissa % 10 == 0) {
        d.mantissa /= 10;
        d.exp++;
    }
    int r = ((d.exp % 3) + 3) % 3;
    for (; r > 0; r--) {
        if (!times10(&d.mantissa))
            return false;
        d.exp--;
    }
    static const char *const suffixes[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
    int i = d.exp / 3 + 3;
    if (exponent_form && d.exp == 0)
        snprintf(out, size, "%s%lld", d.negative ? "-" : "", (long long)d.mantissa);
    else if (!exponent_form && i >= 0 && i < (int)(sizeof(suffixes) / sizeof(suffixes[0])))
        snprintf(out, size, "%s%lld%s", d.negative ? "-" : "", (long long)d.mantissa, suffixes[i]);
    else
        snprintf(out, size, "%s%llde%d", d.negative ? "-" : "", (long long)d.mantissa, d.exp);
    return true;
}

/* Replace *slot (a member of `parent` under `key`, or element `index` of
 * an array parent) by its canonical string when it is a number. */
static void fix_number(json_t *parent, const char *key, size_t index)
{
    json_t *v = key ? json_object_get(parent, key) : json_array_get(parent, index);
    char text[96];
    if (!json_is_number(v) || !canonical(v, text, sizeof(text)))
        return;
    if (key)
        json_object_set_new(parent, key, json_string(text));
    else
        json_array_set_new(parent, index, json_string(text));
}

static void walk(const ts_pb_message *m, json_t *obj, unsigned depth);

/* The quantities in value `v` of field `f` (a message field). */
static void walk_field(const ts_pb_field *f, json_t *parent, json_t *v, unsigned depth)
{
    bool quantity = f->ref->json == TS_PBJ_QUANTITY;
    if (f->flags & TS_PBF_MAP) {
        const char *key;
        json_t *value;
        void *tmp;
        json_object_foreach_safe(v, tmp, key, value)
        {
            if (quantity)
                fix_number(v, key, 0);
            else if (json_is_object(value))
                walk(f->ref, value, depth + 1);
        }
    } else if (f->flags & TS_PBF_REPEATED) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (quantity)
                fix_number(v, NULL, i);
            else if (json_is_object(item))
                walk(f->ref, item, depth + 1);
        }
    } else if (quantity) {
        fix_number(parent, f->name, 0);
    } else if (json_is_object(v)) {
        walk(f->ref, v, depth + 1);
    }
}

static void walk(const ts_pb_message *m, json_t *obj, unsigned depth)
{
    if (depth > MAX_DEPTH || m->json != TS_PBJ_PLAIN)
        return;
    for (unsigned i = 0; i < m->nfields; i++) {
        const ts_pb_field *f = &m->fields[i];
        if (f->type != TS_PB_MESSAGE || !f->ref)
            continue;
        if (f->flags & TS_PBF_INLINE) {
            walk(f->ref, obj, depth + 1);
            continue;
        }
        json_t *v = json_object_get(obj, f->name);
        if (v)
            walk_field(f, obj, v, depth);
    }
}

void ts_quantities_canonical(const ts_resource *res, json_t *obj)
{
    if (res->crd || !json_is_object(obj))
        return;
    char *av = ts_api_version(res);
    const ts_pb_message *m = av ? ts_pb_find_kind(av, res->kind) : NULL;
    kr_free(av);
    if (m)
        walk(m, obj, 0);
}
