/* libkreconcile tests — the fake lister-watcher and clock of kr_fake_lw.h.
 * Aborts the test (ck_abort) on misuse, e.g. answering a list that was
 * never requested. */
#include "kr_fake_lw.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int LIST_HANDLE, WATCH_HANDLE;

static void record(fake_lw *f, char *text, int timeout)
{
    ck_assert_ptr_nonnull(text);
    ck_assert_int_lt(f->nrequests, FAKE_MAX_REQ);
    f->timeouts[f->nrequests] = timeout;
    f->requests[f->nrequests++] = text;
}

static char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *format, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, format);
    if (vasprintf(&out, format, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

#define S(x) ((x) ? (x) : "")

static int fake_list(void *impl, const kr_lw_list_request *req, kr_lw_list_cb cb, void *user,
                     void **handle, kr_error_t *err)
{
    (void)err;
    fake_lw *f = impl;
    ck_assert_msg(!f->list_pending, "two lists at once");
    record(f,
           fmt("list limit=%ld continue=%s rv=%s match=%s labels=%s fields=%s", req->limit,
               S(req->continue_token), S(req->resource_version), S(req->resource_version_match),
               S(req->label_selector), S(req->field_selector)),
           0);
    f->list_pending = true;
    f->list_cb = cb;
    f->list_user = user;
    *handle = &LIST_HANDLE;
    return 0;
}

static int fake_watch(void *impl, const kr_lw_watch_request *req, kr_lw_event_cb on_event,
                      kr_lw_close_cb on_close, void *user, void **handle, kr_error_t *err)
{
    fake_lw *f = impl;
    ck_assert_msg(!f->watch_open, "two watches at once");
    record(f,
           fmt("watch rv=%s bookmarks=%d initial=%d match=%s labels=%s fields=%s",
               S(req->resource_version), req->allow_watch_bookmarks, req->send_initial_events,
               S(req->resource_version_match), S(req->label_selector), S(req->field_selector)),
           req->timeout_seconds);
    if (f->fail_next_watch) {
        int rc = f->fail_next_watch;
        f->fail_next_watch = 0;
        return kr_error_set(err, rc, "fake: watch refused");
    }
    f->watch_open = true;
    f->on_event = on_event;
    f->on_close = on_close;
    f->watch_user = user;
    *handle = &WATCH_HANDLE;
    return 0;
}

static void fake_cancel(void *impl, void *handle)
{
    fake_lw *f = impl;
    f->cancels++;
    if (handle == &LIST_HANDLE) {
        ck_assert(f->list_pending);
        f->list_pending = false;
    } else {
        ck_assert(handle == &WATCH_HANDLE);
        ck_assert(f->watch_open);
        f->watch_open = false;
    }
}

static const kr_listwatch_vtable FAKE_VT = {fake_list, fake_watch, fake_cancel};

void fake_lw_init(fake_lw *f)
{
    memset(f, 0, sizeof(*f));
    f->lw.vt = &FAKE_VT;
    f->lw.impl = f;
}

void fake_lw_clear(fake_lw *f)
{
    for (int i = 0; i < f->nrequests; i++)
        free(f->requests[i]);
    f->nrequests = 0;
}

const char *fake_lw_req(const fake_lw *f, int i)
{
    if (i < 0)
        i += f->nrequests;
    ck_assert_msg(i >= 0 && i < f->nrequests, "no request %d (have %d)", i, f->nrequests);
    return f->requests[i];
}

void fake_lw_list_ok(fake_lw *f, const char *items_json, const char *rv, const char *cont)
{
    ck_assert_msg(f->list_pending, "no list pending");
    json_error_t jerr;
    json_t *items = json_loads(items_json, 0, &jerr);
    ck_assert_msg(items != NULL, "bad items json: %s", jerr.text);
    f->list_pending = false;
    f->list_cb(items, rv, cont, NULL, f->list_user);
}

void fake_lw_list_items(fake_lw *f, json_t *items, const char *rv, const char *cont)
{
    ck_assert_msg(f->list_pending, "no list pending");
    f->list_pending = false;
    f->list_cb(items, rv, cont, NULL, f->list_user);
}

void fake_lw_event_obj(fake_lw *f, kr_watch_event_type type, json_t *obj)
{
    ck_assert_msg(f->watch_open, "no watch open");
    f->on_event(type, obj, f->watch_user);
}

void fake_lw_list_fail(fake_lw *f, int code, int http)
{
    ck_assert_msg(f->list_pending, "no list pending");
    kr_error_t err = {0};
    kr_error_set(&err, code, "fake list failure");
    err.http_code = http;
    f->list_pending = false;
    f->list_cb(NULL, NULL, NULL, &err, f->list_user);
}

void fake_lw_list_fail_status(fake_lw *f, int code, int http, const char *reason,
                              const char *message)
{
    ck_assert_msg(f->list_pending, "no list pending");
    kr_error_t err = {0};
    kr_error_set(&err, code, "%s", message);
    err.http_code = http;
    snprintf(err.reason, sizeof(err.reason), "%s", reason);
    f->list_pending = false;
    f->list_cb(NULL, NULL, NULL, &err, f->list_user);
}

void fake_lw_event(fake_lw *f, kr_watch_event_type type, const char *obj_json)
{
    ck_assert_msg(f->watch_open, "no watch open");
    json_error_t jerr;
    json_t *obj = json_loads(obj_json, 0, &jerr);
    ck_assert_msg(obj != NULL, "bad object json: %s", jerr.text);
    f->on_event(type, obj, f->watch_user);
    json_decref(obj);
}

void fake_lw_close(fake_lw *f, int rc, int http)
{
    ck_assert_msg(f->watch_open, "no watch open");
    kr_error_t err = {0};
    if (rc)
        kr_error_set(&err, rc, "fake watch failure");
    err.http_code = http;
    f->watch_open = false;
    f->on_close(rc, rc ? &err : NULL, f->watch_user);
}

char *fake_obj(const char *ns, const char *name, const char *rv)
{
    return fmt("{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\","
               "\"namespace\":\"%s\",\"resourceVersion\":\"%s\",\"labels\":{\"app\":\"%s\"}},"
               "\"data\":{\"k\":\"%s\"}}",
               name, ns, rv, name, rv);
}

/* ---- clock ------------------------------------------------------------------ */

static uint64_t clock_now(void *impl)
{
    return ((fake_clock *)impl)->now;
}

static int clock_schedule(void *impl, uint64_t delay, kr_timer_clock_cb fn, void *user,
                          void **handle)
{
    fake_clock *c = impl;
    int slot = -1;
    for (int i = 0; i < c->ntimers; i++)
        if (!c->timers[i].active) {
            slot = i;
            break;
        }
    if (slot < 0) {
        ck_assert_int_lt(c->ntimers, 1023);
        slot = c->ntimers++;
    }
    c->timers[slot] = (fake_timer){c->now + delay, fn, user, true, delay};
    c->timers[1023].delay = delay; /* last scheduled delay lives in the spare slot */
    *handle = &c->timers[slot];
    return 0;
}

static void clock_cancel(void *impl, void *handle)
{
    (void)impl;
    fake_timer *t = handle;
    ck_assert(t->active);
    t->active = false;
}

static const kr_timer_clock_vtable CLOCK_VT = {clock_now, clock_schedule, clock_cancel};

void fake_clock_init(fake_clock *c)
{
    memset(c, 0, sizeof(*c));
    c->clock.vt = &CLOCK_VT;
    c->clock.impl = c;
    c->now = 1000000;
}

void fake_clock_advance(fake_clock *c, uint64_t ms)
{
    uint64_t end = c->now + ms;
    for (;;) {
        fake_timer *next = NULL;
        for (int i = 0; i < c->ntimers; i++)
            if (c->timers[i].active && c->timers[i].due <= end &&
                (!next || c->timers[i].due < next->due))
                next = &c->timers[i];
        if (!next)
            break;
        if (next->due > c->now)
            c->now = next->due;
        next->active = false;
        next->fn(next->user);
    }
    c->now = end;
}

int fake_clock_active(const fake_clock *c)
{
    int n = 0;
    for (int i = 0; i < c->ntimers; i++)
        n += c->timers[i].active;
    return n;
}

uint64_t fake_clock_last_delay(const fake_clock *c)
{
    return c->timers[1023].delay;
}

uint64_t fake_clock_next_due(const fake_clock *c)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < c->ntimers; i++)
        if (c->timers[i].active && c->timers[i].due - c->now < best)
            best = c->timers[i].due - c->now;
    return best;
}
