/* libkreconcile — the label syntax rules and texts of apimachinery's
 * util/validation (qualified names, DNS-1123 subdomains, label values,
 * strconv.ParseInt), and a bounded message builder that prints values as
 * Go's %q does. Pure functions; never allocate. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile/selector.h"
#include "selector_internal.h"

/* ---- bounded message building (never allocates: works when memory is out) */

void kr_msg_append(kr_msg *m, const char *s, size_t len)
{
    size_t room = sizeof(m->text) - 1 - m->len;
    if (len > room)
        len = room;
    memcpy(m->text + m->len, s, len);
    m->len += len;
    m->text[m->len] = '\0';
}

void kr_msg_str(kr_msg *m, const char *s)
{
    kr_msg_append(m, s, strlen(s));
}

/* Go's %q: a double-quoted string with Go escapes, so that the bad value
 * in "Invalid value: ..." reads as the apiserver prints it. */
void kr_msg_quote(kr_msg *m, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    kr_msg_str(m, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        const char *named = NULL;
        switch (c) {
        case '"':
            named = "\\\"";
            break;
        case '\\':
            named = "\\\\";
            break;
        case '\a':
            named = "\\a";
            break;
        case '\b':
            named = "\\b";
            break;
        case '\f':
            named = "\\f";
            break;
        case '\n':
            named = "\\n";
            break;
        case '\r':
            named = "\\r";
            break;
        case '\t':
            named = "\\t";
            break;
        case '\v':
            named = "\\v";
            break;
        default:
            break;
        }
        if (named) {
            kr_msg_str(m, named);
        } else if (c < 0x20 || c == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            kr_msg_append(m, esc, 4);
        } else if (c < 0x80) {
            kr_msg_append(m, s + i, 1);
        } else {
            /* Multi-byte UTF-8 passes through when well formed; a stray
             * byte is printed as \xNN, as Go does. */
            size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
            bool ok = n > 0 && c < 0xf5 && i + n <= len;
            for (size_t k = 1; ok && k < n; k++)
                ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
            if (ok) {
                kr_msg_append(m, s + i, n);
                i += n - 1;
            } else {
                esc[0] = '\\';
                esc[1] = 'x';
                esc[2] = hex[c >> 4];
                esc[3] = hex[c & 15];
                kr_msg_append(m, esc, 4);
            }
        }
    }
    kr_msg_str(m, "\"");
}

/* ---- label syntax (apimachinery util/validation) -------------------------- */

#define QNAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_ERR                                                                                  \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "       \
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "      \
    "validation is '" QNAME_FMT "')"
#define DNS1123_SUBDOMAIN_ERR                                                                      \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "      \
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "          \
    "regex used for validation is "                                                                \
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define LABEL_VALUE_ERR                                                                            \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "       \
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "          \
    "'my_value',  or '12345', regex used for validation is '(" QNAME_FMT ")?')"

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool matches_qualified_name(const char *s, size_t len)
{
    if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)* */
static bool matches_dns1123_subdomain(const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!is_lower_alnum(s[i]) && s[i] != '-')
                return false;
            continue;
        }
        if (i == start || !is_lower_alnum(s[start]) || !is_lower_alnum(s[i - 1]))
            return false;
        start = i + 1;
    }
    return true;
}

bool kr_name_is_dns1123_label(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    return len <= 63 && !memchr(s, '.', len) && matches_dns1123_subdomain(s, len);
}

bool kr_name_is_dns1123_subdomain(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    return len <= 253 && matches_dns1123_subdomain(s, len);
}

void kr_label_key_errors(const char *key, size_t len, kr_msg *m)
{
    const char *slash = memchr(key, '/', len);
    const char *name = key;
    size_t name_len = len;
    int n_errs = 0;
    if (slash) {
        if (memchr(slash + 1, '/', len - (size_t)(slash + 1 - key))) {
            kr_msg_str(m, "a qualified name " QNAME_ERR " with an optional DNS subdomain prefix "
                          "and '/' (e.g. 'example.com/MyName')");
            return;
        }
        size_t prefix_len = (size_t)(slash - key);
        name = slash + 1;
        name_len = len - prefix_len - 1;
        if (prefix_len == 0) {
            kr_msg_str(m, "prefix part must be non-empty");
            n_errs++;
        } else {
            if (prefix_len > 253) {
                kr_msg_str(m, "prefix part must be no more than 253 characters");
                n_errs++;
            }
            if (!matches_dns1123_subdomain(key, prefix_len)) {
                kr_msg_str(m, n_errs++ ? "; " : "");
                kr_msg_str(m, "prefix part " DNS1123_SUBDOMAIN_ERR);
            }
        }
    }
    if (name_len == 0) {
        kr_msg_str(m, n_errs++ ? "; " : "");
        kr_msg_str(m, "name part must be non-empty");
    } else if (name_len > 63) {
        kr_msg_str(m, n_errs++ ? "; " : "");
        kr_msg_str(m, "name part must be no more than 63 characters");
    }
    if (!matches_qualified_name(name, name_len)) {
        kr_msg_str(m, n_errs++ ? "; " : "");
        kr_msg_str(m, "name part " QNAME_ERR);
    }
}

void kr_label_value_errors(const char *value, size_t len, kr_msg *m)
{
    if (len > 63)
        kr_msg_str(m, "must be no more than 63 characters");
    if (len > 0 && !matches_qualified_name(value, len)) {
        if (len > 63)
            kr_msg_str(m, "; ");
        kr_msg_str(m, LABEL_VALUE_ERR);
    }
}

bool kr_label_value_valid(const char *value, size_t len)
{
    return len <= 63 && (len == 0 || matches_qualified_name(value, len));
}

/* strconv.ParseInt(s, 10, 64): optional sign, decimal digits (any number
 * of leading zeros), within int64. */
bool kr_parse_int64(const char *s, size_t len, long long *out)
{
    size_t i = (len > 0 && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
    bool negative = i == 1 && s[0] == '-';
    if (i == len)
        return false;
    for (size_t k = i; k < len; k++)
        if (s[k] < '0' || s[k] > '9')
            return false;
    while (i + 1 < len && s[i] == '0')
        i++;
    if (len - i > 19)
        return false;
    char buf[24];
    buf[0] = negative ? '-' : '+';
    memcpy(buf + 1, s + i, len - i);
    buf[len - i + 1] = '\0';
    errno = 0;
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return false;
    *out = v;
    return true;
}
