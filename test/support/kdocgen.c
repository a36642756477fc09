/* libkreconcile tests — random Kubernetes-shaped documents, edits and
 * patches (see kdocgen.h). Everything derives from the caller's
 * kr_test_rng, so a printed seed replays a failure exactly. */
#include <stdio.h>
#include <string.h>

#include "kdocgen.h"

static const char *const container_names[] = {"app",   "sidecar", "proxy", "log-shipper",
                                              "cache", "db",      "web",   "worker"};
static const char *const images[] = {"nginx:1.25",  "nginx:1.27",  "busybox:1.36", "redis:7",
                                     "envoy:v1.30", "postgres:16", "example/app:2"};
static const char *const env_names[] = {"LOG_LEVEL", "PORT", "MODE", "REGION",   "DEBUG",
                                        "TZ",        "HOME", "USER", "FEATURES", "WORKERS"};
static const char *const label_keys[] = {"app",     "tier", "env",   "team",
                                         "version", "zone", "track", "app.kubernetes.io/name"};
static const char *const label_values[] = {"web",   "db", "prod", "staging", "blue",
                                           "green", "v1", "v2",   "a",       "b"};
static const char *const finalizer_names[] = {"example.com/cleanup", "kubernetes.io/pvc-protection",
                                              "foregroundDeletion", "example.com/backup",
                                              "example.com/dns"};
static const char *const volume_names[] = {"data", "config", "cache", "secrets", "tmp", "logs"};
static const char *const mount_paths[] = {"/data", "/etc/config", "/cache", "/var/run/secrets",
                                          "/tmp",  "/var/log"};
static const int port_numbers[] = {80, 443, 8080, 8443, 9090, 5432, 6379, 53};
static const char *const toleration_keys[] = {"node.kubernetes.io/not-ready", "dedicated", "gpu",
                                              "spot"};

#define POOL_LEN(a) (sizeof(a) / sizeof((a)[0]))

static unsigned long below(kr_test_rng *rng, unsigned long n)
{
    return n ? kr_test_rng_below(rng, n) : 0;
}

static int chance(kr_test_rng *rng, unsigned percent)
{
    return below(rng, 100) < percent;
}

static const char *pick(kr_test_rng *rng, const char *const *pool, size_t n)
{
    return pool[below(rng, n)];
}

#define PICK(rng, pool) pick(rng, pool, POOL_LEN(pool))

/* `count` distinct indices of a pool of `n`, in random order. */
static size_t distinct(kr_test_rng *rng, size_t n, size_t count, size_t *out)
{
    size_t idx[32];
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = below(rng, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
    if (count > n)
        count = n;
    memcpy(out, idx, count * sizeof(*out));
    return count;
}

static void shuffle_array(kr_test_rng *rng, json_t *arr)
{
    size_t n = json_array_size(arr);
    for (size_t i = n; i > 1; i--) {
        size_t j = below(rng, i);
        json_t *a = json_incref(json_array_get(arr, i - 1));
        json_t *b = json_incref(json_array_get(arr, j));
        json_array_set_new(arr, i - 1, b);
        json_array_set_new(arr, j, a);
    }
}

static json_t *gen_env(kr_test_rng *rng)
{
    json_t *env = json_array();
    size_t idx[16];
    size_t n = distinct(rng, POOL_LEN(env_names), 1 + below(rng, 4), idx);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_pack("{s:s}", "name", env_names[idx[i]]);
        if (chance(rng, 80))
            json_object_set_new(e, "value", json_string(PICK(rng, label_values)));
        else
            json_object_set_new(e, "valueFrom",
                                json_pack("{s:{s:s,s:s}}", "configMapKeyRef", "name", "settings",
                                          "key", env_names[idx[i]]));
        json_array_append_new(env, e);
    }
    return env;
}

static json_t *gen_ports(kr_test_rng *rng)
{
    json_t *ports = json_array();
    size_t idx[16];
    size_t n = distinct(rng, POOL_LEN(port_numbers), 1 + below(rng, 3), idx);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_pack("{s:i}", "containerPort", port_numbers[idx[i]]);
        if (chance(rng, 60))
            json_object_set_new(p, "protocol", json_string(chance(rng, 80) ? "TCP" : "UDP"));
        if (chance(rng, 40)) {
            char name[16];
            snprintf(name, sizeof(name), "p%d", port_numbers[idx[i]]);
            json_object_set_new(p, "name", json_string(name));
        }
        json_array_append_new(ports, p);
    }
    return ports;
}

static json_t *gen_mounts(kr_test_rng *rng)
{
    json_t *mounts = json_array();
    size_t idx[16];
    size_t n = distinct(rng, POOL_LEN(mount_paths), 1 + below(rng, 3), idx);
    for (size_t i = 0; i < n; i++) {
        json_t *m =
            json_pack("{s:s,s:s}", "name", volume_names[idx[i]], "mountPath", mount_paths[idx[i]]);
        if (chance(rng, 30))
            json_object_set_new(m, "readOnly", json_boolean(chance(rng, 50)));
        json_array_append_new(mounts, m);
    }
    return mounts;
}

static json_t *gen_args(kr_test_rng *rng)
{
    json_t *args = json_array();
    size_t n = 1 + below(rng, 3);
    for (size_t i = 0; i < n; i++) {
        char a[32];
        snprintf(a, sizeof(a), "--flag%lu=%lu", below(rng, 5), below(rng, 100));
        json_array_append_new(args, json_string(a));
    }
    return args;
}

static json_t *gen_resources(kr_test_rng *rng)
{
    static const char *const cpu[] = {"100m", "250m", "500m", "1", "2"};
    static const char *const mem[] = {"64Mi", "128Mi", "256Mi", "1Gi"};
    /* at or above every request, whatever a patch mixes: the apiserver
     * refuses a request above its limit */
    static const char *const mem_limit[] = {"1Gi", "2Gi", "4Gi"};
    json_t *r = json_object();
    if (chance(rng, 70))
        json_object_set_new(
            r, "requests", json_pack("{s:s,s:s}", "cpu", PICK(rng, cpu), "memory", PICK(rng, mem)));
    if (chance(rng, 50))
        json_object_set_new(r, "limits", json_pack("{s:s}", "memory", PICK(rng, mem_limit)));
    return r;
}

static json_t *gen_container(kr_test_rng *rng, const char *name)
{
    json_t *c = json_pack("{s:s,s:s}", "name", name, "image", PICK(rng, images));
    if (chance(rng, 30))
        json_object_set_new(c, "args", gen_args(rng));
    if (chance(rng, 20))
        json_object_set_new(c, "command", json_pack("[s,s]", "/bin/sh", "-c"));
    if (chance(rng, 60))
        json_object_set_new(c, "env", gen_env(rng));
    if (chance(rng, 50))
        json_object_set_new(c, "ports", gen_ports(rng));
    if (chance(rng, 40))
        json_object_set_new(c, "volumeMounts", gen_mounts(rng));
    if (chance(rng, 40))
        json_object_set_new(c, "resources", gen_resources(rng));
    if (chance(rng, 30))
        json_object_set_new(c, "imagePullPolicy",
                            json_string(chance(rng, 50) ? "Always" : "IfNotPresent"));
    return c;
}

static json_t *gen_volume(kr_test_rng *rng, const char *name)
{
    json_t *v = json_pack("{s:s}", "name", name);
    switch (below(rng, 4)) {
    case 0:
        json_object_set_new(v, "emptyDir", json_object());
        break;
    case 1:
        json_object_set_new(v, "configMap", json_pack("{s:s}", "name", "settings"));
        break;
    case 2:
        json_object_set_new(v, "secret", json_pack("{s:s}", "secretName", "creds"));
        break;
    default:
        json_object_set_new(v, "hostPath", json_pack("{s:s}", "path", "/var/lib/data"));
        break;
    }
    return v;
}

static json_t *gen_tolerations(kr_test_rng *rng)
{
    json_t *t = json_array();
    size_t n = 1 + below(rng, 3);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_pack("{s:s,s:s}", "key", PICK(rng, toleration_keys), "operator",
                              chance(rng, 50) ? "Exists" : "Equal");
        if (chance(rng, 50))
            json_object_set_new(e, "effect", json_string("NoSchedule"));
        json_array_append_new(t, e);
    }
    return t;
}

static json_t *gen_string_map(kr_test_rng *rng, size_t max)
{
    json_t *m = json_object();
    size_t n = below(rng, max + 1);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(m, PICK(rng, label_keys), json_string(PICK(rng, label_values)));
    return m;
}

static json_t *gen_finalizers(kr_test_rng *rng)
{
    json_t *f = json_array();
    size_t idx[16];
    size_t n = distinct(rng, POOL_LEN(finalizer_names), 1 + below(rng, 3), idx);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(f, json_string(finalizer_names[idx[i]]));
    return f;
}

static json_t *gen_metadata(kr_test_rng *rng, const char *name)
{
    json_t *m = json_pack("{s:s,s:s}", "name", name, "namespace", "default");
    if (chance(rng, 80))
        json_object_set_new(m, "labels", gen_string_map(rng, 4));
    if (chance(rng, 40))
        json_object_set_new(m, "annotations", gen_string_map(rng, 3));
    if (chance(rng, 40))
        json_object_set_new(m, "finalizers", gen_finalizers(rng));
    return m;
}

/* A pod spec; a workload's template (`workload`) restarts Always, as the
 * apiserver requires of a Deployment's. */
static json_t *gen_pod_spec(kr_test_rng *rng, bool workload)
{
    json_t *spec = json_object();
    json_t *containers = json_array();
    size_t idx[16];
    size_t n = distinct(rng, POOL_LEN(container_names), 1 + below(rng, 3), idx);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(containers, gen_container(rng, container_names[idx[i]]));
    json_object_set_new(spec, "containers", containers);
    if (chance(rng, 20)) {
        json_t *init = json_array();
        json_array_append_new(init, gen_container(rng, "init"));
        json_object_set_new(spec, "initContainers", init);
    }
    if (chance(rng, 50)) {
        json_t *vols = json_array();
        n = distinct(rng, POOL_LEN(volume_names), 1 + below(rng, 3), idx);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(vols, gen_volume(rng, volume_names[idx[i]]));
        json_object_set_new(spec, "volumes", vols);
    }
    if (chance(rng, 40))
        json_object_set_new(spec, "tolerations", gen_tolerations(rng));
    if (chance(rng, 30))
        json_object_set_new(spec, "nodeSelector", gen_string_map(rng, 2));
    if (chance(rng, 30))
        json_object_set_new(spec, "imagePullSecrets", json_pack("[{s:s}]", "name", "registry"));
    if (chance(rng, 50))
        json_object_set_new(spec, "restartPolicy",
                            json_string(workload || chance(rng, 50) ? "Always" : "Never"));
    if (chance(rng, 30))
        json_object_set_new(spec, "serviceAccountName", json_string("runner"));
    if (chance(rng, 20))
        json_object_set_new(spec, "terminationGracePeriodSeconds", json_integer(30));
    return spec;
}

json_t *kdocgen_pod(kr_test_rng *rng)
{
    char name[32];
    snprintf(name, sizeof(name), "pod-%lu", below(rng, 1000));
    json_t *pod = json_pack("{s:s,s:s}", "apiVersion", "v1", "kind", "Pod");
    json_object_set_new(pod, "metadata", gen_metadata(rng, name));
    json_object_set_new(pod, "spec", gen_pod_spec(rng, false));
    return pod;
}

json_t *kdocgen_deployment(kr_test_rng *rng)
{
    char name[32];
    snprintf(name, sizeof(name), "deploy-%lu", below(rng, 1000));
    json_t *d = json_pack("{s:s,s:s}", "apiVersion", "apps/v1", "kind", "Deployment");
    json_object_set_new(d, "metadata", gen_metadata(rng, name));
    json_t *spec = json_object();
    json_object_set_new(spec, "replicas", json_integer((json_int_t)below(rng, 5)));
    json_object_set_new(spec, "selector", json_pack("{s:{s:s}}", "matchLabels", "app", name));
    if (chance(rng, 60)) {
        if (chance(rng, 50))
            json_object_set_new(spec, "strategy", json_pack("{s:s}", "type", "Recreate"));
        else
            json_object_set_new(spec, "strategy",
                                json_pack("{s:s,s:{s:s,s:i}}", "type", "RollingUpdate",
                                          "rollingUpdate", "maxSurge", "25%", "maxUnavailable", 1));
    }
    json_t *tmeta = json_pack("{s:{s:s}}", "labels", "app", name);
    json_object_set_new(spec, "template",
                        json_pack("{s:o,s:o}", "metadata", tmeta, "spec", gen_pod_spec(rng, true)));
    json_object_set_new(d, "spec", spec);
    return d;
}

json_t *kdocgen_document(kr_test_rng *rng)
{
    return chance(rng, 50) ? kdocgen_pod(rng) : kdocgen_deployment(rng);
}

/* ---- edits ------------------------------------------------------------------ */

static json_t *pod_spec_of(json_t *doc)
{
    json_t *spec = json_object_get(doc, "spec");
    json_t *tmpl = json_object_get(spec, "template");
    return tmpl ? json_object_get(tmpl, "spec") : spec;
}

/* The first pool entry not used as `key` by any element of `list`. */
static const char *unused_name(kr_test_rng *rng, const json_t *list, const char *key,
                               const char *const *pool, size_t n)
{
    size_t start = below(rng, n);
    for (size_t k = 0; k < n; k++) {
        const char *cand = pool[(start + k) % n];
        int used = 0;
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            const char *s = json_string_value(key ? json_object_get(v, key) : v);
            if (s && strcmp(s, cand) == 0)
                used = 1;
        }
        if (!used)
            return cand;
    }
    return NULL;
}

static void edit_string_map(kr_test_rng *rng, json_t *parent, const char *field)
{
    json_t *m = json_object_get(parent, field);
    if (!m || chance(rng, 10)) {
        if (m && chance(rng, 50))
            json_object_del(parent, field);
        else
            json_object_set_new(parent, field, gen_string_map(rng, 3));
        return;
    }
    size_t n = 1 + below(rng, 2);
    for (size_t i = 0; i < n; i++) {
        const char *k = PICK(rng, label_keys);
        if (json_object_get(m, k) && chance(rng, 50))
            json_object_del(m, k);
        else
            json_object_set_new(m, k, json_string(PICK(rng, label_values)));
    }
}

static void edit_keyed_list(kr_test_rng *rng, json_t *parent, const char *field)
{
    json_t *list = json_object_get(parent, field);
    if (!list)
        return;
    size_t n = json_array_size(list);
    switch (below(rng, 3)) {
    case 0:
        if (n > 0)
            json_array_remove(list, below(rng, n));
        break;
    case 1:
        shuffle_array(rng, list);
        break;
    default:
        if (n > 1) {
            json_t *first = json_incref(json_array_get(list, 0));
            json_array_remove(list, 0);
            json_array_append_new(list, first);
        }
        break;
    }
}

static void edit_container(kr_test_rng *rng, json_t *c)
{
    switch (below(rng, 9)) {
    case 0:
        json_object_set_new(c, "image", json_string(PICK(rng, images)));
        break;
    case 1: {
        json_t *env = json_object_get(c, "env");
        if (!env) {
            json_object_set_new(c, "env", gen_env(rng));
        } else if (chance(rng, 50)) {
            edit_keyed_list(rng, c, "env");
        } else {
            const char *name = unused_name(rng, env, "name", env_names, POOL_LEN(env_names));
            if (name)
                json_array_insert_new(env, below(rng, json_array_size(env) + 1),
                                      json_pack("{s:s,s:s}", "name", name, "value", "new"));
        }
        break;
    }
    case 2: {
        json_t *env = json_object_get(c, "env");
        if (json_array_size(env) > 0)
            json_object_set_new(json_array_get(env, below(rng, json_array_size(env))), "value",
                                json_string(PICK(rng, label_values)));
        else
            json_object_del(c, "env");
        break;
    }
    case 3:
        if (json_object_get(c, "ports") && chance(rng, 70))
            edit_keyed_list(rng, c, "ports");
        else
            json_object_set_new(c, "ports", gen_ports(rng));
        break;
    case 4:
        if (json_object_get(c, "volumeMounts") && chance(rng, 50))
            edit_keyed_list(rng, c, "volumeMounts");
        else
            json_object_set_new(c, "volumeMounts", gen_mounts(rng));
        break;
    case 5:
        if (json_object_get(c, "args"))
            json_object_del(c, "args");
        else
            json_object_set_new(c, "args", gen_args(rng));
        break;
    case 6:
        json_object_set_new(c, "resources", gen_resources(rng));
        break;
    case 7:
        json_object_del(c, "imagePullPolicy");
        json_object_del(c, "command");
        break;
    default:
        json_object_set_new(c, "imagePullPolicy", json_string("Never"));
        break;
    }
}

static void edit_pod_spec(kr_test_rng *rng, json_t *spec)
{
    if (!json_is_object(spec))
        return;
    json_t *containers = json_object_get(spec, "containers");
    if (!json_is_array(containers)) {
        containers = json_array();
        json_object_set_new(spec, "containers", containers);
    }
    switch (below(rng, 10)) {
    case 0: {
        const char *name =
            unused_name(rng, containers, "name", container_names, POOL_LEN(container_names));
        if (name)
            json_array_insert_new(containers, below(rng, json_array_size(containers) + 1),
                                  gen_container(rng, name));
        break;
    }
    case 1:
        if (json_array_size(containers) > 1)
            json_array_remove(containers, below(rng, json_array_size(containers)));
        break;
    case 2:
        shuffle_array(rng, containers);
        break;
    case 3:
    case 4:
        if (json_array_size(containers) > 0)
            edit_container(rng,
                           json_array_get(containers, below(rng, json_array_size(containers))));
        break;
    case 5: {
        json_t *vols = json_object_get(spec, "volumes");
        if (!vols) {
            json_object_set_new(spec, "volumes", json_pack("[o]", gen_volume(rng, "data")));
        } else if (json_array_size(vols) > 0 && chance(rng, 50)) {
            /* Change a volume's source: exercises $retainKeys. */
            size_t i = below(rng, json_array_size(vols));
            const char *name = json_string_value(json_object_get(json_array_get(vols, i), "name"));
            json_array_set_new(vols, i, gen_volume(rng, name ? name : "data"));
        } else {
            const char *name = unused_name(rng, vols, "name", volume_names, POOL_LEN(volume_names));
            if (name && chance(rng, 60))
                json_array_append_new(vols, gen_volume(rng, name));
            else
                edit_keyed_list(rng, spec, "volumes");
        }
        break;
    }
    case 6:
        if (json_object_get(spec, "tolerations") && chance(rng, 40))
            json_object_del(spec, "tolerations");
        else
            json_object_set_new(spec, "tolerations", gen_tolerations(rng));
        break;
    case 7:
        edit_string_map(rng, spec, "nodeSelector");
        break;
    case 8:
        if (json_object_get(spec, "imagePullSecrets"))
            json_object_del(spec, "imagePullSecrets");
        else
            json_object_set_new(spec, "imagePullSecrets",
                                json_pack("[{s:s},{s:s}]", "name", "registry", "name", "mirror"));
        break;
    default:
        if (json_object_get(spec, "serviceAccountName"))
            json_object_del(spec, "serviceAccountName");
        else
            json_object_set_new(spec, "serviceAccountName", json_string("builder"));
        break;
    }
}

static void edit_finalizers(kr_test_rng *rng, json_t *meta)
{
    json_t *f = json_object_get(meta, "finalizers");
    if (!f) {
        json_object_set_new(meta, "finalizers", gen_finalizers(rng));
        return;
    }
    const char *name = unused_name(rng, f, NULL, finalizer_names, POOL_LEN(finalizer_names));
    switch (below(rng, 4)) {
    case 0:
        if (name)
            json_array_insert_new(f, below(rng, json_array_size(f) + 1), json_string(name));
        break;
    case 1:
        if (json_array_size(f) > 0)
            json_array_remove(f, below(rng, json_array_size(f)));
        break;
    case 2:
        shuffle_array(rng, f);
        break;
    default:
        json_object_del(meta, "finalizers");
        break;
    }
}

json_t *kdocgen_modify(kr_test_rng *rng, const json_t *doc)
{
    json_t *b = json_deep_copy(doc);
    json_t *meta = json_object_get(b, "metadata");
    json_t *spec = json_object_get(b, "spec");
    size_t edits = 1 + below(rng, 4);
    for (size_t i = 0; i < edits; i++) {
        switch (below(rng, 8)) {
        case 0:
            edit_string_map(rng, meta, "labels");
            break;
        case 1:
            edit_string_map(rng, meta, "annotations");
            break;
        case 2:
            edit_finalizers(rng, meta);
            break;
        case 3:
            if (json_object_get(spec, "template")) {
                if (chance(rng, 50))
                    json_object_set_new(spec, "replicas", json_integer((json_int_t)below(rng, 9)));
                else if (chance(rng, 50))
                    json_object_set_new(spec, "strategy", json_pack("{s:s}", "type", "Recreate"));
                else
                    json_object_set_new(spec, "strategy",
                                        json_pack("{s:s,s:{s:s}}", "type", "RollingUpdate",
                                                  "rollingUpdate", "maxSurge", "1"));
                break;
            }
            /* fall through */
        default:
            edit_pod_spec(rng, pod_spec_of(b));
            break;
        }
    }
    return b;
}

/* ---- hand-written patches -------------------------------------------------------- */

/* The object at `path` (keys) inside `patch`, created on the way. */
static json_t *patch_at(json_t *patch, const char *const *path, size_t n)
{
    json_t *cur = patch;
    for (size_t i = 0; i < n; i++) {
        json_t *next = json_object_get(cur, path[i]);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(cur, path[i], next);
        }
        cur = next;
    }
    return cur;
}

static json_t *patch_pod_spec(json_t *patch, const json_t *doc)
{
    static const char *const deploy_path[] = {"spec", "template", "spec"};
    if (json_object_get(json_object_get(doc, "spec"), "template"))
        return patch_at(patch, deploy_path, 3);
    return patch_at(patch, deploy_path, 1);
}

static void patch_labels(kr_test_rng *rng, json_t *patch)
{
    static const char *const path[] = {"metadata", "labels"};
    json_t *labels = patch_at(patch, path, 2);
    size_t n = 1 + below(rng, 3);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(labels, PICK(rng, label_keys),
                            chance(rng, 30) ? json_null() : json_string(PICK(rng, label_values)));
    if (chance(rng, 15))
        json_object_set_new(labels, "$patch", json_string("replace"));
}

static void patch_finalizers(kr_test_rng *rng, json_t *patch, const json_t *doc)
{
    static const char *const path[] = {"metadata"};
    json_t *meta = patch_at(patch, path, 1);
    const json_t *have = json_object_get(json_object_get(doc, "metadata"), "finalizers");
    if (json_object_get(meta, "finalizers") ||
        json_object_get(meta, "$deleteFromPrimitiveList/finalizers"))
        return; /* once per patch: additions and deletions stay disjoint */
    size_t idx[16];
    size_t n = distinct(rng, POOL_LEN(finalizer_names), 1 + below(rng, 3), idx);
    json_t *add = json_array(), *del = json_array();
    for (size_t i = 0; i < n; i++) {
        /* Existing items tend to be deleted, new ones added: disjoint sets. */
        int exists = 0;
        size_t k;
        json_t *v;
        json_array_foreach(have, k, v)
        {
            if (!strcmp(json_string_value(v), finalizer_names[idx[i]]))
                exists = 1;
        }
        if (exists && chance(rng, 60))
            json_array_append_new(del, json_string(finalizer_names[idx[i]]));
        else
            json_array_append_new(add, json_string(finalizer_names[idx[i]]));
    }
    if (json_array_size(add) > 0)
        json_object_set(meta, "finalizers", add);
    if (json_array_size(del) > 0)
        json_object_set(meta, "$deleteFromPrimitiveList/finalizers", del);
    if (chance(rng, 25) && json_array_size(add) > 0) {
        /* An order: the existing items not deleted, then the additions. */
        json_t *order = json_array();
        size_t k;
        json_t *v;
        json_array_foreach(have, k, v)
        {
            size_t j;
            json_t *d;
            int deleted = 0, added = 0;
            json_array_foreach(del, j, d)
            {
                deleted |= json_equal(d, v);
            }
            json_array_foreach(add, j, d)
            {
                added |= json_equal(d, v);
            }
            if (!deleted && !added)
                json_array_append(order, v);
        }
        json_array_extend(order, add);
        if (chance(rng, 50))
            shuffle_array(rng, order);
        json_object_set_new(meta, "$setElementOrder/finalizers", order);
    }
    json_decref(add);
    json_decref(del);
}

static const char *existing_name(kr_test_rng *rng, const json_t *list, const char *key)
{
    size_t n = json_array_size(list);
    if (!n)
        return NULL;
    return json_string_value(json_object_get(json_array_get(list, below(rng, n)), key));
}

static void patch_containers(kr_test_rng *rng, json_t *spec_patch, const json_t *doc_spec)
{
    const json_t *have = json_object_get(doc_spec, "containers");
    json_t *list = json_array();
    size_t n = 1 + below(rng, 2);
    for (size_t i = 0; i < n; i++) {
        const char *name = existing_name(rng, have, "name");
        json_t *elem;
        switch (below(rng, 8)) {
        case 0:
            elem = gen_container(rng, PICK(rng, container_names));
            break;
        case 1:
            elem = json_pack("{s:s,s:s}", "name", name ? name : "app", "$patch", "delete");
            break;
        case 2:
            elem = json_pack("{s:s,s:o}", "name", name ? name : "app", "env", gen_env(rng));
            if (chance(rng, 40))
                json_array_append_new(
                    json_object_get(elem, "env"),
                    json_pack("{s:s,s:s}", "name", PICK(rng, env_names), "$patch", "delete"));
            break;
        case 3:
            elem = json_pack("{s:s,s:o}", "name", name ? name : "app", "ports", gen_ports(rng));
            break;
        case 4:
            elem = json_pack("{s:s,s:o}", "name", name ? name : "app", "volumeMounts",
                             gen_mounts(rng));
            break;
        case 5:
            elem = json_pack("{s:s,s:n,s:o}", "name", name ? name : "app", "args", "resources",
                             gen_resources(rng));
            if (chance(rng, 50))
                json_object_set_new(json_object_get(elem, "resources"), "$patch",
                                    json_string("replace"));
            break;
        case 6:
            elem = json_pack("{s:s,s:s}", "name", name ? name : "app", "image", PICK(rng, images));
            break;
        default:
            /* Element order directive within: a reordered env. */
            elem = json_pack("{s:s,s:s}", "name", name ? name : "app", "image", PICK(rng, images));
            if (chance(rng, 10))
                json_object_del(elem, "name"); /* a missing merge key: an error */
            break;
        }
        json_array_append_new(list, elem);
    }
    if (chance(rng, 5))
        json_array_append_new(list, json_pack("{s:s}", "$patch", "replace"));
    json_object_set_new(spec_patch, "containers", list);
    if (chance(rng, 30)) {
        /* $setElementOrder: every existing container, plus the patch's
         * new ones, in a random order consistent with the patch list. */
        json_t *order = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(have, i, v)
        {
            json_array_append_new(order, json_pack("{s:O}", "name", json_object_get(v, "name")));
        }
        if (chance(rng, 60))
            shuffle_array(rng, order);
        json_array_foreach(list, i, v)
        {
            json_t *name = json_object_get(v, "name");
            if (!name || json_object_get(v, "$patch"))
                continue;
            size_t j;
            json_t *o;
            int present = 0;
            json_array_foreach(order, j, o)
            {
                present |= json_equal(json_object_get(o, "name"), name);
            }
            if (!present)
                json_array_append_new(order, json_pack("{s:O}", "name", name));
        }
        json_object_set_new(spec_patch, "$setElementOrder/containers", order);
    }
}

static void patch_volumes(kr_test_rng *rng, json_t *spec_patch, const json_t *doc_spec)
{
    const json_t *have = json_object_get(doc_spec, "volumes");
    const char *name = existing_name(rng, have, "name");
    json_t *list = json_array();
    if (name && chance(rng, 60)) {
        json_t *v = gen_volume(rng, name);
        if (chance(rng, 70)) {
            json_t *keys = json_array();
            const char *k;
            json_t *val;
            json_object_foreach(v, k, val)
            {
                json_array_append_new(keys, json_string(k));
            }
            json_object_set_new(v, "$retainKeys", keys);
        }
        json_array_append_new(list, v);
    } else if (name && chance(rng, 50)) {
        json_array_append_new(list, json_pack("{s:s,s:s}", "name", name, "$patch", "delete"));
    } else {
        json_array_append_new(list, gen_volume(rng, PICK(rng, volume_names)));
    }
    json_object_set_new(spec_patch, "volumes", list);
}

static void patch_deployment_strategy(kr_test_rng *rng, json_t *patch)
{
    static const char *const path[] = {"spec", "strategy"};
    json_t *s = patch_at(patch, path, 2);
    if (chance(rng, 50)) {
        json_object_set_new(s, "type", json_string("Recreate"));
        json_object_set_new(s, "$retainKeys", json_pack("[s]", "type"));
    } else {
        json_object_set_new(s, "type", json_string("RollingUpdate"));
        json_object_set_new(s, "rollingUpdate", json_pack("{s:s}", "maxSurge", "50%"));
        if (chance(rng, 50))
            json_object_set_new(s, "$retainKeys", json_pack("[s,s]", "type", "rollingUpdate"));
    }
}

json_t *kdocgen_strategic_patch(kr_test_rng *rng, const json_t *doc)
{
    json_t *patch = json_object();
    const json_t *doc_spec = pod_spec_of((json_t *)doc);
    size_t ops = 1 + below(rng, 3);
    for (size_t i = 0; i < ops; i++) {
        json_t *spec_patch;
        switch (below(rng, 11)) {
        case 0:
            patch_labels(rng, patch);
            break;
        case 1:
            patch_finalizers(rng, patch, doc);
            break;
        case 2:
        case 3:
            patch_containers(rng, patch_pod_spec(patch, doc), doc_spec);
            break;
        case 4:
            patch_volumes(rng, patch_pod_spec(patch, doc), doc_spec);
            break;
        case 5:
            json_object_set_new(patch_pod_spec(patch, doc), "tolerations", gen_tolerations(rng));
            break;
        case 6:
            spec_patch = patch_pod_spec(patch, doc);
            if (chance(rng, 50))
                json_object_set_new(spec_patch, "nodeSelector", json_null());
            else
                json_object_set_new(spec_patch, "nodeSelector",
                                    json_pack("{s:s,s:s}", "disk", "ssd", "$patch",
                                              chance(rng, 50) ? "replace" : "delete"));
            break;
        case 7:
            if (json_object_get(json_object_get(doc, "spec"), "template"))
                patch_deployment_strategy(rng, patch);
            else
                json_object_set_new(patch_pod_spec(patch, doc), "restartPolicy",
                                    json_string("OnFailure"));
            break;
        case 8:
            spec_patch = patch_pod_spec(patch, doc);
            json_object_set_new(spec_patch, "imagePullSecrets",
                                json_pack("[{s:s}]", "name", chance(rng, 50) ? "registry" : "x"));
            break;
        case 9: {
            static const char *const path[] = {"metadata", "annotations"};
            json_object_set_new(patch_at(patch, path, 2), "note", json_string("patched"));
            break;
        }
        default:
            spec_patch = patch_pod_spec(patch, doc);
            if (chance(rng, 20))
                json_object_set_new(spec_patch, "$patch", json_string("replace"));
            json_object_set_new(spec_patch, "serviceAccountName",
                                chance(rng, 50) ? json_null() : json_string("robot"));
            break;
        }
    }
    return patch;
}

json_t *kdocgen_merge_patch(kr_test_rng *rng, const json_t *doc)
{
    json_t *patch = json_object();
    size_t ops = 1 + below(rng, 3);
    for (size_t i = 0; i < ops; i++) {
        switch (below(rng, 6)) {
        case 0:
            patch_labels(rng, patch);
            json_object_del(json_object_get(json_object_get(patch, "metadata"), "labels"),
                            "$patch");
            break;
        case 1: {
            static const char *const path[] = {"metadata"};
            json_object_set_new(patch_at(patch, path, 1), "finalizers",
                                chance(rng, 30) ? json_null() : gen_finalizers(rng));
            break;
        }
        case 2: {
            json_t *c = json_array();
            json_array_append_new(c, gen_container(rng, "app"));
            json_object_set_new(patch_pod_spec(patch, doc), "containers", c);
            break;
        }
        case 3:
            json_object_set_new(patch_pod_spec(patch, doc), "tolerations",
                                chance(rng, 30) ? json_null() : gen_tolerations(rng));
            break;
        case 4:
            json_object_set_new(patch_pod_spec(patch, doc), "nodeSelector",
                                json_pack("{s:s,s:n}", "disk", "ssd", PICK(rng, label_keys)));
            break;
        default:
            json_object_set_new(patch_pod_spec(patch, doc), "restartPolicy", json_null());
            break;
        }
    }
    return patch;
}

json_t *kdocgen_json_patch(kr_test_rng *rng, const json_t *doc)
{
    json_t *ops = json_array();
    int deploy = json_object_get(json_object_get(doc, "spec"), "template") != NULL;
    const char *spec = deploy ? "/spec/template/spec" : "/spec";
    char path[128], from[128];
    size_t n = 1 + below(rng, 3);
    for (size_t i = 0; i < n; i++) {
        switch (below(rng, 8)) {
        case 0:
            json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "add", "path",
                                                 "/metadata/labels", "value", "x"));
            json_object_set_new(json_array_get(ops, json_array_size(ops) - 1), "value",
                                gen_string_map(rng, 2));
            break;
        case 1:
            snprintf(path, sizeof(path), "%s/containers/%s", spec, chance(rng, 50) ? "-" : "0");
            json_array_append_new(ops, json_pack("{s:s,s:s,s:o}", "op", "add", "path", path,
                                                 "value", gen_container(rng, "extra")));
            break;
        case 2:
            snprintf(path, sizeof(path), "%s/containers/%lu", spec, below(rng, 3));
            json_array_append_new(ops, json_pack("{s:s,s:s}", "op", "remove", "path", path));
            break;
        case 3:
            snprintf(path, sizeof(path), "%s/containers/0/image", spec);
            json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "replace", "path", path,
                                                 "value", PICK(rng, images)));
            break;
        case 4:
            json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "test", "path",
                                                 "/metadata/namespace", "value",
                                                 chance(rng, 80) ? "default" : "other"));
            break;
        case 5:
            snprintf(from, sizeof(from), "%s/containers/0", spec);
            snprintf(path, sizeof(path), "%s/initContainers", spec);
            json_array_append_new(
                ops, json_pack("{s:s,s:s,s:s}", "op", "copy", "from", from, "path", path));
            break;
        case 6:
            json_array_append_new(ops,
                                  json_pack("{s:s,s:s,s:s}", "op", "move", "from",
                                            "/metadata/labels", "path", "/metadata/annotations"));
            break;
        default:
            json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "add", "path",
                                                 "/metadata/labels/a~1b", "value", "escaped"));
            break;
        }
    }
    return ops;
}

/* ---- adversarial edits ------------------------------------------------------------ */

/* A uniformly chosen container (object or array) inside `root`. */
static json_t *random_container(kr_test_rng *rng, json_t *root, unsigned long *seen)
{
    json_t *chosen = NULL;
    if (json_is_object(root) || json_is_array(root)) {
        (*seen)++;
        if (below(rng, *seen) == 0)
            chosen = root;
    }
    if (json_is_object(root)) {
        const char *k;
        json_t *v;
        json_object_foreach(root, k, v)
        {
            json_t *c = random_container(rng, v, seen);
            if (c)
                chosen = c;
        }
    } else if (json_is_array(root)) {
        size_t i;
        json_t *v;
        json_array_foreach(root, i, v)
        {
            json_t *c = random_container(rng, v, seen);
            if (c)
                chosen = c;
        }
    }
    return chosen;
}

static json_t *random_value(kr_test_rng *rng)
{
    switch (below(rng, 6)) {
    case 0:
        return json_string(PICK(rng, label_values));
    case 1:
        return json_integer((json_int_t)below(rng, 100));
    case 2:
        return json_pack("{s:s}", "name", PICK(rng, container_names));
    case 3:
        return json_pack("[s,s]", PICK(rng, label_values), PICK(rng, label_values));
    case 4:
        return json_null();
    default:
        return json_pack("[{s:s}]", "name", PICK(rng, container_names));
    }
}

static const char *random_key(kr_test_rng *rng, const json_t *obj)
{
    size_t n = json_object_size(obj);
    if (!n)
        return NULL;
    size_t want = below(rng, n), i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (i++ == want)
            return k;
    }
    return NULL;
}

void kdocgen_perturb(kr_test_rng *rng, json_t *root)
{
    unsigned long seen = 0;
    json_t *node = random_container(rng, root, &seen);
    if (!node)
        return;
    if (json_is_array(node)) {
        switch (below(rng, 3)) {
        case 0:
            json_array_append_new(node, random_value(rng));
            break;
        case 1:
            if (json_array_size(node) > 0)
                json_array_set_new(node, below(rng, json_array_size(node)), random_value(rng));
            break;
        default:
            json_array_insert_new(node, 0, json_pack("{s:s}", "$patch", "replace"));
            break;
        }
        return;
    }
    static const char *const directives[] = {"replace", "delete", "merge", "bogus"};
    const char *key = random_key(rng, node);
    char name[160];
    switch (below(rng, 8)) {
    case 0:
        json_object_set_new(node, "$patch", json_string(PICK(rng, directives)));
        break;
    case 1:
        if (key)
            json_object_set_new(node, key, random_value(rng));
        break;
    case 2:
        json_object_set_new(node, "unknownField", json_pack("{s:i}", "x", 1));
        break;
    case 3:
        if (key && key[0] != '$') {
            snprintf(name, sizeof(name), "$setElementOrder/%s", key);
            json_object_set_new(node, name, random_value(rng));
        }
        break;
    case 4:
        if (key && key[0] != '$') {
            json_t *keys = json_array();
            json_array_append_new(keys, json_string(key));
            if (chance(rng, 50))
                json_array_append_new(keys, json_string("name"));
            json_object_set_new(node, "$retainKeys", keys);
        }
        break;
    case 5:
        snprintf(name, sizeof(name), "$deleteFromPrimitiveList/%s",
                 chance(rng, 50) ? "args" : "finalizers");
        if (!json_object_get(node, name + strlen("$deleteFromPrimitiveList/")))
            json_object_set_new(node, name, random_value(rng));
        break;
    case 6:
        if (key)
            json_object_del(node, key);
        break;
    default:
        json_object_set_new(node, "$patch", json_integer(1));
        break;
    }
}
