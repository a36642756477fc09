/* Tests for the runtime: the loop thread, calls marshalled from other
 * threads (in order, sync and async), stop semantics, stop hooks and
 * timers. Threaded: KR_TEST_THREADED */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"
#include "runtime_internal.h"

static kr_runtime_t *started_runtime(void)
{
    kr_runtime_t *rt = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, &err), 0);
    ck_assert_int_eq(kr_runtime_start(rt, &err), 0);
    return rt;
}

struct seq {
    kr_runtime_t *rt;
    int next;
    int bad;
    bool all_on_loop;
};
struct seq_item {
    struct seq *seq;
    int index;
};

static void check_order(void *user)
{
    struct seq_item *it = user;
    if (it->index != it->seq->next)
        it->seq->bad++;
    it->seq->next++;
    if (!kr_runtime_is_loop_thread(it->seq->rt))
        it->seq->all_on_loop = false;
}

START_TEST(calls_run_on_the_loop_thread_in_order)
{
    kr_runtime_t *rt = started_runtime();
    ck_assert(!kr_runtime_is_loop_thread(rt));
    static struct seq_item items[500];
    struct seq seq = {.rt = rt, .all_on_loop = true};
    for (int i = 0; i < 500; i++) {
        items[i].seq = &seq;
        items[i].index = i;
        ck_assert_int_eq(kr_runtime_call(rt, check_order, &items[i]), 0);
    }
    /* A sync call after them waits for all of them (FIFO). */
    struct seq_item last = {.seq = &seq, .index = 500};
    ck_assert_int_eq(kr_runtime_call_sync(rt, check_order, &last), 0);
    ck_assert_int_eq(seq.next, 501);
    ck_assert_int_eq(seq.bad, 0);
    ck_assert(seq.all_on_loop);
    kr_runtime_free(rt);
}
END_TEST

struct counter {
    kr_runtime_t *rt;
    long value; /* touched only on the loop thread */
};
static void bump(void *user)
{
    struct counter *c = user;
    c->value++;
}
static void *hammer(void *arg)
{
    struct counter *c = arg;
    for (int i = 0; i < 2000; i++) {
        if (i % 100 == 0)
            kr_runtime_call_sync(c->rt, bump, c);
        else
            kr_runtime_call(c->rt, bump, c);
    }
    return NULL;
}
static void read_value(void *user)
{
    struct counter *c = user;
    (void)c->value;
}

START_TEST(many_threads_calling_lose_nothing)
{
    kr_runtime_t *rt = started_runtime();
    struct counter c = {.rt = rt};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, &c);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(kr_runtime_call_sync(rt, read_value, &c), 0);
    ck_assert_int_eq(kr_runtime_stop(rt), 0);
    ck_assert_int_eq(c.value, 8000);
    kr_runtime_free(rt);
}
END_TEST

static void nested_sync(void *user)
{
    struct counter *c = user;
    /* On the loop thread call_sync runs at once instead of deadlocking. */
    kr_runtime_call_sync(c->rt, bump, c);
    c->value += 10;
}

START_TEST(call_sync_on_the_loop_thread_runs_inline)
{
    kr_runtime_t *rt = started_runtime();
    struct counter c = {.rt = rt};
    ck_assert_int_eq(kr_runtime_call_sync(rt, nested_sync, &c), 0);
    ck_assert_int_eq(c.value, 11);
    kr_runtime_free(rt);
}
END_TEST

START_TEST(calls_before_start_run_after_start_and_sync_is_refused)
{
    kr_runtime_t *rt = NULL;
    ck_assert_int_eq(kr_runtime_new(NULL, &rt, NULL), 0);
    struct counter c = {.rt = rt};
    ck_assert_int_eq(kr_runtime_call(rt, bump, &c), 0);
    ck_assert_int_eq(kr_runtime_call_sync(rt, bump, &c), KR_ESTATE);
    ck_assert_int_eq(kr_runtime_start(rt, NULL), 0);
    kr_error_t err = {0};
    ck_assert_int_eq(kr_runtime_start(rt, &err), KR_ESTATE);
    ck_assert_int_eq(kr_runtime_call_sync(rt, bump, &c), 0);
    ck_assert_int_eq(c.value, 2);
    kr_runtime_free(rt);
}
END_TEST

START_TEST(stop_drains_queue_then_refuses_calls)
{
    kr_runtime_t *rt = started_runtime();
    struct counter c = {.rt = rt};
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(kr_runtime_call(rt, bump, &c), 0);
    ck_assert_int_eq(kr_runtime_stop(rt), 0);
    ck_assert_int_eq(c.value, 100);
    ck_assert_int_eq(kr_runtime_call(rt, bump, &c), KR_ESHUTDOWN);
    ck_assert_int_eq(kr_runtime_call_sync(rt, bump, &c), KR_ESHUTDOWN);
    ck_assert_int_eq(kr_runtime_stop(rt), 0); /* idempotent */
    kr_runtime_free(rt);
    kr_runtime_free(NULL);
}
END_TEST

struct hooked {
    kr_runtime_hook hook;
    uv_timer_t timer;
    int ran;
    bool on_loop;
    kr_runtime_t *rt;
};
static void hook_closes_timer(void *user)
{
    struct hooked *h = user;
    h->ran++;
    h->on_loop = kr_runtime_is_loop_thread(h->rt);
    uv_close((uv_handle_t *)&h->timer, NULL);
}
static void timer_never(uv_timer_t *t)
{
    (void)t;
}
static void arm_timer(void *user)
{
    struct hooked *h = user;
    uv_timer_init(kr_runtime_loop(h->rt), &h->timer);
    uv_timer_start(&h->timer, timer_never, 3600 * 1000, 0);
}

START_TEST(stop_runs_hooks_on_loop_and_ends_with_open_handles_closed)
{
    kr_runtime_t *rt = started_runtime();
    struct hooked h = {.hook = {.fn = hook_closes_timer}, .rt = rt};
    h.hook.user = &h;
    struct hooked removed = {.hook = {.fn = hook_closes_timer}, .rt = rt};
    removed.hook.user = &removed;
    ck_assert_int_eq(kr_runtime_add_stop_hook(rt, &h.hook), 0);
    ck_assert_int_eq(kr_runtime_add_stop_hook(rt, &removed.hook), 0);
    kr_runtime_remove_stop_hook(rt, &removed.hook);
    ck_assert_int_eq(kr_runtime_call_sync(rt, arm_timer, &h), 0);
    /* The hour-long timer would keep the loop alive: stop must not hang. */
    ck_assert_int_eq(kr_runtime_stop(rt), 0);
    ck_assert_int_eq(h.ran, 1);
    ck_assert(h.on_loop);
    ck_assert_int_eq(removed.ran, 0);
    ck_assert_int_eq(kr_runtime_add_stop_hook(rt, &removed.hook), KR_ESHUTDOWN);
    kr_runtime_free(rt);
}
END_TEST

/* Two handles closed one after the other at stop, the second's close
 * callback queuing a call: it comes in the loop's very last run, and the
 * call still runs (and is freed). */
struct chain {
    kr_runtime_t *rt;
    uv_timer_t a, b;
    atomic_int late_ran;
};
static void late_call(void *user)
{
    struct chain *c = user;
    atomic_store(&c->late_ran, 1);
}
static void closed_b(uv_handle_t *h)
{
    struct chain *c = h->data;
    ck_assert_int_eq(kr_runtime_call(c->rt, late_call, c), 0); /* the loop thread: taken */
}
static void closed_a(uv_handle_t *h)
{
    struct chain *c = h->data;
    uv_close((uv_handle_t *)&c->b, closed_b);
}
static void hook_closes_chain(void *user)
{
    struct chain *c = user;
    uv_close((uv_handle_t *)&c->a, closed_a);
}
static void open_chain(void *user)
{
    struct chain *c = user;
    ck_assert_int_eq(uv_timer_init(kr_runtime_loop(c->rt), &c->a), 0);
    ck_assert_int_eq(uv_timer_init(kr_runtime_loop(c->rt), &c->b), 0);
    c->a.data = c->b.data = c;
}

START_TEST(calls_queued_by_the_last_close_callbacks_still_run)
{
    kr_runtime_t *rt = started_runtime();
    struct chain c = {.rt = rt};
    kr_runtime_hook hook = {.fn = hook_closes_chain, .user = &c};
    ck_assert_int_eq(kr_runtime_call_sync(rt, open_chain, &c), 0);
    ck_assert_int_eq(kr_runtime_add_stop_hook(rt, &hook), 0);
    ck_assert_int_eq(kr_runtime_stop(rt), 0);
    int ran = atomic_load(&c.late_ran);
    ck_assert_int_eq(ran, 1);
    kr_runtime_free(rt);
}
END_TEST

/* A call from another thread while the runtime stops (its stop hooks
 * running) is taken and runs before the stop returns: a free made then is
 * done, not skipped. */
struct stopping {
    kr_runtime_t *rt;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool in_hook, called;
    atomic_int ran;
};
static void stopping_hook(void *user)
{
    struct stopping *s = user;
    pthread_mutex_lock(&s->mu);
    s->in_hook = true;
    pthread_cond_broadcast(&s->cond);
    while (!s->called)
        pthread_cond_wait(&s->cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
}
static void count_call(void *user)
{
    struct stopping *s = user;
    atomic_fetch_add(&s->ran, 1);
}
static void *stopper_main(void *arg)
{
    kr_runtime_stop(arg);
    return NULL;
}

START_TEST(a_call_made_while_stopping_still_runs)
{
    struct stopping s = {.rt = started_runtime()};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cond, NULL);
    kr_runtime_hook hook = {.fn = stopping_hook, .user = &s};
    ck_assert_int_eq(kr_runtime_add_stop_hook(s.rt, &hook), 0);
    pthread_t stopper;
    ck_assert_int_eq(pthread_create(&stopper, NULL, stopper_main, s.rt), 0);
    pthread_mutex_lock(&s.mu);
    while (!s.in_hook)
        pthread_cond_wait(&s.cond, &s.mu);
    pthread_mutex_unlock(&s.mu);
    ck_assert_int_eq(kr_runtime_call(s.rt, count_call, &s), 0);
    pthread_mutex_lock(&s.mu);
    s.called = true;
    pthread_cond_broadcast(&s.cond);
    pthread_mutex_unlock(&s.mu);
    pthread_join(stopper, NULL);
    int ran = atomic_load(&s.ran);
    ck_assert_int_eq(ran, 1);
    ck_assert_int_eq(kr_runtime_call(s.rt, count_call, &s), KR_ESHUTDOWN); /* stopped */
    kr_runtime_free(s.rt);
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.mu);
}
END_TEST

struct tick {
    kr_runtime_t *rt;
    kr_timer_t *timer;
    int fired;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    uint64_t started_ms, ended_ms;
};
static void on_tick(kr_timer_t *t, void *user)
{
    struct tick *k = user;
    k->fired++;
    if (k->fired == 3) {
        k->ended_ms = kr_runtime_now_ms(k->rt);
        kr_timer_free(t); /* freeing inside its own callback is allowed */
        k->timer = NULL;
        pthread_mutex_lock(&k->lock);
        k->done = true;
        pthread_cond_signal(&k->cond);
        pthread_mutex_unlock(&k->lock);
    }
}
static void start_tick(void *user)
{
    struct tick *k = user;
    ck_assert_int_eq(kr_timer_new(k->rt, on_tick, k, &k->timer, NULL), 0);
    k->started_ms = kr_runtime_now_ms(k->rt);
    kr_timer_start(k->timer, 1, 2);
}

START_TEST(repeating_timer_fires_and_can_free_itself)
{
    kr_runtime_t *rt = started_runtime();
    struct tick k = {.rt = rt};
    pthread_mutex_init(&k.lock, NULL);
    pthread_cond_init(&k.cond, NULL);
    ck_assert_int_eq(kr_runtime_call_sync(rt, start_tick, &k), 0);
    pthread_mutex_lock(&k.lock);
    while (!k.done)
        pthread_cond_wait(&k.cond, &k.lock);
    pthread_mutex_unlock(&k.lock);
    kr_runtime_free(rt);
    ck_assert_int_eq(k.fired, 3);
    ck_assert_uint_ge(k.ended_ms, k.started_ms + 5);
}
END_TEST

START_TEST(timer_new_off_the_loop_thread_is_refused)
{
    kr_runtime_t *rt = started_runtime();
    kr_timer_t *t = NULL;
    kr_error_t err = {0};
    ck_assert_int_eq(kr_timer_new(rt, NULL, NULL, &t, &err), KR_ESTATE);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(kr_runtime_stop(rt), 0);
    kr_runtime_free(rt);
}
END_TEST

struct stop_attempt {
    kr_runtime_t *rt;
    int rc;
};
static void try_stop(void *user)
{
    struct stop_attempt *a = user;
    a->rc = kr_runtime_stop(a->rt);
}

START_TEST(stop_from_the_loop_thread_is_refused)
{
    kr_runtime_t *rt = started_runtime();
    struct stop_attempt a = {.rt = rt};
    ck_assert_int_eq(kr_runtime_call_sync(rt, try_stop, &a), 0);
    ck_assert_int_eq(a.rc, KR_ESTATE);
    kr_runtime_free(rt);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("runtime");
    tcase_add_test(tc, calls_run_on_the_loop_thread_in_order);
    tcase_add_test(tc, many_threads_calling_lose_nothing);
    tcase_add_test(tc, call_sync_on_the_loop_thread_runs_inline);
    tcase_add_test(tc, calls_before_start_run_after_start_and_sync_is_refused);
    tcase_add_test(tc, stop_drains_queue_then_refuses_calls);
    tcase_add_test(tc, stop_runs_hooks_on_loop_and_ends_with_open_handles_closed);
    tcase_add_test(tc, calls_queued_by_the_last_close_callbacks_still_run);
    tcase_add_test(tc, a_call_made_while_stopping_still_runs);
    tcase_add_test(tc, repeating_timer_fires_and_can_free_itself);
    tcase_add_test(tc, timer_new_off_the_loop_thread_is_refused);
    tcase_add_test(tc, stop_from_the_loop_thread_is_refused);
    suite_add_tcase(s, tc);
    return kr_test_run_suite(s);
}
