/* Tests of kr-sweeper's plan and sweep (examples/kr-sweeper/plan.c,
 * sweep.c; KR_TEST_PROGRAM=kr-sweeper) against a hub and two workload
 * clusters of the in-memory apiserver: exactly the planted zombies go,
 * everything else stays; a cluster that cannot be listed is not touched;
 * the per-run cap; preconditions skip an object changed after the plan.
 * KR_TEST_THREADED: runtime loop thread, server threads, test as worker. */
#include <check.h>
#include <ctype.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../examples/kr-sweeper/sweep.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "pgserver.h"
#include "ts_client.h"

#define CM KR_GVR("", "v1", "configmaps")
#define JOBS KR_GVR("batch", "v1", "jobs")
#define CRDS KR_GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")

typedef struct cluster {
    kr_testserver_t *ts;
    kr_rest_config cfg;
    kr_client_t *c;
} cluster;

static kr_runtime_t *rt;
static cluster hub, dc1, dc2;

static void cluster_up(cluster *cl, unsigned long long seed)
{
    memset(cl, 0, sizeof(*cl));
    kr_testserver_opts o = {.seed = seed};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &cl->ts, &err) == 0, "%s", err.message);
    cl->cfg.server = (char *)kr_testserver_url(cl->ts);
    cl->cfg.qps = -1;
    kr_client_opts co = {.backoff_base_ms = 2, .backoff_max_ms = 10, .max_retries = 2};
    ck_assert_msg(kr_client_new(rt, &cl->cfg, &co, &cl->c, &err) == 0, "%s", err.message);
}

static void cluster_down(cluster *cl)
{
    kr_client_free(cl->c);
    kr_testserver_free(cl->ts);
}

static json_t *create(cluster *cl, kr_gvr gvr, json_t *obj)
{
    json_t *out = NULL;
    kr_error_t err = {0};
    const char *ns =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    ck_assert_msg(kr_client_create(cl->c, gvr, ns, obj, NULL, &out, &err) == 0, "%s", err.message);
    json_decref(obj);
    return out;
}

static const char *uid_of(const json_t *o)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), "uid"));
}

static json_t *hub_cm(const char *name, const char *placement)
{
    json_t *o =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                  "metadata", "name", name, "namespace", "default", "data", "k", "v");
    if (placement)
        json_object_set_new(json_object_get(o, "metadata"), "annotations",
                            json_pack("{s:s}", KR_ANNOTATION_CLUSTERS, placement));
    return o;
}

static json_t *copy_cm(const char *name, const char *manager, const char *source_uid)
{
    json_t *o = hub_cm(name, NULL);
    if (manager)
        json_object_set_new(json_object_get(o, "metadata"), "labels",
                            json_pack("{s:s, s:s, s:s}", KR_LABEL_MANAGED_BY, manager,
                                      KR_LABEL_SOURCE_UID, source_uid, KR_LABEL_SOURCE_CLUSTER,
                                      "hub"));
    return o;
}

static json_t *copy_job(const char *name, const char *source_uid)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:{s:{s:{s:[{s:s, s:s}], "
                     "s:s}}}}",
                     "apiVersion", "batch/v1", "kind", "Job", "metadata", "name", name, "namespace",
                     "default", "labels", KR_LABEL_MANAGED_BY, KR_MANAGER_SUBMITTER,
                     KR_LABEL_SOURCE_UID, source_uid, KR_LABEL_SOURCE_CLUSTER, "hub", "spec",
                     "template", "spec", "containers", "name", "c", "image", "busybox",
                     "restartPolicy", "Never");
}

static void install_runnable_crd(cluster *cl)
{
    json_t *crd =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:[{s:s, s:b, s:b, "
                  "s:{s:{s:s, s:b}}, s:{s:{}}}]}}",
                  "apiVersion", "apiextensions.k8s.io/v1", "kind", "CustomResourceDefinition",
                  "metadata", "name", "runnables.kreconcile.io", "spec", "group", "kreconcile.io",
                  "scope", "Namespaced", "names", "plural", "runnables", "singular", "runnable",
                  "kind", "Runnable", "listKind", "RunnableList", "versions", "name", "v1alpha1",
                  "served", 1, "storage", 1, "schema", "openAPIV3Schema", "type", "object",
                  "x-kubernetes-preserve-unknown-fields", 1, "subresources", "status");
    json_decref(create(cl, CRDS, crd));
}

/* A Runnable on the hub with `status` (stolen), as kr-submitter writes it. */
static json_t *runnable_with(const char *name, json_t *status)
{
    json_t *r = create(&hub, KR_RUNNABLE_GVR,
                       json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:{}}}", "apiVersion",
                                 KR_PLATFORM_API_VERSION, "kind", "Runnable", "metadata", "name",
                                 name, "namespace", "default", "spec", "template"));
    json_object_set_new(r, "status", status);
    json_t *out = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_client_update_status(hub.c, KR_RUNNABLE_GVR, "default", r, NULL, &out, &err) ==
                      0,
                  "%s", err.message);
    json_decref(r);
    return out;
}

/* ... whose status chose `chosen` at `attempt`. */
static json_t *runnable(const char *name, const char *chosen, long attempt)
{
    return runnable_with(
        name, json_pack("{s:s, s:I}", "cluster", chosen, "attempt", (json_int_t)attempt));
}

static bool exists(cluster *cl, kr_gvr gvr, const char *name)
{
    int rc = kr_client_get(cl->c, gvr, "default", name, NULL, NULL);
    ck_assert(rc == 0 || rc == KR_ENOTFOUND);
    return rc == 0;
}

static const kr_gvr resources[] = {CM, JOBS};
static sweep_cluster workload[2];

static sweep_opts opts_for(int64_t grace_s, size_t max_deletes, bool dry_run)
{
    workload[0] = (sweep_cluster){"dc1", dc1.c};
    workload[1] = (sweep_cluster){"dc2", dc2.c};
    return (sweep_opts){.hub = hub.c,
                        .hub_name = "hub",
                        .clusters = workload,
                        .n_clusters = 2,
                        .resources = resources,
                        .n_resources = 2,
                        .grace_s = grace_s,
                        .max_deletes = max_deletes,
                        .dry_run = dry_run};
}

static void platform_up(void)
{
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, NULL), 0);
    ck_assert_int_eq(kr_runtime_start(rt, NULL), 0);
    cluster_up(&hub, 1);
    cluster_up(&dc1, 2);
    cluster_up(&dc2, 3);
    install_runnable_crd(&hub);
}

static void platform_down(void)
{
    cluster_down(&dc2);
    cluster_down(&dc1);
    cluster_down(&hub);
    kr_runtime_free(rt);
}

static bool planned(const sweep_plan *p, const char *where, const char *name, sweep_reason why)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].cluster, where) == 0 && strcmp(p->items[i].name, name) == 0)
            return p->items[i].reason == why;
    return false;
}

START_TEST(one_sweep_removes_exactly_the_zombies)
{
    platform_up();
    json_t *a = create(&hub, CM, hub_cm("a", NULL));
    json_t *b = create(&hub, CM, hub_cm("b", "dc1"));
    json_t *c = create(&hub, CM, hub_cm("c", NULL));
    json_t *r1 = runnable("r1", "dc1", 2);
    /* dc1: wanted copies, a copy whose source is gone, one whose source
     * was replaced (stale uid), an unlabelled object, the chosen Job and
     * a Job of a Runnable that is gone. */
    json_decref(create(&dc1, CM, copy_cm("a", KR_MANAGER_SYNCER, uid_of(a))));
    json_decref(create(&dc1, CM, copy_cm("b", KR_MANAGER_SYNCER, uid_of(b))));
    json_decref(create(&dc1, CM, copy_cm("gone", KR_MANAGER_SYNCER, "uid-of-nothing")));
    json_decref(create(&dc1, CM, copy_cm("c", KR_MANAGER_SYNCER, "stale-uid-of-c")));
    json_decref(create(&dc1, CM, copy_cm("users-own", NULL, NULL)));
    /* labelled by hand with an empty source uid: not ours, never judged */
    json_decref(create(&dc1, CM, copy_cm("empty-uid", KR_MANAGER_SYNCER, "")));
    json_decref(create(&dc1, JOBS, copy_job("r1-2", uid_of(r1))));
    json_decref(create(&dc1, JOBS, copy_job("r9-1", "uid-of-a-gone-runnable")));
    /* dc2: a wanted copy, one no longer placed here, a failover loser. */
    json_decref(create(&dc2, CM, copy_cm("a", KR_MANAGER_SYNCER, uid_of(a))));
    json_decref(create(&dc2, CM, copy_cm("b", KR_MANAGER_SYNCER, uid_of(b))));
    json_decref(create(&dc2, JOBS, copy_job("r1-1", uid_of(r1))));

    /* Younger than the grace period: nothing is a candidate. */
    sweep_opts o = opts_for(3600, 100, false);
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 0);
    ck_assert_uint_eq(plan.young, 5);
    sweep_plan_free(&plan);

    /* The dry run plans exactly the five zombies and deletes nothing. */
    o = opts_for(0, 100, true);
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 5);
    ck_assert(planned(&plan, "dc1", "gone", SWEEP_SOURCE_GONE));
    ck_assert(planned(&plan, "dc1", "c", SWEEP_SOURCE_REPLACED));
    ck_assert(planned(&plan, "dc1", "r9-1", SWEEP_RUNNABLE_GONE));
    ck_assert(planned(&plan, "dc2", "b", SWEEP_NOT_PLACED));
    ck_assert(planned(&plan, "dc2", "r1-1", SWEEP_FAILOVER_LOSER));
    for (size_t i = 0; i < plan.n; i++)
        ck_assert_int_eq(plan.items[i].action, SWEEP_PLANNED);
    ck_assert(exists(&dc1, CM, "gone"));
    json_t *doc = sweep_plan_json(&plan);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "candidates")), 5);
    json_decref(doc);

    /* Acting on it deletes exactly the plan. */
    ck_assert_int_eq(sweep_execute(&o, &plan, &err), 0);
    for (size_t i = 0; i < plan.n; i++)
        ck_assert_int_eq(plan.items[i].action, SWEEP_DELETED);
    sweep_plan_free(&plan);
    ck_assert(!exists(&dc1, CM, "gone"));
    ck_assert(!exists(&dc1, CM, "c"));
    ck_assert(!exists(&dc1, JOBS, "r9-1"));
    ck_assert(!exists(&dc2, CM, "b"));
    ck_assert(!exists(&dc2, JOBS, "r1-1"));
    ck_assert(exists(&dc1, CM, "a"));
    ck_assert(exists(&dc1, CM, "b"));
    ck_assert(exists(&dc1, CM, "users-own"));
    ck_assert(exists(&dc1, CM, "empty-uid"));
    ck_assert(exists(&dc1, JOBS, "r1-2"));
    ck_assert(exists(&dc2, CM, "a"));
    ck_assert(exists(&hub, CM, "c"));

    /* A second sweep finds nothing. */
    o = opts_for(0, 100, false);
    ck_assert_int_eq(sweep_run(&o, &plan, &err), 0);
    ck_assert_uint_eq(plan.n, 0);
    sweep_plan_free(&plan);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(r1);
    platform_down();
}
END_TEST

/* A Runnable that failed over from dc2 to dc1, its attempts as
 * kr-submitter keeps them: attempt 1 in dc2 in `first_state`. */
static json_t *failed_over(const char *name, const char *first_state)
{
    return runnable_with(name,
                         json_pack("{s:s, s:I, s:[{s:I, s:s, s:s}, {s:I, s:s, s:s}]}", "cluster",
                                   "dc1", "attempt", (json_int_t)2, "attempts", "attempt",
                                   (json_int_t)1, "cluster", "dc2", "state", first_state, "attempt",
                                   (json_int_t)2, "cluster", "dc1", "state", "Created"));
}

/* After a failover, the earlier attempt's copy is kr-submitter's to settle
 * while its books say it may be alive (Decided, Created: if both copies
 * started, it keeps the first and stops the later, invariant 2); once
 * they say it is gone (Deleted, Stopped), a copy still there is a
 * zombie. */
START_TEST(an_earlier_attempt_kr_submitter_looks_after_is_not_swept)
{
    platform_up();
    static const char *const states[] = {"Decided", "Created", "Deleted", "Stopped"};
    json_t *r[4];
    for (size_t i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%zu", i);
        r[i] = failed_over(name, states[i]);
        snprintf(name, sizeof(name), "f%zu-1", i);
        json_decref(create(&dc2, JOBS, copy_job(name, uid_of(r[i]))));
        snprintf(name, sizeof(name), "f%zu-2", i);
        json_decref(create(&dc1, JOBS, copy_job(name, uid_of(r[i]))));
    }
    /* a copy of an attempt the books do not have in that cluster */
    json_decref(create(&dc2, JOBS, copy_job("f0-7", uid_of(r[0]))));
    sweep_opts o = opts_for(0, 100, true);
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 3);
    ck_assert(planned(&plan, "dc2", "f2-1", SWEEP_FAILOVER_LOSER));
    ck_assert(planned(&plan, "dc2", "f3-1", SWEEP_FAILOVER_LOSER));
    ck_assert(planned(&plan, "dc2", "f0-7", SWEEP_FAILOVER_LOSER));
    sweep_plan_free(&plan);
    for (size_t i = 0; i < 4; i++)
        json_decref(r[i]);
    platform_down();
}
END_TEST

/* ... nor a copy kr-syncer leaves in place for an object it no longer
 * syncs (ignored: its placement no longer matters). */
START_TEST(a_placement_kr_syncer_reads_as_here_is_not_swept_here)
{
    platform_up();
    /* A YAML `|` block ends every line with a newline; kr-syncer reads
     * both as dc2, so a sweep here would only delete what it recreates. */
    json_t *block = create(&hub, CM, hub_cm("block", "dc1,\ndc2\n"));
    json_t *tab = create(&hub, CM, hub_cm("tab", "dc1,\tdc2"));
    json_t *only1 = create(&hub, CM, hub_cm("only1", "dc1\n"));
    /* kr-syncer stopped syncing it, and leaves its copies where they are */
    json_t *ignored_cm = hub_cm("ignored", "dc1");
    json_object_set_new(json_object_get(json_object_get(ignored_cm, "metadata"), "annotations"),
                        KR_ANNOTATION_IGNORE, json_string("true"));
    json_t *ignored = create(&hub, CM, ignored_cm);
    json_t *srcs[] = {block, tab, only1, ignored};
    for (size_t i = 0; i < 4; i++) {
        const char *name =
            json_string_value(json_object_get(json_object_get(srcs[i], "metadata"), "name"));
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, uid_of(srcs[i]))));
        json_decref(create(&dc2, CM, copy_cm(name, KR_MANAGER_SYNCER, uid_of(srcs[i]))));
    }
    sweep_opts o = opts_for(0, 100, true);
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 1);
    ck_assert(planned(&plan, "dc2", "only1", SWEEP_NOT_PLACED));
    sweep_plan_free(&plan);
    for (size_t i = 0; i < 4; i++)
        json_decref(srcs[i]);
    platform_down();
}
END_TEST

/* The sweeper's names of its clusters must be kr-syncer's: under others
 * (dc1 is "east" to this sweeper) every copy placed on dc1 by name would
 * look "no longer placed here". A placement that names none of the
 * sweeper's clusters is held, as kr-syncer holds one naming none of its
 * own (a typo such as "DC2"): nothing is judged, nothing deleted. */
START_TEST(misnamed_clusters_judge_no_copy_placed_by_name)
{
    platform_up();
    enum { N = 12 };
    json_t *srcs[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "p-%02d", i);
        srcs[i] = create(&hub, CM, hub_cm(name, "dc1"));
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, uid_of(srcs[i]))));
    }
    sweep_opts o = opts_for(0, 100, false);
    o.max_delete_ratio = 0.5;
    workload[0].name = "east";
    workload[1].name = "west";
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 0);
    sweep_plan_free(&plan);
    ck_assert(exists(&dc1, CM, "p-00"));
    /* under kr-syncer's names, nothing is a zombie */
    o = opts_for(0, 100, true);
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 0);
    sweep_plan_free(&plan);
    for (int i = 0; i < N; i++)
        json_decref(srcs[i]);
    platform_down();
}
END_TEST

/* The levels of what a sweep logs, one character each. */
static void levels_of(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)module;
    (void)message;
    char *seen = user;
    size_t n = strlen(seen);
    if (n + 1 < 64) {
        seen[n] = (char)('0' + (int)level);
        seen[n + 1] = '\0';
    }
}

/* The warnings a sweep logs, one per line. */
static void warnings_of(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)module;
    char *said = user;
    size_t n = strlen(said);
    if (level == KR_LOG_WARN && n < 511)
        snprintf(said + n, 512 - n, "%s\n", message);
}

/* Only this hub's copies, made by our programs, are ever candidates: a
 * copy another hub made (its source-cluster label), an object another
 * manager labelled, and, while the hub's Runnables cannot be listed,
 * kr-submitter's copies (nothing to judge them by) all stay, however old
 * and whatever their source uid. */
START_TEST(only_judgeable_copies_of_this_hub_are_ever_swept)
{
    platform_up();
    json_t *foreign = copy_cm("foreign", KR_MANAGER_SYNCER, "uid-of-nothing");
    json_object_set_new(json_object_get(json_object_get(foreign, "metadata"), "labels"),
                        KR_LABEL_SOURCE_CLUSTER, json_string("other-hub"));
    json_decref(create(&dc1, CM, foreign));
    json_decref(create(&dc1, CM, copy_cm("theirs", "someone-else", "uid-of-nothing")));
    json_decref(create(&dc1, JOBS, copy_job("r9-1", "uid-of-a-gone-runnable")));
    json_decref(create(&dc1, CM, copy_cm("zombie", KR_MANAGER_SYNCER, "uid-of-nothing")));
    /* the hub cannot list Runnables: their CRD is gone */
    ck_assert_int_eq(
        kr_client_delete(hub.c, CRDS, NULL, "runnables.kreconcile.io", NULL, NULL, NULL), 0);
    for (int i = 0; kr_client_list(hub.c, KR_RUNNABLE_GVR, "default", NULL, NULL, NULL) == 0; i++) {
        ck_assert_msg(i < 500, "Runnables are still served");
        struct timespec pace = {0, 10000000};
        nanosleep(&pace, NULL);
    }
    sweep_opts o = opts_for(0, 100, false);
    char levels[64] = "";
    kr_logger logger = {.cb = levels_of, .max_level = KR_LOG_INFO, .user = levels};
    o.logger = &logger;
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 1);
    ck_assert(planned(&plan, "dc1", "zombie", SWEEP_SOURCE_GONE));
    ck_assert_uint_eq(plan.foreign, 1);
    ck_assert_uint_eq(plan.unjudged, 1);
    /* a hub without kr-submitter (no Runnables served) is no warning at
     * every sweep; the plan says what was not judged */
    char want_none[2] = {(char)('0' + KR_LOG_WARN), '\0'};
    ck_assert_msg(!strstr(levels, want_none), "levels logged: %s", levels);
    sweep_plan_free(&plan);
    ck_assert(!exists(&dc1, CM, "zombie"));
    ck_assert(exists(&dc1, CM, "foreign"));
    ck_assert(exists(&dc1, CM, "theirs"));
    ck_assert(exists(&dc1, JOBS, "r9-1"));
    platform_down();
}
END_TEST

/* A resource swept in one namespace (--resource v1/configmaps@apps) is
 * listed there alone, on the hub and in the clusters: a zombie of another
 * namespace is not seen, so RBAC may grant that resource in one
 * namespace only (Secrets, of all things). */
START_TEST(a_resource_of_one_namespace_is_swept_there_alone)
{
    platform_up();
    cluster *all[] = {&hub, &dc1};
    for (size_t i = 0; i < 2; i++)
        json_decref(create(all[i], KR_GVR("", "v1", "namespaces"),
                           json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                                     "metadata", "name", "apps")));
    json_decref(create(&dc1, CM, copy_cm("z-default", KR_MANAGER_SYNCER, "uid-of-nothing")));
    json_t *z = copy_cm("z-apps", KR_MANAGER_SYNCER, "uid-of-nothing");
    json_object_set_new(json_object_get(z, "metadata"), "namespace", json_string("apps"));
    json_decref(create(&dc1, CM, z));
    /* a live source in apps and its copy: the hub is listed in apps too,
     * or the copy would look orphaned */
    json_t *src = hub_cm("live", NULL);
    json_object_set_new(json_object_get(src, "metadata"), "namespace", json_string("apps"));
    json_t *live = create(&hub, CM, src);
    json_t *copy = copy_cm("live", KR_MANAGER_SYNCER, uid_of(live));
    json_object_set_new(json_object_get(copy, "metadata"), "namespace", json_string("apps"));
    json_decref(create(&dc1, CM, copy));
    json_decref(live);
    static const char *const where[] = {"apps", NULL};
    sweep_opts o = opts_for(0, 100, true);
    o.n_clusters = 1;
    o.resource_namespaces = where;
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 1);
    ck_assert_str_eq(plan.items[0].namespace_, "apps");
    ck_assert(planned(&plan, "dc1", "z-apps", SWEEP_SOURCE_GONE));
    sweep_plan_free(&plan);
    /* every namespace again: both */
    o.resource_namespaces = NULL;
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 2);
    sweep_plan_free(&plan);
    platform_down();
}
END_TEST

START_TEST(a_cluster_that_cannot_be_listed_is_skipped_and_untouched)
{
    platform_up();
    json_decref(create(&dc1, CM, copy_cm("z1", KR_MANAGER_SYNCER, "uid-of-nothing")));
    json_decref(create(&dc2, CM, copy_cm("z2", KR_MANAGER_SYNCER, "uid-of-nothing")));
    kr_testserver_faults down = {.fail_503 = 1.0};
    kr_testserver_set_faults(dc2.ts, &down);
    sweep_opts o = opts_for(0, 100, false);
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 1);
    ck_assert_str_eq(plan.items[0].cluster, "dc1");
    ck_assert_int_eq(plan.items[0].action, SWEEP_DELETED);
    ck_assert_uint_eq(plan.n_skips, 1);
    ck_assert_str_eq(plan.skips[0].cluster, "dc2");
    sweep_plan_free(&plan);
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(dc2.ts, &none);
    ck_assert(exists(&dc2, CM, "z2"));

    /* Without a hub list nothing can be judged: the run fails, nothing goes. */
    kr_testserver_set_faults(hub.ts, &down);
    ck_assert_int_ne(sweep_run(&o, &plan, &err), 0);
    kr_testserver_set_faults(hub.ts, &none);
    ck_assert(exists(&dc2, CM, "z2"));
    platform_down();
}
END_TEST

START_TEST(the_cap_stops_the_run_and_reports_the_rest)
{
    platform_up();
    enum { N = 1000 };
    json_t *objs[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "zombie-%04d", i);
        objs[i] = copy_cm(name, KR_MANAGER_SYNCER, "uid-of-nothing");
    }
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load_bulk(dc1.ts, objs, N, &err) == 0, "%s", err.message);
    for (int i = 0; i < N; i++)
        json_decref(objs[i]);
    sweep_opts o = opts_for(0, 100, false);
    sweep_plan plan;
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, N);
    size_t deleted = 0, capped = 0;
    for (size_t i = 0; i < plan.n; i++) {
        deleted += plan.items[i].action == SWEEP_DELETED;
        capped += plan.items[i].action == SWEEP_SKIPPED_CAP;
    }
    ck_assert_uint_eq(deleted, 100);
    ck_assert_uint_eq(capped, N - 100);
    sweep_plan_free(&plan);
    json_t *left = NULL;
    ck_assert_int_eq(kr_client_list_all(dc1.c, CM, "default", NULL, &left, NULL), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(left, "items")), N - 100);
    json_decref(left);
    platform_down();
}
END_TEST

static size_t count_action(const sweep_plan *p, sweep_action a)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->items[i].action == a;
    return n;
}

/* A SQLite inventory in a directory of its own (`prefix`), its directory
 * and database path into dir and db. */
static kr_inventory_t *inventory_open(char dir[64], char db[100], const char *prefix)
{
    ck_assert(kr_test_tmpdir_make(dir, 64, prefix));
    char url[128];
    snprintf(db, 100, "%s/inventory.db", dir);
    snprintf(url, sizeof(url), "sqlite://%s", db);
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    return inv;
}

static void inventory_close(kr_inventory_t *inv, const char *dir, const char *db)
{
    kr_inventory_free(inv);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char f[128];
        snprintf(f, sizeof(f), "%s%s", db, suffixes[i]);
        unlink(f);
    }
    rmdir(dir);
}

/* The inventory holds `obj` (a ConfigMap) live in cluster `where`. */
static void inventory_holds(kr_inventory_t *inv, const char *where, json_t *obj)
{
    kr_inventory_event ev = {.cluster = where,
                             .api_version = "v1",
                             .kind = "ConfigMap",
                             .type = KR_INVENTORY_ADDED,
                             .object = obj};
    kr_error_t err = {0};
    ck_assert_msg(kr_inventory_apply(inv, &ev, 1, NULL, &err) == 0, "%s", err.message);
}

/* A ConfigMap default/name (uid `uid`) as the inventory saw it long ago. */
static json_t *old_cm(const char *name, const char *uid, const char *rv)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", name, "namespace", "default", "uid", uid,
                     "resourceVersion", rv, "creationTimestamp", "2020-01-01T00:00:00Z");
}

/* The dry run shows what the cap will hold back, as the real run does
 * ("deletes exactly the plan"); a delete that timed out may have been
 * applied, and counts against the cap; one refused before it left does
 * not. */
START_TEST(the_dry_run_shows_what_the_cap_will_skip)
{
    platform_up();
    const char *names[] = {"zc", "zd", "ze"};
    for (size_t i = 0; i < 3; i++)
        json_decref(create(&dc1, CM, copy_cm(names[i], KR_MANAGER_SYNCER, "uid-of-nothing")));
    sweep_opts o = opts_for(0, 1, true);
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 3);
    ck_assert_uint_eq(count_action(&plan, SWEEP_PLANNED), 1);
    ck_assert_uint_eq(count_action(&plan, SWEEP_SKIPPED_CAP), 2);
    sweep_plan_free(&plan);
    for (size_t i = 0; i < 3; i++)
        ck_assert(exists(&dc1, CM, names[i]));
    o.dry_run = false;
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(count_action(&plan, SWEEP_DELETED), 1);
    ck_assert_uint_eq(count_action(&plan, SWEEP_SKIPPED_CAP), 2);
    sweep_plan_free(&plan);

    /* The two left, planned; then every request to dc1 outlasts the
     * client's timeout: the first delete fails (maybe applied), and the
     * cap of one holds the second back. */
    o = opts_for(0, 100, true);
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(count_action(&plan, SWEEP_PLANNED), 2);
    kr_rest_config slow_cfg = dc1.cfg;
    slow_cfg.timeout_ms = 200;
    kr_client_opts co = {.backoff_base_ms = 2, .backoff_max_ms = 10, .max_retries = 0};
    kr_client_t *slow = NULL;
    ck_assert_msg(kr_client_new(rt, &slow_cfg, &co, &slow, &err) == 0, "%s", err.message);
    kr_testserver_faults late = {.latency_ms = 1000}, none = {0};
    kr_testserver_set_faults(dc1.ts, &late);
    workload[0].client = slow;
    o.max_deletes = 1;
    ck_assert_int_eq(sweep_execute(&o, &plan, &err), 0);
    ck_assert_uint_eq(count_action(&plan, SWEEP_FAILED), 1);
    ck_assert_uint_eq(count_action(&plan, SWEEP_SKIPPED_CAP), 1);
    sweep_plan_free(&plan);
    kr_testserver_set_faults(dc1.ts, &none);
    kr_client_free(slow);

    /* A delete refused before it left (a name no server accepts) was not
     * applied: it does not count, and the next candidate goes. */
    json_decref(create(&dc1, CM, copy_cm("zf", KR_MANAGER_SYNCER, "uid-of-nothing")));
    json_decref(create(&dc1, CM, copy_cm("zg", KR_MANAGER_SYNCER, "uid-of-nothing")));
    o = opts_for(0, 100, true);
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    size_t left = count_action(&plan, SWEEP_PLANNED);
    ck_assert_uint_ge(left, 2);
    free(plan.items[0].name);
    plan.items[0].name = strdup("bad/name");
    o.dry_run = false;
    o.max_deletes = 1;
    ck_assert_int_eq(sweep_execute(&o, &plan, &err), 0);
    ck_assert_int_eq(plan.items[0].action, SWEEP_FAILED);
    ck_assert_uint_eq(count_action(&plan, SWEEP_DELETED), 1);
    ck_assert_uint_eq(count_action(&plan, SWEEP_SKIPPED_CAP), left - 2);
    sweep_plan_free(&plan);
    ck_assert(!sweep_outcome_unknown(KR_EFORBIDDEN, 403));
    ck_assert(!sweep_outcome_unknown(KR_EINVALIDOBJ, 422));
    ck_assert(!sweep_outcome_unknown(KR_EINVAL, 0));
    ck_assert(sweep_outcome_unknown(KR_ETIMEDOUT, 0));
    ck_assert(sweep_outcome_unknown(KR_EHTTP, 502));

    /* The inventory's marks: the dry run shows the cap there too. */
    char dir[64], db[100];
    kr_inventory_t *inv = inventory_open(dir, db, "kr-sweeper-cap");
    for (int i = 0; i < 3; i++) {
        char name[16], uid[16];
        snprintf(name, sizeof(name), "ghost-%d", i);
        snprintf(uid, sizeof(uid), "ghost-uid-%d", i);
        json_t *ghost = old_cm(name, uid, "1");
        inventory_holds(inv, "dc2", ghost);
        json_decref(ghost);
    }
    o = opts_for(0, 1, true);
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 3);
    ck_assert_uint_eq(count_action(&plan, SWEEP_PLANNED), 1);
    ck_assert_uint_eq(count_action(&plan, SWEEP_SKIPPED_CAP), 2);
    sweep_plan_free(&plan);
    inventory_close(inv, dir, db);
    platform_down();
}
END_TEST

/* The elector's answer, as the program asks it: leading for the first
 * `*left` questions. */
static bool leading_for(void *user)
{
    int *left = user;
    return (*left)-- > 0;
}

/* A replica that stops leading mid-sweep (paused past its Lease) sends no
 * further delete: the rest is left to the new leader, and said so. */
START_TEST(a_sweep_stops_deleting_when_it_stops_leading)
{
    platform_up();
    enum { N = 6 };
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "z-%d", i);
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, "uid-of-nothing")));
    }
    sweep_opts o = opts_for(0, 100, false);
    int left = 2;
    o.may_act = leading_for;
    o.may_act_user = &left;
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, N);
    ck_assert_uint_eq(count_action(&plan, SWEEP_DELETED), 2);
    ck_assert_uint_eq(count_action(&plan, SWEEP_SKIPPED_NOT_LEADING), N - 2);
    ck_assert_int_eq(left, -1); /* asked once after it lost, not again */
    sweep_plan_free(&plan);
    json_t *rest = NULL;
    ck_assert_int_eq(kr_client_list_all(dc1.c, CM, "default", NULL, &rest, NULL), 0);
    size_t zombies = 0;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(rest, "items"), i, item)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
        zombies += strncmp(name, "z-", 2) == 0;
    }
    json_decref(rest);
    ck_assert_uint_eq(zombies, N - 2);
    platform_down();
}
END_TEST

/* A hub that is empty or the wrong one makes every copy look orphaned:
 * a cluster whose plan would delete more than --max-delete-ratio of its
 * copies (and more than a few) has its deletions refused, dry run or not,
 * and the plan says so; a few zombies, or a small share, still go. */
START_TEST(a_plan_that_would_empty_a_cluster_is_refused)
{
    platform_up();
    enum { N = 12 };
    json_t *live[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "live-%02d", i);
        live[i] = create(&hub, CM, hub_cm(name, NULL));
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, uid_of(live[i]))));
        snprintf(name, sizeof(name), "zombie-%02d", i);
        json_decref(create(&dc2, CM, copy_cm(name, KR_MANAGER_SYNCER, "uid-of-nothing")));
    }
    /* dc2: 12 of its 12 copies would go; dc1: none */
    sweep_opts o = opts_for(0, 100, true);
    o.max_delete_ratio = 0.5;
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, N);
    for (size_t i = 0; i < plan.n; i++)
        ck_assert_int_eq(plan.items[i].action, SWEEP_REFUSED_RATIO);
    ck_assert_uint_eq(plan.n_refusals, 1);
    ck_assert_str_eq(plan.refusals[0].cluster, "dc2");
    ck_assert_uint_eq(plan.refusals[0].planned, N);
    ck_assert_uint_eq(plan.refusals[0].managed, N);
    json_t *doc = sweep_plan_json(&plan);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "refusedClusters")), 1);
    json_decref(doc);
    sweep_plan_free(&plan);
    o.dry_run = false;
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n_refusals, 1);
    for (size_t i = 0; i < plan.n; i++)
        ck_assert_int_eq(plan.items[i].action, SWEEP_REFUSED_RATIO);
    sweep_plan_free(&plan);
    ck_assert(exists(&dc2, CM, "zombie-00"));

    /* The wrong hub: every copy in dc1 looks orphaned too; both refused. */
    o.hub = dc2.c;
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 2 * N);
    ck_assert_uint_eq(plan.n_refusals, 2);
    sweep_plan_free(&plan);
    o.hub = hub.c;

    /* Under the share (12 zombies among 36 copies), they go. */
    for (int i = 0; i < 2 * N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "wanted-%02d", i);
        json_decref(create(&dc2, CM, copy_cm(name, KR_MANAGER_SYNCER, uid_of(live[i % N]))));
    }
    o.dry_run = true;
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n_refusals, 0);
    for (size_t i = 0; i < plan.n; i++)
        ck_assert_int_eq(plan.items[i].action, SWEEP_PLANNED);
    sweep_plan_free(&plan);

    /* At most SWEEP_RATIO_MIN_DELETES, the share does not matter. */
    ck_assert_int_eq(sweep_plan_guard(&plan, "x", 0, 0.5), 0);
    sweep_plan_free(&plan);
    for (int i = 0; i < N; i++)
        json_decref(live[i]);
    platform_down();
}
END_TEST

START_TEST(an_object_changed_after_the_plan_is_skipped_by_its_precondition)
{
    platform_up();
    json_decref(create(&dc1, CM, copy_cm("changed", KR_MANAGER_SYNCER, "uid-of-nothing")));
    json_decref(create(&dc1, CM, copy_cm("replaced", KR_MANAGER_SYNCER, "uid-of-nothing")));
    sweep_opts o = opts_for(0, 100, true);
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_int_eq(sweep_run(&o, &plan, &err), 0);
    ck_assert_uint_eq(plan.n, 2);
    /* One is edited (new resourceVersion), the other deleted and created
     * again (new uid) before the plan is carried out. */
    json_t *cur = NULL;
    ck_assert_int_eq(kr_client_get(dc1.c, CM, "default", "changed", &cur, NULL), 0);
    json_object_set_new(json_object_get(cur, "data"), "k", json_string("edited"));
    ck_assert_int_eq(kr_client_update(dc1.c, CM, "default", cur, NULL, NULL, NULL), 0);
    json_decref(cur);
    ck_assert_int_eq(kr_client_delete(dc1.c, CM, "default", "replaced", NULL, NULL, NULL), 0);
    json_decref(create(&dc1, CM, copy_cm("replaced", KR_MANAGER_SYNCER, "uid-of-nothing")));
    ck_assert_int_eq(sweep_execute(&o, &plan, &err), 0);
    for (size_t i = 0; i < plan.n; i++)
        ck_assert_int_eq(plan.items[i].action, SWEEP_SKIPPED_CHANGED);
    sweep_plan_free(&plan);
    ck_assert(exists(&dc1, CM, "changed"));
    ck_assert(exists(&dc1, CM, "replaced"));
    platform_down();
}
END_TEST

/* The events the inventory holds of ConfigMap `name`, comma-separated,
 * each with its detail's "action" (and maybeApplied when set). */
static void events_of(kr_inventory_t *inv, const char *name, char *out, size_t len)
{
    json_t *h = NULL;
    size_t i, at = 0;
    json_t *row;
    out[0] = '\0';
    ck_assert_int_eq(kr_inventory_history(inv, "ConfigMap", "default", name, 0, 0, &h, NULL), 0);
    json_array_foreach(h, i, row)
    {
        json_t *patch = json_object_get(row, "patch");
        int n = snprintf(out + at, len - at, "%s%s %s%s", at ? "," : "",
                         json_string_value(json_object_get(row, "event")),
                         json_string_value(json_object_get(patch, "action")),
                         json_is_true(json_object_get(patch, "maybeApplied")) ? " maybe" : "");
        at += n > 0 && (size_t)n < len - at ? (size_t)n : 0;
    }
    json_decref(h);
}

/* A delete whose answer is lost (the server did it, then answered 500) is
 * looked at again: the object is gone, so it is recorded SWEPT, as the
 * next sweep sees it; one whose fate cannot be learnt either is recorded
 * as possibly applied. */
START_TEST(a_delete_whose_answer_was_lost_is_looked_at_again)
{
    platform_up();
    json_decref(create(&dc1, CM, copy_cm("answer-lost", KR_MANAGER_SYNCER, "uid-of-nothing")));
    json_decref(create(&dc2, CM, copy_cm("server-down", KR_MANAGER_SYNCER, "uid-of-nothing")));
    sweep_opts o = opts_for(0, 100, true);
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_int_eq(sweep_run(&o, &plan, &err), 0);
    ck_assert_uint_eq(plan.n, 2);
    /* dc1's delete is not tried again (a retry would find it gone) */
    kr_client_opts co = {.max_retries = -1};
    kr_client_t *once = NULL;
    ck_assert_int_eq(kr_client_new(rt, &dc1.cfg, &co, &once, NULL), 0);
    workload[0].client = once;
    kr_testserver_faults lost = {.fail_500_after_write = 1}, down = {.fail_500 = 1}, well = {0};
    kr_testserver_set_faults(dc1.ts, &lost);
    kr_testserver_set_faults(dc2.ts, &down);
    o.dry_run = false;
    char said[512] = "";
    kr_logger logger = {.cb = warnings_of, .max_level = KR_LOG_INFO, .user = said};
    o.logger = &logger;
    ck_assert_int_eq(sweep_execute(&o, &plan, &err), 0);
    kr_testserver_set_faults(dc1.ts, &well);
    kr_testserver_set_faults(dc2.ts, &well);
    kr_client_free(once);
    /* a look that could not read the object says why (a 403 would be
     * RBAC without get): the plan alone shows only its outcome */
    ck_assert_msg(strstr(said, "cannot look at ConfigMap default/server-down in dc2 after its "
                               "delete was answered with no outcome: "),
                  "%s", said);
    ck_assert(!exists(&dc1, CM, "answer-lost"));
    ck_assert(exists(&dc2, CM, "server-down"));
    char dir[64], db[100];
    kr_inventory_t *inv = inventory_open(dir, db, "kr-sweeper-lost");
    kr_inventory_outbox_t *ob = NULL;
    ck_assert_int_eq(kr_inventory_outbox_new(inv, NULL, &ob, NULL), 0);
    ck_assert_uint_eq(sweep_record(ob, &plan, NULL, NULL, NULL), 0);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 30000), 0);
    kr_inventory_outbox_free(ob);
    char events[512];
    events_of(inv, "answer-lost", events, sizeof(events));
    ck_assert_str_eq(events, "SWEPT deleted");
    events_of(inv, "server-down", events, sizeof(events));
    ck_assert_str_eq(events, "SWEEP_SKIPPED failed maybe");
    sweep_plan_free(&plan);
    inventory_close(inv, dir, db);
    platform_down();
}
END_TEST

/* The candidates a_delete_in_flight_is_resolved_when_it_lands was told
 * of, and what each was then. */
static struct {
    char names[4][32];
    sweep_action actions[4];
    bool maybe[4];
    size_t n;
} told;

/* The first delete (dc1's) timed out and its look could not read it
 * either: the server is still at both. The delete lands now, before the
 * next delete: the latency goes (the server may still drop the requests
 * whose client left), and the object goes as that delete would take it. */
static void told_of(void *user, sweep_candidate *c)
{
    (void)user;
    ck_assert_uint_lt(told.n, 4);
    snprintf(told.names[told.n], sizeof(told.names[0]), "%s", c->name);
    told.actions[told.n] = c->action;
    told.maybe[told.n] = c->maybe_applied;
    if (told.n++ == 0) {
        kr_testserver_faults well = {0};
        kr_testserver_set_faults(dc1.ts, &well);
        int rc = kr_client_delete(dc1.c, CM, "default", c->name, NULL, NULL, NULL);
        ck_assert(rc == 0 || rc == KR_ENOTFOUND);
        for (int i = 0; exists(&dc1, CM, c->name); i++) {
            ck_assert_msg(i < 1500, "the delayed delete never landed");
            struct timespec pace = {0, 10000000};
            nanosleep(&pace, NULL);
        }
    }
}

/* A delete still in flight when the client gave up on it (the server
 * answers after the request's timeout), and on its look, was recorded as
 * possibly applied for good. It is looked at once more after the other
 * deletes: gone by then, it is told again as deleted (recorded SWEPT). */
START_TEST(a_delete_in_flight_is_resolved_when_it_lands)
{
    platform_up();
    json_decref(create(&dc1, CM, copy_cm("in-flight", KR_MANAGER_SYNCER, "uid-of-nothing")));
    json_decref(create(&dc2, CM, copy_cm("next", KR_MANAGER_SYNCER, "uid-of-nothing")));
    sweep_opts o = opts_for(0, 100, true);
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_int_eq(sweep_run(&o, &plan, &err), 0);
    ck_assert_uint_eq(plan.n, 2);
    /* dc1's requests end after 300 ms; its server answers after a minute */
    kr_rest_config cfg = dc1.cfg;
    cfg.timeout_ms = 300;
    kr_client_opts co = {.max_retries = -1};
    kr_client_t *impatient = NULL;
    ck_assert_int_eq(kr_client_new(rt, &cfg, &co, &impatient, NULL), 0);
    workload[0].client = impatient;
    kr_testserver_faults slow = {.latency_ms = 60000};
    kr_testserver_set_faults(dc1.ts, &slow);
    memset(&told, 0, sizeof(told));
    o.acted = told_of;
    o.dry_run = false;
    ck_assert_int_eq(sweep_execute(&o, &plan, &err), 0);
    kr_client_free(impatient);
    ck_assert_uint_eq(told.n, 3);
    ck_assert_str_eq(told.names[0], "in-flight");
    ck_assert_int_eq(told.actions[0], SWEEP_FAILED);
    ck_assert(told.maybe[0]);
    ck_assert_str_eq(told.names[1], "next");
    ck_assert_int_eq(told.actions[1], SWEEP_DELETED);
    ck_assert_str_eq(told.names[2], "in-flight");
    ck_assert_int_eq(told.actions[2], SWEEP_DELETED);
    ck_assert(!told.maybe[2]);
    ck_assert_int_eq(plan.items[0].action, SWEEP_DELETED);
    ck_assert_ptr_null(plan.items[0].error);
    sweep_plan_free(&plan);
    platform_down();
}
END_TEST

/* With the client's own repeats (a delete answered 5xx is sent again), a
 * delete whose first try was applied meets 404 on its repeat: it may have
 * been ours, so it counts against --max-deletes as a delete does (found
 * by a reread: every lost answer escaped the cap). */
START_TEST(deletes_answered_gone_count_against_the_cap)
{
    platform_up();
    for (int i = 1; i <= 3; i++) {
        char name[8];
        snprintf(name, sizeof(name), "rz%d", i);
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, "uid-of-nothing")));
    }
    sweep_opts o = opts_for(0, 100, true);
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_int_eq(sweep_run(&o, &plan, &err), 0);
    ck_assert_uint_eq(count_action(&plan, SWEEP_PLANNED), 3);
    kr_testserver_faults lost = {.fail_500_after_write = 1}, well = {0};
    kr_testserver_set_faults(dc1.ts, &lost);
    o.dry_run = false;
    o.max_deletes = 1;
    ck_assert_int_eq(sweep_execute(&o, &plan, &err), 0);
    kr_testserver_set_faults(dc1.ts, &well);
    int gone = !exists(&dc1, CM, "rz1") + !exists(&dc1, CM, "rz2") + !exists(&dc1, CM, "rz3");
    ck_assert_msg(gone == 1, "%d deleted with --max-deletes 1", gone);
    ck_assert_uint_eq(count_action(&plan, SWEEP_SKIPPED_CAP), 2);
    sweep_plan_free(&plan);
    platform_down();
}
END_TEST

/* The start of each of the first `max` space-separated words of `line`
 * (up to its newline): how many. */
static size_t word_starts(const char *line, size_t starts[], size_t max)
{
    size_t n = 0;
    for (size_t i = 0; line[i] && line[i] != '\n' && n < max; i++)
        if (line[i] != ' ' && (i == 0 || line[i - 1] == ' '))
            starts[n++] = i;
    return n;
}

/* The plan's table: every column as wide as its longest value, header
 * included, then 3 spaces, as kubectl's tables are. Columns of fixed
 * widths (CLUSTER 10, KIND 12, NAMESPACE 16, NAME 32) let a longer value
 * push the rest of its row out of line, or run into the next column. */
START_TEST(the_plan_table_fits_its_longest_values)
{
    static const char long_name[] = "a-copy-whose-name-is-much-longer-than-thirty-two-characters";
    sweep_candidate items[3] = {
        {.cluster = "dc1",
         .kind = "ConfigMap",
         .namespace_ = "default",
         .name = "a",
         .age_s = 90,
         .reason = SWEEP_SOURCE_GONE,
         .action = SWEEP_PLANNED},
        {.cluster = "a-datacenter-named-at-length",
         .kind = "AVeryLongCustomResourceKind",
         .namespace_ = "a-namespace-named-at-great-length",
         .name = (char *)long_name,
         .age_s = 400 * 86400,
         .reason = SWEEP_NOT_IN_CLUSTER,
         .action = SWEEP_DELETED},
        {.cluster = "dc2",
         .kind = "Job",
         .namespace_ = "",
         .name = "b",
         .age_s = 5,
         .reason = SWEEP_SOURCE_GONE,
         .action = SWEEP_FAILED,
         .error = "the server said no"},
    };
    sweep_plan plan = {.items = items, .n = 3};
    char *table = NULL;
    size_t table_len = 0;
    FILE *out = open_memstream(&table, &table_len);
    ck_assert_ptr_nonnull(out);
    sweep_print_table(&plan, out);
    fclose(out);
    size_t head[7];
    ck_assert_uint_eq(word_starts(table, head, 7), 7);
    const char *line = table;
    for (size_t i = 0; i < 3; i++) {
        line = strchr(line, '\n');
        ck_assert_ptr_nonnull(line);
        line++;
        /* each row's cells start where the header's do */
        const sweep_candidate *c = &items[i];
        const char *cells[7] = {c->cluster,
                                c->kind,
                                c->namespace_[0] ? c->namespace_ : "-",
                                c->name,
                                i == 0   ? "1m"
                                : i == 1 ? "400d"
                                         : "5s",
                                sweep_reason_name(c->reason),
                                sweep_action_name(c->action)};
        for (size_t col = 0; col < 7; col++)
            ck_assert_msg(strncmp(line + head[col], cells[col], strlen(cells[col])) == 0 &&
                              (col == 0 || line[head[col] - 1] == ' '),
                          "column %zu of row %zu out of line:\n%s", col, i, table);
    }
    /* NAME as wide as the longest name and 3 spaces: no wider */
    ck_assert_msg(head[4] - head[3] == strlen(long_name) + 3, "%s", table);
    free(table);
}
END_TEST

START_TEST(times_parse_as_rfc3339)
{
    ck_assert_int_eq(sweep_parse_time("1970-01-01T00:01:00Z"), 60);
    ck_assert_int_eq(sweep_parse_time("2026-12-03T09:15:02.123456Z"),
                     sweep_parse_time("2026-12-03T09:15:02Z"));
    ck_assert_int_eq(sweep_parse_time("1970-01-01T01:00:00+01:00"), 0);
    ck_assert_int_eq(sweep_parse_time("yesterday"), -1);
    ck_assert_int_eq(sweep_parse_time("2026-12-03T09:15:02"), -1);
    ck_assert_int_eq(sweep_parse_time(NULL), -1);
}
END_TEST

/* Run the built program with `args` (words separated by spaces); its
 * standard output in `out` (at most len bytes), its standard error dropped.
 * Returns the exit status. */
/* argv of kr-sweeper with `words` (cut in place at each blank). */
static void sweeper_argv(char *words, const char *argv[KR_TEST_PROC_MAX_ARGS + 1])
{
    size_t n = 0;
    argv[n++] = "kr-sweeper";
    char *save = NULL;
    for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        ck_assert_uint_lt(n, KR_TEST_PROC_MAX_ARGS);
        argv[n++] = w;
    }
    argv[n] = NULL;
}

static int run_program(const char *args, char *out, size_t len)
{
    char words[4096], err[8192];
    snprintf(words, sizeof(words), "%s", args);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc_io io = {.err = err, .err_size = sizeof(err)};
    return kr_test_proc_run_io(argv, &io, out, len, 60000);
}

/* The files of a test that runs the program: a fresh directory with the
 * hub's, dc1's and dc2's kubeconfigs, and the paths of its log, an SQLite
 * inventory (file and URL) and a spool. */
typedef struct {
    char dir[256], kc[3][600], log[700], db[700], url[720], spool[700];
} run_files;

static void run_files_make(run_files *f, const char *tag)
{
    ck_assert(kr_test_tmpdir_make(f->dir, sizeof(f->dir), tag));
    cluster *cl[3] = {&hub, &dc1, &dc2};
    const char *names[3] = {"hub", "dc1", "dc2"};
    for (int i = 0; i < 3; i++) {
        snprintf(f->kc[i], sizeof(f->kc[i]), "%s/%s.kubeconfig", f->dir, names[i]);
        ck_assert_int_eq(kr_testserver_write_kubeconfig(cl[i]->ts, f->kc[i], NULL, NULL), 0);
    }
    snprintf(f->log, sizeof(f->log), "%s/sweeper.log", f->dir);
    snprintf(f->db, sizeof(f->db), "%s/inventory.db", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite://%s", f->db);
    snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
}

/* Copy the kubeconfig `from` into `to` with its server URL written
 * otherwise: the scheme in capitals and a trailing '/' (the same
 * apiserver). */
static void respell_server(const char *from, const char *to)
{
    char text[16384];
    FILE *f = fopen(from, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *server = strstr(text, "server: ");
    ck_assert_ptr_nonnull(server);
    for (char *c = server + strlen("server: "); *c && *c != ':'; c++)
        *c = (char)toupper((unsigned char)*c);
    char *eol = strchr(server, '\n');
    ck_assert_ptr_nonnull(eol);
    f = fopen(to, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%.*s/%s", (int)(eol - text), text, eol);
    fclose(f);
}

/* One apiserver under two --cluster names would have every copy there
 * planned, deleted and recorded twice: a usage error (status 2) naming
 * both, however its URL is written. The hub's apiserver as a cluster is
 * not refused: kr-submitter may run copies on the hub, which are then
 * swept there. */
START_TEST(the_program_refuses_one_apiserver_under_two_names)
{
    platform_up();
    run_files rf;
    run_files_make(&rf, "kr-sweeper-twice");
    char alias[700], words[4096], out[8192], err[8192];
    snprintf(alias, sizeof(alias), "%s/dc1-again.kubeconfig", rf.dir);
    respell_server(rf.kc[1], alias);
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --cluster dc2=%s --listen 0 --once --grace 0s "
             "--dry-run",
             rf.kc[0], rf.kc[1], alias);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc_io io = {.err = err, .err_size = sizeof(err)};
    ck_assert_int_eq(kr_test_proc_run_io(argv, &io, out, sizeof(out), 60000), 2);
    ck_assert_msg(strstr(err, "--cluster dc2: its apiserver ") &&
                      strstr(err, " is that of --cluster dc1"),
                  "%s", err);
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --cluster dc2=%s --listen 0 --once --grace 0s "
             "--dry-run",
             rf.kc[0], rf.kc[1], rf.kc[0]);
    sweeper_argv(words, argv);
    ck_assert_msg(kr_test_proc_run_io(argv, &io, out, sizeof(out), 60000) == 0, "%s%s", out, err);
    unlink(alias);
    kr_test_tmpdir_remove(rf.dir);
    platform_down();
}
END_TEST

START_TEST(the_program_plans_then_sweeps_once_and_refuses_bad_flags)
{
    platform_up();
    json_decref(create(&dc2, CM, copy_cm("lost", KR_MANAGER_SYNCER, "uid-of-nothing")));
    run_files rf;
    run_files_make(&rf, "kr-sweeper");
    char *dir = rf.dir, (*kc)[600] = rf.kc;
    char common[2048], args[4096], out[8192];
    snprintf(common, sizeof(common),
             "--kubeconfig %s --cluster dc1=%s --cluster dc2=%s --listen 0 --once --grace 0s",
             kc[0], kc[1], kc[2]);
    snprintf(args, sizeof(args), "%s --dry-run", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "lost"));
    ck_assert_ptr_nonnull(strstr(out, "planned"));
    ck_assert(exists(&dc2, CM, "lost"));
    /* a sweeper of another hub (--hub-name) leaves this hub's copies alone,
     * though their sources are not on its hub */
    snprintf(args, sizeof(args), "%s --dry-run --hub-name west", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "No zombies found.") && !strstr(out, "lost"), "%s", out);
    char db[600];
    snprintf(db, sizeof(db), "%s/inventory.db", dir);
    snprintf(args, sizeof(args), "%s -o json --inventory sqlite://%s", common, db);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    json_t *doc = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *c = json_array_get(json_object_get(doc, "candidates"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c, "action")), "deleted");
    ck_assert_str_eq(json_string_value(json_object_get(c, "cluster")), "dc2");
    json_decref(doc);
    ck_assert(!exists(&dc2, CM, "lost"));
    /* The delete is a transaction in the inventory, with its actor. */
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    char url[700];
    snprintf(url, sizeof(url), "sqlite://%s", db);
    io.url = url;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    json_t *history = NULL;
    ck_assert_int_eq(
        kr_inventory_history(inv, "ConfigMap", "default", "lost", 0, 0, &history, NULL), 0);
    ck_assert_uint_eq(json_array_size(history), 1);
    json_t *tx = json_array_get(history, 0);
    ck_assert_str_eq(json_string_value(json_object_get(tx, "event")), "SWEPT");
    ck_assert_str_eq(json_string_value(json_object_get(tx, "actor")), "kr-sweeper");
    ck_assert_str_eq(json_string_value(json_object_get(tx, "cluster")), "dc2");
    json_decref(history);
    /* A candidate the cap holds back is recorded as skipped, with why. */
    json_decref(create(&dc1, CM, copy_cm("held", KR_MANAGER_SYNCER, "uid-of-nothing")));
    snprintf(args, sizeof(args), "%s --max-deletes 0 --inventory sqlite://%s", common, db);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    ck_assert(exists(&dc1, CM, "held"));
    ck_assert_int_eq(
        kr_inventory_history(inv, "ConfigMap", "default", "held", 0, 0, &history, NULL), 0);
    ck_assert_uint_eq(json_array_size(history), 1);
    tx = json_array_get(history, 0);
    ck_assert_str_eq(json_string_value(json_object_get(tx, "event")), "SWEEP_SKIPPED");
    ck_assert_str_eq(json_string_value(json_object_get(tx, "actor")), "kr-sweeper");
    ck_assert_str_eq(json_string_value(json_object_get(tx, "cluster")), "dc1");
    json_decref(history);
    /* dc2 looks emptied to the inventory: its rows are left alone, said,
     * exit 4 */
    for (int i = 0; i < 11; i++) {
        char name[32], uid[32];
        snprintf(name, sizeof(name), "gone-%02d", i);
        snprintf(uid, sizeof(uid), "gone-uid-%02d", i);
        json_t *row = old_cm(name, uid, "1");
        inventory_holds(inv, "dc2", row);
        json_decref(row);
    }
    snprintf(args, sizeof(args), "%s --max-deletes 0 --inventory sqlite://%s", common, db);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 4);
    ck_assert_msg(strstr(out, "cluster dc2 refused in the inventory: 11 of the 11 rows of "
                              "v1/configmaps it holds live there are missing from the cluster"),
                  "%s", out);
    kr_inventory_free(inv);
    unlink(db);
    /* A cluster that hangs instead of refusing: skipped once its requests
     * time out, as one that refuses is. */
    kr_testserver_faults hang = {.latency_ms = 600000}, well = {0};
    kr_testserver_set_faults(dc2.ts, &hang);
    snprintf(args, sizeof(args), "%s --dry-run --request-timeout 1s", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 3); /* a cluster left alone */
    ck_assert_msg(strstr(out, "cluster dc2 skipped"), "%s", out);
    /* nothing found where it looked is not "no zombies" where it could not */
    snprintf(args, sizeof(args), "%s --dry-run --request-timeout 1s -n elsewhere", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 3);
    ck_assert_msg(strstr(out, "No zombies found in the clusters listed.\ncluster dc2 skipped"),
                  "%s", out);
    /* Sweeping in a loop, the cluster it could not list shows on /metrics
     * (a datacenter down, or rights missing: not in the log alone). */
    char loop_log[700], loop_args[4096];
    snprintf(loop_log, sizeof(loop_log), "%s/loop.log", dir);
    snprintf(loop_args, sizeof(loop_args),
             "--kubeconfig %s --cluster dc1=%s --cluster dc2=%s --listen 127.0.0.1:0 --grace 0s "
             "--dry-run --interval 1h --request-timeout 1s --log-format text",
             kc[0], kc[1], kc[2]);
    const char *loop_argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(loop_args, loop_argv);
    kr_test_proc loop = {0};
    kr_test_proc_start(&loop, loop_log, loop_argv);
    static char metrics[1 << 17];
    metrics[0] = '\0';
    time_t loop_deadline = time(NULL) + 30;
    while (time(NULL) < loop_deadline && !strstr(metrics, "kr_sweeper_sweeps_total 1")) {
        char *text = kr_test_proc_log_text(&loop);
        char *on = text ? strstr(text, "/metrics on ") : NULL;
        if (on) {
            on += strlen("/metrics on ");
            char base[128];
            snprintf(base, sizeof(base), "http://%.*s", (int)strcspn(on, " \n\""), on);
            tc_response r;
            tc_request(base, "GET", "/metrics", NULL, NULL, NULL, &r);
            snprintf(metrics, sizeof(metrics), "%s", r.body ? r.body : "");
            tc_free(&r);
        }
        free(text);
        struct timespec pause = {0, 50 * 1000000};
        nanosleep(&pause, NULL);
    }
    ck_assert_msg(strstr(metrics, "kr_sweeper_sweeps_total 1\n") &&
                      strstr(metrics, "kr_sweeper_skipped_clusters 1\n") &&
                      strstr(metrics, "kr_sweeper_failed_sweeps_total 0\n") &&
                      strstr(metrics, "kr_sweeper_deleted_total 0\n"),
                  "%s", metrics);
    ck_assert_int_eq(kr_test_proc_kill(&loop, SIGTERM), 0);
    kr_test_proc_free(&loop);
    unlink(loop_log);
    /* With a longer timeout the sweep waits; SIGTERM asks it to stop as any
     * program of the toolkit stops (the sweep in progress finishes first),
     * and a second signal exits at once. */
    char words[4096], log[700];
    snprintf(words, sizeof(words), "%s --dry-run --request-timeout 10m", common);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    snprintf(log, sizeof(log), "%s/once.log", dir);
    kr_test_proc once = {0};
    kr_test_proc_start(&once, log, argv);
    struct timespec settle = {0, 300 * 1000000};
    nanosleep(&settle, NULL); /* let the sweep begin; either way the signals are taken */
    ck_assert_int_eq(kr_test_proc_signal(&once, SIGTERM), 0);
    ck_assert_int_eq(kr_test_proc_wait(&once, 300), -1); /* dc2 still holds the sweep */
    ck_assert_int_eq(kr_test_proc_signal(&once, SIGTERM), 0);
    ck_assert_int_eq(kr_test_proc_wait(&once, 30000), 130);
    kr_test_proc_free(&once);
    unlink(log);
    kr_testserver_set_faults(dc2.ts, &well);
    /* below the floor, a second delete would wait for years */
    static const char *const rates[] = {"fast", "0", "nan", "inf", "-1", "1e-9", "0.009"};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        snprintf(args, sizeof(args), "%s --rate %s", common, rates[i]);
        ck_assert_msg(run_program(args, out, sizeof(out)) == 2, "--rate %s", rates[i]);
    }
    static const char *const scoped[] = {"v1/secrets@Apps", "v1/secrets@",
                                         "-n a --resource "
                                         "v1/secrets@b"};
    for (size_t i = 0; i < sizeof(scoped) / sizeof(scoped[0]); i++) {
        snprintf(args, sizeof(args), "%s --dry-run %s%s", common, i == 2 ? "" : "--resource ",
                 scoped[i]);
        ck_assert_msg(run_program(args, out, sizeof(out)) == 2, "%s: %s", scoped[i], out);
    }
    snprintf(args, sizeof(args), "%s --dry-run --resource v1/configmaps@default", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    /* the same objects twice would be planned, deleted and recorded twice */
    static const char *const twice[] = {
        "v1/configmaps,v1/configmaps", "v1/configmaps --resource v1/configmaps@default",
        "v1/configmaps@default,v1/configmaps@default=ConfigMap", "batch/v1/jobs,batch/v2/jobs"};
    for (size_t i = 0; i < sizeof(twice) / sizeof(twice[0]); i++) {
        snprintf(args, sizeof(args), "%s --dry-run --resource %s", common, twice[i]);
        ck_assert_msg(run_program(args, out, sizeof(out)) == 2, "%s: %s", twice[i], out);
    }
    snprintf(args, sizeof(args),
             "%s --dry-run --resource v1/configmaps@default,v1/configmaps@other", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    /* the kind as kr-inventory's --resource gives it */
    snprintf(args, sizeof(args), "%s --dry-run --resource v1/configmaps@default=ConfigMap", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    snprintf(args, sizeof(args), "%s --dry-run --resource v1/configmaps=Config-Map", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 2);
    /* not its kind: the inventory's Secrets would be looked up, and marked */
    snprintf(args, sizeof(args), "%s --dry-run --resource v1/configmaps=Secret", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 2);
    snprintf(args, sizeof(args), "%s --dry-run --resource v1/configmaps=", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 2);
    /* a namespace that cannot be is refused, not swept for nothing */
    snprintf(args, sizeof(args), "%s --dry-run -n BAD_NS", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 2);
    snprintf(args, sizeof(args), "%s --leader-elect", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 2); /* --once takes no Lease */
    /* sweeps back to back, each listing every cluster whole */
    static const char *const intervals[] = {"1ns", "999ms", "0s"};
    for (size_t i = 0; i < sizeof(intervals) / sizeof(intervals[0]); i++) {
        snprintf(args, sizeof(args),
                 "--kubeconfig %s --cluster dc1=%s --listen 0 --dry-run --interval %s", kc[0],
                 kc[1], intervals[i]);
        ck_assert_msg(run_program(args, out, sizeof(out)) == 2, "--interval %s", intervals[i]);
    }
    /* A plan that would delete all of a cluster's copies is refused, in
     * the dry run too: exit code 4, the plan says so; --max-delete-ratio 1
     * is the operator's way past it. */
    for (int i = 0; i < 11; i++) {
        char name[32];
        snprintf(name, sizeof(name), "orphan-%02d", i);
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, "uid-of-nothing")));
    }
    snprintf(args, sizeof(args), "%s --dry-run", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 4);
    ck_assert_msg(strstr(out, "refused: over --max-delete-ratio") &&
                      strstr(out, "cluster dc1 refused: 12 of its 12 copies are zombies"),
                  "%s", out);
    snprintf(args, sizeof(args), "%s --max-delete-ratio 0.5", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 4);
    ck_assert(exists(&dc1, CM, "orphan-00"));
    snprintf(args, sizeof(args), "%s --dry-run --max-delete-ratio 1", common);
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    ck_assert_msg(!strstr(out, "refused"), "%s", out);
    static const char *const ratios[] = {"0", "1.5", "-0.1", "nan", "half", "0x1p-2", "0X.8"};
    for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
        snprintf(args, sizeof(args), "%s --dry-run --max-delete-ratio %s", common, ratios[i]);
        ck_assert_msg(run_program(args, out, sizeof(out)) == 2, "--max-delete-ratio %s", ratios[i]);
    }
    ck_assert_int_eq(run_program("--no-such-flag", out, sizeof(out)), 2);
    ck_assert_int_eq(run_program("--help", out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "--max-deletes"));
    ck_assert_ptr_nonnull(strstr(out, "--max-delete-ratio"));
    for (int i = 0; i < 3; i++)
        unlink(kc[i]);
    rmdir(dir);
    platform_down();
}
END_TEST

/* The program's --help: every flag that takes a value says its default
 * (kubectl's "(default X)", or "(default: ...)" where it is not a value),
 * --request-timeout's included, which the program sets after the flags
 * are read (30s) and --help did not say; a flag that takes none (--once)
 * is off unless given. */
START_TEST(every_flag_of_the_help_says_its_default)
{
    char out[32768];
    ck_assert_int_eq(run_program("--help", out, sizeof(out)), 0);
    ck_assert_msg(strstr(out, "retries included (0: never; watches never time out) (default 30s)"),
                  "--request-timeout's default (30s) not said");
    size_t flags = 0;
    for (const char *line = out; line && *line;) {
        const char *end = strchr(line, '\n');
        /* "  -o, --output table|json  help" or "      --once  help" */
        const char *dash = line + strspn(line, " ");
        if (dash > line && *dash == '-' && (size_t)(dash - line) <= 6) {
            /* the entry: this line and the lines under it, more indented */
            const char *stop = end;
            while (stop && stop[1] == ' ' && stop[1 + strspn(stop + 1, " ")] != '-')
                stop = strchr(stop + 1, '\n');
            size_t entry_len = stop ? (size_t)(stop - line) : strlen(line);
            char entry[2048];
            snprintf(entry, sizeof(entry), "%.*s", (int)entry_len, line);
            /* the flag's name, then a metavar when it takes a value */
            const char *name = strstr(entry, "--");
            if (!name)
                name = dash; /* -v */
            const char *after = name + strcspn(name, " \n");
            bool takes_value = after[0] == ' ' && after[1] != ' ' && after[1] != '\0';
            if (takes_value && strncmp(name, "--help", 6) != 0)
                ck_assert_msg(strstr(entry, "(default"), "no default said:\n%s", entry);
            flags++;
            line = stop ? stop + 1 : NULL;
            continue;
        }
        line = end ? end + 1 : NULL;
    }
    ck_assert_uint_gt(flags, 20);
}
END_TEST

/* The ConfigMaps of dc1 whose name begins with `prefix`. */
static size_t count_named(const char *prefix)
{
    json_t *list = NULL;
    ck_assert_int_eq(kr_client_list_all(dc1.c, CM, "default", NULL, &list, NULL), 0);
    size_t n = 0, i;
    json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
        n += strncmp(name, prefix, strlen(prefix)) == 0;
    }
    json_decref(list);
    return n;
}

/* The program: a leader paused past its Lease mid-sweep learns it lost
 * the Lease when it resumes and sends no further delete. */
START_TEST(a_leader_paused_past_its_lease_deletes_no_more)
{
    platform_up();
    enum { N = 16 };
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "paused-%02d", i);
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, "uid-of-nothing")));
    }
    run_files rf;
    run_files_make(&rf, "kr-sweeper-lease");
    char *dir = rf.dir, (*kc)[600] = rf.kc;
    char *log = rf.log;
    char words[4096];
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --listen 0 --leader-elect --lease-namespace default "
             "--leader-elect-lease-duration 2s --leader-elect-renew-deadline 1500ms "
             "--leader-elect-retry-period 250ms --interval 1h --grace 0s --rate 4 "
             "--max-delete-ratio 1 --log-format text",
             kc[0], kc[1]);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc p = {0};
    kr_test_proc_start(&p, log, argv);
    struct timespec tick = {0, 20 * 1000000};
    time_t deadline = time(NULL) + 30;
    while (count_named("paused-") > N - 4 && time(NULL) < deadline)
        nanosleep(&tick, &tick);
    kr_test_proc_pause(&p);
    struct timespec settle = {0, 200 * 1000000};
    nanosleep(&settle, NULL); /* a delete already on its way lands */
    size_t at_pause = count_named("paused-");
    ck_assert_msg(at_pause <= N - 4 && at_pause > 0, "%zu left", at_pause);
    sleep(4); /* past the Lease */
    kr_test_proc_resume(&p);
    sleep(3);
    size_t after = count_named("paused-");
    kr_test_proc_stop(&p, 5000);
    char *text = kr_test_proc_log_text(&p);
    ck_assert_msg(after >= at_pause - 1, "%zu deleted after the pause:\n%s", at_pause - after,
                  text ? text : "");
    free(text);
    kr_test_proc_free(&p);
    unlink(log);
    for (int i = 0; i < 2; i++)
        unlink(kc[i]);
    rmdir(dir);
    platform_down();
}
END_TEST

/* Whether kr-sweeper's Lease is released: its holder cleared, or its
 * duration 1 s (how the library gives it up). */
static bool lease_released(void)
{
    json_t *lease = NULL;
    kr_client_get(hub.c, KR_GVR("coordination.k8s.io", "v1", "leases"), "default",
                  KR_MANAGER_SWEEPER, &lease, NULL);
    json_t *spec = json_object_get(lease, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    bool released =
        lease && (!holder || !*holder ||
                  json_integer_value(json_object_get(spec, "leaseDurationSeconds")) == 1);
    json_decref(lease);
    return released;
}

/* SWEEP_SKIPPED records of ConfigMap `name` in the inventory. */
static size_t skipped_records(kr_inventory_t *inv, const char *name)
{
    json_t *h = NULL;
    size_t n = 0, i;
    json_t *row;
    if (kr_inventory_history(inv, "ConfigMap", "default", name, 0, 0, &h, NULL) == 0)
        json_array_foreach(h, i, row)
        {
            n += strcmp(json_string_value(json_object_get(row, "event")), "SWEEP_SKIPPED") == 0;
        }
    json_decref(h);
    return n;
}

/* The program: a graceful stop (SIGTERM) of the leader while the
 * inventory stalls (another writer holds its SQLite file: each statement
 * waits out its busy timeout) and a sweep records what it did. The stop
 * waits for the sweep before it releases the Lease, and the sweep's record
 * waited on the database until its try timed out; now the Lease goes
 * while the try is still under way, and the record is not lost: it waits
 * in the spool, from which the next outbox records it. */
START_TEST(a_stop_during_an_inventory_stall_releases_the_lease_first)
{
    platform_up();
    /* a zombie every sweep leaves alone (--max-deletes 0) and records so */
    json_decref(create(&dc1, CM, copy_cm("stalled-zombie", KR_MANAGER_SYNCER, "uid-of-nothing")));
    run_files rf;
    run_files_make(&rf, "kr-sweeper-stall");
    char *dir = rf.dir, (*kc)[600] = rf.kc;
    char *log = rf.log, *db = rf.db, *url = rf.url, *spool = rf.spool;
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    char words[4096];
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --listen 0 --leader-elect --lease-namespace default "
             "--interval 1s --grace 0s --max-deletes 0 --max-delete-ratio 1 --inventory %s "
             "--inventory-spool %s --log-format text",
             kc[0], kc[1], url, spool);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc p = {0};
    kr_test_proc_start(&p, log, argv);
    struct timespec tick = {0, 20 * 1000000};
    time_t deadline = time(NULL) + 30;
    while (skipped_records(inv, "stalled-zombie") == 0 && time(NULL) < deadline)
        nanosleep(&tick, &tick);
    ck_assert_uint_eq(skipped_records(inv, "stalled-zombie"), 1);
    ck_assert(!lease_released());
    /* the stall: a writer holds the database */
    sqlite3 *holder = NULL;
    ck_assert_int_eq(sqlite3_open(db, &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    size_t from = kr_test_proc_log_size(&p);
    /* the next sweep leaves the zombie alone: it records that next (its
     * log line, not the last sweep's plan, printed after its records) */
    ck_assert(kr_test_proc_log_wait(&p, "skipped: max deletes reached ConfigMap", from, 30000));
    ck_assert_int_eq(kr_test_proc_signal(&p, SIGTERM), 0);
    bool released = false;
    while (!released && kr_test_proc_running(&p)) {
        released = lease_released();
        if (!released)
            nanosleep(&tick, &tick);
    }
    char *text = kr_test_proc_log_text(&p);
    /* the record's try had not timed out when the Lease went */
    ck_assert_msg(released && !strstr(text + from, "database is locked"), "%s", text + from);
    free(text);
    /* the stop's flush finds the database still held: the record stays in
     * the spool */
    ck_assert_int_eq(kr_test_proc_wait(&p, 60000), 0);
    ck_assert_int_eq(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(holder);
    kr_test_proc_free(&p);
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .spool_path = spool};
    kr_inventory_outbox_t *ob = NULL;
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &oo, &ob, NULL), 0);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 30000), 0);
    kr_inventory_outbox_free(ob);
    ck_assert_uint_eq(skipped_records(inv, "stalled-zombie"), 2);
    kr_inventory_free(inv);
    const char *files[] = {log, spool, kc[0], kc[1]};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(files[i]);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char f[720];
        snprintf(f, sizeof(f), "%s%s", db, suffixes[i]);
        unlink(f);
    }
    rmdir(dir);
    platform_down();
}
END_TEST

/* The program: a dry run with --inventory-spool. It opened the spool as
 * any run does, so that the records an earlier run left there (its books,
 * waiting for the database) were recorded by the dry run, which records
 * nothing, took the spool's lock from whoever owns it and could fail the
 * dry run when they could not be. Now a dry run leaves the spool alone:
 * the next run that is not a dry run records what waits there. */
START_TEST(a_dry_run_leaves_the_spool_to_the_next_run)
{
    platform_up();
    run_files rf;
    run_files_make(&rf, "kr-sweeper-dryspool");
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = rf.url;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    /* an earlier run's record, left in the spool: the database was held */
    sqlite3 *holder = NULL;
    ck_assert_int_eq(sqlite3_open(rf.db, &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .spool_path = rf.spool};
    kr_inventory_outbox_t *ob = NULL;
    ck_assert_int_eq(kr_inventory_outbox_new(inv, &oo, &ob, NULL), 0);
    kr_inventory_action a = {.cluster = "dc1",
                             .kind = "ConfigMap",
                             .namespace_ = "default",
                             .name = "spooled",
                             .event = "SWEEP_SKIPPED",
                             .actor = KR_MANAGER_SWEEPER};
    bool queued = false;
    ck_assert_int_eq(kr_inventory_outbox_record(ob, &a, NULL, &queued, NULL), 0);
    ck_assert(queued);
    kr_inventory_outbox_free(ob);
    ck_assert_int_eq(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(holder);
    struct stat st;
    ck_assert_int_eq(stat(rf.spool, &st), 0);
    ck_assert_int_gt(st.st_size, 0);
    ck_assert_uint_eq(skipped_records(inv, "spooled"), 0);
    char args[4096], out[16384];
    const char *common = "--kubeconfig %s --cluster dc1=%s --listen 0 --once -n default "
                         "--inventory %s --inventory-spool %s%s";
    snprintf(args, sizeof(args), common, rf.kc[0], rf.kc[1], rf.url, rf.spool, " --dry-run");
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    /* the dry run recorded nothing, and the record still waits */
    ck_assert_uint_eq(skipped_records(inv, "spooled"), 0);
    ck_assert_int_eq(stat(rf.spool, &st), 0);
    ck_assert_int_gt(st.st_size, 0);
    /* the next run records it */
    snprintf(args, sizeof(args), common, rf.kc[0], rf.kc[1], rf.url, rf.spool, "");
    ck_assert_int_eq(run_program(args, out, sizeof(out)), 0);
    ck_assert_uint_eq(skipped_records(inv, "spooled"), 1);
    kr_inventory_free(inv);
    const char *files[] = {rf.log, rf.spool, rf.kc[0], rf.kc[1], rf.kc[2]};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(files[i]);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char f[720];
        snprintf(f, sizeof(f), "%s%s", rf.db, suffixes[i]);
        unlink(f);
    }
    rmdir(rf.dir);
    platform_down();
}
END_TEST

/* The answer of `sql` on `c`, one value (the first row's first column). */
static long pg_value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
}

/* PostgreSQL started, with a fresh database (its URL in `url`); NULL
 * when it cannot start and need not: the test `test` is skipped. */
static kr_pgserver *pg_up(const char *test, char *url, size_t len)
{
    char why[512];
    kr_pgserver *pg = NULL;
    if (kr_pgserver_start(&pg, why, sizeof(why)) != 0) {
        ck_assert_msg(!kr_pgserver_required(), "cannot start PostgreSQL: %s", why);
        kr_test_skip(test, "PostgreSQL cannot start (%s)", why);
        return NULL;
    }
    ck_assert_int_eq(kr_pgserver_create_db(pg, url, len), 0);
    return pg;
}

/* The inventory's schema made in the database at `url`. */
static void pg_schema(const char *url)
{
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    kr_inventory_free(inv);
}

/* A session on `url` that holds `table` locked in an open transaction:
 * every other query on the table waits until it rolls back. */
static PGconn *pg_lock(const char *url, const char *table)
{
    PGconn *holder = kr_pgserver_lock(url, table);
    ck_assert_ptr_nonnull(holder);
    return holder;
}

/* Waits (up to 30 s) for a query that waits for a lock, and asserts one
 * does. */
static void pg_wait_for_a_waiter(PGconn *holder)
{
    ck_assert(kr_pgserver_wait_for_a_waiter(holder));
}

/* The program `p` awaited: asserts it exits `want` (else shows its log). */
static void proc_exits(kr_test_proc *p, int want)
{
    int code = kr_test_proc_wait(p, 60000);
    char *text = kr_test_proc_log_text(p);
    ck_assert_msg(code == want, "exit %d:\n%s", code, text ? text : "");
    free(text);
    kr_test_proc_free(p);
}

/* The end of a test of the program on PostgreSQL: its files, the
 * platform and PostgreSQL gone. */
static void pg_test_end(const run_files *rf, kr_pgserver *pg)
{
    const char *files[] = {rf->log, rf->kc[0], rf->kc[1], rf->kc[2]};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(files[i]);
    rmdir(rf->dir);
    platform_down();
    kr_pgserver_free(pg);
}

/* The program, leader, on the inventory at `url` (its files made under
 * `tag`), after a first sweep, its inventory check included (the plan is
 * printed after it): the tables are there. Then another session holds
 * the objects' table locked, and a later sweep's read waits for the
 * lock: that session is returned. */
static PGconn *pg_leader_stalled(run_files *rf, const char *tag, const char *url, kr_test_proc *p)
{
    run_files_make(rf, tag);
    char words[4096];
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --listen 0 --leader-elect --lease-namespace default "
             "--interval 1s --grace 0s --inventory %s --log-format text",
             rf->kc[0], rf->kc[1], url);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc_start(p, rf->log, argv);
    ck_assert(kr_test_proc_log_wait(p, "No zombies found", 0, 30000));
    PGconn *holder = pg_lock(url, "kr_objects");
    pg_wait_for_a_waiter(holder);
    return holder;
}

/* The program: a graceful stop (SIGTERM) of the leader while its sweep
 * reads the inventory, and the read waits on a stalled PostgreSQL (another
 * session holds the objects' table locked: the query waits without end).
 * The stop waits for the sweep before it releases the Lease, and the sweep
 * waited for the read: the Lease stayed held as long as the database
 * stalled. Now the sweep stops waiting, the Lease goes while the lock is
 * still held, and the read, given up, ends on its own once the lock goes. */
START_TEST(a_stop_during_a_stalled_inventory_read_releases_the_lease)
{
    char url[512];
    kr_pgserver *pg =
        pg_up("a_stop_during_a_stalled_inventory_read_releases_the_lease", url, sizeof(url));
    if (!pg)
        return;
    platform_up();
    run_files rf;
    kr_test_proc p = {0};
    PGconn *holder = pg_leader_stalled(&rf, "kr-sweeper-pgstall", url, &p);
    ck_assert(!lease_released());
    ck_assert_int_eq(kr_test_proc_signal(&p, SIGTERM), 0);
    struct timespec tick = {0, 20 * 1000000};
    bool released = false;
    time_t deadline = time(NULL) + 30;
    while (!released && kr_test_proc_running(&p) && time(NULL) < deadline) {
        released = lease_released();
        if (!released)
            nanosleep(&tick, &tick);
    }
    /* the program may have exited meanwhile (the read given up is cut
     * short at exit): the Lease was given up before that */
    if (!released)
        released = lease_released();
    /* the lock is still held: the read has not ended */
    long waiting = pg_value(holder, "SELECT count(*) FROM pg_locks WHERE NOT granted");
    char *text = kr_test_proc_log_text(&p);
    ck_assert_msg(released && waiting > 0, "released %d, %ld waiting:\n%s", released, waiting,
                  text ? text : "");
    free(text);
    kr_pgserver_unlock(holder);
    proc_exits(&p, 0);
    pg_test_end(&rf, pg);
}
END_TEST

/* The program: a stop (SIGTERM) while a sweep's inventory read waits on
 * a stalled PostgreSQL (another session holds the objects' table locked,
 * and keeps it so). The sweep gave the read up and the Lease went, but
 * the program, before it exits, joined the thread of the read given up,
 * which waited for the database without end: SIGTERM did not end it
 * while the database stalled. Now the read is cut short at exit (its
 * connection shut down on the program's side), and the program exits 0
 * while the lock is still held. */
START_TEST(a_stop_during_a_stalled_inventory_read_exits_while_it_stalls)
{
    char url[512];
    kr_pgserver *pg =
        pg_up("a_stop_during_a_stalled_inventory_read_exits_while_it_stalls", url, sizeof(url));
    if (!pg)
        return;
    platform_up();
    run_files rf;
    kr_test_proc p = {0};
    PGconn *holder = pg_leader_stalled(&rf, "kr-sweeper-pgexit", url, &p);
    ck_assert_int_eq(kr_test_proc_signal(&p, SIGTERM), 0);
    /* the lock stays held until the program has exited */
    int code = kr_test_proc_wait(&p, 60000);
    char *text = kr_test_proc_log_text(&p);
    ck_assert_msg(code == 0, "exit %d:\n%s", code, text ? text : "");
    ck_assert_msg(strstr(text, "cut short at exit"), "%s", text);
    free(text);
    kr_test_proc_free(&p);
    kr_pgserver_unlock(holder);
    pg_test_end(&rf, pg);
}
END_TEST

/* The program: --once whose inventory check could not be made (the
 * database did not answer its query within --request-timeout: another
 * session holds the objects' table locked) exits 1, as one whose records
 * could not be made does: a cron job sees the check missing, where it saw
 * a clean sweep (0). */
START_TEST(once_exits_1_when_the_inventory_check_fails)
{
    char url[512];
    kr_pgserver *pg = pg_up("once_exits_1_when_the_inventory_check_fails", url, sizeof(url));
    if (!pg)
        return;
    /* the schema made: the program's open does not touch kr_objects */
    pg_schema(url);
    PGconn *holder = pg_lock(url, "kr_objects");
    platform_up();
    run_files rf;
    run_files_make(&rf, "kr-sweeper-pgonce");
    char words[4096];
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --listen 0 --once --grace 0s --request-timeout 1s "
             "--inventory %s --log-format text",
             rf.kc[0], rf.kc[1], url);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc p = {0};
    kr_test_proc_start(&p, rf.log, argv);
    ck_assert(kr_test_proc_log_wait(&p, "inventory sweep failed", 0, 30000));
    /* the query given up ends once the lock goes: then the program exits */
    kr_pgserver_unlock(holder);
    proc_exits(&p, 1);
    pg_test_end(&rf, pg);
}
END_TEST

/* The program: a sweep whose inventory check could not be made (the
 * objects' table locked by another session past --request-timeout)
 * printed "No zombies found." and a JSON plan with no word of it, as if
 * the inventory had been checked and found clean. The table now says the
 * check failed, and why, and the JSON plan has "inventoryCheck". */
START_TEST(the_plan_says_the_inventory_check_failed)
{
    char url[512];
    kr_pgserver *pg = pg_up("the_plan_says_the_inventory_check_failed", url, sizeof(url));
    if (!pg)
        return;
    pg_schema(url);
    platform_up();
    run_files rf;
    run_files_make(&rf, "kr-sweeper-pgplan");
    char plan_file[800];
    snprintf(plan_file, sizeof(plan_file), "%s/plan.json", rf.dir);
    for (int json = 0; json <= 1; json++) {
        PGconn *holder = pg_lock(url, "kr_objects");
        char words[4096];
        snprintf(words, sizeof(words),
                 "--kubeconfig %s --cluster dc1=%s --listen 0 --once --grace 0s "
                 "--request-timeout 1s --inventory %s --log-format text%s",
                 rf.kc[0], rf.kc[1], url, json ? " -o json" : "");
        const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
        sweeper_argv(words, argv);
        kr_test_proc p = {0};
        if (json)
            kr_test_proc_start_split(&p, plan_file, rf.log, argv);
        else
            kr_test_proc_start(&p, rf.log, argv);
        /* the plan is printed while the query given up still waits */
        bool printed = kr_test_proc_log_wait(&p, json ? "\n}" : "No zombies found", 0, 30000);
        kr_pgserver_unlock(holder);
        int code = kr_test_proc_wait(&p, 60000);
        char *text = kr_test_proc_log_text(&p);
        ck_assert_msg(printed && code == 1, "exit %d:\n%s", code, text ? text : "");
        if (json) {
            json_error_t jerr;
            json_t *doc = json_loads(text, 0, &jerr);
            ck_assert_msg(doc, "%s: %s", jerr.text, text);
            const char *check = json_string_value(json_object_get(doc, "inventoryCheck"));
            ck_assert_msg(check && strncmp(check, "failed: ", 8) == 0, "%s", text);
            json_decref(doc);
        } else {
            ck_assert_msg(strstr(text, "No zombies found in the clusters listed.\n") &&
                              strstr(text, "inventory check failed: "),
                          "%s", text);
        }
        free(text);
        kr_test_proc_free(&p);
    }
    unlink(plan_file);
    pg_test_end(&rf, pg);
}
END_TEST

/* The program: a record whose database does not answer (another session
 * holds the transactions' table locked: the insert waits without end)
 * held the sweep until a stop, its deletes and its plan with it. It now
 * waits --request-timeout, then waits in the outbox (in order, for the
 * last flush or the next start) while the sweep goes on; --once exits 1,
 * its books not whole. */
START_TEST(a_record_the_database_does_not_take_holds_the_sweep_no_longer)
{
    char url[512];
    kr_pgserver *pg =
        pg_up("a_record_the_database_does_not_take_holds_the_sweep_no_longer", url, sizeof(url));
    if (!pg)
        return;
    pg_schema(url);
    PGconn *holder = pg_lock(url, "kr_transactions");
    platform_up();
    json_decref(create(&dc1, CM, copy_cm("unbooked", KR_MANAGER_SYNCER, "uid-of-nothing")));
    json_decref(create(&dc1, CM, copy_cm("unbooked-2", KR_MANAGER_SYNCER, "uid-of-nothing")));
    run_files rf;
    run_files_make(&rf, "kr-sweeper-pgrec");
    char words[4096];
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --listen 0 --once --grace 0s --request-timeout 1s "
             "--rate 1000 -n default --inventory %s --log-format text",
             rf.kc[0], rf.kc[1], url);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc p = {0};
    kr_test_proc_start(&p, rf.log, argv);
    /* the sweep went on past the first delete's record: the second
     * delete, then the plan, while the lock is held */
    bool swept = kr_test_proc_log_wait(&p, "CLUSTER", 0, 30000);
    long waiting = pg_value(holder, "SELECT count(*) FROM pg_locks WHERE NOT granted");
    char *text = kr_test_proc_log_text(&p);
    ck_assert_msg(swept && waiting > 0, "swept %d, %ld waiting:\n%s", swept, waiting,
                  text ? text : "");
    free(text);
    ck_assert_uint_eq(count_named("unbooked"), 0);
    kr_pgserver_unlock(holder);
    proc_exits(&p, 1);
    pg_test_end(&rf, pg);
}
END_TEST

/* The SWEPT records in the inventory, and (up to 8) when each was made,
 * in milliseconds since the epoch. */
static size_t swept_records(kr_inventory_t *inv, int64_t at_ms[8])
{
    json_t *rows = NULL;
    size_t n = 0, i;
    json_t *row;
    if (kr_inventory_transactions_after(inv, 0, 0, &rows, NULL) == 0)
        json_array_foreach(rows, i, row)
        {
            if (strcmp(json_string_value(json_object_get(row, "event")), "SWEPT") != 0)
                continue;
            const char *t = json_string_value(json_object_get(row, "time"));
            const char *dot = t ? strchr(t, '.') : NULL;
            if (n < 8)
                at_ms[n] = sweep_parse_time(t) * 1000 + (dot ? atoi(dot + 1) : 0);
            n++;
        }
    json_decref(rows);
    return n;
}

/* kr-sweeper's /metrics, once its log says where they are ("" until). */
static void metrics_of(const kr_test_proc *p, char *out, size_t len)
{
    out[0] = '\0';
    char *text = kr_test_proc_log_text(p);
    char *on = text ? strstr(text, "/metrics on ") : NULL;
    if (on) {
        on += strlen("/metrics on ");
        char base[128];
        snprintf(base, sizeof(base), "http://%.*s", (int)strcspn(on, " \n\""), on);
        tc_response r;
        tc_request(base, "GET", "/metrics", NULL, NULL, NULL, &r);
        snprintf(out, len, "%s", r.body ? r.body : "");
        tc_free(&r);
    }
    free(text);
}

/* The program: kr_sweeper_last_sweep_timestamp_seconds says when the last
 * sweep ended, for an alert on sweeps that stopped: it was set once the
 * clusters were swept, before the inventory check and the records, so a
 * sweep held in its check (the objects' table locked) showed as ended. */
START_TEST(the_last_sweep_time_is_set_when_the_sweep_ends)
{
    char url[512];
    kr_pgserver *pg = pg_up("the_last_sweep_time_is_set_when_the_sweep_ends", url, sizeof(url));
    if (!pg)
        return;
    pg_schema(url);
    PGconn *holder = pg_lock(url, "kr_objects");
    platform_up();
    run_files rf;
    run_files_make(&rf, "kr-sweeper-pglast");
    char words[4096];
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --listen 127.0.0.1:0 --interval 1h --grace 0s "
             "--inventory %s --log-format text",
             rf.kc[0], rf.kc[1], url);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc p = {0};
    kr_test_proc_start(&p, rf.log, argv);
    /* the first sweep's check waits for the lock */
    pg_wait_for_a_waiter(holder);
    struct timespec tick = {0, 20 * 1000000};
    time_t deadline;
    static char metrics[1 << 17];
    for (deadline = time(NULL) + 30;
         !strstr(metrics, "kr_sweeper_sweeps_total 1\n") && time(NULL) < deadline;
         nanosleep(&tick, &tick))
        metrics_of(&p, metrics, sizeof(metrics));
    const char *last = strstr(metrics, "\nkr_sweeper_last_sweep_timestamp_seconds ");
    ck_assert_msg(strstr(metrics, "kr_sweeper_sweeps_total 1\n") &&
                      strstr(metrics, "kr_sweeper_last_sweep_timestamp_seconds 0\n"),
                  "while the sweep's check waits: %.60s", last ? last + 1 : "(no gauge)");
    /* once the lock goes, the sweep ends, and says so */
    pg_exec(holder, "ROLLBACK");
    ck_assert(kr_test_proc_log_wait(&p, "No zombies found", 0, 30000));
    for (deadline = time(NULL) + 30;
         strstr(metrics, "kr_sweeper_last_sweep_timestamp_seconds 0\n") && time(NULL) < deadline;
         nanosleep(&tick, &tick))
        metrics_of(&p, metrics, sizeof(metrics));
    ck_assert(!strstr(metrics, "kr_sweeper_last_sweep_timestamp_seconds 0\n"));
    PQfinish(holder);
    ck_assert_int_eq(kr_test_proc_signal(&p, SIGTERM), 0);
    ck_assert_int_eq(kr_test_proc_wait(&p, 60000), 0);
    kr_test_proc_free(&p);
    pg_test_end(&rf, pg);
}
END_TEST

#define WIDGETS KR_GVR("example.com", "v1", "widgets")

static void install_widget_crd(cluster *cl)
{
    json_t *crd = json_pack(
        "{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:[{s:s, s:b, s:b, "
        "s:{s:{s:s, s:b}}}]}}",
        "apiVersion", "apiextensions.k8s.io/v1", "kind", "CustomResourceDefinition", "metadata",
        "name", "widgets.example.com", "spec", "group", "example.com", "scope", "Namespaced",
        "names", "plural", "widgets", "singular", "widget", "kind", "Widget", "listKind",
        "WidgetList", "versions", "name", "v1", "served", 1, "storage", 1, "schema",
        "openAPIV3Schema", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
    json_decref(create(cl, CRDS, crd));
    for (int i = 0; kr_client_list(cl->c, WIDGETS, "default", NULL, NULL, NULL) != 0; i++) {
        ck_assert_msg(i < 500, "Widgets are not served");
        struct timespec pace = {0, 10000000};
        nanosleep(&pace, NULL);
    }
}

/* The SWEEP_SKIPPED records of cluster `name` (kind Cluster). */
static size_t cluster_skipped_records(kr_inventory_t *inv, const char *name)
{
    json_t *h = NULL;
    size_t n = 0, i;
    json_t *row;
    if (kr_inventory_history(inv, "Cluster", "", name, 0, 0, &h, NULL) == 0)
        json_array_foreach(h, i, row)
        {
            n += strcmp(json_string_value(json_object_get(row, "event")), "SWEEP_SKIPPED") == 0;
        }
    json_decref(h);
    return n;
}

/* The program: each delete is in the books (and on /metrics) as it is
 * made, stamped then, not at the end of the sweep: a kill mid-sweep
 * leaves no object deleted without its SWEPT record; and a cluster left
 * alone (dc2 does not serve Widgets: it cannot be listed) is in them
 * from the moment that was decided, before the deletes, not at the
 * sweep's end. */
START_TEST(each_delete_is_recorded_as_it_is_made)
{
    platform_up();
    install_widget_crd(&hub);
    install_widget_crd(&dc1);
    enum { N = 6 };
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "killed-%02d", i);
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, "uid-of-nothing")));
    }
    run_files rf;
    run_files_make(&rf, "kr-sweeper-kill");
    char *dir = rf.dir, (*kc)[600] = rf.kc;
    char *log = rf.log, *db = rf.db, *url = rf.url;
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    char words[4096];
    /* one delete every 2 s: the sweep takes 10 s */
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --cluster dc2=%s --listen 127.0.0.1:0 "
             "--interval 1h --grace 0s --rate 0.5 -n default --resource v1/configmaps "
             "--resource example.com/v1/widgets=Widget --inventory %s "
             "--log-format text",
             kc[0], kc[1], kc[2], url);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc p = {0};
    kr_test_proc_start(&p, log, argv);
    struct timespec tick = {0, 20 * 1000000};
    int64_t at_ms[8] = {0};
    time_t deadline = time(NULL) + 30;
    while (swept_records(inv, at_ms) < 2 && time(NULL) < deadline)
        nanosleep(&tick, &tick);
    static char metrics[1 << 17];
    metrics_of(&p, metrics, sizeof(metrics));
    char *text = kr_test_proc_log_text(&p);
    ck_assert_msg(swept_records(inv, at_ms) >= 2, "no records mid-sweep:\n%s", text ? text : "");
    free(text);
    /* stamped at each delete, paced 2 s apart */
    ck_assert_msg(at_ms[1] - at_ms[0] >= 1000, "stamped %lld ms apart",
                  (long long)(at_ms[1] - at_ms[0]));
    ck_assert_msg(!strstr(metrics, "kr_sweeper_deleted_total 0\n") &&
                      strstr(metrics, "kr_sweeper_deleted_total "),
                  "%s", metrics);
    ck_assert_int_eq(kr_test_proc_kill(&p, SIGKILL), 128 + SIGKILL);
    kr_test_proc_free(&p);
    size_t gone = N - count_named("killed-");
    ck_assert_uint_lt(gone, N); /* killed mid-sweep */
    ck_assert_uint_eq(swept_records(inv, at_ms), gone);
    ck_assert_uint_eq(cluster_skipped_records(inv, "dc2"), 1);
    kr_inventory_free(inv);
    const char *files[] = {log, kc[0], kc[1], kc[2]};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(files[i]);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char f[720];
        snprintf(f, sizeof(f), "%s%s", db, suffixes[i]);
        unlink(f);
    }
    rmdir(dir);
    platform_down();
}
END_TEST

/* The program: a stop while the sweep waits for the next delete's turn
 * (a slow --rate) ends its deletes at once, the rest recorded as left to
 * the next sweep; it does not wait for the turn. */
START_TEST(a_stop_ends_the_wait_between_deletes)
{
    platform_up();
    enum { N = 3 };
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "slow-%02d", i);
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, "uid-of-nothing")));
    }
    run_files rf;
    run_files_make(&rf, "kr-sweeper-slow");
    char *dir = rf.dir, (*kc)[600] = rf.kc;
    char *log = rf.log, *db = rf.db, *url = rf.url;
    char words[4096];
    /* one delete every 100 s, the slowest rate there is */
    snprintf(words, sizeof(words),
             "--kubeconfig %s --cluster dc1=%s --listen 0 --once --grace 0s --rate 0.01 -n default "
             "--inventory %s --log-format text",
             kc[0], kc[1], url);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1];
    sweeper_argv(words, argv);
    kr_test_proc p = {0};
    kr_test_proc_start(&p, log, argv);
    ck_assert(kr_test_proc_log_wait(&p, "deleted ConfigMap default/slow-", 0, 30000));
    ck_assert_int_eq(kr_test_proc_signal(&p, SIGTERM), 0);
    int code = kr_test_proc_wait(&p, 30000);
    char *text = kr_test_proc_log_text(&p);
    ck_assert_msg(code == 0, "exit %d:\n%s", code, text ? text : "");
    free(text);
    kr_test_proc_free(&p);
    ck_assert_uint_eq(count_named("slow-"), N - 1);
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    kr_inventory_t *inv = NULL;
    ck_assert_int_eq(kr_inventory_new(&io, &inv, NULL), 0);
    size_t swept = 0, left = 0;
    for (int i = 0; i < N; i++) {
        char name[32], events[512];
        snprintf(name, sizeof(name), "slow-%02d", i);
        events_of(inv, name, events, sizeof(events));
        swept += strcmp(events, "SWEPT deleted") == 0;
        left += strcmp(events, "SWEEP_SKIPPED skipped: stopping") == 0;
    }
    ck_assert_uint_eq(swept, 1);
    ck_assert_uint_eq(left, N - 1);
    kr_inventory_free(inv);
    const char *files[] = {log, kc[0], kc[1]};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(files[i]);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char f[720];
        snprintf(f, sizeof(f), "%s%s", db, suffixes[i]);
        unlink(f);
    }
    rmdir(dir);
    platform_down();
}
END_TEST

/* A custom resource's copies are named by its Kind, as kr-inventory names
 * its rows: from the hub's discovery, or --resource G/V/R=Kind; so the
 * inventory's zombies of it are found, and SWEPT lands in the object's
 * history, not under its plural. */
START_TEST(a_custom_resource_is_named_by_its_kind)
{
    platform_up();
    cluster *all[] = {&hub, &dc1, &dc2};
    for (size_t i = 0; i < 3; i++)
        install_widget_crd(all[i]);
    json_t *w = copy_cm("w1", KR_MANAGER_SYNCER, "uid-of-nothing");
    json_object_set_new(w, "apiVersion", json_string("example.com/v1"));
    json_object_set_new(w, "kind", json_string("Widget"));
    json_decref(create(&dc1, WIDGETS, w));
    static const kr_gvr with_widgets[] = {CM, WIDGETS};
    sweep_opts o = opts_for(0, 100, true);
    o.resources = with_widgets;
    sweep_plan plan;
    kr_error_t err = {0};
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 1);
    ck_assert_str_eq(plan.items[0].kind, "Widget");
    ck_assert_str_eq(plan.items[0].name, "w1");
    sweep_plan_free(&plan);
    /* given with the resource, as kr-inventory's --resource */
    static const char *const given[] = {NULL, "Widget"};
    o.resource_kinds = given;
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 1);
    ck_assert_str_eq(plan.items[0].kind, "Widget");
    sweep_plan_free(&plan);
    /* a Kind the hub does not give the resource is refused, by the
     * inventory's check too: its rows of that kind would be marked
     * deleted */
    static const char *const wrong[] = {NULL, "Gizmo"};
    o.resource_kinds = wrong;
    ck_assert_int_eq(sweep_run(&o, &plan, &err), KR_EINVAL);
    ck_assert_msg(strstr(err.message, "serves example.com/v1/widgets as kind Widget, not Gizmo"),
                  "%s", err.message);
    static const char *const wrong_builtin[] = {"Secret", NULL};
    o.resource_kinds = wrong_builtin;
    ck_assert_int_eq(sweep_run(&o, &plan, &err), KR_EINVAL);
    ck_assert_msg(strstr(err.message, "v1/configmaps is kind ConfigMap, not Secret"), "%s",
                  err.message);
    o.dry_run = false;
    sweep_plan inv_plan = {0};
    char idir[64], idb[100];
    kr_inventory_t *iinv = inventory_open(idir, idb, "kr-sweeper-wk");
    ck_assert_int_eq(sweep_inventory(&o, iinv, &inv_plan, &err), KR_EINVAL);
    ck_assert_uint_eq(inv_plan.n, 0);
    sweep_plan_free(&inv_plan);
    inventory_close(iinv, idir, idb);
    o.dry_run = true;
    o.resource_kinds = NULL;

    /* the inventory's Widget row of an object gone from dc1 is found */
    char dir[64], db[100];
    kr_inventory_t *inv = inventory_open(dir, db, "kr-sweeper-kind");
    json_t *ghost =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "apiVersion", "example.com/v1", "kind",
                  "Widget", "metadata", "name", "ghost", "namespace", "default", "uid", "ghost-uid",
                  "resourceVersion", "1", "creationTimestamp", "2020-01-01T00:00:00Z");
    kr_inventory_event ev = {.cluster = "dc1",
                             .api_version = "example.com/v1",
                             .kind = "Widget",
                             .type = KR_INVENTORY_ADDED,
                             .object = ghost};
    ck_assert_msg(kr_inventory_apply(inv, &ev, 1, NULL, &err) == 0, "%s", err.message);
    json_decref(ghost);
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    bool found = false;
    for (size_t i = 0; i < plan.n; i++)
        found |= strcmp(plan.items[i].name, "ghost") == 0 &&
                 strcmp(plan.items[i].kind, "Widget") == 0 &&
                 plan.items[i].reason == SWEEP_NOT_IN_CLUSTER;
    ck_assert_msg(found, "the Widget row was not found (%zu candidates)", plan.n);
    sweep_plan_free(&plan);
    inventory_close(inv, dir, db);

    /* a resource the hub does not serve: nothing is judged, and the run
     * says how to name its Kind (before any list is made) */
    static const kr_gvr unknown[] = {CM, KR_GVR("example.com", "v1", "gadgets")};
    o.resources = unknown;
    ck_assert_int_ne(sweep_run(&o, &plan, &err), 0);
    ck_assert_msg(strstr(err.message, "the kind of example.com/v1/gadgets") != NULL, "%s",
                  err.message);
    platform_down();
}
END_TEST

static size_t live_rows(kr_inventory_t *inv)
{
    kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
    q.cluster = "dc1";
    q.kind = "ConfigMap";
    json_t *rows = NULL;
    char *next = NULL;
    ck_assert_int_eq(kr_inventory_query(inv, &q, &rows, &next, NULL), 0);
    size_t n = json_array_size(rows);
    json_decref(rows);
    kr_free(next);
    return n;
}

START_TEST(inventory_rows_missing_from_their_cluster_are_marked_swept)
{
    platform_up();
    char dir[64], db[100];
    kr_inventory_t *inv = inventory_open(dir, db, "kr-sweeper-inv");
    /* The inventory holds three ConfigMaps of dc1: one that is there, one
     * whose delete it never saw, one newer than any list the sweep makes. */
    json_t *alive = create(&dc1, CM, copy_cm("alive", NULL, NULL));
    json_t *ghost = old_cm("ghost", "ghost-uid", "1");
    json_t *future = old_cm("future", "future-uid", "999999999");
    json_t *objs[] = {alive, ghost, future};
    for (size_t i = 0; i < 3; i++)
        inventory_holds(inv, "dc1", objs[i]);
    ck_assert_uint_eq(live_rows(inv), 3);

    sweep_opts o = opts_for(0, 100, true);
    sweep_plan plan = {0};
    kr_error_t err = {0};
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 1);
    ck_assert_str_eq(plan.items[0].name, "ghost");
    ck_assert_int_eq(plan.items[0].reason, SWEEP_NOT_IN_CLUSTER);
    ck_assert_int_eq(plan.items[0].action, SWEEP_PLANNED);
    /* the table's ACTION column starts where its heading does: REASON is
     * as wide as the longest reason (this row's overflowed a width of 30) */
    char *table = NULL;
    size_t table_len = 0;
    FILE *out = open_memstream(&table, &table_len);
    ck_assert_ptr_nonnull(out);
    sweep_print_table(&plan, out);
    fclose(out);
    const char *row = strchr(table, '\n');
    ck_assert_ptr_nonnull(row);
    row++;
    ck_assert_msg(strstr(row, "inventory row, not in the cluster") && strstr(table, "ACTION") &&
                      strstr(row, "planned") - row == strstr(table, "ACTION") - table,
                  "%s", table);
    free(table);
    sweep_plan_free(&plan);
    ck_assert_uint_eq(live_rows(inv), 3); /* a dry run marks nothing */

    /* the cap per run holds for the marks too */
    o = opts_for(0, 0, false);
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 1);
    ck_assert_int_eq(plan.items[0].action, SWEEP_SKIPPED_CAP);
    sweep_plan_free(&plan);
    ck_assert_uint_eq(live_rows(inv), 3);

    o = opts_for(0, 100, false);
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 1);
    ck_assert_int_eq(plan.items[0].action, SWEEP_MARKED);
    sweep_plan_free(&plan);
    ck_assert_uint_eq(live_rows(inv), 2);
    json_t *history = NULL;
    ck_assert_int_eq(
        kr_inventory_history(inv, "ConfigMap", "default", "ghost", 0, 0, &history, NULL), 0);
    json_t *last = json_array_get(history, json_array_size(history) - 1);
    ck_assert_str_eq(json_string_value(json_object_get(last, "event")), "SWEPT");
    ck_assert_str_eq(json_string_value(json_object_get(last, "actor")), "kr-sweeper");
    json_decref(history);

    /* Again: nothing left to mark, and the delete is not doubled. */
    ck_assert_int_eq(sweep_inventory(&o, inv, &plan, &err), 0);
    ck_assert_uint_eq(plan.n, 0);
    sweep_plan_free(&plan);

    json_decref(alive);
    json_decref(ghost);
    json_decref(future);
    inventory_close(inv, dir, db);
    platform_down();
}
END_TEST

/* Marks while the inventory stalls (another writer holds its SQLite
 * file: each statement waits out its busy timeout): each mark waited as
 * long, up to --max-deletes of them, holding the sweep, and a stop (the
 * Lease is given up after the sweep). Now the first that finds the
 * database away is the last tried: the rows left are "not tried" and the
 * next sweep, the database back, marks them. */
START_TEST(marks_stop_at_the_first_that_finds_the_inventory_away)
{
    platform_up();
    char dir[64], db[100];
    kr_inventory_t *inv = inventory_open(dir, db, "kr-sweeper-away");
    json_t *alive = create(&dc1, CM, copy_cm("alive", NULL, NULL));
    inventory_holds(inv, "dc1", alive);
    const char *names[] = {"gone-a", "gone-b", "gone-c"};
    for (size_t i = 0; i < 3; i++) {
        char uid[32];
        snprintf(uid, sizeof(uid), "%s-uid", names[i]);
        json_t *ghost = old_cm(names[i], uid, "1");
        inventory_holds(inv, "dc1", ghost);
        json_decref(ghost);
    }
    ck_assert_uint_eq(live_rows(inv), 4);
    sqlite3 *holder = NULL;
    ck_assert_int_eq(sqlite3_open(db, &holder), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    sweep_opts o = opts_for(0, 100, false);
    sweep_plan plan = {0};
    kr_error_t err = {0};
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 3);
    size_t tried = 0, untried = 0;
    for (size_t i = 0; i < plan.n; i++) {
        ck_assert_int_eq(plan.items[i].action, SWEEP_FAILED);
        ck_assert_ptr_nonnull(plan.items[i].error);
        if (strncmp(plan.items[i].error, "not tried: ", 11) == 0)
            untried++;
        else
            tried++;
    }
    ck_assert_msg(tried == 1 && untried == 2, "%zu marks tried on a stalled database", tried);
    sweep_plan_free(&plan);
    ck_assert_int_eq(sqlite3_exec(holder, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(holder);
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, 3);
    for (size_t i = 0; i < plan.n; i++)
        ck_assert_int_eq(plan.items[i].action, SWEEP_MARKED);
    sweep_plan_free(&plan);
    ck_assert_uint_eq(live_rows(inv), 1);
    json_decref(alive);
    inventory_close(inv, dir, db);
    platform_down();
}
END_TEST

/* A cluster that looks emptied to the inventory check (its kubeconfig now
 * pointing at a rebuilt or wrong cluster): 12 of the 13 rows the
 * inventory holds live in dc1 are missing from its list, over
 * --max-delete-ratio. None is marked deleted (they were all marked), the
 * plan and the books say why, once; with --max-delete-ratio 1, all 12 are
 * marked. */
START_TEST(an_emptied_cluster_leaves_its_inventory_rows_alone)
{
    platform_up();
    enum { N = 12 };
    char dir[64], db[100];
    kr_inventory_t *inv = inventory_open(dir, db, "kr-sweeper-emptied");
    json_t *alive = create(&dc1, CM, copy_cm("alive", NULL, NULL));
    inventory_holds(inv, "dc1", alive);
    json_decref(alive);
    for (int i = 0; i < N; i++) {
        char name[32], uid[32];
        snprintf(name, sizeof(name), "gone-%02d", i);
        snprintf(uid, sizeof(uid), "gone-uid-%02d", i);
        json_t *row = old_cm(name, uid, "1");
        inventory_holds(inv, "dc1", row);
        json_decref(row);
    }
    ck_assert_uint_eq(live_rows(inv), N + 1);
    sweep_opts o = opts_for(0, 100, false);
    o.max_delete_ratio = 0.5;
    sweep_plan plan = {0};
    kr_error_t err = {0};
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n, N);
    ck_assert_uint_eq(count_action(&plan, SWEEP_REFUSED_RATIO), N);
    ck_assert_uint_eq(live_rows(inv), N + 1);
    ck_assert_uint_eq(plan.n_refusals, 1);
    const sweep_refusal *r = &plan.refusals[0];
    ck_assert(r->inventory);
    ck_assert_str_eq(r->cluster, "dc1");
    ck_assert_str_eq(r->resource, "v1/configmaps");
    ck_assert_uint_eq(r->zombies, N);
    ck_assert_uint_eq(r->managed, N + 1);
    json_t *j = sweep_plan_json(&plan);
    char *text = json_dumps(json_object_get(j, "refusedClusters"), JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(text, "[{\"cluster\":\"dc1\",\"inventory\":true,\"managed\":13,"
                           "\"planned\":12,\"resource\":\"v1/configmaps\",\"zombies\":12}]");
    free(text);
    json_decref(j);
    /* once in the books, kind Cluster */
    kr_inventory_outbox_t *ob = NULL;
    ck_assert_msg(kr_inventory_outbox_new(inv, NULL, &ob, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(sweep_record(ob, &plan, NULL, NULL, NULL), 0);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 10000), 0);
    kr_inventory_outbox_free(ob);
    sweep_plan_free(&plan);
    json_t *history = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Cluster", "", "dc1", 0, 0, &history, NULL), 0);
    ck_assert_uint_eq(json_array_size(history), 1);
    json_t *detail = json_object_get(json_array_get(history, 0), "patch");
    ck_assert(json_is_true(json_object_get(detail, "inventory")));
    json_decref(history);
    /* the operator has looked: all of them go */
    o.max_delete_ratio = 1;
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n_refusals, 0);
    ck_assert_uint_eq(count_action(&plan, SWEEP_MARKED), N);
    ck_assert_uint_eq(live_rows(inv), 1);
    sweep_plan_free(&plan);
    inventory_close(inv, dir, db);
    platform_down();
}
END_TEST

static json_t *mem_obj(const char *name, const char *uid, const char *manager,
                       const char *source_uid, const char *created, const char *placement)
{
    json_t *o =
        json_pack("{s:{s:s, s:s, s:s, s:s, s:s}}", "metadata", "name", name, "namespace", "default",
                  "uid", uid, "resourceVersion", "5", "creationTimestamp", created);
    if (manager)
        json_object_set_new(json_object_get(o, "metadata"), "labels",
                            json_pack("{s:s, s:s, s:s}", KR_LABEL_MANAGED_BY, manager,
                                      KR_LABEL_SOURCE_UID, source_uid, KR_LABEL_SOURCE_CLUSTER,
                                      "hub"));
    if (placement)
        json_object_set_new(json_object_get(o, "metadata"), "annotations",
                            json_pack("{s:s}", KR_ANNOTATION_CLUSTERS, placement));
    return o;
}

static void now_text(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An empty (or wrong) hub: every copy of dc1 is a zombie, 12 of them past
 * the grace period, 13 within it. The guard sees 25 zombies of 25 copies,
 * not 12 of 25 (which would let 12 live copies go). */
START_TEST(young_zombies_count_against_the_ratio)
{
    json_t *hub_list = json_pack("{s:[]}", "items");
    json_t *cl = json_pack("{s:[]}", "items");
    char now[32], name[32], uid[32];
    now_text(now, sizeof(now));
    for (int i = 0; i < 25; i++) {
        snprintf(name, sizeof(name), "cm-%02d", i);
        snprintf(uid, sizeof(uid), "u-%02d", i);
        json_array_append_new(json_object_get(cl, "items"),
                              mem_obj(name, uid, KR_MANAGER_SYNCER, "src-gone",
                                      i < 12 ? "2020-01-01T00:00:00Z" : now, NULL));
    }
    sweep_sources s;
    kr_gvr g = CM;
    ck_assert_int_eq(sweep_sources_init(&s, "hub", &g, &hub_list, 1, NULL), 0);
    sweep_plan plan = {0};
    ck_assert_int_eq(sweep_plan_cluster(&s, "dc1", CM, "ConfigMap", cl, time(NULL), 600, &plan), 0);
    ck_assert_uint_eq(plan.n, 12);
    ck_assert_uint_eq(plan.young, 13);
    int refused = sweep_plan_guard(&plan, "dc1", 0, 0.5);
    ck_assert_msg(refused == 1, "every copy of dc1 is a zombie, yet %zu of them would be deleted",
                  plan.n);
    sweep_plan_free(&plan);
    sweep_sources_free(&s);
    json_decref(hub_list);
    json_decref(cl);
}
END_TEST

/* A wrong hub without the Runnable CRD: the 20 kr-submitter Jobs are not
 * judged and do not count as copies; all 15 ConfigMap copies are zombies,
 * 15 of 15 judged (not 15 of 35): refused. */
START_TEST(unjudged_copies_do_not_count_against_the_ratio)
{
    json_t *hub_lists[2] = {json_pack("{s:[]}", "items"), json_pack("{s:[]}", "items")};
    json_t *cms = json_pack("{s:[]}", "items"), *jobs = json_pack("{s:[]}", "items");
    char name[32], uid[32];
    for (int i = 0; i < 15; i++) {
        snprintf(name, sizeof(name), "cm-%02d", i);
        snprintf(uid, sizeof(uid), "c-%02d", i);
        json_array_append_new(
            json_object_get(cms, "items"),
            mem_obj(name, uid, KR_MANAGER_SYNCER, "src-gone", "2020-01-01T00:00:00Z", NULL));
    }
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "job-%02d", i);
        snprintf(uid, sizeof(uid), "j-%02d", i);
        json_array_append_new(
            json_object_get(jobs, "items"),
            mem_obj(name, uid, KR_MANAGER_SUBMITTER, "runnable-uid", "2020-01-01T00:00:00Z", NULL));
    }
    sweep_sources s;
    ck_assert_int_eq(sweep_sources_init(&s, "hub", resources, hub_lists, 2, NULL), 0);
    sweep_plan plan = {0};
    ck_assert_int_eq(sweep_plan_cluster(&s, "dc1", CM, "ConfigMap", cms, time(NULL), 0, &plan), 0);
    ck_assert_int_eq(sweep_plan_cluster(&s, "dc1", JOBS, "Job", jobs, time(NULL), 0, &plan), 0);
    ck_assert_uint_eq(plan.n, 15);
    ck_assert_uint_eq(plan.unjudged, 20);
    int refused = sweep_plan_guard(&plan, "dc1", 0, 0.5);
    ck_assert_msg(refused == 1, "all %zu judged copies are zombies, not refused (managed %zu)",
                  plan.n, plan.managed);
    sweep_plan_free(&plan);
    sweep_sources_free(&s);
    for (int i = 0; i < 2; i++)
        json_decref(hub_lists[i]);
    json_decref(cms);
    json_decref(jobs);
}
END_TEST

/* A hub whose Secrets were all lost (a restore without them): every
 * Secret copy of dc1 looks orphaned, 30 of them, beside 40 wanted
 * ConfigMaps. 30 of 70 is under the ratio, 30 of 30 Secrets is not:
 * refused, naming the resource. */
START_TEST(one_resource_emptied_is_not_diluted_by_the_others)
{
    const kr_gvr gv[2] = {CM, KR_GVR("", "v1", "secrets")};
    json_t *hub_lists[2] = {json_pack("{s:[]}", "items"), json_pack("{s:[]}", "items")};
    json_t *cms = json_pack("{s:[]}", "items"), *secrets = json_pack("{s:[]}", "items");
    char name[32], uid[32], src[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "cm-%02d", i);
        snprintf(src, sizeof(src), "hub-cm-%02d", i);
        snprintf(uid, sizeof(uid), "c-%02d", i);
        json_array_append_new(json_object_get(hub_lists[0], "items"),
                              mem_obj(name, src, NULL, NULL, "2020-01-01T00:00:00Z", NULL));
        json_array_append_new(
            json_object_get(cms, "items"),
            mem_obj(name, uid, KR_MANAGER_SYNCER, src, "2020-01-01T00:00:00Z", NULL));
    }
    for (int i = 0; i < 30; i++) {
        snprintf(name, sizeof(name), "secret-%02d", i);
        snprintf(src, sizeof(src), "hub-secret-%02d", i);
        snprintf(uid, sizeof(uid), "s-%02d", i);
        json_array_append_new(
            json_object_get(secrets, "items"),
            mem_obj(name, uid, KR_MANAGER_SYNCER, src, "2020-01-01T00:00:00Z", NULL));
    }
    sweep_sources s;
    ck_assert_int_eq(sweep_sources_init(&s, "hub", gv, hub_lists, 2, NULL), 0);
    sweep_plan plan = {0};
    ck_assert_int_eq(sweep_plan_cluster(&s, "dc1", gv[0], "ConfigMap", cms, time(NULL), 0, &plan),
                     0);
    ck_assert_int_eq(sweep_plan_cluster(&s, "dc1", gv[1], "Secret", secrets, time(NULL), 0, &plan),
                     0);
    ck_assert_uint_eq(plan.n, 30);
    int refused = sweep_plan_guard(&plan, "dc1", 0, 0.5);
    ck_assert_msg(refused == 1, "all 30 Secret copies of dc1 would go (30 of %zu copies)",
                  plan.managed);
    ck_assert_str_eq(plan.refusals[0].resource, "secrets"); /* the core group is none */
    ck_assert_uint_eq(plan.refusals[0].zombies, 30);
    ck_assert_uint_eq(plan.refusals[0].managed, 30);
    sweep_plan_free(&plan);
    sweep_sources_free(&s);
    for (int i = 0; i < 2; i++)
        json_decref(hub_lists[i]);
    json_decref(cms);
    json_decref(secrets);
}
END_TEST

/* An empty hub and 12 edge clusters of 10 copies each: every copy of
 * every cluster is a zombie, no cluster is over SWEEP_RATIO_MIN_DELETES,
 * but all clusters together are: every deletion is refused. */
START_TEST(many_small_clusters_of_an_empty_hub_are_refused_together)
{
    json_t *hub_list = json_pack("{s:[]}", "items");
    sweep_sources s;
    kr_gvr g = CM;
    ck_assert_int_eq(sweep_sources_init(&s, "hub", &g, &hub_list, 1, NULL), 0);
    sweep_plan plan = {0};
    size_t refusals = 0;
    for (int c = 0; c < 12; c++) {
        char cname[16], name[32], uid[32];
        snprintf(cname, sizeof(cname), "edge-%02d", c);
        json_t *cl = json_pack("{s:[]}", "items");
        for (int i = 0; i < 10; i++) {
            snprintf(name, sizeof(name), "cm-%02d", i);
            snprintf(uid, sizeof(uid), "u-%02d-%02d", c, i);
            json_array_append_new(
                json_object_get(cl, "items"),
                mem_obj(name, uid, KR_MANAGER_SYNCER, "src-gone", "2020-01-01T00:00:00Z", NULL));
        }
        size_t first = plan.n;
        ck_assert_int_eq(sweep_plan_cluster(&s, cname, CM, "ConfigMap", cl, time(NULL), 0, &plan),
                         0);
        refusals += sweep_plan_guard(&plan, cname, first, 0.5) == 1;
        json_decref(cl);
    }
    ck_assert_uint_eq(refusals, 0); /* none over the floor on its own */
    refusals += sweep_plan_guard_hub(&plan, 0.5) == 1;
    ck_assert_msg(refusals > 0, "an empty hub: %zu of %zu copies planned, nothing refused", plan.n,
                  plan.managed);
    ck_assert_uint_eq(plan.n_refusals, 12);
    ck_assert(plan.refusals[0].hub_wide);
    ck_assert_uint_eq(plan.refusals[0].zombies, 120);
    for (size_t i = 0; i < plan.n; i++)
        ck_assert_int_eq(plan.items[i].action, SWEEP_REFUSED_RATIO);
    sweep_plan_free(&plan);
    sweep_sources_free(&s);
    json_decref(hub_list);
}
END_TEST

/* The wrong hub (a kubeconfig pointing at dc2): dc1's deletions are
 * refused, and the inventory check that follows neither lists that wrong
 * "hub" nor dc1: the real hub's live rows are not marked SWEPT; one skip
 * each says why. */
START_TEST(a_refused_sweep_leaves_the_inventory_alone)
{
    platform_up();
    enum { N = 12 };
    char dir[64], db[100];
    kr_inventory_t *inv = inventory_open(dir, db, "kr-sweeper-refused");
    kr_error_t err = {0};
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "real-%02d", i);
        json_t *live = create(&hub, CM, hub_cm(name, NULL));
        json_decref(create(&dc1, CM, copy_cm(name, KR_MANAGER_SYNCER, uid_of(live))));
        json_t *row = json_deep_copy(live);
        json_object_set_new(json_object_get(row, "metadata"), "resourceVersion", json_string("1"));
        json_object_set_new(json_object_get(row, "metadata"), "creationTimestamp",
                            json_string("2020-01-01T00:00:00Z"));
        inventory_holds(inv, "hub", row);
        json_decref(row);
        json_decref(live);
    }
    sweep_opts o = opts_for(0, 100, false);
    o.max_delete_ratio = 0.5;
    o.hub = dc2.c; /* the wrong hub */
    sweep_plan plan;
    ck_assert_msg(sweep_run(&o, &plan, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(plan.n_refusals, 1); /* dc1: the guard holds */
    ck_assert_msg(sweep_inventory(&o, inv, &plan, &err) == 0, "%s", err.message);
    size_t marked = 0;
    for (size_t i = 0; i < plan.n; i++)
        marked += plan.items[i].action == SWEEP_MARKED;
    ck_assert_msg(marked == 0,
                  "a refused sweep (wrong hub) still marked %zu of the real hub's live rows SWEPT",
                  marked);
    size_t hub_skips = 0, dc1_skips = 0;
    for (size_t i = 0; i < plan.n_skips; i++) {
        hub_skips += strcmp(plan.skips[i].cluster, "hub") == 0;
        dc1_skips += strcmp(plan.skips[i].cluster, "dc1") == 0;
    }
    ck_assert_uint_eq(hub_skips, 1);
    ck_assert_uint_eq(dc1_skips, 1);
    /* a skip of the whole cluster names no resource */
    char *table = NULL;
    size_t table_len = 0;
    FILE *out = open_memstream(&table, &table_len);
    ck_assert_ptr_nonnull(out);
    sweep_print_table(&plan, out);
    fclose(out);
    ck_assert_msg(strstr(table, "cluster hub skipped: inventory check") && !strstr(table, "()"),
                  "%s", table);
    free(table);
    /* The refused cluster is recorded once (kind Cluster), not once per
     * candidate. */
    kr_inventory_outbox_t *ob = NULL;
    ck_assert_msg(kr_inventory_outbox_new(inv, NULL, &ob, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(sweep_record(ob, &plan, NULL, NULL, NULL), 0);
    ck_assert_int_eq(kr_inventory_outbox_flush(ob, 10000), 0);
    kr_inventory_outbox_free(ob);
    json_t *history = NULL;
    ck_assert_int_eq(kr_inventory_history(inv, "Cluster", "", "dc1", 0, 0, &history, NULL), 0);
    size_t refusals = 0;
    for (size_t i = 0; i < json_array_size(history); i++) {
        json_t *detail = json_object_get(json_array_get(history, i), "patch");
        refusals += json_integer_value(json_object_get(detail, "planned")) == N;
    }
    char *dump = json_dumps(history, JSON_COMPACT);
    ck_assert_msg(refusals == 1, "%zu records of dc1's refusal: %s", refusals, dump);
    free(dump);
    json_decref(history);
    ck_assert_int_eq(
        kr_inventory_history(inv, "ConfigMap", "default", "real-00", 0, 0, &history, NULL), 0);
    ck_assert_uint_eq(json_array_size(history), 1); /* its ADDED alone */
    json_decref(history);
    sweep_plan_free(&plan);
    inventory_close(inv, dir, db);
    platform_down();
}
END_TEST

/* A sweeper that sweeps a subset of kr-syncer's clusters (dc1, dc2 of
 * dc1..dc3, a shard): a source moved from dc1 to dc2 and dc3 leaves a real
 * zombie in dc1, swept as "no longer placed here" although dc3 is not
 * swept. One moved to dc3 alone names none of the sweeper's clusters,
 * which it cannot tell from a typo ("DC2"): held, left to kr-syncer (which
 * knows dc3 and removes the copy itself). */
START_TEST(a_subset_of_the_clusters_sweeps_a_moved_copy)
{
    json_t *hub_list = json_pack("{s:[]}", "items");
    json_array_append_new(
        json_object_get(hub_list, "items"),
        mem_obj("moved", "src-moved", NULL, NULL, "2020-01-01T00:00:00Z", "dc2,dc3"));
    json_array_append_new(json_object_get(hub_list, "items"),
                          mem_obj("far", "src-far", NULL, NULL, "2020-01-01T00:00:00Z", "dc3"));
    json_array_append_new(
        json_object_get(hub_list, "items"),
        mem_obj("stays", "src-stays", NULL, NULL, "2020-01-01T00:00:00Z", "dc1,dc2"));
    json_t *cl = json_pack("{s:[]}", "items");
    json_array_append_new(
        json_object_get(cl, "items"),
        mem_obj("moved", "u-1", KR_MANAGER_SYNCER, "src-moved", "2020-01-01T00:00:00Z", NULL));
    json_array_append_new(
        json_object_get(cl, "items"),
        mem_obj("stays", "u-2", KR_MANAGER_SYNCER, "src-stays", "2020-01-01T00:00:00Z", NULL));
    json_array_append_new(
        json_object_get(cl, "items"),
        mem_obj("far", "u-3", KR_MANAGER_SYNCER, "src-far", "2020-01-01T00:00:00Z", NULL));
    sweep_sources s;
    kr_gvr g = CM;
    ck_assert_int_eq(sweep_sources_init(&s, "hub", &g, &hub_list, 1, NULL), 0);
    const char *const clusters[] = {"dc1", "dc2"};
    s.cluster_names = clusters;
    s.n_cluster_names = 2;
    sweep_plan plan = {0};
    ck_assert_int_eq(sweep_plan_cluster(&s, "dc1", CM, "ConfigMap", cl, time(NULL), 0, &plan), 0);
    ck_assert_msg(plan.n == 1 && plan.items[0].reason == SWEEP_NOT_PLACED &&
                      strcmp(plan.items[0].name, "moved") == 0,
                  "the copy moved to dc2 and dc3 alone is swept from dc1 (n=%zu)", plan.n);
    sweep_plan_free(&plan);
    sweep_sources_free(&s);
    json_decref(hub_list);
    json_decref(cl);
}
END_TEST

/* A placement that is a typo is held by kr-syncer, and so its copies are
 * no zombies while their hub object exists: a malformed name ("dc2;dc1",
 * a non-breaking space) or only names no configured cluster has ("DC2").
 * A copy moved to another configured cluster still is one. */
START_TEST(copies_held_by_a_placement_typo_are_not_swept)
{
    static const char *const placements[][2] = {{"semi", "dc2;dc1"},
                                                {"nbsp", "dc1\xc2\xa0"
                                                         "dc2"},
                                                {"upper", "DC2, DC1"},
                                                {"moved", "dc2"}};
    json_t *hub_list = json_pack("{s:[]}", "items");
    json_t *cl = json_pack("{s:[]}", "items");
    for (size_t i = 0; i < 4; i++) {
        char src[32], uid[32];
        snprintf(src, sizeof(src), "src-%zu", i);
        snprintf(uid, sizeof(uid), "u-%zu", i);
        json_array_append_new(
            json_object_get(hub_list, "items"),
            mem_obj(placements[i][0], src, NULL, NULL, "2020-01-01T00:00:00Z", placements[i][1]));
        json_array_append_new(
            json_object_get(cl, "items"),
            mem_obj(placements[i][0], uid, KR_MANAGER_SYNCER, src, "2020-01-01T00:00:00Z", NULL));
    }
    sweep_sources s;
    kr_gvr g = CM;
    ck_assert_int_eq(sweep_sources_init(&s, "hub", &g, &hub_list, 1, NULL), 0);
    const char *const clusters[] = {"dc1", "dc2"};
    s.cluster_names = clusters;
    s.n_cluster_names = 2;
    sweep_plan plan = {0};
    ck_assert_int_eq(sweep_plan_cluster(&s, "dc1", CM, "ConfigMap", cl, time(NULL), 0, &plan), 0);
    for (size_t i = 0; i < plan.n; i++)
        ck_assert_msg(strcmp(plan.items[i].name, "moved") == 0, "%s is swept", plan.items[i].name);
    ck_assert_msg(plan.n == 1 && plan.items[0].reason == SWEEP_NOT_PLACED,
                  "the copy moved to dc2 is not swept from dc1 (n=%zu)", plan.n);
    sweep_plan_free(&plan);
    sweep_sources_free(&s);
    json_decref(hub_list);
    json_decref(cl);
}
END_TEST

/* The guard's floor: 10 zombies of 10 copies are no mass delete, 11 of 11
 * are refused (SWEEP_RATIO_MIN_DELETES). */
START_TEST(the_guard_holds_from_eleven_zombies)
{
    json_t *hub_list = json_pack("{s:[]}", "items");
    sweep_sources s;
    kr_gvr g = CM;
    ck_assert_int_eq(sweep_sources_init(&s, "hub", &g, &hub_list, 1, NULL), 0);
    for (int n = 10; n <= 11; n++) {
        json_t *cl = json_pack("{s:[]}", "items");
        char name[32], uid[32];
        for (int i = 0; i < n; i++) {
            snprintf(name, sizeof(name), "cm-%02d", i);
            snprintf(uid, sizeof(uid), "u-%02d", i);
            json_array_append_new(
                json_object_get(cl, "items"),
                mem_obj(name, uid, KR_MANAGER_SYNCER, "src-gone", "2020-01-01T00:00:00Z", NULL));
        }
        sweep_plan plan = {0};
        ck_assert_int_eq(sweep_plan_cluster(&s, "dc1", CM, "ConfigMap", cl, time(NULL), 0, &plan),
                         0);
        ck_assert_int_eq(sweep_plan_guard(&plan, "dc1", 0, 0.5), n > SWEEP_RATIO_MIN_DELETES);
        ck_assert_int_eq(sweep_plan_guard_hub(&plan, 0.5), n > SWEEP_RATIO_MIN_DELETES);
        sweep_plan_free(&plan);
        json_decref(cl);
    }
    sweep_sources_free(&s);
    json_decref(hub_list);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sweeper");
    TCase *tc = tcase_create("sweep");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, times_parse_as_rfc3339);
    tcase_add_test(tc, the_plan_table_fits_its_longest_values);
    tcase_add_test(tc, one_sweep_removes_exactly_the_zombies);
    tcase_add_test(tc, an_earlier_attempt_kr_submitter_looks_after_is_not_swept);
    tcase_add_test(tc, a_resource_of_one_namespace_is_swept_there_alone);
    tcase_add_test(tc, a_placement_kr_syncer_reads_as_here_is_not_swept_here);
    tcase_add_test(tc, only_judgeable_copies_of_this_hub_are_ever_swept);
    tcase_add_test(tc, misnamed_clusters_judge_no_copy_placed_by_name);
    tcase_add_test(tc, a_cluster_that_cannot_be_listed_is_skipped_and_untouched);
    tcase_add_test(tc, the_cap_stops_the_run_and_reports_the_rest);
    tcase_add_test(tc, a_plan_that_would_empty_a_cluster_is_refused);
    tcase_add_test(tc, the_dry_run_shows_what_the_cap_will_skip);
    tcase_add_test(tc, a_sweep_stops_deleting_when_it_stops_leading);
    tcase_add_test(tc, a_leader_paused_past_its_lease_deletes_no_more);
    tcase_add_test(tc, a_stop_during_an_inventory_stall_releases_the_lease_first);
    tcase_add_test(tc, a_dry_run_leaves_the_spool_to_the_next_run);
    tcase_add_test(tc, a_stop_during_a_stalled_inventory_read_releases_the_lease);
    tcase_add_test(tc, a_stop_during_a_stalled_inventory_read_exits_while_it_stalls);
    tcase_add_test(tc, once_exits_1_when_the_inventory_check_fails);
    tcase_add_test(tc, the_plan_says_the_inventory_check_failed);
    tcase_add_test(tc, a_record_the_database_does_not_take_holds_the_sweep_no_longer);
    tcase_add_test(tc, the_last_sweep_time_is_set_when_the_sweep_ends);
    tcase_add_test(tc, each_delete_is_recorded_as_it_is_made);
    tcase_add_test(tc, a_stop_ends_the_wait_between_deletes);
    tcase_add_test(tc, a_custom_resource_is_named_by_its_kind);
    tcase_add_test(tc, an_object_changed_after_the_plan_is_skipped_by_its_precondition);
    tcase_add_test(tc, a_delete_whose_answer_was_lost_is_looked_at_again);
    tcase_add_test(tc, a_delete_in_flight_is_resolved_when_it_lands);
    tcase_add_test(tc, deletes_answered_gone_count_against_the_cap);
    tcase_add_test(tc, the_program_plans_then_sweeps_once_and_refuses_bad_flags);
    tcase_add_test(tc, every_flag_of_the_help_says_its_default);
    tcase_add_test(tc, inventory_rows_missing_from_their_cluster_are_marked_swept);
    tcase_add_test(tc, marks_stop_at_the_first_that_finds_the_inventory_away);
    tcase_add_test(tc, an_emptied_cluster_leaves_its_inventory_rows_alone);
    tcase_add_test(tc, young_zombies_count_against_the_ratio);
    tcase_add_test(tc, unjudged_copies_do_not_count_against_the_ratio);
    tcase_add_test(tc, one_resource_emptied_is_not_diluted_by_the_others);
    tcase_add_test(tc, many_small_clusters_of_an_empty_hub_are_refused_together);
    tcase_add_test(tc, a_refused_sweep_leaves_the_inventory_alone);
    tcase_add_test(tc, a_subset_of_the_clusters_sweeps_a_moved_copy);
    tcase_add_test(tc, copies_held_by_a_placement_typo_are_not_swept);
    tcase_add_test(tc, the_guard_holds_from_eleven_zombies);
    suite_add_tcase(s, tc);
    TCase *clusters = tcase_create("clusters");
    tcase_set_timeout(clusters, 120);
    tcase_add_test(clusters, the_program_refuses_one_apiserver_under_two_names);
    suite_add_tcase(s, clusters);
    return kr_test_run_suite(s);
}
