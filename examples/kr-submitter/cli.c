/* kr-submitter — the CLI verbs (submit, approve, reject, cancel, get, list,
 * history): each is one call to the API with libcurl, printed as a table or
 * as JSON. The token comes from --token, --token-file or
 * $KR_SUBMITTER_TOKEN and is never printed. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "submitter.h"

#define DEFAULT_SERVER "http://127.0.0.1:8080"
#define WAIT_POLL_MS 1000
/* submit --wait's pause after a transient error, doubled after each one
 * up to the most */
#define WAIT_BACKOFF_MS 500
#define WAIT_BACKOFF_MAX_MS 5000
/* --retry-for's default: how long submit, approve, reject and cancel try
 * again after an answer lost or a 5xx/429 */
#define RETRY_FOR_DEFAULT_MS 60000
/* http_call: the server could not be reached (to retry), or its answer
 * could not be used (too large, no JSON object: not to retry) */
#define HTTP_UNREACHED (-1)
#define HTTP_UNUSABLE (-2)

typedef struct cli_opts {
    const char *server;
    const char *token;
    const char *token_file;
    const char *ca_file; /* --certificate-authority: trusted for an https --server */
    const char *output; /* "table", "json" or "yaml" */
    const char *file;
    const char *clusters;
    const char *namespace_;
    const char *key;
    const char *spec_hash;
    bool wait;
    bool verbose; /* submit -v: say the idempotency key used */
    uint64_t retry_for_ms; /* --retry-for: no new try starts after it */
    long chunk_size; /* list: runnables per request; 0: all in one */
    bool all_namespaces; /* list -A: every namespace */
    const char *uid; /* history: of the runnable with this uid */
    const char *target; /* NAME or NS/NAME */
} cli_opts;

static const char usage[] =
    "kr-submitter - submit runnables with approval, retry, failover and verification\n"
    "\n"
    "Usage:\n"
    "  kr-submitter serve [flags]                 run the controller and the API\n"
    "  kr-submitter submit -f FILE [--clusters a,b] [--idempotency-key K] [--wait]\n"
    "                      [--retry-for 1m] [-v]\n"
    "  kr-submitter approve|reject NAME [--spec-hash H]\n"
    "  kr-submitter cancel|get NAME\n"
    "  kr-submitter history NAME [--uid U]\n"
    "  kr-submitter list [-A] [--chunk-size N]\n"
    "  kr-submitter whoami                        who the API takes the token for\n"
    "\n"
    "Every verb takes --server URL (http(s)://HOST[:PORT], no path), --token T or\n"
    "--token-file F, -n NS and -o table|json|yaml;\n"
    "NAME may be written NS/NAME. 'kr-submitter VERB --help' lists a verb's flags.\n"
    "submit, approve, reject and cancel try again for --retry-for (default 1m) when\n"
    "the answer is lost or a 5xx/429: submit under one idempotency key (a fresh\n"
    "random one when none is given), so one invocation makes at most one runnable.\n";

/* The verbs, what they take and their usage line. */
typedef struct verb_spec {
    const char *name;
    const char *usage;
    const char *summary;
    int n_names; /* positional NAMEs: 0 or 1 */
    bool submit_flags; /* -f, --clusters, --idempotency-key, --wait */
    bool hash_flag; /* --spec-hash */
    bool list_flags; /* -A, --chunk-size */
    bool uid_flag; /* --uid */
    bool retry_flag; /* --retry-for: the verb is safe to send again */
} verb_spec;

static const verb_spec verbs[] = {
    {.name = "submit",
     .usage = "-f FILE [--clusters a,b] [--idempotency-key K] [--wait] [--retry-for D] [-v] "
              "[flags]",
     .summary = "submit a manifest (or a Runnable) once",
     .submit_flags = true,
     .retry_flag = true},
    {.name = "approve",
     .usage = "NAME [--spec-hash H] [flags]",
     .summary = "approve a runnable awaiting approval",
     .n_names = 1,
     .hash_flag = true,
     .retry_flag = true},
    {.name = "reject",
     .usage = "NAME [--spec-hash H] [flags]",
     .summary = "reject a runnable awaiting approval",
     .n_names = 1,
     .hash_flag = true,
     .retry_flag = true},
    {.name = "cancel",
     .usage = "NAME [flags]",
     .summary = "cancel a runnable: its workload copy is deleted",
     .n_names = 1,
     .retry_flag = true},
    {.name = "get", .usage = "NAME [flags]", .summary = "show one runnable", .n_names = 1},
    {.name = "history",
     .usage = "NAME [--uid U] [flags]",
     .summary = "every transition of a runnable, from the inventory",
     .n_names = 1,
     .uid_flag = true},
    {.name = "list",
     .usage = "[-A] [--chunk-size N] [flags]",
     .summary = "list runnables",
     .list_flags = true},
    {.name = "whoami",
     .usage = "[flags]",
     .summary = "who the API takes the token for (its user, uid and groups)"},
};

static const verb_spec *find_verb(const char *name)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    }
    return NULL;
}

typedef struct body_buf {
    char *data;
    size_t len;
} body_buf;

/* The most an answer may hold: far past any list the API gives, short of
 * what a server that never ends its body could make us hold. */
#define MAX_ANSWER (64u << 20)
/* The most a manifest may hold: the API refuses more than 16 MiB. */
#define MAX_MANIFEST (16u << 20)
/* The longest bearer token sent (service account tokens are 1-2 KB). */
#define MAX_TOKEN 4000

static size_t collect(char *ptr, size_t size, size_t n, void *user)
{
    body_buf *b = user;
    size_t add = size * n;
    if (add > MAX_ANSWER - b->len)
        return 0; /* curl stops: CURLE_WRITE_ERROR */
    char *grown = realloc(b->data, b->len + add + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, ptr, add);
    b->data = grown;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* One request; *out is the decoded JSON answer (new, may be NULL). Returns
 * the HTTP status, HTTP_UNREACHED when the server could not be reached
 * (refused, reset, timed out), else HTTP_UNUSABLE. */
static long http_call(const cli_opts *o, const char *method, const char *path, const char *query,
                      const char *body, size_t len, json_t **out)
{
    *out = NULL;
    CURL *c = curl_easy_init();
    if (!c)
        return HTTP_UNUSABLE;
    /* as long as it takes: a query is never cut */
    size_t url_len = strlen(o->server) + strlen(path) + (query ? strlen(query) : 0) + 2;
    char *url = malloc(url_len), auth[4096];
    if (!url) {
        fprintf(stderr, "kr-submitter: out of memory\n");
        curl_easy_cleanup(c);
        return HTTP_UNUSABLE;
    }
    snprintf(url, url_len, "%s%s%s%s", o->server, path, query && *query ? "?" : "",
             query ? query : "");
    /* no token, no header: the API then says what it wants */
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token ? o->token : "");
    struct curl_slist *headers = o->token && *o->token ? curl_slist_append(NULL, auth) : NULL;
    headers = curl_slist_append(headers, "Accept: application/json");
    if (body)
        headers = curl_slist_append(headers, "Content-Type: application/yaml");
    body_buf resp = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (o->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    if (body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
    }
    long status = HTTP_UNUSABLE;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING ||
        rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_PARTIAL_FILE)
        status = HTTP_UNREACHED;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else if (rc == CURLE_WRITE_ERROR)
        fprintf(stderr, "kr-submitter: %s: the answer is larger than %u MiB\n", o->server,
                MAX_ANSWER >> 20);
    else
        fprintf(stderr, "kr-submitter: %s: %s\n", *o->server ? o->server : "--server \"\"",
                curl_easy_strerror(rc));
    if (resp.data)
        *out = json_loadb(resp.data, resp.len, 0, NULL);
    /* a success the client cannot read is no success: not the API, or a
     * broken answer (a caller must not take an empty table for one) */
    if (status >= 200 && status < 300 && !json_is_object(*out)) {
        fprintf(stderr,
                "kr-submitter: %s%s: HTTP %ld with an answer that is no JSON object "
                "(is --server the submitter's API?)\n",
                o->server, path, status);
        json_decref(*out);
        *out = NULL;
        status = HTTP_UNUSABLE;
    }
    free(resp.data);
    free(url);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return status;
}

/* The whole of `path` ("-": stdin), at most MAX_MANIFEST bytes; NULL after
 * saying why (it cannot be opened or read, is a directory, or is larger). */
static char *read_file(const char *path, size_t *len)
{
    bool std = strcmp(path, "-") == 0;
    FILE *f = std ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "kr-submitter: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *data = malloc(MAX_MANIFEST + 2);
    *len = data ? fread(data, 1, MAX_MANIFEST + 1, f) : 0;
    const char *why = !data                 ? "out of memory"
                      : ferror(f)           ? strerror(errno)
                      : *len > MAX_MANIFEST ? "larger than 16 MiB, more than the API takes"
                                            : NULL;
    if (!std)
        fclose(f);
    if (why) {
        fprintf(stderr, "kr-submitter: cannot read %s: %s\n", path, why);
        free(data);
        return NULL;
    }
    data[*len] = '\0';
    return data;
}

/* Rows of cells printed as kubectl prints tables: each column as wide as
 * its widest cell, three spaces between columns. */
#define TABLE_COLUMNS 7

typedef struct table {
    size_t n_cols, n_rows;
    char **cells; /* n_rows * n_cols, each new */
    size_t width[TABLE_COLUMNS];
} table;

static void table_add(table *t, const char *const *row)
{
    char **grown = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof(*grown));
    if (!grown)
        return;
    t->cells = grown;
    for (size_t c = 0; c < t->n_cols; c++) {
        char *cell = strdup(row[c] ? row[c] : "");
        t->cells[t->n_rows * t->n_cols + c] = cell;
        size_t w = cell ? strlen(cell) : 0;
        if (w > t->width[c])
            t->width[c] = w;
    }
    t->n_rows++;
}

static void table_print(table *t)
{
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            if (c + 1 < t->n_cols)
                printf("%-*s   ", (int)t->width[c], cell ? cell : "");
            else
                printf("%s\n", cell ? cell : "");
        }
    }
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
}

/* One row per runnable; with a NAMESPACE column first when they may be of
 * several namespaces (list -A), as kubectl get prints them. */
static void print_table(const json_t *items, bool with_namespace)
{
    table t = {.n_cols = with_namespace ? 7 : 6};
    const char *head[] = {"NAMESPACE", "NAME",         "PHASE",    "CLUSTER",
                          "ATTEMPT",   "SUBMITTED-BY", "APPROVALS"};
    table_add(&t, with_namespace ? head : head + 1);
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r)
    {
        char attempt[24], approvals[64];
        snprintf(attempt, sizeof(attempt), "%lld", (long long)sub_int(r, "status.attempt"));
        approval_summary(r, approvals, sizeof(approvals));
        const char *row[] = {sub_str(r, "metadata.namespace"),
                             sub_str(r, "metadata.name"),
                             *sub_str(r, "status.phase") ? sub_str(r, "status.phase") : "-",
                             *sub_str(r, "status.cluster") ? sub_str(r, "status.cluster") : "-",
                             attempt,
                             sub_str(r, "status.submittedBy"),
                             approvals};
        table_add(&t, with_namespace ? row : row + 1);
    }
    table_print(&t);
}

/* The transitions, one row each; with a UID column first when they are
 * of more than one runnable of the name (one deleted, one made again). */
static void print_history(const json_t *events)
{
    size_t i;
    json_t *e;
    bool several = false;
    json_array_foreach(events, i, e)
    {
        if (strcmp(sub_str(e, "uid"), sub_str(json_array_get(events, 0), "uid")) != 0)
            several = true;
    }
    size_t skip = several ? 0 : 1;
    table t = {.n_cols = 7 - skip};
    const char *head[] = {"UID", "TIME", "EVENT", "ACTOR", "CLUSTER", "RV", "OUTCOME"};
    table_add(&t, head + skip);
    json_array_foreach(events, i, e)
    {
        const char *row[] = {sub_str(e, "uid"),     sub_str(e, "time"),
                             sub_str(e, "event"),   sub_str(e, "actor"),
                             sub_str(e, "cluster"), sub_str(e, "resourceVersion"),
                             sub_str(e, "outcome")};
        table_add(&t, row + skip);
    }
    table_print(&t);
}

/* Print an answer: the error to stderr (exit 1), else the document. */
/* whoami as kubectl auth whoami prints it. */
static void print_user(const json_t *doc)
{
    printf("ATTRIBUTE   VALUE\nUsername    %s\n", sub_str(doc, "username"));
    if (*sub_str(doc, "uid"))
        printf("UID         %s\n", sub_str(doc, "uid"));
    printf("Groups      [");
    size_t i;
    const json_t *g;
    json_array_foreach(json_object_get(doc, "groups"), i, g)
        printf("%s%s", i ? " " : "", json_string_value(g) ? json_string_value(g) : "");
    printf("]\n");
}

static int show(const cli_opts *o, long status, json_t *doc, bool history)
{
    if (status < 0)
        return 1;
    if (status >= 300) {
        const char *msg = sub_str(doc, "error");
        fprintf(stderr, "kr-submitter: %s (HTTP %ld)%s\n", *msg ? msg : "request failed", status,
                status == 401 && !(o->token && *o->token)
                    ? ": no token was given (--token, --token-file or $KR_SUBMITTER_TOKEN)"
                    : "");
        return 1;
    }
    if (strcmp(o->output, "json") == 0) {
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text ? text : "null");
        free(text);
    } else if (strcmp(o->output, "yaml") == 0) {
        char *text = NULL;
        kr_error_t err = {0};
        if (kr_yaml_dump(doc, &text, &err) != 0) {
            fprintf(stderr, "kr-submitter: %s\n", err.message);
            return 1;
        }
        fputs(text, stdout);
        kr_free(text);
    } else if (history) {
        print_history(json_object_get(doc, "items"));
    } else if (json_object_get(doc, "username")) {
        print_user(doc);
    } else if (json_array_size(json_object_get(doc, "items")) == 0 &&
               json_object_get(doc, "items")) {
        /* as kubectl get says it, on stderr: stdout stays empty */
        if (o->all_namespaces)
            fprintf(stderr, "No resources found\n");
        else
            fprintf(stderr, "No resources found in %s namespace.\n",
                    o->namespace_ ? o->namespace_ : "default");
    } else if (json_object_get(doc, "items")) {
        print_table(json_object_get(doc, "items"), o->all_namespaces);
    } else {
        json_t *one = json_pack("[O]", doc);
        print_table(one, false);
        json_decref(one);
    }
    return 0;
}

/* "/api/v1/runnables/NS/NAME[/verb]" for the target. */
static void runnable_path(const cli_opts *o, const char *verb, char *out, size_t len)
{
    const char *target = o->target ? o->target : ""; /* parse() requires one */
    if (strchr(target, '/'))
        snprintf(out, len, "/api/v1/runnables/%s%s%s", target, verb ? "/" : "", verb ? verb : "");
    else
        snprintf(out, len, "/api/v1/runnables/%s/%s%s%s", o->namespace_ ? o->namespace_ : "default",
                 target, verb ? "/" : "", verb ? verb : "");
}

/* Add name=value to the query *q (new, grown as it takes: a value is
 * never cut); false after saying so when out of memory. */
static bool add_query(CURL *c, char **q, const char *name, const char *value)
{
    if (!value || !*value)
        return true;
    char *esc = curl_easy_escape(c, value, 0);
    size_t used = *q ? strlen(*q) : 0, len = used + strlen(name) + (esc ? strlen(esc) : 0) + 3;
    char *grown = esc ? realloc(*q, len) : NULL;
    if (grown) {
        snprintf(grown + used, len - used, "%s%s=%s", used ? "&" : "", name, esc);
        *q = grown;
    } else {
        fprintf(stderr, "kr-submitter: out of memory\n");
    }
    curl_free(esc);
    return grown != NULL;
}

static bool sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    return nanosleep(&ts, NULL) == 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Whether an outcome of http_call may pass: the answer lost (the request
 * may or may not have been done), a 5xx, a 429. */
static bool transient(long status)
{
    return status == HTTP_UNREACHED || status == 429 || status >= 500;
}

/* A POST of a verb the API takes twice as once (submit under an
 * idempotency key; a repeated decision or cancel answers 200), sent
 * again after a transient outcome, with a pause growing from 0.5 s to
 * 5 s, until --retry-for has passed: no new try starts after it. `what`
 * names the request in what is said on stderr; `key`, when not NULL,
 * the idempotency key every try carries. */
static long post_retried(const cli_opts *o, const char *what, const char *path, const char *query,
                         const char *body, size_t len, const char *key, json_t **doc)
{
    uint64_t deadline = now_ms() + o->retry_for_ms;
    unsigned backoff = 0;
    for (;;) {
        long status = http_call(o, "POST", path, query, body, len, doc);
        if (!transient(status))
            return status;
        backoff = backoff ? backoff * 2 : WAIT_BACKOFF_MS;
        if (backoff > WAIT_BACKOFF_MAX_MS)
            backoff = WAIT_BACKOFF_MAX_MS;
        bool again = now_ms() + backoff <= deadline;
        if (status > 0)
            fprintf(stderr, "kr-submitter: %s: %s (HTTP %ld)", what,
                    *sub_str(*doc, "error") ? sub_str(*doc, "error") : "request failed", status);
        else
            fprintf(stderr, "kr-submitter: %s: the API did not answer", what);
        if (again) {
            fprintf(stderr, ": trying again in %.1f s%s%s\n", backoff / 1000.0,
                    key ? " with idempotency key " : "", key ? key : "");
        } else {
            fprintf(stderr, ": giving up (--retry-for)");
            /* it may have been done: the same key again finds it */
            if (key)
                fprintf(stderr,
                        "; it may have been submitted: submit again with "
                        "--idempotency-key %s to get that runnable, not a second one",
                        key);
            fprintf(stderr, "\n");
            return status;
        }
        if (!sleep_ms(backoff))
            return status;
        json_decref(*doc);
        *doc = NULL;
    }
}

/* A fresh idempotency key for a submission that names none: the
 * manifest's name (as a DNS label's characters, cut short), '-' and 16
 * hex digits of randomness (64 bits: unique among one namespace's
 * submissions, and the names stay short), so that the Runnable the key names (the key
 * as a DNS label, see idempotency.c) still starts with it. Empty when no
 * randomness could be had. */
static void fresh_key(const char *prefix, char *out, size_t len)
{
    unsigned char rnd[8];
    *out = '\0';
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return;
    size_t n = len > 0 ? sub_label_fragment(prefix, len - 1 < 20 ? len - 1 : 20, out) : 0;
    if (n > 0 && n + 1 < len)
        out[n++] = '-';
    for (size_t i = 0; i < sizeof(rnd) && n + 2 < len; i++, n += 2)
        snprintf(out + n, len - n, "%02x", rnd[i]);
    out[n] = '\0';
}

/* The idempotency key a submission of `body` carries: --idempotency-key,
 * else (NULL) the key the body's Runnable holds in spec.idempotencyKey
 * (*own set: the API takes that one, and refuses another in the query),
 * else a fresh one in `buf`. */
static const char *submission_key(const cli_opts *o, const char *body, size_t len, char *buf,
                                  size_t buf_len, bool *own)
{
    *own = false;
    if (o->key)
        return o->key;
    json_t *docs = NULL;
    kr_error_t err = {0};
    const char *prefix = NULL;
    const json_t *doc = NULL;
    /* what the API would refuse goes as it is, refused there */
    if (kr_yaml_parse_all(body, len, &docs, &err) == 0 && json_array_size(docs) == 1)
        doc = json_array_get(docs, 0);
    bool runnable = strcmp(sub_str(doc, "kind"), "Runnable") == 0 &&
                    strncmp(sub_str(doc, "apiVersion"), "kreconcile.io/", 14) == 0;
    if (runnable && *sub_str(doc, "spec.idempotencyKey")) {
        snprintf(buf, buf_len, "%s", sub_str(doc, "spec.idempotencyKey"));
        *own = true;
        json_decref(docs);
        return buf;
    }
    if (runnable)
        prefix = *sub_str(doc, "metadata.generateName") ? sub_str(doc, "metadata.generateName")
                 : *sub_str(doc, "metadata.name")       ? sub_str(doc, "metadata.name")
                                                  : sub_str(doc, "spec.template.metadata.name");
    else
        prefix = sub_str(doc, "metadata.name");
    fresh_key(prefix, buf, buf_len);
    json_decref(docs);
    return *buf ? buf : NULL;
}

/* One line on stderr for `submit --wait` when what the runnable waits for
 * has changed since `said` (updated): its phase, its cluster and attempt
 * once placed, the approvals it has while it waits for them. */
static void wait_progress(const json_t *r, char *said, size_t len)
{
    const char *phase = sub_str(r, "status.phase"), *cluster = sub_str(r, "status.cluster");
    char line[1024];
    if (!*phase)
        snprintf(line, sizeof(line), "submitted, not yet seen by the controller");
    else if (strcmp(phase, SUB_PHASE_AWAITING) == 0) {
        char hash[65] = "";
        approval_spec_hash(r, hash);
        snprintf(line, sizeof(line), "%s: %u of %u approvals", phase, approval_count(r, hash),
                 approval_required(r));
    } else if (*cluster)
        snprintf(line, sizeof(line), "%s in %s (attempt %lld)", phase, cluster,
                 (long long)sub_int(r, "status.attempt"));
    else
        snprintf(line, sizeof(line), "%s", phase);
    /* a failure says why: the Failed condition's reason and message */
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(r, "status"), "conditions"), i, c)
    {
        if (strcmp(phase, SUB_PHASE_FAILED) == 0 && strcmp(sub_str(c, "type"), "Failed") == 0 &&
            strcmp(sub_str(c, "status"), "True") == 0) {
            size_t used = strlen(line);
            snprintf(line + used, sizeof(line) - used, ": %s: %s", sub_str(c, "reason"),
                     sub_str(c, "message"));
        }
    }
    if (strcmp(line, said) == 0)
        return;
    snprintf(said, len, "%s", line);
    fprintf(stderr, "%s/%s: %s\n", sub_str(r, "metadata.namespace"), sub_str(r, "metadata.name"),
            line);
}

static int submit(const cli_opts *o)
{
    size_t len = 0;
    char *body = read_file(o->file, &len);
    if (!body)
        return 1;
    /* one key for every try, so that a try whose answer was lost and
     * the one after it make one runnable */
    char fresh[128];
    bool own = false;
    const char *key = submission_key(o, body, len, fresh, sizeof(fresh), &own);
    if (!key)
        fprintf(stderr, "kr-submitter: no randomness for an idempotency key: a lost answer "
                        "will not be tried again (give --idempotency-key)\n");
    if (key && o->verbose)
        fprintf(stderr, "kr-submitter: idempotency key %s%s\n", key,
                own ? " (the Runnable's spec.idempotencyKey)" : "");
    char *query = NULL;
    CURL *c = curl_easy_init();
    bool built = add_query(c, &query, "clusters", o->clusters) &&
                 add_query(c, &query, "namespace", o->namespace_) &&
                 add_query(c, &query, "idempotencyKey", own ? NULL : key);
    curl_easy_cleanup(c);
    json_t *doc = NULL;
    long status = HTTP_UNUSABLE;
    if (built && key)
        status = post_retried(o, "submit", "/api/v1/runnables", query, body, len, key, &doc);
    else if (built)
        status = http_call(o, "POST", "/api/v1/runnables", query, body, len, &doc);
    free(query);
    free(body);
    if (!o->wait || status < 200 || status >= 300) {
        int code = show(o, status, doc, false);
        json_decref(doc);
        return code;
    }
    /* --wait: follow the runnable until it ends, saying on stderr what it
     * waits for each time that changes (stdout stays the runnable alone);
     * what may pass (the API unreachable, a 5xx, a 429) is retried after
     * a pause that grows, anything else ends it */
    char path[1024], said[1024] = "", runnable[600];
    snprintf(runnable, sizeof(runnable), "%s/%s", sub_str(doc, "metadata.namespace"),
             sub_str(doc, "metadata.name"));
    snprintf(path, sizeof(path), "/api/v1/runnables/%s", runnable);
    unsigned backoff = 0; /* 0: the last call was answered */
    for (;;) {
        if (status >= 200 && status < 300) {
            backoff = 0;
            wait_progress(doc, said, sizeof(said));
            if (sub_phase_terminal(sub_str(doc, "status.phase")))
                break;
        } else if (status == HTTP_UNREACHED || status == 429 || status >= 500) {
            backoff = backoff ? backoff * 2 : WAIT_BACKOFF_MS;
            if (backoff > WAIT_BACKOFF_MAX_MS)
                backoff = WAIT_BACKOFF_MAX_MS;
            if (status > 0)
                fprintf(stderr, "kr-submitter: %s: %s (HTTP %ld)", runnable,
                        *sub_str(doc, "error") ? sub_str(doc, "error") : "request failed", status);
            else
                fprintf(stderr, "kr-submitter: %s: the API did not answer", runnable);
            fprintf(stderr, ": trying again in %.1f s\n", backoff / 1000.0);
        } else {
            break;
        }
        if (!sleep_ms(backoff ? backoff : WAIT_POLL_MS))
            break;
        json_decref(doc);
        status = http_call(o, "GET", path, NULL, NULL, 0, &doc);
    }
    int code = show(o, status, doc, false);
    if (code == 0 && strcmp(sub_str(doc, "status.phase"), SUB_PHASE_SUCCEEDED) != 0)
        code = 1;
    json_decref(doc);
    return code;
}

static int run_verb(const char *verb, const cli_opts *o)
{
    json_t *doc = NULL;
    long status;
    char path[1024], *body = NULL;
    bool history = false;
    if (strcmp(verb, "submit") == 0)
        return submit(o);
    if (strcmp(verb, "whoami") == 0) {
        status = http_call(o, "GET", SUB_API_WHOAMI, NULL, NULL, 0, &doc);
    } else if (strcmp(verb, "list") == 0) {
        /* of -n's namespace, or "default", or with -A of every one (-A
         * wins over -n, as in kubectl); in pages of --chunk-size, as
         * kubectl get reads a long list */
        const char *ns = o->all_namespaces ? NULL : o->namespace_ ? o->namespace_ : "default";
        char *cont = NULL, chunk[32];
        snprintf(chunk, sizeof(chunk), "%ld", o->chunk_size);
        do {
            char *query = NULL;
            CURL *c = curl_easy_init();
            bool built = add_query(c, &query, "namespace", ns) &&
                         (!o->chunk_size || add_query(c, &query, "limit", chunk)) &&
                         add_query(c, &query, "continue", cont);
            curl_easy_cleanup(c);
            json_t *page = NULL;
            status = built ? http_call(o, "GET", "/api/v1/runnables", query, NULL, 0, &page)
                           : HTTP_UNUSABLE;
            free(query);
            const char *next = sub_str(page, "metadata.continue");
            free(cont);
            cont = status == 200 && *next ? strdup(next) : NULL;
            if (status == 200 && *next && !cont) {
                fprintf(stderr, "kr-submitter: out of memory\n");
                status = HTTP_UNUSABLE;
            }
            if (!doc || status != 200) {
                json_decref(doc);
                doc = page;
            } else {
                json_array_extend(json_object_get(doc, "items"), json_object_get(page, "items"));
                json_decref(page);
            }
        } while (cont);
        json_object_del(doc, "metadata");
    } else if (strcmp(verb, "get") == 0) {
        runnable_path(o, NULL, path, sizeof(path));
        status = http_call(o, "GET", path, NULL, NULL, 0, &doc);
    } else if (strcmp(verb, "history") == 0) {
        runnable_path(o, "history", path, sizeof(path));
        char *query = NULL;
        CURL *c = curl_easy_init();
        bool built = add_query(c, &query, "uid", o->uid);
        curl_easy_cleanup(c);
        status = built ? http_call(o, "GET", path, query, NULL, 0, &doc) : HTTP_UNUSABLE;
        free(query);
        history = true;
    } else { /* approve, reject, cancel */
        runnable_path(o, verb, path, sizeof(path));
        /* the hash as given, whole and escaped */
        json_t *b = json_pack("{s:s}", "specHash", o->spec_hash ? o->spec_hash : "");
        body = b ? json_dumps(b, JSON_COMPACT) : NULL;
        json_decref(b);
        if (!body)
            fprintf(stderr, "kr-submitter: %s\n",
                    b ? "out of memory" : "--spec-hash is not UTF-8 text");
        /* the API takes a decision or a cancel repeated by its author as
         * the first (200, nothing written): one whose answer was lost
         * is sent again */
        char what[700];
        snprintf(what, sizeof(what), "%s %s", verb, o->target ? o->target : "");
        status = body ? post_retried(o, what, path, NULL, body, strlen(body), NULL, &doc)
                      : HTTP_UNUSABLE;
    }
    int code = show(o, status, doc, history);
    json_decref(doc);
    free(body);
    return code;
}

/* NAME or NAMESPACE/NAME, as the apiserver takes a Runnable's: anything
 * else (a "..", a second '/') would change the path it is put into. */
static bool target_ok(const char *t)
{
    const char *slash = strchr(t, '/');
    if (!slash)
        return kr_name_is_dns1123_subdomain(t);
    char ns[64];
    size_t n = (size_t)(slash - t);
    if (n >= sizeof ns)
        return false;
    memcpy(ns, t, n);
    ns[n] = '\0';
    return kr_name_is_dns1123_label(ns) && kr_name_is_dns1123_subdomain(slash + 1);
}

/* Parse a verb's flags with the toolkit's parser (argv[0] is the verb):
 * --flag=value and --flag value, -h/--help, --version and the error
 * messages are those of every program. Returns -1 to go on, else the exit
 * code. */
static int parse(const verb_spec *v, int argc, char **argv, cli_opts *o)
{
    kr_flag flags[16];
    size_t n = 0;
    flags[n++] = (kr_flag){.name = "server",
                           .type = KR_FLAG_STRING,
                           .value = &o->server,
                           .metavar = "URL",
                           .help = "the API, http(s)://HOST[:PORT] with no path or query "
                                   "($KR_SUBMITTER_SERVER when set)"};
    flags[n++] = (kr_flag){.name = "token",
                           .type = KR_FLAG_STRING,
                           .value = &o->token,
                           .metavar = "T",
                           .help = "bearer token ($KR_SUBMITTER_TOKEN when not given)"};
    flags[n++] = (kr_flag){.name = "token-file",
                           .type = KR_FLAG_STRING,
                           .value = &o->token_file,
                           .metavar = "FILE",
                           .help = "read the bearer token from FILE"};
    flags[n++] = (kr_flag){.name = "certificate-authority",
                           .type = KR_FLAG_STRING,
                           .value = &o->ca_file,
                           .metavar = "FILE",
                           .help = "the CA (PEM) to trust for an https --server, instead "
                                   "of the system's"};
    flags[n++] = (kr_flag){.name = "namespace",
                           .shorthand = 'n',
                           .type = KR_FLAG_STRING,
                           .value = &o->namespace_,
                           .metavar = "NS",
                           .help = "the runnable's namespace (default: \"default\")"};
    flags[n++] = (kr_flag){.name = "output",
                           .shorthand = 'o',
                           .type = KR_FLAG_STRING,
                           .value = &o->output,
                           .metavar = "table|json|yaml",
                           .help = "output format"};
    if (v->submit_flags) {
        flags[n++] = (kr_flag){.name = "filename",
                               .shorthand = 'f',
                               .type = KR_FLAG_STRING,
                               .value = &o->file,
                               .metavar = "FILE",
                               .help = "the manifest or Runnable, JSON or YAML (- for stdin)"};
        flags[n++] = (kr_flag){.name = "clusters",
                               .type = KR_FLAG_STRING,
                               .value = &o->clusters,
                               .metavar = "a,b",
                               .help = "the clusters to use, in order of preference"};
        flags[n++] = (kr_flag){.name = "idempotency-key",
                               .type = KR_FLAG_STRING,
                               .value = &o->key,
                               .metavar = "K",
                               .help = "the same key twice gives one runnable (default: a "
                                       "fresh random key per invocation)"};
        flags[n++] = (kr_flag){.name = "verbose",
                               .shorthand = 'v',
                               .type = KR_FLAG_BOOL,
                               .value = &o->verbose,
                               .help = "say on stderr the idempotency key sent (with -o json "
                                       "it is the runnable's spec.idempotencyKey)"};
        flags[n++] =
            (kr_flag){.name = "wait",
                      .type = KR_FLAG_BOOL,
                      .value = &o->wait,
                      .help = "follow the runnable until it ends (exit 1 unless Succeeded)"};
    }
    if (v->uid_flag)
        flags[n++] = (kr_flag){.name = "uid",
                               .type = KR_FLAG_STRING,
                               .value = &o->uid,
                               .metavar = "U",
                               .help = "the runnable of that uid (default: the one of the name "
                                       "now; when none is, every one that had the name)"};
    if (v->list_flags)
        flags[n++] =
            (kr_flag){.name = "all-namespaces",
                      .shorthand = 'A',
                      .type = KR_FLAG_BOOL,
                      .value = &o->all_namespaces,
                      .help = "list the runnables of every namespace (-n is then ignored)"};
    if (v->list_flags)
        flags[n++] = (kr_flag){.name = "chunk-size",
                               .type = KR_FLAG_INT,
                               .value = &o->chunk_size,
                               .metavar = "N",
                               .help = "ask for the list in pages of N runnables, as kubectl get "
                                       "does (0: all in one answer)"};
    if (v->retry_flag)
        flags[n++] = (kr_flag){.name = "retry-for",
                               .type = KR_FLAG_DURATION,
                               .value = &o->retry_for_ms,
                               .metavar = "DURATION",
                               .help = "when the answer is lost (the API unreachable, the "
                                       "connection cut) or is a 5xx or 429, send the request "
                                       "again, with pauses of 0.5 s doubling up to 5 s, until "
                                       "DURATION has passed (0: never)"};
    if (v->hash_flag)
        flags[n++] = (kr_flag){.name = "spec-hash",
                               .type = KR_FLAG_STRING,
                               .value = &o->spec_hash,
                               .metavar = "H",
                               .help = "refuse (409) if the spec is no longer the one of hash H"};
    char name[64];
    snprintf(name, sizeof(name), "kr-submitter %s", v->name);
    kr_manager_program prog = {.name = name,
                               .version = KR_VERSION_STRING,
                               .summary = v->summary,
                               .usage = v->usage,
                               .description = v->n_names ? "NAME may be written NS/NAME." : NULL,
                               .flags = flags,
                               .n_flags = n,
                               .shared = KR_MANAGER_FLAGS_NONE};
    kr_manager_config cfg;
    kr_error_t err = {0};
    int rc = kr_manager_parse_args(&prog, argc, argv, &cfg, &err);
    if (rc == 0 && cfg.n_args != (size_t)v->n_names) {
        if (v->n_names == 0)
            rc = kr_error_set(&err, KR_EINVAL, "unexpected argument: %s", cfg.args[0]);
        else if (cfg.n_args == 0)
            rc = kr_error_set(&err, KR_EINVAL, "needs a runnable NAME");
        else
            rc = kr_error_set(&err, KR_EINVAL, "one runnable at a time (%s, %s)", cfg.args[0],
                              cfg.args[1]);
    }
    if (rc == 0 && o->chunk_size < 0)
        rc = kr_error_set(&err, KR_EINVAL, "--chunk-size is 0 or more, not %ld", o->chunk_size);
    if (rc == 0 && v->submit_flags && !o->file)
        rc = kr_error_set(&err, KR_EINVAL, "needs -f FILE");
    /* given empty, each would be taken as not given: no key (a second
     * submission makes a second runnable), every cluster */
    if (rc == 0 && o->key && !*o->key)
        rc = kr_error_set(&err, KR_EINVAL,
                          "--idempotency-key is empty: give a key, or leave "
                          "the flag out");
    if (rc == 0 && o->clusters && !*o->clusters)
        rc = kr_error_set(&err, KR_EINVAL,
                          "--clusters is empty: name at least one, or leave the flag out for "
                          "every cluster");
    if (rc == 0 && o->clusters && submission_clusters_gap(o->clusters))
        rc = kr_error_set(&err, KR_EINVAL,
                          "--clusters \"%s\" names an empty cluster: name each one, "
                          "comma-separated",
                          o->clusters);
    if (rc == 0 && o->uid && !*o->uid)
        rc = kr_error_set(&err, KR_EINVAL, "--uid is empty: give a uid, or leave the flag out");
    if (rc == 0 && strcmp(o->output, "json") != 0 && strcmp(o->output, "table") != 0 &&
        strcmp(o->output, "yaml") != 0)
        rc = kr_error_set(&err, KR_EINVAL, "-o is table, json or yaml, not %s", o->output);
    if (rc == 0 && v->n_names)
        o->target = cfg.args[0]; /* borrowed from argv */
    /* usage errors too, with the hint every one has */
    if (rc == 0 && o->token && o->token_file)
        rc = kr_error_set(&err, KR_EINVAL, "give --token or --token-file, not both");
    if (rc == 0 && o->target && !target_ok(o->target))
        rc = kr_error_set(&err, KR_EINVAL, "invalid runnable \"%s\": want NAME or NAMESPACE/NAME",
                          o->target);
    if (rc == 0 && o->namespace_ && !kr_name_is_dns1123_label(o->namespace_))
        rc = kr_error_set(&err, KR_EINVAL, "invalid namespace \"%s\"", o->namespace_);
    const char *slash = rc == 0 && o->target ? strchr(o->target, '/') : NULL;
    if (slash && o->namespace_ &&
        (strlen(o->namespace_) != (size_t)(slash - o->target) ||
         strncmp(o->namespace_, o->target, (size_t)(slash - o->target)) != 0))
        rc = kr_error_set(&err, KR_EINVAL,
                          "the namespace of \"%s\" is not the one -n gives (\"%s\"): give one",
                          o->target, o->namespace_);
    /* the paths are appended to it: a query or a fragment would swallow
     * them, and another scheme is no API of ours */
    if (rc == 0 &&
        ((strncmp(o->server, "http://", 7) != 0 && strncmp(o->server, "https://", 8) != 0) ||
         strpbrk(o->server, "?# ")))
        rc = kr_error_set(&err, KR_EINVAL,
                          "--server: want http://HOST[:PORT] or https://HOST[:PORT], got \"%s\"",
                          o->server);
    /* a path would come before them (http://h/api: /api/api/v1/...);
     * trailing slashes alone are taken */
    const char *path = rc == 0 ? strchr(strstr(o->server, "://") + 3, '/') : NULL;
    if (path && path[strspn(path, "/")])
        rc = kr_error_set(&err, KR_EINVAL,
                          "--server: want http://HOST[:PORT] or https://HOST[:PORT], with no path "
                          "(the API's paths, /api/v1/..., are appended to it), got \"%s\"",
                          o->server);
    kr_manager_config_free(&cfg);
    return rc == 0 ? -1 : kr_manager_args_exit(&prog, rc, &err, stdout, stderr);
}

/* The token from --token-file, its surrounding whitespace trimmed (as
 * kubectl reads a tokenFile), kept in *owned (new); a token is one line of
 * printable text, never a way to add a header. */
static int load_token(cli_opts *o, char **owned)
{
    if (o->token_file) {
        FILE *f = fopen(o->token_file, "r");
        if (!f) {
            fprintf(stderr, "kr-submitter: cannot read token file %s: %s\n", o->token_file,
                    strerror(errno));
            return 1;
        }
        /* the whole file, however much whitespace surrounds the token:
         * never cut (a token too long is refused below) */
        size_t cap = 0;
        ssize_t n = getdelim(owned, &cap, '\0', f);
        int failed = ferror(f) || (n < 0 && !feof(f)) ? (errno ? errno : EIO) : 0;
        fclose(f);
        if (failed) {
            fprintf(stderr, "kr-submitter: cannot read token file %s: %s\n", o->token_file,
                    strerror(failed));
            return 1;
        }
        char *start = n > 0 ? *owned : NULL;
        while (start && *start && isspace((unsigned char)*start))
            start++;
        size_t end = start ? strlen(start) : 0;
        while (end > 0 && isspace((unsigned char)start[end - 1]))
            end--;
        if (start)
            start[end] = '\0';
        if (!start || !*start) {
            fprintf(stderr, "kr-submitter: token file %s holds no token\n", o->token_file);
            return 1;
        }
        o->token = start;
    }
    /* what fits the Authorization header's buffer, whole: never cut */
    if (o->token && strlen(o->token) > MAX_TOKEN) {
        fprintf(stderr, "kr-submitter: the token is longer than %d bytes\n", MAX_TOKEN);
        return 1;
    }
    for (const char *p = o->token; p && *p; p++)
        if (iscntrl((unsigned char)*p)) {
            fprintf(stderr, "kr-submitter: the token holds a control character (a line break?)\n");
            return 1;
        }
    return 0;
}

int cli_main(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
        strcmp(argv[0], "help") == 0) {
        fputs(usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (strcmp(argv[0], "--version") == 0) {
        printf("kr-submitter version %s (libkreconcile %s)\n", KR_VERSION_STRING, kr_version());
        return 0;
    }
    const verb_spec *v = find_verb(argv[0]);
    if (!v) {
        fprintf(stderr, "kr-submitter: unknown command %s\nRun 'kr-submitter --help' for usage.\n",
                argv[0]);
        return 2;
    }
    cli_opts o = {.server = getenv("KR_SUBMITTER_SERVER"),
                  .output = "table",
                  .chunk_size = 500,
                  .retry_for_ms = RETRY_FOR_DEFAULT_MS};
    if (!o.server || !*o.server)
        o.server = DEFAULT_SERVER;
    int rc = parse(v, argc, argv, &o);
    if (rc >= 0)
        return rc;
    /* a trailing '/' is taken, as kubectl takes one: each path appended
     * starts with its own (parse() saw the "://") */
    char *server = strdup(o.server);
    if (!server) {
        fprintf(stderr, "kr-submitter: out of memory\n");
        return 1;
    }
    size_t end = strlen(server), host = (size_t)(strstr(server, "://") - server) + 3;
    while (end > host && server[end - 1] == '/')
        server[--end] = '\0';
    o.server = server;
    if (!o.token) /* read after parsing: --help shows defaults, never a token */
        o.token = getenv("KR_SUBMITTER_TOKEN");
    char *token = NULL;
    if (load_token(&o, &token) != 0) {
        free(token);
        free(server);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = run_verb(v->name, &o);
    curl_global_cleanup();
    free(token);
    free(server);
    return rc;
}
