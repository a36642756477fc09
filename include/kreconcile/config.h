/* libkreconcile — client configuration: how to reach and authenticate to one
 * apiserver (kr_rest_config, the equivalent of client-go's rest.Config), and
 * loading it from kubeconfig files or the in-cluster environment (the
 * equivalent of clientcmd).
 *
 * Credentials are never written to logs or error messages. */
#ifndef KRECONCILE_CONFIG_H
#define KRECONCILE_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Credentials that change at run time (exec plugins, token files) ---- */

/* A credential as a provider hands it out. Strings are owned by the
 * provider and stay valid until the next call to get() or free(). */
typedef struct kr_credential {
    const char *token; /* bearer token, or NULL */
    const char *client_cert_pem; /* PEM client certificate, or NULL */
    const char *client_key_pem; /* PEM private key, or NULL */
    long long expires_unix; /* 0 = no expiry known */
} kr_credential;

/* A source of credentials consulted before requests. get() may block (it
 * may run an exec plugin); `force_refresh` is set after a 401 so that a
 * cached credential is renewed. Must be thread-safe. */
typedef struct kr_credential_provider {
    int (*get)(struct kr_credential_provider *self, bool force_refresh, kr_credential *out,
               kr_error_t *err);
    void (*free)(struct kr_credential_provider *self);
} kr_credential_provider;

/* ---- rest config ------------------------------------------------------- */

/* Everything a kr_client needs to reach one apiserver. A zero field means
 * the default. Strings are owned by the struct when it comes from
 * kr_rest_config_new/kr_config_rest_config (free with kr_rest_config_free);
 * when a caller fills one on the stack, they stay the caller's. */
typedef struct kr_rest_config {
    char *server; /* "https://host:port[/prefix]" (required) */
    /* TLS */
    char *ca_file; /* PEM bundle path, or NULL */
    char *ca_data; /* PEM text (already base64-decoded), or NULL */
    char *client_cert_file;
    char *client_cert_data; /* PEM text */
    char *client_key_file;
    char *client_key_data; /* PEM text */
    bool insecure_skip_tls_verify; /* off by default; logged as a warning when on */
    char *tls_server_name; /* SNI and name to verify, or NULL */
    /* Authentication (sent only over https, as client-go does) */
    char *bearer_token;
    char *bearer_token_file; /* re-read when it changes; wins over bearer_token */
    char *username; /* basic auth, legacy */
    char *password;
    kr_credential_provider *credentials; /* exec plugin etc.; owned; NULL = none */
    char *impersonate_user;
    /* Transport */
    char *proxy_url; /* NULL: the usual environment variables */
    bool disable_compression;
    char *user_agent; /* NULL: "libkreconcile/<version>" */
    double qps; /* client-side rate limit; 0 = 5 (client-go) */
    int burst; /* 0 = 10 (client-go) */
    int timeout_ms; /* per request, 0 = none (watches never time out) */
    char *namespace_; /* the context's namespace ("default" when unset) */
} kr_rest_config;

/* Free the strings and the provider of a config, and the config itself.
 * For configs made by this library. NULL is a no-op. */
KR_API void kr_rest_config_free(kr_rest_config *config);
/* A deep copy; *out is new. */
KR_API int kr_rest_config_copy(const kr_rest_config *config, kr_rest_config **out, kr_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_CONFIG_H */
