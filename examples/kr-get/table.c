/* kr-get's table printer: kubectl's printTable and decorateTable
 * (k8s.io/cli-runtime/pkg/printers/tableprinter.go) over Go's tabwriter
 * as kubectl sets it (minwidth 6, padding 3, spaces, widths remembered). */
#include "table.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"

#define MIN_WIDTH 6
#define PADDING 3

void kg_table_init(kg_table *t, const kg_table_opts *opts, bool remember)
{
    memset(t, 0, sizeof(*t));
    t->opts = *opts;
    t->remember = remember;
    t->lines = json_array();
}

void kg_table_free(kg_table *t)
{
    json_decref(t->columns);
    json_decref(t->lines);
    free(t->widths);
    memset(t, 0, sizeof(*t));
}

/* A cell as kubectl prints it: a string cut at its first line break
 * ("..." after it), the escape character as "^[" and a carriage return as
 * "\r" (kubectl's terminal escaping); numbers and booleans as Go's
 * fmt.Sprint; nothing for null. A new string. */
static json_t *cell_text(const json_t *cell)
{
    char buf[64];
    if (json_is_string(cell)) {
        const char *s = json_string_value(cell);
        size_t len = strcspn(s, "\f\n\r");
        char *out = malloc(len * 2 + 4), *w = out;
        if (!out)
            return json_string("");
        for (size_t i = 0; i < len; i++) {
            if (s[i] == '\x1b') {
                *w++ = '^';
                *w++ = '[';
            } else {
                *w++ = s[i];
            }
        }
        if (s[len])
            w += sprintf(w, "...");
        *w = '\0';
        json_t *text = json_string(out);
        free(out);
        return text ? text : json_string("");
    }
    if (json_is_integer(cell)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(cell));
        return json_string(buf);
    }
    if (json_is_real(cell)) {
        kg_go_float(json_real_value(cell), buf, sizeof(buf));
        return json_string(buf);
    }
    if (json_is_boolean(cell))
        return json_string(json_is_true(cell) ? "true" : "false");
    if (!cell || json_is_null(cell))
        return json_string("");
    char *dump = json_dumps(cell, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *text = json_string(dump ? dump : "");
    free(dump);
    return text;
}

/* A row's labels as kubectl's labels.FormatLabels: "k=v,..." by key, or
 * "<none>". */
static json_t *labels_text(const json_t *labels)
{
    size_t n = json_object_size(labels);
    if (n == 0)
        return json_string("<none>");
    const char **keys = calloc(n, sizeof(*keys));
    if (!keys)
        return json_string("");
    size_t i = 0, len = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v)
    {
        keys[i++] = k;
        len += strlen(k) + strlen(json_string_value(v) ? json_string_value(v) : "") + 2;
    }
    for (size_t a = 1; a < n; a++) { /* few labels: insertion sort */
        for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
            const char *tmp = keys[b];
            keys[b] = keys[b - 1];
            keys[b - 1] = tmp;
        }
    }
    char *out = malloc(len + 1), *w = out;
    if (out) {
        for (i = 0; i < n; i++) {
            const char *value = json_string_value(json_object_get(labels, keys[i]));
            w += sprintf(w, "%s%s=%s", i ? "," : "", keys[i], value ? value : "");
        }
    }
    json_t *text = json_string(out ? out : "");
    free(out);
    free(keys);
    return text;
}

static bool shown(const kg_table *t, const json_t *column)
{
    return t->opts.wide || json_integer_value(json_object_get(column, "priority")) == 0;
}

static void add_header(kg_table *t)
{
    json_t *line = json_array();
    if (t->opts.with_namespace)
        json_array_append_new(line, json_string("NAMESPACE"));
    size_t i;
    json_t *column;
    json_array_foreach(t->columns, i, column)
    {
        if (!shown(t, column))
            continue;
        const char *name = json_string_value(json_object_get(column, "name"));
        char *upper = strdup(name ? name : "");
        for (char *c = upper; c && *c; c++)
            *c = (char)toupper((unsigned char)*c);
        json_array_append_new(line, json_string(upper ? upper : ""));
        free(upper);
    }
    for (size_t k = 0; k < t->opts.nlabel_columns; k++) { /* the key's last segment */
        const char *key = t->opts.label_columns[k], *slash = strrchr(key, '/');
        char *upper = strdup(slash ? slash + 1 : key);
        for (char *c = upper; c && *c; c++)
            *c = (char)toupper((unsigned char)*c);
        json_array_append_new(line, json_string(upper ? upper : ""));
        free(upper);
    }
    if (t->opts.show_labels)
        json_array_append_new(line, json_string("LABELS"));
    json_array_append_new(t->lines, line);
}

/* The first column of format "name" and type "string", where kubectl puts
 * the kind; -1: none. */
static int name_column(const kg_table *t)
{
    size_t i;
    json_t *column;
    json_array_foreach(t->columns, i, column)
    {
        const char *format = json_string_value(json_object_get(column, "format"));
        const char *type = json_string_value(json_object_get(column, "type"));
        if (format && type && strcmp(format, "name") == 0 && strcmp(type, "string") == 0)
            return (int)i;
    }
    return -1;
}

static void add_row(kg_table *t, const json_t *row)
{
    const json_t *cells = json_object_get(row, "cells");
    const json_t *md = json_object_get(json_object_get(row, "object"), "metadata");
    json_t *line = json_array();
    if (t->opts.with_namespace) {
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        json_array_append_new(line, json_string(ns ? ns : ""));
    }
    int named = t->opts.kind ? name_column(t) : -1;
    size_t ncolumns = json_array_size(t->columns);
    for (size_t i = 0; i < json_array_size(cells) && i < ncolumns; i++) {
        if (!shown(t, json_array_get(t->columns, i)))
            continue;
        json_t *text = cell_text(json_array_get(cells, i));
        if ((int)i == named) {
            size_t len = strlen(t->opts.kind) + json_string_length(text) + 2;
            char *prefixed = malloc(len);
            if (prefixed) {
                snprintf(prefixed, len, "%s/%s", t->opts.kind, json_string_value(text));
                json_string_set(text, prefixed);
                free(prefixed);
            }
        }
        json_array_append_new(line, text);
    }
    const json_t *labels = json_object_get(md, "labels");
    for (size_t i = 0; i < t->opts.nlabel_columns; i++) {
        const char *value = json_string_value(json_object_get(labels, t->opts.label_columns[i]));
        json_array_append_new(line, json_string(value ? value : ""));
    }
    if (t->opts.show_labels)
        json_array_append_new(line, md ? labels_text(labels) : json_string(""));
    json_array_append_new(t->lines, line);
}

int kg_table_add(kg_table *t, const json_t *table)
{
    const json_t *rows = json_object_get(table, "rows");
    if (!json_is_array(rows))
        return -1;
    const json_t *columns = json_object_get(table, "columnDefinitions");
    bool same = t->columns && (json_array_size(columns) == 0 || json_equal(columns, t->columns));
    if (!same && json_array_size(columns) > 0) { /* new columns: a header again */
        json_decref(t->columns);
        t->columns = json_deep_copy(columns);
        t->header_printed = false;
    }
    if (json_array_size(rows) == 0)
        return 0;
    if (!t->header_printed && !t->opts.no_headers)
        add_header(t);
    t->header_printed = true;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) add_row(t, row);
    return 0;
}

/* A cell's width as Go's tabwriter counts it: in runes (UTF-8). */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

size_t kg_table_flush(kg_table *t, FILE *out)
{
    size_t nlines = json_array_size(t->lines), ncols = 0;
    for (size_t i = 0; i < nlines; i++) {
        size_t n = json_array_size(json_array_get(t->lines, i));
        if (n > ncols)
            ncols = n;
    }
    /* Every cell but a line's last is in a column, as tab-terminated. */
    size_t *widths = calloc(ncols ? ncols : 1, sizeof(*widths));
    if (!widths)
        return 0;
    for (size_t c = 0; c < ncols; c++) {
        widths[c] = MIN_WIDTH;
        if (t->remember && c < t->nwidths && t->widths[c] > widths[c])
            widths[c] = t->widths[c];
    }
    for (size_t i = 0; i < nlines; i++) {
        json_t *line = json_array_get(t->lines, i);
        for (size_t c = 0; c + 1 < json_array_size(line); c++) {
            size_t w = text_width(json_string_value(json_array_get(line, c))) + PADDING;
            if (w > widths[c])
                widths[c] = w;
        }
    }
    for (size_t i = 0; i < nlines; i++) {
        json_t *line = json_array_get(t->lines, i);
        size_t n = json_array_size(line);
        for (size_t c = 0; c < n; c++) {
            const char *text = json_string_value(json_array_get(line, c));
            fputs(text, out);
            for (size_t w = text_width(text); c + 1 < n && w < widths[c]; w++)
                fputc(' ', out);
        }
        fputc('\n', out);
    }
    if (t->remember && ncols > t->nwidths) {
        size_t *grown = realloc(t->widths, ncols * sizeof(*grown));
        if (grown) {
            for (size_t c = t->nwidths; c < ncols; c++)
                grown[c] = 0;
            t->widths = grown;
            t->nwidths = ncols;
        }
    }
    for (size_t c = 0; t->remember && c < ncols && c < t->nwidths; c++) {
        size_t used = 0; /* the width this flush's columns took, remembered */
        for (size_t i = 0; i < nlines; i++)
            used |= c + 1 < json_array_size(json_array_get(t->lines, i));
        if (used && widths[c] > t->widths[c])
            t->widths[c] = widths[c];
    }
    free(widths);
    json_array_clear(t->lines);
    return nlines;
}
