/* Build-time generator: reads the Kubernetes patch metadata table (JSON)
 * and writes the C source of the library's built-in schema as static,
 * sorted tables (kinds by key, definitions by name, fields by name) so that
 * every lookup is a binary search. Runs on the build machine only. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch_schema_internal.h"

struct gen_field {
    const char *name;
    const char *merge_key;
    const char *ref;
    unsigned flags;
    char *list_keys;
};

struct gen_def {
    const char *name;
    int atomic;
    struct gen_field *fields;
    size_t nfields;
    size_t first; /* index of its first field in the flat field array */
};

struct gen_kind {
    const char *key;
    const char *def;
};

static int cmp_field(const void *a, const void *b)
{
    return strcmp(((const struct gen_field *)a)->name, ((const struct gen_field *)b)->name);
}

static int cmp_def(const void *a, const void *b)
{
    return strcmp(((const struct gen_def *)a)->name, ((const struct gen_def *)b)->name);
}

static int cmp_kind(const void *a, const void *b)
{
    return strcmp(((const struct gen_kind *)a)->key, ((const struct gen_kind *)b)->key);
}

static void die(const char *what, const char *name)
{
    fprintf(stderr, "gen_patch_schema: %s: %s\n", what, name);
    exit(1);
}

/* "merge", "replace", "retainKeys" or "merge,retainKeys"-style pairs. */
static unsigned parse_strategy(const char *s, const char *field)
{
    unsigned flags = 0;
    int count = 0;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        count++;
        if (strcmp(tok, "merge") == 0)
            flags |= KR_PF_MERGE;
        else if (strcmp(tok, "replace") == 0)
            flags |= KR_PF_REPLACE;
        else if (strcmp(tok, "retainKeys") == 0)
            flags |= KR_PF_RETAIN_KEYS;
        else
            die("unknown patchStrategy", field);
    }
    if (count > 2 || (count == 2 && !(flags & KR_PF_RETAIN_KEYS)))
        die("unsupported patchStrategy combination", field);
    return flags;
}

/* listType, listMapKeys and mapType: server-side apply's view. */
static unsigned parse_apply_types(json_t *jf, const char *field, char **keys)
{
    unsigned flags = 0;
    const char *lt = json_string_value(json_object_get(jf, "listType"));
    const char *mt = json_string_value(json_object_get(jf, "mapType"));
    if (lt && strcmp(lt, "atomic") == 0)
        flags |= KR_PF_LIST_ATOMIC;
    else if (lt && strcmp(lt, "set") == 0)
        flags |= KR_PF_LIST_SET;
    else if (lt && strcmp(lt, "map") == 0)
        flags |= KR_PF_LIST_MAP;
    else if (lt)
        die("unknown listType", field);
    if (mt && strcmp(mt, "atomic") == 0)
        flags |= KR_PF_MAP_ATOMIC;
    else if (mt && strcmp(mt, "granular") == 0)
        flags |= KR_PF_MAP_GRANULAR;
    else if (mt)
        die("unknown mapType", field);
    *keys = NULL;
    json_t *jkeys = json_object_get(jf, "listMapKeys");
    if (flags & KR_PF_LIST_MAP) {
        size_t n = json_array_size(jkeys), len = 0, i;
        if (n == 0)
            die("listType map without listMapKeys", field);
        for (i = 0; i < n; i++) {
            const char *k = json_string_value(json_array_get(jkeys, i));
            len += (k ? strlen(k) : 0) + 1;
        }
        *keys = calloc(len + 1, 1);
        if (!*keys)
            die("out of memory", "");
        for (i = 0; i < n; i++) {
            const char *k = json_string_value(json_array_get(jkeys, i));
            if (!k || !*k || strchr(k, ','))
                die("bad listMapKeys", field);
            if (i)
                strcat(*keys, ",");
            strcat(*keys, k);
        }
    }
    return flags;
}

static void print_str(FILE *out, const char *s)
{
    if (!s) {
        fputs("NULL", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(out, "\\%03o", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static size_t find_def(const struct gen_def *defs, size_t n, const char *name)
{
    struct gen_def key = {.name = name};
    const struct gen_def *d = bsearch(&key, defs, n, sizeof(*defs), cmp_def);
    if (!d)
        die("reference to an undefined definition", name);
    return (size_t)(d - defs);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_patch_schema METADATA.json OUT.c\n");
        return 2;
    }
    json_error_t jerr;
    json_t *root = json_load_file(argv[1], 0, &jerr);
    if (!root)
        die("cannot parse", jerr.text);
    json_t *jkinds = json_object_get(root, "kinds");
    json_t *jdefs = json_object_get(root, "definitions");
    if (!json_is_object(jkinds) || !json_is_object(jdefs))
        die("missing kinds or definitions", argv[1]);

    size_t ndefs = json_object_size(jdefs), nkinds = json_object_size(jkinds), nfields = 0;
    struct gen_def *defs = calloc(ndefs ? ndefs : 1, sizeof(*defs));
    struct gen_kind *kinds = calloc(nkinds ? nkinds : 1, sizeof(*kinds));
    if (!defs || !kinds)
        die("out of memory", "");
    size_t i = 0;
    const char *name;
    json_t *jdef;
    json_object_foreach(jdefs, name, jdef)
    {
        if (!json_is_object(jdef))
            die("definition is not an object", name);
        struct gen_def *d = &defs[i++];
        d->name = name;
        d->nfields = json_object_size(jdef);
        d->fields = calloc(d->nfields ? d->nfields : 1, sizeof(*d->fields));
        if (!d->fields)
            die("out of memory", "");
        size_t j = 0;
        const char *fname;
        json_t *jf;
        json_object_foreach(jdef, fname, jf)
        {
            if (!json_is_object(jf))
                die("field is not an object", fname);
            struct gen_field *f = &d->fields[j++];
            f->name = fname;
            f->merge_key = json_string_value(json_object_get(jf, "patchMergeKey"));
            f->ref = json_string_value(json_object_get(jf, "ref"));
            if (json_is_true(json_object_get(jf, "list")))
                f->flags |= KR_PF_LIST;
            if (json_is_true(json_object_get(jf, "map")))
                f->flags |= KR_PF_MAP;
            if (json_is_true(json_object_get(jf, "mapOfLists")))
                f->flags |= KR_PF_MAP_OF_LISTS;
            const char *strategy = json_string_value(json_object_get(jf, "patchStrategy"));
            if (strategy)
                f->flags |= parse_strategy(strategy, fname);
            f->flags |= parse_apply_types(jf, fname, &f->list_keys);
        }
        qsort(d->fields, d->nfields, sizeof(*d->fields), cmp_field);
        d->first = nfields;
        nfields += d->nfields;
    }
    qsort(defs, ndefs, sizeof(*defs), cmp_def);
    json_t *jatomic = json_object_get(root, "atomicDefinitions");
    for (i = 0; i < json_array_size(jatomic); i++) {
        const char *an = json_string_value(json_array_get(jatomic, i));
        if (!an)
            die("atomicDefinitions holds a non-string", argv[1]);
        defs[find_def(defs, ndefs, an)].atomic = 1;
    }
    /* Field offsets follow the sorted order of definitions. */
    nfields = 0;
    for (i = 0; i < ndefs; i++) {
        defs[i].first = nfields;
        nfields += defs[i].nfields;
    }
    i = 0;
    json_t *jk;
    json_object_foreach(jkinds, name, jk)
    {
        if (!json_is_string(jk))
            die("kind does not name a definition", name);
        kinds[i].key = name;
        kinds[i].def = json_string_value(jk);
        i++;
    }
    qsort(kinds, nkinds, sizeof(*kinds), cmp_kind);

    FILE *out = fopen(argv[2], "w");
    if (!out)
        die("cannot write", argv[2]);
    fprintf(out, "/* Generated at build time from the Kubernetes patch metadata table; do not\n"
                 " * edit. The built-in schema: sorted static tables for binary search. */\n"
                 "#include <stddef.h>\n\n#include \"patch_schema_internal.h\"\n\n");
    fprintf(out, "static const kr_patch_meta_t builtin_defs[%zu];\n\n", ndefs ? ndefs : 1);
    fprintf(out, "static const kr_patch_field_t builtin_fields[%zu] = {\n", nfields ? nfields : 1);
    for (i = 0; i < ndefs; i++) {
        for (size_t j = 0; j < defs[i].nfields; j++) {
            const struct gen_field *f = &defs[i].fields[j];
            fputs("    {", out);
            print_str(out, f->name);
            fputs(", ", out);
            print_str(out, f->merge_key);
            if (f->ref)
                fprintf(out, ", &builtin_defs[%zu]", find_def(defs, ndefs, f->ref));
            else
                fputs(", NULL", out);
            fprintf(out, ", %uu, ", f->flags);
            print_str(out, f->list_keys);
            fputs("},\n", out);
        }
    }
    fputs("};\n\n", out);
    fprintf(out, "static const kr_patch_meta_t builtin_defs[%zu] = {\n", ndefs ? ndefs : 1);
    for (i = 0; i < ndefs; i++) {
        fputs("    {", out);
        print_str(out, defs[i].name);
        fprintf(out, ", &builtin_fields[%zu], %zu, %d},\n", defs[i].first, defs[i].nfields,
                defs[i].atomic);
    }
    fputs("};\n\n", out);
    fprintf(out, "static const kr_patch_kind_t builtin_kinds[%zu] = {\n", nkinds ? nkinds : 1);
    for (i = 0; i < nkinds; i++) {
        fputs("    {", out);
        print_str(out, kinds[i].key);
        fprintf(out, ", &builtin_defs[%zu]},\n", find_def(defs, ndefs, kinds[i].def));
    }
    fputs("};\n\n", out);
    fprintf(out,
            "const kr_patch_schema_t kr_patch_schema_builtin_table = {\n"
            "    builtin_kinds, %zu, builtin_defs, %zu, NULL, NULL,\n};\n",
            nkinds, ndefs);
    if (fclose(out) != 0)
        die("cannot write", argv[2]);
    for (i = 0; i < ndefs; i++) {
        for (size_t j = 0; j < defs[i].nfields; j++)
            free(defs[i].fields[j].list_keys);
        free(defs[i].fields);
    }
    free(defs);
    free(kinds);
    json_decref(root);
    return 0;
}
