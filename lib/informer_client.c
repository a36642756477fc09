/* libkreconcile — adapters that let the reflector run on the real thing: a
 * kr_listwatch over kr_client (LIST pages, WATCH streams) and a
 * kr_timer_clock over the runtime's loop timers. Glue only: every
 * decision about what to request lives in reflector.c. */
#include <string.h>

#include "informer_internal.h"
#include "internal.h"
#include "kreconcile/informer.h"

enum { CTX_LIST = 1, CTX_WATCH = 2 };

typedef struct client_lw {
    kr_client_t *client;
    char *group, *version, *resource, *namespace_;
    bool metadata_only; /* PartialObjectMetadata(List), as client-go's metadata client */
    bool drop_managed_fields; /* list items and watch events decoded without them */
} client_lw;

typedef struct list_ctx {
    int tag;
    bool canceled;
    kr_lw_list_cb cb;
    void *user;
} list_ctx;

typedef struct watch_ctx {
    int tag;
    kr_watch_t *watch;
    kr_lw_event_cb on_event;
    kr_lw_close_cb on_close;
    void *user;
} watch_ctx;

static kr_gvr gvr_of(const client_lw *c)
{
    return KR_GVR(c->group, c->version, c->resource);
}

static void list_done(json_t *result, const kr_error_t *err, void *user)
{
    list_ctx *ctx = user;
    if (ctx->canceled) {
        kr_free(ctx);
        return;
    }
    kr_lw_list_cb cb = ctx->cb;
    void *cb_user = ctx->user;
    kr_free(ctx);
    if (err) {
        cb(NULL, NULL, NULL, err, cb_user);
        return;
    }
    json_t *items = json_object_get(result, "items");
    const json_t *md = json_object_get(result, "metadata");
    if (!json_is_array(items)) {
        kr_error_t bad = {0};
        kr_error_set(&bad, KR_EPARSE, "list response without an items array");
        cb(NULL, NULL, NULL, &bad, cb_user);
        return;
    }
    cb(json_incref(items), json_string_value(json_object_get(md, "resourceVersion")),
       json_string_value(json_object_get(md, "continue")), NULL, cb_user);
}

static int lw_list(void *impl, const kr_lw_list_request *req, kr_lw_list_cb cb, void *user,
                   void **handle, kr_error_t *err)
{
    client_lw *c = impl;
    list_ctx *ctx = kr_calloc(1, sizeof(*ctx));
    if (!ctx)
        return kr_error_set(err, KR_ENOMEM, "listwatch: out of memory");
    ctx->tag = CTX_LIST;
    ctx->cb = cb;
    ctx->user = user;
    kr_list_opts lo = {
        .version = KR_LIST_OPTS_VERSION,
        .label_selector = req->label_selector,
        .field_selector = req->field_selector,
        .resource_version = req->resource_version,
        .resource_version_match = req->resource_version_match,
        .limit = req->limit,
        .continue_token = req->continue_token,
        .accept = c->metadata_only ? KR_CLIENT_ACCEPT_PARTIAL_METADATA_LIST : NULL,
        .drop_managed_fields = c->drop_managed_fields,
    };
    kr_request r = {
        .verb = KR_VERB_LIST, .ref = {.gvr = gvr_of(c), .namespace_ = c->namespace_}, .list = &lo};
    int rc = kr_client_do(c->client, &r, list_done, ctx, err);
    if (rc != 0) {
        kr_free(ctx);
        return rc;
    }
    *handle = ctx;
    return 0;
}

static void watch_event(kr_watch_t *w, kr_watch_event_type type, json_t *obj, void *user)
{
    (void)w;
    watch_ctx *ctx = user;
    ctx->on_event((kr_watch_event_type)type, obj, ctx->user);
}

static void watch_end(kr_watch_t *w, int rc, const kr_error_t *err, void *user)
{
    watch_ctx *ctx = user;
    kr_lw_close_cb cb = ctx->on_close;
    void *cb_user = ctx->user;
    kr_error_t copy = {0};
    if (err)
        copy = *err;
    kr_free(ctx);
    kr_watch_free(w);
    cb(rc, err ? &copy : NULL, cb_user);
}

static int lw_watch(void *impl, const kr_lw_watch_request *req, kr_lw_event_cb on_event,
                    kr_lw_close_cb on_close, void *user, void **handle, kr_error_t *err)
{
    client_lw *c = impl;
    watch_ctx *ctx = kr_calloc(1, sizeof(*ctx));
    if (!ctx)
        return kr_error_set(err, KR_ENOMEM, "listwatch: out of memory");
    ctx->tag = CTX_WATCH;
    ctx->on_event = on_event;
    ctx->on_close = on_close;
    ctx->user = user;
    kr_list_opts lo = {
        .version = KR_LIST_OPTS_VERSION,
        .label_selector = req->label_selector,
        .field_selector = req->field_selector,
        .resource_version = req->resource_version,
        .resource_version_match = req->resource_version_match,
        .timeout_seconds = req->timeout_seconds,
        .allow_watch_bookmarks = req->allow_watch_bookmarks,
        .send_initial_events = req->send_initial_events,
        .accept = c->metadata_only ? KR_CLIENT_ACCEPT_PARTIAL_METADATA : NULL,
        .drop_managed_fields = c->drop_managed_fields,
    };
    int rc = kr_client_watch(c->client, gvr_of(c), c->namespace_, &lo, watch_event, watch_end, ctx,
                             &ctx->watch, err);
    if (rc != 0) {
        kr_free(ctx);
        return rc;
    }
    *handle = ctx;
    return 0;
}

static void lw_cancel(void *impl, void *handle)
{
    (void)impl;
    int tag = *(int *)handle;
    if (tag == CTX_LIST) {
        /* kr_client has no cancel for one request: the context is freed
         * when the answer arrives (or the runtime stops) */
        ((list_ctx *)handle)->canceled = true;
        return;
    }
    watch_ctx *ctx = handle;
    kr_watch_free(ctx->watch);
    kr_free(ctx);
}

static const kr_listwatch_vtable CLIENT_LW_VT = {lw_list, lw_watch, lw_cancel};

void kr_listwatch_client_drop_managed_fields(kr_listwatch *lw)
{
    ((client_lw *)lw->impl)->drop_managed_fields = true;
}

int kr_listwatch_client_new_metadata(kr_client_t *client, kr_gvr resource, const char *namespace_,
                                     kr_listwatch *out, kr_error_t *err)
{
    int rc = kr_listwatch_client_new(client, resource, namespace_, out, err);
    if (rc == 0)
        ((client_lw *)out->impl)->metadata_only = true;
    return rc;
}

int kr_listwatch_client_new(kr_client_t *client, kr_gvr resource, const char *namespace_,
                            kr_listwatch *out, kr_error_t *err)
{
    if (!client || !out || !resource.version || !resource.resource)
        return kr_error_set(err, KR_EINVAL, "listwatch: client, version and resource required");
    client_lw *c = kr_calloc(1, sizeof(*c));
    if (!c)
        return kr_error_set(err, KR_ENOMEM, "listwatch: out of memory");
    c->client = client;
    c->group = kr_strdup(resource.group ? resource.group : "");
    c->version = kr_strdup(resource.version);
    c->resource = kr_strdup(resource.resource);
    c->namespace_ = (namespace_ && *namespace_) ? kr_strdup(namespace_) : NULL;
    if (!c->group || !c->version || !c->resource || (namespace_ && *namespace_ && !c->namespace_)) {
        kr_listwatch tmp = {&CLIENT_LW_VT, c};
        kr_listwatch_client_free(&tmp);
        return kr_error_set(err, KR_ENOMEM, "listwatch: out of memory");
    }
    out->vt = &CLIENT_LW_VT;
    out->impl = c;
    return 0;
}

void kr_listwatch_client_free(kr_listwatch *lw)
{
    if (!lw || lw->vt != &CLIENT_LW_VT || !lw->impl)
        return;
    client_lw *c = lw->impl;
    kr_free(c->group);
    kr_free(c->version);
    kr_free(c->resource);
    kr_free(c->namespace_);
    kr_free(c);
    lw->impl = NULL;
}

/* ---- runtime clock ------------------------------------------------------------- */

typedef struct rt_timer {
    kr_timer_t *timer;
    kr_timer_clock_cb fn;
    void *user;
} rt_timer;

static uint64_t rt_now(void *impl)
{
    return kr_runtime_now_ms(impl);
}

static void rt_fired(kr_timer_t *timer, void *user)
{
    rt_timer *t = user;
    kr_timer_clock_cb fn = t->fn;
    void *fn_user = t->user;
    kr_timer_free(timer);
    kr_free(t);
    fn(fn_user);
}

static int rt_schedule(void *impl, uint64_t delay, kr_timer_clock_cb fn, void *user, void **handle)
{
    rt_timer *t = kr_calloc(1, sizeof(*t));
    if (!t)
        return KR_ENOMEM;
    t->fn = fn;
    t->user = user;
    int rc = kr_timer_new(impl, rt_fired, t, &t->timer, NULL);
    if (rc == 0)
        rc = kr_timer_start(t->timer, delay, 0);
    if (rc != 0) {
        kr_timer_free(t->timer);
        kr_free(t);
        return rc;
    }
    *handle = t;
    return 0;
}

static void rt_cancel(void *impl, void *handle)
{
    (void)impl;
    rt_timer *t = handle;
    kr_timer_free(t->timer);
    kr_free(t);
}

static const kr_timer_clock_vtable RT_CLOCK_VT = {rt_now, rt_schedule, rt_cancel};

void kr_timer_clock_runtime(kr_runtime_t *rt, kr_timer_clock *out)
{
    out->vt = &RT_CLOCK_VT;
    out->impl = rt;
}
