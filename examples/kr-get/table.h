/* kr-get's table printer: the meta.k8s.io/v1 Tables the apiserver prints
 * (Accept: application/json;as=Table;v=v1;g=meta.k8s.io), written as
 * kubectl get writes them: column names in upper case, the columns of
 * priority 0 (all with -o wide), kubectl's decorations (a NAMESPACE column
 * first, KIND/ before each name, a column per -L label, a LABELS column
 * last), aligned as Go's
 * tabwriter aligns kubectl's (cells padded by 3 to at least 6). */
#ifndef KR_GET_TABLE_H
#define KR_GET_TABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* The Accept header kubectl get sends. */
#define KG_TABLE_ACCEPT                                                                            \
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta."     \
    "k8s.io,application/json"

typedef struct kg_table_opts {
    bool wide; /* -o wide: the columns of every priority */
    bool with_namespace; /* a NAMESPACE column first (-A, a namespaced resource) */
    bool show_labels; /* --show-labels: a LABELS column last */
    bool no_headers; /* --no-headers: rows only, never the header */
    const char *const *label_columns; /* -L: a column each, before LABELS */
    size_t nlabel_columns;
    const char *kind; /* "configmap", "deployment.apps": before each name; NULL: none */
} kg_table_opts;

/* The printer of one resource's tables, as kubectl keeps one per resource:
 * its header is written once, over the first table with rows (again only
 * if the columns change), and its lines are aligned together when
 * flushed; with `remember`, widths never shrink across flushes (a watch's
 * rows, each flushed as it comes). */
typedef struct kg_table {
    kg_table_opts opts;
    bool remember;
    bool header_printed;
    json_t *columns; /* the last column definitions seen */
    json_t *lines; /* arrays of cells (strings) waiting for the flush */
    size_t *widths; /* remembered column widths */
    size_t nwidths;
} kg_table;

void kg_table_init(kg_table *t, const kg_table_opts *opts, bool remember);
void kg_table_free(kg_table *t);

/* Add a Table's header (when due) and rows. Returns 0, or -1 when
 * `table` is not one (no rows). */
int kg_table_add(kg_table *t, const json_t *table);

/* Write the lines added since the last flush; returns how many. */
size_t kg_table_flush(kg_table *t, FILE *out);

#endif
