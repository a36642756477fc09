/* libkreconcile — the log sink programs use: one line per message on a
 * stream, as JSON ({"ts","level","logger","msg", then the fields}) or text
 * ("TS LEVEL logger: msg key=value"). A mutex keeps lines whole across
 * threads. It writes what the library logs, and the library never logs a
 * credential. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "manager_internal.h"

struct kr_log_sink {
    FILE *out;
    kr_log_format format;
    pthread_mutex_t lock;
};

/* RFC 3339 in UTC with milliseconds: "2026-12-03T09:15:02.123Z". */
static void log_timestamp(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char sec[32];
    strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}

static bool reserved_key(const char *key)
{
    return strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "logger") == 0 ||
           strcmp(key, "msg") == 0;
}

/* A JSON string of `s`; invalid UTF-8 (json_string refuses it) is kept
 * with every non-ASCII byte replaced by '?'. NULL when out of memory. */
static json_t *json_text(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    char *copy = kr_strdup(s);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    v = json_string(copy);
    kr_free(copy);
    return v;
}

static int buf_dump(const char *data, size_t len, void *user)
{
    return kr_buf_append(user, data, len) == 0 ? 0 : -1;
}

/* A JSON line into `out` (0, or -1 when memory is exhausted). A field
 * named like a fixed member is written with a "field." prefix rather than
 * replacing it. */
static int json_line(kr_buf *out, const char *ts, kr_log_level level, const char *module,
                     const char *message, const kr_log_field *fields, size_t n)
{
    json_t *o = json_object();
    if (!o)
        return -1;
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(kr_log_level_name(level)));
    json_object_set_new(o, "logger", json_text(module));
    json_object_set_new(o, "msg", json_text(message));
    for (size_t i = 0; i < n; i++) {
        if (!fields[i].key || !fields[i].value)
            continue;
        json_t *v = json_text(fields[i].value);
        if (reserved_key(fields[i].key) || json_object_get(o, fields[i].key)) {
            char key[128];
            snprintf(key, sizeof(key), "field.%s", fields[i].key);
            json_object_set_new(o, key, v);
        } else {
            json_object_set_new(o, fields[i].key, v);
        }
    }
    int rc = json_dump_callback(o, buf_dump, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return rc;
}

/* Text: control characters escaped so that one message stays one line;
 * values holding spaces, quotes or '=' quoted (logfmt). */
static void text_escaped(kr_buf *b, const char *s, bool quote_if_needed)
{
    bool quote = quote_if_needed && (*s == '\0' || strpbrk(s, " \"=\t\n\r") != NULL);
    if (quote)
        kr_buf_append_str(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            kr_buf_append_str(b, "\\n");
        else if (*p == '\r')
            kr_buf_append_str(b, "\\r");
        else if (*p == '\t')
            kr_buf_append_str(b, "\\t");
        else if (*p == '"' && quote)
            kr_buf_append_str(b, "\\\"");
        else if (*p == '\\' && quote)
            kr_buf_append_str(b, "\\\\");
        else if (*p < 0x20 || *p == 0x7f)
            kr_buf_printf(b, "\\x%02x", *p);
        else
            kr_buf_append(b, p, 1);
    }
    if (quote)
        kr_buf_append_str(b, "\"");
}

static void upper_level(kr_log_level level, char *buf, size_t len)
{
    snprintf(buf, len, "%s", kr_log_level_name(level));
    for (char *p = buf; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
}

static void sink_fields(kr_log_level level, const char *module, const char *message,
                        const kr_log_field *fields, size_t n, void *user)
{
    kr_log_sink_t *sink = user;
    char ts[48];
    log_timestamp(ts, sizeof(ts));
    module = module ? module : "";
    message = message ? message : "";
    kr_buf text = {0};
    if (sink->format == KR_LOG_FORMAT_JSON) {
        if (json_line(&text, ts, level, module, message, fields, n) != 0)
            kr_buf_free(&text);
    } else {
        char lv[16];
        upper_level(level, lv, sizeof(lv));
        kr_buf_printf(&text, "%s %-5s %s: ", ts, lv, module);
        text_escaped(&text, message, false);
        for (size_t i = 0; i < n; i++) {
            if (!fields[i].key || !fields[i].value)
                continue;
            kr_buf_printf(&text, " %s=", fields[i].key);
            text_escaped(&text, fields[i].value, true);
        }
    }
    pthread_mutex_lock(&sink->lock);
    if (text.data)
        fprintf(sink->out, "%s\n", text.data);
    else /* out of memory: still say something, unformatted */
        fprintf(sink->out, "%s %s %s: (log line lost: out of memory)\n", ts,
                kr_log_level_name(level), module);
    fflush(sink->out);
    pthread_mutex_unlock(&sink->lock);
    kr_buf_free(&text);
}

static void sink_plain(kr_log_level level, const char *module, const char *message, void *user)
{
    sink_fields(level, module, message, NULL, 0, user);
}

int kr_log_sink_new(FILE *out, kr_log_format format, kr_log_level max_level, kr_log_sink_t **sink,
                    kr_logger *out_logger, kr_error_t *err)
{
    if (!out || !sink || !out_logger ||
        (format != KR_LOG_FORMAT_JSON && format != KR_LOG_FORMAT_TEXT))
        return kr_error_set(err, KR_EINVAL, "kr_log_sink_new: invalid argument");
    kr_log_sink_t *s = kr_calloc(1, sizeof(*s));
    if (!s)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    s->out = out;
    s->format = format;
    pthread_mutex_init(&s->lock, NULL);
    *out_logger =
        (kr_logger){.cb = sink_plain, .max_level = max_level, .user = s, .fields_cb = sink_fields};
    *sink = s;
    return 0;
}

void kr_log_sink_free(kr_log_sink_t *sink)
{
    if (!sink)
        return;
    pthread_mutex_destroy(&sink->lock);
    kr_free(sink);
}
