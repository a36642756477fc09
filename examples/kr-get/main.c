/* kr-get — the library's hello world: resolve a resource through discovery,
 * print objects as kubectl get prints them (the server's Tables by default;
 * -o json, -o yaml or -o name), or as JSON lines (-o jsonl), and with -w
 * follow the watch, resuming from the last resourceVersion across
 * reconnects and relisting on 410. Nothing found is said as kubectl says
 * it.
 *
 *   kr-get [--kubeconfig F] [--context C] [-n NS] [-A] [-l SELECTOR]
 *          [--field-selector S] [-w] [--chunk-size N]
 *          [-o wide|json|yaml|name|jsonl|jsonpath=TEMPLATE|custom-columns=SPEC]
 *          [--show-labels] [-L KEY,...]
 *          [--no-headers]
 *          RESOURCE[,RESOURCE...] [NAME...] | TYPE/NAME...
 *
 * Errors print the apiserver's Status message and exit 1, as kubectl does;
 * so do kubectl's refusals (a NAME with a selector, or with -A). Of several
 * objects named, those found print, then the errors of the others. With
 * one NAME, -w gets the object first, then watches it from its
 * resourceVersion. Several comma-separated types are each listed in turn
 * (or each NAME of each one got), as kubectl does; -w takes one type only.
 * -A wins over -n. Usage errors exit 2. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "columns.h"
#include "jsonpath.h"
#include "kreconcile.h"
#include "table.h"

typedef struct args {
    const char *kubeconfig, *context, *server, *token, *ca_file;
    const char *namespace_, *labels, *fields, *resource, *name;
    char **words; /* the arguments: RESOURCE [NAME...], or TYPE/NAME... */
    int nwords;
    bool all_namespaces, watch, insecure;
    long chunk_size;
} args;

/* One object asked for by name: its resource, and what its get found. */
typedef struct target {
    const char *type, *name;
    kr_resource_info info;
    json_t *obj;
    int rc;
    kr_error_t err;
} target;

/* What a finished watch said, handed from the loop thread to main. */
typedef struct watch_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool ended;
    int rc;
    kr_error_t err;
    char rv[64];
    const kr_resource_info *info;
    bool all_namespaces;
} watch_state;

static int usage(FILE *out, int status)
{
    fprintf(out,
            "usage: kr-get [--kubeconfig F] [--context C] [-n NS] [-A] [-l SELECTOR]\n"
            "              [--field-selector S] [-w] [--chunk-size N] [--show-managed-fields]\n"
            "              [-o wide|json|yaml|name|jsonl|jsonpath=TEMPLATE|custom-columns=SPEC]\n"
            "              [--show-labels]"
            " [-L KEY,...] [--no-headers] RESOURCE[,RESOURCE...] [NAME...] |\n"
            "              TYPE/NAME...\n"
            "       connection flags: [--server URL] [--token T]\n"
            "              [--certificate-authority F] [--insecure-skip-tls-verify]\n"
            "Prints kubectl get's table by default (the server's Tables); -o wide: all its\n"
            "columns; --show-labels: a LABELS column; -L KEY: a column of that label's values;\n"
            "--no-headers: the table's rows only;\n"
            "-o jsonl: one JSON object a line; -o jsonpath=TEMPLATE: kubectl's JSONPath, in part:\n"
            "  .field ['field'] [n] [*] .* {range ...}{end} {\"text\"} (no filters, .., unions or\n"
            "  slices). -o custom-columns=HEADER:PATH,...: a column per PATH (the same subset).\n");
    return status;
}

static const char *server_url; /* the server asked, for refused connections */

/* The host[:port] of `url` as kubectl names it in its refused-connection
 * line (no scheme, no user, no path). */
static void url_host(const char *url, char *host, size_t size)
{
    const char *at = strstr(url, "://");
    at = at ? at + 3 : url;
    size_t len = strcspn(at, "/?#");
    const char *user = memchr(at, '@', len);
    if (user) {
        len -= (size_t)(user + 1 - at);
        at = user + 1;
    }
    snprintf(host, size, "%.*s", (int)len, at);
}

/* kubectl's wording for server errors. One of several errors has no
 * "error: " before a message of its own, as kubectl lists them. */
static int fail_of(const kr_error_t *err, bool several)
{
    char host[300];
    if (err->code == KR_ECONNECT && server_url &&
        strstr(err->message, "connect: connection refused")) {
        url_host(server_url, host, sizeof(host));
        fprintf(stderr,
                "The connection to the server %s was refused - did you specify the right host "
                "or port?\n",
                host);
    } else if (err->code == KR_EUNAUTHORIZED)
        fprintf(stderr, "error: You must be logged in to the server (Unauthorized)\n");
    else if (err->http_code && err->reason[0])
        fprintf(stderr, "Error from server (%s): %s\n", err->reason, err->message);
    else
        fprintf(stderr, "%s%s\n", several ? "" : "error: ", err->message);
    return 1;
}

static int fail(const kr_error_t *err)
{
    return fail_of(err, false);
}

static bool show_managed_fields;
/* -o: kubectl's table by default (the server's Tables, see table.h);
 * JSON lines (-o jsonl); kubectl's JSON or YAML (a List of what a get
 * found, kept in `collected` until it ends, or the one object named; while
 * watching, each object as it comes); or kubectl's KIND[.GROUP]/NAME
 * lines. */
static enum {
    OUT_TABLE,
    OUT_LINES,
    OUT_JSON,
    OUT_YAML,
    OUT_NAME,
    OUT_JSONPATH,
    OUT_COLUMNS
} output;
static kg_jsonpath *jsonpath; /* -o jsonpath=TEMPLATE */
static bool jsonpath_failed; /* a template (or columns) that failed: exit 1, as kubectl */
static const char *output_arg; /* -o's value, for kubectl's refusals */
static const char *columns_spec; /* -o custom-columns=SPEC */
static kg_columns *columns; /* SPEC parsed */
static kg_table columns_table; /* its lines, aligned as kubectl's tabwriter */
static bool printed_one;
static json_t *collected; /* NULL: print each object at once */
/* The table of the resource printed last (kubectl's printer for its
 * mapping), its options, and whether kubectl's blank line goes before
 * its first line. */
static kg_table table;
static bool table_open, table_separate;
static kr_gvr table_gvr;
static kg_table_opts table_opts; /* what every table has: -o wide, --show-labels */
static bool table_with_kind; /* several kinds asked for: KIND/ before names */

/* Write the table's waiting lines (kubectl's blank line first when they
 * are the first of a resource after another's). */
static void table_flush(void)
{
    if (!table_open || json_array_size(table.lines) == 0)
        return;
    if (table_separate)
        putchar('\n');
    table_separate = false;
    kg_table_flush(&table, stdout);
    printed_one = true;
}

/* A Table of `info`'s objects: its rows aligned with those of the same
 * resource printed just before, else after those flushed. */
static void print_table(const json_t *tbl, const kr_resource_info *info, bool all_namespaces)
{
    if (!table_open || strcmp(table_gvr.group, info->group) != 0 ||
        strcmp(table_gvr.version, info->version) != 0 ||
        strcmp(table_gvr.resource, info->resource) != 0) {
        table_flush();
        if (table_open)
            kg_table_free(&table);
        static char kind[320];
        size_t k = 0;
        for (const char *c = info->kind; *c && k + 1 < sizeof(kind); c++)
            kind[k++] = (char)tolower((unsigned char)*c);
        snprintf(kind + k, sizeof(kind) - k, "%s%s", info->group[0] ? "." : "", info->group);
        /* kubectl's printers share the flag: once a namespaced resource
         * had the NAMESPACE column (-A), every later one has it too (empty
         * for cluster-scoped objects). */
        static bool with_namespace;
        with_namespace = with_namespace || (all_namespaces && info->namespaced);
        kg_table_opts o = table_opts;
        o.with_namespace = with_namespace;
        o.kind = table_with_kind ? kind : NULL;
        kg_table_init(&table, &o, true);
        table_open = true;
        table_separate = printed_one && !table_opts.no_headers; /* as kubectl: no blank line */
        table_gvr = KR_GVR(info->group, info->version, info->resource);
    }
    kg_table_add(&table, tbl);
}

/* JSON as kubectl prints it (Go's json.MarshalIndent, 4 spaces, keys
 * sorted, Go's escapes), with a newline. */
static char *go_json(const json_t *value)
{
    char *text = kg_go_json(value, JSON_INDENT(4));
    char *line = text ? malloc(strlen(text) + 2) : NULL;
    if (line)
        sprintf(line, "%s\n", text);
    free(text);
    return line;
}

/* One document of kubectl's -o json, -o yaml ("---" between YAML ones) or
 * -o jsonpath (the template's text, nothing between). */
static void print_document(const json_t *doc)
{
    char *text = NULL;
    kr_error_t err = {0};
    if (output == OUT_JSONPATH) {
        char why[1024];
        fflush(stdout);
        if (!jsonpath_failed && kg_jsonpath_print(jsonpath, doc, stdout, why, sizeof(why)) != 0) {
            fflush(stdout);
            fprintf(stderr, "error: %s\n", why);
            jsonpath_failed = true;
        }
        return;
    }
    if (output == OUT_COLUMNS) {
        char why[1024];
        int rc =
            jsonpath_failed ? 0 : kg_columns_add(columns, doc, &columns_table, why, sizeof(why));
        kg_table_flush(&columns_table, stdout);
        if (rc != 0) {
            fflush(stdout);
            fprintf(stderr, "error: %s\n", why);
            jsonpath_failed = true;
        }
        return;
    }
    if (output == OUT_JSON) {
        text = go_json(doc);
        if (text)
            fputs(text, stdout);
        free(text);
        return;
    }
    if (kr_yaml_dump(doc, &text, &err) != 0) {
        fprintf(stderr, "error: %s\n", err.message);
        return;
    }
    printf("%s%s", printed_one ? "---\n" : "", text);
    kr_free(text);
}

/* -o name: the kind in lower case, its group after a dot, then the name,
 * as kubectl's name printer writes it ("deployment.apps/web"). */
static void print_name(const json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *api_version = json_string_value(json_object_get(obj, "apiVersion"));
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    const char *slash = api_version ? strchr(api_version, '/') : NULL;
    for (const char *k = kind ? kind : ""; *k; k++)
        putchar(tolower((unsigned char)*k));
    if (slash)
        printf(".%.*s", (int)(slash - api_version), api_version);
    printf("/%s\n", name ? name : "");
}

/* Items of built-in lists come without kind and apiVersion: add them.
 * managedFields are hidden unless asked for, as kubectl does. */
static void print_object(json_t *obj, const kr_resource_info *info)
{
    if (!show_managed_fields && output != OUT_JSONPATH &&
        output != OUT_COLUMNS) /* kubectl's jsonpath and custom-columns have them */
        json_object_del(json_object_get(obj, "metadata"), "managedFields");
    if (!json_object_get(obj, "kind"))
        json_object_set_new(obj, "kind", json_string(info->kind));
    if (!json_object_get(obj, "apiVersion")) {
        char api_version[320];
        snprintf(api_version, sizeof(api_version), "%s%s%s", info->group, info->group[0] ? "/" : "",
                 info->version);
        json_object_set_new(obj, "apiVersion", json_string(api_version));
    }
    if (output == OUT_NAME) {
        print_name(obj);
        printed_one = true;
        return;
    }
    if (output == OUT_JSON || output == OUT_YAML || output == OUT_JSONPATH ||
        output == OUT_COLUMNS) {
        if (collected)
            json_array_append(collected, obj);
        else
            print_document(obj);
        printed_one = true;
        return;
    }
    char *line = json_dumps(obj, JSON_COMPACT);
    if (line) {
        puts(line);
        free(line);
    }
    printed_one = true;
}

/* The end of a get that did not watch, as kubectl ends it. -o json and -o
 * yaml print what was collected: the object alone when one was named
 * (`single`) and found, else a List of them (empty when none was). The
 * default output says when nothing was found, on stderr ("No resources
 * found", in the namespace listed, if one). */
static void print_collected(bool single, const char *ns)
{
    table_flush();
    bool human = output == OUT_LINES || output == OUT_TABLE;
    if (human && !printed_one && !single && ns)
        fprintf(stderr, "No resources found in %s namespace.\n", ns);
    else if (human && !printed_one && !single)
        fprintf(stderr, "No resources found\n");
    if (!collected)
        return;
    json_t *items = collected;
    collected = NULL; /* print_document's "---" needs printed_one false */
    printed_one = false;
    if (single && json_array_size(items) == 1) {
        print_document(json_array_get(items, 0));
    } else if (!single || json_array_size(items) > 0) {
        json_t *list = json_pack("{s:s, s:O, s:s, s:{s:s}}", "apiVersion", "v1", "items", items,
                                 "kind", "List", "metadata", "resourceVersion", "");
        if (list)
            print_document(list);
        json_decref(list);
    }
    json_decref(items);
}

/* A list's BadRequest or NotFound, reworded as kubectl words it: the
 * resource as group/version and its selectors come before the server's
 * message ("Unable to find \"/v1, Resource=configmaps\" that match label
 * selector ..."), still an error from the server. */
static void word_list_error(kr_error_t *err, const kr_resource_info *info, const char *labels,
                            const char *fields)
{
    if (strcmp(err->reason, "BadRequest") != 0 && strcmp(err->reason, "NotFound") != 0)
        return;
    char subj[400], message[sizeof(err->message)];
    snprintf(subj, sizeof(subj), "%s/%s, Resource=%s", info->group, info->version, info->resource);
    int n; /* a longer message is cut, as err's own */
    if ((!labels || !labels[0]) && (!fields || !fields[0]))
        n = snprintf(message, sizeof(message), "Unable to list \"%s\": %s", subj, err->message);
    else
        n = snprintf(message, sizeof(message),
                     "Unable to find \"%s\" that match label selector \"%s\", field selector "
                     "\"%s\": %s",
                     subj, labels ? labels : "", fields ? fields : "", err->message);
    if (n < 0)
        return;
    memcpy(err->message, message, sizeof(message));
}

typedef struct list_ctx {
    const kr_resource_info *info;
    bool all_namespaces;
    char rv[64];
} list_ctx;

static int print_page(json_t *page, void *user)
{
    list_ctx *ctx = user;
    size_t i;
    json_t *item;
    if (output == OUT_TABLE)
        print_table(page, ctx->info, ctx->all_namespaces);
    else
        json_array_foreach(json_object_get(page, "items"), i, item) print_object(item, ctx->info);
    const char *rv =
        json_string_value(json_object_get(json_object_get(page, "metadata"), "resourceVersion"));
    if (rv && !ctx->rv[0])
        snprintf(ctx->rv, sizeof(ctx->rv), "%s", rv);
    fflush(stdout);
    return 0;
}

/* On the loop thread: print each object; bookmarks only move the RV. */
static void on_event(kr_watch_t *w, kr_watch_event_type type, json_t *object, void *user)
{
    (void)w;
    watch_state *st = user;
    if (output == OUT_TABLE &&
        (type == KR_WATCH_ADDED || type == KR_WATCH_MODIFIED || type == KR_WATCH_DELETED)) {
        print_table(object, st->info, st->all_namespaces);
        table_flush();
        fflush(stdout);
    } else if (type == KR_WATCH_ADDED || type == KR_WATCH_MODIFIED || type == KR_WATCH_DELETED) {
        json_t *copy = json_deep_copy(object);
        if (copy) {
            print_object(copy, st->info);
            json_decref(copy);
        }
        fflush(stdout);
    }
}

static void on_end(kr_watch_t *w, int rc, const kr_error_t *err, void *user)
{
    watch_state *st = user;
    pthread_mutex_lock(&st->lock);
    st->ended = true;
    st->rc = rc;
    if (err)
        st->err = *err;
    snprintf(st->rv, sizeof(st->rv), "%s", kr_watch_resource_version(w));
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

static bool transient(int rc)
{
    return rc == KR_ECONNECT || rc == KR_ETIMEDOUT || rc == KR_EUNAVAILABLE ||
           rc == KR_ETHROTTLED || rc == KR_EIO; /* KR_EIO: cut, also inside an event */
}

/* The namespace of a request for `info`: none across all of them. */
static const char *namespace_of(kr_client_t *client, const args *a, const kr_resource_info *info)
{
    if (!info->namespaced || a->all_namespaces)
        return NULL;
    return a->namespace_ ? a->namespace_ : kr_client_default_namespace(client);
}

/* Get one object by name. As kubectl: an object not found in a namespace
 * (other than "default") that does not exist is the namespace's 404. */
static int get_named(kr_client_t *client, const kr_resource_info *info, const char *ns,
                     const char *name, json_t **obj, kr_error_t *err)
{
    if (!name[0])
        return kr_error_set(err, KR_EINVAL, "resource name may not be empty");
    int rc = kr_client_get(client, KR_GVR(info->group, info->version, info->resource), ns, name,
                           obj, err);
    if (rc != 0 && strcmp(err->reason, "NotFound") == 0 && ns && ns[0] &&
        strcmp(ns, "default") != 0) {
        json_t *nsobj = NULL;
        kr_error_t nserr = {0};
        if (kr_client_get(client, KR_GVR("", "v1", "namespaces"), NULL, ns, &nsobj, &nserr) != 0 &&
            strcmp(nserr.reason, "NotFound") == 0)
            *err = nserr;
        json_decref(nsobj);
    }
    return rc;
}

/* A page's items; for the table, the page (a Table) itself. */
static int keep_page(json_t *page, void *user)
{
    if (output == OUT_TABLE)
        return json_array_append(user, page);
    return json_array_extend(user, json_object_get(page, "items"));
}

/* The table of one object got by name: its row, listed by name, into
 * *tbl. A failure (the object gone meanwhile, a caller who may get but
 * not list) is the command's, said and counted as the GET's would be. */
static int named_table(kr_client_t *client, const kr_resource_info *info, const char *ns,
                       const char *name, json_t **tbl, kr_error_t *err)
{
    char selector[300];
    snprintf(selector, sizeof(selector), "metadata.name=%s", name);
    kr_list_opts lo = {.field_selector = selector, .accept = KG_TABLE_ACCEPT};
    *tbl = NULL;
    return kr_client_list(client, KR_GVR(info->group, info->version, info->resource), ns, &lo, tbl,
                          err);
}

/* The objects of `info` the selectors choose, in *items (a new array). */
static int list_items(kr_client_t *client, const args *a, const kr_resource_info *info,
                      json_t **items, kr_error_t *err)
{
    kr_list_opts lo = {.label_selector = a->labels,
                       .field_selector = a->fields,
                       .limit = a->chunk_size,
                       .accept = output == OUT_TABLE ? KG_TABLE_ACCEPT : NULL};
    const char *ns = namespace_of(client, a, info);
    kr_gvr gvr = KR_GVR(info->group, info->version, info->resource);
    *items = json_array();
    if (!*items)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    int rc;
    if (a->chunk_size > 0) {
        rc = kr_client_list_pages(client, gvr, ns, &lo, keep_page, *items, err);
    } else {
        json_t *list = NULL;
        rc = kr_client_list(client, gvr, ns, &lo, &list, err);
        if (rc == 0)
            keep_page(list, *items);
        json_decref(list);
    }
    if (rc != 0)
        word_list_error(err, info, a->labels, a->fields);
    return rc;
}

/* Several targets (TYPE/NAME arguments, NAMEs of one RESOURCE or of each
 * of RESOURCE's comma-separated types, or the lists of those types): each
 * got in turn, then what was found printed in their order, then the errors
 * of those that failed, as kubectl lists them. With -w, as kubectl: an
 * error alone, else the objects and the refusal to watch more than one. */
static int get_several(kr_client_t *client, const args *a, target *t, int n)
{
    for (int i = 0; i < n; i++) {
        if (t[i].name && t[i].info.namespaced && a->all_namespaces) {
            fprintf(stderr,
                    "error: a resource cannot be retrieved by name across all namespaces\n");
            return 1;
        }
    }
    int failed = 0;
    bool all_namespaced = !a->all_namespaces;
    for (int i = 0; i < n; i++) {
        all_namespaced = all_namespaced && t[i].info.namespaced;
        if (t[i].name) {
            const char *ns = namespace_of(client, a, &t[i].info);
            t[i].rc = get_named(client, &t[i].info, ns, t[i].name, &t[i].obj, &t[i].err);
            if (t[i].rc == 0 && output == OUT_TABLE) {
                json_t *tbl = NULL;
                json_decref(t[i].obj);
                t[i].rc = named_table(client, &t[i].info, ns, t[i].name, &tbl, &t[i].err);
                t[i].obj = t[i].rc == 0 ? json_pack("[o]", tbl) : NULL;
            }
        } else
            t[i].rc = list_items(client, a, &t[i].info, &t[i].obj, &t[i].err);
        failed += t[i].rc != 0;
        if (t[i].rc != 0 && t[i].err.code == KR_ECONNECT)
            return fail(&t[i].err); /* no server: said once, as kubectl */
    }
    /* As kubectl: names are KIND/NAME when what was found (each list, if
     * empty) is of several kinds. */
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i && t[i].rc == 0; k++)
            table_with_kind = table_with_kind ||
                              (t[k].rc == 0 && (strcmp(t[k].info.group, t[i].info.group) != 0 ||
                                                strcmp(t[k].info.version, t[i].info.version) != 0 ||
                                                strcmp(t[k].info.kind, t[i].info.kind) != 0));
    }
    for (int i = 0; i < n && !(a->watch && failed); i++) {
        size_t j;
        json_t *item;
        if (t[i].rc == 0 && output == OUT_TABLE)
            json_array_foreach(t[i].obj, j, item) print_table(item, &t[i].info, a->all_namespaces);
        else if (t[i].rc == 0 && t[i].name)
            print_object(t[i].obj, &t[i].info);
        else if (t[i].rc == 0)
            json_array_foreach(t[i].obj, j, item) print_object(item, &t[i].info);
    }
    table_flush();
    /* Nothing found and no error: said as kubectl says it, in the namespace
     * when every type is namespaced and -A was not given. */
    if (collected || !failed)
        print_collected(false, all_namespaced ? namespace_of(client, a, &t[0].info) : NULL);
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        if (t[i].rc != 0)
            fail_of(&t[i].err, failed > 1);
    }
    if (a->watch && !failed)
        fprintf(stderr, "error: you may only watch a single resource or type of resource at a "
                        "time\n");
    return failed || a->watch ? 1 : 0;
}

/* List (in pages) or get NAME, then watch from its RV for as long as it lasts. */
static int get(kr_client_t *client, const args *a, const kr_resource_info *info)
{
    kr_gvr gvr = KR_GVR(info->group, info->version, info->resource);
    if (info->namespaced && a->all_namespaces && a->name) {
        fprintf(stderr, "error: a resource cannot be retrieved by name across all namespaces\n");
        return 1;
    }
    const char *ns = namespace_of(client, a, info);
    /* With NAME there is no user selector (main refuses it): watch NAME. */
    char name_selector[300];
    const char *fields = a->fields;
    if (a->name) {
        snprintf(name_selector, sizeof(name_selector), "metadata.name=%s", a->name);
        fields = name_selector;
    }
    kr_error_t err = {0};
    list_ctx ctx = {.info = info, .all_namespaces = a->all_namespaces};
    const char *accept = output == OUT_TABLE ? KG_TABLE_ACCEPT : NULL;
    for (;;) {
        kr_list_opts lo = {.label_selector = a->labels,
                           .field_selector = fields,
                           .limit = a->chunk_size,
                           .accept = accept};
        ctx.rv[0] = '\0';
        int rc;
        if (a->name) {
            json_t *obj = NULL;
            rc = get_named(client, info, ns, a->name, &obj, &err);
            if (rc == 0) {
                const char *rv = json_string_value(
                    json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
                snprintf(ctx.rv, sizeof(ctx.rv), "%s", rv ? rv : "");
                if (output == OUT_TABLE) {
                    json_t *tbl = NULL;
                    rc = named_table(client, info, ns, a->name, &tbl, &err);
                    if (rc == 0)
                        print_table(tbl, info, a->all_namespaces);
                    json_decref(tbl);
                } else {
                    print_object(obj, info);
                }
                fflush(stdout);
            }
            json_decref(obj);
        } else {
            if (a->chunk_size > 0) {
                rc = kr_client_list_pages(client, gvr, ns, &lo, print_page, &ctx, &err);
            } else {
                json_t *list = NULL;
                rc = kr_client_list(client, gvr, ns, &lo, &list, &err);
                if (rc == 0)
                    print_page(list, &ctx);
                json_decref(list);
            }
            if (rc != 0)
                word_list_error(&err, info, a->labels, fields);
        }
        if (rc != 0)
            return fail(&err);
        if (!a->watch) {
            print_collected(a->name != NULL, ns);
            fflush(stdout);
            return 0;
        }
        /* Follow: a clean end re-watches from the last RV; 410 relists. */
        table_flush();
        fflush(stdout);
        watch_state st = {.info = info, .all_namespaces = a->all_namespaces};
        pthread_mutex_init(&st.lock, NULL);
        pthread_cond_init(&st.cond, NULL);
        snprintf(st.rv, sizeof(st.rv), "%s", ctx.rv);
        for (;;) {
            kr_list_opts wo = {.label_selector = a->labels,
                               .field_selector = fields,
                               .resource_version = st.rv,
                               .allow_watch_bookmarks = true,
                               .accept = accept};
            kr_watch_t *w = NULL;
            st.ended = false;
            if (kr_client_watch(client, gvr, ns, &wo, on_event, on_end, &st, &w, &err) != 0)
                return fail(&err);
            pthread_mutex_lock(&st.lock);
            while (!st.ended)
                pthread_cond_wait(&st.cond, &st.lock);
            pthread_mutex_unlock(&st.lock);
            kr_watch_free(w);
            if (st.rc == KR_EGONE) {
                /* Relist. The table is printed as a new kubectl get -w
                 * prints it (kubectl itself stops when a watch ends): its
                 * header first, its widths afresh, no blank line. */
                if (output == OUT_TABLE && table_open) {
                    kg_table_free(&table);
                    table_open = false;
                    printed_one = false;
                }
                break;
            }
            if (st.rc != 0 && !transient(st.rc))
                return fail(&st.err);
            if (st.rc != 0)
                sleep(1);
        }
    }
}

/* The element of argv that holds the short option `opt` ("-Z", "-AZ"):
 * from that letter on, as kubectl names it ("-Z"). */
static const char *short_flag(int argc, char **argv, int opt)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *at = argv[i][0] == '-' && argv[i][1] != '-' ? strchr(argv[i] + 1, opt) : NULL;
        if (at)
            return at;
    }
    return "";
}

/* getopt's refusal of the option just read, in kubectl's (cobra's) words. */
static void flag_error(int argc, char **argv, int c)
{
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    bool is_long = strncmp(arg, "--", 2) == 0;
    int name_len = (int)strcspn(arg, "=");
    if (c == ':' && is_long)
        fprintf(stderr, "Error: flag needs an argument: %.*s\n", name_len, arg);
    else if (c == ':')
        fprintf(stderr, "Error: flag needs an argument: '%c' in -%s\n", optopt,
                short_flag(argc, argv, optopt));
    else if (is_long && optopt)
        fprintf(stderr, "Error: flag %.*s takes no value\n", name_len, arg);
    else if (is_long)
        fprintf(stderr, "Error: unknown flag: %.*s\n", name_len, arg);
    else
        fprintf(stderr, "Error: unknown shorthand flag: '%c' in -%s\n", optopt,
                short_flag(argc, argv, optopt));
}

/* A boolean flag's value: none is true; "--watch=false" as Go's
 * strconv.ParseBool reads it, else kubectl's error and false. */
static bool bool_flag(const char *value, const char *flag, bool *ok)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    if (!value)
        return true;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(value, yes[i]) == 0)
            return true;
        if (strcmp(value, no[i]) == 0)
            return false;
    }
    fprintf(stderr,
            "Error: invalid argument \"%s\" for \"%s\" flag: strconv.ParseBool: parsing \"%s\": "
            "invalid syntax\n",
            value, flag, value);
    *ok = false;
    return false;
}

/* pflag's forms getopt does not know, rewritten in place before it reads
 * them: a short flag's value after "=" ("-n=ns", "-o=yaml": "-nns",
 * "-oyaml"), and a boolean one's ("-A=true": "-A"; "-w=false": dropped).
 * Returns the new argc, or -1 after kubectl's error for a bad boolean.
 * The value of a flag given in the next element is left alone. */
static int pflag_shorthands(int argc, char **argv, const struct option *longs)
{
    int out = 1;
    for (int i = 1; i < argc; i++) {
        char *e = argv[i];
        argv[out++] = e;
        if (strcmp(e, "--") == 0) {
            while (++i < argc)
                argv[out++] = argv[i];
            break;
        }
        if (strncmp(e, "--", 2) == 0) { /* a long flag's value in the next element */
            for (const struct option *o = longs; o->name; o++)
                if (o->has_arg == required_argument && strcmp(e + 2, o->name) == 0 && i + 1 < argc)
                    argv[out++] = argv[++i];
            continue;
        }
        if (e[0] != '-' || !e[1])
            continue;
        char *w = e + 1; /* where the next letter is written */
        for (char *r = e + 1; *r; r++) {
            if (strchr("nloL", *r)) { /* takes a value: the rest, or the next element */
                *w++ = *r;
                const char *v = r[1] == '=' && r[2] ? r + 2 : r + 1;
                if (!*v && i + 1 < argc)
                    argv[out++] = argv[++i];
                memmove(w, v, strlen(v) + 1);
                w = NULL;
                break;
            }
            if (strchr("Aw", *r) && r[1] == '=') { /* a boolean's value: the rest */
                bool ok = true;
                bool on = bool_flag(r + 2, *r == 'A' ? "-A, --all-namespaces" : "-w, --watch", &ok);
                if (!ok)
                    return -1;
                if (on)
                    *w++ = *r;
                break;
            }
            *w++ = *r;
        }
        if (w) {
            *w = '\0';
            if (w == e + 1) /* nothing left: "-w=false" */
                out--;
        }
    }
    argv[out] = NULL;
    return out;
}

static int parse_args(int argc, char **argv, args *a)
{
    enum {
        KUBECONFIG = 256,
        CONTEXT,
        FIELDS,
        CHUNK,
        SERVER,
        TOKEN,
        CA,
        INSECURE,
        MANAGED,
        LABELS,
        NO_HEADERS
    };
    static const char *label_columns[64];
    static const struct option longs[] = {
        {"kubeconfig", required_argument, NULL, KUBECONFIG},
        {"context", required_argument, NULL, CONTEXT},
        {"namespace", required_argument, NULL, 'n'},
        {"all-namespaces", optional_argument, NULL, 'A'},
        {"selector", required_argument, NULL, 'l'},
        {"field-selector", required_argument, NULL, FIELDS},
        {"watch", optional_argument, NULL, 'w'},
        {"output", required_argument, NULL, 'o'},
        {"chunk-size", required_argument, NULL, CHUNK},
        {"server", required_argument, NULL, SERVER},
        {"token", required_argument, NULL, TOKEN},
        {"certificate-authority", required_argument, NULL, CA},
        {"insecure-skip-tls-verify", optional_argument, NULL, INSECURE},
        {"show-managed-fields", optional_argument, NULL, MANAGED},
        {"show-labels", optional_argument, NULL, LABELS},
        {"no-headers", optional_argument, NULL, NO_HEADERS},
        {"label-columns", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    a->chunk_size = 500;
    argc = pflag_shorthands(argc, argv, longs);
    if (argc < 0)
        return -1;
    int c;
    bool ok = true;
    opterr = 0; /* flag_error says it, as kubectl does */
    while ((c = getopt_long(argc, argv, ":n:Al:wo:L:h", longs, NULL)) != -1) {
        switch (c) {
        case KUBECONFIG:
            a->kubeconfig = optarg;
            break;
        case CONTEXT:
            a->context = optarg;
            break;
        case 'n': /* an empty one is none, as kubectl takes it */
            a->namespace_ = optarg[0] ? optarg : NULL;
            break;
        case 'A':
            a->all_namespaces = bool_flag(optarg, "-A, --all-namespaces", &ok);
            break;
        case 'l':
            a->labels = optarg;
            break;
        case FIELDS:
            a->fields = optarg;
            break;
        case 'w':
            a->watch = bool_flag(optarg, "-w, --watch", &ok);
            break;
        case 'o': /* in any case, as kubectl takes it ("-o JSON") */
            output_arg = optarg;
            if (strcasecmp(optarg, "json") == 0)
                output = OUT_JSON;
            else if (strcasecmp(optarg, "jsonl") == 0)
                output = OUT_LINES;
            else if (strcasecmp(optarg, "yaml") == 0)
                output = OUT_YAML;
            else if (strcasecmp(optarg, "name") == 0)
                output = OUT_NAME;
            else if (strncmp(optarg, "jsonpath", 8) == 0 && (!optarg[8] || optarg[8] == '=')) {
                char why[1024];
                if (!optarg[8] || !optarg[9]) {
                    fprintf(stderr, "error: template format specified but no template given\n");
                    exit(1);
                }
                kg_jsonpath_free(jsonpath);
                if (!(jsonpath = kg_jsonpath_parse(optarg + 9, why, sizeof(why)))) {
                    fprintf(stderr, "error: %s\n", why);
                    exit(1);
                }
                output = OUT_JSONPATH;
            } else if (strncmp(optarg, "custom-columns", 14) == 0 &&
                       (!optarg[14] || optarg[14] == '=')) {
                columns_spec = optarg[14] ? optarg + 15 : "";
                output = OUT_COLUMNS;
            } else if (strcmp(optarg, "wide") == 0) { /* only so, as kubectl takes it */
                output = OUT_TABLE;
                table_opts.wide = true;
            } else {
                fprintf(stderr,
                        "error: unable to match a printer suitable for the output format "
                        "\"%s\", allowed formats are: "
                        "custom-columns,json,jsonl,jsonpath,name,wide,yaml\n",
                        optarg);
                exit(1);
            }
            break;
        case CHUNK: {
            char *end;
            errno = 0;
            a->chunk_size = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end) {
                fprintf(stderr,
                        "Error: invalid argument \"%s\" for \"--chunk-size\" flag: "
                        "strconv.ParseInt: parsing \"%s\": %s\n",
                        optarg, optarg, errno == ERANGE ? "value out of range" : "invalid syntax");
                return -1;
            }
            break;
        }
        case SERVER:
            a->server = optarg;
            break;
        case TOKEN:
            a->token = optarg;
            break;
        case CA:
            a->ca_file = optarg;
            break;
        case INSECURE:
            a->insecure = bool_flag(optarg, "--insecure-skip-tls-verify", &ok);
            break;
        case LABELS:
            table_opts.show_labels = bool_flag(optarg, "--show-labels", &ok);
            break;
        case NO_HEADERS:
            table_opts.no_headers = bool_flag(optarg, "--no-headers", &ok);
            break;
        case 'L': /* comma-separated keys, the flag repeated or not */
            for (char *key = optarg[0] ? optarg : NULL, *next; key; key = next) {
                next = strchr(key, ',');
                if (next)
                    *next++ = '\0';
                if (table_opts.nlabel_columns < sizeof(label_columns) / sizeof(label_columns[0]))
                    label_columns[table_opts.nlabel_columns++] = key;
            }
            table_opts.label_columns = label_columns;
            break;
        case MANAGED:
            show_managed_fields = bool_flag(optarg, "--show-managed-fields", &ok);
            break;
        case 'h':
            exit(usage(stdout, 0));
        default:
            flag_error(argc, argv, c);
            return -1;
        }
        if (!ok)
            return -1;
    }
    if (optind >= argc)
        return -1;
    if (table_opts.show_labels && output != OUT_TABLE) {
        static const char *const printers[] = {"", "jsonl", "json", "yaml", "name", "template"};
        fprintf(stderr, "error: --show-labels option cannot be used with %s printer\n",
                output == OUT_COLUMNS ? output_arg : printers[output]);
        exit(1);
    }
    if (output == OUT_COLUMNS) {
        char why[1024];
        if (!(columns = kg_columns_new(columns_spec, table_opts.no_headers, why, sizeof(why)))) {
            fprintf(stderr, "error: %s\n", why);
            exit(1);
        }
        kg_table_init(&columns_table, &(kg_table_opts){0}, true);
    }
    a->words = argv + optind;
    a->nwords = argc - optind;
    return 0;
}

/* RESOURCE's comma-separated types (`cm,secrets`), each once, in their
 * order, as kubectl splits them; an empty one stays (and is not found). The
 * types are cut in place; returns their number. */
static int split_types(char *resource, char **types, int max)
{
    int n = 0;
    for (char *part = resource, *next; part; part = next) {
        next = strchr(part, ',');
        if (next)
            *next++ = '\0';
        bool seen = false;
        for (int i = 0; i < n && !seen; i++)
            seen = strcmp(types[i], part) == 0;
        if (!seen && n < max)
            types[n++] = part;
    }
    return n;
}

/* The arguments as kubectl's builder reads them: all TYPE/NAME, or
 * RESOURCE[,RESOURCE...] and NAMEs, each NAME of each type in turn (no
 * NAME: each type's list, a target without a name). Returns the number of
 * targets in *t, or -1 after kubectl's error; *types is the number of
 * types RESOURCE named (1 with TYPE/NAME arguments). */
static int targets_of(const args *a, target **t, int *types)
{
    int slashes = 0;
    for (int i = 0; i < a->nwords; i++)
        slashes += strchr(a->words[i], '/') != NULL;
    if (slashes && slashes != a->nwords) {
        fprintf(stderr, "error: there is no need to specify a resource type as a separate "
                        "argument when passing arguments in resource/name form (e.g. 'kr-get "
                        "resource/<resource_name>' instead of 'kr-get resource "
                        "resource/<resource_name>'\n");
        return -1;
    }
    char *type_of[64];
    *types = 1;
    if (!slashes)
        *types = split_types(a->words[0], type_of, (int)(sizeof(type_of) / sizeof(type_of[0])));
    int names = a->nwords - 1;
    int n = slashes ? a->nwords : *types * (names ? names : 1);
    *t = calloc((size_t)n, sizeof(**t));
    if (!*t) {
        fprintf(stderr, "error: out of memory\n");
        return -1;
    }
    for (int i = 0; i < n && !slashes; i++) {
        (*t)[i].type = type_of[names ? i / names : i];
        (*t)[i].name = names ? a->words[1 + i % names] : NULL;
    }
    for (int i = 0; i < n && slashes; i++) {
        char *word = a->words[i], *slash = strchr(word, '/');
        if (strchr(slash + 1, '/')) {
            fprintf(stderr, "error: arguments in resource/name form may not have more than one "
                            "slash\n");
            return -1;
        }
        *slash = '\0';
        char copy[256], *one[2];
        snprintf(copy, sizeof(copy), "%s", word);
        if (slash == word || !slash[1] || split_types(copy, one, 2) != 1) {
            fprintf(stderr, "error: arguments in resource/name form must have a single resource "
                            "and name\n");
            return -1;
        }
        (*t)[i].type = word;
        (*t)[i].name = slash + 1;
    }
    return n;
}

static void log_to_stderr(kr_log_level level, const char *module, const char *message, void *user)
{
    (void)user;
    fprintf(stderr, "%s: %s: %s\n", kr_log_level_name(level), module, message);
}

int main(int argc, char **argv)
{
    args a = {0};
    if (parse_args(argc, argv, &a) != 0)
        return usage(stderr, 2);
    bool selected = (a.labels && a.labels[0]) || (a.fields && a.fields[0]);
    bool type_name = strchr(a.words[0], '/') != NULL;
    if (type_name && selected) {
        fprintf(stderr, "error: selectors and the all flag cannot be used when passing "
                        "resource/name arguments\n");
        return 1;
    }
    if (a.nwords > 1 && selected) {
        fprintf(stderr, "error: name cannot be provided when a selector is specified\n");
        return 1;
    }
    target *t = NULL;
    int types = 1;
    int n = targets_of(&a, &t, &types);
    if (n < 0) {
        free(t);
        return 1;
    }
    if (a.watch && types > 1) {
        fprintf(stderr, "error: you may only specify a single resource type\n");
        free(t);
        return 1;
    }
    a.resource = t[0].type;
    a.name = t[0].name;
    /* The connection: a kubeconfig (or in-cluster), as kubectl finds it,
     * with the command line's overrides; or just --server. */
    kr_logger logger = {.cb = log_to_stderr, .max_level = KR_LOG_WARN};
    kr_rest_config manual = {0}, *loaded = NULL, *cfg = &manual;
    kr_error_t err = {0};
    /* A --kubeconfig that is not there, in kubectl's (Go's os.Stat) words. */
    struct stat st;
    if (a.kubeconfig && stat(a.kubeconfig, &st) != 0 && errno == ENOENT) {
        fprintf(stderr, "error: stat %s: no such file or directory\n", a.kubeconfig);
        free(t);
        return 1;
    }
    if (a.server && !a.kubeconfig && !a.context) {
        manual.server = (char *)a.server;
        manual.bearer_token = (char *)a.token;
        manual.ca_file = (char *)a.ca_file;
        manual.insecure_skip_tls_verify = a.insecure;
    } else {
        kr_config_load_opts lo = {.kubeconfig = a.kubeconfig,
                                  .overrides = {.context = a.context,
                                                .namespace_ = a.namespace_,
                                                .server = a.server,
                                                .token = a.token,
                                                .certificate_authority = a.ca_file,
                                                .insecure_skip_tls_verify = a.insecure},
                                  .logger = logger};
        if (kr_config_load(&lo, &loaded, &err) != 0) {
            free(t);
            return fail(&err);
        }
        cfg = loaded;
    }
    server_url = cfg->server;
    /* kubectl's pace, not client-go's 5 QPS default. */
    if (cfg->qps == 0)
        cfg->qps = 50;
    if (cfg->burst == 0)
        cfg->burst = 100;

    kr_runtime_opts ro = {.logger = logger};
    kr_runtime_t *rt = NULL;
    kr_client_t *client = NULL;
    int status = 1;
    if (kr_runtime_new(&ro, &rt, &err) != 0 || kr_runtime_start(rt, &err) != 0 ||
        kr_client_new(rt, cfg, NULL, &client, &err) != 0) {
        status = fail(&err);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (!t[i].type[0]) { /* no such resource, in kubectl's words */
            fprintf(stderr, "error: the server doesn't have a resource type \"\"\n");
            goto out;
        }
        if (kr_client_resolve(client, t[i].type, &t[i].info, &err) != 0) {
            status = fail(&err);
            goto out;
        }
    }
    /* As kubectl: a resource's list asked for again under another name
     * (`configmaps,cm`) is listed once; objects named are got each time. */
    int kept = 0;
    for (int i = 0; i < n; i++) {
        bool again = false;
        for (int k = 0; k < kept && !t[i].name && !again; k++)
            again = !t[k].name && strcmp(t[k].info.group, t[i].info.group) == 0 &&
                    strcmp(t[k].info.version, t[i].info.version) == 0 &&
                    strcmp(t[k].info.resource, t[i].info.resource) == 0;
        if (!again)
            t[kept++] = t[i];
    }
    n = kept;
    if ((output == OUT_JSON || output == OUT_YAML || output == OUT_JSONPATH ||
         output == OUT_COLUMNS) &&
        !a.watch)
        collected = json_array();
    if (n > 1)
        status = get_several(client, &a, t, n);
    else
        status = get(client, &a, &t[0].info);
out:
    if (jsonpath_failed)
        status = 1;
    kg_jsonpath_free(jsonpath);
    kg_columns_free(columns);
    if (columns)
        kg_table_free(&columns_table);
    json_decref(collected);
    if (table_open)
        kg_table_free(&table);
    for (int i = 0; i < n; i++)
        json_decref(t[i].obj);
    free(t);
    kr_client_free(client);
    kr_runtime_free(rt);
    kr_rest_config_free(loaded);
    return status;
}
