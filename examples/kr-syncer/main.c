/* kr-syncer — keeps a copy of every deployable of a hub namespace in each
 * workload cluster its placement names (README, "kr-syncer"). The program:
 * parse the flags, build the manager, one controller per resource with a
 * queue lane per workload cluster, run until a signal. The decisions live
 * beside this file (placement.c, apply.c, status.c, finalize.c, ...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile.h"
#include "syncer.h"

#define MAX_RESOURCES 32

static const char *const default_resources[] = {"v1/configmaps", "v1/secrets"};

static int informer(kr_client_t *client, kr_gvr gvr, const char *ns, const char *selector,
                    kr_informer_t **out, kr_error_t *err, void *user)
{
    return kr_manager_informer(user, client, gvr, ns, selector, out, err);
}

/* How long a stopping program waits for the database to take what its
 * outbox holds. */
#define OUTBOX_FLUSH_MS 5000

/* The outbox the records go through (none without an inventory), its
 * waiting records kept in `spool` (may be NULL) across a crash. */
static int open_outbox(kr_inventory_t *inv, const char *spool, kr_manager_t *m,
                       kr_inventory_outbox_t **out, kr_error_t *err)
{
    if (!inv)
        return 0;
    kr_inventory_outbox_opts oo = {.version = KR_INVENTORY_OUTBOX_OPTS_VERSION,
                                   .logger = *kr_manager_logger(m),
                                   .spool_path = spool};
    return kr_inventory_outbox_new(inv, &oo, out, err);
}

/* The inventory of --inventory, or none. It opens before the manager, so
 * a SIGTERM while a restarting database is waited for ends us at once. */
static int open_inventory(const char *url, uint64_t wait_ms, const kr_logger *logger,
                          kr_inventory_t **out, kr_error_t *err)
{
    if (!url)
        return 0;
    kr_inventory_opts io = KR_INVENTORY_OPTS_INIT;
    io.url = url;
    io.logger = *logger;
    io.connect_wait_ms = wait_ms;
    return kr_inventory_new(&io, out, err);
}

/* The Lease's term while this replica leads (0 without leader election),
 * and the resourceVersion of the write that began it. */
static int leader_term(uint64_t *out, char *rv, size_t rv_len, void *user)
{
    kr_leader_t *le = kr_manager_leader(user);
    kr_leader_term term;
    *out = 0;
    rv[0] = '\0';
    if (!le)
        return 0;
    int rc = kr_leader_term_resource_version(le, &term, rv, rv_len);
    *out = term.transitions;
    return rc;
}

/* Each --resource as the hub's discovery has it: a typo (v1/configmap)
 * or a cluster-scoped resource (v1/nodes) would otherwise leave its
 * caches unsynced until the start gives up, naming no cause. KR_EINVAL
 * (a usage error) names the argument. A hub that cannot be asked now is
 * not judged: its caches wait for it, as they always did. */
static int check_resources(kr_manager_t *m, const kr_gvr *gvrs, const char *const *texts, size_t n,
                           kr_error_t *err)
{
    kr_client_t *hub = kr_manager_hub(m);
    kr_error_t derr = {0};
    if (kr_client_discovery_refresh(hub, &derr) != 0) {
        kr_log(kr_manager_logger(m), KR_LOG_WARN, KR_MANAGER_SYNCER,
               "the hub's discovery could not be read, so --resource is not checked: %s",
               derr.message);
        return 0;
    }
    for (size_t r = 0; r < n; r++) {
        const kr_gvr g = gvrs[r];
        char name[400];
        if (g.group[0])
            snprintf(name, sizeof(name), "%s.%s.%s", g.resource, g.version, g.group);
        else
            snprintf(name, sizeof(name), "%s", g.resource);
        kr_resource_info info;
        kr_error_t rerr = {0};
        int rc = kr_client_resolve(hub, name, &info, &rerr);
        if (rc != 0 && rc != KR_ENOTFOUND) {
            kr_log(kr_manager_logger(m), KR_LOG_WARN, KR_MANAGER_SYNCER,
                   "the hub's discovery could not be read, so --resource is not checked: %s",
                   rerr.message);
            return 0;
        }
        if (rc != 0 || strcmp(info.group, g.group) != 0 || strcmp(info.version, g.version) != 0 ||
            strcmp(info.resource, g.resource) != 0) {
            char hint[400] = "";
            if (rc == 0)
                snprintf(hint, sizeof(hint), " (did you mean %s%s%s/%s?)", info.group,
                         info.group[0] ? "/" : "", info.version, info.resource);
            return kr_error_set(err, KR_EINVAL,
                                "--resource %s: the hub serves no such resource%s (want "
                                "GROUP/VERSION/RESOURCE, the resource's plural)",
                                texts[r], hint);
        }
        if (!info.namespaced)
            return kr_error_set(err, KR_EINVAL,
                                "--resource %s: %s is cluster-scoped; kr-syncer copies the "
                                "namespaced objects of one namespace",
                                texts[r], info.kind);
    }
    return 0;
}

/* One controller per resource, a queue lane per workload cluster. */
static int add_controllers(kr_manager_t *m, syncer_t *s, long workers, kr_error_t *err)
{
    for (size_t r = 0; r < s->n_resources; r++) {
        char name[160];
        kr_controller_opts co;
        syncer_controller_opts(s, r, workers > 0 ? (unsigned)workers : 0, name, sizeof(name), &co);
        kr_controller_t *ctl = NULL;
        int rc = kr_manager_add_controller(m, &co, &ctl, err);
        if (rc == 0)
            rc = syncer_watch(s, r, ctl, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *namespace_ = NULL;
    kr_flag_strings resource_args = {0};
    uint64_t resync_ms = 10 * 60 * 1000;
    long workers = 0;
    const char *inventory_url = NULL, *inventory_spool = NULL;
    uint64_t inventory_wait_ms = KR_PLATFORM_INVENTORY_WAIT_MS;
    const kr_flag flags[] = {
        {.name = "namespace",
         .shorthand = 'n',
         .type = KR_FLAG_STRING,
         .value = &namespace_,
         .metavar = "NS",
         .help = "the hub namespace of the deployables; copies go to the same namespace "
                 "(default: the hub context's)"},
        {.name = "resource",
         .type = KR_FLAG_STRINGS,
         .value = &resource_args,
         .metavar = "GROUP/VERSION/RESOURCE",
         .split_commas = true,
         .help = "a resource to sync, repeatable (default: v1/configmaps and v1/secrets)"},
        {.name = "resync",
         .type = KR_FLAG_DURATION,
         .value = &resync_ms,
         .help = "every object is looked at again this often, from the caches (0: never)"},
        {.name = "workers",
         .type = KR_FLAG_INT,
         .value = &workers,
         .metavar = "N",
         .help = "reconciles at once per resource, 1 to 1000 (0, the default: twice the "
                 "number of clusters)"},
        {.name = "inventory",
         .type = KR_FLAG_STRING,
         .value = &inventory_url,
         .metavar = "URL",
         .help = "record every create, patch, verification and delete in this inventory "
                 "(sqlite:///path.db, postgresql://...)"},
        {.name = "inventory-wait",
         .type = KR_FLAG_DURATION,
         .value = &inventory_wait_ms,
         .metavar = "DURATION",
         .help = "how long to wait at start for a PostgreSQL inventory that is not up yet "
                 "(0: exit at once)"},
        {.name = "inventory-spool",
         .type = KR_FLAG_STRING,
         .value = &inventory_spool,
         .metavar = "FILE",
         .help = "keep the records that wait for the inventory in this file, so that a "
                 "crash loses none: the next start records them (one file per replica)"},
    };
    const kr_manager_program program = {
        .name = "kr-syncer",
        .version = KR_VERSION_STRING, /* released with the library */
        .summary = "keep the deployables of a hub namespace in every workload cluster placed",
        .usage = "--cluster NAME=KUBECONFIG... [flags]",
        .description = "Placement: the annotation kreconcile.io/clusters (absent: every cluster; "
                       "a malformed one, or one naming only unknown clusters, is held: no copy "
                       "deleted). "
                       "Opt out: kreconcile.io/ignore: \"true\". Status: the annotation "
                       "kreconcile.io/sync-status on each hub object.",
        .flags = flags,
        .n_flags = sizeof(flags) / sizeof(flags[0]),
        .no_args = true,
        /* The workers are shared by every cluster's lane: a cluster that
         * hangs instead of refusing would hold them all. Its requests fail
         * after this long, and its keys then wait for a probe, holding
         * nobody else (--request-timeout changes it). */
        .default_request_timeout_ms = 10000,
    };
    kr_error_t err = {0};
    kr_manager_config cfg;
    int rc = kr_manager_parse_args(&program, argc, argv, &cfg, &err);
    if (rc == 0 && cfg.n_clusters == 0)
        rc = kr_error_set(&err, KR_EINVAL, "at least one --cluster NAME=KUBECONFIG is needed");
    if (rc == 0 && (workers < 0 || workers > 1000))
        rc = kr_error_set(&err, KR_EINVAL, "--workers: want 1 to 1000 (0: twice the clusters)");
    if (rc == 0 && namespace_ && !kr_name_is_dns1123_label(namespace_))
        rc = kr_error_set(&err, KR_EINVAL,
                          "--namespace: \"%s\" is not a namespace (lower case alphanumerics "
                          "and '-', at most 63)",
                          namespace_);
    if (rc == 0 && inventory_spool && !inventory_url)
        rc = kr_error_set(&err, KR_EINVAL, "--inventory-spool needs --inventory");
    if (rc == 0 && resource_args.n > MAX_RESOURCES)
        rc = kr_error_set(&err, KR_EINVAL, "at most %d --resource", MAX_RESOURCES);
    const char *const *resource_texts = resource_args.n ? resource_args.items : default_resources;
    size_t n_resources = resource_args.n ? resource_args.n : 2;
    kr_gvr gvrs[MAX_RESOURCES];
    char gvr_text[MAX_RESOURCES][256];
    for (size_t r = 0; rc == 0 && r < n_resources; r++) {
        rc = syncer_parse_resource(resource_texts[r], gvr_text[r], sizeof(gvr_text[r]), &gvrs[r],
                                   &err);
        /* twice (in any versions: the same objects) would be two
         * controllers of one name, each writing */
        for (size_t q = 0; rc == 0 && q < r; q++)
            if (strcmp(gvrs[q].group, gvrs[r].group) == 0 &&
                strcmp(gvrs[q].resource, gvrs[r].resource) == 0)
                rc = kr_error_set(&err, KR_EINVAL, "--resource %s is given twice (as %s)",
                                  resource_texts[r], resource_texts[q]);
    }
    if (rc != 0) {
        int code = kr_manager_args_exit(&program, rc, &err, stdout, stderr);
        kr_flag_strings_free(&resource_args);
        kr_manager_config_free(&cfg);
        return code;
    }

    kr_manager_opts mo = KR_MANAGER_OPTS_INIT;
    mo.program = &program;
    mo.config = &cfg;
    /* Every reconcile reads the hub object and its copies from the caches,
     * several times per key while a change is in flight: trees are read
     * without a parse (the compact default parses on read; bench_syncer:
     * 1.8-2.4 s against 2.4-3.3 s for 3,000 objects). */
    mo.informers.store.representation = KR_STORE_TREES;
    /* The workers are shared by every cluster's lane: a cluster that hangs
     * instead of refusing would hold them all. Its requests fail after
     * this long, and its keys then wait for a probe, holding nobody else
     * (--request-timeout changes it). */
    mo.request_timeout_ms = program.default_request_timeout_ms;
    /* A --cluster that is the hub would hold the copies in the very
     * namespace of the hub objects (two --cluster of one apiserver the
     * manager refuses in any program). */
    mo.clusters_not_hub = true;
    kr_log_sink_t *sink = NULL;
    kr_manager_t *m = NULL;
    kr_inventory_t *inventory = NULL;
    kr_inventory_outbox_t *outbox = NULL;
    syncer_t *s = NULL;
    const char **names = NULL;
    kr_client_t **clients = NULL;
    int code = 2;
    bool bad_resource = false;
    if (kr_manager_config_log_sink(&cfg, stderr, &sink, &mo.logger, &err) == 0 &&
        open_inventory(inventory_url, inventory_wait_ms, &mo.logger, &inventory, &err) == 0 &&
        kr_manager_new(&mo, &m, &err) == 0 &&
        open_outbox(inventory, inventory_spool, m, &outbox, &err) == 0) {
        size_t n = kr_manager_cluster_count(m);
        names = calloc(n, sizeof(const char *));
        clients = calloc(n, sizeof(kr_client_t *));
        for (size_t i = 0; names && clients && i < n; i++) {
            names[i] = kr_manager_cluster_name(m, i);
            clients[i] = kr_manager_cluster_client(m, i);
        }
        syncer_config sc = {
            .hub_name = kr_manager_hub_name(m),
            .hub = kr_manager_hub(m),
            .namespace_ = namespace_ ? namespace_ : kr_manager_hub_namespace(m),
            .resources = gvrs,
            .n_resources = n_resources,
            .cluster_names = names,
            .cluster_clients = clients,
            .n_clusters = n,
            .resync_ms = resync_ms,
            .informer = informer,
            .informer_user = m,
            .inventory = inventory,
            .outbox = outbox,
            .events = kr_manager_events(m),
            .metrics = kr_manager_metrics(m),
            .term = leader_term,
            .term_user = m,
            .logger = *kr_manager_logger(m),
        };
        if (!names || !clients)
            kr_error_set(&err, KR_ENOMEM, "out of memory");
        else if (check_resources(m, gvrs, resource_texts, n_resources, &err) != 0)
            bad_resource = true;
        else if (syncer_new(&sc, &s, &err) == 0 && add_controllers(m, s, workers, &err) == 0)
            code = kr_manager_run(m);
    }
    if (bad_resource) /* a usage error, told as the parser tells them */
        kr_manager_args_exit(&program, KR_EINVAL, &err, stdout, stderr);
    else if (code == 2)
        fprintf(stderr, "kr-syncer: %s\n", err.message);
    /* Every lane has stopped: what waits for the books gets a last
     * chance (told in the log if the database stays away); a write the
     * database still has not answered then is cut short, so that a
     * stalled database does not hold the exit (it stays in the spool). */
    if (outbox && kr_inventory_outbox_finish(outbox, OUTBOX_FLUSH_MS) != 0)
        kr_log(kr_manager_logger(m), KR_LOG_ERROR, KR_MANAGER_SYNCER,
               "records not in the inventory: %zu still waiting, %zu refused",
               kr_inventory_outbox_pending(outbox), kr_inventory_outbox_dropped(outbox));
    /* the syncer's collector reads the manager's informers, and its
     * registry is the manager's: it goes first */
    if (s)
        syncer_metrics_fini(s);
    kr_manager_free(m);
    syncer_free(s);
    kr_inventory_outbox_free(outbox);
    kr_inventory_free(inventory);
    kr_log_sink_free(sink); /* after all that logs through it */
    free(names);
    free(clients);
    kr_flag_strings_free(&resource_args);
    kr_manager_config_free(&cfg);
    return code;
}
