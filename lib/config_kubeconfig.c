/* libkreconcile — kubeconfig files: parsing (through the YAML converter),
 * kubectl's merge rules across several files, path resolution, and the
 * validation and overrides that turn a context into a kr_rest_config.
 * Error messages follow kubectl's and never contain credentials. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "kreconcile/yaml.h"

#define EXEC_EXTENSION "client.authentication.k8s.io/exec"
#define EXEC_V1 "client.authentication.k8s.io/v1"
#define EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"
#define NO_CONFIGURATION                                                                           \
    "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER "    \
    "environment variable"

typedef struct kc_cluster {
    char *name;
    char *server;
    char *ca_file;
    char *ca_data; /* decoded PEM */
    size_t ca_data_len;
    char *tls_server_name;
    char *proxy_url;
    bool insecure;
    bool disable_compression;
    json_t *exec_config; /* the client.authentication.k8s.io/exec extension, or NULL */
} kc_cluster;

typedef struct kc_user {
    char *name;
    char *cert_file, *cert_data, *key_file, *key_data;
    char *token, *token_file;
    char *username, *password;
    char *as, *as_uid;
    char **as_groups; /* NULL-terminated, or NULL */
    bool has_auth_provider;
    bool has_exec;
    bool provide_cluster_info;
    kr_exec_spec exec; /* exec_info unset here */
} kc_user;

typedef struct kc_context {
    char *name;
    char *cluster;
    char *user;
    char *namespace_;
} kc_context;

struct kr_kubeconfig {
    kc_cluster *clusters;
    size_t n_clusters;
    kc_user *users;
    size_t n_users;
    kc_context *contexts;
    size_t n_contexts;
    char *current_context;
    kr_logger logger;
};

/* ---- freeing ----------------------------------------------------------------- */

static void free_list(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        kr_free(list[i]);
    kr_free(list);
}

static void free_null_list(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        kr_free(*p);
    kr_free(list);
}

static void exec_spec_clear(kr_exec_spec *e)
{
    kr_free(e->api_version);
    kr_free(e->command);
    free_list(e->args, e->n_args);
    free_list(e->env, e->n_env);
    kr_free(e->interactive_mode);
    kr_free(e->install_hint);
    kr_free(e->exec_info);
    memset(e, 0, sizeof(*e));
}

static void cluster_clear(kc_cluster *c)
{
    kr_free(c->name);
    kr_free(c->server);
    kr_free(c->ca_file);
    kr_free(c->ca_data);
    kr_free(c->tls_server_name);
    kr_free(c->proxy_url);
    json_decref(c->exec_config);
}

static void user_clear(kc_user *u)
{
    kr_free(u->name);
    kr_free(u->cert_file);
    kr_free(u->cert_data);
    kr_free(u->key_file);
    kr_free(u->key_data);
    kr_free(u->token);
    kr_free(u->token_file);
    kr_free(u->username);
    kr_free(u->password);
    kr_free(u->as);
    kr_free(u->as_uid);
    free_null_list(u->as_groups);
    exec_spec_clear(&u->exec);
}

static void context_clear(kc_context *c)
{
    kr_free(c->name);
    kr_free(c->cluster);
    kr_free(c->user);
    kr_free(c->namespace_);
}

void kr_kubeconfig_free(kr_kubeconfig_t *kc)
{
    if (!kc)
        return;
    for (size_t i = 0; i < kc->n_clusters; i++)
        cluster_clear(&kc->clusters[i]);
    for (size_t i = 0; i < kc->n_users; i++)
        user_clear(&kc->users[i]);
    for (size_t i = 0; i < kc->n_contexts; i++)
        context_clear(&kc->contexts[i]);
    kr_free(kc->clusters);
    kr_free(kc->users);
    kr_free(kc->contexts);
    kr_free(kc->current_context);
    kr_free(kc);
}

/* ---- parsing one document ----------------------------------------------------- */

/* The state of one file's parse: where it came from, for messages and
 * relative paths, and the names it defined, to reject duplicates. */
typedef struct kc_source {
    const char *name;
    const char *dir;
    kr_error_t *err;
    json_t *seen; /* {"clusters/<name>": true, ...} */
} kc_source;

static int load_error(kc_source *src, int code, const char *where, const char *what)
{
    return kr_error_set(src->err, code, "error loading config file \"%s\": %s: %s", src->name,
                        where, what);
}

static int oom(kc_source *src)
{
    return kr_error_set(src->err, KR_ENOMEM, "error loading config file \"%s\": out of memory",
                        src->name);
}

/* A string field: absent or null leaves *out NULL; "" too. */
static int get_string(kc_source *src, json_t *obj, const char *key, const char *where, char **out)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    char at[256];
    snprintf(at, sizeof(at), "%s.%s", where, key);
    if (!json_is_string(v))
        return load_error(src, KR_EPARSE, at, "expected a string");
    if (json_string_length(v) == 0)
        return 0;
    if (strlen(json_string_value(v)) != json_string_length(v))
        return load_error(src, KR_EPARSE, at, "contains a NUL character");
    *out = kr_strdup(json_string_value(v));
    return *out ? 0 : oom(src);
}

static int get_bool(kc_source *src, json_t *obj, const char *key, const char *where, bool *out)
{
    *out = false;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        char at[256];
        snprintf(at, sizeof(at), "%s.%s", where, key);
        return load_error(src, KR_EPARSE, at, "expected a boolean");
    }
    *out = json_is_true(v);
    return 0;
}

/* A path field, resolved against the file's directory. */
static int get_path(kc_source *src, json_t *obj, const char *key, const char *where, char **out)
{
    char *raw;
    int rc = get_string(src, obj, key, where, &raw);
    if (rc != 0 || !raw)
        return rc;
    *out = kr_config_resolve_path(src->dir, raw);
    kr_free(raw);
    return *out ? 0 : oom(src);
}

/* A base64 *-data field, decoded. */
static int get_data(kc_source *src, json_t *obj, const char *key, const char *where, char **out,
                    size_t *out_len)
{
    char *raw;
    size_t len = 0;
    int rc = get_string(src, obj, key, where, &raw);
    if (rc != 0 || !raw)
        return rc;
    size_t bad_at;
    rc = kr_config_base64_decode(raw, strlen(raw), out, out_len ? out_len : &len, &bad_at);
    kr_free(raw);
    if (rc == KR_ENOMEM)
        return oom(src);
    if (rc != 0) {
        char at[256], what[64];
        snprintf(at, sizeof(at), "%s.%s", where, key);
        snprintf(what, sizeof(what), "illegal base64 data at input byte %zu", bad_at);
        return load_error(src, KR_EPARSE, at, what);
    }
    return 0;
}

static int get_string_list(kc_source *src, json_t *obj, const char *key, const char *where,
                           char ***out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    char at[256];
    snprintf(at, sizeof(at), "%s.%s", where, key);
    if (!json_is_array(v))
        return load_error(src, KR_EPARSE, at, "expected a list of strings");
    size_t n = json_array_size(v);
    char **list = kr_calloc(n + 1, sizeof(*list));
    if (!list)
        return oom(src);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(v, i);
        if (!json_is_string(item)) {
            free_list(list, n);
            return load_error(src, KR_EPARSE, at, "expected a list of strings");
        }
        list[i] = kr_strdup(json_string_value(item));
        if (!list[i]) {
            free_list(list, n);
            return oom(src);
        }
    }
    *out = list;
    *n_out = n;
    return 0;
}

static int parse_cluster(kc_source *src, json_t *body, const char *where, kc_cluster *c)
{
    int rc;
    if ((rc = get_string(src, body, "server", where, &c->server)) != 0 ||
        (rc = get_path(src, body, "certificate-authority", where, &c->ca_file)) != 0 ||
        (rc = get_data(src, body, "certificate-authority-data", where, &c->ca_data,
                       &c->ca_data_len)) != 0 ||
        (rc = get_string(src, body, "tls-server-name", where, &c->tls_server_name)) != 0 ||
        (rc = get_string(src, body, "proxy-url", where, &c->proxy_url)) != 0 ||
        (rc = get_bool(src, body, "insecure-skip-tls-verify", where, &c->insecure)) != 0 ||
        (rc = get_bool(src, body, "disable-compression", where, &c->disable_compression)) != 0)
        return rc;
    json_t *exts = json_object_get(body, "extensions");
    if (exts && !json_is_null(exts)) {
        if (!json_is_array(exts))
            return load_error(src, KR_EPARSE, where, "extensions: expected a list");
        size_t i;
        json_t *ext;
        json_array_foreach(exts, i, ext)
        {
            json_t *name = json_object_get(ext, "name");
            if (json_is_string(name) && strcmp(json_string_value(name), EXEC_EXTENSION) == 0) {
                json_t *value = json_object_get(ext, "extension");
                if (value) {
                    c->exec_config = json_deep_copy(value);
                    if (!c->exec_config)
                        return oom(src);
                }
                break;
            }
        }
    }
    return 0;
}

static int parse_exec(kc_source *src, json_t *exec, const char *where, kc_user *u)
{
    char at[256];
    snprintf(at, sizeof(at), "%s.exec", where);
    if (!json_is_object(exec))
        return load_error(src, KR_EPARSE, at, "expected a mapping");
    kr_exec_spec *e = &u->exec;
    char *command = NULL;
    int rc;
    if ((rc = get_string(src, exec, "apiVersion", at, &e->api_version)) != 0 ||
        (rc = get_string(src, exec, "command", at, &command)) != 0 ||
        (rc = get_string_list(src, exec, "args", at, &e->args, &e->n_args)) != 0 ||
        (rc = get_string(src, exec, "interactiveMode", at, &e->interactive_mode)) != 0 ||
        (rc = get_string(src, exec, "installHint", at, &e->install_hint)) != 0 ||
        (rc = get_bool(src, exec, "provideClusterInfo", at, &u->provide_cluster_info)) != 0) {
        kr_free(command);
        return rc;
    }
    /* Only a command with a slash is a path; a bare name is looked up in PATH. */
    if (command && strchr(command, '/')) {
        e->command = kr_config_resolve_path(src->dir, command);
        kr_free(command);
        if (!e->command)
            return oom(src);
    } else {
        e->command = command;
    }
    json_t *env = json_object_get(exec, "env");
    if (env && !json_is_null(env)) {
        if (!json_is_array(env))
            return load_error(src, KR_EPARSE, at, "env: expected a list");
        size_t n = json_array_size(env);
        e->env = kr_calloc(n + 1, sizeof(*e->env));
        if (!e->env)
            return oom(src);
        for (size_t i = 0; i < n; i++) {
            json_t *item = json_array_get(env, i);
            json_t *name = json_object_get(item, "name");
            json_t *value = json_object_get(item, "value");
            if (!json_is_object(item) || (name && !json_is_string(name)) ||
                (value && !json_is_null(value) && !json_is_string(value)))
                return load_error(src, KR_EPARSE, at, "env: expected {name, value} strings");
            e->env[i] = kr_asprintf("%s=%s", name ? json_string_value(name) : "",
                                    json_is_string(value) ? json_string_value(value) : "");
            if (!e->env[i])
                return oom(src);
            e->n_env = i + 1;
        }
    }
    /* clientcmd's defaulting: v1beta1 plugins are IfAvailable unless told. */
    if (!e->interactive_mode && e->api_version && strcmp(e->api_version, EXEC_V1) != 0) {
        e->interactive_mode = kr_strdup("IfAvailable");
        if (!e->interactive_mode)
            return oom(src);
    }
    u->has_exec = true;
    return 0;
}

static int parse_user(kc_source *src, json_t *body, const char *where, kc_user *u)
{
    int rc;
    size_t n_groups;
    if ((rc = get_path(src, body, "client-certificate", where, &u->cert_file)) != 0 ||
        (rc = get_data(src, body, "client-certificate-data", where, &u->cert_data, NULL)) != 0 ||
        (rc = get_path(src, body, "client-key", where, &u->key_file)) != 0 ||
        (rc = get_data(src, body, "client-key-data", where, &u->key_data, NULL)) != 0 ||
        (rc = get_string(src, body, "token", where, &u->token)) != 0 ||
        (rc = get_path(src, body, "tokenFile", where, &u->token_file)) != 0 ||
        (rc = get_string(src, body, "username", where, &u->username)) != 0 ||
        (rc = get_string(src, body, "password", where, &u->password)) != 0 ||
        (rc = get_string(src, body, "as", where, &u->as)) != 0 ||
        (rc = get_string(src, body, "as-uid", where, &u->as_uid)) != 0 ||
        (rc = get_string_list(src, body, "as-groups", where, &u->as_groups, &n_groups)) != 0)
        return rc;
    json_t *ap = json_object_get(body, "auth-provider");
    u->has_auth_provider = ap && !json_is_null(ap);
    json_t *exec = json_object_get(body, "exec");
    if (exec && !json_is_null(exec))
        return parse_exec(src, exec, where, u);
    return 0;
}

static int parse_context(kc_source *src, json_t *body, const char *where, kc_context *c)
{
    int rc;
    if ((rc = get_string(src, body, "cluster", where, &c->cluster)) != 0 ||
        (rc = get_string(src, body, "user", where, &c->user)) != 0 ||
        (rc = get_string(src, body, "namespace", where, &c->namespace_)) != 0)
        return rc;
    return 0;
}

enum kc_kind { KC_CLUSTERS, KC_USERS, KC_CONTEXTS };

static const struct {
    const char *list;
    const char *item;
} kc_keys[] = {{"clusters", "cluster"}, {"users", "user"}, {"contexts", "context"}};

static bool kc_has(const kr_kubeconfig_t *kc, enum kc_kind kind, const char *name)
{
    if (kind == KC_CLUSTERS) {
        for (size_t i = 0; i < kc->n_clusters; i++)
            if (strcmp(kc->clusters[i].name, name) == 0)
                return true;
    } else if (kind == KC_USERS) {
        for (size_t i = 0; i < kc->n_users; i++)
            if (strcmp(kc->users[i].name, name) == 0)
                return true;
    } else {
        for (size_t i = 0; i < kc->n_contexts; i++)
            if (strcmp(kc->contexts[i].name, name) == 0)
                return true;
    }
    return false;
}

/* Parse one named entry and append it; the caller checked the name is new. */
static int add_entry(kr_kubeconfig_t *kc, kc_source *src, enum kc_kind kind, json_t *body,
                     const char *where, char *name)
{
    int rc;
    if (kind == KC_CLUSTERS) {
        kc_cluster *grown = kr_realloc(kc->clusters, (kc->n_clusters + 1) * sizeof(*grown));
        if (!grown)
            return oom(src);
        kc->clusters = grown;
        kc_cluster *c = &grown[kc->n_clusters];
        memset(c, 0, sizeof(*c));
        c->name = name;
        kc->n_clusters++;
        rc = parse_cluster(src, body, where, c);
    } else if (kind == KC_USERS) {
        kc_user *grown = kr_realloc(kc->users, (kc->n_users + 1) * sizeof(*grown));
        if (!grown)
            return oom(src);
        kc->users = grown;
        kc_user *u = &grown[kc->n_users];
        memset(u, 0, sizeof(*u));
        u->name = name;
        kc->n_users++;
        rc = parse_user(src, body, where, u);
    } else {
        kc_context *grown = kr_realloc(kc->contexts, (kc->n_contexts + 1) * sizeof(*grown));
        if (!grown)
            return oom(src);
        kc->contexts = grown;
        kc_context *c = &grown[kc->n_contexts];
        memset(c, 0, sizeof(*c));
        c->name = name;
        kc->n_contexts++;
        rc = parse_context(src, body, where, c);
    }
    return rc;
}

static int parse_list(kr_kubeconfig_t *kc, kc_source *src, json_t *root, enum kc_kind kind)
{
    const char *list_key = kc_keys[kind].list, *item_key = kc_keys[kind].item;
    json_t *list = json_object_get(root, list_key);
    if (!list || json_is_null(list))
        return 0;
    if (!json_is_array(list))
        return load_error(src, KR_EPARSE, list_key, "expected a list");
    size_t i;
    json_t *entry;
    json_array_foreach(list, i, entry)
    {
        char where[128];
        snprintf(where, sizeof(where), "%s[%zu]", list_key, i);
        if (!json_is_object(entry))
            return load_error(src, KR_EPARSE, where, "expected a mapping");
        json_t *name = json_object_get(entry, "name");
        if (!json_is_string(name) || json_string_length(name) == 0 ||
            strlen(json_string_value(name)) != json_string_length(name))
            return load_error(src, KR_EPARSE, where, "name: expected a non-empty string");
        const char *nm = json_string_value(name);
        char *seen_key = kr_asprintf("%s/%s", list_key, nm);
        if (!seen_key)
            return oom(src);
        bool duplicate = json_object_get(src->seen, seen_key) != NULL;
        int set_rc = duplicate ? 0 : json_object_set_new(src->seen, seen_key, json_true());
        kr_free(seen_key);
        if (duplicate) {
            char what[384];
            snprintf(what, sizeof(what), "duplicate name \"%.300s\" in %s", nm, list_key);
            return load_error(src, KR_EPARSE, where, what);
        }
        if (set_rc != 0)
            return oom(src);
        json_t *body = json_object_get(entry, item_key);
        snprintf(where, sizeof(where), "%s[%zu].%s", list_key, i, item_key);
        if (body && !json_is_null(body) && !json_is_object(body))
            return load_error(src, KR_EPARSE, where, "expected a mapping");
        /* kubectl: the first file that defines a name wins, whole. */
        if (kc_has(kc, kind, nm))
            continue;
        char *owned = kr_strdup(nm);
        if (!owned)
            return oom(src);
        json_t *empty = NULL;
        if (!body || json_is_null(body)) {
            empty = json_object();
            if (!empty) {
                kr_free(owned);
                return oom(src);
            }
            body = empty;
        }
        int rc = add_entry(kc, src, kind, body, where, owned);
        json_decref(empty);
        if (rc == KR_ENOMEM && owned && !kc_has(kc, kind, nm))
            kr_free(owned);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int merge_document(kr_kubeconfig_t *kc, kc_source *src, json_t *root)
{
    if (json_is_null(root))
        return 0; /* an empty file is an empty config */
    if (!json_is_object(root))
        return kr_error_set(src->err, KR_EPARSE,
                            "error loading config file \"%s\": expected a mapping at the top level",
                            src->name);
    json_t *cur = json_object_get(root, "current-context");
    if (cur && !json_is_null(cur) && !json_is_string(cur))
        return load_error(src, KR_EPARSE, "current-context", "expected a string");
    src->seen = json_object();
    if (!src->seen)
        return oom(src);
    int rc = 0;
    for (int kind = KC_CLUSTERS; kind <= KC_CONTEXTS && rc == 0; kind++)
        rc = parse_list(kc, src, root, (enum kc_kind)kind);
    json_decref(src->seen);
    src->seen = NULL;
    if (rc != 0)
        return rc;
    if (!kc->current_context && json_is_string(cur) && json_string_length(cur) > 0) {
        kc->current_context = kr_strdup(json_string_value(cur));
        if (!kc->current_context)
            return oom(src);
    }
    return 0;
}

static int merge_bytes(kr_kubeconfig_t *kc, const char *data, size_t len, const char *name,
                       const char *dir, kr_error_t *err)
{
    json_t *root = NULL;
    kr_error_t yerr = {0};
    int rc = kr_yaml_parse(data, len, &root, &yerr);
    if (rc != 0)
        return kr_error_set(err, rc, "error loading config file \"%s\": %s", name, yerr.message);
    kc_source src = {.name = name, .dir = dir, .err = err};
    rc = merge_document(kc, &src, root);
    json_decref(root);
    return rc;
}

static int kc_new(const kr_kubeconfig_opts *opts, kr_kubeconfig_t **out, kr_error_t *err)
{
    *out = kr_calloc(1, sizeof(**out));
    if (!*out)
        return kr_error_set(err, KR_ENOMEM, "allocating a kubeconfig");
    if (opts)
        (*out)->logger = opts->logger;
    return 0;
}

int kr_kubeconfig_load_memory(const char *data, size_t len, const char *name, const char *base_dir,
                              const kr_kubeconfig_opts *opts, kr_kubeconfig_t **out,
                              kr_error_t *err)
{
    kr_kubeconfig_t *kc;
    int rc = kc_new(opts, &kc, err);
    if (rc != 0)
        return rc;
    char cwd[PATH_MAX];
    if (!base_dir)
        base_dir = getcwd(cwd, sizeof(cwd)) ? cwd : NULL;
    rc = merge_bytes(kc, data, len, name ? name : "<memory>", base_dir, err);
    if (rc != 0) {
        kr_kubeconfig_free(kc);
        kc = NULL;
    }
    *out = kc;
    return rc;
}

/* The absolute directory of `path`, as kubectl resolves relative paths. */
static char *file_dir(const char *path)
{
    char *abs;
    if (path[0] == '/') {
        abs = kr_strdup(path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return kr_strdup(".");
        abs = kr_asprintf("%s/%s", cwd, path);
    }
    if (!abs)
        return NULL;
    char *slash = strrchr(abs, '/');
    if (slash == abs)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    return abs;
}

static int merge_file(kr_kubeconfig_t *kc, const char *path, bool missing_ok, kr_error_t *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = kr_config_read_file(path, KR_CONFIG_MAX_FILE, "kubeconfig", &data, &len, err);
    if (rc == KR_ENOTFOUND && missing_ok) {
        kr_error_clear(err);
        return 0;
    }
    if (rc != 0)
        return rc;
    char *dir = file_dir(path);
    if (!dir)
        rc = kr_error_set(err, KR_ENOMEM, "kubeconfig %s: out of memory", path);
    else
        rc = merge_bytes(kc, data, len, path, dir, err);
    kr_free(dir);
    kr_free(data);
    return rc;
}

int kr_kubeconfig_load_files(const char *const *paths, size_t n_paths,
                             const kr_kubeconfig_opts *opts, kr_kubeconfig_t **out, kr_error_t *err)
{
    kr_kubeconfig_t *kc;
    int rc = kc_new(opts, &kc, err);
    for (size_t i = 0; i < n_paths && rc == 0; i++)
        rc = merge_file(kc, paths[i], false, err);
    if (rc != 0 && kc) {
        kr_kubeconfig_free(kc);
        kc = NULL;
    }
    *out = kc;
    return rc;
}

int kr_kubeconfig_load_default(const char *explicit_path, const kr_kubeconfig_opts *opts,
                               kr_kubeconfig_t **out, kr_error_t *err)
{
    if (explicit_path && *explicit_path)
        return kr_kubeconfig_load_files(&explicit_path, 1, opts, out, err);
    kr_kubeconfig_t *kc;
    int rc = kc_new(opts, &kc, err);
    if (rc != 0) {
        *out = NULL;
        return rc;
    }
    const char *env = getenv("KUBECONFIG");
    if (env && *env) {
        char *list = kr_strdup(env);
        if (!list)
            rc = kr_error_set(err, KR_ENOMEM, "loading $KUBECONFIG: out of memory");
        char *save = NULL;
        /* strtok_r skips empty entries, as kubectl does. */
        for (char *p = list ? strtok_r(list, ":", &save) : NULL; p && rc == 0;
             p = strtok_r(NULL, ":", &save)) {
            bool dup = false;
            for (char *q = list; q < p; q += strlen(q) + 1)
                dup |= strcmp(q, p) == 0;
            if (!dup)
                rc = merge_file(kc, p, true, err);
        }
        kr_free(list);
    } else {
        const char *home = getenv("HOME");
        if (home && *home) {
            char *path = kr_asprintf("%s/.kube/config", home);
            rc = path ? merge_file(kc, path, true, err)
                      : kr_error_set(err, KR_ENOMEM, "loading ~/.kube/config: out of memory");
            kr_free(path);
        }
    }
    if (rc != 0) {
        kr_kubeconfig_free(kc);
        kc = NULL;
    }
    *out = kc;
    return rc;
}

/* ---- accessors ---------------------------------------------------------------- */

const char *kr_kubeconfig_current_context(const kr_kubeconfig_t *kc)
{
    return kc->current_context;
}

size_t kr_kubeconfig_context_count(const kr_kubeconfig_t *kc)
{
    return kc->n_contexts;
}

const char *kr_kubeconfig_context_name(const kr_kubeconfig_t *kc, size_t i)
{
    return i < kc->n_contexts ? kc->contexts[i].name : NULL;
}

static const kc_context *find_context(const kr_kubeconfig_t *kc, const char *name)
{
    for (size_t i = 0; i < kc->n_contexts; i++)
        if (strcmp(kc->contexts[i].name, name) == 0)
            return &kc->contexts[i];
    return NULL;
}

static const kc_cluster *find_cluster(const kr_kubeconfig_t *kc, const char *name)
{
    for (size_t i = 0; i < kc->n_clusters; i++)
        if (strcmp(kc->clusters[i].name, name) == 0)
            return &kc->clusters[i];
    return NULL;
}

static const kc_user *find_user(const kr_kubeconfig_t *kc, const char *name)
{
    for (size_t i = 0; i < kc->n_users; i++)
        if (strcmp(kc->users[i].name, name) == 0)
            return &kc->users[i];
    return NULL;
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* The chosen context (NULL when none is named), or KR_ENOTFOUND. */
static int choose_context(const kr_kubeconfig_t *kc, const kr_config_overrides *ov,
                          const kc_context **ctx, kr_error_t *err)
{
    const char *name = nonempty(ov->context) ? ov->context : kc->current_context;
    *ctx = NULL;
    if (!nonempty(name))
        return 0;
    *ctx = find_context(kc, name);
    if (!*ctx)
        return kr_error_set(err, KR_ENOTFOUND, "context was not found for specified context: %s",
                            name);
    return 0;
}

int kr_kubeconfig_namespace(const kr_kubeconfig_t *kc, const kr_config_overrides *overrides,
                            const char **ns, kr_error_t *err)
{
    kr_config_overrides none = {0};
    const kr_config_overrides *ov = overrides ? overrides : &none;
    *ns = "default";
    if (nonempty(ov->namespace_)) {
        *ns = ov->namespace_;
        return 0;
    }
    const kc_context *ctx;
    int rc = choose_context(kc, ov, &ctx, err);
    if (rc == 0 && ctx && ctx->namespace_)
        *ns = ctx->namespace_;
    return rc;
}

/* ---- validation, as clientcmd's ConfirmUsable --------------------------------- */

static int check_readable(const char *path, const char *what, const char *owner, kr_error_t *err)
{
    if (access(path, R_OK) == 0)
        return 0;
    return kr_error_set(err, KR_EIO, "unable to read %s %s for %s due to open %s: %s", what, path,
                        owner, path, strerror(errno));
}

static int validate_user(const kc_user *u, kr_error_t *err)
{
    if (u->cert_file || u->cert_data) {
        if (u->cert_file && u->cert_data)
            return kr_error_set(err, KR_EINVAL,
                                "client-cert-data and client-cert are both specified for %s. "
                                "client-cert-data will override.",
                                u->name);
        if (u->key_file && u->key_data)
            return kr_error_set(err, KR_EINVAL,
                                "client-key-data and client-key are both specified for %s; "
                                "client-key-data will override",
                                u->name);
        if (!u->key_file && !u->key_data)
            return kr_error_set(err, KR_EINVAL,
                                "client-key-data or client-key must be specified for %s to use "
                                "the clientCert authentication method.",
                                u->name);
        int rc;
        if (u->cert_file && (rc = check_readable(u->cert_file, "client-cert", u->name, err)) != 0)
            return rc;
        if (u->key_file && (rc = check_readable(u->key_file, "client-key", u->name, err)) != 0)
            return rc;
    }
    if (u->has_exec) {
        const kr_exec_spec *e = &u->exec;
        if (u->has_auth_provider)
            return kr_error_set(err, KR_EINVAL,
                                "authProvider cannot be provided in combination with an exec "
                                "plugin for %s",
                                u->name);
        if (!e->command)
            return kr_error_set(err, KR_EINVAL,
                                "command must be specified for %s to use exec authentication "
                                "plugin",
                                u->name);
        if (!e->api_version)
            return kr_error_set(err, KR_EINVAL,
                                "apiVersion must be specified for %s to use exec authentication "
                                "plugin",
                                u->name);
        for (size_t i = 0; i < e->n_env; i++)
            if (e->env[i][0] == '=')
                return kr_error_set(err, KR_EINVAL,
                                    "env variable name must be specified for %s to use exec "
                                    "authentication plugin",
                                    u->name);
        if (!e->interactive_mode)
            return kr_error_set(err, KR_EINVAL,
                                "interactiveMode must be specified for %s to use exec "
                                "authentication plugin",
                                u->name);
        if (strcmp(e->interactive_mode, "Never") != 0 &&
            strcmp(e->interactive_mode, "IfAvailable") != 0 &&
            strcmp(e->interactive_mode, "Always") != 0)
            return kr_error_set(err, KR_EINVAL, "invalid interactiveMode for %s: \"%s\"", u->name,
                                e->interactive_mode);
        if (strcmp(e->api_version, EXEC_V1) != 0 && strcmp(e->api_version, EXEC_V1BETA1) != 0)
            return kr_error_set(err, KR_EINVAL, "exec plugin: invalid apiVersion \"%s\"",
                                e->api_version);
    }
    bool token = u->token || u->token_file, basic = u->username || u->password;
    if (token && basic)
        return kr_error_set(err, KR_EINVAL,
                            "more than one authentication method found for %s; found [token "
                            "basicAuth], only one is allowed",
                            u->name);
    if (u->has_auth_provider && !u->has_exec)
        return kr_error_set(err, KR_EUNSUPPORTED,
                            "auth-provider is not supported (user %s): use an exec credential "
                            "plugin",
                            u->name);
    return 0;
}

static int validate_proxy_url(const char *url, const char *cluster, kr_error_t *err)
{
    const char *colon = strstr(url, "://");
    if (!colon)
        return kr_error_set(err, KR_EINVAL,
                            "invalid 'proxy-url' \"%s\" for cluster \"%s\": unsupported scheme "
                            "\"\", must be http, https, or socks5",
                            url, cluster);
    size_t n = (size_t)(colon - url);
    if ((n == 4 && strncasecmp(url, "http", 4) == 0) ||
        (n == 5 && strncasecmp(url, "https", 5) == 0) ||
        (n == 6 && strncasecmp(url, "socks5", 6) == 0))
        return 0;
    return kr_error_set(err, KR_EINVAL,
                        "invalid 'proxy-url' \"%s\" for cluster \"%s\": unsupported scheme "
                        "\"%.*s\", must be http, https, or socks5",
                        url, cluster, (int)(n > 64 ? 64 : n), url);
}

static int validate_cluster(const kc_cluster *c, const char *server, kr_error_t *err)
{
    if (!nonempty(server))
        return kr_error_set(err, KR_EINVAL, "no server found for cluster \"%s\"", c->name);
    int rc;
    if (c->proxy_url && (rc = validate_proxy_url(c->proxy_url, c->name, err)) != 0)
        return rc;
    if (c->ca_file && c->ca_data)
        return kr_error_set(err, KR_EINVAL,
                            "certificate-authority-data and certificate-authority are both "
                            "specified for %s. certificate-authority-data will override.",
                            c->name);
    if (c->ca_file)
        return check_readable(c->ca_file, "certificate-authority", c->name, err);
    return 0;
}

/* ---- building the rest config ---------------------------------------------------- */

static int dup_into(char **dst, const char *src, bool *failed)
{
    if (!src)
        return 0;
    *dst = kr_strdup(src);
    *failed |= !*dst;
    return 0;
}

/* KUBERNETES_EXEC_INFO, as client-go marshals it (key order included). */
static int exec_info_json(const kc_user *u, const kc_cluster *c, const kr_rest_config *rc,
                          char **out, kr_error_t *err)
{
    *out = NULL;
    json_t *spec = json_object();
    json_t *info =
        json_pack("{s:s, s:s}", "kind", "ExecCredential", "apiVersion", u->exec.api_version);
    int status = 0;
    if (!spec || !info) {
        status = KR_ENOMEM;
        goto out;
    }
    if (u->provide_cluster_info) {
        json_t *cluster = json_object();
        if (!cluster || json_object_set_new(spec, "cluster", cluster) != 0) {
            status = KR_ENOMEM;
            goto out;
        }
        bool failed = json_object_set_new(cluster, "server", json_string(rc->server)) != 0;
        if (rc->tls_server_name)
            failed |= json_object_set_new(cluster, "tls-server-name",
                                          json_string(rc->tls_server_name)) != 0;
        if (rc->insecure_skip_tls_verify)
            failed |= json_object_set_new(cluster, "insecure-skip-tls-verify", json_true()) != 0;
        char *ca = NULL;
        size_t ca_len = 0;
        if (rc->ca_data) {
            ca_len = strlen(rc->ca_data);
            ca = kr_config_base64_encode((const unsigned char *)rc->ca_data, ca_len);
            failed |= !ca;
        } else if (rc->ca_file) {
            char *pem = NULL;
            status = kr_config_read_file(rc->ca_file, KR_CONFIG_MAX_FILE, "certificate-authority",
                                         &pem, &ca_len, err);
            if (status != 0)
                goto out;
            ca = kr_config_base64_encode((const unsigned char *)pem, ca_len);
            kr_free(pem);
            failed |= !ca;
        }
        if (ca)
            failed |= json_object_set_new(cluster, "certificate-authority-data", json_string(ca));
        kr_free(ca);
        if (rc->proxy_url)
            failed |= json_object_set_new(cluster, "proxy-url", json_string(rc->proxy_url)) != 0;
        if (rc->disable_compression)
            failed |= json_object_set_new(cluster, "disable-compression", json_true()) != 0;
        json_t *config = c && c->exec_config ? json_incref(c->exec_config) : json_null();
        failed |= json_object_set_new(cluster, "config", config) != 0;
        if (failed) {
            status = KR_ENOMEM;
            goto out;
        }
    }
    if (json_object_set_new(spec, "interactive", json_false()) != 0 ||
        json_object_set(info, "spec", spec) != 0) {
        status = KR_ENOMEM;
        goto out;
    }
    /* json_dumpb into our own buffer: the string is freed with kr_free. */
    size_t size = json_dumpb(info, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
    *out = size ? kr_malloc(size + 1) : NULL;
    if (!*out) {
        status = KR_ENOMEM;
        goto out;
    }
    json_dumpb(info, *out, size, JSON_COMPACT | JSON_PRESERVE_ORDER);
    (*out)[size] = '\0';
out:
    json_decref(spec);
    json_decref(info);
    if (status == KR_ENOMEM)
        return kr_error_set(err, KR_ENOMEM, "building the exec plugin's input for user %s",
                            u->name);
    return status;
}

static int make_exec_provider(const kc_user *u, const kc_cluster *c, kr_rest_config *rc,
                              kr_error_t *err)
{
    kr_exec_spec spec = u->exec;
    int status = exec_info_json(u, c, rc, &spec.exec_info, err);
    if (status != 0)
        return status;
    status = kr_exec_provider_new(&spec, &rc->credentials, err);
    kr_free(spec.exec_info);
    return status;
}

static int fill_user(const kr_kubeconfig_t *kc, const kc_user *u, const kc_cluster *c,
                     const kr_config_overrides *ov, kr_rest_config *rc, kr_error_t *err)
{
    bool failed = false;
    if (nonempty(ov->token)) {
        dup_into(&rc->bearer_token, ov->token, &failed);
    } else if (u) {
        dup_into(&rc->bearer_token, u->token, &failed);
        dup_into(&rc->bearer_token_file, u->token_file, &failed);
    }
    if (u) {
        dup_into(&rc->client_cert_file, u->cert_file, &failed);
        dup_into(&rc->client_cert_data, u->cert_data, &failed);
        dup_into(&rc->client_key_file, u->key_file, &failed);
        dup_into(&rc->client_key_data, u->key_data, &failed);
        dup_into(&rc->username, u->username, &failed);
        dup_into(&rc->password, u->password, &failed);
        dup_into(&rc->impersonate_user, u->as, &failed);
        dup_into(&rc->impersonate_uid, u->as_uid, &failed);
        if (u->as_groups) {
            size_t n = 0;
            while (u->as_groups[n])
                n++;
            rc->impersonate_groups = kr_calloc(n + 1, sizeof(char *));
            failed |= !rc->impersonate_groups;
            for (size_t i = 0; i < n && rc->impersonate_groups; i++)
                dup_into(&rc->impersonate_groups[i], u->as_groups[i], &failed);
        }
    }
    if (failed)
        return kr_error_set(err, KR_ENOMEM, "building the rest config: out of memory");
    if (rc->bearer_token_file)
        return kr_credential_provider_token_file_new(rc->bearer_token_file, 0, &kc->logger,
                                                     &rc->credentials, err);
    /* A static token wins over the plugin, as in client-go's transport. */
    if (u && u->has_exec && !rc->bearer_token)
        return make_exec_provider(u, c, rc, err);
    return 0;
}

static int build(const kr_kubeconfig_t *kc, const kr_config_overrides *ov, kr_rest_config *rc,
                 kr_error_t *err)
{
    const kc_context *ctx;
    int status = choose_context(kc, ov, &ctx, err);
    if (status != 0)
        return status;
    const char *cluster_name = nonempty(ov->cluster) ? ov->cluster : ctx ? ctx->cluster : NULL;
    const char *user_name = nonempty(ov->user) ? ov->user : ctx ? ctx->user : NULL;
    const kc_cluster *c = cluster_name ? find_cluster(kc, cluster_name) : NULL;
    const kc_user *u = user_name ? find_user(kc, user_name) : NULL;
    if (user_name && !u) {
        if (ctx && !nonempty(ov->user))
            return kr_error_set(err, KR_ENOTFOUND, "user \"%s\" was not found for context \"%s\"",
                                user_name, ctx->name);
        return kr_error_set(err, KR_ENOTFOUND, "user \"%s\" was not found", user_name);
    }
    if (cluster_name && !c && !nonempty(ov->server)) {
        if (ctx && !nonempty(ov->cluster))
            return kr_error_set(err, KR_ENOTFOUND,
                                "cluster \"%s\" was not found for context \"%s\"", cluster_name,
                                ctx->name);
        return kr_error_set(err, KR_ENOTFOUND, "cluster \"%s\" was not found", cluster_name);
    }
    if (!c && !nonempty(ov->server))
        return kr_error_set(err, KR_ENOTFOUND, NO_CONFIGURATION);
    if (u && (status = validate_user(u, err)) != 0)
        return status;
    const char *server = nonempty(ov->server) ? ov->server : c ? c->server : NULL;
    kc_cluster none = {.name = (char *)(cluster_name ? cluster_name : "")};
    const kc_cluster *cl = c ? c : &none;
    if ((status = validate_cluster(cl, server, err)) != 0)
        return status;

    bool insecure = cl->insecure || ov->insecure_skip_tls_verify;
    bool failed = false;
    dup_into(&rc->server, server, &failed);
    if (!ov->insecure_skip_tls_verify) {
        dup_into(&rc->ca_file, cl->ca_file, &failed);
        dup_into(&rc->ca_data, cl->ca_data, &failed);
    }
    if (insecure && (rc->ca_file || rc->ca_data))
        return kr_error_set(err, KR_EINVAL,
                            "specifying a root certificates file with the insecure flag is not "
                            "allowed");
    rc->insecure_skip_tls_verify = insecure;
    rc->disable_compression = cl->disable_compression;
    dup_into(&rc->tls_server_name,
             nonempty(ov->tls_server_name) ? ov->tls_server_name : cl->tls_server_name, &failed);
    dup_into(&rc->proxy_url, cl->proxy_url, &failed);
    const char *ns = nonempty(ov->namespace_) ? ov->namespace_
                     : ctx && ctx->namespace_ ? ctx->namespace_
                                              : "default";
    dup_into(&rc->namespace_, ns, &failed);
    if (failed)
        return kr_error_set(err, KR_ENOMEM, "building the rest config: out of memory");
    /* clientcmd reads user credentials only for TLS servers: never send
     * them, nor run a plugin, for plain http. */
    if (strncasecmp(server, "http://", 7) != 0 && (status = fill_user(kc, u, c, ov, rc, err)) != 0)
        return status;
    if (insecure)
        kr_log(&kc->logger, KR_LOG_WARN, "config",
               "insecure-skip-tls-verify is on for cluster \"%s\" (%s): the server's certificate "
               "will not be verified",
               cl->name, server);
    return 0;
}

int kr_kubeconfig_rest_config(const kr_kubeconfig_t *kc, const kr_config_overrides *overrides,
                              kr_rest_config **out, kr_error_t *err)
{
    kr_config_overrides none = {0};
    *out = NULL;
    kr_rest_config *rc;
    int status = kr_rest_config_new(&rc, err);
    if (status != 0)
        return status;
    status = build(kc, overrides ? overrides : &none, rc, err);
    if (status != 0) {
        kr_rest_config_free(rc);
        return status;
    }
    *out = rc;
    return 0;
}
