/* libkreconcile — the manager's HTTP endpoint on libmicrohttpd: a route
 * table (exact paths and "prefix/" + "*", longest match, method filter, JSON
 * 404/405), bounded request bodies (413 beyond, never buffered), and
 * responses built by handlers, streamed ones included. One thread per
 * connection, so that handlers and streams may block briefly without
 * holding up other clients. It never parses HTTP itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "manager_internal.h"

#define DEFAULT_MAX_BODY (3u * 1024 * 1024)
#define STREAM_BLOCK 16384
/* The endpoint's connections: at most this many at once, half of them
 * from one peer, a quarter streams; closed after this many seconds
 * without traffic. */
#define HTTP_MAX_CONNECTIONS 256
#define HTTP_MAX_STREAMS (HTTP_MAX_CONNECTIONS / 4)
#define HTTP_IDLE_TIMEOUT_S 30
/* ... and after this many, until a connection has sent a full request's
 * headers: a connection opened and left silent (or half-sent) holds a
 * place under the limits no longer than this. */
#define HTTP_HEADERS_TIMEOUT_S 10

/* At a stop, the requests being answered are given this long to finish
 * (no new connection is taken from then on): an answer cut off then would leave
 * its caller not knowing whether what it asked for was done. */
#define HTTP_DRAIN_MS 5000

/* A stream whose read says "nothing yet" is asked again after this long
 * (or at once when the server stops). */
#define STREAM_IDLE_MS 100

struct route {
    char *method; /* NULL: any */
    char *path; /* without the trailing '*' for prefixes */
    size_t path_len;
    bool prefix;
    bool builtin;
    kr_http_guard_cb guard; /* NULL: none */
    void *guard_user;
    kr_http_handler_cb handler;
    void *user;
};

struct kr_http_server {
    char host[256];
    unsigned port;
    char address[300];
    size_t max_body;
    kr_logger logger;
    struct route *routes;
    size_t n_routes;
    int fd; /* the listening socket until libmicrohttpd owns it */
    bool ipv6;
    struct MHD_Daemon *daemon;
    atomic_bool stopping;
    pthread_mutex_t lock; /* guards in_flight, and the idle wait of streams */
    pthread_cond_t wake;
    size_t in_flight; /* requests whose headers are in, not yet completed */
    /* handlers and stream reads running now: a request still in flight at
     * the stop's deadline with none running is a client slow to send or
     * read, which the program's cut must not be called for */
    atomic_size_t in_handler;
    atomic_uint streams; /* open streamed responses */
    char *tls_cert, *tls_key; /* PEM, or NULL: plain HTTP */
    /* Called when a stop closes requests still unanswered (NULL: none). */
    void (*cut)(void *user);
    void *cut_user;
};

struct kr_http_request {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body;
    size_t body_len;
    char peer[64];
};

struct header {
    char *name;
    char *value;
    struct header *next;
};

struct kr_http_response {
    kr_http_server_t *server;
    bool answered;
    unsigned status;
    struct MHD_Response *mr;
    struct header *headers; /* added before the answer; applied with it */
};

/* Per connection request: the body read so far, or the guard's refusal
 * (answered once the body, dropped, has been read). */
struct conn_ctx {
    kr_buf body;
    bool too_large;
    bool refused;
    bool refused_early; /* the guard's refusal is queued already */
    kr_http_response_t refusal;
};

/* Per connection, while it is open: whether the request being read has a
 * NUL byte in its path or in a query argument once decoded (a %00). The
 * requests of a connection are read one after the other, and each starts
 * clean (on_uri). */
struct conn_state {
    bool nul;
};

struct stream {
    kr_http_server_t *server;
    kr_http_stream_read_cb read;
    kr_http_stream_done_cb done;
    void *user;
};

/* ---- request accessors ------------------------------------------------------ */

const char *kr_http_request_method(const kr_http_request_t *req)
{
    return req ? req->method : NULL;
}

const char *kr_http_request_path(const kr_http_request_t *req)
{
    return req ? req->path : NULL;
}

const char *kr_http_request_query(const kr_http_request_t *req, const char *name)
{
    if (!req || !name)
        return NULL;
    const char *value = NULL;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      NULL) != MHD_YES)
        return NULL;
    return value ? value : ""; /* "?watch" has no value */
}

struct query_each {
    kr_http_query_cb cb;
    void *user;
};

static enum MHD_Result query_each_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct query_each *q = cls;
    q->cb(key, value ? value : "", q->user);
    return MHD_YES;
}

void kr_http_request_query_each(const kr_http_request_t *req, kr_http_query_cb cb, void *user)
{
    if (!req || !cb)
        return;
    struct query_each q = {cb, user};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_each_one, &q);
}

const char *kr_http_request_header(const kr_http_request_t *req, const char *name)
{
    if (!req || !name)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *kr_http_request_body(const kr_http_request_t *req, size_t *len)
{
    if (len)
        *len = req && req->body ? req->body_len : 0;
    return req && req->body_len > 0 ? req->body : NULL;
}

const char *kr_http_request_peer(const kr_http_request_t *req)
{
    return req ? req->peer : NULL;
}

/* ---- responses ----------------------------------------------------------------- */

static int take_response(kr_http_response_t *resp, int status, struct MHD_Response *mr)
{
    if (!mr)
        return KR_ENOMEM;
    for (struct header *h = resp->headers; h; h = h->next)
        if (MHD_add_response_header(mr, h->name, h->value) != MHD_YES) {
            MHD_destroy_response(mr);
            return KR_EINVAL;
        }
    resp->mr = mr;
    resp->status = (unsigned)status;
    resp->answered = true;
    return 0;
}

static int check_answer(const kr_http_response_t *resp, int status)
{
    if (!resp || status < 100 || status > 999)
        return KR_EINVAL;
    return resp->answered ? KR_ESTATE : 0;
}

int kr_http_respond(kr_http_response_t *resp, int status, const char *content_type,
                    const char *body, size_t len)
{
    int rc = check_answer(resp, status);
    if (rc != 0)
        return rc;
    if (!body)
        len = 0;
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (mr && content_type &&
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
        MHD_destroy_response(mr);
        return KR_ENOMEM;
    }
    return take_response(resp, status, mr);
}

static int buf_dump(const char *data, size_t len, void *user)
{
    return kr_buf_append(user, data, len) == 0 ? 0 : -1;
}

int kr_http_respond_json(kr_http_response_t *resp, int status, const json_t *body)
{
    if (!body)
        return KR_EINVAL;
    kr_buf b = {0};
    if (json_dump_callback(body, buf_dump, &b, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        kr_buf_free(&b);
        return KR_ENOMEM;
    }
    int rc = kr_http_respond(resp, status, "application/json", b.data, b.len);
    kr_buf_free(&b);
    return rc;
}

static int respond_error_text(kr_http_response_t *resp, int status, const char *message)
{
    json_t *o = json_pack("{s:s, s:i}", "error", message, "code", status);
    if (!o) { /* invalid UTF-8 in the message */
        o = json_pack("{s:s, s:i}", "error", "(message is not valid UTF-8)", "code", status);
        if (!o)
            return KR_ENOMEM;
    }
    int rc = kr_http_respond_json(resp, status, o);
    json_decref(o);
    return rc;
}

int kr_http_respond_error(kr_http_response_t *resp, int status, const char *fmt, ...)
{
    char message[1024] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
    }
    return respond_error_text(resp, status, message);
}

int kr_http_respond_header(kr_http_response_t *resp, const char *name, const char *value)
{
    if (!resp || !name || !*name || !value || strpbrk(name, ":\r\n") || strpbrk(value, "\r\n"))
        return KR_EINVAL;
    if (resp->answered)
        return MHD_add_response_header(resp->mr, name, value) == MHD_YES ? 0 : KR_ENOMEM;
    struct header *h = kr_calloc(1, sizeof(*h));
    if (!h)
        return KR_ENOMEM;
    h->name = kr_strdup(name);
    h->value = kr_strdup(value);
    if (!h->name || !h->value) {
        kr_free(h->name);
        kr_free(h->value);
        kr_free(h);
        return KR_ENOMEM;
    }
    struct header **tail = &resp->headers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
    return 0;
}

static void stream_wait_idle(kr_http_server_t *s)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += STREAM_IDLE_MS * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->stopping))
        pthread_cond_timedwait(&s->wake, &s->lock, &deadline);
    pthread_mutex_unlock(&s->lock);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *st = cls;
    if (atomic_load(&st->server->stopping))
        return MHD_CONTENT_READER_END_OF_STREAM;
    atomic_fetch_add(&st->server->in_handler, 1);
    long n = st->read(buf, max, st->user);
    atomic_fetch_sub(&st->server->in_handler, 1);
    if (n < 0 || atomic_load(&st->server->stopping))
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == 0)
        stream_wait_idle(st->server); /* MHD asks again at once: do not spin */
    return (ssize_t)(n > (long)max ? (long)max : n);
}

static void stream_free(void *cls)
{
    struct stream *st = cls;
    if (st->done)
        st->done(st->user);
    atomic_fetch_sub(&st->server->streams, 1);
    kr_free(st);
}

int kr_http_respond_stream(kr_http_response_t *resp, int status, const char *content_type,
                           kr_http_stream_read_cb read, kr_http_stream_done_cb done, void *user)
{
    int rc = check_answer(resp, status);
    if (rc != 0 || !read)
        return rc != 0 ? rc : KR_EINVAL;
    /* Streams never idle, so they would hold their connections for good:
     * past a quarter of them the next waits, and probes and short calls
     * always find room. */
    if (atomic_fetch_add(&resp->server->streams, 1) >= HTTP_MAX_STREAMS) {
        atomic_fetch_sub(&resp->server->streams, 1);
        rc = kr_http_respond_error(resp, 503,
                                   "%u streams are open, the most this endpoint serves "
                                   "at once: try again later",
                                   (unsigned)HTTP_MAX_STREAMS);
        if (rc == 0)
            rc = kr_http_respond_header(resp, "Retry-After", "5");
        return rc == 0 ? KR_EUNAVAILABLE : rc;
    }
    struct stream *st = kr_calloc(1, sizeof(*st));
    if (!st) {
        atomic_fetch_sub(&resp->server->streams, 1);
        return KR_ENOMEM;
    }
    *st = (struct stream){resp->server, read, NULL, user};
    struct MHD_Response *mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                stream_reader, st, stream_free);
    if (!mr) {
        kr_free(st);
        atomic_fetch_sub(&resp->server->streams, 1);
        return KR_ENOMEM;
    }
    st->done = done; /* from now on the response owns the stream */
    if ((content_type &&
         MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) ||
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES) {
        MHD_destroy_response(mr);
        return KR_ENOMEM;
    }
    return take_response(resp, status, mr);
}

static void response_clear(kr_http_response_t *resp)
{
    while (resp->headers) {
        struct header *h = resp->headers;
        resp->headers = h->next;
        kr_free(h->name);
        kr_free(h->value);
        kr_free(h);
    }
    if (resp->mr)
        MHD_destroy_response(resp->mr);
    resp->mr = NULL;
}

/* ---- routing -------------------------------------------------------------------- */

static bool method_matches(const struct route *r, const char *method)
{
    if (!r->method)
        return true;
    if (strcmp(r->method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
}

/* How well `r` matches `path`: 0 not at all; longer is better, an exact
 * route beating a prefix of the same length. */
static size_t path_score(const struct route *r, const char *path)
{
    if (!r->prefix)
        return strcmp(r->path, path) == 0 ? 2 * r->path_len + 2 : 0;
    return strncmp(r->path, path, r->path_len) == 0 ? 2 * r->path_len + 1 : 0;
}

/* The best route for (method, path), or NULL with *path_known telling 405
 * from 404 (Go's ServeMux does the same) and `allow` listing the methods. */
static const struct route *route_find(const kr_http_server_t *s, const char *method,
                                      const char *path, bool *path_known, char *allow,
                                      size_t allow_len)
{
    const struct route *best = NULL;
    size_t best_score = 0;
    *path_known = false;
    allow[0] = '\0';
    for (size_t i = 0; i < s->n_routes; i++) {
        const struct route *r = &s->routes[i];
        size_t score = path_score(r, path);
        if (score == 0)
            continue;
        *path_known = true;
        if (!method_matches(r, method)) {
            size_t used = strlen(allow);
            if (r->method && !strstr(allow, r->method))
                snprintf(allow + used, allow_len - used, "%s%s", used ? ", " : "", r->method);
            continue;
        }
        if (score > best_score) {
            best = r;
            best_score = score;
        }
    }
    return best;
}

static bool path_valid(const char *path)
{
    return path && path[0] == '/' && !strpbrk(path, "?# \r\n");
}

int kr_http_server_route(kr_http_server_t *s, const char *method, const char *path,
                         kr_http_guard_cb guard, void *guard_user, kr_http_handler_cb handler,
                         void *user, bool builtin, kr_error_t *err)
{
    if (!s || !handler || !path_valid(path))
        return kr_error_set(err, KR_EINVAL, "route: a path starting with '/' and a handler");
    if (s->daemon)
        return kr_error_set(err, KR_ESTATE, "route %s: add routes before the manager runs", path);
    size_t len = strlen(path);
    bool prefix = len >= 2 && path[len - 1] == '*' && path[len - 2] == '/';
    if (!prefix && strchr(path, '*'))
        return kr_error_set(err, KR_EINVAL, "route %s: '*' only as the last segment, after '/'",
                            path);
    if (prefix)
        len--;
    if (method && (!*method || strpbrk(method, " /\r\n")))
        return kr_error_set(err, KR_EINVAL, "route %s: invalid method", path);
    for (size_t i = 0; i < s->n_routes; i++) {
        const struct route *r = &s->routes[i];
        /* below a built-in prefix ("/readyz/" and its checks) is built in too */
        if (r->builtin && r->prefix && !builtin && len >= r->path_len &&
            memcmp(r->path, path, r->path_len) == 0)
            return kr_error_set(err, KR_EEXIST, "route %s %s: already taken (built in)",
                                method ? method : "*", path);
        if (r->prefix != prefix || r->path_len != len || memcmp(r->path, path, len) != 0)
            continue;
        bool same_method = !r->method || !method || strcmp(r->method, method) == 0;
        if (r->builtin || same_method)
            return kr_error_set(err, KR_EEXIST, "route %s %s: already taken%s",
                                method ? method : "*", path, r->builtin ? " (built in)" : "");
    }
    struct route *grown = kr_realloc(s->routes, (s->n_routes + 1) * sizeof(*grown));
    if (!grown)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    s->routes = grown;
    struct route r = {.method = method ? kr_strdup(method) : NULL,
                      .path = kr_strndup(path, len),
                      .path_len = len,
                      .prefix = prefix,
                      .builtin = builtin,
                      .guard = guard,
                      .guard_user = guard_user,
                      .handler = handler,
                      .user = user};
    if (!r.path || (method && !r.method)) {
        kr_free(r.method);
        kr_free(r.path);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    s->routes[s->n_routes++] = r;
    return 0;
}

/* ---- libmicrohttpd glue ------------------------------------------------------------ */

static void peer_text(struct MHD_Connection *conn, char *buf, size_t len)
{
    buf[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    socklen_t alen = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                            : sizeof(struct sockaddr_in);
    if (getnameinfo(ci->client_addr, alen, buf, (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0)
        buf[0] = '\0';
}

static enum MHD_Result queue(struct MHD_Connection *conn, kr_http_response_t *resp)
{
    enum MHD_Result ok = MHD_queue_response(conn, resp->status, resp->mr);
    response_clear(resp);
    return ok;
}

static enum MHD_Result queue_error(kr_http_server_t *s, struct MHD_Connection *conn, int status,
                                   const char *message)
{
    kr_http_response_t resp = {.server = s};
    if (respond_error_text(&resp, status, message) != 0) {
        response_clear(&resp);
        return MHD_NO;
    }
    return queue(conn, &resp);
}

static enum MHD_Result dispatch(kr_http_server_t *s, struct MHD_Connection *conn, const char *url,
                                const char *method, struct conn_ctx *c)
{
    bool path_known;
    char allow[128];
    const struct route *r = route_find(s, method, url, &path_known, allow, sizeof(allow));
    kr_http_response_t resp = {.server = s};
    if (!r && path_known) {
        if (allow[0])
            kr_http_respond_header(&resp, "Allow", allow);
        kr_http_respond_error(&resp, 405, "method %s not allowed on %s", method, url);
    } else if (!r) {
        kr_http_respond_error(&resp, 404, "no route for %s", url);
    } else {
        kr_http_request_t req = {.conn = conn,
                                 .method = method,
                                 .path = url,
                                 .body = c->body.data,
                                 .body_len = c->body.len};
        peer_text(conn, req.peer, sizeof(req.peer));
        atomic_fetch_add(&s->in_handler, 1);
        r->handler(&req, &resp, r->user);
        atomic_fetch_sub(&s->in_handler, 1);
        if (!resp.answered)
            kr_http_respond_error(&resp, 500, "the handler of %s gave no answer", url);
    }
    if (!resp.answered) {
        response_clear(&resp);
        return MHD_NO;
    }
    kr_log(&s->logger, KR_LOG_DEBUG, "http", "%s %s %u", method, url, resp.status);
    return queue(conn, &resp);
}

/* c->refusal is the answer: at once to a client waiting for "100
 * Continue" (it never sends the body), else once the body has been read
 * and dropped. */
static enum MHD_Result refuse(struct MHD_Connection *conn, struct conn_ctx *c)
{
    const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        c->refused_early = true;
        return queue(conn, &c->refusal);
    }
    c->refused = true;
    return MHD_YES;
}

/* The headers are in: the route's guard, if any, decides now; a refusal
 * is answered as refuse() says. */
static enum MHD_Result guard(kr_http_server_t *s, struct MHD_Connection *conn, const char *url,
                             const char *method, struct conn_ctx *c)
{
    bool path_known;
    char allow[128];
    const struct route *r = route_find(s, method, url, &path_known, allow, sizeof(allow));
    if (!r || !r->guard)
        return MHD_YES; /* 404, 405 and unguarded routes: after the body, as always */
    kr_http_request_t req = {.conn = conn, .method = method, .path = url};
    peer_text(conn, req.peer, sizeof(req.peer));
    c->refusal = (kr_http_response_t){.server = s};
    if (r->guard(&req, &c->refusal, r->guard_user)) {
        response_clear(&c->refusal);
        return MHD_YES;
    }
    if (!c->refusal.answered &&
        kr_http_respond_error(&c->refusal, 500, "the guard of %s refused with no answer", url) !=
            0) {
        response_clear(&c->refusal);
        return MHD_NO;
    }
    kr_log(&s->logger, KR_LOG_DEBUG, "http", "%s %s %u (before the body)", method, url,
           c->refusal.status);
    return refuse(conn, c);
}

static struct conn_state *conn_state(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = kr_calloc(1, sizeof(struct conn_state)); /* NULL: refused in on_request */
        /* the idle timeout until the first request's headers are in */
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)HTTP_HEADERS_TIMEOUT_S);
        return;
    }
    kr_free(*socket_context);
    *socket_context = NULL;
}

/* Called once per request, as its request line is read and before any of
 * it is decoded: the connection's next request starts clean. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)uri;
    struct conn_state *st = conn_state(conn);
    if (st)
        st->nul = false;
    return NULL; /* *con_cls stays NULL until on_request */
}

/* libmicrohttpd decodes the path, and each query argument's name and
 * value, here; a %00 becomes a NUL byte, which would cut the C string the
 * handlers see short ("apps%00zzz" read as "apps"). Noted for on_request
 * to refuse the request. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *text)
{
    (void)cls;
    size_t len = MHD_http_unescape(text);
    if (memchr(text, '\0', len)) {
        struct conn_state *st = conn_state(conn);
        if (st)
            st->nul = true;
    }
    return len;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    kr_http_server_t *s = cls;
    struct conn_ctx *c = *con_cls;
    if (!c) {
        /* a full request's headers are in: the connection idles as long
         * as any other from now on */
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)HTTP_IDLE_TIMEOUT_S);
        c = kr_calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        *con_cls = c;
        pthread_mutex_lock(&s->lock);
        s->in_flight++;
        pthread_mutex_unlock(&s->lock);
        struct conn_state *st = conn_state(conn);
        if (!st)
            return MHD_NO; /* out of memory when the connection came */
        /* Before anything sees the path or the query: one of them was cut
         * short at a NUL byte. */
        if (st->nul) {
            c->refusal = (kr_http_response_t){.server = s};
            if (respond_error_text(&c->refusal, 400,
                                   "the request's path or query holds an escaped NUL byte (%00)") !=
                0) {
                response_clear(&c->refusal);
                return MHD_NO;
            }
            kr_log(&s->logger, KR_LOG_DEBUG, "http", "%s %s... 400 (a NUL byte in the request)",
                   method, url);
            return refuse(conn, c);
        }
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        c->too_large = cl && strtoull(cl, NULL, 10) > s->max_body;
        /* Then the guard, as kube-apiserver authenticates before it
         * reads a body: an unauthenticated caller learns nothing of the
         * limit. A refusal to a client waiting for "100 Continue" is
         * queued by the guard. */
        enum MHD_Result r = guard(s, conn, url, method, c);
        if (r != MHD_YES || c->refused || c->refused_early || !c->too_large)
            return r;
        /* A client waiting for "100 Continue" gets the 413 instead and
         * never sends the body. Others are sending it already: it is read
         * and dropped (closing at once would reset the connection under
         * the client before it reads the answer). */
        const char *expect =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        if (expect && strcasecmp(expect, "100-continue") == 0)
            return queue_error(s, conn, 413, "request body over the endpoint's limit");
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* a chunked body past the limit, or one the guard refused: read,
         * never kept */
        if (!c->refused && kr_buf_append_capped(&c->body, upload_data, *upload_data_size,
                                                s->max_body, &c->too_large) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->refused) {
        c->refused = false;
        return queue(conn, &c->refusal);
    }
    if (c->too_large)
        return queue_error(s, conn, 413, "request body over the endpoint's limit");
    return dispatch(s, conn, url, method, c);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    kr_http_server_t *s = cls;
    (void)conn;
    (void)toe;
    struct conn_ctx *c = *con_cls;
    if (c) {
        kr_buf_free(&c->body);
        if (c->refused)
            response_clear(&c->refusal);
        kr_free(c);
        pthread_mutex_lock(&s->lock);
        s->in_flight--;
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->lock);
    }
    *con_cls = NULL;
}

/* libmicrohttpd's messages end in a line break of their own: a log line
 * (a JSON "msg" above all) holds the text alone. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    kr_http_server_t *s = cls;
    char message[1024];
    vsnprintf(message, sizeof(message), fmt, ap);
    size_t len = strlen(message);
    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == '\r'))
        message[--len] = '\0';
    kr_log(&s->logger, KR_LOG_WARN, "http", "%s", message);
}

/* ---- life ------------------------------------------------------------------------------ */

/* Bind and listen now (so that a busy port fails early); libmicrohttpd
 * serves the socket from kr_http_server_start. */
static int bind_listener(kr_http_server_t *s, kr_error_t *err)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", s->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(s->host[0] ? s->host : NULL, port, &hints, &ai);
    if (gai != 0 || !ai)
        return kr_error_set(err, KR_EINVAL, "invalid --listen address \"%s\": %s", s->host,
                            gai_strerror(gai));
    /* Prefer IPv4 for the wildcard, as most listeners do. */
    struct addrinfo *pick = ai;
    for (struct addrinfo *a = ai; a && !s->host[0]; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    s->ipv6 = pick->ai_family == AF_INET6;
    int fd = socket(pick->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, pick->ai_addr, pick->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return kr_error_set(err, KR_EIO, "cannot listen on %s:%u: %s", s->host[0] ? s->host : "*",
                            s->port, strerror(e));
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[128] = "";
    unsigned bound = s->port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char serv[16];
        if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0)
            bound = (unsigned)atoi(serv);
    }
    snprintf(s->address, sizeof(s->address), s->ipv6 ? "[%s]:%u" : "%s:%u", host, bound);
    s->fd = fd;
    return 0;
}

static void free_tls(kr_http_server_t *s)
{
    if (s->tls_key)
        OPENSSL_cleanse(s->tls_key, strlen(s->tls_key));
    kr_free(s->tls_key);
    kr_free(s->tls_cert);
    s->tls_key = s->tls_cert = NULL;
}

int kr_http_server_new(const kr_http_server_opts *opts, kr_http_server_t **out, kr_error_t *err)
{
    if (!opts || !opts->listen || !out)
        return kr_error_set(err, KR_EINVAL, "http: no listen address");
    kr_http_server_t *s = kr_calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    s->fd = -1;
    if (kr_manager_listen_split(opts->listen, s->host, sizeof(s->host), &s->port) != 0) {
        kr_free(s);
        return kr_error_set(err, KR_EINVAL, "invalid --listen \"%s\": want ADDR:PORT",
                            opts->listen);
    }
    s->max_body = opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BODY;
    s->logger = opts->logger;
    if (opts->tls_cert_pem && opts->tls_key_pem) {
        s->tls_cert = kr_strdup(opts->tls_cert_pem);
        s->tls_key = kr_strdup(opts->tls_key_pem);
        if (!s->tls_cert || !s->tls_key) {
            kr_free(s->tls_cert);
            kr_free(s->tls_key);
            kr_free(s);
            return kr_error_set(err, KR_ENOMEM, "out of memory");
        }
    }
    int rc = bind_listener(s, err);
    if (rc != 0) {
        free_tls(s);
        kr_free(s);
        return rc;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    *out = s;
    return 0;
}

int kr_http_server_start(kr_http_server_t *s, kr_error_t *err)
{
    if (s->daemon || s->fd < 0)
        return kr_error_set(err, KR_ESTATE, "http: already started or stopped");
    /* MHD_USE_ITC: the stop quiesces the daemon (stops accepting) before
     * it waits for the requests being answered */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (s->ipv6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}};
    if (s->tls_cert) {
        flags |= MHD_USE_TLS;
        tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
        tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
        tls[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    }
    s->daemon =
        /* The logger first: libmicrohttpd prints to stderr about any option
         * it meets before it (and the library never prints). */
        /* One peer holds at most half the connections, so that idle
         * connections from one address (a client that leaks them, or
         * means to) leave room for the kubelet's probes and everyone else;
         * and a connection that sends or receives nothing for 30 s is
         * closed (event streams send a keep-alive every 15 s), 10 s until
         * its first request's headers are in (on_connection, on_request). */
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                         s, MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                         (unsigned)(HTTP_MAX_CONNECTIONS / 2), MHD_OPTION_NOTIFY_COMPLETED,
                         request_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                         MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_UNESCAPE_CALLBACK,
                         unescape, NULL, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!s->daemon)
        return kr_error_set(err, KR_EIO, "cannot serve %s on %s%s", s->tls_cert ? "HTTPS" : "HTTP",
                            s->address,
                            s->tls_cert ? " (is the key the certificate's, both PEM?)" : "");
    s->fd = -1; /* closed by MHD_stop_daemon */
    return 0;
}

const char *kr_http_server_address(const kr_http_server_t *s)
{
    return s ? s->address : "";
}

void kr_http_server_stop(kr_http_server_t *s)
{
    if (!s)
        return;
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (!s->daemon)
        return;
    /* No new connection; the requests being answered finish (streams end
     * at once: they see `stopping`), within HTTP_DRAIN_MS, before the
     * connections are closed. */
    MHD_socket listening = MHD_quiesce_daemon(s->daemon);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += HTTP_DRAIN_MS / 1000;
    deadline.tv_nsec += (long)(HTTP_DRAIN_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->wake);
    while (s->in_flight > 0 && pthread_cond_timedwait(&s->wake, &s->lock, &deadline) == 0)
        ;
    size_t cut = s->in_flight;
    pthread_mutex_unlock(&s->lock);
    if (cut > 0)
        kr_log(&s->logger, KR_LOG_WARN, "http",
               "%zu request(s) still unanswered %d ms into the stop: closing them", cut,
               HTTP_DRAIN_MS);
    /* closing them joins their handlers: one blocked in a call that can
     * be cut short (a stalled database) is cut first; a request whose
     * client is slow to send or read runs no handler, and cuts nothing */
    if (cut > 0 && atomic_load(&s->in_handler) > 0 && s->cut)
        s->cut(s->cut_user);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (listening != MHD_INVALID_SOCKET)
        close(listening); /* handed back by the quiesce: ours once the daemon stopped */
}

void kr_http_server_on_cut(kr_http_server_t *s, void (*cut)(void *user), void *user)
{
    if (!s)
        return;
    s->cut = cut;
    s->cut_user = user;
}

void kr_http_server_free(kr_http_server_t *s)
{
    if (!s)
        return;
    kr_http_server_stop(s);
    for (size_t i = 0; i < s->n_routes; i++) {
        kr_free(s->routes[i].method);
        kr_free(s->routes[i].path);
    }
    kr_free(s->routes);
    if (s->fd >= 0)
        close(s->fd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free_tls(s);
    kr_free(s);
}
