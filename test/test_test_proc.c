/* The test support's process starter: kr_test_fork_exec returns once the
 * child reached exec, and forks again a child that got stuck before it
 * (as one can inside a sanitizer's runtime after a fork of a threaded
 * process). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"

static char tmpdir[256];

static void setup(void)
{
    ck_assert(kr_test_tmpdir_make(tmpdir, sizeof(tmpdir), "kr-test-proc"));
}

static void teardown(void)
{
    kr_test_tmpdir_remove(tmpdir);
    tmpdir[0] = '\0';
}

/* How the child ended; -1 (and killed) when it is still running after
 * 10 s. */
static int status_of(pid_t pid)
{
    int status = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ck_assert_msg(r == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        struct timespec pace = {0, 10 * 1000000L};
        nanosleep(&pace, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

typedef struct stuck_once {
    char marker[320];
} stuck_once;

/* The first child creates the marker and never execs; the next exec
 * a shell that exits 7. */
static void stuck_first(void *arg)
{
    stuck_once *x = arg;
    int fd = open(x->marker, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd >= 0)
        for (;;)
            pause();
    execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
}

START_TEST(a_child_stuck_before_exec_is_forked_again)
{
    setenv("KR_TEST_EXEC_WAIT_MS", "300", 1);
    stuck_once x;
    snprintf(x.marker, sizeof(x.marker), "%s/forked", tmpdir);
    pid_t pid = kr_test_fork_exec(stuck_first, &x);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(access(x.marker, F_OK), 0); /* the first child ran */
    ck_assert_int_eq(status_of(pid), 7); /* the second one exec'd */
    unlink(x.marker);
    unsetenv("KR_TEST_EXEC_WAIT_MS");
}
END_TEST

static void exec_missing(void *arg)
{
    (void)arg;
    execl("/nonexistent/program", "program", (char *)NULL);
}

static void exec_true(void *arg)
{
    const char *out = arg;
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    execl("/bin/sh", "sh", "-c", "echo ran", (char *)NULL);
}

START_TEST(a_child_that_execs_or_fails_to_is_forked_once)
{
    /* an exec that fails ends the child with 127, once */
    pid_t pid = kr_test_fork_exec(exec_missing, NULL);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(status_of(pid), 127);
    char out[320];
    snprintf(out, sizeof(out), "%s/out", tmpdir);
    pid = kr_test_fork_exec(exec_true, out);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(status_of(pid), 0);
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    char line[16] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    fclose(f);
    ck_assert_str_eq(line, "ran\n");
    unlink(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("test_proc");
    TCase *tc = tcase_create("fork_exec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_child_stuck_before_exec_is_forked_again);
    tcase_add_test(tc, a_child_that_execs_or_fails_to_is_forked_once);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
