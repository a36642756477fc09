/* libkreconcile — the informer factory: one shared informer per (client,
 * group/version/resource, namespace, selectors), so that every controller
 * of a process watching the same collection shares one watch and one
 * cache; metadata-only informers (client-go's metadatainformer factory)
 * are shared per scope apart from the full ones. A scope's cache is made
 * with the factory's store options or with those of the caller that
 * asked first; a later caller asking for other ones is refused, as
 * controller-runtime's cache refuses conflicting per-object options.
 * Bookkeeping only; the informers do the work. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "kreconcile/informer.h"

static const char *nz(const char *s)
{
    return s ? s : "";
}

typedef struct entry {
    struct entry *next;
    kr_client_t *client;
    char *key; /* full|metadata group/version/resource ns labels fields */
    kr_informer_t *inf;
    /* the store options it was made with (deep copy) when a caller gave
     * its own; else the factory's */
    bool own_store;
    kr_store_opts store;
    bool started;
    bool claimed; /* a start is under way or done (under mu) */
} entry;

typedef struct cluster_name {
    struct cluster_name *next;
    kr_client_t *client;
    char *name;
} cluster_name;

struct kr_informer_factory {
    kr_informer_factory_opts opts;
    pthread_mutex_t mu;
    cluster_name *clusters;
    entry *entries;
    size_t n;
    bool started;
};

/* ---- store options: kept (keep_fields are only borrowed for the
 * store's creation) and compared ------------------------------------------------ */

static void store_copy_free(kr_store_opts *o)
{
    for (size_t i = 0; o->keep_fields && i < o->n_keep_fields; i++)
        kr_free((char *)o->keep_fields[i]);
    kr_free((void *)o->keep_fields);
    *o = (kr_store_opts){0};
}

static int store_copy(const kr_store_opts *in, kr_store_opts *out)
{
    *out = *in;
    out->keep_fields = NULL;
    out->n_keep_fields = 0;
    if (!in->keep_fields || !in->n_keep_fields)
        return 0;
    char **fields = kr_calloc(in->n_keep_fields, sizeof(char *));
    if (!fields)
        return KR_ENOMEM;
    out->keep_fields = (const char *const *)fields;
    for (size_t i = 0; i < in->n_keep_fields; i++) {
        fields[i] = kr_strdup(in->keep_fields[i] ? in->keep_fields[i] : "");
        out->n_keep_fields = i + 1;
        if (!fields[i]) {
            store_copy_free(out);
            return KR_ENOMEM;
        }
    }
    return 0;
}

static bool field_in(const char *field, const kr_store_opts *o)
{
    for (size_t i = 0; o->keep_fields && i < o->n_keep_fields; i++)
        if (strcmp(nz(o->keep_fields[i]), nz(field)) == 0)
            return true;
    return false;
}

/* The first option in which two stores would differ, or NULL: the
 * defaults spelt out or not are the same, keep_fields a set. */
static const char *store_differs(const kr_store_opts *a, const kr_store_opts *b)
{
    kr_store_representation ra = a->representation == KR_STORE_DEFAULT ? KR_STORE_COMPACT
                                                                       : a->representation,
                            rb = b->representation == KR_STORE_DEFAULT ? KR_STORE_COMPACT
                                                                       : b->representation;
    if (ra != rb)
        return "representation";
    long ta = a->tree_cache == 0 ? 256 : a->tree_cache < 0 ? -1 : a->tree_cache;
    long tb = b->tree_cache == 0 ? 256 : b->tree_cache < 0 ? -1 : b->tree_cache;
    if (ra == KR_STORE_COMPACT && ta != tb)
        return "tree_cache";
    if (a->keep_managed_fields != b->keep_managed_fields)
        return "keep_managed_fields";
    for (size_t i = 0; a->keep_fields && i < a->n_keep_fields; i++)
        if (!field_in(a->keep_fields[i], b))
            return "keep_fields";
    for (size_t i = 0; b->keep_fields && i < b->n_keep_fields; i++)
        if (!field_in(b->keep_fields[i], a))
            return "keep_fields";
    if (a->transform != b->transform || (a->transform && a->transform_user != b->transform_user))
        return "transform";
    return NULL;
}

int kr_informer_factory_new(const kr_informer_factory_opts *opts, kr_informer_factory_t **out,
                            kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "informer factory: out is NULL");
    if (opts && opts->version > KR_INFORMER_FACTORY_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "informer factory: options version %u is newer than %u",
                            opts->version, (unsigned)KR_INFORMER_FACTORY_OPTS_VERSION);
    kr_informer_factory_t *f = kr_calloc(1, sizeof(*f));
    if (!f)
        return kr_error_set(err, KR_ENOMEM, "informer factory: out of memory");
    if (opts)
        f->opts = *opts;
    pthread_mutex_init(&f->mu, NULL);
    *out = f;
    return 0;
}

void kr_informer_factory_free(kr_informer_factory_t *f)
{
    if (!f)
        return;
    entry *e = f->entries;
    while (e) {
        entry *next = e->next;
        kr_informer_free(e->inf);
        store_copy_free(&e->store);
        kr_free(e->key);
        kr_free(e);
        e = next;
    }
    cluster_name *c = f->clusters;
    while (c) {
        cluster_name *next = c->next;
        kr_free(c->name);
        kr_free(c);
        c = next;
    }
    pthread_mutex_destroy(&f->mu);
    kr_free(f);
}

int kr_informer_factory_name_cluster(kr_informer_factory_t *f, kr_client_t *client,
                                     const char *cluster, kr_error_t *err)
{
    if (!f || !client || !cluster || !*cluster)
        return kr_error_set(err, KR_EINVAL, "informer factory: client and cluster name required");
    char *copy = kr_strdup(cluster);
    if (!copy)
        return kr_error_set(err, KR_ENOMEM, "informer factory: out of memory");
    pthread_mutex_lock(&f->mu);
    for (cluster_name *c = f->clusters; c; c = c->next)
        if (c->client == client) {
            kr_free(c->name);
            c->name = copy;
            pthread_mutex_unlock(&f->mu);
            return 0;
        }
    cluster_name *c = kr_calloc(1, sizeof(*c));
    if (c) {
        c->client = client;
        c->name = copy;
        c->next = f->clusters;
        f->clusters = c;
    }
    pthread_mutex_unlock(&f->mu);
    if (!c) {
        kr_free(copy);
        return kr_error_set(err, KR_ENOMEM, "informer factory: out of memory");
    }
    return 0;
}

/* "cluster/[group/]version/resource[ ns=..]...[ metadata-only]" or NULL
 * (the default name); new string. Called under f->mu. */
static char *informer_name(kr_informer_factory_t *f, kr_client_t *client, kr_gvr r, const char *ns,
                           const char *labels, const char *fields, bool metadata, bool *oom)
{
    *oom = false;
    for (cluster_name *c = f->clusters; c; c = c->next) {
        if (c->client != client)
            continue;
        char *name =
            kr_asprintf("%s/%s%s%s/%s%s%s%s%s%s%s%s", c->name, nz(r.group),
                        r.group && *r.group ? "/" : "", nz(r.version), nz(r.resource),
                        ns && *ns ? " ns=" : "", nz(ns), labels ? " labels=" : "", nz(labels),
                        fields ? " fields=" : "", nz(fields), metadata ? " metadata-only" : "");
        *oom = name == NULL;
        return name;
    }
    return NULL;
}

/* Start a claimed entry (mu not held); a failed start is unclaimed, for
 * the next get or factory start to try again. */
static int start_entry(kr_informer_factory_t *f, entry *e, kr_error_t *err)
{
    int rc = kr_informer_start(e->inf, err);
    pthread_mutex_lock(&f->mu);
    e->started = rc == 0;
    e->claimed = rc == 0;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* The informer of one scope, full objects or metadata only; `store`:
 * the caller's store options, NULL for the factory's. */
static int get_scope(kr_informer_factory_t *f, kr_client_t *client, kr_gvr resource,
                     const char *namespace_, const char *label_selector, const char *field_selector,
                     bool metadata, const kr_store_opts *store, kr_informer_t **out,
                     kr_error_t *err)
{
    if (!f || !client || !out)
        return kr_error_set(err, KR_EINVAL, "informer factory: client and out are required");
    if (store && store->version > KR_STORE_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "informer factory: store options version %u unknown",
                            store->version);
    /* fields are joined with a byte that cannot appear in any of them */
    char *key = kr_asprintf("%c\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", metadata ? 'm' : 'f',
                            nz(resource.group), nz(resource.version), nz(resource.resource),
                            nz(namespace_), nz(label_selector), nz(field_selector));
    if (!key)
        return kr_error_set(err, KR_ENOMEM, "informer factory: out of memory");
    int rc = 0;
    entry *to_start = NULL;
    pthread_mutex_lock(&f->mu);
    for (entry *e = f->entries; e; e = e->next)
        if (e->client == client && strcmp(e->key, key) == 0) {
            const char *differs = store_differs(e->own_store ? &e->store : &f->opts.store,
                                                store ? store : &f->opts.store);
            if (differs) {
                rc = kr_error_set(
                    err, KR_EINVAL,
                    "informer factory: %s%s%s/%s%s%s%s%s%s%s: asked for with other store options "
                    "(%s) than its cache was made with: one informer per scope, one cache; ask "
                    "with the same options, or narrow the scope",
                    nz(resource.group), resource.group && *resource.group ? "/" : "",
                    nz(resource.version), nz(resource.resource),
                    namespace_ && *namespace_ ? " ns=" : "", nz(namespace_),
                    label_selector ? " labels=" : "", nz(label_selector),
                    field_selector ? " fields=" : "", nz(field_selector), differs);
                goto out;
            }
            *out = e->inf;
            if (f->started && !e->claimed) { /* its start failed before: again */
                e->claimed = true;
                to_start = e;
            }
            goto out;
        }
    entry *e = kr_calloc(1, sizeof(*e));
    if (e && store && store_copy(store, &e->store) != 0) {
        kr_free(e);
        e = NULL;
    }
    if (!e) {
        rc = kr_error_set(err, KR_ENOMEM, "informer factory: out of memory");
        goto out;
    }
    e->own_store = store != NULL;
    bool oom = false;
    char *name = informer_name(f, client, resource, namespace_, label_selector, field_selector,
                               metadata, &oom);
    if (oom) {
        store_copy_free(&e->store);
        kr_free(e);
        rc = kr_error_set(err, KR_ENOMEM, "informer factory: out of memory");
        goto out;
    }
    kr_informer_opts io = {
        .client = client,
        .resource = resource,
        .namespace_ = namespace_,
        .label_selector = label_selector,
        .field_selector = field_selector,
        .store = store ? *store : f->opts.store,
        .page_size = f->opts.page_size,
        .streaming_list = f->opts.streaming_list,
        .metrics = f->opts.metrics,
        .logger = f->opts.logger,
        .name = name,
        .metadata_only = metadata,
    };
    rc = kr_informer_new(&io, &e->inf, err);
    kr_free(name);
    if (rc) {
        store_copy_free(&e->store);
        kr_free(e);
        goto out;
    }
    e->client = client;
    e->key = key;
    key = NULL;
    e->next = f->entries;
    f->entries = e;
    f->n++;
    *out = e->inf;
    if (f->started) {
        e->claimed = true;
        to_start = e;
    }
out:
    pthread_mutex_unlock(&f->mu);
    kr_free(key);
    /* Started without the lock: a start waits on the loop thread, whose
     * handlers may ask the factory for an informer meanwhile. */
    if (to_start && (rc = start_entry(f, to_start, err)) != 0)
        *out = NULL; /* kept, for the next get to start again */
    return rc;
}

int kr_informer_factory_get(kr_informer_factory_t *f, kr_client_t *client, kr_gvr resource,
                            const char *namespace_, const char *label_selector,
                            const char *field_selector, kr_informer_t **out, kr_error_t *err)
{
    return get_scope(f, client, resource, namespace_, label_selector, field_selector, false, NULL,
                     out, err);
}

int kr_informer_factory_get_with(kr_informer_factory_t *f, kr_client_t *client, kr_gvr resource,
                                 const char *namespace_, const char *label_selector,
                                 const char *field_selector, const kr_store_opts *store,
                                 kr_informer_t **out, kr_error_t *err)
{
    return get_scope(f, client, resource, namespace_, label_selector, field_selector, false, store,
                     out, err);
}

int kr_informer_factory_get_metadata(kr_informer_factory_t *f, kr_client_t *client, kr_gvr resource,
                                     const char *namespace_, const char *label_selector,
                                     const char *field_selector, kr_informer_t **out,
                                     kr_error_t *err)
{
    return get_scope(f, client, resource, namespace_, label_selector, field_selector, true, NULL,
                     out, err);
}

int kr_informer_factory_get_metadata_with(kr_informer_factory_t *f, kr_client_t *client,
                                          kr_gvr resource, const char *namespace_,
                                          const char *label_selector, const char *field_selector,
                                          const kr_store_opts *store, kr_informer_t **out,
                                          kr_error_t *err)
{
    return get_scope(f, client, resource, namespace_, label_selector, field_selector, true, store,
                     out, err);
}

int kr_informer_factory_start(kr_informer_factory_t *f, kr_error_t *err)
{
    if (!f)
        return kr_error_set(err, KR_EINVAL, "informer factory: NULL");
    pthread_mutex_lock(&f->mu);
    f->started = true;
    entry *first = f->entries;
    pthread_mutex_unlock(&f->mu);
    /* entries are only ever prepended: the list from `first` is stable;
     * each is claimed under the lock and started without it */
    int rc = 0;
    for (entry *e = first; e && rc == 0; e = e->next) {
        pthread_mutex_lock(&f->mu);
        bool mine = !e->claimed;
        e->claimed = true;
        pthread_mutex_unlock(&f->mu);
        if (mine)
            rc = start_entry(f, e, err);
    }
    return rc;
}

static uint64_t mono_ms(void)
{
    return kr_clock_monotonic_ms();
}

int kr_informer_factory_wait_for_sync(kr_informer_factory_t *f, uint64_t timeout_ms,
                                      kr_error_t *err)
{
    if (!f)
        return kr_error_set(err, KR_EINVAL, "informer factory: NULL");
    uint64_t start = mono_ms();
    /* UINT64_MAX is "forever": saturate rather than wrap into the past */
    uint64_t end = timeout_ms > UINT64_MAX - start ? UINT64_MAX : start + timeout_ms;
    pthread_mutex_lock(&f->mu);
    entry *first = f->entries;
    pthread_mutex_unlock(&f->mu);
    /* entries are only ever prepended: the list from `first` is stable */
    for (entry *e = first; e; e = e->next) {
        uint64_t now = mono_ms();
        int rc = kr_informer_wait_for_sync(e->inf, now < end ? end - now : 0, err);
        if (rc)
            return rc;
    }
    return 0;
}

size_t kr_informer_factory_len(kr_informer_factory_t *f)
{
    if (!f)
        return 0;
    pthread_mutex_lock(&f->mu);
    size_t n = f->n;
    pthread_mutex_unlock(&f->mu);
    return n;
}
