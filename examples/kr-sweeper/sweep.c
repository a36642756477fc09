/* kr-sweeper — one sweep: complete lists of the hub and of each workload
 * cluster, the plan, then deletes with uid + resourceVersion preconditions,
 * capped and paced. A cluster whose list fails is skipped whole and the
 * plan says so; a hub that cannot be listed ends the run before anything
 * is judged. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep.h"

/* Only what the platform's programs made is ever listed. */
#define MANAGED_SELECTOR KR_LABEL_MANAGED_BY " in (" KR_MANAGER_SYNCER "," KR_MANAGER_SUBMITTER ")"

static const char *gvr_text(kr_gvr g, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s/%s", g.group, g.group[0] ? "/" : "", g.version, g.resource);
    return buf;
}

/* The Kind of each swept resource (sweep_opts.resource_kinds), new in
 * *out (free it): the one given, Kubernetes' own by the built-in table,
 * any other (a custom resource) by the hub's discovery. The plan names
 * candidates by it, the inventory's rows are looked up by it and SWEPT
 * is recorded under it, as kr-inventory records the object's events: a
 * plural there would find no row and split an object's history. */
static int resolve_kinds(const sweep_opts *o, char (**out)[KR_SWEEP_KIND_MAX], kr_error_t *err)
{
    char(*kinds)[KR_SWEEP_KIND_MAX] = calloc(o->n_resources ? o->n_resources : 1, sizeof(*kinds));
    if (!kinds)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    for (size_t r = 0; r < o->n_resources; r++) {
        kr_gvr g = o->resources[r];
        kr_resource_info info;
        const char *given = o->resource_kinds ? o->resource_kinds[r] : NULL;
        char gtext[256];
        gvr_text(g, gtext, sizeof(gtext));
        /* a Kind given is checked as one looked up would be found: the
         * wrong one (v1/configmaps=Secret) would look the other kind's
         * rows up in the inventory and mark live objects deleted */
        if (kr_resource_builtin_lookup(g.resource, &info) == 0 &&
            strcmp(info.group, g.group) == 0) {
            if (given && strcmp(given, info.kind) != 0) {
                free(kinds);
                return kr_error_set(err, KR_EINVAL, "--resource %s=%s: %s is kind %s, not %s",
                                    gtext, given, gtext, info.kind, given);
            }
            snprintf(kinds[r], sizeof(kinds[r]), "%s", info.kind);
            continue;
        }
        char name[512];
        snprintf(name, sizeof(name), "%s%s%s%s%s", g.resource, g.group[0] ? "." : "",
                 g.group[0] ? g.version : "", g.group[0] ? "." : "", g.group);
        kr_error_t rerr = {0};
        int rc = kr_client_resolve(o->hub, name, &info, &rerr);
        if (rc == 0 && (strcmp(info.group, g.group) != 0 || strcmp(info.resource, g.resource) != 0))
            rc = kr_error_set(&rerr, KR_ENOTFOUND, "discovery answers %s/%s for it", info.group,
                              info.resource);
        if (rc == 0 && given && strcmp(given, info.kind) != 0) {
            free(kinds);
            return kr_error_set(err, KR_EINVAL,
                                "--resource %s=%s: the hub %s serves %s as kind %s, not %s", gtext,
                                given, o->hub_name, gtext, info.kind, given);
        }
        if (rc != 0 && given) { /* discovery could not say: the Kind given stands */
            snprintf(kinds[r], sizeof(kinds[r]), "%s", given);
            continue;
        }
        if (rc != 0) {
            free(kinds);
            return kr_error_set(err, rc,
                                "the kind of %s: %s (give it as --resource %s=Kind, as "
                                "kr-inventory's)",
                                gtext, rerr.message, gtext);
        }
        snprintf(kinds[r], sizeof(kinds[r]), "%s", info.kind);
    }
    *out = kinds;
    return 0;
}

static void free_lists(json_t **lists, size_t n)
{
    if (!lists)
        return;
    for (size_t i = 0; i < n; i++)
        json_decref(lists[i]);
    free(lists);
}

/* Complete lists of every resource on one cluster, or an error. Names,
 * labels, annotations, uids and resourceVersions are all the plan reads:
 * lists come as PartialObjectMetadata, a fraction of the objects' bytes. */
/* The namespace resource r is swept in: its own, or namespace_ (NULL or
 * "": every one). */
static const char *namespace_of(const sweep_opts *o, size_t r)
{
    if (o->resource_namespaces && o->resource_namespaces[r])
        return o->resource_namespaces[r];
    return o->namespace_;
}

static int list_cluster(kr_client_t *c, const sweep_opts *o, const char *selector, json_t ***out,
                        size_t *failed, kr_error_t *err)
{
    json_t **lists = calloc(o->n_resources ? o->n_resources : 1, sizeof(json_t *));
    if (!lists)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    kr_list_opts lo = {.label_selector = selector,
                       .accept = KR_CLIENT_ACCEPT_PARTIAL_METADATA_LIST};
    for (size_t i = 0; i < o->n_resources; i++) {
        int rc = kr_client_list_all(c, o->resources[i], namespace_of(o, i), &lo, &lists[i], err);
        if (rc != 0) {
            *failed = i;
            free_lists(lists, o->n_resources);
            return rc;
        }
    }
    *out = lists;
    return 0;
}

/* How often a delete waiting for its turn asks whether the program stops. */
#define PACE_POLL_MS 50

/* Wait for the next delete's turn: false when the program stopped
 * meanwhile (o->stopping), so that a slow --rate holds no stop. */
static bool pace(const sweep_opts *o, kr_ratelimiter_t *rl)
{
    if (!rl)
        return true;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t delay_ms = kr_ratelimiter_when(rl, "", (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    for (uint64_t waited = 0; waited < delay_ms;) {
        if (o->stopping && o->stopping(o->stopping_user))
            return false;
        uint64_t step = delay_ms - waited < PACE_POLL_MS ? delay_ms - waited : PACE_POLL_MS;
        struct timespec ts = {.tv_sec = (time_t)(step / 1000),
                              .tv_nsec = (long)(step % 1000) * 1000000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        waited += step;
    }
    return true;
}

static kr_client_t *client_of(const sweep_opts *o, const char *cluster)
{
    for (size_t i = 0; i < o->n_clusters; i++)
        if (strcmp(o->clusters[i].name, cluster) == 0)
            return o->clusters[i].client;
    return NULL;
}

/* Tell the program of the plan's new skips and refusals, the moment they
 * are decided (it records them). */
static void decided(const sweep_opts *o, sweep_plan *plan)
{
    if (o->decided)
        o->decided(o->decided_user, plan);
}

/* Tell the program of c's action, the moment it is taken (it records it). */
static void acted(const sweep_opts *o, sweep_candidate *c)
{
    if (o->acted)
        o->acted(o->acted_user, c);
}

/* A delete whose outcome is unknown (its answer lost: a timeout, a cut, a
 * 5xx) is looked at again, so that the books and the next sweep agree: an
 * object gone, replaced (another uid) or being deleted was deleted, and is
 * SWEEP_DELETED; one still there as it was, or that cannot be read
 * either, stays SWEEP_FAILED and maybe_applied (a delete still in flight
 * may land after the look), recorded so. So is one answered with a
 * conflict (`conflict`), which the client's repeat of our own applied try
 * meets when a finalizer keeps the object: only our object being deleted
 * is then SWEEP_DELETED; else it stays SWEEP_SKIPPED_CHANGED. */
static void look_again(const sweep_opts *o, sweep_candidate *c, bool conflict)
{
    json_t *cur = NULL;
    kr_error_t e = {0};
    kr_gvr gvr = {c->group, c->version, c->resource};
    int rc = kr_client_get(client_of(o, c->cluster), gvr, c->namespace_, c->name, &cur, &e);
    const json_t *md = json_object_get(cur, "metadata");
    const char *uid = json_string_value(json_object_get(md, "uid"));
    bool ours = rc == 0 && uid && strcmp(uid, c->uid) == 0;
    bool deleting = ours && json_object_get(md, "deletionTimestamp") != NULL;
    /* after a conflict only our own object being deleted is our delete's
     * doing: one gone or made anew was someone else's */
    bool gone = conflict ? deleting : rc == KR_ENOTFOUND || (rc == 0 && !ours) || deleting;
    json_decref(cur);
    if (rc != 0 && rc != KR_ENOTFOUND) /* a 403 here is RBAC without get */
        kr_log(o->logger, KR_LOG_WARN, "sweeper",
               "cannot look at %s %s/%s in %s after its delete was answered %s: %s", c->kind,
               c->namespace_, c->name, c->cluster, conflict ? "with a conflict" : "with no outcome",
               e.message);
    if (!gone)
        return;
    kr_log(o->logger, KR_LOG_INFO, "sweeper",
           "the delete of %s %s/%s in %s was answered %s%s%s: it is gone or being deleted", c->kind,
           c->namespace_, c->name, c->cluster, c->error ? "with no outcome (" : "with a conflict",
           c->error ? c->error : "", c->error ? ")" : "");
    free(c->error);
    c->error = NULL;
    c->maybe_applied = false;
    c->action = SWEEP_DELETED;
}

static void delete_one(const sweep_opts *o, sweep_candidate *c)
{
    kr_delete_opts d = {.propagation_policy = "Background",
                        .precondition_uid = c->uid,
                        .precondition_resource_version = c->resource_version};
    kr_error_t e = {0};
    kr_gvr gvr = {c->group, c->version, c->resource};
    int rc = kr_client_delete(client_of(o, c->cluster), gvr, c->namespace_, c->name, &d, NULL, &e);
    if (rc == 0) {
        c->action = SWEEP_DELETED;
    } else if (rc == KR_ENOTFOUND) {
        c->action = SWEEP_GONE;
    } else if (rc == KR_ECONFLICT) {
        /* changed since it was listed, or deleted by our own first try
         * whose answer was lost (the client repeats a delete after a 5xx;
         * a finalizer keeps the object, its resourceVersion moved on) */
        c->action = SWEEP_SKIPPED_CHANGED;
        look_again(o, c, true);
    } else {
        c->action = SWEEP_FAILED;
        c->error = strdup(e.message);
        c->maybe_applied = sweep_outcome_unknown(rc, e.http_code);
        if (c->maybe_applied)
            look_again(o, c, false);
    }
}

int sweep_execute(const sweep_opts *o, sweep_plan *plan, kr_error_t *err)
{
    kr_ratelimiter_t *rl = NULL;
    if (o->rate_qps > 0 && kr_ratelimiter_new_bucket(o->rate_qps, 1, 0, &rl, err) != 0)
        return err ? err->code : KR_ENOMEM;
    size_t deleted = 0;
    bool lost = false, stopped = false;
    for (size_t i = 0; i < plan->n; i++) {
        sweep_candidate *c = &plan->items[i];
        if (c->action != SWEEP_PLANNED || c->reason == SWEEP_NOT_IN_CLUSTER)
            continue;
        if (deleted >= o->max_deletes) {
            c->action = SWEEP_SKIPPED_CAP;
            kr_log(o->logger, KR_LOG_INFO, "sweeper", "%s %s %s/%s in %s (%s)",
                   sweep_action_name(c->action), c->kind, c->namespace_, c->name, c->cluster,
                   sweep_reason_name(c->reason));
            acted(o, c);
            continue;
        }
        if (lost) {
            c->action = SWEEP_SKIPPED_NOT_LEADING;
            acted(o, c);
            continue;
        }
        if (stopped || !pace(o, rl)) {
            if (!stopped)
                kr_log(o->logger, KR_LOG_WARN, "sweeper",
                       "stopping: nothing more deleted, the rest is left to the next sweep");
            stopped = true;
            c->action = SWEEP_SKIPPED_STOPPING;
            acted(o, c);
            continue;
        }
        /* a replica paused past its Lease resumes here: the elector answers
         * from its clock, so it learns before the request leaves */
        if (o->may_act && !o->may_act(o->may_act_user)) {
            lost = true;
            c->action = SWEEP_SKIPPED_NOT_LEADING;
            kr_log(o->logger, KR_LOG_WARN, "sweeper",
                   "no longer leading: nothing more deleted, the rest is left to the leader");
            acted(o, c);
            continue;
        }
        delete_one(o, c);
        /* every delete that may have been applied counts: one whose outcome
         * is unknown (a timeout, a connection cut after the request left),
         * and one answered "gone" or "changed", which the client's repeat
         * of a delete answered 5xx meets when its first try was applied;
         * one refused (403, 422) or never sent was not, and does not */
        if (c->action == SWEEP_DELETED || c->action == SWEEP_GONE ||
            c->action == SWEEP_SKIPPED_CHANGED || (c->action == SWEEP_FAILED && c->maybe_applied))
            deleted++;
        kr_log(o->logger, c->action == SWEEP_FAILED ? KR_LOG_WARN : KR_LOG_INFO, "sweeper",
               "%s %s %s/%s in %s (%s)%s%s", sweep_action_name(c->action), c->kind, c->namespace_,
               c->name, c->cluster, sweep_reason_name(c->reason), c->error ? ": " : "",
               c->error ? c->error : "");
        acted(o, c); /* in the books before the next delete */
    }
    /* A delete whose outcome is unknown and that its look found still
     * there may have been in flight then (the server still at it when
     * the client gave up): it is looked at once more after the other
     * deletes, and one now gone, replaced or being deleted is
     * SWEEP_DELETED, told again (the books get its SWEPT after the
     * SWEEP_SKIPPED that said it may have been applied). A stop or a lost
     * Lease leaves it to the next sweep. */
    for (size_t i = 0; i < plan->n && !stopped && !lost; i++) {
        sweep_candidate *c = &plan->items[i];
        if (c->action != SWEEP_FAILED || !c->maybe_applied || c->reason == SWEEP_NOT_IN_CLUSTER)
            continue;
        if ((o->stopping && o->stopping(o->stopping_user)) ||
            (o->may_act && !o->may_act(o->may_act_user)))
            break;
        look_again(o, c, false);
        if (c->action == SWEEP_DELETED)
            acted(o, c);
    }
    kr_ratelimiter_free(rl);
    return 0;
}

int sweep_run(const sweep_opts *o, sweep_plan *plan, kr_error_t *err)
{
    memset(plan, 0, sizeof(*plan));
    char gtext[256];
    json_t **hub = NULL, *runnables = NULL;
    const char **names = NULL;
    size_t failed = 0;
    /* the kinds first: a resource the hub does not know fails here,
     * saying how to name it, rather than at its list */
    char(*kinds)[KR_SWEEP_KIND_MAX] = NULL;
    int rc = resolve_kinds(o, &kinds, err);
    if (rc != 0) {
        kr_log(o->logger, KR_LOG_ERROR, "sweeper", "hub %s: nothing swept: %s", o->hub_name,
               err ? err->message : kr_strerror(rc));
        return rc;
    }
    rc = list_cluster(o->hub, o, NULL, &hub, &failed, err);
    if (rc != 0) {
        kr_log(o->logger, KR_LOG_ERROR, "sweeper", "hub %s: listing %s failed, nothing swept: %s",
               o->hub_name, gvr_text(o->resources[failed], gtext, sizeof(gtext)),
               err ? err->message : kr_strerror(rc));
        free(kinds);
        return rc;
    }
    kr_error_t rerr = {0};
    /* A hub that serves no Runnables has no kr-submitter: nothing to warn
     * of at every sweep (its copies, if any, are counted as not judged). */
    if (kr_client_list_all(o->hub, KR_RUNNABLE_GVR, o->namespace_, NULL, &runnables, &rerr) != 0)
        kr_log(o->logger, rerr.code == KR_ENOTFOUND ? KR_LOG_DEBUG : KR_LOG_WARN, "sweeper",
               "hub %s: runnables not listed (%s): kr-submitter copies are not judged", o->hub_name,
               rerr.message);
    sweep_sources src;
    rc = sweep_sources_init(&src, o->hub_name, o->resources, hub, o->n_resources, runnables);
    if (rc != 0) {
        rc = kr_error_set(err, KR_ENOMEM, "out of memory");
        goto out;
    }
    names = calloc(o->n_clusters ? o->n_clusters : 1, sizeof(*names));
    if (!names) {
        sweep_sources_free(&src);
        rc = kr_error_set(err, KR_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < o->n_clusters; c++)
        names[c] = o->clusters[c].name;
    src.cluster_names = names;
    src.n_cluster_names = o->n_clusters;
    for (size_t c = 0; c < o->n_clusters && rc == 0; c++) {
        const sweep_cluster *cl = &o->clusters[c];
        json_t **lists = NULL;
        kr_error_t lerr = {0};
        if (list_cluster(cl->client, o, MANAGED_SELECTOR, &lists, &failed, &lerr) != 0) {
            gvr_text(o->resources[failed], gtext, sizeof(gtext));
            kr_log(o->logger, KR_LOG_WARN, "sweeper", "cluster %s skipped: listing %s failed: %s",
                   cl->name, gtext, lerr.message);
            if (sweep_plan_skip(plan, cl->name, gtext, "list failed: %s", lerr.message) != 0)
                rc = kr_error_set(err, KR_ENOMEM, "out of memory");
            else
                decided(o, plan);
            continue;
        }
        int64_t now = (int64_t)time(NULL);
        size_t first = plan->n;
        for (size_t r = 0; r < o->n_resources && rc == 0; r++)
            if (sweep_plan_cluster(&src, cl->name, o->resources[r], kinds[r], lists[r], now,
                                   o->grace_s, plan) != 0)
                rc = kr_error_set(err, KR_ENOMEM, "out of memory");
        free_lists(lists, o->n_resources);
        int refused = rc == 0 ? sweep_plan_guard(plan, cl->name, first, o->max_delete_ratio) : 0;
        if (refused < 0)
            rc = kr_error_set(err, KR_ENOMEM, "out of memory");
        else if (refused)
            kr_log(o->logger, KR_LOG_WARN, "sweeper",
                   "cluster %s: refused: %zu of its %zu copies%s%s are zombies (over "
                   "--max-delete-ratio %g): is the hub %s the right one, and complete? Nothing "
                   "deleted there",
                   cl->name, plan->refusals[plan->n_refusals - 1].zombies,
                   plan->refusals[plan->n_refusals - 1].managed,
                   plan->refusals[plan->n_refusals - 1].resource ? " of " : "",
                   plan->refusals[plan->n_refusals - 1].resource
                       ? plan->refusals[plan->n_refusals - 1].resource
                       : "",
                   o->max_delete_ratio, o->hub_name);
        if (refused > 0) /* in the books before anything more is listed or sent */
            decided(o, plan);
    }
    if (rc == 0) {
        size_t before = plan->n_refusals;
        int refused = sweep_plan_guard_hub(plan, o->max_delete_ratio);
        if (refused < 0)
            rc = kr_error_set(err, KR_ENOMEM, "out of memory");
        else if (refused && plan->n_refusals > before)
            kr_log(o->logger, KR_LOG_WARN, "sweeper",
                   "refused: %zu of the %zu copies in all clusters are zombies (over "
                   "--max-delete-ratio %g): is the hub %s the right one, and complete? Nothing "
                   "deleted",
                   plan->refusals[before].zombies, plan->refusals[before].managed,
                   o->max_delete_ratio, o->hub_name);
        if (refused > 0)
            decided(o, plan);
    }
    if (rc == 0 && !o->dry_run)
        rc = sweep_execute(o, plan, err);
    else if (rc == 0) /* what the cap will hold back, as the real run would */
        sweep_plan_cap(plan, 0, o->max_deletes);
    sweep_sources_free(&src);
out:
    free(names);
    free(kinds);
    free_lists(hub, o->n_resources);
    json_decref(runnables);
    if (rc != 0)
        sweep_plan_free(plan);
    return rc;
}

static void format_age(int64_t s, char *buf, size_t len)
{
    if (s >= 86400)
        snprintf(buf, len, "%lldd", (long long)(s / 86400));
    else if (s >= 3600)
        snprintf(buf, len, "%lldh", (long long)(s / 3600));
    else if (s >= 60)
        snprintf(buf, len, "%lldm", (long long)(s / 60));
    else
        snprintf(buf, len, "%llds", (long long)s);
}

/* The plan table's columns, as kubectl prints its tables (a tabwriter:
 * each column as wide as its longest cell, header included, then 3
 * spaces, and at least 10 in all); ACTION, the last, is not padded. */
enum { COL_CLUSTER, COL_KIND, COL_NAMESPACE, COL_NAME, COL_AGE, COL_REASON, N_PADDED };
#define TABLE_PADDING 3
#define TABLE_MIN_WIDTH 10

/* Row i's cells (-1: the header's); age is row i's formatted age. */
static void table_cells(const sweep_plan *p, long i, const char *age, const char *cells[N_PADDED])
{
    static const char *const header[N_PADDED] = {"CLUSTER", "KIND", "NAMESPACE",
                                                 "NAME",    "AGE",  "REASON"};
    if (i < 0) {
        memcpy(cells, header, sizeof(header));
        return;
    }
    const sweep_candidate *c = &p->items[i];
    cells[COL_CLUSTER] = c->cluster;
    cells[COL_KIND] = c->kind;
    cells[COL_NAMESPACE] = c->namespace_[0] ? c->namespace_ : "-";
    cells[COL_NAME] = c->name;
    cells[COL_AGE] = age;
    cells[COL_REASON] = sweep_reason_name(c->reason);
}

void sweep_print_table(const sweep_plan *p, FILE *out)
{
    int width[N_PADDED] = {0};
    for (long i = -1; i < (long)p->n; i++) {
        char age[32] = "";
        if (i >= 0)
            format_age(p->items[i].age_s, age, sizeof(age));
        const char *cells[N_PADDED];
        table_cells(p, i, age, cells);
        for (int col = 0; col < N_PADDED; col++) {
            int w = (int)strlen(cells[col]) + TABLE_PADDING;
            w = w < TABLE_MIN_WIDTH ? TABLE_MIN_WIDTH : w;
            width[col] = w > width[col] ? w : width[col];
        }
    }
    /* where a cluster was skipped, or the inventory not checked, nothing
     * was looked for there */
    bool partial = p->n_skips || p->inventory_check == SWEEP_CHECK_FAILED ||
                   p->inventory_check == SWEEP_CHECK_LEFT;
    if (p->n == 0)
        fprintf(out,
                partial ? "No zombies found in the clusters listed.\n" : "No zombies found.\n");
    for (long i = p->n ? -1 : 0; i < (long)p->n; i++) {
        char age[32] = "";
        if (i >= 0)
            format_age(p->items[i].age_s, age, sizeof(age));
        const char *cells[N_PADDED];
        table_cells(p, i, age, cells);
        for (int col = 0; col < N_PADDED; col++)
            fprintf(out, "%-*s", width[col], cells[col]);
        if (i < 0) {
            fprintf(out, "ACTION\n");
        } else {
            const sweep_candidate *c = &p->items[i];
            fprintf(out, "%s%s%s\n", sweep_action_name(c->action), c->error ? ": " : "",
                    c->error ? c->error : "");
        }
    }
    for (size_t i = 0; i < p->n_skips; i++)
        fprintf(out, "cluster %s skipped%s%s%s: %s\n", p->skips[i].cluster,
                *p->skips[i].resource ? " (" : "", p->skips[i].resource,
                *p->skips[i].resource ? ")" : "", p->skips[i].why);
    if (p->inventory_check == SWEEP_CHECK_FAILED)
        fprintf(out, "inventory check failed: %s\n", p->inventory_why);
    else if (p->inventory_check == SWEEP_CHECK_LEFT)
        fprintf(out, "inventory check left to the next sweep: %s\n", p->inventory_why);
    if (p->young)
        fprintf(out, "%zu zombie(s) younger than the grace period left alone.\n", p->young);
    if (p->unjudged)
        fprintf(out, "%zu kr-submitter copies not judged: the hub's Runnables were not listed.\n",
                p->unjudged);
    for (size_t i = 0; i < p->n_refusals; i++)
        if (p->refusals[i].inventory)
            fprintf(out,
                    "cluster %s refused in the inventory: %zu of the %zu rows of %s it holds live "
                    "there are missing from the cluster, over --max-delete-ratio; nothing marked "
                    "deleted (%zu planned).\n",
                    p->refusals[i].cluster, p->refusals[i].zombies, p->refusals[i].managed,
                    p->refusals[i].resource, p->refusals[i].planned);
        else
            fprintf(out,
                    "cluster %s refused: %zu of %s %zu copies%s%s are zombies, over "
                    "--max-delete-ratio; nothing deleted there (%zu planned).\n",
                    p->refusals[i].cluster, p->refusals[i].zombies,
                    p->refusals[i].hub_wide ? "the" : "its", p->refusals[i].managed,
                    p->refusals[i].hub_wide   ? " in all clusters"
                    : p->refusals[i].resource ? " of "
                                              : "",
                    p->refusals[i].resource ? p->refusals[i].resource : "", p->refusals[i].planned);
}

json_t *sweep_plan_json(const sweep_plan *p)
{
    json_t *items = json_array(), *skips = json_array();
    for (size_t i = 0; i < p->n; i++) {
        const sweep_candidate *c = &p->items[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "cluster", c->cluster,
                      "apiVersion", c->group[0] ? c->group : c->version, "kind", c->kind,
                      "namespace", c->namespace_, "name", c->name, "uid", c->uid, "resourceVersion",
                      c->resource_version, "ageSeconds", (json_int_t)c->age_s, "reason",
                      sweep_reason_name(c->reason), "action", sweep_action_name(c->action));
        if (o && c->group[0]) {
            char api[256];
            snprintf(api, sizeof(api), "%s/%s", c->group, c->version);
            json_object_set_new(o, "apiVersion", json_string(api));
        }
        if (o && c->error)
            json_object_set_new(o, "error", json_string(c->error));
        if (o && c->action == SWEEP_FAILED && c->maybe_applied)
            json_object_set_new(o, "maybeApplied", json_true());
        json_array_append_new(items, o);
    }
    for (size_t i = 0; i < p->n_skips; i++)
        json_array_append_new(skips, json_pack("{s:s, s:s, s:s}", "cluster", p->skips[i].cluster,
                                               "resource", p->skips[i].resource, "reason",
                                               p->skips[i].why));
    json_t *refused = json_array();
    for (size_t i = 0; i < p->n_refusals; i++) {
        json_t *r = json_pack("{s:s, s:I, s:I, s:I}", "cluster", p->refusals[i].cluster, "planned",
                              (json_int_t)p->refusals[i].planned, "zombies",
                              (json_int_t)p->refusals[i].zombies, "managed",
                              (json_int_t)p->refusals[i].managed);
        if (r && p->refusals[i].resource)
            json_object_set_new(r, "resource", json_string(p->refusals[i].resource));
        if (r && p->refusals[i].hub_wide)
            json_object_set_new(r, "allClusters", json_true());
        if (r && p->refusals[i].inventory)
            json_object_set_new(r, "inventory", json_true());
        json_array_append_new(refused, r);
    }
    json_t *doc = json_pack("{s:o, s:o, s:o, s:I, s:I}", "candidates", items, "skippedClusters",
                            skips, "refusedClusters", refused, "youngerThanGrace",
                            (json_int_t)p->young, "notJudged", (json_int_t)p->unjudged);
    char check[1100];
    if (doc && p->inventory_check != SWEEP_CHECK_NONE) {
        snprintf(check, sizeof(check), "%s%s",
                 p->inventory_check == SWEEP_CHECK_MADE     ? "made"
                 : p->inventory_check == SWEEP_CHECK_FAILED ? "failed: "
                                                            : "left to the next sweep: ",
                 p->inventory_check == SWEEP_CHECK_MADE ? "" : p->inventory_why);
        json_object_set_new(doc, "inventoryCheck", json_string(check));
    }
    return doc;
}

/* ---- inventory calls, given up when the sweep must not wait --------------------------- */

struct sweep_caller {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    pthread_t thread;
    bool quit;
    /* the call: handed over (busy), taken by the thread (taken), answered
     * (done), or given up by its caller (abandoned: the thread drops it) */
    bool busy, taken, done, abandoned;
    int (*fn)(void *arg, kr_error_t *err);
    void (*drop)(void *arg);
    void *arg;
    int rc;
    kr_error_t err;
};

static void *caller_main(void *p)
{
    sweep_caller *c = p;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->quit && !(c->busy && !c->taken))
            pthread_cond_wait(&c->cv, &c->mu);
        if (!(c->busy && !c->taken))
            break; /* quit, nothing handed over */
        c->taken = true;
        pthread_mutex_unlock(&c->mu);
        kr_error_t err = {0};
        int rc = c->fn(c->arg, &err);
        pthread_mutex_lock(&c->mu);
        if (c->abandoned)
            c->drop(c->arg);
        c->rc = rc;
        c->err = err;
        c->busy = false;
        c->done = true;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int sweep_caller_new(sweep_caller **out, kr_error_t *err)
{
    sweep_caller *c = calloc(1, sizeof(*c));
    if (!c)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&c->mu, NULL);
    if (pthread_create(&c->thread, NULL, caller_main, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return kr_error_set(err, KR_EIO, "cannot start the inventory's thread");
    }
    *out = c;
    return 0;
}

bool sweep_caller_busy(sweep_caller *c)
{
    if (!c)
        return false;
    pthread_mutex_lock(&c->mu);
    bool busy = c->busy;
    pthread_mutex_unlock(&c->mu);
    return busy;
}

void sweep_caller_free(sweep_caller *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->quit = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL); /* after the call under way */
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

uint64_t sweep_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* How often a sweep waiting for the inventory asks whether to give up
 * (the first time one poll after the call: a database that answers at
 * once is never given up on). */
#define INVENTORY_POLL_MS 20

/* Why a sweep waiting `waited_ms` for the inventory gives up (0: it does
 * not), the reason in err. */
static int give_up_why(const sweep_opts *o, uint64_t waited_ms, kr_error_t *err)
{
    if (o->stopping && o->stopping(o->stopping_user))
        return kr_error_set(err, KR_ECANCELED,
                            "stopping: the inventory's answer is not waited for");
    if (o->may_act && !o->may_act(o->may_act_user))
        return kr_error_set(err, KR_ECANCELED,
                            "no longer leading: the inventory's answer is not waited for");
    if (o->inventory_timeout_ms && waited_ms >= o->inventory_timeout_ms)
        return kr_error_set(err, KR_ETIMEDOUT, "the inventory did not answer within %.3gs",
                            (double)o->inventory_timeout_ms / 1000);
    return 0;
}

/* fn(arg) on o->inventory_caller's thread (on this one without it) while
 * this one waits, asking give_up_why: fn's answer, *mine then true (arg
 * is still the caller's: drop it), or the reason it was given up, *mine
 * then false (arg was dropped, here or by the thread when fn returns). A
 * call given up earlier and still under way is waited for the same way. */
static int inventory_call(const sweep_opts *o, int (*fn)(void *arg, kr_error_t *err),
                          void (*drop)(void *arg), void *arg, bool *mine, kr_error_t *err)
{
    sweep_caller *c = o->inventory_caller;
    *mine = true;
    if (!c)
        return fn(arg, err);
    uint64_t start = sweep_monotonic_ms();
    bool handed = false;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (!handed && !c->busy) {
            c->fn = fn;
            c->drop = drop;
            c->arg = arg;
            c->busy = true;
            c->taken = c->done = c->abandoned = false;
            handed = true;
            pthread_cond_broadcast(&c->cv);
        }
        if (handed && c->done)
            break;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += INVENTORY_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &until);
        if (handed && c->done)
            break;
        uint64_t waited = sweep_monotonic_ms() - start;
        if (waited < INVENTORY_POLL_MS)
            continue;
        pthread_mutex_unlock(&c->mu);
        rc = give_up_why(o, waited, err);
        pthread_mutex_lock(&c->mu);
        if (rc == 0 || (handed && c->done))
            continue;
        bool theirs = handed && c->taken;
        if (theirs)
            c->abandoned = true; /* dropped by the thread when fn returns */
        else if (handed)
            c->busy = false; /* never taken */
        pthread_mutex_unlock(&c->mu);
        if (!theirs)
            drop(arg);
        *mine = false;
        return rc;
    }
    rc = c->rc;
    if (rc != 0 && err)
        *err = c->err;
    c->done = false;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* One page of the inventory's rows (the strings its own: a call given up
 * outlives its caller's). */
typedef struct query_call {
    kr_inventory_t *inv;
    char *cluster, *kind, *namespace_, *token;
    json_t *rows;
    char *next;
} query_call;

static int query_run(void *arg, kr_error_t *err)
{
    query_call *q = arg;
    kr_inventory_query_opts qo = KR_INVENTORY_QUERY_OPTS_INIT;
    qo.cluster = q->cluster;
    qo.kind = q->kind;
    qo.namespace_ = q->namespace_;
    qo.limit = 1000;
    qo.continue_token = q->token;
    return kr_inventory_query(q->inv, &qo, &q->rows, &q->next, err);
}

static void query_drop(void *arg)
{
    query_call *q = arg;
    free(q->cluster);
    free(q->kind);
    free(q->namespace_);
    free(q->token);
    json_decref(q->rows);
    kr_free(q->next);
    free(q);
}

/* kr_inventory_query of (cluster, kind, ns) from `token`, bounded as
 * inventory_call: *rows and *next new. */
static int query_page(const sweep_opts *o, kr_inventory_t *inv, const char *cluster,
                      const char *kind, const char *ns, const char *token, json_t **rows,
                      char **next, kr_error_t *err)
{
    query_call *q = calloc(1, sizeof(*q));
    if (!q)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    q->inv = inv;
    bool ok = (q->cluster = strdup(cluster)) && (q->kind = strdup(kind)) &&
              (!ns || (q->namespace_ = strdup(ns))) && (!token || (q->token = strdup(token)));
    if (!ok) {
        query_drop(q);
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    }
    bool mine = true;
    int rc = inventory_call(o, query_run, query_drop, q, &mine, err);
    if (!mine)
        return rc;
    *rows = q->rows;
    *next = q->next;
    q->rows = NULL;
    q->next = NULL;
    query_drop(q);
    return rc;
}

/* One mark (SWEPT) of a row. */
typedef struct mark_call {
    kr_inventory_t *inv;
    char *cluster, *api_version, *kind;
    json_t *object;
} mark_call;

static int mark_run(void *arg, kr_error_t *err)
{
    mark_call *m = arg;
    kr_inventory_event ev = {.cluster = m->cluster,
                             .api_version = m->api_version,
                             .kind = m->kind,
                             .type = KR_INVENTORY_SWEPT,
                             .object = m->object,
                             .actor = KR_MANAGER_SWEEPER};
    return kr_inventory_apply(m->inv, &ev, 1, NULL, err);
}

static void mark_drop(void *arg)
{
    mark_call *m = arg;
    free(m->cluster);
    free(m->api_version);
    free(m->kind);
    json_decref(m->object);
    free(m);
}

/* ---- inventory zombies ------------------------------------------------------------------ */

static uint64_t rv_number(const char *rv)
{
    return rv ? strtoull(rv, NULL, 10) : 0;
}

static int add_row(sweep_plan *p, const char *cluster, kr_gvr gvr, const json_t *row, int64_t age)
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
    const char *fields[] = {"kind", "namespace", "name", "uid", "resourceVersion"};
    char **dst[] = {&c->kind, &c->namespace_, &c->name, &c->uid, &c->resource_version};
    bool ok = (c->cluster = strdup(cluster)) && (c->group = strdup(gvr.group)) &&
              (c->version = strdup(gvr.version)) && (c->resource = strdup(gvr.resource));
    for (size_t i = 0; ok && i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = json_string_value(json_object_get(row, fields[i]));
        ok = (*dst[i] = strdup(v ? v : "")) != NULL;
    }
    c->age_s = age;
    c->reason = SWEEP_NOT_IN_CLUSTER;
    c->row_object = json_incref(json_object_get(row, "object"));
    p->n++; /* sweep_plan_free releases whatever was set */
    return ok && c->row_object ? 0 : -1;
}

/* The rows of (cluster, kind) held live, page by page, against one list. */
static int plan_rows(const sweep_opts *o, kr_inventory_t *inv, const char *cluster, kr_gvr gvr,
                     const char *kind, const char *ns, const json_t *list, sweep_plan *plan,
                     kr_error_t *err)
{
    json_t *uids = json_object();
    if (!uids)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        const char *uid =
            json_string_value(json_object_get(json_object_get(item, "metadata"), "uid"));
        if (uid)
            json_object_set(uids, uid, json_true());
    }
    uint64_t list_rv = rv_number(
        json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion")));
    int64_t now = (int64_t)time(NULL);
    size_t first = plan->n, held = 0, missing = 0;
    char *token = NULL;
    int rc = 0;
    do {
        json_t *rows = NULL;
        char *next = NULL;
        rc = query_page(o, inv, cluster, kind, ns, token, &rows, &next, err);
        kr_free(token);
        token = next;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            const char *uid = json_string_value(json_object_get(row, "uid"));
            if (!uid)
                continue;
            held++;
            if (json_object_get(uids, uid))
                continue;
            /* A row newer than the list may be an object created since. */
            const char *rv = json_string_value(json_object_get(row, "resourceVersion"));
            if (list_rv == 0 || rv_number(rv) > list_rv)
                continue;
            missing++; /* young ones too: they would be marked a little later */
            int64_t created = sweep_parse_time(json_string_value(json_object_get(row, "created")));
            int64_t age = created < 0 ? -1 : now - created;
            if (age < 0 || age < o->grace_s) {
                plan->young++;
                continue;
            }
            if (add_row(plan, cluster, gvr, row, age) != 0)
                rc = kr_error_set(err, KR_ENOMEM, "out of memory");
        }
        json_decref(rows);
    } while (rc == 0 && token);
    kr_free(token);
    json_decref(uids);
    if (rc != 0)
        return rc;
    char gtext[256];
    gvr_text(gvr, gtext, sizeof(gtext));
    int refused =
        sweep_plan_guard_rows(plan, cluster, gtext, first, missing, held, o->max_delete_ratio);
    if (refused < 0)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    if (refused) {
        kr_log(o->logger, KR_LOG_WARN, "sweeper",
               "inventory: %s of %s refused: %zu of the %zu rows it holds live there are missing "
               "from the cluster's list (over --max-delete-ratio %g): is that cluster the right "
               "one? Nothing marked deleted",
               gtext, cluster, missing, held, o->max_delete_ratio);
        decided(o, plan);
    }
    return 0;
}

/* Mark c's row deleted (SWEPT), bounded as inventory_call: SWEEP_MARKED,
 * or SWEEP_FAILED with the error kept; the inventory's answer (or why it
 * was not waited for). */
static int mark_swept(const sweep_opts *o, kr_inventory_t *inv, sweep_candidate *c)
{
    const kr_logger *logger = o->logger;
    char api[256];
    snprintf(api, sizeof(api), "%s%s%s", c->group, c->group[0] ? "/" : "", c->version);
    kr_error_t err = {0};
    int rc;
    bool mine = true;
    mark_call *m = calloc(1, sizeof(*m));
    if (m) {
        m->inv = inv;
        m->object = json_incref(c->row_object);
    }
    if (m && (m->cluster = strdup(c->cluster)) && (m->api_version = strdup(api)) &&
        (m->kind = strdup(c->kind)))
        rc = inventory_call(o, mark_run, mark_drop, m, &mine, &err);
    else
        rc = kr_error_set(&err, KR_ENOMEM, "out of memory");
    if (m && mine)
        mark_drop(m);
    c->action = rc == 0 ? SWEEP_MARKED : SWEEP_FAILED;
    if (rc != 0)
        c->error = strdup(err.message);
    kr_log(logger, rc == 0 ? KR_LOG_INFO : KR_LOG_WARN, "sweeper",
           "inventory: %s %s %s/%s of %s%s%s", sweep_action_name(c->action), c->kind, c->namespace_,
           c->name, c->cluster, rc ? ": " : "", rc ? err.message : "");
    return rc;
}

int sweep_inventory(const sweep_opts *o, kr_inventory_t *inv, sweep_plan *plan, kr_error_t *err)
{
    size_t first = plan->n;
    kr_list_opts lo = {.accept = KR_CLIENT_ACCEPT_PARTIAL_METADATA_LIST};
    char(*kinds)[KR_SWEEP_KIND_MAX] = NULL;
    int krc = resolve_kinds(o, &kinds, err);
    if (krc != 0)
        return krc;
    for (size_t c = 0; c <= o->n_clusters; c++) {
        const char *name = c == 0 ? o->hub_name : o->clusters[c - 1].name;
        kr_client_t *client = c == 0 ? o->hub : o->clusters[c - 1].client;
        /* a refused cluster's lists, or a hub that made one refused (the
         * wrong one, or emptied), are not to be believed either */
        bool refused = false;
        for (size_t i = 0; i < plan->n_refusals && !refused; i++)
            refused = !plan->refusals[i].inventory &&
                      (c == 0 || strcmp(plan->refusals[i].cluster, name) == 0);
        if (refused) {
            if (sweep_plan_skip(plan, name, "", "inventory check: %s over --max-delete-ratio",
                                c == 0 ? "a cluster's deletions were refused" : "refused") != 0) {
                free(kinds);
                return kr_error_set(err, KR_ENOMEM, "out of memory");
            }
            kr_log(o->logger, KR_LOG_WARN, "sweeper",
                   "inventory: %s %s not checked: deletions were refused over --max-delete-ratio",
                   c == 0 ? "hub" : "cluster", name);
            decided(o, plan);
            continue;
        }
        for (size_t r = 0; r < o->n_resources; r++) {
            json_t *list = NULL;
            kr_error_t lerr = {0};
            if (kr_client_list_all(client, o->resources[r], namespace_of(o, r), &lo, &list,
                                   &lerr) != 0) {
                char gtext[256];
                gvr_text(o->resources[r], gtext, sizeof(gtext));
                if (sweep_plan_skip(plan, name, gtext, "inventory check: list failed: %s",
                                    lerr.message) != 0) {
                    free(kinds);
                    return kr_error_set(err, KR_ENOMEM, "out of memory");
                }
                decided(o, plan);
                continue;
            }
            int rc = plan_rows(o, inv, name, o->resources[r], kinds[r], namespace_of(o, r), list,
                               plan, err);
            json_decref(list);
            if (rc != 0) {
                free(kinds);
                return rc;
            }
        }
    }
    free(kinds);
    /* The cap holds for the books too: a cluster that suddenly looks empty
     * (a kubeconfig now pointing at a rebuilt cluster) marks at most
     * max_deletes rows per run, as it would delete at most that many. */
    if (o->dry_run) {
        sweep_plan_cap(plan, first, o->max_deletes);
        return 0;
    }
    size_t marked = 0;
    /* Once a mark finds the database away or stalled (it waited out its
     * timeout), the marks left are not tried: each would wait as long,
     * holding the sweep, and a stop with it (the Lease is released after
     * the sweep). Their rows are found again by the next sweep. */
    char away[400] = "";
    for (size_t i = first; i < plan->n; i++) {
        if (plan->items[i].action != SWEEP_PLANNED)
            continue; /* refused over --max-delete-ratio */
        if (marked >= o->max_deletes) {
            sweep_candidate *c = &plan->items[i];
            c->action = SWEEP_SKIPPED_CAP;
            kr_log(o->logger, KR_LOG_INFO, "sweeper", "inventory: %s %s %s/%s of %s",
                   sweep_action_name(c->action), c->kind, c->namespace_, c->name, c->cluster);
            continue;
        }
        if (o->may_act && !o->may_act(o->may_act_user)) {
            plan->items[i].action = SWEEP_SKIPPED_NOT_LEADING;
            continue;
        }
        if (o->stopping && o->stopping(o->stopping_user)) {
            plan->items[i].action = SWEEP_SKIPPED_STOPPING; /* the next sweep finds it again */
            continue;
        }
        if (*away) {
            plan->items[i].action = SWEEP_FAILED;
            plan->items[i].error = strdup(away);
            continue;
        }
        int rc = mark_swept(o, inv, &plan->items[i]);
        marked += plan->items[i].action == SWEEP_MARKED;
        if (rc == KR_EUNAVAILABLE || rc == KR_ECONNECT || rc == KR_ETIMEDOUT) {
            snprintf(away, sizeof(away), "not tried: the inventory is away (%s)",
                     plan->items[i].error ? plan->items[i].error : kr_strerror(rc));
            kr_log(o->logger, KR_LOG_WARN, "sweeper",
                   "inventory: the rows left are marked by the next sweep: %s", away);
        }
    }
    return 0;
}

/* How sweep_record records: its outbox, its logger, and when it stops
 * waiting for the database. */
typedef struct recorder {
    kr_inventory_outbox_t *ob;
    const kr_logger *logger;
    bool (*give_up)(void *user);
    void *give_up_user;
} recorder;

static int record_one(const recorder *r, const kr_inventory_action *a)
{
    kr_error_t err = {0};
    int rc =
        kr_inventory_outbox_record_unless(r->ob, a, NULL, r->give_up, r->give_up_user, NULL, &err);
    if (rc != 0)
        kr_log(r->logger, KR_LOG_WARN, "sweeper", "inventory: %s %s/%s not recorded: %s", a->event,
               a->namespace_ ? a->namespace_ : "", a->name, err.message);
    return rc;
}

int sweep_record_candidate(kr_inventory_outbox_t *ob, const sweep_candidate *c,
                           const kr_logger *logger, bool (*give_up)(void *user), void *give_up_user)
{
    recorder rec = {ob, logger, give_up, give_up_user};
    bool swept = c->action == SWEEP_DELETED || c->action == SWEEP_GONE;
    char api[256];
    snprintf(api, sizeof(api), "%s%s%s", c->group, c->group[0] ? "/" : "", c->version);
    json_t *detail = json_pack("{s:s, s:s, s:I}", "reason", sweep_reason_name(c->reason), "action",
                               sweep_action_name(c->action), "ageSeconds", (json_int_t)c->age_s);
    if (detail && c->error)
        json_object_set_new(detail, "error", json_string(c->error));
    if (detail && c->action == SWEEP_FAILED && c->maybe_applied)
        json_object_set_new(detail, "maybeApplied", json_true());
    kr_inventory_action a = {.cluster = c->cluster,
                             .api_version = api,
                             .kind = c->kind,
                             .namespace_ = c->namespace_,
                             .name = c->name,
                             .uid = c->uid,
                             .resource_version = c->resource_version,
                             .event = swept ? "SWEPT" : "SWEEP_SKIPPED",
                             .actor = KR_MANAGER_SWEEPER,
                             .detail = detail};
    int rc = record_one(&rec, &a);
    json_decref(detail);
    return rc;
}

/* One SWEEP_SKIPPED of `cluster` as a whole, with `detail` (its
 * reference taken; NULL: none). */
static int record_cluster_skipped(const recorder *rec, const char *cluster, json_t *detail)
{
    kr_inventory_action a = {.cluster = cluster,
                             .kind = "Cluster",
                             .name = cluster,
                             .event = "SWEEP_SKIPPED",
                             .actor = KR_MANAGER_SWEEPER,
                             .detail = detail};
    int rc = record_one(rec, &a);
    json_decref(detail);
    return rc;
}

/* A refused cluster: one SWEEP_SKIPPED, its counts in the detail. */
static int record_refusal(const recorder *rec, const sweep_refusal *r)
{
    json_t *detail = json_pack("{s:s, s:I, s:I, s:I}", "reason", "refused: over --max-delete-ratio",
                               "planned", (json_int_t)r->planned, "zombies", (json_int_t)r->zombies,
                               "managed", (json_int_t)r->managed);
    if (detail && r->resource)
        json_object_set_new(detail, "resource", json_string(r->resource));
    if (detail && r->hub_wide)
        json_object_set_new(detail, "allClusters", json_true());
    if (detail && r->inventory)
        json_object_set_new(detail, "inventory", json_true());
    return record_cluster_skipped(rec, r->cluster, detail);
}

/* A cluster (or one resource of it) not swept, and why. */
static int record_skip(const recorder *rec, const sweep_skip *s)
{
    json_t *detail = json_pack("{s:s}", "reason", s->why);
    if (detail && *s->resource) /* "": the cluster's every resource */
        json_object_set_new(detail, "resource", json_string(s->resource));
    return record_cluster_skipped(rec, s->cluster, detail);
}

/* The refusals and skips of `p` not recorded yet, recorded; `mark`:
 * each is then flagged as recorded (recorded, waiting, or refused and
 * counted). The number that failed. */
static size_t record_decisions(const recorder *rec, const sweep_plan *p, bool mark)
{
    size_t failed = 0;
    for (size_t i = 0; i < p->n_refusals; i++)
        if (!p->refusals[i].recorded) {
            failed += record_refusal(rec, &p->refusals[i]) != 0;
            if (mark)
                p->refusals[i].recorded = true;
        }
    for (size_t i = 0; i < p->n_skips; i++)
        if (!p->skips[i].recorded) {
            failed += record_skip(rec, &p->skips[i]) != 0;
            if (mark)
                p->skips[i].recorded = true;
        }
    return failed;
}

size_t sweep_record_decided(kr_inventory_outbox_t *ob, sweep_plan *p, const kr_logger *logger,
                            bool (*give_up)(void *user), void *give_up_user)
{
    recorder rec = {ob, logger, give_up, give_up_user};
    return record_decisions(&rec, p, true);
}

size_t sweep_record(kr_inventory_outbox_t *ob, const sweep_plan *p, const kr_logger *logger,
                    bool (*give_up)(void *user), void *give_up_user)
{
    recorder rec = {ob, logger, give_up, give_up_user};
    size_t failed = 0;
    for (size_t i = 0; i < p->n; i++) {
        const sweep_candidate *c = &p->items[i];
        if (c->action == SWEEP_PLANNED || c->reason == SWEEP_NOT_IN_CLUSTER ||
            c->action == SWEEP_REFUSED_RATIO || c->recorded)
            continue; /* a dry run acts on nothing; marking a row recorded it; a refused
                       * cluster is recorded once, below; one acted on was recorded then */
        failed += sweep_record_candidate(ob, c, logger, give_up, give_up_user) != 0;
    }
    /* those decided and recorded then are not recorded again */
    return failed + record_decisions(&rec, p, false);
}
