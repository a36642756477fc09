/* libkreconcile-testserver — the review resources kubectl auth asks
 * (wire spec §7.3): a SelfSubjectAccessReview answers whether the
 * requester may use a verb (the token's verb list, or every verb; in
 * RBAC mode, RBAC decides too), as `kubectl auth can-i` reads it; a
 * SelfSubjectRulesReview lists what the requester may do (its RBAC rules
 * in RBAC mode), as `kubectl auth can-i --list` prints it; a
 * SelfSubjectReview answers who the requester is, as `kubectl auth
 * whoami` prints it; a TokenRequest issues a service account's token, as
 * `kubectl create token` asks for one. Bodies come as JSON,
 * YAML or protobuf (kubectl's typed client); nothing is stored. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "testserver/ts_internal.h"

/* The attributes a review's spec asks about (strings borrowed from it):
 * false (a 422 in resp) unless it holds exactly one of resourceAttributes
 * and nonResourceAttributes. */
static bool review_attributes(const json_t *spec, const char *kind, ts_attributes *a,
                              ts_response *resp)
{
    const json_t *ra = json_object_get(spec, "resourceAttributes");
    const json_t *nra = json_object_get(spec, "nonResourceAttributes");
    if ((ra != NULL) == (nra != NULL)) {
        ts_respond_invalid(resp, kind, "authorization.k8s.io", "", "spec.resourceAttributes",
                           "FieldValueInvalid",
                           "exactly one of nonResourceAttributes or resourceAttributes must be "
                           "specified");
        return false;
    }
#define ATTR(o, f) (json_string_value(json_object_get(o, f)))
#define NONEMPTY(v) ((v) && *(v) ? (v) : NULL)
    memset(a, 0, sizeof(*a));
    a->verb = ATTR(ra ? ra : nra, "verb");
    if (nra) {
        a->path = ATTR(nra, "path") ? ATTR(nra, "path") : "";
    } else {
        a->group = ATTR(ra, "group") ? ATTR(ra, "group") : "";
        a->resource = ATTR(ra, "resource") ? ATTR(ra, "resource") : "";
        a->sub = NONEMPTY(ATTR(ra, "subresource"));
        a->name = NONEMPTY(ATTR(ra, "name"));
        a->ns = NONEMPTY(ATTR(ra, "namespace"));
    }
#undef NONEMPTY
#undef ATTR
    return true;
}

/* {allowed, reason}: by the token's verbs (a self review) and, in RBAC
 * mode, by RBAC for `who`; outside RBAC mode everything else is allowed. */
static json_t *decide(kr_testserver_t *ts, const ts_identity *who, const ts_attributes *a)
{
    bool allowed = a->verb && *a->verb && ts_identity_allows(who, a->verb);
    char *reason = NULL;
    if (allowed && ts->rbac)
        allowed = ts_rbac_allows(ts, who, a, &reason);
    json_t *status = json_pack("{s:b}", "allowed", allowed);
    if (status && !allowed && who->verbs)
        json_object_set_new(status, "reason",
                            json_string("the token's verbs do not include this one"));
    if (status && reason)
        json_object_set_new(status, "reason", json_string(reason));
    kr_free(reason);
    return status;
}

static json_t *access_status(kr_testserver_t *ts, const json_t *obj, const ts_identity *who,
                             ts_response *resp)
{
    ts_attributes a;
    if (!review_attributes(json_object_get(obj, "spec"), "SelfSubjectAccessReview", &a, resp))
        return NULL;
    return decide(ts, who, &a);
}

/* A SubjectAccessReview, or a LocalSubjectAccessReview in namespace `ns`:
 * whether the user and groups of the spec (exactly those) may. */
static json_t *subject_access_status(kr_testserver_t *ts, const json_t *obj, const char *kind,
                                     const char *ns, ts_response *resp)
{
    const json_t *spec = json_object_get(obj, "spec");
    ts_attributes a;
    if (!review_attributes(spec, kind, &a, resp))
        return NULL;
    ts_identity subject;
    memset(&subject, 0, sizeof(subject));
    const char *user = json_string_value(json_object_get(spec, "user"));
    if (user && *user) {
        subject.user = user;
        subject.user_len = strlen(user);
    }
    size_t i;
    const json_t *g;
    json_array_foreach(json_object_get(spec, "groups"), i, g)
    {
        if (json_is_string(g) && subject.ngroups < KR_ARRAY_LEN(subject.groups))
            subject.groups[subject.ngroups++] = json_string_value(g);
    }
    if (!subject.user && subject.ngroups == 0) {
        ts_respond_invalid(resp, kind, "authorization.k8s.io", "", "spec.user", "FieldValueInvalid",
                           "Invalid value: \"\": at least one of user or group must be specified");
        return NULL;
    }
    if (ns && (a.path || (a.ns && strcmp(a.ns, ns) != 0))) {
        ts_respond_invalid(resp, kind, "authorization.k8s.io", "",
                           a.path ? "spec.nonResourceAttributes"
                                  : "spec.resourceAttributes.namespace",
                           a.path ? "FieldValueForbidden" : "FieldValueInvalid",
                           a.path ? "Forbidden: disallowed on this kind of request"
                                  : "Invalid value: \"\": must match metadata.namespace");
        return NULL;
    }
    if (ns)
        a.ns = ns;
    return decide(ts, &subject, &a);
}

static json_t *user_status(const ts_identity *who)
{
    return json_pack("{s:o}", "userInfo", ts_identity_user_info(who));
}

/* The rules of a token: its verbs on every resource, or everything; a
 * token limited to some verbs keeps what RBAC's system:basic-user and
 * system:discovery roles give every authenticated user. */
static json_t *rules_status(kr_testserver_t *ts, const json_t *obj, const ts_identity *who,
                            ts_response *resp)
{
    const char *ns = json_string_value(json_object_get(json_object_get(obj, "spec"), "namespace"));
    if (!ns || !*ns) {
        ts_respond_invalid(resp, "SelfSubjectRulesReview", "authorization.k8s.io", "",
                           "spec.namespace", "FieldValueRequired", "Required value");
        return NULL;
    }
    if (ts->rbac)
        return ts_rbac_rules(ts, who, ns);
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

/* ---- TokenReview ----------------------------------------------------------------- */

/* The audiences the server's own tokens are for, as kube-apiserver's
 * --api-audiences default to its issuer. */
static const char API_AUDIENCE[] = "https://kubernetes.default.svc.cluster.local";

/* The strings both arrays hold, in the order of `a`; new. */
static json_t *intersect(const json_t *a, const json_t *b)
{
    json_t *out = json_array();
    size_t i, j;
    const json_t *x, *y;
    json_array_foreach(a, i, x)
    {
        json_array_foreach(b, j, y)
        {
            if (json_is_string(x) && json_equal(x, y)) {
                json_array_append(out, (json_t *)x);
                break;
            }
        }
    }
    return out;
}

/* A TokenReview's status, as kube-apiserver's tokenreviews registry
 * answers: the token goes through the server's own authenticators
 * (static tokens, the token file, issued service account tokens); a
 * service account token must be for one of the audiences asked (or, when
 * none is asked, for the server's). An audience-agnostic credential (a
 * static or token-file token) is wrapped as kube-apiserver wraps its
 * token file (WrapAudienceAgnosticToken): it holds only for the server's
 * own audience, so a review asking for another finds nobody (no error,
 * as the wrapper says none). */
static json_t *token_status(kr_testserver_t *ts, const json_t *obj, ts_response *resp)
{
    const json_t *spec = json_object_get(obj, "spec");
    const char *token = json_string_value(json_object_get(spec, "token"));
    if (!token || !*token) {
        ts_respond_bad_request(resp, "token is required for TokenReview in authentication");
        return NULL;
    }
    if (ts->ntokens == 0 && !ts->token_file)
        return json_object(); /* no token authenticator: the review as it came */
    json_t *auds = json_array_size(json_object_get(spec, "audiences"))
                       ? json_incref(json_object_get(spec, "audiences"))
                       : json_pack("[s]", API_AUDIENCE);
    char *authorization = kr_asprintf("Bearer %s", token);
    ts_identity who;
    int rc = authorization ? ts_token_identity(ts, authorization, &who) : -1;
    kr_free(authorization);
    json_t *granted = NULL;
    kr_buf why = {0};
    if (rc == -2) {
        kr_buf_append_str(&why, "service account token has expired");
    } else if (rc == 0 && who.audiences) {
        granted = intersect(who.audiences, auds);
        if (json_array_size(granted) == 0) {
            kr_buf_append_str(&why, "token audiences ");
            ts_go_quote_list(&why, who.audiences);
            kr_buf_append_str(&why, " is invalid for the target audiences ");
            ts_go_quote_list(&why, auds);
            json_decref(granted);
            granted = NULL;
        }
    } else if (rc == 0) {
        json_t *own = json_pack("[s]", API_AUDIENCE);
        granted = own ? intersect(own, auds) : NULL;
        json_decref(own);
        if (granted && json_array_size(granted) == 0) {
            json_decref(granted);
            json_decref(auds);
            return json_pack("{s:{}}", "user");
        }
    } else {
        kr_buf_append_str(&why, "invalid bearer token");
    }
    json_decref(auds);
    json_t *status =
        granted ? json_pack("{s:b, s:o, s:o}", "authenticated", true, "user",
                            ts_identity_user_info(&who), "audiences", granted)
                : json_pack("{s:{}, s:s}", "user", "error", why.data ? why.data : "out of memory");
    kr_buf_free(&why);
    return status;
}

void ts_handle_review(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                      const ts_identity *who, ts_response *resp)
{
    json_t *obj = ts_read_object(req, rt, NULL, NULL, resp);
    if (!obj)
        return;
    const char *kind = rt->res->kind;
    bool access = strcmp(kind, "SelfSubjectAccessReview") == 0;
    bool rules = strcmp(kind, "SelfSubjectRulesReview") == 0;
    bool tokens = strcmp(kind, "TokenReview") == 0;
    bool subject = !tokens && !ts_review_is_self(rt->res);
    json_t *status =
        access    ? access_status(ts, obj, who, resp)
        : rules   ? rules_status(ts, obj, who, resp)
        : tokens  ? token_status(ts, obj, resp)
        : subject ? subject_access_status(ts, obj, kind, rt->res->namespaced ? rt->ns : NULL, resp)
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

/* ---- TokenRequest ---------------------------------------------------------------- */

const ts_issued *ts_issued_find(const kr_testserver_t *ts, const char *token)
{
    for (size_t i = 0; i < ts->nissued; i++)
        if (strcmp(ts->issued[i].token, token) == 0)
            return &ts->issued[i];
    return NULL;
}

static void issued_clear(ts_issued *t)
{
    kr_free(t->token);
    kr_free(t->user);
    kr_free(t->uid);
    kr_free(t->credential_id);
    json_decref(t->audiences);
}

void ts_issued_free(kr_testserver_t *ts)
{
    for (size_t i = 0; i < ts->nissued; i++)
        issued_clear(&ts->issued[i]);
    kr_free(ts->issued);
    ts->issued = NULL;
    ts->nissued = 0;
}

/* base64url without padding, as a JWT's parts are written; new. */
static char *b64url(const void *data, size_t len)
{
    char *s = kr_base64_encode(data, len, true);
    if (s)
        s[strcspn(s, "=")] = '\0';
    return s;
}

/* A JWT-shaped token with the claims kube-apiserver's issuer writes; the
 * signature is random bytes, as the server knows its tokens by value. */
static char *make_token(kr_testserver_t *ts, const char *ns, const char *name, const char *uid,
                        const json_t *audiences, long long iat, long long exp, char **jti_out)
{
    char sub[600];
    snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", ns, name);
    char *jti = ts_uid_new(ts);
    *jti_out = jti ? kr_asprintf("JTI=%s", jti) : NULL;
    json_t *claims = json_pack("{s:O, s:I, s:I, s:s, s:s, s:{s:s, s:{s:s, s:s}}, s:I, s:s}", "aud",
                               audiences, "exp", (json_int_t)exp, "iat", (json_int_t)iat, "iss",
                               "https://kubernetes.default.svc.cluster.local", "jti",
                               jti ? jti : "", "kubernetes.io", "namespace", ns, "serviceaccount",
                               "name", name, "uid", uid, "nbf", (json_int_t)iat, "sub", sub);
    kr_free(jti);
    char *payload = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    static const char header[] = "{\"alg\":\"RS256\",\"kid\":\"kr-apiserver\"}";
    unsigned char sig[64];
    for (size_t i = 0; i < sizeof(sig); i += 8) {
        uint64_t r = kr_rng_next(&ts->rng);
        memcpy(sig + i, &r, 8);
    }
    char *h = b64url(header, strlen(header));
    char *p = payload ? b64url(payload, strlen(payload)) : NULL;
    char *g = b64url(sig, sizeof(sig));
    char *token = h && p && g ? kr_asprintf("%s.%s.%s", h, p, g) : NULL;
    kr_json_text_free(payload);
    kr_free(h);
    kr_free(p);
    kr_free(g);
    return token;
}

static bool remember_token(kr_testserver_t *ts, const char *token, const char *ns, const char *name,
                           const char *uid, const char *jti, json_t *audiences, long long expires)
{
    ts_issued *grown = kr_realloc(ts->issued, (ts->nissued + 1) * sizeof(*grown));
    if (!grown)
        return false;
    ts->issued = grown;
    ts_issued t = {.token = kr_strdup(token),
                   .user = kr_asprintf("system:serviceaccount:%s:%s", ns, name),
                   .uid = kr_strdup(uid),
                   .credential_id = jti ? kr_strdup(jti) : NULL,
                   .audiences = json_incref(audiences),
                   .expires = expires};
    if (!t.token || !t.user || !t.uid || (jti && !t.credential_id)) {
        issued_clear(&t);
        return false;
    }
    ts->issued[ts->nissued++] = t;
    return true;
}

/* A TokenRequest's spec.boundObjectRef, checked as kube-apiserver's token
 * registry checks it: a Pod (running as this service account), a Node or
 * a Secret that exists, with the uid given if one is. 0, or -1 with the
 * answer in resp. */
static int check_bound_object(kr_testserver_t *ts, const ts_route *rt, const json_t *ref,
                              ts_response *resp)
{
    if (!json_is_object(ref))
        return 0;
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *api_version = json_string_value(json_object_get(ref, "apiVersion"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    const char *want_uid = json_string_value(json_object_get(ref, "uid"));
    kind = kind ? kind : "";
    api_version = api_version ? api_version : "";
    name = name ? name : "";
    const char *slash = strchr(api_version, '/');
    bool core = !slash;
    const char *plural = !core                         ? NULL
                         : strcmp(kind, "Pod") == 0    ? "pods"
                         : strcmp(kind, "Node") == 0   ? "nodes"
                         : strcmp(kind, "Secret") == 0 ? "secrets"
                                                       : NULL;
    if (!plural) {
        /* schema.GroupVersionKind's String() */
        int glen = slash ? (int)(slash - api_version) : 0;
        const char *version = slash ? slash + 1 : api_version;
        ts_respond_bad_request(resp, "cannot bind token to object of type %.*s/%s, Kind=%s", glen,
                               api_version, version, kind);
        return -1;
    }
    ts_resource *res = ts_resource_find(ts, "", "v1", plural);
    ts_obj *obj =
        res ? ts_store_get(res->store, strcmp(plural, "nodes") == 0 ? NULL : rt->ns, name) : NULL;
    if (!obj) {
        ts_respond_not_found(resp, res, name);
        return -1;
    }
    if (strcmp(plural, "pods") == 0) {
        const char *sa = json_string_value(
            json_object_get(json_object_get(obj->obj, "spec"), "serviceAccountName"));
        /* no serviceAccountName: "default", which kube-apiserver's
         * ServiceAccount admission would have written */
        if (strcmp(sa && *sa ? sa : "default", rt->name) != 0) {
            ts_respond_bad_request(resp,
                                   "cannot bind token for serviceaccount \"%s\" to pod running "
                                   "with different serviceaccount name.",
                                   rt->name);
            return -1;
        }
    }
    const char *uid = ts_meta_str(obj->obj, "uid");
    if (want_uid && *want_uid && (!uid || strcmp(uid, want_uid) != 0)) {
        char *msg = kr_asprintf("Operation cannot be fulfilled on %s \"%s\": the UID in the bound "
                                "object reference (%s) does not match the UID in record. The "
                                "object might have been deleted and then recreated",
                                kind, name, want_uid);
        ts_respond_status(resp, 409, "Conflict", msg,
                          json_pack("{s:s, s:s}", "name", name, "kind", kind));
        kr_free(msg);
        return -1;
    }
    return 0;
}

void ts_handle_token_request(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                             ts_response *resp)
{
    ts_obj *sa = ts_store_get(rt->res->store, rt->ns, rt->name);
    if (!sa) {
        char *msg = kr_asprintf("serviceaccounts \"%s\" not found", rt->name);
        ts_respond_status(resp, 404, "NotFound", msg, ts_details(rt->res, rt->name, false));
        kr_free(msg);
        return;
    }
    json_t *obj = ts_read_body(req, resp);
    if (!obj)
        return;
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, "TokenRequest") != 0) {
        ts_respond_bad_request(resp, "the body of the request was a %s, not a TokenRequest", kind);
        json_decref(obj);
        return;
    }
    json_t *spec = json_object_get(obj, "spec");
    const json_t *exp_v = json_object_get(spec, "expirationSeconds");
    long long seconds = json_is_integer(exp_v) ? (long long)json_integer_value(exp_v) : 3600;
    if (seconds < 600 || seconds > (1LL << 32)) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 seconds < 600 ? "may not specify a duration less than 10 minutes"
                               : "may not specify a duration larger than 2^32 seconds");
        ts_respond_invalid(resp, "TokenRequest", "authentication.k8s.io", rt->name,
                           "spec.expirationSeconds", "FieldValueInvalid", msg);
        json_decref(obj);
        return;
    }
    const json_t *bound = json_object_get(spec, "boundObjectRef");
    if (check_bound_object(ts, rt, bound, resp) != 0) {
        json_decref(obj);
        return;
    }
    json_t *aud = json_array_size(json_object_get(spec, "audiences"))
                      ? json_incref(json_object_get(spec, "audiences"))
                      : json_pack("[s]", "https://kubernetes.default.svc.cluster.local");
    long long now = (long long)time(NULL);
    const char *uid =
        json_string_value(json_object_get(json_object_get(sa->obj, "metadata"), "uid"));
    char *jti = NULL;
    char *token = make_token(ts, rt->ns, rt->name, uid ? uid : "", aud, now, now + seconds, &jti);
    char expires[32];
    time_t t = (time_t)(now + seconds);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *out =
        token ? json_pack("{s:s, s:s, s:{s:s, s:s, s:n}, s:{s:o, s:I, s:O},"
                          " s:{s:s, s:s}}",
                          "kind", "TokenRequest", "apiVersion", "authentication.k8s.io/v1",
                          "metadata", "name", rt->name, "namespace", rt->ns, "creationTimestamp",
                          "spec", "audiences", aud, "expirationSeconds", (json_int_t)seconds,
                          "boundObjectRef", json_is_object(bound) ? bound : json_null(), "status",
                          "token", token, "expirationTimestamp", expires)
              : NULL;
    if (!token)
        json_decref(aud);
    /* only a server that checks tokens learns this one: without tokens
     * every request is served anyway */
    if (!out ||
        ((ts->ntokens > 0 || ts->token_file) &&
         !remember_token(ts, token, rt->ns, rt->name, uid ? uid : "", jti, aud, now + seconds))) {
        json_decref(out);
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                          NULL);
    } else {
        ts_respond_json(resp, 201, out);
    }
    kr_free(token);
    kr_free(jti);
    json_decref(obj);
}

bool ts_review_is_self(const ts_resource *res)
{
    return !ts_resource_is(res, "authorization.k8s.io", "subjectaccessreviews") &&
           !ts_resource_is(res, "authentication.k8s.io", "tokenreviews") &&
           !ts_resource_is(res, "authorization.k8s.io", "localsubjectaccessreviews");
}
