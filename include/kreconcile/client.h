/* libkreconcile — the REST client (client-go's rest client + dynamic client
 * + REST mapper, for JSON): get, list, watch, create, update, patch, delete
 * and status writes against one apiserver described by a kr_rest_config,
 * with a client-side rate limit, retries with backoff, and discovery.
 *
 * Threading: every request runs on the runtime's loop thread. Asynchronous
 * calls (kr_client_do, kr_client_watch) may be made from any thread and call
 * back on the loop thread; callbacks must not block. Blocking calls
 * (kr_client_get, ...) are for worker threads: they are marshalled to the
 * loop thread and waited on, and fail with KR_ESTATE on the loop thread
 * and before kr_runtime_start (nothing would answer them).
 *
 * Errors: every failure fills kr_error_t; when the apiserver answered with a
 * Status, http_code, reason, message, details and retry_after_seconds are
 * what it said. Credentials never appear in errors or logs. */
#ifndef KRECONCILE_CLIENT_H
#define KRECONCILE_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "config.h"
#include "metrics.h"
#include "patch.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Addressing ---------------------------------------------------------- */

/* A resource by group ("" for the core group), version and plural resource
 * name. Strings are borrowed. */
typedef struct kr_gvr {
    const char *group;
    const char *version;
    const char *resource;
} kr_gvr;

#define KR_GVR(g, v, r) ((kr_gvr){(g), (v), (r)})

/* Parse what a command line gives: "GROUP/VERSION/RESOURCE" or, for the
 * core group, "VERSION/RESOURCE" ("apps/v1/deployments", "v1/configmaps").
 * The parts are copied into `buf` (`len` bytes, at least strlen(text) + 3)
 * and *out points into it. Errors: KR_EPARSE (the message names the text),
 * KR_ETOOLARGE (buf too small). [any thread] */
KR_API int kr_gvr_parse(const char *text, char *buf, size_t len, kr_gvr *out, kr_error_t *err);

/* One object or collection: gvr, namespace (NULL or "" for cluster-scoped
 * resources and for all namespaces), name (NULL for the collection) and
 * subresource (e.g. "status", "scale"; NULL for none). Borrowed. A
 * create names no object, but for a subresource of one: POST
 * serviceaccounts/NAME/token, pods/NAME/eviction. */
typedef struct kr_resource_ref {
    kr_gvr gvr;
    const char *namespace_;
    const char *name;
    const char *subresource;
} kr_resource_ref;

/* ---- Client -------------------------------------------------------------- */

typedef struct kr_client kr_client_t;

typedef enum kr_client_http {
    KR_CLIENT_HTTP_AUTO = 0, /* HTTP/2 over TLS when both sides offer it */
    KR_CLIENT_HTTP_1_1 = 1, /* never HTTP/2 */
    KR_CLIENT_HTTP_2_PRIOR_KNOWLEDGE = 2, /* h2c to a plain-HTTP server that speaks it */
} kr_client_http;

/* Options of kr_client_new(); zero means the default. */
typedef struct kr_client_opts {
    unsigned version; /* KR_CLIENT_OPTS_VERSION (0 is taken as 1) */
    kr_client_http http_version;
    int max_retries; /* retries of a failed request; 0 = 5, < 0 = none */
    uint64_t backoff_base_ms; /* first retry delay without Retry-After; 0 = 200 */
    uint64_t backoff_max_ms; /* cap of the delay (a Retry-After is honoured past it); 0 = 10000 */
    size_t max_event_bytes; /* largest watch event; 0 = 16 MiB */
    long max_connections; /* per host; 0 = unlimited */
    bool legacy_discovery; /* ask for legacy discovery only (one request per group-version) */
    /* A name the discovery cache does not know fetches discovery again at
     * most this often, so that a controller asking for a missing resource
     * in a loop does not fetch it on every call (a new CRD shows up within
     * this time); 0 = 1000, < 0 = on every miss. */
    int discovery_miss_interval_ms;
    /* Version 2 (never read when version is 0 or 1): where the client
     * reports its requests, as client-go's rest client does (borrowed; it
     * must outlive the client; NULL = no metrics and no cost), labelled
     * host = the server's host:port, so that a program talking to several
     * clusters shows each one:
     *   rest_client_requests_total{code,method,host}: every HTTP answer,
     *     each attempt of a retried request apart; code is the status
     *     ("200", "404", "503") or "<error>" when none came (connection
     *     refused, timeout); a watch counts when its response headers come;
     *   rest_client_request_duration_seconds{verb,host}: a request from the
     *     call to its result, rate limiting and retries included (watches,
     *     which last minutes, are not observed);
     *   rest_client_rate_limiter_duration_seconds{verb,host}: each wait in
     *     the client-side rate limiter (none when qps < 0).
     * method and verb are the HTTP method ("GET", "POST", ...); the
     * histograms have client-go's buckets (5 ms to 60 s). */
    kr_metrics_registry_t *metrics;
    /* Version 3: the warnings servers send (`Warning: 299 - "text"`
     * headers: a deprecated API, `unknown field "spec.x"` dropped from a
     * write, ...), as client-go's WarningHandler receives them: on_warning
     * is called with each text, on the loop thread, before the request's
     * result is delivered; NULL logs each distinct text once, at
     * KR_LOG_WARN, as kubectl prints them. A watch's are handed on when
     * its response starts, before its first event (and with its error
     * when it is refused). */
    void (*on_warning)(const char *text, void *user);
    void *on_warning_user;
} kr_client_opts;
#define KR_CLIENT_OPTS_VERSION 3
/* clang-format off */
#define KR_CLIENT_OPTS_INIT {.version = KR_CLIENT_OPTS_VERSION}
/* clang-format on */

/* Create a client on runtime `rt` for `config`. `config` is borrowed and
 * must outlive the client (its credential provider is used in place);
 * `opts` is borrowed and may be NULL. *out is new: kr_client_free().
 * The rate limit comes from config->qps/burst (defaults 5/10, as
 * client-go; qps < 0 disables it). opts->metrics (version 2), when set,
 * is borrowed and must outlive the client. [any thread]
 * Errors: KR_EINVAL (bad server URL), KR_ENOMEM, KR_ESHUTDOWN, KR_EEXIST
 * (the registry has a rest_client_* family of another type or labels). */
KR_API int kr_client_new(kr_runtime_t *rt, const kr_rest_config *config, const kr_client_opts *opts,
                         kr_client_t **out, kr_error_t *err);

/* Cancel every request (each callback runs once more, with KR_ECANCELED,
 * so that blocking callers wake up), end open watches (their on_end runs
 * with KR_ESHUTDOWN; the kr_watch_t handles stay the caller's to free),
 * and free the client. NULL is a no-op. [any thread; the loop thread
 * included] */
KR_API void kr_client_free(kr_client_t *client);

/* The runtime the client runs on (borrowed). [any thread] */
KR_API kr_runtime_t *kr_client_runtime(kr_client_t *client);

/* The namespace of the config's context ("default" when unset). Borrowed.
 * [any thread] */
KR_API const char *kr_client_default_namespace(const kr_client_t *client);

/* ---- Requests ------------------------------------------------------------ */

typedef enum kr_verb {
    KR_VERB_GET = 1,
    KR_VERB_LIST,
    KR_VERB_CREATE,
    KR_VERB_UPDATE,
    KR_VERB_PATCH,
    KR_VERB_DELETE,
    KR_VERB_DELETE_COLLECTION,
} kr_verb;

/* Query options of LIST and WATCH. Strings borrowed; zero means unset. */
typedef struct kr_list_opts {
    unsigned version; /* KR_LIST_OPTS_VERSION (0 is taken as 1) */
    const char *label_selector;
    const char *field_selector;
    const char *resource_version;
    const char *resource_version_match; /* "NotOlderThan" | "Exact" */
    long limit; /* page size; 0 = no limit */
    const char *continue_token;
    int timeout_seconds; /* server-side end of a watch; 0 = server's choice */
    bool allow_watch_bookmarks;
    bool send_initial_events;
    /* The Accept header of the LIST or WATCH (copied); NULL =
     * application/json. E.g. KR_CLIENT_ACCEPT_PARTIAL_METADATA_LIST for a LIST
     * and KR_CLIENT_ACCEPT_PARTIAL_METADATA for a WATCH: objects then come as
     * meta.k8s.io/v1 PartialObjectMetadata (metadata only), as client-go's
     * metadata client asks for them. */
    const char *accept;
    /* Version 2: a WATCH decodes each event's object, a LIST each of its
     * items, without metadata.managedFields, cut from the text before it
     * is parsed, so that they cost no tree (for a cache that drops them
     * anyway, as an informer's store does unless it keeps them). */
    bool drop_managed_fields;
} kr_list_opts;
#define KR_LIST_OPTS_VERSION 2
/* clang-format off */
#define KR_LIST_OPTS_INIT {.version = KR_LIST_OPTS_VERSION}
/* clang-format on */

#define KR_CLIENT_ACCEPT_PARTIAL_METADATA_LIST                                                     \
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
#define KR_CLIENT_ACCEPT_PARTIAL_METADATA                                                          \
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"

/* Options of writes (create, update, patch, status). */
typedef struct kr_write_opts {
    unsigned version; /* KR_WRITE_OPTS_VERSION (0 is taken as 1) */
    bool dry_run; /* dryRun=All */
    const char *field_manager; /* required by server-side apply */
    bool force; /* server-side apply: take over conflicting fields */
    const char *field_validation; /* "Ignore" | "Warn" | "Strict"; NULL = server default */
    /* Version 2: the answer is decoded without its metadata.managedFields,
     * cut from the text before it is parsed (for a caller that reads only
     * the rest: they are often most of an object's tree). */
    bool drop_managed_fields;
} kr_write_opts;
#define KR_WRITE_OPTS_VERSION 2
/* clang-format off */
#define KR_WRITE_OPTS_INIT {.version = KR_WRITE_OPTS_VERSION}
/* clang-format on */

/* Options of delete, sent as a DeleteOptions body. */
typedef struct kr_delete_opts {
    unsigned version; /* KR_DELETE_OPTS_VERSION (0 is taken as 1) */
    const char *propagation_policy; /* "Orphan" | "Background" | "Foreground"; NULL = server's */
    bool has_grace_period;
    long grace_period_seconds;
    const char *precondition_uid;
    const char *precondition_resource_version;
    bool dry_run;
} kr_delete_opts;
#define KR_DELETE_OPTS_VERSION 1
/* clang-format off */
#define KR_DELETE_OPTS_INIT {.version = KR_DELETE_OPTS_VERSION}
/* clang-format on */

/* One request. Everything is borrowed for the duration of the call that
 * takes it (bodies are serialised before it returns). */
typedef struct kr_request {
    kr_verb verb;
    kr_resource_ref ref;
    const json_t *body; /* create, update: the object; patch: the patch */
    kr_patch_format patch_format; /* patch: KR_PATCH_MERGE (default), STRATEGIC, JSON, APPLY */
    const kr_list_opts *list; /* LIST, DELETE_COLLECTION: may be NULL */
    const kr_write_opts *write; /* writes: may be NULL */
    const kr_delete_opts *del; /* DELETE: may be NULL */
    uint64_t timeout_ms; /* the whole request's, retries included; 0 = the config's */
} kr_request;

/* The result of a request: `result` is the decoded response body on
 * success (borrowed for the call: json_incref to keep it; NULL when the
 * body was empty); `err` is NULL on success, else the failure (borrowed). */
typedef void (*kr_client_cb)(json_t *result, const kr_error_t *err, void *user);

/* Start `req` asynchronously; `cb` (may be NULL) runs once on the loop
 * thread, never inside this call. Requests pass the rate limiter and are
 * retried on 429 (any verb; the server refused before doing anything) and
 * on 5xx but 501 and connection errors (GET, HEAD, PUT, DELETE only), honouring
 * Retry-After. [any thread] Errors (then cb is never called): KR_EINVAL,
 * KR_ENOMEM, KR_ESHUTDOWN. */
KR_API int kr_client_do(kr_client_t *client, const kr_request *req, kr_client_cb cb, void *user,
                        kr_error_t *err);

/* The same, blocking until the result: *out (may be NULL to discard) is a
 * new reference. [worker thread; KR_ESTATE on the loop thread and before
 * kr_runtime_start] Errors: the
 * failure's code (KR_ENOTFOUND, KR_ECONFLICT, KR_EEXIST, KR_EGONE,
 * KR_EUNAUTHORIZED, KR_EFORBIDDEN, KR_EINVALIDOBJ, KR_ETHROTTLED,
 * KR_EUNAVAILABLE, KR_ETIMEDOUT, KR_ECONNECT, KR_ETLS, KR_EHTTP, ...). */
KR_API int kr_client_do_sync(kr_client_t *client, const kr_request *req, json_t **out,
                             kr_error_t *err);

/* Blocking conveniences over kr_client_do_sync. [worker thread] *out is a
 * new reference (may be NULL to discard). */
KR_API int kr_client_get(kr_client_t *client, kr_gvr gvr, const char *namespace_, const char *name,
                         json_t **out, kr_error_t *err);
/* One LIST request (one page when opts->limit is set). */
KR_API int kr_client_list(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                          const kr_list_opts *opts, json_t **out, kr_error_t *err);
KR_API int kr_client_create(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                            const json_t *object, const kr_write_opts *opts, json_t **out,
                            kr_error_t *err);
/* PUT the whole object (name from its metadata). */
KR_API int kr_client_update(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                            const json_t *object, const kr_write_opts *opts, json_t **out,
                            kr_error_t *err);
/* PUT the object to its /status subresource. */
KR_API int kr_client_update_status(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                                   const json_t *object, const kr_write_opts *opts, json_t **out,
                                   kr_error_t *err);
/* PATCH `name` (or its `subresource`, may be NULL) with `patch` in `format`.
 * KR_PATCH_APPLY needs opts->field_manager. */
KR_API int kr_client_patch(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                           const char *name, const char *subresource, kr_patch_format format,
                           const json_t *patch, const kr_write_opts *opts, json_t **out,
                           kr_error_t *err);
KR_API int kr_client_delete(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                            const char *name, const kr_delete_opts *opts, json_t **out,
                            kr_error_t *err);

/* Pagination: LIST in pages of opts->limit (0 = 500), calling
 * page(list, user) for each page (borrowed), until the server sends no
 * continue token. A non-zero return from `page` stops and is returned.
 * An expired continue token (410) fails with KR_EGONE: start again.
 * [worker thread] */
typedef int (*kr_client_page_cb)(json_t *page, void *user);
KR_API int kr_client_list_pages(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                                const kr_list_opts *opts, kr_client_page_cb page, void *user,
                                kr_error_t *err);
/* Every page joined into one list: *out is a new <Kind>List whose
 * metadata.resourceVersion is the first page's. [worker thread] */
KR_API int kr_client_list_all(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                              const kr_list_opts *opts, json_t **out, kr_error_t *err);

/* ---- Watch --------------------------------------------------------------- */

/* kr_watch_event_type is in common.h (the reflector uses it too). */
/* "ADDED", ... ; NULL for an unknown value. */
KR_API const char *kr_watch_event_type_name(kr_watch_event_type type);

typedef struct kr_watch kr_watch_t;

/* One event, on the loop thread, in stream order. `object` is borrowed for
 * the call (json_incref to keep it). */
typedef void (*kr_watch_event_cb)(kr_watch_t *watch, kr_watch_event_type type, json_t *object,
                                  void *user);
/* The end of the stream, on the loop thread, once. rc 0: the server closed
 * the stream cleanly (re-watch from kr_watch_resource_version()).
 * KR_EGONE: the resourceVersion is too old (HTTP 410 or an ERROR event):
 * relist. KR_EIO: the stream was cut, also inside an event (watch again).
 * KR_EPARSE: an event that is not one (bad JSON, an unknown type), and
 * KR_ETOOLARGE: one over max_event_bytes; the stream is closed at once (relist:
 * watching again would meet it again). Other codes: a failure (err says
 * what). Not called after kr_watch_free(). */
typedef void (*kr_watch_end_cb)(kr_watch_t *watch, int rc, const kr_error_t *err, void *user);

/* Open a watch on a collection (`namespace_` NULL/"" = all namespaces or a
 * cluster-scoped resource). `opts` borrowed, may be NULL. *out is new: the
 * caller frees it with kr_watch_free() (after its end, or to cancel it).
 * Watches are not retried: the caller (a reflector) decides. [any thread]
 * Errors: KR_EINVAL, KR_ENOMEM, KR_ESHUTDOWN. */
KR_API int kr_client_watch(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                           const kr_list_opts *opts, kr_watch_event_cb on_event,
                           kr_watch_end_cb on_end, void *user, kr_watch_t **out, kr_error_t *err);

/* The last resourceVersion seen on the stream (from events and bookmarks),
 * or the one the watch started from. Borrowed, valid until the next event
 * or kr_watch_free(). [loop thread] */
KR_API const char *kr_watch_resource_version(const kr_watch_t *watch);

/* Events delivered so far. [loop thread] */
KR_API unsigned long kr_watch_event_count(const kr_watch_t *watch);

/* Cancel (no more callbacks) and free. NULL is a no-op. [any thread; also
 * inside the watch's own callbacks] */
KR_API void kr_watch_free(kr_watch_t *watch);

/* ---- Create or update ----------------------------------------------------- */

/* What kr_client_create_or_update or kr_client_create_or_patch did
 * (controller-runtime's OperationResult). */
typedef enum kr_operation_result {
    KR_OPERATION_UNCHANGED = 0, /* the object already was what mutate made it: nothing sent */
    KR_OPERATION_CREATED = 1,
    KR_OPERATION_UPDATED = 2,
    KR_OPERATION_UPDATED_STATUS = 3, /* create_or_patch: the object and its status */
    KR_OPERATION_UPDATED_STATUS_ONLY = 4, /* create_or_patch: its status alone */
} kr_operation_result;

/* Make `obj` what the caller wants it to be: 0, or an error code (then
 * nothing is sent and kr_client_create_or_update returns it). It must not
 * change metadata.name or metadata.namespace. */
typedef int (*kr_mutate_cb)(json_t *obj, void *user);

/* controller-runtime's controllerutil.CreateOrUpdate: GET namespace_/name
 * from the server (not a cache), hand it to `mutate` (or, when it does not
 * exist, an object holding only apiVersion, kind, metadata.name and
 * metadata.namespace), then create it, or update it when mutate changed it
 * (a PUT carrying the resourceVersion read, so a concurrent change gives
 * KR_ECONFLICT: look again), or send nothing. The kind comes from
 * discovery unless mutate sets it. *out (optional) is the object as stored
 * (new), *result (optional) what was done. [worker thread] Errors:
 * KR_EINVAL (mutate changed the name or namespace; no name), mutate's
 * code, request errors. */
KR_API int kr_client_create_or_update(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                                      const char *name, kr_mutate_cb mutate, void *user,
                                      json_t **out, kr_operation_result *result, kr_error_t *err);

/* controller-runtime's controllerutil.CreateOrPatch: as
 * kr_client_create_or_update, but an existing object is changed by JSON
 * merge patches of what mutate changed, with no resourceVersion: fields
 * that mutate left alone are never sent, so another writer's changes to
 * them stand and no KR_ECONFLICT comes of them. What mutate changed outside
 * `status` goes in one PATCH, what it changed in `status` in a PATCH of the
 * status subresource (after the first, so that its answer's status does
 * not undo it); *result says which were sent (KR_OPERATION_UPDATED, with
 * the error, when the object's patch went and its status's failed). A create sends the object as
 * mutate made it (a server with a status subresource drops its status).
 * [worker thread] Errors: as kr_client_create_or_update. */
KR_API int kr_client_create_or_patch(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                                     const char *name, kr_mutate_cb mutate, void *user,
                                     json_t **out, kr_operation_result *result, kr_error_t *err);

/* One try of a read-modify-write: 0 or a KR_E* code (err set). */
typedef int (*kr_retry_cb)(kr_error_t *err, void *user);

/* client-go's retry.RetryOnConflict with retry.DefaultRetry: call `fn`
 * until it returns anything but KR_ECONFLICT, at most 5 times, sleeping
 * 10 ms (plus up to 10% jitter) between tries. `fn` reads what it changes
 * anew each time (a GET, or an informer's cache that has caught up) and
 * writes it with the resourceVersion it read. Returns fn's last code, err
 * as fn left it. [worker thread: it sleeps] */
KR_API int kr_retry_on_conflict(kr_retry_cb fn, void *user, kr_error_t *err);

/* ---- Discovery and the REST mapper --------------------------------------- */

/* What discovery says about one resource. */
typedef struct kr_resource_info {
    char group[254];
    char version[64];
    char resource[64]; /* plural */
    char singular[64];
    char kind[64];
    bool namespaced;
    char short_names[8][16]; /* "" terminated */
    char verbs[10][20]; /* "" terminated */
} kr_resource_info;

/* Resolve what a user typed, as kubectl does: a plural, singular, Kind or
 * short name, optionally qualified as "name.group" or "name.version.group"
 * ("deploy", "deployments.apps", "Deployment", "cm"); plural and singular
 * in any case ("Pods"), a short name as it is. Uses the discovery
 * cache (fetched on first use: aggregated discovery when the server offers
 * it, legacy otherwise), refreshes it once when the name is unknown, and
 * falls back to the built-in table for Kubernetes' built-in kinds when the
 * server cannot be asked. [worker thread] Errors: KR_ENOTFOUND ("the server
 * doesn't have a resource type ..."), and request errors. */
KR_API int kr_client_resolve(kr_client_t *client, const char *name, kr_resource_info *out,
                             kr_error_t *err);

/* The resource serving group/version `api_version` ("apps/v1", "v1") and
 * `kind`. [worker thread] Errors: KR_ENOTFOUND, request errors. */
KR_API int kr_client_resource_for_kind(kr_client_t *client, const char *api_version,
                                       const char *kind, kr_resource_info *out, kr_error_t *err);

/* Fetch discovery again and replace the cache. [worker thread] */
KR_API int kr_client_discovery_refresh(kr_client_t *client, kr_error_t *err);

/* The built-in table only (no I/O): Kubernetes 1.32 built-in kinds.
 * [any thread] Errors: KR_ENOTFOUND. */
KR_API int kr_resource_builtin_lookup(const char *name, kr_resource_info *out);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_CLIENT_H */
