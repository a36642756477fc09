/* libkreconcile — bearer tokens in kube-apiserver's static token file
 * format (--token-auth-file): one `token,user,uid[,"group1,group2"]` CSV
 * record per line. For a program's own HTTP endpoints (kr-submitter's
 * API) and for kr-apiserver. Tokens are compared through their SHA-256
 * digests in constant time; nothing here logs a token. A parsed table is
 * immutable: [any thread]. */
#ifndef KRECONCILE_TOKENFILE_H
#define KRECONCILE_TOKENFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One record. Borrowed from its table. */
typedef struct kr_token_user {
    char *token;
    char *user;
    char *uid;
    char **groups;
    size_t n_groups;
} kr_token_user;

typedef struct kr_token_file kr_token_file_t;

/* Parse a token file's text (`len` bytes) as kube-apiserver reads it:
 * fields may be quoted ("" is a quote) as Go's encoding/csv reads them,
 * spaces are part of the field they are in, blank lines are skipped, a
 * record with an empty token is skipped, the fourth field is a
 * comma-separated group list. (Unlike encoding/csv, a quoted field cannot
 * span lines.) A token given twice is refused, naming both lines (never
 * the token): kube-apiserver only warns and keeps the last record, but a
 * token that names two users lets whoever holds it act as either. *out is
 * new. Errors: KR_EPARSE (the message names the line), KR_ENOMEM. */
KR_API int kr_token_file_parse(const char *text, size_t len, kr_token_file_t **out,
                               kr_error_t *err);

/* The same from a file. Adds KR_EIO, KR_ENOTFOUND, KR_ETOOLARGE. */
KR_API int kr_token_file_load(const char *path, kr_token_file_t **out, kr_error_t *err);

/* NULL is a no-op. */
KR_API void kr_token_file_free(kr_token_file_t *t);

/* The number of records, and record `i` (borrowed). */
KR_API size_t kr_token_file_count(const kr_token_file_t *t);
KR_API const kr_token_user *kr_token_file_user(const kr_token_file_t *t, size_t i);

/* The token of an "Authorization: Bearer <token>" header value, as
 * kube-apiserver reads one: the value's surrounding whitespace ignored,
 * the scheme in any case, the token up to the next space or tab. true
 * with *token (borrowed from the value) and *len > 0; false for no value,
 * another scheme or an empty token. [any thread] */
KR_API bool kr_bearer_token(const char *authorization, const char **token, size_t *len);

/* The user an "Authorization: Bearer <token>" header value authenticates
 * (kr_bearer_token), or NULL (no header, another scheme, an unknown
 * token). Every record is
 * compared, so the time taken does not depend on which one matched. */
KR_API const kr_token_user *kr_token_file_authenticate(const kr_token_file_t *t,
                                                       const char *authorization);

/* The same for a bare token. */
KR_API const kr_token_user *kr_token_file_find(const kr_token_file_t *t, const char *token);

/* A copy of `u` that the caller owns (NULL when out of memory), and its
 * release (NULL is a no-op): for users that outlive a table, such as
 * those a token review returns (tokenreview.h). */
KR_API kr_token_user *kr_token_user_copy(const kr_token_user *u);
KR_API void kr_token_user_free(kr_token_user *u);

/* Whether `u` (may be NULL) lists `group`. */
KR_API bool kr_token_user_in_group(const kr_token_user *u, const char *group);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_TOKENFILE_H */
