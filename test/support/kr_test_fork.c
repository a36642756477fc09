/* libkreconcile tests — implementation of kr_test_fork_exec (declared in
 * kr_test_proc.h). Apart from the rest of kr_test_proc.c, which aborts
 * tests through Check, so that the benchmarks can compile it in with the
 * PostgreSQL server of pgserver.c. Test-only. */
#include "kr_test_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a child may take from fork to exec before it counts as stuck
 * (KR_TEST_EXEC_WAIT_MS overrides it), and how many forks are tried. */
#define EXEC_WAIT_MS 10000
#define FORK_ATTEMPTS 3

pid_t kr_test_fork_exec(void (*child)(void *arg), void *arg)
{
    for (int attempt = 1;; attempt++) {
        /* Close-on-exec: its end of file says the child reached exec. */
        int reached[2];
        if (pipe2(reached, O_CLOEXEC) != 0)
            return -1;
        pid_t pid = fork();
        if (pid == 0) {
            close(reached[0]);
            child(arg);
            _exit(127);
        }
        close(reached[1]);
        struct pollfd pfd = {.fd = reached[0], .events = POLLIN};
        const char *env = getenv("KR_TEST_EXEC_WAIT_MS"); /* tests of this */
        int wait_ms = env && atoi(env) > 0 ? atoi(env) : EXEC_WAIT_MS, ready;
        while ((ready = poll(&pfd, 1, wait_ms)) < 0 && errno == EINTR)
            ;
        close(reached[0]);
        if (pid < 0 || ready != 0 || attempt == FORK_ATTEMPTS)
            return pid;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        fprintf(stderr, "kr_test_fork_exec: a child did not reach exec in %d ms; forked again\n",
                wait_ms);
    }
}
