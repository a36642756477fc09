/* libkreconcile-testserver — PATCH: merge, JSON and strategic patches
 * through the library's patch engine, and server-side apply with field
 * ownership (ssa.c): create when absent, else merge, prune and conflicts
 * as kube-apiserver's field manager. Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>

#include "kreconcile/patch.h"
#include "testserver/ts_internal.h"

static const char *accepted_types(const ts_resource *res)
{
    return res->crd ? "application/json-patch+json, application/merge-patch+json, "
                      "application/apply-patch+yaml"
                    : "application/json-patch+json, application/merge-patch+json, "
                      "application/apply-patch+yaml, application/strategic-merge-patch+json";
}

static kr_patch_format patch_format(const ts_request *req, const ts_resource *res,
                                    ts_response *resp)
{
    kr_patch_format f = kr_patch_format_from_content_type(req->content_type);
    if (f == 0 || (f == KR_PATCH_STRATEGIC && res->crd)) {
        ts_respond_unsupported_media(resp, accepted_types(res));
        return 0;
    }
    return f;
}

static json_t *parse_patch(const ts_request *req, kr_patch_format f, ts_response *resp)
{
    /* a JSON or strategic merge patch is unmarshalled into a Go slice or
     * map: any JSON value decodes, null as nothing to do */
    bool any = f == KR_PATCH_JSON || f == KR_PATCH_STRATEGIC;
    json_t *doc = ts_decode_body(req, any || f == KR_PATCH_MERGE ? JSON_DECODE_ANY : 0,
                                 f == KR_PATCH_APPLY, "error decoding patch", resp);
    if (!doc)
        return NULL;
    if (any && json_is_null(doc)) {
        json_decref(doc);
        doc = f == KR_PATCH_JSON ? json_array() : json_object();
        if (!doc) {
            ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
            return NULL;
        }
    }
    bool shape_ok = f == KR_PATCH_JSON ? json_is_array(doc) : json_is_object(doc);
    if (!shape_ok && f == KR_PATCH_STRATEGIC) { /* json.Unmarshal's into the patch map */
        const char *type = json_is_array(doc)    ? "array"
                           : json_is_string(doc) ? "string"
                           : json_is_number(doc) ? "number"
                                                 : "bool";
        json_decref(doc);
        ts_respond_bad_request(
            resp, "json: cannot unmarshal %s into Go value of type map[string]interface {}", type);
        return NULL;
    }
    if (!shape_ok && f == KR_PATCH_JSON) { /* jsonpatch.DecodePatch's unmarshal error */
        const char *type = json_is_object(doc)   ? "object"
                           : json_is_string(doc) ? "string"
                           : json_is_number(doc) ? "number"
                                                 : "bool";
        json_decref(doc);
        ts_respond_bad_request(
            resp, "json: cannot unmarshal %s into Go value of type jsonpatch.Patch", type);
        return NULL;
    }
    if (!shape_ok && f == KR_PATCH_MERGE && !json_is_null(doc) &&
        (ts_field_validation_of(req) != TS_FV_IGNORE || !json_is_array(doc))) {
        /* Warn and Strict unmarshal the patch into a map first; under
         * Ignore json-patch's MergePatch takes no scalar */
        const char *type = json_is_array(doc)    ? "array"
                           : json_is_string(doc) ? "string"
                           : json_is_number(doc) ? "number"
                                                 : "bool";
        json_decref(doc);
        if (ts_field_validation_of(req) == TS_FV_IGNORE)
            ts_respond_bad_request(resp, "Invalid JSON Patch");
        else
            ts_respond_bad_request(resp,
                                   "error decoding patch: json: cannot unmarshal %s into Go value "
                                   "of type map[string]interface {}",
                                   type);
        return NULL;
    }
    if (!shape_ok && f == KR_PATCH_MERGE && json_is_null(doc)) {
        /* json-patch's MergePatch: a null patch is ErrBadJSONPatch */
        json_decref(doc);
        ts_respond_bad_request(resp, "Invalid JSON Patch");
        return NULL;
    }
    if (!shape_ok) {
        json_decref(doc);
        ts_respond_bad_request(resp, "patch must be a JSON object");
        return NULL;
    }
    if (f != KR_PATCH_JSON)
        return doc;
    /* As the apiserver decodes a JSON patch: an operation that is no object
     * is a 400, too many operations a 413; what an operation says is
     * checked as it is applied (422). */
    size_t i;
    json_t *op;
    json_array_foreach(doc, i, op)
    {
        if (!json_is_object(op) && !json_is_null(op)) { /* null decodes as an empty op */
            const char *type = json_is_array(op)    ? "array"
                               : json_is_string(op) ? "string"
                               : json_is_number(op) ? "number"
                                                    : "bool";
            ts_respond_bad_request(resp,
                                   "json: cannot unmarshal %s into Go value of type "
                                   "jsonpatch.Operation",
                                   type);
            json_decref(doc);
            return NULL;
        }
    }
    if (json_array_size(doc) > 10000) {
        char message[128];
        snprintf(message, sizeof(message),
                 "Request entity too large: The allowed maximum operations in a JSON patch is "
                 "10000, got %zu",
                 json_array_size(doc));
        json_decref(doc);
        ts_respond_status(resp, 413, "RequestEntityTooLarge", message, NULL);
        return NULL;
    }
    return doc;
}

static void respond_patch_failed(ts_response *resp, const ts_resource *res, const char *name,
                                 bool json, int rc, const kr_error_t *err)
{
    if (rc == KR_ENOMEM) {
        ts_respond_status(resp, 500, "InternalError", "Internal error occurred: out of memory",
                          NULL);
        return;
    }
    (void)res;
    (void)name;
    /* As the apiserver: a malformed merge or strategic patch is a 400; one
     * that does not apply is a 422. A JSON patch operation that fails is
     * NewGenericServerResponse(422): its fixed message and empty details,
     * whatever went wrong (the client learns no more from kube-apiserver). */
    if (rc == KR_EPARSE && !json)
        ts_respond_bad_request(resp, "%s", err->message);
    else if (json)
        ts_respond_status(resp, 422, "Invalid",
                          "the server rejected our request due to an error in our request",
                          json_object());
    else
        ts_respond_status(resp, 422, "Invalid", err->message, NULL);
}

/* Apply `patch` to `existing` in format f; new ref or NULL after filling resp. */
static json_t *apply_patch(const ts_resource *res, const char *name, kr_patch_format f,
                           const json_t *existing, const json_t *patch, ts_response *resp)
{
    kr_error_t err = {0};
    json_t *out = NULL;
    int rc;
    if (f == KR_PATCH_JSON) {
        rc = kr_patch_json_apply_as_apiserver(existing, patch, &out, &err);
    } else if (f == KR_PATCH_MERGE || res->crd) {
        rc = kr_patch_merge_apply(existing, patch, &out, &err);
    } else {
        char *av = ts_api_version(res);
        const kr_patch_meta_t *meta =
            av ? kr_patch_schema_find(kr_patch_schema_builtin(), av, res->kind) : NULL;
        kr_free(av);
        rc = kr_patch_strategic_apply(meta, existing, patch, &out, &err);
    }
    if (rc != 0) {
        respond_patch_failed(resp, res, name, f == KR_PATCH_JSON, rc, &err);
        return NULL;
    }
    if (!json_is_object(out)) {
        json_decref(out);
        ts_respond_bad_request(resp, "the patch turned the object into a non-object");
        return NULL;
    }
    return out;
}

/* metadata.resourceVersion in a merge or strategic patch is a precondition. */
static bool patch_rv_stale(kr_patch_format f, const json_t *patch, const json_t *existing)
{
    if (f == KR_PATCH_JSON)
        return false;
    const char *want =
        json_string_value(json_object_get(json_object_get(patch, "metadata"), "resourceVersion"));
    const char *have = ts_meta_str(existing, "resourceVersion");
    return want && !(have && strcmp(want, have) == 0);
}

static void respond_patch_conflict(const ts_route *rt, ts_response *resp)
{
    ts_respond_conflict(resp, rt->res, rt->name,
                        "the object has been modified; please apply your changes to the latest "
                        "version and try again");
}

static int check_patch_rv(const ts_route *rt, kr_patch_format f, const json_t *patch,
                          const json_t *existing, ts_response *resp)
{
    if (!patch_rv_stale(f, patch, existing))
        return 0;
    respond_patch_conflict(rt, resp);
    return -1;
}

static int check_result(const ts_route *rt, json_t *obj, ts_response *resp)
{
    if (ts_check_kind(rt->res, obj, resp) != 0 || ts_check_name(rt, obj, resp) != 0)
        return -1;
    return ts_check_namespace(rt, obj, resp);
}

/* The field manager's first check: the configuration is of the
 * endpoint's group and version (a missing apiVersion is "", refused). */
static int check_apply_version(const ts_resource *res, const json_t *config, ts_response *resp)
{
    char *av = ts_api_version(res);
    if (!av) {
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        return -1;
    }
    const char *given = json_string_value(json_object_get(config, "apiVersion"));
    int rc = 0;
    if (!given || strcmp(given, av) != 0) {
        ts_respond_bad_request(resp,
                               "Incorrect version specified in apply patch. Specified patch "
                               "version: %s, expected: %s",
                               given ? given : "", av);
        rc = -1;
    }
    kr_free(av);
    return rc;
}

/* After the field manager applied it, Warn and Strict read a server-side
 * apply's configuration again with go-yaml's strict reading: its keys twice
 * are a 400 under Strict (under Warn the multi-line warning is one
 * kube-apiserver's recorder drops). Nonzero when answered. */
static int apply_strict_yaml(const ts_request *req, ts_response *resp)
{
    if (ts_field_validation_of(req) != TS_FV_STRICT)
        return 0;
    char *yerr = NULL;
    if (ts_yaml_duplicates(req->body, req->body_len, &yerr) != 0) {
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        return -1;
    }
    if (!yerr)
        return 0;
    ts_respond_bad_request(resp, "error strict decoding YAML: error converting YAML to JSON: %s",
                           yerr);
    kr_free(yerr);
    return -1;
}

static void apply_create(kr_testserver_t *ts, const ts_write *w, json_t *config, ts_response *resp)
{
    if (w->rt->sub) {
        json_decref(config);
        ts_respond_not_found(resp, w->rt->res, w->rt->name);
        return;
    }
    if (apply_strict_yaml(w->req, resp) != 0 || check_result(w->rt, config, resp) != 0) {
        json_decref(config);
        return;
    }
    ts_write create = *w;
    create.applied = json_deep_copy(config); /* commit_create fills in config */
    if (create.applied && ts_schema_decode(&create, config, resp) != 0)
        json_decref(config);
    else
        ts_commit_create(ts, &create, config, resp);
    json_decref((json_t *)create.applied);
}

/* The live object with the configuration applied and the managedFields
 * that come of it (ssa.c); NULL with the answer (a conflict) in resp. */
static json_t *server_side_apply(const ts_request *req, const ts_route *rt, const json_t *existing,
                                 const json_t *config, json_t **managed, ts_response *resp)
{
    char *av = ts_api_version(rt->res);
    json_t *out = NULL;
    int rc = av ? ts_ssa_apply(rt->res, existing, config, ts_query(req, "fieldManager"), rt->sub,
                               ts_query_bool(req, "force") == 1, av, &out, managed, resp)
                : KR_ENOMEM;
    kr_free(av);
    if (rc == KR_ENOMEM)
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
    return rc == 0 ? out : NULL;
}

void ts_handle_patch(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                     ts_response *resp)
{
    ts_write w = {.req = req, .rt = rt, .status_only = rt->sub != NULL};
    kr_patch_format f = patch_format(req, rt->res, resp);
    if (f == 0 || ts_write_options(req, resp, f == KR_PATCH_APPLY ? TS_OPTS_APPLY : TS_OPTS_PATCH,
                                   &w.dry_run) != 0)
        return;
    json_t *patch = parse_patch(req, f, resp);
    if (!patch)
        return;
    /* Warn and Strict unmarshal a merge or strategic merge patch into a
     * map strictly first: its keys twice are strict decoding errors (the
     * last value winning), listed before the patched object's */
    json_t *dups = NULL;
    if ((f == KR_PATCH_MERGE || f == KR_PATCH_STRATEGIC) &&
        ts_field_validation_of(req) != TS_FV_IGNORE &&
        ts_body_duplicates(req, false, &patch, &dups) != 0) {
        json_decref(patch);
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        return;
    }
    /* and a JSON patch into its operations: their keys twice and the keys
     * an operation does not have, listed before the patched object's */
    json_t *ops_strict = NULL;
    if (f == KR_PATCH_JSON && ts_field_validation_of(req) != TS_FV_IGNORE &&
        ts_json_patch_strict(req, &patch, &ops_strict) != 0) {
        json_decref(patch);
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        return;
    }
    w.dups = dups;
    w.strict_first = ops_strict;
    if (f == KR_PATCH_STRATEGIC)
        w.patch = patch;
    if (f == KR_PATCH_APPLY) {
        w.operation = "Apply";
        w.applied = patch;
        if (check_apply_version(rt->res, patch, resp) != 0 ||
            ts_schema_check_apply(&w, patch, resp) != 0) {
            json_decref(patch);
            json_decref(dups);
            json_decref(ops_strict);
            return;
        }
    }
    if (f == KR_PATCH_APPLY &&
        json_object_get(json_object_get(patch, "metadata"), "managedFields")) {
        json_decref(patch);
        json_decref(dups);
        json_decref(ops_strict);
        ts_respond_bad_request(resp, "metadata.managedFields must be nil");
        return;
    }
    ts_obj *cur = ts_store_get(rt->res->store, rt->ns ? rt->ns : "", rt->name);
    if (!cur && f == KR_PATCH_APPLY) {
        apply_create(ts, &w, patch, resp);
        return;
    }
    if (!cur) {
        json_decref(patch);
        json_decref(dups);
        json_decref(ops_strict);
        ts_respond_not_found(resp, rt->res, rt->name);
        return;
    }
    json_t *existing = ts_as_served(rt->res, cur->obj);
    if (!existing) {
        json_decref(patch);
        json_decref(dups);
        json_decref(ops_strict);
        ts_respond_status(resp, 500, "InternalError", "out of memory", NULL);
        return;
    }
    json_t *out = NULL, *managed = NULL;
    if (f == KR_PATCH_APPLY) {
        if (check_patch_rv(rt, f, patch, existing, resp) == 0) {
            out = server_side_apply(req, rt, existing, patch, &managed, resp);
            if (out && apply_strict_yaml(req, resp) != 0) {
                json_decref(out);
                out = NULL;
            }
        }
    } else if ((out = apply_patch(rt->res, rt->name, f, existing, patch, resp)) &&
               patch_rv_stale(f, patch, existing)) {
        /* a stale resourceVersion is the storage's conflict, met after the
         * patch was applied and decoded: the strict decoding errors (under
         * Strict the patch's 422) come first */
        if (ts_schema_strict(&w, out, out, resp) == 0)
            respond_patch_conflict(rt, resp);
        json_decref(out);
        out = NULL;
    }
    w.managed = managed;
    if (out && check_result(rt, out, resp) == 0 && ts_schema_decode(&w, out, resp) == 0)
        ts_commit_update(ts, &w, existing, out, resp);
    else
        json_decref(out);
    json_decref(managed);
    json_decref(patch); /* after the commit: w.applied points into it */
    json_decref(dups);
    json_decref(ops_strict);
    json_decref(existing);
}

json_t *ts_patch_document(const ts_request *req, const ts_resource *res, const char *name,
                          const json_t *existing, bool force_merge, ts_response *resp)
{
    kr_patch_format f = patch_format(req, res, resp);
    if (f == 0)
        return NULL;
    if (f == KR_PATCH_APPLY) {
        ts_respond_unsupported_media(resp, "application/json-patch+json, "
                                           "application/merge-patch+json, "
                                           "application/strategic-merge-patch+json");
        return NULL;
    }
    json_t *patch = parse_patch(req, f, resp);
    if (!patch)
        return NULL;
    if (force_merge && f == KR_PATCH_STRATEGIC)
        f = KR_PATCH_MERGE;
    json_t *out = apply_patch(res, name, f, existing, patch, resp);
    json_decref(patch);
    return out;
}
