/* libkreconcile — runtime internals for the modules that put handles on the
 * loop (the HTTP glue, timers): the raw uv loop and stop hooks. Never
 * installed. */
#ifndef KR_LIB_RUNTIME_INTERNAL_H
#define KR_LIB_RUNTIME_INTERNAL_H

#include <uv.h>

#include "kreconcile/runtime.h"

/* The runtime's loop. Touch it only on the loop thread. */
uv_loop_t *kr_runtime_loop(kr_runtime_t *rt);

/* A hook run on the loop thread when the runtime stops, before remaining
 * handles are force-closed: the owner closes its handles and fails its
 * pending work with KR_ESHUTDOWN. The owner embeds the struct and keeps it
 * alive until it is removed or has run (each hook runs at most once). */
typedef struct kr_runtime_hook {
    void (*fn)(void *user);
    void *user;
    struct kr_runtime_hook *prev, *next;
    int linked;
} kr_runtime_hook;

/* Register / unregister a stop hook. [any thread] add fails with
 * KR_ESHUTDOWN once the runtime is stopping. remove is a no-op for a hook
 * that already ran or was never added. */
int kr_runtime_add_stop_hook(kr_runtime_t *rt, kr_runtime_hook *hook);
void kr_runtime_remove_stop_hook(kr_runtime_t *rt, kr_runtime_hook *hook);

/* True while the runtime accepts new work (started or not yet started, not
 * stopping). [any thread] */
bool kr_runtime_accepting(kr_runtime_t *rt);

/* True while the I/O thread runs (started, not yet joined). [any thread] */
bool kr_runtime_running(kr_runtime_t *rt);

/* True once kr_runtime_start was called (whether or not it still runs).
 * [any thread] */
bool kr_runtime_started(kr_runtime_t *rt);

/* Run fn(arg) where the loop may be touched: at once on the loop thread or
 * when the I/O thread is not running (before start, after stop), else
 * marshalled with kr_runtime_call_sync. */
int kr_runtime_on_loop(kr_runtime_t *rt, kr_runtime_cb fn, void *arg);

#endif /* KR_LIB_RUNTIME_INTERNAL_H */
