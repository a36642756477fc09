/* libkreconcile tests — implementation of the headless chromium driver
 * (chromium.h): the browser is our child with pipes on its fds 3 (commands)
 * and 4 (answers and events); one page target, attached in flat mode. */
#include "chromium.h"

#include "kr_test_tmpdir.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct kr_chromium {
    pid_t pid;
    int to_browser; /* its fd 3 */
    int from_browser; /* its fd 4 */
    char profile[64];
    char *in; /* bytes read, not yet a whole message */
    size_t in_len, in_cap;
    long next_id;
    char session[128];
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

static const char *find_binary(void)
{
    static const char *const candidates[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser",
                                             "/usr/lib/chromium/chromium"};
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return NULL;
}

/* Send one command; returns its id or -1. `params` is stolen. */
static long send_command(kr_chromium *c, const char *method, json_t *params, bool in_session)
{
    long id = ++c->next_id;
    json_t *msg = json_pack("{s:I, s:s, s:o}", "id", (json_int_t)id, "method", method, "params",
                            params ? params : json_object());
    if (in_session && c->session[0])
        json_object_set_new(msg, "sessionId", json_string(c->session));
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text)
        return -1;
    size_t len = strlen(text) + 1; /* the NUL separates messages */
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(c->to_browser, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            free(text);
            return -1;
        }
        off += (size_t)w;
    }
    free(text);
    return id;
}

/* The answer to command `id` (new reference), skipping events; NULL after
 * timeout_ms or when the browser is gone. */
static json_t *wait_answer(kr_chromium *c, long id, long timeout_ms)
{
    double deadline = now_ms() + (double)timeout_ms;
    for (;;) {
        char *nul;
        while (c->in_len && (nul = memchr(c->in, '\0', c->in_len)) != NULL) {
            size_t len = (size_t)(nul - c->in);
            json_t *msg = json_loadb(c->in, len, 0, NULL);
            memmove(c->in, nul + 1, c->in_len - len - 1);
            c->in_len -= len + 1;
            if (msg && json_integer_value(json_object_get(msg, "id")) == id)
                return msg;
            json_decref(msg);
        }
        double left = deadline - now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p = {.fd = c->from_browser, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        if (c->in_len + 65536 > c->in_cap) {
            size_t cap = (c->in_len + 65536) * 2;
            char *grown = realloc(c->in, cap);
            if (!grown)
                return NULL;
            c->in = grown;
            c->in_cap = cap;
        }
        ssize_t n = read(c->from_browser, c->in + c->in_len, c->in_cap - c->in_len);
        if (n <= 0)
            return NULL;
        c->in_len += (size_t)n;
    }
}

static json_t *call(kr_chromium *c, const char *method, json_t *params, bool in_session, char *why,
                    size_t why_size)
{
    long id = send_command(c, method, params, in_session);
    json_t *answer = id > 0 ? wait_answer(c, id, 30000) : NULL;
    if (!answer) {
        snprintf(why, why_size, "%s: no answer from chromium", method);
        return NULL;
    }
    json_t *error = json_object_get(answer, "error");
    if (error) {
        snprintf(why, why_size, "%s: %s", method,
                 json_string_value(json_object_get(error, "message")));
        json_decref(answer);
        return NULL;
    }
    return answer;
}

int kr_chromium_open(const char *url, kr_chromium **out, char *why, size_t why_size)
{
    *out = NULL;
    const char *bin = find_binary();
    if (!bin) {
        snprintf(why, why_size, "no chromium binary (install Debian's chromium)");
        return -1;
    }
    kr_chromium *c = calloc(1, sizeof(*c));
    int cmd[2], ans[2];
    if (!kr_test_tmpdir_make(c->profile, sizeof(c->profile), "kr-chromium") || pipe(cmd) != 0 ||
        pipe(ans) != 0) {
        snprintf(why, why_size, "cannot make a profile directory or pipes: %s", strerror(errno));
        free(c);
        return -1;
    }
    char profile_arg[128], tmpdir_env[96];
    snprintf(profile_arg, sizeof(profile_arg), "--user-data-dir=%s", c->profile);
    /* Its temporary files (the singleton socket's directory) go in the
     * profile too, and with it when the test ends. The environment is
     * built here: the child of a threaded process must not allocate. */
    snprintf(tmpdir_env, sizeof(tmpdir_env), "TMPDIR=%s", c->profile);
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    char **env = calloc(n_env + 2, sizeof(char *));
    if (!env) {
        snprintf(why, why_size, "out of memory");
        close(cmd[0]), close(cmd[1]), close(ans[0]), close(ans[1]);
        kr_test_tmpdir_remove(c->profile);
        free(c);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "TMPDIR=", 7) != 0)
            env[k++] = environ[i];
    env[k++] = tmpdir_env;
    env[k] = NULL;
    char *const args[] = {(char *)bin,
                          "--headless",
                          "--no-sandbox",
                          "--disable-gpu",
                          "--disable-background-networking",
                          "--disable-component-update",
                          "--disable-sync",
                          "--no-first-run",
                          "--disable-dev-shm-usage",
                          "--remote-debugging-pipe",
                          profile_arg,
                          "about:blank",
                          NULL};
    pid_t parent = getpid();
    c->pid = fork();
    if (c->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(125);
        setpgid(0, 0); /* its helper processes too are stopped at close */
        /* fds 3 and 4 are the protocol's; everything else closed. */
        int in = dup(cmd[0]), outfd = dup(ans[1]);
        dup2(in, 3);
        dup2(outfd, 4);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        for (int fd = 5; fd < 1024; fd++)
            close(fd);
        execve(bin, args, env);
        _exit(127);
    }
    free(env);
    close(cmd[0]);
    close(ans[1]);
    c->to_browser = cmd[1];
    c->from_browser = ans[0];
    signal(SIGPIPE, SIG_IGN);
    json_t *r =
        call(c, "Target.createTarget", json_pack("{s:s}", "url", url), false, why, why_size);
    const char *target =
        json_string_value(json_object_get(json_object_get(r, "result"), "targetId"));
    json_t *a = target ? call(c, "Target.attachToTarget",
                              json_pack("{s:s, s:b}", "targetId", target, "flatten", 1), false, why,
                              why_size)
                       : NULL;
    const char *session =
        json_string_value(json_object_get(json_object_get(a, "result"), "sessionId"));
    if (session)
        snprintf(c->session, sizeof(c->session), "%s", session);
    json_decref(r);
    json_decref(a);
    if (!c->session[0]) {
        kr_chromium_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

int kr_chromium_eval(kr_chromium *c, const char *expression, json_t **value, char *why,
                     size_t why_size)
{
    *value = NULL;
    json_t *r = call(c, "Runtime.evaluate",
                     json_pack("{s:s, s:b, s:b}", "expression", expression, "returnByValue", 1,
                               "awaitPromise", 1),
                     true, why, why_size);
    if (!r)
        return -1;
    json_t *result = json_object_get(r, "result");
    json_t *exception = json_object_get(result, "exceptionDetails");
    if (exception) {
        snprintf(why, why_size, "exception: %s",
                 json_string_value(
                     json_object_get(json_object_get(exception, "exception"), "description")));
        json_decref(r);
        return -1;
    }
    *value = json_incref(json_object_get(json_object_get(result, "result"), "value"));
    json_decref(r);
    return 0;
}

bool kr_chromium_wait_true(kr_chromium *c, const char *expression, long timeout_ms)
{
    double deadline = now_ms() + (double)timeout_ms;
    do {
        json_t *v = NULL;
        char why[256];
        if (kr_chromium_eval(c, expression, &v, why, sizeof(why)) == 0 && json_is_true(v)) {
            json_decref(v);
            return true;
        }
        json_decref(v);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    } while (now_ms() < deadline);
    return false;
}

void kr_chromium_close(kr_chromium *c)
{
    if (!c)
        return;
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        double deadline = now_ms() + 10000;
        while (waitpid(c->pid, NULL, WNOHANG) == 0) {
            if (now_ms() > deadline) {
                kill(c->pid, SIGKILL);
                waitpid(c->pid, NULL, 0);
                break;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        /* Its helpers left in its process group would write the profile
         * again after it is removed: they go first (at most 2 s). */
        kill(-c->pid, SIGKILL);
        for (int i = 0; i < 100 && kill(-c->pid, 0) == 0; i++) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (c->to_browser > 0)
        close(c->to_browser);
    if (c->from_browser > 0)
        close(c->from_browser);
    kr_test_tmpdir_remove(c->profile);
    free(c->in);
    free(c);
}
