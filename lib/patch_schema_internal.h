/* libkreconcile — the in-memory form of patch metadata shared by the schema
 * reader, the build-time generated built-in table and the strategic merge
 * engine. Never installed; nothing here is part of the ABI. */
#ifndef KR_LIB_PATCH_SCHEMA_INTERNAL_H
#define KR_LIB_PATCH_SCHEMA_INTERNAL_H

#include <stddef.h>

#include "kreconcile/patch.h"

/* Field flags: the shape of the value and its patch strategy. */
enum {
    KR_PF_LIST = 1 << 0, /* a JSON array */
    KR_PF_MAP = 1 << 1, /* an object with arbitrary keys */
    KR_PF_MAP_OF_LISTS = 1 << 2, /* with KR_PF_MAP: the values are arrays */
    KR_PF_MERGE = 1 << 3, /* patchStrategy merge */
    KR_PF_REPLACE = 1 << 4, /* patchStrategy replace */
    KR_PF_RETAIN_KEYS = 1 << 5, /* patchStrategy retainKeys (alone or combined) */
    /* Server-side apply's annotations (x-kubernetes-list-type, -map-type). */
    KR_PF_LIST_ATOMIC = 1 << 6, /* listType atomic */
    KR_PF_LIST_SET = 1 << 7, /* listType set */
    KR_PF_LIST_MAP = 1 << 8, /* listType map, keyed by list_keys */
    KR_PF_MAP_ATOMIC = 1 << 9, /* mapType atomic */
    KR_PF_MAP_GRANULAR = 1 << 10, /* mapType granular (over an atomic definition) */
};

/* One field of a definition. */
typedef struct kr_patch_field {
    const char *name;
    const char *merge_key; /* patchMergeKey, NULL when none */
    const struct kr_patch_meta *ref; /* nested definition, NULL when none */
    unsigned flags;
    const char *list_keys; /* with KR_PF_LIST_MAP: the keys, comma-separated */
} kr_patch_field_t;

/* One definition: its fields sorted by name (strcmp) for bsearch. */
struct kr_patch_meta {
    const char *name;
    const kr_patch_field_t *fields;
    size_t nfields;
    int atomic; /* the struct is owned whole by server-side apply */
};

/* One entry of "kinds": "apps/v1/Deployment" -> definition. */
typedef struct kr_patch_kind {
    const char *key;
    const kr_patch_meta_t *meta;
} kr_patch_kind_t;

/* A schema: kinds sorted by key, definitions sorted by name, and the
 * schema consulted for anything this one lacks. */
struct kr_patch_schema {
    const kr_patch_kind_t *kinds;
    size_t nkinds;
    const kr_patch_meta_t *defs;
    size_t ndefs;
    const struct kr_patch_schema *fallback;
    /* Owned storage of a user schema (NULL for the built-in one). */
    void *storage;
};

/* The built-in table, generated at build time from the metadata file. */
extern const kr_patch_schema_t kr_patch_schema_builtin_table;

/* The field `name` of `meta`: an exact match, else (as Go's encoding/json
 * and Kubernetes' struct lookup do) the first ASCII case-insensitive one.
 * NULL when the definition has no such field. */
const kr_patch_field_t *kr_patch_meta_field(const kr_patch_meta_t *meta, const char *name);

/* The definition called `name` in `schema` or its fallbacks, or NULL. */
const kr_patch_meta_t *kr_patch_schema_find_def(const kr_patch_schema_t *schema, const char *name);

#endif /* KR_LIB_PATCH_SCHEMA_INTERNAL_H */
