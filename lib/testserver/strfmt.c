/* libkreconcile-testserver — the string formats of kube-openapi's strfmt
 * registry that a CRD schema may name and that need more than a date or an
 * IP parser (schema.c has those): email (Go's net/mail.ParseAddress),
 * hostname (strfmt's RFC 1034 pattern and lengths), uri (Go's
 * url.ParseRequestURI), mac (net.ParseMAC), duration (strfmt's
 * ParseDuration), and the uuids (strfmt's patterns: dashes optional, any
 * case). Non-ASCII characters count as the letters and symbols the
 * patterns allow. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"

/* ---- uuid, uuid3, uuid4, uuid5 ------------------------------------------------------ */

/* `(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?V[0-9a-f]{3}-?W[0-9a-f]{3}-?[0-9a-f]{12}$`
 * where V is the version digit (any hex digit when 0) and W one of 89ab
 * for versions 4 and 5. */
static bool valid_uuid(const char *s, char version)
{
    static const size_t groups[] = {8, 4, 4, 4, 12};
    for (size_t g = 0; g < KR_ARRAY_LEN(groups); g++) {
        if (g > 0 && *s == '-')
            s++;
        for (size_t i = 0; i < groups[g]; i++, s++) {
            if (!isxdigit((unsigned char)*s))
                return false;
            if (g == 2 && i == 0 && version && *s != version)
                return false;
            if (g == 3 && i == 0 && (version == '4' || version == '5') && !strchr("89abAB", *s))
                return false;
        }
    }
    return *s == '\0';
}

/* ---- email: net/mail.ParseAddress --------------------------------------------------- */

/* RFC 5322 atext as Go reads it: printable ASCII but the specials, and
 * any non-ASCII byte; '.' when `dot`. */
static bool atext(unsigned char c, bool dot)
{
    if (c == '.')
        return dot;
    if (c >= 0x80)
        return true;
    return c > ' ' && c < 0x7f && !strchr("()<>[]:;@\\,\"", c);
}

static void skip_space(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* A dot-atom (no leading, trailing or double dot); false if none. */
static bool dot_atom(const char **p)
{
    const char *start = *p;
    while (atext((unsigned char)**p, true))
        (*p)++;
    size_t n = (size_t)(*p - start);
    return n > 0 && start[0] != '.' && start[n - 1] != '.' && !memmem(start, n, "..", 2);
}

/* A quoted string: qtext, whitespace and quoted pairs between quotes;
 * `empty` false when it held nothing. */
static bool quoted_string(const char **p, bool *empty)
{
    const char *s = *p + 1;
    *empty = true;
    for (; *s && *s != '"'; s++, *empty = false) {
        if (*s == '\\')
            s++;
        if (((unsigned char)*s < ' ' && *s != '\t') || *s == 0x7f)
            return false;
    }
    if (*s != '"')
        return false;
    *p = s + 1;
    return true;
}

/* addr-spec: a dot-atom or a non-empty quoted string, '@', a dot-atom
 * (Go's parser of the version kube-apiserver 1.32 is built with reads
 * no domain literal). */
static bool addr_spec(const char **p)
{
    bool empty;
    skip_space(p);
    if (**p == '"' ? !quoted_string(p, &empty) || empty : !dot_atom(p))
        return false;
    if (**p != '@')
        return false;
    (*p)++;
    skip_space(p);
    return dot_atom(p);
}

/* A display name: words (atoms, dots allowed, or quoted strings). */
static bool phrase(const char **p)
{
    bool any = false, empty;
    for (;;) {
        skip_space(p);
        const char *start = *p;
        if (**p == '"' && quoted_string(p, &empty)) {
            any = true;
            continue;
        }
        while (atext((unsigned char)**p, true))
            (*p)++;
        if (*p == start)
            return any;
        any = true;
    }
}

/* mailbox: an addr-spec alone or "[display name] <addr-spec>", with
 * nothing but blanks after it (comments and groups are not read: they
 * fail here). */
static bool valid_email(const char *s)
{
    const char *p = s;
    if (addr_spec(&p)) {
        skip_space(&p);
        return *p == '\0';
    }
    p = s;
    skip_space(&p);
    if (*p != '<' && !phrase(&p))
        return false;
    skip_space(&p);
    if (*p++ != '<' || !addr_spec(&p) || *p++ != '>')
        return false;
    skip_space(&p);
    return *p == '\0';
}

/* ---- hostname ------------------------------------------------------------------------ */

/* A letter, digit or (non-ASCII) letter or symbol of the pattern; advances
 * `*p` over the character. `letters`: letters only. */
static bool host_char(const char **p, bool letters)
{
    unsigned char c = (unsigned char)**p;
    if (c >= 0x80) {
        do
            (*p)++;
        while (((unsigned char)**p & 0xc0) == 0x80);
        return true;
    }
    if (!isalpha(c) && (letters || !isdigit(c)))
        return false;
    (*p)++;
    return true;
}

/* One label of `n` bytes: first and last characters alphanumeric, dashes
 * between, at most `max` characters; a single label (no dot) takes one
 * optional dash after its first character only. */
static bool host_label(const char *s, size_t n, size_t max, bool single)
{
    const char *p = s, *end = s + n;
    size_t chars = 0;
    bool last_dash = false;
    while (p < end) {
        bool dash = *p == '-';
        if (dash && (chars == 0 || (single && chars != 1)))
            return false;
        if (dash)
            p++;
        else if (!host_char(&p, false))
            return false;
        chars++;
        last_dash = dash;
    }
    return chars > 0 && chars <= max && (single || !last_dash) && p == end;
}

/* strfmt's HostnamePattern (a dash-less single label but for a dash after
 * its first character, or dotted labels ending in a top-level domain of
 * 2 to 63 letters), at most 255 bytes, every label at most 63. */
static bool valid_hostname(const char *s)
{
    size_t len = strlen(s);
    if (len > 255)
        return false;
    const char *dot = strrchr(s, '.');
    if (!dot)
        return len <= 63 && host_label(s, len, 64, true);
    const char *tld = dot + 1, *p = tld;
    size_t chars = 0;
    while (*p && host_char(&p, true))
        chars++;
    if (*p || chars < 2 || chars > 63 || strlen(tld) > 63)
        return false;
    for (const char *label = s; label < dot + 1;) {
        const char *next = strchr(label, '.');
        if (!host_label(label, (size_t)(next - label), 63, false) || next - label > 63)
            return false;
        label = next + 1;
    }
    return true;
}

/* ---- uri: url.ParseRequestURI -------------------------------------------------------- */

/* Go's unescape: every '%' starts two hex digits; in a host, a non-ASCII
 * byte's only (or %25), and no character that needs escaping there. */
static bool unescapes(const char *s, size_t n, bool host)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return false;
            int hi = isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0'
                                                      : tolower((unsigned char)s[i + 1]) - 'a' + 10;
            if (host && hi < 8 && strncmp(s + i, "%25", 3) != 0)
                return false;
            i += 2;
        } else if (host && c < 0x80 && !isalnum(c) && !strchr("-_.~!$&'()*+,;=:[]<>\"", c)) {
            return false;
        }
    }
    return true;
}

/* ":" followed by digits, or nothing. */
static bool optional_port(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (s[0] != ':')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* parseAuthority: [userinfo@]host[:port], a host in brackets for IPv6. */
static bool valid_authority(const char *s, size_t n)
{
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '@')
            at = s + i;
    const char *host = at ? at + 1 : s;
    size_t hn = (size_t)(s + n - host);
    if (hn > 0 && host[0] == '[') {
        const char *close = NULL;
        for (size_t i = 0; i < hn; i++)
            if (host[i] == ']')
                close = host + i;
        if (!close || !optional_port(close + 1, (size_t)(host + hn - close - 1)))
            return false;
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < hn; i++)
            if (host[i] == ':')
                colon = host + i;
        if (colon && !optional_port(colon, (size_t)(host + hn - colon)))
            return false;
    }
    if (!unescapes(host, hn, true))
        return false;
    for (const char *u = s; at && u < at; u++)
        if (!isalnum((unsigned char)*u) && !strchr("-._:~!$&'()*+,;=%@", *u))
            return false;
    return !at || unescapes(s, (size_t)(at - s), false);
}

/* A scheme, lowercase or not: a letter, then letters, digits, + - .;
 * its length, or 0 (-1: a ':' first, "missing protocol scheme"). */
static long scheme_length(const char *s)
{
    for (long i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalpha(c))
            continue;
        if (isdigit(c) || c == '+' || c == '-' || c == '.') {
            if (i == 0)
                return 0;
            continue;
        }
        return c == ':' ? (i == 0 ? -1 : i) : 0;
    }
    return 0;
}

/* url.ParseRequestURI: "*", an absolute path, or scheme:opaque or
 * scheme://authority/path, with no control characters. */
static bool valid_uri(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    if (!*s)
        return false;
    if (strcmp(s, "*") == 0)
        return true;
    long scheme = scheme_length(s);
    if (scheme < 0)
        return false;
    const char *rest = scheme ? s + scheme + 1 : s;
    size_t n = strcspn(rest, "?"); /* the query is not looked at */
    if (n == 0 || rest[0] != '/')
        return scheme > 0; /* scheme:opaque */
    const char *path = rest;
    if (scheme && n >= 2 && rest[1] == '/') {
        size_t a = 2;
        while (a < n && rest[a] != '/')
            a++;
        if (!valid_authority(rest + 2, a - 2))
            return false;
        path = rest + a;
        n -= a;
    }
    return unescapes(path, n, false);
}

/* ---- mac: net.ParseMAC --------------------------------------------------------------- */

/* Two hex digits at `s`, followed by `sep` unless at the end. */
static bool hex_pair(const char *s, const char *end, char sep)
{
    return isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) &&
           (s + 2 == end || s[2] == sep);
}

/* 6, 8 or 20 octets as xx:xx:..., xx-xx-... or xxxx.xxxx.... */
static bool valid_mac(const char *s)
{
    size_t len = strlen(s);
    const char *end = s + len;
    if (len < 14)
        return false;
    if (s[2] == ':' || s[2] == '-') {
        size_t n = (len + 1) / 3;
        if ((len + 1) % 3 != 0 || (n != 6 && n != 8 && n != 20))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!hex_pair(s + 3 * i, end, s[2]))
                return false;
        return true;
    }
    if (s[4] != '.')
        return false;
    size_t n = 2 * (len + 1) / 5;
    if ((len + 1) % 5 != 0 || (n != 6 && n != 8 && n != 20))
        return false;
    for (size_t i = 0; i < n / 2; i++)
        if (!isxdigit((unsigned char)s[5 * i]) || !isxdigit((unsigned char)s[5 * i + 1]) ||
            !hex_pair(s + 5 * i + 2, end, '.'))
            return false;
    return true;
}

/* ---- duration: strfmt.ParseDuration -------------------------------------------------- */

/* time.ParseDuration: [-+], then "0" or numbers, each with a unit of ns
 * us µs μs ms s m h, in all at most 2^63-1 ns (to a double's precision). */
static bool go_duration(const char *s)
{
    static const char *const units[] = {"ns", "us", "\xc2\xb5s", "\xce\xbcs", "ms", "s", "m", "h"};
    static const double ns[] = {1, 1e3, 1e3, 1e3, 1e6, 1e9, 60e9, 3600e9};
    double total = 0;
    if (*s == '-' || *s == '+')
        s++;
    if (strcmp(s, "0") == 0)
        return true;
    if (!*s)
        return false;
    while (*s) {
        const char *start = s;
        size_t whole = strspn(s, "0123456789"), frac = 0;
        s += whole;
        if (*s == '.') {
            frac = strspn(s + 1, "0123456789");
            s += 1 + frac;
        }
        if (whole + frac == 0)
            return false;
        double number = strtod(start, NULL);
        size_t u = strcspn(s, ".0123456789");
        size_t k = 0;
        while (k < KR_ARRAY_LEN(units) && !(strlen(units[k]) == u && strncmp(s, units[k], u) == 0))
            k++;
        if (k == KR_ARRAY_LEN(units))
            return false;
        total += number * ns[k];
        s += u;
    }
    return total < 9223372036854775808.0;
}

/* Whether strfmt's unit `unit` (lowercase, `n` bytes) is one it knows:
 * a variant exactly, or starting with the last variant of its group. */
static bool strfmt_unit(const char *unit, size_t n)
{
    static const char *const groups[][3] = {{"ns", "nano", NULL},  {"us", "\xc2\xb5s", "micro"},
                                            {"ms", "milli", NULL}, {"s", "sec", NULL},
                                            {"m", "min", NULL},    {"h", "hr", "hour"},
                                            {"d", "day", NULL},    {"w", "wk", "week"}};
    for (size_t g = 0; g < KR_ARRAY_LEN(groups); g++) {
        size_t last = groups[g][2] ? 2 : 1;
        for (size_t i = 0; i <= last; i++) {
            size_t vn = strlen(groups[g][i]);
            bool exact = vn == n && strncmp(unit, groups[g][i], n) == 0;
            bool prefix = i == last && vn <= n && strncmp(unit, groups[g][i], vn) == 0;
            if (exact || prefix)
                return true;
        }
    }
    return false;
}

/* strfmt.ParseDuration: time.ParseDuration's, or else some
 * `(\d+)\s*([A-Za-zµ]+)` in the text with a unit it knows (a number
 * beyond int64 fails it). */
static bool valid_duration(const char *s)
{
    if (go_duration(s))
        return true;
    bool ok = false;
    for (const char *p = s; *p;) {
        size_t digits = strspn(p, "0123456789");
        if (digits == 0) {
            p++;
            continue;
        }
        const char *q = p + digits;
        q += strspn(q, " \t\n\f\r");
        char unit[64];
        size_t n = 0;
        for (;;) {
            size_t step = isalpha((unsigned char)*q) ? 1 : strncmp(q, "\xc2\xb5", 2) == 0 ? 2 : 0;
            if (!step)
                break;
            for (size_t k = 0; k < step; k++, q++)
                if (n + 1 < sizeof(unit))
                    unit[n++] = (char)tolower((unsigned char)*q);
        }
        unit[n] = '\0';
        if (n > 0) {
            errno = 0;
            char *end;
            (void)strtoll(p, &end, 10);
            if (errno == ERANGE)
                return false;
            ok = ok || strfmt_unit(unit, n);
            p = q;
        } else {
            p += digits;
        }
    }
    return ok;
}

int ts_strfmt_check(const char *format, const char *s)
{
    if (strcmp(format, "uuid") == 0)
        return valid_uuid(s, 0);
    if (strcmp(format, "uuid3") == 0 || strcmp(format, "uuid4") == 0 ||
        strcmp(format, "uuid5") == 0)
        return valid_uuid(s, format[4]);
    if (strcmp(format, "email") == 0)
        return valid_email(s);
    if (strcmp(format, "hostname") == 0)
        return valid_hostname(s);
    if (strcmp(format, "uri") == 0)
        return valid_uri(s);
    if (strcmp(format, "mac") == 0)
        return valid_mac(s);
    if (strcmp(format, "duration") == 0)
        return valid_duration(s);
    return -1;
}
