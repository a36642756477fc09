/* libkreconcile — whether a user may do something, as a cluster's
 * authorizers say: the SubjectAccessReview API (authorization.k8s.io/v1),
 * as kube-apiserver's delegated authorization asks it. For a program's own
 * HTTP endpoints whose rights live in the hub's RBAC: kr-submitter asks
 * whether a caller may `create runnables` in the namespace it submits to.
 *
 * Answers are cached by the SHA-256 digest of the review's spec (who and
 * what, exactly as sent): allowed ones for allowed_ttl_ms, denied ones for
 * denied_ttl_ms, in a direct-mapped table of cache_size entries. A review
 * that fails (the cluster unreachable, the program's own credentials
 * refused) is an error and is not cached: the caller answers 503, never
 * a denial or a grant. A cluster that hangs is an error after the
 * review's timeout (10 s unless the options say), not the client's
 * longer one.
 *
 * The client needs `create subjectaccessreviews` (the
 * system:auth-delegator ClusterRole). [any thread]; a check blocks on a
 * cache miss, so call it from a worker thread, never from the runtime's
 * loop. */
#ifndef KRECONCILE_ACCESSREVIEW_H
#define KRECONCILE_ACCESSREVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "common.h"
#include "tokenfile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_access_reviewer kr_access_reviewer_t;

typedef struct kr_access_reviewer_opts {
    unsigned version; /* KR_ACCESS_REVIEWER_OPTS_VERSION (0 is taken as 1) */
    kr_client_t *client; /* borrowed; required */
    uint64_t allowed_ttl_ms; /* allowed answers; 0 = 10 s */
    uint64_t denied_ttl_ms; /* denied answers; 0 = 10 s */
    size_t cache_size; /* entries; 0 = 1024 */
    /* Version 2: how long a review may take, the client's retries
     * included; 0 = 10 s, the timeout of kube-apiserver's webhook
     * authorizer. A client whose own request timeout is shorter keeps
     * it. Version 1: 10 s. */
    uint64_t timeout_ms;
} kr_access_reviewer_opts;

#define KR_ACCESS_REVIEWER_OPTS_VERSION 2
/* clang-format off */
#define KR_ACCESS_REVIEWER_OPTS_INIT {.version = KR_ACCESS_REVIEWER_OPTS_VERSION}
/* clang-format on */

/* What is asked about: RBAC's resource attributes, or with `path` its
 * non-resource ones (a URL path of the program's own API, with the
 * request's method in lower case as the verb, as kube-apiserver asks of
 * its non-resource paths; RBAC grants those by nonResourceURLs in a
 * ClusterRole). */
typedef struct kr_access_attrs {
    const char *verb; /* required: "create", "list", "get", or a verb of the program's own */
    const char *group; /* API group; NULL or "": the core group */
    const char *resource; /* required without path: "runnables" */
    const char *subresource; /* NULL: none */
    const char *namespace_; /* NULL or "": cluster scope (every namespace, for list) */
    const char *name; /* NULL: any */
    const char *path; /* set: a non-resource path ("/api/v1/events"); the above unused */
} kr_access_attrs;

/* Errors: KR_EINVAL (no client, a newer options version), KR_ENOMEM. */
KR_API int kr_access_reviewer_new(const kr_access_reviewer_opts *opts, kr_access_reviewer_t **out,
                                  kr_error_t *err);

/* NULL is a no-op. The client is not freed. */
KR_API void kr_access_reviewer_free(kr_access_reviewer_t *r);

/* Whether `user` (its name, uid and groups, exactly those) may do what
 * `attrs` says, as the cluster answers: 0 with *allowed, and when `reason`
 * is given, the cluster's reason (or its evaluation error) in it, cut to
 * reason_len bytes ("" when it gave none). An error when no answer could
 * be had: KR_EINVAL (no verb, no resource or path, no user, a string that
 * is not valid UTF-8), the client's
 * (KR_ECONNECT, KR_EUNAVAILABLE, KR_EFORBIDDEN for a client without
 * `create subjectaccessreviews`, ...), KR_EPARSE for an answer without a
 * status, KR_ENOMEM. [any thread; blocks on a review] */
KR_API int kr_access_reviewer_check(kr_access_reviewer_t *r, const kr_token_user *user,
                                    const kr_access_attrs *attrs, bool *allowed, char *reason,
                                    size_t reason_len, kr_error_t *err);

/* Reviews sent and answers served from the cache, since creation. */
typedef struct kr_access_reviewer_stats {
    uint64_t reviews;
    uint64_t cache_hits;
} kr_access_reviewer_stats;

/* Writes at most out_size bytes (common.h, Statistics); NULL r: zeros.
 * [any thread] */
KR_API void kr_access_reviewer_get_stats(kr_access_reviewer_t *r, kr_access_reviewer_stats *out,
                                         size_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_ACCESSREVIEW_H */
