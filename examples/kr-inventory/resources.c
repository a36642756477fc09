/* kr-inventory — parsing --resource: "GROUP/VERSION/RESOURCE=Kind". */
#include "resources.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const defaults[] = {
    "batch/v1/jobs=Job",
    "kreconcile.io/v1alpha1/runnables=Runnable",
    "v1/configmaps=ConfigMap",
    "v1/secrets=Secret",
};

/* One argument into *r. The text is laid out as
 * "group\0version\0resource\0kind\0api_version\0key\0namespace\0". */
static int parse_one(const char *arg, inv_resource *r, kr_error_t *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || !eq[1] || eq == arg)
        return kr_error_set(err, KR_EINVAL,
                            "--resource %s: expected GROUP/VERSION/RESOURCE=Kind (core: "
                            "v1/configmaps=ConfigMap)",
                            arg);
    char path[256], ns[256] = "";
    snprintf(path, sizeof(path), "%.*s", (int)(eq - arg), arg);
    const char *kind = eq + 1;
    /* "v1/secrets@apps=Secret": the objects of one namespace */
    char *at = strchr(path, '@');
    if (at) {
        *at = '\0';
        snprintf(ns, sizeof(ns), "%s", at + 1);
        if (!kr_name_is_dns1123_label(ns))
            return kr_error_set(err, KR_EINVAL, "--resource %s: \"%s\" is not a namespace name",
                                arg, ns);
    }
    size_t slashes = 0;
    for (const char *c = path; *c; c++)
        slashes += *c == '/';
    if (slashes < 1 || slashes > 2)
        return kr_error_set(err, KR_EINVAL, "--resource %s: expected GROUP/VERSION/RESOURCE=Kind",
                            arg);
    /* "version/resource" (the core group) or "group/version/resource". */
    char *first = path, *cut = strchr(first, '/');
    *cut = '\0';
    char *second = cut + 1, *third = strchr(second, '/');
    if (third)
        *third++ = '\0';
    const char *group = third ? first : "";
    const char *version = third ? second : first;
    const char *resource = third ? third : second;
    if (!*version || !*resource || (third && !*group))
        return kr_error_set(err, KR_EINVAL, "--resource %s: an empty part", arg);
    for (const char *k = kind; *k; k++)
        if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9')))
            return kr_error_set(err, KR_EINVAL, "--resource %s: \"%s\" is not a kind", arg, kind);
    char api_version[512], key[1100];
    snprintf(api_version, sizeof(api_version), "%s%s%s", group, *group ? "/" : "", version);
    /* the checkpoint's key: a scope of its own (one namespace) is another
     * collection, whose watch cannot resume the other's without a list */
    snprintf(key, sizeof(key), "%s/%s%s%s", api_version, resource, *ns ? "@" : "", ns);
    size_t len = strlen(group) + strlen(version) + strlen(resource) + strlen(kind) +
                 strlen(api_version) + strlen(key) + strlen(ns) + 7;
    char *text = malloc(len);
    if (!text)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    const char *src[] = {group, version, resource, kind, api_version, key, ns};
    const char *dst[7];
    char *p = text;
    for (size_t i = 0; i < 7; i++) {
        size_t l = strlen(src[i]) + 1;
        memcpy(p, src[i], l);
        dst[i] = p;
        p += l;
    }
    r->text = text;
    r->gvr = KR_GVR(dst[0], dst[1], dst[2]);
    r->kind = dst[3];
    r->api_version = dst[4];
    r->key = dst[5];
    r->namespace_ = *dst[6] ? dst[6] : NULL;
    return 0;
}

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

int inv_resources_parse(const char *const *args, size_t n, inv_resources *out, kr_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (!args || n == 0) {
        args = defaults;
        n = sizeof(defaults) / sizeof(defaults[0]);
    }
    out->items = calloc(n, sizeof(*out->items));
    out->kinds = calloc(n, sizeof(*out->kinds));
    if (!out->items || !out->kinds) {
        inv_resources_free(out);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int rc = args[i] ? parse_one(args[i], &out->items[i], err)
                         : kr_error_set(err, KR_EINVAL, "--resource: an empty argument");
        for (size_t k = 0; rc == 0 && k < i; k++)
            if (same(out->items[k].kind, out->items[i].kind)) {
                free(out->items[i].text);
                out->items[i].text = NULL;
                rc = kr_error_set(err, KR_EINVAL,
                                  "--resource %s: kind %s is already watched (kinds name rows "
                                  "in the inventory, so they must differ)",
                                  args[i], out->items[k].kind);
            }
        if (rc != 0) {
            inv_resources_free(out);
            return rc;
        }
        out->kinds[i] = out->items[i].kind;
        out->n++;
    }
    return 0;
}

void inv_resources_free(inv_resources *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->items && i < r->n; i++)
        free(r->items[i].text);
    free(r->items);
    free(r->kinds);
    memset(r, 0, sizeof(*r));
}
