/* libkreconcile-testserver — the review resources kubectl auth asks
 * (wire spec §7.3): a SelfSubjectAccessReview answers whether the
 * requester may use a verb (the token's verb list, or every verb), as
 * `kubectl auth can-i` reads it; a SelfSubjectRulesReview lists what
 * the requester may do, as `kubectl auth can-i --list` prints it; a
 * SelfSubjectReview answers who the requester is, as `kubectl auth
 * whoami` prints it. Bodies come as JSON,
 * YAML or protobuf (kubectl's typed client); nothing is stored. */
#include <string.h>

#include "testserver/ts_internal.h"

static const char *attribute_verb(const json_t *spec, bool *ok)
{
    const json_t *ra = json_object_get(spec, "resourceAttributes");
    const json_t *nra = json_object_get(spec, "nonResourceAttributes");
    *ok = (ra != NULL) != (nra != NULL);
    return json_string_value(json_object_get(ra ? ra : nra, "verb"));
}

static json_t *access_status(const json_t *obj, const ts_identity *who, ts_response *resp)
{
    bool one;
    const char *verb = attribute_verb(json_object_get(obj, "spec"), &one);
    if (!one) {
        ts_respond_invalid(resp, "SelfSubjectAccessReview", "authorization.k8s.io", "",
                           "spec.resourceAttributes", "FieldValueInvalid",
                           "exactly one of nonResourceAttributes or resourceAttributes must be "
                           "specified");
        return NULL;
    }
    bool allowed = verb && *verb && ts_identity_allows(who, verb);
    json_t *status = json_pack("{s:b}", "allowed", allowed);
    if (status && !allowed && who->verbs)
        json_object_set_new(status, "reason",
                            json_string("the token's verbs do not include this one"));
    return status;
}

static json_t *user_status(const ts_identity *who)
{
    bool named = who->user && who->user_len;
    json_t *user = named ? json_stringn(who->user, who->user_len) : json_string("system:anonymous");
    return json_pack("{s:{s:o, s:[s]}}", "userInfo", "username", user, "groups",
                     named ? "system:authenticated" : "system:unauthenticated");
}

/* The rules of a token: its verbs on every resource, or everything; a
 * token limited to some verbs keeps what RBAC's system:basic-user and
 * system:discovery roles give every authenticated user. */
static json_t *rules_status(const json_t *obj, const ts_identity *who, ts_response *resp)
{
    const char *ns = json_string_value(json_object_get(json_object_get(obj, "spec"), "namespace"));
    if (!ns || !*ns) {
        ts_respond_invalid(resp, "SelfSubjectRulesReview", "authorization.k8s.io", "",
                           "spec.namespace", "FieldValueRequired", "Required value");
        return NULL;
    }
    if (!who->verbs)
        return json_pack("{s:[{s:[s], s:[s], s:[s]}], s:[{s:[s], s:[s]}], s:b}", "resourceRules",
                         "verbs", "*", "apiGroups", "*", "resources", "*", "nonResourceRules",
                         "verbs", "*", "nonResourceURLs", "*", "incomplete", false);
    json_t *verbs = json_array();
    for (const char *p = who->verbs; *p;) {
        size_t len = strcspn(p, ",");
        if (len)
            json_array_append_new(verbs, json_stringn(p, len));
        p += len + (p[len] == ',');
    }
    return json_pack("{s:[{s:o, s:[s], s:[s]}, {s:[s], s:[s], s:[s, s]}, {s:[s], s:[s], s:[s]}],"
                     " s:[{s:[s], s:[s, s, s, s, s, s, s, s, s, s, s]}], s:b}",
                     "resourceRules", "verbs", verbs, "apiGroups", "*", "resources", "*", "verbs",
                     "create", "apiGroups", "authorization.k8s.io", "resources",
                     "selfsubjectaccessreviews", "selfsubjectrulesreviews", "verbs", "create",
                     "apiGroups", "authentication.k8s.io", "resources", "selfsubjectreviews",
                     "nonResourceRules", "verbs", "get", "nonResourceURLs", "/api", "/api/*",
                     "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
                     "/version", "/version/", "incomplete", false);
}

void ts_handle_review(const ts_request *req, const ts_route *rt, const ts_identity *who,
                      ts_response *resp)
{
    json_t *obj = ts_read_object(req, rt, resp);
    if (!obj)
        return;
    bool access = strcmp(rt->res->kind, "SelfSubjectAccessReview") == 0;
    bool rules = strcmp(rt->res->kind, "SelfSubjectRulesReview") == 0;
    json_t *status = access  ? access_status(obj, who, resp)
                     : rules ? rules_status(obj, who, resp)
                             : user_status(who);
    if (!status) {
        if (resp->status == 0)
            ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                              NULL);
        json_decref(obj);
        return;
    }
    json_object_set_new(obj, "apiVersion", json_string(rt->res->api_version));
    json_object_set_new(obj, "kind", json_string(rt->res->kind));
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md))
        json_object_set_new(obj, "metadata", md = json_object());
    json_object_set_new(md, "creationTimestamp", json_null());
    json_object_set_new(obj, "status", status);
    ts_respond_json(resp, 201, obj);
}
