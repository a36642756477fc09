/* libkreconcile-testserver — GET and LIST: resourceVersion and
 * resourceVersionMatch validation, selectors, and paging with continue
 * tokens over bounded snapshots (wire spec §4). Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

/* A resourceVersion the server has not reached yet: the 504 kube-apiserver's
 * watch cache answers once it has waited for it in vain (at once here:
 * this store is never behind), for GET and LIST alike. */
static void respond_too_large(kr_testserver_t *ts, uint64_t n, ts_response *resp)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "Timeout: Too large resource version: %llu, current: %llu",
             (unsigned long long)n, ts->rv);
    ts_respond_status(resp, 504, "Timeout", msg,
                      json_pack("{s:[{s:s,s:s}], s:i}", "causes", "reason",
                                "ResourceVersionTooLarge", "message", "Too large resource version",
                                "retryAfterSeconds", 1));
}

void ts_handle_get(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                   ts_response *resp)
{
    /* resourceVersion "N": not older than N (served from the watch cache) */
    const char *rv = ts_query(req, "resourceVersion");
    uint64_t n = 0;
    if (rv && *rv && kr_rv_parse(rv, &n) == 0 && n > ts->rv) {
        respond_too_large(ts, n, resp);
        return;
    }
    ts_obj *o = ts_store_get(rt->res->store, rt->ns ? rt->ns : "", rt->name);
    if (!o) {
        ts_respond_not_found(resp, rt->res, rt->name);
        return;
    }
    ts_respond_json(resp, 200, json_incref(o->obj));
}

/* ---- continue tokens: base64 of {"rv":R,"id":S,"start":KEY} -------------------- */

/* KEY is the last key returned relative to the listed path, as
 * kube-apiserver's storage encodes it: "ns/name" for a list across
 * namespaces, "name" within one namespace or for cluster-scoped kinds. A
 * request reads it under its own path, so a token taken elsewhere never
 * reaches outside the namespace asked for. */
struct token {
    unsigned long long rv, id;
    bool latest; /* rv -1: go on at the latest resourceVersion */
    char *start;
};

/* kube-apiserver's DecodeContinue refuses a start key that path.Clean
 * would change ("a//b", "./a", "../a", "a/"): such a key could climb
 * above the request's path. */
static bool key_clean(const char *key)
{
    if (!*key)
        return true; /* "/": the start of the path */
    for (const char *seg = key;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!slash)
            return true;
        seg = slash + 1;
    }
}

/* 0, or a 400 answered in resp. */
static int token_decode(const char *text, struct token *t, ts_response *resp)
{
    size_t len;
    char *raw = NULL;
    (void)kr_base64_decode(text, strlen(text), true, &raw, &len, NULL);
    json_t *doc = raw ? json_loadb(raw, len, 0, NULL) : NULL;
    kr_free(raw);
    const char *start = json_string_value(json_object_get(doc, "start"));
    json_t *rv = json_object_get(doc, "rv"), *id = json_object_get(doc, "id");
    int rc = -1;
    if (!start || !json_is_integer(rv) || !json_is_integer(id)) {
        ts_respond_bad_request(resp, "continue key is not valid: incorrect encoded start "
                                     "resourceVersion (version meta.k8s.io/v1)");
    } else if (!*start) {
        ts_respond_bad_request(resp, "continue key is not valid: encoded start key empty "
                                     "(version meta.k8s.io/v1)");
    } else if (!key_clean(start[0] == '/' ? start + 1 : start)) {
        ts_respond_bad_request(resp, "continue key is not valid: %s", start);
    } else {
        t->latest = json_integer_value(rv) < 0;
        t->rv = t->latest ? 0 : (unsigned long long)json_integer_value(rv);
        t->id = (unsigned long long)json_integer_value(id);
        t->start = kr_strdup(start[0] == '/' ? start + 1 : start);
        rc = t->start ? 0 : -1;
        if (rc != 0)
            ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                              NULL);
    }
    json_decref(doc);
    return rc;
}

/* A token for `start`; rv < 0: at the latest resourceVersion. */
static char *token_encode_key(json_int_t rv, unsigned long long id, const char *start)
{
    json_t *doc =
        start ? json_pack("{s:I, s:I, s:s}", "rv", rv, "id", (json_int_t)id, "start", start) : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    char *out = text ? kr_base64_encode(text, strlen(text), true) : NULL;
    kr_json_text_free(text);
    return out;
}

static char *token_encode(const ts_route *rt, unsigned long long rv, unsigned long long id,
                          const json_t *last)
{
    const char *ns = ts_meta_str(last, "namespace"), *name = ts_meta_str(last, "name");
    char *start = rt->res->namespaced && !rt->ns
                      ? kr_asprintf("%s/%s", ns ? ns : "", name ? name : "")
                      : kr_strdup(name ? name : "");
    char *out = start ? token_encode_key((json_int_t)rv, id, start) : NULL;
    kr_free(start);
    return out;
}

/* ---- the list itself --------------------------------------------------------------- */

typedef struct view {
    json_t **objs; /* a snapshot, or NULL to read the live store */
    const ts_store *st;
    size_t len;
    unsigned long long rv, snap_id;
} view;

static const json_t *view_at(const view *v, size_t i)
{
    return v->objs ? v->objs[i] : v->st->items[i].obj;
}

static int view_cmp(const view *v, size_t i, const char *ns, const char *name)
{
    const json_t *o = view_at(v, i);
    const char *ons = ts_meta_str(o, "namespace"), *oname = ts_meta_str(o, "name");
    int c = strcmp(ons ? ons : "", ns);
    return c ? c : strcmp(oname ? oname : "", name);
}

/* First index whose key is > (ns, name), or >= when `inclusive`. */
static size_t view_bound(const view *v, const char *ns, const char *name, bool inclusive)
{
    size_t lo = 0, hi = v->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = view_cmp(v, mid, ns, name);
        if (c < 0 || (!inclusive && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct list_opts {
    long limit;
    const char *cont;
    ts_labels_t *labels;
    ts_fieldsel fields;
};

static json_t *list_envelope(const ts_resource *res, unsigned long long rv)
{
    char *av = ts_api_version(res);
    char rvs[32];
    snprintf(rvs, sizeof(rvs), "%llu", rv);
    json_t *l = av ? json_pack("{s:s, s:s, s:{s:s}, s:[]}", "kind", res->list_kind, "apiVersion",
                               av, "metadata", "resourceVersion", rvs, "items")
                   : NULL;
    kr_free(av);
    return l;
}

/* The end of the namespace's range (names sort below "\x7f"). */
static size_t scope_end(const view *v, const ts_route *rt)
{
    return rt->ns ? view_bound(v, rt->ns, "\x7f", true) : v->len;
}

static bool selected(const struct list_opts *o, const json_t *obj)
{
    return ts_object_matches(o->labels, &o->fields, obj);
}

static void set_continue(kr_testserver_t *ts, const ts_route *rt, const struct list_opts *o,
                         view *v, const json_t *last, size_t remaining, json_t *list)
{
    if (!v->objs) {
        ts_snapshot *s = ts_snapshot_take(ts, rt->res);
        v->snap_id = s ? s->id : 0;
    }
    char *tok = token_encode(rt, v->rv, v->snap_id, last);
    json_t *md = json_object_get(list, "metadata");
    json_object_set_new(md, "continue", json_string(tok ? tok : ""));
    if (!o->labels && o->fields.len == 0)
        json_object_set_new(md, "remainingItemCount", json_integer((json_int_t)remaining));
    kr_free(tok);
}

static void serve_page(kr_testserver_t *ts, const ts_route *rt, struct list_opts *o, view *v,
                       size_t from, ts_response *resp)
{
    json_t *list = list_envelope(rt->res, v->rv);
    json_t *items = json_object_get(list, "items");
    size_t end = scope_end(v, rt), i = from, n = 0;
    const json_t *last = NULL;
    for (; list && i < end; i++) {
        const json_t *obj = view_at(v, i);
        if (!selected(o, obj))
            continue;
        if (o->limit > 0 && n == (size_t)o->limit)
            break;
        if (rt->res->crd) {
            json_array_append(items, (json_t *)obj);
        } else {
            /* kube-apiserver leaves a built-in list's items untyped (the
             * list says what they are); custom resources' keep theirs */
            json_t *item = json_copy((json_t *)obj);
            if (item) {
                json_object_del(item, "kind");
                json_object_del(item, "apiVersion");
            }
            json_array_append_new(items, item ? item : json_incref((json_t *)obj));
        }
        last = obj;
        n++;
    }
    bool more = false;
    for (size_t j = i; o->limit > 0 && j < end && !more; j++)
        more = selected(o, view_at(v, j));
    if (list && more && last)
        set_continue(ts, rt, o, v, last, end - i, list);
    ts_respond_json(resp, 200, list);
}

/* 410 for a token whose snapshot is gone, with a token that goes on from
 * the same key at the latest resourceVersion, as etcd3's store answers a
 * compacted continue (handleCompactedErrorForPaging). */
static void respond_expired_continue(ts_response *resp, const char *start)
{
    char *tok = token_encode_key(-1, 0, start);
    json_t *st =
        tok ? json_pack(
                  "{s:s, s:s, s:{s:s}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                  "metadata", "continue", tok, "status", "Failure", "message",
                  "The provided continue parameter is too old to display a consistent list "
                  "result. You can start a new list without the continue parameter, or use the "
                  "continue token in this response to retrieve the remainder of the results. "
                  "Continuing with the provided token results in an inconsistent list - objects "
                  "that were created, modified, or deleted between the time the first chunk was "
                  "returned and now may show up in the list.",
                  "reason", "Expired", "code", 410)
            : NULL;
    kr_free(tok);
    if (st)
        ts_respond_json(resp, 410, st);
    else
        ts_respond_status(resp, 410, "Expired",
                          "The provided continue parameter is too old to display a consistent "
                          "list result. You can start a new list without the continue parameter.",
                          NULL);
}

/* The first index after the token's key, read under the request's path:
 * the namespace asked for, the namespace the key names, or none. */
static size_t continue_from(const view *v, const ts_route *rt, char *start)
{
    if (rt->ns)
        return view_bound(v, rt->ns, start, false);
    if (!rt->res->namespaced)
        return view_bound(v, "", start, false);
    char *slash = strchr(start, '/');
    if (!slash) /* a namespace's name alone: that namespace onwards */
        return view_bound(v, start, "", true);
    *slash = '\0';
    size_t from = view_bound(v, start, slash + 1, false);
    *slash = '/';
    return from;
}

static void list_continue(kr_testserver_t *ts, const ts_route *rt, struct list_opts *o,
                          ts_response *resp)
{
    struct token t = {0};
    if (token_decode(o->cont, &t, resp) == 0) {
        ts_snapshot *s = t.latest ? NULL : ts_snapshot_find(ts, t.id);
        if (t.latest) {
            view v = {NULL, rt->res->store, rt->res->store->len, ts->rv, 0};
            serve_page(ts, rt, o, &v, continue_from(&v, rt, t.start), resp);
        } else if (!s || s->store_id != rt->res->store->id || s->rv != t.rv) {
            respond_expired_continue(resp, t.start);
        } else {
            view v = {s->objs, NULL, s->len, s->rv, s->id};
            serve_page(ts, rt, o, &v, continue_from(&v, rt, t.start), resp);
        }
    }
    kr_free(t.start);
}

static void respond_list_invalid(ts_response *resp, const char *field, const char *reason,
                                 const char *text)
{
    ts_respond_invalid(resp, "ListOptions", "meta.k8s.io", "", field, reason, text);
}

/* §4.1: the combinations of resourceVersion, resourceVersionMatch and
 * continue. *exact: the resourceVersion the list must be served at, 0 for
 * the latest: with resourceVersionMatch=Exact, and, as etcd3's store
 * serves the legacy form, a resourceVersion other than "0" with a limit
 * and no match. */
static int check_rv(kr_testserver_t *ts, const ts_request *req, ts_response *resp, uint64_t *exact)
{
    *exact = 0;
    const char *rv = ts_query(req, "resourceVersion");
    const char *rvm = ts_query(req, "resourceVersionMatch");
    const char *cont = ts_query(req, "continue");
    bool has_rv = rv && *rv;
    if (ts_query(req, "sendInitialEvents")) {
        respond_list_invalid(resp, "sendInitialEvents", "FieldValueForbidden",
                             "Forbidden: sendInitialEvents is forbidden for list");
        return -1;
    }
    if (rvm && *rvm) {
        const char *msg = NULL;
        char unsupported[300];
        if (strcmp(rvm, "Exact") != 0 && strcmp(rvm, "NotOlderThan") != 0) {
            /* field.NotSupported: the value, quoted as Go's %q would */
            json_t *quoted = json_string(rvm);
            char *text = quoted ? json_dumps(quoted, JSON_ENCODE_ANY) : NULL;
            snprintf(unsupported, sizeof(unsupported),
                     "Unsupported value: %.200s: supported values: \"Exact\", \"NotOlderThan\", "
                     "\"\"",
                     text ? text : "\"\"");
            kr_json_text_free(text);
            json_decref(quoted);
            msg = unsupported;
        } else if (!has_rv)
            msg = "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is "
                  "provided";
        else if (cont && *cont)
            msg = "Forbidden: resourceVersionMatch is forbidden when continue is provided";
        else if (strcmp(rvm, "Exact") == 0 && strcmp(rv, "0") == 0)
            msg = "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion "
                  "\"0\"";
        if (msg) {
            respond_list_invalid(resp, "resourceVersionMatch",
                                 msg[0] == 'U' ? "FieldValueNotSupported" : "FieldValueForbidden",
                                 msg);
            return -1;
        }
    }
    if (!has_rv)
        return 0;
    if (cont && *cont && strcmp(rv, "0") != 0) {
        ts_respond_bad_request(resp, "specifying resource version is not allowed when using "
                                     "continue");
        return -1;
    }
    uint64_t n = 0;
    if (kr_rv_parse(rv, &n) != 0) {
        ts_respond_bad_request(resp, "invalid resource version: %s", rv);
        return -1;
    }
    if (n > ts->rv) {
        respond_too_large(ts, n, resp);
        return -1;
    }
    const char *limit = ts_query(req, "limit");
    bool legacy = (!rvm || !*rvm) && n > 0 && limit && strtol(limit, NULL, 10) > 0;
    if ((rvm && strcmp(rvm, "Exact") == 0) || legacy)
        *exact = n;
    return 0;
}

void ts_handle_list(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                    ts_response *resp)
{
    uint64_t exact = 0;
    if (check_rv(ts, req, resp, &exact) != 0)
        return;
    struct list_opts o = {0};
    const char *limit = ts_query(req, "limit");
    if (limit && *limit) {
        char *end;
        o.limit = strtol(limit, &end, 10);
        if (*end) {
            ts_respond_bad_request(resp, "invalid limit: %s", limit);
            return;
        }
        if (o.limit < 0)
            o.limit = 0; /* as the apiserver: no limit */
    }
    o.cont = ts_query(req, "continue");
    if (ts_parse_selectors(req, rt->res, &o.labels, &o.fields, resp) != 0)
        return;
    if (o.cont && *o.cont) {
        list_continue(ts, rt, &o, resp);
    } else if (exact && exact != ts->rv) {
        /* the store as it was, while the history reaches back (etcd's
         * revisions until compaction) */
        ts_snapshot *snap = ts_snapshot_take_at(ts, rt->res, exact);
        if (!snap) {
            ts_respond_status(resp, 410, "Expired",
                              "The resourceVersion for the provided list is too old.", NULL);
        } else {
            view v = {snap->objs, NULL, snap->len, snap->rv, snap->id};
            size_t from = rt->ns ? view_bound(&v, rt->ns, "", true) : 0;
            serve_page(ts, rt, &o, &v, from, resp);
        }
    } else {
        view v = {NULL, rt->res->store, rt->res->store->len, ts->rv, 0};
        size_t from = rt->ns ? view_bound(&v, rt->ns, "", true) : 0;
        serve_page(ts, rt, &o, &v, from, resp);
    }
    ts_labels_free(o.labels);
    ts_fieldsel_free(&o.fields);
}
