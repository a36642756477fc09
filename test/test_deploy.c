/* The deployment manifests in deploy/ are what a real cluster accepts and
 * what the programs accept: kubectl applies every file with
 * --dry-run=server to kr-apiserver (RBAC, apps, core and the CRD), and
 * every Deployment's container args parse in the program they name
 * (args + --help exits 0). Skips, loudly, where kubectl is absent.
 * KR_TEST_THREADED: the test server's threads. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

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
    char dir[] = "/tmp/kr-deploy-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
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
    char log[] = "/tmp/kr-deploy-args-XXXXXX";
    int fd = mkstemp(log);
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
        argv[n++] = "--help";
        argv[n] = NULL;
        int rc = run(argv, log);
        if (rc != 0)
            show_log(log);
        ck_assert_msg(rc == 0, "%s rejects the args of its Deployment", program);
        deployments++;
    }
    ck_assert_uint_eq(deployments, 4);
    unlink(log);
    json_decref(docs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("deploy");
    TCase *tc = tcase_create("manifests");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kubectl_accepts_every_manifest_with_a_server_dry_run);
    tcase_add_test(tc, every_deployments_args_parse_in_its_program);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
