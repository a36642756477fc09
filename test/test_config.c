/* Tests for the config module: kubeconfig parsing, kubectl's merge rules,
 * path resolution, validation messages, overrides, in-cluster config, the
 * token-file provider and exec credential plugins (shell scripts written
 * by the tests). One test runs threads: KR_TEST_THREADED. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config_internal.h"
#include "internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"

/* ---- helpers ----------------------------------------------------------------- */

static char tmp[256];

static void tmp_setup(void)
{
    ck_assert(kr_test_tmpdir_make(tmp, sizeof(tmp), "kr-config-test"));
}

static void tmp_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *path_in(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", tmp, rel);
    return buf;
}

static void write_file(const char *rel, const char *content)
{
    char path[512], dir[512];
    path_in(path, sizeof(path), rel);
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
}

static void write_script(const char *rel, const char *body)
{
    write_file(rel, body);
    char path[512];
    ck_assert_int_eq(chmod(path_in(path, sizeof(path), rel), 0755), 0);
}

/* Replace a file atomically, as the kubelet rotates projected tokens. */
static void replace_file(const char *rel, const char *content)
{
    char tmp_rel[256], from[512], to[512];
    snprintf(tmp_rel, sizeof(tmp_rel), "%s.new", rel);
    write_file(tmp_rel, content);
    ck_assert_int_eq(rename(path_in(from, sizeof(from), tmp_rel), path_in(to, sizeof(to), rel)), 0);
}

static char *read_back(const char *rel)
{
    char path[512];
    FILE *f = fopen(path_in(path, sizeof(path), rel), "r");
    if (!f)
        return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count_lines(const char *rel)
{
    const char *s = read_back(rel);
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static kr_kubeconfig_t *load_text(const char *yaml)
{
    kr_kubeconfig_t *kc = NULL;
    kr_error_t err = {0};
    int rc = kr_kubeconfig_load_memory(yaml, strlen(yaml), "test", tmp, NULL, &kc, &err);
    ck_assert_msg(rc == 0, "load: %s", err.message);
    return kc;
}

/* Load and build; returns the code, fills err. */
static int build_text(const char *yaml, const kr_config_overrides *ov, kr_rest_config **out,
                      kr_error_t *err)
{
    kr_kubeconfig_t *kc = NULL;
    *out = NULL;
    int rc = kr_kubeconfig_load_memory(yaml, strlen(yaml), "test", tmp, NULL, &kc, err);
    if (rc == 0)
        rc = kr_kubeconfig_rest_config(kc, ov, out, err);
    kr_kubeconfig_free(kc);
    return rc;
}

static void expect_error(const char *yaml, const kr_config_overrides *ov, int code,
                         const char *message)
{
    kr_rest_config *rc = NULL;
    kr_error_t err = {0};
    int got = build_text(yaml, ov, &rc, &err);
    ck_assert_msg(got == code, "expected %s, got %s: %s", kr_err_name(code), kr_err_name(got),
                  err.message);
    ck_assert_ptr_null(rc);
    ck_assert_msg(strstr(err.message, message) != NULL, "message \"%s\" lacks \"%s\"", err.message,
                  message);
}

#define HEAD "apiVersion: v1\nkind: Config\n"

/* "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==" is "-----BEGIN CERTIFICATE-----\n" */
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="
#define CA_PEM "-----BEGIN CERTIFICATE-----\n"

static const char *full_config = HEAD "current-context: dev\n"
                                      "preferences: {}\n"
                                      "clusters:\n"
                                      "- name: c1\n"
                                      "  cluster:\n"
                                      "    server: https://10.0.0.1:6443/prefix\n"
                                      "    certificate-authority: certs/ca.crt\n"
                                      "    tls-server-name: api.internal\n"
                                      "    proxy-url: socks5://proxy:1080\n"
                                      "    disable-compression: true\n"
                                      "- name: c2\n"
                                      "  cluster:\n"
                                      "    server: https://c2.example:443\n"
                                      "    certificate-authority-data: " CA_B64 "\n"
                                      "users:\n"
                                      "- name: u1\n"
                                      "  user:\n"
                                      "    client-certificate: certs/u.crt\n"
                                      "    client-key: certs/u.key\n"
                                      "    token: static-token-1\n"
                                      "    as: alice\n"
                                      "    as-groups: [devs, ops]\n"
                                      "    as-uid: \"1234\"\n"
                                      "- name: u2\n"
                                      "  user:\n"
                                      "    client-certificate-data: " CA_B64 "\n"
                                      "    client-key-data: a2V5LXBlbQ==\n"
                                      "- name: basic\n"
                                      "  user: {username: bob, password: pw-secret}\n"
                                      "contexts:\n"
                                      "- name: dev\n"
                                      "  context: {cluster: c1, user: u1, namespace: team-a}\n"
                                      "- name: other\n"
                                      "  context: {cluster: c2, user: u2}\n"
                                      "- name: basic\n"
                                      "  context: {cluster: c2, user: basic}\n";

static void make_cert_files(void)
{
    write_file("certs/ca.crt", CA_PEM);
    write_file("certs/u.crt", CA_PEM);
    write_file("certs/u.key", "key");
}

/* ---- parsing every field ------------------------------------------------------------ */

START_TEST(kubeconfig_parses_every_cluster_user_and_context_field)
{
    make_cert_files();
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_msg(build_text(full_config, NULL, &rc, &err) == 0, "%s", err.message);
    char want[512];
    ck_assert_str_eq(rc->server, "https://10.0.0.1:6443/prefix");
    ck_assert_str_eq(rc->ca_file, path_in(want, sizeof(want), "certs/ca.crt"));
    ck_assert_ptr_null(rc->ca_data);
    ck_assert_str_eq(rc->tls_server_name, "api.internal");
    ck_assert_str_eq(rc->proxy_url, "socks5://proxy:1080");
    ck_assert(rc->disable_compression);
    ck_assert(!rc->insecure_skip_tls_verify);
    ck_assert_str_eq(rc->client_cert_file, path_in(want, sizeof(want), "certs/u.crt"));
    ck_assert_str_eq(rc->client_key_file, path_in(want, sizeof(want), "certs/u.key"));
    ck_assert_str_eq(rc->bearer_token, "static-token-1");
    ck_assert_ptr_null(rc->bearer_token_file);
    ck_assert_ptr_null(rc->credentials);
    ck_assert_str_eq(rc->impersonate_user, "alice");
    ck_assert_str_eq(rc->impersonate_groups[0], "devs");
    ck_assert_str_eq(rc->impersonate_groups[1], "ops");
    ck_assert_ptr_null(rc->impersonate_groups[2]);
    ck_assert_str_eq(rc->impersonate_uid, "1234");
    ck_assert_str_eq(rc->namespace_, "team-a");
    kr_rest_config_free(rc);
}
END_TEST

/* A kubeconfig is its first YAML document: later ones are never read, as
 * client-go loads it (kubectl 1.32 uses such a file without a word). */
START_TEST(kubeconfig_later_documents_are_not_read)
{
    make_cert_files();
    char text[8192];
    snprintf(text, sizeof(text), "%s---\nfoo: [1, 2\n", full_config);
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_msg(build_text(text, NULL, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->server, "https://10.0.0.1:6443/prefix");
    kr_rest_config_free(rc);
}
END_TEST

START_TEST(kubeconfig_decodes_base64_data_fields)
{
    kr_config_overrides ov = {.context = "other"};
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_msg(build_text(full_config, &ov, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->server, "https://c2.example:443");
    ck_assert_str_eq(rc->ca_data, CA_PEM);
    ck_assert_ptr_null(rc->ca_file);
    ck_assert_str_eq(rc->client_cert_data, CA_PEM);
    ck_assert_str_eq(rc->client_key_data, "key-pem");
    ck_assert_str_eq(rc->namespace_, "default");
    kr_rest_config_free(rc);

    ov.context = "basic";
    ck_assert_msg(build_text(full_config, &ov, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->username, "bob");
    ck_assert_str_eq(rc->password, "pw-secret");
    kr_rest_config_free(rc);
}
END_TEST

START_TEST(kubeconfig_rejects_bad_base64_and_wrong_types)
{
    kr_kubeconfig_t *kc = NULL;
    kr_error_t err = {0};
    const char *bad = HEAD "clusters:\n- name: c\n  cluster:\n    certificate-authority-data: "
                           "abc$def\n";
    ck_assert_int_eq(kr_kubeconfig_load_memory(bad, strlen(bad), "f.yaml", tmp, NULL, &kc, &err),
                     KR_EPARSE);
    ck_assert_ptr_null(kc);
    ck_assert_str_eq(err.message,
                     "error loading config file \"f.yaml\": "
                     "clusters[0].cluster.certificate-authority-data: illegal base64 data at "
                     "input byte 3");
    const char *unpadded = HEAD "users:\n- name: u\n  user:\n    client-key-data: YWJj0\n";
    ck_assert_int_eq(
        kr_kubeconfig_load_memory(unpadded, strlen(unpadded), NULL, tmp, NULL, &kc, &err),
        KR_EPARSE);
    const char *boolcmd = HEAD "users:\n- name: u1\n  user:\n    exec:\n      command: false\n";
    ck_assert_int_eq(kr_kubeconfig_load_memory(boolcmd, strlen(boolcmd), "f", tmp, NULL, &kc, &err),
                     KR_EPARSE);
    ck_assert_str_eq(err.message, "error loading config file \"f\": users[0].user.exec.command: "
                                  "expected a string");
    const char *notlist = HEAD "clusters: {c1: {}}\n";
    ck_assert_int_eq(kr_kubeconfig_load_memory(notlist, strlen(notlist), "f", tmp, NULL, &kc, &err),
                     KR_EPARSE);
    const char *dup = HEAD "contexts:\n- name: a\n  context: {}\n- name: a\n  context: {}\n";
    ck_assert_int_eq(kr_kubeconfig_load_memory(dup, strlen(dup), "f", tmp, NULL, &kc, &err),
                     KR_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "duplicate name \"a\" in contexts"));
    /* extensions too, the file's and an entry's (clientcmd's conversion) */
    const char *dup_ext = HEAD "extensions:\n- name: x\n  extension: {}\n- name: x\n"
                               "  extension: {}\n";
    ck_assert_int_eq(kr_kubeconfig_load_memory(dup_ext, strlen(dup_ext), "f", tmp, NULL, &kc, &err),
                     KR_EPARSE);
    ck_assert_str_eq(err.message, "error loading config file \"f\": extensions: duplicate name "
                                  "\"x\" in extensions");
    const char *dup_cluster_ext = HEAD "clusters:\n- name: c1\n  cluster:\n    server: "
                                       "https://h\n    extensions:\n    - {name: ext-y}\n"
                                       "    - {name: ext-y}\n";
    ck_assert_int_eq(kr_kubeconfig_load_memory(dup_cluster_ext, strlen(dup_cluster_ext), "f", tmp,
                                               NULL, &kc, &err),
                     KR_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "clusters[0].cluster.extensions: duplicate name"));
    const char *yaml_err = "clusters: [\n";
    ck_assert_int_eq(
        kr_kubeconfig_load_memory(yaml_err, strlen(yaml_err), "f", tmp, NULL, &kc, &err),
        KR_EPARSE);
    ck_assert_ptr_nonnull(strstr(err.message, "error loading config file \"f\""));
    const char *scalar = "just a string\n";
    ck_assert_int_eq(kr_kubeconfig_load_memory(scalar, strlen(scalar), "f", tmp, NULL, &kc, &err),
                     KR_EPARSE);
    /* An empty document is an empty config. */
    ck_assert_int_eq(kr_kubeconfig_load_memory("", 0, "f", tmp, NULL, &kc, &err), 0);
    ck_assert_uint_eq(kr_kubeconfig_context_count(kc), 0);
    ck_assert_ptr_null(kr_kubeconfig_current_context(kc));
    kr_kubeconfig_free(kc);
}
END_TEST

/* ---- merging --------------------------------------------------------------------------- */

static const char *file1 =
    HEAD "clusters:\n- name: shared\n  cluster: {server: https://first:1}\n"
         "contexts:\n- name: one\n  context: {cluster: shared}\n"
         "- name: shared-ctx\n  context: {cluster: shared, namespace: from-first}\n";
static const char *file2 = HEAD "current-context: shared-ctx\n"
                                "clusters:\n- name: shared\n  cluster: {server: https://second:2, "
                                "insecure-skip-tls-verify: true}\n"
                                "- name: only2\n  cluster: {server: https://only2:2}\n"
                                "contexts:\n- name: shared-ctx\n  context: {cluster: only2, "
                                "namespace: from-second}\n"
                                "- name: two\n  context: {cluster: only2}\n";
static const char *file3 = HEAD "current-context: two\n"
                                "contexts:\n- name: three\n  context: {cluster: shared}\n";

START_TEST(kubeconfig_env_merges_first_definition_wins)
{
    write_file("a/config", file1);
    write_file("b/config", file2);
    write_file("c/config", file3);
    char env[2048];
    snprintf(env, sizeof(env),
             "::%s/a/config:%s/missing::%s/b/config:%s/c/config:%s/a/config:", tmp, tmp, tmp, tmp,
             tmp);
    setenv("KUBECONFIG", env, 1);
    kr_kubeconfig_t *kc;
    kr_error_t err = {0};
    ck_assert_msg(kr_kubeconfig_load_default(NULL, NULL, &kc, &err) == 0, "%s", err.message);
    unsetenv("KUBECONFIG");
    /* current-context from the first file that sets it (file2, not file3). */
    ck_assert_str_eq(kr_kubeconfig_current_context(kc), "shared-ctx");
    ck_assert_uint_eq(kr_kubeconfig_context_count(kc), 4);
    ck_assert_str_eq(kr_kubeconfig_context_name(kc, 0), "one");
    ck_assert_str_eq(kr_kubeconfig_context_name(kc, 1), "shared-ctx");
    ck_assert_str_eq(kr_kubeconfig_context_name(kc, 2), "two");
    ck_assert_str_eq(kr_kubeconfig_context_name(kc, 3), "three");
    ck_assert_ptr_null(kr_kubeconfig_context_name(kc, 4));
    const char *ns;
    ck_assert_int_eq(kr_kubeconfig_namespace(kc, NULL, &ns, &err), 0);
    ck_assert_str_eq(ns, "from-first"); /* the context is file1's, whole */
    kr_rest_config *rc;
    ck_assert_msg(kr_kubeconfig_rest_config(kc, NULL, &rc, &err) == 0, "%s", err.message);
    /* file1's cluster "shared", not file2's (fields are not merged either). */
    ck_assert_str_eq(rc->server, "https://first:1");
    ck_assert(!rc->insecure_skip_tls_verify);
    kr_rest_config_free(rc);
    kr_config_overrides ov = {.context = "three"};
    ck_assert_int_eq(kr_kubeconfig_rest_config(kc, &ov, &rc, &err), 0);
    ck_assert_str_eq(rc->server, "https://first:1");
    kr_rest_config_free(rc);
    ov.context = "two";
    ck_assert_int_eq(kr_kubeconfig_rest_config(kc, &ov, &rc, &err), 0);
    ck_assert_str_eq(rc->server, "https://only2:2");
    kr_rest_config_free(rc);
    kr_kubeconfig_free(kc);
}
END_TEST

/* The same files through kubectl itself: the merged view must agree. */
static json_t *kubectl_view(const char *kubeconfig_env, const char *context)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "KUBECONFIG='%s' kubectl config view --minify --raw -o json %s%s",
             kubeconfig_env, context ? "--context " : "", context ? context : "");
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    json_error_t jerr;
    json_t *doc = json_loadf(f, 0, &jerr);
    ck_assert_int_eq(pclose(f), 0);
    ck_assert_msg(doc != NULL, "kubectl output: %s", jerr.text);
    return doc;
}

START_TEST(kubeconfig_merge_agrees_with_kubectl)
{
    if (!kr_test_have_program("kubectl")) {
        kr_test_skip("kubeconfig_merge_agrees_with_kubectl", "kubectl not on PATH");
        return;
    }
    write_file("a/config", file1);
    write_file("b/config", file2);
    write_file("c/config", file3);
    char env[2048];
    snprintf(env, sizeof(env), "%s/a/config::%s/missing:%s/b/config:%s/c/config", tmp, tmp, tmp,
             tmp);
    setenv("KUBECONFIG", env, 1);
    kr_kubeconfig_t *kc;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_kubeconfig_load_default(NULL, NULL, &kc, &err), 0);
    unsetenv("KUBECONFIG");
    const char *contexts[] = {NULL, "one", "two", "three", "shared-ctx"};
    for (size_t i = 0; i < KR_ARRAY_LEN(contexts); i++) {
        json_t *view = kubectl_view(env, contexts[i]);
        if (!contexts[i])
            ck_assert_str_eq(json_string_value(json_object_get(view, "current-context")),
                             kr_kubeconfig_current_context(kc));
        kr_config_overrides ov = {.context = contexts[i]};
        kr_rest_config *rc;
        ck_assert_msg(kr_kubeconfig_rest_config(kc, &ov, &rc, &err) == 0, "%s", err.message);
        json_t *cluster =
            json_object_get(json_array_get(json_object_get(view, "clusters"), 0), "cluster");
        json_t *context =
            json_object_get(json_array_get(json_object_get(view, "contexts"), 0), "context");
        ck_assert_str_eq(rc->server, json_string_value(json_object_get(cluster, "server")));
        ck_assert_int_eq(rc->insecure_skip_tls_verify,
                         json_is_true(json_object_get(cluster, "insecure-skip-tls-verify")));
        const char *ns = json_string_value(json_object_get(context, "namespace"));
        ck_assert_str_eq(rc->namespace_, ns ? ns : "default");
        kr_rest_config_free(rc);
        json_decref(view);
    }
    kr_kubeconfig_free(kc);
}
END_TEST

START_TEST(kubeconfig_explicit_files_must_exist)
{
    write_file("a/config", file1);
    char a[512], missing[512];
    const char *paths[] = {path_in(a, sizeof(a), "a/config"),
                           path_in(missing, sizeof(missing), "nope")};
    kr_kubeconfig_t *kc;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_kubeconfig_load_files(paths, 2, NULL, &kc, &err), KR_ENOTFOUND);
    ck_assert_ptr_null(kc);
    ck_assert_ptr_nonnull(strstr(err.message, missing));
    ck_assert_int_eq(kr_kubeconfig_load_default(missing, NULL, &kc, &err), KR_ENOTFOUND);
    ck_assert_int_eq(kr_kubeconfig_load_files(paths, 1, NULL, &kc, &err), 0);
    ck_assert_uint_eq(kr_kubeconfig_context_count(kc), 2);
    kr_kubeconfig_free(kc);
}
END_TEST

START_TEST(kubeconfig_default_is_home_kube_config)
{
    unsetenv("KUBECONFIG");
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", tmp, 1);
    kr_kubeconfig_t *kc;
    kr_error_t err = {0};
    /* Absent: an empty config, and the "no configuration" error on use. */
    ck_assert_int_eq(kr_kubeconfig_load_default(NULL, NULL, &kc, &err), 0);
    ck_assert_uint_eq(kr_kubeconfig_context_count(kc), 0);
    kr_rest_config *rc;
    ck_assert_int_eq(kr_kubeconfig_rest_config(kc, NULL, &rc, &err), KR_ENOTFOUND);
    ck_assert_str_eq(err.message, "invalid configuration: no configuration has been provided, "
                                  "try setting KUBERNETES_MASTER environment variable");
    kr_kubeconfig_free(kc);
    write_file(".kube/config", file2);
    ck_assert_int_eq(kr_kubeconfig_load_default(NULL, NULL, &kc, &err), 0);
    ck_assert_str_eq(kr_kubeconfig_current_context(kc), "shared-ctx");
    kr_kubeconfig_free(kc);
    if (old_home) {
        setenv("HOME", old_home, 1);
        free(old_home);
    }
}
END_TEST

START_TEST(kubeconfig_relative_paths_resolve_against_their_file)
{
    write_file("one/ca.crt", CA_PEM);
    write_file("two/sub/client.crt", CA_PEM);
    write_file("two/sub/client.key", "key");
    write_file("two/token", "tok\n");
    write_file("one/config", HEAD "current-context: x\nclusters:\n- name: c\n  cluster: "
                                  "{server: https://h:1, certificate-authority: ca.crt}\n");
    char two[1024], abs_token[512];
    snprintf(two, sizeof(two),
             HEAD "users:\n- name: u\n  user:\n    client-certificate: sub/client.crt\n"
                  "    client-key: ./sub/../sub/client.key\n    tokenFile: %s\n"
                  "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
             path_in(abs_token, sizeof(abs_token), "two/token"));
    write_file("two/config", two);
    char p1[512], p2[512], want[512];
    const char *paths[] = {path_in(p1, sizeof(p1), "one/config"),
                           path_in(p2, sizeof(p2), "two/config")};
    kr_kubeconfig_t *kc;
    kr_error_t err = {0};
    ck_assert_msg(kr_kubeconfig_load_files(paths, 2, NULL, &kc, &err) == 0, "%s", err.message);
    kr_rest_config *rc;
    ck_assert_msg(kr_kubeconfig_rest_config(kc, NULL, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->ca_file, path_in(want, sizeof(want), "one/ca.crt"));
    ck_assert_str_eq(rc->client_cert_file, path_in(want, sizeof(want), "two/sub/client.crt"));
    ck_assert_str_eq(rc->client_key_file, path_in(want, sizeof(want), "two/sub/client.key"));
    ck_assert_str_eq(rc->bearer_token_file, abs_token);
    kr_rest_config_free(rc);
    kr_kubeconfig_free(kc);
    /* cleaned as Go's filepath.Clean: a relative path's leading ".." stay */
    static const char *const cases[][3] = {
        {".", "../../x", "../../x"}, {"a", "../../x", "../x"}, {"a/b", "../x", "a/x"},
        {"/a", "../../x", "/x"},     {"a", "b/../..", "."},    {"..", "../x/./y", "../../x/y"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = kr_config_resolve_path(cases[i][0], cases[i][1]);
        ck_assert_ptr_nonnull(got);
        ck_assert_msg(strcmp(got, cases[i][2]) == 0, "%s + %s: %s, want %s", cases[i][0],
                      cases[i][1], got, cases[i][2]);
        kr_free(got);
    }
}
END_TEST

/* ---- validation errors ---------------------------------------------------------------- */

#define ONE_CONTEXT                                                                                \
    "current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c1, user: u1}\n"

START_TEST(kubeconfig_errors_match_kubectl)
{
    make_cert_files();
    expect_error(HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h, "
                                  "certificate-authority: certs/ca.crt, "
                                  "certificate-authority-data: " CA_B64 "}\n"
                                  "users:\n- name: u1\n  user: {}\n",
                 NULL, KR_EINVAL,
                 "certificate-authority-data and certificate-authority are both specified for "
                 "c1. certificate-authority-data will override.");
    expect_error(HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h, "
                                  "certificate-authority: certs/ca.crt, "
                                  "insecure-skip-tls-verify: true}\n"
                                  "users:\n- name: u1\n  user: {}\n",
                 NULL, KR_EINVAL,
                 "specifying a root certificates file with the insecure flag is not allowed");
    expect_error(HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h, "
                                  "certificate-authority-data: " CA_B64 ", "
                                  "insecure-skip-tls-verify: true}\n"
                                  "users:\n- name: u1\n  user: {}\n",
                 NULL, KR_EINVAL,
                 "specifying a root certificates file with the insecure flag is not allowed");
    expect_error(HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h, "
                                  "certificate-authority: nope.crt}\n"
                                  "users:\n- name: u1\n  user: {}\n",
                 NULL, KR_EIO, "unable to read certificate-authority ");
    const char *c1 = "clusters:\n- name: c1\n  cluster: {server: https://h}\n";
    char yaml[2048];
#define USER_CASE(user_yaml, code, msg)                                                            \
    snprintf(yaml, sizeof(yaml), HEAD ONE_CONTEXT "%susers:\n- name: u1\n  user: %s\n", c1,        \
             user_yaml);                                                                           \
    expect_error(yaml, NULL, code, msg)
    USER_CASE("{client-certificate: certs/u.crt, client-certificate-data: " CA_B64
              ", client-key: certs/u.crt}",
              KR_EINVAL,
              "client-cert-data and client-cert are both specified for u1. client-cert-data "
              "will override.");
    USER_CASE("{client-certificate: certs/u.crt, client-key: certs/u.crt, client-key-data: "
              "eA==}",
              KR_EINVAL,
              "client-key-data and client-key are both specified for u1; client-key-data will "
              "override");
    USER_CASE("{client-certificate: certs/u.crt}", KR_EINVAL,
              "client-key-data or client-key must be specified for u1 to use the clientCert "
              "authentication method.");
    USER_CASE("{client-certificate: nope.crt, client-key: certs/u.crt}", KR_EIO,
              "unable to read client-cert ");
    USER_CASE("{client-certificate: certs/u.crt, client-key: nope.key}", KR_EIO,
              "unable to read client-key ");
    USER_CASE("{token: secret-tok, username: a, password: b}", KR_EINVAL,
              "more than one authentication method found for u1; found [token basicAuth], only "
              "one is allowed");
    USER_CASE("{tokenFile: missing-token}", KR_ENOTFOUND, "missing-token");
    USER_CASE("{exec: {apiVersion: client.authentication.k8s.io/v1, command: x}}", KR_EINVAL,
              "interactiveMode must be specified for u1 to use exec authentication plugin");
    USER_CASE("{exec: {apiVersion: client.authentication.k8s.io/v1, command: x, "
              "interactiveMode: Sometimes}}",
              KR_EINVAL, "invalid interactiveMode for u1: \"Sometimes\"");
    USER_CASE("{exec: {apiVersion: client.authentication.k8s.io/v1, interactiveMode: Never}}",
              KR_EINVAL, "command must be specified for u1 to use exec authentication plugin");
    USER_CASE("{exec: {command: x, interactiveMode: Never}}", KR_EINVAL,
              "apiVersion must be specified for u1 to use exec authentication plugin");
    USER_CASE("{exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}}", KR_EINVAL,
              "exec plugin: invalid apiVersion");
    USER_CASE("{exec: {apiVersion: client.authentication.k8s.io/v1, command: x, "
              "interactiveMode: Never, env: [{value: v}]}}",
              KR_EINVAL, "env variable name must be specified for u1");
    USER_CASE("{auth-provider: {name: oidc}}", KR_EUNSUPPORTED, "auth-provider");
#undef USER_CASE
    expect_error(HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h, "
                                  "proxy-url: 'ftp://p'}\n",
                 NULL, KR_ENOTFOUND, "user \"u1\" was not found for context \"dev\"");
    expect_error(HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h, "
                                  "proxy-url: 'ftp://p'}\nusers:\n- name: u1\n  user: {}\n",
                 NULL, KR_EINVAL,
                 "invalid 'proxy-url' \"ftp://p\" for cluster \"c1\": unsupported scheme "
                 "\"ftp\", must be http, https, or socks5");
    expect_error(HEAD ONE_CONTEXT "users:\n- name: u1\n  user: {}\n", NULL, KR_ENOTFOUND,
                 "cluster \"c1\" was not found for context \"dev\"");
    expect_error(HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {}\nusers:\n- name: u1\n "
                                  " user: {}\n",
                 NULL, KR_EINVAL, "no server found for cluster \"c1\"");
    kr_config_overrides ov = {.context = "nope"};
    expect_error(full_config, &ov, KR_ENOTFOUND,
                 "context was not found for specified context: nope");
    /* what kubectl --cluster nope and --user nope print */
    kr_config_overrides no_cluster = {.cluster = "nope"}, no_user = {.user = "nope"};
    expect_error(full_config, &no_cluster, KR_ENOTFOUND, "no server found for cluster \"nope\"");
    expect_error(full_config, &no_user, KR_ENOTFOUND, "auth info \"nope\" does not exist");
    expect_error(HEAD, NULL, KR_ENOTFOUND, "no configuration has been provided");
}
END_TEST

START_TEST(errors_never_contain_credentials)
{
    const char *yaml = HEAD ONE_CONTEXT
        "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
        "users:\n- name: u1\n  user: {token: sup3r-s3cret, username: a, password: pa55w0rd}\n";
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_int_eq(build_text(yaml, NULL, &rc, &err), KR_EINVAL);
    ck_assert_ptr_null(strstr(err.message, "sup3r-s3cret"));
    ck_assert_ptr_null(strstr(err.message, "pa55w0rd"));
}
END_TEST

/* ---- overrides, logging, plain http ------------------------------------------------------- */

struct log_capture {
    int warnings;
    char last[512];
};

static void capture(kr_log_level level, const char *module, const char *message, void *user)
{
    struct log_capture *c = user;
    (void)module;
    if (level == KR_LOG_WARN)
        c->warnings++;
    snprintf(c->last, sizeof(c->last), "%s", message);
}

START_TEST(overrides_replace_context_cluster_user_and_fields)
{
    make_cert_files();
    kr_kubeconfig_t *kc = load_text(full_config);
    kr_rest_config *rc;
    kr_error_t err = {0};
    kr_config_overrides ov = {.context = "other",
                              .cluster = "c1",
                              .user = "basic",
                              .namespace_ = "ns-override",
                              .server = "https://override:1",
                              .tls_server_name = "sni.override"};
    ck_assert_msg(kr_kubeconfig_rest_config(kc, &ov, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->server, "https://override:1");
    ck_assert_ptr_nonnull(strstr(rc->ca_file, "certs/ca.crt")); /* cluster c1 */
    ck_assert_str_eq(rc->tls_server_name, "sni.override");
    ck_assert_str_eq(rc->username, "bob");
    ck_assert_str_eq(rc->namespace_, "ns-override");
    kr_rest_config_free(rc);
    const char *ns;
    ck_assert_int_eq(kr_kubeconfig_namespace(kc, &ov, &ns, &err), 0);
    ck_assert_str_eq(ns, "ns-override");
    kr_config_overrides ctx_only = {.context = "other"};
    ck_assert_int_eq(kr_kubeconfig_namespace(kc, &ctx_only, &ns, &err), 0);
    ck_assert_str_eq(ns, "default");
    ck_assert_int_eq(kr_kubeconfig_namespace(kc, NULL, &ns, &err), 0);
    ck_assert_str_eq(ns, "team-a");
    ctx_only.context = "missing";
    ck_assert_int_eq(kr_kubeconfig_namespace(kc, &ctx_only, &ns, &err), KR_ENOTFOUND);

    /* --token replaces the user's token; --insecure drops the CA (kubectl). */
    struct log_capture cap = {0};
    kr_kubeconfig_free(kc);
    kr_kubeconfig_opts opts = {.logger = {.cb = capture, .max_level = KR_LOG_DEBUG, .user = &cap}};
    ck_assert_int_eq(
        kr_kubeconfig_load_memory(full_config, strlen(full_config), NULL, tmp, &opts, &kc, &err),
        0);
    kr_config_overrides ov2 = {.token = "flag-token", .insecure_skip_tls_verify = true};
    ck_assert_msg(kr_kubeconfig_rest_config(kc, &ov2, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->bearer_token, "flag-token");
    ck_assert_ptr_null(rc->ca_file);
    ck_assert(rc->insecure_skip_tls_verify);
    ck_assert_int_eq(cap.warnings, 1);
    ck_assert_ptr_nonnull(strstr(cap.last, "insecure-skip-tls-verify"));
    ck_assert_ptr_null(strstr(cap.last, "flag-token"));
    kr_rest_config_free(rc);
    /* No warning when verification is on. */
    ck_assert_int_eq(kr_kubeconfig_rest_config(kc, NULL, &rc, &err), 0);
    ck_assert_int_eq(cap.warnings, 1);
    kr_rest_config_free(rc);
    /* --certificate-authority replaces the cluster's CA data (kubectl), and
     * is refused together with --insecure-skip-tls-verify; the file it
     * names is the one checked (clientcmd validates the merged cluster). */
    char flag_ca[512];
    write_file("flag-ca.pem", "not checked here\n");
    path_in(flag_ca, sizeof(flag_ca), "flag-ca.pem");
    kr_config_overrides ov3 = {.context = "other", .certificate_authority = flag_ca};
    ck_assert_msg(kr_kubeconfig_rest_config(kc, &ov3, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->ca_file, flag_ca);
    ck_assert_ptr_null(rc->ca_data);
    kr_rest_config_free(rc);
    ov3.insecure_skip_tls_verify = true;
    ck_assert_int_eq(kr_kubeconfig_rest_config(kc, &ov3, &rc, &err), KR_EINVAL);
    ck_assert_str_eq(err.message,
                     "specifying a root certificates file with the insecure flag is not allowed");
    kr_config_overrides missing = {.context = "other", .certificate_authority = "/nonexistent/ca"};
    ck_assert_int_eq(kr_kubeconfig_rest_config(kc, &missing, &rc, &err), KR_EIO);
    ck_assert_ptr_nonnull(
        strstr(err.message, "unable to read certificate-authority /nonexistent/ca"));
    kr_kubeconfig_free(kc);
}
END_TEST

/* What clientcmd's ClientConfig does beside the credentials: the
 * overrides act on the cluster as merged, impersonation holds for any
 * server, a server's URL with a path loses its query, a token file with a
 * static token is read only when it can be. */
START_TEST(overrides_and_user_fields_as_clientcmd_merges_them)
{
    kr_rest_config *rc;
    kr_error_t err = {0};
    const char *insecure =
        HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h/base?x=1#f, "
                         "insecure-skip-tls-verify: true, tls-server-name: kube-name}\n"
                         "users:\n- name: u1\n  user: {token: t}\n";
    char ca[512];
    write_file("ca-override.pem", "x\n");
    path_in(ca, sizeof(ca), "ca-override.pem");
    /* --certificate-authority turns verification back on */
    kr_config_overrides with_ca = {.certificate_authority = ca};
    ck_assert_msg(build_text(insecure, &with_ca, &rc, &err) == 0, "%s", err.message);
    ck_assert(!rc->insecure_skip_tls_verify);
    ck_assert_str_eq(rc->ca_file, ca);
    ck_assert_str_eq(rc->server, "https://h/base");
    ck_assert_str_eq(rc->tls_server_name, "kube-name");
    kr_rest_config_free(rc);
    /* --server clears the cluster's tls-server-name */
    kr_config_overrides other = {.server = "https://elsewhere:6443?keep=1"};
    ck_assert_msg(build_text(insecure, &other, &rc, &err) == 0, "%s", err.message);
    ck_assert_ptr_null(rc->tls_server_name);
    ck_assert_str_eq(rc->server, "https://elsewhere:6443?keep=1"); /* no path: kept whole */
    kr_rest_config_free(rc);

    /* every validation error at once, as clientcmd gathers them */
    const char *missing_files = HEAD ONE_CONTEXT
        "clusters:\n- name: c1\n  cluster: {server: https://h, certificate-authority: "
        "/nonexistent/ca}\nusers:\n- name: u1\n  user: {client-certificate: /nonexistent/c, "
        "client-key: /nonexistent/k}\n";
    ck_assert_int_eq(build_text(missing_files, NULL, &rc, &err), KR_EIO);
    ck_assert_str_eq(err.message,
                     "[unable to read client-cert /nonexistent/c for u1 due to open "
                     "/nonexistent/c: no such file or directory, unable to read client-key "
                     "/nonexistent/k for u1 due to open /nonexistent/k: no such file or "
                     "directory, unable to read certificate-authority /nonexistent/ca for c1 due "
                     "to open /nonexistent/ca: no such file or directory]");

    /* impersonation, also toward a plain-http server */
    const char *as =
        HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: http://127.0.0.1:8080}\n"
                         "users:\n- name: u1\n  user: {token: t, as: alice, as-uid: abc123, "
                         "as-groups: [group-1]}\n";
    ck_assert_msg(build_text(as, NULL, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->impersonate_user, "alice");
    ck_assert_str_eq(rc->impersonate_uid, "abc123");
    ck_assert_str_eq(rc->impersonate_groups[0], "group-1");
    ck_assert_ptr_null(rc->bearer_token);
    kr_rest_config_free(rc);
    const char *groups_alone =
        HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
                         "users:\n- name: u1\n  user: {as-groups: [group-1]}\n";
    ck_assert_int_eq(build_text(groups_alone, NULL, &rc, &err), KR_EINVAL);
    ck_assert_str_eq(err.message,
                     "requesting uid, groups or user-extra for u1 without impersonating a user");

    /* a token file is no second method beside basic auth; with a static
     * token, an unreadable file leaves the token */
    const char *file_and_basic =
        HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
                         "users:\n- name: u1\n  user: {tokenFile: /nonexistent/token, username: u, "
                         "password: p}\n";
    kr_config_overrides token = {.token = "flag"};
    ck_assert_int_eq(build_text(file_and_basic, &token, &rc, &err), KR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "more than one authentication method"));
    const char *token_and_file = HEAD ONE_CONTEXT
        "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
        "users:\n- name: u1\n  user: {token: expected, tokenFile: /nonexistent/token}\n";
    ck_assert_msg(build_text(token_and_file, NULL, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->bearer_token, "expected");
    ck_assert_ptr_null(rc->credentials);
    kr_rest_config_free(rc);
}
END_TEST

START_TEST(plain_http_servers_get_no_credentials)
{
    const char *yaml = HEAD ONE_CONTEXT
        "clusters:\n- name: c1\n  cluster: {server: http://127.0.0.1:8080}\n"
        "users:\n- name: u1\n  user:\n    token: t\n    exec: {apiVersion: "
        "client.authentication.k8s.io/v1, command: /bin/false, interactiveMode: Never}\n";
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_msg(build_text(yaml, NULL, &rc, &err) == 0, "%s", err.message);
    ck_assert_ptr_null(rc->bearer_token);
    ck_assert_ptr_null(rc->credentials);
    kr_rest_config_free(rc);
}
END_TEST

/* ---- token files ---------------------------------------------------------------------- */

START_TEST(token_file_wins_over_token_and_follows_changes)
{
    write_file("tok", "  first-token\n");
    const char *yaml =
        HEAD ONE_CONTEXT "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
                         "users:\n- name: u1\n  user: {token: static, tokenFile: tok}\n";
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_msg(build_text(yaml, NULL, &rc, &err) == 0, "%s", err.message);
    ck_assert_ptr_nonnull(rc->credentials);
    kr_credential cred;
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), 0);
    ck_assert_str_eq(cred.token, "first-token");
    replace_file("tok", "second-token");
    /* Checked at most once a minute: still the cached token... */
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), 0);
    ck_assert_str_eq(cred.token, "first-token");
    /* ...unless forced (after a 401). */
    ck_assert_int_eq(rc->credentials->get(rc->credentials, true, &cred, &err), 0);
    ck_assert_str_eq(cred.token, "second-token");
    /* A copy shares the provider. */
    kr_rest_config *copy;
    ck_assert_int_eq(kr_rest_config_copy(rc, &copy, &err), 0);
    ck_assert_ptr_eq(copy->credentials, rc->credentials);
    kr_rest_config_free(rc);
    ck_assert_int_eq(copy->credentials->get(copy->credentials, false, &cred, &err), 0);
    ck_assert_str_eq(cred.token, "second-token");
    kr_rest_config_free(copy);
}
END_TEST

START_TEST(token_file_provider_rechecks_after_interval_and_keeps_token_on_errors)
{
    write_file("t", "one");
    char path[512];
    kr_credential_provider *p;
    kr_error_t err = {0};
    struct log_capture cap = {0};
    kr_logger lg = {.cb = capture, .max_level = KR_LOG_DEBUG, .user = &cap};
    ck_assert_int_eq(
        kr_credential_provider_token_file_new(path_in(path, sizeof(path), "t"), 1, &lg, &p, &err),
        0);
    replace_file("t", "two");
    kr_credential cred = {0};
    time_t deadline = time(NULL) + 10;
    do {
        ck_assert_int_eq(p->get(p, false, &cred, &err), 0);
    } while (strcmp(cred.token, "two") != 0 && time(NULL) < deadline);
    ck_assert_str_eq(cred.token, "two");
    /* Gone or empty: keep serving the last token, with a warning. */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(p->get(p, true, &cred, &err), 0);
    ck_assert_str_eq(cred.token, "two");
    ck_assert_int_eq(cap.warnings, 1);
    write_file("t", "\n");
    ck_assert_int_eq(p->get(p, true, &cred, &err), 0);
    ck_assert_str_eq(cred.token, "two");
    ck_assert_int_eq(cap.warnings, 2);
    ck_assert_ptr_null(strstr(cap.last, "two"));
    p->free(p);
    ck_assert_int_eq(kr_credential_provider_token_file_new(path, 0, NULL, &p, &err), KR_EINVAL);
    ck_assert_ptr_eq(strstr(err.message, "read empty token from file "), err.message);
}
END_TEST

/* ---- in-cluster ---------------------------------------------------------------------------- */

static void service_account(void)
{
    write_file("sa/token", "sa-token-1\n");
    write_file("sa/ca.crt", CA_PEM);
    write_file("sa/namespace", "kube-team\n");
}

START_TEST(in_cluster_requires_both_variables)
{
    unsetenv("KUBERNETES_SERVICE_HOST");
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_config_in_cluster(NULL, &rc, &err), KR_ENOTFOUND);
    ck_assert_str_eq(err.message, "unable to load in-cluster configuration, "
                                  "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
                                  "defined");
    unsetenv("KUBERNETES_SERVICE_PORT");
}
END_TEST

START_TEST(in_cluster_reads_service_account_and_follows_rotation)
{
    service_account();
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    char dir[512], want[512];
    kr_in_cluster_opts opts = {.service_account_dir = path_in(dir, sizeof(dir), "sa")};
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_msg(kr_config_in_cluster(&opts, &rc, &err) == 0, "%s", err.message);
    ck_assert_str_eq(rc->server, "https://10.96.0.1:443");
    ck_assert_str_eq(rc->ca_file, path_in(want, sizeof(want), "sa/ca.crt"));
    ck_assert_str_eq(rc->bearer_token_file, path_in(want, sizeof(want), "sa/token"));
    ck_assert_str_eq(rc->bearer_token, "sa-token-1");
    ck_assert_str_eq(rc->namespace_, "kube-team");
    kr_credential cred;
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), 0);
    ck_assert_str_eq(cred.token, "sa-token-1");
    replace_file("sa/token", "sa-token-2");
    ck_assert_int_eq(rc->credentials->get(rc->credentials, true, &cred, &err), 0);
    ck_assert_str_eq(cred.token, "sa-token-2");
    kr_rest_config_free(rc);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    write_file("sa/namespace", "");
    ck_assert_int_eq(kr_config_in_cluster(&opts, &rc, &err), 0);
    ck_assert_str_eq(rc->server, "https://[fd00::1]:443");
    ck_assert_str_eq(rc->namespace_, "default");
    kr_rest_config_free(rc);
    /* Without a CA file: left out (client-go logs it), not fatal. */
    ck_assert_int_eq(unlink(path_in(want, sizeof(want), "sa/ca.crt")), 0);
    ck_assert_int_eq(kr_config_in_cluster(&opts, &rc, &err), 0);
    ck_assert_ptr_null(rc->ca_file);
    kr_rest_config_free(rc);

    write_file("sa/token", "");
    ck_assert_int_eq(kr_config_in_cluster(&opts, &rc, &err), KR_EINVAL);
    unlink(path_in(want, sizeof(want), "sa/token"));
    ck_assert_int_eq(kr_config_in_cluster(&opts, &rc, &err), KR_ENOTFOUND);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}
END_TEST

START_TEST(config_load_searches_like_controller_runtime)
{
    service_account();
    write_file("explicit", HEAD "current-context: e\nclusters:\n- name: c\n  cluster: {server: "
                                "https://explicit:1}\ncontexts:\n- name: e\n  context: {cluster: "
                                "c}\n");
    write_file("env", HEAD "current-context: e\nclusters:\n- name: c\n  cluster: {server: "
                           "https://env:1}\ncontexts:\n- name: e\n  context: {cluster: c}\n");
    write_file("home/.kube/config", HEAD "current-context: e\nclusters:\n- name: c\n  cluster: "
                                         "{server: https://home:1}\ncontexts:\n- name: e\n  "
                                         "context: {cluster: c}\n");
    char explicit_path[512], env_path[512], dir[512], home[512];
    path_in(explicit_path, sizeof(explicit_path), "explicit");
    path_in(env_path, sizeof(env_path), "env");
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", path_in(home, sizeof(home), "home"), 1);
    setenv("KUBECONFIG", env_path, 1);
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.9", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    kr_config_load_opts opts = {.kubeconfig = explicit_path,
                                .in_cluster.service_account_dir = path_in(dir, sizeof(dir), "sa")};
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_config_load(&opts, &rc, &err), 0);
    ck_assert_str_eq(rc->server, "https://explicit:1");
    kr_rest_config_free(rc);
    opts.kubeconfig = NULL;
    ck_assert_int_eq(kr_config_load(&opts, &rc, &err), 0);
    ck_assert_str_eq(rc->server, "https://env:1");
    kr_rest_config_free(rc);
    unsetenv("KUBECONFIG");
    ck_assert_int_eq(kr_config_load(&opts, &rc, &err), 0);
    ck_assert_str_eq(rc->server, "https://10.0.0.9:6443");
    kr_rest_config_free(rc);
    unsetenv("KUBERNETES_SERVICE_HOST");
    ck_assert_int_eq(kr_config_load(&opts, &rc, &err), 0);
    ck_assert_str_eq(rc->server, "https://home:1");
    kr_rest_config_free(rc);
    setenv("HOME", tmp, 1);
    ck_assert_int_eq(kr_config_load(NULL, &rc, &err), KR_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.message, "no configuration has been provided"));
    unsetenv("KUBERNETES_SERVICE_PORT");
    if (old_home) {
        setenv("HOME", old_home, 1);
        free(old_home);
    }
}
END_TEST

/* ---- exec plugins -------------------------------------------------------------------------- */

/* The plugin records each run, its KUBERNETES_EXEC_INFO, args and env, then
 * prints the credential given in the file "out" of the test directory. */
static void write_plugin(const char *rel)
{
    char script[2048];
    snprintf(script, sizeof(script),
             "#!/bin/sh\n"
             "echo run >> '%s/runs'\n"
             "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > '%s/exec-info'\n"
             "echo \"$# $1 $2 FOO=$FOO HOME_SET=${HOME:+yes}\" > '%s/args'\n"
             "grep -E 'SigBlk|SigIgn' /proc/self/status > '%s/signals'\n"
             "cat '%s/out'\n",
             tmp, tmp, tmp, tmp, tmp);
    write_script(rel, script);
}

static const char *exec_config(char *buf, size_t size, const char *api_version, const char *command,
                               const char *extra)
{
    snprintf(buf, size,
             HEAD ONE_CONTEXT
             "clusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:6443\n"
             "    insecure-skip-tls-verify: true\n"
             "users:\n- name: u1\n  user:\n    exec:\n"
             "      apiVersion: %s\n      command: %s\n"
             "      args: [--cluster, c1]\n"
             "      env: [{name: FOO, value: bar}, {name: HOME, value: /h}]\n%s",
             api_version, command, extra);
    return buf;
}

static kr_rest_config *exec_rest_config(const char *yaml)
{
    kr_rest_config *rc;
    kr_error_t err = {0};
    ck_assert_msg(build_text(yaml, NULL, &rc, &err) == 0, "%s", err.message);
    ck_assert_ptr_nonnull(rc->credentials);
    return rc;
}

START_TEST(exec_v1_token_is_cached_until_forced)
{
    write_plugin("bin/plugin");
    write_file("out", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
                      "\"ExecCredential\",\"status\":{\"token\":\"exec-token-1\","
                      "\"expirationTimestamp\":\"2999-01-02T03:04:05Z\"}}\n");
    char yaml[2048];
    kr_rest_config *rc =
        exec_rest_config(exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1",
                                     "./bin/plugin", "      interactiveMode: Never\n"));
    ck_assert_int_eq(count_lines("runs"), 0); /* nothing runs before get() */
    signal(SIGPIPE, SIG_IGN);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, NULL);
    kr_credential cred;
    kr_error_t err = {0};
    ck_assert_msg(rc->credentials->get(rc->credentials, false, &cred, &err) == 0, "%s",
                  err.message);
    ck_assert_str_eq(cred.token, "exec-token-1");
    ck_assert_int_eq(cred.expires_unix, 32472241445LL);
    ck_assert_ptr_null(cred.client_cert_pem);
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), 0);
    ck_assert_int_eq(count_lines("runs"), 1);
    ck_assert_str_eq(read_back("exec-info"),
                     "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/"
                     "v1\",\"spec\":{\"interactive\":false}}");
    ck_assert_str_eq(read_back("args"), "2 --cluster c1 FOO=bar HOME_SET=yes\n");
    /* Default signals in the plugin whatever the caller blocks or ignores. */
    /* (Signals from 32 up are the C library's own, outside our reach.) */
    const char *sig = read_back("signals");
    const char *blk = strstr(sig, "SigBlk:"), *ign = strstr(sig, "SigIgn:");
    ck_assert(blk && ign);
    ck_assert_uint_eq(strtoull(blk + 7, NULL, 16) & 0x7fffffffULL, 0);
    ck_assert_uint_eq(strtoull(ign + 7, NULL, 16) & 0x7fffffffULL, 0);
    write_file("out", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
                      "\"ExecCredential\",\"status\":{\"token\":\"exec-token-2\"}}\n");
    ck_assert_int_eq(rc->credentials->get(rc->credentials, true, &cred, &err), 0);
    ck_assert_str_eq(cred.token, "exec-token-2");
    ck_assert_int_eq(cred.expires_unix, 0);
    ck_assert_int_eq(count_lines("runs"), 2);
    /* No expiry: cached until the next forced refresh. */
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), 0);
    ck_assert_int_eq(count_lines("runs"), 2);
    kr_rest_config_free(rc);
}
END_TEST

START_TEST(exec_v1beta1_certificate_with_cluster_info_and_expiry)
{
    write_plugin("plugin.sh");
    write_file("out", "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":"
                      "\"ExecCredential\",\"status\":{\"clientCertificateData\":\"CERT PEM\","
                      "\"clientKeyData\":\"KEY PEM\","
                      "\"expirationTimestamp\":\"2001-01-01T00:00:00.5+01:00\"}}");
    char yaml[4096], plugin[512];
    const char *cluster = HEAD ONE_CONTEXT
        "clusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:6443\n"
        "    certificate-authority-data: " CA_B64 "\n    tls-server-name: api\n"
        "    proxy-url: http://proxy:3128\n"
        "    extensions:\n    - name: other\n      extension: {x: 1}\n"
        "    - name: client.authentication.k8s.io/exec\n      extension: {audience: a1}\n"
        "users:\n- name: u1\n  user:\n    exec:\n      apiVersion: "
        "client.authentication.k8s.io/v1beta1\n      command: %s\n      provideClusterInfo: "
        "true\n";
    snprintf(yaml, sizeof(yaml), cluster, path_in(plugin, sizeof(plugin), "plugin.sh"));
    kr_rest_config *rc = exec_rest_config(yaml);
    kr_credential cred;
    kr_error_t err = {0};
    ck_assert_msg(rc->credentials->get(rc->credentials, false, &cred, &err) == 0, "%s",
                  err.message);
    ck_assert_str_eq(cred.client_cert_pem, "CERT PEM");
    ck_assert_str_eq(cred.client_key_pem, "KEY PEM");
    ck_assert_ptr_null(cred.token);
    ck_assert_int_eq(cred.expires_unix, 978303600LL);
    /* Expired: every get runs the plugin again. */
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), 0);
    ck_assert_int_eq(count_lines("runs"), 2);
    ck_assert_str_eq(read_back("exec-info"),
                     "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/"
                     "v1beta1\",\"spec\":{\"cluster\":{\"server\":\"https://127.0.0.1:6443\","
                     "\"tls-server-name\":\"api\",\"certificate-authority-data\":\"" CA_B64 "\","
                     "\"proxy-url\":\"http://proxy:3128\",\"config\":{\"audience\":\"a1\"}},"
                     "\"interactive\":false}}");
    kr_rest_config_free(rc);
}
END_TEST

START_TEST(exec_cluster_info_matches_kubectl_sample)
{
    write_plugin("p");
    write_file("out", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
                      "\"ExecCredential\",\"status\":{\"token\":\"t\"}}");
    char yaml[2048];
    kr_rest_config *rc = exec_rest_config(
        exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1", "./p",
                    "      interactiveMode: IfAvailable\n      provideClusterInfo: true\n"));
    kr_credential cred;
    kr_error_t err = {0};
    ck_assert_msg(rc->credentials->get(rc->credentials, false, &cred, &err) == 0, "%s",
                  err.message);
    /* The document of the wire spec, byte for byte. */
    ck_assert_str_eq(read_back("exec-info"),
                     "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/"
                     "v1\",\"spec\":{\"cluster\":{\"server\":\"https://127.0.0.1:6443\","
                     "\"insecure-skip-tls-verify\":true,\"config\":null},\"interactive\":false}}");
    kr_rest_config_free(rc);
}
END_TEST

START_TEST(exec_failures_are_reported_without_credentials)
{
    char yaml[2048];
    kr_error_t err = {0};
    kr_credential cred;
    write_script("fail.sh", "#!/bin/sh\necho 'token=leaked-secret' \necho 'cannot reach idp' >&2\n"
                            "echo 'second line' >&2\nexit 3\n");
    kr_rest_config *rc =
        exec_rest_config(exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1",
                                     "./fail.sh", "      interactiveMode: Never\n"));
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), KR_EIO);
    char want[1024], path[512];
    snprintf(want, sizeof(want), "exec: executable %s failed with exit code 3: cannot reach idp",
             path_in(path, sizeof(path), "fail.sh"));
    ck_assert_str_eq(err.message, want);
    kr_rest_config_free(rc);

    rc = exec_rest_config(exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1",
                                      "kr-no-such-plugin",
                                      "      interactiveMode: Never\n      installHint: get it "
                                      "from the wiki\n"));
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), KR_ENOTFOUND);
    ck_assert_ptr_eq(strstr(err.message, "exec: executable kr-no-such-plugin not found\n\nIt "
                                         "looks like"),
                     err.message);
    ck_assert_ptr_nonnull(strstr(err.message, "\n\nget it from the wiki"));
    kr_rest_config_free(rc);
    /* a hint that could drive the terminal is shown defused, as clientcmd
     * shows it (YAML's escapes: ESC, a right-to-left override, a tab kept) */
    rc = exec_rest_config(exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1",
                                      "kr-no-such-plugin",
                                      "      interactiveMode: Never\n      installHint: "
                                      "\"\\e[1mbold\\u202e\\tcaf\\u00e9\"\n"));
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), KR_ENOTFOUND);
    ck_assert_msg(strstr(err.message, "\n\nU+001B[1mboldU+202E\tcaf\xc3\xa9"), "%s", err.message);
    kr_rest_config_free(rc);

    static const struct {
        const char *output;
        const char *message;
    } bad[] = {
        {"not json leaked-secret", "decoding stdout: couldn't get version/kind"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"token\":\"leaked-secret\"}}",
         "exec plugin is configured to use API version client.authentication.k8s.io/v1, plugin "
         "returned version client.authentication.k8s.io/v1beta1"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\"}",
         "exec plugin didn't return a status field"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{}}",
         "exec plugin didn't return a token or cert/key pair"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"clientCertificateData\":\"leaked-secret\"}}",
         "exec plugin returned only certificate or key, not both"},
        {"{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"token\":\"leaked-secret\",\"expirationTimestamp\":\"tomorrow\"}}",
         "expirationTimestamp is not an RFC 3339 time"},
    };
    write_plugin("p");
    rc = exec_rest_config(exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1", "./p",
                                      "      interactiveMode: Never\n"));
    for (size_t i = 0; i < KR_ARRAY_LEN(bad); i++) {
        write_file("out", bad[i].output);
        ck_assert_int_eq(rc->credentials->get(rc->credentials, true, &cred, &err), KR_EPARSE);
        ck_assert_msg(strstr(err.message, bad[i].message), "case %zu: %s", i, err.message);
        ck_assert_ptr_null(strstr(err.message, "leaked-secret"));
    }
    kr_rest_config_free(rc);

    rc = exec_rest_config(exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1", "./p",
                                      "      interactiveMode: Always\n"));
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), KR_EINVAL);
    ck_assert_str_eq(err.message, "exec plugin cannot support interactive mode: standard input "
                                  "is not a terminal");
    kr_rest_config_free(rc);
}
END_TEST

START_TEST(exec_output_is_bounded)
{
    write_script("big.sh", "#!/bin/sh\nhead -c 3000000 /dev/zero\n");
    char yaml[2048];
    kr_rest_config *rc =
        exec_rest_config(exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1",
                                     "./big.sh", "      interactiveMode: Never\n"));
    kr_credential cred;
    kr_error_t err = {0};
    ck_assert_int_eq(rc->credentials->get(rc->credentials, false, &cred, &err), KR_ETOOLARGE);
    kr_rest_config_free(rc);
}
END_TEST

struct concurrent {
    kr_credential_provider *p;
    int rc;
    char token[64];
};

static void *concurrent_get(void *arg)
{
    struct concurrent *c = arg;
    kr_credential cred;
    c->rc = c->p->get(c->p, false, &cred, NULL);
    if (c->rc == 0)
        snprintf(c->token, sizeof(c->token), "%s", cred.token);
    return NULL;
}

START_TEST(exec_concurrent_callers_run_the_plugin_once)
{
    write_plugin("p");
    write_file("out", "{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
                      "\"ExecCredential\",\"status\":{\"token\":\"shared\"}}");
    char yaml[2048];
    kr_rest_config *rc =
        exec_rest_config(exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1", "./p",
                                     "      interactiveMode: Never\n"));
    struct concurrent c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (struct concurrent){.p = rc->credentials};
        ck_assert_int_eq(pthread_create(&th[i], NULL, concurrent_get, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(c[i].rc, 0);
        ck_assert_str_eq(c[i].token, "shared");
    }
    ck_assert_int_eq(count_lines("runs"), 1);
    kr_rest_config_free(rc);
}
END_TEST

/* ---- copies and allocation failures -----------------------------------------------------------
 */

START_TEST(rest_config_copy_is_deep)
{
    kr_config_overrides ov = {.context = "other"};
    kr_rest_config *rc, *copy;
    kr_error_t err = {0};
    make_cert_files();
    ck_assert_int_eq(build_text(full_config, &ov, &rc, &err), 0);
    ck_assert_uint_eq(rc->version, KR_REST_CONFIG_VERSION); /* the library's configs carry it */
    rc->impersonate_groups = kr_calloc(2, sizeof(char *));
    rc->impersonate_groups[0] = kr_strdup("g");
    ck_assert_int_eq(kr_rest_config_copy(rc, &copy, &err), 0);
    ck_assert_uint_eq(copy->version, KR_REST_CONFIG_VERSION);
    ck_assert_ptr_ne(copy->ca_data, rc->ca_data);
    ck_assert_str_eq(copy->ca_data, rc->ca_data);
    ck_assert_str_eq(copy->impersonate_groups[0], "g");
    kr_rest_config_free(rc);
    ck_assert_str_eq(copy->server, "https://c2.example:443");
    kr_rest_config_free(copy);
    kr_rest_config_free(NULL);
    kr_kubeconfig_free(NULL);

    /* a stack config of version 0 (taken as 1) copies to the current version */
    kr_rest_config stack = {.server = "https://s.example", .qps = 7};
    ck_assert_int_eq(kr_rest_config_copy(&stack, &copy, &err), 0);
    ck_assert_uint_eq(copy->version, KR_REST_CONFIG_VERSION);
    ck_assert_str_eq(copy->server, "https://s.example");
    ck_assert(copy->qps == 7);
    kr_rest_config_free(copy);

    kr_credential_provider opaque = {0};
    ck_assert_int_eq(kr_rest_config_new(&rc, &err), 0);
    ck_assert_uint_eq(rc->version, KR_REST_CONFIG_VERSION);
    rc->credentials = &opaque;
    ck_assert_int_eq(kr_rest_config_copy(rc, &copy, &err), KR_EUNSUPPORTED);
    rc->credentials = NULL;
    kr_rest_config_free(rc);
}
END_TEST

static int load_and_build(void *arg)
{
    const char *yaml = arg;
    kr_kubeconfig_t *kc = NULL;
    kr_rest_config *rc = NULL, *copy = NULL;
    kr_error_t err = {0};
    int rc_code = kr_kubeconfig_load_memory(yaml, strlen(yaml), "sweep", tmp, NULL, &kc, &err);
    if (rc_code == 0)
        rc_code = kr_kubeconfig_rest_config(kc, NULL, &rc, &err);
    if (rc_code == 0)
        rc_code = kr_rest_config_copy(rc, &copy, &err);
    kr_rest_config_free(copy);
    kr_rest_config_free(rc);
    kr_kubeconfig_free(kc);
    /* Behaved: succeeded, or reported the failed allocation. */
    if (rc_code == 0 || rc_code == KR_ENOMEM || rc_code == KR_EPARSE)
        return 0;
    fprintf(stderr, "unexpected %s: %s\n", kr_err_name(rc_code), err.message);
    return 1;
}

START_TEST(allocation_failures_are_reported_without_leaks)
{
    make_cert_files();
    write_file("tok", "tok");
    write_plugin("p");
    char yaml[4096];
    snprintf(yaml, sizeof(yaml), "%s", full_config);
    long runs = kr_test_alloc_failure_sweep(load_and_build, yaml);
    ck_assert_msg(runs > 20, "sweep returned %ld", runs);
    const char *token_file = HEAD ONE_CONTEXT
        "clusters:\n- name: c1\n  cluster: {server: https://h}\n"
        "users:\n- name: u1\n  user: {tokenFile: tok, as: someone, as-groups: [a, b]}\n";
    runs = kr_test_alloc_failure_sweep(load_and_build, (void *)token_file);
    ck_assert_msg(runs > 10, "sweep returned %ld", runs);
    exec_config(yaml, sizeof(yaml), "client.authentication.k8s.io/v1", "./p",
                "      interactiveMode: Never\n      provideClusterInfo: true\n");
    runs = kr_test_alloc_failure_sweep(load_and_build, yaml);
    ck_assert_msg(runs > 10, "sweep returned %ld", runs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, kubeconfig_parses_every_cluster_user_and_context_field);
    tcase_add_test(tc, kubeconfig_later_documents_are_not_read);
    tcase_add_test(tc, kubeconfig_decodes_base64_data_fields);
    tcase_add_test(tc, kubeconfig_rejects_bad_base64_and_wrong_types);
    tcase_add_test(tc, kubeconfig_env_merges_first_definition_wins);
    tcase_add_test(tc, kubeconfig_merge_agrees_with_kubectl);
    tcase_add_test(tc, kubeconfig_explicit_files_must_exist);
    tcase_add_test(tc, kubeconfig_default_is_home_kube_config);
    tcase_add_test(tc, kubeconfig_relative_paths_resolve_against_their_file);
    tcase_add_test(tc, kubeconfig_errors_match_kubectl);
    tcase_add_test(tc, errors_never_contain_credentials);
    tcase_add_test(tc, overrides_replace_context_cluster_user_and_fields);
    tcase_add_test(tc, plain_http_servers_get_no_credentials);
    tcase_add_test(tc, overrides_and_user_fields_as_clientcmd_merges_them);
    tcase_add_test(tc, token_file_wins_over_token_and_follows_changes);
    tcase_add_test(tc, token_file_provider_rechecks_after_interval_and_keeps_token_on_errors);
    tcase_add_test(tc, in_cluster_requires_both_variables);
    tcase_add_test(tc, in_cluster_reads_service_account_and_follows_rotation);
    tcase_add_test(tc, config_load_searches_like_controller_runtime);
    tcase_add_test(tc, exec_v1_token_is_cached_until_forced);
    tcase_add_test(tc, exec_v1beta1_certificate_with_cluster_info_and_expiry);
    tcase_add_test(tc, exec_cluster_info_matches_kubectl_sample);
    tcase_add_test(tc, exec_failures_are_reported_without_credentials);
    tcase_add_test(tc, exec_output_is_bounded);
    tcase_add_test(tc, exec_concurrent_callers_run_the_plugin_once);
    tcase_add_test(tc, rest_config_copy_is_deep);
    tcase_add_test(tc, allocation_failures_are_reported_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
