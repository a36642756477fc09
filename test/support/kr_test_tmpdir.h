/* libkreconcile tests — temporary directories: made fresh under /tmp for a
 * suite or a helper (databases, browser profiles, server data) and removed
 * with everything in them. Test-only. */
#ifndef KR_TEST_TMPDIR_H
#define KR_TEST_TMPDIR_H

#include <stdbool.h>
#include <stddef.h>

/* Make /tmp/<prefix>-XXXXXX and write its path into dir[0..size). False
 * (after printing why) when it cannot be made. */
bool kr_test_tmpdir_make(char *dir, size_t size, const char *prefix);

/* Remove `dir` and everything below it; "" and NULL are no-ops. Prints a
 * line when something could not be removed. */
void kr_test_tmpdir_remove(const char *dir);

#endif /* KR_TEST_TMPDIR_H */
