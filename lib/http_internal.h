/* libkreconcile — the HTTP transport: curl's multi interface bound to the
 * runtime's libuv loop (the only place where curl meets libuv). It knows how
 * to reach one apiserver (TLS, credentials, proxy, User-Agent) and runs
 * transfers; it knows nothing of Kubernetes semantics. Never installed. */
#ifndef KR_LIB_HTTP_INTERNAL_H
#define KR_LIB_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"
#include "kreconcile/config.h"
#include "kreconcile/runtime.h"

typedef struct kr_http kr_http_t;
typedef struct kr_http_xfer kr_http_xfer;

typedef enum kr_http_version {
    KR_HTTP_DEFAULT = 0, /* HTTP/2 over TLS when offered, else HTTP/1.1 */
    KR_HTTP_1_1 = 1, /* never HTTP/2 */
    KR_HTTP_2_PRIOR_KNOWLEDGE = 2, /* h2c without upgrade (for http:// test servers) */
} kr_http_version;

/* What came back from one transfer attempt: the HTTP status of the
 * response, or 0 when none came (connection refused, timeout before the
 * headers, shutdown). `method` is borrowed for the call. */
typedef void (*kr_http_response_cb)(const char *method, long status, void *user);

typedef struct kr_http_opts {
    kr_http_version version;
    long connect_timeout_ms; /* 0 = 30 s */
    long max_body_bytes; /* buffered responses; 0 = 1 GiB */
    long max_connections; /* per host; 0 = unlimited */
    /* Told once per attempt (a renewed credential's retry after a 401 is an
     * attempt of its own), as soon as the status is known: for a stream
     * when its headers come, otherwise when the transfer ends; never for a
     * canceled transfer that had no answer. NULL = nobody. Runs on the loop
     * thread, possibly inside curl: it must not call into the transport. */
    kr_http_response_cb on_response;
    void *on_response_user;
} kr_http_opts;

/* One request. Strings are borrowed for the duration of kr_http_start. */
typedef struct kr_http_request {
    const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path; /* path and query, starting with '/' */
    const char *accept; /* Accept header or NULL */
    const char *content_type; /* Content-Type of the body, or NULL */
    const char *body;
    size_t body_len;
    long timeout_ms; /* 0 = none */
    bool stream; /* deliver a 2xx body through on_data as it arrives */
    long low_speed_time_s; /* stream: abort when under 1 byte/s for this long; 0 = off */
} kr_http_request;

/* What came back. Borrowed by on_done for the call. */
typedef struct kr_http_response {
    long status; /* HTTP status; 0 when no response */
    char content_type[128]; /* "" when absent */
    int retry_after_s; /* Retry-After in seconds; -1 when absent */
    kr_buf body; /* the body (for streams: only a non-2xx body) */
    kr_buf warnings; /* the Warning headers' values, one per line; empty when none */
    bool http2; /* the response came over HTTP/2 */
} kr_http_response;

/* Receives streamed body bytes of a 2xx stream, first with len 0 when its
 * headers have come (kr_http_stream_warnings). Return 0 to go on, or a
 * negative KR_E* code to abort the transfer with that code. Runs inside
 * curl: it may call kr_http_cancel (deferred) but nothing else of http. */
typedef int (*kr_http_data_cb)(kr_http_xfer *x, const char *data, size_t len, void *user);
/* The end of a transfer: rc 0 when a response was received (any status;
 * see resp->status), or KR_ECONNECT, KR_ETIMEDOUT, KR_ETLS, KR_ETOOLARGE,
 * KR_ESHUTDOWN, KR_EIO, or the code returned by on_data. `message` says what
 * curl said (never a credential). The transfer is freed after it returns. */
typedef void (*kr_http_done_cb)(kr_http_xfer *x, int rc, const kr_http_response *resp,
                                const char *message, void *user);

/* Create a transport for `config` (borrowed: what is needed is copied; the
 * credential provider is borrowed and must outlive the transport). [loop
 * thread, or any thread before the runtime starts] Errors: KR_EINVAL (bad server URL), KR_ENOMEM,
 * KR_EIO. */
int kr_http_new(kr_runtime_t *rt, const kr_rest_config *config, const kr_http_opts *opts,
                kr_http_t **out, kr_error_t *err);
/* Cancel every transfer (without callbacks) and free. [loop thread, or any
 * thread once the runtime has stopped] NULL is a no-op. */
void kr_http_free(kr_http_t *h);

/* Start a transfer; on_done runs exactly once later (never inside this
 * call) unless the transfer is canceled first. *out (may be NULL) is
 * borrowed until on_done/cancel. [loop thread]
 * Errors: KR_ESHUTDOWN, KR_ENOMEM, KR_EINVAL. */
int kr_http_start(kr_http_t *h, const kr_http_request *req, kr_http_data_cb on_data,
                  kr_http_done_cb on_done, void *user, kr_http_xfer **out, kr_error_t *err);
/* Inside on_done: move the buffered response body into *out (new; the
 * caller kr_buf_frees it), leaving the response's body empty, so that it is
 * handed on without a copy. [loop thread] */
void kr_http_take_body(kr_http_xfer *x, kr_buf *out);
/* Inside on_data: the streamed response's Warning header values, one per
 * line ("" when none), read from its headers at the first call (a second
 * call answers the same). [loop thread] */
const char *kr_http_stream_warnings(kr_http_xfer *x);
/* Stop a transfer; its callbacks will not run again. [loop thread] */
void kr_http_cancel(kr_http_xfer *x);

/* The server's host:port as its URL names it (the real host, also with
 * tls-server-name; IPv6 in brackets), for metrics. Borrowed: lives as long
 * as the transport. [any thread] */
const char *kr_http_host(const kr_http_t *h);

/* True when libcurl was built with HTTP/2. [any thread] */
bool kr_http_have_http2(void);

#endif /* KR_LIB_HTTP_INTERNAL_H */
