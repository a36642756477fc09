/* libkreconcile — Events about objects (events.h): client-go's event
 * correlation (aggregation of similar events, a count instead of a copy
 * for a repeated one, a per-object burst) and a queue that one request at
 * a time sends in order. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "kreconcile/events.h"
#include "lock.h"
#include "util_internal.h"

enum {
    MESSAGE_MAX = 1024, /* bytes of a message kept */
    AGGREGATE_MAX = 10, /* distinct messages before events are combined */
};
static const int64_t AGGREGATE_WINDOW_NS = 600LL * 1000000000LL; /* 10 minutes */
static const char COMBINED[] = "(combined from similar events): ";

/* One entry of a correlation cache; which fields mean something depends on
 * the cache. */
typedef struct ev_entry {
    char *key;
    size_t len;
    uint64_t hash;
    kr_lru_node use; /* in the cache's use order */
    /* spam: the object's tokens */
    kr_bucket bucket;
    /* aggregate: the hashes of the distinct messages seen in the window */
    uint64_t messages[AGGREGATE_MAX];
    size_t n_messages;
    int64_t last_ns;
    /* observed: the Event written for this key */
    char *name;
    long count;
    char first[32];
} ev_entry;

typedef struct ev_cache {
    kr_keymap map;
    kr_lru use;
    size_t n, cap;
} ev_cache;

/* A request to send: the whole Event (a create) or, when `patch`, its
 * count, lastTimestamp and message (a create of the whole after a 404). */
typedef struct ev_op {
    struct ev_op *next;
    json_t *event;
    bool patch;
} ev_op;

struct kr_event_recorder {
    kr_client_t *client;
    char *component, *host;
    unsigned burst;
    int64_t refill_ns;
    size_t max_queued;
    uint64_t request_timeout_ms;
    kr_clock clock;
    kr_logger logger;
    kr_mutex mu; /* guards everything below */
    kr_cond idle; /* nothing queued or in flight; or the in-flight request ended */
    ev_cache spam, aggregate, observed;
    ev_op *head, *tail; /* waiting to be sent */
    size_t queued;
    ev_op *current; /* in flight */
    bool closing;
    int64_t last_name_ns; /* names are unique: each after the last */
    kr_event_recorder_stats stats;
};

/* ---- the LRU caches ----------------------------------------------------------- */

static void entry_free(ev_entry *e)
{
    if (!e)
        return;
    kr_free(e->key);
    kr_free(e->name);
    kr_free(e);
}

/* The entry for `key`, made most recently used; a new zeroed one when
 * missing (*fresh), the least recently used forgotten when full. NULL: no
 * memory. */
static ev_entry *cache_get(ev_cache *c, const char *key, size_t len, bool *fresh)
{
    uint64_t hash = kr_key_hash(key, len);
    ev_entry *e = kr_keymap_get(&c->map, hash, key, len);
    *fresh = e == NULL;
    if (e) {
        kr_lru_touch(&c->use, &e->use);
        return e;
    }
    if (c->n >= c->cap && c->use.oldest) {
        ev_entry *old = KR_CONTAINER_OF(c->use.oldest, ev_entry, use);
        kr_keymap_remove(&c->map, old->hash, old->key, old->len);
        kr_lru_unlink(&c->use, &old->use);
        entry_free(old);
        c->n--;
    }
    e = kr_calloc(1, sizeof(*e));
    if (!e || !(e->key = kr_malloc(len + 1))) {
        kr_free(e);
        return NULL;
    }
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    e->len = len;
    e->hash = hash;
    if (kr_keymap_insert(&c->map, hash, e->key, len, e) != 0) {
        entry_free(e);
        return NULL;
    }
    kr_lru_push_newest(&c->use, &e->use);
    c->n++;
    return e;
}

static void cache_free(ev_cache *c)
{
    for (kr_lru_node *n = c->use.oldest, *newer; n; n = newer) {
        newer = n->newer;
        entry_free(KR_CONTAINER_OF(n, ev_entry, use));
    }
    kr_keymap_free(&c->map);
    memset(c, 0, sizeof(*c));
}

/* ---- the recorder ---------------------------------------------------------------- */

int kr_event_recorder_new(const kr_event_recorder_opts *opts, kr_event_recorder_t **out,
                          kr_error_t *err)
{
    *out = NULL;
    if (opts && opts->version > KR_EVENT_RECORDER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "event recorder: options version %u is newer than %u",
                            opts->version, (unsigned)KR_EVENT_RECORDER_OPTS_VERSION);
    if (!opts || !opts->client || !opts->component || !*opts->component)
        return kr_error_set(err, KR_EINVAL,
                            "event recorder: a client and a component are required");
    kr_event_recorder_t *r = kr_calloc(1, sizeof(*r));
    char host[256] = "";
    if (!opts->host && gethostname(host, sizeof(host) - 1) != 0)
        host[0] = '\0';
    if (r) {
        r->component = kr_strdup(opts->component);
        r->host = kr_strdup(opts->host ? opts->host : host);
    }
    if (!r || !r->component || !r->host || kr_mutex_init(&r->mu) != 0) {
        if (r) {
            kr_free(r->component);
            kr_free(r->host);
        }
        kr_free(r);
        return kr_error_set(err, KR_ENOMEM, "out of memory creating an event recorder");
    }
    kr_cond_init(&r->idle);
    r->client = opts->client;
    r->burst = opts->burst ? opts->burst : 25;
    r->refill_ns = kr_ms_to_ns(opts->refill_ms ? opts->refill_ms : 300000);
    size_t cap = opts->cache_size ? opts->cache_size : 4096;
    r->spam.cap = r->aggregate.cap = r->observed.cap = cap;
    r->max_queued = opts->max_queued ? opts->max_queued : 1000;
    r->request_timeout_ms = opts->request_timeout_ms ? opts->request_timeout_ms : 10000;
    r->clock = opts->clock;
    r->logger = opts->logger;
    *out = r;
    return 0;
}

static void ops_free(ev_op *op)
{
    while (op) {
        ev_op *next = op->next;
        json_decref(op->event);
        kr_free(op);
        op = next;
    }
}

void kr_event_recorder_free(kr_event_recorder_t *r)
{
    if (!r)
        return;
    kr_mutex_lock(&r->mu);
    r->closing = true;
    ops_free(r->head);
    r->head = r->tail = NULL;
    r->queued = 0;
    while (r->current) /* its callback touches r */
        kr_cond_wait(&r->idle, &r->mu, NULL);
    kr_mutex_unlock(&r->mu);
    cache_free(&r->spam);
    cache_free(&r->aggregate);
    cache_free(&r->observed);
    kr_cond_destroy(&r->idle);
    kr_mutex_destroy(&r->mu);
    kr_free(r->component);
    kr_free(r->host);
    kr_free(r);
}

void kr_event_recorder_get_stats(kr_event_recorder_t *r, kr_event_recorder_stats *out,
                                 size_t out_size)
{
    kr_event_recorder_stats all;
    kr_mutex_lock(&r->mu);
    all = r->stats;
    kr_mutex_unlock(&r->mu);
    kr_copy_sized(out, out_size, &all, sizeof(all));
}

int kr_event_recorder_flush(kr_event_recorder_t *r, uint64_t timeout_ms)
{
    struct timespec deadline;
    kr_deadline_after_ms(&deadline, timeout_ms);
    kr_mutex_lock(&r->mu);
    while ((r->current || r->head) && !r->closing) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec ||
            (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
            break;
        kr_cond_wait(&r->idle, &r->mu, &deadline);
    }
    bool done = !r->current && !r->head;
    kr_mutex_unlock(&r->mu);
    return done ? 0 : KR_ETIMEDOUT;
}

/* ---- sending ---------------------------------------------------------------------- */

/* The next op to send, made the one in flight (r->mu held); NULL when
 * nothing is queued, one is in flight, or the recorder is closing. */
static ev_op *take_next(kr_event_recorder_t *r)
{
    ev_op *op = r->closing || r->current ? NULL : r->head;
    if (op) {
        r->head = op->next;
        if (!r->head)
            r->tail = NULL;
        r->queued--;
        op->next = NULL;
        r->current = op;
    }
    return op;
}

/* The answer to the op in flight (err NULL: done); returns the next op,
 * which becomes the one in flight before the lock is let go:
 * kr_event_recorder_free waits while one is, so r stays valid for the
 * caller to send it. */
static ev_op *finish(kr_event_recorder_t *r, const kr_error_t *err)
{
    kr_mutex_lock(&r->mu);
    ev_op *op = r->current;
    r->current = NULL;
    if (op->patch && err && err->code == KR_ENOTFOUND && !r->closing) {
        /* the Event expired since: write it whole again, first in line */
        op->patch = false;
        op->next = r->head;
        r->head = op;
        if (!r->tail)
            r->tail = op;
        r->queued++;
        op = NULL;
    } else if (!err || err->code == KR_EEXIST) {
        if (op->patch)
            r->stats.patched++;
        else
            r->stats.created++;
    } else {
        r->stats.failed++;
        r->stats.last_error = *err;
        const json_t *about = json_object_get(op->event, "involvedObject");
        kr_log(&r->logger, KR_LOG_WARN, "events", "event %s about %s %s not written: %s",
               json_string_value(json_object_get(op->event, "reason")),
               json_string_value(json_object_get(about, "kind")),
               json_string_value(json_object_get(about, "name")), err->message);
    }
    ev_op *next = take_next(r);
    if (!next)
        kr_cond_broadcast(&r->idle);
    kr_mutex_unlock(&r->mu);
    ops_free(op);
    return next;
}

static void sent(json_t *result, const kr_error_t *err, void *user);

/* Send `op`, the one in flight: 0 when its request started, else the
 * error that kept it from starting (in *err). The request starts outside
 * the lock: the client's callback, on its loop thread, takes it. */
static int start(kr_event_recorder_t *r, ev_op *op, kr_error_t *err)
{
    json_t *ev = op->event;
    json_t *md = json_object_get(ev, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    json_t *patch = NULL;
    kr_request req = {.ref = {KR_GVR("", "v1", "events"), ns, NULL, NULL},
                      .timeout_ms = r->request_timeout_ms};
    if (op->patch) {
        patch = json_pack("{s:O, s:O, s:O}", "count", json_object_get(ev, "count"), "lastTimestamp",
                          json_object_get(ev, "lastTimestamp"), "message",
                          json_object_get(ev, "message"));
        req.verb = KR_VERB_PATCH;
        req.ref.name = name;
        req.body = patch;
        req.patch_format = KR_PATCH_STRATEGIC;
    } else {
        req.verb = KR_VERB_CREATE;
        req.body = ev;
    }
    int rc = (op->patch && !patch) ? kr_error_set(err, KR_ENOMEM, "out of memory writing an event")
                                   : kr_client_do(r->client, &req, sent, r, err);
    json_decref(patch);
    return rc;
}

/* Send ops until one is in flight or none is left. One that cannot even
 * start (a client that is stopping) is finished here: a loop, not a
 * recursion, however many are queued. */
static void send_from(kr_event_recorder_t *r, ev_op *op)
{
    while (op) {
        kr_error_t err = {0};
        if (start(r, op, &err) == 0)
            return;
        op = finish(r, &err);
    }
}

static void sent(json_t *result, const kr_error_t *err, void *user)
{
    (void)result;
    kr_event_recorder_t *r = user;
    send_from(r, finish(r, err));
}

static void send_next(kr_event_recorder_t *r)
{
    kr_mutex_lock(&r->mu);
    ev_op *op = take_next(r);
    kr_mutex_unlock(&r->mu);
    send_from(r, op);
}

/* ---- correlation --------------------------------------------------------------------- */

/* "2026-12-05T09:30:00Z": metav1.Time's seconds. */
static void timestamp(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Cut `msg` to MESSAGE_MAX bytes, never inside a UTF-8 sequence. */
static void cut_message(char *msg)
{
    size_t len = strlen(msg);
    if (len <= MESSAGE_MAX)
        return;
    len = MESSAGE_MAX;
    while (len > 0 && ((unsigned char)msg[len] & 0xC0) == 0x80)
        len--;
    msg[len] = '\0';
}

static const char *meta_str(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

typedef struct ev_about {
    const char *api_version, *kind, *ns, *name, *uid, *rv, *field_path;
} ev_about;

/* The spam key (object), the aggregate key (+ type and reason) and the
 * event key (+ field path and message), as client-go joins them. */
static void keys(const kr_event_recorder_t *r, const ev_about *a, const char *type,
                 const char *reason, const char *message, kr_buf *spam, kr_buf *agg, kr_buf *ev)
{
    kr_buf_printf(spam, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", r->component, r->host, a->kind,
                  a->ns, a->name, a->uid, a->api_version);
    kr_buf_printf(agg, "%s\x1f%s\x1f%s", spam->data ? spam->data : "", type, reason);
    kr_buf_printf(ev, "%s\x1f%s\x1f%s", agg->data ? agg->data : "", a->field_path, message);
}

/* Nanoseconds of the wall clock for an Event's name, each after the
 * last: two events of one object in one nanosecond get two names. */
static int64_t name_ns(kr_event_recorder_t *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    if (ns <= r->last_name_ns)
        ns = r->last_name_ns + 1;
    r->last_name_ns = ns;
    return ns;
}

static json_t *event_body(kr_event_recorder_t *r, const ev_about *a, const char *type,
                          const char *reason, const char *message, const char *name, long count,
                          const char *first, const char *last)
{
    json_t *obj = json_pack("{s:s, s:s}", "kind", a->kind, "apiVersion", a->api_version);
    if (obj) {
        if (*a->ns)
            json_object_set_new(obj, "namespace", json_string(a->ns));
        json_object_set_new(obj, "name", json_string(a->name));
        if (*a->uid)
            json_object_set_new(obj, "uid", json_string(a->uid));
        if (*a->rv)
            json_object_set_new(obj, "resourceVersion", json_string(a->rv));
        if (*a->field_path)
            json_object_set_new(obj, "fieldPath", json_string(a->field_path));
    }
    json_t *source = json_pack("{s:s}", "component", r->component);
    if (source && *r->host)
        json_object_set_new(source, "host", json_string(r->host));
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:o, s:s, s:s, s:I, s:s, s:s, s:s}",
                     "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace",
                     *a->ns ? a->ns : "default", "involvedObject", obj, "reason", reason, "message",
                     message, "source", source, "firstTimestamp", first, "lastTimestamp", last,
                     "count", (json_int_t)count, "type", type, "reportingComponent", r->component,
                     "reportingInstance", r->host);
}

/* Correlate one event and queue what it takes (r->mu held). 0 or KR_ENOMEM. */
static int correlate(kr_event_recorder_t *r, const ev_about *a, const char *type,
                     const char *reason, const char *message)
{
    kr_buf spam_key = {0}, agg_key = {0}, ev_key = {0};
    keys(r, a, type, reason, message, &spam_key, &agg_key, &ev_key);
    int rc = KR_ENOMEM;
    char *combined = NULL;
    if (!spam_key.data || !agg_key.data || !ev_key.data)
        goto out;
    int64_t now = kr_clock_read(&r->clock);
    r->stats.recorded++;
    /* similar events: 10 distinct messages in the window become one */
    bool fresh;
    ev_entry *agg = cache_get(&r->aggregate, agg_key.data, agg_key.len, &fresh);
    if (!agg)
        goto out;
    if (!fresh && now - agg->last_ns > AGGREGATE_WINDOW_NS)
        agg->n_messages = 0;
    agg->last_ns = now;
    uint64_t mh = kr_str_hash(message);
    bool known = false;
    for (size_t i = 0; i < agg->n_messages && !known; i++)
        known = agg->messages[i] == mh;
    if (!known && agg->n_messages < AGGREGATE_MAX)
        agg->messages[agg->n_messages++] = mh;
    const kr_buf *key = &ev_key;
    if (agg->n_messages >= AGGREGATE_MAX) {
        agg->n_messages = AGGREGATE_MAX - 1; /* as client-go pops one */
        combined = kr_asprintf("%s%s", COMBINED, message);
        if (!combined)
            goto out;
        cut_message(combined);
        message = combined;
        key = &agg_key;
        r->stats.combined++;
    }
    /* the same event again: a count on the one written */
    ev_entry *seen = cache_get(&r->observed, key->data, key->len, &fresh);
    if (!seen)
        goto out;
    char last[32];
    timestamp(last);
    bool patch = seen->count > 0;
    if (!patch) {
        kr_free(seen->name);
        seen->name = kr_asprintf("%s.%llx", a->name, (unsigned long long)name_ns(r));
        if (!seen->name)
            goto out;
        memcpy(seen->first, last, sizeof(last));
    }
    seen->count++;
    /* the object's burst decides whether it is sent (the count above
     * still grows: the next one sent carries it) */
    ev_entry *bucket = cache_get(&r->spam, spam_key.data, spam_key.len, &fresh);
    if (!bucket)
        goto out;
    rc = 0;
    if (fresh)
        kr_bucket_init(&bucket->bucket, 1e9 / (double)r->refill_ns, (int)r->burst);
    if (!kr_bucket_try(&bucket->bucket, now)) {
        r->stats.dropped_burst++;
        goto out;
    }
    if (r->queued >= r->max_queued) {
        r->stats.dropped_queue++;
        goto out;
    }
    ev_op *op = kr_calloc(1, sizeof(*op));
    if (op)
        op->event =
            event_body(r, a, type, reason, message, seen->name, seen->count, seen->first, last);
    if (!op || !op->event) {
        kr_free(op);
        rc = KR_ENOMEM;
        goto out;
    }
    op->patch = patch;
    if (r->tail)
        r->tail->next = op;
    else
        r->head = op;
    r->tail = op;
    r->queued++;
out:
    kr_free(combined);
    kr_buf_free(&spam_key);
    kr_buf_free(&agg_key);
    kr_buf_free(&ev_key);
    return rc;
}

int kr_event_record(kr_event_recorder_t *r, const kr_event *ev, const char *fmt, ...)
{
    if (!r || !ev || !ev->object || !ev->reason || !*ev->reason || !fmt)
        return KR_EINVAL;
    ev_about a = {
        .api_version = ev->api_version
                           ? ev->api_version
                           : json_string_value(json_object_get(ev->object, "apiVersion")),
        .kind = ev->kind ? ev->kind : json_string_value(json_object_get(ev->object, "kind")),
        .ns = meta_str(ev->object, "namespace"),
        .name = meta_str(ev->object, "name"),
        .uid = meta_str(ev->object, "uid"),
        .rv = meta_str(ev->object, "resourceVersion"),
        .field_path = ev->field_path,
    };
    if (!a.api_version || !*a.api_version || !a.kind || !*a.kind || !a.name || !*a.name)
        return KR_EINVAL;
    a.ns = a.ns ? a.ns : "";
    a.uid = a.uid ? a.uid : "";
    a.rv = a.rv ? a.rv : "";
    a.field_path = a.field_path ? a.field_path : "";
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *message = n >= 0 ? kr_malloc((size_t)n + 1) : NULL;
    if (!message)
        return KR_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(message, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cut_message(message);
    const char *type = ev->type == KR_EVENT_WARNING ? "Warning" : "Normal";
    kr_mutex_lock(&r->mu);
    int rc = r->closing ? KR_ESHUTDOWN : correlate(r, &a, type, ev->reason, message);
    kr_mutex_unlock(&r->mu);
    kr_free(message);
    if (rc == 0)
        send_next(r);
    return rc;
}
