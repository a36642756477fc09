/* libkreconcile — internals of the strategic merge patch engine shared by
 * its apply half (patch_strategic.c) and its creation half
 * (patch_strategic_create.c). Mirrors the semantics of Kubernetes'
 * k8s.io/apimachinery/pkg/util/strategicpatch (v1.32). Never installed. */
#ifndef KR_LIB_PATCH_STRATEGIC_INTERNAL_H
#define KR_LIB_PATCH_STRATEGIC_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "internal.h"
#include "patch_schema_internal.h"

#define SMP_DIRECTIVE "$patch"
#define SMP_RETAIN_KEYS "$retainKeys"
#define SMP_DELETE_PRIMITIVE "$deleteFromPrimitiveList"
#define SMP_SET_ORDER "$setElementOrder"
/* Deeper documents are refused rather than risking the stack. */
#define SMP_MAX_DEPTH 512

/* What the engine knows about the value at the current position: nothing
 * (no metadata: every lookup succeeds with no strategy), an object of a
 * known definition, or something that is not an object of a definition (a
 * map, a list, a scalar), in which Kubernetes' lookups fail. */
typedef enum smp_type_kind { SMP_T_NONE, SMP_T_STRUCT, SMP_T_OTHER } smp_type_kind;

typedef struct smp_type {
    smp_type_kind kind;
    const kr_patch_meta_t *def; /* SMP_T_STRUCT */
} smp_type;

typedef enum smp_strategy { SMP_S_NONE, SMP_S_MERGE, SMP_S_REPLACE } smp_strategy;

/* The patch metadata of one field (Kubernetes' PatchMeta). */
typedef struct smp_pmeta {
    smp_strategy strategy;
    bool retain_keys;
    const char *merge_key; /* "" when none */
} smp_pmeta;

/* Kubernetes' MergeOptions. */
typedef struct smp_mopts {
    bool merge_parallel_list;
    bool ignore_unmatched_nulls;
} smp_mopts;

/* The state of one call: where errors go, the JSON path being worked on
 * (for messages), and the recursion depth. */
typedef struct smp_ctx {
    kr_error_t *err;
    bool uncomparable;
    unsigned depth;
    size_t path_len;
    char path[512];
} smp_ctx;

/* The value classes of Go's decoded JSON (reflect types). */
enum {
    SMP_V_NULL,
    SMP_V_OBJECT,
    SMP_V_ARRAY,
    SMP_V_STRING,
    SMP_V_INT,
    SMP_V_REAL,
    SMP_V_BOOL,
};

int smp_class(const json_t *v);
/* Go's == on decoded JSON scalars (containers compare deeply). NULL (absent)
 * equals JSON null, as Go's nil does. */
bool smp_go_eq(smp_ctx *c, const json_t *a, const json_t *b);
/* Records (once, with the path) that lists or objects were compared where
 * Kubernetes can only compare scalars; the call then fails. */
void smp_mark_uncomparable(smp_ctx *c);
bool smp_is_string(const json_t *v, const char *s);

void smp_ctx_init(smp_ctx *c, kr_error_t *err);
/* The result of a public call: rc, or KR_EPATCH (and *out freed) when
 * uncomparable values were met. */
int smp_finish(smp_ctx *c, int rc, json_t **out);
size_t smp_path_push(smp_ctx *c, const char *key);
size_t smp_path_push_index(smp_ctx *c, size_t index);
void smp_path_pop(smp_ctx *c, size_t mark);
/* Fill the error with "<path>: <message>"; returns code. */
int smp_err(smp_ctx *c, int code, const char *fmt, ...) KR_PRINTF(3, 4);
int smp_nomem(smp_ctx *c);

int smp_lookup_struct(smp_ctx *c, smp_type t, const char *key, smp_type *sub, smp_pmeta *pm);
int smp_lookup_slice(smp_ctx *c, smp_type t, const char *key, smp_type *sub, smp_pmeta *pm);
/* The class shared by every element of the arrays a and b (either may be
 * NULL); an error for lists of lists, mixed types or no element at all. */
int smp_slice_element_class(smp_ctx *c, const json_t *a, const json_t *b, int *cls);

/* Kubernetes' mergeMap: merges `patch` into `original` (NULL means {}).
 * Both are borrowed and may be modified (they must be private copies);
 * *out is new. */
int smp_merge_map(smp_ctx *c, json_t *original, json_t *patch, smp_type t, smp_mopts o,
                  json_t **out);
/* Kubernetes' normalizeSliceOrder: `to_sort` ordered as in `order`, delete
 * directives last. *out is new. */
int smp_normalize_slice_order(smp_ctx *c, const json_t *to_sort, const json_t *order,
                              const char *merge_key, int cls, json_t **out);
/* Stable sort of `items` by Go's fmt %v text of each value (of its merge
 * key when merge_key is set). *out is new. */
int smp_sort_by_text(smp_ctx *c, const json_t *items, const char *merge_key, json_t **out);
/* Go's fmt %v of a JSON scalar, as bytes (not NUL-terminated for strings). */
typedef struct smp_text {
    const char *s;
    size_t len;
    char buf[40];
} smp_text;
void smp_text_of(const json_t *v, smp_text *t);
int smp_text_cmp(const smp_text *a, const smp_text *b);

#endif /* KR_LIB_PATCH_STRATEGIC_INTERNAL_H */
