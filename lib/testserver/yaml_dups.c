/* libkreconcile-testserver — a YAML body's keys twice, as kube-apiserver's
 * strict decoding meets them: sigs.k8s.io/yaml's YAMLToJSONStrict, that
 * is go-yaml v2's UnmarshalStrict into an interface{}, fails with
 * `yaml: unmarshal errors:` and one `line N: key "a" already set in map`
 * per key a mapping has again (N the line of that key's value, a key
 * compared as go-yaml resolves it: `1` and `"1"` differ, `a` and `'a'` do
 * not; the errors inside a value before its own). The library's YAML
 * reader keeps the last value and knows no lines, so the body is read
 * again here, event by event, with libyaml (go-yaml v2 is its port: the
 * same lines). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "testserver/ts_internal.h"

/* One mapping or sequence open around the current event. */
typedef struct yd_frame {
    bool mapping;
    bool want_value; /* a mapping: its key read, its value next */
    bool skip; /* the current key is no scalar, or a merge key: not compared */
    char *key; /* the current key, resolved: a type letter then its text */
    char *shown; /* the current key as Go's %#v prints it */
    size_t line; /* where the current value starts (0-based) */
    json_t *seen; /* {key: true} */
} yd_frame;

typedef struct yd_state {
    yd_frame *frames;
    size_t n, cap;
    kr_buf errors;
    size_t count;
    bool oom;
} yd_state;

static bool word_in(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

/* A plain key as go-yaml v2 resolves it into an interface{} (null, bool,
 * decimal int; anything else a string here), and its %#v. */
static void resolve_key(const yaml_event_t *ev, kr_buf *key, kr_buf *shown)
{
    const char *s = (const char *)ev->data.scalar.value;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                        "True", "TRUE", "on",  "On",  "ON",  NULL};
    static const char *const falses[] = {"n",     "N",     "no",  "No",  "NO",  "false",
                                         "False", "FALSE", "off", "Off", "OFF", NULL};
    if (plain && word_in(s, nulls)) {
        kr_buf_append_str(key, "n");
        kr_buf_append_str(shown, "<nil>");
        return;
    }
    if (plain && (word_in(s, trues) || word_in(s, falses))) {
        const char *b = word_in(s, trues) ? "true" : "false";
        kr_buf_printf(key, "b%s", b);
        kr_buf_append_str(shown, b);
        return;
    }
    if (plain) {
        const char *p = s + (*s == '-' || *s == '+');
        size_t digits = strspn(p, "0123456789");
        if (digits > 0 && digits < 19 && p[digits] == '\0' && (digits == 1 || *p != '0')) {
            long long v = strtoll(s, NULL, 10);
            kr_buf_printf(key, "i%lld", v);
            kr_buf_printf(shown, "%lld", v);
            return;
        }
    }
    kr_buf_printf(key, "s%s", s);
    ts_go_quote(shown, s);
}

static yd_frame *top(yd_state *st)
{
    return st->n ? &st->frames[st->n - 1] : NULL;
}

static void clear_key(yd_frame *f)
{
    kr_free(f->key);
    kr_free(f->shown);
    f->key = f->shown = NULL;
    f->skip = false;
}

/* A node begins at `line`: the value of a mapping waiting for one. */
static void node_starts(yd_state *st, size_t line)
{
    yd_frame *f = top(st);
    if (f && f->mapping && f->want_value)
        f->line = line;
}

/* A node ended: a mapping's key (then its value is next) or its value
 * (then the key is compared with those before it). */
static void node_ends(yd_state *st)
{
    yd_frame *f = top(st);
    if (!f || !f->mapping)
        return;
    if (!f->want_value) {
        f->want_value = true; /* a key that is no scalar: go-yaml refuses it elsewhere */
        f->skip = true;
        return;
    }
    f->want_value = false;
    if (!f->skip && f->key) {
        if (json_object_get(f->seen, f->key)) {
            kr_buf_printf(&st->errors, "\n  line %zu: key %s already set in map", f->line + 1,
                          f->shown);
            st->count++;
        } else if (json_object_set_new(f->seen, f->key, json_true()) != 0) {
            st->oom = true;
        }
    }
    clear_key(f);
}

static void push(yd_state *st, bool mapping)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        yd_frame *fr = kr_realloc(st->frames, cap * sizeof(*fr));
        if (!fr) {
            st->oom = true;
            return;
        }
        st->frames = fr;
        st->cap = cap;
    }
    st->frames[st->n++] = (yd_frame){.mapping = mapping, .seen = mapping ? json_object() : NULL};
    if (mapping && !st->frames[st->n - 1].seen)
        st->oom = true;
}

static void pop(yd_state *st)
{
    yd_frame *f = top(st);
    if (!f)
        return;
    clear_key(f);
    json_decref(f->seen);
    st->n--;
}

static void on_scalar(yd_state *st, const yaml_event_t *ev)
{
    yd_frame *f = top(st);
    if (f && f->mapping && !f->want_value) {
        kr_buf key = {0}, shown = {0};
        if (ev->type == YAML_SCALAR_EVENT) {
            resolve_key(ev, &key, &shown);
            f->skip = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                      strcmp((const char *)ev->data.scalar.value, "<<") == 0;
        } else {
            f->skip = true; /* an alias as a key */
        }
        if (!f->skip && (!key.data || !shown.data))
            st->oom = true;
        f->key = key.data;
        f->shown = shown.data;
        f->want_value = true;
        return;
    }
    node_starts(st, ev->start_mark.line);
    node_ends(st);
}

int ts_yaml_duplicates(const char *text, size_t len, char **out)
{
    *out = NULL;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return KR_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yd_state st = {0};
    bool done = false;
    while (!done && !st.oom) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev))
            break; /* the body's reader reports it */
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            node_starts(&st, ev.start_mark.line);
            push(&st, ev.type == YAML_MAPPING_START_EVENT);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            pop(&st);
            node_ends(&st);
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            on_scalar(&st, &ev);
            break;
        case YAML_DOCUMENT_END_EVENT: /* go-yaml reads the first document */
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    while (st.n)
        pop(&st);
    kr_free(st.frames);
    yaml_parser_delete(&parser);
    if (!st.oom && st.count > 0) {
        *out = kr_asprintf("yaml: unmarshal errors:%s", st.errors.data);
        st.oom = !*out;
    }
    kr_buf_free(&st.errors);
    return st.oom ? KR_ENOMEM : 0;
}
