/* libkreconcile — the HTTP transport: curl's multi interface driven by the
 * runtime's libuv loop (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION bound to
 * uv_poll_t/uv_timer_t), with TLS, credentials, proxy and HTTP/2 set from a
 * kr_rest_config. The only module where curl meets libuv. It never logs a
 * credential and never calls curl from inside a curl callback. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"
#include "runtime_internal.h"

#define MODULE "http"
/* The most a Content-Length reserves up front (bytes); more grows as read. */
#define KR_HTTP_PRESIZE_MAX ((size_t)8 << 20)

/* Shared with credential work running on libuv's thread pool, so that it
 * survives the transport: the provider is detached when the transport goes. */
typedef struct cred_source {
    pthread_mutex_t lock;
    kr_credential_provider *provider; /* NULL once detached */
    kr_credential_provider *owned; /* the token-file provider made here, or NULL */
    atomic_int refs;
    uint64_t generation; /* forced refreshes so far; under lock */
} cred_source;

struct kr_http {
    kr_runtime_t *rt;
    const kr_logger *log;
    CURLM *multi;
    uv_timer_t timer;
    kr_runtime_hook hook;
    bool dead; /* torn down by the stop hook */
    int in_curl; /* > 0 while inside curl_multi_socket_action */
    int dispatching; /* > 0 while in socket_action (curl and the callbacks it led to) */
    bool kick; /* curl asked for a zero timeout while dispatching */
    kr_http_opts opts;
    /* What the config said, copied. */
    char *base_url; /* scheme://host:port/prefix (no trailing '/') */
    char *host; /* host:port, the real one (kr_http_host) */
    bool https;
    char *connect_to;
    char *ca_file, *ca_data, *cert_file, *cert_data, *key_file, *key_data;
    bool insecure;
    char *token, *userpwd, *impersonate, *proxy, *user_agent;
    char *impersonate_uid;
    char **impersonate_groups; /* NULL-terminated copy */
    bool compression;
    cred_source *creds; /* NULL when there is no provider */
    /* Transfers: live ones in a list; canceled/added ones deferred while
     * inside curl. */
    kr_http_xfer *xfers;
    kr_http_xfer *deferred; /* singly linked through next_deferred */
    /* Finished easy handles kept for reuse: curl_easy_init/cleanup per
     * request costs more than curl_easy_reset. */
    CURL *pool[16];
    size_t pool_len;
    /* By socket: its poll handle (NULL where none), kept while curl keeps
     * the connection open (until its close callback), so that a request on
     * a reused connection does not set one up again; and whether curl
     * opened it for a connection through on_open_socket (other sockets,
     * such as its resolver's, are closed without the close callback, so
     * their handles go when curl stops watching them). [loop thread] */
    struct sock_ctx **socks;
    bool *conn_socks;
    size_t socks_cap;
    /* Header lists of requests without a per-request credential, built
     * once per (Accept, Content-Type) and reused: nothing else in them
     * varies. [loop thread] */
    struct header_set {
        char *accept, *content_type;
        struct curl_slist *list;
    } header_sets[8];
    size_t n_header_sets;
};

struct kr_http_xfer {
    kr_http_t *h;
    CURL *easy;
    struct curl_slist *headers; /* owned, or NULL when a shared set is used */
    struct curl_slist *connect_to;
    kr_http_data_cb on_data;
    kr_http_done_cb on_done;
    void *user;
    /* The request, owned (kept to retry after a 401). */
    char *method, *url, *accept, *content_type, *body;
    size_t body_len;
    long timeout_ms, low_speed_time_s;
    bool stream;
    kr_http_response resp;
    int abort_rc;
    bool canceled, in_multi, defer_add, defer_remove, auth_retried, used_provider, force_refresh,
        in_work;
    bool reported; /* opts.on_response was told of this attempt */
    bool stream_warned; /* a stream's warnings were collected for on_data */
    char *cred_token, *cred_cert, *cred_key;
    uint64_t cred_generation; /* the source's generation when they were got */
    int cred_rc;
    char *cred_message;
    cred_source *src;
    uv_work_t work;
    kr_http_xfer *prev, *next, *next_deferred;
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    kr_http_t *h;
    int events; /* UV_READABLE/UV_WRITABLE being polled; 0 when stopped */
    bool idle; /* curl is not watching it (no transfer on the connection) */
} sock_ctx;

const char *kr_http_host(const kr_http_t *h)
{
    return h->host;
}

bool kr_http_have_http2(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    return (v->features & CURL_VERSION_HTTP2) != 0;
}

/* ---- the multi <-> loop glue ------------------------------------------ */

static void process_deferred(kr_http_t *h);
static void check_done(kr_http_t *h);

static void after_curl(kr_http_t *h)
{
    process_deferred(h);
    check_done(h);
}

static void run_curl(kr_http_t *h, curl_socket_t fd, int flags)
{
    int running = 0;
    h->in_curl++;
    CURLMcode mc = curl_multi_socket_action(h->multi, fd, flags, &running);
    h->in_curl--;
    if (mc != CURLM_OK)
        kr_log(h->log, KR_LOG_ERROR, MODULE, "curl_multi_socket_action: %s",
               curl_multi_strerror(mc));
    after_curl(h);
}

/* Transfers started by the callbacks (a request chained on the answer to
 * the previous one) make curl ask for a zero timeout: run it at once rather
 * than on the next turn of the loop, a few times at most so that the loop
 * is never starved (the zero timer stays armed as the fallback). Callbacks
 * still run only from here, never inside kr_http_start. */
static void socket_action(kr_http_t *h, curl_socket_t fd, int flags)
{
    h->dispatching++;
    run_curl(h, fd, flags);
    for (int i = 0; i < 4 && h->kick && !h->dead; i++) {
        h->kick = false;
        run_curl(h, CURL_SOCKET_TIMEOUT, 0);
    }
    h->kick = false;
    h->dispatching--;
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
    sock_ctx *ctx = poll->data;
    if (ctx->idle) {
        /* An idle connection stirred (the server closed it, most likely):
         * curl looks at it when it reuses it; stop polling till then. */
        uv_poll_stop(&ctx->poll);
        ctx->events = 0;
        return;
    }
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    socket_action(ctx->h, ctx->fd, flags);
}

static void on_timeout(uv_timer_t *timer)
{
    kr_http_t *h = timer->data;
    socket_action(h, CURL_SOCKET_TIMEOUT, 0);
}

static void free_sock_ctx(uv_handle_t *handle)
{
    kr_free(handle->data);
}

static sock_ctx *sock_of(kr_http_t *h, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < h->socks_cap ? h->socks[fd] : NULL;
}

/* Stop polling a socket and forget it; before it is closed. */
static void close_sock(kr_http_t *h, sock_ctx *ctx)
{
    h->socks[ctx->fd] = NULL;
    uv_close((uv_handle_t *)&ctx->poll, free_sock_ctx);
}

/* Room in the tables for socket `fd`: 0 or KR_ENOMEM. */
static int grow_socks(kr_http_t *h, curl_socket_t fd)
{
    if ((size_t)fd < h->socks_cap)
        return 0;
    size_t cap = h->socks_cap;
    while (cap <= (size_t)fd)
        cap = cap ? cap * 2 : 64;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    sock_ctx **socks = kr_realloc(h->socks, cap * sizeof(*socks));
    if (!socks)
        return KR_ENOMEM;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    memset(socks + h->socks_cap, 0, (cap - h->socks_cap) * sizeof(*socks));
    h->socks = socks;
    bool *conn = kr_realloc(h->conn_socks, cap * sizeof(*conn));
    if (!conn)
        return KR_ENOMEM; /* socks grew alone: harmless, tried again */
    memset(conn + h->socks_cap, 0, (cap - h->socks_cap) * sizeof(*conn));
    h->conn_socks = conn;
    h->socks_cap = cap;
    return 0;
}

static sock_ctx *new_sock(kr_http_t *h, curl_socket_t fd)
{
    if (fd < 0 || grow_socks(h, fd) != 0)
        return NULL;
    sock_ctx *ctx = kr_calloc(1, sizeof(*ctx));
    if (!ctx)
        return NULL;
    ctx->fd = fd;
    ctx->h = h;
    if (uv_poll_init_socket(kr_runtime_loop(h->rt), &ctx->poll, fd) != 0) {
        kr_free(ctx);
        return NULL;
    }
    ctx->poll.data = ctx;
    h->socks[fd] = ctx;
    return ctx;
}

/* A socket for a connection, as curl makes it, noted as one whose close
 * on_close_socket will see. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *address)
{
    (void)purpose;
    kr_http_t *h = clientp;
    curl_socket_t fd = socket(address->family, address->socktype, address->protocol);
    if (fd >= 0 && grow_socks(h, fd) == 0)
        h->conn_socks[fd] = true;
    return fd;
}

/* curl is done with a connection's socket: it closes it here, after the
 * poll handle lets go of it. */
static int on_close_socket(void *clientp, curl_socket_t fd)
{
    kr_http_t *h = clientp;
    sock_ctx *ctx = sock_of(h, fd);
    if (ctx)
        close_sock(h, ctx);
    if (fd >= 0 && (size_t)fd < h->socks_cap)
        h->conn_socks[fd] = false;
    return close(fd) == 0 ? 0 : 1;
}

/* What curl wants watched. A connection's socket curl stops watching (no
 * transfer on the connection) stays polled for what it was: the next
 * request on the connection mostly wants the same, and restarting a libuv
 * poll costs system calls. on_poll stops it if it stirs while idle. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    kr_http_t *h = userp;
    sock_ctx *ctx = socketp ? socketp : sock_of(h, fd);
    if (what == CURL_POLL_REMOVE) {
        if (ctx && h->conn_socks[fd]) {
            ctx->idle = true;
        } else if (ctx) {
            close_sock(h, ctx);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (!ctx && !(ctx = new_sock(h, fd)))
        return -1;
    if (!socketp)
        curl_multi_assign(h->multi, fd, ctx);
    ctx->idle = false;
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    if (events == ctx->events)
        return 0;
    int rc = uv_poll_start(&ctx->poll, events, on_poll);
    if (rc != 0) {
        kr_log(h->log, KR_LOG_WARN, MODULE, "uv_poll_start: %s", uv_strerror(rc));
        ctx->events = 0;
        return 0;
    }
    ctx->events = events;
    return 0;
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    kr_http_t *h = userp;
    if (timeout_ms < 0) {
        uv_timer_stop(&h->timer);
        return 0;
    }
    if (timeout_ms == 0 && h->dispatching)
        h->kick = true;
    uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- credentials ------------------------------------------------------- */

static void cred_source_unref(cred_source *src)
{
    if (src && atomic_fetch_sub(&src->refs, 1) == 1) {
        if (src->owned)
            src->owned->free(src->owned);
        pthread_mutex_destroy(&src->lock);
        kr_free(src);
    }
}

static void free_creds(kr_http_xfer *x)
{
    if (x->cred_token)
        explicit_bzero(x->cred_token, strlen(x->cred_token));
    if (x->cred_key)
        explicit_bzero(x->cred_key, strlen(x->cred_key));
    kr_free(x->cred_token);
    kr_free(x->cred_cert);
    kr_free(x->cred_key);
    x->cred_token = x->cred_cert = x->cred_key = NULL;
}

static void cred_work(uv_work_t *w)
{
    kr_http_xfer *x = w->data;
    cred_source *src = x->src;
    kr_error_t err = {0};
    pthread_mutex_lock(&src->lock);
    if (!src->provider) {
        x->cred_rc = KR_ESHUTDOWN;
        pthread_mutex_unlock(&src->lock);
        return;
    }
    kr_credential c = {0};
    /* A 401 forces a refresh only when nobody refreshed since this
     * transfer's credential was got: a hundred watches refused together
     * run the plugin once, and then take what it gave (client-go). */
    bool force = x->force_refresh && x->cred_generation == src->generation;
    x->cred_rc = src->provider->get(src->provider, force, &c, &err);
    if (force && x->cred_rc == 0)
        src->generation++;
    x->cred_generation = src->generation;
    if (x->cred_rc == 0) {
        x->cred_token = kr_strdup(c.token);
        x->cred_cert = kr_strdup(c.client_cert_pem);
        x->cred_key = kr_strdup(c.client_key_pem);
        if ((c.token && !x->cred_token) || (c.client_cert_pem && !x->cred_cert) ||
            (c.client_key_pem && !x->cred_key))
            x->cred_rc = KR_ENOMEM;
    } else {
        x->cred_message = kr_strdup(err.message);
    }
    pthread_mutex_unlock(&src->lock);
}

/* ---- transfers --------------------------------------------------------- */

/* Header lines may carry a credential: wiped before they are freed. */
static void free_headers(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l; l = l->next)
        explicit_bzero(l->data, strlen(l->data));
    curl_slist_free_all(list);
}

static void unlink_xfer(kr_http_xfer *x)
{
    kr_http_t *h = x->h;
    if (x->prev)
        x->prev->next = x->next;
    else if (h && h->xfers == x)
        h->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

static void free_xfer(kr_http_xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    free_headers(x->headers);
    curl_slist_free_all(x->connect_to);
    free_creds(x);
    kr_free(x->method);
    kr_free(x->url);
    kr_free(x->accept);
    kr_free(x->content_type);
    kr_free(x->body);
    kr_free(x->cred_message);
    kr_buf_free(&x->resp.body);
    kr_buf_free(&x->resp.warnings);
    cred_source_unref(x->src);
    kr_free(x);
}

static int map_curl_code(kr_http_xfer *x, CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return KR_ETIMEDOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
        return KR_ETLS;
    case CURLE_WRITE_ERROR:
        return x->abort_rc ? x->abort_rc : KR_EIO;
    case CURLE_OUT_OF_MEMORY:
        return KR_ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return KR_EINVAL;
    default:
        return KR_ECONNECT;
    }
}

/* Tell the observer what this attempt got, once (status 0: no answer). */
static void report(kr_http_xfer *x, long status)
{
    kr_http_t *h = x->h;
    if (x->reported || !h || !h->opts.on_response)
        return;
    x->reported = true;
    h->opts.on_response(x->method, status, h->opts.on_response_user);
}

static void finish(kr_http_xfer *x, int rc, const char *message)
{
    kr_http_t *h = x->h;
    report(x, x->resp.status);
    unlink_xfer(x);
    x->h = NULL;
    if (h && !h->dead && x->easy && !x->in_multi && !x->stream &&
        h->pool_len < KR_ARRAY_LEN(h->pool)) {
        /* The handle's buffers are not needed after on_done: the response
         * body was copied into x->resp. */
        h->pool[h->pool_len++] = x->easy;
        x->easy = NULL;
    }
    if (x->on_done)
        x->on_done(x, rc, &x->resp, message ? message : "", x->user);
    free_xfer(x);
}

static int add_to_multi(kr_http_xfer *x);
static void start_cred_work(kr_http_xfer *x);

/* The last response's Warning headers, as libcurl kept them. */
static void collect_warnings(kr_http_xfer *x)
{
    struct curl_header *hdr;
    kr_buf_reset(&x->resp.warnings);
    for (size_t i = 0, amount = 1; i < amount; i++) {
        if (curl_easy_header(x->easy, "Warning", i, CURLH_HEADER, -1, &hdr) != CURLHE_OK)
            break;
        amount = hdr->amount;
        if (kr_buf_printf(&x->resp.warnings, "%s%s", x->resp.warnings.len ? "\n" : "",
                          hdr->value) != 0)
            break; /* warnings lost to memory pressure */
    }
}

/* libcurl answers 0 both for no Retry-After and for one that says "now"
 * (`0`, or a date already past); client-go retries at once on the second,
 * so tell them apart by the header itself. A value neither form reads is
 * no Retry-After. */
static bool retry_after_is_now(CURL *easy)
{
    struct curl_header *hdr = NULL;
    if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &hdr) != CURLHE_OK)
        return false;
    const char *v = hdr->value;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v >= '0' && *v <= '9') {
        while (*v == '0')
            v++;
        while (*v == ' ' || *v == '\t')
            v++;
        return *v == '\0';
    }
    return curl_getdate(v, NULL) >= 0;
}

/* Why a connection failed, as Go's dialer says it (curl's own text for
 * a refused connection is "Couldn't connect to server"): callers tell a
 * server that is not listening from one that cannot be reached. */
static const char *connect_errno_text(kr_http_xfer *x, CURLcode code)
{
    long os_errno = 0;
    if (code != CURLE_COULDNT_CONNECT ||
        curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK)
        return "";
    switch (os_errno) {
    case ECONNREFUSED:
        return " (connect: connection refused)";
    case ENETUNREACH:
        return " (connect: network is unreachable)";
    case EHOSTUNREACH:
        return " (connect: no route to host)";
    case ETIMEDOUT:
        return " (connect: connection timed out)";
    default:
        return "";
    }
}

static void on_transfer_done(kr_http_t *h, kr_http_xfer *x, CURLcode code)
{
    curl_multi_remove_handle(h->multi, x->easy);
    x->in_multi = false;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    long version = 0;
    curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &version);
    x->resp.status = status;
    /* The last response's Content-Type and Retry-After (both forms), as
     * libcurl parsed them; libcurl answers 0 for an absent Retry-After. */
    const char *ctype = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype)
        snprintf(x->resp.content_type, sizeof(x->resp.content_type), "%s", ctype);
    curl_off_t retry_after = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
        retry_after > 0)
        x->resp.retry_after_s = retry_after > 86400 ? 86400 : (int)retry_after;
    else if ((status == 429 || status >= 500) && retry_after_is_now(x->easy))
        x->resp.retry_after_s = 0; /* looked for only where a retry may follow */
    x->resp.http2 = version == CURL_HTTP_VERSION_2_0;
    collect_warnings(x);
    int rc = map_curl_code(x, code);
    /* A 401 with a provider: renew the credential once and try again
     * (client-go re-runs the exec plugin on 401). */
    if (rc == 0 && status == 401 && x->used_provider && !x->auth_retried && h->creds) {
        report(x, status);
        x->reported = false; /* the retry is an attempt of its own */
        x->auth_retried = true;
        x->force_refresh = true;
        kr_log(h->log, KR_LOG_INFO, MODULE, "401 from %s: renewing the credential", x->url);
        kr_buf_reset(&x->resp.body);
        kr_buf_reset(&x->resp.warnings);
        x->resp.status = 0;
        free_creds(x);
        start_cred_work(x);
        return;
    }
    char message[CURL_ERROR_SIZE + 64];
    if (rc != 0)
        snprintf(message, sizeof(message), "%s%s",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(code), connect_errno_text(x, code));
    else
        message[0] = '\0';
    finish(x, rc, message);
}

static void check_done(kr_http_t *h)
{
    CURLMsg *msg;
    int left;
    while (!h->dead && (msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        kr_http_xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode code = msg->data.result;
        if (x)
            on_transfer_done(h, x, code);
    }
}

static void process_deferred(kr_http_t *h)
{
    while (h->deferred) {
        kr_http_xfer *x = h->deferred;
        h->deferred = x->next_deferred;
        x->next_deferred = NULL;
        if (x->defer_remove) {
            if (x->in_multi)
                curl_multi_remove_handle(h->multi, x->easy);
            free_xfer(x);
            continue;
        }
        x->defer_add = false;
        int rc = add_to_multi(x);
        if (rc != 0)
            finish(x, rc, "cannot add the transfer");
    }
}

/* Before the first bytes of a buffered body: room for all of it when the
 * answer says how long it is, so that a body read in many chunks (a LIST
 * page) is not copied again at every doubling. A length is only a hint
 * (compressed bodies grow; a server may lie), hence the cap. */
static void presize_body(kr_http_xfer *x, size_t first, size_t limit)
{
    curl_off_t length = -1;
    if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) != CURLE_OK ||
        length <= (curl_off_t)first)
        return;
    size_t want = (size_t)length;
    if (want > limit)
        want = limit;
    if (want > KR_HTTP_PRESIZE_MAX)
        want = KR_HTTP_PRESIZE_MAX;
    (void)kr_buf_reserve(&x->resp.body, want); /* on failure, append grows it */
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    kr_http_xfer *x = userdata;
    size_t n = size * nmemb;
    if (x->canceled)
        return 0;
    if (x->stream && x->on_data) {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            int rc = x->on_data(x, ptr, n, x->user);
            if (x->canceled)
                return 0;
            if (rc != 0) {
                x->abort_rc = rc;
                return 0;
            }
            return n;
        }
    }
    long limit = x->h && x->h->opts.max_body_bytes ? x->h->opts.max_body_bytes : (1L << 30);
    if (x->resp.body.len + n > (size_t)limit) {
        x->abort_rc = KR_ETOOLARGE;
        return 0;
    }
    if (!x->resp.body.data && n > 0)
        presize_body(x, n, (size_t)limit);
    if (kr_buf_append(&x->resp.body, ptr, n) != 0) {
        x->abort_rc = KR_ENOMEM;
        return 0;
    }
    return n;
}

/* A stream's response headers: the blank line that ends them tells the
 * observer the status at once, not when the stream ends minutes later
 * (client-go counts a watch when its headers come), and a 2xx stream's
 * on_data is called with no bytes, so that its reader hears the headers
 * (warnings) before the first event. 1xx blocks are not the answer. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    kr_http_xfer *x = userdata;
    size_t n = size * nmemb;
    if (x->canceled)
        return 0;
    if (n <= 2 && (n == 0 || ptr[0] == '\r' || ptr[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200)
            report(x, status);
        if (status >= 200 && status < 300 && x->stream && x->on_data) {
            int rc = x->on_data(x, "", 0, x->user);
            if (x->canceled)
                return 0;
            if (rc != 0) {
                x->abort_rc = rc;
                return 0;
            }
        }
    }
    return n;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    char *line = kr_asprintf("%s: %s", name, value);
    if (!line)
        return KR_ENOMEM;
    /* curl_slist_append copies with the C allocator. */
    struct curl_slist *l = curl_slist_append(*list, line);
    explicit_bzero(line, strlen(line));
    kr_free(line);
    if (!l)
        return KR_ENOMEM;
    *list = l;
    return 0;
}

/* The request headers: Accept, Content-Type, no Expect, impersonation,
 * and the bearer token (`token`, only over TLS, as client-go does). */
static int build_headers(const kr_http_t *h, const char *accept, const char *content_type,
                         const char *token, struct curl_slist **out)
{
    struct curl_slist *list = NULL;
    int rc = 0;
    if (accept)
        rc = add_header(&list, "Accept", accept);
    if (rc == 0 && content_type)
        rc = add_header(&list, "Content-Type", content_type);
    /* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
    if (rc == 0) {
        struct curl_slist *l = curl_slist_append(list, "Expect:");
        if (!l)
            rc = KR_ENOMEM;
        else
            list = l;
    }
    if (rc == 0 && h->impersonate)
        rc = add_header(&list, "Impersonate-User", h->impersonate);
    for (size_t i = 0; rc == 0 && h->impersonate_groups && h->impersonate_groups[i]; i++)
        rc = add_header(&list, "Impersonate-Group", h->impersonate_groups[i]);
    if (rc == 0 && h->impersonate_uid)
        rc = add_header(&list, "Impersonate-Uid", h->impersonate_uid);
    if (rc == 0 && h->https && token && *token) {
        char *v = kr_asprintf("Bearer %s", token);
        rc = v ? add_header(&list, "Authorization", v) : KR_ENOMEM;
        if (v) {
            explicit_bzero(v, strlen(v));
            kr_free(v);
        }
    }
    if (rc != 0) {
        free_headers(list);
        return rc;
    }
    *out = list;
    return 0;
}

static char *dup_opt(const char *s, bool *failed);

static bool same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The header list for `x`: the client's shared set for its Accept and
 * Content-Type (built on first use), or, for a request with a credential
 * of its own or when the sets are full, a list of its own (x->headers). */
static int headers_for(kr_http_xfer *x, struct curl_slist **out)
{
    kr_http_t *h = x->h;
    free_headers(x->headers);
    x->headers = NULL;
    if (x->cred_token) {
        int rc = build_headers(h, x->accept, x->content_type, x->cred_token, &x->headers);
        *out = x->headers;
        return rc;
    }
    for (size_t i = 0; i < h->n_header_sets; i++) {
        struct header_set *hs = &h->header_sets[i];
        if (same_string(hs->accept, x->accept) && same_string(hs->content_type, x->content_type)) {
            *out = hs->list;
            return 0;
        }
    }
    struct curl_slist *list = NULL;
    int rc = build_headers(h, x->accept, x->content_type, h->token, &list);
    if (rc != 0)
        return rc;
    if (h->n_header_sets < KR_ARRAY_LEN(h->header_sets)) {
        struct header_set *hs = &h->header_sets[h->n_header_sets];
        bool failed = false;
        hs->accept = dup_opt(x->accept, &failed);
        hs->content_type = dup_opt(x->content_type, &failed);
        if (!failed) {
            hs->list = list;
            h->n_header_sets++;
            *out = list;
            return 0;
        }
        kr_free(hs->accept);
        kr_free(hs->content_type);
        hs->accept = hs->content_type = NULL;
    }
    x->headers = list;
    *out = list;
    return 0;
}

static void free_header_sets(kr_http_t *h)
{
    for (size_t i = 0; i < h->n_header_sets; i++) {
        kr_free(h->header_sets[i].accept);
        kr_free(h->header_sets[i].content_type);
        free_headers(h->header_sets[i].list);
    }
    h->n_header_sets = 0;
}

static void set_blob(CURL *e, CURLoption opt, const char *pem)
{
    struct curl_blob blob = {.data = (void *)pem, .len = strlen(pem), .flags = CURL_BLOB_COPY};
    curl_easy_setopt(e, opt, &blob);
}

static int setup_easy(kr_http_xfer *x)
{
    kr_http_t *h = x->h;
    if (!x->easy && h->pool_len > 0)
        x->easy = h->pool[--h->pool_len];
    if (x->easy) {
        curl_easy_reset(x->easy);
    } else {
        x->easy = curl_easy_init();
        if (!x->easy)
            return KR_ENOMEM;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    if (x->stream) {
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
        /* a proxy's CONNECT answer is not the server's */
        curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, h);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, h);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    switch (h->opts.version) {
    case KR_HTTP_1_1:
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        break;
    case KR_HTTP_2_PRIOR_KNOWLEDGE:
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        break;
    default:
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        /* Wait for a connection that may multiplex rather than open more;
         * only https can negotiate HTTP/2 here. */
        if (h->https)
            curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        break;
    }
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    if (h->compression && !x->stream)
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     h->opts.connect_timeout_ms ? h->opts.connect_timeout_ms : 30000L);
    if (x->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, x->timeout_ms);
    /* Idle watches must stay small (curl allocates this per transfer);
     * big LIST responses read faster in large chunks. A write answers one
     * object: curl's default 16 KiB, as a 64 KiB buffer allocated and freed
     * per transfer makes malloc consolidate its free lists every time. */
    if (x->stream)
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 1024L);
    else if (strcmp(x->method, "GET") == 0)
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 65536L);
    if (x->low_speed_time_s > 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, x->low_speed_time_s);
    }
    if (strcmp(x->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(x->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(x->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
        if (x->body || strcmp(x->method, "DELETE") != 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
        }
    }
    struct curl_slist *headers = NULL;
    int rc = headers_for(x, &headers);
    /* Credentials only over TLS, as client-go does (the token is a header). */
    if (rc == 0 && h->https) {
        const char *token = x->cred_token ? x->cred_token : h->token;
        if ((!token || !*token) && h->userpwd) {
            curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(e, CURLOPT_USERPWD, h->userpwd);
        }
        if (x->cred_cert && x->cred_key) {
            set_blob(e, CURLOPT_SSLCERT_BLOB, x->cred_cert);
            set_blob(e, CURLOPT_SSLKEY_BLOB, x->cred_key);
        } else if (h->cert_data || h->cert_file) {
            if (h->cert_data)
                set_blob(e, CURLOPT_SSLCERT_BLOB, h->cert_data);
            else
                curl_easy_setopt(e, CURLOPT_SSLCERT, h->cert_file);
            curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
            if (h->key_data)
                set_blob(e, CURLOPT_SSLKEY_BLOB, h->key_data);
            else if (h->key_file)
                curl_easy_setopt(e, CURLOPT_SSLKEY, h->key_file);
        }
    }
    if (rc != 0)
        return rc;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    if (h->https) {
        if (h->ca_data)
            set_blob(e, CURLOPT_CAINFO_BLOB, h->ca_data);
        else if (h->ca_file)
            curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
        if (h->insecure) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    if (h->connect_to) {
        curl_slist_free_all(x->connect_to);
        x->connect_to = curl_slist_append(NULL, h->connect_to);
        if (!x->connect_to)
            return KR_ENOMEM;
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, x->connect_to);
    }
    if (h->proxy)
        curl_easy_setopt(e, CURLOPT_PROXY, h->proxy);
    return 0;
}

static int add_to_multi(kr_http_xfer *x)
{
    kr_http_t *h = x->h;
    x->resp.retry_after_s = -1;
    x->resp.content_type[0] = '\0';
    x->errbuf[0] = '\0';
    x->abort_rc = 0;
    int rc = setup_easy(x);
    if (rc != 0)
        return rc;
    if (h->in_curl) {
        x->defer_add = true;
        x->next_deferred = h->deferred;
        h->deferred = x;
        return 0;
    }
    CURLMcode mc = curl_multi_add_handle(h->multi, x->easy);
    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? KR_ENOMEM : KR_EIO;
    x->in_multi = true;
    return 0;
}

static void cred_after(uv_work_t *w, int status)
{
    kr_http_xfer *x = w->data;
    x->in_work = false;
    if (x->canceled) {
        free_xfer(x);
        return;
    }
    if (status == UV_ECANCELED)
        x->cred_rc = KR_ESHUTDOWN;
    if (x->cred_rc != 0) {
        char msg[1100];
        snprintf(msg, sizeof(msg), "credential provider failed: %s",
                 x->cred_message ? x->cred_message : kr_strerror(x->cred_rc));
        finish(x, x->cred_rc, msg);
        return;
    }
    x->used_provider = true;
    int rc = add_to_multi(x);
    if (rc != 0)
        finish(x, rc, "cannot start the transfer");
}

static void start_cred_work(kr_http_xfer *x)
{
    x->in_work = true;
    x->work.data = x;
    x->cred_rc = 0;
    int rc = uv_queue_work(kr_runtime_loop(x->h->rt), &x->work, cred_work, cred_after);
    if (rc != 0) {
        x->in_work = false;
        finish(x, KR_EIO, "cannot queue the credential provider");
    }
}

static char *dup_opt(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *d = kr_strdup(s);
    if (!d)
        *failed = true;
    return d;
}

int kr_http_start(kr_http_t *h, const kr_http_request *req, kr_http_data_cb on_data,
                  kr_http_done_cb on_done, void *user, kr_http_xfer **out, kr_error_t *err)
{
    if (out)
        *out = NULL;
    if (h->dead)
        return kr_error_set(err, KR_ESHUTDOWN, "http: the runtime has stopped");
    if (!req->method || !req->path || req->path[0] != '/')
        return kr_error_set(err, KR_EINVAL, "http: a request needs a method and a path");
    kr_http_xfer *x = kr_calloc(1, sizeof(*x));
    if (!x)
        return kr_error_set(err, KR_ENOMEM, "http: out of memory");
    bool failed = false;
    x->h = h;
    x->on_data = on_data;
    x->on_done = on_done;
    x->user = user;
    x->method = dup_opt(req->method, &failed);
    x->url = kr_asprintf("%s%s", h->base_url, req->path);
    failed |= x->url == NULL;
    x->accept = dup_opt(req->accept, &failed);
    x->content_type = dup_opt(req->content_type, &failed);
    if (req->body) {
        x->body = kr_malloc(req->body_len + 1);
        if (x->body) {
            memcpy(x->body, req->body, req->body_len);
            x->body[req->body_len] = '\0';
        } else {
            failed = true;
        }
        x->body_len = req->body_len;
    }
    x->timeout_ms = req->timeout_ms;
    x->low_speed_time_s = req->low_speed_time_s;
    x->stream = req->stream;
    if (failed) {
        free_xfer(x);
        return kr_error_set(err, KR_ENOMEM, "http: out of memory");
    }
    x->next = h->xfers;
    if (h->xfers)
        h->xfers->prev = x;
    h->xfers = x;
    if (h->creds && h->https) {
        x->src = h->creds;
        atomic_fetch_add(&h->creds->refs, 1);
        start_cred_work(x);
    } else {
        int rc = add_to_multi(x);
        if (rc != 0) {
            unlink_xfer(x);
            free_xfer(x);
            return kr_error_set(err, rc, "http: cannot start %s %s", req->method, req->path);
        }
    }
    if (out)
        *out = x;
    return 0;
}

const char *kr_http_stream_warnings(kr_http_xfer *x)
{
    if (!x->stream_warned) {
        x->stream_warned = true;
        collect_warnings(x);
    }
    return x->resp.warnings.data ? x->resp.warnings.data : "";
}

void kr_http_take_body(kr_http_xfer *x, kr_buf *out)
{
    *out = x->resp.body;
    memset(&x->resp.body, 0, sizeof(x->resp.body));
}

void kr_http_cancel(kr_http_xfer *x)
{
    if (!x || x->canceled)
        return;
    kr_http_t *h = x->h;
    x->canceled = true;
    unlink_xfer(x);
    if (x->in_work)
        return; /* freed by cred_after */
    if (h && h->in_curl) {
        if (x->defer_add) {
            x->defer_add = false;
            x->defer_remove = true; /* already in the deferred list */
            return;
        }
        x->defer_remove = true;
        x->next_deferred = h->deferred;
        h->deferred = x;
        return;
    }
    if (x->in_multi && h)
        curl_multi_remove_handle(h->multi, x->easy);
    if (x->defer_add && h) {
        /* Drop it from the deferred list. */
        kr_http_xfer **p = &h->deferred;
        while (*p && *p != x)
            p = &(*p)->next_deferred;
        if (*p)
            *p = x->next_deferred;
    }
    free_xfer(x);
}

/* ---- life cycle -------------------------------------------------------- */

static void teardown(kr_http_t *h, bool notify)
{
    if (h->dead)
        return;
    h->dead = true;
    kr_runtime_remove_stop_hook(h->rt, &h->hook);
    while (h->deferred) {
        kr_http_xfer *x = h->deferred;
        h->deferred = x->next_deferred;
        if (x->defer_remove) {
            if (x->in_multi)
                curl_multi_remove_handle(h->multi, x->easy);
            free_xfer(x);
        }
    }
    while (h->xfers) {
        kr_http_xfer *x = h->xfers;
        if (x->in_multi)
            curl_multi_remove_handle(h->multi, x->easy);
        x->in_multi = false;
        if (x->in_work) {
            x->canceled = true;
            unlink_xfer(x);
            continue;
        }
        if (notify)
            finish(x, KR_ESHUTDOWN, "the runtime is stopping");
        else {
            unlink_xfer(x);
            free_xfer(x);
        }
    }
    while (h->pool_len > 0)
        curl_easy_cleanup(h->pool[--h->pool_len]);
    curl_multi_cleanup(h->multi);
    h->multi = NULL;
    /* curl closed its sockets through on_close_socket; anything left is
     * let go of here. */
    for (size_t i = 0; i < h->socks_cap; i++)
        if (h->socks[i])
            close_sock(h, h->socks[i]);
    kr_free(h->socks);
    kr_free(h->conn_socks);
    h->socks = NULL;
    h->conn_socks = NULL;
    h->socks_cap = 0;
    if (h->creds) {
        pthread_mutex_lock(&h->creds->lock);
        h->creds->provider = NULL;
        pthread_mutex_unlock(&h->creds->lock);
        cred_source_unref(h->creds);
        h->creds = NULL;
    }
    uv_timer_stop(&h->timer);
}

static void free_strings(kr_http_t *h)
{
    free_header_sets(h);
    if (h->token)
        explicit_bzero(h->token, strlen(h->token));
    if (h->userpwd)
        explicit_bzero(h->userpwd, strlen(h->userpwd));
    if (h->key_data)
        explicit_bzero(h->key_data, strlen(h->key_data));
    kr_free(h->host);
    char *all[] = {h->base_url,    h->connect_to, h->ca_file,   h->ca_data, h->cert_file,
                   h->cert_data,   h->key_file,   h->key_data,  h->token,   h->userpwd,
                   h->impersonate, h->proxy,      h->user_agent};
    for (size_t i = 0; i < KR_ARRAY_LEN(all); i++)
        kr_free(all[i]);
    for (size_t i = 0; h->impersonate_groups && h->impersonate_groups[i]; i++)
        kr_free(h->impersonate_groups[i]);
    kr_free(h->impersonate_groups);
    kr_free(h->impersonate_uid);
}

/* The credential source of a kr_http_new that failed: no transfer holds
 * it yet. */
static void creds_free_unshared(kr_http_t *h)
{
    if (!h->creds)
        return;
    if (h->creds->owned)
        h->creds->owned->free(h->creds->owned);
    pthread_mutex_destroy(&h->creds->lock);
    kr_free(h->creds);
    h->creds = NULL;
}

static void free_after_close(uv_handle_t *handle)
{
    kr_http_t *h = handle->data;
    free_strings(h);
    kr_free(h);
}

static void on_runtime_stop(void *user)
{
    kr_http_t *h = user;
    teardown(h, true);
    uv_close((uv_handle_t *)&h->timer, NULL);
}

void kr_http_free(kr_http_t *h)
{
    if (!h)
        return;
    if (!h->dead) {
        teardown(h, false);
        uv_close((uv_handle_t *)&h->timer, free_after_close);
        return;
    }
    /* The stop hook already closed the timer and the loop has ended. */
    free_strings(h);
    kr_free(h);
}

/* Split the server URL; with tls-server-name, the URL names that host and
 * CONNECT_TO sends the connection to the real one, so that SNI and the
 * certificate check use the configured name. */
static int parse_server(kr_http_t *h, const kr_rest_config *cfg, kr_error_t *err)
{
    if (!cfg->server || !*cfg->server)
        return kr_error_set(err, KR_EINVAL, "http: the config has no server URL");
    CURLU *u = curl_url();
    if (!u)
        return kr_error_set(err, KR_ENOMEM, "http: out of memory");
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    int rc = 0;
    if (curl_url_set(u, CURLUPART_URL, cfg->server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        rc = kr_error_set(err, KR_EINVAL, "http: invalid server URL \"%s\"", cfg->server);
        goto out;
    }
    if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
        rc = kr_error_set(err, KR_EINVAL, "http: server URL \"%s\" is not http or https",
                          cfg->server);
        goto out;
    }
    h->https = strcmp(scheme, "https") == 0;
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    const char *url_host = host;
    if (h->https && cfg->tls_server_name && *cfg->tls_server_name) {
        url_host = cfg->tls_server_name;
        h->connect_to = kr_asprintf("%s:%s:%s:%s", cfg->tls_server_name, port, host, port);
        if (!h->connect_to) {
            rc = kr_error_set(err, KR_ENOMEM, "http: out of memory");
            goto out;
        }
    }
    h->base_url = kr_asprintf("%s://%s:%s%.*s", scheme, url_host, port, (int)plen, path);
    h->host = kr_asprintf("%s:%s", host, port);
    if (!h->base_url || !h->host)
        rc = kr_error_set(err, KR_ENOMEM, "http: out of memory");
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

int kr_http_new(kr_runtime_t *rt, const kr_rest_config *cfg, const kr_http_opts *opts,
                kr_http_t **out, kr_error_t *err)
{
    *out = NULL;
    kr_http_t *h = kr_calloc(1, sizeof(*h));
    if (!h)
        return kr_error_set(err, KR_ENOMEM, "http: out of memory");
    h->rt = rt;
    h->log = kr_runtime_logger(rt);
    if (opts)
        h->opts = *opts;
    int rc = parse_server(h, cfg, err);
    if (rc != 0)
        goto fail;
    bool failed = false;
    h->ca_file = dup_opt(cfg->ca_file, &failed);
    h->ca_data = dup_opt(cfg->ca_data, &failed);
    h->cert_file = dup_opt(cfg->client_cert_file, &failed);
    h->cert_data = dup_opt(cfg->client_cert_data, &failed);
    h->key_file = dup_opt(cfg->client_key_file, &failed);
    h->key_data = dup_opt(cfg->client_key_data, &failed);
    h->token = dup_opt(cfg->bearer_token, &failed);
    h->impersonate = dup_opt(cfg->impersonate_user, &failed);
    h->impersonate_uid = dup_opt(cfg->impersonate_uid, &failed);
    size_t n_groups = 0;
    while (cfg->impersonate_groups && cfg->impersonate_groups[n_groups])
        n_groups++;
    if (n_groups) {
        h->impersonate_groups = kr_calloc(n_groups + 1, sizeof(char *));
        failed |= h->impersonate_groups == NULL;
        for (size_t i = 0; h->impersonate_groups && i < n_groups; i++)
            h->impersonate_groups[i] = dup_opt(cfg->impersonate_groups[i], &failed);
    }
    h->proxy = dup_opt(cfg->proxy_url, &failed);
    if (cfg->username) {
        h->userpwd = kr_asprintf("%s:%s", cfg->username, cfg->password ? cfg->password : "");
        failed |= h->userpwd == NULL;
    }
    h->user_agent = cfg->user_agent ? kr_strdup(cfg->user_agent)
                                    : kr_strdup("libkreconcile/" KR_VERSION_STRING);
    failed |= h->user_agent == NULL;
    h->insecure = cfg->insecure_skip_tls_verify;
    h->compression = !cfg->disable_compression;
    if (failed) {
        rc = kr_error_set(err, KR_ENOMEM, "http: out of memory");
        goto fail;
    }
    /* A bearer token file is read through the cached token-file provider
     * (re-read when it changes, checked once a period or after a 401), on
     * the credential path, never per request on the loop thread. */
    kr_credential_provider *token_file = NULL;
    if (!cfg->credentials && cfg->bearer_token_file && h->https) {
        kr_error_t terr = {0};
        rc = kr_credential_provider_token_file_new(cfg->bearer_token_file, 0, h->log, &token_file,
                                                   &terr);
        if (rc == KR_ENOMEM) {
            kr_error_set(err, KR_ENOMEM, "http: out of memory");
            goto fail;
        }
        if (rc != 0)
            kr_log(h->log, KR_LOG_WARN, MODULE, "%s; using the configured token", terr.message);
    }
    if (cfg->credentials || token_file) {
        h->creds = kr_calloc(1, sizeof(*h->creds));
        if (!h->creds) {
            if (token_file)
                token_file->free(token_file);
            rc = kr_error_set(err, KR_ENOMEM, "http: out of memory");
            goto fail;
        }
        pthread_mutex_init(&h->creds->lock, NULL);
        h->creds->provider = token_file ? token_file : cfg->credentials;
        h->creds->owned = token_file;
        atomic_init(&h->creds->refs, 1);
    }
    if (h->insecure && h->https)
        kr_log(h->log, KR_LOG_WARN, MODULE,
               "TLS certificate verification is disabled for %s (insecure-skip-tls-verify)",
               h->base_url);
    if (!h->https && (cfg->bearer_token || cfg->bearer_token_file || cfg->credentials ||
                      cfg->username || cfg->client_cert_file || cfg->client_cert_data))
        kr_log(h->log, KR_LOG_WARN, MODULE,
               "credentials are configured but %s is not https: none will be sent", h->base_url);
    h->multi = curl_multi_init();
    if (!h->multi) {
        rc = kr_error_set(err, KR_ENOMEM, "http: curl_multi_init failed");
        goto fail;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
    if (h->opts.max_connections > 0)
        curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, h->opts.max_connections);
    /* Keep idle connections for many concurrent requests (watches). */
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 2048L);
    uv_timer_init(kr_runtime_loop(rt), &h->timer);
    h->timer.data = h;
    h->hook.fn = on_runtime_stop;
    h->hook.user = h;
    rc = kr_runtime_add_stop_hook(rt, &h->hook);
    if (rc != 0) {
        kr_error_set(err, rc, "http: the runtime is stopping");
        curl_multi_cleanup(h->multi);
        h->dead = true;
        creds_free_unshared(h);
        uv_close((uv_handle_t *)&h->timer, free_after_close);
        return rc;
    }
    *out = h;
    return 0;
fail:
    creds_free_unshared(h);
    free_strings(h);
    kr_free(h);
    return rc;
}
