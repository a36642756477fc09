/* libkreconcile — base layer: the one strict resourceVersion parser
 * (the library compares resourceVersions only in this form). */
#include <stdint.h>

#include "kreconcile/common.h"
#include "util_internal.h"

int kr_rv_parse(const char *rv, uint64_t *out)
{
    if (!rv || !*rv || (rv[0] == '0' && rv[1] != '\0'))
        return KR_EINVAL;
    uint64_t v = 0;
    for (const char *p = rv; *p; p++) {
        if (*p < '0' || *p > '9')
            return KR_EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return KR_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
