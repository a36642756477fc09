/* libkreconcile-testserver — CertificateSigningRequests as the
 * certificates registry keeps them (wire spec §8): a create records who
 * asked (spec.username, uid, groups, extra) and must carry a PKCS#10
 * request whose signature verifies, a signer name and usages; the object
 * itself changes only in its metadata, /status only in its status (not
 * the approval), and /approval only in the Approved and Denied conditions.
 * Nothing signs: a certificate appears when a client writes it through
 * /status, as a signer controller would. Callers hold ts->mu. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "testserver/ts_internal.h"

bool ts_csr_is(const ts_resource *res)
{
    return ts_resource_is(res, "certificates.k8s.io", "certificatesigningrequests");
}

/* The usages certificates/v1 accepts, sorted as the validation lists them. */
static const char *const USAGES[] = {"any",
                                     "cert sign",
                                     "client auth",
                                     "code signing",
                                     "content commitment",
                                     "crl sign",
                                     "data encipherment",
                                     "decipher only",
                                     "digital signature",
                                     "email protection",
                                     "encipher only",
                                     "ipsec end system",
                                     "ipsec tunnel",
                                     "ipsec user",
                                     "key agreement",
                                     "key encipherment",
                                     "microsoft sgc",
                                     "netscape sgc",
                                     "ocsp signing",
                                     "s/mime",
                                     "server auth",
                                     "signing",
                                     "timestamping"};

static void add_cause(json_t *causes, const char *reason, const char *field, const char *message)
{
    json_array_append_new(
        causes, json_pack("{s:s, s:s, s:s}", "reason", reason, "message", message, "field", field));
}

/* Go's %#v of a []byte, as field.Invalid prints the request it rejects. */
static void go_bytes(kr_buf *b, const unsigned char *p, size_t len)
{
    kr_buf_append_str(b, "[]byte{");
    for (size_t i = 0; i < len; i++)
        kr_buf_printf(b, "%s0x%x", i ? ", " : "", p[i]);
    kr_buf_append_str(b, "}");
}

/* NULL when `pem` holds a PKCS#10 request signed by its own key; else why
 * not, as Go's x509 package words it. */
static const char *request_problem(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long der_len = 0;
    const char *why = NULL;
    if (!bio || PEM_read_bio(bio, &name, &header, &der, &der_len) != 1 ||
        strcmp(name, "CERTIFICATE REQUEST") != 0) {
        why = "PEM block type must be CERTIFICATE REQUEST";
    } else {
        const unsigned char *p = der;
        X509_REQ *req = d2i_X509_REQ(NULL, &p, der_len);
        EVP_PKEY *key = req ? X509_REQ_get0_pubkey(req) : NULL;
        if (!req || p != der + der_len)
            why = "x509: malformed certificate request";
        else if (!key || X509_REQ_verify(req, key) != 1)
            why = "x509: signature verification failure";
        X509_REQ_free(req);
    }
    ERR_clear_error();
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    return why;
}

static void check_request(const json_t *spec, json_t *causes)
{
    const char *b64 = json_string_value(json_object_get(spec, "request"));
    char *pem = NULL;
    size_t len = 0, bad_at = 0;
    if (!b64 || !*b64) {
        add_cause(causes, "FieldValueRequired", "spec.request", "Required value");
        return;
    }
    if (kr_base64_decode(b64, strlen(b64), false, &pem, &len, &bad_at) != 0) {
        /* the JSON decoder's own complaint: []byte fields are base64 */
        add_cause(causes, "FieldValueInvalid", "spec.request",
                  "Invalid value: \"\": illegal base64 data in the request");
        return;
    }
    const char *why = request_problem(pem, len);
    if (why) {
        kr_buf b = {0};
        kr_buf_append_str(&b, "Invalid value: ");
        go_bytes(&b, (const unsigned char *)pem, len);
        kr_buf_printf(&b, ": %s", why);
        add_cause(causes, "FieldValueInvalid", "spec.request", b.data ? b.data : why);
        kr_buf_free(&b);
    }
    kr_free(pem);
}

static void signer_cause(json_t *causes, const char *value, size_t len, const char *why)
{
    kr_buf b = {0}, v = {0};
    kr_buf_append(&v, value, len);
    kr_buf_append_str(&b, "Invalid value: ");
    ts_go_quote(&b, v.data ? v.data : "");
    kr_buf_printf(&b, ": %s", why);
    add_cause(causes, "FieldValueInvalid", "spec.signerName", b.data ? b.data : why);
    kr_buf_free(&b);
    kr_buf_free(&v);
}

/* "example.com/signer-name": a domain of two labels or more, one slash, a
 * path (the apiserver's checks of the domain, in its words). */
static void check_signer(const json_t *spec, json_t *causes)
{
    const char *signer = json_string_value(json_object_get(spec, "signerName"));
    if (!signer || !*signer) {
        add_cause(causes, "FieldValueRequired", "spec.signerName",
                  "Required value: signerName must be provided");
        return;
    }
    const char *slash = strchr(signer, '/');
    if (!slash || strchr(slash + 1, '/')) {
        signer_cause(causes, signer, strlen(signer),
                     "must be a fully qualified domain and path of the form "
                     "'example.com/signer-name'");
        return;
    }
    size_t domain = (size_t)(slash - signer), labels = 0;
    for (const char *p = signer; p <= slash; labels++) {
        size_t len = strcspn(p, "./");
        if (p + len > slash)
            len = (size_t)(slash - p);
        if (!ts_valid_label(p, len)) {
            char why[512];
            snprintf(why, sizeof(why), "validating label \"%.*s\": %s", (int)len, p,
                     ts_label_message);
            signer_cause(causes, signer, domain, why);
            labels = 2;
            break;
        }
        p += len + 1;
    }
    if (labels < 2)
        signer_cause(causes, signer, domain,
                     "should be a domain with at least two segments separated by dots");
}

static void check_usages(const json_t *spec, json_t *causes)
{
    const json_t *usages = json_object_get(spec, "usages");
    if (json_array_size(usages) == 0) {
        add_cause(causes, "FieldValueRequired", "spec.usages",
                  "Required value: usages must be provided");
        return;
    }
    size_t i;
    const json_t *u;
    json_array_foreach(usages, i, u)
    {
        const char *s = json_string_value(u);
        bool known = false;
        for (size_t k = 0; s && !known && k < KR_ARRAY_LEN(USAGES); k++)
            known = strcmp(s, USAGES[k]) == 0;
        if (known)
            continue;
        kr_buf b = {0}, field = {0};
        kr_buf_append_str(&b, "Unsupported value: ");
        ts_go_quote(&b, s ? s : "");
        kr_buf_append_str(&b, ": supported values: ");
        for (size_t k = 0; k < KR_ARRAY_LEN(USAGES); k++) {
            kr_buf_append_str(&b, k ? ", " : "");
            ts_go_quote(&b, USAGES[k]);
        }
        kr_buf_printf(&field, "spec.usages[%zu]", i);
        add_cause(causes, "FieldValueNotSupported", field.data ? field.data : "spec.usages",
                  b.data ? b.data : "");
        kr_buf_free(&b);
        kr_buf_free(&field);
    }
    json_array_foreach(usages, i, u)
    {
        for (size_t k = 0; k < i; k++) {
            if (!json_equal(json_array_get(usages, k), u))
                continue;
            kr_buf b = {0};
            char field[48];
            snprintf(field, sizeof(field), "spec.usages[%zu]", i);
            kr_buf_append_str(&b, "Duplicate value: ");
            ts_go_quote(&b, json_string_value(u) ? json_string_value(u) : "");
            add_cause(causes, "FieldValueDuplicate", field, b.data ? b.data : "");
            kr_buf_free(&b);
            break;
        }
    }
}

static void check_expiration(const json_t *spec, json_t *causes)
{
    const json_t *secs = json_object_get(spec, "expirationSeconds");
    if (!json_is_integer(secs) || json_integer_value(secs) >= 600)
        return;
    char msg[128];
    snprintf(msg, sizeof(msg),
             "Invalid value: %lld: may not specify a duration less than 600 seconds (10 minutes)",
             (long long)json_integer_value(secs));
    add_cause(causes, "FieldValueInvalid", "spec.expirationSeconds", msg);
}

static bool approval_type(const char *type)
{
    return type && (strcmp(type, "Approved") == 0 || strcmp(type, "Denied") == 0);
}

static const json_t *condition_of(const json_t *conditions, const char *type)
{
    size_t i;
    const json_t *c;
    json_array_foreach(conditions, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && type && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

static void not_supported(json_t *causes, const char *field, const char *value,
                          const char *supported)
{
    kr_buf b = {0};
    kr_buf_append_str(&b, "Unsupported value: ");
    ts_go_quote(&b, value);
    kr_buf_printf(&b, ": supported values: %s", supported);
    add_cause(causes, "FieldValueNotSupported", field, b.data ? b.data : "");
    kr_buf_free(&b);
}

static size_t count_of(const json_t *conditions, const char *type)
{
    size_t n = 0, i;
    const json_t *c;
    json_array_foreach(conditions, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        n += t && strcmp(t, type) == 0;
    }
    return n;
}

/* The conditions: a type and a status each, Approved, Denied and Failed
 * only True, Approved and Denied exclusive, each type once. */
static void check_conditions(const json_t *conds, json_t *causes)
{
    size_t i;
    const json_t *c;
    bool approved = false, denied = false;
    json_array_foreach(conds, i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *status = json_string_value(json_object_get(c, "status"));
        char field[64];
        snprintf(field, sizeof(field), "status.conditions[%zu].type", i);
        if (!type || !*type)
            add_cause(causes, "FieldValueRequired", field, "Required value");
        type = type ? type : "";
        bool fixed = approval_type(type) || strcmp(type, "Failed") == 0;
        snprintf(field, sizeof(field), "status.conditions[%zu].status", i);
        if (!status || !*status)
            add_cause(causes, "FieldValueRequired", field, "Required value");
        else if (fixed && strcmp(status, "True") != 0)
            not_supported(causes, field, status, "\"True\"");
        else if (!fixed && strcmp(status, "True") != 0 && strcmp(status, "False") != 0 &&
                 strcmp(status, "Unknown") != 0)
            not_supported(causes, field, status, "\"False\", \"True\", \"Unknown\"");
        snprintf(field, sizeof(field), "status.conditions[%zu].type", i);
        bool clash =
            (strcmp(type, "Approved") == 0 && denied) || (strcmp(type, "Denied") == 0 && approved);
        approved = approved || strcmp(type, "Approved") == 0;
        denied = denied || strcmp(type, "Denied") == 0;
        kr_buf b = {0};
        if (clash) {
            kr_buf_append_str(&b, "Invalid value: ");
            ts_go_quote(&b, type);
            kr_buf_append_str(&b, ": Approved and Denied conditions are mutually exclusive");
            add_cause(causes, "FieldValueInvalid", field, b.data ? b.data : "");
            kr_buf_free(&b);
        }
        if (condition_of(conds, type) != c) {
            kr_buf_append_str(&b, "Duplicate value: ");
            ts_go_quote(&b, type);
            add_cause(causes, "FieldValueDuplicate", field, b.data ? b.data : "");
            kr_buf_free(&b);
        }
    }
}

/* NULL when `pem` holds one CERTIFICATE block or more, each with a
 * certificate and no headers; else why not, in the apiserver's words. */
static const char *certificate_problem(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    const char *why = NULL;
    size_t blocks = 0;
    while (bio && !why) {
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        long der_len = 0;
        if (PEM_read_bio(bio, &name, &header, &der, &der_len) != 1)
            break;
        blocks++;
        const unsigned char *p = der;
        X509 *cert = NULL;
        if (strcmp(name, "CERTIFICATE") != 0)
            why = "only CERTIFICATE PEM blocks are allowed";
        else if (header && *header)
            why = "no PEM block headers are permitted";
        else if (!(cert = d2i_X509(NULL, &p, der_len)))
            why = "x509: malformed certificate";
        X509_free(cert);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
    }
    ERR_clear_error();
    BIO_free(bio);
    if (!why && blocks == 0)
        why = "must contain at least one CERTIFICATE PEM block";
    return why;
}

/* After a /status or /approval write: the conditions, the approval never
 * taken back, and the certificate set once, as PEM certificates. */
static void check_status(const json_t *obj, const json_t *old, json_t *causes)
{
    const json_t *status = json_object_get(obj, "status");
    const json_t *conds = json_object_get(status, "conditions");
    const json_t *old_conds = json_object_get(json_object_get(old, "status"), "conditions");
    check_conditions(conds, causes);
    const char *cert = json_string_value(json_object_get(status, "certificate"));
    const char *was =
        json_string_value(json_object_get(json_object_get(old, "status"), "certificate"));
    bool changed = strcmp(cert ? cert : "", was ? was : "") != 0;
    if (changed && cert && *cert) {
        char *pem = NULL;
        size_t len = 0;
        const char *why = kr_base64_decode(cert, strlen(cert), false, &pem, &len, NULL) == 0
                              ? certificate_problem(pem, len)
                              : "illegal base64 data";
        kr_free(pem);
        if (why) {
            char msg[160];
            snprintf(msg, sizeof(msg), "Invalid value: \"<certificate data>\": %s", why);
            add_cause(causes, "FieldValueInvalid", "status.certificate", msg);
        }
    }
    static const char *const kept[] = {"Approved", "Denied", "Failed"};
    for (size_t k = 0; k < KR_ARRAY_LEN(kept); k++) {
        if (count_of(conds, kept[k]) < count_of(old_conds, kept[k])) {
            char msg[96];
            snprintf(msg, sizeof(msg),
                     "Forbidden: updates may not remove a condition of type \"%s\"", kept[k]);
            add_cause(causes, "FieldValueForbidden", "status.conditions", msg);
        }
    }
    if (changed && was && *was)
        add_cause(causes, "FieldValueForbidden", "status.certificate",
                  "Forbidden: updates may not modify existing certificate content");
}

/* Timestamps a condition lacks: lastUpdateTime now; lastTransitionTime
 * the old condition's of that type when its status is unchanged, else now. */
static void stamp_conditions(json_t *obj, const json_t *old)
{
    json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
    const json_t *old_conds = json_object_get(json_object_get(old, "status"), "conditions");
    char now[32];
    ts_timestamp(now);
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        if (!json_is_object(c))
            continue;
        if (!json_string_value(json_object_get(c, "lastUpdateTime")))
            json_object_set_new(c, "lastUpdateTime", json_string(now));
        if (json_string_value(json_object_get(c, "lastTransitionTime")))
            continue;
        const json_t *was = condition_of(old_conds, json_string_value(json_object_get(c, "type")));
        const json_t *when = json_object_get(was, "lastTransitionTime");
        bool same = was && json_equal(json_object_get(was, "status"), json_object_get(c, "status"));
        json_object_set_new(c, "lastTransitionTime",
                            same && json_is_string(when) ? json_incref((json_t *)when)
                                                         : json_string(now));
    }
}

static int respond_causes(const json_t *obj, json_t *causes, ts_response *resp)
{
    if (json_array_size(causes) == 0) {
        json_decref(causes);
        return 0;
    }
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    ts_respond_invalid_causes(resp, "CertificateSigningRequest", "certificates.k8s.io", name,
                              causes);
    json_decref(causes);
    return KR_EINVALIDOBJ;
}

int ts_csr_create(const ts_write *w, json_t *obj, ts_response *resp)
{
    json_t *spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        if (!spec || json_object_set_new(obj, "spec", spec) != 0)
            return KR_ENOMEM;
    }
    if (w->rt->who) {
        /* who asked, always: whatever the body claims is replaced */
        json_t *info = ts_identity_user_info(w->rt->who);
        if (!info)
            return KR_ENOMEM;
        json_object_del(spec, "uid");
        json_object_del(spec, "extra");
        json_object_set(spec, "username", json_object_get(info, "username"));
        json_object_set(spec, "groups", json_object_get(info, "groups"));
        if (json_object_get(info, "uid"))
            json_object_set(spec, "uid", json_object_get(info, "uid"));
        if (json_object_get(info, "extra"))
            json_object_set(spec, "extra", json_object_get(info, "extra"));
        json_decref(info);
    }
    json_t *causes = json_array();
    if (!causes)
        return KR_ENOMEM;
    check_request(spec, causes);
    check_usages(spec, causes);
    check_signer(spec, causes);
    check_expiration(spec, causes);
    return respond_causes(obj, causes, resp);
}

/* The status conditions of `into`: its own whose type is an approval
 * (Approved, Denied) when !want, or is not when want, then those of `from`
 * of the other side. */
static void take_conditions(json_t *into, const json_t *from, bool want)
{
    json_t *status = json_object_get(into, "status");
    if (!json_is_object(status)) {
        status = json_object();
        json_object_set_new(into, "status", status);
    }
    const json_t *mine = json_object_get(status, "conditions");
    const json_t *theirs = json_object_get(json_object_get(from, "status"), "conditions");
    json_t *out = json_array();
    size_t i;
    const json_t *c;
    json_array_foreach(mine, i, c)
    {
        if (approval_type(json_string_value(json_object_get(c, "type"))) != want)
            json_array_append(out, (json_t *)c);
    }
    json_array_foreach(theirs, i, c)
    {
        if (approval_type(json_string_value(json_object_get(c, "type"))) == want)
            json_array_append(out, (json_t *)c);
    }
    if (json_array_size(out))
        json_object_set_new(status, "conditions", out);
    else {
        json_decref(out);
        json_object_del(status, "conditions");
    }
    if (json_object_size(status) == 0)
        json_object_del(into, "status");
}

json_t *ts_csr_merge(const char *sub, const json_t *existing, json_t *obj)
{
    json_t *out = NULL;
    if (!sub) {
        /* the object itself: metadata only */
        out = obj;
        obj = NULL;
        static const char *const kept[] = {"spec", "status"};
        for (size_t i = 0; i < KR_ARRAY_LEN(kept); i++) {
            const json_t *v = json_object_get(existing, kept[i]);
            if (v)
                json_object_set_new(out, kept[i], json_deep_copy(v));
            else
                json_object_del(out, kept[i]);
        }
    } else if (strcmp(sub, "approval") == 0) {
        /* the Approved and Denied conditions, nothing else */
        out = json_deep_copy(existing);
        if (out)
            take_conditions(out, obj, true);
    } else {
        /* status: all of it but the approval, which stays as it was */
        out = json_deep_copy(existing);
        json_t *status = json_object_get(obj, "status");
        if (out && json_is_object(status))
            json_object_set_new(out, "status", json_deep_copy(status));
        else if (out)
            json_object_del(out, "status");
        if (out)
            take_conditions(out, existing, true);
    }
    json_decref(obj);
    return out;
}

int ts_csr_update(const char *sub, const json_t *existing, json_t *obj, ts_response *resp)
{
    if (!sub)
        return 0;
    stamp_conditions(obj, existing);
    json_t *causes = json_array();
    if (!causes)
        return KR_ENOMEM;
    check_status(obj, existing, causes);
    return respond_causes(obj, causes, resp);
}
