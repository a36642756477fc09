/* kr-inventory — the --resource arguments against each cluster's
 * discovery (served.h). */
#include "served.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every replica looks again every CHECK_MS (UNKNOWN_CHECK_MS while a
 * cluster could not be asked): a CRD installed later shows in /readyz. A
 * resource served is found in the discovery cache (no request); one that
 * is not fetches discovery again, so not often. */
#define CHECK_MS 30000
#define UNKNOWN_CHECK_MS 2000

int inv_checks_init(inv_checks *c)
{
    c->checks = calloc(c->n_sources ? c->n_sources : 1, sizeof(inv_source_check));
    if (!c->checks)
        return KR_ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    return 0;
}

void inv_checks_destroy(inv_checks *c)
{
    if (!c->checks)
        return;
    inv_checks_stop(NULL, c);
    pthread_mutex_destroy(&c->lock);
    free(c->checks);
    c->checks = NULL;
}

/* What source i's cluster says: the verdict, why in `why`. */
static inv_served ask(inv_checks *c, size_t i, char *why, size_t len)
{
    const inv_resource *res = c->resource_of[i];
    kr_client_t *client = c->client_of[i];
    kr_resource_info info;
    kr_error_t err = {0};
    int rc = kr_client_resource_for_kind(client, res->api_version, res->kind, &info, &err);
    if (rc == 0 && strcmp(info.resource, res->gvr.resource) == 0)
        return INV_SERVED_YES;
    if (rc != 0 && rc != KR_ENOTFOUND)
        return INV_SERVED_UNKNOWN;
    /* which kind the resource is there, if it is there at all */
    char name[400];
    if (*res->gvr.group)
        snprintf(name, sizeof(name), "%s.%s.%s", res->gvr.resource, res->gvr.version,
                 res->gvr.group);
    else
        snprintf(name, sizeof(name), "%s", res->gvr.resource);
    kr_resource_info is;
    kr_error_t rerr = {0};
    int found = kr_client_resolve(client, name, &is, &rerr);
    if (found != 0 && found != KR_ENOTFOUND)
        return INV_SERVED_UNKNOWN; /* discovery could not be had */
    if (found == 0 && strcmp(is.group, res->gvr.group) == 0 &&
        strcmp(is.version, res->gvr.version) == 0 && strcmp(is.resource, res->gvr.resource) == 0) {
        snprintf(why, len,
                 "--resource %s=%s: cluster %s serves %s/%s as kind %s, not %s: its objects are "
                 "not kept",
                 res->key, res->kind, c->cluster_of[i], res->api_version, res->gvr.resource,
                 is.kind, res->kind);
        return INV_SERVED_OTHER_KIND;
    }
    char hint[200] = "";
    if (rc == 0)
        snprintf(hint, sizeof(hint), " (kind %s is %s/%s)", res->kind, res->api_version,
                 info.resource);
    snprintf(why, len, "--resource %s=%s: cluster %s does not serve %s/%s%s", res->key, res->kind,
             c->cluster_of[i], res->api_version, res->gvr.resource, hint);
    return INV_SERVED_MISSING;
}

inv_served inv_check_source(inv_checks *c, size_t i)
{
    char why[400] = "";
    inv_served state = ask(c, i, why, sizeof(why));
    pthread_mutex_lock(&c->lock);
    inv_source_check *ck = &c->checks[i];
    inv_served was = ck->state;
    bool changed = state != INV_SERVED_UNKNOWN && (ck->state != state || strcmp(ck->why, why) != 0);
    if (state != INV_SERVED_UNKNOWN) { /* a failed look keeps the last verdict */
        ck->state = state;
        snprintf(ck->why, sizeof(ck->why), "%s", why);
    }
    inv_served kept = ck->state;
    pthread_mutex_unlock(&c->lock);
    if (changed && state == INV_SERVED_OTHER_KIND)
        kr_log(c->logger, KR_LOG_ERROR, "inventory", "%s", why);
    else if (changed && state == INV_SERVED_MISSING)
        kr_log(c->logger, KR_LOG_WARN, "inventory", "%s", why);
    else if (changed && was != INV_SERVED_UNKNOWN)
        kr_log(c->logger, KR_LOG_INFO, "inventory", "cluster %s serves %s now", c->cluster_of[i],
               c->resource_of[i]->key);
    return kept;
}

inv_served inv_checks_state(inv_checks *c, size_t i)
{
    pthread_mutex_lock(&c->lock);
    inv_served state = c->checks[i].state;
    pthread_mutex_unlock(&c->lock);
    return state;
}

/* The sources of one cluster, asked by a thread of their own. */
typedef struct inv_check_lane {
    inv_checks *c;
    const char *cluster; /* borrowed from cluster_of */
    pthread_t thread;
    bool running;
} inv_check_lane;

static void *check_all(void *arg)
{
    inv_check_lane *lane = arg;
    inv_checks *c = lane->c;
    while (!atomic_load(&c->stop)) {
        bool unknown = false;
        for (size_t i = 0; i < c->n_sources && !atomic_load(&c->stop); i++)
            if (strcmp(c->cluster_of[i], lane->cluster) == 0)
                unknown |= inv_check_source(c, i) == INV_SERVED_UNKNOWN;
        unsigned ms = unknown ? UNKNOWN_CHECK_MS : CHECK_MS;
        for (unsigned w = 0; w < ms / 50 && !atomic_load(&c->stop); w++) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int inv_checks_start(kr_manager_t *m, void *user)
{
    (void)m;
    inv_checks *c = user;
    atomic_store(&c->stop, false);
    c->lanes = calloc(c->n_sources ? c->n_sources : 1, sizeof(*c->lanes));
    if (!c->lanes)
        return KR_ENOMEM;
    c->n_lanes = 0;
    for (size_t i = 0; i < c->n_sources; i++) {
        bool seen = false;
        for (size_t k = 0; k < c->n_lanes && !seen; k++)
            seen = strcmp(c->lanes[k].cluster, c->cluster_of[i]) == 0;
        if (!seen)
            c->lanes[c->n_lanes++] = (inv_check_lane){.c = c, .cluster = c->cluster_of[i]};
    }
    for (size_t k = 0; k < c->n_lanes; k++) {
        inv_check_lane *lane = &c->lanes[k];
        lane->running = pthread_create(&lane->thread, NULL, check_all, lane) == 0;
        if (!lane->running) {
            inv_checks_stop(m, c);
            return KR_ENOMEM;
        }
    }
    return 0;
}

void inv_checks_stop(kr_manager_t *m, void *user)
{
    (void)m;
    inv_checks *c = user;
    atomic_store(&c->stop, true);
    for (size_t k = 0; c->lanes && k < c->n_lanes; k++)
        if (c->lanes[k].running)
            pthread_join(c->lanes[k].thread, NULL);
    free(c->lanes);
    c->lanes = NULL;
    c->n_lanes = 0;
}

bool inv_checks_ready(char *why, size_t len, void *user)
{
    inv_checks *c = user;
    bool ready = true;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; ready && i < c->n_sources; i++) {
        if (c->checks[i].state == INV_SERVED_OTHER_KIND) {
            snprintf(why, len, "%s", c->checks[i].why);
            ready = false;
        }
    }
    for (size_t r = 0; ready && r < c->resources->n; r++) {
        const inv_resource *res = &c->resources->items[r];
        size_t missing = 0, sources = 0;
        for (size_t i = 0; i < c->n_sources; i++) {
            if (c->resource_of[i] != res)
                continue;
            sources++;
            missing += c->checks[i].state == INV_SERVED_MISSING;
        }
        if (sources && missing == sources) {
            snprintf(why, len,
                     "no cluster serves %s/%s (--resource %s=%s: misspelled, or its CRD is "
                     "installed nowhere)",
                     res->api_version, res->gvr.resource, res->key, res->kind);
            ready = false;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return ready;
}
