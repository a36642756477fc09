/* libkreconcile tests — the in-memory apiserver as a Check fixture, for the
 * suites that run every test against a fresh server. Test-only. */
#ifndef KR_TEST_SERVER_H
#define KR_TEST_SERVER_H

#include "kreconcile/testserver.h"

/* Start a server with `opts` (borrowed) for the current test, in a checked
 * fixture's setup; the test fails when it cannot start. Returns the server
 * (borrowed: kr_test_server_stop frees it) and sets *url to its base URL
 * (borrowed from the server). One at a time. */
kr_testserver_t *kr_test_server_start(const kr_testserver_opts *opts, const char **url);

/* Free the server kr_test_server_start started (none: nothing): the
 * fixture's teardown. */
void kr_test_server_stop(void);

#endif /* KR_TEST_SERVER_H */
