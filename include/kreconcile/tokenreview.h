/* libkreconcile — bearer tokens authenticated by a cluster: the
 * TokenReview API (authentication.k8s.io/v1), as kube-apiserver's
 * delegated authentication asks it. For a program's own HTTP endpoints
 * (kr-submitter's API) whose callers hold tokens the hub knows: service
 * account tokens, or whatever the hub's authenticators accept.
 *
 * Answers are cached by the token's SHA-256 digest (the token itself is
 * never kept or logged): authenticated ones for cache_ttl_ms, refused
 * ones for negative_ttl_ms, in a direct-mapped table of cache_size
 * entries. A review that fails (the cluster unreachable, the program's
 * own credentials refused) is an error and is not cached. A cluster that
 * hangs is an error after the review's timeout (10 s unless the options
 * say), not the client's longer one.
 *
 * The client needs `create tokenreviews` (the system:auth-delegator
 * ClusterRole). [any thread]; authenticate blocks on a cache miss, so
 * call it from a worker thread, never from the runtime's loop. */
#ifndef KRECONCILE_TOKENREVIEW_H
#define KRECONCILE_TOKENREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "common.h"
#include "tokenfile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_token_reviewer kr_token_reviewer_t;

typedef struct kr_token_reviewer_opts {
    unsigned version; /* KR_TOKEN_REVIEWER_OPTS_VERSION (0 is taken as 1) */
    kr_client_t *client; /* borrowed; required */
    /* The audiences the token must be for (spec.audiences); none: the
     * cluster's own API audiences. Copied. */
    const char *const *audiences;
    size_t n_audiences;
    uint64_t cache_ttl_ms; /* authenticated answers; 0 = 10 s */
    uint64_t negative_ttl_ms; /* refused answers; 0 = 10 s */
    size_t cache_size; /* entries; 0 = 1024 */
    /* Version 2: how long a review may take, the client's retries
     * included; 0 = 10 s, the timeout of kube-apiserver's webhook
     * token authenticator. A client whose own request timeout is
     * shorter keeps it. Version 1: 10 s. */
    uint64_t timeout_ms;
} kr_token_reviewer_opts;
#define KR_TOKEN_REVIEWER_OPTS_VERSION 2
/* clang-format off */
#define KR_TOKEN_REVIEWER_OPTS_INIT {.version = KR_TOKEN_REVIEWER_OPTS_VERSION}
/* clang-format on */

/* Errors: KR_EINVAL (no client, a newer options version), KR_ENOMEM. */
KR_API int kr_token_reviewer_new(const kr_token_reviewer_opts *opts, kr_token_reviewer_t **out,
                                 kr_error_t *err);

/* NULL is a no-op. The client is not freed. */
KR_API void kr_token_reviewer_free(kr_token_reviewer_t *r);

/* Who an "Authorization: Bearer <token>" header value is, as the cluster
 * says: 0 with *out a new user (kr_token_user_free; `token` is NULL), or
 * 0 with *out NULL when the cluster says the token does not authenticate
 * (also for no header or another scheme, without asking). An error when
 * no answer could be had: the client's (KR_ECONNECT, KR_EUNAVAILABLE,
 * KR_EFORBIDDEN for a client without `create tokenreviews`, ...), or
 * KR_EPARSE for an answer without a status. */
KR_API int kr_token_reviewer_authenticate(kr_token_reviewer_t *r, const char *authorization,
                                          kr_token_user **out, kr_error_t *err);

/* Who an "Authorization: Bearer <token>" header value is, for an API that
 * takes both kinds of callers: the token file's user (with the group
 * system:authenticated added, as kube-apiserver adds it), else (when a
 * reviewer is given) the cluster's answer. 0 with *out a new user
 * (kr_token_user_free; its `token` is NULL: the secret is not copied), or
 * 0 with *out NULL when neither knows the token;
 * `file` and `reviewer` may each be NULL. Errors: the reviewer's (no
 * answer could be had: answer 503, not 401), KR_ENOMEM. [any thread;
 * blocks on a review] */
KR_API int kr_token_authenticate(const kr_token_file_t *file, kr_token_reviewer_t *reviewer,
                                 const char *authorization, kr_token_user **out, kr_error_t *err);

/* Reviews sent and answers served from the cache, since creation. */
typedef struct kr_token_reviewer_stats {
    uint64_t reviews;
    uint64_t cache_hits;
} kr_token_reviewer_stats;

/* Writes at most out_size bytes (common.h, Statistics); NULL r: zeros.
 * [any thread] */
KR_API void kr_token_reviewer_get_stats(kr_token_reviewer_t *r, kr_token_reviewer_stats *out,
                                        size_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_TOKENREVIEW_H */
