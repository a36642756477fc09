/* libkreconcile-testserver — object metadata helpers: name syntax (DNS-1123),
 * uids, timestamps, random numbers and the "did the spec change" test
 * that drives metadata.generation. Pure helpers; no locking. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testserver/ts_internal.h"

const char *ts_meta_str(const json_t *obj, const char *field)
{
    const json_t *md = json_object_get(obj, "metadata");
    const json_t *v = json_object_get(md, field);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const json_t *ts_json_path(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    const char *p = path;
    if (*p == '{') /* "{.a.b}" is the same path */
        p++;
    while (cur && *p && *p != '}') {
        char key[256];
        size_t n = 0;
        if (*p == '.') {
            for (p++; *p && *p != '.' && *p != '[' && *p != '}' && n + 1 < sizeof(key); p++) {
                if (*p == '\\' && p[1])
                    p++;
                key[n++] = *p;
            }
            key[n] = '\0';
            cur = json_object_get(cur, key);
        } else if (*p == '[' && (p[1] == '\'' || p[1] == '"')) {
            char q = p[1];
            for (p += 2; *p && *p != q && n + 1 < sizeof(key); p++)
                key[n++] = *p;
            key[n] = '\0';
            if (*p != q || p[1] != ']')
                return NULL;
            p += 2;
            cur = json_object_get(cur, key);
        } else if (*p == '[' && isdigit((unsigned char)p[1])) {
            char *end;
            unsigned long idx = strtoul(p + 1, &end, 10);
            if (*end != ']')
                return NULL;
            p = end + 1;
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
    }
    return cur;
}

json_t *ts_meta(json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    if (json_is_object(md))
        return md;
    md = json_object();
    if (!md || json_object_set_new(obj, "metadata", md) != 0)
        return NULL;
    return md;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool valid_label_segment(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !isalnum((unsigned char)s[0]) ||
        !isalnum((unsigned char)s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-'))
            return false;
    }
    return true;
}

/* The regular expressions of apimachinery's pkg/util/validation, without
 * their length limits (checked apart, as there). */

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? */
static bool matches_label(const char *s, size_t len)
{
    if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)* */
static bool matches_subdomain(const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.')
            continue;
        if (!matches_label(s + start, i - start))
            return false;
        start = i + 1;
    }
    return true;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool matches_qualified(const char *s, size_t len)
{
    if (len == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

#define QNAME_ERR                                                                                  \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "         \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define SUBDOMAIN_ERR                                                                              \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "   \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "  \
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

/* DNS-1123 subdomain: dot-separated labels, 253 characters at most. */
bool ts_valid_subdomain(const char *name)
{
    size_t len = strlen(name);
    return len <= 253 && matches_subdomain(name, len);
}

/* IsQualifiedName's messages, counted into why[n]. */
static size_t qualified_name_problems(const char *v, const char **why)
{
    size_t n = 0;
    const char *slash = strchr(v, '/');
    const char *name = v;
    if (slash && strchr(slash + 1, '/')) {
        why[0] = "a qualified name " QNAME_ERR " with an optional DNS subdomain prefix and '/' "
                 "(e.g. 'example.com/MyName')";
        return 1;
    }
    if (slash) {
        size_t plen = (size_t)(slash - v);
        name = slash + 1;
        if (plen == 0)
            why[n++] = "prefix part must be non-empty";
        else {
            if (plen > 253)
                why[n++] = "prefix part must be no more than 253 characters";
            if (!matches_subdomain(v, plen))
                why[n++] = "prefix part " SUBDOMAIN_ERR;
        }
    }
    size_t len = strlen(name);
    if (len == 0)
        why[n++] = "name part must be non-empty";
    else if (len > 63)
        why[n++] = "name part must be no more than 63 characters";
    if (!matches_qualified(name, len))
        why[n++] = "name part " QNAME_ERR;
    return n;
}

size_t ts_name_problems(ts_name_rule rule, const char *v, const char *why[TS_NAME_PROBLEMS_MAX])
{
    size_t len = strlen(v), n = 0;
    switch (rule) {
    case TS_DNS1123_LABEL:
        if (len > 63)
            why[n++] = "must be no more than 63 characters";
        if (!matches_label(v, len))
            why[n++] = matches_subdomain(v, len) ? "must not contain dots" : ts_label_message;
        break;
    case TS_DNS1123_SUBDOMAIN:
        if (len > 253)
            why[n++] = "must be no more than 253 characters";
        if (!matches_subdomain(v, len))
            why[n++] = SUBDOMAIN_ERR;
        break;
    case TS_DNS1035_LABEL:
        if (len > 63)
            why[n++] = "must be no more than 63 characters";
        if (!matches_label(v, len) || !(v[0] >= 'a' && v[0] <= 'z'))
            why[n++] = "a DNS-1035 label must consist of lower case alphanumeric characters or "
                       "'-', start with an alphabetic character, and end with an alphanumeric "
                       "character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
                       "'[a-z]([-a-z0-9]*[a-z0-9])?')";
        break;
    case TS_QUALIFIED_NAME:
        n = qualified_name_problems(v, why);
        break;
    case TS_LABEL_VALUE:
        if (len > 63)
            why[n++] = "must be no more than 63 characters";
        if (len > 0 && !matches_qualified(v, len))
            why[n++] = "a valid label must be an empty string or consist of alphanumeric "
                       "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                       "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                       "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
        break;
    }
    return n;
}

bool ts_valid_label_name(const char *name)
{
    return valid_label_segment(name, strlen(name));
}

bool ts_valid_label(const char *s, size_t len)
{
    return valid_label_segment(s, len);
}

const char ts_label_message[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **ts_sorted_keys(const json_t *map, size_t *n)
{
    *n = 0;
    size_t size = json_object_size(map);
    const char **keys = size ? kr_calloc(size, sizeof(const char *)) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v)
    {
        if (keys)
            keys[(*n)++] = k;
    }
    if (keys)
        qsort((void *)keys, *n, sizeof(const char *), cmp_key);
    return keys;
}

unsigned long long ts_rand(kr_testserver_t *ts)
{
    return kr_rng_next(&ts->rng); /* reproducible from opts.seed; callers hold ts->mu */
}

char *ts_uid_new(kr_testserver_t *ts)
{
    unsigned long long a = ts_rand(ts), b = ts_rand(ts);
    return kr_asprintf("%08llx-%04llx-4%03llx-%04llx-%012llx", a >> 32, (a >> 16) & 0xffff,
                       a & 0xfff, ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
}

void ts_timestamp(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

uint64_t ts_now_ms(void)
{
    return kr_clock_monotonic_ms();
}

static bool skipped(const char *key, const char *const *skip, size_t nskip)
{
    for (size_t i = 0; i < nskip; i++)
        if (strcmp(key, skip[i]) == 0)
            return true;
    return false;
}

static size_t count_kept(const json_t *obj, const char *const *skip, size_t nskip)
{
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        (void)v;
        n += !skipped(key, skip, nskip);
    }
    return n;
}

bool ts_equal_except(const json_t *a, const json_t *b, const char *const *skip, size_t nskip)
{
    if (!a && !b)
        return true;
    if ((a && !json_is_object(a)) || (b && !json_is_object(b)))
        return json_equal((json_t *)a, (json_t *)b);
    if (!a || !b)
        return count_kept(a ? a : b, skip, nskip) == 0;
    size_t na = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)a, key, v)
    {
        if (skipped(key, skip, nskip))
            continue;
        na++;
        json_t *w = json_object_get(b, key);
        if (!w || !json_equal(v, w))
            return false;
    }
    return na == count_kept(b, skip, nskip);
}

/* generation moves when anything outside metadata (and status, when the
 * kind has a status subresource) changes; an EndpointSlice's also when
 * its labels do (they name its service and its managing controller). */
bool ts_spec_equal(const ts_resource *res, const json_t *a, const json_t *b)
{
    static const char *const skip[] = {"metadata", "kind", "apiVersion", "status"};
    if (ts_resource_is(res, "discovery.k8s.io", "endpointslices")) {
        const json_t *la = json_object_get(json_object_get(a, "metadata"), "labels");
        const json_t *lb = json_object_get(json_object_get(b, "metadata"), "labels");
        bool empty_a = json_object_size(la) == 0, empty_b = json_object_size(lb) == 0;
        if (!(empty_a && empty_b) && !(la && lb && json_equal(la, lb)))
            return false;
    }
    return ts_equal_except(a, b, skip, res->has_status ? 4 : 3);
}

char *ts_api_version(const ts_resource *res)
{
    return kr_strdup(res->api_version);
}
