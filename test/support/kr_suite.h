/* The end of every Check suite's main(): run the suite, free the runner,
 * and turn the failures into the process's exit status. */
#ifndef KR_TEST_SUITE_H
#define KR_TEST_SUITE_H

#include <check.h>
#include <stdlib.h>

#include "kr_test_tmpdir.h"

/* Run `s` (the runner owns and frees it): EXIT_SUCCESS when every check
 * passed, else EXIT_FAILURE. The tests run inside a temporary root of the
 * run's own (kr_test_tmpdir_enter): removed when they have all passed, kept
 * and named when one failed. */
static inline int kr_test_run_suite(Suite *s)
{
    char root[512];
    if (!kr_test_tmpdir_enter(root, sizeof(root)))
        root[0] = '\0';
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    kr_test_tmpdir_leave(root, failed != 0);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The whole main() of a suite of one test case: `tests` (NULL-terminated)
 * in the test case `tcase` of the suite `suite`, with the checked fixture
 * setup/teardown (either may be NULL) around each and a timeout of
 * `timeout_s` seconds (0: Check's default); run as kr_test_run_suite. */
static inline int kr_test_run_tests(const char *suite, const char *tcase, SFun setup, SFun teardown,
                                    double timeout_s, const TTest *const *tests)
{
    Suite *s = suite_create(suite);
    TCase *tc = tcase_create(tcase);
    if (setup || teardown)
        tcase_add_checked_fixture(tc, setup, teardown);
    if (timeout_s > 0)
        tcase_set_timeout(tc, timeout_s);
    for (size_t i = 0; tests[i]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}

#endif /* KR_TEST_SUITE_H */
