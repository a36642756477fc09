/* libkreconcile tests — a "cluster" for integration tests: one in-memory
 * apiserver on a free port and a client for it on a running runtime, set
 * up and torn down the same way by every suite that needs one. Test-only. */
#ifndef KR_TEST_CLUSTER_H
#define KR_TEST_CLUSTER_H

#include "kreconcile.h"
#include "kreconcile/testserver.h"

typedef struct kr_test_cluster {
    kr_testserver_t *ts;
    kr_rest_config cfg;
    kr_client_t *c;
} kr_test_cluster;

/* A new started runtime (kr_runtime_free it); aborts the test on failure. */
kr_runtime_t *kr_test_runtime_up(void);

/* Start a server (`seed`, 0 = 1; bookmarks after 50 ms of quiet) and a
 * client with quick retries on `rt`; aborts the test on failure. */
void kr_test_cluster_up(kr_test_cluster *cl, kr_runtime_t *rt, unsigned long long seed);

/* Free the client, then the server. */
void kr_test_cluster_down(kr_test_cluster *cl);

#endif /* KR_TEST_CLUSTER_H */
