/* libkreconcile — base layer: whole-file reads, trimming, and the cached
 * token-file credential provider (client-go's cachingTokenSource: the file
 * is re-read when it changes, checked at most once a period or on a forced
 * refresh). Token contents never reach a log or an error message. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "kreconcile/config.h"
#include "util_internal.h"

#define DEFAULT_RECHECK_MS 60000

int kr_read_file(const char *path, size_t max, const char *what, char **out, size_t *len,
                 kr_error_t *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return kr_error_set(err, e == ENOENT ? KR_ENOTFOUND : KR_EIO, "%s %s: %s", what, path,
                            strerror(e));
    }
    kr_buf buf = {0};
    int rc = 0;
    for (;;) {
        if (kr_buf_reserve(&buf, 4096) != 0) {
            rc = kr_error_set(err, KR_ENOMEM, "%s %s: out of memory", what, path);
            break;
        }
        ssize_t n = read(fd, buf.data + buf.len, buf.cap - buf.len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = kr_error_set(err, KR_EIO, "%s %s: %s", what, path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        buf.len += (size_t)n;
        buf.data[buf.len] = '\0';
        if (buf.len > max) {
            rc = kr_error_set(err, KR_ETOOLARGE, "%s %s: larger than %zu bytes", what, path, max);
            break;
        }
    }
    close(fd);
    if (rc != 0) {
        kr_buf_free(&buf);
        return rc;
    }
    if (buf.data)
        buf.data[buf.len] = '\0';
    else if (kr_buf_append(&buf, "", 0) != 0)
        return kr_error_set(err, KR_ENOMEM, "%s %s: out of memory", what, path);
    *out = buf.data;
    if (len)
        *len = buf.len;
    return 0;
}

size_t kr_trim(char *s)
{
    if (!s)
        return 0;
    size_t len = strlen(s), start = 0;
    while (start < len && isspace((unsigned char)s[start]))
        start++;
    while (len > start && isspace((unsigned char)s[len - 1]))
        len--;
    memmove(s, s + start, len - start);
    s[len - start] = '\0';
    return len - start;
}

/* ---- token file provider ------------------------------------------------------------ */

typedef struct token_file {
    kr_credential_provider base; /* first: the vtable the caller sees */
    atomic_int refs;
    pthread_mutex_t mu;
    char *path;
    long long recheck_ns;
    kr_logger logger;
    struct timespec checked; /* monotonic time of the last stat() */
    struct stat seen; /* what the file looked like when read */
    char *token;
    char *previous; /* kept one more refresh for callers of the last get() */
} token_file;

static void wipe(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        kr_free(s);
    }
}

/* Read the file into p->token when it is new or changed. */
static int token_reload_locked(token_file *p, bool initial, kr_error_t *err)
{
    struct stat st;
    long long now = kr_clock_monotonic_ns();
    p->checked.tv_sec = (time_t)(now / 1000000000LL);
    p->checked.tv_nsec = (long)(now % 1000000000LL);
    if (stat(p->path, &st) != 0) {
        if (initial)
            return kr_error_set(err, errno == ENOENT ? KR_ENOTFOUND : KR_EIO,
                                "reading token file %s: %s", p->path, strerror(errno));
        kr_log(&p->logger, KR_LOG_WARN, "config", "token file %s: %s; keeping the previous token",
               p->path, strerror(errno));
        return 0;
    }
    if (!initial && st.st_ino == p->seen.st_ino && st.st_dev == p->seen.st_dev &&
        st.st_size == p->seen.st_size && st.st_mtim.tv_sec == p->seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == p->seen.st_mtim.tv_nsec)
        return 0;
    char *text = NULL;
    kr_error_t rerr = {0};
    int rc = kr_read_file(p->path, KR_READ_FILE_MAX, "reading token file", &text, NULL, &rerr);
    if (rc == 0 && kr_trim(text) == 0) {
        wipe(text);
        text = NULL;
        rc = kr_error_set(&rerr, KR_EINVAL, "read empty token from file %s", p->path);
    }
    if (rc != 0) {
        if (initial || rc == KR_ENOMEM) {
            if (err)
                *err = rerr;
            return rc;
        }
        kr_log(&p->logger, KR_LOG_WARN, "config", "%s; keeping the previous token", rerr.message);
        return 0;
    }
    wipe(p->previous);
    p->previous = p->token;
    p->token = text;
    p->seen = st;
    return 0;
}

static int token_get(kr_credential_provider *self, bool force_refresh, kr_credential *out,
                     kr_error_t *err)
{
    token_file *p = (token_file *)self;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->mu);
    long long checked = (long long)p->checked.tv_sec * 1000000000LL + p->checked.tv_nsec;
    int rc = 0;
    if (force_refresh || kr_clock_monotonic_ns() - checked >= p->recheck_ns)
        rc = token_reload_locked(p, false, err);
    out->token = p->token;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void token_free(kr_credential_provider *self)
{
    token_file *p = (token_file *)self;
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    wipe(p->token);
    wipe(p->previous);
    kr_free(p->path);
    pthread_mutex_destroy(&p->mu);
    kr_free(p);
}

static int token_copy(kr_credential_provider *self, kr_credential_provider **out, kr_error_t *err)
{
    (void)err;
    token_file *p = (token_file *)self;
    atomic_fetch_add(&p->refs, 1);
    *out = self;
    return 0;
}

int kr_credential_provider_token_file_new(const char *path, uint64_t recheck_ms,
                                          const kr_logger *logger, kr_credential_provider **out,
                                          kr_error_t *err)
{
    *out = NULL;
    if (!path || !*path) {
        kr_error_set(err, KR_EINVAL, "token file: empty path");
        return KR_EINVAL;
    }
    token_file *p = kr_calloc(1, sizeof(*p));
    if (!p)
        return kr_error_set(err, KR_ENOMEM, "allocating a token file provider");
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        kr_free(p);
        return kr_error_set(err, KR_ENOMEM, "allocating a token file provider");
    }
    atomic_init(&p->refs, 1);
    p->base.get = token_get;
    p->base.free = token_free;
    p->base.copy = token_copy;
    p->recheck_ns = (long long)(recheck_ms > 0 ? recheck_ms : DEFAULT_RECHECK_MS) * 1000000LL;
    if (logger)
        p->logger = *logger;
    p->path = kr_strdup(path);
    int rc = p->path ? token_reload_locked(p, true, err)
                     : kr_error_set(err, KR_ENOMEM, "allocating a token file provider");
    if (rc != 0) {
        token_free(&p->base);
        return rc;
    }
    *out = &p->base;
    return 0;
}
