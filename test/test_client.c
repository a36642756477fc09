/* Tests of kr_client against the in-memory API server: verbs over plain
 * HTTP, Status errors, pagination, watches (events, resourceVersion, clean
 * end, 410, cut streams), retries on injected 429/5xx, TLS with a token and
 * with a client certificate (certificates made with the openssl command),
 * credentials only over https, a credential provider renewed on 401,
 * HTTP/2 through nghttpx, discovery, 1,000 watches on one loop, and stop.
 * Threaded: KR_TEST_THREADED */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_state.h"
#include "config_internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

static const kr_gvr CM = KR_GVR("", "v1", "configmaps");

/* The test server patches through the library's patch engine, which lives
 * in another module: patch checks are skipped (loudly) when it is absent. */
#pragma weak kr_patch_merge_apply
static bool have_patch_engine(void)
{
    if (kr_patch_merge_apply)
        return true;
    kr_test_skip("test_client", "patch checks: the patch engine is not linked");
    return false;
}
static char cert_dir[256];
static bool have_certs;

/* ---- helpers ---------------------------------------------------------- */

/* CA, server certificate (127.0.0.1 and kr-test.internal) and a client
 * certificate for alice, made once per run with the openssl command. */
static void make_certs(void)
{
    if (!kr_test_have_program("openssl")) {
        printf("test_client: openssl not found: TLS tests are skipped\n");
        return;
    }
    if (!kr_test_tmpdir_make(cert_dir, sizeof(cert_dir), "kr-client-certs"))
        return;
    char path[300];
    snprintf(path, sizeof(path), "%s/make.sh", cert_dir);
    FILE *sh = fopen(path, "w");
    if (!sh)
        return;
    fprintf(sh,
            "set -e; cd '%s'; K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
            "openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=kr-test-ca\n"
            "openssl req $K -keyout srv.key -out srv.csr -subj /CN=127.0.0.1\n"
            "echo 'subjectAltName=IP:127.0.0.1,DNS:kr-test.internal,DNS:localhost' > srv.ext\n"
            "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
            "-out srv.crt -days 2 -extfile srv.ext\n"
            "openssl req $K -keyout cli.key -out cli.csr -subj /CN=alice/O=devs\n"
            "echo 'extendedKeyUsage=clientAuth' > cli.ext\n"
            "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
            "-out cli.crt -days 2 -extfile cli.ext\n",
            cert_dir);
    fclose(sh);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "sh '%s' >/dev/null 2>&1", path);
    have_certs = system(cmd) == 0;
    if (!have_certs)
        printf("test_client: certificate generation failed: TLS tests are skipped\n");
}

typedef struct log_count {
    atomic_int retries;
    atomic_int warnings;
    atomic_int secrets_seen;
    atomic_int discovery_gets; /* answers to GET /api... (debug lines) */
} log_count;

static void count_log(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)module;
    log_count *lc = user;
    if (strstr(message, "retry"))
        atomic_fetch_add(&lc->retries, 1);
    if (level == KR_LOG_WARN)
        atomic_fetch_add(&lc->warnings, 1);
    if (strstr(message, "sekret"))
        atomic_fetch_add(&lc->secrets_seen, 1);
    if (level == KR_LOG_DEBUG && strncmp(message, "GET /api", 8) == 0 &&
        strstr(message, ": HTTP 200"))
        atomic_fetch_add(&lc->discovery_gets, 1);
}

typedef struct fixture {
    kr_testserver_t *ts;
    kr_runtime_t *rt;
    kr_rest_config cfg;
    kr_client_t *c;
    log_count logs;
    char *ca, *srv_crt, *srv_key, *cli_crt, *cli_key;
} fixture;

static void start_server(fixture *f, kr_testserver_opts *o)
{
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(o, &f->ts, &err) == 0, "%s", err.message);
}

static void start_client(fixture *f, const kr_client_opts *opts)
{
    kr_error_t err = {0};
    kr_runtime_opts ro = {.logger = {.cb = count_log, .max_level = KR_LOG_DEBUG, .user = &f->logs}};
    ck_assert_int_eq(kr_runtime_new(&ro, &f->rt, &err), 0);
    ck_assert_int_eq(kr_runtime_start(f->rt, &err), 0);
    if (!f->cfg.server)
        f->cfg.server = (char *)kr_testserver_url(f->ts);
    if (f->cfg.qps == 0)
        f->cfg.qps = -1; /* tests measure behaviour, not pacing */
    ck_assert_msg(kr_client_new(f->rt, &f->cfg, opts, &f->c, &err) == 0, "%s", err.message);
}

static void plain_fixture(fixture *f, const kr_client_opts *opts)
{
    memset(f, 0, sizeof(*f));
    kr_testserver_opts o = {.seed = 1};
    start_server(f, &o);
    start_client(f, opts);
}

static void load_tls(fixture *f)
{
    f->ca = kr_test_read_file(cert_dir, "ca.crt");
    f->srv_crt = kr_test_read_file(cert_dir, "srv.crt");
    f->srv_key = kr_test_read_file(cert_dir, "srv.key");
    f->cli_crt = kr_test_read_file(cert_dir, "cli.crt");
    f->cli_key = kr_test_read_file(cert_dir, "cli.key");
    ck_assert(f->ca && f->srv_crt && f->srv_key && f->cli_crt && f->cli_key);
}

static void teardown(fixture *f)
{
    kr_client_free(f->c);
    kr_runtime_free(f->rt);
    kr_testserver_free(f->ts);
    free(f->ca);
    free(f->srv_crt);
    free(f->srv_key);
    free(f->cli_crt);
    free(f->cli_key);
}

static json_t *configmap(const char *ns, const char *name, const char *value)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "namespace", ns, "data", "k", value);
}

/* n ConfigMaps in "default", named by `format` with their index. */
static void create_configmaps(kr_client_t *c, const char *format, int n)
{
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), format, i);
        json_t *cm = configmap("default", name, "v");
        kr_error_t err = {0};
        ck_assert_msg(kr_client_create(c, CM, "default", cm, NULL, NULL, &err) == 0, "%s",
                      err.message);
        json_decref(cm);
    }
}

/* A condition other threads signal; waits have a generous deadline. */
typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
} waiter;

static waiter W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void signal_all(void)
{
    pthread_mutex_lock(&W.lock);
    pthread_cond_broadcast(&W.cond);
    pthread_mutex_unlock(&W.lock);
}

static bool wait_for(bool (*pred)(void *), void *arg, int seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&W.lock);
    bool ok;
    while (!(ok = pred(arg))) {
        if (pthread_cond_timedwait(&W.cond, &W.lock, &deadline) == ETIMEDOUT) {
            ok = pred(arg);
            break;
        }
    }
    pthread_mutex_unlock(&W.lock);
    return ok;
}

/* ---- verbs over plain HTTP -------------------------------------------- */

START_TEST(crud_verbs_round_trip_over_plain_http)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_error_t err = {0};
    json_t *cm = configmap("default", "a", "1");
    json_t *out = NULL;
    ck_assert_msg(kr_client_create(f.c, CM, "default", cm, NULL, &out, &err) == 0, "%s",
                  err.message);
    const char *rv1 =
        json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion"));
    ck_assert_ptr_nonnull(rv1);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(out, "metadata"), "uid"));
    json_decref(out);

    /* Creating it again: 409 AlreadyExists with the server's message. */
    ck_assert_int_eq(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err), KR_EEXIST);
    ck_assert_int_eq(err.http_code, 409);
    ck_assert_str_eq(err.reason, "AlreadyExists");
    ck_assert_str_eq(err.message, "configmaps \"a\" already exists");

    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "a", &out, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "data"), "k")), "1");

    /* Update with the current RV, then with a stale one: 409 Conflict. */
    json_object_set_new(json_object_get(out, "data"), "k", json_string("2"));
    json_t *updated = NULL;
    ck_assert_int_eq(kr_client_update(f.c, CM, NULL, out, NULL, &updated, &err), 0);
    ck_assert_int_eq(kr_client_update(f.c, CM, NULL, out, NULL, NULL, &err), KR_ECONFLICT);
    ck_assert_str_eq(err.reason, "Conflict");
    json_decref(out);

    /* Patches: merge, JSON, strategic, server-side apply. */
    if (!have_patch_engine())
        goto after_patches;
    json_t *merge = json_pack("{s:{s:s}}", "data", "m", "merge");
    ck_assert_msg(kr_client_patch(f.c, CM, "default", "a", NULL, KR_PATCH_MERGE, merge, NULL, &out,
                                  &err) == 0,
                  "%s", err.message);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "data"), "m")),
                     "merge");
    json_decref(out);
    json_decref(merge);
    json_t *ops = json_pack("[{s:s, s:s, s:s}]", "op", "add", "path", "/data/j", "value", "json");
    ck_assert_int_eq(
        kr_client_patch(f.c, CM, "default", "a", NULL, KR_PATCH_JSON, ops, NULL, &out, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "data"), "j")), "json");
    json_decref(out);
    json_decref(ops);
    json_t *smp = json_pack("{s:{s:s}}", "data", "s", "strategic");
    ck_assert_int_eq(
        kr_client_patch(f.c, CM, "default", "a", NULL, KR_PATCH_STRATEGIC, smp, NULL, &out, &err),
        0);
    json_decref(out);
    json_decref(smp);
    json_t *apply = configmap("default", "applied", "ssa");
    kr_write_opts wo = {.field_manager = "kr-test", .force = true};
    ck_assert_msg(kr_client_patch(f.c, CM, "default", "applied", NULL, KR_PATCH_APPLY, apply, &wo,
                                  &out, &err) == 0,
                  "%s", err.message);
    json_decref(out);
    json_decref(apply);
after_patches:;
    kr_write_opts no_manager = {0};
    ck_assert_int_eq(kr_client_patch(f.c, CM, "default", "applied", NULL, KR_PATCH_APPLY, cm,
                                     &no_manager, NULL, &err),
                     KR_EINVAL);

    /* Dry run: answered, not stored. */
    json_t *dry = configmap("default", "dry", "x");
    kr_write_opts dro = {.dry_run = true};
    ck_assert_int_eq(kr_client_create(f.c, CM, "default", dry, &dro, NULL, &err), 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "dry", NULL, &err), KR_ENOTFOUND);
    json_decref(dry);

    /* Delete with a failed precondition, then for real. */
    kr_delete_opts bad = {.precondition_uid = "not-the-uid", .propagation_policy = "Background"};
    ck_assert_int_eq(kr_client_delete(f.c, CM, "default", "a", &bad, NULL, &err), KR_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "Precondition failed"));
    kr_delete_opts good = {.propagation_policy = "Foreground", .has_grace_period = true};
    ck_assert_int_eq(kr_client_delete(f.c, CM, "default", "a", &good, NULL, &err), 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "a", NULL, &err), KR_ENOTFOUND);
    ck_assert_int_eq(err.http_code, 404);
    ck_assert_str_eq(err.reason, "NotFound");
    ck_assert_str_eq(err.message, "configmaps \"a\" not found");
    ck_assert_str_eq(err.details_name, "a");
    json_decref(updated);
    json_decref(cm);
    teardown(&f);
}
END_TEST

/* mutate for create_or_update: data.k = the string `user`; -7 when NULL. */
static int set_k(json_t *obj, void *user)
{
    if (!user)
        return -7;
    json_t *data = json_object_get(obj, "data");
    if (!json_is_object(data)) {
        data = json_object();
        json_object_set_new(obj, "data", data);
    }
    json_object_set_new(data, "k", json_string(user));
    return 0;
}

static int rename_it(json_t *obj, void *user)
{
    (void)user;
    json_object_set_new(json_object_get(obj, "metadata"), "name", json_string("other"));
    return 0;
}

/* controller-runtime's CreateOrUpdate: created (the kind from discovery),
 * unchanged when mutate changes nothing (nothing sent), updated with the
 * resourceVersion read; a mutate that fails or renames sends nothing. */
START_TEST(create_or_update_creates_updates_and_leaves_alone)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_error_t err = {0};
    json_t *out = NULL;
    kr_operation_result done = KR_OPERATION_UPDATED;
    ck_assert_msg(
        kr_client_create_or_update(f.c, CM, "default", "cou", set_k, "1", &out, &done, &err) == 0,
        "%s", err.message);
    ck_assert_int_eq(done, KR_OPERATION_CREATED);
    ck_assert_str_eq(json_string_value(json_object_get(out, "kind")), "ConfigMap");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(out, "data"), "k")), "1");
    const char *rv =
        json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion"));
    char rv1[32];
    snprintf(rv1, sizeof(rv1), "%s", rv);
    json_decref(out);
    unsigned long long before = kr_testserver_resource_version(f.ts);
    ck_assert_int_eq(
        kr_client_create_or_update(f.c, CM, "default", "cou", set_k, "1", &out, &done, &err), 0);
    ck_assert_int_eq(done, KR_OPERATION_UNCHANGED);
    ck_assert_uint_eq(kr_testserver_resource_version(f.ts), before); /* nothing written */
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion")),
        rv1);
    json_decref(out);
    ck_assert_int_eq(
        kr_client_create_or_update(f.c, CM, "default", "cou", set_k, "2", NULL, &done, &err), 0);
    ck_assert_int_eq(done, KR_OPERATION_UPDATED);
    json_t *got = NULL;
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "cou", &got, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "k")), "2");
    json_decref(got);
    ck_assert_int_eq(
        kr_client_create_or_update(f.c, CM, "default", "cou", set_k, NULL, NULL, &done, &err), -7);
    ck_assert_int_eq(done, KR_OPERATION_UNCHANGED);
    ck_assert_int_eq(
        kr_client_create_or_update(f.c, CM, "default", "cou", rename_it, NULL, NULL, &done, &err),
        KR_EINVAL);
    ck_assert_int_eq(
        kr_client_create_or_update(f.c, CM, "default", "new", rename_it, NULL, NULL, &done, &err),
        KR_EINVAL);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "new", NULL, &err), KR_ENOTFOUND);
    ck_assert_int_eq(
        kr_client_create_or_update(f.c, CM, "default", "", set_k, "1", NULL, NULL, &err),
        KR_EINVAL);
    teardown(&f);
}
END_TEST

/* mutate for create_or_patch: a Deployment with `user`'s replicas in its
 * spec and status (either < 0: left as it is). */
typedef struct want_deploy {
    int spec_replicas, status_replicas;
    kr_client_t *meddler; /* labels the object between the GET and the patch */
} want_deploy;

static int set_deploy(json_t *obj, void *user)
{
    const want_deploy *w = user;
    if (w->meddler) {
        json_t *label = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "owner", "someone");
        int rc = kr_client_patch(w->meddler, KR_GVR("apps", "v1", "deployments"), "default", "cop",
                                 NULL, KR_PATCH_MERGE, label, NULL, NULL, NULL);
        json_decref(label);
        if (rc != 0)
            return rc;
    }
    if (!json_object_get(obj, "spec")) {
        json_t *spec =
            json_pack("{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, s:{s:[{s:s, s:s}]}}}", "replicas", 0,
                      "selector", "matchLabels", "app", "cop", "template", "metadata", "labels",
                      "app", "cop", "spec", "containers", "name", "c", "image", "busybox");
        json_object_set_new(obj, "spec", spec);
    }
    if (w->spec_replicas >= 0)
        json_object_set_new(json_object_get(obj, "spec"), "replicas",
                            json_integer(w->spec_replicas));
    if (w->status_replicas >= 0) {
        if (!json_object_get(obj, "status"))
            json_object_set_new(obj, "status", json_object());
        json_object_set_new(json_object_get(obj, "status"), "replicas",
                            json_integer(w->status_replicas));
    }
    return 0;
}

static json_int_t deploy_int(const json_t *o, const char *section, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(o, section), key));
}

/* controller-runtime's CreateOrPatch: created; what mutate changed goes as
 * merge patches without a resourceVersion, the object's and its status's
 * apart, so that another writer's change to a field mutate left alone
 * stands (CreateOrUpdate's PUT would have met a conflict); nothing sent
 * when nothing changed; a mutate that renames sends nothing. */
START_TEST(create_or_patch_sends_only_what_mutate_changed)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_gvr deploy = KR_GVR("apps", "v1", "deployments");
    kr_error_t err = {0};
    json_t *out = NULL;
    kr_operation_result done = KR_OPERATION_UPDATED;
    want_deploy w = {1, -1, NULL};
    ck_assert_msg(kr_client_create_or_patch(f.c, deploy, "default", "cop", set_deploy, &w, &out,
                                            &done, &err) == 0,
                  "%s", err.message);
    ck_assert_int_eq(done, KR_OPERATION_CREATED);
    ck_assert_str_eq(json_string_value(json_object_get(out, "kind")), "Deployment");
    ck_assert_int_eq(deploy_int(out, "spec", "replicas"), 1);
    json_decref(out);

    /* someone else labels it between our read and our write: our patch
     * (no resourceVersion) meets no conflict, and the label stands */
    w = (want_deploy){2, -1, f.c};
    ck_assert_msg(kr_client_create_or_patch(f.c, deploy, "default", "cop", set_deploy, &w, &out,
                                            &done, &err) == 0,
                  "%s", err.message);
    ck_assert_int_eq(done, KR_OPERATION_UPDATED);
    ck_assert_int_eq(deploy_int(out, "spec", "replicas"), 2);
    json_decref(out);
    w = (want_deploy){1, -1, NULL};
    ck_assert_int_eq(
        kr_client_create_or_patch(f.c, deploy, "default", "cop", set_deploy, &w, &out, &done, &err),
        0);
    ck_assert_int_eq(done, KR_OPERATION_UPDATED);
    json_decref(out);
    unsigned long long before = kr_testserver_resource_version(f.ts);
    ck_assert_int_eq(
        kr_client_create_or_patch(f.c, deploy, "default", "cop", set_deploy, &w, &out, &done, &err),
        0);
    ck_assert_int_eq(done, KR_OPERATION_UNCHANGED);
    ck_assert_uint_eq(kr_testserver_resource_version(f.ts), before); /* nothing written */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(out, "metadata"), "labels"), "owner")),
                     "someone");
    json_decref(out);

    kr_testserver_reset_requests(f.ts);
    w = (want_deploy){3, -1, NULL};
    ck_assert_int_eq(
        kr_client_create_or_patch(f.c, deploy, "default", "cop", set_deploy, &w, &out, &done, &err),
        0);
    ck_assert_int_eq(done, KR_OPERATION_UPDATED);
    ck_assert_int_eq(deploy_int(out, "spec", "replicas"), 3);
    json_decref(out);
    w = (want_deploy){-1, 2, NULL};
    ck_assert_int_eq(
        kr_client_create_or_patch(f.c, deploy, "default", "cop", set_deploy, &w, &out, &done, &err),
        0);
    ck_assert_int_eq(done, KR_OPERATION_UPDATED_STATUS_ONLY);
    ck_assert_int_eq(deploy_int(out, "status", "replicas"), 2);
    json_decref(out);
    w = (want_deploy){4, 4, NULL};
    ck_assert_int_eq(
        kr_client_create_or_patch(f.c, deploy, "default", "cop", set_deploy, &w, &out, &done, &err),
        0);
    ck_assert_int_eq(done, KR_OPERATION_UPDATED_STATUS);
    ck_assert_int_eq(deploy_int(out, "spec", "replicas"), 4);
    ck_assert_int_eq(deploy_int(out, "status", "replicas"), 4);
    json_decref(out);
    json_t *requests = kr_testserver_requests(f.ts);
    /* a patch of the object twice, of its status twice, never an update */
    ck_assert_int_eq(json_integer_value(json_object_get(requests, "patch deployments")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(requests, "patch deployments/status")), 2);
    ck_assert_ptr_null(json_object_get(requests, "update deployments"));
    json_decref(requests);

    json_t *got = NULL;
    ck_assert_int_eq(kr_client_get(f.c, deploy, "default", "cop", &got, &err), 0);
    ck_assert_int_eq(deploy_int(got, "spec", "replicas"), 4);
    ck_assert_int_eq(deploy_int(got, "status", "replicas"), 4);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(got, "metadata"), "labels"), "owner")),
                     "someone");
    json_decref(got);
    ck_assert_int_eq(kr_client_create_or_patch(f.c, deploy, "default", "cop", rename_it, NULL, NULL,
                                               &done, &err),
                     KR_EINVAL);
    ck_assert_int_eq(done, KR_OPERATION_UNCHANGED);
    ck_assert_int_eq(
        kr_client_create_or_patch(f.c, deploy, "default", "", set_deploy, &w, NULL, NULL, &err),
        KR_EINVAL);
    teardown(&f);
}
END_TEST

/* A caller's version 1 kr_rest_config ends where version 1's fields end, at
 * the end of a page whose next page is unmapped: reading past the caller's
 * version would fault (also without ASan). */
START_TEST(a_version_1_config_is_never_read_past_its_fields)
{
    fixture f;
    plain_fixture(&f, NULL);
    ck_assert_uint_eq(f.cfg.version, 0); /* the fixture's {0} config: 0 is taken as 1 */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(map, MAP_FAILED);
    ck_assert_int_eq(mprotect(map + page, page, PROT_NONE), 0);
    ck_assert_uint_eq(KR_REST_CONFIG_V1_END % sizeof(void *), 0);
    kr_rest_config *v1 = (kr_rest_config *)(map + page - KR_REST_CONFIG_V1_END);
    v1->version = 1;
    v1->server = f.cfg.server;
    v1->qps = -1;
    v1->impersonate_uid = NULL; /* the last field of version 1 */

    kr_error_t err = {0};
    kr_client_t *c = NULL;
    ck_assert_msg(kr_client_new(f.rt, v1, NULL, &c, &err) == 0, "%s", err.message);
    json_t *cm = configmap("default", "v1", "1");
    ck_assert_msg(kr_client_create(c, CM, "default", cm, NULL, NULL, &err) == 0, "%s", err.message);
    json_decref(cm);
    kr_client_free(c);
    kr_rest_config *copy = NULL;
    ck_assert_int_eq(kr_rest_config_copy(v1, &copy, &err), 0);
    ck_assert_uint_eq(copy->version, KR_REST_CONFIG_VERSION);
    ck_assert_str_eq(copy->server, f.cfg.server);
    kr_rest_config_free(copy);

    /* a version newer than the library's is refused, not half read */
    v1->version = KR_REST_CONFIG_VERSION + 1;
    ck_assert_int_eq(kr_client_new(f.rt, v1, NULL, &c, &err), KR_EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(kr_rest_config_copy(v1, &copy, &err), KR_EINVAL);
    ck_assert_ptr_null(copy);
    munmap(map, 2 * page);
    teardown(&f);
}
END_TEST

START_TEST(status_subresource_changes_only_status)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_error_t err = {0};
    kr_gvr deploy = KR_GVR("apps", "v1", "deployments");
    json_t *d =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, s:{s:[{s:s, "
                  "s:s}]}}}}",
                  "apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", "web", "spec",
                  "replicas", 1, "selector", "matchLabels", "app", "web", "template", "metadata",
                  "labels", "app", "web", "spec", "containers", "name", "c", "image", "nginx");
    json_t *out = NULL;
    ck_assert_msg(kr_client_create(f.c, deploy, "default", d, NULL, &out, &err) == 0, "%s",
                  err.message);
    json_object_set_new(out, "status", json_pack("{s:i}", "readyReplicas", 1));
    json_object_set_new(json_object_get(out, "spec"), "replicas", json_integer(5));
    json_t *after = NULL;
    ck_assert_msg(kr_client_update_status(f.c, deploy, "default", out, NULL, &after, &err) == 0,
                  "%s", err.message);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(after, "status"), "readyReplicas")), 1);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(after, "spec"), "replicas")), 1);
    json_decref(after);
    json_decref(out);
    json_decref(d);
    teardown(&f);
}
END_TEST

static int count_page(json_t *page, void *user)
{
    int *pages = user;
    (*pages)++;
    return json_array_size(json_object_get(page, "items")) <= 10 ? 0 : -1;
}

START_TEST(pagination_follows_continue_tokens)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_error_t err = {0};
    create_configmaps(f.c, "cm-%02d", 25);
    int pages = 0;
    kr_list_opts lo = {.limit = 10};
    ck_assert_int_eq(kr_client_list_pages(f.c, CM, "default", &lo, count_page, &pages, &err), 0);
    ck_assert_int_eq(pages, 3);
    json_t *all = NULL;
    ck_assert_int_eq(kr_client_list_all(f.c, CM, NULL, &lo, &all, &err), 0);
    ck_assert_int_eq(json_array_size(json_object_get(all, "items")), 25);
    ck_assert_ptr_null(json_object_get(json_object_get(all, "metadata"), "continue"));
    ck_assert_str_eq(json_string_value(json_object_get(all, "kind")), "ConfigMapList");
    json_decref(all);
    /* Selectors reach the server. */
    kr_list_opts sel = {.field_selector = "metadata.name=cm-07"};
    ck_assert_int_eq(kr_client_list(f.c, CM, "default", &sel, &all, &err), 0);
    ck_assert_int_eq(json_array_size(json_object_get(all, "items")), 1);
    json_decref(all);
    kr_list_opts badsel = {.field_selector = "spec.foo=x"};
    ck_assert_int_eq(kr_client_list(f.c, CM, "default", &badsel, NULL, &err), KR_EINVAL);
    ck_assert_int_eq(err.http_code, 400);
    teardown(&f);
}
END_TEST

static void on_loop_blocking(void *arg)
{
    fixture *f = arg;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_client_get(f->c, CM, "default", "x", NULL, &err), KR_ESTATE);
}

START_TEST(blocking_calls_on_the_loop_thread_are_refused)
{
    fixture f;
    plain_fixture(&f, NULL);
    ck_assert_int_eq(kr_runtime_call_sync(f.rt, on_loop_blocking, &f), 0);
    teardown(&f);
}
END_TEST

/* Before kr_runtime_start nothing would answer a blocking call: it is
 * refused at once rather than waited on for ever. */
START_TEST(blocking_calls_before_the_runtime_starts_are_refused)
{
    kr_runtime_t *rt = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, &err), 0);
    kr_rest_config cfg = {.server = "http://127.0.0.1:1"};
    kr_client_t *c = NULL;
    ck_assert_msg(kr_client_new(rt, &cfg, NULL, &c, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_client_get(c, CM, "default", "x", NULL, &err), KR_ESTATE);
    ck_assert_ptr_nonnull(strstr(err.message, "before kr_runtime_start"));
    json_t *out = NULL;
    ck_assert_int_eq(kr_client_raw_get(c, "/version", NULL, &out, NULL, 0, &err), KR_ESTATE);
    kr_client_free(c);
    kr_runtime_free(rt);
}
END_TEST

/* A try that meets `conflicts` conflicts first, then `last`. */
typedef struct tries {
    int conflicts, last, calls;
} tries;

static int one_try(kr_error_t *err, void *user)
{
    tries *t = user;
    t->calls++;
    if (t->calls <= t->conflicts)
        return kr_error_set(err, KR_ECONFLICT, "the object has been modified");
    return t->last ? kr_error_set(err, t->last, "try %d", t->calls) : 0;
}

/* client-go's RetryOnConflict with DefaultRetry: conflicts are tried again
 * (5 tries in all), anything else ends it. */
START_TEST(retry_on_conflict_tries_again_only_after_a_conflict)
{
    kr_error_t err = {0};
    tries t = {.conflicts = 2};
    ck_assert_int_eq(kr_retry_on_conflict(one_try, &t, &err), 0);
    ck_assert_int_eq(t.calls, 3);
    t = (tries){.conflicts = 100};
    ck_assert_int_eq(kr_retry_on_conflict(one_try, &t, &err), KR_ECONFLICT);
    ck_assert_int_eq(t.calls, 5);
    ck_assert_str_eq(err.message, "the object has been modified");
    t = (tries){.conflicts = 1, .last = KR_ENOTFOUND};
    ck_assert_int_eq(kr_retry_on_conflict(one_try, &t, &err), KR_ENOTFOUND);
    ck_assert_int_eq(t.calls, 2);
    ck_assert_int_eq(kr_retry_on_conflict(NULL, NULL, &err), KR_EINVAL);
}
END_TEST

/* ---- async API ---------------------------------------------------------- */

typedef struct async_result {
    atomic_int done;
    int code;
    bool on_loop;
    kr_runtime_t *rt;
    char name[64];
} async_result;

static void async_cb(json_t *result, const kr_error_t *err, void *user)
{
    async_result *r = user;
    r->on_loop = kr_runtime_is_loop_thread(r->rt);
    r->code = err ? err->code : 0;
    const char *name =
        json_string_value(json_object_get(json_object_get(result, "metadata"), "name"));
    snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
    atomic_store(&r->done, 1);
    signal_all();
}

static bool async_done(void *arg)
{
    return atomic_load(&((async_result *)arg)->done) != 0;
}

START_TEST(async_requests_call_back_on_the_loop_thread)
{
    fixture f;
    plain_fixture(&f, NULL);
    json_t *cm = configmap("default", "async", "1");
    kr_request req = {.verb = KR_VERB_CREATE, .ref = {CM, "default", NULL, NULL}, .body = cm};
    async_result r = {.rt = f.rt};
    ck_assert_int_eq(kr_client_do(f.c, &req, async_cb, &r, NULL), 0);
    json_decref(cm); /* serialised by kr_client_do */
    ck_assert(wait_for(async_done, &r, 30));
    ck_assert_int_eq(r.code, 0);
    ck_assert(r.on_loop);
    ck_assert_str_eq(r.name, "async");
    teardown(&f);
}
END_TEST

/* ---- watches ------------------------------------------------------------ */

typedef struct watch_log {
    pthread_mutex_t lock;
    int events;
    kr_watch_event_type types[64];
    char names[64][32];
    char last_rv[32];
    atomic_int ended;
    int end_rc;
    char end_message[1100];
} watch_log;

static void log_event(kr_watch_t *w, kr_watch_event_type type, json_t *object, void *user)
{
    watch_log *l = user;
    pthread_mutex_lock(&l->lock);
    if (l->events < 64) {
        l->types[l->events] = type;
        const char *name =
            json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
        snprintf(l->names[l->events], sizeof(l->names[0]), "%s", name ? name : "");
    }
    l->events++;
    snprintf(l->last_rv, sizeof(l->last_rv), "%s", kr_watch_resource_version(w));
    pthread_mutex_unlock(&l->lock);
    signal_all();
}

static void log_end(kr_watch_t *w, int rc, const kr_error_t *err, void *user)
{
    (void)w;
    watch_log *l = user;
    pthread_mutex_lock(&l->lock);
    l->end_rc = rc;
    snprintf(l->end_message, sizeof(l->end_message), "%s", err ? err->message : "");
    pthread_mutex_unlock(&l->lock);
    atomic_store(&l->ended, 1);
    signal_all();
}

typedef struct count_goal {
    watch_log *log;
    int events;
} count_goal;

static bool has_events(void *arg)
{
    count_goal *g = arg;
    pthread_mutex_lock(&g->log->lock);
    bool ok = g->log->events >= g->events;
    pthread_mutex_unlock(&g->log->lock);
    return ok;
}

static bool has_ended(void *arg)
{
    return atomic_load(&((watch_log *)arg)->ended) != 0;
}

START_TEST(watch_delivers_events_in_order_and_tracks_resource_version)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_error_t err = {0};
    json_t *list = NULL;
    ck_assert_int_eq(kr_client_list(f.c, CM, "default", NULL, &list, &err), 0);
    const char *list_rv =
        json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
    kr_list_opts lo = {.resource_version = list_rv, .allow_watch_bookmarks = true};
    watch_log l = {.lock = PTHREAD_MUTEX_INITIALIZER};
    kr_watch_t *w = NULL;
    ck_assert_int_eq(kr_client_watch(f.c, CM, "default", &lo, log_event, log_end, &l, &w, &err), 0);
    json_decref(list);
    /* The watch is open once the server counts it. */
    ck_assert_uint_eq(kr_testserver_wait_watch_count(f.ts, 1, 30000), 1);
    json_t *cm = configmap("default", "w1", "1");
    json_t *created = NULL;
    ck_assert_int_eq(kr_client_create(f.c, CM, "default", cm, NULL, &created, &err), 0);
    json_t *patch = json_pack("{s:{s:s}}", "data", "k", "2");
    json_object_set(created, "data", json_object_get(patch, "data"));
    ck_assert_int_eq(kr_client_update(f.c, CM, NULL, created, NULL, NULL, &err), 0);
    json_t *deleted = NULL;
    ck_assert_int_eq(kr_client_delete(f.c, CM, "default", "w1", NULL, &deleted, &err), 0);
    count_goal g = {&l, 3};
    ck_assert(wait_for(has_events, &g, 30));
    pthread_mutex_lock(&l.lock);
    ck_assert_int_eq(l.types[0], KR_WATCH_ADDED);
    ck_assert_int_eq(l.types[1], KR_WATCH_MODIFIED);
    ck_assert_int_eq(l.types[2], KR_WATCH_DELETED);
    ck_assert_str_eq(l.names[2], "w1");
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", kr_testserver_resource_version(f.ts));
    ck_assert_str_eq(l.last_rv, rv);
    pthread_mutex_unlock(&l.lock);

    /* A clean end of stream is not an error. */
    kr_testserver_close_watches(f.ts);
    ck_assert(wait_for(has_ended, &l, 30));
    ck_assert_int_eq(l.end_rc, 0);
    kr_watch_free(w);
    json_decref(cm);
    json_decref(created);
    json_decref(patch);
    json_decref(deleted);
    teardown(&f);
}
END_TEST

START_TEST(watch_from_a_compacted_version_ends_with_gone)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_error_t err = {0};
    create_configmaps(f.c, "g%d", 3);
    kr_testserver_compact(f.ts);
    watch_log l = {.lock = PTHREAD_MUTEX_INITIALIZER};
    kr_list_opts lo = {.resource_version = "1"};
    kr_watch_t *w = NULL;
    ck_assert_int_eq(kr_client_watch(f.c, CM, "default", &lo, log_event, log_end, &l, &w, &err), 0);
    ck_assert(wait_for(has_ended, &l, 30));
    ck_assert_int_eq(l.end_rc, KR_EGONE);
    ck_assert_ptr_nonnull(strstr(l.end_message, "too old resource version"));
    kr_watch_free(w);
    teardown(&f);
}
END_TEST

START_TEST(watch_cut_inside_an_event_is_an_error_not_a_clean_end)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_error_t err = {0};
    kr_testserver_faults faults = {.watch_max_events = 2, .watch_cut_mid_event = true};
    kr_testserver_set_faults(f.ts, &faults);
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", kr_testserver_resource_version(f.ts));
    kr_list_opts lo = {.resource_version = rv};
    watch_log l = {.lock = PTHREAD_MUTEX_INITIALIZER};
    kr_watch_t *w = NULL;
    ck_assert_int_eq(kr_client_watch(f.c, CM, "default", &lo, log_event, log_end, &l, &w, &err), 0);
    ck_assert_uint_eq(kr_testserver_wait_watch_count(f.ts, 1, 30000), 1);
    create_configmaps(f.c, "c%d", 3);
    ck_assert(wait_for(has_ended, &l, 30));
    ck_assert_int_eq(l.events, 2);
    /* Half an event then the end: a failure, never a clean close. */
    ck_assert_int_ne(l.end_rc, 0);
    kr_watch_free(w);
    teardown(&f);
}
END_TEST

START_TEST(watch_event_over_the_size_limit_ends_the_watch)
{
    fixture f;
    kr_client_opts opts = {.max_event_bytes = 200};
    plain_fixture(&f, &opts);
    kr_error_t err = {0};
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    json_t *cm = configmap("default", "big", big);
    ck_assert_int_eq(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err), 0);
    watch_log l = {.lock = PTHREAD_MUTEX_INITIALIZER};
    kr_watch_t *w = NULL;
    ck_assert_int_eq(kr_client_watch(f.c, CM, "default", NULL, log_event, log_end, &l, &w, &err),
                     0);
    ck_assert(wait_for(has_ended, &l, 30));
    ck_assert_int_eq(l.end_rc, KR_ETOOLARGE);
    ck_assert_ptr_nonnull(strstr(l.end_message, "200 bytes"));
    ck_assert_int_eq(l.events, 0);
    kr_watch_free(w);
    json_decref(cm);
    teardown(&f);
}
END_TEST

static void free_in_callback(kr_watch_t *w, kr_watch_event_type type, json_t *object, void *user)
{
    (void)type;
    (void)object;
    watch_log *l = user;
    kr_watch_free(w);
    pthread_mutex_lock(&l->lock);
    l->events++;
    pthread_mutex_unlock(&l->lock);
    signal_all();
}

START_TEST(watch_freed_inside_its_callback_stops_quietly)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_error_t err = {0};
    create_configmaps(f.c, "f%d", 4);
    watch_log l = {.lock = PTHREAD_MUTEX_INITIALIZER};
    kr_watch_t *w = NULL;
    ck_assert_int_eq(
        kr_client_watch(f.c, CM, "default", NULL, free_in_callback, log_end, &l, &w, &err), 0);
    count_goal g = {&l, 1};
    ck_assert(wait_for(has_events, &g, 30));
    /* A later synchronous request proves the loop went on. */
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "f0", NULL, &err), 0);
    ck_assert_int_eq(l.events, 1);
    ck_assert_int_eq(atomic_load(&l.ended), 0);
    teardown(&f);
}
END_TEST

/* A watch whose client is freed from the loop thread (here: inside the
 * watch's own on_event, or before the watch was submitted), with the
 * watch freed from its on_end: no event after the end, no use after
 * free, no leak (the ASan run checks the last two). */
typedef struct client_free_ctx {
    kr_client_t *c;
    watch_log l;
    bool free_watch_in_end;
    kr_watch_t *w;
    int end_calls;
} client_free_ctx;

static void free_client_on_event(kr_watch_t *w, kr_watch_event_type type, json_t *object,
                                 void *user)
{
    client_free_ctx *x = user;
    log_event(w, type, object, &x->l);
    kr_client_t *c = x->c;
    x->c = NULL;
    kr_client_free(c); /* ends this watch, inside its own on_event */
}

static void end_and_maybe_free(kr_watch_t *w, int rc, const kr_error_t *err, void *user)
{
    client_free_ctx *x = user;
    x->end_calls++;
    if (x->free_watch_in_end)
        kr_watch_free(w);
    log_end(w, rc, err, &x->l);
}

START_TEST(watch_ended_by_freeing_its_client_in_on_event_delivers_no_more)
{
    for (int free_watch = 0; free_watch < 2; free_watch++) {
        fixture f;
        plain_fixture(&f, NULL);
        kr_error_t err = {0};
        create_configmaps(f.c, "e%d", 4);
        client_free_ctx x = {.c = f.c, .free_watch_in_end = free_watch};
        pthread_mutex_init(&x.l.lock, NULL);
        kr_watch_t *w = NULL;
        f.c = NULL; /* the watch's on_event frees it */
        ck_assert_int_eq(kr_client_watch(x.c, CM, "default", NULL, free_client_on_event,
                                         end_and_maybe_free, &x, &w, &err),
                         0);
        ck_assert(wait_for(has_ended, &x.l, 30));
        pthread_mutex_lock(&x.l.lock);
        ck_assert_int_eq(x.l.events, 1);
        ck_assert_int_eq(x.l.end_rc, KR_ESHUTDOWN);
        pthread_mutex_unlock(&x.l.lock);
        ck_assert_int_eq(x.end_calls, 1);
        if (!free_watch)
            kr_watch_free(w);
        teardown(&f);
        pthread_mutex_destroy(&x.l.lock);
    }
}
END_TEST

static void watch_then_free_client(void *arg)
{
    client_free_ctx *x = arg;
    kr_error_t err = {0};
    /* submitted to the loop, which then finds its client closing */
    ck_assert_int_eq(
        kr_client_watch(x->c, CM, "default", NULL, log_event, end_and_maybe_free, x, &x->w, &err),
        0);
    kr_client_free(x->c);
    x->c = NULL;
}

START_TEST(watch_freed_in_its_on_end_while_its_client_is_freed_leaks_nothing)
{
    fixture f;
    plain_fixture(&f, NULL);
    client_free_ctx x = {.c = f.c, .free_watch_in_end = true};
    pthread_mutex_init(&x.l.lock, NULL);
    f.c = NULL;
    ck_assert_int_eq(kr_runtime_call_sync(f.rt, watch_then_free_client, &x), 0);
    ck_assert(wait_for(has_ended, &x.l, 30));
    ck_assert_int_eq(x.l.end_rc, KR_ESHUTDOWN);
    ck_assert_int_eq(x.l.events, 0);
    ck_assert_int_eq(x.end_calls, 1);
    teardown(&f);
    pthread_mutex_destroy(&x.l.lock);
}
END_TEST

/* ---- retries ------------------------------------------------------------ */

START_TEST(retries_honour_429_and_5xx_for_idempotent_requests)
{
    fixture f;
    kr_client_opts opts = {.max_retries = 3, .backoff_base_ms = 5, .backoff_max_ms = 20};
    plain_fixture(&f, &opts);
    kr_error_t err = {0};
    json_t *cm = configmap("default", "r", "1");
    ck_assert_int_eq(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err), 0);

    /* Always 429: retried (any verb), then KR_ETHROTTLED with the Status. */
    kr_testserver_faults always429 = {.fail_429 = 1.0};
    kr_testserver_set_faults(f.ts, &always429);
    atomic_store(&f.logs.retries, 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "r", NULL, &err), KR_ETHROTTLED);
    ck_assert_int_eq(err.http_code, 429);
    ck_assert_str_eq(err.reason, "TooManyRequests");
    ck_assert_int_ge(err.retry_after_seconds, 1);
    ck_assert_int_eq(atomic_load(&f.logs.retries), 3);
    atomic_store(&f.logs.retries, 0);
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "x");
    ck_assert_int_eq(
        kr_client_patch(f.c, CM, "default", "r", NULL, KR_PATCH_MERGE, p, NULL, NULL, &err),
        KR_ETHROTTLED);
    ck_assert_int_eq(atomic_load(&f.logs.retries), 3);

    /* Always 500: GET retried, PATCH (not idempotent) never. */
    kr_testserver_faults always500 = {.fail_500 = 1.0};
    kr_testserver_set_faults(f.ts, &always500);
    atomic_store(&f.logs.retries, 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "r", NULL, &err), KR_EUNAVAILABLE);
    ck_assert_int_eq(atomic_load(&f.logs.retries), 3);
    ck_assert_int_eq(err.http_code, 500);
    atomic_store(&f.logs.retries, 0);
    ck_assert_int_eq(
        kr_client_patch(f.c, CM, "default", "r", NULL, KR_PATCH_MERGE, p, NULL, NULL, &err),
        KR_EUNAVAILABLE);
    ck_assert_int_eq(atomic_load(&f.logs.retries), 0);

    /* Half the requests fail: with retries, every GET succeeds. */
    kr_testserver_faults half = {.fail_503 = 0.3, .fail_429 = 0.2};
    kr_testserver_set_faults(f.ts, &half);
    kr_client_free(f.c);
    kr_client_opts many = {.max_retries = 30, .backoff_base_ms = 1, .backoff_max_ms = 2};
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, &many, &f.c, &err), 0);
    for (int i = 0; i < 40; i++)
        ck_assert_msg(kr_client_get(f.c, CM, "default", "r", NULL, &err) == 0, "%d: %s", i,
                      err.message);
    kr_testserver_faults none = {0};
    kr_testserver_set_faults(f.ts, &none);
    json_decref(p);
    json_decref(cm);
    teardown(&f);
}
END_TEST

START_TEST(connection_refused_is_retried_then_reported)
{
    fixture f;
    memset(&f, 0, sizeof(f));
    /* A port nobody listens on: bind, read it, close. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    f.cfg.server = url;
    kr_client_opts opts = {.max_retries = 2, .backoff_base_ms = 1, .backoff_max_ms = 2};
    start_client(&f, &opts);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ECONNECT);
    ck_assert_int_eq(err.http_code, 0);
    /* the error says why, as Go's dialer does (curl's text does not) */
    ck_assert_msg(strstr(err.message, "(connect: connection refused)"), "%s", err.message);
    ck_assert_int_eq(atomic_load(&f.logs.retries), 2);
    json_t *cm = configmap("default", "x", "1");
    atomic_store(&f.logs.retries, 0);
    ck_assert_int_eq(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err), KR_ECONNECT);
    ck_assert_int_eq(atomic_load(&f.logs.retries), 0);
    json_decref(cm);
    teardown(&f);
}
END_TEST

START_TEST(rate_limit_paces_requests)
{
    fixture f;
    memset(&f, 0, sizeof(f));
    kr_testserver_opts o = {.seed = 1};
    start_server(&f, &o);
    f.cfg.qps = 50;
    f.cfg.burst = 5;
    start_client(&f, NULL);
    kr_error_t err = {0};
    /* 5 from the burst, then 15 more at 50/s: at least 300 ms in all. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(kr_client_get(f.c, CM, "default", "none", NULL, &err), KR_ENOTFOUND);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1000 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ck_assert_double_ge(ms, 280.0);
    teardown(&f);
}
END_TEST

/* ---- credentials and TLS ------------------------------------------------ */

START_TEST(token_is_never_sent_over_plain_http)
{
    fixture f;
    memset(&f, 0, sizeof(f));
    const char *tokens[] = {"sekret:alice", NULL};
    kr_testserver_opts o = {.seed = 1, .tokens = tokens};
    start_server(&f, &o);
    f.cfg.bearer_token = "sekret";
    start_client(&f, NULL);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_EUNAUTHORIZED);
    ck_assert_int_eq(err.http_code, 401);
    ck_assert_ptr_null(strstr(err.message, "sekret"));
    ck_assert_int_ge(atomic_load(&f.logs.warnings), 1); /* "none will be sent" */
    ck_assert_int_eq(atomic_load(&f.logs.secrets_seen), 0);
    teardown(&f);
}
END_TEST

static void tls_fixture(fixture *f, bool client_ca)
{
    memset(f, 0, sizeof(*f));
    load_tls(f);
    static const char *tokens[] = {"sekret:alice", NULL};
    kr_testserver_opts o = {.seed = 1,
                            .tokens = tokens,
                            .tls_cert_pem = f->srv_crt,
                            .tls_key_pem = f->srv_key,
                            .client_ca_pem = client_ca ? f->ca : NULL};
    start_server(f, &o);
}

START_TEST(tls_with_a_token_verifies_the_server)
{
    if (!have_certs)
        return;
    fixture f;
    tls_fixture(&f, false);
    f.cfg.ca_data = f.ca;
    f.cfg.bearer_token = "sekret";
    start_client(&f, NULL);
    kr_error_t err = {0};
    ck_assert_msg(kr_client_get(f.c, CM, "default", "x", NULL, &err) == KR_ENOTFOUND, "%s",
                  err.message);
    kr_client_free(f.c);

    /* A wrong token: 401, and the token never shows in the error. */
    f.cfg.bearer_token = "wrong-sekret";
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, NULL, &f.c, &err), 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_EUNAUTHORIZED);
    ck_assert_str_eq(err.reason, "Unauthorized");
    ck_assert_ptr_null(strstr(err.message, "sekret"));
    kr_client_free(f.c);

    /* No CA: the certificate cannot be verified. */
    f.cfg.ca_data = NULL;
    f.cfg.bearer_token = "sekret";
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, NULL, &f.c, &err), 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ETLS);
    kr_client_free(f.c);

    /* insecure-skip-tls-verify works, with a warning. */
    f.cfg.insecure_skip_tls_verify = true;
    atomic_store(&f.logs.warnings, 0);
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, NULL, &f.c, &err), 0);
    ck_assert_int_ge(atomic_load(&f.logs.warnings), 1);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ENOTFOUND);
    kr_client_free(f.c);
    f.cfg.insecure_skip_tls_verify = false;

    /* tls-server-name: verify against another name the certificate holds,
     * from a CA file this time. */
    char ca_path[300];
    snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", cert_dir);
    f.cfg.ca_file = ca_path;
    char url[64];
    snprintf(url, sizeof(url), "https://localhost:%u", kr_testserver_port(f.ts));
    f.cfg.server = url;
    f.cfg.tls_server_name = "kr-test.internal";
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, NULL, &f.c, &err), 0);
    ck_assert_msg(kr_client_get(f.c, CM, "default", "x", NULL, &err) == KR_ENOTFOUND, "%s",
                  err.message);
    ck_assert_int_eq(atomic_load(&f.logs.secrets_seen), 0);
    teardown(&f);
}
END_TEST

START_TEST(tls_with_a_client_certificate_authenticates)
{
    if (!have_certs)
        return;
    fixture f;
    tls_fixture(&f, true);
    f.cfg.ca_data = f.ca;
    f.cfg.client_cert_data = f.cli_crt;
    f.cfg.client_key_data = f.cli_key;
    start_client(&f, NULL);
    kr_error_t err = {0};
    json_t *cm = configmap("default", "by-cert", "1");
    ck_assert_msg(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err) == 0, "%s",
                  err.message);
    kr_client_free(f.c);
    /* Without the certificate (and no token): 401. */
    f.cfg.client_cert_data = f.cfg.client_key_data = NULL;
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, NULL, &f.c, &err), 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "by-cert", NULL, &err), KR_EUNAUTHORIZED);
    kr_client_free(f.c);
    /* Files instead of data. */
    char crt[300], key[300];
    snprintf(crt, sizeof(crt), "%s/cli.crt", cert_dir);
    snprintf(key, sizeof(key), "%s/cli.key", cert_dir);
    f.cfg.client_cert_file = crt;
    f.cfg.client_key_file = key;
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, NULL, &f.c, &err), 0);
    ck_assert_msg(kr_client_get(f.c, CM, "default", "by-cert", NULL, &err) == 0, "%s", err.message);
    json_decref(cm);
    teardown(&f);
}
END_TEST

typedef struct test_provider {
    kr_credential_provider base;
    atomic_int calls;
    atomic_int forced;
    bool fail;
} test_provider;

static int provider_get(kr_credential_provider *self, bool force_refresh, kr_credential *out,
                        kr_error_t *err)
{
    test_provider *p = (test_provider *)self;
    atomic_fetch_add(&p->calls, 1);
    if (p->fail)
        return kr_error_set(err, KR_EIO, "plugin exited with status 1");
    memset(out, 0, sizeof(*out));
    /* A stale token until a 401 forces a refresh. */
    if (force_refresh)
        atomic_fetch_add(&p->forced, 1);
    out->token = atomic_load(&p->forced) > 0 ? "sekret" : "stale-sekret";
    return 0;
}

START_TEST(credential_provider_is_renewed_once_on_401)
{
    if (!have_certs)
        return;
    fixture f;
    tls_fixture(&f, false);
    test_provider p = {.base = {.get = provider_get}};
    f.cfg.ca_data = f.ca;
    f.cfg.credentials = &p.base;
    kr_error_t err = {0};
    kr_metrics_registry_t *reg = NULL;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, &err), 0);
    kr_client_opts co = KR_CLIENT_OPTS_INIT;
    co.metrics = reg;
    start_client(&f, &co);
    ck_assert_msg(kr_client_get(f.c, CM, "default", "x", NULL, &err) == KR_ENOTFOUND, "%s",
                  err.message);
    ck_assert_int_eq(atomic_load(&p.forced), 1);
    ck_assert_int_eq(atomic_load(&p.calls), 2);
    /* The refused attempt and the retry count as two requests, as
     * client-go's transport counts them. */
    char *text = NULL;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, &err), 0);
    char want[256];
    for (int code = 401; code <= 404; code += 3) {
        snprintf(want, sizeof(want),
                 "rest_client_requests_total{code=\"%d\",method=\"GET\",host=\"127.0.0.1:%u\"} 1\n",
                 code, (unsigned)kr_testserver_port(f.ts));
        ck_assert_msg(strstr(text, want), "no %s in\n%s", want, text);
    }
    kr_free(text);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ENOTFOUND);
    ck_assert_int_eq(atomic_load(&p.forced), 1);
    kr_client_free(f.c);
    kr_metrics_registry_free(reg);
    /* A failing provider fails the request with its message. */
    p.fail = true;
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, NULL, &f.c, &err), 0);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_EIO);
    ck_assert_ptr_nonnull(strstr(err.message, "plugin exited"));
    teardown(&f);
}
END_TEST

/* ---- HTTP/2 through nghttpx -------------------------------------------- */

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static const char NGHTTPX[] = "/usr/sbin/nghttpx";

/* nghttpx with a TLS frontend (h2 by ALPN) in front of the test server;
 * its output in `log`. */
static void start_nghttpx(kr_test_proc *p, const char *log, int front, int back, const char *key,
                          const char *crt)
{
    char frontend[64], backend[64];
    snprintf(frontend, sizeof(frontend), "--frontend=127.0.0.1,%d", front);
    snprintf(backend, sizeof(backend), "--backend=127.0.0.1,%d", back);
    /* --conf=/dev/null: the packaged config adds a listener of its own. */
    const char *argv[] = {NGHTTPX,
                          "--conf=/dev/null",
                          frontend,
                          backend,
                          "--workers=1",
                          "--no-ocsp",
                          "--backend-http1-connections-per-host=2000",
                          "--log-level=ERROR",
                          "--frontend-http2-max-concurrent-streams=2000",
                          "--no-server-push",
                          key,
                          crt,
                          NULL};
    kr_test_proc_start(p, log, argv);
    /* Another program's listener: nothing to wait on but the port itself. */
    for (int i = 0; i < 5000 && !port_open(front); i++)
        usleep(1000);
}

START_TEST(http2_through_nghttpx_multiplexes_requests_and_watches)
{
    if (access(NGHTTPX, X_OK) != 0 || !have_certs || !kr_http_have_http2()) {
        kr_test_skip("http2_through_nghttpx_multiplexes_requests_and_watches", "%s",
                     access(NGHTTPX, X_OK) != 0 ? "nghttpx (nghttp2-proxy) is not installed"
                                                : "no certificates or libcurl without HTTP/2");
        return;
    }
    fixture f;
    memset(&f, 0, sizeof(f));
    load_tls(&f);
    kr_testserver_opts o = {.seed = 1};
    start_server(&f, &o);
    int port = free_port();
    char key[300], crt[300], log[300];
    snprintf(key, sizeof(key), "%s/srv.key", cert_dir);
    snprintf(crt, sizeof(crt), "%s/srv.crt", cert_dir);
    snprintf(log, sizeof(log), "%s/nghttpx-%d.log", cert_dir, (int)getpid());
    kr_test_proc proxy;
    start_nghttpx(&proxy, log, port, kr_testserver_port(f.ts), key, crt);
    ck_assert(port_open(port));
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
    f.cfg.server = url;
    f.cfg.ca_data = f.ca;
    kr_client_opts opts = {.max_connections = 1};
    start_client(&f, &opts);
    kr_error_t err = {0};
    json_t *cm = configmap("default", "h2", "1");
    ck_assert_msg(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err) == 0, "%s",
                  err.message);
    /* Watches and requests share the single connection. */
    watch_log logs[8];
    kr_watch_t *w[8];
    for (int i = 0; i < 8; i++) {
        memset(&logs[i], 0, sizeof(logs[i]));
        pthread_mutex_init(&logs[i].lock, NULL);
        ck_assert_int_eq(
            kr_client_watch(f.c, CM, "default", NULL, log_event, log_end, &logs[i], &w[i], &err),
            0);
    }
    for (int i = 0; i < 8; i++) {
        count_goal g = {&logs[i], 1};
        ck_assert(wait_for(has_events, &g, 30));
    }
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(kr_client_get(f.c, CM, "default", "h2", NULL, &err), 0);
    /* Every answer (the create and 20 GETs; watches are not counted). */
    ck_assert_uint_ge(kr_client_http2_responses(f.c), 21);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(atomic_load(&logs[i].ended), 0);
        kr_watch_free(w[i]);
    }

    json_decref(cm);
    teardown(&f);
    kr_test_proc_kill(&proxy, SIGTERM);
    kr_test_proc_free(&proxy);
    unlink(log);
}
END_TEST

/* ---- discovery ------------------------------------------------------------ */

START_TEST(discovery_resolves_names_and_kinds)
{
    /* _i: 0 = aggregated discovery, 1 = legacy (one request per group). */
    fixture f;
    kr_client_opts opts = {.legacy_discovery = _i == 1};
    plain_fixture(&f, &opts);
    kr_error_t err = {0};
    kr_resource_info info;
    ck_assert_msg(kr_client_resolve(f.c, "deploy", &info, &err) == 0, "%s", err.message);
    ck_assert_str_eq(info.group, "apps");
    ck_assert_str_eq(info.resource, "deployments");
    ck_assert_str_eq(info.kind, "Deployment");
    ck_assert(info.namespaced);
    ck_assert_int_eq(kr_client_resolve(f.c, "cm", &info, &err), 0);
    ck_assert_str_eq(info.resource, "configmaps");
    ck_assert_int_eq(kr_client_resolve(f.c, "Namespace", &info, &err), 0);
    ck_assert(!info.namespaced);
    ck_assert_int_eq(kr_client_resolve(f.c, "leases.coordination.k8s.io", &info, &err), 0);
    ck_assert_str_eq(info.kind, "Lease");
    ck_assert_int_eq(kr_client_resolve(f.c, "nothings", &info, &err), KR_ENOTFOUND);
    ck_assert_str_eq(err.message, "the server doesn't have a resource type \"nothings\"");
    /* As kubectl: the resource alone, without its version and group. */
    ck_assert_int_eq(kr_client_resolve(f.c, "deployments.v2.apps", &info, &err), KR_ENOTFOUND);
    ck_assert_str_eq(err.message, "the server doesn't have a resource type \"deployments\"");
    ck_assert_int_eq(kr_client_resource_for_kind(f.c, "batch/v1", "CronJob", &info, &err), 0);
    ck_assert_str_eq(info.resource, "cronjobs");
    teardown(&f);
}
END_TEST

/* A name discovery does not know fetches discovery again at most once per
 * discovery_miss_interval_ms; with a negative interval, on every miss. */
START_TEST(discovery_misses_refetch_at_most_once_per_interval)
{
    fixture f;
    kr_client_opts opts = {.discovery_miss_interval_ms = _i == 0 ? 60000 : -1};
    plain_fixture(&f, &opts);
    kr_error_t err = {0};
    kr_resource_info info;
    ck_assert_int_eq(kr_client_resolve(f.c, "nothings", &info, &err), KR_ENOTFOUND);
    int first = atomic_load(&f.logs.discovery_gets);
    ck_assert_int_ge(first, 2); /* /api and /apis at least */
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(kr_client_resolve(f.c, "nothings", &info, &err), KR_ENOTFOUND);
        ck_assert_ptr_nonnull(strstr(err.message, "doesn't have a resource type"));
        ck_assert_int_eq(kr_client_resource_for_kind(f.c, "example.com/v1", "Nothing", &info, &err),
                         KR_ENOTFOUND);
    }
    int after = atomic_load(&f.logs.discovery_gets);
    if (_i == 0)
        ck_assert_int_eq(after, first); /* the cache answered every miss */
    else
        ck_assert_int_eq(after, first * 21); /* every miss fetched again */
    /* names it knows never fetch */
    ck_assert_int_eq(kr_client_resolve(f.c, "deploy", &info, &err), 0);
    ck_assert_int_eq(atomic_load(&f.logs.discovery_gets), after);
    kr_client_discovery_refresh(f.c, &err); /* an explicit refresh always fetches */
    ck_assert_int_eq(atomic_load(&f.logs.discovery_gets), after + first);
    teardown(&f);
}
END_TEST

/* A legacy-discovery server by hand: /api and /apis answer (or, with
 * `apis_down`, /apis is a 503), apps/v1 serves deployments, and
 * metrics.k8s.io/v1beta1 (an aggregated API whose backend is down) is a
 * 503. Counts the requests to /apis. */
typedef struct fake_discovery {
    bool apis_down;
    atomic_int apis_gets;
} fake_discovery;

static enum MHD_Result fake_discovery_serve(void *cls, struct MHD_Connection *conn, const char *url,
                                            const char *method, const char *version,
                                            const char *upload, size_t *upload_size, void **state)
{
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_size;
    if (!*state) {
        *state = conn;
        return MHD_YES;
    }
    fake_discovery *fd = cls;
    static const char api[] = "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"]}";
    static const char core[] =
        "{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\",\"resources\":[{\"name\":"
        "\"configmaps\",\"singularName\":\"configmap\",\"namespaced\":true,\"kind\":"
        "\"ConfigMap\",\"verbs\":[\"get\",\"list\"],\"shortNames\":[\"cm\"]}]}";
    static const char apis[] =
        "{\"kind\":\"APIGroupList\",\"groups\":[{\"name\":\"apps\",\"versions\":[{"
        "\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}],\"preferredVersion\":{"
        "\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}},{\"name\":\"metrics.k8s.io\","
        "\"versions\":[{\"groupVersion\":\"metrics.k8s.io/v1beta1\",\"version\":\"v1beta1\"}],"
        "\"preferredVersion\":{\"groupVersion\":\"metrics.k8s.io/v1beta1\",\"version\":"
        "\"v1beta1\"}}]}";
    static const char apps[] =
        "{\"kind\":\"APIResourceList\",\"groupVersion\":\"apps/v1\",\"resources\":[{\"name\":"
        "\"deployments\",\"singularName\":\"deployment\",\"namespaced\":true,\"kind\":"
        "\"Deployment\",\"verbs\":[\"get\",\"list\"],\"shortNames\":[\"deploy\"]}]}";
    static const char down[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                               "\"reason\":\"ServiceUnavailable\",\"code\":503}";
    const char *body = down;
    unsigned status = 503;
    if (strcmp(url, "/api") == 0)
        body = api, status = 200;
    else if (strcmp(url, "/api/v1") == 0)
        body = core, status = 200;
    else if (strcmp(url, "/apis") == 0) {
        atomic_fetch_add(&fd->apis_gets, 1);
        if (!fd->apis_down)
            body = apis, status = 200;
    } else if (strcmp(url, "/apis/apps/v1") == 0)
        body = apps, status = 200;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static struct MHD_Daemon *fake_discovery_start(fake_discovery *fd, fixture *f, char *url,
                                               size_t len)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
        fake_discovery_serve, fd, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
    ck_assert_ptr_nonnull(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(url, len, "http://127.0.0.1:%u", (unsigned)info->port);
    memset(f, 0, sizeof(*f));
    f->cfg.server = url;
    return d;
}

/* Legacy discovery keeps the group versions it could read when one fails
 * (an aggregated API whose backend is down), as client-go does. */
START_TEST(legacy_discovery_keeps_the_groups_it_could_read)
{
    fake_discovery fd = {0};
    fixture f;
    char url[64];
    struct MHD_Daemon *d = fake_discovery_start(&fd, &f, url, sizeof(url));
    kr_client_opts opts = {.legacy_discovery = true, .max_retries = -1};
    start_client(&f, &opts);
    kr_error_t err = {0};
    kr_resource_info info;
    ck_assert_msg(kr_client_resolve(f.c, "deploy", &info, &err) == 0, "%s", err.message);
    ck_assert_str_eq(info.resource, "deployments");
    ck_assert_msg(kr_client_resolve(f.c, "cm", &info, &err) == 0, "%s", err.message);
    ck_assert_int_eq(kr_client_resolve(f.c, "nodes.metrics.k8s.io", &info, &err), KR_ENOTFOUND);
    int warned = atomic_load(&f.logs.warnings);
    ck_assert_int_eq(warned, 1); /* metrics.k8s.io/v1beta1 failed */
    teardown(&f);
    MHD_stop_daemon(d);
}
END_TEST

/* A failed discovery counts as a try: misses within the interval get its
 * error again (built-in kinds still resolve from the table) instead of
 * asking a failing server on every call. */
START_TEST(a_failed_discovery_is_not_asked_again_within_the_interval)
{
    fake_discovery fd = {.apis_down = true};
    fixture f;
    char url[64];
    struct MHD_Daemon *d = fake_discovery_start(&fd, &f, url, sizeof(url));
    kr_client_opts opts = {.max_retries = -1, .discovery_miss_interval_ms = 60000};
    start_client(&f, &opts);
    kr_error_t err = {0};
    kr_resource_info info;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(kr_client_resolve(f.c, "widgets", &info, &err), KR_EUNAVAILABLE);
        ck_assert_int_eq(kr_client_resource_for_kind(f.c, "example.com/v1", "Widget", &info, &err),
                         KR_EUNAVAILABLE);
        ck_assert_msg(kr_client_resolve(f.c, "deployments", &info, &err) == 0, "%s",
                      err.message); /* the built-in table */
    }
    int asked = atomic_load(&fd.apis_gets);
    ck_assert_int_eq(asked, 1);
    kr_client_discovery_refresh(f.c, &err); /* an explicit refresh always asks */
    asked = atomic_load(&fd.apis_gets);
    ck_assert_int_eq(asked, 2);
    teardown(&f);
    MHD_stop_daemon(d);
}
END_TEST

START_TEST(request_timeout_is_reported)
{
    fixture f;
    memset(&f, 0, sizeof(f));
    kr_testserver_opts o = {.seed = 1, .faults = {.latency_ms = 1500}};
    start_server(&f, &o);
    f.cfg.timeout_ms = 100;
    kr_client_opts opts = {.max_retries = -1};
    start_client(&f, &opts);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ETIMEDOUT);
    /* A per-request timeout overrides the config's. */
    kr_request req = {.verb = KR_VERB_GET, .ref = {CM, "default", "x", NULL}, .timeout_ms = 5000};
    ck_assert_int_eq(kr_client_do_sync(f.c, &req, NULL, &err), KR_ENOTFOUND);
    teardown(&f);
}
END_TEST

static void write_token(const char *path, const char *token)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "%s\n", token);
    fclose(fp);
}

START_TEST(token_file_is_read_again_when_it_changes)
{
    if (!have_certs)
        return;
    fixture f;
    tls_fixture(&f, false);
    char path[300];
    snprintf(path, sizeof(path), "%s/token", cert_dir);
    write_token(path, "old");
    f.cfg.ca_data = f.ca;
    f.cfg.bearer_token = "ignored-when-a-file-is-set";
    f.cfg.bearer_token_file = path;
    start_client(&f, NULL);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_EUNAUTHORIZED);
    write_token(path, "sekret"); /* a rotated projected token */
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ENOTFOUND);
    teardown(&f);
}
END_TEST

/* A socket listening on a free loopback port; its URL in url. */
static int loopback_listener(char url[64])
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    socklen_t alen = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &alen);
    snprintf(url, 64, "http://127.0.0.1:%d", ntohs(a.sin_port));
    return fd;
}

/* A one-shot HTTP server that records the request it gets and answers a
 * 429 in the text/plain form of the apiserver's flow control. */
typedef struct recorder {
    int listener;
    char request[8192];
    int requests;
} recorder;

static void *record_one(void *arg)
{
    recorder *r = arg;
    int fd = accept(r->listener, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t len = 0;
    while (len < sizeof(r->request) - 1 && !strstr(r->request, "\r\n\r\n")) {
        ssize_t n = read(fd, r->request + len, sizeof(r->request) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        r->request[len] = '\0';
    }
    r->requests++;
    const char *answer = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\n"
                         "Retry-After: 7\r\nContent-Length: 43\r\nConnection: close\r\n\r\n"
                         "Too many requests, please try again later.\n";
    ssize_t w = write(fd, answer, strlen(answer));
    (void)w;
    close(fd);
    return NULL;
}

START_TEST(request_headers_on_the_wire)
{
    recorder r = {0};
    char url[64];
    r.listener = loopback_listener(url);
    pthread_t th;
    pthread_create(&th, NULL, record_one, &r);
    char *groups[] = {"devs", "ops", NULL};
    fixture f;
    memset(&f, 0, sizeof(f));
    f.cfg.server = url;
    f.cfg.bearer_token = "sekret";
    f.cfg.impersonate_user = "bob";
    f.cfg.impersonate_groups = groups;
    f.cfg.impersonate_uid = "u-1";
    f.cfg.user_agent = "kr-test/1.0";
    kr_client_opts opts = {.max_retries = -1};
    start_client(&f, &opts);
    kr_error_t err = {0};
    ck_assert_int_eq(
        kr_client_get(f.c, KR_GVR("apps", "v1", "deployments"), "ns", "web", NULL, &err),
        KR_ETHROTTLED);
    pthread_join(th, NULL);
    close(r.listener);
    /* The text/plain 429: not a Status, but its message and Retry-After. */
    ck_assert_str_eq(err.message, "Too many requests, please try again later.");
    ck_assert_int_eq(err.retry_after_seconds, 7);
    ck_assert_str_eq(err.reason, "TooManyRequests");
    ck_assert_int_eq(r.requests, 1);
    ck_assert_ptr_nonnull(strstr(r.request, "GET /apis/apps/v1/namespaces/ns/deployments/web "));
    ck_assert_ptr_nonnull(strstr(r.request, "\r\nUser-Agent: kr-test/1.0\r\n"));
    ck_assert_ptr_nonnull(strstr(r.request, "\r\nAccept: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(r.request, "\r\nImpersonate-User: bob\r\n"));
    ck_assert_ptr_nonnull(strstr(r.request, "\r\nImpersonate-Group: devs\r\n"));
    ck_assert_ptr_nonnull(strstr(r.request, "\r\nImpersonate-Group: ops\r\n"));
    ck_assert_ptr_nonnull(strstr(r.request, "\r\nImpersonate-Uid: u-1\r\n"));
    /* Plain http: no credentials on the wire. */
    ck_assert_ptr_null(strstr(r.request, "Authorization"));
    ck_assert_ptr_null(strstr(r.request, "sekret"));
    teardown(&f);
}
END_TEST

/* A server that answers each connection with the next of its answers. */
typedef struct scripted {
    int listener;
    const char *const *answers;
    int served;
} scripted;

static void *serve_script(void *arg)
{
    scripted *s = arg;
    for (; s->answers[s->served]; s->served++) {
        int fd = accept(s->listener, NULL, NULL);
        if (fd < 0)
            return NULL;
        char req[4096];
        size_t len = 0;
        req[0] = '\0';
        while (len < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
            ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            req[len] = '\0';
        }
        ssize_t w = write(fd, s->answers[s->served], strlen(s->answers[s->served]));
        (void)w;
        close(fd);
    }
    return NULL;
}

/* Serve `answers` on a loopback listener (a thread) and point f's
 * configuration at it; the caller then starts the client. */
static void scripted_start(scripted *s, const char *const *answers, pthread_t *th, fixture *f,
                           char url[64])
{
    memset(s, 0, sizeof(*s));
    s->answers = answers;
    s->listener = loopback_listener(url);
    pthread_create(th, NULL, serve_script, s);
    memset(f, 0, sizeof(*f));
    f->cfg.server = url;
}

/* `Retry-After: 0` means now, as client-go reads it: the retry does not
 * wait out the backoff (an hour here, so reading it as absent would hang
 * the test until its timeout). */
START_TEST(retry_after_zero_retries_at_once)
{
    static const char *const answers[] = {
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\n"
        "Retry-After: 0\r\nContent-Length: 5\r\nConnection: close\r\n\r\nslow\n",
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 67\r\n"
        "Connection: close\r\n\r\n"
        "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"web\"}}   ",
        NULL};
    scripted s;
    char url[64];
    pthread_t th;
    fixture f;
    scripted_start(&s, answers, &th, &f, url);
    kr_client_opts opts = {.max_retries = 1, .backoff_base_ms = 3600000, .backoff_max_ms = 3600000};
    start_client(&f, &opts);
    kr_error_t err = {0};
    json_t *cm = NULL;
    ck_assert_msg(kr_client_get(f.c, CM, "default", "web", &cm, &err) == 0, "%s", err.message);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cm, "metadata"), "name")),
                     "web");
    json_decref(cm);
    pthread_join(th, NULL);
    close(s.listener);
    ck_assert_int_eq(s.served, 2);
    ck_assert_int_eq(atomic_load(&f.logs.retries), 1);
    teardown(&f);
}
END_TEST

/* A real kube-apiserver leaves apiVersion and kind off a built-in list's
 * items; the client gives each the list's, as client-go's unstructured
 * decoding does, so that a cached object says what it is (an owner
 * reference to it needs both). An item that has its own keeps it. */
START_TEST(list_items_get_the_lists_kind_and_api_version)
{
    static const char body[] =
        "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"7\"}"
        ",\"items\":[{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"v\"}},{\"kind\":\"Other\","
        "\"apiVersion\":\"x/v1\",\"metadata\":{\"name\":\"b\"}},{\"kind\":\"Half\","
        "\"metadata\":{\"name\":\"c\"}},{\"kind\":\"\",\"apiVersion\":\"\",\"metadata\":"
        "{\"name\":\"d\"}}]}";
    char answer[1024];
    snprintf(answer, sizeof(answer),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             strlen(body), body);
    const char *const answers[] = {answer, NULL};
    scripted s;
    char url[64];
    pthread_t th;
    fixture f;
    scripted_start(&s, answers, &th, &f, url);
    kr_client_opts opts = {.max_retries = -1};
    start_client(&f, &opts);
    kr_error_t err = {0};
    json_t *list = NULL;
    ck_assert_msg(kr_client_list(f.c, CM, "default", NULL, &list, &err) == 0, "%s", err.message);
    json_t *a = json_array_get(json_object_get(list, "items"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(a, "kind")), "ConfigMap");
    ck_assert_str_eq(json_string_value(json_object_get(a, "apiVersion")), "v1");
    json_t *b = json_array_get(json_object_get(list, "items"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(b, "kind")), "Other");
    ck_assert_str_eq(json_string_value(json_object_get(b, "apiVersion")), "x/v1");
    /* one of the two: kept as it is (client-go types only an item with
     * neither); both empty: typed */
    json_t *c = json_array_get(json_object_get(list, "items"), 2);
    ck_assert_str_eq(json_string_value(json_object_get(c, "kind")), "Half");
    ck_assert_ptr_null(json_object_get(c, "apiVersion"));
    json_t *d = json_array_get(json_object_get(list, "items"), 3);
    ck_assert_str_eq(json_string_value(json_object_get(d, "kind")), "ConfigMap");
    ck_assert_str_eq(json_string_value(json_object_get(d, "apiVersion")), "v1");
    /* what an owner reference is made of: a listed object is an owner */
    json_t *child = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
                              "metadata", "name", "c");
    json_object_set_new(json_object_get(a, "metadata"), "uid", json_string("u-1"));
    ck_assert_int_eq(kr_managed_set_owner(child, a, true, &err), 0);
    json_decref(child);
    json_decref(list);
    pthread_join(th, NULL);
    close(s.listener);
    teardown(&f);
}
END_TEST

/* A request's timeout bounds it whole, retries and their waits included,
 * as client-go's does: a retry the timeout would cut off is not made, and
 * the last answer is the result. Without the bound, six 503s would be
 * fetched over about 25 s of backoff. */
START_TEST(the_timeout_bounds_the_request_with_its_retries)
{
    static const char *const answers[] = {
#define BUSY                                                                                       \
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"        \
    "Connection: close\r\n\r\nbusy\n"
        BUSY, BUSY, BUSY, BUSY, BUSY, BUSY, NULL};
#undef BUSY
    scripted s;
    char url[64];
    pthread_t th;
    fixture f;
    scripted_start(&s, answers, &th, &f, url);
    f.cfg.timeout_ms = 3000;
    kr_client_opts opts = {.max_retries = 5, .backoff_base_ms = 2000, .backoff_max_ms = 10000};
    start_client(&f, &opts);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "web", NULL, &err), KR_EUNAVAILABLE);
    shutdown(s.listener, SHUT_RDWR); /* wakes the accept waiting for a third */
    pthread_join(th, NULL);
    close(s.listener);
    ck_assert_msg(s.served >= 1 && s.served <= 2, "%d attempts", s.served);
    teardown(&f);
}
END_TEST

/* kr_client_do on the loop thread starts the request at once; when that
 * fails short of memory, the callback still never runs inside the call:
 * either the call fails (and the callback never runs) or the callback runs
 * once, later. Every allocation from some point on fails, for each point. */
typedef struct oom_do {
    kr_client_t *c;
    long fail_at;
    int rc;
    bool inside;
    atomic_int called;
    atomic_int called_inside;
} oom_do;

static void oom_do_cb(json_t *result, const kr_error_t *err, void *user)
{
    (void)result;
    (void)err;
    oom_do *o = user;
    if (o->inside)
        atomic_fetch_add(&o->called_inside, 1);
    atomic_fetch_add(&o->called, 1);
}

static void oom_do_on_loop(void *user)
{
    oom_do *o = user;
    kr_request req = {.verb = KR_VERB_GET,
                      .ref = {.gvr = CM, .namespace_ = "default", .name = "absent"}};
    kr_error_t err = {0};
    o->inside = true;
    kr_test_failalloc_fail_at(o->fail_at);
    o->rc = kr_client_do(o->c, &req, oom_do_cb, o, &err);
    kr_test_failalloc_fail_at(0);
    o->inside = false;
}

START_TEST(direct_submit_short_of_memory_never_calls_back_inside_the_call)
{
    kr_test_failalloc_install();
    fixture f;
    plain_fixture(&f, NULL);
    oom_do o = {.c = f.c};
    int failed = 0, expected = 0;
    for (o.fail_at = 1; o.fail_at <= 40; o.fail_at++) {
        ck_assert_int_eq(kr_runtime_call_sync(f.rt, oom_do_on_loop, &o), 0);
        if (o.rc != 0) {
            ck_assert_int_eq(o.rc, KR_ENOMEM);
            failed++;
            continue;
        }
        expected++;
        for (int i = 0; i < 2000 && atomic_load(&o.called) < expected; i++)
            nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
        ck_assert_int_eq(atomic_load(&o.called), expected);
    }
    ck_assert_int_eq(atomic_load(&o.called_inside), 0);
    ck_assert_int_gt(failed, 0);
    ck_assert_int_gt(expected, 0);
    teardown(&f);
    kr_test_failalloc_uninstall();
}
END_TEST

/* ---- scale and shutdown ---------------------------------------------------- */

typedef struct many_watches {
    atomic_int events;
    atomic_int ended;
} many_watches;

static void count_event(kr_watch_t *w, kr_watch_event_type type, json_t *object, void *user)
{
    (void)w;
    (void)object;
    many_watches *m = user;
    if (type == KR_WATCH_ADDED)
        atomic_fetch_add(&m->events, 1);
    signal_all();
}

static void count_end(kr_watch_t *w, int rc, const kr_error_t *err, void *user)
{
    (void)w;
    (void)rc;
    (void)err;
    many_watches *m = user;
    atomic_fetch_add(&m->ended, 1);
    signal_all();
}

typedef struct at_least {
    atomic_int *counter;
    int goal;
} at_least;

static bool reached(void *arg)
{
    at_least *a = arg;
    return atomic_load(a->counter) >= a->goal;
}

/* The transport keeps a socket's poll handle while curl keeps the
 * connection: sockets curl's resolver opens and closes by itself (a name
 * to resolve, here one that fails), connections of clients made and freed
 * on one loop, and idle connections whose server went away must leave
 * every later request working. */
START_TEST(connections_come_and_go_across_clients_on_one_loop)
{
    fixture f;
    plain_fixture(&f, NULL);
    kr_error_t err = {0};
    char url[64];
    snprintf(url, sizeof(url), "http://kr-test.invalid:%u", kr_testserver_port(f.ts));
    kr_rest_config bad = f.cfg;
    bad.server = url;
    kr_client_opts once = {.max_retries = -1};
    for (int round = 0; round < 6; round++) {
        kr_client_t *c[2] = {NULL, NULL};
        ck_assert_int_eq(kr_client_new(f.rt, &bad, &once, &c[0], &err), 0);
        ck_assert_int_ne(kr_client_get(c[0], CM, "default", "none", NULL, &err), 0);
        ck_assert_msg(kr_client_new(f.rt, &f.cfg, &once, &c[1], &err) == 0, "%s", err.message);
        for (int i = 0; i < 3; i++) {
            ck_assert_msg(kr_client_get(c[1], CM, "default", "none", NULL, &err) == KR_ENOTFOUND,
                          "round %d: %s", round, err.message);
            ck_assert_int_eq(kr_client_get(f.c, CM, "default", "none", NULL, &err), KR_ENOTFOUND);
        }
        kr_client_free(c[round % 2]);
        kr_client_free(c[1 - round % 2]);
    }
    /* A server that goes away under an idle connection. */
    kr_testserver_opts o = {.seed = 2};
    kr_testserver_t *gone = NULL;
    ck_assert_int_eq(kr_testserver_start(&o, &gone, &err), 0);
    kr_rest_config gcfg = f.cfg;
    gcfg.server = (char *)kr_testserver_url(gone);
    kr_client_t *g = NULL;
    ck_assert_int_eq(kr_client_new(f.rt, &gcfg, &once, &g, &err), 0);
    ck_assert_int_eq(kr_client_get(g, CM, "default", "none", NULL, &err), KR_ENOTFOUND);
    kr_testserver_free(gone);
    ck_assert_int_ne(kr_client_get(g, CM, "default", "none", NULL, &err), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(kr_client_get(f.c, CM, "default", "none", NULL, &err), KR_ENOTFOUND);
    kr_client_free(g);
    teardown(&f);
}
END_TEST

START_TEST(a_thousand_watches_share_one_loop)
{
    fixture f;
    memset(&f, 0, sizeof(f));
    kr_testserver_opts o = {.seed = 1, .threads = 2};
    start_server(&f, &o);
    start_client(&f, NULL);
    enum { N = 1000 };
    static kr_watch_t *w[N];
    many_watches m = {0};
    kr_error_t err = {0};
    kr_list_opts lo = {.resource_version = "1"};
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", kr_testserver_resource_version(f.ts));
    lo.resource_version = rv;
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(
            kr_client_watch(f.c, CM, "default", &lo, count_event, count_end, &m, &w[i], &err), 0);
    /* A generous deadline: under sanitizers on a loaded machine 1,000
     * connections take a while to be accepted. */
    ck_assert_uint_eq(kr_testserver_wait_watch_count(f.ts, N, 120000), N);
    json_t *cm = configmap("default", "fanout", "1");
    ck_assert_int_eq(kr_client_create(f.c, CM, "default", cm, NULL, NULL, &err), 0);
    at_least goal = {&m.events, N};
    ck_assert(wait_for(reached, &goal, 60));
    ck_assert_int_eq(atomic_load(&m.ended), 0);
    for (int i = 0; i < N; i++)
        kr_watch_free(w[i]);
    json_decref(cm);
    teardown(&f);
}
END_TEST

/* A loopback listener that never accepts, and a client of it: a request
 * sent there stays in flight until the client gives up. */
typedef struct hole {
    int fd;
    char url[64];
    kr_rest_config cfg; /* borrowed by the client */
    kr_client_t *client;
} hole;

static void hole_open(hole *h, kr_runtime_t *rt)
{
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(h->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(h->fd, 16), 0);
    socklen_t alen = sizeof(a);
    ck_assert_int_eq(getsockname(h->fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    h->cfg = (kr_rest_config){.server = h->url, .qps = -1};
    kr_error_t err = {0};
    ck_assert_msg(kr_client_new(rt, &h->cfg, NULL, &h->client, &err) == 0, "%s", err.message);
}

static void hole_close(hole *h)
{
    kr_client_free(h->client);
    close(h->fd);
}

START_TEST(runtime_stop_ends_watches_and_requests_with_shutdown)
{
    fixture f;
    plain_fixture(&f, NULL);
    hole stuck;
    hole_open(&stuck, f.rt);
    kr_error_t err = {0};

    watch_log l = {.lock = PTHREAD_MUTEX_INITIALIZER};
    kr_watch_t *w = NULL;
    ck_assert_int_eq(kr_client_watch(f.c, CM, "default", NULL, log_event, log_end, &l, &w, &err),
                     0);
    async_result r = {.rt = f.rt};
    kr_request req = {.verb = KR_VERB_GET, .ref = {CM, "default", "slow", NULL}};
    ck_assert_int_eq(kr_client_do(stuck.client, &req, async_cb, &r, &err), 0);
    ck_assert_uint_eq(kr_testserver_wait_watch_count(f.ts, 1, 30000), 1);
    ck_assert_int_eq(kr_runtime_stop(f.rt), 0);
    ck_assert(atomic_load(&r.done));
    ck_assert_int_eq(r.code, KR_ESHUTDOWN);
    ck_assert(atomic_load(&l.ended));
    ck_assert_int_eq(l.end_rc, KR_ESHUTDOWN);
    ck_assert_int_eq(kr_client_get(f.c, CM, "default", "x", NULL, &err), KR_ESHUTDOWN);
    kr_watch_free(w);
    hole_close(&stuck);
    teardown(&f);
}
END_TEST

/* A request whose callback, run as the transport stops, sends another one
 * on the same client from the loop thread: that one cannot start, and is
 * completed once (not also by the client's own stop). */
typedef struct resubmit {
    kr_client_t *c;
    async_result first;
    atomic_int second_calls;
    int second_code;
} resubmit;

static void second_cb(json_t *result, const kr_error_t *err, void *user)
{
    (void)result;
    resubmit *x = user;
    x->second_code = err ? err->code : 0;
    atomic_fetch_add(&x->second_calls, 1);
}

static void first_cb(json_t *result, const kr_error_t *err, void *user)
{
    resubmit *x = user;
    kr_request req = {.verb = KR_VERB_GET, .ref = {CM, "default", "again", NULL}};
    kr_client_do(x->c, &req, second_cb, x, NULL);
    async_cb(result, err, &x->first);
}

START_TEST(a_request_sent_while_the_runtime_stops_completes_once)
{
    fixture f;
    plain_fixture(&f, NULL);
    hole stuck;
    hole_open(&stuck, f.rt);
    resubmit x = {.c = stuck.client, .first = {.rt = f.rt}};
    kr_error_t err = {0};
    kr_request req = {.verb = KR_VERB_GET, .ref = {CM, "default", "slow", NULL}};
    ck_assert_int_eq(kr_client_do(x.c, &req, first_cb, &x, &err), 0);
    ck_assert_int_eq(kr_runtime_stop(f.rt), 0);
    ck_assert(atomic_load(&x.first.done));
    ck_assert_int_eq(x.first.code, KR_ESHUTDOWN);
    ck_assert_int_eq(atomic_load(&x.second_calls), 1);
    ck_assert_int_ne(x.second_code, 0);
    hole_close(&stuck);
    teardown(&f);
}
END_TEST

/* on_warning: the texts received, in order. */
typedef struct warnings_seen {
    pthread_mutex_t lock;
    char text[1024];
    int count;
} warnings_seen;

static void collect_warning(const char *text, void *user)
{
    warnings_seen *w = user;
    pthread_mutex_lock(&w->lock);
    size_t used = strlen(w->text);
    snprintf(w->text + used, sizeof(w->text) - used, "%s\n", text);
    w->count++;
    pthread_mutex_unlock(&w->lock);
}

static json_t *widget_crd(void)
{
    return json_loads(
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
        "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"kind\":\"Widget\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":"
        "{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":"
        "\"object\",\"properties\":{\"size\":{\"type\":\"integer\"}}}}}}}]}}",
        0, NULL);
}

static int create_widget(fixture *f, const char *name, const char *field)
{
    json_t *w = json_pack("{s:s, s:s, s:{s:s}, s:{s:i, s:i}}", "apiVersion", "example.com/v1",
                          "kind", "Widget", "metadata", "name", name, "spec", "size", 1, field, 2);
    kr_error_t err = {0};
    int rc = kr_client_create(f->c, KR_GVR("example.com", "v1", "widgets"), "default", w, NULL,
                              NULL, &err);
    json_decref(w);
    return rc;
}

/* Warning headers (here: fields the CRD's schema does not declare, dropped
 * by the server) reach on_warning, or by default the log, once per text. */
START_TEST(server_warnings_reach_the_handler_or_the_log_once)
{
    warnings_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
    kr_client_opts opts = KR_CLIENT_OPTS_INIT;
    opts.on_warning = collect_warning;
    opts.on_warning_user = &seen;
    fixture f;
    plain_fixture(&f, &opts);
    json_t *crd = widget_crd();
    kr_error_t err = {0};
    ck_assert_int_eq(
        kr_client_create(f.c, KR_GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                         NULL, crd, NULL, NULL, &err),
        0);
    json_decref(crd);
    ck_assert_int_eq(create_widget(&f, "w1", "colour"), 0);
    pthread_mutex_lock(&seen.lock);
    ck_assert_str_eq(seen.text, "unknown field \"spec.colour\"\n");
    pthread_mutex_unlock(&seen.lock);
    ck_assert_int_eq(create_widget(&f, "w2", "colour"), 0);
    pthread_mutex_lock(&seen.lock);
    ck_assert_int_eq(seen.count, 2); /* a handler sees every one */
    pthread_mutex_unlock(&seen.lock);
    kr_client_free(f.c);

    /* the default: logged at KR_LOG_WARN, each distinct text once */
    kr_client_opts v2 = {.version = 2}; /* a version 2 caller has no on_warning */
    ck_assert_int_eq(kr_client_new(f.rt, &f.cfg, &v2, &f.c, &err), 0);
    int before = atomic_load(&f.logs.warnings);
    ck_assert_int_eq(create_widget(&f, "w3", "colour"), 0);
    ck_assert_int_eq(create_widget(&f, "w4", "colour"), 0);
    ck_assert_int_eq(atomic_load(&f.logs.warnings) - before, 1);
    ck_assert_int_eq(create_widget(&f, "w5", "shape"), 0);
    ck_assert_int_eq(atomic_load(&f.logs.warnings) - before, 2);
    teardown(&f);
}
END_TEST

/* A watch's warnings: the texts, and how many events had come before the
 * first one. */
typedef struct watch_warnings {
    warnings_seen seen;
    watch_log log;
    int events_before_first_warning;
} watch_warnings;

static void collect_watch_warning(const char *text, void *user)
{
    watch_warnings *ww = user;
    pthread_mutex_lock(&ww->log.lock);
    if (ww->seen.count == 0)
        ww->events_before_first_warning = ww->log.events;
    pthread_mutex_unlock(&ww->log.lock);
    collect_warning(text, &ww->seen);
    signal_all();
}

static bool has_warning(void *arg)
{
    warnings_seen *seen = arg;
    pthread_mutex_lock(&seen->lock);
    bool ok = seen->count > 0;
    pthread_mutex_unlock(&seen->lock);
    return ok;
}

/* A watch of a deprecated CRD version hears the server's warning when its
 * response starts, before any event, as client-go's handler does. */
START_TEST(watch_hears_the_server_warnings_before_its_first_event)
{
    watch_warnings ww = {.seen = {.lock = PTHREAD_MUTEX_INITIALIZER},
                         .log = {.lock = PTHREAD_MUTEX_INITIALIZER}};
    kr_client_opts opts = KR_CLIENT_OPTS_INIT;
    opts.on_warning = collect_watch_warning;
    opts.on_warning_user = &ww;
    fixture f;
    plain_fixture(&f, &opts);
    json_t *crd = widget_crd();
    json_t *versions = json_object_get(json_object_get(crd, "spec"), "versions");
    json_t *old = json_deep_copy(json_array_get(versions, 0));
    json_object_set_new(old, "name", json_string("v1alpha1"));
    json_object_set_new(old, "storage", json_false());
    json_object_set_new(old, "deprecated", json_true());
    json_array_append_new(versions, old);
    kr_error_t err = {0};
    ck_assert_msg(
        kr_client_create(f.c, KR_GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                         NULL, crd, NULL, NULL, &err) == 0,
        "%s", err.message);
    json_decref(crd);
    kr_watch_t *w = NULL;
    kr_list_opts lo = {.resource_version = "0"};
    ck_assert_int_eq(kr_client_watch(f.c, KR_GVR("example.com", "v1alpha1", "widgets"), "default",
                                     &lo, log_event, log_end, &ww.log, &w, &err),
                     0);
    ck_assert(wait_for(has_warning, &ww.seen, 30));
    ck_assert_int_eq(create_widget(&f, "w1", "size"), 0);
    count_goal g = {&ww.log, 1};
    ck_assert(wait_for(has_events, &g, 30));
    pthread_mutex_lock(&ww.seen.lock);
    ck_assert_str_eq(ww.seen.text, "example.com/v1alpha1 Widget is deprecated; use example.com/v1 "
                                   "Widget\n");
    pthread_mutex_unlock(&ww.seen.lock);
    ck_assert_int_eq(ww.events_before_first_warning, 0);
    kr_watch_free(w);
    teardown(&f);
}
END_TEST

int main(void)
{
    make_certs();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("client");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, crud_verbs_round_trip_over_plain_http);
    tcase_add_test(tc, create_or_update_creates_updates_and_leaves_alone);
    tcase_add_test(tc, create_or_patch_sends_only_what_mutate_changed);
    tcase_add_test(tc, a_version_1_config_is_never_read_past_its_fields);
    tcase_add_test(tc, status_subresource_changes_only_status);
    tcase_add_test(tc, pagination_follows_continue_tokens);
    tcase_add_test(tc, blocking_calls_on_the_loop_thread_are_refused);
    tcase_add_test(tc, blocking_calls_before_the_runtime_starts_are_refused);
    tcase_add_test(tc, retry_on_conflict_tries_again_only_after_a_conflict);
    tcase_add_test(tc, async_requests_call_back_on_the_loop_thread);
    tcase_add_test(tc, watch_delivers_events_in_order_and_tracks_resource_version);
    tcase_add_test(tc, watch_from_a_compacted_version_ends_with_gone);
    tcase_add_test(tc, watch_cut_inside_an_event_is_an_error_not_a_clean_end);
    tcase_add_test(tc, watch_freed_inside_its_callback_stops_quietly);
    tcase_add_test(tc, watch_ended_by_freeing_its_client_in_on_event_delivers_no_more);
    tcase_add_test(tc, watch_freed_in_its_on_end_while_its_client_is_freed_leaks_nothing);
    tcase_add_test(tc, watch_event_over_the_size_limit_ends_the_watch);
    tcase_add_test(tc, retries_honour_429_and_5xx_for_idempotent_requests);
    tcase_add_test(tc, connection_refused_is_retried_then_reported);
    tcase_add_test(tc, rate_limit_paces_requests);
    tcase_add_test(tc, token_is_never_sent_over_plain_http);
    tcase_add_test(tc, tls_with_a_token_verifies_the_server);
    tcase_add_test(tc, tls_with_a_client_certificate_authenticates);
    tcase_add_test(tc, credential_provider_is_renewed_once_on_401);
    tcase_add_test(tc, http2_through_nghttpx_multiplexes_requests_and_watches);
    tcase_add_loop_test(tc, discovery_resolves_names_and_kinds, 0, 2);
    tcase_add_loop_test(tc, discovery_misses_refetch_at_most_once_per_interval, 0, 2);
    tcase_add_test(tc, legacy_discovery_keeps_the_groups_it_could_read);
    tcase_add_test(tc, a_failed_discovery_is_not_asked_again_within_the_interval);
    tcase_add_test(tc, request_timeout_is_reported);
    tcase_add_test(tc, request_headers_on_the_wire);
    tcase_add_test(tc, retry_after_zero_retries_at_once);
    tcase_add_test(tc, list_items_get_the_lists_kind_and_api_version);
    tcase_add_test(tc, the_timeout_bounds_the_request_with_its_retries);
    tcase_add_test(tc, direct_submit_short_of_memory_never_calls_back_inside_the_call);
    tcase_add_test(tc, token_file_is_read_again_when_it_changes);
    tcase_add_test(tc, a_thousand_watches_share_one_loop);
    tcase_add_test(tc, connections_come_and_go_across_clients_on_one_loop);
    tcase_add_test(tc, runtime_stop_ends_watches_and_requests_with_shutdown);
    tcase_add_test(tc, a_request_sent_while_the_runtime_stops_completes_once);
    tcase_add_test(tc, server_warnings_reach_the_handler_or_the_log_once);
    tcase_add_test(tc, watch_hears_the_server_warnings_before_its_first_event);
    suite_add_tcase(s, tc);
    int status = kr_test_run_suite(s);
    if (have_certs) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", cert_dir);
        if (system(cmd) != 0)
            printf("test_client: could not remove %s\n", cert_dir);
    }
    return status;
}
