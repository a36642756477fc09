/* libkreconcile — patch metadata (schemas) for strategic merge patch: the
 * built-in table compiled into the library, user tables in the same JSON
 * format (with a fallback schema), and lookups by kind and by field name,
 * all binary searches over sorted arrays. Schemas are immutable once built. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "patch_schema_internal.h"

/* ---- lookups ---------------------------------------------------------- */

static int cmp_field_name(const void *key, const void *elem)
{
    return strcmp(key, ((const kr_patch_field_t *)elem)->name);
}

static int cmp_def_name(const void *key, const void *elem)
{
    return strcmp(key, ((const kr_patch_meta_t *)elem)->name);
}

static int cmp_kind_key(const void *key, const void *elem)
{
    return strcmp(key, ((const kr_patch_kind_t *)elem)->key);
}

const kr_patch_field_t *kr_patch_meta_field(const kr_patch_meta_t *meta, const char *name)
{
    if (!meta || !name)
        return NULL;
    const kr_patch_field_t *f =
        bsearch(name, meta->fields, meta->nfields, sizeof(*meta->fields), cmp_field_name);
    if (f)
        return f;
    /* Kubernetes looks fields up the way encoding/json does: an exact name
     * first, then a case-insensitive match. */
    for (size_t i = 0; i < meta->nfields; i++)
        if (strcasecmp(meta->fields[i].name, name) == 0)
            return &meta->fields[i];
    return NULL;
}

const kr_patch_meta_t *kr_patch_schema_find_def(const kr_patch_schema_t *schema, const char *name)
{
    for (; schema && name; schema = schema->fallback) {
        const kr_patch_meta_t *d =
            bsearch(name, schema->defs, schema->ndefs, sizeof(*schema->defs), cmp_def_name);
        if (d)
            return d;
    }
    return NULL;
}

const kr_patch_schema_t *kr_patch_schema_builtin(void)
{
    return &kr_patch_schema_builtin_table;
}

const kr_patch_meta_t *kr_patch_schema_find_key(const kr_patch_schema_t *schema,
                                                const char *kinds_key)
{
    for (; schema && kinds_key; schema = schema->fallback) {
        const kr_patch_kind_t *k =
            bsearch(kinds_key, schema->kinds, schema->nkinds, sizeof(*schema->kinds), cmp_kind_key);
        if (k)
            return k->meta;
    }
    return NULL;
}

const kr_patch_meta_t *kr_patch_schema_find(const kr_patch_schema_t *schema,
                                            const char *api_version, const char *kind)
{
    if (!schema || !api_version || !kind || !*api_version || !*kind)
        return NULL;
    char key[512];
    int n = snprintf(key, sizeof(key), "%s/%s", api_version, kind);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    return kr_patch_schema_find_key(schema, key);
}

const kr_patch_meta_t *kr_patch_schema_find_for(const kr_patch_schema_t *schema,
                                                const json_t *document)
{
    return kr_patch_schema_find(schema, json_string_value(json_object_get(document, "apiVersion")),
                                json_string_value(json_object_get(document, "kind")));
}

/* ---- user tables -------------------------------------------------------- */

/* Everything a user schema owns, in a handful of allocations. */
struct user_storage {
    char *strings;
    size_t strings_used;
    kr_patch_kind_t *kinds;
    kr_patch_meta_t *defs;
    kr_patch_field_t *fields;
    const char **field_refs; /* while building: the ref name of each field */
};

static const char *store_string(struct user_storage *st, const char *s)
{
    size_t len = strlen(s) + 1;
    char *p = st->strings + st->strings_used;
    memcpy(p, s, len);
    st->strings_used += len;
    return p;
}

static int parse_strategy(const char *s, unsigned *flags, const char *def, const char *field,
                          kr_error_t *err)
{
    int count = 0;
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        count++;
        if (len == 5 && strncmp(p, "merge", 5) == 0)
            *flags |= KR_PF_MERGE;
        else if (len == 7 && strncmp(p, "replace", 7) == 0)
            *flags |= KR_PF_REPLACE;
        else if (len == 10 && strncmp(p, "retainKeys", 10) == 0)
            *flags |= KR_PF_RETAIN_KEYS;
        else
            return kr_error_set(err, KR_EPARSE,
                                "patch schema: definitions/%s/%s: unknown patchStrategy \"%s\"",
                                def, field, s);
        p = end ? end + 1 : p + len;
    }
    /* Kubernetes accepts one strategy, or two when one is retainKeys. */
    if (count > 2 || (count == 2 && !(*flags & KR_PF_RETAIN_KEYS)) ||
        ((*flags & KR_PF_MERGE) && (*flags & KR_PF_REPLACE)))
        return kr_error_set(err, KR_EPARSE,
                            "patch schema: definitions/%s/%s: unsupported patchStrategy \"%s\"",
                            def, field, s);
    return 0;
}

static int read_bool(json_t *jf, const char *key, unsigned flag, unsigned *flags, const char *def,
                     const char *field, kr_error_t *err)
{
    json_t *v = json_object_get(jf, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return kr_error_set(err, KR_EPARSE,
                            "patch schema: definitions/%s/%s: \"%s\" is not a boolean", def, field,
                            key);
    if (json_is_true(v))
        *flags |= flag;
    return 0;
}

static int read_string(json_t *jf, const char *key, const char **out, const char *def,
                       const char *field, kr_error_t *err)
{
    json_t *v = json_object_get(jf, key);
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)))
        return kr_error_set(err, KR_EPARSE,
                            "patch schema: definitions/%s/%s: \"%s\" is not a string", def, field,
                            key);
    *out = json_string_value(v);
    return 0;
}

/* Sizes the table and checks its shape; fills the counters. */
static int measure_table(const json_t *table, size_t *ndefs, size_t *nfields, size_t *nkinds,
                         size_t *nbytes, kr_error_t *err)
{
    if (!json_is_object(table))
        return kr_error_set(err, KR_EPARSE, "patch schema: the table is not a JSON object");
    json_t *jkinds = json_object_get(table, "kinds");
    json_t *jdefs = json_object_get(table, "definitions");
    if (jkinds && !json_is_object(jkinds))
        return kr_error_set(err, KR_EPARSE, "patch schema: \"kinds\" is not an object");
    if (jdefs && !json_is_object(jdefs))
        return kr_error_set(err, KR_EPARSE, "patch schema: \"definitions\" is not an object");
    *ndefs = json_object_size(jdefs);
    *nkinds = json_object_size(jkinds);
    *nfields = 0;
    *nbytes = 0;
    const char *name;
    json_t *v;
    json_object_foreach(jkinds, name, v)
    {
        if (!json_is_string(v))
            return kr_error_set(err, KR_EPARSE, "patch schema: kinds/%s does not name a definition",
                                name);
        *nbytes += strlen(name) + 1;
    }
    json_object_foreach(jdefs, name, v)
    {
        if (!json_is_object(v))
            return kr_error_set(err, KR_EPARSE, "patch schema: definitions/%s is not an object",
                                name);
        *nbytes += strlen(name) + 1;
        const char *fname;
        json_t *jf;
        json_object_foreach(v, fname, jf)
        {
            if (!json_is_object(jf))
                return kr_error_set(err, KR_EPARSE,
                                    "patch schema: definitions/%s/%s is not an object", name,
                                    fname);
            const char *mk = json_string_value(json_object_get(jf, "patchMergeKey"));
            *nbytes += strlen(fname) + 1 + (mk ? strlen(mk) + 1 : 0);
            (*nfields)++;
        }
    }
    return 0;
}

static int fill_definition(struct user_storage *st, kr_patch_meta_t *d, size_t first,
                           const char *name, json_t *jdef, kr_error_t *err)
{
    d->name = store_string(st, name);
    d->fields = &st->fields[first];
    d->nfields = json_object_size(jdef);
    d->atomic = 0;
    size_t j = 0;
    const char *fname;
    json_t *jf;
    json_object_foreach(jdef, fname, jf)
    {
        kr_patch_field_t *f = &st->fields[first + j];
        const char *merge_key, *ref, *strategy;
        unsigned flags = 0;
        int rc;
        if ((rc = read_bool(jf, "list", KR_PF_LIST, &flags, name, fname, err)) < 0 ||
            (rc = read_bool(jf, "map", KR_PF_MAP, &flags, name, fname, err)) < 0 ||
            (rc = read_bool(jf, "mapOfLists", KR_PF_MAP_OF_LISTS, &flags, name, fname, err)) < 0 ||
            (rc = read_string(jf, "patchMergeKey", &merge_key, name, fname, err)) < 0 ||
            (rc = read_string(jf, "ref", &ref, name, fname, err)) < 0 ||
            (rc = read_string(jf, "patchStrategy", &strategy, name, fname, err)) < 0)
            return rc;
        if (strategy && (rc = parse_strategy(strategy, &flags, name, fname, err)) < 0)
            return rc;
        f->name = store_string(st, fname);
        f->merge_key = merge_key ? store_string(st, merge_key) : NULL;
        f->flags = flags;
        f->ref = NULL;
        f->list_keys = NULL;
        st->field_refs[first + j] = ref;
        j++;
    }
    /* Sort this definition's fields by name, carrying their ref names. */
    for (size_t a = 1; a < d->nfields; a++) {
        for (size_t b = a;
             b > 0 && strcmp(st->fields[first + b - 1].name, st->fields[first + b].name) > 0; b--) {
            kr_patch_field_t tf = st->fields[first + b];
            st->fields[first + b] = st->fields[first + b - 1];
            st->fields[first + b - 1] = tf;
            const char *tr = st->field_refs[first + b];
            st->field_refs[first + b] = st->field_refs[first + b - 1];
            st->field_refs[first + b - 1] = tr;
        }
    }
    return 0;
}

static int cmp_def_sort(const void *a, const void *b)
{
    return strcmp(((const kr_patch_meta_t *)a)->name, ((const kr_patch_meta_t *)b)->name);
}

static int cmp_kind_sort(const void *a, const void *b)
{
    return strcmp(((const kr_patch_kind_t *)a)->key, ((const kr_patch_kind_t *)b)->key);
}

static void storage_free(struct user_storage *st)
{
    if (!st)
        return;
    kr_free(st->strings);
    kr_free(st->kinds);
    kr_free(st->defs);
    kr_free(st->fields);
    kr_free(st->field_refs);
    kr_free(st);
}

void kr_patch_schema_free(kr_patch_schema_t *schema)
{
    if (!schema)
        return;
    storage_free(schema->storage);
    kr_free(schema);
}

int kr_patch_schema_new(const json_t *table, const kr_patch_schema_t *fallback,
                        kr_patch_schema_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "patch schema: out is NULL");
    *out = NULL;
    size_t ndefs = 0, nfields = 0, nkinds = 0, nbytes = 0;
    int rc = measure_table(table, &ndefs, &nfields, &nkinds, &nbytes, err);
    if (rc < 0)
        return rc;
    kr_patch_schema_t *schema = kr_calloc(1, sizeof(*schema));
    struct user_storage *st = kr_calloc(1, sizeof(*st));
    if (schema)
        schema->storage = st;
    if (!schema || !st || !(st->strings = kr_malloc(nbytes + 1)) ||
        !(st->kinds = kr_calloc(nkinds + 1, sizeof(*st->kinds))) ||
        !(st->defs = kr_calloc(ndefs + 1, sizeof(*st->defs))) ||
        !(st->fields = kr_calloc(nfields + 1, sizeof(*st->fields))) ||
        !(st->field_refs = kr_calloc(nfields + 1, sizeof(*st->field_refs)))) {
        rc = kr_error_set(err, KR_ENOMEM, "patch schema: out of memory");
        goto fail;
    }
    schema->fallback = fallback;

    json_t *jdefs = json_object_get(table, "definitions");
    json_t *jkinds = json_object_get(table, "kinds");
    const char *name;
    json_t *v;
    size_t i = 0, first = 0;
    json_object_foreach(jdefs, name, v)
    {
        if ((rc = fill_definition(st, &st->defs[i], first, name, v, err)) < 0)
            goto fail;
        first += st->defs[i].nfields;
        i++;
    }
    qsort(st->defs, ndefs, sizeof(*st->defs), cmp_def_sort);
    schema->defs = st->defs;
    schema->ndefs = ndefs;

    /* Resolve references: this table first, then the fallback chain. */
    for (i = 0; i < ndefs; i++) {
        kr_patch_meta_t *d = &st->defs[i];
        size_t base = (size_t)(d->fields - st->fields);
        for (size_t j = 0; j < d->nfields; j++) {
            const char *ref = st->field_refs[base + j];
            if (!ref)
                continue;
            const kr_patch_meta_t *target = kr_patch_schema_find_def(schema, ref);
            if (!target) {
                rc = kr_error_set(err, KR_EPARSE,
                                  "patch schema: definitions/%s/%s refers to unknown "
                                  "definition \"%s\"",
                                  d->name, d->fields[j].name, ref);
                goto fail;
            }
            st->fields[base + j].ref = target;
        }
    }
    i = 0;
    json_object_foreach(jkinds, name, v)
    {
        const kr_patch_meta_t *target = kr_patch_schema_find_def(schema, json_string_value(v));
        if (!target) {
            rc = kr_error_set(err, KR_EPARSE,
                              "patch schema: kinds/%s refers to unknown definition \"%s\"", name,
                              json_string_value(v));
            goto fail;
        }
        st->kinds[i].key = store_string(st, name);
        st->kinds[i].meta = target;
        i++;
    }
    qsort(st->kinds, nkinds, sizeof(*st->kinds), cmp_kind_sort);
    schema->kinds = st->kinds;
    schema->nkinds = nkinds;
    kr_free(st->field_refs);
    st->field_refs = NULL;
    *out = schema;
    return 0;

fail:
    if (schema)
        kr_patch_schema_free(schema);
    else
        storage_free(st);
    return rc;
}

int kr_patch_schema_load_file(const char *path, const kr_patch_schema_t *fallback,
                              kr_patch_schema_t **out, kr_error_t *err)
{
    if (!out || !path)
        return kr_error_set(err, KR_EINVAL, "patch schema: path or out is NULL");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return kr_error_set(err, KR_EIO, "patch schema: cannot open %s", path);
    json_error_t jerr;
    json_t *table = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    int read_failed = ferror(f);
    fclose(f);
    if (read_failed) {
        json_decref(table);
        return kr_error_set(err, KR_EIO, "patch schema: cannot read %s", path);
    }
    if (!table)
        return kr_error_set(err, KR_EPARSE, "patch schema: %s:%d:%d: %s", path, jerr.line,
                            jerr.column, jerr.text);
    int rc = kr_patch_schema_new(table, fallback, out, err);
    json_decref(table);
    return rc;
}
