/* libkreconcile — label selector parser and matcher: the apiserver's lexer,
 * grammar, validation and error texts (apimachinery labels.Parse), so that
 * a selector the apiserver rejects is rejected here with the same words.
 * Parsed selectors are immutable; nothing here keeps state between calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/selector.h"
#include "selector_internal.h"

struct kr_selector_req {
    char *key;
    kr_selector_op op;
    size_t n_values;
    char **values; /* sorted, unique; n_values entries */
    long long integer; /* the value of GREATER_THAN / LESS_THAN */
};

struct kr_selector {
    size_t n;
    struct kr_selector_req *reqs;
};

/* ---- lexer ----------------------------------------------------------------
 * Tokens as in labels/selector.go. Literals are slices of the input: an
 * identifier never contains whitespace or one of the special symbols. */

enum token {
    TOK_END,
    TOK_CLOSE_PAREN,
    TOK_COMMA,
    TOK_NOT, /* "!" as a prefix: does not exist */
    TOK_DOUBLE_EQUALS,
    TOK_EQUALS,
    TOK_GREATER,
    TOK_IDENTIFIER,
    TOK_IN,
    TOK_LESS,
    TOK_NOT_EQUALS,
    TOK_NOT_IN,
    TOK_OPEN_PAREN,
};

struct lexeme {
    enum token tok;
    const char *lit;
    size_t len;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static enum token special_token(char c)
{
    switch (c) {
    case '=':
        return TOK_EQUALS;
    case '!':
        return TOK_NOT;
    case '(':
        return TOK_OPEN_PAREN;
    case ')':
        return TOK_CLOSE_PAREN;
    case ',':
        return TOK_COMMA;
    case '>':
        return TOK_GREATER;
    default:
        return TOK_LESS;
    }
}

/* Scan one token at *pos and advance past it. Every single special symbol
 * is a token and only "==" and "!=" are two long, so the apiserver's
 * longest-match loop reduces to one look at the next character. */
static struct lexeme lex(const char *s, size_t *pos)
{
    size_t p = *pos;
    while (is_space(s[p]))
        p++;
    struct lexeme lx = {TOK_END, s + p, 0};
    if (s[p] == '\0') {
        *pos = p;
        return lx;
    }
    if (is_special(s[p])) {
        if ((s[p] == '=' || s[p] == '!') && s[p + 1] == '=') {
            lx.tok = s[p] == '=' ? TOK_DOUBLE_EQUALS : TOK_NOT_EQUALS;
            lx.len = 2;
        } else {
            lx.tok = special_token(s[p]);
            lx.len = 1;
        }
        *pos = p + lx.len;
        return lx;
    }
    size_t start = p;
    while (s[p] != '\0' && !is_special(s[p]) && !is_space(s[p]))
        p++;
    lx.len = p - start;
    lx.tok = TOK_IDENTIFIER;
    if (lx.len == 2 && memcmp(lx.lit, "in", 2) == 0)
        lx.tok = TOK_IN;
    else if (lx.len == 5 && memcmp(lx.lit, "notin", 5) == 0)
        lx.tok = TOK_NOT_IN;
    *pos = p;
    return lx;
}

/* ---- parser ----------------------------------------------------------------- */

struct slice {
    const char *s;
    size_t len;
};

struct parser {
    const char *text;
    size_t pos;
    kr_msg *msg; /* the error text; empty while parsing succeeds */
};

/* In a value position "in" and "notin" are plain identifiers (the
 * apiserver's "Values" context), which is the only context it uses for
 * lookahead; only the operator position sees them as keywords. */
static struct lexeme peek(const struct parser *p)
{
    size_t pos = p->pos;
    struct lexeme lx = lex(p->text, &pos);
    if (lx.tok == TOK_IN || lx.tok == TOK_NOT_IN)
        lx.tok = TOK_IDENTIFIER;
    return lx;
}

static struct lexeme take(struct parser *p, bool keywords)
{
    struct lexeme lx = lex(p->text, &p->pos);
    if (!keywords && (lx.tok == TOK_IN || lx.tok == TOK_NOT_IN))
        lx.tok = TOK_IDENTIFIER;
    return lx;
}

static int fail_found(struct parser *p, const struct lexeme *lx, const char *expected)
{
    kr_msg_str(p->msg, "found '");
    kr_msg_append(p->msg, lx->lit, lx->len);
    kr_msg_str(p->msg, expected);
    return KR_EPARSE;
}

static void req_clear(struct kr_selector_req *r)
{
    kr_free(r->key);
    for (size_t i = 0; i < r->n_values; i++)
        kr_free(r->values[i]);
    kr_free(r->values);
    memset(r, 0, sizeof(*r));
}

static int slice_cmp(const void *a, const void *b)
{
    const struct slice *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* A growable list of value slices (sets.String in the apiserver). */
struct slices {
    struct slice *v;
    size_t n, cap;
};

static int slices_push(struct slices *l, const char *s, size_t len)
{
    if (kr_array_grow(&l->v, &l->cap, l->n, sizeof(*l->v), 4) != 0)
        return KR_ENOMEM;
    l->v[l->n].s = s;
    l->v[l->n].len = len;
    l->n++;
    return 0;
}

/* parseValues: "(" then identifiers separated by commas then ")". Empty
 * entries ("()", "(,a)", "(a,)") stand for the empty value. */
static int parse_value_list(struct parser *p, struct slices *vals)
{
    struct lexeme lx = take(p, false);
    if (lx.tok != TOK_OPEN_PAREN)
        return fail_found(p, &lx, "' expected: '('");
    lx = peek(p);
    if (lx.tok == TOK_CLOSE_PAREN) {
        take(p, false);
        return slices_push(vals, "", 0);
    }
    if (lx.tok != TOK_IDENTIFIER && lx.tok != TOK_COMMA)
        return fail_found(p, &lx, "', expected: ',', ')' or identifier");
    for (;;) {
        struct lexeme cur = take(p, false);
        if (cur.tok == TOK_IDENTIFIER) {
            int rc = slices_push(vals, cur.lit, cur.len);
            if (rc)
                return rc;
            struct lexeme next = peek(p);
            if (next.tok == TOK_CLOSE_PAREN)
                break;
            if (next.tok != TOK_COMMA)
                return fail_found(p, &next, "', expected: ',' or ')'");
        } else if (cur.tok == TOK_COMMA) {
            int rc = 0;
            if (vals->n == 0)
                rc = slices_push(vals, "", 0);
            struct lexeme next = peek(p);
            if (!rc && next.tok == TOK_CLOSE_PAREN) {
                rc = slices_push(vals, "", 0);
                if (!rc)
                    break;
            } else if (!rc && next.tok == TOK_COMMA) {
                /* the next comma is left for the loop: "(a,,)" is a and ""
                 * (1.32 took it here and refused an even run before ")";
                 * fixed in 1.35) */
                rc = slices_push(vals, "", 0);
            }
            if (rc)
                return rc;
        } else {
            return fail_found(p, &cur, "', expected: ',', or identifier");
        }
    }
    take(p, false); /* the ")" seen by the loop */
    return 0;
}

/* NewRequirement's checks after parsing: operator arity, integers for
 * gt/lt, label-value syntax. Errors are gathered like field.ErrorList and
 * printed like its aggregate: one error alone, several as "[a, b]". */
static int check_values(struct parser *p, const struct kr_selector_req *r)
{
    kr_msg errs[4];
    size_t n_errs = 0;
    if (r->op == KR_SELECTOR_GREATER_THAN || r->op == KR_SELECTOR_LESS_THAN) {
        long long ignored;
        if (!kr_parse_int64(r->values[0], strlen(r->values[0]), &ignored)) {
            kr_msg *e = &errs[n_errs++];
            e->len = 0;
            e->text[0] = '\0';
            kr_msg_str(e, "values[0]: Invalid value: ");
            kr_msg_quote(e, r->values[0], strlen(r->values[0]));
            kr_msg_str(e, ": for 'Gt', 'Lt' operators, the value must be an integer");
        }
    }
    for (size_t i = 0; i < r->n_values; i++) {
        size_t len = strlen(r->values[i]);
        if (kr_label_value_valid(r->values[i], len))
            continue;
        if (n_errs == KR_ARRAY_LEN(errs))
            continue;
        kr_msg *e = &errs[n_errs++];
        e->len = 0;
        e->text[0] = '\0';
        char idx[32];
        snprintf(idx, sizeof(idx), "values[%zu][", i);
        kr_msg_str(e, idx);
        kr_msg_str(e, r->key);
        kr_msg_str(e, "]: Invalid value: ");
        kr_msg_quote(e, r->values[i], len);
        kr_msg_str(e, ": ");
        kr_label_value_errors(r->values[i], len, e);
    }
    if (n_errs == 0)
        return 0;
    kr_msg_str(p->msg, n_errs > 1 ? "[" : "");
    for (size_t i = 0; i < n_errs; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(errs[k].text, errs[i].text) == 0;
        if (seen)
            continue;
        if (i > 0)
            kr_msg_str(p->msg, ", ");
        kr_msg_str(p->msg, errs[i].text);
    }
    kr_msg_str(p->msg, n_errs > 1 ? "]" : "");
    return KR_EPARSE;
}

/* Copy the sorted, de-duplicated values into the requirement. */
static int store_values(struct kr_selector_req *r, struct slices *vals)
{
    qsort(vals->v, vals->n, sizeof(*vals->v), slice_cmp);
    size_t unique = 0;
    for (size_t i = 0; i < vals->n; i++)
        if (unique == 0 || slice_cmp(&vals->v[unique - 1], &vals->v[i]) != 0)
            vals->v[unique++] = vals->v[i];
    r->values = kr_calloc(unique, sizeof(*r->values));
    if (!r->values)
        return KR_ENOMEM;
    for (size_t i = 0; i < unique; i++) {
        r->values[i] = kr_strndup(vals->v[i].s, vals->v[i].len);
        if (!r->values[i])
            return KR_ENOMEM;
        r->n_values++;
    }
    return 0;
}

static int parse_requirement(struct parser *p, struct kr_selector_req *r)
{
    bool negated = false;
    struct lexeme key = take(p, false);
    if (key.tok == TOK_NOT) {
        negated = true;
        key = take(p, false);
    }
    if (key.tok != TOK_IDENTIFIER)
        return fail_found(p, &key, "', expected: identifier");
    kr_label_key_errors(key.lit, key.len, p->msg);
    if (p->msg->len > 0) {
        kr_msg field = {.len = 0};
        field.text[0] = '\0';
        kr_msg_str(&field, "<nil>: Invalid value: ");
        kr_msg_quote(&field, key.lit, key.len);
        kr_msg_str(&field, ": ");
        kr_msg_str(&field, p->msg->text);
        *p->msg = field;
        return KR_EPARSE;
    }
    r->key = kr_strndup(key.lit, key.len);
    if (!r->key)
        return KR_ENOMEM;
    struct lexeme next = peek(p);
    if (negated) {
        r->op = KR_SELECTOR_DOES_NOT_EXIST;
        return 0;
    }
    if (next.tok == TOK_END || next.tok == TOK_COMMA) {
        r->op = KR_SELECTOR_EXISTS;
        return 0;
    }
    struct lexeme op = take(p, true);
    switch (op.tok) {
    case TOK_IN:
        r->op = KR_SELECTOR_IN;
        break;
    case TOK_NOT_IN:
        r->op = KR_SELECTOR_NOT_IN;
        break;
    case TOK_EQUALS:
        r->op = KR_SELECTOR_EQUALS;
        break;
    case TOK_DOUBLE_EQUALS:
        r->op = KR_SELECTOR_DOUBLE_EQUALS;
        break;
    case TOK_NOT_EQUALS:
        r->op = KR_SELECTOR_NOT_EQUALS;
        break;
    case TOK_GREATER:
        r->op = KR_SELECTOR_GREATER_THAN;
        break;
    case TOK_LESS:
        r->op = KR_SELECTOR_LESS_THAN;
        break;
    default:
        return fail_found(p, &op, "', expected: in, notin, =, ==, !=, gt, lt");
    }
    struct slices vals = {0};
    int rc;
    if (r->op == KR_SELECTOR_IN || r->op == KR_SELECTOR_NOT_IN) {
        rc = parse_value_list(p, &vals);
    } else {
        /* parseExactValue: nothing before "," or the end is the empty value */
        struct lexeme v = peek(p);
        if (v.tok == TOK_END || v.tok == TOK_COMMA) {
            rc = slices_push(&vals, "", 0);
        } else {
            v = take(p, false);
            rc = v.tok == TOK_IDENTIFIER ? slices_push(&vals, v.lit, v.len)
                                         : fail_found(p, &v, "', expected: identifier");
        }
    }
    if (rc == 0)
        rc = store_values(r, &vals);
    kr_free(vals.v);
    if (rc)
        return rc;
    rc = check_values(p, r);
    if (rc == 0 && (r->op == KR_SELECTOR_GREATER_THAN || r->op == KR_SELECTOR_LESS_THAN))
        kr_parse_int64(r->values[0], strlen(r->values[0]), &r->integer);
    return rc;
}

static int push_req(struct kr_selector *sel, size_t *cap, struct kr_selector_req *r)
{
    if (kr_array_grow(&sel->reqs, cap, sel->n, sizeof(*sel->reqs), 4) != 0)
        return KR_ENOMEM;
    sel->reqs[sel->n++] = *r;
    memset(r, 0, sizeof(*r));
    return 0;
}

/* The grammar of Parser.parse(): requirement ("," requirement)* end. */
static int parse_all(struct parser *p, struct kr_selector *sel)
{
    size_t cap = 0;
    for (;;) {
        struct lexeme lx = peek(p);
        if (lx.tok == TOK_END)
            return 0;
        if (lx.tok != TOK_IDENTIFIER && lx.tok != TOK_NOT)
            return fail_found(p, &lx, "', expected: !, identifier, or 'end of string'");
        struct kr_selector_req r = {0};
        int rc = parse_requirement(p, &r);
        if (rc == 0)
            rc = push_req(sel, &cap, &r);
        if (rc) {
            req_clear(&r);
            if (rc == KR_EPARSE) {
                kr_msg wrapped = {.len = 0};
                wrapped.text[0] = '\0';
                kr_msg_str(&wrapped, "unable to parse requirement: ");
                kr_msg_str(&wrapped, p->msg->text);
                *p->msg = wrapped;
            }
            return rc;
        }
        struct lexeme sep = take(p, false);
        if (sep.tok == TOK_END)
            return 0;
        if (sep.tok != TOK_COMMA)
            return fail_found(p, &sep, "', expected: ',' or 'end of string'");
        lx = peek(p);
        if (lx.tok != TOK_IDENTIFIER && lx.tok != TOK_NOT)
            return fail_found(p, &lx, "', expected: identifier after ','");
    }
}

/* Stable sort by key (insertion sort: selectors are short, and equal keys
 * keep their order, like the apiserver's sort of a few requirements). */
static void sort_by_key(struct kr_selector *sel)
{
    for (size_t i = 1; i < sel->n; i++) {
        struct kr_selector_req r = sel->reqs[i];
        size_t k = i;
        while (k > 0 && strcmp(sel->reqs[k - 1].key, r.key) > 0) {
            sel->reqs[k] = sel->reqs[k - 1];
            k--;
        }
        sel->reqs[k] = r;
    }
}

void kr_selector_free(kr_selector_t *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++)
        req_clear(&sel->reqs[i]);
    kr_free(sel->reqs);
    kr_free(sel);
}

int kr_selector_parse(const char *text, kr_selector_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "kr_selector_parse: out is NULL");
    *out = NULL;
    kr_selector_t *sel = kr_calloc(1, sizeof(*sel));
    if (!sel)
        return kr_error_set(err, KR_ENOMEM, "out of memory parsing a label selector");
    kr_msg msg = {.len = 0};
    msg.text[0] = '\0';
    struct parser p = {.text = text ? text : "", .pos = 0, .msg = &msg};
    int rc = parse_all(&p, sel);
    if (rc) {
        kr_selector_free(sel);
        if (rc == KR_ENOMEM)
            return kr_error_set(err, KR_ENOMEM, "out of memory parsing a label selector");
        return kr_error_set(err, rc, "%s", msg.text);
    }
    sort_by_key(sel);
    *out = sel;
    return 0;
}

/* ---- matching --------------------------------------------------------------- */

static bool has_value(const struct kr_selector_req *r, const char *v)
{
    size_t lo = 0, hi = r->n_values;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->values[mid], v);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool req_matches(const struct kr_selector_req *r, const json_t *labels)
{
    const json_t *jv = labels ? json_object_get(labels, r->key) : NULL;
    const char *v = json_is_string(jv) ? json_string_value(jv) : NULL;
    switch (r->op) {
    case KR_SELECTOR_EQUALS:
    case KR_SELECTOR_DOUBLE_EQUALS:
    case KR_SELECTOR_IN:
        return v && has_value(r, v);
    case KR_SELECTOR_NOT_EQUALS:
    case KR_SELECTOR_NOT_IN:
        return !v || !has_value(r, v);
    case KR_SELECTOR_EXISTS:
        return jv != NULL;
    case KR_SELECTOR_DOES_NOT_EXIST:
        return jv == NULL;
    case KR_SELECTOR_GREATER_THAN:
    case KR_SELECTOR_LESS_THAN: {
        long long have;
        if (!v || !kr_parse_int64(v, strlen(v), &have))
            return false;
        return r->op == KR_SELECTOR_GREATER_THAN ? have > r->integer : have < r->integer;
    }
    }
    return false;
}

bool kr_selector_matches(const kr_selector_t *sel, const json_t *labels)
{
    if (!sel)
        return true;
    if (!json_is_object(labels))
        labels = NULL;
    for (size_t i = 0; i < sel->n; i++)
        if (!req_matches(&sel->reqs[i], labels))
            return false;
    return true;
}

bool kr_selector_matches_object(const kr_selector_t *sel, const json_t *obj)
{
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    return kr_selector_matches(sel, labels);
}

bool kr_selector_is_empty(const kr_selector_t *sel)
{
    return !sel || sel->n == 0;
}

size_t kr_selector_count(const kr_selector_t *sel)
{
    return sel ? sel->n : 0;
}

int kr_selector_requirement(const kr_selector_t *sel, size_t i, const char **key,
                            kr_selector_op *op, const char *const **values, size_t *n_values)
{
    if (!sel || i >= sel->n)
        return KR_EINVAL;
    const struct kr_selector_req *r = &sel->reqs[i];
    if (key)
        *key = r->key;
    if (op)
        *op = r->op;
    if (values)
        *values = (const char *const *)r->values;
    if (n_values)
        *n_values = r->n_values;
    return 0;
}

const char *kr_selector_op_name(kr_selector_op op)
{
    switch (op) {
    case KR_SELECTOR_EQUALS:
        return "=";
    case KR_SELECTOR_DOUBLE_EQUALS:
        return "==";
    case KR_SELECTOR_NOT_EQUALS:
        return "!=";
    case KR_SELECTOR_IN:
        return "in";
    case KR_SELECTOR_NOT_IN:
        return "notin";
    case KR_SELECTOR_EXISTS:
        return "exists";
    case KR_SELECTOR_DOES_NOT_EXIST:
        return "!";
    case KR_SELECTOR_GREATER_THAN:
        return "gt";
    case KR_SELECTOR_LESS_THAN:
        return "lt";
    }
    return "unknown";
}

/* Requirement.String() of the apiserver. */
static int req_to_buf(const struct kr_selector_req *r, kr_buf *b)
{
    static const char *const infix[] = {
        [KR_SELECTOR_EQUALS] = "=",        [KR_SELECTOR_DOUBLE_EQUALS] = "==",
        [KR_SELECTOR_NOT_EQUALS] = "!=",   [KR_SELECTOR_IN] = " in (",
        [KR_SELECTOR_NOT_IN] = " notin (", [KR_SELECTOR_EXISTS] = "",
        [KR_SELECTOR_DOES_NOT_EXIST] = "", [KR_SELECTOR_GREATER_THAN] = ">",
        [KR_SELECTOR_LESS_THAN] = "<",
    };
    int rc = 0;
    if (r->op == KR_SELECTOR_DOES_NOT_EXIST)
        rc = kr_buf_append_str(b, "!");
    if (!rc)
        rc = kr_buf_append_str(b, r->key);
    if (!rc)
        rc = kr_buf_append_str(b, infix[r->op]);
    for (size_t i = 0; !rc && i < r->n_values; i++) {
        if (i > 0)
            rc = kr_buf_append_str(b, ",");
        if (!rc)
            rc = kr_buf_append_str(b, r->values[i]);
    }
    if (!rc && (r->op == KR_SELECTOR_IN || r->op == KR_SELECTOR_NOT_IN))
        rc = kr_buf_append_str(b, ")");
    return rc;
}

char *kr_selector_join(size_t n, kr_selector_term_cb term, const void *sel)
{
    kr_buf b = {0};
    int rc = kr_buf_append_str(&b, "");
    for (size_t i = 0; !rc && i < n; i++) {
        if (i > 0)
            rc = kr_buf_append_str(&b, ",");
        if (!rc)
            rc = term(&b, i, sel);
    }
    if (rc) {
        kr_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int requirement_term(kr_buf *b, size_t i, const void *sel)
{
    return req_to_buf(&((const kr_selector_t *)sel)->reqs[i], b);
}

char *kr_selector_to_string(const kr_selector_t *sel)
{
    return kr_selector_join(sel ? sel->n : 0, requirement_term, sel);
}
