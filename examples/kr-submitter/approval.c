/* kr-submitter — approvals: N distinct members of the policy's group, never
 * the submitter; each approval carries the spec hash it was given for, so
 * that a changed spec voids it; one rejection ends the Runnable. Pure
 * functions over Runnable JSON: the caller writes the result with a
 * resourceVersion precondition. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "submitter.h"

#define DECISION_APPROVED "Approved"
#define DECISION_REJECTED "Rejected"

/* The key decisions are sealed with (HMAC-SHA256), the same in every
 * replica: set once at start, before any thread decides or counts. */
static unsigned char seal_key[SHA256_DIGEST_LENGTH];
static bool seal_key_set;

void approval_seal_key(const unsigned char *material, size_t len)
{
    SHA256(material, len, seal_key);
    seal_key_set = true;
}

/* The seal of a decision of the Runnable of `uid`: what the API took
 * (its author, the decision, the spec it binds to), not when. */
static void seal_of(const char *uid, const json_t *entry, char out[65])
{
    const char *parts[] = {uid, sub_str(entry, "user"), sub_str(entry, "decision"),
                           sub_str(entry, "specHash")};
    size_t len = 0;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        len += strlen(parts[i]) + 1;
    unsigned char *text = malloc(len), mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    bool ok = text != NULL;
    for (size_t i = 0, at = 0; ok && i < sizeof(parts) / sizeof(parts[0]); i++) {
        /* each part with its terminator: no two splits of one text agree */
        memcpy(text + at, parts[i], strlen(parts[i]) + 1);
        at += strlen(parts[i]) + 1;
    }
    ok = ok && HMAC(EVP_sha256(), seal_key, sizeof(seal_key), text, len, mac, &n) != NULL &&
         n == SHA256_DIGEST_LENGTH;
    free(text);
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; ok && i < n; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[ok ? 2 * n : 0] = '\0';
}

bool approval_sealed(const json_t *runnable, const json_t *entry)
{
    /* With the key, the seal alone decides: "forged" is the controller's
     * note of a seal that did not verify when it looked, which anyone who
     * may write runnables/status can also set, and which a key since put
     * right makes stale. */
    if (!seal_key_set) /* a reader of the API's answers (the CLI): as given */
        return !json_is_true(json_object_get(entry, "forged"));
    char want[65];
    seal_of(sub_str(runnable, "metadata.uid"), entry, want);
    const char *seal = sub_str(entry, "seal");
    return *want && strlen(seal) == 64 && CRYPTO_memcmp(seal, want, 64) == 0;
}

int approval_spec_hash(const json_t *runnable, char out[65])
{
    out[0] = '\0';
    /* a shallow copy: the members are shared, only the key is left out */
    json_t *spec = json_object();
    if (!spec)
        return KR_ENOMEM;
    const json_t *given = json_object_get(runnable, "spec");
    if (json_is_object(given) && json_object_update(spec, (json_t *)given) != 0) {
        json_decref(spec);
        return KR_ENOMEM;
    }
    json_object_del(spec, "idempotencyKey");
    /* a spec that is not an object is hashed as it is */
    const json_t *hashed = given && !json_is_object(given) ? given : spec;
    char *text = json_dumps(hashed, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(spec);
    if (!text)
        return KR_ENOMEM;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), digest);
    free(text);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(digest); i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * sizeof(digest)] = '\0';
    return 0;
}

/* A required count as a bounded number: past the bound the API refuses
 * (created on the hub directly), the bound, never a number wrapped round
 * to a small one. */
static unsigned bounded(json_int_t n)
{
    return n <= 0 ? 0 : n > SUB_MAX_APPROVALS ? SUB_MAX_APPROVALS : (unsigned)n;
}

void approval_policy_record(json_t *status, const json_t *runnable)
{
    if (json_object_get(status, "approvalPolicy"))
        return;
    json_object_set_new(status, "approvalPolicy",
                        json_pack("{s:I, s:s}", "required",
                                  (json_int_t)bounded(sub_int(runnable, "spec.approval.required")),
                                  "group", sub_str(runnable, "spec.approval.group")));
}

const char *approval_group(const json_t *runnable)
{
    const json_t *policy = json_object_get(json_object_get(runnable, "status"), "approvalPolicy");
    const char *group = json_string_value(json_object_get(policy, "group"));
    return group ? group : sub_str(runnable, "spec.approval.group");
}

unsigned approval_required(const json_t *runnable)
{
    unsigned required = bounded(sub_int(runnable, "spec.approval.required"));
    unsigned submitted = bounded(sub_int(runnable, "status.approvalPolicy.required"));
    if (submitted > required) /* lowered by an edit of the spec: not below what it came with */
        required = submitted;
    if (strcmp(sub_str(runnable, "status.submittedBy"), SUB_UNKNOWN_SUBMITTER) == 0 &&
        required == 0)
        required = 1;
    return required;
}

/* The latest sealed decision of `user` for `spec_hash`, or NULL. */
static const char *latest_decision(const json_t *runnable, const char *user, const char *spec_hash)
{
    const char *found = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(runnable, "status"), "approvals"), i, a)
    {
        if (strcmp(sub_str(a, "user"), user) == 0 &&
            strcmp(sub_str(a, "specHash"), spec_hash) == 0 && approval_sealed(runnable, a))
            found = sub_str(a, "decision");
    }
    return found;
}

unsigned approval_count(const json_t *runnable, const char *spec_hash)
{
    const json_t *approvals = json_object_get(json_object_get(runnable, "status"), "approvals");
    const char *by = sub_str(runnable, "status.submittedBy");
    unsigned n = 0;
    size_t i;
    json_t *a;
    json_array_foreach(approvals, i, a)
    {
        const char *user = sub_str(a, "user");
        if (!approval_sealed(runnable, a))
            continue; /* not taken by the API: never counts */
        bool first = true; /* count each user once: at their first sealed entry */
        for (size_t j = 0; j < i && first; j++) {
            const json_t *b = json_array_get(approvals, j);
            if (strcmp(sub_str(b, "user"), user) == 0 && approval_sealed(runnable, b))
                first = false;
        }
        const char *d = latest_decision(runnable, user, spec_hash);
        if (first && *user && strcmp(user, by) != 0 && d && strcmp(d, DECISION_APPROVED) == 0)
            n++;
    }
    return n;
}

bool approval_rejected(const json_t *runnable, const char *spec_hash)
{
    const json_t *approvals = json_object_get(json_object_get(runnable, "status"), "approvals");
    size_t i;
    json_t *a;
    json_array_foreach(approvals, i, a)
    {
        if (strcmp(sub_str(a, "decision"), DECISION_REJECTED) == 0 &&
            strcmp(sub_str(a, "specHash"), spec_hash) == 0 && approval_sealed(runnable, a))
            return true;
    }
    return false;
}

static bool unrecorded(const json_t *entry)
{
    return json_is_false(json_object_get(entry, "recorded"));
}

bool approval_unrecorded(const json_t *runnable)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(runnable, "status"), "approvals"), i, a)
    {
        if (unrecorded(a) && approval_sealed(runnable, a)) /* one not sealed holds nothing */
            return true;
    }
    return false;
}

const char *approval_next_phase(const json_t *runnable, const char *spec_hash)
{
    if (approval_rejected(runnable, spec_hash))
        return SUB_PHASE_REJECTED;
    if (approval_count(runnable, spec_hash) >= approval_required(runnable) &&
        !approval_unrecorded(runnable))
        return SUB_PHASE_DISPATCHING;
    return SUB_PHASE_AWAITING;
}

void approval_summary(const json_t *runnable, char *out, size_t len)
{
    char now[65] = "";
    approval_spec_hash(runnable, now);
    unsigned need = approval_required(runnable);
    if (need == 0) { /* none required, edited or not: nothing to count */
        snprintf(out, len, "-");
        return;
    }
    const char *phase = sub_str(runnable, "status.phase"),
               *ran = sub_str(runnable, "status.specHash");
    /* waiting: the spec as it is now is what the approvals are for */
    bool waiting =
        !*phase || strcmp(phase, SUB_PHASE_PENDING) == 0 || strcmp(phase, SUB_PHASE_AWAITING) == 0;
    if (waiting || !*ran || strcmp(ran, now) == 0) {
        snprintf(out, len, "%u/%u", approval_count(runnable, now), need);
        return;
    }
    /* past approval, the spec edited since: the approvals the copy was
     * dispatched (or the runnable ended) with, then the edited spec's,
     * which any new create waits for (both out of what the policy
     * requires now: what it required at the dispatch is not kept) */
    snprintf(out, len, "%u/%u (edited spec: %u/%u)", approval_count(runnable, ran), need,
             approval_count(runnable, now), need);
}

void approval_outcome(const json_t *runnable, size_t index, char *out, size_t len)
{
    const json_t *all = json_object_get(json_object_get(runnable, "status"), "approvals");
    const json_t *entry = json_array_get(all, index);
    if (strcmp(sub_str(entry, "decision"), DECISION_REJECTED) == 0) {
        snprintf(out, len, "%s", SUB_PHASE_REJECTED); /* one rejection ends it */
        return;
    }
    /* the approvals up to it, for the spec it was given for: a shallow
     * copy whose status holds only those */
    json_t *then = json_copy((json_t *)runnable);
    json_t *status = json_copy(json_object_get(runnable, "status"));
    json_t *approvals = json_array();
    bool ok = then && status && approvals;
    for (size_t i = 0; ok && i <= index && i < json_array_size(all); i++)
        ok = json_array_append(approvals, json_array_get(all, i)) == 0;
    ok = ok && json_object_set(status, "approvals", approvals) == 0 &&
         json_object_set(then, "status", status) == 0;
    const char *hash = sub_str(entry, "specHash");
    unsigned n = ok ? approval_count(then, hash) : 0, need = approval_required(runnable);
    json_decref(approvals);
    json_decref(status);
    json_decref(then);
    if (!ok)
        snprintf(out, len, "approved");
    else if (n >= need)
        snprintf(out, len, "approved: quorum met");
    else
        snprintf(out, len, "approved: %u of %u", n, need);
}

unsigned approval_voided(const json_t *runnable, const char *spec_hash, char *message, size_t len)
{
    const char *was = sub_str(runnable, "status.specHash");
    unsigned voided = *was && strcmp(was, spec_hash) != 0 ? approval_count(runnable, was) : 0;
    if (voided && message && len) {
        snprintf(message, len,
                 "the spec changed (hash %.12s... is now %.12s...): %u approval%s given for the "
                 "earlier spec no longer count%s; %u of %u approvals for the spec as it is now",
                 was, spec_hash, voided, voided == 1 ? "" : "s", voided == 1 ? "s" : "",
                 approval_count(runnable, spec_hash), approval_required(runnable));
    }
    return voided;
}

void approval_condition_update(json_t *runnable, const char *spec_hash)
{
    json_t *status = json_object_get(runnable, "status");
    if (!json_is_object(status))
        return;
    char message[300];
    if (approval_voided(runnable, spec_hash, message, sizeof(message))) {
        sub_set_condition(status, SUB_CONDITION_APPROVED, false, "SpecChanged", message);
        return;
    }
    /* the condition is there once approvals were voided: it says when the
     * spec as it is now has its quorum again */
    bool present = false;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        if (strcmp(sub_str(c, "type"), SUB_CONDITION_APPROVED) == 0)
            present = true;
    }
    if (!present || sub_condition_true(runnable, SUB_CONDITION_APPROVED) ||
        strcmp(approval_next_phase(runnable, spec_hash), SUB_PHASE_DISPATCHING) != 0)
        return;
    unsigned n = approval_count(runnable, spec_hash), need = approval_required(runnable);
    snprintf(message, sizeof(message), "%u of %u approvals for the spec as it is now", n, need);
    sub_set_condition(status, SUB_CONDITION_APPROVED, true, "QuorumMet", message);
}

bool approval_mark_recorded(json_t *runnable, const char *user, const char *decision,
                            const char *spec_hash)
{
    json_t *status = json_object_get(runnable, "status");
    bool changed = false;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(status, "approvals"), i, a)
    {
        if (unrecorded(a) && approval_sealed(runnable, a) &&
            strcmp(sub_str(a, "user"), user) == 0 &&
            strcmp(sub_str(a, "decision"), decision) == 0 &&
            strcmp(sub_str(a, "specHash"), spec_hash) == 0) {
            json_object_del(a, "recorded");
            changed = true;
        }
    }
    const char *phase = sub_str(runnable, "status.phase");
    char hash[65];
    if (changed &&
        (strcmp(phase, SUB_PHASE_PENDING) == 0 || strcmp(phase, SUB_PHASE_AWAITING) == 0) &&
        approval_spec_hash(runnable, hash) == 0) {
        json_object_set_new(status, "phase", json_string(approval_next_phase(runnable, hash)));
        approval_condition_update(runnable, hash);
    }
    return changed;
}

/* Whether `who` repeats the decision already theirs on the current spec
 * (and would still be allowed to make it): a client retrying a decision
 * whose answer it lost must not be told 409 because the decision moved
 * the runnable on (a rejection ends it; an approval may complete the
 * quorum). */
static bool approval_repeated(const json_t *runnable, const kr_token_user *who, bool approve,
                              const char *expected_hash)
{
    char hash[65];
    if (approval_spec_hash(runnable, hash) != 0)
        return false;
    if (expected_hash && *expected_hash && strcmp(expected_hash, hash) != 0)
        return false;
    const char *by = sub_str(runnable, "status.submittedBy");
    if (!*by || strcmp(who->user, by) == 0)
        return false;
    const char *group = approval_group(runnable);
    if (*group && !kr_token_user_in_group(who, group))
        return false;
    const char *had = latest_decision(runnable, who->user, hash);
    return had && strcmp(had, approve ? DECISION_APPROVED : DECISION_REJECTED) == 0;
}

int approval_decide(json_t *runnable, const kr_token_user *who, bool approve,
                    const char *expected_hash, kr_error_t *err)
{
    if (approval_repeated(runnable, who, approve, expected_hash))
        return 200; /* a retried decision: nothing to write, whatever the phase now */
    const char *phase = sub_str(runnable, "status.phase");
    if (*phase && strcmp(phase, SUB_PHASE_PENDING) != 0 && strcmp(phase, SUB_PHASE_AWAITING) != 0)
        return sub_fail(err, 409, KR_ECONFLICT, "runnable is %s, not awaiting approval", phase);
    const char *by = sub_str(runnable, "status.submittedBy");
    if (!*by)
        return sub_fail(err, 409, KR_ECONFLICT, "the runnable is not admitted yet: try again");
    if (strcmp(who->user, by) == 0) {
        return sub_fail(err, 403, KR_EFORBIDDEN, "%s submitted this runnable and cannot %s it",
                        who->user, approve ? "approve" : "reject");
    }
    const char *group = approval_group(runnable);
    if (*group && !kr_token_user_in_group(who, group)) {
        return sub_fail(err, 403, KR_EFORBIDDEN,
                        "%s is not a member of group %s, which approves this runnable", who->user,
                        group);
    }
    char hash[65];
    if (approval_spec_hash(runnable, hash) != 0)
        return sub_fail(err, 500, KR_ENOMEM, "out of memory");
    if (expected_hash && *expected_hash && strcmp(expected_hash, hash) != 0) {
        return sub_fail(err, 409, KR_ECONFLICT,
                        "the spec changed since you looked: its hash is now %s, not %s: look "
                        "again",
                        hash, expected_hash);
    }
    json_t *status = json_object_get(runnable, "status");
    if (!json_is_object(status)) {
        status = json_object();
        if (!status || json_object_set_new(runnable, "status", status) != 0)
            return sub_fail(err, 500, KR_ENOMEM, "out of memory");
    }
    const char *want = approve ? DECISION_APPROVED : DECISION_REJECTED;
    json_t *approvals = json_object_get(status, "approvals");
    const char *had = latest_decision(runnable, who->user, hash);
    if (had && strcmp(had, want) == 0)
        return 200;
    if (!json_is_array(approvals)) {
        approvals = json_array();
        if (!approvals || json_object_set_new(status, "approvals", approvals) != 0)
            return sub_fail(err, 500, KR_ENOMEM, "out of memory");
    }
    char now[32];
    sub_now_rfc3339(now);
    /* unrecorded until the caller has put it in the inventory (then
     * approval_mark_recorded): nothing dispatches before that */
    /* approvals of an earlier spec this decision is the first to see
     * voided: said before status.specHash moves on */
    approval_condition_update(runnable, hash);
    json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:b}", "user", who->user, "time", now,
                              "decision", want, "specHash", hash, "recorded", 0);
    if (entry && seal_key_set) {
        /* what the controller and every replica check before it counts */
        char seal[65];
        seal_of(sub_str(runnable, "metadata.uid"), entry, seal);
        json_object_set_new(entry, "seal", json_string(seal));
    }
    if (json_array_append_new(approvals, entry) != 0 ||
        json_object_set_new(status, "specHash", json_string(hash)) != 0 ||
        json_object_set_new(status, "phase", json_string(approval_next_phase(runnable, hash))) != 0)
        return sub_fail(err, 500, KR_ENOMEM, "out of memory");
    return 200;
}
