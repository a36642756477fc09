/* libkreconcile-testserver — the audit log: one audit.k8s.io/v1 Event per
 * request, as JSON lines, as kube-apiserver's log backend writes them at
 * level Metadata (user from the token, verb, objectRef, response code,
 * request URI, timestamps). Watches are written when their stream starts
 * (stage ResponseStarted); every other request once answered. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "testserver/ts_internal.h"

struct ts_audit {
    pthread_mutex_t mu;
    FILE *f;
};

int ts_audit_open(kr_testserver_t *ts, const char *path, kr_error_t *err)
{
    ts_audit *a = kr_calloc(1, sizeof(*a));
    if (!a)
        return kr_error_set(err, KR_ENOMEM, "out of memory opening the audit log");
    a->f = fopen(path, "a");
    if (!a->f) {
        kr_free(a);
        return kr_error_set(err, KR_EIO, "cannot open the audit log %s", path);
    }
    pthread_mutex_init(&a->mu, NULL);
    ts->audit = a;
    return 0;
}

void ts_audit_close(kr_testserver_t *ts)
{
    ts_audit *a = ts->audit;
    if (!a)
        return;
    fclose(a->f);
    pthread_mutex_destroy(&a->mu);
    kr_free(a);
    ts->audit = NULL;
}

void ts_audit_id_new(char out[TS_AUDIT_ID_LEN])
{
    static atomic_ullong counter;
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* no random source: the time and a count, unique all the same */
        unsigned long long t = (unsigned long long)time(NULL), n = ++counter;
        for (int i = 0; i < 8; i++) {
            b[i] = (unsigned char)(t >> (8 * i));
            b[8 + i] = (unsigned char)(n >> (8 * i));
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, TS_AUDIT_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

void ts_audit_now(char out[TS_AUDIT_TIME_LEN])
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(out, TS_AUDIT_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, TS_AUDIT_TIME_LEN - n, ".%06dZ", (int)(now.tv_nsec / 1000) % 1000000);
}

/* kube-apiserver's RequestInfo: the resource, namespace, name and
 * subresource a path names; NULL for a non-resource path. New. */
static json_t *object_ref(const char *path, bool *watch_path, bool *named)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    char *segs[12], *save = NULL;
    size_t n = 0;
    for (char *s = strtok_r(buf, "/", &save); s && n < 12; s = strtok_r(NULL, "/", &save))
        segs[n++] = s;
    size_t at;
    const char *group, *version;
    if (n >= 2 && strcmp(segs[0], "api") == 0) {
        group = "";
        version = segs[1];
        at = 2;
    } else if (n >= 3 && strcmp(segs[0], "apis") == 0) {
        group = segs[1];
        version = segs[2];
        at = 3;
    } else {
        return NULL;
    }
    if (at < n && strcmp(segs[at], "watch") == 0) {
        *watch_path = true;
        at++;
    }
    if (at >= n)
        return NULL; /* discovery */
    const char *ns = NULL;
    if (strcmp(segs[at], "namespaces") == 0 && at + 1 < n) {
        ns = segs[at + 1];
        if (at + 2 < n && strcmp(segs[at + 2], "status") != 0 &&
            strcmp(segs[at + 2], "finalize") != 0)
            at += 2;
    }
    json_t *ref = json_pack("{s:s}", "resource", segs[at]);
    if (ns)
        json_object_set_new(ref, "namespace", json_string(ns));
    if (at + 1 < n) {
        json_object_set_new(ref, "name", json_string(segs[at + 1]));
        *named = true;
    }
    if (*group)
        json_object_set_new(ref, "apiGroup", json_string(group));
    json_object_set_new(ref, "apiVersion", json_string(version));
    if (at + 2 < n)
        json_object_set_new(ref, "subresource", json_string(segs[at + 2]));
    return ref;
}

static const char *verb_of(const ts_request *req, json_t *ref, bool watch_path, bool named)
{
    if (ref) {
        ts_route rt = {.name = named ? "" : NULL, .legacy_watch = watch_path};
        return ts_verb_of(req, &rt);
    }
    /* a non-resource request: the method, lower case */
    static const char *const lower[] = {"get", "post", "put", "patch", "delete", "head", "options"};
    static const char *const upper[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof(lower) / sizeof(lower[0]); i++)
        if (strcmp(req->method, upper[i]) == 0)
            return lower[i];
    return req->method;
}

/* Append `s` percent-encoded (libcurl's escaping: all but unreserved). */
static int append_escaped(kr_buf *b, const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        return KR_ENOMEM;
    int rc = kr_buf_append_str(b, e);
    curl_free(e);
    return rc;
}

/* The path and its query, percent-encoded again. New, or NULL. */
static char *request_uri(const ts_request *req)
{
    kr_buf b = {0};
    int rc = kr_buf_append_str(&b, req->path);
    for (size_t i = 0; rc == 0 && i < req->nquery; i++) {
        rc = kr_buf_append_str(&b, i ? "&" : "?");
        if (rc == 0)
            rc = append_escaped(&b, req->query[i].key);
        if (rc == 0)
            rc = kr_buf_append_str(&b, "=");
        if (rc == 0)
            rc = append_escaped(&b, req->query[i].value ? req->query[i].value : "");
    }
    if (rc == 0)
        rc = kr_buf_append(&b, "", 1);
    if (rc != 0) {
        kr_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The user as the authenticator names it: "system:anonymous" without
 * credentials, the token's user ("" for a token without one); and the
 * user it impersonates, when it does (NULL otherwise). */
static json_t *user_of(kr_testserver_t *ts, const ts_request *req, json_t **impersonated)
{
    ts_identity who;
    ts_response scratch = {0};
    *impersonated = NULL;
    ts_lock(ts);
    int rc = ts_authenticate(ts, req, &scratch, &who);
    json_t *user = rc == 0 && (who.user || req->authorization) ? ts_identity_user_info(&who) : NULL;
    if (user && req->impersonate_user) {
        ts_response denied = {0};
        if (ts_impersonate(ts, req, &who, &denied) == 0)
            *impersonated = ts_identity_user_info(&who);
        ts_response_clear(&denied);
    }
    ts_unlock(ts);
    ts_response_clear(&scratch);
    if (!user)
        return json_pack("{s:s, s:[s]}", "username", "system:anonymous", "groups",
                         "system:unauthenticated");
    return user;
}

void ts_audit_record(kr_testserver_t *ts, const ts_request *req, const ts_response *resp,
                     const char received[TS_AUDIT_TIME_LEN])
{
    ts_audit *a = ts->audit;
    if (!a || strncmp(req->path, "/_kr/", 5) == 0)
        return;
    bool watch_path = false, named = false;
    json_t *ref = object_ref(req->path, &watch_path, &named);
    char done[TS_AUDIT_TIME_LEN];
    ts_audit_now(done);
    const char *id = resp->audit_id;
    char *uri = request_uri(req);
    json_t *impersonated = NULL;
    json_t *user = user_of(ts, req, &impersonated);
    json_t *ev =
        json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s?, s:s, s:o, s:s?, s:{s:{}, s:i}, s:s, s:s}",
                  "kind", "Event", "apiVersion", "audit.k8s.io/v1", "level", "Metadata", "auditID",
                  id, "stage", resp->watch ? "ResponseStarted" : "ResponseComplete", "requestURI",
                  uri, "verb", verb_of(req, ref, watch_path, named), "user", user, "userAgent",
                  req->user_agent, "responseStatus", "metadata", "code", resp->status,
                  "requestReceivedTimestamp", received, "stageTimestamp", done);
    if (ev && ref)
        json_object_set(ev, "objectRef", ref);
    if (ev && impersonated)
        json_object_set_new(ev, "impersonatedUser", impersonated);
    else
        json_decref(impersonated);
    char *line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    if (line) {
        pthread_mutex_lock(&a->mu);
        fprintf(a->f, "%s\n", line);
        fflush(a->f);
        pthread_mutex_unlock(&a->mu);
    }
    kr_json_text_free(line);
    json_decref(ev);
    json_decref(ref);
    kr_free(uri);
}
