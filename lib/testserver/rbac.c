/* libkreconcile-testserver — RBAC, as kube-apiserver's
 * --authorization-mode=RBAC: a request is allowed when a ClusterRoleBinding
 * (anywhere) or a RoleBinding (in the request's namespace) names the user,
 * one of its groups or its service account, and a rule of the Role or
 * ClusterRole it refers to matches the verb, API group, resource (with
 * subresource and resourceNames) or non-resource URL. The group
 * system:masters is allowed everything. The roles and bindings are read
 * from the store on each check, so a change applies to the next request.
 * Writes of roles and bindings may not grant what the writer does not
 * hold, unless it may escalate (roles) or bind (bindings), as
 * kube-apiserver's RBAC storage checks. A ClusterRole with an
 * aggregationRule gets the rules of the ClusterRoles its selectors match
 * whenever a ClusterRole changes, as the controller manager's aggregation
 * controller would (admin, edit and view are made so, as in a cluster).
 * Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>

#include "testserver/ts_internal.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"

/* ---- matching ------------------------------------------------------------------------ */

static bool listed(const json_t *list, const char *value)
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        if (s && (strcmp(s, "*") == 0 || strcmp(s, value) == 0))
            return true;
    }
    return false;
}

/* RBAC's ResourceMatches: "*", "resource", "resource/sub" or "*\/sub". */
static bool resource_matches(const json_t *list, const char *resource, const char *sub)
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            continue;
        if (strcmp(s, "*") == 0)
            return true;
        size_t rlen = strlen(resource);
        if (!sub) {
            if (strcmp(s, resource) == 0)
                return true;
            continue;
        }
        if ((strncmp(s, resource, rlen) == 0 && s[rlen] == '/' && strcmp(s + rlen + 1, sub) == 0) ||
            (strncmp(s, "*/", 2) == 0 && strcmp(s + 2, sub) == 0))
            return true;
    }
    return false;
}

static bool names_match(const json_t *names, const char *name)
{
    if (json_array_size(names) == 0)
        return true;
    size_t i;
    const json_t *v;
    json_array_foreach(names, i, v)
    {
        if (name && json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

/* NonResourceURLMatches: exact, "*", or a prefix ending in "*". */
static bool path_matches(const json_t *urls, const char *path)
{
    size_t i;
    const json_t *v;
    json_array_foreach(urls, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            continue;
        size_t len = strlen(s);
        if (strcmp(s, "*") == 0 || strcmp(s, path) == 0 ||
            (len > 0 && s[len - 1] == '*' && strncmp(s, path, len - 1) == 0))
            return true;
    }
    return false;
}

static bool rule_allows(const json_t *rule, const ts_attributes *a)
{
    if (!listed(json_object_get(rule, "verbs"), a->verb))
        return false;
    if (a->path)
        return path_matches(json_object_get(rule, "nonResourceURLs"), a->path);
    return listed(json_object_get(rule, "apiGroups"), a->group ? a->group : "") &&
           resource_matches(json_object_get(rule, "resources"), a->resource, a->sub) &&
           names_match(json_object_get(rule, "resourceNames"), a->name);
}

static bool is_user(const ts_identity *who, const char *name)
{
    if (who->anonymous)
        return strcmp(name, "system:anonymous") == 0;
    return who->user && strlen(name) == who->user_len &&
           strncmp(name, who->user, who->user_len) == 0;
}

static bool in_group(const ts_identity *who, const char *group)
{
    for (size_t i = 0; i < who->ngroups; i++)
        if (strcmp(who->groups[i], group) == 0)
            return true;
    return false;
}

/* The subject of `binding` (in namespace `ns`, "" for a cluster binding)
 * that names `who`, or NULL. */
static const json_t *subject_of(const json_t *binding, const char *ns, const ts_identity *who)
{
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(binding, "subjects"), i, s)
    {
        const char *kind = json_string_value(json_object_get(s, "kind"));
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!kind || !name)
            continue;
        if ((strcmp(kind, "User") == 0 && is_user(who, name)) ||
            (strcmp(kind, "Group") == 0 && in_group(who, name)))
            return s;
        if (strcmp(kind, "ServiceAccount") == 0) {
            const char *sa_ns = json_string_value(json_object_get(s, "namespace"));
            char user[600];
            snprintf(user, sizeof(user), "system:serviceaccount:%s:%s",
                     sa_ns && *sa_ns ? sa_ns : ns, name);
            if (is_user(who, user))
                return s;
        }
    }
    return NULL;
}

static ts_store *rbac_store(kr_testserver_t *ts, const char *plural)
{
    ts_resource *r = ts_resource_find(ts, RBAC_GROUP, "v1", plural);
    return r ? r->store : NULL;
}

/* The rules of the role `binding` refers to (a Role in `ns`, or a
 * ClusterRole), or NULL when it does not exist. */
static const json_t *role_rules(kr_testserver_t *ts, const json_t *binding, const char *ns)
{
    const json_t *ref = json_object_get(binding, "roleRef");
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (!kind || !name)
        return NULL;
    bool cluster = strcmp(kind, "ClusterRole") == 0;
    if (!cluster && (strcmp(kind, "Role") != 0 || !*ns))
        return NULL;
    ts_store *st = rbac_store(ts, cluster ? "clusterroles" : "roles");
    ts_obj *role = st ? ts_store_get(st, cluster ? "" : ns, name) : NULL;
    return role ? json_object_get(role->obj, "rules") : NULL;
}

/* Calls `fn` for each binding that names `who` (the cluster's, then
 * namespace `ns`'s) until it returns true; returns what it returned. */
typedef bool (*binding_fn)(const json_t *binding, const char *ns, const json_t *subject,
                           const json_t *rules, void *user);

static bool each_binding(kr_testserver_t *ts, const ts_identity *who, const char *ns, binding_fn fn,
                         void *user)
{
    for (int pass = 0; pass < 2; pass++) {
        const char *bns = pass == 0 ? "" : ns;
        if (pass == 1 && (!ns || !*ns))
            break;
        ts_store *st = rbac_store(ts, pass == 0 ? "clusterrolebindings" : "rolebindings");
        if (!st)
            continue;
        for (size_t i = ts_store_lower_bound(st, bns, ""); i < st->len; i++) {
            if (strcmp(st->items[i].ns, bns) != 0)
                break;
            const json_t *binding = st->items[i].obj;
            const json_t *subject = subject_of(binding, bns, who);
            if (!subject)
                continue;
            const json_t *rules = role_rules(ts, binding, bns);
            if (rules && fn(binding, bns, subject, rules, user))
                return true;
        }
    }
    return false;
}

typedef struct check {
    const ts_attributes *a;
    char **reason;
} check;

static bool check_binding(const json_t *binding, const char *ns, const json_t *subject,
                          const json_t *rules, void *user)
{
    check *c = user;
    size_t i;
    const json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        if (!rule_allows(rule, c->a))
            continue;
        if (c->reason) {
            const json_t *ref = json_object_get(binding, "roleRef");
            const char *name = ts_meta_str(binding, "name");
            *c->reason =
                kr_asprintf("RBAC: allowed by %s \"%s%s%s\" of %s \"%s\" to %s \"%s\"",
                            *ns ? "RoleBinding" : "ClusterRoleBinding", name ? name : "",
                            *ns ? "/" : "", ns, json_string_value(json_object_get(ref, "kind")),
                            json_string_value(json_object_get(ref, "name")),
                            json_string_value(json_object_get(subject, "kind")),
                            json_string_value(json_object_get(subject, "name")));
        }
        return true;
    }
    return false;
}

bool ts_rbac_allows(kr_testserver_t *ts, const ts_identity *who, const ts_attributes *a,
                    char **reason)
{
    if (reason)
        *reason = NULL;
    if (in_group(who, "system:masters"))
        return true;
    check c = {a, reason};
    return each_binding(ts, who, a->path ? NULL : a->ns, check_binding, &c);
}

/* ---- escalation: writes of roles and bindings -------------------------------------------- */

/* Go's %q of a string list: ["a" "b"]. */
static void quoted_list(kr_buf *b, const char *field, const json_t *list, bool *first)
{
    if (json_array_size(list) == 0)
        return;
    kr_buf_printf(b, "%s%s:", *first ? "" : ", ", field);
    *first = false;
    ts_go_quote_list(b, list);
}

/* One right `who` lacks, as rbacv1helpers.CompactString prints a rule. */
static void add_missing(kr_buf *b, const char *verb, const char *group, const char *resource,
                        const char *name, const char *url)
{
    json_t *one[5] = {group ? json_pack("[s]", group) : NULL,
                      resource ? json_pack("[s]", resource) : NULL,
                      name ? json_pack("[s]", name) : NULL, url ? json_pack("[s]", url) : NULL,
                      json_pack("[s]", verb)};
    static const char *const fields[5] = {"APIGroups", "Resources", "ResourceNames",
                                          "NonResourceURLs", "Verbs"};
    bool first = true;
    kr_buf_append_str(b, "\n{");
    for (size_t i = 0; i < 5; i++) {
        quoted_list(b, fields[i], one[i], &first);
        json_decref(one[i]);
    }
    kr_buf_append_str(b, "}");
}

/* Whether `who` holds every right `rules` grant, in namespace `ns` (NULL:
 * cluster-wide), as ConfirmNoEscalation asks: each verb, group, resource
 * and name (or URL) of each rule must be allowed to it. The rights it
 * lacks are appended to `missing`. */
static bool holds_rules(kr_testserver_t *ts, const ts_identity *who, const json_t *rules,
                        const char *ns, kr_buf *missing)
{
    bool holds = true;
    size_t i, v, g, r, n;
    const json_t *rule, *verb, *group, *res, *name;
    json_array_foreach(rules, i, rule)
    {
        const json_t *names = json_object_get(rule, "resourceNames");
        const json_t *urls = json_object_get(rule, "nonResourceURLs");
        json_array_foreach(json_object_get(rule, "verbs"), v, verb)
        {
            const char *vs = json_string_value(verb);
            json_array_foreach(urls, n, name)
            {
                ts_attributes a = {.verb = vs ? vs : "", .path = json_string_value(name)};
                if (a.path && !ts_rbac_allows(ts, who, &a, NULL)) {
                    holds = false;
                    add_missing(missing, a.verb, NULL, NULL, NULL, a.path);
                }
            }
            json_array_foreach(json_object_get(rule, "apiGroups"), g, group)
            {
                json_array_foreach(json_object_get(rule, "resources"), r, res)
                {
                    const char *rs = json_string_value(res);
                    if (!vs || !json_is_string(group) || !rs)
                        continue;
                    char resource[256];
                    snprintf(resource, sizeof(resource), "%s", rs);
                    char *slash = strchr(resource, '/');
                    if (slash)
                        *slash = '\0';
                    ts_attributes a = {.verb = vs,
                                       .group = json_string_value(group),
                                       .resource = resource,
                                       .sub = slash ? slash + 1 : NULL,
                                       .ns = ns};
                    for (n = 0; n < json_array_size(names) || (n == 0 && !json_array_size(names));
                         n++) {
                        a.name = json_string_value(json_array_get(names, n));
                        if (!ts_rbac_allows(ts, who, &a, NULL)) {
                            holds = false;
                            add_missing(missing, vs, a.group, rs, a.name, NULL);
                        }
                    }
                }
            }
        }
    }
    return holds;
}

/* The 403 of an escalation, as kube-apiserver words it. */
static int respond_escalation(const ts_resource *res, const char *name, const ts_identity *who,
                              const kr_buf *missing, ts_response *resp)
{
    kr_buf msg = {0};
    char *q = ts_qualified(res);
    kr_buf_printf(&msg, "%s \"%s\" is forbidden: user \"%.*s\" (groups=[", q ? q : res->plural,
                  name ? name : "", (int)who->user_len, who->user ? who->user : "");
    for (size_t i = 0; i < who->ngroups; i++)
        kr_buf_printf(&msg, "%s\"%s\"", i ? " " : "", who->groups[i]);
    kr_buf_printf(&msg, "]) is attempting to grant RBAC permissions not currently held:%.*s",
                  (int)missing->len, missing->data ? missing->data : "");
    ts_respond_status(resp, 403, "Forbidden", msg.data ? msg.data : "forbidden",
                      ts_details(res, name, false));
    kr_free(q);
    kr_buf_free(&msg);
    return KR_EFORBIDDEN;
}

int ts_rbac_admit(kr_testserver_t *ts, const ts_route *rt, const json_t *obj, ts_response *resp)
{
    const ts_resource *res = rt->res;
    const ts_identity *who = rt->who;
    bool role = ts_resource_is(res, RBAC_GROUP, "roles");
    bool cluster_role = ts_resource_is(res, RBAC_GROUP, "clusterroles");
    bool binding = ts_resource_is(res, RBAC_GROUP, "rolebindings");
    bool cluster_binding = ts_resource_is(res, RBAC_GROUP, "clusterrolebindings");
    if (!ts->rbac || !who || !(role || cluster_role || binding || cluster_binding) ||
        in_group(who, "system:masters"))
        return 0;
    const char *ns = res->namespaced ? rt->ns : NULL;
    const char *name = ts_meta_str(obj, "name");
    const json_t *rules = json_object_get(obj, "rules");
    if (binding || cluster_binding) {
        /* the bind verb on the role referred to, or holding its rights */
        const json_t *ref = json_object_get(obj, "roleRef");
        const char *kind = json_string_value(json_object_get(ref, "kind"));
        const char *ref_name = json_string_value(json_object_get(ref, "name"));
        bool to_cluster_role = kind && strcmp(kind, "ClusterRole") == 0;
        ts_attributes bind = {.verb = "bind",
                              .group = RBAC_GROUP,
                              .resource = to_cluster_role ? "clusterroles" : "roles",
                              .name = ref_name,
                              .ns = ns};
        if (ts_rbac_allows(ts, who, &bind, NULL))
            return 0;
        ts_store *st = rbac_store(ts, to_cluster_role ? "clusterroles" : "roles");
        ts_obj *target = st && ref_name
                             ? ts_store_get(st, to_cluster_role ? "" : (ns ? ns : ""), ref_name)
                             : NULL;
        if (!target) {
            char *msg = kr_asprintf("%s.%s \"%s\" not found", bind.resource, RBAC_GROUP,
                                    ref_name ? ref_name : "");
            ts_respond_status(resp, 404, "NotFound", msg ? msg : "not found", NULL);
            kr_free(msg);
            return KR_ENOTFOUND;
        }
        rules = json_object_get(target->obj, "rules");
    } else {
        ts_attributes escalate = {.verb = "escalate",
                                  .group = RBAC_GROUP,
                                  .resource = res->plural,
                                  .name = name,
                                  .ns = ns};
        if (ts_rbac_allows(ts, who, &escalate, NULL))
            return 0;
    }
    kr_buf missing = {0};
    int rc = holds_rules(ts, who, rules, ns, &missing)
                 ? 0
                 : respond_escalation(res, name, who, &missing, resp);
    kr_buf_free(&missing);
    return rc;
}

/* ---- SelfSubjectRulesReview ------------------------------------------------------------ */

static void copy_field(json_t *to, const json_t *rule, const char *field)
{
    const json_t *v = json_object_get(rule, field);
    if (json_array_size(v) > 0)
        json_object_set_new(to, field, json_deep_copy(v));
}

static bool collect_rules(const json_t *binding, const char *ns, const json_t *subject,
                          const json_t *rules, void *user)
{
    (void)binding;
    (void)ns;
    (void)subject;
    json_t *status = user;
    size_t i;
    const json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        bool urls = json_array_size(json_object_get(rule, "nonResourceURLs")) > 0;
        json_t *out = json_object();
        json_object_set_new(out, "verbs", json_deep_copy(json_object_get(rule, "verbs")));
        if (urls) {
            copy_field(out, rule, "nonResourceURLs");
        } else {
            copy_field(out, rule, "apiGroups");
            copy_field(out, rule, "resources");
            copy_field(out, rule, "resourceNames");
        }
        json_array_append_new(json_object_get(status, urls ? "nonResourceRules" : "resourceRules"),
                              out);
    }
    return false; /* every binding */
}

json_t *ts_rbac_rules(kr_testserver_t *ts, const ts_identity *who, const char *ns)
{
    json_t *status =
        json_pack("{s:[], s:[], s:b}", "resourceRules", "nonResourceRules", "incomplete", false);
    if (status)
        each_binding(ts, who, ns, collect_rules, status);
    return status;
}

/* ---- ClusterRole aggregation ------------------------------------------------------------ */

/* Whether `labels` match one of `selectors` (LabelSelectors). */
static bool selected(const json_t *selectors, const json_t *labels)
{
    size_t i;
    const json_t *sel;
    json_array_foreach(selectors, i, sel)
    {
        kr_buf text = {0};
        ts_selector_text(sel, &text);
        ts_labels_t *parsed = NULL;
        char msg[256];
        bool ok = ts_labels_parse(text.data ? text.data : "", &parsed, msg, sizeof(msg)) == 0 &&
                  ts_labels_matches(parsed, labels);
        ts_labels_free(parsed);
        kr_buf_free(&text);
        if (ok)
            return true;
    }
    return false;
}

/* The rules aggregated role `i` should hold: those of every other
 * ClusterRole its selectors match, in name order, each once; new. */
static json_t *aggregated_rules(const ts_store *st, size_t i, const json_t *selectors)
{
    json_t *rules = json_array();
    for (size_t j = 0; rules && j < st->len; j++) {
        if (j == i ||
            !selected(selectors,
                      json_object_get(json_object_get(st->items[j].obj, "metadata"), "labels")))
            continue;
        size_t k;
        json_t *rule;
        json_array_foreach(json_object_get(st->items[j].obj, "rules"), k, rule)
        {
            bool seen = false;
            size_t m;
            json_t *have;
            json_array_foreach(rules, m, have)
            {
                seen = seen || json_equal(have, rule);
            }
            if (!seen)
                json_array_append_new(rules, json_deep_copy(rule));
        }
    }
    return rules;
}

void ts_rbac_aggregate(kr_testserver_t *ts)
{
    ts_resource *res = ts_resource_find(ts, RBAC_GROUP, "v1", "clusterroles");
    ts_store *st = res ? res->store : NULL;
    /* aggregated roles may be sources of others (view into edit into
     * admin): until nothing changes */
    bool changed = true;
    for (int pass = 0; st && changed && pass < 16; pass++) {
        changed = false;
        for (size_t i = 0; i < st->len; i++) {
            const json_t *obj = st->items[i].obj;
            const json_t *selectors =
                json_object_get(json_object_get(obj, "aggregationRule"), "clusterRoleSelectors");
            if (!json_is_array(selectors))
                continue;
            json_t *rules = aggregated_rules(st, i, selectors);
            const json_t *have = json_object_get(obj, "rules");
            /* the controller compares semantically: no rules equal null */
            bool same = rules && (json_equal(rules, have) ||
                                  (json_array_size(rules) == 0 && json_array_size(have) == 0));
            json_t *updated = rules && !same ? json_deep_copy(obj) : NULL;
            json_t *md = updated ? json_object_get(updated, "metadata") : NULL;
            if (!md) {
                json_decref(rules);
                json_decref(updated);
                continue;
            }
            json_object_set_new(updated, "rules", rules);
            char rv[32];
            snprintf(rv, sizeof(rv), "%llu", ++ts->rv);
            json_object_set_new(md, "resourceVersion", json_string(rv));
            json_t *old = json_incref(st->items[i].obj);
            char *name = kr_strdup(st->items[i].name);
            if (name && ts_store_put(st, "", name, json_incref(updated)) == 0) {
                ts_record_event(ts, res, TS_MODIFIED, updated, old);
                changed = true;
            }
            kr_free(name);
            json_decref(old);
            json_decref(updated);
        }
    }
}

/* ---- the bootstrap policy ------------------------------------------------------------- */

/* One PolicyRule: space-separated verbs, one API group, resources (or,
 * with a group of NULL, non-resource URLs). */
typedef struct rule_row {
    const char *verbs, *group, *resources;
} rule_row;

#define RW "create delete deletecollection patch update"
#define RO "get list watch"

static const rule_row CLUSTER_ADMIN[] = {{"*", "*", "*"}, {"*", NULL, "*"}, {0}};
static const rule_row BASIC_USER[] = {
    {"create", "authorization.k8s.io", "selfsubjectaccessreviews selfsubjectrulesreviews"},
    {"create", "authentication.k8s.io", "selfsubjectreviews"},
    {0}};
static const rule_row AUTH_DELEGATOR[] = {
    {"create", "authentication.k8s.io", "tokenreviews"},
    {"create", "authorization.k8s.io", "subjectaccessreviews"},
    {0}};
static const rule_row MONITORING[] = {
    {"get", NULL, "/healthz /healthz/* /livez /livez/* /metrics /metrics/slis /readyz /readyz/*"},
    {0}};
static const rule_row DISCOVERY[] = {{"get", NULL,
                                      "/api /api/* /apis /apis/* /healthz /livez /openapi "
                                      "/openapi/* /readyz /version /version/"},
                                     {0}};
static const rule_row PUBLIC_INFO[] = {{"get", NULL, "/healthz /livez /readyz /version /version/"},
                                       {0}};
/* view, edit and admin as the aggregation controller leaves them */
#define VIEW_ROWS                                                                                  \
    {RO, "",                                                                                       \
     "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods "             \
     "replicationcontrollers replicationcontrollers/scale serviceaccounts services "               \
     "services/status"},                                                                           \
        {RO, "",                                                                                   \
         "bindings events limitranges namespaces/status pods/log pods/status "                     \
         "replicationcontrollers/status resourcequotas resourcequotas/status"},                    \
        {RO, "", "namespaces"}, {RO, "discovery.k8s.io", "endpointslices"},                        \
        {RO, "apps",                                                                               \
         "controllerrevisions daemonsets daemonsets/status deployments deployments/scale "         \
         "deployments/status replicasets replicasets/scale replicasets/status statefulsets "       \
         "statefulsets/scale statefulsets/status"},                                                \
        {RO, "autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status"},           \
        {RO, "batch", "cronjobs cronjobs/status jobs jobs/status"},                                \
        {RO, "policy", "poddisruptionbudgets poddisruptionbudgets/status"},                        \
    {                                                                                              \
        RO, "networking.k8s.io", "ingresses ingresses/status networkpolicies"                      \
    }
#define EDIT_ROWS                                                                                  \
    {RO, "", "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy"},          \
        {"impersonate", "", "serviceaccounts"},                                                    \
        {RW, "", "pods pods/attach pods/exec pods/portforward pods/proxy"},                        \
        {"create", "", "pods/eviction"},                                                           \
        {RW, "",                                                                                   \
         "configmaps events persistentvolumeclaims replicationcontrollers "                        \
         "replicationcontrollers/scale secrets serviceaccounts services services/proxy"},          \
        {"create", "", "serviceaccounts/token"},                                                   \
        {RW, "apps",                                                                               \
         "daemonsets deployments deployments/rollback deployments/scale replicasets "              \
         "replicasets/scale statefulsets statefulsets/scale"},                                     \
        {RW, "autoscaling", "horizontalpodautoscalers"}, {RW, "batch", "cronjobs jobs"},           \
        {RW, "networking.k8s.io", "ingresses networkpolicies"},                                    \
    {                                                                                              \
        RW, "policy", "poddisruptionbudgets"                                                       \
    }
static const rule_row AGGREGATE_TO_VIEW[] = {VIEW_ROWS, {0}};
static const rule_row AGGREGATE_TO_EDIT[] = {EDIT_ROWS, {0}};
static const rule_row AGGREGATE_TO_ADMIN[] = {
    {"create", "authorization.k8s.io", "localsubjectaccessreviews"},
    {RW " get list watch", RBAC_GROUP, "rolebindings roles"},
    {0}};
static const rule_row NONE[] = {{0}};

static json_t *words(const char *text)
{
    json_t *out = json_array();
    for (const char *p = text; out && *p;) {
        size_t len = strcspn(p, " ");
        if (len)
            json_array_append_new(out, json_stringn(p, len));
        p += len + (p[len] == ' ');
    }
    return out;
}

static json_t *bootstrap_meta(const char *name)
{
    return json_pack("{s:s, s:{s:s}, s:{s:s}}", "name", name, "labels",
                     "kubernetes.io/bootstrapping", "rbac-defaults", "annotations",
                     "rbac.authorization.kubernetes.io/autoupdate", "true");
}

/* `role` with the label aggregate-to-`into` (may be NULL) and, with
 * `from`, the aggregationRule that gathers the roles labelled
 * aggregate-to-`from`; returns it. */
static json_t *aggregation(json_t *role, const char *into, const char *from)
{
    char key[96];
    if (role && into) {
        snprintf(key, sizeof(key), "rbac.authorization.k8s.io/aggregate-to-%s", into);
        json_object_set_new(json_object_get(json_object_get(role, "metadata"), "labels"), key,
                            json_string("true"));
    }
    if (role && from) {
        snprintf(key, sizeof(key), "rbac.authorization.k8s.io/aggregate-to-%s", from);
        json_object_set_new(
            role, "aggregationRule",
            json_pack("{s:[{s:{s:s}}]}", "clusterRoleSelectors", "matchLabels", key, "true"));
    }
    return role;
}

static json_t *cluster_role(const char *name, const rule_row *rows)
{
    json_t *rules = json_array();
    for (const rule_row *r = rows; rules && r->verbs; r++) {
        json_t *rule = r->group ? json_pack("{s:o, s:[s], s:o}", "verbs", words(r->verbs),
                                            "apiGroups", r->group, "resources", words(r->resources))
                                : json_pack("{s:o, s:o}", "verbs", words(r->verbs),
                                            "nonResourceURLs", words(r->resources));
        json_array_append_new(rules, rule);
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", RBAC_GROUP "/v1", "kind", "ClusterRole",
                     "metadata", bootstrap_meta(name), "rules", rules);
}

static json_t *cluster_binding(const char *name, const char *group, const char *group2)
{
    json_t *subjects = json_array();
    for (int i = 0; i < 2; i++) {
        const char *g = i ? group2 : group;
        if (g)
            json_array_append_new(subjects, json_pack("{s:s, s:s, s:s}", "apiGroup", RBAC_GROUP,
                                                      "kind", "Group", "name", g));
    }
    return json_pack("{s:s, s:s, s:o, s:{s:s, s:s, s:s}, s:o}", "apiVersion", RBAC_GROUP "/v1",
                     "kind", "ClusterRoleBinding", "metadata", bootstrap_meta(name), "roleRef",
                     "apiGroup", RBAC_GROUP, "kind", "ClusterRole", "name", name, "subjects",
                     subjects);
}

int ts_rbac_bootstrap(kr_testserver_t *ts)
{
    json_t *objs[] = {
        cluster_role("cluster-admin", CLUSTER_ADMIN),
        aggregation(cluster_role("admin", NONE), NULL, "admin"),
        aggregation(cluster_role("edit", NONE), "admin", "edit"),
        aggregation(cluster_role("view", NONE), "edit", "view"),
        aggregation(cluster_role("system:aggregate-to-admin", AGGREGATE_TO_ADMIN), "admin", NULL),
        aggregation(cluster_role("system:aggregate-to-edit", AGGREGATE_TO_EDIT), "edit", NULL),
        aggregation(cluster_role("system:aggregate-to-view", AGGREGATE_TO_VIEW), "view", NULL),
        cluster_role("system:basic-user", BASIC_USER),
        cluster_role("system:auth-delegator", AUTH_DELEGATOR),
        cluster_role("system:discovery", DISCOVERY),
        cluster_role("system:monitoring", MONITORING),
        cluster_role("system:public-info-viewer", PUBLIC_INFO),
        cluster_binding("cluster-admin", "system:masters", NULL),
        cluster_binding("system:basic-user", "system:authenticated", NULL),
        cluster_binding("system:discovery", "system:authenticated", NULL),
        cluster_binding("system:monitoring", "system:monitoring", NULL),
        cluster_binding("system:public-info-viewer", "system:authenticated",
                        "system:unauthenticated"),
    };
    int rc = 0;
    for (size_t i = 0; i < KR_ARRAY_LEN(objs); i++)
        if (!objs[i])
            rc = KR_ENOMEM;
    if (rc == 0) {
        kr_error_t e = {0};
        rc = kr_testserver_load_bulk(ts, objs, KR_ARRAY_LEN(objs), &e);
    }
    for (size_t i = 0; i < KR_ARRAY_LEN(objs); i++)
        json_decref(objs[i]);
    return rc;
}
