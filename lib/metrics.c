/* libkreconcile — the metrics registry: families of counters, gauges and
 * histograms with labels, updated with lock-free atomics on hot paths and
 * rendered in the Prometheus text exposition format. The registry is a
 * handle; nothing here is global. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/metrics.h"

struct kr_metric {
    struct kr_metric *next;
    kr_metric_family_t *fam;
    char **label_values;
    _Atomic uint64_t value; /* bits of a double: counter, gauge, histogram sum */
    _Atomic uint64_t count; /* histogram observations */
    _Atomic uint64_t *buckets; /* histogram: per-bucket (not cumulative), +Inf last */
};

struct kr_metric_family {
    struct kr_metric_family *next;
    kr_metrics_registry_t *reg;
    kr_metric_type type;
    char *name;
    char *help;
    char **label_names;
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    kr_metric_t *series, *series_tail;
};

struct collector {
    int id;
    kr_metrics_collect_cb fn;
    void *user;
};

struct kr_metrics_registry {
    pthread_mutex_t mu; /* families and series lists */
    pthread_mutex_t render_mu; /* collectors; one render at a time */
    kr_metric_family_t *families, *families_tail;
    struct collector *collectors;
    size_t ncollectors;
    int next_collector_id;
};

/* ---- atomic doubles ----------------------------------------------------- */

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double double_of(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static void atomic_add_double(_Atomic uint64_t *a, double delta)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, bits_of(double_of(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

void kr_metrics_counter_add(kr_metric_t *m, double delta)
{
    if (!m || !(delta >= 0))
        return;
    atomic_add_double(&m->value, delta);
}

void kr_metrics_gauge_set(kr_metric_t *m, double value)
{
    if (m)
        atomic_store_explicit(&m->value, bits_of(value), memory_order_relaxed);
}

void kr_metrics_gauge_add(kr_metric_t *m, double delta)
{
    if (m)
        atomic_add_double(&m->value, delta);
}

void kr_metrics_histogram_observe(kr_metric_t *m, double value)
{
    if (!m || !m->buckets)
        return;
    const kr_metric_family_t *f = m->fam;
    size_t i = 0;
    while (i < f->nbounds && value > f->bounds[i])
        i++;
    atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&m->value, value);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

double kr_metrics_value(const kr_metric_t *m)
{
    return m ? double_of(atomic_load_explicit(&m->value, memory_order_relaxed)) : 0;
}

unsigned long long kr_metrics_count(const kr_metric_t *m)
{
    return m ? atomic_load_explicit(&m->count, memory_order_relaxed) : 0;
}

/* ---- registry -------------------------------------------------------------- */

int kr_metrics_registry_new(kr_metrics_registry_t **out, kr_error_t *err)
{
    *out = NULL;
    kr_metrics_registry_t *reg = kr_calloc(1, sizeof(*reg));
    if (!reg)
        return kr_error_set(err, KR_ENOMEM, "metrics: out of memory");
    pthread_mutex_init(&reg->mu, NULL);
    pthread_mutex_init(&reg->render_mu, NULL);
    *out = reg;
    return 0;
}

static void free_strings(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        kr_free(v[i]);
    kr_free(v);
}

static void family_free(kr_metric_family_t *f)
{
    kr_metric_t *m = f->series;
    while (m) {
        kr_metric_t *next = m->next;
        free_strings(m->label_values, f->nlabels);
        kr_free((void *)m->buckets);
        kr_free(m);
        m = next;
    }
    free_strings(f->label_names, f->nlabels);
    kr_free(f->name);
    kr_free(f->help);
    kr_free(f->bounds);
    kr_free(f);
}

void kr_metrics_registry_free(kr_metrics_registry_t *reg)
{
    if (!reg)
        return;
    kr_metric_family_t *f = reg->families;
    while (f) {
        kr_metric_family_t *next = f->next;
        family_free(f);
        f = next;
    }
    kr_free(reg->collectors);
    pthread_mutex_destroy(&reg->mu);
    pthread_mutex_destroy(&reg->render_mu);
    kr_free(reg);
}

static bool valid_name(const char *s, bool colons)
{
    if (!s || !*s)
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colons && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static char **copy_strings(const char *const *v, size_t n)
{
    char **c = kr_calloc(n ? n : 1, sizeof(char *));
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(c[i] = kr_strdup(v[i]))) {
            free_strings(c, n);
            return NULL;
        }
    }
    return c;
}

static bool same_shape(const kr_metric_family_t *f, kr_metric_type type,
                       const char *const *label_names, size_t nlabels, const double *buckets,
                       size_t nbuckets)
{
    if (f->type != type || f->nlabels != nlabels || f->nbounds != nbuckets)
        return false;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(f->label_names[i], label_names[i]) != 0)
            return false;
    for (size_t i = 0; i < nbuckets; i++)
        if (f->bounds[i] != buckets[i])
            return false;
    return true;
}

static int check_family_args(kr_metric_type type, const char *name, const char *const *label_names,
                             size_t nlabels, const double *buckets, size_t nbuckets,
                             kr_error_t *err)
{
    if (!valid_name(name, true))
        return kr_error_set(err, KR_EINVAL, "metrics: invalid metric name \"%s\"",
                            name ? name : "(null)");
    if (type != KR_METRIC_COUNTER && type != KR_METRIC_GAUGE && type != KR_METRIC_HISTOGRAM)
        return kr_error_set(err, KR_EINVAL, "metrics: %s: unknown type %d", name, (int)type);
    if (nlabels && !label_names)
        return kr_error_set(err, KR_EINVAL, "metrics: %s: label names missing", name);
    for (size_t i = 0; i < nlabels; i++) {
        const char *l = label_names[i];
        if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 ||
            (type == KR_METRIC_HISTOGRAM && strcmp(l, "le") == 0))
            return kr_error_set(err, KR_EINVAL, "metrics: %s: invalid label name \"%s\"", name,
                                l ? l : "(null)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(label_names[j], l) == 0)
                return kr_error_set(err, KR_EINVAL, "metrics: %s: label name \"%s\" given twice",
                                    name, l);
    }
    if (type != KR_METRIC_HISTOGRAM && nbuckets)
        return kr_error_set(err, KR_EINVAL, "metrics: %s: only histograms have buckets", name);
    if (type == KR_METRIC_HISTOGRAM && (!buckets || nbuckets == 0))
        return kr_error_set(err, KR_EINVAL, "metrics: %s: a histogram needs buckets", name);
    /* the +Inf bucket is always there: one given too would print twice */
    for (size_t i = 0; i < nbuckets; i++)
        if (isnan(buckets[i]) || isinf(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
            return kr_error_set(err, KR_EINVAL,
                                "metrics: %s: bucket bounds must be finite and increase "
                                "strictly (at %zu)",
                                name, i);
    return 0;
}

int kr_metrics_family_register(kr_metrics_registry_t *reg, kr_metric_type type, const char *name,
                               const char *help, const char *const *label_names, size_t nlabels,
                               const double *buckets, size_t nbuckets, kr_metric_family_t **out,
                               kr_error_t *err)
{
    *out = NULL;
    int rc = check_family_args(type, name, label_names, nlabels, buckets, nbuckets, err);
    if (rc != 0)
        return rc;
    if (!reg)
        return kr_error_set(err, KR_EINVAL, "metrics: %s: no registry", name);
    pthread_mutex_lock(&reg->mu);
    for (kr_metric_family_t *f = reg->families; f; f = f->next) {
        if (strcmp(f->name, name) != 0)
            continue;
        pthread_mutex_unlock(&reg->mu);
        if (!same_shape(f, type, label_names, nlabels, buckets, nbuckets))
            return kr_error_set(err, KR_EEXIST,
                                "metrics: %s is already registered with another type, labels "
                                "or buckets",
                                name);
        *out = f;
        return 0;
    }
    kr_metric_family_t *f = kr_calloc(1, sizeof(*f));
    if (!f)
        goto nomem;
    f->reg = reg;
    f->type = type;
    f->nlabels = nlabels;
    f->name = kr_strdup(name);
    f->help = kr_strdup(help ? help : "");
    f->label_names = copy_strings(label_names, nlabels);
    if (nbuckets) {
        f->bounds = kr_calloc(nbuckets, sizeof(double));
        if (f->bounds)
            memcpy(f->bounds, buckets, nbuckets * sizeof(double));
    }
    f->nbounds = nbuckets;
    if (!f->name || !f->help || !f->label_names || (nbuckets && !f->bounds)) {
        family_free(f);
        goto nomem;
    }
    if (reg->families_tail)
        reg->families_tail->next = f;
    else
        reg->families = f;
    reg->families_tail = f;
    pthread_mutex_unlock(&reg->mu);
    *out = f;
    return 0;
nomem:
    pthread_mutex_unlock(&reg->mu);
    return kr_error_set(err, KR_ENOMEM, "metrics: out of memory registering %s", name);
}

int kr_metrics_series(kr_metric_family_t *fam, const char *const *label_values, kr_metric_t **out,
                      kr_error_t *err)
{
    *out = NULL;
    if (!fam)
        return kr_error_set(err, KR_EINVAL, "metrics: no family");
    for (size_t i = 0; i < fam->nlabels; i++)
        if (!label_values || !label_values[i])
            return kr_error_set(err, KR_EINVAL, "metrics: %s: label %s has no value", fam->name,
                                fam->label_names[i]);
    kr_metrics_registry_t *reg = fam->reg;
    pthread_mutex_lock(&reg->mu);
    for (kr_metric_t *m = fam->series; m; m = m->next) {
        size_t i = 0;
        while (i < fam->nlabels && strcmp(m->label_values[i], label_values[i]) == 0)
            i++;
        if (i == fam->nlabels) {
            pthread_mutex_unlock(&reg->mu);
            *out = m;
            return 0;
        }
    }
    kr_metric_t *m = kr_calloc(1, sizeof(*m));
    if (!m)
        goto nomem;
    m->fam = fam;
    m->label_values = copy_strings(label_values, fam->nlabels);
    if (fam->type == KR_METRIC_HISTOGRAM)
        m->buckets = kr_calloc(fam->nbounds + 1, sizeof(*m->buckets));
    if (!m->label_values || (fam->type == KR_METRIC_HISTOGRAM && !m->buckets)) {
        free_strings(m->label_values, fam->nlabels);
        kr_free((void *)m->buckets);
        kr_free(m);
        goto nomem;
    }
    atomic_init(&m->value, bits_of(0.0));
    atomic_init(&m->count, 0);
    if (fam->series_tail)
        fam->series_tail->next = m;
    else
        fam->series = m;
    fam->series_tail = m;
    pthread_mutex_unlock(&reg->mu);
    *out = m;
    return 0;
nomem:
    pthread_mutex_unlock(&reg->mu);
    return kr_error_set(err, KR_ENOMEM, "metrics: out of memory adding a series to %s", fam->name);
}

/* ---- collectors ---------------------------------------------------------------- */

int kr_metrics_collector_add(kr_metrics_registry_t *reg, kr_metrics_collect_cb fn, void *user)
{
    if (!reg || !fn)
        return KR_EINVAL;
    pthread_mutex_lock(&reg->render_mu);
    struct collector *c = kr_array_push(&reg->collectors, &reg->ncollectors, sizeof(*c));
    if (!c) {
        pthread_mutex_unlock(&reg->render_mu);
        return KR_ENOMEM;
    }
    int id = reg->next_collector_id++;
    *c = (struct collector){.id = id, .fn = fn, .user = user};
    pthread_mutex_unlock(&reg->render_mu);
    return id;
}

void kr_metrics_collector_remove(kr_metrics_registry_t *reg, int id)
{
    if (!reg)
        return;
    pthread_mutex_lock(&reg->render_mu);
    for (size_t i = 0; i < reg->ncollectors; i++) {
        if (reg->collectors[i].id == id) {
            memmove(&reg->collectors[i], &reg->collectors[i + 1],
                    (reg->ncollectors - i - 1) * sizeof(*reg->collectors));
            reg->ncollectors--;
            break;
        }
    }
    pthread_mutex_unlock(&reg->render_mu);
}

/* ---- rendering ------------------------------------------------------------------- */

struct out {
    kr_metrics_write_cb write;
    void *user;
    kr_buf line; /* one series at a time */
    int rc;
};

/* The shortest text that reads back as the same double, laid out as Go's
 * strconv.FormatFloat(v, 'g', -1, 64), which client_golang uses: exponent
 * form when the exponent is below -4 or at least max(digits, 6) ... as Go
 * decides it. */
static void format_double(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        snprintf(buf, size, "0");
        return;
    }
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(buf, size, "%.*e", digits - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, size, "%.*e", digits - 1, v);
    const char *e = strchr(buf, 'e');
    int exp = e ? atoi(e + 1) : 0;
    int eprec = 6;
    if (eprec > digits && digits >= exp + 1)
        eprec = digits;
    if (exp < -4 || exp >= eprec)
        return; /* keep the exponent form */
    int decimals = digits - 1 - exp;
    snprintf(buf, size, "%.*f", decimals > 0 ? decimals : 0, v);
}

static int append_escaped(kr_buf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        const char *rep = NULL;
        if (*s == '\\')
            rep = "\\\\";
        else if (*s == '\n')
            rep = "\\n";
        else if (quote && *s == '"')
            rep = "\\\"";
        int rc = rep ? kr_buf_append_str(b, rep) : kr_buf_append(b, s, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void flush(struct out *o)
{
    if (o->rc == 0 && o->line.len && o->write(o->line.data, o->line.len, o->user) != 0)
        o->rc = KR_ECANCELED;
    o->line.len = 0;
    if (o->line.data)
        o->line.data[0] = '\0';
}

/* name{labels[,le="x"]} value\n */
static void sample(struct out *o, const kr_metric_family_t *f, const kr_metric_t *m,
                   const char *suffix, const char *le, double value)
{
    if (o->rc != 0)
        return;
    kr_buf *b = &o->line;
    int rc = kr_buf_append_str(b, f->name);
    rc = rc ? rc : kr_buf_append_str(b, suffix);
    if (f->nlabels || le) {
        rc = rc ? rc : kr_buf_append_str(b, "{");
        for (size_t i = 0; i < f->nlabels; i++) {
            rc = rc ? rc : kr_buf_printf(b, "%s%s=\"", i ? "," : "", f->label_names[i]);
            rc = rc ? rc : append_escaped(b, m->label_values[i], true);
            rc = rc ? rc : kr_buf_append_str(b, "\"");
        }
        if (le)
            rc = rc ? rc : kr_buf_printf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
        rc = rc ? rc : kr_buf_append_str(b, "}");
    }
    char num[40];
    format_double(num, sizeof(num), value);
    rc = rc ? rc : kr_buf_printf(b, " %s\n", num);
    if (rc != 0)
        o->rc = rc;
}

static void render_family(struct out *o, const kr_metric_family_t *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    kr_buf *b = &o->line;
    int rc = kr_buf_printf(b, "# HELP %s ", f->name);
    rc = rc ? rc : append_escaped(b, f->help, false);
    rc = rc ? rc : kr_buf_printf(b, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    if (rc != 0) {
        o->rc = rc;
        return;
    }
    flush(o);
    for (const kr_metric_t *m = f->series; m && o->rc == 0; m = m->next) {
        if (f->type != KR_METRIC_HISTOGRAM) {
            sample(o, f, m, "", NULL, kr_metrics_value(m));
            flush(o);
            continue;
        }
        uint64_t cumulative = 0;
        char le[40];
        for (size_t i = 0; i <= f->nbounds; i++) {
            cumulative += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
            if (i < f->nbounds)
                format_double(le, sizeof(le), f->bounds[i]);
            else
                snprintf(le, sizeof(le), "+Inf");
            sample(o, f, m, "_bucket", le, (double)cumulative);
        }
        sample(o, f, m, "_sum", NULL, kr_metrics_value(m));
        /* the count is the +Inf bucket so that the two always agree */
        sample(o, f, m, "_count", NULL, (double)cumulative);
        flush(o);
    }
}

int kr_metrics_render_to(kr_metrics_registry_t *reg, kr_metrics_write_cb write, void *user,
                         kr_error_t *err)
{
    if (!reg || !write)
        return kr_error_set(err, KR_EINVAL, "metrics: render needs a registry and a writer");
    struct out o = {.write = write, .user = user};
    pthread_mutex_lock(&reg->render_mu);
    for (size_t i = 0; i < reg->ncollectors; i++)
        reg->collectors[i].fn(reg->collectors[i].user);
    pthread_mutex_lock(&reg->mu);
    for (const kr_metric_family_t *f = reg->families; f && o.rc == 0; f = f->next)
        render_family(&o, f);
    pthread_mutex_unlock(&reg->mu);
    pthread_mutex_unlock(&reg->render_mu);
    kr_buf_free(&o.line);
    if (o.rc == KR_ENOMEM)
        return kr_error_set(err, KR_ENOMEM, "metrics: out of memory rendering");
    if (o.rc != 0)
        return kr_error_set(err, o.rc, "metrics: the writer stopped the render");
    return 0;
}

static int append_to_buf(const char *data, size_t len, void *user)
{
    return kr_buf_append(user, data, len);
}

int kr_metrics_render(kr_metrics_registry_t *reg, char **out, size_t *len, kr_error_t *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    kr_buf b = {0};
    int rc = kr_metrics_render_to(reg, append_to_buf, &b, err);
    if (rc == KR_ECANCELED)
        rc = kr_error_set(err, KR_ENOMEM, "metrics: out of memory rendering");
    if (rc != 0) {
        kr_buf_free(&b);
        return rc;
    }
    if (!b.data && kr_buf_append(&b, "", 0) != 0)
        return kr_error_set(err, KR_ENOMEM, "metrics: out of memory rendering");
    if (len)
        *len = b.len;
    *out = b.data;
    return 0;
}
