/* libkreconcile-testserver — the transport-free request handler: routes a
 * request (method, path, query, headers, body) to discovery, admin or a
 * resource verb, after authentication, fault injection and content
 * negotiation. Used by the HTTP transport and, directly, by the fuzzer. */
#include <string.h>
#include <strings.h>

#include "testserver/ts_internal.h"

const char *ts_query(const ts_request *req, const char *key)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].key, key) == 0)
            return req->query[i].value;
    return NULL;
}

static bool accepts_json(const char *accept)
{
    if (!accept || !*accept)
        return true;
    const char *p = accept;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (ts_accept_entry(p, len, NULL) == 0)
            return true;
        if (!comma)
            return false;
        p = comma + 1;
    }
}

/* Whether the first entry of `accept` the server can serve asks for YAML,
 * which kube-apiserver serves for everything but watches. */
static bool wants_yaml(const char *accept)
{
    for (const char *p = accept; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *e = p;
        size_t type_len = ts_accept_type(&e, &len);
        if (type_len == 16 && strncasecmp(e, "application/yaml", 16) == 0)
            return true;
        if (ts_accept_entry(p, comma ? (size_t)(comma - p) : strlen(p), NULL) == 0)
            return false;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

/* The JSON body of `resp` as YAML (kubectl's text of it); a body that is
 * not JSON stays as it is. */
static void answer_as_yaml(ts_response *resp)
{
    json_t *doc = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    char *text = doc ? ts_yaml_dump(doc) : NULL;
    if (text) {
        kr_free(resp->body);
        resp->body = text;
        resp->body_len = strlen(text);
        resp->content_type = "application/yaml";
    }
    json_decref(doc);
}

/* What a watch, and anything else, can be answered in. */
static void respond_not_acceptable(ts_response *resp, bool watch)
{
    ts_respond_status(resp, 406, "NotAcceptable",
                      watch ? "only the following media types are accepted: application/json"
                            : "only the following media types are accepted: application/json, "
                              "application/yaml",
                      NULL);
}

/* ---- routing --------------------------------------------------------------------- */

#define MAX_SEGS 8

static size_t split_path(char *path, char **segs)
{
    size_t n = 0;
    char *save = NULL;
    for (char *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGS)
            return MAX_SEGS + 1;
        segs[n++] = s;
    }
    return n;
}

static bool route_rest(kr_testserver_t *ts, const char *group, const char *version, char **seg,
                       size_t n, ts_route *rt)
{
    if (n >= 1 && strcmp(seg[0], "watch") == 0) {
        rt->legacy_watch = true;
        seg++;
        n--;
    }
    if (n >= 3 && strcmp(seg[0], "namespaces") == 0) {
        ts_resource *r = ts_resource_find(ts, group, version, seg[2]);
        if (r && r->namespaced && n <= 5) {
            rt->res = r;
            rt->ns = seg[1];
            rt->name = n >= 4 ? seg[3] : NULL;
            rt->sub = n == 5 ? seg[4] : NULL;
            return true;
        }
    }
    if (n < 1 || n > 3)
        return false;
    ts_resource *r = ts_resource_find(ts, group, version, seg[0]);
    if (!r || (r->namespaced && n > 1))
        return false;
    rt->res = r;
    rt->name = n >= 2 ? seg[1] : NULL;
    rt->sub = n == 3 ? seg[2] : NULL;
    return true;
}

static bool route(kr_testserver_t *ts, const char *path, ts_route *rt)
{
    memset(rt, 0, sizeof(*rt));
    rt->buf = kr_strdup(path);
    if (!rt->buf)
        return false;
    char *seg[MAX_SEGS + 1];
    size_t n = split_path(rt->buf, seg);
    if (n > MAX_SEGS)
        return false;
    if (n >= 3 && strcmp(seg[0], "api") == 0)
        return route_rest(ts, "", seg[1], seg + 2, n - 2, rt);
    if (n >= 4 && strcmp(seg[0], "apis") == 0)
        return route_rest(ts, seg[1], seg[2], seg + 3, n - 3, rt);
    return false;
}

static void respond_method_not_allowed(ts_response *resp, const ts_resource *res, const char *verb)
{
    char *q = ts_qualified(res);
    char *msg = kr_asprintf("%s is not supported on resources of kind \"%s\"", verb, q ? q : "");
    ts_respond_status(resp, 405, "MethodNotAllowed", msg, ts_details(res, NULL, false));
    kr_free(msg);
    kr_free(q);
}

static void dispatch_get(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                         ts_response *resp)
{
    if (rt->name && !rt->legacy_watch) {
        ts_handle_get(ts, req, rt, resp);
        return;
    }
    int watch = ts_query_bool(req, "watch");
    /* the deprecated /watch/.../NAME watches that object alone; no
     * subresource is watched */
    if (rt->legacy_watch && rt->sub) {
        ts_respond_not_found_path(resp);
        return;
    }
    if (watch || rt->legacy_watch)
        ts_handle_watch(ts, req, rt, resp);
    else
        ts_handle_list(ts, req, rt, resp);
}

/* Whether a pod (spec) has a container of that name, and the names of
 * its containers when the request must choose one. */
static bool pod_has_container(const json_t *spec, const char *name)
{
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers"};
    for (size_t l = 0; l < 3; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            const char *n = json_string_value(json_object_get(c, "name"));
            if (n && strcmp(n, name) == 0)
                return true;
        }
    }
    return false;
}

/* The container a pod subresource names (?container=), checked as the
 * apiserver checks it: false with resp answered (400) when it names none
 * of the pod's, or names none and the pod has several. */
static bool pod_container(const ts_request *req, const ts_route *rt, const json_t *spec,
                          ts_response *resp)
{
    const json_t *containers = json_object_get(spec, "containers");
    const char *container = ts_query(req, "container");
    if (container && *container && !pod_has_container(spec, container)) {
        ts_respond_bad_request(resp, "container %s is not valid for pod %s", container, rt->name);
        return false;
    }
    if ((!container || !*container) && json_array_size(containers) != 1) {
        kr_buf names = {0};
        size_t i;
        json_t *c;
        json_array_foreach(containers, i, c)
        {
            const char *n = json_string_value(json_object_get(c, "name"));
            kr_buf_printf(&names, "%s%s", i ? " " : "", n ? n : "");
        }
        ts_respond_bad_request(resp,
                               "a container name must be specified for pod %s, choose one of: [%s]",
                               rt->name, names.data ? names.data : "");
        kr_buf_free(&names);
        return false;
    }
    return true;
}

/* GET pods/NAME/log (wire spec §7.4): the container is checked as the
 * apiserver checks it; the log itself is empty, as there is no kubelet to
 * read it from (an unscheduled pod's log is empty on a real cluster too). */
static void handle_pod_log(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                           ts_response *resp)
{
    (void)ts; /* the signature of the handler table below */
    ts_obj *pod = ts_store_get(rt->res->store, rt->ns, rt->name);
    if (!pod) {
        ts_respond_not_found(resp, rt->res, rt->name);
        return;
    }
    if (!pod_container(req, rt, json_object_get(pod->obj, "spec"), resp))
        return;
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = kr_strdup("");
    resp->body_len = 0;
}

/* GET or POST pods/NAME/exec, attach and portforward (wire spec §7.4):
 * the options and the pod are checked as the apiserver checks them before
 * it dials the pod's kubelet; there is no kubelet to dial, so a pod that
 * has a node gets the error a cluster gives when its kubelet is gone. */
static void handle_pod_stream(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                              ts_response *resp)
{
    (void)ts;
    bool exec = strcmp(rt->sub, "exec") == 0, forward = strcmp(rt->sub, "portforward") == 0;
    if (exec && !ts_query(req, "command")) {
        ts_respond_bad_request(resp, "you must specify at least 1 command");
        return;
    }
    if (!forward && ts_query_bool(req, "stdin") != 1 && ts_query_bool(req, "stdout") != 1 &&
        ts_query_bool(req, "stderr") != 1) {
        ts_respond_bad_request(resp, "you must specify at least 1 of stdin, stdout, stderr");
        return;
    }
    ts_obj *pod = ts_store_get(rt->res->store, rt->ns, rt->name);
    if (!pod) {
        ts_respond_not_found(resp, rt->res, rt->name);
        return;
    }
    const json_t *spec = json_object_get(pod->obj, "spec");
    if (!forward && !pod_container(req, rt, spec, resp))
        return;
    const char *node = json_string_value(json_object_get(spec, "nodeName"));
    if (!node || !*node) {
        ts_respond_bad_request(resp, "pod %s does not have a host assigned", rt->name);
        return;
    }
    char *msg = kr_asprintf("error dialing backend: node %s has no kubelet (kr-apiserver runs "
                            "no nodes)",
                            node);
    ts_respond_status(resp, 500, "InternalError", msg ? msg : "error dialing backend", NULL);
    kr_free(msg);
}

/* The core subresources besides status and scale, each with its one
 * method (discovery.c lists them). */
static const struct {
    const char *plural, *sub, *methods; /* space-separated */
    void (*fn)(kr_testserver_t *ts, const ts_request *req, const ts_route *rt, ts_response *resp);
} CORE_SUBS[] = {
    {"pods", "log", "GET", handle_pod_log},
    {"pods", "exec", "GET POST", handle_pod_stream},
    {"pods", "attach", "GET POST", handle_pod_stream},
    {"pods", "portforward", "GET POST", handle_pod_stream},
    {"pods", "eviction", "POST", ts_handle_eviction},
    {"pods", "binding", "POST", ts_handle_pod_binding},
    {"serviceaccounts", "token", "POST", ts_handle_token_request},
    {"namespaces", "finalize", "PUT", ts_handle_update},
};

bool ts_route_connects(const ts_route *rt)
{
    for (size_t i = 0; rt->sub && i < sizeof(CORE_SUBS) / sizeof(CORE_SUBS[0]); i++) {
        if (CORE_SUBS[i].fn == handle_pod_stream && strcmp(rt->sub, CORE_SUBS[i].sub) == 0 &&
            ts_resource_is(rt->res, "", CORE_SUBS[i].plural))
            return true;
    }
    return false;
}

static bool method_listed(const char *methods, const char *m)
{
    size_t len = strlen(m);
    for (const char *p = methods; *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && strncmp(p, m, n) == 0)
            return true;
        p += n + (p[n] == ' ');
    }
    return false;
}

static void respond_sub_not_allowed(ts_response *resp)
{
    ts_respond_status(resp, 405, "MethodNotAllowed",
                      "the server does not allow this method on the requested resource", NULL);
}

static void dispatch(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                     ts_response *resp)
{
    const char *m = req->method;
    for (size_t i = 0; rt->sub && i < sizeof(CORE_SUBS) / sizeof(CORE_SUBS[0]); i++) {
        if (rt->legacy_watch || strcmp(rt->sub, CORE_SUBS[i].sub) != 0 ||
            !ts_resource_is(rt->res, "", CORE_SUBS[i].plural))
            continue;
        if (method_listed(CORE_SUBS[i].methods, m))
            CORE_SUBS[i].fn(ts, req, rt, resp);
        else
            respond_sub_not_allowed(resp);
        return;
    }
    if (rt->sub && strcmp(rt->sub, "scale") == 0 && rt->res->scale_spec_path && !rt->legacy_watch) {
        if (strcmp(m, "GET") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0)
            ts_handle_scale(ts, req, rt, resp);
        else
            respond_sub_not_allowed(resp);
        return;
    }
    bool ephemeral = rt->sub && strcmp(rt->sub, "ephemeralcontainers") == 0 &&
                     ts_resource_is(rt->res, "", "pods");
    if (ephemeral && strcmp(m, "GET") != 0 && strcmp(m, "PUT") != 0 && strcmp(m, "PATCH") != 0) {
        respond_sub_not_allowed(resp);
        return;
    }
    if (rt->sub && !(strcmp(rt->sub, "status") == 0 && rt->res->has_status) &&
        !(strcmp(rt->sub, "approval") == 0 && ts_csr_is(rt->res)) && !ephemeral) {
        ts_respond_not_found_path(resp);
        return;
    }
    if (strcmp(m, "GET") == 0)
        dispatch_get(ts, req, rt, resp);
    else if (strcmp(m, "POST") == 0 && !rt->name && !rt->legacy_watch)
        ts_handle_create(ts, req, rt, resp);
    else if (strcmp(m, "PUT") == 0 && rt->name && !rt->legacy_watch)
        ts_handle_update(ts, req, rt, resp);
    else if (strcmp(m, "PATCH") == 0 && rt->name && !rt->legacy_watch)
        ts_handle_patch(ts, req, rt, resp);
    else if (strcmp(m, "DELETE") == 0 && rt->name && !rt->sub && !rt->legacy_watch)
        ts_handle_delete(ts, req, rt, resp);
    else if (strcmp(m, "DELETE") == 0 && !rt->name && !rt->res->no_deletecollection &&
             !rt->legacy_watch)
        ts_handle_deletecollection(ts, req, rt, resp);
    else
        respond_method_not_allowed(resp, rt->res, m);
}

const char *ts_verb_of(const ts_request *req, const ts_route *rt)
{
    const char *m = req->method;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) { /* as kube's request info */
        if (rt->legacy_watch || (!rt->name && ts_query_bool(req, "watch") == 1))
            return "watch";
        return rt->name ? "get" : "list";
    }
    if (strcmp(m, "POST") == 0)
        return "create";
    if (strcmp(m, "PUT") == 0)
        return "update";
    if (strcmp(m, "PATCH") == 0)
        return "patch";
    if (strcmp(m, "DELETE") == 0)
        return rt->name ? "delete" : "deletecollection";
    return m;
}

static bool public_path(const char *path)
{
    return strcmp(path, "/version") == 0 || strcmp(path, "/version/") == 0 ||
           strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0 ||
           strcmp(path, "/readyz") == 0;
}

/* Whether kube-apiserver's go-restful container takes `path` (its
 * director's prefix match on a web service's root: /api, a built-in
 * group's /apis/<group>), whose 404 is a Status; every other unknown path
 * (a custom resource group's, an unknown group's, one outside the API)
 * ends at the delegation chain's http.NotFound. */
static bool restful_path(const kr_testserver_t *ts, const char *path)
{
    if (strcmp(path, "/api") == 0 || strncmp(path, "/api/", 5) == 0)
        return true;
    if (strncmp(path, "/apis/", 6) != 0)
        return false;
    const char *group = path + 6;
    size_t len = strcspn(group, "/");
    for (size_t i = 0; len && i < ts->nresources; i++) {
        const ts_resource *r = ts->resources[i];
        if (!r->crd && strlen(r->group) == len && strncmp(r->group, group, len) == 0)
            return true;
    }
    return false;
}

/* Go's http.NotFound (http.Error's text, type and nosniff). */
static void respond_page_not_found(ts_response *resp)
{
    static const char text[] = "404 page not found\n";
    ts_response_clear(resp);
    resp->status = 404;
    resp->content_type = "text/plain; charset=utf-8";
    resp->nosniff = true;
    resp->body = kr_strdup(text);
    resp->body_len = resp->body ? strlen(text) : 0;
}

static void handle_locked(kr_testserver_t *ts, const ts_request *req, ts_response *resp)
{
    bool admin = strncmp(req->path, "/_kr/", 5) == 0;
    ts_identity who;
    memset(&who, 0, sizeof(who));
    if (public_path(req->path)) {
        who.anonymous = true; /* as RBAC's system:public-info-viewer sees it */
        who.groups[who.ngroups++] = "system:unauthenticated";
    } else if (ts_authenticate(ts, req, resp, &who) != 0 ||
               ts_impersonate(ts, req, &who, resp) != 0) {
        return;
    }
    if (!admin && ts_fault_inject(ts, req, resp))
        return;
    if (req->body_too_large) {
        ts_respond_status(resp, 413, "RequestEntityTooLarge",
                          "Request entity too large: limit is 3145728", NULL);
        return;
    }
    if (admin) {
        if (!ts_handle_admin(ts, req, resp))
            ts_respond_not_found_path(resp);
        return;
    }
    ts_route rt;
    bool routed = route(ts, req->path, &rt);
    if (!routed && ts_authorize_path(ts, &who, req, resp) != 0) {
        kr_free(rt.buf);
        return;
    }
    if (!routed && strcmp(req->path, "/metrics") == 0) {
        if (strcmp(req->method, "GET") == 0)
            ts_respond_metrics(ts, resp);
        else
            ts_respond_status(resp, 405, "MethodNotAllowed",
                              "the server does not allow this method on the requested resource",
                              NULL);
        kr_free(rt.buf);
        return;
    }
    if (ts_handle_discovery(ts, req, resp)) {
        kr_free(rt.buf);
        return;
    }
    if (!routed) {
        kr_free(rt.buf);
        if (restful_path(ts, req->path))
            ts_respond_not_found_path(resp);
        else
            respond_page_not_found(resp);
        return;
    }
    const char *verb = ts_verb_of(req, &rt);
    ts_stats_count(ts, verb, &rt);
    ts_metrics_label(req, &rt, verb, resp);
    if (rt.res->review) {
        bool bindings = ts_resource_is(rt.res, "", "bindings");
        if (strcmp(req->method, "POST") == 0 && !rt.name && !rt.sub && !rt.legacy_watch) {
            if (bindings) {
                if (ts_authorize(ts, &who, "create", &rt, resp) == 0)
                    ts_handle_bindings_create(ts, req, &rt, resp);
            } else if (ts_review_is_self(rt.res) ||
                       ts_authorize(ts, &who, "create", &rt, resp) == 0)
                ts_handle_review(ts, req, &rt, &who, resp);
        } else if (rt.name || rt.sub || rt.legacy_watch)
            ts_respond_not_found_path(resp);
        else
            respond_method_not_allowed(resp, rt.res, req->method);
        kr_free(rt.buf);
        return;
    }
    bool partial = ts_partial_negotiate(req, &rt);
    ts_table *table = NULL;
    bool yaml = false;
    if (!partial && ts_table_negotiate(ts, req, &rt, &table, resp) != 0)
        ; /* answered: a bad includeObject */
    else if (!partial && !table && (yaml = wants_yaml(req->accept)) && strcmp(verb, "watch") == 0) {
        yaml = false; /* YAML has no stream form; the refusal is JSON */
        respond_not_acceptable(resp, true);
    } else if (!partial && !table && !yaml && !accepts_json(req->accept))
        respond_not_acceptable(resp, strcmp(verb, "watch") == 0);
    else if (ts_authorize(ts, &who, verb, &rt, resp) == 0) {
        rt.table = table;
        rt.who = &who;
        if (rt.res->deprecation) /* as apiextensions-apiserver warns of its version */
            ts_response_warn(resp, rt.res->deprecation);
        dispatch(ts, req, &rt, resp);
        ts_fault_after_write(ts, req, resp);
    }
    if (!partial && !table)
        ts_answer_as_served(rt.res, resp);
    if (partial)
        ts_partial_convert(req, &rt, resp);
    if (table && !resp->watch)
        ts_table_convert(table, &rt, resp);
    if (yaml && !resp->watch)
        answer_as_yaml(resp);
    if (!resp->watch || resp->watch->table != table) /* else the watch took it */
        ts_table_free(table);
    kr_free(rt.buf);
}

void ts_handle(kr_testserver_t *ts, const ts_request *in, ts_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    if (in->audit_id && *in->audit_id) {
        resp->audit_id = in->audit_id;
    } else {
        ts_audit_id_new(resp->audit_id_new);
        resp->audit_id = resp->audit_id_new;
    }
    ts_prebody pre;
    ts_request copy = *in;
    const ts_request *req = &copy;
    copy.pre = &pre;
    ts_prebody_parse(req, &pre);
    char received[TS_AUDIT_TIME_LEN] = "";
    if (ts->audit)
        ts_audit_now(received);
    ts_lock(ts);
    handle_locked(ts, req, resp);
    /* A write may have removed the last instance of a CRD being deleted;
     * its finalizing controller lets the CRD go now that nothing of this
     * request still uses the resources it served. */
    ts_crds_finalize(ts);
    ts_metrics_count(ts, req, resp);
    ts_unlock(ts);
    if (resp->status == 0)
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: no response", NULL);
    json_decref(pre.doc);
    ts_audit_record(ts, req, resp, received);
}
