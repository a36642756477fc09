/* libkreconcile — kube-apiserver's static token file (tokenfile.h). Each
 * token is kept beside its SHA-256 digest; lookups compare digests with
 * CRYPTO_memcmp and visit every record. */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "kreconcile/tokenfile.h"
#include "util_internal.h"

struct kr_token_file {
    kr_token_user *users;
    unsigned char (*digests)[SHA256_DIGEST_LENGTH];
    size_t n;
};

static void user_clear(kr_token_user *u)
{
    kr_free(u->token);
    kr_free(u->user);
    kr_free(u->uid);
    for (size_t i = 0; u->groups && i < u->n_groups; i++)
        kr_free(u->groups[i]);
    kr_free(u->groups);
}

void kr_token_file_free(kr_token_file_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->users && i < t->n; i++)
        user_clear(&t->users[i]);
    kr_free(t->users);
    kr_free(t->digests);
    kr_free(t);
}

/* One CSV field starting at *p, as Go's encoding/csv reads it for
 * kube-apiserver (no space trimmed): quoted ("" is a quote) or plain up to
 * the next comma or line end; a quote inside a plain field is an error. */
static char *csv_field(const char **p, const char *end, bool *bad)
{
    const char *s = *p;
    char *out = kr_malloc((size_t)(end - s) + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    if (s < end && *s == '"') {
        s++;
        for (;;) {
            if (s >= end) {
                *bad = true;
                break;
            }
            if (*s == '"') {
                if (s + 1 < end && s[1] == '"') {
                    out[n++] = '"';
                    s += 2;
                    continue;
                }
                s++;
                break;
            }
            out[n++] = *s++;
        }
        if (s < end && *s != ',')
            *bad = true;
    } else {
        while (s < end && *s != ',') {
            if (*s == '"')
                *bad = true; /* encoding/csv: bare " in non-quoted field */
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    if (s < end && *s == ',')
        s++;
    *p = s;
    return out;
}

static int split_groups(const char *text, kr_token_user *u)
{
    if (!*text)
        return 0;
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    u->groups = kr_calloc(cap, sizeof(char *));
    if (!u->groups)
        return KR_ENOMEM;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0 && !(u->groups[u->n_groups++] = kr_strndup(p, len)))
            return KR_ENOMEM;
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

/* Parse one record (a line without its newline) into *u. A record with an
 * empty token is skipped, as kube-apiserver skips it: *u stays empty. */
static int parse_record(const char *line, const char *end, size_t lineno, kr_token_user *u,
                        kr_error_t *err)
{
    char *fields[4] = {0};
    size_t n = 0;
    bool bad = false;
    const char *p = line;
    while (p < end && n < 4 && !bad) {
        if (!(fields[n++] = csv_field(&p, end, &bad))) {
            for (size_t i = 0; i < n; i++)
                kr_free(fields[i]);
            return kr_error_set(err, KR_ENOMEM, "out of memory");
        }
    }
    int rc = 0;
    if (bad)
        rc = kr_error_set(err, KR_EPARSE, "token file line %zu: bad quoting", lineno);
    else if (n < 3)
        rc = kr_error_set(err, KR_EPARSE,
                          "token file line %zu: want at least 3 columns (token,user,uid)", lineno);
    if (rc == 0 && fields[0] && fields[0][0]) {
        u->token = fields[0];
        u->user = fields[1];
        u->uid = fields[2];
        fields[0] = fields[1] = fields[2] = NULL;
        if (n == 4 && split_groups(fields[3], u) != 0)
            rc = kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < 4; i++)
        kr_free(fields[i]);
    return rc;
}

struct record_ref {
    const unsigned char *digest;
    size_t line;
};

static int record_cmp(const void *a, const void *b)
{
    const struct record_ref *x = a, *y = b;
    int c = memcmp(x->digest, y->digest, SHA256_DIGEST_LENGTH);
    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* A token given twice names two users, and whoever knows it may act as
 * either: kube-apiserver warns and keeps the last record; a token file
 * here is refused, naming both lines (the first such repeat in the file),
 * never the token. */
static int check_unique(const kr_token_file_t *t, const size_t *lines, kr_error_t *err)
{
    if (t->n < 2)
        return 0;
    struct record_ref *refs = kr_calloc(t->n, sizeof(*refs));
    if (!refs)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n; i++)
        refs[i] = (struct record_ref){t->digests[i], lines[i]};
    qsort(refs, t->n, sizeof(*refs), record_cmp);
    size_t first = 0, again = 0; /* the repeat on the earliest line */
    for (size_t i = 1; i < t->n; i++) {
        if (memcmp(refs[i - 1].digest, refs[i].digest, SHA256_DIGEST_LENGTH) == 0 &&
            (again == 0 || refs[i].line < again)) {
            first = refs[i - 1].line;
            again = refs[i].line;
        }
    }
    kr_free(refs);
    if (again == 0)
        return 0;
    return kr_error_set(err, KR_EPARSE,
                        "token file lines %zu and %zu: the same token twice (each token must name "
                        "one user)",
                        first, again);
}

int kr_token_file_parse(const char *text, size_t len, kr_token_file_t **out, kr_error_t *err)
{
    *out = NULL;
    kr_token_file_t *t = kr_calloc(1, sizeof(*t));
    if (!t)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    t->users = kr_calloc(lines, sizeof(*t->users));
    t->digests = kr_calloc(lines, sizeof(*t->digests));
    size_t *record_lines = kr_calloc(lines, sizeof(*record_lines));
    if (!t->users || !t->digests || !record_lines) {
        kr_free(record_lines);
        kr_token_file_free(t);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    const char *p = text, *end = text + len;
    for (size_t lineno = 1; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *trim = le; /* a CRLF line's \r is not part of it */
        if (trim > p && trim[-1] == '\r')
            trim--;
        if (trim > p) {
            kr_token_user *u = &t->users[t->n];
            int rc = parse_record(p, trim, lineno, u, err);
            if (rc != 0) {
                user_clear(u);
                kr_free(record_lines);
                kr_token_file_free(t);
                return rc;
            }
            if (u->token) {
                SHA256((const unsigned char *)u->token, strlen(u->token), t->digests[t->n]);
                record_lines[t->n++] = lineno;
            }
        }
        p = nl ? nl + 1 : end;
    }
    int rc = check_unique(t, record_lines, err);
    kr_free(record_lines);
    if (rc != 0) {
        kr_token_file_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int kr_token_file_load(const char *path, kr_token_file_t **out, kr_error_t *err)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = kr_read_file(path, KR_READ_FILE_MAX, "token file", &text, &len, err);
    if (rc == 0)
        rc = kr_token_file_parse(text, len, out, err);
    kr_free(text);
    return rc;
}

size_t kr_token_file_count(const kr_token_file_t *t)
{
    return t ? t->n : 0;
}

const kr_token_user *kr_token_file_user(const kr_token_file_t *t, size_t i)
{
    return t && i < t->n ? &t->users[i] : NULL;
}

static const kr_token_user *find_len(const kr_token_file_t *t, const char *token, size_t len)
{
    if (!t || !token || !len)
        return NULL;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, len, digest);
    const kr_token_user *found = NULL;
    for (size_t i = 0; i < t->n; i++) {
        /* every entry is compared, match or not (tokens are unique) */
        if (CRYPTO_memcmp(digest, t->digests[i], sizeof(digest)) == 0)
            found = &t->users[i];
    }
    return found;
}

const kr_token_user *kr_token_file_find(const kr_token_file_t *t, const char *token)
{
    return find_len(t, token, token ? strlen(token) : 0);
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

bool kr_bearer_token(const char *authorization, const char **token, size_t *len)
{
    *token = NULL;
    *len = 0;
    if (!authorization)
        return false;
    while (blank(*authorization))
        authorization++;
    if (strncasecmp(authorization, "Bearer", 6) != 0 || !blank(authorization[6]))
        return false;
    const char *p = authorization + 7;
    while (blank(*p)) /* more than one space: taken, where Go's split would not */
        p++;
    size_t n = 0;
    while (p[n] && !blank(p[n]))
        n++;
    if (n == 0)
        return false;
    *token = p;
    *len = n;
    return true;
}

const kr_token_user *kr_token_file_authenticate(const kr_token_file_t *t, const char *authorization)
{
    const char *token;
    size_t len;
    return t && kr_bearer_token(authorization, &token, &len) ? find_len(t, token, len) : NULL;
}

kr_token_user *kr_token_user_copy(const kr_token_user *u)
{
    kr_token_user *c = u ? kr_calloc(1, sizeof(*c)) : NULL;
    if (!c)
        return NULL;
    c->token = u->token ? kr_strdup(u->token) : NULL;
    c->user = kr_strdup(u->user ? u->user : "");
    c->uid = kr_strdup(u->uid ? u->uid : "");
    c->groups = u->n_groups ? kr_calloc(u->n_groups, sizeof(char *)) : NULL;
    bool ok = (c->token || !u->token) && c->user && c->uid && (c->groups || !u->n_groups);
    for (size_t i = 0; ok && i < u->n_groups; i++) {
        if (!(c->groups[i] = kr_strdup(u->groups[i])))
            ok = false;
        else
            c->n_groups++;
    }
    if (!ok) {
        kr_token_user_free(c);
        return NULL;
    }
    return c;
}

void kr_token_user_free(kr_token_user *u)
{
    if (!u)
        return;
    user_clear(u);
    kr_free(u);
}

bool kr_token_user_in_group(const kr_token_user *u, const char *group)
{
    for (size_t i = 0; u && i < u->n_groups; i++) {
        if (strcmp(u->groups[i], group) == 0)
            return true;
    }
    return false;
}
