/* libkreconcile — the in-cluster config (service account token, CA and
 * namespace files, KUBERNETES_SERVICE_HOST/PORT). The token goes through
 * the base layer's cached token-file provider (lib/util_file.c). Token
 * contents never reach a log or an error message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"

#define SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* ---- in-cluster config ---------------------------------------------------------------- */

static int in_cluster_fill(const kr_in_cluster_opts *opts, const char *host, const char *port,
                           kr_rest_config *rc, kr_error_t *err)
{
    const char *dir = opts->service_account_dir ? opts->service_account_dir : SERVICE_ACCOUNT_DIR;
    /* An IPv6 literal needs brackets in a URL (net.JoinHostPort). */
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    rc->server = kr_asprintf("https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
    rc->bearer_token_file = kr_asprintf("%s/token", dir);
    rc->ca_file = kr_asprintf("%s/ca.crt", dir);
    char *ns_path = kr_asprintf("%s/namespace", dir);
    if (!rc->server || !rc->bearer_token_file || !rc->ca_file || !ns_path) {
        kr_free(ns_path);
        return kr_error_set(err, KR_ENOMEM, "loading the in-cluster configuration");
    }
    /* As client-go: an unreadable CA is logged and left out, not fatal. */
    if (access(rc->ca_file, R_OK) != 0) {
        kr_log(&opts->logger, KR_LOG_ERROR, "config", "expected to load root CA config from %s: %s",
               rc->ca_file, strerror(errno));
        kr_free(rc->ca_file);
        rc->ca_file = NULL;
    }
    char *ns = NULL;
    kr_error_t nerr = {0};
    int status = kr_read_file(ns_path, 4096, "namespace file", &ns, NULL, &nerr);
    kr_free(ns_path);
    if (status == KR_ENOMEM)
        return kr_error_set(err, KR_ENOMEM, "loading the in-cluster configuration");
    if (status == 0 && kr_trim(ns) > 0) {
        rc->namespace_ = ns;
    } else {
        kr_free(ns);
        rc->namespace_ = kr_strdup("default");
        if (!rc->namespace_)
            return kr_error_set(err, KR_ENOMEM, "loading the in-cluster configuration");
    }
    status = kr_credential_provider_token_file_new(rc->bearer_token_file, opts->token_recheck_ms,
                                                   &opts->logger, &rc->credentials, err);
    if (status != 0 || !rc->credentials) /* the second: for the static analyser */
        return status != 0 ? status : KR_EIO;
    /* client-go also sets the token read at start as the static one. */
    kr_credential cred;
    status = rc->credentials->get(rc->credentials, false, &cred, err);
    if (status != 0)
        return status;
    rc->bearer_token = kr_strdup(cred.token);
    if (!rc->bearer_token)
        return kr_error_set(err, KR_ENOMEM, "loading the in-cluster configuration");
    return 0;
}

int kr_config_in_cluster(const kr_in_cluster_opts *opts, kr_rest_config **out, kr_error_t *err)
{
    kr_in_cluster_opts zero = {0};
    if (!opts)
        opts = &zero;
    *out = NULL;
    if (opts && opts->version > KR_IN_CLUSTER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL,
                            "in-cluster config: options version %u is newer than %u", opts->version,
                            (unsigned)KR_IN_CLUSTER_OPTS_VERSION);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return kr_error_set(err, KR_ENOTFOUND,
                            "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST "
                            "and KUBERNETES_SERVICE_PORT must be defined");
    kr_rest_config *rc;
    int status = kr_rest_config_new(&rc, err);
    if (status != 0)
        return status;
    status = in_cluster_fill(opts, host, port, rc, err);
    if (status != 0) {
        kr_rest_config_free(rc);
        return status;
    }
    *out = rc;
    return 0;
}
