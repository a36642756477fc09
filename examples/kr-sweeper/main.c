/* kr-sweeper — periodic cleanup of zombies in workload clusters, safely:
 * only clusters it has just listed, only objects with the platform's
 * labels, only after a grace period, a cap per run, uid + resourceVersion
 * preconditions on every delete (docs/PLATFORM.md, invariant 6). The
 * logic is in plan.c and sweep.c; this file wires flags and the manager. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kreconcile.h"
#include "sweep.h"

static const char *default_resources[] = {"v1/configmaps", "v1/secrets", "batch/v1/jobs"};

/* The program's own flags, with their defaults. */
static struct {
    uint64_t interval_ms;
    bool once;
    bool dry_run;
    uint64_t grace_ms;
    long max_deletes;
    const char *max_delete_ratio;
    const char *rate;
    const char *output;
    const char *namespace_;
    const char *inventory;
    const char *inventory_spool;
    uint64_t inventory_wait_ms;
    kr_flag_strings resources;
} flags = {.interval_ms = 10 * 60 * 1000,
           .inventory_wait_ms = KR_PLATFORM_INVENTORY_WAIT_MS,
           .grace_ms = 10 * 60 * 1000,
           .max_deletes = 100,
           .max_delete_ratio = "0.5",
           .rate = "5",
           .output = "table"};

static const kr_flag program_flags[] = {
    {.name = "interval",
     .type = KR_FLAG_DURATION,
     .value = &flags.interval_ms,
     .metavar = "DURATION",
     .help = "time between sweeps (at least 1s)"},
    {.name = "once",
     .type = KR_FLAG_BOOL,
     .value = &flags.once,
     .help = "sweep once, print the plan and exit"},
    {.name = "dry-run",
     .type = KR_FLAG_BOOL,
     .value = &flags.dry_run,
     .help = "plan only: delete nothing and record nothing in the inventory (it is read: its "
             "zombies are planned, not marked); the records waiting in --inventory-spool stay "
             "there for the next run that is not a dry run"},
    {.name = "grace",
     .type = KR_FLAG_DURATION,
     .value = &flags.grace_ms,
     .metavar = "DURATION",
     .help = "leave zombies younger than this alone"},
    {.name = "max-deletes",
     .type = KR_FLAG_INT,
     .value = &flags.max_deletes,
     .metavar = "N",
     .help = "deletes per run at most"},
    {.name = "max-delete-ratio",
     .type = KR_FLAG_STRING,
     .value = &flags.max_delete_ratio,
     .metavar = "RATIO",
     .help = "refuse a cluster's deletions when more than 10 of its copies are zombies and they "
             "are more than this share of those judged (in it, in one resource of it, or in all "
             "clusters together; above 0, at most 1; 1: no such limit), and the inventory's "
             "marks when the same share of its live rows of one resource in one cluster are "
             "missing there; exit code 4"},
    {.name = "rate",
     .type = KR_FLAG_STRING,
     .value = &flags.rate,
     .metavar = "QPS",
     .help = "deletes per second at most (0.01 to 1000000); a stop ends the wait for the "
             "next delete, the rest is left to the next sweep"},
    {.name = "output",
     .shorthand = 'o',
     .type = KR_FLAG_STRING,
     .value = &flags.output,
     .metavar = "table|json",
     .help = "how to print the plan"},
    {.name = "namespace",
     .shorthand = 'n',
     .type = KR_FLAG_STRING,
     .value = &flags.namespace_,
     .metavar = "NS",
     .help = "sweep only this namespace (default: all)"},
    {.name = "inventory",
     .type = KR_FLAG_STRING,
     .value = &flags.inventory,
     .metavar = "URL",
     .help = "record every delete and skip in this inventory (sqlite:///path, postgresql://...), "
             "and mark deleted there the objects its clusters no longer hold (default: none)"},
    {.name = "inventory-wait",
     .type = KR_FLAG_DURATION,
     .value = &flags.inventory_wait_ms,
     .metavar = "DURATION",
     .help = "how long to wait at start for a PostgreSQL inventory that is not up yet "
             "(0: exit at once)"},
    {.name = "inventory-spool",
     .type = KR_FLAG_STRING,
     .value = &flags.inventory_spool,
     .metavar = "FILE",
     .help = "keep the records that wait for the inventory in this file, so that a "
             "crash loses none: the next start records them (one file per replica) (default: "
             "none, they wait in memory)"},
    {.name = "resource",
     .type = KR_FLAG_STRINGS,
     .value = &flags.resources,
     .metavar = "GROUP/VERSION/RESOURCE[@NS][=Kind]",
     .help = "what to sweep in the workload clusters, repeated (default v1/configmaps, v1/secrets, "
             "batch/v1/jobs); @NS: only in namespace NS, on the hub too (RBAC may then grant "
             "that resource in NS alone); =Kind: its kind, as kr-inventory's --resource (default: "
             "Kubernetes' own, else the hub's discovery)",
     .split_commas = true},
};

static const kr_manager_program program = {
    .name = "kr-sweeper",
    .version = KR_VERSION_STRING, /* released with the library */
    .summary = "Find and delete zombies that the platform's programs left in workload clusters.",
    .usage = "[flags]",
    .description =
        "A zombie is an object labelled kreconcile.io/managed-by whose hub source is gone, was\n"
        "replaced or no longer places it there, or a Runnable's copy that lost a failover.\n"
        "A cluster is swept only right after a complete list of it succeeded; every delete\n"
        "carries uid and resourceVersion preconditions; --max-deletes caps each run, and\n"
        "--max-delete-ratio refuses a cluster's deletions when zombies are most of its\n"
        "copies (a wrong or empty hub makes them all look orphaned).",
    .flags = program_flags,
    .n_flags = sizeof(program_flags) / sizeof(program_flags[0]),
    .no_args = true,
    /* a cluster that hangs instead of refusing is skipped, as one that
     * refuses is, rather than holding the sweep (--request-timeout) */
    .default_request_timeout_ms = 30000,
};

/* How long a stopping program waits for the database to take what its
 * outbox holds. */
#define OUTBOX_FLUSH_MS 5000

typedef struct sweeper {
    kr_log_sink_t *log; /* the manager's and the inventory's */
    kr_manager_t *m;
    kr_inventory_t *inventory; /* NULL without --inventory */
    kr_inventory_outbox_t *outbox; /* the records' way to it */
    sweep_caller *caller; /* the thread of the sweep's queries and marks */
    sweep_opts opts;
    sweep_cluster *clusters;
    kr_gvr *resources;
    char **resource_bufs;
    char **resource_ns; /* per resource: its @NAMESPACE, or NULL */
    char **resource_kinds; /* per resource: its =Kind, or NULL */
    bool json;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping, running;
    /* --once: the sweep's outcome: 0, 1, 3 (a cluster skipped) or 4 (a
     * cluster's deletions refused: over --max-delete-ratio) */
    int once_rc;
    uint64_t term; /* the Lease's transitions when this sweep began (still_leading) */
    size_t unrecorded; /* this sweep's actions the outbox refused (sweeper_acted) */
    uint64_t record_until_ms; /* when the records being made stop waiting (0: never) */
    /* what the sweeps did, on /metrics */
    kr_metric_t *sweeps, *failed, *deleted, *skipped, *refused, *last;
} sweeper;

/* The sweeper's metrics: a cluster the sweeps cannot list (a datacenter
 * down, rights missing) shows here, not only in the log. */
static int register_metrics(sweeper *s, kr_error_t *err)
{
    const struct {
        kr_metric_type type;
        const char *name, *help;
        kr_metric_t **slot;
    } defs[] = {
        {KR_METRIC_COUNTER, "kr_sweeper_sweeps_total", "sweeps run", &s->sweeps},
        {KR_METRIC_COUNTER, "kr_sweeper_failed_sweeps_total",
         "sweeps that judged nothing (the hub could not be listed)", &s->failed},
        {KR_METRIC_COUNTER, "kr_sweeper_deleted_total",
         "zombies deleted (with uid and resourceVersion preconditions)", &s->deleted},
        {KR_METRIC_GAUGE, "kr_sweeper_skipped_clusters",
         "workload clusters the last sweep left alone (it could not list them, or the hub)",
         &s->skipped},
        {KR_METRIC_GAUGE, "kr_sweeper_refused_clusters",
         "refusals of the last sweep over --max-delete-ratio: workload clusters whose deletions, "
         "and (cluster, resource) whose inventory rows, were left alone",
         &s->refused},
        {KR_METRIC_GAUGE, "kr_sweeper_last_sweep_timestamp_seconds",
         "when the last sweep ended (Unix time)", &s->last},
    };
    kr_metrics_registry_t *reg = kr_manager_metrics(s->m);
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
        kr_metric_family_t *fam = NULL;
        int rc = kr_metrics_family_register(reg, defs[i].type, defs[i].name, defs[i].help, NULL, 0,
                                            NULL, 0, &fam, err);
        if (rc == 0)
            rc = kr_metrics_series(fam, NULL, defs[i].slot, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The clusters the plan skipped (each counted once). */
static size_t skipped_clusters(const sweep_plan *plan)
{
    size_t n = 0;
    for (size_t i = 0; i < plan->n_skips; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(plan->skips[j].cluster, plan->skips[i].cluster) == 0;
        n += !seen;
    }
    return n;
}

static void print_plan(const sweeper *s, const sweep_plan *plan)
{
    if (s->json) {
        json_t *doc = sweep_plan_json(plan);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        sweep_print_table(plan, stdout);
    }
    fflush(stdout);
}

/* Only the leader deletes, and only in the term its sweep began in: a
 * replica paused past its Lease would otherwise resume mid-sweep and go on
 * deleting from lists taken before the pause, beside the new leader. The
 * elector answers from its clock. Without election (--once): always. */
static bool still_leading(void *user)
{
    sweeper *s = user;
    kr_leader_t *le = kr_manager_leader(s->m);
    kr_leader_term term;
    if (!le)
        return true;
    return kr_leader_term_get(le, &term) == 0 && term.transitions == s->term;
}

/* Whether the program stops: a sweep's paced deletes end then. */
static bool is_stopping(void *user)
{
    sweeper *s = user;
    pthread_mutex_lock(&s->lock);
    bool stopping = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return stopping;
}

/* A sweep's records stop waiting for the database once the program stops
 * (the stop waits for the sweep before it releases the Lease), or once
 * this replica may no longer act (it lost the Lease, or a new term
 * began): they then wait in the outbox, in order (spooled with
 * --inventory-spool), for the stop's last flush or the next start. */
static bool giving_up(void *user)
{
    sweeper *s = user;
    return is_stopping(s) || !still_leading(s);
}

/* Records about to be made wait for the database at most as long as a
 * cluster's request (--request-timeout; 0: no bound). */
static void record_deadline(sweeper *s)
{
    uint64_t t = s->opts.inventory_timeout_ms;
    s->record_until_ms = t ? sweep_monotonic_ms() + t : 0;
}

/* Whether a record stops waiting for the database: as giving_up, or once
 * it waited past record_deadline's bound: a database that does not answer
 * (a lock held, a server that stopped answering) then holds the sweep no
 * longer than a cluster that does not answer does. The record waits in
 * the outbox, in order, and so does every one after it. */
static bool record_waits_no_longer(void *user)
{
    sweeper *s = user;
    return giving_up(s) || (s->record_until_ms && sweep_monotonic_ms() >= s->record_until_ms);
}

/* Each action of a sweep, the moment it is taken: counted, and handed to
 * the outbox (spooled with --inventory-spool if it must wait), stamped
 * now: a crash or a second signal mid-sweep loses no record of a delete
 * already made. */
static void sweeper_acted(void *user, sweep_candidate *c)
{
    sweeper *s = user;
    if (c->action == SWEEP_DELETED)
        kr_metrics_counter_add(s->deleted, 1);
    if (!s->outbox)
        return;
    record_deadline(s);
    if (sweep_record_candidate(s->outbox, c, s->opts.logger, record_waits_no_longer, s) != 0)
        s->unrecorded++;
    c->recorded = true; /* recorded, waiting, or refused (counted): not again */
}

/* Each cluster a sweep leaves alone (it could not list it) or whose
 * deletions or inventory rows it refuses, the moment that is decided:
 * handed to the outbox as an action is (sweeper_acted), so that a kill
 * later in the sweep (during slow deletes) loses no record of it. A dry
 * run records nothing. */
static void sweeper_decided(void *user, sweep_plan *plan)
{
    sweeper *s = user;
    if (!s->outbox || s->opts.dry_run)
        return;
    record_deadline(s);
    s->unrecorded +=
        sweep_record_decided(s->outbox, plan, s->opts.logger, record_waits_no_longer, s);
}

/* One sweep: 0, 1 when it failed, the books lack an action or the
 * inventory's check failed, 4 when it refused a cluster's deletions (over
 * --max-delete-ratio), 3 when it left a cluster alone (one it could not
 * list); the first that holds, in that order (a sweep that both refused
 * and skipped exits 4). */
static int sweep_once(sweeper *s)
{
    sweep_plan plan;
    kr_error_t err = {0};
    kr_leader_t *le = kr_manager_leader(s->m);
    kr_leader_term term;
    if (le) {
        if (kr_leader_term_get(le, &term) != 0) {
            kr_log(s->opts.logger, KR_LOG_INFO, "sweeper", "not leading: no sweep");
            return 0;
        }
        s->term = term.transitions;
    }
    s->unrecorded = 0;
    int rc = sweep_run(&s->opts, &plan, &err);
    kr_metrics_counter_add(s->sweeps, 1);
    if (rc != 0) {
        kr_log(s->opts.logger, KR_LOG_ERROR, "sweeper", "sweep failed: %s", err.message);
        kr_metrics_counter_add(s->failed, 1);
        kr_metrics_gauge_set(s->skipped, (double)s->opts.n_clusters); /* every one left alone */
        kr_metrics_gauge_set(s->refused, 0); /* none judged, none refused */
        kr_metrics_gauge_set(s->last, (double)time(NULL));
        return 1;
    }
    /* the workload clusters the sweep could not list (the inventory's
     * check below may skip more, the hub's books included: not counted) */
    size_t skipped = skipped_clusters(&plan);
    kr_metrics_gauge_set(s->skipped, (double)skipped);
    /* A stop (or a lost Lease) that came during the deletes skips the
     * inventory's check: its queries would wait behind the records the
     * stop left to the outbox, on a database that may be stalled, and hold
     * the Lease meanwhile. The next sweep makes it. */
    if (s->inventory && giving_up(s)) {
        kr_log(s->opts.logger, KR_LOG_INFO, "sweeper",
               "inventory: not checked: stopping, or no longer leading");
        plan.inventory_check = SWEEP_CHECK_LEFT;
        snprintf(plan.inventory_why, sizeof(plan.inventory_why), "%s",
                 "stopping, or no longer leading");
    } else if (s->inventory && (rc = sweep_inventory(&s->opts, s->inventory, &plan, &err)) != 0) {
        kr_log(s->opts.logger, rc == KR_ECANCELED ? KR_LOG_INFO : KR_LOG_ERROR, "sweeper",
               "inventory sweep %s: %s", rc == KR_ECANCELED ? "left to the next sweep" : "failed",
               err.message);
        plan.inventory_check = rc == KR_ECANCELED ? SWEEP_CHECK_LEFT : SWEEP_CHECK_FAILED;
        snprintf(plan.inventory_why, sizeof(plan.inventory_why), "%s", err.message);
    } else if (s->inventory) {
        plan.inventory_check = SWEEP_CHECK_MADE;
    }
    /* a check that could not be made (the database failed, or did not
     * answer in time) fails the sweep, as a record that could not be
     * made does; one a stop or a lost Lease left is the next sweep's */
    bool unchecked = plan.inventory_check == SWEEP_CHECK_FAILED;
    /* deletions refused, and the inventory's rows of a cluster refused */
    size_t refused_clusters = plan.n_refusals;
    kr_metrics_gauge_set(s->refused, (double)refused_clusters);
    print_plan(s, &plan);
    /* what was not recorded as it happened (nothing, but for a plan
     * made without the hooks; a dry run records nothing) */
    size_t refused = s->unrecorded;
    if (s->outbox && !s->opts.dry_run) {
        record_deadline(s);
        refused += sweep_record(s->outbox, &plan, s->opts.logger, record_waits_no_longer, s);
    }
    sweep_plan_free(&plan);
    /* ended: its inventory check and its records included, so that a
     * sweep held there does not look done */
    kr_metrics_gauge_set(s->last, (double)time(NULL));
    return refused || unchecked ? 1 : refused_clusters ? 4 : skipped ? 3 : 0;
}

/* --once: the sweep runs on a thread of the manager's, which then stops
 * with its outcome; a signal meanwhile stops the program as it stops any
 * (the first lets the sweep finish, its requests bounded by
 * --request-timeout; a second exits at once). */
static void *sweep_once_thread(void *arg)
{
    sweeper *s = arg;
    s->once_rc = sweep_once(s);
    kr_manager_stop(s->m, s->once_rc);
    return NULL;
}

static int start_once(kr_manager_t *m, void *user)
{
    (void)m;
    sweeper *s = user;
    if (pthread_create(&s->thread, NULL, sweep_once_thread, s) != 0)
        return KR_EIO;
    s->running = true;
    return 0;
}

static void stop_once(kr_manager_t *m, void *user)
{
    (void)m;
    sweeper *s = user;
    pthread_mutex_lock(&s->lock);
    s->stopping = true; /* its records wait for the database no longer */
    pthread_mutex_unlock(&s->lock);
    if (s->running)
        pthread_join(s->thread, NULL);
    s->running = false;
}

static void *sweep_loop(void *arg)
{
    sweeper *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        pthread_mutex_unlock(&s->lock);
        sweep_once(s);
        pthread_mutex_lock(&s->lock);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(flags.interval_ms / 1000);
        until.tv_nsec += (long)(flags.interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int start_sweeping(kr_manager_t *m, void *user)
{
    (void)m;
    sweeper *s = user;
    s->stopping = false;
    if (pthread_create(&s->thread, NULL, sweep_loop, s) != 0)
        return KR_EIO;
    s->running = true;
    return 0;
}

static void stop_sweeping(kr_manager_t *m, void *user)
{
    (void)m;
    sweeper *s = user;
    if (!s->running)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL); /* a sweep in progress finishes first */
    s->running = false;
}

/* The slowest --rate (one delete every 100 s) and the shortest
 * --interval. */
#define MIN_RATE 0.01
#define MIN_INTERVAL_MS 1000

/* Flags the parser cannot check alone. */
static int check_flags(sweeper *s, kr_error_t *err)
{
    char *end = NULL;
    double rate = strtod(flags.rate, &end);
    /* a safety tool always paces: 0, nan and inf would all turn pacing
     * off (the sweep paces only at a rate above 0); below the floor a
     * sweep of a few deletes would last for days */
    if (!end || *end || end == flags.rate || !isfinite(rate) || rate < MIN_RATE || rate > 1e6)
        return kr_error_set(err, KR_EINVAL,
                            "--rate: want deletes per second, at least %g and at most 1000000, "
                            "got %s",
                            MIN_RATE, flags.rate);
    end = NULL;
    double ratio = strtod(flags.max_delete_ratio, &end);
    /* a decimal share: strtod also reads hex floats (0x1p-2) */
    if (!end || *end || end == flags.max_delete_ratio ||
        flags.max_delete_ratio[strspn(flags.max_delete_ratio, "0123456789.")] != '\0' ||
        !isfinite(ratio) || ratio <= 0 || ratio > 1)
        return kr_error_set(err, KR_EINVAL,
                            "--max-delete-ratio: want a share above 0 and at most 1, got %s",
                            flags.max_delete_ratio);
    if (flags.max_deletes < 0)
        return kr_error_set(err, KR_EINVAL, "--max-deletes must not be negative");
    if (strcmp(flags.output, "table") != 0 && strcmp(flags.output, "json") != 0)
        return kr_error_set(err, KR_EINVAL, "--output: want table or json, got %s", flags.output);
    /* each sweep lists the hub and every cluster whole */
    if (!flags.once && flags.interval_ms < MIN_INTERVAL_MS)
        return kr_error_set(err, KR_EINVAL, "--interval must be at least 1s");
    if (flags.namespace_ && !kr_name_is_dns1123_label(flags.namespace_))
        return kr_error_set(err, KR_EINVAL,
                            "--namespace: \"%s\" is not a namespace (lower case alphanumerics "
                            "and '-', at most 63)",
                            flags.namespace_);
    s->json = strcmp(flags.output, "json") == 0;
    const char **names = flags.resources.n ? flags.resources.items : default_resources;
    size_t n = flags.resources.n ? flags.resources.n : 3;
    s->resources = calloc(n, sizeof(*s->resources));
    s->resource_bufs = calloc(n, sizeof(*s->resource_bufs));
    s->resource_ns = calloc(n, sizeof(*s->resource_ns));
    s->resource_kinds = calloc(n, sizeof(*s->resource_kinds));
    if (!s->resources || !s->resource_bufs || !s->resource_ns || !s->resource_kinds)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    s->opts.n_resources = n; /* what sweeper_free frees, from here on */
    for (size_t i = 0; i < n; i++) {
        /* "G/V/R[@NS][=Kind]", as kr-inventory's --resource */
        char spec[512];
        const char *eq = strchr(names[i], '=');
        size_t spec_len = eq ? (size_t)(eq - names[i]) : strlen(names[i]);
        if (spec_len >= sizeof(spec))
            return kr_error_set(err, KR_EINVAL, "--resource %.64s...: too long", names[i]);
        memcpy(spec, names[i], spec_len);
        spec[spec_len] = '\0';
        if (eq) {
            const char *kind = eq + 1;
            bool ok = *kind && strlen(kind) < KR_SWEEP_KIND_MAX;
            for (const char *k = kind; ok && *k; k++)
                ok = (*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
                     (*k >= '0' && *k <= '9');
            if (!ok)
                return kr_error_set(err, KR_EINVAL, "--resource %s: \"%s\" is not a kind", names[i],
                                    kind);
            if (!(s->resource_kinds[i] = strdup(kind)))
                return kr_error_set(err, KR_ENOMEM, "out of memory");
        }
        const char *at = strchr(spec, '@');
        if (at) {
            const char *ns = at + 1;
            if (!kr_name_is_dns1123_label(ns))
                return kr_error_set(err, KR_EINVAL, "--resource %s: \"%s\" is not a namespace name",
                                    names[i], ns);
            if (flags.namespace_ && strcmp(flags.namespace_, ns) != 0)
                return kr_error_set(err, KR_EINVAL, "--resource %s: -n %s sweeps only namespace %s",
                                    names[i], flags.namespace_, flags.namespace_);
            if (!(s->resource_ns[i] = strdup(ns)))
                return kr_error_set(err, KR_ENOMEM, "out of memory");
        }
        size_t text_len = at ? (size_t)(at - spec) : strlen(spec);
        char text[512];
        memcpy(text, spec, text_len);
        text[text_len] = '\0';
        size_t len = text_len + 3;
        s->resource_bufs[i] = malloc(len);
        if (!s->resource_bufs[i])
            return kr_error_set(err, KR_ENOMEM, "out of memory");
        int rc = kr_gvr_parse(text, s->resource_bufs[i], len, &s->resources[i], err);
        if (rc != 0)
            return rc;
        /* twice (in any versions: the same objects, unless in two
         * namespaces of their own) would plan, delete and record each
         * object twice, and halve the share the ratio guard sees */
        for (size_t q = 0; q < i; q++)
            if (strcmp(s->resources[q].group, s->resources[i].group) == 0 &&
                strcmp(s->resources[q].resource, s->resources[i].resource) == 0 &&
                (!s->resource_ns[q] || !s->resource_ns[i] ||
                 strcmp(s->resource_ns[q], s->resource_ns[i]) == 0))
                return kr_error_set(err, KR_EINVAL, "--resource %s is given twice (as %s)",
                                    names[i], names[q]);
        /* a Kubernetes kind given wrong is refused here (a custom
         * resource's is checked against the hub's discovery by the sweep):
         * the inventory's rows of the other kind would be marked deleted */
        kr_resource_info info;
        if (s->resource_kinds[i] &&
            kr_resource_builtin_lookup(s->resources[i].resource, &info) == 0 &&
            strcmp(info.group, s->resources[i].group) == 0 &&
            strcmp(info.kind, s->resource_kinds[i]) != 0)
            return kr_error_set(err, KR_EINVAL, "--resource %s: %s is kind %s, not %s", names[i],
                                text, info.kind, s->resource_kinds[i]);
    }
    s->opts.resources = s->resources;
    s->opts.resource_namespaces = (const char *const *)s->resource_ns;
    s->opts.resource_kinds = (const char *const *)s->resource_kinds;
    s->opts.grace_s = (int64_t)(flags.grace_ms / 1000);
    s->opts.max_deletes = (size_t)flags.max_deletes;
    s->opts.max_delete_ratio = ratio; /* 1: no limit (sweep_plan_guard) */
    s->opts.rate_qps = rate;
    s->opts.dry_run = flags.dry_run;
    s->opts.namespace_ = flags.namespace_;
    return 0;
}

static int wire_clusters(sweeper *s, kr_error_t *err)
{
    kr_manager_t *m = s->m;
    size_t n = kr_manager_cluster_count(m);
    if (n == 0)
        return kr_error_set(err, KR_EINVAL, "no workload clusters: give --cluster NAME=KUBECONFIG");
    s->clusters = calloc(n, sizeof(*s->clusters));
    if (!s->clusters)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        s->clusters[i] =
            (sweep_cluster){kr_manager_cluster_name(m, i), kr_manager_cluster_client(m, i)};
    s->opts.hub = kr_manager_hub(m);
    s->opts.hub_name = kr_manager_hub_name(m);
    s->opts.clusters = s->clusters;
    s->opts.n_clusters = n;
    s->opts.logger = kr_manager_logger(m);
    s->opts.may_act = still_leading;
    s->opts.may_act_user = s;
    s->opts.acted = sweeper_acted;
    s->opts.acted_user = s;
    s->opts.decided = sweeper_decided;
    s->opts.decided_user = s;
    s->opts.stopping = is_stopping;
    s->opts.stopping_user = s;
    return 0;
}

/* Before the manager: a SIGTERM while a restarting database is waited
 * for ends us at once. */
static int open_inventory(sweeper *s, const kr_logger *logger, kr_error_t *err)
{
    if (!flags.inventory)
        return 0;
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = flags.inventory;
    io.logger = *logger;
    io.connect_wait_ms = flags.inventory_wait_ms;
    return kr_inventory_new(&io, &s->inventory, err);
}

/* The way the records go to the inventory, and the thread of the sweep's
 * queries and marks (none without one). A dry run records nothing: it has
 * no outbox, so that it neither records what an earlier run left in the
 * spool (that run's books, which its next start records) nor takes the
 * spool's lock from the replica that owns it, and its exit code does not
 * depend on them. */
static int open_outbox(sweeper *s, kr_error_t *err)
{
    if (!s->inventory)
        return 0;
    int rc = 0;
    if (flags.dry_run) {
        if (flags.inventory_spool)
            kr_log(kr_manager_logger(s->m), KR_LOG_INFO, "sweeper",
                   "dry run: %s is not read; what waits there is recorded by the next run that "
                   "is not a dry run",
                   flags.inventory_spool);
    } else {
        kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                       .logger = *kr_manager_logger(s->m),
                                       .spool_path = flags.inventory_spool};
        rc = kr_inventory_outbox_new(s->inventory, &oo, &s->outbox, err);
    }
    if (rc == 0)
        rc = sweep_caller_new(&s->caller, err);
    s->opts.inventory_caller = s->caller;
    return rc;
}

static void sweeper_free(sweeper *s)
{
    kr_inventory_outbox_free(s->outbox);
    sweep_caller_free(s->caller); /* a call given up may still be under way */
    kr_inventory_free(s->inventory);
    for (size_t i = 0; s->resource_bufs && i < s->opts.n_resources; i++)
        free(s->resource_bufs[i]);
    for (size_t i = 0; s->resource_ns && i < s->opts.n_resources; i++)
        free(s->resource_ns[i]);
    for (size_t i = 0; s->resource_kinds && i < s->opts.n_resources; i++)
        free(s->resource_kinds[i]);
    free(s->resource_kinds);
    free(s->resource_bufs);
    free(s->resource_ns);
    free(s->resources);
    free(s->clusters);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
}

int main(int argc, char **argv)
{
    kr_manager_config cfg;
    kr_error_t err = {0};
    int rc = kr_manager_parse_args(&program, argc, argv, &cfg, &err);
    sweeper s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the interval ignores wall-clock jumps */
    pthread_cond_init(&s.wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc == 0 && check_flags(&s, &err) != 0)
        rc = KR_EINVAL;
    if (rc == 0 && flags.inventory_spool && !flags.inventory)
        rc = kr_error_set(&err, KR_EINVAL, "--inventory-spool needs --inventory");
    if (rc == 0 && flags.once && cfg.leader_elect)
        rc = kr_error_set(&err, KR_EINVAL,
                          "--once sweeps at once, without a Lease: drop "
                          "--leader-elect");
    if (rc != 0) {
        int code = kr_manager_args_exit(&program, rc, &err, stdout, stderr);
        sweeper_free(&s);
        kr_flag_strings_free(&flags.resources);
        kr_manager_config_free(&cfg);
        return code;
    }
    kr_manager_opts mo = KR_MANAGER_OPTS_INIT;
    mo.program = &program;
    mo.config = &cfg;
    mo.request_timeout_ms = program.default_request_timeout_ms;
    /* the inventory's queries and marks are waited for as long as a
     * cluster's request is */
    s.opts.inventory_timeout_ms =
        cfg.request_timeout_set ? cfg.request_timeout_ms : mo.request_timeout_ms;
    int code = 2;
    if (kr_manager_config_log_sink(&cfg, stderr, &s.log, &mo.logger, &err) != 0 ||
        open_inventory(&s, &mo.logger, &err) != 0 || kr_manager_new(&mo, &s.m, &err) != 0 ||
        register_metrics(&s, &err) != 0 || open_outbox(&s, &err) != 0 ||
        wire_clusters(&s, &err) != 0) {
        fprintf(stderr, "kr-sweeper: %s\n", err.message);
        goto out;
    }
    /* Only the leader sweeps; a sweep in progress finishes before the
     * Lease is given up. --once sweeps at once, leader or not. */
    if ((flags.once
             ? kr_manager_add_runnable(s.m, start_once, stop_once, &s, false, &err)
             : kr_manager_add_runnable(s.m, start_sweeping, stop_sweeping, &s, true, &err)) != 0) {
        fprintf(stderr, "kr-sweeper: %s\n", err.message);
        goto out;
    }
    int ran = code = kr_manager_run(s.m);
    if (code == 0 && flags.once) /* a signal during a failed sweep does not make it a success */
        code = s.once_rc;
    /* every action is in the books, or the run says it is not; a record
     * the flush waited out is cut short (see below) */
    int flushed = s.outbox ? kr_inventory_outbox_finish(s.outbox, OUTBOX_FLUSH_MS) : 0;
    if (flushed != 0) {
        kr_log(kr_manager_logger(s.m), KR_LOG_ERROR, "sweeper",
               "records not in the inventory: %zu still waiting, %zu refused",
               kr_inventory_outbox_pending(s.outbox), kr_inventory_outbox_dropped(s.outbox));
        if (flags.once && (code == 0 || code == 3 || code == 4))
            code = 1;
    }
    if (code != ran) /* the manager logged the code it knew of */
        kr_log(kr_manager_logger(s.m), KR_LOG_INFO, "sweeper", "exit code %d: the sweep %s", code,
               code == 3   ? "left a cluster it could not list alone"
               : code == 4 ? "refused a cluster's deletions (over --max-delete-ratio)"
               : s.once_rc ? "failed"
                           : "left records out of the inventory");
    /* Nothing is waited for past that flush: a call the database never
     * answered (a query given up, or a record the flush waited out, which
     * kr_inventory_outbox_finish cut short: a server stopped, a lock
     * another session holds) would hold the exit, a SIGTERM included, as
     * long as the database stalls, since its thread is joined before the
     * inventory is freed. It is cut short here (the connection's socket
     * shut down on our side: no answer from the server is needed, where a
     * cancel request or a statement_timeout would need one), so that
     * every thread is still joined and everything freed; what the outbox
     * holds stays in its spool. */
    if (s.inventory && sweep_caller_busy(s.caller)) {
        kr_log(kr_manager_logger(s.m), KR_LOG_WARN, "sweeper",
               "inventory: a call still waits for the database: cut short at exit");
        kr_inventory_interrupt(s.inventory);
    }
out:
    sweeper_free(&s);
    kr_manager_free(s.m);
    kr_log_sink_free(s.log); /* after all that logs through it */
    kr_flag_strings_free(&flags.resources);
    kr_manager_config_free(&cfg);
    return code;
}
