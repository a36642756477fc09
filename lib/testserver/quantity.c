/* libkreconcile-testserver — quantities written as JSON numbers
 * (`cpu: 0.5` in a manifest) are stored as the canonical string
 * resource.Quantity writes them as ("500m"), found by the built-in kinds'
 * protobuf schema (ts_proto.h). resource.Quantity parses the number's
 * text; its MarshalJSON writes the canonical form: the value rounded up to
 * nano units, its factors of ten moved into an exponent that is a multiple
 * of three, and that exponent as an SI suffix (m, k, M, ...), or as "e-9"
 * for a number Go's encoder writes with an exponent (below 1e-6, from
 * 1e21). Strings are parsed as ParseQuantity parses them: one it refuses
 * fails the write with its error; one in canonical form is kept as
 * written (Go keeps the text then, a "+" or leading zeros included);
 * any other is written canonically in its format: "1000m" as "1", "0.5"
 * as "500m", "1024Mi" as "1Gi", "0.5Gi" as "512Mi" (a binary amount
 * under 1024, or not whole, in decimal SI), "1.5e3" as "1500". One too
 * large for int64 arithmetic is kept as written. */
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

typedef enum { Q_DECIMAL_SI, Q_DECIMAL_EXPONENT, Q_BINARY_SI } qformat;

/* d's canonical DecimalSI or DecimalExponent text (rounded up to nano
 * units, factors of ten in an exponent that is a multiple of three). */
static bool decimal_text(decimal d, qformat format, char *out, size_t size)
{
    if (d.mantissa == 0) {
        snprintf(out, size, "0");
        return true;
    }
    while (d.exp < -9) {
        bool rest = d.mantissa % 10 != 0;
        d.mantissa = d.mantissa / 10 + rest;
        d.exp++;
    }
    while (d.mantissa % 10 == 0) {
        d.mantissa /= 10;
        d.exp++;
    }
    for (int r = ((d.exp % 3) + 3) % 3; r > 0; r--) {
        if (!times10(&d.mantissa))
            return false;
        d.exp--;
    }
    static const char *const suffixes[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
    int i = d.exp / 3 + 3;
    const char *sign = d.negative ? "-" : "";
    if (format == Q_DECIMAL_EXPONENT && d.exp == 0)
        snprintf(out, size, "%s%lld", sign, (long long)d.mantissa);
    else if (format == Q_DECIMAL_SI && i >= 0 && i < (int)(sizeof(suffixes) / sizeof(suffixes[0])))
        snprintf(out, size, "%s%lld%s", sign, (long long)d.mantissa, suffixes[i]);
    else
        snprintf(out, size, "%s%llde%d", sign, (long long)d.mantissa, d.exp);
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
    return decimal_text(d, exponent_form ? Q_DECIMAL_EXPONENT : Q_DECIMAL_SI, out, size);
}

/* ---- strings: ParseQuantity and CanonicalizeBytes --------------------------------- */

static const char FORMAT_WRONG[] = "quantities must match the regular expression "
                                   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
static const char BAD_SUFFIX[] = "unable to parse quantity's suffix";

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* resource.parseQuantityString: sign, numerator (leading zeros gone),
 * denominator and suffix of [s, end); false when malformed. */
static bool split_quantity(const char *s, const char *end, bool *positive, const char **num,
                           size_t *num_len, const char **denom, size_t *denom_len,
                           const char **suffix)
{
    *positive = true;
    *num = "0";
    *num_len = 1;
    *denom = "";
    *denom_len = 0;
    *suffix = end;
    if (s < end && (*s == '-' || *s == '+'))
        *positive = *s++ != '-';
    while (s < end && *s == '0')
        s++;
    if (s == end)
        return true; /* zero */
    const char *n = s;
    while (s < end && is_digit(*s))
        s++;
    if (s > n) {
        *num = n;
        *num_len = (size_t)(s - n);
    }
    if (s < end && *s == '.') {
        const char *d = ++s;
        while (s < end && is_digit(*s))
            s++;
        *denom = d;
        *denom_len = (size_t)(s - d);
    }
    *suffix = s;
    while (s < end && strchr("eEinumkKMGTP", *s))
        s++;
    if (s < end && (*s == '-' || *s == '+'))
        s++;
    while (s < end && is_digit(*s))
        s++;
    return s == end;
}

/* quantitySuffixer.interpret: the format and the power (of 10, or of 2
 * for binary SI) a suffix stands for; false when it is none. */
static bool interpret_suffix(const char *s, const char *end, qformat *format, int *power)
{
    static const struct {
        const char *text;
        int power;
        qformat format;
    } known[] = {{"", 0, Q_DECIMAL_SI},   {"n", -9, Q_DECIMAL_SI}, {"u", -6, Q_DECIMAL_SI},
                 {"m", -3, Q_DECIMAL_SI}, {"k", 3, Q_DECIMAL_SI},  {"M", 6, Q_DECIMAL_SI},
                 {"G", 9, Q_DECIMAL_SI},  {"T", 12, Q_DECIMAL_SI}, {"P", 15, Q_DECIMAL_SI},
                 {"E", 18, Q_DECIMAL_SI}, {"Ki", 10, Q_BINARY_SI}, {"Mi", 20, Q_BINARY_SI},
                 {"Gi", 30, Q_BINARY_SI}, {"Ti", 40, Q_BINARY_SI}, {"Pi", 50, Q_BINARY_SI},
                 {"Ei", 60, Q_BINARY_SI}};
    size_t len = (size_t)(end - s);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strlen(known[i].text) == len && strncmp(known[i].text, s, len) == 0) {
            *format = known[i].format;
            *power = known[i].power;
            return true;
        }
    }
    if (len < 2 || (*s != 'e' && *s != 'E'))
        return false;
    const char *p = s + 1;
    if (*p == '-' || *p == '+')
        p++;
    if (p == end || end - p > 9)
        return false; /* strconv.ParseInt fails; (or far beyond any use) */
    for (const char *q = p; q < end; q++)
        if (!is_digit(*q))
            return false;
    *format = Q_DECIMAL_EXPONENT;
    *power = (int)strtol(s + 1, NULL, 10);
    return true;
}

static const char *parse_text(const char *s, const char *end, char *out, size_t size);

bool ts_quantity_value(const char *text, long double *value)
{
    const char *end = text + strlen(text), *num, *denom, *suffix;
    size_t num_len, denom_len;
    bool positive;
    qformat format;
    int power;
    if (!split_quantity(text, end, &positive, &num, &num_len, &denom, &denom_len, &suffix) ||
        !interpret_suffix(suffix, end, &format, &power))
        return false;
    /* the digits read once, then scaled: equal amounts compare equal */
    char digits[128];
    int n = snprintf(digits, sizeof(digits), "%.*s.%.*se%d", (int)num_len, num, (int)denom_len,
                     denom, format == Q_BINARY_SI ? 0 : power);
    if (n < 0 || (size_t)n >= sizeof(digits))
        return false;
    long double v = strtold(digits, NULL);
    if (format == Q_BINARY_SI)
        v = ldexpl(v, power);
    *value = positive ? v : -v;
    return true;
}

/* Parse quantity text `in` as UnmarshalJSON does (spaces around it
 * trimmed): NULL with its canonical text in `out` (the trimmed text when
 * Go keeps the text as written: it is in canonical form, or too large for
 * int64 arithmetic here); else ParseQuantity's error. */
static const char *canonical_text(const char *in, char *out, size_t size)
{
    const char *s = in, *end = in + strlen(in);
    while (s < end && strchr(" \t\n\r\v\f", *s)) /* strings.TrimSpace */
        s++;
    while (end > s && strchr(" \t\n\r\v\f", end[-1]))
        end--;
    const char *err = parse_text(s, end, out, size);
    if (!err && !*out)
        snprintf(out, size, "%.*s", (int)(end - s), s);
    return err;
}

/* ParseQuantity of [s, end): NULL with the canonical text in `out`, ""
 * when the text stays as written; else its error. */
static const char *parse_text(const char *s, const char *end, char *out, size_t size)
{
    *out = '\0';
    if (s == end)
        return FORMAT_WRONG;
    bool positive;
    const char *num, *denom, *suffix;
    size_t num_len, denom_len;
    if (!split_quantity(s, end, &positive, &num, &num_len, &denom, &denom_len, &suffix))
        return FORMAT_WRONG;
    qformat format;
    int power;
    if (!interpret_suffix(suffix, end, &format, &power))
        return BAD_SUFFIX;
    /* the digits num+denom as an int64 (beyond: kept as written) */
    int64_t digits = 0;
    for (size_t i = 0; i < num_len + denom_len; i++) {
        char c = i < num_len ? num[i] : denom[i - num_len];
        if (digits > (INT64_MAX - 9) / 10)
            return NULL;
        digits = digits * 10 + (c - '0');
    }
    bool leading_zero = *num == '0'; /* num is "0": nothing but zeros before the point */
    if (format != Q_BINARY_SI) {
        decimal d = {.negative = !positive, .mantissa = digits, .exp = power - (int)denom_len};
        /* the fast path keeps a canonical text as it was written */
        size_t n = num_len + denom_len;
        char last3[4] = "";
        if (n >= 3) {
            for (int k = 0; k < 3; k++) {
                size_t i = n - 3 + (size_t)k;
                last3[k] = i < num_len ? num[i] : denom[i - num_len];
            }
            last3[3] = '\0';
        }
        if (n <= 18 && d.exp >= -9 && d.exp % 3 == 0 && strcmp(last3, "000") != 0 && !leading_zero)
            return NULL;
        if (!decimal_text(d, format, out, size))
            *out = '\0';
        return NULL;
    }
    /* binary SI: the fast path (no fraction) keeps a multiple of 1024^k
     * whose number is not a multiple of 8 as written */
    if (denom_len == 0 && !leading_zero && (digits & 0x07) != 0 &&
        15 - (int)num_len - (int)((float)power * 3 / 10) - 1 >= 0)
        return NULL;
    if (digits > (INT64_MAX >> power))
        return NULL;
    int64_t scaled = digits << power; /* the amount times 10^denom_len */
    int64_t p10 = 1;
    for (size_t i = 0; i < denom_len; i++) {
        if (p10 > INT64_MAX / 10)
            return NULL;
        p10 *= 10;
    }
    decimal d = {.negative = !positive, .mantissa = scaled, .exp = -(int)denom_len};
    if (scaled == 0 || scaled / p10 < 1024 || scaled % p10 != 0) {
        /* under 1024, or not whole: decimal SI */
        if (!decimal_text(d, Q_DECIMAL_SI, out, size))
            *out = '\0';
        return NULL;
    }
    int64_t whole = scaled / p10;
    int k = 0;
    while (whole % 1024 == 0 && k < 6) {
        whole /= 1024;
        k++;
    }
    static const char *const binary[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    snprintf(out, size, "%s%lld%s", positive ? "" : "-", (long long)whole, binary[k]);
    return NULL;
}

typedef enum { GV_QUANTITY, GV_TIME, GV_MICROTIME } gv_kind;

/* Replace *slot (a member of `parent` under `key`, or element `index` of
 * an array parent) by what Go writes for it; a text Go refuses puts its
 * error in `err` (the first one only; err may be NULL) and stays. */
static void fix_value(json_t *parent, const char *key, size_t index, gv_kind kind, kr_buf *err)
{
    json_t *v = key ? json_object_get(parent, key) : json_array_get(parent, index);
    char text[96];
    json_t *next = NULL;
    if (json_is_string(v)) {
        const char *in = json_string_value(v), *why;
        kr_buf mine = {0};
        if (kind == GV_QUANTITY)
            why = canonical_text(in, text, sizeof(text));
        else
            why = ts_go_time_text(in, kind == GV_MICROTIME, text, sizeof(text), &mine);
        if (why && err && err->len == 0)
            kr_buf_append_str(err, why);
        kr_buf_free(&mine);
        if (why || (*text && strcmp(text, in) == 0))
            return;
        next = *text ? json_string(text) : json_null(); /* "": the zero time */
    } else if (kind == GV_QUANTITY && json_is_number(v) && canonical(v, text, sizeof(text))) {
        next = json_string(text);
    } else {
        return;
    }
    if (key)
        json_object_set_new(parent, key, next);
    else
        json_array_set_new(parent, index, next);
}

static void walk(const ts_pb_message *m, json_t *obj, unsigned depth, kr_buf *err);

/* The quantities in value `v` of field `f` (a message field). */
static void walk_field(const ts_pb_field *f, json_t *parent, json_t *v, unsigned depth, kr_buf *err)
{
    unsigned j = f->ref->json;
    bool quantity = j == TS_PBJ_QUANTITY || j == TS_PBJ_TIME || j == TS_PBJ_MICROTIME;
    gv_kind kind = j == TS_PBJ_TIME ? GV_TIME : j == TS_PBJ_MICROTIME ? GV_MICROTIME : GV_QUANTITY;
    if (f->flags & TS_PBF_MAP) {
        const char *key;
        json_t *value;
        void *tmp;
        json_object_foreach_safe(v, tmp, key, value)
        {
            if (quantity)
                fix_value(v, key, 0, kind, err);
            else if (json_is_object(value))
                walk(f->ref, value, depth + 1, err);
        }
    } else if (f->flags & TS_PBF_REPEATED) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (quantity)
                fix_value(v, NULL, i, kind, err);
            else if (json_is_object(item))
                walk(f->ref, item, depth + 1, err);
        }
    } else if (quantity) {
        fix_value(parent, f->name, 0, kind, err);
    } else if (json_is_object(v)) {
        walk(f->ref, v, depth + 1, err);
    }
}

static void walk(const ts_pb_message *m, json_t *obj, unsigned depth, kr_buf *err)
{
    if (depth > MAX_DEPTH || m->json != TS_PBJ_PLAIN)
        return;
    for (unsigned i = 0; i < m->nfields; i++) {
        const ts_pb_field *f = &m->fields[i];
        if (f->type != TS_PB_MESSAGE || !f->ref)
            continue;
        if (f->flags & TS_PBF_INLINE) {
            walk(f->ref, obj, depth + 1, err);
            continue;
        }
        json_t *v = json_object_get(obj, f->name);
        if (v)
            walk_field(f, obj, v, depth, err);
    }
}

int ts_go_values(const ts_resource *res, json_t *obj, kr_buf *err)
{
    if (res->crd || !json_is_object(obj))
        return 0;
    char *av = ts_api_version(res);
    const ts_pb_message *m = av ? ts_pb_find_kind(av, res->kind) : NULL;
    kr_free(av);
    kr_buf mine = {0};
    if (m)
        walk(m, obj, 0, err ? err : &mine);
    int rc = (err ? err->len : mine.len) > 0 ? -1 : 0;
    kr_buf_free(&mine);
    return rc;
}
