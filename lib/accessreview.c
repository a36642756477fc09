/* libkreconcile — whether a user may do something, by a cluster's
 * SubjectAccessReview API (accessreview.h). Answers are cached as the
 * token reviewer's are (digest_cache.h), by the digest of the review's
 * spec, compact with sorted keys, so that two questions share an answer
 * only when every word of them is the same. */
#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "client_internal.h"
#include "digest_cache.h"
#include "internal.h"
#include "kreconcile/accessreview.h"
#include "util_internal.h"

#define DEFAULT_TTL_MS 10000
/* kube-apiserver's webhook authorizer gives a review 10 s */
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_CACHE_SIZE 1024
#define REASON_MAX 256

/* A cached answer. */
typedef struct cached_answer {
    bool allowed;
    char reason[REASON_MAX];
} cached_answer;

struct kr_access_reviewer {
    kr_client_t *client;
    uint64_t allowed_ttl_ms, denied_ttl_ms;
    uint64_t timeout_ms; /* each review's */
    kr_digest_cache *cache;
    _Atomic uint64_t reviews;
};

static void *answer_copy(const void *value)
{
    cached_answer *copy = kr_malloc(sizeof(cached_answer));
    if (copy)
        memcpy(copy, value, sizeof(cached_answer));
    return copy;
}

static void answer_free(void *value)
{
    kr_free(value);
}

int kr_access_reviewer_new(const kr_access_reviewer_opts *opts, kr_access_reviewer_t **out,
                           kr_error_t *err)
{
    *out = NULL;
    if (opts && opts->version > KR_ACCESS_REVIEWER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "access reviewer: options version %u is newer than %u",
                            opts->version, (unsigned)KR_ACCESS_REVIEWER_OPTS_VERSION);
    if (!opts || !opts->client)
        return kr_error_set(err, KR_EINVAL, "access reviewer: a client is required");
    kr_access_reviewer_t *r = kr_calloc(1, sizeof(*r));
    if (!r)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    r->client = opts->client;
    r->allowed_ttl_ms = opts->allowed_ttl_ms ? opts->allowed_ttl_ms : DEFAULT_TTL_MS;
    r->denied_ttl_ms = opts->denied_ttl_ms ? opts->denied_ttl_ms : DEFAULT_TTL_MS;
    r->timeout_ms = opts->version >= 2 && opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    static const kr_digest_cache_ops ops = {answer_copy, answer_free};
    r->cache = kr_digest_cache_new(opts->cache_size ? opts->cache_size : DEFAULT_CACHE_SIZE, &ops);
    if (!r->cache) {
        kr_free(r);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    *out = r;
    return 0;
}

void kr_access_reviewer_free(kr_access_reviewer_t *r)
{
    if (!r)
        return;
    kr_digest_cache_free(r->cache);
    kr_free(r);
}

static void copy_reason(char *out, size_t len, const char *reason)
{
    if (out && len)
        snprintf(out, len, "%s", reason ? reason : "");
}

/* The cached answer for `digest`: true with *allowed and the reason when
 * one is fresh. */
static bool cached(kr_access_reviewer_t *r, const unsigned char *digest, bool *allowed,
                   char *reason, size_t reason_len)
{
    void *value = NULL;
    if (kr_digest_cache_get(r->cache, digest, &value) != 1 || !value)
        return false; /* out of memory for the copy: asked again */
    const cached_answer *a = value;
    *allowed = a->allowed;
    copy_reason(reason, reason_len, a->reason);
    answer_free(value);
    return true;
}

static void remember(kr_access_reviewer_t *r, const unsigned char *digest, bool allowed,
                     const char *reason)
{
    cached_answer a = {.allowed = allowed};
    copy_reason(a.reason, sizeof(a.reason), reason);
    kr_digest_cache_put(r->cache, digest, &a, allowed ? r->allowed_ttl_ms : r->denied_ttl_ms);
}

/* The review's spec: who, and the resource attributes (empty ones left
 * out, as kube-apiserver's delegating authorizer leaves them). */
static json_t *spec_of(const kr_token_user *user, const kr_access_attrs *a)
{
    json_t *ra = a->path ? json_pack("{s:s, s:s}", "verb", a->verb, "path", a->path)
                         : json_pack("{s:s, s:s, s:s}", "verb", a->verb, "group",
                                     a->group ? a->group : "", "resource", a->resource);
    json_t *groups = json_array();
    if (!ra || !groups) {
        json_decref(ra);
        json_decref(groups);
        return NULL;
    }
    json_t *spec = json_pack("{s:s, s:o, s:o}", "user", user->user, "groups", groups,
                             a->path ? "nonResourceAttributes" : "resourceAttributes", ra);
    if (!spec)
        return NULL; /* json_pack gave both back */
    bool ok = true;
    if (!a->path && a->subresource && *a->subresource)
        ok = ok && json_object_set_new(ra, "subresource", json_string(a->subresource)) == 0;
    if (!a->path && a->namespace_ && *a->namespace_)
        ok = ok && json_object_set_new(ra, "namespace", json_string(a->namespace_)) == 0;
    if (!a->path && a->name && *a->name)
        ok = ok && json_object_set_new(ra, "name", json_string(a->name)) == 0;
    if (user->uid && *user->uid)
        ok = ok && json_object_set_new(spec, "uid", json_string(user->uid)) == 0;
    for (size_t i = 0; ok && i < user->n_groups; i++)
        ok = json_array_append_new(groups, json_string(user->groups[i])) == 0;
    if (!ok) {
        json_decref(spec);
        return NULL;
    }
    return spec;
}

/* Ask the cluster: 0 with *allowed and *reason (borrowed from *answer,
 * which the caller frees); an error when no answer could be had. */
static int review(kr_access_reviewer_t *r, json_t *spec, bool *allowed, json_t **answer,
                  const char **reason, kr_error_t *err)
{
    json_t *body = json_pack("{s:s, s:s, s:O}", "apiVersion", "authorization.k8s.io/v1", "kind",
                             "SubjectAccessReview", "spec", spec);
    if (!body)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    atomic_fetch_add_explicit(&r->reviews, 1, memory_order_relaxed);
    /* bounded on its own: a caller waits for the review, never the
     * client's longer request timeout (a shorter one stands) */
    uint64_t client_timeout = kr_client_timeout_ms(r->client);
    kr_request req = {
        .verb = KR_VERB_CREATE,
        .ref = {KR_GVR("authorization.k8s.io", "v1", "subjectaccessreviews"), NULL, NULL, NULL},
        .body = body,
        .timeout_ms = client_timeout && client_timeout < r->timeout_ms ? 0 : r->timeout_ms};
    int rc = kr_client_do_sync(r->client, &req, answer, err);
    json_decref(body);
    if (rc != 0)
        return rc;
    const json_t *status = json_object_get(*answer, "status");
    if (!json_is_object(status))
        return kr_error_set(err, KR_EPARSE, "access review: the answer has no status");
    /* allowed and denied both set is not an answer kube gives; denied wins */
    *allowed = json_is_true(json_object_get(status, "allowed")) &&
               !json_is_true(json_object_get(status, "denied"));
    *reason = json_string_value(json_object_get(status, "reason"));
    if (!*allowed && (!*reason || !**reason))
        *reason = json_string_value(json_object_get(status, "evaluationError"));
    return 0;
}

/* Whether s (may be NULL: not sent) can go into the review. */
static bool utf8_ok(const char *s)
{
    return !s || kr_utf8_valid(s);
}

int kr_access_reviewer_check(kr_access_reviewer_t *r, const kr_token_user *user,
                             const kr_access_attrs *attrs, bool *allowed, char *reason,
                             size_t reason_len, kr_error_t *err)
{
    *allowed = false;
    copy_reason(reason, reason_len, "");
    if (!r || !attrs || !attrs->verb || !*attrs->verb ||
        !(attrs->path ? *attrs->path : attrs->resource && *attrs->resource))
        return kr_error_set(err, KR_EINVAL,
                            "access review: a verb and a resource or a path are required");
    if (!user || !user->user || !*user->user)
        return kr_error_set(err, KR_EINVAL, "access review: a user is required");
    bool readable = utf8_ok(user->user) && utf8_ok(user->uid) && utf8_ok(attrs->verb) &&
                    utf8_ok(attrs->group) && utf8_ok(attrs->resource) &&
                    utf8_ok(attrs->subresource) && utf8_ok(attrs->namespace_) &&
                    utf8_ok(attrs->name) && utf8_ok(attrs->path);
    for (size_t i = 0; readable && i < user->n_groups; i++)
        readable = utf8_ok(user->groups[i]);
    if (!readable)
        return kr_error_set(err, KR_EINVAL, "access review: a name that is not valid UTF-8");
    json_t *spec = spec_of(user, attrs);
    char *text = spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!text) {
        json_decref(spec);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), digest);
    free(text);
    if (cached(r, digest, allowed, reason, reason_len)) {
        json_decref(spec);
        return 0;
    }
    json_t *answer = NULL;
    const char *why = NULL;
    int rc = review(r, spec, allowed, &answer, &why, err);
    json_decref(spec);
    if (rc == 0) {
        remember(r, digest, *allowed, why);
        copy_reason(reason, reason_len, why);
    }
    json_decref(answer);
    return rc;
}

void kr_access_reviewer_get_stats(kr_access_reviewer_t *r, kr_access_reviewer_stats *out,
                                  size_t out_size)
{
    kr_access_reviewer_stats all;
    memset(&all, 0, sizeof(all));
    if (r) {
        all.reviews = atomic_load_explicit(&r->reviews, memory_order_relaxed);
        all.cache_hits = kr_digest_cache_hits(r->cache);
    }
    kr_copy_sized(out, out_size, &all, sizeof(all));
}
