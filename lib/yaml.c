/* libkreconcile — YAML to jansson conversion with libyaml's document API.
 * Scalars resolve the way Kubernetes' YAML reader (YAML 1.1 rules) does;
 * aliases are expanded under node and byte budgets proportional to the
 * input, so that an alias bomb fails with KR_ETOOLARGE instead of
 * exhausting memory. Never aborts on input. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "internal.h"
#include "kreconcile/yaml.h"

#define YAML_MAX_DEPTH 64
/* Nodes produced per stream, aliases included (alias-bomb guard), and
 * at most this many per byte of input, plus YAML_FREE_NODES: an input
 * without aliases has half as many nodes as bytes at most ("[a,a,a]"). */
#define YAML_MAX_NODES 4000000L
#define YAML_NODES_PER_BYTE 1
#define YAML_FREE_NODES 10000L
/* Scalar bytes produced per stream, aliases expanded: at most this many
 * per byte of input, plus YAML_FREE_BYTES (a small document whose alias
 * of a long string is repeated a million times would otherwise make
 * gigabytes of it, as kube-apiserver's CVE-2019-11253). */
#define YAML_BYTES_PER_BYTE 8
#define YAML_FREE_BYTES (1L << 20)
/* Files larger than this are refused by kr_yaml_load_file. */
#define YAML_MAX_FILE (64L * 1024 * 1024)

/* Where each line of the input starts (bytes), made on first use: libyaml
 * marks count characters, not bytes. */
struct lines {
    size_t *start;
    size_t n;
    bool made;
};

struct convert {
    yaml_document_t *doc;
    const char *text; /* the input, where a node's tag can be seen */
    size_t len;
    struct lines *lines;
    long nodes, max_nodes; /* for the stream */
    size_t bytes, max_bytes; /* scalar bytes, for the stream */
    kr_error_t *err;
    int code; /* the failure's, also without an err to hold it */
};

static int cv_error(struct convert *cv, int code, const char *fmt, ...) KR_PRINTF(3, 4);

static int cv_error(struct convert *cv, int code, const char *fmt, ...)
{
    cv->code = code;
    if (cv->err) {
        va_list ap;
        va_start(ap, fmt);
        char msg[sizeof(cv->err->message)];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        kr_error_set(cv->err, code, "%s", msg);
    }
    return code;
}

static int scalar_is(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return 1;
    return 0;
}

static const char *const null_words[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const true_words[] = {"y",  "Y",  "yes",  "Yes",  "YES",  "on",
                                         "On", "ON", "true", "True", "TRUE", NULL};
static const char *const false_words[] = {"n",   "N",   "no",    "No",    "NO",    "off",
                                          "Off", "OFF", "false", "False", "FALSE", NULL};
/* go-yaml's infinities and NaN: floats with no JSON form. */
static const char *const inf_words[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
static const char *const minus_inf_words[] = {"-.inf", "-.Inf", "-.INF", NULL};
static const char *const nan_words[] = {".nan", ".NaN", ".NAN", NULL};

/* Go's name of the float a plain scalar resolves to when it has no JSON
 * form ("+Inf", "-Inf", "NaN"), else NULL. */
static const char *special_float(const char *text)
{
    return scalar_is(text, inf_words)         ? "+Inf"
           : scalar_is(text, minus_inf_words) ? "-Inf"
           : scalar_is(text, nan_words)       ? "NaN"
                                              : NULL;
}

/* Copy a number's text without its '_' separators (YAML 1.1) into
 * clean[cap]; 0 when it does not fit (no number is that long). */
static int strip_separators(const char *s, char *clean, size_t cap)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '_')
            continue;
        if (n + 1 >= cap)
            return 0;
        clean[n++] = *p;
    }
    clean[n] = '\0';
    return 1;
}

/* Integers: decimal, 0x hex, 0o and leading-zero octal, 0b binary, with
 * optional sign and '_' separators (YAML 1.1). 1 when `out` was set. */
static int parse_int(const char *s, long long *out)
{
    char clean[128];
    if (!strip_separators(s, clean, sizeof(clean)))
        return 0;
    const char *p = clean;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!*p)
        return 0;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        base = 8;
        p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2;
        p += 2;
    } else if (p[0] == '0' && p[1]) {
        base = 8;
        p += 1;
    }
    if (!*p)
        return 0;
    for (const char *q = p; *q; q++) {
        int ok = (base == 16 && strchr("0123456789abcdefABCDEF", *q)) ||
                 (base == 10 && *q >= '0' && *q <= '9') || (base == 8 && *q >= '0' && *q <= '7') ||
                 (base == 2 && (*q == '0' || *q == '1'));
        if (!ok)
            return 0;
    }
    errno = 0;
    unsigned long long v = strtoull(p, NULL, base);
    if (errno == ERANGE || v > (unsigned long long)LLONG_MAX + (neg ? 1 : 0))
        return 0;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 1;
}

/* Floats: [-+]digits[.digits][e[-+]digits] with at least one digit, as
 * go-yaml's pattern (tried after the integers: "08", or an integer too
 * big for one). Infinity and NaN have no JSON form: they stay text. */
static int parse_float(const char *s, double *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0, dot = 0, exp = 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
        } else if (*p == '.' && !dot && !exp) {
            dot = 1;
        } else if ((*p == 'e' || *p == 'E') && digits && !exp) {
            exp = 1;
            if (p[1] == '+' || p[1] == '-')
                p++;
            if (!p[1])
                return 0;
        } else if (*p != '_') {
            return 0;
        }
    }
    if (!digits) /* go-yaml's float pattern takes "08" too, after int failed */
        return 0;
    char clean[128];
    if (!strip_separators(s, clean, sizeof(clean)))
        return 0;
    char *end;
    double v = strtod(clean, &end);
    if (*end || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

static json_t *scalar_value(yaml_node_t *node, const char *text, size_t len);

/* A float as Go's encoding/json writes it, read back: a whole one (3.0,
 * 2e3) is an integer. */
static json_t *whole_or_real(double v)
{
    if (v > -9.2e18 && v < 9.2e18 && v == (double)(long long)v)
        return json_integer((long long)v);
    return json_real(v);
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF),
 * the same rule jansson applies to strings. */
static int utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* The line starts of cv->text as libyaml breaks lines (CRLF, CR, LF,
 * NEL, LS, PS), after a BOM. False when out of memory. */
static bool make_lines(struct convert *cv)
{
    struct lines *l = cv->lines;
    if (l->made)
        return l->start != NULL;
    l->made = true;
    const unsigned char *t = (const unsigned char *)cv->text;
    size_t cap = 64, i = cv->len >= 3 && memcmp(t, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    l->start = kr_malloc(cap * sizeof(size_t));
    if (!l->start)
        return false;
    l->start[l->n++] = i;
    while (i < cv->len) {
        size_t brk = t[i] == '\r' && i + 1 < cv->len && t[i + 1] == '\n'   ? 2
                     : t[i] == '\r' || t[i] == '\n'                        ? 1
                     : i + 1 < cv->len && t[i] == 0xC2 && t[i + 1] == 0x85 ? 2
                     : i + 2 < cv->len && t[i] == 0xE2 && t[i + 1] == 0x80 &&
                             (t[i + 2] == 0xA8 || t[i + 2] == 0xA9)
                         ? 3
                         : 0;
        i += brk ? brk : 1;
        if (!brk)
            continue;
        if (l->n == cap) {
            size_t *grown = kr_realloc(l->start, 2 * cap * sizeof(size_t));
            if (!grown) {
                kr_free(l->start);
                l->start = NULL;
                return false;
            }
            l->start = grown;
            cap *= 2;
        }
        l->start[l->n++] = i;
    }
    return true;
}

/* Whether the node was written with a tag (!!str, !foo): libyaml's loader
 * gives untagged scalars the default !!str tag too, so the input is looked
 * at where the node starts (after its anchor, if any): its line, then its
 * column in characters. */
static bool explicit_tag(struct convert *cv, const yaml_node_t *node)
{
    if (!make_lines(cv) || node->start_mark.line >= cv->lines->n)
        return false;
    size_t i = cv->lines->start[node->start_mark.line];
    for (size_t c = 0; c < node->start_mark.column && i < cv->len; c++) {
        unsigned char b = (unsigned char)cv->text[i];
        i += b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    }
    if (i < cv->len && cv->text[i] == '&')
        while (i < cv->len && !strchr(" \t\r\n", cv->text[i]))
            i++;
    while (i < cv->len && (cv->text[i] == ' ' || cv->text[i] == '\t'))
        i++;
    return i < cv->len && cv->text[i] == '!';
}

#define YAML_TAG(t) "tag:yaml.org,2002:" t

/* A scalar with a tag of its own, as go-yaml decodes one into an
 * interface: the core tags convert (or fail), !!binary is decoded, any
 * other tag leaves the text a string. NULL with cv->err set on failure. */
static json_t *tagged_scalar(struct convert *cv, yaml_node_t *node, const char *tag)
{
    const char *text = (const char *)node->data.scalar.value;
    size_t len = node->data.scalar.length;
    long long iv;
    double dv;
    json_t *out = NULL;
    if (strcmp(tag, YAML_TAG("int")) == 0 && parse_int(text, &iv))
        out = json_integer(iv);
    else if (strcmp(tag, YAML_TAG("float")) == 0 && parse_int(text, &iv))
        out = json_integer(iv); /* a whole float: Go writes 2, not 2.0 */
    else if (strcmp(tag, YAML_TAG("float")) == 0 && parse_float(text, &dv))
        out = whole_or_real(dv);
    else if (strcmp(tag, YAML_TAG("bool")) == 0 && scalar_is(text, true_words))
        out = json_true();
    else if (strcmp(tag, YAML_TAG("bool")) == 0 && scalar_is(text, false_words))
        out = json_false();
    else if (strcmp(tag, YAML_TAG("null")) == 0 && scalar_is(text, null_words))
        out = json_null();
    else if (strcmp(tag, YAML_TAG("binary")) == 0) {
        char *raw = NULL, *clean = kr_malloc(len + 1);
        size_t n = 0, raw_len = 0;
        for (size_t i = 0; clean && i < len; i++) /* line breaks and spaces are not data */
            if (!strchr(" \t\r\n", text[i]))
                clean[n++] = text[i];
        if (clean && kr_base64_decode(clean, n, false, &raw, &raw_len, NULL) == 0)
            out = json_stringn(raw, raw_len);
        kr_free(raw);
        kr_free(clean);
        if (!out) {
            cv_error(cv, KR_EPARSE, "yaml: line %zu: !!binary value contains invalid base64 data",
                     node->start_mark.line + 1);
            return NULL;
        }
    } else if (strcmp(tag, YAML_TAG("int")) != 0 && strcmp(tag, YAML_TAG("float")) != 0 &&
               strcmp(tag, YAML_TAG("bool")) != 0 && strcmp(tag, YAML_TAG("null")) != 0) {
        out = json_stringn(text, len); /* !!str, !!timestamp, a local tag */
    } else {
        cv_error(cv, KR_EPARSE, "yaml: line %zu: cannot decode !!str `%.64s` as a !!%s",
                 node->start_mark.line + 1, text, tag + strlen(YAML_TAG("")));
        return NULL;
    }
    if (!out)
        cv_error(cv, KR_ENOMEM, "yaml: out of memory");
    return out;
}

static json_t *convert_scalar(struct convert *cv, yaml_node_t *node)
{
    const char *text = (const char *)node->data.scalar.value;
    size_t len = node->data.scalar.length;
    const char *tag = (const char *)node->tag;
    const char *special = strlen(text) == len ? special_float(text) : NULL;
    bool untagged = !tag || strcmp(tag, YAML_DEFAULT_SCALAR_TAG) == 0;
    if (special && ((untagged && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                     !explicit_tag(cv, node)) ||
                    (tag && strcmp(tag, YAML_TAG("float")) == 0))) {
        /* go-yaml reads a float JSON cannot hold: encoding/json refuses it,
         * and kubectl with it */
        cv_error(cv, KR_EPARSE, "yaml: line %zu: json: unsupported value: %s",
                 node->start_mark.line + 1, special);
        return NULL;
    }
    if (tag && strcmp(tag, YAML_DEFAULT_SCALAR_TAG) != 0)
        return tagged_scalar(cv, node, tag);
    json_t *out = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && explicit_tag(cv, node)
                      ? json_stringn(text, len) /* !!str 8080 */
                      : scalar_value(node, text, len);
    if (!out) {
        if (utf8_valid((const unsigned char *)text, len))
            cv_error(cv, KR_ENOMEM, "yaml: out of memory");
        else
            cv_error(cv, KR_EPARSE, "yaml: line %zu: scalar is not valid UTF-8",
                     node->start_mark.line + 1);
    }
    return out;
}

static json_t *scalar_value(yaml_node_t *node, const char *text, size_t len)
{
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(text, len);
    if (strlen(text) != len) /* embedded NUL: only a string can hold it */
        return json_stringn(text, len);
    if (scalar_is(text, null_words))
        return json_null();
    if (scalar_is(text, true_words))
        return json_true();
    if (scalar_is(text, false_words))
        return json_false();
    long long iv;
    if (parse_int(text, &iv))
        return json_integer(iv);
    double dv;
    if (parse_float(text, &dv))
        return whole_or_real(dv);
    return json_stringn(text, len);
}

static json_t *convert_node(struct convert *cv, yaml_node_t *node, int depth);

static int mapping_merge_into(struct convert *cv, json_t *obj, yaml_node_t *src, int depth)
{
    json_t *merged = convert_node(cv, src, depth + 1);
    if (!merged)
        return -1;
    if (!json_is_object(merged)) {
        json_decref(merged);
        cv_error(cv, KR_EPARSE, "yaml: line %zu: merge key '<<' needs a mapping",
                 src->start_mark.line + 1);
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(merged, k, v)
    {
        if (json_object_set(obj, k, v) != 0) {
            json_decref(merged);
            cv_error(cv, KR_ENOMEM, "yaml: out of memory");
            return -1;
        }
    }
    json_decref(merged);
    return 0;
}

/* YAML "<<" merge keys, as go-yaml v2 applies them: where the "<<" is
 * written, over the keys before it (the keys after it win); the value is
 * a mapping or a sequence of them, the first of which wins (applied last). */
static int apply_merge(struct convert *cv, json_t *obj, yaml_node_t *value, int depth)
{
    if (value->type != YAML_SEQUENCE_NODE)
        return mapping_merge_into(cv, obj, value, depth);
    for (yaml_node_item_t *it = value->data.sequence.items.top;
         it-- > value->data.sequence.items.start;) {
        yaml_node_t *m = yaml_document_get_node(cv->doc, *it);
        if (!m || mapping_merge_into(cv, obj, m, depth) != 0)
            return -1;
    }
    return 0;
}

/* `v` as Go's strconv.FormatFloat(v, 'g', -1, bits) prints it (bits 32
 * or 64): the shortest digits that read back as the same float32 or
 * float64, in exponent form below 1e-4 or from 1e6 on ("1.5", "1e+06",
 * "1.23456789123e+08"). */
static void format_float(double v, int bits, char *buf, size_t size)
{
    float f = (float)v;
    if (bits == 32)
        v = f;
    if (!isfinite(v)) { /* past float32: Go's +Inf, which sigs.k8s.io/yaml writes .inf */
        snprintf(buf, size, "%s", isnan(v) ? ".nan" : v < 0 ? "-.inf" : ".inf");
        return;
    }
    char e[48];
    for (int prec = 1; prec <= (bits == 32 ? 9 : 17); prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (bits == 32 ? strtof(e, NULL) == f : strtod(e, NULL) == v)
            break;
    }
    /* e: [-]d[.ddd]e[+-]XX */
    char digits[24];
    size_t nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    p += neg;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && nd + 1 < sizeof(digits))
            digits[nd++] = *p;
    digits[nd] = '\0';
    int exp = atoi(p + 1);
    if (exp < -4 || exp >= 6) {
        snprintf(buf, size, "%s%c%s%se%c%02d", neg ? "-" : "", digits[0], nd > 1 ? "." : "",
                 digits + 1, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        snprintf(buf, size, "%s0.%.*s%s", neg ? "-" : "", -exp - 1, "0000", digits);
    } else if ((size_t)exp + 1 >= nd) {
        snprintf(buf, size, "%s%s%.*s", neg ? "-" : "", digits, (int)((size_t)exp + 1 - nd),
                 "000000");
    } else {
        snprintf(buf, size, "%s%.*s.%s", neg ? "-" : "", exp + 1, digits, digits + exp + 1);
    }
}

/* A mapping key as sigs.k8s.io/yaml writes it: a quoted (or tagged) key as
 * written; a plain one resolved as a value would be, then printed as Go
 * prints it (NO is "false", 0x1F is "31", 1.50 is "1.5"); null has no key. */
static char *key_text(struct convert *cv, yaml_node_t *key)
{
    if (key->type != YAML_SCALAR_NODE) {
        cv_error(cv, KR_EPARSE, "yaml: line %zu, column %zu: mapping keys must be scalars",
                 key->start_mark.line + 1, key->start_mark.column + 1);
        return NULL;
    }
    const char *text = (const char *)key->data.scalar.value;
    size_t len = key->data.scalar.length;
    char num[64];
    const char *as = NULL;
    long long iv;
    double dv;
    if (key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strlen(text) == len &&
        !explicit_tag(cv, key)) {
        if (scalar_is(text, null_words)) {
            cv_error(cv, KR_EPARSE, "yaml: line %zu: a mapping key cannot be null",
                     key->start_mark.line + 1);
            return NULL;
        }
        if (scalar_is(text, true_words))
            as = "true";
        else if (scalar_is(text, false_words))
            as = "false";
        else if (scalar_is(text, inf_words))
            as = ".inf"; /* Go's +Inf, which sigs.k8s.io/yaml writes .inf */
        else if (scalar_is(text, minus_inf_words))
            as = "-.inf";
        else if (scalar_is(text, nan_words))
            as = ".nan";
        else if (parse_int(text, &iv))
            as = (snprintf(num, sizeof(num), "%lld", iv), num);
        else if (parse_float(text, &dv))
            as = (format_float(dv, 32, num, sizeof(num)), num);
    }
    char *s = as ? kr_strdup(as) : kr_strndup(text, len);
    if (!s)
        cv_error(cv, KR_ENOMEM, "yaml: out of memory");
    return s;
}

static json_t *convert_mapping(struct convert *cv, yaml_node_t *node, int depth)
{
    json_t *obj = json_object();
    if (!obj) {
        cv_error(cv, KR_ENOMEM, "yaml: out of memory");
        return NULL;
    }
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(cv->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(cv->doc, p->value);
        if (!k || !v)
            goto fail_parse;
        if (k->type == YAML_SCALAR_NODE && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            strcmp((const char *)k->data.scalar.value, "<<") == 0) {
            if (apply_merge(cv, obj, v, depth) != 0)
                goto fail;
            continue;
        }
        char *key = key_text(cv, k);
        if (!key)
            goto fail;
        json_t *val = convert_node(cv, v, depth + 1);
        if (!val) {
            kr_free(key);
            goto fail;
        }
        int rc = json_object_set_new(obj, key, val);
        kr_free(key);
        if (rc != 0) {
            cv_error(cv, KR_ENOMEM, "yaml: out of memory");
            goto fail;
        }
    }
    return obj;
fail_parse:
    cv_error(cv, KR_EPARSE, "yaml: dangling node reference");
fail:
    json_decref(obj);
    return NULL;
}

static json_t *convert_sequence(struct convert *cv, yaml_node_t *node, int depth)
{
    json_t *arr = json_array();
    if (!arr) {
        cv_error(cv, KR_ENOMEM, "yaml: out of memory");
        return NULL;
    }
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(cv->doc, *it);
        if (!item) {
            cv_error(cv, KR_EPARSE, "yaml: dangling node reference");
            json_decref(arr);
            return NULL;
        }
        json_t *val = convert_node(cv, item, depth + 1);
        if (!val || json_array_append_new(arr, val) != 0) {
            if (val)
                cv_error(cv, KR_ENOMEM, "yaml: out of memory");
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *convert_node(struct convert *cv, yaml_node_t *node, int depth)
{
    if (depth > YAML_MAX_DEPTH) {
        cv_error(cv, KR_ETOOLARGE, "yaml: line %zu: nesting deeper than %d levels",
                 node->start_mark.line + 1, YAML_MAX_DEPTH);
        return NULL;
    }
    if (++cv->nodes > cv->max_nodes) {
        cv_error(cv, KR_ETOOLARGE,
                 "yaml: document expands to more than %ld nodes (alias expansion?)", cv->max_nodes);
        return NULL;
    }
    if (node->type == YAML_SCALAR_NODE && (cv->bytes += node->data.scalar.length) > cv->max_bytes) {
        cv_error(cv, KR_ETOOLARGE,
                 "yaml: document expands to more than %zu bytes of values (alias expansion?)",
                 cv->max_bytes);
        return NULL;
    }
    switch (node->type) {
    case YAML_SCALAR_NODE:
        return convert_scalar(cv, node);
    case YAML_SEQUENCE_NODE:
        return convert_sequence(cv, node, depth);
    case YAML_MAPPING_NODE:
        return convert_mapping(cv, node, depth);
    default:
        cv_error(cv, KR_EPARSE, "yaml: empty node");
        return NULL;
    }
}

static int parser_error(const yaml_parser_t *parser, const char *text, size_t len, kr_error_t *err)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return kr_error_set(err, KR_ENOMEM, "yaml: out of memory");
    yaml_mark_t at = parser->problem_mark;
    if (parser->error == YAML_READER_ERROR) {
        /* the reader decodes ahead of the scanner and names the bad
         * byte by its offset alone: its line and column, in bytes */
        size_t end = parser->problem_offset < len ? parser->problem_offset : len, start = 0;
        at = (yaml_mark_t){0};
        for (size_t i = 0; i < end; i++)
            if (text[i] == '\n') {
                at.line++;
                start = i + 1;
            }
        at.column = end - start;
    }
    return kr_error_set(err, KR_EPARSE, "yaml: line %zu, column %zu: %s%s%s", at.line + 1,
                        at.column + 1, parser->problem ? parser->problem : "syntax error",
                        parser->context ? " " : "", parser->context ? parser->context : "");
}

/* A first pass over the events alone, which stops at the first collection
 * nested deeper than the conversion takes. libyaml's loader does work
 * proportional to the depth for every token of a flow collection, so
 * 100,000 opening brackets (200 KB) would cost it tens of seconds before
 * the conversion could refuse them; here they cost 66 tokens. Syntax errors
 * are left for the loader to report. `all`: every document, else the
 * first only (the loader reads no further). */
static int depth_guard(const char *text, size_t len, int all, kr_error_t *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return kr_error_set(err, KR_ENOMEM, "yaml: out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int depth = 0, rc = 0;
    for (bool done = false; !done;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev))
            break;
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            /* collections at depths 0 to YAML_MAX_DEPTH convert */
            if (++depth > YAML_MAX_DEPTH + 1) {
                rc =
                    kr_error_set(err, KR_ETOOLARGE, "yaml: line %zu: nesting deeper than %d levels",
                                 ev.start_mark.line + 1, YAML_MAX_DEPTH);
                done = true;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_DOCUMENT_END_EVENT:
            done = !all;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Converts documents one at a time; `all` collects every non-empty
 * document into an array, otherwise the first document is returned. */
static int parse_stream(const char *text, size_t len, int all, json_t **out, kr_error_t *err)
{
    if (!text || !out)
        return kr_error_set(err, KR_EINVAL, "yaml: NULL argument");
    int guard = depth_guard(text, len, all, err);
    if (guard != 0)
        return guard;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return kr_error_set(err, KR_ENOMEM, "yaml: out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    json_t *result = all ? json_array() : NULL;
    struct lines lines = {0};
    int rc = 0;
    /* the budgets hold for the whole stream: many small documents of
     * aliases add up */
    long max_nodes = len < (size_t)(YAML_MAX_NODES / YAML_NODES_PER_BYTE)
                         ? (long)len * YAML_NODES_PER_BYTE + YAML_FREE_NODES
                         : YAML_MAX_NODES;
    if (max_nodes > YAML_MAX_NODES)
        max_nodes = YAML_MAX_NODES;
    size_t max_bytes = len < (SIZE_MAX - YAML_FREE_BYTES) / YAML_BYTES_PER_BYTE
                           ? len * YAML_BYTES_PER_BYTE + YAML_FREE_BYTES
                           : SIZE_MAX;
    long nodes = 0;
    size_t bytes = 0;
    if (all && !result) {
        rc = kr_error_set(err, KR_ENOMEM, "yaml: out of memory");
        goto out;
    }
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            rc = parser_error(&parser, text, len, err);
            goto out;
        }
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root) { /* end of stream */
            yaml_document_delete(&doc);
            break;
        }
        struct convert cv = {.doc = &doc,
                             .text = text,
                             .len = len,
                             .lines = &lines,
                             .nodes = nodes,
                             .max_nodes = max_nodes,
                             .bytes = bytes,
                             .max_bytes = max_bytes,
                             .err = err};
        json_t *value = convert_node(&cv, root, 0);
        nodes = cv.nodes;
        bytes = cv.bytes;
        yaml_document_delete(&doc);
        if (!value) {
            rc = cv.code ? cv.code : KR_EPARSE;
            goto out;
        }
        if (!all) {
            /* The first document only: later ones are not read at all, as
             * go-yaml's Unmarshal reads none (a kubeconfig with a broken
             * second document loads in kubectl). */
            result = value;
            break;
        }
        if (json_is_null(value)) {
            json_decref(value);
            continue;
        }
        if (json_array_append_new(result, value) != 0) {
            rc = kr_error_set(err, KR_ENOMEM, "yaml: out of memory");
            goto out;
        }
    }
    if (!result)
        result = json_null();
out:
    yaml_parser_delete(&parser);
    kr_free(lines.start);
    if (rc != 0) {
        json_decref(result);
        return rc;
    }
    *out = result;
    return 0;
}

int kr_yaml_parse(const char *text, size_t len, json_t **out, kr_error_t *err)
{
    return parse_stream(text, len, 0, out, err);
}

int kr_yaml_parse_all(const char *text, size_t len, json_t **out, kr_error_t *err)
{
    return parse_stream(text, len, 1, out, err);
}

static int read_all(FILE *f, const char *path, kr_buf *buf, kr_error_t *err)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf->len + n > (size_t)YAML_MAX_FILE)
            return kr_error_set(err, KR_ETOOLARGE, "%s: larger than %ld bytes", path,
                                YAML_MAX_FILE);
        if (kr_buf_append(buf, chunk, n) != 0)
            return kr_error_set(err, KR_ENOMEM, "%s: out of memory", path);
    }
    if (ferror(f))
        return kr_error_set(err, KR_EIO, "%s: read failed: %s", path, strerror(errno));
    return 0;
}

int kr_yaml_load_file(const char *path, json_t **out, kr_error_t *err)
{
    if (!path || !out)
        return kr_error_set(err, KR_EINVAL, "yaml: NULL argument");
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return kr_error_set(err, errno == ENOENT ? KR_ENOTFOUND : KR_EIO, "%s: %s", path,
                            strerror(errno));
    kr_buf buf = {0};
    int rc = read_all(f, is_stdin ? "<stdin>" : path, &buf, err);
    if (!is_stdin)
        fclose(f);
    if (rc == 0) {
        rc = kr_yaml_parse(buf.data ? buf.data : "", buf.len, out, err);
        if (rc != 0 && err && rc != KR_ENOMEM) {
            char msg[sizeof(err->message)];
            snprintf(msg, sizeof(msg), "%s", err->message);
            kr_error_set(err, rc, "%s: %s", is_stdin ? "<stdin>" : path, msg);
        }
    }
    kr_buf_free(&buf);
    return rc;
}

/* ---- JSON to YAML --------------------------------------------------------- */

/* Past this many levels of nesting a value is refused, not emitted. */
#define YAML_DUMP_MAX_DEPTH 1000

/* 1 or 2 digits at *s, within [lo, hi]: advances *s; false otherwise. */
static bool ts_num(const char **s, int lo, int hi, int *out)
{
    const char *p = *s;
    if (*p < '0' || *p > '9')
        return false;
    int v = *p++ - '0';
    if (*p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    if (v < lo || v > hi)
        return false;
    *s = p;
    *out = v;
    return true;
}

/* A timestamp go-yaml resolves a plain scalar to (its formats, as Go's
 * time.Parse reads them): "2006-1-2", "2006-1-2T15:4:5.999999999Z07:00"
 * (or with 't'), "2006-1-2 15:4:5.999999999". Kubernetes reads it back as
 * a string, but go-yaml quotes it, and so kubectl's text does. */
static bool looks_like_timestamp(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    if (s[4] != '-')
        return false;
    int year = atoi(s), month, day, v;
    const char *p = s + 5;
    if (!ts_num(&p, 1, 12, &month) || *p++ != '-' || !ts_num(&p, 1, 31, &day))
        return false;
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > days[month - 1] || (month == 2 && day == 29 && !leap))
        return false;
    if (!*p)
        return true;
    char sep = *p++;
    if (sep != 'T' && sep != 't' && sep != ' ')
        return false;
    if (!ts_num(&p, 0, 23, &v) || *p++ != ':' || !ts_num(&p, 0, 59, &v) || *p++ != ':' ||
        !ts_num(&p, 0, 59, &v))
        return false;
    if (*p == '.' || *p == ',') { /* a fraction, any number of digits */
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (sep == ' ')
        return !*p;
    if (*p == 'Z')
        return !p[1];
    if (*p != '+' && *p != '-')
        return false;
    p++;
    for (int i = 0; i < 5; i++)
        if (i == 2 ? p[i] != ':' : (p[i] < '0' || p[i] > '9'))
            return false;
    return !p[5] && atoi(p) <= 23 && atoi(p + 3) <= 59;
}

/* go-yaml's base 60 float, [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?,
 * which it quotes for YAML 1.1 readers though it reads it as a string. */
static bool looks_like_base60(const char *s)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (*p < '0' || *p > '9')
        return false;
    while ((*p >= '0' && *p <= '9') || *p == '_')
        p++;
    int groups = 0;
    while (*p == ':') {
        p++;
        int n = 0;
        while (p[n] >= '0' && p[n] <= '9')
            n++;
        if (n < 1 || n > 2 || (n == 2 && p[0] > '5'))
            return false;
        p += n;
        groups++;
    }
    if (!groups)
        return false;
    if (*p == '.')
        for (p++; (*p >= '0' && *p <= '9') || *p == '_';)
            p++;
    return !*p;
}

/* Whether go-yaml writes the string `s` plain: it reads back as the
 * string it is (not null, a boolean, a number or a timestamp under the
 * rules above, not a merge key) and is no base 60 float. */
static bool plain_reads_as_string(const char *s)
{
    long long iv;
    double dv;
    return !scalar_is(s, null_words) && !scalar_is(s, true_words) && !scalar_is(s, false_words) &&
           !special_float(s) && !parse_int(s, &iv) && !parse_float(s, &dv) &&
           strcmp(s, "<<") != 0 && !looks_like_timestamp(s) && !looks_like_base60(s);
}

static int dump_write(void *data, unsigned char *buffer, size_t size)
{
    return kr_buf_append(data, buffer, size) == 0;
}

/* Emit a scalar: plain when the text allows it, else as the emitter can
 * (quoted); strings that would read back as something else double-quoted,
 * as go-yaml writes them; strings of several lines as literal blocks. */
static int emit_scalar(yaml_emitter_t *em, const char *text, size_t len, bool is_string)
{
    yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
    if (is_string && memchr(text, '\n', len))
        style = YAML_LITERAL_SCALAR_STYLE;
    else if (is_string && (strlen(text) != len || !plain_reads_as_string(text)))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)len, 1, 1, style))
        return KR_ENOMEM;
    return yaml_emitter_emit(em, &ev) ? 0 : KR_ENOMEM;
}

static bool key_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static bool key_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* go-yaml's order of a mapping's keys, which kubectl prints: letters by
 * code point and before anything else, runs of digits by their value
 * ("a2" before "a10"). Bytes of characters past ASCII count as letters. */
static int key_cmp(const void *pa, const void *pb)
{
    const unsigned char *a = *(const unsigned char *const *)pa;
    const unsigned char *b = *(const unsigned char *const *)pb;
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    if (!a[i] || !b[i])
        return a[i] ? 1 : b[i] ? -1 : 0;
    bool al = key_letter(a[i]), bl = key_letter(b[i]);
    if (al && bl)
        return a[i] < b[i] ? -1 : 1;
    if (al || bl)
        return bl ? -1 : 1;
    unsigned long long an = 0, bn = 0;
    if (a[i] == '0' || b[i] == '0')
        for (size_t j = i; j-- > 0 && key_digit(a[j]);)
            if (a[j] != '0') {
                an = bn = 1;
                break;
            }
    size_t ai = i, bi = i;
    for (; key_digit(a[ai]); ai++)
        an = an * 10 + (unsigned long long)(a[ai] - '0');
    for (; key_digit(b[bi]); bi++)
        bn = bn * 10 + (unsigned long long)(b[bi] - '0');
    if (an != bn)
        return an < bn ? -1 : 1;
    if (ai != bi)
        return ai < bi ? -1 : 1;
    return a[i] < b[i] ? -1 : 1;
}

static int emit_value(yaml_emitter_t *em, const json_t *v, int depth);

static int emit_object(yaml_emitter_t *em, const json_t *v, int depth)
{
    size_t n = json_object_size(v);
    const char **keys = n ? kr_malloc(n * sizeof(*keys)) : NULL;
    if (n && !keys)
        return KR_ENOMEM;
    size_t i = 0;
    const char *key;
    const json_t *child;
    json_object_foreach((json_t *)v, key, child)
    {
        keys[i++] = key;
    }
    if (n > 1) /* qsort's base may not be NULL, even for nothing */
        qsort(keys, n, sizeof(*keys), key_cmp);
    yaml_event_t ev;
    int rc = yaml_mapping_start_event_initialize(
                 &ev, NULL, NULL, 1, n ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE) &&
                     yaml_emitter_emit(em, &ev)
                 ? 0
                 : KR_ENOMEM;
    for (i = 0; i < n && rc == 0; i++) {
        rc = emit_scalar(em, keys[i], strlen(keys[i]), true);
        if (rc == 0)
            rc = emit_value(em, json_object_get(v, keys[i]), depth + 1);
    }
    kr_free(keys);
    if (rc == 0 && !(yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev)))
        rc = KR_ENOMEM;
    return rc;
}

static int emit_array(yaml_emitter_t *em, const json_t *v, int depth)
{
    size_t n = json_array_size(v);
    yaml_event_t ev;
    int rc = yaml_sequence_start_event_initialize(
                 &ev, NULL, NULL, 1, n ? YAML_BLOCK_SEQUENCE_STYLE : YAML_FLOW_SEQUENCE_STYLE) &&
                     yaml_emitter_emit(em, &ev)
                 ? 0
                 : KR_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = emit_value(em, json_array_get(v, i), depth + 1);
    if (rc == 0 && !(yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev)))
        rc = KR_ENOMEM;
    return rc;
}

static int emit_value(yaml_emitter_t *em, const json_t *v, int depth)
{
    if (depth > YAML_DUMP_MAX_DEPTH)
        return KR_ETOOLARGE;
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return emit_object(em, v, depth);
    case JSON_ARRAY:
        return emit_array(em, v, depth);
    case JSON_STRING:
        return emit_scalar(em, json_string_value(v), json_string_length(v), true);
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(em, num, strlen(num), false);
    case JSON_REAL:
        format_float(json_real_value(v), 64, num, sizeof(num));
        return emit_scalar(em, num, strlen(num), false);
    case JSON_TRUE:
        return emit_scalar(em, "true", 4, false);
    case JSON_FALSE:
        return emit_scalar(em, "false", 5, false);
    case JSON_NULL:
    default:
        return emit_scalar(em, "null", 4, false);
    }
}

int kr_yaml_dump(const json_t *value, char **out, kr_error_t *err)
{
    if (out)
        *out = NULL;
    if (!value || !out)
        return kr_error_set(err, KR_EINVAL, "yaml: NULL argument");
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em))
        return kr_error_set(err, KR_ENOMEM, "yaml: out of memory");
    kr_buf buf = {0};
    yaml_emitter_set_output(&em, dump_write, &buf);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_indent(&em, 2);
    yaml_event_t ev;
    int rc = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
                     yaml_emitter_emit(&em, &ev) &&
                     yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
                     yaml_emitter_emit(&em, &ev)
                 ? 0
                 : KR_ENOMEM;
    if (rc == 0)
        rc = emit_value(&em, value, 0);
    if (rc == 0 && !(yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
                     yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
                     yaml_emitter_flush(&em)))
        rc = KR_ENOMEM;
    /* libyaml ends the stream with "..." once a block scalar kept its
     * trailing empty lines ("|+"), wherever it was; go-yaml, which kubectl
     * prints with, does not, and the one document needs no end marker. */
    if (rc == 0 && buf.len >= 4 && memcmp(buf.data + buf.len - 4, "...\n", 4) == 0 &&
        (buf.len == 4 || buf.data[buf.len - 5] == '\n'))
        buf.len -= 4;
    if (rc == 0 && kr_buf_append(&buf, "", 1) != 0) /* the NUL */
        rc = KR_ENOMEM;
    char problem[160];
    snprintf(problem, sizeof(problem), "%s", em.problem ? em.problem : "");
    bool refused = rc == KR_ENOMEM && em.error == YAML_EMITTER_ERROR;
    yaml_emitter_delete(&em);
    if (rc != 0) {
        kr_buf_free(&buf);
        if (rc == KR_ETOOLARGE)
            return kr_error_set(err, rc, "yaml: nested deeper than %d levels", YAML_DUMP_MAX_DEPTH);
        if (refused)
            return kr_error_set(err, KR_EINVAL, "yaml: %s", problem);
        return kr_error_set(err, rc, "yaml: out of memory");
    }
    *out = (char *)buf.data;
    return 0;
}
