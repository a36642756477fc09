/* libkreconcile — building request URLs: the API path of a group, version,
 * resource, namespace, name and subresource, and the query of list, watch
 * and write options (keys in alphabetical order, as kubectl sends them).
 * Pure string work; every value is percent-encoded. */
#include <stdio.h>
#include <string.h>

#include "client_internal.h"

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int kr_url_escape(kr_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p)) {
            if (kr_buf_append(out, p, 1) != 0)
                return KR_ENOMEM;
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            if (kr_buf_append(out, enc, 3) != 0)
                return KR_ENOMEM;
        }
    }
    return 0;
}

static bool set(const char *s)
{
    return s && *s;
}

/* Appends "?k=v" or "&k=v". */
static int param(kr_buf *out, bool *first, const char *key, const char *value)
{
    if (kr_buf_append_str(out, *first ? "?" : "&") != 0 || kr_buf_append_str(out, key) != 0 ||
        kr_buf_append_str(out, "=") != 0 || kr_url_escape(out, value) != 0)
        return KR_ENOMEM;
    *first = false;
    return 0;
}

static int segment(kr_buf *out, const char *s)
{
    if (kr_buf_append_str(out, "/") != 0)
        return KR_ENOMEM;
    return kr_url_escape(out, s);
}

/* client-go's IsValidPathSegmentName, for the namespace, resource, name
 * and subresource: "." and ".." would name another path (libcurl, as
 * browsers do, removes dot segments: DELETE of configmaps/.. deletes the
 * namespace), and '/' or '%' in a name is refused too, never escaped into
 * something the server reads otherwise. */
static int check_segment(const char *what, const char *s, kr_error_t *err)
{
    if (!set(s))
        return 0;
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return kr_error_set(err, KR_EINVAL, "invalid %s \"%s\": [may not be '%s']", what, s, s);
    bool slash = strchr(s, '/') != NULL, percent = strchr(s, '%') != NULL;
    if (slash || percent)
        return kr_error_set(err, KR_EINVAL, "invalid %s \"%s\": [%s%s%s]", what, s,
                            slash ? "may not contain '/'" : "", slash && percent ? " " : "",
                            percent ? "may not contain '%'" : "");
    return 0;
}

static bool verb_takes_name(kr_verb verb)
{
    return verb == KR_VERB_GET || verb == KR_VERB_UPDATE || verb == KR_VERB_PATCH ||
           verb == KR_VERB_DELETE;
}

static int list_query(kr_buf *out, bool *first, const kr_list_opts *lo, bool watch)
{
    char num[32];
    int rc = 0;
    if (lo && lo->allow_watch_bookmarks && watch)
        rc |= param(out, first, "allowWatchBookmarks", "true");
    if (lo && set(lo->continue_token))
        rc |= param(out, first, "continue", lo->continue_token);
    if (lo && set(lo->field_selector))
        rc |= param(out, first, "fieldSelector", lo->field_selector);
    if (lo && set(lo->label_selector))
        rc |= param(out, first, "labelSelector", lo->label_selector);
    if (lo && lo->limit > 0 && !watch) {
        snprintf(num, sizeof(num), "%ld", lo->limit);
        rc |= param(out, first, "limit", num);
    }
    if (lo && set(lo->resource_version))
        rc |= param(out, first, "resourceVersion", lo->resource_version);
    if (lo && set(lo->resource_version_match))
        rc |= param(out, first, "resourceVersionMatch", lo->resource_version_match);
    if (lo && lo->send_initial_events)
        rc |= param(out, first, "sendInitialEvents", "true");
    if (lo && lo->timeout_seconds > 0) {
        snprintf(num, sizeof(num), "%d", lo->timeout_seconds);
        rc |= param(out, first, "timeoutSeconds", num);
    }
    if (watch)
        rc |= param(out, first, "watch", "true");
    return rc ? KR_ENOMEM : 0;
}

static int write_query(kr_buf *out, bool *first, const kr_request *req)
{
    const kr_write_opts *wo = req->write;
    int rc = 0;
    if (wo && wo->dry_run)
        rc |= param(out, first, "dryRun", "All");
    if (wo && set(wo->field_manager))
        rc |= param(out, first, "fieldManager", wo->field_manager);
    if (wo && set(wo->field_validation))
        rc |= param(out, first, "fieldValidation", wo->field_validation);
    if (req->verb == KR_VERB_PATCH && req->patch_format == KR_PATCH_APPLY)
        rc |= param(out, first, "force", wo && wo->force ? "true" : "false");
    return rc ? KR_ENOMEM : 0;
}

int kr_client_build_url(kr_buf *out, const kr_request *req, bool watch, kr_error_t *err)
{
    const kr_resource_ref *ref = &req->ref;
    if (!set(ref->gvr.version) || !set(ref->gvr.resource))
        return kr_error_set(err, KR_EINVAL, "request: a resource needs a version and a resource");
    bool named = set(ref->name);
    if (verb_takes_name(req->verb) && !named)
        return kr_error_set(err, KR_EINVAL, "request: %s needs a name", ref->gvr.resource);
    /* a create on an object's subresource (serviceaccounts/NAME/token,
     * pods/NAME/eviction, pods/NAME/binding) posts to the object's path */
    bool sub_create = req->verb == KR_VERB_CREATE && set(ref->subresource);
    if (!verb_takes_name(req->verb) && named && !sub_create)
        return kr_error_set(err, KR_EINVAL,
                            "request: a collection request on %s cannot name an object",
                            ref->gvr.resource);
    if (set(ref->subresource) && !named)
        return kr_error_set(err, KR_EINVAL, "request: subresource %s needs a name",
                            ref->subresource);
    int rc = check_segment("namespace", ref->namespace_, err);
    if (rc == 0)
        rc = check_segment("resource", ref->gvr.resource, err);
    if (rc == 0)
        rc = check_segment("resource name", ref->name, err);
    if (rc == 0)
        rc = check_segment("subresource", ref->subresource, err);
    if (rc != 0)
        return rc;
    if (set(ref->gvr.group))
        rc = kr_buf_append_str(out, "/apis") || segment(out, ref->gvr.group) ||
             segment(out, ref->gvr.version);
    else
        rc = kr_buf_append_str(out, "/api") || segment(out, ref->gvr.version);
    if (rc == 0 && set(ref->namespace_))
        rc = kr_buf_append_str(out, "/namespaces") || segment(out, ref->namespace_);
    if (rc == 0)
        rc = segment(out, ref->gvr.resource);
    if (rc == 0 && named)
        rc = segment(out, ref->name);
    if (rc == 0 && set(ref->subresource))
        rc = segment(out, ref->subresource);
    bool first = true;
    if (rc == 0) {
        if (watch || req->verb == KR_VERB_LIST || req->verb == KR_VERB_DELETE_COLLECTION)
            rc = list_query(out, &first, req->list, watch);
        else if (req->verb == KR_VERB_CREATE || req->verb == KR_VERB_UPDATE ||
                 req->verb == KR_VERB_PATCH)
            rc = write_query(out, &first, req);
    }
    if (rc != 0)
        return kr_error_set(err, KR_ENOMEM, "request: out of memory");
    return 0;
}

int kr_gvr_parse(const char *text, char *buf, size_t len, kr_gvr *out, kr_error_t *err)
{
    if (!text || !buf || !out)
        return kr_error_set(err, KR_EINVAL, "kr_gvr_parse: NULL argument");
    size_t n = strlen(text);
    if (len < n + 3)
        return kr_error_set(err, KR_ETOOLARGE, "resource \"%s\" is too long", text);
    const char *parts[3];
    size_t count = 0;
    char *w = buf + 1; /* buf[0] stays "" for the core group */
    buf[0] = '\0';
    memcpy(w, text, n + 1);
    for (char *p = w;; p++) {
        if (count == 3)
            return kr_error_set(err, KR_EPARSE,
                                "resource \"%s\": want GROUP/VERSION/RESOURCE or VERSION/RESOURCE",
                                text);
        parts[count++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash;
    }
    for (size_t i = 0; i < count; i++)
        if (!parts[i][0] || strchr(parts[i], ' '))
            count = 0;
    if (count < 2)
        return kr_error_set(err, KR_EPARSE,
                            "resource \"%s\": want GROUP/VERSION/RESOURCE or VERSION/RESOURCE",
                            text);
    *out = count == 3 ? KR_GVR(parts[0], parts[1], parts[2]) : KR_GVR(buf, parts[0], parts[1]);
    return 0;
}
