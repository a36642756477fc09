/* libkreconcile — field selector parser and matcher, with the apiserver's
 * splitting, escaping and error texts (apimachinery fields.ParseSelector).
 * Which fields a resource supports is the caller's decision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/selector.h"
#include "selector_internal.h"

struct kr_field_term {
    char *field;
    kr_field_op op;
    char *value; /* unescaped */
    char *canonical; /* field=escaped or field!=escaped: sort key and text */
};

struct kr_field_selector {
    size_t n;
    struct kr_field_term *terms;
};

void kr_field_selector_free(kr_field_selector_t *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++) {
        kr_free(sel->terms[i].field);
        kr_free(sel->terms[i].value);
        kr_free(sel->terms[i].canonical);
    }
    kr_free(sel->terms);
    kr_free(sel);
}

/* Split at unescaped commas (a backslash protects the next byte). Returns
 * the number of terms written into `starts`/`lens` when non-NULL. */
static size_t split_terms(const char *s, size_t len, size_t *starts, size_t *lens)
{
    size_t n = 0, start = 0;
    bool escaped = false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && escaped) {
            escaped = false;
        } else if (i < len && s[i] == '\\') {
            escaped = true;
        } else if (i == len || s[i] == ',') {
            if (starts) {
                starts[n] = start;
                lens[n] = i - start;
            }
            n++;
            start = i + 1;
        }
    }
    return n;
}

/* UnescapeValue: "\\\\", "\\," and "\\=" only; a bare ',' or '=' is an error. */
static int unescape_value(const char *s, size_t len, char **out, kr_msg *msg)
{
    char *v = kr_malloc(len + 1);
    if (!v)
        return KR_ENOMEM;
    size_t n = 0;
    bool escaped = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (escaped) {
            if (c != '\\' && c != ',' && c != '=') {
                kr_msg_str(msg, "invalid field selector: invalid escape sequence: \\");
                kr_msg_append(msg, s + i, 1);
                kr_free(v);
                return KR_EPARSE;
            }
            v[n++] = c;
            escaped = false;
        } else if (c == '\\') {
            escaped = true;
        } else if (c == ',' || c == '=') {
            /* The apiserver formats the rune with %v: its code point. */
            char code[16];
            snprintf(code, sizeof(code), "%d", c);
            kr_msg_str(msg, "invalid field selector: unescaped character in value: ");
            kr_msg_str(msg, code);
            kr_free(v);
            return KR_EPARSE;
        } else {
            v[n++] = c;
        }
    }
    if (escaped) {
        kr_msg_str(msg, "invalid field selector: invalid escape sequence: \\");
        kr_free(v);
        return KR_EPARSE;
    }
    v[n] = '\0';
    *out = v;
    return 0;
}

static char *escape_canonical(const char *field, kr_field_op op, const char *value)
{
    kr_buf b = {0};
    int rc = kr_buf_append_str(&b, field);
    if (!rc)
        rc = kr_buf_append_str(&b, op == KR_FIELD_NOT_EQUALS ? "!=" : "=");
    for (const char *p = value; !rc && *p; p++) {
        if (*p == '\\' || *p == ',' || *p == '=')
            rc = kr_buf_append(&b, "\\", 1);
        if (!rc)
            rc = kr_buf_append(&b, p, 1);
    }
    if (rc) {
        kr_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static void fail_understand(kr_msg *msg, const char *text, const char *part, size_t part_len)
{
    kr_msg_str(msg, "invalid selector: '");
    kr_msg_str(msg, text);
    kr_msg_str(msg, "'; can't understand '");
    kr_msg_append(msg, part, part_len);
    kr_msg_str(msg, "'");
}

/* splitTerm: the first "!=", "==" or "=" (in that preference at each
 * position) splits field and value; fields cannot be escaped. */
static int parse_term(const char *text, const char *part, size_t len, struct kr_field_term *t,
                      kr_msg *msg)
{
    size_t at = len, op_len = 0;
    for (size_t i = 0; i < len && at == len; i++) {
        if (part[i] == '!' && i + 1 < len && part[i + 1] == '=') {
            at = i;
            op_len = 2;
            t->op = KR_FIELD_NOT_EQUALS;
        } else if (part[i] == '=') {
            at = i;
            op_len = (i + 1 < len && part[i + 1] == '=') ? 2 : 1;
            t->op = KR_FIELD_EQUALS;
        }
    }
    if (at == len) {
        fail_understand(msg, text, part, len);
        return KR_EPARSE;
    }
    int rc = unescape_value(part + at + op_len, len - at - op_len, &t->value, msg);
    if (rc)
        return rc;
    t->field = kr_strndup(part, at);
    if (!t->field)
        return KR_ENOMEM;
    t->canonical = escape_canonical(t->field, t->op, t->value);
    return t->canonical ? 0 : KR_ENOMEM;
}

static int term_cmp(const void *a, const void *b)
{
    const struct kr_field_term *x = a, *y = b;
    return strcmp(x->canonical, y->canonical);
}

int kr_field_selector_parse(const char *text, kr_field_selector_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "kr_field_selector_parse: out is NULL");
    *out = NULL;
    if (!text)
        text = "";
    size_t len = strlen(text);
    size_t n = split_terms(text, len, NULL, NULL);
    kr_field_selector_t *sel = kr_calloc(1, sizeof(*sel));
    size_t *starts = kr_calloc(n, sizeof(*starts));
    size_t *lens = kr_calloc(n, sizeof(*lens));
    if (sel)
        sel->terms = kr_calloc(n, sizeof(*sel->terms));
    kr_msg msg = {.len = 0};
    msg.text[0] = '\0';
    int rc = (!sel || !sel->terms || !starts || !lens) ? KR_ENOMEM : 0;
    if (!rc)
        split_terms(text, len, starts, lens);
    for (size_t i = 0; !rc && i < n; i++) {
        if (lens[i] == 0)
            continue; /* "a=b,,c=d" and "," are accepted, as upstream */
        rc = parse_term(text, text + starts[i], lens[i], &sel->terms[sel->n], &msg);
        sel->n++; /* counted even on failure so that free releases partial terms */
    }
    kr_free(starts);
    kr_free(lens);
    if (rc) {
        kr_field_selector_free(sel);
        if (rc == KR_ENOMEM)
            return kr_error_set(err, KR_ENOMEM, "out of memory parsing a field selector");
        return kr_error_set(err, rc, "%s", msg.text);
    }
    qsort(sel->terms, sel->n, sizeof(*sel->terms), term_cmp);
    *out = sel;
    return 0;
}

size_t kr_field_selector_count(const kr_field_selector_t *sel)
{
    return sel ? sel->n : 0;
}

int kr_field_selector_requirement(const kr_field_selector_t *sel, size_t i, const char **field,
                                  kr_field_op *op, const char **value)
{
    if (!sel || i >= sel->n)
        return KR_EINVAL;
    if (field)
        *field = sel->terms[i].field;
    if (op)
        *op = sel->terms[i].op;
    if (value)
        *value = sel->terms[i].value;
    return 0;
}

const char *kr_field_selector_metadata_value(const json_t *obj, const char *field, void *user)
{
    (void)user;
    const json_t *meta = json_object_get(obj, "metadata");
    if (strcmp(field, "metadata.name") == 0)
        return json_string_value(json_object_get(meta, "name"));
    if (strcmp(field, "metadata.namespace") == 0)
        return json_string_value(json_object_get(meta, "namespace"));
    return NULL;
}

bool kr_field_selector_matches(const kr_field_selector_t *sel, const json_t *obj,
                               kr_field_value_cb value_fn, void *user)
{
    if (!value_fn)
        value_fn = kr_field_selector_metadata_value;
    for (size_t i = 0; sel && i < sel->n; i++) {
        const char *have = value_fn(obj, sel->terms[i].field, user);
        bool equal = strcmp(have ? have : "", sel->terms[i].value) == 0;
        if (equal != (sel->terms[i].op == KR_FIELD_EQUALS))
            return false;
    }
    return true;
}

int kr_field_selector_check_fields(const kr_field_selector_t *sel, const char *const *allowed,
                                   size_t n_allowed, kr_error_t *err)
{
    for (size_t i = 0; sel && i < sel->n; i++) {
        bool known = false;
        for (size_t k = 0; k < n_allowed && !known; k++)
            known = strcmp(allowed[k], sel->terms[i].field) == 0;
        if (known)
            continue;
        kr_msg msg = {.len = 0};
        msg.text[0] = '\0';
        kr_msg_quote(&msg, sel->terms[i].field, strlen(sel->terms[i].field));
        kr_msg_str(&msg, " is not a known field selector: only ");
        for (size_t k = 0; k < n_allowed; k++) {
            if (k > 0)
                kr_msg_str(&msg, ", ");
            kr_msg_quote(&msg, allowed[k], strlen(allowed[k]));
        }
        return kr_error_set(err, KR_EINVAL, "%s", msg.text);
    }
    return 0;
}

static int field_term(kr_buf *b, size_t i, const void *sel)
{
    return kr_buf_append_str(b, ((const kr_field_selector_t *)sel)->terms[i].canonical);
}

char *kr_field_selector_to_string(const kr_field_selector_t *sel)
{
    return kr_selector_join(sel ? sel->n : 0, field_term, sel);
}
