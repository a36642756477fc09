/* kr-submitter — the reconcile: one Runnable's state machine, one status
 * write per step. The placement decision (cluster, attempt, epoch) is
 * committed with the resourceVersion the step read BEFORE the create is
 * sent, so that a 409 (another replica, a newer leader) stops us before we
 * create anything; the copy's name is deterministic (name-attempt), so a
 * create retried by anyone meets AlreadyExists with our source-uid, which
 * is success. Verified means the cluster's informer observed the create's
 * resourceVersion (invariant 3). Reads come from the informer caches;
 * direct GETs only probe a cluster that looks unreachable and confirm that
 * a copy is gone before it is forgotten. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "submitter.h"

/* A step that wrote status and wants to look again at once. */
#define STEP_AGAIN ((kr_reconcile_result)100)
#define RETRY_MS 1000
/* A followed Runnable is looked at again after this long even when nothing
 * woke it (a lost event); its events and its cluster's health transitions
 * are what wake it. */
#define BACKSTOP_MS 600000
/* A reconcile that finds the cache behind our own last write looks again
 * this soon (the write's event normally wakes it first). */
#define CACHE_BEHIND_MS 1000

/* The Runnable the last successful hub write of this thread returned
 * (new): the next step of the same reconcile reads its own write from it
 * rather than waiting for the cache. */
static _Thread_local json_t *last_written;

/* ---- setup and small helpers ------------------------------------------------ */

int submitter_init(submitter *s, kr_error_t *err)
{
    if (!s->failover_after_ms)
        s->failover_after_ms = 60000;
    if (!s->verify_wait_ms)
        s->verify_wait_ms = 30000;
    if (!s->probe_interval_ms)
        s->probe_interval_ms = s->failover_after_ms / 4 ? s->failover_after_ms / 4 : 1;
    if (!s->request_timeout_ms) {
        uint64_t t = s->failover_after_ms / 4;
        s->request_timeout_ms = t < 250 ? 250 : t > 10000 ? 10000 : t;
    }
    if (!s->hub_name)
        s->hub_name = "hub";
    if (!s->admit_grace_ms)
        s->admit_grace_ms = 5000;
    s->expected = json_object();
    s->created = json_object();
    s->released = json_object();
    s->deleted = json_object();
    s->admitting = json_object();
    if (!s->expected || !s->created || !s->released || !s->deleted || !s->admitting ||
        pthread_mutex_init(&s->mu, NULL) != 0) {
        json_decref(s->expected);
        json_decref(s->created);
        json_decref(s->released);
        json_decref(s->deleted);
        json_decref(s->admitting);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    return 0;
}

void submitter_destroy(submitter *s)
{
    pthread_mutex_destroy(&s->mu);
    json_decref(s->expected);
    json_decref(s->created);
    json_decref(s->released);
    json_decref(s->deleted);
    json_decref(s->admitting);
    s->expected = s->created = s->released = s->deleted = s->admitting = NULL;
}

static void key_of(const json_t *obj, char *key, size_t len)
{
    snprintf(key, len, "%s/%s", sub_str(obj, "metadata.namespace"), sub_str(obj, "metadata.name"));
}

/* Remember that attempt `attempt` of `obj` was created with `rv` at
 * `at_ms` and waits for its cluster's cache (see created()). */
static void created_put(submitter *s, const json_t *obj, json_int_t attempt, const char *rv,
                        uint64_t at_ms)
{
    char key[512];
    key_of(obj, key, sizeof(key));
    pthread_mutex_lock(&s->mu);
    json_object_set_new(
        s->created, key,
        json_pack("{s:I, s:s, s:I}", "attempt", attempt, "rv", rv, "at", (json_int_t)at_ms));
    pthread_mutex_unlock(&s->mu);
}

/* Take (forget) what created_put remembered of `obj`: true, `rv` and
 * *at_ms set when it was for `attempt`. */
static bool created_take(submitter *s, const json_t *obj, json_int_t attempt, char *rv, size_t len,
                         uint64_t *at_ms)
{
    char key[512];
    key_of(obj, key, sizeof(key));
    pthread_mutex_lock(&s->mu);
    json_t *e = json_object_get(s->created, key);
    bool found = e && json_integer_value(json_object_get(e, "attempt")) == attempt;
    if (found) {
        snprintf(rv, len, "%s", json_string_value(json_object_get(e, "rv")));
        *at_ms = (uint64_t)json_integer_value(json_object_get(e, "at"));
    }
    if (e)
        json_object_del(s->created, key);
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* Remember that we wrote `obj` (as the hub answered it): {rv, waited}. */
static void expect(submitter *s, const json_t *obj)
{
    char key[512];
    key_of(obj, key, sizeof(key));
    json_t *e =
        json_pack("{s:s, s:b}", "rv", sub_str(obj, "metadata.resourceVersion"), "waited", 0);
    pthread_mutex_lock(&s->mu);
    json_object_set_new(s->expected, key, e);
    pthread_mutex_unlock(&s->mu);
}

/* True when the cached `obj` is older than our last write of it: acting on
 * it would redo a step (and meet a 409); the write's event is then let
 * through to wake it (see submitter_event_wanted). Forgets the write once
 * seen. */
static bool cache_behind(submitter *s, const char *namespace_, const char *name, const json_t *obj)
{
    char key[512];
    snprintf(key, sizeof(key), "%s/%s", namespace_, name);
    pthread_mutex_lock(&s->mu);
    json_t *e = json_object_get(s->expected, key);
    const char *want = json_string_value(json_object_get(e, "rv"));
    bool behind =
        want && kr_resource_version_compare(sub_str(obj, "metadata.resourceVersion"), want) < 0;
    if (behind)
        json_object_set_new(e, "waited", json_true());
    else if (e)
        json_object_del(s->expected, key);
    pthread_mutex_unlock(&s->mu);
    return behind;
}

void submitter_admit_begin(submitter *s, const char *namespace_, const char *name)
{
    char key[512];
    snprintf(key, sizeof(key), "%s/%s", namespace_, name);
    pthread_mutex_lock(&s->mu);
    json_object_set_new(s->admitting, key, json_true());
    pthread_mutex_unlock(&s->mu);
}

void submitter_admit_end(submitter *s, const char *namespace_, const char *name, bool written)
{
    char key[512];
    snprintf(key, sizeof(key), "%s/%s", namespace_, name);
    pthread_mutex_lock(&s->mu);
    json_object_del(s->admitting, key);
    pthread_mutex_unlock(&s->mu);
    if (!written && s->wake)
        s->wake(namespace_, name, s->wake_user);
}

/* The API of this process is admitting namespace_/name. */
static bool admitting(submitter *s, const char *namespace_, const char *name)
{
    char key[512];
    snprintf(key, sizeof(key), "%s/%s", namespace_, name);
    pthread_mutex_lock(&s->mu);
    bool in = json_object_get(s->admitting, key) != NULL;
    pthread_mutex_unlock(&s->mu);
    return in;
}

bool submitter_event_wanted(const json_t *old_obj, const json_t *new_obj, void *user)
{
    submitter *s = user;
    if (!new_obj)
        return true;
    char key[512];
    key_of(new_obj, key, sizeof(key));
    if (!old_obj) { /* a creation (or a deletion): dropped while the API admits it */
        if (*sub_str(new_obj, "status.phase") || *sub_str(new_obj, "metadata.deletionTimestamp"))
            return true;
        pthread_mutex_lock(&s->mu);
        bool admitting = json_object_get(s->admitting, key) != NULL;
        pthread_mutex_unlock(&s->mu);
        return !admitting;
    }
    pthread_mutex_lock(&s->mu);
    json_t *e = json_object_get(s->expected, key);
    bool echo = e && !json_is_true(json_object_get(e, "waited")) &&
                strcmp(sub_str(e, "rv"), sub_str(new_obj, "metadata.resourceVersion")) == 0;
    if (echo) /* the cache has our write: nothing left to wait for */
        json_object_del(s->expected, key);
    pthread_mutex_unlock(&s->mu);
    return !echo;
}

long submitter_cluster_find(const submitter *s, const char *name)
{
    for (size_t i = 0; i < s->n_clusters; i++) {
        if (strcmp(s->clusters[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

/* The Event a transition is on the Runnable (`kubectl describe`), if
 * any: not the submission itself, nor the verification between the
 * dispatch and the end. */
static const struct {
    const char *transition, *reason;
    kr_event_type type;
} event_of[] = {
    {"APPROVED", "Approved", KR_EVENT_NORMAL},     {"REJECTED", "Rejected", KR_EVENT_NORMAL},
    {"DISPATCHED", "Dispatched", KR_EVENT_NORMAL}, {"FAILED_OVER", "FailedOver", KR_EVENT_WARNING},
    {"SUCCEEDED", "Succeeded", KR_EVENT_NORMAL},   {"FAILED", "Failed", KR_EVENT_WARNING},
    {"CANCELLED", "Cancelled", KR_EVENT_NORMAL},   {"CONFLICT", "Conflict", KR_EVENT_WARNING},
};

static void runnable_event(submitter *s, const sub_event *ev)
{
    size_t i = 0;
    while (i < sizeof(event_of) / sizeof(event_of[0]) &&
           strcmp(event_of[i].transition, ev->event) != 0)
        i++;
    if (!s->events || i == sizeof(event_of) / sizeof(event_of[0]))
        return;
    json_t *obj = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "namespace", ev->namespace_, "name",
                            ev->name, "uid", ev->uid ? ev->uid : "");
    kr_event e = {.object = obj,
                  .api_version = SUB_API_VERSION,
                  .kind = "Runnable",
                  .type = event_of[i].type,
                  .reason = event_of[i].reason};
    /* "cluster dc1, by alice, <outcome>": the parts a transition has */
    char msg[1024] = "";
    size_t at = 0;
    if (ev->cluster[0])
        at += (size_t)snprintf(msg + at, sizeof(msg) - at, "cluster %s", ev->cluster);
    if (at < sizeof(msg) && ev->actor[0] && strcmp(ev->actor, SUB_PROGRAM) != 0)
        at += (size_t)snprintf(msg + at, sizeof(msg) - at, "%sby %s", at ? ", " : "", ev->actor);
    if (at < sizeof(msg) && ev->outcome[0])
        snprintf(msg + at, sizeof(msg) - at, "%s%s", at ? ", " : "", ev->outcome);
    int rc = obj ? kr_event_record(s->events, &e, "%s", msg) : KR_ENOMEM;
    if (rc != 0)
        kr_log(&s->logger, KR_LOG_DEBUG, SUB_PROGRAM, "no event about %s/%s: %s", ev->namespace_,
               ev->name, kr_strerror(rc));
    json_decref(obj);
}

void submitter_approvals_voided(submitter *s, const json_t *obj, const char *message)
{
    if (!s->events)
        return;
    kr_event e = {.object = obj,
                  .api_version = SUB_API_VERSION,
                  .kind = "Runnable",
                  .type = KR_EVENT_WARNING,
                  .reason = "ApprovalsVoided"};
    int rc = kr_event_record(s->events, &e, "%s", message);
    if (rc != 0)
        kr_log(&s->logger, KR_LOG_DEBUG, SUB_PROGRAM, "no event about %s/%s: %s",
               sub_str(obj, "metadata.namespace"), sub_str(obj, "metadata.name"), kr_strerror(rc));
}

void submitter_decision_key(const char *uid, const char *event, const char *user,
                            const char *spec_hash, char *out, size_t size)
{
    snprintf(out, size, "%s/%s/%s/%s", uid, event, user, spec_hash);
}

void submitter_submission_key(const char *uid, char *out, size_t size)
{
    snprintf(out, size, "%s/SUBMITTED", uid);
}

static int record_transition(submitter *s, const sub_event *ev, bool event)
{
    kr_log_field f[] = {{"event", ev->event},     {"namespace", ev->namespace_},
                        {"name", ev->name},       {"actor", ev->actor},
                        {"cluster", ev->cluster}, {"resourceVersion", ev->resource_version},
                        {"outcome", ev->outcome}};
    kr_log_fields(&s->logger, KR_LOG_INFO, SUB_PROGRAM, f, sizeof(f) / sizeof(f[0]), "runnable %s",
                  ev->event);
    int rc = s->record ? s->record(ev, s->record_user) : 0;
    if (rc != 0)
        kr_log(&s->logger, KR_LOG_WARN, SUB_PROGRAM, "%s/%s: %s not recorded: %s", ev->namespace_,
               ev->name, ev->event, kr_strerror(rc));
    if (event)
        runnable_event(s, ev);
    return rc;
}

int submitter_record(submitter *s, const sub_event *ev)
{
    return record_transition(s, ev, true);
}

int submitter_record_behalf(submitter *s, const sub_event *ev)
{
    return record_transition(s, ev, false);
}

static void record(submitter *s, const json_t *obj, const char *event, const char *cluster,
                   const char *rv, const char *outcome)
{
    sub_event ev = {event,
                    sub_str(obj, "metadata.namespace"),
                    sub_str(obj, "metadata.name"),
                    sub_str(obj, "metadata.uid"),
                    SUB_PROGRAM,
                    cluster ? cluster : "",
                    rv ? rv : "",
                    outcome ? outcome : "",
                    NULL};
    submitter_record(s, &ev);
}

/* The Runnable's resourceVersion as this reconcile's last hub write left
 * it ("" before any): what a record of a transition that write made
 * names, with the hub. */
static const char *written_rv(void)
{
    return last_written ? sub_str(last_written, "metadata.resourceVersion") : "";
}

static uint64_t now_ms(const submitter *s)
{
    if (s->clock.now_ns)
        return (uint64_t)(s->clock.now_ns(s->clock.user) / 1000000);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Failures after which the same request may succeed later: the cluster is
 * busy or out of reach (429, 5xx, timeouts, refused connections). */
static bool transient(int rc)
{
    return rc == KR_ETHROTTLED || rc == KR_EUNAVAILABLE || rc == KR_ETIMEDOUT ||
           rc == KR_ECONNECT || rc == KR_ETLS || rc == KR_EHTTP || rc == KR_ECANCELED;
}

/* Whether a failed request got an answer from the server (a Status):
 * local failures (memory, arguments, shutdown) say nothing of the cluster. */
static bool answered(int rc)
{
    return rc == 0 || !(failover_unreachable_rc(rc) || rc == KR_ENOMEM || rc == KR_EINVAL ||
                        rc == KR_ECANCELED || rc == KR_ESHUTDOWN || rc == KR_ESTATE);
}

/* Whether Runnable `obj` has something in cluster `cluster`: the attempt
 * it follows, or a copy of another attempt not yet deleted or stopped (a
 * refused create made none). */
static bool placed_on(const json_t *obj, const char *cluster)
{
    if (strcmp(sub_str(obj, "status.cluster"), cluster) == 0)
        return true;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "attempts"), i, a)
    {
        if (strcmp(sub_str(a, "cluster"), cluster) == 0 &&
            !failover_attempt_over(sub_str(a, "state")))
            return true;
    }
    return false;
}

/* Wake every Runnable placed on cluster i (one walk of the Runnable cache
 * per health transition of the cluster, never per object and period). */
static void wake_cluster(submitter *s, size_t i)
{
    json_t *all = NULL;
    if (!s->wake || !s->runnables || kr_store_list(kr_informer_store(s->runnables), &all, NULL))
        return;
    size_t n = 0, j;
    json_t *obj;
    json_array_foreach(all, j, obj)
    {
        if (!placed_on(obj, s->clusters[i].name))
            continue;
        s->wake(sub_str(obj, "metadata.namespace"), sub_str(obj, "metadata.name"), s->wake_user);
        n++;
    }
    json_decref(all);
    kr_log(&s->logger, KR_LOG_DEBUG, SUB_PROGRAM, "cluster %s: health changed, %zu runnables woken",
           s->clusters[i].name, n);
}

/* The health state of cluster i (under mu): 0 answering, 1 failing,
 * 2 failing for failover_after_ms: a request sent that long after the
 * first failure failed too (its not-started runnables fail over). */
static int health_state(const submitter *s, size_t i)
{
    const failover_health *h = &s->clusters[i].health;
    if (!h->down_since_ms)
        return 0;
    return h->failed_sent_ms >= h->down_since_ms &&
                   h->failed_sent_ms - h->down_since_ms >= s->failover_after_ms
               ? 2
               : 1;
}

/* Cluster i failing, its failover delay over, no failed request sent
 * since, and no probe claimed since (under mu): one probe goes now, however
 * recent the last answer (a request sent before the delay's end may fail
 * after it), so that the verdict is never one from before the delay ended. */
static bool deadline_unconfirmed(const submitter *s, size_t i, uint64_t now)
{
    const failover_health *h = &s->clusters[i].health;
    uint64_t deadline = h->down_since_ms + s->failover_after_ms;
    return h->down_since_ms && now >= deadline && h->failed_sent_ms < deadline &&
           h->claimed_ms < deadline;
}

/* Cluster i's state moved since it was last seen: its runnables are woken
 * (outside mu) to act on the verdict. */
static void health_check(submitter *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    int state = health_state(s, i);
    bool moved = state != s->clusters[i].woken_state;
    s->clusters[i].woken_state = state;
    pthread_mutex_unlock(&s->mu);
    if (moved)
        wake_cluster(s, i);
}

/* The outcome `rc` of a request to cluster i sent at `sent_ms`. */
static void health_report(submitter *s, size_t i, uint64_t sent_ms, int rc)
{
    bool down = failover_unreachable_rc(rc);
    if (!down && !answered(rc))
        return;
    pthread_mutex_lock(&s->mu);
    failover_health_report(&s->clusters[i].health, sent_ms, now_ms(s), !down);
    pthread_mutex_unlock(&s->mu);
    health_check(s, i);
}

/* Since when cluster i has been failing (0: answering). */
static uint64_t health_since(submitter *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    uint64_t since = s->clusters[i].health.down_since_ms;
    pthread_mutex_unlock(&s->mu);
    return since;
}

/* The send of cluster i's latest failed request: known unreachable until then. */
static uint64_t health_known_until(submitter *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    uint64_t until = s->clusters[i].health.failed_sent_ms;
    pthread_mutex_unlock(&s->mu);
    return until;
}

/* True for the one caller that probes cluster i now (nobody asked it for
 * probe_interval_ms); the others go by its verdict. */
static bool probe_claim(submitter *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    uint64_t now = now_ms(s);
    bool mine = failover_probe_claim(&s->clusters[i].health, now,
                                     deadline_unconfirmed(s, i, now) ? 0 : s->probe_interval_ms);
    pthread_mutex_unlock(&s->mu);
    return mine;
}

static kr_client_t *fast_client(const submitter *s, size_t i)
{
    return s->clusters[i].fast ? s->clusters[i].fast : s->clusters[i].client;
}

/* One request to cluster i: never retried here (the requeue is the
 * retry), bounded by request_timeout_ms; its outcome feeds the health. */
static int cluster_do(submitter *s, size_t i, kr_request *req, json_t **out, kr_error_t *err)
{
    req->timeout_ms = (int)s->request_timeout_ms;
    uint64_t sent = now_ms(s);
    int rc = kr_client_do_sync(fast_client(s, i), req, out, err);
    health_report(s, i, sent, rc);
    return rc;
}

uint64_t submitter_probe_cluster(submitter *s, size_t i)
{
    if (probe_claim(s, i)) {
        /* a Job nobody makes (a copy's name ends in -<attempt>), within
         * the RBAC the program has (deploy/workload): any answer, the 404
         * included, proves the cluster reachable */
        kr_request req = {
            .verb = KR_VERB_GET,
            .ref = {KR_GVR("batch", "v1", "jobs"), "default", SUB_PROGRAM "-probe", NULL}};
        cluster_do(s, i, &req, NULL, NULL);
    }
    health_check(s, i);
    pthread_mutex_lock(&s->mu);
    uint64_t now = now_ms(s), probed = s->clusters[i].health.probed_ms;
    uint64_t since = s->clusters[i].health.down_since_ms;
    int state = s->clusters[i].woken_state;
    pthread_mutex_unlock(&s->mu);
    uint64_t next = probed + s->probe_interval_ms > now ? probed + s->probe_interval_ms - now : 1;
    if (state == 1 && since + s->failover_after_ms > now &&
        since + s->failover_after_ms - now < next)
        next = since + s->failover_after_ms - now; /* the failover deadline */
    return next;
}

/* The workload copy's name for `attempt` (`len`: SUB_COPY_NAME_LEN, room
 * for any object name and attempt: never cut short). */
static void copy_name(const json_t *obj, json_int_t attempt, char *out, size_t len)
{
    snprintf(out, len, "%s-%lld", sub_str(obj, "metadata.name"), (long long)attempt);
}

bool submitter_owner_key(const json_t *copy, char *out, size_t len)
{
    if (strcmp(sub_label(copy, SUB_LABEL_MANAGED_BY), SUB_PROGRAM) != 0)
        return false;
    const char *name = sub_str(copy, "metadata.name");
    const char *dash = strrchr(name, '-');
    if (!dash || dash == name || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
        return false;
    int n = snprintf(out, len, "%s/%.*s", sub_str(copy, "metadata.namespace"), (int)(dash - name),
                     name);
    return n > 0 && (size_t)n < len;
}

/* The resource of the Runnable's template in cluster i (discovery is
 * cached: only a failure to reach the cluster says something of it). */
static int template_resource(submitter *s, size_t i, const json_t *obj, kr_resource_info *info,
                             kr_error_t *err)
{
    const json_t *t = json_object_get(json_object_get(obj, "spec"), "template");
    uint64_t sent = now_ms(s);
    int rc = kr_client_resource_for_kind(fast_client(s, i), sub_str(t, "apiVersion"),
                                         sub_str(t, "kind"), info, err);
    if (failover_unreachable_rc(rc))
        health_report(s, i, sent, rc);
    return rc;
}

/* The apiVersion and kind of the copy of `attempt` (borrowed from obj):
 * those its entry in status.attempts recorded when it was decided, never
 * the template's as it is now (an edit of its kind on the hub must not
 * lose a copy made of the kind before); the template's for an entry
 * written before they were recorded. */
static void attempt_kind(const json_t *obj, json_int_t attempt, const char **api_version,
                         const char **kind)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "attempts"), i, a)
    {
        if (sub_int(a, "attempt") == attempt && *sub_str(a, "apiVersion") && *sub_str(a, "kind")) {
            *api_version = sub_str(a, "apiVersion");
            *kind = sub_str(a, "kind");
            return;
        }
    }
    *api_version = sub_str(obj, "spec.template.apiVersion");
    *kind = sub_str(obj, "spec.template.kind");
}

/* The resource of the copy of `attempt` in cluster i (attempt_kind): what
 * every look at, or request about, that copy goes to. */
static int copy_resource(submitter *s, size_t i, const json_t *obj, json_int_t attempt,
                         kr_resource_info *info, kr_error_t *err)
{
    const char *api_version, *kind;
    attempt_kind(obj, attempt, &api_version, &kind);
    uint64_t sent = now_ms(s);
    int rc = kr_client_resource_for_kind(fast_client(s, i), api_version, kind, info, err);
    if (failover_unreachable_rc(rc))
        health_report(s, i, sent, rc);
    return rc;
}

/* True when the template's apiVersion and kind are no longer those
 * recorded for `attempt`: a copy of it would be another object than the
 * one that attempt may have made. */
static bool template_kind_changed(const json_t *obj, json_int_t attempt)
{
    const char *api_version, *kind;
    attempt_kind(obj, attempt, &api_version, &kind);
    return strcmp(api_version, sub_str(obj, "spec.template.apiVersion")) != 0 ||
           strcmp(kind, sub_str(obj, "spec.template.kind")) != 0;
}

/* The informer of our copies of this resource in cluster i (the caller's:
 * made on first use, shared, started). */
static int copy_informer(submitter *s, size_t i, const kr_resource_info *info, kr_informer_t **inf,
                         kr_error_t *err)
{
    kr_gvr gvr = {info->group, info->version, info->resource};
    return s->informer_for(i, gvr, inf, err, s->informer_for_user);
}

/* ---- status writes ----------------------------------------------------------------- */

/* A copy of `obj` to edit; its status object (created when absent). Only
 * the status is copied deep: metadata and spec are shared with the cache's
 * object, which nothing edits (a status write sends them as they are). */
static json_t *edit(const json_t *obj, json_t **status)
{
    json_t *copy = json_copy((json_t *)obj);
    if (!copy)
        return NULL;
    const json_t *given = json_object_get(obj, "status");
    *status = json_is_object(given) ? json_deep_copy(given) : json_object();
    if (!*status || json_object_set_new(copy, "status", *status) != 0) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

/* What a write to the hub (`rc`, `out` stolen) means for the step: 409 or
 * 404, someone else wrote first (another replica, a newer leader, the
 * API): re-read and decide again, never act on the stale view; success:
 * the next step goes on from the object written (never waiting for the
 * cache), and later reconciles wait for the cache to catch up with it. */
static kr_reconcile_result written(submitter *s, int rc, json_t *out, const kr_error_t *werr,
                                   kr_error_t *err)
{
    if (rc == KR_ECONFLICT || rc == KR_ENOTFOUND) {
        kr_log(&s->logger, KR_LOG_DEBUG, SUB_PROGRAM, "hub write refused: %s", werr->message);
        return KR_RECONCILE_REQUEUE;
    }
    if (rc != 0) {
        if (err)
            *err = *werr;
        return KR_RECONCILE_ERROR;
    }
    expect(s, out);
    json_decref(last_written);
    last_written = out;
    return STEP_AGAIN;
}

/* Write `copy`'s status with the resourceVersion it was read at (stolen). */
static kr_reconcile_result commit(submitter *s, json_t *copy, kr_error_t *err)
{
    if (!copy)
        return kr_error_set(err, KR_ENOMEM, "out of memory"), KR_RECONCILE_ERROR;
    sub_status_settle(json_object_get(copy, "status"));
    json_t *out = NULL;
    kr_error_t werr = {0};
    int rc = kr_client_update_status(s->hub, SUB_RUNNABLES, sub_str(copy, "metadata.namespace"),
                                     copy, NULL, &out, &werr);
    json_decref(copy);
    return written(s, rc, out, &werr, err);
}

/* Finalizer writes go to the object itself (PUT with its resourceVersion). */
static kr_reconcile_result set_finalizer(submitter *s, const json_t *obj, bool present,
                                         kr_error_t *err)
{
    json_t *copy = json_deep_copy(obj);
    json_t *md = json_object_get(copy, "metadata");
    json_t *fins = json_object_get(md, "finalizers");
    json_t *kept = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(fins, i, f)
    {
        if (strcmp(json_string_value(f) ? json_string_value(f) : "", SUB_FINALIZER) != 0)
            json_array_append(kept, f);
    }
    if (present)
        json_array_append_new(kept, json_string(SUB_FINALIZER));
    json_object_set_new(md, "finalizers", kept);
    json_t *out = NULL;
    kr_error_t werr = {0};
    int rc = kr_client_update(s->hub, SUB_RUNNABLES, sub_str(obj, "metadata.namespace"), copy, NULL,
                              &out, &werr);
    json_decref(copy);
    kr_reconcile_result r = written(s, rc, out, &werr, err);
    /* without our finalizer the object may be gone: nothing to look at */
    return r == STEP_AGAIN && !present ? KR_RECONCILE_DONE : r;
}

static bool has_finalizer(const json_t *obj)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "finalizers"), i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), SUB_FINALIZER) == 0)
            return true;
    }
    return false;
}

/* Fail the runnable. The record names the cluster of its attempt with
 * `rv`, a resourceVersion of that cluster that shows why (the copy's
 * absence: CopyDeleted); "" when no copy of ours is there to name (a
 * create the cluster refused, a cluster not configured). Before any
 * attempt it names the hub and the failure's write. */
static kr_reconcile_result fail_runnable(submitter *s, const json_t *obj, const char *reason,
                                         const char *message, const char *rv, kr_error_t *err)
{
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (copy) {
        json_object_set_new(status, "phase", json_string(SUB_PHASE_FAILED));
        sub_set_condition(status, "Failed", true, reason, message);
    }
    kr_reconcile_result r = commit(s, copy, err);
    const char *cluster = sub_str(obj, "status.cluster");
    if (r == STEP_AGAIN)
        record(s, obj, "FAILED", cluster, *cluster ? rv : written_rv(), message);
    return r;
}

/* The runnable is placed in `cluster` (a copy of it may run there), which
 * this replica is not configured with: a --cluster left out. Where its
 * copy is and how it does are not for this replica to say, nor to end: it
 * waits, an error in the log each time the controller tries again, for a
 * replica that knows the cluster, and keeps its finalizer meanwhile. */
static kr_reconcile_result not_configured(const json_t *obj, const char *cluster, kr_error_t *err)
{
    kr_error_set(err, KR_ESTATE,
                 "%s/%s is placed in cluster %s, which is not configured (no --cluster %s=...): "
                 "it waits for a replica that knows the cluster",
                 sub_str(obj, "metadata.namespace"), sub_str(obj, "metadata.name"), cluster,
                 cluster);
    return KR_RECONCILE_ERROR;
}

/* The attempts entry for `attempt` in `status` (borrowed), or NULL. */
static json_t *attempt_entry(json_t *status, json_int_t attempt)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(status, "attempts"), i, a)
    {
        if (json_integer_value(json_object_get(a, "attempt")) == attempt)
            return a;
    }
    return NULL;
}

/* ---- decisions ------------------------------------------------------------------------ */

/* status.verified turned false: a Verified condition that said True (of
 * an earlier attempt) says False now, so that `kubectl wait
 * --for=condition=Verified` never reports an attempt no cache observed. */
static void unverified(json_t *status, const char *message)
{
    sub_condition_clear(status, "Verified", "NotObserved", message);
}

/* The decision `attempt` of Runnable `obj` goes to `cluster` under
 * `epoch`, in `status` (of a copy about to be written), with the
 * apiVersion and kind of the copy it makes (the template's now): what the
 * copy is looked up as for as long as it may exist. 0 or KR_ENOMEM. */
static bool held_kind(const json_t *obj, const char *api_version, const char *kind);

static int decision_fields(json_t *status, const json_t *obj, json_int_t attempt,
                           const char *cluster, uint64_t epoch)
{
    json_t *attempts = json_object_get(status, "attempts");
    if (!json_is_array(attempts)) {
        attempts = json_array();
        if (json_object_set_new(status, "attempts", attempts) != 0)
            return KR_ENOMEM;
    }
    int rc = json_array_append_new(
        attempts, json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:b}", "attempt", attempt, "cluster",
                            cluster, "epoch", (json_int_t)epoch, "state", ATTEMPT_DECIDED,
                            "apiVersion", sub_str(obj, "spec.template.apiVersion"), "kind",
                            sub_str(obj, "spec.template.kind"), "held",
                            held_kind(obj, sub_str(obj, "spec.template.apiVersion"),
                                      sub_str(obj, "spec.template.kind"))));
    rc |= json_object_set_new(status, "phase", json_string(SUB_PHASE_DISPATCHING));
    rc |= json_object_set_new(status, "cluster", json_string(cluster));
    rc |= json_object_set_new(status, "attempt", json_integer(attempt));
    rc |= json_object_set_new(status, "epoch", json_integer((json_int_t)epoch));
    rc |= json_object_set_new(status, "dispatchedResourceVersion", json_string(""));
    rc |= json_object_set_new(status, "verified", json_false());
    unverified(status, "a new attempt is decided: its create is not observed yet");
    return rc ? KR_ENOMEM : 0;
}

static size_t order_of(submitter *s, const json_t *obj, const char **order, size_t max);
static json_t *workload_copy(submitter *s, const json_t *obj, json_int_t attempt);

bool submitter_first_decision(submitter *s, const json_t *runnable, json_t *status)
{
    const char *order[64];
    uint64_t epoch = 0;
    if (sub_int(runnable, "status.attempt") > 0 || json_object_get(status, "attempts") ||
        order_of(s, runnable, order, 64) == 0 || (s->epoch && s->epoch(&epoch, s->epoch_user) != 0))
        return false;
    return decision_fields(status, runnable, 1, order[0], epoch) == 0;
}

/* The number of a new attempt: one no attempt has had (status.attempt may
 * name an earlier one again, followed after a refused failover). */
static json_int_t next_attempt(const json_t *obj)
{
    json_int_t max = sub_int(obj, "status.attempt");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "attempts"), i, a)
    {
        json_int_t n = sub_int(a, "attempt");
        if (n > max)
            max = n;
    }
    return max + 1;
}

/* Commit the decision: `attempt` goes to `cluster` under the current epoch. */
static kr_reconcile_result decide(submitter *s, const json_t *obj, json_int_t attempt,
                                  const char *cluster, const char *from, kr_error_t *err)
{
    uint64_t epoch = 0;
    if (s->epoch && s->epoch(&epoch, s->epoch_user) != 0) {
        kr_error_set(err, KR_ESTATE, "not leading: no decision");
        return KR_RECONCILE_ERROR;
    }
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (copy && decision_fields(status, obj, attempt, cluster, epoch) != 0) {
        json_decref(copy);
        copy = NULL;
    }
    kr_reconcile_result r = commit(s, copy, err);
    if (r == STEP_AGAIN && from) {
        char why[256];
        snprintf(why, sizeof(why), "%s unreachable past the failover delay: attempt %lld", from,
                 (long long)attempt);
        record(s, obj, "FAILED_OVER", cluster, "", why);
    }
    return r;
}

/* The leader's term when this thread's reconcile began (still_leading). */
static _Thread_local struct {
    bool leading;
    uint64_t epoch;
} reconcile_term;

/* Only the leader sends what a decision calls for. The decision itself is
 * fenced by the hub (a resourceVersion precondition), the requests that
 * follow it are not: a replica paused past its Lease between the decision
 * and the create would still send the create when it resumes. So the
 * elector is asked again right before each create and release, and the
 * term must be the one the reconcile began in (a replica that lost the
 * Lease and won it back during a pause would act on a view from before
 * it; its next reconcile starts afresh). A request that slips in between
 * the question and the wire is met by stragglers(), which looks for
 * copies of finished attempts in the caches. 0, or KR_ESTATE. */
static int still_leading(submitter *s, kr_error_t *err)
{
    uint64_t epoch = 0;
    if (!s->epoch)
        return 0;
    if (!reconcile_term.leading || s->epoch(&epoch, s->epoch_user) != 0)
        return kr_error_set(err, KR_ESTATE, "not leading: nothing sent");
    if (epoch != reconcile_term.epoch)
        return kr_error_set(err, KR_ESTATE, "a new term since this reconcile began: nothing sent");
    return 0;
}

/* The order of the Runnable's clusters (pointers into s->clusters). */
static size_t order_of(submitter *s, const json_t *obj, const char **order, size_t max)
{
    const char *names[64];
    size_t n = s->n_clusters < 64 ? s->n_clusters : 64;
    for (size_t i = 0; i < n; i++)
        names[i] = s->clusters[i].name;
    return failover_order(obj, names, n, order, max);
}

int submitter_dry_run(submitter *s, const json_t *runnable, char *cluster, size_t len,
                      kr_error_t *err)
{
    *cluster = '\0';
    const char *order[64];
    size_t n = order_of(s, runnable, order, 64);
    /* the copy as attempt 1 would be written: a Runnable whose name the hub
     * will generate gets a stand-in of the same length bound */
    json_t *named = json_incref((json_t *)runnable);
    if (!*sub_str(runnable, "metadata.name")) {
        /* shallow: only the metadata gets the stand-in */
        json_decref(named);
        named = json_copy((json_t *)runnable);
        json_t *md = named ? json_copy(json_object_get(runnable, "metadata")) : NULL;
        char stand_in[SUB_MAX_NAME + 1];
        snprintf(stand_in, sizeof(stand_in), "%.*sdryrun", SUB_MAX_NAME - 11,
                 sub_str(runnable, "metadata.generateName"));
        if (!md || json_object_set_new(md, "name", json_string(stand_in)) != 0 ||
            json_object_set_new(named, "metadata", md) != 0) {
            json_decref(named);
            return kr_error_set(err, KR_ENOMEM, "out of memory");
        }
    }
    json_t *copy = workload_copy(s, named, 1);
    json_decref(named);
    if (!copy)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    int verdict = 0;
    for (size_t k = 0; k < n; k++) {
        long i = submitter_cluster_find(s, order[k]);
        if (i < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        bool failing = health_state(s, (size_t)i) != 0;
        pthread_mutex_unlock(&s->mu);
        kr_resource_info info;
        kr_error_t e = {0};
        if (failing || template_resource(s, (size_t)i, runnable, &info, &e) != 0)
            continue; /* no verdict here: the next cluster, if any */
        kr_write_opts wo = {.version = KR_WRITE_OPTS_VERSION, .dry_run = true};
        kr_request req = {.verb = KR_VERB_CREATE,
                          .ref = {{info.group, info.version, info.resource},
                                  sub_str(runnable, "metadata.namespace"),
                                  NULL,
                                  NULL},
                          .body = copy,
                          .write = &wo};
        int rc = cluster_do(s, (size_t)i, &req, NULL, &e);
        if (failover_unreachable_rc(rc))
            continue;
        /* a refusal the create would meet as well, and fail the
         * runnable for (CreateFailed), is the verdict: of the object
         * itself (422, or 400: a value its Go type cannot hold), of our
         * rights there (403: the kind or namespace is not ours to write),
         * or of its namespace (404: none of that name). A copy of that
         * name (409) is the dispatch's to meet. */
        if (rc == KR_EINVALIDOBJ || (rc == KR_EINVAL && e.http_code == 400) ||
            rc == KR_EFORBIDDEN || rc == KR_ENOTFOUND) {
            snprintf(cluster, len, "%s", order[k]);
            verdict = kr_error_set(err, KR_EINVALIDOBJ, "%s", e.message);
        }
        break;
    }
    json_decref(copy);
    return verdict;
}

/* How long after the failover deadline a Runnable waiting on a failing
 * cluster looks again by itself (the probe's wake normally comes first). */
static uint64_t deadline_margin_ms(const submitter *s)
{
    return s->probe_interval_ms < RETRY_MS ? s->probe_interval_ms : RETRY_MS;
}

/* Cluster `idx` did not answer (`asked`: this reconcile's own request
 * failed; else it went by the cluster's health verdict): fail over when
 * due. Otherwise, while the cluster is failing, the probe thread wakes the
 * Runnable on each health transition (failing past --failover-after,
 * answering again), so it is not polled: a failed request of its own is
 * retried with a backoff that doubles with the outage's age (1 s, 2 s,
 * 4 s...), anything else waits for the wake; both come back by themselves
 * at the failover deadline plus a margin at the latest. A cluster that
 * answered (429) or nobody to wake (no probe thread): again in a second. */
static kr_reconcile_result unreachable(submitter *s, const json_t *obj, size_t idx, bool started,
                                       bool asked, uint64_t *after, kr_error_t *err)
{
    uint64_t since = health_since(s, idx), now = now_ms(s);
    const char *order[64];
    size_t n = order_of(s, obj, order, 64);
    const char *cluster = s->clusters[idx].name;
    if (failover_due(obj, started, since, health_known_until(s, idx), s->failover_after_ms)) {
        const char *next = failover_next(obj, order, n, cluster);
        if (next)
            return decide(s, obj, next_attempt(obj), next, cluster, err);
    }
    uint64_t deadline = since + s->failover_after_ms;
    uint64_t wait = RETRY_MS;
    if (since && s->wake) {
        /* past the deadline without a failover (started, Never, no next
         * cluster): the wake of its return, a backstop of one delay */
        wait = deadline > now ? deadline - now + deadline_margin_ms(s) : s->failover_after_ms;
        uint64_t age = now > since ? now - since : 0;
        if (asked && (age < RETRY_MS ? RETRY_MS : age) < wait)
            wait = age < RETRY_MS ? RETRY_MS : age;
    } else if (since && deadline > now && deadline - now < wait) {
        wait = deadline - now;
    }
    *after = wait ? wait : 1;
    return KR_RECONCILE_REQUEUE_AFTER;
}

/* ---- the copy in a workload cluster ---------------------------------------------------- */

/* A batch/v1 Job is created suspended and released (spec.suspend=false)
 * only once it is verified as the attempt the Runnable follows: a copy
 * whose create reached a cluster that then went away never starts there,
 * so when the cluster returns the copy is deleted, not run twice. A
 * template that asks for suspend itself is left as it is. Whether a copy
 * of `api_version`/`kind` made of `obj`'s template is (or was) held. */
static bool held_kind(const json_t *obj, const char *api_version, const char *kind)
{
    if (strcmp(api_version, "batch/v1") != 0 || strcmp(kind, "Job") != 0)
        return false;
    /* only a template still of the copy's kind says what the copy asked;
     * another one cannot say whether its author suspended it: not ours to
     * release (an attempt records whether it held its copy, below) */
    const json_t *t = json_object_get(json_object_get(obj, "spec"), "template");
    return strcmp(sub_str(t, "apiVersion"), api_version) == 0 &&
           strcmp(sub_str(t, "kind"), kind) == 0 &&
           !json_is_true(json_object_get(json_object_get(t, "spec"), "suspend"));
}

/* Whether the copy of `attempt` is one the submitter held (created
 * suspended to be released once verified): as its status.attempts entry
 * recorded when it was decided ("held"), else, for an entry written
 * before that, as the template says if still of the copy's kind. */
static bool attempt_held(const json_t *obj, json_int_t attempt, const char *api_version,
                         const char *kind)
{
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "attempts"), i, a)
    {
        const json_t *held = json_object_get(a, "held");
        if (sub_int(a, "attempt") == attempt && json_is_boolean(held))
            return json_is_true(held);
    }
    return held_kind(obj, api_version, kind);
}

static json_t *workload_copy(submitter *s, const json_t *obj, json_int_t attempt)
{
    const json_t *t = json_object_get(json_object_get(obj, "spec"), "template");
    json_t *body = json_deep_copy(t);
    if (!body)
        return NULL;
    json_t *md = json_object_get(body, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(body, "metadata", md);
    }
    char name[SUB_COPY_NAME_LEN];
    copy_name(obj, attempt, name, sizeof(name));
    json_object_set_new(md, "name", json_string(name));
    json_object_set_new(md, "namespace", json_string(sub_str(obj, "metadata.namespace")));
    json_object_del(md, "generateName");
    json_t *labels = json_object_get(md, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(md, "labels", labels);
    }
    json_object_set_new(labels, SUB_LABEL_MANAGED_BY, json_string(SUB_PROGRAM));
    json_object_set_new(labels, SUB_LABEL_SOURCE_UID, json_string(sub_str(obj, "metadata.uid")));
    json_object_set_new(labels, SUB_LABEL_SOURCE_CLUSTER, json_string(s->hub_name));
    if (held_kind(obj, sub_str(t, "apiVersion"), sub_str(t, "kind"))) {
        json_t *spec = json_object_get(body, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(body, "spec", spec);
        }
        json_object_set_new(spec, "suspend", json_true());
    }
    return body;
}

static bool ours(const json_t *obj, const json_t *copy)
{
    return strcmp(sub_label(copy, SUB_LABEL_SOURCE_UID), sub_str(obj, "metadata.uid")) == 0;
}

/* Whether the cache has observed the copy of `attempt` whose create
 * returned `rv`: past it, and holding the copy. A cluster made anew
 * (or restored from a backup) answers with resourceVersions below those
 * its old incarnation gave, which a cache holds until it lists again, so
 * the resourceVersion alone would verify a create the cache never saw. A
 * copy verified before (followed again) was held then: past its
 * resourceVersion the cache has observed it anew, and its absence is the
 * follow's to judge. *past: the cache is past `rv` (the copy's event, not
 * the resourceVersion, is then what wakes the Runnable). */
static bool copy_observed(const json_t *obj, json_int_t attempt, kr_informer_t *inf, const char *rv,
                          bool *past)
{
    *past = kr_informer_wait_for_resource_version(inf, rv, 0, NULL) == 0;
    if (!*past)
        return false;
    json_t *a = attempt_entry(json_object_get((json_t *)obj, "status"), attempt);
    if (json_is_true(json_object_get(a, "verified")))
        return true;
    char name[SUB_COPY_NAME_LEN];
    copy_name(obj, attempt, name, sizeof(name));
    json_t *copy =
        kr_store_get_by_name(kr_informer_store(inf), sub_str(obj, "metadata.namespace"), name);
    bool held = copy && ours(obj, copy);
    json_decref(copy);
    return held;
}

/* GET the object named as the copy of `attempt` in cluster idx, ours or
 * not (a probe: updates health). 0 (*found new), KR_ENOTFOUND, or the
 * failure. */
static int probe_name(submitter *s, size_t idx, const json_t *obj, json_int_t attempt,
                      json_t **found)
{
    *found = NULL;
    kr_resource_info info;
    kr_error_t e = {0};
    int rc = copy_resource(s, idx, obj, attempt, &info, &e);
    if (rc == 0) {
        char name[SUB_COPY_NAME_LEN];
        copy_name(obj, attempt, name, sizeof(name));
        kr_request req = {.verb = KR_VERB_GET,
                          .ref = {KR_GVR(info.group, info.version, info.resource),
                                  sub_str(obj, "metadata.namespace"), name, NULL}};
        rc = cluster_do(s, idx, &req, found, &e);
    }
    return rc;
}

/* GET the copy of `attempt` in cluster idx (a probe: updates health).
 * 0 (*copy new), KR_ENOTFOUND, or the failure. */
static int probe_copy(submitter *s, size_t idx, const json_t *obj, json_int_t attempt,
                      json_t **copy)
{
    int rc = probe_name(s, idx, obj, attempt, copy);
    if (rc == 0 && !ours(obj, *copy)) {
        json_decref(*copy);
        *copy = NULL;
        rc = KR_ENOTFOUND; /* another object's name: not a copy of ours */
    }
    return rc;
}

/* Delete `copy`, the copy of `attempt` in cluster idx. */
static int delete_copy(submitter *s, size_t idx, const json_t *obj, json_int_t attempt,
                       const json_t *copy)
{
    kr_resource_info info;
    int rc = copy_resource(s, idx, obj, attempt, &info, NULL);
    if (rc != 0)
        return rc;
    /* a replica paused past its Lease deletes nothing either: the copy it
     * saw unstarted may be the one the new leader adopted since */
    if (still_leading(s, NULL) != 0)
        return KR_ESTATE;
    kr_delete_opts d = {.propagation_policy = "Background",
                        .precondition_uid = sub_str(copy, "metadata.uid")};
    kr_request req = {.verb = KR_VERB_DELETE,
                      .ref = {KR_GVR(info.group, info.version, info.resource),
                              sub_str(copy, "metadata.namespace"), sub_str(copy, "metadata.name"),
                              NULL},
                      .del = &d};
    rc = cluster_do(s, idx, &req, NULL, NULL);
    if (rc == KR_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        char key[512];
        key_of(obj, key, sizeof(key));
        pthread_mutex_lock(&s->mu);
        json_t *mine = json_object_get(s->deleted, key);
        if (!mine) {
            mine = json_object();
            json_object_set_new(s->deleted, key, mine);
        }
        json_object_set_new(mine, sub_str(copy, "metadata.name"),
                            json_string(sub_str(copy, "metadata.uid")));
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

/* True when `copy` (NULL: none) of attempt copy `name` is one this process
 * deleted, which the cache has not seen go yet. Forgets the delete once
 * the cache holds no such copy any more. */
static bool deleted_by_us(submitter *s, const json_t *obj, const char *name, const json_t *copy)
{
    char key[512];
    key_of(obj, key, sizeof(key));
    pthread_mutex_lock(&s->mu);
    json_t *mine = json_object_get(s->deleted, key);
    const char *uid = json_string_value(json_object_get(mine, name));
    bool ours_gone = uid && copy && strcmp(uid, sub_str(copy, "metadata.uid")) == 0;
    if (uid && !ours_gone) {
        json_object_del(mine, name);
        if (json_object_size(mine) == 0)
            json_object_del(s->deleted, key);
    }
    pthread_mutex_unlock(&s->mu);
    return ours_gone;
}

/* Delete the copy of `attempt` that cluster idx's cache holds although the
 * Runnable's status says that attempt is over (its copy deleted, or
 * stopped): one created late, by a former leader resumed past its Lease
 * between its check and its request (still_leading). Only the cache is
 * read, so a Runnable with no such copy costs nothing, and a copy we
 * deleted ourselves that the cache still holds is not sent a delete again.
 * A copy not held suspended may have started: it is deleted all the same
 * (its attempt is over), with no Conflict recorded. 0 when no such copy
 * is left; KR_EUNAVAILABLE when the cluster is failing and another caller
 * probes it (the caller comes back); or the delete's failure. */
static int delete_late_copy(submitter *s, size_t idx, const json_t *obj, json_int_t attempt)
{
    kr_resource_info info;
    kr_informer_t *inf = NULL;
    if (copy_resource(s, idx, obj, attempt, &info, NULL) != 0 ||
        copy_informer(s, idx, &info, &inf, NULL) != 0)
        return health_since(s, idx) ? KR_EUNAVAILABLE : 0;
    char name[SUB_COPY_NAME_LEN];
    copy_name(obj, attempt, name, sizeof(name));
    json_t *copy =
        kr_store_get_by_name(kr_informer_store(inf), sub_str(obj, "metadata.namespace"), name);
    int rc = 0;
    if (!deleted_by_us(s, obj, name, copy) && copy && ours(obj, copy) &&
        !*sub_str(copy, "metadata.deletionTimestamp")) {
        if (health_since(s, idx) && !probe_claim(s, idx)) {
            rc = KR_EUNAVAILABLE; /* not our turn to ask a failing cluster */
        } else {
            rc = delete_copy(s, idx, obj, attempt, copy);
            if (rc == KR_ECONFLICT)
                rc = 0; /* the uid precondition: that copy is gone already */
            kr_log(&s->logger, KR_LOG_INFO, SUB_PROGRAM,
                   "%s/%s: a copy of attempt %lld appeared in %s after that attempt ended: "
                   "delete %s",
                   sub_str(obj, "metadata.namespace"), sub_str(obj, "metadata.name"),
                   (long long)attempt, s->clusters[idx].name, rc == 0 ? "done" : kr_strerror(rc));
        }
    }
    json_decref(copy);
    return rc;
}

/* True when `copy` (as the cache has it) is older than our release of it:
 * the release is on its way to the cache, not to be sent again. Forgets
 * the release once the cache has caught up. */
static bool release_pending(submitter *s, const json_t *obj, const json_t *copy)
{
    char key[512];
    key_of(obj, key, sizeof(key));
    pthread_mutex_lock(&s->mu);
    json_t *e = json_object_get(s->released, key);
    const char *rv = json_string_value(json_object_get(e, "rv"));
    /* the same object (resourceVersions of two clusters do not compare) */
    bool pending =
        rv &&
        strcmp(json_string_value(json_object_get(e, "uid")), sub_str(copy, "metadata.uid")) == 0 &&
        kr_resource_version_compare(sub_str(copy, "metadata.resourceVersion"), rv) < 0;
    if (e && !pending)
        json_object_del(s->released, key);
    pthread_mutex_unlock(&s->mu);
    return pending;
}

/* Let a verified, held copy run: merge-patch spec.suspend=false. The patch
 * carries the copy's uid, which the apiserver checks as a precondition, so
 * that another object of the same name is never released. The answer's
 * resourceVersion is remembered (see release_pending). */
static int release(submitter *s, size_t idx, const json_t *obj, json_int_t attempt,
                   const json_t *copy)
{
    kr_resource_info info;
    int rc = copy_resource(s, idx, obj, attempt, &info, NULL);
    if (rc != 0)
        return rc;
    json_t *patch = json_pack("{s:{s:s}, s:{s:b}}", "metadata", "uid",
                              sub_str(copy, "metadata.uid"), "spec", "suspend", 0);
    if (!patch)
        return KR_ENOMEM;
    kr_request req = {.verb = KR_VERB_PATCH,
                      .ref = {KR_GVR(info.group, info.version, info.resource),
                              sub_str(copy, "metadata.namespace"), sub_str(copy, "metadata.name"),
                              NULL},
                      .body = patch,
                      .patch_format = KR_PATCH_MERGE};
    json_t *out = NULL;
    rc = cluster_do(s, idx, &req, &out, NULL);
    json_decref(patch);
    if (rc == 0) {
        char key[512];
        key_of(obj, key, sizeof(key));
        pthread_mutex_lock(&s->mu);
        json_object_set_new(s->released, key,
                            json_pack("{s:s, s:s}", "uid", sub_str(copy, "metadata.uid"), "rv",
                                      sub_str(out, "metadata.resourceVersion")));
        pthread_mutex_unlock(&s->mu);
    }
    json_decref(out);
    kr_log(&s->logger, KR_LOG_DEBUG, SUB_PROGRAM, "release %s/%s in %s: %s",
           sub_str(copy, "metadata.namespace"), sub_str(copy, "metadata.name"),
           s->clusters[idx].name, rc == 0 ? "done" : kr_strerror(rc));
    return rc;
}

/* ---- steps ------------------------------------------------------------------------------ */

/* Milliseconds the API may still need to admit `obj` (write its
 * submitter), 0 when the grace has passed: a Runnable is taken for one
 * created on the hub directly only after that, so that the controller and
 * the API never both record its submission. */
static uint64_t grace_left_ms(const submitter *s, const char *since)
{
    struct tm tm = {0};
    const char *end = strptime(since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return 0;
    long long age_ms = ((long long)time(NULL) - (long long)timegm(&tm)) * 1000;
    /* a time further ahead than the grace is no clock of ours a little
     * fast (written so, it would hold back what waits on it until then):
     * its grace has passed */
    if (age_ms < -(long long)s->admit_grace_ms)
        return 0;
    if (age_ms < 0)
        age_ms = 0;
    return (uint64_t)age_ms >= s->admit_grace_ms ? 0 : s->admit_grace_ms - (uint64_t)age_ms;
}

static uint64_t admission_pending_ms(const submitter *s, const json_t *obj)
{
    return grace_left_ms(s, sub_str(obj, "metadata.creationTimestamp"));
}

/* An entry of status.approvals no API took (its seal missing or wrong:
 * written by whoever may write runnables/status): never counted
 * (approval_sealed); logged, recorded as FORGED under a key of its own
 * and marked "forged", so that it is recorded once. */
static kr_reconcile_result record_forged(submitter *s, const json_t *obj, size_t index,
                                         const json_t *a, kr_error_t *err)
{
    const char *user = sub_str(a, "user"), *decision = sub_str(a, "decision");
    char key[640], outcome[600];
    snprintf(key, sizeof(key), "%s/FORGED/%zu/%.253s/%.64s", sub_str(obj, "metadata.uid"), index,
             user, sub_str(a, "specHash"));
    snprintf(outcome, sizeof(outcome),
             "not counted: a decision %.16s of %.253s for spec %.12s... that no API of "
             "kr-submitter took (not sealed), written to the status by another",
             decision, user, sub_str(a, "specHash"));
    kr_log(&s->logger, KR_LOG_WARN, SUB_PROGRAM, "%s/%s: status.approvals[%zu]: %s",
           sub_str(obj, "metadata.namespace"), sub_str(obj, "metadata.name"), index, outcome);
    sub_event ev = {"FORGED",
                    sub_str(obj, "metadata.namespace"),
                    sub_str(obj, "metadata.name"),
                    sub_str(obj, "metadata.uid"),
                    SUB_PROGRAM, /* who found it: who wrote it the hub alone may say */
                    "", /* the hub's */
                    sub_str(obj, "metadata.resourceVersion"),
                    outcome,
                    key};
    submitter_record(s, &ev); /* through the outbox, once under its key */
    json_t *status;
    json_t *copy = edit(obj, &status);
    json_t *entry = copy ? json_array_get(json_object_get(status, "approvals"), index) : NULL;
    if (entry) /* "recorded" kept: unsealed, it holds nothing back; sealed
                * again (the key put right), it is recorded late */
        json_object_set_new(entry, "forged", json_true());
    return commit(s, copy, err);
}

/* An entry marked "forged" whose seal verifies (the mark set by anyone
 * who may write runnables/status, or by a leader that had another key):
 * a decision like any other; the stale mark is removed. */
static kr_reconcile_result clear_forged(submitter *s, const json_t *obj, size_t index,
                                        kr_error_t *err)
{
    kr_log(&s->logger, KR_LOG_INFO, SUB_PROGRAM,
           "%s/%s: status.approvals[%zu]: marked forged, but sealed: counted, mark removed",
           sub_str(obj, "metadata.namespace"), sub_str(obj, "metadata.name"), index);
    json_t *status;
    json_t *copy = edit(obj, &status);
    json_t *entry = copy ? json_array_get(json_object_get(status, "approvals"), index) : NULL;
    if (entry)
        json_object_del(entry, "forged");
    return commit(s, copy, err);
}

/* A decision the API wrote but did not record (it stopped in between):
 * past the grace, record it for its author and mark it recorded, in the
 * order of status.approvals; before, wait (*after), and so do the ones
 * after it. DONE when every decision is recorded. An entry no API took
 * is recorded as FORGED first, and holds nothing back. */
static kr_reconcile_result record_late_decisions(submitter *s, const json_t *obj, uint64_t *after,
                                                 kr_error_t *err)
{
    uint64_t wait = 0;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "approvals"), i, a)
    {
        bool marked = json_is_true(json_object_get(a, "forged"));
        bool sealed = approval_sealed(obj, a);
        if (!marked && !sealed)
            return record_forged(s, obj, i, a, err);
        if (marked && sealed)
            return clear_forged(s, obj, i, err);
    }
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "approvals"), i, a)
    {
        if (!json_is_false(json_object_get(a, "recorded")) || !approval_sealed(obj, a))
            continue;
        /* in the order the hub took them: one its author may still
         * record holds back those after it, whatever their times say
         * (each is its API's clock, and two replicas' may differ) */
        uint64_t left = grace_left_ms(s, sub_str(a, "time"));
        if (left) {
            wait = left;
            break;
        }
        /* In the books first, then marked: a mark that fails is retried,
         * and the record's key makes the second record a no-op. */
        const char *user = sub_str(a, "user"), *decision = sub_str(a, "decision");
        const char *event = strcmp(decision, "Rejected") == 0 ? "REJECTED" : "APPROVED";
        char key[512], did[64], outcome[160];
        submitter_decision_key(sub_str(obj, "metadata.uid"), event, user, sub_str(a, "specHash"),
                               key, sizeof(key));
        /* what the decision did, as its API would have said it; the
         * resourceVersion of its API's write is not known here: the
         * Runnable's as read, a state of it that holds the decision */
        approval_outcome(obj, i, did, sizeof(did));
        snprintf(outcome, sizeof(outcome),
                 "%s (recorded late, by the controller: the API that took it could not)", did);
        sub_event ev = {event,
                        sub_str(obj, "metadata.namespace"),
                        sub_str(obj, "metadata.name"),
                        sub_str(obj, "metadata.uid"),
                        user,
                        "", /* the hub's */
                        sub_str(obj, "metadata.resourceVersion"),
                        outcome,
                        key};
        if (submitter_record(s, &ev) != 0) {
            *after = RETRY_MS; /* the inventory is down: the decision waits for it */
            return KR_RECONCILE_REQUEUE_AFTER;
        }
        json_t *status;
        json_t *copy = edit(obj, &status);
        if (copy)
            approval_mark_recorded(copy, user, decision, sub_str(a, "specHash"));
        return commit(s, copy, err);
    }
    if (!wait)
        return KR_RECONCILE_DONE;
    *after = wait;
    return KR_RECONCILE_REQUEUE_AFTER;
}

int submitter_kind_lookup(const char *cluster, const char *api_version, const char *kind,
                          bool *namespaced, void *user)
{
    submitter *s = user;
    long i = submitter_cluster_find(s, cluster);
    if (i < 0)
        return KR_ENOTFOUND;
    kr_resource_info info;
    /* the fast client: an unreachable cluster must not hold the check */
    kr_client_t *c = s->clusters[i].fast ? s->clusters[i].fast : s->clusters[i].client;
    int rc = kr_client_resource_for_kind(c, api_version, kind, &info, NULL);
    if (rc == 0)
        *namespaced = info.namespaced;
    return rc;
}

/* A Runnable created on the hub directly, or whose spec was edited there,
 * had none of the API's checks: 0, or 422 with the reason (a
 * cluster-scoped template, a kind no cluster serves, an unknown cluster,
 * what the first cluster that answers refuses in a dry run...), for it to
 * fail before anyone is asked to approve it. */
static int check_hub_created(submitter *s, const json_t *obj, kr_error_t *why)
{
    const char *names[64];
    size_t n = s->n_clusters < 64 ? s->n_clusters : 64;
    for (size_t i = 0; i < n; i++)
        names[i] = s->clusters[i].name;
    submission_opts o = {
        .clusters = names, .n_clusters = n, .kind = submitter_kind_lookup, .kind_user = s};
    int rc = submission_check(obj, &o, why);
    char cluster[64];
    kr_error_t e = {0};
    if (rc == 0 && s->dry_run && submitter_dry_run(s, obj, cluster, sizeof(cluster), &e) != 0 &&
        *cluster)
        rc = kr_error_set(why, KR_EINVALIDOBJ, "cluster %s refuses the template: %s", cluster,
                          e.message);
    return rc;
}

static kr_reconcile_result init_status(submitter *s, const json_t *obj, uint64_t *after,
                                       kr_error_t *err)
{
    /* the API of this process may still be at it past the grace (its
     * SUBMITTED record waited for the inventory): its admission, or its
     * admit_end, wakes the key */
    uint64_t pending = admission_pending_ms(s, obj);
    if (!pending && admitting(s, sub_str(obj, "metadata.namespace"), sub_str(obj, "metadata.name")))
        pending = s->admit_grace_ms;
    if (pending) {
        *after = pending;
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    char hash[65];
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (!copy || approval_spec_hash(obj, hash) != 0) {
        json_decref(copy);
        return commit(s, NULL, err);
    }
    /* created on the hub directly: nobody we know submitted it, and
     * nothing checked what it holds */
    kr_error_t invalid = {0};
    bool hub_created = !*sub_str(status, "submittedBy");
    bool refused = hub_created && check_hub_created(s, obj, &invalid) != 0;
    if (hub_created)
        json_object_set_new(status, "submittedBy", json_string(SUB_UNKNOWN_SUBMITTER));
    json_object_set_new(status, "specHash", json_string(hash));
    approval_policy_record(status, obj);
    json_object_set_new(status, "phase",
                        json_string(refused ? SUB_PHASE_FAILED : SUB_PHASE_PENDING));
    if (refused)
        sub_set_condition(status, "Failed", true, "InvalidSpec", invalid.message);
    kr_reconcile_result r = commit(s, copy, err);
    if (r == STEP_AGAIN) {
        /* under the key the API's record has, so that the books hold one
         * SUBMITTED whoever records first (an API of another replica
         * whose record waited past the grace) */
        char key[300];
        submitter_submission_key(sub_str(obj, "metadata.uid"), key, sizeof(key));
        sub_event ev = {"SUBMITTED",
                        sub_str(obj, "metadata.namespace"),
                        sub_str(obj, "metadata.name"),
                        sub_str(obj, "metadata.uid"),
                        SUB_PROGRAM,
                        "", /* the hub's: the write that admitted it */
                        written_rv(),
                        refused ? "created on the hub" : "created on the hub: approval required",
                        key};
        submitter_record(s, &ev);
        if (refused)
            record(s, obj, "FAILED", "", written_rv(), invalid.message);
    }
    return r;
}

static kr_reconcile_result await_approval(submitter *s, const json_t *obj, uint64_t *after,
                                          kr_error_t *err)
{
    kr_reconcile_result late = record_late_decisions(s, obj, after, err);
    if (late != KR_RECONCILE_DONE)
        return late;
    char hash[65];
    if (approval_spec_hash(obj, hash) != 0)
        return commit(s, NULL, err);
    const char *next = approval_next_phase(obj, hash);
    bool edited = strcmp(sub_str(obj, "status.specHash"), hash) != 0;
    if (!edited && strcmp(sub_str(obj, "status.phase"), next) == 0)
        return KR_RECONCILE_DONE;
    /* a spec edited on the hub is checked as the API checks a submission,
     * before anything ran (once a copy was made, the edit waits for an
     * approval as before, and its create says what is wrong) */
    kr_error_t invalid = {0};
    if (edited && sub_int(obj, "status.attempt") == 0 && check_hub_created(s, obj, &invalid) != 0)
        return fail_runnable(s, obj, "InvalidSpec", invalid.message, "", err);
    /* approvals the edit voids are said on the Runnable (the Approved
     * condition and an Event), so that an approver sees why the count
     * dropped */
    char voided[300];
    bool voids = approval_voided(obj, hash, voided, sizeof(voided)) > 0;
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (copy) {
        approval_condition_update(copy, hash);
        json_object_set_new(status, "specHash", json_string(hash));
        json_object_set_new(status, "phase", json_string(next));
    }
    kr_reconcile_result r = commit(s, copy, err);
    if (r == STEP_AGAIN && voids)
        submitter_approvals_voided(s, obj, voided);
    return r;
}

static void wake_when_observed(submitter *s, kr_informer_t *inf, const json_t *obj, const char *rv);

/* The highest attempt of `status` whose create was refused for good (0:
 * none). */
static json_int_t last_refused(const json_t *status)
{
    json_int_t last = 0;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(status, "attempts"), i, a)
    {
        json_int_t n = sub_int(a, "attempt");
        if (strcmp(sub_str(a, "state"), ATTEMPT_REFUSED) == 0 && n > last)
            last = n;
    }
    return last;
}

/* Attempt `attempt` of `obj` was created in cluster idx with `rv` at
 * `at_ms` (`fresh`: just now). Once the cluster's cache has observed it,
 * one write says Dispatched and verified. Until then, for up to a probe
 * interval (at most RETRY_MS), nothing is written: the cache wakes the key
 * when it observes the copy (and a reconcile woken by something else, such
 * as the hub's echo of our decision, goes back to waiting); the create is
 * safe to repeat after a restart (AlreadyExists with our uid). Past that,
 * or without a wake, Dispatched is committed unverified and verify() takes
 * over (probes, failover). */
static kr_reconcile_result created(submitter *s, const json_t *obj, size_t idx, json_int_t attempt,
                                   const char *rv, bool fresh, uint64_t at_ms, uint64_t *after,
                                   kr_error_t *err)
{
    kr_resource_info info;
    kr_informer_t *inf = NULL;
    bool past = false;
    bool observed = copy_resource(s, idx, obj, attempt, &info, NULL) == 0 &&
                    copy_informer(s, idx, &info, &inf, NULL) == 0 &&
                    copy_observed(obj, attempt, inf, rv, &past);
    uint64_t wait = s->probe_interval_ms < RETRY_MS ? s->probe_interval_ms : RETRY_MS;
    uint64_t now = now_ms(s), waited = now > at_ms ? now - at_ms : 0;
    if (!observed && inf && s->wake && waited < wait) {
        created_put(s, obj, attempt, rv, at_ms);
        if (fresh && !past)
            wake_when_observed(s, inf, obj, rv);
        *after = wait - waited;
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    const char *cluster = s->clusters[idx].name;
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (copy) {
        json_object_set_new(status, "phase", json_string(SUB_PHASE_DISPATCHED));
        json_object_set_new(status, "dispatchedResourceVersion", json_string(rv));
        json_object_set_new(status, "verified", json_boolean(observed));
        if (observed)
            sub_set_condition(status, "Verified", true, "Observed",
                              "the cluster's cache observed the create");
        json_t *a = attempt_entry(status, attempt);
        if (a) {
            json_object_set_new(a, "state", json_string(ATTEMPT_CREATED));
            json_object_set_new(a, "resourceVersion", json_string(rv));
            /* this copy: verified now, or not yet (one made again in
             * the same attempt is another copy, verified anew) */
            json_object_set_new(a, "verified", json_boolean(observed));
        }
        /* an attempt after a refused one: the refusal holds the runnable
         * back no more (the attempt followed again after it does not say
         * that: it is what the refusal sent the runnable back to) */
        if (attempt > last_refused(status)) {
            char why[300];
            snprintf(why, sizeof(why), "attempt %lld created in %s", (long long)attempt, cluster);
            sub_condition_clear(status, SUB_CONDITION_CREATE_REFUSED, "AttemptCreated", why);
        }
    }
    kr_reconcile_result r = commit(s, copy, err);
    if (r == STEP_AGAIN) {
        record(s, obj, "DISPATCHED", cluster, rv, "created");
        if (observed)
            record(s, obj, "VERIFIED", cluster, rv, "observed");
    }
    return r;
}

/* The cluster of the current attempt refused its create for good
 * (`reason`; `detail`, the cluster's words: a namespace it lacks, a 403,
 * a 422, the copy's name taken). With no other attempt whose copy may be
 * alive (a first dispatch), that ends the runnable (`why`). After a
 * failover, the attempt it failed over from may still be running in a
 * cluster that was only out of reach: it is not given up for a cluster
 * that cannot take the work. The runnable goes back to following that
 * attempt (as `Never` would wait for it: verified and followed once its
 * cluster answers, failing over only to a cluster that has not refused),
 * the refused attempt is marked so, with the spec it refused, and the
 * refusal is a condition and a FAILED_OVER back to the earlier cluster in
 * the books. One status write, with the resourceVersion read: nothing was
 * created in the refusing cluster, and the attempt followed again was
 * decided before its own create. */
static kr_reconcile_result refused(submitter *s, const json_t *obj, const char *reason,
                                   const char *why, const char *detail, kr_error_t *err)
{
    const json_t *back = failover_fallback(obj);
    if (!back)
        return fail_runnable(s, obj, reason, why, "", err);
    json_int_t attempt = sub_int(back, "attempt");
    const char *cluster = sub_str(back, "cluster"), *rv = sub_str(back, "resourceVersion");
    /* created: followed from the create's resourceVersion, verified anew;
     * only decided (its cluster went away before the create was known to
     * land): its create is sent again, AlreadyExists being ours */
    bool made = strcmp(sub_str(back, "state"), ATTEMPT_CREATED) == 0 && *rv;
    char message[1400];
    snprintf(message, sizeof(message),
             "attempt %lld: create in %s refused: %.1000s; following attempt %lld in %s again",
             (long long)sub_int(obj, "status.attempt"), sub_str(obj, "status.cluster"), detail,
             (long long)attempt, cluster);
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (copy) {
        json_t *cur = attempt_entry(status, sub_int(obj, "status.attempt"));
        if (cur) {
            json_object_set_new(cur, "state", json_string(ATTEMPT_REFUSED));
            json_object_set_new(cur, "specHash", json_string(sub_str(obj, "status.specHash")));
            json_object_set_new(cur, "message", json_string(detail));
        }
        json_object_set_new(status, "attempt", json_integer(attempt));
        json_object_set_new(status, "cluster", json_string(cluster));
        json_object_set_new(status, "epoch", json_integer(sub_int(back, "epoch")));
        json_object_set_new(status, "dispatchedResourceVersion", json_string(made ? rv : ""));
        json_object_set_new(status, "verified", json_false());
        unverified(status, "the runnable follows an earlier attempt's copy: not observed yet");
        json_object_set_new(status, "phase",
                            json_string(made ? SUB_PHASE_DISPATCHED : SUB_PHASE_DISPATCHING));
        sub_set_condition(status, SUB_CONDITION_CREATE_REFUSED, true, reason, message);
    }
    kr_reconcile_result r = commit(s, copy, err);
    if (r == STEP_AGAIN)
        record(s, obj, "FAILED_OVER", cluster, made ? rv : "", message);
    return r;
}

static kr_reconcile_result dispatch(submitter *s, const json_t *obj, uint64_t *after,
                                    kr_error_t *err)
{
    /* Every create comes through here (the first, a failover's, a copy
     * made again): only the spec the approvals were given for is sent. A
     * spec changed since (kubectl edit) goes back for approval, as it
     * would before its first dispatch. */
    char hash[65];
    if (approval_spec_hash(obj, hash) != 0)
        return kr_error_set(err, KR_ENOMEM, "out of memory"), KR_RECONCILE_ERROR;
    if (strcmp(sub_str(obj, "status.specHash"), hash) != 0 ||
        approval_count(obj, hash) < approval_required(obj))
        return await_approval(s, obj, after, err);
    const char *order[64];
    size_t n = order_of(s, obj, order, 64);
    json_int_t attempt = sub_int(obj, "status.attempt");
    const char *cluster = sub_str(obj, "status.cluster");
    if (n == 0)
        return fail_runnable(s, obj, "NoCluster", "no configured cluster in spec.clusters", "",
                             err);
    if (attempt <= 0 || !*cluster)
        return decide(s, obj, 1, order[0], NULL, err);
    long idx = submitter_cluster_find(s, cluster);
    if (idx < 0)
        return not_configured(obj, cluster, err);
    char rv[64];
    uint64_t at_ms = 0;
    if (created_take(s, obj, attempt, rv, sizeof(rv), &at_ms))
        return created(s, obj, (size_t)idx, attempt, rv, false, at_ms, after, err);
    /* The template's kind was edited since this attempt was decided (the
     * edit went through approval again): a create of the template now
     * would be another object than the one this attempt may have made,
     * which no AlreadyExists would then find. So it is a new attempt, in
     * the same cluster, and this one's copy, looked up by its own kind, is
     * an earlier attempt's (stragglers: deleted unless it started). */
    if (template_kind_changed(obj, attempt))
        return decide(s, obj, next_attempt(obj), cluster, NULL, err);
    if (s->hook)
        s->hook(SUB_HOOK_AFTER_DECISION, cluster, s->hook_user);
    /* a cluster known to be failing gets no create but the probe's turn:
     * its return (or the failover deadline) wakes us */
    if (s->wake && health_since(s, (size_t)idx) && !probe_claim(s, (size_t)idx))
        return unreachable(s, obj, (size_t)idx, false, false, after, err);
    kr_resource_info info;
    kr_error_t cerr = {0};
    int rc = template_resource(s, (size_t)idx, obj, &info, &cerr);
    json_t *out = NULL;
    if (rc == 0) {
        if (still_leading(s, err) != 0)
            return KR_RECONCILE_ERROR;
        json_t *body = workload_copy(s, obj, attempt);
        if (!body)
            return kr_error_set(err, KR_ENOMEM, "out of memory"), KR_RECONCILE_ERROR;
        kr_request req = {.verb = KR_VERB_CREATE,
                          .ref = {KR_GVR(info.group, info.version, info.resource),
                                  sub_str(obj, "metadata.namespace"), NULL, NULL},
                          .body = body};
        rc = cluster_do(s, (size_t)idx, &req, &out, &cerr);
        json_decref(body);
    }
    if (rc == KR_EEXIST) {
        /* a create of this attempt went through before (ours, retried) */
        rc = probe_copy(s, (size_t)idx, obj, attempt, &out);
        if (rc == KR_ENOTFOUND) {
            const char *why = "the copy's name is taken by an object that is not ours";
            return refused(s, obj, "NameTaken", why, why, err);
        }
    }
    if (rc != 0 && transient(rc))
        return unreachable(s, obj, (size_t)idx, false, true, after, err);
    if (rc != 0) {
        char why[1100];
        snprintf(why, sizeof(why), "create in %s: %s", cluster, cerr.message);
        return refused(s, obj, "CreateFailed", why, cerr.message, err);
    }
    if (s->hook)
        s->hook(SUB_HOOK_AFTER_CREATE, cluster, s->hook_user);
    snprintf(rv, sizeof(rv), "%s", sub_str(out, "metadata.resourceVersion"));
    json_decref(out);
    return created(s, obj, (size_t)idx, attempt, rv, true, now_ms(s), after, err);
}

/* Status edits for the copy of attempt `a` in another cluster; with
 * `conflict`, `copy` is the copy stopped, whose cluster and
 * resourceVersion the CONFLICT record names. */
static kr_reconcile_result mark_attempt(submitter *s, const json_t *obj, json_int_t attempt,
                                        const char *state, const char *conflict,
                                        const json_t *copy_stopped, kr_error_t *err)
{
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (copy) {
        json_t *a = attempt_entry(status, attempt);
        if (a)
            json_object_set_new(a, "state", json_string(state));
        if (conflict)
            sub_set_condition(status, "Conflict", true, "BothStarted", conflict);
    }
    const char *cluster = "";
    if (conflict) {
        const json_t *a = attempt_entry(json_object_get(obj, "status"), attempt);
        cluster = sub_str(a, "cluster");
    }
    kr_reconcile_result r = commit(s, copy, err);
    if (r == STEP_AGAIN && conflict)
        record(s, obj, "CONFLICT", cluster, sub_str(copy_stopped, "metadata.resourceVersion"),
               conflict);
    return r;
}

/* Follow the straggler's attempt instead of the current one. */
static kr_reconcile_result adopt(submitter *s, const json_t *obj, const json_t *a,
                                 const json_t *straggler, const char *conflict, kr_error_t *err)
{
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (copy) {
        json_t *cur = attempt_entry(status, sub_int(obj, "status.attempt"));
        if (cur)
            json_object_set_new(cur, "state", json_string(ATTEMPT_STOPPED));
        json_object_set_new(status, "attempt", json_integer(sub_int(a, "attempt")));
        json_object_set_new(status, "cluster", json_string(sub_str(a, "cluster")));
        json_object_set_new(status, "dispatchedResourceVersion",
                            json_string(sub_str(straggler, "metadata.resourceVersion")));
        json_object_set_new(status, "verified", json_false());
        unverified(status, "the runnable follows another attempt's copy: not observed yet");
        json_object_set_new(status, "phase", json_string(SUB_PHASE_DISPATCHED));
        if (conflict)
            sub_set_condition(status, "Conflict", true, "BothStarted", conflict);
    }
    kr_reconcile_result r = commit(s, copy, err);
    if (r == STEP_AGAIN)
        record(s, obj, conflict ? "CONFLICT" : "FAILED_OVER", sub_str(a, "cluster"),
               sub_str(straggler, "metadata.resourceVersion"),
               conflict ? conflict : "the earlier attempt had started: following it");
    return r;
}

/* Copies of other attempts: deleted when not started; when both started
 * the later one is stopped and the conflict recorded. `current` is the
 * copy followed now (NULL: none yet). Without `may_adopt` (the runnable
 * waits for approval again), a started one is left as it is: the next
 * dispatch finds it. *pending: some cluster could not be asked. Returns
 * STEP_AGAIN after a write, else DONE. */
static kr_reconcile_result stragglers(submitter *s, const json_t *obj, const json_t *current,
                                      bool may_adopt, bool *pending, kr_error_t *err)
{
    json_int_t cur_attempt = sub_int(obj, "status.attempt");
    bool terminal = sub_phase_terminal(sub_str(obj, "status.phase"));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "attempts"), i, a)
    {
        json_int_t n = sub_int(a, "attempt");
        const char *state = sub_str(a, "state");
        long idx = submitter_cluster_find(s, sub_str(a, "cluster"));
        if (n == cur_attempt || idx < 0)
            continue;
        if (failover_attempt_over(state)) {
            if (delete_late_copy(s, (size_t)idx, obj, n) != 0)
                *pending = true;
            continue;
        }
        if (health_since(s, (size_t)idx) && !probe_claim(s, (size_t)idx)) {
            *pending = true;
            continue;
        }
        json_t *copy = NULL;
        int rc = probe_copy(s, (size_t)idx, obj, n, &copy);
        if (rc == KR_ENOTFOUND)
            return mark_attempt(s, obj, n, ATTEMPT_DELETED, NULL, NULL, err);
        if (rc != 0) {
            *pending = true;
            continue;
        }
        straggler_action act = failover_straggler(copy, current);
        if (terminal && (act == STRAGGLER_ADOPT || act == STRAGGLER_STOP_CURRENT))
            act = STRAGGLER_STOP_IT; /* the followed copy finished: it stays the one */
        if (!may_adopt && act != STRAGGLER_DELETE) {
            json_decref(copy);
            continue;
        }
        char why[256];
        kr_reconcile_result r;
        if (act == STRAGGLER_DELETE || act == STRAGGLER_STOP_IT) {
            rc = delete_copy(s, (size_t)idx, obj, n, copy);
            snprintf(why, sizeof(why), "attempt %lld in %s started too; stopped it", (long long)n,
                     sub_str(a, "cluster"));
            r = rc != 0 ? (*pending = true, KR_RECONCILE_DONE)
                        : mark_attempt(s, obj, n,
                                       act == STRAGGLER_DELETE ? ATTEMPT_DELETED : ATTEMPT_STOPPED,
                                       act == STRAGGLER_STOP_IT ? why : NULL, copy, err);
        } else {
            long cidx = submitter_cluster_find(s, sub_str(obj, "status.cluster"));
            rc = current && cidx >= 0 ? delete_copy(s, (size_t)cidx, obj, cur_attempt, current) : 0;
            snprintf(why, sizeof(why), "attempt %lld in %s started first; stopped attempt %lld",
                     (long long)n, sub_str(a, "cluster"), (long long)cur_attempt);
            r = rc != 0 ? (*pending = true, KR_RECONCILE_DONE)
                        : adopt(s, obj, a, copy, act == STRAGGLER_STOP_CURRENT ? why : NULL, err);
        }
        json_decref(copy);
        if (r != KR_RECONCILE_DONE)
            return r;
    }
    return KR_RECONCILE_DONE;
}

/* A resourceVersion as a number (KEP-5504: they compare as integers); 0
 * for one that is not a positive decimal. */
static unsigned long long rv_number(const char *rv)
{
    if (!rv || *rv < '1' || *rv > '9' || strspn(rv, "0123456789") != strlen(rv) || strlen(rv) > 19)
        return 0;
    return strtoull(rv, NULL, 10);
}

/* How long one answer of cluster_before stands for its cluster. */
#define CLUSTER_BEFORE_INTERVAL_MS 5000

/* Whether cluster idx is now before `rv`, a resourceVersion it gave: a
 * cluster made anew (or restored from a backup) at the same address. One
 * LIST of one object of the copy's resource, ours, in the runnable's
 * namespace (metadata only; within the RBAC the cache's watch needs):
 * its resourceVersion is the cluster's now. False when it cannot be
 * asked (a probe: the failure counts for its health), or not yet.
 *
 * At most one such LIST per cluster per CLUSTER_BEFORE_INTERVAL_MS, its
 * answer shared: while a cache lags, every runnable on it would
 * otherwise ask at each follow, N LISTs a second in the bursts of 429s
 * and 5xx that make it lag. The answer holds for a create's `rv` no
 * higher than one a runnable asked about before the LIST was sent: the
 * cluster had given that one, so a cluster that was not made anew
 * answers at least it (its resourceVersions only grow), and an answer
 * below `rv` says it was. For a higher `rv` (a create that may have come
 * after the LIST) the answer says nothing: wait for the next one. */
static bool cluster_before(submitter *s, size_t idx, const json_t *obj, json_int_t attempt,
                           const char *rv)
{
    unsigned long long want = rv_number(rv);
    if (!want)
        return false;
    sub_cluster *c = &s->clusters[idx];
    uint64_t t = now_ms(s);
    pthread_mutex_lock(&s->mu);
    if (want > c->before.highest)
        c->before.highest = want;
    bool known = c->before.now && want <= c->before.covered;
    bool before = known && c->before.now < want;
    bool ask = !c->before.asked || t - c->before.asked_ms >= CLUSTER_BEFORE_INTERVAL_MS ||
               t < c->before.asked_ms;
    ask = ask && !before; /* an answer that says so stands */
    unsigned long long covered = c->before.highest;
    if (ask) {
        c->before.asked = true;
        c->before.asked_ms = t;
    }
    pthread_mutex_unlock(&s->mu);
    if (!ask)
        return before;
    kr_resource_info info;
    if (copy_resource(s, idx, obj, attempt, &info, NULL) != 0)
        return false;
    kr_list_opts lo = {.label_selector = SUB_LABEL_MANAGED_BY "=" SUB_PROGRAM,
                       .limit = 1,
                       .accept = KR_CLIENT_ACCEPT_PARTIAL_METADATA_LIST};
    kr_request req = {.verb = KR_VERB_LIST,
                      .ref = {KR_GVR(info.group, info.version, info.resource),
                              sub_str(obj, "metadata.namespace"), NULL, NULL},
                      .list = &lo};
    json_t *list = NULL;
    if (cluster_do(s, idx, &req, &list, NULL) == 0) {
        unsigned long long now = rv_number(sub_str(list, "metadata.resourceVersion"));
        before = now && now < want;
        if (now) {
            pthread_mutex_lock(&s->mu);
            c->before.now = now;
            c->before.covered = covered;
            pthread_mutex_unlock(&s->mu);
        }
    }
    json_decref(list);
    return before;
}

/* The copy the runnable follows is not in the cache of its cluster, which
 * holds only objects with our labels (`gone_rv`: the cluster's
 * resourceVersion that cache had observed without it, what FAILED names:
 * the copy's delete answers a GET with no resourceVersion): the cluster
 * says whether it is gone. A copy whose labels someone took away is still the one running
 * (its name is ours, no other runnable's label is on it): the labels go
 * back, uid precondition, and it is followed again. Only a copy the
 * cluster does not have, or that is another runnable's, fails it. */
static kr_reconcile_result copy_missing(submitter *s, const json_t *obj, size_t idx,
                                        const char *gone_rv, uint64_t *after, kr_error_t *err)
{
    json_t *found = NULL;
    int rc = probe_name(s, idx, obj, sub_int(obj, "status.attempt"), &found);
    if (rc == KR_ENOTFOUND) {
        json_decref(found);
        return fail_runnable(s, obj, "CopyDeleted", "the workload copy was deleted", gone_rv, err);
    }
    if (rc == 0 && *sub_label(found, SUB_LABEL_SOURCE_UID) && !ours(obj, found)) {
        /* another runnable's now: not this one's copy any more, whatever
         * runs under its name (the record names the object's
         * resourceVersion: it exists) */
        char why[300];
        snprintf(why, sizeof(why),
                 "the workload copy %.63s carries another runnable's label (%s=%.63s)",
                 sub_str(found, "metadata.name"), SUB_LABEL_SOURCE_UID,
                 sub_label(found, SUB_LABEL_SOURCE_UID));
        char rv[64];
        snprintf(rv, sizeof(rv), "%s", sub_str(found, "metadata.resourceVersion"));
        json_decref(found);
        return fail_runnable(s, obj, "CopyTaken", why, rv, err);
    }
    if (rc != 0)
        return unreachable(s, obj, idx, false, true, after, err);
    if (!ours(obj, found)) { /* its labels were taken away */
        kr_resource_info info;
        rc = still_leading(s, err) != 0
                 ? KR_ESTATE
                 : copy_resource(s, idx, obj, sub_int(obj, "status.attempt"), &info, NULL);
        json_t *patch =
            rc ? NULL
               : json_pack("{s:{s:s, s:{s:s, s:s, s:s}}}", "metadata", "uid",
                           sub_str(found, "metadata.uid"), "labels", SUB_LABEL_MANAGED_BY,
                           SUB_PROGRAM, SUB_LABEL_SOURCE_UID, sub_str(obj, "metadata.uid"),
                           SUB_LABEL_SOURCE_CLUSTER, s->hub_name);
        if (patch) {
            kr_request req = {.verb = KR_VERB_PATCH,
                              .ref = {KR_GVR(info.group, info.version, info.resource),
                                      sub_str(found, "metadata.namespace"),
                                      sub_str(found, "metadata.name"), NULL},
                              .body = patch,
                              .patch_format = KR_PATCH_MERGE};
            rc = cluster_do(s, idx, &req, NULL, NULL);
            json_decref(patch);
            kr_log(&s->logger, KR_LOG_WARN, SUB_PROGRAM,
                   "%s/%s: the copy %s in %s had lost its labels: %s",
                   sub_str(obj, "metadata.namespace"), sub_str(obj, "metadata.name"),
                   sub_str(found, "metadata.name"), s->clusters[idx].name,
                   rc == 0 ? "put back" : kr_strerror(rc));
        }
    }
    json_decref(found);
    /* the informer brings it (back) and its event wakes us */
    *after = RETRY_MS;
    return KR_RECONCILE_REQUEUE_AFTER;
}

/* Move to `phase`; with an `event`, record it, with the resourceVersion of
 * the workload copy that brought it (`rv`, may be ""). */
static kr_reconcile_result set_phase(submitter *s, const json_t *obj, const char *phase,
                                     const char *event, const char *rv, kr_error_t *err)
{
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (copy)
        json_object_set_new(status, "phase", json_string(phase));
    kr_reconcile_result r = commit(s, copy, err);
    if (r == STEP_AGAIN && event)
        record(s, obj, event, sub_str(obj, "status.cluster"), rv, phase);
    return r;
}

/* The copy ended: the phase, and a condition (Succeeded or Failed) that
 * says why in the copy's words ("BackoffLimitExceeded: Job has reached the
 * specified backoff limit"), recorded with the copy's resourceVersion. */
static kr_reconcile_result set_outcome(submitter *s, const json_t *obj, const char *outcome,
                                       const json_t *copy, kr_error_t *err)
{
    bool ok = strcmp(outcome, SUB_PHASE_SUCCEEDED) == 0;
    const char *why, *text;
    failover_outcome_reason(copy, &why, &text);
    const char *api_version, *kind;
    attempt_kind(obj, sub_int(obj, "status.attempt"), &api_version, &kind);
    char message[1024];
    snprintf(message, sizeof(message), "%s %s in %s%s%.900s", kind, sub_str(copy, "metadata.name"),
             sub_str(obj, "status.cluster"), *text ? ": " : "", text);
    json_t *status;
    json_t *edited = edit(obj, &status);
    if (edited) {
        json_object_set_new(status, "phase", json_string(outcome));
        sub_set_condition(status, ok ? "Succeeded" : "Failed", true,
                          *why ? why
                          : ok ? "Completed"
                               : "Failed",
                          message);
    }
    kr_reconcile_result r = commit(s, edited, err);
    if (r == STEP_AGAIN)
        record(s, obj, ok ? "SUCCEEDED" : "FAILED", sub_str(obj, "status.cluster"),
               sub_str(copy, "metadata.resourceVersion"), outcome);
    return r;
}

typedef struct wake_call {
    submitter *s;
    char *namespace_, *name;
} wake_call;

static void on_observed(int rc, void *user)
{
    wake_call *w = user;
    if (rc == 0)
        w->s->wake(w->namespace_, w->name, w->s->wake_user);
    free(w->namespace_);
    free(w->name);
    free(w);
}

/* Ask the informer to wake the Runnable when it observes `rv`. */
static void wake_when_observed(submitter *s, kr_informer_t *inf, const json_t *obj, const char *rv)
{
    if (!s->wake)
        return;
    wake_call *w = calloc(1, sizeof(*w));
    if (w) {
        w->s = s;
        w->namespace_ = strdup(sub_str(obj, "metadata.namespace"));
        w->name = strdup(sub_str(obj, "metadata.name"));
    }
    if (!w || !w->namespace_ || !w->name ||
        kr_informer_notify_resource_version(inf, rv, s->verify_wait_ms, on_observed, w, NULL) !=
            0) {
        if (w) {
            free(w->namespace_);
            free(w->name);
        }
        free(w); /* the requeue is the backstop */
    }
}

/* Not verified yet: has the cluster's informer observed the create?
 * Never blocks: the informer wakes the key when it does; meanwhile a quiet
 * cluster is probed now and then, and one that does not answer past
 * --failover-after loses the attempt. */
static kr_reconcile_result verify(submitter *s, const json_t *obj, size_t idx, kr_informer_t *inf,
                                  uint64_t *after, kr_error_t *err)
{
    const char *rv = sub_str(obj, "status.dispatchedResourceVersion");
    bool past = false;
    if (copy_observed(obj, sub_int(obj, "status.attempt"), inf, rv, &past)) {
        json_t *status;
        json_t *copy = edit(obj, &status);
        /* A copy is VERIFIED once in the books: one followed again (the
         * earlier copy a conflict keeps, the attempt a refused failover
         * goes back to) that was verified before is verified again here,
         * its cache having observed it anew, and not recorded again. */
        bool before = false;
        if (copy) {
            json_object_set_new(status, "verified", json_true());
            sub_set_condition(status, "Verified", true, "Observed",
                              "the cluster's cache observed the create");
            json_t *a = attempt_entry(status, sub_int(obj, "status.attempt"));
            before = json_is_true(json_object_get(a, "verified"));
            if (a)
                json_object_set_new(a, "verified", json_true());
        }
        kr_reconcile_result r = commit(s, copy, err);
        if (r == STEP_AGAIN && !before)
            record(s, obj, "VERIFIED", s->clusters[idx].name, rv, "observed");
        return r;
    }
    if (!probe_claim(s, idx)) {
        if (health_since(s, idx)) /* another reconcile found it failing */
            return unreachable(s, obj, idx, false, false, after, err);
        if (!past)
            wake_when_observed(s, inf, obj, rv);
        *after = s->probe_interval_ms < RETRY_MS ? s->probe_interval_ms : RETRY_MS;
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    json_t *copy = NULL;
    int rc = probe_copy(s, idx, obj, sub_int(obj, "status.attempt"), &copy);
    json_decref(copy);
    if (rc == 0) {
        if (!past)
            wake_when_observed(s, inf, obj, rv);
        *after = RETRY_MS; /* the cache lags; the copy is there */
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    if (rc == KR_ENOTFOUND) /* gone before anyone saw it run: create it again */
        return set_phase(s, obj, SUB_PHASE_DISPATCHING, NULL, "", err);
    return unreachable(s, obj, idx, false, true, after, err);
}

/* How long a followed Runnable waits when nothing wakes it (`pending`:
 * a straggler could not be looked at). */
static uint64_t follow_backstop_ms(const submitter *s, bool pending)
{
    if (pending)
        return s->failover_after_ms;
    return s->failover_after_ms > BACKSTOP_MS ? s->failover_after_ms : BACKSTOP_MS;
}

static kr_reconcile_result follow(submitter *s, const json_t *obj, uint64_t *after, kr_error_t *err)
{
    long idx = submitter_cluster_find(s, sub_str(obj, "status.cluster"));
    if (idx < 0)
        return not_configured(obj, sub_str(obj, "status.cluster"), err);
    json_int_t attempt = sub_int(obj, "status.attempt");
    kr_resource_info info;
    kr_informer_t *inf = NULL;
    kr_error_t e = {0};
    int rc = copy_resource(s, (size_t)idx, obj, attempt, &info, &e);
    if (rc == 0)
        rc = copy_informer(s, (size_t)idx, &info, &inf, &e);
    if (rc != 0) {
        if (transient(rc))
            return unreachable(s, obj, (size_t)idx, false, true, after, err);
        if (err)
            *err = e;
        return KR_RECONCILE_ERROR;
    }
    if (!json_is_true(json_object_get(json_object_get(obj, "status"), "verified")))
        return verify(s, obj, (size_t)idx, inf, after, err);
    if (!kr_informer_has_synced(inf)) {
        /* a new leader's cache: absence from it means nothing yet */
        *after = 200;
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    char name[SUB_COPY_NAME_LEN];
    copy_name(obj, attempt, name, sizeof(name));
    json_t *copy =
        kr_store_get_by_name(kr_informer_store(inf), sub_str(obj, "metadata.namespace"), name);
    if (copy && !ours(obj, copy)) {
        /* the name is ours but the copy is not (relabelled to another
         * runnable's uid, or its uid label taken away): not followed; the
         * cluster is asked below, as for a copy the cache lacks */
        json_decref(copy);
        copy = NULL;
    }
    /* read after the store: the cache had observed at least this when it
     * did not hold the copy */
    char *seen = copy ? NULL : kr_informer_last_resource_version(inf);
    bool pending = false;
    kr_reconcile_result r = stragglers(s, obj, copy, true, &pending, err);
    if (r != KR_RECONCILE_DONE) {
        json_decref(copy);
        kr_free(seen);
        return r;
    }
    if (!copy) {
        /* Absent from a cache that has not observed the create yet is not
         * deleted: a replica that was paused past its Lease, or a watch
         * behind, while another replica dispatched and verified. Unless
         * the cluster itself is before the create: made anew (or restored
         * from a backup) at the same address, its resourceVersions restart
         * below those its old incarnation gave, and a quiet one may not
         * pass the create's for a long time; the cache, synced, has listed
         * the new one, and the cluster says whether the copy is there. */
        const char *rv = sub_str(obj, "status.dispatchedResourceVersion");
        if (*rv && kr_informer_wait_for_resource_version(inf, rv, 0, NULL) != 0 &&
            !cluster_before(s, (size_t)idx, obj, attempt, rv)) {
            kr_free(seen);
            wake_when_observed(s, inf, obj, rv);
            *after = RETRY_MS;
            return KR_RECONCILE_REQUEUE_AFTER;
        }
        r = copy_missing(s, obj, (size_t)idx, seen ? seen : "", after, err);
        kr_free(seen);
        return r;
    }
    /* released already, the cache not there yet: not sent again, and the
     * copy counts as not started below (a cluster gone in the meantime is
     * noticed); the informer's event of the release wakes us */
    const char *api_version, *kind;
    attempt_kind(obj, attempt, &api_version, &kind);
    bool releasing = attempt_held(obj, attempt, api_version, kind) &&
                     json_is_true(json_object_get(json_object_get(copy, "spec"), "suspend"));
    if (releasing && !release_pending(s, obj, copy)) {
        if (still_leading(s, err) != 0) {
            json_decref(copy);
            return KR_RECONCILE_ERROR;
        }
        rc = release(s, (size_t)idx, obj, attempt, copy);
        json_decref(copy);
        if (rc == 0) {
            /* the informer brings the released copy, and its event wakes
             * us (main maps copies' events to their Runnable): a timer
             * shorter than the final backstop would only fire for nothing */
            *after = s->wake ? follow_backstop_ms(s, false) : 200;
            return KR_RECONCILE_REQUEUE_AFTER;
        }
        if (transient(rc))
            return unreachable(s, obj, (size_t)idx, false, true, after, err);
        kr_error_set(err, rc, "releasing the copy in %s failed", s->clusters[idx].name);
        return KR_RECONCILE_ERROR;
    }
    const char *outcome = failover_outcome(copy);
    bool started = failover_started(copy);
    if (outcome) {
        r = set_outcome(s, obj, outcome, copy, err);
        json_decref(copy);
        return r;
    }
    json_decref(copy);
    if (started && strcmp(sub_str(obj, "status.phase"), SUB_PHASE_RUNNING) != 0)
        return set_phase(s, obj, SUB_PHASE_RUNNING, NULL, "", err);
    if (!started && probe_claim(s, (size_t)idx)) {
        json_t *probe = NULL;
        rc = probe_copy(s, (size_t)idx, obj, attempt, &probe);
        json_decref(probe);
        if (rc != 0 && rc != KR_ENOTFOUND)
            return unreachable(s, obj, (size_t)idx, false, true, after, err);
    } else if (!started && health_since(s, (size_t)idx)) {
        return unreachable(s, obj, (size_t)idx, false, false, after, err);
    }
    /* the informer's events and the cluster's health transitions wake us
     * (an outage included: submitter_probe_cluster); this is the backstop */
    *after = follow_backstop_ms(s, pending);
    if (releasing && !s->wake && *after > RETRY_MS)
        *after = RETRY_MS; /* nothing wakes us when the release lands */
    return KR_RECONCILE_REQUEUE_AFTER;
}

/* Delete every copy (cancel, deletion); DONE once every one is confirmed
 * gone. A cluster known to be failing is asked only by the caller whose
 * turn it is to probe it; the others wait for its return, which wakes
 * every runnable placed on it (wake_cluster). */
static kr_reconcile_result remove_copies(submitter *s, const json_t *obj, uint64_t *after,
                                         kr_error_t *err)
{
    bool retry = false, waiting = false;
    const char *unknown = NULL; /* a cluster not configured that may hold a copy */
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(obj, "status"), "attempts"), i, a)
    {
        const char *state = sub_str(a, "state");
        long idx = submitter_cluster_find(s, sub_str(a, "cluster"));
        if (idx < 0) {
            if (strcmp(state, ATTEMPT_DELETED) != 0 && strcmp(state, ATTEMPT_REFUSED) != 0)
                unknown = sub_str(a, "cluster");
            continue;
        }
        if (strcmp(state, ATTEMPT_DELETED) == 0 || strcmp(state, ATTEMPT_REFUSED) == 0) {
            int rc = delete_late_copy(s, (size_t)idx, obj, sub_int(a, "attempt"));
            if (rc == KR_EUNAVAILABLE && s->wake)
                waiting = true; /* the backstop brings us back */
            else if (rc != 0)
                retry = true;
            continue;
        }
        if (s->wake && health_since(s, (size_t)idx) && !probe_claim(s, (size_t)idx)) {
            waiting = true;
            continue;
        }
        json_t *copy = NULL;
        int rc = probe_name(s, (size_t)idx, obj, sub_int(a, "attempt"), &copy);
        /* ours: by its label, or, its labels taken away, by its name when
         * the books say we created it (a name taken by another's object
         * before our create never got that far) */
        if (rc == 0 && !ours(obj, copy) &&
            (*sub_label(copy, SUB_LABEL_SOURCE_UID) || strcmp(state, ATTEMPT_CREATED) != 0))
            rc = KR_ENOTFOUND;
        if (rc == 0)
            rc = delete_copy(s, (size_t)idx, obj, sub_int(a, "attempt"), copy);
        json_decref(copy);
        if (rc == 0 || rc == KR_ENOTFOUND)
            return mark_attempt(s, obj, sub_int(a, "attempt"), ATTEMPT_DELETED, NULL, NULL, err);
        /* an unreachable cluster is never taken for "gone"; a failure
         * that made it a failing one is retried on its return */
        if (s->wake && health_since(s, (size_t)idx))
            waiting = true;
        else
            retry = true;
    }
    if (retry || waiting) {
        *after = retry ? RETRY_MS : follow_backstop_ms(s, true);
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    if (unknown) /* never taken for "gone" */
        return not_configured(obj, unknown, err);
    return KR_RECONCILE_DONE;
}

static kr_reconcile_result cancelled(submitter *s, const json_t *obj, uint64_t *after,
                                     kr_error_t *err)
{
    kr_reconcile_result r = remove_copies(s, obj, after, err);
    if (r != KR_RECONCILE_DONE || sub_condition_true(obj, "CopiesRemoved"))
        return r;
    json_t *status;
    json_t *copy = edit(obj, &status);
    if (copy)
        sub_set_condition(status, "CopiesRemoved", true, "Cancelled",
                          "every workload copy deleted");
    /* the API recorded CANCELLED with the user who asked */
    return commit(s, copy, err);
}

static kr_reconcile_result step(submitter *s, const json_t *obj, uint64_t *after, kr_error_t *err)
{
    if (*sub_str(obj, "metadata.deletionTimestamp")) {
        if (!has_finalizer(obj))
            return KR_RECONCILE_DONE;
        kr_reconcile_result r = remove_copies(s, obj, after, err);
        if (r != KR_RECONCILE_DONE)
            return r;
        r = set_finalizer(s, obj, false, err);
        /* deleted on the hub before it ended: that ends it, in the books
         * too (once: the finalizer goes with this write). As a cancel
         * through the API, the record is of the hub's Runnable: its
         * resourceVersion as the write that let it go left it (the
         * cluster it was placed in is said in the outcome). */
        const char *phase = sub_str(obj, "status.phase"), *cluster = sub_str(obj, "status.cluster");
        if (r == KR_RECONCILE_DONE && !sub_phase_terminal(phase)) {
            char outcome[200];
            snprintf(outcome, sizeof(outcome),
                     "deleted on the hub: its copies are deleted%s%.63s%s",
                     *cluster ? " (placed in " : "", cluster, *cluster ? ")" : "");
            record(s, obj, "CANCELLED", "",
                   *written_rv() ? written_rv() : sub_str(obj, "metadata.resourceVersion"),
                   outcome);
        }
        return r;
    }
    if (!has_finalizer(obj))
        return set_finalizer(s, obj, true, err);
    const char *phase = sub_str(obj, "status.phase");
    if (!*phase)
        return init_status(s, obj, after, err);
    if (strcmp(phase, SUB_PHASE_PENDING) == 0 || strcmp(phase, SUB_PHASE_AWAITING) == 0) {
        /* back to waiting after a dispatch (its spec changed): a copy of
         * an earlier attempt that has not started goes, as on a failover;
         * it must not start while nobody has approved what runs */
        bool pending = false;
        kr_reconcile_result r = stragglers(s, obj, NULL, false, &pending, err);
        if (r != KR_RECONCILE_DONE)
            return r;
        r = await_approval(s, obj, after, err);
        if (r == KR_RECONCILE_DONE && pending) {
            *after = s->wake ? follow_backstop_ms(s, true) : s->probe_interval_ms;
            return KR_RECONCILE_REQUEUE_AFTER;
        }
        return r;
    }
    if (strcmp(phase, SUB_PHASE_DISPATCHING) == 0)
        return dispatch(s, obj, after, err);
    if (strcmp(phase, SUB_PHASE_DISPATCHED) == 0 || strcmp(phase, SUB_PHASE_RUNNING) == 0)
        return follow(s, obj, after, err);
    if (strcmp(phase, SUB_PHASE_CANCELLED) == 0)
        return cancelled(s, obj, after, err);
    if (strcmp(phase, SUB_PHASE_SUCCEEDED) == 0 || strcmp(phase, SUB_PHASE_FAILED) == 0) {
        bool pending = false;
        kr_reconcile_result r = stragglers(s, obj, NULL, true, &pending, err);
        if (r == KR_RECONCILE_DONE && pending) {
            /* a failing cluster's return wakes us: this is the backstop */
            *after = s->wake ? follow_backstop_ms(s, true) : s->probe_interval_ms;
            return KR_RECONCILE_REQUEUE_AFTER;
        }
        return r;
    }
    /* Rejected: that ends it, so a copy an earlier approval dispatched
     * (before its spec changed) goes, started or not, as on a cancel */
    kr_reconcile_result r = remove_copies(s, obj, after, err);
    if (r != KR_RECONCILE_DONE)
        return r;
    return record_late_decisions(s, obj, after, err);
}

kr_reconcile_result submitter_reconcile(submitter *s, const char *namespace_, const char *name,
                                        uint64_t *requeue_after_ms, kr_error_t *err)
{
    json_t *obj = kr_store_get_by_name(kr_informer_store(s->runnables), namespace_, name);
    if (!obj) { /* gone: forget what we kept of it */
        char key[512];
        snprintf(key, sizeof(key), "%s/%s", namespace_, name);
        pthread_mutex_lock(&s->mu);
        json_object_del(s->expected, key);
        json_object_del(s->created, key);
        json_object_del(s->released, key);
        json_object_del(s->deleted, key);
        pthread_mutex_unlock(&s->mu);
        return KR_RECONCILE_DONE;
    }
    if (cache_behind(s, namespace_, name, obj)) {
        json_decref(obj);
        *requeue_after_ms = CACHE_BEHIND_MS;
        return KR_RECONCILE_REQUEUE_AFTER;
    }
    reconcile_term.leading = s->epoch && s->epoch(&reconcile_term.epoch, s->epoch_user) == 0;
    kr_reconcile_result r = KR_RECONCILE_DONE;
    for (int i = 0; obj; i++) {
        if (i == 16) {
            r = KR_RECONCILE_REQUEUE;
            break;
        }
        r = step(s, obj, requeue_after_ms, err);
        json_decref(obj);
        obj = NULL;
        if (r != STEP_AGAIN)
            break;
        r = KR_RECONCILE_DONE;
        obj = last_written; /* our own write, as the hub answered it */
        last_written = NULL;
    }
    json_decref(obj);
    /* a step that wrote and ended the reconcile (the finalizer removed)
     * leaves its write unread: not kept past the reconcile */
    json_decref(last_written);
    last_written = NULL;
    return r;
}
