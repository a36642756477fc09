/* libkreconcile-testserver — internals shared by the test server's files:
 * the resource table, object storage, watch streams, the request and
 * response of the transport-free handler. Never installed. Everything that
 * touches server state runs with `ts->mu` held unless a comment says so. */
#ifndef KR_TS_INTERNAL_H
#define KR_TS_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "kreconcile/testserver.h"
#include "kreconcile/tokenfile.h"
#include "lock.h"
#include "testserver/ts_labels.h"

#define TS_MAX_BODY (3u * 1024u * 1024u)

/* ---- resources ---------------------------------------------------------- */

typedef struct ts_obj {
    char *ns; /* "" for cluster-scoped */
    char *name;
    json_t *obj; /* immutable once stored; replaced on every write */
} ts_obj;

/* The objects of one resource (shared by the versions of a CRD). */
typedef struct ts_store {
    unsigned id;
    ts_obj *items; /* sorted by (ns, name) */
    size_t len, cap;
} ts_store;

typedef struct ts_resource {
    char *group, *version, *kind, *plural, *singular, *list_kind;
    char *api_version; /* "group/version", or "version" for the core group */
    bool namespaced, has_status, generation, crd;
    bool delete_returns_object; /* pods, services, custom resources */
    bool no_deletecollection;
    bool review; /* a virtual, create-only review resource (review.c) */
    json_t *short_names; /* array of strings */
    json_t *categories; /* array of strings */
    json_t *subresources; /* extra subresource names for discovery (not status) */
    char *crd_name; /* the CRD that serves it */
    /* The /scale subresource: dotted paths into the object, or NULL.
     * Built-ins read the selector from spec.selector (a LabelSelector). */
    char *scale_spec_path, *scale_status_path, *scale_selector_path;
    /* A custom resource's structural schema: the openAPIV3Schema of its
     * CRD version (a copy), or NULL (built-ins; schema.c) */
    json_t *schema;
    /* A CRD version's selectableFields: their jsonPaths (".spec.size"),
     * an array of strings, or NULL (none; built-ins: fields.c) */
    json_t *selectable_fields;
    /* A deprecated CRD version's warning, sent with every answer about
     * it (resources.c); NULL when not deprecated. */
    char *deprecation;
    /* A CRD version whose objects other served versions share: answers
     * carry this version's apiVersion, as the None conversion gives. */
    bool shared_versions;
    /* A built-in version stored as another (convert.c): the stored form
     * as this version serves it, and back; the stored apiVersion. NULL
     * for the others. */
    json_t *(*to_served)(const json_t *stored);
    json_t *(*to_stored)(const json_t *served);
    const char *stored_api_version;
    ts_store *store; /* borrowed from the server's store list */
} ts_resource;

/* HorizontalPodAutoscalers: autoscaling/v2 (stored) to v1 and back
 * (convert.c); new references, NULL when out of memory. */
json_t *ts_hpa_to_v1(const json_t *stored);
json_t *ts_hpa_to_v2(const json_t *served);

/* ---- watch ---------------------------------------------------------------- */

typedef enum { TS_ADDED = 0, TS_MODIFIED = 1, TS_DELETED = 2 } ts_event_type;

typedef struct ts_event {
    unsigned long long rv;
    unsigned store_id;
    ts_event_type type;
    json_t *obj; /* new state (last state, for DELETED) */
    json_t *old; /* previous state for MODIFIED; for DELETED the state stored until
                  * the delete (NULL when unknown); else NULL */
    char *lines[3]; /* serialized "{type, object}\n" per type, made lazily;
                     * the object's JSON is serialised once for all three */
    size_t line_len[3];
    char *partial_lines[3]; /* the same with the object as PartialObjectMetadata */
    size_t partial_len[3];
} ts_event;

/* A fieldSelector (the library's parser), limited to the metadata fields
 * and the fields the kind selects by (fields.c). */
struct ts_field_table;
typedef struct ts_fieldsel {
    struct kr_field_selector *sel; /* NULL matches everything */
    size_t len; /* number of terms */
    const struct ts_field_table *kind_fields; /* static; NULL: metadata only */
    json_t *cr_fields; /* a custom resource's selectable jsonPaths (a reference), or NULL */
} ts_fieldsel;

typedef struct ts_watch {
    struct kr_testserver *ts;
    unsigned store_id;
    char *ns; /* NULL = every namespace */
    char *name; /* the deprecated /watch/.../NAME: that object only; else NULL */
    ts_labels_t *labels;
    ts_fieldsel fields;
    char *kind, *api_version; /* for bookmarks */
    bool bookmarks;
    bool unstructured; /* a custom resource's: its bookmark has no Go ObjectMeta's null time */
    bool partial; /* objects as PartialObjectMetadata (partial.c) */
    bool versioned; /* objects get api_version (a shared CRD version) */
    json_t *(*to_served)(const json_t *stored); /* a converted built-in version */
    struct ts_table *table; /* objects as Table rows (table.c), or NULL */
    kr_buf buf; /* pending bytes from `off` */
    size_t off;
    bool closing; /* end the stream once `buf` is drained */
    bool suspended; /* the connection waits for data */
    bool detached; /* the transport is gone; free when unreferenced */
    unsigned events; /* events sent */
    uint64_t deadline_ms, last_send_ms, last_probe_ms;
    bool probe; /* check on the next read whether the client went away */
    unsigned long long min_rv; /* deliver only events newer than this */
    void *conn; /* struct MHD_Connection * */
    struct ts_watch *prev, *next;
    struct ts_watch *wake_next; /* on ts->wake_head while a resume is due */
} ts_watch;

/* ---- request counters (stats.c) ---------------------------------------------- */

/* A fixed table, so that counting a request never allocates (a request
 * leaves nothing behind); keys past TS_STATS_KEYS are not counted. */
#define TS_STATS_KEYS 256
typedef struct ts_stat {
    char key[96]; /* "verb resource[/subresource]" */
    unsigned long long count;
} ts_stat;

/* apiserver_request_total's series (stats.c), fixed as the counters are:
 * the label values but `code`, tab-separated, then the code. */
#define TS_METRIC_KEYS 512
typedef struct ts_req_metric {
    char labels[200];
    int code;
    unsigned long long count;
} ts_req_metric;

/* ---- server ---------------------------------------------------------------- */

struct kr_testserver {
    pthread_mutex_t mu;
    kr_testserver_opts opts;
    char **tokens; /* "token" or "token:user" */
    size_t ntokens;
    kr_token_file_t *token_file; /* opts.token_auth_file; NULL without one */
    bool rbac; /* authorize by the RBAC objects (rbac.c) */
    struct ts_issued *issued; /* service account tokens from TokenRequests (review.c) */
    size_t nissued;
    char *cert_pem, *key_pem, *ca_pem;
    char url[96];
    unsigned short port;
    void *daemon; /* struct MHD_Daemon * */

    ts_resource **resources;
    size_t nresources;
    ts_store **stores;
    size_t nstores;
    unsigned next_store_id;

    unsigned long long rv; /* the global resourceVersion counter */
    bool ns_sweeping; /* a namespace's contents are being deleted (delete.c) */
    unsigned long long rv_floor; /* history complete for RVs > floor */
    ts_event *ring;
    size_t ring_cap, ring_head, ring_len;

    struct ts_snapshot *snapshots; /* ring of LIST snapshots for continue */
    size_t snap_cap, snap_next;
    unsigned long long snap_seq;

    ts_watch *watches;
    size_t nwatches;
    ts_watch *wake_head; /* suspended watches to resume after unlocking */
    struct ts_delayed *delayed, *delayed_last; /* waiting out faults.latency_ms, due first */
    /* objects written naming an owner that could not be found, verified
     * again by the ticker (delete.c) */
    struct ts_owner_check *owner_checks, *owner_checks_last;

    kr_testserver_faults faults;
    kr_rng rng;

    pthread_t ticker;
    pthread_cond_t ticker_cv;
    pthread_cond_t watches_cv; /* broadcast when nwatches changes */
    bool ticker_started, stopping;
    struct ts_audit *audit; /* opts.audit_log open; NULL without one (audit.c) */
    ts_stat requests[TS_STATS_KEYS]; /* stats.c; in use up to the first empty key */
    ts_req_metric req_metrics[TS_METRIC_KEYS]; /* stats.c; likewise */
    unsigned long next_service_ip, next_node_port; /* allocators (defaults.c) */
};

/* ---- the transport-free request handler (handler.c) -------------------- */

typedef struct ts_kv {
    char *key, *value;
} ts_kv;

/* Groups a request may name (a certificate's O values, Impersonate-Group). */
#define TS_MAX_GROUPS 16

typedef struct ts_request {
    const char *method;
    const char *path; /* decoded, no query */
    const ts_kv *query;
    size_t nquery;
    const char *accept, *content_type, *authorization, *user_agent;
    const char *body;
    size_t body_len;
    bool body_too_large;
    const char *cert_user; /* client certificate CN when verified, else NULL */
    const char *cert_groups[TS_MAX_GROUPS]; /* its O (organization) values */
    size_t ncert_groups;
    bool cert_invalid; /* a client certificate was sent and failed */
    /* Impersonate-User, -Uid and -Group headers (kubectl --as, --as-group) */
    const char *impersonate_user, *impersonate_uid;
    const char *impersonate_groups[TS_MAX_GROUPS];
    size_t nimpersonate_groups;
    /* Impersonate-Extra-KEY: VALUE headers, KEY as sent (after the prefix) */
    const char *impersonate_extra_keys[TS_MAX_GROUPS], *impersonate_extra_values[TS_MAX_GROUPS];
    size_t nimpersonate_extras;
    bool impersonate_too_many; /* more -Group or -Extra headers than TS_MAX_GROUPS */
    struct ts_prebody *pre; /* set by ts_handle; NULL elsewhere */
    const char *audit_id; /* the Audit-ID header, or NULL */
} ts_request;

/* A JSON body parsed before taking ts->mu, so that the parse does not
 * hold the lock; ts_decode_body takes `doc`. A body that fails that
 * parse is parsed again under the lock for the exact error (or YAML). */
typedef struct ts_prebody {
    json_t *doc; /* new, or NULL */
} ts_prebody;

/* A new audit ID (a UUID) with its NUL. */
#define TS_AUDIT_ID_LEN 37

typedef struct ts_response {
    int status;
    const char *content_type; /* static */
    char *body; /* new (kr_malloc) */
    size_t body_len;
    int retry_after;
    /* X-Content-Type-Options: nosniff, as Go's http.Error and the health
     * handlers send it */
    bool nosniff;
    ts_watch *watch; /* when set, the body is this stream */
    char *warnings; /* Warning header texts, one per line (kr_malloc), or NULL */
    /* the request's audit ID, sent back as its Audit-Id header (ts_handle:
     * the client's Audit-ID header as it came, however long, as
     * kube-apiserver keeps it: borrowed from the request, whose headers
     * the HTTP server bounds; else `audit_id_new`); NULL until set */
    const char *audit_id;
    char audit_id_new[TS_AUDIT_ID_LEN]; /* a new UUID, when the client gave none */
    /* apiserver_request_total's labels of a routed request but its code
     * (stats.c), set before it is handled; "" for other paths */
    char metric[200];
} ts_response;

void ts_handle(kr_testserver_t *ts, const ts_request *req, ts_response *resp);
/* Frees the body, the watch and the warnings. */
void ts_response_clear(ts_response *resp);
/* Drops the body (and watch) of a response about to get another; its
 * warnings stay. */
void ts_response_clear_body(ts_response *resp);
/* Adds a `Warning: 299 - "text"` header to the response, whatever its
 * body becomes. */
void ts_response_warn(ts_response *resp, const char *text);
const char *ts_query(const ts_request *req, const char *key);

/* ---- Status bodies (status.c) -------------------------------------------- */

void ts_respond_json(ts_response *resp, int code, json_t *body); /* steals body */
/* ts_respond_json for an object just recorded as `ev` (may be NULL): the
 * body reuses the event's serialised object when there is one. Steals obj. */
void ts_respond_written(ts_response *resp, int code, json_t *obj, const ts_event *ev);
void ts_respond_status(ts_response *resp, int code, const char *reason, const char *message,
                       json_t *details); /* steals details (may be NULL) */
json_t *ts_details(const ts_resource *res, const char *name, bool kind_is_kind);
void ts_respond_not_found_path(ts_response *resp);
void ts_respond_not_found(ts_response *resp, const ts_resource *res, const char *name);
void ts_respond_bad_request(ts_response *resp, const char *fmt, ...) KR_PRINTF(2, 3);
/* 422 Invalid; the message names "Kind[.group] \"name\"". */
void ts_respond_invalid(ts_response *resp, const char *kind, const char *group, const char *name,
                        const char *field, const char *cause_reason, const char *cause_message);
/* Appends `s` quoted as Go's strconv.Quote (%q) writes it: quotes,
 * backslashes and control characters escaped. */
void ts_go_quote(kr_buf *b, const char *s);
/* A []string of `list` as Go's %q writes it: ["a" "b"] (non-strings as ""). */
void ts_go_quote_list(kr_buf *b, const json_t *list);
/* A JSON number as Go's fmt %v writes it (schema.c): an int64 in full, a
 * float64 in the shortest digits that read back (1e+06); ts_json_number:
 * as encoding/json writes it (1000000, 1e-7). */
void ts_go_number(kr_buf *b, const json_t *v);
void ts_json_number(kr_buf *b, const json_t *v);
/* fmt's %v of a decoded JSON value (schema.c): map[k:v k2:v2] (keys
 * sorted), [a b], strings bare, <nil>; ts_go_format with `sharp`: its %#v,
 * map[string]interface {}{"k":v}, []interface {}{a, b}, "quoted". */
void ts_go_print(kr_buf *b, const json_t *v);
void ts_go_format(kr_buf *b, const json_t *v, bool sharp);
/* 422 Invalid with several causes ({reason, message, field} each; borrowed):
 * the message lists them as kube-apiserver's field.ErrorList does. */
void ts_respond_invalid_causes(ts_response *resp, const char *kind, const char *group,
                               const char *name, const json_t *causes);
void ts_respond_conflict(ts_response *resp, const ts_resource *res, const char *name,
                         const char *why);
char *ts_qualified(const ts_resource *res); /* "plural" or "plural.group"; new */

/* ---- resources (resources.c) -------------------------------------------------- */

int ts_resources_init(kr_testserver_t *ts);
void ts_resources_free(kr_testserver_t *ts);
/* Whether `res` is the built-in resource group/plural (never a custom one). */
bool ts_resource_is(const ts_resource *res, const char *group, const char *plural);
/* Value validation of a built-in kind's object (validate_spec.c), on a
 * create or an update: 0, or KR_EINVALIDOBJ with the 422 listing every
 * problem in resp, `head`'s first (the metadata's problems, or NULL),
 * `tail`'s (or NULL) last. */
int ts_validate_spec(const ts_resource *res, const json_t *obj, const char *name, bool create,
                     const json_t *head, const json_t *tail, ts_response *resp);
/* The warnings kube-apiserver's strategies give a write of `obj` that
 * passed validation (warnings.c), added to resp: `old` is the object
 * updated, NULL on a create. */
void ts_warn_write(const ts_resource *res, const json_t *old, const json_t *obj, ts_response *resp);

/* ---- CertificateSigningRequests (csr.c) ------------------------------------- */

struct ts_write;
bool ts_csr_is(const ts_resource *res);
/* A create: records the requester in the spec and validates it; 0 or
 * KR_EINVALIDOBJ with the 422 in resp (KR_ENOMEM unanswered). */
int ts_csr_create(const struct ts_write *w, json_t *obj, ts_response *resp);
/* The object an update of `sub` (NULL, "status" or "approval") leaves:
 * steals obj; NULL when out of memory. */
json_t *ts_csr_merge(const char *sub, const json_t *existing, json_t *obj);
/* After ts_csr_merge: condition timestamps, then the status rules. */
int ts_csr_update(const char *sub, const json_t *existing, json_t *obj, ts_response *resp);
ts_resource *ts_resource_find(kr_testserver_t *ts, const char *group, const char *version,
                              const char *plural);
ts_resource *ts_resource_find_kind(kr_testserver_t *ts, const char *api_version, const char *kind);
/* apimachinery's CompareKubeAwareVersionStrings: > 0 when a has the higher
 * priority (v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > other names). */
int ts_kube_version_cmp(const char *a, const char *b);
/* Start or stop serving the resource a CRD object describes. */
int ts_crd_established(kr_testserver_t *ts, const json_t *crd, json_t **updated);
void ts_crd_removed(kr_testserver_t *ts, const json_t *crd);
/* APIServices (apiservice.c): one per group version served at start; one
 * per version a CRD serves once it is; those no CRD serves any more go.
 * ts->mu held. 0 or KR_ENOMEM. */
int ts_apiservices_bootstrap(kr_testserver_t *ts);
int ts_apiservices_crd_served(kr_testserver_t *ts, const json_t *crd);
void ts_apiservices_sync(kr_testserver_t *ts);
/* obj's status as the aggregator's availability controller sets it: a
 * local APIService is Available; one naming a Service is not (that Service
 * missing, or nothing proxied to it). 0 or KR_ENOMEM. */
int ts_apiservice_status(kr_testserver_t *ts, json_t *obj);
/* When a condition took the state it has: its lastTransitionTime in the
 * status the object had, while it stays in `state`; else `now`. */
const char *ts_condition_since(const json_t *status, const char *type, const char *state,
                               const char *now);
/* What other objects' controllers keep from objects of `res`, brought up
 * to date at once after one of them was written or deleted: APIServices'
 * availability follows their Services, FlowSchemas' Dangling condition
 * their priority levels, and in RBAC mode aggregated ClusterRoles their
 * sources (write.c). ts->mu held. */
void ts_dependents_sync(kr_testserver_t *ts, const ts_resource *res);

/* ---- storage (ts_store.c) -------------------------------------------------- */

ts_obj *ts_store_get(ts_store *st, const char *ns, const char *name);
size_t ts_store_lower_bound(const ts_store *st, const char *ns, const char *name);
int ts_store_put(ts_store *st, const char *ns, const char *name, json_t *obj); /* steals obj */
void ts_store_remove(ts_store *st, const char *ns, const char *name);
void ts_store_free(ts_store *st);
/* Record a write: takes the next RV (already set in obj by the caller),
 * appends it to history and fans it out. `obj` and `old` are borrowed.
 * Returns the event (borrowed, valid until the next record or clear), or
 * NULL when no history is kept. */
ts_event *ts_record_event(kr_testserver_t *ts, const ts_resource *res, ts_event_type type,
                          json_t *obj, json_t *old);
void ts_history_clear(kr_testserver_t *ts);
void ts_history_free(kr_testserver_t *ts);
/* The event's "{type, object}\n" line, made once per type; NULL on OOM. */
const char *ts_event_line(ts_event *ev, ts_event_type type, size_t *len);
/* The same line with the object as PartialObjectMetadata, made once. */
const char *ts_event_partial_line(ts_event *ev, ts_event_type type, size_t *len);
/* The event object's compact JSON when a line holds it already, else NULL
 * (borrowed, not NUL-terminated). */
const char *ts_event_text(const ts_event *ev, size_t *len);
/* Append obj's compact JSON to buf: 0 or KR_ENOMEM (buf then partial). */
int ts_dump_into(kr_buf *buf, const json_t *obj);
/* obj's compact JSON as ts_dump_into writes it (floats as Go writes them),
 * a new string (kr_free), or NULL when out of memory. */
char *ts_dump_text(const json_t *obj);

/* LIST snapshots (snapshot.c). */
typedef struct ts_snapshot {
    unsigned long long id, rv;
    unsigned store_id;
    json_t **objs; /* new references, key order */
    size_t len;
} ts_snapshot;
ts_snapshot *ts_snapshot_take(kr_testserver_t *ts, const ts_resource *res);
/* The store as it was at resourceVersion rv, rebuilt from the live store
 * and the history after rv (an Exact list at an older resourceVersion, as
 * etcd serves one until compaction); NULL when the history does not reach
 * back that far, or out of memory. */
ts_snapshot *ts_snapshot_take_at(kr_testserver_t *ts, const ts_resource *res,
                                 unsigned long long rv);
ts_snapshot *ts_snapshot_find(kr_testserver_t *ts, unsigned long long id);
void ts_snapshots_clear(kr_testserver_t *ts);

/* ---- object helpers (meta.c) --------------------------------------------------- */

const char *ts_meta_str(const json_t *obj, const char *field);
/* A simple JSONPath (".a.b", "[0]", "['k']", escaped dots; "{...}" too)
 * evaluated on obj, as CRD printer columns, scale paths and selectable
 * fields use them: the value (borrowed), or NULL when it is absent or the
 * path is not that simple. */
const json_t *ts_json_path(const json_t *obj, const char *path);
json_t *ts_meta(json_t *obj); /* metadata object, created if absent (obj must be mutable) */
/* An IPv4 address as netutils.ParseIPSloppy reads it: four decimal fields
 * of at most 255, leading zeros allowed (*leading_zero says whether one
 * has; may be NULL) (defaults.c). */
bool ts_parse_ipv4_sloppy(const char *text, uint32_t *ip, bool *leading_zero);
bool ts_valid_subdomain(const char *name);
bool ts_valid_label_name(const char *name);
bool ts_valid_label(const char *s, size_t len); /* an RFC 1123 label, of len bytes */
extern const char ts_label_message[]; /* why a name is not one, as the apiserver says */
/* The rules of apimachinery's pkg/util/validation. */
typedef enum {
    TS_DNS1123_LABEL, /* IsDNS1123Label */
    TS_DNS1123_SUBDOMAIN, /* IsDNS1123Subdomain */
    TS_DNS1035_LABEL, /* IsDNS1035Label */
    TS_QUALIFIED_NAME, /* IsQualifiedName */
    TS_LABEL_VALUE, /* IsValidLabelValue */
} ts_name_rule;
#define TS_NAME_PROBLEMS_MAX 4
/* What is wrong with v under rule, as its function's messages in its
 * order (static strings into why); 0 when v is valid. */
size_t ts_name_problems(ts_name_rule rule, const char *v, const char *why[TS_NAME_PROBLEMS_MAX]);
/* Append to `causes` one FieldValueInvalid cause per problem why[0..n) of
 * `value` at `field` ("Invalid value: <Go-quoted value>: <why>"), as
 * field.ErrorList holds them (validate.c). */
void ts_add_problems(json_t *causes, const char *field, const char *value, const char *const *why,
                     size_t n);
/* The keys of an object, sorted (kr_free the array; the strings are
 * borrowed); NULL when it has none or out of memory. */
const char **ts_sorted_keys(const json_t *map, size_t *n);
char *ts_uid_new(kr_testserver_t *ts);
void ts_timestamp(char out[32]);
unsigned long long ts_rand(kr_testserver_t *ts);
uint64_t ts_now_ms(void);
bool ts_spec_equal(const ts_resource *res, const json_t *a, const json_t *b);
/* json_equal of two objects leaving out the top-level keys in skip[nskip];
 * NULL is an empty object; anything else but an object compares whole. */
bool ts_equal_except(const json_t *a, const json_t *b, const char *const *skip, size_t nskip);
char *ts_api_version(const ts_resource *res); /* new */

/* ---- selectors (fields.c) ----------------------------------------------------- */

/* `res` chooses the fields beyond metadata.name and metadata.namespace
 * (events by involvedObject.*, pods by spec.nodeName, ...). */
int ts_fieldsel_parse(const ts_resource *res, const char *text, ts_fieldsel *out, char *msg,
                      size_t msgsize);
bool ts_fieldsel_matches(const ts_fieldsel *fs, const json_t *obj);
void ts_fieldsel_free(ts_fieldsel *fs);
bool ts_object_matches(const ts_labels_t *labels, const ts_fieldsel *fields, const json_t *obj);
/* labelSelector and fieldSelector of a LIST or WATCH; on a bad selector
 * fills resp with 400 and returns negative. */
int ts_parse_selectors(const ts_request *req, const ts_resource *res, ts_labels_t **labels,
                       ts_fieldsel *fields, ts_response *resp);
/* A boolean query parameter as the apiserver decodes one
 * (runtime.Convert_Slice_string_To_bool): absent, "0" or "false" in any
 * case are false (0); anything else, "" included, is true (1). */
int ts_query_bool(const ts_request *req, const char *key);

/* ---- handlers -------------------------------------------------------------------- */

typedef struct ts_route {
    ts_resource *res;
    const char *ns; /* borrowed from the parsed path or NULL */
    const char *name; /* NULL for a collection */
    const char *sub; /* subresource or NULL */
    char *buf; /* owns the strings */
    bool legacy_watch;
    /* The Table a GET asked for (table.c), negotiated once per request; a
     * WATCH takes it over. NULL: plain objects. */
    struct ts_table *table;
    const struct ts_identity *who; /* who asks; NULL when loading */
} ts_route;

/* The RBAC verb of a routed request: get, list, watch, create, update,
 * patch, delete, deletecollection (handler.c). */
const char *ts_verb_of(const ts_request *req, const ts_route *rt);
void ts_handle_get(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                   ts_response *resp);
void ts_handle_list(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                    ts_response *resp);
void ts_handle_watch(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                     ts_response *resp);

/* ---- metadata-only answers (partial.c) ---------------------------------------- */

/* One Accept entry (not NUL-terminated): 1 when it asks for the partial
 * form `want` ("PartialObjectMetadata" or "...List"; NULL: none), 0 for
 * plain JSON (application/json, any application type or any type, without as=), -1 for
 * anything else (a Table, protobuf). */
int ts_accept_entry(const char *entry, size_t len, const char *want);
/* The media type of an Accept entry: *entry and *len are moved past the
 * spaces before it; the type's length (up to ';', spaces trimmed). */
size_t ts_accept_type(const char **entry, size_t *len);
/* Whether the first Accept entry the server can serve asks for
 * PartialObjectMetadata (List for a LIST, the object form otherwise). */
bool ts_partial_negotiate(const ts_request *req, const ts_route *rt);
/* {kind: PartialObjectMetadata, apiVersion: meta.k8s.io/v1, metadata}:
 * new, or NULL. */
json_t *ts_partial_of(const json_t *obj);
/* Rewrite a successful answer (not a watch, not a Status) in that form. */
void ts_partial_convert(const ts_request *req, const ts_route *rt, ts_response *resp);
/* Replace a successful JSON answer (not a watch, not a Status) with
 * rewrite(body, user) (new; NULL answers 500), keeping its status. */
void ts_rewrite_answer(ts_response *resp, json_t *(*rewrite)(const json_t *body, void *user),
                       void *user);
/* A custom resource as the version `res` serves it: `obj` itself (a new
 * reference) when its apiVersion is res's, else a shallow copy with
 * res's apiVersion (apiextensions' None conversion); NULL when out of
 * memory. (resources.c) */
json_t *ts_as_served(const ts_resource *res, const json_t *obj);
/* `obj` itself (a new reference) when its apiVersion is `api_version`,
 * else a shallow copy with it; NULL when out of memory. (resources.c) */
json_t *ts_with_api_version(const json_t *obj, const char *api_version);
/* The 2xx answer (an object or a list of the kind) as `res` serves it,
 * for a version that shares its objects. (resources.c) */
void ts_answer_as_served(const ts_resource *res, ts_response *resp);

/* ---- server-side printing (table.c) ------------------------------------------- */

/* kube-apiserver's printers (printers.c): which one prints a resource,
 * its columns, and a row's cells and conditions. */
typedef enum {
    TS_PRINT_NONE, /* no printer: plain JSON (a review resource) */
    TS_PRINT_CUSTOM, /* a CRD's additionalPrinterColumns (table.c) */
    TS_PRINT_CONFIGMAP,
    TS_PRINT_SECRET,
    TS_PRINT_NAMESPACE,
    TS_PRINT_LEASE,
    TS_PRINT_DEPLOYMENT,
    TS_PRINT_JOB,
    TS_PRINT_POD,
    TS_PRINT_SERVICE,
    TS_PRINT_REPLICASET,
    TS_PRINT_STATEFULSET,
    TS_PRINT_DAEMONSET,
    TS_PRINT_EVENT,
    TS_PRINT_NODE,
    TS_PRINT_SERVICEACCOUNT,
    TS_PRINT_ENDPOINTS,
    TS_PRINT_CRONJOB,
    TS_PRINT_PDB,
    TS_PRINT_INGRESS,
    TS_PRINT_NETWORKPOLICY,
    TS_PRINT_ROLEBINDING,
    TS_PRINT_PRIORITYCLASS,
    TS_PRINT_RESOURCEQUOTA,
    TS_PRINT_PV,
    TS_PRINT_PVC,
    TS_PRINT_PODTEMPLATE,
    TS_PRINT_CONTROLLERREVISION,
    TS_PRINT_HPA,
    TS_PRINT_ENDPOINTSLICE,
    TS_PRINT_INGRESSCLASS,
    TS_PRINT_STORAGECLASS,
    TS_PRINT_RUNTIMECLASS,
    TS_PRINT_WEBHOOKS, /* both webhook configuration kinds */
    TS_PRINT_ADMISSIONPOLICY,
    TS_PRINT_POLICYBINDING,
    TS_PRINT_REPLICATIONCONTROLLER,
    TS_PRINT_CSR,
    TS_PRINT_VOLUMEATTACHMENT,
    TS_PRINT_CSINODE,
    TS_PRINT_CSIDRIVER,
    TS_PRINT_CSISTORAGECAPACITY,
    TS_PRINT_FLOWSCHEMA,
    TS_PRINT_PRIORITYLEVEL,
    TS_PRINT_APISERVICE,
    TS_PRINT_SCALE, /* a built-in's scale subresource (autoscaling/v1 Scale) */
    TS_PRINT_DEFAULT /* the apiserver's default convertor: Name, Created At */
} ts_printer;
ts_printer ts_printer_of(const ts_resource *res);
json_t *ts_printer_columns(ts_printer p); /* new; NULL when out of memory */
json_t *ts_printer_cells(ts_printer p, const json_t *obj); /* new */
json_t *ts_printer_row_conditions(ts_printer p, const json_t *obj); /* new, or NULL */
/* "k=v,k2 in (a,b),!k3": what labels.Selector.String() prints for a
 * LabelSelector object, requirements sorted by key; appended to b. */
void ts_selector_text(const json_t *sel, kr_buf *b);
/* An age cell: Go's HumanDuration of now minus an RFC 3339 time;
 * "<unknown>" without one, "<invalid>" for a bad one. */
json_t *ts_age_cell(const char *timestamp);
extern const char ts_creation_timestamp_desc[];

/* A GET's Table request: the columns of the resource, the include mode
 * and, for a watch, whether the columns went out already. */
typedef struct ts_table ts_table;
/* *out: a new ts_table when the first Accept entry the server can serve
 * asks for a meta.k8s.io Table and the resource has columns, else NULL.
 * -1 after answering 400 (an includeObject value that is not one). */
int ts_table_negotiate(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                       ts_table **out, ts_response *resp);
void ts_table_free(ts_table *t);
/* Rewrite a successful GET or LIST answer (not a Status) as a Table. */
void ts_table_convert(ts_table *t, const ts_route *rt, ts_response *resp);
/* A watch line {type, object: Table of obj}; the columns only in the
 * first. New (kr_free), *len its length; NULL when out of memory. */
char *ts_table_event_line(ts_table *t, const char *type, const json_t *obj, size_t *len);
void ts_handle_create(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                      ts_response *resp);
void ts_handle_update(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                      ts_response *resp);
void ts_handle_patch(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                     ts_response *resp);
void ts_handle_delete(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                      ts_response *resp);
/* GET, PUT and PATCH of .../{name}/scale (scale.c). */
void ts_handle_scale(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                     ts_response *resp);
/* The patched document for a PATCH body (ts_patch.c); NULL after filling resp. */
json_t *ts_patch_document(const ts_request *req, const ts_resource *res, const char *name,
                          const json_t *existing, bool force_merge, ts_response *resp);
/* POST pods/NAME/eviction (wire spec §7.5): the pod deleted unless a
 * disruption budget forbids it (429). */
void ts_handle_eviction(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                        ts_response *resp);
void ts_handle_deletecollection(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                                ts_response *resp);
bool ts_handle_discovery(kr_testserver_t *ts, const ts_request *req, ts_response *resp);
/* OpenAPI schemas (openapi.c) of the served built-in kinds of group/version
 * (every group when `group` is NULL), keyed by definition name, with v3 or
 * v2 references; new. */
json_t *ts_openapi_schemas(kr_testserver_t *ts, const char *group, const char *version, bool v3);
/* The OpenAPI v2 document holding `defs`, in the gnostic protobuf encoding
 * kubectl asks for; *out is new (kr_free). 0 or KR_ENOMEM. */
int ts_openapi_v2_protobuf(const json_t *defs, char **out, size_t *len);
bool ts_handle_admin(kr_testserver_t *ts, const ts_request *req, ts_response *resp);

/* Shared by create, update, patch and load: store `obj` (stolen) as the
 * new state of `rt->name` after admission. `existing` is the stored state
 * or NULL for a create. Fills resp with the result. */
typedef struct ts_write {
    const ts_request *req;
    const ts_route *rt;
    bool dry_run;
    bool status_only; /* a /status write */
    const char *manager;
    const char *operation; /* "Update" or "Apply" */
    const json_t *applied; /* server-side apply: the configuration, for fieldsV1 */
    const json_t *patch; /* a strategic merge patch, for strict field validation's message */
    const json_t *managed; /* server-side apply: the managedFields it computed */
    bool no_body; /* loading: status only, skip serialising the object */
    const char *wrong_kind; /* a custom resource's body of another kind: its validation's 422 */
    /* the body's duplicate keys (ts_body_duplicates): a POST's or PUT's, a
     * merge patch's; or NULL */
    const json_t *dups;
    /* strict decoding errors met before the object's (texts, in order):
     * a JSON patch's operations' (ts_json_patch_strict); or NULL */
    const json_t *strict_first;
    bool strict_done; /* ts_schema_strict reported the decoder's errors */
} ts_write;
/* What a /status write takes from the stored object besides spec, as the
 * kind's status strategy resets it (write.c); custom resources: SR_ALL. */
enum {
    SR_LABELS = 1,
    SR_ANNOTATIONS = 2,
    SR_FINALIZERS = 4,
    SR_OWNERS = 8,
    /* metav1.ResetObjectMetaForStatus (its deletionTimestamp and
     * generation every update keeps anyway) */
    SR_OBJECT_META = SR_LABELS | SR_ANNOTATIONS | SR_FINALIZERS | SR_OWNERS,
    SR_ALL = 16, /* the whole metadata (the server recomputes managedFields) */
    SR_UNOWNED = 32 /* the status manager owns no metadata, whatever is kept */
};
unsigned ts_status_resets(const ts_resource *res);
/* The metadata field of one of SR_LABELS .. SR_OWNERS. */
const char *ts_status_meta_field(unsigned bit);

/* Server-side apply's field ownership (ssa.c). ts_ssa_apply merges an
 * applied configuration into the live object (*out, before defaults) and
 * computes the managedFields (*managed): 0, or KR_ECONFLICT with the 409
 * in resp, or KR_ENOMEM. ts_ssa_applied_set: the managedFields of an apply
 * that creates. ts_ssa_update: the managedFields after any other write
 * (live NULL for a create), from the live object's or those the request
 * sets; NULL when they cannot be computed. `sub` is the subresource or NULL. */
int ts_ssa_apply(const ts_resource *res, const json_t *live, const json_t *config,
                 const char *manager, const char *sub, bool force, const char *api_version,
                 json_t **out, json_t **managed, ts_response *resp);
json_t *ts_ssa_applied_set(const ts_resource *res, const json_t *config, const char *manager,
                           const char *sub, const char *api_version);
json_t *ts_ssa_update(const ts_resource *res, const json_t *live, const json_t *obj,
                      const char *manager, const char *sub, const char *api_version);
int ts_commit_create(kr_testserver_t *ts, const ts_write *w, json_t *obj, ts_response *resp);
int ts_commit_update(kr_testserver_t *ts, const ts_write *w, const json_t *existing, json_t *obj,
                     ts_response *resp);
/* Defaults of built-in kinds (defaults.c): the scheme's, on every create
 * and update; the registries' and admission's, on create (allocations may
 * fail: 422 in resp) and on update (allocated values kept). */
/* The values of a built-in object whose Go types have their own JSON, as
 * Go reads and writes them back: quantities become the canonical strings
 * resource.Quantity writes (quantity.c), times and micro-times their
 * UTC text to the second or microsecond (gotime.c). Returns 0, or -1
 * with the Go error for the first text refused in `err` (may be NULL;
 * that value is left as it is). */
int ts_go_values(const ts_resource *res, json_t *obj, kr_buf *err);
/* The amount quantity text `text` stands for (quantity.c), as ParseQuantity
 * reads it; false when it reads none. */
bool ts_quantity_value(const char *text, long double *value);

/* metav1.Time (`micro`: MicroTime) text `in` as UnmarshalJSON parses it:
 * NULL with what MarshalJSON writes in `out` ("" for the zero time, null),
 * or time.ParseError's message (in `err`, which the caller frees). */
const char *ts_go_time_text(const char *in, bool micro, char *out, size_t size, kr_buf *err);
void ts_set_defaults(const ts_resource *res, json_t *obj);
int ts_registry_create(kr_testserver_t *ts, const ts_write *w, json_t *obj, ts_response *resp);
/* Where the allocators stand before a write, and their step back when the
 * write is refused after the registry allocated (validation, admission,
 * storage): as the service registry's transaction reverts, a refused
 * write allocates nothing. */
typedef struct ts_alloc_mark {
    unsigned long service_ip, node_port;
} ts_alloc_mark;
ts_alloc_mark ts_alloc_begin(const kr_testserver_t *ts);
void ts_alloc_revert(kr_testserver_t *ts, ts_alloc_mark mark);
/* A created object as storage hands it back, decoded with its version's
 * defaults once more (after validation): a Job without labels gets its
 * template's. */
void ts_default_stored(const ts_resource *res, json_t *obj);
int ts_registry_update(kr_testserver_t *ts, const ts_write *w, const json_t *existing, json_t *obj,
                       ts_response *resp);
bool ts_namespace_exists(kr_testserver_t *ts, const char *ns);
/* Namespaces being deleted (delete.c): whether ns is, and the namespace
 * controller's step after its contents changed: conditions updated, and
 * once nothing is left the "kubernetes" finalizer and the namespace
 * removed. */
bool ts_namespace_terminating(kr_testserver_t *ts, const char *ns);
/* An object is gone (delete.c): owners of it deleted in the foreground
 * that nothing blocks any more lose their foregroundDeletion finalizer. */
void ts_owners_sync(kr_testserver_t *ts, const json_t *removed);
/* The garbage collector's check of a written object's owners (obj as
 * stored; old: the state before, NULL on create): one naming an owner that
 * is absent is verified again a moment later (ts_owners_verify, from the
 * ticker), then deleted when no owner is left, or stripped of its
 * references to the absent ones. */
void ts_owners_written(kr_testserver_t *ts, const ts_resource *res, const json_t *obj,
                       const json_t *old);
void ts_owners_verify(kr_testserver_t *ts);
void ts_owner_checks_free(kr_testserver_t *ts);
void ts_namespace_sync(kr_testserver_t *ts, const char *ns);
/* A namespace's finalizers: spec.finalizers and metadata.finalizers. */
bool ts_namespace_finalized(const json_t *ns);
/* CRDs being deleted (delete.c): whether the CRD serving the custom
 * resource res is Terminating (no new instances then), and the finalizing
 * controller's last step for every such CRD none of whose instances is
 * left: its finalizer removed, and the CRD with it. That step frees the
 * resources the CRD served, so it runs only once a request is answered. */
bool ts_crd_terminating(kr_testserver_t *ts, const ts_resource *res);
void ts_crds_finalize(kr_testserver_t *ts);
/* Custom resources against their structural schema, built-in kinds
 * against their fields (schema.c). */
typedef enum { TS_FV_WARN = 0, TS_FV_STRICT, TS_FV_IGNORE } ts_field_validation;
ts_field_validation ts_field_validation_of(const ts_request *req);
/* Prunes unknown fields (a 400, or a 422 for a patch, under
 * fieldValidation=Strict; Warning headers under Warn, the default); for a
 * custom resource also drops non-nullable nulls, applies defaults, then
 * validates: 0, or KR_EINVALIDOBJ with the answer in resp, or KR_ENOMEM.
 * Built-in kinds are pruned to the fields of their Go types (the protobuf
 * tables); kinds with neither a schema nor a table are left as sent. */
int ts_schema_admit(const ts_write *w, json_t *obj, const json_t *meta, ts_response *resp);
/* A server-side apply configuration may not name fields the schema does
 * not declare, whatever fieldValidation says (500, as kube-apiserver's
 * field manager answers). */
int ts_schema_check_apply(const ts_write *w, const json_t *config, ts_response *resp);
/* A built-in kind's body (create, update) or patch result decoded into its
 * Go type (gotype.c), before anything else looks at it: 0; or, for a value
 * Go cannot decode, KR_EINVALIDOBJ with a 400 ("cannot be handled as a
 * <Kind>") or, for a patch, a 422 on the field "patch"; KR_ENOMEM. Custom
 * resources pass: their schema is checked at admission. */
int ts_schema_decode(const ts_write *w, json_t *obj, ts_response *resp);
/* A POST's or PUT's body, or a patch's result, as the decoder meets it:
 * its strict decoding errors (duplicate keys, unknown fields) are under
 * fieldValidation=Strict the decoder's 400 (a patch's 422, showing
 * `patched`), under Warn warnings, both before anything looks at the
 * object (an existing name, a missing one, a stale resourceVersion): a
 * request that then fails still carries them, as kube-apiserver's do.
 * The caller then sets the write's strict_done. 0, or non-zero with resp
 * filled. */
int ts_schema_strict(const ts_write *w, const json_t *obj, const json_t *patched,
                     ts_response *resp);
/* Whether `s` is of strfmt's format `format` (its name without dashes),
 * for email, hostname, uri, mac, duration, uuid, uuid3, uuid4 and uuid5
 * (strfmt.c): 1 or 0; -1 for another format. */
int ts_strfmt_check(const char *format, const char *s);
/* A CRD's versions each have a structural schema, with defaults that meet
 * it, as kube-apiserver requires of apiextensions.k8s.io/v1 (the common
 * rules; wire spec §8.2), exactly one of them is the storage version, and
 * its status.storedVersions (on a create, the storage version alone) hold
 * the storage version and are all still in spec.versions: 0, or
 * KR_EINVALIDOBJ with a 422 in resp listing `meta`'s causes (the
 * metadata's problems, or NULL) first. */
int ts_crd_validate(const json_t *crd, const char *name, bool update, const json_t *meta,
                    ts_response *resp);
/* A write of a CRD's status: its storedVersions hold the storage version
 * and are all in spec.versions (after `meta`'s causes, as above). */
int ts_crd_validate_status(const json_t *crd, const char *name, const json_t *meta,
                           ts_response *resp);
/* After a CRD's schema changed: its stored objects as kube-apiserver reads
 * them from storage, pruned and defaulted by their version's schema, at the
 * same resourceVersion and without an event (objects that do not change
 * stay as they are). */
void ts_schema_reread(kr_testserver_t *ts, ts_store *st);
/* ValidateLabels and ValidateAnnotations of a string map (values that are
 * no strings left out) at `field`: their causes appended (validate.c). */
void ts_check_labels(json_t *causes, const char *field, const json_t *map);
void ts_check_annotations(json_t *causes, const char *field, const json_t *map);
/* Labels, annotations, owner references and finalizers (validate.c):
 * a 400 fills resp; the problems are appended to causes (when not NULL),
 * for the kind's validation to report with its own (ValidateObjectMeta's
 * errors head the kind's list). */
int ts_validate_metadata(const json_t *md, json_t *causes, ts_response *resp);
/* Fields an update may not change (validate.c): a ConfigMap's or Secret's
 * data once immutable, a Secret's type, workload and Job selectors, a
 * Job's template, a Service's cluster IP. Their problems are appended to
 * `causes`, for the kind's validation to list with its own. */
void ts_validate_update(const ts_resource *res, const json_t *existing, const json_t *obj,
                        json_t *causes);
/* Whether the kind's update rules come after its object's validation in
 * kube-apiserver's list (the workloads, Jobs and Pods), not before it
 * (ValidateServiceUpdate, ValidateConfigMapUpdate...). */
bool ts_update_rules_last(const ts_resource *res);
/* Whether a[key] and b[key] are the same value, absent and null alike. */
bool ts_same_at(const json_t *a, const json_t *b, const char *key);
/* A pod's update (not through a subresource): what ValidatePodUpdate
 * finds after the pod's own validation, appended to `causes`. */
void ts_validate_pod_update(const json_t *existing, const json_t *obj, json_t *causes);
/* Go's %#v of values field errors print (validate_spec.c): a
 * map[string]string (keys sorted; map[string]string(nil) when absent), a
 * []string ([]string(nil) when absent), and the metav1.LabelSelector a
 * *LabelSelector points at ("null" quoted when there is none). */
void ts_go_string_map(kr_buf *b, const json_t *map);
void ts_go_strings(kr_buf *b, const json_t *list);
void ts_go_label_selector(kr_buf *b, const json_t *sel);
/* A pod's status write: the v1 status as 1.32 decodes it (podIP, when
 * set, authoritative over a podIPs that does not start with it, and the
 * pod's podIP read back from podIPs; hostIP and hostIPs alike). */
void ts_pod_status_ips(json_t *status);
/* ValidatePodStatusUpdate's checks of the pod's addresses (validatePodIPs,
 * validateHostIPs), appended to `causes`. */
void ts_validate_pod_status_ips(const json_t *obj, json_t *causes);
/* dryRun: *dry is set for "All"; another value fills resp (422) and returns -1. */
int ts_dry_run(const ts_request *req, ts_response *resp, const char *options_kind, bool *dry);
/* The options a write's handler validates before it reads the body
 * (ValidateCreateOptions, ValidateUpdateOptions, ValidatePatchOptions):
 * fieldManager (required to apply, at most 128 bytes, printable), force
 * (only to apply), dryRun, fieldValidation; every problem reported
 * together as kube-apiserver's 422 on the *Options kind. *dry is set for
 * dryRun=All. 0, or -1 with resp filled. */
typedef enum { TS_OPTS_CREATE, TS_OPTS_UPDATE, TS_OPTS_PATCH, TS_OPTS_APPLY } ts_options_kind;
int ts_write_options(const ts_request *req, ts_response *resp, ts_options_kind kind, bool *dry);

/* ---- request bodies (body.c) -------------------------------------------------- */

bool ts_content_is_json(const ts_request *req);
bool ts_content_is_yaml(const ts_request *req);
bool ts_content_is_protobuf(const ts_request *req);
/* A Kubernetes protobuf body as its JSON object (new); NULL after filling resp (400). */
json_t *ts_parse_protobuf_body(const ts_request *req, ts_response *resp);
void ts_respond_unsupported_media(ts_response *resp, const char *accepted);
/* A JSON object (or YAML when `yaml`), new; NULL after filling resp (400). */
json_t *ts_parse_body(const ts_request *req, bool yaml, ts_response *resp);
/* The body as JSON (json_loadb's `json_flags`), or as YAML when `yaml` and
 * it is not JSON: a new reference, or NULL with resp filled (400: a YAML
 * error as such, a JSON one as "<what>: <jansson's text>"). A YAML body's
 * whole floats are integers (ts_json_whole_numbers). */
json_t *ts_decode_body(const ts_request *req, size_t json_flags, bool yaml, const char *what,
                       ts_response *resp);
/* json_loadb, but an integer literal beyond int64 (which jansson refuses)
 * is read as a float, as encoding/json reads it into an interface{}. */
json_t *ts_json_loadb(const char *text, size_t len, size_t flags, json_error_t *err);
/* Every whole float below v (80.0) made an integer, as sigs.k8s.io/yaml's
 * conversion of YAML to JSON writes it. */
void ts_json_whole_numbers(json_t *v);
/* A JSON body's (req's, parsed as *doc) keys that an object has twice,
 * as sigs.k8s.io/json's strict decoding reports them: *dups is
 * {"dups": [[path, offset], ...], "keys": {path: offset}}, the paths
 * ("data.a", "spec.ports[0].port"; at most 100, each once) with the
 * offset of their second key in the body's order, and the offset of the
 * first key of every path the body has (to order unknown fields among
 * them); *doc is replaced by the body with the last value winning (with
 * merge, as a Go struct takes it: an object merges into the one before).
 * A YAML body's are go-yaml's one error (ts_yaml_duplicates), *dups
 * {"first": [text]}, *doc as it was. *dups NULL when there are none or the
 * body is protobuf. 0 or KR_ENOMEM. */
int ts_body_duplicates(const ts_request *req, bool merge, json_t **doc, json_t **dups);
/* A YAML text's keys twice, as go-yaml v2's strict reading reports them
 * (yaml_dups.c): *out the error (`yaml: unmarshal errors:\n  line 7: key
 * "a" already set in map`, new), NULL when it has none or does not parse.
 * 0 or KR_ENOMEM. */
int ts_yaml_duplicates(const char *text, size_t len, char **out);
/* A JSON patch's (req's, parsed as *doc) strict decoding errors, as
 * kube-apiserver meets them unmarshalling it strictly into its operations
 * ({op, path, from, value}) under Warn or Strict: each `json patch
 * duplicate field "[0].op"` (inside a value too) and `json patch unknown
 * field "[0].bogus"`, in the body's order, as a new array of texts in
 * *errs (empty when there are none); *doc as ts_body_duplicates leaves
 * it. 0 or KR_ENOMEM. */
int ts_json_patch_strict(const ts_request *req, json_t **doc, json_t **errs);
/* Fill pre from a body that looks like JSON; no locking needed. */
void ts_prebody_parse(const ts_request *req, ts_prebody *pre);
int ts_check_kind(const ts_resource *res, json_t *obj, ts_response *resp);
int ts_check_namespace(const ts_route *rt, json_t *obj, ts_response *resp);
int ts_check_name(const ts_route *rt, json_t *obj, ts_response *resp);
/* YAML through the library's reader, when linked in. */
int ts_yaml_parse(const char *text, size_t len, json_t **out, kr_error_t *err);
int ts_yaml_parse_all(const char *text, size_t len, json_t **out, kr_error_t *err);
/* kubectl's YAML text of `value`: new (kr_free), NULL when out of memory. */
char *ts_yaml_dump(const json_t *value);

/* ---- watch streams (watch.c) ---------------------------------------------------- */

void ts_watch_fanout(kr_testserver_t *ts, ts_event *ev);
void ts_watch_close_all(kr_testserver_t *ts);
void ts_watch_close_store(kr_testserver_t *ts, unsigned store_id);
void ts_watch_free(ts_watch *w);
/* Queue a suspended watch for resumption; ts_unlock() resumes it. */
void ts_watch_wake(kr_testserver_t *ts, ts_watch *w);
void ts_lock(kr_testserver_t *ts);
/* Unlock, then resume the watches woken while the lock was held (the
 * transport must not be called with the lock held). */
void ts_unlock(kr_testserver_t *ts);
int ts_ticker_start(kr_testserver_t *ts);
void ts_ticker_stop(kr_testserver_t *ts);
/* A request waiting out the latency fault: its connection is suspended and
 * the ticker resumes it when due, so that a slow answer holds no HTTP
 * thread (a cluster a network away delays each answer, not the others). */
typedef struct ts_delayed {
    void *conn;
    int64_t since_ns, due_ns; /* CLOCK_MONOTONIC */
    struct ts_delayed *next;
} ts_delayed;
/* Suspend `conn` for faults.latency_ms when it applies to `path` (not
 * /_kr/) and is not zero; true when it did. d lives until resumed. */
bool ts_delay(kr_testserver_t *ts, ts_delayed *d, void *conn, const char *path);
/* After faults.latency_ms changed: the waiting requests are due at their
 * arrival plus the new latency. [lock held] */
void ts_delay_retime(kr_testserver_t *ts);
/* The transport's reader: copies up to `max` pending bytes; when there
 * are none it suspends the connection (ts_http_suspend) and returns 0;
 * -1 means end of stream. */
long ts_watch_read(ts_watch *w, char *buf, size_t max);
void ts_watch_detach(ts_watch *w);

/* ---- auth and faults ------------------------------------------------------------- */

/* Who a request is, as the authenticators and impersonation say. Strings
 * are borrowed from the server or the request; groups may point into
 * ns_group, so an identity is not copied once filled. */
typedef struct ts_identity {
    const char *user; /* NULL = anonymous, or a token without a user outside RBAC */
    size_t user_len;
    const char *verbs; /* comma list the token may use; NULL = every verb */
    const char *groups[TS_MAX_GROUPS + 3];
    size_t ngroups;
    char ns_group[300]; /* "system:serviceaccounts:NS" for a service account */
    bool anonymous; /* no credentials */
    const char *uid; /* the token file's uid, a service account's uid; or NULL */
    /* An issued service account token's audiences (an array) and its
     * credential id ("JTI=..."); NULL for audience-agnostic credentials. */
    const json_t *audiences;
    const char *credential_id;
} ts_identity;

/* The identity a bearer token names ("Bearer T" in `authorization`): 0,
 * -1 for a token no source knows (the static tokens, the token file, the
 * issued service account tokens), -2 for an issued token that expired.
 * Strings borrowed from the server's token tables. */
int ts_token_identity(kr_testserver_t *ts, const char *authorization, ts_identity *who);
/* 0 = authenticated (or no auth configured); otherwise fills resp (401). */
int ts_authenticate(kr_testserver_t *ts, const ts_request *req, ts_response *resp,
                    ts_identity *who);
/* When the request carries Impersonate-* headers: check that `who` may
 * impersonate them and make `who` the impersonated identity. 0 = go on;
 * otherwise fills resp (403, or 500 for groups without a user). */
int ts_impersonate(kr_testserver_t *ts, const ts_request *req, ts_identity *who, ts_response *resp);
/* 0 = allowed; otherwise fills resp (403). */
int ts_authorize(kr_testserver_t *ts, const ts_identity *who, const char *verb, const ts_route *rt,
                 ts_response *resp);
/* RBAC mode: 0 when `who` may use the non-resource path of `req`;
 * otherwise fills resp (403). Always 0 outside RBAC mode. */
int ts_authorize_path(kr_testserver_t *ts, const ts_identity *who, const ts_request *req,
                      ts_response *resp);
/* Whether the token's verb list allows `verb` (no list: every verb). */
bool ts_identity_allows(const ts_identity *who, const char *verb);
/* {"username", "uid"?, "groups"} of `who`, as audit events and
 * SelfSubjectReviews carry it; new. */
json_t *ts_identity_user_info(const ts_identity *who);

/* ---- RBAC (rbac.c) ----------------------------------------------------------------- */

/* What a request asks to do: a resource (group, resource, subresource,
 * name, namespace; NULLs for none) or, with `path`, a non-resource URL. */
typedef struct ts_attributes {
    const char *verb, *group, *resource, *sub, *name, *ns, *path;
} ts_attributes;

/* Whether RBAC (bindings and roles in the store, the system:masters group)
 * allows `a` to `who`; *reason (may be NULL) gets a new "RBAC: allowed by
 * ..." text when it does. */
bool ts_rbac_allows(kr_testserver_t *ts, const ts_identity *who, const ts_attributes *a,
                    char **reason);
/* RBAC mode: 0 when the writer of a Role, ClusterRole or binding (rt->who)
 * holds every right it grants, or may escalate or bind; otherwise fills
 * resp (403, or 404 for a binding to a role that does not exist). */
int ts_rbac_admit(kr_testserver_t *ts, const ts_route *rt, const json_t *obj, ts_response *resp);
/* The rules that apply to `who` in namespace `ns`, as a
 * SelfSubjectRulesReview's status; new. */
json_t *ts_rbac_rules(kr_testserver_t *ts, const ts_identity *who, const char *ns);
/* The clusterrole-aggregation controller's work, done at once after a
 * ClusterRole is written or deleted: each ClusterRole with an
 * aggregationRule gets the rules of those its selectors match. */
void ts_rbac_aggregate(kr_testserver_t *ts);
/* Create kube-apiserver's bootstrap roles and bindings (cluster-admin;
 * admin, edit and view aggregated from system:aggregate-to-*;
 * system:basic-user, system:discovery, system:public-info-viewer). */
int ts_rbac_bootstrap(kr_testserver_t *ts);

/* ---- review resources (review.c) ---------------------------------------------- */

/* POST of a SelfSubjectAccessReview (allowed by the token's verbs), a
 * SelfSubjectRulesReview (what the token may do) or a SelfSubjectReview
 * (who the request authenticated as): 201 with the
 * status filled in; nothing is stored. Every identity may create them, as
 * RBAC's system:basic-user role allows. */
void ts_handle_review(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                      const ts_identity *who, ts_response *resp);
/* Whether a review resource asks about its requester (the self reviews,
 * allowed to everyone) rather than about a subject it names
 * (SubjectAccessReview, LocalSubjectAccessReview: authorized as creates). */
bool ts_review_is_self(const ts_resource *res);
/* POST of a TokenRequest to serviceaccounts/NAME/token: 201 with a new
 * token that authenticates as system:serviceaccount:NS:NAME with every
 * verb, when the server checks tokens at all. */
void ts_handle_token_request(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                             ts_response *resp);
/* A service account token a TokenRequest issued (review.c). */
typedef struct ts_issued {
    char *token;
    char *user; /* system:serviceaccount:NS:NAME */
    char *uid; /* the service account's */
    char *credential_id; /* "JTI=<the token's jti>" */
    json_t *audiences; /* its aud claim */
    long long expires; /* its exp claim, seconds since the epoch */
} ts_issued;
/* The issued token `token`, or NULL. */
const ts_issued *ts_issued_find(const kr_testserver_t *ts, const char *token);
void ts_issued_free(kr_testserver_t *ts);
/* Preconditions (`uid`, `resourceVersion` in `pre`) against the stored
 * `obj`: 0, or -1 with kube's 409 in resp. (delete.c) */
int ts_check_preconditions(const ts_resource *res, const char *name, const json_t *obj,
                           const json_t *pre, ts_response *resp);
/* POST pods/NAME/binding and POST bindings (binding.c): place a pod on a
 * node as a scheduler does. */
void ts_handle_pod_binding(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                           ts_response *resp);
void ts_handle_bindings_create(kr_testserver_t *ts, const ts_request *req, const ts_route *rt,
                               ts_response *resp);
/* The body of a request as an object of any kind (JSON, YAML or
 * protobuf), or NULL after answering the error. */
json_t *ts_read_body(const ts_request *req, ts_response *resp);
/* The body of a POST or PUT as an object of the route's kind (JSON, YAML
 * or protobuf), or NULL after answering the error. Given wrong_kind, a
 * custom resource's body of another kind is taken as of the route's kind
 * and its own given back (allocated) for ts_check_wrong_kind. */
/* A built-in kind's body as kube-apiserver's decoding meets it: a kind
 * or version its scheme does not register (`pod in version "v1" cannot
 * be handled as a Pod: no kind "pod" is registered for version "v1" in
 * scheme ...`, kubectl sends a manifest's `kind: pod` so) or a kind that
 * does not convert to the endpoint's (`converting (v1.ConfigMap) to
 * (core.Pod): unknown conversion`), a 400. */
int ts_check_builtin_decode(const ts_resource *res, const json_t *obj, ts_response *resp);
/* Given dups, a JSON body's duplicate keys are taken as kube-apiserver's
 * strict decoding takes them (ts_body_duplicates): *dups their paths
 * (new), or NULL when it has none. */
json_t *ts_read_object(const ts_request *req, const ts_route *rt, char **wrong_kind, json_t **dups,
                       ts_response *resp);
int ts_check_wrong_kind(const ts_write *w, const json_t *obj, ts_response *resp);
bool ts_fault_inject(kr_testserver_t *ts, const ts_request *req, ts_response *resp);
/* A write done (a 2xx answer in resp) becomes a 500, as faults say: the
 * answer is lost, the write is not. */
void ts_fault_after_write(kr_testserver_t *ts, const ts_request *req, ts_response *resp);
void ts_compact_locked(kr_testserver_t *ts);
void ts_restart_locked(kr_testserver_t *ts);

/* ---- HTTP transport (ts_http.c) --------------------------------------------------- */

int ts_http_start(kr_testserver_t *ts, kr_error_t *err);
void ts_http_stop(kr_testserver_t *ts);
void ts_http_resume(void *conn);
void ts_http_suspend(void *conn);
/* True when the peer closed its end (a plain-TCP check without reading). */
bool ts_http_peer_closed(void *conn);

/* ---- the audit log (audit.c) ------------------------------------------------- */

typedef struct ts_audit ts_audit;
#define TS_AUDIT_TIME_LEN 40
/* Open `path` for appending as ts->audit. Errors: KR_EIO, KR_ENOMEM. */
int ts_audit_open(kr_testserver_t *ts, const char *path, kr_error_t *err);
void ts_audit_close(kr_testserver_t *ts);
/* A new random UUID (version 4) as kube-apiserver gives each request
 * without an Audit-ID header, from the system's random source (not the
 * seeded one the objects' uids come from). */
void ts_audit_id_new(char out[TS_AUDIT_ID_LEN]);
/* Now in RFC 3339 with microseconds, as audit timestamps are written. */
void ts_audit_now(char out[TS_AUDIT_TIME_LEN]);
/* Append the Event of an answered request (no-op without an audit log).
 * Called without ts->mu held. */
void ts_audit_record(kr_testserver_t *ts, const ts_request *req, const ts_response *resp,
                     const char received[TS_AUDIT_TIME_LEN]);

/* ---- request counters (stats.c) ---------------------------------------------- */

/* Count one request routed to `rt` (a resource) by its audit verb. */
void ts_stats_count(kr_testserver_t *ts, const char *verb, const ts_route *rt);
json_t *ts_stats_requests(kr_testserver_t *ts); /* new: "verb resource" -> count */
void ts_stats_reset(kr_testserver_t *ts);
/* The labels of a routed request, into resp->metric: kube-apiserver's
 * verb (GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE,
 * DELETECOLLECTION, CONNECT, from the audit verb `verb`), scope, group,
 * version, resource, subresource and dry_run. */
void ts_metrics_label(const ts_request *req, const ts_route *rt, const char *verb,
                      ts_response *resp);
/* Whether the route is one of the streams a kubelet would serve (pods/exec,
 * attach, portforward: kube-apiserver's CONNECT). (handler.c) */
bool ts_route_connects(const ts_route *rt);
/* Count the answered request in apiserver_request_total. */
void ts_metrics_count(kr_testserver_t *ts, const ts_request *req, const ts_response *resp);
/* GET /metrics: Prometheus text, as kube-apiserver's (the request counter
 * and apiserver_storage_objects). */
void ts_respond_metrics(kr_testserver_t *ts, ts_response *resp);

#endif /* KR_TS_INTERNAL_H */
