/* libkreconcile — bearer tokens authenticated by a cluster's TokenReview
 * API (tokenreview.h). Answers are cached by the token's SHA-256 digest
 * (digest_cache.h): a lookup is one digest and one constant-time compare,
 * and the cache never holds a token. */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

#include "client_internal.h"
#include "digest_cache.h"
#include "internal.h"
#include "kreconcile/tokenreview.h"
#include "util_internal.h"

#define DEFAULT_TTL_MS 10000
/* kube-apiserver's webhook token authenticator gives a review 10 s */
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_CACHE_SIZE 1024

struct kr_token_reviewer {
    kr_client_t *client;
    json_t *audiences; /* array, or NULL */
    uint64_t ttl_ms, negative_ttl_ms;
    uint64_t timeout_ms; /* each review's */
    kr_digest_cache *cache; /* of kr_token_user; NULL: refused */
    _Atomic uint64_t reviews;
};

static void *user_copy(const void *value)
{
    return kr_token_user_copy(value);
}

static void user_free(void *value)
{
    kr_token_user_free(value);
}

int kr_token_reviewer_new(const kr_token_reviewer_opts *opts, kr_token_reviewer_t **out,
                          kr_error_t *err)
{
    *out = NULL;
    if (opts && opts->version > KR_TOKEN_REVIEWER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "token reviewer: options version %u is newer than %u",
                            opts->version, (unsigned)KR_TOKEN_REVIEWER_OPTS_VERSION);
    if (!opts || !opts->client)
        return kr_error_set(err, KR_EINVAL, "token reviewer: a client is required");
    kr_token_reviewer_t *r = kr_calloc(1, sizeof(*r));
    if (!r)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    r->client = opts->client;
    r->ttl_ms = opts->cache_ttl_ms ? opts->cache_ttl_ms : DEFAULT_TTL_MS;
    r->timeout_ms = opts->version >= 2 && opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    r->negative_ttl_ms = opts->negative_ttl_ms ? opts->negative_ttl_ms : DEFAULT_TTL_MS;
    static const kr_digest_cache_ops ops = {user_copy, user_free};
    r->cache = kr_digest_cache_new(opts->cache_size ? opts->cache_size : DEFAULT_CACHE_SIZE, &ops);
    bool ok = r->cache != NULL;
    if (ok && opts->n_audiences) {
        r->audiences = json_array();
        for (size_t i = 0; r->audiences && i < opts->n_audiences; i++) {
            if (!opts->audiences[i] || !*opts->audiences[i]) {
                kr_token_reviewer_free(r);
                return kr_error_set(err, KR_EINVAL, "token reviewer: an empty audience");
            }
            if (json_array_append_new(r->audiences, json_string(opts->audiences[i])) != 0)
                ok = false;
        }
        ok = ok && r->audiences;
    }
    if (!ok) {
        kr_token_reviewer_free(r);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    *out = r;
    return 0;
}

void kr_token_reviewer_free(kr_token_reviewer_t *r)
{
    if (!r)
        return;
    kr_digest_cache_free(r->cache);
    json_decref(r->audiences);
    kr_free(r);
}

/* The user of an authenticated TokenReview status; new, or NULL (out of
 * memory, or no username: err says which). */
static kr_token_user *user_of(const json_t *info, kr_error_t *err)
{
    const char *name = json_string_value(json_object_get(info, "username"));
    if (!name || !*name) {
        kr_error_set(err, KR_EPARSE, "token review: authenticated without a username");
        return NULL;
    }
    const char *uid = json_string_value(json_object_get(info, "uid"));
    const json_t *groups = json_object_get(info, "groups");
    kr_token_user *u = kr_calloc(1, sizeof(*u));
    bool ok = u != NULL;
    if (ok) {
        u->user = kr_strdup(name);
        u->uid = kr_strdup(uid ? uid : "");
        u->groups =
            json_array_size(groups) ? kr_calloc(json_array_size(groups), sizeof(char *)) : NULL;
        ok = u->user && u->uid && (u->groups || !json_array_size(groups));
    }
    size_t i;
    const json_t *g;
    json_array_foreach(groups, i, g)
    {
        if (!ok)
            break;
        if (!json_is_string(g))
            continue;
        if (!(u->groups[u->n_groups] = kr_strdup(json_string_value(g))))
            ok = false;
        else
            u->n_groups++;
    }
    if (!ok) {
        kr_token_user_free(u);
        kr_error_set(err, KR_ENOMEM, "out of memory");
        return NULL;
    }
    return u;
}

/* Asked for audiences, the answer must name one of them (status.audiences):
 * a server that ignores spec.audiences would vouch for a token minted for
 * someone else. Not asked: any answer. */
static bool audience_granted(const kr_token_reviewer_t *r, const json_t *granted)
{
    if (!r->audiences)
        return true;
    size_t i, j;
    json_t *want, *got;
    json_array_foreach(r->audiences, i, want)
    {
        json_array_foreach(granted, j, got)
        {
            if (json_equal(want, got))
                return true;
        }
    }
    return false;
}

/* Ask the cluster: 0 with *user (new) or NULL (refused); an error when
 * no answer could be had. */
static int review(kr_token_reviewer_t *r, const char *token, kr_token_user **user, kr_error_t *err)
{
    json_t *spec = json_pack("{s:s}", "token", token);
    if (spec && r->audiences)
        json_object_set(spec, "audiences", r->audiences);
    json_t *body = spec ? json_pack("{s:s, s:s, s:o}", "apiVersion", "authentication.k8s.io/v1",
                                    "kind", "TokenReview", "spec", spec)
                        : NULL;
    if (!body)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    atomic_fetch_add_explicit(&r->reviews, 1, memory_order_relaxed);
    json_t *answer = NULL;
    /* bounded on its own: a caller waits for the review, never the
     * client's longer request timeout (a shorter one stands) */
    uint64_t client_timeout = kr_client_timeout_ms(r->client);
    kr_request req = {
        .verb = KR_VERB_CREATE,
        .ref = {KR_GVR("authentication.k8s.io", "v1", "tokenreviews"), NULL, NULL, NULL},
        .body = body,
        .timeout_ms = client_timeout && client_timeout < r->timeout_ms ? 0 : r->timeout_ms};
    int rc = kr_client_do_sync(r->client, &req, &answer, err);
    json_decref(body);
    if (rc != 0)
        return rc;
    const json_t *status = json_object_get(answer, "status");
    if (!json_is_object(status)) {
        json_decref(answer);
        return kr_error_set(err, KR_EPARSE, "token review: the answer has no status");
    }
    *user = NULL;
    if (json_is_true(json_object_get(status, "authenticated")) &&
        audience_granted(r, json_object_get(status, "audiences"))) {
        *user = user_of(json_object_get(status, "user"), err);
        if (!*user)
            rc = err ? err->code : KR_EPARSE;
    }
    json_decref(answer);
    return rc;
}

int kr_token_reviewer_authenticate(kr_token_reviewer_t *r, const char *authorization,
                                   kr_token_user **out, kr_error_t *err)
{
    *out = NULL;
    const char *given;
    size_t len;
    if (!r || !kr_bearer_token(authorization, &given, &len))
        return 0;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)given, len, digest);
    void *user_cached = NULL;
    int found = kr_digest_cache_get(r->cache, digest, &user_cached);
    if (found == KR_ENOMEM)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    if (found) {
        *out = user_cached; /* NULL: refused */
        return 0;
    }
    char *token = kr_malloc(len + 1);
    if (!token)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    memcpy(token, given, len);
    token[len] = '\0';
    kr_token_user *user = NULL;
    int rc = review(r, token, &user, err);
    OPENSSL_cleanse(token, len);
    kr_free(token);
    if (rc != 0)
        return rc;
    kr_digest_cache_put(r->cache, digest, user, user ? r->ttl_ms : r->negative_ttl_ms);
    *out = user;
    return 0;
}

/* kube-apiserver adds system:authenticated to every user an
 * authenticator vouches for (its token file's included; a TokenReview's
 * answer has it already): RBAC bindings to it hold for the file's users
 * too. 0 or KR_ENOMEM. */
static int add_authenticated(kr_token_user *u)
{
    static const char group[] = "system:authenticated";
    if (kr_token_user_in_group(u, group))
        return 0;
    char **grown = kr_realloc(u->groups, (u->n_groups + 1) * sizeof(char *));
    if (!grown)
        return KR_ENOMEM;
    u->groups = grown;
    if (!(u->groups[u->n_groups] = kr_strdup(group)))
        return KR_ENOMEM;
    u->n_groups++;
    return 0;
}

int kr_token_authenticate(const kr_token_file_t *file, kr_token_reviewer_t *reviewer,
                          const char *authorization, kr_token_user **out, kr_error_t *err)
{
    *out = NULL;
    const kr_token_user *listed = file ? kr_token_file_authenticate(file, authorization) : NULL;
    if (listed) {
        *out = kr_token_user_copy(listed);
        if (!*out || add_authenticated(*out) != 0) {
            kr_token_user_free(*out);
            *out = NULL;
            return kr_error_set(err, KR_ENOMEM, "out of memory");
        }
        /* who it is, not the secret: as the cluster's answers */
        if ((*out)->token) {
            OPENSSL_cleanse((*out)->token, strlen((*out)->token));
            kr_free((*out)->token);
            (*out)->token = NULL;
        }
        return 0;
    }
    return reviewer ? kr_token_reviewer_authenticate(reviewer, authorization, out, err) : 0;
}

void kr_token_reviewer_get_stats(kr_token_reviewer_t *r, kr_token_reviewer_stats *out,
                                 size_t out_size)
{
    kr_token_reviewer_stats all;
    memset(&all, 0, sizeof(all));
    if (r) {
        all.reviews = atomic_load_explicit(&r->reviews, memory_order_relaxed);
        all.cache_hits = kr_digest_cache_hits(r->cache);
    }
    kr_copy_sized(out, out_size, &all, sizeof(all));
}
