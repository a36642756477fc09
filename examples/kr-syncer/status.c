/* kr-syncer — the kreconcile.io/sync-status annotation of a hub object: one
 * JSON entry per workload cluster. It is written only when an entry changes
 * in something other than its time, so that writing it (which changes the
 * hub object, which wakes every lane) can never start a write loop. Pure
 * but for the clock read that stamps an entry. */
#include <string.h>
#include <time.h>

#include "syncer.h"

json_t *syncer_status_parse(const json_t *hub)
{
    const json_t *annotations = json_object_get(json_object_get(hub, "metadata"), "annotations");
    const char *text = json_string_value(json_object_get(annotations, KR_ANNOTATION_SYNC_STATUS));
    json_t *entries = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(entries)) {
        json_decref(entries);
        entries = json_object();
    }
    return entries;
}

static int set_string(json_t *obj, const char *key, const char *value)
{
    if (!value || !*value)
        return 0;
    return json_object_set_new(obj, key, json_string(value));
}

json_t *syncer_status_entry(const syncer_status *st)
{
    char now[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *entry = json_object();
    if (!entry)
        return NULL;
    int rc = set_string(entry, "sourceResourceVersion", st->source_resource_version);
    rc |= set_string(entry, "targetResourceVersion", st->target_resource_version);
    rc |= json_object_set_new(entry, "verified", json_boolean(st->verified));
    if (st->deleted)
        rc |= json_object_set_new(entry, "deleted", json_true());
    rc |= set_string(entry, "time", now);
    rc |= set_string(entry, "lastError", st->last_error);
    if (rc != 0) {
        json_decref(entry);
        return NULL;
    }
    return entry;
}

bool syncer_status_same(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    if (json_object_size(a) != json_object_size(b))
        return false;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)a, key, value)
    {
        if (strcmp(key, "time") == 0)
            continue;
        if (!json_equal(value, json_object_get(b, key)))
            return false;
    }
    return true;
}

int syncer_status_patch_entries(const json_t *hub, const json_t *updates,
                                syncer_finalizer finalizer, json_t **out, kr_error_t *err)
{
    *out = NULL;
    json_t *entries = syncer_status_parse(hub);
    if (!entries)
        return kr_error_set(err, KR_ENOMEM, "out of memory reading the sync status");
    bool changed = false;
    int rc = 0;
    const char *cluster;
    json_t *entry;
    json_object_foreach((json_t *)updates, cluster, entry)
    {
        if (json_is_null(entry))
            entry = NULL;
        if (syncer_status_same(json_object_get(entries, cluster), entry))
            continue;
        changed = true;
        rc |= entry ? json_object_set(entries, cluster, entry) : json_object_del(entries, cluster);
    }
    json_t *patch = NULL;
    if (rc == 0 && finalizer != SYNCER_FINALIZER_KEEP)
        rc = kr_managed_finalizer_patch(hub, KR_FINALIZER_SYNCER, finalizer == SYNCER_FINALIZER_ADD,
                                        &patch, err);
    if (rc == 0 && changed) {
        char *text =
            json_object_size(entries) ? json_dumps(entries, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        const char *rv =
            json_string_value(json_object_get(json_object_get(hub, "metadata"), "resourceVersion"));
        if (!patch)
            patch = json_pack("{s:{s:s?}}", "metadata", "resourceVersion", rv);
        json_t *annotations = json_object();
        json_t *meta = json_object_get(patch, "metadata");
        if (!patch || !annotations ||
            json_object_set_new(annotations, KR_ANNOTATION_SYNC_STATUS,
                                text ? json_string(text) : json_null()) != 0 ||
            json_object_set(meta, "annotations", annotations) != 0)
            rc = KR_ENOMEM;
        json_decref(annotations);
        free(text);
    }
    json_decref(entries);
    if (rc != 0) {
        json_decref(patch);
        return kr_error_set(err, rc < 0 ? rc : KR_ENOMEM, "cannot build the sync-status patch");
    }
    *out = patch;
    return 0;
}

int syncer_status_patch(const json_t *hub, const char *cluster, const json_t *entry,
                        syncer_finalizer finalizer, json_t **out, kr_error_t *err)
{
    *out = NULL;
    json_t *updates = json_object();
    if (!updates ||
        json_object_set_new(updates, cluster, entry ? json_incref((json_t *)entry) : json_null())) {
        json_decref(updates);
        return kr_error_set(err, KR_ENOMEM, "out of memory building the sync-status patch");
    }
    int rc = syncer_status_patch_entries(hub, updates, finalizer, out, err);
    json_decref(updates);
    return rc;
}
