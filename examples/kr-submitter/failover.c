/* kr-submitter — where an attempt goes and what becomes of the copies of
 * earlier attempts (PLATFORM.md invariant 2): the next cluster in the
 * Runnable's order once the current one has been unreachable past
 * --failover-after (IfNotStarted only, and only before the copy started);
 * a copy of another attempt is deleted if it has not started, and if both
 * started the one that started later is stopped; a cluster that refused
 * an attempt's create for good is not failed over to again for the same
 * spec, and the Runnable goes back to an earlier attempt whose copy may
 * still be alive. Pure functions. */
#include <string.h>

#include "submitter.h"

size_t failover_order(const json_t *runnable, const char *const *configured, size_t n_configured,
                      const char **out, size_t max)
{
    const json_t *list = json_object_get(json_object_get(runnable, "spec"), "clusters");
    size_t n = 0;
    if (json_array_size(list) == 0) {
        for (size_t i = 0; i < n_configured && n < max; i++)
            out[n++] = configured[i];
        return n;
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        for (size_t j = 0; j < n_configured && n < max; j++) {
            if (json_is_string(c) && strcmp(json_string_value(c), configured[j]) == 0)
                out[n++] = configured[j];
        }
    }
    return n;
}

bool failover_attempt_over(const char *state)
{
    return strcmp(state, ATTEMPT_DELETED) == 0 || strcmp(state, ATTEMPT_STOPPED) == 0 ||
           strcmp(state, ATTEMPT_REFUSED) == 0;
}

bool failover_refused(const json_t *runnable, const char *cluster)
{
    const char *hash = sub_str(runnable, "status.specHash");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(runnable, "status"), "attempts"), i, a)
    {
        if (strcmp(sub_str(a, "state"), ATTEMPT_REFUSED) == 0 &&
            strcmp(sub_str(a, "cluster"), cluster) == 0 &&
            strcmp(sub_str(a, "specHash"), hash) == 0)
            return true;
    }
    return false;
}

const char *failover_next(const json_t *runnable, const char *const *order, size_t n,
                          const char *current)
{
    size_t i = 0;
    while (i < n && strcmp(order[i], current) != 0)
        i++;
    for (i++; i < n; i++) {
        if (!failover_refused(runnable, order[i]))
            return order[i];
    }
    return NULL;
}

const json_t *failover_fallback(const json_t *runnable)
{
    json_int_t current = sub_int(runnable, "status.attempt");
    const json_t *best = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(runnable, "status"), "attempts"), i, a)
    {
        json_int_t n = sub_int(a, "attempt");
        if (n == current || failover_attempt_over(sub_str(a, "state")) || !*sub_str(a, "cluster"))
            continue;
        if (!best || n > sub_int(best, "attempt"))
            best = a;
    }
    return best;
}

bool failover_due(const json_t *runnable, bool started, uint64_t unreachable_since_ms,
                  uint64_t now_ms, uint64_t failover_after_ms)
{
    if (started || unreachable_since_ms == 0)
        return false;
    if (strcmp(sub_str(runnable, "spec.failoverPolicy"), "Never") == 0)
        return false;
    return now_ms >= unreachable_since_ms && now_ms - unreachable_since_ms >= failover_after_ms;
}

void failover_health_report(failover_health *h, uint64_t sent_ms, uint64_t now_ms, bool answered)
{
    if (answered)
        h->down_since_ms = 0;
    else if (!h->down_since_ms)
        h->down_since_ms = sent_ms ? sent_ms : 1;
    if (!answered && sent_ms > h->failed_sent_ms)
        h->failed_sent_ms = sent_ms;
    if (now_ms > h->probed_ms)
        h->probed_ms = now_ms;
}

bool failover_probe_claim(failover_health *h, uint64_t now_ms, uint64_t interval_ms)
{
    if (now_ms < h->probed_ms || now_ms - h->probed_ms < interval_ms)
        return false;
    h->probed_ms = h->claimed_ms = now_ms;
    return true;
}

bool failover_unreachable_rc(int rc)
{
    return rc == KR_EUNAVAILABLE || rc == KR_ETIMEDOUT || rc == KR_ECONNECT || rc == KR_ETLS;
}

const char *failover_outcome(const json_t *copy)
{
    /* a Job: Complete (or SuccessCriteriaMet) / Failed; a Pod: status.phase */
    if (sub_condition_true(copy, "Complete") || sub_condition_true(copy, "SuccessCriteriaMet") ||
        strcmp(sub_str(copy, "status.phase"), "Succeeded") == 0)
        return SUB_PHASE_SUCCEEDED;
    if (sub_condition_true(copy, "Failed") || strcmp(sub_str(copy, "status.phase"), "Failed") == 0)
        return SUB_PHASE_FAILED;
    return NULL;
}

void failover_outcome_reason(const json_t *copy, const char **reason, const char **message)
{
    *reason = *message = "";
    static const char *const types[] = {"Failed", "Complete", "SuccessCriteriaMet"};
    const char *outcome = failover_outcome(copy);
    const json_t *conds = json_object_get(json_object_get(copy, "status"), "conditions");
    for (size_t t = 0; outcome && t < sizeof(types) / sizeof(types[0]); t++) {
        /* the condition of the outcome: Failed for a failure, else one of the others */
        if ((t == 0) != (strcmp(outcome, SUB_PHASE_FAILED) == 0))
            continue;
        size_t i;
        json_t *c;
        json_array_foreach(conds, i, c)
        {
            if (strcmp(sub_str(c, "type"), types[t]) == 0 &&
                strcmp(sub_str(c, "status"), "True") == 0) {
                *reason = sub_str(c, "reason");
                *message = sub_str(c, "message");
                return;
            }
        }
    }
    if (outcome) { /* a Pod */
        *reason = sub_str(copy, "status.reason");
        *message = sub_str(copy, "status.message");
    }
}

bool failover_started(const json_t *copy)
{
    if (!copy)
        return false;
    const char *phase = sub_str(copy, "status.phase");
    return *sub_str(copy, "status.startTime") || sub_int(copy, "status.active") > 0 ||
           sub_int(copy, "status.succeeded") > 0 || sub_int(copy, "status.failed") > 0 ||
           (*phase && strcmp(phase, "Pending") != 0) || failover_outcome(copy) != NULL;
}

/* When a copy started: status.startTime, else its creation (a copy seen
 * running without a start time). RFC 3339 UTC strings compare as text. */
static const char *started_at(const json_t *copy)
{
    const char *t = sub_str(copy, "status.startTime");
    return *t ? t : sub_str(copy, "metadata.creationTimestamp");
}

straggler_action failover_straggler(const json_t *straggler, const json_t *current)
{
    if (!failover_started(straggler))
        return STRAGGLER_DELETE;
    if (!failover_started(current))
        return STRAGGLER_ADOPT;
    return strcmp(started_at(straggler), started_at(current)) >= 0 ? STRAGGLER_STOP_IT
                                                                   : STRAGGLER_STOP_CURRENT;
}
