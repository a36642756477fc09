/* libkreconcile-testserver — DELETE and deletecollection: DeleteOptions,
 * preconditions, finalizers and deletionTimestamp, the Status-or-object
 * answer, namespace and CRD contents, ownerReference cascade (wire spec
 * §3, §9). Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

#define MAX_CASCADE_DEPTH 8

static void delete_now(kr_testserver_t *ts, const ts_resource *res, const char *ns,
                       const char *name, int depth);
static void respond_deleted(ts_response *resp, const ts_resource *res, json_t *last, bool gone,
                            bool orphan_false);

static ts_obj *find_uid(kr_testserver_t *ts, const char *uid, const ts_resource **res);
static void foreground_resume(kr_testserver_t *ts, json_t *uids);
static long finalizer_at(const json_t *obj, const char *finalizer);
static void replace(kr_testserver_t *ts, const ts_resource *res, const char *ns, const char *name,
                    json_t *next);

static json_t *with_rv(kr_testserver_t *ts, const json_t *obj)
{
    json_t *copy = json_deep_copy(obj);
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", ++ts->rv);
    if (copy)
        json_object_set_new(ts_meta(copy), "resourceVersion", json_string(rv));
    return copy;
}

/* An owner waiting for its dependents to go (deleted in the foreground):
 * no owner to keep a dependent alive. */
static bool waiting_for_dependents(const json_t *owner)
{
    return json_object_get(json_object_get(owner, "metadata"), "deletionTimestamp") &&
           finalizer_at(owner, "foregroundDeletion") >= 0;
}

/* Whether `dep` keeps an owner besides `uid` (going): one that exists and
 * is not waiting for its dependents (the collector's "solid" owners). A
 * dependent with one is not deleted; it loses its references to the
 * others. */
static bool keeps_an_owner(kr_testserver_t *ts, const json_t *dep, const char *uid)
{
    size_t k;
    const json_t *ref;
    json_array_foreach(json_object_get(json_object_get(dep, "metadata"), "ownerReferences"), k, ref)
    {
        const char *u = json_string_value(json_object_get(ref, "uid"));
        const ts_resource *r = NULL;
        ts_obj *owner = u && strcmp(u, uid) != 0 ? find_uid(ts, u, &r) : NULL;
        if (owner && !waiting_for_dependents(owner->obj))
            return true;
    }
    return false;
}

/* The collector's patch of a dependent that keeps an owner: its
 * references to `uid` and to owners gone or waiting for their dependents
 * are removed (a MODIFIED event). */
static void drop_owner_refs(kr_testserver_t *ts, const ts_resource *res, const ts_obj *dep,
                            const char *uid)
{
    json_t *next = with_rv(ts, dep->obj), *waiting = json_array();
    char *ns = kr_strdup(dep->ns), *name = kr_strdup(dep->name);
    json_t *refs = next ? json_object_get(ts_meta(next), "ownerReferences") : NULL;
    for (size_t k = json_array_size(refs); k-- > 0;) {
        const json_t *u = json_object_get(json_array_get(refs, k), "uid");
        const ts_resource *r = NULL;
        ts_obj *owner = json_string_value(u) && strcmp(json_string_value(u), uid) != 0
                            ? find_uid(ts, json_string_value(u), &r)
                            : NULL;
        if (owner && waiting_for_dependents(owner->obj))
            json_array_append(waiting, (json_t *)u); /* its deletion may go on now */
        if (!owner || waiting_for_dependents(owner->obj))
            json_array_remove(refs, k);
    }
    if (next && ns && name)
        replace(ts, res, ns, name, next);
    json_decref(next);
    foreground_resume(ts, waiting);
    json_decref(waiting);
    kr_free(ns);
    kr_free(name);
}

static void remove_matching(kr_testserver_t *ts, ts_store *st, const char *ns, const char *uid,
                            int depth)
{
    for (size_t r = 0; r < ts->nresources; r++) {
        ts_resource *res = ts->resources[r];
        if (res->store != st || !res->namespaced)
            continue;
        for (size_t i = st->len; i-- > 0;) {
            const json_t *o = st->items[i].obj;
            bool hit = false;
            if (ns && !uid)
                hit = strcmp(st->items[i].ns, ns) == 0;
            size_t k;
            const json_t *ref;
            for (k = 0; k < json_array_size(json_object_get(json_object_get(o, "metadata"),
                                                            "ownerReferences")) &&
                        (ref = json_array_get(
                             json_object_get(json_object_get(o, "metadata"), "ownerReferences"),
                             k)) != NULL;
                 k++) {
                const char *ru = json_string_value(json_object_get(ref, "uid"));
                hit = hit || (uid && ru && strcmp(ru, uid) == 0);
            }
            if (hit && i < st->len && uid && keeps_an_owner(ts, o, uid))
                drop_owner_refs(ts, res, &st->items[i], uid);
            else if (hit && i < st->len)
                delete_now(ts, res, st->items[i].ns, st->items[i].name, depth + 1);
        }
        break;
    }
}

/* Namespaces take their contents with them; owners take dependents. */
static void delete_dependents(kr_testserver_t *ts, const ts_resource *res, const json_t *obj,
                              int depth)
{
    if (depth > MAX_CASCADE_DEPTH)
        return;
    const char *uid = ts_meta_str(obj, "uid");
    bool is_ns = ts_resource_is(res, "", "namespaces");
    const char *name = ts_meta_str(obj, "name");
    for (size_t s = 0; s < ts->nstores; s++)
        remove_matching(ts, ts->stores[s], is_ns ? name : NULL, is_ns ? NULL : uid, depth);
}

static bool has_finalizers(const json_t *obj)
{
    return json_array_size(json_object_get(json_object_get(obj, "metadata"), "finalizers")) > 0;
}

/* Mark `obj` (a copy of ours) for deletion now, and move its generation
 * for kinds that keep one. */
static void mark(const ts_resource *res, json_t *obj)
{
    char now[32];
    ts_timestamp(now);
    json_t *md = ts_meta(obj);
    json_object_set_new(md, "deletionTimestamp", json_string(now));
    json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
    if (res->generation)
        json_object_set_new(
            md, "generation",
            json_integer(json_integer_value(json_object_get(md, "generation")) + 1));
}

/* A copy of obj at the next resourceVersion, marked for deletion; NULL
 * out of memory. */
static json_t *marked_for_deletion(kr_testserver_t *ts, const ts_resource *res, const json_t *obj)
{
    json_t *marked = with_rv(ts, obj);
    if (marked)
        mark(res, marked);
    return marked;
}

/* Store next in place of the object at ns/name (copies of the strings:
 * they may be the store's own) with its MODIFIED event. */
static void replace(kr_testserver_t *ts, const ts_resource *res, const char *ns, const char *name,
                    json_t *next)
{
    ts_obj *o = ts_store_get(res->store, ns, name);
    json_t *old = o ? json_incref(o->obj) : NULL;
    char *n = kr_strdup(ns), *m = kr_strdup(name);
    if (old && n && m && ts_store_put(res->store, n, m, json_incref(next)) == 0)
        ts_record_event(ts, res, TS_MODIFIED, next, old);
    json_decref(old);
    kr_free(n);
    kr_free(m);
}

/* The resource serving store st (its first; versions share a store). */
static const ts_resource *resource_of(kr_testserver_t *ts, const ts_store *st)
{
    for (size_t r = 0; r < ts->nresources; r++)
        if (ts->resources[r]->store == st)
            return ts->resources[r];
    return NULL;
}

/* Mark (finalizers) or remove one object; returns the new state (new ref). */
static json_t *delete_one(kr_testserver_t *ts, const ts_resource *res, const char *ns,
                          const char *name, bool *gone)
{
    ts_obj *o = ts_store_get(res->store, ns, name);
    json_t *cur = json_incref(o->obj);
    *gone = false;
    if (has_finalizers(cur)) {
        if (json_object_get(json_object_get(cur, "metadata"), "deletionTimestamp"))
            return cur;
        json_t *marked = marked_for_deletion(ts, res, cur);
        if (!marked)
            return cur;
        replace(ts, res, ns, name, marked);
        json_decref(cur);
        return marked;
    }
    json_t *last = with_rv(ts, cur);
    if (!last) {
        json_decref(cur);
        return NULL;
    }
    /* ns and name may be the store's own strings, gone with the item */
    char *space = res->namespaced && !ts->ns_sweeping ? kr_strdup(ns) : NULL;
    ts_store_remove(res->store, ns, name);
    ts_record_event(ts, res, TS_DELETED, last, cur); /* the state stored before, for the past */
    json_decref(cur);
    *gone = true;
    if (space)
        ts_namespace_sync(ts, space);
    kr_free(space);
    ts_owners_sync(ts, last);
    if (ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions"))
        ts_crd_removed(ts, last);
    ts_dependents_sync(ts, res);
    return last;
}

static void delete_now(kr_testserver_t *ts, const ts_resource *res, const char *ns,
                       const char *name, int depth)
{
    bool gone;
    json_t *last = delete_one(ts, res, ns, name, &gone);
    if (last && gone)
        delete_dependents(ts, res, last, depth);
    json_decref(last);
}

/* ---- namespaces -------------------------------------------------------------------- */

static ts_resource *namespaces(kr_testserver_t *ts)
{
    return ts_resource_find(ts, "", "v1", "namespaces");
}

bool ts_namespace_terminating(kr_testserver_t *ts, const char *ns)
{
    ts_resource *nsr = namespaces(ts);
    ts_obj *o = nsr ? ts_store_get(nsr->store, "", ns) : NULL;
    return o && json_object_get(json_object_get(o->obj, "metadata"), "deletionTimestamp");
}

bool ts_namespace_finalized(const json_t *ns)
{
    return json_object_get(json_object_get(ns, "metadata"), "deletionTimestamp") &&
           !has_finalizers(ns) &&
           json_array_size(json_object_get(json_object_get(ns, "spec"), "finalizers")) == 0;
}

/* The namespaced resource served from store st, or NULL. */
static const ts_resource *store_resource(kr_testserver_t *ts, const ts_store *st)
{
    const ts_resource *r = resource_of(ts, st);
    return r && r->namespaced ? r : NULL;
}

static void count(json_t *counts, const char *key)
{
    json_t *n = json_object_get(counts, key);
    json_object_set_new(counts, key, json_integer(n ? json_integer_value(n) + 1 : 1));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "A in N resource instances" lines, sorted, joined. */
static char *joined(const json_t *counts, const char *fmt)
{
    json_t *lines = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)counts, k, v)
    {
        char *l = kr_asprintf(fmt, k, (long long)json_integer_value(v));
        if (l)
            json_array_append_new(lines, json_string(l));
        kr_free(l);
    }
    size_t n = json_array_size(lines);
    const char **sorted = kr_calloc(n ? n : 1, sizeof(*sorted));
    kr_buf out = {0};
    for (size_t i = 0; sorted && i < n; i++)
        sorted[i] = json_string_value(json_array_get(lines, i));
    if (sorted)
        qsort(sorted, n, sizeof(*sorted), cmp_str);
    for (size_t i = 0; sorted && i < n; i++)
        kr_buf_printf(&out, "%s%s", i ? ", " : "", sorted[i]);
    kr_free(sorted);
    json_decref(lines);
    char *text = kr_strdup(out.data ? out.data : "");
    kr_buf_free(&out);
    return text;
}

/* The namespace controller's five conditions, a transition time kept
 * where a status stays. */
static json_t *ns_conditions(const json_t *old, const json_t *resources, const json_t *finalizers)
{
    static const char *const ok[][3] = {
        {"NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered",
         "All resources successfully discovered"},
        {"NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions",
         "All legacy kube types successfully parsed"},
        {"NamespaceDeletionContentFailure", "ContentDeleted",
         "All content successfully deleted, may be waiting on finalization"},
        {"NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"},
        {"NamespaceFinalizersRemaining", "ContentHasNoFinalizers",
         "All content-preserving finalizers finished"},
    };
    char now[32];
    ts_timestamp(now);
    char *left =
        json_object_size(resources) ? joined(resources, "%s has %lld resource instances") : NULL;
    char *held =
        json_object_size(finalizers) ? joined(finalizers, "%s in %lld resource instances") : NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < KR_ARRAY_LEN(ok); i++) {
        const char *status = "False", *reason = ok[i][1];
        char *message = kr_strdup(ok[i][2]);
        if (i == 3 && left) {
            status = "True";
            reason = "SomeResourcesRemain";
            kr_free(message);
            message = kr_asprintf("Some resources are remaining: %s", left);
        } else if (i == 4 && held) {
            status = "True";
            reason = "SomeFinalizersRemain";
            kr_free(message);
            message =
                kr_asprintf("Some content in the namespace has finalizers remaining: %s", held);
        }
        const char *since = now;
        size_t j;
        const json_t *c;
        json_array_foreach((json_t *)old, j, c)
        {
            const char *t = json_string_value(json_object_get(c, "type"));
            const char *st = json_string_value(json_object_get(c, "status"));
            const char *lt = json_string_value(json_object_get(c, "lastTransitionTime"));
            if (t && st && lt && strcmp(t, ok[i][0]) == 0 && strcmp(st, status) == 0)
                since = lt;
        }
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", ok[i][0],
                                             "status", status, "lastTransitionTime", since,
                                             "reason", reason, "message", message ? message : ""));
        kr_free(message);
    }
    kr_free(left);
    kr_free(held);
    return out;
}

void ts_namespace_sync(kr_testserver_t *ts, const char *ns)
{
    ts_resource *nsr = namespaces(ts);
    ts_obj *o = nsr && ns && *ns ? ts_store_get(nsr->store, "", ns) : NULL;
    if (!o || !json_object_get(json_object_get(o->obj, "metadata"), "deletionTimestamp"))
        return;
    json_t *resources = json_object(), *finalizers = json_object();
    for (size_t s = 0; s < ts->nstores; s++) {
        const ts_resource *res = store_resource(ts, ts->stores[s]);
        const ts_store *st = ts->stores[s];
        for (size_t i = res ? ts_store_lower_bound(st, ns, "") : st->len;
             i < st->len && strcmp(st->items[i].ns, ns) == 0; i++) {
            char *key = kr_asprintf("%s.%s", res->plural, res->group);
            if (key)
                count(resources, key);
            kr_free(key);
            size_t f;
            const json_t *fin;
            json_array_foreach(
                json_object_get(json_object_get(st->items[i].obj, "metadata"), "finalizers"), f,
                fin)
            {
                if (json_is_string(fin))
                    count(finalizers, json_string_value(fin));
            }
        }
    }
    json_t *next = json_deep_copy(o->obj);
    json_t *status = next ? json_object_get(next, "status") : NULL;
    if (next && !json_is_object(status)) {
        status = json_object();
        json_object_set_new(next, "status", status);
    }
    if (status) {
        json_object_set_new(status, "phase", json_string("Terminating"));
        json_object_set_new(
            status, "conditions",
            ns_conditions(json_object_get(json_object_get(o->obj, "status"), "conditions"),
                          resources, finalizers));
    }
    json_t *spec = next ? json_object_get(next, "spec") : NULL;
    json_t *fins = json_object_get(spec, "finalizers");
    if (json_object_size(resources) == 0 && json_is_array(fins)) {
        /* nothing left: the namespace controller lets go */
        for (size_t i = json_array_size(fins); i-- > 0;)
            if (json_is_string(json_array_get(fins, i)) &&
                strcmp(json_string_value(json_array_get(fins, i)), "kubernetes") == 0)
                json_array_remove(fins, i);
        if (json_array_size(fins) == 0)
            json_object_del(spec, "finalizers");
    }
    json_decref(resources);
    json_decref(finalizers);
    if (!next || json_equal(next, o->obj)) {
        json_decref(next);
        return;
    }
    json_t *stamped = with_rv(ts, next);
    json_decref(next);
    if (!stamped)
        return;
    if (ts_namespace_finalized(stamped)) {
        /* The namespace controller writes the status, then its finalize
         * call deletes the namespace as stored (deleteWithoutFinalizers):
         * the DELETED event keeps spec.finalizers as they were. */
        const json_t *stored_spec = json_object_get(o->obj, "spec");
        if (stored_spec)
            json_object_set_new(stamped, "spec", json_deep_copy(stored_spec));
        else
            json_object_del(stamped, "spec");
        json_t *before = json_incref(o->obj);
        ts_store_remove(nsr->store, "", ns);
        ts_record_event(ts, nsr, TS_DELETED, stamped, before);
        json_decref(before);
    } else {
        replace(ts, nsr, "", ns, stamped);
    }
    json_decref(stamped);
}

/* DELETE of a namespace: Terminating, its contents deleted (their
 * finalizers honoured), then gone once nothing is left. Answers the
 * namespace as marked. */
static void delete_namespace(kr_testserver_t *ts, const ts_resource *res, const char *name,
                             ts_response *resp)
{
    ts_obj *cur = ts_store_get(res->store, "", name);
    json_t *marked = json_incref(cur->obj);
    if (!json_object_get(json_object_get(marked, "metadata"), "deletionTimestamp")) {
        json_decref(marked);
        marked = marked_for_deletion(ts, res, cur->obj);
        if (!marked) {
            ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
            return;
        }
        json_t *status = json_object_get(marked, "status");
        if (json_is_object(status))
            json_object_set_new(status, "phase", json_string("Terminating"));
        else
            json_object_set_new(marked, "status", json_pack("{s:s}", "phase", "Terminating"));
        replace(ts, res, "", name, marked);
    }
    ts_respond_json(resp, 200, json_incref(marked));
    ts->ns_sweeping = true;
    for (size_t s = 0; s < ts->nstores; s++) {
        const ts_resource *r = store_resource(ts, ts->stores[s]);
        ts_store *st = ts->stores[s];
        if (!r)
            continue;
        size_t first = ts_store_lower_bound(st, name, "");
        for (size_t i = st->len; i-- > first;) {
            if (i >= st->len || strcmp(st->items[i].ns, name) != 0)
                continue;
            if (json_object_get(json_object_get(st->items[i].obj, "metadata"), "deletionTimestamp"))
                continue;
            char *ns = kr_strdup(st->items[i].ns), *n = kr_strdup(st->items[i].name);
            if (ns && n)
                delete_now(ts, r, ns, n, 1);
            kr_free(ns);
            kr_free(n);
        }
    }
    ts->ns_sweeping = false;
    json_decref(marked);
    ts_namespace_sync(ts, name);
}

/* ---- orphans ----------------------------------------------------------------------- */

/* The garbage collector's work on the orphan finalizer, done at once:
 * every object naming owner's uid in its ownerReferences loses that
 * reference (a MODIFIED event each). */
static void orphan_dependents(kr_testserver_t *ts, const json_t *owner)
{
    const char *uid = ts_meta_str(owner, "uid");
    for (size_t s = 0; uid && s < ts->nstores; s++) {
        ts_store *st = ts->stores[s];
        const ts_resource *res = resource_of(ts, st);
        for (size_t i = 0; res && i < st->len; i++) {
            const json_t *refs =
                json_object_get(json_object_get(st->items[i].obj, "metadata"), "ownerReferences");
            size_t k, at = json_array_size(refs);
            const json_t *ref;
            json_array_foreach(refs, k, ref)
            {
                const char *u = json_string_value(json_object_get(ref, "uid"));
                if (u && strcmp(u, uid) == 0 && at == json_array_size(refs))
                    at = k;
            }
            if (at == json_array_size(refs))
                continue;
            json_t *next = with_rv(ts, st->items[i].obj);
            if (next) {
                json_t *md = ts_meta(next);
                json_t *nrefs = json_object_get(md, "ownerReferences");
                json_array_remove(nrefs, at);
                if (json_array_size(nrefs) == 0)
                    json_object_del(md, "ownerReferences");
                replace(ts, res, st->items[i].ns, st->items[i].name, next);
            }
            json_decref(next);
        }
    }
}

/* ---- foreground deletion ----------------------------------------------------------- */

/* The object whose uid is `uid`, and its resource; NULL when none. */
static ts_obj *find_uid(kr_testserver_t *ts, const char *uid, const ts_resource **res)
{
    for (size_t s = 0; s < ts->nstores; s++) {
        ts_store *st = ts->stores[s];
        const ts_resource *r = resource_of(ts, st);
        for (size_t i = 0; r && i < st->len; i++) {
            const char *u = ts_meta_str(st->items[i].obj, "uid");
            if (u && strcmp(u, uid) == 0) {
                *res = r;
                return &st->items[i];
            }
        }
    }
    return NULL;
}

static long finalizer_at(const json_t *obj, const char *finalizer)
{
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "finalizers"), i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), finalizer) == 0)
            return (long)i;
    }
    return -1;
}

/* Whether something still blocks the owner uid's deletion: a dependent
 * whose reference to it sets blockOwnerDeletion. */
static bool blocked(kr_testserver_t *ts, const char *uid)
{
    for (size_t s = 0; s < ts->nstores; s++) {
        const ts_store *st = ts->stores[s];
        for (size_t i = 0; i < st->len; i++) {
            size_t k;
            const json_t *ref;
            json_array_foreach(
                json_object_get(json_object_get(st->items[i].obj, "metadata"), "ownerReferences"),
                k, ref)
            {
                const char *u = json_string_value(json_object_get(ref, "uid"));
                if (u && strcmp(u, uid) == 0 &&
                    json_is_true(json_object_get(ref, "blockOwnerDeletion")))
                    return true;
            }
        }
    }
    return false;
}

/* The garbage collector's step for an owner deleted in the foreground:
 * once no dependent blocks it, its foregroundDeletion finalizer goes, and
 * the owner with it when that was the last. */
static void foreground_sync(kr_testserver_t *ts, const char *uid)
{
    const ts_resource *res = NULL;
    ts_obj *o = find_uid(ts, uid, &res);
    long at = o ? finalizer_at(o->obj, "foregroundDeletion") : -1;
    if (at < 0 || !json_object_get(json_object_get(o->obj, "metadata"), "deletionTimestamp") ||
        blocked(ts, uid))
        return;
    json_t *next = with_rv(ts, o->obj);
    char *ns = kr_strdup(o->ns), *name = kr_strdup(o->name);
    if (next && ns && name) {
        json_t *fins = json_object_get(ts_meta(next), "finalizers");
        if (json_array_size(fins) == 1) {
            /* The collector's update that drops the last finalizer deletes
             * the object as it was stored (deleteWithoutFinalizers): the
             * DELETED event still lists foregroundDeletion. */
            json_t *before = json_incref(o->obj);
            ts_store_remove(res->store, ns, name);
            ts_record_event(ts, res, TS_DELETED, next, before);
            json_decref(before);
            if (res->namespaced)
                ts_namespace_sync(ts, ns);
            ts_owners_sync(ts, next);
        } else {
            json_array_remove(fins, (size_t)at);
            replace(ts, res, ns, name, next);
        }
    }
    json_decref(next);
    kr_free(ns);
    kr_free(name);
}

void ts_owners_sync(kr_testserver_t *ts, const json_t *removed)
{
    const json_t *refs = json_object_get(json_object_get(removed, "metadata"), "ownerReferences");
    size_t k;
    const json_t *ref;
    json_array_foreach(refs, k, ref)
    {
        const char *u = json_string_value(json_object_get(ref, "uid"));
        char *uid = u ? kr_strdup(u) : NULL;
        if (uid)
            foreground_sync(ts, uid);
        kr_free(uid);
    }
}

/* ---- dependents of absent owners ------------------------------------------------- */

/* The collector looks up the owners a written object names: one it does
 * not find by kind and name with the uid named is absent, and a dependent
 * whose owners are all absent is deleted; one that keeps an owner loses
 * its references to the absent ones. It acts on what its informers saw a
 * moment after the write, so that a client reading back its write finds
 * it there. */
#define OWNERS_VERIFY_DELAY_MS 200

typedef struct ts_owner_check {
    struct ts_owner_check *next;
    char *group, *version, *plural, *ns, *name, *uid;
    uint64_t due_ms;
} ts_owner_check;

typedef enum { OWNER_SOLID, OWNER_ABSENT, OWNER_WAITING, OWNER_UNRESOLVED } owner_state;

/* An owner reference of a dependent in namespace dep_ns ("": cluster-scoped;
 * a namespaced owner cannot own it). A kind this server does not serve
 * cannot be resolved: the collector leaves such a dependent alone. */
static owner_state owner_of(kr_testserver_t *ts, const char *dep_ns, const json_t *ref)
{
    const char *api_version = json_string_value(json_object_get(ref, "apiVersion"));
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    const char *uid = json_string_value(json_object_get(ref, "uid"));
    if (!api_version || !kind || !name || !uid)
        return OWNER_UNRESOLVED;
    ts_resource *r = ts_resource_find_kind(ts, api_version, kind);
    /* a namespaced owner of a cluster-scoped object: the collector
     * reports it and leaves the object be */
    if (!r || (r->namespaced && !*dep_ns))
        return OWNER_UNRESOLVED;
    ts_obj *o = ts_store_get(r->store, r->namespaced ? dep_ns : "", name);
    const char *have = o ? ts_meta_str(o->obj, "uid") : NULL;
    if (!have || strcmp(have, uid) != 0)
        return OWNER_ABSENT;
    return waiting_for_dependents(o->obj) ? OWNER_WAITING : OWNER_SOLID;
}

static void owner_check_free(ts_owner_check *c)
{
    kr_free(c->group);
    kr_free(c->version);
    kr_free(c->plural);
    kr_free(c->ns);
    kr_free(c->name);
    kr_free(c->uid);
    kr_free(c);
}

void ts_owners_written(kr_testserver_t *ts, const ts_resource *res, const json_t *obj,
                       const json_t *old)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    if (json_array_size(refs) == 0 ||
        (old &&
         json_equal(refs, json_object_get(json_object_get(old, "metadata"), "ownerReferences"))))
        return;
    const char *ns = res->namespaced ? ts_meta_str(obj, "namespace") : "";
    size_t k;
    const json_t *ref;
    bool absent = false;
    json_array_foreach(refs, k, ref)
    {
        owner_state st = owner_of(ts, ns ? ns : "", ref);
        absent = absent || st == OWNER_ABSENT || st == OWNER_WAITING;
    }
    const char *name = ts_meta_str(obj, "name"), *uid = ts_meta_str(obj, "uid");
    if (!absent || !ns || !name || !uid)
        return;
    ts_owner_check *c = kr_calloc(1, sizeof(*c));
    if (!c)
        return;
    c->group = kr_strdup(res->group);
    c->version = kr_strdup(res->version);
    c->plural = kr_strdup(res->plural);
    c->ns = kr_strdup(ns);
    c->name = kr_strdup(name);
    c->uid = kr_strdup(uid);
    if (!c->group || !c->version || !c->plural || !c->ns || !c->name || !c->uid) {
        owner_check_free(c);
        return;
    }
    c->due_ms = ts_now_ms() + OWNERS_VERIFY_DELAY_MS;
    if (ts->owner_checks_last)
        ts->owner_checks_last->next = c;
    else
        ts->owner_checks = c;
    ts->owner_checks_last = c;
}

/* A served resource of group and plural, at any version (they share one
 * store): the version written may no longer be served. */
static const ts_resource *resource_named(kr_testserver_t *ts, const char *group, const char *plural)
{
    for (size_t i = 0; i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        if (!r->review && strcmp(r->group, group) == 0 && strcmp(r->plural, plural) == 0)
            return r;
    }
    return NULL;
}

/* The foreground deletions of the owners `uids` names (a JSON array of
 * strings) go on: a dependent stopped blocking them. */
static void foreground_resume(kr_testserver_t *ts, json_t *uids)
{
    size_t i;
    json_t *u;
    json_array_foreach(uids, i, u) foreground_sync(ts, json_string_value(u));
}

/* The collector's step for one dependent written naming an absent owner.
 * Namespaces and CRDs go through lifecycles of their own, which this pass
 * does not drive: they are left be. */
static void owners_verify_one(kr_testserver_t *ts, const ts_owner_check *c)
{
    const ts_resource *res = resource_named(ts, c->group, c->plural);
    if (res && (ts_resource_is(res, "", "namespaces") ||
                ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions")))
        return;
    ts_obj *dep = res ? ts_store_get(res->store, c->ns, c->name) : NULL;
    const char *uid = dep ? ts_meta_str(dep->obj, "uid") : NULL;
    if (!uid || strcmp(uid, c->uid) != 0 || json_object_get(ts_meta(dep->obj), "deletionTimestamp"))
        return;
    const json_t *refs = json_object_get(ts_meta(dep->obj), "ownerReferences");
    size_t k, solid = 0, gone = 0;
    const json_t *ref;
    json_array_foreach(refs, k, ref)
    {
        owner_state st = owner_of(ts, c->ns, ref);
        if (st == OWNER_UNRESOLVED)
            return;
        solid += st == OWNER_SOLID;
        gone += st != OWNER_SOLID;
    }
    if (gone == 0)
        return;
    if (solid == 0) {
        delete_now(ts, res, c->ns, c->name, 0);
        return;
    }
    json_t *next = with_rv(ts, dep->obj), *waiting = json_array();
    json_t *kept = next ? json_object_get(ts_meta(next), "ownerReferences") : NULL;
    for (k = json_array_size(kept); k-- > 0;) {
        const json_t *r = json_array_get(kept, k);
        owner_state st = owner_of(ts, c->ns, r);
        if (st == OWNER_WAITING)
            json_array_append(waiting, json_object_get(r, "uid"));
        if (st != OWNER_SOLID)
            json_array_remove(kept, k);
    }
    if (next)
        replace(ts, res, c->ns, c->name, next);
    json_decref(next);
    foreground_resume(ts, waiting);
    json_decref(waiting);
}

void ts_owners_verify(kr_testserver_t *ts)
{
    uint64_t now = ts_now_ms();
    while (ts->owner_checks && ts->owner_checks->due_ms <= now) {
        ts_owner_check *c = ts->owner_checks;
        ts->owner_checks = c->next;
        if (!ts->owner_checks)
            ts->owner_checks_last = NULL;
        owners_verify_one(ts, c);
        owner_check_free(c);
    }
}

void ts_owner_checks_free(kr_testserver_t *ts)
{
    while (ts->owner_checks) {
        ts_owner_check *c = ts->owner_checks;
        ts->owner_checks = c->next;
        owner_check_free(c);
    }
    ts->owner_checks_last = NULL;
}

/* DELETE with propagationPolicy Foreground: the owner is marked with the
 * foregroundDeletion finalizer, its dependents deleted, and it goes once
 * none of them blocks it (blockOwnerDeletion). Returns the owner as marked,
 * the state answered (new ref); NULL out of memory. */
static json_t *delete_foreground(kr_testserver_t *ts, const ts_resource *res, const char *ns,
                                 const char *name)
{
    ts_obj *cur = ts_store_get(res->store, ns, name);
    json_t *marked = json_incref(cur->obj);
    if (finalizer_at(marked, "foregroundDeletion") < 0 &&
        !json_object_get(json_object_get(marked, "metadata"), "deletionTimestamp")) {
        json_decref(marked);
        marked = marked_for_deletion(ts, res, cur->obj);
        if (!marked)
            return NULL;
        json_t *md = ts_meta(marked);
        json_t *fins = json_object_get(md, "finalizers");
        if (!json_is_array(fins)) {
            fins = json_array();
            json_object_set_new(md, "finalizers", fins);
        }
        json_array_append_new(fins, json_string("foregroundDeletion"));
        replace(ts, res, ns, name, marked);
    }
    char *uid = kr_strdup(ts_meta_str(marked, "uid"));
    delete_dependents(ts, res, marked, 0);
    if (uid)
        foreground_sync(ts, uid);
    kr_free(uid);
    return marked;
}

/* ---- CRD deletion ------------------------------------------------------------------ */

/* The finalizer apiextensions-apiserver's first DELETE of a CRD adds; its
 * finalizing controller removes it once no custom resource is left. */
#define CRD_CLEANUP "customresourcecleanup.apiextensions.k8s.io"

static ts_resource *crds(kr_testserver_t *ts)
{
    return ts_resource_find(ts, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
}

/* A resource serving the custom resources of the CRD `name` (its versions
 * share a store), or NULL when none is served. */
static const ts_resource *crd_served(kr_testserver_t *ts, const char *name)
{
    for (size_t i = 0; name && i < ts->nresources; i++)
        if (ts->resources[i]->crd_name && strcmp(ts->resources[i]->crd_name, name) == 0)
            return ts->resources[i];
    return NULL;
}

static const json_t *crd_condition(const json_t *crd, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(crd, "status"), "conditions"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

static bool crd_condition_true(const json_t *crd, const char *type)
{
    const char *st = json_string_value(json_object_get(crd_condition(crd, type), "status"));
    return st && strcmp(st, "True") == 0;
}

/* SetCRDCondition for Terminating on crd (mutable): replaced in place,
 * its transition time kept while its status stays. */
static void set_terminating(json_t *crd, const char *state, const char *reason, const char *message)
{
    char now[32];
    ts_timestamp(now);
    json_t *status = json_object_get(crd, "status");
    if (!json_is_object(status)) {
        status = json_object();
        json_object_set_new(crd, "status", status);
    }
    json_t *conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    json_t *c =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "Terminating", "status", state,
                  "lastTransitionTime", ts_condition_since(status, "Terminating", state, now),
                  "reason", reason, "message", message);
    size_t i;
    json_t *old;
    json_array_foreach(conds, i, old)
    {
        const char *t = json_string_value(json_object_get(old, "type"));
        if (t && strcmp(t, "Terminating") == 0) {
            json_array_set_new(conds, i, c);
            return;
        }
    }
    json_array_append_new(conds, c);
}

/* A copy of crd as the registry's first DELETE of it stores it: marked
 * with a deletionTimestamp (no grace period and no new generation: it is
 * a storage update, not the generic delete), its finalizer added and the
 * Terminating condition set. A CRD already marked comes back as is (new
 * ref); NULL out of memory. */
static json_t *crd_marked(const json_t *crd)
{
    if (json_object_get(json_object_get(crd, "metadata"), "deletionTimestamp"))
        return json_incref((json_t *)crd);
    json_t *marked = json_deep_copy(crd);
    if (!marked)
        return NULL;
    char now[32];
    ts_timestamp(now);
    json_t *md = ts_meta(marked);
    json_object_set_new(md, "deletionTimestamp", json_string(now));
    if (finalizer_at(marked, CRD_CLEANUP) < 0) {
        json_t *fins = json_object_get(md, "finalizers");
        if (!json_is_array(fins)) {
            fins = json_array();
            json_object_set_new(md, "finalizers", fins);
        }
        json_array_append_new(fins, json_string(CRD_CLEANUP));
    }
    set_terminating(marked, "True", "InstanceDeletionPending",
                    "CustomResourceDefinition marked for deletion; CustomResource deletion will "
                    "begin soon");
    return marked;
}

bool ts_crd_terminating(kr_testserver_t *ts, const ts_resource *res)
{
    ts_resource *r = res->crd_name ? crds(ts) : NULL;
    ts_obj *o = r ? ts_store_get(r->store, "", res->crd_name) : NULL;
    return o && crd_condition_true(o->obj, "Terminating");
}

/* The finalizing controller's last step for the CRD `name` being deleted:
 * once none of its custom resources is left, its finalizer goes, and the
 * CRD with it when that was the last one (the update that drops it deletes
 * the CRD as stored, so the DELETED event still lists the finalizer). The
 * resources that served it are freed with it: never call this while a
 * request on one of them is still being answered. */
static void crd_finalize(kr_testserver_t *ts, const char *name)
{
    ts_resource *crdr = crds(ts);
    ts_obj *o = crdr ? ts_store_get(crdr->store, "", name) : NULL;
    long at = o ? finalizer_at(o->obj, CRD_CLEANUP) : -1;
    if (at < 0 || !json_object_get(json_object_get(o->obj, "metadata"), "deletionTimestamp"))
        return;
    const ts_resource *r = crd_served(ts, name);
    if (r && r->store->len > 0)
        return;
    bool established = crd_condition_true(o->obj, "Established");
    json_t *next = with_rv(ts, o->obj);
    char *n = kr_strdup(name);
    if (next && n) {
        json_t *fins = json_object_get(ts_meta(next), "finalizers");
        if (json_array_size(fins) == 1) {
            json_t *before = json_incref(o->obj);
            ts_store_remove(crdr->store, "", n);
            ts_record_event(ts, crdr, TS_DELETED, next, before);
            json_decref(before);
            ts_crd_removed(ts, next);
            ts_owners_sync(ts, next);
            ts_dependents_sync(ts, crdr);
        } else {
            json_array_remove(fins, (size_t)at);
            if (established)
                set_terminating(next, "False", "InstanceDeletionCompleted",
                                "removed all instances");
            else
                set_terminating(next, "False", "NeverEstablished",
                                "resource was never established");
            replace(ts, crdr, "", n, next);
        }
    }
    json_decref(next);
    kr_free(n);
}

/* The finalizing controller's work on the CRD `name` just marked, done at
 * once: the Terminating condition moves to InstanceDeletionInProgress, each
 * custom resource is deleted as a DELETE without options deletes it (those
 * with finalizers stay, marked, until an update removes them), and the CRD
 * goes when none is left. */
static void crd_cleanup(kr_testserver_t *ts, const char *name)
{
    ts_resource *crdr = crds(ts);
    ts_obj *o = crdr ? ts_store_get(crdr->store, "", name) : NULL;
    if (!o)
        return;
    json_t *next = with_rv(ts, o->obj);
    if (next) {
        set_terminating(next, "True", "InstanceDeletionInProgress",
                        "CustomResource deletion is in progress");
        replace(ts, crdr, "", name, next);
    }
    json_decref(next);
    const ts_resource *r = crd_served(ts, name);
    ts_store *st = r ? r->store : NULL;
    /* The instances are listed first: a cascade among them may take
     * items of this store from under a walk of it. */
    size_t n = st ? st->len : 0;
    char **keys = kr_calloc(n ? 2 * n : 1, sizeof(*keys));
    for (size_t i = 0; keys && i < n; i++) {
        keys[2 * i] = kr_strdup(st->items[i].ns);
        keys[2 * i + 1] = kr_strdup(st->items[i].name);
    }
    for (size_t i = n; keys && i-- > 0;)
        if (keys[2 * i] && keys[2 * i + 1] && ts_store_get(st, keys[2 * i], keys[2 * i + 1]))
            delete_now(ts, r, keys[2 * i], keys[2 * i + 1], 0);
    for (size_t i = 0; keys && i < 2 * n; i++)
        kr_free(keys[i]);
    kr_free(keys);
    crd_finalize(ts, name);
}

void ts_crds_finalize(kr_testserver_t *ts)
{
    ts_resource *crdr = crds(ts);
    ts_store *st = crdr ? crdr->store : NULL;
    for (size_t i = st ? st->len : 0; i-- > 0;) {
        if (i >= st->len || finalizer_at(st->items[i].obj, CRD_CLEANUP) < 0)
            continue;
        char *name = kr_strdup(st->items[i].name);
        if (name)
            crd_finalize(ts, name);
        kr_free(name);
    }
}

/* DELETE of a CRD: the first marks it and sets its finalizing controller
 * going (crd_cleanup); a later one finds it marked and held by its
 * finalizer. Either way the answer is the CRD as marked, never gone, as
 * the registry answers before its controller runs. */
static json_t *delete_crd(kr_testserver_t *ts, const ts_resource *res, const char *name, bool *gone)
{
    const json_t *cur = ts_store_get(res->store, "", name)->obj;
    if (json_object_get(json_object_get(cur, "metadata"), "deletionTimestamp"))
        return delete_one(ts, res, "", name, gone);
    *gone = false;
    json_t *marked = crd_marked(cur);
    json_t *stamped = marked ? with_rv(ts, marked) : NULL;
    json_decref(marked);
    if (!stamped)
        return NULL;
    replace(ts, res, "", name, stamped);
    crd_cleanup(ts, name);
    return stamped;
}

/* ---- options ---------------------------------------------------------------------- */

struct delete_opts {
    const char *propagation;
    json_t *doc;
    bool dry_run, orphan_false;
};

/* ValidateDeleteOptions: the deprecated orphanDependents and a
 * propagationPolicy never together, and a policy the apiserver knows. 0,
 * or -1 with the 422 sent. */
static int check_options(const struct delete_opts *o, bool orphan_set, ts_response *resp)
{
    bool known = !o->propagation || strcmp(o->propagation, "Orphan") == 0 ||
                 strcmp(o->propagation, "Background") == 0 ||
                 strcmp(o->propagation, "Foreground") == 0;
    bool both = orphan_set && o->propagation;
    if (known && !both)
        return 0;
    json_t *causes = json_array();
    kr_buf b = {0};
    if (both) {
        kr_buf_append_str(&b, "Invalid value: ");
        ts_go_quote(&b, o->propagation);
        kr_buf_append_str(&b, ": orphanDependents and deletionPropagation cannot be both set");
        json_array_append_new(causes,
                              json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid", "message",
                                        b.data ? b.data : "", "field", "propagationPolicy"));
        kr_buf_reset(&b);
    }
    if (!known) {
        kr_buf_append_str(&b, "Unsupported value: ");
        ts_go_quote(&b, o->propagation);
        kr_buf_append_str(
            &b, ": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"");
        json_array_append_new(
            causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueNotSupported", "message",
                              b.data ? b.data : "", "field", "propagationPolicy"));
    }
    kr_buf_free(&b);
    ts_respond_invalid_causes(resp, "DeleteOptions", "meta.k8s.io", "", causes);
    json_decref(causes);
    return -1;
}

static int read_options(const ts_request *req, struct delete_opts *o, ts_response *resp)
{
    memset(o, 0, sizeof(*o));
    if (ts_dry_run(req, resp, "DeleteOptions", &o->dry_run) != 0)
        return -1;
    bool orphan_set = false;
    o->propagation = ts_query(req, "propagationPolicy");
    if (req->body_len > 0) {
        bool pb = ts_content_is_protobuf(req), yaml = ts_content_is_yaml(req);
        if (!pb && !yaml && !ts_content_is_json(req)) {
            ts_respond_unsupported_media(resp, "application/json, application/yaml, "
                                               "application/vnd.kubernetes.protobuf");
            return -1;
        }
        if (pb || yaml) {
            o->doc = pb ? ts_parse_protobuf_body(req, resp) : ts_parse_body(req, true, resp);
            if (!o->doc)
                return -1;
        } else {
            json_error_t jerr;
            o->doc = json_loadb(req->body, req->body_len, 0, &jerr);
            if (!json_is_object(o->doc)) {
                json_decref(o->doc);
                o->doc = NULL;
                ts_respond_bad_request(resp, "couldn't get version/kind; json parse error: %s",
                                       jerr.text);
                return -1;
            }
        }
        const char *p = json_string_value(json_object_get(o->doc, "propagationPolicy"));
        if (p)
            o->propagation = p;
        const json_t *orphan = json_object_get(o->doc, "orphanDependents");
        orphan_set = orphan && !json_is_null(orphan);
        if (orphan_set && check_options(o, true, resp) != 0) {
            json_decref(o->doc);
            o->doc = NULL;
            return -1;
        }
        o->orphan_false = json_is_false(orphan);
        if (!o->propagation && json_is_true(orphan))
            o->propagation = "Orphan"; /* the deprecated form */
        if (json_array_size(json_object_get(o->doc, "dryRun")) > 0)
            o->dry_run = true;
    } else if (ts_query(req, "orphanDependents")) {
        /* without a body the options are the query's (the deprecated
         * orphanDependents too, as the apiserver decodes it) */
        bool orphan = ts_query_bool(req, "orphanDependents") == 1;
        if (check_options(o, true, resp) != 0)
            return -1;
        o->orphan_false = !orphan;
        if (!o->propagation && orphan)
            o->propagation = "Orphan";
    }
    if (check_options(o, false, resp) != 0) {
        json_decref(o->doc);
        o->doc = NULL;
        return -1;
    }
    return 0;
}

int ts_check_preconditions(const ts_resource *res, const char *name, const json_t *obj,
                           const json_t *pre, ts_response *resp)
{
    static const char *const fields[][2] = {{"uid", "UID"}, {"resourceVersion", "ResourceVersion"}};
    for (size_t i = 0; i < KR_ARRAY_LEN(fields); i++) {
        const char *want = json_string_value(json_object_get(pre, fields[i][0]));
        const char *have = ts_meta_str(obj, fields[i][0]);
        if (!want || (have && strcmp(want, have) == 0))
            continue;
        char why[512];
        snprintf(why, sizeof(why),
                 "Precondition failed: %s in precondition: %s, %s in object "
                 "meta: %s",
                 fields[i][1], want, fields[i][1], have ? have : "");
        ts_respond_conflict(resp, res, name, why);
        return -1;
    }
    return 0;
}

static void respond_deleted(ts_response *resp, const ts_resource *res, json_t *last, bool gone,
                            bool orphan_false)
{
    if (gone && !res->delete_returns_object) {
        json_t *d = ts_details(res, ts_meta_str(last, "name"), false);
        const char *uid = ts_meta_str(last, "uid");
        if (d && uid)
            json_object_set_new(d, "uid", json_string(uid));
        json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status", "apiVersion", "v1",
                               "metadata", "status", "Success", "details", d ? d : json_object());
        json_decref(last);
        ts_respond_json(resp, 200, st);
        return;
    }
    ts_respond_json(resp, (!gone && orphan_false) ? 202 : 200, last);
}

/* The registry's DefaultGarbageCollectionPolicy when the request names
 * none: a core v1 ReplicationController orphans its pods (kept for
 * backward compatibility); everything else deletes its dependents. */
static void default_policy(const ts_resource *res, struct delete_opts *o)
{
    if (!o->propagation && !o->orphan_false && ts_resource_is(res, "", "replicationcontrollers"))
        o->propagation = "Orphan";
}

static bool cascades(const struct delete_opts *o)
{
    return !o->propagation || strcmp(o->propagation, "Orphan") != 0;
}

/* The namespaces the lifecycle admission never lets go. */
static bool immortal(const ts_resource *res, const char *name)
{
    static const char *const names[] = {"default", "kube-system", "kube-public"};
    if (!ts_resource_is(res, "", "namespaces"))
        return false;
    for (size_t i = 0; i < KR_ARRAY_LEN(names); i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

/* The state a dry-run DELETE with options o answers for obj (new ref;
 * NULL out of memory), as kube-apiserver runs the deletion on a copy it
 * does not store: a CRD as its first deletion would mark it; an object
 * that finalizers or Foreground would keep, marked (Foreground adding its
 * finalizer) at the resourceVersion it has now; any other as it is. */
static json_t *dry_deleted(const ts_resource *res, const json_t *obj, const struct delete_opts *o)
{
    if (ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions"))
        return crd_marked(obj);
    bool foreground = o->propagation && strcmp(o->propagation, "Foreground") == 0;
    /* a namespace is held by its spec.finalizers too (kubernetes) */
    bool is_ns = ts_resource_is(res, "", "namespaces");
    bool ns_held =
        is_ns && json_array_size(json_object_get(json_object_get(obj, "spec"), "finalizers")) > 0;
    if ((!has_finalizers(obj) && !foreground && !ns_held) ||
        json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp"))
        return json_incref((json_t *)obj);
    json_t *marked = json_deep_copy(obj);
    if (!marked)
        return NULL;
    mark(res, marked);
    if (is_ns) {
        json_t *status = json_object_get(marked, "status");
        if (!json_is_object(status)) {
            status = json_object();
            json_object_set_new(marked, "status", status);
        }
        json_object_set_new(status, "phase", json_string("Terminating"));
    }
    json_t *md = ts_meta(marked);
    json_t *fins = json_object_get(md, "finalizers");
    if (foreground && finalizer_at(marked, "foregroundDeletion") < 0) {
        if (!json_is_array(fins)) {
            fins = json_array();
            json_object_set_new(md, "finalizers", fins);
        }
        json_array_append_new(fins, json_string("foregroundDeletion"));
    }
    return marked;
}

/* One object deleted as DELETE deletes it with options o (no dry run, the
 * preconditions met, not a namespace its finalizers hold): a CRD is
 * marked and its custom resources deleted (delete_crd); Foreground
 * marks it and deletes its dependents; otherwise it goes, or is marked
 * when it has finalizers, and its dependents are deleted or orphaned as
 * o asks. deletecollection comes here for each item, as the apiserver's
 * DeleteCollection calls Delete with the collection's options. ns and name
 * must not be the store's own strings. Returns the state to answer (new
 * ref), *gone whether it left the store; NULL out of memory. */
static json_t *delete_with(kr_testserver_t *ts, const ts_resource *res, const char *ns,
                           const char *name, const struct delete_opts *o, bool *gone)
{
    bool is_ns = ts_resource_is(res, "", "namespaces");
    *gone = false;
    /* apiextensions-apiserver's own Delete: the options but preconditions
     * play no part in a CRD's first deletion */
    if (ts_resource_is(res, "apiextensions.k8s.io", "customresourcedefinitions"))
        return delete_crd(ts, res, name, gone);
    if (o->propagation && strcmp(o->propagation, "Foreground") == 0)
        return delete_foreground(ts, res, ns, name);
    json_t *last = delete_one(ts, res, ns, name, gone);
    if (last && *gone && (cascades(o) || is_ns))
        delete_dependents(ts, res, last, 0);
    else if (last && !cascades(o) && !is_ns)
        orphan_dependents(ts, last);
    return last;
}

void ts_handle_delete(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                      ts_response *resp)
{
    struct delete_opts o;
    if (read_options(req, &o, resp) != 0)
        return;
    default_policy(rt->res, &o);
    const ts_resource *res = rt->res;
    const char *ns = rt->ns ? rt->ns : "";
    ts_obj *cur = ts_store_get(res->store, ns, rt->name);
    if (immortal(res, rt->name)) {
        char *msg = kr_asprintf("namespaces \"%s\" is forbidden: this namespace may not be deleted",
                                rt->name);
        ts_respond_status(resp, 403, "Forbidden", msg ? msg : "forbidden",
                          ts_details(res, rt->name, false));
        kr_free(msg);
    } else if (!cur) {
        ts_respond_not_found(resp, res, rt->name);
    } else if (ts_check_preconditions(res, rt->name, cur->obj,
                                      json_object_get(o.doc, "preconditions"), resp) == 0) {
        if (o.dry_run) {
            json_t *obj = dry_deleted(res, cur->obj, &o);
            if (obj)
                respond_deleted(
                    resp, res, obj,
                    !json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp"),
                    o.orphan_false);
            else
                ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        } else {
            if (ts_resource_is(res, "", "namespaces") &&
                (json_array_size(json_object_get(json_object_get(cur->obj, "spec"), "finalizers")) >
                     0 ||
                 has_finalizers(cur->obj))) {
                delete_namespace(ts, res, rt->name, resp);
                json_decref(o.doc);
                return;
            }
            bool gone;
            json_t *last = delete_with(ts, res, ns, rt->name, &o, &gone);
            if (last)
                respond_deleted(resp, res, last, gone, o.orphan_false);
            else
                ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        }
    }
    json_decref(o.doc);
}

/* An item deletecollection selected, kept apart from the store. */
struct match {
    char *ns, *name;
    json_t *obj;
};

void ts_handle_deletecollection(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                                ts_response *resp)
{
    struct delete_opts o;
    if (read_options(req, &o, resp) != 0)
        return;
    default_policy(rt->res, &o);
    ts_labels_t *labels;
    ts_fieldsel fields;
    if (ts_parse_selectors(req, rt->res, &labels, &fields, resp) != 0) {
        json_decref(o.doc);
        return;
    }
    char *av = ts_api_version(rt->res);
    json_t *list = json_pack("{s:s, s:s, s:{}, s:[]}", "kind", rt->res->list_kind, "apiVersion",
                             av ? av : "", "metadata", "items");
    kr_free(av);
    /* The matches are listed before any is deleted, as the apiserver
     * does: a cascade may take items of this same store from under a walk
     * of it. */
    ts_store *st = rt->res->store;
    size_t n = 0;
    struct match *matched = kr_calloc(st->len ? st->len : 1, sizeof(*matched));
    bool ok = list && matched;
    for (size_t i = 0; ok && i < st->len; i++) {
        ts_obj *ob = &st->items[i];
        if ((rt->ns && strcmp(ob->ns, rt->ns) != 0) || !ts_object_matches(labels, &fields, ob->obj))
            continue;
        matched[n].ns = kr_strdup(ob->ns);
        matched[n].name = kr_strdup(ob->name);
        matched[n].obj = json_incref(ob->obj);
        ok = matched[n].ns && matched[n].name;
        n++;
    }
    for (size_t i = n; ok && i-- > 0;) {
        ts_obj *ob = ts_store_get(st, matched[i].ns, matched[i].name);
        const char *uid = ts_meta_str(matched[i].obj, "uid");
        bool gone = false;
        json_t *last;
        if (!ob || !uid || !ts_meta_str(ob->obj, "uid") ||
            strcmp(ts_meta_str(ob->obj, "uid"), uid) != 0)
            /* gone with an owner deleted before it: listed as it was */
            last = json_incref(matched[i].obj);
        else if (o.dry_run)
            last = dry_deleted(rt->res, ob->obj, &o);
        else
            last = delete_with(ts, rt->res, matched[i].ns, matched[i].name, &o, &gone);
        if (last && !rt->res->crd) {
            /* untyped, as a built-in list's items (list.c) */
            json_t *item = json_copy(last);
            if (item) {
                json_object_del(item, "kind");
                json_object_del(item, "apiVersion");
                json_decref(last);
                last = item;
            }
        }
        if (last)
            json_array_insert_new(json_object_get(list, "items"), 0, last);
    }
    for (size_t i = 0; i < n; i++) {
        kr_free(matched[i].ns);
        kr_free(matched[i].name);
        json_decref(matched[i].obj);
    }
    kr_free(matched);
    if (ok) {
        json_object_set_new(json_object_get(list, "metadata"), "resourceVersion",
                            json_sprintf("%llu", ts->rv));
        ts_respond_json(resp, 200, list);
    } else {
        json_decref(list);
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
    }
    ts_labels_free(labels);
    ts_fieldsel_free(&fields);
    json_decref(o.doc);
}

/* ---- eviction --------------------------------------------------------------------- */

/* The disruption budget that covers the pod: 0 when none does, 1 with *out
 * set, 2 when more than one does. */
static int pod_budget(kr_testserver_t *ts, const char *ns, const json_t *pod, ts_obj **out)
{
    ts_resource *pdbs = ts_resource_find(ts, "policy", "v1", "poddisruptionbudgets");
    const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
    int found = 0;
    for (size_t i = pdbs ? ts_store_lower_bound(pdbs->store, ns, "") : 0;
         pdbs && i < pdbs->store->len && strcmp(pdbs->store->items[i].ns, ns) == 0; i++) {
        ts_obj *o = &pdbs->store->items[i];
        const json_t *sel = json_object_get(json_object_get(o->obj, "spec"), "selector");
        kr_buf text = {0};
        ts_selector_text(sel, &text);
        ts_labels_t *parsed = NULL;
        char msg[256];
        /* a budget without a selector, or with an empty one, selects nothing */
        bool matches = sel && text.len &&
                       ts_labels_parse(text.data, &parsed, msg, sizeof(msg)) == 0 &&
                       ts_labels_matches(parsed, labels);
        ts_labels_free(parsed);
        kr_buf_free(&text);
        if (matches && found++ == 0)
            *out = o;
    }
    return found > 1 ? 2 : found;
}

void ts_handle_eviction(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                        ts_response *resp)
{
    const ts_resource *res = rt->res;
    ts_obj *cur = ts_store_get(res->store, rt->ns, rt->name);
    if (!cur) {
        ts_respond_not_found(resp, res, rt->name);
        return;
    }
    json_t *ev = ts_read_body(req, resp);
    if (!ev)
        return;
    const char *name = json_string_value(json_object_get(json_object_get(ev, "metadata"), "name"));
    if (name && strcmp(name, rt->name) != 0) {
        ts_respond_bad_request(resp, "name in URL does not match name in Eviction object");
        json_decref(ev);
        return;
    }
    const json_t *pod = cur->obj;
    const char *phase = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    /* a pod that is not running, or already going, is not protected */
    bool protected = phase && strcmp(phase, "Running") == 0 &&
                     !json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp");
    ts_obj *pdb = NULL;
    int budgets = protected ? pod_budget(ts, rt->ns, pod, &pdb) : 0;
    if (budgets == 2) {
        ts_respond_status(resp, 500, "InternalError",
                          "This pod has more than one PodDisruptionBudget, which the eviction "
                          "subresource does not support.",
                          NULL);
        json_decref(ev);
        return;
    }
    if (budgets == 1) {
        const json_t *st = json_object_get(pdb->obj, "status");
        json_int_t allowed = json_integer_value(json_object_get(st, "disruptionsAllowed"));
        if (allowed <= 0) {
            char cause[600];
            snprintf(cause, sizeof(cause),
                     "The disruption budget %s needs %lld healthy pods and has %lld currently",
                     pdb->name,
                     (long long)json_integer_value(json_object_get(st, "desiredHealthy")),
                     (long long)json_integer_value(json_object_get(st, "currentHealthy")));
            ts_respond_status(resp, 429, "TooManyRequests",
                              "Cannot evict pod as it would violate the pod's disruption budget.",
                              json_pack("{s:[{s:s, s:s}]}", "causes", "reason", "DisruptionBudget",
                                        "message", cause));
            json_decref(ev);
            return;
        }
    }
    bool dry = json_array_size(json_object_get(json_object_get(ev, "deleteOptions"), "dryRun")) > 0;
    if (!dry) {
        if (budgets == 1) {
            /* the budget spends one disruption, as the eviction REST does */
            ts_resource *pdbs = ts_resource_find(ts, "policy", "v1", "poddisruptionbudgets");
            json_t *next = with_rv(ts, pdb->obj);
            json_t *st = next ? json_object_get(next, "status") : NULL;
            if (st) {
                json_object_set_new(
                    st, "disruptionsAllowed",
                    json_integer(json_integer_value(json_object_get(st, "disruptionsAllowed")) -
                                 1));
                json_t *before = json_incref(pdb->obj);
                char *pdb_name = kr_strdup(pdb->name);
                if (pdb_name && ts_store_put(pdbs->store, rt->ns, pdb_name, json_incref(next)) == 0)
                    ts_record_event(ts, pdbs, TS_MODIFIED, next, before);
                kr_free(pdb_name);
                json_decref(before);
            }
            json_decref(next);
        }
        delete_now(ts, res, rt->ns, rt->name, 0);
    }
    ts_respond_json(resp, 201,
                    json_pack("{s:s, s:s, s:{}, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                              "metadata", "status", "Success", "code", 201));
    json_decref(ev);
}
