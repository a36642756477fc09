/* libkreconcile — client internals that need no sockets, so that they are
 * unit-tested alone: the watch stream decoder (client_watch_decoder.c), URL
 * building, Status parsing and the retry policy. The state the client's
 * files share (with the transport) is in client_state.h. Never installed. */
#ifndef KR_LIB_CLIENT_INTERNAL_H
#define KR_LIB_CLIENT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "kreconcile/client.h"

/* ---- options ---- */

/* Where a version 1 kr_client_opts ends: the library never reads past it
 * when the caller says version 1 (or 0). A field added in a new version
 * gets an entry in kr_client_opts_end and the assertion moves to it. */
#define KR_CLIENT_OPTS_V1_END                                                                      \
    (offsetof(kr_client_opts, discovery_miss_interval_ms) +                                        \
     sizeof(((kr_client_opts *)0)->discovery_miss_interval_ms))
#define KR_CLIENT_OPTS_V2_END (offsetof(kr_client_opts, metrics) + sizeof(void *))
#define KR_CLIENT_OPTS_V3_END (offsetof(kr_client_opts, on_warning_user) + sizeof(void *))
_Static_assert(KR_CLIENT_OPTS_VERSION == 3 && KR_CLIENT_OPTS_V3_END == sizeof(kr_client_opts),
               "a kr_client_opts field was added: give it a version and its end");

/* The bytes of a kr_client_opts of `version` the library may read (0 is
 * 1; a version newer than the library's is refused before). */
static inline size_t kr_client_opts_end(unsigned version)
{
    return version >= 3   ? KR_CLIENT_OPTS_V3_END
           : version == 2 ? KR_CLIENT_OPTS_V2_END
                          : KR_CLIENT_OPTS_V1_END;
}

/* The client's request timeout (its config's timeout_ms; 0: none). [any
 * thread] */
uint64_t kr_client_timeout_ms(const kr_client_t *c);

/* ---- server warnings ---- */

/* Calls fn(code, text) for each warning of one Warning header value, as
 * RFC 9111 writes them and client-go parses them: `299 - "text"`, an
 * optional quoted date, several separated by commas, `\"` and `\\`
 * escapes in the text. Stops at the first malformed warning. Returns how
 * many were parsed. */
size_t kr_parse_warnings(const char *value, void (*fn)(int code, const char *text, void *user),
                         void *user);

/* Hands each warning of `values` (Warning header values, one per line;
 * NULL or "" for none) to the client's on_warning, or logs each distinct
 * text once. [loop thread] */
void kr_client_warn(kr_client_t *c, const char *values);

/* ---- watch decoder ---- */

/* Splits a stream of JSON watch events (newline-delimited, as the apiserver
 * sends them; any whitespace between objects is accepted) into events.
 * An event may be split anywhere across chunks and a chunk may hold many. */
typedef struct kr_watch_decoder {
    kr_buf pending; /* bytes of the event in progress */
    size_t max_event; /* bytes; an event above it is an error */
    int depth; /* nesting depth inside the current object */
    bool in_string, escape, started, failed;
    /* each event's object is parsed without its metadata.managedFields,
     * cut from the text (kr_json_cut_member): for a cache that drops them */
    bool drop_managed_fields;
} kr_watch_decoder;

/* Receives one event: `object` is borrowed. Return 0 to go on; any other
 * value stops decoding and is returned by feed. */
typedef int (*kr_watch_decoder_cb)(kr_watch_event_type type, json_t *object, void *user);

void kr_watch_decoder_init(kr_watch_decoder *d, size_t max_event_bytes);
/* Decode `len` bytes. Returns 0, the callback's non-zero value, KR_EPARSE
 * (malformed data: not an object, bad JSON, no or unknown type, no object),
 * KR_ETOOLARGE or KR_ENOMEM; after an error every later call fails. */
int kr_watch_decoder_feed(kr_watch_decoder *d, const char *data, size_t len, kr_watch_decoder_cb fn,
                          void *user, kr_error_t *err);
/* The stream ended: KR_EPARSE when it ended inside an event. */
int kr_watch_decoder_finish(kr_watch_decoder *d, kr_error_t *err);
void kr_watch_decoder_free(kr_watch_decoder *d);

/* ---- URLs ---- */

/* Append the path and query of `req` to `out`; `watch` adds watch=true.
 * Errors: KR_EINVAL (missing version/resource, name on a collection verb,
 * subresource without a name), KR_ENOMEM. */
int kr_client_build_url(kr_buf *out, const kr_request *req, bool watch, kr_error_t *err);
/* Append `s` percent-encoded for a query value. */
int kr_url_escape(kr_buf *out, const char *s);

/* ---- Status ---- */

/* Fill `err` from a failed response (HTTP status, Content-Type, body,
 * Retry-After header or -1) and return the KR_E* code. A body is read as a
 * Status only when it is JSON with kind "Status"; anything else (text/plain
 * 429 from flow control) only lends its text to the message. */
int kr_status_error(long http_status, const char *content_type, const char *body, size_t len,
                    int retry_after_s, const char *what, kr_error_t *err);
/* Same, from an already decoded Status (ERROR watch events). */
int kr_status_error_json(const json_t *status, long http_status, int retry_after_s,
                         const char *what, kr_error_t *err);
/* True when `obj` is a Status object (kind "Status"). */
bool kr_is_status(const json_t *obj);
/* The KR_E* code for an HTTP status and Status reason. */
int kr_status_code_for(long http_status, const char *reason);

/* ---- retries ---- */

typedef struct kr_retry_policy {
    int max_retries;
    int base_ms;
    int max_ms;
} kr_retry_policy;

/* Whether attempt number `attempt` (1 = first retry) should happen after
 * a request with `method` ended with `rc` (transport) and `http_status`. */
bool kr_retry_wanted(const kr_retry_policy *p, const char *method, int rc, long http_status,
                     int attempt);
/* The delay before retry `attempt`: Retry-After when given (seconds, >= 0),
 * else base * 2^(attempt-1) capped at max, with up to 25% jitter drawn
 * from `random` (any 64-bit value). */
uint64_t kr_retry_delay_ms(const kr_retry_policy *p, int attempt, int retry_after_s,
                           uint64_t random);

#endif /* KR_LIB_CLIENT_INTERNAL_H */
