/* kr-get's -o custom-columns: the spec parsed as kubectl parses it, each
 * object's cells found through the JSONPath subset. */
#include "columns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"

typedef struct column {
    char *header;
    char *path; /* "{.PATH}", as kubectl's RelaxedJSONPathExpression makes it */
    kg_jsonpath *jp;
} column;

struct kg_columns {
    column *columns;
    size_t n;
    bool no_headers, header_done, parsed;
};

void kg_columns_free(kg_columns *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->columns[i].header);
        free(c->columns[i].path);
        kg_jsonpath_free(c->columns[i].jp);
    }
    free(c->columns);
    free(c);
}

/* kubectl's RelaxedJSONPathExpression: ^\{\.?([^{}]+)\}$ or ^\.?([^{}]+)$,
 * as "{.X}"; an empty path stays empty. A new string, NULL when it does
 * not match. */
static char *relaxed(const char *p)
{
    size_t len = strlen(p);
    if (!len)
        return strdup("");
    const char *in = p;
    size_t n = len;
    if (p[0] == '{' && len >= 2 && p[len - 1] == '}') {
        in = p + 1;
        n = len - 2;
    }
    if (n && in[0] == '.') {
        in++;
        n--;
    }
    if (!n || memchr(in, '{', n) || memchr(in, '}', n))
        return NULL;
    char *out = malloc(n + 4);
    if (out)
        snprintf(out, n + 4, "{.%.*s}", (int)n, in);
    return out;
}

kg_columns *kg_columns_new(const char *spec, bool no_headers, char *error, size_t size)
{
    if (!spec[0]) {
        snprintf(error, size, "custom-columns format specified but no custom columns given");
        return NULL;
    }
    kg_columns *c = calloc(1, sizeof(*c));
    size_t parts = 1;
    for (const char *s = spec; *s; s++)
        parts += *s == ',';
    if (!c || !(c->columns = calloc(parts, sizeof(*c->columns)))) {
        snprintf(error, size, "out of memory");
        kg_columns_free(c);
        return NULL;
    }
    c->no_headers = no_headers;
    for (const char *part = spec; part; c->n++) {
        const char *next = strchr(part, ',');
        size_t len = next ? (size_t)(next - part) : strlen(part);
        const char *colon = memchr(part, ':', len);
        if (!colon) {
            snprintf(error, size,
                     "unexpected custom-columns spec: %.*s, expected <header>:<json-path-expr>",
                     (int)len, part);
            kg_columns_free(c);
            return NULL;
        }
        column *col = &c->columns[c->n];
        col->header = strndup(part, (size_t)(colon - part));
        char *path = strndup(colon + 1, (size_t)(part + len - colon - 1));
        col->path = path ? relaxed(path) : NULL;
        bool matched = !path || col->path;
        free(path);
        if (!matched) {
            snprintf(error, size,
                     "unexpected path string, expected a 'name1.name2' or '.name1.name2' or "
                     "'{name1.name2}' or '{.name1.name2}'");
            c->n++;
            kg_columns_free(c);
            return NULL;
        }
        if (!col->header || !col->path) {
            snprintf(error, size, "out of memory");
            c->n++;
            kg_columns_free(c);
            return NULL;
        }
        part = next ? next + 1 : NULL;
    }
    return c;
}

typedef struct text {
    char *buf;
    size_t len, cap;
} text;

static void append(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t grown = (t->len + n + 1) * 2;
        char *p = realloc(t->buf, grown);
        if (!p)
            return;
        t->buf = p;
        t->cap = grown;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static int key_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Append `v` as Go's fmt.Sprint writes an unstructured value: maps as
 * map[k:v ...] by key, slices as [a b], nil as <nil>. */
static void sprint(const json_t *v, text *t)
{
    char num[64] = "";
    if (json_is_string(v)) {
        append(t, json_string_value(v), json_string_length(v));
        return;
    }
    if (json_is_array(v)) {
        append(t, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                append(t, " ", 1);
            sprint(json_array_get(v, i), t);
        }
        append(t, "]", 1);
        return;
    }
    if (json_is_object(v)) {
        size_t n = json_object_size(v), i = 0;
        const char **keys = calloc(n ? n : 1, sizeof(*keys));
        const char *k;
        json_t *f;
        json_object_foreach((json_t *)v, k, f) if (keys) keys[i++] = k;
        if (keys)
            qsort(keys, n, sizeof(*keys), key_order);
        append(t, "map[", 4);
        for (i = 0; keys && i < n; i++) {
            if (i)
                append(t, " ", 1);
            append(t, keys[i], strlen(keys[i]));
            append(t, ":", 1);
            sprint(json_object_get(v, keys[i]), t);
        }
        append(t, "]", 1);
        free(keys);
        return;
    }
    if (json_is_integer(v))
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        kg_go_float(json_real_value(v), num, sizeof(num));
    else if (json_is_boolean(v))
        snprintf(num, sizeof(num), "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(num, sizeof(num), "<nil>");
    append(t, num, strlen(num));
}

/* kubectl's printers.EscapeTerminal: ESC as ^[, CR as \r. */
static json_t *escaped(const char *s)
{
    text t = {0};
    append(&t, "", 0);
    for (; *s; s++) {
        if (*s == '\x1b')
            append(&t, "^[", 2);
        else if (*s == '\r')
            append(&t, "\\r", 2);
        else
            append(&t, s, 1);
    }
    json_t *cell = json_string(t.buf ? t.buf : "");
    free(t.buf);
    return cell;
}

static int add_row(kg_columns *c, const json_t *obj, kg_table *t, char *error, size_t size)
{
    json_t *line = json_array();
    for (size_t i = 0; line && i < c->n; i++) {
        json_t *values = json_array();
        if (!values) {
            json_decref(line);
            return -1;
        }
        if (c->columns[i].jp &&
            kg_jsonpath_values(c->columns[i].jp, obj, values, error, size) != 0) {
            json_decref(values);
            json_decref(line);
            return -1;
        }
        text cell = {0};
        append(&cell, "", 0);
        if (json_array_size(values) == 0)
            append(&cell, "<none>", 6);
        for (size_t k = 0; k < json_array_size(values); k++) {
            text one = {0};
            append(&one, "", 0);
            sprint(json_array_get(values, k), &one);
            json_t *esc = escaped(one.buf ? one.buf : "");
            if (k)
                append(&cell, ",", 1);
            append(&cell, json_string_value(esc), json_string_length(esc));
            json_decref(esc);
            free(one.buf);
        }
        json_array_append_new(line, json_string(cell.buf ? cell.buf : ""));
        free(cell.buf);
        json_decref(values);
    }
    if (!line)
        return -1;
    json_array_append_new(t->lines, line);
    return 0;
}

int kg_columns_add(kg_columns *c, const json_t *doc, kg_table *t, char *error, size_t size)
{
    if (!c->no_headers && !c->header_done) {
        json_t *line = json_array();
        for (size_t i = 0; line && i < c->n; i++)
            json_array_append_new(line, json_string(c->columns[i].header));
        if (line)
            json_array_append_new(t->lines, line);
        c->header_done = true;
    }
    if (!c->parsed) { /* as kubectl: the paths parsed after the header */
        for (size_t i = 0; i < c->n; i++) {
            if (!c->columns[i].path[0])
                continue; /* an empty path finds nothing */
            char why[1024];
            c->columns[i].jp = kg_jsonpath_parse(c->columns[i].path, why, sizeof(why));
            if (!c->columns[i].jp) {
                /* kubectl's parser's words alone, without the template's
                 * "error parsing jsonpath {...}, " */
                char prefix[1100];
                snprintf(prefix, sizeof(prefix), "error parsing jsonpath %s, ", c->columns[i].path);
                size_t n = strlen(prefix);
                snprintf(error, size, "%s", strncmp(why, prefix, n) == 0 ? why + n : why);
                return -1;
            }
        }
        c->parsed = true;
    }
    const json_t *items = json_object_get(doc, "items");
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (json_is_array(items) && kind && strlen(kind) >= 4 &&
        strcmp(kind + strlen(kind) - 4, "List") == 0) {
        for (size_t i = 0; i < json_array_size(items); i++)
            if (add_row(c, json_array_get(items, i), t, error, size) != 0)
                return -1;
        return 0;
    }
    return add_row(c, doc, t, error, size);
}
