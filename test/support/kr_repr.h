/* Parametrised store and informer suites: every test of a suite runs once
 * per store representation (KR_STORE_TREES, then KR_STORE_COMPACT). A
 * suite includes this header after kreconcile.h and routes its stores
 * through it; the macros below make every kr_store_new(), kr_informer_new()
 * and kr_informer_factory_new() of the suite use the representation of
 * the current run. */
#ifndef KR_TEST_REPR_H
#define KR_TEST_REPR_H

#include <check.h>
#include <stdio.h>

#include "kr_suite.h"
#include "kreconcile.h"

static kr_store_representation kr_test_repr = KR_STORE_TREES;

static inline bool kr_test_compact(void)
{
    return kr_test_repr == KR_STORE_COMPACT;
}

static inline int kr_test_store_new(const kr_store_opts *opts, kr_store_t **out, kr_error_t *err)
{
    kr_store_opts o = {0};
    if (opts)
        o = *opts;
    o.representation = kr_test_repr;
    return (kr_store_new)(&o, out, err);
}

static inline int kr_test_informer_new(const kr_informer_opts *opts, kr_informer_t **out,
                                       kr_error_t *err)
{
    kr_informer_opts o = *opts;
    o.store.representation = kr_test_repr;
    return (kr_informer_new)(&o, out, err);
}

static inline int kr_test_informer_factory_new(const kr_informer_factory_opts *opts,
                                               kr_informer_factory_t **out, kr_error_t *err)
{
    kr_informer_factory_opts o = {0};
    if (opts)
        o = *opts;
    o.store.representation = kr_test_repr;
    return (kr_informer_factory_new)(&o, out, err);
}

#define kr_store_new kr_test_store_new
#define kr_informer_new kr_test_informer_new
#define kr_informer_factory_new kr_test_informer_factory_new

/* Run the suite `make` builds once per representation; fails when any
 * run fails. */
static inline int kr_test_run_suite_each_repr(Suite *(*make)(void))
{
    static const kr_store_representation reprs[] = {KR_STORE_TREES, KR_STORE_COMPACT};
    int failed = 0;
    for (size_t i = 0; i < sizeof(reprs) / sizeof(reprs[0]); i++) {
        kr_test_repr = reprs[i];
        printf("store representation: %s\n", reprs[i] == KR_STORE_TREES ? "trees" : "compact");
        fflush(stdout);
        failed |= kr_test_run_suite(make()) != 0;
    }
    return failed ? 1 : 0;
}

#endif /* KR_TEST_REPR_H */
