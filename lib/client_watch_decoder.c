/* libkreconcile — the watch stream decoder: finds where each JSON event of
 * a watch response ends (tracking nesting and strings, so events may be
 * split anywhere across chunks, or share one) and decodes it. Bad input
 * ends the stream with an error; it must never crash or read out of bounds. */
#include <string.h>

#include "client_internal.h"

void kr_watch_decoder_init(kr_watch_decoder *d, size_t max_event_bytes)
{
    memset(d, 0, sizeof(*d));
    d->max_event = max_event_bytes ? max_event_bytes : (size_t)16 << 20;
}

void kr_watch_decoder_free(kr_watch_decoder *d)
{
    kr_buf_free(&d->pending);
    d->started = false;
}

static int fail(kr_watch_decoder *d, kr_error_t *err, int code, const char *fmt, const char *arg)
{
    d->failed = true;
    kr_buf_free(&d->pending);
    return kr_error_set(err, code, fmt, arg);
}

static kr_watch_event_type type_from_name(const char *name)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    for (size_t i = 0; i < KR_ARRAY_LEN(names); i++)
        if (strcmp(name, names[i]) == 0)
            return (kr_watch_event_type)(i + 1);
    return 0;
}

/* Check a decoded event and hand its object on; `event` is stolen. */
static int deliver(kr_watch_decoder *d, json_t *event, kr_watch_decoder_cb fn, void *user,
                   kr_error_t *err)
{
    int rc = 0;
    const char *type_name = json_string_value(json_object_get(event, "type"));
    json_t *object = json_object_get(event, "object");
    kr_watch_event_type type = type_name ? type_from_name(type_name) : 0;
    if (!type_name)
        rc = fail(d, err, KR_EPARSE, "watch stream: event without a \"type\"%s", "");
    else if (!type)
        rc = fail(d, err, KR_EPARSE, "watch stream: unknown event type \"%s\"", type_name);
    else if (!json_is_object(object))
        rc = fail(d, err, KR_EPARSE, "watch stream: %s event without an object", type_name);
    else
        rc = fn(type, object, user);
    json_decref(event);
    return rc;
}

/* The event's text less the object's metadata.managedFields, into `buf`
 * (of `cap` bytes) or an allocation (*owned); NULL when nothing is cut. */
static const char *without_managed_fields(const char *text, size_t *len, char *buf, size_t cap,
                                          char **owned)
{
    static const char *const path[] = {"object", "metadata", "managedFields"};
    size_t from = 0, to = 0;
    *owned = NULL;
    if (!kr_json_cut_member(text, *len, path, KR_ARRAY_LEN(path), &from, &to))
        return NULL;
    size_t n = *len - (to - from);
    char *out = n <= cap ? buf : (*owned = kr_malloc(n));
    if (!out)
        return NULL;
    memcpy(out, text, from);
    memcpy(out + from, text + to, *len - to);
    *len = n;
    return out;
}

static int dispatch(kr_watch_decoder *d, const char *text, size_t len, kr_watch_decoder_cb fn,
                    void *user, kr_error_t *err)
{
    json_error_t jerr;
    char buf[4096], *owned = NULL;
    const char *cut = d->drop_managed_fields
                          ? without_managed_fields(text, &len, buf, sizeof(buf), &owned)
                          : NULL;
    json_t *event = kr_json_loadb_server(cut ? cut : text, len, 0, &jerr);
    kr_free(owned);
    if (!event)
        return fail(d, err, KR_EPARSE, "watch stream: malformed event: %s", jerr.text);
    return deliver(d, event, fn, user, err);
}

/* The common case, a chunk of whole events (the apiserver ends each with a
 * newline): parse the event in place, letting jansson find where it ends,
 * rather than scanning it first. Returns 1 (*used set: the bytes of the
 * event) when it was delivered or failed (then *rc says so), 0 when the
 * chunk does not hold the whole event, or it is malformed, for the
 * scanning path to take over (and report it as ever). */
static int try_whole(kr_watch_decoder *d, const char *data, size_t len, size_t *used,
                     kr_watch_decoder_cb fn, void *user, kr_error_t *err, int *rc)
{
    if (d->drop_managed_fields)
        return 0; /* dispatch cuts the event, once the scan has found its end */
    json_error_t jerr;
    json_t *event = json_loadb(data, len, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!event)
        return 0;
    *used = (size_t)jerr.position;
    if (*used > d->max_event) {
        json_decref(event);
        return 0; /* the scanning path reports it */
    }
    *rc = deliver(d, event, fn, user, err);
    return 1;
}

int kr_watch_decoder_feed(kr_watch_decoder *d, const char *data, size_t len, kr_watch_decoder_cb fn,
                          void *user, kr_error_t *err)
{
    if (d->failed)
        return kr_error_set(err, KR_EPARSE, "watch stream: decoding already failed");
    size_t i = 0;
    while (i < len) {
        if (!d->started) {
            char c = data[i];
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                i++;
                continue;
            }
            if (c != '{')
                return fail(d, err, KR_EPARSE, "watch stream: expected a JSON object, found \"%s\"",
                            c == '"' ? "\\\"" : (char[]){c, '\0'});
            size_t used = 0;
            int rc = 0;
            if (data[len - 1] == '\n' &&
                try_whole(d, data + i, len - i, &used, fn, user, err, &rc)) {
                if (rc != 0)
                    return rc;
                i += used;
                continue;
            }
            d->started = true;
            d->depth = 0;
            d->in_string = d->escape = false;
        }
        size_t j = i;
        bool done = false;
        for (; j < len; j++) {
            char c = data[j];
            if (d->in_string) {
                if (d->escape)
                    d->escape = false;
                else if (c == '\\')
                    d->escape = true;
                else if (c == '"')
                    d->in_string = false;
                continue;
            }
            if (c == '"') {
                d->in_string = true;
            } else if (c == '{' || c == '[') {
                d->depth++;
            } else if (c == '}' || c == ']') {
                if (--d->depth == 0) {
                    done = true;
                    j++;
                    break;
                }
            }
        }
        size_t chunk = j - i;
        if (d->pending.len + chunk > d->max_event) {
            char limit[32];
            snprintf(limit, sizeof(limit), "%zu", d->max_event);
            return fail(d, err, KR_ETOOLARGE,
                        "watch stream: an event is larger than the limit of %s bytes", limit);
        }
        if (!done) {
            if (kr_buf_append(&d->pending, data + i, chunk) != 0)
                return fail(d, err, KR_ENOMEM, "watch stream: out of memory%s", "");
            break; /* the chunk ended inside this event */
        }
        d->started = false;
        int rc;
        if (d->pending.len == 0) {
            rc = dispatch(d, data + i, chunk, fn, user, err);
        } else {
            if (kr_buf_append(&d->pending, data + i, chunk) != 0)
                return fail(d, err, KR_ENOMEM, "watch stream: out of memory%s", "");
            rc = dispatch(d, d->pending.data, d->pending.len, fn, user, err);
            /* Keep small buffers for the next event; give big ones back so
             * that thousands of idle watches stay cheap. */
            if (d->failed || d->pending.cap > 8192)
                kr_buf_free(&d->pending);
            else
                kr_buf_reset(&d->pending);
        }
        if (rc != 0)
            return rc;
        i = j;
    }
    return 0;
}

int kr_watch_decoder_finish(kr_watch_decoder *d, kr_error_t *err)
{
    if (d->failed)
        return kr_error_set(err, KR_EPARSE, "watch stream: decoding already failed");
    if (d->started) {
        char n[32];
        snprintf(n, sizeof(n), "%zu", d->pending.len);
        /* the transport's cut, not the server's bad text: KR_EIO, after
         * which a reflector watches again */
        return fail(d, err, KR_EIO, "watch stream: the stream ended inside an event (%s bytes)", n);
    }
    return 0;
}
