/* libkreconcile-testserver — an in-memory Kubernetes API server for tests,
 * embeddable in a test program (start on port 0, read the port, stop).
 * Never linked by production programs; not part of the umbrella header.
 * Link with -lkreconcile-testserver -lkreconcile and libmicrohttpd, GnuTLS.
 *
 * The server runs its own threads (libmicrohttpd's epoll threads and one
 * ticker for watch timeouts and bookmarks); every function below may be
 * called from any thread unless it says otherwise.
 *
 * What it serves: discovery (aggregated and legacy), /version, health,
 * OpenAPI v3 and v2 with the schemas of the built-in kinds and custom
 * resources; the built-in kinds and CustomResourceDefinitions; GET, LIST
 * (limit/continue over snapshots, selectors, resourceVersion rules),
 * WATCH (resume from history, bookmarks, timeouts, sendInitialEvents,
 * selector transitions), POST, PUT, PATCH (merge, JSON, strategic;
 * server-side apply), DELETE (finalizers, preconditions, ownerReference
 * cascade), deletecollection, /status, /scale, dryRun=All; Tables and
 * metadata-only answers; protobuf request bodies; unknown fields pruned
 * and custom resources defaulted and validated against their structural
 * schemas, as fieldValidation asks; RBAC when asked; every failure is the
 * apiserver's Status.
 *
 * Where it differs from a real apiserver (docs/k8s-api-wire.md §9):
 * custom resources' CEL rules are not evaluated; no controllers run but the
 * garbage collector's and the namespace controller's work, done at once
 * (an object naming an absent owner: about 200 ms later); no grace periods
 * (objects without finalizers go at once); a list with an RV newer than
 * the server's answers 504 at once. Test admin endpoints live under /_kr/. */
#ifndef KRECONCILE_TESTSERVER_H
#define KRECONCILE_TESTSERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_testserver kr_testserver_t;

/* Faults a test can inject; the zero value injects none. */
typedef struct kr_testserver_faults {
    double fail_429; /* fraction [0,1] of requests answered 429 + Retry-After: 1 */
    double fail_500; /* fraction answered 500 InternalError */
    double fail_503; /* fraction answered 503 ServiceUnavailable */
    unsigned latency_ms; /* waited before any request but /_kr/ is handled; holds no thread */
    unsigned watch_max_events; /* close each watch after this many events (0 = never) */
    bool watch_cut_mid_event; /* when closing after watch_max_events, cut the stream at a
                                 random byte inside the next event instead */
    double fail_500_after_write; /* fraction of writes (create, update, patch, delete) done
                                    and then answered 500 InternalError: an answer lost
                                    after the server did the write */
} kr_testserver_faults;

/* Options; zero means the default. Strings are borrowed for the call. */
typedef struct kr_testserver_opts {
    unsigned version; /* KR_TESTSERVER_OPTS_VERSION (0 is taken as 1) */
    const char *bind_address; /* default "127.0.0.1" */
    unsigned short port; /* 0 = any free port */
    const char *tls_cert_pem; /* PEM text; with tls_key_pem serves https */
    const char *tls_key_pem;
    const char *client_ca_pem; /* PEM; accept client certificates signed by it */
    const char *const *tokens; /* NULL-terminated bearer tokens; NULL = no token auth.
                                  "token:user" gives the token a user name; one
                                  without is kubernetes-admin in system:masters,
                                  as a cluster's admin kubeconfig is. */
    size_t history; /* watch events kept for resumption (default 100000) */
    unsigned bookmark_interval_ms; /* quiet time before a BOOKMARK (default 5000) */
    unsigned watch_timeout_s; /* default watch length without timeoutSeconds (1800) */
    size_t watch_buffer_bytes; /* per-watch backlog before it is closed (default 8 MiB) */
    size_t list_snapshots; /* LIST snapshots kept for continue tokens (default 32) */
    unsigned threads; /* HTTP threads (default 2) */
    kr_testserver_faults faults; /* initial faults */
    unsigned long long seed; /* for generateName and faults; 0 = from the clock */
    kr_logger logger;
    /* Append one audit.k8s.io/v1 Event per request (JSON lines, level
     * Metadata, as kube-apiserver's log backend) to this file; NULL: none.
     * Borrowed for the call to kr_testserver_start. */
    const char *audit_log;
    /* Since version 2. */
    /* Users from a file in kube-apiserver's static token format
     * (token,user,uid,"group1,group2"; kreconcile/tokenfile.h), beside
     * `tokens`; NULL: none. Read by kr_testserver_start. */
    const char *token_auth_file;
    /* Authorize every request as kube-apiserver's --authorization-mode=RBAC
     * does: by the Roles, ClusterRoles and their bindings stored in the
     * server, with kube-apiserver's bootstrap roles and bindings created at
     * start and the group system:masters allowed everything (a token of
     * `tokens` without a user is in it). false: every authenticated request is allowed (but for a
     * token's verb list). */
    bool rbac;
} kr_testserver_opts;
/* The archive is static, so a caller always compiles against this header:
 * version 0 (a zero-initialised struct) is taken as the current version. */
#define KR_TESTSERVER_OPTS_VERSION 2
/* clang-format off */
#define KR_TESTSERVER_OPTS_INIT {.version = KR_TESTSERVER_OPTS_VERSION}
/* clang-format on */

/* Create a server and start listening. *out is new: stop and free it with
 * kr_testserver_free(). Errors: KR_EINVAL (bad options, TLS not supported
 * by this libmicrohttpd), KR_EIO (cannot bind), KR_ENOTFOUND, KR_EIO or
 * KR_EPARSE (the token file), KR_ENOMEM. */
KR_API int kr_testserver_start(const kr_testserver_opts *opts, kr_testserver_t **out,
                               kr_error_t *err);

/* Stop serving (open watches end) and free everything. NULL is a no-op.
 * Must not be called from a callback of the server. */
KR_API void kr_testserver_free(kr_testserver_t *ts);

/* The port the server listens on. */
KR_API unsigned short kr_testserver_port(const kr_testserver_t *ts);

/* The base URL, e.g. "https://127.0.0.1:41234". Borrowed; valid until free. */
KR_API const char *kr_testserver_url(const kr_testserver_t *ts);

/* Write a kubeconfig for this server to `path`: its URL, the CA to trust
 * (the server certificate itself, when TLS), the first token (of `tokens`,
 * else of the token file), and context
 * "kr-testserver" with namespace `namespace` (NULL = "default").
 * Errors: KR_EIO. */
KR_API int kr_testserver_write_kubeconfig(const kr_testserver_t *ts, const char *path,
                                          const char *namespace_name, kr_error_t *err);

/* Create the objects of `text` (`len` bytes): one JSON object, a JSON
 * array or List of objects, or YAML documents separated by "---" (YAML
 * needs the library's YAML reader). Objects go through the same admission
 * as a POST (namespaces must exist, created earlier in the same text is
 * fine). Errors: KR_EPARSE, KR_EEXIST, KR_ENOTFOUND, KR_EINVALIDOBJ,
 * with the Status message in `err`. */
KR_API int kr_testserver_load(kr_testserver_t *ts, const char *text, size_t len, kr_error_t *err);

/* Create `count` objects under one lock, with the admission of a POST but
 * without HTTP or parsing (for loading 100k objects fast). The objects are
 * borrowed; their namespaces must exist. Stops at the first failure
 * (earlier objects stay). Errors as _load. */
KR_API int kr_testserver_load_bulk(kr_testserver_t *ts, json_t *const *objects, size_t count,
                                   kr_error_t *err);

/* The current (latest) resourceVersion. */
KR_API unsigned long long kr_testserver_resource_version(kr_testserver_t *ts);

/* Replace the faults. */
KR_API void kr_testserver_set_faults(kr_testserver_t *ts, const kr_testserver_faults *faults);

/* End every open watch now (clean end of stream). */
KR_API void kr_testserver_close_watches(kr_testserver_t *ts);

/* Forget watch history and LIST snapshots: a watch or continue token
 * from an older resourceVersion gets 410 Expired. */
KR_API void kr_testserver_compact(kr_testserver_t *ts);

/* Simulate an apiserver restart: end all watches, forget history and
 * snapshots; objects and the resourceVersion counter are kept. */
KR_API void kr_testserver_restart(kr_testserver_t *ts);

/* Number of open watch streams. */
KR_API size_t kr_testserver_watch_count(kr_testserver_t *ts);

/* Wait until at least `n` watch streams are open, or `timeout_ms` passed
 * (a condition wait, no polling). Returns the number open then. */
KR_API size_t kr_testserver_wait_watch_count(kr_testserver_t *ts, size_t n, unsigned timeout_ms);

/* The requests served since the start or the last reset, by verb and
 * resource: a new object such as {"list configmaps": 3, "patch
 * pods/status": 1}. Verbs as kube-apiserver's audit log names them (get,
 * list, watch, create, update, patch, delete, deletecollection); the
 * resource plural, "/subresource" appended. Counted: every request routed
 * to a resource (whatever its answer) once it passed authentication and
 * fault injection; not discovery, /version, health or /_kr/; the first 256
 * distinct keys only. GET /_kr/stats answers the same object as
 * "requests". NULL when out of memory. */
KR_API json_t *kr_testserver_requests(kr_testserver_t *ts);

/* Zero the request counters (as POST /_kr/stats/reset). */
KR_API void kr_testserver_reset_requests(kr_testserver_t *ts);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_TESTSERVER_H */
