/* kr-submitter — one Runnable per idempotency key: the name is derived from
 * the key, so that of any number of concurrent submissions with one key
 * the hub's AlreadyExists lets exactly one create through, with no lock
 * and no table of keys to keep. */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "submitter.h"

/* Room for the base in a name: SUB_MAX_NAME less "-" and 10 hex digits. */
#define BASE_MAX (SUB_MAX_NAME - 11)

size_t sub_label_fragment(const char *name, size_t max, char *out)
{
    size_t n = 0;
    for (const char *p = name ? name : ""; *p && n < max; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)c))
            c = '-';
        if (c == '-' && (n == 0 || out[n - 1] == '-'))
            continue;
        out[n++] = c;
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    return n;
}

/* `name` as a DNS label fragment of at most BASE_MAX characters; "run"
 * when nothing is left. */
static void sanitise(const char *name, char out[BASE_MAX + 1])
{
    if (sub_label_fragment(name, BASE_MAX, out) == 0)
        strcpy(out, "run");
}

void idempotency_base(const char *name, char *out, size_t len)
{
    char base[BASE_MAX + 1];
    sanitise(name, base);
    snprintf(out, len, "%s-", base);
}

int idempotency_name(const char *base, const char *namespace_, const char *key, char *out)
{
    char clean[BASE_MAX + 1];
    sanitise(base, clean);
    unsigned char digest[EVP_MAX_MD_SIZE] = {0};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, namespace_, strlen(namespace_)) == 1 &&
              EVP_DigestUpdate(ctx, "/", 1) == 1 && EVP_DigestUpdate(ctx, key, strlen(key)) == 1 &&
              EVP_DigestFinal_ex(ctx, digest, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return KR_ENOMEM;
    snprintf(out, SUB_MAX_NAME + 1, "%s-%02x%02x%02x%02x%02x", clean, digest[0], digest[1],
             digest[2], digest[3], digest[4]);
    return 0;
}
