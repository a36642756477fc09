/* Tests for the metrics registry: families, series, updates from many
 * threads, and the Prometheus text exposition format, checked by parsing
 * the rendered text back with a strict parser of the format.
 * KR_TEST_THREADED: updates run from several threads. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_promtext.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

static const struct kr_prom_sample *find_sample(const struct kr_prom_parsed *ps, const char *name,
                                                const char *label, const char *value,
                                                const char *le)
{
    for (int i = 0; i < ps->nsamples; i++) {
        const struct kr_prom_sample *s = &ps->samples[i];
        if (strcmp(s->name, name) != 0)
            continue;
        bool ok = true;
        bool le_ok = le == NULL;
        for (int j = 0; j < s->nlabels; j++) {
            if (strcmp(s->label_name[j], "le") == 0)
                le_ok = le && strcmp(s->label_value[j], le) == 0;
            else if (label && strcmp(s->label_name[j], label) == 0)
                ok = ok && strcmp(s->label_value[j], value) == 0;
        }
        if (ok && le_ok)
            return s;
    }
    return NULL;
}

static double value_of(const struct kr_prom_parsed *ps, const char *name, const char *label,
                       const char *value, const char *le)
{
    const struct kr_prom_sample *s = find_sample(ps, name, label, value, le);
    ck_assert_msg(s != NULL, "no sample %s{%s=%s,le=%s}", name, label ? label : "",
                  value ? value : "", le ? le : "");
    return s->value;
}

static void render_and_parse(kr_metrics_registry_t *reg, struct kr_prom_parsed *ps)
{
    char *text;
    size_t len;
    kr_error_t err = {0};
    ck_assert_msg(kr_metrics_render(reg, &text, &len, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(strlen(text), len);
    const char *bad = kr_prom_parse(text, ps);
    ck_assert_msg(bad == NULL, "%s in:\n%s", bad, text);
    kr_free(text);
}

/* ---- tests --------------------------------------------------------------------- */

START_TEST(render_parses_back_with_every_type_and_label)
{
    kr_metrics_registry_t *reg;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    static const char *const labels[] = {"verb", "code"};
    kr_metric_family_t *req, *temp, *lat;
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_COUNTER, "kr_requests_total",
                                                "Requests sent.\nBy verb \\ code.", labels, 2, NULL,
                                                0, &req, NULL),
                     0);
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_GAUGE, "kr_temperature", "Temp.",
                                                NULL, 0, NULL, 0, &temp, NULL),
                     0);
    static const double bounds[] = {0.1, 1, 10};
    static const char *const lat_labels[] = {"name"};
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_HISTOGRAM, "kr_latency_seconds",
                                                "Latency.", lat_labels, 1, bounds, 3, &lat, NULL),
                     0);
    kr_metric_t *get200, *weird, *t, *h;
    const char *v1[] = {"GET", "200"};
    const char *v2[] = {"PATCH \"quoted\"\\\nnext", "500"};
    ck_assert_int_eq(kr_metrics_series(req, v1, &get200, NULL), 0);
    ck_assert_int_eq(kr_metrics_series(req, v2, &weird, NULL), 0);
    ck_assert_int_eq(kr_metrics_series(temp, NULL, &t, NULL), 0);
    const char *hv[] = {"q"};
    ck_assert_int_eq(kr_metrics_series(lat, hv, &h, NULL), 0);
    kr_metric_t *again;
    ck_assert_int_eq(kr_metrics_series(req, v1, &again, NULL), 0);
    ck_assert_ptr_eq(again, get200);

    kr_metrics_counter_add(get200, 3);
    kr_metrics_counter_add(get200, 0.5);
    kr_metrics_counter_add(get200, -7); /* ignored: counters only go up */
    kr_metrics_counter_add(weird, 1);
    kr_metrics_gauge_set(t, -12.25);
    kr_metrics_gauge_add(t, 0.25);
    kr_metrics_histogram_observe(h, 0.05);
    kr_metrics_histogram_observe(h, 0.1); /* le is inclusive */
    kr_metrics_histogram_observe(h, 5);
    kr_metrics_histogram_observe(h, 100);
    ck_assert(kr_metrics_value(get200) == 3.5);
    ck_assert_uint_eq(kr_metrics_count(h), 4);

    struct kr_prom_parsed ps;
    render_and_parse(reg, &ps);
    ck_assert_int_eq(ps.nfamilies, 3);
    ck_assert_str_eq(ps.families[0].name, "kr_requests_total");
    ck_assert_str_eq(ps.families[0].type, "counter");
    ck_assert_str_eq(ps.families[0].help, "Requests sent.\nBy verb \\ code.");
    ck_assert_str_eq(ps.families[2].type, "histogram");
    ck_assert(value_of(&ps, "kr_requests_total", "verb", "GET", NULL) == 3.5);
    ck_assert(value_of(&ps, "kr_requests_total", "verb", v2[0], NULL) == 1);
    ck_assert(value_of(&ps, "kr_temperature", NULL, NULL, NULL) == -12);
    ck_assert(value_of(&ps, "kr_latency_seconds_bucket", "name", "q", "0.1") == 2);
    ck_assert(value_of(&ps, "kr_latency_seconds_bucket", "name", "q", "1") == 2);
    ck_assert(value_of(&ps, "kr_latency_seconds_bucket", "name", "q", "10") == 3);
    ck_assert(value_of(&ps, "kr_latency_seconds_bucket", "name", "q", "+Inf") == 4);
    ck_assert(value_of(&ps, "kr_latency_seconds_count", "name", "q", NULL) == 4);
    ck_assert(fabs(value_of(&ps, "kr_latency_seconds_sum", "name", "q", NULL) - 105.15) < 1e-9);
    kr_metrics_registry_free(reg);
}
END_TEST

START_TEST(values_render_in_the_shortest_round_trip_form)
{
    kr_metrics_registry_t *reg;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    static const char *const labels[] = {"case"};
    kr_metric_family_t *g;
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_GAUGE, "kr_values", "", labels, 1,
                                                NULL, 0, &g, NULL),
                     0);
    /* as Go's strconv.FormatFloat(v, 'g', -1, 64) */
    static const double values[] = {0,    1,  0.1,    1e-8, 123456789, 1.0 / 3, 1e300,
                                    -2.5, 10, 100000, 1e6,  0.0001,    0.00001, 123456.5};
    static const char *const texts[] = {" 0\n",
                                        " 1\n",
                                        " 0.1\n",
                                        " 1e-08\n",
                                        " 1.23456789e+08\n",
                                        " 0.3333333333333333\n",
                                        " 1e+300\n",
                                        " -2.5\n",
                                        " 10\n",
                                        " 100000\n",
                                        " 1e+06\n",
                                        " 0.0001\n",
                                        " 1e-05\n",
                                        " 123456.5\n"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char name[8];
        snprintf(name, sizeof(name), "%zu", i);
        const char *lv[] = {name};
        kr_metric_t *m;
        ck_assert_int_eq(kr_metrics_series(g, lv, &m, NULL), 0);
        kr_metrics_gauge_set(m, values[i]);
    }
    kr_metric_t *inf;
    const char *lv[] = {"inf"};
    ck_assert_int_eq(kr_metrics_series(g, lv, &inf, NULL), 0);
    kr_metrics_gauge_set(inf, -INFINITY);
    char *text;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "kr_values{case=\"%zu\"}%s", i, texts[i]);
        ck_assert_msg(strstr(text, line) != NULL, "missing %s in\n%s", line, text);
    }
    ck_assert_ptr_nonnull(strstr(text, "kr_values{case=\"inf\"} -Inf\n"));
    ck_assert_ptr_nonnull(strstr(text, "# HELP kr_values \n# TYPE kr_values gauge\n"));
    kr_free(text);
    kr_metrics_registry_free(reg);
}
END_TEST

START_TEST(registering_twice_shares_a_family_and_conflicts_are_rejected)
{
    kr_metrics_registry_t *reg;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    static const char *const labels[] = {"name"};
    kr_metric_family_t *a, *b, *c;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_GAUGE, "x_depth", "h", labels, 1,
                                                NULL, 0, &a, NULL),
                     0);
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_GAUGE, "x_depth", "h", labels, 1,
                                                NULL, 0, &b, NULL),
                     0);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_COUNTER, "x_depth", "h", labels, 1,
                                                NULL, 0, &c, &err),
                     KR_EEXIST);
    ck_assert_ptr_nonnull(strstr(err.message, "x_depth"));
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_GAUGE, "x_depth", "h", NULL, 0, NULL,
                                                0, &c, NULL),
                     KR_EEXIST);
    static const char *const bad_labels[] = {"__reserved"};
    static const char *const le[] = {"le"};
    static const double bounds[] = {1, 1};
    ck_assert_int_eq(
        kr_metrics_family_register(reg, KR_METRIC_GAUGE, "9bad", "h", NULL, 0, NULL, 0, &c, NULL),
        KR_EINVAL);
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_GAUGE, "ok", "h", bad_labels, 1,
                                                NULL, 0, &c, NULL),
                     KR_EINVAL);
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_HISTOGRAM, "ok", "h", le, 1,
                                                (const double[]){1}, 1, &c, NULL),
                     KR_EINVAL);
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_HISTOGRAM, "ok", "h", NULL, 0,
                                                bounds, 2, &c, NULL),
                     KR_EINVAL);
    ck_assert_int_eq(
        kr_metrics_family_register(reg, KR_METRIC_HISTOGRAM, "ok", "h", NULL, 0, NULL, 0, &c, NULL),
        KR_EINVAL);
    /* +Inf is always the last bucket: given, it would print twice */
    kr_error_t merr = {0};
    ck_assert_int_eq(kr_metrics_family_register(reg, KR_METRIC_HISTOGRAM, "ok", "h", NULL, 0,
                                                (const double[]){1, INFINITY}, 2, &c, &merr),
                     KR_EINVAL);
    ck_assert_str_eq(merr.message,
                     "metrics: ok: bucket bounds must be finite and increase strictly (at 1)");
    static const char *const twice[] = {"a", "b", "a"};
    ck_assert_int_eq(
        kr_metrics_family_register(reg, KR_METRIC_GAUGE, "ok", "h", twice, 3, NULL, 0, &c, &merr),
        KR_EINVAL);
    ck_assert_str_eq(merr.message, "metrics: ok: label name \"a\" given twice");
    kr_metric_t *m;
    ck_assert_int_eq(kr_metrics_series(a, NULL, &m, NULL), KR_EINVAL); /* label value missing */
    kr_metrics_counter_add(NULL, 1); /* NULL metrics are ignored */
    kr_metrics_histogram_observe(NULL, 1);
    kr_metrics_registry_free(reg);
    kr_metrics_registry_free(NULL);
}
END_TEST

struct hammer {
    kr_metric_t *counter, *gauge, *hist;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 20000; i++) {
        kr_metrics_counter_add(h->counter, 1);
        kr_metrics_gauge_add(h->gauge, i % 2 ? -1 : 1);
        kr_metrics_histogram_observe(h->hist, (i % 10) / 1000.0);
    }
    return NULL;
}

static int count_bytes(const char *data, size_t len, void *user)
{
    (void)data;
    *(size_t *)user += len;
    return 0;
}

START_TEST(concurrent_updates_are_not_lost)
{
    kr_metrics_registry_t *reg;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    kr_metric_family_t *fc, *fg, *fh;
    static const double b[] = {0.005};
    kr_metrics_family_register(reg, KR_METRIC_COUNTER, "c_total", "c", NULL, 0, NULL, 0, &fc, NULL);
    kr_metrics_family_register(reg, KR_METRIC_GAUGE, "g", "g", NULL, 0, NULL, 0, &fg, NULL);
    kr_metrics_family_register(reg, KR_METRIC_HISTOGRAM, "h", "h", NULL, 0, b, 1, &fh, NULL);
    struct hammer h;
    kr_metrics_series(fc, NULL, &h.counter, NULL);
    kr_metrics_series(fg, NULL, &h.gauge, NULL);
    kr_metrics_series(fh, NULL, &h.hist, NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer_main, &h);
    for (int i = 0; i < 20; i++) { /* renders race with updates */
        size_t bytes = 0;
        ck_assert_int_eq(kr_metrics_render_to(reg, count_bytes, &bytes, NULL), 0);
        ck_assert_uint_gt(bytes, 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct kr_prom_parsed ps;
    render_and_parse(reg, &ps);
    ck_assert(value_of(&ps, "c_total", NULL, NULL, NULL) == 80000);
    ck_assert(value_of(&ps, "g", NULL, NULL, NULL) == 0);
    ck_assert(value_of(&ps, "h_count", NULL, NULL, NULL) == 80000);
    ck_assert(value_of(&ps, "h_bucket", NULL, NULL, "0.005") == 48000);
    kr_metrics_registry_free(reg);
}
END_TEST

static int stop_writer(const char *data, size_t len, void *user)
{
    (void)data;
    (void)len;
    return ++*(int *)user >= 3;
}

static int collector_calls;
static void count_collect(void *user)
{
    collector_calls++;
    kr_metrics_gauge_set(user, 42);
}

START_TEST(collectors_run_at_render_and_writers_can_stop_it)
{
    kr_metrics_registry_t *reg;
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    kr_metric_family_t *f;
    kr_metrics_family_register(reg, KR_METRIC_GAUGE, "computed", "c", NULL, 0, NULL, 0, &f, NULL);
    kr_metric_t *m;
    kr_metrics_series(f, NULL, &m, NULL);
    int id = kr_metrics_collector_add(reg, count_collect, m);
    ck_assert_int_ge(id, 0);
    struct kr_prom_parsed ps;
    render_and_parse(reg, &ps);
    ck_assert_int_eq(collector_calls, 1);
    ck_assert(value_of(&ps, "computed", NULL, NULL, NULL) == 42);
    kr_metrics_collector_remove(reg, id);
    render_and_parse(reg, &ps);
    ck_assert_int_eq(collector_calls, 1);
    int calls = 0;
    ck_assert_int_eq(kr_metrics_render_to(reg, stop_writer, &calls, NULL), 0); /* 2 chunks */
    kr_metric_family_t *f2;
    kr_metrics_family_register(reg, KR_METRIC_GAUGE, "other", "o", NULL, 0, NULL, 0, &f2, NULL);
    calls = 0;
    ck_assert_int_eq(kr_metrics_render_to(reg, stop_writer, &calls, NULL), KR_ECANCELED);
    kr_metrics_registry_free(reg);

    /* an empty registry renders an empty string */
    ck_assert_int_eq(kr_metrics_registry_new(&reg, NULL), 0);
    char *text;
    ck_assert_int_eq(kr_metrics_render(reg, &text, NULL, NULL), 0);
    ck_assert_str_eq(text, "");
    kr_free(text);
    kr_metrics_registry_free(reg);
}
END_TEST

static int registry_lifecycle(void *arg)
{
    (void)arg;
    kr_metrics_registry_t *reg;
    if (kr_metrics_registry_new(&reg, NULL) != 0)
        return 0;
    static const char *const labels[] = {"name"};
    static const double b[] = {1, 2};
    int verdict = 0;
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "fam_%d", i);
        kr_metric_family_t *f;
        int rc = kr_metrics_family_register(reg, i == 2 ? KR_METRIC_HISTOGRAM : KR_METRIC_COUNTER,
                                            name, "help", labels, 1, i == 2 ? b : NULL,
                                            i == 2 ? 2 : 0, &f, NULL);
        if (rc != 0) {
            verdict |= rc != KR_ENOMEM;
            continue;
        }
        const char *v[] = {"x"};
        kr_metric_t *m;
        rc = kr_metrics_series(f, v, &m, NULL);
        verdict |= rc != 0 && rc != KR_ENOMEM;
    }
    char *text = NULL;
    int rc = kr_metrics_render(reg, &text, NULL, NULL);
    verdict |= rc != 0 && rc != KR_ENOMEM;
    kr_free(text);
    rc = kr_metrics_collector_add(reg, count_collect, NULL);
    verdict |= rc < 0 && rc != KR_ENOMEM;
    kr_metrics_registry_free(reg);
    return verdict;
}

START_TEST(registry_allocation_failures_are_reported_without_leaks)
{
    long runs = kr_test_alloc_failure_sweep(registry_lifecycle, NULL);
    ck_assert_msg(runs > 0, "failed at allocation %ld", -runs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, render_parses_back_with_every_type_and_label);
    tcase_add_test(tc, values_render_in_the_shortest_round_trip_form);
    tcase_add_test(tc, registering_twice_shares_a_family_and_conflicts_are_rejected);
    tcase_add_test(tc, concurrent_updates_are_not_lost);
    tcase_add_test(tc, collectors_run_at_render_and_writers_can_stop_it);
    tcase_add_test(tc, registry_allocation_failures_are_reported_without_leaks);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
