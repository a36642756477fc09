/* libkreconcile-testserver — conversion between the versions of a built-in
 * kind served from one store (wire spec §8): HorizontalPodAutoscalers are
 * stored as autoscaling/v2 and also served as autoscaling/v1, as
 * kube-apiserver converts them. v1 has one CPU utilization target; what it
 * cannot hold (other metrics, current metrics, behavior, conditions) rides
 * in the annotations kube-apiserver uses, so that v2 → v1 → v2 loses
 * nothing. Metrics other than CPU utilization are kept in those annotations
 * in their v2 form (kube-apiserver writes them in v1's older metric form). */
#include <string.h>

#include "testserver/ts_internal.h"

#define ANN_METRICS "autoscaling.alpha.kubernetes.io/metrics"
#define ANN_CURRENT "autoscaling.alpha.kubernetes.io/current-metrics"
#define ANN_BEHAVIOR "autoscaling.alpha.kubernetes.io/behavior"
#define ANN_CONDITIONS "autoscaling.alpha.kubernetes.io/conditions"

static bool is_cpu_utilization(const json_t *metric, const char *part)
{
    const json_t *res = json_object_get(metric, "resource");
    const char *type = json_string_value(json_object_get(metric, "type"));
    const char *name = json_string_value(json_object_get(res, "name"));
    return type && strcmp(type, "Resource") == 0 && name && strcmp(name, "cpu") == 0 &&
           json_is_integer(json_object_get(json_object_get(res, part), "averageUtilization"));
}

static json_int_t cpu_utilization(const json_t *metric, const char *part)
{
    return json_integer_value(json_object_get(
        json_object_get(json_object_get(metric, "resource"), part), "averageUtilization"));
}

/* Put value (stolen) as JSON text in annotation key; nothing when NULL. */
static void annotate(json_t *obj, const char *key, json_t *value)
{
    if (!value)
        return;
    char *text = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    if (!text)
        return;
    json_t *md = ts_meta(obj);
    json_t *ann = md ? json_object_get(md, "annotations") : NULL;
    if (md && !json_is_object(ann)) {
        ann = json_object();
        json_object_set_new(md, "annotations", ann);
    }
    if (ann)
        json_object_set_new(ann, key, json_string(text));
    kr_json_text_free(text);
}

/* The JSON an annotation holds (removed from obj), or NULL. */
static json_t *take_annotation(json_t *obj, const char *key)
{
    json_t *md = json_object_get(obj, "metadata");
    json_t *ann = json_object_get(md, "annotations");
    const char *text = json_string_value(json_object_get(ann, key));
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    json_object_del(ann, key);
    if (json_is_object(ann) && json_object_size(ann) == 0)
        json_object_del(md, "annotations");
    return v;
}

json_t *ts_hpa_to_v1(const json_t *stored)
{
    json_t *out = json_deep_copy(stored);
    if (!out)
        return NULL;
    json_object_set_new(out, "apiVersion", json_string("autoscaling/v1"));
    json_t *spec = json_object_get(out, "spec");
    json_t *others = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(spec, "metrics"), i, m)
    {
        if (is_cpu_utilization(m, "target"))
            json_object_set_new(spec, "targetCPUUtilizationPercentage",
                                json_integer(cpu_utilization(m, "target")));
        else
            json_array_append(others, m);
    }
    json_object_del(spec, "metrics");
    annotate(out, ANN_METRICS, json_array_size(others) ? json_incref(others) : NULL);
    json_decref(others);
    json_t *behavior = json_object_get(spec, "behavior");
    annotate(out, ANN_BEHAVIOR, behavior ? json_incref(behavior) : NULL);
    json_object_del(spec, "behavior");

    json_t *status = json_object_get(out, "status");
    /* v1's counts are written even when zero */
    static const char *const counts[] = {"currentReplicas", "desiredReplicas"};
    for (size_t k = 0; json_is_object(status) && k < KR_ARRAY_LEN(counts); k++)
        if (!json_object_get(status, counts[k]))
            json_object_set_new(status, counts[k], json_integer(0));
    json_t *current = json_object_get(status, "currentMetrics");
    json_array_foreach(current, i, m)
    {
        if (is_cpu_utilization(m, "current"))
            json_object_set_new(status, "currentCPUUtilizationPercentage",
                                json_integer(cpu_utilization(m, "current")));
    }
    annotate(out, ANN_CURRENT, json_array_size(current) ? json_incref(current) : NULL);
    json_object_del(status, "currentMetrics");
    json_t *conditions = json_object_get(status, "conditions");
    annotate(out, ANN_CONDITIONS, json_array_size(conditions) ? json_incref(conditions) : NULL);
    json_object_del(status, "conditions");
    return out;
}

json_t *ts_hpa_to_v2(const json_t *served)
{
    json_t *out = json_deep_copy(served);
    if (!out)
        return NULL;
    json_object_set_new(out, "apiVersion", json_string("autoscaling/v2"));
    json_t *spec = json_object_get(out, "spec");
    json_t *metrics = take_annotation(out, ANN_METRICS);
    if (!json_is_array(metrics)) {
        json_decref(metrics);
        metrics = json_array();
    }
    const json_t *cpu = json_object_get(spec, "targetCPUUtilizationPercentage");
    if (json_is_integer(cpu))
        json_array_append_new(metrics,
                              json_pack("{s:s, s:{s:s, s:{s:s, s:I}}}", "type", "Resource",
                                        "resource", "name", "cpu", "target", "type", "Utilization",
                                        "averageUtilization", (json_int_t)json_integer_value(cpu)));
    json_t *behavior = take_annotation(out, ANN_BEHAVIOR);
    if (json_is_object(spec)) {
        json_object_del(spec, "targetCPUUtilizationPercentage");
        if (json_array_size(metrics) > 0)
            json_object_set(spec, "metrics", metrics);
        if (json_is_object(behavior))
            json_object_set(spec, "behavior", behavior);
    }
    json_decref(metrics);
    json_decref(behavior);

    json_t *status = json_object_get(out, "status");
    json_t *current = take_annotation(out, ANN_CURRENT);
    json_t *conditions = take_annotation(out, ANN_CONDITIONS);
    if (json_is_object(status)) {
        const json_t *now = json_object_get(status, "currentCPUUtilizationPercentage");
        if (!json_is_array(current) && json_is_integer(now)) {
            json_decref(current);
            current = json_pack("[{s:s, s:{s:s, s:{s:I}}}]", "type", "Resource", "resource", "name",
                                "cpu", "current", "averageUtilization",
                                (json_int_t)json_integer_value(now));
        }
        json_object_del(status, "currentCPUUtilizationPercentage");
        /* v2's currentReplicas is omitempty */
        const json_t *replicas = json_object_get(status, "currentReplicas");
        if (json_is_integer(replicas) && json_integer_value(replicas) == 0)
            json_object_del(status, "currentReplicas");
        if (json_is_array(current))
            json_object_set(status, "currentMetrics", current);
        if (json_is_array(conditions))
            json_object_set(status, "conditions", conditions);
    }
    json_decref(current);
    json_decref(conditions);
    return out;
}
