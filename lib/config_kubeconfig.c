/* libkreconcile — kubeconfig files: parsing (through the YAML converter),
 * kubectl's merge rules across several files and path resolution. Turning
 * a context into a rest config is config_context.c. Error messages follow
 * kubectl's and never contain credentials. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "kreconcile/yaml.h"
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
    rc = kr_base64_decode(raw, strlen(raw), false, out, out_len ? out_len : &len, &bad_at);
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

/* Whether a code point is one Go's unicode.C holds (control, format,
 * private use), but for tab, newline, vertical tab, form feed and carriage
 * return. */
static bool hidden_code_point(uint32_t c)
{
    if (c < 0x20)
        return c < 0x09 || c > 0x0D;
    if (c >= 0x7F && c <= 0x9F)
        return true;
    static const uint32_t hidden[][2] = {
        {0xAD, 0xAD},       {0x600, 0x605},     {0x61C, 0x61C},     {0x6DD, 0x6DD},
        {0x70F, 0x70F},     {0x890, 0x891},     {0x8E2, 0x8E2},     {0x180E, 0x180E},
        {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
        {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
        {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
        {0xE0020, 0xE007F}, {0xE000, 0xF8FF},   {0xF0000, 0x10FFFF}};
    for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
        if (c >= hidden[i][0] && c <= hidden[i][1])
            return true;
    return false;
}

/* An exec plugin's installHint as clientcmd shows it: characters that could
 * drive a terminal (ESC and the other controls, format characters) written
 * as U+001B. New, or NULL when out of memory. */
static char *clean_install_hint(const char *hint)
{
    kr_buf out = {0};
    const unsigned char *p = (const unsigned char *)hint;
    int failed = 0;
    while (*p && !failed) {
        uint32_t c = *p;
        size_t n = 1;
        if (c >= 0xC0) { /* a UTF-8 sequence: its code point */
            size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            uint32_t v = c & (0x3F >> (want - 1));
            size_t i = 1;
            for (; i < want && (p[i] & 0xC0) == 0x80; i++)
                v = (v << 6) | (p[i] & 0x3F);
            if (i == want) {
                c = v;
                n = want;
            }
        }
        if (hidden_code_point(c))
            failed |= kr_buf_printf(&out, "U+%04X", (unsigned)c) != 0;
        else
            failed |= kr_buf_append(&out, p, n) != 0;
        p += n;
    }
    char *text = failed ? NULL : kr_strndup(out.data ? out.data : "", out.len);
    kr_buf_free(&out);
    return text;
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
    if (e->install_hint) {
        char *clean = clean_install_hint(e->install_hint);
        if (!clean) {
            kr_free(command);
            return oom(src);
        }
        kr_free(e->install_hint);
        e->install_hint = clean;
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
        kc_cluster *c = kr_array_push(&kc->clusters, &kc->n_clusters, sizeof(*c));
        if (!c)
            return oom(src);
        c->name = name;
        rc = parse_cluster(src, body, where, c);
    } else if (kind == KC_USERS) {
        kc_user *u = kr_array_push(&kc->users, &kc->n_users, sizeof(*u));
        if (!u)
            return oom(src);
        u->name = name;
        rc = parse_user(src, body, where, u);
    } else {
        kc_context *c = kr_array_push(&kc->contexts, &kc->n_contexts, sizeof(*c));
        if (!c)
            return oom(src);
        c->name = name;
        rc = parse_context(src, body, where, c);
    }
    return rc;
}

/* An `extensions` list (the file's, or an entry's): named, each name once,
 * as clientcmd's conversion requires. */
static int check_extensions(kc_source *src, const json_t *exts, const char *where)
{
    if (!exts || json_is_null(exts))
        return 0;
    char at[160];
    snprintf(at, sizeof(at), "%s%sextensions", where, *where ? "." : "");
    if (!json_is_array(exts))
        return load_error(src, KR_EPARSE, at, "expected a list");
    size_t i, j;
    const json_t *ext;
    json_array_foreach(exts, i, ext)
    {
        const char *name = json_string_value(json_object_get(ext, "name"));
        if (!name)
            continue;
        for (j = 0; j < i; j++) {
            const char *other = json_string_value(json_object_get(json_array_get(exts, j), "name"));
            if (other && strcmp(other, name) == 0) {
                char what[384];
                snprintf(what, sizeof(what), "duplicate name \"%.300s\" in extensions", name);
                return load_error(src, KR_EPARSE, at, what);
            }
        }
    }
    return 0;
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
        int ext_rc = check_extensions(src, json_object_get(body, "extensions"), where);
        if (ext_rc != 0)
            return ext_rc;
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
    int rc = check_extensions(src, json_object_get(root, "extensions"), "");
    if (rc != 0)
        return rc;
    src->seen = json_object();
    if (!src->seen)
        return oom(src);
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
    if (opts && opts->version > KR_KUBECONFIG_OPTS_VERSION) {
        *out = NULL;
        return kr_error_set(err, KR_EINVAL, "kubeconfig: options version %u is newer than %u",
                            opts->version, (unsigned)KR_KUBECONFIG_OPTS_VERSION);
    }
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
    int rc = kr_read_file(path, KR_CONFIG_MAX_FILE, "kubeconfig", &data, &len, err);
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
