/* kr-submitter — what a submission may contain: one namespaced manifest
 * (or a Runnable wrapping one), JSON or YAML, of a kind the target clusters
 * serve. Every refusal is a 400 or 422 with a message a user can act on,
 * decided before anything is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "submitter.h"

/* Fields the apiserver owns: never copied into a workload copy. */
static const char *const server_fields[] = {
    "resourceVersion", "uid",       "creationTimestamp", "managedFields",
    "generation",      "selfLink",  "deletionTimestamp", "deletionGracePeriodSeconds",
    "ownerReferences", "finalizers"};

static int check_manifest(const json_t *t, kr_error_t *err)
{
    if (!json_is_object(t))
        return sub_fail(err, 422, KR_EINVALIDOBJ, "the manifest is not an object");
    const char *kind = sub_str(t, "kind");
    if (!*kind)
        return sub_fail(err, 422, KR_EINVALIDOBJ, "the manifest has no kind");
    if (!*sub_str(t, "apiVersion"))
        return sub_fail(err, 422, KR_EINVALIDOBJ, "the manifest (kind %s) has no apiVersion", kind);
    size_t kl = strlen(kind);
    if (kl > 4 && strcmp(kind + kl - 4, "List") == 0)
        return sub_fail(err, 422, KR_EINVALIDOBJ, "a %s is not one manifest: submit one object",
                        kind);
    /* its name, if any, is not the copies': they are named
     * <runnable>-<attempt> (check_named says when the Runnable needs it) */
    return 0;
}

/* Something must name the Runnable: its own name or generateName (the
 * `given` metadata of a body that is a Runnable, `wrapped`), the
 * idempotency key, else the manifest's name, from which the hub
 * generates one. */
static int check_named(bool wrapped, const json_t *given, const json_t *t, const char *key,
                       kr_error_t *err)
{
    if (*sub_str(given, "name") || *sub_str(given, "generateName") || (key && *key) ||
        *sub_str(t, "metadata.name"))
        return 0;
    if (!wrapped)
        return sub_fail(err, 422, KR_EINVALIDOBJ,
                        "the manifest (kind %s) has no metadata.name: give one, an idempotency "
                        "key, or submit a Runnable with a name or generateName",
                        sub_str(t, "kind"));
    return sub_fail(err, 422, KR_EINVALIDOBJ,
                    "the Runnable has no metadata.name or generateName, nor its template a "
                    "metadata.name to generate one from: give one");
}

static bool configured(const submission_opts *o, const char *name)
{
    for (size_t i = 0; i < o->n_clusters; i++) {
        if (strcmp(o->clusters[i], name) == 0)
            return true;
    }
    return false;
}

bool submission_clusters_gap(const char *list)
{
    size_t n = strlen(list);
    return n > 0 && (list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,"));
}

/* spec.clusters from "a,b" (the request) or the body's; each configured. */
static int pick_clusters(const submission_opts *o, json_t *spec, kr_error_t *err)
{
    /* an empty name would be dropped: "," would read as every cluster */
    if (o->clusters_arg && submission_clusters_gap(o->clusters_arg))
        return sub_fail(err, 422, KR_EINVALIDOBJ,
                        "clusters \"%.200s\" names an empty cluster: name each one, "
                        "comma-separated",
                        o->clusters_arg);
    if (o->clusters_arg && *o->clusters_arg) {
        json_t *list = json_array();
        const char *p = o->clusters_arg;
        while (list && *p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            if (len > 0)
                json_array_append_new(list, json_stringn(p, len));
            p += len + (comma ? 1 : 0);
        }
        if (!list)
            return sub_fail(err, 500, KR_ENOMEM, "out of memory");
        /* a body that names its clusters too must name the same */
        const json_t *given = json_object_get(spec, "clusters");
        if (json_array_size(given) > 0 && !json_equal(list, (json_t *)given)) {
            json_decref(list);
            return sub_fail(err, 422, KR_EINVALIDOBJ,
                            "clusters %.200s (the query) are not the body's spec.clusters: give "
                            "one",
                            o->clusters_arg);
        }
        if (json_object_set_new(spec, "clusters", list) != 0)
            return sub_fail(err, 500, KR_ENOMEM, "out of memory");
    }
    json_t *list = json_object_get(spec, "clusters");
    if (list && !json_is_array(list))
        return sub_fail(err, 422, KR_EINVALIDOBJ, "spec.clusters must be a list of names");
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        if (!json_is_string(c) || !configured(o, json_string_value(c)))
            return sub_fail(err, 422, KR_EINVALIDOBJ, "unknown cluster %s (spec.clusters[%zu])",
                            json_is_string(c) ? json_string_value(c) : "(not a string)", i);
        /* a name twice would make a failover go back to the cluster it left */
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(list, j), c))
                return sub_fail(err, 422, KR_EINVALIDOBJ,
                                "cluster %s is named twice (spec.clusters[%zu] and [%zu])",
                                json_string_value(c), j, i);
    }
    return 0;
}

static int check_policy(const json_t *spec, kr_error_t *err)
{
    const json_t *fp = json_object_get(spec, "failoverPolicy");
    if (fp && (!json_is_string(fp) || (strcmp(json_string_value(fp), "Never") != 0 &&
                                       strcmp(json_string_value(fp), "IfNotStarted") != 0)))
        return sub_fail(err, 422, KR_EINVALIDOBJ,
                        "spec.failoverPolicy must be Never or IfNotStarted");
    const json_t *ap = json_object_get(spec, "approval");
    if (ap && !json_is_object(ap))
        return sub_fail(err, 422, KR_EINVALIDOBJ, "spec.approval must be {required, group}");
    const json_t *req = json_object_get(ap, "required");
    if (req && (!json_is_integer(req) || json_integer_value(req) < 0 ||
                json_integer_value(req) > SUB_MAX_APPROVALS))
        return sub_fail(err, 422, KR_EINVALIDOBJ,
                        "spec.approval.required must be a whole number from 0 to %d",
                        SUB_MAX_APPROVALS);
    const json_t *group = json_object_get(ap, "group");
    if (group && !json_is_string(group))
        return sub_fail(err, 422, KR_EINVALIDOBJ, "spec.approval.group must be a string");
    return 0;
}

/* Every target cluster that answers must serve the kind, namespaced. */
static int check_kind(const submission_opts *o, const json_t *spec, const json_t *t,
                      kr_error_t *err)
{
    if (!o->kind)
        return 0;
    const char *av = sub_str(t, "apiVersion"), *kind = sub_str(t, "kind");
    const json_t *list = json_object_get(spec, "clusters");
    size_t n = json_array_size(list) ? json_array_size(list) : o->n_clusters;
    for (size_t i = 0; i < n; i++) {
        const char *cl =
            json_array_size(list) ? json_string_value(json_array_get(list, i)) : o->clusters[i];
        bool namespaced = true;
        int rc = o->kind(cl, av, kind, &namespaced, o->kind_user);
        if (rc == KR_ENOTFOUND)
            return sub_fail(err, 422, KR_EINVALIDOBJ, "cluster %s does not serve %s, Kind=%s", cl,
                            av, kind);
        if (rc == 0 && !namespaced)
            return sub_fail(err, 422, KR_EINVALIDOBJ,
                            "%s is cluster-scoped: a Runnable runs namespaced kinds only", kind);
    }
    return 0;
}

/* The body as one JSON document. */
static int parse_body(const char *body, size_t len, json_t **doc, kr_error_t *err)
{
    *doc = NULL;
    if (len > SUB_MAX_BODY)
        return sub_fail(err, 400, KR_ETOOLARGE,
                        "the request body is %zu bytes; a submission holds at most %d", len,
                        SUB_MAX_BODY);
    if (!body || len == 0)
        return sub_fail(err, 400, KR_EPARSE, "empty body: send a manifest or a Runnable");
    /* JSON (what the API's clients send) is YAML too: parsed as JSON
     * first, a tenth of the YAML parser's work; anything else, or JSON
     * jansson refuses, goes to the YAML parser, which decides */
    size_t lead = 0;
    while (lead < len &&
           (body[lead] == ' ' || body[lead] == '\t' || body[lead] == '\r' || body[lead] == '\n'))
        lead++;
    json_error_t jerr = {.text = ""};
    if (lead < len && body[lead] == '{') {
        *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (json_is_object(*doc))
            return 0;
        json_decref(*doc);
        /* JSON but for a key given twice: refused, not handed to the YAML
         * parser, where the last one would win (a "kind" said twice) */
        *doc = json_loadb(body, len, 0, NULL);
        bool twice = *doc != NULL;
        json_decref(*doc);
        *doc = NULL;
        if (twice)
            return sub_fail(err, 400, KR_EPARSE, "the body is not valid JSON: %s (line %d)",
                            jerr.text, jerr.line);
    }
    json_t *docs = NULL;
    kr_error_t perr = {0};
    if (kr_yaml_parse_all(body, len, &docs, &perr) != 0) {
        if (*jerr.text) /* it looked like JSON: say what JSON found too */
            return sub_fail(err, 400, KR_EPARSE,
                            "the body is neither JSON (%s, line %d) nor YAML (%s)", jerr.text,
                            jerr.line, perr.message);
        return sub_fail(err, 400, KR_EPARSE, "the body is neither JSON nor YAML: %s", perr.message);
    }
    size_t n = json_array_size(docs);
    if (n != 1) {
        json_decref(docs);
        return sub_fail(err, 400, KR_EPARSE, "one manifest per submission (the body holds %zu)", n);
    }
    *doc = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    return 0;
}

/* Split the document into the Runnable's spec (new) and metadata
 * (borrowed); *wrapped: it is a Runnable, not a bare manifest. */
static int split_document(json_t *doc, json_t **spec, const json_t **md, bool *wrapped,
                          kr_error_t *err)
{
    *spec = NULL;
    *md = NULL;
    *wrapped = false;
    if (!json_is_object(doc))
        return sub_fail(err, 422, KR_EINVALIDOBJ, "the body is not an object");
    if (strcmp(sub_str(doc, "kind"), KR_RUNNABLE_KIND) != 0 ||
        strncmp(sub_str(doc, "apiVersion"), KR_PLATFORM_GROUP "/", strlen(KR_PLATFORM_GROUP) + 1) !=
            0) {
        *spec = json_pack("{s:O}", "template", doc);
        return *spec ? 0 : sub_fail(err, 500, KR_ENOMEM, "out of memory");
    }
    if (strcmp(sub_str(doc, "apiVersion"), SUB_API_VERSION) != 0)
        return sub_fail(err, 422, KR_EINVALIDOBJ, "a Runnable is %s, not %s", SUB_API_VERSION,
                        sub_str(doc, "apiVersion"));
    const json_t *s = json_object_get(doc, "spec");
    if (!json_is_object(s) || !json_object_get(s, "template"))
        return sub_fail(err, 422, KR_EINVALIDOBJ, "the Runnable has no spec.template");
    *spec = json_deep_copy(s);
    *md = json_object_get(doc, "metadata");
    *wrapped = true;
    return *spec ? 0 : sub_fail(err, 500, KR_ENOMEM, "out of memory");
}

static int name_runnable(json_t *md, const json_t *given, const json_t *t, const char *ns,
                         const char *key, kr_error_t *err)
{
    const char *name = sub_str(given, "name");
    if (*name && strlen(name) > SUB_MAX_NAME)
        return sub_fail(err, 422, KR_EINVALIDOBJ, "runnable name %s is longer than %d characters",
                        name, SUB_MAX_NAME);
    char buf[SUB_MAX_NAME + 8];
    if (*name)
        return json_object_set_new(md, "name", json_string(name)) == 0
                   ? 0
                   : sub_fail(err, 500, KR_ENOMEM, "out of memory");
    if (key && *key) {
        /* the key alone names it: the same key under another manifest
         * name meets the first's AlreadyExists, on any replica */
        if (idempotency_name(key, ns, key, buf) != 0)
            return sub_fail(err, 500, KR_ENOMEM, "out of memory");
        return json_object_set_new(md, "name", json_string(buf)) == 0
                   ? 0
                   : sub_fail(err, 500, KR_ENOMEM, "out of memory");
    }
    /* the Runnable's own generateName, else one from the manifest's name */
    const char *prefix = sub_str(given, "generateName");
    idempotency_base(*prefix ? prefix : sub_str(t, "metadata.name"), buf, sizeof(buf));
    return json_object_set_new(md, "generateName", json_string(buf)) == 0
               ? 0
               : sub_fail(err, 500, KR_ENOMEM, "out of memory");
}

static int build(json_t *doc, const submission_opts *o, json_t **out, kr_error_t *err)
{
    json_t *spec = NULL;
    const json_t *given_md = NULL;
    bool wrapped = false;
    int rc = split_document(doc, &spec, &given_md, &wrapped, err);
    if (rc != 0)
        return rc;
    json_t *t = json_object_get(spec, "template");
    json_t *tmd = json_object_get(t, "metadata");
    const char *ns =
        o->namespace_ && *o->namespace_ ? o->namespace_ : sub_str(given_md, "namespace");
    if (!*ns)
        ns = *sub_str(t, "metadata.namespace") ? sub_str(t, "metadata.namespace") : "default";
    const char *key = o->idempotency_key && *o->idempotency_key ? o->idempotency_key
                                                                : sub_str(spec, "idempotencyKey");
    /* a Runnable that names its namespace must be asked for there, as a
     * manifest's must and as kubectl refuses a namespace mismatch */
    if (o->namespace_ && *o->namespace_ && *sub_str(given_md, "namespace") &&
        strcmp(o->namespace_, sub_str(given_md, "namespace")) != 0) {
        rc = sub_fail(err, 422, KR_EINVALIDOBJ,
                      "the Runnable's namespace %s is not the one asked for (%s): give one",
                      sub_str(given_md, "namespace"), o->namespace_);
        json_decref(spec);
        return rc;
    }
    /* whether the caller may submit there, before anything is looked at
     * (what clusters and kinds exist is not for everyone to learn) */
    if (o->admit && (rc = o->admit(ns, o->admit_user, err)) != 0) {
        json_decref(spec);
        return rc;
    }
    if (o->idempotency_key && *o->idempotency_key && *sub_str(spec, "idempotencyKey") &&
        strcmp(o->idempotency_key, sub_str(spec, "idempotencyKey")) != 0) {
        rc = sub_fail(err, 422, KR_EINVALIDOBJ,
                      "idempotencyKey %.200s (the query) is not the body's spec.idempotencyKey "
                      "%.200s: give one",
                      o->idempotency_key, sub_str(spec, "idempotencyKey"));
        json_decref(spec);
        return rc;
    }
    json_t *md = json_object();
    if ((rc = check_manifest(t, err)) == 0)
        rc = check_named(wrapped, given_md, t, key, err);
    if (rc == 0 && *sub_str(t, "metadata.namespace") &&
        strcmp(sub_str(t, "metadata.namespace"), ns) != 0)
        rc = sub_fail(err, 422, KR_EINVALIDOBJ,
                      "the manifest's namespace %s is not the runnable's (%s): a copy runs in "
                      "the runnable's namespace",
                      sub_str(t, "metadata.namespace"), ns);
    if (rc == 0)
        rc = pick_clusters(o, spec, err);
    if (rc == 0)
        rc = check_policy(spec, err);
    if (rc == 0)
        rc = check_kind(o, spec, t, err);
    if (rc == 0 && !md)
        rc = sub_fail(err, 500, KR_ENOMEM, "out of memory");
    if (rc == 0)
        rc = name_runnable(md, given_md, t, ns, key, err);
    if (rc == 0) {
        for (size_t i = 0; i < sizeof(server_fields) / sizeof(server_fields[0]); i++)
            json_object_del(tmd, server_fields[i]);
        json_object_del(t, "status");
        if (*key)
            json_object_set_new(spec, "idempotencyKey", json_string(key));
        json_object_set_new(md, "namespace", json_string(ns));
        /* born with the finalizer: the controller need not add it */
        json_object_set_new(md, "finalizers", json_pack("[s]", SUB_FINALIZER));
        const json_t *labels = json_object_get(given_md, "labels");
        if (json_is_object(labels))
            json_object_set(md, "labels", (json_t *)labels);
        *out = json_pack("{s:s, s:s, s:O, s:O}", "apiVersion", SUB_API_VERSION, "kind", "Runnable",
                         "metadata", md, "spec", spec);
        if (!*out)
            rc = sub_fail(err, 500, KR_ENOMEM, "out of memory");
    }
    json_decref(md);
    json_decref(spec);
    return rc;
}

int submission_check(const json_t *runnable, const submission_opts *opts, kr_error_t *err)
{
    json_t *spec = json_object_get(runnable, "spec");
    if (!json_is_object(spec))
        return sub_fail(err, 422, KR_EINVALIDOBJ, "the runnable has no spec");
    const json_t *t = json_object_get(spec, "template");
    const char *ns = sub_str(runnable, "metadata.namespace");
    const char *name = sub_str(runnable, "metadata.name");
    /* as the API refuses it: copies are named NAME-ATTEMPT, and a Job's
     * name goes into a label of 63 characters at most */
    if (strlen(name) > SUB_MAX_NAME)
        return sub_fail(err, 422, KR_EINVALIDOBJ, "runnable name %s is longer than %d characters",
                        name, SUB_MAX_NAME);
    int rc = check_manifest(t, err);
    if (rc == 0 && *sub_str(t, "metadata.namespace") &&
        strcmp(sub_str(t, "metadata.namespace"), ns) != 0)
        rc = sub_fail(err, 422, KR_EINVALIDOBJ,
                      "the manifest's namespace %s is not the runnable's (%s): a copy runs in "
                      "the runnable's namespace",
                      sub_str(t, "metadata.namespace"), ns);
    submission_opts o = *opts;
    o.clusters_arg = NULL; /* spec.clusters is read, never changed */
    if (rc == 0)
        rc = pick_clusters(&o, spec, err);
    if (rc == 0)
        rc = check_policy(spec, err);
    if (rc == 0)
        rc = check_kind(&o, spec, t, err);
    return rc;
}

int submission_build(const char *body, size_t len, const submission_opts *opts, json_t **out,
                     kr_error_t *err)
{
    *out = NULL;
    json_t *doc = NULL;
    int rc = parse_body(body, len, &doc, err);
    if (rc == 0)
        rc = build(doc, opts, out, err);
    json_decref(doc);
    return rc;
}
