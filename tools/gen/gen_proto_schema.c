/* Maintainer tool (not run by the build): derives the protobuf schema table
 * data/k8s-proto-schema.json from the generated.proto files of k8s.io/api and
 * k8s.io/apimachinery (one release), plus the two facts the .proto files do
 * not carry and the JSON encoding needs, read from the Go struct tags of
 * the same packages: omitempty, pointer-ness and the JSON name of each field.
 *
 *   gen_proto_schema OUT.json K8S_API_DIR K8S_APIMACHINERY_DIR SOURCE_TEXT
 *   gen_proto_schema --add OUT.json PACKAGE_DIR SOURCE_TEXT   (one more package,
 *       e.g. k8s.io/kube-aggregator/pkg/apis/apiregistration/v1)
 *
 * See data/README.md for the table's format. */
#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const char *name)
{
    fprintf(stderr, "gen_proto_schema: %s: %s\n", what, name);
    exit(1);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, len = 0, n;
    char *buf = malloc(cap);
    if (!buf)
        die("out of memory", path);
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                die("out of memory", path);
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* ---- .proto tokens ------------------------------------------------------------ */

typedef struct lexer {
    const char *p;
    char tok[512];
} lexer;

/* The next token (identifier, number, dotted name or one punctuation
 * character) into lx->tok; false at the end. Comments are skipped. */
static bool next(lexer *lx)
{
    for (;;) {
        while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r')
            lx->p++;
        if (lx->p[0] == '/' && lx->p[1] == '/') {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
            continue;
        }
        if (lx->p[0] == '/' && lx->p[1] == '*') {
            const char *end = strstr(lx->p + 2, "*/");
            lx->p = end ? end + 2 : lx->p + strlen(lx->p);
            continue;
        }
        break;
    }
    if (!*lx->p)
        return false;
    size_t n = 0;
    if (strchr("{}<>=;,[]()", *lx->p)) {
        lx->tok[n++] = *lx->p++;
    } else if (*lx->p == '"') {
        lx->tok[n++] = *lx->p++;
        while (*lx->p && *lx->p != '"' && n < sizeof(lx->tok) - 2)
            lx->tok[n++] = *lx->p++;
        if (*lx->p == '"')
            lx->tok[n++] = *lx->p++;
    } else {
        while (*lx->p && !strchr(" \t\r\n{}<>=;,[]()\"", *lx->p) && n < sizeof(lx->tok) - 1)
            lx->tok[n++] = *lx->p++;
    }
    lx->tok[n] = '\0';
    return true;
}

static void skip_statement(lexer *lx)
{
    while (strcmp(lx->tok, ";") != 0 && next(lx))
        ;
}

static bool is_scalar(const char *t)
{
    static const char *const scalars[] = {"string",  "bytes",    "bool",     "int32",  "int64",
                                          "uint32",  "uint64",   "sint32",   "sint64", "fixed32",
                                          "fixed64", "sfixed32", "sfixed64", "double", "float"};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
        if (!strcmp(t, scalars[i]))
            return true;
    return false;
}

/* A type as the table writes it: a scalar name or a full message name. */
static void set_type(json_t *field, const char *key_type, const char *key_ref, const char *t,
                     const char *package)
{
    if (is_scalar(t)) {
        json_object_set_new(field, key_type, json_string(t));
        return;
    }
    /* ".k8s.io.X" and "k8s.io.X" are full names (go-to-protobuf wrote
     * both over the releases); anything else is in this package */
    char full[512];
    if (t[0] == '.')
        snprintf(full, sizeof(full), "%s", t + 1);
    else if (!strncmp(t, "k8s.io.", 7))
        snprintf(full, sizeof(full), "%s", t);
    else
        snprintf(full, sizeof(full), "%s.%s", package, t);
    json_object_set_new(field, key_type, json_string("message"));
    json_object_set_new(field, key_ref, json_string(full));
}

/* Parses one generated.proto into `messages` (full name -> {"go", "fields"}). */
static void parse_proto(const char *path, json_t *messages, char *package, size_t package_size)
{
    char *text = read_all(path);
    if (!text)
        die("cannot read", path);
    lexer lx = {.p = text};
    char prefix[2048] = "";
    size_t depth_len[16];
    int depth = 0;
    json_t *fields = NULL;
    package[0] = '\0';
    while (next(&lx)) {
        if (!strcmp(lx.tok, "syntax") || !strcmp(lx.tok, "import") || !strcmp(lx.tok, "option") ||
            !strcmp(lx.tok, "reserved")) {
            skip_statement(&lx);
        } else if (!strcmp(lx.tok, "package")) {
            if (!next(&lx))
                die("truncated package statement", path);
            snprintf(package, package_size, "%s", lx.tok);
            skip_statement(&lx);
        } else if (!strcmp(lx.tok, "message")) {
            if (!next(&lx) || depth >= 15)
                die("bad message", path);
            char name[256];
            snprintf(name, sizeof(name), "%.255s", lx.tok);
            depth_len[depth++] = strlen(prefix);
            size_t plen = strlen(prefix);
            snprintf(prefix + plen, sizeof(prefix) - plen, "%s%s", plen ? "." : "", name);
            if (!next(&lx) || strcmp(lx.tok, "{") != 0)
                die("expected { after message", path);
            char full[4096];
            snprintf(full, sizeof(full), "%s.%s", package, prefix);
            json_t *msg = json_object();
            fields = json_array();
            json_object_set_new(msg, "go", json_string(name));
            json_object_set_new(msg, "fields", fields);
            json_object_set_new(messages, full, msg);
        } else if (!strcmp(lx.tok, "}")) {
            if (depth == 0)
                die("unbalanced }", path);
            prefix[depth_len[--depth]] = '\0';
            fields = NULL;
            if (depth > 0) {
                char full[4096];
                snprintf(full, sizeof(full), "%s.%s", package, prefix);
                fields = json_object_get(json_object_get(messages, full), "fields");
            }
        } else if (!strcmp(lx.tok, "enum") || !strcmp(lx.tok, "oneof") ||
                   !strcmp(lx.tok, "service") || !strcmp(lx.tok, "extend")) {
            die("unsupported construct (the table format has no place for it)", lx.tok);
        } else if (fields) {
            json_t *f = json_object();
            char type[512];
            if (!strcmp(lx.tok, "map")) {
                char key[512], value[512];
                if (!next(&lx) || strcmp(lx.tok, "<") != 0 || !next(&lx))
                    die("bad map field", path);
                snprintf(key, sizeof(key), "%s", lx.tok);
                if (!next(&lx) || strcmp(lx.tok, ",") != 0 || !next(&lx))
                    die("bad map field", path);
                snprintf(value, sizeof(value), "%s", lx.tok);
                if (!next(&lx) || strcmp(lx.tok, ">") != 0)
                    die("bad map field", path);
                json_object_set_new(f, "map", json_true());
                json_object_set_new(f, "key", json_string(key));
                set_type(f, "type", "ref", value, package);
            } else {
                bool repeated = !strcmp(lx.tok, "repeated");
                if (!strcmp(lx.tok, "optional") || repeated || !strcmp(lx.tok, "required")) {
                    if (!next(&lx))
                        die("truncated field", path);
                }
                snprintf(type, sizeof(type), "%s", lx.tok);
                set_type(f, "type", "ref", type, package);
                if (repeated)
                    json_object_set_new(f, "rep", json_true());
            }
            if (!next(&lx))
                die("truncated field", path);
            json_object_set_new(f, "name", json_string(lx.tok));
            if (!next(&lx) || strcmp(lx.tok, "=") != 0 || !next(&lx))
                die("expected = number", path);
            char *end;
            long num = strtol(lx.tok, &end, 10);
            if (*end || num <= 0 || num > 536870911)
                die("bad field number", lx.tok);
            json_object_set_new(f, "n", json_integer(num));
            skip_statement(&lx); /* [options] ; */
            json_array_append_new(fields, f);
        } else {
            die("unexpected token", lx.tok);
        }
    }
    free(text);
}

/* ---- Go struct tags --------------------------------------------------------- */

/* Records, for each Go struct of the package, its fields' protobuf names
 * with {"omitempty", "pointer"}, and the named types that are slices or
 * maps (a message standing for one marshals as that value in JSON). */
static void scan_go_file(const char *path, json_t *structs, json_t *aliases)
{
    char *text = read_all(path);
    if (!text)
        die("cannot read", path);
    json_t *cur = NULL;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char name[256], rest[64];
        if (sscanf(line, "type %255[A-Za-z0-9_] struct %63s", name, rest) == 2 &&
            !strcmp(rest, "{")) {
            cur = json_object();
            json_object_set_new(structs, name, cur);
            continue;
        }
        if (sscanf(line, "type %255[A-Za-z0-9_] %63s", name, rest) == 2 &&
            (!strncmp(rest, "[]", 2) || !strncmp(rest, "map[", 4))) {
            json_object_set_new(aliases, name, json_string(rest[0] == '[' ? "list" : "map"));
            continue;
        }
        if (!strcmp(line, "}")) {
            cur = NULL;
            continue;
        }
        if (!cur)
            continue;
        const char *tag = strchr(line, '`');
        const char *pb = tag ? strstr(tag, "protobuf:\"") : NULL;
        const char *js = tag ? strstr(tag, "json:\"") : NULL;
        if (!pb)
            continue;
        char go_type[256] = "";
        char field_name[256];
        if (sscanf(line, " %255s %255s", field_name, go_type) != 2)
            continue;
        /* An embedded struct's protobuf name is its type's, lowerCamel. */
        bool inline_ = js && !strncmp(js + 6, ",inline", 7);
        const char *pname = strstr(pb, ",name=");
        size_t plen;
        if (pname) {
            pname += 6;
            plen = strcspn(pname, ",\"");
        } else if (inline_) {
            field_name[0] = (char)(field_name[0] | 0x20);
            pname = field_name;
            plen = strlen(field_name);
        } else {
            continue;
        }
        bool omitempty = false;
        char json_name[256] = "";
        if (js) {
            const char *end = strchr(js + 6, '"');
            const char *oe = strstr(js + 6, ",omitempty");
            omitempty = oe && end && oe < end;
            size_t jlen = strcspn(js + 6, ",\"");
            snprintf(json_name, sizeof(json_name), "%.*s", (int)jlen, js + 6);
        }
        json_t *facts = json_object();
        if (json_name[0])
            json_object_set_new(facts, "json", json_string(json_name));
        json_object_set_new(facts, "omitempty", json_boolean(omitempty));
        json_object_set_new(facts, "pointer", json_boolean(go_type[0] == '*'));
        json_object_set_new(facts, "inline", json_boolean(inline_));
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)plen, pname);
        json_object_set_new(cur, key, facts);
    }
    free(text);
}

static void scan_go_dir(const char *dir, json_t *structs, json_t *aliases)
{
    DIR *d = opendir(dir);
    if (!d)
        die("cannot open", dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".go") != 0 ||
            (len > 8 && !strcmp(e->d_name + len - 8, "_test.go")))
            continue;
        char **grown = realloc(names, (n + 1) * sizeof(*names));
        if (!grown || !(grown[n] = strdup(e->d_name)))
            die("out of memory", dir); /* exits: nothing to free */
        names = grown;
        n++;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        scan_go_file(path, structs, aliases);
        free(names[i]);
    }
    free(names);
}

/* The API group of a k8s.io/api package: `const GroupName = "..."` in its
 * register.go ("" = core). */
static void group_of(const char *dir, char *out, size_t size)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/register.go", dir);
    char *text = read_all(path);
    out[0] = '\0';
    const char *g = text ? strstr(text, "const GroupName = \"") : NULL;
    if (!g)
        die("no GroupName in", path);
    g += strlen("const GroupName = \"");
    size_t len = strcspn(g, "\"");
    snprintf(out, size, "%.*s", (int)len, g);
    free(text);
}

/* Messages whose Go types marshal to JSON in their own way. */
static const char *const specials[][2] = {
    {"k8s.io.apimachinery.pkg.apis.meta.v1.Time", "time"},
    {"k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime", "microtime"},
    {"k8s.io.apimachinery.pkg.apis.meta.v1.Duration", "duration"},
    {"k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1", "rawjson"},
    {"k8s.io.apimachinery.pkg.runtime.RawExtension", "rawjson"},
    {"k8s.io.apimachinery.pkg.util.intstr.IntOrString", "intorstring"},
    {"k8s.io.apimachinery.pkg.api.resource.Quantity", "quantity"},
    {"k8s.io.apimachinery.pkg.api.resource.QuantityValue", "quantity"},
};

static size_t missing_facts;

/* Adds one package: its messages, their Go facts, and its kinds. */
static void add_package(const char *dir, const char *group, bool kinds_too, json_t *messages,
                        json_t *kinds)
{
    char proto[2048], package[512];
    snprintf(proto, sizeof(proto), "%s/generated.proto", dir);
    json_t *mine = json_object();
    parse_proto(proto, mine, package, sizeof(package));
    json_t *structs = json_object(), *aliases = json_object();
    scan_go_dir(dir, structs, aliases);
    const char *version = strrchr(package, '.') + 1;
    const char *full;
    json_t *msg;
    json_object_foreach(mine, full, msg)
    {
        const char *go = json_string_value(json_object_get(msg, "go"));
        json_t *facts = json_object_get(structs, go);
        json_t *alias = json_object_get(aliases, go);
        json_t *fields = json_object_get(msg, "fields");
        if (alias)
            json_object_set(msg, "alias", alias);
        size_t i;
        json_t *f;
        bool has_object_meta = false;
        json_array_foreach(fields, i, f)
        {
            const char *name = json_string_value(json_object_get(f, "name"));
            json_t *ff = json_object_get(facts, name);
            if (ff) {
                if (json_is_true(json_object_get(ff, "omitempty")))
                    json_object_set_new(f, "omitempty", json_true());
                if (json_is_true(json_object_get(ff, "pointer")))
                    json_object_set_new(f, "pointer", json_true());
                if (json_is_true(json_object_get(ff, "inline")))
                    json_object_set_new(f, "inline", json_true());
                /* A few fields are named otherwise in JSON ("Webhooks", "aPIGroup"). */
                const char *jn = json_string_value(json_object_get(ff, "json"));
                if (jn && strcmp(jn, name) != 0 && strcmp(jn, "-") != 0)
                    json_object_set_new(f, "jsonName", json_string(jn));
            } else if (!alias) {
                missing_facts++;
                fprintf(stderr, "gen_proto_schema: no Go tag for %s.%s\n", full, name);
            }
            const char *ref = json_string_value(json_object_get(f, "ref"));
            if (!strcmp(name, "metadata") && ref &&
                !strcmp(ref, "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"))
                has_object_meta = true;
        }
        for (size_t s = 0; s < sizeof(specials) / sizeof(specials[0]); s++)
            if (!strcmp(full, specials[s][0]))
                json_object_set_new(msg, "json", json_string(specials[s][1]));
        if (kinds_too && has_object_meta) {
            char key[1024];
            snprintf(key, sizeof(key), "%s%s%s/%s", group, group[0] ? "/" : "", version, go);
            json_object_set_new(kinds, key, json_string(full));
        }
        json_object_del(msg, "go");
        json_object_set(messages, full, msg);
    }
    json_decref(mine);
    json_decref(structs);
    json_decref(aliases);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every referenced message must be in the table. */
static void check_refs(json_t *messages)
{
    const char *full;
    json_t *msg;
    json_object_foreach(messages, full, msg)
    {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(msg, "fields"), i, f)
        {
            const char *ref = json_string_value(json_object_get(f, "ref"));
            if (ref && !json_object_get(messages, ref))
                die("unresolved message reference", ref);
        }
    }
}

/* One message per line: readable diffs between releases. */
static void write_table(const char *path, const char *source, json_t *kinds, json_t *messages)
{
    FILE *out = fopen(path, "w");
    if (!out)
        die("cannot write", path);
    fprintf(out, "{\n \"source\": ");
    json_dumpf(json_string(source), out, JSON_ENCODE_ANY);
    fprintf(out, ",\n \"kinds\": ");
    json_dumpf(kinds, out, JSON_INDENT(1) | JSON_SORT_KEYS);
    fprintf(out, ",\n \"messages\": {");
    const char **keys = malloc(json_object_size(messages) * sizeof(*keys));
    size_t nkeys = 0;
    const char *full;
    json_t *msg;
    json_object_foreach(messages, full, msg) keys[nkeys++] = full;
    qsort(keys, nkeys, sizeof(*keys), cmp_str);
    for (size_t i = 0; i < nkeys; i++) {
        fprintf(out, "%s\n  ", i ? "," : "");
        json_dumpf(json_string(keys[i]), out, JSON_ENCODE_ANY);
        fprintf(out, ": ");
        json_dumpf(json_object_get(messages, keys[i]), out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    fprintf(out, "\n }\n}\n");
    free(keys);
    if (fclose(out) != 0)
        die("cannot write", path);
    fprintf(stderr, "gen_proto_schema: %zu messages, %zu kinds, %zu fields without Go tags\n",
            nkeys, json_object_size(kinds), missing_facts);
}

/* --add: one more API package (kube-aggregator's apiregistration/v1, a
 * generated.proto with its Go types and register.go) into an existing
 * table; its source text is appended. */
static int add_to(const char *path, const char *dir, const char *source)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    json_t *kinds = json_object_get(root, "kinds"), *messages = json_object_get(root, "messages");
    if (!kinds || !messages)
        die("not a protobuf schema table", path);
    char group[256];
    group_of(dir, group, sizeof(group));
    add_package(dir, group, true, messages, kinds);
    check_refs(messages);
    char *text = NULL;
    const char *was = json_string_value(json_object_get(root, "source"));
    if (asprintf(&text, "%s; and %s", was ? was : "", source) < 0)
        die("out of memory", path);
    write_table(path, text, kinds, messages);
    free(text);
    json_decref(root);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--add"))
        return add_to(argv[2], argv[3], argv[4]);
    if (argc != 5) {
        fprintf(stderr, "usage: gen_proto_schema OUT.json K8S_API_DIR K8S_APIMACHINERY_DIR "
                        "SOURCE_TEXT\n       gen_proto_schema --add OUT.json PACKAGE_DIR "
                        "SOURCE_TEXT\n");
        return 2;
    }
    json_t *messages = json_object(), *kinds = json_object();
    static const char *const machinery[] = {"pkg/apis/meta/v1", "pkg/runtime", "pkg/runtime/schema",
                                            "pkg/util/intstr", "pkg/api/resource"};
    for (size_t i = 0; i < sizeof(machinery) / sizeof(machinery[0]); i++) {
        char dir[2048];
        snprintf(dir, sizeof(dir), "%s/%s", argv[3], machinery[i]);
        add_package(dir, "", false, messages, kinds);
    }
    /* k8s.io/api: every <group>/<version> directory holding a generated.proto. */
    DIR *d = opendir(argv[2]);
    if (!d)
        die("cannot open", argv[2]);
    char **dirs = NULL;
    size_t ndirs = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char gdir[2048];
        snprintf(gdir, sizeof(gdir), "%s/%s", argv[2], e->d_name);
        DIR *g = opendir(gdir);
        if (!g)
            continue;
        struct dirent *v;
        while ((v = readdir(g)) != NULL) {
            char vdir[4096], proto[4200];
            if (v->d_name[0] == '.')
                continue;
            snprintf(vdir, sizeof(vdir), "%s/%s", gdir, v->d_name);
            snprintf(proto, sizeof(proto), "%s/generated.proto", vdir);
            FILE *f = fopen(proto, "r");
            if (!f)
                continue;
            fclose(f);
            char **grown = realloc(dirs, (ndirs + 1) * sizeof(*dirs));
            if (!grown || !(grown[ndirs] = strdup(vdir)))
                die("out of memory", vdir); /* exits: nothing to free */
            dirs = grown;
            ndirs++;
        }
        closedir(g);
    }
    closedir(d);
    if (!dirs)
        die("no generated.proto under", argv[2]);
    qsort(dirs, ndirs, sizeof(*dirs), cmp_str);
    for (size_t i = 0; i < ndirs; i++) {
        char group[256];
        group_of(dirs[i], group, sizeof(group));
        add_package(dirs[i], group, true, messages, kinds);
        free(dirs[i]);
    }
    free(dirs);
    check_refs(messages);
    write_table(argv[1], argv[4], kinds, messages);
    json_decref(messages);
    json_decref(kinds);
    return 0;
}
