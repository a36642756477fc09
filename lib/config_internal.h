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

/* Largest kubeconfig, CA or token file read, and exec plugin output. */
#define KR_CONFIG_MAX_FILE (16u * 1024u * 1024u)
#define KR_EXEC_MAX_OUTPUT (1024u * 1024u)

/* Read a whole file into a new NUL-terminated buffer (kr_free). Errors:
 * KR_ENOTFOUND (ENOENT), KR_EIO, KR_ETOOLARGE past `max` bytes, KR_ENOMEM;
 * the message starts with `what` and names the path. */
int kr_config_read_file(const char *path, size_t max, const char *what, char **out, size_t *len,
                        kr_error_t *err);

/* Standard base64 (with padding; CR and LF ignored, as Go's decoder).
 * Decode returns 0 and a new NUL-terminated buffer, KR_EPARSE with the
 * offending input offset in *bad_at, or KR_ENOMEM. */
int kr_config_base64_decode(const char *in, size_t len, char **out, size_t *out_len,
                            size_t *bad_at);
char *kr_config_base64_encode(const unsigned char *in, size_t len);

/* `path` resolved against `dir` when relative; a new string. "" stays "". */
char *kr_config_resolve_path(const char *dir, const char *path);

/* Parse an RFC 3339 timestamp into Unix seconds; -1 when malformed. */
long long kr_config_parse_rfc3339(const char *s);

/* Trim ASCII whitespace at both ends, in place; returns the new length. */
size_t kr_config_trim(char *s);

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

#endif /* KR_LIB_CONFIG_INTERNAL_H */
