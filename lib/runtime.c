/* libkreconcile — the runtime: a libuv loop on an I/O thread it owns, a
 * locked queue of functions other threads hand to it (woken by uv_async_t),
 * stop hooks for the modules that own handles, and small timers. It must
 * never block the loop and never leave a handle open after stop. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "runtime_internal.h"

enum rt_state { RT_NEW, RT_RUNNING, RT_STOPPING, RT_STOPPED };

typedef struct rt_call {
    kr_runtime_cb fn;
    void *user;
    struct rt_call *next;
} rt_call;

struct kr_runtime {
    uv_loop_t loop;
    uv_async_t wakeup;
    kr_logger logger;
    pthread_t thread;
    pthread_mutex_t lock;
    enum rt_state state; /* guarded by lock */
    bool stop_requested; /* guarded by lock; seen by the loop thread */
    rt_call *head, *tail; /* guarded by lock */
    kr_runtime_hook hooks; /* sentinel of a circular list; guarded by lock */
    pthread_t loop_tid; /* written by the loop thread before loop_tid_set */
    atomic_bool loop_tid_set;
    /* The queue is closed: the shutdown found it empty, under the lock,
     * after everything else; guarded by lock. Until then calls are taken
     * (also from other threads while stopping) and run. */
    bool loop_done;
};

struct kr_timer {
    uv_timer_t handle;
    kr_runtime_t *rt;
    kr_timer_cb fn;
    void *user;
};

static void on_wakeup(uv_async_t *async);

uv_loop_t *kr_runtime_loop(kr_runtime_t *rt)
{
    return &rt->loop;
}

const kr_logger *kr_runtime_logger(const kr_runtime_t *rt)
{
    return &rt->logger;
}

int kr_runtime_new(const kr_runtime_opts *opts, kr_runtime_t **out, kr_error_t *err)
{
    *out = NULL;
    if (opts && opts->version > KR_RUNTIME_OPTS_VERSION)
        return kr_error_set(err, KR_EINVAL, "runtime: options version %u is newer than %u",
                            opts->version, (unsigned)KR_RUNTIME_OPTS_VERSION);
    kr_runtime_t *rt = kr_calloc(1, sizeof(*rt));
    if (!rt)
        return kr_error_set(err, KR_ENOMEM, "runtime: out of memory");
    if (opts)
        rt->logger = opts->logger;
    int rc = uv_loop_init(&rt->loop);
    if (rc != 0) {
        kr_free(rt);
        return kr_error_set(err, KR_EIO, "runtime: uv_loop_init: %s", uv_strerror(rc));
    }
    rt->loop.data = rt;
    rc = uv_async_init(&rt->loop, &rt->wakeup, on_wakeup);
    if (rc != 0) {
        uv_loop_close(&rt->loop);
        kr_free(rt);
        return kr_error_set(err, KR_EIO, "runtime: uv_async_init: %s", uv_strerror(rc));
    }
    rt->wakeup.data = rt;
    pthread_mutex_init(&rt->lock, NULL);
    rt->hooks.next = rt->hooks.prev = &rt->hooks;
    *out = rt;
    return 0;
}

/* Take the whole queue and run it in order, outside the lock. True when
 * there was anything to run. */
static bool run_queued(kr_runtime_t *rt)
{
    pthread_mutex_lock(&rt->lock);
    rt_call *c = rt->head;
    rt->head = rt->tail = NULL;
    pthread_mutex_unlock(&rt->lock);
    bool ran = c != NULL;
    while (c) {
        rt_call *next = c->next;
        c->fn(c->user);
        kr_free(c);
        c = next;
    }
    return ran;
}

static void close_leftover(uv_handle_t *handle, void *arg)
{
    kr_runtime_t *rt = arg;
    if (uv_is_closing(handle) || handle == (uv_handle_t *)&rt->wakeup)
        return;
    kr_log(&rt->logger, KR_LOG_WARN, "runtime", "closing a %s handle left open at stop",
           uv_handle_type_name(uv_handle_get_type(handle)));
    uv_close(handle, NULL);
}

/* On the loop thread: drain calls, run hooks (which may queue more calls),
 * then close what remains so that the loop can end. */
static void shutdown_on_loop(kr_runtime_t *rt)
{
    run_queued(rt);
    for (;;) {
        pthread_mutex_lock(&rt->lock);
        kr_runtime_hook *h = rt->hooks.next;
        if (h == &rt->hooks) {
            pthread_mutex_unlock(&rt->lock);
            break;
        }
        h->prev->next = h->next;
        h->next->prev = h->prev;
        h->linked = 0;
        pthread_mutex_unlock(&rt->lock);
        h->fn(h->user);
    }
    /* Hooks close handles, whose close callbacks may queue more work. */
    uv_run(&rt->loop, UV_RUN_NOWAIT);
    run_queued(rt);
    uv_walk(&rt->loop, close_leftover, rt);
    uv_close((uv_handle_t *)&rt->wakeup, NULL);
    uv_run(&rt->loop, UV_RUN_DEFAULT);
    /* Calls queued meanwhile (by the last close callbacks, or by other
     * threads freeing what they own while the runtime stops), and what
     * they open. The queue closes only when found empty under the lock,
     * so a call taken is never left in it. */
    for (;;) {
        pthread_mutex_lock(&rt->lock);
        bool empty = rt->head == NULL;
        if (empty)
            rt->loop_done = true;
        pthread_mutex_unlock(&rt->lock);
        if (empty)
            break;
        run_queued(rt);
        uv_walk(&rt->loop, close_leftover, rt);
        uv_run(&rt->loop, UV_RUN_DEFAULT);
    }
}

static void on_wakeup(uv_async_t *async)
{
    kr_runtime_t *rt = async->data;
    run_queued(rt);
    pthread_mutex_lock(&rt->lock);
    bool stop = rt->stop_requested;
    pthread_mutex_unlock(&rt->lock);
    if (stop)
        uv_stop(&rt->loop);
}

static void *loop_main(void *arg)
{
    kr_runtime_t *rt = arg;
    rt->loop_tid = pthread_self();
    atomic_store(&rt->loop_tid_set, true);
    run_queued(rt);
    for (;;) {
        uv_run(&rt->loop, UV_RUN_DEFAULT);
        pthread_mutex_lock(&rt->lock);
        bool stop = rt->stop_requested;
        pthread_mutex_unlock(&rt->lock);
        if (stop)
            break;
    }
    shutdown_on_loop(rt);
    return NULL;
}

int kr_runtime_start(kr_runtime_t *rt, kr_error_t *err)
{
    pthread_mutex_lock(&rt->lock);
    if (rt->state != RT_NEW) {
        pthread_mutex_unlock(&rt->lock);
        return kr_error_set(err, KR_ESTATE, "runtime: already started or stopped");
    }
    rt->state = RT_RUNNING;
    int rc = pthread_create(&rt->thread, NULL, loop_main, rt);
    if (rc != 0) {
        rt->state = RT_NEW;
        pthread_mutex_unlock(&rt->lock);
        return kr_error_set(err, KR_EIO, "runtime: cannot start the I/O thread: %s", strerror(rc));
    }
    pthread_mutex_unlock(&rt->lock);
    return 0;
}

bool kr_runtime_is_loop_thread(const kr_runtime_t *rt)
{
    return atomic_load(&((kr_runtime_t *)rt)->loop_tid_set) &&
           pthread_equal(pthread_self(), rt->loop_tid);
}

int kr_runtime_stop(kr_runtime_t *rt)
{
    if (kr_runtime_is_loop_thread(rt))
        return KR_ESTATE;
    pthread_mutex_lock(&rt->lock);
    if (rt->state == RT_NEW) {
        rt->state = RT_STOPPED;
        rt->stop_requested = true;
        pthread_mutex_unlock(&rt->lock);
        /* Never ran: run what was queued and the hooks on this thread,
         * which is the only one touching the loop, and which meanwhile is
         * the loop thread (a call it makes runs at once, not waited on). */
        rt->loop_tid = pthread_self();
        atomic_store(&rt->loop_tid_set, true);
        shutdown_on_loop(rt);
        atomic_store(&rt->loop_tid_set, false);
        return 0;
    }
    if (rt->state != RT_RUNNING) {
        pthread_mutex_unlock(&rt->lock);
        return 0;
    }
    rt->state = RT_STOPPING;
    rt->stop_requested = true;
    pthread_mutex_unlock(&rt->lock);
    uv_async_send(&rt->wakeup);
    pthread_join(rt->thread, NULL);
    atomic_store(&rt->loop_tid_set, false);
    pthread_mutex_lock(&rt->lock);
    rt->state = RT_STOPPED;
    pthread_mutex_unlock(&rt->lock);
    return 0;
}

void kr_runtime_free(kr_runtime_t *rt)
{
    if (!rt)
        return;
    kr_runtime_stop(rt);
    int rc = uv_loop_close(&rt->loop);
    if (rc != 0)
        kr_log(&rt->logger, KR_LOG_ERROR, "runtime", "uv_loop_close: %s", uv_strerror(rc));
    pthread_mutex_destroy(&rt->lock);
    kr_free(rt);
}

bool kr_runtime_accepting(kr_runtime_t *rt)
{
    pthread_mutex_lock(&rt->lock);
    bool ok = !rt->stop_requested;
    pthread_mutex_unlock(&rt->lock);
    return ok;
}

int kr_runtime_call(kr_runtime_t *rt, kr_runtime_cb fn, void *user)
{
    rt_call *c = kr_calloc(1, sizeof(*c));
    if (!c)
        return KR_ENOMEM;
    c->fn = fn;
    c->user = user;
    pthread_mutex_lock(&rt->lock);
    /* Calls made while the runtime stops still run, in its last drain:
     * a free from another thread meanwhile is done, not skipped. */
    if (rt->loop_done) {
        pthread_mutex_unlock(&rt->lock);
        kr_free(c);
        return KR_ESHUTDOWN;
    }
    if (rt->tail)
        rt->tail->next = c;
    else
        rt->head = c;
    rt->tail = c;
    /* Woken under the lock, and only while running: a stopping loop drains
     * the queue by itself, and once it has closed the queue the runtime
     * (its wakeup handle included) may be freed at any moment. */
    if (rt->state == RT_RUNNING && !rt->stop_requested)
        uv_async_send(&rt->wakeup);
    pthread_mutex_unlock(&rt->lock);
    return 0;
}

typedef struct sync_call {
    kr_runtime_cb fn;
    void *user;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
} sync_call;

static void run_sync(void *arg)
{
    sync_call *s = arg;
    s->fn(s->user);
    pthread_mutex_lock(&s->lock);
    s->done = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int kr_runtime_call_sync(kr_runtime_t *rt, kr_runtime_cb fn, void *user)
{
    if (kr_runtime_is_loop_thread(rt)) {
        fn(user);
        return 0;
    }
    pthread_mutex_lock(&rt->lock);
    enum rt_state state = rt->state;
    pthread_mutex_unlock(&rt->lock);
    if (state == RT_NEW)
        return KR_ESTATE;
    sync_call s = {.fn = fn, .user = user};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    int rc = kr_runtime_call(rt, run_sync, &s);
    if (rc == 0) {
        /* Queued calls always run, even at stop, so this wait ends. */
        pthread_mutex_lock(&s.lock);
        while (!s.done)
            pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
    }
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

uint64_t kr_runtime_now_ms(const kr_runtime_t *rt)
{
    return uv_now(&rt->loop);
}

int kr_runtime_add_stop_hook(kr_runtime_t *rt, kr_runtime_hook *hook)
{
    pthread_mutex_lock(&rt->lock);
    if (rt->stop_requested) {
        pthread_mutex_unlock(&rt->lock);
        return KR_ESHUTDOWN;
    }
    hook->next = &rt->hooks;
    hook->prev = rt->hooks.prev;
    rt->hooks.prev->next = hook;
    rt->hooks.prev = hook;
    hook->linked = 1;
    pthread_mutex_unlock(&rt->lock);
    return 0;
}

void kr_runtime_remove_stop_hook(kr_runtime_t *rt, kr_runtime_hook *hook)
{
    pthread_mutex_lock(&rt->lock);
    if (hook->linked) {
        hook->prev->next = hook->next;
        hook->next->prev = hook->prev;
        hook->linked = 0;
    }
    pthread_mutex_unlock(&rt->lock);
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *handle)
{
    kr_timer_t *t = handle->data;
    t->fn(t, t->user);
}

int kr_timer_new(kr_runtime_t *rt, kr_timer_cb fn, void *user, kr_timer_t **out, kr_error_t *err)
{
    *out = NULL;
    pthread_mutex_lock(&rt->lock);
    bool started = rt->state != RT_NEW;
    pthread_mutex_unlock(&rt->lock);
    if (started && !kr_runtime_is_loop_thread(rt))
        return kr_error_set(err, KR_ESTATE, "timer: must be created on the loop thread");
    kr_timer_t *t = kr_calloc(1, sizeof(*t));
    if (!t)
        return kr_error_set(err, KR_ENOMEM, "timer: out of memory");
    uv_timer_init(&rt->loop, &t->handle);
    t->handle.data = t;
    t->rt = rt;
    t->fn = fn;
    t->user = user;
    *out = t;
    return 0;
}

int kr_timer_start(kr_timer_t *timer, uint64_t timeout_ms, uint64_t repeat_ms)
{
    int rc = uv_timer_start(&timer->handle, on_timer, timeout_ms, repeat_ms);
    return rc == 0 ? 0 : KR_ESTATE;
}

void kr_timer_stop(kr_timer_t *timer)
{
    uv_timer_stop(&timer->handle);
}

static void free_closed_timer(uv_handle_t *handle)
{
    kr_free(handle->data);
}

void kr_timer_free(kr_timer_t *timer)
{
    if (!timer)
        return;
    uv_timer_stop(&timer->handle);
    if (!uv_is_closing((uv_handle_t *)&timer->handle))
        uv_close((uv_handle_t *)&timer->handle, free_closed_timer);
}

bool kr_runtime_started(kr_runtime_t *rt)
{
    pthread_mutex_lock(&rt->lock);
    bool started = rt->state != RT_NEW;
    pthread_mutex_unlock(&rt->lock);
    return started;
}

bool kr_runtime_running(kr_runtime_t *rt)
{
    pthread_mutex_lock(&rt->lock);
    bool running = rt->state == RT_RUNNING || rt->state == RT_STOPPING;
    pthread_mutex_unlock(&rt->lock);
    return running;
}

int kr_runtime_on_loop(kr_runtime_t *rt, kr_runtime_cb fn, void *arg)
{
    if (kr_runtime_is_loop_thread(rt) || !kr_runtime_running(rt)) {
        fn(arg);
        return 0;
    }
    int rc = kr_runtime_call_sync(rt, fn, arg);
    if (rc == KR_ESHUTDOWN) { /* the loop has run its last: nothing touches it now */
        fn(arg);
        return 0;
    }
    return rc;
}
