/* libkreconcile-testserver — request counters by verb and resource, named
 * as kube-apiserver's audit log and apiserver_request_total name them
 * ("list configmaps", "patch pods/status"), so that a test can count what
 * a client sends. Callers hold ts->mu but for the two public functions. */
#include <stdio.h>

#include "testserver/ts_internal.h"

void ts_stats_count(kr_testserver_t *ts, const char *verb, const ts_route *rt)
{
    if (!ts->requests && !(ts->requests = json_object()))
        return; /* out of memory: the count is lost, the request is served */
    char key[256];
    snprintf(key, sizeof(key), "%s %s%s%s", verb, rt->res->plural, rt->sub ? "/" : "",
             rt->sub ? rt->sub : "");
    json_t *n = json_object_get(ts->requests, key);
    if (n)
        json_integer_set(n, json_integer_value(n) + 1);
    else
        json_object_set_new(ts->requests, key, json_integer(1));
}

json_t *ts_stats_requests(kr_testserver_t *ts)
{
    return ts->requests ? json_deep_copy(ts->requests) : json_object();
}

void ts_stats_reset(kr_testserver_t *ts)
{
    json_decref(ts->requests);
    ts->requests = NULL;
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
