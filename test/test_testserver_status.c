/* Tests of the in-memory apiserver's /status writes (PUT, merge patch and
 * server-side apply): a built-in kind's status strategy copies spec back
 * from the stored object and keeps the rest of the request (labels and
 * annotations written together with status persist, owned by the status
 * manager), less the metadata that kind's strategy resets (a pod's
 * ownerReferences, a deployment's labels, a VolumeAttachment's labels,
 * annotations, finalizers and owners); a custom resource's keeps nothing
 * but status. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_server.h"
#include "kreconcile.h"
#include "kreconcile/testserver.h"
#include "ts_client.h"

static kr_testserver_t *ts;
static const char *U;

static void setup(void)
{
    kr_testserver_opts o = {.seed = 11};
    ts = kr_test_server_start(&o, &U);
}

/* Send a request (a PATCH as a merge patch), check its status and return
 * the body it answered with. */
static json_t *send(const char *method, const char *path, const char *body, long status)
{
    tc_response r;
    if (strcmp(method, "PATCH") == 0)
        tc_request(U, method, path, "application/merge-patch+json", body, NULL, &r);
    else
        tc_json(U, method, path, body, &r);
    ck_assert_msg(r.status == status, "%s %s: %ld %s", method, path, r.status,
                  r.body ? r.body : "");
    json_t *out = json_incref(r.json);
    tc_free(&r);
    return out;
}

static const char *str(const json_t *obj, const char *path)
{
    return json_string_value(tc_dig(obj, path));
}

/* The fieldsV1 of obj's managedFields entry for the status subresource. */
static const json_t *status_fields(const json_t *obj)
{
    size_t i;
    const json_t *e;
    json_array_foreach(tc_dig(obj, "metadata.managedFields"), i, e)
    {
        const char *sub = json_string_value(json_object_get(e, "subresource"));
        if (sub && strcmp(sub, "status") == 0)
            return json_object_get(e, "fieldsV1");
    }
    return NULL;
}

#define PODS "/api/v1/namespaces/default/pods"
#define DEPLOYS "/apis/apps/v1/namespaces/default/deployments"

START_TEST(pod_status_keeps_labels_and_annotations_not_spec_or_owners)
{
    json_t *owner = send("POST", "/api/v1/namespaces/default/configmaps",
                         "{\"metadata\":{\"name\":\"owner\"}}", 201);
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"1\"},\"ownerReferences\":"
             "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"%s\"}]},"
             "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}",
             str(owner, "metadata.uid"));
    json_decref(owner);
    json_t *pod = send("POST", PODS, body, 201);
    ck_assert_ptr_nonnull(str(pod, "status.qosClass"));
    char *qos = strdup(str(pod, "status.qosClass"));
    json_decref(pod);

    /* a merge patch of status with labels, annotations, owners and spec */
    pod = send("PATCH", PODS "/p/status",
               "{\"metadata\":{\"labels\":{\"b\":\"2\"},\"annotations\":{\"x\":\"y\"},"
               "\"ownerReferences\":null,\"generation\":9},"
               "\"spec\":{\"activeDeadlineSeconds\":5},\"status\":{\"phase\":\"Running\"}}",
               200);
    ck_assert_str_eq(str(pod, "metadata.labels.a"), "1");
    ck_assert_str_eq(str(pod, "metadata.labels.b"), "2");
    ck_assert_str_eq(str(pod, "metadata.annotations.x"), "y");
    ck_assert_str_eq(str(pod, "metadata.ownerReferences.0.name"), "owner");
    ck_assert_ptr_null(tc_dig(pod, "spec.activeDeadlineSeconds"));
    ck_assert_ptr_null(tc_dig(pod, "metadata.generation"));
    ck_assert_str_eq(str(pod, "status.phase"), "Running");
    /* the status manager owns the metadata it changed */
    const json_t *owned = status_fields(pod);
    ck_assert_ptr_nonnull(tc_dig(owned, "f:metadata.f:labels.f:b"));
    ck_assert_ptr_nonnull(tc_dig(owned, "f:metadata.f:annotations.f:x"));
    ck_assert_ptr_nonnull(tc_dig(owned, "f:status.f:phase"));
    ck_assert_ptr_null(tc_dig(owned, "f:spec"));
    json_decref(pod);
    /* as stored */
    pod = send("GET", PODS "/p", NULL, 200);
    ck_assert_str_eq(str(pod, "metadata.labels.b"), "2");
    ck_assert_str_eq(str(pod, "metadata.annotations.x"), "y");

    /* a PUT of status: the labels it sends replace the stored ones; a
     * status without its QoS class keeps the stored one */
    json_object_set_new(json_object_get(pod, "metadata"), "labels", json_pack("{s:s}", "c", "3"));
    json_object_set_new(pod, "status", json_pack("{s:s}", "phase", "Succeeded"));
    char *text = json_dumps(pod, JSON_COMPACT);
    json_decref(pod);
    pod = send("PUT", PODS "/p/status", text, 200);
    free(text);
    ck_assert_str_eq(str(pod, "metadata.labels.c"), "3");
    ck_assert_ptr_null(tc_dig(pod, "metadata.labels.a"));
    ck_assert_str_eq(str(pod, "status.phase"), "Succeeded");
    ck_assert_str_eq(str(pod, "status.qosClass"), qos);
    free(qos);
    json_decref(pod);
}
END_TEST

START_TEST(deployment_status_resets_labels_keeps_annotations_and_finalizers)
{
    json_t *d = send("POST", DEPLOYS,
                     "{\"metadata\":{\"name\":\"d\",\"labels\":{\"app\":\"d\"}},\"spec\":{"
                     "\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"d\"}},"
                     "\"template\":{\"metadata\":{\"labels\":{\"app\":\"d\"}},\"spec\":{"
                     "\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}",
                     201);
    const char *rv0 = str(d, "metadata.resourceVersion");
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", rv0);
    json_decref(d);
    d = send("PATCH", DEPLOYS "/d/status",
             "{\"metadata\":{\"labels\":{\"other\":\"1\"},\"annotations\":{\"note\":\"n\"},"
             "\"finalizers\":[\"example.com/hold\"]},\"spec\":{\"replicas\":5},"
             "\"status\":{\"observedGeneration\":1,\"replicas\":1}}",
             200);
    ck_assert_str_eq(str(d, "metadata.labels.app"), "d");
    ck_assert_ptr_null(tc_dig(d, "metadata.labels.other"));
    ck_assert_str_eq(str(d, "metadata.annotations.note"), "n");
    ck_assert_str_eq(str(d, "metadata.finalizers.0"), "example.com/hold");
    ck_assert_int_eq(json_integer_value(tc_dig(d, "spec.replicas")), 1);
    ck_assert_int_eq(json_integer_value(tc_dig(d, "metadata.generation")), 1);
    ck_assert_int_eq(json_integer_value(tc_dig(d, "status.replicas")), 1);
    ck_assert_str_ne(str(d, "metadata.resourceVersion"), rv);
    const json_t *owned = status_fields(d);
    ck_assert_ptr_nonnull(tc_dig(owned, "f:metadata.f:annotations.f:note"));
    ck_assert_ptr_null(tc_dig(owned, "f:metadata.f:labels"));
    ck_assert_ptr_nonnull(tc_dig(owned, "f:status.f:replicas"));
    json_decref(d);
    /* an annotation alone is a change of its own */
    d = send("GET", DEPLOYS "/d", NULL, 200);
    snprintf(rv, sizeof(rv), "%s", str(d, "metadata.resourceVersion"));
    json_decref(d);
    d = send("PATCH", DEPLOYS "/d/status", "{\"metadata\":{\"annotations\":{\"note\":\"m\"}}}",
             200);
    ck_assert_str_eq(str(d, "metadata.annotations.note"), "m");
    ck_assert_str_ne(str(d, "metadata.resourceVersion"), rv);
    json_decref(d);
    /* server-side apply to /status: the same rules */
    tc_response r;
    tc_request(U, "PATCH", DEPLOYS "/d/status?fieldManager=ctl", "application/apply-patch+yaml",
               "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
               "\"name\":\"d\",\"labels\":{\"y\":\"2\"},\"annotations\":{\"applied\":"
               "\"yes\"}},\"status\":{\"observedGeneration\":1}}",
               NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    ck_assert_ptr_null(tc_dig(r.json, "metadata.labels.y"));
    ck_assert_str_eq(str(r.json, "metadata.annotations.applied"), "yes");
    tc_free(&r);
    /* a spec-only kind keeps the labels too: a namespace */
    json_decref(send("POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"ns1\"}}", 201));
    json_t *ns = send("PATCH", "/api/v1/namespaces/ns1/status",
                      "{\"metadata\":{\"labels\":{\"team\":\"t\"}},\"spec\":{\"finalizers\":[]},"
                      "\"status\":{\"phase\":\"Active\"}}",
                      200);
    ck_assert_str_eq(str(ns, "metadata.labels.team"), "t");
    ck_assert_str_eq(str(ns, "spec.finalizers.0"), "kubernetes");
    json_decref(ns);
}
END_TEST

/* VolumeAttachment's status strategy resets metadata as
 * ResetObjectMetaForStatus does: labels, annotations, finalizers and
 * ownerReferences all stay as stored. */
START_TEST(volumeattachment_status_resets_its_object_meta)
{
    static const char vas[] = "/apis/storage.k8s.io/v1/volumeattachments";
    json_decref(send("POST", vas,
                     "{\"metadata\":{\"name\":\"va\",\"labels\":{\"a\":\"1\"}},\"spec\":{"
                     "\"attacher\":\"csi.example.com\",\"nodeName\":\"n1\",\"source\":{"
                     "\"persistentVolumeName\":\"pv1\"}}}",
                     201));
    json_t *va = send("PATCH", "/apis/storage.k8s.io/v1/volumeattachments/va/status",
                      "{\"metadata\":{\"labels\":{\"a\":\"2\"},\"annotations\":{\"x\":\"y\"},"
                      "\"finalizers\":[\"example.com/f\"]},\"spec\":{\"nodeName\":\"n2\"},"
                      "\"status\":{\"attached\":true}}",
                      200);
    ck_assert_str_eq(str(va, "metadata.labels.a"), "1");
    ck_assert_ptr_null(tc_dig(va, "metadata.annotations"));
    ck_assert_ptr_null(tc_dig(va, "metadata.finalizers"));
    ck_assert_str_eq(str(va, "spec.nodeName"), "n1");
    ck_assert(json_is_true(tc_dig(va, "status.attached")));
    ck_assert_ptr_null(tc_dig(status_fields(va), "f:metadata"));
    json_decref(va);
}
END_TEST

/* A PersistentVolume's status says when its phase was set: at create
 * (Pending), at each phase its status takes, unless the writer sets a time
 * of its own; a write that keeps the phase keeps the time. */
START_TEST(persistentvolume_phase_changes_carry_their_time)
{
    json_t *pv = send("POST", "/api/v1/persistentvolumes",
                      "{\"metadata\":{\"name\":\"pv1\"},\"spec\":{\"capacity\":{\"storage\":"
                      "\"1Gi\"},\"accessModes\":[\"ReadWriteOnce\"],\"hostPath\":{\"path\":"
                      "\"/tmp/pv1\"}}}",
                      201);
    ck_assert_str_eq(str(pv, "status.phase"), "Pending");
    ck_assert_ptr_nonnull(str(pv, "status.lastPhaseTransitionTime"));
    json_decref(pv);
    pv = send("PATCH", "/api/v1/persistentvolumes/pv1/status",
              "{\"status\":{\"phase\":\"Available\",\"lastPhaseTransitionTime\":null}}", 200);
    ck_assert_str_eq(str(pv, "status.phase"), "Available");
    const char *at = str(pv, "status.lastPhaseTransitionTime");
    ck_assert_msg(at && strlen(at) == 20 && at[19] == 'Z', "%s", at ? at : "(none)");
    json_decref(pv);
    pv = send("PATCH", "/api/v1/persistentvolumes/pv1/status",
              "{\"status\":{\"phase\":\"Bound\",\"lastPhaseTransitionTime\":"
              "\"2020-01-02T03:04:05Z\"}}",
              200);
    ck_assert_str_eq(str(pv, "status.lastPhaseTransitionTime"), "2020-01-02T03:04:05Z");
    json_decref(pv);
    pv = send("PATCH", "/api/v1/persistentvolumes/pv1/status",
              "{\"status\":{\"message\":\"same phase\"}}", 200);
    ck_assert_str_eq(str(pv, "status.lastPhaseTransitionTime"), "2020-01-02T03:04:05Z");
    json_decref(pv);
}
END_TEST

static const char *crd_body =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
    "\"kind\":\"Widget\"},\"versions\":[{\"name\":\"v1\",\"served\":true,"
    "\"storage\":true,\"subresources\":{\"status\":{}},"
    "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":"
    "true}}}]}}";

START_TEST(custom_resource_status_keeps_only_status)
{
    static const char widgets[] = "/apis/example.com/v1/namespaces/default/widgets";
    json_decref(
        send("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd_body, 201));
    json_decref(send("POST", widgets,
                     "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{"
                     "\"name\":\"w\",\"labels\":{\"a\":\"1\"}},\"spec\":{\"size\":1}}",
                     201));
    json_t *w = send("PATCH", "/apis/example.com/v1/namespaces/default/widgets/w/status",
                     "{\"metadata\":{\"labels\":{\"a\":\"2\"},\"annotations\":{\"x\":\"y\"}},"
                     "\"spec\":{\"size\":2},\"status\":{\"ready\":true}}",
                     200);
    ck_assert_str_eq(str(w, "metadata.labels.a"), "1");
    ck_assert_ptr_null(tc_dig(w, "metadata.annotations"));
    ck_assert_int_eq(json_integer_value(tc_dig(w, "spec.size")), 1);
    ck_assert(json_is_true(tc_dig(w, "status.ready")));
    json_decref(w);
    /* the CRD's own status strategy resets no metadata (its finalizers are
     * removed through it), though the status manager owns none of it */
    json_t *crd =
        send("PATCH",
             "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com/status",
             "{\"metadata\":{\"labels\":{\"team\":\"t\"}},\"spec\":{\"scope\":\"Cluster\"}}", 200);
    ck_assert_str_eq(str(crd, "metadata.labels.team"), "t");
    ck_assert_str_eq(str(crd, "spec.scope"), "Namespaced");
    ck_assert_ptr_null(tc_dig(status_fields(crd), "f:metadata"));
    json_decref(crd);
}
END_TEST

int main(void)
{
    const TTest *tests[] = {pod_status_keeps_labels_and_annotations_not_spec_or_owners,
                            deployment_status_resets_labels_keeps_annotations_and_finalizers,
                            volumeattachment_status_resets_its_object_meta,
                            custom_resource_status_keeps_only_status,
                            persistentvolume_phase_changes_carry_their_time,
                            NULL};
    return kr_test_run_tests("testserver_status", "status", setup, kr_test_server_stop, 0, tests);
}
