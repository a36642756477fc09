/* libkreconcile — whether a user may do something, by a cluster's
 * SubjectAccessReview API (accessreview.h). The cache is direct-mapped,
 * as the token reviewer's: the digest of the review's spec, compact with
 * sorted keys, names its one slot, so that two questions share an answer
 * only when every word of them is the same. */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/accessreview.h"
#include "lock.h"
#include "util_internal.h"

#define DEFAULT_TTL_MS 10000
#define DEFAULT_CACHE_SIZE 1024
#define REASON_MAX 256

typedef struct slot {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    bool used;
    bool allowed;
    uint64_t expires_ms; /* monotonic */
    char reason[REASON_MAX];
} slot;

struct kr_access_reviewer {
    kr_client_t *client;
    uint64_t allowed_ttl_ms, denied_ttl_ms;
    kr_mutex mu; /* guards slots and stats */
    slot *slots;
    size_t n_slots;
    kr_access_reviewer_stats stats;
};

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
    r->n_slots = opts->cache_size ? opts->cache_size : DEFAULT_CACHE_SIZE;
    r->slots = kr_calloc(r->n_slots, sizeof(*r->slots));
    if (!r->slots || kr_mutex_init(&r->mu) != 0) {
        kr_free(r->slots);
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
    kr_free(r->slots);
    kr_mutex_destroy(&r->mu);
    kr_free(r);
}

static size_t slot_of(const kr_access_reviewer_t *r, const unsigned char *digest)
{
    uint64_t h;
    memcpy(&h, digest, sizeof(h));
    return (size_t)(h % r->n_slots);
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
    bool hit = false;
    kr_mutex_lock(&r->mu);
    const slot *s = &r->slots[slot_of(r, digest)];
    if (s->used && CRYPTO_memcmp(s->digest, digest, SHA256_DIGEST_LENGTH) == 0 &&
        kr_clock_monotonic_ms() < s->expires_ms) {
        hit = true;
        *allowed = s->allowed;
        copy_reason(reason, reason_len, s->reason);
        r->stats.cache_hits++;
    }
    kr_mutex_unlock(&r->mu);
    return hit;
}

static void remember(kr_access_reviewer_t *r, const unsigned char *digest, bool allowed,
                     const char *reason)
{
    kr_mutex_lock(&r->mu);
    slot *s = &r->slots[slot_of(r, digest)];
    memcpy(s->digest, digest, SHA256_DIGEST_LENGTH);
    s->used = true;
    s->allowed = allowed;
    copy_reason(s->reason, sizeof(s->reason), reason);
    s->expires_ms = kr_clock_monotonic_ms() + (allowed ? r->allowed_ttl_ms : r->denied_ttl_ms);
    kr_mutex_unlock(&r->mu);
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
    kr_mutex_lock(&r->mu);
    r->stats.reviews++;
    kr_mutex_unlock(&r->mu);
    int rc =
        kr_client_create(r->client, KR_GVR("authorization.k8s.io", "v1", "subjectaccessreviews"),
                         NULL, body, NULL, answer, err);
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
        kr_mutex_lock(&r->mu);
        all = r->stats;
        kr_mutex_unlock(&r->mu);
    }
    kr_copy_sized(out, out_size, &all, sizeof(all));
}
