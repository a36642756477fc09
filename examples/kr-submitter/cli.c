/* kr-submitter — the CLI verbs (submit, approve, reject, cancel, get, list,
 * history): each is one call to the API with libcurl, printed as a table or
 * as JSON. The token comes from --token, --token-file or
 * $KR_SUBMITTER_TOKEN and is never printed. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "submitter.h"

#define DEFAULT_SERVER "http://127.0.0.1:8080"
#define WAIT_POLL_MS 1000

typedef struct cli_opts {
    const char *server;
    const char *token;
    const char *token_file;
    const char *output; /* "table" or "json" */
    const char *file;
    const char *clusters;
    const char *namespace_;
    const char *key;
    const char *spec_hash;
    bool wait;
    const char *target; /* NAME or NS/NAME */
} cli_opts;

static const char usage[] =
    "Usage:\n"
    "  kr-submitter serve [flags]                 run the controller and the API (serve --help)\n"
    "  kr-submitter submit -f FILE [--clusters a,b] [--idempotency-key K] [--wait]\n"
    "  kr-submitter approve|reject NAME [--spec-hash H]\n"
    "  kr-submitter cancel|get|history NAME\n"
    "  kr-submitter list\n"
    "\n"
    "Flags of every verb:\n"
    "  --server URL        the API (default $KR_SUBMITTER_SERVER, else " DEFAULT_SERVER ")\n"
    "  --token T           bearer token (default $KR_SUBMITTER_TOKEN)\n"
    "  --token-file F      read the bearer token from F\n"
    "  -n, --namespace NS  the runnable's namespace (default: the server's choice, \"default\")\n"
    "  -o, --output FMT    table (default) or json\n"
    "NAME may be written NS/NAME.\n";

typedef struct body_buf {
    char *data;
    size_t len;
} body_buf;

static size_t collect(char *ptr, size_t size, size_t n, void *user)
{
    body_buf *b = user;
    size_t add = size * n;
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
 * the HTTP status, or -1 when the server could not be reached. */
static long http_call(const cli_opts *o, const char *method, const char *path, const char *query,
                      const char *body, size_t len, json_t **out)
{
    *out = NULL;
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[4096], auth[4096];
    snprintf(url, sizeof(url), "%s%s%s%s", o->server, path, query && *query ? "?" : "",
             query ? query : "");
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token ? o->token : "");
    struct curl_slist *headers = curl_slist_append(NULL, auth);
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
    if (body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
    }
    long status = -1;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "kr-submitter: %s: %s\n", o->server, curl_easy_strerror(rc));
    if (resp.data)
        *out = json_loadb(resp.data, resp.len, 0, NULL);
    free(resp.data);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return status;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len + 65536 + 1 > cap) {
            char *grown = realloc(data, cap = cap * 2 + 65536 + 1);
            if (!grown)
                break;
            data = grown;
        }
        size_t got = fread(data + *len, 1, cap - *len - 1, f);
        *len += got;
        if (got == 0)
            break;
    }
    if (f != stdin)
        fclose(f);
    if (data)
        data[*len] = '\0';
    return data;
}

static void print_table(const json_t *items)
{
    printf("%-16s %-36s %-17s %-8s %-7s %-12s %s\n", "NAMESPACE", "NAME", "PHASE", "CLUSTER",
           "ATTEMPT", "SUBMITTED-BY", "APPROVALS");
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r)
    {
        char hash[65] = "";
        approval_spec_hash(r, hash);
        printf("%-16s %-36s %-17s %-8s %-7lld %-12s %u/%u\n", sub_str(r, "metadata.namespace"),
               sub_str(r, "metadata.name"),
               *sub_str(r, "status.phase") ? sub_str(r, "status.phase") : "-",
               *sub_str(r, "status.cluster") ? sub_str(r, "status.cluster") : "-",
               (long long)sub_int(r, "status.attempt"), sub_str(r, "status.submittedBy"),
               approval_count(r, hash), approval_required(r));
    }
}

static void print_history(const json_t *events)
{
    printf("%-20s %-12s %-12s %-8s %-10s %s\n", "TIME", "EVENT", "ACTOR", "CLUSTER", "RV",
           "OUTCOME");
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        printf("%-20s %-12s %-12s %-8s %-10s %s\n", sub_str(e, "time"), sub_str(e, "event"),
               sub_str(e, "actor"), sub_str(e, "cluster"), sub_str(e, "resourceVersion"),
               sub_str(e, "outcome"));
    }
}

/* Print an answer: the error to stderr (exit 1), else the document. */
static int show(const cli_opts *o, long status, json_t *doc, bool history)
{
    if (status < 0)
        return 1;
    if (status >= 300) {
        const char *msg = sub_str(doc, "error");
        fprintf(stderr, "kr-submitter: %s (HTTP %ld)\n", *msg ? msg : "request failed", status);
        return 1;
    }
    if (strcmp(o->output, "json") == 0) {
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text ? text : "null");
        free(text);
    } else if (history) {
        print_history(json_object_get(doc, "items"));
    } else if (json_object_get(doc, "items")) {
        print_table(json_object_get(doc, "items"));
    } else {
        json_t *one = json_pack("[O]", doc);
        print_table(one);
        json_decref(one);
    }
    return 0;
}

/* "/api/v1/runnables/NS/NAME[/verb]" for the target. */
static void runnable_path(const cli_opts *o, const char *verb, char *out, size_t len)
{
    const char *slash = strchr(o->target, '/');
    if (slash)
        snprintf(out, len, "/api/v1/runnables/%s%s%s", o->target, verb ? "/" : "",
                 verb ? verb : "");
    else
        snprintf(out, len, "/api/v1/runnables/%s/%s%s%s", o->namespace_ ? o->namespace_ : "default",
                 o->target, verb ? "/" : "", verb ? verb : "");
}

static void add_query(CURL *c, char *q, size_t len, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    char *esc = curl_easy_escape(c, value, 0);
    size_t used = strlen(q);
    snprintf(q + used, len - used, "%s%s=%s", used ? "&" : "", name, esc ? esc : "");
    curl_free(esc);
}

static bool sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    return nanosleep(&ts, NULL) == 0;
}

static int submit(const cli_opts *o)
{
    if (!o->file) {
        fprintf(stderr, "kr-submitter: submit needs -f FILE\n");
        return 2;
    }
    size_t len = 0;
    char *body = read_file(o->file, &len);
    if (!body) {
        fprintf(stderr, "kr-submitter: cannot read %s\n", o->file);
        return 1;
    }
    char query[2048] = "";
    CURL *c = curl_easy_init();
    add_query(c, query, sizeof(query), "clusters", o->clusters);
    add_query(c, query, sizeof(query), "namespace", o->namespace_);
    add_query(c, query, sizeof(query), "idempotencyKey", o->key);
    curl_easy_cleanup(c);
    json_t *doc = NULL;
    long status = http_call(o, "POST", "/api/v1/runnables", query, body, len, &doc);
    free(body);
    if (!o->wait || status < 200 || status >= 300) {
        int code = show(o, status, doc, false);
        json_decref(doc);
        return code;
    }
    /* --wait: follow the runnable until it ends */
    char path[1024];
    snprintf(path, sizeof(path), "/api/v1/runnables/%s/%s", sub_str(doc, "metadata.namespace"),
             sub_str(doc, "metadata.name"));
    while (status >= 200 && status < 300 && !sub_phase_terminal(sub_str(doc, "status.phase")) &&
           sleep_ms(WAIT_POLL_MS)) {
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
    char path[1024], body[256];
    bool history = false;
    if (strcmp(verb, "submit") == 0)
        return submit(o);
    if (strcmp(verb, "list") == 0) {
        char query[512] = "";
        CURL *c = curl_easy_init();
        add_query(c, query, sizeof(query), "namespace", o->namespace_);
        curl_easy_cleanup(c);
        status = http_call(o, "GET", "/api/v1/runnables", query, NULL, 0, &doc);
    } else if (!o->target) {
        fprintf(stderr, "kr-submitter: %s needs a runnable NAME\n", verb);
        return 2;
    } else if (strcmp(verb, "get") == 0) {
        runnable_path(o, NULL, path, sizeof(path));
        status = http_call(o, "GET", path, NULL, NULL, 0, &doc);
    } else if (strcmp(verb, "history") == 0) {
        runnable_path(o, "history", path, sizeof(path));
        status = http_call(o, "GET", path, NULL, NULL, 0, &doc);
        history = true;
    } else if (strcmp(verb, "approve") == 0 || strcmp(verb, "reject") == 0 ||
               strcmp(verb, "cancel") == 0) {
        runnable_path(o, verb, path, sizeof(path));
        snprintf(body, sizeof(body), "{\"specHash\":\"%.64s\"}", o->spec_hash ? o->spec_hash : "");
        status = http_call(o, "POST", path, NULL, body, strlen(body), &doc);
    } else {
        fprintf(stderr, "kr-submitter: unknown verb %s\n%s", verb, usage);
        return 2;
    }
    int code = show(o, status, doc, history);
    json_decref(doc);
    return code;
}

/* The value of a flag: "--flag=value" or "--flag value". */
static const char *flag_value(int argc, char **argv, int *i, const char *arg, size_t name_len)
{
    if (arg[name_len] == '=')
        return arg + name_len + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int parse(int argc, char **argv, cli_opts *o)
{
    static const struct {
        const char *name;
        char shorthand;
        size_t offset;
    } flags[] = {
        {"--server", 0, offsetof(cli_opts, server)},
        {"--token", 0, offsetof(cli_opts, token)},
        {"--token-file", 0, offsetof(cli_opts, token_file)},
        {"--output", 'o', offsetof(cli_opts, output)},
        {"--filename", 'f', offsetof(cli_opts, file)},
        {"--clusters", 0, offsetof(cli_opts, clusters)},
        {"--namespace", 'n', offsetof(cli_opts, namespace_)},
        {"--idempotency-key", 0, offsetof(cli_opts, key)},
        {"--spec-hash", 0, offsetof(cli_opts, spec_hash)},
    };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--wait") == 0) {
            o->wait = true;
            continue;
        }
        bool matched = false;
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]) && !matched; f++) {
            size_t n = strlen(flags[f].name);
            bool long_form = strncmp(arg, flags[f].name, n) == 0 && (!arg[n] || arg[n] == '=');
            bool short_form =
                flags[f].shorthand && arg[0] == '-' && arg[1] == flags[f].shorthand && !arg[2];
            if (!long_form && !short_form)
                continue;
            const char *v = flag_value(argc, argv, &i, arg, long_form ? n : 2);
            if (!v) {
                fprintf(stderr, "kr-submitter: %s needs a value\n", arg);
                return 2;
            }
            *(const char **)((char *)o + flags[f].offset) = v;
            matched = true;
        }
        if (matched)
            continue;
        if (arg[0] == '-' && arg[1]) {
            fprintf(stderr, "kr-submitter: unknown flag %s\n%s", arg, usage);
            return 2;
        }
        if (o->target) {
            fprintf(stderr, "kr-submitter: one runnable at a time (%s, %s)\n", o->target, arg);
            return 2;
        }
        o->target = arg;
    }
    if (strcmp(o->output, "json") != 0 && strcmp(o->output, "table") != 0) {
        fprintf(stderr, "kr-submitter: -o is table or json, not %s\n", o->output);
        return 2;
    }
    return 0;
}

/* The token from --token-file (trimmed), kept in `buf`. */
static int load_token(cli_opts *o, char *buf, size_t len)
{
    if (!o->token_file)
        return 0;
    FILE *f = fopen(o->token_file, "r");
    if (!f || !fgets(buf, (int)len, f)) {
        if (f)
            fclose(f);
        fprintf(stderr, "kr-submitter: cannot read token file %s\n", o->token_file);
        return 1;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    o->token = buf;
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
        printf("kr-submitter %s\n", kr_version());
        return 0;
    }
    cli_opts o = {.server = getenv("KR_SUBMITTER_SERVER"),
                  .token = getenv("KR_SUBMITTER_TOKEN"),
                  .output = "table"};
    if (!o.server || !*o.server)
        o.server = DEFAULT_SERVER;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc;
    char token[4096];
    if (load_token(&o, token, sizeof(token)) != 0)
        return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = run_verb(argv[0], &o);
    curl_global_cleanup();
    return rc;
}
