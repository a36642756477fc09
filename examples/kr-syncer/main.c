/* kr-syncer — keeps a copy of every deployable of a hub namespace in each
 * workload cluster its placement names (README, "kr-syncer"). The program:
 * parse the flags, build the manager, one controller per resource with a
 * queue lane per workload cluster, run until a signal. The decisions live
 * beside this file (placement.c, apply.c, status.c, finalize.c, ...). */
#include <stdio.h>
#include <stdlib.h>

#include "kreconcile.h"
#include "syncer.h"

#define MAX_RESOURCES 32

static const char *const default_resources[] = {"v1/configmaps", "v1/secrets"};

/* A controller's reconcile: the syncer, for one resource. */
typedef struct binding {
    syncer_t *syncer;
    size_t resource;
} binding;

static kr_reconcile_result reconcile(kr_controller_t *ctl, const kr_reconcile_request *req,
                                     uint64_t *requeue_after_ms, kr_error_t *err, void *user)
{
    (void)ctl;
    binding *b = user;
    return syncer_reconcile(b->syncer, b->resource, req, requeue_after_ms, err);
}

/* A hub event: the object's key on every workload cluster's lane. */
static void map_hub(kr_controller_t *ctl, const char *cluster, const json_t *obj, void *user)
{
    (void)cluster;
    const syncer_t *s = user;
    const json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    for (size_t i = 0; name && i < s->n_clusters; i++)
        kr_controller_enqueue(ctl, s->clusters[i].name, ns, name);
}

static int informer(kr_client_t *client, kr_gvr gvr, const char *ns, const char *selector,
                    kr_informer_t **out, kr_error_t *err, void *user)
{
    return kr_manager_informer(user, client, gvr, ns, selector, out, err);
}

static int add_controllers(kr_manager_t *m, syncer_t *s, binding *bindings, long workers,
                           kr_error_t *err)
{
    for (size_t r = 0; r < s->n_resources; r++) {
        char name[160];
        snprintf(name, sizeof(name), "kr-syncer-%s%s%s", s->resources[r].resource,
                 s->resources[r].group[0] ? "." : "", s->resources[r].group);
        bindings[r] = (binding){s, r};
        kr_controller_opts co = KR_CONTROLLER_OPTS_INIT;
        co.name = name;
        co.reconcile = reconcile;
        co.user = &bindings[r];
        co.workers = workers > 0 ? (unsigned)workers : (unsigned)(2 * s->n_clusters);
        kr_controller_t *ctl = NULL;
        int rc = kr_manager_add_controller(m, &co, &ctl, err);
        kr_controller_source hub = KR_CONTROLLER_SOURCE_INIT;
        hub.informer = s->resources[r].hub;
        hub.cluster = s->hub_name;
        hub.map = KR_CONTROLLER_MAP_FUNC;
        hub.map_cb = map_hub;
        hub.map_user = s;
        if (rc == 0)
            rc = kr_controller_watch(ctl, &hub, err);
        for (size_t i = 0; rc == 0 && i < s->n_clusters; i++) {
            kr_controller_source copies = KR_CONTROLLER_SOURCE_INIT;
            copies.informer = s->clusters[i].copies[r];
            copies.cluster = s->clusters[i].name;
            copies.map = KR_CONTROLLER_MAP_SELF; /* a copy's key is its hub object's */
            rc = kr_controller_watch(ctl, &copies, err);
        }
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
         .help = "reconciles at once per resource (default: twice the number of clusters)"},
    };
    const kr_manager_program program = {
        .name = "kr-syncer",
        .summary = "keep the deployables of a hub namespace in every workload cluster placed",
        .usage = "--cluster NAME=KUBECONFIG... [flags]",
        .description = "Placement: the annotation kreconcile.io/clusters (absent: every cluster). "
                       "Opt out: kreconcile.io/ignore: \"true\". Status: the annotation "
                       "kreconcile.io/sync-status on each hub object.",
        .flags = flags,
        .n_flags = sizeof(flags) / sizeof(flags[0]),
    };
    kr_error_t err = {0};
    kr_manager_config cfg;
    int rc = kr_manager_parse_args(&program, argc, argv, &cfg, &err);
    if (rc == 0 && cfg.n_clusters == 0)
        rc = kr_error_set(&err, KR_EINVAL, "at least one --cluster NAME=KUBECONFIG is needed");
    if (rc == 0 && resource_args.n > MAX_RESOURCES)
        rc = kr_error_set(&err, KR_EINVAL, "at most %d --resource", MAX_RESOURCES);
    const char *const *resource_texts = resource_args.n ? resource_args.items : default_resources;
    size_t n_resources = resource_args.n ? resource_args.n : 2;
    kr_gvr gvrs[MAX_RESOURCES];
    char gvr_text[MAX_RESOURCES][256];
    for (size_t r = 0; rc == 0 && r < n_resources; r++)
        rc = syncer_parse_resource(resource_texts[r], gvr_text[r], sizeof(gvr_text[r]), &gvrs[r],
                                   &err);
    if (rc != 0) {
        int code = kr_manager_args_exit(&program, rc, &err, stdout, stderr);
        kr_flag_strings_free(&resource_args);
        kr_manager_config_free(&cfg);
        return code;
    }

    kr_manager_opts mo = KR_MANAGER_OPTS_INIT;
    mo.program = &program;
    mo.config = &cfg;
    kr_manager_t *m = NULL;
    syncer_t *s = NULL;
    binding bindings[MAX_RESOURCES];
    const char **names = NULL;
    kr_client_t **clients = NULL;
    int code = 2;
    if (kr_manager_new(&mo, &m, &err) == 0) {
        size_t n = kr_manager_cluster_count(m);
        names = calloc(n, sizeof(*names));
        clients = calloc(n, sizeof(*clients));
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
            .logger = *kr_manager_logger(m),
        };
        if (!names || !clients)
            kr_error_set(&err, KR_ENOMEM, "out of memory");
        else if (syncer_new(&sc, &s, &err) == 0 &&
                 add_controllers(m, s, bindings, workers, &err) == 0)
            code = kr_manager_run(m);
    }
    if (code == 2)
        fprintf(stderr, "kr-syncer: %s\n", err.message);
    kr_manager_free(m);
    syncer_free(s);
    free(names);
    free(clients);
    kr_flag_strings_free(&resource_args);
    kr_manager_config_free(&cfg);
    return code;
}
