/* libkreconcile — version, error codes and logging. Nothing here allocates:
 * error and log paths must keep working when memory is exhausted. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *kr_version(void)
{
    return KR_VERSION_STRING;
}

unsigned kr_version_number(void)
{
    return KR_VERSION_NUMBER;
}

struct errinfo {
    const char *name;
    const char *text;
};

/* Indexed by -code. */
static const struct errinfo errors[] = {
    {"KR_OK", "success"},
    {"KR_ENOMEM", "out of memory"},
    {"KR_EINVAL", "invalid argument"},
    {"KR_EPARSE", "malformed input"},
    {"KR_ENOTFOUND", "not found"},
    {"KR_EEXIST", "already exists"},
    {"KR_ECONFLICT", "conflict"},
    {"KR_EPATCH", "patch cannot be applied"},
    {"KR_ETESTFAILED", "JSON patch test operation failed"},
    {"KR_EGONE", "resource version too old (gone)"},
    {"KR_EHTTP", "server returned an error"},
    {"KR_EUNAUTHORIZED", "unauthorized"},
    {"KR_EFORBIDDEN", "forbidden"},
    {"KR_ETIMEDOUT", "timed out"},
    {"KR_ECONNECT", "connection failed"},
    {"KR_ETLS", "TLS failure"},
    {"KR_EIO", "input/output error"},
    {"KR_ESHUTDOWN", "shut down"},
    {"KR_ECANCELED", "canceled"},
    {"KR_EUNSUPPORTED", "not supported"},
    {"KR_ETOOLARGE", "too large"},
    {"KR_ETHROTTLED", "too many requests"},
    {"KR_EINVALIDOBJ", "object is invalid"},
    {"KR_ESTATE", "invalid in the current state"},
    {"KR_EUNAVAILABLE", "service unavailable"},
};

static const struct errinfo *errinfo_of(int code)
{
    if (code > 0 || code < KR_ERRCODE_MIN)
        return NULL;
    return &errors[-code];
}

const char *kr_strerror(int code)
{
    const struct errinfo *e = errinfo_of(code);
    return e ? e->text : "unknown error";
}

const char *kr_err_name(int code)
{
    const struct errinfo *e = errinfo_of(code);
    return e ? e->name : "KR_EUNKNOWN";
}

int kr_ignore_not_found(int rc)
{
    return rc == KR_ENOTFOUND ? 0 : rc;
}

void kr_error_clear(kr_error_t *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int kr_error_set(kr_error_t *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    kr_error_clear(err);
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

const char *kr_log_level_name(kr_log_level level)
{
    if ((unsigned)level >= KR_ARRAY_LEN(level_names))
        return "unknown";
    return level_names[level];
}

void kr_logv(const kr_logger *logger, kr_log_level level, const char *module, const char *fmt,
             va_list ap)
{
    if (!logger || (!logger->cb && !logger->fields_cb) || level > logger->max_level)
        return;
    char message[2048];
    vsnprintf(message, sizeof(message), fmt, ap);
    if (logger->fields_cb)
        logger->fields_cb(level, module ? module : "", message, NULL, 0, logger->user);
    else
        logger->cb(level, module ? module : "", message, logger->user);
}

void kr_log_fields(const kr_logger *logger, kr_log_level level, const char *module,
                   const kr_log_field *fields, size_t n, const char *fmt, ...)
{
    if (!logger || (!logger->cb && !logger->fields_cb) || level > logger->max_level)
        return;
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (logger->fields_cb) {
        logger->fields_cb(level, module ? module : "", message, fields, n, logger->user);
        return;
    }
    size_t used = len < 0 ? 0 : ((size_t)len < sizeof(message) ? (size_t)len : sizeof(message) - 1);
    for (size_t i = 0; i < n && used < sizeof(message) - 1; i++) {
        if (!fields[i].key || !fields[i].value)
            continue;
        int w = snprintf(message + used, sizeof(message) - used, " %s=%s", fields[i].key,
                         fields[i].value);
        if (w < 0)
            break;
        used += (size_t)w < sizeof(message) - used ? (size_t)w : sizeof(message) - used - 1;
    }
    logger->cb(level, module ? module : "", message, logger->user);
}

void kr_log(const kr_logger *logger, kr_log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kr_logv(logger, level, module, fmt, ap);
    va_end(ap);
}
