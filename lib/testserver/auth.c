/* libkreconcile-testserver — authentication (bearer tokens, the static
 * token file, issued service account tokens, verified client
 * certificates), impersonation (Impersonate-User, -Group, -Uid) and
 * authorization: the optional per-token verb table and, in RBAC mode, the
 * RBAC objects (rbac.c). 401 and 403 Status answers as the apiserver gives
 * them (wire spec §6, §7). Token entries read "token[:user[:verb,verb...]]".
 * Callers hold ts->mu. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "testserver/ts_internal.h"

static const char SA_PREFIX[] = "system:serviceaccount:";

static bool token_matches(const char *entry, const char *token, size_t len)
{
    return strncmp(entry, token, len) == 0 && (entry[len] == '\0' || entry[len] == ':');
}

/* The token entry the request authenticates with, or NULL. */
static const char *find_token(kr_testserver_t *ts, const char *authorization)
{
    if (!authorization || strncmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *token = authorization + 7;
    size_t len = strlen(token);
    if (len == 0)
        return NULL;
    for (size_t i = 0; i < ts->ntokens; i++)
        if (token_matches(ts->tokens[i], token, len))
            return ts->tokens[i];
    return NULL;
}

static void respond_unauthorized(ts_response *resp)
{
    ts_respond_status(resp, 401, "Unauthorized", "Unauthorized", NULL);
}

static void add_group(ts_identity *who, const char *group)
{
    if (who->ngroups < KR_ARRAY_LEN(who->groups))
        who->groups[who->ngroups++] = group;
}

/* A service account's groups (system:serviceaccounts and
 * system:serviceaccounts:NS), when the user is one. */
static void add_service_account_groups(ts_identity *who)
{
    size_t prefix = sizeof(SA_PREFIX) - 1;
    if (!who->user || who->user_len <= prefix || strncmp(who->user, SA_PREFIX, prefix) != 0)
        return;
    const char *ns = who->user + prefix;
    size_t ns_len = strcspn(ns, ":");
    if (ns_len >= who->user_len - prefix)
        return; /* no ":NAME" */
    snprintf(who->ns_group, sizeof(who->ns_group), "system:serviceaccounts:%.*s", (int)ns_len, ns);
    add_group(who, "system:serviceaccounts");
    add_group(who, who->ns_group);
}

static void set_user(ts_identity *who, const char *user, size_t len)
{
    who->user = user;
    who->user_len = len;
}

int ts_token_identity(kr_testserver_t *ts, const char *authorization, ts_identity *who)
{
    memset(who, 0, sizeof(*who));
    const char *entry = find_token(ts, authorization);
    if (entry) {
        const char *user = strchr(entry, ':');
        if (user) {
            const char *verbs = strchr(user + 1, ':');
            set_user(who, user + 1, verbs ? (size_t)(verbs - user - 1) : strlen(user + 1));
            who->verbs = verbs ? verbs + 1 : NULL;
        } else {
            set_user(who, "kubernetes-admin", strlen("kubernetes-admin"));
            add_group(who, "system:masters");
        }
        add_group(who, "system:authenticated");
        return 0;
    }
    const kr_token_user *u = kr_token_file_authenticate(ts->token_file, authorization);
    if (u) {
        set_user(who, u->user, strlen(u->user));
        who->uid = u->uid && *u->uid ? u->uid : NULL;
        for (size_t i = 0; i < u->n_groups && i < TS_MAX_GROUPS; i++)
            add_group(who, u->groups[i]);
        add_group(who, "system:authenticated");
        return 0;
    }
    const ts_issued *issued = authorization && strncmp(authorization, "Bearer ", 7) == 0
                                  ? ts_issued_find(ts, authorization + 7)
                                  : NULL;
    if (!issued)
        return -1;
    if (issued->expires <= (long long)time(NULL))
        return -2;
    set_user(who, issued->user, strlen(issued->user)); /* a service account's token: every verb */
    who->uid = issued->uid;
    who->audiences = issued->audiences;
    who->credential_id = issued->credential_id;
    add_service_account_groups(who);
    add_group(who, "system:authenticated");
    return 0;
}

int ts_authenticate(kr_testserver_t *ts, const ts_request *req, ts_response *resp, ts_identity *who)
{
    memset(who, 0, sizeof(*who));
    bool has_tokens = ts->ntokens > 0 || ts->token_file;
    bool required = has_tokens || ts->ca_pem;
    if (req->cert_invalid) {
        respond_unauthorized(resp);
        return -1;
    }
    if (req->authorization && strncmp(req->authorization, "Bearer ", 7) == 0 && has_tokens) {
        if (ts_token_identity(ts, req->authorization, who) == 0)
            return 0;
        memset(who, 0, sizeof(*who));
        respond_unauthorized(resp);
        return -1;
    }
    if (req->cert_user) {
        set_user(who, req->cert_user, strlen(req->cert_user));
        for (size_t i = 0; i < req->ncert_groups; i++)
            add_group(who, req->cert_groups[i]);
        add_group(who, "system:authenticated");
        return 0;
    }
    if (required) {
        respond_unauthorized(resp);
        return -1;
    }
    who->anonymous = true;
    add_group(who, "system:unauthenticated");
    return 0;
}

static bool verb_listed(const char *verbs, const char *verb)
{
    size_t len = strlen(verb);
    for (const char *p = verbs; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if ((n == len && strncmp(p, verb, n) == 0) || (n == 1 && *p == '*'))
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

bool ts_identity_allows(const ts_identity *who, const char *verb)
{
    return !who->verbs || verb_listed(who->verbs, verb);
}

json_t *ts_identity_user_info(const ts_identity *who)
{
    json_t *groups = json_array();
    for (size_t i = 0; groups && i < who->ngroups; i++)
        json_array_append_new(groups, json_string(who->groups[i]));
    const char *user = who->anonymous ? "system:anonymous" : who->user ? who->user : "";
    size_t len = who->anonymous ? strlen(user) : who->user_len;
    /* in the order of the Go struct: username, uid, groups, extra */
    json_t *info = json_pack("{s:s%}", "username", user, len);
    if (info && who->uid)
        json_object_set_new(info, "uid", json_string(who->uid));
    if (info && groups)
        json_object_set_new(info, "groups", groups);
    else
        json_decref(groups);
    if (info && who->credential_id)
        json_object_set_new(
            info, "extra",
            json_pack("{s:[s]}", "authentication.kubernetes.io/credential-id", who->credential_id));
    return info;
}

/* The 403 of a denied request, worded as kube-apiserver's: `head` is
 * `pods "x" is forbidden` or `forbidden`, `what` names what was asked. */
static void respond_forbidden(ts_response *resp, const ts_identity *who, const char *head,
                              const char *what, json_t *details)
{
    const char *user = who->anonymous ? "system:anonymous" : who->user ? who->user : "";
    int len = who->anonymous ? (int)strlen(user) : (int)who->user_len;
    char *msg = kr_asprintf("%s: User \"%.*s\" cannot %s", head, len, user, what);
    ts_respond_status(resp, 403, "Forbidden", msg ? msg : "forbidden", details);
    kr_free(msg);
}

/* Whether `who` may do `a`: the token's verbs, then RBAC in RBAC mode. */
static bool allowed(kr_testserver_t *ts, const ts_identity *who, const ts_attributes *a)
{
    return ts_identity_allows(who, a->verb) && (!ts->rbac || ts_rbac_allows(ts, who, a, NULL));
}

static int deny_resource(ts_response *resp, const ts_identity *who, const ts_attributes *a,
                         json_t *details)
{
    char subject[600], what[700];
    char resource[300];
    snprintf(resource, sizeof(resource), "%s%s%s", a->resource, a->sub ? "/" : "",
             a->sub ? a->sub : "");
    /* the head names the group-qualified resource, as apierrors.NewForbidden */
    char qualified[300];
    snprintf(qualified, sizeof(qualified), "%s%s%s", a->resource, *a->group ? "." : "", a->group);
    if (a->name)
        snprintf(subject, sizeof(subject), "%s \"%s\" is forbidden", qualified, a->name);
    else
        snprintf(subject, sizeof(subject), "%s is forbidden", qualified);
    char scope[300];
    if (a->ns)
        snprintf(scope, sizeof(scope), "in the namespace \"%s\"", a->ns);
    else
        snprintf(scope, sizeof(scope), "at the cluster scope");
    snprintf(what, sizeof(what), "%s resource \"%s\" in API group \"%s\" %s", a->verb, resource,
             a->group, scope);
    respond_forbidden(resp, who, subject, what, details);
    return -1;
}

int ts_authorize(kr_testserver_t *ts, const ts_identity *who, const char *verb, const ts_route *rt,
                 ts_response *resp)
{
    /* a namespace is in itself, as kube-apiserver's request info says */
    bool ns_itself = ts_resource_is(rt->res, "", "namespaces") && rt->name;
    ts_attributes a = {.verb = verb,
                       .group = rt->res->group,
                       .resource = rt->res->plural,
                       .sub = rt->sub,
                       .name = rt->name,
                       .ns = rt->res->namespaced ? rt->ns
                             : ns_itself         ? rt->name
                                                 : NULL};
    if (allowed(ts, who, &a))
        return 0;
    return deny_resource(resp, who, &a, ts_details(rt->res, rt->name, false));
}

/* A non-resource request's verb: its method in lower case, as
 * kube-apiserver's request info has it (HEAD is "head" here; only a
 * resource request's HEAD is a get). */
static const char *path_verb(const char *method)
{
    static const char *const verbs[][2] = {
        {"GET", "get"},     {"HEAD", "head"},     {"POST", "post"},      {"PUT", "put"},
        {"PATCH", "patch"}, {"DELETE", "delete"}, {"OPTIONS", "options"}};
    for (size_t i = 0; i < KR_ARRAY_LEN(verbs); i++)
        if (strcmp(method, verbs[i][0]) == 0)
            return verbs[i][1];
    return "";
}

/* The resource a path names as kube-apiserver's request info reads it,
 * whether or not this server serves it: /api/V/... or /apis/G/V/...,
 * then [namespaces/NS/]RESOURCE[/NAME[/SUB]]. False for any other path.
 * The strings point into `buf`. */
static bool resource_path(const char *path, char *buf, size_t size, ts_attributes *a,
                          bool *legacy_watch)
{
    snprintf(buf, size, "%s", path);
    char *seg[8];
    size_t n = 0;
    for (char *save = NULL, *p = strtok_r(buf, "/", &save); p && n < 8;
         p = strtok_r(NULL, "/", &save))
        seg[n++] = p;
    size_t at;
    if (n >= 3 && strcmp(seg[0], "api") == 0) {
        a->group = "";
        at = 2;
    } else if (n >= 4 && strcmp(seg[0], "apis") == 0) {
        a->group = seg[1];
        at = 3;
    } else {
        return false;
    }
    *legacy_watch = strcmp(seg[at], "watch") == 0 && n > at + 1;
    if (*legacy_watch)
        at++;
    if (n >= at + 2 && strcmp(seg[at], "namespaces") == 0) {
        a->ns = seg[at + 1];
        if (n >= at + 3)
            at += 2; /* namespaces/NS/RESOURCE...; else the namespace itself */
    }
    a->resource = seg[at];
    a->name = n > at + 1 ? seg[at + 1] : NULL;
    a->sub = n > at + 2 ? seg[at + 2] : NULL;
    return true;
}

int ts_authorize_path(kr_testserver_t *ts, const ts_identity *who, const ts_request *req,
                      ts_response *resp)
{
    if (!ts->rbac)
        return 0;
    char buf[1024];
    ts_attributes a = {.verb = path_verb(req->method)};
    bool legacy_watch = false;
    if (strlen(req->path) < sizeof(buf) &&
        resource_path(req->path, buf, sizeof(buf), &a, &legacy_watch)) {
        /* a resource this server does not serve: authorized as one, with
         * the verb a routed request would have */
        ts_route shape = {.name = a.name, .legacy_watch = legacy_watch};
        a.verb = ts_verb_of(req, &shape);
        if (ts_rbac_allows(ts, who, &a, NULL))
            return 0;
        return deny_resource(resp, who, &a, NULL);
    }
    a.path = req->path;
    if (ts_rbac_allows(ts, who, &a, NULL))
        return 0;
    char what[600];
    snprintf(what, sizeof(what), "%s path \"%s\"", a.verb, req->path);
    respond_forbidden(resp, who, "forbidden", what, NULL);
    return -1;
}

/* ---- impersonation ---------------------------------------------------------------- */

/* May `who` impersonate `name` as `resource` (users, groups, uids, or a
 * service account in its namespace)? */
static int may_impersonate(kr_testserver_t *ts, const ts_identity *who, const char *group,
                           const char *resource, const char *sub, const char *ns, const char *name,
                           ts_response *resp)
{
    ts_attributes a = {.verb = "impersonate",
                       .group = group,
                       .resource = resource,
                       .sub = sub,
                       .name = name,
                       .ns = ns};
    if (allowed(ts, who, &a))
        return 0;
    json_t *details = json_pack("{s:s, s:s}", "name", name, "kind", resource);
    if (details && *group)
        json_object_set_new(details, "group", json_string(group));
    return deny_resource(resp, who, &a, details);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* An Impersonate-Extra- header's key as kube-apiserver reads it: lower
 * case, then percent-decoded (so that keys may hold '/'). */
static void extra_key(const char *raw, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = raw; *p && n + 1 < size; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (c == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            c = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        }
        out[n++] = c;
    }
    out[n] = '\0';
}

int ts_impersonate(kr_testserver_t *ts, const ts_request *req, ts_identity *who, ts_response *resp)
{
    if (!req->impersonate_user) {
        if (req->nimpersonate_groups == 0 && !req->impersonate_uid && req->nimpersonate_extras == 0)
            return 0;
        ts_respond_status(resp, 500, "InternalError",
                          "Internal error occurred: requested impersonation of groups, extras or "
                          "a uid without impersonating a user",
                          NULL);
        return -1;
    }
    if (req->impersonate_too_many) {
        ts_respond_bad_request(resp, "more than %d Impersonate-Group headers", TS_MAX_GROUPS);
        return -1;
    }
    const char *user = req->impersonate_user;
    size_t prefix = sizeof(SA_PREFIX) - 1;
    int rc;
    if (strncmp(user, SA_PREFIX, prefix) == 0 && strchr(user + prefix, ':')) {
        char ns[256];
        const char *colon = strchr(user + prefix, ':');
        snprintf(ns, sizeof(ns), "%.*s", (int)(colon - user - prefix), user + prefix);
        rc = may_impersonate(ts, who, "", "serviceaccounts", NULL, ns, colon + 1, resp);
    } else {
        rc = may_impersonate(ts, who, "", "users", NULL, NULL, user, resp);
    }
    for (size_t i = 0; rc == 0 && i < req->nimpersonate_groups; i++)
        rc = may_impersonate(ts, who, "", "groups", NULL, NULL, req->impersonate_groups[i], resp);
    for (size_t i = 0; rc == 0 && i < req->nimpersonate_extras; i++) {
        /* each value of extra KEY: impersonate on userextras/KEY, named by it */
        char key[256];
        extra_key(req->impersonate_extra_keys[i], key, sizeof(key));
        rc = may_impersonate(ts, who, "authentication.k8s.io", "userextras", key, NULL,
                             req->impersonate_extra_values[i], resp);
    }
    if (rc == 0 && req->impersonate_uid)
        rc = may_impersonate(ts, who, "authentication.k8s.io", "uids", NULL, NULL,
                             req->impersonate_uid, resp);
    if (rc != 0)
        return -1;
    /* kube-apiserver: the groups asked for (a service account's own when
     * none), then system:authenticated, or system:unauthenticated for
     * system:anonymous, unless either is among them already */
    memset(who, 0, sizeof(*who));
    set_user(who, user, strlen(user));
    bool authenticated = false, unauthenticated = false;
    for (size_t i = 0; i < req->nimpersonate_groups; i++) {
        add_group(who, req->impersonate_groups[i]);
        authenticated |= strcmp(req->impersonate_groups[i], "system:authenticated") == 0;
        unauthenticated |= strcmp(req->impersonate_groups[i], "system:unauthenticated") == 0;
    }
    if (req->nimpersonate_groups == 0)
        add_service_account_groups(who);
    if (strcmp(user, "system:anonymous") != 0) {
        if (!authenticated && !unauthenticated)
            add_group(who, "system:authenticated");
    } else if (!unauthenticated) {
        add_group(who, "system:unauthenticated");
    }
    return 0;
}
