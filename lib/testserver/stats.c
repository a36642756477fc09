/* libkreconcile-testserver — request counters by verb and resource, named
 * as kube-apiserver's audit log and apiserver_request_total name them
 * ("list configmaps", "patch pods/status"), so that a test can count what
 * a client sends. Counting never allocates. Callers hold ts->mu but for
 * the two public functions. */
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
