/* libkreconcile — the Workflow API over the inventory: requests (method,
 * path, decoded query) to JSON answers, and the Server-Sent Events stream
 * of new transactions. Pure with respect to HTTP: no sockets here, so that
 * the toolkit's server serves it and tests call it directly. Reads only
 * the inventory, never an apiserver. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kreconcile/inventory.h"

/* ---- responses ---------------------------------------------------------- */

static const char json_content_type[] = "application/json";

static int respond_text(kr_inventory_api_response *resp, int status, const char *type,
                        const char *body, size_t len)
{
    resp->status = status;
    resp->content_type = type;
    resp->body = kr_strndup(body, len);
    resp->len = resp->body ? len : 0;
    if (!resp->body) {
        resp->status = 500;
        return KR_ENOMEM;
    }
    return 0;
}

/* Steals `doc`. */
static int respond_json(kr_inventory_api_response *resp, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        resp->status = 500;
        return KR_ENOMEM;
    }
    int rc = respond_text(resp, status, json_content_type, text, strlen(text));
    kr_json_text_free(text);
    return rc;
}

static int respond_error(kr_inventory_api_response *resp, int status, const char *fmt, ...)
    KR_PRINTF(3, 4);

static int respond_error(kr_inventory_api_response *resp, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* a message cut inside a character loses that character */
    size_t len = strlen(msg);
    for (int i = 0; i < 3 && len > 0 && !kr_utf8_valid(msg); i++)
        msg[--len] = '\0';
    return respond_json(resp, status, json_pack("{s:s, s:i}", "error", msg, "code", status));
}

/* A library error as an HTTP answer. */
static int respond_failure(kr_inventory_api_response *resp, int code, const kr_error_t *err)
{
    int status = 500;
    switch (code) {
    case KR_EINVAL:
    case KR_EPARSE:
        status = 400;
        break;
    case KR_ENOTFOUND:
        status = 404;
        break;
    case KR_EUNAVAILABLE:
    case KR_ECONNECT:
        status = 503;
        break;
    default:
        break;
    }
    return respond_error(resp, status, "%s", err->message[0] ? err->message : kr_strerror(code));
}

void kr_inventory_api_response_free(kr_inventory_api_response *resp)
{
    if (!resp)
        return;
    kr_free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

/* ---- parameters --------------------------------------------------------- */

typedef struct param_spec {
    const char *name;
    const char **value;
} param_spec;

/* Take the known parameters; an unknown or repeated one is a 400. */
static int take_params(const kr_inventory_api_param *params, size_t n, const param_spec *spec,
                       size_t n_spec, char *why, size_t why_len)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < n_spec && strcmp(spec[k].name, params[i].name) != 0)
            k++;
        if (k == n_spec) {
            snprintf(why, why_len, "unknown query parameter \"%s\"", params[i].name);
            return -1;
        }
        if (*spec[k].value) {
            snprintf(why, why_len, "query parameter \"%s\" given twice", params[i].name);
            return -1;
        }
        *spec[k].value = params[i].value ? params[i].value : "";
    }
    return 0;
}

/* A decimal in [min, max], digits only (no sign, space or leading zero);
 * NULL or "" leaves *out alone. */
static int parse_number(const char *name, const char *text, long long min, long long max,
                        long long *out, char *why, size_t why_len)
{
    if (!text || !*text)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = text[0] >= '0' && text[0] <= '9' ? strtoll(text, &end, 10) : 0;
    if (!end || *end || errno == ERANGE || v < min || v > max || (text[0] == '0' && text[1])) {
        snprintf(why, why_len, "%s must be a number from %lld to %lld, not \"%s\"", name, min, max,
                 text);
        return -1;
    }
    *out = v;
    return 0;
}

static bool known_kind(const kr_inventory_api_opts *opts, const char *kind)
{
    if (!opts || !opts->n_kinds || !kind || !*kind)
        return true;
    for (size_t i = 0; i < opts->n_kinds; i++)
        if (strcmp(opts->kinds[i], kind) == 0)
            return true;
    return false;
}

static int kinds_list(const kr_inventory_api_opts *opts, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < opts->n_kinds && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", opts->kinds[i]);
    return 0;
}

/* ---- handlers ------------------------------------------------------------ */

static int handle_objects(kr_inventory_t *inv, const kr_inventory_api_opts *opts,
                          const kr_inventory_api_param *params, size_t n,
                          kr_inventory_api_response *resp)
{
    const char *cluster = NULL, *kind = NULL, *ns = NULL, *selector = NULL, *phase = NULL,
               *limit = NULL, *cont = NULL, *deleted = NULL;
    const param_spec spec[] = {{"cluster", &cluster}, {"kind", &kind},
                               {"namespace", &ns},    {"labelSelector", &selector},
                               {"phase", &phase},     {"limit", &limit},
                               {"continue", &cont},   {"includeDeleted", &deleted}};
    char why[512];
    long long lim = 100;
    if (take_params(params, n, spec, KR_ARRAY_LEN(spec), why, sizeof(why)) != 0 ||
        parse_number("limit", limit, 1, 1000, &lim, why, sizeof(why)) != 0)
        return respond_error(resp, 400, "%s", why);
    if (deleted && strcmp(deleted, "true") != 0 && strcmp(deleted, "false") != 0)
        return respond_error(resp, 400, "includeDeleted must be true or false, not \"%s\"",
                             deleted);
    if (!known_kind(opts, kind)) {
        char kinds[512];
        kinds_list(opts, kinds, sizeof(kinds));
        return respond_error(resp, 400, "unknown kind \"%s\" (this inventory holds: %s)", kind,
                             kinds);
    }
    kr_inventory_query_opts q = KR_INVENTORY_QUERY_OPTS_INIT;
    q.cluster = cluster;
    q.kind = kind;
    q.namespace_ = ns;
    q.label_selector = selector;
    q.phase = phase;
    q.limit = (size_t)lim;
    q.continue_token = cont;
    q.include_deleted = deleted && strcmp(deleted, "true") == 0;
    json_t *items = NULL;
    char *next = NULL;
    kr_error_t err = {0};
    /* read first: every transaction up to it is in what the query sees,
     * so a reader that resumes the stream after it misses nothing */
    int64_t last_seq = 0;
    int rc = kr_inventory_last_seq(inv, &last_seq, &err);
    if (rc == 0)
        rc = kr_inventory_query(inv, &q, &items, &next, &err);
    if (rc != 0)
        return respond_failure(resp, rc, &err);
    json_t *doc = json_pack("{s:o, s:I}", "items", items, "lastSeq", (json_int_t)last_seq);
    if (doc && next)
        json_object_set_new(doc, "continue", json_string(next));
    kr_free(next);
    /* the kinds kept, so that a reader of the stream asks only for the
     * objects of those (programs record actions on others) */
    if (doc && opts && opts->n_kinds) {
        json_t *kinds = json_array();
        for (size_t i = 0; kinds && i < opts->n_kinds; i++)
            if (json_array_append_new(kinds, json_string(opts->kinds[i])) != 0) {
                json_decref(kinds);
                kinds = NULL;
            }
        if (!kinds || json_object_set_new(doc, "kinds", kinds) != 0) {
            json_decref(doc);
            doc = NULL;
        }
    }
    return respond_json(resp, 200, doc);
}

/* /api/v1/objects/{cluster}/{kind}/{namespace}/{name} */
static int handle_object(kr_inventory_t *inv, const kr_inventory_api_opts *opts, const char *rest,
                         size_t n_params, kr_inventory_api_response *resp)
{
    if (n_params)
        return respond_error(resp, 400, "this resource takes no query parameters");
    char *copy = kr_strdup(rest);
    if (!copy)
        return respond_error(resp, 500, "out of memory");
    /* four segments, none empty: "a//b" is no name (strtok would read
     * it as "a/b") */
    char *parts[5] = {0};
    size_t n = 0;
    bool empty = false;
    for (char *p = copy; p && n < 5;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        empty |= *p == '\0';
        parts[n++] = p;
        p = slash ? slash + 1 : NULL;
    }
    int rc;
    if (n != 4 || empty) {
        rc = respond_error(resp, 400,
                           "expected /api/v1/objects/{cluster}/{kind}/{namespace}/{name} "
                           "(namespace \"_\" for cluster-scoped objects)");
    } else if (!known_kind(opts, parts[1])) {
        rc = respond_error(resp, 400, "unknown kind \"%s\"", parts[1]);
    } else {
        json_t *row = NULL;
        kr_error_t err = {0};
        const char *ns = strcmp(parts[2], "_") == 0 ? "" : parts[2];
        int got = kr_inventory_get(inv, parts[0], parts[1], ns, parts[3], &row, &err);
        rc = got == 0 ? respond_json(resp, 200, row) : respond_failure(resp, got, &err);
    }
    kr_free(copy);
    return rc;
}

static int handle_history(kr_inventory_t *inv, const kr_inventory_api_opts *opts,
                          const kr_inventory_api_param *params, size_t n,
                          kr_inventory_api_response *resp)
{
    const char *kind = NULL, *ns = NULL, *name = NULL, *after = NULL, *before = NULL, *limit = NULL,
               *newest = NULL;
    const param_spec spec[] = {{"kind", &kind},         {"namespace", &ns},  {"name", &name},
                               {"after", &after},       {"before", &before}, {"limit", &limit},
                               {"newestFirst", &newest}};
    char why[512];
    long long after_seq = 0, before_seq = 0, lim = 1000;
    if (take_params(params, n, spec, KR_ARRAY_LEN(spec), why, sizeof(why)) != 0 ||
        parse_number("after", after, 0, INT64_MAX, &after_seq, why, sizeof(why)) != 0 ||
        parse_number("before", before, 1, INT64_MAX, &before_seq, why, sizeof(why)) != 0 ||
        parse_number("limit", limit, 1, 10000, &lim, why, sizeof(why)) != 0)
        return respond_error(resp, 400, "%s", why);
    if (newest && strcmp(newest, "true") != 0 && strcmp(newest, "false") != 0)
        return respond_error(resp, 400, "newestFirst must be true or false, not \"%s\"", newest);
    if (!kind || !*kind || !name || !*name)
        return respond_error(resp, 400,
                             "history needs kind and name (and namespace when the "
                             "object has one)");
    json_t *items = NULL;
    kr_error_t err = {0};
    int rc = kr_inventory_history_range(inv, kind, ns, name, after_seq, before_seq,
                                        newest && strcmp(newest, "true") == 0, (size_t)lim, &items,
                                        &err);
    /* The programs record actions on kinds no producer keeps (a
     * deployable kr-syncer writes): their history is in the books. A kind
     * none keeps with nothing recorded of this object is a misspelling. */
    bool unknown = rc == 0 && !known_kind(opts, kind) && json_array_size(items) == 0;
    if (unknown && (after_seq > 0 || before_seq > 0)) { /* nothing in range: nothing at all? */
        json_t *first = NULL;
        rc = kr_inventory_history(inv, kind, ns, name, 0, 1, &first, &err);
        unknown = rc == 0 && json_array_size(first) == 0;
        json_decref(first);
    }
    if (rc != 0) {
        json_decref(items);
        return respond_failure(resp, rc, &err);
    }
    if (unknown) {
        json_decref(items);
        return respond_error(resp, 400, "unknown kind \"%s\" (nothing recorded of %s%s%s)", kind,
                             ns && *ns ? ns : "", ns && *ns ? "/" : "", name);
    }
    return respond_json(resp, 200, json_pack("{s:o}", "items", items));
}

int kr_inventory_api_handle(kr_inventory_t *inv, const kr_inventory_api_opts *opts,
                            const char *method, const char *path,
                            const kr_inventory_api_param *params, size_t n,
                            kr_inventory_api_response *resp)
{
    if (!resp)
        return KR_EINVAL;
    memset(resp, 0, sizeof(*resp));
    if (!inv || !method || !path || (n && !params))
        return respond_error(resp, 500, "inventory api: missing arguments");
    if (opts && opts->version > KR_INVENTORY_API_OPTS_VERSION)
        return respond_error(resp, 500, "inventory api: options version %u is newer than %u",
                             opts->version, (unsigned)KR_INVENTORY_API_OPTS_VERSION);
    for (size_t i = 0; i < n; i++) {
        if (!params[i].name)
            return respond_error(resp, 400, "a query parameter without a name");
        if (!kr_utf8_valid(params[i].name) || (params[i].value && !kr_utf8_valid(params[i].value)))
            return respond_error(resp, 400, "a query parameter is not valid UTF-8");
    }
    if (!kr_utf8_valid(path)) /* an error that names it could not be written */
        return respond_error(resp, 400, "the path is not valid UTF-8");
    static const char objects[] = "/api/v1/objects";
    bool known = strcmp(path, "/") == 0 || strcmp(path, objects) == 0 ||
                 strncmp(path, "/api/v1/objects/", 16) == 0 ||
                 strcmp(path, "/api/v1/history") == 0 || strcmp(path, "/api/v1/events") == 0;
    if (!known)
        return respond_error(resp, 404, "no such resource: %s", path);
    /* HEAD is a GET whose body the server leaves out */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond_error(resp, 405, "%s is read-only: use GET, not %s", path, method);
    if (strcmp(path, "/") == 0) {
        const char *page = kr_inventory_page_html();
        return respond_text(resp, 200, "text/html; charset=utf-8", page, strlen(page));
    }
    if (strcmp(path, objects) == 0)
        return handle_objects(inv, opts, params, n, resp);
    if (strncmp(path, "/api/v1/objects/", 16) == 0)
        return handle_object(inv, opts, path + 16, n, resp);
    if (strcmp(path, "/api/v1/history") == 0)
        return handle_history(inv, opts, params, n, resp);
    return respond_error(resp, 400,
                         "/api/v1/events is a Server-Sent Events stream (served by "
                         "kr_inventory_sse_*)");
}

/* ---- Server-Sent Events ------------------------------------------------------ */

#define SSE_KEEPALIVE_MS 15000

struct kr_inventory_sse {
    kr_inventory_t *inv;
    int64_t last_seq; /* the last transaction sent */
    kr_buf pending; /* formatted, not yet handed out */
    size_t sent; /* bytes of `pending` handed out */
    int64_t idle_since_ns;
};

int kr_inventory_sse_new(kr_inventory_t *inv, const char *last_event_id, kr_inventory_sse_t **out,
                         kr_error_t *err)
{
    if (!inv || !out)
        return kr_error_set(err, KR_EINVAL, "inventory sse: inv and out are required");
    *out = NULL;
    int64_t start = 0, last = 0;
    bool reset = false;
    /* read as history reads its "after": digits, no sign or leading zero */
    char why[256];
    long long v = 0;
    if (parse_number("the event to resume after (Last-Event-ID or ?after=)", last_event_id, 0,
                     INT64_MAX, &v, why, sizeof(why)) != 0)
        return kr_error_set(err, KR_EINVAL, "inventory sse: %s", why);
    start = v;
    int rc = kr_inventory_last_seq(inv, &last, err);
    if (rc != 0)
        return rc;
    if (!last_event_id || !*last_event_id) {
        start = last;
    } else if (start > last) {
        /* An id this database never gave: the reader saw another one (a
         * database restored or replaced). Waiting for the id would keep
         * the stream silent; it goes on from now, after a reset event
         * that tells the reader to read the state again. */
        start = last;
        reset = true;
    }
    kr_inventory_sse_t *sse = kr_calloc(1, sizeof(*sse));
    if (!sse)
        return kr_error_set(err, KR_ENOMEM, "inventory sse: out of memory");
    sse->inv = inv;
    sse->last_seq = start;
    sse->idle_since_ns = kr_clock_monotonic_ns();
    /* Tell the browser how soon to reconnect after a cut. */
    if (kr_buf_append_str(&sse->pending, "retry: 2000\n\n") != 0 ||
        (reset &&
         kr_buf_printf(&sse->pending, "id: %lld\nevent: reset\ndata: {\"lastSeq\":%lld}\n\n",
                       (long long)last, (long long)last) != 0)) {
        kr_buf_free(&sse->pending);
        kr_free(sse);
        return kr_error_set(err, KR_ENOMEM, "inventory sse: out of memory");
    }
    *out = sse;
    return 0;
}

void kr_inventory_sse_free(kr_inventory_sse_t *sse)
{
    if (!sse)
        return;
    kr_buf_free(&sse->pending);
    kr_free(sse);
}

/* Format up to 100 transactions after last_seq into pending: 1 (some), 0
 * (none), -1 (error). */
static int sse_fetch(kr_inventory_sse_t *sse)
{
    json_t *rows = NULL;
    if (kr_inventory_transactions_after(sse->inv, sse->last_seq, 100, &rows, NULL) != 0)
        return -1;
    size_t i;
    json_t *row;
    int rc = 0;
    json_array_foreach(rows, i, row)
    {
        char *text = json_dumps(row, JSON_COMPACT);
        int64_t seq = json_integer_value(json_object_get(row, "seq"));
        if (!text || kr_buf_printf(&sse->pending, "id: %lld\nevent: transaction\ndata: %s\n\n",
                                   (long long)seq, text) != 0)
            rc = -1;
        kr_json_text_free(text);
        if (rc != 0)
            break;
        sse->last_seq = seq;
    }
    size_t got = json_array_size(rows);
    json_decref(rows);
    if (rc != 0)
        return -1;
    return got > 0 ? 1 : 0;
}

long kr_inventory_sse_read(kr_inventory_sse_t *sse, char *buf, size_t max, uint64_t wait_ms)
{
    if (!sse || !buf || !max)
        return -1;
    if (sse->sent == sse->pending.len) {
        kr_buf_reset(&sse->pending);
        sse->sent = 0;
        int got = sse_fetch(sse);
        if (got == 0) {
            kr_inventory_wait_commit(sse->inv, sse->last_seq, wait_ms);
            got = sse_fetch(sse);
        }
        if (got < 0)
            return -1;
        int64_t now = kr_clock_monotonic_ns();
        if (got > 0) {
            sse->idle_since_ns = now;
        } else if (now - sse->idle_since_ns >= (int64_t)SSE_KEEPALIVE_MS * 1000000) {
            sse->idle_since_ns = now;
            if (kr_buf_append_str(&sse->pending, ": keep-alive\n\n") != 0)
                return -1;
        }
        if (sse->pending.len == 0)
            return 0;
    }
    size_t n = sse->pending.len - sse->sent;
    if (n > max)
        n = max;
    memcpy(buf, sse->pending.data + sse->sent, n);
    sse->sent += n;
    return (long)n;
}
