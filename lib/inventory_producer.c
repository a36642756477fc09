/* libkreconcile — the inventory's producer: an informer's handlers turned
 * into inventory events on a consumer, waiting (never dropping) when the
 * consumer is full, and the reconciliation that records deletes nobody
 * watched (DELETED_FINAL_STATE_UNKNOWN) after a restart. */
#include <string.h>

#include "internal.h"
#include "kreconcile/inventory.h"

struct kr_inventory_producer {
    kr_inventory_consumer_t *consumer;
    kr_informer_t *informer;
    char *cluster, *resource, *api_version, *kind;
    kr_logger logger;
    int handler_id;
};

static void produce(kr_inventory_producer_t *p, kr_inventory_event_type type, const json_t *obj)
{
    char *rv = kr_informer_last_resource_version(p->informer);
    kr_inventory_event ev = {.cluster = p->cluster,
                             .resource = p->resource,
                             .api_version = p->api_version,
                             .kind = p->kind,
                             .type = type,
                             .object = obj,
                             .checkpoint_rv = rv};
    kr_error_t err = {0};
    int rc;
    bool waited = false;
    /* Full: wait for room on this (the informer's) thread; its watch is
     * not read meanwhile, so the apiserver holds the events for us. */
    while ((rc = kr_inventory_consumer_enqueue(p->consumer, &ev, &err)) == KR_ETOOLARGE) {
        if (!waited)
            kr_log(&p->logger, KR_LOG_WARN, "inventory",
                   "%s %s: the inventory buffer is full; pausing this informer", p->cluster,
                   p->resource);
        waited = true;
        kr_inventory_consumer_wait_space(p->consumer, 1, 1000);
    }
    if (rc != 0)
        kr_log(&p->logger, KR_LOG_ERROR, "inventory", "%s %s: an event was refused: %s", p->cluster,
               p->resource, err.message);
    kr_free(rv);
}

static void on_add(const json_t *obj, void *user)
{
    produce(user, KR_INVENTORY_ADDED, obj);
}

static void on_update(const json_t *old_obj, const json_t *new_obj, void *user)
{
    if (old_obj == new_obj)
        return; /* a resync: nothing changed */
    produce(user, KR_INVENTORY_MODIFIED, new_obj);
}

static void on_delete(const json_t *obj, bool final_state_unknown, void *user)
{
    produce(user,
            final_state_unknown ? KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN : KR_INVENTORY_DELETED,
            obj);
}

void kr_inventory_producer_free(kr_inventory_producer_t *p)
{
    if (!p)
        return;
    if (p->handler_id >= 0 && p->informer)
        kr_informer_remove_handler(p->informer, p->handler_id);
    kr_free(p->cluster);
    kr_free(p->resource);
    kr_free(p->api_version);
    kr_free(p->kind);
    kr_free(p);
}

int kr_inventory_producer_new(const kr_inventory_producer_opts *opts, kr_inventory_producer_t **out,
                              kr_error_t *err)
{
    if (!opts || !out || !opts->consumer || !opts->informer || !opts->cluster || !*opts->cluster ||
        !opts->resource || !*opts->resource)
        return kr_error_set(err, KR_EINVAL,
                            "inventory producer: consumer, informer, cluster and resource are "
                            "required");
    *out = NULL;
    kr_inventory_producer_t *p = kr_calloc(1, sizeof(*p));
    if (!p)
        return kr_error_set(err, KR_ENOMEM, "inventory producer: out of memory");
    p->handler_id = -1;
    p->consumer = opts->consumer;
    p->informer = opts->informer;
    p->logger = opts->logger;
    p->cluster = kr_strdup(opts->cluster);
    p->resource = kr_strdup(opts->resource);
    p->api_version = opts->api_version ? kr_strdup(opts->api_version) : NULL;
    p->kind = opts->kind ? kr_strdup(opts->kind) : NULL;
    if (!p->cluster || !p->resource || (opts->api_version && !p->api_version) ||
        (opts->kind && !p->kind)) {
        kr_inventory_producer_free(p);
        return kr_error_set(err, KR_ENOMEM, "inventory producer: out of memory");
    }
    kr_informer_handler h = {
        .on_add = on_add, .on_update = on_update, .on_delete = on_delete, .user = p};
    int rc = kr_informer_add_handler(p->informer, &h, &p->handler_id, err);
    if (rc != 0) {
        p->handler_id = -1;
        kr_inventory_producer_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int kr_inventory_producer_reconcile(kr_inventory_producer_t *p, kr_inventory_t *inv, size_t *gone,
                                    kr_error_t *err)
{
    if (gone)
        *gone = 0;
    if (!p || !inv)
        return kr_error_set(err, KR_EINVAL, "inventory producer: p and inv are required");
    kr_store_t *store = kr_informer_store(p->informer);
    char *token = NULL;
    int rc = 0;
    do {
        kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
        q.cluster = p->cluster;
        q.kind = p->kind;
        q.limit = 1000;
        q.continue_token = token;
        json_t *items = NULL;
        char *next = NULL;
        rc = kr_inventory_query(inv, &q, &items, &next, err);
        kr_free(token);
        token = next;
        size_t i;
        json_t *row;
        json_array_foreach(items, i, row)
        {
            if (rc != 0)
                break;
            const char *ns = json_string_value(json_object_get(row, "namespace"));
            const char *name = json_string_value(json_object_get(row, "name"));
            const char *uid = json_string_value(json_object_get(row, "uid"));
            json_t *cached = kr_store_get_by_name(store, ns, name);
            const char *cached_uid =
                json_string_value(json_object_get(json_object_get(cached, "metadata"), "uid"));
            bool held = cached && cached_uid && uid && strcmp(cached_uid, uid) == 0;
            json_decref(cached);
            if (held)
                continue;
            kr_inventory_event ev = {.cluster = p->cluster,
                                     .resource = p->resource,
                                     .api_version = p->api_version,
                                     .kind = p->kind,
                                     .type = KR_INVENTORY_DELETED_FINAL_STATE_UNKNOWN,
                                     .object = json_object_get(row, "object")};
            while ((rc = kr_inventory_consumer_enqueue(p->consumer, &ev, err)) == KR_ETOOLARGE)
                if (kr_inventory_consumer_wait_space(p->consumer, 1, 60000) != 0) {
                    rc = kr_error_set(err, KR_ETIMEDOUT,
                                      "inventory producer: no room in the buffer for 60 s");
                    break;
                }
            if (rc == 0 && gone)
                (*gone)++;
        }
        json_decref(items);
    } while (rc == 0 && token);
    kr_free(token);
    return rc;
}
