/* kr-syncer — the reconcile of one hub object for one workload cluster:
 * read the hub object and our copy from informer caches, make the cluster
 * agree (create, three-way patch, or delete), and record the outcome in
 * the hub object's sync-status once that cluster's informer observed the
 * write (under a controller the write's watch event brings the key back;
 * a worker never waits for it). Every read is from a cache but three, where a cache that
 * is behind would decide wrongly: a hub delete whose copy the cache does not
 * hold asks the cluster itself (a GET: an unreachable cluster's cache must
 * never count as "the copy is gone"; so does an unplacement after a write
 * of ours the cache has not shown, or whose answer was lost, and the
 * finalizer waits for every lane with such a write), and so does a create answered
 * AlreadyExists (ours with the cache behind, or someone else's?); a new
 * leader whose hub cache is older than its term asks the hub before a
 * create (hub_still_there). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "syncer.h"

#define DEFAULT_VERIFY_TIMEOUT_MS 10000u
#define UNVERIFIED_RETRY_MS 1000u
#define PENDING_DELETE_RETRY_MS 2000u
/* A foreign copy is looked at again this often at most (someone must act). */
#define FOREIGN_RETRY_MS 30000u
/* How long a parked status entry waits at most for the entries coming
 * from the other clusters the object is placed in (when the last one
 * parks, the write goes at once): long, since a lane in a burst may be
 * seconds behind another. */
#define STATUS_BATCH_WAIT_MS 10000u

/* Our writes' answers are read for their metadata but managedFields
 * (resourceVersion, uid; the inventory's record): decoded without them, as
 * the caches hold objects. */
static const kr_write_opts WRITE_OPTS = {.version = KR_WRITE_OPTS_VERSION,
                                         .drop_managed_fields = true};

/* One reconcile's view. */
typedef struct rctx {
    syncer_t *s;
    kr_controller_t *ctl; /* NULL: status entries are written at once */
    syncer_resource *res;
    syncer_cluster *cl;
    const kr_reconcile_request *req;
    json_t *hub; /* the hub object (cache, or the answer of our own write) */
    json_t *copy; /* our copy in the cluster's cache, or NULL */
    uint64_t *after_ms;
    kr_error_t *err;
    bool unreachable; /* the last call found the cluster not answering */
    /* what this look set out to do in the cluster ("create", "patch",
     * "delete"), named with the object in the entry of its failure; NULL
     * before any request to the cluster */
    const char *op;
    /* a delete of ours that another finalizer holds: what the copy waits
     * for ("" when no delete is held) */
    char held[384];
} rctx;

/* The outcome of a step that touched the cluster. */
typedef enum step {
    STEP_OK = 0,
    STEP_RETRY = 1, /* *after_ms set (cluster unreachable, or pending) */
    STEP_CONFLICT = 2, /* the object changed under us: look again */
    STEP_FAILED = 3, /* err says why */
} step;

static int64_t now_ns(const syncer_t *s)
{
    if (s->clock.now_ns)
        return s->clock.now_ns(s->clock.user);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *meta_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static void count(syncer_t *s, uint64_t *counter)
{
    pthread_mutex_lock(&s->stats_lock);
    (*counter)++;
    pthread_mutex_unlock(&s->stats_lock);
}

static void log_key(const rctx *c, kr_log_level level, const char *fmt, const char *detail)
{
    kr_log_field fields[] = {
        {"cluster", c->req->cluster}, {"key", c->req->key}, {"resource", c->res->resource}};
    kr_log_fields(&c->s->logger, level, "syncer", fields, 3, fmt, detail ? detail : "");
}

/* ---- the cluster: every request passes the health gate ------------------- */

/* The leader's term when this thread's reconcile began. */
static _Thread_local struct {
    bool leading;
    uint64_t term;
    char rv[64]; /* the resourceVersion of the Lease write that began it */
} reconcile_term;

/* Only the leader writes, and only in the term its reconcile began in: a
 * replica paused past its Lease resumes with the caches of before the
 * pause and would bring back copies deleted meanwhile, or old content.
 * The elector answers from its clock, so a resumed replica learns it lost
 * the Lease before any request leaves; a request already on its way is
 * overwritten by the new leader's repair. 0, or KR_ESTATE. */
static int still_leading(const syncer_t *s, kr_error_t *err)
{
    uint64_t term = 0;
    char rv[sizeof(reconcile_term.rv)];
    if (!s->term)
        return 0;
    if (!reconcile_term.leading || s->term(&term, rv, sizeof(rv), s->term_user) != 0)
        return kr_error_set(err, KR_ESTATE, "not leading: nothing sent");
    if (term != reconcile_term.term)
        return kr_error_set(err, KR_ESTATE, "a new term since this reconcile began: nothing sent");
    return 0;
}

/* False (with *after_ms set) when the cluster is waiting for a probe. */
static bool may_call(rctx *c)
{
    uint64_t wait = 0;
    if (syncer_health_may_try(&c->cl->health, now_ns(c->s), &wait))
        return true;
    *c->after_ms = wait;
    return false;
}

static syncer_cluster *find_cluster(syncer_t *s, const char *name);

/* A cluster answers again: its caches list or watch again now, not when
 * their backoff ends (up to 30 s: a cluster made anew meanwhile would be
 * seen through its old content until then), and every object placed
 * there, of every resource, is looked at now, not when its wait for a
 * probe would have ended (up to 15 s). [worker] */
static void wake_cluster(syncer_t *s, const char *cluster)
{
    syncer_cluster *cl = find_cluster(s, cluster);
    for (size_t r = 0; cl && r < s->n_resources; r++)
        kr_informer_retry_now(cl->copies[r]);
    for (size_t r = 0; r < s->n_resources; r++) {
        syncer_resource *res = &s->resources[r];
        json_t *items = NULL;
        if (!res->ctl || kr_store_list(kr_informer_store(res->hub), &items, NULL) != 0)
            continue;
        size_t i;
        json_t *obj;
        json_array_foreach(items, i, obj)
        {
            if (syncer_placed(obj, cluster))
                kr_controller_enqueue(res->ctl, cluster, meta_string(obj, "namespace"),
                                      meta_string(obj, "name"));
        }
        json_decref(items);
    }
}

/* Tell the cluster's health what a request met (rc 0, or negative with
 * err); the first answer after failures wakes its objects. */
static void health_after(rctx *c, int rc, const kr_error_t *err)
{
    if (syncer_health_record(&c->cl->health, rc, err, now_ns(c->s)) && c->ctl) {
        log_key(c, KR_LOG_INFO, "%s answers again: its objects are looked at now", c->req->cluster);
        wake_cluster(c->s, c->req->cluster);
    }
}

static step after_call(rctx *c, int rc)
{
    health_after(c, rc, c->err);
    if (rc == 0)
        return STEP_OK;
    if (rc == KR_ECONFLICT)
        return STEP_CONFLICT;
    if (syncer_unreachable(rc, c->err)) {
        c->unreachable = true;
        uint64_t wait = 0;
        syncer_health_may_try(&c->cl->health, now_ns(c->s), &wait);
        *c->after_ms = wait ? wait : 1;
        return STEP_RETRY;
    }
    return STEP_FAILED;
}

/* ---- the hub -------------------------------------------------------------- */

/* Merge-patch the hub object (the patch carries its resourceVersion as a
 * precondition); on success c->hub becomes the answer. */
static step hub_patch(rctx *c, const json_t *patch)
{
    json_t *out = NULL;
    kr_error_t err = {0};
    if (still_leading(c->s, c->err) != 0)
        return STEP_FAILED;
    syncer_status_sending(c->s, (size_t)(c->res - c->s->resources), c->req->namespace_,
                          c->req->name, patch); /* its event is ours: it wakes no lane */
    int rc = kr_client_patch(c->s->hub, c->res->gvr, c->req->namespace_, c->req->name, NULL,
                             KR_PATCH_MERGE, patch, &WRITE_OPTS, &out, &err);
    if (rc == 0)
        count(c->s, &c->s->hub_writes);
    if (rc == KR_ECONFLICT || rc == KR_ENOTFOUND)
        return STEP_CONFLICT;
    if (rc != 0) {
        if (c->err)
            *c->err = err;
        return STEP_FAILED;
    }
    const char *rv = meta_string(out, "resourceVersion");
    if (json_is_object(out) && rv) {
        /* The next reconcile of any lane that reads the hub cache must see
         * this write, or its precondition fails (409) for nothing (a
         * hub-lane write that did not wait sent such 409s, one of them in
         * a quiet minute): that reader waits for it (syncer_hub_get), not
         * this writer, as no reader usually comes before the event. */
        syncer_hub_written(c->s, (size_t)(c->res - c->s->resources), c->req->namespace_,
                           c->req->name, rv);
        json_decref(c->hub);
        c->hub = out;
    } else {
        json_decref(out);
    }
    return STEP_OK;
}

/* Write several clusters' entries (cluster -> entry, JSON null: remove
 * it) in one write, adding or dropping our finalizer in the same write as
 * `finalizer` says. */
static step write_entries(rctx *c, const json_t *updates, syncer_finalizer finalizer)
{
    json_t *patch = NULL;
    if (syncer_status_patch_entries(c->hub, updates, finalizer, &patch, c->err) != 0)
        return STEP_FAILED;
    if (!patch)
        return STEP_OK;
    step st = hub_patch(c, patch);
    json_decref(patch);
    return st;
}

/* The same for this cluster's entry (NULL: remove it). */
static step write_status(rctx *c, const json_t *entry, syncer_finalizer finalizer)
{
    json_t *updates = json_pack("{s:O}", c->req->cluster, entry ? entry : json_null());
    if (!updates)
        return kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED;
    step st = write_entries(c, updates, finalizer);
    json_decref(updates);
    return st;
}

/* True when two error texts differ at most in their numbers (each run of
 * digits matches any other): the same failure again, as curl and the
 * apiserver put timings, ports and attempt counts into their messages
 * ("Failed to connect ... after 0 ms", "timed out after 10001
 * milliseconds"). The entry keeps no error code; the words around the
 * numbers (curl's description, the apiserver's reason) name the failure. */
static bool same_error(const char *a, const char *b)
{
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (isdigit((unsigned char)*a))
                a++;
            while (isdigit((unsigned char)*b))
                b++;
            continue;
        }
        if (*a++ != *b++)
            return false;
    }
    return *a == *b;
}

static step park_status(rctx *c, const json_t *old, const json_t *entry);

/* `fin`: SYNCER_FINALIZER_ADD for an object synced (it keeps our
 * finalizer), KEEP for one being deleted. Under the controller an error
 * entry of a synced object is parked as any other: when the other lanes'
 * entries wait for the hub lane's write, this one (changed or not) is
 * what completes the batch; a lane with a lasting error (a foreign copy,
 * a cluster answering 503) would otherwise hold them back until the
 * sweep. */
static step record_entry(rctx *c, const json_t *old_entry, const char *message,
                         syncer_finalizer fin, bool event);

static step record_error_fin(rctx *c, const json_t *old_entry, const char *message,
                             syncer_finalizer fin)
{
    return record_entry(c, old_entry, message, fin, true);
}

/* record_error_fin; `event` false: no Warning Event of this cluster's
 * (one about the whole object tells it, as a held placement's). */
static step record_entry(rctx *c, const json_t *old_entry, const char *message,
                         syncer_finalizer fin, bool event)
{
    /* a replica out of its term records nothing, not even why it sent
     * nothing: the status and the Events are the leader's */
    kr_error_t scratch = {0};
    if (still_leading(c->s, &scratch) != 0) {
        if (c->err && !c->err->code)
            *c->err = scratch; /* what the controller logs */
        return STEP_FAILED;
    }
    const char *was = json_string_value(json_object_get(old_entry, "lastError"));
    bool news = !was || !same_error(was, message);
    syncer_status st = {
        .source_resource_version =
            json_string_value(json_object_get(old_entry, "sourceResourceVersion")),
        .target_resource_version =
            json_string_value(json_object_get(old_entry, "targetResourceVersion")),
        /* The same error again keeps its first text: the entry is then
         * unchanged, and neither written nor sent as an Event. */
        .last_error = news ? message : was,
    };
    json_t *entry = syncer_status_entry(&st);
    if (!entry)
        return kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED;
    step s = c->ctl && fin == SYNCER_FINALIZER_ADD ? park_status(c, old_entry, entry)
                                                   : write_status(c, entry, fin);
    json_decref(entry);
    /* a new error is an Event too; a repeat only in the status */
    if (s == STEP_OK && news && event)
        syncer_warn_event(c->s, c->res, c->hub, c->req->cluster, message);
    return s;
}

/* Cut `text` before a UTF-8 sequence that a truncation left incomplete
 * (the annotation and the Event carry valid UTF-8 only). */
static void cut_utf8(char *text)
{
    size_t n = strlen(text), i = n;
    while (i > 0 && n - i < 3 && ((unsigned char)text[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)text[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (i - 1) < need)
        text[i - 1] = '\0';
}

/* What a step that did not succeed says in this cluster's entry: this
 * look's failure, or, while another key probes the cluster, the failure
 * it waits on (every object placed there shows it), after the operation
 * and the object it holds ("create configmaps team-a/foo in dc2: ..."),
 * without the request (the same failure reads the same whether this
 * object's own request or another's probe met it). At most `len` bytes,
 * cut at a character. False when there is nothing to say (a retry for
 * another reason). */
static bool failure_text(const rctx *c, step st, char *msg, size_t len)
{
    char waiting[sizeof(c->cl->health.last_error)];
    const char *why;
    if (st == STEP_FAILED)
        why = c->op ? syncer_without_request(c->err->message) : c->err->message;
    else if (st == STEP_RETRY && c->unreachable) /* the cluster's failure, as the others show it */
        why = syncer_without_request(c->err->message);
    else if (st == STEP_RETRY && syncer_health_last_error(&c->cl->health, waiting, sizeof(waiting)))
        why = waiting;
    /* the copy waits for someone's finalizer (a cluster that does not
     * answer, above, says more: the hold may be over) */
    else if (st == STEP_RETRY && c->held[0])
        why = c->held;
    else
        return false;
    /* the operation and the object first, then what happened, cut to fit */
    int n = c->op ? snprintf(msg, len, "%.8s %.63s %.63s/%.253s in %.63s: ", c->op,
                             c->res->resource, c->req->namespace_, c->req->name, c->req->cluster)
                  : 0;
    if (n < 0) /* no output error is expected; nothing before `why` then */
        n = 0;
    if ((size_t)n < len)
        snprintf(msg + n, len - (size_t)n, "%.*s", (int)(len - (size_t)n - 1), why);
    cut_utf8(msg);
    return true;
}

static step record_error(rctx *c, const json_t *old_entry, const char *message)
{
    return record_error_fin(c, old_entry, message, SYNCER_FINALIZER_ADD);
}

static kr_reconcile_result result_of(rctx *c, step st)
{
    switch (st) {
    case STEP_OK:
        if (c->s->resync_ms) {
            *c->after_ms = c->s->resync_ms;
            return KR_RECONCILE_REQUEUE_AFTER;
        }
        return KR_RECONCILE_DONE;
    case STEP_RETRY:
        if (*c->after_ms == 0) /* a wait just over is still a retry, not done */
            *c->after_ms = 1;
        return KR_RECONCILE_REQUEUE_AFTER;
    case STEP_CONFLICT:
        return KR_RECONCILE_REQUEUE;
    default:
        return KR_RECONCILE_ERROR;
    }
}

/* The key of c's object in `cluster` in s->written (our writes to copies
 * whose watch event has not come yet). */
static void written_key_in(const rctx *c, const char *cluster, char *buf, size_t len)
{
    snprintf(buf, len, "%zu/%s/%s/%s", (size_t)(c->res - c->s->resources), c->req->namespace_,
             c->req->name, cluster);
}

static void written_key(const rctx *c, char *buf, size_t len)
{
    written_key_in(c, c->req->cluster, buf, len);
}

/* True when our write to c's object in `cluster` awaits its watch event
 * (for less than verify_timeout_ms): that cluster's entry is coming (the
 * event brings the key back). */
static bool awaits_our_write(const rctx *c, const char *cluster)
{
    char key[700];
    written_key_in(c, cluster, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    json_t *w = json_object_get(c->s->written, key);
    int64_t age_ns = now_ns(c->s) - (int64_t)json_integer_value(json_object_get(w, "at"));
    bool waiting = w && age_ns < (int64_t)c->s->verify_timeout_ms * 1000000;
    pthread_mutex_unlock(&c->s->pending_lock);
    return waiting;
}

/* True when we wrote c's copy in this cluster, or sent a write whose
 * outcome is not known (still in flight, or its answer lost: a 5xx after
 * the cluster did it, a cut connection), and no reconcile has found the
 * cache holding a copy since (of any age): the copy may exist though the
 * cache, behind, may not show it and no status entry may name it yet (the
 * entry comes with the write's watch event, and a lost answer is in no
 * entry at all). Such a copy is looked at live, never trusted to the
 * cache, before this cluster counts as clean. */
static bool wrote_unseen(const rctx *c)
{
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    bool wrote = json_object_get(c->s->written, key) != NULL;
    pthread_mutex_unlock(&c->s->pending_lock);
    return wrote;
}

/* A cluster other than this lane's where wrote_unseen holds for c's
 * object (a write of its lane unseen, in flight or of unknown outcome);
 * NULL when none. A hub delete waits for that lane to look at its copy
 * live: the finalizer would otherwise go while the copy may exist, in no
 * entry and in no cache. */
static const char *wrote_unseen_elsewhere(const rctx *c)
{
    const char *found = NULL;
    pthread_mutex_lock(&c->s->pending_lock);
    for (size_t i = 0; i < c->s->n_clusters && !found; i++) {
        char key[700];
        written_key_in(c, c->s->clusters[i].name, key, sizeof(key));
        if (&c->s->clusters[i] != c->cl && json_object_get(c->s->written, key))
            found = c->s->clusters[i].name;
    }
    pthread_mutex_unlock(&c->s->pending_lock);
    return found;
}

/* Forget our last write to c's copy: the object is no longer synced to
 * this cluster (gone, unplaced, ignored or being deleted), so no reconcile
 * will compare the cache with that write; kept, the entry and the hub
 * object it holds would stay for the life of the process. */
static void forget_write(const rctx *c)
{
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    json_object_del(c->s->written, key);
    pthread_mutex_unlock(&c->s->pending_lock);
}

/* The clusters whose entries the hub lane's write waits for: ours, and
 * each other one the object is placed in that answers (a dead one's
 * entries are not coming) and whose entry is coming: its lane has the
 * object's key queued or reconciling, or the watch event of our write to
 * its copy is awaited. A lane that has the key neither way has parked its
 * entry already (or it was written), or has nothing new to say. */
static size_t expected_entries(const rctx *c)
{
    size_t n = 1;
    for (size_t i = 0; i < c->s->n_clusters; i++) {
        syncer_cluster *cl = &c->s->clusters[i];
        if (cl == c->cl || !syncer_placed(c->hub, cl->name))
            continue;
        pthread_mutex_lock(&cl->health.lock);
        bool healthy = cl->health.retry_at_ns == 0;
        pthread_mutex_unlock(&cl->health.lock);
        /* a lane whose cache has not synced holds its keys until it has */
        healthy = healthy && kr_informer_has_synced(cl->copies[c->res - c->s->resources]);
        if (healthy && (kr_controller_pending(c->ctl, cl->name, c->req->namespace_, c->req->name) ||
                        awaits_our_write(c, cl->name)))
            n++;
    }
    return n;
}

/* The key a parked entry carries the uid of the hub object it was made
 * for under; the hub lane takes it out before the write. */
#define PARKED_UID "~hubUid"

/* Park this cluster's entry for the hub lane's one write (when it changes,
 * or when the hub object still lacks our finalizer: that write adds it). */
static step park_status(rctx *c, const json_t *old, const json_t *entry)
{
    bool same =
        syncer_status_same(old, entry) && kr_managed_has_finalizer(c->hub, KR_FINALIZER_SYNCER);
    size_t resource = (size_t)(c->res - c->s->resources);
    /* An unchanged entry is parked only to complete a batch that waits. */
    if (same && syncer_pending_count(c->s, resource, c->req->namespace_, c->req->name) == 0)
        return STEP_OK;
    size_t parked = 0;
    /* The object may be deleted and made again under its name before the
     * hub lane writes: the uid says which one the entry is about. */
    json_t *tagged = json_copy((json_t *)entry);
    const char *uid = meta_string(c->hub, "uid");
    int rc = !tagged || (uid && json_object_set_new(tagged, PARKED_UID, json_string(uid)) != 0) ||
             syncer_pending_put(c->s, resource, c->req->namespace_, c->req->name, c->req->cluster,
                                tagged, &parked) != 0;
    json_decref(tagged);
    if (rc)
        return kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED;
    if (parked >= expected_entries(c)) {
        kr_controller_enqueue(c->ctl, c->s->hub_name, c->req->namespace_, c->req->name);
        return STEP_OK;
    }
    /* The sweep writes it then if the other entries have not come. */
    uint64_t wait_ms = STATUS_BATCH_WAIT_MS;
    if (syncer_pending_due(c->s, resource, c->req->namespace_, c->req->name,
                           now_ns(c->s) + (int64_t)wait_ms * 1000000) != 0)
        return kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED;
    kr_controller_enqueue_after(c->ctl, c->s->hub_name, c->s->namespace_, SYNCER_SWEEP_NAME,
                                wait_ms);
    return STEP_OK;
}

typedef struct sweep {
    syncer_t *s;
    kr_controller_t *ctl;
} sweep;

static void flush_due(const char *ns, const char *name, void *user)
{
    sweep *w = user;
    kr_controller_enqueue(w->ctl, w->s->hub_name, ns, name);
}

/* The hub lane's sweep key: queue the objects whose parked entries waited
 * long enough for the others, and come back when the next one is due. */
static kr_reconcile_result sweep_parked(syncer_t *s, kr_controller_t *ctl, size_t resource)
{
    sweep w = {s, ctl};
    int64_t now = now_ns(s);
    int64_t next = syncer_pending_sweep(s, resource, now, flush_due, &w);
    if (next)
        kr_controller_enqueue_after(ctl, s->hub_name, s->namespace_, SYNCER_SWEEP_NAME,
                                    (uint64_t)((next - now) / 1000000) + 1);
    return KR_RECONCILE_DONE;
}

/* The entries of `parked` that still concern `hub` (new object, or NULL
 * out of memory): not those of a cluster the object is no longer placed
 * in, whose lane removes the copy and the entry (written now, the entry
 * would come back after that), nor those made for an object of the same
 * name that was deleted since (another uid). */
static json_t *entries_for(const json_t *hub, json_t *parked)
{
    json_t *updates = json_object();
    const char *uid = meta_string(hub, "uid");
    const char *cluster;
    json_t *entry;
    json_object_foreach(parked, cluster, entry)
    {
        if (!updates)
            break;
        const char *made_for = json_string_value(json_object_get(entry, PARKED_UID));
        if (!json_is_null(entry) &&
            (!syncer_placed(hub, cluster) || (made_for && (!uid || strcmp(made_for, uid) != 0))))
            continue;
        json_t *copy = json_copy(entry);
        if (json_is_object(copy))
            json_object_del(copy, PARKED_UID);
        if (!copy || json_object_set_new(updates, cluster, copy) != 0) {
            json_decref(updates);
            updates = NULL;
        }
    }
    return updates;
}

/* The clusters whose cache of this resource has not synced (down when we
 * started, or not serving the resource) hold their own lanes: nothing
 * else would say why an object has no entry there, or why its delete
 * waits. Into `updates` (cluster -> entry; those there already are left
 * alone), for each such cluster whose lists fail and that the object is
 * placed in (`deleting`: whose confirmation its delete needs), its entry
 * with a lastError saying what the cache's lists meet, unless it says so
 * already. `entries`: syncer_status_parse of `hub`. -1: out of memory. */
static int unsynced_entries(syncer_t *s, size_t resource, const json_t *hub, const json_t *entries,
                            bool deleting, json_t *updates)
{
    for (size_t i = 0; i < s->n_clusters; i++) {
        const char *name = s->clusters[i].name;
        kr_informer_t *copies = s->clusters[i].copies[resource];
        char why[256], msg[320];
        if (json_object_get(updates, name) || kr_informer_has_synced(copies) ||
            !kr_informer_last_error(copies, why, sizeof(why)))
            continue;
        if (deleting ? !syncer_delete_needed(hub, entries, name) : !syncer_placed(hub, name))
            continue;
        snprintf(msg, sizeof(msg), "the cluster's cache has not synced: %s",
                 syncer_without_request(why));
        const json_t *old = json_object_get(entries, name);
        const char *was = json_string_value(json_object_get(old, "lastError"));
        if (was && same_error(was, msg))
            continue;
        syncer_status st = {
            .source_resource_version =
                json_string_value(json_object_get(old, "sourceResourceVersion")),
            .target_resource_version =
                json_string_value(json_object_get(old, "targetResourceVersion")),
            .last_error = msg,
        };
        if (json_object_set_new(updates, name, syncer_status_entry(&st)) != 0)
            return -1;
    }
    return 0;
}

/* The entries of `updates` written just now that unsynced_entries added
 * (those of clusters `skip` does not name: a lane's own entry is told by
 * that lane) are new errors: a Warning Event each, as record_error's. */
static void warn_unsynced(syncer_t *s, size_t resource, const json_t *hub, const json_t *updates,
                          const json_t *skip)
{
    const char *cluster;
    json_t *entry;
    json_object_foreach((json_t *)updates, cluster, entry)
    {
        const char *message = json_string_value(json_object_get(entry, "lastError"));
        if (message && !json_object_get(skip, cluster))
            syncer_warn_event(s, &s->resources[resource], hub, cluster, message);
    }
}

/* True when a cluster's cache of `resource` has not synced and its
 * lists fail. [any thread] */
static bool any_unsynced_failing(syncer_t *s, size_t resource)
{
    for (size_t i = 0; i < s->n_clusters; i++) {
        kr_informer_t *copies = s->clusters[i].copies[resource];
        if (!kr_informer_has_synced(copies) && kr_informer_last_error(copies, NULL, 0))
            return true;
    }
    return false;
}

/* How often the hub lane looks for a cluster whose cache has not synced
 * and whose lists fail, until every cache has synced. */
#define UNSYNCED_LOOK_MS 2000u

/* The hub lane's SYNCER_UNSYNCED_NAME key: when a cluster's cache has not
 * synced and its lists fail, queue every object on the hub lane (flush_status
 * then says so in their entries: unsynced_entries), again when what they
 * meet changes (numbers aside); look again in a while until every cache
 * has synced. */
static kr_reconcile_result tell_unsynced(syncer_t *s, kr_controller_t *ctl, size_t resource,
                                         uint64_t *requeue_after_ms)
{
    bool waiting = false, tell = false;
    for (size_t i = 0; i < s->n_clusters; i++) {
        syncer_cluster *cl = &s->clusters[i];
        if (kr_informer_has_synced(cl->copies[resource]))
            continue;
        waiting = true;
        char why[256];
        char **told = &cl->unsynced_told[resource];
        if (!kr_informer_last_error(cl->copies[resource], why, sizeof(why)) ||
            (*told && same_error(*told, why)))
            continue;
        char *now = strdup(why);
        if (!now)
            continue; /* out of memory: told at the next look */
        free(*told);
        *told = now;
        tell = true;
    }
    json_t *keys = NULL;
    if (tell &&
        kr_store_list_keys(kr_informer_store(s->resources[resource].hub), &keys, NULL) == 0) {
        size_t i;
        json_t *key;
        json_array_foreach(keys, i, key)
        {
            const char *k = json_string_value(key), *slash = k ? strchr(k, '/') : NULL;
            char ns[254];
            if (slash && (size_t)(slash - k) < sizeof(ns)) {
                snprintf(ns, sizeof(ns), "%.*s", (int)(slash - k), k);
                kr_controller_enqueue(ctl, s->hub_name, ns, slash + 1);
            }
        }
        json_decref(keys);
    }
    if (!waiting)
        return KR_RECONCILE_DONE;
    if (requeue_after_ms)
        *requeue_after_ms = UNSYNCED_LOOK_MS;
    return KR_RECONCILE_REQUEUE_AFTER;
}

/* The hub lane: write every entry parked for the object in one patch,
 * which also adds our finalizer when the object lacks it. */
static kr_reconcile_result flush_status(syncer_t *s, size_t resource,
                                        const kr_reconcile_request *req, kr_error_t *err)
{
    json_t *entries = syncer_pending_take(s, resource, req->namespace_, req->name);
    if (!entries && !any_unsynced_failing(s, resource))
        return KR_RECONCILE_DONE;
    if (!entries && !(entries = json_object()))
        return kr_error_set(err, KR_ENOMEM, "out of memory"), KR_RECONCILE_ERROR;
    syncer_resource *res = &s->resources[resource];
    uint64_t after = 0;
    rctx c = {.s = s, .res = res, .req = req, .after_ms = &after, .err = err};
    c.hub = syncer_hub_get(s, resource, req->namespace_, req->name);
    step st = STEP_OK;
    json_t *patch = NULL, *updates = NULL;
    /* Gone or ignored: the entries no longer matter; being deleted: only
     * what holds the delete in a cluster whose cache never synced. */
    bool deleting = c.hub && meta_string(c.hub, "deletionTimestamp");
    if (c.hub && !kr_managed_unsynced_reason(c.hub) &&
        (!deleting || kr_managed_has_finalizer(c.hub, KR_FINALIZER_SYNCER))) {
        updates = deleting ? json_object() : entries_for(c.hub, entries);
        json_t *now = updates ? syncer_status_parse(c.hub) : NULL;
        if (!updates || !now || unsynced_entries(s, resource, c.hub, now, deleting, updates) != 0)
            st = (kr_error_set(err, KR_ENOMEM, "out of memory"), STEP_FAILED);
        else if (json_object_size(updates) == 0)
            st = STEP_OK; /* none left to write: no finalizer needed for them */
        else if (syncer_status_patch_entries(
                     c.hub, updates, deleting ? SYNCER_FINALIZER_KEEP : SYNCER_FINALIZER_ADD,
                     &patch, err) != 0)
            st = STEP_FAILED;
        else if (patch && (st = hub_patch(&c, patch)) == STEP_OK)
            warn_unsynced(s, resource, c.hub, updates, entries);
        json_decref(now);
    }
    if (st != STEP_OK)
        syncer_pending_restore(s, resource, req->namespace_, req->name, entries);
    json_decref(updates);
    json_decref(patch);
    json_decref(entries);
    json_decref(c.hub);
    return st == STEP_OK         ? KR_RECONCILE_DONE
           : st == STEP_CONFLICT ? KR_RECONCILE_REQUEUE
                                 : KR_RECONCILE_ERROR;
}

/* ---- deletes in the cluster ------------------------------------------------- */

static bool ours(const rctx *c, const json_t *obj)
{
    kr_managed_source src = {.manager = KR_MANAGER_SYNCER, .source_cluster = c->s->hub_name};
    return kr_managed_owner_of(obj, &src) != KR_MANAGED_FOREIGN;
}

/* True when `obj` (read from the cluster itself: the copies' caches hold
 * only objects with our managed-by label) is a copy of ours whose
 * managed-by label someone took away (`kubectl label ... managed-by-`):
 * it still carries the source-uid of this very hub object (a uid no other
 * object has) and our hub's name as source-cluster, labels only we write.
 * A copy with another manager's label, or without that evidence, is
 * someone else's. */
static bool lost_our_label(const rctx *c, const json_t *obj)
{
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    const char *manager = json_string_value(json_object_get(labels, KR_LABEL_MANAGED_BY));
    const char *uid = json_string_value(json_object_get(labels, KR_LABEL_SOURCE_UID));
    const char *hub = json_string_value(json_object_get(labels, KR_LABEL_SOURCE_CLUSTER));
    const char *hub_uid = meta_string(c->hub, "uid");
    return (!manager || !*manager) && uid && hub_uid && *hub_uid && strcmp(uid, hub_uid) == 0 &&
           hub && strcmp(hub, c->s->hub_name) == 0;
}

/* ---- deletes and creates whose answer was lost ----------------------------- */

/* The copy whose delete this lane sent with its outcome unknown (new
 * reference), or NULL. */
static json_t *lost_delete(const rctx *c)
{
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    json_t *was = json_incref(json_object_get(c->s->lost_deletes, key));
    pthread_mutex_unlock(&c->s->pending_lock);
    return was;
}

/* Remember `obj` (borrowed; NULL: forget it) as that copy. */
static void set_lost_delete(const rctx *c, const json_t *obj)
{
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    if (obj)
        json_object_set(c->s->lost_deletes, key, (json_t *)obj);
    else
        json_object_del(c->s->lost_deletes, key);
    pthread_mutex_unlock(&c->s->pending_lock);
}

/* True the first time this lane tells the delete of `obj` (the copy, by
 * uid), remembered until a look finds the cache without that copy
 * (forget_told_delete); false when it was told already. Until its DELETED
 * event comes, the cache still holds a copy found gone (or whose delete
 * was accepted), and each look in between meets it again: its delete is
 * then answered "not found", which is no new delete to tell. */
static bool first_told_delete(rctx *c, const json_t *obj)
{
    const char *uid = meta_string(obj, "uid");
    if (!uid)
        return true;
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    const char *told = json_string_value(json_object_get(c->s->deletes_told, key));
    bool first = !told || strcmp(told, uid) != 0;
    if (first) /* out of memory: told again at worst */
        json_object_set_new(c->s->deletes_told, key, json_string(uid));
    pthread_mutex_unlock(&c->s->pending_lock);
    return first;
}

/* A look whose cache no longer holds the copy whose delete was told
 * (gone, or another copy under its name) forgets it. */
static void forget_told_delete(rctx *c)
{
    char key[700];
    written_key(c, key, sizeof(key));
    const char *cached = meta_string(c->copy, "uid");
    pthread_mutex_lock(&c->s->pending_lock);
    const char *told = json_string_value(json_object_get(c->s->deletes_told, key));
    if (told && (!cached || strcmp(told, cached) != 0))
        json_object_del(c->s->deletes_told, key);
    pthread_mutex_unlock(&c->s->pending_lock);
}

/* `was`, a copy whose delete we sent, is found gone: that delete (or the
 * client's repeat of it, whose answer said "not found") removed it.
 * Recorded as the delete it is, once per copy (the DELETED once-key), and
 * logged once (first_told_delete). */
static void record_lost_delete(rctx *c, const json_t *was)
{
    if (!first_told_delete(c, was))
        return;
    log_key(c, KR_LOG_INFO, "deleted the copy (the delete's answer was lost: it is gone)%s", NULL);
    syncer_record(c->s, c->res, c->req->cluster, was, "DELETED");
}

/* A look of a lane that sent a delete whose answer was lost (a 5xx, a
 * timeout: the cluster may have done it) asks the cluster first, whatever
 * the look goes on to do: the copy gone (or another copy under its name)
 * is that delete, recorded now; a look that finds the copy gone from the
 * cache, or that has nothing to delete any more, would otherwise record
 * nothing. The copy there and not being deleted: the delete did not take,
 * and nothing is recorded (a later delete by someone else is not ours).
 * Still being deleted, or no answer: asked again at the next look. */
static void settle_lost_delete(rctx *c)
{
    json_t *was = lost_delete(c);
    if (!was)
        return;
    const char *uid = meta_string(was, "uid"), *cached = meta_string(c->copy, "uid");
    bool gone = false, there = false;
    kr_error_t err = {0};
    uint64_t wait = 0;
    if (cached && uid && strcmp(cached, uid) != 0) {
        gone = true; /* another copy holds the name */
    } else if (still_leading(c->s, &err) == 0 &&
               syncer_health_may_try(&c->cl->health, now_ns(c->s), &wait)) {
        json_t *live = NULL;
        int rc = kr_client_get(c->cl->client, c->res->gvr, c->req->namespace_, c->req->name, &live,
                               &err);
        count(c->s, &c->s->cluster_requests);
        health_after(c, rc == KR_ENOTFOUND ? 0 : rc, &err);
        const char *now_uid = meta_string(live, "uid");
        gone = rc == KR_ENOTFOUND || (rc == 0 && now_uid && uid && strcmp(now_uid, uid) != 0);
        there = rc == 0 && !gone && !meta_string(live, "deletionTimestamp");
        json_decref(live);
    }
    if (gone)
        record_lost_delete(c, was);
    if (gone || there)
        set_lost_delete(c, NULL);
    json_decref(was);
}

/* The last-applied annotation of `obj`, or NULL. Borrowed. */
static const char *last_applied_of(const json_t *obj)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
                        KR_ANNOTATION_LAST_APPLIED));
}

/* `copy` (ours: in the cache, or read from the cluster) is there after a
 * write of ours whose answer was lost, as the write's mark says: made from
 * this very hub object (its source-uid label), it is that create's copy
 * (createLost), recorded CREATED now, before anything verifies, patches or
 * deletes it; carrying the last-applied content that patch sent
 * (patchLost) at another resourceVersion than the copy it patched
 * (patchLostFrom), it is that patch's copy, recorded PATCHED. Each once
 * (the flag goes). */
static void found_lost_write(rctx *c, const json_t *copy)
{
    const json_t *labels = json_object_get(json_object_get(copy, "metadata"), "labels");
    const char *source = json_string_value(json_object_get(labels, KR_LABEL_SOURCE_UID));
    const char *hub_uid = meta_string(c->hub, "uid");
    if (!source || !hub_uid || strcmp(source, hub_uid) != 0)
        return;
    const char *has = last_applied_of(copy);
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    json_t *w = json_object_get(c->s->written, key);
    bool created = json_is_true(json_object_get(w, "createLost"));
    if (created)
        json_object_del(w, "createLost");
    const char *sent = json_string_value(json_object_get(w, "patchLost"));
    const char *from = json_string_value(json_object_get(w, "patchLostFrom"));
    const char *rv = meta_string(copy, "resourceVersion");
    bool patched = sent && has && strcmp(sent, has) == 0 && from && rv && strcmp(from, rv) != 0;
    if (patched)
        json_object_del(w, "patchLost");
    pthread_mutex_unlock(&c->s->pending_lock);
    if (created) {
        log_key(c, KR_LOG_INFO, "created the copy (the create's answer was lost: it is there)%s",
                NULL);
        syncer_record(c->s, c->res, c->req->cluster, copy, "CREATED");
    }
    if (patched) {
        log_key(c, KR_LOG_INFO, "patched the copy (the patch's answer was lost: it is there)%s",
                NULL);
        syncer_record(c->s, c->res, c->req->cluster, copy, "PATCHED");
    }
}

/* Note in c->held that the copy `obj`, being deleted, waits for the
 * finalizers it carries (someone else's: ours never go on a copy), for
 * its cluster's entry: a hub delete it holds would otherwise show nothing
 * but a verified copy. */
static void note_held(rctx *c, const json_t *obj)
{
    const json_t *list = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    size_t used = (size_t)snprintf(c->held, sizeof(c->held),
                                   "the copy is being deleted and "
                                   "waits for its finalizers:");
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        const char *f = json_string_value(item);
        if (!f || used >= sizeof(c->held))
            continue;
        int n = snprintf(c->held + used, sizeof(c->held) - used, "%s %s", i ? "," : "", f);
        used += n > 0 ? (size_t)n : 0;
    }
    if (json_array_size(list) == 0 && used < sizeof(c->held))
        snprintf(c->held + used, sizeof(c->held) - used, " (none left)");
    cut_utf8(c->held);
}

/* True when `rc` (with c->err) says that the copy is not there: a 404
 * whose Status names the object, as an apiserver answers for an object it
 * does not hold. A 404 for the path (a resource the cluster does not serve
 * at this version, as when its CRD stopped serving it: the copy may still
 * be stored there, served under another) names nothing and confirms
 * nothing. */
static bool copy_not_found(const rctx *c, int rc)
{
    return rc == KR_ENOTFOUND && strcmp(c->err->details_name, c->req->name) == 0;
}

/* Delete `obj` (ours) by uid precondition. STEP_OK: gone. A copy already
 * being deleted (held by someone's finalizer) is not deleted again: that
 * would be one more write per look, and its delete was recorded when
 * accepted; its DELETED event wakes the key. Held, c->held says by what. */
static step delete_copy(rctx *c, const json_t *obj)
{
    c->op = "delete"; /* also what a held delete waits on names */
    if (meta_string(obj, "deletionTimestamp")) {
        note_held(c, obj);
        *c->after_ms = PENDING_DELETE_RETRY_MS;
        return STEP_RETRY;
    }
    if (still_leading(c->s, c->err) != 0) /* before may_call: the probe's turn stays */
        return STEP_FAILED;
    if (!may_call(c))
        return STEP_RETRY;
    kr_delete_opts opts = {.precondition_uid = meta_string(obj, "uid"),
                           .propagation_policy = "Background"};
    json_t *out = NULL;
    int rc = kr_client_delete(c->cl->client, c->res->gvr, c->req->namespace_, c->req->name, &opts,
                              &out, c->err);
    count(c->s, &c->s->cluster_requests);
    syncer_count_write(c->cl, SYNCER_OP_DELETE, rc, c->err);
    bool deleted = rc == 0, not_found = copy_not_found(c, rc);
    if (deleted)
        count(c->s, &c->s->cluster_writes);
    /* The answer lost (a 5xx, a timeout): the cluster may have done it;
     * the next look asks (settle_lost_delete). */
    if (syncer_unreachable(rc, c->err))
        set_lost_delete(c, obj);
    else if (deleted || not_found)
        set_lost_delete(c, NULL);
    if (not_found)
        rc = 0; /* already gone: as good as confirmed */
    step st = after_call(c, rc);
    /* The delete was accepted: that is our write, recorded now, since a
     * copy held by someone's finalizer is gone only later, and the look
     * that finds it gone (404) writes nothing. "Not found" is the answer
     * to this delete too when the client repeated it after an answer it
     * lost (a 5xx, a timeout: DELETE is repeated), the first try having
     * removed the copy: this very copy (uid), which we set out to delete,
     * is gone. */
    if (deleted && first_told_delete(c, obj)) {
        log_key(c, KR_LOG_INFO, "deleted the copy%s", NULL);
        syncer_record(c->s, c->res, c->req->cluster, obj, "DELETED");
    } else if (not_found) {
        record_lost_delete(c, obj);
    }
    /* Still there with someone's finalizer: not gone yet; its DELETED
     * event wakes this key again, the retry is a backstop. */
    const char *kind = json_string_value(json_object_get(out, "kind"));
    if (st == STEP_OK && meta_string(out, "deletionTimestamp") && kind &&
        strcmp(kind, "Status") != 0) {
        /* Called directly, the next reconcile comes at once: it must see
         * the deletionTimestamp, or it would record the delete again. */
        if (!c->ctl && deleted)
            kr_informer_wait_for_resource_version(c->cl->copies[c->res - c->s->resources],
                                                  meta_string(out, "resourceVersion"),
                                                  c->s->verify_timeout_ms, NULL);
        note_held(c, out);
        *c->after_ms = PENDING_DELETE_RETRY_MS;
        st = STEP_RETRY;
    }
    json_decref(out);
    return st;
}

/* Make sure no copy of ours is left in the cluster. `ask` (a hub delete,
 * or a status entry saying we wrote there): when the cache holds no copy,
 * ask the cluster, so that a stale cache never confirms anything. */
static step confirm_gone(rctx *c, bool ask)
{
    if (c->copy && ours(c, c->copy))
        found_lost_write(c, c->copy);
    if (c->copy)
        return ours(c, c->copy) ? delete_copy(c, c->copy) : STEP_OK;
    if (!ask)
        return STEP_OK;
    c->op = "delete"; /* the GET asks whether there is a copy to delete */
    if (!may_call(c))
        return STEP_RETRY;
    json_t *live = NULL;
    int rc =
        kr_client_get(c->cl->client, c->res->gvr, c->req->namespace_, c->req->name, &live, c->err);
    if (copy_not_found(c, rc))
        rc = 0;
    step st = after_call(c, rc);
    if (st == STEP_OK && live && (ours(c, live) || lost_our_label(c, live))) {
        found_lost_write(c, live);
        st = delete_copy(c, live);
    }
    json_decref(live);
    return st;
}

/* ---- copies this process created ------------------------------------------- */

/* Remember that we created `copy` (under pending_lock); old entries go
 * when the map has grown. */
static void remember_created(rctx *c, const json_t *copy)
{
    const char *uid = meta_string(copy, "uid");
    if (!uid)
        return;
    char key[700];
    written_key(c, key, sizeof(key));
    int64_t now = now_ns(c->s), window = (int64_t)SYNCER_ORPHAN_WINDOW_MS * 1000000;
    pthread_mutex_lock(&c->s->pending_lock);
    json_object_set_new(c->s->created, key, json_pack("{s:s, s:I}", "uid", uid, "at", now));
    if (json_object_size(c->s->created) >= c->s->created_prune_at) {
        const char *k;
        json_t *v, *tmp;
        json_object_foreach_safe(c->s->created, tmp, k, v)
        {
            if (now - json_integer_value(json_object_get(v, "at")) >= window)
                json_object_del(c->s->created, k);
        }
        size_t n = json_object_size(c->s->created);
        c->s->created_prune_at = n * 2 > 1024 ? n * 2 : 1024;
    }
    pthread_mutex_unlock(&c->s->pending_lock);
}

static void forget_created(const rctx *c)
{
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    json_object_del(c->s->created, key);
    pthread_mutex_unlock(&c->s->pending_lock);
}

/* True when this process created `copy` less than SYNCER_ORPHAN_WINDOW_MS
 * ago and its hub object never carried our finalizer since. */
static bool created_here_lately(const rctx *c, const json_t *copy)
{
    char key[700];
    written_key(c, key, sizeof(key));
    const char *uid = meta_string(copy, "uid");
    pthread_mutex_lock(&c->s->pending_lock);
    json_t *e = json_object_get(c->s->created, key);
    bool lately = e && uid && strcmp(json_string_value(json_object_get(e, "uid")), uid) == 0 &&
                  now_ns(c->s) - json_integer_value(json_object_get(e, "at")) <
                      (int64_t)SYNCER_ORPHAN_WINDOW_MS * 1000000;
    pthread_mutex_unlock(&c->s->pending_lock);
    return lately;
}

/* ---- the three cases --------------------------------------------------------- */

static void warn_placement(syncer_t *s, syncer_resource *res, const char *ns, const char *name,
                           const json_t *hub);

/* The hub object is gone. A copy we created lately is removed: its hub
 * object went before our finalizer was on it. Any other copy of ours (the
 * hub object deleted while its finalizer was taken off by hand, a hub
 * restored from an old backup, a syncer pointed at the wrong hub) is left
 * to kr-sweeper, which deletes only after its grace period and with a cap
 * per run: the syncer never mass-deletes on the word of one list. */
/* Whether the orphan `copy` (NULL: none, or no longer an orphan) in this
 * lane is news: true the first time a copy of that uid is met. */
static bool orphan_news(rctx *c, const json_t *copy)
{
    char key[700];
    snprintf(key, sizeof(key), "%zu/%s/%s/%s", (size_t)(c->res - c->s->resources), c->req->cluster,
             c->req->namespace_, c->req->name);
    const char *uid = meta_string(copy, "uid");
    pthread_mutex_lock(&c->s->pending_lock);
    const char *told = json_string_value(json_object_get(c->s->orphans_told, key));
    bool news = uid && (!told || strcmp(told, uid) != 0);
    if (!uid)
        json_object_del(c->s->orphans_told, key);
    else if (news)
        json_object_set_new(c->s->orphans_told, key, json_string(uid));
    pthread_mutex_unlock(&c->s->pending_lock);
    return news;
}

static step reconcile_orphan(rctx *c)
{
    forget_write(c);
    if (c->ctl && c->cl == &c->s->clusters[0])
        warn_placement(c->s, c->res, c->req->namespace_, c->req->name, NULL);
    if (!c->copy || !ours(c, c->copy)) {
        orphan_news(c, NULL);
        return STEP_OK;
    }
    if (!created_here_lately(c, c->copy)) {
        /* said once per copy; each resync's look after that at debug */
        log_key(c, orphan_news(c, c->copy) ? KR_LOG_INFO : KR_LOG_DEBUG,
                "the hub object is gone but this copy was not made here lately: left to "
                "kr-sweeper%s",
                NULL);
        return STEP_OK;
    }
    step st = confirm_gone(c, false);
    if (st == STEP_OK)
        forget_created(c);
    return st;
}

/* A cluster other than this lane's whose cache still holds a copy of
 * ours of the object, whatever its status entry says ("deleted" may come
 * from elsewhere than our own confirmation: a restored backup, a tool
 * that writes the annotation back, a hand); NULL when none. An
 * unreachable cluster's cache keeps what it last saw, so such a copy
 * holds the delete until that cluster confirms it. */
static const char *cached_elsewhere(const rctx *c)
{
    size_t resource = (size_t)(c->res - c->s->resources);
    for (size_t i = 0; i < c->s->n_clusters; i++) {
        syncer_cluster *cl = &c->s->clusters[i];
        if (cl == c->cl)
            continue;
        json_t *copy = kr_store_get_by_name(kr_informer_store(cl->copies[resource]),
                                            c->req->namespace_, c->req->name);
        bool held = copy && ours(c, copy);
        json_decref(copy);
        if (held)
            return cl->name;
    }
    return NULL;
}

/* The hub object is being deleted: confirm the delete in this cluster,
 * and drop the finalizer when every cluster has. A cluster where we may
 * have a copy counts as clean only by an answer of the cluster itself,
 * never by a cache that may be behind: a copy of ours in its cache is
 * deleted; else, when the object is placed there, an entry says we may
 * have a copy, or we wrote one (or sent a write whose outcome is
 * unknown: wrote_unseen) that no cache or entry shows, the cluster is
 * asked (a GET) and a copy of ours there deleted. The finalizer stays
 * while any other lane has such a write (wrote_unseen_elsewhere): that
 * lane asks its cluster first. */
static step reconcile_delete(rctx *c)
{
    /* a copy we wrote that neither the cache nor an entry shows yet is
     * deleted too (asked for: the cache may not hold it) */
    bool wrote = wrote_unseen(c);
    if (!kr_managed_has_finalizer(c->hub, KR_FINALIZER_SYNCER)) {
        forget_write(c);
        return STEP_OK;
    }
    json_t *entries = syncer_status_parse(c->hub);
    if (!entries)
        return kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED;
    step st = STEP_OK;
    json_t *entry = json_incref(json_object_get(entries, c->req->cluster));
    /* a copy of ours in this cluster's cache is deleted whatever the
     * entry says */
    if (syncer_delete_needed(c->hub, entries, c->req->cluster) || wrote ||
        (c->copy && ours(c, c->copy))) {
        st = confirm_gone(c, true);
        /* What holds the delete here shows in this cluster's entry */
        char msg[sizeof(c->err->message)];
        if (failure_text(c, st, msg, sizeof(msg))) {
            if (record_error_fin(c, entry, msg, SYNCER_FINALIZER_KEEP) == STEP_CONFLICT)
                st = STEP_CONFLICT;
        } else if (st == STEP_OK) {
            syncer_status done = {.deleted = true, .verified = true};
            json_decref(entry);
            entry = syncer_status_entry(&done);
            if (!entry || json_object_set(entries, c->req->cluster, entry) != 0)
                st = (kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED);
        }
    }
    const char *unseen = NULL;
    if (st == STEP_OK) {
        bool complete =
            syncer_delete_complete(c->hub, entries, (const char *const *)c->s->cluster_names,
                                   c->s->n_clusters) &&
            !cached_elsewhere(c) && !(unseen = wrote_unseen_elsewhere(c));
        /* a cluster whose cache never synced says here what holds it */
        json_t *updates = json_object();
        if (!updates || json_object_set(updates, c->req->cluster, entry ? entry : json_null()) ||
            (!complete && unsynced_entries(c->s, (size_t)(c->res - c->s->resources), c->hub,
                                           entries, true, updates) != 0))
            st = (kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED);
        else
            st = write_entries(c, updates,
                               complete ? SYNCER_FINALIZER_RELEASE : SYNCER_FINALIZER_KEEP);
        json_t *own = st == STEP_OK ? json_pack("{s:b}", c->req->cluster, 1) : NULL;
        if (own)
            warn_unsynced(c->s, (size_t)(c->res - c->s->resources), c->hub, updates, own);
        json_decref(own);
        json_decref(updates);
        if (st == STEP_OK && complete)
            log_key(c, KR_LOG_INFO, "every cluster confirmed the delete: finalizer removed%s",
                    NULL);
    }
    if (st == STEP_OK)
        forget_write(c);
    if (st == STEP_OK && unseen) {
        log_key(c, KR_LOG_DEBUG, "the delete waits for %s to look at a write it made there",
                unseen);
        if (c->ctl)
            kr_controller_enqueue(c->ctl, unseen, c->req->namespace_, c->req->name);
        *c->after_ms = PENDING_DELETE_RETRY_MS; /* woken, that lane may complete it first */
        st = STEP_RETRY;
    }
    json_decref(entry);
    json_decref(entries);
    return st;
}

/* Not placed here (any more): remove our copy, then our status entry. */
static step reconcile_unplaced(rctx *c, const json_t *old_entry)
{
    /* a copy we wrote before the placement changed, which neither the
     * cache (behind) nor an entry (not written yet) shows, is asked for
     * too: left, it would outlive the object */
    step st = confirm_gone(c, old_entry != NULL || wrote_unseen(c));
    if (st != STEP_OK) {
        /* the write stays remembered for the next look; what holds the
         * removal shows in this cluster's entry (no longer verified, a
         * Warning Event when new), as for a hub delete: written at once,
         * since the hub lane drops parked entries of unplaced clusters */
        char msg[sizeof(c->err->message)];
        if (failure_text(c, st, msg, sizeof(msg)) &&
            record_error_fin(c, old_entry, msg, SYNCER_FINALIZER_KEEP) == STEP_CONFLICT)
            st = STEP_CONFLICT;
        return st;
    }
    forget_write(c);
    return write_status(c, NULL, SYNCER_FINALIZER_KEEP);
}

/* True when `copy`'s last-applied annotation is `modified`'s: the hub
 * content has not changed since we last applied it there. */
static bool same_last_applied(const json_t *copy, const json_t *modified)
{
    const char *a = last_applied_of(copy), *b = last_applied_of(modified);
    return a && b && strcmp(a, b) == 0;
}

/* Returned by send_copy when the cluster waits for a probe (no request). */
#define WAITING 1
/* Returned by send_copy when the hub object moved on before the write
 * went (begin_write; no request): look again. */
#define HUB_MOVED 2

/* Before a create or patch of c's copy is sent: mark it written with its
 * outcome unknown (wrote_unseen; rv 0, which no copy the cache holds has),
 * until the write's answer is remembered (remember_write), a reconcile
 * finds the cache holding a copy (cache_vs_our_write), or a look at the
 * cluster finds the copy gone or ours deleted (forget_write). A lost
 * answer leaves the mark, so the copy is looked at live before this
 * cluster counts as clean; a write known not to have been applied (not
 * sent, or refused: end_write) puts back what was there before. Then the
 * hub cache is read again: a lane that found the hub delete complete,
 * seeing no mark, read the delete in the same cache before, so the write
 * is not sent (false) when the object is gone, being deleted, made anew
 * or no longer placed here. *before: what the mark replaced (new
 * reference, or NULL), for end_write. */
static bool begin_write(rctx *c, json_t **before)
{
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    *before = json_incref(json_object_get(c->s->written, key));
    /* a create whose answer was lost stays so until its copy is found */
    bool lost = json_is_true(json_object_get(*before, "createLost"));
    json_object_set_new(c->s->written, key,
                        json_pack("{s:I, s:I, s:b}", "rv", (json_int_t)0, "at",
                                  (json_int_t)now_ns(c->s), "createLost", lost));
    pthread_mutex_unlock(&c->s->pending_lock);
    /* the hub object as this look read it, unchanged: no parse */
    char hub_key[600];
    snprintf(hub_key, sizeof(hub_key), "%s%s%s", c->req->namespace_ ? c->req->namespace_ : "",
             c->req->namespace_ && *c->req->namespace_ ? "/" : "", c->req->name);
    char *rv_now = kr_store_get_resource_version(kr_informer_store(c->res->hub), hub_key);
    const char *rv_read = meta_string(c->hub, "resourceVersion");
    bool unchanged = rv_now && rv_read && strcmp(rv_now, rv_read) == 0;
    kr_free(rv_now);
    json_t *now = unchanged ? json_incref(c->hub)
                            : kr_store_get_by_name(kr_informer_store(c->res->hub),
                                                   c->req->namespace_, c->req->name);
    const char *uid = meta_string(now, "uid"), *was = meta_string(c->hub, "uid");
    bool still = now && !meta_string(now, "deletionTimestamp") && uid && was &&
                 strcmp(uid, was) == 0 && syncer_placed(now, c->req->cluster);
    json_decref(now);
    return still;
}

/* A write marked by begin_write was not applied: not sent (`rc`
 * HUB_MOVED), or refused by an answer (a 4xx: neither POST nor PATCH is
 * sent again after a 5xx, so that answer is this very request's). Its
 * mark goes and what it replaced (`before`, borrowed; NULL: nothing) is
 * put back: a lost write before it may still have been applied. A 4xx
 * is no answer lost, so nothing of this write is left to look at live;
 * but a create answered AlreadyExists keeps its mark: an object of that
 * name is there, perhaps a copy of ours the cache does not hold yet. */
static void end_write(rctx *c, int rc, const json_t *before)
{
    bool refused = rc != 0 && rc != WAITING && rc != KR_EEXIST && c->err->http_code >= 400 &&
                   c->err->http_code < 500;
    if (rc != HUB_MOVED && !refused)
        return;
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    if (before)
        json_object_set(c->s->written, key, (json_t *)before);
    else
        json_object_del(c->s->written, key);
    pthread_mutex_unlock(&c->s->pending_lock);
}

/* A create's answer came (lost: false) or was lost (a 5xx, a timeout:
 * the cluster may have made the copy): its mark says so, for
 * found_lost_write. A create that succeeded says no copy was there. */
static void note_create(rctx *c, bool lost)
{
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    json_t *w = json_object_get(c->s->written, key);
    if (w)
        json_object_set_new(w, "createLost", json_boolean(lost));
    pthread_mutex_unlock(&c->s->pending_lock);
}

/* A patch's answer was lost (a 5xx, a timeout: the cluster may have
 * applied it): its mark keeps the last-applied content it sent
 * (`modified`'s) and the resourceVersion of the copy it patched
 * (`current`'s), by which found_lost_write knows the patched copy: a
 * drift repair sends the text the copy already has, so only a copy
 * changed since (another resourceVersion) may be the patch's doing. */
static void note_lost_patch(rctx *c, const json_t *current, const json_t *modified)
{
    const char *sent = last_applied_of(modified), *from = meta_string(current, "resourceVersion");
    if (!sent || !from)
        return;
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    json_t *w = json_object_get(c->s->written, key);
    if (w) { /* out of memory: not recorded, as before */
        json_object_set_new(w, "patchLost", json_string(sent));
        json_object_set_new(w, "patchLostFrom", json_string(from));
    }
    pthread_mutex_unlock(&c->s->pending_lock);
}

/* Send what `current` (a copy of ours, or NULL) needs to match the hub
 * object: a create, the three-way patch, or nothing (rc 0, *out NULL).
 * Returns the request's code, or WAITING or HUB_MOVED; *out is the answer
 * (new). */
static int send_copy(rctx *c, const json_t *current, json_t **out)
{
    *out = NULL;
    json_t *desired = syncer_desired_copy(c->hub, c->s->hub_name, c->err);
    if (!desired)
        return c->err->code ? c->err->code : KR_ENOMEM;
    json_t *modified = NULL, *patch = NULL, *before = NULL;
    kr_patch_format format = KR_PATCH_MERGE;
    int rc = kr_patch_last_applied(NULL, KR_ANNOTATION_LAST_APPLIED, desired, current, &modified,
                                   &patch, &format, c->err);
    json_decref(desired);
    if (rc == 0 && (!current || patch) && still_leading(c->s, c->err) != 0)
        rc = KR_ESTATE; /* before may_call, which would take the probe's turn */
    else if (rc == 0 && (!current || patch) && !may_call(c))
        rc = WAITING;
    else if (rc == 0 && (!current || patch) && !begin_write(c, &before))
        end_write(c, rc = HUB_MOVED, before);
    else if (rc == 0 && (!current || patch)) {
        rc = current ? kr_client_patch(c->cl->client, c->res->gvr, c->req->namespace_, c->req->name,
                                       NULL, format, patch, &WRITE_OPTS, out, c->err)
                     : kr_client_create(c->cl->client, c->res->gvr, c->req->namespace_, modified,
                                        &WRITE_OPTS, out, c->err);
        count(c->s, &c->s->cluster_requests);
        syncer_count_write(c->cl, current ? SYNCER_OP_PATCH : SYNCER_OP_CREATE, rc, c->err);
        if (rc == 0)
            count(c->s, &c->s->cluster_writes);
        if (!current && (rc == 0 || syncer_unreachable(rc, c->err)))
            note_create(c, rc != 0);
        else if (current && syncer_unreachable(rc, c->err))
            note_lost_patch(c, current, modified);
        end_write(c, rc, before);
        /* the copy as we last applied it is what the hub says now, yet it
         * needed a patch: someone changed it in the cluster */
        if (rc == 0 && current && same_last_applied(current, modified))
            kr_metrics_counter_add(c->cl->drift_repairs, 1);
        if (rc == KR_ENOTFOUND && current)
            rc = KR_ECONFLICT; /* deleted since it was read: look again */
    }
    json_decref(before);
    json_decref(modified);
    json_decref(patch);
    return rc;
}

/* Put our managed-by label back on `*live` (a copy of ours that lost it:
 * lost_our_label), with a uid and resourceVersion precondition: that very
 * copy, as it was read, or nothing (409: look again). On success *live
 * becomes the answer, which our cache will hold. Returns the request's
 * code, or WAITING. */
static int put_label_back(rctx *c, json_t **live)
{
    if (still_leading(c->s, c->err) != 0)
        return KR_ESTATE;
    if (!may_call(c))
        return WAITING;
    json_t *patch = json_pack(
        "{s:{s:s, s:s, s:{s:s}}}", "metadata", "uid", meta_string(*live, "uid"), "resourceVersion",
        meta_string(*live, "resourceVersion"), "labels", KR_LABEL_MANAGED_BY, KR_MANAGER_SYNCER);
    if (!patch)
        return kr_error_set(c->err, KR_ENOMEM, "out of memory");
    json_t *out = NULL;
    int rc = kr_client_patch(c->cl->client, c->res->gvr, c->req->namespace_, c->req->name, NULL,
                             KR_PATCH_MERGE, patch, &WRITE_OPTS, &out, c->err);
    json_decref(patch);
    count(c->s, &c->s->cluster_requests);
    syncer_count_write(c->cl, SYNCER_OP_PATCH, rc, c->err);
    if (rc == KR_ENOTFOUND)
        rc = KR_ECONFLICT; /* gone since it was read: look again */
    if (rc == 0 && json_is_object(out)) {
        count(c->s, &c->s->cluster_writes);
        kr_metrics_counter_add(c->cl->drift_repairs, 1);
        log_key(c, KR_LOG_WARN, "the copy had lost the label %s: put back", KR_LABEL_MANAGED_BY);
        syncer_record(c->s, c->res, c->req->cluster, out, "PATCHED");
        json_decref(*live);
        *live = out;
        out = NULL;
    }
    json_decref(out);
    return rc;
}

/* An object of the copy's name exists that our cache does not hold: ours
 * with the cache behind (patch it as it is), ours without the managed-by
 * label someone took away (the label goes back first: put_label_back), or
 * someone else's (never taken over: the status says so). When ours
 * already matches, nothing is sent and *matched is that live copy (new):
 * its resourceVersion is then what the cluster's informer must observe
 * before the entry is verified, exactly as for a write, since the cache
 * holds no copy yet. */
static int resolve_existing(rctx *c, json_t **out, bool *foreign, json_t **matched)
{
    json_t *live = NULL;
    int rc =
        kr_client_get(c->cl->client, c->res->gvr, c->req->namespace_, c->req->name, &live, c->err);
    count(c->s, &c->s->cluster_requests);
    if (rc == KR_ENOTFOUND)
        rc = KR_ECONFLICT; /* gone again: look again */
    if (rc == 0 && (ours(c, live) || lost_our_label(c, live)))
        found_lost_write(c, live); /* ours from a write whose answer was lost */
    if (rc == 0 && !ours(c, live) && lost_our_label(c, live))
        rc = put_label_back(c, &live);
    if (rc == 0 && ours(c, live)) {
        rc = send_copy(c, live, out);
        if (rc == 0 && !*out)
            *matched = json_incref(live);
    } else if (rc == 0) {
        *foreign = true;
    }
    json_decref(live);
    return rc;
}

/* The write the copy needs (create or patch); *written is what the write
 * returned (new), or the live copy a create found already matching (new),
 * or NULL when nothing was written. */
/* A new leader's hub cache ran as a standby's and may be behind its
 * predecessor's last writes: an object deleted meanwhile (the finalizer
 * taken off once every copy was gone) still looks alive, and a copy
 * created from it would outlive its hub object, left to kr-sweeper. So
 * until the hub cache has observed the resourceVersion of the Lease write
 * that began this term, a create asks the hub first: STEP_OK when the
 * object is there as the cache has it, STEP_CONFLICT (look again once the
 * cache moves) when it is gone or changed. */
static step hub_still_there(rctx *c)
{
    uint64_t mark = reconcile_term.term + 1;
    if (!reconcile_term.rv[0] || atomic_load(&c->res->fresh_term) == mark)
        return STEP_OK;
    char *seen = kr_informer_last_resource_version(c->res->hub);
    bool fresh = seen && kr_resource_version_compare(seen, reconcile_term.rv) >= 0;
    kr_free(seen);
    if (fresh) {
        atomic_store(&c->res->fresh_term, mark);
        return STEP_OK;
    }
    json_t *live = NULL;
    int rc = kr_client_get(c->s->hub, c->res->gvr, c->req->namespace_, c->req->name, &live, c->err);
    if (rc != 0 && rc != KR_ENOTFOUND)
        return STEP_FAILED;
    const char *rv = meta_string(live, "resourceVersion");
    const char *cached = meta_string(c->hub, "resourceVersion");
    bool same = live && rv && cached && strcmp(rv, cached) == 0;
    json_decref(live);
    if (same)
        return STEP_OK;
    log_key(c, KR_LOG_INFO,
            "the hub cache is behind this term's start and the hub object changed%s: no copy "
            "created until the cache has it",
            rc == KR_ENOTFOUND ? " (it is gone)" : "");
    return STEP_CONFLICT;
}

static step write_copy(rctx *c, const json_t *old_entry, json_t **written)
{
    *written = NULL;
    json_t *out = NULL, *matched = NULL;
    bool foreign = false, resolved = false;
    if (!c->copy) {
        step st = hub_still_there(c);
        if (st != STEP_OK)
            return st;
    }
    /* what a create answered AlreadyExists goes on to send (a GET, the
     * label put back, a patch) is still that create */
    c->op = c->copy ? "patch" : "create";
    int rc = send_copy(c, c->copy, &out);
    if (rc == KR_EEXIST) {
        resolved = true;
        rc = resolve_existing(c, &out, &foreign, &matched);
    }
    if (rc == WAITING)
        return STEP_RETRY;
    if (rc == HUB_MOVED)
        return STEP_CONFLICT;
    if (rc == KR_ESTATE) /* not leading (still_leading): nothing was sent */
        return STEP_FAILED;
    step st = after_call(c, rc);
    if (st == STEP_OK && foreign) {
        /* The object there, just read, is not ours: the create's mark
         * goes, or the other lanes' entries would wait for a watch event
         * of ours that never comes. */
        forget_write(c);
        char msg[256];
        snprintf(msg, sizeof(msg), "%s/%s exists in %s without the label %s=%s: not taken over",
                 c->res->resource, c->req->name, c->req->cluster, KR_LABEL_MANAGED_BY,
                 KR_MANAGER_SYNCER);
        /* said once; each look after that (every 30 s) at debug level */
        const char *was = json_string_value(json_object_get(old_entry, "lastError"));
        log_key(c, was && same_error(was, msg) ? KR_LOG_DEBUG : KR_LOG_WARN, "%s", msg);
        st = record_error(c, old_entry, msg);
        if (st == STEP_OK) {
            *c->after_ms = c->s->resync_ms && c->s->resync_ms < FOREIGN_RETRY_MS ? c->s->resync_ms
                                                                                 : FOREIGN_RETRY_MS;
            st = STEP_RETRY;
        }
    } else if (st == STEP_OK && out) {
        bool created = !c->copy && !resolved;
        log_key(c, KR_LOG_INFO, "%s the copy", created ? "created" : "patched");
        /* made again where its entry says it was verified without error:
         * someone deleted it there (or the cluster lost it) */
        if (created && json_is_true(json_object_get(old_entry, "verified")) &&
            json_object_get(old_entry, "targetResourceVersion") &&
            !json_object_get(old_entry, "lastError") && !json_object_get(old_entry, "deleted"))
            kr_metrics_counter_add(c->cl->drift_repairs, 1);
        if (created && !kr_managed_has_finalizer(c->hub, KR_FINALIZER_SYNCER))
            remember_created(c, out);
        syncer_record(c->s, c->res, c->req->cluster, out, created ? "CREATED" : "PATCHED");
        *written = json_incref(out);
    } else if (st == STEP_OK && matched) {
        /* Not a write (nothing to record), but verified like one. */
        *written = json_incref(matched);
    }
    json_decref(matched);
    json_decref(out);
    return st;
}

/* ---- our own writes that a copy cache has not seen yet ---------------------- */

/* Remember a write to the copy whose watch event this key waits for:
 * the resourceVersion it returned and the hub object it was computed
 * from. */
static void remember_write(rctx *c, const char *rv)
{
    char key[700];
    written_key(c, key, sizeof(key));
    pthread_mutex_lock(&c->s->pending_lock);
    /* The hub object is the cache's (immutable: nobody modifies it). */
    json_object_set_new(c->s->written, key,
                        json_pack("{s:I, s:I, s:O}", "rv", (json_int_t)strtoull(rv, NULL, 10), "at",
                                  (json_int_t)now_ns(c->s), "hub", c->hub));
    pthread_mutex_unlock(&c->s->pending_lock);
}

/* What the copy cache holds against our last write to the copy. */
typedef enum cached_write {
    CACHED_UNKNOWN = 0, /* no write remembered, or the copy changed since */
    CACHED_BEHIND = 1, /* an older copy than our write */
    CACHED_OURS = 2, /* exactly our write, of the same hub content */
} cached_write;

/* BEHIND when the cache holds an older copy than our last write to it:
 * that write's watch event wakes this key again, and writing now would
 * send the same patch twice (the key may be woken meanwhile by another
 * event). OURS when the cache holds the very copy our write returned and
 * the hub content is the one that write was computed from: the three-way
 * patch is then empty by construction (the write's own watch event, the
 * verification), so it is not computed again (the hub object may have
 * changed meanwhile only by what the syncer writes there: its status, our
 * finalizer). The write is forgotten once the cache holds it, or after
 * verify_timeout_ms (resourceVersions that went back, as after a restore,
 * must not stop us). */
static cached_write cache_vs_our_write(rctx *c)
{
    const char *cached = meta_string(c->copy, "resourceVersion");
    if (!cached)
        return CACHED_UNKNOWN;
    char key[700];
    written_key(c, key, sizeof(key));
    unsigned long long have = strtoull(cached, NULL, 10);
    pthread_mutex_lock(&c->s->pending_lock);
    json_t *w = json_object_get(c->s->written, key);
    int64_t age_ns = now_ns(c->s) - (int64_t)json_integer_value(json_object_get(w, "at"));
    unsigned long long ours = (unsigned long long)json_integer_value(json_object_get(w, "rv"));
    json_t *then = NULL;
    cached_write r = CACHED_UNKNOWN;
    if (w && have < ours && age_ns < (int64_t)c->s->verify_timeout_ms * 1000000)
        r = CACHED_BEHIND;
    else if (w && have == ours)
        then = json_incref(json_object_get(w, "hub"));
    /* A patch whose answer was lost keeps its mark until its copy shows
     * (found_lost_write), for as long as a write's event may take: this
     * look may come before the cache has it (the key woken by another
     * event), and the copy would then never be recorded PATCHED. */
    bool lost_unseen =
        w && json_object_get(w, "patchLost") && age_ns < (int64_t)c->s->verify_timeout_ms * 1000000;
    if (w && r != CACHED_BEHIND && !lost_unseen)
        json_object_del(c->s->written, key);
    pthread_mutex_unlock(&c->s->pending_lock);
    /* The hub object may have changed since only by what we write there
     * (its status, our finalizer): the desired copy is the same. */
    if (then && (then == c->hub || !syncer_hub_changed(then, c->hub, NULL)))
        r = CACHED_OURS;
    json_decref(then);
    return r;
}

/* Read after write: true once the cluster's informer holds the copy our
 * write returned (resourceVersion `rv`). Not merely "its last
 * resourceVersion has passed rv": a cache of a server that was made anew
 * or restored from a backup holds resourceVersions of the server before,
 * which may be past an RV the new one returned, until it lists again. A
 * copy changed again since counts as not observed: its own event brings
 * the key back, and that reconcile verifies what the cache holds then.
 * Under a controller it only looks (a worker never waits: the write's own
 * watch event queues the key again, and that reconcile finds the copy in
 * the cache); called directly it waits up to verify_timeout_ms first. */
static bool observed(rctx *c, const char *rv)
{
    if (!rv)
        return false;
    kr_informer_t *inf = c->cl->copies[c->res - c->s->resources];
    if (!c->ctl &&
        kr_informer_wait_for_resource_version(inf, rv, c->s->verify_timeout_ms, NULL) != 0)
        return false;
    json_t *cached = kr_store_get_by_name(kr_informer_store(inf), c->req->namespace_, c->req->name);
    const char *held = meta_string(cached, "resourceVersion");
    bool seen = held && strcmp(held, rv) == 0;
    json_decref(cached);
    return seen;
}

/* True when the cluster refused our patch of the copy (ours, in the
 * cache) for a field that cannot change once set: a Secret's type, the
 * data of a ConfigMap or Secret marked immutable, as the apiserver says
 * ("field is immutable", a 422). */
static bool immutable_refusal(const rctx *c)
{
    return c->copy && ours(c, c->copy) && c->err->code == KR_EINVALIDOBJ &&
           strstr(c->err->message, "field is immutable");
}

/* The copy can only change by being made again, as `kubectl replace
 * --force` does: delete it (uid precondition: that very copy, ours) and
 * let the next reconcile create it; the refusal stays in the status until
 * then. */
static step replace_copy(rctx *c)
{
    char why[sizeof(c->err->message)];
    memcpy(why, c->err->message, sizeof(why));
    step st = delete_copy(c, c->copy);
    if (st != STEP_OK) /* delete_copy said why in c->err */
        return st;
    c->op = "patch"; /* what failed: the delete went through */
    log_key(c, KR_LOG_WARN, "the copy cannot be patched (%s): deleted, to be made again", why);
    char msg[sizeof(c->err->message)];
    snprintf(msg, sizeof(msg), "%.*s; the copy was deleted to be made again",
             (int)(sizeof(msg) - 40), why);
    kr_error_set(c->err, KR_EINVALIDOBJ, "%s", msg);
    *c->after_ms = 1;
    return STEP_FAILED; /* recorded in the status; retried at once */
}

/* Our finalizer goes on the hub object with its first status write (one
 * hub write per object, not two). A hub delete that comes before it finds
 * no finalizer and completes at once; the copies made meanwhile are then
 * orphans, which their own watch events bring to reconcile_orphan. */
/* A placement's warning, logged and as a Warning Event on the hub object. */
static void say_placement(syncer_t *s, syncer_resource *res, const char *ns, const char *name,
                          const json_t *hub, const char *message)
{
    char object[520];
    snprintf(object, sizeof(object), "%s/%s", ns, name);
    kr_log_field fields[] = {{"key", object}, {"resource", res->resource}};
    kr_log_fields(&s->logger, KR_LOG_WARN, "syncer", fields, 2, "%s: placement: %s", object,
                  message);
    syncer_warn_event(s, res, hub, "placement", message);
}

/* The hold of a placement that is a typo (reconcile_sync), told once per
 * object and hold, not once per cluster: a warning and a Warning Event
 * (`message`), from the first lane that tells it (a lane without a
 * controller too); again only when the message changes, or after the
 * placement was put right (warn_placement drops the mark). */
static void warn_held(syncer_t *s, syncer_resource *res, const char *ns, const char *name,
                      const json_t *hub, const char *message)
{
    char key[620];
    snprintf(key, sizeof(key), "%zu/%s/%s/held", (size_t)(res - s->resources), ns, name);
    pthread_mutex_lock(&s->pending_lock);
    const char *warned = json_string_value(json_object_get(s->placement_warned, key));
    bool news = !warned || !same_error(warned, message);
    if (news)
        json_object_set_new(s->placement_warned, key, json_string(message));
    pthread_mutex_unlock(&s->pending_lock);
    if (!news)
        return;
    say_placement(s, res, ns, name, hub, message);
}

/* A placement that names a cluster which is not configured (a typo such
 * as "DC2" for "dc2" places the object nowhere): a warning and a Warning
 * Event, from the leader's reconcile of the first cluster's lane, once per
 * set of unknown names the object's placement gives: its later versions
 * (our own status writes among them) warn again only when those names
 * change (a new leader warns again). A malformed placement is told by
 * what is wrong with it, as the hold it is (warn_held: the lanes that
 * hold a copy tell the same, once). `hub` NULL: the object is gone, and
 * so are its marks. */
static void warn_placement(syncer_t *s, syncer_resource *res, const char *ns, const char *name,
                           const json_t *hub)
{
    char key[600], held_key[620], unknown[320];
    snprintf(key, sizeof(key), "%zu/%s/%s", (size_t)(res - s->resources), ns, name);
    snprintf(held_key, sizeof(held_key), "%s/held", key);
    if (hub && kr_managed_placement_check(hub, (const char *const *)s->cluster_names, s->n_clusters,
                                          unknown, sizeof(unknown)) == KR_PLACEMENT_MALFORMED) {
        char message[400];
        snprintf(message, sizeof(message), "%s: held, no copy is created, changed or deleted",
                 unknown);
        pthread_mutex_lock(&s->pending_lock);
        json_object_del(s->placement_warned, key);
        pthread_mutex_unlock(&s->pending_lock);
        warn_held(s, res, ns, name, hub, message);
        return;
    }
    bool bad = hub && syncer_unknown_placement(hub, (const char *const *)s->cluster_names,
                                               s->n_clusters, unknown, sizeof(unknown));
    pthread_mutex_lock(&s->pending_lock);
    const char *warned = json_string_value(json_object_get(s->placement_warned, key));
    bool news = bad && (!warned || strcmp(warned, unknown) != 0);
    if (!bad) {
        json_object_del(s->placement_warned, key);
        json_object_del(s->placement_warned, held_key);
    } else if (news) {
        json_object_set_new(s->placement_warned, key, json_string(unknown));
    }
    pthread_mutex_unlock(&s->pending_lock);
    if (!news)
        return;
    char message[400];
    snprintf(message, sizeof(message), "no workload cluster named %s is configured", unknown);
    say_placement(s, res, ns, name, hub, message);
}

static step reconcile_sync(rctx *c)
{
    if (c->ctl && c->cl == &c->s->clusters[0])
        warn_placement(c->s, c->res, c->req->namespace_, c->req->name, c->hub);
    if (kr_managed_has_finalizer(c->hub, KR_FINALIZER_SYNCER))
        forget_created(c); /* a hub delete now waits for us */
    json_t *entries = syncer_status_parse(c->hub);
    if (!entries)
        return kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED;
    json_t *old = json_object_get(entries, c->req->cluster);
    step st;
    /* A placement that is a typo is no placement: held. A malformed one
     * (a name that is none: "dc2;dc1", a non-breaking space) creates,
     * patches and deletes nothing anywhere; one that names only clusters
     * not configured ("DC2") deletes no copy, where there is one to
     * delete (it would empty every cluster). kr-sweeper reads it alike. */
    char why[320];
    kr_placement_check pc = kr_managed_placement_check(
        c->hub, (const char *const *)c->s->cluster_names, c->s->n_clusters, why, sizeof(why));
    /* Held here only where there is something to hold: a copy of ours,
     * an entry of ours from before, or a write of ours whose outcome is
     * unknown. A cluster with none of them gets no entry, and so a hub
     * delete does not wait for it (syncer_delete_needed). */
    bool holds = (c->copy && ours(c, c->copy)) || old || wrote_unseen(c);
    if (pc == KR_PLACEMENT_MALFORMED && !holds) {
        json_decref(entries);
        return STEP_OK; /* nothing to create, change or delete here */
    }
    if (pc == KR_PLACEMENT_MALFORMED || (pc == KR_PLACEMENT_ALL_UNKNOWN && holds)) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s: held, no copy is created, changed or deleted", why);
        /* written at once: the hub lane drops parked entries of clusters
         * the placement does not name, and a held one names none. The
         * Event is the object's, once (warn_held), not one per cluster. */
        st = record_entry(c, old, msg, SYNCER_FINALIZER_KEEP, false);
        if (st == STEP_OK)
            warn_held(c->s, c->res, c->req->namespace_, c->req->name, c->hub, msg);
        json_decref(entries);
        return st;
    }
    if (!syncer_placed(c->hub, c->req->cluster)) {
        st = reconcile_unplaced(c, old);
        json_decref(entries);
        return st;
    }
    if (c->copy && !ours(c, c->copy)) {
        /* why, by the label that says so: the hub it was made for first */
        const json_t *labels = json_object_get(json_object_get(c->copy, "metadata"), "labels");
        const char *uid = json_string_value(json_object_get(labels, KR_LABEL_SOURCE_UID));
        const char *hub = json_string_value(json_object_get(labels, KR_LABEL_SOURCE_CLUSTER));
        char msg[512];
        if (!hub || strcmp(hub, c->s->hub_name) != 0)
            snprintf(msg, sizeof(msg),
                     "the copy is managed for %s%.63s%s, not this hub (%s): not taken over",
                     hub ? "the source cluster " : "no source cluster (no " KR_LABEL_SOURCE_CLUSTER,
                     hub ? hub : "", hub ? "" : " label)", c->s->hub_name);
        else
            snprintf(msg, sizeof(msg), "%s",
                     uid && *uid ? "the copy is not ours: not taken over"
                                 : "the copy has no " KR_LABEL_SOURCE_UID
                                   " label, so it is not ours: not taken over");
        st = record_error(c, old, msg);
        json_decref(entries);
        return st;
    }
    if (c->copy)
        found_lost_write(c, c->copy); /* made by a write whose answer was lost */
    cached_write cw = c->ctl ? cache_vs_our_write(c) : CACHED_UNKNOWN;
    if (cw == CACHED_BEHIND) {
        json_decref(entries);
        return STEP_OK;
    }
    json_t *written = NULL;
    st = cw == CACHED_OURS ? STEP_OK : write_copy(c, old, &written);
    const char *rv = meta_string(written, "resourceVersion");
    if (st == STEP_FAILED && immutable_refusal(c))
        st = replace_copy(c);
    if (st != STEP_OK) {
        /* The failure goes into the status (unchanged text: no write) */
        char msg[sizeof(c->err->message)];
        if (failure_text(c, st, msg, sizeof(msg)) && record_error(c, old, msg) == STEP_CONFLICT)
            st = STEP_CONFLICT;
        json_decref(entries);
        return st;
    }
    syncer_status now = {.source_resource_version = meta_string(c->hub, "resourceVersion")};
    json_t *entry = NULL;
    const char *old_target = json_string_value(json_object_get(old, "targetResourceVersion"));
    const char *cached = meta_string(c->copy, "resourceVersion");
    if (rv) {
        now.target_resource_version = rv;
        now.verified = observed(c, rv);
        /* Seen or not, the write's watch event wakes this key (again):
         * that reconcile knows the copy for ours by its resourceVersion. */
        if (c->ctl)
            remember_write(c, rv);
        if (now.verified)
            syncer_record(c->s, c->res, c->req->cluster, written, "VERIFIED");
        else if (c->ctl) {
            /* Not yet seen: the write's watch event wakes this key, whose
             * reconcile (no write needed then) records it verified. */
            json_decref(written);
            json_decref(entries);
            return STEP_OK;
        }
    } else if (old && !json_object_get(old, "lastError") && !json_object_get(old, "deleted") &&
               old_target && cached && strcmp(old_target, cached) == 0 &&
               !syncer_status_foreign(c->s, (size_t)(c->res - c->s->resources), c->hub)) {
        /* Nothing to write and the cache holds the copy the entry names:
         * the entry stands (its source RV is the hub's when we wrote).
         * Not an entry someone else wrote over ours (an old backup's,
         * naming the copy as it still is): its source RV is only what
         * that text says, so it is made anew below. */
        now.source_resource_version =
            json_string_value(json_object_get(old, "sourceResourceVersion"));
        now.target_resource_version = old_target;
        now.verified = true;
    } else {
        /* Nothing to write, and the cache holds a copy the entry does not
         * name (our write, now observed; a restart; a lost status), or an
         * entry someone else wrote names it: it
         * matches the hub object as it is, so it is observed at this RV. */
        now.target_resource_version = cached;
        now.verified = true;
        if (c->ctl && cached && (!old_target || strcmp(old_target, cached) != 0))
            syncer_record(c->s, c->res, c->req->cluster, c->copy, "VERIFIED");
    }
    entry = syncer_status_entry(&now);
    bool verified = now.verified;
    json_decref(written);
    if (!entry) {
        json_decref(entries);
        return kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED;
    }
    st = c->ctl ? park_status(c, old, entry) : write_status(c, entry, SYNCER_FINALIZER_ADD);
    if (!c->ctl && st == STEP_OK)
        forget_write(c); /* called directly: the entry written names the copy */
    json_decref(entries);
    json_decref(entry);
    if (st == STEP_OK && !verified) {
        *c->after_ms = UNVERIFIED_RETRY_MS;
        st = STEP_RETRY;
    }
    return st;
}

/* An object we do not sync: it keeps its copies, but neither our
 * finalizer nor our status (whose entries, kept, would go on saying the
 * copies are verified while nothing keeps them so), both gone in one
 * write. */
static step reconcile_skipped(rctx *c)
{
    forget_write(c);
    /* its copies stay, in every cluster, also when the hub object goes
     * next (our finalizer comes off here): none is "made here lately" */
    for (size_t i = 0; i < c->s->n_clusters; i++) {
        char key[700];
        written_key_in(c, c->s->clusters[i].name, key, sizeof(key));
        pthread_mutex_lock(&c->s->pending_lock);
        json_object_del(c->s->created, key);
        pthread_mutex_unlock(&c->s->pending_lock);
    }
    json_t *patch = NULL;
    if (kr_managed_finalizer_patch(c->hub, KR_FINALIZER_SYNCER, false, &patch, c->err) != 0)
        return STEP_FAILED;
    const json_t *annotations = json_object_get(json_object_get(c->hub, "metadata"), "annotations");
    if (json_object_get(annotations, KR_ANNOTATION_SYNC_STATUS)) {
        if (!patch)
            patch = json_pack("{s:{s:s?}}", "metadata", "resourceVersion",
                              meta_string(c->hub, "resourceVersion"));
        json_t *meta = json_object_get(patch, "metadata");
        if (!meta || json_object_set_new(meta, "annotations",
                                         json_pack("{s:n}", KR_ANNOTATION_SYNC_STATUS)) != 0) {
            json_decref(patch);
            return kr_error_set(c->err, KR_ENOMEM, "out of memory"), STEP_FAILED;
        }
    }
    step st = patch ? hub_patch(c, patch) : STEP_OK;
    json_decref(patch);
    return st;
}

/* ---- entry points --------------------------------------------------------------- */

static syncer_cluster *find_cluster(syncer_t *s, const char *name)
{
    for (size_t i = 0; i < s->n_clusters; i++)
        if (strcmp(s->clusters[i].name, name) == 0)
            return &s->clusters[i];
    return NULL;
}

kr_reconcile_result syncer_reconcile(syncer_t *s, size_t resource, const kr_reconcile_request *req,
                                     uint64_t *requeue_after_ms, kr_error_t *err)
{
    return syncer_reconcile_in(s, NULL, resource, req, requeue_after_ms, err);
}

kr_reconcile_result syncer_reconcile_in(syncer_t *s, kr_controller_t *ctl, size_t resource,
                                        const kr_reconcile_request *req, uint64_t *requeue_after_ms,
                                        kr_error_t *err)
{
    uint64_t after = 0;
    kr_error_t local = {0};
    if (resource >= s->n_resources)
        return KR_RECONCILE_DONE;
    reconcile_term.rv[0] = '\0';
    reconcile_term.leading = !s->term || s->term(&reconcile_term.term, reconcile_term.rv,
                                                 sizeof(reconcile_term.rv), s->term_user) == 0;
    if (ctl && strcmp(req->cluster, s->hub_name) == 0) {
        if (strcmp(req->name, SYNCER_SWEEP_NAME) == 0)
            return sweep_parked(s, ctl, resource);
        if (strcmp(req->name, SYNCER_UNSYNCED_NAME) == 0)
            return tell_unsynced(s, ctl, resource, requeue_after_ms);
        return flush_status(s, resource, req, err ? err : &local);
    }
    syncer_cluster *cl = find_cluster(s, req->cluster);
    if (!cl)
        return KR_RECONCILE_DONE; /* a cluster no longer configured: the sweeper's */
    rctx c = {.s = s,
              .ctl = ctl,
              .res = &s->resources[resource],
              .cl = cl,
              .req = req,
              .after_ms = &after,
              .err = err ? err : &local};
    c.hub = syncer_hub_get(s, resource, req->namespace_, req->name);
    c.copy =
        kr_store_get_by_name(kr_informer_store(cl->copies[resource]), req->namespace_, req->name);
    forget_told_delete(&c);
    settle_lost_delete(&c);
    step st;
    if (!c.hub)
        st = reconcile_orphan(&c);
    else if (kr_managed_unsynced_reason(c.hub))
        st = reconcile_skipped(&c);
    else if (meta_string(c.hub, "deletionTimestamp"))
        st = reconcile_delete(&c);
    else
        st = reconcile_sync(&c);
    if (st == STEP_FAILED && !ctl) /* a controller logs its reconciles' errors itself */
        log_key(&c, KR_LOG_WARN, "reconcile failed: %s", c.err->message);
    kr_reconcile_result r = result_of(&c, st);
    if (requeue_after_ms)
        *requeue_after_ms = after;
    json_decref(c.hub);
    json_decref(c.copy);
    return r;
}

/* ---- life ------------------------------------------------------------------------ */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int syncer_new(const syncer_config *cfg, syncer_t **out, kr_error_t *err)
{
    *out = NULL;
    if (!cfg || !cfg->hub || !cfg->informer || !cfg->n_resources || !cfg->n_clusters)
        return kr_error_set(err, KR_EINVAL,
                            "a syncer needs a hub, resources, clusters and informers");
    const char *hub_name = cfg->hub_name ? cfg->hub_name : "hub";
    for (size_t i = 0; i < cfg->n_clusters; i++)
        if (strcmp(cfg->cluster_names[i], hub_name) == 0) /* the hub has a lane of its own */
            return kr_error_set(err, KR_EINVAL, "a workload cluster cannot be named %s, as the hub",
                                hub_name);
    syncer_t *s = calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    pthread_mutex_init(&s->stats_lock, NULL);
    pthread_mutex_init(&s->pending_lock, NULL);
    s->pending = json_object();
    s->pending_due = json_object();
    s->written = json_object();
    s->lost_deletes = json_object();
    s->deletes_told = json_object();
    s->created = json_object();
    s->created_prune_at = 1024;
    s->placement_warned = json_object();
    s->orphans_told = json_object();
    s->hub_written = json_object();
    s->hub = cfg->hub;
    s->metrics = cfg->metrics;
    s->collector = -1;
    s->term = cfg->term;
    s->term_user = cfg->term_user;
    s->hub_name = dup_or_empty(hub_name);
    s->namespace_ = dup_or_empty(cfg->namespace_);
    s->resync_ms = cfg->resync_ms;
    s->verify_timeout_ms =
        cfg->verify_timeout_ms ? cfg->verify_timeout_ms : DEFAULT_VERIFY_TIMEOUT_MS;
    s->logger = cfg->logger;
    s->clock = cfg->clock;
    s->inventory = cfg->inventory;
    s->outbox = cfg->inventory ? cfg->outbox : NULL;
    s->events = cfg->events;
    s->resources = calloc(cfg->n_resources, sizeof(*s->resources));
    s->clusters = calloc(cfg->n_clusters, sizeof(*s->clusters));
    s->cluster_names = calloc(cfg->n_clusters, sizeof(*s->cluster_names));
    if (!s->hub_name || !s->namespace_ || !s->resources || !s->clusters || !s->cluster_names ||
        !s->pending || !s->pending_due || !s->written || !s->lost_deletes || !s->hub_written ||
        !s->deletes_told || !s->created || !s->placement_warned || !s->orphans_told) {
        syncer_free(s);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t r = 0; r < cfg->n_resources && rc == 0; r++) {
        syncer_resource *res = &s->resources[r];
        s->n_resources++;
        res->syncer = s;
        res->index = r;
        res->group = dup_or_empty(cfg->resources[r].group);
        res->version = dup_or_empty(cfg->resources[r].version);
        res->resource = dup_or_empty(cfg->resources[r].resource);
        if (!res->group || !res->version || !res->resource) {
            rc = kr_error_set(err, KR_ENOMEM, "out of memory");
            break;
        }
        res->gvr = KR_GVR(res->group, res->version, res->resource);
        rc = cfg->informer(s->hub, res->gvr, s->namespace_, NULL, &res->hub, err,
                           cfg->informer_user);
    }
    char selector[128];
    kr_managed_selector(KR_MANAGER_SYNCER, selector, sizeof(selector));
    for (size_t i = 0; i < cfg->n_clusters && rc == 0; i++) {
        syncer_cluster *cl = &s->clusters[i];
        syncer_health_init(&cl->health);
        s->n_clusters++;
        cl->name = dup_or_empty(cfg->cluster_names[i]);
        cl->client = cfg->cluster_clients[i];
        cl->copies = calloc(s->n_resources, sizeof(kr_informer_t *));
        cl->unsynced_told = calloc(s->n_resources, sizeof(char *));
        if (!cl->name || !cl->copies || !cl->unsynced_told) {
            rc = kr_error_set(err, KR_ENOMEM, "out of memory");
            break;
        }
        s->cluster_names[i] = cl->name;
        for (size_t r = 0; r < s->n_resources && rc == 0; r++)
            rc = cfg->informer(cl->client, s->resources[r].gvr, s->namespace_, selector,
                               &cl->copies[r], err, cfg->informer_user);
    }
    if (rc == 0)
        rc = syncer_metrics_init(s, err);
    if (rc != 0) {
        syncer_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void syncer_free(syncer_t *s)
{
    if (!s)
        return;
    syncer_metrics_fini(s);
    for (size_t r = 0; s->resources && r < s->n_resources; r++) {
        free(s->resources[r].group);
        free(s->resources[r].version);
        free(s->resources[r].resource);
    }
    for (size_t i = 0; s->clusters && i < s->n_clusters; i++) {
        syncer_health_destroy(&s->clusters[i].health);
        free(s->clusters[i].name);
        free(s->clusters[i].copies);
        for (size_t r = 0; s->clusters[i].unsynced_told && r < s->n_resources; r++)
            free(s->clusters[i].unsynced_told[r]);
        free(s->clusters[i].unsynced_told);
    }
    free(s->resources);
    free(s->clusters);
    free(s->cluster_names);
    free(s->hub_name);
    free(s->namespace_);
    pthread_mutex_destroy(&s->stats_lock);
    json_decref(s->pending);
    json_decref(s->pending_due);
    json_decref(s->written);
    json_decref(s->lost_deletes);
    json_decref(s->deletes_told);
    json_decref(s->created);
    json_decref(s->placement_warned);
    json_decref(s->orphans_told);
    json_decref(s->hub_written);
    json_decref(s->status_sent);
    pthread_mutex_destroy(&s->pending_lock);
    free(s);
}
