/* libkreconcile-testserver — authentication (bearer tokens, verified
 * client certificates) and the optional per-token verb table that yields
 * 401 and 403 Status answers as the apiserver gives them (wire spec §6, §7).
 * Token entries read "token[:user[:verb,verb...]]". Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

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

int ts_authenticate(kr_testserver_t *ts, const ts_request *req, ts_response *resp, ts_identity *who)
{
    memset(who, 0, sizeof(*who));
    bool required = ts->ntokens > 0 || ts->ca_pem;
    if (req->cert_invalid) {
        respond_unauthorized(resp);
        return -1;
    }
    if (req->authorization && strncmp(req->authorization, "Bearer ", 7) == 0 && ts->ntokens) {
        const char *entry = find_token(ts, req->authorization);
        if (!entry) {
            who->user = ts_issued_user(ts, req->authorization + 7, &who->user_len);
            if (who->user)
                return 0; /* a service account's token: every verb */
            respond_unauthorized(resp);
            return -1;
        }
        const char *user = strchr(entry, ':');
        who->user_len = 0;
        if (user) {
            const char *verbs = strchr(user + 1, ':');
            who->user = user + 1;
            who->user_len = verbs ? (size_t)(verbs - user - 1) : strlen(user + 1);
            who->verbs = verbs ? verbs + 1 : NULL;
        }
        return 0;
    }
    if (req->cert_user) {
        who->user = req->cert_user;
        who->user_len = strlen(req->cert_user);
        return 0;
    }
    if (required) {
        respond_unauthorized(resp);
        return -1;
    }
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

int ts_authorize(const ts_identity *who, const char *verb, const ts_route *rt, ts_response *resp)
{
    if (ts_identity_allows(who, verb))
        return 0;
    const ts_resource *res = rt->res;
    char subject[300], scope[300];
    if (rt->name)
        snprintf(subject, sizeof(subject), "%s \"%s\"", res->plural, rt->name);
    else
        snprintf(subject, sizeof(subject), "%s", res->plural);
    if (rt->ns)
        snprintf(scope, sizeof(scope), " in the namespace \"%s\"", rt->ns);
    else
        snprintf(scope, sizeof(scope), " at the cluster scope");
    char *msg = kr_asprintf("%s is forbidden: User \"%.*s\" cannot %s resource \"%s\" in API "
                            "group \"%s\"%s",
                            subject, (int)who->user_len, who->user ? who->user : "", verb,
                            res->plural, res->group, scope);
    ts_respond_status(resp, 403, "Forbidden", msg, ts_details(res, rt->name, false));
    kr_free(msg);
    return -1;
}
