/* Tests of the kr-get example program against the in-memory API server:
 * its JSON lines match `kubectl get -o json` on the same objects, errors
 * print the Status message as kubectl does and exit 1, and -w follows the
 * watch across a clean reconnect and a 410 relist. kubectl checks are
 * skipped (loudly) when kubectl is absent. Threaded: KR_TEST_THREADED */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

static char log_dir[64]; /* the children's output */

/* A program run by a test, its output read line by line from its log. */
typedef struct child {
    kr_test_proc p;
    size_t at; /* what next_line returned so far */
} child;

static void spawn(child *c, char *const argv[], bool with_stderr)
{
    static int n;
    char log[128];
    snprintf(log, sizeof(log), "%s/child-%d-%d.log", log_dir, (int)getpid(), ++n);
    c->at = 0;
    if (with_stderr)
        kr_test_proc_start(&c->p, log, (const char *const *)argv);
    else
        kr_test_proc_start_split(&c->p, log, NULL, (const char *const *)argv);
}

/* One line of the child's output, waiting up to `seconds`; NULL at EOF or
 * timeout. The line stays valid until the next call. */
static char *next_line(child *c, int seconds, char *line, size_t size)
{
    time_t deadline = time(NULL) + seconds;
    for (;;) {
        bool ended = !kr_test_proc_running(&c->p); /* before the read: nothing comes after */
        char *text = kr_test_proc_log_text(&c->p);
        size_t len = strlen(text);
        char *nl = len > c->at ? memchr(text + c->at, '\n', len - c->at) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - (text + c->at));
            snprintf(line, size, "%.*s", (int)n, text + c->at);
            c->at += n + 1;
            free(text);
            return line;
        }
        free(text);
        if (ended || time(NULL) >= deadline)
            return NULL;
        struct timespec pace = {0, 10 * 1000 * 1000};
        nanosleep(&pace, NULL);
    }
}

/* Its exit status (killed after 60 s: -1); its log removed. */
static int finish(child *c)
{
    int status = kr_test_proc_wait(&c->p, 60000);
    if (status < 0)
        kr_test_proc_kill(&c->p, SIGKILL);
    unlink(c->p.log);
    kr_test_proc_free(&c->p);
    return status;
}

static char cert_dir[64];
static bool have_certs;

/* An https server with the token `token` ("TOKEN:USER[:VERBS]"), and a
 * kubeconfig for it that it wrote. */
static kr_testserver_t *tls_server_with(char *kubeconfig, size_t size, const char *token)
{
    char *crt = kr_test_read_file(cert_dir, "srv.crt"),
         *key = kr_test_read_file(cert_dir, "srv.key");
    ck_assert(crt && key);
    const char *tokens[] = {token, NULL};
    kr_testserver_opts o = {.seed = 7, .tokens = tokens, .tls_cert_pem = crt, .tls_key_pem = key};
    kr_testserver_t *ts = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &ts, &err) == 0, "%s", err.message);
    free(crt);
    free(key);
    snprintf(kubeconfig, size, "%s/kubeconfig", cert_dir);
    ck_assert_int_eq(kr_testserver_write_kubeconfig(ts, kubeconfig, "default", &err), 0);
    return ts;
}

/* tls_server_with a token that may do anything. */
static kr_testserver_t *tls_server(char *kubeconfig, size_t size)
{
    return tls_server_with(kubeconfig, size, "kr-get-sekret:alice");
}

static kr_testserver_t *server(void)
{
    kr_testserver_opts o = {.seed = 7};
    kr_testserver_t *ts = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &ts, &err) == 0, "%s", err.message);
    return ts;
}

static void load_app(kr_testserver_t *ts, const char *name, const char *app)
{
    char doc[512];
    snprintf(doc, sizeof(doc),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"default\",\"labels\":{\"app\":\"%s\"}},\"data\":{\"k\":\"v\"}}",
             name, app);
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, doc, strlen(doc), &err) == 0, "%s", err.message);
}

static void load(kr_testserver_t *ts, const char *name, const char *value)
{
    (void)value;
    load_app(ts, name, "kr");
}

static const char *name_of(json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

/* Review finding: a named object's table is listed by name after its GET,
 * and a caller who may get it but not list was told the refusal with exit
 * status 0. */
START_TEST(a_named_table_refused_exits_1)
{
    if (!have_certs)
        return;
    char kubeconfig[128];
    kr_testserver_t *ts = tls_server_with(kubeconfig, sizeof(kubeconfig), "kr-get-sekret:bob:get");
    load(ts, "a1", "v");
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    const char *argv[] = {bin, "--kubeconfig", kubeconfig, "cm", "a1", NULL};
    static char out[4096], out_err[4096];
    kr_test_proc_io io = {.err = out_err, .err_size = sizeof(out_err)};
    ck_assert_int_eq(kr_test_proc_run_io(argv, &io, out, sizeof(out), 30000), 1);
    ck_assert_msg(strstr(out_err, "list") != NULL, "%s", out_err);
    const char *names[] = {bin, "--kubeconfig", kubeconfig, "cm", "a1", "-o", "name", NULL};
    ck_assert_int_eq(kr_test_proc_run_io(names, &io, out, sizeof(out), 30000), 0);
    ck_assert_str_eq(out, "configmap/a1\n");
    kr_testserver_free(ts);
}
END_TEST

START_TEST(lists_as_json_lines_matching_kubectl)
{
    if (!have_certs)
        return;
    char kubeconfig[128];
    kr_testserver_t *ts = tls_server(kubeconfig, sizeof(kubeconfig));
    for (int i = 0; i < 7; i++) {
        char name[16];
        snprintf(name, sizeof(name), "cm-%d", i);
        load(ts, name, "v");
    }
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    char *argv[] = {bin,      "--kubeconfig", kubeconfig, "--chunk-size", "3", "-l",
                    "app=kr", "-o",           "jsonl",    "cm",           NULL};
    child c;
    spawn(&c, argv, false);
    json_t *ours = json_array();
    char line[65536];
    while (next_line(&c, 30, line, sizeof(line))) {
        json_t *obj = json_loads(line, 0, NULL);
        ck_assert_msg(obj != NULL, "not JSON: %s", line);
        ck_assert_str_eq(json_string_value(json_object_get(obj, "kind")), "ConfigMap");
        json_array_append_new(ours, obj);
    }
    ck_assert_int_eq(finish(&c), 0);
    ck_assert_int_eq(json_array_size(ours), 7);

    if (!kr_test_have_program("kubectl")) {
        kr_test_skip("test_kr_get", "comparison with kubectl: kubectl not found");
    } else {
        char *kargv[] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig, "get", "cm",
                         "-l",           "app=kr",  "-o",           "json",     NULL};
        child k;
        spawn(&k, kargv, false);
        kr_buf all = {0};
        char kl[65536];
        while (next_line(&k, 60, kl, sizeof(kl)))
            ck_assert_int_eq(kr_buf_append_str(&all, kl), 0);
        ck_assert_int_eq(finish(&k), 0);
        json_t *theirs = json_loads(all.data, 0, NULL);
        kr_buf_free(&all);
        ck_assert_ptr_nonnull(theirs);
        json_t *items = json_object_get(theirs, "items");
        ck_assert_int_eq(json_array_size(items), json_array_size(ours));
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *a = json_array_get(ours, i), *b = json_array_get(items, i);
            ck_assert_str_eq(name_of(a), name_of(b));
            ck_assert_msg(json_equal(a, b), "object %s differs from kubectl's", name_of(a));
        }
        json_decref(theirs);
    }
    json_decref(ours);
    kr_testserver_free(ts);
}
END_TEST

/* -o yaml: the text kubectl -o yaml prints, a List of the objects listed
 * (each as the JSON lines have it) or the one object named. */
START_TEST(prints_yaml_as_kubectl_does)
{
    if (!have_certs)
        return;
    char kubeconfig[128];
    kr_testserver_t *ts = tls_server(kubeconfig, sizeof(kubeconfig));
    load(ts, "plain", "v");
    const char *odd =
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"odd\","
        "\"namespace\":\"default\",\"labels\":{\"app\":\"kr\"},\"annotations\":"
        "{\"note\":\"x: y\"}},\"data\":{\"when\":\"2026-01-02T03:04:05Z\","
        "\"clock\":\"12:30\",\"NO\":\"off\",\"n\":\"0x1F\",\"ml\":\"a\\nb\\n\","
        "\"a10\":\"1\",\"a2\":\"2\",\"script\":\"echo hi\\n\\n\"}}";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, odd, strlen(odd), &err) == 0, "%s", err.message);
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    static char out[65536], lines[65536];
    const char *yaml_argv[] = {bin,      "--kubeconfig", kubeconfig, "cm", "-l",
                               "app=kr", "-o",           "yaml",     NULL};
    ck_assert_int_eq(kr_test_proc_run(yaml_argv, out, sizeof(out), 30000), 0);
    const char *json_argv[] = {bin,      "--kubeconfig", kubeconfig, "cm", "-l",
                               "app=kr", "-o",           "jsonl",    NULL};
    ck_assert_int_eq(kr_test_proc_run(json_argv, lines, sizeof(lines), 30000), 0);
    json_t *list = NULL;
    ck_assert_msg(kr_yaml_parse(out, strlen(out), &list, &err) == 0, "%s", err.message);
    ck_assert_str_eq(json_string_value(json_object_get(list, "kind")), "List");
    json_t *docs = json_object_get(list, "items");
    ck_assert_uint_eq(json_array_size(docs), 2);
    if (kr_test_have_program("kubectl")) {
        static char theirs[65536];
        const char *kargv[] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig, "get", "cm",
                               "-l",           "app=kr",  "-o",           "yaml",     NULL};
        ck_assert_int_eq(kr_test_proc_run(kargv, theirs, sizeof(theirs), 60000), 0);
        ck_assert_str_eq(out, theirs);
    }
    char *line = strtok(lines, "\n");
    for (size_t i = 0; i < 2; i++, line = strtok(NULL, "\n")) {
        ck_assert_ptr_nonnull(line);
        json_t *obj = json_loads(line, 0, NULL);
        ck_assert_msg(json_equal(obj, json_array_get(docs, i)), "object %zu differs", i);
        json_decref(obj);
    }
    json_decref(list);
    const char *one[] = {bin, "--kubeconfig", kubeconfig, "cm", "odd", "-o", "yaml", NULL};
    ck_assert_int_eq(kr_test_proc_run(one, out, sizeof(out), 30000), 0);
    /* The format's name in any case, as kubectl takes it. */
    static char upper[65536];
    const char *one_upper[] = {bin, "--kubeconfig", kubeconfig, "cm", "odd", "-o", "YAML", NULL};
    ck_assert_int_eq(kr_test_proc_run(one_upper, upper, sizeof(upper), 30000), 0);
    ck_assert_str_eq(upper, out);
    ck_assert_ptr_nonnull(strstr(out, "  when: \"2026-01-02T03:04:05Z\"\n"));
    ck_assert_ptr_nonnull(strstr(out, "  ml: |\n    a\n    b\n"));
    if (!kr_test_have_program("kubectl")) {
        kr_test_skip("prints_yaml_as_kubectl_does", "comparison with kubectl: kubectl not found");
    } else {
        static char theirs[65536];
        const char *kargv[] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig, "get",
                               "cm",           "odd",     "-o",           "yaml",     NULL};
        ck_assert_int_eq(kr_test_proc_run(kargv, theirs, sizeof(theirs), 60000), 0);
        ck_assert_str_eq(out, theirs);
    }
    const char *bad[] = {bin, "--kubeconfig", kubeconfig, "cm", "-o", "xml", NULL};
    ck_assert_int_eq(kr_test_proc_run(bad, out, sizeof(out), 30000), 1);
    ck_assert_ptr_nonnull(
        strstr(out, "unable to match a printer suitable for the output format "
                    "\"xml\", allowed formats are: custom-columns,json,jsonl,jsonpath,name,"
                    "wide,yaml"));
    kr_testserver_free(ts);
}
END_TEST

/* `kr-get ARGS` (with `--kubeconfig kubeconfig`) exits with `status`; with
 * kubectl there, `kubectl get ARGS` prints the same stdout and stderr and
 * exits alike. Its stdout, parsed (JSON or YAML), in a new reference. */
static json_t *parsed_as_kubectl(const char *kubeconfig, const char *const args[], int status)
{
    const char *argv[24] = {"kr-get", "--kubeconfig", kubeconfig},
               *kargv[24] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig, "get"};
    for (size_t i = 0; args[i]; i++)
        argv[3 + i] = kargv[5 + i] = args[i];
    static char out[65536], out_err[8192], theirs[65536], theirs_err[8192];
    kr_test_proc_io io = {.err = out_err, .err_size = sizeof(out_err)};
    ck_assert_int_eq(kr_test_proc_run_io(argv, &io, out, sizeof(out), 30000), status);
    if (kr_test_have_program("kubectl")) {
        io = (kr_test_proc_io){.err = theirs_err, .err_size = sizeof(theirs_err)};
        ck_assert_int_eq(kr_test_proc_run_io(kargv, &io, theirs, sizeof(theirs), 60000), status);
        ck_assert_str_eq(out, theirs);
        ck_assert_str_eq(out_err, theirs_err);
    }
    json_t *doc = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_yaml_parse(out, strlen(out), &doc, &err) == 0, "%s: %s", err.message, out);
    return doc;
}

/* Writes a kubeconfig for `ts` to `kubeconfig`, a path of this process's
 * own in the log directory; without kubectl there, notes that `compared`
 * (if not NULL) is not compared with kubectl. */
static void write_kubeconfig(kr_testserver_t *ts, char *kubeconfig, size_t size,
                             const char *compared)
{
    kr_error_t err = {0};
    snprintf(kubeconfig, size, "%s/kubeconfig-%d", log_dir, (int)getpid());
    ck_assert_int_eq(kr_testserver_write_kubeconfig(ts, kubeconfig, "default", &err), 0);
    if (compared && !kr_test_have_program("kubectl"))
        kr_test_skip("test_kr_get", "%s compared with kubectl: kubectl not found", compared);
}

/* -o json: what kubectl -o json prints, byte for byte: a List of what a
 * get found (also of several objects named, found or not), the object
 * alone when one is named, JSON indented by 4 with keys sorted and Go's
 * escapes; while watching, each object as it comes. */
START_TEST(prints_json_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    load(ts, "a1", "1");
    const char *odd =
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"odd\","
        "\"namespace\":\"default\"},\"data\":{\"html\":\"<a href=\\\"x\\\">&amp;</a>\","
        "\"ls\":\"a\\u2028b\\u2029c\",\"ctl\":\"x\\u0001\\u001f\\b\\f\\t\\ny\","
        "\"lit\":\"\\\\u00AB \\\\ \\\"q\\\" \\u00e9\"}}";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, odd, strlen(odd), &err) == 0, "%s", err.message);
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "-o json");
    json_t *list = parsed_as_kubectl(
        kubeconfig, (const char *[]){"cm", "--chunk-size", "1", "-o", "json", NULL}, 0);
    ck_assert_str_eq(json_string_value(json_object_get(list, "kind")), "List");
    ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 2);
    json_decref(list);
    json_t *one = parsed_as_kubectl(kubeconfig, (const char *[]){"cm/odd", "-o", "json", NULL}, 0);
    ck_assert_str_eq(name_of(one), "odd");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(one, "data"), "html")),
                     "<a href=\"x\">&amp;</a>");
    json_decref(one);
    list = parsed_as_kubectl(kubeconfig, (const char *[]){"cm", "a1", "x", "-o", "json", NULL}, 1);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);
    list = parsed_as_kubectl(kubeconfig,
                             (const char *[]){"cm/odd", "ns/default", "-o", "yaml", NULL}, 0);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 2);
    json_decref(list);
    /* The text itself, as Go writes it. */
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    const char *argv[] = {bin, "--kubeconfig", kubeconfig, "cm", "odd", "-o", "json", NULL};
    static char out[65536];
    ck_assert_int_eq(kr_test_proc_run(argv, out, sizeof(out), 30000), 0);
    ck_assert_ptr_nonnull(strstr(out, "{\n    \"apiVersion\": \"v1\",\n    \"data\": {\n        "
                                      "\"ctl\": \"x\\u0001\\u001f\\b\\f\\t\\ny\",\n"));
    ck_assert_ptr_nonnull(strstr(out, "\"html\": \"\\u003ca href=\\\"x\\\"\\u003e\\u0026amp;"));
    ck_assert_ptr_nonnull(strstr(out, "\"lit\": \"\\\\u00AB \\\\ \\\"q\\\" \xc3\xa9\""));
    ck_assert_ptr_nonnull(strstr(out, "\"ls\": \"a\\u2028b\\u2029c\"\n"));
    ck_assert_ptr_nonnull(strstr(out, "\n}\n"));
    /* Watching: the object alone first, then its changes. */
    const char *watch[] = {bin, "--kubeconfig", kubeconfig, "cm/a1", "-w", "-o", "json", NULL};
    child c;
    spawn(&c, (char *const *)watch, false);
    kr_buf doc = {0};
    char line[4096];
    while (next_line(&c, 30, line, sizeof(line)) && strcmp(line, "}") != 0)
        ck_assert_int_eq(kr_buf_append_str(&doc, line), 0);
    ck_assert_int_eq(kr_buf_append_str(&doc, "}"), 0);
    kr_test_proc_signal(&c.p, SIGTERM);
    finish(&c);
    json_t *obj = json_loads(doc.data, 0, NULL);
    kr_buf_free(&doc);
    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(json_string_value(json_object_get(obj, "kind")), "ConfigMap");
    ck_assert_str_eq(name_of(obj), "a1");
    json_decref(obj);
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

START_TEST(errors_print_the_status_message_and_exit_1)
{
    kr_testserver_t *ts = server();
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    char *argv[] = {bin, "--server", (char *)kr_testserver_url(ts), "cm", "nope", NULL};
    child c;
    spawn(&c, argv, true);
    char line[4096];
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    ck_assert_str_eq(line, "Error from server (NotFound): configmaps \"nope\" not found");
    ck_assert_int_eq(finish(&c), 1);

    char *unknown[] = {bin, "--server", (char *)kr_testserver_url(ts), "widgets", NULL};
    spawn(&c, unknown, true);
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    ck_assert_str_eq(line, "error: the server doesn't have a resource type \"widgets\"");
    ck_assert_int_eq(finish(&c), 1);
    kr_testserver_free(ts);
}
END_TEST

static void expect_name(child *c, const char *name)
{
    char line[65536];
    ck_assert_msg(next_line(c, 30, line, sizeof(line)) != NULL, "no line for %s", name);
    json_t *obj = json_loads(line, 0, NULL);
    ck_assert_ptr_nonnull(obj);
    ck_assert_str_eq(name_of(obj), name);
    json_decref(obj);
}

/* `kr-get ARGS` (with `--kubeconfig kubeconfig`) exits with `status`, its
 * first line of output `first`; with kubectl there, `kubectl get ARGS`
 * says the same (and exits 1: kubectl has no usage exit code). */
static void expect_like_kubectl(const char *kubeconfig, const char *const args[], int status,
                                const char *first)
{
    const char *argv[16] = {"kr-get", "--kubeconfig", kubeconfig},
               *kargv[16] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig, "get"};
    for (size_t i = 0; args[i]; i++)
        argv[3 + i] = kargv[5 + i] = args[i];
    char out[65536];
    ck_assert_int_eq(kr_test_proc_run(argv, out, sizeof(out), 30000), status);
    out[strcspn(out, "\n")] = '\0';
    ck_assert_str_eq(out, first);
    if (!kr_test_have_program("kubectl"))
        return;
    ck_assert_int_eq(kr_test_proc_run(kargv, out, sizeof(out), 60000), 1);
    out[strcspn(out, "\n")] = '\0';
    ck_assert_str_eq(out, first);
}

/* `kr-get ARGS` (with `--kubeconfig kubeconfig`) exits with `status` and
 * prints `out` on stdout and `err` on stderr, byte for byte; with kubectl
 * there, `kubectl get ARGS` does the same. */
static void expect_as_kubectl(const char *kubeconfig, const char *const args[], int status,
                              const char *out, const char *err)
{
    const char *argv[24] = {"kr-get", "--kubeconfig", kubeconfig},
               *kargv[24] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig, "get"};
    for (size_t i = 0; args[i]; i++)
        argv[3 + i] = kargv[5 + i] = args[i];
    static char got[65536], got_err[65536];
    kr_test_proc_io io = {.err = got_err, .err_size = sizeof(got_err)};
    ck_assert_int_eq(kr_test_proc_run_io(argv, &io, got, sizeof(got), 30000), status);
    ck_assert_str_eq(got, out);
    ck_assert_str_eq(got_err, err);
    if (!kr_test_have_program("kubectl"))
        return;
    ck_assert_int_eq(kr_test_proc_run_io(kargv, &io, got, sizeof(got), 60000), status);
    ck_assert_str_eq(got, out);
    ck_assert_str_eq(got_err, err);
}

/* -o name: KIND[.GROUP]/NAME lines, as kubectl's name printer writes them. */
START_TEST(prints_names_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    load(ts, "a1", "1");
    load(ts, "a2", "2");
    static const char deploy[] =
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
        "\"namespace\":\"default\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
        "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
        "[{\"name\":\"c\",\"image\":\"nginx\"}]}}}}";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, deploy, strlen(deploy), &err) == 0, "%s", err.message);
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "-o name");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "name", NULL}, 0,
                      "configmap/a1\nconfigmap/a2\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "a2", "-o=NAME", NULL}, 0,
                      "configmap/a2\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"deployments.apps", "-A", "-oname", NULL}, 0,
                      "deployment.apps/web\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"ns", "default", "-o", "name", NULL}, 0,
                      "namespace/default\n", "");
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* Several NAMEs of one RESOURCE, or TYPE/NAME arguments: each printed in
 * turn, the errors of those not found after them and exit 1, as kubectl
 * get does. */
START_TEST(gets_several_names_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    load(ts, "a1", "1");
    load(ts, "a2", "2");
    static const char secret[] = "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
                                 "{\"name\":\"s\",\"namespace\":\"default\"},\"type\":\"Opaque\"}";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, secret, strlen(secret), &err) == 0, "%s", err.message);
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "several names");
    static const char x_missing[] = "Error from server (NotFound): configmaps \"x\" not found\n";
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "a1", "a2", "-o", "name", NULL}, 0,
                      "configmap/a1\nconfigmap/a2\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "a2", "x", "a1", "-o", "name", NULL}, 1,
                      "configmap/a2\nconfigmap/a1\n", x_missing);
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"cm/a1", "secret/s", "configmap/a2", "-o", "name", NULL}, 0,
                      "configmap/a1\nsecret/s\nconfigmap/a2\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"secret/x", "cm/a1", "-o", "name", NULL}, 1,
                      "configmap/a1\n", "Error from server (NotFound): secrets \"x\" not found\n");
    /* Several errors, one a line; a message of kubectl's own without
     * "error: " among them. */
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "x", "y", "-o", "name", NULL}, 1, "",
                      "Error from server (NotFound): configmaps \"x\" not found\n"
                      "Error from server (NotFound): configmaps \"y\" not found\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "", "x", "a1", "-o", "name", NULL}, 1,
                      "configmap/a1\n",
                      "resource name may not be empty\n"
                      "Error from server (NotFound): configmaps \"x\" not found\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "a1", "", "-o", "name", NULL}, 1,
                      "configmap/a1\n", "error: resource name may not be empty\n");
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"-n", "nowhere", "cm/x", "cm/a1", "-o", "name", NULL}, 1, "",
                      "Error from server (NotFound): namespaces \"nowhere\" not found\n"
                      "Error from server (NotFound): namespaces \"nowhere\" not found\n");
    /* -w watches one object only: the objects, then the refusal; or an
     * error alone. */
    expect_as_kubectl(kubeconfig, (const char *[]){"cm/a1", "cm/a2", "-w", "-o", "name", NULL}, 1,
                      "configmap/a1\nconfigmap/a2\n",
                      "error: you may only watch a single resource or type of resource at a "
                      "time\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "a1", "x", "-w", "-o", "name", NULL}, 1,
                      "", x_missing);
    /* Refusals before any request. */
    expect_as_kubectl(kubeconfig, (const char *[]){"cm/a1", "-l", "app=kr", NULL}, 1, "",
                      "error: selectors and the all flag cannot be used when passing "
                      "resource/name arguments\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"-A", "ns/default", "cm/a1", NULL}, 1, "",
                      "error: a resource cannot be retrieved by name across all namespaces\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm/a1", "widgets/a1", NULL}, 1, "",
                      "error: the server doesn't have a resource type \"widgets\"\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm/a1", "cm/", NULL}, 1, "",
                      "error: arguments in resource/name form must have a single resource and "
                      "name\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm/a1/b", NULL}, 1, "",
                      "error: arguments in resource/name form may not have more than one slash\n");
    /* kubectl names itself in this one. */
    const char *mixed[] = {"kr-get", "--kubeconfig", kubeconfig, "cm", "secret/s", NULL};
    static char out[4096], out_err[4096];
    kr_test_proc_io io = {.err = out_err, .err_size = sizeof(out_err)};
    ck_assert_int_eq(kr_test_proc_run_io(mixed, &io, out, sizeof(out), 30000), 1);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(out_err,
                     "error: there is no need to specify a resource type as a separate argument "
                     "when passing arguments in resource/name form (e.g. 'kr-get "
                     "resource/<resource_name>' instead of 'kr-get resource "
                     "resource/<resource_name>'\n");
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* Nothing found, as kubectl get says it: "No resources found" on stderr
 * for the default output, an empty List for -o json and -o yaml, nothing
 * for -o name; after errors, the errors alone. */
START_TEST(reports_nothing_found_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "empty results");
    static const char json[] = "{\n"
                               "    \"apiVersion\": \"v1\",\n"
                               "    \"items\": [],\n"
                               "    \"kind\": \"List\",\n"
                               "    \"metadata\": {\n"
                               "        \"resourceVersion\": \"\"\n"
                               "    }\n"
                               "}\n";
    static const char yaml[] = "apiVersion: v1\n"
                               "items: []\n"
                               "kind: List\n"
                               "metadata:\n"
                               "  resourceVersion: \"\"\n";
    expect_as_kubectl(kubeconfig, (const char *[]){"pods", NULL}, 0, "",
                      "No resources found in default namespace.\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"-n", "nowhere", "cm", NULL}, 0, "",
                      "No resources found in nowhere namespace.\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"pods", "-A", NULL}, 0, "",
                      "No resources found\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"ns", "-l", "x=y", NULL}, 0, "",
                      "No resources found\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"pods", "-o", "json", NULL}, 0, json, "");
    expect_as_kubectl(kubeconfig, (const char *[]){"pods", "--chunk-size", "1", "-o", "yaml", NULL},
                      0, yaml, "");
    expect_as_kubectl(kubeconfig, (const char *[]){"pods", "-o", "name", NULL}, 0, "", "");
    static const char missing[] = "Error from server (NotFound): configmaps \"x\" not found\n"
                                  "Error from server (NotFound): configmaps \"y\" not found\n";
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "x", "y", "-o", "json", NULL}, 1, json,
                      missing);
    expect_as_kubectl(kubeconfig, (const char *[]){"cm/x", "cm/y", "-o", "yaml", NULL}, 1, yaml,
                      missing);
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "x", "y", NULL}, 1, "", missing);
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "x", "-o", "json", NULL}, 1, "",
                      "Error from server (NotFound): configmaps \"x\" not found\n");
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* RESOURCE may name several types, comma-separated (`cm,secrets`), as
 * kubectl reads it: each type's list in turn, or each NAME of each type;
 * each type once; -w refused. */
START_TEST(comma_separated_types_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    load(ts, "a1", "1");
    static const char secret[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s1\","
        "\"namespace\":\"default\"},\"data\":{\"x\":\"eA==\"}}";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, secret, strlen(secret), &err) == 0, "%s", err.message);
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "comma-separated types");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,secrets", "-o", "name", NULL}, 0,
                      "configmap/a1\nsecret/s1\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"secrets,cm,secrets", "-oname", NULL}, 0,
                      "secret/s1\nconfigmap/a1\n", "");
    /* One resource under two names: listed once, its objects named got
     * once for each, as kubectl does. */
    expect_as_kubectl(kubeconfig, (const char *[]){"configmaps,cm", "-o", "name", NULL}, 0,
                      "configmap/a1\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"configmaps,cm", "a1", "-o", "name", NULL}, 0,
                      "configmap/a1\nconfigmap/a1\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,secrets", "a1", "s1", "-o", "name", NULL}, 1,
                      "configmap/a1\nsecret/s1\n",
                      "Error from server (NotFound): configmaps \"s1\" not found\n"
                      "Error from server (NotFound): secrets \"a1\" not found\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,ns", "-l", "app=kr", "-o", "name", NULL}, 0,
                      "configmap/a1\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,secrets", "-n", "nowhere", NULL}, 0, "",
                      "No resources found in nowhere namespace.\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,ns", "-l", "x=y", NULL}, 0, "",
                      "No resources found\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,widgets", NULL}, 1, "",
                      "error: the server doesn't have a resource type \"widgets\"\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,", NULL}, 1, "",
                      "error: the server doesn't have a resource type \"\"\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,secrets/a1", NULL}, 1, "",
                      "error: arguments in resource/name form must have a single resource and "
                      "name\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,secrets", "-w", NULL}, 1, "",
                      "error: you may only specify a single resource type\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm,secrets", "-A", "a1", NULL}, 1, "",
                      "error: a resource cannot be retrieved by name across all namespaces\n");
    json_t *list = parsed_as_kubectl(
        kubeconfig, (const char *[]){"cm,secrets", "--chunk-size", "1", "-o", "json", NULL}, 0);
    json_t *items = json_object_get(list, "items");
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 1), "kind")),
                     "Secret");
    json_decref(list);
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* `text` with each age cell (a word of digits and "s", as objects made by
 * the test are seconds old) and the spaces after it as "<age>" and one
 * space: two runs a second apart print the same. In place (`size` bytes). */
static void mask_ages(char *text, size_t size)
{
    char *out = malloc(strlen(text) * 3 + 1), *w = out;
    ck_assert_ptr_nonnull(out);
    for (const char *r = text; *r;) {
        size_t digits = strspn(r, "0123456789");
        bool word_start = r == text || r[-1] == ' ';
        if (word_start && digits && r[digits] == 's' &&
            (r[digits + 1] == ' ' || r[digits + 1] == '\n' || !r[digits + 1])) {
            r += digits + 1;
            bool spaces = *r == ' ';
            r += strspn(r, " ");
            w += sprintf(w, "<age>%s", spaces && *r != '\n' && *r ? " " : "");
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
    snprintf(text, size, "%s", out);
    free(out);
}

/* `kr-get ARGS` prints `out` (ages masked) and `err` and exits with
 * `status`; with kubectl there, `kubectl get ARGS` prints the same. */
static void expect_table_as_kubectl(const char *kubeconfig, const char *const args[], int status,
                                    const char *out, const char *err)
{
    const char *argv[24] = {"kr-get", "--kubeconfig", kubeconfig},
               *kargv[24] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig, "get"};
    for (size_t i = 0; args[i]; i++)
        argv[3 + i] = kargv[5 + i] = args[i];
    static char got[65536], got_err[65536];
    for (int k = 0; k < 2; k++) {
        if (k == 1 && !kr_test_have_program("kubectl"))
            break;
        kr_test_proc_io io = {.err = got_err, .err_size = sizeof(got_err)};
        ck_assert_int_eq(kr_test_proc_run_io(k ? kargv : argv, &io, got, sizeof(got), 60000),
                         status);
        char *copy = strdup(got);
        ck_assert_ptr_nonnull(copy);
        mask_ages(got, sizeof(got));
        ck_assert_msg(strcmp(got, out) == 0, "%s printed:\n%s\nwant (ages masked):\n%s",
                      k ? "kubectl" : "kr-get", copy, out);
        free(copy);
        ck_assert_str_eq(got_err, err);
    }
}

/* The default output: the server's Tables as kubectl get prints them,
 * byte for byte but the ages: columns aligned as Go's tabwriter aligns
 * them, a table per resource with a blank line between, KIND/NAME when
 * several kinds are asked for, a NAMESPACE column with -A; ConfigMaps,
 * Secrets, Namespaces, Jobs and a CRD's additionalPrinterColumns. */
/* ConfigMaps, a Secret, a Job and Widgets of a CRD with printer columns
 * (one of priority 1), in "default" and "other". */
static void load_table_objects(kr_testserver_t *ts)
{
    static const char objects[] =
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a1, namespace: default}\n"
        "data: {k: v, j: w}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a-longer-name, namespace: other}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s1, namespace: default}\n"
        "type: Opaque\ndata: {x: eA==}\n---\n"
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: pi, namespace: default}\n"
        "spec:\n  template:\n    spec:\n      restartPolicy: Never\n"
        "      containers: [{name: pi, image: perl}]\n---\n"
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: widgets.example.com}\n"
        "spec:\n  group: example.com\n  scope: Namespaced\n"
        "  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}\n"
        "  versions:\n  - name: v1\n    served: true\n    storage: true\n"
        "    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: "
        "true}}\n"
        "    additionalPrinterColumns:\n"
        "    - {name: Size, type: integer, jsonPath: .spec.size}\n"
        "    - {name: Color, type: string, jsonPath: .spec.color, priority: 1}\n"
        "    - {name: Ready, type: boolean, jsonPath: .status.ready}\n"
        "    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}\n";
    static const char widgets[] =
        "apiVersion: example.com/v1\nkind: Widget\n"
        "metadata: {name: w1, namespace: default, labels: {b: '2', a: '1'}}\n"
        "spec: {size: 3, color: red}\n---\n"
        "apiVersion: example.com/v1\nkind: Widget\n"
        "metadata: {name: a-much-longer-widget, namespace: other}\nspec: {size: 12345}\n";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, objects, strlen(objects), &err) == 0, "%s", err.message);
    ck_assert_msg(kr_testserver_load(ts, widgets, strlen(widgets), &err) == 0, "%s", err.message);
}

START_TEST(prints_tables_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    load_table_objects(ts);
    kr_error_t err = {0};
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "tables");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"cm", NULL}, 0,
                            "NAME   DATA   AGE\n"
                            "a1     2      <age>\n",
                            "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"cm", "-A", "--chunk-size", "1", NULL}, 0,
                            "NAMESPACE   NAME            DATA   AGE\n"
                            "default     a1              2      <age>\n"
                            "other       a-longer-name   0      <age>\n",
                            "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"secrets", NULL}, 0,
                            "NAME   TYPE     DATA   AGE\n"
                            "s1     Opaque   1      <age>\n",
                            "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"ns", "default", "other", NULL}, 0,
                            "NAME      STATUS   AGE\n"
                            "default   Active   <age>\n"
                            "other     Active   <age>\n",
                            "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"jobs", NULL}, 0,
                            "NAME   STATUS    COMPLETIONS   DURATION   AGE\n"
                            "pi     Running   0/1                      <age>\n",
                            "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"widgets", "-A", NULL}, 0,
                            "NAMESPACE   NAME                   SIZE    READY   AGE\n"
                            "default     w1                     3               <age>\n"
                            "other       a-much-longer-widget   12345           <age>\n",
                            "");
    /* Several kinds: KIND/NAME, a table each, a blank line between. */
    expect_table_as_kubectl(kubeconfig, (const char *[]){"cm,secrets,widgets", NULL}, 0,
                            "NAME           DATA   AGE\n"
                            "configmap/a1   2      <age>\n"
                            "\n"
                            "NAME        TYPE     DATA   AGE\n"
                            "secret/s1   Opaque   1      <age>\n"
                            "\n"
                            "NAME                    SIZE   READY   AGE\n"
                            "widget.example.com/w1   3              <age>\n",
                            "");
    /* What was found is of one kind: no KIND/; objects of one resource
     * named in a row share a table. */
    expect_table_as_kubectl(kubeconfig, (const char *[]){"cm,secrets", "a1", NULL}, 1,
                            "NAME   DATA   AGE\n"
                            "a1     2      <age>\n",
                            "Error from server (NotFound): secrets \"a1\" not found\n");
    expect_table_as_kubectl(kubeconfig,
                            (const char *[]){"cm/a1", "cm/x", "cm/a1", "ns/other", NULL}, 1,
                            "NAME           DATA   AGE\n"
                            "configmap/a1   2      <age>\n"
                            "configmap/a1   2      <age>\n"
                            "\n"
                            "NAME              STATUS   AGE\n"
                            "namespace/other   Active   <age>\n",
                            "Error from server (NotFound): configmaps \"x\" not found\n");
    /* As kubectl: once a namespaced resource had NAMESPACE, later ones
     * have it too. */
    expect_table_as_kubectl(kubeconfig, (const char *[]){"cm,ns", "-A", "-l", "x!=y", NULL}, 0,
                            "NAMESPACE   NAME                      DATA   AGE\n"
                            "default     configmap/a1              2      <age>\n"
                            "other       configmap/a-longer-name   0      <age>\n"
                            "\n"
                            "NAMESPACE   NAME                        STATUS   AGE\n"
                            "            namespace/default           Active   <age>\n"
                            "            namespace/kube-node-lease   Active   <age>\n"
                            "            namespace/kube-public       Active   <age>\n"
                            "            namespace/kube-system       Active   <age>\n"
                            "            namespace/other             Active   <age>\n",
                            "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"pods,cm", "-n", "nowhere", NULL}, 0, "",
                            "No resources found in nowhere namespace.\n");
    /* -w: the table, then a row for each change, aligned as far as the
     * widths seen so far (kubectl's tabwriter remembers them). */
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    char *watch[] = {bin, "--kubeconfig", kubeconfig, "cm", "-w", NULL};
    child c;
    spawn(&c, watch, false);
    char line[4096];
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    ck_assert_str_eq(line, "NAME   DATA   AGE");
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    mask_ages(line, sizeof(line));
    ck_assert_str_eq(line, "a1     2      <age>");
    ck_assert_uint_eq(kr_testserver_wait_watch_count(ts, 1, 30000), 1);
    static const char later[] = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
                                "{\"name\":\"a-name-longer-than-the-rest\",\"namespace\":"
                                "\"default\"}}";
    ck_assert_msg(kr_testserver_load(ts, later, strlen(later), &err) == 0, "%s", err.message);
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    mask_ages(line, sizeof(line));
    ck_assert_str_eq(line, "a-name-longer-than-the-rest   0      <age>");
    kr_test_proc_signal(&c.p, SIGTERM);
    finish(&c);
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* -o wide (the columns of every priority), --show-labels and -L, as
 * kubectl prints them; --show-labels refused with other printers. */
START_TEST(prints_wide_tables_and_labels_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    load_table_objects(ts);
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "wide tables and labels");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"widgets", "-o", "wide", NULL}, 0,
                            "NAME   SIZE   COLOR   READY   AGE\n"
                            "w1     3      red             <age>\n",
                            "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"widgets", "-A", "--show-labels", NULL}, 0,
                            "NAMESPACE   NAME                   SIZE    READY   AGE   LABELS\n"
                            "default     w1                     3               <age> a=1,b=2\n"
                            "other       a-much-longer-widget   12345           <age> <none>\n",
                            "");
    expect_table_as_kubectl(
        kubeconfig,
        (const char *[]){"cm,widgets", "-L", "a,example.com/b", "-L=c", "--show-labels", "-o",
                         "wide", NULL},
        0,
        "NAME           DATA   AGE   A     B     C     LABELS\n"
        "configmap/a1   2      <age> <none>\n"
        "\n"
        "NAME                    SIZE   COLOR   READY   AGE   A     B     C     "
        "LABELS\n"
        "widget.example.com/w1   3      red             <age> 1                 "
        "a=1,b=2\n",
        "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"widgets", "w1", "-Lb", NULL}, 0,
                            "NAME   SIZE   READY   AGE   B\n"
                            "w1     3              <age> 2\n",
                            "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"widgets", "--show-labels=false", NULL}, 0,
                            "NAME   SIZE   READY   AGE\n"
                            "w1     3              <age>\n",
                            "");
    /* --no-headers: the rows alone, no blank line between resources. */
    expect_table_as_kubectl(
        kubeconfig, (const char *[]){"cm,secrets,widgets", "--no-headers", "-A", NULL}, 0,
        "default   configmap/a1              2     <age>\n"
        "other     configmap/a-longer-name   0     <age>\n"
        "default   secret/s1   Opaque   1     <age>\n"
        "default   widget.example.com/w1                     3             <age>\n"
        "other     widget.example.com/a-much-longer-widget   12345         <age>\n",
        "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"cm", "--no-headers=true", NULL}, 0,
                            "a1    2     <age>\n", "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"cm", "--no-headers=false", NULL}, 0,
                            "NAME   DATA   AGE\n"
                            "a1     2      <age>\n",
                            "");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "name", "--show-labels", NULL},
                            1, "",
                            "error: --show-labels option cannot be used with name printer\n");
    expect_table_as_kubectl(kubeconfig, (const char *[]){"cm", "--show-labels", "-o", "json", NULL},
                            1, "",
                            "error: --show-labels option cannot be used with json printer\n");
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* -o jsonpath=TEMPLATE: the subset kr-get takes prints what kubectl
 * prints, byte for byte; kubectl's parse errors in its words; what kr-get
 * does not take is refused, saying what it takes. */
START_TEST(prints_jsonpath_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    load_table_objects(ts);
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "-o jsonpath");
    expect_as_kubectl(
        kubeconfig, (const char *[]){"cm", "-A", "-o", "jsonpath={.items[*].metadata.name}", NULL},
        0, "a1 a-longer-name", "");
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"cm", "-o",
                                       "jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.data}"
                                       "{'\\n'}{end}",
                                       NULL},
                      0, "a1\t{\"j\":\"w\",\"k\":\"v\"}\n", "");
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"widgets", "w1", "-o",
                                       "jsonpath=size {.spec.size}, a={.metadata.labels['a']}"
                                       "{.status.missing}{.spec}",
                                       NULL},
                      0, "size 3, a=1{\"color\":\"red\",\"size\":3}", "");
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"cm,secrets,widgets",
                                       "-o=jsonpath={.items[-1].kind} "
                                       "{$.kind}{.items[0].metadata.labels}",
                                       NULL},
                      0, "Widget List", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"pods", "-o", "jsonpath={.items}", NULL}, 0,
                      "[]", "");
    expect_as_kubectl(
        kubeconfig, (const char *[]){"cm", "-o", "jsonpath={.items[0].metadata.name", NULL}, 1, "",
        "error: error parsing jsonpath {.items[0].metadata.name, unclosed action\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "jsonpath={.items[}", NULL}, 1, "",
                      "error: error parsing jsonpath {.items[}, unterminated array\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "jsonpath={.items[a]}", NULL}, 1, "",
                      "error: error parsing jsonpath {.items[a]}, invalid array index a\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "jsonpath={\"a}", NULL}, 1, "",
                      "error: error parsing jsonpath {\"a}, unterminated quoted string\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "jsonpath", NULL}, 1, "",
                      "error: template format specified but no template given\n");
    /* Not in the subset: refused before anything is asked. */
    const char *argv[] = {
        "kr-get", "--kubeconfig", kubeconfig, "cm", "-o", "jsonpath={.items[?(@.x)]}", NULL};
    static char out[4096], out_err[4096];
    kr_test_proc_io io = {.err = out_err, .err_size = sizeof(out_err)};
    ck_assert_int_eq(kr_test_proc_run_io(argv, &io, out, sizeof(out), 30000), 1);
    ck_assert_str_eq(out, "");
    ck_assert_str_eq(out_err, "error: error parsing jsonpath {.items[?(@.x)]}, the filter "
                              "[?(@.x)] is not supported by kr-get (it takes .field, ['field'], "
                              "[n], [*], .*, range/end and quoted text)\n");
    /* floats as Go's %v writes them: the exponent form from 1e6 (review
     * finding: C's %g cut 0.1234567 to 0.123457) */
    static const char floats[] = "apiVersion: example.com/v1\nkind: Widget\n"
                                 "metadata: {name: floats, namespace: default}\n"
                                 "spec: {a: 123456789.5, b: 0.1234567, c: 123456.5, d: 1000000.5, "
                                 "e: 1.5e21, f: 0.00001}\n";
    ck_assert_int_eq(kr_testserver_load(ts, floats, strlen(floats), NULL), 0);
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"widgets", "floats", "-o",
                                       "jsonpath={.spec.a} {.spec.b} {.spec.c} {.spec.d} "
                                       "{.spec.e} {.spec.f}",
                                       NULL},
                      0, "1.234567895e+08 0.1234567 123456.5 1.0000005e+06 1.5e+21 1e-05", "");
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* -o custom-columns=SPEC: kubectl's columns, byte for byte: the header
 * once over everything found, values as Go's fmt.Sprint writes them
 * (map[k:v], [a b], numbers as Go's), several joined by commas, <none>
 * for none; --no-headers; kubectl's errors on bad specs in its words (a
 * bad path after the header, as kubectl parses it there). */
START_TEST(prints_custom_columns_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    load_table_objects(ts);
    static const char numbers[] = "apiVersion: example.com/v1\nkind: Widget\n"
                                  "metadata: {name: w2, namespace: default}\n"
                                  "spec: {size: 1.5, tags: [x, 'y'], big: 1.0e+21, small: 0.00001, "
                                  "ok: true, none: null}\n";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, numbers, strlen(numbers), &err) == 0, "%s", err.message);
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "-o custom-columns");
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"cm,secrets", "-A", "-o",
                                       "custom-columns=NAME:.metadata.name,DATA:.data,"
                                       "T:{.type},K:{kind},NS:metadata.namespace,X:.nope",
                                       NULL},
                      0,
                      "NAME            DATA           T        K           NS        X\n"
                      "a1              map[j:w k:v]   <none>   ConfigMap   default   <none>\n"
                      "a-longer-name   <none>         <none>   ConfigMap   other     <none>\n"
                      "s1              map[x:eA==]    Opaque   Secret      default   <none>\n",
                      "");
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"widgets", "-o",
                                       "custom-columns=N:.metadata.name,S:.spec.size,T:.spec.tags,"
                                       "E:.spec.tags[*],B:.spec.big,M:.spec.small,O:.spec.ok,"
                                       ":.spec.none",
                                       "--no-headers", NULL},
                      0,
                      "w1    3     <none>   <none>   <none>   <none>   <none>   <none>\n"
                      "w2    1.5   [x y]    x,y      1e+21    1e-05    true     <nil>\n",
                      "");
    expect_as_kubectl(
        kubeconfig,
        (const char *[]){"widgets", "w1", "-o", "custom-columns=N:.metadata.name", NULL}, 0,
        "N\nw1\n", "");
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"pods", "-o", "custom-columns=N:.metadata.name", NULL}, 0,
                      "N\n", "");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "custom-columns=", NULL}, 1, "",
                      "error: custom-columns format specified but no custom columns given\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "custom-columns", NULL}, 1, "",
                      "error: custom-columns format specified but no custom columns given\n");
    expect_as_kubectl(kubeconfig,
                      (const char *[]){"cm", "-o", "custom-columns=N:.metadata.name,DATA", NULL}, 1,
                      "",
                      "error: unexpected custom-columns spec: DATA, expected "
                      "<header>:<json-path-expr>\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "custom-columns=N:{{.x}", NULL}, 1,
                      "",
                      "error: unexpected path string, expected a 'name1.name2' or "
                      "'.name1.name2' or '{name1.name2}' or '{.name1.name2}'\n");
    expect_as_kubectl(kubeconfig, (const char *[]){"cm", "-o", "custom-columns=N:.a[", NULL}, 1,
                      "N\n", "error: unterminated array\n");
    expect_as_kubectl(
        kubeconfig,
        (const char *[]){"cm", "-o", "custom-columns=N:.metadata.managedFields[5]", NULL}, 1, "N\n",
        "error: array index out of bounds: index 5, length 1\n");
    expect_as_kubectl(
        kubeconfig,
        (const char *[]){"cm", "-o", "custom-columns=N:.metadata.name", "--show-labels", NULL}, 1,
        "",
        "error: --show-labels option cannot be used with "
        "custom-columns=N:.metadata.name printer\n");
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

START_TEST(refuses_what_kubectl_refuses)
{
    kr_testserver_t *ts = server();
    load(ts, "a1", "1");
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "refusals");

    /* -w NAME gets the object first: not there, not waited for. */
    expect_like_kubectl(kubeconfig, (const char *[]){"-w", "cm", "nope", NULL}, 1,
                        "Error from server (NotFound): configmaps \"nope\" not found");
    expect_like_kubectl(kubeconfig, (const char *[]){"-A", "cm", "a1", NULL}, 1,
                        "error: a resource cannot be retrieved by name across all namespaces");
    static const char selected[] = "error: name cannot be provided when a selector is specified";
    expect_like_kubectl(kubeconfig, (const char *[]){"cm", "a1", "-l", "app=nomatch", NULL}, 1,
                        selected);
    expect_like_kubectl(
        kubeconfig,
        (const char *[]){"-w", "cm", "a1", "--field-selector", "metadata.namespace=default", NULL},
        1, selected);
    /* Unknown flags and flags without their value: usage errors, worded
     * as kubectl words them. */
    expect_like_kubectl(kubeconfig, (const char *[]){"--bogus=1", "cm", NULL}, 2,
                        "Error: unknown flag: --bogus");
    expect_like_kubectl(kubeconfig, (const char *[]){"-AZx", "cm", NULL}, 2,
                        "Error: unknown shorthand flag: 'Z' in -Zx");
    expect_like_kubectl(kubeconfig, (const char *[]){"cm", "-n", NULL}, 2,
                        "Error: flag needs an argument: 'n' in -n");
    expect_like_kubectl(kubeconfig, (const char *[]){"cm", "--selector", NULL}, 2,
                        "Error: flag needs an argument: --selector");
    /* A boolean flag takes a value after "=", as kubectl reads it. */
    expect_like_kubectl(kubeconfig, (const char *[]){"cm", "--watch=x", NULL}, 2,
                        "Error: invalid argument \"x\" for \"-w, --watch\" flag: "
                        "strconv.ParseBool: parsing \"x\": invalid syntax");
    /* Empty arguments, in kubectl's words. */
    expect_like_kubectl(kubeconfig, (const char *[]){"cm", "", NULL}, 1,
                        "error: resource name may not be empty");
    expect_like_kubectl(kubeconfig, (const char *[]){"", NULL}, 1,
                        "error: the server doesn't have a resource type \"\"");
    /* A usage error: kr-get's exit code 2. */
    expect_like_kubectl(kubeconfig, (const char *[]){"--chunk-size", "abc", "cm", NULL}, 2,
                        "Error: invalid argument \"abc\" for \"--chunk-size\" flag: "
                        "strconv.ParseInt: parsing \"abc\": invalid syntax");

    /* -A wins over -n; a cluster-scoped object by name with -A is fine. */
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    char *all[] = {bin, "--kubeconfig", kubeconfig, "-n", "elsewhere", "-A", "cm", "-ojsonl", NULL};
    child c;
    spawn(&c, all, false);
    expect_name(&c, "a1");
    ck_assert_int_eq(finish(&c), 0);
    char *ns[] = {bin, "--kubeconfig", kubeconfig, "-A", "ns", "default", "-ojsonl", NULL};
    spawn(&c, ns, false);
    expect_name(&c, "default");
    ck_assert_int_eq(finish(&c), 0);
    char *bools[] = {bin,       "--kubeconfig",          kubeconfig, "--watch=false", "-n",
                     "nowhere", "--all-namespaces=True", "cm",       "-ojsonl",       NULL};
    spawn(&c, bools, false);
    expect_name(&c, "a1");
    ck_assert_int_eq(finish(&c), 0);
    /* A short flag's value after "=", as kubectl (pflag) reads it. */
    char *eq[] = {bin,        "--kubeconfig", kubeconfig, "-n=nowhere", "-A=true",
                  "-w=false", "-l=app=kr",    "cm",       "-o=jsonl",   NULL};
    spawn(&c, eq, false);
    expect_name(&c, "a1");
    ck_assert_int_eq(finish(&c), 0);
    if (kr_test_have_program("kubectl")) {
        const char *kargv[] = {"/usr/bin/env", "kubectl",    "--kubeconfig", kubeconfig,
                               "get",          "-n=nowhere", "-A=true",      "-w=false",
                               "-l=app=kr",    "cm",         "-o=name",      NULL};
        char out[4096];
        ck_assert_int_eq(kr_test_proc_run(kargv, out, sizeof(out), 60000), 0);
        ck_assert_str_eq(out, "configmap/a1\n");
    }
    /* An empty -n is none: the kubeconfig's namespace, as kubectl has it. */
    char *empty_ns[] = {bin, "--kubeconfig", kubeconfig, "-n", "", "cm", "a1", "-ojsonl", NULL};
    spawn(&c, empty_ns, true);
    expect_name(&c, "a1");
    ck_assert_int_eq(finish(&c), 0);
    if (kr_test_have_program("kubectl")) {
        const char *kargv[] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig, "get",
                               "-n",           "",        "cm",           "a1",       "-o",
                               "name",         NULL};
        char out[4096];
        ck_assert_int_eq(kr_test_proc_run(kargv, out, sizeof(out), 60000), 0);
        ck_assert_str_eq(out, "configmap/a1\n");
    }
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* A list the server refuses (400) is worded as kubectl words it: the
 * resource and the selectors before the server's message. */
START_TEST(list_errors_name_the_resource_and_selectors)
{
    kr_testserver_t *ts = server();
    load(ts, "a1", "1");
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "list errors");
    expect_like_kubectl(
        kubeconfig, (const char *[]){"cm", "-l", "bad==x=", NULL}, 1,
        "Error from server (BadRequest): Unable to find \"/v1, Resource=configmaps\" "
        "that match label selector \"bad==x=\", field selector \"\": found '=', "
        "expected: ',' or 'end of string'");
    expect_like_kubectl(
        kubeconfig,
        (const char *[]){"deploy", "--chunk-size", "0", "--field-selector", "spec.x=1", NULL}, 1,
        "Error from server (BadRequest): Unable to find \"apps/v1, "
        "Resource=deployments\" that match label selector \"\", field selector "
        "\"spec.x=1\": \"spec.x\" is not a known field selector: only "
        "\"metadata.name\", \"metadata.namespace\"");
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* NAME not found in a namespace that does not exist: kubectl asks for the
 * namespace and reports it missing instead ("default" is not asked for). */
START_TEST(a_missing_namespace_is_reported_as_kubectl_does)
{
    kr_testserver_t *ts = server();
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), "missing namespaces");
    expect_like_kubectl(kubeconfig, (const char *[]){"-n", "nowhere", "cm", "x", NULL}, 1,
                        "Error from server (NotFound): namespaces \"nowhere\" not found");
    expect_like_kubectl(kubeconfig, (const char *[]){"-n", "nowhere", "-w", "cm", "x", NULL}, 1,
                        "Error from server (NotFound): namespaces \"nowhere\" not found");
    expect_like_kubectl(kubeconfig, (const char *[]){"-n", "kube-system", "cm", "x", NULL}, 1,
                        "Error from server (NotFound): configmaps \"x\" not found");
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

/* A resource's plural or singular name in any case is found, as kubectl
 * finds it ("ConfigMaps", "DEPLOYMENTS.apps"); a short name only as it is. */
START_TEST(resource_names_match_in_any_case_as_kubectl)
{
    kr_testserver_t *ts = server();
    load(ts, "a1", "1");
    char kubeconfig[128];
    write_kubeconfig(ts, kubeconfig, sizeof(kubeconfig), NULL);
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    static const char *const names[] = {"ConfigMaps", "CONFIGMAP", "ConfigMaps.v1."};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *argv[] = {bin, "--kubeconfig", kubeconfig, (char *)names[i], "a1", "-ojsonl", NULL};
        child c;
        spawn(&c, argv, true);
        expect_name(&c, "a1");
        ck_assert_int_eq(finish(&c), 0);
        if (kr_test_have_program("kubectl")) {
            const char *kargv[] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig, "get",
                                   names[i],       "a1",      "-o",           "name",     NULL};
            char out[4096];
            ck_assert_int_eq(kr_test_proc_run(kargv, out, sizeof(out), 60000), 0);
            ck_assert_str_eq(out, "configmap/a1\n");
        }
    }
    if (!kr_test_have_program("kubectl"))
        kr_test_skip("test_kr_get", "resource names compared with kubectl: kubectl not found");
    expect_like_kubectl(kubeconfig, (const char *[]){"CM", NULL}, 1,
                        "error: the server doesn't have a resource type \"CM\"");
    /* An unknown name is named without its version and group. */
    expect_like_kubectl(kubeconfig, (const char *[]){"foos.v1.apps", NULL}, 1,
                        "error: the server doesn't have a resource type \"foos\"");
    expect_like_kubectl(kubeconfig, (const char *[]){"configmaps.v2", NULL}, 1,
                        "error: the server doesn't have a resource type \"configmaps\"");
    unlink(kubeconfig);
    kr_testserver_free(ts);
}
END_TEST

static void wait_watches(kr_testserver_t *ts, size_t n)
{
    for (int i = 0; i < 30000 && kr_testserver_watch_count(ts) != n; i++)
        usleep(1000);
    ck_assert_uint_eq(kr_testserver_watch_count(ts), n);
}

START_TEST(watch_resumes_after_reconnect_and_relists_on_gone)
{
    kr_testserver_t *ts = server();
    load(ts, "first", "1");
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    char *argv[] = {
        bin,     "--server", (char *)kr_testserver_url(ts), "cm", "-w", "-l", "app=kr", "-o",
        "jsonl", NULL};
    child c;
    spawn(&c, argv, false);
    expect_name(&c, "first");
    wait_watches(ts, 1);
    load(ts, "second", "2");
    expect_name(&c, "second");

    /* A clean end: kr-get re-watches from the last RV, no duplicates. */
    kr_testserver_close_watches(ts);
    wait_watches(ts, 1);
    load(ts, "third", "3");
    expect_name(&c, "third");

    /* The RV moves on where kr-get does not look, history is dropped and
     * the stream ends: re-watching from its RV gets 410, so it relists
     * (everything again, in key order), then watches on. */
    load_app(ts, "unwatched", "other");
    kr_testserver_compact(ts);
    kr_testserver_close_watches(ts);
    expect_name(&c, "first");
    expect_name(&c, "second");
    expect_name(&c, "third");
    wait_watches(ts, 1);
    load(ts, "fifth", "5");
    expect_name(&c, "fifth");

    /* A stream cut inside an event is the network's doing: kr-get watches
     * again from its RV and gets the event whole. */
    kr_testserver_faults cut = {.watch_max_events = 1, .watch_cut_mid_event = true};
    kr_testserver_set_faults(ts, &cut);
    load(ts, "sixth", "6");
    expect_name(&c, "sixth");
    kr_testserver_set_faults(ts, &(kr_testserver_faults){0});
    wait_watches(ts, 1);
    load(ts, "seventh", "7");
    expect_name(&c, "seventh");
    kr_test_proc_signal(&c.p, SIGTERM);
    finish(&c);
    kr_testserver_free(ts);
}
END_TEST

/* -w with the table: a relist after 410 Gone prints the table as a new
 * `kubectl get -w` would, its header first and its widths afresh, never
 * rows under no header (kubectl itself stops when a watch ends). */
START_TEST(a_relisted_watch_prints_the_table_with_its_header)
{
    kr_testserver_t *ts = server();
    load(ts, "first", "1");
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    char *argv[] = {bin,      "--server", (char *)kr_testserver_url(ts), "cm", "-w", "-l",
                    "app=kr", NULL};
    child c;
    spawn(&c, argv, false);
    char line[4096];
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    ck_assert_str_eq(line, "NAME    DATA   AGE");
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    mask_ages(line, sizeof(line));
    ck_assert_str_eq(line, "first   1      <age>");
    wait_watches(ts, 1);
    load(ts, "a-longer-second", "2");
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    mask_ages(line, sizeof(line));
    ck_assert_str_eq(line, "a-longer-second   1      <age>");
    load_app(ts, "unwatched", "other");
    kr_testserver_compact(ts);
    kr_testserver_close_watches(ts);
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    ck_assert_str_eq(line, "NAME              DATA   AGE");
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    mask_ages(line, sizeof(line));
    ck_assert_str_eq(line, "a-longer-second   1      <age>");
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    mask_ages(line, sizeof(line));
    ck_assert_str_eq(line, "first             1      <age>");
    kr_test_proc_signal(&c.p, SIGTERM);
    finish(&c);
    kr_testserver_free(ts);
}
END_TEST

/* A --kubeconfig that is not there, in kubectl's words. */
START_TEST(a_missing_kubeconfig_is_reported_as_kubectl_does)
{
    char missing[128], want[256];
    snprintf(missing, sizeof(missing), "%s/missing-kubeconfig-%d", log_dir, (int)getpid());
    snprintf(want, sizeof(want), "error: stat %s: no such file or directory\n", missing);
    if (!kr_test_have_program("kubectl"))
        kr_test_skip("test_kr_get",
                     "a missing kubeconfig compared with kubectl: kubectl not found");
    expect_as_kubectl(missing, (const char *[]){"cm", NULL}, 1, "", want);
    expect_as_kubectl(missing, (const char *[]){"cm/a", "-o", "name", NULL}, 1, "", want);
}
END_TEST

/* A server that refuses connections, in kubectl's words: its last line
 * (kubectl logs the failed discovery before it, kr-get warns). */
START_TEST(a_refused_connection_is_reported_as_kubectl_does)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    ck_assert(fd >= 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    /* bound and not listening: refused, and no other process can take
     * the port meanwhile (closed, it could) */
    int port = ntohs(sa.sin_port);
    char kubeconfig[128], text[1024], want[256];
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/refused-%d", log_dir, (int)getpid());
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "
             "http://127.0.0.1:%d\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: c\n  "
             "context: {cluster: c, user: u, namespace: default}\ncurrent-context: c\n",
             port);
    FILE *f = fopen(kubeconfig, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    snprintf(want, sizeof(want),
             "The connection to the server 127.0.0.1:%d was refused - did you specify the right "
             "host or port?\n",
             port);
    if (!kr_test_have_program("kubectl"))
        kr_test_skip("test_kr_get",
                     "a refused connection compared with kubectl: kubectl not found");
    /* kubectl's discovery cache starts empty: one of an earlier server on
     * this port would let kubectl ask for each NAME, and say the refusal
     * once per NAME, where without it discovery fails first, said once */
    char cache[256];
    ck_assert(kr_test_tmpdir_make(cache, sizeof(cache), "kubectl-cache"));
    static const char *const cases[][4] = {
        {"cm", NULL}, {"cm", "a", "b", NULL}, {"cm/a", "-o", "json", NULL}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[8] = {"kr-get", "--kubeconfig", kubeconfig},
                   *kargv[12] = {"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig,
                                 "--cache-dir",  cache,     "get"};
        for (size_t j = 0; cases[i][j]; j++)
            argv[3 + j] = kargv[7 + j] = cases[i][j];
        static char out[4096], err[65536];
        kr_test_proc_io io = {.err = err, .err_size = sizeof(err)};
        for (int k = 0; k < 2; k++) {
            if (k == 1 && !kr_test_have_program("kubectl"))
                break;
            ck_assert_int_eq(kr_test_proc_run_io(k ? kargv : argv, &io, out, sizeof(out), 60000),
                             1);
            ck_assert_str_eq(out, "");
            size_t n = strlen(err);
            ck_assert_uint_ge(n, strlen(want));
            ck_assert_str_eq(err + n - strlen(want), want);
            ck_assert_ptr_eq(strstr(err, "The connection"), err + n - strlen(want)); /* once */
        }
    }
    unlink(kubeconfig);
    kr_test_tmpdir_remove(cache);
    close(fd);
}
END_TEST

START_TEST(wrong_token_in_the_kubeconfig_is_reported_like_kubectl)
{
    if (!have_certs)
        return;
    char kubeconfig[128];
    kr_testserver_t *ts = tls_server(kubeconfig, sizeof(kubeconfig));
    char bin[512];
    kr_test_bin_path(bin, sizeof(bin), "kr-get");
    char *argv[] = {bin, "--kubeconfig", kubeconfig, "--token", "wrong", "cm", NULL};
    child c;
    spawn(&c, argv, true);
    char line[4096];
    ck_assert_ptr_nonnull(next_line(&c, 30, line, sizeof(line)));
    ck_assert_str_eq(line, "error: You must be logged in to the server (Unauthorized)");
    ck_assert_int_eq(finish(&c), 1);
    kr_testserver_free(ts);
}
END_TEST

int main(void)
{
    have_certs = kr_test_make_server_cert(cert_dir, sizeof(cert_dir), "test_kr_get");
    if (!kr_test_tmpdir_make(log_dir, sizeof(log_dir), "test_kr_get"))
        return 1;
    Suite *s = suite_create("kr_get");
    TCase *tc = tcase_create("kr_get");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, lists_as_json_lines_matching_kubectl);
    tcase_add_test(tc, a_named_table_refused_exits_1);
    tcase_add_test(tc, prints_yaml_as_kubectl_does);
    tcase_add_test(tc, errors_print_the_status_message_and_exit_1);
    tcase_add_test(tc, prints_names_as_kubectl_does);
    tcase_add_test(tc, prints_json_as_kubectl_does);
    tcase_add_test(tc, gets_several_names_as_kubectl_does);
    tcase_add_test(tc, reports_nothing_found_as_kubectl_does);
    tcase_add_test(tc, refuses_what_kubectl_refuses);
    tcase_add_test(tc, prints_custom_columns_as_kubectl_does);
    tcase_add_test(tc, a_relisted_watch_prints_the_table_with_its_header);
    tcase_add_test(tc, comma_separated_types_as_kubectl_does);
    tcase_add_test(tc, prints_tables_as_kubectl_does);
    tcase_add_test(tc, prints_wide_tables_and_labels_as_kubectl_does);
    tcase_add_test(tc, prints_jsonpath_as_kubectl_does);
    tcase_add_test(tc, list_errors_name_the_resource_and_selectors);
    tcase_add_test(tc, a_missing_namespace_is_reported_as_kubectl_does);
    tcase_add_test(tc, resource_names_match_in_any_case_as_kubectl);
    tcase_add_test(tc, wrong_token_in_the_kubeconfig_is_reported_like_kubectl);
    tcase_add_test(tc, a_missing_kubeconfig_is_reported_as_kubectl_does);
    tcase_add_test(tc, a_refused_connection_is_reported_as_kubectl_does);
    tcase_add_test(tc, watch_resumes_after_reconnect_and_relists_on_gone);
    suite_add_tcase(s, tc);
    int status = kr_test_run_suite(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cert_dir);
    if (system(cmd) != 0)
        printf("test_kr_get: could not remove %s\n", cert_dir);
    kr_test_tmpdir_remove(log_dir);
    return status;
}
