/* The deployment manifests in deploy/ are what a real cluster accepts and
 * what the programs accept: kubectl applies every file with
 * --dry-run=server to kr-apiserver (RBAC, apps, core and the CRD); every
 * Deployment's container args parse in the program they name (args +
 * --help exits 0), and its probes and Service reach the port and scheme
 * the program serves; and the RBAC of each cluster, loaded into a test server
 * that enforces RBAC, gives each program's service account what it needs
 * and no more (SubjectAccessReviews). Skips, loudly, where kubectl is
 * absent. KR_TEST_THREADED: the test server's threads. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "ts_client.h"

/* Run argv (a program of the build, or a path) with its output into `log`
 * (made empty first); the exit status, or -1 when it ran over 100 s. */
static int run(const char *const argv[], const char *log)
{
    kr_test_proc p;
    kr_test_proc_start(&p, log, argv);
    int status = kr_test_proc_wait(&p, 100000);
    kr_test_proc_free(&p);
    return status;
}

static void show_log(const char *log)
{
    char *text = kr_test_read_file("", log);
    if (text)
        fprintf(stderr, "%s\n", text);
    free(text);
}

START_TEST(kubectl_accepts_every_manifest_with_a_server_dry_run)
{
    if (!kr_test_have_program("kubectl")) {
        kr_test_skip("kubectl_accepts_every_manifest_with_a_server_dry_run",
                     "kubectl is not installed");
        return;
    }
    kr_testserver_t *ts = NULL;
    kr_error_t err = {0};
    kr_testserver_opts o = {.seed = 1};
    ck_assert_msg(kr_testserver_start(&o, &ts, &err) == 0, "%s", err.message);
    char dir[256];
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-deploy"));
    char kc[512], log[512], cache[512], path[1024];
    snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
    snprintf(log, sizeof(log), "%s/kubectl.log", dir);
    snprintf(cache, sizeof(cache), "%s/cache", dir);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(ts, kc, NULL, &err), 0);
    /* The namespaces for real first: a dry-run namespace holds nothing. */
    kr_test_src_path(path, sizeof(path), "deploy/hub/00-namespace.yaml");
    const char *ns[] = {"/usr/bin/env", "kubectl", "--kubeconfig", kc,   "--cache-dir",
                        cache,          "apply",   "-f",           path, NULL};
    int rc = run(ns, log);
    if (rc != 0)
        show_log(log);
    ck_assert_int_eq(rc, 0);
    const char *dirs[] = {"deploy/crds", "deploy/hub", "deploy/workload"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        kr_test_src_path(path, sizeof(path), dirs[i]);
        const char *argv[] = {
            "/usr/bin/env", "kubectl", "--kubeconfig", kc,   "--cache-dir",      cache,
            "apply",        "-f",      path,           "-R", "--dry-run=server", NULL};
        rc = run(argv, log);
        if (rc != 0)
            show_log(log);
        ck_assert_msg(rc == 0, "kubectl apply --dry-run=server -f %s failed", dirs[i]);
    }
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(path), 0);
    kr_testserver_free(ts);
}
END_TEST

START_TEST(every_deployments_args_parse_in_its_program)
{
    char dir[1024];
    kr_test_src_path(dir, sizeof(dir), "deploy/hub");
    char *text = kr_test_read_file(dir, "30-programs.yaml");
    ck_assert_ptr_nonnull(text);
    json_t *docs = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_yaml_parse_all(text, strlen(text), &docs, &err) == 0, "%s", err.message);
    free(text);
    char log[256];
    int fd = kr_test_tmpfile_make(log, sizeof(log), "kr-deploy-args");
    ck_assert_int_ge(fd, 0);
    close(fd);
    size_t i, deployments = 0;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        if (strcmp(json_string_value(json_object_get(doc, "kind")), "Deployment") != 0)
            continue;
        json_t *c = json_array_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(doc, "spec"), "template"), "spec"),
                "containers"),
            0);
        const char *image = json_string_value(json_object_get(c, "image"));
        ck_assert_ptr_nonnull(image);
        /* kreconcile/kr-syncer:0.1.0 -> build/bin/kr-syncer */
        char program[64];
        ck_assert_int_eq(sscanf(image, "kreconcile/%63[^:]", program), 1);
        char bin[1024];
        kr_test_bin_path(bin, sizeof(bin), program);
        json_t *args = json_object_get(c, "args");
        const char *argv[64];
        size_t n = 0;
        argv[n++] = bin;
        size_t j;
        json_t *a;
        json_array_foreach(args, j, a)
        {
            ck_assert_uint_lt(n, 60);
            argv[n++] = json_string_value(a);
        }
        /* its own workload credentials, no other program's */
        char own[96];
        snprintf(own, sizeof(own), "%s-clusters", program);
        size_t v;
        json_t *vol;
        bool mounted = false;
        json_array_foreach(
            json_object_get(
                json_object_get(json_object_get(json_object_get(doc, "spec"), "template"), "spec"),
                "volumes"),
            v, vol)
        {
            const char *secret =
                json_string_value(json_object_get(json_object_get(vol, "secret"), "secretName"));
            if (secret && strstr(secret, "-clusters")) {
                ck_assert_msg(strcmp(secret, own) == 0, "%s mounts %s", program, secret);
                mounted = true;
            }
        }
        ck_assert_msg(mounted, "%s mounts no %s", program, own);
        argv[n++] = "--help";
        argv[n] = NULL;
        int rc = run(argv, log);
        if (rc != 0)
            show_log(log);
        ck_assert_msg(rc == 0, "%s rejects the args of its Deployment", program);
        /* the program names the version its image is tagged with */
        const char *version[] = {bin, "--version", NULL};
        ck_assert_int_eq(run(version, log), 0);
        char *said = kr_test_read_file("", log), want[256];
        snprintf(want, sizeof(want), "%s version %s (libkreconcile %s)\n", program,
                 strchr(image, ':') + 1, kr_version());
        ck_assert_str_eq(said, want);
        free(said);
        deployments++;
    }
    ck_assert_uint_eq(deployments, 4);
    unlink(log);
    json_decref(docs);
}
END_TEST

static json_t *path_get(json_t *o, const char *a, const char *b, const char *c)
{
    o = json_object_get(o, a);
    if (b)
        o = json_object_get(o, b);
    if (c)
        o = json_object_get(o, c);
    return o;
}

/* The value of `--flag=` in a container's args, NULL when absent. */
static const char *arg_value(json_t *args, const char *flag)
{
    size_t i;
    json_t *a;
    size_t n = strlen(flag);
    json_array_foreach(args, i, a)
    {
        const char *s = json_string_value(a);
        if (s && strncmp(s, flag, n) == 0 && s[n] == '=')
            return s + n + 1;
    }
    return NULL;
}

/* Each Deployment's container port is its program's --listen port, its
 * probes ask that port for what the toolkit's endpoint serves (/healthz,
 * /readyz) in the scheme it serves (HTTPS exactly when it is given a
 * certificate), and the program's Service selects its pods and sends to
 * that port. */
START_TEST(every_deployments_probes_and_service_reach_what_it_serves)
{
    char dir[1024];
    kr_test_src_path(dir, sizeof(dir), "deploy/hub");
    char *text = kr_test_read_file(dir, "30-programs.yaml");
    ck_assert_ptr_nonnull(text);
    json_t *docs = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_yaml_parse_all(text, strlen(text), &docs, &err) == 0, "%s", err.message);
    free(text);
    size_t i, deployments = 0;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        if (strcmp(json_string_value(json_object_get(doc, "kind")), "Deployment") != 0)
            continue;
        const char *name = json_string_value(path_get(doc, "metadata", "name", NULL));
        ck_assert_ptr_nonnull(name);
        json_t *pod = path_get(doc, "spec", "template", "spec");
        json_t *c = json_array_get(json_object_get(pod, "containers"), 0);
        json_t *args = json_object_get(c, "args");
        const char *listen = arg_value(args, "--listen");
        ck_assert_msg(listen && strrchr(listen, ':'), "%s: no --listen ADDR:PORT", name);
        long port = strtol(strrchr(listen, ':') + 1, NULL, 10);
        bool tls = arg_value(args, "--tls-cert-file") != NULL;
        ck_assert_msg(tls == (arg_value(args, "--tls-private-key-file") != NULL),
                      "%s: a certificate without its key, or a key without its certificate", name);
        /* the named container port that is --listen's */
        const char *port_name = NULL;
        size_t j;
        json_t *p;
        json_array_foreach(json_object_get(c, "ports"), j, p)
        {
            if (json_integer_value(json_object_get(p, "containerPort")) == port)
                port_name = json_string_value(json_object_get(p, "name"));
        }
        ck_assert_msg(port_name != NULL, "%s: no named containerPort %ld (--listen=%s)", name, port,
                      listen);
        static const char *const probes[] = {"startupProbe", "livenessProbe", "readinessProbe"};
        for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
            json_t *get = path_get(c, probes[k], "httpGet", NULL);
            ck_assert_msg(get != NULL, "%s: no %s over HTTP", name, probes[k]);
            const char *path = json_string_value(json_object_get(get, "path"));
            ck_assert_msg(path && (strcmp(path, k == 2 ? "/readyz" : "/healthz") == 0),
                          "%s: %s asks %s", name, probes[k], path ? path : "nothing");
            json_t *pp = json_object_get(get, "port");
            ck_assert_msg(json_is_string(pp) ? strcmp(json_string_value(pp), port_name) == 0
                                             : json_integer_value(pp) == port,
                          "%s: %s is not sent to --listen's port", name, probes[k]);
            const char *scheme = json_string_value(json_object_get(get, "scheme"));
            ck_assert_msg(strcmp(scheme ? scheme : "HTTP", tls ? "HTTPS" : "HTTP") == 0,
                          "%s: %s over %s, but the program serves %s", name, probes[k],
                          scheme ? scheme : "HTTP", tls ? "HTTPS" : "HTTP");
        }
        /* its Service: the pods' label, the port's name */
        const char *label =
            json_string_value(path_get(path_get(doc, "spec", "template", "metadata"), "labels",
                                       "app.kubernetes.io/name", NULL));
        ck_assert_msg(label != NULL, "%s: its pods have no app.kubernetes.io/name", name);
        bool served = false;
        size_t m;
        json_t *svc;
        json_array_foreach(docs, m, svc)
        {
            if (strcmp(json_string_value(json_object_get(svc, "kind")), "Service") != 0 ||
                strcmp(json_string_value(path_get(svc, "metadata", "name", NULL)), name) != 0)
                continue;
            const char *sel =
                json_string_value(path_get(svc, "spec", "selector", "app.kubernetes.io/name"));
            ck_assert_msg(sel && strcmp(sel, label) == 0, "Service %s selects no pod of its own",
                          name);
            json_array_foreach(path_get(svc, "spec", "ports", NULL), j, p)
            {
                json_t *target = json_object_get(p, "targetPort");
                ck_assert_msg(json_is_string(target)
                                  ? strcmp(json_string_value(target), port_name) == 0
                                  : json_integer_value(target) == port,
                              "Service %s sends to a port its program does not listen on", name);
            }
            served = true;
        }
        ck_assert_msg(served, "%s has no Service", name);
        deployments++;
    }
    ck_assert_uint_eq(deployments, 4);
    json_decref(docs);
}
END_TEST

/* Whether service account kreconcile-system/`sa` may `verb`
 * `group`/`resource`[/`sub`] (named `name`, "" for none) in `ns` ("" for
 * every namespace) on the RBAC server at `url`, asked as the admin with a
 * SubjectAccessReview carrying the groups the account's token would. */
static bool sa_may_named(const char *url, const char *sa, const char *verb, const char *group,
                         const char *resource, const char *sub, const char *ns, const char *name)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\","
             "\"spec\":{\"user\":\"system:serviceaccount:kreconcile-system:%s\",\"groups\":"
             "[\"system:serviceaccounts\",\"system:serviceaccounts:kreconcile-system\","
             "\"system:authenticated\"],\"resourceAttributes\":{\"verb\":\"%s\",\"group\":\"%s\","
             "\"resource\":\"%s\",\"subresource\":\"%s\",\"namespace\":\"%s\",\"name\":\"%s\"}}}",
             sa, verb, group, resource, sub, ns, name);
    const char *admin[] = {"Authorization: Bearer adm1n", NULL};
    tc_response r;
    tc_request(url, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
               "application/json", body, admin, &r);
    ck_assert_msg(r.status == 201, "%ld: %s", r.status, r.body ? r.body : "");
    bool allowed = json_is_true(json_object_get(json_object_get(r.json, "status"), "allowed"));
    tc_free(&r);
    return allowed;
}

static bool sa_may(const char *url, const char *sa, const char *verb, const char *group,
                   const char *resource, const char *sub, const char *ns)
{
    return sa_may_named(url, sa, verb, group, resource, sub, ns, "");
}

static void load_manifest(kr_testserver_t *ts, const char *rel)
{
    char path[1024];
    kr_test_src_path(path, sizeof(path), rel);
    char *text = kr_test_read_file("", path);
    ck_assert_msg(text != NULL, "cannot read %s", rel);
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, text, strlen(text), &err) == 0, "%s: %s", rel,
                  err.message);
    free(text);
}

typedef struct grant {
    const char *sa, *verb, *group, *resource, *sub, *ns;
    bool allowed;
    const char *name; /* NULL: any */
} grant;

START_TEST(rbac_gives_each_program_what_it_needs_and_no_more)
{
    static const grant hub[] = {
        {"kr-syncer", "watch", "", "configmaps", "", "apps", true, NULL},
        {"kr-syncer", "patch", "", "secrets", "", "apps", true, NULL},
        {"kr-syncer", "create", "", "configmaps", "", "apps", false, NULL},
        {"kr-syncer", "list", "", "secrets", "", "kube-system", false, NULL},
        /* a new leader reads a hub object before a create while its cache is behind */
        {"kr-syncer", "get", "", "configmaps", "", "apps", true, NULL},
        {"kr-syncer", "get", "", "secrets", "", "kreconcile-system", false, NULL},
        /* each program its own Lease, by name; none creates one (15-leases.yaml) */
        {"kr-syncer", "update", "coordination.k8s.io", "leases", "", "kreconcile-system", true,
         "kr-syncer"},
        {"kr-syncer", "get", "coordination.k8s.io", "leases", "", "kreconcile-system", true,
         "kr-syncer"},
        {"kr-syncer", "update", "coordination.k8s.io", "leases", "", "kreconcile-system", false,
         "kr-submitter"},
        {"kr-inventory", "update", "coordination.k8s.io", "leases", "", "kreconcile-system", false,
         "kr-submitter"},
        {"kr-submitter", "update", "coordination.k8s.io", "leases", "", "kreconcile-system", true,
         "kr-submitter"},
        {"kr-sweeper", "update", "coordination.k8s.io", "leases", "", "kreconcile-system", true,
         "kr-sweeper"},
        {"kr-inventory", "update", "coordination.k8s.io", "leases", "", "kreconcile-system", true,
         "kr-inventory"},
        {"kr-syncer", "create", "coordination.k8s.io", "leases", "", "kreconcile-system", false,
         NULL},
        {"kr-syncer", "delete", "coordination.k8s.io", "leases", "", "kreconcile-system", false,
         NULL},
        {"kr-submitter", "create", "kreconcile.io", "runnables", "", "apps", true, NULL},
        {"kr-submitter", "update", "kreconcile.io", "runnables", "status", "apps", true, NULL},
        {"kr-submitter", "delete", "kreconcile.io", "runnables", "", "apps", false, NULL},
        {"kr-submitter", "list", "batch", "jobs", "", "", false, NULL},
        {"kr-submitter", "create", "authentication.k8s.io", "tokenreviews", "", "", true, NULL},
        {"kr-submitter", "create", "authorization.k8s.io", "subjectaccessreviews", "", "", true,
         NULL},
        {"kr-inventory", "create", "authorization.k8s.io", "subjectaccessreviews", "", "", true,
         NULL},
        {"kr-syncer", "create", "authentication.k8s.io", "tokenreviews", "", "", false, NULL},
        {"kr-sweeper", "list", "batch", "jobs", "", "", true, NULL},
        {"kr-sweeper", "delete", "", "configmaps", "", "apps", false, NULL},
        {"kr-inventory", "watch", "kreconcile.io", "runnables", "", "", true, NULL},
        {"kr-inventory", "get", "", "secrets", "", "apps", false, NULL},
        /* Secrets in the source namespace alone: a list reads their data,
         * and kreconcile-system holds the platform's credentials */
        {"kr-inventory", "watch", "", "secrets", "", "apps", true, NULL},
        {"kr-inventory", "list", "", "secrets", "", "", false, NULL},
        {"kr-inventory", "list", "", "secrets", "", "kreconcile-system", false, NULL},
        {"kr-sweeper", "list", "", "secrets", "", "apps", true, NULL},
        {"kr-sweeper", "list", "", "secrets", "", "", false, NULL},
        {"kr-sweeper", "list", "", "secrets", "", "kreconcile-system", false, NULL},
    };
    static const grant workload[] = {
        {"kr-syncer", "create", "", "configmaps", "", "apps", true, NULL},
        {"kr-syncer", "delete", "", "secrets", "", "apps", true, NULL},
        {"kr-syncer", "create", "batch", "jobs", "", "apps", false, NULL},
        {"kr-syncer", "watch", "", "secrets", "", "", false, NULL},
        {"kr-submitter", "create", "batch", "jobs", "", "apps", true, NULL},
        {"kr-submitter", "delete", "", "configmaps", "", "apps", false, NULL},
        {"kr-sweeper", "delete", "batch", "jobs", "", "apps", true, NULL},
        {"kr-sweeper", "create", "batch", "jobs", "", "apps", false, NULL},
        {"kr-inventory", "watch", "batch", "jobs", "", "", true, NULL},
        {"kr-inventory", "delete", "batch", "jobs", "", "apps", false, NULL},
        {"kr-inventory", "watch", "", "secrets", "", "apps", true, NULL},
        {"kr-inventory", "list", "", "secrets", "", "", false, NULL},
        /* writes only where the platform writes: never a Job in kube-system */
        {"kr-submitter", "create", "batch", "jobs", "", "kube-system", false, NULL},
        {"kr-submitter", "watch", "batch", "jobs", "", "", true, NULL},
        {"kr-submitter", "get", "batch", "jobs", "", "default", true, NULL}, /* the probe */
        {"kr-sweeper", "list", "batch", "jobs", "", "", true, NULL},
        {"kr-sweeper", "delete", "", "secrets", "", "apps", true, NULL},
        {"kr-sweeper", "delete", "", "secrets", "", "kube-system", false, NULL},
        {"kr-sweeper", "list", "", "secrets", "", "", false, NULL},
        /* a delete answered with a conflict or no outcome is looked at
         * again (a GET), where the sweeper deletes and nowhere else */
        {"kr-sweeper", "get", "batch", "jobs", "", "apps", true, NULL},
        {"kr-sweeper", "get", "", "configmaps", "", "apps", true, NULL},
        {"kr-sweeper", "get", "", "secrets", "", "apps", true, NULL},
        {"kr-sweeper", "get", "batch", "jobs", "", "", false, NULL},
        {"kr-sweeper", "get", "", "secrets", "", "kube-system", false, NULL},
    };
    static const char *const programs[] = {"kr-syncer", "kr-submitter", "kr-sweeper",
                                           "kr-inventory"};
    for (int c = 0; c < 2; c++) {
        const char *tokens[] = {"adm1n", NULL};
        kr_testserver_opts o = {.seed = 1, .tokens = tokens, .rbac = true};
        kr_testserver_t *ts = NULL;
        kr_error_t err = {0};
        ck_assert_msg(kr_testserver_start(&o, &ts, &err) == 0, "%s", err.message);
        if (c == 0) {
            load_manifest(ts, "deploy/hub/00-namespace.yaml");
            load_manifest(ts, "deploy/hub/10-rbac.yaml");
        } else {
            load_manifest(ts, "deploy/workload/10-rbac.yaml");
        }
        const char *url = kr_testserver_url(ts);
        const grant *g = c == 0 ? hub : workload;
        size_t n = c == 0 ? sizeof(hub) / sizeof(hub[0]) : sizeof(workload) / sizeof(workload[0]);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(sa_may_named(url, g[i].sa, g[i].verb, g[i].group, g[i].resource, g[i].sub,
                                       g[i].ns, g[i].name ? g[i].name : "") == g[i].allowed,
                          "%s: %s %s %s/%s%s%s %s in \"%s\" should be %s", c ? "workload" : "hub",
                          g[i].sa, g[i].verb, g[i].group, g[i].resource, *g[i].sub ? "/" : "",
                          g[i].sub, g[i].name ? g[i].name : "", g[i].ns,
                          g[i].allowed ? "allowed" : "denied");
        /* nobody may grant, bind or act as anyone */
        for (size_t p = 0; p < sizeof(programs) / sizeof(programs[0]); p++) {
            ck_assert(!sa_may(url, programs[p], "create", "rbac.authorization.k8s.io",
                              "rolebindings", "", "apps"));
            ck_assert(!sa_may(url, programs[p], "escalate", "rbac.authorization.k8s.io",
                              "clusterroles", "", ""));
            ck_assert(!sa_may(url, programs[p], "impersonate", "", "users", "", ""));
            ck_assert(!sa_may(url, programs[p], "get", "", "secrets", "", "kube-system"));
        }
        kr_testserver_free(ts);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("deploy");
    TCase *tc = tcase_create("manifests");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kubectl_accepts_every_manifest_with_a_server_dry_run);
    tcase_add_test(tc, every_deployments_args_parse_in_its_program);
    tcase_add_test(tc, every_deployments_probes_and_service_reach_what_it_serves);
    tcase_add_test(tc, rbac_gives_each_program_what_it_needs_and_no_more);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
