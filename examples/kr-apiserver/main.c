/* kr-apiserver — the in-memory Kubernetes API server as a program, so that
 * kubectl and the example programs can run without a cluster. Prints the
 * URL it serves; stops on SIGINT or SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kreconcile/testserver.h"

#define MAX_LIST 64

struct args {
    kr_testserver_opts opts;
    const char *cert_file, *key_file, *ca_file, *kubeconfig_out;
    const char *tokens[MAX_LIST + 1];
    const char *loads[MAX_LIST];
    size_t ntokens, nloads;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kr-apiserver [--port P] [--bind ADDR] [--tls-cert F --tls-key F "
            "[--client-ca F]]\n"
            "                    [--token T ...] [--history N] [--bookmark-interval S]\n"
            "                    [--load FILE ...] [--kubeconfig-out FILE] [--threads N]\n"
            "                    [--fail-429 F] [--fail-500 F] [--fail-503 F] [--latency-ms N]\n"
            "                    [--fail-500-after-write F]\n"
            "                    [--watch-max-events N [--watch-cut-mid-event]]\n"
            "                    [--audit-log FILE] [--token-auth-file FILE]\n"
            "                    [--authorization-mode AlwaysAllow|RBAC]\n"
            "  --token T   a bearer token; \"T:user\" names the user, \"T:user:get,list\" "
            "limits verbs;\n"
            "              a token without a user is kubernetes-admin in system:masters.\n"
            "              Tokens need TLS: kubectl and client-go never send a bearer token "
            "over plain\n"
            "              HTTP, so serve --tls-cert/--tls-key and use the kubeconfig that "
            "--kubeconfig-out\n"
            "              writes (it carries the CA and the first token).\n"
            "  --token-auth-file FILE  users in kube-apiserver's static token format, one\n"
            "              token,user,uid,\"group1,group2\" record per line.\n"
            "  --authorization-mode RBAC  authorize by the Roles, ClusterRoles and bindings "
            "stored,\n"
            "              as kube-apiserver does, with its bootstrap roles (cluster-admin, "
            "admin,\n"
            "              edit, view, system:basic-user, system:auth-delegator, ...); the group\n"
            "              system:masters may do anything. Impersonation (kubectl --as) is "
            "checked.\n"
            "              Default AlwaysAllow: every authenticated request is allowed.\n"
            "  --audit-log FILE  append one audit.k8s.io/v1 Event per request (JSON lines, "
            "level Metadata,\n"
            "              as kube-apiserver's log backend): user (the token's), verb, "
            "objectRef,\n"
            "              responseStatus.code, requestURI, timestamps.\n"
            "Prints the URL it serves, then runs until SIGINT or SIGTERM.\n"
            "Admin endpoints: POST /_kr/faults {fail429,fail500,fail503,"
            "fail500AfterWrite,latencyMs,watchMaxEvents,watchCutMidEvent}, "
            "POST /_kr/close-watches, /_kr/compact, "
            "/_kr/restart; GET /_kr/stats (requests by verb and resource), "
            "POST /_kr/stats/reset. GET /metrics: apiserver_request_total and "
            "apiserver_storage_objects, as kube-apiserver's.\n");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            char *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int parse_number(const char *flag, const char *v, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || !*v || n > max) {
        fprintf(stderr, "kr-apiserver: %s: invalid number \"%s\"\n", flag, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_fraction(const char *flag, const char *v, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (*end || !*v || !(d >= 0 && d <= 1)) { /* nan compares false */
        fprintf(stderr, "kr-apiserver: %s: a fraction in [0,1], not \"%s\"\n", flag, v);
        return -1;
    }
    *out = d;
    return 0;
}

static int parse_fault_flag(struct args *a, const char *flag, const char *v)
{
    kr_testserver_faults *f = &a->opts.faults;
    unsigned long n;
    if (strcmp(flag, "--fail-429") == 0)
        return parse_fraction(flag, v, &f->fail_429);
    if (strcmp(flag, "--fail-500") == 0)
        return parse_fraction(flag, v, &f->fail_500);
    if (strcmp(flag, "--fail-503") == 0)
        return parse_fraction(flag, v, &f->fail_503);
    if (strcmp(flag, "--fail-500-after-write") == 0) /* done, then answered 500 */
        return parse_fraction(flag, v, &f->fail_500_after_write);
    if (strcmp(flag, "--latency-ms") == 0 && parse_number(flag, v, 600000, &n) == 0) {
        f->latency_ms = (unsigned)n;
        return 0;
    }
    if (strcmp(flag, "--watch-max-events") == 0 && parse_number(flag, v, 1u << 30, &n) == 0) {
        f->watch_max_events = (unsigned)n;
        return 0;
    }
    return -1;
}

static int parse_value_flag(struct args *a, const char *flag, const char *v)
{
    unsigned long n;
    if (strncmp(flag, "--fail-", 7) == 0 || strcmp(flag, "--latency-ms") == 0 ||
        strcmp(flag, "--watch-max-events") == 0)
        return parse_fault_flag(a, flag, v);
    if (strcmp(flag, "--port") == 0 && parse_number(flag, v, 65535, &n) == 0)
        a->opts.port = (unsigned short)n;
    else if (strcmp(flag, "--history") == 0 && parse_number(flag, v, 100000000, &n) == 0)
        a->opts.history = n;
    else if (strcmp(flag, "--bookmark-interval") == 0 && parse_number(flag, v, 86400, &n) == 0)
        a->opts.bookmark_interval_ms = (unsigned)n * 1000u;
    else if (strcmp(flag, "--threads") == 0 && parse_number(flag, v, 256, &n) == 0)
        a->opts.threads = (unsigned)n;
    else if (strcmp(flag, "--bind") == 0)
        a->opts.bind_address = v;
    else if (strcmp(flag, "--tls-cert") == 0)
        a->cert_file = v;
    else if (strcmp(flag, "--tls-key") == 0)
        a->key_file = v;
    else if (strcmp(flag, "--client-ca") == 0)
        a->ca_file = v;
    else if (strcmp(flag, "--kubeconfig-out") == 0)
        a->kubeconfig_out = v;
    else if (strcmp(flag, "--token") == 0 && a->ntokens < MAX_LIST)
        a->tokens[a->ntokens++] = v;
    else if (strcmp(flag, "--audit-log") == 0)
        a->opts.audit_log = v;
    else if (strcmp(flag, "--token-auth-file") == 0)
        a->opts.token_auth_file = v;
    else if (strcmp(flag, "--authorization-mode") == 0 &&
             (strcmp(v, "RBAC") == 0 || strcmp(v, "AlwaysAllow") == 0))
        a->opts.rbac = strcmp(v, "RBAC") == 0;
    else if (strcmp(flag, "--load") == 0 && a->nloads < MAX_LIST)
        a->loads[a->nloads++] = v;
    else
        return -1;
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(argv[i], "--watch-cut-mid-event") == 0) {
            a->opts.faults.watch_cut_mid_event = true;
            continue;
        }
        if (i + 1 >= argc || parse_value_flag(a, argv[i], argv[i + 1]) != 0) {
            fprintf(stderr, "kr-apiserver: bad or incomplete flag \"%s\"\n", argv[i]);
            usage(stderr);
            return -1;
        }
        i++;
    }
    if ((a->cert_file == NULL) != (a->key_file == NULL) || (a->ca_file && !a->cert_file)) {
        fprintf(stderr, "kr-apiserver: --tls-cert and --tls-key go together; --client-ca "
                        "needs them\n");
        return -1;
    }
    a->opts.tokens = a->ntokens ? a->tokens : NULL;
    if ((a->ntokens || a->opts.token_auth_file) && !a->cert_file)
        fprintf(stderr, "kr-apiserver: warning: tokens on plain HTTP: kubectl and client-go "
                        "never send a bearer token over plain HTTP, so their requests arrive "
                        "anonymous and get 401; serve TLS (--tls-cert, --tls-key) and use the "
                        "kubeconfig --kubeconfig-out writes\n");
    return 0;
}

static int load_pem(const char *path, const char **out)
{
    size_t len;
    if (!path)
        return 0;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "kr-apiserver: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    *out = text;
    return 0;
}

static int load_objects(kr_testserver_t *ts, const struct args *a)
{
    for (size_t i = 0; i < a->nloads; i++) {
        size_t len;
        char *text = read_file(a->loads[i], &len);
        if (!text) {
            fprintf(stderr, "kr-apiserver: cannot read %s: %s\n", a->loads[i], strerror(errno));
            return -1;
        }
        kr_error_t err = {0};
        int rc = kr_testserver_load(ts, text, len, &err);
        free(text);
        if (rc != 0) {
            fprintf(stderr, "kr-apiserver: %s: %s\n", a->loads[i], err.message);
            return -1;
        }
    }
    return 0;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int serve(struct args *a)
{
    kr_testserver_t *ts;
    kr_error_t err = {0};
    if (kr_testserver_start(&a->opts, &ts, &err) != 0) {
        fprintf(stderr, "kr-apiserver: %s\n", err.message);
        return 1;
    }
    int status = 0;
    if (load_objects(ts, a) != 0 ||
        (a->kubeconfig_out &&
         kr_testserver_write_kubeconfig(ts, a->kubeconfig_out, NULL, &err) != 0)) {
        if (err.message[0])
            fprintf(stderr, "kr-apiserver: %s\n", err.message);
        status = 1;
    } else {
        printf("%s\n", kr_testserver_url(ts));
        fflush(stdout);
        while (!stop_requested)
            pause();
    }
    kr_testserver_free(ts);
    return status;
}

int main(int argc, char **argv)
{
    struct args a;
    memset(&a, 0, sizeof(a));
    if (parse_args(argc, argv, &a) != 0)
        return 2;
    if (load_pem(a.cert_file, &a.opts.tls_cert_pem) != 0 ||
        load_pem(a.key_file, &a.opts.tls_key_pem) != 0 ||
        load_pem(a.ca_file, &a.opts.client_ca_pem) != 0)
        return 1;
    raise_fd_limit();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = serve(&a);
    free((char *)a.opts.tls_cert_pem);
    free((char *)a.opts.tls_key_pem);
    free((char *)a.opts.client_ca_pem);
    return rc;
}
