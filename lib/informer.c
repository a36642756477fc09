/* libkreconcile — the shared informer: runs a reflector on the loop thread,
 * fans its deltas out to handlers (each with its own resync), tracks the
 * observed resourceVersion for read-after-write waits, and reports
 * metrics. Handlers run only on the loop thread; blocking waits only on
 * workers. The store is the reflector's; this file never writes to it. */
#include "kreconcile/informer.h"
#include "kreconcile/selector.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "informer_internal.h"
#include "internal.h"
#include "store_internal.h"

#define MOD "informer"
#define MIN_RESYNC_MS 1000u /* the shortest resync period a handler gets */

typedef struct handler {
    kr_informer_handler h;
    int id;
    bool removed;
    void *resync_timer;
    kr_informer_t *inf;
} handler;

typedef struct rv_waiter {
    struct rv_waiter *next;
    kr_informer_t *inf;
    uint64_t target;
    kr_informer_rv_cb cb;
    void *user;
    void *timer;
    bool satisfied; /* fires through a 0 ms timer */
} rv_waiter;

enum {
    M_LISTS,
    M_WATCHES,
    M_RELISTS,
    M_LAST_RV,
    M_ADDED,
    M_UPDATED,
    M_DELETED,
    M_OBJECTS,
    M_BYTES,
    M_COUNT
};

struct kr_informer {
    kr_runtime_t *rt; /* NULL: driven by the caller's thread (tests) */
    kr_store_t *store;
    kr_reflector_t *refl;
    char *scope; /* "v1/configmaps ns=x" for logs and metrics */
    char *namespace_; /* NULL: every namespace */
    char *label_selector, *field_selector; /* NULL: none */
    handler **handlers;
    size_t nhandlers, cap;
    rv_waiter *waiters;
    uint64_t observed_rv; /* under mu */
    char *last_rv; /* under mu */
    char last_error[256]; /* under mu: the last list's failure, "" once it answers */
    kr_error_t last_err; /* under mu: the same in full (code, HTTP code, reason) */
    kr_metrics_registry_t *metrics;
    kr_listwatch lw;
    kr_timer_clock clock;
    kr_logger logger;
    kr_metric_t *m_restarts[KR_RESTART_CAUSES];
    pthread_mutex_t mu;
    pthread_cond_t cond;
    kr_metric_t *m[M_COUNT];
    _Atomic uint64_t stats[6 + KR_RESTART_CAUSES + 5];
    int next_id;
    int dispatching;
    int collector;
    bool own_lw;
    bool started;
    bool stopped; /* under mu */
    atomic_bool synced;
};

/* stats slots */
enum {
    S_LISTS,
    S_WATCHES,
    S_RELISTS,
    S_ADDED,
    S_UPDATED,
    S_DELETED,
    S_UNKNOWN,
    S_RESYNCS,
    S_RESTART0
};

static void stat_inc(kr_informer_t *inf, int slot)
{
    atomic_fetch_add_explicit(&inf->stats[slot], 1, memory_order_relaxed);
}

static int parse_rv(const char *rv, uint64_t *out)
{
    uint64_t v;
    if (kr_rv_parse(rv, &v) != 0 || v == 0)
        return KR_EINVAL;
    *out = v;
    return 0;
}

/* Run fn(arg) on the loop thread and wait (or at once, when already there
 * or when there is no runtime). */
static int on_loop(kr_informer_t *inf, kr_runtime_cb fn, void *arg)
{
    if (inf->rt && !kr_runtime_is_loop_thread(inf->rt))
        return kr_runtime_call_sync(inf->rt, fn, arg);
    fn(arg);
    return 0;
}

static bool on_loop_thread(const kr_informer_t *inf)
{
    return inf->rt && kr_runtime_is_loop_thread(inf->rt);
}

/* ---- dispatch ------------------------------------------------------------ */

static void compact_handlers(kr_informer_t *inf)
{
    if (inf->dispatching)
        return;
    size_t j = 0;
    for (size_t i = 0; i < inf->nhandlers; i++) {
        handler *h = inf->handlers[i];
        if (h->removed)
            kr_free(h);
        else
            inf->handlers[j++] = h;
    }
    inf->nhandlers = j;
}

static void on_delta(const kr_delta *d, void *user)
{
    kr_informer_t *inf = user;
    switch (d->type) {
    case KR_DELTA_ADDED:
        stat_inc(inf, S_ADDED);
        kr_metrics_counter_add(inf->m[M_ADDED], 1);
        break;
    case KR_DELTA_UPDATED:
        stat_inc(inf, S_UPDATED);
        kr_metrics_counter_add(inf->m[M_UPDATED], 1);
        break;
    case KR_DELTA_DELETED:
        stat_inc(inf, S_DELETED);
        if (d->final_state_unknown)
            stat_inc(inf, S_UNKNOWN);
        kr_metrics_counter_add(inf->m[M_DELETED], 1);
        break;
    }
    inf->dispatching++;
    size_t n = inf->nhandlers; /* handlers added now already saw this object */
    for (size_t i = 0; i < n; i++) {
        handler *h = inf->handlers[i];
        if (h->removed)
            continue;
        if (d->type == KR_DELTA_ADDED && h->h.on_add)
            h->h.on_add(d->object, h->h.user);
        else if (d->type == KR_DELTA_UPDATED && h->h.on_update)
            h->h.on_update(d->old_object, d->object, h->h.user);
        else if (d->type == KR_DELTA_DELETED && h->h.on_delete)
            h->h.on_delete(d->object, d->final_state_unknown, h->h.user);
    }
    inf->dispatching--;
    compact_handlers(inf);
}

/* Nobody to hand a relist's objects to: the reflector need not read
 * (parse) them. */
static bool wants_objects(void *user)
{
    const kr_informer_t *inf = user;
    return inf->nhandlers > 0;
}

static void fire_waiter(kr_informer_t *inf, rv_waiter *w, int rc)
{
    for (rv_waiter **p = &inf->waiters; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    if (w->timer) {
        void *t = w->timer;
        w->timer = NULL;
        inf->clock.vt->cancel(inf->clock.impl, t);
    }
    kr_informer_rv_cb cb = w->cb;
    void *cb_user = w->user;
    kr_free(w);
    cb(rc, cb_user);
}

static void on_list_error(const kr_error_t *err, void *user)
{
    kr_informer_t *inf = user;
    pthread_mutex_lock(&inf->mu);
    snprintf(inf->last_error, sizeof(inf->last_error), "%.255s",
             err->message[0] ? err->message : kr_strerror(err->code));
    inf->last_err = *err;
    pthread_mutex_unlock(&inf->mu);
}

static void on_progress(const char *rv, bool synced, void *user)
{
    kr_informer_t *inf = user;
    uint64_t v = 0;
    /* RVs are opaque: one that is no number (an aggregated API's, or a
     * list that gave none) still syncs, but moves no RV waiter */
    bool numeric = parse_rv(rv, &v) == 0;
    pthread_mutex_lock(&inf->mu);
    inf->last_error[0] = '\0'; /* the server answers */
    kr_error_clear(&inf->last_err);
    if (numeric)
        inf->observed_rv = v;
    if (*rv && (!inf->last_rv || strcmp(inf->last_rv, rv) != 0)) {
        char *copy = kr_strdup(rv);
        if (copy) {
            kr_free(inf->last_rv);
            inf->last_rv = copy;
        }
    }
    if (synced)
        atomic_store(&inf->synced, true);
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->mu);
    if (!numeric)
        return;
    kr_metrics_gauge_set(inf->m[M_LAST_RV], (double)v);
    /* rescan after each callback: it may add waiters or stop the informer */
    for (;;) {
        rv_waiter *w = inf->waiters;
        while (w && (w->satisfied || v < w->target))
            w = w->next;
        if (!w)
            break;
        fire_waiter(inf, w, 0);
    }
}

static void on_request(kr_reflector_request request, int cause, void *user)
{
    kr_informer_t *inf = user;
    if (request == KR_REFLECTOR_REQUEST_NONE) {
        if (cause >= 0 && cause < KR_RESTART_CAUSES) {
            stat_inc(inf, S_RESTART0 + cause);
            kr_metrics_counter_add(inf->m_restarts[cause], 1);
        }
        return;
    }
    bool list = request == KR_REFLECTOR_REQUEST_LIST || request == KR_REFLECTOR_REQUEST_WATCHLIST;
    if (list) {
        if (atomic_fetch_add(&inf->stats[S_LISTS], 1) > 0) {
            stat_inc(inf, S_RELISTS);
            kr_metrics_counter_add(inf->m[M_RELISTS], 1);
        }
        kr_metrics_counter_add(inf->m[M_LISTS], 1);
    }
    if (!list || request == KR_REFLECTOR_REQUEST_WATCHLIST) {
        stat_inc(inf, S_WATCHES);
        kr_metrics_counter_add(inf->m[M_WATCHES], 1);
    }
}

/* ---- handlers and resync --------------------------------------------------- */

static void arm_resync(handler *h);

/* Hand every object of `snap` to h (on_update(o, o) for a resync, else
 * on_add), one at a time: a compact store never parses them all at once.
 * Stops when the handler is removed. */
static void deliver_snapshot(kr_informer_t *inf, handler *h, const struct kr_store_snapshot *snap,
                             bool resync)
{
    inf->dispatching++;
    size_t missed = 0;
    for (size_t i = 0; i < snap->n && !h->removed; i++) {
        if (resync ? !h->h.on_update : !h->h.on_add)
            break;
        json_t *o = kr_store_snapshot_object(inf->store, snap, i);
        if (!o) {
            missed++;
            continue;
        }
        if (resync)
            h->h.on_update(o, o, h->h.user);
        else
            h->h.on_add(o, h->h.user);
        json_decref(o);
    }
    inf->dispatching--;
    if (missed)
        kr_log(&inf->logger, KR_LOG_ERROR, MOD, "%s: %s skipped %zu objects: out of memory",
               inf->scope, resync ? "a resync" : "a new handler's adds", missed);
}

static void on_resync(void *user)
{
    handler *h = user;
    kr_informer_t *inf = h->inf;
    h->resync_timer = NULL;
    if (h->removed)
        return;
    if (atomic_load(&inf->synced)) {
        struct kr_store_snapshot snap;
        if (kr_store_snapshot_take(inf->store, &snap) == 0) {
            stat_inc(inf, S_RESYNCS);
            deliver_snapshot(inf, h, &snap, true);
            kr_store_snapshot_release(&snap);
        }
    }
    if (!h->removed)
        arm_resync(h);
    compact_handlers(inf);
}

static void arm_resync(handler *h)
{
    kr_informer_t *inf = h->inf;
    if (!h->h.resync_ms || h->resync_timer || !inf->started)
        return;
    pthread_mutex_lock(&inf->mu);
    bool stopped = inf->stopped;
    pthread_mutex_unlock(&inf->mu);
    if (stopped)
        return;
    if (inf->clock.vt->schedule(inf->clock.impl, h->h.resync_ms, on_resync, h, &h->resync_timer))
        h->resync_timer = NULL;
}

static void disarm_resync(handler *h)
{
    if (h->resync_timer) {
        void *t = h->resync_timer;
        h->resync_timer = NULL;
        h->inf->clock.vt->cancel(h->inf->clock.impl, t);
    }
}

struct add_call {
    kr_informer_t *inf;
    handler *h;
    int id; /* 0: not added */
    int rc;
};

/* The informer add_on_loop is replaying its cache to a new handler, on
 * this thread. */
static _Thread_local const kr_informer_t *replaying;

bool kr_informer_replaying(const kr_informer_t *inf)
{
    return inf && replaying == inf;
}

static void add_on_loop(void *arg)
{
    struct add_call *c = arg;
    kr_informer_t *inf = c->inf;
    pthread_mutex_lock(&inf->mu);
    bool stopped = inf->stopped;
    pthread_mutex_unlock(&inf->mu);
    if (stopped) { /* since the caller looked */
        c->rc = KR_ESHUTDOWN;
        return;
    }
    if (kr_array_grow(&inf->handlers, &inf->cap, inf->nhandlers, sizeof(handler *), 4) != 0) {
        c->rc = KR_ENOMEM;
        return;
    }
    struct kr_store_snapshot snap;
    c->rc = kr_store_snapshot_take(inf->store, &snap);
    if (c->rc != 0)
        return;
    handler *h = c->h;
    h->id = ++inf->next_id;
    c->id = h->id; /* a handler that stops the informer frees h */
    inf->handlers[inf->nhandlers++] = h;
    /* a late handler first sees every cached object as an add */
    const kr_informer_t *outer = replaying;
    replaying = inf;
    deliver_snapshot(inf, h, &snap, false);
    replaying = outer;
    kr_store_snapshot_release(&snap);
    arm_resync(h);
    compact_handlers(inf);
}

int kr_informer_add_handler(kr_informer_t *inf, const kr_informer_handler *handler_opts, int *id,
                            kr_error_t *err)
{
    if (!inf || !handler_opts)
        return kr_error_set(err, KR_EINVAL, "informer: handler is NULL");
    pthread_mutex_lock(&inf->mu);
    bool stopped = inf->stopped;
    pthread_mutex_unlock(&inf->mu);
    if (stopped) /* as client-go: no handler runs after stop */
        return kr_error_set(err, KR_ESHUTDOWN,
                            "informer %s: handler was not added because the informer has "
                            "stopped already",
                            inf->scope);
    handler *h = kr_calloc(1, sizeof(*h));
    if (!h)
        return kr_error_set(err, KR_ENOMEM, "informer %s: out of memory", "handler");
    h->h = *handler_opts;
    h->inf = inf;
    if (h->h.resync_ms && h->h.resync_ms < MIN_RESYNC_MS) {
        /* client-go's minimumResyncPeriod */
        kr_log(&inf->logger, KR_LOG_WARN, MOD, "%s: resync period %llu ms raised to %u ms",
               inf->scope, (unsigned long long)h->h.resync_ms, MIN_RESYNC_MS);
        h->h.resync_ms = MIN_RESYNC_MS;
    }
    struct add_call c = {inf, h, 0, 0};
    int rc = on_loop(inf, add_on_loop, &c);
    if (rc == 0)
        rc = c.rc;
    if (rc != 0) {
        if (!c.id)
            kr_free(h);
        if (rc == KR_ESHUTDOWN)
            return kr_error_set(err, rc,
                                "informer %s: handler was not added because the informer has "
                                "stopped already",
                                inf->scope);
        return kr_error_set(err, rc, "informer %s: cannot add handler: %s", inf->scope,
                            kr_strerror(rc));
    }
    if (id)
        *id = c.id;
    return 0;
}

struct remove_call {
    kr_informer_t *inf;
    int id;
    int rc;
};

static void remove_on_loop(void *arg)
{
    struct remove_call *c = arg;
    c->rc = KR_ENOTFOUND;
    for (size_t i = 0; i < c->inf->nhandlers; i++) {
        handler *h = c->inf->handlers[i];
        if (h->id == c->id && !h->removed) {
            h->removed = true;
            disarm_resync(h);
            c->rc = 0;
        }
    }
    compact_handlers(c->inf);
}

int kr_informer_remove_handler(kr_informer_t *inf, int id)
{
    if (!inf)
        return KR_EINVAL;
    struct remove_call c = {inf, id, 0};
    int rc = on_loop(inf, remove_on_loop, &c);
    return rc ? rc : c.rc;
}

/* ---- metrics ------------------------------------------------------------------- */

static void collect(void *user)
{
    kr_informer_t *inf = user;
    kr_store_stats st;
    kr_store_get_stats(inf->store, &st, sizeof(st));
    kr_metrics_gauge_set(inf->m[M_OBJECTS], (double)st.objects);
    kr_metrics_gauge_set(inf->m[M_BYTES], (double)(st.cached_json_bytes + st.overhead_bytes));
}

static int series(kr_metrics_registry_t *reg, kr_metric_type type, const char *name,
                  const char *help, const char *scope, const char *extra_label,
                  const char *extra_value, kr_metric_t **out, kr_error_t *err)
{
    const char *labels[2] = {"informer", extra_label};
    const char *values[2] = {scope, extra_value};
    size_t n = extra_label ? 2 : 1;
    kr_metric_family_t *fam = NULL;
    int rc = kr_metrics_family_register(reg, type, name, help, labels, n, NULL, 0, &fam, err);
    if (rc == 0)
        rc = kr_metrics_series(fam, values, out, err);
    return rc;
}

static int register_metrics(kr_informer_t *inf, kr_error_t *err)
{
    kr_metrics_registry_t *reg = inf->metrics;
    const char *s = inf->scope;
    int rc = 0;
#define C(slot, name, help)                                                                        \
    if (rc == 0)                                                                                   \
    rc = series(reg, KR_METRIC_COUNTER, name, help, s, NULL, NULL, &inf->m[slot], err)
    C(M_LISTS, "kr_informer_lists_total", "LISTs started (first list and relists)");
    C(M_WATCHES, "kr_informer_watches_total", "WATCH requests started");
    C(M_RELISTS, "kr_informer_relists_total", "LISTs after the first one");
#undef C
    static const char *const types[] = {"added", "updated", "deleted"};
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = series(reg, KR_METRIC_COUNTER, "kr_informer_events_total",
                    "Changes delivered to handlers, by type", s, "type", types[i],
                    &inf->m[M_ADDED + i], err);
    for (int i = 0; i < KR_RESTART_CAUSES && rc == 0; i++)
        rc = series(reg, KR_METRIC_COUNTER, "kr_informer_watch_restarts_total",
                    "Watch restarts by cause", s, "cause",
                    kr_watch_restart_cause_name((kr_watch_restart_cause)i), &inf->m_restarts[i],
                    err);
    if (rc == 0)
        rc = series(reg, KR_METRIC_GAUGE, "kr_informer_last_resource_version",
                    "Last resourceVersion observed", s, NULL, NULL, &inf->m[M_LAST_RV], err);
    if (rc == 0)
        rc = series(reg, KR_METRIC_GAUGE, "kr_informer_store_objects", "Objects cached", s, NULL,
                    NULL, &inf->m[M_OBJECTS], err);
    if (rc == 0)
        rc = series(reg, KR_METRIC_GAUGE, "kr_informer_store_bytes",
                    "Bytes cached: JSON kept plus the store's own structures", s, NULL, NULL,
                    &inf->m[M_BYTES], err);
    if (rc == 0) {
        inf->collector = kr_metrics_collector_add(reg, collect, inf);
        if (inf->collector < 0) {
            rc = inf->collector;
            inf->collector = 0;
            kr_error_set(err, rc, "informer %s: cannot add metrics collector", s);
        } else {
            inf->collector++; /* 0 = none */
        }
    }
    return rc;
}

/* ---- life ------------------------------------------------------------------------ */

/* A selector's parse (rc, perr), as check_scope answers it. */
static int selector_checked(int rc, const char *what, const char *text, const kr_error_t *perr,
                            kr_error_t *err)
{
    if (rc == KR_ENOMEM)
        return kr_error_set(err, KR_ENOMEM, "informer: out of memory");
    if (rc != 0)
        return kr_error_set(err, KR_EINVAL, "informer: invalid %s selector \"%s\": %s", what, text,
                            perr->message);
    return 0;
}

/* The scope is checked here rather than refused by the apiserver at every
 * list: the namespace must be an RFC 1123 label (as a Namespace's name)
 * and the selectors must parse. Which fields a field selector may name is
 * the resource's business (the apiserver's), so only its syntax is
 * checked. KR_EINVAL naming the bad value, or KR_ENOMEM. */
static int check_scope(const kr_informer_opts *opts, kr_error_t *err)
{
    const char *ns = opts->namespace_;
    if (ns && *ns && !kr_name_is_dns1123_label(ns))
        return kr_error_set(err, KR_EINVAL,
                            "informer: invalid namespace \"%s\": a namespace is an RFC 1123 "
                            "label (1-63 lower case letters, digits or '-', starting and ending "
                            "with a letter or digit)",
                            ns);
    kr_error_t perr = {0};
    int rc = 0;
    if (opts->label_selector && *opts->label_selector) {
        kr_selector_t *sel = NULL;
        rc = kr_selector_parse(opts->label_selector, &sel, &perr);
        kr_selector_free(sel);
        rc = selector_checked(rc, "label", opts->label_selector, &perr, err);
    }
    if (rc == 0 && opts->field_selector && *opts->field_selector) {
        kr_field_selector_t *sel = NULL;
        rc = kr_field_selector_parse(opts->field_selector, &sel, &perr);
        kr_field_selector_free(sel);
        rc = selector_checked(rc, "field", opts->field_selector, &perr, err);
    }
    return rc;
}

int kr_informer_new(const kr_informer_opts *opts, kr_informer_t **out, kr_error_t *err)
{
    if (!out || !opts)
        return kr_error_set(err, KR_EINVAL, "informer: opts and out are required");
    *out = NULL;
    if (opts && opts->version > KR_INFORMER_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "informer: options version %u is newer than %u",
                            opts->version, (unsigned)KR_INFORMER_OPTS_VERSION);
    if (!opts->lw.vt && (!opts->client || !opts->resource.version || !opts->resource.resource))
        return kr_error_set(err, KR_EINVAL, "informer: a client and a resource are required");
    if (opts->lw.vt && !opts->clock.vt)
        return kr_error_set(err, KR_EINVAL, "informer: a custom lister-watcher needs a clock");
    int scope_rc = check_scope(opts, err);
    if (scope_rc != 0)
        return scope_rc;
    kr_informer_t *inf = kr_calloc(1, sizeof(*inf));
    if (!inf)
        return kr_error_set(err, KR_ENOMEM, "informer: out of memory");
    pthread_mutex_init(&inf->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cond, &ca);
    pthread_condattr_destroy(&ca);
    inf->logger = opts->logger;
    inf->metrics = opts->metrics;
    int rc = 0;
    const char *group = opts->resource.group && *opts->resource.group ? opts->resource.group : "";
    if (opts->name)
        inf->scope = kr_strdup(opts->name);
    else
        inf->scope = kr_asprintf("%s%s%s/%s%s%s%s%s%s%s%s", group, *group ? "/" : "",
                                 opts->resource.version ? opts->resource.version : "custom",
                                 opts->resource.resource ? opts->resource.resource : "objects",
                                 opts->namespace_ && *opts->namespace_ ? " ns=" : "",
                                 opts->namespace_ ? opts->namespace_ : "",
                                 opts->label_selector ? " labels=" : "",
                                 opts->label_selector ? opts->label_selector : "",
                                 opts->field_selector ? " fields=" : "",
                                 opts->field_selector ? opts->field_selector : "",
                                 opts->metadata_only ? " metadata-only" : "");
    if (opts->namespace_ && *opts->namespace_)
        inf->namespace_ = kr_strdup(opts->namespace_);
    if (opts->label_selector && *opts->label_selector)
        inf->label_selector = kr_strdup(opts->label_selector);
    if (opts->field_selector && *opts->field_selector)
        inf->field_selector = kr_strdup(opts->field_selector);
    if (!inf->scope || (opts->namespace_ && *opts->namespace_ && !inf->namespace_) ||
        (opts->label_selector && *opts->label_selector && !inf->label_selector) ||
        (opts->field_selector && *opts->field_selector && !inf->field_selector)) {
        rc = kr_error_set(err, KR_ENOMEM, "informer: out of memory");
        goto fail;
    }
    if (opts->lw.vt) {
        inf->lw = opts->lw;
        inf->clock = opts->clock;
        inf->rt = opts->runtime;
    } else {
        inf->rt = kr_client_runtime(opts->client);
        rc = (opts->metadata_only ? kr_listwatch_client_new_metadata : kr_listwatch_client_new)(
            opts->client, opts->resource, opts->namespace_, &inf->lw, err);
        if (rc)
            goto fail;
        /* the store drops them: decoding them would cost a tree per event */
        if (!opts->store.keep_managed_fields)
            kr_listwatch_client_drop_managed_fields(&inf->lw);
        inf->own_lw = true;
        kr_timer_clock_runtime(inf->rt, &inf->clock);
    }
    rc = kr_store_new(&opts->store, &inf->store, err);
    if (rc)
        goto fail;
    uint64_t seed = opts->seed;
    if (!seed)
        seed = (uint64_t)kr_clock_monotonic_ns() ^ (uintptr_t)inf;
    kr_reflector_opts ro = {
        .version = KR_REFLECTOR_OPTS_VERSION,
        .lw = inf->lw,
        .clock = inf->clock,
        .store = inf->store,
        .hooks = {on_delta, on_progress, on_request, inf, wants_objects},
        .label_selector = opts->label_selector,
        .field_selector = opts->field_selector,
        .page_size = opts->page_size,
        .watch_timeout_min_ms = opts->watch_timeout_min_ms,
        .watch_timeout_max_ms = opts->watch_timeout_max_ms,
        .progress_deadline_ms = opts->progress_deadline_ms,
        .backoff_initial_ms = opts->backoff_initial_ms,
        .backoff_max_ms = opts->backoff_max_ms,
        .streaming_list = opts->streaming_list,
        .seed = seed,
        .logger = opts->logger,
        .name = inf->scope,
        .on_list_error = on_list_error,
    };
    rc = kr_reflector_new(&ro, &inf->refl, err);
    if (rc)
        goto fail;
    if (inf->metrics) {
        rc = register_metrics(inf, err);
        if (rc)
            goto fail;
    }
    *out = inf;
    return 0;
fail:
    kr_informer_free(inf);
    return rc;
}

static void start_on_loop(void *arg)
{
    kr_informer_t *inf = arg;
    inf->started = true;
    for (size_t i = 0; i < inf->nhandlers; i++)
        arm_resync(inf->handlers[i]);
    kr_reflector_start(inf->refl, NULL);
}

int kr_informer_start(kr_informer_t *inf, kr_error_t *err)
{
    if (!inf)
        return kr_error_set(err, KR_EINVAL, "informer: NULL");
    pthread_mutex_lock(&inf->mu);
    bool stopped = inf->stopped;
    pthread_mutex_unlock(&inf->mu);
    if (stopped)
        return kr_error_set(err, KR_ESHUTDOWN, "informer %s: stopped", inf->scope);
    if (inf->started)
        return kr_error_set(err, KR_ESTATE, "informer %s: already started", inf->scope);
    int rc = on_loop(inf, start_on_loop, inf);
    if (rc)
        return kr_error_set(err, rc, "informer %s: cannot start: %s", inf->scope, kr_strerror(rc));
    return 0;
}

static void stop_on_loop(void *arg)
{
    kr_informer_t *inf = arg;
    kr_reflector_stop(inf->refl);
    for (size_t i = 0; i < inf->nhandlers; i++) {
        inf->handlers[i]->removed = true;
        disarm_resync(inf->handlers[i]);
    }
    compact_handlers(inf);
    while (inf->waiters)
        fire_waiter(inf, inf->waiters, KR_ESHUTDOWN);
}

void kr_informer_stop(kr_informer_t *inf)
{
    if (!inf)
        return;
    pthread_mutex_lock(&inf->mu);
    bool was = inf->stopped;
    inf->stopped = true;
    pthread_cond_broadcast(&inf->cond);
    pthread_mutex_unlock(&inf->mu);
    if (was || !inf->refl)
        return;
    if (on_loop(inf, stop_on_loop, inf) != 0)
        kr_log(&inf->logger, KR_LOG_ERROR, MOD, "%s: runtime gone before the informer was stopped",
               inf->scope);
}

static void retry_on_loop(void *arg)
{
    kr_informer_t *inf = arg;
    pthread_mutex_lock(&inf->mu);
    bool stopped = inf->stopped;
    pthread_mutex_unlock(&inf->mu);
    if (!stopped)
        (void)kr_reflector_retry_now(inf->refl);
}

void kr_informer_retry_now(kr_informer_t *inf)
{
    if (!inf || !inf->refl)
        return;
    (void)on_loop(inf, retry_on_loop, inf);
}

void kr_informer_free(kr_informer_t *inf)
{
    if (!inf)
        return;
    kr_informer_stop(inf);
    if (inf->collector)
        kr_metrics_collector_remove(inf->metrics, inf->collector - 1);
    kr_reflector_free(inf->refl);
    for (size_t i = 0; i < inf->nhandlers; i++)
        kr_free(inf->handlers[i]);
    kr_free(inf->handlers);
    kr_store_free(inf->store);
    if (inf->own_lw)
        kr_listwatch_client_free(&inf->lw);
    kr_free(inf->last_rv);
    kr_free(inf->scope);
    kr_free(inf->namespace_);
    kr_free(inf->label_selector);
    kr_free(inf->field_selector);
    pthread_cond_destroy(&inf->cond);
    pthread_mutex_destroy(&inf->mu);
    kr_free(inf);
}

const char *kr_informer_namespace(const kr_informer_t *inf)
{
    return inf ? inf->namespace_ : NULL;
}

const char *kr_informer_label_selector(const kr_informer_t *inf)
{
    return inf ? inf->label_selector : NULL;
}

const char *kr_informer_field_selector(const kr_informer_t *inf)
{
    return inf ? inf->field_selector : NULL;
}

kr_store_t *kr_informer_store(kr_informer_t *inf)
{
    return inf ? inf->store : NULL;
}

const char *kr_informer_describe(const kr_informer_t *inf)
{
    return inf && inf->scope ? inf->scope : "";
}

bool kr_informer_has_synced(const kr_informer_t *inf)
{
    return inf && atomic_load(&((kr_informer_t *)inf)->synced);
}

bool kr_informer_last_error(const kr_informer_t *inf, char *buf, size_t len)
{
    if (!inf)
        return false;
    kr_informer_t *m = (kr_informer_t *)inf;
    pthread_mutex_lock(&m->mu);
    bool failing = m->last_error[0] != '\0';
    if (failing && buf && len)
        snprintf(buf, len, "%s", m->last_error);
    pthread_mutex_unlock(&m->mu);
    return failing;
}

bool kr_informer_last_error_detail(const kr_informer_t *inf, kr_error_t *out)
{
    kr_error_clear(out);
    if (!inf)
        return false;
    kr_informer_t *m = (kr_informer_t *)inf;
    pthread_mutex_lock(&m->mu);
    bool failing = m->last_error[0] != '\0';
    if (failing && out)
        *out = m->last_err;
    pthread_mutex_unlock(&m->mu);
    return failing;
}

char *kr_informer_last_resource_version(const kr_informer_t *inf)
{
    if (!inf)
        return NULL;
    kr_informer_t *m = (kr_informer_t *)inf;
    pthread_mutex_lock(&m->mu);
    char *rv = kr_strdup(m->last_rv);
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static void informer_stats_fill(const kr_informer_t *inf, kr_informer_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!inf)
        return;
    kr_informer_t *m = (kr_informer_t *)inf;
    out->lists = atomic_load(&m->stats[S_LISTS]);
    out->watches = atomic_load(&m->stats[S_WATCHES]);
    out->relists = atomic_load(&m->stats[S_RELISTS]);
    out->added = atomic_load(&m->stats[S_ADDED]);
    out->updated = atomic_load(&m->stats[S_UPDATED]);
    out->deleted = atomic_load(&m->stats[S_DELETED]);
    out->deleted_final_state_unknown = atomic_load(&m->stats[S_UNKNOWN]);
    out->resyncs = atomic_load(&m->stats[S_RESYNCS]);
    for (int i = 0; i < KR_RESTART_CAUSES; i++)
        out->restarts[i] = atomic_load(&m->stats[S_RESTART0 + i]);
}

void kr_informer_get_stats(const kr_informer_t *inf, kr_informer_stats *out, size_t out_size)
{
    kr_informer_stats all;
    memset(&all, 0, sizeof(all));
    informer_stats_fill(inf, &all);
    kr_copy_sized(out, out_size, &all, sizeof(all));
}

/* ---- waiting -------------------------------------------------------------------- */

static void deadline_after(struct timespec *ts, uint64_t timeout_ms)
{
    kr_deadline_after_ms(ts, timeout_ms);
}

/* Wait under inf->mu until done(inf) or the deadline. */
static int wait_until(kr_informer_t *inf, bool (*done)(kr_informer_t *, uint64_t), uint64_t arg,
                      const struct timespec *deadline)
{
    int rc = 0;
    pthread_mutex_lock(&inf->mu);
    while (!done(inf, arg)) {
        if (inf->stopped) {
            rc = KR_ESHUTDOWN;
            break;
        }
        if (pthread_cond_timedwait(&inf->cond, &inf->mu, deadline) == ETIMEDOUT &&
            !done(inf, arg)) {
            rc = KR_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&inf->mu);
    return rc;
}

static bool is_synced(kr_informer_t *inf, uint64_t unused)
{
    (void)unused;
    return atomic_load(&inf->synced);
}

static bool has_observed(kr_informer_t *inf, uint64_t target)
{
    return atomic_load(&inf->synced) && inf->observed_rv >= target;
}

int kr_informer_wait_for_sync(kr_informer_t *inf, uint64_t timeout_ms, kr_error_t *err)
{
    if (!inf)
        return kr_error_set(err, KR_EINVAL, "informer: NULL");
    if (on_loop_thread(inf))
        return kr_error_set(err, KR_ESTATE, "informer %s: blocking wait on the loop thread",
                            inf->scope);
    struct timespec dl;
    deadline_after(&dl, timeout_ms);
    int rc = wait_until(inf, is_synced, 0, &dl);
    if (rc)
        return kr_error_set(err, rc, "informer %s: not synced after %llu ms: %s", inf->scope,
                            (unsigned long long)timeout_ms, kr_strerror(rc));
    return 0;
}

int kr_informer_wait_for_resource_version(kr_informer_t *inf, const char *resource_version,
                                          uint64_t timeout_ms, kr_error_t *err)
{
    kr_rv_target t = {inf, resource_version};
    return kr_informer_wait_for_resource_versions(&t, 1, timeout_ms, NULL, err);
}

int kr_informer_wait_for_resource_versions(const kr_rv_target *targets, size_t n,
                                           uint64_t timeout_ms, size_t *pending, kr_error_t *err)
{
    struct timespec dl;
    deadline_after(&dl, timeout_ms);
    for (size_t i = 0; i < n; i++) {
        kr_informer_t *inf = targets[i].informer;
        uint64_t target = 0;
        if (!inf || parse_rv(targets[i].resource_version, &target) != 0)
            return kr_error_set(err, KR_EINVAL, "informer: \"%s\" is not a resourceVersion",
                                targets[i].resource_version ? targets[i].resource_version : "");
        if (on_loop_thread(inf))
            return kr_error_set(err, KR_ESTATE, "informer %s: blocking wait on the loop thread",
                                inf->scope);
        int rc = wait_until(inf, has_observed, target, &dl);
        if (rc) {
            if (pending)
                *pending = i;
            return kr_error_set(err, rc, "informer %s: resourceVersion %s not observed: %s",
                                inf->scope, targets[i].resource_version, kr_strerror(rc));
        }
    }
    return 0;
}

static void waiter_timer(void *user)
{
    rv_waiter *w = user;
    w->timer = NULL;
    fire_waiter(w->inf, w, w->satisfied ? 0 : KR_ETIMEDOUT);
}

struct notify_call {
    rv_waiter *w;
    uint64_t timeout_ms;
    int rc;
};

static void notify_on_loop(void *arg)
{
    struct notify_call *c = arg;
    rv_waiter *w = c->w;
    kr_informer_t *inf = w->inf;
    pthread_mutex_lock(&inf->mu);
    bool stopped = inf->stopped;
    w->satisfied = has_observed(inf, w->target);
    pthread_mutex_unlock(&inf->mu);
    if (stopped) {
        c->rc = KR_ESHUTDOWN;
        return;
    }
    /* already observed: answer from a 0 ms timer, never inside the call */
    c->rc = inf->clock.vt->schedule(inf->clock.impl, w->satisfied ? 0 : c->timeout_ms, waiter_timer,
                                    w, &w->timer);
    if (c->rc)
        return;
    w->next = inf->waiters;
    inf->waiters = w;
}

int kr_informer_notify_resource_version(kr_informer_t *inf, const char *resource_version,
                                        uint64_t timeout_ms, kr_informer_rv_cb cb, void *user,
                                        kr_error_t *err)
{
    uint64_t target = 0;
    if (!inf || !cb || parse_rv(resource_version, &target) != 0)
        return kr_error_set(err, KR_EINVAL, "informer: \"%s\" is not a resourceVersion",
                            resource_version ? resource_version : "");
    rv_waiter *w = kr_calloc(1, sizeof(*w));
    if (!w)
        return kr_error_set(err, KR_ENOMEM, "informer: out of memory");
    *w = (rv_waiter){.inf = inf, .target = target, .cb = cb, .user = user};
    struct notify_call c = {w, timeout_ms, 0};
    int rc = on_loop(inf, notify_on_loop, &c);
    if (rc == 0)
        rc = c.rc;
    if (rc) {
        kr_free(w);
        return kr_error_set(err, rc, "informer %s: cannot wait for %s: %s", inf->scope,
                            resource_version, kr_strerror(rc));
    }
    return 0;
}
