/* Fuzz target: feeds a request (method, path with query, headers, body) to
 * the test server's transport-free handler in-process. Input format:
 *   "METHOD /path?query\n" then "Header: value\n" lines, a blank line,
 *   then the body. The server accumulates state across inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "testserver/ts_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A CRD with a structural schema, so that every input may write custom
 * resources that are pruned, defaulted and validated against it. */
static const char schema_crd[] =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"kind\":\"Widget\"},"
    "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
    "\"subresources\":{\"status\":{}},\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
    "\"properties\":{\"spec\":{\"type\":\"object\",\"required\":[\"image\"],"
    "\"properties\":{\"image\":{\"type\":\"string\",\"maxLength\":20,"
    "\"pattern\":\"^[a-z]+(:\\\\d+)?$\"},\"replicas\":{\"type\":\"integer\",\"minimum\":0,"
    "\"default\":1},\"mode\":{\"type\":\"string\",\"enum\":[\"A\",\"B\"],"
    "\"nullable\":true},\"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "\"tags\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"maxItems\":4,"
    "\"items\":{\"type\":\"string\",\"format\":\"cidr\"}},\"ports\":{\"type\":\"array\","
    "\"x-kubernetes-list-type\":\"map\",\"x-kubernetes-list-map-keys\":[\"name\"],"
    "\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
    "\"port\":{\"type\":\"integer\",\"default\":80}}}},\"limits\":{\"type\":\"object\","
    "\"additionalProperties\":{\"x-kubernetes-int-or-string\":true,\"anyOf\":"
    "[{\"type\":\"integer\"},{\"type\":\"string\"}]}},\"extra\":{\"type\":\"object\","
    "\"x-kubernetes-preserve-unknown-fields\":true},\"job\":{\"type\":\"object\","
    "\"x-kubernetes-embedded-resource\":true}}},\"status\":{\"type\":\"object\","
    "\"properties\":{\"phase\":{\"type\":\"string\"}}}}}}}]}}";

static kr_testserver_t *server(void)
{
    static kr_testserver_t *ts;
    if (!ts) {
        kr_testserver_opts o = {.seed = 7, .history = 64, .list_snapshots = 4};
        if (kr_testserver_start(&o, &ts, NULL) != 0 ||
            kr_testserver_load(ts, schema_crd, strlen(schema_crd), NULL) != 0)
            abort();
    }
    return ts;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent- and plus-decoding in place, as the transport does. */
static void decode(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *out++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *out++ = *s == '+' ? ' ' : *s;
        }
    }
    *out = '\0';
}

static size_t parse_query(char *q, ts_kv *kv, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *p = strtok_r(q, "&", &save); p && n < max; p = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(p, '=');
        if (eq)
            *eq = '\0';
        kv[n].key = p;
        kv[n].value = eq ? eq + 1 : p + strlen(p);
        decode(kv[n].key);
        decode(kv[n].value);
        n++;
    }
    return n;
}

static void parse_header(char *line, ts_request *req)
{
    char *colon = strchr(line, ':');
    if (!colon)
        return;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ')
        v++;
    if (strcasecmp(line, "accept") == 0)
        req->accept = v;
    else if (strcasecmp(line, "content-type") == 0)
        req->content_type = v;
    else if (strcasecmp(line, "authorization") == 0)
        req->authorization = v;
    else if (strcasecmp(line, "user-agent") == 0)
        req->user_agent = v;
    else if (strcasecmp(line, "impersonate-user") == 0)
        req->impersonate_user = v;
    else if (strcasecmp(line, "impersonate-uid") == 0)
        req->impersonate_uid = v;
    else if (strcasecmp(line, "impersonate-group") == 0 && req->nimpersonate_groups < TS_MAX_GROUPS)
        req->impersonate_groups[req->nimpersonate_groups++] = v;
    else if (strncasecmp(line, "impersonate-extra-", 18) == 0 &&
             req->nimpersonate_extras < TS_MAX_GROUPS) {
        req->impersonate_extra_keys[req->nimpersonate_extras] = line + 18;
        req->impersonate_extra_values[req->nimpersonate_extras++] = v;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    ts_request req = {0};
    ts_kv query[32];
    char *body = strstr(text, "\n\n");
    if (body) {
        *body = '\0';
        req.body = body + 2;
        req.body_len = size - (size_t)(body + 2 - text);
    }
    char *save = NULL;
    char *first = strtok_r(text, "\n", &save);
    char *sp = first ? strchr(first, ' ') : NULL;
    if (sp) {
        *sp = '\0';
        req.method = first;
        char *path = sp + 1;
        char *qm = strchr(path, '?');
        if (qm) {
            *qm = '\0';
            req.nquery = parse_query(qm + 1, query, 32);
            req.query = query;
        }
        decode(path);
        req.path = path;
        for (char *h = strtok_r(NULL, "\n", &save); h; h = strtok_r(NULL, "\n", &save))
            parse_header(h, &req);
        ts_response resp;
        ts_handle(server(), &req, &resp);
        ts_response_clear(&resp);
    }
    free(text);
    return 0;
}
