/* libkreconcile tests — the integration tests' "cluster": an in-memory
 * apiserver and a client for it (kr_test_cluster.h). Test-only. */
#include "kr_test_cluster.h"

#include <check.h>
#include <string.h>

kr_runtime_t *kr_test_runtime_up(void)
{
    kr_runtime_t *rt = NULL;
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, NULL), 0);
    ck_assert_int_eq(kr_runtime_start(rt, NULL), 0);
    return rt;
}

void kr_test_cluster_up(kr_test_cluster *cl, kr_runtime_t *rt, unsigned long long seed)
{
    memset(cl, 0, sizeof(*cl));
    kr_testserver_opts o = {.seed = seed ? seed : 1, .bookmark_interval_ms = 50};
    kr_error_t err = {0};
    ck_assert_msg(kr_testserver_start(&o, &cl->ts, &err) == 0, "%s", err.message);
    cl->cfg.server = (char *)kr_testserver_url(cl->ts);
    cl->cfg.qps = -1;
    kr_client_opts co = {.backoff_base_ms = 5, .backoff_max_ms = 50, .max_retries = 8};
    ck_assert_msg(kr_client_new(rt, &cl->cfg, &co, &cl->c, &err) == 0, "%s", err.message);
}

void kr_test_cluster_down(kr_test_cluster *cl)
{
    kr_client_free(cl->c);
    kr_testserver_free(cl->ts);
}
