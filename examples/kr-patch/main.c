/* kr-patch — `kubectl patch --local` for files: apply a merge, strategic or
 * JSON patch, create a two-way patch (diff) or the three-way patch kubectl
 * apply sends. Inputs are JSON or YAML files ("-" for stdin); output is
 * JSON on stdout. Exit 0 on success, 1 when a patch cannot be applied or an
 * input is invalid (one line on stderr, "error: " first, in kubectl patch's
 * words for a missing file and a patch in braces that is not JSON), 2 on
 * usage errors. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kreconcile.h"

#define EXIT_PATCH 1
#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: kr-patch apply     [--type merge|strategic|json [--strict]] [--schema FILE]\n"
    "                          [--kind KIND] [--pretty] ORIGINAL PATCH\n"
    "       kr-patch diff      [--type merge|strategic] [--schema FILE] [--kind KIND]\n"
    "                          [--pretty] ORIGINAL MODIFIED\n"
    "       kr-patch three-way [--type merge|strategic] [--schema FILE] [--kind KIND]\n"
    "                          [--pretty] LAST_APPLIED MODIFIED CURRENT\n"
    "       kr-patch --help\n";

static const char help_text[] =
    "\n"
    "Patches Kubernetes-style documents offline, as the apiserver and kubectl do.\n"
    "\n"
    "Commands:\n"
    "  apply      apply PATCH to ORIGINAL and print the result\n"
    "  diff       print the patch that turns ORIGINAL into MODIFIED\n"
    "  three-way  print the patch `kubectl apply` sends: the changes from CURRENT\n"
    "             (the live object) to MODIFIED (the new intent), plus removals of\n"
    "             fields that LAST_APPLIED held and MODIFIED dropped; fields set by\n"
    "             others (absent from LAST_APPLIED) are kept. An empty or null\n"
    "             LAST_APPLIED means there is none.\n"
    "\n"
    "Inputs are JSON or YAML files; \"-\" reads standard input (once).\n"
    "Output is compact JSON on standard output.\n"
    "\n"
    "Options:\n"
    "  --type T       merge (RFC 7386 JSON merge patch), strategic (Kubernetes\n"
    "                 strategic merge patch) or json (RFC 6902 JSON patch, apply\n"
    "                 only). Default: strategic when the document's apiVersion\n"
    "                 and kind are known, merge otherwise. As kubectl, apply\n"
    "                 takes only an object as a merge patch.\n"
    "  --strict       with --type json: apply the patch as RFC 6902 says. Without\n"
    "                 it, as kube-apiserver and kubectl do: an index may count from\n"
    "                 the end (\"/items/-1\"), \"replace\" of an absent member\n"
    "                 sets it, \"copy\" from an absent member copies null.\n"
    "  --schema FILE  add patch metadata (strategy and merge key per field) in the\n"
    "                 format of k8s-patch-metadata.json: {\"kinds\": {...},\n"
    "                 \"definitions\": {...}}; it extends the built-in metadata of\n"
    "                 the Kubernetes built-in kinds.\n"
    "  --kind KIND    the schema, by its key in \"kinds\" (e.g. apps/v1/Deployment),\n"
    "                 of documents that carry no apiVersion/kind.\n"
    "  --pretty       indent the output.\n"
    "  --help         show this help.\n"
    "\n"
    "Exit status: 0 on success; 1 when a patch cannot be applied or an input is\n"
    "invalid (with one line on standard error, \"error: \" first, as kubectl\n"
    "patch says it); 2 on usage errors.\n"
    "\n"
    "Example:\n"
    "  kr-patch apply pod.yaml - <<'EOF'\n"
    "  spec:\n"
    "    containers:\n"
    "    - name: web\n"
    "      image: nginx:1.27\n"
    "  EOF\n"
    "merges the container named web by its name (a strategic merge patch, since\n"
    "Pod is a built-in kind) and keeps the other containers. And\n"
    "  kr-patch diff --type merge old.json new.json\n"
    "prints {\"spec\":{\"replicas\":3}} when only the replicas changed.\n";

enum command { CMD_APPLY, CMD_DIFF, CMD_THREE_WAY };

typedef struct options {
    enum command command;
    const char *type; /* NULL: by kind */
    const char *schema_file;
    const char *kind;
    int pretty;
    int strict;
    const char *files[3];
    int nfiles;
} options;

/* A usage error: one line on stderr, exit status 2. */
static int usage_error(const char *fmt, const char *arg)
{
    fputs("kr-patch: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (run 'kr-patch --help' for usage)\n", stderr);
    return EXIT_USAGE;
}

/* One line on stderr, whatever the message holds; "error: " first, as
 * kubectl begins its failures. */
static int fail(const char *what, const kr_error_t *err)
{
    char line[1200];
    snprintf(line, sizeof(line), "%s%s%s", what, err ? ": " : "", err ? err->message : "");
    for (char *p = line; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    fprintf(stderr, "error: %s\n", line);
    return EXIT_PATCH;
}

/* Files larger than this are refused, as the YAML loader refuses them. */
#define INPUT_MAX (64L * 1024 * 1024)

/* An input's whole text, NUL-terminated ("-": standard input). NULL on
 * failure: KR_ENOTFOUND when there is no such file. */
static char *read_input(const char *path, size_t *len, kr_error_t *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        kr_error_set(err, errno == ENOENT ? KR_ENOTFOUND : KR_EIO, "%s", strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t cap = 0;
    bool failed = false;
    *len = 0;
    for (;;) {
        if (cap - *len < 2) { /* room for a byte and the NUL */
            if (cap == (size_t)INPUT_MAX + 1) { /* INPUT_MAX bytes read: the end? */
                int more = fgetc(f);
                if (more != EOF || ferror(f)) {
                    if (more != EOF)
                        kr_error_set(err, KR_ETOOLARGE, "larger than %ld bytes", INPUT_MAX);
                    else
                        kr_error_set(err, KR_EIO, "read failed: %s", strerror(errno));
                    failed = true;
                }
                break;
            }
            size_t more = cap ? cap * 2 : 65536;
            if (more > (size_t)INPUT_MAX + 1)
                more = (size_t)INPUT_MAX + 1; /* the largest input and its NUL */
            char *grown = realloc(text, more);
            if (!grown) {
                kr_error_set(err, KR_ENOMEM, "out of memory");
                failed = true;
                break;
            }
            text = grown;
            cap = more;
        }
        size_t n = fread(text + *len, 1, cap - *len - 1, f);
        if (n == 0) {
            if (ferror(f)) {
                kr_error_set(err, KR_EIO, "read failed: %s", strerror(errno));
                failed = true;
            }
            break;
        }
        *len += n;
    }
    if (!is_stdin)
        fclose(f);
    if (failed) {
        free(text);
        return NULL;
    }
    text[*len] = '\0';
    return text;
}

/* Text that kubectl passes on as JSON without reading it as YAML: its
 * first character (after white space) is "{". */
static bool json_prefixed(const char *text)
{
    text += strspn(text, " \t\r\n");
    return *text == '{';
}

static int parse_args(int argc, char **argv, options *o)
{
    static const struct option long_options[] = {
        {"type", required_argument, NULL, 't'},
        {"schema", required_argument, NULL, 's'},
        {"kind", required_argument, NULL, 'k'},
        {"pretty", no_argument, NULL, 'p'},
        {"strict", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    if (argc < 2)
        return usage_error("%s", "a command is required");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        fputs(help_text, stdout);
        return -1;
    }
    if (strcmp(cmd, "apply") == 0)
        o->command = CMD_APPLY;
    else if (strcmp(cmd, "diff") == 0)
        o->command = CMD_DIFF;
    else if (strcmp(cmd, "three-way") == 0)
        o->command = CMD_THREE_WAY;
    else
        return usage_error("unknown command \"%s\"", cmd);

    opterr = 0;
    optind = 1;
    int c;
    char **args = argv + 1; /* getopt sees the command as its argv[0] */
    while ((c = getopt_long(argc - 1, args, ":h", long_options, NULL)) != -1) {
        switch (c) {
        case 't':
            o->type = optarg;
            break;
        case 's':
            o->schema_file = optarg;
            break;
        case 'k':
            o->kind = optarg;
            break;
        case 'p':
            o->pretty = 1;
            break;
        case 'S':
            o->strict = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            fputs(help_text, stdout);
            return -1;
        case ':':
            return usage_error("option %s needs a value", args[optind - 1]);
        default:
            return usage_error("unknown option \"%s\"", args[optind - 1]);
        }
    }
    int want = o->command == CMD_THREE_WAY ? 3 : 2;
    int given = argc - 1 - optind;
    if (given != want) {
        static const char *const names[] = {"apply", "diff", "three-way"};
        fprintf(stderr, "kr-patch: %s takes %d files, got %d (run 'kr-patch --help' for usage)\n",
                names[o->command], want, given);
        return EXIT_USAGE;
    }
    int stdin_uses = 0;
    for (int i = 0; i < want; i++) {
        o->files[i] = args[optind + i];
        stdin_uses += strcmp(o->files[i], "-") == 0;
    }
    o->nfiles = want;
    if (stdin_uses > 1)
        return usage_error("%s", "only one input can be \"-\" (stdin)");
    if (o->type && strcmp(o->type, "merge") != 0 && strcmp(o->type, "strategic") != 0 &&
        strcmp(o->type, "json") != 0) { /* in kubectl's words; a usage error still */
        fprintf(stderr, "error: --type must be one of [json merge strategic], not \"%s\"\n",
                o->type);
        return EXIT_USAGE;
    }
    if (o->type && strcmp(o->type, "json") == 0 && o->command != CMD_APPLY)
        return usage_error("%s", "--type json is for apply only (JSON patches are not created)");
    if (o->strict && (!o->type || strcmp(o->type, "json") != 0))
        return usage_error("%s", "--strict goes with --type json");
    return 0;
}

/* The metadata for the documents: --kind, else the first document that
 * names a known apiVersion/kind. NULL when unknown. */
static int find_meta(const options *o, const kr_patch_schema_t *schema, json_t *const docs[3],
                     const kr_patch_meta_t **meta)
{
    *meta = NULL;
    if (o->kind) {
        *meta = kr_patch_schema_find_key(schema, o->kind);
        if (!*meta) {
            fprintf(stderr, "error: --kind \"%s\": no such key in the schema's kinds\n", o->kind);
            return EXIT_PATCH;
        }
        return 0;
    }
    /* apply/diff: the original; three-way: current, then modified. */
    static const int order[3][3] = {{0, -1, -1}, {0, 1, -1}, {2, 1, -1}};
    for (int i = 0; i < 3 && order[o->command][i] >= 0 && !*meta; i++) {
        const json_t *doc = docs[order[o->command][i]];
        if (json_is_object(doc))
            *meta = kr_patch_schema_find_for(schema, doc);
    }
    return 0;
}

/* A PATCH in braces, JSON to kubectl, that does not parse: in kubectl's
 * words for the patch's type (those of its merge patch library, or of its
 * strategic merge patch); a JSON patch's, Go's parser's in kubectl, are
 * ours. */
static int bad_json_patch(const options *o, const kr_patch_meta_t *meta, const char *what,
                          const kr_error_t *err)
{
    if (o->type && strcmp(o->type, "json") == 0)
        return fail(what, err);
    bool strategic = o->type ? strcmp(o->type, "strategic") == 0 : meta != NULL;
    fprintf(stderr, "error: %s\n", strategic ? "invalid JSON document" : "Invalid JSON Patch");
    return EXIT_PATCH;
}

static int run(const options *o, json_t *const docs[3], const kr_patch_meta_t *meta, json_t **out,
               kr_error_t *err)
{
    int strategic = o->type ? strcmp(o->type, "strategic") == 0 : meta != NULL;
    int json = o->type && strcmp(o->type, "json") == 0;
    if (strategic && !meta)
        return kr_error_set(err, KR_EUNSUPPORTED,
                            "strategic merge patch needs patch metadata and the document's kind "
                            "is unknown (as the apiserver answers for custom resources); use "
                            "--type merge, or --schema/--kind");
    switch (o->command) {
    case CMD_APPLY:
        /* RFC 7386 lets any value replace the document; kubectl (and the
         * apiserver) take only an object as a merge patch. */
        if (!json && !strategic && !json_is_object(docs[1]))
            return kr_error_set(err, KR_EPARSE, "/: the merge patch is not a JSON object");
        if (json && o->strict)
            return kr_patch_json_apply(docs[0], docs[1], out, err);
        if (json)
            return kr_patch_json_apply_as_apiserver(docs[0], docs[1], out, err);
        if (strategic)
            return kr_patch_strategic_apply(meta, docs[0], docs[1], out, err);
        return kr_patch_merge_apply(docs[0], docs[1], out, err);
    case CMD_DIFF:
        if (strategic)
            return kr_patch_strategic_create(meta, docs[0], docs[1], out, err);
        return kr_patch_merge_create(docs[0], docs[1], out, err);
    case CMD_THREE_WAY: {
        const json_t *last = json_is_null(docs[0]) ? NULL : docs[0];
        if (strategic)
            return kr_patch_strategic_three_way(meta, last, docs[1], docs[2], 1, out, err);
        return kr_patch_merge_three_way(last, docs[1], docs[2], out, err);
    }
    }
    return kr_error_set(err, KR_EINVAL, "unknown command");
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    static const char *const roles[3][3] = {
        {"ORIGINAL", "PATCH", ""},
        {"ORIGINAL", "MODIFIED", ""},
        {"LAST_APPLIED", "MODIFIED", "CURRENT"},
    };
    json_t *docs[3] = {NULL, NULL, NULL};
    json_t *out = NULL;
    kr_patch_schema_t *user_schema = NULL;
    kr_error_t err = {0};
    char what[600], patch_what[600];
    bool bad_json = false; /* a PATCH in braces that does not parse */
    kr_error_t patch_err = {0};
    int status = 0;
    for (int i = 0; i < o.nfiles && status == 0; i++) {
        /* The PATCH is kubectl's --patch-file; the others, its -f. */
        bool is_patch = o.command == CMD_APPLY && i == 1;
        const char *file = o.files[i];
        snprintf(what, sizeof(what), "%s %s", roles[o.command][i],
                 strcmp(file, "-") == 0 ? "<stdin>" : file);
        size_t len = 0;
        char *text = read_input(file, &len, &err);
        if (!text && err.code == KR_ENOTFOUND && is_patch) {
            fprintf(stderr,
                    "error: unable to read patch file: open %s: no such file or directory\n", file);
            status = EXIT_PATCH;
        } else if (!text && err.code == KR_ENOTFOUND) {
            fprintf(stderr, "error: the path \"%s\" does not exist\n", file);
            status = EXIT_PATCH;
        } else if (!text) {
            status = fail(what, &err);
        } else if (kr_yaml_parse(text, len, &docs[i], &err) != 0) {
            if (is_patch && json_prefixed(text)) { /* worded below, by the patch's type */
                bad_json = true;
                patch_err = err;
                snprintf(patch_what, sizeof(patch_what), "%s", what);
            } else {
                status = fail(what, &err);
            }
        }
        free(text);
    }
    const kr_patch_schema_t *schema = kr_patch_schema_builtin();
    if (status == 0 && o.schema_file) {
        if (kr_patch_schema_load_file(o.schema_file, schema, &user_schema, &err) != 0) {
            snprintf(what, sizeof(what), "--schema %s", o.schema_file);
            status = fail(what, &err);
        }
        schema = user_schema;
    }
    const kr_patch_meta_t *meta = NULL;
    if (status == 0)
        status = find_meta(&o, schema, docs, &meta);
    if (status == 0 && bad_json)
        status = bad_json_patch(&o, meta, patch_what, &patch_err);
    if (status == 0 && run(&o, docs, meta, &out, &err) != 0)
        status = fail(o.command == CMD_APPLY ? "cannot apply the patch" : "cannot create the patch",
                      &err);
    if (status == 0) {
        size_t flags = JSON_ENCODE_ANY | (o.pretty ? JSON_INDENT(2) : JSON_COMPACT);
        if (json_dumpf(out, stdout, flags) != 0 || fputc('\n', stdout) == EOF ||
            fflush(stdout) != 0)
            status = fail("cannot write the output", NULL);
    }
    json_decref(out);
    for (int i = 0; i < 3; i++)
        json_decref(docs[i]);
    kr_patch_schema_free(user_schema);
    return status;
}
