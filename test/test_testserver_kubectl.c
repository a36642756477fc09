/* Acceptance: a scripted session of the real kubectl (v1.32) against the
 * kr-apiserver program over TLS with a bearer token, comparing kubectl's
 * output with what a real apiserver makes it print. Skips loudly when
 * kubectl or openssl (for the test certificate) is absent. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_certs.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"

static char dir[256];
static char url[256];
static kr_test_proc server;
static bool skipping;

/* Run a shell command; returns its combined output (static buffer). */
static const char *run(const char *cmd, int *status)
{
    static char out[65536];
    char full[8192];
    snprintf(full, sizeof(full), "cd %s && export KUBECONFIG=%s/kc.yaml && { %s; } 2>&1", dir, dir,
             cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    if (status)
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static const char *kubectl(const char *args, int *status)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "kubectl --cache-dir=%s/cache --request-timeout=20s %s", dir, args);
    return run(cmd, status);
}

static void expect(const char *args, const char *want)
{
    int st;
    const char *got = kubectl(args, &st);
    ck_assert_msg(strcmp(got, want) == 0, "kubectl %s:\n got: [%s]\nwant: [%s]", args, got, want);
}

/* Start kubectl with `args` (NULL-terminated) in the background, its
 * output (stdout and stderr) in DIR/`out`. */
static void start_kubectl(kr_test_proc *p, const char *out, const char *const *args)
{
    char kc[300], cache[300], log[300];
    snprintf(kc, sizeof(kc), "%s/kc.yaml", dir);
    snprintf(cache, sizeof(cache), "--cache-dir=%s/cache", dir);
    snprintf(log, sizeof(log), "%s/%s", dir, out);
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1] = {"/usr/bin/env", "kubectl", "--kubeconfig", kc,
                                                   cache};
    size_t n = 5;
    for (; *args && n < KR_TEST_PROC_MAX_ARGS; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    kr_test_proc_start(p, log, argv);
}

/* Wait for a kubectl of start_kubectl to end; its output (new, free()). */
static char *kubectl_output(kr_test_proc *p)
{
    ck_assert_msg(kr_test_proc_wait(p, 60000) >= 0, "kubectl did not end");
    char *text = kr_test_proc_log_text(p);
    kr_test_proc_free(p);
    return text;
}

/* Start kr-apiserver over TLS with the two tokens of every test, or with
 * `rbac_tokens` (a token file) and RBAC authorization. */
static void start_server(const char *rbac_tokens)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 "
             "-subj /CN=kr-apiserver -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1");
    int st;
    run(cmd, &st);
    ck_assert_int_eq(st, 0);
    char cert[300], key[300], kc[300], log[300];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(kc, sizeof(kc), "%s/kc.yaml", dir);
    snprintf(log, sizeof(log), "%s/kr-apiserver.log", dir);
    const char *flags[] = {"--tls-cert",
                           cert,
                           "--tls-key",
                           key,
                           "--bookmark-interval",
                           "1",
                           "--kubeconfig-out",
                           kc,
                           "--token",
                           "s3cret:admin",
                           "--token",
                           "r3ad:reader:get,list,watch",
                           NULL};
    char tokens[300];
    if (rbac_tokens) {
        kr_test_write_file(dir, "tokens.csv", rbac_tokens);
        snprintf(tokens, sizeof(tokens), "%s/tokens.csv", dir);
        flags[8] = "--token-auth-file";
        flags[9] = tokens;
        flags[10] = "--authorization-mode";
        flags[11] = "RBAC";
    }
    kr_test_proc_start_apiserver(&server, log, flags, url, sizeof(url), 30000);
    ck_assert_int_eq(strncmp(url, "https://127.0.0.1:", 18), 0);
}

static void setup(void)
{
    skipping = !kr_test_have_program("kubectl") || !kr_test_have_program("openssl");
    if (skipping) {
        return;
    }
    ck_assert(kr_test_tmpdir_make(dir, sizeof(dir), "kr-kubectl"));
    start_server(NULL);
    kr_test_write_file(dir, "ns.yaml",
                       "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n");
    expect("create -f ns.yaml", "namespace/demo created\n");
}

static void teardown(void)
{
    if (skipping)
        return;
    if (!kr_test_proc_running(&server)) {
        /* it died under the test: say how, with its last words */
        char *text = kr_test_proc_log_text(&server);
        size_t len = text ? strlen(text) : 0;
        fprintf(stderr, "kr-apiserver exited during the test; the end of its log:\n%s\n",
                text ? text + (len > 4000 ? len - 4000 : 0) : "(none)");
        free(text);
    }
    kr_test_proc_kill(&server, SIGTERM);
    kr_test_proc_free(&server);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#define SKIP_WITHOUT_KUBECTL()                                                                     \
    do {                                                                                           \
        if (skipping) {                                                                            \
            kr_test_skip(__func__, "kubectl or openssl is not on PATH");                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static const char *cm_yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"
                             "  namespace: demo\ndata:\n  a: \"1\"\n";

static const char *deploy_yaml =
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: demo\nspec:\n"
    "  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n"
    "      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n"
    "        image: nginx:1.27\n";

START_TEST(kubectl_creates_gets_and_lists)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "cm.yaml", cm_yaml);
    kr_test_write_file(dir, "deploy.yaml", deploy_yaml);
    expect("create -f cm.yaml", "configmap/app created\n");
    expect("create -f deploy.yaml", "deployment.apps/web created\n");
    expect("-n demo get cm app -o jsonpath={.data.a}", "1");
    expect("-n demo get cm,deploy -o name", "configmap/app\ndeployment.apps/web\n");
    expect("-n demo get deploy web -o jsonpath={.metadata.generation}", "1");
    expect("-n demo get cm nope", "Error from server (NotFound): configmaps \"nope\" not found\n");
    expect("create -f cm.yaml",
           "Error from server (AlreadyExists): error when creating \"cm.yaml\": configmaps "
           "\"app\" already exists\n");
    expect("get ns demo -o jsonpath={.status.phase}", "Active");
    /* a lower-case kind: kubectl finds the resource, the server's scheme
     * does not know the kind */
    kr_test_write_file(dir, "lower.yaml",
                       "apiVersion: v1\nkind: configmap\nmetadata:\n  name: lower\n"
                       "  namespace: demo\n");
    expect("create -f lower.yaml",
           "Error from server (BadRequest): error when creating \"lower.yaml\": configmap in "
           "version \"v1\" cannot be handled as a ConfigMap: no kind \"configmap\" is "
           "registered for version \"v1\" in scheme \"pkg/api/legacyscheme/scheme.go:30\"\n");
}
END_TEST

START_TEST(kubectl_rejects_a_bad_token)
{
    SKIP_WITHOUT_KUBECTL();
    expect("--token=wrong get cm", "error: You must be logged in to the server (Unauthorized)\n");
}
END_TEST

START_TEST(kubectl_apply_twice_with_a_change)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "cm.yaml", cm_yaml);
    expect("apply -f cm.yaml", "configmap/app created\n");
    kr_test_write_file(dir, "cm.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"
                       "  namespace: demo\ndata:\n  a: \"2\"\n  b: \"3\"\n");
    /* diff: a dry-run patch answers at the live resourceVersion, so only
     * the data differs */
    int st;
    const char *diff = kubectl("diff -f cm.yaml", &st);
    ck_assert_msg(st == 1 && strstr(diff, "+  b: \"3\"") && !strstr(diff, "resourceVersion"),
                  "kubectl diff exited %d:\n%s", st, diff);
    expect("apply -f cm.yaml", "configmap/app configured\n");
    expect("diff -f cm.yaml", "");
    expect("apply -f cm.yaml", "configmap/app unchanged\n");
    expect("-n demo get cm app -o jsonpath={.data}", "{\"a\":\"2\",\"b\":\"3\"}");
    kr_test_write_file(dir, "deploy.yaml", deploy_yaml);
    expect("apply -f deploy.yaml", "deployment.apps/web created\n");
}
END_TEST

START_TEST(kubectl_server_side_apply)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "cm.yaml", cm_yaml);
    expect("apply --server-side -f cm.yaml", "configmap/app serverside-applied\n");
    kr_test_write_file(dir, "cm.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"
                       "  namespace: demo\ndata:\n  a: \"5\"\n");
    expect("apply --server-side --force-conflicts -f cm.yaml",
           "configmap/app serverside-applied\n");
    expect("-n demo get cm app -o jsonpath={.data.a}", "5");
    expect("-n demo get cm app -o jsonpath={.metadata.managedFields[0].operation}", "Apply");

    /* Field ownership: kubectl scale takes spec.replicas, so the next apply
     * of another count conflicts, in kube-apiserver's words. */
    kr_test_write_file(dir, "deploy.yaml", deploy_yaml);
    expect("apply --server-side -f deploy.yaml", "deployment.apps/web serverside-applied\n");
    expect("-n demo scale deploy web --replicas 3", "deployment.apps/web scaled\n");
    int st;
    const char *out = kubectl("apply --server-side -f deploy.yaml", &st);
    ck_assert_msg(st != 0 && strstr(out, "Apply failed with 1 conflict: conflict with "
                                         "\"kubectl\" with subresource \"scale\" using "
                                         "apps/v1: .spec.replicas"),
                  "apply after scale exited %d:\n%s", st, out);
    expect("-n demo get deploy web -o jsonpath={.spec.replicas}", "3");
    expect("apply --server-side --force-conflicts -f deploy.yaml",
           "deployment.apps/web serverside-applied\n");
    expect("-n demo get deploy web -o jsonpath={.spec.replicas}", "1");
    /* the scale entry owned nothing else: it is gone */
    expect("-n demo get deploy web -o jsonpath={.metadata.managedFields[*].manager}", "kubectl");
    /* a label the applier stops applying goes */
    kr_test_write_file(dir, "labelled.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lab\n"
                       "  namespace: demo\n  labels: {a: \"1\", b: \"2\"}\n");
    expect("apply --server-side -f labelled.yaml", "configmap/lab serverside-applied\n");
    kr_test_write_file(dir, "labelled.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lab\n"
                       "  namespace: demo\n  labels: {a: \"1\"}\n");
    expect("apply --server-side -f labelled.yaml", "configmap/lab serverside-applied\n");
    expect("-n demo get cm lab -o jsonpath={.metadata.labels}", "{\"a\":\"1\"}");
    /* kubectl's client-side apply owns what it wrote, by its own manager */
    kr_test_write_file(dir, "csa.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\n"
                       "  namespace: demo\ndata:\n  a: \"1\"\n");
    expect("apply -f csa.yaml", "configmap/csa created\n");
    kr_test_write_file(dir, "csa.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\n"
                       "  namespace: demo\ndata:\n  a: \"2\"\n");
    out = kubectl("apply --server-side --field-manager=other -f csa.yaml", &st);
    ck_assert_msg(st != 0 && strstr(out, "conflict with \"kubectl-client-side-apply\" using "
                                         "v1: .data.a"),
                  "server-side apply over client-side apply exited %d:\n%s", st, out);
    /* kubectl itself takes over what its last client-side apply set and
     * nobody changed since, as kube-apiserver lets it */
    expect("apply --server-side -f csa.yaml", "configmap/csa serverside-applied\n");
    expect("-n demo get cm csa -o jsonpath={.data.a}", "2");
    /* kubectl's move from client-side to server-side apply is a patch of
     * managedFields alone: stored, so that a field the file drops later
     * is removed (it is not, while the client-side entry keeps it) */
    kr_test_write_file(dir, "mig.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mig\n"
                       "  namespace: demo\ndata:\n  x: \"1\"\n  z: \"2\"\n");
    expect("apply -f mig.yaml", "configmap/mig created\n");
    expect("apply --server-side -f mig.yaml", "configmap/mig serverside-applied\n");
    expect("-n demo get cm mig --show-managed-fields "
           "-o jsonpath={.metadata.managedFields[*].operation}",
           "Apply Apply");
    kr_test_write_file(dir, "mig.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mig\n"
                       "  namespace: demo\ndata:\n  x: \"1\"\n");
    expect("apply --server-side -f mig.yaml", "configmap/mig serverside-applied\n");
    expect("-n demo get cm mig -o jsonpath={.data}", "{\"x\":\"1\"}");
}
END_TEST

START_TEST(kubectl_patch_with_three_types)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "cm.yaml", cm_yaml);
    expect("create -f cm.yaml", "configmap/app created\n");
    expect("-n demo patch cm app -p {\\\"data\\\":{\\\"b\\\":\\\"2\\\"}}",
           "configmap/app patched\n");
    expect("-n demo patch cm app --type=merge -p {\\\"data\\\":{\\\"c\\\":\\\"3\\\"}}",
           "configmap/app patched\n");
    expect("-n demo patch cm app --type=json "
           "-p '[{\"op\":\"add\",\"path\":\"/data/d\",\"value\":\"4\"}]'",
           "configmap/app patched\n");
    expect("-n demo get cm app -o jsonpath={.data}",
           "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\"}");
    expect("-n demo patch cm app --type=json -p '[{\"op\":\"test\",\"path\":\"/data/a\","
           "\"value\":\"9\"}]' 2>&1 | grep -c 'The request is invalid'",
           "1\n");
}
END_TEST

START_TEST(kubectl_get_watch_sees_changes_by_another_kubectl)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "cm.yaml", cm_yaml);
    kr_test_proc watch;
    start_kubectl(&watch, "watch.out",
                  (const char *[]){"-n", "demo", "get", "cm", "-w", "--output-watch-events", "-o",
                                   "custom-columns=EVENT:.type,NAME:.object.metadata.name,"
                                   "A:.object.data.a",
                                   NULL});
    /* The watch is open once the server counts it. */
    int st;
    for (int i = 0; i < 200; i++) {
        char q[512];
        snprintf(q, sizeof(q), "curl -sk -H 'Authorization: Bearer s3cret' %s/_kr/stats", url);
        if (strstr(run(q, &st), "\"watches\":1"))
            break;
        usleep(50 * 1000);
    }
    expect("create -f cm.yaml", "configmap/app created\n");
    expect("-n demo patch cm app --type=merge -p {\\\"data\\\":{\\\"a\\\":\\\"2\\\"}}",
           "configmap/app patched\n");
    expect("-n demo delete cm app", "configmap \"app\" deleted\n");
    char q[512];
    snprintf(q, sizeof(q),
             "curl -sk -XPOST -H 'Authorization: Bearer s3cret' "
             "%s/_kr/close-watches >/dev/null",
             url);
    run(q, &st);
    char *out = kubectl_output(&watch);
    /* kubectl sizes the columns on the first row of a watch. */
    ck_assert_str_eq(out, "EVENT   NAME   A\n"
                          "ADDED   app    1\n"
                          "MODIFIED   app    2\n"
                          "DELETED    app    2\n");
    free(out);
}
END_TEST

START_TEST(kubectl_delete_waits_for_the_finalizer)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "held.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n"
                       "  namespace: demo\n  finalizers: [example.com/hold]\n");
    expect("create -f held.yaml", "configmap/held created\n");
    kr_test_proc del;
    start_kubectl(&del, "delete.out", (const char *[]){"-n", "demo", "delete", "cm", "held", NULL});
    int st;
    for (int i = 0; i < 200; i++) {
        if (strlen(kubectl("-n demo get cm held -o jsonpath={.metadata.deletionTimestamp}", &st)) >
            0)
            break;
        usleep(50 * 1000);
    }
    expect("-n demo get cm held -o jsonpath={.metadata.finalizers[0]}", "example.com/hold");
    expect("-n demo patch cm held --type=merge -p {\\\"metadata\\\":{\\\"finalizers\\\":null}}",
           "configmap/held patched\n");
    char *out = kubectl_output(&del);
    ck_assert_str_eq(out, "configmap \"held\" deleted\n");
    free(out);
    expect("-n demo get cm held", "Error from server (NotFound): configmaps \"held\" not found\n");
}
END_TEST

START_TEST(kubectl_pages_with_chunk_size)
{
    SKIP_WITHOUT_KUBECTL();
    /* Separate documents, as a user writes them. */
    char list[8192] = "";
    for (int i = 0; i < 10; i++) {
        char item[256];
        snprintf(item, sizeof(item),
                 "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d, namespace: demo}\n",
                 i);
        strcat(list, item);
    }
    kr_test_write_file(dir, "list.yaml", list);
    int st;
    kubectl("create -f list.yaml", &st);
    ck_assert_int_eq(st, 0);
    expect("-n demo get cm --chunk-size=2 -o name",
           "configmap/c0\nconfigmap/c1\nconfigmap/c2\nconfigmap/c3\nconfigmap/c4\n"
           "configmap/c5\nconfigmap/c6\nconfigmap/c7\nconfigmap/c8\nconfigmap/c9\n");
    expect("-n demo get cm --chunk-size=2 -v=6 2>&1 | grep -c 'continue='", "4\n");
}
END_TEST

/* ---- kubectl's typed commands (protobuf bodies) ------------------------------- */

/* The fields the server sets on create: identity, bookkeeping, the
 * namespace from the URL, and the status the server owns. */
static void strip_server_fields(json_t *obj, bool keep_namespace)
{
    json_t *md = json_object_get(obj, "metadata");
    static const char *const set[] = {"uid", "resourceVersion", "creationTimestamp", "generation",
                                      "managedFields"};
    for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
        json_object_del(md, set[i]);
    if (!keep_namespace)
        json_object_del(md, "namespace");
    json_object_del(obj, "status");
}

static json_t *kubectl_json(const char *args)
{
    int st;
    const char *out = kubectl(args, &st);
    ck_assert_msg(st == 0, "kubectl %s failed:\n%s", args, out);
    json_error_t jerr;
    json_t *v = json_loads(out, 0, &jerr);
    ck_assert_msg(v != NULL, "kubectl %s printed no JSON (%s):\n%s", args, jerr.text, out);
    return v;
}

/* True when every field of `want` is in `got` with the same value (arrays
 * element by element): what the server added (defaults) is left out. */
static bool holds(const json_t *got, const json_t *want)
{
    if (json_is_object(want)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)want, key, value)
        {
            if (!json_is_object(got) || !holds(json_object_get(got, key), value))
                return false;
        }
        return true;
    }
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
            return false;
        for (size_t i = 0; i < json_array_size(want); i++)
            if (!holds(json_array_get(got, i), json_array_get(want, i)))
                return false;
        return true;
    }
    return got && json_equal(got, want);
}

/* Every generator subcommand of kubectl create, plus run and expose: the
 * object kr-apiserver stores (sent as protobuf) holds what the same
 * command prints with --dry-run=client -o json, apart from what the
 * server sets; what the server adds besides is its defaults. */
START_TEST(kubectl_typed_commands_store_what_dry_run_prints)
{
    SKIP_WITHOUT_KUBECTL();
    static const struct {
        const char *cmd, *tail; /* flags go between them (the tail follows --) */
    } cases[] = {
        {"create clusterrole cr1 --verb=get,list --resource=pods,deployments.apps", ""},
        {"create clusterrole logs --verb=get --non-resource-url=/logs/*", ""},
        {"create clusterrole agg --aggregation-rule=rbac.example.com/aggregate=true", ""},
        {"create clusterrolebinding crb1 --clusterrole=cr1 --user=alice --group=g "
         "--serviceaccount=demo:sa1",
         ""},
        {"create configmap cm1 --from-literal=a=1 --from-literal=b=two --from-file=cert.pem", ""},
        {"create cronjob cj1 --image=busybox '--schedule=*/5 * * * *' --restart=OnFailure",
         "-- echo hi"},
        {"create deployment dep1 --image=nginx --image=redis --replicas=2 --port=80", ""},
        {"create deployment dep0 --image=nginx --replicas=0", ""},
        {"create ingress ing1 --rule=foo.com/bar=svc1:8080,tls=my-cert --class=nginx "
         "--annotation=a=b --default-backend=defsvc:http",
         ""},
        {"create job job1 --image=busybox", "-- echo hi"},
        {"create job job2 --from=cronjob/cj1", ""},
        {"create namespace ns1", ""},
        {"create poddisruptionbudget pdb1 --selector=app=x --min-available=50%", ""},
        {"create poddisruptionbudget pdb2 --selector=app=y --max-unavailable=1", ""},
        {"create priorityclass pc1 --value=1000 --description=high --preemption-policy=Never", ""},
        {"create priorityclass pc0 --value=0 --global-default=true", ""},
        {"create quota q1 --hard=cpu=1,memory=1G,pods=2,requests.storage=1500m "
         "--scopes=BestEffort",
         ""},
        {"create role r1 --verb=get --resource=pods --resource-name=p1", ""},
        {"create rolebinding rb1 --role=r1 --user=bob --serviceaccount=demo:sa1", ""},
        {"create rolebinding rb2 --clusterrole=cr1 --group=devs", ""},
        {"create secret generic s1 --from-literal=k=v --from-file=key.pem --type=Opaque", ""},
        {"create secret tls s2 --cert=cert.pem --key=key.pem", ""},
        {"create secret docker-registry s3 --docker-server=reg.io --docker-username=u "
         "--docker-password=p --docker-email=e@x",
         ""},
        {"create service clusterip svc1 --tcp=80:8080 --tcp=443", ""},
        {"create service clusterip headless --clusterip=None", ""},
        {"create service nodeport svc2 --tcp=80:8080 --node-port=30080", ""},
        {"create service loadbalancer svc3 --tcp=443:8443", ""},
        {"create service externalname svc4 --external-name=example.com --tcp=53", ""},
        {"create serviceaccount sa1", ""},
        {"run pod1 --image=nginx --labels=app=web --port=80 --env=A=1 --restart=Never "
         "--image-pull-policy=IfNotPresent",
         "-- nginx -g 'daemon off;'"},
        {"expose deployment dep1 --name=exp1 --port=8080 --target-port=80", ""},
        {"expose pod pod1 --name=exp2 --port=80 --type=NodePort", ""},
    };
    size_t checked = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char args[2048];
        snprintf(args, sizeof(args), "-n demo %s --dry-run=client -o json %s", cases[i].cmd,
                 cases[i].tail);
        json_t *want = kubectl_json(args);
        snprintf(args, sizeof(args), "-n demo %s -o json %s", cases[i].cmd, cases[i].tail);
        json_decref(kubectl_json(args));
        const char *kind = json_string_value(json_object_get(want, "kind"));
        const char *av = json_string_value(json_object_get(want, "apiVersion"));
        const char *name =
            json_string_value(json_object_get(json_object_get(want, "metadata"), "name"));
        ck_assert_msg(kind && av && name, "case %zu: no kind, apiVersion or name", i);
        const char *slash = strchr(av, '/');
        char get[1024];
        snprintf(get, sizeof(get), "-n demo get %s%s%.*s %s -o json", kind, slash ? "." : "",
                 slash ? (int)(slash - av) : 0, av, name);
        json_t *got = kubectl_json(get);
        bool ns = json_object_get(json_object_get(want, "metadata"), "namespace") != NULL;
        strip_server_fields(want, ns);
        strip_server_fields(got, ns);
        if (!holds(got, want)) {
            char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
            char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
            ck_abort_msg("kubectl %s:\n stored:  %s\n dry run: %s", cases[i].cmd, g, w);
        }
        json_decref(want);
        json_decref(got);
        checked++;
    }
    printf("kubectl typed commands: %zu stored objects equal their dry run\n", checked);
}
END_TEST

/* Client-side validation finds every kind the server serves (OpenAPI v3
 * with fieldValidation), so apply works for each of them. */
START_TEST(kubectl_apply_validates_quota_and_priorityclass)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "q.yaml",
                       "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: "
                       "demo}\nspec:\n  hard: {pods: \"3\"}\n");
    kr_test_write_file(dir, "pc.yaml",
                       "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: "
                       "{name: pc}\nvalue: 10\n");
    expect("apply -f q.yaml", "resourcequota/q created\n");
    expect("apply -f pc.yaml", "priorityclass.scheduling.k8s.io/pc created\n");
    /* A List is validated on the client against OpenAPI v2. */
    kr_test_write_file(dir, "bad.yaml",
                       "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: "
                       "ConfigMap\n  metadata: {name: bad, namespace: demo}\n  madeUp: 1\n");
    int st;
    const char *out = kubectl("apply -f bad.yaml", &st);
    ck_assert_msg(st != 0 &&
                      strstr(out, "unknown field \"madeUp\" in io.k8s.api.core.v1.ConfigMap"),
                  "%s", out);
    /* explain reads the v3 schemas, and the v2 ones on request. */
    out = kubectl("explain priorityclass.value", &st);
    ck_assert_msg(st == 0 && strstr(out, "FIELD: value <integer>"), "%s", out);
    out = kubectl("explain --output=plaintext-openapiv2 resourcequota.spec.hard", &st);
    ck_assert_msg(st == 0 && strstr(out, "FIELD:    hard <map[string]string>"), "%s", out);
}
END_TEST

/* The text up to the first digit of the age at the end of each line:
 * ages change while the test runs, the rest does not. */
static void expect_table(const char *args, const char *want)
{
    int st;
    const char *got = kubectl(args, &st);
    char trimmed[4096] = "";
    for (const char *line = got; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t keep = len;
        while (keep > 0 && line[keep - 1] != ' ') /* the age is the last word */
            keep--;
        if (strncmp(line, "NAME", 4) == 0)
            keep = len;
        size_t at = strlen(trimmed);
        snprintf(trimmed + at, sizeof(trimmed) - at, "%.*s\n", (int)keep, line);
        line = nl ? nl + 1 : line + len;
    }
    ck_assert_msg(st == 0 && strcmp(trimmed, want) == 0, "kubectl %s:\n got: [%s]\nwant: [%s]",
                  args, got, want);
}

START_TEST(kubectl_get_prints_the_servers_columns)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "cm.yaml", cm_yaml);
    expect("create -f cm.yaml", "configmap/app created\n");
    expect_table("-n demo get cm", "NAME   DATA   AGE\napp    1      \n");
    kr_test_write_file(dir, "deploy.yaml", deploy_yaml);
    expect("create -f deploy.yaml", "deployment.apps/web created\n");
    int st;
    const char *out = kubectl("-n demo get deploy -o wide", &st);
    static const char header[] = "NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   "
                                 "IMAGES       SELECTOR\n";
    ck_assert_msg(st == 0 && strncmp(out, header, strlen(header)) == 0 &&
                      strstr(out, "   web          nginx:1.27   app=web\n"),
                  "%s", out);
    /* pods: created Pending, then what their status says */
    expect("-n demo run p1 --image=nginx", "pod/p1 created\n");
    expect("-n demo run p2 --image=nginx", "pod/p2 created\n");
    expect("-n demo patch pod p2 --subresource=status --type=merge "
           "-p '{\"status\":{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"10.1.2.3\"}],"
           "\"containerStatuses\":[{\"name\":\"p2\",\"image\":\"nginx\",\"imageID\":\"\","
           "\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}}'",
           "pod/p2 patched\n");
    expect_table("-n demo get pods", "NAME   READY   STATUS    RESTARTS   AGE\n"
                                     "p1     0/1     Pending   0          \n"
                                     "p2     1/1     Running   0          \n");
    /* logs: the container is checked; without a kubelet the log is empty */
    expect("-n demo logs p1", "");
    out = kubectl("-n demo logs p1 -c nope", &st);
    ck_assert_msg(st != 0 && strstr(out, "container nope is not valid for pod p1"), "%s", out);
    out = kubectl("-n demo get pod p2 -o wide", &st);
    static const char pod_header[] =
        "NAME   READY   STATUS    RESTARTS   AGE   IP         NODE     "
        "NOMINATED NODE   READINESS GATES\n";
    ck_assert_msg(st == 0 && strncmp(out, pod_header, strlen(pod_header)) == 0 &&
                      strstr(out, "   10.1.2.3   <none>   <none>           <none>\n"),
                  "%s", out);
    /* kinds without a printer: the default convertor's name and creation
     * time; an empty list of a cluster-scoped kind is not "in" a namespace */
    expect("-n demo create role reader --verb=get --resource=pods",
           "role.rbac.authorization.k8s.io/reader created\n");
    out = kubectl("-n demo get roles", &st);
    ck_assert_msg(st == 0 && strncmp(out, "NAME     CREATED AT\nreader   20", 23) == 0, "%s", out);
    expect("-n demo get runtimeclasses 2>&1", "No resources found\n");
    /* what kube-apiserver's bootstrap writes */
    out = kubectl("get priorityclasses", &st);
    ck_assert_msg(st == 0 &&
                      strstr(out, "\nsystem-cluster-critical   2000000000   false            ") &&
                      strstr(out, "\nsystem-node-critical      2000001000   false            ") &&
                      strstr(out, "   PreemptLowerPriority\n"),
                  "%s", out);
    out = kubectl("get apiservices v1. v1.apps", &st);
    static const char as_head[] = "NAME      SERVICE   AVAILABLE   AGE\nv1.       Local     True  ";
    ck_assert_msg(st == 0 && strncmp(out, as_head, strlen(as_head)) == 0 &&
                      strstr(out, "\nv1.apps   Local     True        "),
                  "%s", out);
    out = kubectl("explain apiservice.spec.service.port", &st);
    ck_assert_msg(st == 0 && strstr(out, "KIND:       APIService") &&
                      strstr(out, "FIELD: port <integer>"),
                  "%s", out);
    /* a CRD's printer columns: the Runnable of deploy/ */
    char crds[1024];
    kr_test_src_path(crds, sizeof(crds), "deploy/crds");
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "apply -f %s/runnables.kreconcile.io.yaml", crds);
    expect(cmd, "customresourcedefinition.apiextensions.k8s.io/runnables.kreconcile.io created\n");
    kr_test_write_file(dir, "rn.yaml",
                       "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata:\n"
                       "  name: r1\n  namespace: demo\nspec:\n  template:\n"
                       "    apiVersion: batch/v1\n    kind: Job\n    metadata: {name: j}\n");
    for (int i = 0; i < 100; i++) { /* the CRD is served once discovery shows it */
        if (strstr(kubectl("create -f rn.yaml 2>&1", &st), "runnable.kreconcile.io/r1 created"))
            break;
        usleep(100 * 1000);
    }
    expect("-n demo patch rn r1 --subresource=status --type=merge "
           "-p '{\"status\":{\"phase\":\"Running\",\"cluster\":\"dc1\",\"attempt\":2,"
           "\"submittedBy\":\"alice\"}}'",
           "runnable.kreconcile.io/r1 patched\n");
    expect_table("-n demo get rn", "NAME   PHASE     CLUSTER   ATTEMPT   SUBMITTED-BY   AGE\n"
                                   "r1     Running   dc1       2         alice          \n");
    /* the CRD's schema: kubectl asks for strict field validation, --validate=warn
     * gets the field pruned and a warning, and values are checked */
    kr_test_write_file(dir, "rn2.yaml",
                       "apiVersion: kreconcile.io/v1alpha1\nkind: Runnable\nmetadata:\n"
                       "  name: r2\n  namespace: demo\nspec:\n  template: {kind: Job}\n"
                       "  tmeplate: {kind: Job}\n");
    expect("create -f rn2.yaml 2>&1",
           "Error from server (BadRequest): error when creating \"rn2.yaml\": Runnable in version "
           "\"v1alpha1\" cannot be handled as a Runnable: strict decoding error: unknown field "
           "\"spec.tmeplate\"\n");
    expect("create -f rn2.yaml --validate=warn 2>&1",
           "Warning: unknown field \"spec.tmeplate\"\nrunnable.kreconcile.io/r2 created\n");
    expect("-n demo get rn r2 -o jsonpath='{.spec}'",
           "{\"failoverPolicy\":\"IfNotStarted\",\"template\":{\"kind\":\"Job\"}}");
    expect("-n demo patch rn r2 --type=merge -p '{\"spec\":{\"failoverPolicy\":\"Sometimes\"}}' "
           "2>&1",
           "The Runnable \"r2\" is invalid: spec.failoverPolicy: Unsupported value: "
           "\"Sometimes\": supported values: \"Never\", \"IfNotStarted\"\n");
    /* the CRD's schema in the OpenAPI v3 document: kubectl explain */
    expect("explain rn.spec.failoverPolicy",
           "GROUP:      kreconcile.io\nKIND:       Runnable\nVERSION:    v1alpha1\n\n"
           "FIELD: failoverPolicy <string>\nENUM:\n    Never\n    IfNotStarted\n\n"
           "DESCRIPTION:\n"
           "    IfNotStarted: when the chosen cluster is unreachable past --failover-after,\n"
           "    the next attempt goes to the next cluster (a copy that had not started is\n"
           "    deleted when the first returns). Never: wait for the chosen cluster.\n    \n\n");
    out = kubectl("explain rn.metadata", &st);
    ck_assert_msg(st == 0 && strstr(out, "FIELD: metadata <ObjectMeta>") &&
                      strstr(out, "  labels\t<map[string]string>"),
                  "%s", out);
    /* built-in kinds: the fields of their types */
    kr_test_write_file(dir, "cm-typo.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, namespace: demo}\n"
                       "dat: {a: b}\n");
    expect("create -f cm-typo.yaml 2>&1",
           "Error from server (BadRequest): error when creating \"cm-typo.yaml\": ConfigMap in "
           "version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field "
           "\"dat\"\n");
}
END_TEST

/* Kinds added after the first ones: created from a file, printed with
 * kube-apiserver's columns; the HPA in `get all`, its short name "hpa". */
START_TEST(kubectl_creates_and_prints_storage_ingress_and_hpa_kinds)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "more.yaml",
                       "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n"
                       "  name: fast\n  annotations:\n"
                       "    storageclass.kubernetes.io/is-default-class: \"true\"\n"
                       "provisioner: example.com/ssd\nallowVolumeExpansion: true\n---\n"
                       "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n"
                       "  name: nginx\nspec:\n  controller: k8s.io/ingress-nginx\n---\n"
                       "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n"
                       "  name: web\n  namespace: demo\nspec:\n  scaleTargetRef:\n"
                       "    apiVersion: apps/v1\n    kind: Deployment\n    name: web\n"
                       "  maxReplicas: 5\n");
    expect("create -f more.yaml", "storageclass.storage.k8s.io/fast created\n"
                                  "ingressclass.networking.k8s.io/nginx created\n"
                                  "horizontalpodautoscaler.autoscaling/web created\n");
    expect_table("get sc", "NAME             PROVISIONER       RECLAIMPOLICY   VOLUMEBINDINGMODE   "
                           "ALLOWVOLUMEEXPANSION   AGE\n"
                           "fast (default)   example.com/ssd   Delete          Immediate           "
                           "true                   \n");
    expect_table("get ingressclass", "NAME    CONTROLLER             PARAMETERS   AGE\n"
                                     "nginx   k8s.io/ingress-nginx   <none>       \n");
    expect_table("-n demo get hpa",
                 "NAME   REFERENCE        TARGETS              MINPODS   MAXPODS   REPLICAS   AGE\n"
                 "web    Deployment/web   cpu: <unknown>/80%   1         5         0          \n");
    expect("-n demo get all -o name", "horizontalpodautoscaler.autoscaling/web\n");
    /* kubectl autoscale writes autoscaling/v1; it is read back as v2 */
    expect("-n demo create deployment api --image=nginx", "deployment.apps/api created\n");
    expect("-n demo autoscale deployment api --max=4 --cpu-percent=60",
           "horizontalpodautoscaler.autoscaling/api autoscaled\n");
    expect("-n demo get hpa api -o jsonpath={.apiVersion}/{.spec.metrics[0].resource.target}",
           "autoscaling/v2/{\"averageUtilization\":60,\"type\":\"Utilization\"}");
    expect("-n demo get horizontalpodautoscalers.v1.autoscaling api -o "
           "jsonpath={.apiVersion}/{.spec.targetCPUUtilizationPercentage}",
           "autoscaling/v1/60");
    int st;
    const char *out = kubectl("patch sc fast -p '{\"reclaimPolicy\":\"Retain\"}' 2>&1", &st);
    ck_assert_msg(st != 0 && strstr(out, "reclaimPolicy: Forbidden: updates to reclaimPolicy are "
                                         "forbidden."),
                  "%s", out);
}
END_TEST

/* kubectl certificate approve writes /approval; kubectl scale a
 * ReplicationController writes its /scale. */
START_TEST(kubectl_exec_meets_no_kubelet)
{
    SKIP_WITHOUT_KUBECTL();
    expect("-n demo run p --image=busybox", "pod/p created\n");
    int st;
    const char *out = kubectl("-n demo exec p -- ls", &st);
    ck_assert_msg(st != 0 && strstr(out, "pod p does not have a host assigned"), "%s", out);
    out = kubectl("-n demo exec p -c nope -- ls", &st);
    ck_assert_msg(st != 0 && strstr(out, "container nope is not valid for pod p"), "%s", out);
    expect("auth can-i create pods/exec -n demo", "yes\n");
}
END_TEST

START_TEST(kubectl_creates_token_reviews)
{
    SKIP_WITHOUT_KUBECTL();
    expect("-n demo create sa bot", "serviceaccount/bot created\n");
    int st;
    const char *out = kubectl("-n demo create token bot --audience my-app", &st);
    ck_assert_msg(st == 0 && strncmp(out, "eyJ", 3) == 0, "%s", out);
    char token[4096];
    snprintf(token, sizeof(token), "%.*s", (int)strcspn(out, "\n"), out);
    char yaml[8192];
    snprintf(yaml, sizeof(yaml),
             "apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n  token: %s\n"
             "  audiences: [other, my-app]\n",
             token);
    kr_test_write_file(dir, "review.yaml", yaml);
    expect("create -f review.yaml -o "
           "jsonpath={.status.authenticated}/{.status.user.username}/{.status.audiences}",
           "true/system:serviceaccount:demo:bot/[\"my-app\"]");
    snprintf(yaml, sizeof(yaml),
             "apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec:\n  token: %s\n",
             token);
    kr_test_write_file(dir, "review.yaml", yaml);
    expect("create -f review.yaml -o jsonpath={.status.error}",
           "token audiences [\"my-app\"] is invalid for the target audiences "
           "[\"https://kubernetes.default.svc.cluster.local\"]");
    kr_test_write_file(dir, "review.yaml",
                       "apiVersion: authentication.k8s.io/v1\nkind: TokenReview\nspec: {}\n");
    out = kubectl("create -f review.yaml", &st);
    ck_assert_msg(st != 0 && strstr(out, "token is required for TokenReview in authentication"),
                  "%s", out);
    expect("api-resources --api-group=authentication.k8s.io -o name",
           "selfsubjectreviews.authentication.k8s.io\ntokenreviews.authentication.k8s.io\n");
}
END_TEST

START_TEST(kubectl_approves_certificates_and_scales_replication_controllers)
{
    SKIP_WITHOUT_KUBECTL();
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n"
             "  name: alice\nspec:\n  request: %s\n"
             "  signerName: kubernetes.io/kube-apiserver-client\n  expirationSeconds: 86400\n"
             "  usages: [client auth]\n---\n"
             "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: web\n"
             "  namespace: demo\nspec:\n  replicas: 2\n  template:\n    metadata:\n"
             "      labels: {app: web}\n    spec:\n"
             "      containers: [{name: c, image: nginx:1}]\n",
             CSR_GOOD);
    kr_test_write_file(dir, "csr.yaml", yaml);
    expect("create -f csr.yaml", "certificatesigningrequest.certificates.k8s.io/alice created\n"
                                 "replicationcontroller/web created\n");
    expect("certificate approve alice",
           "certificatesigningrequest.certificates.k8s.io/alice approved\n");
    expect("get csr alice -o jsonpath={.status.conditions[0].type}/"
           "{.status.conditions[0].reason}",
           "Approved/KubectlApprove");
    int st;
    const char *out = kubectl("get csr", &st);
    ck_assert_msg(strstr(out, "kubernetes.io/kube-apiserver-client") && strstr(out, "   24h   ") &&
                      strstr(out, "Approved\n"),
                  "%s", out);
    out = kubectl("certificate deny alice 2>&1", &st);
    ck_assert_msg(st != 0 && strstr(out, "already Approved"), "%s", out);

    expect("-n demo scale rc web --replicas=5", "replicationcontroller/web scaled\n");
    expect_table("-n demo get rc", "NAME   DESIRED   CURRENT   READY   AGE\n"
                                   "web    5         0         0       \n");
    expect("-n demo get rc web -o jsonpath={.spec.selector.app}/{.metadata.labels.app}", "web/web");
}
END_TEST

/* kubectl describe lists the object's events by involvedObject.* field
 * selectors. */
START_TEST(kubectl_describe_shows_the_events_of_an_object)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "cm.yaml", cm_yaml);
    expect("create -f cm.yaml", "configmap/app created\n");
    int st;
    const char *uid = kubectl("-n demo get cm app -o jsonpath={.metadata.uid}", &st);
    ck_assert_int_eq(st, 0);
    char ev[1024];
    snprintf(ev, sizeof(ev),
             "apiVersion: v1\nkind: Event\nmetadata: {name: app.1, namespace: demo}\n"
             "involvedObject: {kind: ConfigMap, namespace: demo, name: app, uid: \"%s\","
             " apiVersion: v1}\nreason: Synced\nmessage: copied to dc1\ntype: Normal\n"
             "source: {component: kr-syncer}\ncount: 1\n",
             uid);
    kr_test_write_file(dir, "ev.yaml", ev);
    expect("create -f ev.yaml", "event/app.1 created\n");
    const char *out = kubectl("-n demo describe cm app", &st);
    ck_assert_msg(st == 0 && strstr(out, "Events:\n") && strstr(out, "Normal  Synced") &&
                      strstr(out, "kr-syncer  copied to dc1"),
                  "%s", out);
    /* and kubectl get events prints the server's columns */
    expect("-n demo get events", "LAST SEEN   TYPE     REASON   OBJECT          MESSAGE\n"
                                 "<unknown>   Normal   Synced   configmap/app   copied to dc1\n");
}
END_TEST

START_TEST(kubectl_auth_can_i_and_whoami)
{
    SKIP_WITHOUT_KUBECTL();
    expect("auth can-i create configmaps", "yes\n");
    expect("--token=r3ad auth can-i list configmaps", "yes\n");
    int st;
    const char *out = kubectl("--token=r3ad auth can-i delete configmaps -n demo", &st);
    ck_assert_msg(st == 1 && strncmp(out, "no", 2) == 0, "exit %d: %s", st, out);
    expect("auth whoami",
           "ATTRIBUTE   VALUE\nUsername    admin\nGroups      [system:authenticated]\n");
    /* kubectl create token asks for a TokenRequest; the token it prints
     * authenticates as the service account */
    expect("-n demo create sa bot", "serviceaccount/bot created\n");
    const char *token = kubectl("-n demo create token bot --duration=1h", &st);
    ck_assert_msg(st == 0 && strncmp(token, "eyJ", 3) == 0 && strchr(token, '.'), "%s", token);
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "--token=%.*s auth whoami", (int)strcspn(token, "\n"), token);
    /* as kube-apiserver names a service account: its uid and the token's
     * credential id too */
    out = kubectl(cmd, &st);
    ck_assert_msg(st == 0 && strstr(out, "system:serviceaccount:demo:bot\nUID ") &&
                      strstr(out, "[system:serviceaccounts system:serviceaccounts:demo "
                                  "system:authenticated]\n") &&
                      strstr(out, "Extra: authentication.kubernetes.io/credential-id   [JTI="),
                  "%s", out);
    out = kubectl("-n demo create token nobody 2>&1", &st);
    ck_assert_msg(st != 0 && strstr(out, "serviceaccounts \"nobody\" not found"), "%s", out);
    out = kubectl("-n demo create token bot --duration=5m 2>&1", &st);
    ck_assert_msg(st != 0 && strstr(out, "may not specify a duration less than 10 minutes"), "%s",
                  out);
    /* --list reads a SelfSubjectRulesReview */
    expect("auth can-i --list -n demo", "Resources   Non-Resource URLs   Resource Names   Verbs\n"
                                        "*.*         []                  []               [*]\n"
                                        "            [*]                 []               [*]\n");
    /* a token limited to some verbs keeps what every authenticated user may do */
    expect("--token=r3ad auth can-i --list -n demo",
           "Resources                                       Non-Resource URLs   Resource Names   "
           "Verbs\n"
           "selfsubjectreviews.authentication.k8s.io        []                  []               "
           "[create]\n"
           "selfsubjectaccessreviews.authorization.k8s.io   []                  []               "
           "[create]\n"
           "selfsubjectrulesreviews.authorization.k8s.io    []                  []               "
           "[create]\n"
           "*.*                                             []                  []               "
           "[get list watch]\n"
           "                                                [/api/*]            []               "
           "[get]\n"
           "                                                [/api]              []               "
           "[get]\n"
           "                                                [/apis/*]           []               "
           "[get]\n"
           "                                                [/apis]             []               "
           "[get]\n"
           "                                                [/healthz]          []               "
           "[get]\n"
           "                                                [/livez]            []               "
           "[get]\n"
           "                                                [/openapi/*]        []               "
           "[get]\n"
           "                                                [/openapi]          []               "
           "[get]\n"
           "                                                [/readyz]           []               "
           "[get]\n"
           "                                                [/version/]         []               "
           "[get]\n"
           "                                                [/version]          []               "
           "[get]\n");
}
END_TEST

/* kubectl against kr-apiserver --authorization-mode RBAC: the bootstrap
 * roles, a RoleBinding made by kubectl, can-i with --as (impersonation),
 * and the Forbidden errors a user without a binding sees. */
START_TEST(kubectl_auth_follows_rbac)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_proc_kill(&server, SIGTERM);
    kr_test_proc_free(&server);
    start_server("adm1n,admin,1,\"system:masters\"\nb0b,bob,2\n");
    expect("auth whoami", "ATTRIBUTE   VALUE\nUsername    admin\nUID         1\n"
                          "Groups      [system:masters system:authenticated]\n");
    expect("get clusterrolebindings -o wide --no-headers | awk '{print $1, $2, $4$5$6$7}'",
           "cluster-admin ClusterRole/cluster-admin system:masters\n"
           "system:basic-user ClusterRole/system:basic-user system:authenticated\n"
           "system:discovery ClusterRole/system:discovery system:authenticated\n"
           "system:monitoring ClusterRole/system:monitoring system:monitoring\n"
           "system:public-info-viewer ClusterRole/system:public-info-viewer "
           "system:authenticated,system:unauthenticated\n");
    expect("create ns demo", "namespace/demo created\n");
    int st;
    const char *out = kubectl("auth can-i list pods -n demo --as=bob", &st);
    ck_assert_msg(st == 1 && strncmp(out, "no", 2) == 0, "exit %d: %s", st, out);
    expect("-n demo create rolebinding bob-view --clusterrole=view --user=bob",
           "rolebinding.rbac.authorization.k8s.io/bob-view created\n");
    expect("auth can-i list pods -n demo --as=bob", "yes\n");
    out = kubectl("auth can-i get secrets -n demo --as=bob", &st);
    ck_assert_msg(st == 1 && strncmp(out, "no", 2) == 0, "exit %d: %s", st, out);
    expect("--token=b0b -n demo get pods", "No resources found in demo namespace.\n");
    out = kubectl("--token=b0b -n default get pods", &st);
    ck_assert_msg(st == 1 && strcmp(out, "Error from server (Forbidden): pods is forbidden: User "
                                         "\"bob\" cannot list resource \"pods\" in API group "
                                         "\"\" in the namespace \"default\"\n") == 0,
                  "exit %d: %s", st, out);
    out = kubectl("--token=b0b -n demo get pods --as=admin", &st);
    ck_assert_msg(st == 1 && strstr(out, "users \"admin\" is forbidden: User \"bob\" cannot "
                                         "impersonate resource \"users\""),
                  "exit %d: %s", st, out);
}
END_TEST

/* kubectl drain: evictions through pods/eviction, held back by a
 * disruption budget that allows one; --disable-eviction deletes with a
 * protobuf DeleteOptions body. */
START_TEST(kubectl_drain_evicts_within_the_disruption_budget)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "drain.yaml",
                       "apiVersion: v1\nkind: Node\nmetadata: {name: node1}\n---\n"
                       "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: demo, labels: "
                       "{app: web}}\nspec: {nodeName: node1, containers: [{name: c, image: x}]}\n"
                       "---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: demo, "
                       "labels: {app: web}}\nspec: {nodeName: node1, containers: [{name: c, "
                       "image: x}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: c, "
                       "namespace: demo}\nspec: {nodeName: node2, containers: [{name: c, image: "
                       "x}]}\n---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: "
                       "{name: web, namespace: demo}\nspec: {minAvailable: 1, selector: "
                       "{matchLabels: {app: web}}}\n");
    int st;
    const char *out = kubectl("apply -f drain.yaml", &st);
    ck_assert_msg(st == 0, "%s", out);
    expect("-n demo patch pod a --subresource=status --type=merge "
           "-p '{\"status\":{\"phase\":\"Running\"}}'",
           "pod/a patched\n");
    expect("-n demo patch pod b --subresource=status --type=merge "
           "-p '{\"status\":{\"phase\":\"Running\"}}'",
           "pod/b patched\n");
    expect("-n demo patch pdb web --subresource=status --type=merge "
           "-p '{\"status\":{\"disruptionsAllowed\":1,\"currentHealthy\":2,\"desiredHealthy\":1,"
           "\"expectedPods\":2}}'",
           "poddisruptionbudget.policy/web patched\n");
    /* one pod goes, the budget then holds the other */
    out = kubectl("drain node1 --force --timeout=3s", &st);
    ck_assert_msg(st != 0 && strstr(out, "node/node1 cordoned") &&
                      strstr(out, "Cannot evict pod as it would violate the pod's disruption "
                                  "budget."),
                  "%s", out);
    out = kubectl("-n demo get pods -o name", &st);
    ck_assert_msg(st == 0 &&
                      (strcmp(out, "pod/a\npod/c\n") == 0 || strcmp(out, "pod/b\npod/c\n") == 0),
                  "%s", out);
    expect("-n demo get pdb web -o jsonpath={.status.disruptionsAllowed}", "0");
    /* without evictions the budget is not asked */
    out = kubectl("drain node1 --force --disable-eviction --timeout=20s", &st);
    ck_assert_msg(st == 0 && strstr(out, "node/node1 drained"), "%s", out);
    expect("-n demo get pods -o name", "pod/c\n");
    expect("get node node1 -o jsonpath={.spec.unschedulable}", "true");
}
END_TEST

/* A create meets the storage after the strategy validated it and warned:
 * a taken name with an invalid object is the 422, and a taken name keeps
 * the strategy's warnings before the 409, as kubectl shows them. */
START_TEST(kubectl_create_of_a_taken_name_is_validated_and_warned_first)
{
    SKIP_WITHOUT_KUBECTL();
    kr_test_write_file(dir, "pod.yaml",
                       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  namespace: demo\n"
                       "spec:\n  containers:\n  - name: c\n    image: nginx\n"
                       "    ports: [{containerPort: 80}, {containerPort: 80}]\n");
    static const char warning[] = "Warning: spec.containers[0].ports[1]: duplicate port definition "
                                  "with spec.containers[0].ports[0]\n";
    char want[512];
    snprintf(want, sizeof(want), "%spod/p1 created\n", warning);
    expect("create -f pod.yaml", want);
    snprintf(want, sizeof(want),
             "%sError from server (AlreadyExists): error when creating \"pod.yaml\": pods \"p1\" "
             "already exists\n",
             warning);
    expect("create -f pod.yaml", want);
    kr_test_write_file(dir, "cm.yaml", cm_yaml);
    expect("create -f cm.yaml", "configmap/app created\n");
    kr_test_write_file(dir, "bad.yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"
                       "  namespace: demo\ndata:\n  \"bad key\": \"1\"\n");
    expect("create -f bad.yaml",
           "The ConfigMap \"app\" is invalid: data[bad key]: Invalid value: \"bad key\": a valid "
           "config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
           "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')\n");
}
END_TEST

int main(void)
{
    if (!kr_test_have_program("kubectl"))
        fprintf(stderr, "test_testserver_kubectl: SKIPPING every test: kubectl is not on PATH\n");
    const TTest *tests[] = {kubectl_creates_gets_and_lists,
                            kubectl_rejects_a_bad_token,
                            kubectl_apply_twice_with_a_change,
                            kubectl_server_side_apply,
                            kubectl_patch_with_three_types,
                            kubectl_get_watch_sees_changes_by_another_kubectl,
                            kubectl_delete_waits_for_the_finalizer,
                            kubectl_pages_with_chunk_size,
                            kubectl_typed_commands_store_what_dry_run_prints,
                            kubectl_apply_validates_quota_and_priorityclass,
                            kubectl_get_prints_the_servers_columns,
                            kubectl_creates_and_prints_storage_ingress_and_hpa_kinds,
                            kubectl_approves_certificates_and_scales_replication_controllers,
                            kubectl_creates_token_reviews,
                            kubectl_exec_meets_no_kubelet,
                            kubectl_auth_can_i_and_whoami,
                            kubectl_auth_follows_rbac,
                            kubectl_describe_shows_the_events_of_an_object,
                            kubectl_drain_evicts_within_the_disruption_budget,
                            kubectl_create_of_a_taken_name_is_validated_and_warned_first,
                            NULL};
    return kr_test_run_tests("testserver_kubectl", "kubectl", setup, teardown, 120, tests);
}
