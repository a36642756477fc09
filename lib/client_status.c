/* libkreconcile — turning failed responses into kr_error_t: the apiserver's
 * Status (code, reason, message, details, retryAfterSeconds) when the body
 * is one, the HTTP status and a snippet of the body otherwise. A body that
 * is not JSON is never read as a Status. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_internal.h"

bool kr_is_status(const json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    return kind && strcmp(kind, "Status") == 0;
}

int kr_status_code_for(long http_status, const char *reason)
{
    if (reason && strcmp(reason, "AlreadyExists") == 0)
        return KR_EEXIST;
    if (reason && (strcmp(reason, "Expired") == 0 || strcmp(reason, "Gone") == 0))
        return KR_EGONE;
    switch (http_status) {
    case 400:
        return KR_EINVAL;
    case 401:
        return KR_EUNAUTHORIZED;
    case 403:
        return KR_EFORBIDDEN;
    case 404:
        return KR_ENOTFOUND;
    case 405:
    case 406:
    case 415:
        return KR_EUNSUPPORTED;
    case 409:
        return KR_ECONFLICT;
    case 410:
        return KR_EGONE;
    case 413:
        return KR_ETOOLARGE;
    case 422:
        return KR_EINVALIDOBJ;
    case 429:
        return KR_ETHROTTLED;
    case 504:
        return KR_ETIMEDOUT;
    default:
        return http_status >= 500 ? KR_EUNAVAILABLE : KR_EHTTP;
    }
}

/* The reason client-go gives a response without a Status. */
static const char *reason_for(long http_status)
{
    switch (http_status) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        return "Unknown";
    }
}

static void copy_str(char *dst, size_t size, const char *src)
{
    if (!src)
        src = "";
    snprintf(dst, size, "%s", src);
}

int kr_status_error_json(const json_t *status, long http_status, int retry_after_s,
                         const char *what, kr_error_t *err)
{
    json_int_t code = json_integer_value(json_object_get(status, "code"));
    long http = code > 0 ? (long)code : http_status;
    const char *reason = json_string_value(json_object_get(status, "reason"));
    const char *message = json_string_value(json_object_get(status, "message"));
    json_t *details = json_object_get(status, "details");
    int kr = kr_status_code_for(http, reason);
    if (message && *message)
        kr_error_set(err, kr, "%s", message);
    else
        kr_error_set(err, kr, "%s: the server answered %ld %s", what ? what : "request", http,
                     reason ? reason : reason_for(http));
    if (!err)
        return kr;
    err->http_code = (int)http;
    copy_str(err->reason, sizeof(err->reason), reason ? reason : reason_for(http));
    copy_str(err->details_name, sizeof(err->details_name),
             json_string_value(json_object_get(details, "name")));
    copy_str(err->details_kind, sizeof(err->details_kind),
             json_string_value(json_object_get(details, "kind")));
    json_int_t ras = json_integer_value(json_object_get(details, "retryAfterSeconds"));
    err->retry_after_seconds = ras > 0 ? (int)ras : (retry_after_s > 0 ? retry_after_s : 0);
    return kr;
}

static bool is_json_type(const char *content_type)
{
    if (!content_type)
        return false;
    while (*content_type == ' ')
        content_type++;
    return strncasecmp(content_type, "application/json", 16) == 0;
}

int kr_status_error(long http_status, const char *content_type, const char *body, size_t len,
                    int retry_after_s, const char *what, kr_error_t *err)
{
    if (is_json_type(content_type) && body && len > 0) {
        json_t *status = kr_json_loadb_server(body, len, 0, NULL);
        if (status && kr_is_status(status)) {
            int rc = kr_status_error_json(status, http_status, retry_after_s, what, err);
            json_decref(status);
            return rc;
        }
        json_decref(status);
    }
    int kr = kr_status_code_for(http_status, NULL);
    /* Plain text (e.g. flow control's 429): its first line is the message. */
    char snippet[256] = "";
    if (body && len > 0 && !is_json_type(content_type)) {
        size_t n = 0;
        while (n < len && n < sizeof(snippet) - 1 && body[n] != '\n' && body[n] != '\r' &&
               body[n] != '\0')
            n++;
        memcpy(snippet, body, n);
        snippet[n] = '\0';
    }
    if (snippet[0])
        kr_error_set(err, kr, "%s", snippet);
    else
        kr_error_set(err, kr, "%s: the server answered %ld %s", what ? what : "request",
                     http_status, reason_for(http_status));
    if (err) {
        err->http_code = (int)http_status;
        copy_str(err->reason, sizeof(err->reason), reason_for(http_status));
        err->retry_after_seconds = retry_after_s > 0 ? retry_after_s : 0;
    }
    return kr;
}

/* A quoted-string at *p (RFC 9110): its text unescaped into `out`, *p
 * past it. false when malformed. */
static bool quoted(const char **p, kr_buf *out)
{
    const char *s = *p;
    if (*s != '"')
        return false;
    for (s++; *s && *s != '"'; s++) {
        if (*s == '\\') {
            if (!s[1])
                return false;
            s++;
        }
        if (kr_buf_append(out, s, 1) != 0)
            return false;
    }
    if (*s != '"' || kr_buf_append(out, "", 0) != 0)
        return false;
    *p = s + 1;
    return true;
}

size_t kr_parse_warnings(const char *value, void (*fn)(int code, const char *text, void *user),
                         void *user)
{
    size_t n = 0;
    const char *p = value;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            return n;
        /* warn-code: three digits */
        if (!(p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
              p[2] <= '9' && p[3] == ' '))
            return n;
        int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        p += 4;
        /* warn-agent: a token (or host[:port]) */
        size_t agent = strcspn(p, " \t\",");
        if (agent == 0 || p[agent] != ' ')
            return n;
        p += agent + 1;
        kr_buf text = {0};
        if (!quoted(&p, &text)) {
            kr_buf_free(&text);
            return n;
        }
        /* an optional warn-date */
        if (*p == ' ' && p[1] == '"') {
            kr_buf date = {0};
            p++;
            bool ok = quoted(&p, &date);
            kr_buf_free(&date);
            if (!ok) {
                kr_buf_free(&text);
                return n;
            }
        }
        fn(code, text.data ? text.data : "", user);
        kr_buf_free(&text);
        n++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ',')
            return n;
    }
}
