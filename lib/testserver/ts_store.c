/* libkreconcile-testserver — object storage and watch history. Each store
 * keeps its objects sorted by (namespace, name); the server keeps one ring
 * of recent events for watch resumption (wire spec §9). Callers hold ts->mu. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testserver/ts_internal.h"

static int key_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b)
{
    int c = strcmp(ns_a, ns_b);
    return c ? c : strcmp(name_a, name_b);
}

size_t ts_store_lower_bound(const ts_store *st, const char *ns, const char *name)
{
    size_t lo = 0, hi = st->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(st->items[mid].ns, st->items[mid].name, ns, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

ts_obj *ts_store_get(ts_store *st, const char *ns, const char *name)
{
    size_t i = ts_store_lower_bound(st, ns, name);
    if (i < st->len && key_cmp(st->items[i].ns, st->items[i].name, ns, name) == 0)
        return &st->items[i];
    return NULL;
}

int ts_store_put(ts_store *st, const char *ns, const char *name, json_t *obj)
{
    ts_obj *existing = ts_store_get(st, ns, name);
    if (existing) {
        json_decref(existing->obj);
        existing->obj = obj;
        return 0;
    }
    if (kr_array_grow(&st->items, &st->cap, st->len, sizeof(*st->items), 64) != 0) {
        json_decref(obj);
        return KR_ENOMEM;
    }
    ts_obj item = {kr_strdup(ns), kr_strdup(name), obj};
    if (!item.ns || !item.name) {
        kr_free(item.ns);
        kr_free(item.name);
        json_decref(obj);
        return KR_ENOMEM;
    }
    size_t i = ts_store_lower_bound(st, ns, name);
    memmove(&st->items[i + 1], &st->items[i], (st->len - i) * sizeof(ts_obj));
    st->items[i] = item;
    st->len++;
    return 0;
}

void ts_store_remove(ts_store *st, const char *ns, const char *name)
{
    ts_obj *o = ts_store_get(st, ns, name);
    if (!o)
        return;
    size_t i = (size_t)(o - st->items);
    kr_free(o->ns);
    kr_free(o->name);
    json_decref(o->obj);
    memmove(&st->items[i], &st->items[i + 1], (st->len - i - 1) * sizeof(ts_obj));
    st->len--;
}

void ts_store_free(ts_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->len; i++) {
        kr_free(st->items[i].ns);
        kr_free(st->items[i].name);
        json_decref(st->items[i].obj);
    }
    kr_free(st->items);
    kr_free(st);
}

/* ---- history ------------------------------------------------------------------- */

static void event_clear(ts_event *ev)
{
    json_decref(ev->obj);
    json_decref(ev->old);
    for (int i = 0; i < 3; i++) {
        kr_free(ev->lines[i]);
        kr_free(ev->partial_lines[i]);
    }
    memset(ev, 0, sizeof(*ev));
}

static int append_chunk(const char *buffer, size_t size, void *data)
{
    return kr_buf_append(data, buffer, size) == 0 ? 0 : -1;
}

static bool has_real(const json_t *v)
{
    const char *k;
    size_t i;
    json_t *x;
    if (json_is_real(v))
        return true;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            if (has_real(x))
                return true;
        }
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (has_real(x))
                return true;
        }
    }
    return false;
}

/* Compact JSON as jansson prints it, but a float64 as Go's encoding/json
 * writes it (0.1, 2, 1e+21, 1e-7), where jansson writes 17 digits and a
 * whole one with ".0" (0.10000000000000001, 2.0, 1e21): what a Go client
 * decodes into an int64 must be written as an integer. */
static int dump_go(kr_buf *buf, const json_t *v, int depth)
{
    if (depth > 2048)
        return KR_ENOMEM;
    const char *k;
    size_t i;
    json_t *x;
    int rc = 0;
    if (json_is_real(v)) {
        ts_json_number(buf, v);
        return buf->data ? 0 : KR_ENOMEM;
    }
    if (json_is_object(v)) {
        rc = kr_buf_append(buf, "{", 1);
        i = 0;
        json_object_foreach((json_t *)v, k, x)
        {
            json_t *key = json_string(k);
            if (rc == 0 && i++ > 0)
                rc = kr_buf_append(buf, ",", 1);
            if (rc == 0)
                rc = key ? ts_dump_into(buf, key) : KR_ENOMEM;
            json_decref(key);
            if (rc == 0)
                rc = kr_buf_append(buf, ":", 1);
            if (rc == 0)
                rc = dump_go(buf, x, depth + 1);
        }
        return rc == 0 ? kr_buf_append(buf, "}", 1) : rc;
    }
    if (json_is_array(v)) {
        rc = kr_buf_append(buf, "[", 1);
        json_array_foreach(v, i, x)
        {
            if (rc == 0 && i > 0)
                rc = kr_buf_append(buf, ",", 1);
            if (rc == 0)
                rc = dump_go(buf, x, depth + 1);
        }
        return rc == 0 ? kr_buf_append(buf, "]", 1) : rc;
    }
    return ts_dump_into(buf, v);
}

char *ts_dump_text(const json_t *obj)
{
    kr_buf buf = {0};
    if (ts_dump_into(&buf, obj) != 0 || kr_buf_append(&buf, "", 0) != 0) {
        kr_buf_free(&buf);
        return NULL;
    }
    return buf.data;
}

int ts_dump_into(kr_buf *buf, const json_t *obj)
{
    if (obj && has_real(obj))
        return dump_go(buf, obj, 0) == 0 ? 0 : KR_ENOMEM;
    if (!obj || json_dump_callback(obj, append_chunk, buf, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
        return KR_ENOMEM;
    return 0;
}

/* Each line is HEAD[type] + the object's compact JSON + "}\n". */
static const char *const line_heads[] = {
    "{\"type\":\"ADDED\",\"object\":",
    "{\"type\":\"MODIFIED\",\"object\":",
    "{\"type\":\"DELETED\",\"object\":",
};

const char *ts_event_text(const ts_event *ev, size_t *len)
{
    for (int i = 0; i < 3; i++) {
        if (ev->lines[i]) {
            size_t head = strlen(line_heads[i]);
            *len = ev->line_len[i] - head - 2;
            return ev->lines[i] + head;
        }
    }
    return NULL;
}

/* HEAD[type] + (text, or obj serialised) + "}\n" into *line: 0 or KR_ENOMEM. */
static int make_line(ts_event_type type, const char *text, size_t text_len, const json_t *obj,
                     char **line, size_t *len)
{
    kr_buf buf = {0};
    int rc = kr_buf_append_str(&buf, line_heads[type]);
    if (rc == 0)
        rc = text ? kr_buf_append(&buf, text, text_len) : ts_dump_into(&buf, obj);
    if (rc == 0)
        rc = kr_buf_append(&buf, "}\n", 2);
    if (rc != 0) {
        kr_buf_free(&buf);
        return KR_ENOMEM;
    }
    *line = buf.data;
    *len = buf.len;
    return 0;
}

const char *ts_event_line(ts_event *ev, ts_event_type type, size_t *len)
{
    if (!ev->lines[type]) {
        /* The object is serialised once per event; the other types' lines
         * reuse that text. */
        size_t text_len = 0;
        const char *text = ts_event_text(ev, &text_len);
        if (make_line(type, text, text_len, ev->obj, &ev->lines[type], &ev->line_len[type]) != 0)
            return NULL;
    }
    *len = ev->line_len[type];
    return ev->lines[type];
}

const char *ts_event_partial_line(ts_event *ev, ts_event_type type, size_t *len)
{
    if (!ev->partial_lines[type]) {
        json_t *partial = ts_partial_of(ev->obj);
        int rc = partial ? make_line(type, NULL, 0, partial, &ev->partial_lines[type],
                                     &ev->partial_len[type])
                         : KR_ENOMEM;
        json_decref(partial);
        if (rc != 0)
            return NULL;
    }
    *len = ev->partial_len[type];
    return ev->partial_lines[type];
}

ts_event *ts_record_event(kr_testserver_t *ts, const ts_resource *res, ts_event_type type,
                          json_t *obj, json_t *old)
{
    if (ts->ring_cap == 0)
        return NULL;
    if (ts->ring_len == ts->ring_cap) {
        ts_event *oldest = &ts->ring[ts->ring_head];
        ts->rv_floor = oldest->rv;
        event_clear(oldest);
        ts->ring_head = (ts->ring_head + 1) % ts->ring_cap;
        ts->ring_len--;
    }
    ts_event *ev = &ts->ring[(ts->ring_head + ts->ring_len) % ts->ring_cap];
    ev->rv = ts->rv;
    ev->store_id = res->store->id;
    ev->type = type;
    ev->obj = json_incref(obj);
    ev->old = json_incref(old);
    ts->ring_len++;
    ts_watch_fanout(ts, ev);
    return ev;
}

void ts_history_clear(kr_testserver_t *ts)
{
    for (size_t i = 0; i < ts->ring_len; i++)
        event_clear(&ts->ring[(ts->ring_head + i) % ts->ring_cap]);
    ts->ring_head = ts->ring_len = 0;
    ts->rv_floor = ts->rv;
}

void ts_history_free(kr_testserver_t *ts)
{
    ts_history_clear(ts);
    kr_free(ts->ring);
    ts->ring = NULL;
    ts->ring_cap = 0;
}

/* ---- LIST snapshots for continue tokens ---------------------------------------- */

static void snapshot_clear(ts_snapshot *s)
{
    for (size_t i = 0; i < s->len; i++)
        json_decref(s->objs[i]);
    kr_free(s->objs);
    memset(s, 0, sizeof(*s));
}

ts_snapshot *ts_snapshot_take(kr_testserver_t *ts, const ts_resource *res)
{
    if (ts->snap_cap == 0)
        return NULL;
    ts_snapshot *s = &ts->snapshots[ts->snap_next];
    snapshot_clear(s);
    ts_store *st = res->store;
    s->objs = kr_malloc((st->len ? st->len : 1) * sizeof(json_t *));
    if (!s->objs)
        return NULL;
    for (size_t i = 0; i < st->len; i++)
        s->objs[i] = json_incref(st->items[i].obj);
    s->len = st->len;
    s->id = ++ts->snap_seq;
    s->rv = ts->rv;
    s->store_id = st->id;
    ts->snap_next = (ts->snap_next + 1) % ts->snap_cap;
    return s;
}

/* An object of the store as it was, keyed. */
struct past {
    const char *ns, *name;
    json_t *obj; /* borrowed; NULL: not there then */
};

static int past_cmp(const void *a, const void *b)
{
    const struct past *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->name, y->name);
}

static const char *meta_text(const json_t *obj, const char *field)
{
    const char *v = json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
    return v ? v : "";
}

ts_snapshot *ts_snapshot_take_at(kr_testserver_t *ts, const ts_resource *res, unsigned long long rv)
{
    if (rv == ts->rv)
        return ts_snapshot_take(ts, res);
    if (ts->snap_cap == 0 || ts->ring_cap == 0 || rv < ts->rv_floor || rv > ts->rv)
        return NULL;
    const ts_store *st = res->store;
    size_t n = st->len, cap = st->len + ts->ring_len + 1;
    struct past *p = kr_malloc(cap * sizeof(*p));
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++)
        p[i] = (struct past){st->items[i].ns, st->items[i].name, st->items[i].obj};
    size_t sorted = n; /* p[0..sorted) is in key order; the rest appended */
    /* Undo, newest first, every write of this store after rv. */
    for (size_t k = ts->ring_len; k-- > 0;) {
        const ts_event *ev = &ts->ring[(ts->ring_head + k) % ts->ring_cap];
        if (ev->rv <= rv)
            break;
        if (ev->store_id != st->id)
            continue;
        struct past key = {res->namespaced ? meta_text(ev->obj, "namespace") : "",
                           meta_text(ev->obj, "name"), NULL};
        struct past *at = bsearch(&key, p, sorted, sizeof(*p), past_cmp);
        for (size_t j = sorted; !at && j < n; j++)
            if (past_cmp(&key, &p[j]) == 0)
                at = &p[j];
        if (ev->type == TS_ADDED) {
            if (at)
                at->obj = NULL;
        } else {
            /* a DELETED event's old: the state stored until the delete
             * (its object is that state at the delete's resourceVersion) */
            json_t *before = (ev->type == TS_MODIFIED || ev->old) ? ev->old : ev->obj;
            if (at) {
                at->obj = before;
            } else {
                key.obj = before;
                p[n++] = key;
            }
        }
    }
    qsort(p, n, sizeof(*p), past_cmp);
    ts_snapshot *s = &ts->snapshots[ts->snap_next];
    snapshot_clear(s);
    s->objs = kr_malloc((n ? n : 1) * sizeof(json_t *));
    if (!s->objs) {
        kr_free(p);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (p[i].obj)
            s->objs[s->len++] = json_incref(p[i].obj);
    kr_free(p);
    s->id = ++ts->snap_seq;
    s->rv = rv;
    s->store_id = st->id;
    ts->snap_next = (ts->snap_next + 1) % ts->snap_cap;
    return s;
}

ts_snapshot *ts_snapshot_find(kr_testserver_t *ts, unsigned long long id)
{
    for (size_t i = 0; i < ts->snap_cap; i++)
        if (ts->snapshots[i].id == id && ts->snapshots[i].objs)
            return &ts->snapshots[i];
    return NULL;
}

void ts_snapshots_clear(kr_testserver_t *ts)
{
    for (size_t i = 0; i < ts->snap_cap; i++)
        snapshot_clear(&ts->snapshots[i]);
}
