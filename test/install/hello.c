/* Built by the install test against the installed headers and library only. */
#include <kreconcile.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(kr_version(), KR_VERSION_STRING) != 0 || kr_version_number() != KR_VERSION_NUMBER) {
        fprintf(stderr, "version mismatch: %s vs %s\n", kr_version(), KR_VERSION_STRING);
        return 1;
    }
    printf("libkreconcile %s: %s\n", kr_version(), kr_strerror(KR_ENOTFOUND));
    return 0;
}
