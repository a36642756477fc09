/* libkreconcile tests — implementation of kr_test_tmpdir.h (nftw, depth
 * first, never following symbolic links). */
#include "kr_test_tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool kr_test_tmpdir_make(char *dir, size_t size, const char *prefix)
{
    snprintf(dir, size, "/tmp/%s-XXXXXX", prefix);
    if (mkdtemp(dir))
        return true;
    fprintf(stderr, "%s: cannot make a temporary directory: %s\n", prefix, strerror(errno));
    dir[0] = '\0';
    return false;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "tmpdir: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

void kr_test_tmpdir_remove(const char *dir)
{
    if (!dir || !*dir)
        return;
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
