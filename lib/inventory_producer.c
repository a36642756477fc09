/* libkreconcile — the inventory's producer: one collection of one cluster
 * turned into inventory events on a consumer. Client mode drives its own
 * reflector (resumed from the inventory's checkpoint, paused without
 * blocking the loop when the consumer is full); informer mode feeds an
 * informer's handlers and reconciles deletes nobody watched. */
#include <pthread.h>
#include <string.h>

#include "informer_internal.h"
#include "internal.h"
#include "inventory_internal.h"
#include "kreconcile/inventory.h"

/* An event the producer holds while the consumer is full (loop thread). */
typedef struct held_event {
    kr_inventory_event_type type;
    json_t *object; /* new reference; NULL for CHECKPOINT */
    char *checkpoint_rv; /* new; may be NULL */
} held_event;

struct kr_inventory_producer {
    kr_inventory_consumer_t *consumer;
    kr_informer_t *informer;
    char *cluster, *resource, *api_version, *kind;
    kr_logger logger;
    int handler_id;
    /* ---- client mode; everything below `lock` is loop-thread state ---- */
    kr_client_t *client;
    kr_runtime_t *rt;
    kr_listwatch lw;
    kr_timer_clock clock;
    kr_reflector_opts ropts; /* strings point into this producer */
    char *ns, *name; /* ns: the collection's namespace (both modes), NULL: all */
    kr_store_t *store;
    pthread_mutex_t lock; /* guards stats and observed_rv */
    kr_inventory_producer_stats stats;
    char *observed_rv;
    kr_reflector_t *refl;
    kr_timer_t *timer; /* while paused: hands held events over */
    kr_buf held; /* held_event[n_held], in order */
    size_t n_held;
    char *resume_rv; /* checkpoint of the last event produced (enqueued or held) */
    bool paused, pause_after_list, list_failing;
    kr_logger quiet; /* the reflector's logger: repeated list failures at DEBUG */
};

/* ---- informer mode --------------------------------------------------------- */

/* Enqueue one event of this producer's collection: 0, KR_ETOOLARGE (full)
 * or another error (logged). */
static int try_enqueue(kr_inventory_producer_t *p, kr_inventory_event_type type, const json_t *obj,
                       const char *cp)
{
    kr_inventory_event ev = {.cluster = p->cluster,
                             .resource = p->resource,
                             .api_version = p->api_version,
                             .kind = p->kind,
                             .type = type,
                             .object = obj,
                             .checkpoint_rv = cp};
    kr_error_t err = {0};
    int rc = kr_inventory_consumer_enqueue(p->consumer, &ev, &err);
    if (rc != 0 && rc != KR_ETOOLARGE)
        kr_log(&p->logger, KR_LOG_ERROR, "inventory", "%s %s: an event was refused: %s", p->cluster,
               p->resource, err.message);
    return rc;
}

static void produce(kr_inventory_producer_t *p, kr_inventory_event_type type, const json_t *obj)
{
    char *rv = kr_informer_last_resource_version(p->informer);
    bool waited = false;
    /* Full: wait for room on the informer's thread (client mode does not). */
    while (try_enqueue(p, type, obj, rv) == KR_ETOOLARGE) {
        if (!waited)
            kr_log(&p->logger, KR_LOG_WARN, "inventory",
                   "%s %s: the inventory buffer is full; pausing this informer", p->cluster,
                   p->resource);
        waited = true;
        kr_inventory_consumer_wait_space(p->consumer, 1, 1000);
    }
    kr_free(rv);
}

static void on_add(const json_t *obj, void *user)
{
    produce(user, KR_INVENTORY_ADDED, obj);
}

static void on_update(const json_t *old_obj, const json_t *new_obj, void *user)
{
    if (old_obj == new_obj)
        return; /* a resync: nothing changed */
    produce(user, KR_INVENTORY_MODIFIED, new_obj);
}

static void on_delete(const json_t *obj, bool final_state_unknown, void *user)
{
    produce(user,
            final_state_unknown ? KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN : KR_INVENTORY_DELETED,
            obj);
}

/* ---- client mode: the loop thread's part ------------------------------------ */

static const char *rv_of(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static void count(kr_inventory_producer_t *p, uint64_t *field, bool *flag, bool value)
{
    pthread_mutex_lock(&p->lock);
    if (field)
        (*field)++;
    if (flag)
        *flag = value;
    pthread_mutex_unlock(&p->lock);
}

static void on_resume_timer(kr_timer_t *timer, void *user);

static void pause_watch(kr_inventory_producer_t *p)
{
    if (p->paused)
        return;
    p->paused = true;
    p->pause_after_list = false;
    kr_reflector_stop(p->refl);
    count(p, &p->stats.pauses, &p->stats.paused, true);
    kr_log(&p->logger, KR_LOG_WARN, "inventory",
           "%s %s: the inventory buffer is full; the watch pauses until it drains", p->cluster,
           p->resource);
    kr_error_t err = {0};
    if (!p->timer && kr_timer_new(p->rt, on_resume_timer, p, &p->timer, &err) != 0) {
        kr_log(&p->logger, KR_LOG_ERROR, "inventory", "%s %s: cannot arm a timer: %s", p->cluster,
               p->resource, err.message);
        return;
    }
    kr_timer_start(p->timer, 20, 20);
}

static held_event *held_at(kr_inventory_producer_t *p, size_t i)
{
    return (held_event *)(void *)p->held.data + i;
}

/* Hand `type`/`obj` over, or hold it (and pause) when the consumer is
 * full. `now`: pause at once (a watch event); otherwise (a relist's
 * deltas) at the list's end, so that the store never runs ahead of what
 * the producer holds. */
static void produce_client(kr_inventory_producer_t *p, kr_inventory_event_type type,
                           const json_t *obj, const char *cp, bool now)
{
    int rc = p->n_held == 0 ? try_enqueue(p, type, obj, cp) : KR_ETOOLARGE;
    if (rc == KR_ETOOLARGE) {
        held_event h = {.type = type,
                        .object = obj ? json_incref((json_t *)obj) : NULL, /* immutable */
                        .checkpoint_rv = cp ? kr_strdup(cp) : NULL};
        if ((cp && !h.checkpoint_rv) || kr_buf_append(&p->held, &h, sizeof(h)) != 0) {
            /* Out of memory: stop here and replay from the last checkpoint
             * produced (the resume point stays before this event; a delete
             * is then recorded by a later relist only). */
            json_decref(h.object);
            kr_free(h.checkpoint_rv);
            kr_log(&p->logger, KR_LOG_ERROR, "inventory", "%s %s: out of memory", p->cluster,
                   p->resource);
            pause_watch(p);
            return;
        }
        p->n_held++;
        count(p, &p->stats.held, NULL, false);
        if (now)
            pause_watch(p);
        else
            p->pause_after_list = true;
    }
    /* Handed over or held: the next watch starts after it. */
    if (cp && (!p->resume_rv || strcmp(p->resume_rv, cp) != 0)) {
        char *copy = kr_strdup(cp);
        if (copy) {
            kr_free(p->resume_rv);
            p->resume_rv = copy;
        }
    }
}

static const char *uid_of(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
}

/* Whether `obj` is another object than `old` under the same name: deleted
 * and made again while nobody watched (a relist behind an expired
 * checkpoint finds it in the place of the one cached). */
static bool made_again(const json_t *old, const json_t *obj)
{
    const char *a = uid_of(old), *b = uid_of(obj);
    return a && b && strcmp(a, b) != 0;
}

static void on_delta(const kr_delta *d, void *user)
{
    kr_inventory_producer_t *p = user;
    if (p->paused || !d->object)
        return;
    kr_inventory_event_type type = d->type == KR_DELTA_ADDED     ? KR_INVENTORY_ADDED
                                   : d->type == KR_DELTA_UPDATED ? KR_INVENTORY_MODIFIED
                                   : d->final_state_unknown
                                       ? KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN
                                       : KR_INVENTORY_DELETED;
    /* A watch event's RV is the checkpoint after it; a relist's deltas
     * carry none (its end does). */
    const char *cp = d->from_relist ? NULL : rv_of(d->object);
    /* The one cached is gone (the list lacks it) and the one listed is
     * new, as a watch would have said: not a change of the first. */
    if (d->type == KR_DELTA_UPDATED && d->old_object && made_again(d->old_object, d->object)) {
        produce_client(p, KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN, d->old_object, NULL,
                       !d->from_relist);
        type = KR_INVENTORY_ADDED;
    }
    produce_client(p, type, d->object, cp, !d->from_relist);
}

static void on_progress(const char *rv, bool synced, void *user)
{
    kr_inventory_producer_t *p = user;
    char *copy = *rv ? kr_strdup(rv) : NULL; /* "": a list that gave none */
    pthread_mutex_lock(&p->lock);
    if (copy) {
        kr_free(p->observed_rv);
        p->observed_rv = copy;
    }
    p->stats.synced = p->stats.synced || synced;
    pthread_mutex_unlock(&p->lock);
    if (p->list_failing && synced) {
        p->list_failing = false;
        kr_log(&p->logger, KR_LOG_INFO, "inventory", "%s %s: listed; watching", p->cluster,
               p->resource);
    }
    if (p->paused)
        return;
    /* A bookmark or a list's end: the checkpoint moves without an object. */
    if (*rv && (!p->resume_rv || strcmp(p->resume_rv, rv) != 0))
        produce_client(p, KR_INVENTORY_CHECKPOINT, NULL, rv, true);
    if (p->pause_after_list)
        pause_watch(p);
}

static void on_request(kr_reflector_request request, int cause, void *user)
{
    kr_inventory_producer_t *p = user;
    if (request == KR_REFLECTOR_REQUEST_LIST)
        count(p, &p->stats.lists, NULL, false);
    else if (request != KR_REFLECTOR_REQUEST_NONE)
        count(p, &p->stats.watches, NULL, false);
    else if (cause == KR_RESTART_GONE)
        count(p, &p->stats.gone, NULL, false);
}

/* The reflector's messages: the first failed list at WARN, the next ones
 * (a resource not served yet: the CRD is missing) at DEBUG until a list
 * succeeds. */
static void quiet_log(kr_log_level level, const char *module, const char *message, void *user)
{
    kr_inventory_producer_t *p = user;
    if (strstr(message, "list failed") || strstr(message, "cannot send list")) {
        if (p->list_failing)
            level = KR_LOG_DEBUG;
        p->list_failing = true;
    }
    if (level > p->logger.max_level)
        return;
    if (p->logger.cb)
        p->logger.cb(level, module, message, p->logger.user);
    else if (p->logger.fields_cb)
        p->logger.fields_cb(level, module, message, NULL, 0, p->logger.user);
}

static int start_reflector(kr_inventory_producer_t *p, kr_error_t *err)
{
    kr_reflector_free(p->refl);
    p->refl = NULL;
    int rc = kr_reflector_new(&p->ropts, &p->refl, err);
    if (rc == 0)
        rc = kr_reflector_start_at(p->refl, p->resume_rv, err);
    return rc;
}

static void on_resume_timer(kr_timer_t *timer, void *user)
{
    kr_inventory_producer_t *p = user;
    size_t done = 0;
    while (done < p->n_held) {
        held_event *h = held_at(p, done);
        int rc = try_enqueue(p, h->type, h->object, h->checkpoint_rv);
        if (rc == KR_ETOOLARGE)
            break;
        json_decref(h->object);
        kr_free(h->checkpoint_rv);
        done++;
    }
    if (done)
        memmove(p->held.data, held_at(p, done), (p->n_held - done) * sizeof(held_event));
    p->n_held -= done;
    p->held.len = p->n_held * sizeof(held_event);
    if (p->n_held)
        return;
    kr_timer_stop(timer);
    p->paused = false;
    kr_error_t err = {0};
    if (start_reflector(p, &err) != 0) {
        kr_log(&p->logger, KR_LOG_ERROR, "inventory", "%s %s: cannot resume the watch: %s",
               p->cluster, p->resource, err.message);
        p->paused = true;
        kr_timer_start(timer, 1000, 1000);
        return;
    }
    count(p, NULL, &p->stats.paused, false);
    kr_log(&p->logger, KR_LOG_INFO, "inventory", "%s %s: room in the buffer; watching from %s",
           p->cluster, p->resource, p->resume_rv ? p->resume_rv : "a new list");
}

typedef struct loop_call {
    kr_inventory_producer_t *p;
    int rc;
    kr_error_t *err;
} loop_call;

static void start_on_loop(void *user)
{
    loop_call *c = user;
    c->rc = start_reflector(c->p, c->err);
}

static void stop_on_loop(void *user)
{
    kr_inventory_producer_t *p = user;
    kr_reflector_free(p->refl);
    p->refl = NULL;
    kr_timer_free(p->timer);
    p->timer = NULL;
}

typedef int (*row_fn)(kr_inventory_producer_t *p, json_t *row, void *ctx, kr_error_t *err);

/* fn(row) for every row the inventory holds live for (cluster, kind) in
 * the collection's namespace, page by page; stops at the first error.
 * Rows of other namespaces are not the collection's: a namespaced
 * list never holds them. */
static int each_live_row(kr_inventory_producer_t *p, kr_inventory_t *inv, row_fn fn, void *ctx,
                         kr_error_t *err)
{
    char *token = NULL;
    int rc = 0;
    do {
        kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
        q.cluster = p->cluster;
        q.kind = p->kind;
        q.namespace_ = p->ns;
        q.limit = 1000;
        q.continue_token = token;
        json_t *items = NULL;
        char *next = NULL;
        rc = kr_inventory_query(inv, &q, &items, &next, err);
        kr_free(token);
        token = next;
        size_t i;
        json_t *row;
        json_array_foreach(items, i, row)
        {
            if (rc == 0)
                rc = fn(p, row, ctx, err);
        }
        json_decref(items);
    } while (rc == 0 && token);
    kr_free(token);
    return rc;
}

static int keep_object(kr_inventory_producer_t *p, json_t *row, void *ctx, kr_error_t *err)
{
    (void)p;
    json_t *obj = json_object_get(row, "object");
    if (json_is_object(obj) && json_array_append(ctx, obj) != 0)
        return kr_error_set(err, KR_ENOMEM, "inventory producer: out of memory");
    return 0;
}

/* The inventory's live rows of (cluster, kind) as the starting cache, and
 * its checkpoint as the resume point. */
static int preload(kr_inventory_producer_t *p, kr_inventory_t *inv, kr_error_t *err)
{
    int rc = kr_inventory_checkpoint(inv, p->cluster, p->resource, &p->resume_rv, err);
    json_t *all = rc == 0 ? json_array() : NULL;
    if (rc == 0 && !all)
        rc = kr_error_set(err, KR_ENOMEM, "inventory producer: out of memory");
    if (rc == 0 && p->kind)
        rc = each_live_row(p, inv, keep_object, all, err);
    if (rc == 0)
        return kr_store_replace(p->store, all, NULL, p->resume_rv, NULL, err);
    json_decref(all);
    return rc;
}

static int client_mode_new(kr_inventory_producer_t *p, const kr_inventory_producer_opts *opts,
                           kr_error_t *err)
{
    p->client = opts->client;
    p->rt = kr_client_runtime(opts->client);
    if (!p->rt || kr_runtime_is_loop_thread(p->rt))
        return kr_error_set(err, KR_ESTATE, "inventory producer: not on the client's loop thread");
    if (opts->namespace_ && *opts->namespace_ && !(p->ns = kr_strdup(opts->namespace_)))
        return kr_error_set(err, KR_ENOMEM, "inventory producer: out of memory");
    p->name = kr_asprintf("inventory %s/%s", p->cluster, p->resource);
    if (!p->name)
        return kr_error_set(err, KR_ENOMEM, "inventory producer: out of memory");
    int rc = kr_listwatch_client_new(opts->client, opts->gvr, p->ns, &p->lw, err);
    if (rc != 0)
        return rc;
    kr_store_opts so = {0};
    if ((rc = kr_store_new(&so, &p->store, err)) != 0)
        return rc;
    /* What an earlier producer left in the consumer is committed before
     * the starting point is read, or it would land after it (a delete
     * missed by a relist, behind an add replayed late). */
    if (opts->inventory && kr_inventory_consumer_flush(p->consumer, 10000, err) != 0)
        return kr_error_set(err, KR_EUNAVAILABLE,
                            "inventory producer: %s %s: buffered events wait for the database; "
                            "retry later",
                            p->cluster, p->resource);
    if (opts->inventory && (rc = preload(p, opts->inventory, err)) != 0)
        return rc;
    kr_timer_clock_runtime(p->rt, &p->clock);
    p->quiet = (kr_logger){.cb = quiet_log,
                           .max_level = p->logger.max_level > KR_LOG_WARN ? p->logger.max_level
                                                                          : KR_LOG_WARN,
                           .user = p};
    p->ropts = (kr_reflector_opts){
        .lw = p->lw,
        .clock = p->clock,
        .store = p->store,
        .hooks = {.on_delta = on_delta,
                  .on_progress = on_progress,
                  .on_request = on_request,
                  .user = p},
        .page_size = opts->page_size,
        .backoff_initial_ms = opts->backoff_initial_ms,
        .backoff_max_ms = opts->backoff_max_ms,
        .progress_deadline_ms = opts->progress_deadline_ms,
        .logger = p->quiet,
        .name = p->name,
    };
    p->stats.resumed = p->resume_rv != NULL;
    if (p->resume_rv)
        kr_log(&p->logger, KR_LOG_INFO, "inventory", "%s %s: resuming at resourceVersion %s",
               p->cluster, p->resource, p->resume_rv);
    loop_call call = {.p = p, .err = err};
    rc = kr_runtime_call_sync(p->rt, start_on_loop, &call);
    if (rc != 0)
        return kr_error_set(err, rc, "inventory producer: the client's runtime does not run");
    return call.rc;
}

/* ---- life -------------------------------------------------------------------- */

void kr_inventory_producer_free(kr_inventory_producer_t *p)
{
    if (!p)
        return;
    if (p->handler_id >= 0 && p->informer)
        kr_informer_remove_handler(p->informer, p->handler_id);
    if (p->rt && (p->refl || p->timer) && kr_runtime_call_sync(p->rt, stop_on_loop, p) != 0) {
        /* The loop is gone: nothing runs on it any more. */
        kr_reflector_free(p->refl);
        kr_timer_free(p->timer);
    }
    for (size_t i = 0; i < p->n_held; i++) {
        json_decref(held_at(p, i)->object);
        kr_free(held_at(p, i)->checkpoint_rv);
    }
    kr_buf_free(&p->held);
    kr_store_free(p->store);
    if (p->lw.vt)
        kr_listwatch_client_free(&p->lw);
    pthread_mutex_destroy(&p->lock);
    kr_free(p->observed_rv);
    kr_free(p->resume_rv);
    kr_free(p->ns);
    kr_free(p->name);
    kr_free(p->cluster);
    kr_free(p->resource);
    kr_free(p->api_version);
    kr_free(p->kind);
    kr_free(p);
}

int kr_inventory_producer_new(const kr_inventory_producer_opts *opts, kr_inventory_producer_t **out,
                              kr_error_t *err)
{
    if (opts && opts->version > KR_INVENTORY_PRODUCER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL,
                            "inventory producer: options version %u is newer than %u",
                            opts->version, (unsigned)KR_INVENTORY_PRODUCER_OPTS_VERSION);
    bool v2 = opts && opts->version >= 2;
    bool client_mode = v2 && !opts->informer && opts->client;
    if (!opts || !out || !opts->consumer || (!opts->informer && !client_mode) || !opts->cluster ||
        !*opts->cluster || !opts->resource || !*opts->resource ||
        (client_mode && (!opts->gvr.version || !opts->gvr.resource)))
        return kr_error_set(err, KR_EINVAL,
                            "inventory producer: consumer, informer or client and gvr, cluster "
                            "and resource are required");
    *out = NULL;
    kr_inventory_producer_t *p = kr_calloc(1, sizeof(*p));
    if (!p)
        return kr_error_set(err, KR_ENOMEM, "inventory producer: out of memory");
    pthread_mutex_init(&p->lock, NULL);
    p->handler_id = -1;
    p->consumer = opts->consumer;
    p->logger = opts->logger;
    p->cluster = kr_strdup(opts->cluster);
    p->resource = kr_strdup(opts->resource);
    p->api_version = opts->api_version ? kr_strdup(opts->api_version) : NULL;
    p->kind = opts->kind ? kr_strdup(opts->kind) : NULL;
    if (!p->cluster || !p->resource || (opts->api_version && !p->api_version) ||
        (opts->kind && !p->kind)) {
        kr_inventory_producer_free(p);
        return kr_error_set(err, KR_ENOMEM, "inventory producer: out of memory");
    }
    int rc;
    if (client_mode) {
        rc = client_mode_new(p, opts, err);
    } else {
        p->informer = opts->informer;
        const char *ns = kr_informer_namespace(p->informer);
        if (ns && !(p->ns = kr_strdup(ns))) {
            kr_inventory_producer_free(p);
            return kr_error_set(err, KR_ENOMEM, "inventory producer: out of memory");
        }
        kr_informer_handler h = {
            .on_add = on_add, .on_update = on_update, .on_delete = on_delete, .user = p};
        rc = kr_informer_add_handler(p->informer, &h, &p->handler_id, err);
        if (rc != 0)
            p->handler_id = -1;
    }
    if (rc != 0) {
        kr_inventory_producer_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void kr_inventory_producer_get_stats(kr_inventory_producer_t *p, kr_inventory_producer_stats *out,
                                     size_t out_size)
{
    kr_inv_stats_copy(p ? &p->lock : NULL, p ? &p->stats : NULL, sizeof(*out), out, out_size);
}

char *kr_inventory_producer_resource_version(kr_inventory_producer_t *p)
{
    if (!p)
        return NULL;
    pthread_mutex_lock(&p->lock);
    char *rv = p->observed_rv ? kr_strdup(p->observed_rv) : NULL;
    pthread_mutex_unlock(&p->lock);
    return rv;
}

typedef struct reconcile_ctx {
    size_t gone;
    kr_selector_t *labels; /* the informer's selectors; NULL: none */
    kr_field_selector_t *fields;
    char number[32]; /* a field's value printed (one reconcile at a time) */
} reconcile_ctx;

/* A field selector's value in a stored object: the dotted path's string,
 * or its number or boolean as text, as the apiserver compares them; NULL
 * (compared as "") when the object lacks it. */
static const char *stored_field(const json_t *obj, const char *field, void *user)
{
    reconcile_ctx *c = user;
    char path[256];
    if (snprintf(path, sizeof(path), "%s", field) >= (int)sizeof(path))
        return NULL;
    const json_t *v = obj;
    for (char *save = NULL, *part = strtok_r(path, ".", &save); part && v;
         part = strtok_r(NULL, ".", &save))
        v = json_object_get(v, part);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(c->number, sizeof(c->number), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return c->number;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return NULL;
}

/* Informer mode's reconciliation of one row: gone from the cache → a
 * DELETED_FINAL_STATE_UNKNOWN. A row the informer's selectors do not
 * select is not its to judge: its cache never holds it. */
static int reconcile_row(kr_inventory_producer_t *p, json_t *row, void *ctx, kr_error_t *err)
{
    reconcile_ctx *c = ctx;
    const json_t *stored = json_object_get(row, "object");
    if (c->labels && !kr_selector_matches_object(c->labels, stored))
        return 0;
    if (c->fields && !kr_field_selector_matches(c->fields, stored, stored_field, c))
        return 0;
    const char *ns = json_string_value(json_object_get(row, "namespace"));
    const char *name = json_string_value(json_object_get(row, "name"));
    const char *uid = json_string_value(json_object_get(row, "uid"));
    json_t *cached = kr_store_get_by_name(kr_informer_store(p->informer), ns, name);
    const char *cached_uid =
        json_string_value(json_object_get(json_object_get(cached, "metadata"), "uid"));
    bool held = cached && cached_uid && uid && strcmp(cached_uid, uid) == 0;
    json_decref(cached);
    if (held)
        return 0;
    kr_inventory_event ev = {.cluster = p->cluster,
                             .resource = p->resource,
                             .api_version = p->api_version,
                             .kind = p->kind,
                             .type = KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN,
                             .object = json_object_get(row, "object")};
    int rc;
    while ((rc = kr_inventory_consumer_enqueue(p->consumer, &ev, err)) == KR_ETOOLARGE)
        if (kr_inventory_consumer_wait_space(p->consumer, 1, 60000) != 0)
            return kr_error_set(err, KR_ETIMEDOUT,
                                "inventory producer: no room in the buffer for 60 s");
    if (rc == 0)
        c->gone++;
    return rc;
}

int kr_inventory_producer_reconcile(kr_inventory_producer_t *p, kr_inventory_t *inv, size_t *gone,
                                    kr_error_t *err)
{
    if (gone)
        *gone = 0;
    if (!p || !inv)
        return kr_error_set(err, KR_EINVAL, "inventory producer: p and inv are required");
    if (!p->informer)
        return 0; /* client mode: the starting cache did it */
    /* Without a kind every kind of the cluster would be compared with
     * this one collection, and all the others marked deleted. */
    if (!p->kind)
        return kr_error_set(err, KR_EINVAL,
                            "inventory producer: %s %s: reconcile needs the producer's kind "
                            "(kr_inventory_producer_opts.kind)",
                            p->cluster, p->resource);
    reconcile_ctx c = {.gone = 0};
    const char *labels = kr_informer_label_selector(p->informer);
    const char *fields = kr_informer_field_selector(p->informer);
    int rc = 0;
    if (labels)
        rc = kr_selector_parse(labels, &c.labels, err);
    if (rc == 0 && fields)
        rc = kr_field_selector_parse(fields, &c.fields, err);
    if (rc == 0)
        rc = each_live_row(p, inv, reconcile_row, &c, err);
    kr_selector_free(c.labels);
    kr_field_selector_free(c.fields);
    if (gone)
        *gone = c.gone;
    return rc;
}
