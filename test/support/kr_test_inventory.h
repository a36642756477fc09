/* libkreconcile tests — checks the inventory suites share. Test-only. */
#ifndef KR_TEST_INVENTORY_H
#define KR_TEST_INVENTORY_H

#include "kreconcile.h"

/* NULL when the transactions table holds each informer transition
 * (cluster, uid, resourceVersion, live or gone) at most once; else a new
 * string (free()) naming the first one held twice, or saying the table
 * could not be read. */
char *kr_test_inventory_doubled(kr_inventory_t *inv);

#endif /* KR_TEST_INVENTORY_H */
