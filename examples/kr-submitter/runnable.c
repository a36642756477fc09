/* kr-submitter — small readers of Runnable JSON shared by the decision
 * modules: dotted-path lookups, the wall-clock timestamp written into
 * status, and which phases are final. No I/O. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "submitter.h"

static const json_t *lookup(const json_t *obj, const char *path)
{
    const char *p = path;
    while (obj && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        obj = json_object_getn(obj, p, n);
        p += n + (dot ? 1 : 0);
    }
    return obj;
}

const char *sub_str(const json_t *obj, const char *path)
{
    const char *s = json_string_value(lookup(obj, path));
    return s ? s : "";
}

json_int_t sub_int(const json_t *obj, const char *path)
{
    return json_integer_value(lookup(obj, path));
}

void sub_now_rfc3339(char buf[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool sub_phase_terminal(const char *phase)
{
    return strcmp(phase, SUB_PHASE_SUCCEEDED) == 0 || strcmp(phase, SUB_PHASE_FAILED) == 0 ||
           strcmp(phase, SUB_PHASE_CANCELLED) == 0 || strcmp(phase, SUB_PHASE_REJECTED) == 0;
}

int sub_fail(kr_error_t *err, int http_status, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        err->code = code;
        err->http_code = http_status;
    }
    return http_status;
}

void sub_set_condition(json_t *status, const char *type, bool value, const char *reason,
                       const char *message)
{
    json_t *conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    char now[32];
    sub_now_rfc3339(now);
    json_t *c =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", value ? "True" : "False",
                  "reason", reason, "message", message, "lastTransitionTime", now);
    size_t i;
    json_t *old;
    json_array_foreach(conds, i, old)
    {
        if (strcmp(sub_str(old, "type"), type) == 0) {
            if (strcmp(sub_str(old, "status"), value ? "True" : "False") == 0)
                json_object_set(c, "lastTransitionTime",
                                json_object_get(old, "lastTransitionTime"));
            json_array_set_new(conds, i, c);
            return;
        }
    }
    json_array_append_new(conds, c);
}

bool sub_condition_true(const json_t *obj, const char *type)
{
    const json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        if (strcmp(sub_str(c, "type"), type) == 0)
            return strcmp(sub_str(c, "status"), "True") == 0;
    }
    return false;
}

void sub_condition_clear(json_t *status, const char *type, const char *reason, const char *message)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        if (strcmp(sub_str(c, "type"), type) == 0) {
            if (strcmp(sub_str(c, "status"), "True") == 0)
                sub_set_condition(status, type, false, reason, message);
            return;
        }
    }
}

void sub_status_settle(json_t *status)
{
    const char *phase = json_string_value(json_object_get(status, "phase"));
    if (!phase || !sub_phase_terminal(phase))
        return;
    char message[128];
    snprintf(message, sizeof(message),
             "the runnable is %s: the refusal holds it back no more (see status.attempts)", phase);
    sub_condition_clear(status, SUB_CONDITION_CREATE_REFUSED, phase, message);
}

const char *sub_label(const json_t *obj, const char *key)
{
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    const char *v = json_string_value(json_object_get(labels, key));
    return v ? v : "";
}
