/* libkreconcile-testserver — watch streams: fan-out of events to open
 * watches into bounded per-watch buffers, resumption from the history
 * ring, selector transitions, bookmarks and timeouts (wire spec §5). A
 * slow reader only fills its own buffer; past the bound it is closed. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

void ts_lock(kr_testserver_t *ts)
{
    pthread_mutex_lock(&ts->mu);
}

void ts_unlock(kr_testserver_t *ts)
{
    ts_watch *wake = ts->wake_head;
    ts->wake_head = NULL;
    pthread_mutex_unlock(&ts->mu);
    /* A queued watch stays suspended until we resume it, so neither it nor
     * its connection can go away in between. */
    while (wake) {
        ts_watch *next = wake->wake_next;
        ts_http_resume(wake->conn);
        wake = next;
    }
}

void ts_watch_wake(kr_testserver_t *ts, ts_watch *w)
{
    if (!w->suspended)
        return;
    w->suspended = false;
    w->wake_next = ts->wake_head;
    ts->wake_head = w;
}

static size_t pending(const ts_watch *w)
{
    return w->buf.len - w->off;
}

static void append(ts_watch *w, const char *data, size_t len)
{
    if (w->closing)
        return;
    if (pending(w) + len > w->ts->opts.watch_buffer_bytes && pending(w) > 0) {
        /* Too far behind: end the stream, as the apiserver does; the
         * client re-watches from the last RV it saw. */
        w->closing = true;
        return;
    }
    if (w->off > 0 && w->off == w->buf.len)
        w->buf.len = w->off = 0;
    if (kr_buf_append(&w->buf, data, len) != 0)
        w->closing = true;
}

/* Applies the "close after N events" fault around one event line. */
static void append_event(ts_watch *w, const char *line, size_t len)
{
    const kr_testserver_faults *f = &w->ts->faults;
    if (f->watch_max_events && w->events >= f->watch_max_events) {
        if (f->watch_cut_mid_event && len > 1)
            append(w, line, 1 + (size_t)(ts_rand(w->ts) % (len - 1)));
        w->closing = true;
        return;
    }
    append(w, line, len);
    w->events++;
}

/* A bookmark is the store's empty object with a resourceVersion: a typed
 * one encodes Go's zero creationTimestamp as null, an unstructured one (a
 * custom resource) holds only what was set. */
static void append_bookmark(ts_watch *w, bool initial_end)
{
    char line[512];
    snprintf(line, sizeof(line),
             "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
             "\"metadata\":{\"resourceVersion\":\"%llu\"%s%s}}}\n",
             w->kind, w->api_version, w->ts->rv,
             w->unstructured ? "" : ",\"creationTimestamp\":null",
             initial_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : "");
    append(w, line, strlen(line));
    w->last_send_ms = ts_now_ms();
}

static bool in_scope(const ts_watch *w, const json_t *obj)
{
    const char *name = w->name ? ts_meta_str(obj, "name") : NULL;
    if (w->name && (!name || strcmp(name, w->name) != 0))
        return false;
    if (!w->ns)
        return true;
    const char *ns = ts_meta_str(obj, "namespace");
    return ns && strcmp(ns, w->ns) == 0;
}

static bool watch_matches(const ts_watch *w, const json_t *obj)
{
    return obj && in_scope(w, obj) && ts_object_matches(w->labels, &w->fields, obj);
}

static const char *const TYPE_NAMES[] = {"ADDED", "MODIFIED", "DELETED"};

/* Whether a watcher of a shared CRD version needs its own line for obj
 * (stored under another version's apiVersion); *line is then that line,
 * NULL when out of memory. */
static bool versioned_line(const ts_watch *w, const char *type, const json_t *obj, char **line,
                           size_t *len)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    if (!w->versioned || (av && strcmp(av, w->api_version) == 0))
        return false;
    json_t *copy = w->to_served ? w->to_served(obj) : ts_with_api_version(obj, w->api_version);
    char *text = copy ? ts_dump_text(copy) : NULL;
    json_decref(copy);
    *line = text ? kr_asprintf("{\"type\":\"%s\",\"object\":%s}\n", type, text) : NULL;
    *len = *line ? strlen(*line) : 0;
    kr_free(text);
    return true;
}

/* The watcher's own line {type, object} for `obj`, in its form (a Table,
 * PartialObjectMetadata, its CRD version, or as stored). A new string
 * (kr_free), or NULL when out of memory. */
static char *watcher_line(const ts_watch *w, const char *type, const json_t *obj, size_t *len)
{
    char *line = NULL;
    if (w->table)
        return ts_table_event_line(w->table, type, obj, len);
    if (!w->partial && versioned_line(w, type, obj, &line, len))
        return line;
    json_t *partial = w->partial ? ts_partial_of(obj) : NULL;
    char *text = ts_dump_text(w->partial ? partial : obj);
    json_decref(partial);
    line = text ? kr_asprintf("{\"type\":\"%s\",\"object\":%s}\n", type, text) : NULL;
    *len = line ? strlen(line) : 0;
    kr_free(text);
    return line;
}

/* The DELETED line of an object that stopped matching the watch's
 * selectors: its previous state at the event's resourceVersion, as
 * kube-apiserver's cacheWatcher sends it (the new state would not match
 * the watcher's own selectors). A new string, or NULL. */
static char *stopped_matching_line(const ts_watch *w, const ts_event *ev, size_t *len)
{
    json_t *prev = json_copy(ev->old);
    const json_t *old_meta = json_object_get(ev->old, "metadata");
    json_t *meta = old_meta ? json_copy((json_t *)old_meta) : json_object();
    if (!prev || !meta ||
        json_object_set_new(meta, "resourceVersion", json_sprintf("%llu", ev->rv)) != 0) {
        json_decref(prev);
        json_decref(meta);
        return NULL;
    }
    if (json_object_set_new(prev, "metadata", meta) != 0) {
        json_decref(prev);
        return NULL;
    }
    char *line = watcher_line(w, "DELETED", prev, len);
    json_decref(prev);
    return line;
}

static void deliver(ts_watch *w, ts_event *ev)
{
    if (w->closing || ev->store_id != w->store_id || ev->rv <= w->min_rv)
        return;
    bool now = watch_matches(w, ev->obj);
    bool before = ev->type == TS_MODIFIED && watch_matches(w, ev->old);
    ts_event_type type = ev->type;
    if (ev->type == TS_MODIFIED && now != before)
        type = now ? TS_ADDED : TS_DELETED;
    else if (!now && !(ev->type == TS_MODIFIED && before))
        return;
    /* Lines are made once per event and shared by every watcher that
     * gets the same type in the same form; a Table is the watcher's own
     * (its first carries the columns, ages change), and so is the state an
     * object left the selectors in. */
    size_t len = 0;
    char *own = NULL;
    bool stopped = ev->type == TS_MODIFIED && type == TS_DELETED;
    if (stopped)
        own = stopped_matching_line(w, ev, &len);
    else if (w->table)
        own = ts_table_event_line(w->table, TYPE_NAMES[type], ev->obj, &len);
    bool mine = stopped || w->table ||
                (!w->partial && versioned_line(w, TYPE_NAMES[type], ev->obj, &own, &len));
    const char *line = mine         ? own
                       : w->partial ? ts_event_partial_line(ev, type, &len)
                                    : ts_event_line(ev, type, &len);
    if (!line) {
        w->closing = true;
        return;
    }
    append_event(w, line, len);
    kr_free(own);
    w->last_send_ms = ts_now_ms();
}

void ts_watch_fanout(kr_testserver_t *ts, ts_event *ev)
{
    for (ts_watch *w = ts->watches; w; w = w->next) {
        deliver(w, ev);
        if (pending(w) > 0 || w->closing)
            ts_watch_wake(ts, w);
    }
}

static void close_where(kr_testserver_t *ts, bool all, unsigned store_id)
{
    for (ts_watch *w = ts->watches; w; w = w->next) {
        if (all || w->store_id == store_id) {
            w->closing = true;
            ts_watch_wake(ts, w);
        }
    }
}

void ts_watch_close_all(kr_testserver_t *ts)
{
    close_where(ts, true, 0);
}

void ts_watch_close_store(kr_testserver_t *ts, unsigned store_id)
{
    close_where(ts, false, store_id);
}

static void watch_destroy(ts_watch *w)
{
    kr_free(w->ns);
    kr_free(w->name);
    kr_free(w->kind);
    kr_free(w->api_version);
    ts_table_free(w->table);
    ts_labels_free(w->labels);
    ts_fieldsel_free(&w->fields);
    kr_buf_free(&w->buf);
    kr_free(w);
}

static void unlink_watch(kr_testserver_t *ts, ts_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (ts->watches == w)
        ts->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    ts->nwatches--;
    pthread_cond_broadcast(&ts->watches_cv);
}

void ts_watch_free(ts_watch *w)
{
    if (!w)
        return;
    kr_testserver_t *ts = w->ts;
    ts_lock(ts);
    unlink_watch(ts, w);
    ts_unlock(ts);
    watch_destroy(w);
}

void ts_watch_detach(ts_watch *w)
{
    ts_watch_free(w);
}

long ts_watch_read(ts_watch *w, char *buf, size_t max)
{
    kr_testserver_t *ts = w->ts;
    ts_lock(ts);
    size_t n = pending(w);
    if (n > 0) {
        if (n > max)
            n = max;
        memcpy(buf, w->buf.data + w->off, n);
        w->off += n;
        if (w->off == w->buf.len)
            w->buf.len = w->off = 0;
        ts_unlock(ts);
        return (long)n;
    }
    bool gone = w->probe && ts_http_peer_closed(w->conn);
    w->probe = false;
    if (w->closing || ts->stopping || gone) {
        ts_unlock(ts);
        return -1;
    }
    w->suspended = true;
    ts_http_suspend(w->conn);
    ts_unlock(ts);
    return 0;
}

/* ---- opening a watch ----------------------------------------------------------- */

static void respond_list_options_invalid(ts_response *resp, const char *field, const char *text)
{
    char cause[256];
    snprintf(cause, sizeof(cause), "Forbidden: %s", text);
    ts_respond_invalid(resp, "ListOptions", "meta.k8s.io", "", field, "FieldValueForbidden", cause);
}

struct watch_params {
    bool has_rv;
    unsigned long long rv;
    int send_initial; /* -1 unset */
    int bookmarks;
    long timeout_s;
};

static int parse_watch_params(kr_testserver_t *ts, const ts_request *req, struct watch_params *p,
                              ts_response *resp)
{
    const char *rv = ts_query(req, "resourceVersion");
    const char *rvm = ts_query(req, "resourceVersionMatch");
    const char *sie = ts_query(req, "sendInitialEvents");
    const char *to = ts_query(req, "timeoutSeconds");
    memset(p, 0, sizeof(*p));
    p->send_initial = sie ? ts_query_bool(req, "sendInitialEvents") : -1;
    p->bookmarks = ts_query_bool(req, "allowWatchBookmarks");
    p->timeout_s = ts->opts.watch_timeout_s;
    if (p->bookmarks < 0 || (sie && p->send_initial < 0)) {
        ts_respond_bad_request(resp, "invalid boolean value in watch parameters");
        return -1;
    }
    if (rv && *rv) {
        uint64_t v = 0;
        int bad = kr_rv_parse(rv, &v);
        p->rv = v;
        if (bad) {
            ts_respond_bad_request(resp, "invalid resource version: %s", rv);
            return -1;
        }
        p->has_rv = p->rv != 0;
        /* from a resourceVersion this server has not reached (a client
         * that knew another server of this address, restored or made
         * anew): kube-apiserver's watch cache waits for it, then gives up
         * as a list does, and the client lists again */
        if (p->rv > ts->rv) {
            char msg[160];
            snprintf(msg, sizeof(msg), "Timeout: Too large resource version: %llu, current: %llu",
                     (unsigned long long)p->rv, ts->rv);
            ts_respond_status(resp, 504, "Timeout", msg,
                              json_pack("{s:[{s:s,s:s}], s:i}", "causes", "reason",
                                        "ResourceVersionTooLarge", "message",
                                        "Too large resource version", "retryAfterSeconds", 1));
            return -1;
        }
    }
    if (to) {
        char *end;
        long v = strtol(to, &end, 10);
        if (*end || v < 0) {
            ts_respond_bad_request(resp, "invalid timeoutSeconds: %s", to);
            return -1;
        }
        if (v > 0)
            p->timeout_s = v;
    }
    if (rvm && p->send_initial < 0) {
        respond_list_options_invalid(
            resp, "resourceVersionMatch",
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
        return -1;
    }
    if (p->send_initial >= 0 && (!rvm || strcmp(rvm, "NotOlderThan") != 0)) {
        respond_list_options_invalid(
            resp, "resourceVersionMatch",
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
        return -1;
    }
    const char *cont = ts_query(req, "continue");
    if (rvm && cont && *cont) {
        respond_list_options_invalid(resp, "resourceVersionMatch",
                                     "resourceVersionMatch is forbidden when continue is provided");
        return -1;
    }
    /* kube-apiserver 1.32 (WatchList on) defaults a watch without an RV,
     * or at "0", that names neither: a watch-list, whose initial events
     * end with the initial-events-end bookmark when bookmarks are allowed */
    if (p->send_initial < 0 && !rvm && !p->has_rv)
        p->send_initial = 1;
    return 0;
}

static ts_watch *watch_new(kr_testserver_t *ts, const ts_route *rt)
{
    ts_watch *w = kr_calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->ts = ts;
    w->store_id = rt->res->store->id;
    w->kind = kr_strdup(rt->res->kind);
    w->api_version = ts_api_version(rt->res);
    w->unstructured = rt->res->crd;
    w->versioned = rt->res->shared_versions;
    w->to_served = rt->res->to_served;
    w->ns = rt->ns ? kr_strdup(rt->ns) : NULL;
    w->name = rt->name && rt->legacy_watch ? kr_strdup(rt->name) : NULL;
    if (!w->kind || !w->api_version || (rt->ns && !w->ns) ||
        (rt->name && rt->legacy_watch && !w->name)) {
        watch_destroy(w);
        return NULL;
    }
    return w;
}

static void send_initial_events(ts_watch *w, const ts_resource *res)
{
    const ts_store *st = res->store;
    for (size_t i = 0; i < st->len && !w->closing; i++) {
        const json_t *obj = st->items[i].obj;
        if (!watch_matches(w, obj))
            continue;
        size_t len;
        char *line = watcher_line(w, "ADDED", obj, &len);
        if (!line) {
            w->closing = true;
            break;
        }
        /* The initial state is sent whole, whatever the buffer bound. */
        if (kr_buf_append_str(&w->buf, line) != 0)
            w->closing = true;
        kr_free(line);
    }
}

static void replay_history(kr_testserver_t *ts, ts_watch *w)
{
    for (size_t i = 0; i < ts->ring_len && !w->closing; i++)
        deliver(w, &ts->ring[(ts->ring_head + i) % ts->ring_cap]);
}

static void send_expired(ts_watch *w, unsigned long long rv)
{
    char line[512];
    snprintf(line, sizeof(line),
             "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
             "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: "
             "%llu (%llu)\",\"reason\":\"Expired\",\"code\":410}}\n",
             rv, w->ts->rv_floor);
    append(w, line, strlen(line));
    w->closing = true;
}

static void watch_start(kr_testserver_t *ts, ts_watch *w, const ts_resource *res,
                        const struct watch_params *p)
{
    uint64_t now = ts_now_ms();
    w->bookmarks = p->bookmarks == 1;
    w->deadline_ms = now + (uint64_t)p->timeout_s * 1000u;
    w->last_send_ms = now;
    w->min_rv = p->has_rv ? p->rv : ts->rv;
    bool initial = p->send_initial == 1 || (p->send_initial < 0 && !p->has_rv);
    if (initial) {
        w->min_rv = ts->rv;
        send_initial_events(w, res);
        if (p->send_initial == 1 && w->bookmarks)
            append_bookmark(w, true);
    } else if (!p->has_rv) {
        /* sendInitialEvents=false without an RV: changes from now on. */
    } else if (p->rv < ts->rv_floor) {
        send_expired(w, p->rv);
    } else {
        replay_history(ts, w);
    }
    w->next = ts->watches;
    if (ts->watches)
        ts->watches->prev = w;
    ts->watches = w;
    ts->nwatches++;
    pthread_cond_broadcast(&ts->watches_cv);
}

void ts_handle_watch(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                     ts_response *resp)
{
    struct watch_params p;
    if (parse_watch_params(ts, req, &p, resp) != 0)
        return;
    ts_watch *w = watch_new(ts, rt);
    if (!w) {
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                          NULL);
        return;
    }
    if (ts_parse_selectors(req, rt->res, &w->labels, &w->fields, resp) != 0) {
        watch_destroy(w);
        return;
    }
    w->partial = ts_partial_negotiate(req, rt);
    if (w->partial) {
        /* bookmarks too come as PartialObjectMetadata */
        kr_free(w->kind);
        kr_free(w->api_version);
        w->kind = kr_strdup("PartialObjectMetadata");
        w->api_version = kr_strdup("meta.k8s.io/v1");
        w->unstructured = false;
        if (!w->kind || !w->api_version) {
            watch_destroy(w);
            ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                              NULL);
            return;
        }
    }
    w->table = rt->table; /* taken over from the request (handler.c) */
    watch_start(ts, w, rt->res, &p);
    ts_response_clear_body(resp);
    resp->status = 200;
    resp->content_type = "application/json";
    resp->watch = w;
}

/* ---- bookmarks and timeouts ---------------------------------------------------- */

static void tick(kr_testserver_t *ts)
{
    uint64_t now = ts_now_ms();
    unsigned interval = ts->opts.bookmark_interval_ms;
    unsigned probe_interval = interval < 5000 ? interval : 5000;
    for (ts_watch *w = ts->watches; w; w = w->next) {
        if (w->closing)
            continue;
        if (now >= w->deadline_ms) {
            if (w->bookmarks)
                append_bookmark(w, false);
            w->closing = true;
        } else if (w->bookmarks && now - w->last_send_ms >= interval) {
            append_bookmark(w, false);
        } else if (now - w->last_probe_ms >= probe_interval) {
            /* Resume idle streams now and then so that the transport
             * notices clients that went away. */
            w->last_probe_ms = now;
            w->probe = true;
        } else {
            continue;
        }
        ts_watch_wake(ts, w);
    }
}

/* Take the delayed requests due by now (all of them when stopping); the
 * caller resumes them after unlocking. */
static ts_delayed *take_due(kr_testserver_t *ts)
{
    int64_t now = kr_clock_monotonic_ns();
    ts_delayed *due = ts->delayed, *last = NULL;
    for (ts_delayed *d = ts->delayed; d && (ts->stopping || d->due_ns <= now); d = d->next)
        last = d;
    if (!last)
        return NULL;
    ts->delayed = last->next;
    if (!ts->delayed)
        ts->delayed_last = NULL;
    last->next = NULL;
    return due;
}

static void resume_all(ts_delayed *d)
{
    while (d) {
        ts_delayed *next = d->next; /* d goes with its connection */
        ts_http_resume(d->conn);
        d = next;
    }
}

bool ts_delay(kr_testserver_t *ts, ts_delayed *d, void *conn, const char *path)
{
    if (strncmp(path, "/_kr/", 5) == 0)
        return false;
    ts_lock(ts);
    unsigned ms = ts->faults.latency_ms;
    if (ms == 0 || ts->stopping || !ts->ticker_started) {
        ts_unlock(ts);
        return false;
    }
    /* one latency for all (a change re-times the waiting ones): arrival
     * order is due order, so the request goes last */
    d->conn = conn;
    d->since_ns = kr_clock_monotonic_ns();
    d->due_ns = d->since_ns + kr_ms_to_ns(ms);
    d->next = NULL;
    if (ts->delayed_last)
        ts->delayed_last->next = d;
    else
        ts->delayed = d;
    ts->delayed_last = d;
    ts_http_suspend(conn);
    if (ts->delayed == d)
        pthread_cond_signal(&ts->ticker_cv);
    ts_unlock(ts);
    return true;
}

void ts_delay_retime(kr_testserver_t *ts)
{
    /* one latency for all: arrival order stays due order */
    for (ts_delayed *d = ts->delayed; d; d = d->next)
        d->due_ns = d->since_ns + kr_ms_to_ns(ts->faults.latency_ms);
    if (ts->ticker_started && !ts->stopping)
        pthread_cond_signal(&ts->ticker_cv);
}

static void *ticker_main(void *arg)
{
    kr_testserver_t *ts = arg;
    unsigned period = ts->opts.bookmark_interval_ms / 4;
    if (period > 100)
        period = 100;
    if (period < 5)
        period = 5;
    ts_lock(ts);
    int64_t next_tick = 0;
    while (!ts->stopping) {
        int64_t now = kr_clock_monotonic_ns();
        if (now >= next_tick) {
            tick(ts);
            next_tick = now + kr_ms_to_ns(period);
        }
        ts_owners_verify(ts);
        ts_delayed *due = take_due(ts);
        ts_unlock(ts); /* resumes the watches tick() woke */
        resume_all(due);
        ts_lock(ts);
        int64_t until_ns = next_tick;
        if (ts->delayed && ts->delayed->due_ns < until_ns)
            until_ns = ts->delayed->due_ns;
        struct timespec until = {.tv_sec = until_ns / 1000000000, .tv_nsec = until_ns % 1000000000};
        if (!ts->stopping)
            pthread_cond_timedwait(&ts->ticker_cv, &ts->mu, &until);
    }
    ts_delayed *left = take_due(ts); /* resumed, so that the transport can stop */
    ts_unlock(ts);
    resume_all(left);
    return NULL;
}

int ts_ticker_start(kr_testserver_t *ts)
{
    if (kr_cond_init(&ts->ticker_cv) != 0)
        return KR_ENOMEM;
    if (pthread_create(&ts->ticker, NULL, ticker_main, ts) != 0) {
        pthread_cond_destroy(&ts->ticker_cv);
        return KR_ENOMEM;
    }
    ts_lock(ts); /* the HTTP threads read it (ts_delay) */
    ts->ticker_started = true;
    ts_unlock(ts);
    return 0;
}

void ts_ticker_stop(kr_testserver_t *ts)
{
    ts_lock(ts);
    bool started = ts->ticker_started;
    ts->stopping = true;
    if (started)
        pthread_cond_signal(&ts->ticker_cv);
    ts_unlock(ts);
    if (!started)
        return;
    pthread_join(ts->ticker, NULL);
    ts_lock(ts);
    ts->ticker_started = false;
    ts_unlock(ts);
    pthread_cond_destroy(&ts->ticker_cv);
}
