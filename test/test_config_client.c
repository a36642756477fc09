/* End to end: kubeconfigs loaded by kr_config drive kr_client against the
 * in-memory API server over TLS — the server's own kubeconfig, an exec
 * plugin renewed after a 401, and a rotated token file. Certificates are
 * made with the openssl command (skipped loudly without it).
 * Threaded (the runtime's loop thread): KR_TEST_THREADED */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

static const kr_gvr CM = KR_GVR("", "v1", "configmaps");
static char dir[256];

static bool make_certs(void)
{
    if (!kr_test_have_program("openssl")) {
        kr_test_skip("test_config_client", "openssl not found");
        return false;
    }
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout srv.key -out ca.crt -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             dir);
    if (system(cmd) != 0) {
        kr_test_skip("test_config_client", "certificate generation failed");
        return false;
    }
    return true;
}

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[3][8192];
    static int next;
    char *b = buf[next++ % 3];
    size_t n = fread(b, 1, sizeof(buf[0]) - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

static void put(const char *name, const char *content, mode_t mode)
{
    char path[512], tmp_path[520];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp_path, sizeof(tmp_path), "%s.new", path);
    FILE *f = fopen(tmp_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
    ck_assert_int_eq(chmod(tmp_path, mode), 0);
    ck_assert_int_eq(rename(tmp_path, path), 0);
}

typedef struct env {
    kr_testserver_t *ts;
    kr_runtime_t *rt;
    kr_client_t *c;
    kr_rest_config *cfg;
} env;

static bool setup(env *e)
{
    memset(e, 0, sizeof(*e));
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-config-client"));
    if (!make_certs())
        return false;
    static const char *tokens[] = {"good-token:alice", NULL};
    kr_testserver_opts o = {.seed = 1,
                            .tokens = tokens,
                            .tls_cert_pem = slurp("ca.crt"),
                            .tls_key_pem = slurp("srv.key")};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &e->ts, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_runtime_new(NULL, &e->rt, &err), 0);
    ck_assert_int_eq(kr_runtime_start(e->rt, &err), 0);
    return true;
}

static void connect_with(env *e, const char *kubeconfig_text)
{
    put("config", kubeconfig_text, 0600);
    char path[512];
    snprintf(path, sizeof(path), "%s/config", dir);
    kr_config_load_opts lo = {.kubeconfig = path};
    kr_error_t err = {0};
    ck_assert_msg(kr_config_load(&lo, &e->cfg, &err) == 0, "%s", err.message);
    e->cfg->qps = -1;
    ck_assert_msg(kr_client_new(e->rt, e->cfg, NULL, &e->c, &err) == 0, "%s", err.message);
}

static void teardown(env *e)
{
    kr_client_free(e->c);
    kr_rest_config_free(e->cfg);
    kr_runtime_free(e->rt);
    kr_testserver_free(e->ts);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* A kubeconfig for the server with `user` as the user's body. */
static const char *kubeconfig(char *buf, size_t size, const env *e, const char *user)
{
    snprintf(buf, size,
             "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
             "clusters:\n- name: t\n  cluster:\n    server: %s\n"
             "    certificate-authority: ca.crt\n"
             "users:\n- name: t\n  user:\n%s"
             "contexts:\n- name: t\n  context: {cluster: t, user: t, namespace: team}\n",
             kr_testserver_url(e->ts), user);
    return buf;
}

START_TEST(server_written_kubeconfig_connects)
{
    env e;
    if (!setup(&e))
        return;
    char path[512];
    snprintf(path, sizeof(path), "%s/written", dir);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_testserver_write_kubeconfig(e.ts, path, "team", &err), 0);
    kr_config_load_opts lo = {.kubeconfig = path};
    ck_assert_msg(kr_config_load(&lo, &e.cfg, &err) == 0, "%s", err.message);
    ck_assert_str_eq(e.cfg->namespace_, "team");
    e.cfg->qps = -1;
    ck_assert_msg(kr_client_new(e.rt, e.cfg, NULL, &e.c, &err) == 0, "%s", err.message);
    ck_assert_msg(kr_client_get(e.c, CM, "team", "absent", NULL, &err) == KR_ENOTFOUND, "%s",
                  err.message);
    teardown(&e);
}
END_TEST

START_TEST(exec_plugin_is_run_again_after_401)
{
    env e;
    if (!setup(&e))
        return;
    /* First run: a token the server refuses; later runs: the good one. */
    char script[1024];
    snprintf(script, sizeof(script),
             "#!/bin/sh\ncd '%s'\necho run >> runs\n"
             "if [ \"$(wc -l < runs)\" -eq 1 ]; then t=stale-token; else t=good-token; fi\n"
             "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
             "\"ExecCredential\",\"status\":{\"token\":\"%%s\"}}' \"$t\"\n",
             dir);
    put("plugin.sh", script, 0755);
    char yaml[2048];
    connect_with(&e, kubeconfig(yaml, sizeof(yaml), &e,
                                "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                "      command: ./plugin.sh\n      interactiveMode: Never\n"));
    kr_error_t err = {0};
    ck_assert_msg(kr_client_get(e.c, CM, "team", "absent", NULL, &err) == KR_ENOTFOUND, "%s",
                  err.message);
    ck_assert_str_eq(slurp("runs"), "run\nrun\n");
    /* Cached from now on. */
    ck_assert_int_eq(kr_client_get(e.c, CM, "team", "absent", NULL, &err), KR_ENOTFOUND);
    ck_assert_str_eq(slurp("runs"), "run\nrun\n");
    teardown(&e);
}
END_TEST

START_TEST(rotated_token_file_is_picked_up_after_401)
{
    env e;
    if (!setup(&e))
        return;
    put("token", "stale-token\n", 0600);
    char yaml[2048];
    connect_with(&e, kubeconfig(yaml, sizeof(yaml), &e, "    tokenFile: token\n"));
    kr_error_t err = {0};
    ck_assert_int_eq(kr_client_get(e.c, CM, "team", "absent", NULL, &err), KR_EUNAUTHORIZED);
    ck_assert_ptr_null(strstr(err.message, "stale-token"));
    put("token", "good-token\n", 0600);
    ck_assert_msg(kr_client_get(e.c, CM, "team", "absent", NULL, &err) == KR_ENOTFOUND, "%s",
                  err.message);
    teardown(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_client");
    TCase *tc = tcase_create("config_client");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, server_written_kubeconfig_connects);
    tcase_add_test(tc, exec_plugin_is_run_again_after_401);
    tcase_add_test(tc, rotated_token_file_is_picked_up_after_401);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
