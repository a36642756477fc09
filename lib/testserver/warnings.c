/* libkreconcile-testserver — the warnings kube-apiserver's strategies give
 * a create or an update that succeeds (WarningsOnCreate,
 * WarningsOnUpdate), as Warning headers, in their order and words: a
 * custom resource's new finalizers without a path. Callers hold ts->mu. */
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether `list` (an array of strings) holds `s`. */
static bool has_string(const json_t *list, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* apiextensions' generateWarningsFromObj: each finalizer the write adds
 * (in sorted order, once) that has no path and is none of the standard
 * ones. The qualified-name problems it would also list are refused by
 * validation before. */
static void warn_finalizers(const json_t *old, const json_t *obj, ts_response *resp)
{
    static const char *const standard[] = {"orphan", "foregroundDeletion", "kubernetes"};
    const json_t *list = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    const json_t *before = json_object_get(json_object_get(old, "metadata"), "finalizers");
    size_t n = json_array_size(list), count = 0;
    const char **added = n ? kr_calloc(n, sizeof(const char *)) : NULL;
    for (size_t i = 0; added && i < n; i++) {
        const char *f = json_string_value(json_array_get(list, i));
        if (f && !has_string(before, f))
            added[count++] = f;
    }
    if (count)
        qsort((void *)added, count, sizeof(const char *), cmp_str);
    for (size_t i = 0; i < count; i++) {
        const char *f = added[i];
        bool known = false;
        for (size_t k = 0; k < KR_ARRAY_LEN(standard); k++)
            known = known || strcmp(f, standard[k]) == 0;
        if ((i > 0 && strcmp(f, added[i - 1]) == 0) || strchr(f, '/') || known)
            continue;
        kr_buf b = {0};
        kr_buf_append_str(&b, "metadata.finalizers: ");
        ts_go_quote(&b, f);
        kr_buf_printf(&b,
                      ": prefer a domain-qualified finalizer name%s to avoid accidental "
                      "conflicts with other finalizer writers",
                      strchr(f, '.') ? " including a path (/)" : "");
        if (b.data)
            ts_response_warn(resp, b.data);
        kr_buf_free(&b);
    }
    kr_free((void *)added);
}

void ts_warn_write(const ts_resource *res, const json_t *old, const json_t *obj, ts_response *resp)
{
    if (res->crd)
        warn_finalizers(old, obj, resp);
}
