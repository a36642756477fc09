/* libkreconcile — the reflector: a state machine driven by list/watch and
 * timer callbacks that keeps a store equal to the server's collection
 * (paged LIST, WATCH from the list's RV, 410 -> relist, backoff, progress
 * deadline, streaming list). It never does I/O and never blocks: requests
 * go through the kr_listwatch vtable, time through kr_timer_clock. */
#include "kreconcile/reflector.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_internal.h"

#define MOD "reflector"
#define INITIAL_EVENTS_END "k8s.io/initial-events-end"
/* client-go's "very short watch": a clean end this soon with no event */
#define SHORT_WATCH_MS 1000

typedef enum phase {
    P_IDLE = 0,
    P_LISTING, /* paged LIST in progress */
    P_STREAMING, /* watch with sendInitialEvents, before the end bookmark */
    P_WATCHING,
    P_WAITING, /* backoff timer armed */
    P_STOPPED,
} phase;

typedef enum next_action {
    NEXT_RELIST = 0,
    NEXT_REWATCH = 1,
} next_action;

struct kr_reflector {
    kr_listwatch lw;
    kr_timer_clock clock;
    kr_store_t *store;
    kr_reflector_hooks hooks;
    void (*on_list_error)(const kr_error_t *err, void *user);
    kr_logger logger;
    char *label_selector;
    char *field_selector;
    char *name;
    long page_size;
    int timeout_min_s;
    int timeout_max_s;
    uint64_t progress_deadline_ms;
    uint64_t backoff_initial_ms;
    uint64_t backoff_max_ms;
    uint64_t backoff_reset_ms;
    bool streaming_list; /* still worth trying (false after a fallback) */
    bool page_size_set; /* given in the options: every list is paged */
    bool rv_unavailable; /* see list_from */
    bool paginated_result; /* a list at "0" came in pages: keep paging */
    bool full_list; /* an expired continue token: the rest in one page */

    phase phase;
    bool synced;
    bool direct_list; /* this list goes straight into the (empty) store */
    bool resumed; /* started by kr_reflector_start_at: re-watch until a 410 */
    void *request; /* the pending list or the open watch */
    void *backoff_timer;
    void *progress_timer;
    next_action after_backoff;
    /* the list (or initial events) so far, already in the store's cached
     * form, so that a relist never holds the whole list as trees */
    kr_store_batch_t *pending;
    char *list_rv;
    char *continue_token;
    char *last_rv;
    /* What a list asks for, as client-go's reflector: "0" first (any
     * state: a watch cache answers), then the last RV seen (at least as
     * fresh), and "" (the latest, a consistent read) once the server has
     * said that RV is unavailable (410, or too large). */
    char *list_from; /* the RV this list asked for; NULL: "" */
    uint64_t last_progress_ms;
    uint64_t watch_started_ms;
    unsigned long watch_events; /* events of the open watch, bookmarks too */
    uint64_t last_backoff_ms;
    unsigned backoff_steps;
    bool backed_off;
    kr_rng rng;
};

const char *kr_watch_restart_cause_name(kr_watch_restart_cause cause)
{
    static const char *const names[] = {"timeout", "gone", "error", "progress_deadline"};
    if ((unsigned)cause >= KR_RESTART_CAUSES)
        return "unknown";
    return names[cause];
}

int kr_resource_version_compare(const char *a, const char *b)
{
    uint64_t x = 0, y = 0;
    int ax = kr_rv_parse(a, &x) == 0, by = kr_rv_parse(b, &y) == 0;
    if (!ax || !by)
        return ax - by;
    return (x > y) - (x < y);
}

/* ---- small helpers ---------------------------------------------------- */

static uint64_t rng_next(kr_reflector_t *r)
{
    return kr_rng_next(&r->rng); /* jitter only needs to decorrelate clients */
}

static uint64_t now_ms(kr_reflector_t *r)
{
    return r->clock.vt->now_ms(r->clock.impl);
}

static const char *rv_of(const json_t *obj)
{
    const char *rv =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    return (rv && *rv) ? rv : NULL;
}

static int set_str(char **dst, const char *src)
{
    if (*dst && src && strcmp(*dst, src) == 0)
        return 0;
    char *copy = NULL;
    if (src) {
        copy = kr_strdup(src);
        if (!copy)
            return KR_ENOMEM;
    }
    kr_free(*dst);
    *dst = copy;
    return 0;
}

static void cancel_request(kr_reflector_t *r)
{
    if (r->request) {
        void *h = r->request;
        r->request = NULL;
        r->lw.vt->cancel(r->lw.impl, h);
    }
}

static void cancel_timer(kr_reflector_t *r, void **timer)
{
    if (*timer) {
        void *h = *timer;
        *timer = NULL;
        r->clock.vt->cancel(r->clock.impl, h);
    }
}

static void report_request(kr_reflector_t *r, kr_reflector_request request, int cause)
{
    if (r->hooks.on_request)
        r->hooks.on_request(request, cause, r->hooks.user);
}

static void report_progress(kr_reflector_t *r)
{
    /* a list without a resourceVersion still syncs: reported as "" */
    if (r->hooks.on_progress && (r->last_rv || r->synced))
        r->hooks.on_progress(r->last_rv ? r->last_rv : "", r->synced, r->hooks.user);
}

static void emit(kr_reflector_t *r, kr_delta_type type, const json_t *obj, const json_t *old,
                 bool unknown, bool relist)
{
    if (!r->hooks.on_delta)
        return;
    kr_delta d = {.type = type,
                  .object = obj,
                  .old_object = old,
                  .final_state_unknown = unknown,
                  .from_relist = relist};
    r->hooks.on_delta(&d, r->hooks.user);
}

static void observe_rv(kr_reflector_t *r, const char *rv)
{
    if (!rv)
        return;
    /* keep the older RV when the copy fails: at worst a longer re-watch */
    (void)set_str(&r->last_rv, rv);
}

static void drop_pending(kr_reflector_t *r)
{
    kr_store_batch_free(r->pending);
    r->pending = NULL;
    kr_free(r->continue_token);
    r->continue_token = NULL;
    kr_free(r->list_rv);
    r->list_rv = NULL;
}

static void start_list(kr_reflector_t *r);
static void start_watch(kr_reflector_t *r, bool streaming);
static void start_relist(kr_reflector_t *r);

/* ---- backoff ------------------------------------------------------------ */

/* client-go's exponential backoff manager: 800 ms doubling to a 30 s cap,
 * jitter 1.0 (a delay in [d, 2d), at most the cap), reset when no backoff
 * happened for backoff_reset_ms (2 minutes of health). */
static uint64_t next_backoff_ms(kr_reflector_t *r)
{
    uint64_t now = now_ms(r);
    if (r->backed_off && now - r->last_backoff_ms >= r->backoff_reset_ms)
        r->backoff_steps = 0;
    uint64_t base = r->backoff_initial_ms;
    for (unsigned i = 0; i < r->backoff_steps && base < r->backoff_max_ms; i++)
        base *= 2;
    if (base > r->backoff_max_ms)
        base = r->backoff_max_ms;
    if (r->backoff_steps < 64)
        r->backoff_steps++;
    uint64_t delay = base + (base ? rng_next(r) % base : 0);
    if (delay > r->backoff_max_ms)
        delay = r->backoff_max_ms;
    r->backed_off = true;
    r->last_backoff_ms = now;
    return delay;
}

static void on_backoff_timer(void *user)
{
    kr_reflector_t *r = user;
    r->backoff_timer = NULL;
    if (r->phase != P_WAITING)
        return;
    if (r->after_backoff == NEXT_REWATCH && r->last_rv && (r->synced || r->resumed))
        start_watch(r, false);
    else
        start_relist(r);
}

bool kr_reflector_retry_now(kr_reflector_t *r)
{
    if (!r || r->phase != P_WAITING || !r->backoff_timer)
        return false;
    cancel_timer(r, &r->backoff_timer);
    kr_log(&r->logger, KR_LOG_DEBUG, MOD,
           "%s: the server answers again: listing now, not after the backoff", r->name);
    /* a list, not a watch: a server made anew meanwhile refuses the
     * cache's resourceVersion, and a refused list lists its latest at once
     * (a refused watch would wait out the backoff kept) */
    start_relist(r);
    return true;
}

static void back_off(kr_reflector_t *r, next_action next)
{
    cancel_request(r);
    cancel_timer(r, &r->progress_timer);
    uint64_t delay = next_backoff_ms(r);
    r->phase = P_WAITING;
    r->after_backoff = next;
    kr_log(&r->logger, KR_LOG_DEBUG, MOD, "%s: backing off %llu ms before %s", r->name,
           (unsigned long long)delay, next == NEXT_REWATCH ? "watching" : "listing");
    if (r->clock.vt->schedule(r->clock.impl, delay, on_backoff_timer, r, &r->backoff_timer) != 0) {
        r->backoff_timer = NULL;
        kr_log(&r->logger, KR_LOG_ERROR, MOD, "%s: cannot arm the backoff timer", r->name);
    }
}

/* ---- applying a complete list ------------------------------------------ */

/* Add `obj` (stolen) to the relist being built, beginning it if needed.
 * 0 or an error (logged). */
static int pend(kr_reflector_t *r, json_t *obj)
{
    kr_error_t err = {0};
    int rc = r->pending ? 0 : kr_store_batch_new(r->store, &r->pending, &err);
    if (rc == 0)
        rc = kr_store_batch_add(r->pending, obj, 0, &err);
    else
        json_decref(obj);
    if (rc != 0)
        kr_log(&r->logger, KR_LOG_ERROR, MOD, "%s: cannot cache a listed object: %s", r->name,
               err.message);
    return rc;
}

/* The first list into an empty store: cache each object of a page
 * (`items` stolen) and report it with the tree just cached, as client-go's
 * indexer fills while its first list is processed. Staging it in a batch
 * would make the store read every object back for the handlers: with a
 * compact store, a second parse of each. Stops when a handler stops the
 * reflector. 0 or an error (logged). */
static int add_page(kr_reflector_t *r, json_t *items)
{
    int rc = 0;
    bool wanted = !r->hooks.wants_objects || r->hooks.wants_objects(r->hooks.user);
    for (size_t i = 0; rc == 0 && i < json_array_size(items) && r->phase != P_STOPPED; i++) {
        kr_error_t err = {0};
        json_t *cached = NULL, *old = NULL;
        size_t before = kr_store_len(r->store);
        rc = kr_store_add_listed(r->store, json_incref(json_array_get(items, i)),
                                 wanted ? &old : NULL, wanted ? &cached : NULL, &err);
        if (rc == 0)
            emit(r, kr_store_len(r->store) > before ? KR_DELTA_ADDED : KR_DELTA_UPDATED, cached,
                 old, false, true);
        else
            kr_log(&r->logger, KR_LOG_ERROR, MOD, "%s: cannot cache a listed object: %s", r->name,
                   err.message);
        json_decref(cached);
        json_decref(old);
    }
    json_decref(items);
    return rc;
}

/* What a relist changes for one key of the new list. */
struct relisted {
    char *key;
    json_t *old; /* KR_DELTA_UPDATED: the object cached before */
    kr_delta_type type; /* 0: unchanged */
};

static void relisted_free(struct relisted *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        kr_free(items[i].key);
        json_decref(items[i].old);
    }
    kr_free(items);
}

/* Compare the batch with the store by resourceVersion, before the swap:
 * only changed objects are read (parsed, in a compact store). */
static int relist_changes(kr_reflector_t *r, const kr_store_batch_t *batch, struct relisted *out,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *key = NULL, *rv = NULL;
        kr_store_batch_entry(batch, i, &key, &rv);
        if (!(out[i].key = kr_strdup(key)))
            return KR_ENOMEM;
        char *old_rv = kr_store_get_resource_version(r->store, key);
        /* RVs are opaque (an aggregated API's need not be numbers):
         * only equal strings say unchanged */
        bool same = old_rv && rv && strcmp(old_rv, rv) == 0;
        kr_free(old_rv);
        if (same)
            continue;
        out[i].old = kr_store_get(r->store, key);
        out[i].type = out[i].old ? KR_DELTA_UPDATED : KR_DELTA_ADDED;
    }
    return 0;
}

/* Replace the store with `batch` (stolen) at `rv` and report the changes
 * that bring it there: adds, updates (RV changed) and, for cached objects
 * the list no longer has, deletes flagged final-state-unknown. */
static int apply_replace(kr_reflector_t *r, kr_store_batch_t *batch, const char *rv)
{
    kr_error_t err = {0};
    int rc = 0;
    if (!batch && (rc = kr_store_batch_new(r->store, &batch, &err)) != 0)
        return rc;
    size_t n = kr_store_batch_len(batch);
    struct relisted *items = kr_calloc(n ? n : 1, sizeof(*items));
    json_t *removed = NULL;
    rc = items ? relist_changes(r, batch, items, n) : KR_ENOMEM;
    if (rc == 0)
        rc = kr_store_replace_batch(r->store, batch, rv, &removed, &err);
    else
        kr_store_batch_free(batch);
    if (rc == 0) {
        for (size_t i = 0; i < n && r->phase != P_STOPPED; i++) {
            if (!items[i].type)
                continue;
            /* the caller may be stopping us from a handler */
            bool wanted = !r->hooks.wants_objects || r->hooks.wants_objects(r->hooks.user);
            json_t *now = wanted ? kr_store_get(r->store, items[i].key) : NULL;
            if (now || !wanted)
                emit(r, items[i].type, now, wanted ? items[i].old : NULL, false, true);
            json_decref(now);
        }
        size_t j;
        json_t *gone;
        json_array_foreach(removed, j, gone)
        {
            if (r->phase == P_STOPPED)
                break;
            emit(r, KR_DELTA_DELETED, gone, NULL, true, true);
        }
    } else {
        kr_log(&r->logger, KR_LOG_ERROR, MOD, "%s: cannot replace the store: %s", r->name,
               rc == KR_ENOMEM && !err.message[0] ? "out of memory" : err.message);
    }
    json_decref(removed);
    relisted_free(items, n);
    return rc;
}

/* ---- LIST -------------------------------------------------------------- */

/* The page size of the list under way, as client-go's reflector pages:
 * always when the options gave one (or never, when negative); otherwise
 * 500, except at a specific RV (a watch cache serves only unpaged lists
 * there) unless a list at "0" came in pages (the server pages anyway). */
static long list_limit(const kr_reflector_t *r)
{
    if (r->page_size < 0 || r->full_list)
        return 0;
    bool specific = r->list_from && strcmp(r->list_from, "0") != 0;
    if (r->page_size_set || r->paginated_result || !specific)
        return r->page_size;
    return 0;
}

/* A list the server refused for its RV: 410 Expired or Gone, or 504 "Too
 * large resource version" (client-go's isTooLargeResourceVersionError). */
static bool rv_refused(int code, const kr_error_t *err)
{
    if (code == KR_EGONE || (err && err->http_code == 410))
        return true;
    return err && (err->http_code == 504 || strcmp(err->reason, "Timeout") == 0) &&
           strstr(err->message, "Too large resource version") != NULL;
}

static void send_list_page(kr_reflector_t *r);

static void list_failed(kr_reflector_t *r, const kr_error_t *err)
{
    kr_error_t none = {0};
    if (!err)
        kr_error_set(&none, KR_EIO, "the list gave no items");
    if (r->on_list_error)
        r->on_list_error(err ? err : &none, r->hooks.user);
}

static void on_list_page(json_t *items, const char *rv, const char *cont, const kr_error_t *err,
                         void *user)
{
    kr_reflector_t *r = user;
    r->request = NULL;
    if (err || !items) {
        json_decref(items);
        int code = err ? err->code : KR_EIO;
        if (code == KR_EGONE && r->continue_token && !r->full_list) {
            /* the continue token's snapshot expired: as client-go's pager,
             * list everything again at the RV asked for, in one page */
            kr_log(&r->logger, KR_LOG_INFO, MOD,
                   "%s: continue token expired, listing again in one page", r->name);
            report_request(r, KR_REFLECTOR_REQUEST_NONE, KR_RESTART_GONE);
            drop_pending(r);
            r->full_list = true;
            report_request(r, KR_REFLECTOR_REQUEST_LIST, -1);
            send_list_page(r);
            return;
        }
        if (rv_refused(code, err) && !r->rv_unavailable) {
            /* the RV asked for is gone or not there yet: list the latest
             * state at once (a consistent read) */
            kr_log(&r->logger, KR_LOG_INFO, MOD,
                   "%s: list at resourceVersion %s refused (%s), "
                   "listing the latest",
                   r->name, r->list_from ? r->list_from : "",
                   err ? err->message : kr_strerror(code));
            report_request(r, KR_REFLECTOR_REQUEST_NONE, KR_RESTART_GONE);
            r->rv_unavailable = true;
            start_list(r);
            return;
        }
        kr_log(&r->logger, KR_LOG_WARN, MOD, "%s: list failed: %s", r->name,
               err ? err->message : "no items");
        list_failed(r, err);
        drop_pending(r);
        back_off(r, NEXT_RELIST);
        return;
    }
    int rc = 0;
    if (!r->continue_token) { /* the first page */
        if (cont && *cont && r->list_from && strcmp(r->list_from, "0") == 0)
            r->paginated_result = true;
        rc = set_str(&r->list_rv, rv);
        /* later lists (relists) replace the content in one atomic swap */
        r->direct_list = !r->synced && kr_store_len(r->store) == 0;
    }
    if (rc == 0)
        rc = set_str(&r->continue_token, (cont && *cont) ? cont : NULL);
    /* ask for the next page before caching this one, so that the server
     * prepares it while this page goes through the store (lw callbacks
     * never run inside list(): the pages still arrive in order) */
    if (rc == 0 && r->continue_token) {
        send_list_page(r);
        if (!r->request) { /* it failed and backed off */
            json_decref(items);
            return;
        }
    }
    if (rc == 0 && r->direct_list) {
        rc = add_page(r, items);
        if (r->phase == P_STOPPED)
            return;
    } else {
        for (size_t i = 0; rc == 0 && i < json_array_size(items); i++)
            rc = pend(r, json_incref(json_array_get(items, i)));
        /* freed page by page: only the cached form of the list accumulates */
        json_decref(items);
        if (rc == 0 && !r->pending)
            rc = kr_store_batch_new(r->store, &r->pending, NULL);
    }
    if (rc != 0) {
        cancel_request(r);
        drop_pending(r);
        back_off(r, NEXT_RELIST);
        return;
    }
    if (r->continue_token)
        return; /* the next page is on its way */
    /* the whole list has arrived: only now is a relist's batch swapped in */
    kr_store_batch_t *all = r->pending;
    r->pending = NULL;
    char *list_rv = r->list_rv;
    r->list_rv = NULL;
    if (r->direct_list) {
        kr_store_batch_free(all);
        r->direct_list = false;
        if (list_rv && kr_store_set_resource_version(r->store, list_rv, NULL) != 0) {
            kr_free(list_rv);
            back_off(r, NEXT_RELIST);
            return;
        }
    } else if (apply_replace(r, all, list_rv) != 0) {
        kr_free(list_rv);
        back_off(r, NEXT_RELIST);
        return;
    }
    if (r->phase == P_STOPPED) {
        kr_free(list_rv);
        return;
    }
    r->synced = true;
    r->rv_unavailable = false; /* the list succeeded */
    observe_rv(r, list_rv);
    kr_free(list_rv);
    report_progress(r);
    if (r->phase == P_STOPPED)
        return;
    start_watch(r, false);
}

static void send_list_page(kr_reflector_t *r)
{
    kr_lw_list_request req = {
        .limit = list_limit(r),
        .continue_token = r->continue_token,
        /* a continue token carries its own snapshot */
        .resource_version = r->continue_token ? NULL : r->list_from,
        .label_selector = r->label_selector,
        .field_selector = r->field_selector,
    };
    kr_error_t err = {0};
    r->phase = P_LISTING;
    if (r->lw.vt->list(r->lw.impl, &req, on_list_page, r, &r->request, &err) != 0) {
        r->request = NULL;
        kr_log(&r->logger, KR_LOG_WARN, MOD, "%s: cannot send list: %s", r->name, err.message);
        list_failed(r, &err);
        drop_pending(r);
        back_off(r, NEXT_RELIST);
    }
}

static void start_list(kr_reflector_t *r)
{
    cancel_request(r);
    cancel_timer(r, &r->progress_timer);
    drop_pending(r);
    r->full_list = false;
    const char *from = r->rv_unavailable ? NULL : (r->last_rv && *r->last_rv) ? r->last_rv : "0";
    if (set_str(&r->list_from, from) != 0) {
        back_off(r, NEXT_RELIST);
        return;
    }
    report_request(r, KR_REFLECTOR_REQUEST_LIST, -1);
    send_list_page(r);
}

static void start_relist(kr_reflector_t *r)
{
    if (r->streaming_list)
        start_watch(r, true);
    else
        start_list(r);
}

/* ---- WATCH --------------------------------------------------------------- */

static void on_progress_timer(void *user);

static void arm_progress(kr_reflector_t *r, uint64_t delay)
{
    if (r->progress_deadline_ms == UINT64_MAX)
        return;
    if (r->clock.vt->schedule(r->clock.impl, delay, on_progress_timer, r, &r->progress_timer) != 0)
        r->progress_timer = NULL;
}

static void on_progress_timer(void *user)
{
    kr_reflector_t *r = user;
    r->progress_timer = NULL;
    if (r->phase != P_WATCHING && r->phase != P_STREAMING)
        return;
    uint64_t now = now_ms(r);
    uint64_t quiet = now - r->last_progress_ms;
    if (quiet < (uint64_t)r->progress_deadline_ms) {
        arm_progress(r, (uint64_t)r->progress_deadline_ms - quiet);
        return;
    }
    /* no event and no bookmark for the whole deadline: without HTTP/2
     * pings a half-open connection looks exactly like this */
    kr_log(&r->logger, KR_LOG_WARN, MOD, "%s: no watch progress for %llu ms, restarting", r->name,
           (unsigned long long)quiet);
    report_request(r, KR_REFLECTOR_REQUEST_NONE, KR_RESTART_PROGRESS);
    if (r->phase == P_STREAMING) {
        cancel_request(r);
        start_relist(r);
    } else {
        start_watch(r, false);
    }
}

static bool status_is_gone(const json_t *status)
{
    json_int_t code = json_integer_value(json_object_get(status, "code"));
    const char *reason = json_string_value(json_object_get(status, "reason"));
    return code == 410 ||
           (reason && (strcmp(reason, "Expired") == 0 || strcmp(reason, "Gone") == 0));
}

static bool is_initial_events_end(const json_t *obj)
{
    const json_t *ann = json_object_get(json_object_get(obj, "metadata"), "annotations");
    const char *v = json_string_value(json_object_get(ann, INITIAL_EVENTS_END));
    return v && strcmp(v, "true") == 0;
}

/* Apply one event to the store and report it. 0, or the store's error
 * (logged): the cache then lacks the event. */
static int apply_event(kr_reflector_t *r, kr_watch_event_type type, json_t *obj)
{
    kr_error_t err = {0};
    if (type == KR_WATCH_DELETED) {
        /* the event's object is what a delete reports: no need to read
         * (parse) the cached one */
        int rc = kr_store_delete(r->store, obj, NULL, &err);
        if (rc == 0)
            emit(r, KR_DELTA_DELETED, obj, NULL, false, false);
        else if (rc == KR_ENOTFOUND)
            rc = 0; /* never cached: nothing to report */
        else
            kr_log(&r->logger, KR_LOG_ERROR, MOD, "%s: delete: %s", r->name, err.message);
        return rc;
    }
    json_t *old = NULL, *cached = NULL;
    json_incref(obj); /* kr_store_add steals it */
    int rc = kr_store_add(r->store, obj, 0, &old, &cached, &err);
    if (rc != 0) {
        kr_log(&r->logger, KR_LOG_ERROR, MOD, "%s: cannot cache an event's object: %s", r->name,
               err.message);
        return rc;
    }
    emit(r, old ? KR_DELTA_UPDATED : KR_DELTA_ADDED, cached, old, false, false);
    json_decref(old);
    json_decref(cached);
    return 0;
}

static void on_watch_close(int rc, const kr_error_t *err, void *user);

static void drop_pending_key(kr_reflector_t *r, const json_t *obj)
{
    char *key = NULL;
    if (kr_store_key_of(obj, &key, NULL) == 0)
        kr_store_batch_remove(r->pending, key);
    kr_free(key);
}

static void streaming_failed(kr_reflector_t *r, const char *why)
{
    /* the server does not support (or broke) the streaming list: fall back
     * to LIST + WATCH for the rest of this reflector's life */
    kr_log(&r->logger, KR_LOG_INFO, MOD, "%s: streaming list unavailable (%s), using list+watch",
           r->name, why);
    cancel_request(r);
    r->streaming_list = false;
    kr_store_batch_free(r->pending);
    r->pending = NULL;
    start_list(r);
}

static void on_watch_event(kr_watch_event_type type, json_t *obj, void *user)
{
    kr_reflector_t *r = user;
    if (r->phase != P_WATCHING && r->phase != P_STREAMING)
        return;
    r->last_progress_ms = now_ms(r);
    r->watch_events++;
    if (type == KR_WATCH_ERROR) {
        bool gone = status_is_gone(obj);
        kr_log(&r->logger, KR_LOG_INFO, MOD, "%s: watch error event: %s", r->name,
               json_string_value(json_object_get(obj, "message"))
                   ? json_string_value(json_object_get(obj, "message"))
                   : "(no message)");
        cancel_request(r);
        kr_error_t err = {0};
        kr_error_set(&err, gone ? KR_EGONE : KR_EHTTP, "watch ERROR event");
        err.http_code = (int)json_integer_value(json_object_get(obj, "code"));
        on_watch_close(gone ? KR_EGONE : KR_EHTTP, &err, r);
        return;
    }
    if (r->phase == P_STREAMING) {
        if (type == KR_WATCH_BOOKMARK && is_initial_events_end(obj)) {
            kr_store_batch_t *items = r->pending;
            r->pending = NULL;
            if (apply_replace(r, items, rv_of(obj)) != 0) {
                back_off(r, NEXT_RELIST);
                return;
            }
            if (r->phase == P_STOPPED)
                return;
            r->phase = P_WATCHING;
            r->synced = true;
            r->rv_unavailable = false; /* the stream's list succeeded */
            observe_rv(r, rv_of(obj));
            report_progress(r);
            return;
        }
        if (type == KR_WATCH_BOOKMARK)
            return;
        if (type == KR_WATCH_DELETED) {
            /* not expected before the end bookmark, but never keep a
             * deleted object: drop it from the snapshot being built */
            drop_pending_key(r, obj);
            return;
        }
        if (pend(r, json_incref(obj)) != 0)
            back_off(r, NEXT_RELIST);
        return;
    }
    if (type != KR_WATCH_BOOKMARK && apply_event(r, type, obj) != 0) {
        /* the cache missed this event: moving past its RV would leave it
         * wrong until some relist, so relist now (after the backoff) */
        if (r->phase == P_WATCHING)
            back_off(r, NEXT_RELIST);
        return;
    }
    if (r->phase != P_WATCHING)
        return;
    observe_rv(r, rv_of(obj));
    report_progress(r);
}

static void on_watch_close(int rc, const kr_error_t *err, void *user)
{
    kr_reflector_t *r = user;
    r->request = NULL;
    if (r->phase == P_STREAMING) {
        if (rc == KR_EGONE) {
            /* RV too old for a NotOlderThan stream: stream again from now,
             * after the backoff (client-go's), so that a server refusing
             * every stream is not asked again at once */
            report_request(r, KR_REFLECTOR_REQUEST_NONE, KR_RESTART_GONE);
            kr_store_batch_free(r->pending);
            r->pending = NULL;
            kr_free(r->last_rv);
            r->last_rv = NULL;
            /* and a list that follows reads the latest: at "0" a watch
             * cache may answer with less than the store holds */
            r->rv_unavailable = true;
            back_off(r, NEXT_RELIST);
            return;
        }
        streaming_failed(r, rc == 0 ? "stream ended before the initial-events-end bookmark"
                                    : (err ? err->message : kr_strerror(rc)));
        return;
    }
    if (r->phase != P_WATCHING)
        return;
    if (rc == 0) {
        report_request(r, KR_REFLECTOR_REQUEST_NONE, KR_RESTART_TIMEOUT);
        if (r->watch_events == 0 && now_ms(r) - r->watch_started_ms < SHORT_WATCH_MS) {
            /* a server or proxy that answers and closes at once: as
             * client-go, the list-and-watch ends and the next (a list at
             * the last RV) begins after the backoff, so that nothing
             * spins and the cache is read again whole */
            kr_log(&r->logger, KR_LOG_WARN, MOD,
                   "%s: very short watch: closed in under %d ms with no event; listing again",
                   r->name, SHORT_WATCH_MS);
            back_off(r, NEXT_RELIST);
        } else {
            start_watch(r, false);
        }
    } else if (rc != KR_EGONE && rv_refused(rc, err)) {
        /* "Too large resource version": the server has not reached the
         * RV this cache has (it was restored, or made anew at the
         * address). As client-go: the next list reads the server's
         * latest ("" rather than the RV it refused), after the backoff,
         * and the cache becomes what it holds now. */
        kr_log(&r->logger, KR_LOG_WARN, MOD,
               "%s: the server has not reached resourceVersion %s (restored or new?): listing "
               "its latest",
               r->name, r->last_rv ? r->last_rv : "");
        report_request(r, KR_REFLECTOR_REQUEST_NONE, KR_RESTART_GONE);
        cancel_timer(r, &r->progress_timer);
        r->rv_unavailable = true;
        back_off(r, NEXT_RELIST);
    } else if (rc == KR_EGONE) {
        /* as client-go: the list-and-watch ends, and the next one (a list
         * at least as fresh as that RV) begins after the backoff, so that
         * a compaction does not send every client to list at once */
        kr_log(&r->logger, KR_LOG_INFO, MOD, "%s: resourceVersion %s expired, relisting", r->name,
               r->last_rv ? r->last_rv : "");
        report_request(r, KR_REFLECTOR_REQUEST_NONE, KR_RESTART_GONE);
        cancel_timer(r, &r->progress_timer);
        back_off(r, NEXT_RELIST);
    } else {
        /* As client-go's reflector: a watch the network ended, or one
         * refused with 429, is retried from where it was; any other error
         * the server gave (an ERROR event such as a 500 for an object it
         * could not read, a 403, a 5xx answer, or an event that cannot
         * be decoded, which client-go's stream watcher turns into a 500)
         * ends the list-and-watch, and the next begins with a list, so
         * that the cache holds what the server holds. */
        int http = err ? err->http_code : 0;
        bool undecodable = rc == KR_EPARSE || rc == KR_ETOOLARGE; /* client-go: a 500 */
        bool retriable = rc == KR_ECONNECT || rc == KR_ETIMEDOUT || rc == KR_EIO ||
                         rc == KR_ETHROTTLED || http == 429 ||
                         (rc != KR_EHTTP && http == 0 && !undecodable);
        kr_log(&r->logger, KR_LOG_WARN, MOD, "%s: watch failed: %s%s", r->name,
               err ? err->message : kr_strerror(rc), retriable ? "" : "; listing again");
        report_request(r, KR_REFLECTOR_REQUEST_NONE, KR_RESTART_ERROR);
        back_off(r, retriable ? NEXT_REWATCH : NEXT_RELIST);
    }
}

static void start_watch(kr_reflector_t *r, bool streaming)
{
    cancel_request(r);
    cancel_timer(r, &r->progress_timer);
    int span = r->timeout_max_s - r->timeout_min_s;
    int timeout = r->timeout_min_s + (span > 0 ? (int)(rng_next(r) % (uint64_t)span) : 0);
    kr_lw_watch_request req = {
        .resource_version = r->last_rv,
        .resource_version_match = streaming ? "NotOlderThan" : NULL,
        .allow_watch_bookmarks = true,
        .send_initial_events = streaming,
        .timeout_seconds = timeout,
        .label_selector = r->label_selector,
        .field_selector = r->field_selector,
    };
    if (streaming) {
        drop_pending(r);
        /* the first stream reads the latest state; later ones at least
         * what was seen */
        req.resource_version = r->synced ? r->last_rv : NULL;
    }
    r->phase = streaming ? P_STREAMING : P_WATCHING;
    r->last_progress_ms = now_ms(r);
    r->watch_started_ms = r->last_progress_ms;
    r->watch_events = 0;
    report_request(r, streaming ? KR_REFLECTOR_REQUEST_WATCHLIST : KR_REFLECTOR_REQUEST_WATCH, -1);
    kr_error_t err = {0};
    if (r->lw.vt->watch(r->lw.impl, &req, on_watch_event, on_watch_close, r, &r->request, &err) !=
        0) {
        r->request = NULL;
        kr_log(&r->logger, KR_LOG_WARN, MOD, "%s: cannot start watch: %s", r->name, err.message);
        if (streaming) {
            streaming_failed(r, err.message);
            return;
        }
        back_off(r, NEXT_REWATCH);
        return;
    }
    arm_progress(r, r->progress_deadline_ms > 0 ? (uint64_t)r->progress_deadline_ms : 0);
}

/* ---- life ------------------------------------------------------------------ */

/* A duration in ms as whole seconds for timeoutSeconds: rounded up, and
 * small enough that max - min cannot overflow. */
static int seconds_of(uint64_t ms)
{
    uint64_t s = ms / 1000 + (ms % 1000 != 0);
    return s > INT_MAX / 2 ? INT_MAX / 2 : (int)s;
}

int kr_reflector_new(const kr_reflector_opts *opts, kr_reflector_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "reflector: out is NULL");
    *out = NULL;
    if (opts && opts->version > KR_REFLECTOR_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "reflector: options version %u is newer than %u",
                            opts->version, (unsigned)KR_REFLECTOR_OPTS_VERSION);
    if (!opts || !opts->lw.vt || !opts->clock.vt || !opts->store)
        return kr_error_set(err, KR_EINVAL, "reflector: lw, clock and store are required");
    kr_reflector_t *r = kr_calloc(1, sizeof(*r));
    if (!r)
        return kr_error_set(err, KR_ENOMEM, "reflector: out of memory");
    r->lw = opts->lw;
    r->clock = opts->clock;
    r->store = opts->store;
    r->hooks = opts->hooks;
    r->on_list_error = opts->version >= 2 ? opts->on_list_error : NULL;
    r->logger = opts->logger;
    r->page_size = opts->page_size ? opts->page_size : 500;
    r->page_size_set = opts->page_size != 0;
    r->timeout_min_s = opts->watch_timeout_min_ms ? seconds_of(opts->watch_timeout_min_ms) : 300;
    r->timeout_max_s = opts->watch_timeout_max_ms ? seconds_of(opts->watch_timeout_max_ms) : 600;
    if (r->timeout_max_s < r->timeout_min_s)
        r->timeout_max_s = r->timeout_min_s;
    r->progress_deadline_ms = opts->progress_deadline_ms ? opts->progress_deadline_ms : 180000;
    r->backoff_initial_ms = opts->backoff_initial_ms ? opts->backoff_initial_ms : 800;
    r->backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : 30000;
    r->backoff_reset_ms = opts->backoff_reset_ms ? opts->backoff_reset_ms : 120000;
    r->streaming_list = opts->streaming_list;
    kr_rng_seed(&r->rng, opts->seed ? opts->seed : 0x9E3779B97F4A7C15ULL);
    bool ok = set_str(&r->label_selector, opts->label_selector) == 0 &&
              set_str(&r->field_selector, opts->field_selector) == 0 &&
              set_str(&r->name, opts->name ? opts->name : "reflector") == 0;
    if (!ok) {
        kr_reflector_free(r);
        return kr_error_set(err, KR_ENOMEM, "reflector: out of memory");
    }
    *out = r;
    return 0;
}

int kr_reflector_start(kr_reflector_t *r, kr_error_t *err)
{
    if (!r || r->phase != P_IDLE)
        return kr_error_set(err, KR_ESTATE, "reflector: already started");
    start_relist(r);
    return 0;
}

int kr_reflector_start_at(kr_reflector_t *r, const char *resource_version, kr_error_t *err)
{
    if (!resource_version || !*resource_version)
        return kr_reflector_start(r, err);
    if (!r || r->phase != P_IDLE)
        return kr_error_set(err, KR_ESTATE, "reflector: already started");
    if (set_str(&r->last_rv, resource_version) != 0)
        return kr_error_set(err, KR_ENOMEM, "reflector: out of memory");
    r->resumed = true;
    start_watch(r, false);
    return 0;
}

void kr_reflector_stop(kr_reflector_t *r)
{
    if (!r || r->phase == P_STOPPED)
        return;
    r->phase = P_STOPPED;
    cancel_request(r);
    cancel_timer(r, &r->backoff_timer);
    cancel_timer(r, &r->progress_timer);
    drop_pending(r);
}

void kr_reflector_free(kr_reflector_t *r)
{
    if (!r)
        return;
    kr_reflector_stop(r);
    kr_free(r->label_selector);
    kr_free(r->field_selector);
    kr_free(r->name);
    kr_free(r->last_rv);
    kr_free(r->list_from);
    kr_free(r);
}

bool kr_reflector_has_synced(const kr_reflector_t *r)
{
    return r && r->synced;
}

const char *kr_reflector_last_resource_version(const kr_reflector_t *r)
{
    return r ? r->last_rv : NULL;
}
