/* libkreconcile-testserver — request bodies: Content-Type checks (415 for
 * unknown formats), JSON, YAML and Kubernetes protobuf decoding with the
 * apiserver's 400 messages, and the kind/apiVersion/name/namespace
 * agreement between body and URL. Callers hold ts->mu. */
#include <math.h>
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

json_t *ts_decode_body(const ts_request *req, size_t json_flags, bool yaml, const char *what,
                       ts_response *resp)
{
    json_error_t jerr;
    json_t *doc;
    if (req->pre && req->pre->doc) {
        /* Parsed without duplicate keys before locking: the same document
         * any of our flags would give. */
        doc = req->pre->doc;
        req->pre->doc = NULL;
    } else {
        doc = json_loadb(req->body ? req->body : "", req->body_len, json_flags, &jerr);
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
    pre->doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
}

json_t *ts_parse_body(const ts_request *req, bool yaml, ts_response *resp)
{
    json_t *doc = ts_decode_body(req, JSON_REJECT_DUPLICATES, yaml,
                                 "couldn't get version/kind; json parse error", resp);
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

int ts_dry_run(const ts_request *req, ts_response *resp, const char *options_kind, bool *dry)
{
    *dry = false;
    for (size_t i = 0; i < req->nquery; i++) {
        if (strcmp(req->query[i].key, "dryRun") != 0)
            continue;
        if (strcmp(req->query[i].value, "All") != 0) {
            char *cause = kr_asprintf("Unsupported value: \"%s\": supported values: \"All\"",
                                      req->query[i].value);
            ts_respond_invalid(resp, options_kind, "meta.k8s.io", "", "dryRun",
                               "FieldValueNotSupported", cause ? cause : "Unsupported value");
            kr_free(cause);
            return -1;
        }
        *dry = true;
    }
    return 0;
}
