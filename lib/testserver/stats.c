/* libkreconcile-testserver — request counters by verb and resource, named
 * as kube-apiserver's audit log and apiserver_request_total name them
 * ("list configmaps", "patch pods/status"), so that a test can count what
 * a client sends; and /metrics, kube-apiserver's apiserver_request_total
 * and apiserver_storage_objects in the Prometheus text format, for the
 * tools that scrape them. Counting never allocates. Callers hold ts->mu
 * but for the two public functions. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

void ts_stats_count(kr_testserver_t *ts, const char *verb, const ts_route *rt)
{
    char key[sizeof(ts->requests[0].key)];
    snprintf(key, sizeof(key), "%s %s%s%s", verb, rt->res->plural, rt->sub ? "/" : "",
             rt->sub ? rt->sub : "");
    /* A few dozen keys in practice: a scan is cheap beside the request. */
    for (size_t i = 0; i < TS_STATS_KEYS; i++) {
        ts_stat *st = &ts->requests[i];
        if (!st->key[0])
            memcpy(st->key, key, sizeof(key));
        if (strcmp(st->key, key) == 0) {
            st->count++;
            return;
        }
    }
}

json_t *ts_stats_requests(kr_testserver_t *ts)
{
    json_t *out = json_object();
    for (size_t i = 0; out && i < TS_STATS_KEYS && ts->requests[i].key[0]; i++) {
        const ts_stat *st = &ts->requests[i];
        if (json_object_set_new(out, st->key, json_integer((json_int_t)st->count)) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

void ts_stats_reset(kr_testserver_t *ts)
{
    memset(ts->requests, 0, sizeof(ts->requests));
}

json_t *kr_testserver_requests(kr_testserver_t *ts)
{
    ts_lock(ts);
    json_t *out = ts_stats_requests(ts);
    ts_unlock(ts);
    return out;
}

void kr_testserver_reset_requests(kr_testserver_t *ts)
{
    ts_lock(ts);
    ts_stats_reset(ts);
    ts_unlock(ts);
}

/* ---- /metrics ------------------------------------------------------------------ */

/* kube-apiserver's verb label (its metrics' CleanVerb), from the audit
 * verb the handler gave the request. */
static const char *metric_verb(const char *verb, const ts_request *req, const ts_route *rt)
{
    if (ts_route_connects(rt))
        return "CONNECT";
    if (strcmp(verb, "watch") == 0)
        return "WATCH";
    if (strcmp(verb, "list") == 0)
        return "LIST";
    if (strcmp(verb, "deletecollection") == 0)
        return "DELETECOLLECTION";
    if (strcmp(verb, "patch") == 0 && req->content_type &&
        strncmp(req->content_type, "application/apply-patch+yaml", 28) == 0)
        return "APPLY";
    return req->method; /* GET, POST, PUT, PATCH, DELETE */
}

void ts_metrics_label(const ts_request *req, const ts_route *rt, const char *verb,
                      ts_response *resp)
{
    const char *scope = rt->name || strcmp(req->method, "POST") == 0 ? "resource"
                        : rt->ns && *rt->ns                          ? "namespace"
                                                                     : "cluster";
    const char *dry = ts_query(req, "dryRun");
    snprintf(resp->metric, sizeof(resp->metric), "%s\t%s\t%s\t%s\t%s\t%s\t%s", dry ? dry : "",
             rt->res->group, rt->res->plural, scope, rt->sub ? rt->sub : "",
             metric_verb(verb, req, rt), rt->res->version);
}

void ts_metrics_count(kr_testserver_t *ts, const ts_request *req, const ts_response *resp)
{
    char labels[sizeof(resp->metric)];
    if (resp->metric[0])
        memcpy(labels, resp->metric, sizeof(labels));
    else if (strncmp(req->path, "/_kr/", 5) == 0)
        return; /* the test server's own */
    else /* a non-resource request: only its verb */
        snprintf(labels, sizeof(labels), "\t\t\t\t\t%s\t", req->method);
    int code = resp->status ? resp->status : 200;
    for (size_t i = 0; i < TS_METRIC_KEYS; i++) {
        ts_req_metric *m = &ts->req_metrics[i];
        if (!m->labels[0]) {
            memcpy(m->labels, labels, sizeof(labels));
            m->code = code;
        }
        if (m->code == code && strcmp(m->labels, labels) == 0) {
            m->count++;
            return;
        }
    }
}

/* One label value of the tab-separated `labels`: the i-th. */
static void label_at(const char *labels, int i, char *out, size_t len)
{
    const char *p = labels;
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, '\t');
        p = p ? p + 1 : NULL;
    }
    size_t n = p ? strcspn(p, "\t") : 0;
    if (n >= len)
        n = len - 1;
    memcpy(out, p ? p : "", n);
    out[n] = '\0';
}

/* A label value as the text format escapes it (\\, \", \n). */
static void put_value(kr_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            kr_buf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            kr_buf_append_str(b, "\\n");
        else
            kr_buf_printf(b, "%c", *v);
    }
}

void ts_respond_metrics(kr_testserver_t *ts, ts_response *resp)
{
    static const char *const names[] = {"dry_run",     "group", "resource", "scope",
                                        "subresource", "verb",  "version"};
    kr_buf b = {0};
    kr_buf_append_str(&b, "# HELP apiserver_request_total [STABLE] Counter of apiserver requests "
                          "broken out for each verb, dry run value, group, version, resource, "
                          "scope, component, and HTTP response code.\n"
                          "# TYPE apiserver_request_total counter\n");
    for (size_t i = 0; i < TS_METRIC_KEYS && ts->req_metrics[i].labels[0]; i++) {
        const ts_req_metric *m = &ts->req_metrics[i];
        kr_buf_printf(&b, "apiserver_request_total{code=\"%d\",component=\"apiserver\"", m->code);
        for (int k = 0; k < 7; k++) {
            char v[200];
            label_at(m->labels, k, v, sizeof(v));
            kr_buf_printf(&b, ",%s=\"", names[k]);
            put_value(&b, v);
            kr_buf_append_str(&b, "\"");
        }
        kr_buf_printf(&b, "} %llu\n", m->count);
    }
    kr_buf_append_str(&b, "# HELP apiserver_storage_objects [STABLE] Number of stored objects at "
                          "the time of last check split by kind. In case of a fetching error, "
                          "the value will be -1.\n"
                          "# TYPE apiserver_storage_objects gauge\n");
    for (size_t i = 0; i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        bool seen = r->review || !r->store;
        for (size_t j = 0; j < i && !seen; j++)
            seen = ts->resources[j]->store == r->store; /* versions of one kind */
        if (seen)
            continue;
        kr_buf_printf(&b, "apiserver_storage_objects{resource=\"%s%s%s\"} %zu\n", r->plural,
                      r->group[0] ? "." : "", r->group, r->store->len);
    }
    if (!b.data) {
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                          NULL);
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->body = b.data;
    resp->body_len = b.len;
}
