/* libkreconcile tests — the in-memory apiserver as a Check fixture: one
 * server per test, started in setup, freed in teardown. */
#include "kr_test_server.h"

#include <check.h>
#include <stddef.h>

static kr_testserver_t *server;

kr_testserver_t *kr_test_server_start(const kr_testserver_opts *opts, const char **url)
{
    kr_error_t err = {0};
    ck_assert_ptr_null(server);
    ck_assert_msg(kr_testserver_start(opts, &server, &err) == 0, "test server: %s", err.message);
    *url = kr_testserver_url(server);
    return server;
}

void kr_test_server_stop(void)
{
    kr_testserver_free(server);
    server = NULL;
}
