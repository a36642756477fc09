/* kr-sweeper — the plan: which of a cluster's objects are zombies, judged
 * only from complete lists of the hub and of that cluster. Pure: no I/O,
 * no clock (the caller passes the time). An object qualifies only when it
 * carries our managed-by label and our hub's source-cluster label. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep.h"

const char *sweep_reason_name(sweep_reason r)
{
    switch (r) {
    case SWEEP_SOURCE_GONE:
        return "source gone";
    case SWEEP_SOURCE_REPLACED:
        return "source replaced (uid mismatch)";
    case SWEEP_NOT_PLACED:
        return "no longer placed here";
    case SWEEP_RUNNABLE_GONE:
        return "runnable gone";
    case SWEEP_FAILOVER_LOSER:
        return "failover loser";
    case SWEEP_NOT_IN_CLUSTER:
        return "inventory row, not in the cluster";
    }
    return "unknown";
}

const char *sweep_action_name(sweep_action a)
{
    switch (a) {
    case SWEEP_PLANNED:
        return "planned";
    case SWEEP_DELETED:
        return "deleted";
    case SWEEP_GONE:
        return "already gone";
    case SWEEP_SKIPPED_CHANGED:
        return "skipped: changed since listed";
    case SWEEP_SKIPPED_CAP:
        return "skipped: max deletes reached";
    case SWEEP_FAILED:
        return "failed";
    case SWEEP_MARKED:
        return "marked swept in the inventory";
    case SWEEP_REFUSED_RATIO:
        return "refused: over --max-delete-ratio";
    case SWEEP_SKIPPED_NOT_LEADING:
        return "skipped: no longer leading";
    case SWEEP_SKIPPED_STOPPING:
        return "skipped: stopping";
    }
    return "unknown";
}

static void candidate_free(sweep_candidate *c)
{
    free(c->cluster);
    free(c->group);
    free(c->version);
    free(c->resource);
    free(c->kind);
    free(c->namespace_);
    free(c->name);
    free(c->uid);
    free(c->resource_version);
    free(c->error);
    json_decref(c->row_object);
}

void sweep_plan_free(sweep_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        candidate_free(&p->items[i]);
    free(p->items);
    for (size_t i = 0; i < p->n_skips; i++) {
        free(p->skips[i].cluster);
        free(p->skips[i].resource);
        free(p->skips[i].why);
    }
    free(p->skips);
    for (size_t i = 0; i < p->n_refusals; i++) {
        free(p->refusals[i].cluster);
        free(p->refusals[i].resource);
    }
    free(p->refusals);
    for (size_t i = 0; i < p->n_tallies; i++) {
        free(p->tallies[i].cluster);
        free(p->tallies[i].resource);
    }
    free(p->tallies);
    memset(p, 0, sizeof(*p));
}

int sweep_plan_skip(sweep_plan *p, const char *cluster, const char *resource, const char *fmt, ...)
{
    if (p->n_skips == p->cap_skips) {
        size_t cap = p->cap_skips ? p->cap_skips * 2 : 4;
        sweep_skip *s = realloc(p->skips, cap * sizeof(*s));
        if (!s)
            return -1;
        p->skips = s;
        p->cap_skips = cap;
    }
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    sweep_skip *s = &p->skips[p->n_skips];
    s->cluster = strdup(cluster);
    s->resource = strdup(resource ? resource : "");
    s->why = strdup(why);
    s->recorded = false;
    if (!s->cluster || !s->resource || !s->why) {
        free(s->cluster);
        free(s->resource);
        free(s->why);
        return -1;
    }
    p->n_skips++;
    return 0;
}

bool sweep_outcome_unknown(int rc, int http_code)
{
    switch (rc) {
    case KR_ETIMEDOUT:
    case KR_ECONNECT:
    case KR_EUNAVAILABLE:
    case KR_ECANCELED:
    case KR_EIO:
    case KR_EPARSE:
        return true;
    case KR_EHTTP:
        return http_code == 0 || http_code >= 500;
    default:
        return false;
    }
}

int64_t sweep_parse_time(const char *text)
{
    if (!text)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    if (*end == '.') /* fractional seconds (MicroTime) */
        for (end++; *end >= '0' && *end <= '9'; end++)
            ;
    int64_t offset = 0;
    if (*end == 'Z') {
        end++;
    } else if ((*end == '+' || *end == '-') && strlen(end) == 6 && end[3] == ':') {
        int h = atoi(end + 1), m = atoi(end + 4);
        offset = (int64_t)(h * 3600 + m * 60) * (*end == '+' ? 1 : -1);
        end += 6;
    } else {
        return -1;
    }
    if (*end)
        return -1;
    return (int64_t)timegm(&tm) - offset;
}

static json_t *md(const json_t *o)
{
    return json_object_get(o, "metadata");
}

static const char *md_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(md(o), key));
}

static const char *label(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(json_object_get(md(o), "labels"), key));
}

static char *name_key(kr_gvr gvr, const char *ns, const char *name)
{
    char *k = NULL;
    if (asprintf(&k, "%s/%s/%s/%s", gvr.group, gvr.resource, ns ? ns : "", name) < 0)
        return NULL;
    return k;
}

static int index_list(sweep_sources *s, kr_gvr gvr, json_t *list)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        const char *uid = md_str(item, "uid"), *name = md_str(item, "name");
        if (!uid || !name)
            continue;
        char *k = name_key(gvr, md_str(item, "namespace"), name);
        if (!k || json_object_set(s->by_uid, uid, item) != 0 ||
            json_object_set(s->by_name, k, item) != 0) {
            free(k);
            return -1;
        }
        free(k);
    }
    return 0;
}

int sweep_sources_init(sweep_sources *s, const char *hub_name, const kr_gvr *gvrs,
                       json_t *const *lists, size_t n, json_t *runnables)
{
    memset(s, 0, sizeof(*s));
    s->hub_name = hub_name;
    s->by_uid = json_object();
    s->by_name = json_object();
    s->runnables_by_uid = json_object();
    if (!s->by_uid || !s->by_name || !s->runnables_by_uid)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (index_list(s, gvrs[i], lists[i]) != 0)
            goto fail;
    s->runnables_listed = runnables != NULL;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(runnables, "items"), i, item)
    {
        const char *uid = md_str(item, "uid");
        if (uid && json_object_set(s->runnables_by_uid, uid, item) != 0)
            goto fail;
    }
    return 0;
fail:
    sweep_sources_free(s);
    return -1;
}

void sweep_sources_free(sweep_sources *s)
{
    json_decref(s->by_uid);
    json_decref(s->by_name);
    json_decref(s->runnables_by_uid);
    memset(s, 0, sizeof(*s));
}

/* The zombie reason of a kr-syncer copy, or -1 when it is wanted. */
static int syncer_verdict(const sweep_sources *s, const char *cluster, kr_gvr gvr,
                          const json_t *obj, const char *source_uid)
{
    json_t *src = json_object_get(s->by_uid, source_uid);
    if (!src) {
        char *k = name_key(gvr, md_str(obj, "namespace"), md_str(obj, "name"));
        bool replaced = k && json_object_get(s->by_name, k) != NULL;
        free(k);
        return replaced ? SWEEP_SOURCE_REPLACED : SWEEP_SOURCE_GONE;
    }
    /* kr-syncer's own readings: any other would delete copies it recreates,
     * or copies it leaves in place for an object it no longer syncs */
    if (kr_managed_unsynced_reason(src))
        return -1;
    /* a placement kr-syncer holds (a typo: a name that is none, or none
     * configured) removes nothing: its hub object exists */
    if (kr_managed_placement_check(src, s->cluster_names, s->n_cluster_names, NULL, 0) !=
        KR_PLACEMENT_OK)
        return -1;
    if (!kr_managed_placed(src, cluster))
        return SWEEP_NOT_PLACED;
    return -1;
}

/* The zombie reason of a kr-submitter copy, or -1 when it is wanted: the
 * copy the Runnable's status names (its cluster and attempt) is wanted;
 * any other copy of it lost a failover. */
static int submitter_verdict(const sweep_sources *s, const char *cluster, const json_t *obj,
                             const char *source_uid)
{
    json_t *r = json_object_get(s->runnables_by_uid, source_uid);
    if (!r)
        return SWEEP_RUNNABLE_GONE;
    json_t *status = json_object_get(r, "status");
    const char *chosen = json_string_value(json_object_get(status, "cluster"));
    json_t *attempt = json_object_get(status, "attempt");
    if (!chosen || !json_is_integer(attempt))
        return -1; /* no decision recorded yet: nothing can be judged */
    char want[512];
    snprintf(want, sizeof(want), "%s-%lld", md_str(r, "name") ? md_str(r, "name") : "",
             (long long)json_integer_value(attempt));
    const char *name = md_str(obj, "name");
    if (strcmp(chosen, cluster) == 0 && name && strcmp(name, want) == 0)
        return -1;
    /* An earlier attempt whose copy kr-submitter still looks after (its
     * entry in status.attempts Decided or Created) is kr-submitter's to
     * settle: when a cluster comes back, a copy that started first may be
     * kept and the later one stopped (invariant 2). Only a copy its books
     * say is gone (Deleted, Stopped, Refused), or that they do not name,
     * is a failover loser. */
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(status, "attempts"), i, a)
    {
        const char *where = json_string_value(json_object_get(a, "cluster"));
        const char *state = json_string_value(json_object_get(a, "state"));
        json_t *n = json_object_get(a, "attempt");
        if (!where || !state || !json_is_integer(n) || strcmp(where, cluster) != 0)
            continue;
        snprintf(want, sizeof(want), "%s-%lld", md_str(r, "name") ? md_str(r, "name") : "",
                 (long long)json_integer_value(n));
        if (name && strcmp(name, want) == 0 &&
            (strcmp(state, "Decided") == 0 || strcmp(state, "Created") == 0))
            return -1;
    }
    return SWEEP_FAILOVER_LOSER;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static int plan_add(sweep_plan *p, const char *cluster, kr_gvr gvr, const char *kind,
                    const json_t *obj, int64_t age_s, sweep_reason reason)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        sweep_candidate *items = realloc(p->items, cap * sizeof(*items));
        if (!items)
            return -1;
        p->items = items;
        p->cap = cap;
    }
    sweep_candidate *c = &p->items[p->n];
    memset(c, 0, sizeof(*c));
    c->cluster = dup_or_empty(cluster);
    c->group = dup_or_empty(gvr.group);
    c->version = dup_or_empty(gvr.version);
    c->resource = dup_or_empty(gvr.resource);
    c->kind = dup_or_empty(kind);
    c->namespace_ = dup_or_empty(md_str(obj, "namespace"));
    c->name = dup_or_empty(md_str(obj, "name"));
    c->uid = dup_or_empty(md_str(obj, "uid"));
    c->resource_version = dup_or_empty(md_str(obj, "resourceVersion"));
    c->age_s = age_s;
    c->reason = reason;
    if (!c->cluster || !c->group || !c->version || !c->resource || !c->kind || !c->namespace_ ||
        !c->name || !c->uid || !c->resource_version) {
        candidate_free(c);
        return -1;
    }
    p->n++;
    return 0;
}

/* The tally of (cluster, resource), added when new; NULL: out of memory. */
static sweep_tally *tally_of(sweep_plan *p, const char *cluster, kr_gvr gvr)
{
    char *resource = NULL;
    /* "secrets", "batch/jobs": the core group is no group */
    if (asprintf(&resource, "%s%s%s", gvr.group, gvr.group[0] ? "/" : "", gvr.resource) < 0)
        return NULL;
    for (size_t i = 0; i < p->n_tallies; i++)
        if (strcmp(p->tallies[i].cluster, cluster) == 0 &&
            strcmp(p->tallies[i].resource, resource) == 0) {
            free(resource);
            return &p->tallies[i];
        }
    if (p->n_tallies == p->cap_tallies) {
        size_t cap = p->cap_tallies ? p->cap_tallies * 2 : 8;
        sweep_tally *t = realloc(p->tallies, cap * sizeof(*t));
        if (!t) {
            free(resource);
            return NULL;
        }
        p->tallies = t;
        p->cap_tallies = cap;
    }
    sweep_tally *t = &p->tallies[p->n_tallies];
    memset(t, 0, sizeof(*t));
    t->resource = resource;
    if (!(t->cluster = strdup(cluster))) {
        free(resource);
        return NULL;
    }
    p->n_tallies++;
    return t;
}

int sweep_plan_cluster(const sweep_sources *s, const char *cluster, kr_gvr gvr, const char *kind,
                       const json_t *list, int64_t now_s, int64_t grace_s, sweep_plan *plan)
{
    size_t i;
    json_t *item;
    sweep_tally *tally = tally_of(plan, cluster, gvr);
    if (!tally)
        return -1;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        const char *manager = label(item, KR_LABEL_MANAGED_BY);
        const char *source_uid = label(item, KR_LABEL_SOURCE_UID);
        if (!manager || !source_uid || !*source_uid || !md_str(item, "uid") ||
            !md_str(item, "name"))
            continue;
        bool syncer = strcmp(manager, KR_MANAGER_SYNCER) == 0;
        if (!syncer && strcmp(manager, KR_MANAGER_SUBMITTER) != 0)
            continue;
        const char *source_cluster = label(item, KR_LABEL_SOURCE_CLUSTER);
        if (!source_cluster || strcmp(source_cluster, s->hub_name) != 0) {
            plan->foreign++;
            continue;
        }
        plan->managed++;
        if (md_str(item, "deletionTimestamp"))
            continue; /* already being deleted */
        if (!syncer && !s->runnables_listed) {
            plan->unjudged++;
            continue;
        }
        int verdict = syncer ? syncer_verdict(s, cluster, gvr, item, source_uid)
                             : submitter_verdict(s, cluster, item, source_uid);
        tally->judged++;
        if (verdict < 0)
            continue;
        tally->zombies++;
        int64_t created = sweep_parse_time(md_str(item, "creationTimestamp"));
        int64_t age = created < 0 ? -1 : now_s - created;
        if (age < 0 || age < grace_s) { /* unknown age counts as young */
            plan->young++;
            continue;
        }
        if (plan_add(plan, cluster, gvr, kind, item, age, (sweep_reason)verdict) != 0)
            return -1;
    }
    return 0;
}

static bool over(size_t zombies, size_t judged, double ratio)
{
    return zombies > SWEEP_RATIO_MIN_DELETES && (double)zombies > ratio * (double)judged;
}

/* A new refusal, or NULL (out of memory). */
static sweep_refusal *add_refusal(sweep_plan *plan, const char *cluster, const char *resource,
                                  size_t planned, size_t zombies, size_t managed)
{
    if (plan->n_refusals == plan->cap_refusals) {
        size_t cap = plan->cap_refusals ? plan->cap_refusals * 2 : 4;
        sweep_refusal *r = realloc(plan->refusals, cap * sizeof(*r));
        if (!r)
            return NULL;
        plan->refusals = r;
        plan->cap_refusals = cap;
    }
    sweep_refusal *r = &plan->refusals[plan->n_refusals];
    memset(r, 0, sizeof(*r));
    if (!(r->cluster = strdup(cluster)) || (resource && !(r->resource = strdup(resource)))) {
        free(r->cluster);
        return NULL;
    }
    r->planned = planned;
    r->zombies = zombies;
    r->managed = managed;
    plan->n_refusals++;
    return r;
}

int sweep_plan_guard(sweep_plan *plan, const char *cluster, size_t first, double ratio)
{
    if (ratio <= 0 || ratio >= 1)
        return 0;
    size_t planned = plan->n > first ? plan->n - first : 0, zombies = 0, managed = 0;
    const char *resource = NULL; /* NULL: the cluster as a whole */
    for (size_t i = 0; i < plan->n_tallies; i++)
        if (strcmp(plan->tallies[i].cluster, cluster) == 0) {
            zombies += plan->tallies[i].zombies;
            managed += plan->tallies[i].judged;
        }
    /* one resource emptied (a hub restored without its Secrets) is not
     * diluted by the others */
    for (size_t i = 0; i < plan->n_tallies && !over(zombies, managed, ratio); i++)
        if (strcmp(plan->tallies[i].cluster, cluster) == 0 &&
            over(plan->tallies[i].zombies, plan->tallies[i].judged, ratio)) {
            resource = plan->tallies[i].resource;
            zombies = plan->tallies[i].zombies;
            managed = plan->tallies[i].judged;
            break;
        }
    if (!over(zombies, managed, ratio))
        return 0;
    if (!add_refusal(plan, cluster, resource, planned, zombies, managed))
        return -1;
    for (size_t i = first; i < plan->n; i++)
        plan->items[i].action = SWEEP_REFUSED_RATIO;
    return 1;
}

int sweep_plan_guard_hub(sweep_plan *plan, double ratio)
{
    if (ratio <= 0 || ratio >= 1)
        return 0;
    size_t zombies = 0, judged = 0;
    for (size_t i = 0; i < plan->n_tallies; i++) {
        zombies += plan->tallies[i].zombies;
        judged += plan->tallies[i].judged;
    }
    if (!over(zombies, judged, ratio))
        return 0;
    for (size_t t = 0; t < plan->n_tallies; t++) {
        const char *cluster = plan->tallies[t].cluster;
        bool seen = false;
        for (size_t i = 0; i < plan->n_refusals && !seen; i++)
            seen = strcmp(plan->refusals[i].cluster, cluster) == 0;
        size_t planned = 0, cluster_zombies = 0;
        for (size_t i = t; i < plan->n_tallies; i++)
            if (strcmp(plan->tallies[i].cluster, cluster) == 0)
                cluster_zombies += plan->tallies[i].zombies;
        if (seen || cluster_zombies == 0)
            continue;
        for (size_t i = 0; i < plan->n; i++) {
            sweep_candidate *c = &plan->items[i];
            if (c->reason != SWEEP_NOT_IN_CLUSTER && c->action == SWEEP_PLANNED &&
                strcmp(c->cluster, cluster) == 0) {
                c->action = SWEEP_REFUSED_RATIO;
                planned++;
            }
        }
        sweep_refusal *r = add_refusal(plan, cluster, NULL, planned, zombies, judged);
        if (!r)
            return -1;
        r->hub_wide = true;
    }
    return 1;
}

int sweep_plan_guard_rows(sweep_plan *plan, const char *cluster, const char *resource, size_t first,
                          size_t missing, size_t held, double ratio)
{
    if (ratio <= 0 || ratio >= 1 || !over(missing, held, ratio))
        return 0;
    size_t planned = plan->n > first ? plan->n - first : 0;
    sweep_refusal *r = add_refusal(plan, cluster, resource, planned, missing, held);
    if (!r)
        return -1;
    r->inventory = true;
    for (size_t i = first; i < plan->n; i++)
        plan->items[i].action = SWEEP_REFUSED_RATIO;
    return 1;
}

void sweep_plan_cap(sweep_plan *plan, size_t first, size_t max)
{
    bool rows = first < plan->n && plan->items[first].reason == SWEEP_NOT_IN_CLUSTER;
    size_t n = 0;
    for (size_t i = first; i < plan->n; i++) {
        sweep_candidate *c = &plan->items[i];
        if (c->action != SWEEP_PLANNED || (c->reason == SWEEP_NOT_IN_CLUSTER) != rows)
            continue;
        if (n < max)
            n++;
        else
            c->action = SWEEP_SKIPPED_CAP;
    }
}
