/* kr-syncer — the --resource arguments: "GROUP/VERSION/RESOURCE", with the
 * core group written as "VERSION/RESOURCE" (v1/configmaps) as in an
 * apiVersion. Pure. */
#include <string.h>

#include "syncer.h"

int syncer_parse_resource(const char *text, char *buf, size_t len, kr_gvr *out, kr_error_t *err)
{
    size_t n = text ? strlen(text) : 0;
    if (n == 0 || n >= len)
        return kr_error_set(err, KR_EINVAL, "--resource: \"%s\" is not GROUP/VERSION/RESOURCE",
                            text ? text : "");
    memcpy(buf, text, n + 1);
    char *parts[3] = {NULL, NULL, NULL};
    size_t count = 0;
    for (char *p = buf, *start = buf;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        if (count == 3 || p == start)
            return kr_error_set(err, KR_EINVAL, "--resource: \"%s\" is not GROUP/VERSION/RESOURCE",
                                text);
        bool end = *p == '\0';
        *p = '\0';
        parts[count++] = start;
        start = p + 1;
        if (end)
            break;
    }
    if (count < 2)
        return kr_error_set(err, KR_EINVAL, "--resource: \"%s\" is not GROUP/VERSION/RESOURCE",
                            text);
    *out = count == 3 ? KR_GVR(parts[0], parts[1], parts[2]) : KR_GVR("", parts[0], parts[1]);
    return 0;
}
