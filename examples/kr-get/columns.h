/* kr-get's -o custom-columns=SPEC: kubectl's custom-columns printer
 * (k8s.io/cli-runtime/pkg/printers/customcolumn.go). SPEC is
 * HEADER:PATH[,HEADER:PATH...], each PATH relaxed as kubectl relaxes it
 * (name1.name2, .name1.name2, {name1.name2} or {.name1.name2}) and run
 * through kr-get's JSONPath subset (jsonpath.h). A column's values are
 * written as Go's fmt.Sprint writes them (map[k:v], [a b]), several joined
 * by commas, "<none>" when there is none; the lines are aligned by the
 * table's tabwriter (table.h). */
#ifndef KR_GET_COLUMNS_H
#define KR_GET_COLUMNS_H

#include <jansson.h>
#include <stdbool.h>

#include "table.h"

typedef struct kg_columns kg_columns;

/* Parse SPEC; NULL after writing kubectl's error (without "error: ") to
 * `error` (`size` bytes). The paths are parsed when first printed, as
 * kubectl parses them (after the header). */
kg_columns *kg_columns_new(const char *spec, bool no_headers, char *error, size_t size);
void kg_columns_free(kg_columns *c);

/* Add `doc`'s lines to `t` (its header first, once): a row per item of a
 * List, else one for the object. Returns 0, or -1 after writing kubectl's
 * error to `error` (the lines before it added). */
int kg_columns_add(kg_columns *c, const json_t *doc, kg_table *t, char *error, size_t size);

#endif
