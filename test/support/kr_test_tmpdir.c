/* libkreconcile tests — implementation of kr_test_tmpdir.h (nftw, depth
 * first, never following symbolic links). */
#include "kr_test_tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROOT_ENV "KR_TEST_TMPDIR"

/* The outer root kr_test_tmpdir_enter found, to put back on leave. */
static char *outer_root;
static bool outer_set;

const char *kr_test_tmpdir_root(void)
{
    const char *root = getenv(ROOT_ENV);
    return root && *root ? root : "/tmp";
}

/* Write <root>/<prefix>-XXXXXX into buf: false (after printing why) when it
 * does not fit. */
static bool template_of(char *buf, size_t size, const char *prefix)
{
    int n = snprintf(buf, size, "%s/%s-XXXXXX", kr_test_tmpdir_root(), prefix);
    if (n >= 0 && (size_t)n < size)
        return true;
    fprintf(stderr, "%s: the temporary path under %s does not fit %zu bytes\n", prefix,
            kr_test_tmpdir_root(), size);
    if (size)
        buf[0] = '\0';
    return false;
}

bool kr_test_tmpdir_make(char *dir, size_t size, const char *prefix)
{
    if (!template_of(dir, size, prefix))
        return false;
    if (mkdtemp(dir))
        return true;
    fprintf(stderr, "%s: cannot make a temporary directory: %s\n", prefix, strerror(errno));
    dir[0] = '\0';
    return false;
}

int kr_test_tmpfile_make(char *path, size_t size, const char *prefix)
{
    if (!template_of(path, size, prefix))
        return -1;
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot make a temporary file: %s\n", prefix, strerror(errno));
        path[0] = '\0';
    }
    return fd;
}

static bool quiet_removal;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT && !quiet_removal)
        fprintf(stderr, "tmpdir: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

void kr_test_tmpdir_remove(const char *dir)
{
    if (!dir || !*dir)
        return;
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

bool kr_test_tmpdir_enter(char *root, size_t size)
{
    const char *outer = getenv(ROOT_ENV);
    outer_set = outer != NULL;
    free(outer_root);
    outer_root = outer ? strdup(outer) : NULL;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "kr-test-%.40s", program_invocation_short_name);
    if (!kr_test_tmpdir_make(root, size, prefix))
        return false;
    /* kubectl's discovery cache of the run's own: one of an earlier run's
     * server on a port used again would have kubectl skip discovery (and
     * say a refused connection once per NAME, not once) */
    char cache[4096];
    snprintf(cache, sizeof(cache), "%s/kubectl-cache", root);
    if (chmod(root, 0711) != 0 || setenv(ROOT_ENV, root, 1) != 0 ||
        setenv("KUBECACHEDIR", cache, 1) != 0) {
        fprintf(stderr, "%s: cannot prepare %s: %s\n", prefix, root, strerror(errno));
        kr_test_tmpdir_remove(root);
        root[0] = '\0';
        return false;
    }
    return true;
}

void kr_test_tmpdir_leave(const char *root, bool keep)
{
    if (!root || !*root)
        return;
    if (keep) {
        fprintf(stderr, "%s: a test failed: its files are kept in %s\n",
                program_invocation_short_name, root);
        goto restore;
    }
    /* A server a killed test started gets its signal as the test's process
     * ends and may still write a file or two while it stops. */
    quiet_removal = true;
    for (int i = 0; i < 100 && access(root, F_OK) == 0; i++) {
        if (i)
            nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
        kr_test_tmpdir_remove(root);
    }
    quiet_removal = false;
    kr_test_tmpdir_remove(root);
restore:
    if (outer_set)
        setenv(ROOT_ENV, outer_root ? outer_root : "", 1);
    else
        unsetenv(ROOT_ENV);
    free(outer_root);
    outer_root = NULL;
}
