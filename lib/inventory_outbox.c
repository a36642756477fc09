/* libkreconcile — the inventory's outbox: actions recorded in the order
 * they were made, across a database outage. The first try is the caller's
 * own; once one fails, it and every later action wait in a FIFO that one
 * thread records, oldest first, retrying with growing pauses. Every action
 * carries a dedup key (the caller's, or one made here), so that a retry
 * after an answer lost on its way is still one transaction.
 *
 * With a spool file, every action that starts to wait is also appended to
 * it, one JSON object per line, and synced before the caller is told it
 * waits; the file is emptied whenever the queue is. A new outbox on the
 * same file queues what it holds first: a process killed during an outage
 * loses nothing, and what it had recorded already (a crash between a
 * record and the emptying) is recorded again under the same key, which
 * the inventory keeps once. A queue that stays busy for long has the
 * file rewritten with only what still waits, once most of it is recorded:
 * the new file is synced and locked beside the old before it takes the
 * name, so a crash leaves one whole file and a second outbox never finds
 * it unlocked. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "inventory_internal.h"
#include "kreconcile/inventory.h"
#include "lock.h"

#define DEFAULT_MAX_PENDING 100000
#define DEFAULT_RETRY_MAX_MS 5000
#define RETRY_FIRST_MS 100
/* The spool is rewritten once it holds this much and more than half of it
 * is recorded already. */
#define SPOOL_COMPACT_MIN ((off_t)1 << 20)

/* One queued action: its strings and detail are its own. */
typedef struct pending {
    struct pending *next;
    kr_inventory_action a;
    char *key;
    int64_t made_ms; /* when it was made: the transaction's time */
    bool spooled; /* its line is in the spool */
    /* Its caller's own try, made by the thread while the caller waits
     * (kr_inventory_outbox_record_unless): not waiting yet, not spooled.
     * Once an action waits, none is: an outage, or a caller that gave up,
     * makes every one wait (spooled, in the queue's order). */
    bool trying;
    /* Its caller (kr_inventory_outbox_record_unless) still looks at it:
     * once done with, the thread leaves it to that caller (finished), never
     * frees it; the caller clears this when it leaves it to the thread. */
    bool held;
    bool finished; /* done with while held: its caller takes it (and frees it) */
    int rc; /* finished: the try's result, and err its message */
    kr_error_t err;
    size_t spool_len; /* that line's bytes */
    char *strings[9]; /* what a's string fields point to */
} pending;

struct kr_inventory_outbox {
    kr_inventory_t *inv; /* borrowed */
    kr_logger logger;
    size_t max_pending;
    uint64_t retry_max_ms;
    kr_mutex mu;
    kr_cond wake; /* a new action, or stop */
    kr_cond drained; /* the queue became empty */
    kr_cond tried; /* an action of a caller's own try finished, or waits now */
    pending *head, *tail; /* guarded by mu */
    size_t n; /* guarded by mu */
    size_t n_trying; /* of which callers' own tries (pending.trying); guarded by mu */
    size_t dropped; /* taken, then refused for good by the inventory; guarded by mu */
    bool stopping; /* guarded by mu */
    bool thread_started;
    pthread_t thread;
    char *spool_path; /* NULL: no spool */
    int spool_fd; /* -1: no spool; written under mu */
    off_t spool_size; /* what the file holds; guarded by mu */
    off_t spool_live; /* of which lines of actions still waiting; guarded by mu */
    off_t compact_floor; /* no rewrite below this size; guarded by mu */
};

static void pending_free(pending *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < KR_ARRAY_LEN(p->strings); i++)
        kr_free(p->strings[i]);
    json_decref((json_t *)p->a.detail);
    kr_free(p->key);
    kr_free(p);
}

/* A copy of `s` kept in p->strings[*i] (NULL stays NULL); false when out of
 * memory. */
static bool keep(pending *p, size_t *i, const char *s, const char **out)
{
    *out = NULL;
    if (!s)
        return true;
    p->strings[*i] = kr_strdup(s);
    *out = p->strings[(*i)++];
    return *out != NULL;
}

static pending *pending_new(const kr_inventory_action *a, const char *key)
{
    pending *p = kr_calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    size_t i = 0;
    bool ok = keep(p, &i, a->cluster, &p->a.cluster) &&
              keep(p, &i, a->api_version, &p->a.api_version) && keep(p, &i, a->kind, &p->a.kind) &&
              keep(p, &i, a->namespace_, &p->a.namespace_) && keep(p, &i, a->name, &p->a.name) &&
              keep(p, &i, a->uid, &p->a.uid) &&
              keep(p, &i, a->resource_version, &p->a.resource_version) &&
              keep(p, &i, a->event, &p->a.event) && keep(p, &i, a->actor, &p->a.actor);
    p->key = ok ? kr_strdup(key) : NULL;
    if (ok && p->key && a->detail) {
        p->a.detail = json_deep_copy(a->detail);
        ok = p->a.detail != NULL;
    }
    if (!ok || !p->key) {
        pending_free(p);
        return NULL;
    }
    return p;
}

/* A key no other action will have: "outbox:" and 128 random bits. */
static void make_key(char out[64])
{
    snprintf(out, 64, "outbox:%016llx%016llx", (unsigned long long)kr_random_u64(),
             (unsigned long long)kr_random_u64());
}

/* An error after which the same record may go through later: the
 * database is away or busy (a restart, a lost connection), as the
 * backends report it. Anything else (KR_EIO: the database refuses the
 * row; KR_EINVAL) would fail forever and hold everything behind it. */
static bool retryable(int rc)
{
    return rc == KR_EUNAVAILABLE || rc == KR_ECONNECT || rc == KR_ETIMEDOUT;
}

/* Put `p` at the tail of the queue (mu held, or before the thread runs). */
static void append(kr_inventory_outbox_t *ob, pending *p)
{
    if (ob->tail)
        ob->tail->next = p;
    else
        ob->head = p;
    ob->tail = p;
    ob->n++;
}

/* ---- The spool ---------------------------------------------------------- */

/* Set `name` in `o` to `value` when value is not NULL; false when out of
 * memory. */
static bool put_str(json_t *o, const char *name, const char *value)
{
    return !value || json_object_set_new(o, name, json_string(value)) == 0;
}

/* One spool line for `p`, newline included; NULL when out of memory or
 * when a string is not UTF-8 (such an action waits in memory only). */
static char *spool_line(const pending *p)
{
    json_t *o = json_object();
    const kr_inventory_action *a = &p->a;
    bool ok = o && put_str(o, "key", p->key) &&
              json_object_set_new(o, "madeMs", json_integer(p->made_ms)) == 0 &&
              put_str(o, "cluster", a->cluster) && put_str(o, "apiVersion", a->api_version) &&
              put_str(o, "kind", a->kind) && put_str(o, "namespace", a->namespace_) &&
              put_str(o, "name", a->name) && put_str(o, "uid", a->uid) &&
              put_str(o, "resourceVersion", a->resource_version) && put_str(o, "event", a->event) &&
              put_str(o, "actor", a->actor) &&
              (!a->detail || json_object_set(o, "detail", (json_t *)a->detail) == 0);
    char *text = ok ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = kr_malloc(n + 2);
    if (line) {
        memcpy(line, text, n);
        memcpy(line + n, "\n", 2);
    }
    free(text); /* jansson's allocator */
    return line;
}

/* Write all of buf[0..len) to fd, adding what was written to *done: NULL,
 * or why not. */
static const char *write_all(int fd, const char *buf, size_t len, size_t *done)
{
    for (size_t at = 0; at < len;) {
        ssize_t n = write(fd, buf + at, len - at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return strerror(n < 0 ? errno : EIO);
        at += (size_t)n;
        *done += (size_t)n;
    }
    return NULL;
}

/* Append `p` to the spool and sync it (mu held). On failure the file is
 * cut back to what it held, so that no torn line precedes the next. */
static void spool_append(kr_inventory_outbox_t *ob, pending *p)
{
    if (ob->spool_fd < 0)
        return;
    char *line = spool_line(p);
    const char *why = line ? NULL : "the action cannot be written as JSON";
    size_t len = line ? strlen(line) : 0, done = 0;
    if (!why)
        why = write_all(ob->spool_fd, line, len, &done);
    if (!why && fdatasync(ob->spool_fd) != 0)
        why = strerror(errno);
    kr_free(line);
    if (!why) {
        ob->spool_size += (off_t)len;
        ob->spool_live += (off_t)len;
        p->spooled = true;
        p->spool_len = len;
        return;
    }
    if (done && ftruncate(ob->spool_fd, ob->spool_size) != 0)
        kr_log(&ob->logger, KR_LOG_ERROR, "inventory", "outbox: cannot cut %s back: %s",
               ob->spool_path, strerror(errno));
    kr_log(&ob->logger, KR_LOG_ERROR, "inventory",
           "outbox: %s of %s/%s in %s waits in memory only: not written to %s: %s", p->a.event,
           p->a.namespace_ ? p->a.namespace_ : "", p->a.name, p->a.cluster, ob->spool_path, why);
}

/* Every caller's own try still in the queue waits from now on, spooled in
 * the queue's order, and its caller is told (mu held). */
static void tries_wait(kr_inventory_outbox_t *ob)
{
    if (!ob->n_trying)
        return;
    for (pending *p = ob->head; p; p = p->next) {
        if (!p->trying)
            continue;
        p->trying = false;
        ob->n_trying--;
        spool_append(ob, p);
    }
    kr_cond_broadcast(&ob->tried);
}

/* Empty the spool: nothing waits (mu held). */
static void spool_empty(kr_inventory_outbox_t *ob)
{
    if (ob->spool_fd < 0 || ob->spool_size == 0)
        return;
    if (ftruncate(ob->spool_fd, 0) != 0) {
        kr_log(&ob->logger, KR_LOG_ERROR, "inventory", "outbox: cannot empty %s: %s",
               ob->spool_path, strerror(errno));
        return;
    }
    ob->spool_size = 0;
    ob->spool_live = 0;
}

static const char *line_str(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* The action of one spool line, or NULL with *why saying why it is not
 * one (*why NULL: out of memory, no fault of the line's). */
static pending *spool_parse(const char *text, size_t len, const char **why)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    *why = "not a JSON object";
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    const json_t *detail = json_object_get(o, "detail");
    kr_inventory_action a = {.cluster = line_str(o, "cluster"),
                             .api_version = line_str(o, "apiVersion"),
                             .kind = line_str(o, "kind"),
                             .namespace_ = line_str(o, "namespace"),
                             .name = line_str(o, "name"),
                             .uid = line_str(o, "uid"),
                             .resource_version = line_str(o, "resourceVersion"),
                             .event = line_str(o, "event"),
                             .actor = line_str(o, "actor"),
                             .detail = json_is_null(detail) ? NULL : detail};
    const char *key = line_str(o, "key");
    const json_t *made = json_object_get(o, "madeMs");
    pending *p = NULL;
    kr_error_t err = {0};
    if (!key || !*key || !json_is_integer(made))
        *why = "no key or no madeMs";
    else if (kr_inv_action_check(&a, &err) != 0)
        *why = "not an action the inventory takes";
    else if (!(p = pending_new(&a, key)))
        *why = NULL; /* out of memory: no fault of the line's */
    else
        p->made_ms = json_integer_value(made);
    json_decref(o);
    return p;
}

/* fsync the folder that holds `path`: 0, or -1 with errno. */
static int sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Where a rewrite of the spool is written before it takes the name. */
static char *compact_path(const char *spool_path)
{
    return kr_asprintf("%s.compact", spool_path);
}

/* Rewrite the spool with the lines of what still waits, once it is large
 * and mostly recorded already (mu held): a queue that never empties, as
 * under a load the database only just keeps up with, would otherwise grow
 * it without end. The new file is written, synced and locked before it is
 * renamed over the old, so a crash at any point leaves one file holding
 * every waiting action (at worst some recorded already, which their keys
 * make harmless), and a second outbox that opens the name finds it locked.
 * On failure the old file stays, and no rewrite is tried until it has
 * doubled. */
static void spool_compact(kr_inventory_outbox_t *ob)
{
    if (ob->spool_fd < 0 || ob->spool_size < SPOOL_COMPACT_MIN ||
        ob->spool_size < ob->compact_floor || ob->spool_live * 2 > ob->spool_size)
        return;
    char *tmp = compact_path(ob->spool_path);
    int fd = tmp ? open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600) : -1;
    const char *why = !tmp ? "out of memory" : fd < 0 ? strerror(errno) : NULL;
    if (!why && flock(fd, LOCK_EX | LOCK_NB) != 0)
        why = strerror(errno);
    size_t size = 0, kept = 0;
    for (pending *p = ob->head; p && !why; p = p->next) {
        if (!p->spooled)
            continue;
        char *line = spool_line(p);
        size_t before = size;
        why = line ? write_all(fd, line, strlen(line), &size) : "out of memory";
        kr_free(line);
        p->spool_len = size - before;
        kept++;
    }
    if (!why && fdatasync(fd) != 0)
        why = strerror(errno);
    if (!why && rename(tmp, ob->spool_path) != 0)
        why = strerror(errno);
    if (why) {
        if (fd >= 0)
            close(fd);
        if (tmp)
            unlink(tmp);
        kr_free(tmp);
        ob->spool_live = 0; /* the lengths are the rewritten lines' now */
        for (pending *p = ob->head; p; p = p->next)
            ob->spool_live += p->spooled ? (off_t)p->spool_len : 0;
        ob->compact_floor = ob->spool_size * 2;
        kr_log(&ob->logger, KR_LOG_ERROR, "inventory",
               "outbox: cannot rewrite %s (%lld bytes) with what still waits: %s", ob->spool_path,
               (long long)ob->spool_size, why);
        return;
    }
    kr_free(tmp);
    if (sync_parent(ob->spool_path) != 0) /* a power loss may bring the old back: harmless */
        kr_log(&ob->logger, KR_LOG_WARN, "inventory", "outbox: cannot sync the folder of %s: %s",
               ob->spool_path, strerror(errno));
    kr_log(&ob->logger, KR_LOG_INFO, "inventory",
           "outbox: %s rewritten with the %zu action(s) still waiting: %zu of %lld bytes kept",
           ob->spool_path, kept, size, (long long)ob->spool_size);
    close(ob->spool_fd); /* and the old file's lock: the new one holds its own */
    ob->spool_fd = fd;
    ob->spool_size = (off_t)size;
    ob->spool_live = (off_t)size;
    ob->compact_floor = 0;
}

/* Open `path` and lock it. The lock must be on the file the name holds:
 * one taken on a file an outbox's rewrite has just replaced guards
 * nothing, so then the name is opened again. */
static int spool_lock(kr_inventory_outbox_t *ob, const char *path, kr_error_t *err)
{
    for (int tries = 0;; tries++) {
        ob->spool_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
        bool made = ob->spool_fd >= 0;
        if (!made && errno == EEXIST)
            ob->spool_fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (ob->spool_fd < 0)
            return kr_error_set(err, KR_EIO, "inventory outbox: cannot open %s: %s", path,
                                strerror(errno));
        if (made && sync_parent(path) != 0) /* the new name outlives a power loss too */
            return kr_error_set(err, KR_EIO, "inventory outbox: cannot sync the folder of %s: %s",
                                path, strerror(errno));
        if (flock(ob->spool_fd, LOCK_EX | LOCK_NB) != 0)
            return kr_error_set(err, errno == EWOULDBLOCK ? KR_ESTATE : KR_EIO,
                                "inventory outbox: %s: %s", path,
                                errno == EWOULDBLOCK ? "another outbox uses it" : strerror(errno));
        struct stat held, named;
        if (fstat(ob->spool_fd, &held) != 0)
            return kr_error_set(err, KR_EIO, "inventory outbox: %s: %s", path, strerror(errno));
        if (stat(path, &named) == 0 && named.st_dev == held.st_dev && named.st_ino == held.st_ino)
            return 0;
        if (tries == 8)
            return kr_error_set(err, KR_ESTATE, "inventory outbox: %s: another outbox uses it",
                                path);
        close(ob->spool_fd);
        ob->spool_fd = -1;
    }
}

/* Open and lock the spool and queue what it holds (before the thread
 * starts). A last line without its newline is the torn end of a write the
 * process did not live to finish: never acknowledged, so skipped. */
static int spool_open(kr_inventory_outbox_t *ob, const char *path, kr_error_t *err)
{
    ob->spool_path = kr_strdup(path);
    if (!ob->spool_path)
        return kr_error_set(err, KR_ENOMEM, "inventory outbox: out of memory");
    int rc = spool_lock(ob, path, err);
    if (rc != 0)
        return rc;
    char *leftover = compact_path(path); /* a rewrite a crash cut short */
    if (!leftover)
        return kr_error_set(err, KR_ENOMEM, "inventory outbox: out of memory");
    unlink(leftover);
    kr_free(leftover);
    struct stat st;
    if (fstat(ob->spool_fd, &st) != 0)
        return kr_error_set(err, KR_EIO, "inventory outbox: %s: %s", path, strerror(errno));
    if (st.st_size == 0)
        return 0;
    char *text = kr_malloc((size_t)st.st_size);
    if (!text)
        return kr_error_set(err, KR_ENOMEM, "inventory outbox: %s: out of memory", path);
    size_t len = 0;
    while (len < (size_t)st.st_size) {
        ssize_t n = pread(ob->spool_fd, text + len, (size_t)st.st_size - len, (off_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (len < (size_t)st.st_size) {
        kr_free(text);
        return kr_error_set(err, KR_EIO, "inventory outbox: cannot read %s", path);
    }
    size_t line_no = 0, skipped = 0, whole = len;
    for (size_t at = 0; at < len && rc == 0;) {
        const char *nl = memchr(text + at, '\n', len - at);
        line_no++;
        if (!nl) {
            kr_log(&ob->logger, KR_LOG_WARN, "inventory",
                   "outbox: %s line %zu skipped: cut short by a crash while it was written", path,
                   line_no);
            skipped++;
            whole = at; /* cut off below: the next line must not join it */
            break;
        }
        const char *why = NULL;
        pending *p = spool_parse(text + at, (size_t)(nl - (text + at)), &why);
        if (p) {
            p->spooled = true;
            p->spool_len = (size_t)(nl - (text + at)) + 1;
            ob->spool_live += (off_t)p->spool_len;
            append(ob, p);
        } else if (!why) { /* out of memory: the line is fine, keep the file */
            rc = kr_error_set(err, KR_ENOMEM, "inventory outbox: %s: out of memory", path);
        } else {
            kr_log(&ob->logger, KR_LOG_ERROR, "inventory", "outbox: %s line %zu skipped: %s", path,
                   line_no, why);
            skipped++;
        }
        at = (size_t)(nl - text) + 1;
    }
    kr_free(text);
    if (rc != 0)
        return rc;
    if (whole < len && ftruncate(ob->spool_fd, (off_t)whole) != 0)
        return kr_error_set(err, KR_EIO, "inventory outbox: cannot cut %s's torn end: %s", path,
                            strerror(errno));
    ob->spool_size = (off_t)whole;
    if (ob->n)
        kr_log(&ob->logger, KR_LOG_WARN, "inventory",
               "outbox: %zu action(s) from %s, made before a restart, wait for the inventory",
               ob->n, path);
    if (skipped && !ob->n)
        spool_empty(ob);
    return 0;
}

/* Sleep `ms` (mu held), unless the outbox stops first. New actions do not
 * cut the pause short. */
static void pause_for(kr_inventory_outbox_t *ob, uint64_t ms)
{
    struct timespec deadline;
    kr_deadline_after_ms(&deadline, ms);
    uint64_t end_ms = kr_clock_monotonic_ms() + ms;
    while (!ob->stopping && kr_clock_monotonic_ms() < end_ms)
        kr_cond_wait(&ob->wake, &ob->mu, &deadline);
}

static void *run(void *arg)
{
    kr_inventory_outbox_t *ob = arg;
    uint64_t pause_ms = 0;
    kr_mutex_lock(&ob->mu);
    for (;;) {
        while (!ob->stopping && !ob->head)
            kr_cond_wait(&ob->wake, &ob->mu, NULL);
        if (ob->stopping)
            break;
        pending *p = ob->head; /* only this thread takes from the head */
        kr_mutex_unlock(&ob->mu);
        kr_error_t err = {0};
        int rc = kr_inv_record_at(ob->inv, &p->a, p->key, p->made_ms, &err);
        bool done = rc == 0 || !retryable(rc);
        kr_mutex_lock(&ob->mu);
        if (done && p->trying) {
            /* a caller's own try: its result is the caller's, who waits */
            ob->head = p->next;
            if (!ob->head)
                ob->tail = NULL;
            ob->n--;
            ob->n_trying--;
            p->trying = false;
            p->finished = true;
            p->rc = rc;
            p->err = err;
            kr_cond_broadcast(&ob->tried);
            if (!ob->head)
                kr_cond_broadcast(&ob->drained);
            pause_ms = 0;
            continue;
        }
        if (rc != 0 && done) {
            kr_mutex_unlock(&ob->mu);
            kr_log(&ob->logger, KR_LOG_ERROR, "inventory", "outbox: %s of %s/%s in %s dropped: %s",
                   p->a.event, p->a.namespace_ ? p->a.namespace_ : "", p->a.name, p->a.cluster,
                   err.message);
            kr_mutex_lock(&ob->mu);
        }
        if (done) {
            ob->head = p->next;
            if (!ob->head)
                ob->tail = NULL;
            ob->n--;
            ob->dropped += rc != 0;
            if (p->spooled)
                ob->spool_live -= (off_t)p->spool_len;
            pause_ms = 0;
            bool empty = !ob->head;
            if (empty) {
                spool_empty(ob);
                kr_cond_broadcast(&ob->drained);
            } else {
                spool_compact(ob);
            }
            bool held = p->held;
            if (held) { /* its caller still waits on it: the caller's to free */
                p->finished = true;
                p->rc = rc;
                p->err = err;
                kr_cond_broadcast(&ob->tried);
            }
            kr_mutex_unlock(&ob->mu);
            if (!held)
                pending_free(p);
            if (empty) /* logged outside the lock: a slow sink holds no producer */
                kr_log(&ob->logger, KR_LOG_INFO, "inventory",
                       "outbox: caught up, every waiting action handed over");
            kr_mutex_lock(&ob->mu);
            continue;
        }
        bool first = pause_ms == 0 && ob->n_trying > 0;
        tries_wait(ob); /* the database is away: every caller's try waits */
        pause_ms = pause_ms ? pause_ms * 2 : RETRY_FIRST_MS;
        if (pause_ms > ob->retry_max_ms)
            pause_ms = ob->retry_max_ms;
        size_t waiting = ob->n;
        if (first) {
            kr_mutex_unlock(&ob->mu);
            kr_log(&ob->logger, KR_LOG_WARN, "inventory",
                   "outbox: %s of %s/%s in %s waits for the inventory: %s", p->a.event,
                   p->a.namespace_ ? p->a.namespace_ : "", p->a.name, p->a.cluster, err.message);
            kr_mutex_lock(&ob->mu);
        }
        kr_mutex_unlock(&ob->mu);
        kr_log(&ob->logger, KR_LOG_WARN, "inventory",
               "outbox: %zu action(s) wait for the inventory (%s); next try in %llu ms", waiting,
               err.message, (unsigned long long)pause_ms);
        kr_mutex_lock(&ob->mu);
        pause_for(ob, pause_ms);
    }
    kr_mutex_unlock(&ob->mu);
    return NULL;
}

int kr_inventory_outbox_new(kr_inventory_t *inv, const kr_inventory_outbox_opts *opts,
                            kr_inventory_outbox_t **out, kr_error_t *err)
{
    if (!out)
        return kr_error_set(err, KR_EINVAL, "inventory outbox: no place for the result");
    *out = NULL;
    if (!inv)
        return kr_error_set(err, KR_EINVAL, "inventory outbox: no inventory");
    if (opts && opts->version > KR_INVENTORY_OUTBOX_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "inventory outbox: options version %u is newer than %u",
                            opts->version, (unsigned)KR_INVENTORY_OUTBOX_OPTS_VERSION);
    /* version 1 ends before spool_path */
    const char *spool = opts && opts->version >= 2 ? opts->spool_path : NULL;
    if (spool && !*spool)
        return kr_error_set(err, KR_EINVAL, "inventory outbox: an empty spool path");
    kr_inventory_outbox_t *ob = kr_calloc(1, sizeof(*ob));
    if (!ob)
        return kr_error_set(err, KR_ENOMEM, "inventory outbox: out of memory");
    ob->spool_fd = -1;
    ob->inv = inv;
    if (opts)
        ob->logger = opts->logger;
    ob->max_pending = opts && opts->max_pending ? opts->max_pending : DEFAULT_MAX_PENDING;
    ob->retry_max_ms = opts && opts->retry_max_ms ? opts->retry_max_ms : DEFAULT_RETRY_MAX_MS;
    if (ob->retry_max_ms < RETRY_FIRST_MS)
        ob->retry_max_ms = RETRY_FIRST_MS;
    int rc = kr_mutex_init(&ob->mu);
    if (rc == 0 && (rc = kr_cond_init(&ob->wake)) != 0)
        kr_mutex_destroy(&ob->mu);
    if (rc == 0 && (rc = kr_cond_init(&ob->drained)) != 0) {
        kr_cond_destroy(&ob->wake);
        kr_mutex_destroy(&ob->mu);
    }
    if (rc == 0 && (rc = kr_cond_init(&ob->tried)) != 0) {
        kr_cond_destroy(&ob->drained);
        kr_cond_destroy(&ob->wake);
        kr_mutex_destroy(&ob->mu);
    }
    if (rc != 0) {
        kr_free(ob);
        return kr_error_set(err, KR_ENOMEM, "inventory outbox: %s", strerror(rc));
    }
    if (spool && (rc = spool_open(ob, spool, err)) != 0) {
        kr_inventory_outbox_free(ob);
        return rc;
    }
    if ((rc = pthread_create(&ob->thread, NULL, run, ob)) != 0) {
        kr_inventory_outbox_free(ob);
        return kr_error_set(err, KR_ENOMEM, "inventory outbox: cannot start its thread: %s",
                            strerror(rc));
    }
    ob->thread_started = true;
    *out = ob;
    return 0;
}

/* Append to the queue (mu held): false when it is full. */
static bool enqueue(kr_inventory_outbox_t *ob, pending *p)
{
    if (ob->n >= ob->max_pending)
        return false;
    append(ob, p);
    kr_cond_signal(&ob->wake);
    return true;
}

/* What every record call checks first: *queued false, the action whole,
 * and *key one of the caller's or a new one (in `made`). */
static int record_begin(kr_inventory_outbox_t *ob, const kr_inventory_action *action,
                        const char **key, char made[64], bool *queued, kr_error_t *err)
{
    if (queued)
        *queued = false;
    if (!ob || !action)
        return kr_error_set(err, KR_EINVAL, "inventory outbox: no outbox or no action");
    int rc = kr_inv_action_check(action, err);
    if (rc != 0)
        return rc;
    if (!*key || !**key) {
        make_key(made);
        *key = made;
    }
    return 0;
}

int kr_inventory_outbox_record(kr_inventory_outbox_t *ob, const kr_inventory_action *action,
                               const char *key, bool *queued, kr_error_t *err)
{
    char made[64];
    int rc = record_begin(ob, action, &key, made, queued, err);
    if (rc != 0)
        return rc;
    int64_t made_ms = kr_clock_wall_ms();
    kr_mutex_lock(&ob->mu);
    /* callers' own tries on the thread are no outage: this one tries too */
    bool waiting = ob->n > ob->n_trying || ob->stopping;
    kr_mutex_unlock(&ob->mu);
    kr_error_t first = {0};
    if (!waiting) {
        /* Nothing waits: the caller's own try. Two callers that both find
         * the queue empty race, as two unrelated records always do. */
        rc = kr_inv_record_at(ob->inv, action, key, made_ms, &first);
        if (rc == 0 || !retryable(rc)) {
            if (rc != 0 && err)
                *err = first;
            return rc;
        }
    }
    pending *p = pending_new(action, key);
    if (!p)
        return kr_error_set(err, KR_ENOMEM, "inventory outbox: out of memory");
    p->made_ms = made_ms;
    kr_mutex_lock(&ob->mu);
    bool stopping = ob->stopping, kept = !stopping && enqueue(ob, p);
    if (kept) { /* in the queue's order; synced before the caller is told */
        tries_wait(ob); /* the tries before it wait too, spooled before it */
        spool_append(ob, p);
    }
    size_t n = ob->n;
    kr_mutex_unlock(&ob->mu);
    if (!kept) {
        pending_free(p);
        if (stopping)
            return kr_error_set(err, KR_ESHUTDOWN, "inventory outbox: stopped");
        return kr_error_set(err, KR_ETOOLARGE,
                            "inventory outbox: %zu actions already wait for the inventory", n);
    }
    if (!waiting)
        kr_log(&ob->logger, KR_LOG_WARN, "inventory",
               "outbox: %s of %s/%s in %s waits for the inventory: %s", action->event,
               action->namespace_ ? action->namespace_ : "", action->name, action->cluster,
               first.message);
    if (queued)
        *queued = true;
    return 0;
}

/* How often a caller of record_unless asks whether it gives up. */
#define GIVE_UP_POLL_MS 20

int kr_inventory_outbox_record_unless(kr_inventory_outbox_t *ob, const kr_inventory_action *action,
                                      const char *key, bool (*give_up)(void *user), void *user,
                                      bool *queued, kr_error_t *err)
{
    char made[64];
    int rc = record_begin(ob, action, &key, made, queued, err);
    if (rc != 0)
        return rc;
    pending *p = pending_new(action, key);
    if (!p)
        return kr_error_set(err, KR_ENOMEM, "inventory outbox: out of memory");
    p->made_ms = kr_clock_wall_ms();
    kr_mutex_lock(&ob->mu);
    bool stopping = ob->stopping;
    /* nothing waits: the thread makes the caller's own try, in order */
    p->trying = ob->n == ob->n_trying;
    p->held = p->trying;
    if (stopping || !enqueue(ob, p)) {
        size_t n = ob->n;
        kr_mutex_unlock(&ob->mu);
        pending_free(p);
        if (stopping)
            return kr_error_set(err, KR_ESHUTDOWN, "inventory outbox: stopped");
        return kr_error_set(err, KR_ETOOLARGE,
                            "inventory outbox: %zu actions already wait for the inventory", n);
    }
    if (p->trying)
        ob->n_trying++;
    else /* in the queue's order; synced before the caller is told */
        spool_append(ob, p);
    bool gave_up = false;
    /* first asked after a poll's wait: a database that answers at once
     * is never given up on (a stop would otherwise queue, and warn about,
     * every record made during it) */
    uint64_t first_ask_ms = kr_clock_monotonic_ms() + GIVE_UP_POLL_MS;
    while (p->trying && !ob->stopping) {
        if (kr_clock_monotonic_ms() >= first_ask_ms) {
            kr_mutex_unlock(&ob->mu);
            gave_up = give_up && give_up(user);
            kr_mutex_lock(&ob->mu);
            if (gave_up || !p->trying)
                break;
        }
        struct timespec deadline;
        kr_deadline_after_ms(&deadline, GIVE_UP_POLL_MS);
        kr_cond_wait(&ob->tried, &ob->mu, &deadline);
    }
    if (p->finished) { /* recorded, or refused for good: the caller's */
        kr_mutex_unlock(&ob->mu);
        rc = p->rc;
        if (rc != 0 && err)
            *err = p->err;
        pending_free(p);
        return rc;
    }
    if (p->trying) /* given up (or stopping): it waits, and so do the others */
        tries_wait(ob);
    p->held = false; /* the thread's from now on (it may free it at once) */
    kr_mutex_unlock(&ob->mu);
    if (gave_up)
        kr_log(&ob->logger, KR_LOG_WARN, "inventory",
               "outbox: %s of %s/%s in %s waits for the inventory: its caller could wait no "
               "longer",
               action->event, action->namespace_ ? action->namespace_ : "", action->name,
               action->cluster);
    if (queued)
        *queued = true;
    return 0;
}

size_t kr_inventory_outbox_dropped(kr_inventory_outbox_t *ob)
{
    if (!ob)
        return 0;
    kr_mutex_lock(&ob->mu);
    size_t n = ob->dropped;
    kr_mutex_unlock(&ob->mu);
    return n;
}

size_t kr_inventory_outbox_pending(kr_inventory_outbox_t *ob)
{
    if (!ob)
        return 0;
    kr_mutex_lock(&ob->mu);
    size_t n = ob->n - ob->n_trying;
    kr_mutex_unlock(&ob->mu);
    return n;
}

int kr_inventory_outbox_flush(kr_inventory_outbox_t *ob, uint64_t timeout_ms)
{
    if (!ob)
        return 0;
    struct timespec deadline;
    kr_deadline_after_ms(&deadline, timeout_ms);
    uint64_t end_ms = kr_clock_monotonic_ms() + timeout_ms;
    kr_mutex_lock(&ob->mu);
    while (ob->head && !ob->stopping && kr_clock_monotonic_ms() < end_ms)
        kr_cond_wait(&ob->drained, &ob->mu, &deadline);
    int rc = ob->head ? KR_ETIMEDOUT : ob->dropped ? KR_EIO : 0;
    kr_mutex_unlock(&ob->mu);
    return rc;
}

int kr_inventory_outbox_finish(kr_inventory_outbox_t *ob, uint64_t timeout_ms)
{
    int rc = kr_inventory_outbox_flush(ob, timeout_ms);
    if (rc == KR_ETIMEDOUT) {
        /* the thread is joined next: a call the database never answers
         * must not hold it (nor the exit) */
        kr_log(&ob->logger, KR_LOG_WARN, "inventory",
               "outbox: %zu action(s) still wait for the database %llu ms into the stop: its "
               "call under way is cut short",
               kr_inventory_outbox_pending(ob), (unsigned long long)timeout_ms);
        kr_inventory_interrupt(ob->inv);
    }
    return rc;
}

void kr_inventory_outbox_free(kr_inventory_outbox_t *ob)
{
    if (!ob)
        return;
    kr_mutex_lock(&ob->mu);
    ob->stopping = true;
    kr_cond_broadcast(&ob->wake);
    kr_cond_broadcast(&ob->drained);
    kr_mutex_unlock(&ob->mu);
    if (ob->thread_started)
        pthread_join(ob->thread, NULL);
    size_t kept = 0;
    for (pending *p = ob->head, *next; p; p = next) {
        next = p->next;
        if (!p->spooled) /* no spool, or its line could not be written */
            kr_log(&ob->logger, KR_LOG_ERROR, "inventory",
                   "outbox: %s of %s/%s in %s never recorded: the outbox stopped first", p->a.event,
                   p->a.namespace_ ? p->a.namespace_ : "", p->a.name, p->a.cluster);
        kept += p->spooled;
        pending_free(p);
    }
    if (kept && ob->thread_started)
        kr_log(&ob->logger, KR_LOG_WARN, "inventory",
               "outbox: %zu action(s) not yet recorded stay in %s for the next start", kept,
               ob->spool_path);
    if (ob->spool_fd >= 0)
        close(ob->spool_fd); /* and its lock */
    kr_free(ob->spool_path);
    kr_cond_destroy(&ob->tried);
    kr_cond_destroy(&ob->drained);
    kr_cond_destroy(&ob->wake);
    kr_mutex_destroy(&ob->mu);
    kr_free(ob);
}
