/* libkreconcile — the names the platform's programs share on the wire
 * (docs/PLATFORM.md, "Names on the wire"): labels, annotations, finalizers
 * and the Runnable resource. A contract between kr-syncer, kr-submitter,
 * kr-sweeper, kr-inventory and their users; constants only. */
#ifndef KRECONCILE_PLATFORM_H
#define KRECONCILE_PLATFORM_H

#include "client.h"

/* API group and version of the platform's own resources. */
#define KR_PLATFORM_GROUP "kreconcile.io"
#define KR_PLATFORM_VERSION "v1alpha1"
#define KR_PLATFORM_API_VERSION "kreconcile.io/v1alpha1"

/* Labels on every object the programs create in workload clusters. */
#define KR_LABEL_MANAGED_BY "kreconcile.io/managed-by" /* "kr-syncer" | "kr-submitter" */
#define KR_LABEL_SOURCE_UID "kreconcile.io/source-uid" /* uid of the hub object */
#define KR_LABEL_SOURCE_CLUSTER "kreconcile.io/source-cluster" /* the hub's name */

#define KR_MANAGER_SYNCER "kr-syncer"
#define KR_MANAGER_SUBMITTER "kr-submitter"
#define KR_MANAGER_SWEEPER "kr-sweeper"
#define KR_MANAGER_INVENTORY "kr-inventory"

/* Annotations. */
#define KR_ANNOTATION_CLUSTERS "kreconcile.io/clusters" /* hub: placement (dc1,dc2) */
#define KR_ANNOTATION_LAST_APPLIED "kreconcile.io/last-applied" /* copy: three-way base */
#define KR_ANNOTATION_SYNC_STATUS "kreconcile.io/sync-status" /* hub: JSON per cluster */
#define KR_ANNOTATION_IGNORE "kreconcile.io/ignore" /* hub: "true" opts out */

/* Finalizers. */
#define KR_FINALIZER_SYNCER "kreconcile.io/syncer"
#define KR_FINALIZER_SUBMITTER "kreconcile.io/submitter"

/* The Runnable resource (namespaced, status subresource). */
#define KR_RUNNABLE_KIND "Runnable"
#define KR_RUNNABLE_GVR KR_GVR(KR_PLATFORM_GROUP, KR_PLATFORM_VERSION, "runnables")

/* How long the platform's programs wait at start for an unreachable
 * PostgreSQL inventory (kr_inventory_opts.connect_wait_ms) before they
 * give up: a database restarting as they start is not a reason to exit. */
#define KR_PLATFORM_INVENTORY_WAIT_MS 60000

#endif /* KRECONCILE_PLATFORM_H */
