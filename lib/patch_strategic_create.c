/* libkreconcile — creating strategic merge patches: the two-way diff
 * (Kubernetes' CreateTwoWayMergePatch, with $setElementOrder, $retainKeys
 * and $deleteFromPrimitiveList where it emits them), the three-way patch
 * kubectl apply sends, and its conflict check. Inputs are never modified. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/patch.h"
#include "patch_strategic_internal.h"

/* Kubernetes' DiffOptions. */
typedef struct smp_dopts {
    bool set_element_order;
    bool ignore_changes; /* IgnoreChangesAndAdditions */
    bool ignore_deletions; /* IgnoreDeletions */
    bool build_retain_keys;
} smp_dopts;

/* ---- sorting by Go's %v text ------------------------------------------------- */

typedef struct text_item {
    json_t *v;
    size_t pos;
    smp_text text;
} text_item;

static int cmp_text_item(const void *a, const void *b)
{
    const text_item *x = a, *y = b;
    int c = smp_text_cmp(&x->text, &y->text);
    if (c)
        return c;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int smp_sort_by_text(smp_ctx *c, const json_t *items, const char *merge_key, json_t **out)
{
    size_t n = json_array_size(items);
    text_item *t = kr_calloc(n + 1, sizeof(*t));
    json_t *res = json_array();
    if (!t || !res)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        t[i].v = json_array_get(items, i);
        t[i].pos = i;
        const json_t *key = merge_key ? json_object_get(t[i].v, merge_key) : t[i].v;
        smp_text_of(key, &t[i].text);
    }
    /* The texts of strings point into the items, which stay alive. */
    qsort(t, n, sizeof(*t), cmp_text_item);
    for (size_t i = 0; i < n; i++)
        if (json_array_append(res, t[i].v) < 0)
            goto nomem;
    kr_free(t);
    *out = res;
    return 0;
nomem:
    kr_free(t);
    json_decref(res);
    return smp_nomem(c);
}

/* Go's deduplicateScalars on a fresh list. */
static int dedup_scalars(smp_ctx *c, const json_t *list, json_t **out)
{
    size_t n = json_array_size(list);
    json_t **s = kr_calloc(n + 1, sizeof(json_t *));
    json_t *res = json_array();
    if (!s || !res)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        s[i] = json_array_get(list, i);
    long length = (long)n - 1;
    for (long i = 0; i < length; i++)
        for (long j = i + 1; j <= length; j++)
            if (smp_go_eq(c, s[i], s[j])) {
                s[j] = s[length];
                length--;
                j--;
            }
    for (long i = 0; i <= length; i++)
        if (json_array_append(res, s[i]) < 0)
            goto nomem;
    kr_free(s);
    *out = res;
    return 0;
nomem:
    kr_free(s);
    json_decref(res);
    return smp_nomem(c);
}

/* ---- diff ------------------------------------------------------------------------ */

static int diff_maps(smp_ctx *c, const json_t *original, const json_t *modified, smp_type t,
                     smp_dopts d, json_t **out);

static int set_key(smp_ctx *c, json_t *obj, const char *key, json_t *v)
{
    return json_object_set(obj, key, v) < 0 ? smp_nomem(c) : 0;
}

static int set_key_new(smp_ctx *c, json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new(obj, key, v) < 0 ? smp_nomem(c) : 0;
}

static int set_prefixed(smp_ctx *c, json_t *obj, const char *prefix, const char *key, json_t *v)
{
    char *name = kr_asprintf("%s/%s", prefix, key);
    if (!name)
        return smp_nomem(c);
    int rc = set_key(c, obj, name, v);
    kr_free(name);
    return rc;
}

static int replace_if_not_equal(smp_ctx *c, const char *key, const json_t *ov, json_t *mv,
                                json_t *patch, smp_dopts d)
{
    if (d.ignore_changes || json_equal(ov, mv))
        return 0;
    return set_key(c, patch, key, mv);
}

/* A failed schema lookup only matters when the values differ (Kubernetes
 * reports the lookup error then). */
static int lookup_for_diff(smp_ctx *c, bool slice, smp_type t, const char *key, const json_t *ov,
                           const json_t *mv, smp_type *sub, smp_pmeta *pm, bool *skip)
{
    kr_error_t *saved = c->err;
    c->err = NULL;
    int rc = slice ? smp_lookup_slice(c, t, key, sub, pm) : smp_lookup_struct(c, t, key, sub, pm);
    c->err = saved;
    *skip = false;
    if (rc == 0)
        return 0;
    if (json_equal(ov, mv)) {
        *skip = true;
        return 0;
    }
    return slice ? smp_lookup_slice(c, t, key, sub, pm) : smp_lookup_struct(c, t, key, sub, pm);
}

static int handle_map_diff(smp_ctx *c, const char *key, const json_t *ov, json_t *mv, json_t *patch,
                           smp_type t, smp_dopts d)
{
    smp_type sub;
    smp_pmeta pm;
    bool skip;
    int rc = lookup_for_diff(c, false, t, key, ov, mv, &sub, &pm, &skip);
    if (rc < 0 || skip)
        return rc;
    d.build_retain_keys = pm.retain_keys;
    if (pm.strategy == SMP_S_REPLACE)
        return d.ignore_changes ? 0 : set_key(c, patch, key, mv);
    json_t *pv;
    if ((rc = diff_maps(c, ov, mv, sub, d, &pv)) < 0)
        return rc;
    if (json_object_size(pv) > 0)
        return set_key_new(c, patch, key, pv);
    json_decref(pv);
    return 0;
}

static int is_order_same(smp_ctx *c, const json_t *original, const json_t *modified,
                         const char *merge_key, bool *same)
{
    *same = false;
    if (json_array_size(original) != json_array_size(modified))
        return 0;
    for (size_t i = 0; i < json_array_size(modified); i++) {
        const json_t *l = json_array_get(original, i), *r = json_array_get(modified, i);
        if (!json_is_object(l) || !json_is_object(r))
            return smp_err(c, KR_EPATCH, "expected an object in the list, got another type");
        const json_t *lv = json_object_get(l, merge_key), *rv = json_object_get(r, merge_key);
        if (!lv || !rv)
            return smp_err(c, KR_EPATCH, "list element does not contain declared merge key: %s",
                           merge_key);
        if (!smp_go_eq(c, lv, rv))
            return 0;
    }
    *same = true;
    return 0;
}

static int merge_key_of(smp_ctx *c, const json_t *list, size_t i, const char *merge_key,
                        const json_t **elem, const json_t **value)
{
    *elem = json_array_get(list, i);
    if (!json_is_object(*elem))
        return smp_err(c, KR_EPATCH, "expected an object in the list, got another type");
    *value = json_object_get(*elem, merge_key);
    if (!*value)
        return smp_err(c, KR_EPATCH, "list element does not contain declared merge key: %s",
                       merge_key);
    return 0;
}

static json_t *delete_directive(const char *merge_key, const json_t *value)
{
    json_t *d = json_object();
    if (!d || json_object_set(d, merge_key, (json_t *)value) < 0 ||
        json_object_set_new(d, SMP_DIRECTIVE, json_string("delete")) < 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* Kubernetes' diffListsOfMaps: walk both lists sorted by merge key text. */
static int diff_lists_of_maps(smp_ctx *c, const json_t *original, const json_t *modified,
                              smp_type t, const char *merge_key, smp_dopts d, json_t **patch_out,
                              json_t **del_out)
{
    json_t *os = NULL, *ms = NULL, *patch = json_array(), *del = json_array();
    int rc = 0;
    if (!patch || !del) {
        rc = smp_nomem(c);
        goto out;
    }
    if ((rc = smp_sort_by_text(c, original, merge_key, &os)) < 0 ||
        (rc = smp_sort_by_text(c, modified, merge_key, &ms)) < 0)
        goto out;
    size_t oi = 0, mi = 0, on = json_array_size(os), mn = json_array_size(ms);
    while (oi < on || mi < mn) {
        const json_t *oe = NULL, *me = NULL, *ov = NULL, *mv = NULL;
        smp_text ot = {0}, mt = {0};
        if (oi < on) {
            if ((rc = merge_key_of(c, os, oi, merge_key, &oe, &ov)) < 0)
                goto out;
            smp_text_of(ov, &ot);
        }
        if (mi < mn) {
            if ((rc = merge_key_of(c, ms, mi, merge_key, &me, &mv)) < 0)
                goto out;
            smp_text_of(mv, &mt);
        }
        int cmp = (oi < on && mi < mn) ? smp_text_cmp(&ot, &mt) : 0;
        if (oi < on && mi < mn && cmp == 0) {
            json_t *pv;
            if ((rc = diff_maps(c, oe, me, t, d, &pv)) < 0)
                goto out;
            if (json_object_size(pv) > 0) {
                if (json_object_set(pv, merge_key, (json_t *)mv) < 0) {
                    json_decref(pv);
                    rc = smp_nomem(c);
                    goto out;
                }
                if (json_array_append_new(patch, pv) < 0) {
                    rc = smp_nomem(c);
                    goto out;
                }
            } else {
                json_decref(pv);
            }
            oi++;
            mi++;
        } else if (oi >= on || cmp > 0) {
            if (!d.ignore_changes && json_array_append(patch, (json_t *)me) < 0) {
                rc = smp_nomem(c);
                goto out;
            }
            mi++;
        } else {
            if (!d.ignore_deletions &&
                json_array_append_new(del, delete_directive(merge_key, ov)) < 0) {
                rc = smp_nomem(c);
                goto out;
            }
            oi++;
        }
    }
    *patch_out = patch;
    *del_out = del;
    patch = del = NULL;
out:
    json_decref(os);
    json_decref(ms);
    json_decref(patch);
    json_decref(del);
    return rc;
}

/* Kubernetes' diffListsOfScalars. */
static int diff_lists_of_scalars(smp_ctx *c, const json_t *original, const json_t *modified,
                                 smp_dopts d, json_t **add_out, json_t **del_out)
{
    json_t *os = NULL, *ms = NULL, *add = json_array(), *del = json_array();
    int rc = 0;
    if (!add || !del) {
        rc = smp_nomem(c);
        goto out;
    }
    if ((rc = smp_sort_by_text(c, original, NULL, &os)) < 0 ||
        (rc = smp_sort_by_text(c, modified, NULL, &ms)) < 0)
        goto out;
    size_t oi = 0, mi = 0, on = json_array_size(os), mn = json_array_size(ms);
    while (oi < on || mi < mn) {
        smp_text ot = {0}, mt = {0};
        if (oi < on)
            smp_text_of(json_array_get(os, oi), &ot);
        if (mi < mn)
            smp_text_of(json_array_get(ms, mi), &mt);
        int cmp = (oi < on && mi < mn) ? smp_text_cmp(&ot, &mt) : 0;
        if (oi < on && mi < mn && cmp == 0) {
            oi++;
            mi++;
        } else if (oi >= on || cmp > 0) {
            if (!d.ignore_changes && json_array_append(add, json_array_get(ms, mi)) < 0) {
                rc = smp_nomem(c);
                goto out;
            }
            mi++;
        } else {
            if (!d.ignore_deletions && json_array_append(del, json_array_get(os, oi)) < 0) {
                rc = smp_nomem(c);
                goto out;
            }
            oi++;
        }
    }
    json_t *dedup;
    if ((rc = dedup_scalars(c, del, &dedup)) < 0)
        goto out;
    json_decref(del);
    del = dedup;
    *add_out = add;
    *del_out = del;
    add = del = NULL;
out:
    json_decref(os);
    json_decref(ms);
    json_decref(add);
    json_decref(del);
    return rc;
}

/* Kubernetes' diffLists: the patch list, the deletion list and the
 * $setElementOrder list of a list with the merge strategy. */
static int diff_lists(smp_ctx *c, const json_t *original, const json_t *modified, smp_type t,
                      const char *merge_key, smp_dopts d, json_t **add, json_t **del,
                      json_t **order)
{
    *add = *del = *order = NULL;
    if (json_array_size(original) == 0) {
        if (json_array_size(modified) == 0 || d.ignore_changes)
            return 0;
        *add = json_incref((json_t *)modified);
        return 0;
    }
    int cls, rc;
    if ((rc = smp_slice_element_class(c, original, modified, &cls)) < 0)
        return rc;
    json_t *pl = NULL, *dl = NULL;
    if (cls == SMP_V_OBJECT) {
        if ((rc = diff_lists_of_maps(c, original, modified, t, merge_key, d, &pl, &dl)) < 0)
            return rc;
        json_t *sorted;
        bool same;
        if ((rc = smp_normalize_slice_order(c, pl, modified, merge_key, cls, &sorted)) < 0)
            goto out;
        json_decref(pl);
        pl = sorted;
        if ((rc = is_order_same(c, original, modified, merge_key, &same)) < 0)
            goto out;
        if (json_array_extend(pl, dl) < 0) {
            rc = smp_nomem(c);
            goto out;
        }
        if (d.set_element_order && ((!d.ignore_changes && (json_array_size(pl) > 0 || !same)) ||
                                    (!d.ignore_deletions && json_array_size(pl) > 0))) {
            json_t *list = json_array();
            if (!list) {
                rc = smp_nomem(c);
                goto out;
            }
            size_t i;
            json_t *v;
            json_array_foreach(modified, i, v)
            {
                json_t *item = json_object();
                if (!item || json_array_append_new(list, item) < 0 ||
                    json_object_set(item, merge_key, json_object_get(v, merge_key)) < 0) {
                    json_decref(list);
                    rc = smp_nomem(c);
                    goto out;
                }
            }
            *order = list;
        }
        *add = pl;
        pl = NULL;
    } else {
        if ((rc = diff_lists_of_scalars(c, original, modified, d, &pl, &dl)) < 0)
            return rc;
        json_t *sorted;
        if ((rc = smp_normalize_slice_order(c, pl, modified, merge_key, cls, &sorted)) < 0)
            goto out;
        json_decref(pl);
        pl = sorted;
        /* Kubernetes sorts the original list in place before comparing it
         * with the modified one: an unsorted but unchanged list still gets
         * a $setElementOrder directive. */
        json_t *original_sorted;
        if ((rc = smp_sort_by_text(c, original, NULL, &original_sorted)) < 0)
            goto out;
        bool changed = !json_equal(original_sorted, modified);
        json_decref(original_sorted);
        if (d.set_element_order &&
            ((!d.ignore_deletions && json_array_size(dl) > 0) || (!d.ignore_changes && changed)))
            *order = json_incref((json_t *)modified);
        *add = pl;
        *del = dl;
        pl = dl = NULL;
    }
out:
    json_decref(pl);
    json_decref(dl);
    if (rc < 0) {
        json_decref(*add);
        json_decref(*del);
        json_decref(*order);
        *add = *del = *order = NULL;
    }
    return rc;
}

static int handle_slice_diff(smp_ctx *c, const char *key, const json_t *ov, json_t *mv,
                             json_t *patch, smp_type t, smp_dopts d)
{
    smp_type sub;
    smp_pmeta pm;
    bool skip;
    int rc = lookup_for_diff(c, true, t, key, ov, mv, &sub, &pm, &skip);
    if (rc < 0 || skip)
        return rc;
    if (pm.strategy != SMP_S_MERGE)
        return replace_if_not_equal(c, key, ov, mv, patch, d);
    d.build_retain_keys = pm.retain_keys;
    json_t *add, *del, *order;
    if ((rc = diff_lists(c, ov, mv, sub, pm.merge_key, d, &add, &del, &order)) < 0)
        return rc;
    if (json_array_size(add) > 0)
        rc = set_key(c, patch, key, add);
    if (rc == 0 && json_array_size(del) > 0)
        rc = set_prefixed(c, patch, SMP_DELETE_PRIMITIVE, key, del);
    if (rc == 0 && json_array_size(order) > 0)
        rc = set_prefixed(c, patch, SMP_SET_ORDER, key, order);
    json_decref(add);
    json_decref(del);
    json_decref(order);
    return rc;
}

static bool has_additional_new_field(const json_t *original, const json_t *modified)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)original, k, v)
    {
        if (!json_is_null(v) && !json_object_get(modified, k))
            return true;
    }
    return false;
}

static int diff_entry(smp_ctx *c, const json_t *original, const char *key, json_t *mv,
                      json_t *patch, smp_type t, smp_dopts d)
{
    const json_t *ov = json_object_get(original, key);
    if (!ov)
        return d.ignore_changes ? 0 : set_key(c, patch, key, mv);
    if (strcmp(key, SMP_DIRECTIVE) == 0) {
        if (!json_is_string(ov) || !json_is_string(mv))
            return smp_err(c, KR_EPATCH, "invalid value for the special key %s", SMP_DIRECTIVE);
        return json_equal(ov, mv) ? 0 : set_key(c, patch, key, mv);
    }
    if (smp_class(ov) != smp_class(mv))
        return d.ignore_changes ? 0 : set_key(c, patch, key, mv);
    switch (smp_class(ov)) {
    case SMP_V_OBJECT:
        return handle_map_diff(c, key, ov, mv, patch, t, d);
    case SMP_V_ARRAY:
        return handle_slice_diff(c, key, ov, mv, patch, t, d);
    default:
        return replace_if_not_equal(c, key, ov, mv, patch, d);
    }
}

/* Kubernetes' diffMaps. */
static int diff_maps(smp_ctx *c, const json_t *original, const json_t *modified, smp_type t,
                     smp_dopts d, json_t **out)
{
    *out = NULL;
    if (c->depth >= SMP_MAX_DEPTH)
        return smp_err(c, KR_EPATCH, "the document is nested too deeply");
    json_t *patch = json_object(), *retain = json_array();
    int rc = 0;
    if (!patch || !retain) {
        rc = smp_nomem(c);
        goto out;
    }
    c->depth++;
    const char *key;
    json_t *mv;
    json_object_foreach((json_t *)modified, key, mv)
    {
        if (d.build_retain_keys && !json_is_null(mv) &&
            json_array_append_new(retain, json_string(key)) < 0) {
            rc = smp_nomem(c);
            break;
        }
        size_t mark = smp_path_push(c, key);
        rc = diff_entry(c, original, key, mv, patch, t, d);
        smp_path_pop(c, mark);
        if (rc < 0)
            break;
    }
    c->depth--;
    if (rc < 0)
        goto out;
    if (!d.ignore_deletions) {
        json_t *ov;
        json_object_foreach((json_t *)original, key, ov)
        {
            if (!json_object_get(modified, key) &&
                json_object_set_new(patch, key, json_null()) < 0) {
                rc = smp_nomem(c);
                goto out;
            }
        }
    }
    if (json_array_size(retain) > 0 &&
        (json_object_size(patch) > 0 || has_additional_new_field(original, modified))) {
        json_t *sorted;
        if ((rc = smp_sort_by_text(c, retain, NULL, &sorted)) < 0)
            goto out;
        if ((rc = set_key_new(c, patch, SMP_RETAIN_KEYS, sorted)) < 0)
            goto out;
    }
    *out = patch;
    patch = NULL;
out:
    json_decref(patch);
    json_decref(retain);
    return rc;
}

/* ---- conflicts (Kubernetes' MergingMapsHaveConflicts) ------------------------------ */

static int fields_conflict(smp_ctx *c, const json_t *left, const json_t *right, smp_type t,
                           smp_pmeta pm, bool *conflict);

static int maps_conflict(smp_ctx *c, const json_t *left, const json_t *right, smp_type t,
                         bool *conflict)
{
    const char *key;
    json_t *lv;
    json_object_foreach((json_t *)left, key, lv)
    {
        if (!strcmp(key, SMP_DIRECTIVE) || !strcmp(key, SMP_RETAIN_KEYS))
            continue;
        json_t *rv = json_object_get(right, key);
        if (!rv)
            continue;
        smp_type sub = {SMP_T_NONE, NULL};
        smp_pmeta pm = {SMP_S_NONE, false, ""};
        size_t mark = smp_path_push(c, key);
        int rc = 0;
        if (json_is_array(lv))
            rc = smp_lookup_slice(c, t, key, &sub, &pm);
        else if (json_is_object(lv))
            rc = smp_lookup_struct(c, t, key, &sub, &pm);
        if (rc == 0)
            rc = fields_conflict(c, lv, rv, sub, pm, conflict);
        smp_path_pop(c, mark);
        if (rc < 0) {
            *conflict = true;
            return rc;
        }
        if (*conflict)
            return 0;
    }
    *conflict = false;
    return 0;
}

/* Merge-keyed lists as objects keyed by the merge key's text. */
static int list_to_keyed(smp_ctx *c, const json_t *list, const char *merge_key, json_t **out)
{
    json_t *res = json_object();
    if (!res)
        return smp_nomem(c);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        json_t *mv = json_object_get(v, merge_key);
        if (!json_is_object(v) || !mv) {
            json_decref(res);
            return smp_err(c, KR_EPATCH, "list element %zu does not contain declared merge key: %s",
                           i, merge_key);
        }
        smp_text text;
        smp_text_of(mv, &text);
        char *name = kr_strndup(text.s, text.len);
        int rc = name ? json_object_set(res, name, v) : -1;
        kr_free(name);
        if (rc < 0) {
            json_decref(res);
            return smp_nomem(c);
        }
    }
    *out = res;
    return 0;
}

static int slices_conflict(smp_ctx *c, const json_t *left, const json_t *right, smp_type t,
                           smp_pmeta pm, bool *conflict)
{
    int cls, rc;
    *conflict = true;
    if ((rc = smp_slice_element_class(c, left, right, &cls)) < 0)
        return rc;
    smp_pmeta none = {SMP_S_NONE, false, ""};
    if (pm.strategy == SMP_S_MERGE) {
        *conflict = false;
        if (cls != SMP_V_OBJECT)
            return 0;
        json_t *lm = NULL, *rm = NULL;
        if ((rc = list_to_keyed(c, left, pm.merge_key, &lm)) == 0 &&
            (rc = list_to_keyed(c, right, pm.merge_key, &rm)) == 0) {
            const char *key;
            json_t *lv;
            json_object_foreach(lm, key, lv)
            {
                json_t *rv = json_object_get(rm, key);
                if (rv && ((rc = fields_conflict(c, lv, rv, t, none, conflict)) < 0 || *conflict))
                    break;
            }
        }
        json_decref(lm);
        json_decref(rm);
        if (rc < 0)
            *conflict = true;
        return rc;
    }
    if (json_array_size(left) != json_array_size(right))
        return 0;
    json_t *l = NULL, *r = NULL;
    if (cls != SMP_V_OBJECT) {
        json_t *ld = NULL, *rd = NULL;
        if ((rc = dedup_scalars(c, left, &ld)) == 0 && (rc = dedup_scalars(c, right, &rd)) == 0 &&
            (rc = smp_sort_by_text(c, ld, NULL, &l)) == 0)
            rc = smp_sort_by_text(c, rd, NULL, &r);
        json_decref(ld);
        json_decref(rd);
    } else {
        l = json_incref((json_t *)left);
        r = json_incref((json_t *)right);
    }
    *conflict = false;
    for (size_t i = 0; rc == 0 && i < json_array_size(l); i++) {
        if ((rc = fields_conflict(c, json_array_get(l, i), json_array_get(r, i), t, none,
                                  conflict)) < 0 ||
            *conflict)
            break;
    }
    json_decref(l);
    json_decref(r);
    if (rc < 0)
        *conflict = true;
    return rc;
}

static int fields_conflict(smp_ctx *c, const json_t *left, const json_t *right, smp_type t,
                           smp_pmeta pm, bool *conflict)
{
    if (json_is_object(left)) {
        if (!json_is_object(right)) {
            *conflict = true;
            return 0;
        }
        json_t *lm = json_object_get(left, SMP_DIRECTIVE);
        json_t *rm = json_object_get(right, SMP_DIRECTIVE);
        if ((lm || rm) && (!lm != !rm || !smp_go_eq(c, lm, rm))) {
            *conflict = true;
            return 0;
        }
        if (pm.strategy == SMP_S_REPLACE) {
            *conflict = false;
            return 0;
        }
        return maps_conflict(c, left, right, t, conflict);
    }
    if (json_is_array(left)) {
        if (!json_is_array(right)) {
            *conflict = true;
            return 0;
        }
        return slices_conflict(c, left, right, t, pm, conflict);
    }
    *conflict = !smp_go_eq(NULL, left, right);
    return 0;
}

/* ---- public -------------------------------------------------------------------------- */

int kr_patch_strategic_create(const kr_patch_meta_t *meta, const json_t *original,
                              const json_t *modified, json_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "strategic merge patch: out is NULL");
    *out = NULL;
    if (original && !json_is_object(original))
        return kr_error_set(err, KR_EINVAL, "/: the original document is not a JSON object");
    if (!json_is_object(modified))
        return kr_error_set(err, KR_EINVAL, "/: the modified document is not a JSON object");
    smp_ctx c;
    smp_ctx_init(&c, err);
    smp_type t = {meta ? SMP_T_STRUCT : SMP_T_NONE, meta};
    smp_dopts d = {.set_element_order = true};
    json_t *patch = NULL, *empty = original ? NULL : json_object();
    if (!original && !empty)
        return smp_finish(&c, smp_nomem(&c), out);
    /* The diff only reads its inputs; its result shares values with them,
     * so the caller gets a private copy. */
    int rc = diff_maps(&c, original ? original : empty, modified, t, d, &patch);
    if (rc == 0) {
        *out = json_deep_copy(patch);
        if (!*out)
            rc = smp_nomem(&c);
    }
    json_decref(patch);
    json_decref(empty);
    return smp_finish(&c, rc, out);
}

int kr_patch_strategic_three_way(const kr_patch_meta_t *meta, const json_t *last_applied,
                                 const json_t *modified, const json_t *current, bool overwrite,
                                 json_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "strategic merge patch: out is NULL");
    *out = NULL;
    if (last_applied && !json_is_object(last_applied))
        return kr_error_set(err, KR_EINVAL, "/: the last-applied document is not a JSON object");
    if (!json_is_object(modified))
        return kr_error_set(err, KR_EINVAL, "/: the modified document is not a JSON object");
    if (!json_is_object(current))
        return kr_error_set(err, KR_EINVAL, "/: the current document is not a JSON object");
    smp_ctx c;
    smp_ctx_init(&c, err);
    json_t *empty = json_object();
    const json_t *la = last_applied ? last_applied : empty;
    json_t *delta = NULL, *deletions = NULL, *patch = NULL, *changed = NULL, *copy;
    smp_type t = {meta ? SMP_T_STRUCT : SMP_T_NONE, meta};
    int rc;
    if (!empty) {
        rc = smp_nomem(&c);
        goto out;
    }
    /* The patch is the change from current to modified without deletions,
     * plus the deletions from last-applied to modified. The diffs only read
     * the documents; merging them writes, so it works on private copies of
     * the (small) diffs. */
    smp_dopts delta_opts = {.ignore_deletions = true, .set_element_order = true};
    smp_dopts deletion_opts = {.set_element_order = true, .ignore_changes = true};
    if ((rc = diff_maps(&c, current, modified, t, delta_opts, &delta)) < 0 ||
        (rc = diff_maps(&c, la, modified, t, deletion_opts, &deletions)) < 0)
        goto out;
    if (!(copy = json_deep_copy(delta))) {
        rc = smp_nomem(&c);
        goto out;
    }
    json_decref(delta);
    delta = copy;
    if (!(copy = json_deep_copy(deletions))) {
        rc = smp_nomem(&c);
        goto out;
    }
    json_decref(deletions);
    deletions = copy;
    smp_mopts merge_opts = {.merge_parallel_list = false, .ignore_unmatched_nulls = false};
    if ((rc = smp_merge_map(&c, deletions, delta, t, merge_opts, &patch)) < 0)
        goto out;
    if (!overwrite) {
        smp_dopts change_opts = {0};
        bool conflict = false;
        if ((rc = diff_maps(&c, la, current, t, change_opts, &changed)) < 0 ||
            (rc = maps_conflict(&c, patch, changed, t, &conflict)) < 0)
            goto out;
        if (conflict) {
            rc = kr_error_set(err, KR_ECONFLICT,
                              "/: the patch changes fields that were changed by someone else "
                              "since the last apply");
            goto out;
        }
    }
    /* The merged patch is made of the private copies: hand it over. */
    *out = patch;
    patch = NULL;
    rc = 0;
out:
    json_decref(empty);
    json_decref(delta);
    json_decref(deletions);
    json_decref(patch);
    json_decref(changed);
    return smp_finish(&c, rc, out);
}
