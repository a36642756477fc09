/* libkreconcile — base layer: base64 (standard with padding, or URL-safe
 * without) on OpenSSL's block codec; this file only checks the input so that
 * errors name the offending byte, as Go's decoder does. */
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>

#include "internal.h"
#include "util_internal.h"

char *kr_base64_encode(const void *data, size_t len, bool url)
{
    if (len > (size_t)INT_MAX / 4 * 3 - 3)
        return NULL;
    char *out = kr_malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    if (url) {
        while (n > 0 && out[n - 1] == '=')
            out[--n] = '\0';
        for (int i = 0; i < n; i++)
            out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    return out;
}

static bool b64_char(char c, bool url)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return url ? (c == '-' || c == '_') : (c == '+' || c == '/');
}

int kr_base64_decode(const char *in, size_t len, bool url, char **out, size_t *out_len,
                     size_t *bad_at)
{
    size_t bad_dummy;
    if (!bad_at)
        bad_at = &bad_dummy;
    *out = NULL;
    *out_len = 0;
    *bad_at = 0;
    if (len > (size_t)INT_MAX / 2)
        return KR_EPARSE;
    /* The cleaned text: no CR/LF, the standard alphabet, padded. */
    char *text = kr_malloc(len + 4);
    if (!text)
        return KR_ENOMEM;
    size_t n = 0, pads = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '\r' || c == '\n')
            continue;
        if (!url && c == '=' && n % 4 >= 2) { /* padding ends the text */
            pads++;
            text[n++] = c;
            continue;
        }
        if (!b64_char(c, url) || pads > 0) {
            /* after a lone '=' Go names the byte before: "==" was due */
            *bad_at = pads == 1 && n % 4 == 3 ? i - 1 : i;
            kr_free(text);
            return KR_EPARSE;
        }
        text[n++] = url ? (c == '-' ? '+' : c == '_' ? '/' : c) : c;
    }
    if (url) {
        if (n % 4 == 1) { /* Go names the lone character */
            *bad_at = len - 1;
            kr_free(text);
            return KR_EPARSE;
        }
        while (n % 4) {
            text[n++] = '=';
            pads++;
        }
    } else if (n % 4 != 0) {
        /* Go names where the short group began (its characters count
         * back from the end), or the end when padding had begun */
        *bad_at = pads ? len : len - n % 4;
        kr_free(text);
        return KR_EPARSE;
    }
    char *dst = kr_malloc(n / 4 * 3 + 1);
    if (!dst) {
        kr_free(text);
        return KR_ENOMEM;
    }
    int got = n ? EVP_DecodeBlock((unsigned char *)dst, (const unsigned char *)text, (int)n) : 0;
    kr_free(text);
    if (got < 0 || (size_t)got < pads) {
        kr_free(dst);
        *bad_at = len;
        return KR_EPARSE;
    }
    *out_len = (size_t)got - pads;
    dst[*out_len] = '\0';
    *out = dst;
    return 0;
}
