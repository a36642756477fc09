/* Fuzz target: arbitrary bytes as a kubeconfig, loaded from memory, then a
 * rest config built for the current context and for every named context.
 * Never runs an exec plugin (no credential get()). Checks the invariants
 * of a successful build: a server and a namespace are always set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void build(const kr_kubeconfig_t *kc, const kr_config_overrides *ov)
{
    kr_rest_config *rc = NULL, *copy = NULL;
    kr_error_t err;
    if (kr_kubeconfig_rest_config(kc, ov, &rc, &err) != 0) {
        if (rc || err.message[0] == '\0')
            abort();
        return;
    }
    if (!rc->server || !rc->server[0] || !rc->namespace_)
        abort();
    if (kr_rest_config_copy(rc, &copy, &err) == 0 && strcmp(copy->server, rc->server) != 0)
        abort();
    kr_rest_config_free(copy);
    kr_rest_config_free(rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    kr_kubeconfig_t *kc = NULL;
    kr_error_t err;
    if (kr_kubeconfig_load_memory((const char *)data, size, "fuzz", "/nonexistent/kr-fuzz", NULL,
                                  &kc, &err) != 0) {
        if (kc)
            abort();
        return 0;
    }
    build(kc, NULL);
    size_t n = kr_kubeconfig_context_count(kc);
    for (size_t i = 0; i < n && i < 16; i++) {
        kr_config_overrides ov = {.context = kr_kubeconfig_context_name(kc, i)};
        const char *ns;
        if (kr_kubeconfig_namespace(kc, &ov, &ns, &err) != 0 || !ns)
            abort();
        build(kc, &ov);
    }
    kr_kubeconfig_free(kc);
    return 0;
}
