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

/* In the child: die with the parent, stdin from in_fd (-1: /dev/null),
 * stdout to out_fd, stderr to err_fd (-1: left as it is), exec. Never
 * returns. */
static void child_exec(pid_t parent, int in_fd, int out_fd, int err_fd, char *const *argv)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(126);
    sigset_t none; /* the test may block signals the program waits for */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int in = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
    if (in >= 0)
        dup2(in, 0);
    dup2(out_fd, 1);
    if (err_fd >= 0)
        dup2(err_fd, 2);
    execv(argv[0], argv);
    _exit(127);
}

typedef struct exec_args {
    pid_t parent;
    int in_fd, out_fd, err_fd;
    int close_fds[3]; /* the parent's ends of its pipes, -1: none */
    char *const *argv;
} exec_args;

static void exec_child(void *arg)
{
    exec_args *x = arg;
    for (int i = 0; i < 3; i++)
        if (x->close_fds[i] >= 0)
            close(x->close_fds[i]);
    child_exec(x->parent, x->in_fd, x->out_fd, x->err_fd, x->argv);
}

static void spawn(kr_test_proc *p)
{
    int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ck_assert_msg(fd >= 0, "cannot open %s: %s", p->log, strerror(errno));
    int err_fd = fd;
    if (p->split) {
        err_fd = -1;
        if (p->err_log[0]) {
            err_fd = open(p->err_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            ck_assert_msg(err_fd >= 0, "cannot open %s: %s", p->err_log, strerror(errno));
        }
    }
    exec_args x = {getpid(), -1, fd, err_fd, {-1, -1, -1}, p->argv};
    pid_t pid = kr_test_fork_exec(exec_child, &x);
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    close(fd);
    if (err_fd >= 0 && err_fd != fd)
        close(err_fd);
    p->pid = pid;
    p->paused = false;
    p->starts++;
}

static void create_empty(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(fd >= 0, "cannot create %s: %s", path, strerror(errno));
    close(fd);
}

static void start(kr_test_proc *p, const char *log, const char *const *argv, bool split,
                  const char *err_log)
{
    memset(p, 0, sizeof(*p));
    p->split = split;
    snprintf(p->log, sizeof(p->log), "%s", log);
    create_empty(p->log);
    if (err_log) {
        snprintf(p->err_log, sizeof(p->err_log), "%s", err_log);
        create_empty(p->err_log);
    }
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

void kr_test_proc_start(kr_test_proc *p, const char *log, const char *const *argv)
{
    start(p, log, argv, false, NULL);
}

void kr_test_proc_start_split(kr_test_proc *p, const char *log, const char *err_log,
                              const char *const *argv)
{
    start(p, log, argv, true, err_log);
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

int kr_test_proc_signal(kr_test_proc *p, int sig)
{
    return p->pid > 0 ? kill(p->pid, sig) : -1;
}

int kr_test_proc_wait(kr_test_proc *p, int timeout_ms)
{
    if (p->pid <= 0)
        return p->starts > 0 ? p->status : -1;
    long end = now_ms() + timeout_ms;
    for (;;) {
        if (!kr_test_proc_running(p))
            return p->status;
        if (now_ms() >= end)
            return -1;
        pace_ms(10);
    }
}

int kr_test_proc_stop(kr_test_proc *p, int grace_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    if (p->paused)
        kill(p->pid, SIGCONT);
    p->paused = false;
    int status = kr_test_proc_wait(p, grace_ms);
    return status >= 0 ? status : kr_test_proc_kill(p, SIGKILL);
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

char *kr_test_proc_err_text(const kr_test_proc *p)
{
    char *text = p->err_log[0] ? kr_test_read_file("/", p->err_log) : NULL;
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

/* The first line of `text` that begins with "http" (its length in *len). */
static const char *url_line(const char *text, size_t *len)
{
    const char *line = text;
    while (*line) {
        size_t n = strcspn(line, "\n");
        if (line[n] != '\n')
            return NULL; /* not a whole line yet */
        if (strncmp(line, "http", 4) == 0) {
            *len = strcspn(line, " \r\n");
            return line;
        }
        line += n + 1;
    }
    return NULL;
}

void kr_test_proc_start_apiserver(kr_test_proc *p, const char *log, const char *const *flags,
                                  char *url, size_t size, int timeout_ms)
{
    const char *argv[KR_TEST_PROC_MAX_ARGS + 1] = {"kr-apiserver", "--port", "0"};
    size_t n = 3;
    for (; flags && *flags; flags++) {
        ck_assert_msg(n < KR_TEST_PROC_MAX_ARGS, "too many arguments");
        argv[n++] = *flags;
    }
    argv[n] = NULL;
    kr_test_proc_start(p, log, argv);
    long end = now_ms() + timeout_ms;
    for (;;) {
        char *text = kr_test_proc_log_text(p);
        size_t len = 0;
        const char *at = url_line(text, &len);
        if (at)
            snprintf(url, size, "%.*s", (int)len, at);
        free(text);
        if (at)
            return;
        ck_assert_msg(now_ms() < end && kr_test_proc_running(p),
                      "kr-apiserver printed no URL (see %s)", p->log);
        pace_ms(20);
    }
}

/* Append what fd has now to buf[0..size) (the rest is dropped); false at
 * its end (EOF or an error). */
static bool drain(int fd, char *buf, size_t size, size_t *len, bool *got)
{
    for (;;) {
        char chunk[4096];
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r > 0) {
            size_t room = size - 1 - *len;
            size_t take = (size_t)r < room ? (size_t)r : room;
            memcpy(buf + *len, chunk, take);
            *len += take;
            *got = true;
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            return false;
        return true;
    }
}

int kr_test_proc_run_io(const char *const *argv, const kr_test_proc_io *io, char *out, size_t size,
                        int timeout_ms)
{
    static const kr_test_proc_io none = {0};
    if (!io)
        io = &none;
    bool apart = io->err && io->err_size > 0;
    int fds[2], efds[2] = {-1, -1}, ifds[2] = {-1, -1};
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    if (apart)
        ck_assert_int_eq(pipe2(efds, O_CLOEXEC), 0);
    if (io->input)
        ck_assert_int_eq(pipe2(ifds, O_CLOEXEC), 0);
    char bin[1024];
    char *args[KR_TEST_PROC_MAX_ARGS + 1];
    size_t n = 0;
    for (; argv[n] && n < KR_TEST_PROC_MAX_ARGS; n++)
        args[n] = (char *)argv[n];
    args[n] = NULL;
    if (!strchr(args[0], '/'))
        args[0] = (char *)kr_test_bin_path(bin, sizeof(bin), args[0]);
    exec_args x = {getpid(),
                   ifds[0],
                   fds[1],
                   apart ? efds[1] : fds[1],
                   {fds[0], apart ? efds[0] : -1, io->input ? ifds[1] : -1},
                   args};
    pid_t pid = kr_test_fork_exec(exec_child, &x);
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    close(fds[1]);
    if (apart)
        close(efds[1]);
    if (io->input) {
        close(ifds[0]);
        /* a program that exits without reading must not kill the test */
        signal(SIGPIPE, SIG_IGN);
        size_t left = strlen(io->input);
        const char *at = io->input;
        while (left > 0) {
            ssize_t w = write(ifds[1], at, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            at += w;
            left -= (size_t)w;
        }
        close(ifds[1]);
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    if (apart)
        fcntl(efds[0], F_SETFL, O_NONBLOCK);
    size_t len = 0, elen = 0;
    long end = now_ms() + timeout_ms;
    int status = 0;
    bool open_out = true, open_err = apart;
    while (open_out || open_err) {
        bool got = false;
        if (open_out)
            open_out = drain(fds[0], out, size, &len, &got);
        if (open_err)
            open_err = drain(efds[0], io->err, io->err_size, &elen, &got);
        if (got)
            continue;
        if (now_ms() >= end)
            break;
        pace_ms(5);
    }
    bool done = !open_out && !open_err;
    close(fds[0]);
    if (apart) {
        close(efds[0]);
        io->err[elen] = '\0';
    }
    if (!done || waitpid(pid, &status, WNOHANG) != pid) {
        if (!done)
            kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    out[len] = '\0';
    return status_of(status);
}

int kr_test_proc_run(const char *const *argv, char *out, size_t size, int timeout_ms)
{
    return kr_test_proc_run_io(argv, NULL, out, size, timeout_ms);
}
