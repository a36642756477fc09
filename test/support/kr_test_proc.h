/* libkreconcile tests — programs run as child processes by a test: started
 * with their output in a log file, killed, paused (SIGSTOP) and resumed,
 * restarted with the same arguments, and never outliving the test (they
 * get SIGKILL when the test process dies, also on a failed assertion).
 * Test-only. */
#ifndef KR_TEST_PROC_H
#define KR_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define KR_TEST_PROC_MAX_ARGS 64

typedef struct kr_test_proc {
    pid_t pid; /* 0: not running */
    bool paused;
    bool split; /* stderr not in the log (kr_test_proc_start_split) */
    char err_log[512]; /* then stderr's file; "": the test's own stderr */
    int starts; /* how many times it was started */
    int status; /* how the last run ended, as kr_test_proc_kill returns it */
    char log[512];
    char *argv[KR_TEST_PROC_MAX_ARGS + 1]; /* owned copies; argv[0] is the binary's path */
} kr_test_proc;

/* fork() for a child that execs at once: `child(arg)` runs in the child
 * and must exec or _exit. Returns the child's pid in the parent once the
 * child has reached exec (or ended), -1 when it cannot fork. A child of a
 * threaded test can deadlock between fork and exec inside a sanitizer's
 * runtime (ThreadSanitizer, rarely); one that has not reached exec within
 * 10 s is killed and forked again, and the test told on stderr. */
pid_t kr_test_fork_exec(void (*child)(void *arg), void *arg);

/* Start `argv` (NULL-terminated; argv[0] is a program of the build's bin
 * directory, or a path when it holds a '/') with stdout and stderr appended
 * to `log` (created empty by the first start). The arguments are copied.
 * Aborts the test when it cannot fork. */
void kr_test_proc_start(kr_test_proc *p, const char *log, const char *const *argv);

/* kr_test_proc_start with stdout alone in `log` and stderr in `err_log`
 * (created empty; NULL: stderr left to the test's own). */
void kr_test_proc_start_split(kr_test_proc *p, const char *log, const char *err_log,
                              const char *const *argv);

/* Start it again with the same arguments and log (after a kill). */
void kr_test_proc_restart(kr_test_proc *p);

/* Send `sig` (resuming a paused one first unless sig is SIGKILL) and wait
 * for the end: the exit code, or 128 + the signal that ended it; -1 when
 * it was not running. */
int kr_test_proc_kill(kr_test_proc *p, int sig);

/* SIGTERM, then SIGKILL after `grace_ms`: the status as kr_test_proc_kill. */
int kr_test_proc_stop(kr_test_proc *p, int grace_ms);

/* Send `sig` and return at once (0, or -1 when it is not running). */
int kr_test_proc_signal(kr_test_proc *p, int sig);

/* Wait at most `timeout_ms` for it to end by itself: the status as
 * kr_test_proc_kill (that of the last run when it had already ended); -1
 * when it still runs (it is left running) or never started. */
int kr_test_proc_wait(kr_test_proc *p, int timeout_ms);

/* SIGSTOP / SIGCONT. */
void kr_test_proc_pause(kr_test_proc *p);
void kr_test_proc_resume(kr_test_proc *p);

/* True while it runs (a process that ended by itself is reaped here, its
 * status kept in p->status). */
bool kr_test_proc_running(kr_test_proc *p);

/* Stop it (SIGKILL) when running and free the arguments; the log stays.
 * A zeroed or already freed one is a no-op. */
void kr_test_proc_free(kr_test_proc *p);

/* The log's text (new, free()); "" when unreadable. */
char *kr_test_proc_log_text(const kr_test_proc *p);

/* The text of err_log (kr_test_proc_start_split) as kr_test_proc_log_text. */
char *kr_test_proc_err_text(const kr_test_proc *p);

/* Wait at most `timeout_ms` for `text` to appear in the log after byte
 * `from` (0: anywhere). True when it did. */
bool kr_test_proc_log_wait(const kr_test_proc *p, const char *text, size_t from, int timeout_ms);

/* The size of the log now (for kr_test_proc_log_wait's `from`). */
size_t kr_test_proc_log_size(const kr_test_proc *p);

/* Start kr-apiserver (the build's) on a free port: "--port 0" then `flags`
 * (NULL-terminated; NULL: none), its output in `log`; wait at most
 * `timeout_ms` for the URL it prints first (a line beginning with "http"),
 * copied into url[0..size). Aborts the test when no URL comes. */
void kr_test_proc_start_apiserver(kr_test_proc *p, const char *log, const char *const *flags,
                                  char *url, size_t size, int timeout_ms);

/* Run `argv` to its end (killed after `timeout_ms`) with stdin from
 * /dev/null; its stdout (and stderr) in out[0..size), NUL-terminated.
 * Returns the status as kr_test_proc_kill. */
int kr_test_proc_run(const char *const *argv, char *out, size_t size, int timeout_ms);

/* What kr_test_proc_run_io does beyond kr_test_proc_run; zero: as
 * kr_test_proc_run. */
typedef struct kr_test_proc_io {
    const char *input; /* written to its stdin, then closed (NULL: /dev/null) */
    char *err; /* its stderr apart, in err[0..err_size), NUL-terminated */
    size_t err_size; /* (err NULL: stderr with stdout in `out`) */
} kr_test_proc_io;

/* kr_test_proc_run with the stdin and stderr of `io` (borrowed; NULL: as
 * kr_test_proc_run). With an input, SIGPIPE is ignored in the test process
 * from then on (a program may exit without reading it). */
int kr_test_proc_run_io(const char *const *argv, const kr_test_proc_io *io, char *out, size_t size,
                        int timeout_ms);

#endif /* KR_TEST_PROC_H */
