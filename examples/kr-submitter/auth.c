/* kr-submitter — who is calling: bearer tokens from a file in
 * kube-apiserver's static token format (token,user,uid,"group1,group2").
 * Tokens are compared through their SHA-256 digests with CRYPTO_memcmp, so
 * the time taken says nothing about how much of a token matched. Never logs
 * a token. */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "submitter.h"

struct auth_table {
    auth_user *users;
    unsigned char (*digests)[SHA256_DIGEST_LENGTH];
    size_t n;
};

static void user_clear(auth_user *u)
{
    free(u->token);
    free(u->user);
    free(u->uid);
    for (size_t i = 0; i < u->n_groups; i++)
        free(u->groups[i]);
    free(u->groups);
}

void auth_table_free(auth_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        user_clear(&t->users[i]);
    free(t->users);
    free(t->digests);
    free(t);
}

/* One CSV field starting at *p (Go's encoding/csv with TrimLeadingSpace):
 * quoted ("" is a quote) or plain up to the next comma or line end. */
static char *csv_field(const char **p, const char *end, bool *bad)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    char *out = malloc((size_t)(end - s) + 1);
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
        while (s < end && *s != ',')
            out[n++] = *s++;
    }
    out[n] = '\0';
    if (s < end && *s == ',')
        s++;
    *p = s;
    return out;
}

static int split_groups(const char *text, auth_user *u)
{
    if (!*text)
        return 0;
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    u->groups = calloc(cap, sizeof(char *));
    if (!u->groups)
        return KR_ENOMEM;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0 && !(u->groups[u->n_groups++] = strndup(p, len)))
            return KR_ENOMEM;
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

/* Parse one record (a line without its newline) into *u. */
static int parse_record(const char *line, const char *end, size_t lineno, auth_user *u,
                        kr_error_t *err)
{
    char *fields[4] = {0};
    size_t n = 0;
    bool bad = false;
    const char *p = line;
    while (p < end && n < 4 && !bad) {
        if (!(fields[n++] = csv_field(&p, end, &bad))) {
            for (size_t i = 0; i < n; i++)
                free(fields[i]);
            return kr_error_set(err, KR_ENOMEM, "out of memory");
        }
    }
    int rc = 0;
    if (bad)
        rc = kr_error_set(err, KR_EPARSE, "token file line %zu: bad quoting", lineno);
    else if (n < 3 || !fields[0][0] || !fields[1][0])
        rc = kr_error_set(err, KR_EPARSE,
                          "token file line %zu: want at least 3 columns (token,user,uid)", lineno);
    if (rc == 0) {
        u->token = fields[0];
        u->user = fields[1];
        u->uid = fields[2];
        fields[0] = fields[1] = fields[2] = NULL;
        if (n == 4 && split_groups(fields[3], u) != 0)
            rc = kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < 4; i++)
        free(fields[i]);
    return rc;
}

int auth_table_parse(const char *text, size_t len, auth_table **out, kr_error_t *err)
{
    *out = NULL;
    auth_table *t = calloc(1, sizeof(*t));
    if (!t)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    t->users = calloc(lines, sizeof(*t->users));
    t->digests = calloc(lines, sizeof(*t->digests));
    if (!t->users || !t->digests) {
        auth_table_free(t);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    const char *p = text, *end = text + len;
    for (size_t lineno = 1; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *trim = le;
        while (trim > p && (trim[-1] == '\r' || trim[-1] == ' '))
            trim--;
        if (trim > p) {
            auth_user *u = &t->users[t->n];
            int rc = parse_record(p, trim, lineno, u, err);
            if (rc == 0 && !u->token) {
                kr_error_set(err, KR_ENOMEM, "out of memory");
                rc = KR_ENOMEM;
            }
            if (rc != 0) {
                user_clear(u);
                auth_table_free(t);
                return rc;
            }
            SHA256((const unsigned char *)u->token, strlen(u->token), t->digests[t->n]);
            t->n++;
        }
        p = nl ? nl + 1 : end;
    }
    *out = t;
    return 0;
}

int auth_table_load(const char *path, auth_table **out, kr_error_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return kr_error_set(err, KR_EIO, "cannot read token file %s", path);
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            char *grown = realloc(text, cap = cap * 2 + 4096);
            if (!grown) {
                free(text);
                fclose(f);
                return kr_error_set(err, KR_ENOMEM, "out of memory");
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    int rc = failed ? kr_error_set(err, KR_EIO, "cannot read token file %s", path)
                    : auth_table_parse(text ? text : "", len, out, err);
    free(text);
    return rc;
}

const auth_user *auth_authenticate(const auth_table *t, const char *authorization)
{
    if (!t || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    if (!*token)
        return NULL;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), digest);
    const auth_user *found = NULL;
    for (size_t i = 0; i < t->n; i++) {
        /* every entry is compared, match or not */
        if (CRYPTO_memcmp(digest, t->digests[i], sizeof(digest)) == 0 && !found)
            found = &t->users[i];
    }
    return found;
}

bool auth_user_in_group(const auth_user *u, const char *group)
{
    for (size_t i = 0; u && i < u->n_groups; i++) {
        if (strcmp(u->groups[i], group) == 0)
            return true;
    }
    return false;
}
