/* libkreconcile tests — implementation of the private PostgreSQL server
 * (pgserver.h): Debian's server binaries, run directly (no pg_ctl) as our
 * child so that it can be stopped, restarted and killed with us. */
#include "pgserver.h"

#include "kr_test_proc.h"
#include "kr_test_tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct kr_pgserver {
    char bin[512]; /* the directory of initdb and postgres */
    char dir[256]; /* the temporary directory */
    char url[256];
    int port;
    pid_t pid;
    uid_t uid;
    gid_t gid;
    bool drop_privileges;
    int next_db;
    int reaper_fd; /* the write end of the reaper's pipe (-1: none) */
};

/* The reaper: a shell that outlives us, reading a pipe whose write end
 * only we hold (close-on-exec). At its end of file (kr_pgserver_free, or
 * our death: a failed test ends with _exit, a timed-out one with SIGKILL,
 * and nothing of ours runs) it waits for the postmaster (which got its
 * parent-death signal) to exit, then removes the directory. Started by a
 * double fork (nobody waits for it) that only calls what is safe after a
 * fork of a threaded process. */
static const char reaper_script[] =
    "cat >/dev/null; n=0; while [ $n -lt 300 ] && kill -0 \"$(head -n 1 \"$1/data/postmaster.pid\" "
    "2>/dev/null)\" 2>/dev/null; do sleep 0.1; n=$((n+1)); done; rm -rf \"$1\"";

static void start_reaper(kr_pgserver *srv)
{
    int fds[2];
    srv->reaper_fd = -1;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        if (fork() == 0) {
            dup2(fds[0], 0); /* dup2 clears close-on-exec on 0 */
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
            setsid(); /* out of the test's process group and its signals */
            execl("/bin/sh", "sh", "-c", reaper_script, "sh", srv->dir, (char *)NULL);
        }
        _exit(0);
    }
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    srv->reaper_fd = pid > 0 ? fds[1] : -1;
    if (pid <= 0)
        close(fds[1]);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The newest /usr/lib/postgresql/N/bin holding initdb. */
static int find_bin(char *out, size_t size)
{
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
        return -1;
    int best = -1;
    long best_version = -1;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
        if (v > best_version) {
            best_version = v;
            best = (int)i;
        }
    }
    if (best >= 0) {
        snprintf(out, size, "%s", g.gl_pathv[best]);
        char *slash = strrchr(out, '/');
        *slash = '\0';
    }
    globfree(&g);
    return best >= 0 ? 0 : -1;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct spawn_args {
    kr_pgserver *srv;
    char *const *argv;
    const char *log;
    pid_t parent;
} spawn_args;

static void spawn_child(void *arg)
{
    spawn_args *x = arg;
    int fd = open(x->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    if (x->srv->drop_privileges &&
        (setgroups(0, NULL) != 0 || setgid(x->srv->gid) != 0 || setuid(x->srv->uid) != 0))
        _exit(126);
    prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (getppid() != x->parent)
        _exit(125);
    execv(x->argv[0], x->argv);
    _exit(127);
}

/* Fork and exec argv as the server's user, output to dir/log. The child
 * gets SIGQUIT (immediate shutdown) when we die: the parent-death signal is
 * set after the user change, which would clear it. */
static pid_t spawn(kr_pgserver *srv, char *const argv[])
{
    char log[320];
    snprintf(log, sizeof(log), "%s/log", srv->dir);
    spawn_args x = {srv, argv, log, getpid()};
    return kr_test_fork_exec(spawn_child, &x);
}

static int run_wait(kr_pgserver *srv, char *const argv[])
{
    pid_t pid = spawn(srv, argv);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int wait_ready(kr_pgserver *srv, char *why, size_t why_size)
{
    double deadline = now_s() + 60;
    while (now_s() < deadline) {
        if (PQping(srv->url) == PQPING_OK)
            return 0;
        int status;
        if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
            srv->pid = 0;
            snprintf(why, why_size, "postgres exited at start-up (see %s/log)", srv->dir);
            return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    snprintf(why, why_size, "postgres did not accept connections within 60 s (see %s/log)",
             srv->dir);
    return -1;
}

static int launch(kr_pgserver *srv, char *why, size_t why_size)
{
    char postgres[600], data[300], port[16];
    snprintf(postgres, sizeof(postgres), "%s/postgres", srv->bin);
    snprintf(data, sizeof(data), "%s/data", srv->dir);
    snprintf(port, sizeof(port), "%d", srv->port);
    char *const argv[] = {postgres,
                          "-D",
                          data,
                          "-p",
                          port,
                          "-k",
                          srv->dir,
                          "-c",
                          "listen_addresses=127.0.0.1",
                          "-c",
                          "max_connections=50",
                          NULL};
    srv->pid = spawn(srv, argv);
    if (srv->pid < 0) {
        srv->pid = 0;
        snprintf(why, why_size, "fork: %s", strerror(errno));
        return -1;
    }
    return wait_ready(srv, why, why_size);
}

int kr_pgserver_start(kr_pgserver **out, char *why, size_t why_size)
{
    *out = NULL;
    kr_pgserver *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    if (find_bin(srv->bin, sizeof(srv->bin)) != 0) {
        snprintf(why, why_size, "no /usr/lib/postgresql/*/bin/initdb (install postgresql)");
        free(srv);
        return -1;
    }
    if (!kr_test_tmpdir_make(srv->dir, sizeof(srv->dir), "kr-pg")) {
        snprintf(why, why_size, "mkdtemp: %s", strerror(errno));
        free(srv);
        return -1;
    }
    if (geteuid() == 0) {
        /* The server refuses to run as root. */
        struct passwd *pw = getpwnam("nobody");
        if (!pw || chown(srv->dir, pw->pw_uid, pw->pw_gid) != 0) {
            snprintf(why, why_size, "running as root and cannot hand %s to nobody", srv->dir);
            kr_pgserver_free(srv);
            return -1;
        }
        srv->drop_privileges = true;
        srv->uid = pw->pw_uid;
        srv->gid = pw->pw_gid;
    }
    char initdb[600], data[300];
    snprintf(initdb, sizeof(initdb), "%s/initdb", srv->bin);
    snprintf(data, sizeof(data), "%s/data", srv->dir);
    char *const argv[] = {initdb,  "-D",        data,         "-U",   "postgres",    "-A",
                          "trust", "--no-sync", "--encoding", "UTF8", "--no-locale", NULL};
    if (run_wait(srv, argv) != 0) {
        snprintf(why, why_size, "initdb failed (see %s/log)", srv->dir);
        /* keep the directory for the log */
        free(srv);
        return -1;
    }
    srv->port = free_port();
    snprintf(srv->url, sizeof(srv->url), "postgresql://postgres@127.0.0.1:%d/postgres", srv->port);
    if (srv->port <= 0 || launch(srv, why, why_size) != 0) {
        if (srv->pid > 0) {
            kill(srv->pid, SIGKILL);
            waitpid(srv->pid, NULL, 0);
        }
        free(srv);
        return -1;
    }
    start_reaper(srv);
    *out = srv;
    return 0;
}

const char *kr_pgserver_url(const kr_pgserver *srv)
{
    return srv->url;
}

int kr_pgserver_create_db(kr_pgserver *srv, char *url, size_t size)
{
    PGconn *c = PQconnectdb(srv->url);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return -1;
    }
    char sql[128];
    int n = ++srv->next_db;
    snprintf(sql, sizeof(sql), "CREATE DATABASE t%d_%d", (int)getpid(), n);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    if (!ok)
        return -1;
    snprintf(url, size, "postgresql://postgres@127.0.0.1:%d/t%d_%d", srv->port, (int)getpid(), n);
    return 0;
}

int kr_pgserver_stop(kr_pgserver *srv)
{
    if (srv->pid <= 0)
        return 0;
    kill(srv->pid, SIGINT); /* fast shutdown */
    double deadline = now_s() + 30;
    int status;
    while (waitpid(srv->pid, &status, WNOHANG) == 0) {
        if (now_s() > deadline) {
            kill(srv->pid, SIGKILL);
            waitpid(srv->pid, &status, 0);
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    srv->pid = 0;
    return 0;
}

int kr_pgserver_restart(kr_pgserver *srv)
{
    char why[256];
    if (srv->pid > 0)
        return 0;
    return launch(srv, why, sizeof(why));
}

void kr_pgserver_free(kr_pgserver *srv)
{
    if (!srv)
        return;
    kr_pgserver_stop(srv);
    kr_test_tmpdir_remove(srv->dir);
    if (srv->reaper_fd >= 0)
        close(srv->reaper_fd); /* the reaper finds nothing left to remove */
    free(srv);
}

bool kr_pgserver_required(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

struct pg_conn *kr_pgserver_lock(const char *url, const char *tables)
{
    PGconn *holder = PQconnectdb(url);
    char sql[256];
    snprintf(sql, sizeof(sql), "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", tables);
    const char *steps[] = {"BEGIN", sql};
    for (size_t i = 0; PQstatus(holder) == CONNECTION_OK && i < 2; i++) {
        PGresult *r = PQexec(holder, steps[i]);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok)
            break;
        if (i == 1)
            return holder;
    }
    PQfinish(holder);
    return NULL;
}

static long waiters(PGconn *holder)
{
    PGresult *r = PQexec(holder, "SELECT count(*) FROM pg_locks WHERE NOT granted");
    long n = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return n;
}

bool kr_pgserver_wait_for_a_waiter(struct pg_conn *holder)
{
    struct timespec tick = {0, 20 * 1000000};
    time_t deadline = time(NULL) + 30;
    while (waiters(holder) == 0 && time(NULL) < deadline)
        nanosleep(&tick, &tick);
    return waiters(holder) > 0;
}

void kr_pgserver_unlock(struct pg_conn *holder)
{
    if (!holder)
        return;
    PQclear(PQexec(holder, "ROLLBACK"));
    PQfinish(holder);
}
