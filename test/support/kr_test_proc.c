/* libkreconcile tests — implementation of kr_test_proc.h: fork/exec with a
 * parent-death signal, waits bounded by deadlines. Test-only. */
#include "kr_test_proc.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kr_test.h"

static void pace_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int status_of(int status)
{
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* In the child: die with the parent, output to fd, exec. Never returns. */
static void child_exec(pid_t parent, int out_fd, char *const *argv)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(126);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0)
        dup2(in, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    execv(argv[0], argv);
    _exit(127);
}

static void spawn(kr_test_proc *p)
{
    int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    ck_assert_msg(fd >= 0, "cannot open %s: %s", p->log, strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0)
        child_exec(parent, fd, p->argv);
    close(fd);
    p->pid = pid;
    p->paused = false;
    p->starts++;
}

void kr_test_proc_start(kr_test_proc *p, const char *log, const char *const *argv)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->log, sizeof(p->log), "%s", log);
    int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(fd >= 0, "cannot create %s: %s", p->log, strerror(errno));
    close(fd);
    size_t n = 0;
    for (; argv[n]; n++) {
        ck_assert_msg(n < KR_TEST_PROC_MAX_ARGS, "too many arguments");
        char bin[1024];
        const char *a = argv[n];
        if (n == 0 && !strchr(a, '/'))
            a = kr_test_bin_path(bin, sizeof(bin), a);
        p->argv[n] = strdup(a);
        ck_assert_ptr_nonnull(p->argv[n]);
    }
    p->argv[n] = NULL;
    spawn(p);
}

void kr_test_proc_restart(kr_test_proc *p)
{
    ck_assert_msg(p->pid == 0, "%s is still running", p->argv[0]);
    spawn(p);
}

int kr_test_proc_kill(kr_test_proc *p, int sig)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    if (p->paused && sig != SIGKILL)
        kill(p->pid, SIGCONT);
    int status = 0;
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
        ;
    p->pid = 0;
    p->paused = false;
    p->status = status_of(status);
    return p->status;
}

int kr_test_proc_stop(kr_test_proc *p, int grace_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    if (p->paused)
        kill(p->pid, SIGCONT);
    long end = now_ms() + grace_ms;
    int status = 0;
    while (now_ms() < end) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            p->paused = false;
            p->status = status_of(status);
            return p->status;
        }
        pace_ms(10);
    }
    return kr_test_proc_kill(p, SIGKILL);
}

void kr_test_proc_pause(kr_test_proc *p)
{
    if (p->pid > 0 && !p->paused && kill(p->pid, SIGSTOP) == 0)
        p->paused = true;
}

void kr_test_proc_resume(kr_test_proc *p)
{
    if (p->pid > 0 && p->paused) {
        kill(p->pid, SIGCONT);
        p->paused = false;
    }
}

bool kr_test_proc_running(kr_test_proc *p)
{
    if (p->pid <= 0)
        return false;
    int status;
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
        p->pid = 0;
        p->paused = false;
        p->status = status_of(status);
        return false;
    }
    return true;
}

void kr_test_proc_free(kr_test_proc *p)
{
    if (p->pid > 0)
        kr_test_proc_kill(p, SIGKILL);
    for (size_t i = 0; i < KR_TEST_PROC_MAX_ARGS && p->argv[i]; i++) {
        free(p->argv[i]);
        p->argv[i] = NULL;
    }
}

char *kr_test_proc_log_text(const kr_test_proc *p)
{
    char *text = kr_test_read_file("/", p->log);
    return text ? text : strdup("");
}

size_t kr_test_proc_log_size(const kr_test_proc *p)
{
    struct stat st;
    return stat(p->log, &st) == 0 ? (size_t)st.st_size : 0;
}

bool kr_test_proc_log_wait(const kr_test_proc *p, const char *text, size_t from, int timeout_ms)
{
    long end = now_ms() + timeout_ms;
    for (;;) {
        char *all = kr_test_proc_log_text(p);
        bool found = strlen(all) >= from && strstr(all + from, text) != NULL;
        free(all);
        if (found)
            return true;
        if (now_ms() >= end)
            return false;
        pace_ms(20);
    }
}

int kr_test_proc_run(const char *const *argv, char *out, size_t size, int timeout_ms)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    char bin[1024];
    char *args[KR_TEST_PROC_MAX_ARGS + 1];
    size_t n = 0;
    for (; argv[n] && n < KR_TEST_PROC_MAX_ARGS; n++)
        args[n] = (char *)argv[n];
    args[n] = NULL;
    if (!strchr(args[0], '/'))
        args[0] = (char *)kr_test_bin_path(bin, sizeof(bin), args[0]);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        child_exec(parent, fds[1], args);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    size_t len = 0;
    long end = now_ms() + timeout_ms;
    int status = 0;
    bool done = false;
    while (!done) {
        char buf[4096];
        ssize_t r = read(fds[0], buf, sizeof(buf));
        if (r > 0) {
            size_t take = (size_t)r < size - 1 - len ? (size_t)r : size - 1 - len;
            memcpy(out + len, buf, take);
            len += take;
            continue;
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            done = true;
        else if (now_ms() >= end)
            break;
        else
            pace_ms(5);
    }
    close(fds[0]);
    if (!done || waitpid(pid, &status, WNOHANG) != pid) {
        if (!done)
            kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    out[len] = '\0';
    return status_of(status);
}
