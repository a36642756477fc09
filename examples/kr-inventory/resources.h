/* kr-inventory — which resources it watches: the --resource arguments
 * ("GROUP/VERSION/RESOURCE[@NAMESPACE]=Kind", core group as
 * "v1/configmaps=ConfigMap", one namespace's Secrets as "v1/secrets@apps=Secret")
 * parsed, with the defaults of the platform (Jobs, Runnables, ConfigMaps,
 * Secrets). Pure: testable without a server. */
#ifndef KR_INVENTORY_RESOURCES_H
#define KR_INVENTORY_RESOURCES_H

#include <stddef.h>

#include "kreconcile.h"

typedef struct inv_resource {
    kr_gvr gvr; /* strings point into `text` */
    const char *kind;
    const char *api_version; /* "batch/v1" or "v1" */
    const char *key; /* the checkpoint key: "batch/v1/jobs", "v1/secrets@apps" */
    const char *namespace_; /* "...@NS=Kind": only NS's objects; NULL: every namespace */
    char *text; /* owns the strings */
} inv_resource;

typedef struct inv_resources {
    inv_resource *items;
    size_t n;
    const char **kinds; /* items[i].kind, for the API's kind check */
} inv_resources;

/* Parse `args` (NULL or empty: the defaults). Errors: KR_EINVAL with one
 * line in err (malformed argument, a kind given twice), KR_ENOMEM. */
int inv_resources_parse(const char *const *args, size_t n, inv_resources *out, kr_error_t *err);
void inv_resources_free(inv_resources *r);

#endif /* KR_INVENTORY_RESOURCES_H */
