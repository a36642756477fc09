/* libkreconcile tests — a small libcurl client for wire tests against the
 * in-memory apiserver: one-shot requests and watch streams pumped with
 * curl's multi interface (no threads, no sleeps). Test-only. */
#ifndef KR_TS_CLIENT_H
#define KR_TS_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct tc_response {
    long status;
    char *body;
    size_t len;
    char content_type[256];
    char retry_after[32];
    char warnings[2048]; /* the Warning headers' values, one per line */
    char headers[4096]; /* every header line as received ("Name: value"), one per line */
    json_t *json; /* parsed body, or NULL */
} tc_response;

/* Perform `method` on base+path with optional body and headers ("Name: value"
 * strings, NULL-terminated; may be NULL). Fills *out; free with tc_free. */
void tc_request(const char *base, const char *method, const char *path, const char *content_type,
                const char *body, const char *const *headers, tc_response *out);
void tc_free(tc_response *r);
/* Present this client certificate (PEM files) on later TLS requests;
 * NULL stops. */
void tc_set_client_cert(const char *cert, const char *key);

/* Convenience: JSON POST/PUT/GET/DELETE with Content-Type application/json. */
void tc_json(const char *base, const char *method, const char *path, const char *body,
             tc_response *out);

/* A watch stream. */
typedef struct tc_watch tc_watch;
tc_watch *tc_watch_open(const char *base, const char *path, const char *const *headers);
/* The same with a 4 KiB socket receive buffer: a reader that falls behind
 * quickly when not pumped. */
tc_watch *tc_watch_open_small(const char *base, const char *path);
/* Pump until `n` complete lines arrived or the stream ended; deadline in ms.
 * Returns the number of complete lines so far. */
size_t tc_watch_wait(tc_watch *w, size_t n, int deadline_ms);
/* Pump until the stream ends (true) or the deadline passes (false). */
bool tc_watch_wait_end(tc_watch *w, int deadline_ms);
/* The i-th complete line parsed as JSON (borrowed), or NULL. */
json_t *tc_watch_event(tc_watch *w, size_t i);
size_t tc_watch_lines(const tc_watch *w);
/* Bytes received after the last newline (a cut event). */
size_t tc_watch_partial(const tc_watch *w);
void tc_watch_close(tc_watch *w);

/* The value at a dotted path ("spec.template.spec"; numbers index
 * arrays) in obj (borrowed), or NULL. */
const json_t *tc_dig(const json_t *obj, const char *path);

/* Helpers on events: "ADDED" etc. and the object's metadata.name / RV. */
const char *tc_event_type(const json_t *ev);
const char *tc_event_name(const json_t *ev);
unsigned long long tc_event_rv(const json_t *ev);

#endif /* KR_TS_CLIENT_H */
