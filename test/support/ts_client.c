/* libkreconcile tests — implementation of the libcurl wire-test client. */
#include "ts_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct sink {
    char *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct sink *s = user;
    size_t n = size * nmemb;
    char *grown = realloc(s->data, s->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + s->len, ptr, n);
    s->data = grown;
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *user)
{
    tc_response *r = user;
    size_t n = size * nmemb;
    size_t line = n, at = strlen(r->headers);
    while (line && (ptr[line - 1] == '\r' || ptr[line - 1] == '\n'))
        line--;
    if (line && strncmp(ptr, "HTTP/", 5) != 0)
        snprintf(r->headers + at, sizeof(r->headers) - at, "%.*s\n", (int)line, ptr);
    if (n > 13 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
        size_t len = n - 13;
        while (len && (ptr[13 + len - 1] == '\r' || ptr[13 + len - 1] == '\n'))
            len--;
        snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)len, ptr + 13);
    }
    if (n > 9 && strncasecmp(ptr, "Warning:", 8) == 0) {
        size_t len = n - 9, used = strlen(r->warnings);
        while (len && (ptr[9 + len - 1] == '\r' || ptr[9 + len - 1] == '\n'))
            len--;
        snprintf(r->warnings + used, sizeof(r->warnings) - used, "%.*s\n", (int)len, ptr + 9);
    }
    return n;
}

static struct curl_slist *header_list(const char *content_type, const char *const *headers)
{
    struct curl_slist *h = NULL;
    char ct[256];
    if (content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        h = curl_slist_append(h, ct);
    }
    h = curl_slist_append(h, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    return h;
}

static char client_cert[512], client_key[512];

void tc_set_client_cert(const char *cert, const char *key)
{
    snprintf(client_cert, sizeof(client_cert), "%s", cert ? cert : "");
    snprintf(client_key, sizeof(client_key), "%s", key ? key : "");
}

void tc_request(const char *base, const char *method, const char *path, const char *content_type,
                const char *body, const char *const *headers, tc_response *out)
{
    memset(out, 0, sizeof(*out));
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", base, path);
    CURL *c = curl_easy_init();
    struct sink s = {0};
    struct curl_slist *h = header_list(content_type, headers);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L); /* no body follows the headers */
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (client_cert[0]) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, client_cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, client_key);
    }
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(out->content_type, sizeof(out->content_type), "%s", ct ? ct : "");
    }
    out->body = s.data;
    out->len = s.len;
    if (s.data)
        out->json = json_loadb(s.data, s.len, 0, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

void tc_json(const char *base, const char *method, const char *path, const char *body,
             tc_response *out)
{
    tc_request(base, method, path, body ? "application/json" : NULL, body, NULL, out);
}

void tc_free(tc_response *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* ---- watch streams ------------------------------------------------------------- */

struct tc_watch {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    struct sink raw;
    json_t *events; /* parsed complete lines */
    size_t consumed;
    bool done;
};

static void split_lines(tc_watch *w)
{
    char *nl;
    while (w->raw.data &&
           (nl = memchr(w->raw.data + w->consumed, '\n', w->raw.len - w->consumed)) != NULL) {
        size_t len = (size_t)(nl - (w->raw.data + w->consumed));
        json_t *ev = json_loadb(w->raw.data + w->consumed, len, 0, NULL);
        json_array_append_new(w->events, ev ? ev : json_null());
        w->consumed += len + 1;
    }
}

static int small_rcvbuf(void *user, curl_socket_t fd, curlsocktype purpose)
{
    (void)user;
    (void)purpose;
    int size = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    return CURL_SOCKOPT_OK;
}

static tc_watch *watch_open(const char *base, const char *path, const char *const *headers,
                            bool small)
{
    tc_watch *w = calloc(1, sizeof(*w));
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", base, path);
    w->events = json_array();
    w->multi = curl_multi_init();
    w->easy = curl_easy_init();
    w->headers = header_list(NULL, headers);
    curl_easy_setopt(w->easy, CURLOPT_URL, url);
    curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, &w->raw);
    curl_easy_setopt(w->easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(w->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(w->easy, CURLOPT_NOSIGNAL, 1L);
    if (small)
        curl_easy_setopt(w->easy, CURLOPT_SOCKOPTFUNCTION, small_rcvbuf);
    curl_multi_add_handle(w->multi, w->easy);
    /* Pump until the response headers are in, so that the watch is
     * registered before the test writes. */
    for (int i = 0; i < 200; i++) {
        int running = 0;
        curl_multi_perform(w->multi, &running);
        long code = 0;
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code != 0 || !running)
            break;
        curl_multi_poll(w->multi, NULL, 0, 50, NULL);
    }
    return w;
}

tc_watch *tc_watch_open(const char *base, const char *path, const char *const *headers)
{
    return watch_open(base, path, headers, false);
}

tc_watch *tc_watch_open_small(const char *base, const char *path)
{
    return watch_open(base, path, NULL, true);
}

static void pump(tc_watch *w, int wait_ms)
{
    int running = 0;
    curl_multi_perform(w->multi, &running);
    if (running)
        curl_multi_poll(w->multi, NULL, 0, wait_ms, NULL);
    curl_multi_perform(w->multi, &running);
    if (!running)
        w->done = true;
    split_lines(w);
}

size_t tc_watch_wait(tc_watch *w, size_t n, int deadline_ms)
{
    for (int waited = 0; json_array_size(w->events) < n && !w->done && waited < deadline_ms;
         waited += 20)
        pump(w, 20);
    split_lines(w);
    return json_array_size(w->events);
}

bool tc_watch_wait_end(tc_watch *w, int deadline_ms)
{
    for (int waited = 0; !w->done && waited < deadline_ms; waited += 20)
        pump(w, 20);
    return w->done;
}

json_t *tc_watch_event(tc_watch *w, size_t i)
{
    return json_array_get(w->events, i);
}

size_t tc_watch_lines(const tc_watch *w)
{
    return json_array_size(w->events);
}

size_t tc_watch_partial(const tc_watch *w)
{
    return w->raw.len - w->consumed;
}

void tc_watch_close(tc_watch *w)
{
    if (!w)
        return;
    curl_multi_remove_handle(w->multi, w->easy);
    curl_easy_cleanup(w->easy);
    curl_multi_cleanup(w->multi);
    curl_slist_free_all(w->headers);
    free(w->raw.data);
    json_decref(w->events);
    free(w);
}

const char *tc_event_type(const json_t *ev)
{
    return json_string_value(json_object_get(ev, "type"));
}

const json_t *tc_dig(const json_t *obj, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part && obj; part = strtok_r(NULL, ".", &save))
        obj = json_is_array(obj) ? json_array_get(obj, strtoul(part, NULL, 10))
                                 : json_object_get(obj, part);
    return obj;
}

const char *tc_event_name(const json_t *ev)
{
    json_t *md = json_object_get(json_object_get(ev, "object"), "metadata");
    return json_string_value(json_object_get(md, "name"));
}

unsigned long long tc_event_rv(const json_t *ev)
{
    json_t *md = json_object_get(json_object_get(ev, "object"), "metadata");
    const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
    return rv ? strtoull(rv, NULL, 10) : 0;
}
