/* RBAC in the in-memory apiserver (kr_testserver_opts.rbac, kr-apiserver
 * --authorization-mode=RBAC), over HTTP against a server started
 * in-process with users from a static token file: the bootstrap policy,
 * Roles and ClusterRoles through RoleBindings and ClusterRoleBindings to
 * users, groups and service accounts, resourceNames and subresources,
 * non-resource URLs, impersonation, the escalation checks on writes of
 * roles and bindings, the access and rules reviews kubectl auth asks, and
 * the subject access reviews webhooks and proxies ask, and the token
 * reviews delegated authentication asks.
 * KR_TEST_THREADED */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_server.h"
#include "kr_test_tmpdir.h"
#include "kreconcile/testserver.h"
#include "ts_client.h"

static const char *U;
static char dir[256];

static const char TOKENS[] = "admin-token,admin,1,\"system:masters\"\n"
                             "bob-token,bob,2\n"
                             "alice-token,alice,3,\"dev,qa\"\n";

#define AS(who) ((const char *const[]){"Authorization: Bearer " who "-token", NULL})
#define AS_IMPERSONATING(who, user)                                                                \
    ((const char *const[]){"Authorization: Bearer " who "-token", "Impersonate-User: " user, NULL})

static void setup(void)
{
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "rbac"));
    kr_test_write_file(dir, "tokens.csv", TOKENS);
    char path[320];
    snprintf(path, sizeof(path), "%s/tokens.csv", dir);
    kr_testserver_opts o = {.seed = 7, .token_auth_file = path, .rbac = true};
    kr_test_server_start(&o, &U);
}

static void teardown(void)
{
    kr_test_server_stop();
    kr_test_tmpdir_remove(dir);
}

static const char *jstr(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(obj, field));
}

/* `method` on `path` with `body` (JSON) as `who`; the status. */
static long call(const char *const *who, const char *method, const char *path, const char *body)
{
    tc_response r;
    tc_request(U, method, path, body ? "application/json" : NULL, body, who, &r);
    long status = r.status;
    tc_free(&r);
    return status;
}

/* The same, checking the status and, when given, the Status message. */
static void expect(const char *const *who, const char *method, const char *path, const char *body,
                   long status, const char *message)
{
    tc_response r;
    tc_request(U, method, path, body ? "application/json" : NULL, body, who, &r);
    ck_assert_msg(r.status == status, "%s %s: %ld, want %ld: %s", method, path, r.status, status,
                  r.body ? r.body : "");
    if (message)
        ck_assert_str_eq(jstr(r.json, "message"), message);
    tc_free(&r);
}

static void create(const char *path, const char *body)
{
    expect(AS("admin"), "POST", path, body, 201, NULL);
}

static void create_ns(const char *name)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}", name);
    create("/api/v1/namespaces", body);
}

/* A RoleBinding in `ns` of `role_kind`/`role` to one subject. */
static void bind(const char *ns, const char *name, const char *role_kind, const char *role,
                 const char *subject_kind, const char *subject, const char *subject_ns)
{
    char path[256], body[1024], sns[128] = "";
    if (subject_ns)
        snprintf(sns, sizeof(sns), ",\"namespace\":\"%s\"", subject_ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"%s\",\"metadata\":"
             "{\"name\":\"%s\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":"
             "\"%s\",\"name\":\"%s\"},\"subjects\":[{\"kind\":\"%s\",\"name\":\"%s\"%s}]}",
             ns ? "RoleBinding" : "ClusterRoleBinding", name, role_kind, role, subject_kind,
             subject, sns);
    if (ns)
        snprintf(path, sizeof(path),
                 "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings", ns);
    else
        snprintf(path, sizeof(path), "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings");
    create(path, body);
}

static const char CM_BODY[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}";

START_TEST(bootstrap_policy_is_there_and_masters_may_do_anything)
{
    tc_response r;
    tc_request(U, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", NULL, NULL, AS("admin"),
               &r);
    ck_assert_int_eq(r.status, 200);
    const char *want[] = {"admin",
                          "cluster-admin",
                          "edit",
                          "system:aggregate-to-admin",
                          "system:aggregate-to-edit",
                          "system:aggregate-to-view",
                          "system:auth-delegator",
                          "system:basic-user",
                          "system:discovery",
                          "system:monitoring",
                          "system:public-info-viewer",
                          "view"};
    json_t *items = json_object_get(r.json, "items");
    ck_assert_uint_eq(json_array_size(items), KR_ARRAY_LEN(want));
    for (size_t i = 0; i < KR_ARRAY_LEN(want); i++) {
        json_t *md = json_object_get(json_array_get(items, i), "metadata");
        ck_assert_str_eq(jstr(md, "name"), want[i]);
        ck_assert_str_eq(jstr(json_object_get(md, "labels"), "kubernetes.io/bootstrapping"),
                         "rbac-defaults");
    }
    tc_free(&r);
    tc_request(U, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin",
               NULL, NULL, AS("admin"), &r);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "subjects"), 0), "name"),
                     "system:masters");
    tc_free(&r);
    create_ns("demo");
    create("/api/v1/namespaces/demo/configmaps", CM_BODY);
    expect(AS("admin"), "DELETE", "/api/v1/namespaces/demo/configmaps/c", NULL, 200, NULL);
    /* no credentials: 401, as without RBAC; a public path needs none */
    expect(NULL, "GET", "/api/v1/namespaces", NULL, 401, "Unauthorized");
    expect(NULL, "GET", "/version", NULL, 200, NULL);
    expect(NULL, "GET", "/healthz", NULL, 200, NULL);
    /* a URL's HEAD is asked as the verb head (kube-apiserver's request
     * info lowers the method of a non-resource request), which the
     * default roles do not grant; a resource's HEAD is a get */
    expect(AS("bob"), "GET", "/version", NULL, 200, NULL);
    expect(AS("bob"), "HEAD", "/version", NULL, 403, NULL);
    create("/api/v1/namespaces/demo/configmaps", CM_BODY);
    bind("demo", "bob-views", "ClusterRole", "view", "User", "bob", NULL);
    ck_assert_int_ne(call(AS("bob"), "HEAD", "/api/v1/namespaces/demo/configmaps/c", NULL), 403);
    expect(AS("bob"), "HEAD", "/api/v1/namespaces/demo/secrets", NULL, 403, NULL);
}
END_TEST

START_TEST(bindings_grant_what_their_roles_allow_and_nothing_else)
{
    create_ns("demo");
    /* bob is authenticated: discovery and the reviews, nothing more */
    expect(AS("bob"), "GET", "/api", NULL, 200, NULL);
    expect(AS("bob"), "GET", "/apis/apps/v1", NULL, 200, NULL);
    expect(AS("bob"), "GET", "/api/v1/namespaces/demo/pods", NULL, 403,
           "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in "
           "the namespace \"demo\"");
    expect(AS("bob"), "GET", "/apis/apps/v1/namespaces/demo/deployments/web", NULL, 403,
           "deployments.apps \"web\" is forbidden: User \"bob\" cannot get resource "
           "\"deployments\" in API group \"apps\" in the namespace \"demo\"");
    expect(AS("bob"), "GET", "/metrics", NULL, 403,
           "forbidden: User \"bob\" cannot get path \"/metrics\"");
    /* view in demo through a RoleBinding of the ClusterRole */
    bind("demo", "bob-view", "ClusterRole", "view", "User", "bob", NULL);
    expect(AS("bob"), "GET", "/api/v1/namespaces/demo/pods", NULL, 200, NULL);
    expect(AS("bob"), "GET", "/api/v1/namespaces/demo/pods/p/log", NULL, 404, NULL);
    expect(AS("bob"), "GET", "/api/v1/namespaces/demo/secrets", NULL, 403, NULL);
    expect(AS("bob"), "GET", "/api/v1/namespaces/default/pods", NULL, 403, NULL);
    expect(AS("bob"), "GET", "/api/v1/pods", NULL, 403,
           "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" at "
           "the cluster scope");
    expect(AS("bob"), "POST", "/api/v1/namespaces/demo/configmaps", CM_BODY, 403,
           "configmaps is forbidden: User \"bob\" cannot create resource \"configmaps\" in API "
           "group \"\" in the namespace \"demo\"");
    /* a Role with resourceNames and a subresource */
    create("/apis/rbac.authorization.k8s.io/v1/namespaces/demo/roles",
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":"
           "{\"name\":\"one\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],"
           "\"resourceNames\":[\"c\"],\"verbs\":[\"get\",\"update\",\"delete\"]},"
           "{\"apiGroups\":[\"\"],\"resources\":[\"*/status\"],\"verbs\":[\"patch\"]}]}");
    bind("demo", "bob-one", "Role", "one", "User", "bob", NULL);
    create("/api/v1/namespaces/demo/configmaps", CM_BODY);
    expect(AS("bob"), "GET", "/api/v1/namespaces/demo/configmaps/c", NULL, 200, NULL);
    expect(AS("bob"), "DELETE", "/api/v1/namespaces/demo/configmaps/other", NULL, 403, NULL);
    expect(AS("bob"), "DELETE", "/api/v1/namespaces/demo/configmaps/c", NULL, 200, NULL);
    expect(AS("bob"), "PATCH", "/api/v1/namespaces/demo/pods/p", "{}", 403, NULL);
    ck_assert_int_ne(call(AS("bob"), "PATCH", "/api/v1/namespaces/demo/pods/p/status", "{}"), 403);
    /* a group: alice is in dev */
    expect(AS("alice"), "GET", "/api/v1/namespaces", NULL, 403, NULL);
    /* a namespace is in itself: bob's view of demo shows demo */
    expect(AS("bob"), "GET", "/api/v1/namespaces/demo", NULL, 200, NULL);
    expect(AS("bob"), "GET", "/api/v1/namespaces/default", NULL, 403,
           "namespaces \"default\" is forbidden: User \"bob\" cannot get resource "
           "\"namespaces\" in API group \"\" in the namespace \"default\"");
    bind(NULL, "dev-view", "ClusterRole", "view", "Group", "dev", NULL);
    expect(AS("alice"), "GET", "/api/v1/namespaces", NULL, 200, NULL);
    expect(AS("bob"), "GET", "/api/v1/namespaces", NULL, 403, NULL);
    /* a binding's removal applies to the next request */
    expect(AS("admin"), "DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/dev-view",
           NULL, 200, NULL);
    expect(AS("alice"), "GET", "/api/v1/namespaces", NULL, 403, NULL);
    /* a binding to a role that does not exist grants nothing */
    bind("demo", "bob-ghost", "Role", "ghost", "User", "bob", NULL);
    expect(AS("bob"), "GET", "/api/v1/namespaces/demo/secrets", NULL, 403, NULL);
}
END_TEST

START_TEST(service_accounts_are_subjects_with_their_groups)
{
    create_ns("demo");
    create("/api/v1/namespaces/demo/serviceaccounts",
           "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"robot\"}}");
    tc_response r;
    tc_request(
        U, "POST", "/api/v1/namespaces/demo/serviceaccounts/robot/token", "application/json",
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{}}",
        AS("admin"), &r);
    ck_assert_int_eq(r.status, 201);
    char auth[2048];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
             jstr(json_object_get(r.json, "status"), "token"));
    tc_free(&r);
    const char *robot[] = {auth, NULL};
    expect(robot, "POST", "/api/v1/namespaces/demo/configmaps", CM_BODY, 403, NULL);
    bind("demo", "robot-edit", "ClusterRole", "edit", "ServiceAccount", "robot", "demo");
    expect(robot, "POST", "/api/v1/namespaces/demo/configmaps", CM_BODY, 201, NULL);
    expect(robot, "GET", "/api/v1/namespaces/default/configmaps", NULL, 403, NULL);
    /* the groups every service account of demo is in */
    bind("default", "demo-sas", "ClusterRole", "view", "Group", "system:serviceaccounts:demo",
         NULL);
    expect(robot, "GET", "/api/v1/namespaces/default/configmaps", NULL, 200, NULL);
    tc_request(U, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json",
               "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}",
               robot, &r);
    json_t *info = json_object_get(json_object_get(r.json, "status"), "userInfo");
    ck_assert_str_eq(jstr(info, "username"), "system:serviceaccount:demo:robot");
    json_t *groups = json_object_get(info, "groups");
    ck_assert_uint_eq(json_array_size(groups), 3);
    ck_assert_str_eq(json_string_value(json_array_get(groups, 1)), "system:serviceaccounts:demo");
    tc_free(&r);
}
END_TEST

START_TEST(impersonation_needs_the_impersonate_verb)
{
    create_ns("demo");
    /* masters may impersonate; the request is then bob's */
    expect(AS_IMPERSONATING("admin", "bob"), "GET", "/api/v1/namespaces/demo/pods", NULL, 403,
           "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in "
           "the namespace \"demo\"");
    expect(AS_IMPERSONATING("bob", "alice"), "GET", "/api/v1/namespaces/demo/pods", NULL, 403,
           "users \"alice\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in "
           "API group \"\" at the cluster scope");
    create("/apis/rbac.authorization.k8s.io/v1/clusterroles",
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":"
           "{\"name\":\"as-alice\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"users\"],"
           "\"resourceNames\":[\"alice\"],\"verbs\":[\"impersonate\"]}]}");
    bind(NULL, "bob-as-alice", "ClusterRole", "as-alice", "User", "bob", NULL);
    bind("demo", "alice-view", "ClusterRole", "view", "User", "alice", NULL);
    expect(AS_IMPERSONATING("bob", "alice"), "GET", "/api/v1/namespaces/demo/pods", NULL, 200,
           NULL);
    expect(AS_IMPERSONATING("bob", "carol"), "GET", "/api/v1/namespaces/demo/pods", NULL, 403,
           NULL);
    /* groups need their own permission, and a user beside them */
    const char *with_group[] = {"Authorization: Bearer bob-token", "Impersonate-User: alice",
                                "Impersonate-Group: dev", NULL};
    expect(with_group, "GET", "/api/v1/namespaces/demo/pods", NULL, 403,
           "groups \"dev\" is forbidden: User \"bob\" cannot impersonate resource \"groups\" in "
           "API group \"\" at the cluster scope");
    const char *group_only[] = {"Authorization: Bearer admin-token", "Impersonate-Group: dev",
                                NULL};
    expect(group_only, "GET", "/api/v1/namespaces", NULL, 500, NULL);
    /* extras: impersonate on userextras/KEY (lower case, percent-decoded),
     * named by each value */
    const char *with_extra[] = {"Authorization: Bearer bob-token", "Impersonate-User: alice",
                                "Impersonate-Extra-Example.COM%2fScopes: read", NULL};
    expect(with_extra, "GET", "/api/v1/namespaces/demo/pods", NULL, 403,
           "userextras.authentication.k8s.io \"read\" is forbidden: User \"bob\" cannot "
           "impersonate resource \"userextras/example.com/scopes\" in API group "
           "\"authentication.k8s.io\" at the cluster scope");
    create("/apis/rbac.authorization.k8s.io/v1/clusterroles",
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":"
           "{\"name\":\"as-read\"},\"rules\":[{\"apiGroups\":[\"authentication.k8s.io\"],"
           "\"resources\":[\"userextras/example.com/scopes\"],\"resourceNames\":[\"read\"],"
           "\"verbs\":[\"impersonate\"]}]}");
    bind(NULL, "bob-as-read", "ClusterRole", "as-read", "User", "bob", NULL);
    expect(with_extra, "GET", "/api/v1/namespaces/demo/pods", NULL, 200, NULL);
    const char *extra_only[] = {"Authorization: Bearer admin-token",
                                "Impersonate-Extra-scopes: read", NULL};
    expect(extra_only, "GET", "/api/v1/namespaces", NULL, 500, NULL);
    /* who the request then is: the groups asked for, system:authenticated once */
    static const char *const whoami_groups[][3] = {{"dev", "system:authenticated", NULL},
                                                   {"system:authenticated", NULL, NULL}};
    for (size_t i = 0; i < 2; i++) {
        const char *as[] = {
            "Authorization: Bearer admin-token", "Impersonate-User: bob",
            i ? "Impersonate-Group: system:authenticated" : "Impersonate-Group: dev", NULL};
        tc_response r;
        tc_request(
            U, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json",
            "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}", as, &r);
        json_t *info = json_object_get(json_object_get(r.json, "status"), "userInfo");
        ck_assert_str_eq(jstr(info, "username"), "bob");
        json_t *groups = json_object_get(info, "groups");
        for (size_t g = 0; g < 3; g++) {
            if (!whoami_groups[i][g]) {
                ck_assert_uint_eq(json_array_size(groups), g);
                break;
            }
            ck_assert_str_eq(json_string_value(json_array_get(groups, g)), whoami_groups[i][g]);
        }
        tc_free(&r);
    }
    /* a service account is impersonated in its namespace */
    expect(AS_IMPERSONATING("bob", "system:serviceaccount:demo:robot"), "GET", "/api", NULL, 403,
           "serviceaccounts \"robot\" is forbidden: User \"bob\" cannot impersonate resource "
           "\"serviceaccounts\" in API group \"\" in the namespace \"demo\"");
    bind("demo", "bob-edit", "ClusterRole", "edit", "User", "bob", NULL);
    expect(AS_IMPERSONATING("bob", "system:serviceaccount:demo:robot"), "GET", "/api", NULL, 200,
           NULL);
}
END_TEST

START_TEST(access_and_rules_reviews_answer_from_rbac)
{
    create_ns("demo");
    bind("demo", "bob-view", "ClusterRole", "view", "User", "bob", NULL);
    static const char ssar[] = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    tc_response r;
    tc_request(U, "POST", ssar, "application/json",
               "{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":\"authorization.k8s.io/v1\","
               "\"spec\":{\"resourceAttributes\":{\"namespace\":\"demo\",\"verb\":\"list\","
               "\"resource\":\"pods\"}}}",
               AS("bob"), &r);
    ck_assert_int_eq(r.status, 201);
    json_t *status = json_object_get(r.json, "status");
    ck_assert(json_is_true(json_object_get(status, "allowed")));
    ck_assert_str_eq(jstr(status, "reason"), "RBAC: allowed by RoleBinding \"bob-view/demo\" of "
                                             "ClusterRole \"view\" to User \"bob\"");
    tc_free(&r);
    static const char *const denied[] = {
        "{\"resourceAttributes\":{\"namespace\":\"demo\",\"verb\":\"delete\",\"resource\":"
        "\"pods\"}}",
        "{\"resourceAttributes\":{\"namespace\":\"other\",\"verb\":\"list\",\"resource\":"
        "\"pods\"}}",
        "{\"resourceAttributes\":{\"namespace\":\"demo\",\"verb\":\"get\",\"resource\":"
        "\"secrets\"}}",
        "{\"nonResourceAttributes\":{\"verb\":\"get\",\"path\":\"/metrics\"}}"};
    for (size_t i = 0; i < KR_ARRAY_LEN(denied); i++) {
        char body[512];
        snprintf(body, sizeof(body),
                 "{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":\"authorization.k8s.io/"
                 "v1\",\"spec\":%s}",
                 denied[i]);
        tc_request(U, "POST", ssar, "application/json", body, AS("bob"), &r);
        ck_assert_msg(json_is_false(json_object_get(json_object_get(r.json, "status"), "allowed")),
                      "%s", denied[i]);
        tc_free(&r);
    }
    tc_request(U, "POST", ssar, "application/json",
               "{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":\"authorization.k8s.io/v1\","
               "\"spec\":{\"nonResourceAttributes\":{\"verb\":\"get\",\"path\":\"/apis/apps\"}}}",
               AS("bob"), &r);
    ck_assert(json_is_true(json_object_get(json_object_get(r.json, "status"), "allowed")));
    tc_free(&r);
    /* the rules in demo: basic-user, discovery, public-info-viewer, view */
    tc_request(U, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
               "application/json",
               "{\"kind\":\"SelfSubjectRulesReview\",\"apiVersion\":\"authorization.k8s.io/v1\","
               "\"spec\":{\"namespace\":\"demo\"}}",
               AS("bob"), &r);
    status = json_object_get(r.json, "status");
    json_t *rules = json_object_get(status, "resourceRules");
    bool pods = false, secrets = false;
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        json_t *res = json_object_get(rule, "resources");
        size_t j;
        json_t *v;
        json_array_foreach(res, j, v)
        {
            pods = pods || strcmp(json_string_value(v), "pods") == 0;
            secrets = secrets || strcmp(json_string_value(v), "secrets") == 0;
        }
    }
    ck_assert(pods && !secrets);
    ck_assert_uint_eq(json_array_size(json_object_get(status, "nonResourceRules")), 2);
    ck_assert(json_is_false(json_object_get(status, "incomplete")));
    tc_free(&r);
}
END_TEST

/* A role or binding may grant only what its writer holds, unless the
 * writer may escalate (roles) or bind (bindings). */
START_TEST(writers_of_roles_and_bindings_may_not_escalate)
{
    create_ns("demo");
    create("/apis/rbac.authorization.k8s.io/v1/namespaces/demo/roles",
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":"
           "{\"name\":\"rbac-writer\"},\"rules\":[{\"apiGroups\":[\"rbac.authorization.k8s.io\"],"
           "\"resources\":[\"roles\",\"rolebindings\"],\"verbs\":[\"create\",\"update\"]}]}");
    bind("demo", "bob-writer", "Role", "rbac-writer", "User", "bob", NULL);
    bind("demo", "bob-view", "ClusterRole", "view", "User", "bob", NULL);
    static const char roles[] = "/apis/rbac.authorization.k8s.io/v1/namespaces/demo/roles";
    static const char bindings[] =
        "/apis/rbac.authorization.k8s.io/v1/namespaces/demo/rolebindings";
    static const char secrets_reader[] =
        "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":"
        "{\"name\":\"secrets-reader\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":"
        "[\"secrets\",\"configmaps\"],\"verbs\":[\"get\"]}]}";
    expect(AS("bob"), "POST", roles, secrets_reader, 403,
           "roles.rbac.authorization.k8s.io \"secrets-reader\" is forbidden: user \"bob\" "
           "(groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not "
           "currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}");
    expect(
        AS("bob"), "POST", roles,
        "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":"
        "{\"name\":\"cm-reader\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":"
        "[\"configmaps\",\"pods/log\"],\"resourceNames\":[\"a\"],\"verbs\":[\"get\",\"list\"]}]}",
        201, NULL);
    /* bindings: of what bob holds, yes; of edit, no; of a missing role, 404 */
    static const char to_edit[] =
        "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":"
        "{\"name\":\"alice-edit\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
        "\"kind\":\"ClusterRole\",\"name\":\"edit\"},\"subjects\":[{\"kind\":\"User\",\"name\":"
        "\"alice\"}]}";
    tc_response r;
    tc_request(U, "POST", bindings, "application/json", to_edit, AS("bob"), &r);
    ck_assert_int_eq(r.status, 403);
    ck_assert_ptr_nonnull(strstr(jstr(r.json, "message"),
                                 "is attempting to grant RBAC permissions not currently held:"
                                 "\n{APIGroups:[\"\"], Resources:[\"pods/attach\"], "
                                 "Verbs:[\"get\"]}"));
    tc_free(&r);
    expect(AS("bob"), "POST", bindings,
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":"
           "{\"name\":\"alice-view\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
           "\"kind\":\"ClusterRole\",\"name\":\"view\"},\"subjects\":[{\"kind\":\"User\",\"name\":"
           "\"alice\"}]}",
           201, NULL);
    expect(AS("bob"), "POST", bindings,
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\",\"metadata\":"
           "{\"name\":\"ghost\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\","
           "\"kind\":\"Role\",\"name\":\"ghost\"},\"subjects\":[{\"kind\":\"User\",\"name\":"
           "\"alice\"}]}",
           404, "roles.rbac.authorization.k8s.io \"ghost\" not found");
    /* bind on edit, escalate on roles: then both are fine */
    create("/apis/rbac.authorization.k8s.io/v1/namespaces/demo/roles",
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":"
           "{\"name\":\"grantor\"},\"rules\":[{\"apiGroups\":[\"rbac.authorization.k8s.io\"],"
           "\"resources\":[\"clusterroles\"],\"resourceNames\":[\"edit\"],\"verbs\":[\"bind\"]},"
           "{\"apiGroups\":[\"rbac.authorization.k8s.io\"],\"resources\":[\"roles\"],"
           "\"verbs\":[\"escalate\"]}]}");
    bind("demo", "bob-grantor", "Role", "grantor", "User", "bob", NULL);
    expect(AS("bob"), "POST", bindings, to_edit, 201, NULL);
    expect(AS("bob"), "POST", roles, secrets_reader, 201, NULL);
}
END_TEST

/* POST a (Local)SubjectAccessReview as `who`; its status.allowed, or -1
 * with the HTTP status in *code when it was not created. */
static int subject_review(const char *const *who, const char *path, const char *spec, long *code,
                          char *reason, size_t reason_size)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"apiVersion\":\"authorization.k8s.io/v1\",\"spec\":%s}", spec);
    tc_response r;
    tc_request(U, "POST", path, "application/json", body, who, &r);
    *code = r.status;
    json_t *status = json_object_get(r.json, "status");
    int allowed = r.status == 201 ? json_is_true(json_object_get(status, "allowed")) : -1;
    if (reason)
        snprintf(reason, reason_size, "%s", jstr(status, "reason") ? jstr(status, "reason") : "");
    tc_free(&r);
    return allowed;
}

START_TEST(subject_access_reviews_ask_about_someone_else)
{
    create_ns("demo");
    static const char sar[] = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    static const char lsar[] =
        "/apis/authorization.k8s.io/v1/namespaces/demo/localsubjectaccessreviews";
    static const char bob_lists_pods[] =
        "{\"user\":\"bob\",\"resourceAttributes\":{\"namespace\":\"demo\",\"verb\":\"list\","
        "\"resource\":\"pods\"}}";
    long code;
    char reason[256];
    /* creating one is a create like any other */
    ck_assert_int_eq(subject_review(AS("bob"), sar, bob_lists_pods, &code, NULL, 0), -1);
    ck_assert_int_eq(code, 403);
    expect(AS("bob"), "POST", sar, "{\"spec\":{}}", 403,
           "subjectaccessreviews.authorization.k8s.io is forbidden: User \"bob\" cannot create "
           "resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the "
           "cluster scope");
    ck_assert_int_eq(subject_review(AS("admin"), sar, bob_lists_pods, &code, NULL, 0), 0);
    bind("demo", "bob-view", "ClusterRole", "view", "User", "bob", NULL);
    ck_assert_int_eq(
        subject_review(AS("admin"), sar, bob_lists_pods, &code, reason, sizeof(reason)), 1);
    ck_assert_str_eq(reason,
                     "RBAC: allowed by RoleBinding \"bob-view/demo\" of ClusterRole \"view\" to "
                     "User \"bob\"");
    /* exactly the groups named: alice's own groups are not looked up */
    bind(NULL, "dev-view", "ClusterRole", "view", "Group", "dev", NULL);
    static const char list_ns[] = "\"resourceAttributes\":{\"verb\":\"list\",\"resource\":"
                                  "\"namespaces\"}}";
    char spec[256];
    snprintf(spec, sizeof(spec), "{\"user\":\"alice\",%s", list_ns);
    ck_assert_int_eq(subject_review(AS("admin"), sar, spec, &code, NULL, 0), 0);
    snprintf(spec, sizeof(spec), "{\"groups\":[\"dev\"],%s", list_ns);
    ck_assert_int_eq(subject_review(AS("admin"), sar, spec, &code, NULL, 0), 1);
    snprintf(spec, sizeof(spec), "{%s", list_ns);
    ck_assert_int_eq(subject_review(AS("admin"), sar, spec, &code, NULL, 0), -1);
    ck_assert_int_eq(code, 422);
    /* a local review is about its own namespace; admin of demo may ask */
    ck_assert_int_eq(subject_review(AS("bob"), lsar, bob_lists_pods, &code, NULL, 0), -1);
    ck_assert_int_eq(code, 403);
    bind("demo", "bob-admin", "ClusterRole", "admin", "User", "bob", NULL);
    ck_assert_int_eq(subject_review(AS("bob"), lsar,
                                    "{\"user\":\"alice\",\"resourceAttributes\":{\"verb\":\"get\","
                                    "\"resource\":\"secrets\"}}",
                                    &code, NULL, 0),
                     0);
    ck_assert_int_eq(subject_review(AS("bob"), lsar,
                                    "{\"user\":\"bob\",\"resourceAttributes\":{\"verb\":\"get\","
                                    "\"resource\":\"secrets\"}}",
                                    &code, NULL, 0),
                     1);
    ck_assert_int_eq(subject_review(AS("bob"), lsar,
                                    "{\"user\":\"bob\",\"resourceAttributes\":{\"namespace\":"
                                    "\"default\",\"verb\":\"get\",\"resource\":\"secrets\"}}",
                                    &code, NULL, 0),
                     -1);
    ck_assert_int_eq(code, 422);
}
END_TEST

/* admin, edit and view gather the rules of the ClusterRoles labelled
 * aggregate-to-admin, -edit, -view, as the aggregation controller keeps
 * them: a custom resource's role reaches view, and through view edit and
 * admin; its removal takes the rules away again. */
START_TEST(cluster_roles_aggregate_by_label)
{
    create_ns("demo");
    tc_response r;
    tc_request(U, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", NULL, NULL,
               AS("admin"), &r);
    json_t *view_rules = json_deep_copy(json_object_get(r.json, "rules"));
    ck_assert_uint_gt(json_array_size(view_rules), 5);
    ck_assert_ptr_nonnull(json_object_get(r.json, "aggregationRule"));
    tc_free(&r);
    bind("demo", "bob-view", "ClusterRole", "view", "User", "bob", NULL);
    bind("demo", "alice-admin", "ClusterRole", "admin", "User", "alice", NULL);
    static const char widgets[] = "/apis/example.com/v1/namespaces/demo/widgets";
    expect(AS("bob"), "GET", widgets, NULL, 403, NULL);
    create("/apis/rbac.authorization.k8s.io/v1/clusterroles",
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":"
           "{\"name\":\"widgets-view\",\"labels\":{\"rbac.authorization.k8s.io/aggregate-to-view\":"
           "\"true\"}},\"rules\":[{\"apiGroups\":[\"example.com\"],\"resources\":[\"widgets\"],"
           "\"verbs\":[\"get\",\"list\",\"watch\"]}]}");
    /* the path has no served resource: 404 once allowed, 403 before */
    ck_assert_int_eq(call(AS("bob"), "GET", widgets, NULL), 404);
    ck_assert_int_eq(call(AS("alice"), "GET", widgets, NULL), 404);
    tc_request(U, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", NULL, NULL,
               AS("admin"), &r);
    ck_assert_ptr_nonnull(strstr(r.body, "\"widgets\""));
    tc_free(&r);
    expect(AS("admin"), "DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/widgets-view",
           NULL, 200, NULL);
    ck_assert_int_eq(call(AS("bob"), "GET", widgets, NULL), 403);
    tc_request(U, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", NULL, NULL,
               AS("admin"), &r);
    ck_assert(json_equal(json_object_get(r.json, "rules"), view_rules));
    tc_free(&r);
    json_decref(view_rules);
}
END_TEST

START_TEST(rbac_names_are_path_segments)
{
    create("/apis/rbac.authorization.k8s.io/v1/clusterroles",
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":"
           "{\"name\":\"example:reader\"},\"rules\":[]}");
    expect(AS("admin"), "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
           "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":"
           "{\"name\":\"50%\"},\"rules\":[]}",
           422,
           "ClusterRole.rbac.authorization.k8s.io \"50%\" is invalid: metadata.name: Invalid "
           "value: \"50%\": may not contain '%'");
}
END_TEST

/* A TokenReview with `token` (and `audiences`, a JSON array or NULL) as
 * `who`: the answer's status (new), checking the 201. */
static json_t *review_token(const char *const *who, const char *token, const char *audiences)
{
    char body[4096];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":"
             "{\"token\":\"%s\"%s%s}}",
             token, audiences ? ",\"audiences\":" : "", audiences ? audiences : "");
    tc_response r;
    tc_request(U, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", "application/json", body,
               who, &r);
    ck_assert_msg(r.status == 201, "%ld: %s", r.status, r.body ? r.body : "");
    ck_assert_str_eq(jstr(r.json, "kind"), "TokenReview");
    ck_assert_str_eq(jstr(json_object_get(r.json, "spec"), "token"), token);
    json_t *status = json_incref(json_object_get(r.json, "status"));
    tc_free(&r);
    return status;
}

START_TEST(token_reviews_say_who_a_token_is)
{
    static const char path[] = "/apis/authentication.k8s.io/v1/tokenreviews";
    static const char api_audience[] = "https://kubernetes.default.svc.cluster.local";
    /* creating one needs create tokenreviews, as system:auth-delegator gives */
    expect(AS("bob"), "POST", path,
           "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":"
           "{\"token\":\"alice-token\"}}",
           403,
           "tokenreviews.authentication.k8s.io is forbidden: User \"bob\" cannot create resource "
           "\"tokenreviews\" in API group \"authentication.k8s.io\" at the cluster scope");
    bind(NULL, "bob-delegates", "ClusterRole", "system:auth-delegator", "User", "bob", NULL);
    expect(AS("bob"), "POST", path,
           "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{}}",
           400, "token is required for TokenReview in authentication");
    expect(AS("bob"), "GET", path, NULL, 405, NULL);

    /* a static token: audience-agnostic, its uid and groups */
    json_t *st = review_token(AS("bob"), "alice-token", NULL);
    ck_assert(json_is_true(json_object_get(st, "authenticated")));
    json_t *user = json_object_get(st, "user");
    ck_assert_str_eq(jstr(user, "username"), "alice");
    ck_assert_str_eq(jstr(user, "uid"), "3");
    json_t *want_groups = json_pack("[s, s, s]", "dev", "qa", "system:authenticated");
    ck_assert(json_equal(json_object_get(user, "groups"), want_groups));
    json_decref(want_groups);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(st, "audiences"), 0)),
                     api_audience);
    json_decref(st);
    /* it holds for the server's own audience alone, as kube-apiserver wraps
     * its token file: a review for another audience finds nobody */
    st = review_token(AS("bob"), "alice-token", "[\"my-app\"]");
    ck_assert_ptr_null(json_object_get(st, "authenticated"));
    ck_assert_ptr_null(json_object_get(st, "error"));
    ck_assert_uint_eq(json_object_size(json_object_get(st, "user")), 0);
    json_decref(st);
    char both[160];
    snprintf(both, sizeof(both), "[\"my-app\", \"%s\"]", api_audience);
    st = review_token(AS("bob"), "alice-token", both);
    ck_assert(json_is_true(json_object_get(st, "authenticated")));
    ck_assert_uint_eq(json_array_size(json_object_get(st, "audiences")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(st, "audiences"), 0)),
                     api_audience);
    json_decref(st);

    /* an unknown token */
    st = review_token(AS("bob"), "nobody-token", NULL);
    ck_assert_ptr_null(json_object_get(st, "authenticated"));
    ck_assert_uint_eq(json_object_size(json_object_get(st, "user")), 0);
    ck_assert_str_eq(jstr(st, "error"), "invalid bearer token");
    json_decref(st);

    /* a service account token is for its audiences only */
    create_ns("demo");
    create("/api/v1/namespaces/demo/serviceaccounts",
           "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"robot\"}}");
    tc_response r;
    tc_request(U, "POST", "/api/v1/namespaces/demo/serviceaccounts/robot/token", "application/json",
               "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":"
               "{\"audiences\":[\"my-app\"]}}",
               AS("admin"), &r);
    ck_assert_int_eq(r.status, 201);
    char *token = strdup(jstr(json_object_get(r.json, "status"), "token"));
    tc_free(&r);
    tc_request(U, "GET", "/api/v1/namespaces/demo/serviceaccounts/robot", NULL, NULL, AS("admin"),
               &r);
    char *sa_uid = strdup(jstr(json_object_get(r.json, "metadata"), "uid"));
    tc_free(&r);
    st = review_token(AS("bob"), token, NULL);
    ck_assert_ptr_null(json_object_get(st, "authenticated"));
    ck_assert_str_eq(jstr(st, "error"),
                     "token audiences [\"my-app\"] is invalid for the target audiences "
                     "[\"https://kubernetes.default.svc.cluster.local\"]");
    json_decref(st);
    st = review_token(AS("bob"), token, "[\"other\", \"my-app\"]");
    ck_assert(json_is_true(json_object_get(st, "authenticated")));
    user = json_object_get(st, "user");
    ck_assert_str_eq(jstr(user, "username"), "system:serviceaccount:demo:robot");
    ck_assert_str_eq(jstr(user, "uid"), sa_uid);
    want_groups = json_pack("[s, s, s]", "system:serviceaccounts", "system:serviceaccounts:demo",
                            "system:authenticated");
    ck_assert(json_equal(json_object_get(user, "groups"), want_groups));
    json_decref(want_groups);
    json_t *cred = json_array_get(json_object_get(json_object_get(user, "extra"),
                                                  "authentication.kubernetes.io/credential-id"),
                                  0);
    ck_assert_msg(json_is_string(cred) && strncmp(json_string_value(cred), "JTI=", 4) == 0,
                  "credential id");
    ck_assert_uint_eq(json_array_size(json_object_get(st, "audiences")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(st, "audiences"), 0)),
                     "my-app");
    json_decref(st);
    free(token);
    free(sa_uid);

    /* whoami names the uid too, as kube-apiserver does */
    tc_request(U, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json",
               "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}",
               AS("alice"), &r);
    ck_assert_str_eq(jstr(json_object_get(json_object_get(r.json, "status"), "userInfo"), "uid"),
                     "3");
    tc_free(&r);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {bootstrap_policy_is_there_and_masters_may_do_anything,
                            bindings_grant_what_their_roles_allow_and_nothing_else,
                            service_accounts_are_subjects_with_their_groups,
                            impersonation_needs_the_impersonate_verb,
                            access_and_rules_reviews_answer_from_rbac,
                            writers_of_roles_and_bindings_may_not_escalate,
                            subject_access_reviews_ask_about_someone_else,
                            cluster_roles_aggregate_by_label,
                            rbac_names_are_path_segments,
                            token_reviews_say_who_a_token_is,
                            NULL};
    return kr_test_run_tests("testserver_rbac", "rbac", setup, teardown, 60, tests);
}
