/* libkreconcile-testserver — fault injection (429/500/503 answers, a 500
 * after the write was done, latency, watch cuts, compaction, restart) and the admin endpoints under
 * /_kr/ that set them at run time. Callers hold ts->mu. */
#include <string.h>

#include "testserver/ts_internal.h"

static double unit_random(kr_testserver_t *ts)
{
    return (double)(ts_rand(ts) >> 11) / 9007199254740992.0;
}

bool ts_fault_inject(kr_testserver_t *ts, const ts_request *req, ts_response *resp)
{
    (void)req;
    const kr_testserver_faults *f = &ts->faults;
    if (f->fail_429 <= 0 && f->fail_500 <= 0 && f->fail_503 <= 0)
        return false;
    double r = unit_random(ts);
    if (r < f->fail_429) {
        ts_respond_status(resp, 429, "TooManyRequests",
                          "Too many requests, please try again later.",
                          json_pack("{s:i}", "retryAfterSeconds", 1));
        resp->retry_after = 1;
        return true;
    }
    r -= f->fail_429;
    if (r < f->fail_500) {
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: injected fault",
                          json_pack("{s:[{s:s}]}", "causes", "message", "injected fault"));
        return true;
    }
    r -= f->fail_500;
    if (r < f->fail_503) {
        ts_respond_status(resp, 503, "ServiceUnavailable",
                          "the server is currently unable to "
                          "handle the request (injected fault)",
                          NULL);
        return true;
    }
    return false;
}

void ts_fault_after_write(kr_testserver_t *ts, const ts_request *req, ts_response *resp)
{
    const char *m = req->method;
    bool write = strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
                 strcmp(m, "DELETE") == 0;
    if (ts->faults.fail_500_after_write <= 0 || !write || resp->watch || resp->status < 200 ||
        resp->status >= 300 || unit_random(ts) >= ts->faults.fail_500_after_write)
        return;
    ts_respond_status(resp, 500, "InternalError",
                      "Internal error occurred: injected fault after the write was done",
                      json_pack("{s:[{s:s}]}", "causes", "message", "injected fault"));
}

void ts_compact_locked(kr_testserver_t *ts)
{
    ts_history_clear(ts);
    ts_snapshots_clear(ts);
}

void ts_restart_locked(kr_testserver_t *ts)
{
    ts_watch_close_all(ts);
    ts_compact_locked(ts);
}

static json_t *faults_json(const kr_testserver_faults *f)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:i, s:i, s:b}", "fail429", f->fail_429, "fail500",
                     f->fail_500, "fail503", f->fail_503, "fail500AfterWrite",
                     f->fail_500_after_write, "latencyMs", (int)f->latency_ms, "watchMaxEvents",
                     (int)f->watch_max_events, "watchCutMidEvent", f->watch_cut_mid_event);
}

static int read_fraction(const json_t *doc, const char *key, double *out)
{
    const json_t *v = json_object_get(doc, key);
    if (!v)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
        return -1;
    *out = json_number_value(v);
    return 0;
}

static int read_count(const json_t *doc, const char *key, unsigned *out)
{
    const json_t *v = json_object_get(doc, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 3600000)
        return -1;
    *out = (unsigned)json_integer_value(v);
    return 0;
}

static void set_faults(kr_testserver_t *ts, const ts_request *req, ts_response *resp)
{
    json_t *doc = ts_parse_body(req, false, resp);
    if (!doc)
        return;
    kr_testserver_faults f = ts->faults;
    const json_t *cut = json_object_get(doc, "watchCutMidEvent");
    if (read_fraction(doc, "fail429", &f.fail_429) || read_fraction(doc, "fail500", &f.fail_500) ||
        read_fraction(doc, "fail503", &f.fail_503) ||
        read_fraction(doc, "fail500AfterWrite", &f.fail_500_after_write) ||
        read_count(doc, "latencyMs", &f.latency_ms) ||
        read_count(doc, "watchMaxEvents", &f.watch_max_events) || (cut && !json_is_boolean(cut))) {
        ts_respond_bad_request(resp, "faults: fractions are numbers in [0,1], counts are "
                                     "non-negative integers, watchCutMidEvent is a boolean");
    } else {
        if (cut)
            f.watch_cut_mid_event = json_is_true(cut);
        ts->faults = f;
        ts_delay_retime(ts);
        ts_respond_json(resp, 200, faults_json(&f));
    }
    json_decref(doc);
}

static void respond_done(ts_response *resp, kr_testserver_t *ts, bool with_requests)
{
    json_t *body = json_pack("{s:I, s:I, s:I}", "resourceVersion", (json_int_t)ts->rv, "watches",
                             (json_int_t)ts->nwatches, "historyFloor", (json_int_t)ts->rv_floor);
    if (body && with_requests)
        json_object_set_new(body, "requests", ts_stats_requests(ts));
    ts_respond_json(resp, 200, body);
}

bool ts_handle_admin(kr_testserver_t *ts, const ts_request *req, ts_response *resp)
{
    const char *p = req->path + 4; /* after "/_kr" */
    bool post = strcmp(req->method, "POST") == 0, get = strcmp(req->method, "GET") == 0;
    if (strcmp(p, "/faults") == 0 && get)
        ts_respond_json(resp, 200, faults_json(&ts->faults));
    else if (strcmp(p, "/faults") == 0 && post)
        set_faults(ts, req, resp);
    else if (strcmp(p, "/close-watches") == 0 && post)
        ts_watch_close_all(ts);
    else if (strcmp(p, "/compact") == 0 && post)
        ts_compact_locked(ts);
    else if (strcmp(p, "/restart") == 0 && post)
        ts_restart_locked(ts);
    else if (strcmp(p, "/stats") == 0 && get)
        ;
    else if (strcmp(p, "/stats/reset") == 0 && post)
        ts_stats_reset(ts);
    else
        return false;
    if (resp->status == 0)
        respond_done(resp, ts, strcmp(p, "/stats") == 0);
    return true;
}
