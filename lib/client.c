/* libkreconcile — the REST client's requests: building them on the calling
 * thread, pacing them through the token bucket on the loop thread, retrying
 * with backoff, decoding results and Status failures, and the blocking
 * wrappers for worker threads. Watches live in client_watch.c, discovery in
 * client_discovery.c. Never blocks the loop thread. */
#include <errno.h>
#include <limits.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_state.h"
#include "config_internal.h"

#define MODULE "client"

typedef struct kr_creq {
    kr_client_t *c;
    kr_throttled thr;
    char method[8];
    char *path;
    char *body;
    size_t body_len;
    const char *content_type; /* static strings */
    const char *accept;
    char *accept_copy; /* a LIST's own Accept, when it has one */
    uint64_t timeout_ms; /* the whole request's, retries included; 0 = none */
    int64_t deadline_ns; /* set when the first attempt starts; 0 = none */
    kr_client_cb cb;
    void *user;
    bool cb_steals; /* cb owns the result (internal blocking callers) */
    int drop_managed_fields; /* DROP_*: kr_write_opts' or (a LIST) kr_list_opts' */
    struct late_body *late; /* a blocking caller's: its 2xx body is parsed there */
    char *content_type_out; /* raw requests: where to copy the answer's type */
    size_t content_type_out_size;
    int attempt;
    int64_t start_ns; /* when it was asked for (only with metrics) */
    kr_timer_t *retry_timer;
    kr_http_xfer *xfer;
    struct kr_creq *prev, *next;
    bool linked;
    bool in_direct_submit; /* inside kr_client_do on the loop thread */
    kr_error_t *early_failure; /* a failure there, reported on the next turn */
    bool early_oom; /* a failure there with no memory to report it */
} kr_creq;

/* A 2xx body handed to the blocking caller unparsed, so that its JSON is
 * parsed on the caller's thread rather than on the loop thread. Written on
 * the loop thread before the callback, read by the caller after it. */
typedef struct late_body {
    char *data; /* kr_malloc'd copy; NULL when none was handed over */
    size_t len;
    long status;
    int retry_after_s;
    char method[8];
    char *path; /* kr_malloc'd */
    int drop_managed_fields; /* DROP_* */
} late_body;

/* Which managedFields an answer is parsed without: none, the object's, or
 * (a list) its items'. */
enum { DROP_NONE = 0, DROP_OBJECT, DROP_ITEMS };

/* A response body (ours to edit) as JSON, without the managedFields
 * `drop` names, cut from the text first. */
static json_t *parse_answer(char *data, size_t len, int drop, json_error_t *jerr)
{
    static const char *const object[] = {"metadata", "managedFields"};
    static const char *const items[] = {"items", "[]", "metadata", "managedFields"};
    if (drop == DROP_OBJECT)
        len = kr_json_cut_members(data, len, object, KR_ARRAY_LEN(object));
    else if (drop == DROP_ITEMS)
        len = kr_json_cut_members(data, len, items, KR_ARRAY_LEN(items));
    return kr_json_loadb_server(data, len, 0, jerr);
}

static const char JSON_TYPE[] = "application/json";

static const char *patch_type(kr_patch_format f)
{
    const char *t = kr_patch_content_type(f);
    return t ? t : kr_patch_content_type(KR_PATCH_MERGE);
}

unsigned long kr_client_http2_responses(kr_client_t *c)
{
    return atomic_load(&c->http2_responses);
}

kr_runtime_t *kr_client_runtime(kr_client_t *client)
{
    return client->rt;
}

const char *kr_client_default_namespace(const kr_client_t *client)
{
    return client->default_ns;
}

static uint64_t next_random(kr_client_t *c)
{
    return kr_rng_next(&c->rng); /* jitter only, not security */
}

/* ---- the rate limiter queue (loop thread) ---- */

static void on_throttle_timer(uv_timer_t *timer);

static void arm_throttle(kr_client_t *c)
{
    if (!c->throttle_head) {
        uv_timer_stop(&c->throttle_timer);
        return;
    }
    uint64_t now = uv_now(kr_runtime_loop(c->rt));
    uint64_t ready = c->throttle_head->ready_ms;
    uv_timer_start(&c->throttle_timer, on_throttle_timer, ready > now ? ready - now : 0, 0);
}

static void on_throttle_timer(uv_timer_t *timer)
{
    kr_client_t *c = timer->data;
    uint64_t now = uv_now(kr_runtime_loop(c->rt));
    while (c->throttle_head && c->throttle_head->ready_ms <= now) {
        kr_throttled *t = c->throttle_head;
        c->throttle_head = t->next;
        if (!c->throttle_head)
            c->throttle_tail = NULL;
        t->next = NULL;
        t->queued = false;
        if (c->metrics.rate_limiter)
            kr_client_metrics_throttled(&c->metrics, t->method,
                                        kr_clock_monotonic_ns() - t->queued_ns);
        t->go(t->arg);
    }
    arm_throttle(c);
}

void kr_client_throttle(kr_client_t *c, kr_throttled *t)
{
    uint64_t now = uv_now(kr_runtime_loop(c->rt));
    uint64_t delay =
        ((uint64_t)kr_bucket_reserve(&c->limiter, (int64_t)now * 1000000, 0) + 999999) /
        1000000; /* ns, rounded up to the loop's ms */
    if (delay == 0 && !c->throttle_head) {
        if (c->metrics.rate_limiter)
            kr_client_metrics_throttled(&c->metrics, t->method, 0);
        t->go(t->arg);
        return;
    }
    if (c->metrics.rate_limiter)
        t->queued_ns = kr_clock_monotonic_ns();
    /* Reservations are handed out in order, so the queue stays sorted. */
    t->ready_ms = now + delay;
    t->next = NULL;
    t->queued = true;
    if (c->throttle_tail)
        c->throttle_tail->next = t;
    else
        c->throttle_head = t;
    c->throttle_tail = t;
    if (c->throttle_head == t)
        arm_throttle(c);
}

void kr_client_unthrottle(kr_client_t *c, kr_throttled *t)
{
    if (!t->queued)
        return;
    kr_throttled *prev = NULL;
    for (kr_throttled *p = c->throttle_head; p; prev = p, p = p->next) {
        if (p != t)
            continue;
        if (prev)
            prev->next = p->next;
        else
            c->throttle_head = p->next;
        if (c->throttle_tail == p)
            c->throttle_tail = prev;
        break;
    }
    t->queued = false;
    t->next = NULL;
}

/* ---- requests (loop thread) ---- */

static void free_creq(kr_creq *r)
{
    kr_free(r->early_failure);
    kr_timer_free(r->retry_timer);
    kr_free(r->path);
    kr_free(r->accept_copy);
    kr_free(r->body);
    kr_free(r);
}

static void link_creq(kr_client_t *c, kr_creq *r)
{
    r->next = c->reqs;
    r->prev = NULL;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    r->linked = true;
}

static void unlink_creq(kr_client_t *c, kr_creq *r)
{
    if (!r->linked)
        return;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->linked = false;
}

/* `result` is stolen. A callback that takes ownership (the blocking
 * wrappers) gets it; others borrow it and it is released here, so that no
 * reference count is touched on the loop thread after a hand-off. */
static void complete(kr_creq *r, json_t *result, const kr_error_t *err)
{
    kr_client_t *c = r->c;
    /* before the callback, which may wake a caller who reads the metrics */
    if (r->start_ns)
        kr_client_metrics_request_done(&c->metrics, r->method, r->start_ns);
    unlink_creq(c, r);
    kr_client_unthrottle(c, &r->thr);
    if (r->xfer) {
        kr_http_cancel(r->xfer);
        r->xfer = NULL;
    }
    if (r->cb)
        r->cb(result, err, r->user);
    if (!r->cb_steals)
        json_decref(result);
    free_creq(r);
}

static void complete_code(kr_creq *r, int code, const char *why)
{
    kr_error_t err = {0};
    kr_error_set(&err, code, "%s %s: %s", r->method, r->path, why);
    complete(r, NULL, &err);
}

static void on_http_done(kr_http_xfer *x, int rc, const kr_http_response *resp, const char *message,
                         void *user);

static void start_attempt(void *arg)
{
    kr_creq *r = arg;
    kr_client_t *c = r->c;
    /* The timeout bounds the whole request, its retries and their waits
     * included, as client-go's does; it starts after the first attempt's
     * turn in the rate limiter (a throttled client does not time out
     * before it made one request), and each attempt gets what is left. */
    uint64_t timeout_ms = r->timeout_ms;
    if (r->timeout_ms) {
        int64_t now = kr_clock_monotonic_ns();
        if (!r->deadline_ns)
            r->deadline_ns = kr_ns_after_ms(now, r->timeout_ms);
        if (now >= r->deadline_ns) { /* a retry held up in the rate limiter */
            complete_code(r, KR_ETIMEDOUT, "the request's timeout passed before a retry");
            return;
        }
        uint64_t left = (uint64_t)(r->deadline_ns - now) / 1000000;
        timeout_ms = left ? left : 1;
    }
    kr_http_request hr = {
        .method = r->method,
        .path = r->path,
        .accept = r->accept,
        .content_type = r->body ? r->content_type : NULL,
        .body = r->body,
        .body_len = r->body_len,
        .timeout_ms = timeout_ms > LONG_MAX ? LONG_MAX : (long)timeout_ms,
    };
    kr_error_t err = {0};
    int rc = kr_http_start(c->http, &hr, NULL, on_http_done, r, &r->xfer, &err);
    if (rc == 0)
        return;
    if (r->in_direct_submit) {
        /* The callback must not run inside kr_client_do: the failure is
         * reported on the next turn, or, short of memory even for that,
         * kr_client_do fails and the callback never runs. The queued
         * report alone completes it: a stop that fails every request
         * before the report runs must not complete it (and free it)
         * first. */
        unlink_creq(c, r);
        r->early_failure = kr_malloc(sizeof(*r->early_failure));
        if (r->early_failure)
            *r->early_failure = err;
        else
            r->early_oom = true;
        return;
    }
    complete(r, NULL, &err);
}

static void report_early_failure(void *arg)
{
    kr_creq *r = arg;
    kr_error_t err = *r->early_failure;
    complete(r, NULL, &err);
}

static void on_retry_timer(kr_timer_t *timer, void *user)
{
    (void)timer;
    kr_creq *r = user;
    kr_client_throttle(r->c, &r->thr);
}

static bool schedule_retry(kr_creq *r, int rc, const kr_http_response *resp, const char *message)
{
    kr_client_t *c = r->c;
    int attempt = r->attempt + 1;
    long status = rc == 0 ? resp->status : 0;
    if (c->stopped || c->closing || !kr_retry_wanted(&c->retry, r->method, rc, status, attempt))
        return false;
    uint64_t delay =
        kr_retry_delay_ms(&c->retry, attempt, rc == 0 ? resp->retry_after_s : -1, next_random(c));
    /* no retry the timeout would cut off: the last answer is the result */
    if (r->deadline_ns && kr_ns_after_ms(kr_clock_monotonic_ns(), delay) >= r->deadline_ns)
        return false;
    if (!r->retry_timer && kr_timer_new(c->rt, on_retry_timer, r, &r->retry_timer, NULL) != 0)
        return false;
    r->attempt = attempt;
    if (rc == 0)
        kr_log(c->log, KR_LOG_INFO, MODULE, "%s %s: HTTP %ld, retry %d in %llu ms", r->method,
               r->path, status, attempt, (unsigned long long)delay);
    else
        kr_log(c->log, KR_LOG_INFO, MODULE, "%s %s: %s, retry %d in %llu ms", r->method, r->path,
               message, attempt, (unsigned long long)delay);
    kr_timer_start(r->retry_timer, delay, 0);
    return true;
}

/* Hand a 2xx body to the blocking caller to parse: the transport's buffer
 * and the request's path move over, nothing is copied. */
static void hand_over(kr_creq *r, kr_http_xfer *x, const kr_http_response *resp)
{
    late_body *l = r->late;
    kr_buf body = {0};
    kr_http_take_body(x, &body);
    l->data = body.data;
    l->len = body.len;
    l->path = r->path;
    r->path = NULL;
    l->status = resp->status;
    l->retry_after_s = resp->retry_after_s;
    l->drop_managed_fields = r->drop_managed_fields;
    memcpy(l->method, r->method, sizeof(l->method));
}

/* The default warning handler: each distinct text logged once. */
static void log_warning_once(kr_client_t *c, const char *text)
{
    for (size_t i = 0; i < c->nwarned; i++)
        if (strcmp(c->warned[i], text) == 0)
            return;
    kr_log(c->log, KR_LOG_WARN, MODULE, "server warning: %s", text);
    if (!c->warned)
        c->warned = kr_calloc(KR_CLIENT_WARNED, sizeof(char *));
    if (c->warned && c->nwarned < KR_CLIENT_WARNED &&
        (c->warned[c->nwarned] = kr_strdup(text)) != NULL)
        c->nwarned++;
}

static void on_warning(int code, const char *text, void *user)
{
    kr_client_t *c = user;
    if (code != 299 || !*text) /* as client-go: only 299 "miscellaneous persistent" */
        return;
    if (c->opts.on_warning)
        c->opts.on_warning(text, c->opts.on_warning_user);
    else
        log_warning_once(c, text);
}

uint64_t kr_client_timeout_ms(const kr_client_t *c)
{
    return c->cfg.timeout_ms;
}

void kr_client_warn(kr_client_t *c, const char *values)
{
    const char *line = values;
    while (line && *line) {
        size_t len = strcspn(line, "\n");
        char *one = kr_strndup(line, len);
        if (one)
            kr_parse_warnings(one, on_warning, c);
        kr_free(one);
        line += len + (line[len] == '\n');
    }
}

/* A list's items as a client reads them: a real kube-apiserver leaves
 * `apiVersion` and `kind` off the items of built-in lists (a ConfigMapList's
 * items have neither); each item with neither (absent or "") gets the
 * list's apiVersion and its kind less "List", as client-go's unstructured
 * decoding does (an item with either keeps what it has), so
 * that a cached object says what it is (owner references, events). Other
 * bodies are left alone. */
static void list_items_typed(json_t *body)
{
    json_t *items = json_object_get(body, "items");
    const char *kind = json_string_value(json_object_get(body, "kind"));
    const char *api_version = json_string_value(json_object_get(body, "apiVersion"));
    size_t len = kind ? strlen(kind) : 0;
    if (!json_is_array(items) || !api_version || len <= 4 || strcmp(kind + len - 4, "List") != 0)
        return;
    json_t *item_kind = NULL, *item_api_version = NULL;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        /* both or neither, as client-go: an item with either says its own */
        const char *ik = json_string_value(json_object_get(item, "kind"));
        const char *iv = json_string_value(json_object_get(item, "apiVersion"));
        if (!json_is_object(item) || (ik && *ik) || (iv && *iv))
            continue;
        if ((!item_kind && !(item_kind = json_stringn(kind, len - 4))) ||
            (!item_api_version && !(item_api_version = json_string(api_version))))
            break;
        json_object_set(item, "kind", item_kind);
        json_object_set(item, "apiVersion", item_api_version);
    }
    json_decref(item_kind);
    json_decref(item_api_version);
}

static void on_http_done(kr_http_xfer *x, int rc, const kr_http_response *resp, const char *message,
                         void *user)
{
    kr_creq *r = user;
    r->xfer = NULL;
    if (rc == 0)
        kr_client_warn(r->c, resp->warnings.data);
    /* one line per answer, as client-go logs at -v=6 (paths only, never
     * headers or bodies) */
    if (rc == 0)
        kr_log(r->c->log, KR_LOG_DEBUG, MODULE, "%s %s: HTTP %ld", r->method, r->path,
               resp->status);
    else
        kr_log(r->c->log, KR_LOG_DEBUG, MODULE, "%s %s: %s", r->method, r->path,
               message && *message ? message : kr_strerror(rc));
    if (resp->http2)
        atomic_fetch_add(&r->c->http2_responses, 1);
    if (r->content_type_out)
        snprintf(r->content_type_out, r->content_type_out_size, "%s", resp->content_type);
    if (rc == 0 && resp->status >= 200 && resp->status < 300) {
        json_t *result = NULL;
        if (resp->body.len > 0 && r->late) {
            hand_over(r, x, resp);
            complete(r, NULL, NULL);
            return;
        }
        if (resp->body.len > 0) {
            json_error_t jerr;
            result = parse_answer(resp->body.data, resp->body.len, r->drop_managed_fields, &jerr);
            if (!result) {
                kr_error_t err = {0};
                kr_error_set(&err, KR_EPARSE, "%s %s: the response is not JSON: %s", r->method,
                             r->path, jerr.text);
                complete(r, NULL, &err);
                return;
            }
        }
        /* A 2xx carrying a failed Status is still a failure. */
        const char *st = json_string_value(json_object_get(result, "status"));
        if (result && kr_is_status(result) && st && strcmp(st, "Failure") == 0) {
            kr_error_t err = {0};
            kr_status_error_json(result, resp->status, resp->retry_after_s, r->path, &err);
            json_decref(result);
            complete(r, NULL, &err);
            return;
        }
        list_items_typed(result);
        complete(r, result, NULL);
        return;
    }
    if (schedule_retry(r, rc, resp, message))
        return;
    kr_error_t err = {0};
    if (rc != 0)
        kr_error_set(&err, rc, "%s %s: %s", r->method, r->path,
                     message && *message ? message : kr_strerror(rc));
    else
        kr_status_error(resp->status, resp->content_type, resp->body.data, resp->body.len,
                        resp->retry_after_s, r->path, &err);
    complete(r, NULL, &err);
}

static void submit_on_loop(void *arg)
{
    kr_creq *r = arg;
    kr_client_t *c = r->c;
    link_creq(c, r);
    if (c->stopped || c->closing) {
        complete_code(r, c->stopped ? KR_ESHUTDOWN : KR_ECANCELED,
                      c->stopped ? "the runtime has stopped" : "the client was freed");
        return;
    }
    r->thr.go = start_attempt;
    r->thr.arg = r;
    r->thr.method = r->method;
    kr_client_throttle(c, &r->thr);
}

static int submit(kr_client_t *c, kr_creq *r, kr_error_t *err)
{
    /* On the loop thread of a live client, start at once: no queue hop. */
    if (kr_runtime_is_loop_thread(c->rt) && !c->stopped && !c->closing) {
        r->in_direct_submit = true;
        submit_on_loop(r);
        r->in_direct_submit = false;
        if (!r->early_failure && !r->early_oom)
            return 0;
        int rc = KR_ENOMEM;
        if (r->early_failure && (rc = kr_runtime_call(c->rt, report_early_failure, r)) == 0)
            return 0;
        free_creq(r);
        return kr_error_set(err, rc, "client: %s",
                            rc == KR_ESHUTDOWN ? "the runtime has stopped" : "out of memory");
    }
    int rc = kr_runtime_call(c->rt, submit_on_loop, r);
    if (rc != 0) {
        free_creq(r);
        return kr_error_set(err, rc, "client: %s",
                            rc == KR_ESHUTDOWN ? "the runtime has stopped" : "out of memory");
    }
    return 0;
}

static kr_creq *new_creq(kr_client_t *c, const char *method, kr_client_cb cb, void *user)
{
    kr_creq *r = kr_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->c = c;
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->accept = JSON_TYPE;
    r->cb = cb;
    r->user = user;
    r->timeout_ms = c->cfg.timeout_ms;
    if (c->metrics.duration)
        r->start_ns = kr_clock_monotonic_ns();
    return r;
}

static const char *method_of(kr_verb verb)
{
    switch (verb) {
    case KR_VERB_GET:
    case KR_VERB_LIST:
        return "GET";
    case KR_VERB_CREATE:
        return "POST";
    case KR_VERB_UPDATE:
        return "PUT";
    case KR_VERB_PATCH:
        return "PATCH";
    case KR_VERB_DELETE:
    case KR_VERB_DELETE_COLLECTION:
        return "DELETE";
    default:
        return NULL;
    }
}

static json_t *delete_options(const kr_delete_opts *d)
{
    json_t *o = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    if (!o)
        return NULL;
    int rc = 0;
    if (d->propagation_policy)
        rc |= json_object_set_new(o, "propagationPolicy", json_string(d->propagation_policy));
    if (d->has_grace_period)
        rc |= json_object_set_new(o, "gracePeriodSeconds",
                                  json_integer((json_int_t)d->grace_period_seconds));
    if (d->precondition_uid || d->precondition_resource_version) {
        json_t *pre = json_object();
        rc |= pre ? 0 : -1;
        if (pre && d->precondition_uid)
            rc |= json_object_set_new(pre, "uid", json_string(d->precondition_uid));
        if (pre && d->precondition_resource_version)
            rc |= json_object_set_new(pre, "resourceVersion",
                                      json_string(d->precondition_resource_version));
        rc |= json_object_set_new(o, "preconditions", pre);
    }
    if (d->dry_run)
        rc |= json_object_set_new(o, "dryRun", json_pack("[s]", "All"));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int do_request(kr_client_t *client, const kr_request *req, kr_client_cb cb, void *user,
                      late_body *late, kr_error_t *err);

/* The compact JSON of a request body into r->body (kr_malloc'd), by the
 * library's printer: the bytes json_dumps(JSON_COMPACT) gives, in about a
 * fifth of its time (it decodes every string one code point at a time and
 * hashes every container for loop detection). A tree that printer leaves
 * to jansson (invalid UTF-8, a loop, not an object or array) goes through
 * json_dumps, which refuses it as before. 0 or -1. */
static int print_body(kr_creq *r, const json_t *body)
{
    kr_buf text = {0};
    /* json_dumps prints only objects and arrays (no JSON_ENCODE_ANY) */
    if ((json_is_object(body) || json_is_array(body)) && kr_buf_reserve(&text, 1024) == 0 &&
        kr_json_print_strict(body, &text) == 0) {
        r->body = text.data;
        r->body_len = text.len;
        return 0;
    }
    kr_buf_free(&text);
    char *dumped = json_dumps(body, JSON_COMPACT);
    if (!dumped)
        return -1;
    r->body_len = strlen(dumped);
    r->body = kr_strndup(dumped, r->body_len);
    kr_json_text_free(dumped);
    return r->body ? 0 : -1;
}

int kr_client_do(kr_client_t *client, const kr_request *req, kr_client_cb cb, void *user,
                 kr_error_t *err)
{
    return do_request(client, req, cb, user, NULL, err);
}

/* `late`: a blocking caller's (its callback steals the result), or NULL. */
static int do_request(kr_client_t *client, const kr_request *req, kr_client_cb cb, void *user,
                      late_body *late, kr_error_t *err)
{
    const char *method = method_of(req->verb);
    if (!method)
        return kr_error_set(err, KR_EINVAL, "client: unknown verb %d", (int)req->verb);
    bool needs_body =
        req->verb == KR_VERB_CREATE || req->verb == KR_VERB_UPDATE || req->verb == KR_VERB_PATCH;
    if (needs_body && !req->body)
        return kr_error_set(err, KR_EINVAL, "client: %s %s needs a body", method,
                            req->ref.gvr.resource ? req->ref.gvr.resource : "(null)");
    if (req->verb == KR_VERB_PATCH && req->patch_format == KR_PATCH_APPLY &&
        !(req->write && req->write->field_manager && *req->write->field_manager))
        return kr_error_set(err, KR_EINVAL, "client: server-side apply needs a field manager");
    kr_creq *r = new_creq(client, method, cb, user);
    if (!r)
        return kr_error_set(err, KR_ENOMEM, "client: out of memory");
    r->cb_steals = late != NULL;
    r->late = late;
    if (req->verb == KR_VERB_LIST)
        r->drop_managed_fields =
            req->list && req->list->version >= 2 && req->list->drop_managed_fields ? DROP_ITEMS
                                                                                   : DROP_NONE;
    else
        r->drop_managed_fields =
            req->write && req->write->version >= 2 && req->write->drop_managed_fields ? DROP_OBJECT
                                                                                      : DROP_NONE;
    kr_buf url = {0};
    int rc = kr_client_build_url(&url, req, false, err);
    if (rc != 0) {
        kr_buf_free(&url);
        free_creq(r);
        return rc;
    }
    r->path = url.data;
    if (req->verb == KR_VERB_LIST && req->list && req->list->accept) {
        r->accept = r->accept_copy = kr_strdup(req->list->accept);
        if (!r->accept_copy) {
            free_creq(r);
            return kr_error_set(err, KR_ENOMEM, "client: out of memory");
        }
    }
    if (req->timeout_ms > 0)
        r->timeout_ms = req->timeout_ms;
    json_t *owned = NULL;
    const json_t *body = req->body;
    if ((req->verb == KR_VERB_DELETE || req->verb == KR_VERB_DELETE_COLLECTION) && req->del) {
        owned = delete_options(req->del);
        if (!owned) {
            free_creq(r);
            return kr_error_set(err, KR_ENOMEM, "client: out of memory");
        }
        body = owned;
    }
    if (body) {
        rc = print_body(r, body);
        json_decref(owned);
        if (rc != 0) {
            free_creq(r);
            return kr_error_set(err, KR_ENOMEM, "client: cannot serialise the body");
        }
        r->content_type = req->verb == KR_VERB_PATCH ? patch_type(req->patch_format) : JSON_TYPE;
    }
    return submit(client, r, err);
}

/* ---- blocking calls ---- */

/* A blocking caller's wait. A semaphore rather than a mutex and condition:
 * the loop thread's post wakes the caller once, and the caller never wakes
 * up only to find the mutex still held by the loop thread. */
typedef struct sync_wait {
    sem_t done;
    json_t *result;
    kr_error_t err;
    int rc;
    late_body late;
} sync_wait;

static void sync_init(sync_wait *s)
{
    memset(s, 0, sizeof(*s));
    sem_init(&s->done, 0, 0);
}

static void sync_cb(json_t *result, const kr_error_t *err, void *user)
{
    sync_wait *s = user;
    if (err) {
        s->err = *err;
        s->rc = err->code ? err->code : KR_EHTTP;
    } else {
        s->result = result; /* stolen: see complete() */
    }
    sem_post(&s->done); /* the caller may free *s as soon as this returns */
}

/* On the caller's thread: what on_http_done does with a 2xx body. */
static void parse_late(sync_wait *s)
{
    late_body *l = &s->late;
    json_error_t jerr;
    json_t *result = parse_answer(l->data, l->len, l->drop_managed_fields, &jerr);
    if (!result) {
        kr_error_set(&s->err, KR_EPARSE, "%s %s: the response is not JSON: %s", l->method, l->path,
                     jerr.text);
        s->rc = KR_EPARSE;
    } else {
        /* A 2xx carrying a failed Status is still a failure. */
        const char *st = json_string_value(json_object_get(result, "status"));
        if (kr_is_status(result) && st && strcmp(st, "Failure") == 0) {
            kr_status_error_json(result, l->status, l->retry_after_s, l->path, &s->err);
            s->rc = s->err.code ? s->err.code : KR_EHTTP;
            json_decref(result);
        } else {
            list_items_typed(result);
            s->result = result;
        }
    }
    kr_free(l->data);
    kr_free(l->path);
    l->data = l->path = NULL;
}

static int sync_finish(sync_wait *s, int start_rc, json_t **out, kr_error_t *err)
{
    if (start_rc == 0) {
        while (sem_wait(&s->done) != 0 && errno == EINTR)
            ;
        if (s->late.data)
            parse_late(s);
        if (s->rc != 0 && err)
            *err = s->err;
    }
    sem_destroy(&s->done);
    if (start_rc != 0)
        return start_rc;
    if (out)
        *out = s->result;
    else
        json_decref(s->result);
    return s->rc;
}

int kr_client_do_sync(kr_client_t *client, const kr_request *req, json_t **out, kr_error_t *err)
{
    if (out)
        *out = NULL;
    if (kr_runtime_is_loop_thread(client->rt))
        return kr_error_set(err, KR_ESTATE,
                            "client: blocking call on the loop thread (use kr_client_do)");
    if (!kr_runtime_started(client->rt)) /* nothing would ever answer it */
        return kr_error_set(err, KR_ESTATE, "client: blocking call before kr_runtime_start");
    sync_wait s;
    sync_init(&s);
    int rc = do_request(client, req, sync_cb, &s, &s.late, err);
    return sync_finish(&s, rc, out, err);
}

int kr_client_raw_get(kr_client_t *c, const char *path, const char *accept, json_t **out,
                      char *content_type, size_t content_type_size, kr_error_t *err)
{
    *out = NULL;
    if (kr_runtime_is_loop_thread(c->rt))
        return kr_error_set(err, KR_ESTATE, "client: blocking call on the loop thread");
    if (!kr_runtime_started(c->rt))
        return kr_error_set(err, KR_ESTATE, "client: blocking call before kr_runtime_start");
    sync_wait s;
    sync_init(&s);
    kr_creq *r = new_creq(c, "GET", sync_cb, &s);
    if (r)
        r->path = kr_strdup(path);
    if (!r || !r->path) {
        if (r)
            free_creq(r);
        return sync_finish(&s, kr_error_set(err, KR_ENOMEM, "client: out of memory"), out, err);
    }
    r->accept = accept;
    r->cb_steals = true;
    r->late = &s.late;
    r->content_type_out = content_type;
    r->content_type_out_size = content_type_size;
    int rc = submit(c, r, err);
    return sync_finish(&s, rc, out, err);
}

int kr_client_get(kr_client_t *client, kr_gvr gvr, const char *namespace_, const char *name,
                  json_t **out, kr_error_t *err)
{
    kr_request req = {.verb = KR_VERB_GET, .ref = {gvr, namespace_, name, NULL}};
    return kr_client_do_sync(client, &req, out, err);
}

int kr_client_list(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                   const kr_list_opts *opts, json_t **out, kr_error_t *err)
{
    kr_request req = {.verb = KR_VERB_LIST, .ref = {gvr, namespace_, NULL, NULL}, .list = opts};
    return kr_client_do_sync(client, &req, out, err);
}

static const char *meta_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

int kr_client_create(kr_client_t *client, kr_gvr gvr, const char *namespace_, const json_t *object,
                     const kr_write_opts *opts, json_t **out, kr_error_t *err)
{
    kr_request req = {
        .verb = KR_VERB_CREATE,
        .ref = {gvr, namespace_ ? namespace_ : meta_str(object, "namespace"), NULL, NULL},
        .body = object,
        .write = opts};
    return kr_client_do_sync(client, &req, out, err);
}

static int put_object(kr_client_t *client, kr_gvr gvr, const char *namespace_, const json_t *object,
                      const char *subresource, const kr_write_opts *opts, json_t **out,
                      kr_error_t *err)
{
    const char *name = meta_str(object, "name");
    if (!name || !*name) {
        if (out)
            *out = NULL;
        return kr_error_set(err, KR_EINVAL, "client: update of %s needs metadata.name",
                            gvr.resource ? gvr.resource : "(null)");
    }
    kr_request req = {
        .verb = KR_VERB_UPDATE,
        .ref = {gvr, namespace_ ? namespace_ : meta_str(object, "namespace"), name, subresource},
        .body = object,
        .write = opts};
    return kr_client_do_sync(client, &req, out, err);
}

int kr_client_update(kr_client_t *client, kr_gvr gvr, const char *namespace_, const json_t *object,
                     const kr_write_opts *opts, json_t **out, kr_error_t *err)
{
    return put_object(client, gvr, namespace_, object, NULL, opts, out, err);
}

int kr_client_update_status(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                            const json_t *object, const kr_write_opts *opts, json_t **out,
                            kr_error_t *err)
{
    return put_object(client, gvr, namespace_, object, "status", opts, out, err);
}

int kr_client_patch(kr_client_t *client, kr_gvr gvr, const char *namespace_, const char *name,
                    const char *subresource, kr_patch_format format, const json_t *patch,
                    const kr_write_opts *opts, json_t **out, kr_error_t *err)
{
    kr_request req = {.verb = KR_VERB_PATCH,
                      .ref = {gvr, namespace_, name, subresource},
                      .body = patch,
                      .patch_format = format ? format : KR_PATCH_MERGE,
                      .write = opts};
    return kr_client_do_sync(client, &req, out, err);
}

int kr_client_delete(kr_client_t *client, kr_gvr gvr, const char *namespace_, const char *name,
                     const kr_delete_opts *opts, json_t **out, kr_error_t *err)
{
    kr_request req = {.verb = KR_VERB_DELETE, .ref = {gvr, namespace_, name, NULL}, .del = opts};
    return kr_client_do_sync(client, &req, out, err);
}

int kr_client_list_pages(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                         const kr_list_opts *opts, kr_client_page_cb page, void *user,
                         kr_error_t *err)
{
    kr_list_opts lo = {0};
    if (opts)
        lo = *opts;
    if (lo.limit <= 0)
        lo.limit = 500;
    char *token = NULL;
    int rc = 0;
    for (;;) {
        json_t *list = NULL;
        lo.continue_token = token;
        /* Later pages come from the first page's snapshot: no RV. */
        if (token)
            lo.resource_version = lo.resource_version_match = NULL;
        rc = kr_client_list(client, gvr, namespace_, &lo, &list, err);
        kr_free(token);
        token = NULL;
        if (rc != 0)
            break;
        rc = page(list, user);
        const char *next = meta_str(list, "continue");
        if (rc == 0 && next && *next) {
            token = kr_strdup(next);
            if (!token)
                rc = kr_error_set(err, KR_ENOMEM, "client: out of memory");
        }
        json_decref(list);
        if (rc != 0 || !token)
            break;
    }
    kr_free(token);
    return rc;
}

typedef struct joined {
    json_t *list;
    int rc;
} joined;

static int join_page(json_t *page, void *user)
{
    joined *j = user;
    json_t *items = json_object_get(page, "items");
    if (!j->list) {
        j->list = json_deep_copy(page);
        if (!j->list)
            return KR_ENOMEM;
        if (!json_is_array(json_object_get(j->list, "items")))
            json_object_set_new(j->list, "items", json_array());
        return 0;
    }
    if (json_is_array(items) && json_array_extend(json_object_get(j->list, "items"), items) != 0)
        return KR_ENOMEM;
    return 0;
}

int kr_client_list_all(kr_client_t *client, kr_gvr gvr, const char *namespace_,
                       const kr_list_opts *opts, json_t **out, kr_error_t *err)
{
    *out = NULL;
    joined j = {0};
    int rc = kr_client_list_pages(client, gvr, namespace_, opts, join_page, &j, err);
    if (rc != 0) {
        if (rc == KR_ENOMEM && err && !err->code)
            kr_error_set(err, rc, "client: out of memory joining pages");
        json_decref(j.list);
        return rc;
    }
    json_t *meta = json_object_get(j.list, "metadata");
    json_object_del(meta, "continue");
    json_object_del(meta, "remainingItemCount");
    *out = j.list;
    return 0;
}

/* ---- life cycle ---- */

static void fail_all(kr_client_t *c, int code, const char *why)
{
    while (c->reqs)
        complete_code(c->reqs, code, why);
}

static void on_runtime_stop(void *user)
{
    kr_client_t *c = user;
    c->stopped = true;
    fail_all(c, KR_ESHUTDOWN, "the runtime is stopping");
    kr_client_detach_watches(c);
    uv_timer_stop(&c->throttle_timer);
    uv_close((uv_handle_t *)&c->throttle_timer, NULL);
}

typedef struct new_args {
    kr_client_t *c;
    kr_http_opts hopts;
    kr_error_t *err;
    int rc;
} new_args;

static void new_on_loop(void *arg)
{
    new_args *a = arg;
    kr_client_t *c = a->c;
    a->rc = kr_http_new(c->rt, &c->cfg, &a->hopts, &c->http, a->err);
    if (a->rc != 0)
        return;
    c->metrics.host = kr_http_host(c->http);
    /* the hook first: a timer once made could only be freed after its close */
    c->hook.fn = on_runtime_stop;
    c->hook.user = c;
    a->rc = kr_runtime_add_stop_hook(c->rt, &c->hook);
    if (a->rc != 0) {
        kr_error_set(a->err, a->rc, "client: the runtime is stopping");
        kr_http_free(c->http);
        c->http = NULL;
        return;
    }
    uv_timer_init(kr_runtime_loop(c->rt), &c->throttle_timer);
    c->throttle_timer.data = c;
}

int kr_client_new(kr_runtime_t *rt, const kr_rest_config *config, const kr_client_opts *opts,
                  kr_client_t **out, kr_error_t *err)
{
    *out = NULL;
    if (opts && opts->version > KR_CLIENT_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "client: options version %u is newer than %u",
                            opts->version, (unsigned)KR_CLIENT_OPTS_VERSION);
    if (!config)
        return kr_error_set(err, KR_EINVAL, "client: no config");
    kr_rest_config cfg; /* never read past the caller's version */
    int status = kr_rest_config_read(config, &cfg, err);
    if (status != 0)
        return status;
    if (!cfg.server)
        return kr_error_set(err, KR_EINVAL, "client: the config has no server");
    config = &cfg;
    kr_client_t *c = kr_calloc(1, sizeof(*c));
    if (!c)
        return kr_error_set(err, KR_ENOMEM, "client: out of memory");
    c->rt = rt;
    c->cfg = cfg;
    c->log = kr_runtime_logger(rt);
    if (opts) /* never past the caller's version */
        memcpy(&c->opts, opts, kr_client_opts_end(opts->version));
    c->retry.max_retries =
        c->opts.max_retries == 0 ? 5 : (c->opts.max_retries < 0 ? 0 : c->opts.max_retries);
    /* the policy's fields are int: a longer setting is the longest it holds */
    c->retry.base_ms = c->opts.backoff_base_ms == 0        ? 200
                       : c->opts.backoff_base_ms > INT_MAX ? INT_MAX
                                                           : (int)c->opts.backoff_base_ms;
    c->retry.max_ms = c->opts.backoff_max_ms == 0        ? 10000
                      : c->opts.backoff_max_ms > INT_MAX ? INT_MAX
                                                         : (int)c->opts.backoff_max_ms;
    double qps = config->qps == 0 ? 5.0 : config->qps;
    kr_bucket_init(&c->limiter, qps, config->burst > 0 ? config->burst : 10);
    if (c->opts.metrics &&
        (status = kr_client_metrics_init(&c->metrics, c->opts.metrics, qps > 0, err)) != 0) {
        kr_free(c);
        return status;
    }
    kr_rng_seed(&c->rng, 0);
    c->default_ns =
        kr_strdup(config->namespace_ && *config->namespace_ ? config->namespace_ : "default");
    if (!c->default_ns) {
        kr_free(c);
        return kr_error_set(err, KR_ENOMEM, "client: out of memory");
    }
    pthread_mutex_init(&c->disc_lock, NULL);
    new_args a = {.c = c, .err = err};
    a.hopts.version = (kr_http_version)c->opts.http_version;
    a.hopts.max_connections = c->opts.max_connections;
    if (c->metrics.requests) {
        a.hopts.on_response = kr_client_metrics_response;
        a.hopts.on_response_user = &c->metrics;
    }
    int rc = kr_runtime_on_loop(rt, new_on_loop, &a);
    if (rc == 0)
        rc = a.rc;
    else
        kr_error_set(err, rc, "client: the runtime is stopping");
    if (rc != 0) {
        pthread_mutex_destroy(&c->disc_lock);
        kr_free(c->default_ns);
        kr_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void release(kr_client_t *c)
{
    for (size_t i = 0; i < c->nwarned; i++)
        kr_free(c->warned[i]);
    kr_free((void *)c->warned);
    kr_client_discovery_free(c);
    pthread_mutex_destroy(&c->disc_lock);
    kr_free(c->default_ns);
    kr_free(c);
}

static void release_after_close(uv_handle_t *handle)
{
    release(handle->data);
}

static void final_free(void *arg)
{
    kr_client_t *c = arg;
    /* Submissions queued before the free have run (FIFO) and failed. */
    fail_all(c, KR_ECANCELED, "the client was freed");
    kr_http_free(c->http);
    if (c->stopped)
        release(c);
    else
        uv_close((uv_handle_t *)&c->throttle_timer, release_after_close);
}

static void free_on_loop(void *arg)
{
    kr_client_t *c = arg;
    kr_runtime_remove_stop_hook(c->rt, &c->hook);
    c->closing = true;
    fail_all(c, KR_ECANCELED, "the client was freed");
    kr_client_detach_watches(c);
    c->throttle_head = c->throttle_tail = NULL;
    if (!c->stopped)
        uv_timer_stop(&c->throttle_timer);
    /* On a running loop, let submissions already queued run (and fail)
     * before the memory goes: the runtime's queue is FIFO. */
    if (kr_runtime_is_loop_thread(c->rt) && kr_runtime_call(c->rt, final_free, c) == 0)
        return;
    final_free(c);
}

void kr_client_free(kr_client_t *client)
{
    if (!client)
        return;
    kr_runtime_on_loop(client->rt, free_on_loop, client);
}
