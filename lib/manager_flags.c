/* libkreconcile — the command-line conventions every program shares: Go
 * durations, the flag parser (pflag's syntax: "--x v", "--x=v", "-x v",
 * "--" ends the flags, positional arguments anywhere) and the --help text.
 * Pure: never reads the environment, prints only in kr_manager_args_exit
 * and kr_manager_write_usage, to the streams it is given. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "manager_internal.h"
#include "selector_internal.h"

/* ---- Durations ------------------------------------------------------------ */

#define NS_PER_MS 1000000ULL

struct duration_unit {
    const char *name;
    uint64_t ns;
};

/* Go's unitMap; "µs" is U+00B5 and "μs" U+03BC, both accepted as Go does. */
static const struct duration_unit duration_units[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xc2\xb5s", 1000ULL},
    {"\xce\xbcs", 1000ULL},
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

static int duration_error(kr_error_t *err, const char *text, const char *why)
{
    return kr_error_set(err, KR_EPARSE, "time: %s duration \"%s\"", why, text);
}

/* The longest unit name at `s` (Go reads every non-digit, non-'.' byte as
 * the unit, then looks it up). */
static const struct duration_unit *duration_unit_at(const char *s, size_t *len)
{
    size_t n = 0;
    while (s[n] && s[n] != '.' && (s[n] < '0' || s[n] > '9'))
        n++;
    *len = n;
    for (size_t i = 0; i < KR_ARRAY_LEN(duration_units); i++)
        if (strlen(duration_units[i].name) == n && memcmp(duration_units[i].name, s, n) == 0)
            return &duration_units[i];
    return NULL;
}

int kr_duration_parse(const char *text, uint64_t *out_ms, kr_error_t *err)
{
    if (!text || !out_ms)
        return kr_error_set(err, KR_EINVAL, "kr_duration_parse: NULL argument");
    const char *s = text;
    bool negative = *s == '-'; /* refused unless the value is zero ("-0s") */
    if (*s == '-' || *s == '+')
        s++;
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    if (*s == '\0')
        return duration_error(err, text, "invalid");
    /* Go's limit: the total must fit an int64 of nanoseconds. */
    const uint64_t max_ns = (uint64_t)INT64_MAX;
    uint64_t total = 0;
    while (*s) {
        if (*s != '.' && (*s < '0' || *s > '9'))
            return duration_error(err, text, "invalid");
        uint64_t whole = 0;
        bool digits = false, overflow = false;
        while (*s >= '0' && *s <= '9') {
            if (whole > (max_ns - (uint64_t)(*s - '0')) / 10)
                overflow = true;
            else
                whole = whole * 10 + (uint64_t)(*s - '0');
            digits = true;
            s++;
        }
        uint64_t frac = 0;
        double scale = 1;
        if (*s == '.') {
            s++;
            while (*s >= '0' && *s <= '9') {
                /* Digits past what a uint64 holds are dropped, as Go does. */
                if (frac <= (UINT64_MAX - 9) / 10 && scale < 1e18) {
                    frac = frac * 10 + (uint64_t)(*s - '0');
                    scale *= 10;
                }
                digits = true;
                s++;
            }
        }
        if (!digits)
            return duration_error(err, text, "invalid");
        size_t ulen;
        const struct duration_unit *unit = duration_unit_at(s, &ulen);
        if (ulen == 0)
            return kr_error_set(err, KR_EPARSE, "time: missing unit in duration \"%s\"", text);
        if (!unit)
            return kr_error_set(err, KR_EPARSE, "time: unknown unit \"%.*s\" in duration \"%s\"",
                                (int)ulen, s, text);
        s += ulen;
        if (overflow || whole > max_ns / unit->ns)
            return duration_error(err, text, "invalid");
        uint64_t v = whole * unit->ns;
        if (frac > 0) {
            double f = (double)frac * ((double)unit->ns / scale);
            if (f > (double)(max_ns - v))
                return duration_error(err, text, "invalid");
            v += (uint64_t)f;
        }
        if (v > max_ns - total)
            return duration_error(err, text, "invalid");
        total += v;
    }
    if (negative && total != 0)
        return duration_error(err, text, "negative");
    *out_ms = total / NS_PER_MS;
    /* sub-millisecond parts round up, but never past the last whole
     * millisecond Go's maximum holds (so that its text parses back) */
    if (total % NS_PER_MS && *out_ms < (uint64_t)INT64_MAX / NS_PER_MS)
        (*out_ms)++;
    return 0;
}

char *kr_duration_format(uint64_t ms, char *buf, size_t len)
{
    if (!buf || len == 0)
        return buf;
    if (ms == 0) {
        snprintf(buf, len, "0s");
        return buf;
    }
    if (ms < 1000) {
        snprintf(buf, len, "%llums", (unsigned long long)ms);
        return buf;
    }
    unsigned long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60;
    unsigned frac = (unsigned)(ms % 1000);
    char hm[48] = "", fs[8] = "";
    if (h > 0)
        snprintf(hm, sizeof(hm), "%lluh%llum", h, m);
    else if (m > 0)
        snprintf(hm, sizeof(hm), "%llum", m);
    if (frac > 0) {
        snprintf(fs, sizeof(fs), ".%03u", frac);
        size_t n = strlen(fs);
        while (fs[n - 1] == '0')
            fs[--n] = '\0';
    }
    snprintf(buf, len, "%s%llu%ss", hm, s, fs);
    return buf;
}

/* ---- Flags ------------------------------------------------------------------ */

void kr_flag_strings_free(kr_flag_strings *s)
{
    if (!s)
        return;
    kr_free(s->items);
    s->items = NULL;
    s->n = 0;
}

/* The shared flags, described as flags: parsed by the same code as a
 * program's and listed in --help after them. */
enum shared_id {
    SH_KUBECONFIG,
    SH_CONTEXT,
    SH_HUB_NAME,
    SH_QPS,
    SH_BURST,
    SH_REQUEST_TIMEOUT,
    SH_CLUSTER,
    SH_LEADER_ELECT,
    SH_LEASE_NAMESPACE,
    SH_LEASE_NAME,
    SH_LEASE_DURATION,
    SH_RENEW_DEADLINE,
    SH_RETRY_PERIOD,
    SH_LISTEN,
    SH_TLS_CERT_FILE,
    SH_TLS_KEY_FILE,
    SH_LOG_FORMAT,
    SH_VERBOSITY,
    SH_TOKEN_AUTH_FILE,
    SH_TOKEN_REVIEW,
    SH_TOKEN_REVIEW_AUDIENCE,
    SH_AUTHORIZATION_REVIEW,
    SH_HELP,
    SH_VERSION,
    SH_COUNT,
};

struct shared_flag {
    const char *name;
    char shorthand;
    kr_flag_type type;
    unsigned mask; /* KR_MANAGER_FLAGS_*; 0 = every program */
    const char *metavar;
    const char *help;
};

static const struct shared_flag shared_flags[SH_COUNT] = {
    [SH_KUBECONFIG] = {"kubeconfig", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_HUB, "FILE",
                       "kubeconfig of the hub cluster (default: $KUBECONFIG, in-cluster, "
                       "~/.kube/config)"},
    [SH_CONTEXT] = {"context", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_HUB, "NAME",
                    "kubeconfig context of the hub (default: its current-context)"},
    [SH_HUB_NAME] = {"hub-name", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_HUB, "NAME",
                     "the hub's name in the source-cluster label of what is written to "
                     "workload clusters, in keys and logs (default \"hub\"); give each hub its "
                     "own when several write to one workload cluster"},
    [SH_QPS] = {"kube-api-qps", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_HUB, "QPS",
                "requests per second to each apiserver (-1: no limit)"},
    [SH_BURST] = {"kube-api-burst", 0, KR_FLAG_INT, KR_MANAGER_FLAGS_HUB, "N",
                  "requests in a burst to each apiserver"},
    [SH_REQUEST_TIMEOUT] = {"request-timeout", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_HUB, "DURATION",
                            "give up on a request to an apiserver after this long, retries "
                            "included (0: never; watches never time out)"},
    [SH_CLUSTER] = {"cluster", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_CLUSTERS,
                    "NAME=KUBECONFIG[:CONTEXT]",
                    "a workload cluster (repeatable); CONTEXT follows the first ':' (default: "
                    "none)"},
    [SH_LEADER_ELECT] = {"leader-elect", 0, KR_FLAG_BOOL, KR_MANAGER_FLAGS_LEADER, NULL,
                         "run only while holding the leader Lease"},
    [SH_LEASE_NAMESPACE] = {"lease-namespace", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_LEADER, "NS",
                            "namespace of the Lease (default: the hub context's namespace)"},
    [SH_LEASE_NAME] = {"lease-name", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_LEADER, "NAME",
                       "name of the Lease"},
    /* kube-controller-manager's names and defaults */
    [SH_LEASE_DURATION] = {"leader-elect-lease-duration", 0, KR_FLAG_STRING,
                           KR_MANAGER_FLAGS_LEADER, "DURATION",
                           "how long a standby waits before it takes a Lease nobody renews "
                           "(default 15s)"},
    [SH_RENEW_DEADLINE] = {"leader-elect-renew-deadline", 0, KR_FLAG_STRING,
                           KR_MANAGER_FLAGS_LEADER, "DURATION",
                           "how long the leader tries to renew before it stops leading; less "
                           "than the lease duration (default 10s)"},
    [SH_RETRY_PERIOD] = {"leader-elect-retry-period", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_LEADER,
                         "DURATION", "time between tries to take or renew the Lease (default 2s)"},
    [SH_TLS_CERT_FILE] = {"tls-cert-file", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_LISTEN, "FILE",
                          "serve --listen over HTTPS with this certificate (PEM, the chain "
                          "after it); with --tls-private-key-file (default: none, plain HTTP)"},
    [SH_TLS_KEY_FILE] = {"tls-private-key-file", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_LISTEN, "FILE",
                         "the private key of --tls-cert-file (PEM) (default: none)"},
    [SH_LISTEN] = {"listen", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_LISTEN, "ADDR:PORT",
                   "HTTP endpoint for /healthz, /livez, /readyz, /metrics and any API of the "
                   "program (\"0\" disables); the default is loopback only: in a pod, give "
                   "0.0.0.0:PORT for the kubelet's probes"},
    [SH_LOG_FORMAT] = {"log-format", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_LOG, "json|text",
                       "log line format"},
    [SH_VERBOSITY] = {"v", 'v', KR_FLAG_INT, KR_MANAGER_FLAGS_LOG, "LEVEL",
                      "log verbosity: 0 info, 1-3 debug, 4 and more trace"},
    [SH_TOKEN_AUTH_FILE] = {"token-auth-file", 0, KR_FLAG_STRING, KR_MANAGER_FLAGS_AUTH, "FILE",
                            "bearer tokens of the API's callers: token,user,uid,\"group1,group2\""},
    [SH_TOKEN_REVIEW] = {"token-review", 0, KR_FLAG_BOOL, KR_MANAGER_FLAGS_AUTH, NULL,
                         "also authenticate callers by the hub's TokenReview API (the hub "
                         "identity needs create tokenreviews: system:auth-delegator); answers "
                         "cached 10 s"},
    [SH_TOKEN_REVIEW_AUDIENCE] = {"token-review-audience", 0, KR_FLAG_STRINGS,
                                  KR_MANAGER_FLAGS_AUTH, "AUD",
                                  "with --token-review, accept only tokens issued for these "
                                  "audiences (repeatable; default: the hub's own), e.g. kubectl "
                                  "create token NAME --audience AUD"},
    [SH_AUTHORIZATION_REVIEW] = {"authorization-review", 0, KR_FLAG_BOOL, KR_MANAGER_FLAGS_AUTH,
                                 NULL,
                                 "authorize each call by the hub's SubjectAccessReview API: "
                                 "the caller needs the RBAC rights the program names (the hub "
                                 "identity needs create subjectaccessreviews: "
                                 "system:auth-delegator); answers cached 10 s"},
    [SH_HELP] = {"help", 'h', KR_FLAG_BOOL, 0, NULL, "show this help and exit"},
    [SH_VERSION] = {"version", 0, KR_FLAG_BOOL, 0, NULL, "print the version and exit"},
};

static unsigned program_mask(const kr_manager_program *prog)
{
    return prog->shared ? prog->shared : KR_MANAGER_FLAGS_ALL;
}

static bool shared_taken(const kr_manager_program *prog, int id)
{
    unsigned mask = shared_flags[id].mask;
    return mask == 0 || (program_mask(prog) & mask) != 0;
}

/* A slice of an argv string: one value of a repeatable flag. */
struct slice {
    const char *p;
    size_t len;
};

struct slices {
    struct slice *items;
    size_t n, cap;
};

struct parser {
    const kr_manager_program *prog;
    kr_manager_config *cfg;
    kr_error_t *err;
    struct slices *strings; /* one list per program flag (KR_FLAG_STRINGS only) */
    struct slices audiences; /* --token-review-audience */
    bool help, version;
};

static int slices_push(struct slices *s, const char *p, size_t len)
{
    if (kr_array_grow(&s->items, &s->cap, s->n, sizeof(*s->items), 4) != 0)
        return KR_ENOMEM;
    s->items[s->n++] = (struct slice){p, len};
    return 0;
}

/* "a,b,,c": the non-empty parts. */
static int push_split(struct slices *out, const char *value)
{
    for (const char *s = value;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len > 0 && slices_push(out, s, len) != 0)
            return KR_ENOMEM;
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < KR_ARRAY_LEN(yes); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return KR_EINVAL;
}

static int parse_long(const char *v, long *out)
{
    if (*v == '\0')
        return KR_EINVAL;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return KR_EINVAL;
    *out = n;
    return 0;
}

static int bad_value(struct parser *p, const char *dashes, const char *name, const char *value,
                     const char *why)
{
    return kr_error_set(p->err, KR_EINVAL, "invalid argument \"%s\" for \"%s%s\" flag: %s", value,
                        dashes, name, why);
}

/* A cluster name: it prefixes keys ("dc1/ns/name"), labels and logs. */
static bool cluster_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > 63)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

/* NAME=KUBECONFIG[:CONTEXT]. The context follows the FIRST ':' after the
 * '=': kubeconfig paths cannot hold ':' anyway ($KUBECONFIG separates files
 * with it), while context names often do (EKS's
 * "arn:aws:eks:region:account:cluster/name"). */
static int parse_cluster(struct parser *p, const char *value)
{
    kr_manager_config *cfg = p->cfg;
    const char *eq = strchr(value, '=');
    if (!eq)
        return bad_value(p, "--", "cluster", value, "want NAME=KUBECONFIG[:CONTEXT]");
    size_t name_len = (size_t)(eq - value);
    if (!cluster_name_valid(value, name_len))
        return bad_value(p, "--", "cluster", value,
                         "the cluster name must be 1-63 letters, digits, '-', '_' or '.'");
    const char *path = eq + 1;
    const char *colon = strchr(path, ':');
    size_t path_len = colon ? (size_t)(colon - path) : strlen(path);
    if (path_len == 0)
        return bad_value(p, "--", "cluster", value, "no kubeconfig file");
    if (colon && colon[1] == '\0')
        return bad_value(p, "--", "cluster", value, "empty context after ':'");
    /* names that differ in case alone are one name given twice: a reader
     * of keys, logs and placements would take them for one cluster */
    for (size_t i = 0; i < cfg->n_clusters; i++)
        if (strlen(cfg->clusters[i].name) == name_len &&
            strncasecmp(cfg->clusters[i].name, value, name_len) == 0) {
            if (memcmp(cfg->clusters[i].name, value, name_len) == 0)
                return kr_error_set(p->err, KR_EINVAL, "cluster \"%.*s\" given twice",
                                    (int)name_len, value);
            return kr_error_set(p->err, KR_EINVAL,
                                "cluster \"%.*s\" given twice: \"%s\" differs in case alone",
                                (int)name_len, value, cfg->clusters[i].name);
        }
    kr_manager_cluster_arg *grown =
        kr_realloc(cfg->clusters, (cfg->n_clusters + 1) * sizeof(*grown));
    if (!grown)
        return kr_error_set(p->err, KR_ENOMEM, "out of memory");
    cfg->clusters = grown;
    kr_manager_cluster_arg *c = &cfg->clusters[cfg->n_clusters];
    *c = (kr_manager_cluster_arg){kr_strndup(value, name_len), kr_strndup(path, path_len),
                                  colon ? kr_strdup(colon + 1) : NULL};
    cfg->n_clusters++; /* counted even when incomplete, so that config_free frees it */
    if (!c->name || !c->kubeconfig || (colon && !c->context))
        return kr_error_set(p->err, KR_ENOMEM, "out of memory");
    return 0;
}

/* ADDR:PORT, [V6ADDR]:PORT or :PORT; "" and "0" disable the endpoint. */
int kr_manager_listen_split(const char *listen, char *host, size_t host_len, unsigned *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return KR_EINVAL;
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    } else if (memchr(h, ':', hl)) {
        return KR_EINVAL; /* an IPv6 address needs brackets */
    }
    long n;
    if (parse_long(colon + 1, &n) != 0 || n < 0 || n > 65535 || hl >= host_len)
        return KR_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)n;
    return 0;
}

static int parse_listen(struct parser *p, const char *value)
{
    char host[256];
    unsigned port;
    if (strcmp(value, "") != 0 && strcmp(value, "0") != 0 &&
        kr_manager_listen_split(value, host, sizeof(host), &port) != 0)
        return bad_value(p, "--", "listen", value, "want ADDR:PORT");
    p->cfg->listen = value;
    return 0;
}

static int set_shared(struct parser *p, int id, const char *dashes, const char *value)
{
    kr_manager_config *cfg = p->cfg;
    const char *name = shared_flags[id].name;
    bool b;
    long n;
    switch (id) {
    case SH_KUBECONFIG:
        if (*value == '\0')
            return bad_value(p, dashes, name, value, "empty file name");
        cfg->kubeconfig = value;
        return 0;
    case SH_CONTEXT:
        cfg->context = value;
        return 0;
    case SH_HUB_NAME:
        /* a label value, and a name as --cluster takes one */
        if (!kr_label_value_valid(value, strlen(value)) ||
            !cluster_name_valid(value, strlen(value)))
            return bad_value(p, dashes, name, value,
                             "not a label value (1 to 63 letters, digits, '-', '_' or '.', "
                             "starting and ending with a letter or digit)");
        cfg->hub_name = value;
        return 0;
    case SH_QPS: {
        char *end = NULL;
        errno = 0;
        double q = strtod(value, &end);
        if (!end || end == value || *end || errno == ERANGE || q == 0 || !isfinite(q))
            return bad_value(p, dashes, name, value,
                             "want a number of requests per second (-1: no limit)");
        cfg->kube_api_qps = q;
        return 0;
    }
    case SH_BURST:
        if (parse_long(value, &n) != 0 || n < 1 || n > 1000000)
            return bad_value(p, dashes, name, value, "want a number from 1 to 1000000");
        cfg->kube_api_burst = n;
        return 0;
    case SH_REQUEST_TIMEOUT: {
        kr_error_t derr = {0};
        uint64_t ms = 0;
        /* as kubectl's ParseTimeout: a number alone is seconds */
        if (value[0] && strspn(value, "0123456789") == strlen(value) && strlen(value) <= 9)
            ms = strtoull(value, NULL, 10) * 1000;
        else if (kr_duration_parse(value, &ms, &derr) != 0)
            return bad_value(p, dashes, name, value, derr.message);
        cfg->request_timeout_ms = ms;
        cfg->request_timeout_set = true;
        return 0;
    }
    case SH_CLUSTER:
        return parse_cluster(p, value);
    case SH_TOKEN_AUTH_FILE:
        if (*value == '\0')
            return bad_value(p, dashes, name, value, "empty file name");
        cfg->token_auth_file = value;
        return 0;
    case SH_TOKEN_REVIEW_AUDIENCE:
        return push_split(&p->audiences, value) == 0
                   ? 0
                   : kr_error_set(p->err, KR_ENOMEM, "out of memory");
    case SH_LEADER_ELECT:
    case SH_TOKEN_REVIEW:
    case SH_AUTHORIZATION_REVIEW:
    case SH_HELP:
    case SH_VERSION:
        if (parse_bool(value, &b) != 0)
            return bad_value(p, dashes, name, value, "want true or false");
        if (id == SH_LEADER_ELECT)
            cfg->leader_elect = b;
        else if (id == SH_TOKEN_REVIEW)
            cfg->token_review = b;
        else if (id == SH_AUTHORIZATION_REVIEW)
            cfg->authorization_review = b;
        else if (id == SH_HELP)
            p->help = b;
        else
            p->version = b;
        return 0;
    case SH_LEASE_NAMESPACE:
        if (!kr_name_is_dns1123_label(value))
            return bad_value(p, dashes, name, value,
                             "not a namespace (lower case alphanumerics and '-', at most 63)");
        cfg->lease_namespace = value;
        return 0;
    case SH_LEASE_NAME:
        if (!kr_name_is_dns1123_subdomain(value))
            return bad_value(p, dashes, name, value,
                             "not a Lease name (lower case alphanumerics, '-' and '.', at "
                             "most 253)");
        cfg->lease_name = value;
        return 0;
    case SH_LEASE_DURATION:
    case SH_RENEW_DEADLINE:
    case SH_RETRY_PERIOD: {
        kr_error_t derr = {0};
        uint64_t ms = 0;
        if (kr_duration_parse(value, &ms, &derr) != 0)
            return bad_value(p, dashes, name, value, derr.message);
        if (ms == 0)
            return bad_value(p, dashes, name, value, "want a duration above 0");
        if (id == SH_LEASE_DURATION)
            cfg->leader_lease_duration_ms = ms;
        else if (id == SH_RENEW_DEADLINE)
            cfg->leader_renew_deadline_ms = ms;
        else
            cfg->leader_retry_period_ms = ms;
        return 0;
    }
    case SH_LISTEN:
        return parse_listen(p, value);
    case SH_TLS_CERT_FILE:
    case SH_TLS_KEY_FILE:
        if (*value == '\0')
            return bad_value(p, dashes, name, value, "empty file name");
        if (id == SH_TLS_CERT_FILE)
            cfg->tls_cert_file = value;
        else
            cfg->tls_private_key_file = value;
        return 0;
    case SH_LOG_FORMAT:
        if (strcmp(value, "json") == 0)
            cfg->log_format = KR_LOG_FORMAT_JSON;
        else if (strcmp(value, "text") == 0)
            cfg->log_format = KR_LOG_FORMAT_TEXT;
        else
            return bad_value(p, dashes, name, value, "want json or text");
        return 0;
    case SH_VERBOSITY:
        if (parse_long(value, &n) != 0 || n < 0 || n > 100)
            return bad_value(p, dashes, name, value, "want a level from 0 to 100");
        cfg->verbosity = (int)n;
        return 0;
    default:
        return kr_error_set(p->err, KR_EINVAL, "unknown flag: %s%s", dashes, name);
    }
}

static int set_program(struct parser *p, size_t i, const char *dashes, const char *name,
                       const char *value)
{
    const kr_flag *f = &p->prog->flags[i];
    long n;
    uint64_t ms;
    kr_error_t derr = {0};
    switch (f->type) {
    case KR_FLAG_BOOL:
        if (parse_bool(value, f->value) != 0)
            return bad_value(p, dashes, name, value, "want true or false");
        return 0;
    case KR_FLAG_STRING:
        *(const char **)f->value = value;
        return 0;
    case KR_FLAG_STRINGS: {
        int rc = f->split_commas ? push_split(&p->strings[i], value)
                                 : slices_push(&p->strings[i], value, strlen(value));
        return rc == 0 ? 0 : kr_error_set(p->err, KR_ENOMEM, "out of memory");
    }
    case KR_FLAG_INT:
        if (parse_long(value, &n) != 0)
            return bad_value(p, dashes, name, value, "not an integer");
        *(long *)f->value = n;
        return 0;
    case KR_FLAG_DURATION:
        if (kr_duration_parse(value, &ms, &derr) != 0)
            return bad_value(p, dashes, name, value, derr.message);
        *(uint64_t *)f->value = ms;
        return 0;
    }
    return kr_error_set(p->err, KR_EINVAL, "flag %s%s has an unknown type", dashes, name);
}

/* A flag found by name: a shared one (id >= 0) or a program's (index). */
struct found {
    int shared; /* SH_* or -1 */
    size_t index;
    kr_flag_type type;
};

static bool find_flag(const struct parser *p, const char *name, size_t len, char shorthand,
                      struct found *out)
{
    for (size_t i = 0; i < p->prog->n_flags; i++) {
        const kr_flag *f = &p->prog->flags[i];
        bool match = shorthand
                         ? f->shorthand == shorthand
                         : (f->name && strlen(f->name) == len && memcmp(f->name, name, len) == 0);
        if (match) {
            *out = (struct found){-1, i, f->type};
            return true;
        }
    }
    for (int id = 0; id < SH_COUNT; id++) {
        const struct shared_flag *f = &shared_flags[id];
        if (!shared_taken(p->prog, id))
            continue;
        /* "-v" is a shorthand only; "--v" works too, as with klog. */
        bool match = shorthand ? f->shorthand == shorthand
                               : (strlen(f->name) == len && memcmp(f->name, name, len) == 0);
        if (match) {
            *out = (struct found){id, 0, f->type};
            return true;
        }
    }
    return false;
}

static int set_found(struct parser *p, const struct found *f, const char *dashes, const char *name,
                     const char *value)
{
    if (f->shared >= 0)
        return set_shared(p, f->shared, dashes, value);
    return set_program(p, f->index, dashes, name, value);
}

static int push_arg(struct parser *p, char *arg)
{
    kr_manager_config *cfg = p->cfg;
    char **grown = kr_realloc(cfg->args, (cfg->n_args + 2) * sizeof(*grown));
    if (!grown)
        return kr_error_set(p->err, KR_ENOMEM, "out of memory");
    cfg->args = grown;
    cfg->args[cfg->n_args++] = arg;
    cfg->args[cfg->n_args] = NULL;
    return 0;
}

/* One argument starting with '-'. *consumed says whether the next
 * argument was taken as its value. */
static int parse_flag(struct parser *p, char *arg, char *next, bool *consumed)
{
    *consumed = false;
    bool is_long = arg[1] == '-';
    const char *dashes = is_long ? "--" : "-";
    const char *name = arg + (is_long ? 2 : 1);
    const char *eq = strchr(name, '=');
    const char *value = NULL;
    size_t len;
    char shorthand = 0;
    if (is_long) {
        len = eq ? (size_t)(eq - name) : strlen(name);
        if (eq)
            value = eq + 1;
    } else {
        shorthand = name[0];
        len = 1;
        if (name[1] == '=')
            value = name + 2;
        else if (name[1] != '\0')
            value = name + 1; /* "-v3", "-nfoo" */
    }
    char shown[128];
    snprintf(shown, sizeof(shown), "%.*s", (int)(len < 100 ? len : 100), name);
    struct found f;
    if (len == 0 || !find_flag(p, name, len, shorthand, &f))
        return kr_error_set(p->err, KR_EINVAL, "unknown %s: %s%s",
                            is_long ? "flag" : "shorthand flag", dashes, shown);
    if (f.type == KR_FLAG_BOOL) {
        if (!is_long && value && name[1] != '=')
            return kr_error_set(p->err, KR_EINVAL, "unknown shorthand flag: -%s", name);
        return set_found(p, &f, dashes, shown, value ? value : "true");
    }
    if (!value) {
        if (!next)
            return kr_error_set(p->err, KR_EINVAL, "flag needs an argument: %s%s", dashes, shown);
        value = next;
        *consumed = true;
    }
    return set_found(p, &f, dashes, shown, value);
}

/* Turn the collected values of each KR_FLAG_STRINGS flag into one block:
 * the pointer array followed by the strings, so that one kr_free (in
 * kr_flag_strings_free) releases both. */
static int strings_block(const struct slices *s, kr_flag_strings *out)
{
    if (s->n == 0)
        return 0;
    size_t bytes = s->n * sizeof(char *);
    for (size_t k = 0; k < s->n; k++)
        bytes += s->items[k].len + 1;
    char **block = kr_malloc(bytes);
    if (!block)
        return KR_ENOMEM;
    char *text = (char *)(block + s->n);
    for (size_t k = 0; k < s->n; k++) {
        memcpy(text, s->items[k].p, s->items[k].len);
        text[s->items[k].len] = '\0';
        block[k] = text;
        text += s->items[k].len + 1;
    }
    out->items = (const char **)block;
    out->n = s->n;
    return 0;
}

static int finish_strings(struct parser *p)
{
    for (size_t i = 0; i < p->prog->n_flags; i++) {
        const kr_flag *f = &p->prog->flags[i];
        if (f->type == KR_FLAG_STRINGS && strings_block(&p->strings[i], f->value) != 0)
            return kr_error_set(p->err, KR_ENOMEM, "out of memory");
    }
    if (strings_block(&p->audiences, &p->cfg->token_review_audiences) != 0)
        return kr_error_set(p->err, KR_ENOMEM, "out of memory");
    return 0;
}

static int check_program_flags(struct parser *p)
{
    for (size_t i = 0; i < p->prog->n_flags; i++) {
        const kr_flag *f = &p->prog->flags[i];
        if (!f->name || !*f->name || !f->value || (unsigned)f->type > KR_FLAG_DURATION)
            return kr_error_set(p->err, KR_EINVAL, "%s: flag %zu is incomplete",
                                p->prog->name ? p->prog->name : "program", i);
    }
    return 0;
}

static int parse_all(struct parser *p, int argc, char **argv)
{
    int rc = check_program_flags(p);
    if (rc != 0)
        return rc;
    bool flags_done = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (!arg)
            break;
        if (flags_done || arg[0] != '-' || arg[1] == '\0') {
            rc = push_arg(p, arg);
        } else if (strcmp(arg, "--") == 0) {
            flags_done = true;
        } else {
            bool consumed;
            rc = parse_flag(p, arg, i + 1 < argc ? argv[i + 1] : NULL, &consumed);
            if (consumed)
                i++;
        }
        if (rc != 0)
            return rc;
    }
    return finish_strings(p);
}

int kr_manager_parse_args(const kr_manager_program *prog, int argc, char **argv,
                          kr_manager_config *cfg, kr_error_t *err)
{
    if (!cfg)
        return kr_error_set(err, KR_EINVAL, "kr_manager_parse_args: NULL config");
    *cfg = (kr_manager_config){0};
    if (!prog || !prog->name || (prog->n_flags > 0 && !prog->flags) || argc < 0 ||
        (argc > 0 && !argv))
        return kr_error_set(err, KR_EINVAL, "kr_manager_parse_args: invalid program or argv");
    cfg->lease_name = prog->default_lease_name ? prog->default_lease_name : prog->name;
    cfg->listen = prog->default_listen ? prog->default_listen : "127.0.0.1:8080";
    cfg->log_format = KR_LOG_FORMAT_JSON;
    struct parser p = {.prog = prog, .cfg = cfg, .err = err};
    p.strings = kr_calloc(prog->n_flags + 1, sizeof(*p.strings));
    if (!p.strings)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    int rc = parse_all(&p, argc, argv);
    for (size_t i = 0; i < prog->n_flags; i++)
        kr_free(p.strings[i].items);
    kr_free(p.strings);
    kr_free(p.audiences.items);
    if (rc == 0 && p.help)
        return KR_MANAGER_ARGS_HELP;
    if (rc == 0 && p.version)
        return KR_MANAGER_ARGS_VERSION;
    if (rc == 0 && prog->no_args && cfg->n_args > 0) {
        /* as a Kubernetes component's command refuses them */
        char got[256] = "";
        for (size_t i = 0; i < cfg->n_args; i++) {
            size_t used = strlen(got);
            snprintf(got + used, sizeof(got) - used, "%s\"%s\"", i ? " " : "", cfg->args[i]);
        }
        rc = kr_error_set(err, KR_EINVAL, "\"%s\" does not take any arguments, got [%s]",
                          prog->name, got);
    }
    return rc;
}

void kr_manager_config_free(kr_manager_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        kr_free(cfg->clusters[i].name);
        kr_free(cfg->clusters[i].kubeconfig);
        kr_free(cfg->clusters[i].context);
    }
    kr_free(cfg->clusters);
    kr_free(cfg->args);
    kr_flag_strings_free(&cfg->token_review_audiences);
    *cfg = (kr_manager_config){0};
}

/* ---- Usage ------------------------------------------------------------------ */

static const char *type_metavar(kr_flag_type type)
{
    switch (type) {
    case KR_FLAG_STRING:
    case KR_FLAG_STRINGS:
        return "STRING";
    case KR_FLAG_INT:
        return "INT";
    case KR_FLAG_DURATION:
        return "DURATION";
    case KR_FLAG_BOOL:
        break;
    }
    return NULL;
}

/* The default of a program flag as its help shows it; "" when there is
 * none worth showing (false, empty, zero). */
static void flag_default(const kr_flag *f, char *buf, size_t len)
{
    buf[0] = '\0';
    switch (f->type) {
    case KR_FLAG_BOOL:
        if (*(const bool *)f->value)
            snprintf(buf, len, "true");
        break;
    case KR_FLAG_STRING: {
        const char *s = *(const char *const *)f->value;
        if (s && *s)
            snprintf(buf, len, "\"%s\"", s);
        break;
    }
    case KR_FLAG_STRINGS: {
        const kr_flag_strings *s = f->value;
        size_t used = 0;
        for (size_t i = 0; i < s->n && used + 1 < len; i++) {
            int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "[", s->items[i]);
            used = w < 0 ? len : used + (size_t)w;
        }
        if (s->n > 0 && used + 1 < len)
            snprintf(buf + used, len - used, "]");
        break;
    }
    case KR_FLAG_INT:
        if (*(const long *)f->value != 0)
            snprintf(buf, len, "%ld", *(const long *)f->value);
        break;
    case KR_FLAG_DURATION:
        if (*(const uint64_t *)f->value != 0)
            kr_duration_format(*(const uint64_t *)f->value, buf, len);
        break;
    }
}

static void usage_line(FILE *out, char shorthand, const char *name, const char *metavar,
                       const char *help, const char *def)
{
    char left[96];
    if (shorthand && name[0] == shorthand && name[1] == '\0')
        snprintf(left, sizeof(left), "  -%c %s", shorthand, metavar ? metavar : "");
    else if (shorthand)
        snprintf(left, sizeof(left), "  -%c, --%s%s%s", shorthand, name, metavar ? " " : "",
                 metavar ? metavar : "");
    else
        snprintf(left, sizeof(left), "      --%s%s%s", name, metavar ? " " : "",
                 metavar ? metavar : "");
    if (strlen(left) >= 34)
        fprintf(out, "%s\n%34s", left, "");
    else
        fprintf(out, "%-34s", left);
    fprintf(out, "%s", help ? help : "");
    if (def && *def)
        fprintf(out, " (default%s%s)", def[0] == ':' ? "" : " ", def); /* "(default: ...)" */
    fputc('\n', out);
}

void kr_manager_write_usage(const kr_manager_program *prog, FILE *out)
{
    if (!prog || !out)
        return;
    const char *name = prog->name ? prog->name : "program";
    if (prog->summary)
        fprintf(out, "%s - %s\n\n", name, prog->summary);
    fprintf(out, "Usage:\n  %s %s\n", name, prog->usage ? prog->usage : "[flags]");
    if (prog->description)
        fprintf(out, "\n%s\n", prog->description);
    if (prog->n_flags > 0) {
        fprintf(out, "\nFlags:\n");
        for (size_t i = 0; i < prog->n_flags; i++) {
            const kr_flag *f = &prog->flags[i];
            char def[256];
            flag_default(f, def, sizeof(def));
            usage_line(out, f->shorthand, f->name, f->metavar ? f->metavar : type_metavar(f->type),
                       f->help, def);
        }
    }
    fprintf(out, "\nCommon flags:\n");
    for (int id = 0; id < SH_COUNT; id++) {
        const struct shared_flag *f = &shared_flags[id];
        if (!shared_taken(prog, id))
            continue;
        const char *def = NULL;
        char buf[300];
        if (id == SH_LEASE_NAME) {
            snprintf(buf, sizeof(buf), "\"%s\"",
                     prog->default_lease_name ? prog->default_lease_name : name);
            def = buf;
        } else if (id == SH_LISTEN) {
            snprintf(buf, sizeof(buf), "\"%s\"",
                     prog->default_listen ? prog->default_listen : "127.0.0.1:8080");
            def = buf;
        } else if (id == SH_LOG_FORMAT) {
            def = "json";
        } else if (id == SH_VERBOSITY) {
            def = "0";
        } else if (id == SH_REQUEST_TIMEOUT) {
            /* the program's (kr_manager_opts.request_timeout_ms), said as
             * the flag is written */
            def = prog->default_request_timeout_ms
                      ? kr_duration_format(prog->default_request_timeout_ms, buf, sizeof(buf))
                      : "0";
        } else if (id == SH_QPS) {
            if (prog->default_qps != 0)
                snprintf(buf, sizeof(buf), "%g", prog->default_qps);
            else
                snprintf(buf, sizeof(buf), ": the kubeconfig's, else %g", MANAGER_DEFAULT_QPS);
            def = buf;
        } else if (id == SH_BURST) {
            if (prog->default_burst > 0)
                snprintf(buf, sizeof(buf), "%d", prog->default_burst);
            else
                snprintf(buf, sizeof(buf), ": the kubeconfig's, else %d", MANAGER_DEFAULT_BURST);
            def = buf;
        }
        usage_line(out, f->shorthand, f->name, f->metavar, f->help, def);
    }
    fprintf(out, "\nDurations are written as Go does: 90s, 10m, 1h30m, 1.5h, 250ms.\n");
}

int kr_manager_args_exit(const kr_manager_program *prog, int rc, const kr_error_t *err, FILE *out,
                         FILE *errout)
{
    const char *name = prog && prog->name ? prog->name : "program";
    if (rc == KR_MANAGER_ARGS_HELP) {
        kr_manager_write_usage(prog, out);
        fflush(out);
        return 0;
    }
    if (rc == KR_MANAGER_ARGS_VERSION) {
        /* Which program, and which library it runs on: a bug report
         * needs both. */
        if (prog && prog->version)
            fprintf(out, "%s version %s (libkreconcile %s)\n", name, prog->version, kr_version());
        else
            fprintf(out, "%s (libkreconcile %s)\n", name, kr_version());
        fflush(out);
        return 0;
    }
    if (rc == 0)
        return 0;
    const char *msg = err && err->message[0] ? err->message : kr_strerror(rc);
    fprintf(errout, "%s: %s\nRun '%s --help' for usage.\n", name, msg, name);
    fflush(errout);
    return 2;
}
