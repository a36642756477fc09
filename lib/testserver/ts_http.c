/* libkreconcile-testserver — the HTTP transport on libmicrohttpd: epoll
 * worker threads, request bodies (bounded at 3 MiB), client certificate
 * checks, and watch streams as chunked responses whose connections are
 * suspended while they have nothing to send. Holds no server state itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "testserver/ts_internal.h"

#define WATCH_BLOCK 16384

typedef struct conn_ctx {
    kr_buf body;
    bool too_large;
    bool delayed; /* the latency fault was waited out */
    ts_delayed delay;
    ts_kv *query;
    size_t nquery, capquery;
} conn_ctx;

void ts_http_resume(void *conn)
{
    MHD_resume_connection(conn);
}

void ts_http_suspend(void *conn)
{
    MHD_suspend_connection(conn);
}

bool ts_http_peer_closed(void *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    char byte;
    ssize_t n = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    conn_ctx *c = cls;
    if (kr_array_grow(&c->query, &c->capquery, c->nquery, sizeof(*c->query), 8) != 0)
        return MHD_NO;
    ts_kv kv = {kr_strdup(key), kr_strdup(value ? value : "")};
    if (!kv.key || !kv.value) {
        kr_free(kv.key);
        kr_free(kv.value);
        return MHD_NO;
    }
    c->query[c->nquery++] = kv;
    return MHD_YES;
}

static void ctx_free(conn_ctx *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nquery; i++) {
        kr_free(c->query[i].key);
        kr_free(c->query[i].value);
    }
    kr_free(c->query);
    kr_buf_free(&c->body);
    kr_free(c);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    ctx_free(*con_cls);
    *con_cls = NULL;
}

/* The CN of a client certificate that verifies against the client CA. */
/* A verified certificate's O (organization) values: the user's groups, as
 * kube-apiserver's x509 authenticator reads them. */
typedef char ts_cert_org[128];

static void cert_groups(gnutls_x509_crt_t crt, ts_request *req, ts_cert_org *orgs)
{
    for (unsigned i = 0; i < TS_MAX_GROUPS; i++) {
        size_t len = sizeof(orgs[i]);
        if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, i, 0, orgs[i],
                                          &len) != 0)
            break;
        req->cert_groups[req->ncert_groups++] = orgs[i];
    }
}

static void check_client_cert(struct MHD_Connection *conn, ts_request *req, char *cn, size_t cnsize,
                              ts_cert_org *orgs)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return;
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
    if (!certs || n == 0)
        return;
    unsigned status = 0;
    gnutls_x509_crt_t crt;
    if (gnutls_certificate_verify_peers2(s, &status) != 0 || status != 0 ||
        gnutls_x509_crt_init(&crt) != 0) {
        req->cert_invalid = true;
        return;
    }
    size_t len = cnsize;
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len) == 0) {
        req->cert_user = cn;
        cert_groups(crt, req, orgs);
    } else
        req->cert_invalid = true;
    gnutls_x509_crt_deinit(crt);
}

static ssize_t watch_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    long n = ts_watch_read(cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void watch_done(void *cls)
{
    ts_watch_detach(cls);
}

static void body_free(void *cls)
{
    kr_free(cls);
}

/* One `Warning: 299 - "text"` header per line of `warnings`, quoted as
 * kube-apiserver quotes them (backslash before '"' and '\\'). */
static void add_warnings(struct MHD_Response *mr, const char *warnings)
{
    for (const char *p = warnings; p && *p;) {
        size_t n = strcspn(p, "\n");
        kr_buf h = {0};
        kr_buf_append_str(&h, "299 - \"");
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '"' || p[i] == '\\')
                kr_buf_append(&h, "\\", 1);
            kr_buf_append(&h, p + i, 1);
        }
        kr_buf_append_str(&h, "\"");
        if (h.data)
            MHD_add_response_header(mr, "Warning", h.data);
        kr_buf_free(&h);
        p += n;
        p += *p == '\n';
    }
}

static struct MHD_Response *make_response(struct MHD_Connection *conn, ts_response *r)
{
    struct MHD_Response *mr;
    if (r->watch) {
        r->watch->conn = conn;
        mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, WATCH_BLOCK, watch_reader,
                                               r->watch, watch_done);
        if (mr)
            r->watch = NULL; /* owned by the response now */
    } else {
        mr = MHD_create_response_from_buffer_with_free_callback(r->body_len, r->body, body_free);
        if (mr)
            r->body = NULL;
    }
    if (!mr)
        return NULL;
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->audit_id)
        MHD_add_response_header(mr, "Audit-Id", r->audit_id);
    MHD_add_response_header(mr, "Cache-Control", "no-cache, private");
    if (r->nosniff)
        MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (r->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", r->retry_after);
        MHD_add_response_header(mr, "Retry-After", v);
    }
    add_warnings(mr, r->warnings);
    return mr;
}

/* Collects the Impersonate-User, -Uid and (repeatable) -Group and
 * -Extra-KEY headers. */
static enum MHD_Result impersonation_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value)
{
    (void)kind;
    ts_request *req = cls;
    if (!key || !value)
        return MHD_YES;
    if (strcasecmp(key, "Impersonate-User") == 0)
        req->impersonate_user = value;
    else if (strcasecmp(key, "Impersonate-Uid") == 0)
        req->impersonate_uid = value;
    else if (strcasecmp(key, "Impersonate-Group") == 0) {
        if (req->nimpersonate_groups < TS_MAX_GROUPS)
            req->impersonate_groups[req->nimpersonate_groups++] = value;
        else
            req->impersonate_too_many = true;
    } else if (strncasecmp(key, "Impersonate-Extra-", 18) == 0 && key[18]) {
        if (req->nimpersonate_extras < TS_MAX_GROUPS) {
            req->impersonate_extra_keys[req->nimpersonate_extras] = key + 18;
            req->impersonate_extra_values[req->nimpersonate_extras++] = value;
        } else {
            req->impersonate_too_many = true;
        }
    }
    return MHD_YES;
}

/* Each connection's memory: its request's headers and its answer's. */
#define CONN_MEMORY (32 * 1024)
/* Room kept for the answer's other headers when a client's Audit-ID is
 * sent back. */
#define ANSWER_HEADROOM 2048

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* "K: V\r\n" */
    return MHD_YES;
}

/* A client's Audit-ID is sent back whole, as kube-apiserver's is; one
 * whose echo would not fit beside the request's headers in the
 * connection's memory is refused as Go's server refuses headers over its
 * limit, before any handler (no audit event), rather than the connection
 * dropped unanswered. */
static bool audit_id_fits(struct MHD_Connection *conn, const char *url, const char *method,
                          const char *audit_id)
{
    if (!audit_id)
        return true;
    size_t used = strlen(method) + strlen(url) + 16;
    MHD_get_connection_values(conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND, count_header, &used);
    return used + strlen(audit_id) + ANSWER_HEADROOM <= CONN_MEMORY;
}

static enum MHD_Result headers_too_large(struct MHD_Connection *conn)
{
    static const char text[] = "431 Request Header Fields Too Large";
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!mr)
        return MHD_NO;
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(conn, 431, mr);
    MHD_destroy_response(mr);
    return ok;
}

static enum MHD_Result respond(kr_testserver_t *ts, struct MHD_Connection *conn, conn_ctx *c,
                               const char *url, const char *method)
{
    ts_request req = {
        .method = method,
        .path = url,
        .query = c->query,
        .nquery = c->nquery,
        .accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
        .content_type =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .authorization =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .user_agent =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT),
        .body = c->body.data,
        .body_len = c->body.len,
        .body_too_large = c->too_large,
        .audit_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Audit-ID"),
    };
    if (!audit_id_fits(conn, url, method, req.audit_id))
        return headers_too_large(conn);
    char cn[256];
    ts_cert_org orgs[TS_MAX_GROUPS];
    if (ts->ca_pem)
        check_client_cert(conn, &req, cn, sizeof(cn), orgs);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, impersonation_header, &req);
    ts_response r;
    ts_handle(ts, &req, &r);
    struct MHD_Response *mr = make_response(conn, &r);
    ts_response_clear(&r);
    if (!mr)
        return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)r.status, mr);
    MHD_destroy_response(mr);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    kr_testserver_t *ts = cls;
    conn_ctx *c = *con_cls;
    if (!c) {
        c = kr_calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        *con_cls = c;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > TS_MAX_BODY)
            c->too_large = true;
        if (MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, c) < 0)
            return MHD_NO;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (kr_buf_append_capped(&c->body, upload_data, *upload_data_size, TS_MAX_BODY,
                                 &c->too_large) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!c->delayed) {
        c->delayed = true;
        if (ts_delay(ts, &c->delay, conn, url))
            return MHD_YES; /* called again when resumed */
    }
    return respond(ts, conn, c, url, method);
}

static int start_daemon(kr_testserver_t *ts, unsigned flags, struct sockaddr_in *addr)
{
    unsigned threads = ts->opts.threads ? ts->opts.threads : 2;
    struct MHD_OptionItem opts[9];
    size_t n = 0;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, addr};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 0, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, 60000, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY, NULL};
    if (ts->cert_pem) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, ts->key_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, ts->cert_pem};
        if (ts->ca_pem)
            opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, ts->ca_pem};
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    ts->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, ts, MHD_OPTION_ARRAY, opts,
                         MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL, MHD_OPTION_END);
    return ts->daemon ? 0 : -1;
}

int ts_http_start(kr_testserver_t *ts, kr_error_t *err)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (ts->cert_pem) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return kr_error_set(err, KR_EINVAL, "this libmicrohttpd has no TLS support");
        flags |= MHD_USE_TLS;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(ts->opts.port)};
    const char *bind = ts->opts.bind_address ? ts->opts.bind_address : "127.0.0.1";
    if (inet_pton(AF_INET, bind, &addr.sin_addr) != 1)
        return kr_error_set(err, KR_EINVAL, "bind address %s is not an IPv4 address", bind);
    if (start_daemon(ts, flags, &addr) != 0)
        return kr_error_set(err, KR_EIO, "cannot listen on %s:%u", bind, ts->opts.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(ts->daemon, MHD_DAEMON_INFO_BIND_PORT);
    ts->port = di ? di->port : ts->opts.port;
    snprintf(ts->url, sizeof(ts->url), "%s://%s:%u", ts->cert_pem ? "https" : "http", bind,
             ts->port);
    return 0;
}

void ts_http_stop(kr_testserver_t *ts)
{
    if (ts->daemon)
        MHD_stop_daemon(ts->daemon);
    ts->daemon = NULL;
}
