/* libkreconcile-testserver — request bodies: Content-Type checks (415 for
 * unknown formats), JSON, YAML and Kubernetes protobuf decoding with the
 * apiserver's 400 messages, and the kind/apiVersion/name/namespace
 * agreement between body and URL. Callers hold ts->mu. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "testserver/ts_internal.h"
#include "testserver/ts_proto.h"

static bool media_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0)
        return false;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

bool ts_content_is_json(const ts_request *req)
{
    return !req->content_type || !*req->content_type ||
           media_is(req->content_type, "application/json");
}

bool ts_content_is_yaml(const ts_request *req)
{
    return req->content_type && media_is(req->content_type, "application/yaml");
}

bool ts_content_is_protobuf(const ts_request *req)
{
    return req->content_type && media_is(req->content_type, "application/vnd.kubernetes.protobuf");
}

json_t *ts_parse_protobuf_body(const ts_request *req, ts_response *resp)
{
    char msg[512];
    json_t *doc = ts_pb_decode_body((const unsigned char *)(req->body ? req->body : ""),
                                    req->body_len, msg, sizeof(msg));
    if (!doc)
        ts_respond_bad_request(resp, "error decoding protobuf: %s", msg);
    return doc;
}

void ts_respond_unsupported_media(ts_response *resp, const char *accepted)
{
    char *msg = kr_asprintf("the body of the request was in an unknown format - accepted media "
                            "types include: %s",
                            accepted);
    ts_respond_status(resp, 415, "UnsupportedMediaType", msg, NULL);
    kr_free(msg);
}

/* A value as sigs.k8s.io/yaml writes it in JSON: a whole float as an
 * integer (a replacement), containers walked (NULL). */
static json_t *as_yaml_writes(json_t *v)
{
    if (!json_is_real(v)) {
        ts_json_whole_numbers(v);
        return NULL;
    }
    double d = json_real_value(v);
    return d == floor(d) && fabs(d) < 9.2e18 ? json_integer((json_int_t)d) : NULL;
}

void ts_json_whole_numbers(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *item;
        json_object_foreach(v, k, item)
        {
            json_t *n = as_yaml_writes(item);
            if (n)
                json_object_set_new(v, k, n);
        }
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *n = as_yaml_writes(json_array_get(v, i));
        if (n)
            json_array_set_new(v, i, n);
    }
}

/* JSON text as encoding/json reads it into an interface{} (a map, the
 * converter's input): an integer beyond int64, which jansson refuses
 * ("too big integer"), is a float64. Such literals are read as floats, as
 * if written with ".0"; other errors as jansson reports them. */
json_t *ts_json_loadb(const char *text, size_t len, size_t flags, json_error_t *err)
{
    json_error_t own = {0};
    json_error_t *e = err ? err : &own;
    json_t *doc = json_loadb(text, len, flags, e);
    if (doc || strncmp(e->text, "too big", 7) != 0)
        return doc;
    kr_buf b = {0};
    bool in_string = false;
    for (size_t i = 0; i < len;) {
        char c = text[i];
        if (in_string || c == '"') {
            if (in_string && c == '\\' && i + 1 < len) {
                kr_buf_append(&b, text + i, 2);
                i += 2;
                continue;
            }
            in_string = c == '"' ? !in_string : in_string;
            kr_buf_append(&b, &c, 1);
            i++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            kr_buf_append(&b, &c, 1);
            i++;
            continue;
        }
        size_t end = i + 1;
        bool whole = true;
        while (end < len && strchr("0123456789.eE+-", text[end]) && text[end]) {
            whole = whole && !strchr(".eE", text[end]);
            end++;
        }
        kr_buf_append(&b, text + i, end - i);
        if (whole) {
            errno = 0;
            (void)strtoll(text + i, NULL, 10);
            if (errno == ERANGE)
                kr_buf_append_str(&b, ".0");
        }
        i = end;
    }
    doc = b.data ? json_loadb(b.data, b.len, flags, e) : NULL;
    kr_buf_free(&b);
    return doc;
}

json_t *ts_decode_body(const ts_request *req, size_t json_flags, bool yaml, const char *what,
                       ts_response *resp)
{
    json_error_t jerr;
    json_t *doc;
    if (req->pre && req->pre->doc) {
        /* Parsed before locking: the same document our flags give. */
        doc = req->pre->doc;
        req->pre->doc = NULL;
    } else {
        doc = ts_json_loadb(req->body ? req->body : "", req->body_len, json_flags, &jerr);
    }
    if (!doc && yaml) {
        kr_error_t err = {0};
        if (ts_yaml_parse(req->body ? req->body : "", req->body_len, &doc, &err) != 0) {
            ts_respond_bad_request(resp, "error decoding YAML: %s", err.message);
            return NULL;
        }
    }
    if (!doc)
        ts_respond_bad_request(resp, "%s: %s", what, jerr.text);
    else if (yaml)
        ts_json_whole_numbers(doc); /* YAML's conversion to JSON writes 80.0 as 80 */
    return doc;
}

void ts_prebody_parse(const ts_request *req, ts_prebody *pre)
{
    pre->doc = NULL;
    size_t i = 0;
    while (i < req->body_len && req->body[i] && strchr(" \t\r\n", req->body[i]))
        i++;
    if (req->body_too_large || i == req->body_len || (req->body[i] != '{' && req->body[i] != '['))
        return;
    pre->doc = json_loadb(req->body, req->body_len, 0, NULL);
}

json_t *ts_parse_body(const ts_request *req, bool yaml, ts_response *resp)
{
    json_t *doc = ts_decode_body(req, 0, yaml, "couldn't get version/kind; json parse error", resp);
    if (!doc)
        return NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        ts_respond_bad_request(resp, "couldn't get version/kind; json parse error: json: cannot "
                                     "unmarshal non-object into Go value");
        return NULL;
    }
    return doc;
}

/* The package of the internal type a built-in (group, kind) decodes to
 * in kube-apiserver's scheme: the package name Go prints the type with
 * ("core.Pod"); NULL for the groups other schemes serve (definitions,
 * APIServices). The extensions group's types are others' by now. */
static const char *internal_package(const char *group, const char *kind)
{
    static const struct {
        const char *group, *package;
    } groups[] = {
        {"", "core"},
        {"apps", "apps"},
        {"batch", "batch"},
        {"autoscaling", "autoscaling"},
        {"policy", "policy"},
        {"rbac.authorization.k8s.io", "rbac"},
        {"networking.k8s.io", "networking"},
        {"storage.k8s.io", "storage"},
        {"scheduling.k8s.io", "scheduling"},
        {"coordination.k8s.io", "coordination"},
        {"discovery.k8s.io", "discovery"},
        {"node.k8s.io", "node"},
        {"certificates.k8s.io", "certificates"},
        {"admissionregistration.k8s.io", "admissionregistration"},
        {"flowcontrol.apiserver.k8s.io", "flowcontrol"},
        {"events.k8s.io", "core"},
        {"authentication.k8s.io", "authentication"},
        {"authorization.k8s.io", "authorization"},
        {"resource.k8s.io", "resource"},
        {"storagemigration.k8s.io", "storagemigration"},
        {"internal.apiserver.k8s.io", "apiserverinternal"},
    };
    if (strcmp(group, "extensions") == 0)
        return strcmp(kind, "Ingress") == 0 || strcmp(kind, "NetworkPolicy") == 0 ? "networking"
               : strcmp(kind, "Scale") == 0                                       ? "autoscaling"
                                                                                  : "apps";
    for (size_t i = 0; i < KR_ARRAY_LEN(groups); i++)
        if (strcmp(group, groups[i].group) == 0)
            return groups[i].package;
    return NULL;
}

int ts_check_builtin_decode(const ts_resource *res, const json_t *obj, ts_response *resp)
{
    const char *into = res->crd ? NULL : internal_package(res->group, res->kind);
    const json_t *jk = json_object_get(obj, "kind"), *jav = json_object_get(obj, "apiVersion");
    if (!into || (jk && !json_is_string(jk)) || (jav && !json_is_string(jav)))
        return 0; /* a custom resource, another scheme's, not strings: ts_check_kind's */
    /* the body's group, version and kind, the endpoint's where it has none */
    const char *kind = jk && *json_string_value(jk) ? json_string_value(jk) : res->kind;
    const char *av = jav && *json_string_value(jav) ? json_string_value(jav) : res->api_version;
    const char *slash = strrchr(av, '/');
    const char *version = slash ? slash + 1 : av;
    char group[256];
    snprintf(group, sizeof(group), "%.*s", slash ? (int)(slash - av) : 0, av);
    if (strcmp(kind, res->kind) == 0 && strcmp(av, res->api_version) == 0)
        return 0;
    const char *from = ts_pb_find_kind(av, kind) ? internal_package(group, kind) : NULL;
    if (from && strcmp(from, into) == 0 && strcmp(kind, res->kind) == 0)
        return 0; /* converts: the handler's check of the version answers */
    if (from)
        ts_respond_bad_request(resp,
                               "%s in version \"%s\" cannot be handled as a %s: converting "
                               "(%s.%s) to (%s.%s): unknown conversion",
                               kind, version, res->kind, version, kind, into, res->kind);
    else
        ts_respond_bad_request(resp,
                               "%s in version \"%s\" cannot be handled as a %s: no kind \"%s\" "
                               "is registered for version \"%s\" in scheme "
                               "\"pkg/api/legacyscheme/scheme.go:30\"",
                               kind, version, res->kind, kind, av);
    return KR_EPARSE;
}

/* Fill or check kind and apiVersion against the endpoint. */
int ts_check_kind(const ts_resource *res, json_t *obj, ts_response *resp)
{
    char *av = ts_api_version(res);
    if (!av)
        return KR_ENOMEM;
    const json_t *jk = json_object_get(obj, "kind"), *jav = json_object_get(obj, "apiVersion");
    const char *kind = json_is_string(jk) ? json_string_value(jk) : "";
    const char *api = json_is_string(jav) ? json_string_value(jav) : "";
    int rc = 0;
    if ((jk && !json_is_string(jk)) || (jav && !json_is_string(jav))) {
        ts_respond_bad_request(resp, "couldn't get version/kind; json parse error: kind and "
                                     "apiVersion must be strings");
        rc = KR_EPARSE;
    } else if (*api && strcmp(api, av) != 0) {
        ts_respond_bad_request(resp,
                               "the API version in the data (%s) does not match the expected "
                               "API version (%s)",
                               api, av);
        rc = KR_EPARSE;
    } else if (*kind && strcmp(kind, res->kind) != 0) {
        ts_respond_bad_request(resp,
                               "the kind in the data (%s) does not match the expected kind (%s)",
                               kind, res->kind);
        rc = KR_EPARSE;
    } else {
        json_object_set_new(obj, "kind", json_string(res->kind));
        json_object_set_new(obj, "apiVersion", json_string(av));
    }
    kr_free(av);
    return rc;
}

/* The URL namespace wins; a different one in the body is a 400. */
int ts_check_namespace(const ts_route *rt, json_t *obj, ts_response *resp)
{
    json_t *md = ts_meta(obj);
    if (!md) {
        ts_respond_bad_request(resp, "metadata must be an object");
        return KR_EPARSE;
    }
    const json_t *jns = json_object_get(md, "namespace");
    const char *ns = json_is_string(jns) ? json_string_value(jns) : "";
    if (!rt->res->namespaced) {
        json_object_del(md, "namespace");
        return 0;
    }
    if (*ns && strcmp(ns, rt->ns) != 0) {
        ts_respond_bad_request(resp, "the namespace of the provided object does not match the "
                                     "namespace sent on the request");
        return KR_EPARSE;
    }
    json_object_set_new(md, "namespace", json_string(rt->ns));
    return 0;
}

/* PUT and PATCH: the body's name must be the URL's (an absent one is filled). */
int ts_check_name(const ts_route *rt, json_t *obj, ts_response *resp)
{
    json_t *md = ts_meta(obj);
    const json_t *jn = json_object_get(md, "name");
    const char *name = json_is_string(jn) ? json_string_value(jn) : "";
    if (*name && strcmp(name, rt->name) != 0) {
        ts_respond_bad_request(resp,
                               "the name of the object (%s) does not match the name on the URL "
                               "(%s)",
                               name, rt->name);
        return KR_EPARSE;
    }
    json_object_set_new(md, "name", json_string(rt->name));
    return 0;
}

static void add_cause(json_t *causes, const char *reason, const char *field, const char *message)
{
    json_array_append_new(
        causes, json_pack("{s:s, s:s, s:s}", "reason", reason, "message", message, "field", field));
}

/* ValidateDryRun: every dryRun value "All"; the values shown as Go's %#v
 * of the []string. */
static void check_dry_run(const ts_request *req, json_t *causes, bool *dry)
{
    *dry = false;
    bool bad = false;
    kr_buf b = {0};
    kr_buf_append_str(&b, "Unsupported value: []string{");
    for (size_t i = 0, n = 0; i < req->nquery; i++) {
        if (strcmp(req->query[i].key, "dryRun") != 0)
            continue;
        kr_buf_append_str(&b, n++ ? ", " : "");
        ts_go_quote(&b, req->query[i].value);
        if (strcmp(req->query[i].value, "All") == 0)
            *dry = true;
        else
            bad = true;
    }
    kr_buf_append_str(&b, "}: supported values: \"All\"");
    if (bad)
        add_cause(causes, "FieldValueNotSupported", "dryRun",
                  b.data ? b.data : "Unsupported value");
    kr_buf_free(&b);
}

/* The next UTF-8 code point of s (U+FFFD for a bad byte, as Go's range). */
static unsigned long next_rune(const unsigned char *s, size_t *len)
{
    int n = s[0] < 0x80             ? 1
            : (s[0] & 0xe0) == 0xc0 ? 2
            : (s[0] & 0xf0) == 0xe0 ? 3
            : (s[0] & 0xf8) == 0xf0 ? 4
                                    : 0;
    unsigned long cp = n == 1   ? s[0]
                       : n == 2 ? (s[0] & 0x1fu)
                       : n == 3 ? (s[0] & 0x0fu)
                                : (s[0] & 0x07u);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            n = 0;
            break;
        }
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    *len = n ? (size_t)n : 1;
    return n ? cp : 0xfffd;
}

/* Not unicode.IsPrint: the control characters, and the spaces and format
 * characters other than ' ' (the rest of Unicode's unprintables, unassigned
 * code points among them, pass here). */
static bool unprintable(unsigned long c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0xad || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
           (c >= 0x205f && c <= 0x2064) || c == 0x3000 || c == 0xfeff;
}

/* ValidateFieldManager: at most 128 bytes, every character printable. */
static void check_field_manager(const char *fm, json_t *causes)
{
    if (!fm)
        return;
    if (strlen(fm) > 128)
        add_cause(causes, "FieldValueTooLong", "fieldManager",
                  "Too long: may not be more than 128 bytes");
    for (size_t i = 0, len = 0; fm[i]; i += len) {
        unsigned long c = next_rune((const unsigned char *)fm + i, &len);
        if (!unprintable(c))
            continue;
        kr_buf b = {0};
        kr_buf_append_str(&b, "Invalid value: ");
        ts_go_quote(&b, fm);
        kr_buf_printf(&b, ": invalid character U+%04lX (at position %zu)", c, i);
        add_cause(causes, "FieldValueInvalid", "fieldManager", b.data ? b.data : "Invalid value");
        kr_buf_free(&b);
    }
}

static const char *const OPTIONS_KIND[] = {"CreateOptions", "UpdateOptions", "PatchOptions",
                                           "PatchOptions"};

int ts_write_options(const ts_request *req, ts_response *resp, ts_options_kind kind, bool *dry)
{
    json_t *causes = json_array();
    if (!causes) {
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        return -1;
    }
    const char *fm = ts_query(req, "fieldManager");
    if (kind == TS_OPTS_APPLY && (!fm || !*fm))
        add_cause(causes, "FieldValueRequired", "fieldManager",
                  "Required value: is required for apply patch");
    if (kind == TS_OPTS_PATCH && ts_query(req, "force"))
        add_cause(causes, "FieldValueForbidden", "force",
                  "Forbidden: may not be specified for non-apply patch");
    check_field_manager(fm, causes);
    check_dry_run(req, causes, dry);
    const char *fv = ts_query(req, "fieldValidation");
    if (fv && *fv && strcmp(fv, "Ignore") != 0 && strcmp(fv, "Warn") != 0 &&
        strcmp(fv, "Strict") != 0) {
        kr_buf b = {0};
        kr_buf_append_str(&b, "Unsupported value: ");
        ts_go_quote(&b, fv);
        kr_buf_append_str(&b, ": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
        add_cause(causes, "FieldValueNotSupported", "fieldValidation",
                  b.data ? b.data : "Unsupported value");
        kr_buf_free(&b);
    }
    int rc = 0;
    if (json_array_size(causes) > 0) {
        ts_respond_invalid_causes(resp, OPTIONS_KIND[kind], "meta.k8s.io", "", causes);
        rc = -1;
    }
    json_decref(causes);
    return rc;
}

int ts_dry_run(const ts_request *req, ts_response *resp, const char *options_kind, bool *dry)
{
    json_t *causes = json_array();
    if (!causes) {
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        return -1;
    }
    check_dry_run(req, causes, dry);
    int rc = 0;
    if (json_array_size(causes) > 0) {
        ts_respond_invalid_causes(resp, options_kind, "meta.k8s.io", "", causes);
        rc = -1;
    }
    json_decref(causes);
    return rc;
}

/* ---- duplicate keys ------------------------------------------------------------------ */

/* A walk of a JSON text that jansson has read already (so well formed), as
 * sigs.k8s.io/json's strict decoding meets it: each key that an object
 * has twice is a `duplicate field` named by its path ("data.a",
 * "spec.containers[0].name"), at most 100, each once. The document is
 * rebuilt with the last value winning; with `merge`, as a Go struct or
 * map takes a second object for a key (a built-in kind), an object merges
 * into the one before it. */
typedef struct dup_walk {
    const char *s;
    size_t n, i;
    kr_buf path;
    json_t *dups; /* [[path, offset of the second key], ...] */
    json_t *keys; /* {path: offset of its first key} */
    bool merge, oom;
} dup_walk;

static void dup_ws(dup_walk *d)
{
    while (d->i < d->n && d->s[d->i] && strchr(" \t\r\n", d->s[d->i]))
        d->i++;
}

/* The token at d->i (a string, or a number or literal) as jansson reads it. */
static json_t *dup_scalar(dup_walk *d)
{
    size_t start = d->i;
    if (d->s[d->i] == '"') {
        for (d->i++; d->i < d->n && d->s[d->i] != '"'; d->i++)
            if (d->s[d->i] == '\\')
                d->i++;
        d->i++;
    } else {
        while (d->i < d->n && d->s[d->i] && !strchr(",]} \t\r\n", d->s[d->i]))
            d->i++;
    }
    json_t *v = ts_json_loadb(d->s + start, d->i - start, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v)
        d->oom = true;
    return v;
}

static void dup_merge(json_t *into, json_t *from)
{
    const char *k;
    json_t *v;
    json_object_foreach(from, k, v)
    {
        json_t *old = json_object_get(into, k);
        if (json_is_object(old) && json_is_object(v))
            dup_merge(old, v);
        else
            json_object_set(into, k, v);
    }
}

static void dup_record(dup_walk *d, const char *key, size_t at)
{
    if (json_array_size(d->dups) >= 100)
        return;
    size_t mark = d->path.len;
    kr_buf_printf(&d->path, "%s%s", mark ? "." : "", key);
    const char *p = d->path.data ? d->path.data : "";
    size_t i;
    json_t *seen;
    bool known = false;
    json_array_foreach(d->dups, i, seen) known =
        known || strcmp(json_string_value(json_array_get(seen, 0)), p) == 0;
    if (!known && json_array_append_new(d->dups, json_pack("[s,I]", p, (json_int_t)at)) != 0)
        d->oom = true;
    kr_buf_truncate(&d->path, mark);
}

static json_t *dup_value(dup_walk *d)
{
    dup_ws(d);
    if (d->i >= d->n || d->oom)
        return NULL;
    char c = d->s[d->i];
    if (c != '{' && c != '[')
        return dup_scalar(d);
    json_t *out = c == '{' ? json_object() : json_array();
    if (!out)
        d->oom = true;
    d->i++;
    size_t mark = d->path.len;
    for (size_t idx = 0; !d->oom; idx++) {
        dup_ws(d);
        if (d->i >= d->n || d->s[d->i] == '}' || d->s[d->i] == ']')
            break;
        if (d->s[d->i] == ',') {
            d->i++;
            dup_ws(d);
        }
        json_t *v;
        if (c == '[') {
            kr_buf_printf(&d->path, "[%zu]", idx);
            v = dup_value(d);
            if (v && json_array_append_new(out, v) != 0)
                d->oom = true;
        } else {
            size_t at = d->i;
            json_t *key = dup_scalar(d);
            const char *k = json_string_value(key);
            dup_ws(d);
            d->i++; /* the colon */
            json_t *old = k ? json_object_get(out, k) : NULL;
            if (old)
                dup_record(d, k, at);
            kr_buf_printf(&d->path, "%s%s", mark ? "." : "", k ? k : "");
            const char *p = d->path.data ? d->path.data : "";
            if (!json_object_get(d->keys, p) &&
                json_object_set_new(d->keys, p, json_integer((json_int_t)at)) != 0)
                d->oom = true;
            v = dup_value(d);
            if (d->merge && json_is_object(old) && json_is_object(v))
                dup_merge(old, v);
            else if (k && v && json_object_set(out, k, v) != 0)
                d->oom = true;
            json_decref(v);
            json_decref(key);
        }
        kr_buf_truncate(&d->path, mark);
    }
    d->i++;
    if (d->oom) {
        json_decref(out);
        return NULL;
    }
    return out;
}

int ts_body_duplicates(const ts_request *req, bool merge, json_t **doc, json_t **dups)
{
    *dups = NULL;
    if (req->body && ts_content_is_yaml(req)) {
        /* go-yaml's strict reading of it: one error, before any other */
        char *yerr = NULL;
        if (ts_yaml_duplicates(req->body, req->body_len, &yerr) != 0)
            return KR_ENOMEM;
        if (!yerr)
            return 0;
        *dups = json_pack("{s:[s]}", "first", yerr);
        kr_free(yerr);
        return *dups ? 0 : KR_ENOMEM;
    }
    if (!req->body || ts_content_is_protobuf(req))
        return 0;
    /* The usual body has no key twice: one strict parse says so at the
     * cost of a parse, where the walk reads each scalar on its own */
    json_t *strict = json_loadb(req->body, req->body_len,
                                JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (strict) {
        json_decref(strict);
        return 0;
    }
    dup_walk d = {.s = req->body,
                  .n = req->body_len,
                  .dups = json_array(),
                  .keys = json_object(),
                  .merge = merge};
    json_t *rebuilt = d.dups && d.keys ? dup_value(&d) : NULL;
    kr_buf_free(&d.path);
    int rc = !rebuilt || d.oom ? KR_ENOMEM : 0;
    if (rc == 0 && json_array_size(d.dups) > 0) {
        *dups = json_pack("{s:o, s:o}", "dups", d.dups, "keys", d.keys);
        d.dups = d.keys = NULL;
        rc = *dups ? 0 : KR_ENOMEM;
    }
    if (rc == 0 && *dups) {
        json_decref(*doc);
        *doc = rebuilt;
        rebuilt = NULL;
    }
    json_decref(rebuilt);
    json_decref(d.dups);
    json_decref(d.keys);
    return rc;
}

/* Go's struct for a JSON patch operation, as kube-apiserver's strict
 * check of a JSON patch declares it. */
static bool json_patch_field(const char *k)
{
    return strcmp(k, "op") == 0 || strcmp(k, "path") == 0 || strcmp(k, "from") == 0 ||
           strcmp(k, "value") == 0;
}

/* Whether path p lies inside (or is) the field `field`. */
static bool path_within(const char *p, const char *field)
{
    size_t n = strlen(field);
    return strncmp(p, field, n) == 0 && (p[n] == '\0' || p[n] == '.' || p[n] == '[');
}

int ts_json_patch_strict(const ts_request *req, json_t **doc, json_t **errs)
{
    *errs = NULL;
    json_t *dups = NULL;
    if (ts_body_duplicates(req, false, doc, &dups) != 0)
        return KR_ENOMEM;
    const json_t *dlist = json_object_get(dups, "dups");
    const json_t *keys = json_object_get(dups, "keys");
    /* [[offset, text], ...]: the unknown fields, then the duplicates not
     * inside one (the decoder skips an unknown field's value) */
    json_t *found = json_array();
    bool oom = !found;
    size_t i, j;
    json_t *op, *d;
    json_array_foreach(*doc, i, op)
    {
        const char *k;
        json_t *v;
        json_object_foreach(op, k, v)
        {
            if (json_patch_field(k) || oom)
                continue;
            char *path = kr_asprintf("[%zu].%s", i, k);
            char *text = path ? kr_asprintf("json patch unknown field \"%s\"", path) : NULL;
            const json_t *at = path ? json_object_get(keys, path) : NULL;
            json_t *e =
                text ? json_pack("[I,s,s]", at ? json_integer_value(at) : (json_int_t)i, text, path)
                     : NULL;
            oom = !e || json_array_append_new(found, e) != 0;
            kr_free(text);
            kr_free(path);
        }
    }
    size_t unknown = json_array_size(found);
    json_array_foreach(dlist, i, d)
    {
        const char *p = json_string_value(json_array_get(d, 0));
        bool skipped = false;
        for (j = 0; j < unknown; j++)
            skipped =
                skipped ||
                path_within(p, json_string_value(json_array_get(json_array_get(found, j), 2)));
        if (skipped || oom)
            continue;
        char *text = kr_asprintf("json patch duplicate field \"%s\"", p);
        json_t *e =
            text ? json_pack("[I,s,s]", json_integer_value(json_array_get(d, 1)), text, p) : NULL;
        oom = !e || json_array_append_new(found, e) != 0;
        kr_free(text);
    }
    /* in the body's order (an insertion sort: few, and stable) */
    size_t n = json_array_size(found);
    for (i = 1; i < n && !oom; i++)
        for (j = i; j > 0; j--) {
            json_t *a = json_array_get(found, j - 1), *b = json_array_get(found, j);
            if (json_integer_value(json_array_get(a, 0)) <=
                json_integer_value(json_array_get(b, 0)))
                break;
            json_incref(a);
            json_array_set(found, j - 1, b);
            json_array_set_new(found, j, a);
        }
    json_t *out = oom ? NULL : json_array();
    json_array_foreach(found, i, d)
    {
        if (!out || json_array_append(out, json_array_get(d, 1)) != 0) {
            json_decref(out);
            out = NULL;
            break;
        }
    }
    json_decref(found);
    json_decref(dups);
    *errs = out;
    return out ? 0 : KR_ENOMEM;
}
