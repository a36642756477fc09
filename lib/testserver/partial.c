/* libkreconcile-testserver — metadata-only answers, as kube-apiserver gives
 * them to client-go's metadata client (wire spec §1.8): an Accept entry
 * application/json;as=PartialObjectMetadataList; g=meta.k8s.io;v=v1 turns a LIST into a
 * PartialObjectMetadataList, and as=PartialObjectMetadata turns a GET, a write's answer or every
 * object of a WATCH into a PartialObjectMetadata (apiVersion, kind, metadata: no spec, no status,
 * no data). Nothing here changes what is stored. */
#include <string.h>
#include <strings.h>

#include "testserver/ts_internal.h"

static const char PARTIAL_API_VERSION[] = "meta.k8s.io/v1";

/* The value of parameter `name` in one Accept entry's parameters, or
 * NULL; *len its length. */
static const char *param(const char *params, size_t plen, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    const char *p = params, *end = params + plen;
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        const char *stop = memchr(p, ';', (size_t)(end - p));
        if (!stop)
            stop = end;
        if ((size_t)(stop - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == '=') {
            *len = (size_t)(stop - p) - nlen - 1;
            while (*len && (p[nlen + 1 + *len - 1] == ' '))
                (*len)--;
            return p + nlen + 1;
        }
        p = stop;
    }
    return NULL;
}

static bool value_is(const char *v, size_t len, const char *want)
{
    return v && len == strlen(want) && strncmp(v, want, len) == 0;
}

size_t ts_accept_type(const char **entry, size_t *len)
{
    while (*len && (**entry == ' ' || **entry == '\t')) {
        (*entry)++;
        (*len)--;
    }
    const char *semi = memchr(*entry, ';', *len);
    size_t type_len = semi ? (size_t)(semi - *entry) : *len;
    while (type_len && (*entry)[type_len - 1] == ' ')
        type_len--;
    return type_len;
}

int ts_accept_entry(const char *entry, size_t len, const char *want)
{
    size_t type_len = ts_accept_type(&entry, &len);
    const char *semi = memchr(entry, ';', len);
    bool json = (type_len == 16 && strncasecmp(entry, "application/json", 16) == 0);
    bool any = (type_len == 3 && strncmp(entry, "*/*", 3) == 0) ||
               (type_len == 13 && strncasecmp(entry, "application/*", 13) == 0);
    if (!json && !any)
        return -1;
    size_t plen = semi ? len - (size_t)(semi - entry) : 0, as_len = 0, g_len = 0, v_len = 0;
    const char *as = semi ? param(semi, plen, "as", &as_len) : NULL;
    if (!as)
        return 0;
    const char *g = param(semi, plen, "g", &g_len);
    const char *v = param(semi, plen, "v", &v_len);
    if (json && want && value_is(as, as_len, want) && value_is(g, g_len, "meta.k8s.io") &&
        (value_is(v, v_len, "v1") || value_is(v, v_len, "v1beta1")))
        return 1;
    return -1;
}

static bool is_list(const ts_request *req, const ts_route *rt)
{
    return strcmp(req->method, "GET") == 0 && !rt->name && !rt->legacy_watch &&
           ts_query_bool(req, "watch") != 1;
}

bool ts_partial_negotiate(const ts_request *req, const ts_route *rt)
{
    const char *want = is_list(req, rt) ? "PartialObjectMetadataList" : "PartialObjectMetadata";
    const char *p = req->accept;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int kind = ts_accept_entry(p, len, want);
        if (kind >= 0)
            return kind == 1; /* the first entry we can serve wins */
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

json_t *ts_partial_of(const json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    return json_pack("{s:s, s:s, s:o}", "kind", "PartialObjectMetadata", "apiVersion",
                     PARTIAL_API_VERSION, "metadata", meta ? json_incref(meta) : json_object());
}

/* A list answer as a PartialObjectMetadataList: new, or NULL. */
static json_t *partial_list(const json_t *list)
{
    json_t *meta = json_object_get(list, "metadata");
    json_t *out = json_pack("{s:s, s:s, s:o, s:[]}", "kind", "PartialObjectMetadataList",
                            "apiVersion", PARTIAL_API_VERSION, "metadata",
                            meta ? json_incref(meta) : json_object(), "items");
    json_t *items = json_object_get(out, "items");
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        if (!out || json_array_append_new(items, ts_partial_of(item)) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

void ts_rewrite_answer(ts_response *resp, json_t *(*rewrite)(const json_t *body, void *user),
                       void *user)
{
    if (resp->watch || resp->status < 200 || resp->status >= 300 || !resp->body)
        return;
    json_t *body = json_loadb(resp->body, resp->body_len, 0, NULL);
    const char *kind = json_string_value(json_object_get(body, "kind"));
    if (!json_is_object(body) || (kind && strcmp(kind, "Status") == 0)) {
        json_decref(body);
        return; /* Status answers stay as they are */
    }
    json_t *out = rewrite(body, user);
    json_decref(body);
    int status = resp->status;
    if (!out) {
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                          NULL);
        return;
    }
    ts_respond_json(resp, status, out);
}

static json_t *partial_list_of(const json_t *body, void *user)
{
    (void)user;
    return partial_list(body);
}

static json_t *partial_of(const json_t *body, void *user)
{
    (void)user;
    return ts_partial_of(body);
}

void ts_partial_convert(const ts_request *req, const ts_route *rt, ts_response *resp)
{
    ts_rewrite_answer(resp, is_list(req, rt) ? partial_list_of : partial_of, NULL);
}
