/* The end of every Check suite's main(): run the suite, free the runner,
 * and turn the failures into the process's exit status. */
#ifndef KR_TEST_SUITE_H
#define KR_TEST_SUITE_H

#include <check.h>
#include <stdlib.h>

/* Run `s` (the runner owns and frees it): EXIT_SUCCESS when every check
 * passed, else EXIT_FAILURE. */
static inline int kr_test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* KR_TEST_SUITE_H */
