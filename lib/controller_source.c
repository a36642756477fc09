/* libkreconcile — the controller's inputs: queue keys (making and parsing
 * "[cluster/][namespace/]name"), sources (an informer handler per source)
 * and the mappers that turn an event's object into keys (the object, its
 * owners, or a user function). Handlers run on the informers' loop thread:
 * nothing here blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_internal.h"
#include "informer_internal.h"
#include "internal.h"

/* ---- keys ---------------------------------------------------------------------------- */

int kr_controller_key_parse(const char *key, bool with_cluster, char *buf, size_t buf_len,
                            kr_reconcile_request *out)
{
    if (!key || !buf || !out)
        return KR_EINVAL;
    size_t len = strlen(key);
    if (buf_len < len + 3)
        return KR_ETOOLARGE;
    /* parts: "cluster", "namespace", "name", each non-empty */
    char *parts[3];
    size_t nparts = 0, max_parts = with_cluster ? 3 : 2;
    memcpy(buf, key, len + 1);
    char *empty = buf + len + 1;
    *empty = '\0';
    char *p = buf;
    for (;;) {
        char *slash = strchr(p, '/');
        if (nparts == max_parts)
            return KR_EINVAL;
        parts[nparts++] = p;
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    for (size_t i = 0; i < nparts; i++)
        if (!parts[i][0])
            return KR_EINVAL;
    size_t first = 0;
    out->key = key;
    out->cluster = empty;
    if (with_cluster) {
        if (nparts < 2)
            return KR_EINVAL;
        out->cluster = parts[0];
        first = 1;
    }
    if (nparts - first == 2) {
        out->namespace_ = parts[first];
        out->name = parts[first + 1];
    } else {
        out->namespace_ = empty;
        out->name = parts[first];
    }
    return 0;
}

static bool valid_part(const char *s, bool required)
{
    if (!s || !s[0])
        return !required;
    return strchr(s, '/') == NULL;
}

/* The lane's key of (namespace_, name), in `stack` when it fits, else
 * allocated (free it when it is not `stack`); NULL when out of memory. */
static char *lane_key(const kr_controller_lane *lane, const char *namespace_, const char *name,
                      char *stack, size_t stack_size)
{
    size_t ns_len = namespace_ ? strlen(namespace_) : 0, name_len = strlen(name);
    size_t len = (lane->named ? lane->cluster_len + 1 : 0) + (ns_len ? ns_len + 1 : 0) + name_len;
    char *key = len < stack_size ? stack : kr_malloc(len + 1);
    if (!key)
        return NULL;
    char *p = key;
    if (lane->named) {
        memcpy(p, lane->cluster, lane->cluster_len);
        p += lane->cluster_len;
        *p++ = '/';
    }
    if (ns_len) {
        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the name's copy ends it */
        memcpy(p, namespace_, ns_len);
        p += ns_len;
        *p++ = '/';
    }
    memcpy(p, name, name_len + 1);
    return key;
}

int kr_controller_lane_add(kr_controller_lane *lane, const char *namespace_, const char *name,
                           int priority, uint64_t delay_ms)
{
    if (!valid_part(namespace_, false) || !valid_part(name, true))
        return KR_EINVAL;
    char stack[512], *key = lane_key(lane, namespace_, name, stack, sizeof(stack));
    if (!key)
        return KR_ENOMEM;
    int rc = delay_ms > 0 ? kr_queue_add_after_priority(lane->q, key, delay_ms, priority)
                          : kr_queue_add_priority(lane->q, key, priority);
    if (key != stack)
        kr_free(key);
    return rc;
}

/* ---- enqueueing ---------------------------------------------------------------------- */

static int enqueue(kr_controller_t *ctl, const char *cluster, const char *namespace_,
                   const char *name, uint64_t delay_ms)
{
    if (!ctl)
        return KR_EINVAL;
    if (!valid_part(namespace_, false) || !valid_part(name, true))
        return KR_EINVAL;
    kr_controller_lane *lane;
    int rc = kr_controller_lane_get(ctl, cluster, true, &lane, NULL);
    if (rc != 0)
        return rc;
    return kr_controller_lane_add(lane, namespace_, name, KR_QUEUE_PRIORITY_NORMAL, delay_ms);
}

int kr_controller_enqueue(kr_controller_t *ctl, const char *cluster, const char *namespace_,
                          const char *name)
{
    return enqueue(ctl, cluster, namespace_, name, 0);
}

int kr_controller_enqueue_after(kr_controller_t *ctl, const char *cluster, const char *namespace_,
                                const char *name, uint64_t delay_ms)
{
    return enqueue(ctl, cluster, namespace_, name, delay_ms);
}

bool kr_controller_pending(kr_controller_t *ctl, const char *cluster, const char *namespace_,
                           const char *name)
{
    kr_controller_lane *lane = NULL;
    if (!ctl || !valid_part(namespace_, false) || !valid_part(name, true) ||
        kr_controller_lane_get(ctl, cluster, false, &lane, NULL) != 0 || !lane)
        return false;
    char stack[512], *key = lane_key(lane, namespace_, name, stack, sizeof(stack));
    bool pending = key && kr_queue_has(lane->q, key);
    if (key != stack)
        kr_free(key);
    return pending;
}

/* Which lane a ready-made key belongs to: three parts are
 * cluster/namespace/name (refused when the controller has no cluster's
 * lane: its keys have no cluster, and "a/b/c" is a mistake, not a lane
 * for "a"); two parts are cluster/name when the first names a cluster the
 * controller has a lane for, else namespace/name in the unnamed lane; one
 * part is a name in the unnamed lane. */
int kr_controller_enqueue_key(kr_controller_t *ctl, const char *key)
{
    if (!ctl || !key)
        return KR_EINVAL;
    size_t nslash = 0;
    for (const char *p = key; (p = strchr(p, '/')); p++)
        nslash++;
    if (nslash == 2 && !kr_controller_has_cluster_lanes(ctl))
        return KR_EINVAL;
    size_t need = strlen(key) + 3;
    char stack[512], *buf = need <= sizeof(stack) ? stack : kr_malloc(need);
    if (!buf)
        return KR_ENOMEM;
    /* parsed before any lane is made for it, as a worker will parse it */
    kr_reconcile_request req;
    kr_controller_lane *lane = NULL;
    int rc = 0;
    if (!(nslash == 1 && kr_controller_key_parse(key, true, buf, need, &req) == 0 &&
          kr_controller_lane_get(ctl, req.cluster, false, &lane, NULL) == 0 && lane->named)) {
        bool with_cluster = nslash == 2;
        rc = kr_controller_key_parse(key, with_cluster, buf, need, &req);
        if (rc == 0)
            rc = kr_controller_lane_get(ctl, with_cluster ? req.cluster : NULL, true, &lane, NULL);
    }
    if (buf != stack)
        kr_free(buf);
    return rc != 0 ? rc : kr_queue_add(lane->q, key);
}

/* ---- mapping events to keys ---------------------------------------------------------- */

static const char *meta_str(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

/* Does apiVersion "group/version" (or "version": the core group) name
 * `group`? */
static bool group_matches(const char *api_version, const char *group)
{
    if (!api_version)
        return false;
    const char *slash = strchr(api_version, '/');
    if (!slash)
        return group[0] == '\0';
    size_t glen = (size_t)(slash - api_version);
    return strlen(group) == glen && memcmp(api_version, group, glen) == 0;
}

/* controller-runtime's EnqueueRequestForOwner: every matching owner (or
 * only the controller, OnlyControllerOwner), in the object's namespace
 * (none for a cluster-scoped owner). */
static void map_owners(kr_controller_src *s, const json_t *obj, int priority)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    const char *ns = s->owner_cluster_scoped ? NULL : meta_str(obj, "namespace");
    size_t i;
    const json_t *ref;
    json_array_foreach(refs, i, ref)
    {
        const char *kind = json_string_value(json_object_get(ref, "kind"));
        const char *name = json_string_value(json_object_get(ref, "name"));
        if (!kind || !name || strcmp(kind, s->owner_kind) != 0)
            continue;
        if (s->owner_controller_only && !json_is_true(json_object_get(ref, "controller")))
            continue;
        if (s->owner_group &&
            !group_matches(json_string_value(json_object_get(ref, "apiVersion")), s->owner_group))
            continue;
        (void)kr_controller_lane_add(s->lane, ns, name, priority, 0);
    }
}

static void map_object(kr_controller_src *s, const json_t *obj, int priority)
{
    switch (s->map) {
    case KR_CONTROLLER_MAP_SELF: {
        const char *name = meta_str(obj, "name");
        if (name)
            (void)kr_controller_lane_add(s->lane, meta_str(obj, "namespace"), name, priority, 0);
        break;
    }
    case KR_CONTROLLER_MAP_OWNER:
        map_owners(s, obj, priority);
        break;
    case KR_CONTROLLER_MAP_FUNC:
        s->map_cb(s->ctl, s->lane->cluster, obj, s->map_user);
        break;
    }
}

static void on_add(const json_t *obj, void *user)
{
    kr_controller_src *s = user;
    if (s->predicate && !s->predicate(NULL, obj, s->predicate_user))
        return;
    /* controller-runtime puts the initial list in the low-priority lane */
    bool initial = kr_informer_replaying(s->informer) || !kr_informer_has_synced(s->informer);
    map_object(s, obj,
               initial && !s->normal_priority_resync ? KR_QUEUE_PRIORITY_LOW
                                                     : KR_QUEUE_PRIORITY_NORMAL);
}

static void on_update(const json_t *old_obj, const json_t *new_obj, void *user)
{
    kr_controller_src *s = user;
    if (s->predicate && !s->predicate(old_obj, new_obj, s->predicate_user))
        return;
    /* a resync (the same object) or an update that changed nothing */
    const char *old_rv = meta_str(old_obj, "resourceVersion"),
               *new_rv = meta_str(new_obj, "resourceVersion");
    bool unchanged = old_obj == new_obj || (old_rv && new_rv && strcmp(old_rv, new_rv) == 0);
    int priority =
        unchanged && !s->normal_priority_resync ? KR_QUEUE_PRIORITY_LOW : KR_QUEUE_PRIORITY_NORMAL;
    map_object(s, new_obj, priority);
    /* the owner (or a user mapping) may have changed: both are looked at */
    if (old_obj != new_obj && s->map != KR_CONTROLLER_MAP_SELF)
        map_object(s, old_obj, priority);
}

static void on_delete(const json_t *obj, bool final_state_unknown, void *user)
{
    (void)final_state_unknown;
    kr_controller_src *s = user;
    if (s->predicate && !s->predicate(NULL, obj, s->predicate_user))
        return;
    map_object(s, obj, KR_QUEUE_PRIORITY_NORMAL);
}

/* ---- sources ------------------------------------------------------------------------- */

static void src_free(kr_controller_src *s)
{
    if (!s)
        return;
    kr_free(s->owner_kind);
    kr_free(s->owner_group);
    kr_free(s);
}

static int src_new(kr_controller_t *ctl, const kr_controller_source *src, kr_controller_src **out,
                   kr_error_t *err)
{
    kr_controller_src *s = kr_calloc(1, sizeof(*s));
    if (!s) {
        kr_error_set(err, KR_ENOMEM, "controller %s: out of memory", ctl->name);
        return KR_ENOMEM; /* spelled out: the analyzer cannot see kr_error_set's result */
    }
    s->ctl = ctl;
    s->informer = src->informer;
    s->map = src->map;
    s->map_cb = src->map_cb;
    s->map_user = src->map_user;
    s->predicate = src->predicate;
    s->predicate_user = src->predicate_user;
    s->normal_priority_resync = src->normal_priority_resync;
    s->lane_sync = src->version >= 2 && src->lane_sync;
    s->unsynced_ok = src->version >= 5 && src->unsynced_ok;
    s->owner_cluster_scoped = src->version >= 3 && src->owner_cluster_scoped;
    s->owner_controller_only = src->version >= 6 && src->owner_controller_only;
    if (src->map == KR_CONTROLLER_MAP_OWNER &&
        (!(s->owner_kind = kr_strdup(src->owner_kind)) ||
         (src->owner_group && !(s->owner_group = kr_strdup(src->owner_group))))) {
        src_free(s);
        kr_error_set(err, KR_ENOMEM, "controller %s: out of memory", ctl->name);
        return KR_ENOMEM;
    }
    int rc = kr_controller_lane_get(ctl, src->cluster, true, &s->lane, err);
    if (rc != 0) {
        src_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int check_source(kr_controller_t *ctl, const kr_controller_source *src, kr_error_t *err)
{
    if (!src || !src->informer)
        return kr_error_set(err, KR_EINVAL, "controller %s: a source needs an informer", ctl->name);
    if (src->version > KR_CONTROLLER_SOURCE_VERSION)
        return kr_error_set(err, KR_EINVAL, "controller %s: source version %u is newer than %u",
                            ctl->name, src->version, KR_CONTROLLER_SOURCE_VERSION);
    switch (src->map) {
    case KR_CONTROLLER_MAP_SELF:
        return 0;
    case KR_CONTROLLER_MAP_OWNER:
        if (!src->owner_kind || !src->owner_kind[0])
            return kr_error_set(err, KR_EINVAL, "controller %s: owner mapping without owner_kind",
                                ctl->name);
        return 0;
    case KR_CONTROLLER_MAP_FUNC:
        if (!src->map_cb)
            return kr_error_set(err, KR_EINVAL, "controller %s: function mapping without map_cb",
                                ctl->name);
        return 0;
    }
    return kr_error_set(err, KR_EINVAL, "controller %s: unknown mapping %d", ctl->name,
                        (int)src->map);
}

/* Room for one more source (mu held). */
static bool sources_reserve(kr_controller_t *ctl)
{
    return kr_array_grow(&ctl->sources, &ctl->sources_cap, ctl->nsources,
                         sizeof(kr_controller_src *), 4) == 0;
}

/* A source that holds its lane (lane_sync) or the gate (added while
 * running) until it syncs holds it from before its handler is added, whose
 * replay of a partial cache may enqueue: `adding` keeps both held until
 * the source is in the list that says why. Before the start the gate is
 * closed too (the start may come first); once the source is listed, the
 * gate lets go unless it came late (mu held). */
static bool hold_for(kr_controller_t *ctl, kr_controller_src *s)
{
    if (s->unsynced_ok || kr_informer_has_synced(s->informer))
        return false;
    ctl->adding++;
    if (s->lane_sync)
        atomic_store(&s->lane->held, true);
    else
        atomic_store(&ctl->gated, true);
    return true;
}

int kr_controller_watch(kr_controller_t *ctl, const kr_controller_source *src, kr_error_t *err)
{
    if (!ctl)
        return kr_error_set(err, KR_EINVAL, "controller: NULL");
    int rc = check_source(ctl, src, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&ctl->mu);
    bool stopped = ctl->state == KR_CTL_STOPPED;
    pthread_mutex_unlock(&ctl->mu);
    if (stopped)
        return kr_error_set(err, KR_ESHUTDOWN, "controller %s: stopped", ctl->name);
    kr_controller_src *s = NULL;
    if ((rc = src_new(ctl, src, &s, err)) != 0)
        return rc;
    pthread_mutex_lock(&ctl->mu);
    bool holding = hold_for(ctl, s);
    pthread_mutex_unlock(&ctl->mu);
    /* the handler is added without the lock: its replay of the cache
     * enqueues, which may create lanes */
    kr_informer_handler h = {.on_add = on_add,
                             .on_update = on_update,
                             .on_delete = on_delete,
                             .resync_ms = src->version >= 4 ? src->resync_ms : 0,
                             .user = s};
    rc = kr_informer_add_handler(src->informer, &h, &s->handler_id, err);
    pthread_mutex_lock(&ctl->mu);
    if (holding)
        ctl->adding--;
    if (rc != 0) {
        pthread_mutex_unlock(&ctl->mu);
        src_free(s);
        return rc;
    }
    stopped = ctl->state == KR_CTL_STOPPED;
    bool added = !stopped && sources_reserve(ctl);
    if (added) {
        /* a source added once the workers may have looked at the caches
         * is waited on by the gate, from now for cache_sync_timeout_ms */
        s->late = ctl->state == KR_CTL_STARTED;
        s->deadline_ns = kr_ns_after_ms(kr_clock_monotonic_ns(), ctl->cache_sync_timeout_ms);
        ctl->sources[ctl->nsources++] = s;
        if (!s->unsynced_ok && !kr_informer_has_synced(s->informer)) {
            if (s->lane_sync)
                atomic_store(&s->lane->held, true);
            else if (s->late)
                atomic_store(&ctl->gated, true);
        }
    }
    pthread_mutex_unlock(&ctl->mu);
    if (!added) {
        kr_informer_remove_handler(src->informer, s->handler_id);
        src_free(s);
        return stopped ? kr_error_set(err, KR_ESHUTDOWN, "controller %s: stopped", ctl->name)
                       : kr_error_set(err, KR_ENOMEM, "controller %s: out of memory", ctl->name);
    }
    return 0;
}

void kr_controller_sources_remove(kr_controller_t *ctl)
{
    /* the state is STOPPED: the array no longer grows */
    pthread_mutex_lock(&ctl->mu);
    size_t n = ctl->nsources;
    pthread_mutex_unlock(&ctl->mu);
    for (size_t i = 0; i < n; i++)
        kr_informer_remove_handler(ctl->sources[i]->informer, ctl->sources[i]->handler_id);
}

void kr_controller_sources_free(kr_controller_t *ctl)
{
    for (size_t i = 0; i < ctl->nsources; i++)
        src_free(ctl->sources[i]);
    kr_free(ctl->sources);
    ctl->sources = NULL;
    ctl->nsources = 0;
}

void kr_controller_unsynced_sources(kr_controller_t *ctl, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    pthread_mutex_lock(&ctl->mu);
    for (size_t i = 0; i < ctl->nsources && used < len; i++) {
        const kr_controller_src *s = ctl->sources[i];
        if (s->lane_sync || s->unsynced_ok || kr_informer_has_synced(s->informer))
            continue;
        int n = snprintf(out + used, len - used, "%s%s", used ? ", " : "",
                         kr_informer_describe(s->informer));
        used += n > 0 ? (size_t)n : 0;
    }
    pthread_mutex_unlock(&ctl->mu);
}

bool kr_controller_sources_synced(kr_controller_t *ctl)
{
    pthread_mutex_lock(&ctl->mu);
    bool synced = true;
    for (size_t i = 0; i < ctl->nsources && synced; i++)
        synced = ctl->sources[i]->lane_sync || ctl->sources[i]->unsynced_ok ||
                 kr_informer_has_synced(ctl->sources[i]->informer);
    pthread_mutex_unlock(&ctl->mu);
    return synced;
}

bool kr_controller_lane_ready(kr_controller_t *ctl, kr_controller_lane *lane)
{
    if (!atomic_load(&lane->held))
        return true;
    pthread_mutex_lock(&ctl->mu);
    bool ready = ctl->adding == 0;
    for (size_t i = 0; i < ctl->nsources && ready; i++) {
        const kr_controller_src *s = ctl->sources[i];
        ready = s->lane != lane || !s->lane_sync || kr_informer_has_synced(s->informer);
    }
    if (ready)
        atomic_store(&lane->held, false);
    pthread_mutex_unlock(&ctl->mu);
    return ready;
}

bool kr_controller_gate_open(kr_controller_t *ctl)
{
    if (!atomic_load(&ctl->gated))
        return true;
    char late[512] = "";
    size_t used = 0;
    bool open, timed_out = false;
    int64_t now = kr_clock_monotonic_ns();
    pthread_mutex_lock(&ctl->mu);
    open = ctl->adding == 0;
    for (size_t i = 0; i < ctl->nsources; i++) {
        const kr_controller_src *s = ctl->sources[i];
        if (!s->late || s->lane_sync || s->unsynced_ok || kr_informer_has_synced(s->informer))
            continue;
        open = false;
        if (now < s->deadline_ns || ctl->state != KR_CTL_STARTED)
            continue;
        timed_out = true;
        if (used < sizeof(late)) {
            int n = snprintf(late + used, sizeof(late) - used, "%s%s", used ? ", " : "",
                             kr_informer_describe(s->informer));
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (open)
        atomic_store(&ctl->gated, false);
    pthread_mutex_unlock(&ctl->mu);
    if (timed_out && !atomic_exchange(&ctl->sync_failed, true)) {
        kr_log_field fields[] = {{"controller", ctl->name}};
        kr_log_fields(&ctl->logger, KR_LOG_ERROR, KR_CONTROLLER_MODULE, fields, 1,
                      "timed out waiting for the caches to sync after %llu ms (sources added while "
                      "running): %s",
                      (unsigned long long)ctl->cache_sync_timeout_ms, late);
        kr_mutex_lock(&ctl->idle_mu);
        atomic_fetch_add(&ctl->wake_seq, 1);
        kr_cond_broadcast(&ctl->idle_cond);
        kr_mutex_unlock(&ctl->idle_mu);
    }
    return open;
}

/* ---- predicates of common use -------------------------------------------------------- */

static const json_t *metadata_of(const json_t *obj, const char *field)
{
    return json_object_get(json_object_get(obj, "metadata"), field);
}

/* Go's zero value of an integer or a string field: absent and null too. */
static bool is_zero(const json_t *v, bool integer)
{
    if (!v || json_is_null(v))
        return true;
    return integer ? json_is_integer(v) && json_integer_value(v) == 0
                   : json_is_string(v) && json_string_length(v) == 0;
}

/* An update (both objects given) passes when metadata.<field> differs, as
 * Go reads it (absent and null are the zero value: 0, ""); an update
 * without its new object does not pass; anything else passes. */
static bool metadata_changed(const json_t *old_obj, const json_t *new_obj, const char *field,
                             bool integer)
{
    if (!old_obj || !new_obj)
        return !new_obj ? !old_obj : true;
    const json_t *a = metadata_of(old_obj, field), *b = metadata_of(new_obj, field);
    bool za = is_zero(a, integer), zb = is_zero(b, integer);
    if (za || zb)
        return za != zb;
    return !json_equal(a, b);
}

bool kr_predicate_generation_changed(const json_t *old_obj, const json_t *new_obj, void *user)
{
    (void)user;
    return metadata_changed(old_obj, new_obj, "generation", true);
}

bool kr_predicate_resource_version_changed(const json_t *old_obj, const json_t *new_obj, void *user)
{
    (void)user;
    return metadata_changed(old_obj, new_obj, "resourceVersion", false);
}

/* Labels and annotations: absent, null and {} are the same (Go's
 * maps.Equal of nil and empty maps). */
static bool map_changed(const json_t *old_obj, const json_t *new_obj, const char *field)
{
    if (!old_obj || !new_obj)
        return !new_obj ? !old_obj : true;
    const json_t *a = metadata_of(old_obj, field), *b = metadata_of(new_obj, field);
    bool a_empty = !a || json_is_null(a) || (json_is_object(a) && json_object_size(a) == 0);
    bool b_empty = !b || json_is_null(b) || (json_is_object(b) && json_object_size(b) == 0);
    if (a_empty || b_empty)
        return a_empty != b_empty;
    return !json_equal(a, b);
}

bool kr_predicate_labels_changed(const json_t *old_obj, const json_t *new_obj, void *user)
{
    (void)user;
    return map_changed(old_obj, new_obj, "labels");
}

bool kr_predicate_annotations_changed(const json_t *old_obj, const json_t *new_obj, void *user)
{
    (void)user;
    return map_changed(old_obj, new_obj, "annotations");
}
