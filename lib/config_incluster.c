/* libkreconcile — the in-cluster config (service account token, CA and
 * namespace files, KUBERNETES_SERVICE_HOST/PORT) and the token-file
 * credential provider that follows rotating tokens. Token contents never
 * reach a log or an error message. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config_internal.h"

#define SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define DEFAULT_RECHECK_MS 60000

/* ---- token file provider ------------------------------------------------------------ */

typedef struct token_file {
    kr_credential_provider base; /* first: the vtable the caller sees */
    atomic_int refs;
    pthread_mutex_t mu;
    char *path;
    long long recheck_ns;
    kr_logger logger;
    struct timespec checked; /* monotonic time of the last stat() */
    struct stat seen; /* what the file looked like when read */
    char *token;
    char *previous; /* kept one more refresh for callers of the last get() */
} token_file;

static long long monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void wipe(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        kr_free(s);
    }
}

/* Read the file into p->token when it is new or changed. */
static int token_reload_locked(token_file *p, bool initial, kr_error_t *err)
{
    struct stat st;
    long long now = monotonic_ns();
    p->checked.tv_sec = (time_t)(now / 1000000000LL);
    p->checked.tv_nsec = (long)(now % 1000000000LL);
    if (stat(p->path, &st) != 0) {
        if (initial)
            return kr_error_set(err, errno == ENOENT ? KR_ENOTFOUND : KR_EIO,
                                "reading token file %s: %s", p->path, strerror(errno));
        kr_log(&p->logger, KR_LOG_WARN, "config", "token file %s: %s; keeping the previous token",
               p->path, strerror(errno));
        return 0;
    }
    if (!initial && st.st_ino == p->seen.st_ino && st.st_dev == p->seen.st_dev &&
        st.st_size == p->seen.st_size && st.st_mtim.tv_sec == p->seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == p->seen.st_mtim.tv_nsec)
        return 0;
    char *text = NULL;
    kr_error_t rerr = {0};
    int rc =
        kr_config_read_file(p->path, KR_CONFIG_MAX_FILE, "reading token file", &text, NULL, &rerr);
    if (rc == 0 && kr_config_trim(text) == 0) {
        wipe(text);
        text = NULL;
        rc = kr_error_set(&rerr, KR_EINVAL, "read empty token from file %s", p->path);
    }
    if (rc != 0) {
        if (initial || rc == KR_ENOMEM) {
            if (err)
                *err = rerr;
            return rc;
        }
        kr_log(&p->logger, KR_LOG_WARN, "config", "%s; keeping the previous token", rerr.message);
        return 0;
    }
    wipe(p->previous);
    p->previous = p->token;
    p->token = text;
    p->seen = st;
    return 0;
}

static int token_get(kr_credential_provider *self, bool force_refresh, kr_credential *out,
                     kr_error_t *err)
{
    token_file *p = (token_file *)self;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->mu);
    long long checked = (long long)p->checked.tv_sec * 1000000000LL + p->checked.tv_nsec;
    int rc = 0;
    if (force_refresh || monotonic_ns() - checked >= p->recheck_ns)
        rc = token_reload_locked(p, false, err);
    out->token = p->token;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void token_free(kr_credential_provider *self)
{
    token_file *p = (token_file *)self;
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    wipe(p->token);
    wipe(p->previous);
    kr_free(p->path);
    pthread_mutex_destroy(&p->mu);
    kr_free(p);
}

static int token_copy(kr_credential_provider *self, kr_credential_provider **out, kr_error_t *err)
{
    (void)err;
    token_file *p = (token_file *)self;
    atomic_fetch_add(&p->refs, 1);
    *out = self;
    return 0;
}

int kr_credential_provider_token_file_new(const char *path, int recheck_ms, const kr_logger *logger,
                                          kr_credential_provider **out, kr_error_t *err)
{
    *out = NULL;
    if (!path || !*path) {
        kr_error_set(err, KR_EINVAL, "token file: empty path");
        return KR_EINVAL;
    }
    token_file *p = kr_calloc(1, sizeof(*p));
    if (!p)
        return kr_error_set(err, KR_ENOMEM, "allocating a token file provider");
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        kr_free(p);
        return kr_error_set(err, KR_ENOMEM, "allocating a token file provider");
    }
    atomic_init(&p->refs, 1);
    p->base.get = token_get;
    p->base.free = token_free;
    p->base.copy = token_copy;
    p->recheck_ns = (long long)(recheck_ms > 0 ? recheck_ms : DEFAULT_RECHECK_MS) * 1000000LL;
    if (logger)
        p->logger = *logger;
    p->path = kr_strdup(path);
    int rc = p->path ? token_reload_locked(p, true, err)
                     : kr_error_set(err, KR_ENOMEM, "allocating a token file provider");
    if (rc != 0) {
        token_free(&p->base);
        return rc;
    }
    *out = &p->base;
    return 0;
}

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
    int status = kr_config_read_file(ns_path, 4096, "namespace file", &ns, NULL, &nerr);
    kr_free(ns_path);
    if (status == KR_ENOMEM)
        return kr_error_set(err, KR_ENOMEM, "loading the in-cluster configuration");
    if (status == 0 && kr_config_trim(ns) > 0) {
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
