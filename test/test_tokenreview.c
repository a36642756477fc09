/* Tests of delegated authentication and authorization: kr_token_reviewer
 * (tokenreview.h) and kr_access_reviewer (accessreview.h) against the
 * in-memory apiserver over TLS, in RBAC mode, with users from a static
 * token file: who a token is (uid, groups), refusals, requests that are
 * not bearer tokens, audiences; what a user may do (by user, group,
 * namespace, name, a verb of the program's own); the cache of both kinds
 * of answer and its expiry; errors that are not answers (a client without
 * `create tokenreviews` or `create subjectaccessreviews`, a server that
 * is gone) and concurrent callers. Skipped, loudly, without openssl.
 * Threaded: KR_TEST_THREADED */
#include <arpa/inet.h>
#include <check.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_tmpdir.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"

static const char TOKENS[] = "reviewer-token,reviewer,10,\"system:masters\"\n"
                             "alice-token,alice,11,\"dev,qa\"\n"
                             "nobody-token,nobody,12\n";

static char dir[256];
static bool have_certs;
static kr_testserver_t *ts;
static kr_runtime_t *rt;
static kr_rest_config *cfg;
static kr_client_t *client;

static void setup(void)
{
    have_certs = kr_test_make_server_cert(dir, sizeof(dir), "tokenreview");
    if (!have_certs)
        return;
    kr_test_write_file(dir, "tokens.csv", TOKENS);
    char tokens[320], kubeconfig[320];
    snprintf(tokens, sizeof(tokens), "%s/tokens.csv", dir);
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
    char *crt = kr_test_read_file(dir, "srv.crt"), *key = kr_test_read_file(dir, "srv.key");
    ck_assert(crt && key);
    kr_testserver_opts o = {.seed = 5,
                            .tls_cert_pem = crt,
                            .tls_key_pem = key,
                            .token_auth_file = tokens,
                            .rbac = true};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &ts, &err) == 0, "%s", err.message);
    free(crt);
    free(key);
    /* the kubeconfig carries the file's first token: the reviewer's */
    ck_assert_int_eq(kr_testserver_write_kubeconfig(ts, kubeconfig, NULL, &err), 0);
    const char *paths[] = {kubeconfig};
    kr_kubeconfig_t *kc = NULL;
    ck_assert_msg(kr_kubeconfig_load_files(paths, 1, NULL, &kc, &err) == 0, "%s", err.message);
    ck_assert_msg(kr_kubeconfig_rest_config(kc, NULL, &cfg, &err) == 0, "%s", err.message);
    kr_kubeconfig_free(kc);
    cfg->timeout_ms = 5000;
    cfg->qps = -1; /* the concurrent test asks hundreds of times */
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, NULL), 0);
    ck_assert_int_eq(kr_runtime_start(rt, NULL), 0);
    kr_client_opts co = {.max_retries = 1, .backoff_base_ms = 5, .backoff_max_ms = 20};
    ck_assert_msg(kr_client_new(rt, cfg, &co, &client, &err) == 0, "%s", err.message);
}

static void teardown(void)
{
    kr_client_free(client);
    client = NULL;
    kr_runtime_free(rt);
    rt = NULL;
    kr_rest_config_free(cfg);
    cfg = NULL;
    kr_testserver_free(ts);
    ts = NULL;
    kr_test_tmpdir_remove(dir);
}

static bool skipped(const char *what)
{
    if (!have_certs)
        kr_test_skip(what, "no openssl to make the server's certificate");
    return !have_certs;
}

static kr_token_reviewer_t *reviewer(uint64_t ttl_ms, const char *const *auds, size_t n_auds)
{
    kr_token_reviewer_opts o = {.client = client,
                                .audiences = auds,
                                .n_audiences = n_auds,
                                .cache_ttl_ms = ttl_ms,
                                .negative_ttl_ms = ttl_ms};
    kr_token_reviewer_t *r = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_token_reviewer_new(&o, &r, &err) == 0, "%s", err.message);
    return r;
}

static uint64_t reviews(kr_token_reviewer_t *r)
{
    kr_token_reviewer_stats st;
    kr_token_reviewer_get_stats(r, &st, sizeof(st));
    return st.reviews;
}

/* Who `authorization` is: the user (new) or NULL, checking that an answer came. */
static kr_token_user *who(kr_token_reviewer_t *r, const char *authorization)
{
    kr_token_user *u = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_token_reviewer_authenticate(r, authorization, &u, &err) == 0, "%s",
                  err.message);
    return u;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

START_TEST(the_cluster_says_who_a_token_is)
{
    if (skipped("the_cluster_says_who_a_token_is"))
        return;
    kr_token_reviewer_t *r = reviewer(0, NULL, 0);
    kr_token_user *u = who(r, "Bearer alice-token");
    ck_assert_ptr_nonnull(u);
    ck_assert_ptr_null(u->token); /* never kept */
    ck_assert_str_eq(u->user, "alice");
    ck_assert_str_eq(u->uid, "11");
    ck_assert_uint_eq(u->n_groups, 3);
    ck_assert(kr_token_user_in_group(u, "dev") && kr_token_user_in_group(u, "qa") &&
              kr_token_user_in_group(u, "system:authenticated"));
    kr_token_user_free(u);
    /* the scheme is case-insensitive, as kube-apiserver reads it */
    u = who(r, "bearer  nobody-token");
    ck_assert_str_eq(u->user, "nobody");
    kr_token_user_free(u);
    ck_assert_uint_eq(reviews(r), 2);
    /* refused */
    ck_assert_ptr_null(who(r, "Bearer wrong-token"));
    ck_assert_uint_eq(reviews(r), 3);
    /* not a bearer token: refused without asking */
    ck_assert_ptr_null(who(r, NULL));
    ck_assert_ptr_null(who(r, "Basic YWxpY2U6cHc="));
    ck_assert_ptr_null(who(r, "Bearer "));
    ck_assert_ptr_null(who(r, "Bearer"));
    ck_assert_uint_eq(reviews(r), 3);
    kr_token_reviewer_free(r);
}
END_TEST

START_TEST(answers_are_cached_for_their_ttl)
{
    if (skipped("answers_are_cached_for_their_ttl"))
        return;
    kr_token_reviewer_t *r = reviewer(0, NULL, 0);
    for (int i = 0; i < 5; i++) {
        kr_token_user *u = who(r, "Bearer alice-token");
        ck_assert_str_eq(u->user, "alice");
        kr_token_user_free(u);
        ck_assert_ptr_null(who(r, "Bearer wrong-token"));
    }
    kr_token_reviewer_stats st;
    kr_token_reviewer_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.reviews, 2);
    ck_assert_uint_eq(st.cache_hits, 8);
    kr_token_reviewer_free(r);

    /* a short ttl: asked again once it passed */
    r = reviewer(30, NULL, 0);
    kr_token_user_free(who(r, "Bearer alice-token"));
    kr_token_user_free(who(r, "Bearer alice-token"));
    ck_assert_uint_eq(reviews(r), 1);
    sleep_ms(60);
    kr_token_user_free(who(r, "Bearer alice-token"));
    ck_assert_uint_eq(reviews(r), 2);
    kr_token_reviewer_free(r);

    /* one slot: two tokens take turns in it, each answer still right */
    kr_token_reviewer_opts o = {.client = client, .cache_size = 1};
    kr_error_t err = {0};
    ck_assert_int_eq(kr_token_reviewer_new(&o, &r, &err), 0);
    for (int i = 0; i < 3; i++) {
        kr_token_user *a = who(r, "Bearer alice-token");
        kr_token_user *n = who(r, "Bearer nobody-token");
        ck_assert_str_eq(a->user, "alice");
        ck_assert_str_eq(n->user, "nobody");
        kr_token_user_free(a);
        kr_token_user_free(n);
    }
    ck_assert_uint_eq(reviews(r), 6);
    kr_token_reviewer_free(r);
}
END_TEST

START_TEST(service_account_tokens_are_for_their_audiences)
{
    if (skipped("service_account_tokens_are_for_their_audiences"))
        return;
    static const char sa[] =
        "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"robot\","
        "\"namespace\":\"default\"}}";
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_load(ts, sa, strlen(sa), &err) == 0, "%s", err.message);
    json_t *req = json_pack("{s:s, s:s, s:{s:[s]}}", "apiVersion", "authentication.k8s.io/v1",
                            "kind", "TokenRequest", "spec", "audiences", "my-app");
    json_t *out = NULL;
    kr_request rq = {.verb = KR_VERB_CREATE,
                     .ref = {KR_GVR("", "v1", "serviceaccounts"), "default", "robot", "token"},
                     .body = req};
    ck_assert_msg(kr_client_do_sync(client, &rq, &out, &err) == 0, "%s", err.message);
    json_decref(req);
    char auth[4096];
    snprintf(auth, sizeof(auth), "Bearer %s",
             json_string_value(json_object_get(json_object_get(out, "status"), "token")));
    json_decref(out);

    kr_token_reviewer_t *r = reviewer(0, NULL, 0);
    ck_assert_ptr_null(who(r, auth)); /* not for the cluster's own audience */
    kr_token_reviewer_free(r);
    const char *auds[] = {"other", "my-app"};
    r = reviewer(0, auds, 2);
    kr_token_user *u = who(r, auth);
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(u->user, "system:serviceaccount:default:robot");
    ck_assert(kr_token_user_in_group(u, "system:serviceaccounts:default"));
    ck_assert_str_ne(u->uid, "");
    kr_token_user_free(u);
    kr_token_reviewer_free(r);

    const char *empty[] = {""};
    kr_token_reviewer_opts o = {.client = client, .audiences = empty, .n_audiences = 1};
    ck_assert_int_eq(kr_token_reviewer_new(&o, &r, &err), KR_EINVAL);
    ck_assert_ptr_null(r);
    o = (kr_token_reviewer_opts){0};
    ck_assert_int_eq(kr_token_reviewer_new(&o, &r, &err), KR_EINVAL);
    ck_assert_int_eq(kr_token_reviewer_new(NULL, &r, &err), KR_EINVAL);
    o = (kr_token_reviewer_opts)KR_TOKEN_REVIEWER_OPTS_INIT;
    o.version = KR_TOKEN_REVIEWER_OPTS_VERSION + 1;
    o.client = client;
    ck_assert_int_eq(kr_token_reviewer_new(&o, &r, &err), KR_EINVAL);
    ck_assert_msg(strstr(err.message, "options version 3 is newer than 2"), "%s", err.message);
    kr_token_reviewer_stats st = {1, 1};
    kr_token_reviewer_get_stats(NULL, &st, sizeof(st));
    ck_assert_uint_eq(st.reviews + st.cache_hits, 0);
}
END_TEST

START_TEST(failures_to_ask_are_errors_and_not_cached)
{
    if (skipped("failures_to_ask_are_errors_and_not_cached"))
        return;
    /* a client whose user may not create tokenreviews */
    kr_rest_config *alice_cfg = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_rest_config_copy(cfg, &alice_cfg, &err), 0);
    kr_free(alice_cfg->bearer_token);
    alice_cfg->bearer_token = kr_malloc(sizeof("alice-token"));
    memcpy(alice_cfg->bearer_token, "alice-token", sizeof("alice-token"));
    kr_client_t *alice = NULL;
    kr_client_opts co = {.max_retries = 1, .backoff_base_ms = 5, .backoff_max_ms = 20};
    ck_assert_msg(kr_client_new(rt, alice_cfg, &co, &alice, &err) == 0, "%s", err.message);
    kr_token_reviewer_opts o = {.client = alice};
    kr_token_reviewer_t *r = NULL;
    ck_assert_int_eq(kr_token_reviewer_new(&o, &r, &err), 0);
    kr_token_user *u = NULL;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(kr_token_reviewer_authenticate(r, "Bearer nobody-token", &u, &err),
                         KR_EFORBIDDEN);
        ck_assert_ptr_null(u);
        ck_assert_msg(strstr(err.message, "tokenreviews") != NULL, "%s", err.message);
    }
    ck_assert_uint_eq(reviews(r), 2);
    kr_token_reviewer_free(r);
    kr_client_free(alice);
    kr_rest_config_free(alice_cfg);

    /* the cluster gone: an error, and asked again next time */
    r = reviewer(0, NULL, 0);
    kr_token_user_free(who(r, "Bearer alice-token"));
    kr_testserver_free(ts);
    ts = NULL;
    for (int i = 0; i < 2; i++) {
        int rc = kr_token_reviewer_authenticate(r, "Bearer nobody-token", &u, &err);
        ck_assert_msg(rc == KR_ECONNECT || rc == KR_EUNAVAILABLE || rc == KR_ETIMEDOUT, "%d: %s",
                      rc, err.message);
        ck_assert_ptr_null(u);
    }
    /* what was answered before stays answered for its ttl */
    u = who(r, "Bearer alice-token");
    ck_assert_str_eq(u->user, "alice");
    kr_token_user_free(u);
    ck_assert_uint_eq(reviews(r), 3);
    kr_token_reviewer_free(r);
}
END_TEST

typedef struct caller {
    kr_token_reviewer_t *r;
    int mismatches;
} caller;

static void *call_many(void *arg)
{
    caller *c = arg;
    static const char *const tokens[] = {"Bearer alice-token", "Bearer nobody-token",
                                         "Bearer wrong-token", "Bearer reviewer-token"};
    static const char *const users[] = {"alice", "nobody", NULL, "reviewer"};
    for (int i = 0; i < 200; i++) {
        int k = i % 4;
        kr_token_user *u = NULL;
        kr_error_t err = {0};
        if (kr_token_reviewer_authenticate(c->r, tokens[k], &u, &err) != 0 ||
            (users[k] ? !u || strcmp(u->user, users[k]) != 0 : u != NULL))
            c->mismatches++;
        kr_token_user_free(u);
    }
    return NULL;
}

START_TEST(concurrent_callers_share_the_cache)
{
    if (skipped("concurrent_callers_share_the_cache"))
        return;
    kr_token_reviewer_opts o = {.client = client, .cache_size = 2};
    kr_token_reviewer_t *r = NULL;
    ck_assert_int_eq(kr_token_reviewer_new(&o, &r, NULL), 0);
    pthread_t tid[4];
    caller c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (caller){r, 0};
        ck_assert_int_eq(pthread_create(&tid[i], NULL, call_many, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        ck_assert_int_eq(c[i].mismatches, 0);
    }
    kr_token_reviewer_stats st;
    kr_token_reviewer_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.reviews + st.cache_hits, 800);
    kr_token_reviewer_free(r);
}
END_TEST

/* kr_token_authenticate: the file first (its user copied), then the
 * cluster; neither knowing the token is no user, not an error. */
START_TEST(a_file_and_the_cluster_together)
{
    if (skipped("a_file_and_the_cluster_together"))
        return;
    static const char listed[] = "local-token,carol,21,\"ops\"\n";
    kr_token_file_t *file = NULL;
    ck_assert_int_eq(kr_token_file_parse(listed, strlen(listed), &file, NULL), 0);
    kr_token_reviewer_t *r = reviewer(0, NULL, 0);
    kr_token_user *u = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_token_authenticate(file, r, "Bearer local-token", &u, &err), 0);
    ck_assert_str_eq(u->user, "carol");
    ck_assert_ptr_null(u->token);
    /* with system:authenticated, as kube-apiserver adds it to the file's users */
    ck_assert_uint_eq(u->n_groups, 2);
    ck_assert_str_eq(u->groups[0], "ops");
    ck_assert_str_eq(u->groups[1], "system:authenticated");
    kr_token_user_free(u);
    ck_assert_uint_eq(reviews(r), 0); /* the file knew it: nobody asked */
    ck_assert_int_eq(kr_token_authenticate(file, r, "Bearer alice-token", &u, &err), 0);
    ck_assert_str_eq(u->user, "alice");
    ck_assert(kr_token_user_in_group(u, "system:authenticated"));
    ck_assert_uint_eq(u->n_groups, 3); /* dev, qa and the cluster's one: not twice */
    kr_token_user_free(u);
    ck_assert_uint_eq(reviews(r), 1);
    ck_assert_int_eq(kr_token_authenticate(file, r, "Bearer nobody-knows", &u, &err), 0);
    ck_assert_ptr_null(u);
    ck_assert_int_eq(kr_token_authenticate(file, NULL, "Bearer alice-token", &u, &err), 0);
    ck_assert_ptr_null(u); /* no reviewer: the file only */
    ck_assert_int_eq(kr_token_authenticate(NULL, NULL, "Bearer local-token", &u, &err), 0);
    ck_assert_ptr_null(u);
    kr_token_reviewer_free(r);
    kr_token_file_free(file);
}
END_TEST

/* ---- a server that ignores spec.audiences ----------------------------------- */

/* Answers every request with the same TokenReview: authenticated, and no
 * status.audiences, whatever was asked. */
static enum MHD_Result careless_review(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version, const char *upload,
                                       size_t *upload_size, void **state)
{
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    if (!*state) {
        *state = conn;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* the review asked: not read */
        return MHD_YES;
    }
    const char *body = cls;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(conn, 201, r);
    MHD_destroy_response(r);
    return ok;
}

/* A server answering every request with `answer`, and a client of it. */
static struct MHD_Daemon *careless_server(const char *answer, kr_client_t **out)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                         NULL, careless_review, (void *)answer, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&addr, MHD_OPTION_END);
    ck_assert_ptr_nonnull(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)info->port);
    kr_rest_config c = KR_REST_CONFIG_INIT;
    c.server = url;
    c.qps = -1;
    kr_error_t err = {0};
    ck_assert_msg(kr_client_new(rt, &c, NULL, out, &err) == 0, "%s", err.message);
    return d;
}

/* A reviewer that asked for audiences takes no answer that does not name
 * one of them (the API's advice to its clients): a server unaware of
 * audiences would vouch for a token minted for another. Without
 * audiences asked, the same answer is taken. */
START_TEST(an_answer_without_the_audiences_asked_is_a_refusal)
{
    static const char answer[] =
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\","
        "\"status\":{\"authenticated\":true,\"user\":{\"username\":\"mallory\"}}}";
    kr_error_t err = {0};
    kr_client_t *careless = NULL;
    struct MHD_Daemon *d = careless_server(answer, &careless);
    const char *audiences[] = {"kr-submitter"};
    kr_token_reviewer_opts o = KR_TOKEN_REVIEWER_OPTS_INIT;
    o.client = careless;
    o.audiences = audiences;
    o.n_audiences = 1;
    kr_token_reviewer_t *r = NULL;
    ck_assert_int_eq(kr_token_reviewer_new(&o, &r, &err), 0);
    kr_token_user *u = NULL;
    ck_assert_msg(kr_token_reviewer_authenticate(r, "Bearer minted-for-another", &u, &err) == 0,
                  "%s", err.message);
    ck_assert_ptr_null(u);
    kr_token_reviewer_free(r);
    o.audiences = NULL;
    o.n_audiences = 0;
    ck_assert_int_eq(kr_token_reviewer_new(&o, &r, &err), 0);
    ck_assert_msg(kr_token_reviewer_authenticate(r, "Bearer minted-for-another", &u, &err) == 0,
                  "%s", err.message);
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(u->user, "mallory");
    kr_token_user_free(u);
    kr_token_reviewer_free(r);
    kr_client_free(careless);
    MHD_stop_daemon(d);
}
END_TEST

/* ---- kr_access_reviewer: what a user may do ------------------------------------ */

static void create_json(const char *resource, const char *ns, const char *text)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    ck_assert_msg(obj != NULL, "%s", jerr.text);
    kr_error_t err = {0};
    ck_assert_msg(kr_client_create(client, KR_GVR("rbac.authorization.k8s.io", "v1", resource), ns,
                                   obj, NULL, NULL, &err) == 0,
                  "%s", err.message);
    json_decref(obj);
}

/* alice may create runnables in team-a; group qa may list them there and
 * approve the one named nightly; nobody may do anything else. */
static void grant_team_a(void)
{
    json_t *ns = json_pack("{s:{s:s}}", "metadata", "name", "team-a");
    kr_error_t err = {0};
    ck_assert_msg(
        kr_client_create(client, KR_GVR("", "v1", "namespaces"), NULL, ns, NULL, NULL, &err) == 0,
        "%s", err.message);
    json_decref(ns);
    create_json("roles", "team-a",
                "{\"metadata\":{\"name\":\"submit\",\"namespace\":\"team-a\"},\"rules\":["
                "{\"apiGroups\":[\"kreconcile.io\"],\"resources\":[\"runnables\"],"
                "\"verbs\":[\"create\"]}]}");
    create_json("rolebindings", "team-a",
                "{\"metadata\":{\"name\":\"alice-submits\",\"namespace\":\"team-a\"},"
                "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\","
                "\"name\":\"submit\"},\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\","
                "\"kind\":\"User\",\"name\":\"alice\"}]}");
    create_json("roles", "team-a",
                "{\"metadata\":{\"name\":\"review\",\"namespace\":\"team-a\"},\"rules\":["
                "{\"apiGroups\":[\"kreconcile.io\"],\"resources\":[\"runnables\"],"
                "\"verbs\":[\"list\"]},"
                "{\"apiGroups\":[\"kreconcile.io\"],\"resources\":[\"runnables\"],"
                "\"resourceNames\":[\"nightly\"],\"verbs\":[\"approve\"]}]}");
    create_json("rolebindings", "team-a",
                "{\"metadata\":{\"name\":\"qa-reviews\",\"namespace\":\"team-a\"},"
                "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\","
                "\"name\":\"review\"},\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\","
                "\"kind\":\"Group\",\"name\":\"qa\"}]}");
}

static kr_access_reviewer_t *access_reviewer(kr_client_t *c, uint64_t ttl_ms)
{
    kr_access_reviewer_opts o = KR_ACCESS_REVIEWER_OPTS_INIT;
    o.client = c;
    o.allowed_ttl_ms = o.denied_ttl_ms = ttl_ms;
    kr_access_reviewer_t *r = NULL;
    kr_error_t err = {0};
    ck_assert_msg(kr_access_reviewer_new(&o, &r, &err) == 0, "%s", err.message);
    return r;
}

static uint64_t access_reviews(kr_access_reviewer_t *r)
{
    kr_access_reviewer_stats st;
    kr_access_reviewer_get_stats(r, &st, sizeof(st));
    return st.reviews;
}

/* Whether `user` (groups comma-separated, may be "") may `verb` runnables
 * (ns and name may be NULL), checking that an answer came. */
static bool may(kr_access_reviewer_t *r, const char *user, const char *groups, const char *verb,
                const char *ns, const char *name, char *reason, size_t reason_len)
{
    char *g[4];
    size_t n = 0;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", groups);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < 4;
         t = strtok_r(NULL, ",", &save))
        g[n++] = t;
    kr_token_user u = {.user = (char *)user, .uid = "", .groups = g, .n_groups = n};
    kr_access_attrs a = {.verb = verb,
                         .group = "kreconcile.io",
                         .resource = "runnables",
                         .namespace_ = ns,
                         .name = name};
    bool allowed = true;
    kr_error_t err = {0};
    ck_assert_msg(kr_access_reviewer_check(r, &u, &a, &allowed, reason, reason_len, &err) == 0,
                  "%s", err.message);
    return allowed;
}

START_TEST(the_cluster_says_what_a_user_may_do)
{
    if (skipped("the_cluster_says_what_a_user_may_do"))
        return;
    grant_team_a();
    kr_access_reviewer_t *r = access_reviewer(client, 0);
    char reason[256];
    ck_assert(may(r, "alice", "dev", "create", "team-a", NULL, reason, sizeof(reason)));
    ck_assert(!may(r, "alice", "dev", "create", "team-b", NULL, reason, sizeof(reason)));
    /* RBAC denies without a reason, as kube-apiserver's does */
    ck_assert_str_eq(reason, "");
    ck_assert(!may(r, "alice", "dev", "create", NULL, NULL, reason, sizeof(reason)));
    ck_assert(!may(r, "alice", "dev", "list", "team-a", NULL, NULL, 0));
    /* by group: the same user name with and without it */
    ck_assert(may(r, "bob", "qa", "list", "team-a", NULL, NULL, 0));
    ck_assert(!may(r, "bob", "", "list", "team-a", NULL, NULL, 0));
    /* a verb of the program's own, for one name */
    ck_assert(may(r, "bob", "dev,qa", "approve", "team-a", "nightly", NULL, 0));
    ck_assert(!may(r, "bob", "qa", "approve", "team-a", "weekly", NULL, 0));
    ck_assert(!may(r, "bob", "qa", "approve", "team-a", NULL, NULL, 0));
    /* a subresource is another resource to RBAC */
    kr_token_user alice = {.user = "alice", .uid = "11"};
    kr_access_attrs a = {.verb = "create",
                         .group = "kreconcile.io",
                         .resource = "runnables",
                         .subresource = "status",
                         .namespace_ = "team-a"};
    bool allowed = true;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_access_reviewer_check(r, &alice, &a, &allowed, NULL, 0, &err), 0);
    ck_assert(!allowed);
    /* the system:masters group may do anything */
    ck_assert(may(r, "root", "system:masters", "cancel", "team-z", "x", NULL, 0));
    ck_assert_uint_eq(access_reviews(r), 11);
    kr_access_reviewer_free(r);
}
END_TEST

START_TEST(access_answers_are_cached_for_their_ttl)
{
    if (skipped("access_answers_are_cached_for_their_ttl"))
        return;
    grant_team_a();
    kr_access_reviewer_t *r = access_reviewer(client, 400);
    char reason[256];
    ck_assert(may(r, "alice", "dev", "create", "team-a", NULL, NULL, 0));
    ck_assert(!may(r, "alice", "dev", "create", "team-b", NULL, reason, sizeof(reason)));
    char first[256];
    snprintf(first, sizeof(first), "%s", reason);
    ck_assert_uint_eq(access_reviews(r), 2);
    /* the same questions: from the cache, denial's reason included */
    ck_assert(may(r, "alice", "dev", "create", "team-a", NULL, NULL, 0));
    ck_assert(!may(r, "alice", "dev", "create", "team-b", NULL, reason, sizeof(reason)));
    ck_assert_str_eq(reason, first);
    ck_assert_uint_eq(access_reviews(r), 2);
    kr_access_reviewer_stats st;
    kr_access_reviewer_get_stats(r, &st, sizeof(st));
    ck_assert_uint_eq(st.cache_hits, 2);
    /* any word different is another question: a group, a name, a verb */
    ck_assert(may(r, "alice", "dev,qa", "list", "team-a", NULL, NULL, 0));
    ck_assert(may(r, "alice", "dev", "create", "team-a", "x", NULL, 0));
    ck_assert_uint_eq(access_reviews(r), 4);
    /* the grant taken away shows once the answer expires */
    kr_error_t err = {0};
    ck_assert_int_eq(kr_client_delete(client,
                                      KR_GVR("rbac.authorization.k8s.io", "v1", "rolebindings"),
                                      "team-a", "alice-submits", NULL, NULL, &err),
                     0);
    ck_assert(may(r, "alice", "dev", "create", "team-a", NULL, NULL, 0));
    sleep_ms(450);
    ck_assert(!may(r, "alice", "dev", "create", "team-a", NULL, NULL, 0));
    ck_assert_uint_eq(access_reviews(r), 5);
    kr_access_reviewer_free(r);
}
END_TEST

START_TEST(failures_to_ask_for_access_are_errors_and_not_cached)
{
    if (skipped("failures_to_ask_for_access_are_errors_and_not_cached"))
        return;
    kr_access_reviewer_t *r = access_reviewer(client, 0);
    kr_token_user alice = {.user = "alice", .uid = "11"};
    kr_access_attrs a = {.verb = "create", .resource = "configmaps", .namespace_ = "team-a"};
    bool allowed = true;
    kr_error_t err = {0};
    /* what cannot be a question */
    kr_access_attrs no_verb = {.resource = "configmaps"};
    ck_assert_int_eq(kr_access_reviewer_check(r, &alice, &no_verb, &allowed, NULL, 0, &err),
                     KR_EINVAL);
    ck_assert(!allowed);
    kr_token_user nameless = {.user = ""};
    ck_assert_int_eq(kr_access_reviewer_check(r, &nameless, &a, &allowed, NULL, 0, &err),
                     KR_EINVAL);
    ck_assert_int_eq(kr_access_reviewer_check(r, NULL, &a, &allowed, NULL, 0, &err), KR_EINVAL);
    ck_assert_uint_eq(access_reviews(r), 0);
    kr_access_reviewer_free(r);

    /* a client whose user may not create subjectaccessreviews */
    kr_rest_config *alice_cfg = NULL;
    ck_assert_int_eq(kr_rest_config_copy(cfg, &alice_cfg, &err), 0);
    kr_free(alice_cfg->bearer_token);
    alice_cfg->bearer_token = kr_malloc(sizeof("alice-token"));
    memcpy(alice_cfg->bearer_token, "alice-token", sizeof("alice-token"));
    kr_client_t *alice_client = NULL;
    kr_client_opts co = {.max_retries = 1, .backoff_base_ms = 5, .backoff_max_ms = 20};
    ck_assert_msg(kr_client_new(rt, alice_cfg, &co, &alice_client, &err) == 0, "%s", err.message);
    r = access_reviewer(alice_client, 0);
    for (int i = 0; i < 2; i++) {
        allowed = true;
        ck_assert_int_eq(kr_access_reviewer_check(r, &alice, &a, &allowed, NULL, 0, &err),
                         KR_EFORBIDDEN);
        ck_assert(!allowed);
        ck_assert_msg(strstr(err.message, "subjectaccessreviews") != NULL, "%s", err.message);
    }
    ck_assert_uint_eq(access_reviews(r), 2);
    kr_access_reviewer_free(r);
    kr_client_free(alice_client);
    kr_rest_config_free(alice_cfg);

    /* the cluster gone: an error, and asked again next time */
    r = access_reviewer(client, 0);
    kr_token_user root = {.user = "root", .groups = (char *[]){"system:masters"}, .n_groups = 1};
    ck_assert_int_eq(kr_access_reviewer_check(r, &root, &a, &allowed, NULL, 0, &err), 0);
    ck_assert(allowed);
    kr_testserver_free(ts);
    ts = NULL;
    for (int i = 0; i < 2; i++) {
        int rc = kr_access_reviewer_check(r, &alice, &a, &allowed, NULL, 0, &err);
        ck_assert_msg(rc == KR_ECONNECT || rc == KR_EUNAVAILABLE || rc == KR_ETIMEDOUT, "%d: %s",
                      rc, err.message);
        ck_assert(!allowed);
    }
    /* what was answered before stays answered for its ttl */
    ck_assert_int_eq(kr_access_reviewer_check(r, &root, &a, &allowed, NULL, 0, &err), 0);
    ck_assert(allowed);
    ck_assert_uint_eq(access_reviews(r), 3);
    kr_access_reviewer_free(r);
}
END_TEST

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A cluster that hangs (every answer held 20 s) behind a client that would
 * wait 30 s: each review is an error once its own timeout passes (as
 * kube-apiserver's webhooks give up after theirs), not the client's, so
 * that a caller hears 503 at once rather than after the client's
 * timeout; nothing is cached, and the cluster back, both answer. */
START_TEST(a_hanging_cluster_fails_a_review_after_its_timeout)
{
    if (skipped("a_hanging_cluster_fails_a_review_after_its_timeout"))
        return;
    kr_rest_config *slow_cfg = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_rest_config_copy(cfg, &slow_cfg, &err), 0);
    slow_cfg->timeout_ms = 30000;
    kr_client_t *slow = NULL;
    kr_client_opts co = {.max_retries = 1, .backoff_base_ms = 5, .backoff_max_ms = 20};
    ck_assert_msg(kr_client_new(rt, slow_cfg, &co, &slow, &err) == 0, "%s", err.message);
    kr_token_reviewer_opts to = KR_TOKEN_REVIEWER_OPTS_INIT;
    to.client = slow;
    to.timeout_ms = 300;
    kr_token_reviewer_t *tr = NULL;
    ck_assert_int_eq(kr_token_reviewer_new(&to, &tr, &err), 0);
    kr_access_reviewer_opts ao = KR_ACCESS_REVIEWER_OPTS_INIT;
    ao.client = slow;
    ao.timeout_ms = 300;
    kr_access_reviewer_t *ar = NULL;
    ck_assert_int_eq(kr_access_reviewer_new(&ao, &ar, &err), 0);

    kr_testserver_faults hang = {.latency_ms = 20000};
    kr_testserver_set_faults(ts, &hang);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kr_token_user *u = NULL;
    int rc = kr_token_reviewer_authenticate(tr, "Bearer alice-token", &u, &err);
    double took = seconds_since(&t0);
    ck_assert_msg(rc == KR_ETIMEDOUT, "%d: %s", rc, err.message);
    ck_assert_ptr_null(u);
    ck_assert_msg(took < 10.0, "the token review took %.1f s", took);
    kr_token_user root = {.user = "root", .groups = (char *[]){"system:masters"}, .n_groups = 1};
    kr_access_attrs a = {.verb = "create", .resource = "configmaps", .namespace_ = "team-a"};
    bool allowed = true;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = kr_access_reviewer_check(ar, &root, &a, &allowed, NULL, 0, &err);
    took = seconds_since(&t0);
    ck_assert_msg(rc == KR_ETIMEDOUT, "%d: %s", rc, err.message);
    ck_assert(!allowed);
    ck_assert_msg(took < 10.0, "the access review took %.1f s", took);

    kr_testserver_faults none = {0};
    kr_testserver_set_faults(ts, &none);
    u = NULL;
    ck_assert_msg(kr_token_reviewer_authenticate(tr, "Bearer alice-token", &u, &err) == 0, "%s",
                  err.message);
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(u->user, "alice");
    kr_token_user_free(u);
    ck_assert_msg(kr_access_reviewer_check(ar, &root, &a, &allowed, NULL, 0, &err) == 0, "%s",
                  err.message);
    ck_assert(allowed);
    kr_access_reviewer_free(ar);
    kr_token_reviewer_free(tr);
    kr_client_free(slow);
    kr_rest_config_free(slow_cfg);
}
END_TEST

/* What another authorizer may answer: allowed and denied both (denied
 * wins), a reason or only an evaluation error (either is the reason), no
 * status (not an answer). */
static bool careless_access(const char *answer, char *reason, size_t reason_len, int *rc)
{
    kr_error_t err = {0};
    kr_client_t *careless = NULL;
    struct MHD_Daemon *d = careless_server(answer, &careless);
    kr_access_reviewer_t *r = access_reviewer(careless, 0);
    kr_token_user u = {.user = "mallory"};
    kr_access_attrs a = {.verb = "delete", .resource = "secrets", .namespace_ = "kube-system"};
    bool allowed = true;
    *rc = kr_access_reviewer_check(r, &u, &a, &allowed, reason, reason_len, &err);
    kr_access_reviewer_free(r);
    kr_client_free(careless);
    MHD_stop_daemon(d);
    return allowed;
}

START_TEST(other_authorizers_answers)
{
    char reason[9];
    int rc = -1;
    ck_assert(!careless_access("{\"status\":{\"allowed\":true,\"denied\":true,"
                               "\"reason\":\"a webhook says no\"}}",
                               reason, sizeof(reason), &rc));
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(reason, "a webhoo"); /* cut to the buffer */
    char full[64];
    ck_assert(!careless_access("{\"status\":{\"allowed\":false,\"evaluationError\":\"a rule of "
                               "role x cannot be read\"}}",
                               full, sizeof(full), &rc));
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(full, "a rule of role x cannot be read");
    ck_assert(careless_access("{\"status\":{\"allowed\":true,\"reason\":\"by a webhook\"}}", full,
                              sizeof(full), &rc));
    ck_assert_str_eq(full, "by a webhook");
    ck_assert(!careless_access("{\"kind\":\"SubjectAccessReview\"}", full, sizeof(full), &rc));
    ck_assert_int_eq(rc, KR_EPARSE);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {the_cluster_says_who_a_token_is,
                            answers_are_cached_for_their_ttl,
                            service_account_tokens_are_for_their_audiences,
                            failures_to_ask_are_errors_and_not_cached,
                            concurrent_callers_share_the_cache,
                            a_file_and_the_cluster_together,
                            an_answer_without_the_audiences_asked_is_a_refusal,
                            the_cluster_says_what_a_user_may_do,
                            access_answers_are_cached_for_their_ttl,
                            failures_to_ask_for_access_are_errors_and_not_cached,
                            other_authorizers_answers,
                            a_hanging_cluster_fails_a_review_after_its_timeout,
                            NULL};
    return kr_test_run_tests("tokenreview", "tokenreview", setup, teardown, 60, tests);
}
