/* libkreconcile — the patch formats the apiserver accepts: their
 * Content-Type names, and one entry point that applies a patch of any of
 * the three client-side formats. Pure dispatch; no I/O. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "kreconcile/patch.h"

static const struct {
    kr_patch_format format;
    const char *content_type;
} patch_types[] = {
    {KR_PATCH_JSON, "application/json-patch+json"},
    {KR_PATCH_MERGE, "application/merge-patch+json"},
    {KR_PATCH_STRATEGIC, "application/strategic-merge-patch+json"},
    {KR_PATCH_APPLY, "application/apply-patch+yaml"},
};

const char *kr_patch_content_type(kr_patch_format format)
{
    for (size_t i = 0; i < KR_ARRAY_LEN(patch_types); i++)
        if (patch_types[i].format == format)
            return patch_types[i].content_type;
    return NULL;
}

kr_patch_format kr_patch_format_from_content_type(const char *content_type)
{
    if (!content_type)
        return 0;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    /* The media type ends at its parameters or trailing blanks; media types
     * compare case-insensitively (RFC 9110, 8.3.1). */
    size_t len = strcspn(content_type, "; \t");
    const char *rest = content_type + len;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest && *rest != ';')
        return 0;
    for (size_t i = 0; i < KR_ARRAY_LEN(patch_types); i++) {
        const char *name = patch_types[i].content_type;
        if (strlen(name) == len && strncasecmp(name, content_type, len) == 0)
            return patch_types[i].format;
    }
    return 0;
}

int kr_patch_apply(kr_patch_format format, const kr_patch_meta_t *meta, const json_t *document,
                   const json_t *patch, json_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "patch: out is NULL");
    *out = NULL;
    switch (format) {
    case KR_PATCH_JSON:
        return kr_patch_json_apply(document, patch, out, err);
    case KR_PATCH_MERGE:
        return kr_patch_merge_apply(document, patch, out, err);
    case KR_PATCH_STRATEGIC:
        return kr_patch_strategic_apply(meta, document, patch, out, err);
    case KR_PATCH_APPLY:
        return kr_error_set(err, KR_EUNSUPPORTED,
                            "patch: server-side apply (%s) is computed by the server, not "
                            "applied locally",
                            kr_patch_content_type(format));
    default:
        return kr_error_set(err, KR_EINVAL, "patch: unknown patch format %d", (int)format);
    }
}
