/* libkreconcile — kr_rest_config's life (new, free, deep copy), the helpers
 * the config module shares (files, base64, paths, RFC 3339), and the
 * one-call loader kr_config_load. Never logs or returns credentials. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config_internal.h"

int kr_rest_config_new(kr_rest_config **out, kr_error_t *err)
{
    *out = kr_calloc(1, sizeof(**out));
    if (!*out)
        return kr_error_set(err, KR_ENOMEM, "allocating a rest config");
    (*out)->version = KR_REST_CONFIG_VERSION;
    return 0;
}

size_t kr_rest_config_end(unsigned version)
{
    static const size_t end[KR_REST_CONFIG_VERSION + 1] = {
        [0] = KR_REST_CONFIG_V1_END,
        [1] = KR_REST_CONFIG_V1_END,
    };
    return end[version > KR_REST_CONFIG_VERSION ? KR_REST_CONFIG_VERSION : version];
}

int kr_rest_config_read(const kr_rest_config *in, kr_rest_config *out, kr_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (in->version > KR_REST_CONFIG_VERSION)
        return kr_error_set(err, KR_EINVAL, "rest config: version %u is newer than %u", in->version,
                            (unsigned)KR_REST_CONFIG_VERSION);
    memcpy(out, in, kr_rest_config_end(in->version));
    out->version = KR_REST_CONFIG_VERSION;
    return 0;
}

static void free_string_list(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        kr_free(*p);
    kr_free(list);
}

/* Every owned string of the struct, so that free and copy cannot drift. */
#define REST_CONFIG_STRINGS(X)                                                                     \
    X(server)                                                                                      \
    X(ca_file)                                                                                     \
    X(ca_data)                                                                                     \
    X(client_cert_file)                                                                            \
    X(client_cert_data)                                                                            \
    X(client_key_file)                                                                             \
    X(client_key_data)                                                                             \
    X(tls_server_name)                                                                             \
    X(bearer_token)                                                                                \
    X(bearer_token_file)                                                                           \
    X(username)                                                                                    \
    X(password)                                                                                    \
    X(impersonate_user)                                                                            \
    X(proxy_url)                                                                                   \
    X(user_agent)                                                                                  \
    X(namespace_)                                                                                  \
    X(impersonate_uid)

void kr_rest_config_free(kr_rest_config *config)
{
    if (!config)
        return;
    /* the fields of its version only (a newer one: those the library knows) */
    kr_rest_config c = {0};
    memcpy(&c, config, kr_rest_config_end(config->version));
#define FREE_FIELD(f) kr_free(c.f);
    REST_CONFIG_STRINGS(FREE_FIELD)
#undef FREE_FIELD
    free_string_list(c.impersonate_groups);
    if (c.credentials && c.credentials->free)
        c.credentials->free(c.credentials);
    kr_free(config);
}

static int copy_string_list(char *const *list, char ***out)
{
    *out = NULL;
    if (!list)
        return 0;
    size_t n = 0;
    while (list[n])
        n++;
    char **copy = kr_calloc(n + 1, sizeof(*copy));
    if (!copy)
        return KR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        copy[i] = kr_strdup(list[i]);
        if (!copy[i]) {
            free_string_list(copy);
            return KR_ENOMEM;
        }
    }
    *out = copy;
    return 0;
}

int kr_rest_config_copy(const kr_rest_config *in, kr_rest_config **out, kr_error_t *err)
{
    *out = NULL;
    kr_rest_config full;
    int status = kr_rest_config_read(in, &full, err);
    if (status != 0)
        return status;
    const kr_rest_config *config = &full;
    kr_rest_config *copy = kr_calloc(1, sizeof(*copy));
    if (!copy)
        return kr_error_set(err, KR_ENOMEM, "copying a rest config");
    /* Scalars first (the version is the library's); every pointer is then
     * replaced by its own copy. */
    *copy = *config;
    copy->credentials = NULL;
    copy->impersonate_groups = NULL;
    bool failed = false;
#define COPY_FIELD(f)                                                                              \
    copy->f = config->f ? kr_strdup(config->f) : NULL;                                             \
    failed |= config->f && !copy->f;
    REST_CONFIG_STRINGS(COPY_FIELD)
#undef COPY_FIELD
    if (failed || copy_string_list(config->impersonate_groups, &copy->impersonate_groups) != 0) {
        kr_rest_config_free(copy);
        return kr_error_set(err, KR_ENOMEM, "copying a rest config");
    }
    if (config->credentials) {
        if (!config->credentials->copy) {
            kr_rest_config_free(copy);
            return kr_error_set(err, KR_EUNSUPPORTED,
                                "copying a rest config: its credential provider cannot be copied");
        }
        int rc = config->credentials->copy(config->credentials, &copy->credentials, err);
        if (rc != 0) {
            copy->credentials = NULL;
            kr_rest_config_free(copy);
            return rc;
        }
    }
    *out = copy;
    return 0;
}

/* ---- shared helpers --------------------------------------------------------- */

/* Drop "." and empty segments and fold ".." in place, as Go's
 * filepath.Clean (for the paths kubectl joins). */
static void clean_path(char *path)
{
    bool absolute = path[0] == '/';
    char *out = path, *seg = path;
    size_t kept = 0; /* segments written, to know what ".." may remove */
    while (*seg) {
        while (*seg == '/')
            seg++;
        if (!*seg)
            break;
        char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 1 && seg[0] == '.') {
            /* skip */
        } else if (len == 2 && seg[0] == '.' && seg[1] == '.' && kept > 0) {
            char *slash = out > path ? out - 1 : path;
            while (slash > path && *slash != '/')
                slash--;
            out = slash;
            kept--;
        } else if (len == 2 && seg[0] == '.' && seg[1] == '.' && absolute) {
            /* "/.." is "/" */
        } else {
            if (out > path || absolute)
                *out++ = '/';
            memmove(out, seg, len);
            out += len;
            /* a leading ".." of a relative path stays: nothing to remove */
            kept += !(len == 2 && seg[0] == '.' && seg[1] == '.');
        }
        seg += len;
    }
    if (out == path && absolute)
        *out++ = '/';
    else if (out == path)
        *out++ = '.';
    *out = '\0';
}

char *kr_config_resolve_path(const char *dir, const char *path)
{
    if (path[0] == '\0' || path[0] == '/' || !dir || dir[0] == '\0')
        return kr_strdup(path);
    char *joined = kr_asprintf("%s/%s", dir, path);
    if (joined)
        clean_path(joined);
    return joined;
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

long long kr_config_parse_rfc3339(const char *s)
{
    int year, mon, day, hour, min, sec;
    const char *p = s;
    if (parse_digits(&p, 4, &year) || *p++ != '-' || parse_digits(&p, 2, &mon) || *p++ != '-' ||
        parse_digits(&p, 2, &day) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (parse_digits(&p, 2, &hour) || *p++ != ':' || parse_digits(&p, 2, &min) || *p++ != ':' ||
        parse_digits(&p, 2, &sec))
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return -1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    long long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om) || oh > 23 ||
            om > 59)
            return -1;
        offset = sign * (oh * 3600LL + om * 60LL);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    return (long long)t - offset;
}

/* ---- the one-call loader ---------------------------------------------------- */

static bool in_cluster_possible(const kr_in_cluster_opts *ic)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return false;
    const char *dir = ic->service_account_dir ? ic->service_account_dir
                                              : "/var/run/secrets/kubernetes.io/serviceaccount";
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/token", dir) >= sizeof(path))
        return false;
    struct stat st;
    return stat(path, &st) == 0;
}

static int from_kubeconfig(const kr_config_load_opts *opts, const char *explicit_path,
                           kr_rest_config **out, kr_error_t *err)
{
    kr_kubeconfig_opts kopts = {.logger = opts->logger};
    kr_kubeconfig_t *kc = NULL;
    int rc = kr_kubeconfig_load_default(explicit_path, &kopts, &kc, err);
    if (rc == 0)
        rc = kr_kubeconfig_rest_config(kc, &opts->overrides, out, err);
    kr_kubeconfig_free(kc);
    return rc;
}

int kr_config_load(const kr_config_load_opts *opts, kr_rest_config **out, kr_error_t *err)
{
    kr_config_load_opts zero = {0};
    if (!opts)
        opts = &zero;
    *out = NULL;
    if (opts->version > KR_CONFIG_LOAD_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "config: options version %u is newer than %u",
                            opts->version, (unsigned)KR_CONFIG_LOAD_OPTS_VERSION);
    if (opts->kubeconfig && *opts->kubeconfig)
        return from_kubeconfig(opts, opts->kubeconfig, out, err);
    const char *env = getenv("KUBECONFIG");
    if (env && *env)
        return from_kubeconfig(opts, NULL, out, err);
    if (in_cluster_possible(&opts->in_cluster)) {
        kr_in_cluster_opts ic = opts->in_cluster;
        if (!ic.logger.cb)
            ic.logger = opts->logger;
        return kr_config_in_cluster(&ic, out, err);
    }
    return from_kubeconfig(opts, NULL, out, err);
}
