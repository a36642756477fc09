/* libkreconcile — internals of the config module shared by its files
 * (config.c, config_kubeconfig.c, config_exec.c, config_incluster.c):
 * file and base64 helpers and the exec-plugin description. Never installed;
 * nothing here may log or return credentials. */
#ifndef KR_LIB_CONFIG_INTERNAL_H
#define KR_LIB_CONFIG_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "internal.h"
#include "kreconcile/config.h"

/* ---- kr_rest_config versions ---------------------------------------------- */

/* Where each version's fields end: a caller's config of version v is never
 * read past KR_REST_CONFIG_END(v). A field added in version 2 gets
 * `#define KR_REST_CONFIG_V2_END (offsetof(kr_rest_config, <last v2 field>) + ...)`,
 * an entry in kr_rest_config_end and the assertion below moves to it. */
#define KR_REST_CONFIG_V1_END                                                                      \
    (offsetof(kr_rest_config, impersonate_uid) + sizeof(((kr_rest_config *)0)->impersonate_uid))
_Static_assert(KR_REST_CONFIG_VERSION == 1 && KR_REST_CONFIG_V1_END == sizeof(kr_rest_config),
               "a kr_rest_config field was added: give it a version and its end");

/* The bytes of a config of `version` the library may read (0 is 1; a
 * version newer than the library's: the current size). */
size_t kr_rest_config_end(unsigned version);

/* Read the caller's `in` (borrowed) into *out, a full current-version
 * config: the fields of in's version are copied (the pointers borrowed, not
 * duplicated), later fields are zero, out->version is the library's.
 * Errors: KR_EINVAL (in's version is newer than the library's). */
int kr_rest_config_read(const kr_rest_config *in, kr_rest_config *out, kr_error_t *err);

/* Largest kubeconfig, CA or token file read, and exec plugin output. */
#define KR_CONFIG_MAX_FILE KR_READ_FILE_MAX
#define KR_EXEC_MAX_OUTPUT (1024u * 1024u)

/* Standard base64 (the base layer's codec, util_internal.h), under the
 * names lib/inventory.c still calls. */
static inline int kr_config_base64_decode(const char *in, size_t len, char **out, size_t *out_len,
                                          size_t *bad_at)
{
    return kr_base64_decode(in, len, false, out, out_len, bad_at);
}

static inline char *kr_config_base64_encode(const unsigned char *in, size_t len)
{
    return kr_base64_encode(in, len, false);
}

/* `path` resolved against `dir` when relative; a new string. "" stays "". */
char *kr_config_resolve_path(const char *dir, const char *path);

/* Parse an RFC 3339 timestamp into Unix seconds; -1 when malformed. */
long long kr_config_parse_rfc3339(const char *s);

/* An exec plugin as the kubeconfig describes it (all strings owned). */
typedef struct kr_exec_spec {
    char *api_version;
    char *command; /* already resolved against the kubeconfig directory */
    char **args; /* n_args */
    size_t n_args;
    char **env; /* "NAME=value", n_env */
    size_t n_env;
    char *interactive_mode; /* "Never" | "IfAvailable" | "Always" */
    char *install_hint; /* or NULL */
    char *exec_info; /* the KUBERNETES_EXEC_INFO JSON */
} kr_exec_spec;

/* A provider running `spec` (copied). *out is new. */
int kr_exec_provider_new(const kr_exec_spec *spec, kr_credential_provider **out, kr_error_t *err);

/* ---- a loaded kubeconfig (config_kubeconfig.c parses, config_context.c
 * turns a context into a rest config) ---- */

#define EXEC_EXTENSION "client.authentication.k8s.io/exec"
#define EXEC_V1 "client.authentication.k8s.io/v1"
#define EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"
#define NO_CONFIGURATION                                                                           \
    "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER "    \
    "environment variable"

typedef struct kc_cluster {
    char *name;
    char *server;
    char *ca_file;
    char *ca_data; /* decoded PEM */
    size_t ca_data_len;
    char *tls_server_name;
    char *proxy_url;
    bool insecure;
    bool disable_compression;
    json_t *exec_config; /* the client.authentication.k8s.io/exec extension, or NULL */
} kc_cluster;

typedef struct kc_user {
    char *name;
    char *cert_file, *cert_data, *key_file, *key_data;
    char *token, *token_file;
    char *username, *password;
    char *as, *as_uid;
    char **as_groups; /* NULL-terminated, or NULL */
    bool has_auth_provider;
    bool has_exec;
    bool provide_cluster_info;
    kr_exec_spec exec; /* exec_info unset here */
} kc_user;

typedef struct kc_context {
    char *name;
    char *cluster;
    char *user;
    char *namespace_;
} kc_context;

struct kr_kubeconfig {
    kc_cluster *clusters;
    size_t n_clusters;
    kc_user *users;
    size_t n_users;
    kc_context *contexts;
    size_t n_contexts;
    char *current_context;
    kr_logger logger;
};

#endif /* KR_LIB_CONFIG_INTERNAL_H */
