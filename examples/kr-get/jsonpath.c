/* kr-get's -o jsonpath: the subset of kubectl's JSONPath jsonpath.h lists,
 * parsed once, then run over each document printed. */
#include "jsonpath.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef enum { N_TEXT, N_PATH, N_RANGE, N_END } node_type;
typedef enum { S_FIELD, S_INDEX, S_ALL } step_type;

typedef struct step {
    step_type type;
    char *name; /* S_FIELD */
    long index; /* S_INDEX */
} step;

typedef struct node {
    node_type type;
    char *text; /* N_TEXT: what is printed */
    step *steps; /* N_PATH, N_RANGE */
    size_t nsteps;
    size_t end; /* N_RANGE: the index of its {end} (or the node count) */
} node;

struct kg_jsonpath {
    char *source;
    node *nodes;
    size_t n;
};

char *kg_go_json(const json_t *value, size_t flags)
{
    char *text = json_dumps(value, flags | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    char *out = malloc(len * 6 + 1), *w = out;
    for (const char *r = text; out && *r; r++) {
        if (*r == '\\' && r[1] == 'u') { /* an escape: its digits in lower case */
            *w++ = *r++;
            *w++ = *r;
            for (int i = 0; i < 4 && r[1]; i++)
                *w++ = (char)tolower((unsigned char)*++r);
        } else if (*r == '\\' && r[1]) { /* "\\" or "\"": not the start of one */
            *w++ = *r++;
            *w++ = *r;
        } else if (*r == '<' || *r == '>' || *r == '&') {
            w += sprintf(w, "\\u%04x", (unsigned)*r);
        } else if ((unsigned char)r[0] == 0xe2 && (unsigned char)r[1] == 0x80 &&
                   ((unsigned char)r[2] == 0xa8 || (unsigned char)r[2] == 0xa9)) {
            w += sprintf(w, "\\u%s", (unsigned char)r[2] == 0xa8 ? "2028" : "2029");
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    if (out)
        *w = '\0';
    free(text);
    return out;
}

void kg_jsonpath_free(kg_jsonpath *jp)
{
    if (!jp)
        return;
    for (size_t i = 0; i < jp->n; i++) {
        free(jp->nodes[i].text);
        for (size_t s = 0; s < jp->nodes[i].nsteps; s++)
            free(jp->nodes[i].steps[s].name);
        free(jp->nodes[i].steps);
    }
    free(jp->nodes);
    free(jp->source);
    free(jp);
}

static node *add_node(kg_jsonpath *jp, node_type type)
{
    node *grown = realloc(jp->nodes, (jp->n + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    jp->nodes = grown;
    node *nd = &jp->nodes[jp->n++];
    memset(nd, 0, sizeof(*nd));
    nd->type = type;
    return nd;
}

static bool add_step(node *nd, step_type type, const char *name, size_t len, long index)
{
    step *grown = realloc(nd->steps, (nd->nsteps + 1) * sizeof(*grown));
    if (!grown)
        return false;
    nd->steps = grown;
    step *s = &nd->steps[nd->nsteps++];
    s->type = type;
    s->index = index;
    s->name = name ? strndup(name, len) : NULL;
    return !name || s->name;
}

/* A quoted literal's text, its escapes undone. */
static char *unquote(const char *s, size_t len)
{
    char *out = malloc(len + 1), *w = out;
    for (size_t i = 1; out && i + 1 < len; i++) {
        if (s[i] == '\\' && i + 2 < len) {
            char c = s[++i];
            *w++ = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        } else {
            *w++ = s[i];
        }
    }
    if (out)
        *w = '\0';
    return out;
}

#define PARSE_ERROR(...)                                                                           \
    do {                                                                                           \
        char why_[512];                                                                            \
        snprintf(why_, sizeof(why_), __VA_ARGS__);                                                 \
        snprintf(error, size, "error parsing jsonpath %s, %s", jp->source, why_);                  \
        return false;                                                                              \
    } while (0)

static const char *const SUPPORTED =
    "is not supported by kr-get (it takes .field, ['field'], [n], [*], .*, range/end and "
    "quoted text)";

/* A path (of `len` bytes) into `nd`'s steps. */
static bool parse_path(kg_jsonpath *jp, node *nd, const char *p, size_t len, char *error,
                       size_t size)
{
    const char *end = p + len;
    if (p < end && (*p == '$' || *p == '@'))
        p++;
    while (p < end) {
        if (*p == '.') {
            p++;
            if (p < end && *p == '.')
                PARSE_ERROR("recursive descent (..) %s", SUPPORTED);
            if (p < end && *p == '*') {
                p++;
                if (!add_step(nd, S_ALL, NULL, 0, 0))
                    PARSE_ERROR("out of memory");
                continue;
            }
            size_t n = strcspn(p, ".[ ");
            if (p + n > end)
                n = (size_t)(end - p);
            if (n && !add_step(nd, S_FIELD, p, n, 0))
                PARSE_ERROR("out of memory");
            p += n;
        } else if (*p == '[') {
            const char *q = p + 1, *close = NULL;
            for (; q < end && !close; q++) {
                if (*q == '\'' || *q == '"') {
                    char quote = *q;
                    for (q++; q < end && *q != quote; q++)
                        q += *q == '\\';
                } else if (*q == ']') {
                    close = q;
                }
            }
            if (!close)
                PARSE_ERROR("unterminated array");
            const char *in = p + 1;
            size_t n = (size_t)(close - in);
            if (n >= 2 && in[0] == '\'' && in[n - 1] == '\'') {
                char *name = unquote(in, n);
                bool ok = name && add_step(nd, S_FIELD, name, strlen(name), 0);
                free(name);
                if (!ok)
                    PARSE_ERROR("out of memory");
            } else if (n == 1 && in[0] == '*') {
                if (!add_step(nd, S_ALL, NULL, 0, 0))
                    PARSE_ERROR("out of memory");
            } else if (n && in[0] == '?') {
                PARSE_ERROR("the filter [%.*s] %s", (int)n, in, SUPPORTED);
            } else if (memchr(in, ',', n)) {
                PARSE_ERROR("the union [%.*s] %s", (int)n, in, SUPPORTED);
            } else if (memchr(in, ':', n)) {
                PARSE_ERROR("the slice [%.*s] %s", (int)n, in, SUPPORTED);
            } else {
                char digits[32], *stop;
                snprintf(digits, sizeof(digits), "%.*s", (int)n, in);
                errno = 0;
                long index = strtol(digits, &stop, 10);
                if (!n || n >= sizeof(digits) || *stop || errno)
                    PARSE_ERROR("invalid array index %.*s", (int)n, in);
                if (!add_step(nd, S_INDEX, NULL, 0, index))
                    PARSE_ERROR("out of memory");
            }
            p = close + 1;
        } else {
            PARSE_ERROR("%.*s %s", (int)(end - p), p, SUPPORTED);
        }
    }
    return true;
}

/* One action's text, between the braces, trimmed. */
static bool parse_action(kg_jsonpath *jp, const char *a, size_t len, char *error, size_t size)
{
    while (len && isspace((unsigned char)*a))
        a++, len--;
    while (len && isspace((unsigned char)a[len - 1]))
        len--;
    node *nd;
    if (len == 3 && memcmp(a, "end", 3) == 0)
        return add_node(jp, N_END) != NULL;
    if (len && (a[0] == '"' || a[0] == '\'')) {
        if (len < 2 || a[len - 1] != a[0])
            PARSE_ERROR("unterminated quoted string");
        if (!(nd = add_node(jp, N_TEXT)) || !(nd->text = unquote(a, len)))
            PARSE_ERROR("out of memory");
        return true;
    }
    bool range = len > 6 && memcmp(a, "range", 5) == 0 && isspace((unsigned char)a[5]);
    if (!(nd = add_node(jp, range ? N_RANGE : N_PATH)))
        PARSE_ERROR("out of memory");
    if (range) {
        a += 6, len -= 6;
        while (len && isspace((unsigned char)*a))
            a++, len--;
    }
    return parse_path(jp, nd, a, len, error, size);
}

kg_jsonpath *kg_jsonpath_parse(const char *text, char *error, size_t size)
{
    kg_jsonpath *jp = calloc(1, sizeof(*jp));
    if (!jp || !(jp->source = strdup(text))) {
        snprintf(error, size, "out of memory");
        kg_jsonpath_free(jp);
        return NULL;
    }
    const char *p = text;
    while (*p) {
        if (*p != '{') {
            size_t n = strcspn(p, "{");
            node *nd = add_node(jp, N_TEXT);
            if (!nd || !(nd->text = strndup(p, n)))
                goto oom;
            p += n;
            continue;
        }
        const char *q = p + 1;
        for (; *q && *q != '}'; q++) {
            if (*q == '"' || *q == '\'') {
                char quote = *q;
                for (q++; *q && *q != quote; q++)
                    q += *q == '\\' && q[1];
                if (!*q) {
                    snprintf(error, size, "error parsing jsonpath %s, unterminated quoted string",
                             text);
                    kg_jsonpath_free(jp);
                    return NULL;
                }
            }
        }
        if (!*q) {
            snprintf(error, size, "error parsing jsonpath %s, unclosed action", text);
            kg_jsonpath_free(jp);
            return NULL;
        }
        if (!parse_action(jp, p + 1, (size_t)(q - p - 1), error, size)) {
            kg_jsonpath_free(jp);
            return NULL;
        }
        p = q + 1;
    }
    /* Each {range} to its {end}. */
    for (size_t i = jp->n; i-- > 0;) {
        if (jp->nodes[i].type != N_RANGE)
            continue;
        size_t depth = 0, e = i + 1;
        for (; e < jp->n; e++) {
            if (jp->nodes[e].type == N_RANGE)
                depth++;
            else if (jp->nodes[e].type == N_END && depth-- == 0)
                break;
        }
        jp->nodes[i].end = e;
    }
    return jp;
oom:
    snprintf(error, size, "out of memory");
    kg_jsonpath_free(jp);
    return NULL;
}

/* The values `nd`'s path finds from `cur`, appended to `out`. */
static int find(const node *nd, json_t *cur, json_t *out, char *why, size_t size)
{
    json_t *values = json_pack("[O]", cur);
    for (size_t s = 0; values && s < nd->nsteps; s++) {
        const step *st = &nd->steps[s];
        json_t *next = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(values, i, v)
        {
            if (st->type == S_FIELD && json_is_object(v)) {
                json_t *f = json_object_get(v, st->name);
                if (f)
                    json_array_append(next, f);
            } else if (st->type == S_INDEX && json_is_array(v)) {
                long len = (long)json_array_size(v),
                     at = st->index < 0 ? len + st->index : st->index;
                if (at < 0 || at >= len) {
                    snprintf(why, size, "array index out of bounds: index %ld, length %ld",
                             st->index, len);
                    json_decref(next);
                    json_decref(values);
                    return -1;
                }
                json_array_append(next, json_array_get(v, (size_t)at));
            } else if (st->type == S_ALL && json_is_array(v)) {
                json_array_extend(next, v);
            } else if (st->type == S_ALL && json_is_object(v)) {
                const char *k;
                json_t *f;
                json_t *keys = json_array(); /* in key order */
                json_object_foreach(v, k, f) json_array_append_new(keys, json_string(k));
                for (size_t a = 1; a < json_array_size(keys); a++) {
                    for (size_t b = a;
                         b > 0 && strcmp(json_string_value(json_array_get(keys, b - 1)),
                                         json_string_value(json_array_get(keys, b))) > 0;
                         b--) {
                        json_t *tmp = json_incref(json_array_get(keys, b));
                        json_array_set(keys, b, json_array_get(keys, b - 1));
                        json_array_set_new(keys, b - 1, tmp);
                    }
                }
                size_t ki;
                json_t *key;
                json_array_foreach(keys, ki, key)
                    json_array_append(next, json_object_get(v, json_string_value(key)));
                json_decref(keys);
            }
        }
        json_decref(values);
        values = next;
    }
    json_array_extend(out, values);
    json_decref(values);
    return 0;
}

/* Go's strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v writes it: the
 * shortest digits, an exponent below 1e-4 or from 1e6. */
void kg_go_float(double f, char *buf, size_t size)
{
    char digits[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(digits, sizeof(digits), "%.*e", prec - 1, f);
        if (strtod(digits, NULL) == f)
            break;
    }
    int exp = atoi(strchr(digits, 'e') + 1);
    if (exp < -4 || exp >= 6) { /* strconv's 'g' at its shortest: precision 6 decides */
        /* d.ddde±XX: Go writes at least two exponent digits, as C does. */
        snprintf(buf, size, "%s", digits);
        return;
    }
    snprintf(buf, size, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, f);
}

/* One value as kubectl's jsonpath prints it. */
static void print_value(const json_t *v, FILE *out)
{
    if (json_is_string(v)) {
        fwrite(json_string_value(v), 1, json_string_length(v), out);
    } else if (json_is_integer(v)) {
        fprintf(out, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        char num[40];
        kg_go_float(json_real_value(v), num, sizeof(num));
        fputs(num, out);
    } else if (json_is_boolean(v)) {
        fputs(json_is_true(v) ? "true" : "false", out);
    } else if (json_is_object(v) || json_is_array(v)) {
        char *text = kg_go_json(v, JSON_COMPACT);
        if (text)
            fputs(text, out);
        free(text);
    }
}

static int run(const kg_jsonpath *jp, size_t from, size_t to, json_t *cur, FILE *out, char *why,
               size_t size)
{
    for (size_t i = from; i < to; i++) {
        const node *nd = &jp->nodes[i];
        if (nd->type == N_TEXT) {
            fputs(nd->text, out);
        } else if (nd->type == N_END) {
            snprintf(why, size, "not in range, nothing to end");
            return -1;
        } else {
            json_t *found = json_array();
            if (!found || find(nd, cur, found, why, size) != 0) {
                json_decref(found);
                return -1;
            }
            size_t k;
            json_t *v;
            json_array_foreach(found, k, v)
            {
                if (nd->type == N_PATH) {
                    print_value(v, out);
                    if (k + 1 < json_array_size(found))
                        fputc(' ', out);
                } else if (run(jp, i + 1, nd->end, v, out, why, size) != 0) {
                    json_decref(found);
                    return -1;
                }
            }
            json_decref(found);
            if (nd->type == N_RANGE)
                i = nd->end; /* past its {end} */
        }
    }
    return 0;
}

int kg_jsonpath_print(const kg_jsonpath *jp, const json_t *doc, FILE *out, char *error, size_t size)
{
    char why[512];
    if (run(jp, 0, jp->n, (json_t *)doc, out, why, sizeof(why)) != 0) {
        snprintf(error, size, "error executing jsonpath \"%s\": Error executing template: %s",
                 jp->source, why);
        return -1;
    }
    return 0;
}

int kg_jsonpath_values(const kg_jsonpath *jp, const json_t *doc, json_t *out, char *error,
                       size_t size)
{
    for (size_t i = 0; i < jp->n; i++) {
        if (jp->nodes[i].type == N_PATH &&
            find(&jp->nodes[i], (json_t *)doc, out, error, size) != 0)
            return -1;
    }
    return 0;
}
