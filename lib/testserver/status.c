/* libkreconcile-testserver — Status bodies for every failure, with the
 * apiserver's code, reason, message and details (wire spec §6). Nothing
 * here touches server state. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

static const char *status_text(int code)
{
    return code < 300 ? "Success" : "Failure";
}

void ts_response_clear_body(ts_response *resp)
{
    char *warnings = resp->warnings;
    resp->warnings = NULL;
    ts_response_clear(resp);
    resp->warnings = warnings;
}

void ts_respond_json(ts_response *resp, int code, json_t *body)
{
    ts_response_clear_body(resp);
    resp->status = code;
    resp->content_type = "application/json";
    kr_buf buf = {0};
    /* One pass straight into the response buffer: LIST pages are large. */
    int rc = body ? ts_dump_into(&buf, body) : -1;
    json_decref(body);
    if (rc != 0 || kr_buf_append(&buf, "", 0) != 0 || !buf.data) {
        kr_buf_free(&buf);
        resp->status = 500;
        return;
    }
    resp->body = buf.data;
    resp->body_len = buf.len;
}

void ts_respond_written(ts_response *resp, int code, json_t *obj, const ts_event *ev)
{
    size_t len = 0;
    const char *text = ev && ev->obj == obj ? ts_event_text(ev, &len) : NULL;
    char *copy = text ? kr_malloc(len + 1) : NULL;
    if (!copy) {
        ts_respond_json(resp, code, obj);
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    json_decref(obj);
    ts_response_clear_body(resp);
    resp->status = code;
    resp->content_type = "application/json";
    resp->body = copy;
    resp->body_len = len;
}

void ts_respond_status(ts_response *resp, int code, const char *reason, const char *message,
                       json_t *details)
{
    json_t *st = json_pack("{s:s, s:s, s:{}, s:s}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", status_text(code));
    if (st && message && *message)
        json_object_set_new(st, "message", json_string(message));
    if (st && reason && *reason)
        json_object_set_new(st, "reason", json_string(reason));
    if (st && details)
        json_object_set(st, "details", details);
    if (st)
        json_object_set_new(st, "code", json_integer(code));
    json_decref(details);
    ts_respond_json(resp, code, st);
}

char *ts_qualified(const ts_resource *res)
{
    if (!res->group[0])
        return kr_strdup(res->plural);
    return kr_asprintf("%s.%s", res->plural, res->group);
}

json_t *ts_details(const ts_resource *res, const char *name, bool kind_is_kind)
{
    json_t *d = json_object();
    if (!d)
        return NULL;
    if (name)
        json_object_set_new(d, "name", json_string(name));
    if (res && res->group[0])
        json_object_set_new(d, "group", json_string(res->group));
    if (res)
        json_object_set_new(d, "kind", json_string(kind_is_kind ? res->kind : res->plural));
    return d;
}

/* go-restful's 404 through the apiserver's ServiceErrorHandler
 * (NewGenericServerResponse): its details are there, empty. */
void ts_respond_not_found_path(ts_response *resp)
{
    ts_respond_status(resp, 404, "NotFound", "the server could not find the requested resource",
                      json_object());
}

void ts_respond_not_found(ts_response *resp, const ts_resource *res, const char *name)
{
    char *q = ts_qualified(res);
    char *msg = kr_asprintf("%s \"%s\" not found", q ? q : "", name);
    ts_respond_status(resp, 404, "NotFound", msg, ts_details(res, name, false));
    kr_free(msg);
    kr_free(q);
}

void ts_respond_bad_request(ts_response *resp, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ts_respond_status(resp, 400, "BadRequest", msg, NULL);
}

void ts_respond_invalid(ts_response *resp, const char *kind, const char *group, const char *name,
                        const char *field, const char *cause_reason, const char *cause_message)
{
    char *msg = kr_asprintf("%s%s%s \"%s\" is invalid: %s: %s", kind, group && *group ? "." : "",
                            group ? group : "", name ? name : "", field, cause_message);
    json_t *d =
        json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}]}", "name", name ? name : "", "kind", kind,
                  "causes", "reason", cause_reason, "message", cause_message, "field", field);
    if (d && group && *group)
        json_object_set_new(d, "group", json_string(group));
    if (d && (!name || !*name))
        json_object_del(d, "name");
    ts_respond_status(resp, 422, "Invalid", msg, d);
    kr_free(msg);
}

void ts_respond_conflict(ts_response *resp, const ts_resource *res, const char *name,
                         const char *why)
{
    char *q = ts_qualified(res);
    char *msg =
        kr_asprintf("Operation cannot be fulfilled on %s \"%s\": %s", q ? q : "", name, why);
    ts_respond_status(resp, 409, "Conflict", msg, ts_details(res, name, false));
    kr_free(msg);
    kr_free(q);
}

/* Whether cause `i` of `causes` repeats an earlier one's field and message. */
static bool repeated_cause(const json_t *causes, size_t i)
{
    const json_t *c = json_array_get(causes, i);
    for (size_t j = 0; j < i; j++) {
        const json_t *d = json_array_get(causes, j);
        if (json_equal(json_object_get(c, "field"), json_object_get(d, "field")) &&
            json_equal(json_object_get(c, "message"), json_object_get(d, "message")))
            return true;
    }
    return false;
}

/* The message lists each distinct error once (ErrorList.ToAggregate);
 * the causes keep them all. */
void ts_respond_invalid_causes(ts_response *resp, const char *kind, const char *group,
                               const char *name, const json_t *causes)
{
    kr_buf b = {0};
    size_t n = 0, i, shown = 0;
    const json_t *c;
    for (i = 0; i < json_array_size(causes); i++)
        n += !repeated_cause(causes, i);
    kr_buf_printf(&b, "%s%s%s \"%s\" is invalid: %s", kind, group && *group ? "." : "",
                  group ? group : "", name ? name : "", n > 1 ? "[" : "");
    json_array_foreach(causes, i, c)
    {
        if (repeated_cause(causes, i))
            continue;
        const char *field = json_string_value(json_object_get(c, "field"));
        kr_buf_printf(&b, "%s%s: %s", shown++ ? ", " : "", field ? field : "",
                      json_string_value(json_object_get(c, "message")));
    }
    kr_buf_append_str(&b, n > 1 ? "]" : "");
    json_t *d =
        json_pack("{s:s, s:s, s:O}", "name", name ? name : "", "kind", kind, "causes", causes);
    if (d && group && *group)
        json_object_set_new(d, "group", json_string(group));
    if (d && (!name || !*name))
        json_object_del(d, "name");
    ts_respond_status(resp, 422, "Invalid", b.data, d);
    kr_buf_free(&b);
}

void ts_response_warn(ts_response *resp, const char *text)
{
    /* kube-apiserver's recorder drops a text NewWarningHeader refuses:
     * one with a control character (go-yaml's multi-line errors) */
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return;
    char *joined = resp->warnings ? kr_asprintf("%s\n%s", resp->warnings, text) : kr_strdup(text);
    if (!joined)
        return; /* a warning lost to memory pressure */
    kr_free(resp->warnings);
    resp->warnings = joined;
}

void ts_response_clear(ts_response *resp)
{
    kr_free(resp->warnings);
    resp->warnings = NULL;
    kr_free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->retry_after = 0;
    resp->nosniff = false;
    if (resp->watch) {
        ts_watch_free(resp->watch);
        resp->watch = NULL;
    }
}

/* strconv.Quote: ASCII control characters and quotes escaped, other
 * bytes as they are. */
void ts_go_quote(kr_buf *b, const char *s)
{
    kr_buf_append_str(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            kr_buf_append_str(b, "\\\"");
            break;
        case '\\':
            kr_buf_append_str(b, "\\\\");
            break;
        case '\n':
            kr_buf_append_str(b, "\\n");
            break;
        case '\t':
            kr_buf_append_str(b, "\\t");
            break;
        case '\r':
            kr_buf_append_str(b, "\\r");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                kr_buf_printf(b, "\\x%02x", *p);
            else
                kr_buf_append(b, p, 1);
        }
    }
    kr_buf_append_str(b, "\"");
}

void ts_go_quote_list(kr_buf *b, const json_t *list)
{
    kr_buf_append_str(b, "[");
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        if (i)
            kr_buf_append_str(b, " ");
        ts_go_quote(b, json_string_value(v) ? json_string_value(v) : "");
    }
    kr_buf_append_str(b, "]");
}
