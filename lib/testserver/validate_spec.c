/* libkreconcile-testserver — value validation of built-in kinds (wire spec
 * §8.3): the checks of kube-apiserver's pkg/apis/<group>/validation that
 * controllers hit most, in its order and words — pod specs (alone and in
 * every template, whose labels and annotations are checked as an object's; their volumes' sources
 * and names, their containers' volume mounts, pull policies and requests against limits), the
 * selectors and restart policies of workloads and Jobs, CronJob schedules, Service ports, external
 * names (without an address or IP families) and session affinities, ConfigMap and Secret keys and
 * sizes, and Lease durations and transitions, Events (core and events.k8s.io). Every problem found
 * is reported, as field.ErrorList does. Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "testserver/ts_internal.h"

static const char CONFIG_KEY[] =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')";
static const char PORT_RANGE[] = "must be between 1 and 65535, inclusive";
static const char NOT_MATCHING[] = "`selector` does not match template `labels`";

/* An error list under construction: causes and the path being looked at. */
typedef struct {
    json_t *causes;
} errs;

static void add(errs *e, const char *reason, const char *field, const char *message)
{
    json_array_append_new(e->causes, json_pack("{s:s, s:s, s:s}", "reason", reason, "message",
                                               message, "field", field));
}

static void required(errs *e, const char *field)
{
    add(e, "FieldValueRequired", field, "Required value");
}

static void invalid_str(errs *e, const char *field, const char *value, const char *why)
{
    kr_buf b = {0};
    kr_buf_append_str(&b, "Invalid value: ");
    ts_go_quote(&b, value);
    kr_buf_printf(&b, ": %s", why);
    add(e, "FieldValueInvalid", field, b.data ? b.data : why);
    kr_buf_free(&b);
}

static void invalid_int(errs *e, const char *field, json_int_t value, const char *why)
{
    kr_buf b = {0};
    kr_buf_printf(&b, "Invalid value: %lld: %s", (long long)value, why);
    add(e, "FieldValueInvalid", field, b.data ? b.data : why);
    kr_buf_free(&b);
}

/* ValidateDNS1123Label: each of IsDNS1123Label's problems; whether none. */
static bool label_name(errs *e, const char *field, const char *name)
{
    const char *why[TS_NAME_PROBLEMS_MAX];
    size_t n = ts_name_problems(TS_DNS1123_LABEL, name, why);
    for (size_t i = 0; i < n; i++)
        invalid_str(e, field, name, why[i]);
    return n == 0;
}

/* "<what>: <value quoted>", as field.Duplicate and field.NotFound say. */
static void quoted(errs *e, const char *reason, const char *what, const char *field,
                   const char *value)
{
    kr_buf b = {0};
    kr_buf_printf(&b, "%s: ", what);
    ts_go_quote(&b, value);
    add(e, reason, field, b.data ? b.data : what);
    kr_buf_free(&b);
}

static void duplicate(errs *e, const char *field, const char *value)
{
    quoted(e, "FieldValueDuplicate", "Duplicate value", field, value);
}

static void not_found(errs *e, const char *field, const char *value)
{
    quoted(e, "FieldValueNotFound", "Not found", field, value);
}

/* `supported` is NULL-terminated, listed as given. */
static void not_supported(errs *e, const char *field, const char *value,
                          const char *const *supported)
{
    kr_buf b = {0};
    kr_buf_append_str(&b, "Unsupported value: ");
    ts_go_quote(&b, value);
    kr_buf_append_str(&b, ": supported values: ");
    for (size_t i = 0; supported[i]; i++) {
        kr_buf_append_str(&b, i ? ", " : "");
        ts_go_quote(&b, supported[i]);
    }
    add(e, "FieldValueNotSupported", field, b.data ? b.data : "Unsupported value");
    kr_buf_free(&b);
}

static bool one_of(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

void ts_go_string_map(kr_buf *b, const json_t *map)
{
    if (!json_is_object(map)) {
        kr_buf_append_str(b, "map[string]string(nil)");
        return;
    }
    size_t k = 0;
    const char **keys = ts_sorted_keys(map, &k);
    kr_buf_append_str(b, "map[string]string{");
    for (size_t i = 0; i < k; i++) {
        kr_buf_append_str(b, i ? ", " : "");
        ts_go_quote(b, keys[i]);
        kr_buf_append_str(b, ":");
        const char *s = json_string_value(json_object_get(map, keys[i]));
        ts_go_quote(b, s ? s : "");
    }
    kr_buf_append_str(b, "}");
    kr_free(keys);
}

void ts_go_strings(kr_buf *b, const json_t *list)
{
    if (!json_is_array(list)) {
        kr_buf_append_str(b, "[]string(nil)");
        return;
    }
    kr_buf_append_str(b, "[]string{");
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        kr_buf_append_str(b, i ? ", " : "");
        ts_go_quote(b, json_string_value(v) ? json_string_value(v) : "");
    }
    kr_buf_append_str(b, "}");
}

void ts_go_label_selector(kr_buf *b, const json_t *sel)
{
    if (!json_is_object(sel)) {
        kr_buf_append_str(b, "\"null\"");
        return;
    }
    kr_buf_append_str(b, "v1.LabelSelector{MatchLabels:");
    ts_go_string_map(b, json_object_get(sel, "matchLabels"));
    kr_buf_append_str(b, ", MatchExpressions:");
    const json_t *exprs = json_object_get(sel, "matchExpressions");
    if (!json_is_array(exprs)) {
        kr_buf_append_str(b, "[]v1.LabelSelectorRequirement(nil)}");
        return;
    }
    kr_buf_append_str(b, "[]v1.LabelSelectorRequirement{");
    size_t i;
    const json_t *e;
    json_array_foreach(exprs, i, e)
    {
        const char *key = str(e, "key"), *op = str(e, "operator");
        kr_buf_append_str(b, i ? ", v1.LabelSelectorRequirement{Key:"
                               : "v1.LabelSelectorRequirement{Key:");
        ts_go_quote(b, key ? key : "");
        kr_buf_append_str(b, ", Operator:");
        ts_go_quote(b, op ? op : "");
        kr_buf_append_str(b, ", Values:");
        ts_go_strings(b, json_object_get(e, "values"));
        kr_buf_append_str(b, "}");
    }
    kr_buf_append_str(b, "}}");
}

/* ---- pod specs ----------------------------------------------------------------------- */

/* IsValidPortName's problems with `name` into why (at most five), counted. */
static size_t port_name_problems(const char *name, const char *why[5])
{
    size_t n = 0, len = strlen(name);
    bool charset = len > 0, letter = false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        charset = charset && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
        letter = letter || (c >= 'a' && c <= 'z');
    }
    if (len > 15)
        why[n++] = "must be no more than 15 characters";
    if (!charset)
        why[n++] = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
    if (!letter)
        why[n++] = "must contain at least one letter (a-z)";
    if (strstr(name, "--"))
        why[n++] = "must not contain consecutive hyphens";
    if (len > 0 && (name[0] == '-' || name[len - 1] == '-'))
        why[n++] = "must not begin or end with a hyphen";
    return n;
}

/* ValidatePortNumOrName: a number is a port number, a string a port
 * name (IsValidPortName's problems, each a cause). */
static void check_port_num_or_name(errs *e, const char *field, const json_t *port)
{
    if (json_is_string(port)) {
        const char *why[5];
        size_t n = port_name_problems(json_string_value(port), why);
        for (size_t i = 0; i < n; i++)
            invalid_str(e, field, json_string_value(port), why[i]);
    } else if (json_is_integer(port) &&
               (json_integer_value(port) < 1 || json_integer_value(port) > 65535)) {
        invalid_int(e, field, json_integer_value(port), PORT_RANGE);
    }
}

/* validateProbeHandler's checks of a probe's one handler at `at` (".exec",
 * ".httpGet", ...). */
static void check_probe_handler(errs *e, const char *at, const char *key, const json_t *h)
{
    static const char *const schemes[] = {"HTTP", "HTTPS", NULL};
    char field[640];
    const json_t *port = json_object_get(h, "port");
    snprintf(field, sizeof(field), "%s.port", at);
    if (strcmp(key, "exec") == 0) {
        snprintf(field, sizeof(field), "%s.command", at);
        if (json_array_size(json_object_get(h, "command")) == 0)
            required(e, field);
    } else if (strcmp(key, "grpc") == 0) {
        json_int_t n = json_integer_value(port);
        if (n < 1 || n > 65535)
            invalid_int(e, field, n, PORT_RANGE);
    } else {
        /* an absent port is the zero IntOrString: the number 0 */
        if (json_is_string(port) || json_is_integer(port))
            check_port_num_or_name(e, field, port);
        else
            invalid_int(e, field, 0, PORT_RANGE);
        if (strcmp(key, "httpGet") != 0)
            return;
        const char *scheme = str(h, "scheme");
        snprintf(field, sizeof(field), "%s.scheme", at);
        if (scheme && !one_of(scheme, schemes))
            not_supported(e, field, scheme, schemes);
        size_t i;
        const json_t *header;
        snprintf(field, sizeof(field), "%s.httpHeaders", at);
        json_array_foreach(json_object_get(h, "httpHeaders"), i, header)
        {
            const char *name = str(header, "name");
            bool ok = name && *name;
            for (const char *c = name; ok && *c; c++)
                ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || *c == '-';
            if (!ok)
                invalid_str(e, field, name ? name : "",
                            "a valid HTTP header must consist of alphanumeric characters or '-' "
                            "(e.g. 'X-Header-Name', regex used for validation is "
                            "'[-A-Za-z0-9]+')");
        }
    }
}

/* A probe's or a lifecycle hook's handlers at `path` (of `obj`): exactly
 * one of `handlers`, checked as validateProbeHandler does (a sleep has
 * nothing to check). */
static void one_handler(errs *e, const char *path, const json_t *obj, const char *const *handlers,
                        size_t n_handlers)
{
    char field[600];
    size_t n = 0;
    for (size_t i = 0; i < n_handlers; i++) {
        const json_t *h = json_object_get(obj, handlers[i]);
        if (!h || json_is_null(h))
            continue;
        snprintf(field, sizeof(field), "%s.%s", path, handlers[i]);
        if (n++ > 0)
            add(e, "FieldValueForbidden", field,
                "Forbidden: may not specify more than 1 handler type");
        else if (strcmp(handlers[i], "sleep") != 0)
            check_probe_handler(e, field, handlers[i], h);
    }
    if (n == 0)
        add(e, "FieldValueRequired", path, "Required value: must specify a handler type");
}

/* validateLifecycle of a regular container: postStart and preStop each
 * with one handler of exec, httpGet, tcpSocket, sleep (validateLifecycleHandler;
 * a sleep's seconds are not checked). */
static void check_lifecycle(errs *e, const char *at, const json_t *c)
{
    static const char *const hooks[] = {"postStart", "preStop"};
    static const char *const handlers[] = {"exec", "httpGet", "tcpSocket", "sleep"};
    const json_t *lifecycle = json_object_get(c, "lifecycle");
    for (size_t k = 0; json_is_object(lifecycle) && k < KR_ARRAY_LEN(hooks); k++) {
        const json_t *hook = json_object_get(lifecycle, hooks[k]);
        if (!json_is_object(hook))
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s.lifecycle.%s", at, hooks[k]);
        one_handler(e, path, hook, handlers, KR_ARRAY_LEN(handlers));
    }
}

/* validateLivenessProbe, validateReadinessProbe and validateStartupProbe
 * of a regular container: one handler (validateProbeHandler), the
 * counts not negative, a probe's own grace period above 0; a liveness or
 * startup probe's successThreshold 1, no grace period of its own for a
 * readiness probe. */
static void check_probe(errs *e, const char *at, const json_t *c, const char *which)
{
    static const char *const handlers[] = {"exec", "httpGet", "tcpSocket", "grpc"};
    static const char *const counts[] = {"initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                                         "successThreshold", "failureThreshold"};
    const json_t *probe = json_object_get(c, which);
    if (!json_is_object(probe))
        return;
    char path[512], field[600];
    snprintf(path, sizeof(path), "%s.%s", at, which);
    one_handler(e, path, probe, handlers, KR_ARRAY_LEN(handlers));
    for (size_t i = 0; i < KR_ARRAY_LEN(counts); i++) {
        json_int_t v = json_integer_value(json_object_get(probe, counts[i]));
        snprintf(field, sizeof(field), "%s.%s", path, counts[i]);
        if (v < 0)
            invalid_int(e, field, v, "must be greater than or equal to 0");
    }
    const json_t *grace = json_object_get(probe, "terminationGracePeriodSeconds");
    snprintf(field, sizeof(field), "%s.terminationGracePeriodSeconds", path);
    if (json_is_integer(grace) && json_integer_value(grace) <= 0)
        invalid_int(e, field, json_integer_value(grace), "must be greater than 0");
    bool readiness = strcmp(which, "readinessProbe") == 0;
    json_int_t success = json_integer_value(json_object_get(probe, "successThreshold"));
    snprintf(field, sizeof(field), "%s.successThreshold", path);
    if (!readiness && success != 1)
        invalid_int(e, field, success, "must be 1");
    snprintf(field, sizeof(field), "%s.terminationGracePeriodSeconds", path);
    if (readiness && json_is_integer(grace))
        invalid_int(e, field, json_integer_value(grace), "must not be set for readinessProbes");
}

static bool config_key(const char *k);

/* Why IsConfigMapKey refuses `key` (the first of its problems), or NULL. */
static const char *config_key_why(const char *key)
{
    if (config_key(key))
        return NULL;
    if (strcmp(key, ".") == 0 || strcmp(key, "..") == 0)
        return strcmp(key, ".") == 0 ? "must not be '.'" : "must not be '..'";
    if (strncmp(key, "..", 2) == 0)
        return "must not start with '..'";
    return CONFIG_KEY;
}

/* validateConfigMapKeySelector, validateSecretKeySelector: the name a DNS
 * subdomain (an absent one too), the key required and a config key. */
static void check_key_selector(errs *e, const char *at, const json_t *sel)
{
    char field[700];
    const char *name = str(sel, "name"), *key = str(sel, "key");
    const char *why[TS_NAME_PROBLEMS_MAX];
    size_t n = ts_name_problems(TS_DNS1123_SUBDOMAIN, name ? name : "", why);
    snprintf(field, sizeof(field), "%s.name", at);
    for (size_t i = 0; i < n; i++)
        invalid_str(e, field, name ? name : "", why[i]);
    snprintf(field, sizeof(field), "%s.key", at);
    if (!key || !*key)
        required(e, field);
    else if (config_key_why(key))
        invalid_str(e, field, key, config_key_why(key));
}

/* ValidateEnv's validateEnvVarValueFrom for each variable: one source,
 * and none with a value; a key selector's name and key, a field
 * reference's fieldPath required. (The names are not checked.) */
static void check_env(errs *e, const char *at, const json_t *env)
{
    size_t i;
    const json_t *v;
    json_array_foreach(env, i, v)
    {
        const json_t *from = json_object_get(v, "valueFrom");
        if (!json_is_object(from))
            continue;
        char path[512], field[640];
        snprintf(path, sizeof(path), "%s.env[%zu].valueFrom", at, i);
        size_t sources = 0;
        const json_t *ref = json_object_get(from, "fieldRef");
        if (json_is_object(ref)) {
            sources++;
            const char *fp = str(ref, "fieldPath");
            snprintf(field, sizeof(field), "%s.fieldRef.fieldPath", path);
            if (!fp || !*fp)
                required(e, field);
        }
        sources += json_is_object(json_object_get(from, "resourceFieldRef"));
        static const char *const selectors[] = {"configMapKeyRef", "secretKeyRef"};
        for (size_t k = 0; k < KR_ARRAY_LEN(selectors); k++) {
            const json_t *sel = json_object_get(from, selectors[k]);
            if (!json_is_object(sel))
                continue;
            sources++;
            snprintf(field, sizeof(field), "%s.%s", path, selectors[k]);
            check_key_selector(e, field, sel);
        }
        const char *value = str(v, "value");
        if (sources == 0)
            invalid_str(e, path, "",
                        "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                        "or `secretKeyRef`");
        else if (value && *value)
            invalid_str(e, path, "", "may not be specified when `value` is not empty");
        else if (sources > 1)
            invalid_str(e, path, "", "may not have more than one field specified at a time");
    }
}

/* validateContainerPorts: a port's name (a valid port name, once in the
 * container), its number, host port and protocol. */
static void check_ports(errs *e, const char *at, const json_t *ports)
{
    static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};
    json_t *names = json_object();
    size_t i;
    const json_t *p;
    json_array_foreach(ports, i, p)
    {
        char field[512];
        const char *name = str(p, "name");
        snprintf(field, sizeof(field), "%s.ports[%zu].name", at, i);
        if (name && *name) {
            const char *why[5];
            size_t n = port_name_problems(name, why);
            for (size_t k = 0; k < n; k++)
                invalid_str(e, field, name, why[k]);
            if (n == 0 && names && json_object_get(names, name))
                duplicate(e, field, name);
            else if (n == 0 && names)
                json_object_set_new(names, name, json_true());
        }
        const json_t *port = json_object_get(p, "containerPort");
        json_int_t n = json_integer_value(port);
        snprintf(field, sizeof(field), "%s.ports[%zu].containerPort", at, i);
        if (n == 0)
            required(e, field);
        else if (n < 1 || n > 65535)
            invalid_int(e, field, n, PORT_RANGE);
        const json_t *host = json_object_get(p, "hostPort");
        if (json_is_integer(host) && json_integer_value(host) != 0 &&
            (json_integer_value(host) < 1 || json_integer_value(host) > 65535)) {
            snprintf(field, sizeof(field), "%s.ports[%zu].hostPort", at, i);
            invalid_int(e, field, json_integer_value(host), PORT_RANGE);
        }
        const char *proto = str(p, "protocol");
        snprintf(field, sizeof(field), "%s.ports[%zu].protocol", at, i);
        if (!proto || !*proto)
            required(e, field);
        else if (!one_of(proto, protocols))
            not_supported(e, field, proto, protocols);
    }
    json_decref(names);
}

/* ValidateVolumeMounts: each names one of the pod's volumes and has a
 * mount path, unique in the container. */
static void check_mounts(errs *e, const char *at, const json_t *mounts, const json_t *volumes)
{
    json_t *paths = json_object();
    if (!paths)
        return;
    size_t i;
    const json_t *m;
    json_array_foreach(mounts, i, m)
    {
        char field[512];
        const char *name = str(m, "name"), *path = str(m, "mountPath");
        snprintf(field, sizeof(field), "%s.volumeMounts[%zu].name", at, i);
        if (!name || !*name)
            required(e, field);
        bool found = false;
        size_t j;
        const json_t *v;
        json_array_foreach(volumes, j, v)
        {
            const char *vn = str(v, "name");
            found = found || (vn && strcmp(vn, name ? name : "") == 0);
        }
        if (!found)
            not_found(e, field, name ? name : "");
        snprintf(field, sizeof(field), "%s.volumeMounts[%zu].mountPath", at, i);
        if (!path || !*path)
            required(e, field);
        else if (json_object_get(paths, path))
            invalid_str(e, field, path, "must be unique");
        if (path)
            json_object_set_new(paths, path, json_true());
    }
    json_decref(paths);
}

/* helper.IsOvercommitAllowed: a native resource (no prefix, or a
 * kubernetes.io one) other than huge pages may be requested below its
 * limit; any other is requested at its limit or not at all. */
static bool overcommit_allowed(const char *name)
{
    bool native = !strchr(name, '/') || strstr(name, "kubernetes.io/");
    return native && strncmp(name, "hugepages-", 10) != 0;
}

/* helper.IsStandardResourceName: the resources kube knows (quota's among
 * them) and huge pages. */
static bool standard_resource(const char *name)
{
    static const char *const known[] = {"cpu",
                                        "memory",
                                        "ephemeral-storage",
                                        "requests.cpu",
                                        "requests.memory",
                                        "requests.ephemeral-storage",
                                        "limits.cpu",
                                        "limits.memory",
                                        "limits.ephemeral-storage",
                                        "pods",
                                        "resourcequotas",
                                        "services",
                                        "replicationcontrollers",
                                        "secrets",
                                        "persistentvolumeclaims",
                                        "storage",
                                        "requests.storage",
                                        "services.nodeports",
                                        "services.loadbalancers",
                                        NULL};
    return one_of(name, known) || strncmp(name, "hugepages-", 10) == 0 ||
           strncmp(name, "requests.hugepages-", 19) == 0;
}

/* validateContainerResourceName: a qualified name (its problems alone
 * when it is none); without a prefix, a standard resource, and one for
 * containers (cpu, memory, ephemeral-storage, huge pages); with one, a
 * kubernetes.io one or an extended resource (not "requests."-prefixed, a
 * qualified name once "requests." is put before it). */
static void check_resource_name(errs *e, const char *field, const char *name)
{
    const char *why[TS_NAME_PROBLEMS_MAX];
    size_t n = ts_name_problems(TS_QUALIFIED_NAME, name, why);
    for (size_t i = 0; i < n; i++)
        invalid_str(e, field, name, why[i]);
    if (n > 0)
        return;
    static const char *const container[] = {"cpu", "memory", "ephemeral-storage", NULL};
    if (!strchr(name, '/')) {
        if (!standard_resource(name))
            invalid_str(e, field, name, "must be a standard resource type or fully qualified");
        if (!one_of(name, container) && strncmp(name, "hugepages-", 10) != 0)
            invalid_str(e, field, name, "must be a standard resource for containers");
        return;
    }
    if (strstr(name, "kubernetes.io/"))
        return; /* a prefixed native resource */
    char *quota = kr_asprintf("requests.%s", name);
    bool extended = quota && strncmp(name, "requests.", 9) != 0 &&
                    ts_name_problems(TS_QUALIFIED_NAME, quota, why) == 0;
    kr_free(quota);
    if (!extended)
        invalid_str(e, field, name, "doesn't follow extended resource name standard");
}

/* ValidateNonnegativeQuantity, on the quantity as stored. */
static void check_quantity_sign(errs *e, const char *field, const char *q)
{
    long double v;
    if (q && ts_quantity_value(q, &v) && v < 0)
        invalid_str(e, field, q, "must be greater than or equal to 0");
}

/* validateResourceRequirements: each limit's name and sign, then each
 * request's, and the request against its limit, on the requests' path
 * (resources in name order; Go's map order is random). */
static void check_resources(errs *e, const char *at, const json_t *resources)
{
    const json_t *limits = json_object_get(resources, "limits");
    const json_t *requests = json_object_get(resources, "requests");
    char req_field[512], lim_field[512];
    snprintf(req_field, sizeof(req_field), "%s.resources.requests", at);
    snprintf(lim_field, sizeof(lim_field), "%s.resources.limits", at);
    char at_key[700];
    size_t k = 0;
    const char **names = ts_sorted_keys(limits, &k);
    for (size_t i = 0; i < k; i++) {
        snprintf(at_key, sizeof(at_key), "%s[%s]", lim_field, names[i]);
        check_resource_name(e, at_key, names[i]);
        check_quantity_sign(e, at_key, str(limits, names[i]));
    }
    kr_free(names);
    k = 0;
    names = ts_sorted_keys(requests, &k);
    for (size_t i = 0; i < k; i++) {
        const char *req = str(requests, names[i]), *lim = str(limits, names[i]);
        snprintf(at_key, sizeof(at_key), "%s[%s]", req_field, names[i]);
        check_resource_name(e, at_key, names[i]);
        check_quantity_sign(e, at_key, req);
        long double r, l;
        bool overcommit = overcommit_allowed(names[i]);
        if (!req || !ts_quantity_value(req, &r))
            continue;
        if (!lim && !overcommit)
            add(e, "FieldValueRequired", lim_field,
                "Required value: Limit must be set for non overcommitable resources");
        if (!lim || !ts_quantity_value(lim, &l) || (overcommit ? r <= l : r == l))
            continue;
        char *why = kr_asprintf("must be %s %s limit of %s",
                                overcommit ? "less than or equal to" : "equal to", names[i], lim);
        invalid_str(e, req_field, req, why ? why : "must not exceed its limit");
        kr_free(why);
    }
    kr_free(names);
}

/* What differs by the container's list, after its common checks: a
 * regular container's or a sidecar's (an init container with
 * restartPolicy Always) lifecycle hooks and probes are validated; a plain
 * init container may have none of them; only an init container may have a
 * restartPolicy, and only Always (validateContainers and
 * validateInitContainers). */
static void check_container_kind(errs *e, const char *here, const char *list, const json_t *c)
{
    static const char *const always[] = {"Always", NULL};
    static const char *const unsupported[] = {"lifecycle", "livenessProbe", "readinessProbe",
                                              "startupProbe"};
    bool init = strcmp(list, "initContainers") == 0;
    const json_t *policy = json_object_get(c, "restartPolicy");
    char field[512];
    snprintf(field, sizeof(field), "%s.restartPolicy", here);
    if (init && json_is_string(policy) && !one_of(json_string_value(policy), always))
        not_supported(e, field, json_string_value(policy), always);
    if (!init || one_of(json_string_value(policy), always)) {
        check_lifecycle(e, here, c);
        check_probe(e, here, c, "livenessProbe");
        check_probe(e, here, c, "readinessProbe");
        check_probe(e, here, c, "startupProbe");
    } else {
        for (size_t k = 0; k < KR_ARRAY_LEN(unsupported); k++) {
            const json_t *v = json_object_get(c, unsupported[k]);
            if (!v || json_is_null(v))
                continue;
            snprintf(field, sizeof(field), "%s.%s", here, unsupported[k]);
            add(e, "FieldValueForbidden", field,
                "Forbidden: may not be set for init containers without restartPolicy=Always");
        }
    }
    snprintf(field, sizeof(field), "%s.restartPolicy", here);
    if (!init && policy && !json_is_null(policy))
        add(e, "FieldValueForbidden", field, "Forbidden: may not be set for non-init containers");
}

/* Names unique across every container list of the pod (names holds them). */
static void check_containers(errs *e, const char *at, const char *list, const json_t *spec,
                             json_t *names, bool need_one)
{
    const json_t *containers = json_object_get(spec, list);
    char field[512];
    if (need_one && json_array_size(containers) == 0) {
        snprintf(field, sizeof(field), "%s.%s", at, list);
        required(e, field);
        return;
    }
    size_t i;
    const json_t *c;
    json_array_foreach(containers, i, c)
    {
        char here[400];
        snprintf(here, sizeof(here), "%s.%s[%zu]", at, list, i);
        const char *name = str(c, "name");
        snprintf(field, sizeof(field), "%s.name", here);
        if (!name || !*name)
            required(e, field);
        else if (!label_name(e, field, name)) {
            /* reported */
        } else if (json_object_get(names, name))
            duplicate(e, field, name);
        else
            json_object_set_new(names, name, json_true());
        const char *image = str(c, "image");
        snprintf(field, sizeof(field), "%s.image", here);
        if (!image || !*image)
            required(e, field);
        check_ports(e, here, json_object_get(c, "ports"));
        check_env(e, here, json_object_get(c, "env"));
        check_mounts(e, here, json_object_get(c, "volumeMounts"), json_object_get(spec, "volumes"));
        /* validatePullPolicy (an empty one is defaulted before) */
        static const char *const pull[] = {"Always", "IfNotPresent", "Never", NULL};
        const char *policy = str(c, "imagePullPolicy");
        snprintf(field, sizeof(field), "%s.imagePullPolicy", here);
        if (policy && *policy && !one_of(policy, pull))
            not_supported(e, field, policy, pull);
        check_resources(e, here, json_object_get(c, "resources"));
        check_container_kind(e, here, list, c);
    }
}

/* validateVolumeSource's sources in its order, each with the path a second
 * source of a volume is refused at (kube's own spelling: "cephFS",
 * "downwarAPI"). */
static const struct {
    const char *key, *second_at;
} VOLUME_SOURCES[] = {
    {"emptyDir", "emptyDir"},
    {"hostPath", "hostPath"},
    {"gitRepo", "gitRepo"},
    {"gcePersistentDisk", "gcePersistentDisk"},
    {"awsElasticBlockStore", "awsElasticBlockStore"},
    {"secret", "secret"},
    {"nfs", "nfs"},
    {"iscsi", "iscsi"},
    {"glusterfs", "glusterfs"},
    {"flocker", "flocker"},
    {"persistentVolumeClaim", "persistentVolumeClaim"},
    {"rbd", "rbd"},
    {"cinder", "cinder"},
    {"cephfs", "cephFS"},
    {"quobyte", "quobyte"},
    {"downwardAPI", "downwarAPI"},
    {"fc", "fc"},
    {"flexVolume", "flexVolume"},
    {"configMap", "configMap"},
    {"azureFile", "azureFile"},
    {"vsphereVolume", "vsphereVolume"},
    {"photonPersistentDisk", "photonPersistentDisk"},
    {"portworxVolume", "portworxVolume"},
    {"azureDisk", "azureDisk"},
    {"storageos", "storageos"},
    {"projected", "projected"},
    {"scaleIO", "scaleIO"},
    {"csi", "csi"},
    {"ephemeral", "ephemeral"},
    {"image", "image"},
};

static const char FILE_MODE[] = "must be a number between 0 and 0777 (octal), both inclusive";

/* A file mode at `field` (defaultMode, an item's mode), when set. */
static void check_file_mode(errs *e, const char *field, const json_t *mode)
{
    if (json_is_integer(mode) && (json_integer_value(mode) < 0 || json_integer_value(mode) > 0777))
        invalid_int(e, field, json_integer_value(mode), FILE_MODE);
}

/* validateSecretVolumeSource and validateConfigMapVolumeSource: the object
 * named (`name_key`), the default mode, each item's key, path and mode. */
static void check_object_volume(errs *e, const char *at, const json_t *src, const char *name_key)
{
    char field[800];
    const char *name = str(src, name_key);
    snprintf(field, sizeof(field), "%s.%s", at, name_key);
    if (!name || !*name)
        required(e, field);
    snprintf(field, sizeof(field), "%s.defaultMode", at);
    check_file_mode(e, field, json_object_get(src, "defaultMode"));
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(src, "items"), i, item)
    {
        const char *key = str(item, "key"), *path = str(item, "path");
        snprintf(field, sizeof(field), "%s.items[%zu].key", at, i);
        if (!key || !*key)
            required(e, field);
        snprintf(field, sizeof(field), "%s.items[%zu].path", at, i);
        if (!path || !*path)
            required(e, field);
        snprintf(field, sizeof(field), "%s.items[%zu].mode", at, i);
        check_file_mode(e, field, json_object_get(item, "mode"));
    }
}

/* validateHostPathVolumeSource: a path without a ".." element, a type
 * from the supported ones (sorted, as sets.List gives them). */
static void check_host_path(errs *e, const char *at, const json_t *src)
{
    static const char *const types[] = {
        "",     "BlockDevice",  "CharDevice", "Directory", "DirectoryOrCreate",
        "File", "FileOrCreate", "Socket",     NULL};
    char field[800];
    const char *path = str(src, "path");
    snprintf(field, sizeof(field), "%s.path", at);
    if (!path || !*path) {
        required(e, field);
        return;
    }
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            invalid_str(e, field, path, "must not contain '..'");
            break;
        }
        p += n + (p[n] == '/');
    }
    const char *type = str(src, "type");
    snprintf(field, sizeof(field), "%s.type", at);
    if (type && !one_of(type, types))
        not_supported(e, field, type, types);
}

/* validateVolumeSource: exactly one source, the common ones' own fields. */
static void check_volume_source(errs *e, const char *at, const json_t *vol)
{
    char field[600];
    int sources = 0;
    for (size_t k = 0; k < KR_ARRAY_LEN(VOLUME_SOURCES); k++) {
        const json_t *src = json_object_get(vol, VOLUME_SOURCES[k].key);
        if (!src || json_is_null(src))
            continue;
        if (sources++ > 0) {
            snprintf(field, sizeof(field), "%s.%s", at, VOLUME_SOURCES[k].second_at);
            add(e, "FieldValueForbidden", field,
                "Forbidden: may not specify more than 1 volume type");
            continue;
        }
        snprintf(field, sizeof(field), "%s.%s", at, VOLUME_SOURCES[k].key);
        const char *key = VOLUME_SOURCES[k].key;
        long double limit;
        const char *size = str(src, "sizeLimit");
        if (strcmp(key, "emptyDir") == 0 && size && ts_quantity_value(size, &limit) && limit < 0) {
            snprintf(field, sizeof(field), "%s.emptyDir.sizeLimit", at);
            add(e, "FieldValueForbidden", field,
                "Forbidden: SizeLimit field must be a valid resource quantity");
        } else if (strcmp(key, "hostPath") == 0) {
            check_host_path(e, field, src);
        } else if (strcmp(key, "secret") == 0) {
            check_object_volume(e, field, src, "secretName");
        } else if (strcmp(key, "configMap") == 0) {
            check_object_volume(e, field, src, "name");
        } else if (strcmp(key, "persistentVolumeClaim") == 0) {
            const char *claim = str(src, "claimName");
            snprintf(field, sizeof(field), "%s.persistentVolumeClaim.claimName", at);
            if (!claim || !*claim)
                required(e, field);
        }
    }
    if (sources == 0)
        add(e, "FieldValueRequired", at, "Required value: must specify a volume type");
}

/* ValidateVolumes: each volume's source, then its name, a DNS label, each
 * once (a volume with a problem does not count for the ones after it). */
static void check_volumes(errs *e, const char *at, const json_t *volumes)
{
    json_t *names = json_object();
    if (!names)
        return;
    size_t i;
    const json_t *v;
    json_array_foreach(volumes, i, v)
    {
        char here[520], field[540];
        snprintf(here, sizeof(here), "%s.volumes[%zu]", at, i);
        size_t before = json_array_size(e->causes);
        check_volume_source(e, here, v);
        snprintf(field, sizeof(field), "%s.name", here);
        const char *name = str(v, "name");
        if (!name || !*name)
            required(e, field);
        else
            label_name(e, field, name);
        if (name && json_object_get(names, name))
            duplicate(e, field, name);
        if (name && json_array_size(e->causes) == before)
            json_object_set_new(names, name, json_true());
    }
    json_decref(names);
}

/* A pod spec at `at` ("spec", "spec.template.spec", ...). */
static void check_pod_spec(errs *e, const char *at, const json_t *spec)
{
    static const char *const restart[] = {"Always", "OnFailure", "Never", NULL};
    static const char *const dns[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None",
                                      NULL};
    check_volumes(e, at, json_object_get(spec, "volumes"));
    json_t *names = json_object();
    if (!names)
        return;
    check_containers(e, at, "containers", spec, names, true);
    check_containers(e, at, "initContainers", spec, names, false);
    json_decref(names);
    char field[512];
    const char *policy = str(spec, "restartPolicy");
    snprintf(field, sizeof(field), "%s.restartPolicy", at);
    if (policy && !one_of(policy, restart))
        not_supported(e, field, policy, restart);
    const char *dns_policy = str(spec, "dnsPolicy");
    snprintf(field, sizeof(field), "%s.dnsPolicy", at);
    if (dns_policy && !one_of(dns_policy, dns))
        not_supported(e, field, dns_policy, dns);
}

/* ---- workloads --------------------------------------------------------------------- */

/* ---- a pod's AppArmor annotations (1.32) ---------------------------------------------- */

static const char APPARMOR_KEY[] = "container.apparmor.security.beta.kubernetes.io/";
static const char *const CONTAINER_LISTS[] = {"initContainers", "containers",
                                              "ephemeralContainers"};

/* podSpecHasContainer: any container, init or ephemeral one so named. */
static bool has_container(const json_t *spec, const char *name)
{
    for (size_t l = 0; l < KR_ARRAY_LEN(CONTAINER_LISTS); l++) {
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(spec, CONTAINER_LISTS[l]), i, c)
        {
            const char *n = str(c, "name");
            if (n && strcmp(n, name) == 0)
                return true;
        }
    }
    return false;
}

/* ValidateAppArmorPodAnnotations (part of ValidatePodSpecificAnnotations):
 * each container.apparmor.security.beta.kubernetes.io/<c> annotation names
 * a container of the pod and holds "", runtime/default, unconfined or a
 * localhost/ profile, reported at `at`[key]. Go walks the map in no order;
 * keys sorted here. */
static void check_apparmor_annotations(errs *e, const char *at, const json_t *annotations,
                                       const json_t *spec)
{
    size_t k = 0;
    const char **keys = ts_sorted_keys(annotations, &k);
    for (size_t i = 0; i < k; i++) {
        if (strncmp(keys[i], APPARMOR_KEY, sizeof(APPARMOR_KEY) - 1) != 0)
            continue;
        const char *container = keys[i] + sizeof(APPARMOR_KEY) - 1;
        const char *value = str(annotations, keys[i]);
        value = value ? value : "";
        char *field = kr_asprintf("%s[%s]", at, keys[i]);
        if (!field)
            continue;
        if (!has_container(spec, container))
            invalid_str(e, field, container, "container not found");
        if (*value && strcmp(value, "runtime/default") != 0 && strcmp(value, "unconfined") != 0 &&
            strncmp(value, "localhost/", 10) != 0) {
            kr_buf why = {0};
            kr_buf_append_str(&why, "invalid AppArmor profile name: ");
            ts_go_quote(&why, value);
            invalid_str(e, field, value, why.data ? why.data : "invalid AppArmor profile name");
            kr_buf_free(&why);
        }
        kr_free(field);
    }
    kr_free(keys);
}

/* validateAppArmorAnnotationsAndFieldsMatchOnCreate: a container's
 * profile (its own field, else the pod's) and its annotation, when both
 * are there, say the same; Windows pods are not looked at. */
static void check_apparmor_match(errs *e, const json_t *annotations, const json_t *spec)
{
    if (str(json_object_get(spec, "os"), "name") &&
        strcmp(str(json_object_get(spec, "os"), "name"), "windows") == 0)
        return;
    const json_t *pod_profile =
        json_object_get(json_object_get(spec, "securityContext"), "appArmorProfile");
    for (size_t l = 0; l < KR_ARRAY_LEN(CONTAINER_LISTS); l++) {
        size_t i;
        const json_t *c;
        json_array_foreach(json_object_get(spec, CONTAINER_LISTS[l]), i, c)
        {
            const json_t *profile =
                json_object_get(json_object_get(c, "securityContext"), "appArmorProfile");
            profile = json_is_object(profile) ? profile : pod_profile;
            const char *name = str(c, "name");
            char *key = kr_asprintf("%s%s", APPARMOR_KEY, name ? name : "");
            const char *note = key && json_is_object(profile) ? str(annotations, key) : NULL;
            kr_free(key);
            if (!note)
                continue;
            const char *type = str(profile, "type"), *local = str(profile, "localhostProfile");
            type = type ? type : "";
            const char *child = NULL;
            if (strcmp(type, "Unconfined") == 0)
                child = strcmp(note, "unconfined") != 0 ? "type" : NULL;
            else if (strcmp(type, "RuntimeDefault") == 0)
                child = strcmp(note, "runtime/default") != 0 ? "type" : NULL;
            else if (strcmp(type, "Localhost") == 0)
                child = strncmp(note, "localhost/", 10) != 0      ? "type"
                        : !local || strcmp(note + 10, local) != 0 ? "localhostProfile"
                                                                  : NULL;
            if (!child)
                continue;
            char field[512];
            snprintf(field, sizeof(field), "spec.%s[%zu].securityContext.appArmorProfile.%s",
                     CONTAINER_LISTS[l], i, child);
            add(e, "FieldValueForbidden", field,
                strcmp(child, "type") == 0
                    ? "Forbidden: apparmor type in annotation and field must match"
                    : "Forbidden: apparmor profile in annotation and field must match");
        }
    }
}

/* ValidatePodTemplateSpec begins with the template's labels and
 * annotations, checked as an object's but reported at `at`.labels and
 * `at`.annotations (no "metadata" in the path), then its pod-specific
 * annotations (ValidatePodSpecificAnnotations: the AppArmor ones). */
static void check_template_meta(errs *e, const char *at, const json_t *tmpl)
{
    const json_t *md = json_object_get(tmpl, "metadata");
    char field[512];
    snprintf(field, sizeof(field), "%s.labels", at);
    ts_check_labels(e->causes, field, json_object_get(md, "labels"));
    snprintf(field, sizeof(field), "%s.annotations", at);
    ts_check_annotations(e->causes, field, json_object_get(md, "annotations"));
    check_apparmor_annotations(e, field, json_object_get(md, "annotations"),
                               json_object_get(tmpl, "spec"));
}

static bool labels_match(const json_t *match, const json_t *labels)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)match, key, v)
    {
        if (!json_equal(v, json_object_get(labels, key)))
            return false;
    }
    return true;
}

/* A LabelSelector's matchLabels and matchExpressions against `labels`
 * (the operators of metav1.LabelSelectorAsSelector). */
static bool selector_matches(const json_t *sel, const json_t *labels)
{
    if (!labels_match(json_object_get(sel, "matchLabels"), labels))
        return false;
    size_t i;
    const json_t *req;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, req)
    {
        const char *key = str(req, "key"), *op = str(req, "operator");
        const json_t *have = key ? json_object_get(labels, key) : NULL;
        bool listed = false;
        size_t k;
        const json_t *v;
        json_array_foreach(json_object_get(req, "values"), k, v)
        {
            listed = listed || json_equal(v, have);
        }
        if (!op || (strcmp(op, "In") == 0 && !listed) ||
            (strcmp(op, "NotIn") == 0 && have && listed) || (strcmp(op, "Exists") == 0 && !have) ||
            (strcmp(op, "DoesNotExist") == 0 && have))
            return false;
    }
    return true;
}

static void mismatch(errs *e, const char *at, const json_t *labels)
{
    kr_buf b = {0};
    char field[512];
    snprintf(field, sizeof(field), "%s.metadata.labels", at);
    kr_buf_append_str(&b, "Invalid value: ");
    ts_go_string_map(&b, labels);
    kr_buf_printf(&b, ": %s", NOT_MATCHING);
    add(e, "FieldValueInvalid", field, b.data ? b.data : NOT_MATCHING);
    kr_buf_free(&b);
}

static void check_replicas(errs *e, const json_t *spec)
{
    const json_t *r = json_object_get(spec, "replicas");
    if (json_is_integer(r) && json_integer_value(r) < 0)
        invalid_int(e, "spec.replicas", json_integer_value(r),
                    "must be greater than or equal to 0");
}

/* Deployments, ReplicaSets, StatefulSets, DaemonSets: a selector that is
 * not empty and matches the template, whose pods always restart. */
static void check_workload(errs *e, const char *what, const json_t *spec, bool replicas)
{
    static const char *const always[] = {"Always", NULL};
    if (replicas)
        check_replicas(e, spec);
    const json_t *sel = json_object_get(spec, "selector");
    const json_t *tmpl = json_object_get(spec, "template");
    const json_t *labels = json_object_get(json_object_get(tmpl, "metadata"), "labels");
    if (!json_is_object(sel)) {
        required(e, "spec.selector");
    } else if (json_object_size(json_object_get(sel, "matchLabels")) == 0 &&
               json_array_size(json_object_get(sel, "matchExpressions")) == 0) {
        kr_buf b = {0};
        kr_buf_append_str(&b, "Invalid value: ");
        ts_go_label_selector(&b, sel);
        kr_buf_printf(&b, ": empty selector is invalid for %s", what);
        add(e, "FieldValueInvalid", "spec.selector", b.data ? b.data : "empty selector");
        kr_buf_free(&b);
    }
    /* a missing selector matches nothing: the template does not match */
    if (!json_is_object(sel) || !selector_matches(sel, labels))
        mismatch(e, "spec.template", labels);
    check_template_meta(e, "spec.template", tmpl);
    check_pod_spec(e, "spec.template.spec", json_object_get(tmpl, "spec"));
    const char *policy = str(json_object_get(tmpl, "spec"), "restartPolicy");
    if (policy && strcmp(policy, "Always") != 0)
        not_supported(e, "spec.template.spec.restartPolicy", policy, always);
}

static void check_replication_controller(errs *e, const json_t *spec)
{
    static const char *const always[] = {"Always", NULL};
    check_replicas(e, spec);
    const json_t *sel = json_object_get(spec, "selector");
    const json_t *tmpl = json_object_get(spec, "template");
    const json_t *labels = json_object_get(json_object_get(tmpl, "metadata"), "labels");
    if (json_object_size(sel) == 0)
        required(e, "spec.selector");
    if (!json_is_object(tmpl)) {
        required(e, "spec.template");
        return;
    }
    if (json_object_size(sel) > 0 && !labels_match(sel, labels))
        mismatch(e, "spec.template", labels);
    check_template_meta(e, "spec.template", tmpl);
    check_pod_spec(e, "spec.template.spec", json_object_get(tmpl, "spec"));
    const char *policy = str(json_object_get(tmpl, "spec"), "restartPolicy");
    if (policy && strcmp(policy, "Always") != 0)
        not_supported(e, "spec.template.spec.restartPolicy", policy, always);
}

/* A Job spec at `at` ("spec", or a CronJob's "spec.jobTemplate.spec"). */
static void check_job(errs *e, const char *at, const json_t *spec)
{
    static const char *const once[] = {"OnFailure", "Never", NULL};
    static const char *const counts[] = {"parallelism", "completions", "backoffLimit",
                                         "activeDeadlineSeconds"};
    char field[512];
    for (size_t i = 0; i < KR_ARRAY_LEN(counts); i++) {
        const json_t *v = json_object_get(spec, counts[i]);
        snprintf(field, sizeof(field), "%s.%s", at, counts[i]);
        if (json_is_integer(v) && json_integer_value(v) < 0)
            invalid_int(e, field, json_integer_value(v), "must be greater than or equal to 0");
    }
    const json_t *tmpl = json_object_get(spec, "template");
    const json_t *sel = json_object_get(spec, "selector");
    const json_t *labels = json_object_get(json_object_get(tmpl, "metadata"), "labels");
    snprintf(field, sizeof(field), "%s.template", at);
    check_template_meta(e, field, tmpl);
    snprintf(field, sizeof(field), "%s.template.spec", at);
    check_pod_spec(e, field, json_object_get(tmpl, "spec"));
    const char *policy = str(json_object_get(tmpl, "spec"), "restartPolicy");
    snprintf(field, sizeof(field), "%s.template.spec.restartPolicy", at);
    if (!one_of(policy, once))
        add(e, "FieldValueRequired", field,
            "Required value: valid values: \"OnFailure\", \"Never\"");
    /* ValidateJobSpec matches the selector after the template's checks */
    snprintf(field, sizeof(field), "%s.template", at);
    if (json_is_object(sel) && !selector_matches(sel, labels))
        mismatch(e, field, labels);
}

/* ---- services, config ----------------------------------------------------------------- */

/* An ExternalName service's CNAME: required, and a DNS subdomain once a
 * trailing dot (fully qualified) is taken off. */
static void check_external_name(errs *e, const char *cname)
{
    size_t n = cname ? strlen(cname) : 0;
    if (n > 0 && cname[n - 1] == '.')
        n--;
    if (n == 0) {
        required(e, "spec.externalName");
        return;
    }
    char *name = kr_strndup(cname, n);
    const char *why[TS_NAME_PROBLEMS_MAX];
    size_t problems = name ? ts_name_problems(TS_DNS1123_SUBDOMAIN, name, why) : 0;
    for (size_t i = 0; i < problems; i++)
        invalid_str(e, "spec.externalName", name, why[i]);
    kr_free(name);
}

static void check_service(errs *e, const json_t *spec)
{
    static const char *const types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort",
                                        NULL};
    static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};
    const char *type = str(spec, "type");
    const char *ip = str(spec, "clusterIP");
    const json_t *ports = json_object_get(spec, "ports");
    bool external = type && strcmp(type, "ExternalName") == 0;
    bool headless = ip && strcmp(ip, "None") == 0;
    if (json_array_size(ports) == 0 && !external && !headless)
        required(e, "spec.ports");
    if (external) {
        /* the registry has copied a clusterIP ("None" too) to clusterIPs */
        static const char forbidden[] = "Forbidden: may not be set for ExternalName services";
        if ((ip && *ip) || json_array_size(json_object_get(spec, "clusterIPs")) > 0)
            add(e, "FieldValueForbidden", "spec.clusterIPs", forbidden);
        if (json_array_size(json_object_get(spec, "ipFamilies")) > 0)
            add(e, "FieldValueForbidden", "spec.ipFamilies", forbidden);
        if (json_object_get(spec, "ipFamilyPolicy") &&
            !json_is_null(json_object_get(spec, "ipFamilyPolicy")))
            add(e, "FieldValueForbidden", "spec.ipFamilyPolicy", forbidden);
        check_external_name(e, str(spec, "externalName"));
    }
    json_t *names = json_object();
    size_t i;
    const json_t *p;
    json_array_foreach(ports, i, p)
    {
        char field[128];
        const char *name = str(p, "name");
        snprintf(field, sizeof(field), "spec.ports[%zu].name", i);
        if (json_array_size(ports) > 1 && (!name || !*name)) {
            required(e, field);
        } else if (name && *name) {
            /* a label, and once (an invalid one counts as well) */
            label_name(e, field, name);
            if (names && json_object_get(names, name))
                duplicate(e, field, name);
            else if (names)
                json_object_set_new(names, name, json_true());
        }
        json_int_t port = json_integer_value(json_object_get(p, "port"));
        snprintf(field, sizeof(field), "spec.ports[%zu].port", i);
        if (port < 1 || port > 65535)
            invalid_int(e, field, port, PORT_RANGE);
        const char *proto = str(p, "protocol");
        snprintf(field, sizeof(field), "spec.ports[%zu].protocol", i);
        if (proto && !one_of(proto, protocols))
            not_supported(e, field, proto, protocols);
        snprintf(field, sizeof(field), "spec.ports[%zu].targetPort", i);
        check_port_num_or_name(e, field, json_object_get(p, "targetPort"));
    }
    json_decref(names);
    /* an empty one is defaulted before */
    static const char *const affinities[] = {"ClientIP", "None", NULL};
    const char *affinity = str(spec, "sessionAffinity");
    if (affinity && *affinity && !one_of(affinity, affinities))
        not_supported(e, "spec.sessionAffinity", affinity, affinities);
    if (type && !one_of(type, types))
        not_supported(e, "spec.type", type, types);
}

/* IsConfigMapKey's test. */
static bool config_key(const char *k)
{
    if (!*k || strcmp(k, ".") == 0 || strcmp(k, "..") == 0 || strncmp(k, "..", 2) == 0 ||
        strlen(k) > 253)
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* The keys of `map`, each a config key and (for a ConfigMap) not also a
 * key of map `other`. */
static void check_keys(errs *e, const json_t *obj, const char *map, const char *other)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(obj, map), key, v)
    {
        kr_buf field = {0};
        kr_buf_printf(&field, "%s[%s]", map, key);
        if (config_key_why(key))
            invalid_str(e, field.data ? field.data : map, key, config_key_why(key));
        if (other && json_object_get(json_object_get(obj, other), key)) {
            char *why = kr_asprintf("duplicate of key present in %s", other);
            invalid_str(e, field.data ? field.data : map, key, why ? why : "duplicate key");
            kr_free(why);
        }
        kr_buf_free(&field);
    }
    (void)v;
}

/* The bytes a []byte field's base64 text decodes to (Go's StdEncoding
 * skips '\r' and '\n'; the text was checked when the body was decoded). */
static size_t base64_bytes(const char *s, size_t len)
{
    size_t n = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r' || s[i] == '\n')
            continue;
        n++;
        pad = s[i] == '=' ? pad + 1 : 0;
    }
    return n / 4 * 3 - (pad < 3 ? pad : 2);
}

/* The size of a map's values: strings as they are, []byte as decoded. */
static size_t values_size(const json_t *map, bool bytes)
{
    size_t total = 0;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)map, key, v)
    {
        const char *s = json_string_value(v);
        size_t len = s ? json_string_length(v) : 0;
        total += bytes && s ? base64_bytes(s, len) : len;
    }
    (void)key;
    return total;
}

/* ConfigMaps and Secrets hold at most 1 MiB of values (MaxSecretSize). */
#define MAX_DATA_SIZE ((size_t)1024 * 1024)

static void too_long(errs *e, const char *field)
{
    char msg[64];
    snprintf(msg, sizeof(msg), "Too long: may not be more than %zu bytes", MAX_DATA_SIZE);
    add(e, "FieldValueTooLong", field, msg);
}

/* ValidateConfigMap: the keys of data, then of binaryData (none in
 * both), then the size
 * of every value, reported at the empty path (the whole object: "[]"). */
static void check_configmap(errs *e, const json_t *obj)
{
    check_keys(e, obj, "data", "binaryData");
    check_keys(e, obj, "binaryData", "data");
    if (values_size(json_object_get(obj, "data"), false) +
            values_size(json_object_get(obj, "binaryData"), true) >
        MAX_DATA_SIZE)
        too_long(e, "[]");
}

static void check_secret(errs *e, const json_t *obj)
{
    check_keys(e, obj, "data", NULL);
    if (values_size(json_object_get(obj, "data"), true) > MAX_DATA_SIZE)
        too_long(e, "data");
    const char *type = str(obj, "type");
    const json_t *data = json_object_get(obj, "data");
    static const struct {
        const char *type, *key;
    } needs[] = {{"kubernetes.io/tls", "tls.crt"},
                 {"kubernetes.io/tls", "tls.key"},
                 {"kubernetes.io/dockerconfigjson", ".dockerconfigjson"},
                 {"kubernetes.io/dockercfg", ".dockercfg"}};
    for (size_t i = 0; type && i < KR_ARRAY_LEN(needs); i++) {
        if (strcmp(type, needs[i].type) != 0 || json_object_get(data, needs[i].key))
            continue;
        char field[64];
        snprintf(field, sizeof(field), "data[%s]", needs[i].key);
        required(e, field);
    }
    if (!type)
        return;
    if (strcmp(type, "kubernetes.io/service-account-token") == 0) {
        /* the token and the uid come later, from the token controller */
        const char *sa = json_string_value(
            json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
                            "kubernetes.io/service-account.name"));
        if (!sa || !*sa)
            required(e, "metadata.annotations[kubernetes.io/service-account.name]");
    } else if (strcmp(type, "kubernetes.io/basic-auth") == 0) {
        /* either may be empty, but one must be there */
        if (!json_object_get(data, "username") && !json_object_get(data, "password")) {
            required(e, "data[username]");
            required(e, "data[password]");
        }
    } else if (strcmp(type, "kubernetes.io/ssh-auth") == 0) {
        const char *key = json_string_value(json_object_get(data, "ssh-privatekey"));
        if (!key || !*key)
            required(e, "data[ssh-privatekey]");
    }
}

/* ---- CronJob schedules: robfig/cron's ParseStandard -------------------------------- */

typedef struct cron_bounds {
    unsigned min, max;
    const char *const *names; /* lower case, from min; NULL: none */
} cron_bounds;

/* strconv.Atoi, then cron's mustParseInt: false with the error in b. */
static bool cron_int(const char *s, size_t len, unsigned *out, kr_buf *b)
{
    char text[64];
    snprintf(text, sizeof(text), "%.*s", (int)(len < 60 ? len : 60), s);
    const char *p = text;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    long long n = 0;
    bool ok = *p != '\0';
    for (; *p && ok; p++) {
        ok = *p >= '0' && *p <= '9' && n < 100000000000LL;
        n = n * 10 + (*p - '0');
    }
    if (!ok) {
        kr_buf_printf(b, "failed to parse int from %s: strconv.Atoi: parsing \"%s\": %s", text,
                      text, *text && n >= 100000000000LL ? "value out of range" : "invalid syntax");
        return false;
    }
    if (neg && n > 0) {
        kr_buf_printf(b, "negative number (-%lld) not allowed: %s", n, text);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

static bool cron_int_or_name(const char *s, size_t len, const cron_bounds *r, unsigned *out,
                             kr_buf *b)
{
    for (unsigned i = 0; r->names && r->names[i]; i++) {
        if (strlen(r->names[i]) == len && strncasecmp(r->names[i], s, len) == 0) {
            *out = r->min + i;
            return true;
        }
    }
    return cron_int(s, len, out, b);
}

/* getRange of one comma-separated expression [s, s+len). */
static bool cron_range(const char *s, size_t len, const cron_bounds *r, kr_buf *b)
{
    char expr[128];
    snprintf(expr, sizeof(expr), "%.*s", (int)(len < 120 ? len : 120), s);
    char *slash = strchr(expr, '/');
    if (slash && strchr(slash + 1, '/')) {
        kr_buf_printf(b, "too many slashes: %s", expr);
        return false;
    }
    size_t range_len = slash ? (size_t)(slash - expr) : strlen(expr);
    unsigned start, end, step = 1;
    const char *hyphen = memchr(expr, '-', range_len);
    bool single = !hyphen;
    if ((range_len == 1 && (expr[0] == '*' || expr[0] == '?'))) {
        start = r->min;
        end = r->max;
    } else {
        size_t low_len = hyphen ? (size_t)(hyphen - expr) : range_len;
        if (!cron_int_or_name(expr, low_len, r, &start, b))
            return false;
        end = start;
        if (hyphen) {
            const char *high = hyphen + 1;
            size_t high_len = range_len - low_len - 1;
            if (memchr(high, '-', high_len)) {
                kr_buf_printf(b, "too many hyphens: %s", expr);
                return false;
            }
            if (!cron_int_or_name(high, high_len, r, &end, b))
                return false;
        }
    }
    if (slash) {
        if (!cron_int(slash + 1, strlen(slash + 1), &step, b))
            return false;
        if (single)
            end = r->max; /* "N/step" is "N-max/step" */
    }
    if (start < r->min)
        kr_buf_printf(b, "beginning of range (%u) below minimum (%u): %s", start, r->min, expr);
    else if (end > r->max)
        kr_buf_printf(b, "end of range (%u) above maximum (%u): %s", end, r->max, expr);
    else if (start > end)
        kr_buf_printf(b, "beginning of range (%u) beyond end of range (%u): %s", start, end, expr);
    else if (step == 0)
        kr_buf_printf(b, "step of range should be a positive number: %s", expr);
    else
        return true;
    return false;
}

/* cron.ParseStandard(schedule): NULL, or its error (in b). */
static const char *cron_error(const char *schedule, kr_buf *b)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                         "aug", "sep", "oct", "nov", "dec", NULL};
    static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};
    static const cron_bounds bounds[] = {
        {0, 59, NULL}, {0, 23, NULL}, {1, 31, NULL}, {1, 12, months}, {0, 6, days}};
    const char *spec = schedule;
    if (strncmp(spec, "TZ=", 3) == 0 || strncmp(spec, "CRON_TZ=", 8) == 0) {
        const char *space = strchr(spec, ' ');
        spec = space ? space : ""; /* the location is not looked up here */
        while (*spec == ' ')
            spec++;
    }
    if (*spec == '@') {
        static const char *const named[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                            "@daily",  "@midnight", "@hourly"};
        for (size_t i = 0; i < KR_ARRAY_LEN(named); i++)
            if (strcmp(spec, named[i]) == 0)
                return NULL;
        if (strncmp(spec, "@every ", 7) == 0)
            return NULL; /* its duration is not parsed here */
        kr_buf_printf(b, "unrecognized descriptor: %s", spec);
        return b->data;
    }
    /* strings.Fields */
    const char *field[16];
    size_t flen[16], n = 0;
    for (const char *p = spec; *p;) {
        while (*p && strchr(" \t\n\r\v\f", *p))
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && !strchr(" \t\n\r\v\f", *q))
            q++;
        if (n < 16) {
            field[n] = p;
            flen[n] = (size_t)(q - p);
        }
        n++;
        p = q;
    }
    if (n != 5) {
        kr_buf_printf(b, "expected exactly 5 fields, found %zu: [", n);
        for (size_t i = 0; i < n && i < 16; i++)
            kr_buf_printf(b, "%s%.*s", i ? " " : "", (int)flen[i], field[i]);
        kr_buf_append_str(b, "]");
        return b->data;
    }
    for (size_t i = 0; i < 5; i++) {
        const char *p = field[i], *end = field[i] + flen[i];
        while (p <= end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *stop = comma ? comma : end;
            if (!cron_range(p, (size_t)(stop - p), &bounds[i], b))
                return b->data ? b->data : "out of memory";
            p = stop + 1;
        }
    }
    return NULL;
}

/* validateScheduleFormat for a new CronJob: cron's error, and TZ refused
 * in the schedule (the timeZone field is for that). */
static void check_schedule(errs *e, const char *schedule)
{
    kr_buf b = {0};
    const char *why = cron_error(schedule, &b);
    if (why)
        invalid_str(e, "spec.schedule", schedule, why);
    kr_buf_free(&b);
    if (strstr(schedule, "TZ"))
        invalid_str(e, "spec.schedule", schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
}

/* ValidateLeaseSpec: a duration above 0, transitions not negative (the
 * holder is not validated; a strategy is an alpha feature's). */
static void check_lease(errs *e, const json_t *spec)
{
    const json_t *d = json_object_get(spec, "leaseDurationSeconds");
    if (json_is_integer(d) && json_integer_value(d) <= 0)
        invalid_int(e, "spec.leaseDurationSeconds", json_integer_value(d),
                    "must be greater than 0");
    const json_t *t = json_object_get(spec, "leaseTransitions");
    if (json_is_integer(t) && json_integer_value(t) < 0)
        invalid_int(e, "spec.leaseTransitions", json_integer_value(t),
                    "must be greater than or equal to 0");
}

/* A time field Go holds as its zero value: absent or null. */
static bool zero_time(const json_t *o, const char *key)
{
    const json_t *t = json_object_get(o, key);
    return !t || json_is_null(t) || (json_is_string(t) && !*json_string_value(t));
}

static void event_too_long(errs *e, const char *field, const char *value, size_t limit)
{
    if (value && strlen(value) > limit) {
        char why[64];
        snprintf(why, sizeof(why), "can have at most %zu characters", limit);
        invalid_str(e, field, "", why);
    }
}

/* ValidateEventCreate and ValidateEventUpdate (pkg/apis/core/validation/
 * events.go): the legacy rules for every Event, and on a create through
 * events.k8s.io/v1 the strict ones. The rules run on the internal Event,
 * so their paths keep its names (involvedObject, message, count, ...)
 * whatever the request's version called them; `v1` maps the
 * events.k8s.io/v1 object's fields onto them. */
static void check_event(errs *e, const json_t *obj, bool v1, bool create)
{
    const json_t *involved = json_object_get(obj, v1 ? "regarding" : "involvedObject");
    const char *ns = str(json_object_get(obj, "metadata"), "namespace");
    const char *involved_ns = str(involved, "namespace");
    ns = ns ? ns : "";
    involved_ns = involved_ns ? involved_ns : "";
    if (zero_time(obj, "eventTime")) {
        /* an old-style Event: only its namespace and its object's agree
         * (an empty one also with "default", for old clients) */
        if (!*involved_ns ? *ns && strcmp(ns, "default") != 0 : strcmp(ns, involved_ns) != 0)
            invalid_str(e, "involvedObject.namespace", involved_ns,
                        "does not match event.namespace");
    } else {
        if (!*involved_ns && strcmp(ns, "default") != 0 && strcmp(ns, "kube-system") != 0)
            invalid_str(e, "involvedObject.namespace", involved_ns,
                        "does not match event.namespace");
        const char *controller = str(obj, v1 ? "reportingController" : "reportingComponent");
        controller = controller ? controller : "";
        if (!*controller)
            required(e, "reportingController");
        const char *why[TS_NAME_PROBLEMS_MAX];
        size_t n = ts_name_problems(TS_QUALIFIED_NAME, controller, why);
        for (size_t i = 0; i < n; i++)
            invalid_str(e, "reportingController", controller, why[i]);
        static const struct {
            const char *field;
            size_t limit;
        } texts[] = {{"reportingInstance", 128}, {"action", 128}, {"reason", 128}};
        for (size_t i = 0; i < KR_ARRAY_LEN(texts); i++) {
            const char *v = str(obj, texts[i].field);
            if (!v || !*v)
                required(e, texts[i].field);
            event_too_long(e, texts[i].field, v, texts[i].limit);
        }
        event_too_long(e, "message", str(obj, v1 ? "note" : "message"), 1024);
    }
    const char *why[TS_NAME_PROBLEMS_MAX];
    size_t n = ts_name_problems(TS_DNS1123_SUBDOMAIN, ns, why);
    for (size_t i = 0; i < n; i++)
        invalid_str(e, "namespace", ns, why[i]);
    if (!v1 || !create)
        return;
    const json_t *series = json_object_get(obj, "series");
    if (json_is_object(series)) {
        if (json_integer_value(json_object_get(series, "count")) < 2)
            invalid_str(e, "series.count", "", "should be at least 2");
        if (zero_time(series, "lastObservedTime"))
            required(e, "series.lastObservedTime");
    }
    if (zero_time(obj, "eventTime"))
        required(e, "eventTime");
    const char *type = str(obj, "type");
    if (!type || (strcmp(type, "Normal") != 0 && strcmp(type, "Warning") != 0)) {
        char why_type[160];
        snprintf(why_type, sizeof(why_type), "has invalid value: %.128s", type ? type : "");
        invalid_str(e, "type", "", why_type);
    }
    if (!zero_time(obj, "deprecatedFirstTimestamp"))
        invalid_str(e, "firstTimestamp", "", "needs to be unset");
    if (!zero_time(obj, "deprecatedLastTimestamp"))
        invalid_str(e, "lastTimestamp", "", "needs to be unset");
    if (json_integer_value(json_object_get(obj, "deprecatedCount")) != 0)
        invalid_str(e, "count", "", "needs to be unset");
    const json_t *source = json_object_get(obj, "deprecatedSource");
    if ((str(source, "component") && *str(source, "component")) ||
        (str(source, "host") && *str(source, "host")))
        invalid_str(e, "source", "", "needs to be unset");
}

int ts_validate_spec(const ts_resource *res, const json_t *obj, const char *name, bool create,
                     const json_t *head, const json_t *tail, ts_response *resp)
{
    /* the kind's list starts with ValidateObjectMeta's */
    errs e = {head ? json_copy((json_t *)head) : json_array()};
    if (!e.causes)
        return KR_ENOMEM;
    const json_t *spec = json_object_get(obj, "spec");
    if (res->crd)
        ; /* a custom resource's schema is checked elsewhere */
    else if (ts_resource_is(res, "", "pods")) {
        const json_t *annotations =
            json_object_get(json_object_get(obj, "metadata"), "annotations");
        check_apparmor_annotations(&e, "metadata.annotations", annotations, spec);
        check_pod_spec(&e, "spec", spec);
        if (create) /* ValidatePodCreate's, after the pod's spec */
            check_apparmor_match(&e, annotations, spec);
    } else if (ts_resource_is(res, "apps", "deployments"))
        check_workload(&e, "deployment", spec, true);
    else if (ts_resource_is(res, "apps", "replicasets"))
        check_workload(&e, "deployment", spec, true);
    else if (ts_resource_is(res, "apps", "statefulsets"))
        check_workload(&e, "statefulset", spec, true);
    else if (ts_resource_is(res, "apps", "daemonsets"))
        check_workload(&e, "daemonset", spec, false);
    else if (ts_resource_is(res, "", "replicationcontrollers"))
        check_replication_controller(&e, spec);
    else if (ts_resource_is(res, "batch", "jobs"))
        check_job(&e, "spec", spec);
    else if (ts_resource_is(res, "batch", "cronjobs")) {
        if (!str(spec, "schedule") || !*str(spec, "schedule"))
            required(&e, "spec.schedule");
        else
            check_schedule(&e, str(spec, "schedule"));
        check_job(&e, "spec.jobTemplate.spec",
                  json_object_get(json_object_get(spec, "jobTemplate"), "spec"));
    } else if (ts_resource_is(res, "", "podtemplates")) {
        check_template_meta(&e, "template", json_object_get(obj, "template"));
        check_pod_spec(&e, "template.spec",
                       json_object_get(json_object_get(obj, "template"), "spec"));
    } else if (ts_resource_is(res, "", "services"))
        check_service(&e, spec);
    else if (ts_resource_is(res, "", "configmaps"))
        check_configmap(&e, obj);
    else if (ts_resource_is(res, "", "secrets"))
        check_secret(&e, obj);
    else if (ts_resource_is(res, "coordination.k8s.io", "leases"))
        check_lease(&e, spec);
    else if (ts_resource_is(res, "", "events"))
        check_event(&e, obj, false, create);
    else if (ts_resource_is(res, "events.k8s.io", "events"))
        check_event(&e, obj, true, create);
    if (tail)
        json_array_extend(e.causes, (json_t *)tail);
    if (json_array_size(e.causes) == 0) {
        json_decref(e.causes);
        return 0;
    }
    ts_respond_invalid_causes(resp, res->kind, res->group, name, e.causes);
    json_decref(e.causes);
    return KR_EINVALIDOBJ;
}
