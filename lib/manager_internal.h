/* libkreconcile — internals of the program toolkit shared by its files
 * (manager.c, manager_flags.c, manager_log.c, manager_http.c): the
 * --listen syntax and the HTTP endpoint's life. Never installed. */
#ifndef KR_LIB_MANAGER_INTERNAL_H
#define KR_LIB_MANAGER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "kreconcile/manager.h"

/* The clients' rate limit when neither the program, the command line nor
 * the kubeconfig sets one (controller-runtime's up to v0.20). */
#define MANAGER_DEFAULT_QPS 20.0
#define MANAGER_DEFAULT_BURST 30

/* Split ADDR:PORT, [V6ADDR]:PORT or :PORT into `host` (brackets removed;
 * "" for every interface) and *port. 0 or KR_EINVAL. [any thread] */
int kr_manager_listen_split(const char *listen, char *host, size_t host_len, unsigned *port);

/* ---- The HTTP endpoint (manager_http.c) ---------------------------------- */

typedef struct kr_http_server kr_http_server_t;

/* A built-in route (GET /healthz, /readyz, /metrics) or a program's. */
typedef struct kr_http_server_opts {
    const char *listen; /* ADDR:PORT */
    size_t max_body_bytes; /* 0 = 3 MiB */
    kr_logger logger;
    /* PEM text, both or neither: HTTPS only (copied) */
    const char *tls_cert_pem, *tls_key_pem;
} kr_http_server_opts;

/* Create the endpoint: bind and listen on opts->listen now (a busy port
 * fails here), serve only from kr_http_server_start. *out is new.
 * Errors: KR_EINVAL (a bad address), KR_EIO (cannot listen), KR_ENOMEM. */
int kr_http_server_new(const kr_http_server_opts *opts, kr_http_server_t **out, kr_error_t *err);
/* Add a route (see kr_manager_add_guarded_route; `guard` may be NULL).
 * `builtin` routes cannot be replaced, and a program route with their path
 * is refused (KR_EEXIST). Before kr_http_server_start. */
int kr_http_server_route(kr_http_server_t *s, const char *method, const char *path,
                         kr_http_guard_cb guard, void *guard_user, kr_http_handler_cb handler,
                         void *user, bool builtin, kr_error_t *err);
/* Serve the bound socket (libmicrohttpd threads). Errors: KR_EIO. */
int kr_http_server_start(kr_http_server_t *s, kr_error_t *err);
/* The bound address, "127.0.0.1:41234". Borrowed. */
const char *kr_http_server_address(const kr_http_server_t *s);
/* Stop accepting, end open streams (their read is not called again once
 * it returns), close every connection and join the threads. Idempotent. */
void kr_http_server_stop(kr_http_server_t *s);
/* cut(user), if not NULL, is called by the stop when requests are still
 * unanswered after its drain, before their connections are closed (which
 * waits for their handlers). Before kr_http_server_start. NULL s: a
 * no-op. */
void kr_http_server_on_cut(kr_http_server_t *s, void (*cut)(void *user), void *user);
/* Stop and free. NULL is a no-op. */
void kr_http_server_free(kr_http_server_t *s);

#endif /* KR_LIB_MANAGER_INTERNAL_H */
