/* libkreconcile — TEMPORARY stand-ins for kr_controller and kr_leader, so
 * that the manager links and its tests run until lib/controller.c and
 * lib/leader.c land. Weak: the real definitions win. Deleted by the merge
 * that brings them in. */
#include <stdio.h>

#include "internal.h"
#include "kreconcile/controller.h"
#include "kreconcile/leader.h"

#define KR_PENDING __attribute__((weak))

struct kr_controller {
    char name[64];
    bool started;
};

KR_PENDING int kr_controller_new(const kr_controller_opts *opts, kr_controller_t **out,
                                 kr_error_t *err)
{
    kr_controller_t *c = kr_calloc(1, sizeof(*c));
    if (!c)
        return kr_error_set(err, KR_ENOMEM, "out of memory");
    snprintf(c->name, sizeof(c->name), "%s", opts->name ? opts->name : "");
    *out = c;
    return 0;
}

KR_PENDING int kr_controller_start(kr_controller_t *ctl, kr_error_t *err)
{
    (void)err;
    ctl->started = true;
    return 0;
}

KR_PENDING int kr_controller_stop(kr_controller_t *ctl, kr_error_t *err)
{
    (void)err;
    ctl->started = false;
    return 0;
}

KR_PENDING void kr_controller_free(kr_controller_t *ctl)
{
    kr_free(ctl);
}

KR_PENDING bool kr_controller_ready(const kr_controller_t *ctl)
{
    return ctl->started;
}

KR_PENDING const char *kr_controller_name(const kr_controller_t *ctl)
{
    return ctl->name;
}

KR_PENDING int kr_leader_new(const kr_leader_opts *opts, kr_leader_t **out, kr_error_t *err)
{
    (void)opts;
    (void)out;
    return kr_error_set(err, KR_EUNSUPPORTED, "leader election is not built yet");
}

KR_PENDING int kr_leader_start(kr_leader_t *le, kr_error_t *err)
{
    (void)le;
    return kr_error_set(err, KR_EUNSUPPORTED, "leader election is not built yet");
}

KR_PENDING int kr_leader_stop(kr_leader_t *le, uint64_t timeout_ms, kr_error_t *err)
{
    (void)le;
    (void)timeout_ms;
    (void)err;
    return 0;
}

KR_PENDING void kr_leader_free(kr_leader_t *le)
{
    (void)le;
}

KR_PENDING void kr_leader_observed_holder(const kr_leader_t *le, char *buf, size_t len)
{
    (void)le;
    if (len)
        buf[0] = '\0';
}
