/* libkreconcile-testserver — interim labelSelector reader behind ts_labels.h,
 * used until the library's shared selector parser is available; then this
 * file becomes a thin adapter over it. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

typedef enum { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOT_EXISTS } label_op;

struct label_req {
    label_op op;
    char *key;
    char **values;
    size_t nvalues;
};

struct ts_labels {
    struct label_req *reqs;
    size_t len;
};

typedef struct {
    const char *p;
    char *msg;
    size_t msgsize;
} lexer;

static void skip_ws(lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\t')
        lx->p++;
}

static bool is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static char *read_word(lexer *lx)
{
    skip_ws(lx);
    const char *start = lx->p;
    while (is_word_char(*lx->p))
        lx->p++;
    return kr_strndup(start, (size_t)(lx->p - start));
}

static int add_value(struct label_req *r, char *v)
{
    char **grown = kr_realloc(r->values, (r->nvalues + 1) * sizeof(*grown));
    if (!grown) {
        kr_free(v);
        return KR_ENOMEM;
    }
    r->values = grown;
    r->values[r->nvalues++] = v;
    return 0;
}

static int parse_set(lexer *lx, struct label_req *r)
{
    skip_ws(lx);
    if (*lx->p != '(') {
        snprintf(lx->msg, lx->msgsize, "unable to parse requirement: found '%s', expected: '('",
                 lx->p);
        return KR_EPARSE;
    }
    lx->p++;
    for (;;) {
        char *v = read_word(lx);
        if (!v || add_value(r, v) != 0)
            return KR_ENOMEM;
        skip_ws(lx);
        if (*lx->p == ',') {
            lx->p++;
            continue;
        }
        if (*lx->p == ')') {
            lx->p++;
            return 0;
        }
        snprintf(lx->msg, lx->msgsize,
                 "unable to parse requirement: found '%s', expected: ',', ')' or identifier",
                 lx->p);
        return KR_EPARSE;
    }
}

static int parse_op(lexer *lx, struct label_req *r)
{
    skip_ws(lx);
    if (*lx->p == ',' || *lx->p == '\0') {
        r->op = OP_EXISTS;
        return 0;
    }
    const char *p = lx->p;
    if (strncmp(p, "==", 2) == 0 || strncmp(p, "!=", 2) == 0 || *p == '=') {
        r->op = *p == '!' ? OP_NE : OP_EQ;
        lx->p += (*p == '=' && p[1] != '=') ? 1 : 2;
        char *v = read_word(lx);
        return (!v || add_value(r, v) != 0) ? KR_ENOMEM : 0;
    }
    char *word = read_word(lx);
    if (!word)
        return KR_ENOMEM;
    int rc = KR_EPARSE;
    if (strcmp(word, "in") == 0 || strcmp(word, "notin") == 0) {
        r->op = word[0] == 'i' ? OP_IN : OP_NOTIN;
        rc = parse_set(lx, r);
    } else {
        snprintf(lx->msg, lx->msgsize,
                 "unable to parse requirement: found '%s', expected: in, notin, =, ==, !=, gt, lt",
                 *word ? word : p);
    }
    kr_free(word);
    return rc;
}

static int parse_req(lexer *lx, struct label_req *r)
{
    skip_ws(lx);
    bool neg = *lx->p == '!';
    if (neg)
        lx->p++;
    r->key = read_word(lx);
    if (!r->key)
        return KR_ENOMEM;
    if (!*r->key) {
        snprintf(lx->msg, lx->msgsize,
                 "unable to parse requirement: found '%s', expected: identifier", lx->p);
        return KR_EPARSE;
    }
    if (neg) {
        r->op = OP_NOT_EXISTS;
        return 0;
    }
    return parse_op(lx, r);
}

int ts_labels_parse(const char *text, ts_labels_t **out, char *msg, size_t msgsize)
{
    *out = NULL;
    lexer lx = {text, msg, msgsize};
    skip_ws(&lx);
    if (!*lx.p)
        return 0;
    ts_labels_t *sel = kr_calloc(1, sizeof(*sel));
    if (!sel)
        return KR_ENOMEM;
    for (;;) {
        struct label_req *grown = kr_realloc(sel->reqs, (sel->len + 1) * sizeof(*grown));
        if (!grown) {
            ts_labels_free(sel);
            return KR_ENOMEM;
        }
        sel->reqs = grown;
        memset(&sel->reqs[sel->len], 0, sizeof(sel->reqs[0]));
        int rc = parse_req(&lx, &sel->reqs[sel->len++]);
        skip_ws(&lx);
        if (rc == 0 && *lx.p != ',' && *lx.p != '\0') {
            snprintf(msg, msgsize, "unable to parse requirement: found '%s', expected: ','", lx.p);
            rc = KR_EPARSE;
        }
        if (rc != 0) {
            ts_labels_free(sel);
            return rc;
        }
        if (!*lx.p)
            break;
        lx.p++;
    }
    *out = sel;
    return 0;
}

static bool in_values(const struct label_req *r, const char *v)
{
    for (size_t i = 0; i < r->nvalues; i++)
        if (strcmp(r->values[i], v) == 0)
            return true;
    return false;
}

static bool req_matches(const struct label_req *r, const json_t *labels)
{
    const json_t *jv = json_object_get(labels, r->key);
    const char *v = json_is_string(jv) ? json_string_value(jv) : NULL;
    switch (r->op) {
    case OP_EQ:
    case OP_IN:
        return v && in_values(r, v);
    case OP_NE:
    case OP_NOTIN:
        return !v || !in_values(r, v);
    case OP_EXISTS:
        return v != NULL;
    case OP_NOT_EXISTS:
        return v == NULL;
    }
    return false;
}

bool ts_labels_matches(const ts_labels_t *sel, const json_t *labels)
{
    if (!sel)
        return true;
    for (size_t i = 0; i < sel->len; i++)
        if (!req_matches(&sel->reqs[i], labels))
            return false;
    return true;
}

void ts_labels_free(ts_labels_t *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->len; i++) {
        for (size_t j = 0; j < sel->reqs[i].nvalues; j++)
            kr_free(sel->reqs[i].values[j]);
        kr_free(sel->reqs[i].values);
        kr_free(sel->reqs[i].key);
    }
    kr_free(sel->reqs);
    kr_free(sel);
}
