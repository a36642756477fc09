/* libkreconcile — base layer: the compact JSON text of a jansson tree,
 * exactly as json_dumpb(v, JSON_COMPACT) prints it, and its size without
 * printing: the store's cached texts and accounting, the client's request
 * bodies, the inventory's object columns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util_internal.h"

/* The compact JSON text of a jansson tree, exactly as json_dumpb(v,
 * JSON_COMPACT) prints it (test_store compares the two byte for byte), by
 * one walk that writes when `out` is non-NULL and only counts otherwise.
 * jansson's printer decodes every string one UTF-8 code point at a time
 * and keeps a hash table of the objects it visits (loop detection); the
 * store prints (compact) or measures (trees) every object it caches, so
 * it copies runs of plain bytes instead. Measured per object (O2, one
 * core): a 1.2 KB ConfigMap 4.9 us here against 24.3 us with
 * json_dump_callback(JSON_COMPACT) (measuring: 2.5 us against 12.3 us);
 * a 1.9 KB Pod 11.8 us against 32.3 us; a jansson parse of the same
 * ConfigMap costs 35 us. jansson's printer would add about 1.9 s of CPU to
 * a compact sync of 100,000 ConfigMaps (half a parse per object), hence
 * this printer. */
struct printer {
    kr_buf *buf; /* NULL: measure only */
    size_t n;
    int rc; /* KR_ENOMEM once an append failed; KR_EINVAL (strict) */
    bool strict; /* refuse what jansson's printer refuses */
    int depth;
};

/* Deeper than jansson's parser goes: only a tree built by hand (or a loop)
 * reaches it, and the strict printer then leaves it to jansson. */
#define PRINT_MAX_DEPTH 2048

/* The length of the well-formed UTF-8 sequence starting at s (its first
 * byte >= 0x80), or 0 where jansson's decoder would refuse it (a stray or
 * overlong byte, a surrogate, above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || n > len)
        return 0;
    unsigned cp = c & (0x7fu >> n);
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

static void put(struct printer *p, const char *s, size_t len)
{
    if (p->buf && !p->rc)
        p->rc = kr_buf_append(p->buf, s, len);
    p->n += len;
}

static void put_string(struct printer *p, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson */
    static const char short_escapes[0x20] = {
        ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    put(p, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            if (c >= 0x80 && p->strict) {
                size_t n = utf8_len((const unsigned char *)s + i, len - i);
                if (n == 0) {
                    p->rc = KR_EINVAL;
                    return;
                }
                i += n - 1;
            }
            continue;
        }
        put(p, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t esc_len = 2;
        char letter = c == '"' || c == '\\' ? (char)c : short_escapes[c];
        if (letter) {
            esc[1] = letter;
        } else { /* \u00XX */
            esc[1] = 'u';
            esc[2] = esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc_len = 6;
        }
        put(p, esc, esc_len);
    }
    put(p, s + run, len - run);
    put(p, "\"", 1);
}

/* A real as jansson prints it: "%.17g", ".0" added to integral values,
 * exponent without '+' or leading zeros. */
static void put_real(struct printer *p, double value)
{
    char buf[64], fixed[64];
    int len = snprintf(buf, sizeof(buf), "%.17g", value);
    if (len < 0 || (size_t)len >= sizeof(buf))
        return;
    size_t n = 0;
    const char *e = strchr(buf, 'e');
    for (const char *c = buf; *c && c != e; c++)
        fixed[n++] = *c;
    if (!strchr(buf, '.') && !e) {
        fixed[n++] = '.';
        fixed[n++] = '0';
    }
    if (e) {
        const char *c = e + 1;
        fixed[n++] = 'e';
        if (*c == '+')
            c++;
        else if (*c == '-')
            fixed[n++] = *c++;
        while (*c == '0' && c[1] != '\0')
            c++;
        while (*c)
            fixed[n++] = *c++;
    }
    put(p, fixed, n);
}

static void put_value(struct printer *p, const json_t *v);

static void put_node(struct printer *p, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t i = 0;
        const char *key;
        const json_t *member;
        put(p, "{", 1);
        json_object_foreach((json_t *)v, key, member)
        {
            if (i++)
                put(p, ",", 1);
            size_t key_len = strlen(key);
            /* jansson prints a key's every byte, a NUL too */
            if (p->strict && json_object_iter_key_len(json_object_key_to_iter(key)) != key_len)
                p->rc = KR_EINVAL;
            put_string(p, key, key_len);
            put(p, ":", 1);
            put_value(p, member);
        }
        put(p, "}", 1);
        return;
    }
    case JSON_ARRAY: {
        size_t size = json_array_size(v);
        put(p, "[", 1);
        for (size_t i = 0; i < size; i++) {
            if (i)
                put(p, ",", 1);
            put_value(p, json_array_get(v, i));
        }
        put(p, "]", 1);
        return;
    }
    case JSON_STRING:
        put_string(p, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER: {
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        if (len > 0)
            put(p, buf, (size_t)len);
        return;
    }
    case JSON_REAL:
        put_real(p, json_real_value(v));
        return;
    case JSON_TRUE:
        put(p, "true", 4);
        return;
    case JSON_NULL:
        put(p, "null", 4);
        return;
    case JSON_FALSE:
        put(p, "false", 5);
        return;
    }
}

/* Depth is bounded by the parser that built the tree, or (strict) by
 * PRINT_MAX_DEPTH. */
static void put_value(struct printer *p, const json_t *v)
{
    if (p->strict && (p->rc || p->depth >= PRINT_MAX_DEPTH)) {
        p->rc = p->rc ? p->rc : KR_EINVAL;
        return;
    }
    p->depth++;
    put_node(p, v);
    p->depth--;
}

size_t kr_json_size(const json_t *v)
{
    struct printer p = {.buf = NULL};
    put_value(&p, v);
    return p.n;
}

int kr_json_print(const json_t *v, kr_buf *out)
{
    struct printer p = {.buf = out};
    put_value(&p, v);
    return p.rc;
}

int kr_json_print_strict(const json_t *v, kr_buf *out)
{
    struct printer p = {.buf = out, .strict = true};
    put_value(&p, v);
    return p.rc;
}

/* ---- a member cut out of JSON text before it is parsed ------------------------ */

/* JSON text as jansson's parser reads it: the cut value is checked here as
 * jansson would check it, so that a text jansson refuses is still refused
 * once the member is gone (anything this scanner is unsure of stops it:
 * nothing is cut, and jansson reads the text as it came). */
typedef struct scan {
    const unsigned char *p, *end;
    int depth;
} scan;

/* Nesting this deep is left to jansson (its limit is 2048). */
#define CUT_MAX_DEPTH 512

static void scan_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool scan_hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        unsigned d = c >= '0' && c <= '9'   ? c - '0'
                     : c >= 'a' && c <= 'f' ? c - 'a' + 10
                     : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : 16;
        if (d == 16)
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* A string at s->p (its '"') as jansson takes it: no byte below 0x20, the
 * escapes JSON knows, \u escapes that are not \u0000 and pair their
 * surrogates, well-formed UTF-8. *plain: it holds no escape. */
static bool scan_string(scan *s, bool *plain)
{
    const unsigned char *p = s->p + 1, *end = s->end;
    bool escaped = false;
    while (p < end) {
        unsigned c = *p;
        if (c == '"') {
            s->p = p + 1;
            if (plain)
                *plain = !escaped;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            size_t n = utf8_len(p, (size_t)(end - p));
            if (n == 0)
                return false;
            p += n;
            continue;
        }
        if (c != '\\') {
            p++;
            continue;
        }
        escaped = true;
        if (++p >= end)
            return false;
        c = *p++;
        if (c == 'u') {
            unsigned v = 0, low = 0;
            if (!scan_hex4(p, end, &v) || v == 0 || (v >= 0xdc00 && v <= 0xdfff))
                return false;
            p += 4;
            if (v >= 0xd800 && v <= 0xdbff) {
                if (end - p < 2 || p[0] != '\\' || p[1] != 'u' || !scan_hex4(p + 2, end, &low) ||
                    low < 0xdc00 || low > 0xdfff)
                    return false;
                p += 6;
            }
        } else if (!memchr("\"\\/bfnrt", (int)c, 8)) {
            return false;
        }
    }
    return false;
}

/* A number jansson reads as it is written: no exponent and at most 15
 * characters (neither an integer nor a real can overflow then). */
static bool scan_number(scan *s)
{
    const unsigned char *p = s->p, *end = s->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return false;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return false;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if ((p < end && (*p == 'e' || *p == 'E')) || p - s->p > 15)
        return false;
    s->p = p;
    return true;
}

static bool scan_literal(scan *s, const char *word, size_t len)
{
    if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0)
        return false;
    s->p += len;
    return true;
}

static bool scan_value(scan *s);

static bool scan_container(scan *s)
{
    bool object = *s->p == '{';
    unsigned char close = object ? '}' : ']';
    if (++s->depth > CUT_MAX_DEPTH)
        return false;
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        if (object) {
            scan_ws(s);
            if (s->p >= s->end || *s->p != '"' || !scan_string(s, NULL))
                return false;
            scan_ws(s);
            if (s->p >= s->end || *s->p != ':')
                return false;
            s->p++;
        }
        if (!scan_value(s))
            return false;
        scan_ws(s);
        if (s->p >= s->end)
            return false;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p != close)
            return false;
        s->p++;
        s->depth--;
        return true;
    }
}

static bool scan_value(scan *s)
{
    scan_ws(s);
    if (s->p >= s->end)
        return false;
    switch (*s->p) {
    case '"':
        return scan_string(s, NULL);
    case '{':
    case '[':
        return scan_container(s);
    case 't':
        return scan_literal(s, "true", 4);
    case 'f':
        return scan_literal(s, "false", 5);
    case 'n':
        return scan_literal(s, "null", 4);
    default:
        return scan_number(s);
    }
}

/* The ranges a walk found to cut: [from, to) pairs, in text order. */
typedef struct cuts {
    size_t *at;
    size_t n, cap; /* pairs */
    bool all; /* every match (a list's items), scanning each object to its end */
    int rc; /* KR_ENOMEM */
} cuts;

static bool add_cut(cuts *c, size_t from, size_t to)
{
    size_t slots = c->cap * 2;
    if (c->n == c->cap && kr_array_grow(&c->at, &slots, c->n * 2, sizeof(*c->at), 16) != 0) {
        c->rc = KR_ENOMEM;
        return false;
    }
    c->cap = slots / 2;
    c->at[2 * c->n] = from;
    c->at[2 * c->n + 1] = to;
    c->n++;
    return true;
}

static int walk_object(scan *s, const unsigned char *base, const char *const *path, size_t n,
                       cuts *c);

/* The array at s->p ('['): path (what follows "[]") in each element that
 * is an object. -1 where the scan stops, else whether anything was cut. */
static int walk_array(scan *s, const unsigned char *base, const char *const *path, size_t n,
                      cuts *c)
{
    int found = 0;
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        scan_ws(s);
        if (s->p < s->end && *s->p == '{') {
            int r = walk_object(s, base, path, n, c);
            if (r < 0)
                return -1;
            found |= r;
        } else if (!scan_value(s)) {
            return -1;
        }
        scan_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ']') {
            s->p++;
            return found;
        }
        if (*s->p != ',')
            return -1;
        s->p++;
    }
}

/* In the object at s->p ('{'): the member path[0] when n is 1, else
 * path[1..] in the value of member path[0] ("[]": in each element of
 * the array there); its range, from its first byte to the first byte
 * that stays, with the comma that goes with it, into c. -1 where the
 * scan stops, 0 when nothing was found, 1 when something was: the scan
 * then stops there, unless c->all (then it goes on to the object's end,
 * where it stands at 0 and 1). */
static int walk_object(scan *s, const unsigned char *base, const char *const *path, size_t n,
                       cuts *c)
{
    size_t want = strlen(path[0]);
    const unsigned char *prev_end = NULL; /* the end of the member before */
    int found = 0;
    s->p++;
    scan_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        scan_ws(s);
        const unsigned char *key = s->p;
        bool plain = false;
        if (s->p >= s->end || *s->p != '"' || !scan_string(s, &plain))
            return -1;
        bool match = !found && plain && (size_t)(s->p - key) == want + 2 &&
                     memcmp(key + 1, path[0], want) == 0;
        scan_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        scan_ws(s);
        bool array = n > 2 && strcmp(path[1], "[]") == 0;
        int r = -2; /* not walked into */
        if (match && n > 1 && s->p < s->end && *s->p == (array ? '[' : '{'))
            r = array ? walk_array(s, base, path + 2, n - 2, c)
                      : walk_object(s, base, path + 1, n - 1, c);
        else if (!scan_value(s))
            return -1;
        if (r == -1 || (r == 1 && !c->all))
            return r;
        if (r == 1)
            found = 1;
        const unsigned char *value_end = s->p;
        scan_ws(s);
        if (s->p >= s->end || (*s->p != ',' && *s->p != '}'))
            return -1;
        if (match && n == 1) {
            size_t from, to;
            if (prev_end) { /* the comma before goes: `, "key": value` */
                from = (size_t)(prev_end - base);
                to = (size_t)(value_end - base);
            } else { /* the first: `"key": value,` and the blanks after */
                const unsigned char *q = s->p;
                if (*q == ',') {
                    q++;
                    while (q < s->end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
                        q++;
                    /* a member must follow: cut, `{"key": value,}` would pass */
                    if (q >= s->end || *q != '"')
                        return -1;
                }
                from = (size_t)(key - base);
                to = (size_t)(q - base);
            }
            if (!add_cut(c, from, to))
                return -1;
            if (!c->all)
                return 1;
            found = 1;
            if (!prev_end && *s->p == ',') { /* the comma went with it: the next member */
                s->p++;
                continue;
            }
        }
        if (*s->p == '}') {
            s->p++;
            return found;
        }
        prev_end = value_end;
        s->p++;
    }
}

bool kr_json_cut_member(const char *text, size_t len, const char *const *path, size_t n,
                        size_t *from, size_t *to)
{
    size_t at[2];
    cuts c = {.at = at, .cap = 1};
    scan s = {(const unsigned char *)text, (const unsigned char *)text + len, 0};
    scan_ws(&s);
    if (n == 0 || s.p >= s.end || *s.p != '{' ||
        walk_object(&s, (const unsigned char *)text, path, n, &c) != 1)
        return false;
    *from = at[0];
    *to = at[1];
    return true;
}

size_t kr_json_cut_members(char *text, size_t len, const char *const *path, size_t n)
{
    cuts c = {.all = true};
    scan s = {(const unsigned char *)text, (const unsigned char *)text + len, 0};
    scan_ws(&s);
    if (n > 0 && s.p < s.end && *s.p == '{')
        walk_object(&s, (const unsigned char *)text, path, n, &c);
    /* what was found before the scan stopped (if it did) is cut all the same */
    size_t w = 0, r = 0;
    for (size_t i = 0; i < c.n; i++) {
        size_t from = c.at[2 * i], to = c.at[2 * i + 1];
        memmove(text + w, text + r, from - r);
        w += from - r;
        r = to;
    }
    if (c.n) {
        memmove(text + w, text + r, len - r);
        len = w + (len - r);
    }
    kr_free(c.at);
    return len;
}

/* ---- server bodies: integers beyond int64 ------------------------------- */

/* Whether the integer literal text[0..n) ([-]digits) lies outside int64. */
static bool beyond_int64(const char *text, size_t n)
{
    bool negative = n > 0 && text[0] == '-';
    size_t i = negative ? 1 : 0;
    while (i + 1 < n && text[i] == '0')
        i++; /* jansson refuses leading zeros; they do not count here */
    size_t digits = n - i;
    if (digits != 19)
        return digits > 19;
    const char *limit = negative ? "9223372036854775808" : "9223372036854775807";
    return memcmp(text + i, limit, 19) > 0;
}

/* A copy of `text` with ".0" after every integer literal beyond int64
 * outside strings (jansson reads it as a real), its length in *out_len;
 * NULL when out of memory. A literal beyond int64 has at least 19 digits,
 * so the copy needs at most 2 more bytes for every 19. */
static char *widen_big_integers(const char *text, size_t len, size_t *out_len)
{
    char *out = kr_malloc(len + 2 * (len / 19) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    bool in_string = false;
    for (size_t i = 0; i < len;) {
        char c = text[i];
        if (in_string) {
            size_t step = c == '\\' && i + 1 < len ? 2 : 1;
            in_string = c != '"';
            memcpy(out + n, text + i, step);
            n += step;
            i += step;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            in_string = c == '"';
            out[n++] = c;
            i++;
            continue;
        }
        size_t end = i + 1;
        while (end < len && text[end] >= '0' && text[end] <= '9')
            end++;
        bool whole = end == len || !strchr(".eE", text[end]) || text[end] == '\0';
        while (end < len && text[end] && strchr("0123456789.eE+-", text[end]))
            end++; /* the rest of the literal, copied as it is */
        memcpy(out + n, text + i, end - i);
        n += end - i;
        if (whole && beyond_int64(text + i, end - i)) {
            memcpy(out + n, ".0", 2);
            n += 2;
        }
        i = end;
    }
    *out_len = n;
    return out;
}

json_t *kr_json_loadb_server(const char *text, size_t len, size_t flags, json_error_t *err)
{
    json_error_t own = {0};
    json_error_t *e = err ? err : &own;
    json_t *doc = json_loadb(text, len, flags, e);
    /* jansson's words for it ("too big integer", "too big negative
     * integer"): json_error_code would need jansson 2.11 */
    if (doc || strncmp(e->text, "too big", 7) != 0)
        return doc;
    size_t wide_len = 0;
    char *wide = widen_big_integers(text, len, &wide_len);
    if (!wide)
        return NULL; /* jansson's error stands */
    json_error_t second;
    doc = json_loadb(wide, wide_len, flags, &second);
    kr_free(wide);
    if (!doc)
        *e = second;
    return doc;
}
