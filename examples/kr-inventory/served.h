/* kr-inventory — whether each cluster serves each --resource as the kind
 * given, as its discovery says: a resource of another kind is never kept
 * there (rows name kinds), and /readyz fails for it and for a resource no
 * cluster serves (a misspelling, or a CRD installed nowhere). Every
 * replica asks, on a thread per cluster (one that hangs holds only its
 * own sources). */
#ifndef KR_INVENTORY_SERVED_H
#define KR_INVENTORY_SERVED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "kreconcile.h"
#include "resources.h"

/* What discovery says of one source (a cluster and a --resource). */
typedef enum inv_served {
    INV_SERVED_UNKNOWN = 0, /* not asked yet, or discovery could not be had */
    INV_SERVED_YES = 1, /* the resource, of the kind given */
    INV_SERVED_MISSING = 2, /* no such resource there (a CRD not installed, or a misspelling) */
    INV_SERVED_OTHER_KIND = 3, /* the resource is of another kind: never kept */
} inv_served;

typedef struct inv_source_check {
    inv_served state;
    char why[400]; /* INV_SERVED_MISSING, INV_SERVED_OTHER_KIND */
} inv_source_check;

typedef struct inv_checks {
    /* The sources, as main holds them (borrowed): source i is resource
     * resource_of[i] in cluster cluster_of[i], asked through client_of[i]. */
    kr_client_t *const *client_of;
    const char *const *cluster_of;
    const inv_resource *const *resource_of;
    size_t n_sources;
    const inv_resources *resources; /* borrowed */
    const kr_logger *logger; /* borrowed */
    pthread_mutex_t lock;
    inv_source_check *checks; /* n_sources, under lock */
    struct inv_check_lane *lanes; /* one per cluster, while started */
    size_t n_lanes;
    atomic_bool stop;
} inv_checks;

/* Allocate the verdicts (the borrowed members set before). KR_ENOMEM. */
int inv_checks_init(inv_checks *c);
void inv_checks_destroy(inv_checks *c);
/* Ask source i's cluster and keep the verdict (logged when it changes);
 * returns the verdict kept (a look that could not be had keeps the last
 * one). Blocks on discovery (a cached one sends nothing). [worker thread] */
inv_served inv_check_source(inv_checks *c, size_t i);
/* The verdict kept for source i. [any thread] */
inv_served inv_checks_state(inv_checks *c, size_t i);
/* The threads that ask every source now and again, one per cluster
 * (kr_manager_start_cb and kr_manager_stop_cb, `user` the inv_checks;
 * stop is idempotent). */
int inv_checks_start(kr_manager_t *m, void *user);
void inv_checks_stop(kr_manager_t *m, void *user);
/* The /readyz check (kr_manager_ready_cb, `user` the inv_checks): false
 * while a resource is of another kind in a cluster, or no cluster asked
 * serves it; one missing in some clusters only is waited for. */
bool inv_checks_ready(char *why, size_t len, void *user);

#endif /* KR_INVENTORY_SERVED_H */
