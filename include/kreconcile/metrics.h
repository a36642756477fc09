/* libkreconcile — a metrics registry: counters, gauges and histograms with
 * labels that every module reports into, rendered in the Prometheus text
 * exposition format (version 0.0.4). No global state: the registry is a
 * handle the application owns and hands to the objects it creates. */
#ifndef KRECONCILE_METRICS_H
#define KRECONCILE_METRICS_H

#include <stddef.h>

#include "kreconcile/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_metrics_registry kr_metrics_registry_t;
/* A metric family: one name, help text, type and label names. */
typedef struct kr_metric_family kr_metric_family_t;
/* One time series of a family: its label values and its value(s). */
typedef struct kr_metric kr_metric_t;

typedef enum kr_metric_type {
    KR_METRIC_COUNTER = 0,
    KR_METRIC_GAUGE = 1,
    KR_METRIC_HISTOGRAM = 2,
} kr_metric_type;

/* A new empty registry. *out is new (kr_metrics_registry_free).
 * Errors: KR_ENOMEM. [any thread] */
KR_API int kr_metrics_registry_new(kr_metrics_registry_t **out, kr_error_t *err);
/* Free the registry, its families and series. Every object that reports
 * into it must have been freed first. NULL is a no-op. */
KR_API void kr_metrics_registry_free(kr_metrics_registry_t *reg);

/* Register (or find) a family. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*,
 * label names [a-zA-Z_][a-zA-Z0-9_]* without a leading "__" (and not "le"
 * for histograms). Histograms take `nbuckets` strictly increasing upper
 * bounds (the +Inf bucket is implicit); counters and gauges pass NULL, 0.
 * Registering an existing name with the same type, labels and buckets
 * returns the existing family, so that several objects can share one (e.g.
 * every queue reports into the one workqueue_depth family); anything else
 * under an existing name is KR_EEXIST. All strings are copied. *out is
 * borrowed: it lives as long as the registry.
 * Errors: KR_EINVAL, KR_EEXIST, KR_ENOMEM. [any thread] */
KR_API int kr_metrics_family_register(kr_metrics_registry_t *reg, kr_metric_type type,
                                      const char *name, const char *help,
                                      const char *const *label_names, size_t nlabels,
                                      const double *buckets, size_t nbuckets,
                                      kr_metric_family_t **out, kr_error_t *err);

/* The series of `fam` with these label values (as many as the family has
 * label names; any UTF-8 text, copied), created at zero when new. *out is
 * borrowed: it lives as long as the registry; updating it is lock-free.
 * Errors: KR_EINVAL, KR_ENOMEM. [any thread] */
KR_API int kr_metrics_series(kr_metric_family_t *fam, const char *const *label_values,
                             kr_metric_t **out, kr_error_t *err);

/* Updates, all lock-free atomic operations, callable from any thread. A NULL
 * metric is ignored, so that code can report unconditionally. Counters only
 * go up: kr_metrics_counter_add ignores negative and NaN deltas. */
KR_API void kr_metrics_counter_add(kr_metric_t *m, double delta);
KR_API void kr_metrics_gauge_set(kr_metric_t *m, double value);
KR_API void kr_metrics_gauge_add(kr_metric_t *m, double delta);
KR_API void kr_metrics_histogram_observe(kr_metric_t *m, double value);
/* The current value of a counter or gauge; a histogram's sum. */
KR_API double kr_metrics_value(const kr_metric_t *m);
/* A histogram's observation count (0 for other types). */
KR_API unsigned long long kr_metrics_count(const kr_metric_t *m);

/* A collector: called at the start of every render, under the registry's
 * render lock, to refresh gauges that are computed rather than counted (the
 * queue's unfinished work, for one). It must not call into the registry
 * other than to update metrics. Returns an id for kr_metrics_collector_remove,
 * or a negative KR_E* (KR_ENOMEM). [any thread] */
typedef void (*kr_metrics_collect_cb)(void *user);
KR_API int kr_metrics_collector_add(kr_metrics_registry_t *reg, kr_metrics_collect_cb fn,
                                    void *user);
/* Remove a collector; after it returns the collector is not running and will
 * never run again. [any thread, not from a collector] */
KR_API void kr_metrics_collector_remove(kr_metrics_registry_t *reg, int id);

/* Receives the exposition text in pieces; returns 0 to go on, anything else
 * to stop (the render returns KR_ECANCELED). `data` is borrowed. */
typedef int (*kr_metrics_write_cb)(const char *data, size_t len, void *user);

/* Render the whole registry in the Prometheus text format: families in
 * registration order, series in creation order; "# HELP" and "# TYPE"
 * lines, histograms as cumulative _bucket{le=...}, _sum and _count. Values
 * are read atomically one by one (a histogram being observed concurrently
 * may show the new count with the old sum for an instant, as in
 * client_golang before its hot/cold scheme).
 * kr_metrics_render: *out is a new NUL-terminated string (kr_free), *len
 * (optional) its length. Errors: KR_ENOMEM, KR_ECANCELED. [any thread] */
KR_API int kr_metrics_render(kr_metrics_registry_t *reg, char **out, size_t *len, kr_error_t *err);
KR_API int kr_metrics_render_to(kr_metrics_registry_t *reg, kr_metrics_write_cb write, void *user,
                                kr_error_t *err);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_METRICS_H */
