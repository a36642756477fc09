/* libkreconcile — base layer: the one resourceVersion parser: a decimal
 * uint64 as kube-apiserver's storage parses it (strconv.ParseUint: digits
 * only, no sign or space, leading zeros allowed, no overflow). */
#include <stdint.h>

#include "kreconcile/common.h"
#include "util_internal.h"

int kr_rv_parse(const char *rv, uint64_t *out)
{
    if (!rv || !*rv)
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
