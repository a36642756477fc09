/* libkreconcile tests — temporary directories: made fresh for a suite or a
 * helper (databases, browser profiles, server data, kubeconfigs) and removed
 * with everything in them. Test-only.
 *
 * Every suite's main() runs its tests inside a root of its own,
 * /tmp/kr-test-<program>-XXXXXX, named by $KR_TEST_TMPDIR (see
 * kr_test_run_suite). When every test passed, the root is removed with
 * everything in it, also what a test left behind because it timed out (its
 * process killed) or failed an assertion that a later test ignored. When a
 * test failed, the root is kept, with the logs its failure message points
 * at, and its path is printed: one folder per failed run, not one per
 * helper. */
#ifndef KR_TEST_TMPDIR_H
#define KR_TEST_TMPDIR_H

#include <stdbool.h>
#include <stddef.h>

/* The folder temporary files go under: $KR_TEST_TMPDIR when set and not
 * empty, else /tmp. */
const char *kr_test_tmpdir_root(void);

/* Make <root>/<prefix>-XXXXXX and write its path into dir[0..size). False
 * (after printing why) when it cannot be made or does not fit. */
bool kr_test_tmpdir_make(char *dir, size_t size, const char *prefix);

/* Make and open a file <root>/<prefix>-XXXXXX (mkstemp) and write its path
 * into path[0..size): its descriptor, or -1 after printing why. */
int kr_test_tmpfile_make(char *path, size_t size, const char *prefix);

/* Remove `dir` and everything below it; "" and NULL are no-ops. Prints a
 * line when something could not be removed. */
void kr_test_tmpdir_remove(const char *dir);

/* For a suite's main(): make the root of the run, /tmp/kr-test-<program>-
 * XXXXXX (under an outer $KR_TEST_TMPDIR if one is set; mode 0711, so that
 * a server run as another user reaches its own folder inside), write its
 * path into root[0..size) and point $KR_TEST_TMPDIR at it. False, and
 * nothing set, when it cannot be made: the tests then use the outer root. */
bool kr_test_tmpdir_enter(char *root, size_t size);

/* Undo kr_test_tmpdir_enter and put $KR_TEST_TMPDIR back as it was. With
 * `keep`, print that the root is kept and where; otherwise remove it with
 * everything in it. Processes a killed test started may still be ending (a
 * database server, a browser): their files are waited for, up to 10 s,
 * before a line reports what could not be removed. */
void kr_test_tmpdir_leave(const char *root, bool keep);

#endif /* KR_TEST_TMPDIR_H */
