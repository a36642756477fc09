/* libkreconcile — from a loaded kubeconfig to a kr_rest_config: context
 * choice, kubectl's overrides, clientcmd's validation (with its messages),
 * and the credential providers for tokenFile and exec users. Never puts a
 * credential into an error or a log message. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_internal.h"

/* ---- accessors ---------------------------------------------------------------- */

const char *kr_kubeconfig_current_context(const kr_kubeconfig_t *kc)
{
    return kc->current_context;
}

size_t kr_kubeconfig_context_count(const kr_kubeconfig_t *kc)
{
    return kc->n_contexts;
}

const char *kr_kubeconfig_context_name(const kr_kubeconfig_t *kc, size_t i)
{
    return i < kc->n_contexts ? kc->contexts[i].name : NULL;
}

static const kc_context *find_context(const kr_kubeconfig_t *kc, const char *name)
{
    for (size_t i = 0; i < kc->n_contexts; i++)
        if (strcmp(kc->contexts[i].name, name) == 0)
            return &kc->contexts[i];
    return NULL;
}

static const kc_cluster *find_cluster(const kr_kubeconfig_t *kc, const char *name)
{
    for (size_t i = 0; i < kc->n_clusters; i++)
        if (strcmp(kc->clusters[i].name, name) == 0)
            return &kc->clusters[i];
    return NULL;
}

static const kc_user *find_user(const kr_kubeconfig_t *kc, const char *name)
{
    for (size_t i = 0; i < kc->n_users; i++)
        if (strcmp(kc->users[i].name, name) == 0)
            return &kc->users[i];
    return NULL;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* The chosen context (NULL when none is named), or KR_ENOTFOUND. */
static int choose_context(const kr_kubeconfig_t *kc, const kr_config_overrides *ov,
                          const kc_context **ctx, kr_error_t *err)
{
    const char *name = nonempty(ov->context) ? ov->context : kc->current_context;
    *ctx = NULL;
    if (!nonempty(name))
        return 0;
    *ctx = find_context(kc, name);
    if (!*ctx)
        return kr_error_set(err, KR_ENOTFOUND, "context was not found for specified context: %s",
                            name);
    return 0;
}

int kr_kubeconfig_namespace(const kr_kubeconfig_t *kc, const kr_config_overrides *overrides,
                            const char **ns, kr_error_t *err)
{
    kr_config_overrides none = {0};
    const kr_config_overrides *ov = overrides ? overrides : &none;
    *ns = "default";
    if (nonempty(ov->namespace_)) {
        *ns = ov->namespace_;
        return 0;
    }
    const kc_context *ctx;
    int rc = choose_context(kc, ov, &ctx, err);
    if (rc == 0 && ctx && ctx->namespace_)
        *ns = ctx->namespace_;
    return rc;
}

/* ---- validation, as clientcmd's ConfirmUsable --------------------------------- */

/* The validation errors found, all of them, as clientcmd gathers them. */
typedef struct vlist {
    int code; /* the first error's */
    size_t n;
    kr_buf text; /* "a, b" */
    bool oom;
} vlist;

static void vadd(vlist *v, int code, const char *fmt, ...) KR_PRINTF(3, 4);
static void vadd(vlist *v, int code, const char *fmt, ...)
{
    if (v->n++ == 0)
        v->code = code;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if ((v->n > 1 && kr_buf_append(&v->text, ", ", 2) != 0) ||
        kr_buf_append(&v->text, msg, strlen(msg)) != 0)
        v->oom = true;
}

/* 0, or the errors as one: the only one, or "[a, b]" (apimachinery's
 * aggregate). */
static int vfinish(vlist *v, kr_error_t *err)
{
    int rc = 0;
    if (v->oom)
        rc = kr_error_set(err, KR_ENOMEM, "validating the configuration: out of memory");
    else if (v->n == 1)
        rc = kr_error_set(err, v->code, "%.*s", (int)v->text.len, v->text.data);
    else if (v->n > 1)
        rc = kr_error_set(err, v->code, "[%.*s]", (int)v->text.len, v->text.data);
    kr_buf_free(&v->text);
    return rc;
}

static void check_readable(vlist *v, const char *path, const char *what, const char *owner)
{
    if (access(path, R_OK) == 0)
        return;
    /* Go's text for the error: "open PATH: no such file or directory" */
    char why[128];
    snprintf(why, sizeof(why), "%s", strerror(errno));
    why[0] = (char)tolower((unsigned char)why[0]);
    vadd(v, KR_EIO, "unable to read %s %s for %s due to open %s: %s", what, path, owner, path, why);
}

/* The user as clientcmd validates it: with the overrides' token merged in. */
static void validate_user(vlist *v, const kc_user *u, const kr_config_overrides *ov)
{
    if (u->cert_file || u->cert_data) {
        if (u->cert_file && u->cert_data)
            vadd(v, KR_EINVAL,
                 "client-cert-data and client-cert are both specified for %s. client-cert-data "
                 "will override.",
                 u->name);
        if (u->key_file && u->key_data)
            vadd(v, KR_EINVAL,
                 "client-key-data and client-key are both specified for %s; client-key-data "
                 "will override",
                 u->name);
        if (!u->key_file && !u->key_data)
            vadd(v, KR_EINVAL,
                 "client-key-data or client-key must be specified for %s to use the clientCert "
                 "authentication method.",
                 u->name);
        if (u->cert_file)
            check_readable(v, u->cert_file, "client-cert", u->name);
        if (u->key_file)
            check_readable(v, u->key_file, "client-key", u->name);
    }
    if (u->has_exec) {
        const kr_exec_spec *e = &u->exec;
        if (u->has_auth_provider)
            vadd(v, KR_EINVAL,
                 "authProvider cannot be provided in combination with an exec plugin for %s",
                 u->name);
        if (!e->command)
            vadd(v, KR_EINVAL, "command must be specified for %s to use exec authentication plugin",
                 u->name);
        if (!e->api_version)
            vadd(v, KR_EINVAL,
                 "apiVersion must be specified for %s to use exec authentication plugin", u->name);
        for (size_t i = 0; i < e->n_env; i++)
            if (e->env[i][0] == '=')
                vadd(v, KR_EINVAL,
                     "env variable name must be specified for %s to use exec authentication "
                     "plugin",
                     u->name);
        if (!e->interactive_mode)
            vadd(v, KR_EINVAL,
                 "interactiveMode must be specified for %s to use exec authentication plugin",
                 u->name);
        else if (strcmp(e->interactive_mode, "Never") != 0 &&
                 strcmp(e->interactive_mode, "IfAvailable") != 0 &&
                 strcmp(e->interactive_mode, "Always") != 0)
            vadd(v, KR_EINVAL, "invalid interactiveMode for %s: \"%s\"", u->name,
                 e->interactive_mode);
        if (e->api_version && strcmp(e->api_version, EXEC_V1) != 0 &&
            strcmp(e->api_version, EXEC_V1BETA1) != 0)
            vadd(v, KR_EINVAL, "exec plugin: invalid apiVersion \"%s\"", e->api_version);
    }
    /* a token file alone is no method of its own (clientcmd counts token,
     * basicAuth): it refreshes the token */
    bool token = nonempty(u->token) || nonempty(ov->token), basic = u->username || u->password;
    if (token && basic)
        vadd(v, KR_EINVAL,
             "more than one authentication method found for %s; found [token basicAuth], only "
             "one is allowed",
             u->name);
    if (!nonempty(u->as) && (nonempty(u->as_uid) || u->as_groups))
        vadd(v, KR_EINVAL,
             "requesting uid, groups or user-extra for %s without impersonating a user", u->name);
    if (u->has_auth_provider && !u->has_exec)
        vadd(v, KR_EUNSUPPORTED,
             "auth-provider is not supported (user %s): use an exec credential plugin", u->name);
}

static void validate_proxy_url(vlist *v, const char *url, const char *cluster)
{
    const char *colon = strstr(url, "://");
    size_t n = colon ? (size_t)(colon - url) : 0;
    if ((n == 4 && strncasecmp(url, "http", 4) == 0) ||
        (n == 5 && strncasecmp(url, "https", 5) == 0) ||
        (n == 6 && strncasecmp(url, "socks5", 6) == 0))
        return;
    vadd(v, KR_EINVAL,
         "invalid 'proxy-url' \"%s\" for cluster \"%s\": unsupported scheme \"%.*s\", must be "
         "http, https, or socks5",
         url, cluster, (int)(n > 64 ? 64 : n), url);
}

static void validate_cluster(vlist *v, const kc_cluster *c, const char *server)
{
    if (!nonempty(server))
        vadd(v, KR_EINVAL, "no server found for cluster \"%s\"", c->name);
    if (c->proxy_url)
        validate_proxy_url(v, c->proxy_url, c->name);
    if (c->ca_file && c->ca_data)
        vadd(v, KR_EINVAL,
             "certificate-authority-data and certificate-authority are both specified for %s. "
             "certificate-authority-data will override.",
             c->name);
    if (c->ca_file)
        check_readable(v, c->ca_file, "certificate-authority", c->name);
}

/* ---- building the rest config ---------------------------------------------------- */

static int dup_into(char **dst, const char *src, bool *failed)
{
    if (!src)
        return 0;
    *dst = kr_strdup(src);
    *failed |= !*dst;
    return 0;
}

/* KUBERNETES_EXEC_INFO, as client-go marshals it (key order included). */
static int exec_info_json(const kc_user *u, const kc_cluster *c, const kr_rest_config *rc,
                          char **out, kr_error_t *err)
{
    *out = NULL;
    json_t *spec = json_object();
    json_t *info =
        json_pack("{s:s, s:s}", "kind", "ExecCredential", "apiVersion", u->exec.api_version);
    int status = 0;
    if (!spec || !info) {
        status = KR_ENOMEM;
        goto out;
    }
    if (u->provide_cluster_info) {
        json_t *cluster = json_object();
        if (!cluster || json_object_set_new(spec, "cluster", cluster) != 0) {
            status = KR_ENOMEM;
            goto out;
        }
        bool failed = json_object_set_new(cluster, "server", json_string(rc->server)) != 0;
        if (rc->tls_server_name)
            failed |= json_object_set_new(cluster, "tls-server-name",
                                          json_string(rc->tls_server_name)) != 0;
        if (rc->insecure_skip_tls_verify)
            failed |= json_object_set_new(cluster, "insecure-skip-tls-verify", json_true()) != 0;
        char *ca = NULL;
        size_t ca_len = 0;
        if (rc->ca_data) {
            ca_len = strlen(rc->ca_data);
            ca = kr_base64_encode(rc->ca_data, ca_len, false);
            failed |= !ca;
        } else if (rc->ca_file) {
            char *pem = NULL;
            status = kr_read_file(rc->ca_file, KR_CONFIG_MAX_FILE, "certificate-authority", &pem,
                                  &ca_len, err);
            if (status != 0)
                goto out;
            ca = kr_base64_encode(pem, ca_len, false);
            kr_free(pem);
            failed |= !ca;
        }
        if (ca)
            failed |= json_object_set_new(cluster, "certificate-authority-data", json_string(ca));
        kr_free(ca);
        if (rc->proxy_url)
            failed |= json_object_set_new(cluster, "proxy-url", json_string(rc->proxy_url)) != 0;
        if (rc->disable_compression)
            failed |= json_object_set_new(cluster, "disable-compression", json_true()) != 0;
        json_t *config = c && c->exec_config ? json_incref(c->exec_config) : json_null();
        failed |= json_object_set_new(cluster, "config", config) != 0;
        if (failed) {
            status = KR_ENOMEM;
            goto out;
        }
    }
    if (json_object_set_new(spec, "interactive", json_false()) != 0 ||
        json_object_set(info, "spec", spec) != 0) {
        status = KR_ENOMEM;
        goto out;
    }
    /* json_dumpb into our own buffer: the string is freed with kr_free. */
    size_t size = json_dumpb(info, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    *out = size ? kr_malloc(size + 1) : NULL;
    if (!*out) {
        status = KR_ENOMEM;
        goto out;
    }
    json_dumpb(info, *out, size, JSON_COMPACT | JSON_PRESERVE_ORDER);
    (*out)[size] = '\0';
out:
    json_decref(spec);
    json_decref(info);
    if (status == KR_ENOMEM)
        return kr_error_set(err, KR_ENOMEM, "building the exec plugin's input for user %s",
                            u->name);
    return status;
}

static int make_exec_provider(const kc_user *u, const kc_cluster *c, kr_rest_config *rc,
                              kr_error_t *err)
{
    kr_exec_spec spec = u->exec;
    int status = exec_info_json(u, c, rc, &spec.exec_info, err);
    if (status != 0)
        return status;
    status = kr_exec_provider_new(&spec, &rc->credentials, err);
    kr_free(spec.exec_info);
    return status;
}

static int fill_user(const kr_kubeconfig_t *kc, const kc_user *u, const kc_cluster *c,
                     const kr_config_overrides *ov, kr_rest_config *rc, kr_error_t *err)
{
    bool failed = false;
    if (nonempty(ov->token)) {
        dup_into(&rc->bearer_token, ov->token, &failed);
    } else if (u) {
        dup_into(&rc->bearer_token, u->token, &failed);
        dup_into(&rc->bearer_token_file, u->token_file, &failed);
    }
    if (u) {
        dup_into(&rc->client_cert_file, u->cert_file, &failed);
        dup_into(&rc->client_cert_data, u->cert_data, &failed);
        dup_into(&rc->client_key_file, u->key_file, &failed);
        dup_into(&rc->client_key_data, u->key_data, &failed);
        dup_into(&rc->username, u->username, &failed);
        dup_into(&rc->password, u->password, &failed);
    }
    if (failed)
        return kr_error_set(err, KR_ENOMEM, "building the rest config: out of memory");
    /* The file refreshes the token; with a static token too, the file is
     * read only when it can be (client-go falls back to the token). */
    if (rc->bearer_token_file &&
        (!nonempty(rc->bearer_token) || access(rc->bearer_token_file, R_OK) == 0))
        return kr_credential_provider_token_file_new(rc->bearer_token_file, 0, &kc->logger,
                                                     &rc->credentials, err);
    /* A static token wins over the plugin, as in client-go's transport. */
    if (u && u->has_exec && !rc->bearer_token)
        return make_exec_provider(u, c, rc, err);
    return 0;
}

/* Impersonation, for any server (clientcmd sets it before the TLS check). */
static int fill_impersonation(const kc_user *u, kr_rest_config *rc, kr_error_t *err)
{
    bool failed = false;
    if (!u || !nonempty(u->as))
        return 0;
    dup_into(&rc->impersonate_user, u->as, &failed);
    dup_into(&rc->impersonate_uid, u->as_uid, &failed);
    if (u->as_groups) {
        size_t n = 0;
        while (u->as_groups[n])
            n++;
        rc->impersonate_groups = kr_calloc(n + 1, sizeof(char *));
        failed |= !rc->impersonate_groups;
        for (size_t i = 0; i < n && rc->impersonate_groups; i++)
            dup_into(&rc->impersonate_groups[i], u->as_groups[i], &failed);
    }
    return failed ? kr_error_set(err, KR_ENOMEM, "building the rest config: out of memory") : 0;
}

/* The server as clientcmd keeps it: a URL with a path loses its query
 * and fragment. */
static char *server_url(const char *server)
{
    const char *scheme = strstr(server, "://");
    const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
    size_t end = strlen(server);
    if (path) {
        size_t plen = strcspn(path, "?#");
        if (plen > 1)
            end = (size_t)(path - server) + plen;
    }
    return kr_strndup(server, end);
}

static int build(const kr_kubeconfig_t *kc, const kr_config_overrides *ov, kr_rest_config *rc,
                 kr_error_t *err)
{
    const kc_context *ctx;
    int status = choose_context(kc, ov, &ctx, err);
    if (status != 0)
        return status;
    const char *cluster_name = nonempty(ov->cluster) ? ov->cluster : ctx ? ctx->cluster : NULL;
    const char *user_name = nonempty(ov->user) ? ov->user : ctx ? ctx->user : NULL;
    const kc_cluster *c = cluster_name ? find_cluster(kc, cluster_name) : NULL;
    const kc_user *u = user_name ? find_user(kc, user_name) : NULL;
    if (user_name && !u) {
        if (ctx && !nonempty(ov->user))
            return kr_error_set(err, KR_ENOTFOUND, "user \"%s\" was not found for context \"%s\"",
                                user_name, ctx->name);
        return kr_error_set(err, KR_ENOTFOUND, "auth info \"%s\" does not exist", user_name);
    }
    if (cluster_name && !c && !nonempty(ov->server)) {
        if (ctx && !nonempty(ov->cluster))
            return kr_error_set(err, KR_ENOTFOUND,
                                "cluster \"%s\" was not found for context \"%s\"", cluster_name,
                                ctx->name);
        return kr_error_set(err, KR_ENOTFOUND, "no server found for cluster \"%s\"", cluster_name);
    }
    if (!c && !nonempty(ov->server))
        return kr_error_set(err, KR_ENOTFOUND, NO_CONFIGURATION);
    const char *server = nonempty(ov->server) ? ov->server : c ? c->server : NULL;
    kc_cluster none = {.name = (char *)(cluster_name ? cluster_name : "")};
    /* The cluster as the overrides leave it (clientcmd's getCluster), which
     * is what gets validated: --insecure-skip-tls-verify or
     * --certificate-authority replaces the cluster's CA and insecure flag
     * together; --server or --tls-server-name replaces its server name. */
    kc_cluster m = c ? *c : none;
    m.server = (char *)server;
    if (ov->insecure_skip_tls_verify || nonempty(ov->certificate_authority)) {
        m.insecure = ov->insecure_skip_tls_verify;
        m.ca_file = nonempty(ov->certificate_authority) ? (char *)ov->certificate_authority : NULL;
        m.ca_data = NULL;
    }
    if (nonempty(ov->tls_server_name) || nonempty(ov->server))
        m.tls_server_name = nonempty(ov->tls_server_name) ? (char *)ov->tls_server_name : NULL;
    const kc_cluster *cl = &m;
    vlist v = {0};
    if (u)
        validate_user(&v, u, ov);
    validate_cluster(&v, cl, server);
    if ((status = vfinish(&v, err)) != 0)
        return status;
    if (cl->insecure && (cl->ca_file || cl->ca_data))
        return kr_error_set(err, KR_EINVAL,
                            "specifying a root certificates file with the insecure flag is not "
                            "allowed");

    bool insecure = cl->insecure;
    bool failed = false;
    rc->server = server_url(server);
    failed |= !rc->server;
    dup_into(&rc->ca_file, cl->ca_file, &failed);
    dup_into(&rc->ca_data, cl->ca_data, &failed);
    rc->insecure_skip_tls_verify = insecure;
    rc->disable_compression = cl->disable_compression;
    dup_into(&rc->tls_server_name, cl->tls_server_name, &failed);
    dup_into(&rc->proxy_url, cl->proxy_url, &failed);
    const char *ns = nonempty(ov->namespace_) ? ov->namespace_
                     : ctx && ctx->namespace_ ? ctx->namespace_
                                              : "default";
    dup_into(&rc->namespace_, ns, &failed);
    if (failed)
        return kr_error_set(err, KR_ENOMEM, "building the rest config: out of memory");
    if ((status = fill_impersonation(u, rc, err)) != 0)
        return status;
    /* clientcmd reads user credentials only for TLS servers: never send
     * them, nor run a plugin, for plain http. */
    if (strncasecmp(server, "http://", 7) != 0 && (status = fill_user(kc, u, c, ov, rc, err)) != 0)
        return status;
    if (insecure)
        kr_log(&kc->logger, KR_LOG_WARN, "config",
               "insecure-skip-tls-verify is on for cluster \"%s\" (%s): the server's certificate "
               "will not be verified",
               cl->name, server);
    return 0;
}

int kr_kubeconfig_rest_config(const kr_kubeconfig_t *kc, const kr_config_overrides *overrides,
                              kr_rest_config **out, kr_error_t *err)
{
    kr_config_overrides none = {0};
    *out = NULL;
    kr_rest_config *rc;
    int status = kr_rest_config_new(&rc, err);
    if (status != 0)
        return status;
    status = build(kc, overrides ? overrides : &none, rc, err);
    if (status != 0) {
        kr_rest_config_free(rc);
        return status;
    }
    *out = rc;
    return 0;
}
