/* libkreconcile — common definitions shared by every module: the export
 * macro, version, error codes, the error struct, logging and allocators.
 * Nothing here performs I/O or keeps mutable global state except the
 * allocator hooks, which must be set before any other call. */
#ifndef KRECONCILE_COMMON_H
#define KRECONCILE_COMMON_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KR_BUILDING_LIBRARY) && defined(__GNUC__)
#define KR_API __attribute__((visibility("default")))
#else
#define KR_API
#endif

#if defined(__GNUC__)
#define KR_PRINTF(fmt_idx, args_idx) __attribute__((format(printf, fmt_idx, args_idx)))
#else
#define KR_PRINTF(fmt_idx, args_idx)
#endif

/* ---- Version ---------------------------------------------------------- */

#define KR_VERSION_MAJOR 0
#define KR_VERSION_MINOR 1
#define KR_VERSION_PATCH 0
#define KR_VERSION_STRING "0.1.0"
/* 0xMMmmpp: compare with KR_VERSION_NUMBER >= 0x000100 in #if */
#define KR_VERSION_NUMBER ((KR_VERSION_MAJOR << 16) | (KR_VERSION_MINOR << 8) | KR_VERSION_PATCH)

/* The version of the library actually linked, "MAJOR.MINOR.PATCH".
 * Returns a static string. [any thread] */
KR_API const char *kr_version(void);
/* The linked library's KR_VERSION_NUMBER. [any thread] */
KR_API unsigned kr_version_number(void);

/* ---- Errors ------------------------------------------------------------ */

/* Every function that can fail returns 0 or one of these negative codes.
 * Codes are stable ABI: new ones are only ever appended. */
typedef enum kr_errcode {
    KR_OK = 0,
    KR_ENOMEM = -1, /* an allocation failed */
    KR_EINVAL = -2, /* invalid argument or option */
    KR_EPARSE = -3, /* malformed input: JSON, YAML, selector, URL */
    KR_ENOTFOUND = -4, /* object, path or key does not exist (HTTP 404) */
    KR_EEXIST = -5, /* object already exists (HTTP 409 AlreadyExists) */
    KR_ECONFLICT = -6, /* stale resourceVersion or failed precondition (409) */
    KR_EPATCH = -7, /* a patch cannot be applied to this document */
    KR_ETESTFAILED = -8, /* a JSON patch "test" operation did not match */
    KR_EGONE = -9, /* resourceVersion or continue token too old (410) */
    KR_EHTTP = -10, /* the server answered with another error Status */
    KR_EUNAUTHORIZED = -11, /* 401 */
    KR_EFORBIDDEN = -12, /* 403 */
    KR_ETIMEDOUT = -13, /* a deadline passed */
    KR_ECONNECT = -14, /* connection refused, reset or closed early */
    KR_ETLS = -15, /* TLS handshake or certificate failure */
    KR_EIO = -16, /* a local read or write failed */
    KR_ESHUTDOWN = -17, /* the object is shutting down or stopped */
    KR_ECANCELED = -18, /* the operation was canceled */
    KR_EUNSUPPORTED = -19, /* not supported (by the server or this build) */
    KR_ETOOLARGE = -20, /* input exceeds a configured limit (HTTP 413) */
    KR_ETHROTTLED = -21, /* 429 after every retry */
    KR_EINVALIDOBJ = -22, /* the server rejected the object (HTTP 422) */
    KR_ESTATE = -23, /* call not valid in the object's current state */
    KR_EUNAVAILABLE = -24, /* the server is unavailable (5xx after retries) */
} kr_errcode;

#define KR_ERRCODE_MIN (-24)

/* A short English description of `code` (0 or a KR_E* value). Returns a
 * static string; unknown codes give "unknown error". [any thread] */
KR_API const char *kr_strerror(int code);
/* The symbolic name of `code`, e.g. "KR_ENOTFOUND". Static string. */
KR_API const char *kr_err_name(int code);

/* `rc`, except KR_ENOTFOUND, which becomes 0 (controller-runtime's
 * client.IgnoreNotFound): for a reconcile where an object already gone
 * is what it wanted (a delete, a get of something that may have been
 * deleted), `rc = kr_ignore_not_found(kr_client_delete(...))`. The error
 * struct the call filled is left as it was. [any thread] */
KR_API int kr_ignore_not_found(int rc);

/* Detail of a failure. Fixed-size so that filling it never allocates (it
 * must work when memory is exhausted). Zero-initialise it, or call
 * kr_error_clear(); every function taking a `kr_error_t *` accepts NULL.
 * When the failure came from an apiserver Status, `http_code` and `reason`
 * hold what the server said; otherwise `http_code` is 0. Credentials never
 * appear in `message`. */
typedef struct kr_error {
    int code; /* the KR_E* code also returned */
    char message[1024]; /* human-readable, names the path/field/object */
    /* From a Kubernetes Status object, when there was one: */
    int http_code; /* Status.code, or the HTTP status */
    char reason[64]; /* Status.reason, e.g. "NotFound", "Conflict" */
    char details_name[254]; /* Status.details.name, when present */
    char details_kind[64]; /* Status.details.kind, when present */
    int retry_after_seconds; /* Status.details.retryAfterSeconds or Retry-After; 0 if none */
} kr_error_t;

/* Reset `err` to "no error". NULL is accepted. [any thread] */
KR_API void kr_error_clear(kr_error_t *err);

/* Fill `err` (may be NULL) with `code` and a printf-style message; returns
 * `code` so that callers can write `return kr_error_set(err, KR_EINVAL, ...)`.
 * The message is truncated to fit. [any thread] */
KR_API int kr_error_set(kr_error_t *err, int code, const char *fmt, ...) KR_PRINTF(3, 4);

/* ---- Logging ----------------------------------------------------------- */

/* The library never prints. Objects that can log take a kr_logger in their
 * options; a zero kr_logger discards everything. */
typedef enum kr_log_level {
    KR_LOG_ERROR = 0,
    KR_LOG_WARN = 1,
    KR_LOG_INFO = 2,
    KR_LOG_DEBUG = 3,
    KR_LOG_TRACE = 4,
} kr_log_level;

/* Receives one formatted message. `module` is e.g. "client", "reflector";
 * `message` is borrowed for the call. May be called from the loop thread
 * or worker threads: the callback must be thread-safe. */
typedef void (*kr_log_cb)(kr_log_level level, const char *module, const char *message, void *user);

/* One structured field of a log line (`key` and `value` borrowed for the
 * call), e.g. {"controller", "syncer"}, {"cluster", "dc1"}, {"key", "ns/x"}. */
typedef struct kr_log_field {
    const char *key;
    const char *value;
} kr_log_field;

/* Receives a message with its structured fields (`fields` borrowed for the
 * call, `n` of them). Same threading rules as kr_log_cb. */
typedef void (*kr_log_fields_cb)(kr_log_level level, const char *module, const char *message,
                                 const kr_log_field *fields, size_t n, void *user);

typedef struct kr_logger {
    kr_log_cb cb; /* NULL: discard (unless fields_cb is set) */
    kr_log_level max_level; /* messages above this level are not formatted; 0 = errors only */
    void *user;
    /* Optional: receives kr_log_fields() messages with their fields apart
     * (a JSON log sink writes them as members), and plain messages with
     * n == 0. NULL: fields are appended to the message as " key=value". */
    kr_log_fields_cb fields_cb;
} kr_logger;

/* The name of `level`: "error", "warn", "info", "debug", "trace". */
KR_API const char *kr_log_level_name(kr_log_level level);

/* Send a message through `logger` (NULL or a zero logger discards it).
 * Formatting uses a bounded stack buffer: logging never allocates. */
KR_API void kr_log(const kr_logger *logger, kr_log_level level, const char *module, const char *fmt,
                   ...) KR_PRINTF(4, 5);
KR_API void kr_logv(const kr_logger *logger, kr_log_level level, const char *module,
                    const char *fmt, va_list ap);
/* A message with structured fields: `fields` (n of them, borrowed; a NULL
 * value is skipped) go to the logger's fields_cb apart from the message,
 * or are appended to the message as " key=value" for a plain kr_log_cb.
 * Never allocates. */
KR_API void kr_log_fields(const kr_logger *logger, kr_log_level level, const char *module,
                          const kr_log_field *fields, size_t n, const char *fmt, ...)
    KR_PRINTF(6, 7);

/* ---- Statistics ------------------------------------------------------ */

/* Stats getters take the caller's sizeof its struct (kr_x_get_stats(x, &st,
 * sizeof st)) and write that many bytes at most: fields are only ever
 * appended, so a program built against an older header gets the fields it
 * knows, and one built against a newer header gets zeros for the rest. */

/* ---- Watch events ------------------------------------------------------ */

/* The type of one watch event: the client's watches (client.h) and the
 * reflector's lister-watcher (reflector.h) both use it. */
typedef enum kr_watch_event_type {
    KR_WATCH_ADDED = 1,
    KR_WATCH_MODIFIED = 2,
    KR_WATCH_DELETED = 3,
    KR_WATCH_BOOKMARK = 4,
    KR_WATCH_ERROR = 5, /* object is a Status; the watch then ends */
} kr_watch_event_type;

/* ---- Allocators -------------------------------------------------------- */

typedef void *(*kr_malloc_cb)(size_t size);
typedef void *(*kr_realloc_cb)(void *ptr, size_t size);
typedef void (*kr_free_cb)(void *ptr);

/* Replace the allocator used for every allocation the library makes
 * itself (not jansson's: use json_set_alloc_funcs() for those, nor
 * libcurl's or libuv's). Any NULL argument restores the C library's
 * function. Call it before creating any object: memory must be freed by
 * the allocator that made it. Not thread-safe. */
KR_API void kr_set_allocator(kr_malloc_cb malloc_fn, kr_realloc_cb realloc_fn, kr_free_cb free_fn);

/* Allocate and free with the library's allocator, e.g. for strings the
 * library returns as "new; free with kr_free()". kr_free(NULL) is a no-op. */
KR_API void *kr_malloc(size_t size);
KR_API void kr_free(void *ptr);
/* Resize a block from kr_malloc/kr_realloc (ptr may be NULL); on failure
 * NULL and `ptr` is untouched. [any thread] */
KR_API void *kr_realloc(void *ptr, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_COMMON_H */
