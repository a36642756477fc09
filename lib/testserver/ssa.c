/* libkreconcile-testserver — server-side apply's field ownership, as
 * kube-apiserver's field manager keeps it (structured-merge-diff):
 *
 * - a field set is a FieldsV1 tree: "f:name" for a field, "k:{...}" for an
 *   item of a keyed list, "v:..." for an item of a set; "." marks a path
 *   that is itself owned. In memory every owned path carries its "."; on
 *   the wire a leaf is written {} alone.
 * - the type of every path comes from the built-in patch table (listType,
 *   listMapKeys, mapType, atomic structs), from a custom resource's
 *   structural schema, or, for fields neither knows, from the value
 *   (objects granular, lists atomic).
 * - an apply merges the configuration into the live object, removes what
 *   the applier owned before, no longer applies and nobody else owns, and
 *   fails with the conflicts where it changes what another manager owns
 *   (unless forced: then they lose it). Every other write makes its
 *   manager the owner of what it added or changed.
 *
 * Callers hold ts->mu. */
#include <stdlib.h>
#include <string.h>

#include "../patch_schema_internal.h"
#include "testserver/ts_internal.h"

/* ---- types ------------------------------------------------------------------------------ */

typedef enum { T_DEDUCED = 0, T_DEF, T_FIELD, T_ELEM, T_SCHEMA, T_CR_ROOT } ty_tag;

typedef struct ty {
    ty_tag tag;
    const kr_patch_meta_t *def; /* T_DEF */
    const kr_patch_field_t *field; /* T_FIELD, T_ELEM */
    const json_t *schema; /* T_SCHEMA, T_CR_ROOT */
    int depth; /* below this, everything is owned whole */
} ty;

#define SSA_MAX_DEPTH 64
#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

typedef enum { S_SCALAR, S_ATOMIC, S_MAP, S_SET, S_KEYED } shape;

static const ty deduced = {T_DEDUCED, NULL, NULL, NULL, 0};

/* A definition's field by exact name (fields are sorted by name). The
 * tables are read through the pointers the exported kr_patch_schema_find
 * returns; the test server links against the library's exports only. */
static const kr_patch_field_t *field_of(const kr_patch_meta_t *d, const char *name)
{
    size_t lo = 0, hi = d->nfields;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(d->fields[mid].name, name);
        if (c == 0)
            return &d->fields[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ObjectMeta, the definition of any built-in kind's metadata. */
static const kr_patch_meta_t *object_meta(void)
{
    const kr_patch_meta_t *cm = kr_patch_schema_find(kr_patch_schema_builtin(), "v1", "ConfigMap");
    const kr_patch_field_t *f = cm ? field_of(cm, "metadata") : NULL;
    return f ? f->ref : NULL;
}

/* The type of res's objects as served, or as stored (a version stored as
 * another is typed by the stored one). */
static ty root_type_of(const ts_resource *res, bool stored)
{
    if (res->crd)
        return (ty){T_CR_ROOT, NULL, NULL, res->schema, 0};
    const char *av = stored && res->stored_api_version ? res->stored_api_version : res->api_version;
    const kr_patch_meta_t *d = kr_patch_schema_find(kr_patch_schema_builtin(), av, res->kind);
    return d ? (ty){T_DEF, d, NULL, NULL, 0} : deduced;
}

static ty root_type(const ts_resource *res)
{
    return root_type_of(res, false);
}

static shape by_value(const json_t *v)
{
    return json_is_object(v) ? S_MAP : json_is_array(v) ? S_ATOMIC : S_SCALAR;
}

static shape list_shape(unsigned flags, const char *merge_key, const char **keys)
{
    if (flags & KR_PF_LIST_MAP)
        return S_KEYED;
    if (flags & KR_PF_LIST_SET)
        return S_SET;
    if (flags & KR_PF_LIST_ATOMIC)
        return S_ATOMIC;
    if ((flags & KR_PF_MERGE) && merge_key) {
        *keys = merge_key;
        return S_KEYED;
    }
    return (flags & KR_PF_MERGE) ? S_SET : S_ATOMIC;
}

static shape def_shape(const kr_patch_meta_t *d, unsigned flags, const json_t *v)
{
    if (!json_is_object(v))
        return json_is_null(v) ? S_SCALAR : S_ATOMIC;
    if (flags & KR_PF_MAP_ATOMIC)
        return S_ATOMIC;
    return d->atomic && !(flags & KR_PF_MAP_GRANULAR) ? S_ATOMIC : S_MAP;
}

/* The shape of value v at type t; *keys gets a keyed list's keys
 * ("a,b"), *schema_keys a schema's key array. */
static shape shape_of(const ty *t, const json_t *v, const char **keys, const json_t **schema_keys)
{
    *keys = NULL;
    *schema_keys = NULL;
    if (t->depth > SSA_MAX_DEPTH)
        return json_is_object(v) || json_is_array(v) ? S_ATOMIC : S_SCALAR;
    const kr_patch_field_t *f = t->field;
    switch (t->tag) {
    case T_DEDUCED:
        return by_value(v);
    case T_CR_ROOT:
        return json_is_object(v) ? S_MAP : by_value(v);
    case T_DEF:
        return def_shape(t->def, 0, v);
    case T_FIELD:
        if (f->flags & KR_PF_LIST) {
            if (!json_is_array(v))
                return by_value(v);
            shape s = list_shape(f->flags, f->merge_key, keys);
            if (s == S_KEYED && !*keys)
                *keys = f->list_keys;
            return s;
        }
        if (f->flags & KR_PF_MAP)
            return !json_is_object(v)              ? by_value(v)
                   : (f->flags & KR_PF_MAP_ATOMIC) ? S_ATOMIC
                                                   : S_MAP;
        if (f->ref)
            return def_shape(f->ref, f->flags, v);
        return json_is_object(v) || json_is_array(v) ? S_ATOMIC : S_SCALAR;
    case T_ELEM:
        if ((f->flags & KR_PF_MAP) && (f->flags & KR_PF_MAP_OF_LISTS))
            return json_is_array(v) || json_is_object(v) ? S_ATOMIC : S_SCALAR;
        if (f->ref)
            return def_shape(f->ref, 0, v);
        return json_is_object(v) || json_is_array(v) ? S_ATOMIC : S_SCALAR;
    case T_SCHEMA: {
        const json_t *s = t->schema;
        const char *type = json_string_value(json_object_get(s, "type"));
        if (json_is_array(v)) {
            if (type && strcmp(type, "array") != 0)
                return S_ATOMIC;
            const char *lt = json_string_value(json_object_get(s, "x-kubernetes-list-type"));
            if (lt && strcmp(lt, "set") == 0)
                return S_SET;
            if (lt && strcmp(lt, "map") == 0 &&
                json_array_size(json_object_get(s, "x-kubernetes-list-map-keys")) > 0) {
                *schema_keys = json_object_get(s, "x-kubernetes-list-map-keys");
                return S_KEYED;
            }
            return S_ATOMIC;
        }
        if (json_is_object(v)) {
            const char *mt = json_string_value(json_object_get(s, "x-kubernetes-map-type"));
            if ((mt && strcmp(mt, "atomic") == 0) || (type && strcmp(type, "object") != 0))
                return S_ATOMIC;
            return S_MAP;
        }
        return S_SCALAR;
    }
    }
    return S_SCALAR;
}

/* The type of a map's member `key`; *named: a declared field of a struct
 * (as opposed to a key of a map or a field nothing declares). */
static ty child_type_at(const ty *t, const char *key, bool *named);

static ty child_type(const ty *t, const char *key, bool *named)
{
    ty c = child_type_at(t, key, named);
    c.depth = t->depth + 1;
    return c;
}

static ty child_type_at(const ty *t, const char *key, bool *named)
{
    *named = false;
    const kr_patch_meta_t *d = NULL;
    switch (t->tag) {
    case T_DEDUCED:
        return deduced;
    case T_CR_ROOT:
        if (strcmp(key, "metadata") == 0 && object_meta()) {
            *named = true;
            return (ty){T_DEF, object_meta(), NULL, NULL, 0};
        }
        if (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0) {
            *named = true;
            return deduced;
        }
        if (!t->schema)
            return deduced;
        return child_type_at(&(ty){T_SCHEMA, NULL, NULL, t->schema, 0}, key, named);
    case T_DEF:
        d = t->def;
        break;
    case T_FIELD:
        if (t->field->flags & KR_PF_MAP)
            return (ty){T_ELEM, NULL, t->field, NULL, 0};
        d = t->field->ref;
        break;
    case T_ELEM:
        d = (t->field->flags & KR_PF_MAP_OF_LISTS) ? NULL : t->field->ref;
        break;
    case T_SCHEMA: {
        const json_t *p = json_object_get(json_object_get(t->schema, "properties"), key);
        if (json_is_object(p)) {
            *named = true;
            return (ty){T_SCHEMA, NULL, NULL, p, 0};
        }
        const json_t *ap = json_object_get(t->schema, "additionalProperties");
        if (json_is_object(ap))
            return (ty){T_SCHEMA, NULL, NULL, ap, 0};
        return deduced;
    }
    }
    if (!d)
        return deduced;
    const kr_patch_field_t *f = field_of(d, key);
    if (!f)
        return deduced;
    *named = true;
    return (ty){T_FIELD, NULL, f, NULL, 0};
}

static ty item_type(const ty *t)
{
    ty c = deduced;
    if (t->tag == T_FIELD)
        c = (ty){T_ELEM, NULL, t->field, NULL, 0};
    else if (t->tag == T_SCHEMA && json_is_object(json_object_get(t->schema, "items")))
        c = (ty){T_SCHEMA, NULL, NULL, json_object_get(t->schema, "items"), 0};
    c.depth = t->depth + 1;
    return c;
}

/* ---- path elements ---------------------------------------------------------------------- */

static char *dump_value(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

/* One key of a keyed item: its value, or the default a missing protocol
 * gets (the only defaulted key field of the built-in kinds). */
static void add_key(json_t *key, const json_t *item, const char *name)
{
    const json_t *v = json_object_get(item, name);
    if (v)
        json_object_set(key, name, (json_t *)v);
    else if (strcmp(name, "protocol") == 0)
        json_object_set_new(key, name, json_string("TCP"));
}

/* The path element of a list item: "k:{...}" (keys sorted), "v:...", or
 * "i:N" when the item has no key to be named by. */
static char *item_pe(shape s, const char *keys, const json_t *schema_keys, const json_t *item,
                     size_t index)
{
    if (s == S_SET) {
        char *v = dump_value(item);
        char *pe = v ? kr_asprintf("v:%s", v) : NULL;
        kr_json_text_free(v);
        return pe;
    }
    if (!json_is_object(item))
        return kr_asprintf("i:%zu", index);
    json_t *key = json_object();
    if (!key)
        return NULL;
    if (schema_keys) {
        size_t i;
        const json_t *k;
        json_array_foreach((json_t *)schema_keys, i, k)
        {
            if (json_is_string(k))
                add_key(key, item, json_string_value(k));
        }
    } else if (keys) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", keys);
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save))
            add_key(key, item, tok);
    }
    char *pe = NULL;
    if (json_object_size(key) == 0) {
        pe = kr_asprintf("i:%zu", index);
    } else {
        char *v = dump_value(key);
        pe = v ? kr_asprintf("k:%s", v) : NULL;
        kr_json_text_free(v);
    }
    json_decref(key);
    return pe;
}

/* "f:" and a field name, in buf when it fits (most do); pe_done frees. */
static char *field_pe(const char *key, char *buf, size_t size)
{
    size_t n = strlen(key);
    if (n + 3 > size)
        return kr_asprintf("f:%s", key);
    buf[0] = 'f';
    buf[1] = ':';
    memcpy(buf + 2, key, n + 1);
    return buf;
}

static void pe_done(char *pe, const char *buf)
{
    if (pe != buf)
        kr_free(pe);
}

/* ---- field sets ------------------------------------------------------------------------- */

static bool fs_member(const json_t *node)
{
    return json_object_get(node, ".") != NULL;
}

static void fs_mark(json_t *node)
{
    json_object_set_new(node, ".", json_object());
}

static json_t *fs_child(json_t *node, const char *pe)
{
    json_t *c = json_object_get(node, pe);
    if (!c) {
        c = json_object();
        json_object_set_new(node, pe, c);
    }
    return c;
}

static bool fs_is_empty(const json_t *node)
{
    return !node || json_object_size(node) == 0;
}

/* Drop the child pe of node when it owns nothing. */
static void fs_prune_child(json_t *node, const char *pe)
{
    if (fs_is_empty(json_object_get(node, pe)))
        json_object_del(node, pe);
}

static void fs_union_into(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v)
    {
        if (strcmp(k, ".") == 0)
            fs_mark(dst);
        else
            fs_union_into(fs_child(dst, k), v);
    }
}

/* a minus b (b may be NULL), a new set. */
static json_t *fs_diff(const json_t *a, const json_t *b)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        if (strcmp(k, ".") == 0) {
            if (!fs_member(b))
                fs_mark(out);
            continue;
        }
        json_t *d = fs_diff(v, json_object_get(b, k));
        if (fs_is_empty(d))
            json_decref(d);
        else
            json_object_set_new(out, k, d);
    }
    return out;
}

static json_t *fs_inter(const json_t *a, const json_t *b)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v)
    {
        const json_t *bv = json_object_get(b, k);
        if (!bv)
            continue;
        if (strcmp(k, ".") == 0) {
            fs_mark(out);
            continue;
        }
        json_t *d = fs_inter(v, bv);
        if (fs_is_empty(d))
            json_decref(d);
        else
            json_object_set_new(out, k, d);
    }
    return out;
}

static void fs_subtract(json_t **a, const json_t *b)
{
    if (fs_is_empty(b) || fs_is_empty(*a))
        return;
    json_t *d = fs_diff(*a, b);
    json_decref(*a);
    *a = d;
}

/* FieldsV1 from the wire: a {} leaf is an owned path. */
static json_t *fs_from_wire(const json_t *w, bool root)
{
    json_t *out = json_object();
    if (!json_is_object(w))
        return out;
    if (!root && json_object_size(w) == 0)
        fs_mark(out);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)w, k, v)
    {
        if (strcmp(k, ".") == 0) {
            if (!root)
                fs_mark(out);
            continue;
        }
        json_t *c = fs_from_wire(v, false);
        if (fs_is_empty(c))
            json_decref(c);
        else
            json_object_set_new(out, k, c);
    }
    return out;
}

/* The order structured-merge-diff writes path elements in: fields, then
 * keys, then values, then indexes; within a kind by name or value. */
static int pe_rank(const char *pe)
{
    switch (pe[0]) {
    case 'f':
        return 0;
    case 'k':
        return 1;
    case 'v':
        return 2;
    default:
        return 3;
    }
}

static int value_rank(const json_t *v)
{
    if (json_is_null(v))
        return 0;
    if (json_is_boolean(v))
        return 1;
    if (json_is_number(v))
        return 2;
    if (json_is_string(v))
        return 3;
    if (json_is_array(v))
        return 4;
    return 5;
}

static int value_cmp(const json_t *a, const json_t *b)
{
    int ra = value_rank(a), rb = value_rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (json_is_number(a)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_string(a))
        return strcmp(json_string_value(a), json_string_value(b));
    if (json_is_boolean(a))
        return (int)json_is_true(a) - (int)json_is_true(b);
    char *sa = dump_value(a), *sb = dump_value(b);
    int c = strcmp(sa ? sa : "", sb ? sb : "");
    kr_json_text_free(sa);
    kr_json_text_free(sb);
    return c;
}

/* Two keys: field by field in name order, then the shorter first. */
static int key_cmp(const json_t *a, const json_t *b)
{
    void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
    for (; ia && ib;
         ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
        int c = strcmp(json_object_iter_key(ia), json_object_iter_key(ib));
        if (c == 0)
            c = value_cmp(json_object_iter_value(ia), json_object_iter_value(ib));
        if (c != 0)
            return c;
    }
    return ia ? 1 : ib ? -1 : 0;
}

static int pe_cmp(const char *a, const char *b)
{
    int ra = pe_rank(a), rb = pe_rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (ra == 0)
        return strcmp(a + 2, b + 2);
    if (ra == 3)
        return atol(a + 2) < atol(b + 2) ? -1 : atol(a + 2) > atol(b + 2);
    json_t *va = json_loads(a + 2, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, NULL);
    json_t *vb = json_loads(b + 2, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, NULL);
    int c = va && vb ? (ra == 1 ? key_cmp(va, vb) : value_cmp(va, vb)) : strcmp(a, b);
    json_decref(va);
    json_decref(vb);
    return c;
}

static int pe_qsort(const void *a, const void *b)
{
    return pe_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* FieldsV1 for the wire, in structured-merge-diff's order. */
static json_t *fs_to_wire(const json_t *node, bool root)
{
    json_t *out = json_object();
    size_t n = json_object_size(node), count = 0;
    const char **keys = kr_calloc(n ? n : 1, sizeof(*keys));
    if (!out || !keys) {
        kr_free(keys);
        return out;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)node, k, v)
    {
        if (strcmp(k, ".") != 0)
            keys[count++] = k;
    }
    qsort(keys, count, sizeof(*keys), pe_qsort);
    if (!root && fs_member(node) && count > 0)
        fs_mark(out);
    for (size_t i = 0; i < count; i++)
        json_object_set_new(out, keys[i], fs_to_wire(json_object_get(node, keys[i]), false));
    kr_free(keys);
    return out;
}

/* ---- the walks -------------------------------------------------------------------------- */

/* The set of paths value v sets, into node (ToFieldSet). */
static void to_set(const json_t *v, const ty *t, json_t *node)
{
    const char *keys;
    const json_t *skeys;
    shape s = shape_of(t, v, &keys, &skeys);
    if (s == S_SCALAR || s == S_ATOMIC) {
        fs_mark(node);
        return;
    }
    if (s == S_MAP) {
        const char *k;
        json_t *cv;
        json_object_foreach((json_t *)v, k, cv)
        {
            bool named;
            ty ct = child_type(t, k, &named);
            char buf[128], *pe = field_pe(k, buf, sizeof(buf));
            if (!pe)
                continue;
            json_t *c = fs_child(node, pe);
            to_set(cv, &ct, c);
            if (json_is_null(cv) || (json_is_object(cv) && json_object_size(cv) == 0) || !named)
                fs_mark(c);
            fs_prune_child(node, pe);
            pe_done(pe, buf);
        }
        return;
    }
    ty it = item_type(t);
    size_t i;
    json_t *item;
    json_t *seen = json_object();
    json_array_foreach((json_t *)v, i, item)
    {
        char *pe = item_pe(s, keys, skeys, item, i);
        if (!pe)
            continue;
        json_t *c = fs_child(node, pe);
        if (json_object_get(seen, pe)) {
            /* a duplicate: owned whole, not field by field */
            json_object_clear(c);
        } else {
            json_object_set_new(seen, pe, json_true());
            to_set(item, &it, c);
        }
        fs_mark(c);
        kr_free(pe);
    }
    json_decref(seen);
}

/* A list's path elements in order, and where each first occurs. */
typedef struct indexed {
    char **pes;
    size_t n;
    json_t *first; /* pe -> index */
} indexed;

static void index_free(indexed *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        kr_free(ix->pes[i]);
    kr_free(ix->pes);
    json_decref(ix->first);
}

static int index_list(shape s, const char *keys, const json_t *skeys, const json_t *list,
                      indexed *ix)
{
    ix->n = json_array_size(list);
    ix->pes = kr_calloc(ix->n ? ix->n : 1, sizeof(*ix->pes));
    ix->first = json_object();
    if (!ix->pes || !ix->first)
        return -1;
    for (size_t i = 0; i < ix->n; i++) {
        ix->pes[i] = item_pe(s, keys, skeys, json_array_get(list, i), i);
        if (!ix->pes[i])
            return -1;
        if (!json_object_get(ix->first, ix->pes[i]))
            json_object_set_new(ix->first, ix->pes[i], json_integer((json_int_t)i));
    }
    return 0;
}

static long find_pe(const indexed *ix, const char *pe)
{
    const json_t *i = json_object_get(ix->first, pe);
    return i ? (long)json_integer_value(i) : -1;
}

static json_t *merge(const json_t *lhs, const json_t *rhs, const ty *t);

/* Keyed lists and sets: the items of both, matched by path element, in
 * structured-merge-diff's order (the configuration's order for the items
 * it names, the live object's others where they stood). */
static json_t *merge_list(const json_t *lhs, const json_t *rhs, const ty *t, shape s,
                          const char *keys, const json_t *skeys)
{
    indexed l = {0}, r = {0};
    json_t *out = json_array();
    if (!out || index_list(s, keys, skeys, lhs, &l) != 0 ||
        index_list(s, keys, skeys, rhs, &r) != 0) {
        index_free(&l);
        index_free(&r);
        json_decref(out);
        return NULL;
    }
    ty it = item_type(t);
    /* the configuration's items that the live object also has, in order */
    size_t *shared = kr_calloc(r.n ? r.n : 1, sizeof(*shared));
    bool *done = kr_calloc(r.n ? r.n : 1, sizeof(*done));
    size_t nshared = 0, next = 0;
    for (size_t i = 0; shared && i < r.n; i++)
        if (find_pe(&l, r.pes[i]) >= 0 && find_pe(&r, r.pes[i]) == (long)i)
            shared[nshared++] = i;
    size_t li = 0, ri = 0;
    while (shared && done && (li < l.n || ri < r.n)) {
        if (li < l.n && ri < r.n) {
            if (strcmp(l.pes[li], r.pes[ri]) == 0) {
                done[ri] = true;
                json_array_append_new(out,
                                      merge(json_array_get(lhs, li), json_array_get(rhs, ri), &it));
                li++;
                ri++;
                while (next < nshared && done[shared[next]])
                    next++;
                continue;
            }
            long rpos = find_pe(&r, l.pes[li]);
            if (rpos >= 0 && next < nshared && shared[next] != (size_t)rpos) {
                li++;
                continue;
            }
        }
        if (li < l.n) {
            long rpos = find_pe(&r, l.pes[li]);
            if (rpos < 0) {
                json_array_append(out, json_array_get(lhs, li));
                li++;
                continue;
            }
            if (done[rpos])
                li++;
        }
        if (ri < r.n) {
            long lpos = find_pe(&l, r.pes[ri]);
            if (find_pe(&r, r.pes[ri]) == (long)ri) {
                done[ri] = true;
                json_array_append_new(out,
                                      merge(lpos >= 0 ? json_array_get(lhs, (size_t)lpos) : NULL,
                                            json_array_get(rhs, ri), &it));
            }
            ri++;
            while (next < nshared && done[shared[next]])
                next++;
        }
    }
    kr_free(shared);
    kr_free(done);
    index_free(&l);
    index_free(&r);
    return out;
}

/* The configuration rhs merged into the live lhs (either may be NULL). */
static json_t *merge(const json_t *lhs, const json_t *rhs, const ty *t)
{
    if (!rhs)
        return json_deep_copy(lhs);
    if (!lhs)
        return json_deep_copy(rhs);
    const char *keys;
    const json_t *skeys;
    shape s = shape_of(t, rhs, &keys, &skeys);
    if (s == S_MAP && json_is_object(lhs)) {
        json_t *out = json_deep_copy(lhs);
        const char *k;
        json_t *rv;
        json_object_foreach((json_t *)rhs, k, rv)
        {
            if (json_is_null(rv)) {
                json_object_del(out, k);
                continue;
            }
            bool named;
            ty ct = child_type(t, k, &named);
            json_t *m = merge(json_object_get(lhs, k), rv, &ct);
            if (m)
                json_object_set_new(out, k, m);
        }
        return out;
    }
    if ((s == S_SET || s == S_KEYED) && json_is_array(lhs))
        return merge_list(lhs, rhs, t, s, keys, skeys);
    return json_deep_copy(rhs);
}

/* Every path of v, each owned, into node: what a value added or removed
 * whole brings (its containers included). */
static void all_paths(const json_t *v, const ty *t, json_t *node)
{
    const char *keys;
    const json_t *skeys;
    shape s = shape_of(t, v, &keys, &skeys);
    fs_mark(node);
    if (s == S_MAP) {
        const char *k;
        json_t *cv;
        json_object_foreach((json_t *)v, k, cv)
        {
            bool named;
            ty ct = child_type(t, k, &named);
            char buf[128], *pe = field_pe(k, buf, sizeof(buf));
            if (pe)
                all_paths(cv, &ct, fs_child(node, pe));
            pe_done(pe, buf);
        }
    } else if (s == S_SET || s == S_KEYED) {
        ty it = item_type(t);
        size_t i;
        json_t *item;
        json_array_foreach((json_t *)v, i, item)
        {
            char *pe = item_pe(s, keys, skeys, item, i);
            if (pe)
                all_paths(item, &it, fs_child(node, pe));
            kr_free(pe);
        }
    }
}

typedef struct cmp {
    json_t *added, *removed, *modified;
} cmp;

static bool is_empty_container(const json_t *v)
{
    return !v || (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

static void compare_at(const json_t *l, const json_t *r, const ty *t, cmp *c, const char *pe);

/* What changed from l to r (Compare): added and removed paths with their
 * containers, modified leaves. The nodes are the sets' nodes at the path. */
static void compare(const json_t *l, const json_t *r, const ty *t, json_t *an, json_t *rn,
                    json_t *mn)
{
    if (!l) {
        all_paths(r, t, an);
        return;
    }
    if (!r) {
        all_paths(l, t, rn);
        return;
    }
    const char *keys;
    const json_t *skeys;
    shape sl = shape_of(t, l, &keys, &skeys);
    shape s = shape_of(t, r, &keys, &skeys);
    bool leaf = s == S_SCALAR || s == S_ATOMIC || s != sl ||
                (is_empty_container(l) && is_empty_container(r));
    if (leaf) {
        if (!json_equal((json_t *)l, (json_t *)r))
            fs_mark(mn);
        return;
    }
    cmp c = {an, rn, mn};
    if (s == S_MAP) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)l, k, v)
        {
            bool named;
            ty ct = child_type(t, k, &named);
            char buf[128], *pe = field_pe(k, buf, sizeof(buf));
            if (pe)
                compare_at(v, json_object_get(r, k), &ct, &c, pe);
            pe_done(pe, buf);
        }
        json_object_foreach((json_t *)r, k, v)
        {
            if (json_object_get(l, k))
                continue;
            bool named;
            ty ct = child_type(t, k, &named);
            char buf[128], *pe = field_pe(k, buf, sizeof(buf));
            if (pe)
                compare_at(NULL, v, &ct, &c, pe);
            pe_done(pe, buf);
        }
        return;
    }
    indexed li = {0}, ri = {0};
    ty it = item_type(t);
    if (index_list(s, keys, skeys, l, &li) == 0 && index_list(s, keys, skeys, r, &ri) == 0) {
        for (size_t i = 0; i < li.n; i++) {
            if (find_pe(&li, li.pes[i]) != (long)i)
                continue;
            long j = find_pe(&ri, li.pes[i]);
            compare_at(json_array_get(l, i), j >= 0 ? json_array_get(r, (size_t)j) : NULL, &it, &c,
                       li.pes[i]);
        }
        for (size_t j = 0; j < ri.n; j++) {
            if (find_pe(&ri, ri.pes[j]) != (long)j || find_pe(&li, ri.pes[j]) >= 0)
                continue;
            compare_at(NULL, json_array_get(r, j), &it, &c, ri.pes[j]);
        }
    }
    index_free(&li);
    index_free(&ri);
}

static void compare_at(const json_t *l, const json_t *r, const ty *t, cmp *c, const char *pe)
{
    if (!l) {
        all_paths(r, t, fs_child(c->added, pe));
        return;
    }
    if (!r) {
        all_paths(l, t, fs_child(c->removed, pe));
        return;
    }
    if (json_equal((json_t *)l, (json_t *)r))
        return; /* nothing below changed */
    json_t *a = fs_child(c->added, pe), *rm = fs_child(c->removed, pe),
           *m = fs_child(c->modified, pe);
    compare(l, r, t, a, rm, m);
    fs_prune_child(c->added, pe);
    fs_prune_child(c->removed, pe);
    fs_prune_child(c->modified, pe);
}

/* Remove from v every path the set owns (RemoveItems). */
static void remove_items(json_t *v, const ty *t, const json_t *set)
{
    const char *keys;
    const json_t *skeys;
    shape s = shape_of(t, v, &keys, &skeys);
    if (s == S_MAP) {
        const char *pe;
        json_t *sub;
        json_object_foreach((json_t *)set, pe, sub)
        {
            if (strncmp(pe, "f:", 2) != 0 || !json_object_get(v, pe + 2))
                continue;
            if (fs_member(sub)) {
                json_object_del(v, pe + 2);
                continue;
            }
            bool named;
            ty ct = child_type(t, pe + 2, &named);
            remove_items(json_object_get(v, pe + 2), &ct, sub);
        }
        return;
    }
    if (s != S_SET && s != S_KEYED)
        return;
    ty it = item_type(t);
    for (size_t i = json_array_size(v); i-- > 0;) {
        char *pe = item_pe(s, keys, skeys, json_array_get(v, i), i);
        const json_t *sub = pe ? json_object_get(set, pe) : NULL;
        kr_free(pe);
        if (!sub)
            continue;
        if (fs_member(sub))
            json_array_remove(v, i);
        else
            remove_items(json_array_get(v, i), &it, sub);
    }
}

/* A copy of set where a declared field with owned paths below it is owned
 * itself (EnsureNamedFieldsAreMembers). */
static json_t *ensure_named(const json_t *set, const ty *t)
{
    json_t *out = json_object();
    const char *pe;
    json_t *sub;
    json_object_foreach((json_t *)set, pe, sub)
    {
        if (strcmp(pe, ".") == 0) {
            fs_mark(out);
            continue;
        }
        ty ct;
        bool named = false;
        if (strncmp(pe, "f:", 2) == 0)
            ct = child_type(t, pe + 2, &named);
        else
            ct = item_type(t);
        json_t *c = ensure_named(sub, &ct);
        if (named && json_object_size(c) > 0)
            fs_mark(c);
        json_object_set_new(out, pe, c);
    }
    return out;
}

/* ---- what the field manager ignores ----------------------------------------------------- */

/* apiVersion, kind and the metadata the server sets; on the main resource
 * of a kind with a status subresource its status, on the status
 * subresource everything but status and the metadata a status write may
 * change. */
static void strip(json_t **set, const ts_resource *res, const char *sub)
{
    static const char *const meta[] = {
        ".",     "f:name",        "f:namespace",  "f:creationTimestamp", "f:selfLink",
        "f:uid", "f:clusterName", "f:generation", "f:managedFields",     "f:resourceVersion"};
    json_object_del(*set, "f:apiVersion");
    json_object_del(*set, "f:kind");
    json_t *md = json_object_get(*set, "f:metadata");
    for (size_t i = 0; md && i < KR_ARRAY_LEN(meta); i++)
        json_object_del(md, meta[i]);
    fs_prune_child(*set, "f:metadata");
    if (sub && strcmp(sub, "status") == 0) {
        /* the status manager owns status, and the metadata the kind's
         * status strategy neither resets nor lists in GetResetFields */
        json_t *keep = json_object_get(*set, "f:status");
        json_t *only = json_object();
        if (keep)
            json_object_set(only, "f:status", keep);
        unsigned reset = ts_status_resets(res);
        md = json_object_get(*set, "f:metadata");
        if (md && !(reset & (SR_ALL | SR_UNOWNED))) {
            json_object_set(only, "f:metadata", md);
            for (unsigned bit = SR_LABELS; bit <= SR_OWNERS; bit <<= 1) {
                char pe[32];
                snprintf(pe, sizeof(pe), "f:%s", ts_status_meta_field(bit));
                if (reset & bit)
                    json_object_del(md, pe);
            }
            fs_prune_child(only, "f:metadata");
        }
        json_decref(*set);
        *set = only;
    } else if (!sub && res->has_status) {
        json_object_del(*set, "f:status");
    }
}

/* ---- managers --------------------------------------------------------------------------- */

typedef struct owner {
    json_t *entry; /* manager, operation, apiVersion, time, subresource (no fields) */
    json_t *set; /* in memory form */
    bool touched; /* its time is now */
} owner;

typedef struct managers {
    owner *v;
    size_t n;
} managers;

static void managers_free(managers *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        json_decref(ms->v[i].entry);
        json_decref(ms->v[i].set);
    }
    kr_free(ms->v);
    ms->v = NULL;
    ms->n = 0;
}

static bool str_eq(const json_t *a, const json_t *b)
{
    const char *x = json_string_value(a), *y = json_string_value(b);
    return strcmp(x ? x : "", y ? y : "") == 0;
}

/* One entry per manager, operation and subresource, and per apiVersion
 * for updates (the field manager's identifier). */
static bool same_manager(const json_t *a, const json_t *b)
{
    if (!str_eq(json_object_get(a, "manager"), json_object_get(b, "manager")) ||
        !str_eq(json_object_get(a, "operation"), json_object_get(b, "operation")) ||
        !str_eq(json_object_get(a, "subresource"), json_object_get(b, "subresource")))
        return false;
    const char *op = json_string_value(json_object_get(a, "operation"));
    return (op && strcmp(op, "Apply") == 0) ||
           str_eq(json_object_get(a, "apiVersion"), json_object_get(b, "apiVersion"));
}

static int managers_decode(const json_t *array, managers *ms)
{
    size_t n = json_array_size(array), i;
    ms->v = kr_calloc(n ? n : 1, sizeof(*ms->v));
    ms->n = 0;
    if (!ms->v)
        return KR_ENOMEM;
    const json_t *e;
    json_array_foreach((json_t *)array, i, e)
    {
        if (!json_is_object(e))
            continue;
        owner *m = &ms->v[ms->n++];
        m->entry = json_deep_copy(e);
        json_object_del(m->entry, "fieldsV1");
        json_object_del(m->entry, "fieldsType");
        m->set = fs_from_wire(json_object_get(e, "fieldsV1"), true);
    }
    return 0;
}

static owner *managers_find(managers *ms, const json_t *id)
{
    for (size_t i = 0; i < ms->n; i++)
        if (same_manager(ms->v[i].entry, id))
            return &ms->v[i];
    return NULL;
}

static owner *managers_add(managers *ms, json_t *id)
{
    owner *m = managers_find(ms, id);
    if (m) {
        json_decref(id);
        return m;
    }
    owner *v = kr_realloc(ms->v, (ms->n + 1) * sizeof(*v));
    if (!v) {
        json_decref(id);
        return NULL;
    }
    ms->v = v;
    m = &ms->v[ms->n++];
    m->entry = id;
    m->set = json_object();
    m->touched = true;
    return m;
}

static const char *entry_str(const json_t *e, const char *key)
{
    const char *s = json_string_value(json_object_get(e, key));
    return s ? s : "";
}

/* kube-apiserver's order: Apply before Update, then by time, manager,
 * apiVersion and subresource. */
static int entry_order(const void *a, const void *b)
{
    const json_t *p = *(json_t *const *)a, *q = *(json_t *const *)b;
    static const char *const keys[] = {"operation", "time", "manager", "apiVersion", "subresource"};
    for (size_t i = 0; i < KR_ARRAY_LEN(keys); i++) {
        int c = strcmp(entry_str(p, keys[i]), entry_str(q, keys[i]));
        if (c != 0)
            return c;
    }
    return 0;
}

static json_t *managers_encode(managers *ms)
{
    json_t *out = json_array();
    char now[32];
    ts_timestamp(now);
    for (size_t i = 0; i < ms->n; i++) {
        owner *m = &ms->v[i];
        if (fs_is_empty(m->set))
            continue;
        json_t *e = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(m->entry, k, v)
        {
            if (strcmp(k, "time") == 0 || strcmp(k, "subresource") == 0)
                continue;
            json_object_set(e, k, v);
        }
        if (m->touched)
            json_object_set_new(e, "time", json_string(now));
        else if (json_object_get(m->entry, "time"))
            json_object_set(e, "time", json_object_get(m->entry, "time"));
        json_object_set_new(e, "fieldsType", json_string("FieldsV1"));
        json_object_set_new(e, "fieldsV1", fs_to_wire(m->set, true));
        if (json_object_get(m->entry, "subresource"))
            json_object_set(e, "subresource", json_object_get(m->entry, "subresource"));
        json_array_append_new(out, e);
    }
    size_t n = json_array_size(out);
    json_t **v = kr_calloc(n ? n : 1, sizeof(json_t *));
    if (!v)
        return out;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(out, i));
    qsort(v, n, sizeof(json_t *), entry_order);
    json_array_clear(out);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, v[i]);
    kr_free(v);
    return out;
}

static json_t *manager_id(const char *manager, const char *operation, const char *api_version,
                          const char *sub)
{
    json_t *id = json_pack("{s:s, s:s, s:s}", "manager", manager, "operation", operation,
                           "apiVersion", api_version);
    if (id && sub)
        json_object_set_new(id, "subresource", json_string(sub));
    return id;
}

/* ---- conflicts -------------------------------------------------------------------------- */

static void path_string(const char *pe, kr_buf *sb)
{
    if (pe[0] == 'f') {
        kr_buf_printf(sb, ".%s", pe + 2);
        return;
    }
    if (pe[0] == 'i') {
        kr_buf_printf(sb, "[%s]", pe + 2);
        return;
    }
    json_t *v = json_loads(pe + 2, JSON_DECODE_ANY, NULL);
    kr_buf_append_str(sb, "[");
    if (pe[0] == 'v') {
        char *s = v ? dump_value(v) : NULL;
        kr_buf_printf(sb, "=%s", s ? s : pe + 2);
        kr_json_text_free(s);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *kv;
        bool first = true;
        json_object_foreach(v, k, kv)
        {
            char *s = dump_value(kv);
            kr_buf_printf(sb, "%s%s=%s", first ? "" : ",", k, s ? s : "");
            kr_json_text_free(s);
            first = false;
        }
    }
    kr_buf_append_str(sb, "]");
    json_decref(v);
}

/* Each owned path of set, in order: this level's, then below (Iterate). */
static void each_path(const json_t *set, kr_buf *prefix, json_t *out)
{
    size_t n = json_object_size(set), count = 0;
    const char **keys = kr_calloc(n ? n : 1, sizeof(*keys));
    if (!keys)
        return;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)set, k, v)
    {
        if (strcmp(k, ".") != 0)
            keys[count++] = k;
    }
    qsort(keys, count, sizeof(*keys), pe_qsort);
    size_t len = prefix->len;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < count; i++) {
            const json_t *sub = json_object_get(set, keys[i]);
            if (pass == 0 && !fs_member(sub))
                continue;
            path_string(keys[i], prefix);
            if (pass == 0)
                json_array_append_new(out, json_string(prefix->data ? prefix->data : ""));
            else
                each_path(sub, prefix, out);
            prefix->len = len;
            if (prefix->data)
                prefix->data[len] = '\0';
        }
    }
    kr_free(keys);
}

static char *manager_label(const json_t *entry)
{
    const char *name = json_string_value(json_object_get(entry, "manager"));
    const char *sub = json_string_value(json_object_get(entry, "subresource"));
    const char *op = json_string_value(json_object_get(entry, "operation"));
    json_t *q = json_string(name ? name : "");
    char *quoted = dump_value(q);
    json_decref(q);
    char *label;
    if (sub) {
        json_t *qs = json_string(sub);
        char *qsub = dump_value(qs);
        json_decref(qs);
        label = kr_asprintf("%s with subresource %s", quoted ? quoted : "", qsub ? qsub : "");
        kr_json_text_free(qsub);
    } else {
        label = kr_strdup(quoted ? quoted : "");
    }
    kr_json_text_free(quoted);
    if (label && op && strcmp(op, "Update") == 0) {
        const char *av = json_string_value(json_object_get(entry, "apiVersion"));
        char *with = kr_asprintf("%s using %s", label, av ? av : "");
        kr_free(label);
        label = with;
    }
    return label;
}

static int by_label(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "label")),
                  json_string_value(json_object_get(*(json_t *const *)b, "label")));
}

/* 409 Conflict with one cause per path, as kube-apiserver words it. */
static void respond_conflicts(ts_response *resp, json_t *groups)
{
    size_t n = json_array_size(groups), total = 0, i;
    json_t **sorted = kr_calloc(n ? n : 1, sizeof(json_t *));
    json_t *causes = json_array();
    kr_buf msgb = {0}, *msg = &msgb;
    if (!sorted || !causes) {
        kr_free(sorted);
        json_decref(causes);
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        return;
    }
    for (i = 0; i < n; i++) {
        sorted[i] = json_array_get(groups, i);
        total += json_array_size(json_object_get(sorted[i], "paths"));
    }
    qsort(sorted, n, sizeof(json_t *), by_label);
    for (i = 0; i < n; i++) {
        const char *label = json_string_value(json_object_get(sorted[i], "label"));
        size_t j;
        json_t *p;
        json_array_foreach(json_object_get(sorted[i], "paths"), j, p)
        {
            char *m = kr_asprintf("conflict with %s", label);
            json_array_append_new(causes,
                                  json_pack("{s:s, s:s, s:s}", "reason", "FieldManagerConflict",
                                            "message", m ? m : "", "field", json_string_value(p)));
            kr_free(m);
        }
    }
    if (total == 1) {
        kr_buf_printf(msg, "Apply failed with 1 conflict: conflict with %s: %s",
                      json_string_value(json_object_get(sorted[0], "label")),
                      json_string_value(json_array_get(json_object_get(sorted[0], "paths"), 0)));
    } else {
        kr_buf_printf(msg, "Apply failed with %zu conflicts: ", total);
        for (i = 0; i < n; i++) {
            kr_buf_printf(msg, "%sconflicts with %s:", i ? "\n" : "",
                          json_string_value(json_object_get(sorted[i], "label")));
            size_t j;
            json_t *p;
            json_array_foreach(json_object_get(sorted[i], "paths"), j, p)
                kr_buf_printf(msg, "\n- %s", json_string_value(p));
        }
    }
    ts_respond_status(resp, 409, "Conflict", msg->data ? msg->data : "Apply failed",
                      json_pack("{s:o}", "causes", causes));
    kr_buf_free(msg);
    kr_free(sorted);
}

/* ---- Update and Apply ------------------------------------------------------------------- */

/* update(): the changes from live to obj taken from every manager but
 * `self` (conflicts unless force) and removed fields dropped; the
 * comparison's added and modified paths in *changed, removed in *gone. */
static int take_changes(const ts_resource *res, bool stored, const json_t *live, const json_t *obj,
                        managers *ms, const owner *self, bool force, const json_t *allowed,
                        const char *sub, json_t **changed, json_t **gone, ts_response *resp)
{
    ty root = root_type_of(res, stored);
    json_t *added = json_object(), *removed = json_object(), *modified = json_object();
    json_t *empty = json_object();
    if (!live) {
        /* A created object is compared with the kind's empty value: its
         * top-level structs are there already, so not added. */
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)obj, k, v)
        {
            if (json_is_object(v))
                json_object_set_new(empty, k, json_object());
        }
    }
    compare(live ? live : empty, obj, &root, added, removed, modified);
    json_decref(empty);
    json_object_del(added, ".");
    json_object_del(removed, ".");
    json_object_del(modified, ".");
    if (json_object_size(modified) == 0) { /* a create: all is added */
        json_decref(modified);
        modified = added;
    } else {
        fs_union_into(modified, added);
        json_decref(added);
    }
    strip(&modified, res, sub);
    strip(&removed, res, sub);
    json_t *groups = json_array();
    json_t **conflicts = kr_calloc(ms->n ? ms->n : 1, sizeof(json_t *));
    for (size_t i = 0; conflicts && i < ms->n; i++) {
        if (&ms->v[i] == self || fs_is_empty(modified))
            continue;
        json_t *c = fs_inter(ms->v[i].set, modified);
        if (fs_is_empty(c)) {
            json_decref(c);
            continue;
        }
        conflicts[i] = c;
        /* what kubectl's last client-side apply set as it still is does
         * not conflict for it (its move to server-side apply) */
        json_t *reported = allowed ? fs_diff(c, allowed) : json_incref(c);
        if (!fs_is_empty(reported)) {
            json_t *paths = json_array();
            kr_buf prefix = {0};
            each_path(reported, &prefix, paths);
            kr_buf_free(&prefix);
            char *label = manager_label(ms->v[i].entry);
            json_array_append_new(
                groups, json_pack("{s:s, s:o}", "label", label ? label : "", "paths", paths));
            kr_free(label);
        }
        json_decref(reported);
    }
    int rc = 0;
    if (!conflicts) {
        rc = KR_ENOMEM;
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
    } else if (!force && json_array_size(groups) > 0) {
        respond_conflicts(resp, groups);
        rc = KR_ECONFLICT;
    } else {
        for (size_t i = 0; i < ms->n; i++) {
            if (conflicts[i])
                fs_subtract(&ms->v[i].set, conflicts[i]);
            if (&ms->v[i] != self)
                fs_subtract(&ms->v[i].set, removed);
        }
    }
    for (size_t i = 0; conflicts && i < ms->n; i++)
        json_decref(conflicts[i]);
    kr_free(conflicts);
    json_decref(groups);
    if (rc == 0) {
        *changed = modified;
        *gone = removed;
    } else {
        json_decref(modified);
        json_decref(removed);
    }
    return rc;
}

/* The managedFields an object's request names: kept when it names some,
 * reset when it is [] or [{}], else the live object's. */
static const json_t *base_managed(const json_t *live, const json_t *obj, const char *sub,
                                  bool *reset)
{
    *reset = false;
    const json_t *lm = json_object_get(json_object_get(live, "metadata"), "managedFields");
    if (sub)
        return lm;
    const json_t *nm = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    if (json_is_array(nm) &&
        (json_array_size(nm) == 0 ||
         (json_array_size(nm) == 1 && json_object_size(json_array_get(nm, 0)) == 0))) {
        *reset = true;
        return NULL;
    }
    if (json_array_size(nm) > 0)
        return nm;
    return lm;
}

static int by_time_then_name(const void *a, const void *b)
{
    const owner *p = *(const owner *const *)a, *q = *(const owner *const *)b;
    int c = strcmp(entry_str(p->entry, "time"), entry_str(q->entry, "time"));
    return c ? c : strcmp(entry_str(p->entry, "manager"), entry_str(q->entry, "manager"));
}

/* At most ten Update entries: the oldest fold into one "ancient-changes"
 * entry per apiVersion, as kube-apiserver caps them. */
static void cap_updaters(managers *ms)
{
    enum { MAX_UPDATERS = 10 };
    size_t n = 0;
    char now[32];
    ts_timestamp(now);
    owner **up = kr_calloc(ms->n ? ms->n : 1, sizeof(owner *));
    for (size_t i = 0; up && i < ms->n; i++) {
        if (fs_is_empty(ms->v[i].set) ||
            strcmp(entry_str(ms->v[i].entry, "operation"), "Apply") == 0)
            continue;
        if (ms->v[i].touched) /* written now: the newest */
            json_object_set_new(ms->v[i].entry, "time", json_string(now));
        up[n++] = &ms->v[i];
    }
    if (!up || n <= MAX_UPDATERS) {
        kr_free(up);
        return;
    }
    qsort(up, n, sizeof(owner *), by_time_then_name);
    json_t *first = json_object(); /* apiVersion -> index in up of its first */
    for (size_t i = 0, left = n; i < n && left > MAX_UPDATERS; i++) {
        const char *av = entry_str(up[i]->entry, "apiVersion");
        json_t *f = json_object_get(first, av);
        if (!f) {
            json_object_set_new(first, av, json_integer((json_int_t)i));
            continue;
        }
        owner *bucket = up[json_integer_value(f)];
        if (strcmp(entry_str(bucket->entry, "manager"), "ancient-changes") != 0) {
            json_object_set_new(bucket->entry, "manager", json_string("ancient-changes"));
            json_object_del(bucket->entry, "subresource");
        }
        fs_union_into(bucket->set, up[i]->set);
        json_object_set(bucket->entry, "time", json_object_get(up[i]->entry, "time"));
        bucket->touched = up[i]->touched;
        json_object_clear(up[i]->set); /* gone */
        left--;
    }
    json_decref(first);
    kr_free(up);
}

json_t *ts_ssa_update(const ts_resource *res, const json_t *live, const json_t *obj,
                      const char *manager_name, const char *sub, const char *api_version)
{
    bool reset;
    const json_t *base = base_managed(live, obj, sub, &reset);
    managers ms = {0};
    if (managers_decode(reset ? NULL : base, &ms) != 0)
        return NULL;
    json_t *changed = NULL, *gone = NULL;
    ts_response scratch = {0};
    if (take_changes(res, true, live, obj, &ms, NULL, true, NULL, sub, &changed, &gone, &scratch) !=
        0) {
        ts_response_clear(&scratch);
        managers_free(&ms);
        return NULL;
    }
    if (!fs_is_empty(changed)) {
        owner *m = managers_add(&ms, manager_id(manager_name, "Update", api_version, sub));
        if (m && fs_is_empty(m->set)) {
            json_decref(m->set); /* a new manager: it owns what it changed */
            m->set = json_incref(changed);
            m->touched = true;
        } else if (m) {
            fs_subtract(&m->set, gone);
            fs_union_into(m->set, changed);
            m->touched = true;
        }
    }
    json_decref(changed);
    json_decref(gone);
    cap_updaters(&ms);
    json_t *out = managers_encode(&ms);
    managers_free(&ms);
    return out;
}

json_t *ts_ssa_applied_set(const ts_resource *res, const json_t *config, const char *manager_name,
                           const char *sub, const char *api_version)
{
    ty root = root_type(res);
    json_t *set = json_object();
    to_set(config, &root, set);
    json_object_del(set, ".");
    strip(&set, res, sub);
    managers ms = {0};
    json_t *out = NULL;
    if (managers_decode(NULL, &ms) == 0) {
        owner *m = managers_add(&ms, manager_id(manager_name, "Apply", api_version, sub));
        if (m) {
            json_decref(m->set);
            m->set = json_incref(set);
        }
        out = managers_encode(&ms);
    }
    managers_free(&ms);
    json_decref(set);
    return out;
}

/* The fields kubectl's last client-side apply set (its last-applied
 * annotation) that still hold the values it set: kube-apiserver lets the
 * manager "kubectl" take them over without force when it first applies
 * server-side. NULL when there is no such annotation. */
static json_t *last_applied_allowed(const ts_resource *res, const json_t *live, const ty *root)
{
    const char *text = json_string_value(json_object_get(
        json_object_get(json_object_get(live, "metadata"), "annotations"), LAST_APPLIED));
    json_t *last = text ? json_loads(text, 0, NULL) : NULL;
    const char *av = json_string_value(json_object_get(last, "apiVersion"));
    if (!json_is_object(last) || !av || strcmp(av, res->api_version) != 0) {
        json_decref(last);
        return NULL;
    }
    json_t *set = json_object(), *added = json_object(), *removed = json_object(),
           *modified = json_object();
    to_set(last, root, set);
    json_object_del(set, ".");
    compare(last, live, root, added, removed, modified);
    fs_subtract(&set, modified);
    fs_subtract(&set, added);
    fs_subtract(&set, removed);
    json_decref(added);
    json_decref(removed);
    json_decref(modified);
    json_decref(last);
    return set;
}

/* kube-apiserver's lastAppliedUpdater: an apply by the manager "kubectl"
 * rewrites the client-side apply annotation, when the object has one, to
 * the configuration applied (without that annotation, encoded as
 * Go's encoder does it: keys sorted, a line break at the end), so that a
 * later client-side `kubectl apply` diffs against what was applied last
 * and not against an older configuration. */
static int sync_last_applied(json_t *obj, const json_t *config)
{
    json_t *annotations = json_object_get(json_object_get(obj, "metadata"), "annotations");
    if (!json_string_value(json_object_get(annotations, LAST_APPLIED)))
        return 0;
    json_t *copy = json_deep_copy(config);
    if (!copy)
        return KR_ENOMEM;
    /* as Go deletes it from the map: an emptied map stays, {} */
    json_object_del(json_object_get(json_object_get(copy, "metadata"), "annotations"),
                    LAST_APPLIED);
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    char *line = text ? kr_asprintf("%s\n", text) : NULL;
    free(text);
    if (!line)
        return KR_ENOMEM;
    int rc = json_object_set_new(annotations, LAST_APPLIED, json_string(line));
    kr_free(line);
    return rc == 0 ? 0 : KR_ENOMEM;
}

int ts_ssa_apply(const ts_resource *res, const json_t *live, const json_t *config,
                 const char *manager_name, const char *sub, bool force, const char *api_version,
                 json_t **out, json_t **managed, ts_response *resp)
{
    *out = NULL;
    *managed = NULL;
    ty root = root_type(res);
    managers ms = {0};
    if (managers_decode(json_object_get(json_object_get(live, "metadata"), "managedFields"), &ms) !=
        0)
        return KR_ENOMEM;
    json_t *set = json_object();
    to_set(config, &root, set);
    json_object_del(set, ".");
    strip(&set, res, sub);
    owner *self = managers_add(&ms, manager_id(manager_name, "Apply", api_version, sub));
    json_t *merged = merge(live, config, &root);
    if (!self || !set || !merged) {
        json_decref(set);
        json_decref(merged);
        managers_free(&ms);
        return KR_ENOMEM;
    }
    json_object_set_new(self->entry, "apiVersion", json_string(api_version));
    json_t *last = self->set;
    self->set = set;
    /* prune: what the applier owned, applies no more and nobody owns */
    if (!fs_is_empty(last)) {
        json_t *owned = json_object();
        for (size_t i = 0; i < ms.n; i++)
            fs_union_into(owned, ms.v[i].set);
        json_t *lastn = ensure_named(last, &root), *ownedn = ensure_named(owned, &root);
        json_t *drop = fs_diff(lastn, ownedn);
        remove_items(merged, &root, drop);
        json_decref(drop);
        json_decref(lastn);
        json_decref(ownedn);
        json_decref(owned);
    }
    bool changed_set = !json_equal(last, set);
    json_decref(last);
    bool kubectl = strcmp(manager_name, "kubectl") == 0;
    json_t *allowed = !force && kubectl ? last_applied_allowed(res, live, &root) : NULL;
    json_t *changed = NULL, *gone = NULL;
    int rc = take_changes(res, false, live, merged, &ms, self, force, allowed, sub, &changed, &gone,
                          resp);
    json_decref(allowed);
    if (rc != 0) {
        json_decref(merged);
        managers_free(&ms);
        return rc;
    }
    self->touched = changed_set || !fs_is_empty(changed) || !fs_is_empty(gone) ||
                    !json_object_get(self->entry, "time");
    json_decref(changed);
    json_decref(gone);
    *managed = managers_encode(&ms);
    managers_free(&ms);
    if (!*managed || (kubectl && !sub && sync_last_applied(merged, config) != 0)) {
        json_decref(*managed);
        *managed = NULL;
        json_decref(merged);
        return KR_ENOMEM;
    }
    *out = merged;
    return 0;
}
