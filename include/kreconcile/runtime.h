/* libkreconcile — the runtime: one libuv loop run on one I/O thread that the
 * runtime starts and owns. Every socket, timer and watch stream of the
 * library lives on that loop; other threads hand work to it with
 * kr_runtime_call(). The runtime never keeps global state and never prints.
 *
 * Threading: the loop thread runs callbacks one at a time, in order, and they
 * must not block. Worker threads use kr_runtime_call/_call_sync to reach it. */
#ifndef KRECONCILE_RUNTIME_H
#define KRECONCILE_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_runtime kr_runtime_t;

/* Options of kr_runtime_new(); the zero value means the defaults. */
typedef struct kr_runtime_opts {
    unsigned version; /* KR_RUNTIME_OPTS_VERSION (0 is taken as 1) */
    kr_logger logger; /* copied; the callback must be thread-safe */
} kr_runtime_opts;
#define KR_RUNTIME_OPTS_VERSION 1
/* clang-format off */
#define KR_RUNTIME_OPTS_INIT {.version = KR_RUNTIME_OPTS_VERSION}
/* clang-format on */

/* A function run on the loop thread; `user` is the caller's pointer. */
typedef void (*kr_runtime_cb)(void *user);

/* Create a runtime (not yet running). `opts` is borrowed and may be NULL.
 * *out is new: free it with kr_runtime_free(). [any thread]
 * Errors: KR_ENOMEM, KR_EIO (the loop could not be initialised). */
KR_API int kr_runtime_new(const kr_runtime_opts *opts, kr_runtime_t **out, kr_error_t *err);

/* Start the I/O thread running the loop. Functions queued with
 * kr_runtime_call() before start run once it has started. [any thread but
 * the loop thread] Errors: KR_ESTATE (already started or stopped), KR_EIO. */
KR_API int kr_runtime_start(kr_runtime_t *rt, kr_error_t *err);

/* Stop the loop: run every function already queued, run the stop hooks of
 * the modules bound to the runtime (they cancel their requests, reporting
 * KR_ESHUTDOWN), close every remaining handle, and join the I/O thread.
 * Calls made until then still run; later kr_runtime_call()s fail with
 * KR_ESHUTDOWN. Idempotent.
 * [any thread but the loop thread] Errors: KR_ESTATE when called on the
 * loop thread. */
KR_API int kr_runtime_stop(kr_runtime_t *rt);

/* Stop (if running) and free the runtime. NULL is a no-op. Objects bound to
 * the runtime (clients, timers) must be freed first. [any thread but the
 * loop thread] */
KR_API void kr_runtime_free(kr_runtime_t *rt);

/* Queue fn(user) to run on the loop thread, in call order, and return at
 * once. A call made while the runtime stops still runs, in its last
 * drain (so that what another thread frees meanwhile is freed). [any
 * thread] Errors: KR_ESHUTDOWN (stopped), KR_ENOMEM. */
KR_API int kr_runtime_call(kr_runtime_t *rt, kr_runtime_cb fn, void *user);

/* Run fn(user) on the loop thread and wait until it has returned. On the
 * loop thread itself it runs fn at once. [any thread]
 * Errors: KR_ESTATE (not started), KR_ESHUTDOWN, KR_ENOMEM. */
KR_API int kr_runtime_call_sync(kr_runtime_t *rt, kr_runtime_cb fn, void *user);

/* True when the calling thread is the runtime's loop thread. [any thread] */
KR_API bool kr_runtime_is_loop_thread(const kr_runtime_t *rt);

/* The loop's cached clock in milliseconds (monotonic, arbitrary origin).
 * [loop thread] */
KR_API uint64_t kr_runtime_now_ms(const kr_runtime_t *rt);

/* The runtime's logger (borrowed, valid for the runtime's life). [any thread] */
KR_API const kr_logger *kr_runtime_logger(const kr_runtime_t *rt);

/* ---- Timers ------------------------------------------------------------ */

/* A one-shot or repeating timer on the loop. Every function here is
 * [loop thread] only. */
typedef struct kr_timer kr_timer_t;
typedef void (*kr_timer_cb)(kr_timer_t *timer, void *user);

/* Create a stopped timer calling fn(timer, user). *out is new; free it with
 * kr_timer_free(). Errors: KR_ENOMEM, KR_ESTATE (off the loop thread or
 * runtime stopping). */
KR_API int kr_timer_new(kr_runtime_t *rt, kr_timer_cb fn, void *user, kr_timer_t **out,
                        kr_error_t *err);
/* (Re)arm: first call after `timeout_ms`, then every `repeat_ms` (0 = once). */
KR_API int kr_timer_start(kr_timer_t *timer, uint64_t timeout_ms, uint64_t repeat_ms);
/* Disarm; the callback will not run until started again. */
KR_API void kr_timer_stop(kr_timer_t *timer);
/* Stop and free (the memory is released once libuv has closed the handle).
 * NULL is a no-op. Safe inside the timer's own callback. */
KR_API void kr_timer_free(kr_timer_t *timer);

#ifdef __cplusplus
}
#endif

#endif /* KRECONCILE_RUNTIME_H */
