/* Tests of kr_client with configurations loaded by kr_config: a kubeconfig
 * written by the test server (TLS + token), and an exec credential plugin
 * script whose first token is stale, so that the client renews it once on
 * 401. Certificates come from the test server's own TLS material made with
 * the openssl command. Threaded: KR_TEST_THREADED */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

static const kr_gvr CM = KR_GVR("", "v1", "configmaps");
static char dir[64];
static bool have_certs;

typedef struct tls_server {
    kr_testserver_t *ts;
    char *crt, *key;
} tls_server;

static void start(tls_server *s)
{
    s->crt = kr_test_read_file(dir, "srv.crt");
    s->key = kr_test_read_file(dir, "srv.key");
    ck_assert(s->crt && s->key);
    static const char *tokens[] = {"sekret:alice", NULL};
    kr_testserver_opts o = {
        .seed = 3, .tokens = tokens, .tls_cert_pem = s->crt, .tls_key_pem = s->key};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &s->ts, &err) == 0, "%s", err.message);
}

static void stop(tls_server *s)
{
    kr_testserver_free(s->ts);
    free(s->crt);
    free(s->key);
}

static int get_missing(kr_rest_config *cfg, kr_error_t *err)
{
    kr_runtime_t *rt = NULL;
    kr_client_t *c = NULL;
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, NULL), 0);
    ck_assert_int_eq(kr_runtime_start(rt, NULL), 0);
    ck_assert_msg(kr_client_new(rt, cfg, NULL, &c, err) == 0, "%s", err->message);
    int rc = kr_client_get(c, CM, kr_client_default_namespace(c), "missing", NULL, err);
    kr_client_free(c);
    kr_runtime_free(rt);
    return rc;
}

static kr_rest_config *config_from(const char *path)
{
    const char *paths[] = {path};
    kr_kubeconfig_t *kc = NULL;
    kr_rest_config *cfg = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_kubeconfig_load_files(paths, 1, NULL, &kc, &err) == 0, "%s", err.message);
    ck_assert_msg(kr_kubeconfig_rest_config(kc, NULL, &cfg, &err) == 0, "%s", err.message);
    kr_kubeconfig_free(kc);
    return cfg;
}

START_TEST(kubeconfig_from_the_test_server_reaches_it_over_tls)
{
    if (!have_certs)
        return;
    tls_server s;
    start(&s);
    char path[128];
    snprintf(path, sizeof(path), "%s/kubeconfig", dir);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_testserver_write_kubeconfig(s.ts, path, "default", &err), 0);
    kr_rest_config *cfg = config_from(path);
    ck_assert_int_eq(get_missing(cfg, &err), KR_ENOTFOUND);
    ck_assert_str_eq(err.message, "configmaps \"missing\" not found");
    kr_rest_config_free(cfg);
    stop(&s);
}
END_TEST

/* A plugin that hands out a stale token on its first run, then the good
 * one, counting its runs in a file; and a kubeconfig that uses it. */
static kr_rest_config *stale_then_good_plugin(tls_server *s)
{
    char plugin[128], count[128], kubeconfig[128];
    snprintf(plugin, sizeof(plugin), "%s/plugin.sh", dir);
    snprintf(count, sizeof(count), "%s/runs", dir);
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/exec-kubeconfig", dir);
    unlink(count);
    FILE *f = fopen(plugin, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "#!/bin/sh\n"
            "echo run >> '%s'\n"
            "n=$(wc -l < '%s')\n"
            "if [ \"$n\" -le 1 ]; then t=stale; else t=sekret; fi\n"
            "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
            "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%%s\"}}' \"$t\"\n",
            count, count);
    fclose(f);
    chmod(plugin, 0755);
    f = fopen(kubeconfig, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            "clusters:\n- name: s\n  cluster:\n    server: %s\n"
            "    certificate-authority: srv.crt\n"
            "users:\n- name: u\n  user:\n    exec:\n"
            "      apiVersion: client.authentication.k8s.io/v1\n"
            "      command: %s\n      interactiveMode: Never\n"
            "contexts:\n- name: c\n  context: {cluster: s, user: u, namespace: default}\n",
            kr_testserver_url(s->ts), plugin);
    fclose(f);
    return config_from(kubeconfig);
}

START_TEST(exec_plugin_token_is_renewed_once_on_401)
{
    if (!have_certs)
        return;
    tls_server s;
    start(&s);
    kr_rest_config *cfg = stale_then_good_plugin(&s);
    kr_error_t err = {0};
    ck_assert_msg(get_missing(cfg, &err) == KR_ENOTFOUND, "%s", err.message);
    char *runs = kr_test_read_file(dir, "runs");
    ck_assert_ptr_nonnull(runs);
    ck_assert_str_eq(runs, "run\nrun\n"); /* once stale, once renewed after the 401 */
    free(runs);
    kr_rest_config_free(cfg);
    stop(&s);
}
END_TEST

struct getter {
    kr_client_t *c;
    pthread_barrier_t *go;
    int rc;
};

static void *get_after_barrier(void *arg)
{
    struct getter *g = arg;
    pthread_barrier_wait(g->go);
    g->rc = kr_client_get(g->c, CM, kr_client_default_namespace(g->c), "missing", NULL, NULL);
    return NULL;
}

/* Many requests refused together with the same stale token renew it once:
 * the first forced refresh runs the plugin, the others take its token. */
START_TEST(requests_refused_together_run_the_plugin_once)
{
    if (!have_certs)
        return;
    tls_server s;
    start(&s);
    kr_rest_config *cfg = stale_then_good_plugin(&s);
    kr_runtime_t *rt = NULL;
    kr_client_t *c = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, NULL), 0);
    ck_assert_int_eq(kr_runtime_start(rt, NULL), 0);
    ck_assert_msg(kr_client_new(rt, cfg, NULL, &c, &err) == 0, "%s", err.message);
    enum { N = 12 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    struct getter g[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        g[i] = (struct getter){.c = c, .go = &go};
        ck_assert_int_eq(pthread_create(&t[i], NULL, get_after_barrier, &g[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(g[i].rc, KR_ENOTFOUND);
    }
    pthread_barrier_destroy(&go);
    char *runs = kr_test_read_file(dir, "runs");
    ck_assert_ptr_nonnull(runs);
    ck_assert_str_eq(runs, "run\nrun\n");
    free(runs);
    kr_client_free(c);
    kr_runtime_free(rt);
    kr_rest_config_free(cfg);
    stop(&s);
}
END_TEST

int main(void)
{
    have_certs = kr_test_make_server_cert(dir, sizeof(dir), "test_client_exec");
    Suite *s = suite_create("client_exec");
    TCase *tc = tcase_create("client_exec");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kubeconfig_from_the_test_server_reaches_it_over_tls);
    tcase_add_test(tc, exec_plugin_token_is_renewed_once_on_401);
    tcase_add_test(tc, requests_refused_together_run_the_plugin_once);
    suite_add_tcase(s, tc);
    int status = kr_test_run_suite(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("test_client_exec: could not remove %s\n", dir);
    return status;
}
