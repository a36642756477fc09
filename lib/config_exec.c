/* libkreconcile — exec credential plugins (client.authentication.k8s.io v1
 * and v1beta1): run the kubeconfig's command, parse the ExecCredential it
 * prints, cache it until it expires. Never interactive; never puts the
 * plugin's output (credentials) into an error message or a log. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config_internal.h"

extern char **environ;

#define STDERR_KEEP 512

/* One credential; `generation` lets callers see a refresh. */
typedef struct exec_cred {
    char *token;
    char *cert;
    char *key;
    long long expires; /* 0 = until a forced refresh */
} exec_cred;

typedef struct exec_provider {
    kr_credential_provider base; /* first: the vtable the caller sees */
    atomic_int refs;
    pthread_mutex_t mu;
    kr_exec_spec spec;
    bool have;
    exec_cred current;
    exec_cred previous; /* still valid for callers of the last get() */
} exec_provider;

static void cred_clear(exec_cred *c)
{
    /* Credentials are wiped before the memory goes back to the allocator. */
    char *fields[] = {c->token, c->cert, c->key};
    for (size_t i = 0; i < KR_ARRAY_LEN(fields); i++) {
        if (fields[i]) {
            explicit_bzero(fields[i], strlen(fields[i]));
            kr_free(fields[i]);
        }
    }
    memset(c, 0, sizeof(*c));
}

static void spec_clear(kr_exec_spec *e)
{
    kr_free(e->api_version);
    kr_free(e->command);
    for (size_t i = 0; i < e->n_args; i++)
        kr_free(e->args[i]);
    kr_free(e->args);
    for (size_t i = 0; i < e->n_env; i++)
        kr_free(e->env[i]);
    kr_free(e->env);
    kr_free(e->interactive_mode);
    kr_free(e->install_hint);
    kr_free(e->exec_info);
}

static char **copy_list(char *const *list, size_t n)
{
    char **copy = kr_calloc(n + 1, sizeof(*copy));
    for (size_t i = 0; copy && i < n; i++) {
        copy[i] = kr_strdup(list[i]);
        if (!copy[i]) {
            for (size_t j = 0; j < i; j++)
                kr_free(copy[j]);
            kr_free(copy);
            return NULL;
        }
    }
    return copy;
}

static int spec_copy(const kr_exec_spec *src, kr_exec_spec *dst)
{
    memset(dst, 0, sizeof(*dst));
    dst->api_version = kr_strdup(src->api_version);
    dst->command = kr_strdup(src->command);
    dst->interactive_mode = kr_strdup(src->interactive_mode);
    dst->install_hint = src->install_hint ? kr_strdup(src->install_hint) : NULL;
    dst->exec_info = kr_strdup(src->exec_info);
    dst->args = copy_list(src->args, src->n_args);
    if (dst->args)
        dst->n_args = src->n_args;
    dst->env = copy_list(src->env, src->n_env);
    if (dst->env)
        dst->n_env = src->n_env;
    if (!dst->api_version || !dst->command || !dst->interactive_mode || !dst->exec_info ||
        !dst->args || !dst->env || (src->install_hint && !dst->install_hint))
        return KR_ENOMEM;
    return 0;
}

/* ---- running the plugin ---------------------------------------------------------- */

/* The environment: ours, minus names the plugin's env replaces, plus those
 * and KUBERNETES_EXEC_INFO (later entries win, as Go's exec dedups). */
static char **build_env(const kr_exec_spec *spec, char *exec_info_var)
{
    size_t n_env = 0;
    while (environ && environ[n_env])
        n_env++;
    char **envp = kr_calloc(n_env + spec->n_env + 2, sizeof(*envp));
    if (!envp)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_env; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool replaced = name_len == strlen("KUBERNETES_EXEC_INFO") &&
                        strncmp(environ[i], "KUBERNETES_EXEC_INFO", name_len) == 0;
        for (size_t j = 0; j < spec->n_env && !replaced; j++)
            replaced =
                strncmp(spec->env[j], environ[i], name_len) == 0 && spec->env[j][name_len] == '=';
        if (!replaced)
            envp[n++] = environ[i];
    }
    for (size_t j = 0; j < spec->n_env; j++)
        envp[n++] = spec->env[j];
    envp[n] = exec_info_var;
    return envp;
}

typedef struct run_result {
    kr_buf out;
    char err_head[STDERR_KEEP];
    size_t err_len;
    int exit_code; /* -1: killed by a signal */
    int signal;
    bool too_large;
} run_result;

static void drain(int *fd, run_result *r, bool is_stdout, pid_t pid)
{
    char chunk[4096];
    ssize_t n = read(*fd, chunk, sizeof(chunk));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    if (!is_stdout) {
        size_t room = sizeof(r->err_head) - 1 - r->err_len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(r->err_head + r->err_len, chunk, take);
        r->err_len += take;
        r->err_head[r->err_len] = '\0';
        return;
    }
    if (r->too_large)
        return;
    if (r->out.len + (size_t)n > KR_EXEC_MAX_OUTPUT || kr_buf_append(&r->out, chunk, (size_t)n)) {
        r->too_large = true;
        kill(pid, SIGKILL);
    }
}

/* Go's exec.LookPath: a name without a slash is searched in $PATH, so that
 * "not found" is known before spawning (a failed exec in the child would
 * only show as exit status 127). NULL: not found; else new. */
static int look_path(const char *command, char **out)
{
    *out = NULL;
    if (strchr(command, '/')) {
        if (access(command, X_OK) != 0)
            return KR_ENOTFOUND;
        *out = kr_strdup(command);
        return *out ? 0 : KR_ENOMEM;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (;;) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        /* An empty entry is the current directory, as in Go. */
        char *candidate =
            len ? kr_asprintf("%.*s/%s", (int)len, path, command) : kr_asprintf("./%s", command);
        if (!candidate)
            return KR_ENOMEM;
        if (access(candidate, X_OK) == 0) {
            *out = candidate;
            return 0;
        }
        kr_free(candidate);
        if (!end)
            return KR_ENOTFOUND;
        path = end + 1;
    }
}

static int not_found(const kr_exec_spec *spec, kr_error_t *err)
{
    return kr_error_set(err, KR_ENOTFOUND,
                        "exec: executable %s not found\n\nIt looks like you are trying to use a "
                        "client-go credential plugin that is not installed.\n\nTo learn more "
                        "about this feature, consult the documentation available at:\n      "
                        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/"
                        "#client-go-credential-plugins%s%s",
                        spec->command, spec->install_hint ? "\n\n" : "",
                        spec->install_hint ? spec->install_hint : "");
}

static int spawn_plugin(const exec_provider *p, run_result *r, kr_error_t *err)
{
    const kr_exec_spec *spec = &p->spec;
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    char *info_var = kr_asprintf("KUBERNETES_EXEC_INFO=%s", spec->exec_info);
    char **argv = kr_calloc(spec->n_args + 2, sizeof(*argv));
    char **envp = info_var ? build_env(spec, info_var) : NULL;
    char *program = NULL;
    int rc = 0;
    if (!info_var || !argv || !envp) {
        rc = kr_error_set(err, KR_ENOMEM, "exec: out of memory");
        goto out;
    }
    rc = look_path(spec->command, &program);
    if (rc != 0) {
        rc = rc == KR_ENOMEM ? kr_error_set(err, KR_ENOMEM, "exec: out of memory")
                             : not_found(spec, err);
        goto out;
    }
    argv[0] = spec->command;
    for (size_t i = 0; i < spec->n_args; i++)
        argv[i + 1] = spec->args[i];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        rc = kr_error_set(err, KR_EIO, "exec: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    /* The plugin starts with default signal dispositions and an empty mask,
     * whatever the calling thread blocks or the program ignores (SIGPIPE
     * is commonly ignored by programs using libcurl). */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigfillset(&defaults);
    sigdelset(&defaults, SIGKILL);
    sigdelset(&defaults, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int e = posix_spawn(&pid, program, &fa, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(out_pipe[1]);
    close(err_pipe[1]);
    out_pipe[1] = err_pipe[1] = -1;
    if (e != 0) {
        if (e == ENOENT)
            rc = not_found(spec, err);
        else
            rc = kr_error_set(err, KR_EIO, "exec: executable %s: %s", spec->command, strerror(e));
        goto out;
    }
    struct pollfd fds[2] = {{.fd = out_pipe[0], .events = POLLIN},
                            {.fd = err_pipe[0], .events = POLLIN}};
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            kill(pid, SIGKILL);
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                drain(&fds[i].fd, r, i == 0, pid);
                (i == 0 ? out_pipe : err_pipe)[0] = fds[i].fd;
            }
        }
    }
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    r->exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    r->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
out:
    for (int i = 0; i < 2; i++) {
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
        if (err_pipe[i] >= 0)
            close(err_pipe[i]);
    }
    kr_free(program);
    kr_free(info_var);
    kr_free(argv);
    kr_free(envp);
    return rc;
}

/* ---- the ExecCredential it prints ------------------------------------------------- */

static int parse_credential(const exec_provider *p, const char *text, size_t len, exec_cred *cred,
                            kr_error_t *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, 0, &jerr);
    int rc = 0;
    if (!json_is_object(doc)) {
        /* jerr.text may quote the input: only its position is reported. */
        rc = kr_error_set(err, KR_EPARSE,
                          "decoding stdout: couldn't get version/kind; json parse error at "
                          "line %d, column %d",
                          doc ? 1 : jerr.line, doc ? 1 : jerr.column);
        goto out;
    }
    const char *api_version = json_string_value(json_object_get(doc, "apiVersion"));
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (!api_version || strcmp(api_version, p->spec.api_version) != 0) {
        rc = kr_error_set(err, KR_EPARSE,
                          "exec plugin is configured to use API version %s, plugin returned "
                          "version %.128s",
                          p->spec.api_version, api_version ? api_version : "");
        goto out;
    }
    if (!kind || strcmp(kind, "ExecCredential") != 0) {
        rc = kr_error_set(err, KR_EPARSE, "decoding stdout: kind \"%.64s\" is not ExecCredential",
                          kind ? kind : "");
        goto out;
    }
    json_t *status = json_object_get(doc, "status");
    if (!json_is_object(status)) {
        rc = kr_error_set(err, KR_EPARSE, "exec plugin didn't return a status field");
        goto out;
    }
    json_t *token = json_object_get(status, "token");
    json_t *cert = json_object_get(status, "clientCertificateData");
    json_t *key = json_object_get(status, "clientKeyData");
    json_t *expiry = json_object_get(status, "expirationTimestamp");
    if ((token && !json_is_string(token) && !json_is_null(token)) ||
        (cert && !json_is_string(cert) && !json_is_null(cert)) ||
        (key && !json_is_string(key) && !json_is_null(key)) ||
        (expiry && !json_is_string(expiry) && !json_is_null(expiry))) {
        rc = kr_error_set(err, KR_EPARSE, "decoding stdout: a status field has the wrong type");
        goto out;
    }
    const char *tok = json_string_value(token), *crt = json_string_value(cert),
               *k = json_string_value(key);
    bool has_tok = tok && *tok, has_crt = crt && *crt, has_key = k && *k;
    if (!has_tok && !has_crt && !has_key) {
        rc = kr_error_set(err, KR_EPARSE, "exec plugin didn't return a token or cert/key pair");
        goto out;
    }
    if (has_crt != has_key) {
        rc = kr_error_set(err, KR_EPARSE, "exec plugin returned only certificate or key, not both");
        goto out;
    }
    memset(cred, 0, sizeof(*cred));
    if (json_is_string(expiry)) {
        cred->expires = kr_config_parse_rfc3339(json_string_value(expiry));
        if (cred->expires < 0) {
            rc = kr_error_set(err, KR_EPARSE,
                              "decoding stdout: expirationTimestamp is not an RFC 3339 time");
            goto out;
        }
    }
    cred->token = has_tok ? kr_strdup(tok) : NULL;
    cred->cert = has_crt ? kr_strdup(crt) : NULL;
    cred->key = has_key ? kr_strdup(k) : NULL;
    if ((has_tok && !cred->token) || (has_crt && !cred->cert) || (has_key && !cred->key)) {
        cred_clear(cred);
        rc = kr_error_set(err, KR_ENOMEM, "exec plugin: out of memory");
    }
out:
    json_decref(doc);
    return rc;
}

static int refresh_locked(exec_provider *p, kr_error_t *err)
{
    if (strcmp(p->spec.interactive_mode, "Always") == 0)
        return kr_error_set(err, KR_EINVAL,
                            "exec plugin cannot support interactive mode: standard input is not "
                            "a terminal");
    run_result r = {.exit_code = 0};
    int rc = spawn_plugin(p, &r, err);
    if (rc == 0 && r.too_large)
        rc = kr_error_set(err, KR_ETOOLARGE, "exec: executable %s wrote more than %u bytes",
                          p->spec.command, KR_EXEC_MAX_OUTPUT);
    else if (rc == 0 && (r.exit_code != 0 || r.signal != 0)) {
        char *nl = strchr(r.err_head, '\n');
        if (nl)
            *nl = '\0';
        if (r.signal)
            rc = kr_error_set(err, KR_EIO, "exec: executable %s was killed by signal %d%s%s",
                              p->spec.command, r.signal, r.err_head[0] ? ": " : "", r.err_head);
        else
            rc = kr_error_set(err, KR_EIO, "exec: executable %s failed with exit code %d%s%s",
                              p->spec.command, r.exit_code, r.err_head[0] ? ": " : "", r.err_head);
    }
    exec_cred fresh = {0};
    if (rc == 0)
        rc = parse_credential(p, r.out.data ? r.out.data : "", r.out.len, &fresh, err);
    if (r.out.data)
        explicit_bzero(r.out.data, r.out.len);
    kr_buf_free(&r.out);
    if (rc != 0)
        return rc;
    cred_clear(&p->previous);
    p->previous = p->current;
    p->current = fresh;
    p->have = true;
    return 0;
}

static int exec_get(kr_credential_provider *self, bool force_refresh, kr_credential *out,
                    kr_error_t *err)
{
    exec_provider *p = (exec_provider *)self;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->mu);
    bool expired = p->have && p->current.expires != 0 && time(NULL) >= p->current.expires;
    int rc = 0;
    if (!p->have || expired || force_refresh)
        rc = refresh_locked(p, err);
    if (rc == 0) {
        out->token = p->current.token;
        out->client_cert_pem = p->current.cert;
        out->client_key_pem = p->current.key;
        out->expires_unix = p->current.expires;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void exec_free(kr_credential_provider *self)
{
    exec_provider *p = (exec_provider *)self;
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    cred_clear(&p->current);
    cred_clear(&p->previous);
    spec_clear(&p->spec);
    pthread_mutex_destroy(&p->mu);
    kr_free(p);
}

static int exec_copy(kr_credential_provider *self, kr_credential_provider **out, kr_error_t *err)
{
    (void)err;
    exec_provider *p = (exec_provider *)self;
    atomic_fetch_add(&p->refs, 1);
    *out = self;
    return 0;
}

int kr_exec_provider_new(const kr_exec_spec *spec, kr_credential_provider **out, kr_error_t *err)
{
    *out = NULL;
    exec_provider *p = kr_calloc(1, sizeof(*p));
    if (!p)
        return kr_error_set(err, KR_ENOMEM, "allocating an exec credential provider");
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        kr_free(p);
        return kr_error_set(err, KR_ENOMEM, "allocating an exec credential provider");
    }
    atomic_init(&p->refs, 1);
    p->base.get = exec_get;
    p->base.free = exec_free;
    p->base.copy = exec_copy;
    if (spec_copy(spec, &p->spec) != 0) {
        exec_free(&p->base);
        return kr_error_set(err, KR_ENOMEM, "allocating an exec credential provider");
    }
    *out = &p->base;
    return 0;
}
