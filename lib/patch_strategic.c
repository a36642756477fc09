/* libkreconcile — applying a Kubernetes strategic merge patch: the
 * semantics of k8s.io/apimachinery/pkg/util/strategicpatch (v1.32) on
 * jansson values, written for C (merge keys, primitive set merge, $patch,
 * $retainKeys, $deleteFromPrimitiveList, $setElementOrder, null deletes).
 * Works on private deep copies; never modifies its inputs, never aborts. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/patch.h"
#include "patch_strategic_internal.h"

/* ---- values ---------------------------------------------------------------- */

int smp_class(const json_t *v)
{
    if (!v)
        return SMP_V_NULL; /* an absent value: Go's nil */
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return SMP_V_OBJECT;
    case JSON_ARRAY:
        return SMP_V_ARRAY;
    case JSON_STRING:
        return SMP_V_STRING;
    case JSON_INTEGER:
        return SMP_V_INT;
    case JSON_REAL:
        return SMP_V_REAL;
    case JSON_TRUE:
    case JSON_FALSE:
        return SMP_V_BOOL;
    case JSON_NULL:
    default:
        return SMP_V_NULL;
    }
}

static bool is_container(const json_t *v)
{
    return json_is_object(v) || json_is_array(v);
}

void smp_mark_uncomparable(smp_ctx *c)
{
    if (!c || c->uncomparable)
        return;
    c->uncomparable = true;
    /* Kubernetes panics here (its == and map keys need scalars); the
     * apiserver answers 500. Report it as a bad patch. */
    smp_err(c, KR_EPATCH,
            "a list or an object where Kubernetes compares scalars (merge key "
            "values, set items, directive values)");
}

bool smp_go_eq(smp_ctx *c, const json_t *a, const json_t *b)
{
    if (!a)
        a = json_null();
    if (!b)
        b = json_null();
    if (smp_class(a) != smp_class(b))
        return false;
    if (is_container(a))
        smp_mark_uncomparable(c);
    return json_equal(a, b) != 0;
}

bool smp_is_string(const json_t *v, const char *s)
{
    return json_is_string(v) && json_string_length(v) == strlen(s) &&
           memcmp(json_string_value(v), s, json_string_length(v)) == 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Go's strconv 'g' with the shortest precision, as fmt's %v prints floats. */
static void format_go_float(double d, char *buf, size_t size)
{
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* tmp is d.ddde[+-]XX with the shortest digits. */
    char digits[24];
    size_t nd = 0;
    const char *p = tmp;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof(digits) - 1)
            digits[nd++] = *p;
    digits[nd] = '\0';
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    if (d == 0) {
        snprintf(buf, size, "%s0", neg ? "-" : "");
        return;
    }
    if (exp < -4 || exp >= 6) {
        /* %e form: d.ddde+XX (at least two exponent digits). */
        snprintf(buf, size, "%s%c%s%se%c%02d", neg ? "-" : "", digits[0], nd > 1 ? "." : "",
                 digits + 1, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        return;
    }
    char out[64];
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            out[o++] = '0';
        for (size_t i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (int i = 0; i <= exp; i++)
            out[o++] = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)exp + 1 < nd) {
            out[o++] = '.';
            for (size_t i = (size_t)exp + 1; i < nd; i++)
                out[o++] = digits[i];
        }
    }
    out[o] = '\0';
    snprintf(buf, size, "%s", out);
}

void smp_text_of(const json_t *v, smp_text *t)
{
    t->s = t->buf;
    switch (smp_class(v)) {
    case SMP_V_STRING:
        t->s = json_string_value(v);
        t->len = json_string_length(v);
        return;
    case SMP_V_INT:
        snprintf(t->buf, sizeof(t->buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case SMP_V_REAL:
        format_go_float(json_real_value(v), t->buf, sizeof(t->buf));
        break;
    case SMP_V_BOOL:
        snprintf(t->buf, sizeof(t->buf), "%s", json_is_true(v) ? "true" : "false");
        break;
    case SMP_V_OBJECT:
        snprintf(t->buf, sizeof(t->buf), "map[]");
        break;
    case SMP_V_ARRAY:
        snprintf(t->buf, sizeof(t->buf), "[]");
        break;
    default:
        snprintf(t->buf, sizeof(t->buf), "<nil>");
        break;
    }
    t->len = strlen(t->buf);
}

int smp_text_cmp(const smp_text *a, const smp_text *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

/* ---- context, paths and errors ------------------------------------------------ */

int smp_finish(smp_ctx *c, int rc, json_t **out)
{
    if (rc == 0 && c->uncomparable) {
        json_decref(*out);
        *out = NULL;
        return KR_EPATCH;
    }
    return rc;
}

void smp_ctx_init(smp_ctx *c, kr_error_t *err)
{
    c->err = err;
    c->uncomparable = false;
    c->depth = 0;
    c->path_len = 0;
    c->path[0] = '\0';
}

size_t smp_path_push(smp_ctx *c, const char *key)
{
    size_t mark = c->path_len;
    size_t cap = sizeof(c->path) - 1;
    if (c->path_len < cap)
        c->path[c->path_len++] = '/';
    for (const char *p = key; *p && c->path_len < cap; p++) {
        /* JSON pointer escaping (RFC 6901). */
        if ((*p == '~' || *p == '/') && c->path_len + 1 < cap) {
            c->path[c->path_len++] = '~';
            c->path[c->path_len++] = *p == '~' ? '0' : '1';
        } else {
            c->path[c->path_len++] = *p;
        }
    }
    c->path[c->path_len] = '\0';
    return mark;
}

size_t smp_path_push_index(smp_ctx *c, size_t index)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%zu", index);
    return smp_path_push(c, buf);
}

void smp_path_pop(smp_ctx *c, size_t mark)
{
    c->path_len = mark;
    c->path[mark] = '\0';
}

int smp_err(smp_ctx *c, int code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kr_error_set(c->err, code, "%s: %s", c->path_len ? c->path : "/", msg);
}

int smp_nomem(smp_ctx *c)
{
    return smp_err(c, KR_ENOMEM, "out of memory");
}

/* ---- schema lookups ----------------------------------------------------------- */

static void fill_pmeta(const kr_patch_field_t *f, smp_pmeta *pm)
{
    pm->strategy = (f->flags & KR_PF_MERGE)     ? SMP_S_MERGE
                   : (f->flags & KR_PF_REPLACE) ? SMP_S_REPLACE
                                                : SMP_S_NONE;
    pm->retain_keys = (f->flags & KR_PF_RETAIN_KEYS) != 0;
    pm->merge_key = f->merge_key ? f->merge_key : "";
}

static int find_field(smp_ctx *c, smp_type t, const char *key, const kr_patch_field_t **f)
{
    if (t.kind != SMP_T_STRUCT)
        return smp_err(c, KR_EPATCH,
                       "cannot merge field \"%s\": the schema says the value here is not an "
                       "object with known fields",
                       key);
    *f = kr_patch_meta_field(t.def, key);
    if (!*f)
        return smp_err(c, KR_EPATCH, "unable to find api field \"%s\" in %s", key, t.def->name);
    return 0;
}

/* What both lookups begin with: no patch metadata yet; a type without a
 * schema passes through to `sub` (*f NULL), any other must know `key`. */
static int lookup_field(smp_ctx *c, smp_type t, const char *key, smp_type *sub, smp_pmeta *pm,
                        const kr_patch_field_t **f)
{
    pm->strategy = SMP_S_NONE;
    pm->retain_keys = false;
    pm->merge_key = "";
    *f = NULL;
    if (t.kind == SMP_T_NONE) {
        *sub = t;
        return 0;
    }
    return find_field(c, t, key, f);
}

int smp_lookup_struct(smp_ctx *c, smp_type t, const char *key, smp_type *sub, smp_pmeta *pm)
{
    const kr_patch_field_t *f;
    int rc = lookup_field(c, t, key, sub, pm, &f);
    if (rc < 0 || !f)
        return rc;
    fill_pmeta(f, pm);
    sub->def = NULL;
    sub->kind = SMP_T_OTHER;
    if (f->ref && !(f->flags & (KR_PF_LIST | KR_PF_MAP))) {
        sub->kind = SMP_T_STRUCT;
        sub->def = f->ref;
    }
    return 0;
}

int smp_lookup_slice(smp_ctx *c, smp_type t, const char *key, smp_type *sub, smp_pmeta *pm)
{
    const kr_patch_field_t *f;
    int rc = lookup_field(c, t, key, sub, pm, &f);
    if (rc < 0 || !f)
        return rc;
    /* Kubernetes' lookup takes a pointer to a struct where the document
     * holds a list as a list of that struct, with the field's strategy and
     * merge key; a struct held by value is refused. The metadata has no
     * pointer bit: a list strategy (merge or replace) on a single struct
     * only makes sense on a pointer, so that is what it takes to mean. */
    bool single = f->ref && !(f->flags & (KR_PF_LIST | KR_PF_MAP));
    if (!(f->flags & KR_PF_LIST) && !(single && (f->flags & (KR_PF_MERGE | KR_PF_REPLACE))))
        return smp_err(c, KR_EPATCH, "field \"%s\" of %s is not a list", key, t.def->name);
    fill_pmeta(f, pm);
    sub->def = f->ref;
    sub->kind = f->ref ? SMP_T_STRUCT : SMP_T_OTHER;
    return 0;
}

int smp_slice_element_class(smp_ctx *c, const json_t *a, const json_t *b, int *cls)
{
    int prev = -1;
    const json_t *lists[2] = {a, b};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *v;
        json_array_foreach(lists[l], i, v)
        {
            int cur = smp_class(v);
            if (prev < 0) {
                if (cur == SMP_V_ARRAY)
                    return smp_err(c, KR_EPATCH, "lists of lists are not supported");
                if (cur == SMP_V_NULL)
                    return smp_err(c, KR_EPATCH, "null is not a valid list element here");
                prev = cur;
            } else if (cur != prev) {
                return smp_err(c, KR_EPATCH, "list element types are not identical");
            }
        }
    }
    if (prev < 0)
        return smp_err(c, KR_EPATCH, "no elements in any of the given lists");
    *cls = prev;
    return 0;
}

/* ---- list helpers ------------------------------------------------------------------ */

/* The value index() compares: the merge key's value for objects, the item
 * itself otherwise; NULL stands for Go's nil. */
static const json_t *order_value(const json_t *item, const char *merge_key, int cls)
{
    if (cls != SMP_V_OBJECT)
        return item;
    return json_is_object(item) ? json_object_get(item, merge_key) : NULL;
}

static long list_index(smp_ctx *c, const json_t *list, const json_t *item, const char *merge_key,
                       int cls)
{
    const json_t *want = order_value(item, merge_key, cls);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (smp_go_eq(c, want, order_value(v, merge_key, cls)))
            return (long)i;
    }
    return -1;
}

/* Go's sort.SliceStable (insertion sort of blocks of 20, then symmerge),
 * reproduced so that orders agree with Kubernetes even where its
 * comparison is not a strict order. Items carry their sort index. */
#define SMP_INDEX_UNKNOWN (-2L)

typedef struct smp_sort_item {
    json_t *v;
    long idx; /* SMP_INDEX_UNKNOWN until computed */
} smp_sort_item;

typedef struct sort_env {
    smp_sort_item *s;
    smp_ctx *c;
    const json_t *order;
    const char *merge_key;
    int cls;
} sort_env;

/* The sort index of item i, computed when first needed (Kubernetes
 * computes it inside its comparison, so only for items it compares). */
static long sort_index(sort_env *e, size_t i)
{
    if (e->s[i].idx == SMP_INDEX_UNKNOWN)
        e->s[i].idx = list_index(e->c, e->order, e->s[i].v, e->merge_key, e->cls);
    return e->s[i].idx;
}

static bool sort_less(sort_env *e, size_t i, size_t j)
{
    if (sort_index(e, i) >= 0 && sort_index(e, j) >= 0)
        return e->s[i].idx < e->s[j].idx;
    return true;
}

static void sort_swap(sort_env *e, size_t i, size_t j)
{
    smp_sort_item t = e->s[i];
    e->s[i] = e->s[j];
    e->s[j] = t;
}

static void insertion_sort(sort_env *e, size_t a, size_t b)
{
    for (size_t i = a + 1; i < b; i++)
        for (size_t j = i; j > a && sort_less(e, j, j - 1); j--)
            sort_swap(e, j, j - 1);
}

static void swap_range(sort_env *e, size_t a, size_t b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sort_swap(e, a + i, b + i);
}

static void rotate(sort_env *e, size_t a, size_t m, size_t b)
{
    size_t i = m - a, j = b - m;
    while (i != j) {
        if (i > j) {
            swap_range(e, m - i, m, j);
            i -= j;
        } else {
            swap_range(e, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(e, m - i, m, i);
}

static void sym_merge(sort_env *e, size_t a, size_t m, size_t b)
{
    if (m - a == 1) {
        size_t i = m, j = b;
        while (i < j) {
            size_t h = (i + j) / 2;
            if (sort_less(e, h, a))
                i = h + 1;
            else
                j = h;
        }
        for (size_t k = a; k + 1 < i; k++)
            sort_swap(e, k, k + 1);
        return;
    }
    if (b - m == 1) {
        size_t i = a, j = m;
        while (i < j) {
            size_t h = (i + j) / 2;
            if (!sort_less(e, m, h))
                i = h + 1;
            else
                j = h;
        }
        for (size_t k = m; k > i; k--)
            sort_swap(e, k, k - 1);
        return;
    }
    size_t mid = (a + b) / 2;
    size_t n = mid + m;
    size_t start, r;
    if (m > mid) {
        start = n - b;
        r = mid;
    } else {
        start = a;
        r = m;
    }
    size_t p = n - 1;
    while (start < r) {
        size_t cc = (start + r) / 2;
        if (!sort_less(e, p - cc, cc))
            start = cc + 1;
        else
            r = cc;
    }
    size_t end = n - start;
    if (start < m && m < end)
        rotate(e, start, m, end);
    if (a < start && start < mid)
        sym_merge(e, a, start, mid);
    if (mid < end && end < b)
        sym_merge(e, mid, end, b);
}

static void go_stable_sort(sort_env *e, size_t n)
{
    size_t block = 20, a = 0, b = block;
    while (b <= n) {
        insertion_sort(e, a, b);
        a = b;
        b += block;
    }
    insertion_sort(e, a, n);
    while (block < n) {
        a = 0;
        b = 2 * block;
        while (b <= n) {
            sym_merge(e, a, a + block, b);
            a = b;
            b += 2 * block;
        }
        if (a + block < n)
            sym_merge(e, a, a + block, n);
        block *= 2;
    }
}

/* Splits `list` into items without and with "$patch": "delete"; every item
 * must be an object (Kubernetes' extractToDeleteItems). */
static int extract_to_delete_items(smp_ctx *c, const json_t *list, json_t **keep, json_t **del)
{
    *keep = json_array();
    *del = json_array();
    if (!*keep || !*del)
        goto nomem;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_object(v)) {
            json_decref(*keep);
            json_decref(*del);
            *keep = *del = NULL;
            return smp_err(c, KR_EPATCH, "expected an object in the list, got another type");
        }
        json_t *into = smp_is_string(json_object_get(v, SMP_DIRECTIVE), "delete") ? *del : *keep;
        if (json_array_append(into, v) < 0)
            goto nomem;
    }
    return 0;
nomem:
    json_decref(*keep);
    json_decref(*del);
    *keep = *del = NULL;
    return smp_nomem(c);
}

static int validate_merge_key_in_list(smp_ctx *c, const char *merge_key, const json_t *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_object(v))
            return smp_err(c, KR_EPATCH, "expected an object in the list, got another type");
        if (!json_object_get(v, merge_key))
            return smp_err(c, KR_EPATCH, "list element %zu does not contain declared merge key: %s",
                           i, merge_key);
    }
    return 0;
}

int smp_normalize_slice_order(smp_ctx *c, const json_t *to_sort, const json_t *order,
                              const char *merge_key, int cls, json_t **out)
{
    json_t *keep = NULL, *del = NULL;
    smp_sort_item *items = NULL;
    int rc;
    *out = NULL;
    if (cls == SMP_V_OBJECT) {
        if ((rc = validate_merge_key_in_list(c, merge_key, to_sort)) < 0 ||
            (rc = validate_merge_key_in_list(c, merge_key, order)) < 0)
            return rc;
        if ((rc = extract_to_delete_items(c, to_sort, &keep, &del)) < 0)
            return rc;
    } else {
        keep = json_incref((json_t *)to_sort);
    }
    size_t n = json_array_size(keep);
    json_t *res = json_array();
    items = kr_calloc(n + 1, sizeof(*items));
    if (!res || !items) {
        rc = smp_nomem(c);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        items[i].v = json_array_get(keep, i);
        items[i].idx = SMP_INDEX_UNKNOWN;
    }
    sort_env env = {items, c, order, merge_key, cls};
    go_stable_sort(&env, n);
    for (size_t i = 0; i < n; i++)
        if (json_array_append(res, items[i].v) < 0) {
            rc = smp_nomem(c);
            goto out;
        }
    if (del && json_array_extend(res, del) < 0) {
        rc = smp_nomem(c);
        goto out;
    }
    *out = res;
    res = NULL;
    rc = 0;
out:
    json_decref(res);
    json_decref(keep);
    json_decref(del);
    kr_free(items);
    return rc;
}

/* Kubernetes' mergeSortedSlice: server-only items (left) are inserted into
 * the patch items (right) where the live order (server_order) puts them. */
static int merge_sorted_slice(smp_ctx *c, const json_t *left, const json_t *right,
                              const json_t *server_order, const char *merge_key, int cls,
                              json_t **out)
{
    size_t nl = json_array_size(left), nr = json_array_size(right);
    long *li = kr_calloc(nl + 1, sizeof(*li));
    long *ri = kr_calloc(nr + 1, sizeof(*ri));
    json_t *res = json_array();
    if (!li || !ri || !res)
        goto nomem;
    for (size_t k = 0; k < nl; k++)
        li[k] = SMP_INDEX_UNKNOWN;
    for (size_t k = 0; k < nr; k++)
        ri[k] = SMP_INDEX_UNKNOWN;
    size_t i = 0, j = 0;
    for (size_t k = 0; k < nl + nr; k++) {
        json_t *take;
        if (i >= nl && j < nr) {
            take = json_array_get(right, j++);
        } else if (j >= nr && i < nl) {
            take = json_array_get(left, i++);
        } else {
            if (li[i] == SMP_INDEX_UNKNOWN)
                li[i] = list_index(c, server_order, json_array_get(left, i), merge_key, cls);
            if (ri[j] == SMP_INDEX_UNKNOWN)
                ri[j] = list_index(c, server_order, json_array_get(right, j), merge_key, cls);
            if (li[i] >= 0 && ri[j] >= 0 && li[i] < ri[j])
                take = json_array_get(left, i++);
            else
                take = json_array_get(right, j++);
        }
        if (json_array_append(res, take) < 0)
            goto nomem;
    }
    kr_free(li);
    kr_free(ri);
    *out = res;
    return 0;
nomem:
    kr_free(li);
    kr_free(ri);
    json_decref(res);
    return smp_nomem(c);
}

static int normalize_element_order(smp_ctx *c, const json_t *patch, const json_t *server_only,
                                   const json_t *patch_order, const json_t *server_order,
                                   const char *merge_key, int cls, json_t **out)
{
    json_t *p = NULL, *s = NULL;
    int rc = smp_normalize_slice_order(c, patch, patch_order, merge_key, cls, &p);
    if (rc == 0)
        rc = smp_normalize_slice_order(c, server_only, server_order, merge_key, cls, &s);
    if (rc == 0)
        rc = merge_sorted_slice(c, s, p, server_order, merge_key, cls, out);
    json_decref(p);
    json_decref(s);
    return rc;
}

/* The first object of `list` whose merge key equals `value`; an error when
 * an element is not an object (findMapInSliceBasedOnKeyValue). */
static int find_by_merge_key(smp_ctx *c, const json_t *list, const char *merge_key,
                             const json_t *value, long *found)
{
    *found = -1;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_object(v))
            return smp_err(c, KR_EPATCH, "list element %zu is not an object", i);
        json_t *mv = json_object_get(v, merge_key);
        if (mv && smp_go_eq(c, mv, value)) {
            *found = (long)i;
            return 0;
        }
    }
    return 0;
}

/* Membership as Kubernetes tests it with a Go map: every item must be a
 * scalar (hashable). */
static bool list_contains(smp_ctx *c, const json_t *list, const json_t *item)
{
    size_t i;
    json_t *v;
    bool found = false;
    if (is_container(item))
        smp_mark_uncomparable(c);
    json_array_foreach(list, i, v)
    {
        if (is_container(v))
            smp_mark_uncomparable(c);
        else if (smp_go_eq(c, v, item))
            found = true;
    }
    return found;
}

/* Splits `merged` into the items present in `by` and the others. */
static int partition_by_presence(smp_ctx *c, const json_t *merged, const json_t *by,
                                 const char *merge_key, json_t **in, json_t **out_only)
{
    *in = json_array();
    *out_only = json_array();
    if (!*in || !*out_only)
        goto nomem;
    size_t i;
    json_t *v;
    json_array_foreach(merged, i, v)
    {
        bool present;
        if (!*merge_key) {
            present = list_contains(c, by, v);
        } else {
            if (!json_is_object(v)) {
                json_decref(*in);
                json_decref(*out_only);
                *in = *out_only = NULL;
                return smp_err(c, KR_EPATCH, "list element %zu is not an object", i);
            }
            json_t *mv = json_object_get(v, merge_key);
            if (!mv) {
                json_decref(*in);
                json_decref(*out_only);
                *in = *out_only = NULL;
                return smp_err(c, KR_EPATCH,
                               "list element %zu does not contain declared merge key: %s", i,
                               merge_key);
            }
            long found;
            int rc = find_by_merge_key(c, by, merge_key, mv, &found);
            if (rc < 0) {
                json_decref(*in);
                json_decref(*out_only);
                *in = *out_only = NULL;
                return rc;
            }
            present = found >= 0;
        }
        if (json_array_append(present ? *in : *out_only, v) < 0)
            goto nomem;
    }
    return 0;
nomem:
    json_decref(*in);
    json_decref(*out_only);
    *in = *out_only = NULL;
    return smp_nomem(c);
}

/* Go's deduplicateScalars, order quirks included. */
static int deduplicate_scalars(smp_ctx *c, json_t *both, json_t **out)
{
    size_t n = json_array_size(both);
    json_t **s = kr_calloc(n + 1, sizeof(json_t *));
    json_t *res = json_array();
    if (!s || !res) {
        kr_free(s);
        json_decref(res);
        return smp_nomem(c);
    }
    for (size_t i = 0; i < n; i++)
        s[i] = json_array_get(both, i);
    long length = (long)n - 1;
    for (long i = 0; i < length; i++) {
        for (long j = i + 1; j <= length; j++) {
            if (smp_go_eq(c, s[i], s[j])) {
                s[j] = s[length];
                length--;
                j--;
            }
        }
    }
    for (long i = 0; i <= length; i++)
        if (json_array_append(res, s[i]) < 0) {
            kr_free(s);
            json_decref(res);
            return smp_nomem(c);
        }
    kr_free(s);
    *out = res;
    return 0;
}

/* ---- directives --------------------------------------------------------------------- */

/* Kubernetes' removeDirectives: objects carrying "$patch" vanish (*keep
 * false); objects are cleaned in place, arrays rebuilt. *out is new. */
static int remove_directives(smp_ctx *c, json_t *v, json_t **out, bool *keep)
{
    *out = NULL;
    *keep = true;
    if (json_is_object(v)) {
        if (json_object_get(v, SMP_DIRECTIVE)) {
            *keep = false;
            return 0;
        }
        const char *k;
        json_t *child, *tmp;
        json_object_foreach_safe(v, tmp, k, child)
        {
            json_t *nv;
            bool kk;
            int rc = remove_directives(c, child, &nv, &kk);
            if (rc < 0)
                return rc;
            if (!kk)
                json_object_del(v, k);
            else if (json_object_set_new(v, k, nv) < 0)
                return smp_nomem(c);
        }
        *out = json_incref(v);
        return 0;
    }
    if (json_is_array(v)) {
        json_t *res = json_array();
        if (!res)
            return smp_nomem(c);
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            json_t *nv;
            bool kk;
            int rc = remove_directives(c, child, &nv, &kk);
            if (rc < 0) {
                json_decref(res);
                return rc;
            }
            if (kk && json_array_append_new(res, nv) < 0) {
                json_decref(res);
                return smp_nomem(c);
            }
        }
        *out = res;
        return 0;
    }
    *out = json_incref(v);
    return 0;
}

/* Kubernetes' discardNullValuesFromPatch. */
static void discard_nulls(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *child, *tmp;
        json_object_foreach_safe(v, tmp, k, child)
        {
            if (json_is_null(child))
                json_object_del(v, k);
            else
                discard_nulls(child);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            discard_nulls(child);
        }
    }
}

static int apply_retain_keys(smp_ctx *c, json_t *original, json_t *patch, smp_mopts o)
{
    json_t *rk = json_incref(json_object_get(patch, SMP_RETAIN_KEYS));
    if (!rk)
        return 0;
    json_object_del(patch, SMP_RETAIN_KEYS);
    int rc = 0;
    if (!o.merge_parallel_list) {
        /* Merging two patches: the directives must agree. */
        json_t *in_original = json_object_get(original, SMP_RETAIN_KEYS);
        if (in_original) {
            if (!json_equal(in_original, rk))
                rc = smp_err(c, KR_EPATCH, "conflicting %s directives", SMP_RETAIN_KEYS);
        } else if (json_object_set(original, SMP_RETAIN_KEYS, rk) < 0) {
            rc = smp_nomem(c);
        }
        json_decref(rk);
        return rc;
    }
    if (!json_is_array(rk)) {
        json_decref(rk);
        return smp_err(c, KR_EPATCH, "invalid patch format of %s: not a list", SMP_RETAIN_KEYS);
    }
    const char *k;
    json_t *v, *tmp;
    json_object_foreach(patch, k, v)
    {
        if (json_is_null(v) || has_prefix(k, SMP_DELETE_PRIMITIVE) || has_prefix(k, SMP_SET_ORDER))
            continue;
        json_t *key = json_string(k);
        bool listed = key && list_contains(c, rk, key);
        json_decref(key);
        if (!key) {
            json_decref(rk);
            return smp_nomem(c);
        }
        if (!listed) {
            json_decref(rk);
            return smp_err(c, KR_EPATCH,
                           "invalid patch format of %s: field \"%s\" is in the patch but not in "
                           "the %s list",
                           SMP_RETAIN_KEYS, k, SMP_RETAIN_KEYS);
        }
    }
    json_object_foreach_safe(original, tmp, k, v)
    {
        json_t *key = json_string(k);
        if (!key) {
            json_decref(rk);
            return smp_nomem(c);
        }
        bool listed = list_contains(c, rk, key);
        json_decref(key);
        if (!listed)
            json_object_del(original, k);
    }
    json_decref(rk);
    return 0;
}

static int merge_key_value_equal(smp_ctx *c, const json_t *l, const json_t *r,
                                 const char *merge_key, bool *eq)
{
    if (!*merge_key) {
        *eq = smp_go_eq(c, l, r);
        return 0;
    }
    if (!json_is_object(l) || !json_is_object(r))
        return smp_err(c, KR_EPATCH, "expected an object in the list, got another type");
    json_t *lv = json_object_get(l, merge_key), *rv = json_object_get(r, merge_key);
    if (!lv || !rv)
        return smp_err(c, KR_EPATCH, "list element does not contain declared merge key: %s",
                       merge_key);
    *eq = smp_go_eq(c, lv, rv);
    return 0;
}

/* Kubernetes' validatePatchWithSetOrderList: the patch's items appear in
 * the $setElementOrder list, in the same relative order. */
static int validate_set_order(smp_ctx *c, const json_t *patch_list, const json_t *order,
                              const char *merge_key)
{
    if (json_array_size(order) == 0 || json_array_size(patch_list) == 0)
        return 0;
    json_t *non_delete = NULL, *del = NULL;
    int rc;
    if (*merge_key) {
        if ((rc = extract_to_delete_items(c, patch_list, &non_delete, &del)) < 0)
            return rc;
        json_decref(del);
    } else {
        non_delete = json_incref((json_t *)patch_list);
    }
    size_t pi = 0, si = 0, np = json_array_size(non_delete), ns = json_array_size(order);
    rc = 0;
    while (pi < np && si < ns) {
        json_t *item = json_array_get(non_delete, pi);
        if (json_is_object(item) && json_object_get(item, SMP_DIRECTIVE)) {
            pi++;
            continue;
        }
        bool eq = false;
        if ((rc = merge_key_value_equal(c, item, json_array_get(order, si), merge_key, &eq)) < 0)
            break;
        if (eq)
            pi++;
        si++;
    }
    if (rc == 0 && pi < np && si >= ns)
        rc = smp_err(c, KR_EPATCH, "the order in the patch list does not match the %s list",
                     SMP_SET_ORDER);
    json_decref(non_delete);
    return rc;
}

static int merge_slice_handler(smp_ctx *c, json_t *original, json_t *patch, smp_type t,
                               smp_pmeta pm, bool is_delete_list, smp_mopts o, json_t **out,
                               json_t **view);

/* One "$setElementOrder/<field>" directive: merge the field's list and put
 * it in the directive's order (Kubernetes' mergePatchIntoOriginal). */
static int merge_set_order(smp_ctx *c, json_t *original, json_t *patch, const char *key, smp_type t,
                           smp_mopts o)
{
    json_t *order = json_incref(json_object_get(patch, key));
    json_t *merged = NULL, *in = NULL, *server_only = NULL, *both = NULL, *server_order = NULL;
    char *field = NULL;
    size_t mark = c->path_len;
    int rc = 0;
    if (!o.merge_parallel_list) {
        json_t *existing = json_object_get(original, key);
        if (existing) {
            if (!json_equal(existing, order)) {
                rc = smp_err(c, KR_EPATCH, "conflicting %s lists", key);
                goto out;
            }
        } else if (json_object_set(original, key, order) < 0) {
            rc = smp_nomem(c);
            goto out;
        }
    }
    size_t plen = strlen(SMP_SET_ORDER);
    if (key[plen] != '/') {
        rc = smp_err(c, KR_EPATCH, "invalid patch format of %s: \"%s\"", SMP_SET_ORDER, key);
        goto out;
    }
    field = kr_strdup(key + plen + 1);
    if (!field) {
        rc = smp_nomem(c);
        goto out;
    }
    json_object_del(patch, key);
    smp_path_push(c, field);
    if (!json_is_array(order)) {
        rc = smp_err(c, KR_EPATCH, "%s list is not a list", SMP_SET_ORDER);
        goto out;
    }
    json_t *original_list = json_object_get(original, field);
    json_t *patch_list = json_object_get(patch, field);
    if ((original_list && !json_is_array(original_list)) ||
        (patch_list && !json_is_array(patch_list))) {
        rc = smp_err(c, KR_EPATCH, "expected a list beside its %s directive", SMP_SET_ORDER);
        goto out;
    }
    smp_type sub;
    smp_pmeta pm;
    if ((rc = smp_lookup_slice(c, t, field, &sub, &pm)) < 0)
        goto out;
    if ((rc = validate_set_order(c, patch_list, order, pm.merge_key)) < 0)
        goto out;
    if (original_list && !patch_list) {
        merged = json_incref(original_list);
    } else if (!original_list && patch_list) {
        bool keep;
        if ((rc = remove_directives(c, patch_list, &merged, &keep)) < 0)
            goto out;
    } else if (original_list && patch_list) {
        if ((rc = merge_slice_handler(c, original_list, patch_list, sub, pm, false, o, &merged,
                                      &server_order)) < 0)
            goto out;
    } else {
        goto out;
    }
    if (!server_order)
        server_order = json_incref(original_list);
    if ((rc = partition_by_presence(c, merged, order, pm.merge_key, &in, &server_only)) < 0)
        goto out;
    int cls;
    if ((rc = smp_slice_element_class(c, server_order, patch_list, &cls)) < 0)
        goto out;
    if ((rc = normalize_element_order(c, in, server_only, order, server_order, pm.merge_key, cls,
                                      &both)) < 0)
        goto out;
    if (json_object_set_new(original, field, both) < 0) {
        both = NULL;
        rc = smp_nomem(c);
        goto out;
    }
    both = NULL;
    json_object_del(patch, field);
out:
    smp_path_pop(c, mark);
    json_decref(order);
    json_decref(server_order);
    json_decref(merged);
    json_decref(in);
    json_decref(server_only);
    json_decref(both);
    kr_free(field);
    return rc;
}

static const char *first_key_with_prefix(const json_t *obj, const char *prefix)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (has_prefix(k, prefix))
            return k;
    }
    return NULL;
}

/* ---- lists ------------------------------------------------------------------------------ */

static int delete_matching_entries(smp_ctx *c, json_t *list, const char *merge_key,
                                   const json_t *value, json_t **out)
{
    json_t *res = json_array();
    if (!res)
        return smp_nomem(c);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_object(v)) {
            json_decref(res);
            return smp_err(c, KR_EPATCH, "list element %zu is not an object", i);
        }
        json_t *mv = json_object_get(v, merge_key);
        if (mv && smp_go_eq(c, mv, value))
            continue;
        if (json_array_append(res, v) < 0) {
            json_decref(res);
            return smp_nomem(c);
        }
    }
    *out = res;
    return 0;
}

/* Kubernetes' mergeSliceWithSpecialElements: applies "$patch" elements
 * (delete, replace) and returns the list to merge into and the plain
 * patch items. */
static int merge_special_elements(smp_ctx *c, json_t *original, json_t *patch,
                                  const char *merge_key, json_t **orig_out, json_t **patch_out)
{
    json_t *orig = json_incref(original);
    json_t *plain = json_array();
    bool replace = false;
    *orig_out = *patch_out = NULL;
    int rc = 0;
    if (!plain) {
        rc = smp_nomem(c);
        goto fail;
    }
    size_t i;
    json_t *v;
    json_array_foreach(patch, i, v)
    {
        json_t *directive = json_object_get(v, SMP_DIRECTIVE);
        if (!directive) {
            if (json_array_append(plain, v) < 0) {
                rc = smp_nomem(c);
                goto fail;
            }
            continue;
        }
        if (smp_is_string(directive, "delete")) {
            json_t *mv = json_object_get(v, merge_key);
            if (!mv) {
                rc = smp_err(
                    c, KR_EPATCH,
                    "a \"$patch\": \"delete\" element does not contain declared merge key: %s",
                    merge_key);
                goto fail;
            }
            json_t *rest = NULL;
            if ((rc = delete_matching_entries(c, orig, merge_key, mv, &rest)) < 0)
                goto fail;
            json_decref(orig);
            orig = rest;
        } else if (smp_is_string(directive, "replace")) {
            replace = true;
        } else if (smp_is_string(directive, "merge")) {
            rc = smp_err(c, KR_EPATCH, "merging lists cannot yet be specified in the patch");
            goto fail;
        } else {
            rc = smp_err(c, KR_EPATCH, "unknown patch type %s in a list element",
                         json_is_string(directive) ? json_string_value(directive)
                                                   : "(not a string)");
            goto fail;
        }
    }
    if (replace) {
        json_decref(orig);
        *orig_out = plain;
        *patch_out = json_array();
        if (!*patch_out) {
            json_decref(plain);
            *orig_out = NULL;
            return smp_nomem(c);
        }
        return 0;
    }
    *orig_out = orig;
    *patch_out = plain;
    return 0;
fail:
    json_decref(orig);
    json_decref(plain);
    return rc;
}

static int merge_plain_elements(smp_ctx *c, json_t *original, json_t *patch, const char *merge_key,
                                smp_type t, smp_mopts o, json_t **out)
{
    json_t *res = json_copy(original);
    if (!res)
        return smp_nomem(c);
    size_t i;
    json_t *v;
    json_array_foreach(patch, i, v)
    {
        json_t *mv = json_object_get(v, merge_key);
        if (!mv) {
            json_decref(res);
            return smp_err(c, KR_EPATCH, "list element %zu does not contain declared merge key: %s",
                           i, merge_key);
        }
        long found;
        int rc = find_by_merge_key(c, res, merge_key, mv, &found);
        if (rc < 0) {
            json_decref(res);
            return rc;
        }
        if (found >= 0) {
            json_t *merged;
            size_t mark = smp_path_push_index(c, (size_t)found);
            rc = smp_merge_map(c, json_array_get(res, (size_t)found), v, t, o, &merged);
            smp_path_pop(c, mark);
            if (rc < 0) {
                json_decref(res);
                return rc;
            }
            if (json_array_set_new(res, (size_t)found, merged) < 0) {
                json_decref(res);
                return smp_nomem(c);
            }
        } else if (json_array_append(res, v) < 0) {
            json_decref(res);
            return smp_nomem(c);
        }
    }
    *out = res;
    return 0;
}

static int delete_from_slice(smp_ctx *c, const json_t *current, const json_t *to_delete,
                             json_t **out)
{
    json_t *res = json_array();
    if (!res)
        return smp_nomem(c);
    size_t i;
    json_t *v;
    json_array_foreach(current, i, v)
    {
        if (!list_contains(c, to_delete, v) && json_array_append(res, v) < 0) {
            json_decref(res);
            return smp_nomem(c);
        }
    }
    *out = res;
    return 0;
}

/* Kubernetes' mergeSlice works on Go slices that share their backing array
 * with its caller's: deleting elements shifts that array in place, and
 * appending new ones writes into the freed tail. mergePatchIntoOriginal
 * then orders the merged list by that mutated array ($setElementOrder's
 * "server order"). This computes what the caller's view of the original
 * list holds after the merge of `merged`. *out is new. */
static int backing_view(smp_ctx *c, const json_t *original, const json_t *patch,
                        const char *merge_key, const json_t *merged, json_t **out)
{
    size_t n = json_array_size(original), len = n;
    json_t **view = kr_calloc(n + 1, sizeof(json_t *));
    json_t *res = json_array();
    bool replace = false;
    if (!view || !res)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        view[i] = json_array_get(original, i);
    size_t i;
    json_t *p;
    json_array_foreach(patch, i, p)
    {
        json_t *directive = json_object_get(p, SMP_DIRECTIVE);
        if (smp_is_string(directive, "replace")) {
            replace = true;
        } else if (smp_is_string(directive, "delete")) {
            const json_t *value = json_object_get(p, merge_key);
            for (;;) {
                size_t k = 0;
                while (k < len && !(json_object_get(view[k], merge_key) &&
                                    smp_go_eq(NULL, json_object_get(view[k], merge_key), value)))
                    k++;
                if (k == len)
                    break;
                memmove(view + k, view + k + 1, (len - k - 1) * sizeof(json_t *));
                len--;
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        json_t *v = (!replace && k < json_array_size(merged)) ? json_array_get(merged, k) : view[k];
        if (json_array_append(res, v) < 0)
            goto nomem;
    }
    kr_free(view);
    *out = res;
    return 0;
nomem:
    kr_free(view);
    json_decref(res);
    return smp_nomem(c);
}

/* Kubernetes' mergeSlice. With `view`, also the caller's view of the
 * original list afterwards (see backing_view). */
static int merge_slice(smp_ctx *c, json_t *original, json_t *patch, smp_type t,
                       const char *merge_key, smp_mopts o, bool is_delete_list, json_t **out,
                       json_t **view)
{
    if (view)
        *view = json_incref(original);
    if (json_array_size(original) == 0 && json_array_size(patch) == 0) {
        *out = json_incref(original);
        return 0;
    }
    int cls, rc;
    if ((rc = smp_slice_element_class(c, original, patch, &cls)) < 0)
        return rc;
    json_t *orig = NULL, *plain = NULL, *merged = NULL, *in = NULL, *server_only = NULL;
    if (cls != SMP_V_OBJECT) {
        if (o.merge_parallel_list && is_delete_list)
            return delete_from_slice(c, original, patch, out);
        json_t *both = json_copy(original);
        if (!both || json_array_extend(both, patch) < 0) {
            json_decref(both);
            return smp_nomem(c);
        }
        rc = deduplicate_scalars(c, both, &merged);
        json_decref(both);
        if (rc < 0)
            return rc;
        orig = json_incref(original);
        plain = json_incref(patch);
    } else {
        if (!*merge_key)
            return smp_err(c, KR_EPATCH, "cannot merge lists without a merge key");
        if ((rc = merge_special_elements(c, original, patch, merge_key, &orig, &plain)) < 0)
            return rc;
        if ((rc = merge_plain_elements(c, orig, plain, merge_key, t, o, &merged)) < 0)
            goto out;
        if (view) {
            json_decref(*view);
            *view = NULL;
            if ((rc = backing_view(c, original, patch, merge_key, merged, view)) < 0)
                goto out;
        }
    }
    if ((rc = partition_by_presence(c, merged, plain, merge_key, &in, &server_only)) < 0)
        goto out;
    rc = normalize_element_order(c, in, server_only, plain, orig, merge_key, cls, out);
out:
    json_decref(orig);
    json_decref(plain);
    json_decref(merged);
    json_decref(in);
    json_decref(server_only);
    return rc;
}

static int merge_slice_handler(smp_ctx *c, json_t *original, json_t *patch, smp_type t,
                               smp_pmeta pm, bool is_delete_list, smp_mopts o, json_t **out,
                               json_t **view)
{
    if (pm.strategy == SMP_S_MERGE || is_delete_list)
        return merge_slice(c, original, patch, t, pm.merge_key, o, is_delete_list, out, view);
    if (view)
        *view = json_incref(original);
    *out = json_incref(patch);
    return 0;
}

/* ---- maps ----------------------------------------------------------------------------------- */

static int set_or_delete(smp_ctx *c, json_t *obj, const char *key, json_t *v, bool keep)
{
    if (!keep) {
        json_object_del(obj, key);
        return 0;
    }
    if (json_object_set_new(obj, key, v) < 0)
        return smp_nomem(c);
    return 0;
}

/* One key of the patch (the body of mergeMap's loop). */
static int merge_entry(smp_ctx *c, json_t *original, const char *patch_key, json_t *pv, smp_type t,
                       smp_mopts o)
{
    const char *key = patch_key;
    bool is_delete_list = false;
    if (has_prefix(patch_key, SMP_DELETE_PRIMITIVE)) {
        if (!o.merge_parallel_list) {
            if (json_object_set(original, patch_key, pv) < 0)
                return smp_nomem(c);
            return 0;
        }
        size_t plen = strlen(SMP_DELETE_PRIMITIVE);
        if (patch_key[plen] != '/')
            return smp_err(c, KR_EPATCH, "invalid patch format of %s: \"%s\"", SMP_DELETE_PRIMITIVE,
                           patch_key);
        key = patch_key + plen + 1;
        is_delete_list = true;
    }
    size_t mark = smp_path_push(c, key);
    int rc = 0;
    if (json_is_null(pv)) {
        json_object_del(original, key);
        if (o.ignore_unmatched_nulls)
            goto out;
    }
    json_t *ov = json_object_get(original, key);
    if (!ov || smp_class(ov) != smp_class(pv)) {
        if (is_delete_list)
            goto out;
        if (o.ignore_unmatched_nulls)
            discard_nulls(pv);
        json_t *v;
        bool keep;
        if ((rc = remove_directives(c, pv, &v, &keep)) == 0)
            rc = set_or_delete(c, original, key, v, keep);
        goto out;
    }
    smp_type sub;
    smp_pmeta pm;
    json_t *res = NULL;
    switch (smp_class(ov)) {
    case SMP_V_OBJECT:
        if ((rc = smp_lookup_struct(c, t, key, &sub, &pm)) < 0)
            goto out;
        if (pm.strategy != SMP_S_REPLACE)
            rc = smp_merge_map(c, ov, pv, sub, o, &res);
        else
            res = json_incref(pv);
        break;
    case SMP_V_ARRAY:
        if ((rc = smp_lookup_slice(c, t, key, &sub, &pm)) < 0)
            goto out;
        rc = merge_slice_handler(c, ov, pv, sub, pm, is_delete_list, o, &res, NULL);
        break;
    default:
        res = json_incref(pv);
        break;
    }
    if (rc == 0 && json_object_set_new(original, key, res) < 0)
        rc = smp_nomem(c);
out:
    smp_path_pop(c, mark);
    return rc;
}

int smp_merge_map(smp_ctx *c, json_t *original, json_t *patch, smp_type t, smp_mopts o,
                  json_t **out)
{
    *out = NULL;
    json_t *directive = json_object_get(patch, SMP_DIRECTIVE);
    if (directive) {
        if (smp_is_string(directive, "replace")) {
            json_object_del(patch, SMP_DIRECTIVE);
            *out = json_incref(patch);
            return 0;
        }
        if (smp_is_string(directive, "delete")) {
            *out = json_object();
            return *out ? 0 : smp_nomem(c);
        }
        return smp_err(c, KR_EPATCH, "unknown patch type %s in an object",
                       json_is_string(directive) ? json_string_value(directive) : "(not a string)");
    }
    if (c->depth >= SMP_MAX_DEPTH)
        return smp_err(c, KR_EPATCH, "the document is nested too deeply");
    json_t *orig = original ? json_incref(original) : json_object();
    if (!orig)
        return smp_nomem(c);
    c->depth++;
    int rc = apply_retain_keys(c, orig, patch, o);
    const char *k;
    while (rc == 0 && (k = first_key_with_prefix(patch, SMP_SET_ORDER)) != NULL)
        rc = merge_set_order(c, orig, patch, k, t, o);
    json_t *pv;
    if (rc == 0) {
        json_object_foreach(patch, k, pv)
        {
            if ((rc = merge_entry(c, orig, k, pv, t, o)) < 0)
                break;
        }
    }
    c->depth--;
    if (rc < 0) {
        json_decref(orig);
        return rc;
    }
    *out = orig;
    return 0;
}

/* ---- public ------------------------------------------------------------------------------- */

int kr_patch_strategic_apply(const kr_patch_meta_t *meta, const json_t *document,
                             const json_t *patch, json_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "strategic merge patch: out is NULL");
    *out = NULL;
    if (!json_is_object(document))
        return kr_error_set(err, KR_EPATCH, "/: the document is not a JSON object");
    if (json_is_null(patch)) {
        /* apimachinery decodes a null patch as an empty map: no change. */
        *out = json_deep_copy(document);
        return *out ? 0 : kr_error_set(err, KR_ENOMEM, "strategic merge patch: out of memory");
    }
    if (!json_is_object(patch))
        return kr_error_set(err, KR_EPARSE, "/: the strategic merge patch is not a JSON object");
    smp_ctx c;
    smp_ctx_init(&c, err);
    json_t *doc = json_deep_copy(document);
    json_t *p = json_deep_copy(patch);
    int rc;
    if (!doc || !p) {
        rc = smp_nomem(&c);
    } else {
        smp_type t = {meta ? SMP_T_STRUCT : SMP_T_NONE, meta};
        smp_mopts o = {.merge_parallel_list = true, .ignore_unmatched_nulls = true};
        rc = smp_merge_map(&c, doc, p, t, o, out);
    }
    json_decref(doc);
    json_decref(p);
    return smp_finish(&c, rc, out);
}
