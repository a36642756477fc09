/* libkreconcile-testserver — the public API: start and free a server,
 * options and defaults, faults, compaction and restart. The request
 * handling lives in handler.c and the transport in ts_http.c. */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "testserver/ts_internal.h"

static void apply_defaults(kr_testserver_opts *o)
{
    if (!o->history)
        o->history = 100000;
    if (!o->bookmark_interval_ms)
        o->bookmark_interval_ms = 5000;
    if (!o->watch_timeout_s)
        o->watch_timeout_s = 1800;
    if (!o->watch_buffer_bytes)
        o->watch_buffer_bytes = 8u << 20;
    if (!o->list_snapshots)
        o->list_snapshots = 32;
}

/* The server's certificate and key, read as the TLS layer will read them
 * (PEM) and checked to belong together, so that a wrong file is named as
 * such rather than as a port that cannot be listened on. */
static int no_password(char *buf, int size, int rwflag, void *user)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)user;
    return -1; /* an encrypted key is refused, never asked about on a terminal */
}

static int check_key_pair(const char *cert_pem, const char *key_pem, kr_error_t *err)
{
    BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *cert = cb ? PEM_read_bio_X509(cb, NULL, no_password, NULL) : NULL;
    EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, no_password, NULL) : NULL;
    int rc = 0;
    if (!cb || !kb)
        rc = kr_error_set(err, KR_ENOMEM, "out of memory reading the TLS certificate");
    else if (!cert)
        rc = kr_error_set(err, KR_EINVAL, "the TLS certificate is not a PEM certificate");
    else if (!key)
        rc = kr_error_set(err, KR_EINVAL, "the TLS key is not a PEM private key (or is encrypted)");
    else if (X509_check_private_key(cert, key) != 1)
        rc = kr_error_set(err, KR_EINVAL, "the TLS key does not belong to the certificate");
    ERR_clear_error();
    EVP_PKEY_free(key);
    X509_free(cert);
    BIO_free(kb);
    BIO_free(cb);
    return rc;
}

static int copy_tokens(kr_testserver_t *ts, const char *const *tokens)
{
    size_t n = 0;
    while (tokens && tokens[n])
        n++;
    if (n == 0)
        return 0;
    ts->tokens = kr_calloc(n, sizeof(char *));
    if (!ts->tokens)
        return KR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        ts->tokens[i] = kr_strdup(tokens[i]);
        if (!ts->tokens[i])
            return KR_ENOMEM;
        ts->ntokens++;
    }
    return 0;
}

static int copy_options(kr_testserver_t *ts, const kr_testserver_opts *opts, kr_error_t *err)
{
    if (opts) /* a version 1 struct ends before token_auth_file */
        memcpy(&ts->opts, opts,
               opts->version == 1 ? offsetof(kr_testserver_opts, token_auth_file) : sizeof(*opts));
    apply_defaults(&ts->opts);
    ts->rbac = ts->opts.rbac;
    const char *token_file = ts->opts.token_auth_file;
    ts->opts.token_auth_file = NULL;
    int rc = token_file ? kr_token_file_load(token_file, &ts->token_file, err) : 0;
    if (rc != 0)
        return rc;
    ts->opts.tokens = NULL;
    ts->faults = ts->opts.faults;
    if ((ts->opts.tls_cert_pem == NULL) != (ts->opts.tls_key_pem == NULL))
        return kr_error_set(err, KR_EINVAL, "tls_cert_pem and tls_key_pem go together");
    if (ts->opts.client_ca_pem && !ts->opts.tls_cert_pem)
        return kr_error_set(err, KR_EINVAL, "client_ca_pem needs TLS (tls_cert_pem)");
    if (ts->opts.tls_cert_pem &&
        (rc = check_key_pair(ts->opts.tls_cert_pem, ts->opts.tls_key_pem, err)) != 0)
        return rc;
    ts->cert_pem = ts->opts.tls_cert_pem ? kr_strdup(ts->opts.tls_cert_pem) : NULL;
    ts->key_pem = ts->opts.tls_key_pem ? kr_strdup(ts->opts.tls_key_pem) : NULL;
    ts->ca_pem = ts->opts.client_ca_pem ? kr_strdup(ts->opts.client_ca_pem) : NULL;
    ts->opts.tls_cert_pem = ts->opts.tls_key_pem = ts->opts.client_ca_pem = NULL;
    ts->opts.bind_address = NULL;
    if ((opts && opts->tls_cert_pem && (!ts->cert_pem || !ts->key_pem)) ||
        (opts && opts->client_ca_pem && !ts->ca_pem) ||
        copy_tokens(ts, opts ? opts->tokens : NULL) != 0)
        return kr_error_set(err, KR_ENOMEM, "out of memory copying test server options");
    return 0;
}

static int allocate_state(kr_testserver_t *ts)
{
    ts->ring_cap = ts->opts.history;
    ts->ring = kr_calloc(ts->ring_cap, sizeof(ts_event));
    ts->snap_cap = ts->opts.list_snapshots;
    ts->snapshots = kr_calloc(ts->snap_cap, sizeof(ts_snapshot));
    if (!ts->ring || !ts->snapshots)
        return KR_ENOMEM;
    kr_rng_seed(&ts->rng, ts->opts.seed); /* 0: from the clock */
    return ts_resources_init(ts);
}

/* The objects kube-apiserver's own bootstrap writes besides: the two
 * system PriorityClasses (scheduling's post-start hook) and the mandatory
 * flow-control configuration (API priority and fairness: everything of
 * system:masters exempt, everyone else in catch-all), as 1.32 writes them
 * after defaulting. No queueing follows from them. */
static const char bootstrap_objects[] =
    "[{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
    "\"metadata\":{\"name\":\"system-node-critical\"},\"value\":2000001000,"
    "\"description\":\"Used for system critical pods that must not be moved from their "
    "current node.\",\"preemptionPolicy\":\"PreemptLowerPriority\"},"
    "{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
    "\"metadata\":{\"name\":\"system-cluster-critical\"},\"value\":2000000000,"
    "\"description\":\"Used for system critical pods that must run in the cluster, but can "
    "be moved to another node if necessary.\",\"preemptionPolicy\":\"PreemptLowerPriority\"},"
    "{\"apiVersion\":\"flowcontrol.apiserver.k8s.io/v1\",\"kind\":"
    "\"PriorityLevelConfiguration\",\"metadata\":{\"name\":\"exempt\",\"annotations\":"
    "{\"apf.kubernetes.io/autoupdate-spec\":\"true\"}},\"spec\":{\"type\":\"Exempt\","
    "\"exempt\":{\"nominalConcurrencyShares\":0,\"lendablePercent\":0}}},"
    "{\"apiVersion\":\"flowcontrol.apiserver.k8s.io/v1\",\"kind\":"
    "\"PriorityLevelConfiguration\",\"metadata\":{\"name\":\"catch-all\",\"annotations\":"
    "{\"apf.kubernetes.io/autoupdate-spec\":\"true\"}},\"spec\":{\"type\":\"Limited\","
    "\"limited\":{\"nominalConcurrencyShares\":5,\"lendablePercent\":0,"
    "\"limitResponse\":{\"type\":\"Reject\"}}}},"
    "{\"apiVersion\":\"flowcontrol.apiserver.k8s.io/v1\",\"kind\":\"FlowSchema\","
    "\"metadata\":{\"name\":\"exempt\",\"annotations\":"
    "{\"apf.kubernetes.io/autoupdate-spec\":\"true\"}},\"spec\":{"
    "\"priorityLevelConfiguration\":{\"name\":\"exempt\"},\"matchingPrecedence\":1,"
    "\"rules\":[{\"subjects\":[{\"kind\":\"Group\",\"group\":{\"name\":"
    "\"system:masters\"}}],\"resourceRules\":[{\"verbs\":[\"*\"],\"apiGroups\":[\"*\"],"
    "\"resources\":[\"*\"],\"clusterScope\":true,\"namespaces\":[\"*\"]}],"
    "\"nonResourceRules\":[{\"verbs\":[\"*\"],\"nonResourceURLs\":[\"*\"]}]}]}},"
    "{\"apiVersion\":\"flowcontrol.apiserver.k8s.io/v1\",\"kind\":\"FlowSchema\","
    "\"metadata\":{\"name\":\"catch-all\",\"annotations\":"
    "{\"apf.kubernetes.io/autoupdate-spec\":\"true\"}},\"spec\":{"
    "\"priorityLevelConfiguration\":{\"name\":\"catch-all\"},\"matchingPrecedence\":10000,"
    "\"distinguisherMethod\":{\"type\":\"ByUser\"},"
    "\"rules\":[{\"subjects\":[{\"kind\":\"Group\",\"group\":{\"name\":"
    "\"system:unauthenticated\"}},{\"kind\":\"Group\",\"group\":{\"name\":"
    "\"system:authenticated\"}}],\"resourceRules\":[{\"verbs\":[\"*\"],\"apiGroups\":"
    "[\"*\"],\"resources\":[\"*\"],\"clusterScope\":true,\"namespaces\":[\"*\"]}],"
    "\"nonResourceRules\":[{\"verbs\":[\"*\"],\"nonResourceURLs\":[\"*\"]}]}]}}]";

/* What kube-apiserver makes at start: the four namespaces, the
 * `kubernetes` Service in default (the first address of the service
 * range) with its Endpoints and EndpointSlice, which name the address and
 * port served, the bootstrap objects above, and an APIService for each
 * group version it serves. */
static int create_default_objects(kr_testserver_t *ts)
{
    static const char *const names[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
    for (size_t i = 0; i < KR_ARRAY_LEN(names); i++) {
        char *doc = kr_asprintf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
                                "\"metadata\":{\"name\":\"%s\"}}",
                                names[i]);
        int rc = doc ? kr_testserver_load(ts, doc, strlen(doc), NULL) : KR_ENOMEM;
        kr_free(doc);
        if (rc != 0)
            return rc;
    }
    /* the host of "scheme://host:port", brackets of an IPv6 address dropped */
    const char *host = strstr(ts->url, "://");
    host = host ? host + 3 : ts->url;
    const char *colon = strrchr(host, ':');
    size_t len = colon ? (size_t)(colon - host) : strlen(host);
    if (len >= 2 && host[0] == '[') {
        host++;
        len -= 2;
    }
    char *doc = kr_asprintf(
        "[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"kubernetes\","
        "\"namespace\":\"default\",\"labels\":{\"component\":\"apiserver\",\"provider\":"
        "\"kubernetes\"}},\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"name\":\"https\","
        "\"port\":443,\"protocol\":\"TCP\",\"targetPort\":%u}]}},"
        "{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"kubernetes\","
        "\"namespace\":\"default\",\"labels\":{\"endpointslice.kubernetes.io/skip-mirror\":"
        "\"true\"}},\"subsets\":[{\"addresses\":[{\"ip\":\"%.*s\"}],\"ports\":[{\"name\":"
        "\"https\",\"port\":%u,\"protocol\":\"TCP\"}]}]},"
        "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":"
        "{\"name\":\"kubernetes\",\"namespace\":\"default\",\"labels\":"
        "{\"kubernetes.io/service-name\":\"kubernetes\"}},\"addressType\":\"%s\","
        "\"endpoints\":[{\"addresses\":[\"%.*s\"],\"conditions\":{\"ready\":true}}],"
        "\"ports\":[{\"name\":\"https\",\"port\":%u,\"protocol\":\"TCP\"}]}]",
        (unsigned)ts->port, (int)len, host, (unsigned)ts->port,
        memchr(host, ':', len) ? "IPv6" : "IPv4", (int)len, host, (unsigned)ts->port);
    int rc = doc ? kr_testserver_load(ts, doc, strlen(doc), NULL) : KR_ENOMEM;
    kr_free(doc);
    if (rc == 0)
        rc = kr_testserver_load(ts, bootstrap_objects, sizeof(bootstrap_objects) - 1, NULL);
    if (rc == 0) {
        ts_lock(ts);
        rc = ts_apiservices_bootstrap(ts);
        ts_unlock(ts);
    }
    return rc;
}

int kr_testserver_start(const kr_testserver_opts *opts, kr_testserver_t **out, kr_error_t *err)
{
    *out = NULL;
    if (opts && opts->version > KR_TESTSERVER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "test server: options version %u is newer than %u",
                            opts->version, (unsigned)KR_TESTSERVER_OPTS_VERSION);
    kr_testserver_t *ts = kr_calloc(1, sizeof(*ts));
    if (!ts)
        return kr_error_set(err, KR_ENOMEM, "out of memory creating the test server");
    pthread_mutex_init(&ts->mu, NULL);
    /* Lives as long as the server: watches end (and broadcast it) until the
     * HTTP threads have stopped. */
    kr_cond_init(&ts->watches_cv);
    int rc = copy_options(ts, opts, err);
    if (rc == 0 && opts && opts->audit_log)
        rc = ts_audit_open(ts, opts->audit_log, err);
    if (rc == 0 && allocate_state(ts) != 0)
        rc = kr_error_set(err, KR_ENOMEM, "out of memory creating the test server");
    if (rc == 0) {
        const char *bind = opts && opts->bind_address ? opts->bind_address : NULL;
        ts->opts.bind_address = bind;
        rc = ts_http_start(ts, err);
        ts->opts.bind_address = NULL;
    }
    if (rc == 0 && create_default_objects(ts) != 0)
        rc = kr_error_set(err, KR_ENOMEM, "out of memory creating the default objects");
    /* kube-apiserver's RBAC post-start hook makes them in every
     * authorization mode */
    if (rc == 0 && ts_rbac_bootstrap(ts) != 0)
        rc = kr_error_set(err, KR_ENOMEM, "out of memory creating the bootstrap RBAC policy");
    if (rc == 0 && ts_ticker_start(ts) != 0)
        rc = kr_error_set(err, KR_ENOMEM, "cannot start the watch ticker thread");
    if (rc != 0) {
        kr_testserver_free(ts);
        return rc;
    }
    *out = ts;
    return 0;
}

void kr_testserver_free(kr_testserver_t *ts)
{
    if (!ts)
        return;
    ts_ticker_stop(ts);
    ts_lock(ts);
    ts->stopping = true;
    ts_watch_close_all(ts);
    ts_unlock(ts);
    ts_http_stop(ts);
    ts_audit_close(ts);
    ts_history_free(ts);
    ts_owner_checks_free(ts);
    ts_snapshots_clear(ts);
    kr_free(ts->snapshots);
    ts_resources_free(ts);
    for (size_t i = 0; i < ts->ntokens; i++)
        kr_free(ts->tokens[i]);
    kr_free(ts->tokens);
    kr_token_file_free(ts->token_file);
    ts_issued_free(ts);
    kr_free(ts->cert_pem);
    kr_free(ts->key_pem);
    kr_free(ts->ca_pem);
    pthread_cond_destroy(&ts->watches_cv);
    pthread_mutex_destroy(&ts->mu);
    kr_free(ts);
}

unsigned short kr_testserver_port(const kr_testserver_t *ts)
{
    return ts->port;
}

const char *kr_testserver_url(const kr_testserver_t *ts)
{
    return ts->url;
}

unsigned long long kr_testserver_resource_version(kr_testserver_t *ts)
{
    ts_lock(ts);
    unsigned long long rv = ts->rv;
    ts_unlock(ts);
    return rv;
}

void kr_testserver_set_faults(kr_testserver_t *ts, const kr_testserver_faults *faults)
{
    ts_lock(ts);
    ts->faults = *faults;
    ts_delay_retime(ts);
    ts_unlock(ts);
}

void kr_testserver_close_watches(kr_testserver_t *ts)
{
    ts_lock(ts);
    ts_watch_close_all(ts);
    ts_unlock(ts);
}

void kr_testserver_compact(kr_testserver_t *ts)
{
    ts_lock(ts);
    ts_compact_locked(ts);
    ts_unlock(ts);
}

void kr_testserver_restart(kr_testserver_t *ts)
{
    ts_lock(ts);
    ts_restart_locked(ts);
    ts_unlock(ts);
}

size_t kr_testserver_watch_count(kr_testserver_t *ts)
{
    ts_lock(ts);
    size_t n = ts->nwatches;
    ts_unlock(ts);
    return n;
}

size_t kr_testserver_wait_watch_count(kr_testserver_t *ts, size_t n, unsigned timeout_ms)
{
    struct timespec until;
    kr_deadline_after_ms(&until, timeout_ms);
    ts_lock(ts);
    while (ts->nwatches < n && pthread_cond_timedwait(&ts->watches_cv, &ts->mu, &until) == 0)
        ;
    size_t have = ts->nwatches;
    ts_unlock(ts);
    return have;
}
