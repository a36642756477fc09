/* kr-submitter — the HTTP API as a function from a request to a response,
 * so that tests call it without an endpoint: authentication first (401),
 * then submit, get, list, approve, reject, cancel, and whoami. The identity recorded is
 * always the authenticated one; every write to the hub carries the
 * resourceVersion it was decided on and is retried from a fresh read on
 * 409. Reads come from the hub informer's cache. */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "submitter.h"

#define PREFIX "/api/v1/runnables"
#define WRITE_TRIES 10
#define CACHE_WAIT_MS 5000

static void answer(api_response *resp, int status, json_t *body)
{
    resp->status = status;
    resp->body = body;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xE0) == 0xC0 ? 2
                 : (s[0] & 0xF0) == 0xE0 ? 3
                 : (s[0] & 0xF8) == 0xF0 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    json_t *probe = json_stringn((const char *)s, len); /* overlong forms and surrogates too */
    json_decref(probe);
    return probe ? len : 0;
}

static void answer_error(api_response *resp, int status, const char *message)
{
    /* a message quoting what the caller sent may hold bytes that are no
     * UTF-8, which JSON cannot carry: those become '?' */
    char safe[1200];
    size_t out = 0, n = strlen(message);
    for (size_t i = 0; i < n && out + 5 < sizeof(safe);) {
        size_t len = utf8_seq((const unsigned char *)message + i, n - i);
        if (len == 0) {
            safe[out++] = '?';
            i++;
        } else {
            memcpy(safe + out, message + i, len);
            out += len;
            i += len;
        }
    }
    safe[out] = '\0';
    answer(resp, status, json_pack("{s:s, s:i}", "error", safe, "code", status));
}

/* The HTTP status for a failed hub request: the caller's mistakes (a
 * namespace the client refuses before sending, a body the hub cannot
 * decode) are 4xx; what only the hub's state explains is 503, to retry. */
static int hub_status(int rc, const kr_error_t *err)
{
    switch (rc) {
    case KR_ENOTFOUND:
        return 404;
    case KR_ECONFLICT:
    case KR_EEXIST:
        return 409;
    case KR_EINVALIDOBJ:
        return 422;
    case KR_EFORBIDDEN:
        return 403;
    case KR_EINVAL:
    case KR_EPARSE:
        return 400;
    case KR_ETOOLARGE:
        return 413;
    case KR_EHTTP:
        return err->http_code == 400 ? 400 : 503;
    default:
        return 503;
    }
}

int submitter_record_to_inventory(const sub_event *ev, void *user)
{
    const sub_books *books = user;
    kr_inventory_t *inv = books->inventory;
    json_t *detail = json_pack("{s:s}", "outcome", ev->outcome ? ev->outcome : "");
    const char *hub = books->hub_name ? books->hub_name : "hub";
    kr_inventory_action act = {.cluster = ev->cluster && *ev->cluster ? ev->cluster : hub,
                               .api_version = KR_PLATFORM_API_VERSION,
                               .kind = KR_RUNNABLE_KIND,
                               .namespace_ = ev->namespace_,
                               .name = ev->name,
                               .uid = ev->uid,
                               .resource_version = ev->resource_version,
                               .event = ev->event,
                               .actor = ev->actor,
                               .detail = detail};
    /* The caller logs a failure; a decision waits for its record, other
     * transitions go on (the inventory is the books, not the control
     * path): the outbox records them once the database is back. */
    int rc;
    if (!detail)
        rc = KR_ENOMEM;
    else if (ev->key &&
             (strcmp(ev->event, "APPROVED") == 0 || strcmp(ev->event, "REJECTED") == 0)) {
        bool queued = false;
        if (kr_inventory_outbox_pending(books->outbox) > 0)
            rc = KR_EUNAVAILABLE; /* after those that wait */
        else if (!books->outbox)
            rc = kr_inventory_record_once(inv, &act, ev->key, NULL, NULL);
        /* Through the outbox, as the other transitions: the caller (a
         * reconcile) waits on the database only until it gives up. One
         * left waiting there is not in the books yet: the caller records
         * it again (its key makes that one transaction) when it looks at
         * it next. */
        else if ((rc = kr_inventory_outbox_record_unless(books->outbox, &act, ev->key,
                                                         books->give_up, books->give_up_user,
                                                         &queued, NULL)) == 0 &&
                 queued)
            rc = KR_EUNAVAILABLE;
    } else if (books->outbox) /* the caller waits on the database only until it gives up */
        rc = kr_inventory_outbox_record_unless(books->outbox, &act, ev->key, books->give_up,
                                               books->give_up_user, NULL, NULL);
    else if (ev->key)
        rc = kr_inventory_record_once(inv, &act, ev->key, NULL, NULL);
    else
        rc = kr_inventory_record(inv, &act, NULL, NULL);
    json_decref(detail);
    return rc;
}

static json_t *read_runnable(api *a, const char *ns, const char *name, bool fresh);

/* A 404 naming what was looked for, as kube-apiserver names it (with
 * the namespace, which a CLI default may have chosen). */
static void not_found(api_response *resp, const char *ns, const char *name, const char *more)
{
    char message[700];
    snprintf(message, sizeof(message), "runnables.%s \"%.253s\" not found in namespace \"%.63s\"%s",
             KR_PLATFORM_GROUP, name, ns, more);
    answer_error(resp, 404, message);
}

/* Whether the caller may `verb` runnables in namespace ns (NULL or "":
 * every namespace), or the one named `name`, as the hub's RBAC says when
 * --authorization-review asks it (else anyone authenticated may): 0, or
 * the status to answer with err->message: 403 in kube-apiserver's words,
 * 503 when the hub could not be asked, 400 for a name no review can
 * carry (not UTF-8). The verbs: create (submit), get (a runnable, its
 * history), list, and two of the submitter's own, approve (approve and
 * reject) and cancel. */
static int authorize(api *a, const kr_token_user *who, const char *verb, const char *ns,
                     const char *name, kr_error_t *err)
{
    if (!a->authorizer)
        return 0;
    kr_access_attrs at = {.verb = verb,
                          .group = KR_PLATFORM_GROUP,
                          .resource = "runnables",
                          .namespace_ = ns,
                          .name = name};
    bool allowed = false;
    char reason[256];
    kr_error_t e = {0};
    if (kr_access_reviewer_check(a->authorizer, who, &at, &allowed, reason, sizeof(reason), &e) !=
        0)
        return e.code == KR_EINVAL
                   ? sub_fail(err, 400, KR_EINVAL, "%s", e.message)
                   : sub_fail(err, e.code == KR_ENOMEM ? 500 : 503, e.code,
                              "cannot authorize: the hub's access review: %s", e.message);
    if (allowed)
        return 0;
    char named[300] = "", scope[300] = "at the cluster scope";
    if (name && *name)
        snprintf(named, sizeof(named), " \"%.253s\"", name);
    if (ns && *ns)
        snprintf(scope, sizeof(scope), "in the namespace \"%.253s\"", ns);
    return sub_fail(err, 403, KR_EFORBIDDEN,
                    "runnables.%s%s is forbidden: User \"%.253s\" cannot %s resource "
                    "\"runnables\" in API group \"%s\" %s%s%s",
                    KR_PLATFORM_GROUP, named, who->user, verb, KR_PLATFORM_GROUP, scope,
                    *reason ? ": " : "", reason);
}

/* authorize, answering a refusal in resp: true when the caller may. */
static bool authorized(api *a, const kr_token_user *who, const char *verb, const char *ns,
                       const char *name, api_response *resp)
{
    kr_error_t err = {0};
    int status = authorize(a, who, verb, ns, name, &err);
    if (status != 0)
        answer_error(resp, status, err.message);
    return status == 0;
}

/* submission_opts.admit: may the caller submit runnables in ns? A verb of
 * kr-submitter's own, not the hub's `create`: whoever may create Runnables
 * on the hub makes ones submitted by "unknown", and could approve their
 * own; the API's submitters need no such right. */
typedef struct admit_ctx {
    api *a;
    const kr_token_user *who;
} admit_ctx;

static int admit_namespace(const char *ns, void *user, kr_error_t *err)
{
    admit_ctx *c = user;
    return authorize(c->a, c->who, "submit", ns, NULL, err);
}

/* Rows of the inventory's history asked for at once. */
#define HISTORY_PAGE 1000

/* Every transaction on one Runnable across clusters, from the inventory:
 * the transitions recorded here (with their outcome) and what its
 * informers observed; kept after the Runnable is gone. One Runnable is
 * one uid: ?uid= names it, else the Runnable of that name now; with
 * neither (none of the name now), every one that had the name, each row
 * with its uid. A name with neither a Runnable nor a history is a 404, as
 * GET answers. */
static void history(api *a, const api_request *req, const char *ns, const char *name,
                    api_response *resp)
{
    if (!a->inventory) {
        answer_error(resp, 501,
                     "history is read from the inventory: start kr-submitter with "
                     "--inventory URL");
        return;
    }
    json_t *obj = read_runnable(a, ns, name, false);
    char uid[128];
    snprintf(uid, sizeof(uid), "%s",
             req->q_uid && *req->q_uid ? req->q_uid : sub_str(obj, "metadata.uid"));
    json_t *items = json_array();
    int64_t after = 0;
    size_t got = HISTORY_PAGE;
    kr_error_t err = {0};
    int rc = items ? 0 : KR_ENOMEM;
    while (rc == 0 && got == HISTORY_PAGE) {
        json_t *page = NULL;
        rc = kr_inventory_history(a->inventory, KR_RUNNABLE_KIND, ns, name, after, HISTORY_PAGE,
                                  &page, &err);
        got = json_array_size(page);
        size_t i;
        json_t *row;
        json_array_foreach(page, i, row)
        {
            after = json_integer_value(json_object_get(row, "seq"));
            if (*uid && strcmp(sub_str(row, "uid"), uid) != 0)
                continue;
            json_t *outcome = json_object_get(json_object_get(row, "patch"), "outcome");
            if (json_is_string(outcome))
                json_object_set(row, "outcome", outcome);
            json_array_append(items, row);
        }
        json_decref(page);
    }
    if (rc != 0) {
        char message[1100];
        submitter_inventory_error(err.message, message, sizeof(message));
        answer_error(resp, rc == KR_ENOMEM ? 500 : 503, message);
    } else if (json_array_size(items) == 0 && !obj) {
        not_found(resp, ns, name, ", and no history of one");
    } else if (json_array_size(items) == 0 && req->q_uid && *req->q_uid &&
               strcmp(req->q_uid, sub_str(obj, "metadata.uid")) != 0) {
        /* another uid than the runnable's now, with nothing recorded */
        char more[200];
        snprintf(more, sizeof(more), " of uid \"%.128s\", and no history of one", req->q_uid);
        not_found(resp, ns, name, more);
    } else {
        answer(resp, 200, json_pack("{s:O}", "items", items));
    }
    json_decref(items);
    json_decref(obj);
}

static int record_user(api *a, const json_t *obj, const char *event, const kr_token_user *who,
                       const char *outcome, const char *key)
{
    sub_event ev = {event,
                    sub_str(obj, "metadata.namespace"),
                    sub_str(obj, "metadata.name"),
                    sub_str(obj, "metadata.uid"),
                    who->user,
                    "", /* the hub's: the resourceVersion is the Runnable's */
                    sub_str(obj, "metadata.resourceVersion"),
                    outcome,
                    key};
    return submitter_record(a->s, &ev);
}

/* Let the cache catch up with a write we answer with, so that the
 * caller's next GET (served from the cache) sees it. */
static void await_cache(api *a, const json_t *written)
{
    kr_informer_wait_for_resource_version(
        a->s->runnables, sub_str(written, "metadata.resourceVersion"), CACHE_WAIT_MS, NULL);
}

/* Record the submitter in the new Runnable's status (the controller may
 * have marked it "unknown" in between: the API created it, so it knows),
 * with the first placement decision when it needs no approval and this
 * replica leads: one status write, with the resourceVersion read. */
static json_t *admit(api *a, json_t *created, const kr_token_user *who, bool *written)
{
    *written = false;
    const char *ns = sub_str(created, "metadata.namespace");
    json_t *obj = json_incref(created);
    for (int i = 0; i < WRITE_TRIES && obj; i++) {
        const char *by = sub_str(obj, "status.submittedBy");
        if ((*by && strcmp(by, SUB_UNKNOWN_SUBMITTER) != 0) ||
            json_array_size(json_object_get(json_object_get(obj, "status"), "approvals")) > 0 ||
            (*sub_str(obj, "status.phase") &&
             strcmp(sub_str(obj, "status.phase"), SUB_PHASE_PENDING) != 0 &&
             strcmp(sub_str(obj, "status.phase"), SUB_PHASE_AWAITING) != 0))
            break;
        /* shallow: only the status is new (metadata and spec are sent
         * as they are) */
        json_t *copy = json_copy(obj);
        json_t *status = json_object();
        char hash[65];
        if (!copy || !status || approval_spec_hash(obj, hash) != 0) {
            json_decref(copy);
            json_decref(status);
            break;
        }
        json_object_set_new(status, "submittedBy", json_string(who->user));
        json_object_set_new(status, "specHash", json_string(hash));
        approval_policy_record(status, obj);
        json_object_set_new(copy, "status", status);
        /* without approvals to wait for it goes straight to Dispatching,
         * and the leader's API decides where in the same write (the
         * controller would decide the same with one more write) */
        const char *phase = approval_next_phase(copy, hash);
        json_object_set_new(status, "phase", json_string(phase));
        if (strcmp(phase, SUB_PHASE_DISPATCHING) == 0)
            submitter_first_decision(a->s, obj, status);
        json_t *out = NULL;
        int rc = kr_client_update_status(a->s->hub, SUB_RUNNABLES, ns, copy, NULL, &out, NULL);
        json_decref(copy);
        if (rc == 0) {
            json_decref(obj);
            *written = true;
            return out;
        }
        if (rc != KR_ECONFLICT)
            break;
        json_t *fresh = NULL;
        kr_client_get(a->s->hub, SUB_RUNNABLES, ns, sub_str(obj, "metadata.name"), &fresh, NULL);
        json_decref(obj);
        obj = fresh;
    }
    return obj;
}

/* The Runnable of namespace `ns` submitted with idempotency key `key`,
 * from the cache (new), or NULL. */
static json_t *keyed_runnable(api *a, const char *ns, const char *key)
{
    json_t *items = NULL, *found = NULL;
    if (kr_store_list_namespace(kr_informer_store(a->s->runnables), ns, &items, NULL) != 0)
        return NULL;
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r)
    {
        if (strcmp(sub_str(r, "spec.idempotencyKey"), key) == 0) {
            found = json_incref(r);
            break;
        }
    }
    json_decref(items);
    return found;
}

/* One keyed submission at a time per key in this process (striped): the
 * look for the key's Runnable, the create and the wait until the cache
 * has it are one step, so that submissions with one key under different
 * names, sent at once, make one Runnable. Across replicas the name, which
 * the key gives a submitted manifest, does it: AlreadyExists. */
#define KEY_STRIPES 64
static pthread_mutex_t key_locks[KEY_STRIPES];
static pthread_once_t key_locks_once = PTHREAD_ONCE_INIT;

static void key_locks_init(void)
{
    for (size_t i = 0; i < KEY_STRIPES; i++)
        pthread_mutex_init(&key_locks[i], NULL);
}

static pthread_mutex_t *key_lock(const char *ns, const char *key)
{
    pthread_once(&key_locks_once, key_locks_init);
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of "ns/key" */
    for (const char *p = ns; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ '/') * 1099511628211ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return &key_locks[h % KEY_STRIPES];
}

static void submit_once(api *a, const kr_token_user *who, api_response *resp, json_t *runnable);

static void submit(api *a, const api_request *req, const kr_token_user *who, api_response *resp)
{
    /* given empty (a variable left unset), each would read as not given:
     * no key (a retry makes a second runnable), every cluster */
    if (req->q_idempotency_key && !*req->q_idempotency_key) {
        answer_error(resp, 400, "idempotencyKey is empty: give a key, or leave the parameter out");
        return;
    }
    if (req->q_clusters && !*req->q_clusters) {
        answer_error(resp, 400,
                     "clusters is empty: name at least one, or leave the parameter out for every "
                     "cluster");
        return;
    }
    const char *names[64];
    size_t n = a->s->n_clusters < 64 ? a->s->n_clusters : 64;
    for (size_t i = 0; i < n; i++)
        names[i] = a->s->clusters[i].name;
    admit_ctx admit = {a, who};
    submission_opts o = {.namespace_ = req->q_namespace,
                         .clusters = names,
                         .n_clusters = n,
                         .clusters_arg = req->q_clusters,
                         .idempotency_key = req->q_idempotency_key,
                         .kind = submitter_kind_lookup,
                         .kind_user = a->s,
                         .admit = admit_namespace,
                         .admit_user = &admit};
    json_t *runnable = NULL;
    kr_error_t err = {0};
    int status = submission_build(req->body, req->body_len, &o, &runnable, &err);
    if (status != 0) {
        answer_error(resp, status, err.message);
        return;
    }
    const char *key = sub_str(runnable, "spec.idempotencyKey");
    pthread_mutex_t *lock = *key ? key_lock(sub_str(runnable, "metadata.namespace"), key) : NULL;
    if (lock)
        pthread_mutex_lock(lock);
    submit_once(a, who, resp, runnable); /* takes runnable */
    if (lock)
        pthread_mutex_unlock(lock);
}

/* The first Runnable of an idempotency key answers a second submission
 * of it (under any manifest name), unless that one asks for another
 * workload (the template's kind or spec): then the key was reused by
 * mistake, and saying so beats running nothing. */
static void answer_keyed(api_response *resp, json_t *first, const json_t *again)
{
    const json_t *t1 = json_object_get(json_object_get(first, "spec"), "template"),
                 *t2 = json_object_get(json_object_get(again, "spec"), "template");
    if (json_equal(json_object_get(t1, "kind"), json_object_get(t2, "kind")) &&
        json_equal(json_object_get(t1, "spec"), json_object_get(t2, "spec"))) {
        answer(resp, 200, first);
        return;
    }
    char msg[700];
    snprintf(msg, sizeof(msg),
             "idempotency key %.200s was used for another template (runnable %.63s/%.253s): "
             "choose another key",
             sub_str(again, "spec.idempotencyKey"), sub_str(first, "metadata.namespace"),
             sub_str(first, "metadata.name"));
    json_decref(first);
    answer_error(resp, 409, msg);
}

/* answer_keyed, for a caller who may see the first runnable (get): the
 * key is the namespace's, not the caller's, so another user's runnable
 * is not shown to one who may only create. Takes first. */
static void answer_keyed_to(api *a, const kr_token_user *who, api_response *resp, json_t *first,
                            const json_t *again)
{
    if (authorized(a, who, "get", sub_str(first, "metadata.namespace"),
                   sub_str(first, "metadata.name"), resp))
        answer_keyed(resp, first, again);
    else
        json_decref(first);
}

static void submit_once(api *a, const kr_token_user *who, api_response *resp, json_t *runnable)
{
    kr_error_t err = {0};
    /* A manifest's name comes from the key, so the same key again meets
     * AlreadyExists below, whichever replica sends it; in this process the
     * key's lock also makes a Runnable named otherwise find the first. */
    const char *key = sub_str(runnable, "spec.idempotencyKey");
    bool keyed = *key; /* key dies with runnable, below */
    json_t *first = keyed ? keyed_runnable(a, sub_str(runnable, "metadata.namespace"), key) : NULL;
    if (first) {
        answer_keyed_to(a, who, resp, first, runnable);
        json_decref(runnable);
        return;
    }
    char cluster[64];
    if (a->dry_run && submitter_dry_run(a->s, runnable, cluster, sizeof(cluster), &err) != 0) {
        char message[sizeof(err.message) + 128];
        if (*cluster)
            snprintf(message, sizeof(message), "cluster %s refuses the template: %s", cluster,
                     err.message);
        else
            snprintf(message, sizeof(message), "%s", err.message);
        answer_error(resp, *cluster ? 422 : 500, message);
        json_decref(runnable);
        return;
    }
    const char *ns = sub_str(runnable, "metadata.namespace");
    /* the name is known before the create unless generated */
    char name[254];
    snprintf(name, sizeof(name), "%s", sub_str(runnable, "metadata.name"));
    if (*name)
        submitter_admit_begin(a->s, ns, name);
    json_t *created = NULL;
    int rc = kr_client_create(a->s->hub, SUB_RUNNABLES, ns, runnable, NULL, &created, &err);
    if (rc != 0 && *name) /* nothing of ours to admit (or a create lost on its way back) */
        submitter_admit_end(a->s, ns, name, false);
    if (rc == KR_EEXIST) {
        /* the key's Runnable exists: the same submission again */
        json_t *existing = NULL;
        rc = kr_client_get(a->s->hub, SUB_RUNNABLES, ns, sub_str(runnable, "metadata.name"),
                           &existing, &err);
        if (rc == 0 && *key && strcmp(sub_str(existing, "spec.idempotencyKey"), key) == 0)
            answer_keyed_to(a, who, resp, existing, runnable);
        else if (rc == 0) {
            bool other_key = *sub_str(existing, "spec.idempotencyKey") || *key;
            json_decref(existing);
            answer_error(resp, 409,
                         other_key ? "a runnable of that name exists (another idempotency key)"
                                   : "a runnable of that name exists");
        } else
            answer_error(resp, hub_status(rc, &err), err.message);
        json_decref(runnable);
        return;
    }
    json_decref(runnable);
    if (rc != 0) {
        answer_error(resp, hub_status(rc, &err), err.message);
        return;
    }
    snprintf(name, sizeof(name), "%s", sub_str(created, "metadata.name"));
    ns = sub_str(created, "metadata.namespace");
    submitter_admit_begin(a->s, ns, name); /* a generated name is known now */
    /* recorded before the admission lets the controller act on it, so
     * that SUBMITTED always comes first; under the key the controller's
     * record of a Runnable it takes for one created on the hub has, so
     * that the books hold one SUBMITTED even then (this record waited
     * past the grace, and another replica's controller took it) */
    char once[300];
    submitter_submission_key(sub_str(created, "metadata.uid"), once, sizeof(once));
    record_user(a, created, "SUBMITTED", who, "submitted through the API", once);
    bool written = false;
    json_t *admitted = admit(a, created, who, &written);
    submitter_admit_end(a->s, ns, name, written);
    json_decref(created);
    if (!admitted) {
        answer_error(resp, 503, "the runnable was created but could not be read back");
        return;
    }
    /* a read that misses the cache asks the hub; but the next submission
     * with this key must find it there (it waits on the key's lock) */
    if (keyed)
        await_cache(a, admitted);
    answer(resp, 201, admitted);
}

/* The Runnable ns/name: from the cache first, from the hub after a 409 or
 * when the cache has not seen it yet (just submitted). */
static json_t *read_runnable(api *a, const char *ns, const char *name, bool fresh)
{
    if (!fresh) {
        json_t *cached = kr_store_get_by_name(kr_informer_store(a->s->runnables), ns, name);
        if (cached)
            return cached;
    }
    json_t *obj = NULL;
    kr_client_get(a->s->hub, SUB_RUNNABLES, ns, name, &obj, NULL);
    return obj;
}

typedef enum verb { VERB_APPROVE, VERB_REJECT, VERB_CANCEL } verb;

/* What a decision did, for the record: "approved: 1 of 2", "approved:
 * quorum met" (the approvals counted for the spec as written), else the
 * phase it led to. */
static void decision_outcome(const json_t *written, verb v, char *out, size_t len)
{
    char hash[65];
    if (v != VERB_APPROVE || approval_spec_hash(written, hash) != 0) {
        snprintf(out, len, "%s", sub_str(written, "status.phase"));
        return;
    }
    unsigned n = approval_count(written, hash), need = approval_required(written);
    if (n >= need)
        snprintf(out, len, "approved: quorum met");
    else
        snprintf(out, len, "approved: %u of %u", n, need);
}

/* Decisions the hub took before the one at `mine` in written's approvals
 * (which keep the hub's order; every one for a cancel, `mine` past the
 * end) that are not in the books yet: their authors' APIs, on another
 * replica or in another request, are between their writes and their
 * records, or stopped there. Each is recorded first, for its author,
 * under its own key, so that the books hold the decisions in the order
 * the hub took them, whoever records first (the author's record is then
 * a no-op, or this one is). The resourceVersion of the author's write is
 * not known here: the record names the Runnable's in `written`, a state
 * of it that holds the decision. 0, or the error of the first that could not be
 * recorded: a decision after it then waits too (the controller records
 * them late, in order). */
static int record_earlier(api *a, const json_t *written, size_t mine)
{
    const json_t *all = json_object_get(json_object_get(written, "status"), "approvals");
    for (size_t i = 0; i < mine && i < json_array_size(all); i++) {
        const json_t *e = json_array_get(all, i);
        if (!json_is_false(json_object_get(e, "recorded")) || !approval_sealed(written, e))
            continue; /* in the books, or no API's (the controller records it as FORGED) */
        bool approve = strcmp(sub_str(e, "decision"), "Rejected") != 0;
        const char *event = approve ? "APPROVED" : "REJECTED", *hash = sub_str(e, "specHash");
        char outcome[64], key[512];
        approval_outcome(written, i, outcome, sizeof(outcome));
        submitter_decision_key(sub_str(written, "metadata.uid"), event, sub_str(e, "user"), hash,
                               key, sizeof(key));
        sub_event ev = {event,
                        sub_str(written, "metadata.namespace"),
                        sub_str(written, "metadata.name"),
                        sub_str(written, "metadata.uid"),
                        sub_str(e, "user"),
                        "", /* the hub's */
                        sub_str(written, "metadata.resourceVersion"),
                        outcome,
                        key};
        int rc = submitter_record_behalf(a->s, &ev);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The decision of `who` just written (`written`, stolen) is in the
 * inventory: mark it recorded, which lets the Runnable move on (to
 * Dispatching when it completes the quorum). Returns the Runnable as
 * last written (new). */
static json_t *mark_recorded(api *a, json_t *written, const kr_token_user *who, verb v)
{
    const char *decision = v == VERB_APPROVE ? "Approved" : "Rejected";
    char hash[65];
    if (approval_spec_hash(written, hash) != 0)
        return written;
    const char *ns = sub_str(written, "metadata.namespace");
    json_t *obj = json_incref(written);
    for (int i = 0; i < WRITE_TRIES && obj; i++) {
        json_t *copy = json_deep_copy(obj);
        if (!copy || !approval_mark_recorded(copy, who->user, decision, hash)) {
            json_decref(copy);
            break; /* marked by someone else (the controller, late) */
        }
        sub_status_settle(json_object_get(copy, "status"));
        json_t *out = NULL;
        int rc = kr_client_update_status(a->s->hub, SUB_RUNNABLES, ns, copy, NULL, &out, NULL);
        json_decref(copy);
        if (rc == 0) {
            json_decref(obj);
            json_decref(written);
            return out;
        }
        if (rc != KR_ECONFLICT)
            break; /* the controller marks it after the grace */
        json_t *fresh = NULL;
        kr_client_get(a->s->hub, SUB_RUNNABLES, ns, sub_str(obj, "metadata.name"), &fresh, NULL);
        json_decref(obj);
        obj = fresh;
    }
    json_decref(obj);
    return written;
}

/* Apply the verb to a copy of obj; 200 and *changed, or an error status. */
static int apply_verb(verb v, json_t *copy, const kr_token_user *who, const char *expected_hash,
                      bool *changed, kr_error_t *err)
{
    json_t *before = json_deep_copy(copy);
    int status = 200;
    if (v != VERB_CANCEL) {
        status = approval_decide(copy, who, v == VERB_APPROVE, expected_hash, err);
    } else {
        /* who may cancel: its submitter, or whoever may approve it */
        const char *phase = sub_str(copy, "status.phase");
        const char *group = approval_group(copy);
        if (strcmp(sub_str(copy, "status.submittedBy"), who->user) != 0 && *group &&
            !kr_token_user_in_group(who, group)) {
            status = sub_fail(err, 403, KR_EFORBIDDEN,
                              "%s neither submitted this runnable nor is a member of group %s, "
                              "which approves it",
                              who->user, group);
        } else if (strcmp(phase, SUB_PHASE_CANCELLED) != 0 && sub_phase_terminal(phase)) {
            status = sub_fail(err, 409, KR_ECONFLICT, "the runnable is %s already", phase);
        } else if (strcmp(phase, SUB_PHASE_CANCELLED) != 0) {
            json_t *st = json_object_get(copy, "status");
            if (!json_is_object(st)) {
                st = json_object();
                json_object_set_new(copy, "status", st);
            }
            char msg[300];
            snprintf(msg, sizeof(msg), "cancelled by %s", who->user);
            json_object_set_new(st, "phase", json_string(SUB_PHASE_CANCELLED));
            sub_set_condition(st, "Cancelled", true, "UserRequest", msg);
        }
    }
    *changed = !json_equal(before, copy);
    json_decref(before);
    return status;
}

/* Whether `hash` is in the form approval_spec_hash gives one: the 64
 * lower-case hex digits of a SHA-256. */
static bool spec_hash_form(const char *hash)
{
    size_t n = 0;
    for (; hash[n]; n++)
        if (!((hash[n] >= '0' && hash[n] <= '9') || (hash[n] >= 'a' && hash[n] <= 'f')))
            return false;
    return n == 64;
}

static void act(api *a, const api_request *req, const kr_token_user *who, const char *ns,
                const char *name, verb v, api_response *resp)
{
    /* An optional body {"specHash": "..."} binds the decision to the spec
     * the caller looked at; one that says anything else is refused, never
     * taken for no body (the decision would bind to whatever is current). */
    json_t *body = NULL;
    if (req->body_len > SUB_MAX_BODY) {
        answer_error(resp, 400, "the body is larger than 1 MiB");
        return;
    }
    if (req->body_len > 0) {
        json_error_t jerr;
        body = json_loadb(req->body, req->body_len, 0, &jerr);
        const json_t *given = json_object_get(body, "specHash");
        if (!json_is_object(body) || (given && !json_is_string(given))) {
            answer_error(resp, 400,
                         body ? "the body must be {\"specHash\": \"<the spec hash approved>\"}"
                              : "the body is not JSON");
            json_decref(body);
            return;
        }
    }
    const char *expected = sub_str(body, "specHash");
    /* one that cannot be a spec's hash is a mistake, not a spec changed
     * since (a 409 would say it was) */
    if (*expected && !spec_hash_form(expected)) {
        char message[400];
        snprintf(message, sizeof(message),
                 "specHash \"%.100s\" is not a spec hash: one is 64 lower-case hex digits (the "
                 "SHA-256 status.specHash shows), given whole",
                 expected);
        answer_error(resp, 400, message);
        json_decref(body);
        return;
    }
    for (int i = 0; i < WRITE_TRIES; i++) {
        json_t *obj = read_runnable(a, ns, name, i > 0);
        if (!obj) {
            not_found(resp, ns, name, "");
            break;
        }
        json_t *copy = json_deep_copy(obj);
        kr_error_t err = {0};
        bool changed = false;
        /* a decision on a spec edited since the controller looked voids
         * approvals as the controller's look would: said as it says it */
        char now_hash[65], voided[300];
        bool voids = v != VERB_CANCEL && approval_spec_hash(obj, now_hash) == 0 &&
                     approval_voided(obj, now_hash, voided, sizeof(voided)) > 0;
        int status = copy ? apply_verb(v, copy, who, expected, &changed, &err) : 500;
        if (status != 200 || !changed) {
            if (status == 200)
                answer(resp, 200, json_incref(obj));
            else
                answer_error(resp, status, copy ? err.message : "out of memory");
            json_decref(copy);
            json_decref(obj);
            break;
        }
        sub_status_settle(json_object_get(copy, "status"));
        json_t *out = NULL;
        int rc = kr_client_update_status(a->s->hub, SUB_RUNNABLES, ns, copy, NULL, &out, &err);
        json_decref(copy);
        json_decref(obj);
        if (rc == KR_ECONFLICT)
            continue; /* someone wrote in between: decide again on a fresh read */
        if (rc != 0) {
            answer_error(resp, hub_status(rc, &err), err.message);
            break;
        }
        if (voids)
            submitter_approvals_voided(a->s, out, voided);
        static const char *const events[] = {"APPROVED", "REJECTED", "CANCELLED"};
        char outcome[64];
        decision_outcome(out, v, outcome, sizeof(outcome));
        /* A decision is marked recorded only once it is in the books:
         * otherwise the controller records it after the grace (with the
         * same key, so never twice) and the Runnable waits for that. */
        char key[512] = "", hash[65];
        if (v != VERB_CANCEL && approval_spec_hash(out, hash) == 0)
            submitter_decision_key(sub_str(out, "metadata.uid"), events[v], who->user, hash, key,
                                   sizeof(key));
        /* the decisions the hub took before this one go first (a cancel
         * goes through the outbox whatever they do); this decision was
         * appended last */
        size_t n = json_array_size(json_object_get(json_object_get(out, "status"), "approvals"));
        int recorded = record_earlier(a, out, v == VERB_CANCEL ? n : n - 1);
        if (recorded == 0 || v == VERB_CANCEL)
            recorded = record_user(a, out, events[v], who, outcome, *key ? key : NULL);
        if (v != VERB_CANCEL && recorded == 0)
            out = mark_recorded(a, out, who, v);
        await_cache(a, out);
        answer(resp, 200, out);
        break;
    }
    if (!resp->body)
        answer_error(resp, 409, "the runnable kept changing: try again");
    json_decref(body);
}

static int by_key(const void *x, const void *y)
{
    const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    int c = strcmp(sub_str(a, "metadata.namespace"), sub_str(b, "metadata.namespace"));
    return c ? c : strcmp(sub_str(a, "metadata.name"), sub_str(b, "metadata.name"));
}

/* ?limit: 0 (none given, or 0) is everything, as kube-apiserver reads it. */
static bool parse_limit(const char *text, size_t *out)
{
    *out = 0;
    if (!text || !*text)
        return true;
    /* any int64, as kube-apiserver takes one (kubectl --chunk-size is
     * one): a page that large is every item */
    unsigned long long n = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        n = n * 10 + (unsigned long long)(*p - '0');
        if (n > 9223372036854775807ULL)
            return false;
    }
    *out = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
    return true;
}

/* A continue token: the hex of "NS/NAME", the last item of the page
 * before; the next page starts after it (items added or removed between
 * pages are seen or not by where they sort). */
static void encode_continue(const json_t *last, char *out, size_t len)
{
    char key[520];
    snprintf(key, sizeof(key), "%s/%s", sub_str(last, "metadata.namespace"),
             sub_str(last, "metadata.name"));
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p && o + 3 <= len; p++, o += 2)
        snprintf(out + o, len - o, "%02x", *p);
}

static bool decode_continue(const char *tok, char *ns, char *name, size_t len)
{
    char key[520];
    size_t n = strlen(tok);
    if (n == 0 || n % 2 || n / 2 >= sizeof(key))
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)tok[2 * i]) || !isxdigit((unsigned char)tok[2 * i + 1]) ||
            sscanf(tok + 2 * i, "%2x", &v) != 1 || v == 0)
            return false;
        key[i] = (char)v;
    }
    key[n / 2] = '\0';
    const char *slash = strchr(key, '/');
    if (!slash || slash == key || !slash[1] || (size_t)(slash - key) >= len ||
        strlen(slash + 1) >= len)
        return false;
    snprintf(ns, len, "%.*s", (int)(slash - key), key);
    snprintf(name, len, "%s", slash + 1);
    return true;
}

static void list(api *a, const api_request *req, const kr_token_user *who, api_response *resp)
{
    if (!authorized(a, who, "list", req->q_namespace, NULL, resp))
        return;
    size_t limit;
    char after_ns[254] = "", after_name[254] = "";
    if (!parse_limit(req->q_limit, &limit)) {
        answer_error(resp, 400,
                     "limit must be a whole number from 0 (no limit) to 9223372036854775807");
        return;
    }
    if (req->q_continue && *req->q_continue &&
        !decode_continue(req->q_continue, after_ns, after_name, sizeof(after_ns))) {
        answer_error(resp, 400, "the continue token is not one this API gave");
        return;
    }
    kr_store_t *st = kr_informer_store(a->s->runnables);
    json_t *items = NULL;
    int rc = req->q_namespace && *req->q_namespace
                 ? kr_store_list_namespace(st, req->q_namespace, &items, NULL)
                 : kr_store_list(st, &items, NULL);
    if (rc != 0) {
        answer_error(resp, 500, "out of memory");
        return;
    }
    size_t n = json_array_size(items);
    json_t **sorted = calloc(n ? n : 1, sizeof(json_t *));
    json_t *out = json_array();
    if (!sorted || !out) {
        free(sorted);
        json_decref(out);
        json_decref(items);
        answer_error(resp, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_array_get(items, i);
    qsort((void *)sorted, n, sizeof(json_t *), by_key);
    size_t first = 0;
    while (*after_ns && first < n) {
        int c = strcmp(sub_str(sorted[first], "metadata.namespace"), after_ns);
        if (c > 0 || (c == 0 && strcmp(sub_str(sorted[first], "metadata.name"), after_name) > 0))
            break;
        first++;
    }
    size_t end = limit && n - first > limit ? first + limit : n;
    for (size_t i = first; i < end; i++)
        json_array_append(out, sorted[i]);
    json_t *md = json_object();
    if (md && end < n) {
        char token[1100];
        encode_continue(sorted[end - 1], token, sizeof(token));
        json_object_set_new(md, "continue", json_string(token));
        json_object_set_new(md, "remainingItemCount", json_integer((json_int_t)(n - end)));
    }
    free(sorted);
    json_decref(items);
    answer(resp, 200,
           json_pack("{s:s, s:s, s:o*, s:o}", "apiVersion", SUB_API_VERSION, "kind", "RunnableList",
                     "metadata", md, "items", out));
}

/* "/api/v1/runnables/NS/NAME[/VERB]" into its parts; false when malformed. */
/* Each part buffer holds `len` bytes. */
static bool split_path(const char *rest, char *ns, char *name, char *verb_out, size_t len)
{
    ns[0] = name[0] = verb_out[0] = '\0';
    char *parts[3] = {ns, name, verb_out};
    size_t n = 0;
    const char *p = rest;
    while (*p && n < 3) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (l == 0 || l >= len)
            return false;
        memcpy(parts[n], p, l);
        parts[n++][l] = '\0';
        p += l + (slash ? 1 : 0);
        if (slash && !*p)
            return false;
    }
    return !*p && n >= 2;
}

void submitter_inventory_error(const char *message, char *buf, size_t len)
{
    /* the inventory's own errors name it already */
    snprintf(buf, len, "%s%s",
             strncmp(message, "inventory:", 10) == 0 ? "" : "inventory: ", message);
}

/* Whether an Authorization header holds a bearer token at all ("Bearer"
 * in any case, a space, something): a header without one (no token after
 * it, or another scheme) is answered as no header is. */
static bool bearer_given(const char *h)
{
    if (!h || strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return false;
    for (h += 6; *h == ' ' || *h == '\t';)
        h++;
    return *h != '\0';
}

/* The caller: the token file's user, else the hub's TokenReview answer
 * (*owned, new), else NULL with resp answered: 401, or 503 when the hub
 * could not be asked. */
static const kr_token_user *authenticate(api *a, const api_request *req, kr_token_user **owned,
                                         api_response *resp)
{
    kr_error_t err = {0};
    if (kr_token_authenticate(a->auth, a->reviewer, req->authorization, owned, &err) != 0) {
        char message[sizeof(err.message) + 64];
        snprintf(message, sizeof(message), "cannot authenticate: the hub's token review: %s",
                 err.message);
        answer_error(resp, err.code == KR_ENOMEM ? 500 : 503, message);
        return NULL;
    }
    if (!*owned)
        answer_error(resp, 401,
                     bearer_given(req->authorization)
                         ? "unauthorized: the bearer token is not one this server knows"
                         : "unauthorized: send Authorization: Bearer <token>");
    return *owned;
}

/* GET /api/v1/whoami: the caller as the API authenticated it. */
static void whoami(const kr_token_user *who, api_response *resp)
{
    json_t *groups = json_array();
    for (size_t i = 0; groups && i < who->n_groups; i++)
        json_array_append_new(groups, json_string(who->groups[i]));
    answer(resp, 200,
           json_pack("{s:s, s:s, s:o*}", "username", who->user, "uid", who->uid ? who->uid : "",
                     "groups", groups));
}

/* A 405 naming the methods the path takes (RFC 9110: with Allow). */
static void not_allowed(api_response *resp, const char *allow, const char *message)
{
    answer_error(resp, 405, message);
    resp->allow = allow;
}

/* Whether the query is one the path takes: each parameter one of
 * `takes` (NULL-ended), once, as kr-inventory's API takes them, and a
 * namespace a namespace's name; else false with a 400 answered. */
static bool query_taken(const api_request *req, const char *const *takes, api_response *resp)
{
    char message[400];
    for (size_t i = 0; i < req->n_q_names; i++) {
        const char *name = req->q_names[i];
        size_t k = 0;
        while (takes[k] && strcmp(takes[k], name) != 0)
            k++;
        bool twice = false;
        for (size_t j = 0; j < i && !twice; j++)
            twice = strcmp(req->q_names[j], name) == 0;
        if (!takes[k] || twice) {
            snprintf(message, sizeof(message),
                     twice ? "query parameter \"%.200s\" given twice"
                           : "unknown query parameter \"%.200s\"",
                     name);
            answer_error(resp, 400, message);
            return false;
        }
    }
    /* "" is every namespace (list) or the body's (submit) */
    if (req->q_namespace && *req->q_namespace && !kr_name_is_dns1123_label(req->q_namespace)) {
        snprintf(message, sizeof(message),
                 "invalid namespace \"%.100s\": a lowercase RFC 1123 label must consist of lower "
                 "case alphanumeric characters or '-', and must start and end with an "
                 "alphanumeric character",
                 req->q_namespace);
        answer_error(resp, 400, message);
        return false;
    }
    return true;
}

static void route_request(api *a, const api_request *req, const kr_token_user *who,
                          api_response *resp)
{
    static const char *const takes_none[] = {NULL},
                             *const takes_list[] = {"namespace", "limit", "continue", NULL},
                             *const takes_submit[] = {"namespace", "clusters", "idempotencyKey",
                                                      NULL},
                             *const takes_history[] = {"uid", NULL};
    /* HEAD is a GET whose body the server leaves out */
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0,
         post = strcmp(req->method, "POST") == 0;
    if (strcmp(req->path, SUB_API_WHOAMI) == 0) {
        if (!get)
            not_allowed(resp, "GET, HEAD", "GET tells who the API takes the caller for");
        else if (query_taken(req, takes_none, resp))
            whoami(who, resp);
        return;
    }
    if (strcmp(req->path, PREFIX) == 0 || strcmp(req->path, PREFIX "/") == 0) {
        if ((get || post) && !query_taken(req, get ? takes_list : takes_submit, resp))
            return;
        if (get)
            list(a, req, who, resp);
        else if (post)
            submit(a, req, who, resp);
        else
            not_allowed(resp, "GET, HEAD, POST", "GET lists runnables, POST submits one");
        return;
    }
    char ns[254], name[254], v[254];
    if (strncmp(req->path, PREFIX "/", strlen(PREFIX) + 1) != 0 ||
        !split_path(req->path + strlen(PREFIX) + 1, ns, name, v, sizeof(ns))) {
        answer_error(
            resp, 404,
            "no such path: see /api/v1/runnables[/NS/NAME[/approve|reject|cancel|history]]");
        return;
    }
    const char *need = !*v || strcmp(v, "history") == 0                        ? "get"
                       : strcmp(v, "approve") == 0 || strcmp(v, "reject") == 0 ? "approve"
                       : strcmp(v, "cancel") == 0                              ? "cancel"
                                                                               : NULL;
    bool known = need && (get ? strcmp(need, "get") == 0 : post && strcmp(need, "get") != 0);
    if (known && !query_taken(req, strcmp(v, "history") == 0 ? takes_history : takes_none, resp))
        return;
    if (known && !authorized(a, who, need, ns, name, resp))
        return;
    if (!*v && get) {
        json_t *obj = read_runnable(a, ns, name, false);
        if (obj)
            answer(resp, 200, obj);
        else
            not_found(resp, ns, name, "");
    } else if (post && strcmp(v, "approve") == 0) {
        act(a, req, who, ns, name, VERB_APPROVE, resp);
    } else if (post && strcmp(v, "reject") == 0) {
        act(a, req, who, ns, name, VERB_REJECT, resp);
    } else if (post && strcmp(v, "cancel") == 0) {
        act(a, req, who, ns, name, VERB_CANCEL, resp);
    } else if (get && strcmp(v, "history") == 0) {
        history(a, req, ns, name, resp);
    } else if (!*v || strcmp(v, "history") == 0) {
        not_allowed(resp, "GET, HEAD", "GET reads the runnable (or its history)");
    } else if (strcmp(v, "approve") == 0 || strcmp(v, "reject") == 0 || strcmp(v, "cancel") == 0) {
        not_allowed(resp, "POST", "POST approves, rejects or cancels the runnable");
    } else {
        answer_error(
            resp, 404,
            "no such path: see /api/v1/runnables[/NS/NAME[/approve|reject|cancel|history]]");
    }
}

/* Whether s (may be NULL) is valid UTF-8, as every value the API takes
 * must be: one that is not would be dropped silently on its way into JSON
 * (an idempotency key, a cluster). */
static bool utf8_ok(const char *s)
{
    if (!s)
        return true;
    json_t *t = json_string(s);
    json_decref(t);
    return t != NULL;
}

/* Whether a body of media type `type` (the Content-Type header, may be
 * NULL) is one the API reads: JSON or YAML, as kube-apiserver takes them
 * (parameters such as charset aside), or none said (no header, or a
 * blank one). A header that does not parse, such as ";", is refused, as
 * kube-apiserver's media type parser refuses it. */
static bool readable_type(const char *type)
{
    static const char *const readable[] = {"application/json", "application/yaml",
                                           "application/x-yaml", "text/yaml", "text/x-yaml"};
    if (!type)
        return true;
    while (*type == ' ' || *type == '\t')
        type++;
    size_t len = strcspn(type, "; \t");
    if (len == 0) /* none said; parameters without a type (";") are no type */
        return *type == '\0';
    for (size_t i = 0; i < sizeof(readable) / sizeof(readable[0]); i++)
        if (strlen(readable[i]) == len && strncasecmp(type, readable[i], len) == 0)
            return true;
    return false;
}

void api_handle(api *a, const api_request *req, api_response *resp)
{
    resp->status = 0;
    resp->body = NULL;
    kr_token_user *owned = NULL;
    const kr_token_user *who = authenticate(a, req, &owned, resp);
    if (who && (!utf8_ok(req->q_namespace) || !utf8_ok(req->q_clusters) ||
                !utf8_ok(req->q_idempotency_key) || !utf8_ok(req->q_uid) ||
                !utf8_ok(req->q_limit) || !utf8_ok(req->q_continue)))
        answer_error(resp, 400, "a query parameter is not valid UTF-8");
    else if (who && strcmp(req->method, "POST") == 0 &&
             strcmp(who->user, SUB_UNKNOWN_SUBMITTER) == 0)
        /* the name runnables created on the hub are recorded under: as a
         * caller it would be their submitter (cancel) and an approver */
        answer_error(resp, 403,
                     "the user name \"" SUB_UNKNOWN_SUBMITTER "\" is the one runnables created on "
                     "the hub are recorded under: it may read, not submit, decide or cancel");
    else if (who && strcmp(req->method, "POST") == 0 &&
             (strcmp(who->user, SUB_PROGRAM) == 0 || strcmp(who->user, "informer") == 0)) {
        /* the actors the books name for the controller and the inventory:
         * a caller's decision under either would pass for theirs */
        char message[200];
        snprintf(message, sizeof(message),
                 "the user name \"%s\" is an actor of the books: it may read, not submit, decide "
                 "or cancel",
                 who->user);
        answer_error(resp, 403, message);
    } else if (who && req->body_len > 0 && !readable_type(req->content_type)) {
        char message[300];
        snprintf(message, sizeof(message),
                 "unsupported media type \"%.200s\": send application/json or application/yaml",
                 req->content_type);
        answer_error(resp, 415, message);
    } else if (who)
        route_request(a, req, who, resp);
    kr_token_user_free(owned);
}
