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
#include <stdint.h>

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
    /* Optional (NULL: not copyable). A provider the caller owns that hands
     * out the same credentials; the library's providers return themselves
     * with a reference added, so copies share one cache and one plugin
     * run. Used by kr_rest_config_copy. */
    int (*copy)(struct kr_credential_provider *self, struct kr_credential_provider **out,
                kr_error_t *err);
} kr_credential_provider;

/* A provider that serves the trimmed contents of a token file and re-reads
 * it when the file changes (projected service account tokens rotate): at
 * most every `recheck_ms` (0 = 60000, as client-go) it stat()s the file and
 * re-reads it when its inode, size or modification time changed;
 * force_refresh re-checks at once. `path` is copied. The file is read once
 * here: errors KR_EIO (unreadable, naming the path), KR_EINVAL (empty),
 * KR_ENOMEM. A later read failure keeps serving the last token and logs a
 * warning through `logger` (copied; NULL = none). *out is new; free it
 * with its free(). [any thread]; get() is thread-safe. */
KR_API int kr_credential_provider_token_file_new(const char *path, uint64_t recheck_ms,
                                                 const kr_logger *logger,
                                                 kr_credential_provider **out, kr_error_t *err);

/* ---- rest config ------------------------------------------------------- */

/* Everything a kr_client needs to reach one apiserver. A zero field means
 * the default. Strings are owned by the struct when it comes from
 * the functions below (free with kr_rest_config_free);
 * when a caller fills one on the stack, they stay the caller's.
 *
 * It grows as the options structs do, without an ABI break: `version`
 * comes first (KR_REST_CONFIG_INIT sets it; 0 is taken as 1, so that
 * `kr_rest_config c = {.server = ...}` keeps working), fields are only ever
 * appended, each with the version that introduced it, and the library never
 * reads a caller's config past the last field of the caller's version (a
 * version newer than the library's is KR_EINVAL). Configs the library
 * allocates (kr_rest_config_new, _copy, the loaders) carry
 * KR_REST_CONFIG_VERSION. Version 1 is every field below. A version 2 field
 * is appended after impersonate_uid under a "version 2" comment, with
 * KR_REST_CONFIG_VERSION raised to 2 and the library's table of the end of
 * each version's fields (lib/config_internal.h) given its entry. */
typedef struct kr_rest_config {
    unsigned version; /* KR_REST_CONFIG_VERSION (0 is taken as 1) */
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
    /* A request's, its retries and their waits included (from its first
     * attempt, as client-go's); 0 = none (watches never time out). */
    uint64_t timeout_ms;
    char *namespace_; /* the context's namespace ("default" when unset) */
    char **impersonate_groups; /* NULL-terminated list (kubeconfig `as-groups`), or NULL */
    char *impersonate_uid; /* kubeconfig `as-uid`, or NULL */
    /* Version 2 fields go here. */
} kr_rest_config;
#define KR_REST_CONFIG_VERSION 1
/* clang-format off */
#define KR_REST_CONFIG_INIT {.version = KR_REST_CONFIG_VERSION}
/* clang-format on */

/* Configs produced by the loaders below follow one rule a client can rely
 * on: when `bearer_token_file` is set (kubeconfig tokenFile, in-cluster),
 * `credentials` is a token-file provider for it, so a client consults
 * `credentials` first, then `bearer_token`. An exec plugin also lives in
 * `credentials`. A hand-filled config with only `bearer_token_file` can
 * get one from kr_credential_provider_token_file_new. */

/* A new config of version KR_REST_CONFIG_VERSION, every other field zero
 * ("default"), for callers that fill one
 * in code and free it with kr_rest_config_free: strings put in it must
 * come from the library's allocator (kr_malloc), as it frees them with
 * kr_free. Errors: KR_ENOMEM. [any thread] */
KR_API int kr_rest_config_new(kr_rest_config **out, kr_error_t *err);
/* Free the strings and the provider of a config, and the config itself.
 * For configs made by this library (only the fields of the config's
 * version are read). NULL is a no-op. [any thread] */
KR_API void kr_rest_config_free(kr_rest_config *config);
/* A deep copy of `config` (borrowed; read up to its version's fields);
 * *out is new, of version KR_REST_CONFIG_VERSION (later fields zero). The
 * credential provider is copied through its copy() (shared with the
 * original for the library's providers). Errors: KR_EINVAL (a version newer
 * than the library's), KR_ENOMEM; KR_EUNSUPPORTED when `credentials` has no
 * copy(). [any thread] */
KR_API int kr_rest_config_copy(const kr_rest_config *config, kr_rest_config **out, kr_error_t *err);

/* ---- kubeconfig ------------------------------------------------------------ */

/* One or several kubeconfig files, merged by kubectl's rules: a named
 * cluster, user or context is taken whole from the FIRST file that defines
 * the name (later definitions are ignored, fields are never merged);
 * current-context comes from the first file that sets it. Relative paths
 * (certificate-authority, client-certificate, client-key, tokenFile, and an
 * exec command that contains a '/') are resolved against the directory of
 * the file that defined them; *-data fields are base64-decoded at load.
 * Immutable once loaded: readers may share it across threads. */
typedef struct kr_kubeconfig kr_kubeconfig_t;

/* Options for loading; zero means the default. */
typedef struct kr_kubeconfig_opts {
    unsigned version; /* KR_KUBECONFIG_OPTS_VERSION (0 is taken as 1) */
    kr_logger logger; /* warnings, e.g. insecure-skip-tls-verify; never credentials */
} kr_kubeconfig_opts;
#define KR_KUBECONFIG_OPTS_VERSION 1
/* clang-format off */
#define KR_KUBECONFIG_OPTS_INIT {.version = KR_KUBECONFIG_OPTS_VERSION}
/* clang-format on */

/* What kubectl's flags override, applied to the merged kubeconfig. NULL or
 * "" means "not overridden". */
typedef struct kr_config_overrides {
    const char *context; /* --context: instead of current-context */
    const char *cluster; /* --cluster: instead of the context's cluster */
    const char *user; /* --user: instead of the context's user */
    const char *namespace_; /* --namespace */
    const char *server; /* --server: replaces the cluster's server */
    const char *token; /* --token: replaces the user's token, tokenFile and exec */
    const char *tls_server_name; /* --tls-server-name */
    /* --certificate-authority: a CA bundle file replacing the cluster's
     * certificate-authority and certificate-authority-data */
    const char *certificate_authority;
    bool insecure_skip_tls_verify; /* --insecure-skip-tls-verify: also drops the CA */
} kr_config_overrides;

/* Load the files named in `paths` (`n_paths` of them), in order, merged.
 * Every file must exist, as kubectl's --kubeconfig requires. *out is new
 * (kr_kubeconfig_free). Errors: KR_ENOTFOUND / KR_EIO (a file; the message
 * names it), KR_EPARSE (YAML, wrong field types or bad base64: the message
 * says `error loading config file "<path>": ...`), KR_ETOOLARGE (a file
 * over 16 MiB), KR_ENOMEM. [any thread] */
KR_API int kr_kubeconfig_load_files(const char *const *paths, size_t n_paths,
                                    const kr_kubeconfig_opts *opts, kr_kubeconfig_t **out,
                                    kr_error_t *err);

/* kubectl's loading rules: `explicit_path` when not NULL (it must exist),
 * else the ':'-separated $KUBECONFIG (empty and missing entries skipped;
 * a file named twice is loaded once), else ~/.kube/config ($HOME), which
 * may be absent. Missing files give an empty kubeconfig, not an error (the
 * error comes when a context is needed). Errors as kr_kubeconfig_load_files.
 * Reads the environment: [any thread] unless another thread changes it. */
KR_API int kr_kubeconfig_load_default(const char *explicit_path, const kr_kubeconfig_opts *opts,
                                      kr_kubeconfig_t **out, kr_error_t *err);

/* Parse a kubeconfig from memory (`len` bytes of YAML or JSON); relative
 * paths resolve against `base_dir` (NULL: the current directory). `name`
 * (NULL: "<memory>") names the source in error messages. *out is new.
 * Errors: KR_EPARSE, KR_ENOMEM. [any thread] */
KR_API int kr_kubeconfig_load_memory(const char *data, size_t len, const char *name,
                                     const char *base_dir, const kr_kubeconfig_opts *opts,
                                     kr_kubeconfig_t **out, kr_error_t *err);

/* Free a kubeconfig. NULL is a no-op. [any thread, once] */
KR_API void kr_kubeconfig_free(kr_kubeconfig_t *kc);

/* The merged current-context, or NULL when no file sets it. Borrowed,
 * valid until kr_kubeconfig_free. [any thread] */
KR_API const char *kr_kubeconfig_current_context(const kr_kubeconfig_t *kc);

/* The number of contexts, and the name of the i-th (in the order first
 * defined across the files) or NULL past the end. Borrowed. [any thread] */
KR_API size_t kr_kubeconfig_context_count(const kr_kubeconfig_t *kc);
KR_API const char *kr_kubeconfig_context_name(const kr_kubeconfig_t *kc, size_t i);

/* The namespace requests should default to: the override's, else the
 * chosen context's (overrides->context, else current-context), else
 * "default". *ns is borrowed (from kc, overrides or a static string).
 * overrides may be NULL. Errors: KR_ENOTFOUND when a named context does
 * not exist. [any thread] */
KR_API int kr_kubeconfig_namespace(const kr_kubeconfig_t *kc, const kr_config_overrides *overrides,
                                   const char **ns, kr_error_t *err);

/* Build the config for the chosen context (overrides may be NULL). *out is
 * new. Validation follows kubectl, with its messages: context, cluster or
 * user not found; no server; a file and its -data both given
 * ("certificate-authority-data and certificate-authority are both
 * specified for c1. certificate-authority-data will override."); a client
 * certificate without a key; token and basic auth together; an unreadable
 * certificate, key or token file; an invalid proxy-url; exec without
 * interactiveMode under v1 ("interactiveMode must be specified for u1 to
 * use exec authentication plugin"); insecure-skip-tls-verify with a CA
 * ("specifying a root certificates file with the insecure flag is not
 * allowed"). Exec users get an exec-plugin provider in `credentials`
 * (nothing runs until its get()) unless they also have a token or
 * tokenFile, which wins as in client-go; tokenFile users get a token-file
 * provider (the file is read once here). As clientcmd, user credentials
 * are left out entirely when the server is plain http://. Logs a warning
 * when TLS verification is off. Errors: KR_ENOTFOUND (no
 * configuration, or a missing context/cluster/user), KR_EINVAL, KR_EIO,
 * KR_EUNSUPPORTED (auth-provider), KR_ENOMEM. [any thread] */
KR_API int kr_kubeconfig_rest_config(const kr_kubeconfig_t *kc,
                                     const kr_config_overrides *overrides, kr_rest_config **out,
                                     kr_error_t *err);

/* ---- exec credential plugins ------------------------------------------------ */

/* The provider a kubeconfig `exec` user gets (client.authentication.k8s.io
 * v1 and v1beta1). get() runs the command (argv = command + args; the
 * process environment plus `env`, plus KUBERNETES_EXEC_INFO; stdin
 * /dev/null, never interactive), reads at most 1 MiB of stdout, and caches
 * the credential until its expirationTimestamp (without one, until a
 * force_refresh). Calls are serialised by a mutex, so concurrent callers
 * run the plugin once. Strings handed out stay valid until the second
 * refresh after the one that produced them, or free(). Errors (never with
 * credentials in them): KR_ENOTFOUND "exec: executable X not found" + the
 * install hint; KR_EIO "exec: executable X failed with exit code N" + the
 * first line of its stderr; KR_ETOOLARGE past 1 MiB of output;
 * KR_EPARSE for bad output, with kubectl's messages; KR_EINVAL "exec plugin
 * cannot support interactive mode: standard input is not a terminal" for
 * interactiveMode Always. Like kubectl, a plugin that never exits blocks
 * get(): run blocking calls on worker threads. */

/* ---- in-cluster ------------------------------------------------------------ */

/* Options for the in-cluster config; zero means the default. */
typedef struct kr_in_cluster_opts {
    unsigned version; /* KR_IN_CLUSTER_OPTS_VERSION (0 is taken as 1) */
    /* The service account directory; NULL: the standard
     * /var/run/secrets/kubernetes.io/serviceaccount. Meant for tests. */
    const char *service_account_dir;
    uint64_t token_recheck_ms; /* how often the token file is checked; 0 = 60000 */
    kr_logger logger;
} kr_in_cluster_opts;
#define KR_IN_CLUSTER_OPTS_VERSION 1
/* clang-format off */
#define KR_IN_CLUSTER_OPTS_INIT {.version = KR_IN_CLUSTER_OPTS_VERSION}
/* clang-format on */

/* The config of a pod: server https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
 * (an IPv6 host in brackets), CA file <dir>/ca.crt, namespace from
 * <dir>/namespace ("default" when absent), token from <dir>/token through a
 * token-file provider (re-read as it rotates). opts may be NULL. *out is
 * new. Errors: KR_ENOTFOUND "unable to load in-cluster configuration,
 * KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined";
 * KR_EIO when the token cannot be read; KR_ENOMEM. [any thread] */
KR_API int kr_config_in_cluster(const kr_in_cluster_opts *opts, kr_rest_config **out,
                                kr_error_t *err);

/* ---- one call, as controllers load their config ---------------------------- */

typedef struct kr_config_load_opts {
    unsigned version; /* KR_CONFIG_LOAD_OPTS_VERSION (0 is taken as 1) */
    const char *kubeconfig; /* explicit file (--kubeconfig), or NULL */
    kr_config_overrides overrides; /* applied to kubeconfig-based configs */
    kr_in_cluster_opts in_cluster; /* for the in-cluster step */
    kr_logger logger; /* kubeconfig warnings; in-cluster too if its own is unset */
} kr_config_load_opts;
#define KR_CONFIG_LOAD_OPTS_VERSION 1
/* clang-format off */
#define KR_CONFIG_LOAD_OPTS_INIT {.version = KR_CONFIG_LOAD_OPTS_VERSION}
/* clang-format on */

/* The usual search, as controller-runtime's GetConfig: the explicit
 * kubeconfig; else $KUBECONFIG when set and non-empty; else in-cluster when
 * KUBERNETES_SERVICE_HOST and _PORT are set and the token file exists; else
 * ~/.kube/config. opts may be NULL. *out is new. Errors: those of the step
 * taken; KR_ENOTFOUND "invalid configuration: no configuration has been
 * provided, try setting KUBERNETES_MASTER environment variable" when
 * nothing is found. [any thread] */
KR_API int kr_config_load(const kr_config_load_opts *opts, kr_rest_config **out, kr_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_CONFIG_H */
