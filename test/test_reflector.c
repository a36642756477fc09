/* Tests for the reflector: every path of the list/watch state machine,
 * driven by a fake lister-watcher that records the exact requests sent and
 * a fake clock (no sockets, no sleeping). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr_fake_lw.h"
#include "kr_repr.h"
#include "kr_suite.h"
#include "kr_test.h"
#include "kreconcile.h"

typedef struct fixture {
    fake_lw lw;
    fake_clock clock;
    kr_store_t *store;
    kr_reflector_t *r;
    char deltas[256][160];
    int ndeltas;
    char progress[32];
    int restarts[KR_RESTART_CAUSES];
    int lists, watches;
    bool no_objects; /* what wants_objects answers */
    bool resumed; /* started by kr_reflector_start_at: progress before a sync */
    int deltas_without_object;
} fixture;

static fixture F;

static void on_delta(const kr_delta *d, void *user)
{
    fixture *f = user;
    if (!d->object) {
        ck_assert_ptr_null(d->old_object);
        f->deltas_without_object++;
        return;
    }
    const json_t *md = json_object_get(d->object, "metadata");
    const char *names[] = {"?", "ADDED", "UPDATED", "DELETED"};
    const char *old_rv = d->old_object
                             ? json_string_value(json_object_get(
                                   json_object_get(d->old_object, "metadata"), "resourceVersion"))
                             : NULL;
    ck_assert_int_lt(f->ndeltas, 256);
    snprintf(f->deltas[f->ndeltas++], sizeof(f->deltas[0]), "%s %s/%s %s%s%s%s", names[d->type],
             json_string_value(json_object_get(md, "namespace")),
             json_string_value(json_object_get(md, "name")),
             json_string_value(json_object_get(md, "resourceVersion")), old_rv ? " old=" : "",
             old_rv ? old_rv : "", d->final_state_unknown ? " final-state-unknown" : "");
}

static bool wants_objects(void *user)
{
    return !((fixture *)user)->no_objects;
}

static void on_progress(const char *rv, bool synced, void *user)
{
    fixture *f = user;
    ck_assert(synced || f->resumed);
    snprintf(f->progress, sizeof(f->progress), "%s", rv);
}

static void on_request(kr_reflector_request request, int cause, void *user)
{
    fixture *f = user;
    if (request == KR_REFLECTOR_REQUEST_NONE)
        f->restarts[cause]++;
    else if (request == KR_REFLECTOR_REQUEST_LIST)
        f->lists++;
    else
        f->watches++;
}

/* Where the next setup_with() starts (kr_reflector_start_at); NULL: a list. */
static const char *resume_rv;
/* The next setup_with()'s store options; NULL: the defaults. */
static const kr_store_opts *store_opts;

static void setup_with(long page, long deadline, bool streaming)
{
    memset(&F, 0, sizeof(F));
    fake_lw_init(&F.lw);
    fake_clock_init(&F.clock);
    F.resumed = resume_rv != NULL;
    ck_assert_int_eq(kr_store_new(store_opts, &F.store, NULL), 0);
    kr_reflector_opts o = {
        .lw = F.lw.lw,
        .clock = F.clock.clock,
        .store = F.store,
        .hooks = {on_delta, on_progress, on_request, &F, wants_objects},
        .page_size = page,
        .progress_deadline_ms = deadline,
        .streaming_list = streaming,
        .label_selector = "app",
        .seed = 42,
    };
    kr_error_t err = {0};
    ck_assert_int_eq(kr_reflector_new(&o, &F.r, &err), 0);
    ck_assert_int_eq(kr_reflector_start_at(F.r, resume_rv, &err), 0);
}

static void teardown(void)
{
    kr_reflector_free(F.r);
    ck_assert(!F.lw.list_pending && !F.lw.watch_open);
    ck_assert_int_eq(fake_clock_active(&F.clock), 0);
    kr_store_free(F.store);
    fake_lw_clear(&F.lw);
}

/* items text of objects default/<name>@rv, e.g. items("a@5", "b@6", NULL) */
static char *items(const char *first, ...)
{
    static char buf[8192];
    va_list ap;
    va_start(ap, first);
    strcpy(buf, "[");
    for (const char *s = first; s; s = va_arg(ap, const char *)) {
        char name[64];
        snprintf(name, sizeof(name), "%s", s);
        char *at = strchr(name, '@');
        *at = '\0';
        char *o = fake_obj("default", name, at + 1);
        if (buf[1])
            strcat(buf, ",");
        strcat(buf, o);
        free(o);
    }
    strcat(buf, "]");
    va_end(ap);
    return buf;
}

static void event(kr_watch_event_type type, const char *name, const char *rv)
{
    char *o = fake_obj("default", name, rv);
    fake_lw_event(&F.lw, type, o);
    free(o);
}

static void bookmark(const char *rv, bool initial_end)
{
    char buf[256];
    snprintf(buf, sizeof(buf),
             "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
             "\"%s\"%s}}",
             rv, initial_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : "");
    fake_lw_event(&F.lw, KR_WATCH_BOOKMARK, buf);
}

static const char *delta(int i)
{
    ck_assert_msg(i < F.ndeltas, "no delta %d (have %d)", i, F.ndeltas);
    return F.deltas[i];
}

static void sync_with(const char *items_json, const char *rv)
{
    fake_lw_list_ok(&F.lw, items_json, rv, NULL);
    ck_assert(kr_reflector_has_synced(F.r));
}

#define REQ(i) fake_lw_req(&F.lw, (i))
#define WATCH_AT(rv) "watch rv=" rv " bookmarks=1 initial=0 match= labels=app fields="
/* As client-go's reflector: the first list at "0" (a watch cache answers),
 * relists at the last RV seen (unpaged unless paging was asked for or
 * the first list came in pages), the latest ("") once an RV is refused. */
#define LIST_AT(limit, rv) "list limit=" limit " continue= rv=" rv " match= labels=app fields="
#define FIRST_LIST(limit) LIST_AT(limit, "0")

START_TEST(first_list_fills_the_empty_store_page_by_page_then_watches_from_list_rv)
{
    setup_with(2, 0, false);
    ck_assert_str_eq(REQ(0), FIRST_LIST("2"));
    fake_lw_list_ok(&F.lw, items("a@3", "b@4", NULL), "10", "tok1");
    ck_assert_str_eq(REQ(1), "list limit=2 continue=tok1 rv= match= labels=app fields=");
    /* the first list goes straight into the empty store, reported as it
     * goes (client-go's indexer fills the same way); synced only at the end */
    ck_assert_uint_eq(kr_store_len(F.store), 2);
    ck_assert(!kr_reflector_has_synced(F.r));
    ck_assert_int_eq(F.ndeltas, 2);
    fake_lw_list_ok(&F.lw, items("c@7", NULL), "10", "");
    ck_assert_uint_eq(kr_store_len(F.store), 3);
    ck_assert(kr_reflector_has_synced(F.r));
    ck_assert_int_eq(F.ndeltas, 3);
    ck_assert_str_eq(delta(0), "ADDED default/a 3");
    ck_assert_str_eq(delta(2), "ADDED default/c 7");
    ck_assert_str_eq(F.progress, "10");
    ck_assert_int_eq(F.lw.nrequests, 3);
    ck_assert_str_eq(REQ(2), WATCH_AT("10"));
    int t = F.lw.timeouts[2];
    ck_assert_msg(t >= 300 && t < 600, "timeoutSeconds %d", t);
    char *rv = kr_store_last_resource_version(F.store);
    ck_assert_str_eq(rv, "10");
    kr_free(rv);
    teardown();
}
END_TEST

START_TEST(paged_relist_replaces_the_store_only_when_complete)
{
    setup_with(2, 0, false);
    fake_lw_list_ok(&F.lw, items("a@3", "b@4", NULL), "10", NULL);
    ck_assert(kr_reflector_has_synced(F.r));
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock)); /* the backoff */
    ck_assert_str_eq(REQ(-1), LIST_AT("2", "10")); /* paging was asked for */
    F.ndeltas = 0;
    fake_lw_list_ok(&F.lw, items("a@3", "c@11", NULL), "12", "tok2");
    /* a relist is staged: readers see the old content until the end */
    ck_assert_uint_eq(kr_store_len(F.store), 2);
    json_t *b = kr_store_get(F.store, "default/b");
    ck_assert_ptr_nonnull(b);
    json_decref(b);
    ck_assert_int_eq(F.ndeltas, 0);
    fake_lw_list_ok(&F.lw, items("d@12", NULL), "12", NULL);
    ck_assert_uint_eq(kr_store_len(F.store), 3);
    ck_assert_ptr_null(kr_store_get(F.store, "default/b"));
    ck_assert_int_eq(F.ndeltas, 3);
    ck_assert_str_eq(delta(2), "DELETED default/b 4 final-state-unknown");
    ck_assert_str_eq(REQ(-1), WATCH_AT("12"));
    teardown();
}
END_TEST

/* As client-go's pager: the whole list again, at the RV first asked for,
 * in one page. */
START_TEST(expired_continue_token_restarts_the_list_from_the_beginning)
{
    setup_with(2, 0, false);
    fake_lw_list_ok(&F.lw, items("a@3", "b@4", NULL), "10", "tok1");
    fake_lw_list_fail(&F.lw, KR_EGONE, 410);
    ck_assert_int_eq(F.lw.nrequests, 3);
    ck_assert_str_eq(REQ(2), FIRST_LIST("0")); /* no continue, no limit, no backoff */
    ck_assert_int_eq(F.lists, 2); /* reported as a list of its own */
    ck_assert_uint_eq(kr_store_len(F.store), 2); /* the first page, cached */
    ck_assert(!kr_reflector_has_synced(F.r));
    ck_assert_int_eq(F.restarts[KR_RESTART_GONE], 1);
    /* the store is no longer empty: the new list is a relist */
    fake_lw_list_ok(&F.lw, items("a@3", "c@12", NULL), "12", NULL);
    ck_assert(kr_reflector_has_synced(F.r));
    ck_assert_uint_eq(kr_store_len(F.store), 2);
    ck_assert_ptr_null(kr_store_get(F.store, "default/b"));
    ck_assert_str_eq(delta(F.ndeltas - 1), "DELETED default/b 4 final-state-unknown");
    ck_assert_str_eq(REQ(3), WATCH_AT("12"));
    teardown();
}
END_TEST

START_TEST(watch_events_update_the_store_in_order)
{
    setup_with(0, 0, false);
    sync_with(items("a@3", NULL), "5");
    event(KR_WATCH_ADDED, "b", "6");
    event(KR_WATCH_MODIFIED, "a", "7");
    event(KR_WATCH_DELETED, "b", "8");
    event(KR_WATCH_DELETED, "zz", "9"); /* never cached: nothing to report */
    ck_assert_int_eq(F.ndeltas, 4);
    ck_assert_str_eq(delta(1), "ADDED default/b 6");
    ck_assert_str_eq(delta(2), "UPDATED default/a 7 old=3");
    ck_assert_str_eq(delta(3), "DELETED default/b 8");
    ck_assert_str_eq(F.progress, "9");
    ck_assert_str_eq(kr_reflector_last_resource_version(F.r), "9");
    ck_assert_uint_eq(kr_store_len(F.store), 1);
    teardown();
}
END_TEST

START_TEST(clean_close_rewatches_from_the_last_rv_bookmarks_advanced)
{
    setup_with(0, 0, false);
    sync_with(items(NULL), "5");
    event(KR_WATCH_ADDED, "a", "6");
    bookmark("15", false);
    ck_assert_str_eq(F.progress, "15");
    fake_lw_close(&F.lw, 0, 0);
    ck_assert_int_eq(F.lw.nrequests, 3);
    ck_assert_str_eq(REQ(2), WATCH_AT("15"));
    ck_assert_int_eq(F.restarts[KR_RESTART_TIMEOUT], 1);
    /* a fresh random timeout for every watch */
    int distinct = 0;
    for (int i = 0; i < 10; i++) {
        fake_clock_advance(&F.clock, 1000); /* not a very short watch */
        fake_lw_close(&F.lw, 0, 0);
        int t = F.lw.timeouts[F.lw.nrequests - 1];
        ck_assert(t >= 300 && t < 600);
        distinct += t != F.lw.timeouts[F.lw.nrequests - 2];
    }
    ck_assert_int_gt(distinct, 5);
    ck_assert_int_eq(F.lists, 1);
    teardown();
}
END_TEST

/* As client-go: a watch that ends cleanly within a second with no event
 * (a proxy answering 200 and closing) ends the list-and-watch: a list at
 * the last RV follows after the backoff, not at once; one that lasted or
 * brought an event is watched again at once. */
START_TEST(very_short_clean_watch_backs_off)
{
    setup_with(0, 0, false);
    sync_with(items(NULL), "5");
    fake_clock_advance(&F.clock, 999);
    fake_lw_close(&F.lw, 0, 0);
    ck_assert_int_eq(F.lw.nrequests, 2);
    ck_assert(!F.lw.watch_open);
    uint64_t d = fake_clock_next_due(&F.clock);
    ck_assert_msg(d >= 800 && d < 1600, "backoff %llu", (unsigned long long)d);
    fake_clock_advance(&F.clock, d);
    ck_assert_str_eq(REQ(2), LIST_AT("0", "5"));
    sync_with(items(NULL), "5");
    ck_assert_str_eq(REQ(3), WATCH_AT("5"));
    /* a second one in a row backs off longer */
    fake_lw_close(&F.lw, 0, 0);
    d = fake_clock_next_due(&F.clock);
    ck_assert_msg(d >= 1600 && d < 3200, "backoff %llu", (unsigned long long)d);
    fake_clock_advance(&F.clock, d);
    ck_assert_str_eq(REQ(4), LIST_AT("0", "5"));
    sync_with(items(NULL), "5");
    ck_assert_str_eq(REQ(5), WATCH_AT("5"));
    /* a bookmark makes it no very short watch */
    bookmark("6", false);
    fake_lw_close(&F.lw, 0, 0);
    ck_assert_str_eq(REQ(6), WATCH_AT("6"));
    ck_assert_int_eq(F.lists, 3);
    ck_assert_int_eq(F.restarts[KR_RESTART_TIMEOUT], 3);
    teardown();
}
END_TEST

/* As client-go, whose stream watcher turns an event it cannot decode into
 * a 500: such a stream is followed by a list at the last RV, after the
 * backoff (watching again would meet the same event); a stream cut inside
 * an event (KR_EIO) is watched again. */
START_TEST(an_undecodable_event_lists_again_a_cut_one_watches_again)
{
    setup_with(0, 0, false);
    sync_with(items(NULL), "5");
    event(KR_WATCH_ADDED, "a", "6");
    fake_lw_close(&F.lw, KR_EIO, 0);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(-1), WATCH_AT("6"));
    ck_assert_int_eq(F.lists, 1);
    const int undecodable[] = {KR_EPARSE, KR_ETOOLARGE};
    for (int i = 0; i < 2; i++) {
        fake_lw_close(&F.lw, undecodable[i], 0);
        ck_assert(!F.lw.watch_open);
        fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
        ck_assert_str_eq(REQ(-1), LIST_AT("0", "6"));
        sync_with(items("a@6", NULL), "6");
        ck_assert_str_eq(REQ(-1), WATCH_AT("6"));
        ck_assert_int_eq(F.lists, 2 + i);
    }
    teardown();
}
END_TEST

static int refuse_bad(json_t *obj, json_t **out, void *user)
{
    (void)user;
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    if (name && strcmp(name, "bad") == 0) {
        json_decref(obj);
        return KR_EINVAL;
    }
    *out = obj;
    return 0;
}

/* An event the store could not take (out of memory, a transform
 * refusing) is not skipped over: the RV stays before it and, after the
 * backoff, a relist makes the cache right again. A delete of an object
 * never cached is no failure. */
START_TEST(store_failure_on_an_event_relists_instead_of_advancing)
{
    kr_store_opts so = {.transform = refuse_bad};
    store_opts = &so;
    setup_with(0, 0, false);
    store_opts = NULL;
    sync_with(items("a@3", NULL), "5");
    event(KR_WATCH_DELETED, "never", "6");
    ck_assert_str_eq(F.progress, "6");
    ck_assert(F.lw.watch_open);
    event(KR_WATCH_ADDED, "bad", "7");
    ck_assert(!F.lw.watch_open);
    ck_assert_str_eq(F.progress, "6");
    ck_assert_str_eq(kr_reflector_last_resource_version(F.r), "6");
    ck_assert_int_eq(F.ndeltas, 1);
    uint64_t d = fake_clock_next_due(&F.clock);
    ck_assert_msg(d >= 800 && d < 1600, "backoff %llu", (unsigned long long)d);
    fake_clock_advance(&F.clock, d);
    ck_assert_str_eq(REQ(-1), LIST_AT("0", "6"));
    sync_with(items("a@8", NULL), "9");
    ck_assert_str_eq(delta(1), "UPDATED default/a 8 old=3");
    ck_assert_str_eq(REQ(-1), WATCH_AT("9"));
    teardown();
}
END_TEST

START_TEST(resume_watches_from_the_given_rv_then_relists_on_410)
{
    /* The store holds what the server had at RV 7 (a consumer's
     * checkpoint): no list, a watch from 7. */
    resume_rv = "7";
    setup_with(0, -1, false);
    resume_rv = NULL;
    ck_assert_int_eq(F.lw.nrequests, 1);
    ck_assert_str_eq(REQ(0), WATCH_AT("7"));
    ck_assert(!kr_reflector_has_synced(F.r));
    event(KR_WATCH_ADDED, "a", "8");
    ck_assert_str_eq(delta(0), "ADDED default/a 8");
    /* A failed watch is retried from the last RV, not relisted. */
    fake_lw_close(&F.lw, KR_ECONNECT, 0);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(-1), WATCH_AT("8"));
    ck_assert_int_eq(F.lists, 0);
    /* 410: after the backoff, a relist at least as fresh as the last RV
     * seen; what the store held and the list lacks is gone. */
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(-1), LIST_AT("0", "8"));
    sync_with(items("b@9", NULL), "9");
    ck_assert_str_eq(delta(1), "ADDED default/b 9");
    ck_assert_str_eq(delta(2), "DELETED default/a 8 final-state-unknown");
    ck_assert_str_eq(REQ(-1), WATCH_AT("9"));
    teardown();
}
END_TEST

/* client-go: a watch ended by 410 ends the list-and-watch; the next one
 * begins after the backoff (800 ms, jittered) with a list at the last RV
 * (the server answers at least that fresh; no consistent read). */
START_TEST(http_410_on_watch_relists)
{
    setup_with(0, 0, false);
    sync_with(items("a@3", NULL), "5");
    fake_lw_close(&F.lw, KR_EGONE, 410);
    ck_assert_int_eq(F.lw.nrequests, 2);
    ck_assert_int_eq(F.restarts[KR_RESTART_GONE], 1);
    uint64_t d = fake_clock_next_due(&F.clock);
    ck_assert_msg(d >= 800 && d < 1600, "backoff %llu", (unsigned long long)d);
    fake_clock_advance(&F.clock, d);
    ck_assert_str_eq(REQ(2), LIST_AT("0", "5"));
    fake_lw_list_ok(&F.lw, items("a@3", NULL), "9", NULL);
    ck_assert_str_eq(REQ(3), WATCH_AT("9"));
    teardown();
}
END_TEST

/* A list whose RV the server refuses, 410 Expired or 504 "Too large
 * resource version" (a server restored from an older state), is asked
 * again at once for the latest state (""); after that list succeeds, the
 * next relist is at the last RV again. */
START_TEST(a_list_refused_for_its_rv_lists_the_latest_at_once)
{
    setup_with(0, 0, false);
    sync_with(items("a@3", NULL), "50");
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(2), LIST_AT("0", "50"));
    fake_lw_list_fail_status(&F.lw, KR_ETIMEDOUT, 504, "Timeout",
                             "Timeout: Too large resource version: 50, current: 7");
    ck_assert_int_eq(F.lw.nrequests, 4);
    ck_assert_int_eq(fake_clock_active(&F.clock), 0); /* no backoff */
    ck_assert_str_eq(REQ(3), LIST_AT("500", ""));
    fake_lw_list_ok(&F.lw, items("b@6", NULL), "7", NULL);
    ck_assert(kr_store_get(F.store, "default/a") == NULL);
    ck_assert_str_eq(REQ(4), WATCH_AT("7"));
    /* a 410 on such a list: the latest too */
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(5), LIST_AT("0", "7"));
    fake_lw_list_fail(&F.lw, KR_EGONE, 410);
    ck_assert_str_eq(REQ(6), LIST_AT("500", ""));
    /* a list of the latest that fails backs off as any failure */
    fake_lw_list_fail(&F.lw, KR_EGONE, 410);
    ck_assert_int_eq(F.lw.nrequests, 7);
    ck_assert_int_eq(fake_clock_active(&F.clock), 1);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(7), LIST_AT("500", ""));
    teardown();
}
END_TEST

/* A first list at "0" that came in pages (the server has no watch cache)
 * keeps relists paged; without pages, a relist is one request. */
START_TEST(relists_are_paged_only_when_the_first_list_was)
{
    setup_with(0, 0, false);
    fake_lw_list_ok(&F.lw, items("a@3", NULL), "10", "tok");
    fake_lw_list_ok(&F.lw, items("b@4", NULL), "10", NULL);
    ck_assert_str_eq(REQ(2), WATCH_AT("10"));
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(3), LIST_AT("500", "10"));
    teardown();
}
END_TEST

START_TEST(error_event_410_cancels_the_watch_and_relists)
{
    setup_with(0, 0, false);
    sync_with(items("a@3", NULL), "5");
    fake_lw_event(&F.lw, KR_WATCH_ERROR,
                  "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
                  "\"too old resource version: 5 (9)\",\"reason\":\"Expired\",\"code\":410}");
    ck_assert(!F.lw.watch_open);
    ck_assert_int_eq(F.lw.cancels, 1);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(2), LIST_AT("0", "5"));
    teardown();
}
END_TEST

/* An ERROR event other than 410 (a 500 for an object the server could not
 * read) ends the list-and-watch: after the backoff, a list, whose answer
 * replaces the cache (client-go's reflector relists; a rewatch would keep
 * the object the server dropped). A watch refused with 429 is watched
 * again instead. */
START_TEST(error_event_500_relists_after_the_backoff_and_429_rewatches)
{
    setup_with(0, 0, false);
    sync_with(items("a@3", "b@4", NULL), "5");
    fake_lw_event(&F.lw, KR_WATCH_ERROR,
                  "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
                  "\"corrupt object has been deleted\",\"reason\":\"StorageReadError\","
                  "\"code\":500}");
    ck_assert(!F.lw.watch_open);
    int before = F.lw.nrequests;
    uint64_t d = fake_clock_next_due(&F.clock);
    ck_assert_msg(d >= 800 && d < 1600, "backoff %llu", (unsigned long long)d);
    fake_clock_advance(&F.clock, d);
    ck_assert_int_eq(F.lw.nrequests, before + 1);
    ck_assert_str_eq(REQ(before), LIST_AT("0", "5"));
    fake_lw_list_ok(&F.lw, items("a@3", NULL), "9", NULL);
    ck_assert_uint_eq(kr_store_len(F.store), 1);
    ck_assert_str_eq(REQ(before + 1), WATCH_AT("9"));
    /* 429: the same watch again, no list */
    fake_lw_close(&F.lw, KR_ETHROTTLED, 429);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(before + 2), WATCH_AT("9"));
    teardown();
}
END_TEST

START_TEST(relist_reports_changes_and_final_state_unknown_deletes)
{
    setup_with(0, 0, false);
    sync_with(items("a@3", "b@4", "c@5", NULL), "5");
    F.ndeltas = 0;
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    fake_lw_list_ok(&F.lw, items("a@3", "b@9", "d@10", NULL), "11", NULL);
    ck_assert_int_eq(F.ndeltas, 3);
    ck_assert_str_eq(delta(0), "UPDATED default/b 9 old=4");
    ck_assert_str_eq(delta(1), "ADDED default/d 10");
    /* c vanished while we were not watching: a typed delete carrying the
     * last object the cache held */
    ck_assert_str_eq(delta(2), "DELETED default/c 5 final-state-unknown");
    ck_assert_uint_eq(kr_store_len(F.store), 3);
    ck_assert_str_eq(REQ(-1), WATCH_AT("11"));
    teardown();
}
END_TEST

/* resourceVersions are opaque (an aggregated API's need not be numbers):
 * a relist finds an object changed when its RV is a different string. */
START_TEST(relist_compares_opaque_resource_versions_as_strings)
{
    setup_with(0, 0, false);
    sync_with(items("a@x3", "b@x4", NULL), "x5");
    F.ndeltas = 0;
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(-1), LIST_AT("0", "x5"));
    fake_lw_list_ok(&F.lw, items("a@x3", "b@y9", NULL), "y11", NULL);
    ck_assert_int_eq(F.ndeltas, 1);
    ck_assert_str_eq(delta(0), "UPDATED default/b y9 old=x4");
    ck_assert_str_eq(REQ(-1), WATCH_AT("y11"));
    teardown();
}
END_TEST

START_TEST(relist_deltas_carry_no_objects_when_nobody_reads_them)
{
    setup_with(0, 0, false);
    F.no_objects = true;
    sync_with(items("a@3", "b@4", NULL), "5");
    ck_assert_int_eq(F.deltas_without_object, 2);
    ck_assert_int_eq(F.ndeltas, 0);
    F.no_objects = false;
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    fake_lw_list_ok(&F.lw, items("a@3", "b@9", NULL), "11", NULL);
    ck_assert_int_eq(F.ndeltas, 1);
    ck_assert_str_eq(delta(0), "UPDATED default/b 9 old=4");
    teardown();
}
END_TEST

START_TEST(progress_by_bookmarks_only_keeps_the_watch)
{
    setup_with(0, 10000, false);
    sync_with(items(NULL), "5");
    for (int i = 0; i < 5; i++) {
        fake_clock_advance(&F.clock, 9000);
        char rv[8];
        snprintf(rv, sizeof(rv), "%d", 6 + i);
        bookmark(rv, false);
    }
    ck_assert_int_eq(F.lw.nrequests, 2);
    ck_assert_int_eq(F.restarts[KR_RESTART_PROGRESS], 0);
    ck_assert_int_eq(F.ndeltas, 0);
    ck_assert_str_eq(F.progress, "10");
    teardown();
}
END_TEST

START_TEST(progress_deadline_passed_restarts_the_watch_from_last_rv)
{
    setup_with(0, 10000, false);
    sync_with(items(NULL), "5");
    event(KR_WATCH_ADDED, "a", "7");
    fake_clock_advance(&F.clock, 9999);
    ck_assert_int_eq(F.lw.nrequests, 2);
    fake_clock_advance(&F.clock, 1);
    ck_assert_int_eq(F.lw.nrequests, 3);
    ck_assert_int_eq(F.lw.cancels, 1);
    ck_assert_str_eq(REQ(2), WATCH_AT("7"));
    ck_assert_int_eq(F.restarts[KR_RESTART_PROGRESS], 1);
    ck_assert_int_eq(F.lists, 1);
    teardown();
}
END_TEST

START_TEST(watch_failures_back_off_exponentially_with_jitter_and_cap)
{
    setup_with(0, -1, false);
    sync_with(items(NULL), "5");
    uint64_t base = 800;
    for (int i = 0; i < 10; i++) {
        int before = F.lw.nrequests;
        fake_lw_close(&F.lw, KR_ECONNECT, 0);
        ck_assert_int_eq(F.lw.nrequests, before); /* nothing until the timer */
        uint64_t d = fake_clock_next_due(&F.clock);
        uint64_t lo = base < 30000 ? base : 30000, hi = 2 * base < 30000 ? 2 * base : 30000;
        ck_assert_msg(d >= lo && (d < hi || (hi == 30000 && d == 30000)),
                      "step %d: delay %llu not in [%llu,%llu)", i, (unsigned long long)d,
                      (unsigned long long)lo, (unsigned long long)hi);
        fake_clock_advance(&F.clock, d - 1);
        ck_assert_int_eq(F.lw.nrequests, before);
        fake_clock_advance(&F.clock, 1);
        ck_assert_str_eq(REQ(-1), WATCH_AT("5"));
        base *= 2;
    }
    ck_assert_uint_eq(fake_clock_next_due(&F.clock), UINT64_MAX);
    ck_assert_int_eq(F.restarts[KR_RESTART_ERROR], 10);
    teardown();
}
END_TEST

/* A 503 ends the list-and-watch: after the backoff the reflector lists
 * again (client-go's reflector), and the list answered opens the watch. */
static void after_backoff_list_again(void)
{
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    fake_lw_list_ok(&F.lw, items(NULL), "5", NULL);
}

START_TEST(backoff_resets_after_two_minutes_of_health)
{
    setup_with(0, -1, false);
    sync_with(items(NULL), "5");
    for (int i = 0; i < 4; i++) {
        fake_lw_close(&F.lw, KR_EUNAVAILABLE, 503);
        after_backoff_list_again();
    }
    fake_lw_close(&F.lw, KR_EUNAVAILABLE, 503);
    ck_assert_uint_ge(fake_clock_next_due(&F.clock), 12800);
    after_backoff_list_again();
    /* healthy for just under two minutes: still backing off further */
    fake_clock_advance(&F.clock, 119000 - 25600);
    fake_lw_close(&F.lw, KR_EUNAVAILABLE, 503);
    ck_assert_uint_ge(fake_clock_next_due(&F.clock), 25600);
    after_backoff_list_again();
    fake_clock_advance(&F.clock, 120000);
    fake_lw_close(&F.lw, KR_EUNAVAILABLE, 503);
    uint64_t d = fake_clock_next_due(&F.clock);
    ck_assert_msg(d >= 800 && d < 1600, "delay after reset %llu", (unsigned long long)d);
    fake_clock_advance(&F.clock, d);
    teardown();
}
END_TEST

/* The caller learned that the server answers again: a reflector waiting
 * out its backoff lists now (at its last resourceVersion), its backoff
 * kept (the next failure waits longer still); a running one is left
 * alone. A server made anew meanwhile refuses that resourceVersion, and
 * the list of its latest follows at once, not after the backoff. */
START_TEST(retry_now_ends_the_backoff_but_keeps_it)
{
    setup_with(0, -1, false);
    sync_with(items(NULL), "5");
    ck_assert(!kr_reflector_retry_now(F.r)); /* watching: nothing to do */
    for (int i = 0; i < 4; i++) {
        int before = F.lw.nrequests;
        fake_lw_close(&F.lw, KR_ECONNECT, 0);
        ck_assert_int_eq(F.lw.nrequests, before);
        ck_assert(kr_reflector_retry_now(F.r));
        ck_assert_int_eq(F.lw.nrequests, before + 1);
        ck_assert_str_eq(REQ(-1), LIST_AT("0", "5"));
        ck_assert_uint_eq(fake_clock_next_due(&F.clock), UINT64_MAX); /* no timer left */
        fake_lw_list_ok(&F.lw, items(NULL), "5", NULL);
        ck_assert_str_eq(REQ(-1), WATCH_AT("5"));
    }
    fake_lw_close(&F.lw, KR_ECONNECT, 0);
    uint64_t d = fake_clock_next_due(&F.clock);
    ck_assert_msg(d >= 12800, "the backoff was reset: %llu", (unsigned long long)d);
    /* made anew: "Too large resource version", then its latest at once */
    ck_assert(kr_reflector_retry_now(F.r));
    fake_lw_list_fail_status(&F.lw, KR_ETIMEDOUT, 504, "Timeout",
                             "Timeout: Too large resource version: 5, current: 2");
    ck_assert_int_eq(fake_clock_active(&F.clock), 0); /* no backoff */
    ck_assert_msg(strncmp(REQ(-1), "list ", 5) == 0 && strstr(REQ(-1), " rv= match="), "%s",
                  REQ(-1));
    fake_lw_list_ok(&F.lw, items("a@2", NULL), "2", NULL);
    ck_assert_str_eq(REQ(-1), WATCH_AT("2"));
    teardown();
}
END_TEST

START_TEST(list_failure_backs_off_then_lists_from_scratch)
{
    setup_with(2, 0, false);
    fake_lw_list_ok(&F.lw, items("a@3", "b@4", NULL), "10", "tok1");
    fake_lw_list_fail(&F.lw, KR_EUNAVAILABLE, 503);
    ck_assert_int_eq(F.lw.nrequests, 2);
    uint64_t d = fake_clock_next_due(&F.clock);
    ck_assert(d >= 800 && d < 1600);
    fake_clock_advance(&F.clock, d);
    ck_assert_str_eq(REQ(2), FIRST_LIST("2"));
    ck_assert_int_eq(F.lists, 2);
    fake_lw_list_ok(&F.lw, items("a@3", NULL), "10", NULL);
    ck_assert(kr_reflector_has_synced(F.r));
    teardown();
}
END_TEST

START_TEST(refused_watch_request_backs_off)
{
    setup_with(0, 0, false);
    F.lw.fail_next_watch = KR_ESHUTDOWN;
    sync_with(items(NULL), "5");
    ck_assert(!F.lw.watch_open);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert(F.lw.watch_open);
    ck_assert_str_eq(REQ(-1), WATCH_AT("5"));
    teardown();
}
END_TEST

START_TEST(streaming_list_waits_for_the_initial_events_end_bookmark)
{
    setup_with(0, 0, true);
    ck_assert_str_eq(REQ(0),
                     "watch rv= bookmarks=1 initial=1 match=NotOlderThan labels=app fields=");
    event(KR_WATCH_ADDED, "a", "3");
    event(KR_WATCH_ADDED, "b", "4");
    event(KR_WATCH_ADDED, "gone", "5");
    event(KR_WATCH_DELETED, "gone", "6"); /* never cached, never reported */
    bookmark("6", false); /* an ordinary bookmark does not end the initial events */
    ck_assert_uint_eq(kr_store_len(F.store), 0);
    ck_assert(!kr_reflector_has_synced(F.r));
    bookmark("20", true);
    ck_assert(kr_reflector_has_synced(F.r));
    ck_assert_uint_eq(kr_store_len(F.store), 2);
    ck_assert_int_eq(F.ndeltas, 2);
    ck_assert_str_eq(F.progress, "20");
    event(KR_WATCH_MODIFIED, "a", "21");
    ck_assert_str_eq(delta(2), "UPDATED default/a 21 old=3");
    fake_lw_close(&F.lw, 0, 0);
    ck_assert_str_eq(REQ(1), WATCH_AT("21"));
    ck_assert_int_eq(F.lists, 0);
    /* a 410 later streams again (after the backoff) instead of listing */
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(2),
                     "watch rv=21 bookmarks=1 initial=1 match=NotOlderThan labels=app fields=");
    event(KR_WATCH_ADDED, "a", "30");
    bookmark("31", true);
    ck_assert_str_eq(delta(F.ndeltas - 1), "DELETED default/b 4 final-state-unknown");
    teardown();
}
END_TEST

/* A stream refused with 410 before its end bookmark streams again from
 * the latest state, after the backoff (a server refusing every stream is
 * not asked again at once). */
START_TEST(streaming_list_gone_streams_again_after_the_backoff)
{
    setup_with(0, 0, true);
    event(KR_WATCH_ADDED, "a", "3");
    fake_lw_close(&F.lw, KR_EGONE, 410);
    ck_assert_int_eq(F.lw.nrequests, 1);
    ck_assert_int_eq(fake_clock_active(&F.clock), 1);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(1),
                     "watch rv= bookmarks=1 initial=1 match=NotOlderThan labels=app fields=");
    teardown();
}
END_TEST

/* After a 410 on a stream, a list that follows (the stream refused) is a
 * consistent read (""), as client-go lists after a 410: at "0" a watch
 * cache could answer with a state older than the store's. */
START_TEST(streaming_list_gone_then_refused_lists_the_latest)
{
    setup_with(0, 0, true);
    event(KR_WATCH_ADDED, "a", "3");
    bookmark("5", true);
    ck_assert(kr_reflector_has_synced(F.r));
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(-1),
                     "watch rv=5 bookmarks=1 initial=1 match=NotOlderThan labels=app fields=");
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(-1),
                     "watch rv= bookmarks=1 initial=1 match=NotOlderThan labels=app fields=");
    fake_lw_close(&F.lw, KR_EINVALIDOBJ, 422);
    ck_assert_str_eq(REQ(-1), LIST_AT("500", ""));
    sync_with(items("a@3", NULL), "9");
    ck_assert_str_eq(REQ(-1), WATCH_AT("9"));
    /* the list succeeded: the next relist is at the last RV again */
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(-1), LIST_AT("0", "9"));
    teardown();
}
END_TEST

START_TEST(streaming_list_rejected_falls_back_to_list_and_watch)
{
    setup_with(0, 0, true);
    fake_lw_close(&F.lw, KR_EINVALIDOBJ, 422);
    ck_assert_str_eq(REQ(1), FIRST_LIST("500"));
    sync_with(items("a@3", NULL), "5");
    ck_assert_str_eq(REQ(2), WATCH_AT("5"));
    fake_lw_close(&F.lw, KR_EGONE, 410);
    fake_clock_advance(&F.clock, fake_clock_next_due(&F.clock));
    ck_assert_str_eq(REQ(3), LIST_AT("0", "5")); /* no second try at streaming */
    teardown();
}
END_TEST

START_TEST(streaming_ignored_by_server_falls_back_when_stream_ends_without_bookmark)
{
    setup_with(0, 0, true);
    event(KR_WATCH_ADDED, "a", "3");
    fake_lw_close(&F.lw, 0, 0);
    ck_assert_str_eq(REQ(1), FIRST_LIST("500"));
    ck_assert_uint_eq(kr_store_len(F.store), 0);
    teardown();
}
END_TEST

static void stop_from_handler(const kr_delta *d, void *user)
{
    (void)d;
    fixture *f = user;
    f->ndeltas++;
    kr_reflector_stop(f->r);
}

START_TEST(stop_from_a_handler_cancels_everything)
{
    setup_with(0, 0, false);
    sync_with(items(NULL), "5");
    kr_reflector_free(F.r);
    kr_reflector_opts o = {.lw = F.lw.lw,
                           .clock = F.clock.clock,
                           .store = F.store,
                           .hooks = {stop_from_handler, NULL, NULL, &F}};
    F.ndeltas = 0;
    ck_assert_int_eq(kr_reflector_new(&o, &F.r, NULL), 0);
    ck_assert_int_eq(kr_reflector_start(F.r, NULL), 0);
    fake_lw_list_ok(&F.lw, items("a@6", "b@7", NULL), "8", NULL);
    ck_assert_int_eq(F.ndeltas, 1);
    ck_assert(!F.lw.watch_open);
    ck_assert_int_eq(fake_clock_active(&F.clock), 0);
    ck_assert_int_eq(kr_reflector_start(F.r, NULL), KR_ESTATE);
    teardown();
}
END_TEST

START_TEST(resource_versions_compare_as_integers)
{
    ck_assert_int_lt(kr_resource_version_compare("9", "10"), 0);
    ck_assert_int_gt(kr_resource_version_compare("100", "99"), 0);
    ck_assert_int_eq(kr_resource_version_compare("42", "42"), 0);
    ck_assert_int_lt(kr_resource_version_compare(NULL, "1"), 0);
    ck_assert_int_lt(kr_resource_version_compare("x", "1"), 0);
    ck_assert_int_eq(kr_resource_version_compare(NULL, ""), 0);
    ck_assert_str_eq(kr_watch_restart_cause_name(KR_RESTART_PROGRESS), "progress_deadline");
}
END_TEST

START_TEST(new_rejects_missing_dependencies)
{
    kr_reflector_t *r = NULL;
    kr_error_t err = {0};
    kr_reflector_opts o = {0};
    ck_assert_int_eq(kr_reflector_new(&o, &r, &err), KR_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err.message, "required"));
}
END_TEST

/* Options from a newer header are refused; 0 and the current version are
 * the same thing. */
START_TEST(new_checks_the_options_version)
{
    kr_reflector_t *r = NULL;
    kr_error_t err = {0};
    kr_reflector_opts o = KR_REFLECTOR_OPTS_INIT;
    o.version = KR_REFLECTOR_OPTS_VERSION + 1;
    ck_assert_int_eq(kr_reflector_new(&o, &r, &err), KR_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err.message, "version"));
    kr_store_t *store = NULL;
    kr_store_opts so = {.version = KR_STORE_OPTS_VERSION + 1};
    ck_assert_int_eq(kr_store_new(&so, &store, NULL), KR_EINVAL);
    so.version = 0;
    ck_assert_int_eq(kr_store_new(&so, &store, NULL), 0);
    kr_store_free(store);
}
END_TEST

typedef struct sweep_data {
    json_t *page1, *page2, *relist, *added, *modified, *deleted;
} sweep_data;

static void count_delta(const kr_delta *d, void *user)
{
    (void)d;
    (*(int *)user)++;
}

/* One pass through paging, events, a 410 and a relist; every allocation
 * may fail. Returns 0: the leak check is the sweep's. */
static int reflector_pass(void *arg)
{
    sweep_data *sd = arg;
    fake_lw lw;
    fake_clock clk;
    fake_lw_init(&lw);
    fake_clock_init(&clk);
    kr_store_t *store = NULL;
    kr_reflector_t *r = NULL;
    int deltas = 0;
    if (kr_store_new(NULL, &store, NULL) != 0)
        return 0;
    kr_reflector_opts o = {.lw = lw.lw,
                           .clock = clk.clock,
                           .store = store,
                           .hooks = {count_delta, NULL, NULL, &deltas},
                           .page_size = 2};
    if (kr_reflector_new(&o, &r, NULL) == 0 && kr_reflector_start(r, NULL) == 0) {
        json_t *copy;
        if (lw.list_pending && (copy = json_copy(sd->page1)))
            fake_lw_list_items(&lw, copy, "10", "tok");
        if (lw.list_pending && (copy = json_copy(sd->page2)))
            fake_lw_list_items(&lw, copy, "10", NULL);
        if (lw.watch_open)
            fake_lw_event_obj(&lw, KR_WATCH_ADDED, sd->added);
        if (lw.watch_open)
            fake_lw_event_obj(&lw, KR_WATCH_MODIFIED, sd->modified);
        if (lw.watch_open)
            fake_lw_event_obj(&lw, KR_WATCH_DELETED, sd->deleted);
        if (lw.watch_open)
            fake_lw_close(&lw, KR_EGONE, 410);
        if (lw.list_pending && (copy = json_copy(sd->relist)))
            fake_lw_list_items(&lw, copy, "20", NULL);
    }
    kr_reflector_free(r);
    kr_store_free(store);
    fake_lw_clear(&lw);
    return 0;
}

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

START_TEST(allocation_failures_leak_nothing)
{
    sweep_data sd;
    sd.page1 = parse(items("a@3", "b@4", NULL));
    sd.page2 = parse(items("c@5", NULL));
    sd.relist = parse(items("a@3", "d@19", NULL));
    char *o = fake_obj("default", "e", "11");
    sd.added = parse(o);
    free(o);
    o = fake_obj("default", "a", "12");
    sd.modified = parse(o);
    free(o);
    o = fake_obj("default", "b", "13");
    sd.deleted = parse(o);
    free(o);
    long runs = kr_test_alloc_failure_sweep(reflector_pass, &sd);
    ck_assert_msg(runs > 20, "sweep returned %ld", runs);
    json_decref(sd.page1);
    json_decref(sd.page2);
    json_decref(sd.relist);
    json_decref(sd.added);
    json_decref(sd.modified);
    json_decref(sd.deleted);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("reflector");
    TCase *tc = tcase_create("paths");
    tcase_add_test(tc, first_list_fills_the_empty_store_page_by_page_then_watches_from_list_rv);
    tcase_add_test(tc, paged_relist_replaces_the_store_only_when_complete);
    tcase_add_test(tc, very_short_clean_watch_backs_off);
    tcase_add_test(tc, an_undecodable_event_lists_again_a_cut_one_watches_again);
    tcase_add_test(tc, store_failure_on_an_event_relists_instead_of_advancing);
    tcase_add_test(tc, resume_watches_from_the_given_rv_then_relists_on_410);
    tcase_add_test(tc, expired_continue_token_restarts_the_list_from_the_beginning);
    tcase_add_test(tc, watch_events_update_the_store_in_order);
    tcase_add_test(tc, clean_close_rewatches_from_the_last_rv_bookmarks_advanced);
    tcase_add_test(tc, http_410_on_watch_relists);
    tcase_add_test(tc, a_list_refused_for_its_rv_lists_the_latest_at_once);
    tcase_add_test(tc, relists_are_paged_only_when_the_first_list_was);
    tcase_add_test(tc, error_event_410_cancels_the_watch_and_relists);
    tcase_add_test(tc, error_event_500_relists_after_the_backoff_and_429_rewatches);
    tcase_add_test(tc, relist_reports_changes_and_final_state_unknown_deletes);
    tcase_add_test(tc, relist_compares_opaque_resource_versions_as_strings);
    tcase_add_test(tc, relist_deltas_carry_no_objects_when_nobody_reads_them);
    tcase_add_test(tc, progress_by_bookmarks_only_keeps_the_watch);
    tcase_add_test(tc, progress_deadline_passed_restarts_the_watch_from_last_rv);
    tcase_add_test(tc, watch_failures_back_off_exponentially_with_jitter_and_cap);
    tcase_add_test(tc, backoff_resets_after_two_minutes_of_health);
    tcase_add_test(tc, list_failure_backs_off_then_lists_from_scratch);
    tcase_add_test(tc, retry_now_ends_the_backoff_but_keeps_it);
    tcase_add_test(tc, refused_watch_request_backs_off);
    tcase_add_test(tc, streaming_list_waits_for_the_initial_events_end_bookmark);
    tcase_add_test(tc, streaming_list_gone_then_refused_lists_the_latest);
    tcase_add_test(tc, streaming_list_rejected_falls_back_to_list_and_watch);
    tcase_add_test(tc, streaming_list_gone_streams_again_after_the_backoff);
    tcase_add_test(tc, streaming_ignored_by_server_falls_back_when_stream_ends_without_bookmark);
    tcase_add_test(tc, stop_from_a_handler_cancels_everything);
    tcase_add_test(tc, resource_versions_compare_as_integers);
    tcase_add_test(tc, new_rejects_missing_dependencies);
    tcase_add_test(tc, new_checks_the_options_version);
    tcase_add_test(tc, allocation_failures_leak_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return kr_test_run_suite_each_repr(make_suite);
}
