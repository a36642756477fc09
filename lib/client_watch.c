/* libkreconcile — watches: one streamed GET per watch, decoded event by event
 * on the loop thread, tracking the last resourceVersion; a clean end of
 * stream, a 410 and other failures are reported apart. A watch costs no
 * thread and little memory; it never retries by itself. */
#include <stdio.h>
#include <string.h>

#include "client_state.h"

struct kr_watch {
    kr_runtime_t *rt;
    kr_client_t *c; /* NULL once the watch has ended */
    kr_throttled thr;
    kr_http_xfer *xfer;
    kr_watch_decoder dec;
    kr_watch_event_cb on_event;
    kr_watch_end_cb on_end;
    void *user;
    char *path;
    char *accept; /* NULL: application/json */
    char *rv;
    unsigned long events;
    kr_error_t *fail; /* a decoding failure, kept for on_end */
    struct kr_watch *prev, *next;
    unsigned depth; /* this watch's callbacks under way: they nest */
    bool linked, ended, freed, submitted;
    bool warned; /* the response's warnings were handed on */
};

static const char *const TYPE_NAMES[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *kr_watch_event_type_name(kr_watch_event_type type)
{
    if (type < KR_WATCH_ADDED || type > KR_WATCH_ERROR)
        return NULL;
    return TYPE_NAMES[type - 1];
}

const char *kr_watch_resource_version(const kr_watch_t *watch)
{
    return watch->rv ? watch->rv : "";
}

unsigned long kr_watch_event_count(const kr_watch_t *watch)
{
    return watch->events;
}

static void unlink_watch(kr_watch_t *w)
{
    kr_client_t *c = w->c;
    if (!w->linked || !c)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        c->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->linked = false;
}

static void destroy(kr_watch_t *w)
{
    kr_watch_decoder_free(&w->dec);
    kr_free(w->path);
    kr_free(w->accept);
    kr_free(w->rv);
    kr_free(w->fail);
    kr_free(w);
}

/* Destroy a watch freed inside a callback once no callback of its own is
 * under way any more: the outermost frame does it. */
static void reap(kr_watch_t *w)
{
    if (w->freed && !w->depth)
        destroy(w);
}

/* Cut the watch from its transfer and its client: what ending it and
 * freeing it both do first. */
static void detach(kr_watch_t *w)
{
    if (w->xfer) {
        kr_http_cancel(w->xfer);
        w->xfer = NULL;
    }
    if (w->c)
        kr_client_unthrottle(w->c, &w->thr);
    unlink_watch(w);
    w->c = NULL;
}

/* End the watch once: stop the transfer and tell the owner. */
static void end_watch(kr_watch_t *w, int rc, const kr_error_t *err)
{
    if (w->ended)
        return;
    w->ended = true;
    detach(w);
    if (w->on_end && !w->freed) {
        w->depth++;
        w->on_end(w, rc, rc ? err : NULL, w->user);
        w->depth--;
    }
}

static void set_rv(kr_watch_t *w, const json_t *object)
{
    const char *rv =
        json_string_value(json_object_get(json_object_get(object, "metadata"), "resourceVersion"));
    if (!rv || !*rv)
        return;
    if (w->rv && strcmp(w->rv, rv) == 0)
        return;
    char *copy = kr_strdup(rv);
    if (!copy)
        return; /* keep the older one: a relist at worst */
    kr_free(w->rv);
    w->rv = copy;
}

static int on_event(kr_watch_event_type type, json_t *object, void *user)
{
    kr_watch_t *w = user;
    if (w->ended)
        return KR_ECANCELED;
    if (type != KR_WATCH_ERROR)
        set_rv(w, object);
    w->events++;
    w->depth++;
    w->on_event(w, type, object, w->user);
    w->depth--;
    /* freed, or ended (its client freed) inside the callback: no more
     * events; on_data destroys a freed watch */
    if (w->freed || w->ended)
        return KR_ECANCELED;
    if (type == KR_WATCH_ERROR) {
        kr_error_t err = {0};
        int rc = kr_status_error_json(object, 500, -1, w->path, &err);
        end_watch(w, rc, &err);
        return KR_ECANCELED;
    }
    return 0;
}

static int on_data(kr_http_xfer *x, const char *data, size_t len, void *user)
{
    kr_watch_t *w = user;
    if (!w->warned && w->c) {
        /* before the first event, as client-go's handler hears them when
         * the response's headers come */
        w->warned = true;
        kr_client_warn(w->c, kr_http_stream_warnings(x));
    }
    if (len == 0)
        return 0; /* the headers alone */
    kr_error_t err = {0};
    int rc = kr_watch_decoder_feed(&w->dec, data, len, on_event, w, &err);
    if (w->freed) {
        /* Freed inside a callback: the transfer is canceled, nothing will
         * touch the watch again. */
        reap(w);
        return KR_ECANCELED;
    }
    if (rc != 0 && rc != KR_ECANCELED && !w->fail) {
        w->fail = kr_calloc(1, sizeof(*w->fail));
        if (w->fail)
            *w->fail = err;
    }
    return rc;
}

static void on_done(kr_http_xfer *x, int rc, const kr_http_response *resp, const char *message,
                    void *user)
{
    (void)x;
    kr_watch_t *w = user;
    w->xfer = NULL;
    kr_error_t err = {0};
    if (rc == 0 && resp->status >= 200 && resp->status < 300) {
        /* A clean end, unless it cut an event in half. */
        rc = kr_watch_decoder_finish(&w->dec, &err);
    } else if (rc == 0) {
        if (w->c)
            kr_client_warn(w->c, resp->warnings.data);
        rc = kr_status_error(resp->status, resp->content_type, resp->body.data, resp->body.len,
                             resp->retry_after_s, w->path, &err);
    } else if (w->fail) {
        err = *w->fail;
        rc = w->fail->code ? w->fail->code : rc;
    } else {
        kr_error_set(&err, rc, "watch %s: %s", w->path,
                     message && *message ? message : kr_strerror(rc));
    }
    end_watch(w, rc, &err);
    reap(w);
}

static void start_stream(void *arg)
{
    kr_watch_t *w = arg;
    kr_http_request hr = {
        .method = "GET",
        .path = w->path,
        .accept = w->accept ? w->accept : "application/json",
        .stream = true,
    };
    kr_error_t err = {0};
    int rc = kr_http_start(w->c->http, &hr, on_data, on_done, w, &w->xfer, &err);
    if (rc != 0) {
        end_watch(w, rc, &err);
        reap(w); /* freed inside its on_end */
    }
}

static void submit_on_loop(void *arg)
{
    kr_watch_t *w = arg;
    kr_client_t *c = w->c;
    w->submitted = true;
    if (w->freed) {
        destroy(w);
        return;
    }
    w->next = c->watches;
    if (c->watches)
        c->watches->prev = w;
    c->watches = w;
    w->linked = true;
    if (c->stopped || c->closing) {
        kr_error_t err = {0};
        kr_error_set(&err, KR_ESHUTDOWN, "watch %s: the client is stopping", w->path);
        end_watch(w, KR_ESHUTDOWN, &err);
        reap(w); /* freed inside its on_end */
        return;
    }
    w->thr.go = start_stream;
    w->thr.arg = w;
    w->thr.method = "GET";
    kr_client_throttle(c, &w->thr);
}

int kr_client_watch(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                    const kr_list_opts *opts, kr_watch_event_cb on_event_fn,
                    kr_watch_end_cb on_end_fn, void *user, kr_watch_t **out, kr_error_t *err)
{
    *out = NULL;
    if (!on_event_fn)
        return kr_error_set(err, KR_EINVAL, "watch: an event callback is required");
    kr_watch_t *w = kr_calloc(1, sizeof(*w));
    if (!w)
        return kr_error_set(err, KR_ENOMEM, "watch: out of memory");
    kr_request req = {.verb = KR_VERB_LIST, .ref = {gvr, namespace_, NULL, NULL}, .list = opts};
    kr_buf url = {0};
    int rc = kr_client_build_url(&url, &req, true, err);
    if (rc != 0) {
        kr_buf_free(&url);
        kr_free(w);
        return rc;
    }
    w->c = client;
    w->rt = client->rt;
    w->path = url.data;
    w->on_event = on_event_fn;
    w->on_end = on_end_fn;
    w->user = user;
    kr_watch_decoder_init(&w->dec, client->opts.max_event_bytes);
    w->dec.drop_managed_fields = opts && opts->version >= 2 && opts->drop_managed_fields;
    if (opts && opts->accept && !(w->accept = kr_strdup(opts->accept))) {
        destroy(w);
        return kr_error_set(err, KR_ENOMEM, "watch: out of memory");
    }
    if (opts && opts->resource_version && *opts->resource_version) {
        w->rv = kr_strdup(opts->resource_version);
        if (!w->rv) {
            destroy(w);
            return kr_error_set(err, KR_ENOMEM, "watch: out of memory");
        }
    }
    rc = kr_runtime_call(client->rt, submit_on_loop, w);
    if (rc != 0) {
        destroy(w);
        return kr_error_set(err, rc, "watch: %s",
                            rc == KR_ESHUTDOWN ? "the runtime has stopped" : "out of memory");
    }
    *out = w;
    return 0;
}

static void free_on_loop(void *arg)
{
    kr_watch_t *w = arg;
    w->freed = true;
    if (!w->submitted)
        return; /* submit_on_loop destroys it */
    detach(w);
    w->ended = true;
    /* Inside its own callback the outermost frame destroys it on return. */
    reap(w);
}

void kr_watch_free(kr_watch_t *watch)
{
    if (!watch)
        return;
    kr_runtime_on_loop(watch->rt, free_on_loop, watch);
}

void kr_client_detach_watches(kr_client_t *c)
{
    while (c->watches) {
        kr_watch_t *w = c->watches;
        kr_error_t err = {0};
        kr_error_set(&err, KR_ESHUTDOWN, "watch %s: the client is stopping", w->path);
        end_watch(w, KR_ESHUTDOWN, &err);
        reap(w); /* freed inside its on_end, unless inside its on_event too */
    }
}
