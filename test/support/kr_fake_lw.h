/* libkreconcile tests — a fake lister-watcher and a fake clock for the
 * reflector and informer: they record every request exactly as sent and
 * let a test answer pages, push watch events, close watches and move time,
 * with no sockets and no sleeping. Test-only; single-threaded. */
#ifndef KR_FAKE_LW_H
#define KR_FAKE_LW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kreconcile/reflector.h"

#define FAKE_MAX_REQ 256

/* One request as the reflector sent it, rendered as query text such as
 * "list limit=500 continue=abc" or
 * "watch rv=12 bookmarks=1 timeout=301 initial=0 match=". */
typedef struct fake_lw {
    kr_listwatch lw;
    char *requests[FAKE_MAX_REQ];
    int timeouts[FAKE_MAX_REQ]; /* timeoutSeconds of watch requests */
    int nrequests;
    /* the pending list request, if any */
    bool list_pending;
    kr_lw_list_cb list_cb;
    void *list_user;
    /* the open watch, if any */
    bool watch_open;
    kr_lw_event_cb on_event;
    kr_lw_close_cb on_close;
    void *watch_user;
    int cancels;
    int fail_next_watch; /* a KR_E* the next watch() call returns */
} fake_lw;

void fake_lw_init(fake_lw *f);
void fake_lw_clear(fake_lw *f);
/* The i-th request text (negative: from the end). */
const char *fake_lw_req(const fake_lw *f, int i);
/* Answer the pending list: `items_json` is a JSON array text. */
void fake_lw_list_ok(fake_lw *f, const char *items_json, const char *rv, const char *cont);
void fake_lw_list_fail(fake_lw *f, int code, int http);
/* The same with a Status's reason and message (e.g. 504 "Timeout"). */
void fake_lw_list_fail_status(fake_lw *f, int code, int http, const char *reason,
                              const char *message);
/* The same with a prepared array (stolen), for allocation-failure sweeps. */
void fake_lw_list_items(fake_lw *f, json_t *items, const char *rv, const char *cont);
/* Deliver a prepared object (borrowed). */
void fake_lw_event_obj(fake_lw *f, kr_watch_event_type type, json_t *obj);
/* Deliver an event to the open watch: `obj_json` is object JSON text. */
void fake_lw_event(fake_lw *f, kr_watch_event_type type, const char *obj_json);
void fake_lw_close(fake_lw *f, int rc, int http);

/* A ConfigMap-ish object "ns/name" at `rv`; new JSON text (free()). */
char *fake_obj(const char *ns, const char *name, const char *rv);

typedef struct fake_timer {
    uint64_t due;
    kr_timer_clock_cb fn;
    void *user;
    bool active;
    uint64_t delay;
} fake_timer;

typedef struct fake_clock {
    kr_timer_clock clock;
    uint64_t now;
    fake_timer timers[1024];
    int ntimers;
} fake_clock;

void fake_clock_init(fake_clock *c);
/* Move time forward, firing due timers in order of their due time. */
void fake_clock_advance(fake_clock *c, uint64_t ms);
/* Active timers and the delay of the most recently scheduled one. */
int fake_clock_active(const fake_clock *c);
uint64_t fake_clock_last_delay(const fake_clock *c);
/* The time until the earliest active timer (UINT64_MAX: none). */
uint64_t fake_clock_next_due(const fake_clock *c);

#endif /* KR_FAKE_LW_H */
